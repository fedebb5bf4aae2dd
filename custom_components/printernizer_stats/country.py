"""The country a report names: Home Assistant's configured country, else its time zone's.

Never derived from an IP address; anything not in ISO 3166-1 is `XX`.
"""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path
from typing import Final

from .vocabulary import COUNTRY_CODES, UNKNOWN_COUNTRY

ZONE_TAB: Final = "zone.tab"
TZDATA_LINKS: Final = "tzdata.zi"
SYSTEM_ZONEINFO: Final = Path("/usr/share/zoneinfo")


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
        if candidate in COUNTRY_CODES:
            return candidate
    if time_zone:
        found = _zone_countries().get(time_zone.strip())
        if found in COUNTRY_CODES:
            return found
    return UNKNOWN_COUNTRY
