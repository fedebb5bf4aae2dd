"""Sensors: local counts, the fleet, and the state of sharing, all read from one snapshot."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.typing import StateType

from .coordinator import (
    PrinternizerStatsConfigEntry,
    PrinternizerStatsCoordinator,
    StatsSnapshot,
)
from .delivery import SharingStatus
from .entity import PrinternizerStatsEntity
from .vocabulary import EVENT_TYPES

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class PrinternizerStatsSensorDescription(SensorEntityDescription):
    """How one sensor gets its value from the snapshot."""

    value_fn: Callable[[StatsSnapshot], StateType | datetime]
    last_reset_fn: Callable[[StatsSnapshot], datetime] | None = None
    attributes_fn: Callable[[StatsSnapshot], Mapping[str, Any]] | None = None
    # Values read from Printernizer are unavailable while it does not answer;
    # everything counted locally stays available.
    needs_printernizer: bool = False


def _weekly(key: str, event_type: str) -> PrinternizerStatsSensorDescription:
    """A counter of one event type over the current local ISO week."""
    return PrinternizerStatsSensorDescription(
        key=key,
        translation_key=key,
        state_class=SensorStateClass.TOTAL,
        value_fn=lambda snap: snap.week.get(event_type, 0),
        last_reset_fn=lambda snap: snap.week_start,
    )


def _sharing_attributes(snap: StatsSnapshot) -> Mapping[str, Any]:
    """Pending erasures per service (origin only), and whether Printernizer shares too."""
    return {
        "pending_erasures": dict(snap.delivery.pending_erasures),
        "printernizer_shares_too": snap.printernizer_shares,
    }


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
        value_fn=lambda snap: snap.totals.get("job_completed", 0),
    ),
    PrinternizerStatsSensorDescription(
        key="events_total",
        translation_key="events_total",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda snap: sum(snap.totals.get(t, 0) for t in EVENT_TYPES),
    ),
    PrinternizerStatsSensorDescription(
        key="printers",
        translation_key="printers",
        state_class=SensorStateClass.MEASUREMENT,
        needs_printernizer=True,
        value_fn=lambda snap: None if snap.fleet is None else sum(snap.fleet.values()),
        attributes_fn=lambda snap: dict(snap.fleet or {}),
    ),
    PrinternizerStatsSensorDescription(
        key="last_submission",
        translation_key="last_submission",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda snap: snap.delivery.last_submission,
    ),
    PrinternizerStatsSensorDescription(
        key="next_submission",
        translation_key="next_submission",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda snap: snap.delivery.next_submission,
    ),
    PrinternizerStatsSensorDescription(
        key="sharing_status",
        translation_key="sharing_status",
        device_class=SensorDeviceClass.ENUM,
        entity_category=EntityCategory.DIAGNOSTIC,
        options=[str(status) for status in SharingStatus],
        value_fn=lambda snap: str(snap.delivery.sharing),
        attributes_fn=_sharing_attributes,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PrinternizerStatsConfigEntry,
    async_add_entities: AddEntitiesCallback,
) -> None:
    """Create every sensor of the description table."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        PrinternizerStatsSensor(coordinator=coordinator, description=description)
        for description in SENSORS
    )


class PrinternizerStatsSensor(PrinternizerStatsEntity, SensorEntity):
    """A sensor whose value comes from its description and the coordinator's snapshot."""

    entity_description: PrinternizerStatsSensorDescription

    def __init__(
        self,
        *,
        coordinator: PrinternizerStatsCoordinator,
        description: PrinternizerStatsSensorDescription,
    ) -> None:
        """Bind the description."""
        super().__init__(coordinator=coordinator, key=description.key)
        self.entity_description = description

    @property
    def available(self) -> bool:
        """Counted values stay available while Printernizer is down."""
        if self.entity_description.needs_printernizer:
            return super().available and self.coordinator.data.fleet is not None
        return True

    @property
    def native_value(self) -> StateType | datetime:
        """From the latest snapshot."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def last_reset(self) -> datetime | None:
        """Start of the current week for the weekly counters."""
        if self.entity_description.last_reset_fn is None:
            return None
        return self.entity_description.last_reset_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Per-type printer counts; sharing details."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.coordinator.data)
