"""Read-only client for Printernizer's REST API.

Printernizer's answers carry printer names, IP addresses, unmasked access
codes, serial numbers, file and customer names. This module is the one place
that sees them: it copies the few fields we use into small models, mapped
onto our own words, and drops the rest before anything else gets the data.

Request budget (Printernizer allows 100 requests a minute per client address,
shared with everything else that runs on the Home Assistant host): a poll
reads `health` (exempt from the limit), then printers, jobs and files (one
page each normally, at most `MAX_PAGES`), and every ten minutes `system/info`
and `usage-stats/status`: about 3 requests a minute (4.2 measured), 9 at most.

About 360 lines: the models, the facts kept for reports and the reading of
three listings whose quirks are documented in tests/fixtures/printernizer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import math
import time
from typing import Any, Final

import aiohttp
from yarl import URL

from .errors import CannotConnectError, InvalidResponseError, RateLimitedError
from .privacy import clean_app_version
from .vocabulary import (
    FILE_STATUSES,
    JOB_STATUSES,
    PRINTER_STATUSES,
    PRINTER_TYPES,
    UNKNOWN,
)

PAGE_LIMIT: Final = 100
MAX_PAGES: Final = 3
STATUS_TOO_MANY_REQUESTS: Final = 429
# A 429 asks for a pause of about a second; a longer one is capped so a
# broken header cannot stop polling for long.
DEFAULT_RETRY_AFTER: Final = timedelta(seconds=5)
MAX_RETRY_AFTER: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Health:
    """What /health tells us."""

    status: str
    version: str


@dataclass(frozen=True, slots=True)
class Printer:
    """A printer reduced to its id, type and status (the id stays out of repr)."""

    id: str = field(repr=False)
    printer_type: str
    status: str


@dataclass(frozen=True, slots=True)
class Job:
    """A job reduced to what its counters need.

    Times are naive, in Printernizer's own clock, as it sends them. Ids stay
    out of repr: some Printernizer versions build them from names.
    """

    id: str = field(repr=False)
    printer_id: str | None = field(repr=False)
    printer_type: str
    status: str
    duration_seconds: float | None
    created: datetime | None
    finished: datetime | None


@dataclass(frozen=True, slots=True)
class File:
    """A file reduced to its status, size and download time.

    The id stays out of repr: Printernizer builds it from the file name.
    """

    id: str = field(repr=False)
    status: str
    size_bytes: float | None
    downloaded: datetime | None


@dataclass(slots=True)
class PrinternizerFacts:
    """What the last successful poll said, kept so a report can be built while Printernizer is down."""

    app_version: str = UNKNOWN
    # None until Printernizer's printers were read once.
    fleet: dict[str, int] | None = None
    # Printernizer itself shares statistics with the same service.
    shares_statistics: bool | None = None

    @staticmethod
    def fleet_of(printers: list[Printer]) -> dict[str, int]:
        """Printers per type, in the vocabulary's order."""
        counts = Counter(printer.printer_type for printer in printers)
        return {ptype: counts[ptype] for ptype in PRINTER_TYPES if counts[ptype]}

    def as_storage(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "app_version": self.app_version,
            "fleet": None if self.fleet is None else dict(self.fleet),
            "shares_statistics": self.shares_statistics,
        }

    @classmethod
    def from_storage(cls, data: object) -> PrinternizerFacts:
        """Re-check stored facts (they go into reports); raise ValueError when malformed."""
        if not isinstance(data, Mapping):
            raise ValueError("facts are not an object")  # noqa: TRY004
        fleet = data.get("fleet")
        shares = data.get("shares_statistics")
        if not isinstance(fleet, Mapping | None) or not isinstance(shares, bool | None):
            raise ValueError("facts have the wrong shape")  # noqa: TRY004
        return cls(
            app_version=clean_app_version(data.get("app_version")),
            fleet=None
            if fleet is None
            else {
                ptype: count
                for ptype, count in fleet.items()
                if ptype in PRINTER_TYPES and type(count) is int and count > 0
            },
            shares_statistics=shares,
        )


def normalize_url(url: str) -> str:
    """Validate a base URL and strip the trailing slash; raise ValueError."""
    parsed = URL(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("The URL needs http:// or https:// and a host")
    return str(parsed.with_query(None).with_fragment(None)).rstrip("/")


def _word(value: object, vocabulary: tuple[str, ...]) -> str:
    """Map a value onto a vocabulary; anything else is "unknown"."""
    if isinstance(value, str) and (word := value.strip().lower()) in vocabulary:
        return word
    return UNKNOWN


def _number(value: object) -> float | None:
    """A non-negative finite number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def _ident(value: object) -> str | None:
    """An item id as a string (ints or strings), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | str) and str(value):
        return str(value)
    return None


def parse_time(value: object) -> datetime | None:
    """Printernizer's timestamp (naive ISO, `T` or space) as a naive datetime, else None.

    An explicit offset is converted to naive UTC.
    """
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _duration(item: Mapping[str, Any]) -> float | None:
    """`actual_duration`, else end minus start (Printernizer 2.42 leaves the former empty)."""
    if (seconds := _number(item.get("actual_duration"))) is not None:
        return seconds
    start = parse_time(item.get("start_time") or item.get("started_at"))
    end = parse_time(item.get("end_time") or item.get("completed_at"))
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


def _items(body: object, key: str) -> list[Mapping[str, Any]]:
    """The list of items of a listing."""
    items = body.get(key) if isinstance(body, Mapping) else None
    if not isinstance(items, list):
        raise InvalidResponseError("not_a_listing")
    return [item for item in items if isinstance(item, Mapping)]


def _total_pages(body: object) -> int | None:
    """Total pages from the pagination block, when there is one."""
    if isinstance(body, Mapping) and isinstance(body.get("pagination"), Mapping):
        pages = body["pagination"].get("total_pages")
        if isinstance(pages, int) and not isinstance(pages, bool):
            return pages
    return None


def retry_after(headers: Mapping[str, str], body: object) -> timedelta:
    """How long a 429 asks us to wait: Retry-After, X-RateLimit-Reset, the body, else a default."""
    seconds: float | None = None
    header = headers.get("Retry-After", "").strip()
    if header.isascii() and header.isdigit() and len(header) < 7:
        seconds = float(header)
    elif (
        (reset := headers.get("X-RateLimit-Reset", "").strip()).isascii()
        and reset.isdigit()
        and len(reset) < 12
    ):
        seconds = float(reset) - time.time()
    elif isinstance(body, Mapping) and isinstance(body.get("details"), Mapping):
        seconds = _number(body["details"].get("retry_after_seconds"))
    if seconds is None or seconds < 0:
        return DEFAULT_RETRY_AFTER
    return min(timedelta(seconds=math.ceil(seconds)), MAX_RETRY_AFTER)


class PrinternizerClient:
    """Ask one Printernizer instance; takes Home Assistant's shared session."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, *, timeout: float = 10
    ) -> None:
        """Store the session and the normalised base URL."""
        self._session = session
        self._base = normalize_url(url)
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    @property
    def base_url(self) -> str:
        """The normalised base URL."""
        return self._base

    async def _get(self, path: str, params: Mapping[str, int] | None = None) -> Any:
        """GET a JSON document; map every failure to our errors."""
        try:
            async with self._session.get(
                f"{self._base}/api/v1/{path}",
                params=params,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                try:
                    body = await response.json(content_type=None)
                except (ValueError, RecursionError):
                    # RecursionError: nesting too deep for the standard decoder.
                    body = None
                status = response.status
                if status == STATUS_TOO_MANY_REQUESTS:
                    raise RateLimitedError(
                        "rate_limited", retry_after=retry_after(response.headers, body)
                    )
                if status >= 500:
                    raise CannotConnectError(f"http_{status}", status=status)
                if status >= 300:
                    raise InvalidResponseError(f"http_{status}", status=status)
                if body is None:
                    raise InvalidResponseError("not_json", status=status)
                return body
        except TimeoutError as err:
            raise CannotConnectError("timeout") from err
        except aiohttp.ClientError as err:
            raise CannotConnectError("connection_error") from err

    async def health(self) -> Health:
        """Reachability and version (exempt from Printernizer's rate limit)."""
        body = await self._get("health")
        if not isinstance(body, Mapping) or not isinstance(body.get("status"), str):
            raise InvalidResponseError("no_status")
        return Health(
            status=body["status"], version=clean_app_version(body.get("version"))
        )

    async def uptime_seconds(self) -> float | None:
        """Printernizer's uptime from /system/info (/health says null)."""
        body = await self._get("system/info")
        return (
            _number(body.get("uptime_seconds")) if isinstance(body, Mapping) else None
        )

    async def shares_statistics(self) -> bool | None:
        """Whether Printernizer itself is opted in to the same statistics service."""
        body = await self._get("usage-stats/status")
        opted_in = body.get("opted_in") if isinstance(body, Mapping) else None
        return opted_in if isinstance(opted_in, bool) else None

    async def _listing(self, path: str) -> list[Mapping[str, Any]]:
        """All items of a paginated listing, at most MAX_PAGES pages."""
        items: list[Mapping[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            body = await self._get(path, {"page": page, "limit": PAGE_LIMIT})
            batch = _items(body, path)
            items.extend(batch)
            if not batch:
                break
            total_pages = _total_pages(body)
            if (total_pages is not None and page >= total_pages) or (
                total_pages is None and len(batch) < PAGE_LIMIT
            ):
                break
        return items

    async def printers(self) -> list[Printer]:
        """Every printer's type and status; nothing else is kept."""
        return [
            Printer(
                id=ident,
                printer_type=_word(item.get("printer_type"), PRINTER_TYPES),
                status=_word(item.get("status"), PRINTER_STATUSES),
            )
            for item in await self._listing("printers")
            if (ident := _ident(item.get("id"))) is not None
        ]

    async def jobs(self) -> list[Job]:
        """The newest jobs' printer, type, status, duration and times."""
        return [
            Job(
                id=ident,
                printer_id=_ident(item.get("printer_id")),
                printer_type=_word(item.get("printer_type"), PRINTER_TYPES),
                status=_word(item.get("status"), JOB_STATUSES),
                duration_seconds=_duration(item),
                created=parse_time(item.get("created_at")),
                finished=parse_time(item.get("completed_at") or item.get("end_time")),
            )
            for item in await self._listing("jobs")
            if (ident := _ident(item.get("id"))) is not None
        ]

    async def files(self) -> list[File]:
        """The newest files' statuses, sizes and download times."""
        return [
            File(
                id=ident,
                status=_word(item.get("status"), FILE_STATUSES),
                size_bytes=_number(item.get("file_size")),
                downloaded=parse_time(item.get("downloaded_at")),
            )
            for item in await self._listing("files")
            if (ident := _ident(item.get("id"))) is not None
        ]
