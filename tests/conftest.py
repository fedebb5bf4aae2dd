"""Fixtures for the Printernizer Usage Statistics tests."""

from __future__ import annotations

# Import our package before Home Assistant's loader puts the test plugin's own
# `custom_components` (testing_config) first on sys.path.
import custom_components.printernizer_stats  # noqa: F401  # isort: skip

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components."""
