"""Every fixed list a counted or reported word is taken from.

The one home of what may be stored or leave the machine: the privacy filter,
the Printernizer client, the counters, the report and storage all take their
words from here, so a value that is not in one of these lists (or in a
strict numeric form checked in privacy.py) cannot be kept or sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from .error_types import ERROR_TYPES

OTHER: Final = "other"
UNKNOWN: Final = "unknown"
UNKNOWN_COUNTRY: Final = "XX"

EVENT_TYPES: Final[tuple[str, ...]] = (
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
PRINTER_TYPES: Final[tuple[str, ...]] = (
    "bambu_lab",
    "prusa_core",
    "octoprint",
    UNKNOWN,
)
PRINTER_STATUSES: Final[tuple[str, ...]] = (
    "online",
    "offline",
    "printing",
    "paused",
    "error",
    UNKNOWN,
)
JOB_STATUSES: Final[tuple[str, ...]] = (
    "pending",
    "running",
    "printing",
    "paused",
    "completed",
    "failed",
    "cancelled",
    UNKNOWN,
)
FILE_STATUSES: Final[tuple[str, ...]] = (
    "available",
    "downloading",
    "downloaded",
    "local",
    "error",
    "deleted",
    "unavailable",
    UNKNOWN,
)
COMPONENTS: Final[tuple[str, ...]] = (
    "api",
    "camera",
    "database",
    "file_service",
    "job_service",
    "library",
    "mqtt",
    "notification",
    "printer_service",
    "websocket",
    OTHER,
)
FEATURES: Final[tuple[str, ...]] = (
    "auto_download",
    "camera",
    "library",
    "notifications",
    "slicing",
    "timelapse",
    "watch_folders",
)
# Printernizer's own words (usage_statistics_service._get_deployment_mode).
DEPLOYMENT_MODES: Final[tuple[str, ...]] = (
    "homeassistant",
    "docker",
    "standalone",
    "pi",
    UNKNOWN,
)
# Earlier spellings accepted as input and stored under Printernizer's word.
DEPLOYMENT_MODE_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {"raspberry_pi": "pi", "home_assistant": "homeassistant"}
)
# What `platform.system().lower()` says, as Printernizer reports it.
PLATFORMS: Final[tuple[str, ...]] = ("linux", "darwin", "windows", "freebsd", UNKNOWN)
DURATION_RANGES: Final[tuple[str, ...]] = (
    "0-15m",
    "15-60m",
    "1-3h",
    "3-8h",
    "8-24h",
    "24h+",
)
SIZE_BUCKETS: Final[tuple[str, ...]] = ("0-1MB", "1-10MB", "10-100MB", "100MB+")
UPTIME_RANGES: Final[tuple[str, ...]] = ("0-1h", "1-24h", "1-7d", "7d+")
BOOLEAN_VALUES: Final[tuple[str, ...]] = ("true", "false")
# app_start's feature flags and the feature each one reports.
APP_START_FEATURE_FLAGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "library_enabled": "library",
        "timelapse_enabled": "timelapse",
        "auto_download_enabled": "auto_download",
    }
)
# ISO 3166-1 alpha-2, the only country codes a report may carry.
COUNTRY_CODES: Final = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ
    BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR
    CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU
    ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ
    LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF
    PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI
    SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR
    TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()  # noqa: SIM905 - a literal of 249 quoted strings reads worse
)

__all__ = [
    "APP_START_FEATURE_FLAGS",
    "BOOLEAN_VALUES",
    "COMPONENTS",
    "COUNTRY_CODES",
    "DEPLOYMENT_MODES",
    "DEPLOYMENT_MODE_ALIASES",
    "DURATION_RANGES",
    "ERROR_TYPES",
    "EVENT_TYPES",
    "FEATURES",
    "FILE_STATUSES",
    "JOB_STATUSES",
    "OTHER",
    "PLATFORMS",
    "PRINTER_STATUSES",
    "PRINTER_TYPES",
    "SIZE_BUCKETS",
    "UNKNOWN",
    "UNKNOWN_COUNTRY",
    "UPTIME_RANGES",
]
