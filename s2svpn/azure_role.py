"""The least-privilege Azure role for s2svpn: exactly the actions its Azure client uses.

Pure (no Django, no SDK). Every action below is one request the client in
``s2svpn/clients/azure.py`` makes (GET -> ``read``, PUT -> ``write``, DELETE -> ``delete``,
POST ``<op>`` -> ``<op>/action``), named as in Microsoft's list of resource provider operations
(https://learn.microsoft.com/azure/role-based-access-control/permissions/networking). s2svpn
creates no resource group for a site with an existing VNet, so the role has no
``Microsoft.Resources/...`` action; a site whose VNet s2svpn creates needs :data:`NEW_VNET_ACTIONS`
as well (the resource group ones at subscription scope, since the group may not exist yet). The ARM sandbox can enforce this role
(``S2SVPN_SANDBOX_ARM_ROLE``), and the tests prove that each action is needed and that the whole
set is enough for a provision, a monitor cycle and a teardown.
"""

from __future__ import annotations

import json
import shlex

# (action, why s2svpn needs it) - the order is the order of the role definition.
_ACTIONS: tuple[tuple[str, str], ...] = (
    ("Microsoft.Network/virtualNetworks/read", "read the VNet and list VNets (site step)"),
    ("Microsoft.Network/virtualNetworks/subnets/read", "find the GatewaySubnet"),
    ("Microsoft.Network/virtualNetworks/subnets/write", "create the GatewaySubnet"),
    ("Microsoft.Network/virtualNetworks/subnets/delete", "remove the GatewaySubnet (teardown)"),
    (
        "Microsoft.Network/virtualNetworks/subnets/join/action",
        "put the gateway into the GatewaySubnet (linked check of the gateway PUT)",
    ),
    ("Microsoft.Network/publicIPAddresses/read", "find the gateway's public IP"),
    ("Microsoft.Network/publicIPAddresses/write", "create the gateway's public IP"),
    ("Microsoft.Network/publicIPAddresses/delete", "remove the public IP (teardown)"),
    (
        "Microsoft.Network/publicIPAddresses/join/action",
        "attach the public IP to the gateway (linked check of the gateway PUT)",
    ),
    ("Microsoft.Network/virtualNetworkGateways/read", "follow the gateway build"),
    ("Microsoft.Network/virtualNetworkGateways/write", "create the VPN gateway"),
    ("Microsoft.Network/virtualNetworkGateways/delete", "remove the gateway (teardown)"),
    (
        "Microsoft.Network/virtualNetworkGateways/connections/read",
        "list the gateway's connections: a gateway other homes still use is kept (teardown)",
    ),
    ("Microsoft.Network/virtualNetworkGateways/reset/action", "Reset gateway (status page)"),
    (
        "Microsoft.Network/virtualNetworkGateways/getBgpPeerStatus/action",
        "read Azure's BGP peers (monitor)",
    ),
    (
        "Microsoft.Network/virtualNetworkGateways/getLearnedRoutes/action",
        "read the routes Azure learned (monitor)",
    ),
    (
        "Microsoft.Network/virtualNetworkGateways/getAdvertisedRoutes/action",
        "read the routes Azure advertises (monitor)",
    ),
    ("Microsoft.Network/localNetworkGateways/read", "find the local network gateway"),
    ("Microsoft.Network/localNetworkGateways/write", "create the local network gateway"),
    ("Microsoft.Network/localNetworkGateways/delete", "remove it (teardown)"),
    ("Microsoft.Network/connections/read", "read the connection and its status"),
    ("Microsoft.Network/connections/write", "create the connection"),
    ("Microsoft.Network/connections/delete", "remove the connection (teardown)"),
    ("Microsoft.Network/connections/sharedKey/read", "check the PSK Azure holds"),
    ("Microsoft.Network/connections/sharedKey/write", "set the PSK"),
    (
        "Microsoft.Network/locations/operations/read",
        "follow long-running operations (Azure-AsyncOperation)",
    ),
    (
        "Microsoft.Network/locations/operationResults/read",
        "collect results of long-running operations (Location)",
    ),
)

REQUIRED_ACTIONS: tuple[str, ...] = tuple(action for action, _ in _ACTIONS)

# Only for a site that creates its VNet (and its resource group when missing): wizard.vnet_steps.
NEW_VNET_ACTIONS: tuple[tuple[str, str], ...] = (
    ("Microsoft.Network/virtualNetworks/write", "create the VNet, or add an address space to it"),
    ("Microsoft.Network/virtualNetworks/delete", "remove the VNet s2svpn created (teardown)"),
    ("Microsoft.Resources/subscriptions/resourceGroups/read", "see whether the group exists"),
    ("Microsoft.Resources/subscriptions/resourceGroups/write", "create the resource group"),
    ("Microsoft.Resources/subscriptions/resourceGroups/delete", "remove it (teardown, if empty)"),
    (
        "Microsoft.Resources/subscriptions/resourceGroups/resources/read",
        "check the group holds nothing else before deleting it",
    ),
)
WHY: dict[str, str] = dict(_ACTIONS)


def scope(subscription_id: str, resource_group: str) -> str:
    """The resource group's ARM id: where the role is assignable and assigned."""
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"


def role_name(resource_group: str) -> str:
    """Custom role names are unique per tenant: one role per resource group."""
    return f"s2svpn site-to-site VPN ({resource_group})"


def role_definition(subscription_id: str, resource_group: str) -> dict:
    """The custom role, in the JSON ``az role definition create --role-definition`` takes."""
    return {
        "Name": role_name(resource_group),
        "IsCustom": True,
        "Description": (
            "What s2svpn needs to build, monitor and remove a route-based IKEv2 + BGP VPN gateway, "
            f"local network gateway and connection in resource group {resource_group}, and nothing "
            "more."
        ),
        "Actions": list(REQUIRED_ACTIONS),
        "NotActions": [],
        "DataActions": [],
        "NotDataActions": [],
        "AssignableScopes": [scope(subscription_id, resource_group)],
    }


def portal_role_definition(subscription_id: str, resource_group: str) -> dict:
    """The same role in ARM's own shape (``properties.permissions``), which the portal's custom
    role "JSON" tab and the REST API take (the ``az`` shape above is the CLI's)."""
    cli = role_definition(subscription_id, resource_group)
    return {
        "properties": {
            "roleName": cli["Name"],
            "description": cli["Description"],
            "assignableScopes": cli["AssignableScopes"],
            "permissions": [
                {
                    "actions": cli["Actions"],
                    "notActions": cli["NotActions"],
                    "dataActions": cli["DataActions"],
                    "notDataActions": cli["NotDataActions"],
                }
            ],
        }
    }


def az_commands(subscription_id: str, resource_group: str) -> list[str]:
    """Azure CLI commands that create the role and a service principal holding it on the
    resource group. ``create-for-rbac`` prints ``appId`` (client id), ``password`` (client
    secret) and ``tenant`` (tenant id): the three values the site step asks for."""
    definition = json.dumps(role_definition(subscription_id, resource_group), separators=(",", ":"))
    rg_scope = scope(subscription_id, resource_group)
    sp_name = f"s2svpn-{resource_group}"
    return [
        f"az account set --subscription {shlex.quote(subscription_id)}",
        f"az role definition create --role-definition {shlex.quote(definition)}",
        f"az ad sp create-for-rbac --name {shlex.quote(sp_name)} "
        f"--role {shlex.quote(role_name(resource_group))} --scopes {shlex.quote(rg_scope)}",
    ]
