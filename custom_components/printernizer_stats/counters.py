"""Per-day usage counters: the only form in which recorded events are kept.

An event never becomes a row. It increments its event type's counter and one
counter per cleaned metadata value, in the bucket of its UTC day. Memory and
file size are bounded by the retention window and the allowlist's
vocabularies, never by the number of events. Readers get typed answers
(`Tally`, `week_counts`); how counters are named inside is this module's
business alone.

About 380 lines: half of it is the stored form and its checks, which
belong to the owner of the section.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
import re
from types import MappingProxyType
from typing import Any, Final

from . import stored
from .privacy import CAPPED_KEYS, CleanEvent, Rejection, RejectReason, clean_value
from .stored import Reading
from .vocabulary import EVENT_TYPES, OTHER

KEY_SEPARATOR: Final = "/"
VALUE_SEPARATOR: Final = "="
# Minutes Printernizer was up on a day; not an event type (they have no "@").
UPTIME_COLUMN: Final = "@uptime_minutes"
# Before 0.3 whole hours were kept; read as 60 minutes each.
_OLD_UPTIME_COLUMN: Final = "@uptime_hours"
MINUTES_PER_DAY: Final = 24 * 60
# Bounds on what is read back from the file, far above real use.
MAX_COLUMNS: Final = 10_000
MAX_ROWS: Final = 1_000
MAX_ROW_CHARS: Final = 200_000
_SECTION: Final = "counters"
# Values of a capped key (release numbers) kept across the retention window;
# later ones count as "other".
MAX_CAPPED_VALUES: Final = 40
# Besides rejected input, events dropped because recording itself failed.
INTERNAL_ERROR: Final = "internal_error"
REJECT_REASONS: Final = frozenset({*map(str, RejectReason), INTERNAL_ERROR})

_WEEK_RE: Final = re.compile(r"[0-9]{4}-W[0-9]{2}")
_EVENT_TYPES: Final = frozenset(EVENT_TYPES)


def week_key(day: date) -> str:
    """The ISO week a (local) day belongs to, e.g. "2026-W48"."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _week(value: object) -> str:
    """A stored ISO week name ("2026-W48", ASCII) that names a real week."""
    if not isinstance(value, str) or not _WEEK_RE.fullmatch(value):
        raise ValueError("not an ISO week")
    date.fromisocalendar(int(value[:4]), int(value[6:]), 1)
    return value


def _value_column(event_type: str, key: str, value: str) -> str:
    """Name of the counter of one metadata value."""
    return f"{event_type}{KEY_SEPARATOR}{key}{VALUE_SEPARATOR}{value}"


def _split(name: str) -> tuple[str, str | None, str | None]:
    """Inverse of _value_column (an event type alone has no key)."""
    event_type, sep, rest = name.partition(KEY_SEPARATOR)
    if not sep:
        return event_type, None, None
    key, _, value = rest.partition(VALUE_SEPARATOR)
    return event_type, key, value


def _clean_column(name: object) -> str | None:
    """A stored counter name re-checked against the allowlist, or None to drop it."""
    if not isinstance(name, str):
        return None
    if name in (UPTIME_COLUMN, _OLD_UPTIME_COLUMN) or name in _EVENT_TYPES:
        return name
    event_type, key, value = _split(name)
    if key is None or value is None or event_type not in _EVENT_TYPES:
        return None
    cleaned = clean_value(event_type, key, value)
    if cleaned is None:
        return None
    if key in CAPPED_KEYS and value == OTHER:
        # The cap's own bucket (see _capped_value), not a refused value.
        cleaned = OTHER
    return _value_column(event_type, key, cleaned)


def _row(value: object) -> list[int | None] | None:
    """A stored day row: "3,0,12" (or a list, as version 2 wrote it), else None.

    A value that is not a count of at most 15 digits is None: that value is
    dropped, not the row.
    """
    if isinstance(value, list):
        return [
            v if type(v) is int and 0 <= v <= stored.MAX_COUNT else None
            for v in value[:MAX_COLUMNS]
        ]
    if not isinstance(value, str) or len(value) > MAX_ROW_CHARS:
        return None
    if not value:
        return []
    return [
        int(part) if part.isascii() and part.isdigit() and len(part) <= 15 else None
        for part in value.split(",")
    ]


@dataclass(frozen=True, slots=True)
class Tally:
    """The counts of a range of days, as the report needs them."""

    events: Mapping[str, int] = field(default_factory=dict)
    values: Mapping[tuple[str, str], Mapping[str, int]] = field(default_factory=dict)
    uptime_minutes: int = 0

    def count(self, event_type: str) -> int:
        """Events of one type."""
        return self.events.get(event_type, 0)

    def by_value(self, event_type: str, key: str) -> Mapping[str, int]:
        """Events of one type per value of one metadata key."""
        return self.values.get((event_type, key), {})


class UsageCounters:
    """Counters per UTC day plus totals of rejected input, with bounded size."""

    __slots__ = ("_capped", "_cursor", "_days", "rejected", "totals", "weeks")

    def __init__(self) -> None:
        """Start empty."""
        self._days: dict[str, dict[str, int]] = {}
        self._capped: dict[str, set[str]] = {key: set() for key in CAPPED_KEYS}
        self.rejected: dict[str, int] = {}
        # Events per type since data began; unlike the days, never pruned.
        self.totals: dict[str, int] = defaultdict(int)
        # Events per type in the current and the previous local ISO week:
        # the weekly sensors follow the user's clock, the days follow UTC.
        self.weeks: dict[str, dict[str, int]] = {}
        # The day and week the last event counted in, with their dicts: the
        # next event usually counts in the same ones.
        self._cursor: tuple[str, str, dict[str, int], dict[str, int]] = ("", "", {}, {})

    def record(self, day: str, event: CleanEvent, week: str) -> None:
        """Count one cleaned event on a UTC day ("YYYY-MM-DD") and local ISO week.

        Runs for every event: counting dicts are defaultdict(int), so `+= 1`
        needs no lookup of its own.
        """
        cursor = self._cursor
        if cursor[0] is day and cursor[1] is week:
            counts, week_counts = cursor[2], cursor[3]
        else:
            counts = self._days.setdefault(day, defaultdict(int))
            found = self.weeks.get(week)
            week_counts = self._new_week(week) if found is None else found
            self._cursor = (day, week, counts, week_counts)
        event_type, metadata = event
        counts[event_type] += 1
        self.totals[event_type] += 1
        week_counts[event_type] += 1
        for key, raw in metadata.items():
            value = self._capped_value(key, raw) if key in CAPPED_KEYS else raw
            counts[f"{event_type}{KEY_SEPARATOR}{key}{VALUE_SEPARATOR}{value}"] += 1

    def add_uptime(self, day: str, minutes: int) -> None:
        """Add minutes Printernizer was up on a UTC day (never more than the day has)."""
        if minutes > 0:
            counts = self._days.get(day)
            if counts is None:
                counts = self._days[day] = defaultdict(int)
            counts[UPTIME_COLUMN] = min(
                counts[UPTIME_COLUMN] + minutes, MINUTES_PER_DAY
            )

    def _new_week(self, week: str) -> dict[str, int]:
        """Start a week's counts, keeping only this one and the one before."""
        counts = self.weeks[week] = defaultdict(int)
        for old in sorted(self.weeks)[:-2]:
            del self.weeks[old]
        self._cursor = ("", "", {}, {})
        return counts

    def _capped_value(self, key: str, value: str) -> str:
        """Bound the number of distinct values of an open key."""
        known = self._capped[key]
        if value in known:
            return value
        if len(known) >= MAX_CAPPED_VALUES:
            return OTHER
        known.add(value)
        return value

    def count_rejections(self, rejections: Iterable[Rejection]) -> None:
        """Add rejections to the per-reason totals."""
        for rejection in rejections:
            reason = str(rejection.reason)
            self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def count_internal_error(self) -> None:
        """Count an event lost because recording itself failed."""
        self.rejected[INTERNAL_ERROR] = self.rejected.get(INTERNAL_ERROR, 0) + 1

    # --- queries ------------------------------------------------------------

    def week_counts(self, week: str) -> Mapping[str, int]:
        """Events per type in one local ISO week (a read-only copy).

        A copy, as a view of the defaultdict would insert a zero on lookup.
        """
        return MappingProxyType(dict(self.weeks.get(week, {})))

    def tally(self, start: date, end: date) -> Tally:
        """The counts of the UTC days in [start, end)."""
        first, last = start.isoformat(), end.isoformat()
        summed: Counter[str] = Counter()
        for day, counts in self._days.items():
            if first <= day < last:
                summed.update(counts)
        events: dict[str, int] = {}
        values: dict[tuple[str, str], dict[str, int]] = {}
        for name, count in summed.items():
            event_type, key, value = _split(name)
            if key is None:
                if event_type in _EVENT_TYPES:
                    events[event_type] = count
            else:
                assert value is not None  # a key always comes with its value
                values.setdefault((event_type, key), {})[value] = count
        return Tally(events, values, summed[UPTIME_COLUMN])

    @property
    def days(self) -> tuple[str, ...]:
        """The UTC days with data, oldest first."""
        return tuple(sorted(self._days))

    def event_count(self) -> int:
        """All events on the retained days."""
        return sum(
            count
            for counts in self._days.values()
            for name, count in counts.items()
            if name in _EVENT_TYPES
        )

    def column_count(self) -> int:
        """Distinct counters in use (diagnostics)."""
        return len({name for counts in self._days.values() for name in counts})

    # --- retention ------------------------------------------------------------

    def prune(self, oldest_kept: date) -> int:
        """Drop days before oldest_kept (retention); return how many went."""
        limit = oldest_kept.isoformat()
        old = [day for day in self._days if day < limit]
        for day in old:
            del self._days[day]
        self._cursor = ("", "", {}, {})
        if old:
            self._rebuild_capped()
        return len(old)

    def clear(self) -> None:
        """Forget everything (delete_all)."""
        self._days.clear()
        self._cursor = ("", "", {}, {})
        self.rejected.clear()
        self.totals.clear()
        self.weeks.clear()
        self._rebuild_capped()

    def _rebuild_capped(self) -> None:
        """Recompute which capped values are in use after days went away."""
        self._capped = {key: set() for key in CAPPED_KEYS}
        for counts in self._days.values():
            for name in counts:
                _, key, value = _split(name)
                if key in CAPPED_KEYS and value is not None and value != OTHER:
                    self._capped[key].add(value)

    # --- persistence ------------------------------------------------------------

    def as_storage(self) -> dict[str, Any]:
        """Columnar form: one column list, one row of counts per day.

        Home Assistant writes storage files indented, one list item per line;
        a dict per day would repeat every counter name on every day, a list of
        ints would take a line per counter. A row is "3,0,12": one line a day.
        """
        columns = sorted({name for counts in self._days.values() for name in counts})
        index = {name: i for i, name in enumerate(columns)}
        rows: dict[str, str] = {}
        for day in sorted(self._days):
            row = [0] * len(columns)
            for name, count in self._days[day].items():
                row[index[name]] = count
            while row and row[-1] == 0:
                row.pop()
            # One line per day: Home Assistant writes lists one item per line.
            rows[day] = ",".join(map(str, row))
        return {
            "columns": columns,
            "days": rows,
            "rejected": dict(self.rejected),
            "totals": dict(self.totals),
            "weeks": {week: dict(counts) for week, counts in self.weeks.items()},
        }

    @classmethod
    def from_storage(cls, data: object, reading: Reading) -> UsageCounters:
        """Rebuild from as_storage(), dropping each damaged unit alone (noted in `reading`).

        Every counter name is checked against today's allowlist: a name it
        no longer allows is dropped, one it now spells differently (e.g.
        `raspberry_pi` → `pi`, an unlisted error kind → `other`) is merged.
        A bad day key, row or value drops that row or value, not the section;
        rows for days after tomorrow are dropped (older ones are pruned by
        retention). Raises ValueError only when the section is not an object.
        """
        if not isinstance(data, Mapping):
            raise ValueError("counters are not an object")  # noqa: TRY004
        counters = cls()
        columns = reading.keep(
            _SECTION, "counter names", stored.list_of, data.get("columns")
        )
        names: list[str | None] = []
        for name in (columns or [])[:MAX_COLUMNS]:
            cleaned = _clean_column(name)
            if cleaned is None:
                reading.damage.drop(_SECTION, "counter name")
            names.append(cleaned)
        reading.damage.drop(_SECTION, "counter name", len(columns or []) - MAX_COLUMNS)
        rows = (
            reading.keep(_SECTION, "day rows", stored.mapping, data.get("days")) or {}
        )
        latest = reading.latest_day
        for index, (key, stored_row) in enumerate(rows.items()):
            day = reading.keep(_SECTION, "day row", stored.day, key)
            row = _row(stored_row) if index < MAX_ROWS else None
            if day is None or row is None or day > latest:
                if day is not None:
                    reading.damage.drop(_SECTION, "day row")
                continue
            counts: defaultdict[str, int] = defaultdict(int)
            for position, count in enumerate(row):
                name = names[position] if position < len(names) else None
                if count is None or (position >= len(names) and count):
                    reading.damage.drop(_SECTION, "counter value")
                elif count and name is not None:
                    counts[name] = min(counts[name] + count, stored.MAX_COUNT)
            if counts.get(UPTIME_COLUMN, 0) > MINUTES_PER_DAY:
                reading.damage.drop(_SECTION, "counter value")
                del counts[UPTIME_COLUMN]
            if (hours := counts.pop(_OLD_UPTIME_COLUMN, 0)) > 0:
                # Before 0.3 every unload rounded half an hour up, so a day
                # could hold more than 24 hours: more than a day has is a day.
                counts[UPTIME_COLUMN] = min(
                    counts[UPTIME_COLUMN] + hours * 60, MINUTES_PER_DAY
                )
            counters._days[day.isoformat()] = counts
        for target, unit, words, value in (
            (
                counters.rejected,
                "rejection count",
                REJECT_REASONS,
                data.get("rejected"),
            ),
            (counters.totals, "total", _EVENT_TYPES, data.get("totals")),
        ):
            for key, count in (
                reading.keep(_SECTION, unit, stored.mapping, value) or {}
            ).items():
                if key not in words:
                    reading.damage.drop(_SECTION, unit)
                elif (
                    found := reading.keep(_SECTION, unit, stored.count, count)
                ) is not None:
                    target[key] = found
        weeks = reading.keep(_SECTION, "week", stored.mapping, data.get("weeks")) or {}
        latest_week = week_key(latest + timedelta(days=1))
        valid: list[tuple[str, object]] = []
        for week, week_counts in weeks.items():
            if reading.keep(_SECTION, "week", _week, week) is None:
                continue
            if week > latest_week:
                reading.damage.drop(_SECTION, "week")
                continue
            valid.append((week, week_counts))
        for week, week_counts in sorted(valid, key=lambda item: item[0])[-2:]:
            kept: defaultdict[str, int] = defaultdict(int)
            for event_type, count in (
                reading.keep(_SECTION, "week", stored.mapping, week_counts) or {}
            ).items():
                if event_type not in _EVENT_TYPES:
                    reading.damage.drop(_SECTION, "week count")
                elif (
                    found := reading.keep(_SECTION, "week count", stored.count, count)
                ) is not None:
                    kept[event_type] = found
            counters.weeks[week] = kept
        counters._rebuild_capped()
        return counters

    def as_nested(self) -> dict[str, dict[str, Any]]:
        """Readable form for export: day -> event type -> count and metadata."""
        result: dict[str, dict[str, Any]] = {}
        for day in sorted(self._days):
            types: dict[str, Any] = {}
            for name, count in sorted(self._days[day].items()):
                if name == UPTIME_COLUMN:
                    types["printernizer_uptime_minutes"] = count
                    continue
                event_type, key, value = _split(name)
                entry = types.setdefault(event_type, {"count": 0, "metadata": {}})
                if key is None:
                    entry["count"] = count
                else:
                    entry["metadata"].setdefault(key, {})[value] = count
            result[day] = types
        return result
