"""Turn successive Printernizer listings into events, keeping nothing reversible at rest.

Only status changes count, so the tracker compares each listing with the one
before. While Home Assistant runs it remembers each visible item's last
status in memory, keyed by Printernizer's id. None of that is written to
disk: Printernizer's file ids contain file names, and a stored hash of an id,
salted or keyed, can be confirmed by anyone who guesses the name or id.

What survives a restart is only:

* per listing, a high-water mark: the newest Printernizer timestamp seen,
  cut to the second (jobs: created or finished; files: downloaded);
* the number of connected printers per type;
* Printernizer's uptime in whole hours.

After a restart the first listing is read against these: a job created after
the mark is new, a job or file that finished or downloaded after it changed
while we were away, a type with fewer connected printers lost some, and an
uptime below the stored hours means Printernizer restarted. Nothing about a
particular job, file or printer can be recovered or confirmed from them.

The price: a change in the same second as the last poll before a restart is
missed (never counted twice); Printernizer's clock should not go backwards
(it writes naive timestamps, normally UTC).

About 350 lines: three listings and the uptime, each with its rule for the
first listing after a restart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from .printernizer import File, Job, Printer, parse_time
from .vocabulary import PRINTER_TYPES, UNKNOWN

# Ids remembered per listing while running (vanished ones too, so a page
# shift or a short listing does not make them new again).
MAX_TRACKED: Final = 1000

type RawEvent = tuple[str, dict[str, object]]

_JOB_TERMINAL: Final = {"completed": "job_completed", "failed": "job_failed"}
_JOB_FINISHED: Final = frozenset({"completed", "failed", "cancelled"})
_PRINTER_CONNECTED: Final = frozenset({"online", "printing", "paused"})


def _second(value: datetime | None) -> datetime | None:
    """A timestamp cut to the second: the only precision kept at rest."""
    return None if value is None else value.replace(microsecond=0)


def _after(value: datetime | None, mark: datetime | None) -> bool:
    """Whether a timestamp is in a later second than the mark."""
    second = _second(value)
    return second is not None and mark is not None and second > mark


def _remember(seen: dict[str, str], current: dict[str, str]) -> dict[str, str]:
    """The current statuses, plus vanished ones while there is room."""
    for key, status in seen.items():
        if len(current) >= MAX_TRACKED:
            break
        current.setdefault(key, status)
    return current


class TransitionTracker:
    """Remembers statuses in memory and three coarse marks on disk."""

    def __init__(
        self,
        *,
        job_mark: datetime | None = None,
        file_mark: datetime | None = None,
        connected: Mapping[str, int] | None = None,
        uptime_hours: int | None = None,
    ) -> None:
        """Start a run from what was stored (nothing: the first listing is a baseline)."""
        self.job_mark = job_mark
        self.file_mark = file_mark
        self.connected = dict(connected) if connected is not None else None
        self.uptime_hours = uptime_hours
        # Set when a mark changed: only then is the file worth writing.
        self.changed = False
        self._jobs: dict[str, str] | None = None
        self._files: dict[str, str] | None = None
        self._printers: dict[str, str] | None = None
        # Jobs not yet seen in this run are new when created after this.
        self._job_floor: datetime | None = None
        self._floor_inclusive = False
        self._uptime: float | None = None

    def reset(self) -> None:
        """Forget the marks and this run's statuses (delete_all): the next listings are a baseline."""
        self.job_mark = self.file_mark = None
        self.connected = None
        self.uptime_hours = None
        self._jobs = self._files = self._printers = None
        self._job_floor = None
        self._uptime = None
        self.changed = True

    # --- jobs -------------------------------------------------------------------

    def jobs(
        self, jobs: Iterable[Job], printer_types: Mapping[str, str]
    ) -> list[RawEvent]:
        """job_created for each new job, job_completed / job_failed when one finishes.

        A job that says `unknown` takes its printer's type from the printers
        listing (Printernizer 2.42 never fills it in for jobs made through its API).
        """
        listing = list(jobs)[:MAX_TRACKED]
        baseline = False
        if self._jobs is None:
            # First listing of this run: what is older than the stored mark
            # was counted before; without a mark everything is a baseline.
            baseline = self.job_mark is None
            self._job_floor = self.job_mark
            self._floor_inclusive = baseline
            if baseline:
                self._job_floor = max(
                    (c for job in listing if (c := _second(job.created))), default=None
                )
        seen = self._jobs or {}
        events: list[RawEvent] = []
        current: dict[str, str] = {}
        for job in listing:
            if job.id in current:
                continue  # listed twice: pages shifted between two requests
            current[job.id] = job.status
            if job.id in seen:
                is_new = False
                finished_since = seen[job.id] not in _JOB_FINISHED
            elif baseline:
                continue
            else:
                is_new = self._is_new(job)
                finished_since = is_new or _after(job.finished, self._job_floor)
            meta: dict[str, object] = {
                "printer_type": self._job_type(job, printer_types)
            }
            if is_new:
                events.append(("job_created", meta))
            if (event_type := _JOB_TERMINAL.get(job.status)) and finished_since:
                duration = job.duration_seconds
                extra = {} if duration is None else {"duration_minutes": duration / 60}
                events.append((event_type, meta | extra))
        self._jobs = _remember(seen, current)
        self._raise_job_mark(listing)
        return events

    def _is_new(self, job: Job) -> bool:
        """A job not seen in this run is new when created after the run's floor."""
        created = _second(job.created)
        if created is None:
            return False
        floor = self._job_floor
        return (
            floor is None
            or created > floor
            or (self._floor_inclusive and created == floor)
        )

    @staticmethod
    def _job_type(job: Job, printer_types: Mapping[str, str]) -> str:
        """The job's printer family, looked up by printer id when the job does not say."""
        if job.printer_type != UNKNOWN or job.printer_id is None:
            return job.printer_type
        return printer_types.get(job.printer_id, UNKNOWN)

    def _raise_job_mark(self, jobs: list[Job]) -> None:
        """Move the jobs' high-water mark to the newest timestamp listed."""
        newest = max(
            (
                stamp
                for job in jobs
                for stamp in (_second(job.created), _second(job.finished))
                if stamp is not None
            ),
            default=None,
        )
        if newest is not None and (self.job_mark is None or newest > self.job_mark):
            self.job_mark = newest
            self.changed = True

    # --- files ------------------------------------------------------------------

    def files(self, files: Iterable[File]) -> list[RawEvent]:
        """file_downloaded when a file reaches "downloaded"."""
        listing = list(files)[:MAX_TRACKED]
        seen = self._files or {}
        events: list[RawEvent] = []
        current: dict[str, str] = {}
        for file in listing:
            if file.id in current:
                continue
            current[file.id] = file.status
            if file.status != "downloaded":
                continue
            if file.id in seen:
                changed = seen[file.id] != "downloaded"
            else:
                # First listed already downloaded: it counts when downloaded
                # after the newest download we knew of (never in a baseline).
                changed = _after(file.downloaded, self.file_mark) or (
                    self._files is not None and self.file_mark is None
                )
            if changed:
                meta: dict[str, object] = {}
                if file.size_bytes is not None:
                    meta["size_bytes"] = file.size_bytes
                events.append(("file_downloaded", meta))
        self._files = _remember(seen, current)
        newest = max(
            (s for file in listing if (s := _second(file.downloaded))), default=None
        )
        if newest is not None and (self.file_mark is None or newest > self.file_mark):
            self.file_mark = newest
            self.changed = True
        return events

    # --- printers ---------------------------------------------------------------

    def printers(self, printers: Iterable[Printer]) -> list[RawEvent]:
        """printer_connected / printer_disconnected on status changes of known printers."""
        listing = list(printers)[:MAX_TRACKED]
        events: list[RawEvent] = []
        if self._printers is None:
            events = self._reconcile_printers(listing)
        else:
            for printer in listing:
                before = self._printers.get(printer.id)
                if before is None:
                    continue
                was = before in _PRINTER_CONNECTED
                now = printer.status in _PRINTER_CONNECTED
                meta: dict[str, object] = {"printer_type": printer.printer_type}
                if now and not was:
                    events.append(("printer_connected", meta))
                elif was and printer.status == "offline":
                    events.append(("printer_disconnected", meta))
        self._printers = {printer.id: printer.status for printer in listing}
        connected = dict(
            Counter(p.printer_type for p in listing if p.status in _PRINTER_CONNECTED)
        )
        if connected != self.connected:
            self.connected = connected
            self.changed = True
        return events

    def _reconcile_printers(self, listing: list[Printer]) -> list[RawEvent]:
        """After a restart: more connected printers of a type than stored connected, fewer went away."""
        if self.connected is None:
            return []
        now = Counter(p.printer_type for p in listing if p.status in _PRINTER_CONNECTED)
        events: list[RawEvent] = []
        for ptype in PRINTER_TYPES:
            delta = now[ptype] - self.connected.get(ptype, 0)
            name = "printer_connected" if delta > 0 else "printer_disconnected"
            events.extend((name, {"printer_type": ptype}) for _ in range(abs(delta)))
        return events

    # --- uptime -----------------------------------------------------------------

    def uptime(
        self, seconds: float, *, app_version: str, deployment_mode: str
    ) -> tuple[list[RawEvent], float]:
        """app_start (and app_shutdown with the run's uptime) when the uptime went down.

        Also returns the seconds Printernizer was seen up since the last
        reading, for the report's `uptime_hours`; time while Home Assistant
        was not running is not counted.
        """
        events: list[RawEvent] = []
        observed = 0.0
        ended_hours: float | None = None
        if self._uptime is None:
            if self.uptime_hours is not None and seconds < self.uptime_hours * 3600:
                ended_hours = float(self.uptime_hours)
        elif seconds < self._uptime:
            ended_hours = self._uptime / 3600
            observed = seconds
        else:
            observed = seconds - self._uptime
        if ended_hours is not None:
            shutdown: dict[str, object] = {"uptime_hours": ended_hours}
            events.append(("app_shutdown", shutdown))
            events.append(
                (
                    "app_start",
                    {"app_version": app_version, "deployment_mode": deployment_mode},
                )
            )
        self._uptime = seconds
        hours = int(seconds // 3600)
        if hours != self.uptime_hours:
            self.uptime_hours = hours
            self.changed = True
        return events, observed

    # --- persistence --------------------------------------------------------------

    def as_storage(self) -> dict[str, Any]:
        """The marks that survive a restart (and nothing else)."""
        return {
            "job_mark": None if self.job_mark is None else self.job_mark.isoformat(),
            "file_mark": None if self.file_mark is None else self.file_mark.isoformat(),
            "connected": self.connected,
            "uptime_hours": self.uptime_hours,
        }

    @classmethod
    def from_storage(cls, data: object) -> TransitionTracker:
        """Restore the marks; raise ValueError when the section is malformed."""
        if not isinstance(data, Mapping):
            raise ValueError("tracker state is not an object")  # noqa: TRY004
        marks = {}
        for key in ("job_mark", "file_mark"):
            value = data.get(key)
            marks[key] = None if value is None else _second(parse_time(value))
            if value is not None and marks[key] is None:
                raise ValueError("a tracker mark is not a timestamp")
        connected = data.get("connected")
        uptime = data.get("uptime_hours")
        if connected is not None and not (
            isinstance(connected, Mapping)
            and all(
                key in PRINTER_TYPES and type(count) is int and count >= 0
                for key, count in connected.items()
            )
        ):
            raise ValueError("connected printers are malformed")
        if uptime is not None and not (type(uptime) is int and uptime >= 0):
            raise ValueError("the uptime mark is malformed")
        return cls(
            job_mark=marks["job_mark"],
            file_mark=marks["file_mark"],
            connected=connected,
            uptime_hours=uptime,
        )
