"""Read-only client for Printernizer's REST API.

Printernizer's answers carry printer names, IP addresses, unmasked access
codes, serial numbers, file and customer names. This module is the one place
that sees them: it copies the few fields we use into small models, mapped
onto our own words, and drops the rest before anything else gets the data.

Whatever answers at the configured address (a broken Printernizer, another
program, a proxy) reaches Home Assistant's event loop through here, so every
answer is read as hostile: one bad value costs that value, one bad item that
item, and only an answer that is not what was asked for costs the poll.

* Size before parsing: decoding a 60 MB page blocks the loop for seconds, so
  a body is read only up to `MAX_RESPONSE_BYTES` (a real page of 100 jobs
  with long names is 80-130 kB), never decompressed, and decoded here.
* A page keeps at most `PAGE_LIMIT` items. An entry that is not an object or
  has no usable id or no status string is skipped: without a status a job
  could flip between garbage and `completed` and be counted each time.
* A number outside its field's plausible range, or a time outside
  `MIN_YEAR`..`MAX_YEAR`, becomes None and the item stays: a job whose
  `created_at` cannot be read is never counted as new (tracker.py), while
  its status changes still count.
* What was left out is counted in `Discarded` (never kept, never logged).

Request budget (Printernizer allows 100 requests a minute per client address,
shared with everything else that runs on the Home Assistant host): a poll
reads `health` (exempt from the limit), then printers, jobs and files (one
page each normally, at most `MAX_PAGES`), and every ten minutes `system/info`
and `usage-stats/status`: about 3 requests a minute (4.2 measured), 9 at most.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import json
import math
import time
from typing import Any, Final

import aiohttp
from aiohttp import hdrs
from yarl import URL

from . import stored
from .errors import CannotConnectError, InvalidResponseError, RateLimitedError
from .privacy import clean_app_version
from .stored import Reading
from .vocabulary import (
    FILE_STATUSES,
    JOB_STATUSES,
    PRINTER_STATUSES,
    PRINTER_TYPES,
    UNKNOWN,
)

PAGE_LIMIT: Final = 100
MAX_PAGES: Final = 3
LISTINGS: Final = ("printers", "jobs", "files")
# Eight times a real 100-job page with long names (80-130 kB), and still
# decoded in a few milliseconds.
MAX_RESPONSE_BYTES: Final = 1024 * 1024
MAX_ID_LENGTH: Final = 1024
MAX_WORD_LENGTH: Final = 64
# Plausible ranges: a value outside is dropped, not clamped.
MIN_YEAR: Final = 2000
MAX_YEAR: Final = 2099
MAX_UPTIME_SECONDS: Final = 20 * 365 * 86_400
MAX_DURATION_SECONDS: Final = 365 * 86_400
MAX_FILE_BYTES: Final = 10**12
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
    def from_storage(cls, data: object, reading: Reading) -> PrinternizerFacts:
        """Re-check stored facts (they go into reports); each damaged one is dropped alone.

        Raises ValueError only when the section is not an object.
        """
        if not isinstance(data, Mapping):
            raise ValueError("facts are not an object")  # noqa: TRY004
        version = data.get("app_version", UNKNOWN)
        app_version = clean_app_version(version)
        if app_version != version:
            reading.damage.drop("facts", "release")
        stored_fleet = reading.keep("facts", "fleet", stored.mapping, data.get("fleet"))
        fleet: dict[str, int] | None = None
        if data.get("fleet") is not None and stored_fleet is not None:
            fleet = {
                ptype: count
                for ptype, count in stored_fleet.items()
                if ptype in PRINTER_TYPES and type(count) is int and 0 < count <= 10_000
            }
            if len(fleet) != len(stored_fleet):
                reading.damage.drop("facts", "printer count")
        shares = data.get("shares_statistics")
        if not isinstance(shares, bool | None):
            reading.damage.drop("facts", "sharing")
            shares = None
        return cls(app_version=app_version, fleet=fleet, shares_statistics=shares)


def normalize_url(url: str) -> str:
    """Validate a base URL and strip the trailing slash; raise ValueError."""
    parsed = URL(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("The URL needs http:// or https:// and a host")
    return str(parsed.with_query(None).with_fragment(None)).rstrip("/")


def _word(value: object, vocabulary: tuple[str, ...]) -> str:
    """Map a value onto a vocabulary; anything else is "unknown"."""
    if (
        isinstance(value, str)
        and len(value) <= MAX_WORD_LENGTH
        and (word := value.strip().lower()) in vocabulary
    ):
        return word
    return UNKNOWN


def _number(value: object, maximum: float) -> float | None:
    """A number from 0 to `maximum`, else None (-0.0 becomes 0.0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    # False for NaN; an int of any size compares exactly, before float() could overflow.
    if not 0 <= value <= maximum:
        return None
    return float(value) + 0.0


def _ident(value: object) -> str | None:
    """An item id as a string (a 64-bit int or a short non-empty string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if -(2**63) <= value < 2**63 else None
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
        return value
    return None


def parse_time(value: object) -> datetime | None:
    """Printernizer's timestamp (naive ISO, `T` or space) as a naive datetime, else None.

    An explicit offset is converted to naive UTC. Years outside MIN_YEAR to
    MAX_YEAR are None.
    """
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        # OverflowError: an offset that moves year 1 or 9999 out of datetime's range.
        return None
    return parsed if MIN_YEAR <= parsed.year <= MAX_YEAR else None


@dataclass(slots=True)
class Discarded:
    """What reads left out, counted; never the items or values themselves.

    `skipped`, per listing (`printers`, `jobs`, `files`): entries that were
    not an object, had no usable id or no status string, or came after
    PAGE_LIMIT entries on a page. `values_dropped`: single values that were
    there (not null) but unusable, their item kept: a time or number out of
    its range or unreadable (durations, sizes, uptime), a printer id.
    Counted at every read: an item that stays bad counts again each poll.
    """

    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LISTINGS, 0))
    values_dropped: int = 0

    def _dropped[T](self, value: object, kept: T | None) -> T | None:
        """Count a value that was there but not kept."""
        if kept is None and value is not None:
            self.values_dropped += 1
        return kept

    def number(self, value: object, maximum: float) -> float | None:
        """A number from 0 to `maximum`, else None (counted)."""
        return self._dropped(value, _number(value, maximum))

    def moment(self, value: object) -> datetime | None:
        """A timestamp in range, else None (counted)."""
        return self._dropped(value, parse_time(value))

    def ident(self, value: object) -> str | None:
        """An id, else None (counted)."""
        return self._dropped(value, _ident(value))


type ItemReader[T] = Callable[[Mapping[str, Any], Discarded], T | None]


def _identified(item: Mapping[str, Any]) -> tuple[str, str] | None:
    """An item's id and raw status, else None: such an item cannot be tracked."""
    ident = _ident(item.get("id"))
    status = item.get("status")
    if ident is None or not isinstance(status, str):
        return None
    return ident, status


def _printer(item: Mapping[str, Any], discarded: Discarded) -> Printer | None:
    """A printer's id, type and status; nothing else is kept."""
    if (found := _identified(item)) is None:
        return None
    return Printer(
        id=found[0],
        printer_type=_word(item.get("printer_type"), PRINTER_TYPES),
        status=_word(found[1], PRINTER_STATUSES),
    )


def _job(item: Mapping[str, Any], discarded: Discarded) -> Job | None:
    """A job's printer, type, status, duration and times."""
    if (found := _identified(item)) is None:
        return None
    start = discarded.moment(item.get("start_time") or item.get("started_at"))
    end = discarded.moment(item.get("completed_at") or item.get("end_time"))
    return Job(
        id=found[0],
        printer_id=discarded.ident(item.get("printer_id")),
        printer_type=_word(item.get("printer_type"), PRINTER_TYPES),
        status=_word(found[1], JOB_STATUSES),
        duration_seconds=_duration(item.get("actual_duration"), start, end, discarded),
        created=discarded.moment(item.get("created_at")),
        finished=end,
    )


def _duration(
    actual: object,
    start: datetime | None,
    end: datetime | None,
    discarded: Discarded,
) -> float | None:
    """`actual_duration`, else end minus start (Printernizer 2.42 leaves the former empty)."""
    if (seconds := discarded.number(actual, MAX_DURATION_SECONDS)) is not None:
        return seconds
    if start is None or end is None:
        return None
    # Dropped when the end is before the start or a year after it.
    return discarded.number((end - start).total_seconds(), MAX_DURATION_SECONDS)


def _file(item: Mapping[str, Any], discarded: Discarded) -> File | None:
    """A file's status, size and download time."""
    if (found := _identified(item)) is None:
        return None
    return File(
        id=found[0],
        status=_word(found[1], FILE_STATUSES),
        size_bytes=discarded.number(item.get("file_size"), MAX_FILE_BYTES),
        downloaded=discarded.moment(item.get("downloaded_at")),
    )


def _items(body: object, key: str) -> tuple[list[Any], int]:
    """The first PAGE_LIMIT entries of a listing page, and how many it had."""
    entries = body.get(key) if isinstance(body, Mapping) else None
    if not isinstance(entries, list):
        raise InvalidResponseError("not_a_listing")
    return entries[:PAGE_LIMIT], len(entries)


def _page[T](
    body: object, key: str, read: ItemReader[T], discarded: Discarded
) -> tuple[list[T], int]:
    """The items kept from one listing page, and how many it had."""
    entries, count = _items(body, key)
    kept = [
        model
        for entry in entries
        if isinstance(entry, Mapping) and (model := read(entry, discarded)) is not None
    ]
    discarded.skipped[key] = discarded.skipped.get(key, 0) + count - len(kept)
    return kept, count


def _total_pages(body: object) -> int | None:
    """Total pages from the pagination block, when there is one."""
    if isinstance(body, Mapping) and isinstance(body.get("pagination"), Mapping):
        pages = body["pagination"].get("total_pages")
        if isinstance(pages, int) and not isinstance(pages, bool):
            return pages
    return None


def parse_printers(body: object, discarded: Discarded | None = None) -> list[Printer]:
    """The printers of one listing page; raise InvalidResponseError when it is none."""
    return _page(body, "printers", _printer, discarded or Discarded())[0]


def parse_jobs(body: object, discarded: Discarded | None = None) -> list[Job]:
    """The jobs of one listing page; raise InvalidResponseError when it is none."""
    return _page(body, "jobs", _job, discarded or Discarded())[0]


def parse_files(body: object, discarded: Discarded | None = None) -> list[File]:
    """The files of one listing page; raise InvalidResponseError when it is none."""
    return _page(body, "files", _file, discarded or Discarded())[0]


def parse_health(body: object) -> Health:
    """Status and release from /health; raise InvalidResponseError without a status."""
    if not isinstance(body, Mapping) or not isinstance(
        status := body.get("status"), str
    ):
        raise InvalidResponseError("no_status")
    return Health(
        status=status if len(status) <= MAX_WORD_LENGTH else UNKNOWN,
        version=clean_app_version(body.get("version")),
    )


def parse_uptime_seconds(
    body: object, discarded: Discarded | None = None
) -> float | None:
    """The uptime from /system/info, at most MAX_UPTIME_SECONDS, else None."""
    if not isinstance(body, Mapping):
        return None
    return (discarded or Discarded()).number(
        body.get("uptime_seconds"), MAX_UPTIME_SECONDS
    )


def parse_shares_statistics(body: object) -> bool | None:
    """Whether /usage-stats/status says Printernizer is opted in, if it says."""
    opted_in = body.get("opted_in") if isinstance(body, Mapping) else None
    return opted_in if isinstance(opted_in, bool) else None


def decode_json(raw: bytes) -> Any:
    """A JSON document (UTF-8, -16 or -32), else None."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        # ValueError includes UnicodeDecodeError and integers too long to convert;
        # RecursionError: nesting too deep for the standard decoder.
        return None


def retry_after(headers: Mapping[str, str], body: object) -> timedelta:
    """How long a 429 asks us to wait: Retry-After, X-RateLimit-Reset, the body, else a default.

    Capped at MAX_RETRY_AFTER before a timedelta is built: one from 1e300
    seconds would overflow.
    """
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
    elif isinstance(body, Mapping) and isinstance(
        details := body.get("details"), Mapping
    ):
        wait = details.get("retry_after_seconds")
        if isinstance(wait, int | float) and not isinstance(wait, bool):
            seconds = wait
    if seconds is None or not seconds >= 0:  # also NaN
        return DEFAULT_RETRY_AFTER
    return timedelta(seconds=math.ceil(min(seconds, MAX_RETRY_AFTER.total_seconds())))


async def _read_capped(response: aiohttp.ClientResponse) -> bytes | None:
    """The body, or None when it is longer than MAX_RESPONSE_BYTES.

    Refused by Content-Length before reading; otherwise at most cap + 1
    bytes are read.
    """
    declared = response.headers.get(hdrs.CONTENT_LENGTH, "")
    if (
        declared.isascii()
        and declared.isdigit()
        and (len(declared) > 9 or int(declared) > MAX_RESPONSE_BYTES)
    ):
        return None
    stream = response.content
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_RESPONSE_BYTES and (
        chunk := await stream.read(MAX_RESPONSE_BYTES + 1 - size)
    ):
        chunks.append(chunk)
        size += len(chunk)
    return None if size > MAX_RESPONSE_BYTES else b"".join(chunks)


class PrinternizerClient:
    """Ask one Printernizer instance; takes Home Assistant's shared session.

    `skipped` (items per listing name) and `values_dropped` count what this
    client's reads left out since it was made (see `Discarded`); both only
    grow.
    """

    def __init__(
        self, session: aiohttp.ClientSession, url: str, *, timeout: float = 10
    ) -> None:
        """Store the session and the normalised base URL."""
        self._session = session
        self._base = normalize_url(url)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.discarded = Discarded()

    @property
    def base_url(self) -> str:
        """The normalised base URL."""
        return self._base

    @property
    def skipped(self) -> dict[str, int]:
        """Items left out per listing (`printers`, `jobs`, `files`), a copy."""
        return dict(self.discarded.skipped)

    @property
    def values_dropped(self) -> int:
        """Single values left out, their items kept."""
        return self.discarded.values_dropped

    async def _get(self, path: str, params: Mapping[str, int] | None = None) -> Any:
        """GET a JSON document of at most MAX_RESPONSE_BYTES; map every failure to our errors."""
        try:
            async with self._session.get(
                f"{self._base}/api/v1/{path}",
                params=params,
                timeout=self._timeout,
                allow_redirects=False,
                # Compressed bodies are not inflated: the cap counts what arrives.
                headers={hdrs.ACCEPT_ENCODING: "identity"},
                auto_decompress=False,
            ) as response:
                status = response.status
                if status >= 500:
                    raise CannotConnectError(f"http_{status}", status=status)
                if status >= 300 and status != STATUS_TOO_MANY_REQUESTS:
                    raise InvalidResponseError(f"http_{status}", status=status)
                raw = await _read_capped(response)
                body = None if raw is None else decode_json(raw)
                if status == STATUS_TOO_MANY_REQUESTS:
                    raise RateLimitedError(
                        "rate_limited", retry_after=retry_after(response.headers, body)
                    )
                if raw is None:
                    raise InvalidResponseError("too_large", status=status)
                if body is None:
                    raise InvalidResponseError("not_json", status=status)
                return body
        except TimeoutError as err:
            raise CannotConnectError("timeout") from err
        except aiohttp.ClientError as err:
            raise CannotConnectError("connection_error") from err

    async def health(self) -> Health:
        """Reachability and version (exempt from Printernizer's rate limit)."""
        return parse_health(await self._get("health"))

    async def uptime_seconds(self) -> float | None:
        """Printernizer's uptime from /system/info (/health says null)."""
        return parse_uptime_seconds(await self._get("system/info"), self.discarded)

    async def shares_statistics(self) -> bool | None:
        """Whether Printernizer itself is opted in to the same statistics service."""
        return parse_shares_statistics(await self._get("usage-stats/status"))

    async def _listing[T](self, key: str, read: ItemReader[T]) -> list[T]:
        """The items kept from a paginated listing, at most MAX_PAGES pages."""
        kept: list[T] = []
        for page in range(1, MAX_PAGES + 1):
            body = await self._get(key, {"page": page, "limit": PAGE_LIMIT})
            batch, count = _page(body, key, read, self.discarded)
            kept.extend(batch)
            total_pages = _total_pages(body)
            if count == 0 or (
                count < PAGE_LIMIT if total_pages is None else page >= total_pages
            ):
                break
        return kept

    async def printers(self) -> list[Printer]:
        """Every printer's type and status; nothing else is kept."""
        return await self._listing("printers", _printer)

    async def jobs(self) -> list[Job]:
        """The newest jobs' printer, type, status, duration and times."""
        return await self._listing("jobs", _job)

    async def files(self) -> list[File]:
        """The newest files' statuses, sizes and download times."""
        return await self._listing("files", _file)
