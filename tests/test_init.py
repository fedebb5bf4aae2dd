"""Tests for setting up, unloading and reloading the integration."""

from __future__ import annotations

from datetime import timedelta
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    get_scheduled_timer_handles,
)

from custom_components.printernizer_stats.const import DOMAIN, EVENT_PRINTERNIZER_STATS
from simulator.printernizer import PrinternizerSimulator

from .conftest import advance

PRINTERS = "sensor.printernizer_usage_statistics_printers"
JOBS_COMPLETED = "sensor.printernizer_usage_statistics_jobs_completed"


def _our_timers(hass: HomeAssistant) -> list[str]:
    """Timer handles that belong to this integration."""
    return [
        repr(handle)
        for handle in get_scheduled_timer_handles(hass.loop)
        if "printernizer_stats" in repr(handle) and not handle.cancelled()
    ]


async def test_load_unload_reload(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Unloading leaves no listener or timer behind; a reload works."""
    entry = init_integration
    assert entry.state is ConfigEntryState.LOADED
    listeners_loaded = hass.bus.async_listeners().get(EVENT_PRINTERNIZER_STATS, 0)
    assert listeners_loaded == 1
    assert _our_timers(hass)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert hass.bus.async_listeners().get(EVENT_PRINTERNIZER_STATS, 0) == 0
    assert _our_timers(hass) == []

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.bus.async_listeners().get(EVENT_PRINTERNIZER_STATS, 0) == 1

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.bus.async_listeners().get(EVENT_PRINTERNIZER_STATS, 0) == 1


async def test_setup_while_printernizer_down(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    printernizer: PrinternizerSimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Setup succeeds, recording works, Printernizer values are unavailable; logged once each way."""
    printernizer.available = False
    caplog.set_level(logging.INFO, logger="custom_components.printernizer_stats")
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert hass.states.get(PRINTERS).state == STATE_UNAVAILABLE

    hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": "job_completed"})
    await hass.async_block_till_done()
    assert hass.states.get(JOBS_COMPLETED).state == "1"

    for _ in range(3):
        await advance(hass, freezer, timedelta(seconds=61))
    printernizer.available = True
    for _ in range(2):
        await advance(hass, freezer, timedelta(seconds=61))
    assert hass.states.get(PRINTERS).state == "4"

    went = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and DOMAIN in r.getMessage()
    ]
    came_back = [r for r in caplog.records if "recovered" in r.getMessage()]
    assert len(went) == 1
    assert len(came_back) == 1
