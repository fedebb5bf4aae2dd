"""Tests for the statistics-service client, against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
import json
import random
import socket
from types import SimpleNamespace
from typing import Any
import uuid

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from yarl import URL

from custom_components.printernizer_stats.report import (
    InstallationFacts,
    Period,
    build_report,
    serialize_report,
)
from custom_components.printernizer_stats.stats_api import (
    DeleteResult,
    InsecureEndpointError,
    StatsServiceClient,
    SubmitOutcome,
    SubmitResult,
    backoff_delay,
    deletion_url,
    parse_retry_after,
    validate_endpoint,
)
from simulator.stats_service import StatsServiceEmulator, valid_report

API_KEY = "test-key"
USER_AGENT = "printernizer_stats/0.1.0 HomeAssistant/2025.4.4"
IDEMPOTENCY_KEY = "5a0c3c1e-2d4b-4f6a-9b8c-7d6e5f4a3b2c"
INSTALLATION_ID = "0b6d1c2e-3f4a-4b5c-8d6e-7f8091a2b3c4"
BODY = b'{"schema_version":"1.0","usage_stats":{"job_count":3}}'
ACCEPTED_BODY = b'{"status":"success","submission_id":42,"message":"ok"}'
NOW = datetime(2025, 3, 11, 12, 0, tzinfo=UTC)

# Sockets stay restricted to 127.0.0.1 by the test plugin's connect guard.
pytestmark = pytest.mark.usefixtures("socket_enabled")


@dataclass
class Reply:
    """One canned answer of the stub service."""

    status: int = 200
    body: bytes = ACCEPTED_BODY
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


@dataclass
class Seen:
    """One request as the stub service received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Stub:
    """A configurable stand-in for the statistics service."""

    replies: dict[str, Reply] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        """Answer every path from `replies` (default: 200 accepted)."""

        async def handle(request: web.Request) -> web.StreamResponse:
            self.seen.append(
                Seen(
                    request.method,
                    request.path_qs,
                    dict(request.headers),
                    await request.read(),
                )
            )
            reply = self.replies.get(request.path, Reply())
            if reply.hang:
                await self.release.wait()
            return web.Response(
                status=reply.status, body=reply.body, headers=reply.headers
            )

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        return app


class RefusingResolver(AbstractResolver):
    """A resolver that records every name lookup and never reaches DNS."""

    def __init__(self) -> None:
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        raise OSError(f"name lookups are not allowed in tests: {host}")

    async def close(self) -> None:
        """Nothing to release."""


@dataclass
class Wire:
    """Everything the client session tried to reach."""

    urls: list[URL] = field(default_factory=list)
    resolver: RefusingResolver = field(default_factory=RefusingResolver)


@pytest.fixture
async def wire() -> Wire:
    """Record outgoing requests and name lookups."""
    return Wire()


@pytest.fixture
async def session(wire: Wire) -> AsyncGenerator[aiohttp.ClientSession]:
    """A client session that can only reach IP literals and records each request."""

    async def on_request_start(
        _session: aiohttp.ClientSession,
        _context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        wire.urls.append(params.url)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=wire.resolver),
        trace_configs=[trace],
    ) as client_session:
        yield client_session


async def _start(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
async def stub() -> AsyncGenerator[Stub]:
    """A stub service; hanging handlers are released at teardown."""
    service = Stub()
    yield service
    service.release.set()


@pytest.fixture
async def server(stub: Stub) -> AsyncGenerator[TestServer]:
    """The stub service listening on 127.0.0.1."""
    test_server = await _start(stub.app())
    yield test_server
    stub.release.set()
    await test_server.close()


def _client(
    session: aiohttp.ClientSession,
    endpoint: URL | str,
    *,
    api_key: str = API_KEY,
    timeout: float = 5.0,
) -> StatsServiceClient:
    return StatsServiceClient(
        session,
        endpoint=str(endpoint),
        api_key=api_key,
        user_agent=USER_AGENT,
        timeout=timeout,
    )


async def _submit(
    session: aiohttp.ClientSession, server: TestServer, **kwargs: Any
) -> SubmitResult:
    client = _client(session, server.make_url("/submit"), **kwargs)
    return await client.submit(BODY, idempotency_key=IDEMPOTENCY_KEY)


async def test_submit_accepted_sends_headers_and_body(
    session: aiohttp.ClientSession, server: TestServer, stub: Stub, wire: Wire
) -> None:
    """A 200 is accepted; headers and body arrive exactly as promised."""
    result = await _submit(session, server)
    assert result == SubmitResult(SubmitOutcome.ACCEPTED, 200, None, "42", None)
    [seen] = stub.seen
    assert seen.method == "POST"
    assert seen.path == "/submit"
    assert seen.body == BODY
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["X-API-Key"] == API_KEY
    assert seen.headers["Idempotency-Key"] == IDEMPOTENCY_KEY
    assert seen.headers["User-Agent"] == USER_AGENT
    assert wire.urls == [server.make_url("/submit")]
    assert wire.resolver.lookups == []


async def test_submit_without_api_key_omits_header(
    session: aiohttp.ClientSession, server: TestServer, stub: Stub
) -> None:
    """An empty API key sends no X-API-Key header at all."""
    await _submit(session, server, api_key="")
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
    ],
)
async def test_submit_accepted_submission_id(
    session: aiohttp.ClientSession,
    server: TestServer,
    stub: Stub,
    status: int,
    body: bytes,
    submission_id: str | None,
) -> None:
    """Any 2xx is accepted; the id is kept only when short, printable and scalar."""
    stub.replies["/submit"] = Reply(status=status, body=body)
    result = await _submit(session, server)
    assert result.outcome is SubmitOutcome.ACCEPTED
    assert result.status == status
    assert result.submission_id == submission_id
    assert result.error is None


@pytest.mark.parametrize(
    ("status", "outcome", "error"),
    [
        (400, SubmitOutcome.REJECTED, "http_400"),
        (401, SubmitOutcome.AUTH_FAILED, "http_401"),
        (403, SubmitOutcome.AUTH_FAILED, "http_403"),
        (404, SubmitOutcome.REJECTED, "http_404"),
        (408, SubmitOutcome.RETRY, "http_408"),
        (413, SubmitOutcome.REJECTED, "http_413"),
        (422, SubmitOutcome.REJECTED, "http_422"),
        (429, SubmitOutcome.RATE_LIMITED, "http_429"),
        (451, SubmitOutcome.REJECTED, "http_451"),
        (500, SubmitOutcome.RETRY, "http_500"),
        (502, SubmitOutcome.RETRY, "http_502"),
        (503, SubmitOutcome.RETRY, "http_503"),
        (599, SubmitOutcome.RETRY, "http_599"),
        (300, SubmitOutcome.RETRY, "redirect"),
        (301, SubmitOutcome.RETRY, "redirect"),
        (302, SubmitOutcome.RETRY, "redirect"),
        (303, SubmitOutcome.RETRY, "redirect"),
    ],
)
async def test_submit_status_classes(
    session: aiohttp.ClientSession,
    server: TestServer,
    stub: Stub,
    wire: Wire,
    status: int,
    outcome: SubmitOutcome,
    error: str,
) -> None:
    """Every status class maps to what the scheduler must do next."""
    stub.replies["/submit"] = Reply(
        status=status,
        body=b'{"detail":"no"}',
        headers={"Location": "http://example.com/submit"},
    )
    result = await _submit(session, server)
    assert result == SubmitResult(outcome, status, None, None, error)
    assert len(wire.urls) == 1


async def test_submit_rate_limited_retry_after_seconds(
    session: aiohttp.ClientSession, server: TestServer, stub: Stub
) -> None:
    """Retry-After in seconds is honoured."""
    stub.replies["/submit"] = Reply(status=429, headers={"Retry-After": "3600"})
    result = await _submit(session, server)
    assert result.outcome is SubmitOutcome.RATE_LIMITED
    assert result.retry_after == timedelta(hours=1)


async def test_submit_rate_limited_retry_after_http_date(
    session: aiohttp.ClientSession, server: TestServer, stub: Stub
) -> None:
    """Retry-After as an HTTP-date is turned into a delay from now."""
    when = datetime.now(UTC) + timedelta(hours=2)
    stub.replies["/submit"] = Reply(
        status=429, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )
    result = await _submit(session, server)
    assert result.retry_after is not None
    assert timedelta(hours=2) - timedelta(seconds=5) <= result.retry_after
    assert result.retry_after <= timedelta(hours=2)


@pytest.mark.parametrize("headers", [{}, {"Retry-After": "soon"}])
async def test_submit_rate_limited_without_usable_retry_after(
    session: aiohttp.ClientSession,
    server: TestServer,
    stub: Stub,
    headers: dict[str, str],
) -> None:
    """A missing or unreadable Retry-After leaves the delay to the caller."""
    stub.replies["/submit"] = Reply(status=429, headers=headers)
    result = await _submit(session, server)
    assert result == SubmitResult(
        SubmitOutcome.RATE_LIMITED, 429, None, None, "http_429"
    )


async def test_submit_timeout(
    session: aiohttp.ClientSession, server: TestServer, stub: Stub
) -> None:
    """A server slower than the client's timeout means retry later."""
    stub.replies["/submit"] = Reply(hang=True)
    result = await _submit(session, server, timeout=0.2)
    assert result == SubmitResult(SubmitOutcome.RETRY, None, None, None, "timeout")


RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def raw_server() -> AsyncGenerator[Callable[[RawHandler], Awaitable[URL]]]:
    """Start plain TCP servers on 127.0.0.1 that misbehave below HTTP."""
    servers: list[asyncio.Server] = []

    async def start(handler: RawHandler) -> URL:
        raw = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(raw)
        port = raw.sockets[0].getsockname()[1]
        return URL(f"http://127.0.0.1:{port}/submit")

    yield start
    for raw in servers:
        raw.close()
        await raw.wait_closed()


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(65_536)
    writer.transport.abort()


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(65_536)
    writer.write(b"THIS IS NOT HTTP\r\n\r\n")
    await writer.drain()
    writer.close()


async def _truncated(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await reader.read(65_536)
    writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"submission_id":')
    await writer.drain()
    writer.close()


@pytest.mark.parametrize(
    ("handler", "error"),
    [(_reset, "connection_error"), (_garbage, "invalid_response")],
)
async def test_submit_broken_transport_retries(
    session: aiohttp.ClientSession,
    raw_server: Callable[[RawHandler], Awaitable[URL]],
    handler: RawHandler,
    error: str,
) -> None:
    """A reset connection or a non-HTTP answer means retry, never an exception."""
    client = _client(session, await raw_server(handler))
    result = await client.submit(BODY, idempotency_key=IDEMPOTENCY_KEY)
    assert result == SubmitResult(SubmitOutcome.RETRY, None, None, None, error)


async def test_submit_truncated_2xx_is_still_accepted(
    session: aiohttp.ClientSession,
    raw_server: Callable[[RawHandler], Awaitable[URL]],
) -> None:
    """Once a 2xx status arrived the report is stored; resending would duplicate it."""
    client = _client(session, await raw_server(_truncated))
    result = await client.submit(BODY, idempotency_key=IDEMPOTENCY_KEY)
    assert result == SubmitResult(SubmitOutcome.ACCEPTED, 200, None, None, None)


def _closed_port_url() -> URL:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return URL(f"http://127.0.0.1:{port}/submit")


async def test_submit_connection_refused(session: aiohttp.ClientSession) -> None:
    """Nobody listening means retry later."""
    client = _client(session, _closed_port_url())
    result = await client.submit(BODY, idempotency_key=IDEMPOTENCY_KEY)
    assert result == SubmitResult(
        SubmitOutcome.RETRY, None, None, None, "connection_error"
    )


@pytest.mark.parametrize(
    "location",
    [
        "http://example.com/submit",
        "ftp://127.0.0.1/submit",
        "http://user:pw@127.0.0.1/submit",
        "http://[::1",
    ],
)
async def test_submit_insecure_redirect_never_followed(
    session: aiohttp.ClientSession,
    server: TestServer,
    stub: Stub,
    wire: Wire,
    location: str,
) -> None:
    """A redirect to an unacceptable place is refused before any connection or lookup."""
    stub.replies["/submit"] = Reply(status=307, headers={"Location": location})
    result = await _submit(session, server)
    assert result == SubmitResult(
        SubmitOutcome.RETRY, 307, None, None, "insecure_redirect"
    )
    assert wire.urls == [server.make_url("/submit")]
    assert wire.resolver.lookups == []
    assert len(stub.seen) == 1


async def test_submit_redirect_without_location(
    session: aiohttp.ClientSession, server: TestServer, stub: Stub
) -> None:
    """A 308 with no Location cannot be followed."""
    stub.replies["/submit"] = Reply(status=308)
    result = await _submit(session, server)
    assert result == SubmitResult(SubmitOutcome.RETRY, 308, None, None, "redirect")


@pytest.mark.parametrize("status", [307, 308])
async def test_submit_redirect_followed_on_loopback(
    session: aiohttp.ClientSession,
    server: TestServer,
    stub: Stub,
    wire: Wire,
    status: int,
) -> None:
    """A 307/308 to another loopback URL re-posts the same body and headers."""
    stub.replies["/submit"] = Reply(status=status, headers={"Location": "/v2/submit"})
    result = await _submit(session, server)
    assert result.outcome is SubmitOutcome.ACCEPTED
    assert [seen.path for seen in stub.seen] == ["/submit", "/v2/submit"]
    first, second = stub.seen
    assert second.method == "POST"
    assert second.body == first.body == BODY
    for name in ("X-API-Key", "Idempotency-Key", "User-Agent", "Content-Type"):
        assert second.headers[name] == first.headers[name]
    assert wire.urls == [server.make_url("/submit"), server.make_url("/v2/submit")]


async def test_submit_cross_origin_redirect_drops_api_key(
    session: aiohttp.ClientSession, server: TestServer, stub: Stub
) -> None:
    """The API key never follows a redirect to another origin."""
    other = Stub()
    other_server = await _start(other.app())
    try:
        stub.replies["/submit"] = Reply(
            status=307, headers={"Location": str(other_server.make_url("/submit"))}
        )
        result = await _submit(session, server)
    finally:
        await other_server.close()
    assert result.outcome is SubmitOutcome.ACCEPTED
    [seen] = other.seen
    assert seen.body == BODY
    assert "X-API-Key" not in seen.headers
    assert seen.headers["Idempotency-Key"] == IDEMPOTENCY_KEY


async def test_submit_too_many_redirects(
    session: aiohttp.ClientSession, server: TestServer, stub: Stub
) -> None:
    """At most three redirects are followed."""
    for hop in range(5):
        stub.replies[f"/hop{hop}"] = Reply(
            status=307, headers={"Location": f"/hop{hop + 1}"}
        )
    result = await _client(session, server.make_url("/hop0")).submit(
        BODY, idempotency_key=IDEMPOTENCY_KEY
    )
    assert result == SubmitResult(
        SubmitOutcome.RETRY, None, None, None, "too_many_redirects"
    )
    assert [seen.path for seen in stub.seen] == ["/hop0", "/hop1", "/hop2", "/hop3"]


async def test_redirect_target_rules(session: aiohttp.ClientSession) -> None:
    """From a remote https endpoint, only https targets are acceptable."""
    client = _client(session, "https://stats.printernizer.com/submit")
    current = URL("https://stats.printernizer.com/submit")
    assert client._redirect_target(current, "/v2/submit") == URL(
        "https://stats.printernizer.com/v2/submit"
    )
    assert client._redirect_target(current, "https://mirror.example/submit") == URL(
        "https://mirror.example/submit"
    )
    assert client._redirect_target(current, "http://127.0.0.1:8123/api") is None
    assert client._redirect_target(current, "http://stats.printernizer.com/x") is None


@pytest.mark.parametrize("key", ["", "has space", "x" * 129, "line\nbreak"])
async def test_submit_refuses_bad_idempotency_key(
    session: aiohttp.ClientSession, server: TestServer, stub: Stub, key: str
) -> None:
    """A malformed idempotency key is a caller bug and is refused before sending."""
    client = _client(session, server.make_url("/submit"))
    with pytest.raises(ValueError, match="idempotency_key"):
        await client.submit(BODY, idempotency_key=key)
    assert stub.seen == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"endpoint": "http://example.com/submit"}, InsecureEndpointError, "https"),
        ({"api_key": "bad\nkey"}, ValueError, "API key"),
        ({"api_key": "schlüssel"}, ValueError, "API key"),
        ({"user_agent": ""}, ValueError, "user agent"),
        ({"user_agent": "ua\r\nX-Evil: 1"}, ValueError, "user agent"),
    ],
)
async def test_client_constructor_validates(
    session: aiohttp.ClientSession,
    kwargs: dict[str, str],
    error: type[Exception],
    match: str,
) -> None:
    """Insecure endpoints and header-breaking values never get a request."""
    arguments = {
        "endpoint": "https://stats.printernizer.com/submit",
        "api_key": API_KEY,
        "user_agent": USER_AGENT,
    } | kwargs
    with pytest.raises(error, match=match) as raised:
        StatsServiceClient(session, **arguments)
    assert "bad\nkey" not in str(raised.value)


@pytest.mark.parametrize(
    ("status", "ok", "error"),
    [
        (200, True, None),
        (204, True, None),
        (404, True, None),
        (401, False, "http_401"),
        (403, False, "http_403"),
        (429, False, "http_429"),
        (500, False, "http_500"),
        (307, False, "redirect"),
    ],
)
async def test_delete_installation_statuses(
    session: aiohttp.ClientSession,
    server: TestServer,
    stub: Stub,
    status: int,
    ok: bool,
    error: str | None,
) -> None:
    """2xx and 404 mean nothing is left; anything else is reported, never raised."""
    stub.replies[f"/installation/{INSTALLATION_ID}"] = Reply(
        status=status, headers={"Location": "http://example.com/"}
    )
    client = _client(session, server.make_url("/submit"))
    result = await client.delete_installation(INSTALLATION_ID)
    assert result == DeleteResult(ok=ok, status=status, error=error)
    [seen] = stub.seen
    assert seen.method == "DELETE"
    assert seen.path == f"/installation/{INSTALLATION_ID}"
    assert seen.headers["X-API-Key"] == API_KEY
    assert seen.headers["User-Agent"] == USER_AGENT
    assert "Idempotency-Key" not in seen.headers


async def test_delete_installation_timeout(
    session: aiohttp.ClientSession, server: TestServer, stub: Stub
) -> None:
    """A hanging erase request times out into a result."""
    stub.replies[f"/installation/{INSTALLATION_ID}"] = Reply(hang=True)
    client = _client(session, server.make_url("/submit"), timeout=0.2)
    result = await client.delete_installation(INSTALLATION_ID)
    assert result == DeleteResult(ok=False, status=None, error="timeout")


async def test_delete_installation_transport_errors(
    session: aiohttp.ClientSession,
    raw_server: Callable[[RawHandler], Awaitable[URL]],
) -> None:
    """Refused connections and garbage answers are results, not exceptions."""
    refused = _client(session, _closed_port_url())
    assert await refused.delete_installation(INSTALLATION_ID) == DeleteResult(
        ok=False, status=None, error="connection_error"
    )
    garbage = _client(session, await raw_server(_garbage))
    assert await garbage.delete_installation(INSTALLATION_ID) == DeleteResult(
        ok=False, status=None, error="invalid_response"
    )


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
        ("http://LOCALHOST:8001/submit", "http://localhost:8001/submit"),
        ("http://[::1]:8/x", "http://[::1]:8/x"),
    ],
)
def test_validate_endpoint_accepts(url: str, expected: str) -> None:
    """https anywhere, plain http only to this machine."""
    assert validate_endpoint(url) == expected


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://example.com/submit", InsecureEndpointError),
        ("http://192.168.1.5/submit", InsecureEndpointError),
        ("http://10.0.0.1/submit", InsecureEndpointError),
        ("http://localhost.example.com/submit", InsecureEndpointError),
        ("http://127.0.0.1.nip.io/submit", InsecureEndpointError),
        ("ftp://stats.printernizer.com/submit", InsecureEndpointError),
        ("ws://127.0.0.1/submit", InsecureEndpointError),
        ("stats.printernizer.com", InsecureEndpointError),
        ("stats.printernizer.com/submit", InsecureEndpointError),
        ("", InsecureEndpointError),
        ("https://user:pw@stats.printernizer.com/submit", InsecureEndpointError),
        ("https://user@stats.printernizer.com/submit", InsecureEndpointError),
        ("https://@stats.printernizer.com/submit", InsecureEndpointError),
        ("https://stats.printernizer.com/submit#frag", ValueError),
        ("https://stats.printernizer.com/submit#", ValueError),
        ("https:///submit", ValueError),
        ("https://exa mple.com/submit", ValueError),
        ("https://stats.printernizer.com:99999/submit", ValueError),
        ("http://[::1/submit", ValueError),
    ],
)
def test_validate_endpoint_refuses(url: str, error: type[ValueError]) -> None:
    """Anything that could leave the machine unencrypted or leak secrets is refused."""
    with pytest.raises(error):
        validate_endpoint(url)


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("https://h/submit", f"https://h/installation/{INSTALLATION_ID}"),
        ("https://h/submit/", f"https://h/installation/{INSTALLATION_ID}"),
        ("https://h/api/v1/submit", f"https://h/api/v1/installation/{INSTALLATION_ID}"),
        ("https://h/api/stats", f"https://h/api/stats/installation/{INSTALLATION_ID}"),
        ("https://h", f"https://h/installation/{INSTALLATION_ID}"),
        ("https://h/", f"https://h/installation/{INSTALLATION_ID}"),
        ("https://h/submit?v=1", f"https://h/installation/{INSTALLATION_ID}?v=1"),
        (
            "http://127.0.0.1:8001/submit",
            f"http://127.0.0.1:8001/installation/{INSTALLATION_ID}",
        ),
    ],
)
def test_deletion_url(endpoint: str, expected: str) -> None:
    """The erase URL sits next to the submit URL."""
    assert deletion_url(endpoint, INSTALLATION_ID) == expected


@pytest.mark.parametrize("installation_id", ["", "../admin", "a/b", "x" * 36])
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
        ("604800", NOW, timedelta(days=7)),
        ("604801", NOW, timedelta(days=7)),
        ("9999999", NOW, timedelta(days=7)),
        ("1" * 5000, NOW, timedelta(days=7)),
        ("-5", NOW, None),
        ("1.5", NOW, None),
        ("١٢٠", NOW, None),
        ("soon", NOW, None),
        ("Tue, 11 Mar 2025 13:00:00 GMT", NOW, timedelta(hours=1)),
        ("Tue, 11 Mar 2025 13:00:00 +0100", NOW, timedelta(0)),
        ("Tue, 11 Mar 2025 11:00:00 GMT", NOW, timedelta(0)),
        ("Fri, 31 Dec 9999 23:59:59 GMT", NOW, timedelta(days=7)),
        ("Tue, 11 Mar 2025 13:00:00 -0000", NOW, timedelta(hours=1)),
        ("Tue, 11 Mar 2025 13:00:00 GMT", NOW.replace(tzinfo=None), timedelta(hours=1)),
        ("Tue, 99 Mar 2025 13:00:00 GMT", NOW, None),
    ],
)
def test_parse_retry_after(
    value: str | None, now: datetime, expected: timedelta | None
) -> None:
    """Both RFC 9110 forms parse; nonsense gives None; results stay in [0, 7 days]."""
    assert parse_retry_after(value, now) == expected


def test_backoff_delay_grows_and_caps() -> None:
    """The ceiling doubles per attempt and stops at the cap."""
    top = random.Random()
    top.uniform = lambda low, high: high  # type: ignore[method-assign]
    assert backoff_delay(0, rng=top) == timedelta(hours=1)
    assert backoff_delay(1, rng=top) == timedelta(hours=2)
    assert backoff_delay(3, rng=top) == timedelta(hours=8)
    assert backoff_delay(5, rng=top) == timedelta(hours=24)
    assert backoff_delay(10**9, rng=top) == timedelta(hours=24)
    assert backoff_delay(-3, rng=top) == timedelta(hours=1)
    bottom = random.Random()
    bottom.uniform = lambda low, high: low  # type: ignore[method-assign]
    assert backoff_delay(6, rng=bottom) == timedelta(hours=1)


def test_backoff_delay_default_rng() -> None:
    """Without an rng the delay is still within bounds."""
    assert timedelta(hours=1) <= backoff_delay(4) <= timedelta(hours=16)


def test_backoff_delay_refuses_base_above_cap() -> None:
    """A floor above the ceiling is a configuration bug."""
    with pytest.raises(ValueError, match="cap"):
        backoff_delay(1, base=timedelta(hours=2), cap=timedelta(hours=1))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    attempt=st.integers(min_value=-10, max_value=10_000),
    seed=st.integers(min_value=0, max_value=2**32),
    base_seconds=st.integers(min_value=1, max_value=7 * 86_400),
    extra_seconds=st.integers(min_value=0, max_value=30 * 86_400),
)
def test_backoff_delay_always_within_bounds(
    attempt: int, seed: int, base_seconds: int, extra_seconds: int
) -> None:
    """Whatever the attempt, the delay lies in [base, min(cap, base * 2**attempt)]."""
    base = timedelta(seconds=base_seconds)
    cap = base + timedelta(seconds=extra_seconds)
    delay = backoff_delay(attempt, rng=random.Random(seed), base=base, cap=cap)
    assert base <= delay <= cap
    if attempt >= 0:
        assert delay.total_seconds() <= max(base_seconds, base_seconds * 2**attempt)


# --- Against the statistics-service emulator (simulator/stats_service.py) ---


@pytest.fixture
async def emulator() -> StatsServiceEmulator:
    """The colleague's emulator of Printernizer's aggregation service."""
    return StatsServiceEmulator()


@pytest.fixture
async def emulator_server(
    emulator: StatsServiceEmulator,
) -> AsyncGenerator[TestServer]:
    """The emulator listening on 127.0.0.1."""
    test_server = await _start(emulator.app)
    yield test_server
    await test_server.close()


def _today_report() -> bytes:
    """A report built by our own builder for the week that ended today (UTC)."""
    today = datetime.now(UTC).date()
    period = Period(start=today - timedelta(days=7), end=today)
    built = build_report(
        counters={period.start: {"job_completed": 2, "file_downloaded": 1}},
        period=period,
        installation=InstallationFacts(
            installation_id=INSTALLATION_ID,
            first_seen=period.start,
            app_version="2.7.0",
            python_version="3.13.1",
            platform="linux",
            country_code="DE",
        ),
        fleet={"bambu_lab": 1},
        uptime_hours=100,
        consent_day=period.start,
        today=today,
    )
    return serialize_report(built)


def _emulator_client(
    session: aiohttp.ClientSession, server: TestServer, **kwargs: Any
) -> StatsServiceClient:
    return _client(session, server.make_url("/submit"), **kwargs)


async def test_emulator_accepts_our_report(
    session: aiohttp.ClientSession,
    emulator_server: TestServer,
    emulator: StatsServiceEmulator,
) -> None:
    """A report from build_report is accepted; the integer id comes back as text."""
    client = _emulator_client(session, emulator_server)
    body = _today_report()
    result = await client.submit(body, idempotency_key=IDEMPOTENCY_KEY)
    assert result == SubmitResult(SubmitOutcome.ACCEPTED, 200, None, "1", None)
    assert emulator.accepted == [json.loads(body)]
    # The same report and key again is a replay, not a second submission.
    again = await client.submit(body, idempotency_key=IDEMPOTENCY_KEY)
    assert again.submission_id == "1"
    assert len(emulator.accepted) == 1


async def test_emulator_rate_limit_gives_retry_after(
    session: aiohttp.ClientSession, emulator_server: TestServer
) -> None:
    """A second report within the hour is rate limited with a usable delay."""
    client = _emulator_client(session, emulator_server)
    body = _today_report()
    await client.submit(body, idempotency_key=IDEMPOTENCY_KEY)
    result = await client.submit(body, idempotency_key=str(uuid.uuid4()))
    assert result.outcome is SubmitOutcome.RATE_LIMITED
    assert result.retry_after is not None
    assert timedelta(minutes=59) <= result.retry_after <= timedelta(hours=1)


@pytest.mark.parametrize(("api_key", "status"), [("wrong-key", 401), ("", 403)])
async def test_emulator_auth_failures(
    session: aiohttp.ClientSession,
    emulator_server: TestServer,
    api_key: str,
    status: int,
) -> None:
    """A wrong key (401) and a missing key (403) both stop submissions."""
    client = _emulator_client(session, emulator_server, api_key=api_key)
    result = await client.submit(_today_report(), idempotency_key=IDEMPOTENCY_KEY)
    assert result == SubmitResult(
        SubmitOutcome.AUTH_FAILED, status, None, None, f"http_{status}"
    )


async def test_emulator_schema_rejection(
    session: aiohttp.ClientSession, emulator_server: TestServer
) -> None:
    """A body the service cannot validate is rejected, never resent."""
    client = _emulator_client(session, emulator_server)
    body = json.dumps(valid_report(extra_field=True)).encode()
    result = await client.submit(body, idempotency_key=IDEMPOTENCY_KEY)
    assert result == SubmitResult(SubmitOutcome.REJECTED, 422, None, None, "http_422")


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (503, None, SubmitResult(SubmitOutcome.RETRY, 503, None, None, "http_503")),
        (
            429,
            "120",
            SubmitResult(
                SubmitOutcome.RATE_LIMITED,
                429,
                timedelta(seconds=120),
                None,
                "http_429",
            ),
        ),
        (413, None, SubmitResult(SubmitOutcome.REJECTED, 413, None, None, "http_413")),
    ],
)
async def test_emulator_injected_failures(
    session: aiohttp.ClientSession,
    emulator_server: TestServer,
    emulator: StatsServiceEmulator,
    status: int,
    retry_after: str | None,
    expected: SubmitResult,
) -> None:
    """Injected answers are classified; the next attempt goes through."""
    emulator.fail_next(status, retry_after=retry_after)
    client = _emulator_client(session, emulator_server)
    body = _today_report()
    assert await client.submit(body, idempotency_key=IDEMPOTENCY_KEY) == expected
    ok = await client.submit(body, idempotency_key=IDEMPOTENCY_KEY)
    assert ok.outcome is SubmitOutcome.ACCEPTED


async def test_emulator_connection_reset_and_slow(
    session: aiohttp.ClientSession,
    emulator_server: TestServer,
    emulator: StatsServiceEmulator,
) -> None:
    """A reset and a too-slow answer both mean retry later."""
    client = _emulator_client(session, emulator_server, timeout=0.2)
    body = _today_report()
    emulator.reset_next = 1
    reset = await client.submit(body, idempotency_key=IDEMPOTENCY_KEY)
    assert reset == SubmitResult(
        SubmitOutcome.RETRY, None, None, None, "connection_error"
    )
    emulator.slow_seconds = 0.5
    slow = await client.submit(body, idempotency_key=IDEMPOTENCY_KEY)
    assert slow == SubmitResult(SubmitOutcome.RETRY, None, None, None, "timeout")
    emulator.slow_seconds = 0
    await asyncio.sleep(0.5)  # let the slow handler finish before shutdown
    assert emulator.accepted == []


async def test_emulator_delete_installation(
    session: aiohttp.ClientSession,
    emulator_server: TestServer,
    emulator: StatsServiceEmulator,
) -> None:
    """Erasing removes what was submitted; erasing again is still fine."""
    client = _emulator_client(session, emulator_server)
    await client.submit(_today_report(), idempotency_key=IDEMPOTENCY_KEY)
    assert len(emulator.accepted) == 1
    assert await client.delete_installation(INSTALLATION_ID) == DeleteResult(
        ok=True, status=200, error=None
    )
    assert emulator.accepted == []
    assert await client.delete_installation(INSTALLATION_ID) == DeleteResult(
        ok=True, status=200, error=None
    )
    emulator.fail_next(500, endpoint="delete")
    assert await client.delete_installation(INSTALLATION_ID) == DeleteResult(
        ok=False, status=500, error="http_500"
    )
