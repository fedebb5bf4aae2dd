"""The export view: everything stored, in readable form, plus the exact next report.

The export action and diagnostics both build from this (diagnostics redacts
identifiers). Nothing derived from the API key is in it, and a service is
shown by its origin only. Identifiers (installation ids, submission ids,
idempotency keys) and the reports that were sent go to admins only: for
other users they are redacted or left out (`for_user`).
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.diagnostics import async_redact_data

from .consent import CONSENT_VERSION
from .coordinator import PrinternizerStatsRuntimeData
from .delivery import origin

EXPORT_VERSION: Final = 3
IDENTIFIERS: Final = frozenset({"installation_id", "submission_id", "idempotency_key"})
# Shown to admins only: what was sent, under which id.
ADMIN_ONLY: Final = ("sent_reports",)


def build_export(data: PrinternizerStatsRuntimeData) -> dict[str, Any]:
    """Everything stored, plus the exact next report (the admin's view)."""
    stored = data.storage.data
    consent = data.submission.consent
    delivery = stored.delivery.as_storage()
    pending = delivery["pending"]
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
        "submission": {
            key: delivery[key]
            for key in (
                "installation_id",
                "first_seen",
                "reported_until",
                "last_request",
                "not_before",
                "halt",
                "last_error",
                "last_success",
            )
        }
        | {
            "sharing_status": str(data.submission.sharing_status),
            # The body is next_report below.
            "pending": None
            if pending is None
            else {
                key: pending[key]
                for key in ("start", "end", "attempts", "next_attempt")
            },
            # Where each id went, by the service's origin only (no path, no key).
            "ids_at_services": [
                {
                    "installation_id": r["installation_id"],
                    "service": origin(r["endpoint"]),
                }
                for r in delivery["recipients"]
            ],
            "pending_erasures": [
                {key: value for key, value in e.items() if key != "endpoint"}
                | {"service": origin(e["endpoint"])}
                for e in delivery["erasures"]
            ],
        },
        "sent_reports": data.submission.sent_reports(),
        "next_report": data.submission.preview(),
    }


def for_user(export: dict[str, Any], *, admin: bool) -> dict[str, Any]:
    """The export as a user may see it: without identifiers and sent reports unless admin."""
    if admin:
        return export
    view = {key: value for key, value in export.items() if key not in ADMIN_ONLY}
    redacted: dict[str, Any] = async_redact_data(view, IDENTIFIERS)
    return redacted
