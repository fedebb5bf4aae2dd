"""Per-day usage counters: the only form in which recorded events are kept.

An event never becomes a row. It increments ``"<event_type>"`` and one
``"<event_type>/<key>=<value>"`` counter per cleaned metadata value, in the
bucket of its UTC day. Memory and file size are bounded by the retention
window, the vocabularies of the allowlist and ``MAX_OPEN_VALUES``, never by the
number of events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
import re
from typing import Any

from .privacy import CleanEvent, Rejection

KEY_SEPARATOR = "/"
VALUE_SEPARATOR = "="
OTHER = "other"
# Keys whose values are not from a fixed vocabulary (pattern-checked strings):
# at most this many distinct values are kept across the retention window,
# later ones are counted as "other".
OPEN_VALUE_KEYS = frozenset({"error_type", "app_version"})
MAX_OPEN_VALUES = 40

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK_RE = re.compile(r"^\d{4}-W\d{2}$")


def week_key(day: date) -> str:
    """The ISO week a (local) day belongs to, e.g. "2026-W48"."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def counter_key(
    event_type: str, key: str | None = None, value: str | None = None
) -> str:
    """Name of one counter: the event type alone, or one of its metadata values."""
    if key is None:
        return event_type
    return f"{event_type}{KEY_SEPARATOR}{key}{VALUE_SEPARATOR}{value}"


def split_counter_key(name: str) -> tuple[str, str | None, str | None]:
    """Inverse of counter_key."""
    event_type, sep, rest = name.partition(KEY_SEPARATOR)
    if not sep:
        return event_type, None, None
    key, _, value = rest.partition(VALUE_SEPARATOR)
    return event_type, key, value


class UsageCounters:
    """Counters per UTC day plus totals of rejected input, with bounded size."""

    __slots__ = ("_days", "_open_values", "rejected", "totals", "weeks")

    def __init__(self) -> None:
        """Start empty."""
        self._days: dict[str, dict[str, int]] = {}
        self._open_values: dict[str, set[str]] = {key: set() for key in OPEN_VALUE_KEYS}
        self.rejected: dict[str, int] = {}
        # Events per type since data began; unlike the days, never pruned.
        self.totals: dict[str, int] = defaultdict(int)
        # Events per type in the current and the previous local ISO week
        # ("2026-W48"): the weekly sensors follow the user's clock, the days
        # follow UTC (what the report needs).
        self.weeks: dict[str, dict[str, int]] = {}

    def record(self, day: str, event: CleanEvent, week: str | None = None) -> None:
        """Count one cleaned event on a UTC day ("YYYY-MM-DD") and local week; on every bus event."""
        # Counting dicts are defaultdict(int): `+= 1` without a .get() per counter.
        counts = self._days.get(day)
        if counts is None:
            counts = self._days[day] = defaultdict(int)
        event_type, metadata = event
        counts[event_type] += 1
        self.totals[event_type] += 1
        if week is not None:
            week_counts = self.weeks.get(week)
            if week_counts is None:
                week_counts = self._new_week(week)
            week_counts[event_type] += 1
        for key, raw in metadata.items():
            value = self._open_value(key, raw) if key in OPEN_VALUE_KEYS else raw
            counts[f"{event_type}{KEY_SEPARATOR}{key}{VALUE_SEPARATOR}{value}"] += 1

    def _new_week(self, week: str) -> dict[str, int]:
        """Start a week's counts, keeping only this one and the one before."""
        counts = self.weeks[week] = defaultdict(int)
        for old in sorted(self.weeks)[:-2]:
            del self.weeks[old]
        return counts

    def week_count(self, week: str, event_type: str) -> int:
        """Events of one type in one local ISO week."""
        return self.weeks.get(week, {}).get(event_type, 0)

    def _open_value(self, key: str, value: str) -> str:
        """Cap the number of distinct pattern-checked values."""
        known = self._open_values[key]
        if value in known:
            return value
        if len(known) >= MAX_OPEN_VALUES:
            return OTHER
        known.add(value)
        return value

    def count_rejections(self, rejections: Iterable[Rejection]) -> int:
        """Add rejections to the per-reason totals; return how many there were."""
        added = 0
        for rejection in rejections:
            reason = str(rejection.reason)
            self.rejected[reason] = self.rejected.get(reason, 0) + 1
            added += 1
        return added

    def prune(self, oldest_kept: date) -> int:
        """Drop days before oldest_kept (retention); return how many went."""
        limit = oldest_kept.isoformat()
        old = [day for day in self._days if day < limit]
        for day in old:
            del self._days[day]
        if old:
            self._rebuild_open_values()
        return len(old)

    def clear(self) -> None:
        """Forget everything (delete_all)."""
        self._days.clear()
        self.rejected.clear()
        self.totals.clear()
        self.weeks.clear()
        self._rebuild_open_values()

    def _rebuild_open_values(self) -> None:
        """Recompute which open values are in use after days went away."""
        self._open_values = {key: set() for key in OPEN_VALUE_KEYS}
        for counts in self._days.values():
            for name in counts:
                _, key, value = split_counter_key(name)
                if key in OPEN_VALUE_KEYS and value is not None and value != OTHER:
                    self._open_values[key].add(value)

    @property
    def days(self) -> Mapping[str, Mapping[str, int]]:
        """Counters by ISO day (read-only view)."""
        return self._days

    def by_date(self) -> dict[date, Mapping[str, int]]:
        """Counters keyed by date objects, the report builder's input."""
        return {date.fromisoformat(day): counts for day, counts in self._days.items()}

    @property
    def first_day(self) -> str | None:
        """The oldest day with data."""
        return min(self._days, default=None)

    # --- persistence -----------------------------------------------------

    def as_storage(self) -> dict[str, Any]:
        """Columnar form for the Store: one column list, one row of ints per day.

        Home Assistant writes storage files indented; a dict per day would
        repeat every counter name on every line of every day. A shared column
        list keeps a full 90-day file near 100 KB whatever the event volume.
        """
        columns = sorted({name for counts in self._days.values() for name in counts})
        index = {name: i for i, name in enumerate(columns)}
        rows: dict[str, list[int]] = {}
        for day in sorted(self._days):
            row = [0] * len(columns)
            for name, count in self._days[day].items():
                row[index[name]] = count
            while row and row[-1] == 0:
                row.pop()
            rows[day] = row
        return {
            "columns": columns,
            "days": rows,
            "rejected": dict(self.rejected),
            "totals": dict(self.totals),
            "weeks": {week: dict(counts) for week, counts in self.weeks.items()},
        }

    @classmethod
    def from_storage(cls, data: Mapping[str, Any]) -> UsageCounters:
        """Rebuild from as_storage(); raise ValueError on anything malformed."""
        counters = cls()
        columns = data.get("columns", [])
        rows = data.get("days", {})
        rejected = data.get("rejected", {})
        totals = data.get("totals", {})
        weeks = data.get("weeks", {})
        if not (
            isinstance(columns, list)
            and all(isinstance(name, str) for name in columns)
            and isinstance(rows, dict)
            and isinstance(rejected, dict)
            and isinstance(totals, dict)
            and isinstance(weeks, dict)
        ):
            raise ValueError("counters have the wrong shape")
        for day, row in rows.items():
            if not (
                isinstance(day, str) and _DAY_RE.match(day) and isinstance(row, list)
            ):
                raise ValueError("a day row has the wrong shape")
            if len(row) > len(columns):
                raise ValueError("a day row is longer than the columns")
            counts: dict[str, int] = {}
            for name, count in zip(columns, row, strict=False):
                if not _is_count(count):
                    raise ValueError("a counter is not a non-negative integer")
                if count:
                    counts[name] = count
            counters._days[day] = defaultdict(int, counts)
        for reason, count in rejected.items():
            if not (isinstance(reason, str) and _is_count(count)):
                raise ValueError("a rejected counter is malformed")
            counters.rejected[reason] = count
        for event_type, count in totals.items():
            if not (isinstance(event_type, str) and _is_count(count)):
                raise ValueError("a total is malformed")
            counters.totals[event_type] = count
        for week, counts in list(weeks.items())[-2:]:
            if not (
                isinstance(week, str)
                and _WEEK_RE.match(week)
                and isinstance(counts, dict)
                and all(isinstance(k, str) and _is_count(v) for k, v in counts.items())
            ):
                raise ValueError("a week's counts are malformed")
            counters.weeks[week] = defaultdict(int, counts)
        counters._rebuild_open_values()
        return counters

    @classmethod
    def from_nested(
        cls, days: Mapping[str, Any], rejected: Mapping[str, Any]
    ) -> UsageCounters:
        """Build from the nested form of storage version 1 (and of export).

        Raise ValueError on anything malformed, like from_storage.
        """
        if not (isinstance(days, Mapping) and isinstance(rejected, Mapping)):
            raise ValueError("nested counters have the wrong shape")  # noqa: TRY004
        rows: dict[str, dict[str, int]] = {}
        for day, types in days.items():
            if not isinstance(types, Mapping):
                raise ValueError("a day has the wrong shape")  # noqa: TRY004
            counts: dict[str, int] = {}
            for event_type, entry in types.items():
                if not (
                    isinstance(event_type, str)
                    and KEY_SEPARATOR not in event_type
                    and isinstance(entry, Mapping)
                    and _is_count(entry.get("count"))
                    and isinstance(metadata := entry.get("metadata", {}), Mapping)
                ):
                    raise ValueError("an event entry has the wrong shape")
                counts[event_type] = entry["count"]
                for key, values in metadata.items():
                    if not (isinstance(key, str) and isinstance(values, Mapping)):
                        raise ValueError("metadata counts have the wrong shape")  # noqa: TRY004
                    for value, count in values.items():
                        if not (isinstance(value, str) and _is_count(count)):
                            raise ValueError("a metadata count is malformed")
                        counts[counter_key(event_type, key, value)] = count
            rows[day] = counts
        columns = sorted({name for counts in rows.values() for name in counts})
        totals: dict[str, int] = {}
        for counts in rows.values():
            for name, count in counts.items():
                if KEY_SEPARATOR not in name:
                    totals[name] = totals.get(name, 0) + count
        return cls.from_storage(
            {
                "columns": columns,
                "days": {
                    day: [counts.get(name, 0) for name in columns]
                    for day, counts in rows.items()
                },
                "rejected": dict(rejected),
                "totals": totals,
            }
        )

    def as_nested(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Readable form for export: day -> event type -> count and metadata."""
        result: dict[str, dict[str, dict[str, Any]]] = {}
        for day in sorted(self._days):
            types: dict[str, dict[str, Any]] = {}
            for name, count in sorted(self._days[day].items()):
                event_type, key, value = split_counter_key(name)
                entry = types.setdefault(event_type, {"count": 0, "metadata": {}})
                if key is None:
                    entry["count"] = count
                else:
                    entry["metadata"].setdefault(key, {})[value] = count
            result[day] = types
        return result


def _is_count(value: object) -> bool:
    """A stored counter: a non-negative int (bool excluded)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
