"""What a step function returns, and how a plan describes a step (no engine, no Django).

Kept apart from the engine so the step code and the engine both import these types and neither
imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wizard.context import StepContext


@dataclass
class Done:
    message: str = ""
    resource_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Wait:
    seconds: float
    message: str = ""
    eta_seconds: float | None = None  # remaining time to show the user (the gateway build)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepSpec:
    key: str
    end: str  # azure | pfsense | both
    title: str
    fn: Callable[[StepContext], Done | Wait]
    depends_on: tuple[str, ...] = ()
