"""Azure's validation of PUT bodies in the ARM sandbox: the common envelope (location, read-only
properties), public IPs, local network gateways and connections. Gateways are checked in
``gateways``; the rules themselves (ASNs, APIPA, IPsec policies, shared keys) live in
:mod:`s2svpn.sandbox.armstate`, independent of the product's own checkers.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from s2svpn.sandbox import armstate as rules
from s2svpn.sandbox.arm.store import ArmStore, Record, id_key, ref_id
from s2svpn.sandbox.armstate import ArmError, bad


class Validation(ArmStore):
    def _validate(
        self,
        seg: str,
        rg: str,
        name: str,
        rid: str,
        payload: dict[str, Any],
        existing: Record | None,
    ) -> dict[str, Any]:
        body = copy.deepcopy(payload)
        for ro in ("id", "etag", "type"):
            body.pop(ro, None)
        body["name"] = name
        body["location"] = rules.normalise_location(body.get("location"))
        if (
            existing
            and existing["body"].get("location")
            and existing["body"]["location"] != body["location"]
        ):
            raise bad(
                "InvalidResourceLocation",
                f"The resource '{name}' already exists in location '{existing['body']['location']}' in resource "
                f"group '{rg}'. A resource with the same name cannot be created in location '{body['location']}'. "
                "Please select a new resource name.",
            )
        props = body.setdefault("properties", {})
        for ro in ("provisioningState", "resourceGuid"):
            props.pop(ro, None)
        check = {
            "virtualNetworks": self._check_vnet,
            "publicIPAddresses": self._check_pip,
            "virtualNetworkGateways": self._check_gateway,
            "localNetworkGateways": self._check_lng,
            "connections": self._check_connection,
        }[seg]
        check(name, rid, body, existing)
        return body

    def _check_pip(
        self, name: str, rid: str, body: dict[str, Any], existing: Record | None
    ) -> None:
        props = body["properties"]
        sku = body.setdefault("sku", {"name": "Basic"})
        sku.setdefault("name", "Basic")
        sku.setdefault("tier", "Regional")
        if sku["name"] not in ("Basic", "Standard", "StandardV2"):
            raise bad(
                "InvalidPublicIPSku",
                f"Public IP {name}: sku {sku['name']!r} is not valid (Basic, Standard, StandardV2).",
            )
        if sku["tier"] not in ("Regional", "Global"):
            raise bad(
                "InvalidPublicIPSkuTier",
                f"Public IP {name}: sku tier {sku['tier']!r} is not valid (Regional, Global).",
            )
        method = props.setdefault(
            "publicIPAllocationMethod", "Dynamic" if sku["name"] == "Basic" else "Static"
        )
        if method not in ("Static", "Dynamic"):
            raise bad(
                "InvalidPublicIPAllocationMethod",
                f"Public IP {name}: allocation method must be Static or Dynamic.",
            )
        if sku["name"] != "Basic" and method != "Static":
            raise bad(
                "StandardSkuPublicIPAddressesMustBeStatic",
                f"Standard sku publicIp /{name} must have AllocationMethod set to Static.",
            )
        rules.one_of(
            props,
            "publicIPAddressVersion",
            "IPv4",
            ("IPv4", "IPv6"),
            "InvalidPublicIPAddressVersion",
            f"Public IP {name}: version must be IPv4 or IPv6.",
        )
        props.setdefault("idleTimeoutInMinutes", 4)
        idle = props["idleTimeoutInMinutes"]
        if not isinstance(idle, int) or not 4 <= idle <= 30:
            raise bad(
                "PublicIPIdleTimeoutIsOutOfRange",
                f"Public IP {name}: idleTimeoutInMinutes must be 4 to 30.",
            )
        zones = body.get("zones") or []
        if zones and sku["name"] == "Basic":
            raise bad(
                "ZonesNotAllowedOnBasicSkuPublicIP",
                f"Public IP {name}: Basic SKU public IPs cannot have zones; use Standard.",
            )
        if any(z not in ("1", "2", "3") for z in zones):
            raise bad(
                "InvalidAvailabilityZone", f"Public IP {name}: zones must be among '1', '2', '3'."
            )
        props.pop("ipAddress", None)
        props.pop("ipConfiguration", None)
        if existing:
            old = existing["body"]
            if old.get("sku", {}).get("name") != sku["name"]:
                raise bad(
                    "PublicIPSkuCannotBeChanged",
                    f"Public IP {name} has sku {old.get('sku', {}).get('name')}; the sku cannot be changed. Delete and recreate it.",
                )
            if sorted(old.get("zones") or []) != sorted(zones):
                raise bad(
                    "PublicIPZonesCannotBeChanged",
                    f"Public IP {name}: zones cannot be changed after creation.",
                )
            if (
                old["properties"].get("ipConfiguration")
                and old["properties"].get("publicIPAllocationMethod") != method
            ):
                raise bad(
                    "PublicIPAddressInUse",
                    f"Public IP {name} is in use; its allocation method cannot be changed.",
                )
            for keep in ("ipAddress", "ipConfiguration"):
                if keep in old["properties"]:
                    props[keep] = old["properties"][keep]

    def _check_lng(
        self, name: str, rid: str, body: dict[str, Any], existing: Record | None
    ) -> None:
        props = body["properties"]
        fqdn = props.get("fqdn")
        ip = props.get("gatewayIpAddress")
        if not fqdn and not ip:
            raise bad(
                "LocalNetworkGatewayMustHaveIpAddressOrFqdn",
                f"Local network gateway {name} needs either gatewayIpAddress or fqdn to reach the on-premises device.",
            )
        if ip:
            addr = rules.parse_ipv4(
                ip, f"local network gateway {name} gatewayIpAddress", "InvalidGatewayIpAddress"
            )
            if addr.is_private or addr.is_loopback or addr.is_unspecified:
                raise bad(
                    "InvalidGatewayIpAddress",
                    f"gatewayIpAddress {ip} of local network gateway {name} must be a public IPv4 address (the on-premises device's internet address).",
                )
        if fqdn and (not isinstance(fqdn, str) or not rules.hostname_ok(fqdn)):
            raise bad(
                "InvalidFqdn",
                f"fqdn {fqdn!r} of local network gateway {name} is not a valid DNS name.",
            )
        space = props.get("localNetworkAddressSpace") or {}
        prefixes = space.get("addressPrefixes") or []
        for p in prefixes:
            rules.parse_cidr(p, f"local network gateway {name}")
        props["localNetworkAddressSpace"] = {"addressPrefixes": list(prefixes)}
        bgp = props.get("bgpSettings")
        if bgp:
            rules.check_asn(bgp.get("asn", 0), f"local network gateway {rid}", allow_65515=False)
            peer = bgp.get("bgpPeeringAddress")
            if not peer:
                raise bad(
                    "LocalNetworkGatewayBgpPeeringAddressRequired",
                    f"Local network gateway {name}: bgpSettings.bgpPeeringAddress is required with BGP.",
                )
            rules.parse_ipv4(
                peer, f"local network gateway {name} bgpPeeringAddress", "InvalidBgpPeeringAddress"
            )
            bgp.setdefault("peerWeight", 0)
        if not prefixes and not bgp:
            raise bad(
                "LocalNetworkGatewayCannotHaveEmptyAddressPrefixAndBgpSettings",
                f"Local network gateway {rid} cannot have both empty address prefixes and empty BGP settings. "
                "Specify the on-premises address prefixes, or BGP settings (ASN and BGP peer IP), or both.",
            )

    def _check_connection(
        self, name: str, rid: str, body: dict[str, Any], existing: Record | None
    ) -> None:
        props = body["properties"]
        for ro in (
            "connectionStatus",
            "ingressBytesTransferred",
            "egressBytesTransferred",
            "tunnelConnectionStatus",
        ):
            props.pop(ro, None)
        ctype = props.get("connectionType")
        if ctype is None:
            raise bad(
                "InvalidRequestFormat", f"Connection {name}: properties.connectionType is required."
            )
        if ctype != "IPsec":
            raise bad(
                "UnsupportedConnectionType",
                f"Connection {name}: the sandbox models IPsec site-to-site connections only, not {ctype}.",
            )
        gw = self._referenced(
            props.get("virtualNetworkGateway1"), rid, "the virtual network gateway"
        )
        lng = self._referenced(props.get("localNetworkGateway2"), rid, "the local network gateway")
        props["virtualNetworkGateway1"] = {"id": gw["body"]["id"]}
        props["localNetworkGateway2"] = {"id": lng["body"]["id"]}
        self._refuse_while_gateway_busy({"seg": "connections", "body": body})
        if gw["body"]["properties"].get("provisioningState") != "Succeeded":
            raise ArmError(
                409,
                "AnotherOperationInProgress",
                f"Virtual network gateway {gw['body']['name']} is {gw['body']['properties'].get('provisioningState')}; "
                "connections can be created only when it is Succeeded.",
            )
        protocol = rules.one_of(
            props,
            "connectionProtocol",
            "IKEv2",
            ("IKEv1", "IKEv2"),
            "InvalidConnectionProtocol",
            f"Connection {name}: connectionProtocol must be IKEv2 or IKEv1.",
        )
        mode = rules.one_of(
            props,
            "connectionMode",
            "Default",
            ("Default", "ResponderOnly", "InitiatorOnly"),
            "InvalidConnectionMode",
            f"Connection {name}: connectionMode must be Default, ResponderOnly or InitiatorOnly.",
        )
        gprops = gw["body"]["properties"]
        if mode != "Default" and (protocol != "IKEv2" or gprops.get("vpnType") != "RouteBased"):
            raise bad(
                "ConnectionModeNotSupported",
                f"Connection {name}: connectionMode {mode} requires IKEv2 on a RouteBased gateway.",
            )
        auth = props.get("authenticationType", "PSK")
        if auth not in ("PSK", "Certificate"):
            raise bad(
                "InvalidAuthenticationType",
                f"Connection {name}: authenticationType must be PSK or Certificate.",
            )
        psk = props.pop("sharedKey", None)
        if auth == "PSK":
            if psk is None:
                psk = (existing or {}).get("psk") or secrets.token_urlsafe(24).replace(
                    "-", "A"
                ).replace("~", "B")
            rules.check_shared_key(psk, f"connection {name}")
        body["_psk"] = psk or ""
        dpd = props.get("dpdTimeoutSeconds")
        if dpd is not None and (
            isinstance(dpd, bool) or not isinstance(dpd, int) or not 9 <= dpd <= 3600
        ):
            raise bad(
                "InvalidDpdTimeout",
                f"dpdTimeoutSeconds {dpd} of connection {name} is out of range: use 9 to 3600 seconds.",
            )
        props.setdefault("dpdTimeoutSeconds", 45)
        policies = props.setdefault("ipsecPolicies", [])
        if len(policies) > 1:
            raise bad(
                "OnlyOneIpsecPolicySupported",
                f"Connection {name} has {len(policies)} ipsecPolicies; only one custom IPsec/IKE policy is supported.",
            )
        for policy in policies:
            if gprops["sku"]["name"] == "Basic":
                raise bad(
                    "IpsecPolicyNotSupportedOnBasicGateway",
                    f"Connection {name}: custom IPsec/IKE policies are not supported on the Basic SKU.",
                )
            rules.check_ipsec_policy(policy, name)
        props.setdefault("usePolicyBasedTrafficSelectors", False)
        enable_bgp = bool(props.setdefault("enableBgp", False))
        lbgp = lng["body"]["properties"].get("bgpSettings")
        if enable_bgp:
            if not gprops.get("enableBgp"):
                raise bad(
                    "BgpNotEnabledOnVirtualNetworkGateway",
                    f"Connection {name} enables BGP but gateway {gw['body']['name']} has enableBgp false. Enable BGP on the gateway first.",
                )
            if not lbgp:
                raise bad(
                    "LocalNetworkGatewayBgpSettingsMissing",
                    f"Connection {name} enables BGP but local network gateway {lng['body']['name']} has no bgpSettings (ASN and BGP peer IP).",
                )
            if int(lbgp.get("asn", 0)) == int(gprops.get("bgpSettings", {}).get("asn", 65515)):
                raise bad(
                    "BgpAsnSameAsVirtualNetworkGateway",
                    f"Local network gateway {lng['body']['name']} uses ASN {lbgp.get('asn')}, the same as gateway {gw['body']['name']}; on-premises and Azure ASNs must differ.",
                )
        gw_ipcs = {
            id_key(i.get("id", f"{gw['body']['id']}/ipConfigurations/{i['name']}")): i
            for i in gprops.get("ipConfigurations", [])
        }
        custom_by_ipc = {
            id_key(p.get("ipconfigurationId", "")): p.get("customBgpIpAddresses", [])
            for p in (gprops.get("bgpSettings") or {}).get("bgpPeeringAddresses", [])
        }
        for entry in props.get("gatewayCustomBgpIpAddresses") or []:
            ipc_id, ip = entry.get("ipConfigurationId", ""), entry.get("customBgpIpAddress", "")
            if id_key(ipc_id) not in gw_ipcs:
                raise bad(
                    "InvalidGatewayCustomBgpIpAddressIpConfiguration",
                    f"gatewayCustomBgpIpAddresses of connection {name} refers to ipConfiguration {ipc_id}, which gateway {gw['body']['name']} does not have.",
                )
            if not rules.is_apipa(ip):
                raise bad(
                    "InvalidCustomBgpIpAddress",
                    f"Custom BGP IP address {ip} of connection {name} must be within 169.254.21.0 - 169.254.22.255.",
                )
            configured = custom_by_ipc.get(id_key(ipc_id)) or []
            if configured and ip not in configured:
                raise bad(
                    "GatewayCustomBgpIpAddressNotConfigured",
                    f"Custom BGP IP address {ip} of connection {name} is not configured on gateway {gw['body']['name']} (configured: {', '.join(configured)}).",
                )
        if existing:
            old = existing["body"]["properties"]
            if old.get("connectionProtocol") != protocol:
                raise bad(
                    "ConnectionProtocolCannotBeChanged",
                    f"Connection {name} uses {old.get('connectionProtocol')}; the protocol cannot be changed after creation. Delete and recreate the connection.",
                )
            for ref in ("virtualNetworkGateway1", "localNetworkGateway2"):
                if id_key(ref_id(old.get(ref))) != id_key(ref_id(props.get(ref))):
                    raise bad(
                        "CannotChangeConnectionEndpoints",
                        f"Connection {name}: {ref} cannot be changed; delete and recreate the connection.",
                    )
