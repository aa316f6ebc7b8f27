"""No product module asks "is this the sandbox?" to decide what to do.

The sandboxes are reached by configuration only (URLs, CA, API key, the site's nameservers, the
durations the endpoints declare), exactly like real Azure and a real pfSense. What counts as a
*sandbox branch*, found with ``ast`` in every module of ``wizard``, ``monitor`` and ``s2svpn``:

* a *sandbox mention* is a name or an attribute whose identifier contains ``sandbox`` (any case):
  ``site.sandbox``, ``is_sandbox``, ``sandbox_mode``, ``AzureAuth.SANDBOX``, ``sandbox_info.load()``;
  strings (``action == "sandbox"``) and comments are not mentions;
* a *branch* is a condition that holds a mention: the test of ``if``/``elif``/``while``/``assert``,
  a conditional expression, a comprehension's ``if``, an operand of ``and``/``or``, a ``match``
  subject.

Not product modules: the stand-ins themselves (``s2svpn/sandbox/``), the lab that backs them
(``s2svpn/lab/``) and migrations. Allowed (each listed with why): labelling a sandbox site as such
in the UI (required by issue #15), and the credential the user chose (the sandbox's static token
is an ``azure_auth`` choice like a service principal). Any other branch fails the test, and so
does an allowance that no longer matches code (so the list cannot rot).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("wizard", "monitor", "s2svpn")
NOT_PRODUCT = ("s2svpn/sandbox/", "s2svpn/lab/", "/migrations/")

ALLOWED = {
    ("wizard/models.py", "Site.__str__"): "label: the site's name says (sandbox)",
    ("wizard/admin.py", "SiteAdmin.sandbox_badge"): "label: the admin's Mode column",
    ("wizard/plan.py", "build_plan"): "label: the review notes that nothing is billed",
    ("wizard/forms/site.py", "SiteForm.__init__"): "the sandbox credential is offered only to a "
    "site filled in from the sandbox",
    ("wizard/services.py", "azure_client"): "the credential the user chose (a static token)",
}


def _mentions(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        name = sub.id if isinstance(sub, ast.Name) else getattr(sub, "attr", None)
        if isinstance(sub, ast.Name | ast.Attribute) and "sandbox" in str(name).lower():
            return True
    return False


def _conditions(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.If | ast.While | ast.IfExp | ast.Assert):
        return [node.test]
    if isinstance(node, ast.comprehension):
        return list(node.ifs)
    if isinstance(node, ast.BoolOp):
        return list(node.values)
    if isinstance(node, ast.Match):
        return [node.subject]
    return []


def sandbox_branches(root: Path = REPO) -> dict[tuple[str, str], list[int]]:
    """(module path, enclosing function qualname) -> line numbers of sandbox branches."""
    found: dict[tuple[str, str], list[int]] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if any(part in f"/{rel}" for part in NOT_PRODUCT):
                continue
            _visit(ast.parse(path.read_text(), rel), rel, [], found)
    return found


def _visit(node: ast.AST, rel: str, scope: list[str], found: dict) -> None:
    for child in ast.iter_child_nodes(node):
        inner = scope
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            inner = [*scope, child.name]
        for condition in _conditions(child):
            if _mentions(condition):
                lines = found.setdefault((rel, ".".join(inner) or "<module>"), [])
                if condition.lineno not in lines:
                    lines.append(condition.lineno)
        _visit(child, rel, inner, found)


def test_no_product_module_branches_on_the_sandbox():
    branches = sandbox_branches()
    unexpected = {where: lines for where, lines in branches.items() if where not in ALLOWED}
    assert not unexpected, (
        "Product code asks 'is this the sandbox?'; reach the sandbox by configuration instead "
        f"(module, function -> lines): {unexpected}"
    )


def test_every_allowance_still_matches_code():
    branches = sandbox_branches()
    assert not [where for where in ALLOWED if where not in branches]


def test_the_check_finds_a_sandbox_branch_and_ignores_strings(tmp_path):
    (tmp_path / "wizard").mkdir()
    (tmp_path / "wizard" / "dns.py").write_text(
        "def resolve(site, action):\n"
        "    if action == 'sandbox':\n"
        "        return 1\n"
        "    return '203.0.113.2' if site.is_sandbox else lookup(site)\n"
    )
    (tmp_path / "s2svpn" / "sandbox").mkdir(parents=True)
    (tmp_path / "s2svpn" / "sandbox" / "world.py").write_text("if world.sandbox:\n    pass\n")
    assert sandbox_branches(tmp_path) == {("wizard/dns.py", "resolve"): [4]}
