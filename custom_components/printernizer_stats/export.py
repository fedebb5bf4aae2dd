"""The export view: everything stored, in readable form, plus the exact next report.

The export action and diagnostics both build from this (diagnostics redacts
identifiers). Nothing derived from the API key or the endpoint is in it.
"""

from __future__ import annotations

from typing import Any, Final

from .consent import CONSENT_VERSION
from .coordinator import PrinternizerStatsRuntimeData

EXPORT_VERSION: Final = 2


def build_export(data: PrinternizerStatsRuntimeData) -> dict[str, Any]:
    """Everything stored, plus the exact next report."""
    stored = data.storage.data
    consent = data.submission.consent
    delivery = stored.delivery.as_storage()
    pending = delivery.pop("pending")
    return {
        "export_version": EXPORT_VERSION,
        "consent": {
            "share_statistics": consent.share,
            "accepted_disclosure_version": consent.version,
            "current_disclosure_version": CONSENT_VERSION,
            "consent_day": None if consent.day is None else consent.day.isoformat(),
            "first_reported_day": None
            if consent.first_day is None
            else consent.first_day.isoformat(),
        },
        "counters_by_day": stored.counters.as_nested(),
        "totals": dict(stored.counters.totals),
        "rejected_events": dict(stored.counters.rejected),
        "printernizer": stored.facts.as_storage()
        | {"deployment_mode": data.coordinator.deployment_mode},
        "tracker": stored.tracker.as_storage(),
        "submission": delivery
        | {
            "sharing_status": str(data.submission.sharing_status),
            # The body is next_report below.
            "pending": None
            if pending is None
            else {
                key: pending[key]
                for key in ("start", "end", "attempts", "next_attempt")
            },
        },
        "next_report": data.submission.preview(),
    }
