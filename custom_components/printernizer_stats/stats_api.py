"""Talk to the Printernizer statistics service: submit a report, erase an installation.

Free of Home Assistant. Every answer other than success raises one of the
errors in errors.py, with the same meaning as for the Printernizer client:
`CannotConnectError` (try again later), `RateLimitedError`,
`AuthFailedError` (401/403) and `RejectedError` (400/422 and other client
errors: do not resend). The service ignores `Idempotency-Key`; it is sent
anyway, for servers that honour it.

Redirects (307/308 only) are followed the same way for both requests, at most
MAX_REDIRECTS times: only to https (or loopback http when the endpoint is
this machine), never to this machine or the local network unless the
endpoint is there too, and the API key only to the endpoint's own origin.

About 400 lines: two requests sharing one redirect loop, the rules for where
a redirect may lead, time-outs and the service's answers classified.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
import ipaddress
import json
import re
import socket
from typing import Final, NoReturn
from urllib.parse import urlsplit
import uuid

import aiohttp
from yarl import URL

from .errors import (
    AuthFailedError,
    CannotConnectError,
    InsecureEndpointError,
    InvalidEndpointError,
    RateLimitedError,
    RejectedError,
)

MAX_REDIRECTS: Final = 3
REDIRECT_STATUSES: Final = frozenset({307, 308})
AUTH_STATUSES: Final = frozenset({401, 403})
RETRYABLE_CLIENT_STATUSES: Final = frozenset({408})
STATUS_TOO_MANY_REQUESTS: Final = 429
STATUS_NOT_FOUND: Final = 404
MAX_RETRY_AFTER: Final = timedelta(days=7)
MAX_RETRY_AFTER_DIGITS: Final = 7
MAX_SUBMISSION_ID_LENGTH: Final = 64
# Enough for the service's small JSON answer; anything bigger is not read.
MAX_ANSWER_BYTES: Final = 65_536
LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost."})
# Names that by standard or by home-router custom only resolve inside the
# local network: localhost (RFC 6761), mDNS's .local (RFC 6762), home.arpa
# (RFC 8375), .internal (reserved by ICANN for private use), .lan, .home and
# .corp (never delegated, used by routers and companies) and fritz.box (the
# routers most common where Printernizer comes from). A name without a dot
# (an add-on such as `a0d7b954-printernizer`, a search-domain host) is local too.
LOCAL_NAME_SUFFIXES: Final = (
    "localhost",
    "local",
    "home.arpa",
    "internal",
    "lan",
    "home",
    "corp",
    "fritz.box",
)
# NAT64's well-known prefix (RFC 6052) carries an IPv4 address in its last 32 bits.
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
SUBMIT_SEGMENT: Final = "submit"
INSTALLATION_SEGMENT: Final = "installation"
HEADER_API_KEY: Final = "X-API-Key"
HEADER_IDEMPOTENCY_KEY: Final = "Idempotency-Key"
CONTENT_TYPE_JSON: Final = "application/json"

ERROR_TIMEOUT: Final = "timeout"
ERROR_CONNECTION: Final = "connection_error"
ERROR_INVALID_RESPONSE: Final = "invalid_response"
ERROR_INSECURE_REDIRECT: Final = "insecure_redirect"
ERROR_REDIRECT: Final = "redirect"
ERROR_TOO_MANY_REDIRECTS: Final = "too_many_redirects"

_HEADER_VALUE_RE: Final = re.compile(r"[\x20-\x7e]*")
_IDEMPOTENCY_KEY_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")
_INSTALLATION_ID_RE: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


@dataclass(frozen=True, slots=True)
class Accepted:
    """The service stored the report."""

    status: int
    submission_id: str | None


def _is_loopback(host: str) -> bool:
    """Accept only hosts that cannot leave the machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_local_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, private (RFC 1918, fc00::/7), shared (100.64/10), link-local, unspecified, reserved or multicast.

    Everything Python does not count as globally reachable, and IPv6 forms that
    carry such an IPv4 address (mapped, 6to4, NAT64).
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
        if embedded is not None and _is_local_address(embedded):
            return True
    return not address.is_global or address.is_multicast


def is_local_host(host: str) -> bool:
    """Whether a URL's host is this machine or the local network, from its text alone.

    IP literals are checked, including the forms the connection would also
    accept as an address (`127.1`, `2130706433`, `0x7f.0.0.1`), and the names
    in LOCAL_NAME_SUFFIXES. Other host names are not resolved: no DNS lookup
    happens before the request, because the connection looks the name up
    again and may get another answer (DNS rebinding), so a lookup here would
    prove nothing unless the address were pinned in Home Assistant's shared
    session. What remains is acceptable: such a redirect is only followed to
    https with a verified certificate, so a public name pointed at a local
    service fails the TLS handshake before anything is sent. Only a local
    service holding a valid certificate for exactly that name (split-horizon
    DNS) could be reached, and it would get what the remote service already
    has (the report, or an empty DELETE), never the API key.
    """
    name = host.lower().removesuffix(".")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
            name
        )
    except ValueError:
        try:
            # inet_aton never asks DNS; it reads what getaddrinfo would.
            address = ipaddress.IPv4Address(socket.inet_aton(name))
        except (OSError, ValueError):
            return "." not in name or any(
                name == suffix or name.endswith(f".{suffix}")
                for suffix in LOCAL_NAME_SUFFIXES
            )
    return _is_local_address(address)


def validate_endpoint(url: str) -> str:
    """Refuse endpoints that could send the report unencrypted or leak credentials; plain http only to loopback (emulator, tests)."""
    text = url.strip()
    try:
        parsed = URL(text)
        netloc = urlsplit(text).netloc
    except ValueError as err:
        raise InvalidEndpointError("The endpoint is not a valid URL") from err
    scheme = parsed.scheme.lower()
    if not scheme or not parsed.host:
        raise InvalidEndpointError("The endpoint is not a URL")
    if scheme not in ("https", "http"):
        raise InsecureEndpointError("The endpoint must start with https://")
    if not parsed.host or any(char.isspace() for char in parsed.host):
        raise InvalidEndpointError("The endpoint has no valid host name")
    if scheme == "http" and not _is_loopback(parsed.host):
        raise InsecureEndpointError(
            "The endpoint must use https:// (plain http:// is only allowed to this machine)"
        )
    if "@" in netloc:
        raise InsecureEndpointError(
            "The endpoint must not contain a user name or password"
        )
    if "#" in text:
        raise InvalidEndpointError("The endpoint must not contain a fragment (#...)")
    return str(parsed)


def deletion_url(endpoint: str, installation_id: str) -> str:
    """Derive the erase URL from the submit URL, since the service publishes both side by side."""
    if not _INSTALLATION_ID_RE.fullmatch(installation_id):
        raise ValueError("installation_id must be a UUID")
    url = URL(validate_endpoint(endpoint))
    segments = url.path.rstrip("/").split("/")
    if segments[-1] == SUBMIT_SEGMENT:
        segments.pop()
    segments += [INSTALLATION_SEGMENT, installation_id]
    return str(url.with_path("/".join(segments)).with_query(url.query))


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Honour the server's pause in either RFC 9110 form, clamped so a bad answer cannot stall us forever."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        # Compare digit counts first: int() refuses very long strings.
        if len(text) > MAX_RETRY_AFTER_DIGITS:
            return MAX_RETRY_AFTER
        delay = timedelta(seconds=int(text))
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delay = when - now
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


def _submission_id(answer: object) -> str | None:
    """Keep the service's id only if it is short and printable, since it may be logged."""
    if not isinstance(answer, dict):
        return None
    value = answer.get("submission_id")
    # The reference service answers with an integer id.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if (
        isinstance(value, str)
        and 0 < len(value) <= MAX_SUBMISSION_ID_LENGTH
        and value.isprintable()
    ):
        return value
    return None


def _same_origin(first: URL, second: URL) -> bool:
    """Compare scheme, host and port, the boundary the API key must not cross."""
    return (first.scheme, first.host, first.port) == (
        second.scheme,
        second.host,
        second.port,
    )


def _raise_for(status: int, retry_after_header: str | None) -> NoReturn:
    """Map a non-2xx, non-redirect status to the error that says what to do."""
    reason = f"http_{status}"
    if status in AUTH_STATUSES:
        raise AuthFailedError(reason, status=status)
    if status == STATUS_TOO_MANY_REQUESTS:
        raise RateLimitedError(
            reason, retry_after=parse_retry_after(retry_after_header, datetime.now(UTC))
        )
    if 400 <= status < 500 and status not in RETRYABLE_CLIENT_STATUSES:
        raise RejectedError(reason, status=status)
    raise CannotConnectError(
        ERROR_REDIRECT if 300 <= status < 400 else reason, status=status
    )


class StatsServiceClient:
    """POST reports and erase requests to one endpoint."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        endpoint: str,
        api_key: str,
        user_agent: str,
        timeout: float = 30.0,
    ) -> None:
        """Validate up front so an insecure endpoint never gets a single request."""
        self._endpoint = URL(validate_endpoint(endpoint))
        if not _HEADER_VALUE_RE.fullmatch(api_key):
            raise InvalidEndpointError(
                "The API key contains characters not allowed in a header"
            )
        if not user_agent or not _HEADER_VALUE_RE.fullmatch(user_agent):
            raise ValueError("The user agent is empty or not a valid header value")
        # Redirects may stay within the local network only if we start there.
        self._local = is_local_host(self._endpoint.host or "")
        self._session = session
        self._api_key = api_key
        self._user_agent = user_agent
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def _headers(self, target: URL) -> dict[str, str]:
        """Send the API key only to the configured origin, never to a redirect target elsewhere."""
        headers = {"User-Agent": self._user_agent}
        if self._api_key and _same_origin(target, self._endpoint):
            headers[HEADER_API_KEY] = self._api_key
        return headers

    def _redirect_target(self, current: URL, location: str) -> URL:
        """Follow only to https (or loopback http from an http endpoint), and never into the local network from outside it.

        A remote service must not steer our request at this machine (Home
        Assistant itself on 127.0.0.1:8123) or at devices on the local network.
        """
        try:
            target = URL(validate_endpoint(str(current.join(URL(location)))))
        except ValueError:
            raise CannotConnectError(ERROR_INSECURE_REDIRECT) from None
        if target.scheme == "http" and self._endpoint.scheme != "http":
            raise CannotConnectError(ERROR_INSECURE_REDIRECT)
        if not self._local and is_local_host(target.host or ""):
            raise CannotConnectError(ERROR_INSECURE_REDIRECT)
        return target

    async def _request[T](
        self,
        method: str,
        url: URL,
        read: Callable[[aiohttp.ClientResponse], Awaitable[T]],
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """Send one request, following 307/308 (which keep method and body), and read the final answer.

        Both requests share this loop so they follow exactly the same rules:
        at most MAX_REDIRECTS hops, each target checked by _redirect_target,
        the API key only to the endpoint's origin. 301-303 are not followed
        (they would turn the request into a GET): `read` classifies them.
        """
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with self._session.request(
                    method,
                    url,
                    data=body,
                    headers=self._headers(url) | dict(headers or {}),
                    allow_redirects=False,
                    timeout=self._timeout,
                ) as response:
                    if response.status not in REDIRECT_STATUSES:
                        return await read(response)
                    location = response.headers.get("Location")
                    if not location:
                        raise CannotConnectError(ERROR_REDIRECT, status=response.status)
                    url = self._redirect_target(url, location)
            except TimeoutError:
                raise CannotConnectError(ERROR_TIMEOUT) from None
            except aiohttp.ClientConnectionError:
                raise CannotConnectError(ERROR_CONNECTION) from None
            except aiohttp.ClientError:
                raise CannotConnectError(ERROR_INVALID_RESPONSE) from None
        raise CannotConnectError(ERROR_TOO_MANY_REDIRECTS)

    async def submit(self, body: bytes, *, idempotency_key: str) -> Accepted:
        """POST one report; any 2xx is success, everything else raises."""
        if not _IDEMPOTENCY_KEY_RE.fullmatch(idempotency_key):
            raise ValueError("idempotency_key must be a UUID-like token")
        return await self._request(
            "POST",
            self._endpoint,
            _read_accepted,
            body=body,
            headers={
                "Content-Type": CONTENT_TYPE_JSON,
                HEADER_IDEMPOTENCY_KEY: idempotency_key,
            },
        )

    async def erase(self, installation_id: str) -> None:
        """Ask the service to erase what it holds for an id; 404 counts as done."""
        url = URL(deletion_url(str(self._endpoint), installation_id))
        await self._request("DELETE", url, _read_erased)

    async def check_credentials(self) -> None:
        """Prove the API key works without storing anything.

        Erasing a fresh random id is the one authenticated request of the
        service that changes nothing (it answers `deleted_count: 0`).
        """
        await self.erase(str(uuid.uuid4()))


async def _read_accepted(response: aiohttp.ClientResponse) -> Accepted:
    """The answer to a report: any 2xx is success, everything else raises."""
    if 200 <= response.status < 300:
        return await _accepted(response)
    _raise_for(response.status, response.headers.get("Retry-After"))


async def _read_erased(response: aiohttp.ClientResponse) -> None:
    """The answer to an erase request: 2xx, or 404 (nothing held any more), is done."""
    if 200 <= response.status < 300 or response.status == STATUS_NOT_FOUND:
        return
    _raise_for(response.status, response.headers.get("Retry-After"))


async def _accepted(response: aiohttp.ClientResponse) -> Accepted:
    """Any 2xx is accepted even if the body is unreadable: resending would store it twice."""
    submission_id: str | None = None
    raw = bytearray()
    try:
        while len(raw) < MAX_ANSWER_BYTES and (
            chunk := await response.content.read(MAX_ANSWER_BYTES - len(raw))
        ):
            raw += chunk
        submission_id = _submission_id(json.loads(raw))
    except (TimeoutError, aiohttp.ClientError, ValueError, RecursionError):
        # RecursionError: nesting too deep for json.loads; still accepted.
        pass
    return Accepted(response.status, submission_id)
