"""The integration's single storage file, in Home Assistant's .storage folder."""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import os
from typing import Any
import uuid

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LOGGER, SAVE_DELAY
from .counters import UsageCounters
from .privacy import PRINTER_TYPES, clean_app_version
from .tracker import TransitionTracker

STORAGE_KEY = DOMAIN
STORAGE_VERSION = 2
ISSUE_STORAGE_RECOVERED = "storage_recovered"


@dataclass(slots=True)
class StoredData:
    """Everything the integration persists."""

    counters: UsageCounters = field(default_factory=UsageCounters)
    tracker: TransitionTracker = field(default_factory=TransitionTracker)
    installation_id: str | None = None
    first_seen: str | None = None
    # Last facts read from Printernizer, so a report can be built while it is down.
    snapshot: dict[str, Any] = field(default_factory=dict)
    # Owned by submission.py (pending report, last period, history).
    submission: dict[str, Any] = field(default_factory=dict)

    def as_storage(self) -> dict[str, Any]:
        """The JSON document written to disk."""
        return {
            **self.counters.as_storage(),
            "tracker": self.tracker.as_storage(),
            "installation": {"id": self.installation_id, "first_seen": self.first_seen},
            "snapshot": self.snapshot,
            "submission": self.submission,
        }

    @classmethod
    def from_storage(cls, data: object) -> StoredData:
        """Parse the JSON document; raise ValueError when it is not ours."""
        if not isinstance(data, dict):
            raise ValueError("storage data is not an object")  # noqa: TRY004
        installation = data.get("installation") or {}
        snapshot = data.get("snapshot") or {}
        submission = data.get("submission") or {}
        tracker = data.get("tracker") or {}
        if not all(
            isinstance(part, dict)
            for part in (installation, snapshot, submission, tracker)
        ):
            raise ValueError("storage sections have the wrong shape")
        installation_id = installation.get("id")
        first_seen = installation.get("first_seen")
        if not (
            isinstance(installation_id, str | None)
            and isinstance(first_seen, str | None)
        ):
            raise ValueError("installation facts have the wrong shape")  # noqa: TRY004
        return cls(
            counters=UsageCounters.from_storage(data),
            tracker=TransitionTracker(tracker),
            # An id that is not ours is dropped; opting in makes a new one.
            installation_id=_uuid4(installation_id),
            first_seen=first_seen,
            snapshot=_clean_snapshot(snapshot),
            submission=submission,
        )


def _uuid4(value: str | None) -> str | None:
    """The id if it is a canonical UUID4 string, else None."""
    if value is None:
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    return value if parsed.version == 4 and str(parsed) == value else None


def _clean_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Re-check the last poll's facts: they go into reports, and the file may be damaged."""
    if not snapshot:
        return {}
    version = snapshot.get("app_version")
    uptime = snapshot.get("uptime_hours")
    fleet = snapshot.get("fleet")
    return {
        "app_version": None if version is None else clean_app_version(version),
        "uptime_hours": uptime
        if isinstance(uptime, int | float)
        and not isinstance(uptime, bool)
        and 0 <= uptime < math.inf
        else None,
        "fleet": {
            ptype: count
            for ptype, count in fleet.items()
            if ptype in PRINTER_TYPES and type(count) is int and count > 0
        }
        if isinstance(fleet, dict)
        else {},
    }


def migrate_v1(old: dict[str, Any]) -> dict[str, Any]:
    """Version 1 kept a nested dict per day; version 2 is columnar."""
    if not isinstance(old, dict):
        raise ValueError("version 1 data is not an object")  # noqa: TRY004
    counters = UsageCounters.from_nested(old.get("days", {}), old.get("rejected", {}))
    return {**counters.as_storage(), "installation": old.get("installation") or {}}


class _MigratingStore(Store[dict[str, Any]]):
    """A Store that knows our older layouts."""

    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> dict[str, Any]:
        """Bring an older file up to STORAGE_VERSION."""
        if old_major_version == 1:
            return migrate_v1(old_data)
        raise NotImplementedError(f"Unknown storage version {old_major_version}")


class PrinternizerStatsStorage:
    """Loads, debounces and flushes the storage file; recovers from a bad one."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Prepare the Store (owner-only file, atomic writes)."""
        self._hass = hass
        self._store = _MigratingStore(
            hass, STORAGE_VERSION, STORAGE_KEY, private=True, atomic_writes=True
        )
        self.data = StoredData()

    @property
    def path(self) -> str:
        """Where the file lives."""
        return str(self._store.path)

    async def async_load(self) -> None:
        """Load the file; a corrupt or unreadable one is set aside and we start clean.

        Home Assistant's start-up must never fail because of this file, and
        the user is told through a repair issue instead of losing data silently.
        """
        existed = await self._hass.async_add_executor_job(os.path.exists, self.path)
        try:
            raw = await self._store.async_load()
            self.data = StoredData() if raw is None else StoredData.from_storage(raw)
        except (
            HomeAssistantError,
            OSError,
            ValueError,
            KeyError,
            TypeError,
            NotImplementedError,
        ) as err:
            aside = await self._hass.async_add_executor_job(self._move_aside)
            LOGGER.error(
                "The statistics file %s could not be read (%s); it was kept as %s and "
                "recording starts again from zero",
                self.path,
                type(err).__name__,
                aside,
            )
            self.data = StoredData()
            self._raise_recovered_issue(aside)
            self.async_schedule_save()
            return
        if (
            raw is None
            and existed
            and not await self._hass.async_add_executor_job(os.path.exists, self.path)
        ):
            # Home Assistant already set the undecodable file aside (a file
            # holding just {} also loads as None, but stays where it is).
            self._raise_recovered_issue(f"{self.path}.corrupt.*")

    def _move_aside(self) -> str:
        """Rename the bad file so it is kept for inspection (runs in the executor)."""
        aside = f"{self.path}.corrupt.{dt_util.utcnow().strftime('%Y%m%dT%H%M%S')}"
        try:
            os.replace(self.path, aside)
        except OSError:
            return "(could not be moved)"
        return aside

    def _raise_recovered_issue(self, aside: str) -> None:
        """Tell the user their statistics restarted from zero."""
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            ISSUE_STORAGE_RECOVERED,
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_STORAGE_RECOVERED,
            translation_placeholders={"path": aside},
        )

    def async_schedule_save(self) -> None:
        """Write soon, coalescing bursts into one write (SD cards wear out)."""
        self._store.async_delay_save(self.data.as_storage, SAVE_DELAY)

    async def async_flush(self) -> None:
        """Write now (unload); a pending delayed write is folded into this one."""
        await self._store.async_save(self.data.as_storage())

    async def async_remove(self) -> None:
        """Delete the file (the config entry was removed)."""
        await self._store.async_remove()
