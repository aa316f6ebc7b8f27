"""Azure VPN gateway SKUs and generations: what each can do.

Pure. Source: the SKU table of the Azure docs (06/2026) as summarised in reference/azure.md
section 6, https://learn.microsoft.com/azure/vpn-gateway/about-gateway-skus and
https://learn.microsoft.com/azure/vpn-gateway/gateway-sku-consolidation (non-AZ SKUs are being
migrated and should not be used for new gateways).
"""

from __future__ import annotations

from dataclasses import dataclass

from s2svpn.errors import InputError

GEN1 = "Generation1"
GEN2 = "Generation2"
DEFAULT_SKU = "VpnGw1AZ"


class SkuError(InputError):
    """A SKU/generation this app cannot create; ``field`` is ``sku`` or ``generation``."""

    field = "sku"


@dataclass(frozen=True)
class Sku:
    name: str
    generations: tuple[str, ...]
    tunnels: int  # maximum S2S tunnels
    throughput_mbps: tuple[tuple[str, int], ...]  # (generation, aggregate Mbps)
    bgp: bool = True
    active_active: bool = True
    custom_policy: bool = True
    az: bool = False  # zone-redundant
    legacy: bool = False  # not for new gateways
    recommended: bool = False

    def throughput(self, generation: str) -> int | None:
        return dict(self.throughput_mbps).get(generation)


def _vpngw(
    n: int, gens: tuple[str, ...], tunnels: int, tp: tuple[tuple[str, int], ...]
) -> list[Sku]:
    return [
        Sku(f"VpnGw{n}AZ", gens, tunnels, tp, az=True, recommended=n == 1),
        Sku(f"VpnGw{n}", gens, tunnels, tp, legacy=True),
    ]


SKUS: dict[str, Sku] = {
    s.name: s
    for s in [
        Sku(
            "Basic",
            (GEN1,),
            10,
            ((GEN1, 100),),
            bgp=False,
            active_active=False,
            custom_policy=False,
            legacy=True,
        ),
        *_vpngw(1, (GEN1,), 30, ((GEN1, 650),)),
        *_vpngw(2, (GEN1, GEN2), 30, ((GEN1, 1000), (GEN2, 1250))),
        *_vpngw(3, (GEN1, GEN2), 30, ((GEN1, 1250), (GEN2, 2500))),
        *_vpngw(4, (GEN2,), 100, ((GEN2, 5000),)),
        *_vpngw(5, (GEN2,), 100, ((GEN2, 10000),)),
    ]
}


def validate_sku(sku: str, generation: str, *, allow_legacy: bool = False) -> None:
    """Raise :class:`SkuError` unless ``sku`` in ``generation`` can carry this app's tunnel.

    The tunnel needs BGP and a custom IPsec policy, so Basic is refused. Non-AZ ``VpnGwN`` are
    refused for new gateways (``allow_legacy=True`` when adopting an existing one).
    """
    if sku not in SKUS:
        raise SkuError(
            f"VPN gateway SKU {sku!r} is unknown; use one of {', '.join(sorted(SKUS))} "
            f"({DEFAULT_SKU} is the usual choice).",
        )
    info = SKUS[sku]
    if generation not in (GEN1, GEN2):
        raise SkuError(
            f"Gateway generation {generation!r} is unknown; use Generation1 or Generation2.",
            "generation",
        )
    if not info.bgp:
        raise SkuError(
            f"The {sku} SKU has no BGP and no custom IPsec policy, which this tunnel needs; use "
            f"{DEFAULT_SKU}.",
        )
    if info.legacy and not allow_legacy:
        raise SkuError(
            f"Non-zone-redundant {sku} is being retired by Azure and should not be used for new "
            f"gateways; use {sku}AZ instead (same size, zone-redundant).",
        )
    if generation not in info.generations:
        gens = " or ".join(info.generations)
        raise SkuError(
            f"{sku} exists only in {gens}, not {generation}; pick {gens} or another SKU "
            "(VpnGw1 is Gen1 only, VpnGw2/3 both, VpnGw4/5 Gen2 only).",
            "generation",
        )
