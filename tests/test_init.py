"""Tests for setting up, unloading and removing the integration."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.printernizer_stats.const import DOMAIN, EVENT_PRINTERNIZER_STATS
from simulator.printernizer import PrinternizerSimulator

from .conftest import publish, setup_entry

pytestmark = pytest.mark.freeze_time("2026-11-04 10:00:00+00:00")


async def test_load_unload_reload(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """The entry loads, unloads without leftovers, and reloads."""
    listeners_before = hass.bus.async_listeners().get(EVENT_PRINTERNIZER_STATS, 0)
    await setup_entry(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert hass.bus.async_listeners()[EVENT_PRINTERNIZER_STATS] == listeners_before + 1
    assert hass.states.get("sensor.printernizer_usage_statistics_printers").state == "3"

    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.NOT_LOADED
    assert (
        hass.bus.async_listeners().get(EVENT_PRINTERNIZER_STATS, 0) == listeners_before
    )
    scheduled = [
        handle
        for handle in hass.loop._scheduled  # type: ignore[attr-defined]
        if not handle.cancelled() and DOMAIN in repr(handle)
    ]
    assert scheduled == []

    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.LOADED


async def test_setup_while_printernizer_down(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    printernizer: PrinternizerSimulator,
) -> None:
    """Setup succeeds; only Printernizer's values are unavailable."""
    printernizer.available = False
    await setup_entry(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert (
        hass.states.get("sensor.printernizer_usage_statistics_printers").state
        == "unavailable"
    )
    hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": "job_completed"})
    await hass.async_block_till_done()
    publish(hass)
    assert (
        hass.states.get("sensor.printernizer_usage_statistics_jobs_completed").state
        == "1"
    )
