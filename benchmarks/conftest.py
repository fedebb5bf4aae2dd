"""Fixtures for the benchmarks."""

from __future__ import annotations

import custom_components.printernizer_stats  # noqa: F401  # isort: skip

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components."""
