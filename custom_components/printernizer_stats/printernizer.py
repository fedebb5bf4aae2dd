"""Read-only client for Printernizer's REST API.

Printernizer's answers carry printer names, IP addresses, unmasked access
codes, serial numbers, file and customer names. This module is the one place
that sees them: it copies the few fields we use into small models and drops
the rest before anything else gets the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import math
from typing import Any

import aiohttp
from yarl import URL

from .privacy import PRINTER_TYPES

PAGE_LIMIT = 100
MAX_PAGES = 5

PRINTER_STATUSES = ("online", "offline", "printing", "paused", "error", "unknown")
JOB_STATUSES = (
    "pending",
    "running",
    "printing",
    "paused",
    "completed",
    "failed",
    "cancelled",
    "unknown",
)
FILE_STATUSES = ("available", "downloading", "downloaded", "local", "error", "unknown")


class PrinternizerError(Exception):
    """Printernizer could not be asked."""


class PrinternizerConnectionError(PrinternizerError):
    """Printernizer did not answer (network, timeout, HTTP error status)."""


class PrinternizerResponseError(PrinternizerError):
    """Something answered, but not like Printernizer."""


@dataclass(frozen=True, slots=True)
class Health:
    """What /health tells us."""

    status: str
    version: str | None
    uptime_seconds: float | None


@dataclass(frozen=True, slots=True)
class Printer:
    """A printer reduced to its type and status."""

    id: str
    printer_type: str
    status: str


@dataclass(frozen=True, slots=True)
class Job:
    """A job reduced to what its counters need."""

    id: str
    printer_type: str
    status: str
    duration_seconds: float | None


@dataclass(frozen=True, slots=True)
class File:
    """A file reduced to its status and size."""

    id: str
    status: str
    size_bytes: float | None


def normalize_url(url: str) -> str:
    """Validate a base URL and strip the trailing slash; raise ValueError."""
    parsed = URL(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("The URL needs http:// or https:// and a host")
    return str(parsed.with_query(None).with_fragment(None)).rstrip("/")


def _vocab(value: object, vocabulary: tuple[str, ...]) -> str:
    """Map a value onto a vocabulary, anything else is "unknown"."""
    if isinstance(value, str) and (word := value.strip().lower()) in vocabulary:
        return word
    return "unknown"


def _number(value: object) -> float | None:
    """A non-negative finite number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    if not math.isfinite(number) or number < 0:
        return None
    return number


def _ident(value: object) -> str | None:
    """An item id as a string (ints or strings), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | str) and str(value):
        return str(value)
    return None


def _items(body: object, key: str) -> list[Mapping[str, Any]]:
    """The list of items of a listing, whatever envelope it comes in."""
    items: object = body
    if isinstance(body, Mapping):
        items = next(
            (body[k] for k in (key, "items", "data") if isinstance(body.get(k), list)),
            None,
        )
    if not isinstance(items, list):
        raise PrinternizerResponseError(f"The {key} listing is not a list")
    return [item for item in items if isinstance(item, Mapping)]


def _total_pages(body: object) -> int | None:
    """Total pages from a pagination block, when there is one."""
    if isinstance(body, Mapping) and isinstance(body.get("pagination"), Mapping):
        pages = body["pagination"].get("total_pages")
        if isinstance(pages, int) and not isinstance(pages, bool):
            return pages
    return None


class PrinternizerClient:
    """Ask one Printernizer instance; takes Home Assistant's shared session."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, *, timeout: float = 10
    ) -> None:
        """Store the session and the normalised base URL."""
        self._session = session
        self._base = normalize_url(url)
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def _get(self, path: str, params: Mapping[str, int] | None = None) -> Any:
        """GET a JSON document; map every failure to our errors."""
        try:
            async with self._session.get(
                f"{self._base}/api/v1/{path}",
                params=params,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                if response.status >= 300:
                    raise PrinternizerConnectionError(f"HTTP {response.status}")
                try:
                    return await response.json(content_type=None)
                except ValueError as err:
                    raise PrinternizerResponseError("The answer is not JSON") from err
        except TimeoutError as err:
            raise PrinternizerConnectionError("Timed out") from err
        except aiohttp.ClientError as err:
            raise PrinternizerConnectionError(type(err).__name__) from err

    async def health(self) -> Health:
        """Reachability, version and uptime."""
        body = await self._get("health")
        if not isinstance(body, Mapping) or not isinstance(body.get("status"), str):
            raise PrinternizerResponseError("The health answer has no status")
        version = body.get("version")
        return Health(
            status=body["status"],
            version=version if isinstance(version, str) else None,
            uptime_seconds=_number(body.get("uptime_seconds")),
        )

    async def _listing(self, path: str, key: str) -> list[Mapping[str, Any]]:
        """All items of a paginated listing, at most MAX_PAGES pages."""
        items: list[Mapping[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            body = await self._get(path, {"page": page, "limit": PAGE_LIMIT})
            batch = _items(body, key)
            items.extend(batch)
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
                printer_type=_vocab(item.get("printer_type"), PRINTER_TYPES),
                status=_vocab(item.get("status"), PRINTER_STATUSES),
            )
            for item in await self._listing("printers", "printers")
            if (ident := _ident(item.get("id"))) is not None
        ]

    async def jobs(self) -> list[Job]:
        """The most recent jobs' ids, types, statuses and durations."""
        return [
            Job(
                id=ident,
                printer_type=_vocab(item.get("printer_type"), PRINTER_TYPES),
                status=_vocab(item.get("status"), JOB_STATUSES),
                duration_seconds=_number(item.get("actual_duration")),
            )
            for item in await self._listing("jobs", "jobs")
            if (ident := _ident(item.get("id"))) is not None
        ]

    async def files(self) -> list[File]:
        """The most recent files' ids, statuses and sizes."""
        return [
            File(
                id=ident,
                status=_vocab(item.get("status"), FILE_STATUSES),
                size_bytes=_number(item.get("file_size")),
            )
            for item in await self._listing("files", "files")
            if (ident := _ident(item.get("id"))) is not None
        ]
