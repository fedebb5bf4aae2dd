"""The Printernizer Usage Statistics integration."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_utc_time_change
from homeassistant.helpers.typing import ConfigType
from homeassistant.loader import async_get_integration

from .const import CONF_URL, DOMAIN, EVENT_PRINTERNIZER_STATS
from .coordinator import (
    PrinternizerStatsConfigEntry,
    PrinternizerStatsCoordinator,
    PrinternizerStatsRuntimeData,
)
from .printernizer import PrinternizerClient
from .recorder import EventRecorder
from .services import async_setup_services
from .storage import PrinternizerStatsStorage
from .submission import SubmissionManager

PLATFORMS = [Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions (they exist even while no entry is loaded)."""
    async_setup_services(hass)
    return True


async def async_setup_entry(
    hass: HomeAssistant, entry: PrinternizerStatsConfigEntry
) -> bool:
    """Load the counters, start recording, then start polling and the scheduler.

    Setup succeeds even when Printernizer is unreachable: recording from the
    bus and the action must never depend on it.
    """
    storage = PrinternizerStatsStorage(hass)
    await storage.async_load()
    recorder = EventRecorder(hass, storage)
    recorder.async_prune()
    coordinator = PrinternizerStatsCoordinator(
        hass,
        entry,
        client=PrinternizerClient(async_get_clientsession(hass), entry.data[CONF_URL]),
        recorder=recorder,
        storage=storage,
    )
    integration = await async_get_integration(hass, DOMAIN)
    submission = SubmissionManager(
        hass, entry, storage, integration_version=str(integration.version or "0")
    )
    await submission.async_apply_consent()
    entry.runtime_data = PrinternizerStatsRuntimeData(
        storage=storage,
        recorder=recorder,
        coordinator=coordinator,
        submission=submission,
    )
    recorder.listeners.append(coordinator.async_update_listeners)
    submission.listeners.append(coordinator.async_update_listeners)
    entry.async_on_unload(
        hass.bus.async_listen(EVENT_PRINTERNIZER_STATS, recorder.async_handle_bus_event)
    )
    entry.async_on_unload(
        async_track_utc_time_change(
            hass, recorder.async_prune, hour=0, minute=5, second=0
        )
    )
    entry.async_on_unload(submission.async_stop)
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))

    # Never raises: until Printernizer answers, only its values are unavailable.
    await coordinator.async_refresh()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    submission.async_start()
    return True


async def _async_options_updated(
    hass: HomeAssistant, entry: PrinternizerStatsConfigEntry
) -> None:
    """Consent or submission settings changed: reload to apply them."""
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(
    hass: HomeAssistant, entry: PrinternizerStatsConfigEntry
) -> bool:
    """Unload the sensors and write what is still pending to disk."""
    unload_ok = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unload_ok:
        entry.runtime_data.recorder.async_stop()
        await entry.runtime_data.storage.async_flush()
    return unload_ok


async def async_remove_entry(
    hass: HomeAssistant, entry: PrinternizerStatsConfigEntry
) -> None:
    """The user removed the integration: remove its statistics file too."""
    await PrinternizerStatsStorage(hass).async_remove()
