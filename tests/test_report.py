"""Tests for the weekly report builder."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
import json
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from custom_components.printernizer_stats import report
from custom_components.printernizer_stats.report import (
    MAX_COUNT,
    MAX_ERROR_TYPES,
    MAX_PRINTER_TYPES,
    MAX_REPORT_BYTES,
    InstallationFacts,
    Period,
    ReportTooLargeError,
    build_report,
    country_code,
    report_size,
    serialize_report,
)
from simulator.stats_service import validate_report

INSTALLATION_ID = "0b6d1c2e-3f4a-4b5c-8d6e-7f8091a2b3c4"
# The worst case must stay well below the 10 KiB limit; this bound is recorded
# so a growing report shows up in review.
WORST_CASE_BOUND = 3_500
EVENT_TYPES = (
    "app_start",
    "app_shutdown",
    "job_created",
    "job_completed",
    "job_failed",
    "file_downloaded",
    "file_uploaded",
    "printer_connected",
    "printer_disconnected",
    "error_occurred",
    "feature_enabled",
    "feature_disabled",
)
FEATURES = (
    "auto_download",
    "camera",
    "library",
    "notifications",
    "slicing",
    "timelapse",
    "watch_folders",
)


def _facts(**overrides: Any) -> InstallationFacts:
    values: dict[str, Any] = {
        "installation_id": INSTALLATION_ID,
        "first_seen": date(2025, 3, 1),
        "app_version": "2.7.0",
        "python_version": "3.12.4",
        "platform": "linux",
        "country_code": "DE",
    } | overrides
    return InstallationFacts(**values)


def _build(
    counters: Mapping[date, Mapping[str, int]],
    *,
    period: Period | None = None,
    consent_day: date = date(2025, 3, 1),
    fleet: Mapping[str, int] | None = None,
    uptime_hours: float | None = 100.0,
    installation: InstallationFacts | None = None,
) -> dict[str, Any]:
    return build_report(
        counters=counters,
        period=period or Period(start=date(2025, 3, 3), end=date(2025, 3, 10)),
        installation=installation or _facts(),
        fleet={"bambu_lab": 2, "prusa_core": 1} if fleet is None else fleet,
        uptime_hours=uptime_hours,
        consent_day=consent_day,
        today=date(2025, 3, 11),
    )


def test_report_snapshot(snapshot: SnapshotAssertion) -> None:
    """The exact payload for a known week is pinned by a snapshot."""
    counters = {
        date(2025, 3, 2): {"job_completed": 50},  # before the period
        date(2025, 3, 3): {
            "app_start": 1,
            "app_start/library_enabled=true": 1,
            "app_start/timelapse_enabled=false": 1,
            "job_completed": 3,
            "job_completed/printer_type=bambu_lab": 3,
            "file_downloaded": 2,
            "error_occurred": 2,
            "error_occurred/error_type=TimeoutError": 2,
        },
        date(2025, 3, 5): {
            "job_completed": 4,
            "job_failed": 1,
            "file_uploaded": 1,
            "feature_enabled": 1,
            "feature_enabled/feature=camera": 1,
            "feature_disabled": 1,
            "feature_disabled/feature=notifications": 1,
            "error_occurred": 1,
            "error_occurred/error_type=ConnectionError": 1,
        },
        date(2025, 3, 10): {"job_completed": 70},  # the exclusive end
    }
    built = _build(counters, uptime_hours=150.4)
    assert built == snapshot
    assert serialize_report(built) == snapshot(name="wire")


def test_report_passes_service_validation() -> None:
    """The statistics-service emulator's strict validator accepts our report."""
    counters = {
        date(2025, 3, 4): {
            "job_completed": 3,
            "app_start/library_enabled=true": 1,
            "error_occurred/error_type=TimeoutError": 1,
        }
    }
    errors = [f"E{index}" for index in range(30)]
    counters[date(2025, 3, 5)] = {
        f"error_occurred/error_type={name}": 1 for name in errors
    }
    built = _build(counters, fleet={"bambu_lab": 2, "octoprint": 1, "unknown": 0})
    assert validate_report(built, now=datetime(2025, 3, 11, tzinfo=UTC)) == []
    # The emulator reads the same bytes we send.
    assert json.loads(serialize_report(built)) == built


def test_report_days_before_consent_never_count() -> None:
    """A day inside the period but before consent contributes nothing."""
    counters = {
        date(2025, 3, 3): {
            "job_completed": 5,
            "error_occurred/error_type=OSError": 1,
            "feature_enabled/feature=camera": 1,
        },
        date(2025, 3, 4): {"job_completed": 7},
        date(2025, 3, 5): {"job_completed": 1, "file_downloaded": 2},
    }
    built = _build(counters, consent_day=date(2025, 3, 5))
    assert built["usage_stats"]["job_count"] == 1
    assert built["usage_stats"]["file_count"] == 2
    assert built["usage_stats"]["feature_usage"] == {}
    assert built["error_summary"] == {}
    # The period itself is reported as agreed; only its counting is limited.
    assert built["period"]["start"] == "2025-03-03T00:00:00+00:00"


def test_report_consent_after_period_counts_nothing() -> None:
    """Consent after the whole period means an all-zero report."""
    counters = {date(2025, 3, 4): {"job_completed": 9}}
    built = _build(counters, consent_day=date(2025, 3, 20))
    assert built["usage_stats"]["job_count"] == 0


def test_report_days_outside_period_never_count() -> None:
    """Only days in [start, end) are summed."""
    counters = {
        date(2025, 3, 2): {"job_completed": 100, "file_uploaded": 100},
        date(2025, 3, 3): {"job_completed": 1, "file_uploaded": 1},
        date(2025, 3, 9): {"job_completed": 2},
        date(2025, 3, 10): {"job_completed": 1000, "file_uploaded": 1000},
    }
    built = _build(counters, consent_day=date(2025, 1, 1))
    assert built["usage_stats"]["job_count"] == 3
    assert built["usage_stats"]["upload_count"] == 1


def test_report_empty_counters_give_zeros() -> None:
    """No counters and no fleet still make a valid, all-zero report."""
    built = _build({}, fleet={}, uptime_hours=None)
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


def test_report_wire_shape_has_only_schema_fields() -> None:
    """No field beyond schema 1.0 is ever sent."""
    built = _build({})
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
    assert built["submission_timestamp"] == "2025-03-11T00:00:00+00:00"
    assert built["installation"] == {
        "installation_id": INSTALLATION_ID,
        "first_seen": "2025-03-01T00:00:00+00:00",
        "app_version": "2.7.0",
        "python_version": "3.12.4",
        "platform": "linux",
        "deployment_mode": "homeassistant",
        "country_code": "DE",
    }
    assert built["period"] == {
        "start": "2025-03-03T00:00:00+00:00",
        "end": "2025-03-10T00:00:00+00:00",
        "duration_days": 7,
    }


def test_report_python_version_omitted_when_unknown() -> None:
    """A missing Python version drops the key rather than sending null."""
    built = _build({}, installation=_facts(python_version=None))
    assert "python_version" not in built["installation"]


@pytest.mark.parametrize(
    ("overrides", "key", "expected"),
    [
        ({"app_version": "x" * 65}, "app_version", "unknown"),
        ({"app_version": ""}, "app_version", "unknown"),
        ({"python_version": "3" * 65}, "python_version", "unknown"),
        ({"platform": "p" * 65}, "platform", "unknown"),
        ({"country_code": "de"}, "country_code", "XX"),
        ({"country_code": "DEU"}, "country_code", "XX"),
    ],
)
def test_report_oversized_or_invalid_strings_replaced(
    overrides: dict[str, str], key: str, expected: str
) -> None:
    """Strings the schema cannot bound are replaced, never truncated into new values."""
    built = _build({}, installation=_facts(**overrides))
    assert built["installation"][key] == expected


@pytest.mark.parametrize(
    ("uptime", "expected"),
    [
        (None, 0),
        (10.4, 10),
        (10.6, 11),
        (-3.0, 0),
        (float("nan"), 0),
        (float("inf"), 0),
        (10_000.0, 168),
    ],
)
def test_report_uptime_rounded_and_bounded(uptime: float | None, expected: int) -> None:
    """Uptime is whole hours between zero and the period's length."""
    assert _build({}, uptime_hours=uptime)["usage_stats"]["uptime_hours"] == expected


def test_report_feature_usage_signals() -> None:
    """Any "on" signal wins; only-off signals give False; no signal, no key."""
    counters = {
        date(2025, 3, 3): {
            "feature_enabled/feature=camera": 1,
            "feature_disabled/feature=camera": 3,
            "feature_disabled/feature=slicing": 1,
            "app_start/library_enabled=false": 2,
            "app_start/auto_download_enabled=true": 1,
            "app_start/timelapse_enabled=maybe": 1,
            "app_start/platform_enabled=true": 1,
            "library_enabled=true": 1,
            "feature_enabled/feature=teleport": 1,
            "feature_enabled/feature=notifications": 0,
        },
        date(2025, 3, 4): {"feature_enabled/feature=library": 1},
    }
    assert _build(counters)["usage_stats"]["feature_usage"] == {
        "auto_download": True,
        "camera": True,
        "library": True,
        "slicing": False,
    }


def test_report_error_summary_capped_with_other() -> None:
    """The top 19 error types survive (ties alphabetical); the rest become "other"."""
    errors = {f"Error{index:02d}": 100 - index for index in range(25)}
    errors["Zeta"] = 100  # ties with Error00, sorts after it
    counters = {
        date(2025, 3, 3): {
            f"error_occurred/error_type={name}": count for name, count in errors.items()
        }
    }
    summary = _build(counters)["error_summary"]
    assert len(summary) == MAX_ERROR_TYPES
    assert list(summary)[:3] == ["Error00", "Zeta", "Error01"]
    kept = {name for name in summary if name != "other"}
    assert summary["other"] == sum(
        count for name, count in errors.items() if name not in kept
    )
    assert sum(summary.values()) == sum(errors.values())


def test_report_error_summary_exactly_at_cap_has_no_other() -> None:
    """Twenty types fit without an "other" bucket."""
    counters = {
        date(2025, 3, 3): {
            f"error_occurred/error_type=E{index}": 1 for index in range(20)
        }
    }
    summary = _build(counters)["error_summary"]
    assert len(summary) == 20
    assert "other" not in summary


def test_report_printer_fleet_capped() -> None:
    """Fleet types are capped, zero counts dropped, long and literal "other" folded."""
    fleet = {f"type_{index}": index + 1 for index in range(10)}
    fleet |= {"retired": 0, "other": 4, "t" * 65: 2}
    built = _build({}, fleet=fleet)["printer_fleet"]
    assert built["printer_count"] == sum(range(1, 11)) + 6
    assert len(built["printer_type_counts"]) == MAX_PRINTER_TYPES
    assert built["printer_type_counts"]["other"] == 1 + 2 + 3 + 4 + 2
    assert built["printer_types"] == sorted(built["printer_type_counts"])
    assert "retired" not in built["printer_types"]


def test_report_small_fleet_keeps_literal_other() -> None:
    """Below the cap a reported "other" type is still kept."""
    built = _build({}, fleet={"bambu_lab": 1, "other": 2})["printer_fleet"]
    assert built["printer_type_counts"] == {"bambu_lab": 1, "other": 2}


def test_report_counts_clamped_for_the_service() -> None:
    """Counts never exceed a 32-bit column nor go negative."""
    counters = {
        date(2025, 3, 3): {"job_completed": MAX_COUNT, "file_downloaded": -5},
        date(2025, 3, 4): {"job_completed": MAX_COUNT},
    }
    stats = _build(counters)["usage_stats"]
    assert stats["job_count"] == MAX_COUNT
    assert stats["file_count"] == 0


def _worst_case_counters(period: Period) -> dict[date, dict[str, int]]:
    per_day: dict[str, int] = dict.fromkeys(EVENT_TYPES, MAX_COUNT)
    for index in range(200):
        per_day[f"error_occurred/error_type=E{index:03d}{'x' * 60}"] = MAX_COUNT
    for feature in FEATURES:
        per_day[f"feature_enabled/feature={feature}"] = MAX_COUNT
        per_day[f"feature_disabled/feature={feature}"] = MAX_COUNT
    for flag in ("library", "timelapse", "auto_download"):
        per_day[f"app_start/{flag}_enabled=true"] = MAX_COUNT
    return dict.fromkeys(period.days(), per_day)


def test_report_worst_case_size_under_limit() -> None:
    """Every bucket full with the longest strings still fits well under 10 KiB."""
    period = Period(start=date(2025, 1, 1), end=date(2025, 4, 1))
    assert period.duration_days == 90
    built = build_report(
        counters=_worst_case_counters(period),
        period=period,
        installation=_facts(
            app_version="v" * 64, python_version="p" * 64, platform="l" * 64
        ),
        fleet={f"{index:02d}{'t' * 62}": MAX_COUNT for index in range(50)},
        uptime_hours=1e12,
        consent_day=date(2024, 1, 1),
        today=date(2025, 4, 1),
    )
    size = report_size(built)
    print(f"worst-case report size: {size} bytes")  # noqa: T201
    assert len(built["error_summary"]) == MAX_ERROR_TYPES
    assert len(built["printer_fleet"]["printer_type_counts"]) == MAX_PRINTER_TYPES
    assert len(built["usage_stats"]["feature_usage"]) == len(FEATURES)
    assert all(len(key) == 64 for key in built["error_summary"] if key != "other")
    assert size == len(serialize_report(built))
    assert size < WORST_CASE_BOUND < MAX_REPORT_BYTES


def test_report_too_large_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A report over the limit raises instead of being sent."""
    monkeypatch.setattr(report, "MAX_REPORT_BYTES", 100)
    with pytest.raises(ReportTooLargeError):
        _build({})


def test_serialize_report_is_compact_utf8() -> None:
    """The bytes sent are compact JSON with UTF-8, not escaped, text."""
    data = {"a": [1, 2], "b": {"c": "Zürich"}}
    raw = serialize_report(data)
    assert raw == '{"a":[1,2],"b":{"c":"Zürich"}}'.encode()
    assert report_size(data) == len(raw) == 31
    assert json.loads(raw) == data


def test_serialize_report_refuses_nan() -> None:
    """NaN is not JSON; it must never reach the wire."""
    with pytest.raises(ValueError):
        serialize_report({"x": float("nan")})


def test_period_properties() -> None:
    """A period knows its length and yields each day once."""
    period = Period(start=date(2025, 2, 27), end=date(2025, 3, 2))
    assert period.duration_days == 3
    assert list(period.days()) == [
        date(2025, 2, 27),
        date(2025, 2, 28),
        date(2025, 3, 1),
    ]


@pytest.mark.parametrize("length", [0, -1, -7])
def test_period_must_not_be_empty(length: int) -> None:
    """An empty or reversed period is refused."""
    with pytest.raises(ValueError, match="after its start"):
        Period(start=date(2025, 3, 3), end=date(2025, 3, 3) + timedelta(days=length))


@pytest.mark.parametrize(
    "installation_id",
    [
        "not-a-uuid",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",  # UUID1, derived from hardware
        "{0b6d1c2e-3f4a-4b5c-8d6e-7f8091a2b3c4}",
        "0b6d1c2e3f4a4b5c8d6e7f8091a2b3c4",
    ],
)
def test_installation_id_must_be_uuid4(installation_id: str) -> None:
    """Only a canonical random UUID may identify the installation."""
    with pytest.raises(ValueError, match="UUID4"):
        _facts(installation_id=installation_id)


@pytest.mark.parametrize(
    ("country", "time_zone", "expected"),
    [
        ("de", None, "DE"),
        (" us ", "Europe/Berlin", "US"),
        ("Germany", "Europe/Berlin", "DE"),
        ("D1", None, "XX"),
        (None, "Europe/Berlin", "DE"),
        (None, "America/New_York", "US"),
        ("", "Asia/Tokyo", "JP"),
        (None, "Europe/Kiev", "UA"),
        (None, "US/Eastern", "US"),
        (None, "UTC", "XX"),
        (None, "Etc/GMT+5", "XX"),
        (None, "Mars/Olympus_Mons", "XX"),
        (None, None, "XX"),
        (None, "", "XX"),
    ],
)
def test_country_code(
    country: str | None, time_zone: str | None, expected: str
) -> None:
    """HA's country wins, then the time zone's country, else "XX"."""
    assert country_code(country, time_zone) == expected


@pytest.fixture
def fresh_zone_cache() -> Any:
    """Forget the cached zone table around a test that swaps its source."""
    report._zone_countries.cache_clear()
    yield
    report._zone_countries.cache_clear()


@pytest.mark.usefixtures("fresh_zone_cache")
def test_country_code_falls_back_to_system_zoneinfo(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without the tzdata package, the system's zone.tab is used."""

    def _no_tzdata(_: str) -> Any:
        raise ModuleNotFoundError("tzdata")

    monkeypatch.setattr(report.importlib.resources, "files", _no_tzdata)
    monkeypatch.setattr(report, "SYSTEM_ZONEINFO", tmp_path)
    (tmp_path / "zone.tab").write_text(
        "# comment\tline\there\n"
        "DE\t+5230+01322\tEurope/Berlin\n"
        "short line\n"
        "de\t+0000+00000\tBad/Lowercase\n",
        encoding="utf-8",
    )
    assert country_code(None, "Europe/Berlin") == "DE"
    assert country_code(None, "Bad/Lowercase") == "XX"
    assert country_code(None, "# comment") == "XX"


@pytest.mark.usefixtures("fresh_zone_cache")
def test_country_code_without_any_zone_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no zone table anywhere, a time zone alone gives "XX"."""

    def _no_tzdata(_: str) -> Any:
        raise ModuleNotFoundError("tzdata")

    monkeypatch.setattr(report.importlib.resources, "files", _no_tzdata)
    monkeypatch.setattr(report, "SYSTEM_ZONEINFO", tmp_path / "missing")
    assert country_code(None, "Europe/Berlin") == "XX"
    assert country_code("at", "Europe/Berlin") == "AT"
