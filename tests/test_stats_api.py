"""The statistics-service client against the service's emulator, stubs and broken servers on 127.0.0.1, and a fake remote service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
import json
import socket
import traceback
from types import SimpleNamespace
from typing import Any, cast
import uuid

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer
from hypothesis import given, settings, strategies as st
import pytest
from yarl import URL

from custom_components.printernizer_stats.errors import (
    AuthFailedError,
    CannotConnectError,
    ClientError,
    ContractError,
    InsecureEndpointError,
    InvalidEndpointError,
    PrinternizerStatsError,
    RateLimitedError,
    RejectedError,
    StorageUnwritableError,
)
from custom_components.printernizer_stats.stats_api import (
    MAX_RETRY_AFTER,
    Accepted,
    StatsServiceClient,
    deletion_url,
    is_local_host,
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
        ("Mon, 01 Jan 0001 00:00:00 GMT", NOW, timedelta(0)),
        ("Mon, 01 Jan 0001 00:00:00 +0100", NOW, timedelta(0)),
        ("Mon, 01 Jan 0001 00:00:00 +0100", NOW.replace(tzinfo=None), timedelta(0)),
        ("Fri, 31 Dec 9999 23:59:59 -0100", NOW, MAX_RETRY_AFTER),
        ("Fri, 31 Dec 9999 23:59:59 -2359", NOW, MAX_RETRY_AFTER),
        ("Fri, 31 Dec 9999 23:59:59 GMT", datetime.min, MAX_RETRY_AFTER),
        (
            "Mon, 01 Jan 0001 00:00:00 GMT",
            datetime.max.replace(tzinfo=UTC),
            timedelta(0),
        ),
        ("Mon, 30 Nov 99999 13:00:00 GMT", NOW, None),
        ("Mon, 30 Nov 10000000000000000000000 13:00:00 GMT", NOW, None),
        ("Mon, 30 Nov 2026 13:00:00 +9999", NOW, None),
        ("Mon, 30 Nov 2026 13:00:00 +99999999999999999999", NOW, None),
        ("Mon, 30 Nov 2026 99:99:99 GMT", NOW, None),
        ("9" * 40, NOW, MAX_RETRY_AFTER),
        ("0000001", NOW, timedelta(seconds=1)),
        ("1e9", NOW, None),
        ("+5", NOW, None),
        ("\uff11\uff12", NOW, None),
    ],
)
def test_parse_retry_after_forms(
    value: str | None, now: datetime, expected: timedelta | None
) -> None:
    """Seconds or an HTTP date; nonsense gives None; the result stays within [0, 7 days]."""
    assert parse_retry_after(value, now) == expected


@settings(max_examples=300, deadline=None)
@given(
    value=st.text(max_size=60)
    | st.text("0123456789", min_size=1, max_size=400)
    | st.from_regex(
        r"(Mon|Fri), [0-9]{1,3} (Jan|Nov|Dec) -?[0-9]{1,25} [0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3}"
        r" (GMT|UTC|[+-][0-9]{1,22})",
        fullmatch=True,
    ),
    now=st.datetimes(
        timezones=st.none()
        | st.sampled_from(
            [
                UTC,
                timezone(timedelta(hours=23, minutes=59)),
                timezone(-timedelta(hours=23, minutes=59)),
            ]
        )
    ),
)
def test_parse_retry_after_never_raises(value: str, now: datetime) -> None:
    """Any header and any clock, even year 1 or 9999: no OverflowError, a pause within [0, 7 days] or None."""
    wait = parse_retry_after(value, now)
    assert wait is None or timedelta(0) <= wait <= MAX_RETRY_AFTER


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


# --- redirects, followed alike by submit and erase -----------------------------------

ERASE_PATH = f"/installation/{INSTALLATION_ID}"
# Where each request goes on a stub whose submit URL is /submit.
PATHS = {"submit": "/submit", "erase": ERASE_PATH}
METHODS = {"submit": "POST", "erase": "DELETE"}
REQUESTS = pytest.mark.parametrize("request_kind", ["submit", "erase"])


async def send(client: StatsServiceClient, request_kind: str) -> Accepted | None:
    """Submit the report or erase INSTALLATION_ID."""
    if request_kind == "submit":
        return await client.submit(REPORT, idempotency_key=IDEMPOTENCY_KEY)
    return await client.erase(INSTALLATION_ID)


@dataclass
class FakeAnswer:
    """One answer of FakeSession."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"submission_id": 7}'

    @property
    def content(self) -> FakeAnswer:
        """The body stream is the answer itself."""
        return self

    async def read(self, limit: int = -1) -> bytes:
        """The whole body once, then nothing."""
        body, self.body = self.body, b""
        return body


@dataclass
class FakeSession:
    """Answers requests to a remote-looking endpoint, which no test may reach.

    Only the statistics client's own loop and rules run; the network does not.
    """

    answers: list[FakeAnswer]
    requests: list[tuple[str, URL, dict[str, str]]] = field(default_factory=list)

    @asynccontextmanager
    async def request(
        self, method: str, url: URL, *, headers: dict[str, str], **_: object
    ) -> AsyncIterator[FakeAnswer]:
        """Note the request, then give the next answer."""
        self.requests.append((method, URL(url), headers))
        yield self.answers.pop(0)


REMOTE_ENDPOINT = "https://stats.printernizer.com/submit"
REMOTE_ERASE_URL = URL(deletion_url(REMOTE_ENDPOINT, INSTALLATION_ID))
REMOTE_URLS = {"submit": URL(REMOTE_ENDPOINT), "erase": REMOTE_ERASE_URL}
# This machine and the local network, as a redirect could name them.
LOCAL_TARGETS = [
    "https://127.0.0.1:8123/x",
    "https://[::1]/x",
    "https://10.0.0.1/x",
    "https://192.168.1.2/x",
    "https://169.254.1.1/x",
    "https://172.16.0.1/x",
    "https://100.64.0.1/x",
    "https://0.0.0.0/x",
    "https://[::]/x",
    "https://[fe80::1]/x",
    "https://[fe80::1%25eth0]/x",
    "https://[fd12:3456::1]/x",
    "https://[::ffff:192.168.1.2]/x",
    "https://[64:ff9b::a00:1]/x",
    "https://[2002:c0a8:102::1]/x",
    "https://224.0.0.251/x",
    "https://127.1/x",
    "https://2130706433/x",
    "https://0x7f.0.0.1/x",
    "https://0177.0.0.1/x",
    "https://127.0.0.1./x",
    "//127.0.0.1:8123/x",
    "https://localhost/x",
    "https://LOCALHOST./x",
    "https://printer.localhost/x",
    "https://octopi.local/x",
    "https://nas.home.arpa/x",
    "https://ha.internal/x",
    "https://router.lan/x",
    "https://ha.home/x",
    "https://fritz.box/x",
    "https://a0d7b954-printernizer/x",
    "https://homeassistant:8123/x",
]
# Public addresses and names stay allowed, whatever they look like.
REMOTE_TARGETS = [
    ("/v2/submit", "https://stats.printernizer.com/v2/submit"),
    ("https://mirror.example/submit", "https://mirror.example/submit"),
    ("https://8.8.8.8/x", "https://8.8.8.8/x"),
    ("https://[2606:4700::1111]/x", "https://[2606:4700::1111]/x"),
    ("https://[64:ff9b::808:808]/x", "https://[64:ff9b::808:808]/x"),
    ("https://localhost.example.com/x", "https://localhost.example.com/x"),
    ("https://local.printernizer.com/x", "https://local.printernizer.com/x"),
]


@REQUESTS
@pytest.mark.parametrize("status", [307, 308])
async def test_redirect_same_origin(
    session: aiohttp.ClientSession,
    stub: Stub,
    stub_url: URL,
    request_kind: str,
    status: int,
) -> None:
    """A 307/308 on the same origin repeats the request with the same headers, key included."""
    stub.routes[PATHS[request_kind]] = reply(status, headers={"Location": "/v2/here"})
    await send(client_for(session, stub_url), request_kind)
    first, second = stub.seen
    assert (second.method, second.path) == (METHODS[request_kind], "/v2/here")
    assert second.body == first.body
    assert second.headers["X-API-Key"] == API_KEY
    for name in ("X-API-Key", "User-Agent"):
        assert second.headers[name] == first.headers[name]
    if request_kind == "submit":
        assert second.body == REPORT
        for name in ("Idempotency-Key", "Content-Type"):
            assert second.headers[name] == first.headers[name]
    else:
        assert "Idempotency-Key" not in second.headers


async def test_submit_redirect_same_origin_accepted(
    session: aiohttp.ClientSession, stub: Stub, stub_url: URL
) -> None:
    """The answer after a redirect is the one that counts."""
    stub.routes["/submit"] = reply(308, headers={"Location": "/v2/submit"})
    accepted = await client_for(session, stub_url).submit(
        REPORT, idempotency_key=IDEMPOTENCY_KEY
    )
    assert accepted == Accepted(status=200, submission_id="42")


async def test_erase_redirect_same_origin_308(
    session: aiohttp.ClientSession, stub: Stub, stub_url: URL
) -> None:
    """Erase follows a permanent move on its origin: DELETE with the key to the new place (issue 17)."""
    new_path = f"/api/v2/installation/{INSTALLATION_ID}"
    stub.routes[ERASE_PATH] = reply(308, headers={"Location": new_path})
    stub.routes[new_path] = reply(404)  # nothing held any more: done
    assert await client_for(session, stub_url).erase(INSTALLATION_ID) is None
    assert [(seen.method, seen.path) for seen in stub.seen] == [
        ("DELETE", ERASE_PATH),
        ("DELETE", new_path),
    ]
    assert stub.seen[1].headers["X-API-Key"] == API_KEY


async def test_check_credentials_follows_redirect(
    session: aiohttp.ClientSession, servers: list[TestServer]
) -> None:
    """Checking the key follows the service's move too, instead of failing every time."""
    seen: list[tuple[str, str, str | None]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, request.headers.get("X-API-Key")))
        if request.path.startswith("/installation/"):
            return web.Response(status=308, headers={"Location": f"/v2{request.path}"})
        return web.json_response({"deleted_count": 0})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    server = await serve(app)
    servers.append(server)
    await client_for(session, server.make_url("/submit")).check_credentials()
    (first, second) = seen
    assert second == ("DELETE", f"/v2{first[1]}", API_KEY)
    assert first[2] == API_KEY


@REQUESTS
async def test_redirect_to_other_origin_drops_key(
    session: aiohttp.ClientSession,
    stub: Stub,
    stub_url: URL,
    stats_endpoint: str,
    stats_service: StatsServiceEmulator,
    request_kind: str,
) -> None:
    """The API key never follows a redirect to another origin (the service then answers 403)."""
    target = URL(stats_endpoint)
    if request_kind == "erase":
        target = URL(deletion_url(stats_endpoint, INSTALLATION_ID))
    stub.routes[PATHS[request_kind]] = reply(307, headers={"Location": str(target)})
    with pytest.raises(AuthFailedError) as raised:
        await send(client_for(session, stub_url), request_kind)
    assert raised.value.status == 403
    assert [status for _, _, status in stats_service.log] == [403]
    assert stats_service.submissions == []
    assert stats_service.deleted_ids == []


@REQUESTS
async def test_redirect_to_other_origin_keeps_the_rest(
    session: aiohttp.ClientSession,
    stub: Stub,
    stub_url: URL,
    servers: list[TestServer],
    request_kind: str,
) -> None:
    """Another origin (here another loopback server) gets the request, never the key."""
    other = Stub()
    other_server = await serve(other.app())
    servers.append(other_server)
    target = str(other_server.make_url("/moved"))
    stub.routes[PATHS[request_kind]] = reply(308, headers={"Location": target})
    result = await send(client_for(session, stub_url), request_kind)
    (seen,) = other.seen
    assert (seen.method, seen.path) == (METHODS[request_kind], "/moved")
    assert "X-API-Key" not in seen.headers
    if request_kind == "submit":
        assert result == Accepted(status=200, submission_id="42")
        assert seen.body == REPORT
        assert seen.headers["Idempotency-Key"] == IDEMPOTENCY_KEY
    else:
        assert result is None


@REQUESTS
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
async def test_redirect_refused(
    session: aiohttp.ClientSession,
    stub: Stub,
    stub_url: URL,
    wire: Wire,
    request_kind: str,
    location: str,
) -> None:
    """A redirect to anywhere unacceptable is refused before any connection or lookup."""
    stub.routes[PATHS[request_kind]] = reply(307, headers={"Location": location})
    with pytest.raises(CannotConnectError, match="insecure_redirect") as raised:
        await send(client_for(session, stub_url), request_kind)
    assert_secret_kept(raised.value, "pw")
    assert wire.urls == [stub_url.with_path(PATHS[request_kind])]
    assert wire.resolver.lookups == []


@REQUESTS
async def test_redirect_without_location(
    session: aiohttp.ClientSession, stub: Stub, stub_url: URL, request_kind: str
) -> None:
    """A 308 without Location cannot be followed."""
    stub.routes[PATHS[request_kind]] = reply(308)
    with pytest.raises(CannotConnectError, match="redirect") as raised:
        await send(client_for(session, stub_url), request_kind)
    assert raised.value.status == 308


@REQUESTS
async def test_too_many_redirects(
    session: aiohttp.ClientSession, stub: Stub, stub_url: URL, request_kind: str
) -> None:
    """At most three redirects are followed."""
    stub.routes[PATHS[request_kind]] = reply(307, headers={"Location": "/hop1"})
    for hop in range(1, 5):
        stub.routes[f"/hop{hop}"] = reply(307, headers={"Location": f"/hop{hop + 1}"})
    with pytest.raises(CannotConnectError, match="too_many_redirects"):
        await send(client_for(session, stub_url), request_kind)
    assert [seen.path for seen in stub.seen] == [
        PATHS[request_kind],
        "/hop1",
        "/hop2",
        "/hop3",
    ]


@pytest.mark.parametrize("status", [300, 301, 302, 303])
async def test_erase_other_redirects_not_followed(
    session: aiohttp.ClientSession, stub: Stub, stub_url: URL, status: int
) -> None:
    """301-303 would turn DELETE into GET: not followed, as for submit."""
    stub.routes[ERASE_PATH] = reply(status, headers={"Location": "/elsewhere"})
    with pytest.raises(CannotConnectError, match="redirect") as raised:
        await client_for(session, stub_url).erase(INSTALLATION_ID)
    assert raised.value.status == status
    assert [seen.path for seen in stub.seen] == [ERASE_PATH]


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        *REMOTE_TARGETS,
        ("http://127.0.0.1:8123/api", None),
        ("http://localhost/api", None),
        ("http://stats.printernizer.com/submit", None),
        *((location, None) for location in LOCAL_TARGETS),
    ],
)
def test_redirect_from_remote_endpoint(location: str, expected: str | None) -> None:
    """From a remote endpoint only public https is followed, never this machine or the local network."""
    client = client_for(NO_SESSION, REMOTE_ENDPOINT)
    current = URL(REMOTE_ENDPOINT)
    if expected is None:
        with pytest.raises(CannotConnectError, match="insecure_redirect"):
            client._redirect_target(current, location)
    else:
        assert client._redirect_target(current, location) == URL(expected)


@REQUESTS
@pytest.mark.parametrize(
    "location",
    [
        "https://127.0.0.1:8123/x",
        "https://[::1]/x",
        "https://10.0.0.1/x",
        "https://192.168.1.2/x",
        "https://169.254.1.1/x",
    ],
)
async def test_redirect_from_remote_endpoint_refused_before_sending(
    request_kind: str, location: str
) -> None:
    """The whole request path refuses a remote service's redirect into this machine or the network (issue 15).

    No remote server can run in the tests, so a FakeSession plays the remote
    service; the client's own redirect loop and rules are the real ones.
    """
    fake = FakeSession([FakeAnswer(307, {"Location": location})])
    client = client_for(cast("aiohttp.ClientSession", fake), REMOTE_ENDPOINT)
    with pytest.raises(CannotConnectError, match="insecure_redirect"):
        await send(client, request_kind)
    ((method, url, headers),) = fake.requests
    assert (method, url) == (METHODS[request_kind], REMOTE_URLS[request_kind])
    assert headers["X-API-Key"] == API_KEY


@REQUESTS
async def test_redirect_from_remote_endpoint_to_public_origin(
    request_kind: str,
) -> None:
    """A remote service may still move to another public origin, which gets no key."""
    fake = FakeSession(
        [
            FakeAnswer(308, {"Location": "https://stats.example.org/moved"}),
            FakeAnswer(200),
        ]
    )
    client = client_for(cast("aiohttp.ClientSession", fake), REMOTE_ENDPOINT)
    result = await send(client, request_kind)
    assert result == (
        Accepted(status=200, submission_id="7") if request_kind == "submit" else None
    )
    first, second = fake.requests
    assert first[2]["X-API-Key"] == API_KEY
    assert second[:2] == (METHODS[request_kind], URL("https://stats.example.org/moved"))
    assert "X-API-Key" not in second[2]


@pytest.mark.parametrize(
    ("endpoint", "location"),
    [
        ("http://127.0.0.1:8001/submit", "http://[::1]:8002/submit"),
        ("http://127.0.0.1:8001/submit", "http://localhost:8002/submit"),
        ("http://[::1]:8001/submit", "http://127.0.0.5/submit"),
        ("http://127.0.0.1:8001/submit", "https://192.168.1.2/submit"),
        ("https://nas.home.arpa/submit", "https://10.0.0.1/x"),
        ("https://192.168.1.2/submit", "https://[::1]/x"),
        ("https://printernizer-stats/submit", "https://fritz.box/x"),
        ("http://127.0.0.1:8001/submit", "https://stats.printernizer.com/submit"),
    ],
)
def test_redirect_within_local_endpoint(endpoint: str, location: str) -> None:
    """An endpoint on this machine or the local network may redirect within it (the emulator, a self-hosted service)."""
    client = client_for(NO_SESSION, endpoint)
    assert client._redirect_target(URL(endpoint), location) == URL(location)


def test_redirect_within_local_endpoint_keeps_https() -> None:
    """Even from a local https endpoint, plain http is not followed."""
    client = client_for(NO_SESSION, "https://127.0.0.1:8443/submit")
    with pytest.raises(CannotConnectError, match="insecure_redirect"):
        client._redirect_target(
            URL("https://127.0.0.1:8443/submit"), "http://127.0.0.1:8001/submit"
        )


def _host(location: str) -> str:
    """The host a redirect location names."""
    host = URL(location if location.startswith("https:") else f"https:{location}").host
    assert host is not None
    return host


@pytest.mark.parametrize(
    ("host", "local"),
    [
        *((_host(location), True) for location in LOCAL_TARGETS),
        ("printernizer", True),
        ("", True),
        ("stats.printernizer.com", False),
        ("8.8.8.8", False),
        ("2606:4700::1111", False),
        ("0xdeadbeef", False),
        ("localhost.example.com", False),
        ("mylocal", True),
        ("example.local.", True),
        ("münchen.de", False),
        ("münchen.local", True),
    ],
)
def test_is_local_host(host: str, local: bool) -> None:
    """IP literals in every form the connection accepts, and the local names, without DNS."""
    assert is_local_host(host) is local


# --- errors --------------------------------------------------------------------------


def test_errors_carry_codes_not_text() -> None:
    """Client errors carry a reason code and a status."""
    limited = RateLimitedError("http_429", retry_after=timedelta(seconds=5))
    assert (str(limited), limited.status, limited.retry_after) == (
        "http_429",
        429,
        timedelta(seconds=5),
    )
    assert CannotConnectError("timeout").status is None
    for error in (
        AuthFailedError,
        RejectedError,
        InsecureEndpointError,
        InvalidEndpointError,
        ContractError,
        StorageUnwritableError,
    ):
        assert issubclass(error, PrinternizerStatsError)
    assert issubclass(InvalidEndpointError, ValueError)
    assert issubclass(ContractError, ValueError)
