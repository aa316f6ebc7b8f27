"""The ARM sandbox at Azure's pace: BGP reads that take tens of seconds behind ``Retry-After``,
ARM's token-bucket throttling with its rate-limit headers, and a time scale that compresses both.

The sandbox's clock is moved by hand (``sb.clock``): nothing here waits or measures wall time.
"""

from __future__ import annotations

import http.client
import ssl

import pytest

from s2svpn.sandbox.arm import ArmSandbox
from s2svpn.sandbox.arm.throttle import ThrottleLimits

from .conftest import client_for, provision, seed_site

API = "?api-version=2026-03-01"
BEARER = {"authorization": "Bearer t"}


@pytest.fixture
def paced(tmp_path):
    """A provisioned canonical site, then Azure's BGP pace (30 s reads, Retry-After: 10) on a
    clock that moves only when the test says so."""
    with ArmSandbox(tmp_path, profile="fast") as sb:
        intent = seed_site(sb)
        client = client_for(sb)
        provision(client, intent)
        now = [sb.clock()]
        sb.clock = lambda: now[0]
        sb.timing.bgp_read_seconds, sb.timing.bgp_retry_after = 30.0, 10.0
        yield sb, client, intent, now
        client.close()


def test_bgp_reads_answer_202_with_retry_after_and_finish_after_their_delay(paced):
    _, client, intent, now = paced
    reads = client.start_bgp_reads(intent)  # the real SDK's POSTs
    assert {name: item["retry_after"] for name, item in reads.items()} == {
        "peers": 10.0,
        "learned": 10.0,
        "advertised": 10.0,
    }
    now[0] += 29
    assert client.collect_bgp_reads(reads) is None  # still running
    assert all(item["retry_after"] == 10.0 for item in reads.values())  # said again on each 202
    now[0] += 1
    result = client.collect_bgp_reads(reads)
    assert [p.neighbor for p in result["peers"]] == ["10.0.0.1"]
    assert result["advertised"]


def test_the_status_url_of_a_bgp_read_also_asks_to_wait(paced):
    sb, _, intent, now = paced
    gw = (
        f"/subscriptions/{sb.subscription_id}/resourceGroups/{intent.resource_group}"
        f"/providers/Microsoft.Network/virtualNetworkGateways/{intent.gateway_name}"
    )
    status, headers, _ = sb.handle("POST", f"{gw}/getBgpPeerStatus{API}", BEARER, b"")
    assert status == 202 and headers["Retry-After"] == "10"
    status_url = headers["Azure-AsyncOperation"].split(sb.base_url, 1)[1]
    _, headers, body = sb.handle("GET", status_url, BEARER, b"")
    assert body["status"] == "InProgress" and headers["Retry-After"] == "10"
    now[0] += 30
    _, headers, body = sb.handle("GET", status_url, BEARER, b"")
    assert body["status"] == "Succeeded" and "Retry-After" not in headers


def test_a_time_scale_compresses_the_same_pace(paced):
    sb, client, intent, now = paced
    sb.timing.time_scale = 0.01
    reads = client.start_bgp_reads(intent)  # the SDK and the client take the compressed wait
    assert reads["peers"]["retry_after"] == pytest.approx(0.1)
    gw = (
        f"/subscriptions/{sb.subscription_id}/resourceGroups/{intent.resource_group}"
        f"/providers/Microsoft.Network/virtualNetworkGateways/{intent.gateway_name}"
    )
    _, headers, _ = sb.handle("POST", f"{gw}/getLearnedRoutes{API}", BEARER, b"")
    assert headers["retry-after-ms"] == "100" and "Retry-After" not in headers
    now[0] += 0.29
    assert client.collect_bgp_reads(reads) is None
    now[0] += 0.01
    assert client.collect_bgp_reads(reads) is not None


def test_the_real_profile_runs_at_azures_pace_and_throttles(tmp_path):
    real = ArmSandbox(tmp_path / "real", profile="real")
    assert (real.timing.bgp_seconds(), real.timing.bgp_retry_after) == (30.0, 10.0)
    assert real.throttle.enabled
    default = ArmSandbox(tmp_path / "default", profile="default")
    assert default.timing.bgp_retry_after == 0 and not default.throttle.enabled


@pytest.fixture
def throttled(tmp_path):
    sb = ArmSandbox(tmp_path, profile="fast")
    sb.seed_vnet("rg", "vnet", "westeurope", ["172.16.0.0/16"])
    now = [1_000.0]
    sb.clock = lambda: now[0]
    sb.throttle.enabled = True
    sb.throttle.limits = ThrottleLimits(reads=(3, 1.0), writes=(2, 1.0), deletes=(1, 0.5))
    return sb, now


def _call(sb, method, path="/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet"):
    return sb.respond(method, f"/subscriptions/{sb.subscription_id}{path}{API}", BEARER, b"")


def test_reads_spend_a_token_each_and_say_what_is_left(throttled):
    sb, _ = throttled
    left = [_call(sb, "GET").headers for _ in range(3)]
    assert [h["x-ms-ratelimit-remaining-subscription-global-reads"] for h in left] == [
        "2",
        "1",
        "0",
    ]


def test_an_empty_bucket_answers_429_with_retry_after_until_it_refills(throttled):
    sb, now = throttled
    for _ in range(3):
        assert _call(sb, "GET").status == 200
    refused = _call(sb, "GET")
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["x-ms-ratelimit-remaining-subscription-global-reads"] == "0"
    assert b'"SubscriptionRequestsThrottled"' in refused.body
    assert b"Number of 'read' requests for subscription" in refused.body
    assert sb.throttle.throttled == 1
    now[0] += 1  # one token back at 1 per second
    assert _call(sb, "GET").status == 200
    assert _call(sb, "GET").status == 429


def test_writes_and_deletes_have_buckets_of_their_own(throttled):
    sb, _ = throttled
    for _ in range(3):
        _call(sb, "GET")
    assert _call(sb, "GET").status == 429  # reads are spent ...
    put = _call(sb, "PUT", "/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/p")
    assert put.status != 429  # ... writes are not
    assert put.headers["x-ms-ratelimit-remaining-subscription-global-writes"] == "1"
    gone = _call(sb, "DELETE", "/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/p")
    assert gone.headers["x-ms-ratelimit-remaining-subscription-global-deletes"] == "0"
    again = _call(
        sb, "DELETE", "/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/p"
    )
    assert again.status == 429 and again.headers["Retry-After"] == "2"  # 0.5 per second


def test_each_subscription_has_its_own_buckets(throttled):
    sb, _ = throttled
    for _ in range(4):
        _call(sb, "GET")
    other = sb.respond("GET", f"/subscriptions/0000/resourceGroups/rg{API}", BEARER, b"")
    assert other.status == 404  # its own bucket is full: ARM answers for the subscription
    assert other.headers["x-ms-ratelimit-remaining-subscription-global-reads"] == "2"


def test_throttling_at_a_compressed_time_scale_refills_faster_and_says_so(throttled):
    sb, now = throttled
    sb.timing.time_scale = 0.01
    for _ in range(3):
        _call(sb, "GET")
    refused = _call(sb, "GET")
    assert refused.status == 429 and refused.headers["retry-after-ms"] == "10"
    now[0] += 0.01
    assert _call(sb, "GET").status == 200


def test_the_rate_limit_header_reaches_the_wire(tmp_path):
    with ArmSandbox(tmp_path, profile="real") as sb:
        sb.seed_vnet("rg", "vnet", "westeurope", ["172.16.0.0/16"])
        context = ssl.create_default_context(cafile=str(sb.ca_file))
        conn = http.client.HTTPSConnection("127.0.0.1", sb.port, context=context)
        try:
            path = f"/subscriptions/{sb.subscription_id}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet{API}"
            conn.request("GET", path, headers={"Authorization": "Bearer t"})
            response = conn.getresponse()
            response.read()
        finally:
            conn.close()
    assert response.status == 200
    assert response.getheader("x-ms-ratelimit-remaining-subscription-global-reads") == "249"


def test_the_sdk_waits_out_a_throttled_read_and_carries_on(tmp_path):
    """A client over its budget is slowed by 429 + retry-after-ms (compressed time), not failed."""
    with ArmSandbox(tmp_path, profile="fast") as sb:
        intent = seed_site(sb)
        sb.throttle.enabled = True
        sb.throttle.limits = ThrottleLimits(reads=(2, 1.0))
        sb.timing.time_scale = 0.2  # a token every 200 ms: six quick reads must wait for some
        client = client_for(sb)
        try:
            vnets = [client.get_vnet(intent.resource_group, intent.vnet_name) for _ in range(6)]
        finally:
            client.close()
    assert {v.name for v in vnets} == {intent.vnet_name}
    assert sb.throttle.throttled >= 1
