"""Virtual network gateways in the ARM sandbox: Azure's rules for a VPN gateway, what a finished
build assigns (BGP addresses from the GatewaySubnet, public IPs), the 409 while one is busy, and
the gateway's POST actions (``reset`` and the three BGP reads answered by ``bgp``).

Rules: https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings and
``shared/reference/azure.md`` sections 5 and 6.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from s2svpn.sandbox import armstate as rules
from s2svpn.sandbox.arm.store import GATEWAY_ACTIONS as ACTIONS
from s2svpn.sandbox.arm.store import Answer, ArmStore, Record, id_key, new_etag, ref_id
from s2svpn.sandbox.armstate import ArmError, bad


class Gateways(ArmStore):
    def _check_gateway(
        self, name: str, rid: str, body: dict[str, Any], existing: Record | None
    ) -> None:
        props = body["properties"]
        if existing:
            self._refuse_while_gateway_busy(existing)
        rules.one_of(
            props,
            "gatewayType",
            "Vpn",
            ("Vpn",),
            "UnsupportedGatewayType",
            f"Gateway {name}: the sandbox models VPN gateways only (gatewayType Vpn), "
            f"not {props.get('gatewayType')}.",
        )
        vpn_type = rules.one_of(
            props,
            "vpnType",
            "RouteBased",
            ("RouteBased", "PolicyBased"),
            "InvalidVpnType",
            f"Gateway {name}: vpnType must be RouteBased or PolicyBased.",
        )
        sku = props.get("sku") or {}
        sku_name = sku.get("name")
        if sku_name in rules.RETIRED_SKUS:
            raise bad(
                "GatewaySkuRetired",
                f"Gateway SKU {sku_name} is retired and cannot be used for new gateways. Use VpnGw1AZ or larger.",
            )
        if sku_name not in rules.ALL_SKUS:
            raise bad(
                "InvalidGatewaySku",
                f"Gateway {name}: sku {sku_name!r} is not a VPN gateway SKU (Basic, VpnGw1-5, VpnGw1AZ-5AZ).",
            )
        if sku.get("tier", sku_name) != sku_name:
            raise bad(
                "InvalidGatewaySku", f"Gateway {name}: sku.tier must equal sku.name ({sku_name})."
            )
        sku["tier"] = sku_name
        props["sku"] = {
            "name": sku_name,
            "tier": sku_name,
            "capacity": 2 if sku_name != "Basic" else 1,
        }
        props["vpnGatewayGeneration"] = rules.check_generation(
            sku_name, props.get("vpnGatewayGeneration")
        )
        basic = sku_name == "Basic"
        enable_bgp = bool(props.setdefault("enableBgp", False))
        active = bool(props.setdefault("activeActive", False))
        if basic and enable_bgp:
            raise bad(
                "BgpNotSupportedOnBasicGateway",
                f"Gateway {name}: BGP is not supported on the Basic SKU. Use VpnGw1AZ or larger.",
            )
        if basic and active:
            raise bad(
                "ActiveActiveNotSupportedOnBasicGateway",
                f"Gateway {name}: active-active is not supported on the Basic SKU.",
            )
        if enable_bgp and vpn_type != "RouteBased":
            raise bad(
                "BgpRequiresRouteBasedGateway",
                f"Gateway {name}: BGP requires a RouteBased gateway.",
            )
        ipcs = props.get("ipConfigurations") or []
        want = 2 if active else 1
        if len(ipcs) != want:
            raise bad(
                "InvalidNumberOfIpConfigurations"
                if not active
                else "ActiveActiveGatewayRequiresTwoIpConfigurations",
                f"Gateway {name}: {'an active-active' if active else 'an active-standby'} gateway needs exactly "
                f"{want} ipConfigurations (got {len(ipcs)}).",
            )
        subnet_ids = set()
        gw_key = id_key(rid)
        for ipc in ipcs:
            if not ipc.get("name"):
                raise bad(
                    "InvalidRequestFormat", f"Gateway {name}: every ipConfiguration needs a name."
                )
            ip_props = ipc.setdefault("properties", {})
            ip_props.setdefault("privateIPAllocationMethod", "Dynamic")
            for ro in ("provisioningState", "privateIPAddress"):
                ip_props.pop(ro, None)
            sub = self._referenced(ip_props.get("subnet"), rid, "the GatewaySubnet")
            if sub["body"]["name"] != "GatewaySubnet":
                raise bad(
                    "InvalidGatewaySubnetName",
                    f"Subnet '{sub['body']['name']}' cannot be used for virtual network gateway {name}: the "
                    "gateway subnet must be named exactly 'GatewaySubnet'.",
                )
            prefix = ipaddress.ip_network(sub["body"]["properties"]["addressPrefix"])
            limit = 29 if basic else 27
            if prefix.prefixlen > limit:
                raise bad(
                    "GatewaySubnetIsTooSmall",
                    f"GatewaySubnet {prefix} is too small for SKU {sku_name}: "
                    f"{'Basic needs at least a /29' if basic else 'VpnGw SKUs need a /27 or larger'}. Resize the GatewaySubnet.",
                )
            subnet_ids.add(id_key(sub["body"]["id"]))
            users = [
                id_key(ref_id(r)) for r in sub["body"]["properties"].get("ipConfigurations", [])
            ]
            if any(not u.startswith(gw_key + "/") for u in users):
                raise bad(
                    "GatewaySubnetAlreadyInUse",
                    f"GatewaySubnet of this virtual network is already used by another gateway ({users[0]}). "
                    "A virtual network can have only one VPN gateway.",
                )
            pip = self._referenced(ip_props.get("publicIPAddress"), rid, "the public IP")
            p_sku = pip["body"].get("sku", {}).get("name", "Basic")
            p_method = pip["body"]["properties"].get("publicIPAllocationMethod")
            if not basic and (p_sku != "Standard" or p_method != "Static"):
                raise bad(
                    "VirtualNetworkGatewayRequiresStandardStaticPublicIp",
                    f"Public IP {pip['body']['name']} is {p_sku}/{p_method}; VPN gateways need a Standard SKU, "
                    "Static public IP address. Create a Standard static public IP.",
                )
            used_by = ref_id(pip["body"]["properties"].get("ipConfiguration"))
            if used_by and not id_key(used_by).startswith(gw_key + "/"):
                raise bad(
                    "PublicIPAddressInUse",
                    f"Public IP {pip['body']['name']} is already used by {used_by}.",
                )
        if len(subnet_ids) != 1:
            raise bad(
                "IpConfigurationsMustUseSameSubnet",
                f"Gateway {name}: all ipConfigurations must use the same GatewaySubnet.",
            )
        pips = [id_key(ref_id(i["properties"].get("publicIPAddress"))) for i in ipcs]
        if len(set(pips)) != len(pips):
            raise bad(
                "DuplicatePublicIpInGateway",
                f"Gateway {name}: each ipConfiguration needs its own public IP.",
            )
        bgp = props.get("bgpSettings")
        if bgp is not None:
            rules.check_asn(
                bgp.get("asn", 65515), f"virtual network gateway {name}", allow_65515=True
            )
            bgp.pop("bgpPeeringAddress", None)
            ipc_ids = {id_key(f"{rid}/ipConfigurations/{i['name']}") for i in ipcs}
            seen: set[str] = set()
            cleaned = []
            for entry in bgp.get("bgpPeeringAddresses") or []:
                ipc_id = entry.get("ipconfigurationId", "")
                if id_key(ipc_id) not in ipc_ids:
                    raise bad(
                        "InvalidBgpPeeringAddressIpConfiguration",
                        f"Gateway {name}: bgpPeeringAddresses refers to unknown ipConfiguration {ipc_id}.",
                    )
                for ip in entry.get("customBgpIpAddresses") or []:
                    if not rules.is_apipa(ip):
                        raise bad(
                            "InvalidCustomBgpIpAddress",
                            f"Custom BGP IP address {ip} of gateway {name} is not valid: APIPA addresses must be "
                            "within 169.254.21.0 - 169.254.22.255.",
                        )
                    if ip in seen:
                        raise bad(
                            "DuplicateCustomBgpIpAddress",
                            f"Custom BGP IP address {ip} is used twice on gateway {name}.",
                        )
                    seen.add(ip)
                cleaned.append(
                    {
                        "ipconfigurationId": ipc_id,
                        "customBgpIpAddresses": list(entry.get("customBgpIpAddresses") or []),
                    }
                )
            bgp["bgpPeeringAddresses"] = cleaned
        else:
            props["bgpSettings"] = {"asn": 65515, "peerWeight": 0, "bgpPeeringAddresses": []}
        if existing:
            old = existing["body"]["properties"]
            for key in ("gatewayType", "vpnType", "vpnGatewayGeneration"):
                if old.get(key) != props.get(key):
                    raise bad(
                        "CannotChangeVirtualNetworkGatewayProperty",
                        f"Gateway {name}: {key} cannot be changed from {old.get(key)} to {props.get(key)}; delete and recreate the gateway.",
                    )
            old_sku = old["sku"]["name"]
            if old_sku.endswith("AZ") != sku_name.endswith("AZ") or (old_sku == "Basic") != basic:
                raise bad(
                    "GatewaySkuResizeNotAllowed",
                    f"Gateway {name} cannot be resized from {old_sku} to {sku_name}: resize only within the same family; delete and recreate instead.",
                )

    def _finish_gateway(self, rec: Record) -> None:
        props = rec["body"]["properties"]
        ipcs = props.get("ipConfigurations", [])
        sub_id = ref_id(ipcs[0].get("properties", {}).get("subnet")) if ipcs else ""
        sub = self._get(sub_id) if sub_id else None
        prefix = sub["body"]["properties"]["addressPrefix"] if sub else ""
        defaults = rules.default_bgp_ips(prefix, len(ipcs)) if prefix else []
        bgp = props.setdefault("bgpSettings", {"asn": 65515, "peerWeight": 0})
        bgp.setdefault("asn", 65515)
        bgp.setdefault("peerWeight", 0)
        wanted_custom = {
            id_key(p.get("ipconfigurationId", "")): p.get("customBgpIpAddresses", [])
            for p in bgp.get("bgpPeeringAddresses", [])
        }
        peering = []
        for i, ipc in enumerate(ipcs):
            ipc["properties"]["provisioningState"] = "Succeeded"
            ip = defaults[i] if i < len(defaults) else ""
            ipc["properties"]["privateIPAddress"] = ip
            pip = self._get(ref_id(ipc["properties"].get("publicIPAddress")))
            if pip is not None and not pip["body"]["properties"].get("ipAddress"):
                self._allocate_ip(pip)
            tunnel = (
                [pip["body"]["properties"]["ipAddress"]]
                if pip and pip["body"]["properties"].get("ipAddress")
                else []
            )
            peering.append(
                {
                    "ipconfigurationId": ipc["id"],
                    "defaultBgpIpAddresses": [ip] if ip else [],
                    "customBgpIpAddresses": list(wanted_custom.get(id_key(ipc["id"]), [])),
                    "tunnelIpAddresses": tunnel,
                }
            )
        bgp["bgpPeeringAddresses"] = peering
        bgp["bgpPeeringAddress"] = ",".join(
            p["defaultBgpIpAddresses"][0] for p in peering if p["defaultBgpIpAddresses"]
        )

    def _busy_gateway(self, gw_id: str) -> Record | None:
        gw = self._get(gw_id) if gw_id else None
        if gw is not None and gw.get("pending"):
            return gw
        return None

    def _refuse_while_gateway_busy(self, rec: Record) -> None:
        props = rec["body"]["properties"]
        if rec["seg"] == "virtualNetworkGateways":
            gw = rec if rec.get("pending") else None
        elif rec["seg"] == "connections":
            gw = self._busy_gateway(ref_id(props.get("virtualNetworkGateway1")))
        else:
            gw = None
        if gw is not None:
            op_id = (gw.get("pending") or {}).get("op", "")
            raise ArmError(
                409,
                "AnotherOperationInProgress",
                f"Another operation on this or dependent resource is in progress. To retrieve status of the "
                f"operation use uri: {self._op_urls(self._state['operations'][op_id])[0] if op_id in self._state['operations'] else ''}"
                f". Virtual network gateway '{gw['body']['name']}' is still being updated; retry when it is Succeeded.",
            )

    def _gateway_sub(
        self, method: str, rg: str, name: str, action: str, query: dict[str, str], path: str
    ) -> Answer:
        rid = self._rid(rg, "virtualNetworkGateways", name)
        rec = self._get(rid)
        if rec is None:
            raise self._not_found("virtualNetworkGateways", rg, name)
        if action == "connections" and method == "GET":
            recs = [
                r
                for r in self._of("connections")
                if id_key(ref_id(r["body"]["properties"].get("virtualNetworkGateway1")))
                == id_key(rid)
            ]
            return self._list(recs, query, path)
        if action not in ACTIONS:
            raise ArmError(
                404,
                "InvalidResourceType",
                f"The sandbox has no action {action} on virtual network gateways.",
            )
        if method != "POST":
            raise self._method_not_allowed(method)
        action = ACTIONS[action]
        if action == "getAdvertisedRoutes" and not query.get("peer"):
            raise bad(
                "MissingParameter",
                "The 'peer' query parameter is required for getAdvertisedRoutes.",
            )
        location = rec["body"].get("location", "")
        if action == "reset":
            self._refuse_while_gateway_busy(rec)
            rec["reset_counter"] = int(rec.get("reset_counter", 0)) + 1
            duration = self._scaled(self.timing.other_seconds)
            op = self._begin(rec, "post", "reset", duration, location, state="Updating")
            rec["body"]["etag"] = new_etag()
            self._save()
            self._sync_world()
        else:
            # A BGP read (tens of seconds on real Azure, polled at its Retry-After) changes no
            # resource: nothing to persist (a monitor polling many sites would otherwise rewrite
            # the whole state file three times per site and cycle).
            op = self._new_op(
                "post",
                rid,
                action,
                self._scaled(self.timing.bgp_seconds()),
                location,
                peer=query.get("peer", ""),
                retry_after=self._scaled(self.timing.bgp_retry_after),
            )
        status_url, result_url = self._op_urls(op)
        return (
            202,
            {"Location": result_url, "Azure-AsyncOperation": status_url, **self._wait(op)},
            None,
        )
