"""Build the weekly report and check it against the statistics service's request model.

The service is Printernizer's aggregation service (FastAPI/pydantic; its JSON
Schema is in tests/fixtures/contract). Every word in a report comes from a
fixed list (vocabulary.py) or a strict numeric form; every time is a UTC day
boundary written as an RFC 3339 date-time with offset, which is what the
service's `datetime` fields accept (a bare date is refused with 422).
`check_report` mirrors the schema so a report that would not fit is never
sent; the tests prove the builder and the mirror agree with the schema.
`verify_report` adds our own rules (every word from our lists, exact keys,
day boundaries, consistent sums): a report read back from the storage file
passes exactly the same check as a freshly built one.

About 320 lines: half of it mirrors the service's request model, so a
report that would not fit is never sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
import json
import re
from typing import Any, Final
import uuid

from .counters import Tally
from .errors import ContractError
from .privacy import release
from .vocabulary import (
    APP_START_FEATURE_FLAGS,
    COUNTRY_CODES,
    DEPLOYMENT_MODES,
    ERROR_TYPES,
    FEATURES,
    OTHER,
    PLATFORMS,
    PRINTER_TYPES,
    UNKNOWN,
    UNKNOWN_COUNTRY,
)

SCHEMA_VERSION: Final = "1.0"
MAX_REPORT_BYTES: Final = 10_240
MAX_ERROR_TYPES: Final = 20
# The service stores counts in 32-bit integer columns.
MAX_COUNT: Final = 2**31 - 1

# ASCII digits and RFC 3339's ranges: fromisoformat alone accepts hour 24 on 3.14.
_DATE_TIME_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(?:\.[0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
_ERROR_TYPES: Final = frozenset(ERROR_TYPES)

type Report = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallationFacts:
    """Describe the installation without identifying the person behind it."""

    installation_id: str
    first_seen: date
    app_version: str
    platform: str
    deployment_mode: str
    country_code: str

    def __post_init__(self) -> None:
        """Refuse an id that is not a random UUID, since it is the only identifier sent."""
        try:
            parsed = uuid.UUID(self.installation_id)
        except ValueError:
            raise ValueError("installation_id must be a UUID4 string") from None
        if parsed.version != 4 or str(parsed) != self.installation_id:
            raise ValueError("installation_id must be a UUID4 string")


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open range of whole UTC days, so consecutive periods never overlap."""

    start: date
    end: date

    def __post_init__(self) -> None:
        """Refuse empty or reversed periods, which would report nothing or count twice."""
        if self.end <= self.start:
            raise ValueError("period end must be after its start")

    @property
    def duration_days(self) -> int:
        """The day count the service expects in the period block."""
        return (self.end - self.start).days

    def days(self) -> Iterator[date]:
        """Each day once, so callers never re-derive the exclusive end."""
        day = self.start
        while day < self.end:
            yield day
            day += timedelta(days=1)


def midnight(day: date) -> str:
    """A day boundary as the service's datetime fields want it; no finer time leaves."""
    return f"{day.isoformat()}T00:00:00+00:00"


def _count(value: int) -> int:
    """Keep a count inside what the service can store."""
    return max(0, min(value, MAX_COUNT))


def _word(value: str, words: tuple[str, ...] | frozenset[str], fallback: str) -> str:
    """A list word, else the fallback."""
    return value if value in words else fallback


def _error_summary(errors: Mapping[str, int]) -> dict[str, int]:
    """The largest error kinds, the rest (and anything unlisted) folded into "other"."""
    folded = 0
    kept: dict[str, int] = {}
    for kind, count in errors.items():
        if count <= 0:
            continue
        if kind in _ERROR_TYPES and kind != OTHER:
            # Clamped before ranking, so a report read back ranks the same.
            kept[kind] = _count(count)
        else:
            folded += count
    ranked = sorted(kept.items(), key=lambda item: (-item[1], item[0]))
    if len(ranked) + (folded > 0) > MAX_ERROR_TYPES:
        folded += sum(count for _, count in ranked[MAX_ERROR_TYPES - 1 :])
        ranked = ranked[: MAX_ERROR_TYPES - 1]
    summary = {kind: _count(count) for kind, count in ranked}
    if folded:
        summary[OTHER] = _count(folded)
    return summary


def _feature_usage(tally: Tally) -> dict[str, bool]:
    """One flag per feature: on if it was ever switched on in the period."""
    seen: dict[str, bool] = {}
    signals = [
        *(
            (f, True)
            for f, n in tally.by_value("feature_enabled", "feature").items()
            if n
        ),
        *(
            (f, False)
            for f, n in tally.by_value("feature_disabled", "feature").items()
            if n
        ),
    ]
    for flag, feature in APP_START_FEATURE_FLAGS.items():
        for value, count in tally.by_value("app_start", flag).items():
            if count and value in ("true", "false"):
                signals.append((feature, value == "true"))
    for feature, enabled in signals:
        if feature in FEATURES:
            seen[feature] = seen.get(feature, False) or enabled
    return dict(sorted(seen.items()))


def build_report(
    *,
    tally: Tally,
    period: Period,
    installation: InstallationFacts,
    fleet: Mapping[str, int],
    today: date,
) -> Report:
    """The report for one period: counts of its days only, our own words only."""
    type_counts = {
        ptype: _count(count)
        for ptype, count in fleet.items()
        if ptype in PRINTER_TYPES and count > 0
    }
    app_version = installation.app_version
    report: Report = {
        "schema_version": SCHEMA_VERSION,
        "submission_timestamp": midnight(today),
        "installation": {
            "installation_id": installation.installation_id,
            "first_seen": midnight(installation.first_seen),
            "app_version": app_version
            if release(app_version) == app_version
            else UNKNOWN,
            "platform": _word(installation.platform, PLATFORMS, UNKNOWN),
            "deployment_mode": _word(
                installation.deployment_mode, DEPLOYMENT_MODES, UNKNOWN
            ),
            "country_code": _word(
                installation.country_code, COUNTRY_CODES, UNKNOWN_COUNTRY
            ),
        },
        "period": {
            "start": midnight(period.start),
            "end": midnight(period.end),
            "duration_days": period.duration_days,
        },
        "printer_fleet": {
            "printer_count": _count(sum(type_counts.values())),
            "printer_types": sorted(type_counts),
            "printer_type_counts": dict(sorted(type_counts.items())),
        },
        "usage_stats": {
            "job_count": _count(tally.count("job_completed")),
            "file_count": _count(tally.count("file_downloaded")),
            "upload_count": _count(tally.count("file_uploaded")),
            "uptime_hours": max(
                0, min(tally.uptime_minutes // 60, period.duration_days * 24)
            ),
            "feature_usage": _feature_usage(tally),
        },
        "error_summary": _error_summary(tally.by_value("error_occurred", "error_type")),
    }
    verify_report(report)
    return report


def serialize_report(report: Mapping[str, Any]) -> bytes:
    """The exact bytes POSTed, so size checks and the request agree."""
    return json.dumps(
        report, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


# --- the service's request model, mirrored ------------------------------------


def _fail(where: str, what: str) -> ContractError:
    """A contract violation naming the field (never a value)."""
    return ContractError(f"{where}: {what}")


def _object(value: object, where: str, required: tuple[str, ...]) -> Mapping[str, Any]:
    """An object with the required keys."""
    if not isinstance(value, Mapping):
        raise _fail(where, "not an object")
    for key in required:
        if key not in value:
            raise _fail(f"{where}.{key}", "missing")
    return value


def _string(value: object, where: str) -> str:
    """A string."""
    if not isinstance(value, str):
        raise _fail(where, "not a string")
    return value


def _date_time(value: object, where: str) -> None:
    """An RFC 3339 date-time with offset (what pydantic's datetime and the schema accept)."""
    text = _string(value, where)
    if not _DATE_TIME_RE.fullmatch(text):
        raise _fail(where, "not an RFC 3339 date-time with offset")
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise _fail(where, "not a valid date-time") from None


def _count_field(value: object, where: str) -> None:
    """A non-negative integer (bool is not one)."""
    if type(value) is not int or value < 0:
        raise _fail(where, "not a non-negative integer")


def _map(value: object, where: str, value_type: type) -> None:
    """An object of string keys to values of one type."""
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) and type(item) is value_type for key, item in value.items()
    ):
        raise _fail(where, f"not a map of {value_type.__name__}")


def check_report(report: Mapping[str, Any]) -> None:
    """Raise ContractError unless the report fits the service's request model and size limit."""
    top = _object(
        report, "report", ("period", "installation", "printer_fleet", "usage_stats")
    )
    _string(top.get("schema_version", ""), "schema_version")
    if top.get("submission_timestamp") is not None:
        _date_time(top["submission_timestamp"], "submission_timestamp")
    period = _object(top["period"], "period", ("start", "end"))
    _date_time(period["start"], "period.start")
    _date_time(period["end"], "period.end")
    _count_field(period.get("duration_days", 0), "period.duration_days")
    installation = _object(
        top["installation"],
        "installation",
        (
            "installation_id",
            "app_version",
            "platform",
            "deployment_mode",
            "country_code",
        ),
    )
    for key in (
        "installation_id",
        "app_version",
        "platform",
        "deployment_mode",
        "country_code",
    ):
        _string(installation[key], f"installation.{key}")
    if installation.get("first_seen") is not None:
        _date_time(installation["first_seen"], "installation.first_seen")
    if installation.get("python_version") is not None:
        _string(installation["python_version"], "installation.python_version")
    fleet = _object(top["printer_fleet"], "printer_fleet", ())
    _count_field(fleet.get("printer_count", 0), "printer_fleet.printer_count")
    types = fleet.get("printer_types", [])
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise _fail("printer_fleet.printer_types", "not a list of strings")
    _map(fleet.get("printer_type_counts", {}), "printer_fleet.printer_type_counts", int)
    usage = _object(top["usage_stats"], "usage_stats", ())
    for key in ("job_count", "file_count", "upload_count", "uptime_hours"):
        _count_field(usage.get(key, 0), f"usage_stats.{key}")
    _map(usage.get("feature_usage", {}), "usage_stats.feature_usage", bool)
    _map(top.get("error_summary", {}), "error_summary", int)
    if len(serialize_report(report)) >= MAX_REPORT_BYTES:
        raise _fail("report", "larger than the size limit")


# --- our own rules: what a report built by this module looks like -------------

_MIDNIGHT_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T00:00:00\+00:00")
# A random (version 4) UUID in canonical form: the only identifier a report carries.
UUID4_RE: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
# The keys the builder writes, in the order it writes them: a stored report
# read back must have both, so no byte of it is free to carry anything.
_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "report": (
        "schema_version",
        "submission_timestamp",
        "installation",
        "period",
        "printer_fleet",
        "usage_stats",
        "error_summary",
    ),
    "installation": (
        "installation_id",
        "first_seen",
        "app_version",
        "platform",
        "deployment_mode",
        "country_code",
    ),
    "period": ("start", "end", "duration_days"),
    "printer_fleet": ("printer_count", "printer_types", "printer_type_counts"),
    "usage_stats": (
        "job_count",
        "file_count",
        "upload_count",
        "uptime_hours",
        "feature_usage",
    ),
}


def _exact(value: object, where: str) -> Mapping[str, Any]:
    """An object with exactly the keys the builder writes, in its order."""
    if not isinstance(value, Mapping) or tuple(value) != _KEYS[where]:
        raise _fail(where, "not the keys this integration writes, in its order")
    return value


def _day_boundary(value: object, where: str) -> date:
    """A UTC midnight as `midnight` writes it."""
    if not isinstance(value, str) or not _MIDNIGHT_RE.fullmatch(value):
        raise _fail(where, "not a UTC day boundary")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise _fail(where, "not a calendar day") from None


def _bounded(value: object, where: str, low: int = 0) -> int:
    """A count in [low, MAX_COUNT]."""
    if type(value) is not int or not low <= value <= MAX_COUNT:
        raise _fail(where, "not a count in range")
    return value


def _words(
    value: object, where: str, words: frozenset[str], *, ordered: bool = True
) -> Mapping[str, Any]:
    """An object whose keys are list words (in sorted order, unless told otherwise)."""
    if not isinstance(value, Mapping) or not set(value) <= words:
        raise _fail(where, "holds a word that is not on its list")
    if ordered and list(value) != sorted(value):
        raise _fail(where, "not in the builder's order")
    return value


def verify_report(report: Mapping[str, Any]) -> None:
    """Raise ContractError unless the report is one this module could have built.

    Run on every built report and on every report read back from storage, so
    a hand-edited pending report (names, addresses, free text) is never shown
    or sent: the keys and their order must be the builder's, every word must
    come from our lists, every time must be a day boundary, and the sums must
    agree.
    """
    top = _exact(report, "report")
    if top["schema_version"] != SCHEMA_VERSION:
        raise _fail("schema_version", "not this integration's schema")
    _day_boundary(top["submission_timestamp"], "submission_timestamp")
    installation = _exact(top["installation"], "installation")
    installation_id = installation["installation_id"]
    if not isinstance(installation_id, str) or not UUID4_RE.fullmatch(installation_id):
        raise _fail("installation.installation_id", "not a random UUID4")
    _day_boundary(installation["first_seen"], "installation.first_seen")
    app_version = installation["app_version"]
    if app_version != UNKNOWN and release(app_version) != app_version:
        raise _fail("installation.app_version", "not a release number")
    for key, words in (
        ("platform", PLATFORMS),
        ("deployment_mode", DEPLOYMENT_MODES),
        ("country_code", (*COUNTRY_CODES, UNKNOWN_COUNTRY)),
    ):
        if installation[key] not in words:
            raise _fail(f"installation.{key}", "not on its list")
    period = _exact(top["period"], "period")
    start = _day_boundary(period["start"], "period.start")
    end = _day_boundary(period["end"], "period.end")
    days = _bounded(period["duration_days"], "period.duration_days", 1)
    if (end - start).days != days:
        raise _fail("period.duration_days", "not the days between start and end")
    fleet = _exact(top["printer_fleet"], "printer_fleet")
    counts = _words(
        fleet["printer_type_counts"],
        "printer_fleet.printer_type_counts",
        frozenset(PRINTER_TYPES),
    )
    total = sum(
        _bounded(n, "printer_fleet.printer_type_counts", 1) for n in counts.values()
    )
    if fleet["printer_types"] != list(counts) or fleet["printer_count"] != _count(
        total
    ):
        raise _fail("printer_fleet", "types and counts disagree")
    usage = _exact(top["usage_stats"], "usage_stats")
    for key in ("job_count", "file_count", "upload_count"):
        _bounded(usage[key], f"usage_stats.{key}")
    if _bounded(usage["uptime_hours"], "usage_stats.uptime_hours") > days * 24:
        raise _fail("usage_stats.uptime_hours", "longer than the period")
    _words(usage["feature_usage"], "usage_stats.feature_usage", frozenset(FEATURES))
    errors = _words(
        top["error_summary"], "error_summary", _ERROR_TYPES | {OTHER}, ordered=False
    )
    for count in errors.values():
        _bounded(count, "error_summary", 1)
    if list(errors.items()) != list(_error_summary(errors).items()):
        raise _fail("error_summary", "not ranked and capped as the builder does")
    check_report(report)
