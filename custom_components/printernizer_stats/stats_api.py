"""Talk to the Printernizer statistics service: submit a report, erase an installation.

Free of Home Assistant. Every answer other than success raises one of the
errors in errors.py, with the same meaning as for the Printernizer client:
`CannotConnectError` (try again later), `RateLimitedError`,
`AuthFailedError` (401/403) and `RejectedError` (400/422 and other client
errors: do not resend). The service ignores `Idempotency-Key`; it is sent
anyway, for servers that honour it.

About 310 lines: two requests, each with redirects, time-outs and the
service's answers classified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
import ipaddress
import json
import re
from typing import Final
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


def _raise_for(status: int, retry_after_header: str | None) -> None:
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
        """Follow only to https, or to loopback http when we already talk to this machine."""
        try:
            target = URL(validate_endpoint(str(current.join(URL(location)))))
        except ValueError:
            raise CannotConnectError(ERROR_INSECURE_REDIRECT) from None
        if target.scheme == "http" and self._endpoint.scheme != "http":
            # A remote server must not steer us at services on this machine.
            raise CannotConnectError(ERROR_INSECURE_REDIRECT)
        return target

    async def submit(self, body: bytes, *, idempotency_key: str) -> Accepted:
        """POST one report; any 2xx is success, everything else raises."""
        if not _IDEMPOTENCY_KEY_RE.fullmatch(idempotency_key):
            raise ValueError("idempotency_key must be a UUID-like token")
        url = self._endpoint
        for _ in range(MAX_REDIRECTS + 1):
            headers = self._headers(url) | {
                "Content-Type": CONTENT_TYPE_JSON,
                HEADER_IDEMPOTENCY_KEY: idempotency_key,
            }
            try:
                async with self._session.post(
                    url,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    timeout=self._timeout,
                ) as response:
                    status = response.status
                    if status in REDIRECT_STATUSES:
                        location = response.headers.get("Location")
                        if not location:
                            raise CannotConnectError(ERROR_REDIRECT, status=status)
                        url = self._redirect_target(url, location)
                        continue
                    if 200 <= status < 300:
                        return await _accepted(response)
                    _raise_for(status, response.headers.get("Retry-After"))
            except TimeoutError:
                raise CannotConnectError(ERROR_TIMEOUT) from None
            except aiohttp.ClientConnectionError:
                raise CannotConnectError(ERROR_CONNECTION) from None
            except aiohttp.ClientError:
                raise CannotConnectError(ERROR_INVALID_RESPONSE) from None
        raise CannotConnectError(ERROR_TOO_MANY_REDIRECTS)

    async def erase(self, installation_id: str) -> None:
        """Ask the service to erase what it holds for an id; 404 counts as done."""
        url = URL(deletion_url(str(self._endpoint), installation_id))
        try:
            async with self._session.delete(
                url,
                headers=self._headers(url),
                allow_redirects=False,
                timeout=self._timeout,
            ) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except TimeoutError:
            raise CannotConnectError(ERROR_TIMEOUT) from None
        except aiohttp.ClientConnectionError:
            raise CannotConnectError(ERROR_CONNECTION) from None
        except aiohttp.ClientError:
            raise CannotConnectError(ERROR_INVALID_RESPONSE) from None
        if 200 <= status < 300 or status == STATUS_NOT_FOUND:
            return
        _raise_for(status, retry_after)

    async def check_credentials(self) -> None:
        """Prove the API key works without storing anything.

        Erasing a fresh random id is the one authenticated request of the
        service that changes nothing (it answers `deleted_count: 0`).
        """
        await self.erase(str(uuid.uuid4()))


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
