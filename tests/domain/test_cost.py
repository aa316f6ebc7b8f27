"""Monthly cost estimates."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s2svpn.cost import HOURS_PER_MONTH, estimate, parse_overrides


def test_vpngw1_with_one_tunnel_costs_the_anchor_price_plus_one_public_ip():
    est = estimate("VpnGw1")
    assert est.hourly_usd == pytest.approx(0.19 + 0.005)
    assert est.monthly_usd == pytest.approx(0.195 * 730)
    assert est.lines[0] == ("VpnGw1 gateway (730 h x $0.19/h)", 138.7)
    assert est.is_estimate and est.source and est.as_of


def test_ten_tunnels_are_included_and_the_eleventh_costs_extra():
    assert estimate("VpnGw1AZ", tunnels=10).hourly_usd == estimate("VpnGw1AZ", tunnels=1).hourly_usd
    eleven = estimate("VpnGw1AZ", tunnels=11)
    assert eleven.hourly_usd == pytest.approx(0.19 + 0.015 + 0.005)
    assert (
        "1 tunnel(s) beyond the 10 included (x $0.015/h)",
        round(0.015 * 730, 2),
    ) in eleven.lines


def test_active_active_adds_a_second_public_ip():
    assert estimate("VpnGw1AZ", active_active=True).hourly_usd == pytest.approx(0.19 + 2 * 0.005)


def test_the_source_says_it_is_an_estimate_and_names_the_pricing_page():
    est = estimate("VpnGw2AZ")
    assert "azure.microsoft.com/pricing/details/vpn-gateway" in est.source
    assert "only VpnGw1 $0.19/h is a confirmed anchor" in est.source


def test_overrides_replace_the_table_and_say_so():
    est = estimate("VpnGw2AZ", overrides=parse_overrides("VpnGw1AZ=0.19,VpnGw2AZ=0.5, public_ip=0"))
    assert est.hourly_usd == pytest.approx(0.5)
    assert est.source.startswith("Prices overridden in settings")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "VpnGw1AZ",
            "Price override 'VpnGw1AZ' is not KEY=USD_PER_HOUR; write e.g. VpnGw1AZ=0.19.",
        ),
        (
            "VpnGw9=1",
            "Price override 'VpnGw9' is not a SKU name (e.g. VpnGw1AZ) nor extra_tunnel / public_ip; fix the name.",
        ),
        (
            "VpnGw1AZ=cheap",
            "Price override 'VpnGw1AZ=cheap' has no number after '='; write e.g. VpnGw1AZ=0.19.",
        ),
        (
            "VpnGw1AZ=-1",
            "Price override 'VpnGw1AZ=-1' must be a non-negative number of USD per hour.",
        ),
    ],
)
def test_bad_overrides_are_refused_with_a_plain_message(text, message):
    with pytest.raises(ValueError) as info:
        parse_overrides(text)
    assert str(info.value) == message


def test_an_empty_override_string_means_no_overrides():
    assert parse_overrides("") == {} and parse_overrides(" , ") == {}


def test_it_refuses_more_tunnels_than_the_sku_carries():
    with pytest.raises(
        ValueError, match="VpnGw1AZ carries at most 30 site-to-site tunnels, not 31"
    ):
        estimate("VpnGw1AZ", tunnels=31)


def test_it_refuses_unknown_skus_and_zero_tunnels():
    with pytest.raises(ValueError, match="No price for unknown SKU 'VpnGw9'"):
        estimate("VpnGw9")
    with pytest.raises(ValueError, match="must be a whole number of at least 1"):
        estimate("VpnGw1AZ", tunnels=0)


def test_basic_cannot_be_active_active():
    with pytest.raises(ValueError, match="Basic cannot run active-active"):
        estimate("Basic", active_active=True)


@given(
    st.sampled_from(["VpnGw1AZ", "VpnGw2AZ", "VpnGw3AZ"]),
    st.integers(min_value=1, max_value=30),
    st.booleans(),
)
def test_the_monthly_figure_is_the_sum_of_its_lines(sku, tunnels, aa):
    est = estimate(sku, tunnels, aa)
    assert sum(v for _, v in est.lines) == pytest.approx(est.monthly_usd, abs=0.02)
    assert est.monthly_usd == pytest.approx(est.hourly_usd * HOURS_PER_MONTH, abs=0.05)
