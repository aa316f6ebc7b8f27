"""SKU and generation rules."""

from __future__ import annotations

import pytest

from s2svpn.skus import DEFAULT_SKU, SKUS, SkuError, validate_sku


def refusal(*args, **kwargs) -> SkuError:
    with pytest.raises(SkuError) as info:
        validate_sku(*args, **kwargs)
    return info.value


def test_the_default_sku_is_vpngw1az_in_generation1():
    assert DEFAULT_SKU == "VpnGw1AZ"
    validate_sku("VpnGw1AZ", "Generation1")
    assert SKUS["VpnGw1AZ"].recommended and SKUS["VpnGw1AZ"].az


@pytest.mark.parametrize(
    ("sku", "generation"),
    [
        ("VpnGw2AZ", "Generation1"),
        ("VpnGw2AZ", "Generation2"),
        ("VpnGw3AZ", "Generation2"),
        ("VpnGw5AZ", "Generation2"),
    ],
)
def test_valid_pairs_are_accepted(sku, generation):
    validate_sku(sku, generation)


def test_vpngw1_exists_only_in_generation1():
    err = refusal("VpnGw1AZ", "Generation2")
    assert err.field == "generation"
    assert str(err) == (
        "VpnGw1AZ exists only in Generation1, not Generation2; pick Generation1 or another SKU "
        "(VpnGw1 is Gen1 only, VpnGw2/3 both, VpnGw4/5 Gen2 only)."
    )


def test_vpngw4_exists_only_in_generation2():
    assert "VpnGw4AZ exists only in Generation2, not Generation1" in str(
        refusal("VpnGw4AZ", "Generation1")
    )


def test_it_refuses_basic_because_it_has_no_bgp():
    assert str(refusal("Basic", "Generation1")) == (
        "The Basic SKU has no BGP and no custom IPsec policy, which this tunnel needs; use VpnGw1AZ."
    )


def test_it_refuses_legacy_non_az_skus_unless_adopting():
    assert "use VpnGw2AZ instead" in str(refusal("VpnGw2", "Generation2"))
    validate_sku("VpnGw2", "Generation2", allow_legacy=True)


def test_it_refuses_unknown_skus_and_generations():
    assert str(refusal("VpnGw9", "Generation1")).startswith(
        "VPN gateway SKU 'VpnGw9' is unknown; use one of Basic,"
    )
    assert str(refusal("VpnGw1AZ", "Gen1")) == (
        "Gateway generation 'Gen1' is unknown; use Generation1 or Generation2."
    )


def test_throughput_depends_on_the_generation():
    assert SKUS["VpnGw2AZ"].throughput("Generation1") == 1000
    assert SKUS["VpnGw2AZ"].throughput("Generation2") == 1250
    assert SKUS["VpnGw1AZ"].throughput("Generation2") is None


def test_tunnel_limits_follow_the_sku_table():
    assert [SKUS[s].tunnels for s in ("Basic", "VpnGw1AZ", "VpnGw3AZ", "VpnGw4AZ", "VpnGw5AZ")] == [
        10,
        30,
        30,
        100,
        100,
    ]
