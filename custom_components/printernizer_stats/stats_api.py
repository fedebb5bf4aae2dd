"""Talk to the Printernizer statistics service without ever raising on HTTP trouble."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
import ipaddress
import json
import random
import re
from typing import Final
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

MAX_REDIRECTS: Final = 3
MAX_BACKOFF_EXPONENT: Final = 64
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


class InsecureEndpointError(ValueError):
    """The endpoint is not HTTPS (and not loopback)."""


class SubmitOutcome(StrEnum):
    """What the caller should do next with the pending report."""

    ACCEPTED = "accepted"
    AUTH_FAILED = "auth_failed"
    REJECTED = "rejected"
    RATE_LIMITED = "rate_limited"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """Carry only what scheduling and logs need; never the payload or the key."""

    outcome: SubmitOutcome
    status: int | None
    retry_after: timedelta | None
    submission_id: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """Tell the caller whether the service still holds this installation's data."""

    ok: bool
    status: int | None
    error: str | None


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
        raise ValueError("The endpoint is not a valid URL") from err
    scheme = parsed.scheme.lower()
    if scheme not in ("https", "http"):
        raise InsecureEndpointError("The endpoint must start with https://")
    if not parsed.host or any(char.isspace() for char in parsed.host):
        raise ValueError("The endpoint has no valid host name")
    if scheme == "http" and not _is_loopback(parsed.host):
        raise InsecureEndpointError(
            "The endpoint must use https:// (plain http:// is only allowed to this machine)"
        )
    if "@" in netloc:
        raise InsecureEndpointError(
            "The endpoint must not contain a user name or password"
        )
    if "#" in text:
        raise ValueError("The endpoint must not contain a fragment (#...)")
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


def backoff_delay(
    attempt: int,
    *,
    rng: random.Random | None = None,
    base: timedelta = timedelta(hours=1),
    cap: timedelta = timedelta(hours=24),
) -> timedelta:
    """Spread retries with full jitter, never sooner than the service's one-request-per-hour limit."""
    if base > cap:
        raise ValueError("base must not exceed cap")
    # Work in float seconds: timedelta overflows long before the cap stops mattering.
    exponent = min(max(attempt, 0), MAX_BACKOFF_EXPONENT)
    ceiling = min(cap.total_seconds(), base.total_seconds() * 2.0**exponent)
    jitter = (rng or random.Random()).uniform(0, ceiling)
    return min(cap, max(base, timedelta(seconds=jitter)))


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


class StatsServiceClient:
    """POST reports and erase requests; classify every answer instead of raising."""

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
            raise ValueError("The API key contains characters not allowed in a header")
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

    def _redirect_target(self, current: URL, location: str) -> URL | None:
        """Follow only to https, or to loopback http when we already talk to this machine."""
        try:
            target = URL(validate_endpoint(str(current.join(URL(location)))))
        except ValueError:
            return None
        if target.scheme == "http" and self._endpoint.scheme != "http":
            # A remote server must not steer us at services on this machine.
            return None
        return target

    async def submit(self, body: bytes, *, idempotency_key: str) -> SubmitResult:
        """POST one report and classify the answer, so the scheduler never has to handle an exception."""
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
                        if not (location := response.headers.get("Location")):
                            return _retry(status, ERROR_REDIRECT)
                        if (target := self._redirect_target(url, location)) is None:
                            return _retry(status, ERROR_INSECURE_REDIRECT)
                        url = target
                        continue
                    if 200 <= status < 300:
                        return await _accepted(response)
                    return _classify(status, response.headers.get("Retry-After"))
            except TimeoutError:
                return _retry(None, ERROR_TIMEOUT)
            except aiohttp.ClientConnectionError:
                return _retry(None, ERROR_CONNECTION)
            except aiohttp.ClientError:
                return _retry(None, ERROR_INVALID_RESPONSE)
        return _retry(None, ERROR_TOO_MANY_REDIRECTS)

    async def delete_installation(self, installation_id: str) -> DeleteResult:
        """Ask the service to erase what it holds; 404 counts as done because nothing is left."""
        url = URL(deletion_url(str(self._endpoint), installation_id))
        try:
            async with self._session.delete(
                url,
                headers=self._headers(url),
                allow_redirects=False,
                timeout=self._timeout,
            ) as response:
                status = response.status
        except TimeoutError:
            return DeleteResult(ok=False, status=None, error=ERROR_TIMEOUT)
        except aiohttp.ClientConnectionError:
            return DeleteResult(ok=False, status=None, error=ERROR_CONNECTION)
        except aiohttp.ClientError:
            return DeleteResult(ok=False, status=None, error=ERROR_INVALID_RESPONSE)
        if 200 <= status < 300 or status == STATUS_NOT_FOUND:
            return DeleteResult(ok=True, status=status, error=None)
        if 300 <= status < 400:
            return DeleteResult(ok=False, status=status, error=ERROR_REDIRECT)
        return DeleteResult(ok=False, status=status, error=f"http_{status}")


def _retry(status: int | None, error: str) -> SubmitResult:
    """Build the common "try again later" answer."""
    return SubmitResult(SubmitOutcome.RETRY, status, None, None, error)


async def _accepted(response: aiohttp.ClientResponse) -> SubmitResult:
    """Treat any 2xx as accepted even if the body is unreadable: the report is stored, resending would duplicate it."""
    submission_id: str | None = None
    raw = bytearray()
    try:
        while len(raw) < MAX_ANSWER_BYTES and (
            chunk := await response.content.read(MAX_ANSWER_BYTES - len(raw))
        ):
            raw += chunk
        submission_id = _submission_id(json.loads(raw))
    except (TimeoutError, aiohttp.ClientError, ValueError):
        pass
    return SubmitResult(
        SubmitOutcome.ACCEPTED, response.status, None, submission_id, None
    )


def _classify(status: int, retry_after: str | None) -> SubmitResult:
    """Map a non-2xx, non-307/308 status to what the scheduler must do."""
    error = f"http_{status}"
    if status in AUTH_STATUSES:
        return SubmitResult(SubmitOutcome.AUTH_FAILED, status, None, None, error)
    if status == STATUS_TOO_MANY_REQUESTS:
        delay = parse_retry_after(retry_after, datetime.now(UTC))
        return SubmitResult(SubmitOutcome.RATE_LIMITED, status, delay, None, error)
    if 300 <= status < 400:
        return _retry(status, ERROR_REDIRECT)
    if 400 <= status < 500 and status not in RETRYABLE_CLIENT_STATUSES:
        return SubmitResult(SubmitOutcome.REJECTED, status, None, None, error)
    return _retry(status, error)
