"""Tests for the weekly report: the real service's schema, the builder, its mirror and the country."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
import importlib.resources
import json
from pathlib import Path
from random import Random
import re
from typing import Any, Final
import uuid
import zoneinfo

from hypothesis import example, given, settings, strategies as st
from jsonschema import Draft202012Validator
import pytest
from syrupy.assertion import SnapshotAssertion

from custom_components.printernizer_stats import country, report
from custom_components.printernizer_stats.counters import (
    UPTIME_COLUMN,
    Tally,
    UsageCounters,
    week_key,
)
from custom_components.printernizer_stats.country import country_code
from custom_components.printernizer_stats.error_types import ERROR_TYPES
from custom_components.printernizer_stats.errors import ContractError
from custom_components.printernizer_stats.privacy import (
    ALLOWLIST,
    CleanEvent,
    clean_app_version,
    clean_event,
)
from custom_components.printernizer_stats.report import (
    MAX_COUNT,
    MAX_ERROR_TYPES,
    MAX_REPORT_BYTES,
    SCHEMA_VERSION,
    InstallationFacts,
    Period,
    Report,
    build_report,
    check_report,
    midnight,
    serialize_report,
    verify_report,
)
from custom_components.printernizer_stats.stored import Reading
from custom_components.printernizer_stats.vocabulary import (
    COUNTRY_CODES,
    DEPLOYMENT_MODES,
    EVENT_TYPES,
    FEATURES,
    OTHER,
    PLATFORMS,
    PRINTER_TYPES,
    UNKNOWN,
    UNKNOWN_COUNTRY,
)

from .conftest import load_schema
from .hostile_corpus import CANARY, ERROR_SHAPED, WORD_CANARY

SCHEMA: Final = load_schema()
FORMAT_CHECKER: Final = Draft202012Validator.FORMAT_CHECKER
VALIDATOR: Final = Draft202012Validator(SCHEMA, format_checker=FORMAT_CHECKER)
INSTALLATION_ID = "0b6d1c2e-3f4a-4b5c-8d6e-7f8091a2b3c4"
PERIOD = Period(date(2026, 11, 16), date(2026, 11, 23))
TODAY = date(2026, 11, 23)
MIDNIGHT_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T00:00:00\+00:00")
RELEASE_RE = re.compile(
    r"[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,4})?((a|b|rc|\.dev)[0-9]{1,3})?"
)
ERROR_WORDS = frozenset(ERROR_TYPES)
# The worst case must stay well below the 10 KiB limit; this bound is recorded
# so a growing report shows up in review.
WORST_CASE_BOUND = 2_000
PERSON_SHAPED = [
    "JohnSmithError",
    "max_mustermann_failed",
    "alice_at_example_com_error",
    "DrAnnaSchmidtHamburgRefused",
    "JaneDoeError",
]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Pure unit tests: no Home Assistant instance needed."""


def _schema_names(node: object) -> set[str]:
    """Every property name the schema defines, at any depth."""
    names: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                names |= set(value)
            names |= _schema_names(value)
    elif isinstance(node, list):
        for value in node:
            names |= _schema_names(value)
    return names


SCHEMA_NAMES: Final = _schema_names(SCHEMA)


def _facts(**overrides: Any) -> InstallationFacts:
    """Installation facts as the integration gathers them."""
    values: dict[str, Any] = {
        "installation_id": INSTALLATION_ID,
        "first_seen": date(2026, 10, 1),
        "app_version": "2.42.0",
        "platform": "linux",
        "deployment_mode": "homeassistant",
        "country_code": "DE",
    } | overrides
    return InstallationFacts(**values)


def _record(
    counters: UsageCounters, day: date, event_type: str, **metadata: object
) -> None:
    """Count an event as the bus path would, through the privacy filter."""
    event, _ = clean_event(event_type, metadata)
    assert event is not None
    counters.record(day.isoformat(), event, week_key(day))


def _week_counters() -> UsageCounters:
    """A known week of usage, with one day on each side of the period."""
    counters = UsageCounters()
    before, first, last, after = (
        PERIOD.start - timedelta(days=1),
        PERIOD.start,
        PERIOD.end - timedelta(days=1),
        PERIOD.end,
    )
    for day in (before, after):
        _record(counters, day, "job_completed", printer_type="bambu_lab")
        _record(counters, day, "error_occurred", error_type="MemoryError")
        _record(counters, day, "feature_enabled", feature="slicing")
        counters.add_uptime(day.isoformat(), 24 * 60)
    for _ in range(3):
        _record(counters, first, "job_completed", printer_type="bambu_lab")
    for _ in range(2):
        _record(counters, last, "file_downloaded", size_bytes=2_000_000)
        _record(counters, last, "error_occurred", error_type="TimeoutError")
    _record(counters, last, "file_uploaded", printer_type="prusa_core")
    _record(counters, first, "error_occurred", error_type="PRINTER_NOT_FOUND")
    _record(counters, first, "error_occurred", error_type="JohnSmithError")
    _record(counters, first, "feature_enabled", feature="camera")
    _record(counters, first, "feature_disabled", feature="notifications")
    _record(counters, first, "app_start", library_enabled=True, timelapse_enabled=False)
    # 150 hours: six whole days and six hours on the last.
    for day in PERIOD.days():
        counters.add_uptime(day.isoformat(), 6 * 60 if day == last else 24 * 60)
    return counters


def _build(
    tally: Tally | None = None,
    *,
    period: Period = PERIOD,
    fleet: dict[str, int] | None = None,
    installation: InstallationFacts | None = None,
    today: date = TODAY,
) -> Report:
    """A report with sensible defaults for what a test does not vary."""
    return build_report(
        tally=_week_counters().tally(PERIOD.start, PERIOD.end)
        if tally is None
        else tally,
        period=period,
        installation=installation or _facts(),
        fleet={"bambu_lab": 2, "prusa_core": 1} if fleet is None else fleet,
        today=today,
    )


def _errors(built: object) -> list[str]:
    """What the real service's schema says about a report, with date-time formats checked."""
    return [error.message for error in VALIDATOR.iter_errors(built)]


def _fits_contract(built: Any) -> bool:
    """Whether the schema's mirror in report.py accepts a report."""
    try:
        check_report(built)
    except ContractError:
        return False
    return True


def _copy(built: Report) -> Report:
    """A deep copy through the wire form."""
    copied: Report = json.loads(serialize_report(built))
    return copied


def _strings(node: object) -> Iterator[str]:
    """Every key and string value in a report."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def _assert_only_our_words(built: Report) -> None:
    """Every string is a schema field name, a vocabulary word, a midnight, the id or a release."""
    allowed = (
        SCHEMA_NAMES
        | ERROR_WORDS
        | COUNTRY_CODES
        | {*PRINTER_TYPES, *FEATURES, *PLATFORMS, *DEPLOYMENT_MODES}
        | {OTHER, UNKNOWN, UNKNOWN_COUNTRY, SCHEMA_VERSION}
        | {built["installation"]["installation_id"]}
    )
    for text in _strings(built):
        assert (
            text in allowed or MIDNIGHT_RE.fullmatch(text) or RELEASE_RE.fullmatch(text)
        ), text
    wire = serialize_report(built).decode().lower()
    assert CANARY.lower() not in wire
    assert WORD_CANARY.lower() not in wire


def _assert_report_invariants(built: Report, inputs: dict[str, Any]) -> None:
    """What every built report promises, beyond fitting the schema."""
    period: Period = inputs["period"]
    tally: Tally = inputs["tally"]
    installation = built["installation"]
    assert installation["first_seen"] == midnight(inputs["installation"].first_seen)
    assert built["submission_timestamp"] == midnight(inputs["today"])
    assert built["period"] == {
        "start": midnight(period.start),
        "end": midnight(period.end),
        "duration_days": period.duration_days,
    }
    assert 1 <= period.duration_days <= 90
    for stamp in (
        installation["first_seen"],
        built["period"]["start"],
        built["period"]["end"],
        built["submission_timestamp"],
    ):
        assert MIDNIGHT_RE.fullmatch(stamp)
    assert installation["app_version"] == UNKNOWN or RELEASE_RE.fullmatch(
        installation["app_version"]
    )
    assert installation["platform"] in PLATFORMS
    assert installation["deployment_mode"] in DEPLOYMENT_MODES
    assert installation["country_code"] in COUNTRY_CODES | {UNKNOWN_COUNTRY}
    fleet = built["printer_fleet"]
    assert set(fleet["printer_types"]) <= set(PRINTER_TYPES)
    assert fleet["printer_types"] == sorted(fleet["printer_type_counts"])
    assert all(
        0 < count <= MAX_COUNT for count in fleet["printer_type_counts"].values()
    )
    assert fleet["printer_count"] == min(
        sum(fleet["printer_type_counts"].values()), MAX_COUNT
    )
    usage = built["usage_stats"]
    assert usage["job_count"] == min(tally.count("job_completed"), MAX_COUNT)
    assert usage["file_count"] == min(tally.count("file_downloaded"), MAX_COUNT)
    assert usage["upload_count"] == min(tally.count("file_uploaded"), MAX_COUNT)
    assert usage["uptime_hours"] == min(
        tally.uptime_minutes // 60, 24 * period.duration_days
    )
    assert set(usage["feature_usage"]) <= set(FEATURES)
    summary = built["error_summary"]
    assert set(summary) <= ERROR_WORDS | {OTHER}
    assert len(summary) <= MAX_ERROR_TYPES
    assert all(0 < count <= MAX_COUNT for count in summary.values())
    errors = {
        k: n for k, n in tally.by_value("error_occurred", "error_type").items() if n > 0
    }
    if sum(errors.values()) <= MAX_COUNT:
        assert sum(summary.values()) == sum(errors.values())
    kept = [kind for kind in summary if kind != OTHER]
    folded = [kind for kind in errors if kind not in kept and kind in ERROR_WORDS]
    assert (OTHER in summary) is (len(kept) < len(errors))
    for kind in kept:
        assert summary[kind] == min(errors[kind], MAX_COUNT)
        # The largest kinds are kept, ties broken alphabetically.
        for other in folded:
            assert (-errors[kind], kind) < (-errors[other], other)
    assert len(serialize_report(built)) < MAX_REPORT_BYTES
    _assert_only_our_words(built)


# --- the schema and its format checker -------------------------------------------------


def test_schema_format_checker_checks_date_time() -> None:
    """date-time is really checked (rfc3339-validator is installed): a bare date fails."""
    Draft202012Validator.check_schema(SCHEMA)
    assert "date-time" in FORMAT_CHECKER.checkers
    assert FORMAT_CHECKER.conforms("2026-11-20T00:00:00+00:00", "date-time")
    assert not FORMAT_CHECKER.conforms("2026-11-20", "date-time")
    assert not FORMAT_CHECKER.conforms("2026-11-20T00:00:00", "date-time")
    built = _build()
    assert _errors(built) == []
    for path in (("period", "start"), ("installation", "first_seen")):
        broken = _copy(built)
        broken[path[0]][path[1]] = "2026-11-20"
        assert _errors(broken)
        # Without the format checker the same report would pass: the checker refuses it.
        assert Draft202012Validator(SCHEMA).is_valid(broken)
        assert not _fits_contract(broken)


def test_schema_requires_what_the_service_requires() -> None:
    """The schema's required fields are the ones check_report insists on."""
    assert SCHEMA["required"] == [
        "period",
        "installation",
        "printer_fleet",
        "usage_stats",
    ]
    assert SCHEMA["$defs"]["TimePeriodModel"]["required"] == ["start", "end"]
    assert SCHEMA["$defs"]["InstallationInfoModel"]["required"] == [
        "installation_id",
        "app_version",
        "platform",
        "deployment_mode",
        "country_code",
    ]


# --- the report of a known week ----------------------------------------------------------


def test_report_snapshot(snapshot: SnapshotAssertion) -> None:
    """The exact payload for a known week is pinned by a snapshot, and it fits the schema."""
    built = _build()
    assert _errors(built) == []
    assert built == snapshot
    assert serialize_report(built) == snapshot(name="wire")


def test_report_known_week() -> None:
    """Counts of the period's days only, our own words only, every time a UTC midnight."""
    built = _build()
    assert list(built) == [
        "schema_version",
        "submission_timestamp",
        "installation",
        "period",
        "printer_fleet",
        "usage_stats",
        "error_summary",
    ]
    assert built["schema_version"] == "1.0"
    assert built["submission_timestamp"] == "2026-11-23T00:00:00+00:00"
    assert built["installation"] == {
        "installation_id": INSTALLATION_ID,
        "first_seen": "2026-10-01T00:00:00+00:00",
        "app_version": "2.42.0",
        "platform": "linux",
        "deployment_mode": "homeassistant",
        "country_code": "DE",
    }
    assert built["period"] == {
        "start": "2026-11-16T00:00:00+00:00",
        "end": "2026-11-23T00:00:00+00:00",
        "duration_days": 7,
    }
    assert built["usage_stats"] == {
        "job_count": 3,
        "file_count": 2,
        "upload_count": 1,
        "uptime_hours": 150,
        "feature_usage": {
            "camera": True,
            "library": True,
            "notifications": False,
            "timelapse": False,
        },
    }
    assert built["error_summary"] == {
        "TimeoutError": 2,
        "PRINTER_NOT_FOUND": 1,
        OTHER: 1,
    }


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (date(2026, 11, 20), "2026-11-20T00:00:00+00:00"),
        (date(2027, 1, 1), "2027-01-01T00:00:00+00:00"),
        (date(2028, 2, 29), "2028-02-29T00:00:00+00:00"),
    ],
)
def test_midnight(day: date, text: str) -> None:
    """A day is sent as its UTC midnight, an RFC 3339 date-time with offset."""
    assert midnight(day) == text
    assert FORMAT_CHECKER.conforms(text, "date-time")
    assert datetime.fromisoformat(text) == datetime(
        day.year, day.month, day.day, tzinfo=UTC
    )


# --- mutations: the schema and check_report refuse alike ----------------------------------

DROP: Final = object()
BARE_DATE = "2026-11-20"
REFUSED_BY_BOTH: list[tuple[tuple[str, ...], object]] = [
    *(
        ((name,), DROP)
        for name in ("period", "installation", "printer_fleet", "usage_stats")
    ),
    (("period", "start"), DROP),
    (("period", "end"), DROP),
    *(
        (("installation", name), DROP)
        for name in (
            "installation_id",
            "app_version",
            "platform",
            "deployment_mode",
            "country_code",
        )
    ),
    (("period", "start"), BARE_DATE),
    (("period", "end"), BARE_DATE),
    (("submission_timestamp",), BARE_DATE),
    (("installation", "first_seen"), BARE_DATE),
    (("period", "start"), "2026-11-20T00:00:00"),
    (("period", "end"), "2026-02-30T00:00:00+00:00"),
    (("submission_timestamp",), "2026-11-20T24:00:00+00:00"),
    (("installation", "first_seen"), "2026-11-20T00:00:00+24:00"),
    (("period", "start"), 1_763_596_800),
    *(
        (path, value)
        for path in (
            ("period", "duration_days"),
            ("printer_fleet", "printer_count"),
            ("usage_stats", "job_count"),
            ("usage_stats", "file_count"),
            ("usage_stats", "upload_count"),
            ("usage_stats", "uptime_hours"),
        )
        for value in (-1, True, False, "3", None, 2.5)
    ),
    (("printer_fleet", "printer_type_counts", "bambu_lab"), True),
    (("printer_fleet", "printer_type_counts", "bambu_lab"), "2"),
    (("printer_fleet", "printer_type_counts"), []),
    (("printer_fleet", "printer_types"), ["bambu_lab", 3]),
    (("printer_fleet", "printer_types"), "bambu_lab"),
    (("error_summary", "TimeoutError"), True),
    (("error_summary", "TimeoutError"), 1.5),
    (("error_summary",), ["TimeoutError"]),
    (("usage_stats", "feature_usage", "camera"), 1),
    (("usage_stats", "feature_usage", "camera"), "true"),
    (("period",), None),
    (("installation",), "DE"),
    (("printer_fleet",), []),
    (("installation", "app_version"), None),
    (("installation", "country_code"), 49),
    (("installation", "python_version"), 3.13),
    (("schema_version",), 1),
]
ACCEPTED_BY_BOTH: list[tuple[tuple[str, ...], object]] = [
    (("submission_timestamp",), DROP),
    (("submission_timestamp",), None),
    (("submission_timestamp",), "2026-11-23T13:45:10.5Z"),
    (("installation", "first_seen"), DROP),
    (("installation", "first_seen"), None),
    (("installation", "first_seen"), "2026-10-01T00:00:00-05:30"),
    (("installation", "python_version"), "3.13.0"),
    (("installation", "python_version"), None),
    (("period", "duration_days"), DROP),
    (("printer_fleet", "printer_types"), DROP),
    (("printer_fleet", "printer_type_counts", "creality"), -1),
    (("usage_stats", "feature_usage"), DROP),
    (("usage_stats", "job_count"), DROP),
    (("error_summary",), DROP),
    (("error_summary", "TimeoutError"), -3),
    (("schema_version",), DROP),
    (("extra_field",), {"anything": [1, 2]}),
]


def _mutated(built: Report, path: tuple[str, ...], value: object) -> Report:
    """A copy of a report with one field set to a value or dropped."""
    copied = _copy(built)
    parent = copied
    for name in path[:-1]:
        parent = parent.setdefault(name, {})
    if value is DROP:
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value
    return copied


@pytest.mark.parametrize(("path", "value"), REFUSED_BY_BOTH)
def test_report_mutation_refused_by_both(path: tuple[str, ...], value: object) -> None:
    """A required field dropped, a bare date, a negative count or a bool for an int: both refuse."""
    broken = _mutated(_build(), path, value)
    assert _errors(broken)
    assert not _fits_contract(broken)


@pytest.mark.parametrize(("path", "value"), ACCEPTED_BY_BOTH)
def test_report_variant_accepted_by_both(path: tuple[str, ...], value: object) -> None:
    """What the service tolerates (optional fields, nulls, other offsets) check_report tolerates too."""
    variant = _mutated(_build(), path, value)
    assert _errors(variant) == []
    assert _fits_contract(variant)


@pytest.mark.parametrize("value", [None, [], "report", 7])
def test_report_not_an_object_refused_by_both(value: object) -> None:
    """Anything but an object is refused."""
    assert _errors(value)
    assert not _fits_contract(value)


def test_report_too_large_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A report over the size limit is never sent, though the schema has no limit."""
    built = _build()
    monkeypatch.setattr(report, "MAX_REPORT_BYTES", len(serialize_report(built)))
    assert not _fits_contract(built)
    with pytest.raises(ContractError, match="size limit"):
        _build()


# --- the property: every report fits -----------------------------------------------------

TIME_ZONES: Final = [
    *sorted(zoneinfo.available_timezones()),
    "Europe/Kiev",
    "Asia/Calcutta",
    "US/Eastern",
    "Mars/Olympus_Mons",
]
COLUMN_POOL: Final = [
    *EVENT_TYPES,
    UPTIME_COLUMN,
    *(
        f"{event_type}/{key}={value}"
        for event_type, fields in ALLOWLIST.items()
        for key, field in fields.items()
        for value in field.values
    ),
    *(f"error_occurred/error_type={word}" for word in ERROR_TYPES),
    *(f"error_occurred/error_type={word}" for word in (*PERSON_SHAPED, OTHER)),
    *(f"app_start/app_version={v}" for v in ("2.42.0", "2.41.3", UNKNOWN, OTHER)),
]
KIND_POOL: Final = [
    *ERROR_TYPES,
    *PERSON_SHAPED,
    *ERROR_SHAPED,
    OTHER,
    f"{CANARY}Error",
    "timeouterror",
    "",
]
# Letters, digits, separators and a few non-ASCII ones for made-up error kinds.
ODD_LETTERS: Final = "aZ09_-./=: \u00e9\u0130\u212a\u0662\U0001f5a8"
COUNTRIES = (
    st.none()
    | st.sampled_from(sorted(COUNTRY_CODES)).map(lambda c: f" {c.lower()} ")
    | st.sampled_from(sorted(COUNTRY_CODES))
    | st.text(max_size=4)
)
TIME_ZONE_NAMES = st.none() | st.sampled_from(TIME_ZONES) | st.text(max_size=12)
SORTED_COUNTRY_CODES: Final = sorted(COUNTRY_CODES)
APP_VERSION_POOL: Final = [
    "2.42.0",
    "2.8.0rc1",
    "999.999.9999.dev999",
    "v2.42.0",
    "2.42.0-3-g1a2b3c4",
    "1a2b3c4",
    UNKNOWN,
]
# Only integers are drawn by Hypothesis (cheap); the words come from a seeded
# Random, since drawing text costs more than building and checking the report.
FIRST_DAY: Final = date(2020, 1, 1)
START_DAYS = st.integers(0, 7_670)
DURATIONS = st.integers(1, 90)
SEEDS = st.integers(0, 2**64)
UPTIMES = st.integers(-5, 10**6)
DAYS_BACK = st.integers(0, 4000)
DAYS_AFTER = st.integers(0, 14)
FLEET_TYPES: Final = [*PRINTER_TYPES, OTHER, "creality", f"x1c_{CANARY}", ""]


def _random_text(rng: Random, longest: int) -> str:
    """Made-up text: letters, digits, separators and some non-ASCII characters."""
    return "".join(rng.choices(ODD_LETTERS, k=rng.randint(0, longest)))


def _random_count(rng: Random) -> int:
    """Mostly small counts, sometimes beyond what the service can store."""
    return rng.choice((0, 1, 2, 3, 7, rng.randrange(2**40)))


def _random_counters(rng: Random, period: Period) -> UsageCounters:
    """Random stored counters around a period, plus error kinds in and outside the list."""
    columns = rng.sample(COLUMN_POOL, rng.randint(0, 20))
    offsets = rng.sample(range(-3, period.duration_days + 3), rng.randint(0, 4))
    days = {
        (period.start + timedelta(days=offset)).isoformat(): [
            _random_count(rng) for _ in range(rng.randint(0, len(columns)))
        ]
        for offset in offsets
    }
    counters = UsageCounters.from_storage(
        {"columns": columns, "days": days},
        Reading(datetime.combine(period.end, time.min, UTC) + timedelta(days=4)),
    )
    # Error kinds as a caller bypassing the filter would record them.
    for _ in range(rng.randint(0, 25)):
        kind = rng.choice(KIND_POOL) if rng.random() < 0.8 else _random_text(rng, 12)
        day = period.start + timedelta(days=rng.randint(-1, period.duration_days))
        event = CleanEvent("error_occurred", {"error_type": kind})
        for _ in range(rng.randint(1, 3)):
            counters.record(day.isoformat(), event, week_key(day))
    return counters


def _random_country(rng: Random) -> str:
    """A country as the integration finds it (configured, else by time zone), or raw text."""
    configured = rng.choice(
        [None, "", rng.choice(SORTED_COUNTRY_CODES), _random_text(rng, 4)]
    )
    if configured and rng.random() < 0.3:
        configured = f" {configured.lower()} "
    time_zone = rng.choice([None, rng.choice(TIME_ZONES), _random_text(rng, 12)])
    found = country_code(configured, time_zone)
    return found if rng.random() < 0.9 else _random_text(rng, 3)


def _random_installation(rng: Random, first_seen: date) -> InstallationFacts:
    """Installation facts, mostly our own words, sometimes anything at all."""
    text = _random_text(rng, 24)
    return InstallationFacts(
        installation_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        first_seen=first_seen,
        app_version=rng.choice(
            [clean_app_version(text), text, rng.choice(APP_VERSION_POOL)]
        ),
        platform=rng.choice([*PLATFORMS, text]),
        deployment_mode=rng.choice([*DEPLOYMENT_MODES, "raspberry_pi", text]),
        country_code=_random_country(rng),
    )


@st.composite
def _report_inputs(draw: st.DrawFn) -> dict[str, Any]:
    """Random tallies, fleets, periods, installations and days, as build_report takes them."""
    start = FIRST_DAY + timedelta(days=draw(START_DAYS))
    period = Period(start, start + timedelta(days=draw(DURATIONS)))
    rng = Random(draw(SEEDS))
    counters = _random_counters(rng, period)
    counters.add_uptime(start.isoformat(), draw(UPTIMES))
    first_seen = max(date(2015, 1, 1), start - timedelta(days=draw(DAYS_BACK)))
    fleet = {
        rng.choice(FLEET_TYPES): rng.choice((-3, 0, 1, 2, rng.randrange(2**40)))
        for _ in range(rng.randint(0, 6))
    }
    return {
        "tally": counters.tally(period.start, period.end),
        "period": period,
        "installation": _random_installation(rng, first_seen),
        "fleet": fleet,
        "today": period.end + timedelta(days=draw(DAYS_AFTER)),
    }


@settings(max_examples=1000, deadline=None)
@given(inputs=_report_inputs(), mutation=st.sampled_from(REFUSED_BY_BOTH))
def test_build_report_property_fits_schema(
    inputs: dict[str, Any], mutation: tuple[tuple[str, ...], object]
) -> None:
    """Every report fits the real schema and check_report; a broken copy fits neither."""
    built = build_report(**inputs)
    assert _errors(built) == []
    assert _fits_contract(built)
    _assert_report_invariants(built, inputs)
    broken = _mutated(built, *mutation)
    assert not VALIDATOR.is_valid(broken)
    assert not _fits_contract(broken)


@settings(max_examples=150, deadline=None)
@given(
    value=st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
        r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?)?",
        fullmatch=True,
    )
    | st.datetimes(timezones=st.none() | st.just(UTC)).map(datetime.isoformat)
    | st.text(max_size=30)
)
@example("2026-11-20T24:00:00+00:00")
@example("2026-11-20T23:59:60+00:00")
@example("2026-11-20T00:00:00+23:59")
@example("0000-01-01T00:00:00+00:00")
@example("2026-11-20t00:00:00z")
@example("\u0662\u0660\u0662\u0666-11-20T00:00:00+00:00")
def test_check_report_date_time_never_looser_than_schema(value: str) -> None:
    """A date-time check_report accepts is one the schema (and so the service) accepts."""
    variant = _mutated(_build(), ("submission_timestamp",), value)
    if _fits_contract(variant):
        assert _errors(variant) == []


# --- the builder's rules ------------------------------------------------------------------


def test_report_worst_case_size_under_limit() -> None:
    """Every list full, 20 error kinds incl. `other`, 90 days: still well under 10 KiB."""
    period = Period(date(2026, 1, 1), date(2026, 4, 1))
    assert period.duration_days == 90
    longest = sorted(ERROR_TYPES, key=lambda word: (-len(word), word))
    tally = Tally(
        events=dict.fromkeys(EVENT_TYPES, MAX_COUNT),
        values={
            ("error_occurred", "error_type"): {
                **{word: MAX_COUNT - index for index, word in enumerate(longest[:40])},
                **dict.fromkeys(PERSON_SHAPED, MAX_COUNT),
            },
            ("feature_enabled", "feature"): dict.fromkeys(FEATURES, MAX_COUNT),
            ("feature_disabled", "feature"): dict.fromkeys(FEATURES, MAX_COUNT),
        },
        uptime_minutes=10**12,
    )
    built = build_report(
        tally=tally,
        period=period,
        installation=_facts(
            app_version="9.999.9.dev99",
            platform="windows",
            deployment_mode="homeassistant",
        ),
        fleet=dict.fromkeys(PRINTER_TYPES, MAX_COUNT),
        today=date(2026, 4, 1),
    )
    assert built["installation"]["app_version"] == "9.999.9.dev99"
    size = len(serialize_report(built))
    print(f"worst-case report size: {size} bytes")  # noqa: T201
    summary = built["error_summary"]
    assert len(summary) == MAX_ERROR_TYPES
    assert summary[OTHER] == MAX_COUNT
    assert set(summary) - {OTHER} == set(longest[: MAX_ERROR_TYPES - 1])
    assert built["printer_fleet"]["printer_types"] == sorted(PRINTER_TYPES)
    assert built["usage_stats"]["feature_usage"] == dict.fromkeys(
        sorted(FEATURES), True
    )
    assert built["usage_stats"]["uptime_hours"] == 90 * 24
    assert _errors(built) == []
    assert size < WORST_CASE_BOUND < MAX_REPORT_BYTES


def _error_tally(errors: dict[str, int]) -> Tally:
    """A tally holding only error kinds."""
    return Tally(values={("error_occurred", "error_type"): errors})


def test_report_error_summary_capped_with_other() -> None:
    """The top 19 kinds survive (ties alphabetical); the rest become `other`."""
    kinds = sorted(ERROR_TYPES)[:25]
    errors = {kind: 100 - index for index, kind in enumerate(kinds)}
    errors[kinds[-1]] = 100  # ties with the first, sorts after it
    summary = _build(_error_tally(errors))["error_summary"]
    assert len(summary) == MAX_ERROR_TYPES
    assert list(summary)[:3] == [kinds[0], kinds[-1], kinds[1]]
    kept = [kind for kind in summary if kind != OTHER]
    assert summary[OTHER] == sum(n for kind, n in errors.items() if kind not in kept)
    assert sum(summary.values()) == sum(errors.values())


def test_report_error_summary_exactly_at_cap_has_no_other() -> None:
    """Twenty listed kinds fit without an `other` bucket; one unlisted more forces it."""
    errors = dict.fromkeys(ERROR_TYPES[:MAX_ERROR_TYPES], 2)
    summary = _build(_error_tally(errors))["error_summary"]
    assert len(summary) == MAX_ERROR_TYPES
    assert OTHER not in summary
    summary = _build(_error_tally(errors | {"JohnSmithError": 1}))["error_summary"]
    assert len(summary) == MAX_ERROR_TYPES
    assert summary[OTHER] == 3


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        ({}, {}),
        ({"JohnSmithError": 2, "alice_at_example_com_error": 1}, {OTHER: 3}),
        ({OTHER: 4, "TimeoutError": 1}, {"TimeoutError": 1, OTHER: 4}),
        ({"TimeoutError": 0, "KeyError": -2, "JaneDoeError": 0}, {}),
        (
            {"TimeoutError": MAX_COUNT, "KeyError": MAX_COUNT},
            {"KeyError": MAX_COUNT, "TimeoutError": MAX_COUNT},
        ),
        ({"Qzvxkjwy": MAX_COUNT, OTHER: MAX_COUNT}, {OTHER: MAX_COUNT}),
        ({"timeouterror": 1}, {OTHER: 1}),
    ],
)
def test_report_error_summary_words(
    errors: dict[str, int], expected: dict[str, int]
) -> None:
    """Only listed kinds are named; anything else, and `other`, fold into `other`; counts are clamped."""
    assert _build(_error_tally(errors))["error_summary"] == expected


def test_report_feature_usage_signals() -> None:
    """Any "on" signal wins; only-off signals give False; unknown features and values are ignored."""
    tally = Tally(
        values={
            ("feature_enabled", "feature"): {
                "camera": 1,
                "teleport": 5,
                "notifications": 0,
            },
            ("feature_disabled", "feature"): {"camera": 3, "slicing": 1},
            ("app_start", "library_enabled"): {"false": 2},
            ("app_start", "auto_download_enabled"): {"true": 1, "false": 4},
            ("app_start", "timelapse_enabled"): {"maybe": 1, "true": 0},
        }
    )
    assert _build(tally)["usage_stats"]["feature_usage"] == {
        "auto_download": True,
        "camera": True,
        "library": False,
        "slicing": False,
    }


def test_report_printer_fleet() -> None:
    """Only our printer types count; zero or negative ones are dropped; counts are clamped."""
    fleet = {
        "bambu_lab": 2,
        "octoprint": 0,
        "prusa_core": -1,
        "unknown": MAX_COUNT,
        "creality": 4,
        OTHER: 3,
        f"x1c_{CANARY}": 1,
    }
    built = _build(fleet=fleet)
    assert built["printer_fleet"] == {
        "printer_count": MAX_COUNT,
        "printer_types": ["bambu_lab", "unknown"],
        "printer_type_counts": {"bambu_lab": 2, "unknown": MAX_COUNT},
    }
    _assert_only_our_words(built)


def test_report_empty_tally_gives_zeros() -> None:
    """No counters and no fleet still make a valid, all-zero report."""
    built = _build(Tally(), fleet={})
    assert built["printer_fleet"] == {
        "printer_count": 0,
        "printer_types": [],
        "printer_type_counts": {},
    }
    assert built["usage_stats"] == {
        "job_count": 0,
        "file_count": 0,
        "upload_count": 0,
        "uptime_hours": 0,
        "feature_usage": {},
    }
    assert built["error_summary"] == {}
    assert _errors(built) == []


@pytest.mark.parametrize(
    ("uptime", "days", "expected"),
    [(0, 7, 0), (100, 7, 100), (10_000, 7, 168), (10_000, 1, 24)],
)
def test_report_uptime_bounded_by_period(uptime: int, days: int, expected: int) -> None:
    """Uptime is whole hours between zero and the period's length."""
    period = Period(PERIOD.start, PERIOD.start + timedelta(days=days))
    built = _build(Tally(uptime_minutes=uptime * 60), period=period)
    assert built["usage_stats"]["uptime_hours"] == expected


def test_report_counts_clamped_for_the_service() -> None:
    """Counts never exceed a 32-bit column."""
    tally = Tally(
        events={
            "job_completed": 2**40,
            "file_downloaded": MAX_COUNT + 1,
            "file_uploaded": 7,
        }
    )
    stats = _build(tally)["usage_stats"]
    assert (stats["job_count"], stats["file_count"], stats["upload_count"]) == (
        MAX_COUNT,
        MAX_COUNT,
        7,
    )


@pytest.mark.parametrize(
    ("overrides", "key", "expected"),
    [
        ({"app_version": "2.8.0rc1"}, "app_version", "2.8.0rc1"),
        ({"app_version": "v2.42.0"}, "app_version", UNKNOWN),
        ({"app_version": "2.42.0-dirty"}, "app_version", UNKNOWN),
        ({"app_version": "1a2b3c4"}, "app_version", UNKNOWN),
        ({"app_version": ""}, "app_version", UNKNOWN),
        ({"platform": "Linux"}, "platform", UNKNOWN),
        ({"platform": "darwin"}, "platform", "darwin"),
        ({"platform": f"linux {CANARY}"}, "platform", UNKNOWN),
        ({"deployment_mode": "pi"}, "deployment_mode", "pi"),
        ({"deployment_mode": "kubernetes"}, "deployment_mode", UNKNOWN),
        ({"country_code": "de"}, "country_code", UNKNOWN_COUNTRY),
        ({"country_code": "DEU"}, "country_code", UNKNOWN_COUNTRY),
        ({"country_code": "ZZ"}, "country_code", UNKNOWN_COUNTRY),
        ({"country_code": "XX"}, "country_code", UNKNOWN_COUNTRY),
        ({"country_code": "UA"}, "country_code", "UA"),
    ],
)
def test_report_installation_words(
    overrides: dict[str, str], key: str, expected: str
) -> None:
    """Installation facts outside our lists are sent as `unknown` or `XX`, never as given."""
    built = _build(installation=_facts(**overrides))
    assert built["installation"][key] == expected
    _assert_only_our_words(built)


def test_serialize_report_is_compact_utf8() -> None:
    """The bytes sent are compact JSON with UTF-8, not escaped, text."""
    data = {"a": [1, 2], "b": {"c": "Zürich"}}
    raw = serialize_report(data)
    assert raw == '{"a":[1,2],"b":{"c":"Zürich"}}'.encode()
    assert json.loads(raw) == data


def test_serialize_report_refuses_nan() -> None:
    """NaN is not JSON; it must never reach the wire."""
    with pytest.raises(ValueError):
        serialize_report({"x": float("nan")})


def test_period_properties() -> None:
    """A period knows its length and yields each day once."""
    period = Period(date(2028, 2, 27), date(2028, 3, 2))
    assert period.duration_days == 4
    assert list(period.days()) == [
        date(2028, 2, 27),
        date(2028, 2, 28),
        date(2028, 2, 29),
        date(2028, 3, 1),
    ]


@pytest.mark.parametrize("length", [0, -1, -7])
def test_period_must_not_be_empty(length: int) -> None:
    """An empty or reversed period is refused."""
    with pytest.raises(ValueError, match="after its start"):
        Period(PERIOD.start, PERIOD.start + timedelta(days=length))


@pytest.mark.parametrize(
    "installation_id",
    [
        "not-a-uuid",
        "",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        "0B6D1C2E-3F4A-4B5C-8D6E-7F8091A2B3C4",
        "{0b6d1c2e-3f4a-4b5c-8d6e-7f8091a2b3c4}",
        "0b6d1c2e3f4a4b5c8d6e7f8091a2b3c4",
        "urn:uuid:0b6d1c2e-3f4a-4b5c-8d6e-7f8091a2b3c4",
    ],
)
def test_installation_id_must_be_uuid4(installation_id: str) -> None:
    """Only a canonical random UUID may identify the installation."""
    with pytest.raises(ValueError, match="UUID4"):
        _facts(installation_id=installation_id)


# --- the country ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "time_zone", "expected"),
    [
        ("de", None, "DE"),
        (" us ", "Europe/Berlin", "US"),
        ("AT", "Europe/Berlin", "AT"),
        ("Germany", "Europe/Berlin", "DE"),
        ("D1", None, UNKNOWN_COUNTRY),
        ("ZZ", "Asia/Tokyo", "JP"),
        ("XX", None, UNKNOWN_COUNTRY),
        (None, "Europe/Berlin", "DE"),
        (None, " America/New_York ", "US"),
        ("", "Asia/Tokyo", "JP"),
        (None, "Europe/Kiev", "UA"),
        (None, "Europe/Kyiv", "UA"),
        (None, "Asia/Calcutta", "IN"),
        (None, "US/Eastern", "US"),
        (None, "Europe/Amsterdam", "NL"),
        (None, "UTC", UNKNOWN_COUNTRY),
        (None, "Etc/GMT+5", UNKNOWN_COUNTRY),
        (None, "Mars/Olympus_Mons", UNKNOWN_COUNTRY),
        (None, f"Europe/{CANARY}", UNKNOWN_COUNTRY),
        (None, None, UNKNOWN_COUNTRY),
        (None, "", UNKNOWN_COUNTRY),
    ],
)
def test_country_code(
    configured: str | None, time_zone: str | None, expected: str
) -> None:
    """Home Assistant's country wins, then the time zone's country, else `XX`."""
    assert country_code(configured, time_zone) == expected


@settings(max_examples=100, deadline=None)
@given(configured=COUNTRIES, time_zone=TIME_ZONE_NAMES)
def test_country_code_property_only_iso_codes(
    configured: str | None, time_zone: str | None
) -> None:
    """Whatever is configured, only an ISO 3166-1 code or `XX` comes out."""
    found = country_code(configured, time_zone)
    assert found in COUNTRY_CODES or found == UNKNOWN_COUNTRY
    if configured and configured.strip().upper() in COUNTRY_CODES:
        assert found == configured.strip().upper()


def test_country_code_every_zone_has_a_country_or_xx() -> None:
    """Every zone the system knows resolves to an ISO code or `XX`; most have a country."""
    found = [country_code(None, zone) for zone in TIME_ZONES]
    assert set(found) <= COUNTRY_CODES | {UNKNOWN_COUNTRY}
    assert len(set(found)) > 200


@pytest.fixture
def fresh_zone_cache() -> Iterator[None]:
    """Forget the cached zone table around a test that swaps its source."""
    country._zone_countries.cache_clear()
    yield
    country._zone_countries.cache_clear()


def _no_tzdata(_: str) -> Any:
    """Stand-in for importlib.resources.files when tzdata is not installed."""
    raise ModuleNotFoundError("tzdata")


@pytest.mark.usefixtures("fresh_zone_cache")
def test_country_code_falls_back_to_system_zoneinfo(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without the tzdata package, the system's zone.tab and links are used."""
    monkeypatch.setattr(importlib.resources, "files", _no_tzdata)
    monkeypatch.setattr(country, "SYSTEM_ZONEINFO", tmp_path)
    (tmp_path / "zone.tab").write_text(
        "# comment\tline\there\n"
        "DE\t+5230+01322\tEurope/Berlin\n"
        "short line\n"
        "de\t+0000+00000\tBad/Lowercase\n",
        encoding="utf-8",
    )
    (tmp_path / "tzdata.zi").write_text(
        "L Europe/Berlin Europe/Old_Berlin\nL Etc/UTC UTC\nR x 1 2 3\n",
        encoding="utf-8",
    )
    assert country_code(None, "Europe/Berlin") == "DE"
    assert country_code(None, "Europe/Old_Berlin") == "DE"
    assert country_code(None, "UTC") == UNKNOWN_COUNTRY
    assert country_code(None, "Bad/Lowercase") == UNKNOWN_COUNTRY
    assert country_code(None, "# comment") == UNKNOWN_COUNTRY


@pytest.mark.usefixtures("fresh_zone_cache")
def test_country_code_without_any_zone_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no zone table anywhere, a time zone alone gives `XX`; a configured country still counts."""
    monkeypatch.setattr(importlib.resources, "files", _no_tzdata)
    monkeypatch.setattr(country, "SYSTEM_ZONEINFO", tmp_path / "missing")
    assert country_code(None, "Europe/Berlin") == UNKNOWN_COUNTRY
    assert country_code("at", "Europe/Berlin") == "AT"


# --- verify_report: a report this integration could have built ----------------

NOT_OURS: Final = [
    (("installation", "customer"), "Jane Doe"),
    (("email",), "jane@example.com"),
    (("installation", "country_code"), "ZZ"),
    (("installation", "platform"), "haiku"),
    (("installation", "deployment_mode"), "kubernetes"),
    (("installation", "app_version"), "Jane Doe"),
    (("installation", "installation_id"), "0b6d1c2e-3f4a-1b5c-8d6e-7f8091a2b3c4"),
    (("installation", "python_version"), "3.13.0"),
    (("installation", "first_seen"), "2026-10-01T10:17:00+00:00"),
    (("period", "start"), "2026-11-16T00:00:00+02:00"),
    (("period", "duration_days"), 6),
    (("submission_timestamp"), "2026-11-23T00:00:00Z"),
    (("printer_fleet", "printer_count"), 4),
    (("printer_fleet", "printer_types"), ["bambu_lab"]),
    (("printer_fleet", "printer_type_counts"), {"creality": 1}),
    (("usage_stats", "uptime_hours"), 7 * 24 + 1),
    (("usage_stats", "feature_usage"), {"holiday_mode": True}),
    (("error_summary",), {"JaneDoeError": 1}),
    (("error_summary",), {"TimeoutError": 1, "PRINTER_NOT_FOUND": 2}),
    (("error_summary",), {"TimeoutError": 0}),
    (("schema_version",), "1.1"),
]


@pytest.mark.parametrize(("path", "value"), NOT_OURS)
def test_verify_report_refuses_what_the_builder_never_writes(
    path: tuple[str, ...] | str, value: object
) -> None:
    """An extra key, a word off our lists, a time of day or a sum that disagrees is refused."""
    broken = _mutated(_build(), path if isinstance(path, tuple) else (path,), value)
    with pytest.raises(ContractError):
        verify_report(broken)


def test_verify_report_accepts_every_built_report() -> None:
    """The builder's own reports pass (it calls verify_report itself)."""
    verify_report(_build())
    verify_report(_build(Tally()))


@pytest.mark.parametrize("block", [None, "installation", "period", "usage_stats"])
def test_verify_report_refuses_keys_in_another_order(block: str | None) -> None:
    """The same keys in another order are not the builder's: a stored one is refused."""
    built = _build()
    target = built if block is None else built[block]
    first = next(iter(target))
    target[first] = target.pop(first)
    with pytest.raises(ContractError, match="in its order"):
        verify_report(built)
