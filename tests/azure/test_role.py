"""The least-privilege role (s2svpn.azure_role): what it lists and the commands that create it.

That each listed action is needed and that the list is enough is shown against the ARM sandbox
enforcing the role, in tests/azure/test_role_enforced.py.
"""

from __future__ import annotations

import json
import shlex

from s2svpn.azure_role import (
    REQUIRED_ACTIONS,
    WHY,
    az_commands,
    portal_role_definition,
    role_definition,
)

SUB = "5d0c3b7e-9a41-4f4e-8a2b-2c1f0e6d7a59"
RG = "rg-home-s2s"
RG_SCOPE = f"/subscriptions/{SUB}/resourceGroups/{RG}"


def test_it_lists_only_network_actions_each_once_with_a_reason():
    assert len(set(a.lower() for a in REQUIRED_ACTIONS)) == len(REQUIRED_ACTIONS)
    assert all(a.startswith("Microsoft.Network/") for a in REQUIRED_ACTIONS)
    assert not any("*" in a for a in REQUIRED_ACTIONS)  # exactly, no wildcards
    assert all(WHY[a] for a in REQUIRED_ACTIONS)


def test_the_role_is_custom_and_assignable_only_to_the_resource_group():
    role = role_definition(SUB, RG)
    assert role["IsCustom"] is True
    assert role["Actions"] == list(REQUIRED_ACTIONS)
    assert role["NotActions"] == role["DataActions"] == role["NotDataActions"] == []
    assert role["AssignableScopes"] == [RG_SCOPE]
    assert RG in role["Name"]


def test_the_az_commands_create_that_role_and_a_principal_scoped_to_the_group():
    account, create_role, create_sp = (shlex.split(c) for c in az_commands(SUB, RG))
    assert account == ["az", "account", "set", "--subscription", SUB]
    assert create_role[:4] == ["az", "role", "definition", "create"]
    assert json.loads(create_role[create_role.index("--role-definition") + 1]) == role_definition(
        SUB, RG
    )
    assert create_sp[:4] == ["az", "ad", "sp", "create-for-rbac"]
    assert create_sp[create_sp.index("--role") + 1] == role_definition(SUB, RG)["Name"]
    assert create_sp[create_sp.index("--scopes") + 1] == RG_SCOPE


def test_the_commands_quote_a_resource_group_name_the_shell_would_split():
    odd = "rg (home) s2s"
    _, _, create_sp = (shlex.split(c) for c in az_commands(SUB, odd))
    assert (
        create_sp[create_sp.index("--scopes") + 1] == f"/subscriptions/{SUB}/resourceGroups/{odd}"
    )


def test_it_is_pure_so_the_site_step_and_the_sandbox_can_both_import_it():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, s2svpn.azure_role\n"
        "print(','.join(sorted(m for m in sys.modules"
        " if m.split('.')[0] in {'django', 'azure', 'httpx', 'celery'})))\n"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_the_portal_shape_is_the_same_role_and_the_sandbox_reads_both_alike():
    from s2svpn.sandbox.arm.authz import Role

    portal = portal_role_definition(SUB, RG)["properties"]
    assert portal["roleName"] == role_definition(SUB, RG)["Name"]
    assert portal["permissions"][0]["actions"] == list(REQUIRED_ACTIONS)
    assert portal["assignableScopes"] == [RG_SCOPE]
    assert Role.parse(portal_role_definition(SUB, RG)) == Role.parse(role_definition(SUB, RG))
