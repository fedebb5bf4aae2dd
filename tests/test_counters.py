"""Tests for the per-day usage counters (no Home Assistant involved)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
import json
import re
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.printernizer_stats.counters import (
    INTERNAL_ERROR,
    MAX_CAPPED_VALUES,
    MINUTES_PER_DAY,
    REJECT_REASONS,
    UPTIME_COLUMN,
    Tally,
    UsageCounters,
    week_key,
)
from custom_components.printernizer_stats.error_types import ERROR_TYPES
from custom_components.printernizer_stats.privacy import (
    ALLOWLIST,
    CleanEvent,
    Rejection,
    RejectReason,
    clean_event,
    clean_value,
)
from custom_components.printernizer_stats.stored import Damage, Reading
from custom_components.printernizer_stats.vocabulary import EVENT_TYPES, OTHER, UNKNOWN

from .hostile_corpus import ERROR_SHAPED

DAY = "2026-11-02"
NEXT_DAY = "2026-11-03"
START = date(2026, 11, 2)
WEEK = "2026-W45"
# The trusted now files are read back at: rows up to 2026-12-01 are kept.
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Pure unit tests: no Home Assistant instance needed."""


def _ints(row: str) -> list[int]:
    """A stored day row ("3,0,12") as counts."""
    return [int(part) for part in row.split(",")] if row else []


def _record(
    counters: UsageCounters, day: str, event_type: str, **metadata: str
) -> None:
    """Count an already cleaned event on a UTC day, in that day's ISO week."""
    week = week_key(date.fromisoformat(day))
    counters.record(day, CleanEvent(event_type, metadata), week)


def _columns(counters: UsageCounters) -> list[str]:
    """The counter names in use."""
    columns: list[str] = counters.as_storage()["columns"]
    return columns


def reading() -> Reading:
    """The context a stored section is read back in."""
    return Reading(now=NOW, damage=Damage())


def _load(data: object) -> tuple[UsageCounters, list[str]]:
    """A stored section read back, and what was dropped."""
    context = reading()
    return UsageCounters.from_storage(data, context), context.damage.summary()


def _reload(counters: UsageCounters) -> UsageCounters:
    """What Home Assistant's JSON storage gives back after a restart (nothing dropped)."""
    restored, damage = _load(json.loads(json.dumps(counters.as_storage())))
    assert damage == []
    return restored


@pytest.fixture
def counters() -> UsageCounters:
    """Counters with two days of data, uptime and some rejections."""
    counters = UsageCounters()
    _record(counters, DAY, "job_completed", printer_type="bambu_lab")
    _record(
        counters,
        DAY,
        "job_completed",
        printer_type="prusa_core",
        duration_minutes="1-3h",
    )
    _record(counters, NEXT_DAY, "error_occurred", error_type="TimeoutError")
    counters.add_uptime(DAY, 20)
    counters.count_rejections(
        [
            Rejection(RejectReason.UNKNOWN_KEY, None, 1, 2),
            Rejection(RejectReason.UNKNOWN_KEY, None, 2, 2),
            Rejection(RejectReason.INVALID_VALUE, "printer_type"),
        ]
    )
    return counters


def test_counters_record(counters: UsageCounters) -> None:
    """An event increments its type and one counter per metadata value on its day."""
    assert counters.days == (DAY, NEXT_DAY)
    assert counters.as_nested() == {
        DAY: {
            "job_completed": {
                "count": 2,
                "metadata": {
                    "duration_minutes": {"1-3h": 1},
                    "printer_type": {"bambu_lab": 1, "prusa_core": 1},
                },
            },
            "printernizer_uptime_minutes": 20,
        },
        NEXT_DAY: {
            "error_occurred": {
                "count": 1,
                "metadata": {"error_type": {"TimeoutError": 1}},
            }
        },
    }
    assert counters.totals == {"job_completed": 2, "error_occurred": 1}
    assert counters.event_count() == 3
    assert counters.column_count() == 7


def test_counters_record_reuses_day_and_week_until_pruned() -> None:
    """The same day and week objects count into cached buckets; prune and clear drop the cache."""
    counters = UsageCounters()
    event = CleanEvent("job_created", {})
    for _ in range(3):
        counters.record(DAY, event, WEEK)
    assert counters.as_storage()["days"] == {DAY: "3"}
    assert counters.week_counts(WEEK) == {"job_created": 3}
    assert counters.prune(START + timedelta(days=1)) == 1
    counters.record(DAY, event, WEEK)
    assert counters.as_storage()["days"] == {DAY: "1"}
    assert counters.week_counts(WEEK) == {"job_created": 4}
    counters.clear()
    counters.record(DAY, event, WEEK)
    assert counters.totals == {"job_created": 1}
    assert counters.week_counts(WEEK) == {"job_created": 1}
    assert counters.as_storage()["days"] == {DAY: "1"}


def test_counters_weeks_follow_local_week(counters: UsageCounters) -> None:
    """The weekly counts go to the week passed in, not the UTC day's."""
    counters.record(DAY, CleanEvent("job_created", {}), "2026-W44")
    assert dict(counters.week_counts("2026-W44")) == {"job_created": 1}
    assert dict(counters.week_counts(WEEK)) == {"job_completed": 2, "error_occurred": 1}
    assert counters.week_counts("2026-W01") == {}


def test_counters_week_counts_read_only(counters: UsageCounters) -> None:
    """The weekly counts cannot be changed through the answer, and a lookup inserts nothing."""
    counts = counters.week_counts(WEEK)
    with pytest.raises(TypeError):
        counts["job_completed"] = 5  # type: ignore[index]
    with pytest.raises(KeyError):
        counts["job_created"]
    assert counts.get("job_created") is None
    assert counters.as_storage()["weeks"] == {
        WEEK: {"job_completed": 2, "error_occurred": 1}
    }


def test_counters_weeks_keep_current_and_previous_only() -> None:
    """Week buckets never grow beyond two weeks; a late event of an older week is not kept."""
    counters = UsageCounters()
    event = CleanEvent("job_completed", {})
    for week in ("2026-W44", "2026-W45", "2026-W46", "2026-W43"):
        counters.record("2026-11-09", event, week)
    assert sorted(counters.weeks) == ["2026-W45", "2026-W46"]
    assert counters.week_counts("2026-W46") == {"job_completed": 1}
    assert counters.week_counts("2026-W43") == {}
    assert counters.totals == {"job_completed": 4}
    assert _reload(counters).weeks == counters.weeks


@pytest.mark.parametrize(
    ("day", "week"),
    [
        (date(2026, 11, 27), "2026-W48"),
        (date(2026, 11, 30), "2026-W49"),
        (date(2026, 12, 31), "2026-W53"),
        (date(2024, 12, 30), "2025-W01"),
        (date(2027, 1, 3), "2026-W53"),
        (date(2026, 1, 5), "2026-W02"),
    ],
)
def test_week_key_is_iso_week(day: date, week: str) -> None:
    """ISO weeks: the last days of a year can belong to week 1 of the next."""
    assert week_key(day) == week


def test_counters_add_uptime() -> None:
    """Minutes add up per day, never past the day's 1440; zero or negative minutes create nothing."""
    counters = UsageCounters()
    counters.add_uptime(DAY, 0)
    counters.add_uptime(DAY, -3)
    assert counters.days == ()
    counters.add_uptime(DAY, 5)
    counters.add_uptime(DAY, 3)
    counters.add_uptime(NEXT_DAY, 1000)
    counters.add_uptime(NEXT_DAY, 439)
    assert counters.tally(START, START + timedelta(days=1)).uptime_minutes == 8
    assert counters.tally(START, START + timedelta(days=2)).uptime_minutes == 1447
    counters.add_uptime(NEXT_DAY, 2)
    counters.add_uptime(NEXT_DAY, 10**20)
    assert counters.tally(START, START + timedelta(days=2)).uptime_minutes == 1448
    assert counters.as_storage()["days"] == {DAY: "8", NEXT_DAY: "1440"}
    assert counters.event_count() == 0
    assert counters.totals == {}
    assert _reload(counters).as_storage() == counters.as_storage()


def test_counters_tally_range() -> None:
    """A tally sums the UTC days in [start, end) only."""
    counters = UsageCounters()
    for offset, count in ((-1, 100), (0, 1), (3, 2), (6, 4), (7, 1000)):
        day = (START + timedelta(days=offset)).isoformat()
        for _ in range(count):
            _record(counters, day, "error_occurred", error_type="TimeoutError")
        _record(counters, day, "app_start", app_version="2.42.0")
        counters.add_uptime(day, count)
    tally = counters.tally(START, START + timedelta(days=7))
    assert isinstance(tally, Tally)
    assert tally.count("error_occurred") == 7
    assert tally.count("app_start") == 3
    assert tally.count("job_created") == 0
    assert tally.by_value("error_occurred", "error_type") == {"TimeoutError": 7}
    assert tally.by_value("app_start", "app_version") == {"2.42.0": 3}
    assert tally.by_value("job_created", "printer_type") == {}
    assert tally.uptime_minutes == 7
    assert UPTIME_COLUMN not in tally.events
    assert counters.tally(START, START) == Tally()


def test_tally_empty() -> None:
    """An empty tally answers zero for everything."""
    tally = Tally()
    assert tally.count("job_completed") == 0
    assert tally.by_value("error_occurred", "error_type") == {}
    assert tally.uptime_minutes == 0


def test_counters_count_rejections(counters: UsageCounters) -> None:
    """Rejections are counted by reason only, plus events lost to internal errors."""
    assert counters.rejected == {"unknown_key": 2, "invalid_value": 1}
    counters.count_rejections([])
    counters.count_rejections([Rejection(RejectReason.TOO_MANY_KEYS)])
    counters.count_internal_error()
    counters.count_internal_error()
    assert counters.rejected == {
        "unknown_key": 2,
        "invalid_value": 1,
        "too_many_keys": 1,
        INTERNAL_ERROR: 2,
    }
    assert set(counters.rejected) <= REJECT_REASONS


def test_counters_reject_reasons() -> None:
    """Every reason the filter gives, and internal errors, can be counted."""
    expected = {
        "unknown_event_type",
        "invalid_metadata",
        "too_many_keys",
        "unknown_key",
        "invalid_value",
        "internal_error",
    }
    assert expected == REJECT_REASONS


def test_counters_capped_values() -> None:
    """Release values beyond MAX_CAPPED_VALUES distinct ones count as "other"."""
    counters = UsageCounters()
    versions = [f"2.{index}.0" for index in range(MAX_CAPPED_VALUES + 5)]
    for version in versions:
        _record(counters, DAY, "app_start", app_version=version)
    # A value seen before the cap was reached keeps its own counter.
    _record(counters, DAY, "app_start", app_version=versions[0])
    values = counters.tally(START, START + timedelta(days=1)).by_value(
        "app_start", "app_version"
    )
    assert len(values) == MAX_CAPPED_VALUES + 1
    assert values[OTHER] == 5
    assert values[versions[0]] == 2
    assert versions[-1] not in values
    assert counters.totals["app_start"] == MAX_CAPPED_VALUES + 6


def test_counters_vocabulary_values_not_capped() -> None:
    """Keys with a fixed vocabulary are never folded into "other"."""
    counters = UsageCounters()
    for kind in ERROR_TYPES[: MAX_CAPPED_VALUES + 5]:
        _record(counters, DAY, "error_occurred", error_type=kind)
    values = counters.tally(START, START + timedelta(days=1)).by_value(
        "error_occurred", "error_type"
    )
    assert len(values) == MAX_CAPPED_VALUES + 5
    assert OTHER not in values


def test_counters_capped_values_survive_reload() -> None:
    """After a restart the cap's "other" stays "other" and the cap still holds."""
    counters = UsageCounters()
    for index in range(MAX_CAPPED_VALUES + 2):
        _record(counters, DAY, "app_start", app_version=f"2.{index}.0")
    restored = _reload(counters)
    assert restored.as_storage() == counters.as_storage()
    assert "app_start/app_version=other" in _columns(restored)
    assert "app_start/app_version=unknown" not in _columns(restored)
    for both in (counters, restored):
        _record(both, NEXT_DAY, "app_start", app_version="3.0.0")
        _record(both, NEXT_DAY, "app_start", app_version="2.0.0")
    assert restored.as_storage() == counters.as_storage()
    values = restored.tally(START, START + timedelta(days=2)).by_value(
        "app_start", "app_version"
    )
    assert values[OTHER] == 3
    assert values["2.0.0"] == 2


def test_counters_prune(counters: UsageCounters) -> None:
    """Days before the oldest kept day go; totals, weeks and rejections stay."""
    weeks = dict(counters.weeks)
    assert counters.prune(START) == 0
    assert counters.prune(START + timedelta(days=1)) == 1
    assert counters.days == (NEXT_DAY,)
    assert counters.totals == {"job_completed": 2, "error_occurred": 1}
    assert counters.rejected == {"unknown_key": 2, "invalid_value": 1}
    assert counters.weeks == weeks
    assert counters.event_count() == 1
    assert counters.prune(START + timedelta(days=30)) == 1
    assert counters.days == ()


def test_counters_prune_frees_capped_values() -> None:
    """Once the days holding capped values are pruned, new values get their own counter."""
    counters = UsageCounters()
    for index in range(MAX_CAPPED_VALUES):
        _record(counters, DAY, "app_start", app_version=f"1.{index}.0")
    _record(counters, NEXT_DAY, "app_start", app_version="2.42.0")
    assert "app_start/app_version=other" in _columns(counters)
    counters.prune(START + timedelta(days=1))
    _record(counters, NEXT_DAY, "app_start", app_version="2.43.0")
    assert counters.tally(START, START + timedelta(days=2)).by_value(
        "app_start", "app_version"
    ) == {OTHER: 1, "2.43.0": 1}


def test_counters_clear(counters: UsageCounters) -> None:
    """clear() forgets days, totals, weeks, rejections and the capped values seen."""
    for index in range(MAX_CAPPED_VALUES):
        _record(counters, DAY, "app_start", app_version=f"1.{index}.0")
    counters.clear()
    assert counters.days == ()
    assert counters.totals == {}
    assert counters.rejected == {}
    assert counters.weeks == {}
    assert counters.event_count() == counters.column_count() == 0
    assert counters.as_storage() == UsageCounters().as_storage()
    _record(counters, DAY, "app_start", app_version="2.42.0")
    assert _columns(counters) == ["app_start", "app_start/app_version=2.42.0"]


def test_counters_storage_format(counters: UsageCounters) -> None:
    """The columnar form shares one sorted column list and trims trailing zeros."""
    stored = counters.as_storage()
    assert stored == {
        "columns": [
            UPTIME_COLUMN,
            "error_occurred",
            "error_occurred/error_type=TimeoutError",
            "job_completed",
            "job_completed/duration_minutes=1-3h",
            "job_completed/printer_type=bambu_lab",
            "job_completed/printer_type=prusa_core",
        ],
        "days": {DAY: "20,0,0,2,1,1,1", NEXT_DAY: "0,1,1"},
        "rejected": {"unknown_key": 2, "invalid_value": 1},
        "totals": {"job_completed": 2, "error_occurred": 1},
        "weeks": {WEEK: {"job_completed": 2, "error_occurred": 1}},
    }
    restored = _reload(counters)
    assert restored.as_storage() == stored
    assert restored.as_nested() == counters.as_nested()


def test_counters_from_storage_empty() -> None:
    """A document without counters gives empty counters."""
    counters, damage = _load({})
    assert damage == []
    assert counters.days == ()
    assert counters.totals == {}
    assert counters.rejected == {}
    assert counters.weeks == {}


@pytest.mark.parametrize(
    ("columns", "row", "expected"),
    [
        (
            ["app_start/deployment_mode=raspberry_pi"],
            [3],
            {"app_start/deployment_mode=pi": 3},
        ),
        (
            ["app_start/deployment_mode=pi", "app_start/deployment_mode=raspberry_pi"],
            [1, 2],
            {"app_start/deployment_mode=pi": 3},
        ),
        (
            ["error_occurred/error_type=JohnSmithError"],
            [2],
            {"error_occurred/error_type=other": 2},
        ),
        (
            [
                "error_occurred/error_type=JaneDoeError",
                "error_occurred/error_type=JohnSmithError",
                "error_occurred/error_type=other",
            ],
            [2, 3, 4],
            {"error_occurred/error_type=other": 9},
        ),
        (
            [f"error_occurred/error_type={word}" for word in ERROR_SHAPED],
            [1] * len(ERROR_SHAPED),
            {"error_occurred/error_type=other": len(ERROR_SHAPED)},
        ),
        (
            ["error_occurred/error_type=timeouterror"],
            [1],
            {"error_occurred/error_type=TimeoutError": 1},
        ),
        (
            ["app_start/app_version=2.42.0-3-g1a2b3c4", "app_start/app_version=2.42.0"],
            [1, 1],
            {"app_start/app_version=2.42.0": 2},
        ),
        (
            ["app_start/app_version=1a2b3c4", "app_start/app_version=other"],
            [1, 2],
            {"app_start/app_version=unknown": 1, "app_start/app_version=other": 2},
        ),
        (
            ["app_start/library_enabled=true", "app_start/timelapse_enabled=false"],
            [1, 2],
            {
                "app_start/library_enabled=true": 1,
                "app_start/timelapse_enabled=false": 2,
            },
        ),
        (
            ["job_completed/duration_minutes=1-3H"],
            [1],
            {"job_completed/duration_minutes=1-3h": 1},
        ),
        (
            [
                "job_completed/duration_minutes=75",
                "job_completed/printer_type=teleporter",
                "job_completed/file_name=benchy.3mf",
                "job_completed/printer_type",
                "job_completed/",
                "job_created/app_version=other",
                "app_start/library_enabled=yes",
                "teleport",
                "teleport/printer_type=bambu_lab",
                "@other",
                "",
                5,
                None,
                ["job_completed"],
            ],
            [1] * 14,
            {},
        ),
        (
            [UPTIME_COLUMN, "job_completed"],
            [7, 1],
            {UPTIME_COLUMN: 7, "job_completed": 1},
        ),
        (
            ["@uptime_hours", "job_completed"],
            [7, 1],
            {UPTIME_COLUMN: 420, "job_completed": 1},
        ),
    ],
)
def test_counters_from_storage_recleans_names(
    columns: list[Any], row: list[int], expected: dict[str, int]
) -> None:
    """Stored names are checked against today's allowlist: renamed, merged or dropped."""
    restored, _ = _load({"columns": columns, "days": {DAY: row}})
    stored = restored.as_storage()
    assert (
        dict(zip(stored["columns"], _ints(stored["days"][DAY]), strict=True))
        == expected
    )
    assert restored.days == (DAY,)


ALL_VALUE_COLUMNS = [
    f"{event_type}/{key}={value}"
    for event_type, fields in ALLOWLIST.items()
    for key, field in fields.items()
    for value in (*field.values, "2.42.0", OTHER, "JohnSmithError", *ERROR_TYPES[:5])
]


@settings(max_examples=80, deadline=None)
@given(
    columns=st.lists(
        st.sampled_from([*EVENT_TYPES, UPTIME_COLUMN, *ALL_VALUE_COLUMNS])
        | st.text(max_size=30),
        max_size=20,
    ),
    data=st.data(),
)
def test_counters_from_storage_property_recleans(
    columns: list[str], data: st.DataObject
) -> None:
    """Whatever names are stored, only allowlisted ones survive and a reload changes nothing more."""
    row = data.draw(st.lists(st.integers(0, 10**12), max_size=len(columns)))
    restored, _ = _load({"columns": columns, "days": {DAY: row}})
    stored = restored.as_storage()
    assert all(map(_allowed, stored["columns"]))
    # Merging keeps counts, dropping loses them; nothing is ever added.
    assert sum(_ints(stored["days"].get(DAY, ""))) <= sum(row)
    assert _reload(restored).as_storage() == stored


def _allowed(name: str) -> bool:
    """Whether a counter name is one today's allowlist writes."""
    if name == UPTIME_COLUMN or name in EVENT_TYPES:
        return True
    event_type, _, rest = name.partition("/")
    key, _, value = rest.partition("=")
    return clean_value(event_type, key, value) == value or (
        key == "app_version" and value == OTHER
    )


COLUMNS = [UPTIME_COLUMN, "job_completed", "job_completed/printer_type=bambu_lab"]
ROWS = {DAY: "60,2,1", NEXT_DAY: "30,1,1"}
VALID: dict[str, Any] = {
    "columns": COLUMNS,
    "days": ROWS,
    "rejected": {"unknown_key": 1},
    "totals": {"job_completed": 3},
    "weeks": {WEEK: {"job_completed": 3}},
}
DELETE = object()  # a change that removes the key
ROW = ["counters: day row"]
VALUE = ["counters: counter value"]
WEEK_DAMAGE = ["counters: week"]


def test_counters_valid_document_is_what_as_storage_writes() -> None:
    """The document the damage tests start from is an undamaged one."""
    counters = UsageCounters()
    for day, jobs, minutes in ((DAY, 2, 60), (NEXT_DAY, 1, 30)):
        for index in range(jobs):
            kind = {"printer_type": "bambu_lab"} if index == 0 else {}
            _record(counters, day, "job_completed", **kind)
        counters.add_uptime(day, minutes)
    counters.count_rejections([Rejection(RejectReason.UNKNOWN_KEY)])
    assert counters.as_storage() == VALID
    assert _reload(counters).as_storage() == VALID


@pytest.mark.parametrize(
    "key",
    [
        "9999-99-99",
        "\uff12\uff10\uff12\uff16-\uff11\uff11-\uff11\uff19",
        "2026-02-30",
        "20261119",
        "2026-W48-1",
        "2026-11-2",
        "2026-11-19T00:00:00",
        " 2026-11-19",
        "0000-01-01",
        "9999-12-31",
        "2026-12-02",
        "",
    ],
)
def test_counters_from_storage_bad_day_key(key: str) -> None:
    """Issue 15: a day key that is no ASCII calendar day up to tomorrow drops that row alone."""
    restored, damage = _load(VALID | {"days": ROWS | {key: "1,1,1"}})
    assert restored.as_storage() == VALID
    assert damage == ROW
    kept, damage = _load(VALID | {"days": ROWS | {"2026-12-01": "1,1,1"}})
    assert kept.days == (DAY, NEXT_DAY, "2026-12-01")
    assert damage == []


@pytest.mark.parametrize(
    ("change", "kept", "damage"),
    [
        (
            {"days": ROWS | {DAY: {"job_completed": 1}}},
            {"days": {NEXT_DAY: "30,1,1"}},
            ROW,
        ),
        ({"days": ROWS | {DAY: 5}}, {"days": {NEXT_DAY: "30,1,1"}}, ROW),
        ({"days": ROWS | {DAY: None}}, {"days": {NEXT_DAY: "30,1,1"}}, ROW),
        ({"days": ROWS | {DAY: "1," * 100_001}}, {"days": {NEXT_DAY: "30,1,1"}}, ROW),
        ({"days": ROWS | {DAY: "60,x,1"}}, {"days": ROWS | {DAY: "60,0,1"}}, VALUE),
        ({"days": ROWS | {DAY: "60,-1,1"}}, {"days": ROWS | {DAY: "60,0,1"}}, VALUE),
        ({"days": ROWS | {DAY: "60,,1"}}, {"days": ROWS | {DAY: "60,0,1"}}, VALUE),
        (
            {"days": ROWS | {DAY: "60,\u0663,1"}},
            {"days": ROWS | {DAY: "60,0,1"}},
            VALUE,
        ),
        (
            {"days": ROWS | {DAY: "60,1234567890123456,1"}},
            {"days": ROWS | {DAY: "60,0,1"}},
            VALUE,
        ),
        (
            {"days": ROWS | {DAY: "60,999999999999999,1"}},
            {"days": ROWS | {DAY: "60,999999999999999,1"}},
            [],
        ),
        ({"days": ROWS | {DAY: "60,2,1,7"}}, {}, VALUE),
        ({"days": ROWS | {DAY: "60,2,1,0,0"}}, {}, []),
        ({"days": ROWS | {DAY: [60, 2, 1]}}, {}, []),
        (
            {"days": ROWS | {DAY: [60, -1, True]}},
            {"days": ROWS | {DAY: "60"}},
            ["counters: counter value (2)"],
        ),
        (
            {"days": ROWS | {DAY: [60, "2", 1.0, 10**15]}},
            {"days": ROWS | {DAY: "60"}},
            ["counters: counter value (3)"],
        ),
        ({"days": ROWS | {DAY: "1441,2,1"}}, {"days": ROWS | {DAY: "0,2,1"}}, VALUE),
        ({"days": ROWS | {DAY: "1440,2,1"}}, {"days": ROWS | {DAY: "1440,2,1"}}, []),
        ({"days": [[1]]}, {"columns": [], "days": {}}, ["counters: day rows"]),
        ({"days": DELETE}, {"columns": [], "days": {}}, []),
        (
            {"columns": "job_completed"},
            {"columns": [], "days": {DAY: "", NEXT_DAY: ""}},
            ["counters: counter names", "counters: counter value (6)"],
        ),
        (
            {"columns": [UPTIME_COLUMN, 5, COLUMNS[2]]},
            {
                "columns": [UPTIME_COLUMN, COLUMNS[2]],
                "days": {DAY: "60,1", NEXT_DAY: "30,1"},
            },
            ["counters: counter name"],
        ),
        ({"totals": {"job_completed": 3, "teleport": 1}}, {}, ["counters: total"]),
        ({"totals": {"job_completed": "3"}}, {"totals": {}}, ["counters: total"]),
        ({"totals": {"job_completed": 10**15}}, {"totals": {}}, ["counters: total"]),
        ({"totals": 1}, {"totals": {}}, ["counters: total"]),
        ({"totals": DELETE}, {"totals": {}}, []),
        (
            {"rejected": {"unknown_key": 1, "sensitive_value": 1}},
            {},
            ["counters: rejection count"],
        ),
        (
            {"rejected": ["unknown_key"]},
            {"rejected": {}},
            ["counters: rejection count"],
        ),
        ({"weeks": {WEEK: {"job_completed": 3}, "2026-48": {}}}, {}, WEEK_DAMAGE),
        ({"weeks": {WEEK: {"job_completed": 3}, "2026-W54": {}}}, {}, WEEK_DAMAGE),
        ({"weeks": {WEEK: {"job_completed": 3}, "2025-W53": {}}}, {}, WEEK_DAMAGE),
        ({"weeks": {WEEK: {"job_completed": 3}, "2026-W50": {}}}, {}, WEEK_DAMAGE),
        (
            {"weeks": {WEEK: {"job_completed": 3}, "2026-W49": {}}},
            {"weeks": {WEEK: {"job_completed": 3}, "2026-W49": {}}},
            [],
        ),
        ({"weeks": {WEEK: []}}, {"weeks": {WEEK: {}}}, WEEK_DAMAGE),
        (
            {"weeks": {WEEK: {"job_completed": -1, "teleport": 1}}},
            {"weeks": {WEEK: {}}},
            ["counters: week count (2)"],
        ),
        ({"weeks": []}, {"weeks": {}}, WEEK_DAMAGE),
        ({"extra": {"a": [1, {"b": None}]}, "uptime_hours": 5}, {}, []),
    ],
)
def test_counters_from_storage_drops_each_damaged_unit_alone(
    change: dict[str, Any], kept: dict[str, Any], damage: list[str]
) -> None:
    """A bad row, value, name, total, rejection or week drops only itself, named in the damage."""
    data = copy.deepcopy(VALID)
    for key, value in change.items():
        if value is DELETE:
            del data[key]
        else:
            data[key] = value
    restored, found = _load(data)
    assert restored.as_storage() == VALID | kept
    assert found == damage


def test_counters_from_storage_huge_uptime_keeps_every_other_counter() -> None:
    """Issue 15: after `uptime_seconds: 1e22` gave a 19-digit row value, all other counters are kept."""
    counters = UsageCounters()
    for _ in range(5):
        _record(counters, DAY, "job_completed", printer_type="bambu_lab")
    _record(counters, NEXT_DAY, "job_created", printer_type="bambu_lab")
    counters.add_uptime(NEXT_DAY, 30)
    stored = json.loads(json.dumps(counters.as_storage()))
    assert stored["columns"][0] == UPTIME_COLUMN
    assert stored["days"][DAY].startswith("0,")
    stored["days"][DAY] = "2777777777777777664" + stored["days"][DAY][1:]
    restored, damage = _load(stored)
    assert damage == VALUE
    assert restored.totals == {"job_completed": 5, "job_created": 1}
    assert restored.as_nested() == counters.as_nested()
    assert restored.tally(START, START + timedelta(days=2)).uptime_minutes == 30
    assert restored.weeks == counters.weeks


@pytest.mark.parametrize(
    ("columns", "row", "minutes", "damage"),
    [
        (["@uptime_hours"], "7", 420, []),
        (["@uptime_hours", "job_created"], "0,1", 0, []),
        # Before 0.3 each unload rounded half an hour up: more than 24 h is a day.
        (["@uptime_hours"], "25", MINUTES_PER_DAY, []),
        (["@uptime_hours"], "999999999999999", MINUTES_PER_DAY, []),
        (["@uptime_hours", UPTIME_COLUMN], "2,30", 150, []),
        (["@uptime_hours", UPTIME_COLUMN], "20,300", MINUTES_PER_DAY, []),
        ([UPTIME_COLUMN], "1440", MINUTES_PER_DAY, []),
        # No version writes more than a day's minutes: that value is damage.
        ([UPTIME_COLUMN], "1441", 0, VALUE),
        (["@uptime_hours", UPTIME_COLUMN], "1,1441", 60, VALUE),
    ],
)
def test_counters_from_storage_uptime_minutes(
    columns: list[str], row: str, minutes: int, damage: list[str]
) -> None:
    """The legacy "@uptime_hours" column is read as 60 minutes an hour; a day holds at most 1440."""
    restored, found = _load({"columns": columns, "days": {DAY: row}})
    assert found == damage
    assert restored.tally(START, START + timedelta(days=1)).uptime_minutes == minutes
    stored = restored.as_storage()
    assert "@uptime_hours" not in stored["columns"]
    assert (
        UPTIME_COLUMN not in stored["columns"]
        or stored["days"][DAY].startswith(f"{minutes},")
        or stored["days"][DAY] == str(minutes)
    )
    assert _reload(restored).as_storage() == stored


@pytest.mark.parametrize("data", [None, [], [VALID], "counters", 1, 1.5, True])
def test_counters_from_storage_refuses_non_objects(data: object) -> None:
    """Only a section that is not an object raises (storage then notes the whole section)."""
    with pytest.raises(ValueError, match="not an object"):
        UsageCounters.from_storage(data, reading())


def test_counters_from_storage_drops_bad_entries() -> None:
    """Unknown reasons, event types and bad counts in totals, rejections and weeks are dropped and named."""
    restored, damage = _load(
        VALID
        | {
            "rejected": {
                "unknown_key": 2,
                "sensitive_value": 1,
                "invalid_value": -1,
                "too_many_keys": True,
                INTERNAL_ERROR: 3,
            },
            "totals": {"job_completed": 4, "teleport": 1, "job_created": "5"},
            "weeks": {
                "2026-W44": {"job_created": 1},
                "2026-W45": {"job_completed": 2, "teleport": 1, "job_created": -1},
                "2026-W46": {"job_failed": 1.0, "app_start": 3},
            },
        }
    )
    assert damage == [
        "counters: rejection count (3)",
        "counters: total (2)",
        "counters: week count (3)",
    ]
    assert restored.rejected == {"unknown_key": 2, INTERNAL_ERROR: 3}
    assert restored.totals == {"job_completed": 4}
    assert restored.weeks == {
        "2026-W45": {"job_completed": 2},
        "2026-W46": {"app_start": 3},
    }
    restored.record(DAY, CleanEvent("job_created", {}), "2026-W46")
    assert restored.totals == {"job_completed": 4, "job_created": 1}
    assert restored.week_counts("2026-W46") == {"app_start": 3, "job_created": 1}


def test_counters_from_storage_zero_and_short_rows() -> None:
    """Zero counts are not kept and a short row leaves the rest of the columns at zero."""
    restored, damage = _load(
        {"columns": ["job_created", "job_completed"], "days": {DAY: [0], NEXT_DAY: []}}
    )
    assert damage == []
    assert restored.days == (DAY, NEXT_DAY)
    assert restored.event_count() == 0
    assert restored.column_count() == 0
    assert restored.as_nested() == {DAY: {}, NEXT_DAY: {}}


def test_counters_event_and_column_count() -> None:
    """Events count event types only; columns count every distinct counter name."""
    counters = UsageCounters()
    _record(counters, DAY, "job_completed", printer_type="bambu_lab")
    _record(counters, NEXT_DAY, "job_completed", printer_type="bambu_lab")
    _record(counters, NEXT_DAY, "feature_enabled", feature="camera")
    counters.add_uptime(NEXT_DAY, 4)
    assert counters.event_count() == 3
    assert counters.column_count() == 5


def _clean(event_type: str, metadata: dict[str, object]) -> CleanEvent:
    """What the bus path records for some input."""
    event, _ = clean_event(event_type, metadata)
    assert event is not None
    return event


METADATA_VALUES = st.sampled_from(
    [
        "bambu_lab",
        "octoprint",
        "Docker",
        "raspberry_pi",
        "camera",
        "mqtt",
        "TimeoutError",
        "JohnSmithError",
        "PRINTER_NOT_FOUND",
        "v2.42.0-dirty",
        "1a2b3c4",
        True,
        False,
        0,
        75,
        5_000_000,
        200,
    ]
)
type Operation = tuple[str, int, Any, dict[str, object]]

OPERATIONS: st.SearchStrategy[list[Operation]] = st.lists(
    st.one_of(
        st.tuples(
            st.just("record"),
            st.integers(0, 20),
            st.sampled_from(EVENT_TYPES),
            st.dictionaries(
                st.sampled_from(sorted({k for f in ALLOWLIST.values() for k in f})),
                METADATA_VALUES,
                max_size=4,
            ),
        ),
        st.tuples(
            st.just("version"), st.integers(0, 20), st.integers(0, 70), st.just({})
        ),
        st.tuples(
            st.just("uptime"), st.integers(0, 20), st.integers(-2, 500), st.just({})
        ),
        st.tuples(
            st.just("reject"),
            st.integers(0, 20),
            st.sampled_from(list(RejectReason)),
            st.just({}),
        ),
        st.tuples(st.just("prune"), st.integers(0, 20), st.none(), st.just({})),
    ),
    max_size=40,
)


def _apply(counters: UsageCounters, operation: Operation) -> None:
    """Run one drawn operation."""
    kind, offset, argument, metadata = operation
    day = START + timedelta(days=offset)
    if kind == "record":
        counters.record(day.isoformat(), _clean(argument, metadata), week_key(day))
    elif kind == "version":
        version = f"2.{argument}.0"
        event = _clean("app_start", {"app_version": version, "library_enabled": True})
        counters.record(day.isoformat(), event, week_key(day))
    elif kind == "uptime":
        counters.add_uptime(day.isoformat(), argument)
    elif kind == "reject":
        counters.count_rejections([Rejection(argument)])
        counters.count_internal_error()
    else:
        counters.prune(day)


@settings(max_examples=80, deadline=None)
@given(operations=OPERATIONS, versions=st.integers(0, MAX_CAPPED_VALUES + 10))
def test_counters_storage_property_round_trip(
    operations: list[Operation], versions: int
) -> None:
    """Whatever was recorded, a reload gives the same counters, and they keep behaving alike."""
    counters = UsageCounters()
    for index in range(versions):
        _apply(counters, ("version", index % 3, index, {}))
    for operation in operations:
        _apply(counters, operation)
    restored = _reload(counters)
    assert restored.as_storage() == counters.as_storage()
    assert restored.as_nested() == counters.as_nested()
    assert restored.days == counters.days
    assert restored.event_count() == counters.event_count()
    assert restored.column_count() == counters.column_count()
    end = START + timedelta(days=22)
    assert restored.tally(START, end) == counters.tally(START, end)
    for week in counters.weeks:
        assert restored.week_counts(week) == counters.week_counts(week)
    for operation in [*operations[:5], ("version", 21, 99, {}), ("version", 21, 1, {})]:
        _apply(counters, operation)
        _apply(restored, operation)
    assert restored.as_storage() == counters.as_storage()


def test_counters_as_nested_unknown_default() -> None:
    """The export form keeps each metadata key's values under its event type."""
    counters = UsageCounters()
    _record(counters, DAY, "app_start", app_version=UNKNOWN, deployment_mode="pi")
    _record(counters, DAY, "app_start", app_version="2.42.0", deployment_mode="pi")
    assert counters.as_nested() == {
        DAY: {
            "app_start": {
                "count": 2,
                "metadata": {
                    "app_version": {"2.42.0": 1, UNKNOWN: 1},
                    "deployment_mode": {"pi": 2},
                },
            }
        }
    }


# --- any mutation of a valid document ---------------------------------------------------

HOSTILE_STRINGS = [
    "9999-99-99",
    "\uff12\uff10\uff12\uff16-\uff11\uff11-\uff11\uff19",
    "2026-02-30",
    "20261119",
    "2026-W48-1",
    "2026-11-19",
    "2026-12-02",
    "2026-W48",
    "2026-W54",
    "1,2,3",
    "1,,x",
    "2777777777777777664,5",
    "1" * 16,
    "9" * 15,
    "-1",
    "1441",
    "job_completed",
    "job_completed/printer_type=bambu_lab",
    "error_occurred/error_type=JohnSmithError",
    "app_start/app_version=19.07.1985",
    "@uptime_hours",
    UPTIME_COLUMN,
    "unknown_key",
    "\u0000\ud7ff\U0001f600",
    "A" * 5000,
]
HOSTILE_TEXT = st.text(max_size=20) | st.sampled_from(HOSTILE_STRINGS)
HOSTILE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 2000)
    | st.integers()
    | st.floats()
    | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(HOSTILE_TEXT, inner, max_size=4),
    max_leaves=12,
)
SECTIONS = ("columns", "days", "rejected", "totals", "weeks")
type Mutation = tuple[str, Any, Any]
MUTATIONS: st.SearchStrategy[list[Mutation]] = st.lists(
    st.one_of(
        st.tuples(st.just("row"), st.integers(0, 50), HOSTILE),
        st.tuples(st.just("rename"), st.integers(0, 50), HOSTILE_TEXT),
        st.tuples(st.just("add"), HOSTILE_TEXT, HOSTILE),
        st.tuples(st.just("column"), st.integers(0, 50), HOSTILE),
        st.tuples(st.just("append"), st.none(), HOSTILE),
        st.tuples(st.just("section"), st.sampled_from([*SECTIONS, "extra"]), HOSTILE),
        st.tuples(st.just("delete"), st.sampled_from(SECTIONS), st.none()),
        st.tuples(
            st.just("entry"),
            st.sampled_from(["rejected", "totals", "weeks"]),
            st.tuples(HOSTILE_TEXT, HOSTILE),
        ),
    ),
    max_size=6,
)
DAMAGE_LINE = re.compile(
    r"counters: (counter names?|day rows?|counter value|rejection count|total"
    r"|week|week count)( \(\d+\))?"
)


class Mutated:
    """A valid document with mutations applied, and which of its units they touched."""

    def __init__(self, document: dict[str, Any], mutations: list[Mutation]) -> None:
        """Apply the mutations in order."""
        self.data = copy.deepcopy(document)
        self.days: set[str] = set()  # original rows changed, renamed or overwritten
        self.columns: set[int] = set()  # column positions replaced
        self.sections: set[str] = set()  # sections replaced or removed
        self.entries: dict[str, set[str]] = {"rejected": set(), "totals": set()}
        self.weeks = False
        originals = set(document["days"])
        for kind, where, value in mutations:
            days, columns = self.data.get("days"), self.data.get("columns")
            if kind in ("row", "rename") and isinstance(days, dict) and days:
                day = sorted(days)[where % len(days)]
                self.days.add(day)
                if kind == "rename":
                    self.days.add(value)
                    days[value] = days.pop(day)
                else:
                    days[day] = value
            elif kind == "add" and isinstance(days, dict):
                self.days.add(where)
                days[where] = value
            elif kind == "column" and isinstance(columns, list) and columns:
                self.columns.add(where % len(columns))
                columns[where % len(columns)] = value
            elif kind == "append" and isinstance(columns, list):
                columns.append(value)
            elif kind in ("section", "delete"):
                self.sections.add(where)
                if kind == "delete":
                    self.data.pop(where, None)
                else:
                    self.data[where] = value
            elif kind == "entry" and isinstance(self.data.get(where), dict):
                key, entry = value
                self.data[where][key] = entry
                if where == "weeks":
                    self.weeks = True
                else:
                    self.entries[where].add(key)
        self.days &= originals

    def undamaged_days(self, document: dict[str, Any]) -> list[str]:
        """The original rows no mutation reached."""
        if self.sections & {"columns", "days"}:
            return []
        return [
            day
            for day, row in document["days"].items()
            if day not in self.days
            and not any(p in self.columns for p, v in enumerate(_ints(row)) if v)
        ]


BASE: st.SearchStrategy[list[Operation]] = st.lists(
    st.one_of(
        st.tuples(
            st.just("record"),
            st.integers(0, 28),
            st.sampled_from(EVENT_TYPES),
            st.dictionaries(
                st.sampled_from(sorted({k for f in ALLOWLIST.values() for k in f})),
                METADATA_VALUES,
                max_size=3,
            ),
        ),
        st.tuples(
            st.just("uptime"), st.integers(0, 28), st.integers(1, 1500), st.just({})
        ),
        st.tuples(
            st.just("reject"),
            st.integers(0, 28),
            st.sampled_from(list(RejectReason)),
            st.just({}),
        ),
    ),
    min_size=1,
    max_size=15,
)


@settings(max_examples=500, deadline=None)
@given(base=BASE, mutations=MUTATIONS)
def test_counters_from_storage_property_mutations(
    base: list[Operation], mutations: list[Mutation]
) -> None:
    """Issue 15: any mutation of a valid document never raises; undamaged units survive; names stay allowed."""
    original = UsageCounters()
    for operation in base:
        _apply(original, operation)
    document = json.loads(json.dumps(original.as_storage()))
    mutated = Mutated(document, mutations)
    restored, damage = _load(mutated.data)
    assert all(DAMAGE_LINE.fullmatch(line) for line in damage)
    nested, before = restored.as_nested(), original.as_nested()
    for day in mutated.undamaged_days(document):
        assert nested[day] == before[day]
    for section in ("rejected", "totals"):
        if section not in mutated.sections:
            for key, count in document[section].items():
                if key not in mutated.entries[section]:
                    assert getattr(restored, section)[key] == count
    if "weeks" not in mutated.sections and not mutated.weeks:
        assert restored.weeks == original.weeks
    stored = json.loads(json.dumps(restored.as_storage()))
    assert all(map(_allowed, stored["columns"]))
    assert all(date.fromisoformat(day) <= date(2026, 12, 1) for day in stored["days"])
    again, damage = _load(stored)
    assert damage == []
    assert again.as_storage() == stored
