"""Which pfSense-pkg-RESTAPI release fits which pfSense, and what s2svpn needs from it.

From the README of each pfrest/pfSense-pkg-RESTAPI release tag (its ``pkg-static add …/pfSense-
<version>-pkg-RESTAPI.pkg`` lines): v2.0–v2.4.x are built for CE 2.7.2 / Plus 24.03, v2.5.x for
CE 2.8.0 / Plus 24.11, v2.6.x for CE 2.8.1 / Plus 25.07.1, v2.7.x for 25.11, v2.8.x for 26.03,
v2.9–v2.10.x for CE 2.8.1 / Plus 26.03.1. ``/api/v2/status/ipsec/sas`` (``StatusIPsecSAsEndpoint``)
exists from v2.2.0 (pfrest PR #574). The package is removed by every pfSense upgrade and a package
built for another pfSense may install but misbehave, so the preflight refuses a mismatch.

Pure module: no Django, no I/O.
"""

from __future__ import annotations

import re

__all__ = ["REQUIRED_ENDPOINTS", "check", "fitting_release", "parse_version"]

# (first release, first release after the line, CE versions, Plus versions, newest of the line)
RELEASE_LINES: tuple[
    tuple[tuple[int, ...], tuple[int, ...], tuple[str, ...], tuple[str, ...], str], ...
] = (
    ((2, 0, 0), (2, 5, 0), ("2.7.2",), ("24.03",), "v2.4.3"),
    ((2, 5, 0), (2, 6, 0), ("2.8.0",), ("24.11",), "v2.5.4"),
    ((2, 6, 0), (2, 7, 0), ("2.8.1",), ("25.07.1",), "v2.6.9"),
    ((2, 7, 0), (2, 8, 0), ("2.8.1",), ("25.11",), "v2.7.7"),
    ((2, 8, 0), (2, 9, 0), ("2.8.1",), ("26.03",), "v2.8.4"),
    ((2, 9, 0), (2, 11, 0), ("2.8.1",), ("26.03.1",), "v2.10.0"),
)
# Endpoints s2svpn needs, with the first release that has them. The outbound NAT ones (the fix for
# firewall-originated traffic, s2svpn.pfsense_nat) are in every v2 release: Endpoints/
# FirewallNATOutboundModeEndpoint.inc (url /api/v2/firewall/nat/outbound/mode, GET/PATCH) and
# FirewallNATOutboundMappingEndpoint.inc (…/outbound/mapping, GET/POST/PATCH/DELETE) exist with those
# urls and methods at tags v2.0.0, v2.1.0, v2.2.0, v2.3.0, v2.4.0, v2.4.3, v2.5.0 and v2.10.0
# (read in pfrest/pfSense-pkg-RESTAPI); listed so the preflight says so should that ever change.
REQUIRED_ENDPOINTS = {
    "/api/v2/status/ipsec/sas": (2, 2, 0),
    "/api/v2/firewall/nat/outbound/mode": (2, 0, 0),
    "/api/v2/firewall/nat/outbound/mapping": (2, 0, 0),
}
_PURPOSE = {
    "/api/v2/status/ipsec/sas": "s2svpn reads the tunnel state there",
    "/api/v2/firewall/nat/outbound/mode": "s2svpn reads and sets the outbound NAT mode there",
    "/api/v2/firewall/nat/outbound/mapping": "s2svpn writes its outbound NAT mappings there",
}
_DOWNLOAD = "https://github.com/pfrest/pfSense-pkg-RESTAPI/releases/download"


def parse_version(text: str) -> tuple[int, ...] | None:
    """``"v2.4.3"`` -> (2, 4, 3); ``"2.7.2-RELEASE"`` -> (2, 7, 2); None when unreadable."""
    match = re.match(r"^\s*v?(\d+(?:\.\d+)*)", text or "")
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


def _pfsense_base(text: str) -> str:
    """``"24.03-RELEASE"`` -> ``"24.03"`` (kept as written: 24.03 is not 24.3)."""
    match = re.match(r"^\s*v?(\d+(?:\.\d+)*)", text or "")
    return match.group(1) if match else ""


def _line(restapi: tuple[int, ...]):
    return next((line for line in RELEASE_LINES if line[0] <= restapi < line[1]), None)


def fitting_release(pfsense_version: str) -> str:
    """Plain advice: which REST package release to install on this pfSense, with its URL."""
    base = _pfsense_base(pfsense_version)
    plus = bool(base) and int(base.split(".")[0]) >= 20
    candidates = [line for line in RELEASE_LINES if base in (line[3] if plus else line[2])]
    usable = [
        line for line in candidates if line[1] > REQUIRED_ENDPOINTS["/api/v2/status/ipsec/sas"]
    ]
    if not usable:
        return (
            f"s2svpn knows no pfSense-pkg-RESTAPI release for pfSense {base or pfsense_version!r}; "
            "see https://pfrest.org/INSTALL_AND_CONFIG/#supported-pfsense-versions."
        )
    newest = usable[-1][4]
    package = f"pfSense-{base}-pkg-RESTAPI.pkg"
    options = " -C /dev/null" if plus else ""
    return (
        f"install pfSense-pkg-RESTAPI {newest} (the newest release built for pfSense {base}): "
        f"pkg-static{options} add {_DOWNLOAD}/{newest}/{package}"
    )


def check(pfsense_version: str, restapi_version: str) -> tuple[list[str], list[str]]:
    """(problems, warnings) for this pair of versions; problems block the push."""
    problems: list[str] = []
    warnings: list[str] = []
    restapi = parse_version(restapi_version)
    base = _pfsense_base(pfsense_version)
    if restapi is None:
        warnings.append(
            f"The REST API package did not say its version ({restapi_version!r}); s2svpn cannot "
            "check that it fits this pfSense."
        )
        return problems, warnings
    for endpoint, since in REQUIRED_ENDPOINTS.items():
        if restapi < since:
            problems.append(
                f"pfSense-pkg-RESTAPI {restapi_version} has no {endpoint} (added in "
                f"v{'.'.join(map(str, since))}); {_PURPOSE[endpoint]}. To fix: "
                + fitting_release(pfsense_version)
            )
    line = _line(restapi)
    if line is None:
        warnings.append(
            f"pfSense-pkg-RESTAPI {restapi_version} is newer than the releases s2svpn knows; "
            "check that it supports this pfSense."
        )
    elif base and base not in line[2] + line[3]:
        problems.append(
            f"pfSense-pkg-RESTAPI {restapi_version} is built for pfSense "
            f"{' / '.join(line[2] + line[3])}, not {base}. To fix: "
            + fitting_release(pfsense_version)
        )
    return problems, warnings
