"""The integration's one storage file, in Home Assistant's .storage folder.

Five sections, each owned and checked by its module: counters, tracker
marks, Printernizer facts, delivery state, clock. The file is input like any
other (it can be edited, damaged, or written by an older version): every
section is read back with the rules fresh input meets, the smallest damaged
unit is dropped on its own (a value, a row, a pending report; a whole
section only when it is not even an object) and a repair names what went.
An unreadable file is set aside and counting starts clean. Home Assistant's
start-up never fails because of this file.

Writes are atomic (a torn file cannot happen), owner-readable only, and
debounced: a burst of events costs one write. Only this module decides when
to write; the delivery shell may ask for a durable write before it sends
(`async_commit`), and learns whether it reached the disk.

About 390 lines: a third of it is the migration of the two older layouts,
which must survive any damage in them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
import os
from pathlib import Path
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .clock import TrustedClock, boot_seconds
from .const import DOMAIN, ISSUE_STORAGE, LOGGER, SAVE_DELAY
from .counters import UsageCounters
from .delivery import DeliveryState
from .printernizer import PrinternizerFacts
from .stored import PARSE_ERRORS, Damage, Reading
from .tracker import TransitionTracker

STORAGE_KEY: Final = DOMAIN
STORAGE_VERSION: Final = 3
# 2: recipients with their service, uptime in minutes, Printernizer's start,
# kept reports with their bytes (older layouts are read as they are).
STORAGE_MINOR_VERSION: Final = 2


@dataclass(slots=True)
class StoredData:
    """Everything the integration persists, one typed owner per section."""

    counters: UsageCounters = field(default_factory=UsageCounters)
    tracker: TransitionTracker = field(default_factory=TransitionTracker)
    facts: PrinternizerFacts = field(default_factory=PrinternizerFacts)
    delivery: DeliveryState = field(default_factory=DeliveryState)
    clock: TrustedClock = field(default_factory=TrustedClock)

    def as_storage(self) -> dict[str, Any]:
        """The JSON document written to disk."""
        return {
            "counters": self.counters.as_storage(),
            "tracker": self.tracker.as_storage(),
            "facts": self.facts.as_storage(),
            "delivery": self.delivery.as_storage(),
            "clock": self.clock.as_storage(),
        }


SECTIONS: Final = ("counters", "tracker", "facts", "delivery", "clock")


def parse(
    raw: object,
    wall: datetime,
    boot: float | None = None,
    *,
    endpoint: str | None = None,
) -> tuple[StoredData, Damage]:
    """Read the file back as input; return the data and what was dropped.

    The clock comes first: its first reading gives the trusted now that
    bounds every time in the other sections. `endpoint` is where installation
    ids stored without their service were sent (see delivery.py).
    """
    data = StoredData()
    damage = Damage()
    if not isinstance(raw, dict):
        for name in SECTIONS:
            damage.drop(name, "whole section")
        data.clock.now(wall, boot)
        return data, damage

    def section(name: str, read: Callable[[object], Any]) -> None:
        if (value := raw.get(name)) is None:
            return
        try:
            setattr(data, name, read(value))
        except PARSE_ERRORS:
            damage.drop(name, "whole section")

    section("clock", TrustedClock.from_storage)
    reading = Reading(data.clock.now(wall, boot), data.clock.ceiling, damage)
    section("counters", lambda value: UsageCounters.from_storage(value, reading))
    section("tracker", lambda value: TransitionTracker.from_storage(value, reading))
    section("facts", lambda value: PrinternizerFacts.from_storage(value, reading))
    section(
        "delivery",
        lambda value: DeliveryState.from_storage(value, reading, endpoint=endpoint),
    )
    return data, damage


# What a malformed part of an older file becomes: a value every section's
# parser refuses, so `parse` starts that section fresh and the repair names it.
_MALFORMED: Final = "malformed before version 3"
# Version 2's submission states; a stop carries over, the rest is no stop.
_OLD_STATES: Final[dict[str, str]] = {
    "ok": "none",
    "retrying": "none",
    "auth_failed": "auth_failed",
    "rejected": "rejected",
}


def _is_count(value: object) -> bool:
    """A counter as version 1 stored it: a non-negative int."""
    return type(value) is int and value >= 0


def _columns_from_nested(days: object) -> dict[str, Any]:
    """Version 1 kept a nested dict per day; turn it into the columnar form.

    Raises ValueError when anything in it is malformed.
    """
    if days is None:
        days = {}
    if not isinstance(days, dict):
        raise ValueError("version 1 days are not an object")  # noqa: TRY004
    rows: dict[str, dict[str, int]] = {}
    for day, types in days.items():
        if not isinstance(types, dict):
            raise ValueError("a version 1 day is not an object")  # noqa: TRY004
        counts = rows.setdefault(str(day), {})
        for event_type, entry in types.items():
            if not isinstance(entry, dict):
                raise ValueError("a version 1 event is not an object")  # noqa: TRY004
            metadata = entry.get("metadata") or {}
            if not isinstance(metadata, dict):
                raise ValueError("version 1 metadata is not an object")  # noqa: TRY004
            named = {str(event_type): entry.get("count", 0)}
            for key, values in metadata.items():
                if not isinstance(values, dict):
                    raise ValueError("version 1 values are not an object")  # noqa: TRY004
                for value, count in values.items():
                    named[f"{event_type}/{key}={value}"] = count
            if not all(_is_count(count) for count in named.values()):
                raise ValueError("a version 1 counter is not a count")
            counts.update(named)
    columns = sorted({name for counts in rows.values() for name in counts})
    totals: dict[str, int] = {}
    for counts in rows.values():
        for name, count in counts.items():
            if "/" not in name:
                totals[name] = totals.get(name, 0) + count
    return {
        "columns": columns,
        "days": {day: [c.get(n, 0) for n in columns] for day, c in rows.items()},
        "totals": totals,
    }


def _facts_from_snapshot(snapshot: object) -> object:
    """Version 2's last poll facts (its uptime is dropped: the tracker starts afresh)."""
    if snapshot is None:
        return None
    if not isinstance(snapshot, dict):
        return _MALFORMED
    # A fact version 2 did not have is left out, not stored as null: the
    # facts' own default applies and nothing is reported as damaged.
    return {
        key: snapshot[key]
        for key in ("app_version", "fleet")
        if snapshot.get(key) is not None
    }


def _delivery_from_submission(installation: object, submission: object) -> object:
    """Version 2's installation and submission state as the delivery section.

    The pending report is dropped (the real service refused the bare-date
    `first_seen` it carries; its period is built again), and so is the hash
    of the API key that failed (`failed_with`): the stop after a refused key
    is lifted at set-up and the next attempt asks again.
    """
    if installation is None and submission is None:
        return None
    if not (
        isinstance(installation, dict | None) and isinstance(submission, dict | None)
    ):
        return _MALFORMED
    installation = installation or {}
    submission = submission or {}
    history = submission.get("history")
    state = submission.get("state")
    installation_id = installation.get("id")
    # A pending report may have reached the service before the upgrade.
    sent = bool(history) or submission.get("pending") is not None
    # A damaged value is handed on as it is: parse drops that unit alone.
    return {
        "installation_id": installation_id,
        "first_seen": installation.get("first_seen"),
        "reported_until": submission.get("last_period_end"),
        "last_request": submission.get("last_request"),
        "not_before": submission.get("not_before"),
        "halt": _OLD_STATES.get(state, state)
        if isinstance(state, str)
        else "none"
        if state is None
        else state,
        "halt_version": submission.get("rejected_version"),
        "last_success": submission.get("last_success"),
        "history": [
            {
                "start": item.get("period_start"),
                "end": item.get("period_end"),
                "submitted": item.get("submitted"),
                "submission_id": item.get("submission_id"),
            }
            if isinstance(item, dict)
            else item
            for item in history
        ]
        if isinstance(history, list)
        else history,
        "service_ids": [installation_id] if installation_id and sent else [],
    }


def migrate(old_major: int, old: Any) -> dict[str, Any]:
    """Bring a version 1 or 2 document up to version 3.

    Version 2 kept salted hashes of Printernizer ids (reversible by guessing):
    they are dropped with their salt, so the first poll after the upgrade is
    a baseline. A malformed old part becomes a section `parse` refuses: that
    section starts fresh, the others are kept, and the repair names it.
    Raises ValueError only when the document is not an object.
    """
    if not isinstance(old, dict):
        raise ValueError("old data is not an object")  # noqa: TRY004
    counters: object
    if old_major == 1:
        try:
            counters = {
                **_columns_from_nested(old.get("days")),
                "rejected": old.get("rejected"),
            }
        except (ValueError, TypeError):
            counters = _MALFORMED
        snapshot = submission = None
    else:
        counters = {
            key: old.get(key)
            for key in ("columns", "days", "rejected", "totals", "weeks")
        }
        snapshot, submission = old.get("snapshot"), old.get("submission")
    if isinstance(counters, dict):
        counters = {key: value for key, value in counters.items() if value is not None}
    return {
        "counters": counters,
        "facts": _facts_from_snapshot(snapshot),
        "delivery": _delivery_from_submission(old.get("installation"), submission),
    }


class _Store(Store[dict[str, Any]]):
    """A Store that knows our older layouts and whether its last write reached the disk."""

    write_failed = False

    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> dict[str, Any]:
        """Bring an older file up to STORAGE_VERSION (minor versions are read as they are)."""
        if old_major_version in (1, 2):
            return migrate(old_major_version, old_data)
        if old_major_version == STORAGE_VERSION:
            return old_data
        raise NotImplementedError(f"Unknown storage version {old_major_version}")

    async def _async_write_data(self, *args: Any) -> None:
        """Note whether the write worked (Home Assistant logs and swallows the error)."""
        try:
            await super()._async_write_data(*args)
        except Exception:
            self.write_failed = True
            raise
        self.write_failed = False


class PrinternizerStatsStorage:
    """Loads, debounces and commits the storage file; recovers from a bad one."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Prepare the Store (owner-only file, atomic writes)."""
        self._hass = hass
        self._store = _Store(
            hass,
            STORAGE_VERSION,
            STORAGE_KEY,
            private=True,
            atomic_writes=True,
            minor_version=STORAGE_MINOR_VERSION,
        )
        self._save_scheduled = False
        self.data = StoredData()
        # Where clock readings come from (replaced by the clock tests).
        self.wall_clock: Callable[[], datetime] = dt_util.utcnow
        self.boot_clock: Callable[[], float | None] = boot_seconds

    @property
    def path(self) -> str:
        """Where the file lives."""
        return str(self._store.path)

    def now(self) -> datetime:
        """Trusted UTC time: the wall clock, with jumps held back (clock.py)."""
        return self.data.clock.now(self.wall_clock(), self.boot_clock())

    @property
    def healthy(self) -> bool:
        """The last write reached the disk."""
        return not self._store.write_failed

    async def async_load(self, *, endpoint: str | None = None) -> None:
        """Load the file; set aside an unreadable one, drop damaged parts.

        `endpoint` is the statistics endpoint in use (for ids stored without
        their service by an older version).
        """
        existed = await self._hass.async_add_executor_job(os.path.exists, self.path)
        try:
            raw = await self._store.async_load()
        except (
            HomeAssistantError,
            OSError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
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
            self._recovered(["the whole file"], aside)
            return
        if raw is None:
            if existed and not await self._hass.async_add_executor_job(
                os.path.exists, self.path
            ):
                # Home Assistant already set the undecodable file aside.
                self._recovered(["the whole file"], f"{self.path}.corrupt.*")
            return
        self.data, damage = parse(
            raw, self.wall_clock(), self.boot_clock(), endpoint=endpoint
        )
        if damage:
            LOGGER.warning(
                "Parts of the statistics file were damaged and were dropped (%s); "
                "everything else was kept",
                "; ".join(damage.summary()),
            )
            self._recovered(damage.summary(), self.path)

    def _move_aside(self) -> str:
        """Rename the bad file so it is kept for inspection (runs in the executor)."""
        aside = f"{self.path}.corrupt.{dt_util.utcnow().strftime('%Y%m%dT%H%M%S')}"
        try:
            os.replace(self.path, aside)
        except OSError:
            return "(could not be moved)"
        return aside

    def _recovered(self, parts: list[str], path: str) -> None:
        """Tell the user what was dropped, and write the clean state."""
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            ISSUE_STORAGE,
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_STORAGE,
            translation_placeholders={"parts": "; ".join(parts), "path": path},
        )
        self.mark_dirty()

    @callback
    def mark_dirty(self) -> None:
        """Something changed: write within SAVE_DELAY seconds, once for a whole burst."""
        if not self._save_scheduled:
            self._save_scheduled = True
            self._store.async_delay_save(self._snapshot, SAVE_DELAY)

    def _snapshot(self) -> dict[str, Any]:
        """The document, taken when the write happens (includes later changes)."""
        self._save_scheduled = False
        return self.data.as_storage()

    async def async_commit(self) -> bool:
        """Write now and say whether it reached the disk (a delayed write is folded in)."""
        self._save_scheduled = False
        await self._store.async_save(self.data.as_storage())
        return self.healthy

    async def async_remove(self) -> None:
        """Delete the file and any damaged copies kept aside (the config entry was removed)."""
        await self._store.async_remove()
        await self._hass.async_add_executor_job(self._remove_set_aside)

    def _remove_set_aside(self) -> None:
        """Delete the `.corrupt.*` copies (runs in the executor)."""
        for aside in Path(self.path).parent.glob(f"{STORAGE_KEY}.corrupt.*"):
            aside.unlink(missing_ok=True)
