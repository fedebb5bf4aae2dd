"""The tracker on recorded and synthetic listings: events, restarts, and nothing reversible at rest."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
import functools
import gc
import hashlib
import json
from operator import itemgetter, methodcaller
import re
from typing import Any
import uuid

import aiohttp
from aiohttp import web
from hypothesis import given, settings, strategies as st
import pytest

from custom_components.printernizer_stats.printernizer import (
    MAX_UPTIME_SECONDS,
    File,
    Job,
    Printer,
    PrinternizerClient,
)
from custom_components.printernizer_stats.privacy import clean_event
from custom_components.printernizer_stats.stored import Damage, Reading
from custom_components.printernizer_stats.tracker import (
    MAX_TRACKED,
    RawEvent,
    TransitionTracker,
    UptimeCredit,
)
from custom_components.printernizer_stats.vocabulary import PRINTER_TYPES

from .conftest import FIXTURES, load_fixture, serve

RECORDINGS = {
    path.name.split("_", 1)[0]: path.name
    for path in (FIXTURES / "printernizer").glob("[0-9]*.json")
}
T0 = datetime(2026, 11, 30, 10, 0)
# The trusted now the listings are read at (naive UTC, as the coordinator passes it).
NOW = datetime(2026, 11, 30, 12, 0)
# Printernizer's seconds after T0 of a job stamped 2099.
Y2099 = (datetime(2099, 1, 1) - T0).total_seconds()
# One day after NOW, in seconds after T0: the latest Printernizer time believed.
AHEAD = (NOW + timedelta(days=1) - T0).total_seconds()
TYPES = {"p-bambu": "bambu_lab", "p-prusa": "prusa_core"}
APP = {"app_version": "2.42.0", "deployment_mode": "homeassistant"}
MARK = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
MINUTE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00\+00:00")
HEX = re.compile(r"[0-9a-f]{8,}")
PRUSA = {"printer_type": "prusa_core"}
BAMBU = {"printer_type": "bambu_lab"}


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override conftest's: the tracker is free of Home Assistant, so no `hass` per test."""


def _at(seconds: float | None) -> datetime | None:
    """A Printernizer time, seconds after T0."""
    return None if seconds is None else T0 + timedelta(seconds=seconds)


def job(
    ident: str,
    status: str,
    *,
    created: float | None = 0,
    finished: float | None = None,
    duration: float | None = None,
    printer_type: str = "bambu_lab",
    printer_id: str | None = "p-bambu",
) -> Job:
    """A job as the client reduces it; times in seconds after T0."""
    return Job(
        id=ident,
        printer_id=printer_id,
        printer_type=printer_type,
        status=status,
        duration_seconds=duration,
        created=_at(created),
        finished=_at(finished),
    )


def file(
    ident: str,
    status: str,
    *,
    downloaded: float | None = None,
    size: float | None = 2_000_000,
) -> File:
    """A file as the client reduces it."""
    return File(id=ident, status=status, size_bytes=size, downloaded=_at(downloaded))


def printer(ident: str, status: str, printer_type: str = "prusa_core") -> Printer:
    """A printer as the client reduces it."""
    return Printer(id=ident, printer_type=printer_type, status=status)


def reading(now: datetime = NOW) -> Reading:
    """The context a stored section is read back in, at a naive UTC time."""
    return Reading(now=now.replace(tzinfo=UTC), damage=Damage())


def restarted(tracker: TransitionTracker, now: datetime = NOW) -> TransitionTracker:
    """Home Assistant restarted: a new tracker from what the old one stored, through JSON."""
    stored = json.loads(json.dumps(tracker.as_storage()))
    return TransitionTracker.from_storage(stored, reading(now))


@pytest.fixture
def tracker() -> TransitionTracker:
    """A tracker whose first listings (all empty) were the baseline."""
    tracker = TransitionTracker()
    assert tracker.printers([]) == []
    assert tracker.jobs([], TYPES, now=NOW) == []
    assert tracker.files([], now=NOW) == []
    return tracker


# Home Assistant's clocks at an uptime reading: midnight UTC of a Monday.
U0 = datetime(2026, 11, 30, tzinfo=UTC)
DAY0 = U0.date()
DAY1 = DAY0 + timedelta(days=1)
DAY2 = DAY0 + timedelta(days=2)


@dataclass
class Uptime:
    """Printernizer's runs against Home Assistant's clocks, read as the coordinator reads them."""

    tracker: TransitionTracker = field(default_factory=TransitionTracker)
    now: datetime = U0  # trusted time, aware UTC
    mono: float = 5000.0  # the event loop's clock: a suspend does not move it
    start: datetime = U0  # when Printernizer's current run started

    def read(self, jitter: float = 0.0) -> tuple[list[RawEvent], UptimeCredit]:
        """Read Printernizer's uptime now, off by `jitter` seconds."""
        seconds = (self.now - self.start).total_seconds() + jitter
        return self.tracker.uptime(seconds, now=self.now, mono=self.mono, **APP)

    def wait(self, seconds: float, *, suspended: bool = False) -> None:
        """Let time pass; while suspended only the wall clock moves."""
        self.now += timedelta(seconds=seconds)
        self.mono += 0 if suspended else seconds

    def poll(
        self, seconds: float = 60, jitter: float = 0.0
    ) -> tuple[list[RawEvent], UptimeCredit]:
        """Wait, then read."""
        self.wait(seconds)
        return self.read(jitter)

    def restart_printernizer(self, down: float) -> None:
        """Printernizer stops now and is back `down` seconds later."""
        self.wait(down)
        self.start = self.now

    def restart_home_assistant(self, away: float) -> None:
        """Home Assistant stops now and starts `away` seconds later from what it stored."""
        self.wait(away)
        self.tracker = restarted(self.tracker, self.now.replace(tzinfo=None))


def shutdown(hours: float) -> list[RawEvent]:
    """A counted restart: the ended run's uptime, then the start."""
    return [("app_shutdown", {"uptime_hours": hours}), ("app_start", APP)]


@dataclass
class Recorded:
    """The real client reading recorded listings of Printernizer 2.42.0."""

    client: PrinternizerClient
    current: dict[str, str]

    async def printers(self, prefix: str) -> list[Printer]:
        """The printers of the recording `prefix`."""
        self.current["printers"] = prefix
        return await self.client.printers()

    async def jobs(self, prefix: str) -> list[Job]:
        """The jobs of the recording `prefix`."""
        self.current["jobs"] = prefix
        return await self.client.jobs()

    async def files(self, prefix: str) -> list[File]:
        """The files of the recording `prefix`."""
        self.current["files"] = prefix
        return await self.client.files()


@pytest.fixture
async def recorded(socket_enabled: None) -> AsyncIterator[Recorded]:
    """Recorded listings served on 127.0.0.1, read by the real client."""
    current: dict[str, str] = {}

    async def handler(request: web.Request) -> web.Response:
        name = RECORDINGS[current[request.match_info["kind"]]]
        return web.json_response(load_fixture(name))

    app = web.Application()
    app.router.add_get("/api/v1/{kind}", handler)
    server = await serve(app)
    async with aiohttp.ClientSession() as session:
        yield Recorded(PrinternizerClient(session, str(server.make_url("/"))), current)
    await server.close()


def _types(printers: list[Printer]) -> dict[str, str]:
    """Printer id → type, as the coordinator hands it to the tracker."""
    return {p.id: p.printer_type for p in printers}


JOB_1_MINUTES = pytest.approx(19.177071 / 60)


# --- recorded listings ---------------------------------------------------------------


async def test_tracker_recorded_first_listing_is_baseline(recorded: Recorded) -> None:
    """What Printernizer lists when counting starts is not counted."""
    tracker = TransitionTracker()
    printers = await recorded.printers("02d")
    assert tracker.printers(printers) == []
    assert tracker.jobs(await recorded.jobs("03l"), _types(printers), now=NOW) == []
    assert tracker.files(await recorded.files("04a"), now=NOW) == []
    assert Uptime(tracker, now=U0 + timedelta(seconds=21)).read() == ([], [])


async def test_tracker_recorded_run(recorded: Recorded) -> None:
    """Created, failed (0 s) and completed (19 s) on the recorded run; types from the printers listing."""
    tracker = TransitionTracker()
    printers = await recorded.printers("02d")
    types = _types(printers)
    assert tracker.printers(printers) == []
    assert (
        tracker.jobs(await recorded.jobs("08b"), types, now=NOW) == []
    )  # empty: no job yet
    assert tracker.jobs(await recorded.jobs("03d"), types, now=NOW) == [
        ("job_created", PRUSA),
        ("job_created", PRUSA),  # created as octoprint, listed as prusa_core
        ("job_created", BAMBU),
    ]
    assert tracker.jobs(await recorded.jobs("03f"), types, now=NOW) == []
    assert tracker.jobs(await recorded.jobs("03h"), types, now=NOW) == []
    assert tracker.jobs(await recorded.jobs("03j"), types, now=NOW) == [
        ("job_failed", PRUSA | {"duration_minutes": 0.0})
    ]
    assert tracker.jobs(await recorded.jobs("03l"), types, now=NOW) == [
        ("job_completed", BAMBU | {"duration_minutes": JOB_1_MINUTES})
    ]
    assert tracker.jobs(await recorded.jobs("03l"), types, now=NOW) == []
    assert tracker.printers(await recorded.printers("03q")) == []


async def test_tracker_recorded_pages(recorded: Recorded) -> None:
    """A job read twice while pages shift (limit-2 pages) counts once."""
    tracker = TransitionTracker()
    types = _types(await recorded.printers("02d"))
    tracker.jobs(await recorded.jobs("03f"), types, now=NOW)
    shifted = [*await recorded.jobs("03m"), *await recorded.jobs("03l")]
    assert [event for event, _ in tracker.jobs(shifted, types, now=NOW)] == [
        "job_failed",
        "job_completed",
    ]


@pytest.mark.parametrize(
    ("last_seen", "expected"),
    [
        (
            "03d",
            [
                ("job_failed", PRUSA | {"duration_minutes": 0.0}),
                ("job_completed", BAMBU | {"duration_minutes": JOB_1_MINUTES}),
            ],
        ),
        (
            "03f",
            [
                ("job_failed", PRUSA | {"duration_minutes": 0.0}),
                ("job_completed", BAMBU | {"duration_minutes": JOB_1_MINUTES}),
            ],
        ),
        ("03j", [("job_completed", BAMBU | {"duration_minutes": JOB_1_MINUTES})]),
        ("03l", []),
    ],
)
async def test_tracker_recorded_home_assistant_restart(
    recorded: Recorded, last_seen: str, expected: list[RawEvent]
) -> None:
    """After a restart, what finished while Home Assistant was down counts; nothing counts twice."""
    before = TransitionTracker()
    types = _types(await recorded.printers("02d"))
    before.printers(await recorded.printers("02d"))
    before.jobs(await recorded.jobs("08b"), types, now=NOW)
    before.jobs(await recorded.jobs("03d"), types, now=NOW)
    before.jobs(await recorded.jobs(last_seen), types, now=NOW)

    after = restarted(before)
    assert after.printers(await recorded.printers("03q")) == []
    assert after.jobs(await recorded.jobs("03l"), types, now=NOW) == expected
    assert after.jobs(await recorded.jobs("03l"), types, now=NOW) == []


async def test_tracker_recorded_printernizer_restart(recorded: Recorded) -> None:
    """A Printernizer restart empties the job list: nothing is counted, the mark stays."""
    tracker = TransitionTracker()
    printers = await recorded.printers("02d")
    types = _types(printers)
    tracker.printers(printers)
    tracker.jobs(await recorded.jobs("08b"), types, now=NOW)
    tracker.jobs(await recorded.jobs("03l"), types, now=NOW)
    stored = tracker.as_storage()
    assert tracker.jobs(await recorded.jobs("08b"), types, now=NOW) == []
    assert tracker.printers(await recorded.printers("08c")) == []
    assert tracker.as_storage() == stored
    # Home Assistant restarting into the same empty list counts nothing either.
    assert restarted(tracker).jobs(await recorded.jobs("08b"), types, now=NOW) == []
    # Jobs made after Printernizer's restart are new.
    new = job("after-restart", "pending", created=3600)
    assert tracker.jobs([new], types, now=NOW) == [("job_created", BAMBU)]


# --- jobs ----------------------------------------------------------------------------


def test_tracker_first_listing_is_baseline() -> None:
    """Without stored marks, the first listings of each kind count nothing."""
    tracker = TransitionTracker()
    assert tracker.printers([printer("p-prusa", "online")]) == []
    jobs = [job("1", "completed", finished=60, duration=600), job("2", "running")]
    assert tracker.jobs(jobs, TYPES, now=NOW) == []
    assert tracker.files([file("f", "downloaded", downloaded=30)], now=NOW) == []
    # Uptime is no baseline: the run so far is credited, without a restart.
    uptime = Uptime(tracker, now=U0 + timedelta(hours=10, seconds=30))
    uptime.start = uptime.now - timedelta(seconds=500)
    assert uptime.read() == ([], [(DAY0, 8)])


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["pending"], [("job_created", BAMBU)]),
        (["pending", "running", "printing", "paused"], [("job_created", BAMBU)]),
        (
            ["pending", "completed"],
            [
                ("job_created", BAMBU),
                ("job_completed", BAMBU | {"duration_minutes": 90.0}),
            ],
        ),
        (
            ["running", "failed"],
            [
                ("job_created", BAMBU),
                ("job_failed", BAMBU | {"duration_minutes": 90.0}),
            ],
        ),
        (["running", "cancelled"], [("job_created", BAMBU)]),
        (
            ["completed"],
            [
                ("job_created", BAMBU),
                ("job_completed", BAMBU | {"duration_minutes": 90.0}),
            ],
        ),
        (
            ["printing", "completed", "completed", "failed", "cancelled"],
            [
                ("job_created", BAMBU),
                ("job_completed", BAMBU | {"duration_minutes": 90.0}),
            ],
        ),
        (["cancelled", "completed"], [("job_created", BAMBU)]),
    ],
)
def test_tracker_job_transitions(
    tracker: TransitionTracker, statuses: list[str], expected: list[RawEvent]
) -> None:
    """A new job is created; reaching completed or failed counts once, cancelled never."""
    events: list[RawEvent] = []
    for step, status in enumerate(statuses):
        ends = status in ("completed", "failed", "cancelled")
        events += tracker.jobs(
            [
                job(
                    "4711",
                    status,
                    finished=5400 + step if ends else None,
                    duration=5400 if ends else None,
                )
            ],
            TYPES,
            now=NOW,
        )
    assert events == expected


@pytest.mark.parametrize(
    ("printer_type", "printer_id", "expected"),
    [
        ("unknown", "p-prusa", "prusa_core"),
        ("unknown", "p-gone", "unknown"),
        ("unknown", None, "unknown"),
        ("octoprint", "p-prusa", "octoprint"),
    ],
)
def test_tracker_job_printer_type(
    tracker: TransitionTracker, printer_type: str, printer_id: str | None, expected: str
) -> None:
    """A job that says "unknown" takes its printer's type from the printers listing."""
    kind = {"printer_type": printer_type, "printer_id": printer_id}
    tracker.jobs([job("7", "running", **kind)], TYPES, now=NOW)
    done = job("7", "completed", created=0, finished=19, duration=19.0, **kind)
    assert tracker.jobs([done], TYPES, now=NOW) == [
        ("job_completed", {"printer_type": expected, "duration_minutes": 19 / 60})
    ]


def test_tracker_job_without_duration(tracker: TransitionTracker) -> None:
    """A finished job without a duration carries no duration."""
    tracker.jobs([job("1", "running")], TYPES, now=NOW)
    assert tracker.jobs([job("1", "failed", finished=10)], TYPES, now=NOW) == [
        ("job_failed", BAMBU)
    ]


def test_tracker_item_listed_twice_counts_once(tracker: TransitionTracker) -> None:
    """An item listed twice in one poll (pages shifted between requests) counts once."""
    tracker.jobs([job("1", "running")], TYPES, now=NOW)
    done = job("1", "completed", finished=60, duration=60)
    assert tracker.jobs([done, done], TYPES, now=NOW) == [
        ("job_completed", BAMBU | {"duration_minutes": 1.0})
    ]
    new = job("2", "pending", created=70)
    assert tracker.jobs([new, new, done], TYPES, now=NOW) == [("job_created", BAMBU)]
    tracker.files([file("f", "downloading")], now=NOW)
    twice = file("f", "downloaded", downloaded=80)
    assert len(tracker.files([twice, twice], now=NOW)) == 1


def test_tracker_job_created_in_baseline_second(tracker: TransitionTracker) -> None:
    """After a baseline, a job not listed in it but created in its newest second is new."""
    fresh = TransitionTracker()
    assert fresh.jobs([job("1", "pending", created=10)], TYPES, now=NOW) == []
    assert fresh.jobs(
        [job("2", "pending", created=10), job("3", "pending", created=9)],
        TYPES,
        now=NOW,
    ) == [("job_created", BAMBU)]


def test_tracker_job_without_created_time(tracker: TransitionTracker) -> None:
    """A job without a creation time is never counted as new."""
    tracker.jobs([job("0", "pending", created=5)], TYPES, now=NOW)
    assert tracker.jobs([job("1", "pending", created=None)], TYPES, now=NOW) == []


def test_tracker_vanished_jobs_not_new_again(tracker: TransitionTracker) -> None:
    """Jobs missing from one listing (a glitch, a shifted page) are not counted again."""
    jobs = [job(str(i), "completed", created=i, finished=i + 1) for i in range(10)]
    tracker.jobs(jobs, TYPES, now=NOW)
    assert tracker.jobs([], TYPES, now=NOW) == []
    assert tracker.jobs(jobs[5:], TYPES, now=NOW) == []
    assert tracker.jobs(jobs, TYPES, now=NOW) == []


def test_tracker_forgotten_jobs_stay_old(tracker: TransitionTracker) -> None:
    """Past MAX_TRACKED the oldest vanished jobs are forgotten; their old times keep them uncounted."""
    old = [
        job(f"old-{i}", "completed", created=i, finished=i + 1)
        for i in reversed(range(MAX_TRACKED))
    ]
    fresh = TransitionTracker()
    assert fresh.jobs(old, TYPES, now=NOW) == []
    new = [job(f"new-{i}", "running", created=5000) for i in range(10)]
    assert len(fresh.jobs(new, TYPES, now=NOW)) == 10
    assert fresh.jobs(old[:-10], TYPES, now=NOW) == []
    assert fresh.jobs(old[-10:], TYPES, now=NOW) == []


def test_tracker_listing_bounded(tracker: TransitionTracker) -> None:
    """At most MAX_TRACKED items of a listing are looked at."""
    jobs = [job(f"j{i}", "pending", created=i) for i in range(MAX_TRACKED + 200)]
    assert len(tracker.jobs(jobs, TYPES, now=NOW)) == MAX_TRACKED
    files = [file(f"f{i}", "downloaded") for i in range(MAX_TRACKED + 5)]
    assert len(tracker.files(files, now=NOW)) == MAX_TRACKED
    printers = [printer(f"p{i}", "online") for i in range(MAX_TRACKED + 5)]
    tracker.printers(printers)
    assert tracker.connected == {"prusa_core": MAX_TRACKED}


# --- files and printers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["available", "downloading", "downloaded"], 1),
        (["downloaded"], 1),
        (["downloaded", "downloaded", "local", "downloaded"], 2),
        (["available", "error", "local", "unknown"], 0),
    ],
)
def test_tracker_file_transitions(
    tracker: TransitionTracker, statuses: list[str], expected: int
) -> None:
    """Reaching "downloaded" is a download, with the file's size."""
    events: list[RawEvent] = []
    for status in statuses:
        events += tracker.files(
            [file("printer-1_anna_schmidt_invoice.gcode", status)], now=NOW
        )
    assert events == [("file_downloaded", {"size_bytes": 2_000_000})] * expected


def test_tracker_file_without_size(tracker: TransitionTracker) -> None:
    """A download of unknown size carries no size."""
    assert tracker.files([file("f", "downloaded", size=None)], now=NOW) == [
        ("file_downloaded", {})
    ]


def test_tracker_file_new_and_downloaded(tracker: TransitionTracker) -> None:
    """A file first listed already downloaded counts when downloaded after the newest known download."""
    assert len(tracker.files([file("a", "downloaded", downloaded=10)], now=NOW)) == 1
    assert tracker.files([file("b", "downloaded", downloaded=10.5)], now=NOW) == []
    assert len(tracker.files([file("c", "downloaded", downloaded=11)], now=NOW)) == 1
    assert tracker.files([file("d", "downloaded")], now=NOW) == []


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["online"], []),
        (["online", "offline"], ["printer_disconnected"]),
        (["printing", "offline"], ["printer_disconnected"]),
        (["offline", "online"], ["printer_connected"]),
        (["offline", "printing"], ["printer_connected"]),
        (
            ["online", "offline", "offline", "paused"],
            ["printer_disconnected", "printer_connected"],
        ),
        (["online", "printing", "paused", "online"], []),
        (["online", "error"], []),
        (["error", "online"], ["printer_connected"]),
        (["unknown", "offline"], []),
    ],
)
def test_tracker_printer_transitions(
    tracker: TransitionTracker, statuses: list[str], expected: list[str]
) -> None:
    """Connected and disconnected follow the status of printers already known."""
    events: list[RawEvent] = []
    for status in statuses:
        events += tracker.printers([printer("p-prusa", status)])
    assert [name for name, _ in events] == expected
    assert all(meta == PRUSA for _, meta in events)


# --- Home Assistant restarts -------------------------------------------------------------


def test_tracker_restart_jobs_after_mark() -> None:
    """After a restart, jobs created or finished after the mark count; the mark's own second does not."""
    before = TransitionTracker()
    before.jobs([job("a", "running", created=0)], TYPES, now=NOW)
    assert before.jobs(
        [job("b", "pending", created=10.7), job("a", "running", created=0)],
        TYPES,
        now=NOW,
    ) == [("job_created", BAMBU)]
    assert before.job_mark == _at(10)

    after = restarted(before)
    listing = [
        job("d", "completed", created=25, finished=40, duration=15),
        job("c", "pending", created=20),
        job("e", "pending", created=10.9),  # same second as the mark: missed
        job("b", "completed", created=10.7, finished=30, duration=20),
        job("a", "running", created=0),
    ]
    assert after.jobs(listing, TYPES, now=NOW) == [
        ("job_created", BAMBU),
        ("job_completed", BAMBU | {"duration_minutes": 0.25}),
        ("job_created", BAMBU),
        ("job_completed", BAMBU | {"duration_minutes": 20 / 60}),
    ]
    assert after.jobs(listing, TYPES, now=NOW) == []
    assert after.jobs([job("a", "failed", created=0, finished=50)], TYPES, now=NOW) == [
        ("job_failed", BAMBU)
    ]


def test_tracker_restart_files_after_mark() -> None:
    """After a restart, files downloaded after the mark count, once."""
    before = TransitionTracker()
    before.files(
        [file("f1", "downloaded", downloaded=5.5), file("f2", "downloading")], now=NOW
    )
    assert before.file_mark == _at(5)

    after = restarted(before)
    listing = [
        file("f1", "downloaded", downloaded=5.5),
        file("f2", "downloaded", downloaded=20),
        file("f3", "downloaded", downloaded=30, size=None),
        file("f4", "downloaded", downloaded=5.9),
        file("f5", "downloaded"),
        file("f6", "available"),
    ]
    assert after.files(listing, now=NOW) == [
        ("file_downloaded", {"size_bytes": 2_000_000}),
        ("file_downloaded", {}),
    ]
    assert after.files(listing, now=NOW) == []


def test_tracker_restart_connected_counts() -> None:
    """After a restart, more connected printers of a type than stored connected, fewer went away."""
    before = TransitionTracker()
    before.printers(
        [
            printer("b1", "online", "bambu_lab"),
            printer("p1", "printing"),
            printer("p2", "online"),
            printer("p3", "offline"),
        ]
    )
    assert before.connected == {"bambu_lab": 1, "prusa_core": 2}

    after = restarted(before)
    listing = [
        printer("b1", "offline", "bambu_lab"),
        printer("p1", "online"),
        printer("p2", "paused"),
        printer("p3", "online"),
        printer("o1", "online", "octoprint"),
    ]
    assert after.printers(listing) == [
        ("printer_disconnected", BAMBU),
        ("printer_connected", PRUSA),
        ("printer_connected", {"printer_type": "octoprint"}),
    ]
    assert after.printers(listing) == []
    assert after.printers([printer("p1", "offline")]) == [
        ("printer_disconnected", PRUSA)
    ]


def test_tracker_restart_without_marks_is_baseline() -> None:
    """A run that saw nothing stores no marks: the next run starts with a baseline."""
    before = TransitionTracker()
    assert before.as_storage() == dict.fromkeys(STORED_KEYS)
    after = restarted(before)
    assert after.printers([printer("p", "online")]) == []
    assert after.jobs([job("1", "completed", finished=5)], TYPES, now=NOW) == []
    assert after.files([file("f", "downloaded", downloaded=5)], now=NOW) == []


# --- timestamps ahead of the trusted now ---------------------------------------------------


def test_tracker_job_stamped_2099_is_not_believed(tracker: TransitionTracker) -> None:
    """Issue 15: a 2099 job next to a good one: the good one counts, and after a restart later jobs count."""
    listing = [
        job("future", "pending", created=Y2099),
        job("good", "pending", created=60),
    ]
    assert tracker.jobs(listing, TYPES, now=NOW) == [("job_created", BAMBU)]
    assert tracker.job_mark == datetime(2026, 11, 30, 10, 1)
    after = restarted(tracker)
    assert after.job_mark == datetime(2026, 11, 30, 10, 1)
    later = job("later", "pending", created=7200)
    assert after.jobs([later, *listing], TYPES, now=NOW) == [("job_created", BAMBU)]
    assert after.job_mark == NOW
    # Its finish still counts (a status change), but moves no mark either.
    done = job("future", "completed", created=Y2099, finished=Y2099, duration=60)
    assert after.jobs([done, later], TYPES, now=NOW) == [
        ("job_completed", BAMBU | {"duration_minutes": 1.0})
    ]
    assert after.job_mark == NOW
    assert after.as_storage()["job_mark"] == "2026-11-30T12:00:00"


@pytest.mark.parametrize(
    ("created", "events", "mark"),
    [
        (AHEAD - 1, 1, datetime(2026, 12, 1, 11, 59, 59)),
        (AHEAD, 1, datetime(2026, 12, 1, 12, 0)),
        (AHEAD + 1, 0, datetime(2026, 11, 30, 10, 1)),
        (Y2099, 0, datetime(2026, 11, 30, 10, 1)),
    ],
)
def test_tracker_job_stamp_limit_is_one_day_ahead(
    tracker: TransitionTracker, created: float, events: int, mark: datetime
) -> None:
    """A job created exactly a day after the trusted now is believed, one second later not."""
    tracker.jobs([job("old", "pending", created=60)], TYPES, now=NOW)
    listing = [
        job("new", "pending", created=created),
        job("old", "pending", created=60),
    ]
    assert tracker.jobs(listing, TYPES, now=NOW) == [("job_created", BAMBU)] * events
    assert tracker.job_mark == mark
    assert tracker.job_mark <= NOW + timedelta(days=1)


@pytest.mark.parametrize(
    ("downloaded", "events", "mark", "later"),
    [
        (AHEAD, 1, datetime(2026, 12, 1, 12, 0), 0),
        (AHEAD + 1, 0, datetime(2026, 11, 30, 10, 1), 1),
        (Y2099, 0, datetime(2026, 11, 30, 10, 1), 1),
    ],
)
def test_tracker_file_stamp_limit_is_one_day_ahead(
    tracker: TransitionTracker,
    downloaded: float,
    events: int,
    mark: datetime,
    later: int,
) -> None:
    """A download stamped more than a day ahead neither counts nor holds back later downloads."""
    tracker.files([file("a", "downloaded", downloaded=60)], now=NOW)
    new = file("b", "downloaded", downloaded=downloaded)
    assert len(tracker.files([new], now=NOW)) == events
    assert tracker.file_mark == mark
    # After a restart, a file downloaded at the trusted now counts unless a
    # believed mark (a day ahead at most) is later.
    after = restarted(tracker)
    listing = [file("c", "downloaded", downloaded=7200), new]
    assert len(after.files(listing, now=NOW)) == later


# --- Printernizer's uptime: restarts -----------------------------------------------------


def _up_since_eight() -> Uptime:
    """Printernizer up since 08:00; read at 10:00:30, which credits 08:00-10:00."""
    uptime = Uptime(start=U0 + timedelta(hours=8))
    uptime.wait(10 * 3600 + 30)
    assert uptime.read() == ([], [(DAY0, 120)])
    return uptime


def test_tracker_uptime_restart_two_minutes_after_a_poll() -> None:
    """Issue 16: a restart 2 minutes after a poll (down 12 s) counts at the next poll, once."""
    uptime = _up_since_eight()
    uptime.wait(120)
    uptime.restart_printernizer(12)  # back at 10:02:42
    events, credit = uptime.poll(528)  # polls 11 minutes apart: 10:11:30
    assert events == shutdown(7230 / 3600)
    # The new run from its start, to the minute; the old run's last
    # 2 minutes were never seen.
    assert credit == [(DAY0, 9)]
    for _ in range(3):
        assert uptime.poll(660) == ([], [(DAY0, 11)])


def test_tracker_uptime_restart_seen_by_its_start() -> None:
    """A run shorter than a poll interval: the new uptime exceeds the old one, the later start shows it."""
    uptime = Uptime(start=U0 + timedelta(hours=10))
    uptime.wait(10 * 3600 + 30)
    assert uptime.read() == ([], [])  # up 30 s
    uptime.wait(15)
    uptime.restart_printernizer(5)  # back at 10:00:50
    events, credit = uptime.poll(640)  # 10:11:30, up 640 s
    assert events == shutdown(30 / 3600)
    assert credit == [(DAY0, 11)]
    assert uptime.poll(660) == ([], [(DAY0, 11)])


def test_tracker_uptime_restart_never_credits_a_minute_twice() -> None:
    """A start 45 s later but before the last reading (a clock step) counts as a restart, crediting 1 new minute."""
    uptime = _up_since_eight()
    events, credit = uptime.poll(60, jitter=-45)
    assert events == shutdown(7230 / 3600)
    assert credit == [(DAY0, 1)]  # not 08:01-10:01 again
    assert uptime.poll(60, jitter=-45) == ([], [(DAY0, 1)])


@pytest.mark.parametrize(
    ("restart", "events", "minutes"),
    [(True, shutdown(2.0), 150), (False, [], 180)],
    ids=["restarted", "same_run"],
)
def test_tracker_uptime_across_home_assistant_restart(
    restart: bool, events: list[RawEvent], minutes: int
) -> None:
    """Issue 16: a restart while Home Assistant is stopped counts at its first reading; the same run is credited the time away."""
    uptime = _up_since_eight()
    assert uptime.tracker.as_storage() == {
        "job_mark": None,
        "file_mark": None,
        "connected": None,
        "started": "2026-11-30T08:00:00+00:00",
        "up_until": "2026-11-30T10:00:00+00:00",
    }
    uptime.wait(1770)
    if restart:
        uptime.restart_printernizer(30)  # back at 10:30:30
    else:
        uptime.wait(30)
    uptime.restart_home_assistant(9000)  # back at 13:00:30
    # From the new run's 10:30, or from the last reading's 10:00.
    assert uptime.read() == (events, [(DAY0, minutes)])
    for _ in range(3):
        assert uptime.poll() == ([], [(DAY0, 1)])


def test_tracker_uptime_restart_with_unknown_end() -> None:
    """A later start after a stored start whose up-until was damaged: app_shutdown without a range."""
    context = reading()
    tracker = TransitionTracker.from_storage(STATE | {"up_until": "noon"}, context)
    assert context.damage.summary() == START
    uptime = Uptime(
        tracker,
        now=U0 + timedelta(hours=11, seconds=30),
        start=U0 + timedelta(hours=10, minutes=30),
    )
    assert uptime.read() == ([("app_shutdown", {}), ("app_start", APP)], [(DAY0, 30)])
    assert uptime.poll() == ([], [(DAY0, 1)])


@pytest.mark.parametrize(
    ("jitter", "events"),
    [(90, []), (-90, []), (-150, shutdown(2.0))],
)
def test_tracker_uptime_stored_start_slack(
    jitter: float, events: list[RawEvent]
) -> None:
    """Across a Home Assistant restart the stored start (to the minute) allows 2 minutes' slack."""
    uptime = _up_since_eight()
    uptime.restart_home_assistant(3 * 3600)
    assert uptime.read(jitter) == (events, [(DAY0, 180)])
    assert uptime.poll(60, jitter) == ([], [(DAY0, 1)])


def test_tracker_uptime_suspend_is_not_a_restart() -> None:
    """Issue 16: a 16 h suspend (loop clock still, wall clock and uptime +16 h) is no restart."""
    uptime = _up_since_eight()
    uptime.wait(16 * 3600, suspended=True)
    assert uptime.mono == 5000 + 10 * 3600 + 30
    assert uptime.read() == ([], [(DAY0, 840), (DAY0 + timedelta(days=1), 120)])
    assert uptime.poll() == ([], [(DAY0 + timedelta(days=1), 1)])
    # A real restart after the resume is still seen, with the run's 18 h.
    uptime.restart_printernizer(12)
    events, _ = uptime.poll()
    assert events == shutdown((18 * 3600 + 90) / 3600)
    assert uptime.poll() == ([], [(DAY0 + timedelta(days=1), 1)])


@pytest.mark.parametrize("jitter", [2, 29])
def test_tracker_uptime_jitter_is_not_a_restart(jitter: float) -> None:
    """Readings off by up to ±29 s (well past the ±2 s seen) are one run, each minute credited once."""
    uptime = _up_since_eight()
    events: list[RawEvent] = []
    minutes = 0
    for step in range(60):
        found, credit = uptime.poll(60, jitter if step % 2 else -jitter)
        events += found
        minutes += sum(count for _, count in credit)
    assert events == []
    assert minutes == 60


# --- Printernizer's uptime: credited minutes ---------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "credit"),
    [
        (86400 - 570, 86400 + 630, [(DAY0, 10), (DAY1, 10)]),
        (86400 - 0.1, 86400, [(DAY0, 1)]),
        (86400, 86400 + 59.9, []),
        (86400 - 3600, 2 * 86400 + 3600, [(DAY0, 60), (DAY1, 1440), (DAY2, 60)]),
    ],
)
def test_tracker_uptime_credit_split_at_midnight(
    first: float, second: float, credit: UptimeCredit
) -> None:
    """Minutes are credited per UTC day, split exactly at midnight."""
    uptime = Uptime()
    uptime.wait(first)
    uptime.read()
    assert uptime.poll(second - first) == ([], credit)


@pytest.mark.parametrize(
    ("interval", "day_total"), [(60, 1439), (37, 1439), (660, 1430)]
)
def test_tracker_uptime_credits_each_minute_once(interval: int, day_total: int) -> None:
    """Readings from 00:00:30 credit the day up to the last one's minute; the next completes 1440."""
    uptime = Uptime()
    uptime.wait(30)
    days: Counter[date] = Counter(dict(uptime.read()[1]))
    while uptime.now + timedelta(seconds=interval) < U0 + timedelta(days=1):
        days.update(dict(uptime.poll(interval)[1]))
    assert days == {DAY0: day_total}
    days.update(dict(uptime.poll(interval)[1]))
    assert days[DAY0] == 1440


@pytest.mark.parametrize(
    ("seconds", "first", "total"),
    [
        (3 * 86400, (date(2026, 11, 27), 720), 3 * 1440),
        (200 * 86400, (date(2026, 8, 31), 720), 91 * 1440),
        (MAX_UPTIME_SECONDS, (date(2026, 8, 31), 720), 91 * 1440),
    ],
)
def test_tracker_uptime_credit_at_most_91_days_back(
    seconds: float, first: tuple[date, int], total: int
) -> None:
    """A first reading credits the run so far, never more than 91 days back."""
    now = U0 + timedelta(hours=12, seconds=30)
    events, credit = TransitionTracker().uptime(seconds, now=now, mono=0.0, **APP)
    assert events == []
    assert credit[0] == first
    assert credit[-1] == (DAY0, 720)
    assert sum(count for _, count in credit) == total
    assert all(count == 1440 for _, count in credit[1:-1])


@pytest.mark.parametrize(
    "seconds",
    [-1, MAX_UPTIME_SECONDS + 1, 1e22, float("nan"), float("inf")],
)
def test_tracker_uptime_impossible_reading_ignored(seconds: float) -> None:
    """An uptime below zero, over 20 years, NaN or infinite is no reading: nothing changes."""
    uptime = _up_since_eight()
    stored = uptime.tracker.as_storage()
    uptime.tracker.changed = False
    uptime.wait(60)
    tracker = uptime.tracker
    assert tracker.uptime(seconds, now=uptime.now, mono=uptime.mono, **APP) == ([], [])
    assert tracker.as_storage() == stored
    assert not tracker.changed
    # The next reading credits what the ignored one would have.
    assert uptime.poll() == ([], [(DAY0, 2)])


# (stopped on day, at second of the day, down for seconds)
WEEK_RESTARTS = (
    (0, 10 * 3600 + 2 * 60 + 45, 12),
    (1, 3 * 3600 + 17 * 60 + 50, 45),
    (2, 86400 - 20, 120),
    (4, 12 * 3600 + 10, 300),
    (6, 18 * 3600 + 30 * 60 + 55, 10),
)


def test_tracker_uptime_week_with_five_restarts() -> None:
    """Issue 16: a week of 60-s readings, 5 restarts down 10-300 s: 5 counted, uptime within 1 h of the truth."""
    outages = [
        (U0 + timedelta(days=day, seconds=at), timedelta(seconds=down))
        for day, at, down in WEEK_RESTARTS
    ]
    uptime = Uptime()
    uptime.wait(30)
    events: list[RawEvent] = []
    days: Counter[date] = Counter()
    for _ in range(7 * 1440):
        for stop, down in outages:
            if stop + down <= uptime.now:
                uptime.start = max(uptime.start, stop + down)
        if not any(stop <= uptime.now < stop + down for stop, down in outages):
            found, credit = uptime.read()
            events += found
            days.update(dict(credit))
        uptime.wait(60)
    assert events == [
        event
        for seconds in (36150, 62073, 86400 + 74455, 86400 + 43070, 172800 + 23120)
        for event in shutdown(seconds / 3600)
    ]
    # Lost: the minute of each stop up to the new start's, and the week's last.
    assert [days[DAY0 + timedelta(days=n)] for n in range(7)] == [
        1440,
        1439,
        1439,
        1439,
        1434,
        1440,
        1438,
    ]
    true_seconds = 7 * 86400 - sum(down for _, _, down in WEEK_RESTARTS)
    assert true_seconds == 604_313  # 167.9 h
    assert days.total() == 10_069  # minutes: 167.8 h
    assert days.total() // 60 == true_seconds // 3600 == 167


# --- reset, storage ------------------------------------------------------------------------


def test_tracker_changed_only_when_marks_move(tracker: TransitionTracker) -> None:
    """`changed` is set when a stored mark moves, not on every poll."""
    tracker.changed = False
    listing = [job("1", "pending", created=10)]
    tracker.jobs(listing, TYPES, now=NOW)
    assert tracker.changed
    tracker.changed = False
    tracker.jobs(listing, TYPES, now=NOW)
    tracker.files([file("f", "available")], now=NOW)
    tracker.printers([])
    assert not tracker.changed
    tracker.printers([printer("p", "online")])
    assert tracker.changed
    tracker.changed = False
    uptime = Uptime(tracker, now=U0 + timedelta(seconds=10))
    uptime.read()
    assert tracker.changed
    tracker.changed = False
    uptime.poll(20)  # the same minute: start and up-until unchanged
    assert not tracker.changed
    tracker.files([file("f", "downloaded", downloaded=20)], now=NOW)
    assert tracker.changed


def test_tracker_reset(tracker: TransitionTracker) -> None:
    """reset() forgets marks and statuses; Printernizer's run stays known, nothing is credited twice."""
    tracker.jobs([job("1", "running", created=10)], TYPES, now=NOW)
    tracker.files([file("f", "downloaded", downloaded=10)], now=NOW)
    tracker.printers([printer("p", "online")])
    uptime = Uptime(tracker, now=U0 + timedelta(hours=2))
    assert uptime.read() == ([], [(DAY0, 120)])
    tracker.changed = False
    tracker.reset()
    assert tracker.changed
    assert tracker.as_storage() == {
        "job_mark": None,
        "file_mark": None,
        "connected": None,
        "started": "2026-11-30T00:00:00+00:00",
        "up_until": "2026-11-30T02:00:00+00:00",
    }
    done = job("1", "completed", created=10, finished=20)
    assert tracker.jobs([done], TYPES, now=NOW) == []
    assert tracker.files([file("g", "downloaded", downloaded=30)], now=NOW) == []
    assert tracker.printers([printer("p", "offline")]) == []
    assert uptime.poll() == ([], [(DAY0, 1)])


STORED_KEYS = ("job_mark", "file_mark", "connected", "started", "up_until")
STATE: dict[str, Any] = {
    "job_mark": "2026-11-30T10:00:10",
    "file_mark": "2026-11-30T10:00:20",
    "connected": {"bambu_lab": 1},
    "started": "2026-11-30T08:00:00+00:00",
    "up_until": "2026-11-30T10:00:00+00:00",
}


def test_tracker_from_storage_round_trip() -> None:
    """Stored marks come back as they were, without damage."""
    tracker = TransitionTracker(
        job_mark=_at(10),
        file_mark=_at(20),
        connected={"bambu_lab": 1},
        started=U0 + timedelta(hours=8),
        up_until=U0 + timedelta(hours=10),
    )
    stored = json.loads(json.dumps(tracker.as_storage()))
    assert stored == STATE
    context = reading()
    assert TransitionTracker.from_storage(stored, context).as_storage() == STATE
    assert not context.damage


JOB_MARK = ["tracker: job mark"]
FILE_MARK = ["tracker: file mark"]
CONNECTED = ["tracker: connected printers"]
START = ["tracker: Printernizer start"]


@pytest.mark.parametrize(
    ("change", "kept", "damage"),
    [
        ({"job_mark": 5}, {"job_mark": None}, JOB_MARK),
        ({"job_mark": "yesterday"}, {"job_mark": None}, JOB_MARK),
        (
            {"job_mark": "\uff12\uff10\uff12\uff16-11-30T10:00:10"},
            {"job_mark": None},
            JOB_MARK,
        ),
        ({"job_mark": "2026-11-30T10:00:10.5"}, {"job_mark": None}, JOB_MARK),
        ({"job_mark": "2026-11-30T10:00:10+00:00"}, {"job_mark": None}, JOB_MARK),
        ({"job_mark": "2026-02-30T10:00:10"}, {"job_mark": None}, JOB_MARK),
        ({"job_mark": "2099-01-01T00:00:00"}, {"job_mark": None}, JOB_MARK),
        ({"job_mark": "2026-12-01T12:00:01"}, {"job_mark": None}, JOB_MARK),
        ({"job_mark": "2026-12-01T12:00:00"}, {"job_mark": "2026-12-01T12:00:00"}, []),
        ({"file_mark": ""}, {"file_mark": None}, FILE_MARK),
        ({"file_mark": ["2026-11-30T10:00:20"]}, {"file_mark": None}, FILE_MARK),
        ({"file_mark": "9999-12-31T23:59:59"}, {"file_mark": None}, FILE_MARK),
        ({"connected": []}, {"connected": None}, CONNECTED),
        ({"connected": {"CANARY-NAME-1": 1}}, {"connected": None}, CONNECTED),
        ({"connected": {"bambu_lab": -1}}, {"connected": None}, CONNECTED),
        ({"connected": {"bambu_lab": True}}, {"connected": None}, CONNECTED),
        ({"connected": {"bambu_lab": 1.0}}, {"connected": None}, CONNECTED),
        ({"connected": {"bambu_lab": 10_001}}, {"connected": None}, CONNECTED),
        (
            {"connected": {"bambu_lab": 2, "prusa_core": "1"}},
            {"connected": None},
            CONNECTED,
        ),
        (
            {"connected": {"bambu_lab": 10_000}},
            {"connected": {"bambu_lab": 10_000}},
            [],
        ),
        (
            {"started": "2026-11-30T10:01:00+00:00"},
            {"started": None, "up_until": None},
            START,
        ),
        ({"started": "yesterday"}, {"started": None}, START),
        ({"started": "0001-01-01T00:00:00+05:00"}, {"started": None}, START),
        ({"up_until": "2026-11-30T10:00:00"}, {"up_until": None}, START),
        (
            {"started": "2026-11-30T09:00:00+01:00"},
            {"started": "2026-11-30T08:00:00+00:00"},
            [],
        ),
        (
            {"up_until": "2027-01-01T00:00:00Z"},
            {"up_until": "2026-11-30T12:06:00+00:00"},
            [],
        ),
        ({"uptime_hours": 5}, {}, []),
        ({"salt": "0123456789abcdef", "jobs": {"5f2c9a1b": "running"}}, {}, []),
        (dict.fromkeys(STORED_KEYS), dict.fromkeys(STORED_KEYS), []),
    ],
)
def test_tracker_from_storage_drops_each_damaged_unit_alone(
    change: dict[str, Any], kept: dict[str, Any], damage: list[str]
) -> None:
    """Each damaged unit is dropped alone and named; marks a day past now, legacy and unknown keys go."""
    context = reading()
    restored = TransitionTracker.from_storage(STATE | change, context)
    assert restored.as_storage() == STATE | kept
    assert context.damage.summary() == damage
    assert context.damage.sections == (["tracker"] if damage else [])


@pytest.mark.parametrize("data", [None, [], ["job_mark"], "state", 1, 1.5, True])
def test_tracker_from_storage_refuses_non_objects(data: object) -> None:
    """Only a section that is not an object raises (storage then notes the whole section)."""
    with pytest.raises(ValueError, match="not an object"):
        TransitionTracker.from_storage(data, reading())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=8,
)
STAMPS = st.sampled_from(
    [
        "2026-11-30T10:00:10",
        "2026-12-01T12:00:00",
        "2026-12-01T12:00:01",
        "2099-01-01T00:00:00",
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "2026-11-30T09:00:00+01:00",
        "2026-11-30T10:00:00Z",
        "2027-01-01T00:00:00+00:00",
        "\uff12\uff10\uff12\uff16-11-30T10:00:10",
    ]
)
DAMAGE_LINE = re.compile(
    r"tracker: (job mark|file mark|connected printers|Printernizer start)( \(\d+\))?"
)


@settings(max_examples=500, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from([*STORED_KEYS, "uptime_hours"]) | st.text(max_size=8),
        JSON | STAMPS,
        max_size=6,
    )
)
def test_tracker_from_storage_property(changes: dict[str, Any]) -> None:
    """Any JSON under any key: never raises, untouched units kept, what is kept reads back clean."""
    context = reading()
    stored = json.loads(
        json.dumps(
            TransitionTracker.from_storage(STATE | changes, context).as_storage()
        )
    )
    assert set(stored) == set(STORED_KEYS)
    assert all(DAMAGE_LINE.fullmatch(line) for line in context.damage.summary())
    for key in ("job_mark", "file_mark", "connected"):
        if key not in changes:
            assert stored[key] == STATE[key]
    if not {"started", "up_until"} & set(changes):
        assert (stored["started"], stored["up_until"]) == (
            STATE["started"],
            STATE["up_until"],
        )
    for key in ("job_mark", "file_mark"):
        if stored[key] is not None:
            assert datetime.fromisoformat(stored[key]) <= NOW + timedelta(days=1)
    again = reading()
    assert TransitionTracker.from_storage(stored, again).as_storage() == stored
    assert not again.damage


# --- nothing reversible at rest ----------------------------------------------------------


NAME_PARTS = (
    "anna_schmidt_invoice",
    "john_doe",
    "erika_mustermann_bracket",
    "max_mustermann_gear",
    "otto_weber_enclosure",
)
LIKELY_NAMES = (
    "anna_schmidt_invoice.gcode",
    "anna_schmidt_invoice",
    "anna_schmidt",
    "anna",
    "schmidt",
    "invoice",
    "upload_20261130_005208_john_doe.gcode",
    "upload_20261130_005208",
    "john_doe.gcode",
    "john_doe",
    "john",
    "erika_mustermann",
    "mustermann",
    "max_mustermann_gear",
    "otto_weber",
    "enclosure",
    "gcode",
    ".3mf",
)
POLLS = 100


def _file_ids(printer_ids: list[str], names: tuple[str, ...]) -> list[str]:
    """File ids as Printernizer builds them, with the file name inside."""
    ids = [f"{pid}_{names[0]}.gcode" for pid in printer_ids]
    ids.append(f"upload_20261130_005208_{names[1]}.gcode")
    ids += [
        f"{printer_ids[i % 3]}_{names[i % len(names)]}_{i}.gcode"
        for i in range(len(ids), 2 * POLLS)
    ]
    return ids


def _stored_after_timeline(
    job_ids: list[str], file_ids: list[str], printer_ids: list[str]
) -> str:
    """Track POLLS polls of a busy Printernizer; the JSON the tracker would store."""
    tracker = TransitionTracker()
    types = dict(
        zip(printer_ids, ("bambu_lab", "prusa_core", "octoprint"), strict=True)
    )
    start = datetime(2026, 11, 30, 0, 51, 22, 123456)
    per_poll = len(job_ids) // POLLS
    for poll in range(POLLS):
        tracker.printers(
            [
                Printer(pid, ptype, "offline" if (poll + i) % 10 == 0 else "online")
                for i, (pid, ptype) in enumerate(types.items())
            ]
        )
        jobs = []
        listed = (poll + 1) * per_poll
        for index in reversed(range(max(0, listed - 100), listed)):
            born = index // per_poll
            created = start + timedelta(minutes=born, microseconds=index)
            age = poll - born
            status = ("pending", "running")[age] if age < 2 else "completed"
            if status == "completed" and index % 7 == 0:
                status = "failed"
            jobs.append(
                Job(
                    id=job_ids[index],
                    printer_id=printer_ids[index % 3],
                    printer_type="unknown",
                    status=status,
                    duration_seconds=150.25 if age >= 2 else None,
                    created=created,
                    finished=created + timedelta(seconds=150.25) if age >= 2 else None,
                )
            )
        tracker.jobs(jobs, types, now=NOW)
        files = []
        for index in reversed(range(min(2 * (poll + 1), len(file_ids)))):
            age = poll - index // 2
            status = ("available", "downloading")[age] if age < 2 else "downloaded"
            done = start + timedelta(minutes=index // 2 + 2, seconds=0.5)
            downloaded = done if age >= 2 else None
            files.append(File(file_ids[index], status, 1000.0 * index, downloaded))
        tracker.files(files, now=NOW)
        tracker.uptime(
            1000.5 + 60 * (poll % 50),
            now=start.replace(tzinfo=UTC) + timedelta(minutes=poll),
            mono=5000.0 + 60 * poll,
            **APP,
        )
    return json.dumps(tracker.as_storage())


@functools.cache
def _real_timeline() -> tuple[str, list[str], list[str], list[str]]:
    """The stored JSON, job ids 1…1000 and UUIDs, file ids with names, printer ids."""
    numbers = iter(range(1, 1001))
    uuids = [str(uuid.UUID(int=n, version=4)) for n in range(POLLS)]
    job_ids = [
        str(next(numbers)) if slot < 10 else uuids[poll]
        for poll in range(POLLS)
        for slot in range(11)
    ]
    printer_ids = [
        "f541b1c5-d3aa-4277-b617-2d5194f4bacc",
        "6f261769-910d-45ab-82f7-028814ca2a69",
        "9ee553e6-a7ff-4925-8b73-9f56606c3c9a",
    ]
    file_ids = _file_ids(printer_ids, NAME_PARTS)
    stored = _stored_after_timeline(job_ids, file_ids, printer_ids)
    return stored, job_ids, file_ids, printer_ids


@functools.cache
def _other_timeline() -> str:
    """The same timeline with other ids and names."""
    job_ids = [f"x{n:04x}" for n in range(11 * POLLS)]
    printer_ids = ["printer-a", "printer-b", "printer-c"]
    file_ids = _file_ids(printer_ids, ("report", "part", "clip"))
    return _stored_after_timeline(job_ids, file_ids, printer_ids)


def _strings(value: object) -> list[str]:
    """Every string in a JSON value: keys and values, at any depth."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


HEAD = itemgetter(slice(0, 4))


def digests(algorithm: Callable[[bytes], Any], data: list[bytes]) -> Iterator[bytes]:
    """The digest of each item, hashed in C."""
    return map(methodcaller("digest"), map(algorithm, data))


def _found(stored: str, candidates: list[str]) -> set[str]:
    """The candidates (in lower case) a substring search of the stored JSON finds."""
    # filter and map loop in C: a line tracer such as coverage's stays out.
    return set(filter(stored.lower().__contains__, candidates))


def _confirmed(stored: str, candidates: list[str]) -> set[str]:
    """The candidates whose hash is in the stored state.

    sha256, sha1 and md5 of each candidate, alone and salted with every string
    of the state (before or after it, with or without ":"), checked whole and
    cut to 8-16 hex characters against every string of the state. Only a hex
    string there can confirm a digest: the unsalted digests are computed
    regardless, the salted ones (about 10⁸ for the tracker's state) only when
    the state holds such a string.
    """
    strings = _strings(json.loads(stored))
    targets = [s.lower() for s in strings if HEX.fullmatch(s.lower())]
    prefixes = {bytes.fromhex(t[:8]) for t in targets}
    raw = list(map(str.encode, candidates))
    salts = [s.encode() for s in strings] if targets else []
    schemes = [(b"", b"")]
    for salt in salts:
        schemes += [(salt, b""), (salt + b":", b""), (b"", salt), (b"", b":" + salt)]
    confirmed: set[str] = set()
    for algorithm in (hashlib.sha256, hashlib.sha1, hashlib.md5):
        for before, after in schemes:
            data = [before + r + after for r in raw] if before or after else raw
            if not any(map(prefixes.__contains__, map(HEAD, digests(algorithm, data)))):
                continue
            for index, digest in enumerate(digests(algorithm, data)):
                if digest[:4] in prefixes:
                    hexed = digest.hex()
                    if any(
                        hexed.startswith(t) and (len(t) <= 16 or len(t) == len(hexed))
                        for t in targets
                    ):
                        confirmed.add(candidates[index])
    return confirmed


def test_tracker_stored_state_holds_only_marks() -> None:
    """At rest: two marks to the second, counts per type, two times to the minute; no id, name, salt or hash."""
    stored, job_ids, file_ids, printer_ids = _real_timeline()
    state = json.loads(stored)
    assert set(state) == set(STORED_KEYS)
    assert MARK.fullmatch(state["job_mark"])
    assert MARK.fullmatch(state["file_mark"])
    assert set(state["connected"]) <= set(PRINTER_TYPES)
    assert all(type(count) is int for count in state["connected"].values())
    assert MINUTE.fullmatch(state["started"])
    assert MINUTE.fullmatch(state["up_until"])
    assert not [s for s in _strings(state) if HEX.search(s.lower())]
    for ident in (*job_ids[10::11], *file_ids, *printer_ids, *NAME_PARTS):
        assert ident not in stored


def test_tracker_state_does_not_depend_on_ids() -> None:
    """The same timeline with other ids and names stores exactly the same state."""
    assert _real_timeline()[0] == _other_timeline()


def test_tracker_brute_force_recovers_nothing() -> None:
    """Issue acceptance: ids 1…10⁶, the UUIDs and likely file names cannot be found or confirmed."""
    stored, job_ids, file_ids, printer_ids = _real_timeline()
    candidates = [
        *map(str, range(1, 1_000_001)),
        *job_ids[10::11],
        *printer_ids,
        *file_ids,
        *LIKELY_NAMES,
    ]
    # Digits of the marks match small numbers by substring: what the search
    # also finds in the state of the same timeline with other ids is no finding.
    found = _found(stored, candidates)
    assert found - _found(_other_timeline(), candidates) == set()
    assert not found & {*job_ids[10::11], *printer_ids, *file_ids, *LIKELY_NAMES}
    gc.disable()  # millions of short-lived objects: no point scanning the heap for cycles
    try:
        assert _confirmed(stored, candidates) == set()
    finally:
        gc.enable()


def _old_design() -> dict[str, Any]:
    """The previous tracker's state: a salt and sha256(salt:id) cut to 16 characters."""
    salt = "0123456789abcdef"
    hashes = [
        hashlib.sha256(f"{salt}:{n}".encode()).hexdigest()[:16] for n in (17, 1999)
    ]
    return {"salt": salt, "jobs": dict.fromkeys(hashes, "running")}


@pytest.mark.parametrize(
    ("leak", "attack", "planted"),
    [
        ({"jobs": {"17": "running"}}, _found, {"17"}),
        (
            {"files": {"upload_20261130_005208_john_doe.gcode": "downloaded"}},
            _found,
            {"upload_20261130_005208_john_doe.gcode", "john_doe"},
        ),
        (_old_design(), _confirmed, {"17", "1999"}),
        ({"seen": [hashlib.md5(b"42").hexdigest()]}, _confirmed, {"42"}),
        (
            {
                "pepper": "k3y",
                "files": [
                    hashlib.sha1(b"anna_schmidt_invoice.gcodek3y").hexdigest()[:8]
                ],
            },
            _confirmed,
            {"anna_schmidt_invoice.gcode"},
        ),
        (
            {"files": [hashlib.sha256(b"k3y:john_doe").hexdigest()], "pepper": "k3y"},
            _confirmed,
            {"john_doe"},
        ),
    ],
    ids=["raw_id", "raw_name", "old_design", "md5", "sha1_suffix_salt", "sha256_full"],
)
def test_tracker_brute_force_finds_planted_leaks(
    leak: dict[str, Any],
    attack: Callable[[str, list[str]], set[str]],
    planted: set[str],
) -> None:
    """The attack is no straw man: ids and names stored raw or hashed are found."""
    candidates = [*map(str, range(1, 2001)), *LIKELY_NAMES]
    assert planted <= attack(json.dumps(leak), candidates)


async def test_tracker_recorded_19_second_job_on_a_prusa_core_printer(
    recorded: Recorded,
) -> None:
    """The recorded 19 s job, run on the recorded prusa_core printer: job_completed, prusa_core, 0-15m."""
    tracker = TransitionTracker()
    printers = await recorded.printers("02d")
    types = _types(printers)
    prusa_id = next(p.id for p in printers if p.printer_type == "prusa_core")
    job_1 = "34eabd04-8cb8-4d48-91d0-1dd0fe6adebf"

    def on_prusa(jobs: list[Job]) -> list[Job]:
        return [
            dataclasses.replace(j, printer_id=prusa_id) if j.id == job_1 else j
            for j in jobs
        ]

    tracker.jobs(on_prusa(await recorded.jobs("03h")), types, now=NOW)
    tracker.jobs(
        on_prusa(await recorded.jobs("03j")), types, now=NOW
    )  # another job failed
    events = tracker.jobs(on_prusa(await recorded.jobs("03l")), types, now=NOW)
    assert events == [("job_completed", PRUSA | {"duration_minutes": JOB_1_MINUTES})]
    (event_type, metadata) = events[0]
    cleaned, rejections = clean_event(event_type, metadata)
    assert rejections == ()
    assert cleaned == (
        "job_completed",
        {"printer_type": "prusa_core", "duration_minutes": "0-15m"},
    )
