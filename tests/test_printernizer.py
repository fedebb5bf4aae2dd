"""The Printernizer client on recorded answers of Printernizer 2.42.0, hostile servers and the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
import gzip
import json
import socket
import time
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict
import pytest

from custom_components.printernizer_stats.errors import (
    CannotConnectError,
    ClientError,
    InvalidResponseError,
    RateLimitedError,
)
from custom_components.printernizer_stats.printernizer import (
    DEFAULT_RETRY_AFTER,
    MAX_PAGES,
    MAX_RESPONSE_BYTES,
    MAX_RETRY_AFTER,
    PAGE_LIMIT,
    File,
    Health,
    Job,
    Printer,
    PrinternizerClient,
    PrinternizerFacts,
    _read_capped,
    normalize_url,
    parse_time,
    retry_after,
)
from custom_components.printernizer_stats.stored import Reading
from simulator.printernizer import PrinternizerSimulator

from .conftest import FIXTURES, load_fixture, serve

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override conftest's: the client is free of Home Assistant, so no `hass` per test."""


RECORDED = FIXTURES / "printernizer"
INDEX: dict[str, dict[str, Any]] = {
    entry["file"]: entry
    for entry in json.loads((RECORDED / "_index.json").read_text(encoding="utf-8"))
}
PRINTER_1 = "f541b1c5-d3aa-4277-b617-2d5194f4bacc"  # bambu_lab
PRINTER_2 = "6f261769-910d-45ab-82f7-028814ca2a69"  # prusa_core
PRINTER_3 = "9ee553e6-a7ff-4925-8b73-9f56606c3c9a"  # created as octoprint
JOB_1 = "34eabd04-8cb8-4d48-91d0-1dd0fe6adebf"  # on printer 1
JOB_2 = "af0dcd3b-5cde-4029-a112-2d34a11b62ab"  # on printer 2
JOB_3 = "810c52ca-6c55-482a-bfbf-74f59055ecf7"  # on printer 3
# What a client reads; every recorded body is served on each of them.
READS: dict[str, str] = {
    "health": "health",
    "system/info": "uptime_seconds",
    "usage-stats/status": "shares_statistics",
    "printers": "printers",
    "jobs": "jobs",
    "files": "files",
}

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _name(prefix: str) -> str:
    """The recording called `prefix`_*.json."""
    (name,) = [name for name in INDEX if name.startswith(f"{prefix}_")]
    return name


def _response(name: str) -> web.Response:
    """A recorded answer: its body, its status and every header Printernizer sent."""
    entry = INDEX[name]
    headers = CIMultiDict(
        (key, value) for key, value in entry["headers"] if key != "content-length"
    )
    body = (RECORDED / entry["file"]).read_bytes()
    return web.Response(status=entry["status"], body=body, headers=headers)


def pages(*prefixes: str) -> Handler:
    """Answer page N with the Nth recording (the last one past the end)."""

    async def handler(request: web.Request) -> web.Response:
        page = int(request.query.get("page", "1"))
        return _response(_name(prefixes[min(page, len(prefixes)) - 1]))

    return handler


def answer(body: object, status: int = 200, **headers: str) -> Handler:
    """Answer with a fixed JSON body."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(body, status=status, headers=headers)

    return handler


def raw(text: str, status: int = 200, **headers: str) -> Handler:
    """Answer with a fixed text labelled as JSON."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            text=text, status=status, content_type="application/json", headers=headers
        )

    return handler


def listing(key: str, items: list[Any], *, total: bool = True) -> Handler:
    """A listing served in pages of the requested size, with or without total_pages."""

    async def handler(request: web.Request) -> web.Response:
        page, limit = int(request.query["page"]), int(request.query["limit"])
        body: dict[str, Any] = {key: items[(page - 1) * limit : page * limit]}
        if total:
            body["pagination"] = {"page": page, "total_pages": -(-len(items) // limit)}
        return web.json_response(body)

    return handler


@dataclass
class Api:
    """Printernizer stand-ins on 127.0.0.1 and the requests they received."""

    session: aiohttp.ClientSession
    seen: list[str] = field(default_factory=list)
    servers: list[TestServer] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def client(
        self, routes: dict[str, Handler], *, seconds: float = 10
    ) -> PrinternizerClient:
        """Serve `routes` (path below /api/v1/ → handler) and return a client for them."""

        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.seen.append(request.path_qs)
            return await handler(request)

        app = web.Application(middlewares=[record])
        for path, handler in routes.items():
            app.router.add_get(f"/api/v1/{path}", handler)
        server = await serve(app)
        self.servers.append(server)
        return PrinternizerClient(
            self.session, str(server.make_url("/")), timeout=seconds
        )


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    """Stand-ins and a plain aiohttp session (the standard JSON decoder)."""
    async with aiohttp.ClientSession() as session:
        stand_ins = Api(session)
        yield stand_ins
        stand_ins.release.set()
        for server in stand_ins.servers:
            await server.close()


def _at(minute: int, second: int, micro: int = 0) -> datetime:
    """A time on the recording's day, 00:mm:ss (naive, as Printernizer sends it)."""
    return datetime(2026, 11, 30, 0, minute, second, micro)


# --- health, uptime, sharing ---------------------------------------------------------


@pytest.mark.parametrize("prefix", ["01", "06b", "08a"])
async def test_health_recorded(api: Api, prefix: str) -> None:
    """/health of 2.42.0 gives its status and release; its uptime is always null."""
    assert load_fixture(_name(prefix))["uptime_seconds"] is None
    client = await api.client({"health": pages(prefix)})
    assert await client.health() == Health(status="healthy", version="2.42.0")
    assert [f.name for f in fields(Health)] == ["status", "version"]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.42.0-3-g1a2b3c4", "2.42.0"),
        ("2.42.0-dirty", "2.42.0"),
        ("2.42.0-3-g1a2b3c4-dirty", "2.42.0"),
        ("v2.42.0", "2.42.0"),
        ("1a2b3c4", "unknown"),
        ("1a2b3c4-dirty", "unknown"),
        ("unknown", "unknown"),
        ("CANARY-VERSION", "unknown"),
        (None, "unknown"),
        (2.42, "unknown"),
    ],
)
async def test_health_version_forms(api: Api, version: object, expected: str) -> None:
    """A source install's `git describe` counts as its release; a bare hash is unknown."""
    body = load_fixture(_name("01")) | {"version": version}
    client = await api.client({"health": answer(body)})
    assert (await client.health()).version == expected


@pytest.mark.parametrize(
    "body", [{"version": "2.42.0"}, {"status": 1}, ["healthy"], "healthy"]
)
async def test_health_without_status(api: Api, body: object) -> None:
    """An answer without a status string is not Printernizer's health."""
    client = await api.client({"health": answer(body)})
    with pytest.raises(InvalidResponseError, match="no_status"):
        await client.health()


async def test_uptime_seconds_recorded(api: Api) -> None:
    """/system/info carries the uptime that /health leaves null."""
    client = await api.client({"system/info": pages("01d")})
    assert await client.uptime_seconds() == 21.0
    assert api.seen == ["/api/v1/system/info"]


@pytest.mark.parametrize(
    "body",
    [
        {"uptime_seconds": None},
        {"uptime_seconds": -1},
        {"uptime_seconds": "21"},
        {"uptime_seconds": True},
        {},
        [21],
    ],
)
async def test_uptime_seconds_unusable(api: Api, body: object) -> None:
    """Anything but a non-negative number is no uptime."""
    client = await api.client({"system/info": answer(body)})
    assert await client.uptime_seconds() is None


@pytest.mark.parametrize("text", ["Infinity", "NaN", "1e999"])
async def test_uptime_seconds_not_finite(api: Api, text: str) -> None:
    """Non-finite numbers, which the standard decoder accepts, are no uptime."""
    client = await api.client({"system/info": raw(f'{{"uptime_seconds": {text}}}')})
    assert await client.uptime_seconds() is None


async def test_shares_statistics_recorded(api: Api) -> None:
    """/usage-stats/status says whether Printernizer itself shares (2.42.0: not opted in)."""
    client = await api.client({"usage-stats/status": pages("05b")})
    assert await client.shares_statistics() is False


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"opted_in": True}, True),
        ({"opted_in": "false"}, None),
        ({"opted_in": 1}, None),
        ({}, None),
        ([True], None),
    ],
)
async def test_shares_statistics_forms(
    api: Api, body: object, expected: bool | None
) -> None:
    """Only a boolean counts."""
    client = await api.client({"usage-stats/status": answer(body)})
    assert await client.shares_statistics() is expected


# --- listings ------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["02d", "03q", "08c"])
async def test_printers_recorded(api: Api, prefix: str) -> None:
    """Only id, type and status are kept; the printer created as octoprint is listed as prusa_core."""
    assert load_fixture(_name("02c"))["printer_type"] == "octoprint"
    client = await api.client({"printers": pages(prefix)})
    assert await client.printers() == [
        Printer(id=PRINTER_1, printer_type="bambu_lab", status="online"),
        Printer(id=PRINTER_2, printer_type="prusa_core", status="offline"),
        Printer(id=PRINTER_3, printer_type="prusa_core", status="offline"),
    ]
    assert [f.name for f in fields(Printer)] == ["id", "printer_type", "status"]
    assert api.seen == [f"/api/v1/printers?page=1&limit={PAGE_LIMIT}"]


STARTED_1 = _at(51, 28, 912816)
# Per recording: job id → (status, duration in seconds, finished).
JOB_STATES: dict[str, dict[str, tuple[str, float | None, datetime | None]]] = {
    "03d": {
        JOB_2: ("pending", None, None),
        JOB_3: ("pending", None, None),
        JOB_1: ("pending", None, None),
    },
    "03f": {
        JOB_2: ("pending", None, None),
        JOB_3: ("pending", None, None),
        JOB_1: ("running", None, None),
    },
    "03h": {
        JOB_2: ("pending", None, None),
        JOB_3: ("pending", None, None),
        JOB_1: ("running", None, None),
    },
    "03j": {
        JOB_2: ("failed", 0.0, _at(51, 36, 356454)),
        JOB_3: ("pending", None, None),
        JOB_1: ("running", None, None),
    },
    "03l": {
        JOB_2: ("failed", 0.0, _at(51, 36, 356454)),
        JOB_3: ("pending", None, None),
        JOB_1: (
            "completed",
            (_at(51, 48, 89887) - STARTED_1).total_seconds(),
            _at(51, 48, 89887),
        ),
    },
}
JOB_PRINTERS = {JOB_1: PRINTER_1, JOB_2: PRINTER_2, JOB_3: PRINTER_3}
JOB_CREATED = {JOB_1: _at(51, 22), JOB_2: _at(51, 26), JOB_3: _at(51, 26)}


@pytest.mark.parametrize("prefix", list(JOB_STATES))
async def test_jobs_recorded_statuses(api: Api, prefix: str) -> None:
    """Jobs through their statuses: type "unknown" with a printer id, duration from start to end."""
    client = await api.client({"jobs": pages(prefix)})
    assert await client.jobs() == [
        Job(
            id=ident,
            printer_id=JOB_PRINTERS[ident],
            printer_type="unknown",
            status=status,
            duration_seconds=duration,
            created=JOB_CREATED[ident],
            finished=finished,
        )
        for ident, (status, duration, finished) in JOB_STATES[prefix].items()
    ]


async def test_jobs_recorded_completed_duration(api: Api) -> None:
    """actual_duration stays null in 2.42.0: the completed job's 19 s come from end - start."""
    single = load_fixture(_name("03p"))
    assert single["actual_duration"] is None
    client = await api.client({"jobs": answer({"jobs": [single]})})
    (job,) = await client.jobs()
    assert job.duration_seconds == pytest.approx(19.177071)
    assert job.status == "completed"


async def test_jobs_recorded_forced_failure_lasts_nothing(api: Api) -> None:
    """Forced pending → failed sets start == end: 0 s, not unknown."""
    client = await api.client({"jobs": pages("03j")})
    failed = [job for job in await client.jobs() if job.status == "failed"]
    assert [job.duration_seconds for job in failed] == [0.0]


async def test_jobs_recorded_pages(api: Api) -> None:
    """Pages are followed until total_pages; the page past the end is not asked for."""
    client = await api.client({"jobs": pages("03m", "03n", "03o")})
    assert [job.id for job in await client.jobs()] == [JOB_2, JOB_3, JOB_1]
    assert api.seen == [
        f"/api/v1/jobs?page=1&limit={PAGE_LIMIT}",
        f"/api/v1/jobs?page=2&limit={PAGE_LIMIT}",
    ]


async def test_jobs_recorded_page_past_end(api: Api) -> None:
    """A page past the end is an empty page (200): not an error, and the last one read."""
    client = await api.client({"jobs": pages("03o")})
    assert await client.jobs() == []
    assert (
        len(api.seen) == 1
    )  # an empty page ends the listing, whatever total_pages says


async def test_jobs_recorded_restart_listing(api: Api) -> None:
    """After a Printernizer restart the job list is empty (jobs do not survive it)."""
    client = await api.client({"jobs": pages("08b")})
    assert await client.jobs() == []


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ({"actual_duration": 3600}, 3600.0),
        ({"actual_duration": 90.5, "start_time": "2026-11-30T00:00:00"}, 90.5),
        (
            {"start_time": "2026-11-30T00:00:00", "end_time": "2026-11-30T01:30:00"},
            5400.0,
        ),
        (
            {
                "started_at": "2026-11-30T00:00:00",
                "completed_at": "2026-11-30T00:00:19",
            },
            19.0,
        ),
        (
            {"start_time": "2026-11-30T00:00:05", "end_time": "2026-11-30T00:00:05"},
            0.0,
        ),
        (
            {"start_time": "2026-11-30T01:00:00", "end_time": "2026-11-30T00:00:00"},
            None,
        ),
        (
            {
                "actual_duration": -5,
                "start_time": "2026-11-30T00:00:00",
                "end_time": "2026-11-30T00:01:00",
            },
            60.0,
        ),
        (
            {
                "actual_duration": "600",
                "start_time": "2026-11-30T02:00:00+02:00",
                "end_time": "2026-11-30T00:10:00",
            },
            600.0,
        ),
        ({"actual_duration": None, "start_time": None, "end_time": None}, None),
        ({"start_time": "2026-11-30T00:00:00", "end_time": None}, None),
        ({"start_time": None, "end_time": "2026-11-30T00:00:00"}, None),
        ({"start_time": "soon", "end_time": "2026-11-30T00:00:00"}, None),
    ],
)
async def test_jobs_duration(
    api: Api, times: dict[str, object], expected: float | None
) -> None:
    """actual_duration when usable, else end - start; never negative; missing stays missing."""
    job_item = {"id": 1, "status": "completed", **times}
    client = await api.client({"jobs": answer({"jobs": [job_item]})})
    (job,) = await client.jobs()
    assert job.duration_seconds == expected


@pytest.mark.parametrize("prefix", ["04a", "04d", "04f"])
async def test_files_recorded_empty(api: Api, prefix: str) -> None:
    """/files lists no uploads: empty in every recording, even after an upload."""
    client = await api.client({"files": pages(prefix)})
    assert await client.files() == []


async def test_files_mapping(api: Api) -> None:
    """A file keeps status, size and download time (files use a space in their timestamps)."""
    upload = load_fixture(_name("04e"))
    printer_file = {
        "id": f"{PRINTER_1}_Mustermann_bracket_123.3mf",
        "status": "DOWNLOADED",
        "file_size": 2_000_000,
        "downloaded_at": "2026-11-30 00:52:08",
    }
    odd = {"id": 7, "status": "archived", "file_size": -1, "downloaded_at": 5}
    client = await api.client({"files": answer({"files": [upload, printer_file, odd]})})
    assert await client.files() == [
        File(id=upload["id"], status="downloaded", size_bytes=196.0, downloaded=None),
        File(
            id=printer_file["id"],
            status="downloaded",
            size_bytes=2_000_000.0,
            downloaded=_at(52, 8),
        ),
        File(id="7", status="unknown", size_bytes=None, downloaded=None),
    ]


async def test_listing_item_mapping(api: Api) -> None:
    """Unknown words become "unknown"; items without a usable id or status string are skipped."""
    printers = [
        {"id": "a", "printer_type": "creality_k1", "status": "sleeping"},
        {"id": "b", "printer_type": " Bambu_Lab ", "status": "PRINTING"},
        {"id": 3, "printer_type": None, "status": "3"},
        {"id": 4, "printer_type": "bambu_lab", "status": 3},
        {"id": 5, "printer_type": "bambu_lab"},
        {"id": True, "printer_type": "bambu_lab", "status": "online"},
        {"id": "", "printer_type": "bambu_lab", "status": "online"},
        {"id": 1.5, "printer_type": "bambu_lab", "status": "online"},
        {"printer_type": "bambu_lab", "status": "online"},
        "not an object",
    ]
    jobs = [{"id": 9, "printer_id": False, "printer_type": "OctoPrint", "status": "x"}]
    client = await api.client(
        {
            "printers": answer({"printers": printers}),
            "jobs": answer({"jobs": jobs}),
        }
    )
    assert await client.printers() == [
        Printer(id="a", printer_type="unknown", status="unknown"),
        Printer(id="b", printer_type="bambu_lab", status="printing"),
        Printer(id="3", printer_type="unknown", status="unknown"),
    ]
    assert client.skipped == {"printers": 7, "jobs": 0, "files": 0}
    assert await client.jobs() == [
        Job(
            id="9",
            printer_id=None,
            printer_type="octoprint",
            status="unknown",
            duration_seconds=None,
            created=None,
            finished=None,
        )
    ]


@pytest.mark.parametrize(
    ("count", "total", "requests"),
    [
        (0, True, 1),
        (99, False, 1),
        (200, True, 2),
        (200, False, 3),
        (250, True, 3),
        (250, False, 3),
        (PAGE_LIMIT * MAX_PAGES + 50, True, MAX_PAGES),
        (PAGE_LIMIT * MAX_PAGES + 50, False, MAX_PAGES),
    ],
)
async def test_listing_pagination(
    api: Api, count: int, total: bool, requests: int
) -> None:
    """Pages are followed by total_pages, else until a short page, never past MAX_PAGES."""
    items = [{"id": index, "status": "completed"} for index in range(count)]
    client = await api.client({"jobs": listing("jobs", items, total=total)})
    jobs = await client.jobs()
    assert [job.id for job in jobs] == [
        str(i) for i in range(min(count, PAGE_LIMIT * MAX_PAGES))
    ]
    assert api.seen == [
        f"/api/v1/jobs?page={page}&limit={PAGE_LIMIT}"
        for page in range(1, requests + 1)
    ]


async def test_listing_ignores_odd_total(api: Api) -> None:
    """A total_pages that is not an integer is ignored; a short page still ends the listing."""

    async def handler(request: web.Request) -> web.Response:
        size = PAGE_LIMIT if request.query["page"] == "1" else 3
        files = [
            {"id": f"{request.query['page']}-{i}", "status": "downloaded"}
            for i in range(size)
        ]
        return web.json_response({"files": files, "pagination": {"total_pages": True}})

    client = await api.client({"files": handler})
    assert len(await client.files()) == PAGE_LIMIT + 3
    assert len(api.seen) == 2


# --- failures ------------------------------------------------------------------------


async def test_rate_limited_recorded(api: Api) -> None:
    """The recorded 429 asks for 1 s in Retry-After (besides X-RateLimit-* and the body)."""
    headers = dict(INDEX[_name("06a")]["headers"])
    assert headers["retry-after"] == "1"
    assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(
        headers
    )
    client = await api.client({"jobs": pages("06a"), "printers": pages("06c")})
    for read in (client.jobs, client.printers):
        with pytest.raises(RateLimitedError) as raised:
            await read()
        assert raised.value.retry_after == timedelta(seconds=1)
        assert raised.value.status == 429
        assert raised.value.reason == "rate_limited"


async def test_rate_limited_reset_fallback(api: Api) -> None:
    """Without Retry-After, X-RateLimit-Reset (epoch seconds) says how long to wait."""
    reset = str(int(time.time()) + 30)
    body = load_fixture(_name("06a"))
    client = await api.client(
        {"jobs": answer(body, 429, **{"X-RateLimit-Reset": reset})}
    )
    with pytest.raises(RateLimitedError) as raised:
        await client.jobs()
    wait = raised.value.retry_after
    assert timedelta(seconds=25) <= wait <= timedelta(seconds=30)


async def test_rate_limited_body_fallback(api: Api) -> None:
    """Without either header, the body's retry_after_seconds (0.6) gives a whole second."""
    client = await api.client({"jobs": answer(load_fixture(_name("06a")), 429)})
    with pytest.raises(RateLimitedError) as raised:
        await client.jobs()
    assert raised.value.retry_after == timedelta(seconds=1)


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Retry-After": "1"}, None, timedelta(seconds=1)),
        ({"Retry-After": " 0 "}, None, timedelta(0)),
        ({"Retry-After": "120"}, None, timedelta(minutes=2)),
        ({"Retry-After": "999999"}, None, MAX_RETRY_AFTER),
        (
            {"Retry-After": "1234567"},
            {"details": {"retry_after_seconds": 2}},
            timedelta(seconds=2),
        ),
        (
            {"Retry-After": "\u0661"},
            {"details": {"retry_after_seconds": 0.6}},
            timedelta(seconds=1),
        ),
        (
            {"Retry-After": "Wed, 30 Nov 2026 01:00:00 GMT"},
            {"details": {"retry_after_seconds": 3.2}},
            timedelta(seconds=4),
        ),
        ({"X-RateLimit-Reset": "99999999999"}, None, MAX_RETRY_AFTER),
        ({"X-RateLimit-Reset": "1795999963"}, None, DEFAULT_RETRY_AFTER),
        (
            {"X-RateLimit-Reset": "²"},
            {"details": {"retry_after_seconds": 2}},
            timedelta(seconds=2),
        ),
        (
            {"X-RateLimit-Reset": "999999999999"},
            {"details": {"retry_after_seconds": 2}},
            timedelta(seconds=2),
        ),
        ({}, {"details": {"retry_after_seconds": 1e9}}, MAX_RETRY_AFTER),
        ({}, {"details": {"retry_after_seconds": 1e300}}, MAX_RETRY_AFTER),
        ({}, {"details": {"retry_after_seconds": float("inf")}}, MAX_RETRY_AFTER),
        ({}, {"details": {"retry_after_seconds": 10**400}}, MAX_RETRY_AFTER),
        ({}, {"details": {"retry_after_seconds": 300.5}}, MAX_RETRY_AFTER),
        ({}, {"details": {"retry_after_seconds": 299.5}}, timedelta(seconds=300)),
        ({}, {"details": {"retry_after_seconds": -0.0}}, timedelta(0)),
        ({}, {"details": {"retry_after_seconds": float("nan")}}, DEFAULT_RETRY_AFTER),
        ({}, {"details": {"retry_after_seconds": True}}, DEFAULT_RETRY_AFTER),
        ({"X-RateLimit-Reset": "0"}, None, DEFAULT_RETRY_AFTER),
        ({}, {"details": {"retry_after_seconds": -1}}, DEFAULT_RETRY_AFTER),
        ({}, {"details": {"retry_after_seconds": "0.6"}}, DEFAULT_RETRY_AFTER),
        ({}, {"details": "soon"}, DEFAULT_RETRY_AFTER),
        ({}, ["retry_after_seconds"], DEFAULT_RETRY_AFTER),
        ({}, None, DEFAULT_RETRY_AFTER),
    ],
)
def test_retry_after_forms(
    headers: dict[str, str], body: object, expected: timedelta
) -> None:
    """Retry-After, else X-RateLimit-Reset, else the body; capped; a default otherwise."""
    assert retry_after(headers, body) == expected


@pytest.mark.parametrize(
    ("prefix", "status"),
    [
        ("07a", 404),
        ("07b", 422),
        ("07c", 422),
        ("07d", 404),
        ("07e", 400),
        ("07f", 404),
        ("07g", 422),
        ("07h", 409),
        ("04b", 400),
    ],
)
async def test_error_envelope_client_errors(api: Api, prefix: str, status: int) -> None:
    """Printernizer's 4xx envelopes mean it did not answer as expected."""
    assert INDEX[_name(prefix)]["status"] == status
    client = await api.client({"jobs": pages(prefix)})
    with pytest.raises(InvalidResponseError) as raised:
        await client.jobs()
    assert (raised.value.reason, raised.value.status) == (f"http_{status}", status)


async def test_error_envelope_server_error(api: Api) -> None:
    """The recorded 500 envelope is an outage worth retrying."""
    client = await api.client({"health": pages("03g")})
    with pytest.raises(CannotConnectError) as raised:
        await client.health()
    assert (raised.value.reason, raised.value.status) == ("http_500", 500)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (301, InvalidResponseError),
        (302, InvalidResponseError),
        (307, InvalidResponseError),
        (308, InvalidResponseError),
        (401, InvalidResponseError),
        (502, CannotConnectError),
        (503, CannotConnectError),
    ],
)
async def test_client_http_status_never_followed(
    api: Api, status: int, error: type[ClientError]
) -> None:
    """Redirects are never followed; 5xx is an outage."""
    target = answer({"status": "healthy", "version": "2.42.0"})
    client = await api.client(
        {
            "health": answer({"status": "healthy"}, status, Location="/api/v1/moved"),
            "moved": target,
        }
    )
    with pytest.raises(error, match=f"http_{status}"):
        await client.health()
    assert api.seen == ["/api/v1/health"]


@pytest.mark.parametrize(
    "text",
    ["<html>Printernizer</html>", "", "{'status': 1}", "[" * 100_000, "\udcff"],
    ids=["html", "empty", "python", "deep", "not_utf8"],
)
async def test_client_not_json(api: Api, text: str) -> None:
    """A 200 that is not JSON (or nested too deep to decode) is not Printernizer."""

    async def handler(request: web.Request) -> web.Response:
        body = text.encode(errors="surrogateescape")
        return web.Response(body=body, content_type="application/json")

    client = await api.client({"health": handler})
    with pytest.raises(InvalidResponseError, match="not_json"):
        await client.health()


@pytest.mark.parametrize(
    "body", [{"jobs": None}, {"items": []}, {"pagination": {}}, [], "jobs", 42]
)
async def test_listing_not_a_list(api: Api, body: object) -> None:
    """A listing without its list of items is not Printernizer."""
    client = await api.client({"jobs": answer(body)})
    with pytest.raises(InvalidResponseError, match="not_a_listing"):
        await client.jobs()


async def test_client_timeout(api: Api) -> None:
    """No answer within the timeout is an outage."""

    async def hang(request: web.Request) -> web.Response:
        await api.release.wait()
        return web.json_response({"status": "healthy"})

    client = await api.client({"health": hang}, seconds=0.05)
    with pytest.raises(CannotConnectError, match="timeout"):
        await client.health()


async def test_client_connection_refused() -> None:
    """Nothing listening is an outage."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with aiohttp.ClientSession() as session:
        client = PrinternizerClient(session, f"http://127.0.0.1:{port}")
        with pytest.raises(CannotConnectError, match="connection_error"):
            await client.printers()


# --- hostile answers: sizes, items, values ------------------------------------------


def _padded(document: object, size: int) -> bytes:
    """`document` as JSON, padded with blanks to exactly `size` bytes."""
    text = json.dumps(document).encode()
    return text + b" " * (size - len(text))


def chunked(body: bytes) -> Handler:
    """Answer with `body` without a Content-Length (chunked)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 65_536):
            await response.write(body[start : start + 65_536])
        await response.write_eof()
        return response

    return handler


def sized(body: bytes) -> Handler:
    """Answer with `body` and its Content-Length."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    return handler


@pytest.mark.parametrize("serve_as", [sized, chunked], ids=["length", "chunked"])
@pytest.mark.parametrize(
    ("size", "readable"),
    [(1_048_576, True), (1_048_577, False), (5_000_000, False)],
)
async def test_client_size_cap(
    api: Api, serve_as: Callable[[bytes], Handler], size: int, readable: bool
) -> None:
    """A body of 1 MiB is read; one byte more is refused, with or without Content-Length."""
    assert MAX_RESPONSE_BYTES == 1_048_576
    body = _padded({"status": "healthy", "version": "2.42.0"}, size)
    assert len(body) == size
    client = await api.client({"health": serve_as(body)})
    if readable:
        assert (await client.health()).version == "2.42.0"
        return
    with pytest.raises(InvalidResponseError, match="too_large") as raised:
        await client.health()
    assert raised.value.status == 200


async def test_client_size_cap_declared_never_read(api: Api) -> None:
    """A Content-Length over the cap is refused at once: the body that never comes is not awaited."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 60_000_000
        await response.prepare(request)
        await response.write(b'{"jobs": [')
        await api.release.wait()
        return response

    client = await api.client({"jobs": handler}, seconds=3)
    with pytest.raises(InvalidResponseError, match="too_large"):
        await client.jobs()


async def test_client_size_cap_reads_at_most_cap_plus_one() -> None:
    """Without Content-Length, an endless body is read to 1 MiB + 1 byte, never further."""

    class Endless:
        """A stream that always has more."""

        given = 0

        async def read(self, size: int) -> bytes:
            chunk = b" " * min(size, 65_536)
            self.given += len(chunk)
            return chunk

    stream = Endless()
    response: Any = SimpleNamespace(headers=CIMultiDict(), content=stream)
    assert await _read_capped(response) is None
    assert stream.given == MAX_RESPONSE_BYTES + 1


async def test_client_never_inflates(api: Api) -> None:
    """Identity is asked for; a compressed body anyway is not inflated, so not JSON."""
    accepted: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        accepted.append(request.headers.get("Accept-Encoding", ""))
        body = gzip.compress(json.dumps({"status": "healthy"}).encode())
        return web.Response(
            body=body,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )

    client = await api.client({"health": handler})
    with pytest.raises(InvalidResponseError, match="not_json"):
        await client.health()
    assert accepted == ["identity"]


async def test_rate_limited_oversized_body(api: Api) -> None:
    """A 429 whose body is too large still means: wait (here as its header says)."""
    body = _padded({"details": {"retry_after_seconds": 60}}, 2_000_000)
    client = await api.client({"jobs": raw(body.decode(), 429, **{"Retry-After": "7"})})
    with pytest.raises(RateLimitedError) as raised:
        await client.jobs()
    assert raised.value.retry_after == timedelta(seconds=7)


async def test_rate_limited_huge_body_wait(api: Api) -> None:
    """retry_after_seconds of 1e300 (which overflowed timedelta) waits 5 minutes."""
    text = '{"status": "error", "details": {"retry_after_seconds": 1e300}}'
    client = await api.client({"jobs": raw(text, 429)})
    with pytest.raises(RateLimitedError) as raised:
        await client.jobs()
    assert raised.value.retry_after == timedelta(minutes=5) == MAX_RETRY_AFTER


@pytest.mark.parametrize(("count", "kept"), [(100, 100), (101, 100), (5000, 100)])
async def test_listing_page_item_cap(api: Api, count: int, kept: int) -> None:
    """A page keeps 100 items; the rest are skipped and counted."""
    jobs = [{"id": index, "status": "completed"} for index in range(count)]
    body = {"jobs": jobs, "pagination": {"page": 1, "total_pages": 1}}
    client = await api.client({"jobs": answer(body)})
    assert [job.id for job in await client.jobs()] == [str(i) for i in range(kept)]
    assert client.skipped == {"printers": 0, "jobs": count - kept, "files": 0}
    assert len(api.seen) == 1


async def test_listing_bad_item_next_to_good(api: Api) -> None:
    """One unreadable job costs that job: the recorded one next to it is returned unchanged."""
    good = load_fixture(_name("03p"))
    client = await api.client({"jobs": answer({"jobs": [good, [good]]})})
    (job,) = await client.jobs()
    assert job.id == JOB_1
    assert job.duration_seconds == pytest.approx(19.177071)
    assert client.skipped == {"printers": 0, "jobs": 1, "files": 0}
    assert client.values_dropped == 0


@pytest.mark.parametrize(
    "item",
    [
        "job",
        None,
        7,
        [],
        {"status": "completed"},
        {"id": None, "status": "completed"},
        {"id": 2**63, "status": "completed"},
        {"id": -(2**63) - 1, "status": "completed"},
        {"id": "x" * 1025, "status": "completed"},
        {"id": {"id": 1}, "status": "completed"},
        {"id": 1},
        {"id": 1, "status": None},
        {"id": 1, "status": ["completed"]},
        {"id": 1, "status": {"completed": True}},
    ],
)
async def test_listing_unreadable_items_skipped(api: Api, item: object) -> None:
    """Not an object, no usable id, or no status string: skipped, and counted per listing."""
    client = await api.client(
        {
            "jobs": answer({"jobs": [item, {"id": 2, "status": "failed"}]}),
            "files": answer({"files": [item, {"id": 3, "status": "downloaded"}]}),
            "printers": answer({"printers": [item, {"id": 4, "status": "online"}]}),
        }
    )
    assert [job.id for job in await client.jobs()] == ["2"]
    assert [file.id for file in await client.files()] == ["3"]
    assert [printer.id for printer in await client.printers()] == ["4"]
    assert client.skipped == {"printers": 1, "jobs": 1, "files": 1}
    assert client.values_dropped == 0


async def test_listing_ids_at_their_bounds(api: Api) -> None:
    """Ids up to 1024 characters and 64-bit integers are kept."""
    ids: list[object] = ["x" * 1024, 2**63 - 1, -(2**63), 0, "0"]
    client = await api.client(
        {"jobs": answer({"jobs": [{"id": i, "status": "pending"} for i in ids]})}
    )
    assert [job.id for job in await client.jobs()] == [str(i) for i in ids]
    assert client.skipped["jobs"] == 0


async def test_client_counts_accumulate(api: Api) -> None:
    """Counts grow with each read; `skipped` is a copy."""
    body = {"jobs": [{"id": 1, "status": "pending", "created_at": "0001-01-01"}, 5]}
    client = await api.client({"jobs": answer(body)})
    for reads in (1, 2):
        (job,) = await client.jobs()
        assert job.created is None
        assert client.skipped["jobs"] == reads
        assert client.values_dropped == reads
    client.skipped["jobs"] = 0
    assert client.skipped["jobs"] == 2


@pytest.mark.parametrize(
    ("values", "expected", "dropped"),
    [
        ({"created_at": "0001-01-01T00:00:00+05:00"}, {"created": None}, 1),
        ({"created_at": "9999-12-31T23:59:59"}, {"created": None}, 1),
        ({"created_at": "1999-12-31T23:59:59"}, {"created": None}, 1),
        ({"created_at": 1795999963}, {"created": None}, 1),
        ({"created_at": None}, {"created": None}, 0),
        (
            {"created_at": "2099-12-31T23:59:59"},
            {"created": datetime(2099, 12, 31, 23, 59, 59)},
            0,
        ),
        ({"completed_at": "0001-01-01T00:00:00"}, {"finished": None}, 1),
        ({"completed_at": "2026-11-30T00:00:00+99:00"}, {"finished": None}, 1),
        ({"actual_duration": 31_536_000}, {"duration_seconds": 31_536_000.0}, 0),
        ({"actual_duration": 31_536_001}, {"duration_seconds": None}, 1),
        ({"actual_duration": 1e22}, {"duration_seconds": None}, 1),
        ({"actual_duration": 1e308}, {"duration_seconds": None}, 1),
        ({"actual_duration": 10**400}, {"duration_seconds": None}, 1),
        ({"actual_duration": -0.0}, {"duration_seconds": 0.0}, 0),
        (
            {"start_time": "2000-01-01T00:00:00", "end_time": "2001-01-01T00:00:00"},
            {"duration_seconds": None, "finished": datetime(2001, 1, 1)},
            1,
        ),
        (
            {"start_time": "2026-01-01T00:00:00", "end_time": "2026-12-31T00:00:00"},
            {"duration_seconds": 364 * 86_400.0},
            0,
        ),
        (
            {"start_time": "0001-01-01T00:00:00", "end_time": "2026-01-01T00:00:00"},
            {"duration_seconds": None, "finished": datetime(2026, 1, 1)},
            1,
        ),
        ({"printer_id": True}, {"printer_id": None}, 1),
        ({"printer_id": 7}, {"printer_id": "7"}, 0),
    ],
)
async def test_jobs_values_out_of_range(
    api: Api, values: dict[str, object], expected: dict[str, object], dropped: int
) -> None:
    """An unreadable or implausible value is dropped (and counted); the job stays."""
    item = {"id": 1, "status": "completed"} | values
    client = await api.client({"jobs": answer({"jobs": [item]})})
    (job,) = await client.jobs()
    assert {key: getattr(job, key) for key in expected} == expected
    assert client.values_dropped == dropped
    assert client.skipped["jobs"] == 0


@pytest.mark.parametrize(
    ("values", "size", "downloaded", "dropped"),
    [
        ({"file_size": 10**12}, 1e12, None, 0),
        ({"file_size": 10**12 + 1}, None, None, 1),
        ({"file_size": 1e300}, None, None, 1),
        ({"file_size": -0.0}, 0.0, None, 0),
        ({"file_size": "196"}, None, None, 1),
        ({"downloaded_at": "0001-01-01 00:00:00"}, None, None, 1),
        ({"downloaded_at": "2000-01-01 00:00:00"}, None, datetime(2000, 1, 1), 0),
    ],
)
async def test_files_values_out_of_range(
    api: Api,
    values: dict[str, object],
    size: float | None,
    downloaded: datetime | None,
    dropped: int,
) -> None:
    """A size over 1 TB or a download time outside 2000-2099 is dropped; the file stays."""
    client = await api.client(
        {"files": answer({"files": [{"id": "f", "status": "downloaded"} | values]})}
    )
    (file,) = await client.files()
    assert (file.size_bytes, file.downloaded) == (size, downloaded)
    assert client.values_dropped == dropped


@pytest.mark.parametrize(
    ("text", "expected", "dropped"),
    [
        ('{"uptime_seconds": 1e22}', None, 1),
        ('{"uptime_seconds": 630720000}', 630_720_000.0, 0),
        ('{"uptime_seconds": 630720001}', None, 1),
        ('{"uptime_seconds": 1e400}', None, 1),
        ('{"uptime_seconds": -0.0}', 0.0, 0),
        ('{"uptime_seconds": 1' + "0" * 400 + "}", None, 1),
        ('{"uptime_seconds": null}', None, 0),
    ],
)
async def test_uptime_seconds_bounded(
    api: Api, text: str, expected: float | None, dropped: int
) -> None:
    """An uptime over 20 years is none (and counted as dropped)."""
    client = await api.client({"system/info": raw(text)})
    assert await client.uptime_seconds() == expected
    assert client.values_dropped == dropped


async def test_health_status_too_long(api: Api) -> None:
    """A status too long to be a word is "unknown"; the health read still succeeds."""
    client = await api.client({"health": answer({"status": "h" * 65})})
    assert await client.health() == Health(status="unknown", version="unknown")


@pytest.mark.parametrize(
    ("total_pages", "requests"),
    [
        (10**30, MAX_PAGES),
        (-(10**30), 1),
        (0, 1),
        (2, 2),
        (2.0, MAX_PAGES),
        (None, MAX_PAGES),
    ],
)
async def test_listing_total_pages_hostile(
    api: Api, total_pages: object, requests: int
) -> None:
    """Huge, negative or odd total_pages: never more than MAX_PAGES requests."""
    items = [{"id": index, "status": "completed"} for index in range(PAGE_LIMIT)]
    body = {"jobs": items, "pagination": {"total_pages": total_pages}}
    client = await api.client({"jobs": answer(body)})
    assert len(await client.jobs()) == PAGE_LIMIT * requests
    assert len(api.seen) == requests


async def test_listing_short_page_with_bad_items_continues(api: Api) -> None:
    """Skipped items do not shorten a page: a full page of 100 asks for the next."""
    pages_served = {
        "1": [{"id": i, "status": "completed"} for i in range(99)] + ["junk"],
        "2": [{"id": "last", "status": "completed"}],
    }

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"jobs": pages_served[request.query["page"]]})

    client = await api.client({"jobs": handler})
    assert len(await client.jobs()) == 100
    assert len(api.seen) == 2
    assert client.skipped["jobs"] == 1


# --- privacy -------------------------------------------------------------------------


async def test_client_no_canary_in_any_model(api: Api) -> None:
    """Every recording served to every read: no CANARY value reaches a model or an error, even in repr."""

    async def recorded(request: web.Request) -> web.Response:
        return _response(request.match_info["name"])

    app = web.Application()
    app.router.add_get("/{name}/api/v1/{path:.*}", recorded)
    server = await serve(app)
    api.servers.append(server)
    clients = [
        PrinternizerClient(api.session, str(server.make_url(f"/{name}")))
        for name in INDEX
    ]
    wrapped = {
        "jobs": {"jobs": [load_fixture(_name("03p"))]},
        "files": {
            "files": [
                load_fixture(_name("04e")),
                load_fixture(_name("04c"))["uploaded_files"][0]
                | {"id": "upload_20261130_005208_CANARY-UPLOAD-1.gcode"},
            ]
        },
        "printers": {
            "printers": [load_fixture(_name(p)) for p in ("02a", "02b", "02c")]
        },
    }
    clients.append(
        await api.client({path: answer(body) for path, body in wrapped.items()})
    )
    seen: list[str] = []
    for each in clients:
        for method in READS.values():
            try:
                seen.append(repr(await getattr(each, method)()))
            except ClientError as err:
                seen.append(f"{err!s} {err!r}")
    text = "\n".join(seen)
    assert "CANARY" not in text
    assert "Printer(printer_type='bambu_lab', status='unknown')" in text
    assert "File(status='downloaded', size_bytes=196.0, downloaded=None)" in text


async def test_client_simulator_listings(
    printernizer: PrinternizerSimulator, printernizer_url: str
) -> None:
    """Against the simulator: at most MAX_PAGES pages, and names in file ids stay out of repr."""
    for _ in range(PAGE_LIMIT * MAX_PAGES + 50):
        printernizer.add_job()
    file_ids = [printernizer.add_file(status="downloaded") for _ in range(3)]
    async with aiohttp.ClientSession() as session:
        client = PrinternizerClient(session, printernizer_url + "/")
        printers = await client.printers()
        jobs = await client.jobs()
        files = await client.files()
    assert [p.printer_type for p in printers] == [
        "bambu_lab",
        "prusa_core",
        "prusa_core",
    ]
    assert len(jobs) == PAGE_LIMIT * MAX_PAGES
    assert printernizer.requests["/api/v1/jobs"] == MAX_PAGES
    assert {job.printer_type for job in jobs} == {"unknown"}
    assert {job.printer_id for job in jobs} <= set(printernizer.printers)
    assert {file.id for file in files} == set(file_ids)
    assert all(file.downloaded is not None for file in files)
    names = [printernizer.files[ident]["filename"] for ident in file_ids]
    assert not any(name in repr(files) for name in names)


async def test_client_simulator_rate_limited(
    printernizer: PrinternizerSimulator, printernizer_url: str
) -> None:
    """The simulator's 429 asks for a second; /health stays exempt."""
    printernizer.throttle_every = 1
    async with aiohttp.ClientSession() as session:
        client = PrinternizerClient(session, printernizer_url)
        assert (await client.health()).version == "2.42.0"
        with pytest.raises(RateLimitedError) as raised:
            await client.printers()
    assert raised.value.retry_after == timedelta(seconds=1)


# --- URLs, times and facts -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://localhost:8000/", "http://localhost:8000"),
        ("  https://printernizer.local/base/ ", "https://printernizer.local/base"),
        ("http://127.0.0.1:8000/?x=1#frag", "http://127.0.0.1:8000"),
        ("HTTP://Example.org", "http://example.org"),
    ],
)
def test_normalize_url_accepts(url: str, expected: str) -> None:
    """Base URLs lose blanks, query, fragment and the trailing slash."""
    assert normalize_url(url) == expected


@pytest.mark.parametrize(
    "url", ["localhost:8000", "ftp://localhost", "http://", "//host:8000", "", "x"]
)
def test_normalize_url_refuses(url: str) -> None:
    """Anything but an http(s) URL with a host is refused."""
    with pytest.raises(ValueError, match="http"):
        normalize_url(url)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-30T00:51:22", _at(51, 22)),
        ("2026-11-30 00:52:08", _at(52, 8)),
        ("2026-11-30T00:51:28.912816", _at(51, 28, 912816)),
        ("2026-11-30T02:51:22+02:00", _at(51, 22)),
        ("2026-11-30T00:51:22Z", _at(51, 22)),
        ("2000-01-01T00:00:00", datetime(2000, 1, 1)),
        ("2099-12-31T23:59:59.999999", datetime(2099, 12, 31, 23, 59, 59, 999999)),
        ("2000-01-01T00:30:00-01:00", datetime(2000, 1, 1, 1, 30)),
        ("1999-12-31T23:59:59", None),
        ("2100-01-01T00:00:00", None),
        ("2000-01-01T00:30:00+01:00", None),
        ("2099-12-31T23:30:00-01:00", None),
        ("0001-01-01T00:00:00", None),
        ("0001-01-01T00:00:00+05:00", None),
        ("9999-12-31T23:59:59", None),
        ("9999-12-31T23:59:59-05:00", None),
        ("1970-01-01T00:00:00Z", None),
        ("2026-11-30T00:51:22+24:00", None),
        ("2026-13-01T00:00:00", None),
        ("\udcff", None),
        ("yesterday", None),
        ("2026-11-30T00:51:22" + " " * 30, None),
        (1795999963, None),
        (None, None),
    ],
)
def test_parse_time_forms(value: object, expected: datetime | None) -> None:
    """Naive ISO with `T` or a space; an offset becomes naive UTC; outside 2000-2099 or anything else is None."""
    assert parse_time(value) == expected


def test_facts_fleet_and_count() -> None:
    """The fleet counts printers per type in the vocabulary's order."""
    printers = [
        Printer(id="1", printer_type="prusa_core", status="online"),
        Printer(id="2", printer_type="bambu_lab", status="offline"),
        Printer(id="3", printer_type="prusa_core", status="unknown"),
    ]
    fleet = PrinternizerFacts.fleet_of(printers)
    assert list(fleet.items()) == [("bambu_lab", 1), ("prusa_core", 2)]


def _reading() -> Reading:
    """A fresh context to read stored facts back in."""
    return Reading(datetime(2026, 11, 30, tzinfo=UTC))


def test_facts_storage_round_trip() -> None:
    """Facts survive JSON unchanged, and nothing is noted as damaged."""
    facts = PrinternizerFacts(
        app_version="2.42.0", fleet={"bambu_lab": 1}, shares_statistics=False
    )
    stored = json.loads(json.dumps(facts.as_storage()))
    reading = _reading()
    assert PrinternizerFacts.from_storage(stored, reading) == facts
    assert PrinternizerFacts.from_storage({}, reading) == PrinternizerFacts()
    assert not reading.damage


def test_facts_from_storage_cleans() -> None:
    """Stored facts are re-checked: odd fleet entries dropped, versions reduced to a release."""
    reading = _reading()
    restored = PrinternizerFacts.from_storage(
        {
            "app_version": "2.42.0-3-g1a2b3c4",
            "fleet": {"bambu_lab": 2, "CANARY-NAME-1": 1, "octoprint": True, "x": 0},
            "shares_statistics": None,
        },
        reading,
    )
    assert restored == PrinternizerFacts(app_version="2.42.0", fleet={"bambu_lab": 2})
    assert reading.damage.summary() == ["facts: release", "facts: printer count"]


@pytest.mark.parametrize(
    ("data", "expected", "damage"),
    [
        ({"fleet": [1]}, PrinternizerFacts(), ["facts: fleet"]),
        (
            {"fleet": "x", "app_version": "2.41.7"},
            PrinternizerFacts("2.41.7"),
            ["facts: fleet"],
        ),
        (
            {"shares_statistics": "yes", "fleet": {"octoprint": 1}},
            PrinternizerFacts(fleet={"octoprint": 1}),
            ["facts: sharing"],
        ),
        ({"app_version": "19.07.1985"}, PrinternizerFacts(), ["facts: release"]),
        (
            {"fleet": {"bambu_lab": 10_001}},
            PrinternizerFacts(fleet={}),
            ["facts: printer count"],
        ),
    ],
)
def test_facts_from_storage_drops_each_damaged_fact_alone(
    data: dict[str, Any], expected: PrinternizerFacts, damage: list[str]
) -> None:
    """A damaged fact is dropped and named; the others are kept."""
    reading = _reading()
    assert PrinternizerFacts.from_storage(data, reading) == expected
    assert reading.damage.summary() == damage


@pytest.mark.parametrize("data", [None, [], "facts"])
def test_facts_from_storage_refuses_a_non_object(data: object) -> None:
    """Only a section that is not an object raises ValueError (it is reset whole)."""
    with pytest.raises(ValueError, match="facts"):
        PrinternizerFacts.from_storage(data, _reading())


def test_client_base_url() -> None:
    """The client keeps the normalised base URL and refuses a bad one."""
    session: Any = object()
    assert PrinternizerClient(session, "http://h:8000/").base_url == "http://h:8000"
    with pytest.raises(ValueError, match="http"):
        PrinternizerClient(session, "h:8000")
