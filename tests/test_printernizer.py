"""Tests for the Printernizer REST client, against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
import dataclasses
import json
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import pytest

from custom_components.printernizer_stats.printernizer import (
    MAX_PAGES,
    PAGE_LIMIT,
    File,
    Health,
    Job,
    Printer,
    PrinternizerClient,
    PrinternizerConnectionError,
    PrinternizerResponseError,
    normalize_url,
)
from simulator.printernizer import PrinternizerSimulator

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
type Serve = Callable[[dict[str, Handler]], Awaitable[str]]

PII_FIELDS = (
    "name",
    "ip_address",
    "connection_config",
    "location",
    "description",
    "job_name",
    "filename",
    "customer_name",
    "file_path",
)


@pytest.fixture
async def serve(socket_enabled: None) -> AsyncIterator[Serve]:
    """Serve handlers (path below /api/v1/ → handler) on 127.0.0.1; return the base URL."""
    servers: list[TestServer] = []

    async def start(routes: dict[str, Handler]) -> str:
        app = web.Application()
        for path, handler in routes.items():
            app.router.add_get(f"/api/v1/{path}", handler)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


def _client(hass: HomeAssistant, url: str, **kwargs: Any) -> PrinternizerClient:
    """A client on Home Assistant's shared session."""
    return PrinternizerClient(async_get_clientsession(hass), url, **kwargs)


def _json(body: object) -> Handler:
    """A handler answering with a fixed JSON body."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(body)

    return handler


def _pages(
    items: list[dict[str, Any]], *, key: str, with_total: bool, seen: Counter[int]
) -> Handler:
    """A listing split into PAGE_LIMIT pages, with or without a pagination block."""

    async def handler(request: web.Request) -> web.Response:
        page = int(request.query["page"])
        limit = int(request.query["limit"])
        seen[page] += 1
        body: dict[str, Any] = {key: items[(page - 1) * limit : page * limit]}
        if with_total:
            body["pagination"] = {
                "page": page,
                "limit": limit,
                "total_items": len(items),
                "total_pages": -(-len(items) // limit),
            }
        return web.json_response(body)

    return handler


async def test_client_against_simulator(
    hass: HomeAssistant, printernizer: PrinternizerSimulator, printernizer_url: str
) -> None:
    """The simulator's answers are reduced to type, status, id, duration and size."""
    client = _client(hass, printernizer_url + "/")
    health = await client.health()
    assert health.status == "healthy"
    assert health.version == "2.7.0"
    assert health.uptime_seconds is not None

    printers = await client.printers()
    assert [printer.id for printer in printers] == printernizer.printer_ids
    assert [printer.printer_type for printer in printers] == [
        "bambu_lab",
        "prusa_core",
        "octoprint",
        "unknown",
    ]
    jobs = await client.jobs()
    assert {job.id for job in jobs} == {job.id for job in printernizer.jobs}
    assert all(job.duration_seconds for job in jobs)
    files = await client.files()
    assert {file.id for file in files} == {file.id for file in printernizer.files}
    assert all(file.size_bytes for file in files)

    for model in (Health, Printer, Job, File):
        assert not set(PII_FIELDS) & {field.name for field in dataclasses.fields(model)}


@pytest.mark.parametrize(
    "envelope",
    [
        lambda items: {"printers": items, "pagination": {"total_pages": 1}},
        lambda items: {"items": items},
        lambda items: {"data": items, "total_count": len(items)},
        lambda items: items,
        lambda items: {"printers": "not a list", "items": items},
    ],
)
async def test_client_listing_envelopes(
    hass: HomeAssistant, serve: Serve, envelope: Callable[[list[Any]], object]
) -> None:
    """A listing may come as {"printers": [...]}, {"items": [...]}, {"data": [...]} or a bare list."""
    items = [
        {"id": 1, "printer_type": "bambu_lab", "status": "online"},
        "not an object",
        {"id": "p2", "printer_type": " Prusa_Core ", "status": "PRINTING"},
    ]
    url = await serve({"printers": _json(envelope(items))})
    assert await _client(hass, url).printers() == [
        Printer(id="1", printer_type="bambu_lab", status="online"),
        Printer(id="p2", printer_type="prusa_core", status="printing"),
    ]


@pytest.mark.parametrize(
    "body", [{"printers": None}, {"pagination": {}}, "printers", 42, None]
)
async def test_client_listing_not_a_list(
    hass: HomeAssistant, serve: Serve, body: object
) -> None:
    """A listing without a list of items is not Printernizer."""
    url = await serve({"printers": _json(body)})
    with pytest.raises(PrinternizerResponseError):
        await _client(hass, url).printers()


@pytest.mark.parametrize(
    ("count", "with_total", "pages"),
    [
        (0, True, 1),
        (250, True, 3),
        (200, True, 2),
        (250, False, 3),
        (200, False, 3),
        (99, False, 1),
        (PAGE_LIMIT * MAX_PAGES + 1, True, MAX_PAGES),
        (PAGE_LIMIT * MAX_PAGES + 1, False, MAX_PAGES),
    ],
)
async def test_client_pagination(
    hass: HomeAssistant, serve: Serve, count: int, with_total: bool, pages: int
) -> None:
    """Pages are followed via total_pages or until a short page, at most MAX_PAGES."""
    seen: Counter[int] = Counter()
    jobs = [
        {"id": index, "status": "completed", "actual_duration": 60}
        for index in range(count)
    ]
    url = await serve(
        {"jobs": _pages(jobs, key="jobs", with_total=with_total, seen=seen)}
    )
    result = await _client(hass, url).jobs()
    assert seen == Counter(range(1, pages + 1))
    assert len(result) == min(count, PAGE_LIMIT * MAX_PAGES)
    assert len({job.id for job in result}) == len(result)


async def test_client_pagination_ignores_odd_total(
    hass: HomeAssistant, serve: Serve
) -> None:
    """A total_pages that is not an int is ignored; short pages still end the listing."""
    seen: Counter[int] = Counter()

    async def handler(request: web.Request) -> web.Response:
        page = int(request.query["page"])
        seen[page] += 1
        size = PAGE_LIMIT if page == 1 else 3
        return web.json_response(
            {
                "files": [
                    {"id": f"{page}-{i}", "status": "local"} for i in range(size)
                ],
                "pagination": {"total_pages": True},
            }
        )

    url = await serve({"files": handler})
    assert len(await _client(hass, url).files()) == PAGE_LIMIT + 3
    assert seen == Counter({1: 1, 2: 1})


@pytest.mark.parametrize("status", [301, 302, 304, 400, 401, 404, 422, 500, 502, 503])
async def test_client_http_error(
    hass: HomeAssistant, serve: Serve, status: int
) -> None:
    """Redirects (never followed) and error statuses mean Printernizer did not answer."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            status=status,
            headers={"Location": "http://127.0.0.1:9/elsewhere"},
            text='{"status": "healthy"}',
        )

    url = await serve({"health": handler})
    with pytest.raises(PrinternizerConnectionError, match=f"HTTP {status}"):
        await _client(hass, url).health()


@pytest.mark.parametrize("text", ["<html>Printernizer</html>", "", "{'status': 1}"])
async def test_client_not_json(hass: HomeAssistant, serve: Serve, text: str) -> None:
    """An answer that is not JSON is not Printernizer."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=text, content_type="application/json")

    url = await serve({"health": handler})
    with pytest.raises(PrinternizerResponseError):
        await _client(hass, url).health()


async def test_client_timeout(hass: HomeAssistant, serve: Serve) -> None:
    """No answer within the timeout is a connection error."""
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({"status": "healthy"})

    url = await serve({"health": handler})
    try:
        with pytest.raises(PrinternizerConnectionError, match="Timed out"):
            await _client(hass, url, timeout=0.05).health()
    finally:
        release.set()


async def test_client_connection_refused(
    hass: HomeAssistant, serve: Serve, socket_enabled: None
) -> None:
    """Nothing listening is a connection error."""
    server = TestServer(web.Application(), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    await server.close()
    with pytest.raises(PrinternizerConnectionError):
        await _client(hass, url).health()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"status": "healthy", "version": "2.7.0", "uptime_seconds": 12.5},
            Health("healthy", "2.7.0", 12.5),
        ),
        ({"status": "healthy", "uptime_seconds": 7}, Health("healthy", None, 7.0)),
        (
            {"status": "degraded", "version": 2.7, "uptime_seconds": -1},
            Health("degraded", None, None),
        ),
        (
            {"status": "healthy", "version": None, "uptime_seconds": True},
            Health("healthy", None, None),
        ),
        ({"status": "healthy", "uptime_seconds": "100"}, Health("healthy", None, None)),
    ],
)
async def test_client_health(
    hass: HomeAssistant, serve: Serve, body: dict[str, Any], expected: Health
) -> None:
    """Health keeps the status, a string version and a sane uptime."""
    url = await serve({"health": _json(body)})
    assert await _client(hass, url).health() == expected


@pytest.mark.parametrize("text", ["Infinity", "-Infinity", "NaN", "1e999"])
async def test_client_health_not_finite(serve: Serve, text: str) -> None:
    """Non-finite numbers (which a session with the standard JSON decoder accepts) are not an uptime."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            text=f'{{"status": "healthy", "uptime_seconds": {text}}}',
            content_type="application/json",
        )

    url = await serve({"health": handler})
    async with aiohttp.ClientSession() as session:
        health = await PrinternizerClient(session, url).health()
    assert health.uptime_seconds is None


async def test_client_nan_is_not_json(hass: HomeAssistant, serve: Serve) -> None:
    """With Home Assistant's session, NaN in an answer makes it not JSON."""
    url = await serve(
        {"jobs": _json({"jobs": [{"id": 1, "actual_duration": float("nan")}]})}
    )
    with pytest.raises(PrinternizerResponseError):
        await _client(hass, url).jobs()


@pytest.mark.parametrize(
    "body", [{"version": "2.7.0"}, {"status": 1}, ["healthy"], "healthy"]
)
async def test_client_health_without_status(
    hass: HomeAssistant, serve: Serve, body: object
) -> None:
    """A health answer without a status string is not Printernizer."""
    url = await serve({"health": _json(body)})
    with pytest.raises(PrinternizerResponseError):
        await _client(hass, url).health()


async def test_client_item_mapping(hass: HomeAssistant, serve: Serve) -> None:
    """Unknown types and statuses become "unknown"; items without a usable id are skipped."""
    printers = [
        {"id": "a", "printer_type": "creality_k1", "status": "sleeping"},
        {"id": "b", "printer_type": None, "status": 3},
        {"id": True, "printer_type": "bambu_lab", "status": "online"},
        {"id": "", "printer_type": "bambu_lab", "status": "online"},
        {"id": 1.5, "printer_type": "bambu_lab", "status": "online"},
        {"printer_type": "bambu_lab", "status": "online"},
    ]
    jobs = [
        {
            "id": 7,
            "printer_type": "OctoPrint",
            "status": "archived",
            "actual_duration": "3600",
        },
        {"id": 8, "status": "completed", "actual_duration": None},
        {"id": 9, "status": "failed", "actual_duration": 90},
    ]
    files = [
        {"id": "f", "status": "deleted", "file_size": -5},
        {"id": "g", "status": "downloaded", "file_size": 1_000_000},
    ]
    url = await serve(
        {
            "printers": _json({"printers": printers}),
            "jobs": _json({"jobs": jobs}),
            "files": _json({"files": files}),
        }
    )
    client = _client(hass, url)
    assert await client.printers() == [
        Printer(id="a", printer_type="unknown", status="unknown"),
        Printer(id="b", printer_type="unknown", status="unknown"),
    ]
    assert await client.jobs() == [
        Job(id="7", printer_type="octoprint", status="unknown", duration_seconds=None),
        Job(id="8", printer_type="unknown", status="completed", duration_seconds=None),
        Job(id="9", printer_type="unknown", status="failed", duration_seconds=90.0),
    ]
    assert await client.files() == [
        File(id="f", status="unknown", size_bytes=None),
        File(id="g", status="downloaded", size_bytes=1_000_000.0),
    ]


async def test_client_sends_page_and_limit(hass: HomeAssistant, serve: Serve) -> None:
    """Listings ask for page and limit in the query."""
    queries: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        queries.append(dict(request.query))
        return web.json_response({"files": []})

    url = await serve({"files": handler})
    await _client(hass, url).files()
    assert queries == [{"page": "1", "limit": str(PAGE_LIMIT)}]


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
def test_normalize_url(url: str, expected: str) -> None:
    """Base URLs are trimmed of blanks, query, fragment and the trailing slash."""
    assert normalize_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "localhost:8000",
        "ftp://localhost",
        "http://",
        "//host:8000",
        "",
        "file:///etc/passwd",
    ],
)
def test_normalize_url_invalid(url: str) -> None:
    """Anything but an http(s) URL with a host is refused."""
    with pytest.raises(ValueError):
        normalize_url(url)


def test_simulator_json_fields_are_not_kept(
    printernizer: PrinternizerSimulator,
) -> None:
    """The simulator really serves the private fields the client must drop."""
    printer = printernizer.printer_json(printernizer.printers[0])
    assert {"name", "ip_address", "connection_config", "location"} <= set(printer)
    job = printernizer.job_json(printernizer.jobs[0])
    assert {"job_name", "filename", "customer_name"} <= set(job)
    assert json.dumps(printer)
