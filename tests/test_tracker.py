"""Tests for turning successive Printernizer listings into events (no Home Assistant involved)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from custom_components.printernizer_stats.printernizer import File, Health, Job, Printer
from custom_components.printernizer_stats.tracker import MAX_TRACKED, TransitionTracker

JOB_ID = "job-4711-customer-anna"
FILE_ID = "printer-1_Mueller_bracket_123.3mf"
PRINTER_ID = "5b8e6c1e-0000-4000-8000-000000000001"


def _job(status: str, duration: float | None = None, ident: str = JOB_ID) -> Job:
    """A job as the client reduces it."""
    return Job(
        id=ident, printer_type="bambu_lab", status=status, duration_seconds=duration
    )


def _file(status: str, size: float | None = 2_000_000, ident: str = FILE_ID) -> File:
    """A file as the client reduces it."""
    return File(id=ident, status=status, size_bytes=size)


def _printer(status: str, ident: str = PRINTER_ID) -> Printer:
    """A printer as the client reduces it."""
    return Printer(id=ident, printer_type="prusa_core", status=status)


@pytest.fixture
def tracker() -> TransitionTracker:
    """A tracker that has seen one baseline of each listing."""
    tracker = TransitionTracker()
    assert tracker.jobs([]) == []
    assert tracker.files([]) == []
    assert tracker.printers([]) == []
    return tracker


def test_tracker_first_listing_is_baseline() -> None:
    """What is already there when counting starts is not counted."""
    tracker = TransitionTracker()
    assert tracker.jobs([_job("completed", 600), _job("running", ident="2")]) == []
    assert tracker.files([_file("downloaded")]) == []
    assert tracker.printers([_printer("online")]) == []
    assert tracker.health(Health("healthy", "2.7.0", 500)) == []


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["pending"], [("job_created", {"printer_type": "bambu_lab"})]),
        (
            ["pending", "running", "printing", "paused"],
            [("job_created", {"printer_type": "bambu_lab"})],
        ),
        (
            ["pending", "completed"],
            [
                ("job_created", {"printer_type": "bambu_lab"}),
                (
                    "job_completed",
                    {"printer_type": "bambu_lab", "duration_minutes": 90.0},
                ),
            ],
        ),
        (
            ["running", "failed"],
            [
                ("job_created", {"printer_type": "bambu_lab"}),
                ("job_failed", {"printer_type": "bambu_lab", "duration_minutes": 90.0}),
            ],
        ),
        (["running", "cancelled"], [("job_created", {"printer_type": "bambu_lab"})]),
        (
            ["completed"],
            [
                ("job_created", {"printer_type": "bambu_lab"}),
                (
                    "job_completed",
                    {"printer_type": "bambu_lab", "duration_minutes": 90.0},
                ),
            ],
        ),
        (
            ["printing", "completed", "completed", "failed", "cancelled"],
            [
                ("job_created", {"printer_type": "bambu_lab"}),
                (
                    "job_completed",
                    {"printer_type": "bambu_lab", "duration_minutes": 90.0},
                ),
            ],
        ),
        (["cancelled", "completed"], [("job_created", {"printer_type": "bambu_lab"})]),
    ],
)
def test_tracker_job_transitions(
    tracker: TransitionTracker,
    statuses: list[str],
    expected: list[tuple[str, dict[str, Any]]],
) -> None:
    """New jobs are created; reaching completed or failed once counts once, cancelled never."""
    events = []
    for status in statuses:
        events += tracker.jobs(
            [_job(status, 5400 if status in ("completed", "failed") else None)]
        )
    assert events == expected


def test_tracker_job_without_duration(tracker: TransitionTracker) -> None:
    """A finished job without a duration carries no duration metadata."""
    tracker.jobs([_job("running")])
    assert tracker.jobs([_job("completed")]) == [
        ("job_completed", {"printer_type": "bambu_lab"})
    ]


def test_tracker_duplicate_items_count_once(tracker: TransitionTracker) -> None:
    """An item listed twice in one poll (pages shifting between requests) counts once."""
    tracker.jobs([_job("running")])
    assert tracker.jobs([_job("completed", 60), _job("completed", 60)]) == [
        ("job_completed", {"printer_type": "bambu_lab", "duration_minutes": 1.0})
    ]
    assert tracker.jobs(
        [_job("pending", ident="new"), _job("pending", ident="new")]
    ) == [("job_created", {"printer_type": "bambu_lab"})]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (
            ["available", "downloading", "downloaded"],
            [("file_downloaded", {"size_bytes": 2_000_000})],
        ),
        (["downloaded"], [("file_downloaded", {"size_bytes": 2_000_000})]),
        (
            ["downloaded", "downloaded", "local"],
            [("file_downloaded", {"size_bytes": 2_000_000})],
        ),
        (["available", "error", "local", "unknown"], []),
    ],
)
def test_tracker_file_transitions(
    tracker: TransitionTracker,
    statuses: list[str],
    expected: list[tuple[str, dict[str, Any]]],
) -> None:
    """Reaching "downloaded" is a download, with the file size."""
    events = []
    for status in statuses:
        events += tracker.files([_file(status)])
    assert events == expected


def test_tracker_file_without_size(tracker: TransitionTracker) -> None:
    """A download of unknown size carries no size metadata."""
    assert tracker.files([_file("downloaded", size=None)]) == [("file_downloaded", {})]


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
    events = []
    for status in statuses:
        events += tracker.printers([_printer(status)])
    assert [event_type for event_type, _ in events] == expected
    assert all(meta == {"printer_type": "prusa_core"} for _, meta in events)


@pytest.mark.parametrize(
    ("uptimes", "version", "expected"),
    [
        ([100, 200, 300], "2.7.0", []),
        ([100, 200, 50], "2.7.0", [("app_start", {"app_version": "2.7.0"})]),
        ([100, 50], None, [("app_start", {})]),
        ([100, None, 50], "2.8.0", [("app_start", {"app_version": "2.8.0"})]),
        ([None, 100, 50, 40], "2.7.0", [("app_start", {"app_version": "2.7.0"})] * 2),
    ],
)
def test_tracker_health_restart(
    uptimes: list[float | None],
    version: str | None,
    expected: list[tuple[str, dict[str, Any]]],
) -> None:
    """Uptime going backwards is a Printernizer restart; a missing uptime changes nothing."""
    tracker = TransitionTracker()
    events = []
    for uptime in uptimes:
        events += tracker.health(Health("healthy", version, uptime))
    assert events == expected


def test_tracker_restore_continues(tracker: TransitionTracker) -> None:
    """Restored state neither counts again nor misses what changed in between."""
    tracker.jobs([_job("running"), _job("completed", 60, ident="done")])
    tracker.files([_file("downloading")])
    tracker.printers([_printer("online")])
    tracker.health(Health("healthy", "2.7.0", 1000))
    stored = json.loads(json.dumps(tracker.as_storage()))

    restored = TransitionTracker(stored)
    assert restored.jobs(
        [_job("completed", 60), _job("completed", 60, ident="done")]
    ) == [("job_completed", {"printer_type": "bambu_lab", "duration_minutes": 1.0})]
    assert restored.files([_file("downloaded")]) == [
        ("file_downloaded", {"size_bytes": 2_000_000})
    ]
    assert restored.printers([_printer("offline")]) == [
        ("printer_disconnected", {"printer_type": "prusa_core"})
    ]
    assert restored.health(Health("healthy", "2.7.1", 10)) == [
        ("app_start", {"app_version": "2.7.1"})
    ]


def test_tracker_storage_holds_only_hashes(tracker: TransitionTracker) -> None:
    """Ids are kept as salted hashes: no raw id, and another salt gives other hashes."""
    tracker.jobs([_job("running")])
    tracker.files([_file("available")])
    tracker.printers([_printer("online")])
    stored = tracker.as_storage()
    text = json.dumps(stored)
    for ident in (JOB_ID, FILE_ID, PRINTER_ID, "anna", "Mueller"):
        assert ident not in text
    assert set(stored) == {"salt", "uptime_seconds", "jobs", "files", "printers"}
    (job_hash,) = stored["jobs"]
    assert len(job_hash) == 16
    assert int(job_hash, 16) >= 0

    other = TransitionTracker()
    other.jobs([_job("running")])
    assert other.as_storage()["jobs"] != stored["jobs"]


@pytest.mark.parametrize("gap", [[], [_job("completed", 60, ident="3")]])
def test_tracker_vanished_items_not_new_again(
    tracker: TransitionTracker, gap: list[Job]
) -> None:
    """Items missing from one listing (a glitch, a shifted page) are not counted again when they return."""
    jobs = [_job("completed", 60, ident=str(index)) for index in range(10)]
    tracker.jobs(jobs)
    assert tracker.jobs(gap) == []
    assert len(tracker.as_storage()["jobs"]) == 10
    assert tracker.jobs(jobs) == []


def test_tracker_vanished_items_make_room(tracker: TransitionTracker) -> None:
    """Visible items come first; the oldest vanished ones go when the bound is reached."""
    old = [_job("completed", 60, ident=f"old-{index}") for index in range(MAX_TRACKED)]
    tracker.jobs(old)
    new = [_job("running", ident=f"new-{index}") for index in range(10)]
    assert len(tracker.jobs(new)) == 10
    assert len(tracker.as_storage()["jobs"]) == MAX_TRACKED
    # The ten newest of the old jobs were pushed out; the others are still known.
    assert tracker.jobs(old[:-10]) == []
    assert len(tracker.jobs(old[-10:])) == 20


def test_tracker_bounded(tracker: TransitionTracker) -> None:
    """At most MAX_TRACKED items per listing are remembered or reported."""
    jobs = [_job("pending", ident=f"job-{index}") for index in range(MAX_TRACKED + 200)]
    events = tracker.jobs(jobs)
    assert len(events) == MAX_TRACKED
    stored = tracker.as_storage()
    assert len(stored["jobs"]) == MAX_TRACKED

    oversized = {
        **stored,
        "files": {f"{index:016x}": "available" for index in range(MAX_TRACKED + 500)},
    }
    assert len(TransitionTracker(oversized).as_storage()["files"]) == MAX_TRACKED


@pytest.mark.parametrize(
    "state",
    [
        None,
        {},
        {
            "salt": 5,
            "jobs": "garbage",
            "files": ["x"],
            "printers": 7,
            "uptime_seconds": "100",
        },
        {"salt": "", "jobs": None, "uptime_seconds": True},
    ],
)
def test_tracker_malformed_state_starts_without_baseline(
    state: dict[str, Any] | None,
) -> None:
    """Malformed state is not trusted: a new salt and a fresh baseline."""
    tracker = TransitionTracker(state)
    stored = tracker.as_storage()
    assert isinstance(stored["salt"], str) and len(stored["salt"]) == 16
    assert stored["uptime_seconds"] is None
    assert tracker.jobs([_job("completed", 60)]) == []
    assert tracker.files([_file("downloaded")]) == []
    assert tracker.printers([_printer("offline")]) == []
    assert tracker.health(Health("healthy", "2.7.0", 5)) == []


def test_tracker_malformed_entries_dropped() -> None:
    """Entries that are not hash to status strings are dropped; the rest is kept."""
    salt = "0123456789abcdef"
    reference = TransitionTracker({"salt": salt})
    reference.jobs([_job("running")])
    (job_hash,) = reference.as_storage()["jobs"]

    tracker = TransitionTracker(
        {"salt": salt, "jobs": {job_hash: "running", "other": 5}, "uptime_seconds": 12}
    )
    assert tracker.as_storage()["jobs"] == {job_hash: "running"}
    assert tracker.as_storage()["uptime_seconds"] == 12.0
    assert tracker.jobs([_job("completed", 120)]) == [
        ("job_completed", {"printer_type": "bambu_lab", "duration_minutes": 2.0})
    ]
