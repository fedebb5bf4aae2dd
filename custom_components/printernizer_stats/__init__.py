"""The Printernizer Usage Statistics integration."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_utc_time_change
from homeassistant.helpers.typing import ConfigType
from homeassistant.loader import async_get_integration

from .const import (
    CONF_ENDPOINT,
    CONF_URL,
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    default_endpoint,
)
from .coordinator import (
    PrinternizerStatsConfigEntry,
    PrinternizerStatsCoordinator,
    PrinternizerStatsRuntimeData,
    deployment_mode,
)
from .intake import EventIntake
from .printernizer import PrinternizerClient
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
    """Load the stored data, start recording, then polling and the weekly report.

    Setup succeeds even when Printernizer is unreachable or the file is
    damaged: recording from the bus and the action must never depend on it.
    """
    storage = PrinternizerStatsStorage(hass)
    await storage.async_load(
        endpoint=entry.options.get(CONF_ENDPOINT) or default_endpoint()
    )
    client = PrinternizerClient(async_get_clientsession(hass), entry.data[CONF_URL])
    mode = deployment_mode(hass, client.base_url)
    integration = await async_get_integration(hass, DOMAIN)
    submission = SubmissionManager(
        hass,
        entry,
        storage,
        version=str(integration.version or "0"),
        deployment_mode=mode,
    )
    await submission.async_setup()
    intake = EventIntake(hass, storage)
    coordinator = PrinternizerStatsCoordinator(
        hass,
        entry,
        client=client,
        storage=storage,
        intake=intake,
        delivery_view=submission.view,
        deployment_mode=mode,
    )
    entry.runtime_data = PrinternizerStatsRuntimeData(
        storage=storage, intake=intake, coordinator=coordinator, submission=submission
    )
    intake.prune()
    entry.async_on_unload(
        hass.bus.async_listen(EVENT_PRINTERNIZER_STATS, intake.handle_bus_event)
    )
    entry.async_on_unload(
        async_track_utc_time_change(hass, intake.prune, hour=0, minute=5, second=0)
    )
    entry.async_on_unload(submission.async_stop)
    entry.async_on_unload(coordinator.async_stop)
    running = (dict(entry.options), entry.data[CONF_URL])

    async def _async_entry_updated(
        hass: HomeAssistant, entry: PrinternizerStatsConfigEntry
    ) -> None:
        """Reload when the settings changed, not for the facts the entry keeps."""
        if (dict(entry.options), entry.data[CONF_URL]) != running:
            hass.config_entries.async_schedule_reload(entry.entry_id)

    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))

    # Never raises: until Printernizer answers, only its values are unavailable.
    await coordinator.async_refresh()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    submission.async_start()
    return True


async def async_unload_entry(
    hass: HomeAssistant, entry: PrinternizerStatsConfigEntry
) -> bool:
    """Unload the sensors and write what is still pending to disk."""
    unload_ok = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unload_ok:
        entry.runtime_data.intake.async_stop()
        await entry.runtime_data.storage.async_commit()
    return unload_ok


async def async_remove_entry(
    hass: HomeAssistant, entry: PrinternizerStatsConfigEntry
) -> None:
    """The user removed the integration: remove its statistics file too."""
    await PrinternizerStatsStorage(hass).async_remove()
