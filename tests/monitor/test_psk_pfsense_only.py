"""PSK changed on the pfSense end only (issue #15): Azure's key still matches the site's, pfSense's
cannot be read back (the REST API hides it), yet the diagnosis names a likely pre-shared key
mismatch from pfSense's failing IKE SA and offers re-push; re-push always writes the key, and the
site is Healthy again."""

from __future__ import annotations

from monitor import poller
from monitor.models import Snapshot
from tests.monitor.sandbox_world import run_to_end
from wizard.models import RunKind, RunStatus
from wizard.services import pfsense_client


def poll(site) -> Snapshot:
    poller.run_cycle([site.pk])
    return Snapshot.objects.get(site=site)


def test_a_key_changed_on_pfsense_only_is_named_and_repush_restores_it(provisioned):
    site = provisioned
    assert poll(site).verdict == "healthy"
    pf = pfsense_client(site)
    pf.patch_phase1(site.get_intent().descr, {"pre_shared_key": "SomeoneTypedAnotherKey0123456789"})
    pf.apply_ipsec()

    snap = poll(site)
    assert snap.verdict != "healthy"
    findings = {f["code"]: f for f in snap.findings}
    assert "psk_mismatch" in findings, snap.findings
    assert (
        "pre-shared key"
        in (findings["psk_mismatch"]["title"] + findings["psk_mismatch"]["fix"]).lower()
    )
    assert findings["psk_mismatch"].get("action") == "repush"

    run = run_to_end(site, RunKind.PUSH)
    assert run.status == RunStatus.SUCCEEDED, run.error
    phase1 = run.steps.get(key="pf_phase1")
    assert "pre-shared key re-sent" in phase1.message
    for _ in range(3):
        snap = poll(site)
        if snap.verdict == "healthy":
            break
    assert snap.verdict == "healthy", snap.reason
