"""Actions: record, export, preview, submit now, delete everything."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
import json
import os
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import (
    HomeAssistantError,
    ServiceValidationError,
    Unauthorized,
)
from homeassistant.helpers import config_validation as cv
import voluptuous as vol

from .const import (
    ATTR_EVENT_TYPE,
    ATTR_METADATA,
    CONF_CONSENT_DAY,
    CONF_CONSENT_VERSION,
    CONF_SHARE,
    CONSENT_VERSION,
    DOMAIN,
    SERVICE_DELETE_ALL,
    SERVICE_EXPORT,
    SERVICE_PREVIEW,
    SERVICE_RECORD_EVENT,
    SERVICE_SUBMIT_NOW,
)
from .coordinator import PrinternizerStatsConfigEntry, PrinternizerStatsRuntimeData

EXPORT_VERSION = 1
ATTR_PATH = "path"

type Handler = Callable[
    [PrinternizerStatsRuntimeData, ServiceCall], Coroutine[Any, Any, ServiceResponse]
]

# The privacy filter checks these fields itself, with type() only: voluptuous
# would run the caller's objects' code, echo their errors back and make core
# log the refused data.
RECORD_EVENT_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_EVENT_TYPE): cv.match_all,
        vol.Optional(ATTR_METADATA): cv.match_all,
    }
)
EXPORT_SCHEMA = vol.Schema({vol.Optional(ATTR_PATH): cv.string})
EMPTY_SCHEMA = vol.Schema({})


def _runtime_data(hass: HomeAssistant) -> PrinternizerStatsRuntimeData:
    """The loaded entry's data, or a clear error when there is none."""
    entries: list[PrinternizerStatsConfigEntry] = hass.config_entries.async_entries(
        DOMAIN
    )
    for entry in entries:
        if entry.state is ConfigEntryState.LOADED:
            return entry.runtime_data
    raise ServiceValidationError(
        translation_domain=DOMAIN, translation_key="not_loaded"
    )


def _action(
    hass: HomeAssistant, handler: Handler, *, admin: bool = False
) -> Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]:
    """Wrap a handler: admin check first, then the loaded entry's data."""

    async def run(call: ServiceCall) -> ServiceResponse:
        if admin and call.context.user_id:
            user = await hass.auth.async_get_user(call.context.user_id)
            if user is None or not user.is_admin:
                raise Unauthorized(context=call.context, permission="admin")
        return await handler(_runtime_data(hass), call)

    return run


async def _record_event(
    data: PrinternizerStatsRuntimeData, call: ServiceCall
) -> ServiceResponse:
    """Strict: any bad key or value refuses the whole call and nothing is stored."""
    data.recorder.async_record_strict(
        call.data[ATTR_EVENT_TYPE], call.data.get(ATTR_METADATA)
    )
    return None


def export_data(data: PrinternizerStatsRuntimeData) -> dict[str, Any]:
    """Everything stored, plus the exact next report."""
    stored = data.storage.data
    options = data.coordinator.config_entry.options
    submission = data.submission
    return {
        "export_version": EXPORT_VERSION,
        "consent": {
            "share_statistics": bool(options.get(CONF_SHARE)),
            "accepted_disclosure_version": options.get(CONF_CONSENT_VERSION),
            "current_disclosure_version": CONSENT_VERSION,
            "consent_day": options.get(CONF_CONSENT_DAY),
        },
        "installation": {
            "installation_id": stored.installation_id,
            "first_seen": stored.first_seen,
        },
        "counters_by_day": stored.counters.as_nested(),
        "totals": dict(stored.counters.totals),
        "rejected_events": dict(stored.counters.rejected),
        "printernizer": dict(stored.snapshot),
        "submission": submission.as_storage()
        | {
            "pending": _pending_summary(data),
            "sharing_status": str(submission.sharing_status),
        },
        "next_report": submission.preview(),
    }


def _pending_summary(data: PrinternizerStatsRuntimeData) -> dict[str, Any] | None:
    """The pending report's period and retry state (its body is next_report)."""
    pending = data.submission.pending
    if pending is None:
        return None
    return {
        "period_start": pending.period_start.isoformat(),
        "period_end": pending.period_end.isoformat(),
        "attempts": pending.attempts,
        "next_attempt": pending.next_attempt.isoformat(),
    }


async def _export(
    data: PrinternizerStatsRuntimeData, call: ServiceCall
) -> ServiceResponse:
    """Return the export; optionally also write it to an allowed file."""
    export = export_data(data)
    if (path := call.data.get(ATTR_PATH)) is not None:
        hass = call.hass
        target = await hass.async_add_executor_job(_checked_export_path, hass, path)
        try:
            await hass.async_add_executor_job(_write_private_json, target, export)
        except OSError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="export_write_failed",
                translation_placeholders={"path": path, "error": err.strerror or ""},
            ) from err
        export = {**export, "written_to": str(target)}
    return export


def _checked_export_path(hass: HomeAssistant, path: str) -> Path:
    """Resolve the export path; refuse anything outside allowlisted folders or in www/."""
    target = Path(path)
    if not target.is_absolute():
        target = Path(hass.config.path(path))
    target = target.resolve()
    www = Path(hass.config.path("www")).resolve()
    if target.is_dir() or www == target or www in target.parents:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="path_not_allowed",
            translation_placeholders={"path": path},
        )
    if not hass.config.is_allowed_path(str(target.parent)):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="path_not_allowed",
            translation_placeholders={"path": path},
        )
    return target


def _write_private_json(target: Path, export: dict[str, Any]) -> None:
    """Write readable by the owner only (runs in the executor)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # The mode above only applies to a new file; tighten an existing one too.
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(export, file, indent=2, sort_keys=True)


async def _preview(
    data: PrinternizerStatsRuntimeData, call: ServiceCall
) -> ServiceResponse:
    """The exact next report, and whether it would be sent at all."""
    return {
        "sharing_status": str(data.submission.sharing_status),
        "report": data.submission.preview(),
    }


async def _submit_now(
    data: PrinternizerStatsRuntimeData, call: ServiceCall
) -> ServiceResponse:
    """Send now within the one-request-per-hour limit."""
    try:
        next_allowed = await data.submission.async_submit_now()
    finally:
        # A failed attempt changes the sharing status and next submission too.
        data.coordinator.async_update_listeners()
    return {
        "submitted": next_allowed is None,
        "next_allowed": _iso(next_allowed),
        "last_submission": _iso(data.submission.last_success),
    }


async def _delete_all(
    data: PrinternizerStatsRuntimeData, call: ServiceCall
) -> ServiceResponse:
    """Wipe local data and the id; ask the service to erase what it received."""
    result = await data.submission.async_delete_all()
    data.coordinator.async_update_listeners()
    return result


def _iso(value: datetime | None) -> str | None:
    """ISO form of an optional time."""
    return value.isoformat() if value else None


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    for name, handler, schema, admin, response in (
        (
            SERVICE_RECORD_EVENT,
            _record_event,
            RECORD_EVENT_SCHEMA,
            False,
            SupportsResponse.NONE,
        ),
        (SERVICE_EXPORT, _export, EXPORT_SCHEMA, False, SupportsResponse.ONLY),
        (SERVICE_PREVIEW, _preview, EMPTY_SCHEMA, False, SupportsResponse.ONLY),
        (
            SERVICE_SUBMIT_NOW,
            _submit_now,
            EMPTY_SCHEMA,
            True,
            SupportsResponse.OPTIONAL,
        ),
        (
            SERVICE_DELETE_ALL,
            _delete_all,
            EMPTY_SCHEMA,
            True,
            SupportsResponse.OPTIONAL,
        ),
    ):
        hass.services.async_register(
            DOMAIN,
            name,
            _action(hass, handler, admin=admin),
            schema,
            supports_response=response,
        )
