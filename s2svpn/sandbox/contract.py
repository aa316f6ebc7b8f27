"""A validator for pfSense REST API v2 request bodies, driven by the contract file.

The contract (``shared/fixtures/pfsense/contract/restapi-v2-contract.json``, see its README) is a
transcription of pfrest/pfSense-pkg-RESTAPI's field declarations: type, required, default,
choices, conditions, many/many_minimum, lengths, numeric ranges, uniqueness, validators and the
model-specific checks (``custom_validation``) with their ``response_id``. This module reads that
file and checks a body the way the package does (field declaration order, first failure wins),
so the pfSense sandbox and the contract test share one set of rules and nobody writes per-field
checks by hand. https://pfrest.org/api-docs/

Two modes:

* ``strict=False`` (the sandbox, like the real server): unknown keys are ignored, read-only keys
  are dropped.
* ``strict=True`` (the checker): unknown and read-only keys are errors too.

Model-specific checks are implemented per ``response_id`` in ``_CUSTOM``; the contract decides
which field carries which check. A ``response_id`` the contract lists but this module does not
implement is recorded in :attr:`Contract.unchecked` rather than silently passing.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CONTRACT_PATH = (
    REPO.parent / "shared" / "fixtures" / "pfsense" / "contract" / "restapi-v2-contract.json"
)
# A copy without the free-text descriptions ships with s2svpn, so the sandbox that `make run`
# starts works where the shared fixtures are not beside the checkout.
BUNDLED_PATH = Path(__file__).resolve().parent / "data" / "restapi-v2-contract.min.json"


def contract_path() -> Path:
    """The contract to load: $S2SVPN_PFSENSE_CONTRACT, the shared fixture, else the bundled copy."""
    import os

    override = os.environ.get("S2SVPN_PFSENSE_CONTRACT")
    if override:
        return Path(override)
    return CONTRACT_PATH if CONTRACT_PATH.exists() else BUNDLED_PATH


_FQDN = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]{2,63}\.?$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")
_ALIAS = re.compile(r"^[A-Za-z0-9_]{1,31}$")


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


def _is_ip(value: str, *, v4: bool = True, v6: bool = True) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return (v4 and address.version == 4) or (v6 and address.version == 6)


def _is_subnet(value: str) -> bool:
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
    return allow_alias and bool(_ALIAS.match(value))


def _filter_address_ok(value: str, ctx: Context) -> bool:
    value = value[1:] if value.startswith("!") else value
    if value in ("any", "(self)", "l2tp", "pppoe"):
        return True
    if _is_ip(value) or _is_subnet(value):
        return True
    base = value[:-3] if value.endswith(":ip") else value
    if base in set(ctx.interface_ids) or base in set(ctx.interfaces or ()):
        return True
    return bool(_ALIAS.match(value)) and not value.isdigit()


def _keylens_from_notes(notes: str | None) -> dict[str, list[int]]:
    """``"aes: [128, 192, 256]; aes128gcm: [64, 96, 128]"`` -> mapping (data from the contract)."""
    result: dict[str, list[int]] = {}
    for name, values in re.findall(r"([a-z0-9]+): \[([0-9, ]+)\]", notes or ""):
        result[name] = [int(v) for v in values.split(",")]
    return result


class Contract:
    """The parsed contract file plus the checks it describes."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else contract_path()
        data = json.loads(self.path.read_text())
        self.data = data
        self.models: dict[str, dict] = data["models"]
        self.endpoints: list[dict] = data["endpoints"]
        self.reserved: set[str] = set(data["control_parameters"]["reserved_field_names"]) | set(
            data["control_parameters"]["params"]
        )
        self.unchecked: set[str] = set()
        self._by_url: dict[str, dict] = {}
        for endpoint in self.endpoints:
            if endpoint.get("shadowed_by"):
                continue
            self._by_url.setdefault(endpoint["url"], endpoint)

    # ---- endpoints ---------------------------------------------------------------------------
    def endpoint(self, url: str) -> dict | None:
        return self._by_url.get(url.rstrip("/") or url)

    def fields(self, model: str) -> list[dict]:
        return self.models[model].get("fields", [])

    def field(self, model: str, name: str) -> dict | None:
        return next((f for f in self.fields(model) if f["name"] == name), None)

    def sensitive_fields(self, model: str) -> set[str]:
        return {f["name"] for f in self.fields(model) if f.get("sensitive")}

    def write_only_fields(self, model: str) -> set[str]:
        return {f["name"] for f in self.fields(model) if f.get("write_only")}

    # ---- validation --------------------------------------------------------------------------
    def validate(
        self,
        model: str,
        body: dict,
        *,
        method: str = "POST",
        current: dict | None = None,
        context: Context | None = None,
        strict: bool = False,
    ) -> dict:
        """Check ``body`` for ``model``; return the object as the server would store it.

        ``current`` is the stored object for PATCH (body fields overwrite it, every field is
        re-validated). Raises :class:`ContractError` with the first failure.
        """
        ctx = context or Context()
        if not isinstance(body, dict):
            raise ContractError(
                "MODEL_NON_ARRAY_REPRESENTATION_DATA", 400, "Request data must be an object."
            )
        declared = {f["name"]: f for f in self.fields(model)}
        if strict:
            for key in body:
                if key not in declared and key not in self.reserved:
                    raise ContractError(
                        "UNKNOWN_FIELD", 400, f"Field `{key}` is not a field of {model}.", key
                    )
                if key in declared and declared[key].get("read_only"):
                    raise ContractError(
                        "READ_ONLY_FIELD_SENT", 400, f"Field `{key}` is read-only.", key
                    )
        obj: dict[str, Any] = {}
        if method == "PATCH" and current is not None:
            obj.update({k: v for k, v in current.items() if k in declared})
        for key, value in body.items():
            if key in declared and not declared[key].get("read_only"):
                obj[key] = value

        for spec in self.fields(model):
            name = spec["name"]
            if spec.get("read_only"):
                continue
            if not self._conditions_hold(spec.get("conditions"), obj, declared):
                obj[name] = None
                continue
            if (
                method == "PATCH"
                and current is not None
                and spec.get("editable") is False
                and name in body
                and body[name] != current.get(name)
            ):
                raise ContractError(
                    "FIELD_VALUE_CHANGED_WHEN_NOT_EDITABLE",
                    400,
                    f"Field `{name}` cannot be changed.",
                    name,
                )
            value = obj.get(name)
            if value is None:
                default = spec.get("default")
                if default is not None and not isinstance(default, dict):
                    value = json.loads(json.dumps(default))
                elif spec.get("required"):
                    raise ContractError(
                        "FIELD_IS_REQUIRED", 400, f"Field `{name}` is required.", name
                    )
                obj[name] = value
            if value is None:
                continue
            self._check_value(model, spec, value, obj, ctx)

        for spec in self.fields(model):
            value = obj.get(spec["name"])
            if spec.get("read_only") or value is None:
                continue
            for check in spec.get("custom_validation") or []:
                self._custom(model, spec, check, value, obj, ctx)
        return obj

    # ---- internals ---------------------------------------------------------------------------
    def _conditions_hold(self, conditions: dict | None, obj: dict, declared: dict) -> bool:
        for raw_key, expected in (conditions or {}).items():
            negate = raw_key.startswith("!")
            key = raw_key.lstrip("!")
            value = obj.get(key)
            if value is None and key in declared:
                default = declared[key].get("default")
                value = default if not isinstance(default, dict) else None
            if isinstance(expected, dict):
                expected = expected.get("known_values") or []
            holds = value in expected if isinstance(expected, list) else value == expected
            if holds == negate:
                return False
        return True

    def _type_ok(self, spec: dict, item: Any) -> bool:
        kind = spec.get("type")
        if kind == "string":
            return isinstance(item, str)
        if kind == "integer":
            return isinstance(item, int) and not isinstance(item, bool)
        if kind == "boolean":
            return isinstance(item, bool)
        if kind == "double":
            return isinstance(item, float)
        if kind == "array":
            return isinstance(item, dict)
        return True

    def _choices(self, spec: dict, obj: dict, ctx: Context) -> list | None:
        choices = spec.get("choices")
        if choices is None or isinstance(choices, list):
            return choices
        if spec.get("field_class") == "InterfaceField":
            if ctx.interfaces is None:
                return None
            extras = list((spec.get("options") or {}).get("allow_custom") or [])
            options = spec.get("options") or {}
            if options.get("allow_ipsec_interface"):
                extras.append("enc0")
            if options.get("allow_openvpn_interface"):
                extras.append("openvpn")
            return list(ctx.interfaces) + extras
        if "known_values_by_name" in choices:
            return choices["known_values_by_name"].get(obj.get("name"))
        if "known_values" in choices:
            return choices["known_values"]
        if spec["name"] == "if" and ctx.ports is not None:
            return list(ctx.ports)
        return None

    def _check_value(self, model: str, spec: dict, value: Any, obj: dict, ctx: Context) -> None:
        name = spec["name"]
        many = spec.get("many")
        allow_empty = spec.get("allow_empty") or (many and not spec.get("many_minimum"))
        if many:
            if not isinstance(value, list):
                raise ContractError(
                    "FIELD_INVALID_MANY_VALUE", 400, f"Field `{name}` must be a list.", name
                )
            minimum, maximum = spec.get("many_minimum") or 0, spec.get("many_maximum")
            if len(value) < minimum:
                raise ContractError(
                    "LENGTH_VALIDATOR_MINIMUM_CONSTRAINT",
                    400,
                    f"Field `{name}` needs at least {minimum} item(s).",
                    name,
                )
            if maximum is not None and len(value) > maximum:
                raise ContractError(
                    "LENGTH_VALIDATOR_MAXIMUM_CONSTRAINT",
                    400,
                    f"Field `{name}` allows at most {maximum} item(s).",
                    name,
                )
            items = value
        else:
            items = [value]
        if value in ("", []) and not allow_empty:
            raise ContractError(
                "FIELD_EMPTY_NOT_ALLOWED", 400, f"Field `{name}` cannot be empty.", name
            )
        choices = self._choices(spec, obj, ctx)
        for item in items:
            if not self._type_ok(spec, item):
                raise ContractError(
                    "FIELD_INVALID_TYPE",
                    400,
                    f"Field `{name}` must be of type `{spec.get('type')}`.",
                    name,
                )
            if choices is not None and item not in choices:
                raise ContractError(
                    "FIELD_INVALID_CHOICE",
                    400,
                    f"Field `{name}` must be one of [{', '.join(map(str, choices))}]",
                    name,
                )
            if spec.get("unique"):
                for other in ctx.existing:
                    if other.get("id") == ctx.current_id and ctx.current_id is not None:
                        continue
                    if other.get(name) == item:
                        raise ContractError(
                            "FIELD_MUST_BE_UNIQUE",
                            400,
                            f"Field `{name}` must be unique; `{item}` is in use.",
                            name,
                        )
            if item == "" and not spec.get("allow_empty"):
                raise ContractError(
                    "FIELD_EMPTY_NOT_ALLOWED", 400, f"Field `{name}` cannot be empty.", name
                )
            if item == "":
                continue  # an allowed empty value skips the validators
            for validator in spec.get("validators") or []:
                self._validator(spec, validator, item, ctx)
            self._lengths_and_ranges(spec, item)
            self._field_class(model, spec, item, obj, ctx)

    def _lengths_and_ranges(self, spec: dict, item: Any) -> None:
        name = spec["name"]
        derived = spec.get("derived") or []
        if isinstance(item, str) and item and "string_length_validator" in derived:
            low, high = spec.get("minimum_length"), spec.get("maximum_length")
            if low is not None and len(item) < low:
                raise ContractError(
                    "LENGTH_VALIDATOR_MINIMUM_CONSTRAINT",
                    400,
                    f"Field `{name}` must be at least {low} characters.",
                    name,
                )
            if high is not None and len(item) > high:
                raise ContractError(
                    "LENGTH_VALIDATOR_MAXIMUM_CONSTRAINT",
                    400,
                    f"Field `{name}` must be at most {high} characters.",
                    name,
                )
        if (
            isinstance(item, (int, float))
            and not isinstance(item, bool)
            and "numeric_range_validator" in derived
            and "numeric_range_validator_dropped" not in derived
        ):
            low, high = spec.get("minimum"), spec.get("maximum")
            if low is not None and item < low:
                raise ContractError(
                    "NUMERIC_RANGE_VALIDATOR_MINIMUM_CONSTRAINT",
                    400,
                    f"Field `{name}` must be at least {low}.",
                    name,
                )
            if high is not None and item > high:
                raise ContractError(
                    "NUMERIC_RANGE_VALIDATOR_MAXIMUM_CONSTRAINT",
                    400,
                    f"Field `{name}` must be at most {high}.",
                    name,
                )

    def _validator(self, spec: dict, validator: dict, item: Any, ctx: Context) -> None:
        name, kind, params = spec["name"], validator["name"], validator.get("params") or {}
        if not isinstance(item, str):
            return
        if kind == "IPAddressValidator":
            if item in (params.get("allow_keywords") or []):
                return
            ok = _is_ip(item, v4=params.get("allow_ipv4", True), v6=params.get("allow_ipv6", True))
            if not ok and params.get("allow_fqdn") and _FQDN.match(item) and not _is_ip(item):
                ok = not re.match(r"^[0-9.]+$", item)
            if not ok and params.get("allow_alias") and _ALIAS.match(item):
                ok = True
            if not ok:
                raise ContractError(
                    "IP_ADDRESS_VALIDATOR_FAILED",
                    400,
                    f"Field `{name}` must be a valid IP address{' or FQDN' if params.get('allow_fqdn') else ''}.",
                    name,
                )
        elif kind == "FilterNameValidator":
            if not re.match(r"^[A-Za-z0-9_]+$", item):
                raise ContractError(
                    "FILTER_NAME_VALIDATOR_INVALID_CHARACTERS",
                    400,
                    f"Field `{name}` may only contain letters, digits and underscores.",
                    name,
                )
            if item.startswith("pkg_"):
                raise ContractError(
                    "FILTER_NAME_VALIDATOR_CANNOT_START_WITH_PKG",
                    400,
                    f"Field `{name}` cannot start with `pkg_`.",
                    name,
                )
            if item.isdigit():
                raise ContractError(
                    "FILTER_NAME_VALIDATOR_CANNOT_BE_NUMERICAL",
                    400,
                    f"Field `{name}` cannot be numerical.",
                    name,
                )
        elif kind == "MACAddressValidator":
            if item and not _MAC.match(item):
                raise ContractError(
                    "MAC_ADDRESS_VALIDATOR_FAILED", 400, f"Field `{name}` is not a MAC.", name
                )
        elif kind == "SubnetValidator":
            if not _is_subnet(item):
                raise ContractError(
                    "SUBNET_VALIDATOR_FAILED", 400, f"Field `{name}` is not a subnet.", name
                )
        else:  # UniqueFromForeignModelValidator etc.: needs models we do not simulate
            self.unchecked.add(kind)

    def _field_class(self, model: str, spec: dict, item: Any, obj: dict, ctx: Context) -> None:
        name, cls, options = spec["name"], spec.get("field_class"), spec.get("options") or {}
        if cls == "NestedModelField":
            try:
                self.validate(spec["nested_model"], item, context=Context(), strict=False)
            except ContractError as error:
                raise ContractError(
                    error.response_id,
                    400,
                    f"Field `{name}` encountered a nested validation error: {error.message}",
                    name,
                ) from None
        elif cls == "ForeignModelField":
            fm = spec.get("foreign_model") or {}
            for model_name in fm.get("model_name") or []:
                key = f"{model_name}.{fm.get('model_field')}"
                if key in ctx.foreign:
                    if item not in set(ctx.foreign[key]):
                        raise ContractError(
                            fm.get("not_found_response_id", "FOREIGN_MODEL_FIELD_VALUE_NOT_FOUND"),
                            fm.get("not_found_http_code", 404),
                            f"Field `{name}` could not locate `{model_name}` object with "
                            f"`{fm.get('model_field')}` set to `{item}`",
                            name,
                        )
                    return
        elif cls == "SpecialNetworkField":
            keywords = options.get("allowed_keywords") or []
            if item in keywords:
                return
            if options.get("allow_interface") and (
                item in set(ctx.interface_ids) or item in set(ctx.interfaces or ())
            ):
                return
            raise ContractError(
                "SPECIAL_NETWORK_FIELD_INVALID",
                400,
                f"Field `{name}` must be one of {keywords} or an existing interface.",
                name,
            )

    # ---- custom (model-specific) checks, keyed by response_id from the contract -------------
    def _custom(
        self, model: str, spec: dict, check: dict, value: Any, obj: dict, ctx: Context
    ) -> None:
        rid = check["response_id"]
        fn = _CUSTOM.get(rid)
        if fn is None:
            self.unchecked.add(rid)
            return
        if fn(value, obj, ctx, spec, check):
            raise ContractError(
                rid,
                int(check.get("http_code", 400)),
                f"Field `{spec['name']}` failed: {check.get('rule', rid)}",
                spec["name"],
            )


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
    allowed = _keylens_from_notes(spec.get("notes")).get(obj.get("encryption_algorithm_name"))
    return allowed is not None and value not in allowed


def _tunnel_family(mode: str, family: int) -> Callable[..., bool]:
    def check(value: Any, obj: dict, *_: Any) -> bool:
        return obj.get("mode") == mode and _version(value) != family

    return check


def _netbits(address_field: str) -> Callable[..., bool]:
    def check(value: Any, obj: dict, *_: Any) -> bool:
        return _version(obj.get(address_field)) == 4 and isinstance(value, int) and value > 32

    return check


_CUSTOM: dict[str, Callable[..., bool]] = {
    "IPSEC_PHASE_1_IPV6_REMOTE_GATEWAY_NOT_ALLOWED": lambda v, o, *_: (
        o.get("protocol") == "inet" and _version(v) == 6
    ),
    "IPSEC_PHASE_1_IPV4_REMOTE_GATEWAY_NOT_ALLOWED": lambda v, o, *_: (
        o.get("protocol") == "inet6" and _version(v) == 4
    ),
    "IPSEC_PHASE_1_ILLEGAL_DUPLICATE_REMOTE_GATEWAY": _dup_remote_gateway,
    "IPSEC_PHASE_1_MYID_DATA_MUST_BE_IP_ADDRESS": lambda v, o, *_: (
        o.get("myid_type") == "address" and _version(v) is None
    ),
    "IPSEC_PHASE_1_MYID_DATA_MUST_BE_FQDN": lambda v, o, *_: (
        o.get("myid_type") in ("fqdn", "dyn_dns") and not _FQDN.match(str(v))
    ),
    "IPSEC_PHASE_1_MYID_DATA_MUST_BE_EMAIL_ADDRESS": lambda v, o, *_: (
        o.get("myid_type") == "user_fqdn" and not _EMAIL.match(str(v))
    ),
    "IPSEC_PHASE_1_NO_INADDR_ANY_WITH_PEERADDRESS": lambda v, o, *_: (
        v == "peeraddress" and _inaddr_any(o)
    ),
    "IPSEC_PHASE_1_PEERID_DATA_MUST_BE_IP_ADDRESS": lambda v, o, *_: (
        o.get("peerid_type") == "address" and _version(v) is None
    ),
    "IPSEC_PHASE_1_PEERID_DATA_MUST_BE_FQDN": lambda v, o, *_: (
        o.get("peerid_type") in ("fqdn", "dyn_dns") and not _FQDN.match(str(v))
    ),
    "IPSEC_PHASE_1_PEERID_DATA_MUST_BE_EMAIL_ADDRESS": lambda v, o, *_: (
        o.get("peerid_type") == "user_fqdn" and not _EMAIL.match(str(v))
    ),
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
    "FILTER_ADDRESS_FIELD_INVALID": lambda v, o, c, *_: not _filter_address_ok(str(v), c),
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


_DEFAULT: Contract | None = None


def default_contract() -> Contract:
    """The contract in ``shared/fixtures`` (loaded once)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Contract()
    return _DEFAULT
