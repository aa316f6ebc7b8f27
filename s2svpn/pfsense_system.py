"""pfSense system settings a tunnel needs that the REST API has no field for.

"Allow APIPA" (System > Advanced > Firewall & NAT, ``system/no_apipa_block``) and IPsec Advanced's
"Enable Maximum MSS" (``system/maxmss_enable``, ``system/maxmss``). s2svpn reads and writes them
through the command endpoint (texts in :mod:`s2svpn.pfsense_plan`). Pure module.
"""

from __future__ import annotations

__all__ = ["MAXMSS_DEFAULT", "SYSTEM_KEYS", "effective_maxmss", "system_changes"]

SYSTEM_KEYS = ("no_apipa_block", "maxmss_enable", "maxmss")
MAXMSS_DEFAULT = (
    1400  # filter.inc filter_generate_scrubing(): config_get_path('system/maxmss', 1400)
)


def effective_maxmss(system: dict) -> int | None:
    """The max-mss pfSense's scrub rule applies for VPN traffic, or None when the clamp is off.

    ``filter.inc`` ``filter_generate_scrubing()`` (RELENG_2_7_2): with ``system/maxmss_enable`` set
    it emits ``scrub ... max-mss <system/maxmss, 1400 if empty>`` for traffic to and from
    ``<vpn_networks>``, the value as given (unlike an interface's MSS field, applied minus 40)."""
    if system.get("maxmss_enable") is None:
        return None
    try:
        return int(system.get("maxmss") or MAXMSS_DEFAULT)
    except (TypeError, ValueError):
        return MAXMSS_DEFAULT


def system_changes(current: dict, desired: dict) -> dict:
    """``{key: [now, wanted]}`` for the system settings s2svpn must change (None = unset).

    Allow APIPA (``system/no_apipa_block``) is switched on when the site needs it and it is off;
    ``filter.inc`` otherwise blocks 169.254.0.0/16 before any user rule. The MSS clamp is set to
    ``desired["maxmss"]`` unless a clamp at that value or lower is already on (a lower value the
    user chose is kept)."""
    changes: dict = {}
    if desired.get("no_apipa_block") and current.get("no_apipa_block") is None:
        changes["no_apipa_block"] = [None, "yes"]
    want = desired.get("maxmss")
    have = effective_maxmss(current)
    if want and (have is None or have > int(want)):
        if current.get("maxmss_enable") is None:
            changes["maxmss_enable"] = [None, "yes"]
        changes["maxmss"] = [current.get("maxmss"), str(want)]
    return changes
