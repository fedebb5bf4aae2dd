"""An emulator of Printernizer's statistics aggregation service.

It answers as the real one (``services/aggregation/main.py`` of schmacka/printernizer:
FastAPI, pydantic 2.5, SQLite; contract in ``tests/fixtures/contract``) wherever a
client can notice, never kinder: FastAPI's order of checks, no idempotency (a resent
report is stored twice), a fixed one-hour rate-limit window per installation with no
``Retry-After``, and SQLite's ids (largest stored id + 1: they repeat after a DELETE).

    python -m simulator.stats_service --host 127.0.0.1 --port 8001 --api-key dev-key

Run this way it also answers ``/_control`` (loopback clients only; the real
service has no such route): ``GET`` shows the mode and what it received,
``POST`` with ``{"mode": "refuse-key" | "rate-limit" | "fail" | "normal"}``
(``"status": 5xx`` for ``fail``) changes how it answers until told otherwise.
``scripts/devctl`` wraps it.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import functools
from http import HTTPStatus
import ipaddress
import json
from pathlib import Path
import re
import sys
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from rfc3339_validator import validate_rfc3339

from simulator import loopback_host

_CONTRACT = Path(__file__).resolve().parents[1] / "tests/fixtures/contract"
SCHEMA_PATH = _CONTRACT / "aggregation-submit.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALID_INSTALLATION_ID = "3f2b8c1e-9a4d-4e6f-8b2a-1c5d7e9f0a3b"

_COLUMNS = ("printer_count", "job_count", "file_count", "upload_count", "uptime_hours")
_DETAIL: dict[Any, Any] = {
    "submit": "Failed to process submission",  # the real 500s
    "delete": "Failed to delete data",
    401: "Invalid API key",
    403: "Not authenticated",
    422: [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}],
}
_VALID = "Input should be a valid "
_MSG = {
    "missing": "Field required",
    "string_type": _VALID + "string",
    "int_type": _VALID + "integer",
    "int_from_float": _VALID + "integer, got a number with a fractional part",
    "bool_type": _VALID + "boolean",
    "list_type": _VALID + "list",
    "dict_type": _VALID + "dictionary",
    "model_attributes_type": _VALID + "dictionary or object to extract fields from",
    "datetime_type": _VALID + "datetime",
    "datetime_parsing": _VALID + "datetime, {error}",
    "greater_than_equal": "Input should be greater than or equal to {ge}",
    "json_invalid": "JSON decode error",
}
_TYPE_ERROR = {"integer": "int", "boolean": "bool", "array": "list", "object": "dict"}
_ORDER = {
    name: index
    for model in (SCHEMA, *SCHEMA["$defs"].values())
    for index, name in enumerate(model["properties"])
}
_FRACTION = re.compile(r"\.(\d+)")
_FORMATS = FormatChecker(formats=())

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CONTROL_PATH = "/_control"
MODES = ("normal", "refuse-key", "rate-limit", "fail")
RECEIVED_KEPT = 50


def _local(request: web.Request) -> bool:
    """The request comes from this machine."""
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def _datetime_problem(value: str) -> str | None:
    """Why ``value`` is no RFC 3339 date-time with an offset (None if it is one)."""
    if len(value) < 10:
        return "input is too short"
    if len(value) == 10 or value[10] not in "Tt_ ":
        return "invalid datetime separator, expected `T`, `t`, `_` or space"
    fraction = _FRACTION.search(value)
    if not validate_rfc3339(value) or (fraction and len(fraction.group(1)) > 6):
        return "expected an RFC 3339 date-time with a UTC offset"
    return None


def _is_datetime(value: object) -> bool:
    """The ``date-time`` format check: RFC 3339 with an offset."""
    return not isinstance(value, str) or _datetime_problem(value) is None


_FORMATS.checks("date-time")(_is_datetime)
_VALIDATOR = Draft202012Validator(SCHEMA, format_checker=_FORMATS)


def _entry(kind: str, loc: list[Any], value: Any, **ctx: Any) -> dict[str, Any]:
    """One error entry in pydantic's shape."""
    entry = {"type": kind, "loc": loc, "msg": _MSG[kind].format(**ctx), "input": value}
    return {**entry, "ctx": ctx} if ctx else entry


def _pydantic_errors(error: ValidationError) -> list[dict[str, Any]]:
    """Translate one jsonschema error into the entries pydantic would report."""
    schema: dict[str, Any] = error.schema
    loc, value, rule = ["body", *error.absolute_path], error.instance, error.validator
    if rule == "anyOf":  # Optional[...]: only the non-null branch speaks
        branches = schema["anyOf"]
        return [
            entry
            for sub in error.context or ()
            if branches[sub.schema_path[0]].get("type") != "null"
            for entry in _pydantic_errors(sub)
        ]
    if rule == "required":
        names = [name for name in error.validator_value if name not in value]
        return [_entry("missing", [*loc, name], value) for name in names]
    if rule == "minimum":
        return [_entry("greater_than_equal", loc, value, ge=error.validator_value)]
    if rule == "format":
        return [_entry("datetime_parsing", loc, value, error=_datetime_problem(value))]
    if schema.get("format") == "date-time":
        kind = "datetime_type"
    elif "properties" in schema:
        kind = "model_attributes_type"
    elif isinstance(value, float) and error.validator_value == "integer":
        kind = "int_from_float"
    else:
        expected = str(error.validator_value)
        kind = _TYPE_ERROR.get(expected, expected) + "_type"
    return [_entry(kind, loc, value)]


def _field_order(entry: dict[str, Any]) -> list[int]:
    """Sort key: pydantic reports errors in field order."""
    return [_ORDER.get(p, -1) if isinstance(p, str) else p for p in entry["loc"]]


def validate_report(body: Any) -> list[dict[str, Any]]:
    """Check a report against the contract schema; return the 422 ``detail`` list."""
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for error in _VALIDATOR.iter_errors(body):
        for entry in _pydantic_errors(error):
            found.setdefault((entry["type"], *entry["loc"]), entry)
    return sorted(found.values(), key=_field_order)


def valid_report(**overrides: Any) -> dict[str, Any]:
    """A minimal valid report for the last 7 whole UTC days; dicts merge into sections."""
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=7)).isoformat()
    body: dict[str, Any] = {
        "schema_version": "1.0",
        "period": {"start": start, "end": end.isoformat(), "duration_days": 7},
        "installation": {
            "installation_id": VALID_INSTALLATION_ID,
            "first_seen": start,
            "app_version": "2.7.0",
            "platform": "linux",
            "deployment_mode": "homeassistant",
            "country_code": "DE",
        },
        "printer_fleet": {"printer_count": 1, "printer_type_counts": {"bambu_lab": 1}},
        "usage_stats": {"job_count": 5, "uptime_hours": 160},
        "error_summary": {},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return body


@dataclass
class Submission:
    """One stored report."""

    submission_id: int
    installation_id: str
    body: dict[str, Any]
    idempotency_key: str | None
    received_at: datetime
    # The request body exactly as received (tests compare it byte for byte).
    raw: bytes = b""


def _json(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON answer, rendered as Starlette's JSONResponse renders it."""
    try:
        text = json.dumps(
            payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        )
    except ValueError:  # NaN echoed from a body: Starlette fails to render it
        return web.Response(status=500, text="Internal Server Error")
    headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=text.encode(), headers=headers)


def _installation_of(raw: bytes) -> str:
    """The ``installation.installation_id`` of a raw body, or ``""``."""
    try:
        value = json.loads(raw)["installation"]["installation_id"]
    except Exception:  # noqa: BLE001 - whatever is unusable has no id
        return ""
    return value if isinstance(value, str) else ""


class StatsServiceEmulator:
    """The statistics service, with controls and records for tests.

    Controls: ``api_keys``, ``now`` (clock of the rate-limit window),
    ``rate_limit_per_hour``, ``slow_seconds``, ``reset_next`` (abort that many
    connections unanswered), ``down`` (503), ``fail_next()`` and ``mode``
    (``normal``, ``refuse-key``: every key is wrong, ``rate-limit``: every
    installation's window is full, ``fail``: ``fail_status`` for submit and
    delete; also settable over HTTP at ``/_control`` with ``control=True``).
    Records: ``submissions``, ``accepted``, ``deleted_ids`` (deletions carried
    out), ``log`` (arrival, installation id or ``""``, status; 0 = connection
    reset) and ``received`` (the same with method and path, for ``/_control``).
    """

    def __init__(
        self,
        *,
        api_keys: set[str] | None = None,
        now: Callable[[], datetime] | None = None,
        rate_limit_per_hour: int = 1,
        on_accept: Callable[[dict[str, Any]], None] | None = None,
        control: bool = False,
    ) -> None:
        """Create the emulator; ``app`` is ready to serve (with ``/_control`` if asked)."""
        self.api_keys: set[str] = {"test-key"} if api_keys is None else api_keys
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.rate_limit_per_hour = rate_limit_per_hour
        self.on_accept = on_accept
        self.submissions: list[Submission] = []
        self.deleted_ids: list[str] = []
        # Every erase request: the id and the API key it came with.
        self.erasure_keys: list[tuple[str, str | None]] = []
        self.log: list[tuple[datetime, str, int]] = []
        self.slow_seconds = 0.0
        self.reset_next = 0
        self.down = False
        self.mode = "normal"
        self.fail_status = 503
        self.received: list[dict[str, Any]] = []
        self._failures: list[tuple[str, int, str | None]] = []
        self._windows: dict[str, tuple[datetime, int]] = {}
        self.app = web.Application(middlewares=[self._control], client_max_size=2**30)
        self.app.router.add_post("/submit", self._submit)
        self.app.router.add_delete("/installation/{installation_id}", self._delete)
        self.app.router.add_get("/", self._root)
        self.app.router.add_get("/health", self._health)
        if control:
            self.app.router.add_get(CONTROL_PATH, self._control_get)
            self.app.router.add_post(CONTROL_PATH, self._control_post)

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """Bodies of the stored submissions, in order."""
        return [s.body for s in self.submissions]

    def submissions_for(self, installation_id: str) -> list[Submission]:
        """Stored submissions of one installation."""
        return [s for s in self.submissions if s.installation_id == installation_id]

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        endpoint: str = "submit",
        retry_after: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests to ``endpoint`` with ``status``."""
        self._failures.extend([(endpoint, status, retry_after)] * times)

    def _detail(self, status: int, endpoint: str = "submit") -> dict[str, Any]:
        """The body the real service sends with ``status``."""
        limit = f"Rate limit exceeded. Maximum {self.rate_limit_per_hour} submissions"
        if status == 429:
            return {"detail": f"{limit} per hour."}
        detail = _DETAIL[endpoint] if status >= 500 else _DETAIL.get(status)
        phrase = HTTPStatus(status).phrase if status in HTTPStatus else "Error"
        return {"detail": detail or phrase}

    def _injected(self, endpoint: str) -> web.Response | None:
        """The next queued failure for ``endpoint``, if any."""
        failure = next((f for f in self._failures if f[0] == endpoint), None)
        if failure is None:
            return None
        self._failures.remove(failure)
        headers = {"Retry-After": failure[2]} if failure[2] is not None else None
        return _json(failure[1], self._detail(failure[1], endpoint), headers)

    def _auth(self, request: web.Request) -> web.Response | None:
        """FastAPI's APIKeyHeader (403) and the service's key check (401)."""
        key = request.headers.get("X-API-Key")
        refused = key not in self.api_keys or self.mode == "refuse-key"
        status = 403 if not key else 401 if refused else 0
        return _json(status, self._detail(status)) if status else None

    @web.middleware
    async def _control(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        """Apply slow/reset/down; log every request that reached a handler."""
        if (unrouted := request.match_info.http_exception) is not None:  # 404/405
            allow = {k: v for k, v in unrouted.headers.items() if k == "Allow"}
            return _json(unrouted.status, {"detail": unrouted.reason}, allow)
        if request.path == CONTROL_PATH:
            return await handler(request)
        arrived = self.now()
        installation_id = request.match_info.get("installation_id") or (
            _installation_of(await request.read())
        )
        if self.slow_seconds:
            await asyncio.sleep(self.slow_seconds)
        if self.reset_next > 0:
            self.reset_next -= 1
            self._record(request, arrived, installation_id, 0)
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never reaches the client
        if self.down:
            response: web.StreamResponse = _json(503, {"detail": "Service Unavailable"})
        else:
            response = await handler(request)
        self._record(request, arrived, installation_id, response.status)
        return response

    def _record(
        self, request: web.Request, arrived: datetime, installation_id: str, status: int
    ) -> None:
        """Keep what arrived, in ``log`` and (with method and path) in ``received``."""
        self.log.append((arrived, installation_id, status))
        self.received.append(
            {
                "at": arrived.isoformat(timespec="seconds"),
                "method": request.method,
                "path": request.path,
                "installation_id": installation_id,
                "status": status,
            }
        )
        del self.received[:-RECEIVED_KEPT]

    def set_mode(self, mode: str, status: int | None = None) -> None:
        """Answer as ``mode`` from now on (``fail``: with ``status``, a 5xx)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if mode == "fail":
            if status is None or not 500 <= status <= 599:
                raise ValueError("fail needs a status from 500 to 599")
            self.fail_status = status
        self.mode = mode

    def status(self) -> dict[str, Any]:
        """The mode and what arrived: for ``GET /_control`` and ``scripts/devctl status``."""
        return {
            "mode": self.mode,
            "fail_status": self.fail_status if self.mode == "fail" else None,
            "stored_reports": len(self.submissions),
            "last_report": self.accepted[-1] if self.accepted else None,
            "deleted_ids": self.deleted_ids,
            "received": self.received,
        }

    async def _control_get(self, request: web.Request) -> web.Response:
        """GET /_control: the current mode and the requests received."""
        if not _local(request):
            return _json(403, {"detail": "loopback clients only"})
        return _json(200, self.status())

    async def _control_post(self, request: web.Request) -> web.Response:
        """POST /_control: change the mode (loopback clients only)."""
        if not _local(request):
            return _json(403, {"detail": "loopback clients only"})
        try:
            order = json.loads(await request.read())
            self.set_mode(str(order["mode"]), order.get("status"))
        except (ValueError, KeyError, TypeError) as err:
            return _json(400, {"detail": str(err)})
        print(f"stats_service: mode {self.mode}", file=sys.stderr, flush=True)
        return _json(200, self.status())

    async def _root(self, request: web.Request) -> web.Response:
        """GET / as the real service."""
        service = "Printernizer Usage Statistics Aggregation"
        return _json(200, {"service": service, "status": "healthy", "version": "1.0.0"})

    async def _health(self, request: web.Request) -> web.Response:
        """GET /health as the real service (naive UTC timestamp)."""
        stamp = self.now().astimezone(UTC).replace(tzinfo=None).isoformat()
        answer = {"status": "healthy", "timestamp": stamp, "database": "connected"}
        return _json(200, answer)

    async def _submit(self, request: web.Request) -> web.Response:
        """POST /submit in FastAPI's order: parse, auth, validate, rate limit, store."""
        if (injected := self._injected("submit")) is not None:
            return injected
        if self.mode == "fail":
            return _json(self.fail_status, self._detail(self.fail_status))
        raw = await request.read()
        body: Any = None
        mime = request.content_type if request.headers.get("Content-Type") else ""
        as_json = mime in ("", "application/json") or mime.endswith("+json")
        if raw and as_json:
            try:
                body = json.loads(raw)
            except json.JSONDecodeError as err:
                invalid = _entry("json_invalid", ["body", err.pos], {}, error=err.msg)
                return _json(422, {"detail": [invalid]})
            except (ValueError, RecursionError):
                return _json(400, {"detail": "There was an error parsing the body"})
        if (denied := self._auth(request)) is not None:
            return denied
        if not raw or (as_json and body is None):
            errors = [_entry("missing", ["body"], None)]
        elif not as_json:  # pydantic is handed the raw bytes
            text = raw.decode(errors="replace")
            errors = [_entry("model_attributes_type", ["body"], text)]
        else:
            errors = validate_report(body)
        if errors:
            return _json(422, {"detail": errors})
        installation_id: str = body["installation"]["installation_id"]
        now = self.now()
        start, count = self._windows.get(installation_id, (now, 0))
        if count and now - start > timedelta(hours=1):
            start, count = now, 0
        elif (count and count >= self.rate_limit_per_hour) or self.mode == "rate-limit":
            return _json(429, self._detail(429))
        self._windows[installation_id] = (start, count + 1)  # even if storing fails
        parts = [body["printer_fleet"], body["usage_stats"]]
        columns = [v for part in parts for k, v in part.items() if k in _COLUMNS]
        if max(columns, default=0) > 2**63 - 1:  # its INTEGER columns overflow
            return _json(500, self._detail(500))
        new_id = max((s.submission_id for s in self.submissions), default=0) + 1
        key = request.headers.get("Idempotency-Key")
        self.submissions.append(
            Submission(new_id, installation_id, body, key, now, raw)
        )
        if self.on_accept is not None:
            self.on_accept(body)
        message = "Statistics submitted successfully"
        answer = {"status": "success", "submission_id": new_id, "message": message}
        return _json(200, answer)

    async def _delete(self, request: web.Request) -> web.Response:
        """DELETE /installation/{id}: drop its submissions and its rate-limit window."""
        self.erasure_keys.append(
            (request.match_info["installation_id"], request.headers.get("X-API-Key"))
        )
        if (injected := self._injected("delete")) is not None:
            return injected
        if self.mode == "fail":
            return _json(self.fail_status, self._detail(self.fail_status, "delete"))
        if (denied := self._auth(request)) is not None:
            return denied
        gone = request.match_info["installation_id"]
        count = len(self.submissions_for(gone))
        self.submissions = [s for s in self.submissions if s.installation_id != gone]
        self._windows.pop(gone, None)
        self.deleted_ids.append(gone)
        message = f"Deleted {count} submissions for installation {gone}"
        answer = {"status": "success", "deleted_count": count, "message": message}
        return _json(200, answer)


def main(argv: list[str] | None = None) -> None:
    """Serve the emulator until interrupted, printing accepted reports as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", type=loopback_host, default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api-key", action="append", dest="api_keys", default=None)
    parser.add_argument("--rate-limit", type=int, default=1, help="per hour")
    args = parser.parse_args(argv)
    emulator = StatsServiceEmulator(
        api_keys=set(args.api_keys or ["dev-key"]),
        rate_limit_per_hour=args.rate_limit,
        on_accept=lambda body: print(json.dumps(body, sort_keys=True), flush=True),
        control=True,
    )
    banner = functools.partial(print, file=sys.stderr)  # stdout carries the reports
    web.run_app(emulator.app, host=args.host, port=args.port, print=banner)


if __name__ == "__main__":
    main()
