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
    DATA_SERVICE_KEYS,
    DEFAULT_ENDPOINT,
)
from .coordinator import PrinternizerStatsConfigEntry
from .delivery import origin
from .export import IDENTIFIERS, build_export

TO_REDACT = {CONF_URL, CONF_API_KEY, DATA_SERVICE_IDS, DATA_SERVICE_KEYS, *IDENTIFIERS}
REDACTED = "**REDACTED**"


def _endpoint(endpoint: str) -> dict[str, Any]:
    """Only the scheme and whether it is the public default (a self-hosted name stays private)."""
    return {
        "scheme": URL(endpoint).scheme,
        "is_default": endpoint == DEFAULT_ENDPOINT,
    }


def _service(service: str) -> str:
    """A service's origin: the public default's is shown, a self-hosted one's is not."""
    return service if service == origin(DEFAULT_ENDPOINT) else REDACTED


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: PrinternizerStatsConfigEntry
) -> dict[str, Any]:
    """What a maintainer needs to help, and no identifier."""
    data = entry.runtime_data
    counters = data.storage.data.counters
    export = build_export(data)
    submission = export["submission"]
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
                "missed_polls": data.coordinator.failures,
                "busy_polls": data.coordinator.starved,
                "skipped_items": dict(data.coordinator.client.skipped),
                "dropped_values": data.coordinator.client.values_dropped,
                "facts": export["printernizer"],
                "tracker": export["tracker"],
            },
            "submission": {
                key: value
                for key, value in submission.items()
                if key not in ("ids_at_services", "pending_erasures")
            }
            | {
                "ids_at_services": len(submission["ids_at_services"]),
                "pending_erasures": [
                    erasure | {"service": _service(erasure["service"])}
                    for erasure in submission["pending_erasures"]
                ],
                "sent_reports": [report["period"] for report in export["sent_reports"]],
            },
            "next_report": export["next_report"],
        },
        TO_REDACT,
    )
