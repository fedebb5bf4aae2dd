"""Turn successive Printernizer listings into events.

Only status transitions count, so the state kept between polls (and across
restarts) is the last status of each item visible in the listing, plus the
most recently vanished ones up to MAX_TRACKED, under a salted hash of its id:
enough not to count a job twice after a restart (or after a listing that came
back short or empty for one poll) and not to miss a transition that happened
while Home Assistant was down, and nothing that ties back to a job, file or
printer name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
import hashlib
from operator import attrgetter
import secrets
from typing import Any

from .printernizer import File, Health, Job, Printer

# Each listing is at most MAX_PAGES * PAGE_LIMIT items (half of this), so
# vanished items are remembered for a while; this is a hard stop.
MAX_TRACKED = 1000

type RawEvent = tuple[str, dict[str, object]]

_JOB_TERMINAL = {"completed": "job_completed", "failed": "job_failed"}
_JOB_FINISHED = frozenset({"completed", "failed", "cancelled"})
_PRINTER_CONNECTED = frozenset({"online", "printing", "paused"})
_ID = attrgetter("id")
_STATUS = attrgetter("status")


def _minutes(seconds: float | None) -> dict[str, object]:
    """Duration metadata (coarsened later by the allowlist)."""
    return {} if seconds is None else {"duration_minutes": seconds / 60}


class TransitionTracker:
    """Remembers the last status of visible jobs, files and printers."""

    def __init__(self, state: Mapping[str, Any] | None = None) -> None:
        """Restore from as_storage(), or start without a baseline."""
        state = state or {}
        salt = state.get("salt")
        self._salt: str = (
            salt if isinstance(salt, str) and salt else secrets.token_hex(8)
        )
        self._seen: dict[str, dict[str, str] | None] = {
            kind: _status_map(state.get(kind)) for kind in ("jobs", "files", "printers")
        }
        # Set when a status map changed: the caller saves only then (and now
        # and then), not for every poll.
        self.changed = False
        uptime = state.get("uptime_seconds")
        self._uptime: float | None = (
            float(uptime)
            if isinstance(uptime, int | float) and not isinstance(uptime, bool)
            else None
        )

    def _hash(self, ident: str) -> str:
        """A salted, truncated hash: stable for us, meaningless to anyone else."""
        return hashlib.sha256(f"{self._salt}:{ident}".encode()).hexdigest()[:16]

    def _update[T](
        self,
        kind: str,
        items: Iterable[T],
        ident: Callable[[T], str],
        status: Callable[[T], str],
    ) -> list[tuple[T, str | None]]:
        """Store the new statuses; return (item, previous status) per new or changed item.

        The very first listing of a kind is a baseline: what is already there
        happened before we started counting.
        """
        previous = self._seen[kind]
        current: dict[str, str] = {}
        changes: list[tuple[T, str | None]] = []
        for item in items:
            if len(current) >= MAX_TRACKED:
                break
            key = self._hash(ident(item))
            if key in current:
                # Listed twice: pages shifted between two requests of one poll.
                continue
            current[key] = status(item)
            if previous is not None and previous.get(key) != current[key]:
                changes.append((item, previous.get(key)))
        # Items missing from this listing are remembered while there is room:
        # if they come back (a page shifted, a glitch), they are not new.
        for key, old_status in (previous or {}).items():
            if len(current) >= MAX_TRACKED:
                break
            current.setdefault(key, old_status)
        if current != previous:
            self.changed = True
        self._seen[kind] = current
        return changes

    def jobs(self, jobs: Iterable[Job]) -> list[RawEvent]:
        """job_created for each new job, job_completed / job_failed when one finishes."""
        events: list[RawEvent] = []
        for job, before in self._update("jobs", jobs, _ID, _STATUS):
            meta: dict[str, object] = {"printer_type": job.printer_type}
            if before is None:
                events.append(("job_created", meta))
            if (
                event_type := _JOB_TERMINAL.get(job.status)
            ) and before not in _JOB_FINISHED:
                events.append((event_type, meta | _minutes(job.duration_seconds)))
        return events

    def files(self, files: Iterable[File]) -> list[RawEvent]:
        """file_downloaded when a file reaches "downloaded"."""
        return [
            (
                "file_downloaded",
                {} if file.size_bytes is None else {"size_bytes": file.size_bytes},
            )
            for file, _before in self._update("files", files, _ID, _STATUS)
            if file.status == "downloaded"
        ]

    def printers(self, printers: Iterable[Printer]) -> list[RawEvent]:
        """printer_connected / printer_disconnected on status changes of known printers."""
        events: list[RawEvent] = []
        for printer, before in self._update("printers", printers, _ID, _STATUS):
            if before is None:
                continue
            was_connected = before in _PRINTER_CONNECTED
            is_connected = printer.status in _PRINTER_CONNECTED
            if is_connected and not was_connected:
                events.append(
                    ("printer_connected", {"printer_type": printer.printer_type})
                )
            elif was_connected and printer.status == "offline":
                events.append(
                    ("printer_disconnected", {"printer_type": printer.printer_type})
                )
        return events

    def health(self, health: Health) -> list[RawEvent]:
        """app_start when Printernizer's uptime went backwards (it restarted)."""
        events: list[RawEvent] = []
        uptime = health.uptime_seconds
        if uptime is not None and self._uptime is not None and uptime < self._uptime:
            meta: dict[str, object] = {}
            if health.version is not None:
                meta["app_version"] = health.version
            events.append(("app_start", meta))
        if uptime is not None:
            self._uptime = uptime
        return events

    def as_storage(self) -> dict[str, Any]:
        """What survives a restart."""
        return {"salt": self._salt, "uptime_seconds": self._uptime, **self._seen}


def _status_map(value: object) -> dict[str, str] | None:
    """A stored status map, or None (no baseline yet) when absent or malformed."""
    if not isinstance(value, dict):
        return None
    return {
        key: status
        for key, status in list(value.items())[:MAX_TRACKED]
        if isinstance(key, str) and isinstance(status, str)
    }
