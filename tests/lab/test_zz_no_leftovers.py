"""Runs last in the lab suite: nothing the lab started may survive it."""

from __future__ import annotations

import pytest

from s2svpn.lab.harness import lab_namespaces, lab_processes

pytestmark = pytest.mark.lab


def test_no_lab_process_and_no_lab_namespace_remains(lab_ready):
    assert lab_processes() == []
    assert lab_namespaces() == []
