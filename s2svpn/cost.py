"""A monthly cost estimate for the Azure end (gateway hours, extra tunnels, public IPs).

Pure. Only the VpnGw1 anchor is known for sure: $0.19/hour including 10 site-to-site tunnels,
$0.015/hour per extra tunnel (https://azure.microsoft.com/pricing/details/vpn-gateway/). The other
hourly prices are a table with its source and date, *labelled as an estimate*; deployments set
their own figures with ``S2SVPN_PRICE_OVERRIDES`` ("VpnGw1AZ=0.19,VpnGw2AZ=0.49", parsed by
:func:`parse_overrides`; the keys ``extra_tunnel`` and ``public_ip`` override those rates).
Data transfer (egress) is billed on top and not included.
"""

from __future__ import annotations

from dataclasses import dataclass

from s2svpn.skus import SKUS

HOURS_PER_MONTH = 730
INCLUDED_TUNNELS = 10
EXTRA_TUNNEL_USD_HOUR = 0.015
PUBLIC_IP_USD_HOUR = 0.005  # Standard static public IPv4
PRICE_SOURCE = (
    "Azure VPN Gateway pricing page, pay-as-you-go USD list prices "
    "(https://azure.microsoft.com/pricing/details/vpn-gateway/); only VpnGw1 $0.19/h is a "
    "confirmed anchor, the other rows were transcribed by hand and may be out of date. "
    "AZ SKUs are priced like their non-AZ counterparts since the 2025 SKU consolidation. "
    "Egress data transfer is not included."
)
PRICE_AS_OF = "2026-11"

HOURLY_USD: dict[str, float] = {
    "Basic": 0.04,
    "VpnGw1": 0.19,
    "VpnGw2": 0.49,
    "VpnGw3": 1.25,
    "VpnGw4": 2.10,
    "VpnGw5": 3.65,
    "VpnGw1AZ": 0.19,
    "VpnGw2AZ": 0.49,
    "VpnGw3AZ": 1.25,
    "VpnGw4AZ": 2.10,
    "VpnGw5AZ": 3.65,
}


@dataclass(frozen=True)
class CostEstimate:
    sku: str
    tunnels: int
    hourly_usd: float
    monthly_usd: float
    lines: tuple[tuple[str, float], ...]  # (what, USD per month)
    source: str
    as_of: str
    is_estimate: bool = True


def parse_overrides(text: str) -> dict[str, float]:
    """``"VpnGw1AZ=0.19, VpnGw2AZ=0.49"`` -> ``{"VpnGw1AZ": 0.19, "VpnGw2AZ": 0.49}``.

    Keys are SKU names or ``extra_tunnel`` / ``public_ip`` (USD per hour). Raises ValueError
    naming the bad entry.
    """
    out: dict[str, float] = {}
    for item in (part.strip() for part in str(text or "").split(",")):
        if not item:
            continue
        key, sep, value = (x.strip() for x in item.partition("="))
        if not sep or not key:
            raise ValueError(
                f"Price override {item!r} is not KEY=USD_PER_HOUR; write e.g. VpnGw1AZ=0.19."
            )
        if key not in SKUS and key not in ("extra_tunnel", "public_ip"):
            raise ValueError(
                f"Price override {key!r} is not a SKU name (e.g. VpnGw1AZ) nor extra_tunnel / "
                "public_ip; fix the name."
            )
        try:
            price = float(value)
        except ValueError:
            raise ValueError(
                f"Price override {item!r} has no number after '='; write e.g. {key}=0.19."
            ) from None
        if not price >= 0 or price == float("inf"):
            raise ValueError(
                f"Price override {item!r} must be a non-negative number of USD per hour."
            )
        out[key] = price
    return out


def estimate(
    sku: str,
    tunnels: int = 1,
    active_active: bool = False,
    overrides: dict[str, float] | None = None,
) -> CostEstimate:
    """Estimate the hourly and monthly (730 h) USD cost of one gateway with ``tunnels`` S2S tunnels.

    Active-active costs the same gateway price plus a second Standard public IP.
    """
    overrides = overrides or {}
    if sku not in SKUS:
        raise ValueError(f"No price for unknown SKU {sku!r}; use one of {', '.join(sorted(SKUS))}.")
    info = SKUS[sku]
    if isinstance(tunnels, bool) or not isinstance(tunnels, int) or tunnels < 1:
        raise ValueError(f"Tunnel count {tunnels!r} must be a whole number of at least 1.")
    if tunnels > info.tunnels:
        raise ValueError(
            f"{sku} carries at most {info.tunnels} site-to-site tunnels, not {tunnels}; pick a larger SKU."
        )
    if active_active and not info.active_active:
        raise ValueError(f"{sku} cannot run active-active; pick VpnGw1AZ or larger.")
    gateway = overrides.get(sku, HOURLY_USD[sku])
    tunnel_rate = overrides.get("extra_tunnel", EXTRA_TUNNEL_USD_HOUR)
    ip_rate = overrides.get("public_ip", PUBLIC_IP_USD_HOUR)
    extra = max(0, tunnels - INCLUDED_TUNNELS) if sku != "Basic" else 0
    ips = 2 if active_active else 1
    hourly_parts = [
        (f"{sku} gateway ({HOURS_PER_MONTH} h x ${gateway:g}/h)", gateway),
        (
            f"{extra} tunnel(s) beyond the {INCLUDED_TUNNELS} included (x ${tunnel_rate:g}/h)",
            extra * tunnel_rate,
        ),
        (f"{ips} Standard public IP(s) (x ${ip_rate:g}/h)", ips * ip_rate),
    ]
    hourly = sum(h for _, h in hourly_parts)
    lines = tuple((label, round(h * HOURS_PER_MONTH, 2)) for label, h in hourly_parts)
    return _estimate(sku, tunnels, hourly, lines, bool(overrides))


def added_tunnel(
    sku: str, tunnels_before: int, overrides: dict[str, float] | None = None
) -> CostEstimate:
    """What one more site-to-site tunnel (connection) on an existing gateway adds per month.

    The gateway and its public IPs are billed already (whoever built them); a connection is free
    within the SKU's included tunnels and costs the extra-tunnel rate beyond them (same pricing
    page as :func:`estimate`; Basic has no extra tunnels to buy). ``tunnels_before``: the
    gateway's connections before this site's.
    """
    overrides = overrides or {}
    if sku not in SKUS:
        raise ValueError(f"No price for unknown SKU {sku!r}; use one of {', '.join(sorted(SKUS))}.")
    after = max(0, int(tunnels_before)) + 1
    if after > SKUS[sku].tunnels:
        raise ValueError(
            f"{sku} carries at most {SKUS[sku].tunnels} site-to-site tunnels and already has "
            f"{tunnels_before}; resize the gateway (in Azure) or choose another VNet."
        )
    rate = overrides.get("extra_tunnel", EXTRA_TUNNEL_USD_HOUR)
    billed = sku != "Basic" and after > INCLUDED_TUNNELS
    hourly = rate if billed else 0.0
    label = (
        f"this site's tunnel, number {after} on the gateway, beyond the {INCLUDED_TUNNELS} "
        f"included (x ${rate:g}/h)"
        if billed
        else f"this site's tunnel, number {after} on the gateway, within the "
        f"{INCLUDED_TUNNELS} included"
    )
    lines = (
        ("the shared VPN gateway and its public IP(s): billed already, not added", 0.0),
        (label, round(hourly * HOURS_PER_MONTH, 2)),
    )
    return _estimate(sku, after, hourly, lines, bool(overrides))


def _estimate(
    sku: str, tunnels: int, hourly: float, lines: tuple, overridden: bool
) -> CostEstimate:
    """The estimate for ``hourly`` USD, naming where the prices came from."""
    source = PRICE_SOURCE
    if overridden:
        source = (
            "Prices overridden in settings (S2SVPN_PRICE_OVERRIDES) where given; otherwise "
            + source
        )
    return CostEstimate(
        sku=sku,
        tunnels=tunnels,
        hourly_usd=round(hourly, 4),
        monthly_usd=round(hourly * HOURS_PER_MONTH, 2),
        lines=lines,
        source=source,
        as_of=PRICE_AS_OF,
        is_estimate=True,
    )
