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

Model-specific checks are implemented per ``response_id`` in ``CUSTOM``; the contract decides
which field carries which check. A ``response_id`` the contract lists but this module does not
implement is recorded in :attr:`Contract.unchecked` rather than silently passing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from s2svpn.sandbox.contract_checks import (
    ALIAS,
    CUSTOM,
    FQDN,
    MAC,
    Context,
    ContractError,
    is_ip,
    is_subnet,
)

REPO = Path(__file__).resolve().parents[2]
CONTRACT_PATH = (
    REPO.parent / "shared" / "fixtures" / "pfsense" / "contract" / "restapi-v2-contract.json"
)
# A copy without the free-text descriptions ships with s2svpn, so the sandbox that `make run`
# starts works where the shared fixtures are not beside the checkout.
BUNDLED_PATH = Path(__file__).resolve().parent / "data" / "restapi-v2-contract.min.json"
# Models the contract file does not cover (the outbound NAT mode and mappings), transcribed in
# the same layout from pfrest/pfSense-pkg-RESTAPI Models/OutboundNATMode.inc and
# Models/OutboundNATMapping.inc; merged in wherever the main file lacks them.
SUPPLEMENT_PATH = Path(__file__).resolve().parent / "data" / "restapi-v2-contract-nat.json"


def contract_path() -> Path:
    """The contract to load: $S2SVPN_PFSENSE_CONTRACT, the shared fixture, else the bundled copy."""
    import os

    override = os.environ.get("S2SVPN_PFSENSE_CONTRACT")
    if override:
        return Path(override)
    return CONTRACT_PATH if CONTRACT_PATH.exists() else BUNDLED_PATH


__all__ = [
    "BUNDLED_PATH",
    "CONTRACT_PATH",
    "SUPPLEMENT_PATH",
    "Context",
    "Contract",
    "ContractError",
]


def _bounded(name: str, measure: float, low: Any, high: Any, validator: str, unit: str) -> None:
    """The package's ``<validator>_MINIMUM/MAXIMUM_CONSTRAINT`` when ``measure`` is out of range."""
    if low is not None and measure < low:
        raise ContractError(
            f"{validator}_MINIMUM_CONSTRAINT",
            400,
            f"Field `{name}` must be at least {low}{unit}.",
            name,
        )
    if high is not None and measure > high:
        raise ContractError(
            f"{validator}_MAXIMUM_CONSTRAINT",
            400,
            f"Field `{name}` must be at most {high}{unit}.",
            name,
        )


class Contract:
    """The parsed contract file plus the checks it describes."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else contract_path()
        data = json.loads(self.path.read_text())
        supplement = json.loads(SUPPLEMENT_PATH.read_text())
        for name, model in supplement["models"].items():
            data["models"].setdefault(name, model)
        known = {e["url"] for e in data["endpoints"]}
        data["endpoints"] += [e for e in supplement["endpoints"] if e["url"] not in known]
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
            if value == "" and spec.get("allow_empty"):
                continue  # an allowed empty value skips the validators (as in _check_value)
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
            _bounded(
                name,
                len(value),
                spec.get("many_minimum") or 0,
                spec.get("many_maximum"),
                "LENGTH_VALIDATOR",
                " item(s)",
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
            _bounded(name, len(item), low, high, "LENGTH_VALIDATOR", " characters")
        if (
            isinstance(item, (int, float))
            and not isinstance(item, bool)
            and "numeric_range_validator" in derived
            and "numeric_range_validator_dropped" not in derived
        ):
            low, high = spec.get("minimum"), spec.get("maximum")
            _bounded(name, item, low, high, "NUMERIC_RANGE_VALIDATOR", "")

    def _validator(self, spec: dict, validator: dict, item: Any, ctx: Context) -> None:
        name, kind, params = spec["name"], validator["name"], validator.get("params") or {}
        if not isinstance(item, str):
            return
        if kind == "IPAddressValidator":
            if item in (params.get("allow_keywords") or []):
                return
            ok = is_ip(item, v4=params.get("allow_ipv4", True), v6=params.get("allow_ipv6", True))
            if not ok and params.get("allow_fqdn") and FQDN.match(item) and not is_ip(item):
                ok = not re.match(r"^[0-9.]+$", item)
            if not ok and params.get("allow_alias") and ALIAS.match(item):
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
            if item and not MAC.match(item):
                raise ContractError(
                    "MAC_ADDRESS_VALIDATOR_FAILED", 400, f"Field `{name}` is not a MAC.", name
                )
        elif kind == "SubnetValidator":
            if not is_subnet(item):
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
            if _special_network_ok(str(item), options, ctx):
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
        fn = CUSTOM.get(rid)
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


def _special_network_ok(value: str, options: dict, ctx: Context) -> bool:
    """SpecialNetworkField's ``allow_ipaddr`` / ``allow_subnet`` / ``allow_alias`` /
    ``allow_interface_ip`` forms (RESTAPI Fields/SpecialNetworkField.inc), when declared."""
    if options.get("allow_ipaddr") and is_ip(value):
        return True
    if options.get("allow_subnet") and is_subnet(value):
        return True
    if options.get("allow_interface_ip") and value.endswith(":ip"):
        base = value[:-3]
        return base in set(ctx.interface_ids) or base in set(ctx.interfaces or ())
    # an alias name is accepted as written (the sandbox keeps no aliases: a guess)
    return bool(options.get("allow_alias")) and bool(ALIAS.match(value)) and not value.isdigit()


_DEFAULT: Contract | None = None


def default_contract() -> Contract:
    """The contract in ``shared/fixtures`` (loaded once)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Contract()
    return _DEFAULT
