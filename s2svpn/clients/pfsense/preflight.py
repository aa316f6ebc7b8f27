"""What the firewall offers before anything is written: versions, interface representation, FRR,
WAN/LAN and a phase 1 that would collide with s2svpn's."""

from __future__ import annotations

from dataclasses import dataclass, field

from s2svpn.clients.pfsense.objects import FirewallObjects
from s2svpn.intent import SiteIntent

FRR_PACKAGE = "pfSense-pkg-frr"


@dataclass
class Preflight:
    """What the firewall offers before anything is written (``problems`` block the push)."""

    pfsense_version: str = ""
    restapi_version: str = ""
    represent_interfaces_as: str = "id"
    frr_installed: bool = False
    wan_interface: str = ""
    bgp_source_interface: str = ""
    apipa_allowed: bool | None = None
    existing_phase1: dict | None = None  # s2svpn's own phase 1 (same descr)
    conflicting_phase1: dict | None = None  # someone else's phase 1 to the same remote gateway
    interfaces: dict = field(default_factory=dict)  # id -> {descr, if, ipaddr}
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "pfsense_version": self.pfsense_version,
            "restapi_version": self.restapi_version,
            "represent_interfaces_as": self.represent_interfaces_as,
            "frr_installed": self.frr_installed,
            "wan_interface": self.wan_interface,
            "bgp_source_interface": self.bgp_source_interface,
            "apipa_allowed": self.apipa_allowed,
            "existing_phase1": bool(self.existing_phase1),
            "conflicting_phase1": (self.conflicting_phase1 or {}).get("descr"),
            "problems": list(self.problems),
            "warnings": list(self.warnings),
        }


class Preflights(FirewallObjects):
    """The read-only look at the firewall before a push, and installing FRR."""

    def preflight(self, intent: SiteIntent, *, azure_public_ip: str | None = None) -> Preflight:
        """Versions, interface representation, FRR, WAN/LAN, duplicate phase 1 - nothing written."""
        result = Preflight()
        result.pfsense_version = str(
            (self.request("GET", "/api/v2/system/version") or {}).get("version") or ""
        )
        result.restapi_version = str(
            (self.request("GET", "/api/v2/system/restapi/version") or {}).get("current_version")
            or ""
        )
        settings = self.settings()
        result.represent_interfaces_as = str(settings.get("represent_interfaces_as") or "descr")
        self._iface_repr = None
        interfaces = self.interfaces()
        result.interfaces = {
            str(i.get("id")): {
                "descr": i.get("descr"),
                "if": i.get("if"),
                "ipaddr": i.get("ipaddr"),
            }
            for i in interfaces
        }
        if intent.wan_interface in result.interfaces:
            result.wan_interface = intent.wan_interface
        else:
            result.problems.append(
                f"The firewall has no interface '{intent.wan_interface}' for the tunnel; choose "
                f"one of {', '.join(sorted(result.interfaces)) or 'its interfaces'} as WAN."
            )
        holder = next(
            (i for i, o in result.interfaces.items() if o.get("ipaddr") == intent.onprem_bgp_ip),
            "",
        )
        result.bgp_source_interface = holder
        if intent.bgp_mode == "azure_default" and not holder:
            result.problems.append(
                f"No pfSense interface has the on-prem BGP address {intent.onprem_bgp_ip}. Set the "
                "site's on-prem BGP IP to the pfSense LAN address (Azure expects BGP from it)."
            )
        names = {str(p.get("name")) for p in self.packages()}
        result.frr_installed = FRR_PACKAGE in names
        if not result.frr_installed:
            result.warnings.append(
                "The FRR package is not installed; s2svpn installs pfSense-pkg-frr before writing "
                "BGP settings (System > Package Manager shows it afterwards)."
            )
        if intent.bgp_mode == "apipa":
            result.warnings.append(
                "APIPA BGP addresses (169.254.x.x): check that pfSense accepts them on the VTI "
                "(the REST API does not expose that setting, so s2svpn cannot verify it)."
            )
        for p1 in self.phase1s():
            if p1.get("descr") == intent.descr:
                result.existing_phase1 = p1
            elif azure_public_ip and p1.get("remote_gateway") == azure_public_ip:
                result.conflicting_phase1 = p1
        if result.conflicting_phase1 is not None:
            result.problems.append(
                f"Phase 1 '{result.conflicting_phase1.get('descr') or '(no description)'}' already "
                f"points at the Azure gateway {azure_public_ip}. Delete or disable it on the "
                "firewall (VPN > IPsec), or let s2svpn manage it by setting its description to "
                f"'{intent.descr}'."
            )
        return result

    def frr_installed(self) -> bool:
        return any(str(p.get("name")) == FRR_PACKAGE for p in self.packages())

    def install_frr(self) -> None:
        self.request("POST", "/api/v2/system/package", json_body={"name": FRR_PACKAGE})
