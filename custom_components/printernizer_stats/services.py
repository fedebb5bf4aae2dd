"""Actions: record, export, preview, submit now, sent reports, delete everything.

Domain errors become Home Assistant errors with translation keys here, in
one place. record_event is checked by its schema: Home Assistant runs the
schema before it fires (and its recorder stores) the `call_service` event,
so a refused call leaves no trace of its input in the database; a refusal
is a 400 with its message over the REST API on every supported version.
submit_now answers every expected outcome (sent, nothing due, too soon, key
refused, retry later) in its response; only a real fault raises.

About 400 lines: six actions, their checks and the one place their errors
are translated.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
import errno
import json
import os
from pathlib import Path
from typing import Any, Final, cast

from aiohttp.web import HTTPBadRequest
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
    UnknownUser,
)
from homeassistant.helpers import config_validation as cv
import voluptuous as vol

from .const import (
    ATTR_EVENT_TYPE,
    ATTR_METADATA,
    ATTR_PATH,
    DOMAIN,
    SERVICE_DELETE_ALL,
    SERVICE_EXPORT,
    SERVICE_PREVIEW,
    SERVICE_RECORD_EVENT,
    SERVICE_SENT_REPORTS,
    SERVICE_SUBMIT_NOW,
)
from .coordinator import PrinternizerStatsConfigEntry, PrinternizerStatsRuntimeData
from .errors import PrinternizerStatsError, StorageUnwritableError
from .export import build_export, for_user
from .privacy import ALLOWLIST, MAX_METADATA_KEYS, CleanEvent, RejectReason, clean_event
from .recorded import async_forget_entities
from .vocabulary import EVENT_TYPES

type Handler = Callable[
    [PrinternizerStatsRuntimeData, ServiceCall], Coroutine[Any, Any, ServiceResponse]
]

_RECORD_FIELDS: Final = frozenset({ATTR_EVENT_TYPE, ATTR_METADATA})
# Why the export file could not be written, as translated messages (the
# operating system's own text is in its language and may carry a path).
_OS_ERRORS: Final = {
    errno.EACCES: "export_not_permitted",
    errno.EPERM: "export_not_permitted",
    errno.EROFS: "export_not_permitted",
    errno.ENOSPC: "export_disk_full",
    errno.EDQUOT: "export_disk_full",
}
EXPORT_SCHEMA: Final = vol.Schema({vol.Optional(ATTR_PATH): cv.string})
EMPTY_SCHEMA: Final = vol.Schema({})


class RecordEventRefusedError(ServiceValidationError, HTTPBadRequest):
    """A refused record_event call: a validation error, and an HTTP 400 with its message.

    Home Assistant 2025.4's REST API turns only voluptuous errors into a 400
    (with no message) and answers anything else with a 500 and a logged
    traceback. Being aiohttp's 400 as well, the refusal reaches a REST caller
    as a 400 with our message there too; newer versions map the validation
    error to 400 themselves, and the UI and automations see a validation error.
    """

    def __init__(self, translation_key: str, placeholders: dict[str, str]) -> None:
        """Set up both halves, then make the translated message the body of the 400."""
        HTTPBadRequest.__init__(self)
        # What HomeAssistantError's own __init__ sets (its super() call would
        # reach aiohttp's keyword-only __init__).
        self.args = (translation_key,)
        self.generate_message = True
        self.translation_domain = DOMAIN
        self.translation_key = translation_key
        self.translation_placeholders = placeholders or None
        self.text = str(self)


def _refuse(translation_key: str, **placeholders: str) -> ServiceValidationError:
    """A translated refusal of record_event's input."""
    return RecordEventRefusedError(translation_key, placeholders)


def record_event_schema(data: Any) -> dict[str, Any]:
    """Strict check of record_event: any bad input refuses the whole call.

    Used as the action's schema (see the module docstring). The caller's
    objects are only looked at with type(); errors name our own words or a
    position, never the caller's text.
    """
    if not isinstance(data, Mapping):
        raise _refuse("invalid_metadata")
    if any(key not in _RECORD_FIELDS for key in data):
        raise _refuse("invalid_fields", fields=", ".join(sorted(_RECORD_FIELDS)))
    event, rejections = clean_event(
        data.get(ATTR_EVENT_TYPE), data.get(ATTR_METADATA), strict=True
    )
    if event is None:
        raise _refuse("unknown_event_type", event_types=", ".join(EVENT_TYPES))
    if rejections:
        rejection = rejections[0]
        allowed = ", ".join(ALLOWLIST[event.event_type]) or "-"
        if rejection.reason is RejectReason.TOO_MANY_KEYS:
            raise _refuse("too_many_keys", max=str(MAX_METADATA_KEYS))
        if rejection.reason is RejectReason.UNKNOWN_KEY:
            raise _refuse(
                "unknown_key",
                position=str(rejection.position),
                total=str(rejection.total),
                event_type=event.event_type,
                allowed=allowed,
            )
        if rejection.reason is RejectReason.INVALID_VALUE and rejection.key:
            raise _refuse(
                "invalid_value", key=rejection.key, event_type=event.event_type
            )
        raise _refuse("invalid_metadata")
    return {ATTR_EVENT_TYPE: event.event_type, ATTR_METADATA: dict(event.metadata)}


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


async def _is_admin(hass: HomeAssistant, call: ServiceCall) -> bool:
    """Whether the caller is an admin (or Home Assistant itself: no user)."""
    if not call.context.user_id:
        return True
    user = await hass.auth.async_get_user(call.context.user_id)
    if user is None:
        raise UnknownUser(context=call.context)
    return user.is_admin


async def _require_admin(hass: HomeAssistant, call: ServiceCall) -> None:
    """What Home Assistant's admin services check (its helper cannot return responses before 2025.x)."""
    if not await _is_admin(hass, call):
        raise Unauthorized(context=call.context)


def _translate(err: PrinternizerStatsError) -> HomeAssistantError:
    """The one place domain errors become translated Home Assistant errors."""
    if isinstance(err, StorageUnwritableError):
        return HomeAssistantError(
            translation_domain=DOMAIN, translation_key="storage_unwritable"
        )
    return HomeAssistantError(str(err))


def _action(
    hass: HomeAssistant, handler: Handler, *, admin: bool = False
) -> Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]:
    """Admin check, the loaded entry's data, and error translation around a handler."""

    async def run(call: ServiceCall) -> ServiceResponse:
        if admin:
            await _require_admin(hass, call)
        try:
            return await handler(_runtime_data(hass), call)
        except PrinternizerStatsError as err:
            raise _translate(err) from err

    return run


async def _record_event(
    data: PrinternizerStatsRuntimeData, call: ServiceCall
) -> ServiceResponse:
    """The schema already cleaned the input: count it."""
    data.intake.record_clean(
        CleanEvent(call.data[ATTR_EVENT_TYPE], dict(call.data[ATTR_METADATA]))
    )
    return None


async def _export(
    data: PrinternizerStatsRuntimeData, call: ServiceCall
) -> ServiceResponse:
    """Return the export (identifiers and sent reports for admins only); an admin may also write it to a new file."""
    hass = call.hass
    admin = await _is_admin(hass, call)
    export = for_user(build_export(data), admin=admin)
    if (path := call.data.get(ATTR_PATH)) is not None:
        if not admin:
            raise Unauthorized(context=call.context)
        target = await hass.async_add_executor_job(_checked_export_path, hass, path)
        try:
            await hass.async_add_executor_job(_write_new_private_json, target, export)
        except FileExistsError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="path_exists",
                translation_placeholders={"path": path},
            ) from err
        except OSError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=_OS_ERRORS.get(err.errno or 0, "export_write_failed"),
                translation_placeholders={"path": path},
            ) from err
        export = {**export, "written_to": str(target)}
    return export if call.return_response else None


def _checked_export_path(hass: HomeAssistant, path: str) -> Path:
    """Resolve the export path; refuse anything outside allowlisted folders or in www/."""
    target = Path(path)
    if not target.is_absolute():
        target = Path(hass.config.path(path))
    target = target.resolve()
    www = Path(hass.config.path("www")).resolve()
    if (
        target.is_dir()
        or www == target
        or www in target.parents
        or not hass.config.is_allowed_path(str(target.parent))
    ):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="path_not_allowed",
            translation_placeholders={"path": path},
        )
    return target


def _write_new_private_json(target: Path, export: dict[str, Any]) -> None:
    """Create the file, readable by the owner only; never touch an existing one (executor)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(export, file, indent=2, sort_keys=True)


async def _preview(
    data: PrinternizerStatsRuntimeData, call: ServiceCall
) -> ServiceResponse:
    """The exact next report, and whether it would be sent at all (ids for admins only)."""
    answer = {
        "sharing_status": str(data.submission.sharing_status),
        "report": data.submission.preview(),
    }
    return for_user(answer, admin=await _is_admin(call.hass, call))


async def _submit_now(
    data: PrinternizerStatsRuntimeData, call: ServiceCall
) -> ServiceResponse:
    """Send now within the one-request-per-hour limit, and say what happened."""
    result = await data.submission.async_submit_now()
    view = data.submission.view()
    return {
        "submitted": result.submitted,
        "reason": str(result.reason),
        "next_allowed": _iso(result.next_allowed),
        "last_submission": _iso(view.last_submission),
    }


async def _sent_reports(
    data: PrinternizerStatsRuntimeData, call: ServiceCall
) -> ServiceResponse:
    """The reports the service accepted, newest first, each exactly as sent."""
    return cast("ServiceResponse", {"reports": data.submission.sent_reports()})


async def _delete_all(
    data: PrinternizerStatsRuntimeData, call: ServiceCall
) -> ServiceResponse:
    """Wipe local data and the id; ask each service to erase what it received.

    Also removes what Home Assistant's recorder holds of our entities, and
    says what it cannot remove.
    """
    answer = await data.submission.async_delete_all()
    answer["recorder"] = await async_forget_entities(
        call.hass, data.coordinator.config_entry.entry_id
    )
    return answer


def _iso(value: datetime | None) -> str | None:
    """ISO form of an optional time."""
    return value.isoformat() if value else None


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_RECORD_EVENT,
        _action(hass, _record_event),
        vol.Schema(record_event_schema),
        supports_response=SupportsResponse.NONE,
    )
    for name, handler, schema, admin, response in (
        (SERVICE_EXPORT, _export, EXPORT_SCHEMA, False, SupportsResponse.OPTIONAL),
        (SERVICE_PREVIEW, _preview, EMPTY_SCHEMA, False, SupportsResponse.ONLY),
        (
            SERVICE_SENT_REPORTS,
            _sent_reports,
            EMPTY_SCHEMA,
            True,
            SupportsResponse.ONLY,
        ),
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
