"""Tests for the storage file through Home Assistant: migration, recovery, writes, retention."""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from datetime import UTC, date, datetime, timedelta
import json
from pathlib import Path
import stat
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.printernizer_stats.const import (
    DATA_REPORTED_UNTIL,
    DATA_SERVICE_IDS,
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    ISSUE_REJECTED,
    ISSUE_STORAGE,
    SAVE_DELAY,
)
from custom_components.printernizer_stats.counters import UsageCounters
from custom_components.printernizer_stats.delivery import RETENTION_DAYS, Halt, Sent
from custom_components.printernizer_stats.storage import (
    STORAGE_KEY,
    STORAGE_VERSION,
    StoredData,
    migrate,
    parse,
)
from simulator.printernizer import PrinternizerSimulator

from .conftest import advance, full_disk, make_entry, restart, setup_entry

MANIFEST = "custom_components/printernizer_stats/manifest.json"
NOW = "2026-11-20 12:00:00+00:00"
TODAY = "2026-11-20"
pytestmark = pytest.mark.freeze_time(NOW)

PREFIX = "sensor.printernizer_usage_statistics"
JOBS_COMPLETED = f"{PREFIX}_jobs_completed"
SHARING = f"{PREFIX}_sharing_status"
LAST_SUBMISSION = f"{PREFIX}_last_submission"
SECTIONS = ("counters", "tracker", "facts", "delivery", "clock")

# RETENTION_DAYS days are kept: today and the RETENTION_DAYS - 1 before it.
OLDEST_KEPT = (date(2026, 11, 20) - timedelta(days=RETENTION_DAYS - 1)).isoformat()
TOO_OLD = (date(2026, 11, 20) - timedelta(days=RETENTION_DAYS)).isoformat()
# The oldest day kept after the next midnight.
NEXT_OLDEST_KEPT = (date(2026, 11, 21) - timedelta(days=RETENTION_DAYS - 1)).isoformat()

INSTALLATION_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
PENDING_KEY = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
# What version 2 kept that must not survive the upgrade.
SALT = "Zm9yLXRoZS1zYWx0ZWQtaGFzaGVz"
JOB_HASH = "9a0364b9e99bb480dd25e1f0284c8555"
FILE_HASH = "c3a5c8ed2ba1e0a1f7d1e4d5b6a7c8d9"
PRINTER_HASH = "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f"
API_KEY_HASH = "d1f0e2c3b4a59687"
PENDING_BODY = json.dumps(
    {"installation": {"installation_id": INSTALLATION_ID, "first_seen": "2026-11-03"}}
)
# The running integration's version: a report rejected under it stays stopped.
VERSION = json.loads(
    (Path(__file__).parents[1] / MANIFEST).read_text(encoding="utf-8")
)["version"]
SECRETS = (SALT, JOB_HASH, FILE_HASH, PRINTER_HASH, API_KEY_HASH, PENDING_KEY)


def _document(data: object, version: int = STORAGE_VERSION) -> dict[str, Any]:
    """A storage document as Home Assistant's Store writes it."""
    return {"version": version, "minor_version": 1, "key": STORAGE_KEY, "data": data}


def _v2_data(**parts: Any) -> dict[str, Any]:
    """A version 2 file's data: every part filled, `parts` replaced."""
    data: dict[str, Any] = {
        "columns": [
            "app_start",
            "app_start/deployment_mode=raspberry_pi",
            "error_occurred",
            "error_occurred/error_type=JohnSmithError",
            "error_occurred/error_type=other",
            "job_completed",
        ],
        "days": {"2026-11-18": [1, 1, 2, 1, 1, 4], "2026-11-19": [0, 0, 0, 0, 0, 3]},
        "rejected": {"unknown_key": 2},
        "totals": {"app_start": 1, "error_occurred": 2, "job_completed": 7},
        "weeks": {"2026-W47": {"job_completed": 7, "error_occurred": 2}},
        "tracker": {
            "salt": SALT,
            "uptime_seconds": 7200,
            "jobs": {JOB_HASH: "completed"},
            "files": {FILE_HASH: "downloaded"},
            "printers": {PRINTER_HASH: "online"},
        },
        "installation": {"id": INSTALLATION_ID, "first_seen": "2026-11-03"},
        "snapshot": {
            "app_version": "2.41.0",
            "uptime_hours": 2.0,
            "fleet": {"bambu_lab": 1, "prusa_core": 2},
        },
        "submission": {
            "pending": {
                "period_start": "2026-11-10",
                "period_end": "2026-11-17",
                "idempotency_key": PENDING_KEY,
                "body": PENDING_BODY,
                "attempts": 2,
                "next_attempt": "2026-11-20T13:00:00.250000+00:00",
            },
            "last_period_end": "2026-11-10",
            "last_success": "2026-11-10T09:12:30.123456+00:00",
            "last_request": "2026-11-20T11:00:00.500000+00:00",
            "not_before": None,
            "state": "rejected",
            "failed_with": API_KEY_HASH,
            "rejected_version": VERSION,
            "history": [
                {
                    "period_start": "2026-11-03",
                    "period_end": "2026-11-10",
                    "submitted": "2026-11-10",
                    "submission_id": "sub-1",
                }
            ],
        },
    }
    data.update(parts)
    return data


V1_DATA: dict[str, Any] = {
    "days": {
        "2026-11-18": {
            "job_completed": {
                "count": 3,
                "metadata": {"printer_type": {"bambu_lab": 2, "prusa_core": 1}},
            },
            "app_start": {
                "count": 1,
                "metadata": {"deployment_mode": {"raspberry_pi": 1}},
            },
            "error_occurred": {
                "count": 2,
                "metadata": {"error_type": {"JohnSmithError": 1, "TimeoutError": 1}},
            },
        },
        "2026-11-19": {"job_completed": {"count": 4}},
    },
    "rejected": {"unknown_key": 2, "not_a_reason": 5},
    "installation": {"id": INSTALLATION_ID, "first_seen": "2026-11-03"},
}


def _counters(columns: dict[str, Any], **totals: int) -> dict[str, Any]:
    """A counters section as UsageCounters writes it today (whatever its row form)."""
    counters = UsageCounters.from_storage({**columns, "totals": totals})
    section: dict[str, Any] = counters.as_storage()
    return section


def _v3_data() -> dict[str, Any]:
    """A good version 3 file's data, each section with something to recognise it by."""
    return {
        "counters": _counters(
            {"columns": ["job_completed"], "days": {"2026-11-19": [7]}},
            job_completed=7,
        ),
        "tracker": {
            "job_mark": "2026-11-20T10:00:00",
            "file_mark": None,
            "connected": {"bambu_lab": 1},
            "uptime_hours": 5,
        },
        "facts": {
            "app_version": "2.41.0",
            "fleet": {"bambu_lab": 1},
            "shares_statistics": False,
        },
        "delivery": {
            "installation_id": INSTALLATION_ID,
            "first_seen": "2026-11-03",
            "reported_until": "2026-11-10",
            "halt": "none",
            "history": [
                {
                    "start": "2026-11-03",
                    "end": "2026-11-10",
                    "submitted": "2026-11-10",
                    "submission_id": None,
                }
            ],
            "service_ids": [INSTALLATION_ID],
        },
        # A few minutes ahead: kept, it stays the high-water mark.
        "clock": {"high_water": "2026-11-20T12:04:00+00:00"},
    }


@pytest.fixture(autouse=True)
def printernizer_down(printernizer: PrinternizerSimulator) -> None:
    """Polls fail fast, so stored facts and marks stay as loaded."""
    printernizer.available = False


@pytest.fixture
def entry(printernizer_url: str, opted_in_options: dict[str, Any]) -> MockConfigEntry:
    """An entry of a user who shares (so the installation id is kept)."""
    return make_entry(printernizer_url, opted_in_options)


def _stored(hass_storage: dict[str, Any]) -> dict[str, Any]:
    """The data of the storage file as last written (always version 3)."""
    document = hass_storage[STORAGE_KEY]
    assert document["version"] == STORAGE_VERSION
    data: dict[str, Any] = document["data"]
    return data


def _data(entry: MockConfigEntry) -> StoredData:
    """What the loaded entry holds."""
    data: StoredData = entry.runtime_data.storage.data
    return data


def _storage_issue(hass: HomeAssistant) -> ir.IssueEntry | None:
    """The storage_recovered repair, if raised."""
    return ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_STORAGE)


async def _fire(hass: HomeAssistant, event_type: str, count: int = 1) -> None:
    """Push events through the bus."""
    for _ in range(count):
        hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": event_type})
    await hass.async_block_till_done()


def _event(count: int, **metadata: dict[str, int]) -> dict[str, Any]:
    """One event type's counts on one day, as UsageCounters.as_nested() gives them."""
    return {"count": count, "metadata": metadata}


async def _unload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Unload the entry (which writes the file)."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


# --- migration ------------------------------------------------------------------


async def test_migration_from_v2(
    hass: HomeAssistant, entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Version 2 becomes version 3: counters re-checked, hashes gone, submission → delivery."""
    hass_storage[STORAGE_KEY] = _document(_v2_data(), version=2)
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert _storage_issue(hass) is None
    data = _data(entry)

    # Counters kept, their names re-checked against today's allowlist.
    assert data.counters.as_nested() == {
        "2026-11-18": {
            "app_start": _event(1, deployment_mode={"pi": 1}),
            "error_occurred": _event(2, error_type={"other": 2}),
            "job_completed": _event(4),
        },
        "2026-11-19": {"job_completed": _event(3)},
    }
    assert data.counters.totals == {
        "app_start": 1,
        "error_occurred": 2,
        "job_completed": 7,
    }
    assert data.counters.rejected == {"unknown_key": 2}
    assert data.counters.weeks == {
        "2026-W47": {"job_completed": 7, "error_occurred": 2}
    }
    assert hass.states.get(JOBS_COMPLETED).state == "7"
    # No mark survives: the next poll is a baseline.
    assert data.tracker.as_storage() == {
        "job_mark": None,
        "file_mark": None,
        "connected": None,
        "uptime_hours": None,
    }
    # The snapshot became the facts (Printernizer is down: nothing newer).
    assert data.facts.app_version == "2.41.0"
    assert data.facts.fleet == {"bambu_lab": 1, "prusa_core": 2}
    # The submission state became the delivery state; the pending report is gone.
    delivery = data.delivery
    assert delivery.installation_id == INSTALLATION_ID
    assert delivery.first_seen == date(2026, 11, 3)
    assert delivery.reported_until == date(2026, 11, 10)
    assert delivery.pending is None
    assert delivery.halt is Halt.REJECTED
    assert delivery.halt_version == VERSION
    assert delivery.last_request == datetime(2026, 11, 20, 11, 0, 0, 500000, UTC)
    assert delivery.last_success == datetime(2026, 11, 10, 9, 12, 30, 123456, UTC)
    assert delivery.history == [
        Sent(date(2026, 11, 3), date(2026, 11, 10), date(2026, 11, 10), "sub-1")
    ]
    assert delivery.service_ids == [INSTALLATION_ID]
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_REJECTED) is not None
    assert hass.states.get(SHARING).state == "failing"
    assert hass.states.get(LAST_SUBMISSION).state == "2026-11-10T09:12:30+00:00"
    # The entry keeps what must survive losing the file.
    assert entry.data[DATA_REPORTED_UNTIL] == "2026-11-10"
    assert entry.data[DATA_SERVICE_IDS] == [INSTALLATION_ID]

    # The file was written back as version 3, with nothing reversible in it.
    stored = _stored(hass_storage)
    assert set(stored) == set(SECTIONS)
    assert set(stored["tracker"]) == {
        "job_mark",
        "file_mark",
        "connected",
        "uptime_hours",
    }
    assert stored["delivery"]["pending"] is None
    text = json.dumps(hass_storage[STORAGE_KEY])
    for secret in SECRETS:
        assert secret not in text
    assert "failed_with" not in text
    assert "salt" not in text


async def test_migration_first_poll_is_baseline(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    printernizer: PrinternizerSimulator,
    hass_storage: dict[str, Any],
) -> None:
    """Without the old hashes, what Printernizer lists at the first poll is not counted again."""
    printernizer.available = True
    printernizer.add_job(status="completed")
    hass_storage[STORAGE_KEY] = _document(_v2_data(), version=2)
    await setup_entry(hass, entry)
    data = _data(entry)
    assert data.counters.totals == {
        "app_start": 1,
        "error_occurred": 2,
        "job_completed": 7,
    }
    assert data.tracker.job_mark is not None
    assert data.facts.app_version == "2.42.0"

    # Counting goes on from the baseline.
    printernizer.add_job(status="completed")
    await advance(hass, freezer, timedelta(seconds=61))
    assert data.counters.totals["job_completed"] == 8
    assert data.counters.totals["job_created"] == 1
    text = json.dumps(hass_storage[STORAGE_KEY])
    for secret in SECRETS:
        assert secret not in text


def test_migration_auth_failed_state() -> None:
    """A stop after a refused key carries over (set-up then lifts it: its key hash is gone)."""
    submission = {"state": "auth_failed", "failed_with": API_KEY_HASH}
    data, reset = parse(migrate(2, _v2_data(submission=submission)))
    assert reset == []
    assert data.delivery.halt is Halt.AUTH_FAILED
    assert data.delivery.halt_generation is None
    # Nothing was sent: no id is put on the erasure list.
    assert data.delivery.service_ids == []
    assert API_KEY_HASH not in json.dumps(data.as_storage())


async def test_migration_from_v1(
    hass: HomeAssistant, entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Version 1's nested days become columns; names are re-checked; the id is kept."""
    hass_storage[STORAGE_KEY] = _document(json.loads(json.dumps(V1_DATA)), version=1)
    await setup_entry(hass, entry)
    assert _storage_issue(hass) is None
    data = _data(entry)
    assert data.counters.as_nested() == {
        "2026-11-18": {
            "app_start": _event(1, deployment_mode={"pi": 1}),
            "error_occurred": _event(2, error_type={"TimeoutError": 1, "other": 1}),
            "job_completed": _event(3, printer_type={"bambu_lab": 2, "prusa_core": 1}),
        },
        "2026-11-19": {"job_completed": _event(4)},
    }
    assert data.counters.totals == {
        "app_start": 1,
        "error_occurred": 2,
        "job_completed": 7,
    }
    # A reason the allowlist does not know is dropped.
    assert data.counters.rejected == {"unknown_key": 2}
    assert hass.states.get(JOBS_COMPLETED).state == "7"
    assert data.delivery.installation_id == INSTALLATION_ID
    assert data.delivery.first_seen == date(2026, 11, 3)
    # Version 1 never sent anything: nothing to erase.
    assert data.delivery.service_ids == []
    assert entry.data[DATA_SERVICE_IDS] == []
    assert hass_storage[STORAGE_KEY]["version"] == STORAGE_VERSION


async def test_lost_file_keeps_reported_until_and_service_ids(
    hass: HomeAssistant, entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """The entry keeps the end of the last report and the ids sent: losing the file loses neither."""
    hass_storage[STORAGE_KEY] = _document(
        _v2_data(submission={**_v2_data()["submission"], "state": "ok"}), version=2
    )
    await setup_entry(hass, entry)
    assert entry.data[DATA_REPORTED_UNTIL] == "2026-11-10"
    assert entry.data[DATA_SERVICE_IDS] == [INSTALLATION_ID]

    await _unload(hass, entry)
    hass_storage.pop(STORAGE_KEY)
    await setup_entry(hass, entry)
    delivery = _data(entry).delivery
    assert delivery.reported_until == date(2026, 11, 10)
    assert INSTALLATION_ID in delivery.service_ids
    # Sharing goes on under a new id; the old one stays on the erasure list.
    assert delivery.installation_id not in (None, INSTALLATION_ID)
    assert _stored(hass_storage)["delivery"]["service_ids"] == [INSTALLATION_ID]


async def test_damaged_delivery_keeps_entry_facts(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    hass_storage: dict[str, Any],
) -> None:
    """A reset delivery section takes reported_until and the ids back from the entry."""
    entry = make_entry(
        printernizer_url,
        opted_in_options,
        reported_until="2026-11-17",
        service_ids=[INSTALLATION_ID],
    )
    hass_storage[STORAGE_KEY] = _document({**_v3_data(), "delivery": {"halt": 5}})
    await setup_entry(hass, entry)
    issue = _storage_issue(hass)
    assert issue is not None
    assert issue.translation_placeholders["sections"] == "delivery"
    delivery = _data(entry).delivery
    assert delivery.reported_until == date(2026, 11, 17)
    assert delivery.service_ids == [INSTALLATION_ID]
    assert hass.states.get(JOBS_COMPLETED).state == "7"


# --- malformed sections ---------------------------------------------------------


V2_MALFORMED = {
    "submission_history_int": (2, _v2_data(submission={"history": 5}), ["delivery"]),
    "submission_history_item": (
        2,
        _v2_data(submission={"history": [5]}),
        ["delivery"],
    ),
    "submission_state_list": (2, _v2_data(submission={"state": []}), ["delivery"]),
    "submission_state_unknown": (
        2,
        _v2_data(submission={"state": "exploded"}),
        ["delivery"],
    ),
    "submission_pending_str": (2, _v2_data(submission={"pending": "x"}), ["delivery"]),
    "submission_str": (2, _v2_data(submission="x"), ["delivery"]),
    "submission_bad_day": (
        2,
        _v2_data(submission={"last_period_end": "last week"}),
        ["delivery"],
    ),
    "installation_list": (2, _v2_data(installation=[]), ["delivery"]),
    "installation_id_int": (2, _v2_data(installation={"id": 5}), ["delivery"]),
    "snapshot_int": (2, _v2_data(snapshot=7), ["facts"]),
    "snapshot_fleet_list": (2, _v2_data(snapshot={"fleet": []}), ["facts"]),
    "columns_str": (2, _v2_data(columns="x"), ["counters"]),
    "negative_count": (2, _v2_data(days={"2026-11-18": [-1]}), ["counters"]),
    "two_parts": (
        2,
        _v2_data(snapshot=7, submission={"history": 5}),
        ["facts", "delivery"],
    ),
    "tracker_garbage": (2, _v2_data(tracker="garbage"), []),
    "v1_day_str": (1, {**V1_DATA, "days": {"2026-11-18": "garbage"}}, ["counters"]),
    "v1_count_str": (
        1,
        {**V1_DATA, "days": {"2026-11-18": {"job_completed": {"count": "3"}}}},
        ["counters"],
    ),
    "v1_installation_str": (1, {**V1_DATA, "installation": "me"}, ["delivery"]),
}


@pytest.mark.parametrize(
    ("version", "data", "reset"), V2_MALFORMED.values(), ids=V2_MALFORMED.keys()
)
async def test_malformed_old_part_resets_only_its_section(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    version: int,
    data: dict[str, Any],
    reset: list[str],
) -> None:
    """A malformed part of an older file resets only its section, with a repair; counting goes on."""
    hass_storage[STORAGE_KEY] = _document(json.loads(json.dumps(data)), version=version)
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    issue = _storage_issue(hass)
    if reset:
        assert issue is not None
        assert issue.severity is ir.IssueSeverity.WARNING
        assert issue.translation_placeholders == {
            "sections": ", ".join(reset),
            "path": entry.runtime_data.storage.path,
        }
    else:
        assert issue is None

    loaded = _data(entry)
    kept_total = 0 if "counters" in reset else 7
    assert hass.states.get(JOBS_COMPLETED).state == str(kept_total)
    assert (loaded.delivery.installation_id == INSTALLATION_ID) is (
        "delivery" not in reset
    )
    assert loaded.delivery.installation_id is not None  # sharing goes on
    if version == 2:
        assert (loaded.facts.app_version == "2.41.0") is ("facts" not in reset)

    await _fire(hass, "job_completed")
    assert hass.states.get(JOBS_COMPLETED).state == str(kept_total + 1)
    await _unload(hass, entry)
    stored = _stored(hass_storage)
    assert stored["counters"]["totals"]["job_completed"] == kept_total + 1
    assert parse(stored)[1] == []


@pytest.mark.parametrize(
    ("section", "value"),
    [
        ("delivery", {"history": 5}),
        ("delivery", {"halt": []}),
        ("delivery", ["not", "an", "object"]),
        ("counters", {"days": 3}),
        ("counters", {"columns": ["job_completed"], "days": {"2026-11-19": [1, 2]}}),
        ("tracker", {"job_mark": 5}),
        ("facts", {"fleet": []}),
        ("clock", {"high_water": 5}),
        ("clock", []),
    ],
    ids=[
        "delivery_history_int",
        "delivery_halt_list",
        "delivery_list",
        "counters_days_int",
        "counters_row_too_long",
        "tracker_mark_int",
        "facts_fleet_list",
        "clock_int",
        "clock_list",
    ],
)
async def test_malformed_section_reset_alone(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    section: str,
    value: object,
) -> None:
    """A malformed version 3 section starts fresh; every other section is kept."""
    hass_storage[STORAGE_KEY] = _document({**_v3_data(), section: value})
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    issue = _storage_issue(hass)
    assert issue is not None
    assert issue.translation_placeholders["sections"] == section

    data = _data(entry)
    kept = {
        "counters": hass.states.get(JOBS_COMPLETED).state == "7",
        "tracker": data.tracker.job_mark == datetime(2026, 11, 20, 10, 0),
        "facts": data.facts.app_version == "2.41.0",
        "delivery": data.delivery.history != [],
        "clock": data.clock.high_water == datetime(2026, 11, 20, 12, 4, tzinfo=UTC),
    }
    assert kept == {name: name != section for name in SECTIONS}

    await _fire(hass, "job_completed")
    total = 1 if section == "counters" else 8
    assert hass.states.get(JOBS_COMPLETED).state == str(total)
    await _unload(hass, entry)
    assert parse(_stored(hass_storage))[1] == []


@pytest.mark.parametrize("data", [[], "garbage", 5], ids=["list", "string", "int"])
async def test_data_not_an_object_resets_every_section(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    data: object,
) -> None:
    """Version 3 data that is no object at all: every section starts fresh, with a repair."""
    hass_storage[STORAGE_KEY] = _document(data)
    await setup_entry(hass, mock_config_entry)
    issue = _storage_issue(hass)
    assert issue is not None
    assert issue.translation_placeholders["sections"] == ", ".join(SECTIONS)
    await _fire(hass, "job_completed")
    assert hass.states.get(JOBS_COMPLETED).state == "1"


@pytest.mark.parametrize(
    "document",
    [
        _document({}, version=STORAGE_VERSION + 1),
        _document(["old", "list"], version=2),
        _document("garbage", version=1),
    ],
    ids=["newer_version", "v2_list", "v1_string"],
)
async def test_unreadable_document_starts_clean(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    document: dict[str, Any],
) -> None:
    """A file that cannot be read at all is set aside; counting starts clean with a repair."""
    hass_storage[STORAGE_KEY] = document
    await setup_entry(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    issue = _storage_issue(hass)
    assert issue is not None
    assert issue.translation_placeholders["sections"] == "file"
    assert "starts again from zero" in caplog.text
    assert "garbage" not in caplog.text
    await _fire(hass, "job_completed")
    assert hass.states.get(JOBS_COMPLETED).state == "1"
    await _unload(hass, mock_config_entry)
    assert _stored(hass_storage)["counters"]["totals"] == {"job_completed": 1}


# --- migrate and parse never raise ----------------------------------------------


@pytest.mark.parametrize(
    ("version", "old", "reset"),
    [
        (1, {}, []),
        (1, {"rejected": {"unknown_key": 1}}, []),
        (1, {"days": []}, ["counters"]),
        (1, {"days": {"2026-11-18": 3}}, ["counters"]),
        (1, {"days": {"2026-11-18": {"job_completed": 3}}}, ["counters"]),
        (
            1,
            {"days": {"2026-11-18": {"job_completed": {"metadata": ["a"]}}}},
            ["counters"],
        ),
        (
            1,
            {"days": {"2026-11-18": {"job_completed": {"metadata": {"a": 1}}}}},
            ["counters"],
        ),
        (1, {"days": {"2026-11-18": {"job_completed": {"count": -1}}}}, ["counters"]),
        (1, {"days": {"2026-11-18": {"job_completed": {"count": True}}}}, ["counters"]),
        (1, {"rejected": []}, ["counters"]),
        (2, {}, []),
        (2, {"snapshot": {}}, []),
        (2, {"submission": {}}, []),
        (2, {"installation": {"id": INSTALLATION_ID}}, []),
        (2, {"submission": {"state": None, "history": None, "pending": None}}, []),
        (2, {"submission": {"history": [{"period_start": "x"}]}}, ["delivery"]),
        (2, {"weeks": {"2026-W47": 5}}, ["counters"]),
    ],
)
def test_migrate_shapes(version: int, old: dict[str, Any], reset: list[str]) -> None:
    """Each malformed old part resets its own section; a well-formed one resets nothing."""
    data, was_reset = parse(migrate(version, old))
    assert was_reset == reset
    assert data.tracker.job_mark is None


def _joined(row: list[int]) -> str:
    """A day row as version 3 may write it: "3,0,12"."""
    return ",".join(map(str, row))


_WORDS = st.sampled_from(
    [
        "2026-11-10",
        "2026-11-20T11:00:00+00:00",
        "2026-11-20T11:00:00",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31",
        "9999-12-31T23:59:59-01:00",
        INSTALLATION_ID,
        "ok",
        "retrying",
        "auth_failed",
        "rejected",
        "none",
        "job_completed",
        "app_start/deployment_mode=raspberry_pi",
        "error_occurred/error_type=JohnSmithError",
        "unknown_key",
        "bambu_lab",
        "2.42.0",
        "2026-W47",
    ]
)
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-3, 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | _WORDS
)
_KEYS = st.text(max_size=6) | _WORDS
JSON = st.recursive(
    _LEAVES,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(_KEYS, children, max_size=4),
    max_leaves=12,
)


def _or_junk(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything at all."""
    return st.integers(0, 9).flatmap(lambda pick: JSON if pick == 0 else strategy)


def _key(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly a plausible object key, sometimes any (JSON keys are strings)."""
    return st.integers(0, 9).flatmap(lambda pick: _KEYS if pick == 0 else strategy)


def _record(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly an object with some of these fields (each mostly plausible), else anything."""
    return _or_junk(
        st.fixed_dictionaries(
            {}, optional={name: _or_junk(value) for name, value in fields.items()}
        )
    )


_DAY = st.dates(date(2026, 7, 1), date(2026, 12, 31)).map(date.isoformat)
_MOMENT = st.datetimes(
    datetime(2026, 7, 1), datetime(2027, 1, 1), timezones=st.just(UTC)
).map(datetime.isoformat)
_NAIVE_MOMENT = st.datetimes(datetime(2026, 7, 1), datetime(2027, 1, 1)).map(
    datetime.isoformat
)
_ID = st.uuids(version=4).map(str) | st.just(INSTALLATION_ID)
_COUNT = st.integers(0, 9)
_COLUMN = _or_junk(
    st.sampled_from(
        [
            "job_completed",
            "job_failed",
            "app_start",
            "@uptime_hours",
            "app_start/deployment_mode=raspberry_pi",
            "app_start/app_version=2.42.0",
            "app_start/app_version=other",
            "error_occurred/error_type=JohnSmithError",
            "job_completed/printer_type=bambu_lab",
            "no_such_event",
        ]
    )
)
_ROW = st.lists(_COUNT, max_size=6)
_ROWS = st.dictionaries(_key(_DAY), _or_junk(_ROW | _ROW.map(_joined)), max_size=4)
_TYPES = st.sampled_from(["job_completed", "app_start", "error_occurred", "x"])
_BY_TYPE = st.dictionaries(_key(_TYPES), _or_junk(_COUNT), max_size=3)
_REASONS = st.dictionaries(
    _key(st.sampled_from(["unknown_key", "internal_error", "nope"])),
    _or_junk(_COUNT),
    max_size=3,
)
_WEEKS = st.dictionaries(
    _key(st.sampled_from(["2026-W46", "2026-W47", "2026-W48"])),
    _or_junk(_BY_TYPE),
    max_size=3,
)
_FLEET = st.dictionaries(
    _key(st.sampled_from(["bambu_lab", "prusa_core", "octoprint", "lathe"])),
    _or_junk(_COUNT),
    max_size=3,
)
_V2_HISTORY = _record(
    period_start=_DAY,
    period_end=_DAY,
    submitted=_DAY,
    submission_id=st.text(max_size=6),
)
_INSTALLATION = _record(id=_ID, first_seen=_DAY)
V2_DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "columns": _or_junk(st.lists(_COLUMN, max_size=6)),
        "days": _or_junk(_ROWS),
        "rejected": _or_junk(_REASONS),
        "totals": _or_junk(_BY_TYPE),
        "weeks": _or_junk(_WEEKS),
        "tracker": _record(salt=st.just(SALT), jobs=st.just({JOB_HASH: "completed"})),
        "installation": _INSTALLATION,
        "snapshot": _record(app_version=_WORDS, uptime_hours=_COUNT, fleet=_FLEET),
        "submission": _record(
            pending=st.just({"idempotency_key": PENDING_KEY, "body": PENDING_BODY}),
            last_period_end=_DAY,
            last_success=_MOMENT,
            last_request=_MOMENT,
            not_before=_MOMENT,
            state=st.sampled_from(["ok", "retrying", "auth_failed", "rejected"]),
            failed_with=st.just(API_KEY_HASH),
            rejected_version=st.just("0.1.0"),
            history=st.lists(_V2_HISTORY, max_size=3),
        ),
    },
)
_V1_EVENT = _record(
    count=_COUNT,
    metadata=st.dictionaries(
        _key(st.sampled_from(["printer_type", "deployment_mode", "error_type"])),
        _or_junk(st.dictionaries(_key(_WORDS), _or_junk(_COUNT), max_size=3)),
        max_size=2,
    ),
)
V1_DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "days": _or_junk(
            st.dictionaries(
                _key(_DAY),
                _or_junk(st.dictionaries(_key(_TYPES), _V1_EVENT, max_size=3)),
                max_size=3,
            )
        ),
        "rejected": _or_junk(_REASONS),
        "installation": _INSTALLATION,
    },
)
_SENT = _record(start=_DAY, end=_DAY, submitted=_DAY, submission_id=st.text(max_size=6))
V3_DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "counters": _record(
            columns=st.lists(_COLUMN, max_size=6),
            days=_ROWS,
            rejected=_REASONS,
            totals=_BY_TYPE,
            weeks=_WEEKS,
        ),
        "tracker": _record(
            job_mark=_NAIVE_MOMENT | _MOMENT,
            file_mark=_NAIVE_MOMENT,
            connected=_FLEET,
            uptime_hours=_COUNT,
        ),
        "facts": _record(
            app_version=_WORDS, fleet=_FLEET, shares_statistics=st.booleans()
        ),
        "delivery": _record(
            installation_id=_ID,
            first_seen=_DAY,
            reported_until=_DAY,
            pending=_record(
                start=_DAY,
                end=_DAY,
                idempotency_key=_ID,
                body=st.text(max_size=6),
                attempts=_COUNT,
                next_attempt=_MOMENT,
            ),
            last_request=_MOMENT,
            not_before=_MOMENT,
            halt=st.sampled_from(["none", "auth_failed", "rejected"]),
            halt_generation=_COUNT,
            halt_version=st.just("0.1.0"),
            last_error=st.sampled_from(["timeout", "http_500", "Not a code"]),
            last_success=_MOMENT,
            history=st.lists(_SENT, max_size=3),
            service_ids=st.lists(_or_junk(_ID), max_size=3),
            erasures=st.lists(
                _record(
                    installation_id=_ID,
                    attempts=_COUNT,
                    next_attempt=_MOMENT,
                    last_error=st.just("timeout"),
                ),
                max_size=2,
            ),
        ),
        "clock": _record(high_water=_MOMENT | _NAIVE_MOMENT),
    },
)


def _check_loaded(data: StoredData, reset: list[str]) -> None:
    """A load always gives typed data, and what is written back loads without a reset."""
    assert isinstance(data, StoredData)
    assert set(reset) <= set(SECTIONS)
    written = json.loads(json.dumps(data.as_storage()))
    assert parse(written)[1] == []


_FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_FUZZ
@given(version=st.sampled_from([1, 2]), old=V2_DOCUMENTS | V1_DOCUMENTS | JSON)
def test_migrate_never_raises(version: int, old: Any) -> None:
    """Any old document migrates (only a non-object is refused) and nothing reversible survives."""
    if not isinstance(old, dict):
        with pytest.raises(ValueError, match="not an object"):
            migrate(version, old)
        return
    migrated = migrate(version, old)
    assert set(migrated) <= {"counters", "facts", "delivery"}
    text = json.dumps(migrated)
    for secret in SECRETS:
        assert secret not in text
    _check_loaded(*parse(migrated))


@_FUZZ
@given(raw=V3_DOCUMENTS | JSON)
def test_parse_never_raises(raw: Any) -> None:
    """Any version 3 data loads: malformed sections are reset, never raised."""
    data, reset = parse(raw)
    if not isinstance(raw, dict):
        assert reset == list(SECTIONS)
    _check_loaded(data, reset)


# --- the file on disk -----------------------------------------------------------

_MOCKED_REMOVE = Store.async_remove  # the original: collected before any patch


@contextlib.contextmanager
def _real_disk() -> Iterator[None]:
    """Let our Store read, write and remove real files; every other Store stays mocked."""
    mocked_load = Store._async_load
    mocked_write = Store._async_write_data
    mocked_remove = Store.async_remove

    async def load(store: Store[Any]) -> Any:
        if store.key != STORAGE_KEY:
            return await mocked_load(store)
        return await store._async_load_data()

    async def write(store: Store[Any], *args: Any) -> None:
        # (path, data) before Home Assistant 2026.x, (data) after.
        if store.key != STORAGE_KEY:
            await mocked_write(store, *args)
            return
        await store.hass.async_add_executor_job(store._write_data, *args)

    async def remove(store: Store[Any]) -> None:
        if store.key != STORAGE_KEY:
            await mocked_remove(store)
            return
        await _MOCKED_REMOVE(store)

    with (
        patch.object(Store, "_async_load", load),
        patch.object(Store, "_async_write_data", write),
        patch.object(Store, "async_remove", remove),
    ):
        yield


def _storage_folder(hass: HomeAssistant, tmp_path: Path) -> Path:
    """An empty .storage folder under a config folder of our own."""
    hass.config.config_dir = str(tmp_path)
    folder = tmp_path / ".storage"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(
    ("content", "home_assistant_issue"),
    [
        (b'{"version": 2, "data": {"days": \x00\xff', True),
        (b"", True),
        (b"[1, 2, 3]", False),
        (b'{"data": {}}', False),
        (b'{"version": 9, "minor_version": 1, "data": {}}', False),
    ],
    ids=["undecodable", "empty", "list", "no_version", "newer_version"],
)
async def test_corrupt_file_on_disk(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    tmp_path: Path,
    content: bytes,
    home_assistant_issue: bool,
) -> None:
    """A bad file is kept aside, counting starts clean, and the new file is owner-only."""
    folder = _storage_folder(hass, tmp_path)
    path = folder / STORAGE_KEY
    path.write_bytes(content)

    with _real_disk():
        await setup_entry(hass, mock_config_entry)
        assert mock_config_entry.state is ConfigEntryState.LOADED
        storage = mock_config_entry.runtime_data.storage
        assert storage.path == str(path)
        assert storage.data.counters.totals == {}
        await _fire(hass, "job_completed", 2)
        assert await storage.async_commit() is True

        (aside,) = folder.glob(f"{STORAGE_KEY}.corrupt.*")
        assert aside.read_bytes() == content
        # Nothing else: no temporary file was left behind.
        assert {p.name for p in folder.iterdir()} == {STORAGE_KEY, aside.name}
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        written = json.loads(path.read_text())
        assert written["version"] == STORAGE_VERSION
        assert written["data"]["counters"]["totals"] == {"job_completed": 2}

        issues = ir.async_get(hass).issues
        assert issues[DOMAIN, ISSUE_STORAGE].translation_placeholders["sections"] == (
            "file"
        )
        assert (
            any(domain == "homeassistant" for domain, _ in issues)
            is home_assistant_issue
        )
        await _unload(hass, mock_config_entry)


async def test_good_file_on_disk(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    tmp_path: Path,
) -> None:
    """A good file loads without a repair, is written back owner-only, and goes with the entry."""
    folder = _storage_folder(hass, tmp_path)
    path = folder / STORAGE_KEY
    path.write_text(json.dumps(_document(_v3_data())))
    path.chmod(0o644)

    with _real_disk():
        await setup_entry(hass, mock_config_entry)
        assert hass.states.get(JOBS_COMPLETED).state == "7"
        await _fire(hass, "job_completed")
        await _unload(hass, mock_config_entry)
        assert _storage_issue(hass) is None
        assert [p.name for p in folder.iterdir()] == [STORAGE_KEY]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        written = json.loads(path.read_text())
        assert written["data"]["counters"]["totals"] == {"job_completed": 8}

        await hass.config_entries.async_remove(mock_config_entry.entry_id)
        await hass.async_block_till_done()
        assert list(folder.iterdir()) == []


async def test_empty_object_file_on_disk(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, tmp_path: Path
) -> None:
    """A file holding just {} loads as new, without claiming it was damaged."""
    folder = _storage_folder(hass, tmp_path)
    (folder / STORAGE_KEY).write_text("{}")
    with _real_disk():
        await setup_entry(hass, mock_config_entry)
        await _unload(hass, mock_config_entry)
    assert _storage_issue(hass) is None
    assert [p.name for p in folder.iterdir()] == [STORAGE_KEY]


# --- writes ---------------------------------------------------------------------


async def test_burst_of_events_is_one_write(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    store_writes: list[dict[str, Any]],
) -> None:
    """Events reach the file after SAVE_DELAY, a whole burst in one write."""
    await setup_entry(hass, mock_config_entry)
    store_writes.clear()
    await _fire(hass, "job_completed", 20)
    await advance(hass, freezer, timedelta(seconds=2))
    await _fire(hass, "job_failed", 5)
    await advance(hass, freezer, timedelta(seconds=SAVE_DELAY - 5))
    assert store_writes == []
    await advance(hass, freezer, timedelta(seconds=5))
    assert len(store_writes) == 1
    assert store_writes[0]["data"]["counters"]["totals"] == {
        "job_completed": 20,
        "job_failed": 5,
    }
    # The next burst is written again, once.
    await _fire(hass, "job_completed", 3)
    await advance(hass, freezer, timedelta(seconds=SAVE_DELAY + 1))
    assert len(store_writes) == 2
    assert store_writes[1]["data"]["counters"]["totals"]["job_completed"] == 23


async def test_flushed_on_unload(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Unloading writes what is pending at once, without waiting for the delay."""
    await setup_entry(hass, mock_config_entry)
    await _fire(hass, "job_completed", 3)
    assert _stored(hass_storage)["counters"]["totals"] == {}
    await _unload(hass, mock_config_entry)
    assert _stored(hass_storage)["counters"]["totals"] == {"job_completed": 3}


async def test_flushed_at_final_write(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Home Assistant's final write at shutdown saves the delayed data."""
    await setup_entry(hass, mock_config_entry)
    await _fire(hass, "file_downloaded", 2)
    assert _stored(hass_storage)["counters"]["totals"] == {}
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()
    assert _stored(hass_storage)["counters"]["totals"] == {"file_downloaded": 2}


async def test_commit_says_whether_the_write_worked(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """async_commit returns False while writes fail and True once one works again."""
    await setup_entry(hass, mock_config_entry)
    storage = mock_config_entry.runtime_data.storage
    assert storage.healthy
    with full_disk():
        await _fire(hass, "job_completed")
        assert await storage.async_commit() is False
        assert not storage.healthy
        # A delayed write that fails keeps it so.
        await _fire(hass, "job_completed")
        await advance(hass, freezer, timedelta(seconds=SAVE_DELAY + 1))
        assert not storage.healthy
        assert _stored(hass_storage)["counters"]["totals"] == {}
    assert hass.states.get(JOBS_COMPLETED).state == "2"
    assert await storage.async_commit() is True
    assert storage.healthy
    assert _stored(hass_storage)["counters"]["totals"] == {"job_completed": 2}


async def test_removing_the_entry_removes_the_file(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Removing the integration removes its statistics file."""
    await setup_entry(hass, mock_config_entry)
    assert STORAGE_KEY in hass_storage
    await hass.config_entries.async_remove(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert STORAGE_KEY not in hass_storage


# --- retention ------------------------------------------------------------------


def _days_document(*days: str) -> dict[str, Any]:
    """A version 3 document with two completed jobs on each day, and 10 more in the totals."""
    columns = {"columns": ["job_completed"], "days": {day: [2] for day in days}}
    return _document({"counters": _counters(columns, job_completed=2 * len(days) + 10)})


async def test_retention_at_setup(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Days older than the retention window are pruned at setup; totals stay."""
    hass_storage[STORAGE_KEY] = _days_document(
        "2026-01-01", TOO_OLD, OLDEST_KEPT, TODAY
    )
    await setup_entry(hass, mock_config_entry)
    counters = _data(mock_config_entry).counters
    assert counters.days == (OLDEST_KEPT, TODAY)
    assert counters.totals == {"job_completed": 18}
    assert hass.states.get(JOBS_COMPLETED).state == "18"
    await _unload(hass, mock_config_entry)
    assert list(_stored(hass_storage)["counters"]["days"]) == [OLDEST_KEPT, TODAY]


async def test_retention_daily(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """The daily tick after midnight UTC prunes the day that left the window."""
    freezer.move_to("2026-11-20 23:30:00+00:00")
    hass_storage[STORAGE_KEY] = _days_document(OLDEST_KEPT, NEXT_OLDEST_KEPT, TODAY)
    await setup_entry(hass, mock_config_entry)
    counters = _data(mock_config_entry).counters
    assert len(counters.days) == 3

    await advance(hass, freezer, timedelta(minutes=34))
    assert len(counters.days) == 3
    await advance(hass, freezer, timedelta(minutes=2))
    assert counters.days == (NEXT_OLDEST_KEPT, TODAY)
    assert counters.totals == {"job_completed": 16}
    await advance(hass, freezer, timedelta(seconds=SAVE_DELAY + 1))
    assert list(_stored(hass_storage)["counters"]["days"]) == [NEXT_OLDEST_KEPT, TODAY]
    await restart(hass, mock_config_entry)
    assert _data(mock_config_entry).counters.days == (NEXT_OLDEST_KEPT, TODAY)


async def test_removing_the_entry_removes_copies_set_aside(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, tmp_path: Path
) -> None:
    """A damaged file kept aside goes too when the integration is removed."""
    folder = _storage_folder(hass, tmp_path)
    (folder / STORAGE_KEY).write_bytes(b"[1, 2, 3]")
    (folder / "other_integration").write_text("{}")

    with _real_disk():
        await setup_entry(hass, mock_config_entry)
        await _unload(hass, mock_config_entry)
        assert list(folder.glob(f"{STORAGE_KEY}.corrupt.*"))
        await hass.config_entries.async_remove(mock_config_entry.entry_id)
        await hass.async_block_till_done()
    assert [p.name for p in folder.iterdir()] == ["other_integration"]
