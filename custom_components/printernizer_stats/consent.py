"""What the user agreed to, as one value: the only place consent is worked out.

Sharing needs the box ticked for the current version of the disclosure.
The report's first day is the day *after* consent: nothing recorded before
the moment of consent can be in a report (the consent day itself may hold
events from before it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import MAXYEAR, date, timedelta
from typing import Any, Final

# The version of the privacy disclosure the user accepts. Raise it whenever
# what a report says changes: sharing pauses until the user agrees again.
# 2: uptime and the deployment mode are measured (they were fixed values).
CONSENT_VERSION: Final = 2

CONF_SHARE: Final = "share_statistics"
CONF_CONSENT_VERSION: Final = "consent_version"
CONF_CONSENT_DAY: Final = "consent_day"


def _day(value: object) -> date | None:
    """An ISO day (one with a day after it to report), or None."""
    if not isinstance(value, str):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if day.year < MAXYEAR else None


@dataclass(frozen=True, slots=True)
class Consent:
    """The sharing decision stored in the config entry's options."""

    share: bool = False
    version: int | None = None
    day: date | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Consent:
        """Read the entry's options (anything malformed means no consent)."""
        version = options.get(CONF_CONSENT_VERSION)
        return cls(
            share=options.get(CONF_SHARE) is True,
            version=version if type(version) is int else None,
            day=_day(options.get(CONF_CONSENT_DAY)),
        )

    @property
    def opted_in(self) -> bool:
        """The user agreed to some version of the disclosure."""
        return self.share and self.day is not None

    @property
    def current(self) -> bool:
        """The user agreed to this version of the disclosure: reports may be sent."""
        return self.opted_in and self.version == CONSENT_VERSION

    @property
    def first_day(self) -> date | None:
        """The first UTC day a report may cover: the day after consent."""
        return None if self.day is None else self.day + timedelta(days=1)

    def answered(self, share: bool, today: date) -> dict[str, Any]:
        """The consent options after the user answered the disclosure (today, UTC).

        Agreeing again to the same version keeps the original day; declining
        clears version and day.
        """
        if not share:
            return {
                CONF_SHARE: False,
                CONF_CONSENT_VERSION: None,
                CONF_CONSENT_DAY: None,
            }
        day = self.day if self.current and self.day is not None else today
        return {
            CONF_SHARE: True,
            CONF_CONSENT_VERSION: CONSENT_VERSION,
            CONF_CONSENT_DAY: day.isoformat(),
        }
