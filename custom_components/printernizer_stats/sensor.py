"""Sensors: local counts, the fleet, and the state of sharing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.event import async_track_time_change
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .coordinator import PrinternizerStatsConfigEntry, PrinternizerStatsRuntimeData
from .counters import week_key
from .entity import PrinternizerStatsEntity
from .privacy import EVENT_TYPES
from .submission import SharingStatus

PARALLEL_UPDATES = 0


def week_start() -> datetime:
    """Monday 00:00 of the current ISO week, local time."""
    today = dt_util.start_of_local_day()
    return today - timedelta(days=today.weekday())


def _this_week(event_type: str) -> Callable[[PrinternizerStatsRuntimeData], int]:
    """Events of one type in the current ISO week, local time."""

    def value(data: PrinternizerStatsRuntimeData) -> int:
        week = week_key(dt_util.now().date())
        return data.storage.data.counters.week_count(week, event_type)

    return value


def _lifetime(event_type: str) -> Callable[[PrinternizerStatsRuntimeData], int]:
    """Events of one type since data began (not pruned by retention)."""
    return lambda data: data.storage.data.counters.totals.get(event_type, 0)


def _week_reset(data: PrinternizerStatsRuntimeData) -> datetime:
    """The weekly counters restart on Monday 00:00 local time."""
    return week_start()


@dataclass(frozen=True, kw_only=True)
class PrinternizerStatsSensorDescription(SensorEntityDescription):
    """How one sensor gets its value."""

    value_fn: Callable[[PrinternizerStatsRuntimeData], StateType | datetime]
    last_reset_fn: Callable[[PrinternizerStatsRuntimeData], datetime] | None = None
    attributes_fn: (
        Callable[[PrinternizerStatsRuntimeData], Mapping[str, Any]] | None
    ) = None
    # Values read from Printernizer are unavailable while it does not answer;
    # everything counted locally stays available.
    needs_printernizer: bool = False


def _weekly(key: str, event_type: str) -> PrinternizerStatsSensorDescription:
    """A counter of one event type over the current ISO week."""
    return PrinternizerStatsSensorDescription(
        key=key,
        translation_key=key,
        state_class=SensorStateClass.TOTAL,
        value_fn=_this_week(event_type),
        last_reset_fn=_week_reset,
    )


SENSORS: tuple[PrinternizerStatsSensorDescription, ...] = (
    _weekly("jobs_completed_week", "job_completed"),
    _weekly("jobs_failed_week", "job_failed"),
    _weekly("jobs_created_week", "job_created"),
    _weekly("files_downloaded_week", "file_downloaded"),
    _weekly("errors_week", "error_occurred"),
    PrinternizerStatsSensorDescription(
        key="jobs_completed_total",
        translation_key="jobs_completed_total",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=_lifetime("job_completed"),
    ),
    PrinternizerStatsSensorDescription(
        key="events_total",
        translation_key="events_total",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda data: sum(
            data.storage.data.counters.totals.get(t, 0) for t in EVENT_TYPES
        ),
    ),
    PrinternizerStatsSensorDescription(
        key="printers",
        translation_key="printers",
        state_class=SensorStateClass.MEASUREMENT,
        needs_printernizer=True,
        value_fn=lambda data: data.coordinator.data.printer_count,
        attributes_fn=lambda data: dict(data.coordinator.data.fleet),
    ),
    PrinternizerStatsSensorDescription(
        key="last_submission",
        translation_key="last_submission",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: data.submission.last_success,
    ),
    PrinternizerStatsSensorDescription(
        key="next_submission",
        translation_key="next_submission",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: data.submission.next_submission,
    ),
    PrinternizerStatsSensorDescription(
        key="sharing_status",
        translation_key="sharing_status",
        device_class=SensorDeviceClass.ENUM,
        entity_category=EntityCategory.DIAGNOSTIC,
        options=[str(status) for status in SharingStatus],
        value_fn=lambda data: str(data.submission.sharing_status),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PrinternizerStatsConfigEntry,
    async_add_entities: AddEntitiesCallback,
) -> None:
    """Create every sensor of the description table."""
    data = entry.runtime_data
    async_add_entities(
        PrinternizerStatsSensor(data, description) for description in SENSORS
    )

    @callback
    def _async_new_day(now: datetime) -> None:
        """Roll the weekly counters over even when no poll succeeds and nothing is recorded."""
        data.coordinator.async_update_listeners()

    entry.async_on_unload(
        async_track_time_change(hass, _async_new_day, hour=0, minute=0, second=0)
    )


class PrinternizerStatsSensor(PrinternizerStatsEntity, SensorEntity):
    """A sensor whose value comes from its description."""

    entity_description: PrinternizerStatsSensorDescription

    def __init__(
        self,
        data: PrinternizerStatsRuntimeData,
        description: PrinternizerStatsSensorDescription,
    ) -> None:
        """Bind the description to the entry's runtime data."""
        super().__init__(coordinator=data.coordinator, key=description.key)
        self.entity_description = description
        self._data = data

    @property
    def available(self) -> bool:
        """Counted values stay available while Printernizer is down."""
        if self.entity_description.needs_printernizer:
            return super().available and self.coordinator.data is not None
        return True

    @property
    def native_value(self) -> StateType | datetime:
        """Computed from stored counters or the last poll."""
        return self.entity_description.value_fn(self._data)

    @property
    def last_reset(self) -> datetime | None:
        """Start of the current week for the weekly counters."""
        if self.entity_description.last_reset_fn is None:
            return None
        return self.entity_description.last_reset_fn(self._data)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Per-type printer counts on the fleet sensor."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self._data)
