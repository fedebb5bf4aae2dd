"""Diagnostics: settings, storage, submission state; identifiers and addresses redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant
from yarl import URL

from .const import (
    CONF_API_KEY,
    CONF_ENDPOINT,
    CONF_URL,
    DATA_SERVICE_IDS,
    DEFAULT_ENDPOINT,
)
from .coordinator import PrinternizerStatsConfigEntry
from .export import build_export

TO_REDACT = {
    CONF_URL,
    CONF_API_KEY,
    DATA_SERVICE_IDS,
    "installation_id",
    "idempotency_key",
    "submission_id",
}


def _endpoint(endpoint: str) -> dict[str, Any]:
    """Only the scheme and whether it is the public default (a self-hosted name stays private)."""
    return {
        "scheme": URL(endpoint).scheme,
        "is_default": endpoint == DEFAULT_ENDPOINT,
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: PrinternizerStatsConfigEntry
) -> dict[str, Any]:
    """What a maintainer needs to help, and no identifier."""
    data = entry.runtime_data
    counters = data.storage.data.counters
    export = build_export(data)
    # The endpoint in use: an entry without one sends to the default.
    options = dict(entry.options) | {CONF_ENDPOINT: _endpoint(data.submission.endpoint)}
    return async_redact_data(
        {
            "entry": {"data": dict(entry.data), "options": options},
            "storage": {
                "days": len(counters.days),
                "first_day": counters.days[0] if counters.days else None,
                "counters": counters.column_count(),
                "totals": export["totals"],
                "writable": data.storage.healthy,
            },
            "rejected_events": export["rejected_events"],
            "printernizer": {
                "last_update_success": data.coordinator.last_update_success,
                "facts": export["printernizer"],
                "tracker": export["tracker"],
            },
            "submission": {
                key: value
                for key, value in export["submission"].items()
                if key not in ("history", "service_ids")
            }
            | {
                "history_length": len(export["submission"]["history"]),
                "ids_at_service": len(export["submission"]["service_ids"]),
            },
            "next_report": export["next_report"],
        },
        TO_REDACT,
    )
