"""Polls Printernizer and turns what changed into events."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import DOMAIN, LOGGER, SCAN_INTERVAL
from .printernizer import (
    PrinternizerClient,
    PrinternizerConnectionError,
    PrinternizerResponseError,
)
from .privacy import PRINTER_TYPES, clean_app_version

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

    from .recorder import EventRecorder
    from .storage import PrinternizerStatsStorage
    from .submission import SubmissionManager

# Seconds between saves made only to keep the uptime in the file fresh.
ROUTINE_SAVE_INTERVAL = 15 * 60


@dataclass(slots=True)
class PrinternizerSnapshot:
    """What the last successful poll said about the Printernizer instance."""

    app_version: str | None
    uptime_hours: float | None
    fleet: dict[str, int] = field(default_factory=dict)

    @property
    def printer_count(self) -> int:
        """All printers, whatever their type."""
        return sum(self.fleet.values())


@dataclass(slots=True)
class PrinternizerStatsRuntimeData:
    """What a loaded config entry holds."""

    storage: PrinternizerStatsStorage
    recorder: EventRecorder
    coordinator: PrinternizerStatsCoordinator
    submission: SubmissionManager


type PrinternizerStatsConfigEntry = ConfigEntry[PrinternizerStatsRuntimeData]


class PrinternizerStatsCoordinator(DataUpdateCoordinator[PrinternizerSnapshot]):
    """Reads health, printers, jobs and files every minute."""

    config_entry: PrinternizerStatsConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: PrinternizerStatsConfigEntry,
        *,
        client: PrinternizerClient,
        recorder: EventRecorder,
        storage: PrinternizerStatsStorage,
    ) -> None:
        """Keep the client and where events go."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=DOMAIN,
            update_interval=SCAN_INTERVAL,
        )
        self.client = client
        self._recorder = recorder
        self._storage = storage
        self._next_routine_save = 0.0

    async def _async_update_data(self) -> PrinternizerSnapshot:
        """Fetch everything, then record the transitions since the last poll."""
        try:
            health = await self.client.health()
            printers = await self.client.printers()
            jobs = await self.client.jobs()
            files = await self.client.files()
        except PrinternizerConnectionError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"error": str(err)},
            ) from err
        except PrinternizerResponseError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="invalid_response",
                translation_placeholders={"error": str(err)},
            ) from err

        tracker = self._storage.data.tracker
        tracker.changed = False
        for event_type, metadata in (
            *tracker.health(health),
            *tracker.printers(printers),
            *tracker.jobs(jobs),
            *tracker.files(files),
        ):
            self._recorder.async_record(event_type, metadata)

        version = clean_app_version(health.version) if health.version else None
        fleet = Counter(printer.printer_type for printer in printers)
        snapshot = PrinternizerSnapshot(
            app_version=version,
            uptime_hours=None
            if health.uptime_seconds is None
            else round(health.uptime_seconds / 3600, 1),
            fleet={ptype: fleet[ptype] for ptype in PRINTER_TYPES if fleet[ptype]},
        )
        previous = self._storage.data.snapshot
        self._storage.data.snapshot = {
            "app_version": snapshot.app_version,
            "uptime_hours": snapshot.uptime_hours,
            "fleet": snapshot.fleet,
        }
        # Uptime changes at every poll; saving only for it would write the
        # file every minute (SD cards wear out). Save when something lasting
        # changed, else now and then; shutdown writes whatever is pending.
        now = self.hass.loop.time()
        if (
            tracker.changed
            or previous.get("app_version") != snapshot.app_version
            or previous.get("fleet") != snapshot.fleet
            or now >= self._next_routine_save
        ):
            self._next_routine_save = now + ROUTINE_SAVE_INTERVAL
            self._storage.async_schedule_save()
        return snapshot
