"""Diagnostics: settings, storage, submission state; identifiers redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_API_KEY, CONF_URL
from .coordinator import PrinternizerStatsConfigEntry
from .services import export_data

TO_REDACT = {
    CONF_URL,
    CONF_API_KEY,
    "installation_id",
    "idempotency_key",
    "submission_id",
    # A hash of the endpoint and the API key that failed.
    "failed_with",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: PrinternizerStatsConfigEntry
) -> dict[str, Any]:
    """What a maintainer needs to help, and no identifier."""
    data = entry.runtime_data
    counters = data.storage.data.counters
    export = export_data(data)
    return async_redact_data(
        {
            "entry": {"data": dict(entry.data), "options": dict(entry.options)},
            "storage": {
                "days": len(counters.days),
                "first_day": counters.first_day,
                "counters": len(
                    {name for day in counters.days.values() for name in day}
                ),
                "totals": dict(counters.totals),
            },
            "rejected_events": export["rejected_events"],
            "printernizer": {
                "last_update_success": data.coordinator.last_update_success,
                "snapshot": export["printernizer"],
            },
            "submission": {
                key: value
                for key, value in export["submission"].items()
                if key not in ("history",)
            }
            | {"history_length": len(data.submission.history)},
            "next_report": export["next_report"],
        },
        TO_REDACT,
    )
