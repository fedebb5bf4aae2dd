"""Build the weekly report sent to the Printernizer statistics service."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
import functools
import importlib.resources
import json
import math
from pathlib import Path
import re
from typing import Any, Final
import uuid

SCHEMA_VERSION: Final = "1.0"
DEPLOYMENT_MODE: Final = "homeassistant"
MAX_REPORT_BYTES: Final = 10_240
MAX_ERROR_TYPES: Final = 20
MAX_PRINTER_TYPES: Final = 8
# Longest string the report carries; longer values are folded away, which is
# what makes the worst-case size provable.
MAX_STRING_LENGTH: Final = 64
# The service stores counts in 32-bit integer columns.
MAX_COUNT: Final = 2**31 - 1
OTHER: Final = "other"
UNKNOWN: Final = "unknown"
UNKNOWN_COUNTRY: Final = "XX"

EVENT_JOB_COMPLETED: Final = "job_completed"
EVENT_FILE_DOWNLOADED: Final = "file_downloaded"
EVENT_FILE_UPLOADED: Final = "file_uploaded"
ERROR_TYPE_PREFIX: Final = "error_occurred/error_type="
FEATURE_ENABLED_PREFIX: Final = "feature_enabled/feature="
FEATURE_DISABLED_PREFIX: Final = "feature_disabled/feature="
APP_START_PREFIX: Final = "app_start/"

FEATURES: Final = frozenset(
    {
        "auto_download",
        "camera",
        "library",
        "notifications",
        "slicing",
        "timelapse",
        "watch_folders",
    }
)
APP_START_FEATURE_FLAGS: Final[Mapping[str, str]] = {
    "library_enabled": "library",
    "timelapse_enabled": "timelapse",
    "auto_download_enabled": "auto_download",
}

ZONE_TAB: Final = "zone.tab"
TZDATA_LINKS: Final = "tzdata.zi"
SYSTEM_ZONEINFO: Final = Path("/usr/share/zoneinfo")

_COUNTRY_RE: Final = re.compile(r"[A-Z]{2}")


class ReportTooLargeError(ValueError):
    """The report would exceed MAX_REPORT_BYTES, which the caps should make impossible."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallationFacts:
    """Describe the installation without identifying the person behind it."""

    installation_id: str
    first_seen: date
    app_version: str
    python_version: str | None
    platform: str
    country_code: str

    def __post_init__(self) -> None:
        """Refuse an id that is not a random UUID, since it is the only identifier sent."""
        try:
            parsed = uuid.UUID(self.installation_id)
        except ValueError:
            raise ValueError("installation_id must be a UUID4 string") from None
        if parsed.version != 4 or str(parsed) != self.installation_id.lower():
            raise ValueError("installation_id must be a UUID4 string")


@dataclass(frozen=True, slots=True, kw_only=True)
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
        """Return the day count the service expects in the period block."""
        return (self.end - self.start).days

    def days(self) -> Iterator[date]:
        """Yield each day once so callers never re-derive the exclusive end."""
        day = self.start
        while day < self.end:
            yield day
            day += timedelta(days=1)


def _midnight(day: date) -> str:
    """Format a day boundary; no finer time ever leaves the machine."""
    return f"{day.isoformat()}T00:00:00+00:00"


def _clamp_count(value: int) -> int:
    """Keep a count inside what the service can store."""
    return max(0, min(value, MAX_COUNT))


def _bounded(value: str | None, fallback: str) -> str:
    """Replace an oversized or empty string so the report size stays bounded."""
    if not value or len(value) > MAX_STRING_LENGTH:
        return fallback
    return value


def _cap(counts: Mapping[str, int], limit: int) -> dict[str, int]:
    """Keep the largest buckets and fold the rest into "other" to bound the payload."""
    positive = {
        key: value for key, value in counts.items() if value > 0 and key != OTHER
    }
    folded = sum(value for key, value in counts.items() if value > 0 and key == OTHER)
    for key in [key for key in positive if len(key) > MAX_STRING_LENGTH]:
        folded += positive.pop(key)
    ranked = sorted(positive.items(), key=lambda item: (-item[1], item[0]))
    if len(ranked) + (folded > 0) > limit:
        folded += sum(value for _, value in ranked[limit - 1 :])
        ranked = ranked[: limit - 1]
    result = {key: _clamp_count(value) for key, value in ranked}
    if folded:
        result[OTHER] = _clamp_count(folded)
    return result


def _feature_signal(key: str) -> tuple[str, bool] | None:
    """Read one counter key as a (feature, enabled) signal, if it is one."""
    if key.startswith(FEATURE_ENABLED_PREFIX):
        return key.removeprefix(FEATURE_ENABLED_PREFIX), True
    if key.startswith(FEATURE_DISABLED_PREFIX):
        return key.removeprefix(FEATURE_DISABLED_PREFIX), False
    flag, _, value = key.removeprefix(APP_START_PREFIX).partition("=")
    feature = APP_START_FEATURE_FLAGS.get(flag)
    if key.startswith(APP_START_PREFIX) and feature and value in ("true", "false"):
        return feature, value == "true"
    return None


def _feature_usage(totals: Mapping[str, int]) -> dict[str, bool]:
    """Reduce enable/disable signals to one flag per feature; any "on" wins."""
    seen: dict[str, bool] = {}
    for key, count in totals.items():
        if count > 0 and (signal := _feature_signal(key)) and signal[0] in FEATURES:
            feature, enabled = signal
            seen[feature] = seen.get(feature, False) or enabled
    return dict(sorted(seen.items()))


def build_report(
    *,
    counters: Mapping[date, Mapping[str, int]],
    period: Period,
    installation: InstallationFacts,
    fleet: Mapping[str, int],
    uptime_hours: float | None,
    consent_day: date,
    today: date,
) -> dict[str, Any]:
    """Count only days inside the period and on or after consent_day, so nothing recorded before opt-in is ever sent."""
    first_day = max(period.start, consent_day)
    totals: Counter[str] = Counter()
    for day, day_counts in counters.items():
        if first_day <= day < period.end:
            totals.update(day_counts)

    errors = {
        key.removeprefix(ERROR_TYPE_PREFIX): count
        for key, count in totals.items()
        if key.startswith(ERROR_TYPE_PREFIX)
    }
    type_counts = _cap(fleet, MAX_PRINTER_TYPES)
    hours = 0
    if uptime_hours is not None and math.isfinite(uptime_hours):
        hours = max(0, min(round(uptime_hours), period.duration_days * 24))

    installation_block: dict[str, Any] = {
        "installation_id": installation.installation_id,
        "first_seen": _midnight(installation.first_seen),
        "app_version": _bounded(installation.app_version, UNKNOWN),
    }
    if installation.python_version is not None:
        installation_block["python_version"] = _bounded(
            installation.python_version, UNKNOWN
        )
    installation_block |= {
        "platform": _bounded(installation.platform, UNKNOWN),
        "deployment_mode": DEPLOYMENT_MODE,
        "country_code": installation.country_code
        if _COUNTRY_RE.fullmatch(installation.country_code)
        else UNKNOWN_COUNTRY,
    }

    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "submission_timestamp": _midnight(today),
        "installation": installation_block,
        "period": {
            "start": _midnight(period.start),
            "end": _midnight(period.end),
            "duration_days": period.duration_days,
        },
        "printer_fleet": {
            "printer_count": _clamp_count(sum(n for n in fleet.values() if n > 0)),
            "printer_types": sorted(type_counts),
            "printer_type_counts": type_counts,
        },
        "usage_stats": {
            "job_count": _clamp_count(totals[EVENT_JOB_COMPLETED]),
            "file_count": _clamp_count(totals[EVENT_FILE_DOWNLOADED]),
            "upload_count": _clamp_count(totals[EVENT_FILE_UPLOADED]),
            "uptime_hours": hours,
            "feature_usage": _feature_usage(totals),
        },
        "error_summary": _cap(errors, MAX_ERROR_TYPES),
    }
    if report_size(report) >= MAX_REPORT_BYTES:
        raise ReportTooLargeError("report exceeds the size limit")
    return report


def serialize_report(report: Mapping[str, Any]) -> bytes:
    """Return the exact bytes POSTed, so size checks and the request agree."""
    return json.dumps(
        report, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def report_size(report: Mapping[str, Any]) -> int:
    """Measure what goes over the wire, not the pretty-printed preview."""
    return len(serialize_report(report))


def _read_tz_file(name: str) -> str | None:
    """Read a tz database file from the tzdata package, else from the system."""
    try:
        return (
            importlib.resources.files("tzdata")
            .joinpath("zoneinfo", name)
            .read_text(encoding="utf-8")
        )
    except (ModuleNotFoundError, OSError):
        pass
    try:
        return (SYSTEM_ZONEINFO / name).read_text(encoding="utf-8")
    except OSError:
        return None


@functools.cache
def _zone_countries() -> dict[str, str]:
    """Map every zone name, aliases included, to its country; read once."""
    countries: dict[str, str] = {}
    for line in (_read_tz_file(ZONE_TAB) or "").splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and not line.startswith("#"):
            countries[fields[2]] = fields[0]
    # Links ("L target alias") let old names such as Europe/Kiev resolve too.
    for line in (_read_tz_file(TZDATA_LINKS) or "").splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] == "L" and fields[1] in countries:
            countries.setdefault(fields[2], countries[fields[1]])
    return countries


def country_code(country: str | None, time_zone: str | None) -> str:
    """Use HA's country, else its time zone's, never an IP address; the first zone lookup reads files, so call it in an executor."""
    if country:
        candidate = country.strip().upper()
        if _COUNTRY_RE.fullmatch(candidate):
            return candidate
    if time_zone:
        found = _zone_countries().get(time_zone.strip())
        if found and _COUNTRY_RE.fullmatch(found):
            return found
    return UNKNOWN_COUNTRY
