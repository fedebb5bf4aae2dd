"""The statistics-service client against the service's emulator, stubs and broken servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
import json
import socket
import traceback
from types import SimpleNamespace
from typing import Any
import uuid

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer
import pytest
from yarl import URL

from custom_components.printernizer_stats.errors import (
    AuthFailedError,
    CannotConnectError,
    ClientError,
    ContractError,
    InsecureEndpointError,
    InvalidEndpointError,
    NotDeliveredError,
    NothingToSubmitError,
    NotOptedInError,
    PrinternizerStatsError,
    RateLimitedError,
    RejectedError,
    StorageUnwritableError,
    SubmitStoppedError,
    TooSoonError,
)
from custom_components.printernizer_stats.stats_api import (
    MAX_RETRY_AFTER,
    Accepted,
    StatsServiceClient,
    deletion_url,
    parse_retry_after,
    validate_endpoint,
)
from simulator.stats_service import (
    VALID_INSTALLATION_ID,
    StatsServiceEmulator,
    valid_report,
)

from .conftest import API_KEY, serve

pytestmark = pytest.mark.usefixtures("socket_enabled")

USER_AGENT = "printernizer_stats/1.0.0 HomeAssistant/2026.10.4"
IDEMPOTENCY_KEY = "5a0c3c1e-2d4b-4f6a-9b8c-7d6e5f4a3b2c"
WRONG_KEY = "wrong-key-0f9e8d"
INSTALLATION_ID = "0b6d1c2e-3f4a-4b5c-8d6e-7f8091a2b3c4"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
REPORT = json.dumps(valid_report()).encode()
NO_SESSION: Any = object()  # for what is decided before any request

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
type RawHandler = Callable[
    [asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]
]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override conftest's: this client is free of Home Assistant, so no `hass` per test."""


class RefusingResolver(AbstractResolver):
    """Records every name lookup and never reaches DNS."""

    def __init__(self) -> None:
        """Start with no lookups."""
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Refuse, after noting the name."""
        self.lookups.append(host)
        raise OSError("no name lookups in tests")

    async def close(self) -> None:
        """Nothing to release."""


@dataclass
class Wire:
    """Every URL the session asked for and every name it tried to look up."""

    urls: list[URL] = field(default_factory=list)
    resolver: RefusingResolver = field(default_factory=RefusingResolver)


@pytest.fixture
def wire() -> Wire:
    """What went out."""
    return Wire()


@pytest.fixture
async def session(wire: Wire) -> AsyncIterator[aiohttp.ClientSession]:
    """A session that reaches IP literals only and records each request."""

    async def on_request_start(
        _session: aiohttp.ClientSession,
        _context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        wire.urls.append(params.url)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    connector = aiohttp.TCPConnector(resolver=wire.resolver)
    async with aiohttp.ClientSession(
        connector=connector, trace_configs=[trace]
    ) as client_session:
        yield client_session


def client_for(
    session: aiohttp.ClientSession,
    endpoint: URL | str,
    *,
    api_key: str = API_KEY,
    seconds: float = 5,
) -> StatsServiceClient:
    """A client for `endpoint`."""
    return StatsServiceClient(
        session,
        endpoint=str(endpoint),
        api_key=api_key,
        user_agent=USER_AGENT,
        timeout=seconds,
    )


def assert_secret_kept(error: BaseException, *secrets: str) -> None:
    """No secret in the error's text, repr or formatted traceback (with its causes)."""
    text = f"{error!s} {error!r} " + "".join(traceback.format_exception(error))
    for secret in (API_KEY, WRONG_KEY, *secrets):
        assert secret not in text


@dataclass
class Seen:
    """One request as a stub received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Stub:
    """A stand-in service: `routes` per path, 200 with a submission id otherwise."""

    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def app(self) -> web.Application:
        """Record every request, then answer it."""

        async def handle(request: web.Request) -> web.StreamResponse:
            self.seen.append(
                Seen(
                    request.method,
                    request.path_qs,
                    dict(request.headers),
                    await request.read(),
                )
            )
            if (route := self.routes.get(request.path)) is not None:
                return await route(request)
            return web.json_response({"status": "success", "submission_id": 42})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        return app


def reply(
    status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None
) -> Handler:
    """A fixed answer."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, headers=headers)

    return handler


@pytest.fixture
async def servers() -> AsyncIterator[list[TestServer]]:
    """Servers started by a test, closed after it."""
    started: list[TestServer] = []
    yield started
    for server in started:
        await server.close()


@pytest.fixture
def stub() -> Stub:
    """A stand-in service."""
    return Stub()


@pytest.fixture
async def stub_url(stub: Stub, servers: list[TestServer]) -> URL:
    """The stand-in's submit URL on 127.0.0.1."""
    server = await serve(stub.app())
    servers.append(server)
    return server.make_url("/submit")


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[RawHandler], Awaitable[URL]]]:
    """Plain TCP servers on 127.0.0.1 that misbehave below HTTP."""
    started: list[asyncio.Server] = []

    async def start(handler: RawHandler) -> URL:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        started.append(server)
        return URL(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/submit")

    yield start
    for server in started:
        server.close()
        await server.wait_closed()


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer with something that is not HTTP."""
    await reader.read(65_536)
    writer.write(b"THIS IS NOT HTTP\r\n\r\n")
    await writer.drain()
    writer.close()


async def _truncated(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answer 200, then hang up in the middle of the body."""
    await reader.read(65_536)
    writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"submission_id":')
    await writer.drain()
    writer.close()


def _closed_port_url() -> URL:
    """A loopback URL nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return URL(f"http://127.0.0.1:{port}/submit")


# --- endpoint rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://stats.printernizer.com/submit",
            "https://stats.printernizer.com/submit",
        ),
        (
            "  HTTPS://Stats.Printernizer.COM/submit ",
            "https://stats.printernizer.com/submit",
        ),
        (
            "https://stats.example:8443/api/submit?v=1",
            "https://stats.example:8443/api/submit?v=1",
        ),
        ("http://127.0.0.1:8001/submit", "http://127.0.0.1:8001/submit"),
        ("http://127.45.6.7/submit", "http://127.45.6.7/submit"),
        ("http://localhost", "http://localhost"),
        ("http://LOCALHOST.:8001/submit", "http://localhost.:8001/submit"),
        ("http://[::1]:8/x", "http://[::1]:8/x"),
    ],
)
def test_validate_endpoint_accepts(url: str, expected: str) -> None:
    """https anywhere; plain http only to this machine."""
    assert validate_endpoint(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/submit",
        "http://192.168.1.5/submit",
        "http://localhost.example.com/submit",
        "http://127.0.0.1.nip.io/submit",
        "ftp://stats.printernizer.com/submit",
        "ws://127.0.0.1/submit",
    ],
)
def test_validate_endpoint_refuses_insecure(url: str) -> None:
    """Anything that could leave the machine unencrypted is refused with the https message."""
    with pytest.raises(InsecureEndpointError, match="https://"):
        validate_endpoint(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pw@stats.printernizer.com/submit",
        "https://user@stats.printernizer.com/submit",
        "https://@stats.printernizer.com/submit",
        "http://user:pw@127.0.0.1/submit",
    ],
)
def test_validate_endpoint_refuses_userinfo(url: str) -> None:
    """A user name or password in the endpoint is refused, and never repeated."""
    with pytest.raises(InsecureEndpointError, match="user name or password") as raised:
        validate_endpoint(url)
    assert "pw" not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("not a url", "not a URL"),
        ("stats.printernizer.com/submit", "not a URL"),
        ("", "not a URL"),
        ("https:///submit", "not a URL"),
        ("https://exa mple.com/submit", "no valid host"),
        ("https://stats.printernizer.com:99999/submit", "not a valid URL"),
        ("http://[::1/submit", "not a valid URL"),
        ("https://stats.printernizer.com/submit#frag", "fragment"),
        ("https://stats.printernizer.com/submit#", "fragment"),
    ],
)
def test_validate_endpoint_refuses_invalid(url: str, match: str) -> None:
    """What is no URL says so, not that https is needed."""
    with pytest.raises(InvalidEndpointError, match=match) as raised:
        validate_endpoint(url)
    assert not isinstance(raised.value, InsecureEndpointError)
    assert "https" not in str(raised.value)


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("https://h/submit", "https://h/installation/{}"),
        ("https://h/submit/", "https://h/installation/{}"),
        ("https://h/api/v1/submit", "https://h/api/v1/installation/{}"),
        ("https://h/api/stats", "https://h/api/stats/installation/{}"),
        ("https://h", "https://h/installation/{}"),
        ("https://h/submit?v=1", "https://h/installation/{}?v=1"),
        ("http://127.0.0.1:8001/submit", "http://127.0.0.1:8001/installation/{}"),
    ],
)
def test_deletion_url_next_to_submit(endpoint: str, expected: str) -> None:
    """The erase URL sits next to the submit URL."""
    assert deletion_url(endpoint, INSTALLATION_ID) == expected.format(INSTALLATION_ID)


@pytest.mark.parametrize(
    "installation_id", ["", "../admin", "a/b", "x" * 36, INSTALLATION_ID + "\n"]
)
def test_deletion_url_refuses_odd_ids(installation_id: str) -> None:
    """Only a UUID may become a path segment."""
    with pytest.raises(ValueError, match="UUID"):
        deletion_url("https://h/submit", installation_id)


def test_deletion_url_refuses_insecure_endpoint() -> None:
    """The erase request obeys the same transport rule."""
    with pytest.raises(InsecureEndpointError):
        deletion_url("http://example.com/submit", INSTALLATION_ID)


@pytest.mark.parametrize(
    ("value", "now", "expected"),
    [
        (None, NOW, None),
        ("", NOW, None),
        ("0", NOW, timedelta(0)),
        ("120", NOW, timedelta(seconds=120)),
        (" 3600 ", NOW, timedelta(hours=1)),
        ("604801", NOW, MAX_RETRY_AFTER),
        ("9999999", NOW, MAX_RETRY_AFTER),
        ("1" * 5000, NOW, MAX_RETRY_AFTER),
        ("-5", NOW, None),
        ("1.5", NOW, None),
        ("\u0661\u0662", NOW, None),
        ("soon", NOW, None),
        ("Mon, 30 Nov 2026 13:00:00 GMT", NOW, timedelta(hours=1)),
        ("Mon, 30 Nov 2026 13:00:00 +0100", NOW, timedelta(0)),
        ("Mon, 30 Nov 2026 11:00:00 GMT", NOW, timedelta(0)),
        ("Fri, 31 Dec 9999 23:59:59 GMT", NOW, MAX_RETRY_AFTER),
        ("Mon, 30 Nov 2026 13:00:00 -0000", NOW, timedelta(hours=1)),
        ("Mon, 30 Nov 2026 13:00:00 GMT", NOW.replace(tzinfo=None), timedelta(hours=1)),
        ("Mon, 99 Nov 2026 13:00:00 GMT", NOW, None),
    ],
)
def test_parse_retry_after_forms(
    value: str | None, now: datetime, expected: timedelta | None
) -> None:
    """Seconds or an HTTP date; nonsense gives None; the result stays within [0, 7 days]."""
    assert parse_retry_after(value, now) == expected


# --- submit, against the emulator of the real service -------------------------------


async def test_submit_accepted(
    session: aiohttp.ClientSession,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
) -> None:
    """200 is Accepted, with the service's integer id as text; the Idempotency-Key arrives."""
    accepted = await client_for(session, stats_endpoint).submit(
        REPORT, idempotency_key=IDEMPOTENCY_KEY
    )
    assert accepted == Accepted(status=200, submission_id="1")
    (stored,) = stats_service.submissions
    assert stored.body == json.loads(REPORT)
    assert stored.idempotency_key == IDEMPOTENCY_KEY


@pytest.mark.parametrize(("api_key", "status"), [("", 403), (WRONG_KEY, 401)])
async def test_submit_auth_failed(
    session: aiohttp.ClientSession,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
    api_key: str,
    status: int,
) -> None:
    """No key (403) and a wrong key (401) stop submissions; the key is never in the error."""
    client = client_for(session, stats_endpoint, api_key=api_key)
    with pytest.raises(AuthFailedError) as raised:
        await client.submit(REPORT, idempotency_key=IDEMPOTENCY_KEY)
    assert (raised.value.status, raised.value.reason) == (status, f"http_{status}")
    assert_secret_kept(raised.value)
    assert stats_service.submissions == []


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(valid_report(usage_stats={"job_count": -1})).encode(),
        json.dumps({"schema_version": "1.0"}).encode(),
        b"{not json",
    ],
)
async def test_submit_rejected(
    session: aiohttp.ClientSession,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
    body: bytes,
) -> None:
    """A body the service cannot validate (422) is rejected: never resend it."""
    with pytest.raises(RejectedError) as raised:
        await client_for(session, stats_endpoint).submit(
            body, idempotency_key=IDEMPOTENCY_KEY
        )
    assert raised.value.status == 422
    assert_secret_kept(raised.value)
    assert stats_service.submissions == []


async def test_submit_rate_limited_without_retry_after(
    session: aiohttp.ClientSession, stats_endpoint: str
) -> None:
    """A second report within the hour is a 429 without Retry-After, as the real service answers."""
    client = client_for(session, stats_endpoint)
    await client.submit(REPORT, idempotency_key=IDEMPOTENCY_KEY)
    with pytest.raises(RateLimitedError) as raised:
        await client.submit(REPORT, idempotency_key=str(uuid.uuid4()))
    assert raised.value.retry_after is None
    assert raised.value.status == 429
    assert_secret_kept(raised.value)


@pytest.mark.parametrize("status", [500, 502, 503, 408])
async def test_submit_server_errors(
    session: aiohttp.ClientSession,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
    status: int,
) -> None:
    """5xx (and 408) are worth retrying; the next attempt goes through."""
    stats_service.fail_next(status)
    client = client_for(session, stats_endpoint)
    with pytest.raises(CannotConnectError) as raised:
        await client.submit(REPORT, idempotency_key=IDEMPOTENCY_KEY)
    assert (raised.value.status, raised.value.reason) == (status, f"http_{status}")
    assert_secret_kept(raised.value)
    assert (await client.submit(REPORT, idempotency_key=IDEMPOTENCY_KEY)).status == 200


async def test_submit_service_down(
    session: aiohttp.ClientSession,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
) -> None:
    """A service that is down (503) cannot be reached."""
    stats_service.down = True
    with pytest.raises(CannotConnectError, match="http_503"):
        await client_for(session, stats_endpoint).submit(
            REPORT, idempotency_key=IDEMPOTENCY_KEY
        )


async def test_submit_timeout(
    session: aiohttp.ClientSession,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
) -> None:
    """A service slower than the timeout cannot be reached."""
    stats_service.slow_seconds = 0.2
    client = client_for(session, stats_endpoint, seconds=0.05)
    with pytest.raises(CannotConnectError, match="timeout") as raised:
        await client.submit(REPORT, idempotency_key=IDEMPOTENCY_KEY)
    assert_secret_kept(raised.value)
    await asyncio.sleep(0.25)  # let the slow handler finish before the server closes


async def test_submit_connection_reset(
    session: aiohttp.ClientSession,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
) -> None:
    """A connection reset before any answer means retry later."""
    stats_service.reset_next = 1
    with pytest.raises(CannotConnectError, match="connection_error") as raised:
        await client_for(session, stats_endpoint).submit(
            REPORT, idempotency_key=IDEMPOTENCY_KEY
        )
    assert_secret_kept(raised.value)
    assert [status for _, _, status in stats_service.log] == [0]


async def test_submit_connection_refused(session: aiohttp.ClientSession) -> None:
    """Nobody listening means retry later."""
    client = client_for(session, _closed_port_url())
    with pytest.raises(CannotConnectError, match="connection_error"):
        await client.submit(REPORT, idempotency_key=IDEMPOTENCY_KEY)


async def test_submit_not_http(
    session: aiohttp.ClientSession, raw_server: Callable[[RawHandler], Awaitable[URL]]
) -> None:
    """An answer that is not HTTP means retry later, and the key stays out of every text."""
    client = client_for(session, await raw_server(_garbage))
    with pytest.raises(CannotConnectError, match="invalid_response") as raised:
        await client.submit(REPORT, idempotency_key=IDEMPOTENCY_KEY)
    assert_secret_kept(raised.value)


async def test_submit_truncated_2xx_still_accepted(
    session: aiohttp.ClientSession, raw_server: Callable[[RawHandler], Awaitable[URL]]
) -> None:
    """Once a 2xx arrived the report is stored: resending would store it twice."""
    client = client_for(session, await raw_server(_truncated))
    accepted = await client.submit(REPORT, idempotency_key=IDEMPOTENCY_KEY)
    assert accepted == Accepted(status=200, submission_id=None)


# --- submit, against stubs ----------------------------------------------------------


async def test_submit_sends_headers_and_body(
    session: aiohttp.ClientSession, stub: Stub, stub_url: URL, wire: Wire
) -> None:
    """One POST with the report, the key, the Idempotency-Key, JSON and our User-Agent."""
    accepted = await client_for(session, stub_url).submit(
        REPORT, idempotency_key=IDEMPOTENCY_KEY
    )
    assert accepted == Accepted(status=200, submission_id="42")
    (seen,) = stub.seen
    assert (seen.method, seen.path, seen.body) == ("POST", "/submit", REPORT)
    assert seen.headers["X-API-Key"] == API_KEY
    assert seen.headers["Idempotency-Key"] == IDEMPOTENCY_KEY
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"] == USER_AGENT
    assert wire.urls == [stub_url]
    assert wire.resolver.lookups == []


async def test_submit_without_api_key_omits_header(
    session: aiohttp.ClientSession, stub: Stub, stub_url: URL
) -> None:
    """An empty API key sends no X-API-Key header at all."""
    await client_for(session, stub_url, api_key="").submit(
        REPORT, idempotency_key=IDEMPOTENCY_KEY
    )
    assert "X-API-Key" not in stub.seen[0].headers


@pytest.mark.parametrize(
    ("status", "body", "submission_id"),
    [
        (200, b'{"submission_id": "sub-1"}', "sub-1"),
        (201, b'{"submission_id": 7}', "7"),
        (202, b'{"submission_id": true}', None),
        (200, b'{"submission_id": "' + b"x" * 65 + b'"}', None),
        (200, b'{"submission_id": ""}', None),
        (200, b'{"submission_id": "a\\nb"}', None),
        (200, b'["submission_id"]', None),
        (200, b"not json", None),
        (200, b"\xff\xfe", None),
        (204, b"", None),
        (200, b'{"submission_id": "big", "pad": "' + b"x" * 70_000 + b'"}', None),
        (200, b"[" * 70_000, None),
        (200, b'{"a":' * 30_000 + b"1" + b"}" * 30_000, None),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, bytes) else None,
)
async def test_submit_accepted_answers(
    session: aiohttp.ClientSession,
    stub: Stub,
    stub_url: URL,
    status: int,
    body: bytes,
    submission_id: str | None,
) -> None:
    """Any 2xx is accepted whatever its body; the id is kept only when short and printable."""
    stub.routes["/submit"] = reply(status, body)
    accepted = await client_for(session, stub_url).submit(
        REPORT, idempotency_key=IDEMPOTENCY_KEY
    )
    assert accepted == Accepted(status=status, submission_id=submission_id)


@pytest.mark.parametrize(
    ("status", "error", "reason"),
    [
        (400, RejectedError, "http_400"),
        (404, RejectedError, "http_404"),
        (413, RejectedError, "http_413"),
        (451, RejectedError, "http_451"),
        (401, AuthFailedError, "http_401"),
        (403, AuthFailedError, "http_403"),
        (408, CannotConnectError, "http_408"),
        (599, CannotConnectError, "http_599"),
        (300, CannotConnectError, "redirect"),
        (301, CannotConnectError, "redirect"),
        (302, CannotConnectError, "redirect"),
        (303, CannotConnectError, "redirect"),
    ],
)
async def test_submit_status_classes(
    session: aiohttp.ClientSession,
    stub: Stub,
    stub_url: URL,
    wire: Wire,
    status: int,
    error: type[ClientError],
    reason: str,
) -> None:
    """Each status class says what to do next; 301-303 are never followed."""
    stub.routes["/submit"] = reply(
        status, b'{"detail": "no"}', {"Location": "https://example.com/submit"}
    )
    with pytest.raises(error) as raised:
        await client_for(session, stub_url).submit(
            REPORT, idempotency_key=IDEMPOTENCY_KEY
        )
    assert type(raised.value) is error
    assert (raised.value.status, raised.value.reason) == (status, reason)
    assert wire.urls == [stub_url]


@pytest.mark.parametrize(
    ("header", "expected"), [("3600", timedelta(hours=1)), ("soon", None), ("", None)]
)
async def test_submit_rate_limited_retry_after(
    session: aiohttp.ClientSession,
    stub: Stub,
    stub_url: URL,
    header: str,
    expected: timedelta | None,
) -> None:
    """A Retry-After in seconds is honoured; an unreadable one leaves the pause open."""
    stub.routes["/submit"] = reply(429, headers={"Retry-After": header})
    with pytest.raises(RateLimitedError) as raised:
        await client_for(session, stub_url).submit(
            REPORT, idempotency_key=IDEMPOTENCY_KEY
        )
    assert raised.value.retry_after == expected


async def test_submit_rate_limited_retry_after_date(
    session: aiohttp.ClientSession, stub: Stub, stub_url: URL
) -> None:
    """A Retry-After date becomes the time from now until then."""
    when = datetime.now(UTC) + timedelta(hours=2)
    stub.routes["/submit"] = reply(
        429, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )
    with pytest.raises(RateLimitedError) as raised:
        await client_for(session, stub_url).submit(
            REPORT, idempotency_key=IDEMPOTENCY_KEY
        )
    wait = raised.value.retry_after
    assert wait is not None
    assert timedelta(hours=2) - timedelta(seconds=5) <= wait <= timedelta(hours=2)


@pytest.mark.parametrize("status", [307, 308])
async def test_submit_redirect_same_origin(
    session: aiohttp.ClientSession, stub: Stub, stub_url: URL, status: int
) -> None:
    """A 307/308 on the same origin re-posts the same body with the same headers, key included."""
    stub.routes["/submit"] = reply(status, headers={"Location": "/v2/submit"})
    accepted = await client_for(session, stub_url).submit(
        REPORT, idempotency_key=IDEMPOTENCY_KEY
    )
    assert accepted.submission_id == "42"
    first, second = stub.seen
    assert (second.method, second.path, second.body) == ("POST", "/v2/submit", REPORT)
    for name in ("X-API-Key", "Idempotency-Key", "User-Agent", "Content-Type"):
        assert second.headers[name] == first.headers[name]


async def test_submit_redirect_to_other_origin_drops_key(
    session: aiohttp.ClientSession,
    stub: Stub,
    stub_url: URL,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
) -> None:
    """The API key never follows a redirect to another origin (the service then answers 403)."""
    stub.routes["/submit"] = reply(307, headers={"Location": stats_endpoint})
    with pytest.raises(AuthFailedError) as raised:
        await client_for(session, stub_url).submit(
            REPORT, idempotency_key=IDEMPOTENCY_KEY
        )
    assert raised.value.status == 403
    assert [status for _, _, status in stats_service.log] == [403]
    assert stats_service.submissions == []


async def test_submit_redirect_to_other_origin_keeps_the_rest(
    session: aiohttp.ClientSession, stub: Stub, stub_url: URL, servers: list[TestServer]
) -> None:
    """Another origin gets the body and the Idempotency-Key, never the key."""
    other = Stub()
    other_server = await serve(other.app())
    servers.append(other_server)
    target = str(other_server.make_url("/submit"))
    stub.routes["/submit"] = reply(308, headers={"Location": target})
    accepted = await client_for(session, stub_url).submit(
        REPORT, idempotency_key=IDEMPOTENCY_KEY
    )
    assert accepted.status == 200
    (seen,) = other.seen
    assert seen.body == REPORT
    assert seen.headers["Idempotency-Key"] == IDEMPOTENCY_KEY
    assert "X-API-Key" not in seen.headers


@pytest.mark.parametrize(
    "location",
    [
        "http://example.com/submit",
        "ftp://127.0.0.1/submit",
        "http://user:pw@127.0.0.1/submit",
        "http://[::1",
        "/v2/submit#top",
    ],
)
async def test_submit_redirect_refused(
    session: aiohttp.ClientSession,
    stub: Stub,
    stub_url: URL,
    wire: Wire,
    location: str,
) -> None:
    """A redirect to anywhere unacceptable is refused before any connection or lookup."""
    stub.routes["/submit"] = reply(307, headers={"Location": location})
    with pytest.raises(CannotConnectError, match="insecure_redirect") as raised:
        await client_for(session, stub_url).submit(
            REPORT, idempotency_key=IDEMPOTENCY_KEY
        )
    assert_secret_kept(raised.value, "pw")
    assert wire.urls == [stub_url]
    assert wire.resolver.lookups == []


async def test_submit_redirect_without_location(
    session: aiohttp.ClientSession, stub: Stub, stub_url: URL
) -> None:
    """A 308 without Location cannot be followed."""
    stub.routes["/submit"] = reply(308)
    with pytest.raises(CannotConnectError, match="redirect") as raised:
        await client_for(session, stub_url).submit(
            REPORT, idempotency_key=IDEMPOTENCY_KEY
        )
    assert raised.value.status == 308


async def test_submit_too_many_redirects(
    session: aiohttp.ClientSession, stub: Stub, stub_url: URL
) -> None:
    """At most three redirects are followed."""
    for hop in range(5):
        stub.routes[f"/hop{hop}"] = reply(307, headers={"Location": f"/hop{hop + 1}"})
    client = client_for(session, stub_url.with_path("/hop0"))
    with pytest.raises(CannotConnectError, match="too_many_redirects"):
        await client.submit(REPORT, idempotency_key=IDEMPOTENCY_KEY)
    assert [seen.path for seen in stub.seen] == ["/hop0", "/hop1", "/hop2", "/hop3"]


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/v2/submit", "https://stats.printernizer.com/v2/submit"),
        ("https://mirror.example/submit", "https://mirror.example/submit"),
        ("http://127.0.0.1:8123/api", None),
        ("http://localhost/api", None),
        ("http://stats.printernizer.com/submit", None),
    ],
)
def test_submit_redirect_from_https(location: str, expected: str | None) -> None:
    """From an https endpoint only https is followed: loopback http would let a server aim at this machine."""
    client = client_for(NO_SESSION, "https://stats.printernizer.com/submit")
    current = URL("https://stats.printernizer.com/submit")
    if expected is None:
        with pytest.raises(CannotConnectError, match="insecure_redirect"):
            client._redirect_target(current, location)
    else:
        assert client._redirect_target(current, location) == URL(expected)


@pytest.mark.parametrize("key", ["", "has space", "x" * 129, "line\nbreak", "ä"])
async def test_submit_refuses_bad_idempotency_key(
    session: aiohttp.ClientSession, stub: Stub, stub_url: URL, key: str
) -> None:
    """A malformed idempotency key is a caller bug, refused before sending."""
    with pytest.raises(ValueError, match="idempotency_key"):
        await client_for(session, stub_url).submit(REPORT, idempotency_key=key)
    assert stub.seen == []


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"endpoint": "http://example.com/submit"}, InsecureEndpointError, "https"),
        ({"endpoint": "not a url"}, InvalidEndpointError, "URL"),
        ({"api_key": "bad\nkey"}, InvalidEndpointError, "API key"),
        ({"api_key": "schlüssel"}, InvalidEndpointError, "API key"),
        ({"user_agent": ""}, ValueError, "user agent"),
        ({"user_agent": "ua\r\nX-Evil: 1"}, ValueError, "user agent"),
    ],
)
def test_client_refuses_bad_settings(
    arguments: dict[str, str], error: type[Exception], match: str
) -> None:
    """Insecure endpoints and header-breaking values never get a request."""
    settings = {
        "endpoint": "https://stats.printernizer.com/submit",
        "api_key": API_KEY,
        "user_agent": USER_AGENT,
    } | arguments
    with pytest.raises(error, match=match) as raised:
        StatsServiceClient(NO_SESSION, **settings)
    assert_secret_kept(raised.value, "bad\nkey", "schlüssel")


# --- erase and check_credentials --------------------------------------------------------


async def test_erase_after_submit(
    session: aiohttp.ClientSession,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
) -> None:
    """Erasing removes what was stored; erasing again (deleted_count 0) is done too."""
    client = client_for(session, stats_endpoint)
    await client.submit(REPORT, idempotency_key=IDEMPOTENCY_KEY)
    assert len(stats_service.submissions) == 1
    assert await client.erase(VALID_INSTALLATION_ID) is None
    assert stats_service.submissions == []
    assert await client.erase(VALID_INSTALLATION_ID) is None
    assert stats_service.deleted_ids == [VALID_INSTALLATION_ID] * 2


async def test_erase_not_found_is_done(
    session: aiohttp.ClientSession,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
) -> None:
    """404: nothing is held for that id any more."""
    stats_service.fail_next(404, endpoint="delete")
    assert await client_for(session, stats_endpoint).erase(INSTALLATION_ID) is None


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthFailedError),
        (403, AuthFailedError),
        (422, RejectedError),
        (429, RateLimitedError),
        (500, CannotConnectError),
        (503, CannotConnectError),
    ],
)
async def test_erase_failures(
    session: aiohttp.ClientSession,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
    status: int,
    error: type[ClientError],
) -> None:
    """Anything but 2xx or 404 raises what to do next."""
    stats_service.fail_next(status, endpoint="delete", retry_after="60")
    with pytest.raises(error) as raised:
        await client_for(session, stats_endpoint).erase(INSTALLATION_ID)
    assert raised.value.status == status
    assert_secret_kept(raised.value)
    if isinstance(raised.value, RateLimitedError):
        assert raised.value.retry_after == timedelta(minutes=1)


async def test_erase_redirect_not_followed(
    session: aiohttp.ClientSession, stub: Stub, stub_url: URL
) -> None:
    """An erase request follows no redirect; the key goes to the configured origin only."""
    stub.routes[f"/installation/{INSTALLATION_ID}"] = reply(
        307, headers={"Location": "/elsewhere"}
    )
    with pytest.raises(CannotConnectError, match="redirect"):
        await client_for(session, stub_url).erase(INSTALLATION_ID)
    (seen,) = stub.seen
    assert (seen.method, seen.path) == ("DELETE", f"/installation/{INSTALLATION_ID}")
    assert seen.headers["X-API-Key"] == API_KEY
    assert "Idempotency-Key" not in seen.headers


async def test_erase_transport_errors(
    session: aiohttp.ClientSession,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
    raw_server: Callable[[RawHandler], Awaitable[URL]],
) -> None:
    """Timeouts, refused connections and non-HTTP answers cannot reach the service."""
    stats_service.slow_seconds = 0.2
    with pytest.raises(CannotConnectError, match="timeout"):
        await client_for(session, stats_endpoint, seconds=0.05).erase(INSTALLATION_ID)
    await asyncio.sleep(0.25)
    with pytest.raises(CannotConnectError, match="connection_error"):
        await client_for(session, _closed_port_url()).erase(INSTALLATION_ID)
    garbage = client_for(session, await raw_server(_garbage))
    with pytest.raises(CannotConnectError, match="invalid_response") as raised:
        await garbage.erase(INSTALLATION_ID)
    assert_secret_kept(raised.value)


async def test_check_credentials_good_key(
    session: aiohttp.ClientSession,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
) -> None:
    """A good key passes, and nothing is stored at the service."""
    await client_for(session, stats_endpoint).check_credentials()
    assert stats_service.submissions == []
    (probed,) = stats_service.deleted_ids
    assert uuid.UUID(probed).version == 4
    assert probed not in (VALID_INSTALLATION_ID, INSTALLATION_ID)


@pytest.mark.parametrize(("api_key", "status"), [(WRONG_KEY, 401), ("", 403)])
async def test_check_credentials_bad_key(
    session: aiohttp.ClientSession,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
    api_key: str,
    status: int,
) -> None:
    """A wrong or missing key raises AuthFailedError, and nothing is stored or erased."""
    client = client_for(session, stats_endpoint, api_key=api_key)
    with pytest.raises(AuthFailedError) as raised:
        await client.check_credentials()
    assert raised.value.status == status
    assert_secret_kept(raised.value)
    assert stats_service.submissions == []
    assert stats_service.deleted_ids == []


# --- errors --------------------------------------------------------------------------


def test_errors_carry_codes_not_text() -> None:
    """Client errors carry a reason code and a status; submit_now errors keep their fields."""
    limited = RateLimitedError("http_429", retry_after=timedelta(seconds=5))
    assert (str(limited), limited.status, limited.retry_after) == (
        "http_429",
        429,
        timedelta(seconds=5),
    )
    assert CannotConnectError("timeout").status is None
    when = datetime(2026, 12, 1, tzinfo=UTC)
    too_soon = TooSoonError(when)
    assert (str(too_soon), too_soon.next_allowed) == ("too_soon", when)
    stopped = SubmitStoppedError("auth_failed")
    assert (str(stopped), stopped.halt) == ("auth_failed", "auth_failed")
    missed = NotDeliveredError("http_503", when)
    assert (str(missed), missed.reason, missed.retry_at) == (
        "http_503",
        "http_503",
        when,
    )
    for error in (
        AuthFailedError,
        RejectedError,
        InsecureEndpointError,
        InvalidEndpointError,
        ContractError,
        NotOptedInError,
        NothingToSubmitError,
        StorageUnwritableError,
    ):
        assert issubclass(error, PrinternizerStatsError)
    assert issubclass(InvalidEndpointError, ValueError)
    assert issubclass(ContractError, ValueError)
