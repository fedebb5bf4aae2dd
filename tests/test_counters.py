"""Tests for the per-day usage counters (no Home Assistant involved)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from custom_components.printernizer_stats.counters import (
    MAX_OPEN_VALUES,
    OTHER,
    UsageCounters,
    counter_key,
    split_counter_key,
    week_key,
)
from custom_components.printernizer_stats.privacy import (
    CleanEvent,
    Rejection,
    RejectReason,
)

DAY = "2026-11-02"
NEXT_DAY = "2026-11-03"


def _event(event_type: str, **metadata: str) -> CleanEvent:
    """A cleaned event as the privacy filter would produce it."""
    return CleanEvent(event_type, metadata)


@pytest.fixture
def counters() -> UsageCounters:
    """Counters with two days of data and some rejections."""
    counters = UsageCounters()
    counters.record(DAY, _event("job_completed", printer_type="bambu_lab"))
    counters.record(
        DAY,
        _event("job_completed", printer_type="prusa_core", duration_minutes="1-3h"),
    )
    counters.record(NEXT_DAY, _event("error_occurred", error_type="TimeoutError"))
    counters.count_rejections(
        [
            Rejection(RejectReason.UNKNOWN_KEY, "<unnamed key>"),
            Rejection(RejectReason.UNKNOWN_KEY, "note"),
            Rejection(RejectReason.SENSITIVE_VALUE, "printer_type"),
        ]
    )
    return counters


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("job_completed",), "job_completed"),
        (
            ("job_completed", "printer_type", "bambu_lab"),
            "job_completed/printer_type=bambu_lab",
        ),
        (
            ("file_downloaded", "size_bytes", "100MB+"),
            "file_downloaded/size_bytes=100MB+",
        ),
    ],
)
def test_counter_key_round_trip(args: tuple[str, ...], name: str) -> None:
    """Counter names are built and split back into their parts."""
    assert counter_key(*args) == name
    event_type, key, value = split_counter_key(name)
    assert (event_type, key, value)[: len(args)] == args
    if len(args) == 1:
        assert key is None and value is None


def test_counters_record(counters: UsageCounters) -> None:
    """An event increments its type and one counter per metadata value on its day."""
    assert counters.days[DAY] == {
        "job_completed": 2,
        "job_completed/printer_type=bambu_lab": 1,
        "job_completed/printer_type=prusa_core": 1,
        "job_completed/duration_minutes=1-3h": 1,
    }
    assert counters.days[NEXT_DAY] == {
        "error_occurred": 1,
        "error_occurred/error_type=TimeoutError": 1,
    }
    assert counters.totals == {"job_completed": 2, "error_occurred": 1}
    assert counters.first_day == DAY
    assert set(counters.by_date()) == {date(2026, 11, 2), date(2026, 11, 3)}


def test_counters_count_rejections(counters: UsageCounters) -> None:
    """Rejections are counted by reason only; the count of added ones is returned."""
    assert counters.rejected == {"unknown_key": 2, "sensitive_value": 1}
    added = counters.count_rejections([Rejection(RejectReason.INVALID_VALUE, "x")])
    assert added == 1
    assert counters.count_rejections([]) == 0
    assert counters.rejected["invalid_value"] == 1


@pytest.mark.parametrize("key", ["error_type", "app_version"])
def test_counters_open_values_capped(key: str) -> None:
    """Pattern-checked values beyond MAX_OPEN_VALUES distinct ones count as "other"."""
    counters = UsageCounters()
    event_type = "error_occurred" if key == "error_type" else "app_start"
    values = [f"Value{index}Error" for index in range(MAX_OPEN_VALUES + 5)]
    for value in values:
        counters.record(DAY, _event(event_type, **{key: value}))
    # A value seen before the cap was reached keeps its own counter.
    counters.record(DAY, _event(event_type, **{key: values[0]}))

    day = counters.days[DAY]
    kept = [name for name in day if name.startswith(f"{event_type}/{key}=")]
    assert len(kept) == MAX_OPEN_VALUES + 1
    assert day[counter_key(event_type, key, OTHER)] == 5
    assert day[counter_key(event_type, key, values[0])] == 2
    assert day[event_type] == MAX_OPEN_VALUES + 6


def test_counters_vocabulary_values_not_capped() -> None:
    """Keys with a fixed vocabulary are never folded into "other"."""
    counters = UsageCounters()
    for index in range(MAX_OPEN_VALUES + 5):
        counters.record(DAY, _event("job_completed", printer_type=f"type{index}"))
    assert counter_key("job_completed", "printer_type", OTHER) not in counters.days[DAY]


def test_counters_prune(counters: UsageCounters) -> None:
    """Days before the oldest kept day go; totals and rejections stay."""
    assert counters.prune(date(2026, 11, 2)) == 0
    assert counters.prune(date(2026, 11, 3)) == 1
    assert list(counters.days) == [NEXT_DAY]
    assert counters.totals == {"job_completed": 2, "error_occurred": 1}
    assert counters.rejected == {"unknown_key": 2, "sensitive_value": 1}


def test_counters_prune_frees_open_values() -> None:
    """Once the days holding open values are pruned, new values get their own counter."""
    counters = UsageCounters()
    for index in range(MAX_OPEN_VALUES):
        counters.record(DAY, _event("error_occurred", error_type=f"Old{index}Error"))
    counters.record(NEXT_DAY, _event("error_occurred", error_type="NewError"))
    assert counter_key("error_occurred", "error_type", OTHER) in counters.days[NEXT_DAY]

    counters.prune(date(2026, 11, 3))
    counters.record(NEXT_DAY, _event("error_occurred", error_type="NewError"))
    assert (
        counters.days[NEXT_DAY][counter_key("error_occurred", "error_type", "NewError")]
        == 1
    )


def test_counters_clear(counters: UsageCounters) -> None:
    """clear() forgets days, totals and rejections."""
    counters.clear()
    assert counters.days == {}
    assert counters.totals == {}
    assert counters.rejected == {}
    assert counters.first_day is None


def test_counters_storage_round_trip(counters: UsageCounters) -> None:
    """The columnar form shares one column list and restores the same counters."""
    stored = counters.as_storage()
    assert stored["columns"] == sorted(stored["columns"])
    assert set(stored["columns"]) == {
        name for day in counters.days.values() for name in day
    }
    # One row of ints per day, trailing zeros trimmed.
    for row in stored["days"].values():
        assert all(isinstance(count, int) for count in row)
        assert row[-1] != 0
    restored = UsageCounters.from_storage(stored)
    assert restored.days == counters.days
    assert restored.totals == counters.totals
    assert restored.rejected == counters.rejected
    assert restored.as_storage() == stored


def test_counters_from_storage_rebuilds_open_values() -> None:
    """Open values in use are known again after a restore, so the cap still holds."""
    counters = UsageCounters()
    for index in range(MAX_OPEN_VALUES):
        counters.record(DAY, _event("error_occurred", error_type=f"Seen{index}Error"))
    counters.record(DAY, _event("error_occurred", error_type="OverflowError"))
    restored = UsageCounters.from_storage(counters.as_storage())
    restored.record(NEXT_DAY, _event("error_occurred", error_type="AnotherError"))
    assert restored.days[NEXT_DAY] == {
        "error_occurred": 1,
        counter_key("error_occurred", "error_type", OTHER): 1,
    }


def test_counters_from_storage_empty() -> None:
    """A document without counters gives empty counters."""
    counters = UsageCounters.from_storage({})
    assert counters.days == {}
    assert counters.totals == {}
    assert counters.rejected == {}


VALID: dict[str, Any] = {
    "columns": ["job_completed"],
    "days": {DAY: [1]},
    "rejected": {"unknown_key": 1},
    "totals": {"job_completed": 1},
}


@pytest.mark.parametrize(
    "changes",
    [
        {"columns": "job_completed"},
        {"columns": ["job_completed", 5]},
        {"days": [[1]]},
        {"rejected": ["unknown_key"]},
        {"totals": 1},
        {"days": {"2026-11-2": [1]}},
        {"days": {"yesterday": [1]}},
        {"days": {DAY: {"job_completed": 1}}},
        {"days": {DAY: [1, 2]}},
        {"days": {DAY: [-1]}},
        {"days": {DAY: [True]}},
        {"days": {DAY: [1.5]}},
        {"days": {DAY: ["1"]}},
        {"days": {DAY: [None]}},
        {"rejected": {"unknown_key": -1}},
        {"rejected": {"unknown_key": "1"}},
        {"rejected": {5: 1}},
        {"totals": {"job_completed": False}},
        {"totals": {"job_completed": 2.0}},
        {"totals": {None: 1}},
    ],
)
def test_counters_from_storage_malformed(changes: dict[str, Any]) -> None:
    """Every malformed part of the columnar form is refused with ValueError."""
    UsageCounters.from_storage(VALID)
    with pytest.raises(ValueError):
        UsageCounters.from_storage(VALID | changes)


def test_counters_as_nested(counters: UsageCounters) -> None:
    """The export form nests event types and metadata values under each day."""
    assert counters.as_nested() == {
        DAY: {
            "job_completed": {
                "count": 2,
                "metadata": {
                    "duration_minutes": {"1-3h": 1},
                    "printer_type": {"bambu_lab": 1, "prusa_core": 1},
                },
            }
        },
        NEXT_DAY: {
            "error_occurred": {
                "count": 1,
                "metadata": {"error_type": {"TimeoutError": 1}},
            }
        },
    }


def test_counters_from_nested(counters: UsageCounters) -> None:
    """The nested form converts back, with totals summed over its days."""
    restored = UsageCounters.from_nested(counters.as_nested(), counters.rejected)
    assert restored.days == counters.days
    assert restored.totals == counters.totals
    assert restored.rejected == counters.rejected


def test_counters_from_nested_without_metadata() -> None:
    """An entry may omit its metadata."""
    restored = UsageCounters.from_nested({DAY: {"app_start": {"count": 4}}}, {})
    assert restored.days == {DAY: {"app_start": 4}}
    assert restored.totals == {"app_start": 4}


@pytest.mark.parametrize(
    ("days", "rejected"),
    [
        ("garbage", {}),
        ({}, ["unknown_key"]),
        ({DAY: "garbage"}, {}),
        ({DAY: {"job_completed": 3}}, {}),
        ({DAY: {"job_completed": {}}}, {}),
        ({DAY: {"job_completed": {"count": "3"}}}, {}),
        ({DAY: {"job_completed": {"count": -3}}}, {}),
        ({DAY: {"job/completed": {"count": 3}}}, {}),
        ({DAY: {"job_completed": {"count": 3, "metadata": []}}}, {}),
        ({DAY: {"job_completed": {"count": 3, "metadata": {"printer_type": 2}}}}, {}),
        (
            {
                DAY: {
                    "job_completed": {
                        "count": 3,
                        "metadata": {"printer_type": {"x": "2"}},
                    }
                }
            },
            {},
        ),
        ({"not a day": {"job_completed": {"count": 3}}}, {}),
        ({DAY: {"job_completed": {"count": 3}}}, {"unknown_key": "2"}),
    ],
)
def test_counters_from_nested_malformed(days: Any, rejected: Any) -> None:
    """Every malformed part of the nested form is refused with ValueError."""
    with pytest.raises(ValueError):
        UsageCounters.from_nested(days, rejected)


def test_weeks_keep_current_and_previous_only() -> None:
    """Week buckets never grow beyond two weeks."""
    counters = UsageCounters()
    event = CleanEvent("job_completed", {})
    for week in ("2026-W44", "2026-W45", "2026-W46"):
        counters.record("2026-11-09", event, week)
    assert sorted(counters.weeks) == ["2026-W45", "2026-W46"]
    assert counters.week_count("2026-W46", "job_completed") == 1
    assert counters.week_count("2026-W01", "job_completed") == 0
    restored = UsageCounters.from_storage(counters.as_storage())
    assert restored.weeks == counters.weeks


@pytest.mark.parametrize(
    "weeks",
    [[], {"2026-48": {}}, {"2026-W48": []}, {"2026-W48": {"job_completed": -1}}],
)
def test_from_storage_rejects_malformed_weeks(weeks: object) -> None:
    """Malformed week buckets make the file unreadable (and it is set aside)."""
    with pytest.raises(ValueError):
        UsageCounters.from_storage({"weeks": weeks})


def test_week_key_is_iso_week() -> None:
    """ISO weeks: the last days of a year can belong to week 1 of the next."""
    assert week_key(date(2026, 11, 27)) == "2026-W48"
    assert week_key(date(2026, 12, 31)) == "2026-W53"
    assert week_key(date(2024, 12, 30)) == "2025-W01"
