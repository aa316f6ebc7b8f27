"""pfSense system settings a tunnel needs that the REST API has no field for.

"Allow APIPA" (System > Advanced > Firewall & NAT, ``system/no_apipa_block``) and IPsec Advanced's
"Enable Maximum MSS" (``system/maxmss_enable``, ``system/maxmss``). s2svpn reads and writes them
through the command endpoint (texts in :mod:`s2svpn.pfsense_plan`). Also the VTI interface's own
MSS field, the clamp that covers LAN <-> VNet traffic (see :data:`VTI_MSS`). Pure module.

Where pfSense clamps (pfsense/pfsense RELENG_2_7_2, ``src/etc/inc/filter.inc``,
``filter_generate_scrubing()``):

* IPsec Advanced's maximum MSS goes on ``scrub from any to <vpn_networks>`` and ``scrub from
  <vpn_networks> to any``, as given. ``<vpn_networks>`` is ``filter_get_vpns_list()``: per phase 2
  its remote id through ``ipsec_idinfo_to_cidr($remoteid, true)`` (``src/etc/inc/ipsec.inc``),
  called without a mode, so a VTI phase 2's "address" remote id becomes ``<address>/32`` (the
  ``/30`` VTI branch there needs the mode argument): only Azure's BGP address. That clamp covers
  the BGP session, not LAN <-> VNet traffic.
* Every assigned interface with an MSS field gets ``scrub on $<if> inet all ... max-mss
  (<mss> - 40)`` (``filter_generate_optcfg_array()`` lists every assigned interface, VTIs
  included; the ``ipsec`` entry of ``$filter_interface_remove`` only affects
  ``filter_get_interface_list()``). pf sees ipsecN outbound (a LAN SYN leaving through the VTI);
  decapsulated inbound packets skip pf unless ``net.inet.ipsec.filtertunnel`` is 1 (FreeBSD
  ``sys/netipsec/ipsec.c`` ``ipsec4_capability()`` IPSEC_CAP_BYPASS_FILTER, checked in
  ``sys/netinet/ip_input.c``), which pfSense sets only in the ``if_ipsec`` filter mode
  (``globals.inc`` ``$ipsec_filter_sysctl``; default ``enc``).
"""

from __future__ import annotations

__all__ = [
    "MAXMSS_DEFAULT",
    "SYSTEM_KEYS",
    "VTI_MSS",
    "effective_maxmss",
    "interface_body",
    "interface_max_mss",
    "system_changes",
]

SYSTEM_KEYS = ("no_apipa_block", "maxmss_enable", "maxmss")
MAXMSS_DEFAULT = (
    1400  # filter.inc filter_generate_scrubing(): config_get_path('system/maxmss', 1400)
)
# The VTI interface's MSS field: filter_generate_scrubing() clamps IPv4 at the field minus 40
# (``intval($scrubcfg['mss'] - 40)``), so 1390 gives max-mss 1350, Azure's recommended TCP MSS.
VTI_MSS = 1390
IPV4_MSS_OFFSET = 40


def _as_int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def interface_max_mss(interface: dict) -> int | None:
    """The IPv4 max-mss pf applies on an assigned interface (None: its MSS field is empty).

    ``filter_generate_scrubing()``: the interface's ``mss`` minus 40 when it is numeric."""
    mss = _as_int(interface.get("mss"))
    return None if mss is None else mss - IPV4_MSS_OFFSET


def interface_body(desired: dict, found: dict | None) -> dict:
    """The interface body to push: ``desired``, but a lower MSS already on the interface is kept
    (the user clamps harder than Azure needs; raising it could break their path)."""
    want, have = _as_int(desired.get("mss")), _as_int((found or {}).get("mss"))
    if want is not None and have is not None and have < want:
        return {**desired, "mss": have}
    return dict(desired)


def effective_maxmss(system: dict) -> int | None:
    """The max-mss pfSense's scrub rule applies for VPN traffic, or None when the clamp is off.

    ``filter.inc`` ``filter_generate_scrubing()`` (RELENG_2_7_2): with ``system/maxmss_enable`` set
    it emits ``scrub ... max-mss <system/maxmss, 1400 if empty>`` for traffic to and from
    ``<vpn_networks>`` (for a VTI only the peer's /32: the BGP session), the value as given
    (unlike an interface's MSS field, applied minus 40)."""
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
