"""The lab: s2svpn's own configurations on real strongSwan and FRR in network namespaces.

* ``render``   — pure text: pfSense's swanctl.conf/frr.conf from ``PfSenseDesired``, the Azure
  end's from an ``AzureEnd`` (Azure's documented behaviour).
* ``harness``  — ``Lab``: namespaces az / inet / nat / onprem, one charon (kernel-libipsec) and one
  FRR per end, everything under one per-run directory, teardown by PID.
* ``scenario`` — ``LabCase`` / ``run_case`` / ``world_view``: run a site for real and compare with
  ``World``'s verdict.

Linux only, needs root, ``/dev/net/tun`` and the packages strongswan-charon strongswan-swanctl
libcharon-extra-plugins libstrongswan-standard-plugins frr nftables iproute2 (``harness.missing_requirements()`` says what is
missing). Recipe and pitfalls: shared/reference/lab/README.md.
"""

from __future__ import annotations
