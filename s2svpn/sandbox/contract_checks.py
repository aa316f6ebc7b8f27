"""The value checks behind :class:`s2svpn.sandbox.contract.Contract`: the failure type, the
runtime context, address/port/name predicates and the model-specific checks of
pfrest/pfSense-pkg-RESTAPI (``custom_validation`` in the contract), keyed by ``response_id``.

Each entry of :data:`CUSTOM` answers "does this value fail the check?" for one ``response_id``;
which field carries which check is the contract file's business, not this module's.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

FQDN = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]{2,63}\.?$"
)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAC = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")
ALIAS = re.compile(r"^[A-Za-z0-9_]{1,31}$")


@dataclass
class ContractError(Exception):
    """One validation failure, in the package's words (HTTP code + ``response_id``)."""

    response_id: str
    code: int
    message: str
    field: str = ""

    def __str__(self) -> str:
        return f"{self.code} {self.response_id}: {self.message}"


@dataclass
class Context:
    """What the firewall knows at runtime (the contract's ``runtime`` choices)."""

    interfaces: Iterable[str] | None = None  # valid InterfaceField values (as represented)
    ports: Iterable[str] | None = None  # assignable ports for NetworkInterface.if
    interface_ids: Iterable[str] = ()  # ids of configured interfaces (wan, lan, optN)
    foreign: dict[str, Iterable[Any]] = field(default_factory=dict)  # "Model.field" -> values
    existing: list[dict] = field(default_factory=list)  # other objects of the same model
    current_id: Any = None  # id of the object a PATCH edits (excluded from uniqueness)


def is_ip(value: str, *, v4: bool = True, v6: bool = True) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return (v4 and address.version == 4) or (v6 and address.version == 6)


def is_subnet(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


def _port_ok(value: Any, *, allow_range: bool, allow_alias: bool) -> bool:
    if not isinstance(value, str):
        return False
    parts = value.split(":") if allow_range else [value]
    if len(parts) > 2:
        return False
    if all(part.isdigit() and 1 <= int(part) <= 65535 for part in parts):
        return True
    return allow_alias and bool(ALIAS.match(value))


def _filter_address_ok(value: str, ctx: Context, options: dict | None = None) -> bool:
    """FilterAddressField's accepted forms; ``options`` are the field's ``allow_*`` flags
    (RESTAPI Fields/FilterAddressField.inc; a flag the contract does not declare allows)."""
    allow = {k: v for k, v in (options or {}).items() if k.startswith("allow_")}

    def ok(flag: str) -> bool:
        return bool(allow.get(flag, True))

    if value.startswith("!"):
        if not ok("allow_invert"):
            return False
        value = value[1:]
    keywords = {"any": "allow_any", "(self)": "allow_self", "l2tp": "allow_l2tp"}
    keywords["pppoe"] = "allow_pppoe"
    if value in keywords:
        return ok(keywords[value])
    if is_subnet(value):
        return ok("allow_subnet")
    if is_ip(value):
        return ok("allow_ipaddr")
    base = value[:-3] if value.endswith(":ip") else value
    if base in set(ctx.interface_ids) or base in set(ctx.interfaces or ()):
        return ok("allow_interface_ip" if value.endswith(":ip") else "allow_interface")
    return ok("allow_alias") and bool(ALIAS.match(value)) and not value.isdigit()


def keylens_from_notes(notes: str | None) -> dict[str, list[int]]:
    """``"aes: [128, 192, 256]; aes128gcm: [64, 96, 128]"`` -> mapping (data from the contract)."""
    result: dict[str, list[int]] = {}
    for name, values in re.findall(r"([a-z0-9]+): \[([0-9, ]+)\]", notes or ""):
        result[name] = [int(v) for v in values.split(",")]
    return result


def _inaddr_any(obj: dict) -> bool:
    return obj.get("remote_gateway") in ("0.0.0.0", "::")


def _version(value: Any) -> int | None:
    try:
        return ipaddress.ip_address(str(value)).version
    except ValueError:
        return None


def _dup_remote_gateway(value: Any, obj: dict, ctx: Context, *_: Any) -> bool:
    if value in ("0.0.0.0", "::"):
        return False
    for other in ctx.existing:
        if ctx.current_id is not None and other.get("id") == ctx.current_id:
            continue
        if other.get("remote_gateway") == value and not other.get("disabled"):
            if not (obj.get("gw_duplicates") and other.get("gw_duplicates")):
                return True
    return False


def _descr_prefix_too_long(value: Any, obj: dict, ctx: Context, spec: dict, check: dict) -> bool:
    match = re.search(r"starts with '([a-z]+)' and strlen\(descr\) > (\d+)", check.get("rule", ""))
    if not match:
        return False
    prefix, limit = match.group(1), int(match.group(2))
    return str(obj.get("if") or "").startswith(prefix) and len(str(value)) > limit


def _p1_keylen(value: Any, obj: dict, ctx: Context, spec: dict, check: dict) -> bool:
    allowed = keylens_from_notes(spec.get("notes")).get(obj.get("encryption_algorithm_name"))
    return allowed is not None and value not in allowed


def _tunnel_family(mode: str, family: int) -> Callable[..., bool]:
    def check(value: Any, obj: dict, *_: Any) -> bool:
        return obj.get("mode") == mode and _version(value) != family

    return check


def _netbits(address_field: str) -> Callable[..., bool]:
    def check(value: Any, obj: dict, *_: Any) -> bool:
        return _version(obj.get(address_field)) == 4 and isinstance(value, int) and value > 32

    return check


def _identifier_checks(kind: str) -> dict[str, Callable[..., bool]]:
    """``<kind>_data`` must fit ``<kind>_type`` (``kind``: myid or peerid)."""
    prefix, type_field = f"IPSEC_PHASE_1_{kind.upper()}_DATA_MUST_BE_", f"{kind}_type"
    return {
        prefix + "IP_ADDRESS": lambda v, o, *_: (
            o.get(type_field) == "address" and _version(v) is None
        ),
        prefix + "FQDN": lambda v, o, *_: (
            o.get(type_field) in ("fqdn", "dyn_dns") and not FQDN.match(str(v))
        ),
        prefix + "EMAIL_ADDRESS": lambda v, o, *_: (
            o.get(type_field) == "user_fqdn" and not EMAIL.match(str(v))
        ),
    }


CUSTOM: dict[str, Callable[..., bool]] = {
    "IPSEC_PHASE_1_IPV6_REMOTE_GATEWAY_NOT_ALLOWED": lambda v, o, *_: (
        o.get("protocol") == "inet" and _version(v) == 6
    ),
    "IPSEC_PHASE_1_IPV4_REMOTE_GATEWAY_NOT_ALLOWED": lambda v, o, *_: (
        o.get("protocol") == "inet6" and _version(v) == 4
    ),
    "IPSEC_PHASE_1_ILLEGAL_DUPLICATE_REMOTE_GATEWAY": _dup_remote_gateway,
    **_identifier_checks("myid"),
    "IPSEC_PHASE_1_NO_INADDR_ANY_WITH_PEERADDRESS": lambda v, o, *_: (
        v == "peeraddress" and _inaddr_any(o)
    ),
    **_identifier_checks("peerid"),
    "IPSEC_PHASE_1_REKEY_TIME_GREATER_THAN_LIFETIME": lambda v, o, *_: (
        v >= (o.get("lifetime") or 0)
    ),
    "IPSEC_PHASE_1_REAUTH_TIME_GREATER_THAN_LIFETIME": lambda v, o, *_: (
        v >= (o.get("lifetime") or 0)
    ),
    "IPSEC_PHASE_1_NO_STARTACTION_WITH_INADDR_ANY_REMOTE_GATEWAY": lambda v, o, *_: (
        v != "none" and _inaddr_any(o)
    ),
    "PORT_FIELD_INVALID": lambda v, o, c, s, *_: (
        not _port_ok(
            v,
            allow_range=bool((s.get("options") or {}).get("allow_range")),
            allow_alias=bool((s.get("options") or {}).get("allow_alias")),
        )
    ),
    "IPSEC_PHASE_1_NATTPORT_CANNOT_MATCH_IKEPORT": lambda v, o, *_: v == o.get("ikeport"),
    "IPSEC_PHASE_1_ENCRYPTION_ALGORITHM_KEYLEN_INVALID_CHOICE": _p1_keylen,
    "IPSEC_PHASE_2_LOCALID_TYPE_CANNOT_BE_INTERFACE_WITH_VTI_MODE": lambda v, o, *_: (
        o.get("mode") == "vti" and v not in ("address", "network")
    ),
    "SPECIAL_NETWORK_FIELD_INVALID": lambda *_: False,  # enforced by the field class
    "IPSEC_PHASE_2_LOCALID_ADDRESS_MUST_BE_IPV4_WITH_TUNNEL_MODE": _tunnel_family("tunnel", 4),
    "IPSEC_PHASE_2_LOCALID_ADDRESS_MUST_BE_IPV6_WITH_TUNNEL6_MODE": _tunnel_family("tunnel6", 6),
    "IPSEC_PHASE_2_REMOTEID_ADDRESS_MUST_BE_IPV4_WITH_TUNNEL_MODE": _tunnel_family("tunnel", 4),
    "IPSEC_PHASE_2_REMOTEID_ADDRESS_MUST_BE_IPV6_WITH_TUNNEL6_MODE": _tunnel_family("tunnel6", 6),
    "IPSEC_PHASE_2_NATLOCALID_ADDRESS_MUST_BE_IPV4_WITH_TUNNEL_MODE": _tunnel_family("tunnel", 4),
    "IPSEC_PHASE_2_NATLOCALID_ADDRESS_MUST_BE_IPV6_WITH_TUNNEL6_MODE": _tunnel_family("tunnel6", 6),
    "IPSEC_PHASE_2_LOCALID_NETBITS_EXCEEDS_IPV4_MAXIMUM": _netbits("localid_address"),
    "IPSEC_PHASE_2_REMOTEID_NETBITS_EXCEEDS_IPV4_MAXIMUM": _netbits("remoteid_address"),
    "IPSEC_PHASE_2_NATLOCALID_NETBITS_EXCEEDS_IPV4_MAXIMUM": _netbits("natlocalid_address"),
    "IPSEC_PHASE_2_NATLOCALID_TYPE_MUST_MATCH_LOCALID_TYPE": lambda v, o, *_: (
        {
            v,
            o.get("localid_type"),
        }
        == {"address", "network"}
    ),
    "IPSEC_PHASE_2_REKEY_TIME_GREATER_THAN_LIFETIME": lambda v, o, *_: (
        v >= (o.get("lifetime") or 0)
    ),
    "FILTER_NAME_VALIDATOR_INVALID_CHARACTERS": lambda *_: False,  # FilterNameValidator
    "FILTER_NAME_VALIDATOR_CANNOT_START_WITH_PKG": lambda *_: False,
    "FILTER_NAME_VALIDATOR_CANNOT_BE_NUMERICAL": lambda *_: False,
    "FILTER_NAME_VALIDATOR_RESERVED_NAME_USED": lambda v, *_: (
        str(v).lower()
        in {
            "all",
            "pass",
            "block",
            "out",
            "queue",
            "max",
            "min",
            "pptp",
            "pppoe",
            "l2tp",
            "openvpn",
        }
    ),
    "FILTER_NAME_VALIDATOR_NAME_IN_USE_BY_INTERFACE": lambda v, o, c, *_: (
        str(v).lower() in {str(i).lower() for i in c.interface_ids if i != c.current_id}
    ),
    "NETWORK_INTERFACE_DESCR_OPENVPN_MAX_LENGTH_EXCEEDED": _descr_prefix_too_long,
    "NETWORK_INTERFACE_DESCR_IPSEC_MAX_LENGTH_EXCEEDED": _descr_prefix_too_long,
    "NETWORK_INTERFACE_DESCR_GIF_MAX_LENGTH_EXCEEDED": _descr_prefix_too_long,
    "NETWORK_INTERFACE_DESCR_GRE_MAX_LENGTH_EXCEEDED": _descr_prefix_too_long,
    "INTERFACE_IPADDR_NOT_IPV4_WHEN_STATIC": lambda v, o, *_: (
        o.get("typev4") == "static" and _version(v) != 4
    ),
    "FIREWALL_RULE_MULTIPLE_INTERFACE_WITHOUT_FLOATING": lambda v, o, *_: (
        isinstance(v, list) and len(v) > 1 and not o.get("floating")
    ),
    "FILTER_RULE_ADDRESS_FIELD_WITH_INVERT_ANY": lambda v, *_: v == "!any",
    "FILTER_ADDRESS_FIELD_INVALID": lambda v, o, c, s, *_: (
        not _filter_address_ok(str(v), c, s.get("options"))
    ),
    "OUTBOUND_NAT_MAPPING_TARGET_SUBNET_TOO_LARGE_FOR_IPV4": lambda v, o, *_: (
        is_ip(str(o.get("target") or ""), v6=False) and int(v) > 32
    ),
    "OUTBOUND_NAT_MAPPING_POOLOPTS_SET_WITHOUT_MULTI_HOST_TARGET": lambda v, o, *_: (
        bool(v)
        and not is_ip(str(o.get("target") or ""))
        and not bool(ALIAS.match(str(o.get("target") or "")))
    ),
    "FIREWALL_RULE_SYNPROXY_STATE_TYPE_WITH_NON_TCP_PROTOCOL": lambda v, o, *_: (
        v == "synproxy state" and o.get("protocol") != "tcp"
    ),
    "FIREWALL_RULE_SYNPROXY_STATE_TYPE_WITH_GATEWAY": lambda v, o, *_: (
        v == "synproxy state" and bool(o.get("gateway"))
    ),
    "FIREWALL_RULE_ACKQUEUE_WITHOUT_DEFAULTQUEUE": lambda v, o, *_: (
        bool(v) and not o.get("defaultqueue")
    ),
    "FIREWALL_RULE_ACKQUEUE_MATCHES_DEFAULTQUEUE": lambda v, o, *_: (
        bool(v) and v == o.get("defaultqueue")
    ),
    "FIREWALL_RULE_PDNPIPE_SET_WITHOUT_DNPIPE": lambda v, o, *_: bool(v) and not o.get("dnpipe"),
    "FIREWALL_RULE_PDNPIPE_CANNOT_MATCH_DNPIPE": lambda v, o, *_: bool(v) and v == o.get("dnpipe"),
}
