"""The safe push to pfSense, as idempotent steps the provisioning run calls one by one.

Order (``shared/reference/pfsense.md`` §7): ``preflight`` -> ``plan`` (shown to the user before
anything is written) -> ``checkpoint`` (newest config revision + a backup of the touched sections)
-> ``write`` (no apply) -> ``apply`` (IPsec, interfaces, firewall, FRR: each at most once, in that
order, only when something changed; an IPsec apply recreates every VTI, gotcha 19) -> ``verify``
(re-checked with a countdown until ``ok`` or ``failed``) -> ``finish``. On failure ``rollback``
undoes what this push created or changed, in reverse order, then restores the checkpoint.
``teardown`` removes exactly what s2svpn created.

Every step takes a :class:`~s2svpn.clients.pfsense.PfSenseClient` and a JSON-able ``state`` dict
that the caller stores between steps (secrets are never put in it: the checkpoint's content stays
on the firewall, the state keeps its id and SHA-256). Steps mutate ``state`` as they go, so a step
that fails half-way still leaves a record ``rollback`` can use. No Django here; one push per
firewall at a time is the caller's lock.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from s2svpn import pfsense_nat as nat_fix
from s2svpn import pfsense_plan as plans
from s2svpn.clients.errors import ClientError
from s2svpn.intent import SiteIntent
from s2svpn.pfsense_plan import PfSenseDesired
from s2svpn.status import BgpState, TunnelState

__all__ = [
    "PlanItem",
    "PushError",
    "apply",
    "build_desired",
    "checkpoint",
    "finish",
    "new_push_state",
    "plan",
    "preflight",
    "rollback",
    "teardown",
    "verify",
    "write",
    "write_phase1",
]

SUBSYSTEMS = ("ipsec", "interfaces", "firewall", "frr")
_KIND_SUBSYSTEM = {
    "system": "firewall",  # Allow APIPA / maximum MSS are live after a filter reload
    "phase1": "ipsec",
    "phase2": "ipsec",
    "interface": "interfaces",
    "rule": "firewall",
    "frr": "frr",
    "nat": "firewall",  # outbound NAT mappings and mode: live after a filter reload
    "natmode": "firewall",
}


class PushError(ClientError):
    """A push step cannot continue; ``message`` says what is wrong and how to fix it."""


@dataclass(frozen=True)
class PlanItem:
    kind: str  # system | phase1 | phase2 | interface | rule | natmode | nat | frr
    key: str  # the stable key the object is found by
    action: str  # create | update | unchanged
    diff: dict  # {field: [now, wanted]} (secrets masked)

    def to_dict(self) -> dict:
        return asdict(self)


CARRIED_OVER = (
    *("psk_salt", "psk_digest", "frr_owned", "installed_frr", "system_owned", "nat_owned"),
)
FRR_INSTALL_DEADLINE = 900.0  # s: pkg_install() of pfSense-pkg-frr + frr9 + libyang2 on a slow box
APPLY_PATIENCE = 3  # reads of a timed-out apply's state before applying again


def new_push_state(previous: dict | None = None) -> dict:
    """A fresh state for the next push of a site, keeping what must outlive one push: the PSK
    digest (so an unchanged key is not re-sent) and what s2svpn owns in FRR (for teardown)."""
    return {key: previous[key] for key in CARRIED_OVER if previous and key in previous}


# ---- preflight & plan ------------------------------------------------------------------------------
def preflight(client: Any, intent: SiteIntent, *, azure_public_ip: str, state: dict) -> dict:
    """Read-only checks; raises :class:`PushError` listing every blocking problem."""
    result = client.preflight(intent, azure_public_ip=azure_public_ip)
    state["descr"] = intent.descr
    state["preflight"] = result.to_dict()
    if not result.ok:
        raise PushError(" ".join(result.problems), permanent=True, code="PREFLIGHT")
    return state


def build_desired(
    intent: SiteIntent, state: dict, *, azure_public_ip: str, azure_bgp_ip: str, psk: str
) -> PfSenseDesired:
    """``desired_pfsense`` with the BGP source interface preflight found (LAN by default)."""
    source = (state.get("preflight") or {}).get("bgp_source_interface") or "lan"
    return plans.desired_pfsense(
        intent,
        azure_public_ip=azure_public_ip,
        azure_bgp_ip=azure_bgp_ip,
        psk=psk,
        bgp_source_interface=source,
    )


def _frr_current(client: Any) -> dict:
    """The FRR sections now on the firewall. A failed read stops the step (transient): treating it
    as "no FRR config" would make the merge write s2svpn's sections over the user's."""
    try:
        return client.read_frr_sections()
    except ClientError as error:
        raise PushError(
            "Could not read the current FRR settings from the firewall, so nothing was written "
            f"(writing now could replace your other BGP neighbours and networks): {error.message}",
            permanent=False,
            code="FRR_READ_FAILED",
        ) from None


SYSTEM_REASONS = {
    "no_apipa_block": "Allow APIPA: switch on (System > Advanced > Firewall & NAT). pfSense blocks "
    "169.254.0.0/16 before any rule unless it is on, and APIPA mode runs BGP over 169.254.x.x.",
    "maxmss": "Maximum MSS 1350 (VPN > IPsec > Advanced), as Azure recommends; pfSense applies "
    "this value as given to traffic to and from its <vpn_networks> table, which for a VTI holds "
    "only Azure's BGP address: it clamps the BGP session (LAN <-> VNet traffic is clamped by the "
    "VTI interface's MSS).",
}


def _system_current(client: Any, state: dict | None = None) -> dict:
    found = ((state or {}).get("preflight") or {}).get("system")
    return dict(found) if isinstance(found, dict) and found else client.read_system()


def system_plan_item(client: Any, desired: PfSenseDesired, state: dict | None = None) -> PlanItem:
    """The system settings s2svpn changes, with the reason for each (``diff["why"]``)."""
    changes = plans.system_changes(_system_current(client, state), desired.system)
    if not changes:
        return PlanItem("system", "system settings", "unchanged", {})
    why = [SYSTEM_REASONS["maxmss" if k.startswith("maxmss") else k] for k in changes]
    return PlanItem("system", "system settings", "update", {**changes, "why": sorted(set(why))})


def plan(client: Any, desired: PfSenseDesired, state: dict | None = None) -> list[PlanItem]:
    """Create / update / unchanged per object, from a fresh read of the firewall."""
    items: list[PlanItem] = [system_plan_item(client, desired, state)]
    descr = desired.phase1["descr"]
    p1 = client.find_phase1(descr=descr)
    if p1 is None:
        items.append(PlanItem("phase1", descr, "create", _masked(desired.phase1)))
    else:
        diff = client.diff_phase1(desired.phase1, p1)
        items.append(PlanItem("phase1", descr, "update" if diff else "unchanged", diff))

    p2 = client.find_phase2(desired.phase2["descr"], p1.get("ikeid")) if p1 else None
    if p2 is None:
        items.append(PlanItem("phase2", desired.phase2["descr"], "create", dict(desired.phase2)))
    else:
        diff = plans.diff_fields({**desired.phase2, "ikeid": p1["ikeid"]}, p2)
        items.append(
            PlanItem("phase2", desired.phase2["descr"], "update" if diff else "unchanged", diff)
        )

    port = f"ipsec{p2['reqid']}" if p2 else "ipsec<reqid>"
    iface = client.find_interface(port) if p2 else None
    if iface is None:
        items.append(PlanItem("interface", port, "create", dict(desired.interface)))
    else:
        want = plans.interface_body(desired.interface, iface)  # a lower MSS there is kept
        diff = plans.diff_fields({**want, "if": port}, iface)
        items.append(PlanItem("interface", port, "update" if diff else "unchanged", diff))

    for rule in desired.rules:
        found = client.find_rule(rule["descr"])
        if found is None:
            items.append(PlanItem("rule", rule["descr"], "create", dict(rule)))
        else:
            diff = plans.diff_fields(client._for_api(rule), found)
            items.append(PlanItem("rule", rule["descr"], "update" if diff else "unchanged", diff))
    items += [PlanItem(**i) for i in nat_fix.plan(client, desired.nat, (iface or {}).get("id"))]

    current = _frr_current(client)
    _, diff = plans.merge_frr(current, desired.frr, password="(generated)")
    neighbor = desired.frr["frrbgpneighbors"][0]["peer"]
    ours = any(n.get("peer") == neighbor for n in current["frrbgpneighbors"])
    action = "unchanged" if not diff else ("update" if ours else "create")
    items.append(PlanItem("frr", f"neighbor {neighbor}", action, diff))
    return items


def _masked(body: dict) -> dict:
    return {k: ("********" if k == "pre_shared_key" else v) for k, v in body.items()}


# ---- checkpoint ------------------------------------------------------------------------------------
def checkpoint(client: Any, state: dict) -> dict:
    """Record the newest revision and back up the sections the push touches (idempotent)."""
    if not state.get("checkpoint"):
        state["checkpoint"] = client.checkpoint()
    return state


# ---- write -----------------------------------------------------------------------------------------
def _record(state: dict, kind: str, key: str, action: str, before: dict | None = None) -> None:
    if action == "unchanged":
        return
    done = state.setdefault("done", [])
    if any(d["kind"] == kind and d["key"] == key for d in done):
        return
    done.append({"kind": kind, "key": key, "action": action, "before": before or {}})
    changed = state.setdefault("changed", [])
    if _KIND_SUBSYSTEM[kind] not in changed:
        changed.append(_KIND_SUBSYSTEM[kind])


def _psk_digest(psk: str, state: dict) -> str:
    """A salted, keyed digest of the PSK: lets a later push notice a new key without storing it
    (a digest from an older release or another key just differs, so the key is re-sent once)."""
    from s2svpn.crypto import keyed_digest

    salt = state.setdefault("psk_salt", secrets.token_hex(16))
    return keyed_digest(psk, salt)


def write_phase1(
    client: Any, desired: PfSenseDesired, state: dict, *, update_psk: bool | None = None
) -> str:
    """Create/update s2svpn's phase 1 alone (it can be staged while Azure builds the gateway).

    The API never returns the PSK, so a changed key cannot be seen on the firewall; with
    ``update_psk=None`` the key is re-sent only when it differs from the one the last push wrote
    (compared through a salted digest kept in ``state``). ``True`` always re-sends it.
    """
    descr = desired.phase1["descr"]
    digest = _psk_digest(desired.phase1["pre_shared_key"], state)
    if update_psk is None:
        update_psk = state.get("psk_digest") != digest  # unknown (None) -> re-send to be sure
    before = client.find_phase1(descr=descr)
    p1, action = client.ensure_phase1(desired.phase1, update_psk=bool(update_psk and before))
    _record(state, "phase1", descr, action, _before(before, desired.phase1))
    state["ikeid"] = int(p1["ikeid"])
    state["psk_digest"] = digest
    return action


def write(
    client: Any, desired: PfSenseDesired, state: dict, *, update_psk: bool | None = None
) -> dict:
    """Write every object without applying. Re-running after a failure continues where it was."""
    if not state.get("checkpoint"):
        raise PushError(
            "The push has no checkpoint yet; run the checkpoint step before writing.",
            permanent=True,
            code="NO_CHECKPOINT",
        )
    _write_system(client, desired, state)
    write_phase1(client, desired, state, update_psk=update_psk)
    ikeid = int(state["ikeid"])

    before = client.find_phase2(desired.phase2["descr"], ikeid)
    p2, action = client.ensure_phase2(desired.phase2, ikeid)
    _record(state, "phase2", desired.phase2["descr"], action, _before(before, desired.phase2))
    port = f"ipsec{int(p2['reqid'])}"
    state["reqid"], state["port"] = int(p2["reqid"]), port

    before = client.find_interface(port)
    iface, action = client.ensure_interface(plans.interface_body(desired.interface, before), port)
    _record(state, "interface", port, action, _before(before, desired.interface))

    for rule in desired.rules:
        before = client.find_rule(rule["descr"])
        _, action = client.ensure_rule(rule)
        _record(state, "rule", rule["descr"], action, _before(before, rule))
    descr = desired.phase1["descr"]
    for kind, key, action, before in nat_fix.write(client, descr, desired.nat, iface["id"], state):
        _record(state, kind, key, action, before)

    _write_frr(client, desired, state)
    return state


def _before(found: dict | None, body: dict) -> dict:
    if found is None:
        return {}
    return {k: found.get(k) for k in body if k != "pre_shared_key" and k in found}


def _write_system(client: Any, desired: PfSenseDesired, state: dict) -> None:
    """Allow APIPA / maximum MSS through the command endpoint; remembers what they were before
    (only the first push that changed a key records it) so teardown can give it back."""
    changes = plans.system_changes(client.read_system(), desired.system)
    if not changes:
        return
    owned = state.setdefault("system_owned", {})
    for key, (before, _after) in changes.items():
        owned.setdefault(key, before)
    client.write_system({key: after for key, (_before, after) in changes.items()})
    _record(state, "system", "system settings", "update")


def install_frr(client: Any, state: dict, *, now: float) -> dict:
    """Start installing pfSense-pkg-frr once, then report progress: ``{"status": "installed" |
    "installing", "elapsed": s}``. The package install runs inline in the REST call and takes far
    longer than one request; a timed-out POST keeps running on the firewall, so this never POSTs
    again while an install may be running (until ``FRR_INSTALL_DEADLINE``)."""
    started = state.get("frr_install_started")
    if client.frr_installed():
        state.pop("frr_install_started", None)
        return {"status": "installed", "elapsed": now - started if started else 0.0}
    if started is not None:
        if now - started < FRR_INSTALL_DEADLINE:
            return {"status": "installing", "elapsed": now - started}
        raise PushError(
            f"pfSense-pkg-frr is still not installed {FRR_INSTALL_DEADLINE / 60:.0f} minutes after "
            "s2svpn started the install. Check System > Package Manager (and its log) on the "
            "firewall, install FRR there if needed, then Retry.",
            permanent=True,
            code="FRR_INSTALL_TIMEOUT",
        )
    state["frr_install_started"] = now
    try:
        outcome = client.install_frr()
    except ClientError:
        state.pop("frr_install_started", None)  # refused: nothing is running
        raise
    state["installed_frr"] = True
    if outcome == "installed" and client.frr_installed():
        state.pop("frr_install_started", None)
        return {"status": "installed", "elapsed": 0.0}
    return {"status": "installing", "elapsed": 0.0}


def _write_frr(client: Any, desired: PfSenseDesired, state: dict) -> None:
    if not client.frr_installed():
        raise PushError(
            "pfSense-pkg-frr is not installed yet; the FRR package step installs it first.",
            permanent=False,
            code="FRR_NOT_INSTALLED",
        )
    current = _frr_current(client)
    merged, diff = plans.merge_frr(current, desired.frr, password=secrets.token_urlsafe(18))
    if not diff:
        return
    state["frr_owned"] = _frr_ownership(current, merged, state.get("frr_owned"))
    client.write_frr(merged)
    _record(state, "frr", desired.frr["frrbgpneighbors"][0]["peer"], "update")


def _frr_ownership(current: dict, merged: dict, previous: dict | None) -> dict:
    """What s2svpn adds/changes in the FRR sections, so teardown can give back exactly that.

    A later push keeps what an earlier one recorded and adds only what is new this time."""
    if previous:
        later = _frr_ownership(current, merged, None)
        for section in ("frr", "frrbgp", "frrbgpadvanced"):
            previous.setdefault("added", {}).setdefault(section, [])
            previous.setdefault("changed", {}).setdefault(section, {})
            if section in later["created"] and section not in previous.get("created", []):
                previous.setdefault("created", []).append(section)
            for key in later["added"].get(section, []):
                if key not in previous["added"][section]:
                    previous["added"][section].append(key)
            for key, value in later["changed"].get(section, {}).items():
                previous["changed"][section].setdefault(key, value)
        for key in ("rows", "neighbors"):
            previous[key] = list(dict.fromkeys([*previous.get(key, []), *later[key]]))
        return previous
    owned: dict[str, Any] = {"added": {}, "changed": {}, "rows": [], "neighbors": [], "created": []}
    for section in ("frr", "frrbgp", "frrbgpadvanced"):
        before, after = current.get(section), merged.get(section) or {}
        if before is None:
            owned["created"].append(section)
            continue
        owned["added"][section] = [k for k in after if k not in before]
        owned["changed"][section] = {
            k: before[k]
            for k in after
            if k in before and k not in ("row", "password") and before[k] != after[k]
        }
    before_rows = {
        r.get("distributeroutevalue") for r in (current.get("frrbgp") or {}).get("row") or []
    }
    owned["rows"] = [
        r["distributeroutevalue"]
        for r in (merged.get("frrbgp") or {}).get("row") or []
        if r.get("distributeroutevalue") not in before_rows
    ]
    before_peers = {n.get("peer") for n in current.get("frrbgpneighbors") or []}
    owned["neighbors"] = [
        n["peer"] for n in merged.get("frrbgpneighbors") or [] if n.get("peer") not in before_peers
    ]
    return owned


# ---- apply -----------------------------------------------------------------------------------------
def apply(client: Any, state: dict) -> dict:
    """Apply each changed subsystem once, in order: IPsec, interfaces, firewall, FRR.

    An apply that timed out may still be running on the firewall (ipsec_configure() rebuilds every
    VTI), so a retry first reads the subsystem's state: applied -> done; still pending -> ask
    again later (a few times) before applying once more. A blind second apply would flap BGP."""
    applied = state.setdefault("applied", [])
    changed = set(state.get("changed") or [])
    if "interfaces" in changed:
        changed.add("ipsec")  # a new VTI exists only after an IPsec apply
    for subsystem in SUBSYSTEMS:
        if subsystem not in changed or subsystem in applied:
            continue
        if subsystem != "frr" and state.get("applying") == subsystem:
            if client.applied(subsystem):
                _applied(state, subsystem)
                continue
            checks = state["apply_checks"] = int(state.get("apply_checks") or 0) + 1
            if checks <= APPLY_PATIENCE:
                raise PushError(
                    f"pfSense is still applying {subsystem} (the last apply timed out); "
                    "reading its state again before deciding to apply once more.",
                    permanent=False,
                    code="APPLY_PENDING",
                )
        state["applying"] = subsystem
        if subsystem == "ipsec":
            client.apply_ipsec()
        elif subsystem == "interfaces":
            client.apply_interfaces()
        elif subsystem == "firewall":
            client.apply_firewall()
        else:
            client.frr_generate_config()
        _applied(state, subsystem)
    return state


def _applied(state: dict, subsystem: str) -> None:
    state["applied"].append(subsystem)
    state.pop("applying", None)
    state.pop("apply_checks", None)


# ---- verify ----------------------------------------------------------------------------------------
def verify(
    client: Any, intent: SiteIntent, state: dict, *, attempt: int = 0, max_attempts: int = 12
) -> dict:
    """``{"result": "ok"|"pending"|"failed", "checks": {...}, "reason": "..."}``.

    ``pending`` means "ask again later" (the caller re-checks with a countdown; ~60 s for the SA,
    a BGP hold time ~180 s for prefixes). After ``max_attempts`` pending becomes failed.
    """
    status = client.read_status(intent)
    checks = {
        "ike_established": any(sa.state == "ESTABLISHED" for sa in status.sas),
        "child_installed": status.tunnel == TunnelState.UP,
        "interface_up": False,
        "bgp_established": False,
        "prefixes_received": False,
        "prefixes_sent": False,
    }
    port = state.get("port")
    with contextlib.suppress(ClientError):
        checks["interface_up"] = any(
            i.get("hwif") == port and i.get("status") == "up" for i in client.interface_status()
        )
    peer = status.bgp_peers[0] if status.bgp_peers else None
    if peer is not None:
        checks["bgp_established"] = peer.state == BgpState.ESTABLISHED
        checks["prefixes_received"] = peer.prefixes_received > 0 or bool(status.learned_routes)
        checks["prefixes_sent"] = bool(peer.prefixes_sent) or bool(status.advertised_routes)
    result, reason = "ok", ""
    if status.error:
        result, reason = "pending", status.error
    elif peer is not None and peer.state == BgpState.POLICY:
        result = "failed"
        reason = (
            "BGP is up but FRR exchanges no prefixes (eBGP requires policy). The push sets "
            "'disableebgprequirepolicy'; check Services > FRR > BGP > Advanced."
        )
    elif not all(checks.values()):
        missing = [name.replace("_", " ") for name, ok in checks.items() if not ok]
        result, reason = "pending", "waiting for: " + ", ".join(missing)
        if peer is not None and peer.state == BgpState.NOT_RUNNING:
            reason = "FRR is not running on the firewall; " + reason
        elif checks["child_installed"] and not checks["bgp_established"]:
            blocked = _apipa_blocked(client, intent)
            if blocked:
                result, reason = "failed", blocked
    if result == "pending" and attempt + 1 >= max_attempts:
        result = "failed"
    return {
        "result": result,
        "checks": checks,
        "reason": reason,
        "learned": sorted({r.prefix for r in status.learned_routes}),
        "advertised": sorted({r.prefix for r in status.advertised_routes}),
    }


def _apipa_blocked(client: Any, intent: SiteIntent) -> str:
    """In APIPA mode with "Allow APIPA" off, pfSense drops the BGP session (filter.inc's
    link-local block): say so instead of waiting for a session that cannot come up."""
    if intent.bgp_mode != "apipa":
        return ""
    try:
        allowed = client.read_system().get("no_apipa_block") is not None
    except ClientError:
        return ""
    if allowed:
        return ""
    return (
        "The tunnel is up but pfSense blocks the BGP session: 'Allow APIPA' (System > Advanced > "
        "Firewall & NAT) is off, so pfSense drops 169.254.0.0/16 before any rule. Push the site "
        "again (s2svpn switches it on) or switch it on by hand."
    )


# ---- finish / rollback -----------------------------------------------------------------------------
def finish(client: Any, state: dict) -> dict:
    """Delete the checkpoint backup from the firewall (it holds PSKs) once the push is good."""
    if state.get("checkpoint") and not state.get("finished"):
        client.discard_checkpoint(state["checkpoint"])
        state["finished"] = True
    return state


def rollback(client: Any, state: dict) -> dict:
    """Undo this push in reverse order, then restore the checkpoint (exact sections + apply)."""
    errors: list[str] = []
    for item in reversed(state.get("done") or []):
        try:
            _undo(client, item, state)
        except ClientError as error:
            errors.append(error.message)
    if state.get("checkpoint"):
        client.restore_checkpoint(state["checkpoint"])
        try:
            client.apply_interfaces()
        except ClientError as error:
            errors.append(error.message)
        finish(client, state)
    elif state.get("done"):
        client.apply_firewall()
        client.apply_interfaces()
        client.apply_ipsec()
    state["rolled_back"] = True
    state["rollback_errors"] = errors
    return state


def _undo(client: Any, item: dict, state: dict) -> None:
    kind, key, action, before = item["kind"], item["key"], item["action"], item.get("before") or {}
    if kind in ("frr", "system", "nat", "natmode"):
        return  # these sections (and the outbound NAT mode) come back with the checkpoint restore
    if action == "create":
        if kind == "rule":
            client.delete_rule(key)
        elif kind == "interface":
            client.delete_interface(key)
        elif kind == "phase2":
            client.delete_phase2(key, state.get("ikeid"))
        elif kind == "phase1":
            client.delete_phase1(key)
    elif action == "update" and before:
        if kind == "rule":
            client.patch_rule(key, before)
        elif kind == "interface":
            client.patch_interface(key, before)
        elif kind == "phase2":
            client.patch_phase2(key, state.get("ikeid"), before)
        elif kind == "phase1":
            client.patch_phase1(key, before)


# ---- teardown: s2svpn.pfsense_teardown ----------------------------------------------------------
from s2svpn.pfsense_teardown import teardown  # noqa: E402  (kept importable from here)
