"""An emulator of Printernizer's usage-statistics aggregation service.

Wire compatibility follows the real service (repository
``schmacka/printernizer``, ``services/aggregation/main.py``; client models in
``schmacka/printernizer-ha`` ``printernizer/src/models/usage_statistics.py``):

* ``POST /submit`` with ``X-API-Key``: missing or empty key → 403
  ``{"detail": "Not authenticated"}``, wrong key → 401
  ``{"detail": "Invalid API key"}``; success → 200
  ``{"status": "success", "submission_id": <int>, "message": ...}``; rate
  limited → 429 ``{"detail": "Rate limit exceeded. ..."}``.
* ``DELETE /installation/{installation_id}`` → 200
  ``{"status": "success", "deleted_count": n, "message": ...}`` (also for an
  unknown id, with ``deleted_count`` 0, as the real service does).

Validation is deliberately *stricter* than the real service (which ignores
unknown fields and checks little beyond types): everything this emulator
accepts, the real one accepts too, and the extra checks catch privacy or
bookkeeping mistakes in a client (unknown fields, precise timestamps,
non-canonical ids, inconsistent fleet counts, oversized payloads).  See
``validate_report``.

Run for a development Home Assistant instance::

    python -m simulator.stats_service --host 127.0.0.1 --port 8001 --api-key dev-key
"""

from __future__ import annotations

import argparse
import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from http import HTTPStatus
import json
import logging
import math
import re
from typing import Any

from aiohttp import web

from simulator import loopback_host

_LOGGER = logging.getLogger(__name__)

SCHEMA_VERSION = "1.0"
MAX_BODY_BYTES = 10_240
"""Bodies must be strictly smaller than this."""

MAX_MAP_ENTRIES = 50
"""Cardinality cap for error_summary, feature_usage and printer_type_counts."""

VALID_INSTALLATION_ID = "3f2b8c1e-9a4d-4e6f-8b2a-1c5d7e9f0a3b"

DEPLOYMENT_MODES = frozenset({"homeassistant", "docker", "standalone", "pi"})
PLATFORMS = frozenset({"linux", "darwin", "windows"})
PRINTER_TYPES = frozenset({"bambu_lab", "prusa_core", "octoprint", "unknown", "other"})

_UUID4 = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)
_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})$"
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$")
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")

_TOP_LEVEL = (
    "schema_version",
    "submission_timestamp",
    "installation",
    "period",
    "printer_fleet",
    "usage_stats",
    "error_summary",
)

Loc = tuple[str | int, ...]


# --------------------------------------------------------------- validation


class _Validator:
    """Collects FastAPI-style error entries while walking a report."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.errors: list[dict[str, Any]] = []

    def error(self, loc: Loc, kind: str, msg: str) -> None:
        self.errors.append({"type": kind, "loc": ["body", *loc], "msg": msg})

    def obj(
        self,
        value: Any,
        loc: Loc,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(loc, "dict_type", "Input should be a valid dictionary or object")
            return None
        for key in required:
            if key not in value:
                self.error((*loc, key), "missing", "Field required")
        for key in value:
            if key not in required and key not in optional:
                self.error(
                    (*loc, str(key)),
                    "extra_forbidden",
                    "Extra inputs are not permitted",
                )
        return value

    def integer(self, value: Any, loc: Loc) -> int | None:
        if not isinstance(value, int) or isinstance(value, bool):
            self.error(loc, "int_type", "Input should be a valid integer")
            return None
        if value < 0:
            self.error(
                loc, "greater_than_equal", "Input should be greater than or equal to 0"
            )
            return None
        return value

    def string(self, value: Any, loc: Loc, pattern: re.Pattern[str]) -> str | None:
        if not isinstance(value, str):
            self.error(loc, "string_type", "Input should be a valid string")
            return None
        if not pattern.match(value):
            self.error(
                loc,
                "string_pattern_mismatch",
                f"String should match pattern '{pattern.pattern}'",
            )
            return None
        return value

    def choice(self, value: Any, loc: Loc, allowed: frozenset[str]) -> str | None:
        if not isinstance(value, str) or value not in allowed:
            options = ", ".join(f"'{item}'" for item in sorted(allowed))
            self.error(loc, "enum", f"Input should be one of {options}")
            return None
        return value

    def day_datetime(self, value: Any, loc: Loc) -> datetime | None:
        """ISO datetime with an explicit UTC offset, at midnight (whole days only)."""
        if not isinstance(value, str) or not _ISO_DATETIME.match(value):
            self.error(
                loc,
                "datetime_parsing",
                "Input should be an ISO 8601 datetime with a UTC offset",
            )
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.error(loc, "datetime_parsing", "Input should be a valid datetime")
            return None
        if parsed.utcoffset() != timedelta(0):
            self.error(loc, "timezone_utc", "Datetime must be in UTC (Z or +00:00)")
            return None
        if parsed.timetz().replace(tzinfo=None) != time(0):
            self.error(
                loc,
                "not_day_boundary",
                "Datetime must be rounded to the day (00:00:00 UTC)",
            )
            return None
        return parsed.astimezone(UTC)

    def day(self, value: Any, loc: Loc) -> date | None:
        """A date, or a datetime at midnight UTC."""
        if isinstance(value, str) and _ISO_DATE.match(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                self.error(loc, "date_parsing", "Input should be a valid date")
                return None
        parsed = self.day_datetime(value, loc)
        return parsed.date() if parsed else None

    def counts(self, value: Any, loc: Loc) -> dict[str, int] | None:
        if not isinstance(value, dict):
            self.error(loc, "dict_type", "Input should be a valid dictionary")
            return None
        if len(value) > MAX_MAP_ENTRIES:
            self.error(loc, "too_long", f"At most {MAX_MAP_ENTRIES} entries")
        result: dict[str, int] = {}
        for key, count in value.items():
            if self.string(key, (*loc, str(key), "[key]"), _KEY) is None:
                continue
            number = self.integer(count, (*loc, key))
            if number is not None:
                result[key] = number
        return result

    def flags(self, value: Any, loc: Loc) -> None:
        if not isinstance(value, dict):
            self.error(loc, "dict_type", "Input should be a valid dictionary")
            return
        if len(value) > MAX_MAP_ENTRIES:
            self.error(loc, "too_long", f"At most {MAX_MAP_ENTRIES} entries")
        for key, flag in value.items():
            self.string(key, (*loc, str(key), "[key]"), _KEY)
            if not isinstance(flag, bool):
                self.error(
                    (*loc, str(key)), "bool_type", "Input should be a valid boolean"
                )


def validate_report(
    body: Any,
    *,
    now: datetime,
    printer_types: frozenset[str] = PRINTER_TYPES,
) -> list[dict[str, Any]]:
    """Validate a schema-1.0 report; return FastAPI-style errors (empty = valid).

    Field by field (real model: pydantic ``AggregatedStatsModel``; the rules
    marked *stricter* are this emulator's own):

    * no unknown keys at any level (*stricter*; the real service ignores them)
    * ``schema_version``: ``"1.0"`` (*stricter*: the real one takes any str)
    * ``submission_timestamp``: required (*stricter*), ISO datetime at 00:00 UTC,
      not in the future
    * ``installation``: ``installation_id`` canonical lowercase UUID4 (36
      chars), ``first_seen`` date or midnight-UTC datetime, ``app_version``
      and optional ``python_version`` (str or null) version-like strings of at
      most 32 chars, ``platform`` in linux/darwin/windows, ``deployment_mode``
      in homeassistant/docker/standalone/pi, ``country_code`` two uppercase
      letters
    * ``period``: ``start``/``end`` midnight UTC, ``end > start``,
      ``end <= now``, ``start >= first_seen``, ``duration_days == (end -
      start).days``
    * ``printer_fleet``: ``printer_count`` int >= 0, ``printer_types`` unique
      known types, ``printer_type_counts`` type -> int >= 0 with the same keys
      as ``printer_types`` and summing to ``printer_count``
    * ``usage_stats``: ``job_count``, ``file_count``, ``upload_count``,
      ``uptime_hours`` ints >= 0 (``uptime_hours`` is ``int`` in the real
      model), ``uptime_hours <= 24 * duration_days``, ``feature_usage``
      name -> bool
    * ``error_summary``: name -> int >= 0
    * map keys match ``^[A-Za-z][A-Za-z0-9_]{0,63}$``, at most 50 entries each
    """
    check = _Validator(now)
    top = check.obj(body, (), _TOP_LEVEL)
    if top is None:
        return check.errors
    if "schema_version" in top and top["schema_version"] != SCHEMA_VERSION:
        check.error(("schema_version",), "literal_error", "Input should be '1.0'")
    if "submission_timestamp" in top:
        stamp = check.day_datetime(
            top["submission_timestamp"], ("submission_timestamp",)
        )
        if stamp is not None and stamp > now:
            check.error(
                ("submission_timestamp",), "in_future", "Timestamp is in the future"
            )

    first_seen: date | None = None
    installation = None
    if "installation" in top:
        installation = check.obj(
            top["installation"],
            ("installation",),
            (
                "installation_id",
                "first_seen",
                "app_version",
                "platform",
                "deployment_mode",
                "country_code",
            ),
            ("python_version",),
        )
    if installation is not None:
        loc: Loc = ("installation",)
        if "installation_id" in installation:
            check.string(
                installation["installation_id"], (*loc, "installation_id"), _UUID4
            )
        if "first_seen" in installation:
            first_seen = check.day(installation["first_seen"], (*loc, "first_seen"))
        if "app_version" in installation:
            check.string(installation["app_version"], (*loc, "app_version"), _VERSION)
        if installation.get("python_version") is not None:
            check.string(
                installation["python_version"], (*loc, "python_version"), _VERSION
            )
        if "platform" in installation:
            check.choice(installation["platform"], (*loc, "platform"), PLATFORMS)
        if "deployment_mode" in installation:
            check.choice(
                installation["deployment_mode"],
                (*loc, "deployment_mode"),
                DEPLOYMENT_MODES,
            )
        if "country_code" in installation:
            check.string(installation["country_code"], (*loc, "country_code"), _COUNTRY)

    duration_days: int | None = None
    period = None
    if "period" in top:
        period = check.obj(
            top["period"], ("period",), ("start", "end", "duration_days")
        )
    if period is not None:
        start = (
            check.day_datetime(period["start"], ("period", "start"))
            if "start" in period
            else None
        )
        end = (
            check.day_datetime(period["end"], ("period", "end"))
            if "end" in period
            else None
        )
        if "duration_days" in period:
            duration_days = check.integer(
                period["duration_days"], ("period", "duration_days")
            )
        if start is not None and end is not None:
            if end <= start:
                check.error(
                    ("period", "end"), "period_order", "end must be after start"
                )
            elif duration_days is not None and duration_days != (end - start).days:
                check.error(
                    ("period", "duration_days"),
                    "period_mismatch",
                    f"duration_days must be {(end - start).days}",
                )
        if end is not None and end > now:
            check.error(("period", "end"), "in_future", "Period must have ended")
        if start is not None and first_seen is not None and start.date() < first_seen:
            check.error(
                ("period", "start"),
                "before_first_seen",
                "Period starts before first_seen",
            )

    fleet = None
    if "printer_fleet" in top:
        fleet = check.obj(
            top["printer_fleet"],
            ("printer_fleet",),
            ("printer_count", "printer_types", "printer_type_counts"),
        )
    if fleet is not None:
        loc = ("printer_fleet",)
        count = (
            check.integer(fleet["printer_count"], (*loc, "printer_count"))
            if "printer_count" in fleet
            else None
        )
        types: list[str] | None = None
        if "printer_types" in fleet:
            raw_types = fleet["printer_types"]
            if not isinstance(raw_types, list):
                check.error(
                    (*loc, "printer_types"), "list_type", "Input should be a valid list"
                )
            else:
                types = []
                for index, item in enumerate(raw_types):
                    if check.choice(
                        item, (*loc, "printer_types", index), printer_types
                    ):
                        types.append(item)
                named = [item for item in raw_types if isinstance(item, str)]
                if len(set(named)) != len(named):
                    check.error(
                        (*loc, "printer_types"),
                        "duplicates",
                        "printer_types must be unique",
                    )
        per_type: dict[str, int] | None = None
        if "printer_type_counts" in fleet:
            per_type = check.counts(
                fleet["printer_type_counts"], (*loc, "printer_type_counts")
            )
            for key in per_type or {}:
                check.choice(
                    key, (*loc, "printer_type_counts", key, "[key]"), printer_types
                )
        if types is not None and per_type is not None and set(types) != set(per_type):
            check.error(
                (*loc, "printer_type_counts"),
                "fleet_mismatch",
                "Keys must equal printer_types",
            )
        if (
            count is not None
            and per_type is not None
            and sum(per_type.values()) != count
        ):
            check.error(
                (*loc, "printer_count"),
                "fleet_mismatch",
                "Must equal the sum of printer_type_counts",
            )

    usage = None
    if "usage_stats" in top:
        usage = check.obj(
            top["usage_stats"],
            ("usage_stats",),
            (
                "job_count",
                "file_count",
                "upload_count",
                "uptime_hours",
                "feature_usage",
            ),
        )
    if usage is not None:
        for name in ("job_count", "file_count", "upload_count"):
            if name in usage:
                check.integer(usage[name], ("usage_stats", name))
        if "uptime_hours" in usage:
            hours = check.integer(
                usage["uptime_hours"], ("usage_stats", "uptime_hours")
            )
            if (
                hours is not None
                and duration_days is not None
                and hours > 24 * duration_days
            ):
                check.error(
                    ("usage_stats", "uptime_hours"),
                    "too_large",
                    "More hours than the period has",
                )
        if "feature_usage" in usage:
            check.flags(usage["feature_usage"], ("usage_stats", "feature_usage"))

    if "error_summary" in top:
        check.counts(top["error_summary"], ("error_summary",))
    return check.errors


def valid_report(**overrides: Any) -> dict[str, Any]:
    """Return a minimal valid schema-1.0 body for the current (or frozen) clock.

    The period is the 7 whole UTC days ending today at midnight.  A keyword
    for ``installation``, ``period``, ``printer_fleet`` or ``usage_stats``
    whose value is a dict is merged into that section; any other keyword
    replaces the top-level value.
    """
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=7)
    body: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "submission_timestamp": today.isoformat(),
        "installation": {
            "installation_id": VALID_INSTALLATION_ID,
            "first_seen": start.date().isoformat(),
            "app_version": "2.7.0",
            "python_version": "3.13.1",
            "platform": "linux",
            "deployment_mode": "homeassistant",
            "country_code": "DE",
        },
        "period": {
            "start": start.isoformat(),
            "end": today.isoformat(),
            "duration_days": 7,
        },
        "printer_fleet": {
            "printer_count": 2,
            "printer_types": ["bambu_lab", "prusa_core"],
            "printer_type_counts": {"bambu_lab": 1, "prusa_core": 1},
        },
        "usage_stats": {
            "job_count": 5,
            "file_count": 3,
            "upload_count": 0,
            "uptime_hours": 160,
            "feature_usage": {"library_enabled": True},
        },
        "error_summary": {"ConnectionError": 1},
    }
    for key, value in overrides.items():
        section = body.get(key)
        if (
            key in ("installation", "period", "printer_fleet", "usage_stats")
            and isinstance(value, dict)
            and isinstance(section, dict)
        ):
            section.update(value)
        else:
            body[key] = value
    return body


# ----------------------------------------------------------------- emulator


@dataclass
class Submission:
    """One accepted report."""

    submission_id: int
    installation_id: str
    body: dict[str, Any]
    idempotency_key: str | None
    received_at: datetime


def _installation_of(body: Any) -> str:
    if isinstance(body, dict):
        installation = body.get("installation")
        if isinstance(installation, dict):
            value = installation.get("installation_id")
            if isinstance(value, str):
                return value[:64]
    return ""


def _json_error(
    status: int, detail: Any, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"detail": detail}, status=status, headers=headers)


class StatsServiceEmulator:
    """The statistics service with switches for failure testing.

    Test controls: ``accepted`` (accepted bodies, in order), ``log`` (every
    request that reached a handler: time, installation id or ``""``, status;
    status 0 means the connection was reset), ``fail_next()``,
    ``slow_seconds``, ``reset_next``, ``down``, ``rate_limit_per_hour``,
    ``send_retry_after``.
    """

    def __init__(
        self,
        *,
        api_keys: set[str] | None = None,
        now: Callable[[], datetime] | None = None,
        rate_limit_per_hour: int = 1,
        on_accept: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """Create the emulator; ``app`` is ready to serve."""
        self.api_keys: set[str] = {"test-key"} if api_keys is None else api_keys
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.rate_limit_per_hour = rate_limit_per_hour
        self.send_retry_after = True
        self.printer_types = PRINTER_TYPES
        self.on_accept = on_accept
        self.accepted: list[dict[str, Any]] = []
        self.submissions: list[Submission] = []
        self.log: list[tuple[datetime, str, int]] = []
        self.slow_seconds = 0.0
        self.reset_next = 0
        self.down = False
        self._failures: dict[str, deque[tuple[int, str | None]]] = {
            "submit": deque(),
            "delete": deque(),
        }
        self._next_id = 1
        self._window: dict[str, list[datetime]] = {}
        self.app = web.Application()
        self.app.router.add_post("/submit", self._submit)
        self.app.router.add_delete("/installation/{installation_id}", self._delete)
        self.app.router.add_get("/", self._root)
        self.app.router.add_get("/health", self._health)

    # ------------------------------------------------------------- controls

    def fail_next(
        self,
        status: int,
        *,
        retry_after: str | None = None,
        times: int = 1,
        endpoint: str = "submit",
    ) -> None:
        """Answer the next ``times`` requests to ``endpoint`` with ``status``.

        ``endpoint`` is ``"submit"`` or ``"delete"``.  ``retry_after`` (seconds
        or an HTTP date) becomes a ``Retry-After`` header.  Injected answers
        skip auth, validation and the rate limit and store nothing.
        """
        for _ in range(times):
            self._failures[endpoint].append((status, retry_after))

    def submissions_for(self, installation_id: str) -> list[Submission]:
        """Accepted submissions of one installation."""
        return [s for s in self.submissions if s.installation_id == installation_id]

    # ------------------------------------------------------------- handlers

    async def _root(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "service": "Printernizer Usage Statistics Aggregation",
                "status": "healthy",
                "version": "1.0.0",
            }
        )

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "healthy",
                "timestamp": self.now().isoformat(),
                "database": "connected",
            }
        )

    async def _common(
        self, request: web.Request, endpoint: str
    ) -> web.StreamResponse | None:
        """Slow / reset / down / injected failure / auth; None = carry on."""
        if self.slow_seconds:
            await asyncio.sleep(self.slow_seconds)
        if self.reset_next > 0:
            self.reset_next -= 1
            if request.transport is not None:
                request.transport.abort()
            # Nothing reaches the client; aiohttp drops this on the dead socket.
            return web.Response(status=500)
        if self.down:
            return _json_error(503, "Service Unavailable")
        if self._failures[endpoint]:
            status, retry_after = self._failures[endpoint].popleft()
            headers = {"Retry-After": retry_after} if retry_after is not None else None
            detail: Any
            try:
                detail = HTTPStatus(status).phrase
            except ValueError:
                detail = "Error"
            if status == 422:
                detail = [
                    {
                        "type": "injected",
                        "loc": ["body"],
                        "msg": "Injected validation failure",
                    }
                ]
            return _json_error(status, detail, headers)
        key = request.headers.get("X-API-Key")
        if not key:
            return _json_error(403, "Not authenticated")
        if key not in self.api_keys:
            return _json_error(401, "Invalid API key")
        return None

    def _record(
        self,
        at: datetime,
        installation_id: str,
        response: web.StreamResponse,
        reset: bool,
    ) -> None:
        self.log.append((at, installation_id, 0 if reset else response.status))

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        arrived = self.now()
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        installation_id = _installation_of(body)
        resets_before = self.reset_next
        response = await self._common(request, "submit")
        if response is None:
            response = self._process(request, raw, body, installation_id)
        self._record(
            arrived, installation_id, response, self.reset_next < resets_before
        )
        return response

    def _process(
        self, request: web.Request, raw: bytes, body: Any, installation_id: str
    ) -> web.Response:
        if request.content_type != "application/json":
            return _json_error(400, "Content-Type must be application/json")
        if len(raw) >= MAX_BODY_BYTES:
            return _json_error(
                422,
                [
                    {
                        "type": "too_large",
                        "loc": ["body"],
                        "msg": f"Body must be smaller than {MAX_BODY_BYTES} bytes",
                    }
                ],
            )
        if body is None and raw.strip() != b"null":
            return _json_error(400, "Body is not valid JSON")
        now = self.now()
        idem_key = request.headers.get("Idempotency-Key") or None
        if idem_key is not None:
            earlier = next(
                (s for s in self.submissions if s.idempotency_key == idem_key), None
            )
            if earlier is not None:
                if earlier.body != body:
                    return _json_error(
                        422,
                        [
                            {
                                "type": "idempotency_mismatch",
                                "loc": ["header", "Idempotency-Key"],
                                "msg": "Idempotency-Key reused with a different body",
                            }
                        ],
                    )
                return self._success(earlier.submission_id)
        if installation_id:
            window = [
                t
                for t in self._window.get(installation_id, [])
                if now - t < timedelta(hours=1)
            ]
            self._window[installation_id] = window
            if len(window) >= self.rate_limit_per_hour:
                wait = (
                    window[0] + timedelta(hours=1) - now
                    if window
                    else timedelta(hours=1)
                )
                headers = (
                    {"Retry-After": str(max(1, math.ceil(wait.total_seconds())))}
                    if self.send_retry_after
                    else None
                )
                return _json_error(
                    429,
                    f"Rate limit exceeded. Maximum {self.rate_limit_per_hour} submissions per hour.",
                    headers,
                )
            window.append(now)
        errors = validate_report(body, now=now, printer_types=self.printer_types)
        if errors:
            return _json_error(422, errors)
        submission = Submission(self._next_id, installation_id, body, idem_key, now)
        self._next_id += 1
        self.submissions.append(submission)
        self.accepted.append(body)
        if self.on_accept is not None:
            self.on_accept(body)
        return self._success(submission.submission_id)

    @staticmethod
    def _success(submission_id: int) -> web.Response:
        return web.json_response(
            {
                "status": "success",
                "submission_id": submission_id,
                "message": "Statistics submitted successfully",
            }
        )

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        arrived = self.now()
        installation_id = request.match_info["installation_id"]
        resets_before = self.reset_next
        response = await self._common(request, "delete")
        if response is None:
            removed = [
                s for s in self.submissions if s.installation_id == installation_id
            ]
            self.submissions = [
                s for s in self.submissions if s.installation_id != installation_id
            ]
            gone = {id(s.body) for s in removed}
            self.accepted = [body for body in self.accepted if id(body) not in gone]
            self._window.pop(installation_id, None)
            response = web.json_response(
                {
                    "status": "success",
                    "deleted_count": len(removed),
                    "message": f"Deleted {len(removed)} submissions for installation {installation_id}",
                }
            )
        self._record(
            arrived, installation_id, response, self.reset_next < resets_before
        )
        return response


# ---------------------------------------------------------------------- CLI


def _print_report(body: dict[str, Any]) -> None:
    print(json.dumps(body, sort_keys=True), flush=True)


def main(argv: list[str] | None = None) -> None:
    """Serve the emulator until interrupted, printing accepted reports as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", type=loopback_host, default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api-key", action="append", dest="api_keys", default=None)
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=1,
        help="submissions per installation per hour",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    emulator = StatsServiceEmulator(
        api_keys=set(args.api_keys or ["dev-key"]),
        rate_limit_per_hour=args.rate_limit,
        on_accept=_print_report,
    )

    def _announce(*_: object) -> None:
        # run_app calls this once the socket is bound.
        _LOGGER.info(
            "Statistics service emulator listening on http://%s:%s/submit",
            args.host,
            args.port,
        )

    web.run_app(
        emulator.app, host=args.host, port=args.port, print=_announce, access_log=None
    )


if __name__ == "__main__":
    main()
