"""The Azure Resource Manager stand-in (see :mod:`s2svpn.sandbox.arm.sandbox`)."""

from __future__ import annotations

from s2svpn.sandbox.arm.sandbox import PROFILES, ArmSandbox, SandboxFaults, SandboxTiming
from s2svpn.sandbox.arm.store import API_VERSION, SUBSCRIPTION_ID

__all__ = [
    "API_VERSION",
    "PROFILES",
    "SUBSCRIPTION_ID",
    "ArmSandbox",
    "SandboxFaults",
    "SandboxTiming",
]
