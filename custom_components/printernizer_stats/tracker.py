"""Turn successive Printernizer listings into events, keeping nothing reversible at rest.

Only status changes count, so the tracker compares each listing with the one
before. While Home Assistant runs it remembers each visible item's last
status in memory, keyed by Printernizer's id. None of that is written to
disk: Printernizer's file ids contain file names, and a stored hash of an id,
salted or keyed, can be confirmed by anyone who guesses the name or id.

What survives a restart is only:

* per listing, a high-water mark: the newest Printernizer timestamp seen,
  cut to the second (jobs: created or finished; files: downloaded), never
  more than a day ahead of the trusted now;
* the number of connected printers per type;
* when Printernizer's current run started, and until when it was seen up,
  both to the minute.

After a restart the first listing is read against these: a job created after
the mark is new, a job or file that finished or downloaded after it changed
while we were away, a type with fewer connected printers lost some, and a
start later than the stored one means Printernizer restarted. Nothing about
a particular job, file or printer can be recovered or confirmed from them.

Printernizer's timestamps are its own (naive, normally UTC): one more than a
day ahead of our trusted time is not believed, as if it were missing, so a
job stamped 2099 neither counts as new nor holds the mark in the future.

The price: a change in the same second as the last poll before a restart is
missed (never counted twice); Printernizer's clock should not go backwards.

About 450 lines: three listings and the uptime, each with its rule for the
first listing after a restart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
import re
from typing import Any, Final

from . import stored
from .printernizer import MAX_UPTIME_SECONDS, File, Job, Printer
from .stored import Reading
from .vocabulary import PRINTER_TYPES, UNKNOWN

# Ids remembered per listing while running (vanished ones too, so a page
# shift or a short listing does not make them new again).
MAX_TRACKED: Final = 1000
# Printernizer's timestamps may run this far ahead of ours (its time zone or
# clock); anything later is not believed.
MAX_AHEAD: Final = timedelta(days=1)
# A start this much later than the one known is a restart: within a run
# uptime readings jitter by a second or two; across one the start is kept
# to the minute.
RESTART_SLACK: Final = timedelta(seconds=30)
RESTART_SLACK_STORED: Final = timedelta(minutes=2)
# Uptime is credited at most this far back (older days are not kept anyway).
MAX_CREDIT: Final = timedelta(days=91)
MAX_PRINTERS: Final = 10_000

type RawEvent = tuple[str, dict[str, object]]
# Minutes Printernizer was up, per UTC day.
type UptimeCredit = list[tuple[date, int]]

_SECTION: Final = "tracker"
_MARK_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")

_JOB_TERMINAL: Final = {"completed": "job_completed", "failed": "job_failed"}
_JOB_FINISHED: Final = frozenset({"completed", "failed", "cancelled"})
_PRINTER_CONNECTED: Final = frozenset({"online", "printing", "paused"})


def _second(value: datetime | None) -> datetime | None:
    """A timestamp cut to the second: the only precision kept at rest."""
    return None if value is None else value.replace(microsecond=0)


def _minute(value: datetime) -> datetime:
    """A time cut to the minute."""
    return value.replace(second=0, microsecond=0)


def _minutes_by_day(start: datetime, end: datetime) -> UptimeCredit:
    """Whole minutes of [start, end) per UTC day.

    Both ends are cut to the minute, so consecutive intervals neither lose
    nor double a minute.
    """
    credit: UptimeCredit = []
    start, end = _minute(start), _minute(end)
    while start < end:
        midnight = datetime.combine(start.date() + timedelta(days=1), time.min, UTC)
        stop = min(end, midnight)
        credit.append((start.date(), int((stop - start).total_seconds()) // 60))
        start = stop
    return credit


def _mark(value: object) -> datetime | None:
    """A stored mark: a naive ISO time to the second, ASCII."""
    text = stored.optional(value, str)
    if text is None:
        return None
    if not _MARK_RE.fullmatch(text):
        raise ValueError("a tracker mark is not a timestamp")
    return datetime.fromisoformat(text)


def _fleet(value: object) -> dict[str, int] | None:
    """Stored connected printers per type (a damaged entry drops the whole count)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError("connected printers are malformed")  # noqa: TRY004
    fleet: dict[str, int] = {}
    for key, count in value.items():
        if key not in PRINTER_TYPES:
            raise ValueError("connected printers name an unknown type")
        fleet[key] = stored.count(count, MAX_PRINTERS)
    return fleet


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
    """Remembers statuses in memory and a few coarse marks on disk."""

    def __init__(
        self,
        *,
        job_mark: datetime | None = None,
        file_mark: datetime | None = None,
        connected: Mapping[str, int] | None = None,
        started: datetime | None = None,
        up_until: datetime | None = None,
    ) -> None:
        """Start a run from what was stored (nothing: the first listing is a baseline)."""
        self.job_mark = job_mark
        self.file_mark = file_mark
        self.connected = dict(connected) if connected is not None else None
        # Printernizer's current run: when it started, until when it was seen up.
        self.started = started
        self.up_until = up_until
        # Set when a mark changed: only then is the file worth writing.
        self.changed = False
        self._jobs: dict[str, str] | None = None
        self._files: dict[str, str] | None = None
        self._printers: dict[str, str] | None = None
        # Jobs not yet seen in this run are new when created after this.
        self._job_floor: datetime | None = None
        self._floor_inclusive = False
        # This run's view of Printernizer's run: its start on the event
        # loop's clock (which a suspend does not move), and the last uptime.
        self._mono_start: float | None = None
        self._last_uptime: float | None = None
        self._credited: datetime | None = None

    def reset(self) -> None:
        """Forget the marks and this run's statuses (delete_all): the next listings are a baseline.

        What Printernizer's current run is stays known, but nothing of it is
        credited again before now.
        """
        self.job_mark = self.file_mark = None
        self.connected = None
        self._jobs = self._files = self._printers = None
        self._job_floor = None
        self.changed = True

    # --- jobs -------------------------------------------------------------------

    def jobs(
        self, jobs: Iterable[Job], printer_types: Mapping[str, str], *, now: datetime
    ) -> list[RawEvent]:
        """job_created for each new job, job_completed / job_failed when one finishes.

        A job that says `unknown` takes its printer's type from the printers
        listing (Printernizer 2.42 never fills it in for jobs made through its
        API). `now` is the trusted time (naive UTC): later timestamps are not
        believed.
        """
        listing = [_believable(job, now) for job in list(jobs)[:MAX_TRACKED]]
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

    def files(self, files: Iterable[File], *, now: datetime) -> list[RawEvent]:
        """file_downloaded when a file reaches "downloaded" (`now`: trusted, naive UTC)."""
        limit = now + MAX_AHEAD
        listing = [
            file
            if file.downloaded is None or file.downloaded <= limit
            else replace(file, downloaded=None)
            for file in list(files)[:MAX_TRACKED]
        ]
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
        self,
        seconds: float,
        *,
        now: datetime,
        mono: float,
        app_version: str,
        deployment_mode: str,
    ) -> tuple[list[RawEvent], UptimeCredit]:
        """A restart (app_shutdown with the run's uptime, then app_start), and the minutes up.

        `now` is the trusted time (aware UTC), `mono` the event loop's clock.
        Printernizer's start is `now - seconds`. Within a run a restart is a
        start later on the loop's clock (a suspend moves neither that clock
        nor Printernizer's uptime the wrong way) or an uptime that went down;
        across a Home Assistant restart it is a start later than the stored
        one (kept to the minute). Every restart is counted once.

        The minutes returned are Printernizer's real uptime since the last
        reading, per UTC day: after a Home Assistant restart within the same
        Printernizer run, the time Home Assistant was away counts too.
        """
        # An uptime beyond the client's own bound is not a reading.
        if not 0 <= seconds <= MAX_UPTIME_SECONDS:
            return [], []
        started = now - timedelta(seconds=seconds)
        mono_start = mono - seconds
        ended: float | None = None
        restarted = False
        if self._mono_start is None:
            if (
                self.started is not None
                and started > self.started + RESTART_SLACK_STORED
            ):
                restarted = True
                if self.up_until is not None and self.up_until >= self.started:
                    ended = (self.up_until - self.started).total_seconds()
            credit_from = self.up_until or started
        else:
            previous = self._last_uptime or 0.0
            restarted = (
                mono_start > self._mono_start + RESTART_SLACK.total_seconds()
                or seconds + RESTART_SLACK.total_seconds() < previous
            )
            if restarted:
                ended = previous
            credit_from = self._credited or started
        events: list[RawEvent] = []
        if restarted:
            events.append(
                (
                    "app_shutdown",
                    {} if ended is None else {"uptime_hours": ended / 3600},
                )
            )
            events.append(
                (
                    "app_start",
                    {"app_version": app_version, "deployment_mode": deployment_mode},
                )
            )
        if restarted or self._mono_start is None:
            self._mono_start = mono_start
        self._last_uptime = seconds
        # From the run's start, but never before the last reading: a start
        # before it (a clock step taken for a restart) credits no minute twice.
        credit_from = max(credit_from, started, now - MAX_CREDIT)
        credit = _minutes_by_day(credit_from, now) if credit_from < now else []
        self._credited = max(now, self._credited or now)
        minute_started = _minute(started)
        if minute_started != self.started or _minute(now) != self.up_until:
            self.started = minute_started
            self.up_until = _minute(now)
            self.changed = True
        return events, credit

    # --- persistence --------------------------------------------------------------

    def as_storage(self) -> dict[str, Any]:
        """The marks that survive a restart (and nothing else)."""
        return {
            "job_mark": None if self.job_mark is None else self.job_mark.isoformat(),
            "file_mark": None if self.file_mark is None else self.file_mark.isoformat(),
            "connected": self.connected,
            "started": stored.iso(self.started),
            "up_until": stored.iso(self.up_until),
        }

    @classmethod
    def from_storage(cls, data: object, reading: Reading) -> TransitionTracker:
        """Restore the marks, dropping each damaged one alone (noted in `reading`).

        A mark ahead of the trusted now (a day's slack for Printernizer's
        clock) is dropped: it would hide every later job. Raises ValueError
        only when the section is not an object.
        """
        if not isinstance(data, Mapping):
            raise ValueError("tracker state is not an object")  # noqa: TRY004
        limit = reading.now.astimezone(UTC).replace(tzinfo=None) + MAX_AHEAD
        marks: dict[str, datetime | None] = {}
        for key, unit in (("job_mark", "job mark"), ("file_mark", "file mark")):
            mark = reading.keep(_SECTION, unit, _mark, data.get(key))
            if mark is not None and mark > limit:
                reading.damage.drop(_SECTION, unit)
                mark = None
            marks[key] = mark
        started = reading.keep(
            _SECTION, "Printernizer start", stored.moment, data.get("started")
        )
        up_until = reading.keep(
            _SECTION, "Printernizer start", stored.moment, data.get("up_until")
        )
        if started is not None and up_until is not None and started > up_until:
            reading.damage.drop(_SECTION, "Printernizer start")
            started = up_until = None
        return cls(
            job_mark=marks["job_mark"],
            file_mark=marks["file_mark"],
            connected=reading.keep(
                _SECTION, "connected printers", _fleet, data.get("connected")
            ),
            started=None if started is None else reading.not_after_now(started),
            up_until=None if up_until is None else reading.not_after_now(up_until),
        )


def _believable(job: Job, now: datetime) -> Job:
    """The job with timestamps later than `now` plus MAX_AHEAD taken as missing."""
    limit = now + MAX_AHEAD
    created = job.created if job.created is None or job.created <= limit else None
    finished = job.finished if job.finished is None or job.finished <= limit else None
    if created is job.created and finished is job.finished:
        return job
    return replace(job, created=created, finished=finished)
