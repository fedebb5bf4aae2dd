"""Base entity: one service device per config entry, fed by the coordinator's snapshot."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import PrinternizerStatsCoordinator


class PrinternizerStatsEntity(CoordinatorEntity[PrinternizerStatsCoordinator]):
    """Updated by each poll and, at most once a second, by recorded events."""

    _attr_has_entity_name = True

    def __init__(self, *, coordinator: PrinternizerStatsCoordinator, key: str) -> None:
        """Attach to the entry's device."""
        super().__init__(coordinator)
        entry = coordinator.config_entry
        self._attr_unique_id = f"{entry.entry_id}_{key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            entry_type=DeviceEntryType.SERVICE,
            manufacturer="Printernizer",
            model="Usage statistics",
            name="Printernizer Usage Statistics",
            # Printernizer's own web interface, and the release it runs.
            configuration_url=coordinator.client.base_url,
            sw_version=coordinator.data.printernizer_version,
        )
