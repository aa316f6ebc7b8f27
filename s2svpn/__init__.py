"""s2svpn: route-based IKEv2 + BGP between a pfSense at home and an Azure VNet."""

from __future__ import annotations

__version__ = "0.1.0"
