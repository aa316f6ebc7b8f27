"""Shared by the off-the-canonical-path tests (issue #15): a firewall that already runs BGP, and
what the ARM sandbox was asked to change."""

from __future__ import annotations

from pathlib import Path

from wizard.models import Site
from wizard.services import pfsense_client

WRITES = ("PUT", "PATCH", "POST", "DELETE")


def firewall_runs_bgp_as(site: Site, asn: int) -> None:
    """FRR on the site's pfSense already speaks BGP as ``asn`` (another site, or the owner)."""
    pf = pfsense_client(site)
    sections = pf.read_frr_sections()
    sections["frr"] = {**(sections.get("frr") or {}), "enable": "on", "password": "frr-master"}
    sections["frrbgp"] = {
        **(sections.get("frrbgp") or {}),
        "enable": "on",
        "asnum": str(asn),
        "routerid": "10.0.0.1",
    }
    pf.write_frr(sections)
    pf.frr_generate_config()


def draft_at_review(site: Site) -> Site:
    """A draft whose wizard has reached the review (every answer given)."""
    site.wizard_step = "review"
    site.save(update_fields=["wizard_step"])
    return site


def azure_writes(boxes, since: int = 0) -> list[tuple[str, str]]:
    """The ARM sandbox's write requests (method, path) from call number ``since`` on; a POST that
    only reads (BGP tables, the shared key) is not one."""
    return [
        (method, path)
        for method, path in boxes.arm.calls[since:]
        if method in WRITES
        and not path.lower().endswith(
            ("/getbgppeerstatus", "/getlearnedroutes", "/getadvertisedroutes")
        )
    ]


def on_firewall(site: Site, box) -> Site:
    """Point the site at another pfSense sandbox (a second home's firewall)."""
    site.pfsense_url = box.base_url
    site.pfsense_ca_bundle = Path(box.ca_file).read_text()
    site.save(update_fields=["pfsense_url", "pfsense_ca_bundle"])
    return site
