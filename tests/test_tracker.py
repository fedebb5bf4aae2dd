"""The tracker on recorded and synthetic listings: events, restarts, and nothing reversible at rest."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
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
import pytest

from custom_components.printernizer_stats.printernizer import (
    File,
    Job,
    Printer,
    PrinternizerClient,
)
from custom_components.printernizer_stats.privacy import clean_event
from custom_components.printernizer_stats.tracker import (
    MAX_TRACKED,
    RawEvent,
    TransitionTracker,
)
from custom_components.printernizer_stats.vocabulary import PRINTER_TYPES

from .conftest import FIXTURES, load_fixture, serve

RECORDINGS = {
    path.name.split("_", 1)[0]: path.name
    for path in (FIXTURES / "printernizer").glob("[0-9]*.json")
}
T0 = datetime(2026, 11, 30, 10, 0)
TYPES = {"p-bambu": "bambu_lab", "p-prusa": "prusa_core"}
APP = {"app_version": "2.42.0", "deployment_mode": "homeassistant"}
MARK = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
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


def restarted(tracker: TransitionTracker) -> TransitionTracker:
    """Home Assistant restarted: a new tracker from what the old one stored, through JSON."""
    return TransitionTracker.from_storage(json.loads(json.dumps(tracker.as_storage())))


@pytest.fixture
def tracker() -> TransitionTracker:
    """A tracker whose first listings (all empty) were the baseline."""
    tracker = TransitionTracker()
    assert tracker.printers([]) == []
    assert tracker.jobs([], TYPES) == []
    assert tracker.files([]) == []
    return tracker


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
    assert tracker.jobs(await recorded.jobs("03l"), _types(printers)) == []
    assert tracker.files(await recorded.files("04a")) == []
    assert tracker.uptime(21, **APP) == ([], 0.0)


async def test_tracker_recorded_run(recorded: Recorded) -> None:
    """Created, failed (0 s) and completed (19 s) on the recorded run; types from the printers listing."""
    tracker = TransitionTracker()
    printers = await recorded.printers("02d")
    types = _types(printers)
    assert tracker.printers(printers) == []
    assert tracker.jobs(await recorded.jobs("08b"), types) == []  # empty: no job yet
    assert tracker.jobs(await recorded.jobs("03d"), types) == [
        ("job_created", PRUSA),
        ("job_created", PRUSA),  # created as octoprint, listed as prusa_core
        ("job_created", BAMBU),
    ]
    assert tracker.jobs(await recorded.jobs("03f"), types) == []
    assert tracker.jobs(await recorded.jobs("03h"), types) == []
    assert tracker.jobs(await recorded.jobs("03j"), types) == [
        ("job_failed", PRUSA | {"duration_minutes": 0.0})
    ]
    assert tracker.jobs(await recorded.jobs("03l"), types) == [
        ("job_completed", BAMBU | {"duration_minutes": JOB_1_MINUTES})
    ]
    assert tracker.jobs(await recorded.jobs("03l"), types) == []
    assert tracker.printers(await recorded.printers("03q")) == []


async def test_tracker_recorded_pages(recorded: Recorded) -> None:
    """A job read twice while pages shift (limit-2 pages) counts once."""
    tracker = TransitionTracker()
    types = _types(await recorded.printers("02d"))
    tracker.jobs(await recorded.jobs("03f"), types)
    shifted = [*await recorded.jobs("03m"), *await recorded.jobs("03l")]
    assert [event for event, _ in tracker.jobs(shifted, types)] == [
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
    before.jobs(await recorded.jobs("08b"), types)
    before.jobs(await recorded.jobs("03d"), types)
    before.jobs(await recorded.jobs(last_seen), types)

    after = restarted(before)
    assert after.printers(await recorded.printers("03q")) == []
    assert after.jobs(await recorded.jobs("03l"), types) == expected
    assert after.jobs(await recorded.jobs("03l"), types) == []


async def test_tracker_recorded_printernizer_restart(recorded: Recorded) -> None:
    """A Printernizer restart empties the job list: nothing is counted, the mark stays."""
    tracker = TransitionTracker()
    printers = await recorded.printers("02d")
    types = _types(printers)
    tracker.printers(printers)
    tracker.jobs(await recorded.jobs("08b"), types)
    tracker.jobs(await recorded.jobs("03l"), types)
    stored = tracker.as_storage()
    assert tracker.jobs(await recorded.jobs("08b"), types) == []
    assert tracker.printers(await recorded.printers("08c")) == []
    assert tracker.as_storage() == stored
    # Home Assistant restarting into the same empty list counts nothing either.
    assert restarted(tracker).jobs(await recorded.jobs("08b"), types) == []
    # Jobs made after Printernizer's restart are new.
    new = job("after-restart", "pending", created=3600 * 24 * 365)
    assert tracker.jobs([new], types) == [("job_created", BAMBU)]


# --- jobs ----------------------------------------------------------------------------


def test_tracker_first_listing_is_baseline() -> None:
    """Without stored marks, the first listings of each kind count nothing."""
    tracker = TransitionTracker()
    assert tracker.printers([printer("p-prusa", "online")]) == []
    jobs = [job("1", "completed", finished=60, duration=600), job("2", "running")]
    assert tracker.jobs(jobs, TYPES) == []
    assert tracker.files([file("f", "downloaded", downloaded=30)]) == []
    assert tracker.uptime(500, **APP) == ([], 0.0)


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
    tracker.jobs([job("7", "running", **kind)], TYPES)
    done = job("7", "completed", created=0, finished=19, duration=19.0, **kind)
    assert tracker.jobs([done], TYPES) == [
        ("job_completed", {"printer_type": expected, "duration_minutes": 19 / 60})
    ]


def test_tracker_job_without_duration(tracker: TransitionTracker) -> None:
    """A finished job without a duration carries no duration."""
    tracker.jobs([job("1", "running")], TYPES)
    assert tracker.jobs([job("1", "failed", finished=10)], TYPES) == [
        ("job_failed", BAMBU)
    ]


def test_tracker_item_listed_twice_counts_once(tracker: TransitionTracker) -> None:
    """An item listed twice in one poll (pages shifted between requests) counts once."""
    tracker.jobs([job("1", "running")], TYPES)
    done = job("1", "completed", finished=60, duration=60)
    assert tracker.jobs([done, done], TYPES) == [
        ("job_completed", BAMBU | {"duration_minutes": 1.0})
    ]
    new = job("2", "pending", created=70)
    assert tracker.jobs([new, new, done], TYPES) == [("job_created", BAMBU)]
    tracker.files([file("f", "downloading")])
    twice = file("f", "downloaded", downloaded=80)
    assert len(tracker.files([twice, twice])) == 1


def test_tracker_job_created_in_baseline_second(tracker: TransitionTracker) -> None:
    """After a baseline, a job not listed in it but created in its newest second is new."""
    fresh = TransitionTracker()
    assert fresh.jobs([job("1", "pending", created=10)], TYPES) == []
    assert fresh.jobs(
        [job("2", "pending", created=10), job("3", "pending", created=9)], TYPES
    ) == [("job_created", BAMBU)]


def test_tracker_job_without_created_time(tracker: TransitionTracker) -> None:
    """A job without a creation time is never counted as new."""
    tracker.jobs([job("0", "pending", created=5)], TYPES)
    assert tracker.jobs([job("1", "pending", created=None)], TYPES) == []


def test_tracker_vanished_jobs_not_new_again(tracker: TransitionTracker) -> None:
    """Jobs missing from one listing (a glitch, a shifted page) are not counted again."""
    jobs = [job(str(i), "completed", created=i, finished=i + 1) for i in range(10)]
    tracker.jobs(jobs, TYPES)
    assert tracker.jobs([], TYPES) == []
    assert tracker.jobs(jobs[5:], TYPES) == []
    assert tracker.jobs(jobs, TYPES) == []


def test_tracker_forgotten_jobs_stay_old(tracker: TransitionTracker) -> None:
    """Past MAX_TRACKED the oldest vanished jobs are forgotten; their old times keep them uncounted."""
    old = [
        job(f"old-{i}", "completed", created=i, finished=i + 1)
        for i in reversed(range(MAX_TRACKED))
    ]
    fresh = TransitionTracker()
    assert fresh.jobs(old, TYPES) == []
    new = [job(f"new-{i}", "running", created=5000) for i in range(10)]
    assert len(fresh.jobs(new, TYPES)) == 10
    assert fresh.jobs(old[:-10], TYPES) == []
    assert fresh.jobs(old[-10:], TYPES) == []


def test_tracker_listing_bounded(tracker: TransitionTracker) -> None:
    """At most MAX_TRACKED items of a listing are looked at."""
    jobs = [job(f"j{i}", "pending", created=i) for i in range(MAX_TRACKED + 200)]
    assert len(tracker.jobs(jobs, TYPES)) == MAX_TRACKED
    files = [file(f"f{i}", "downloaded") for i in range(MAX_TRACKED + 5)]
    assert len(tracker.files(files)) == MAX_TRACKED
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
        events += tracker.files([file("printer-1_anna_schmidt_invoice.gcode", status)])
    assert events == [("file_downloaded", {"size_bytes": 2_000_000})] * expected


def test_tracker_file_without_size(tracker: TransitionTracker) -> None:
    """A download of unknown size carries no size."""
    assert tracker.files([file("f", "downloaded", size=None)]) == [
        ("file_downloaded", {})
    ]


def test_tracker_file_new_and_downloaded(tracker: TransitionTracker) -> None:
    """A file first listed already downloaded counts when downloaded after the newest known download."""
    assert len(tracker.files([file("a", "downloaded", downloaded=10)])) == 1
    assert tracker.files([file("b", "downloaded", downloaded=10.5)]) == []
    assert len(tracker.files([file("c", "downloaded", downloaded=11)])) == 1
    assert tracker.files([file("d", "downloaded")]) == []


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
    before.jobs([job("a", "running", created=0)], TYPES)
    assert before.jobs(
        [job("b", "pending", created=10.7), job("a", "running", created=0)], TYPES
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
    assert after.jobs(listing, TYPES) == [
        ("job_created", BAMBU),
        ("job_completed", BAMBU | {"duration_minutes": 0.25}),
        ("job_created", BAMBU),
        ("job_completed", BAMBU | {"duration_minutes": 20 / 60}),
    ]
    assert after.jobs(listing, TYPES) == []
    assert after.jobs([job("a", "failed", created=0, finished=50)], TYPES) == [
        ("job_failed", BAMBU)
    ]


def test_tracker_restart_files_after_mark() -> None:
    """After a restart, files downloaded after the mark count, once."""
    before = TransitionTracker()
    before.files([file("f1", "downloaded", downloaded=5.5), file("f2", "downloading")])
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
    assert after.files(listing) == [
        ("file_downloaded", {"size_bytes": 2_000_000}),
        ("file_downloaded", {}),
    ]
    assert after.files(listing) == []


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


@pytest.mark.parametrize(
    ("hours", "seconds", "expected"),
    [
        (5, 100, [("app_shutdown", {"uptime_hours": 5.0}), ("app_start", APP)]),
        (
            5,
            5 * 3600 - 1,
            [("app_shutdown", {"uptime_hours": 5.0}), ("app_start", APP)],
        ),
        (5, 5 * 3600, []),
        (5, 30 * 3600, []),
        (0, 100, []),
    ],
)
def test_tracker_restart_uptime(
    hours: int, seconds: float, expected: list[RawEvent]
) -> None:
    """An uptime below the stored hours means Printernizer restarted while Home Assistant was down."""
    before = TransitionTracker()
    before.uptime(hours * 3600 + 1800, **APP)
    assert before.uptime_hours == hours
    after = restarted(before)
    assert after.uptime(seconds, **APP) == (expected, 0.0)


def test_tracker_restart_without_marks_is_baseline() -> None:
    """A run that saw nothing stores no marks: the next run starts with a baseline."""
    before = TransitionTracker()
    assert before.as_storage() == {
        "job_mark": None,
        "file_mark": None,
        "connected": None,
        "uptime_hours": None,
    }
    after = restarted(before)
    assert after.printers([printer("p", "online")]) == []
    assert after.jobs([job("1", "completed", finished=5)], TYPES) == []
    assert after.files([file("f", "downloaded", downloaded=5)]) == []


# --- uptime, reset, storage ------------------------------------------------------------


def test_tracker_uptime_observed_and_restart() -> None:
    """uptime() returns the seconds seen up; a decrease is a restart with the ended run's hours."""
    tracker = TransitionTracker()
    assert tracker.uptime(100, **APP) == ([], 0.0)
    assert tracker.uptime(3700, **APP) == ([], 3600.0)
    assert tracker.uptime_hours == 1
    events, observed = tracker.uptime(50, app_version="2.43.0", deployment_mode="pi")
    assert events == [
        ("app_shutdown", {"uptime_hours": 3700 / 3600}),
        ("app_start", {"app_version": "2.43.0", "deployment_mode": "pi"}),
    ]
    assert observed == 50.0
    assert tracker.uptime_hours == 0
    assert tracker.uptime(50, **APP) == ([], 0.0)


def test_tracker_changed_only_when_marks_move(tracker: TransitionTracker) -> None:
    """`changed` is set when a stored mark moves, not on every poll."""
    tracker.changed = False
    listing = [job("1", "pending", created=10)]
    tracker.jobs(listing, TYPES)
    assert tracker.changed
    tracker.changed = False
    tracker.jobs(listing, TYPES)
    tracker.files([file("f", "available")])
    tracker.printers([])
    assert not tracker.changed
    tracker.printers([printer("p", "online")])
    assert tracker.changed
    tracker.changed = False
    tracker.uptime(10, **APP)
    assert tracker.changed
    tracker.changed = False
    tracker.uptime(3000, **APP)
    assert not tracker.changed
    tracker.files([file("f", "downloaded", downloaded=20)])
    assert tracker.changed


def test_tracker_reset(tracker: TransitionTracker) -> None:
    """reset() forgets marks and statuses: the next listings are a baseline."""
    tracker.jobs([job("1", "running", created=10)], TYPES)
    tracker.files([file("f", "downloaded", downloaded=10)])
    tracker.printers([printer("p", "online")])
    tracker.uptime(7200, **APP)
    tracker.changed = False
    tracker.reset()
    assert tracker.changed
    assert set(tracker.as_storage().values()) == {None}
    assert tracker.jobs([job("1", "completed", created=10, finished=20)], TYPES) == []
    assert tracker.files([file("g", "downloaded", downloaded=30)]) == []
    assert tracker.printers([printer("p", "offline")]) == []
    assert tracker.uptime(10, **APP) == ([], 0.0)


def test_tracker_from_storage_round_trip() -> None:
    """Stored marks come back as they were."""
    tracker = TransitionTracker(
        job_mark=_at(10),
        file_mark=_at(20),
        connected={"bambu_lab": 1},
        uptime_hours=3,
    )
    stored = json.loads(json.dumps(tracker.as_storage()))
    assert stored == {
        "job_mark": "2026-11-30T10:00:10",
        "file_mark": "2026-11-30T10:00:20",
        "connected": {"bambu_lab": 1},
        "uptime_hours": 3,
    }
    assert TransitionTracker.from_storage(stored).as_storage() == stored


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, dict.fromkeys(("job_mark", "file_mark", "connected", "uptime_hours"))),
        (
            {"salt": "0123456789abcdef", "jobs": {"5f2c9a1b7e3d4c60": "running"}},
            dict.fromkeys(("job_mark", "file_mark", "connected", "uptime_hours")),
        ),
        (
            {
                "job_mark": "2026-11-30T11:00:10.5+01:00",
                "file_mark": "2026-11-30 10:00:20",
                "connected": {"unknown": 0},
                "uptime_hours": 0,
            },
            {
                "job_mark": "2026-11-30T10:00:10",
                "file_mark": "2026-11-30T10:00:20",
                "connected": {"unknown": 0},
                "uptime_hours": 0,
            },
        ),
    ],
)
def test_tracker_from_storage_accepts(
    data: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Missing marks are None; anything else stored (an older format's hashes) is dropped."""
    assert TransitionTracker.from_storage(data).as_storage() == expected


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (None, "not an object"),
        ([], "not an object"),
        ("state", "not an object"),
        ({"job_mark": 5}, "not a timestamp"),
        ({"job_mark": "yesterday"}, "not a timestamp"),
        ({"file_mark": ""}, "not a timestamp"),
        ({"connected": []}, "connected"),
        ({"connected": {"CANARY-NAME-1": 1}}, "connected"),
        ({"connected": {"bambu_lab": -1}}, "connected"),
        ({"connected": {"bambu_lab": True}}, "connected"),
        ({"connected": {"bambu_lab": 1.0}}, "connected"),
        ({"uptime_hours": -1}, "uptime"),
        ({"uptime_hours": 1.5}, "uptime"),
        ({"uptime_hours": True}, "uptime"),
        ({"uptime_hours": "5"}, "uptime"),
    ],
)
def test_tracker_from_storage_refuses(data: object, match: str) -> None:
    """A malformed section raises ValueError."""
    with pytest.raises(ValueError, match=match):
        TransitionTracker.from_storage(data)


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
        tracker.jobs(jobs, types)
        files = []
        for index in reversed(range(min(2 * (poll + 1), len(file_ids)))):
            age = poll - index // 2
            status = ("available", "downloading")[age] if age < 2 else "downloaded"
            done = start + timedelta(minutes=index // 2 + 2, seconds=0.5)
            downloaded = done if age >= 2 else None
            files.append(File(file_ids[index], status, 1000.0 * index, downloaded))
        tracker.files(files)
        tracker.uptime(1000.5 + 60 * (poll % 50), **APP)
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
    """At rest: four marks; no id, name, salt, hash or sub-second time."""
    stored, job_ids, file_ids, printer_ids = _real_timeline()
    state = json.loads(stored)
    assert set(state) == {"job_mark", "file_mark", "connected", "uptime_hours"}
    assert MARK.fullmatch(state["job_mark"])
    assert MARK.fullmatch(state["file_mark"])
    assert set(state["connected"]) <= set(PRINTER_TYPES)
    assert all(type(count) is int for count in state["connected"].values())
    assert type(state["uptime_hours"]) is int
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

    tracker.jobs(on_prusa(await recorded.jobs("03h")), types)
    tracker.jobs(on_prusa(await recorded.jobs("03j")), types)  # another job failed
    events = tracker.jobs(on_prusa(await recorded.jobs("03l")), types)
    assert events == [("job_completed", PRUSA | {"duration_minutes": JOB_1_MINUTES})]
    (event_type, metadata) = events[0]
    cleaned, rejections = clean_event(event_type, metadata)
    assert rejections == ()
    assert cleaned == (
        "job_completed",
        {"printer_type": "prusa_core", "duration_minutes": "0-15m"},
    )
