"""Every refusal of the domain core is one kind of error: an InputError whose message is shown as
it is and whose ``field`` names the SiteIntent field a form puts it next to."""

from __future__ import annotations

import pytest

from s2svpn import asn, dns, ipsec, netplan, psk, skus
from s2svpn.clients.errors import ClientError
from s2svpn.errors import InputError, Refusal


@pytest.mark.parametrize(
    ("refuse", "kind", "field"),
    [
        (lambda: asn.validate_asn(65515, "onprem"), asn.AsnError, "onprem_asn"),
        (
            lambda: netplan.validate_gateway_subnet("172.16.19.0/30", ["172.16.0.0/16"]),
            netplan.AddressError,
            "gateway_subnet_prefix",
        ),
        (lambda: ipsec.validate_dpd_timeout(1), ipsec.PolicyError, "dpd_timeout_seconds"),
        (lambda: skus.validate_sku("Basic", skus.GEN1), skus.SkuError, "sku"),
        (lambda: psk.validate_psk("short-key"), psk.PskError, "psk"),
        (lambda: dns.validate_fqdn("not a name"), dns.DnsError, "onprem_fqdn"),
    ],
)
def test_each_refusal_is_an_input_error_with_its_message_and_field(refuse, kind, field):
    with pytest.raises(InputError) as info:
        refuse()
    err = info.value
    assert type(err) is kind and isinstance(err, ValueError)
    assert str(err) == err.message and err.message
    assert err.field == field


def test_a_client_error_has_the_same_shape_plus_permanence():
    err = ClientError("Azure refused it.", permanent=True, code="X")
    assert isinstance(err, Refusal) and not isinstance(err, InputError)
    assert str(err) == err.message == "Azure refused it." and err.permanent is True
