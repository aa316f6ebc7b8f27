"""Models: see the module docstring of each class."""

from __future__ import annotations
