"""The second tunnel of an active-active site on pfSense, pushed beside the first.

An active-active gateway has two instances, each with its own public IP and BGP address, so
pfSense needs a second phase 1 (to instance 1's public IP), a second VTI phase 2 and interface,
its own IPsec-tab rule and a second BGP neighbour (``s2svpn.activeactive`` has the addressing).
The first tunnel is the site's usual one (``pfsense_push`` on the site's push state, unchanged,
so an active-standby site converted to active-active keeps it); the second is the same
``pfsense_push`` steps on a state of its own, kept inside the first's under ``"tunnel2"``. The two
share one checkpoint and one apply: writing the second merges what it changed into the first's
``changed`` list before the first's ``apply``, so IPsec is applied once (gotcha 19).

Pure orchestration: no Django, no I/O beyond the client the caller passes.
"""

from __future__ import annotations

from typing import Any

from s2svpn import activeactive, pfsense_push
from s2svpn.intent import SiteIntent
from s2svpn.pfsense_plan import PfSenseDesired

SECOND = "tunnel2"


def new_push_state(previous: dict | None = None) -> dict:
    """``pfsense_push.new_push_state`` for both tunnels: the second keeps what must outlive one
    push too (its PSK digest and FRR ownership), and its presence says the site had one."""
    state = pfsense_push.new_push_state(previous)
    if previous and SECOND in previous:
        state[SECOND] = pfsense_push.new_push_state(previous[SECOND])
    return state


def second_tunnel(
    intent: SiteIntent,
    public_ips: list[str] | tuple[str, ...],
    bgp_ips: list[str] | tuple[str, ...],
) -> activeactive.Tunnel | None:
    """Instance 1's tunnel, or ``None`` for an active-standby site."""
    if not intent.active_active:
        return None
    return activeactive.tunnels(intent, public_ips, bgp_ips)[1]


def _sub(state: dict) -> dict:
    sub = state.setdefault(SECOND, {})
    if state.get("checkpoint"):
        sub["checkpoint"] = state["checkpoint"]  # one checkpoint covers both tunnels
    return sub


def desired(tunnel: activeactive.Tunnel, state: dict, psk: str) -> PfSenseDesired:
    """The second tunnel's objects, with the BGP source interface the first's preflight found."""
    return pfsense_push.build_desired(
        tunnel.intent,
        state,
        azure_public_ip=tunnel.azure_public_ip,
        azure_bgp_ip=tunnel.azure_bgp_ip,
        psk=psk,
    )


def plan(client: Any, tunnel: activeactive.Tunnel, state: dict, psk: str) -> list:
    return pfsense_push.plan(client, desired(tunnel, state, psk))


def write_phase1(client: Any, tunnel: activeactive.Tunnel, state: dict, psk: str) -> str:
    return pfsense_push.write_phase1(client, desired(tunnel, state, psk), _sub(state))


def write(client: Any, tunnel: activeactive.Tunnel, state: dict, psk: str) -> dict:
    """Write the second tunnel (no apply) and hand what changed to the first's apply."""
    sub = _sub(state)
    pfsense_push.write(client, desired(tunnel, state, psk), sub)
    changed = state.setdefault("changed", [])
    for subsystem in sub.get("changed") or []:
        if subsystem not in changed:
            changed.append(subsystem)
    return state


def verify(client: Any, tunnel: activeactive.Tunnel, state: dict) -> dict:
    return pfsense_push.verify(client, tunnel.intent, _sub(state), attempt=0, max_attempts=10**6)


def combine(first: dict, second: dict | None) -> dict:
    """Both tunnels' verify answers as one: ok only when both are, failed when either is."""
    if second is None:
        return first
    results = {first["result"], second["result"]}
    result = "failed" if "failed" in results else "pending" if "pending" in results else "ok"
    reasons = [f"instance {i}: {r['reason']}" for i, r in enumerate((first, second)) if r["reason"]]
    return {
        "result": result,
        "checks": {"instance 0": first["checks"], "instance 1": second["checks"]},
        "reason": "; ".join(reasons),
        "learned": sorted(set(first["learned"]) | set(second["learned"])),
        "advertised": sorted(set(first["advertised"]) | set(second["advertised"])),
    }


def rollback(client: Any, state: dict) -> None:
    """Undo the second tunnel's writes; the first's rollback then restores the checkpoint."""
    sub = state.get(SECOND)
    if sub and sub.get("done"):
        pfsense_push.rollback(client, {**sub, "checkpoint": None})
        sub["done"] = []


def gateway_public_ip_ids(gateway: Any, intent: SiteIntent, azure_ids: dict) -> list[str]:
    """The public IPs an existing gateway should have: its own while its mode matches the intent
    (adopting it sends no PUT); converting to active-active adds the site's second public IP,
    converting back keeps the first only."""
    have = list(gateway.public_ip_ids)
    if gateway.active_active == intent.active_active:
        return have
    if intent.active_active:
        return have[:1] + [azure_ids["public_ip_2"]]
    return have[:1]


def conversion(intent: SiteIntent) -> str:
    """What converting the gateway to the intent's mode does (the review and the run say it)."""
    if intent.active_active:
        return (
            "converting the gateway to active-active: Azure adds the second public IP and "
            "instance and updates the gateway in place (Microsoft: 30-45 minutes). Instance 0's "
            "BGP address moves to the bottom of the GatewaySubnet, so the first tunnel's BGP "
            "session restarts once; pfSense then gets a second tunnel to instance 1."
        )
    return (
        "converting the gateway to active-standby: Azure removes the second instance and updates "
        "the gateway in place (Microsoft: 30-45 minutes); its BGP address moves to the top of the "
        "GatewaySubnet and pfSense's second tunnel is removed. The second public IP stays in "
        "Azure until teardown (it is still billed)."
    )


def teardown(client: Any, intent: SiteIntent, state: dict | None) -> list[str]:
    """Remove the second tunnel's objects (found by their ``s2svpn:<slug>#2`` description)."""
    second = activeactive.tunnel_intent(intent, 1)
    removed = pfsense_push.teardown(client, second, dict((state or {}).get(SECOND) or {}))
    return [f"{item} (instance 1)" for item in removed]
