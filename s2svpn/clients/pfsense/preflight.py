"""What the firewall offers before anything is written: versions, interface representation, FRR,
WAN/LAN and a phase 1 that would collide with s2svpn's."""

from __future__ import annotations

from dataclasses import dataclass, field

from s2svpn import pfsense_versions as versions
from s2svpn.clients.errors import ClientError
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
    system: dict = field(default_factory=dict)  # system/{no_apipa_block,maxmss_enable,maxmss}
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
            "system": dict(self.system),
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
        problems, warnings = versions.check(result.pfsense_version, result.restapi_version)
        result.problems += problems
        result.warnings += warnings
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
        # "Allow APIPA" and the IPsec maximum MSS have no REST field: read them through the
        # command endpoint (filter.inc blocks 169.254.0.0/16 unless system/no_apipa_block is set).
        result.system = self.read_system()
        result.apipa_allowed = result.system.get("no_apipa_block") is not None
        if intent.bgp_mode == "apipa" and not result.apipa_allowed:
            result.warnings.append(
                "'Allow APIPA' (System > Advanced > Firewall & NAT) is off, so pfSense blocks the "
                "169.254.x.x BGP addresses before any rule; s2svpn switches it on."
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

    # POST /api/v2/system/package runs pkg_install() inline (RESTAPI Models/Package.inc
    # _create()): FRR pulls frr9, libyang2, … and takes tens of seconds to minutes. The request
    # may time out while pkg keeps running on the firewall, so a timeout means "started".
    INSTALL_TIMEOUT = 60.0

    def install_frr(self) -> str:
        """Start installing FRR: ``"installed"`` when pfSense answered, ``"started"`` when the
        request timed out with pkg still at work. Never call again while an install runs."""
        try:
            self.request(
                "POST",
                "/api/v2/system/package",
                json_body={"name": FRR_PACKAGE},
                timeout=self.INSTALL_TIMEOUT,
            )
        except ClientError as error:
            if error.code in ("TIMEOUT", "TRANSPORT"):
                return "started"
            raise
        return "installed"
