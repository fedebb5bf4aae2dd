"""Reading the storage file back: it is input like any other.

The file can be edited by hand, damaged, or written by an older version, so
every section is parsed into typed values with the same rules as fresh
input. The smallest damaged unit (a value, a row, a list entry, a pending
report) is dropped and noted in a `Damage` tally that names our own unit
words only, never what was in the file. The value parsers raise ValueError;
the sections catch it per unit (`Reading.keep`).

Times are bounded by the trusted now: nothing read back may lie ahead of it
(waits are clamped, records dropped or clamped by their owner), and days are
ASCII calendar dates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, date, datetime, timedelta
import re
from typing import Any, Final

# The largest count kept: 15 digits, which a row part may hold; no real
# installation comes near it, and bounding it keeps every write loadable.
MAX_COUNT: Final = 10**15 - 1
# Stored times within this of now are no sign of trouble (they are rounded up).
SLACK: Final = timedelta(minutes=6)

_DAY_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# What this integration writes: ISO 8601 with seconds and an offset, ASCII only.
_MOMENT_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
# What a parser of damaged input may raise; anything caught as "that unit is damaged".
PARSE_ERRORS: Final = (ValueError, TypeError, KeyError, AttributeError, OverflowError)


class Damage:
    """What was dropped while the file was read back, by unit; never a value."""

    def __init__(self) -> None:
        """Nothing dropped yet."""
        self._units: dict[str, int] = {}

    def drop(self, section: str, unit: str, count: int = 1) -> None:
        """Note `count` dropped units of one kind."""
        if count > 0:
            name = f"{section}: {unit}"
            self._units[name] = self._units.get(name, 0) + count

    def __bool__(self) -> bool:
        """Whether anything was dropped."""
        return bool(self._units)

    @property
    def sections(self) -> list[str]:
        """The sections that lost something, in the order first noted."""
        return list(dict.fromkeys(name.partition(":")[0] for name in self._units))

    def summary(self) -> list[str]:
        """One line per kind of unit, e.g. "counters: day row (2)"."""
        return [
            name if count == 1 else f"{name} ({count})"
            for name, count in self._units.items()
        ]


@dataclass(slots=True)
class Reading:
    """The context a stored section is read back in.

    `now` is the trusted time; `ceiling` the latest moment a stored day or
    record may carry (the trusted now, or a stored clock mark the clock is
    still holding back: see clock.py).
    """

    now: datetime
    ceiling: datetime | None = None
    damage: Damage = field(default_factory=Damage)

    @property
    def latest_day(self) -> date:
        """The last day a stored row may be for (tomorrow: time zones and slack)."""
        return max(self.now, self.ceiling or self.now).date() + timedelta(days=1)

    def not_after_now[T: (date, datetime)](self, value: T) -> T:
        """A stored record clamped to the trusted now, so it never runs ahead of it."""
        top = max(self.now, self.ceiling or self.now)
        if isinstance(value, datetime):
            return min(value, top + SLACK)
        return min(value, top.date())

    def keep[T](
        self, section: str, unit: str, parse: Callable[[Any], T], value: object
    ) -> T | None:
        """Parse one unit; a damaged one is noted and gives None."""
        try:
            return parse(value)
        except PARSE_ERRORS:
            self.damage.drop(section, unit)
            return None

    def each[T](
        self,
        section: str,
        unit: str,
        parse: Callable[[Any], T],
        values: Iterable[object],
    ) -> list[T]:
        """Parse every entry of a list; damaged entries are noted and left out."""
        kept: list[T] = []
        for value in values:
            parsed = self.keep(section, unit, parse, value)
            if parsed is not None:
                kept.append(parsed)
        return kept


def iso(value: date | datetime | None) -> str | None:
    """ISO form of an optional day, or of a time rounded up to the minute.

    No finer time is kept at rest; rounding up keeps every wait at least as long.
    """
    if value is None:
        return None
    if isinstance(value, datetime) and (value.second or value.microsecond):
        value = value.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return value.isoformat()


def optional[T](value: object, kind: type[T]) -> T | None:
    """None, or a value of exactly this type."""
    if value is None:
        return None
    if type(value) is not kind:
        raise ValueError(f"expected {kind.__name__}")
    return value


def list_of(value: object) -> list[object]:
    """A list (None is empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("expected a list")  # noqa: TRY004
    return value


def mapping(value: object) -> Mapping[str, Any]:
    """An object (None is empty)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("expected an object")  # noqa: TRY004
    return value


def day(value: object) -> date | None:
    """An optional day written as YYYY-MM-DD in ASCII digits (a real calendar date)."""
    text = optional(value, str)
    if text is None:
        return None
    if not _DAY_RE.fullmatch(text):
        raise ValueError("not an ISO day")
    parsed = date.fromisoformat(text)
    if parsed.year >= MAXYEAR:
        raise ValueError("a stored day is out of range")
    return parsed


def moment(value: object) -> datetime | None:
    """An optional ISO time with seconds and an offset, in ASCII, as UTC."""
    text = optional(value, str)
    if text is None:
        return None
    if not _MOMENT_RE.fullmatch(text):
        raise ValueError("not an ISO time with offset")
    parsed = datetime.fromisoformat(text)
    try:
        moment = parsed.astimezone(UTC)
    except OverflowError as err:
        raise ValueError("a stored time is out of range") from err
    if moment.year >= MAXYEAR:
        raise ValueError("a stored time is out of range")
    return moment


def fields(value: object, keys: Iterable[str]) -> Mapping[str, Any]:
    """An object with these keys."""
    if not isinstance(value, Mapping) or any(key not in value for key in keys):
        raise ValueError("a stored record is malformed")
    return value


def count(value: object, maximum: int = MAX_COUNT) -> int:
    """A non-negative int no larger than `maximum` (bool is not one)."""
    if type(value) is not int or not 0 <= value <= maximum:
        raise ValueError("expected a count")
    return value
