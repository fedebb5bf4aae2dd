"""Tests for the storage file through Home Assistant: migration, recovery, writes, retention.

The file is input (issue 15): each damaged unit is dropped alone and named in
the repair, a stored report is re-verified, and nothing read back runs ahead
of the trusted clock.
"""

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
    CONF_ENDPOINT,
    DATA_REPORTED_UNTIL,
    DATA_SERVICE_IDS,
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    ISSUE_REJECTED,
    ISSUE_STORAGE,
    SAVE_DELAY,
)
from custom_components.printernizer_stats.counters import Tally, UsageCounters
from custom_components.printernizer_stats.delivery import (
    RETENTION_DAYS,
    Halt,
    Recipient,
    Sent,
)
from custom_components.printernizer_stats.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.printernizer_stats.report import (
    InstallationFacts,
    Period,
    build_report,
    serialize_report,
)
from custom_components.printernizer_stats.storage import (
    STORAGE_KEY,
    STORAGE_MINOR_VERSION,
    STORAGE_VERSION,
    PrinternizerStatsStorage,
    StoredData,
    migrate,
    parse,
)
from custom_components.printernizer_stats.stored import Damage, Reading
from simulator.printernizer import PrinternizerSimulator
from simulator.stats_service import StatsServiceEmulator

from .conftest import (
    advance,
    call_action,
    full_disk,
    make_entry,
    next_minute,
    restart,
    setup_entry,
)

MANIFEST = "custom_components/printernizer_stats/manifest.json"
NOW = "2026-11-20 12:00:00+00:00"
WALL = datetime(2026, 11, 20, 12, tzinfo=UTC)
TODAY = "2026-11-20"
# Polls fail fast, so stored facts and marks stay as loaded; `entry` is a
# user who shares (conftest), so the installation id is kept.
pytestmark = [
    pytest.mark.freeze_time(NOW),
    pytest.mark.usefixtures("printernizer_down"),
]

PREFIX = "sensor.printernizer_usage_statistics"
JOBS_COMPLETED = f"{PREFIX}_jobs_completed"
SHARING = f"{PREFIX}_sharing_status"
LAST_SUBMISSION = f"{PREFIX}_last_submission"
SECTIONS = ("counters", "tracker", "facts", "delivery", "clock")
WHOLE_FILE = "the whole file"
# Where ids stored without their service went (parse-level tests).
ENDPOINT = "https://stats.example/submit"

# RETENTION_DAYS days are kept: today and the RETENTION_DAYS - 1 before it.
OLDEST_KEPT = (date(2026, 11, 20) - timedelta(days=RETENTION_DAYS - 1)).isoformat()
TOO_OLD = (date(2026, 11, 20) - timedelta(days=RETENTION_DAYS)).isoformat()
# The oldest day kept after the next midnight.
NEXT_OLDEST_KEPT = (date(2026, 11, 21) - timedelta(days=RETENTION_DAYS - 1)).isoformat()

INSTALLATION_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
OTHER_ID = "4d6f7a3e-2b1c-4e5f-9a8b-7c6d5e4f3a2b"
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
TRACKER_KEYS = {"job_mark", "file_mark", "connected", "started", "up_until"}


def _document(
    data: object, version: int = STORAGE_VERSION, minor_version: int = 1
) -> dict[str, Any]:
    """A storage document as Home Assistant's Store writes it."""
    return {
        "version": version,
        "minor_version": minor_version,
        "key": STORAGE_KEY,
        "data": data,
    }


def _current(data: object) -> dict[str, Any]:
    """A document in today's layout (3.2)."""
    return _document(data, minor_version=STORAGE_MINOR_VERSION)


def _parse(raw: object, endpoint: str | None = ENDPOINT) -> tuple[StoredData, Damage]:
    """Read a document's data as set-up does, at NOW."""
    return parse(raw, WALL, None, endpoint=endpoint)


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
    "rejected": {"unknown_key": 2},
    "installation": {"id": INSTALLATION_ID, "first_seen": "2026-11-03"},
}


def _counters(columns: dict[str, Any], **totals: int) -> dict[str, Any]:
    """A counters section as UsageCounters writes it today (whatever its row form)."""
    reading = Reading(WALL)
    counters = UsageCounters.from_storage({**columns, "totals": totals}, reading)
    assert not reading.damage
    section: dict[str, Any] = counters.as_storage()
    return section


def _report(
    start: str, end: str, installation_id: str = INSTALLATION_ID, **changes: Any
) -> str:
    """A report as the builder writes it (a job a day), with some values changed.

    A change names its place with "__" between keys: installation__platform.
    """
    period = Period(date.fromisoformat(start), date.fromisoformat(end))
    report = build_report(
        tally=Tally({"job_completed": period.duration_days}),
        period=period,
        installation=InstallationFacts(
            installation_id=installation_id,
            first_seen=date(2026, 11, 3),
            app_version="2.41.0",
            platform="linux",
            deployment_mode="docker",
            country_code="DE",
        ),
        fleet={"bambu_lab": 1},
        today=period.end,
    )
    for dotted, value in changes.items():
        target = report
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    return serialize_report(report).decode()


PENDING_REPORT = _report("2026-11-10", "2026-11-17")
KEPT_REPORT = _report("2026-11-03", "2026-11-10")


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
            "started": "2026-11-20T09:00:00+00:00",
            "up_until": "2026-11-20T11:59:00+00:00",
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
                    "submission_id": "1",
                    "body": KEPT_REPORT,
                    "accepted": "2026-11-10T06:01:00+00:00",
                    "status": 200,
                    "installation_id": INSTALLATION_ID,
                }
            ],
            "recipients": [{"installation_id": INSTALLATION_ID, "endpoint": ENDPOINT}],
        },
        # A few minutes ahead: kept, it stays the high-water mark.
        "clock": {"high_water": "2026-11-20T12:04:00+00:00", "held_since": None},
    }


def _stored(hass_storage: dict[str, Any]) -> dict[str, Any]:
    """The data of the storage file as last written (always version 3.2)."""
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


def _parts(hass: HomeAssistant) -> str | None:
    """What the storage repair says was dropped, if it was raised."""
    issue = _storage_issue(hass)
    if issue is None:
        return None
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_placeholders is not None
    return issue.translation_placeholders["parts"]


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


async def _outputs(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """What the user can see: export, preview and diagnostics (each must answer)."""
    return {
        "export": await call_action(hass, "export"),
        "preview": await call_action(hass, "preview"),
        "diagnostics": await async_get_config_entry_diagnostics(hass, entry),
    }


# --- migration ------------------------------------------------------------------


async def test_migration_from_v2(
    hass: HomeAssistant, entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Version 2 becomes version 3: counters re-checked, hashes gone, submission → delivery."""
    endpoint = entry.options[CONF_ENDPOINT]
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
    assert data.tracker.as_storage() == dict.fromkeys(TRACKER_KEYS)
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
    # Version 2 kept no service: the id went to the endpoint in use.
    assert delivery.recipients == [Recipient(INSTALLATION_ID, endpoint)]
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_REJECTED) is not None
    assert hass.states.get(SHARING).state == "failing"
    assert hass.states.get(LAST_SUBMISSION).state == "2026-11-10T09:12:30+00:00"
    # The entry keeps what must survive losing the file.
    assert entry.data[DATA_REPORTED_UNTIL] == "2026-11-10"
    assert entry.data[DATA_SERVICE_IDS] == [
        {"installation_id": INSTALLATION_ID, "endpoint": endpoint}
    ]

    # The file was written back as version 3.2, with nothing reversible in it.
    assert hass_storage[STORAGE_KEY]["minor_version"] == STORAGE_MINOR_VERSION
    stored = _stored(hass_storage)
    assert set(stored) == set(SECTIONS)
    assert set(stored["tracker"]) == TRACKER_KEYS
    assert stored["delivery"]["pending"] is None
    assert stored["delivery"]["recipients"] == [
        {"installation_id": INSTALLATION_ID, "endpoint": endpoint}
    ]
    text = json.dumps(hass_storage[STORAGE_KEY])
    for secret in SECRETS:
        assert secret not in text
    assert "failed_with" not in text
    assert "salt" not in text
    assert "service_ids" not in text


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
    data, damage = _parse(migrate(2, _v2_data(submission=submission)))
    assert damage.summary() == []
    assert data.delivery.halt is Halt.AUTH_FAILED
    assert data.delivery.halt_generation is None
    # Nothing was sent: no id is put on the erasure list.
    assert data.delivery.recipients == []
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
    assert data.counters.rejected == {"unknown_key": 2}
    assert hass.states.get(JOBS_COMPLETED).state == "7"
    assert data.delivery.installation_id == INSTALLATION_ID
    assert data.delivery.first_seen == date(2026, 11, 3)
    # Version 1 never sent anything: nothing to erase.
    assert data.delivery.recipients == []
    assert entry.data[DATA_SERVICE_IDS] == []
    assert hass_storage[STORAGE_KEY]["version"] == STORAGE_VERSION


async def test_migration_from_v1_names_an_unknown_rejection_reason(
    hass: HomeAssistant, entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """A rejection reason the allowlist does not know is dropped and named; the rest is kept."""
    old = {**V1_DATA, "rejected": {"unknown_key": 2, "not_a_reason": 5}}
    hass_storage[STORAGE_KEY] = _document(json.loads(json.dumps(old)), version=1)
    await setup_entry(hass, entry)
    assert _parts(hass) == "counters: rejection count"
    data = _data(entry)
    assert data.counters.rejected == {"unknown_key": 2}
    assert data.counters.totals["job_completed"] == 7
    assert data.delivery.installation_id == INSTALLATION_ID


async def test_lost_file_keeps_reported_until_and_service_ids(
    hass: HomeAssistant, entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """The entry keeps the end of the last report and the ids sent: losing the file loses neither."""
    endpoint = entry.options[CONF_ENDPOINT]
    hass_storage[STORAGE_KEY] = _document(
        _v2_data(submission={**_v2_data()["submission"], "state": "ok"}), version=2
    )
    await setup_entry(hass, entry)
    assert entry.data[DATA_REPORTED_UNTIL] == "2026-11-10"
    assert entry.data[DATA_SERVICE_IDS] == [
        {"installation_id": INSTALLATION_ID, "endpoint": endpoint}
    ]

    await _unload(hass, entry)
    hass_storage.pop(STORAGE_KEY)
    await setup_entry(hass, entry)
    delivery = _data(entry).delivery
    assert delivery.reported_until == date(2026, 11, 10)
    assert Recipient(INSTALLATION_ID, endpoint) in delivery.recipients
    # Sharing goes on under a new id; the old one is still known at its service.
    assert delivery.installation_id not in (None, INSTALLATION_ID)
    assert _stored(hass_storage)["delivery"]["recipients"] == [
        {"installation_id": INSTALLATION_ID, "endpoint": endpoint}
    ]


@pytest.mark.parametrize(
    ("kept_ids", "recipients"),
    [
        ([INSTALLATION_ID], lambda endpoint: [Recipient(INSTALLATION_ID, endpoint)]),
        (
            [
                {"installation_id": INSTALLATION_ID, "endpoint": ENDPOINT},
                {"installation_id": OTHER_ID, "endpoint": "https://b.example/submit"},
                {"installation_id": "not-an-id", "endpoint": ENDPOINT},
                {"installation_id": OTHER_ID, "endpoint": "http://b.example/submit"},
                5,
            ],
            lambda endpoint: [
                Recipient(INSTALLATION_ID, ENDPOINT),
                Recipient(OTHER_ID, "https://b.example/submit"),
            ],
        ),
    ],
    ids=["bare_ids", "with_services"],
)
async def test_damaged_delivery_keeps_entry_facts(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    hass_storage: dict[str, Any],
    kept_ids: list[Any],
    recipients: Any,
) -> None:
    """A lost delivery section takes reported_until and the ids (with services) from the entry."""
    entry = make_entry(
        printernizer_url,
        opted_in_options,
        reported_until="2026-11-17",
        service_ids=kept_ids,
    )
    hass_storage[STORAGE_KEY] = _current(
        {**_v3_data(), "delivery": ["not", "an", "object"]}
    )
    await setup_entry(hass, entry)
    assert _parts(hass) == "delivery: whole section"
    delivery = _data(entry).delivery
    assert delivery.reported_until == date(2026, 11, 17)
    assert delivery.recipients == recipients(opted_in_options[CONF_ENDPOINT])
    assert hass.states.get(JOBS_COMPLETED).state == "7"


@pytest.mark.parametrize(
    "reported_until",
    [
        "\uff19\uff19\uff19\uff19-01-01",
        "9999-01-01",
        "garbage",
        5,
        ["2026-11-17"],
        None,
    ],
)
async def test_entry_reported_until_is_input_too(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    hass_storage: dict[str, Any],
    reported_until: object,
) -> None:
    """A damaged reported_until in the entry does not break set-up; the file's is kept."""
    entry = make_entry(
        printernizer_url, opted_in_options, reported_until=reported_until
    )
    hass_storage[STORAGE_KEY] = _current(_v3_data())
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert _data(entry).delivery.reported_until == date(2026, 11, 10)
    assert entry.data[DATA_REPORTED_UNTIL] == "2026-11-10"
    assert hass.states.get(JOBS_COMPLETED).state == "7"


async def test_entry_reported_until_ahead_of_now_is_ignored(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    hass_storage: dict[str, Any],
) -> None:
    """A real day after tomorrow in the entry does not move the plan into the future."""
    entry = make_entry(printernizer_url, opted_in_options, reported_until="2031-01-01")
    hass_storage[STORAGE_KEY] = _current(_v3_data())
    await setup_entry(hass, entry)
    assert _data(entry).delivery.reported_until == date(2026, 11, 10)


# --- damaged parts ----------------------------------------------------------------


# version, old data, the repair's parts (None: no repair), what was lost.
V2_MALFORMED: dict[str, tuple[int, dict[str, Any], str | None, set[str]]] = {
    # Version 2's submission block is read whole (migrate): its section goes.
    "submission_history_int": (
        2,
        _v2_data(submission={"history": 5}),
        "delivery: sent report",
        set(),
    ),
    "submission_history_item": (
        2,
        _v2_data(submission={"history": [5]}),
        "delivery: sent report",
        set(),
    ),
    "submission_state_list": (
        2,
        _v2_data(submission={"state": []}),
        "delivery: stop reason",
        set(),
    ),
    "submission_state_unknown": (
        2,
        _v2_data(submission={"state": "exploded"}),
        "delivery: stop reason",
        set(),
    ),
    # A version 2 pending report is dropped on purpose (it cannot be sent).
    "submission_pending_str": (2, _v2_data(submission={"pending": "x"}), None, set()),
    "submission_str": (
        2,
        _v2_data(submission="x"),
        "delivery: whole section",
        {"delivery"},
    ),
    "installation_list": (
        2,
        _v2_data(installation=[]),
        "delivery: whole section",
        {"delivery"},
    ),
    "snapshot_int": (2, _v2_data(snapshot=7), "facts: whole section", {"facts"}),
    "snapshot_fleet_list": (
        2,
        _v2_data(snapshot={"fleet": []}),
        "facts: fleet",
        {"facts"},
    ),
    "two_parts": (
        2,
        _v2_data(snapshot=7, submission={"history": 5}),
        "facts: whole section; delivery: sent report",
        {"facts"},
    ),
    # What reaches the version 3 parser loses only the damaged unit.
    "submission_bad_day": (
        2,
        _v2_data(submission={"last_period_end": "last week"}),
        "delivery: reported until",
        set(),
    ),
    "installation_id_int": (
        2,
        _v2_data(installation={"id": 5}),
        "delivery: installation id; delivery: installation id at a service",
        {"delivery"},
    ),
    "columns_str": (
        2,
        _v2_data(columns="x"),
        "counters: counter names; counters: counter value (7)",
        {"days"},
    ),
    "negative_count": (
        2,
        _v2_data(days={"2026-11-18": [-1]}),
        "counters: counter value",
        {"days"},
    ),
    "tracker_garbage": (2, _v2_data(tracker="garbage"), None, set()),
    # Version 1's days are read whole (migrate).
    "v1_day_str": (
        1,
        {**V1_DATA, "days": {"2026-11-18": "garbage"}},
        "counters: whole section",
        {"counters", "days", "facts"},
    ),
    "v1_count_str": (
        1,
        {**V1_DATA, "days": {"2026-11-18": {"job_completed": {"count": "3"}}}},
        "counters: whole section",
        {"counters", "days", "facts"},
    ),
    "v1_installation_str": (
        1,
        {**V1_DATA, "installation": "me"},
        "delivery: whole section",
        {"delivery", "facts"},
    ),
}


@pytest.mark.parametrize(
    ("version", "data", "parts", "lost"), V2_MALFORMED.values(), ids=V2_MALFORMED.keys()
)
async def test_malformed_old_part_is_dropped_alone(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    version: int,
    data: dict[str, Any],
    parts: str | None,
    lost: set[str],
) -> None:
    """A malformed part of an older file is dropped with a repair; the rest is kept; counting goes on."""
    hass_storage[STORAGE_KEY] = _document(json.loads(json.dumps(data)), version=version)
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert _parts(hass) == parts
    if parts is not None:
        issue = _storage_issue(hass)
        assert issue is not None
        assert issue.translation_placeholders == {
            "parts": parts,
            "path": entry.runtime_data.storage.path,
        }

    loaded = _data(entry)
    kept_total = 0 if "counters" in lost else 7
    assert hass.states.get(JOBS_COMPLETED).state == str(kept_total)
    counted_days = [
        day for day, counts in loaded.counters.as_nested().items() if counts
    ]
    assert bool(counted_days) is ("days" not in lost)
    assert (loaded.delivery.installation_id == INSTALLATION_ID) is (
        "delivery" not in lost
    )
    assert loaded.delivery.installation_id is not None  # sharing goes on
    assert (loaded.facts.app_version == "2.41.0") is ("facts" not in lost)

    await _fire(hass, "job_completed")
    await next_minute(hass, freezer)
    assert hass.states.get(JOBS_COMPLETED).state == str(kept_total + 1)
    await _unload(hass, entry)
    stored = _stored(hass_storage)
    assert stored["counters"]["totals"]["job_completed"] == kept_total + 1
    assert _parse(stored)[1].summary() == []


def _patch(section: str, **values: Any) -> dict[str, Any]:
    """The good version 3 data with some values of one section replaced."""
    data = _v3_data()
    return {**data, section: {**data[section], **values}}


# The good file with one damaged part, the repair's parts, and what was lost.
V3_MALFORMED: dict[str, tuple[dict[str, Any], str, set[str]]] = {
    "delivery_history_int": (
        _patch("delivery", history=5),
        "delivery: sent report",
        {"history"},
    ),
    "delivery_halt_list": (
        _patch("delivery", halt=[]),
        "delivery: stop reason",
        set(),
    ),
    "delivery_id_upper": (
        _patch("delivery", installation_id=INSTALLATION_ID.upper()),
        "delivery: installation id",
        {"delivery"},
    ),
    "delivery_list": (
        {**_v3_data(), "delivery": ["not", "an", "object"]},
        "delivery: whole section",
        {"delivery", "history"},
    ),
    "counters_days_int": (
        _patch("counters", days=3),
        "counters: day rows",
        {"days"},
    ),
    "counters_row_too_long": (
        _patch("counters", days={"2026-11-19": "7,2"}),
        "counters: counter value",
        set(),
    ),
    "counters_total_text": (
        _patch("counters", totals={"job_completed": "7"}),
        "counters: total",
        {"counters"},
    ),
    "counters_list": (
        {**_v3_data(), "counters": []},
        "counters: whole section",
        {"counters", "days"},
    ),
    "tracker_mark_int": (
        _patch("tracker", job_mark=5),
        "tracker: job mark",
        {"tracker"},
    ),
    "tracker_text": (
        {**_v3_data(), "tracker": "marks"},
        "tracker: whole section",
        {"tracker"},
    ),
    "facts_fleet_list": (
        _patch("facts", fleet=[]),
        "facts: fleet",
        set(),
    ),
    "facts_birth_date": (
        _patch("facts", app_version="19.07.1985"),
        "facts: release",
        {"facts"},
    ),
    "facts_list": (
        {**_v3_data(), "facts": ["2.41.0"]},
        "facts: whole section",
        {"facts"},
    ),
    "clock_int": (
        _patch("clock", high_water=5),
        "clock: whole section",
        {"clock"},
    ),
    "clock_list": (
        {**_v3_data(), "clock": []},
        "clock: whole section",
        {"clock"},
    ),
}


@pytest.mark.parametrize(
    ("data", "parts", "lost"), V3_MALFORMED.values(), ids=V3_MALFORMED.keys()
)
async def test_malformed_unit_dropped_alone(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    data: dict[str, Any],
    parts: str,
    lost: set[str],
) -> None:
    """A damaged unit of a version 3 file is dropped and named; every other unit is kept."""
    hass_storage[STORAGE_KEY] = _current(data)
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert _parts(hass) == parts

    loaded = _data(entry)
    kept = {
        "counters": hass.states.get(JOBS_COMPLETED).state == "7",
        "days": loaded.counters.days == ("2026-11-19",),
        "tracker": loaded.tracker.job_mark == datetime(2026, 11, 20, 10, 0),
        "facts": loaded.facts.app_version == "2.41.0",
        "delivery": loaded.delivery.installation_id == INSTALLATION_ID,
        "history": [sent.body for sent in loaded.delivery.history] == [KEPT_REPORT],
        "clock": loaded.clock.high_water == datetime(2026, 11, 20, 12, 4, tzinfo=UTC),
    }
    assert {name for name, ok in kept.items() if not ok} == lost

    await _fire(hass, "job_completed")
    await next_minute(hass, freezer)
    total = 1 if "counters" in lost else 8
    assert hass.states.get(JOBS_COMPLETED).state == str(total)
    await _unload(hass, entry)
    assert _parse(_stored(hass_storage))[1].summary() == []


@pytest.mark.parametrize("data", [[], "garbage", 5], ids=["list", "string", "int"])
async def test_data_not_an_object_resets_every_section(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    data: object,
) -> None:
    """Version 3 data that is no object at all: every section starts fresh, with a repair."""
    hass_storage[STORAGE_KEY] = _current(data)
    await setup_entry(hass, mock_config_entry)
    assert _parts(hass) == (
        "counters: whole section; tracker: whole section; facts: whole section; "
        "delivery: whole section; clock: whole section"
    )
    await _fire(hass, "job_completed")
    await next_minute(hass, freezer)
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
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    document: dict[str, Any],
) -> None:
    """A file that cannot be read at all is set aside; counting starts clean with a repair."""
    hass_storage[STORAGE_KEY] = document
    await setup_entry(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert _parts(hass) == WHOLE_FILE
    assert "starts again from zero" in caplog.text
    assert "garbage" not in caplog.text
    await _fire(hass, "job_completed")
    await next_minute(hass, freezer)
    assert hass.states.get(JOBS_COMPLETED).state == "1"
    await _unload(hass, mock_config_entry)
    assert _stored(hass_storage)["counters"]["totals"] == {"job_completed": 1}


# --- migrate and parse never raise ----------------------------------------------


@pytest.mark.parametrize(
    ("version", "old", "parts"),
    [
        (1, {}, []),
        (1, {"rejected": {"unknown_key": 1}}, []),
        (1, {"days": []}, ["counters: whole section"]),
        (1, {"days": {"2026-11-18": 3}}, ["counters: whole section"]),
        (
            1,
            {"days": {"2026-11-18": {"job_completed": 3}}},
            ["counters: whole section"],
        ),
        (
            1,
            {"days": {"2026-11-18": {"job_completed": {"metadata": ["a"]}}}},
            ["counters: whole section"],
        ),
        (
            1,
            {"days": {"2026-11-18": {"job_completed": {"metadata": {"a": 1}}}}},
            ["counters: whole section"],
        ),
        (
            1,
            {"days": {"2026-11-18": {"job_completed": {"count": -1}}}},
            ["counters: whole section"],
        ),
        (
            1,
            {"days": {"2026-11-18": {"job_completed": {"count": True}}}},
            ["counters: whole section"],
        ),
        (1, {"rejected": []}, ["counters: rejection count"]),
        (2, {}, []),
        (2, {"snapshot": {}}, []),
        (2, {"submission": {}}, []),
        (2, {"installation": {"id": INSTALLATION_ID}}, []),
        (2, {"submission": {"state": None, "history": None, "pending": None}}, []),
        (
            2,
            {"submission": {"history": [{"period_start": "x"}]}},
            ["delivery: sent report"],
        ),
        (2, {"weeks": {"2026-W47": 5}}, ["counters: week"]),
        (
            2,
            {"columns": ["job_completed", "x"], "days": {"2026-11-18": [1]}},
            ["counters: counter name"],
        ),
        (
            2,
            {"columns": ["job_completed"], "days": {"9999-99-99": [1], TODAY: [2]}},
            ["counters: day row"],
        ),
        (
            2,
            {"installation": {"id": INSTALLATION_ID, "first_seen": "2026-02-30"}},
            ["delivery: first day"],
        ),
    ],
)
def test_migrate_shapes(version: int, old: dict[str, Any], parts: list[str]) -> None:
    """Each malformed old part is dropped as its unit (old blocks read whole go whole)."""
    data, damage = _parse(migrate(version, old))
    assert damage.summary() == parts
    assert data.tracker.job_mark is None


def test_reading_bounds_by_the_trusted_now() -> None:
    """Days end tomorrow; records end at now (6 minutes' slack), or at a held mark."""
    reading = Reading(WALL)
    assert reading.latest_day == date(2026, 11, 21)
    assert reading.not_after_now(date(2031, 1, 1)) == date(2026, 11, 20)
    assert reading.not_after_now(date(2026, 11, 19)) == date(2026, 11, 19)
    assert reading.not_after_now(datetime(2031, 1, 1, tzinfo=UTC)) == datetime(
        2026, 11, 20, 12, 6, tzinfo=UTC
    )
    held = Reading(WALL, ceiling=datetime(2031, 1, 1, tzinfo=UTC))
    assert held.latest_day == date(2031, 1, 2)
    assert held.not_after_now(date(2032, 1, 1)) == date(2031, 1, 1)


def test_damage_names_units_and_counts() -> None:
    """The repair's words: one line per kind of unit, with a count when more than one."""
    damage = Damage()
    assert not damage
    damage.drop("counters", "day row", 0)
    assert not damage
    damage.drop("delivery", "pending report")
    damage.drop("counters", "day row", 2)
    damage.drop("counters", "day row")
    damage.drop("delivery", "erasure")
    assert damage
    assert damage.summary() == [
        "delivery: pending report",
        "counters: day row (3)",
        "delivery: erasure",
    ]
    assert damage.sections == ["delivery", "counters"]


async def test_store_migrates_only_known_versions(hass: HomeAssistant) -> None:
    """Versions 1 and 2 are migrated, 3.x is read as it is, anything else is refused."""
    store = PrinternizerStatsStorage(hass)._store
    assert await store._async_migrate_func(3, 1, {"counters": {}}) == {"counters": {}}
    assert await store._async_migrate_func(2, 1, {}) == migrate(2, {})
    assert await store._async_migrate_func(1, 1, V1_DATA) == migrate(1, V1_DATA)
    with pytest.raises(NotImplementedError):
        await store._async_migrate_func(0, 1, {})


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
        "\uff12\uff10\uff12\uff16-11-19",
        "9999-99-99",
        ENDPOINT,
        PENDING_REPORT,
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
            "@uptime_minutes",
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
_SENT = _record(
    start=_DAY,
    end=_DAY,
    submitted=_DAY,
    submission_id=st.text(max_size=6),
    body=st.sampled_from([KEPT_REPORT, PENDING_REPORT, "{}"]),
    accepted=_MOMENT,
    status=st.integers(100, 599),
    installation_id=_ID,
)
_ENDPOINTS = st.sampled_from(
    [ENDPOINT, "http://127.0.0.1:8001/submit", "http://a.example/submit"]
)
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
            started=_MOMENT,
            up_until=_MOMENT,
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
                body=st.sampled_from([PENDING_REPORT, "not json", "{}"]),
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
            recipients=st.lists(
                _record(installation_id=_ID, endpoint=_ENDPOINTS), max_size=3
            ),
            service_ids=st.lists(_or_junk(_ID), max_size=3),
            erasures=st.lists(
                _record(
                    installation_id=_ID,
                    endpoint=_ENDPOINTS,
                    attempts=_COUNT,
                    next_attempt=_MOMENT,
                    last_error=st.just("timeout"),
                ),
                max_size=2,
            ),
        ),
        "clock": _record(
            high_water=_MOMENT | _NAIVE_MOMENT | st.just("2031-01-01T00:00:00+00:00"),
            held_since=_MOMENT,
        ),
    },
)


def _check_loaded(data: StoredData, damage: Damage) -> None:
    """A load gives typed data; what is written back loads unchanged, nothing dropped."""
    assert isinstance(data, StoredData)
    assert set(damage.sections) <= set(SECTIONS)
    written = json.loads(json.dumps(data.as_storage()))
    again, dropped = _parse(written)
    assert dropped.summary() == []
    # Settled after one more round (a record clamped to a held clock mark
    # that was not on the hour moves once, to the mark as written back).
    settled = json.loads(json.dumps(again.as_storage()))
    last, dropped = _parse(settled)
    assert dropped.summary() == []
    assert json.loads(json.dumps(last.as_storage())) == settled


_FUZZ = settings(
    max_examples=500,
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
    _check_loaded(*_parse(migrated))


@_FUZZ
@given(raw=V3_DOCUMENTS | JSON)
def test_parse_never_raises(raw: Any) -> None:
    """Any version 3 data loads: damaged units are dropped and noted, never raised."""
    data, damage = _parse(raw)
    if not isinstance(raw, dict):
        assert damage.summary() == [f"{name}: whole section" for name in SECTIONS]
    _check_loaded(data, damage)


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
        assert issues[DOMAIN, ISSUE_STORAGE].translation_placeholders == {
            "parts": WHOLE_FILE,
            "path": str(aside) if not home_assistant_issue else f"{path}.corrupt.*",
        }
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
    path.write_text(json.dumps(_current(_v3_data())))
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
    await next_minute(hass, freezer)
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
    return _current({"counters": _counters(columns, job_completed=2 * len(days) + 10)})


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


# --- the file is input (issue 15) --------------------------------------------------

JANE = '{"customer": "Jane Doe", "email": "jane@example.com"}'
# What a tampered pending report may hold: none of it may be shown or sent.
PERSONAL = ("Jane", "jane@example.com", "customer", "haiku", "19.07.1985", '"ZZ"')


def _pending(body: str = PENDING_REPORT, **delivery: Any) -> dict[str, Any]:
    """The good file with a pending report for 2026-11-10 to -17 (and delivery changes)."""
    values: dict[str, Any] = {
        "pending": {
            "start": "2026-11-10",
            "end": "2026-11-17",
            "idempotency_key": PENDING_KEY,
            "body": body,
            "attempts": 1,
            "next_attempt": "2026-11-20T13:00:00+00:00",
        },
        # Sent ten minutes ago: the next request waits until 12:50.
        "last_request": "2026-11-20T11:50:00+00:00",
    }
    data = _patch("delivery", **(values | delivery))
    # Four jobs in the pending period: a report built again counts them.
    data["counters"] = _counters(
        {"columns": ["job_completed"], "days": {"2026-11-12": [4], "2026-11-19": [7]}},
        job_completed=11,
    )
    return data


def _log(caplog: pytest.LogCaptureFixture) -> str:
    """What Home Assistant and the integration logged.

    The test harness's mock storage logs whole documents at DEBUG (the file
    as preloaded); a real Home Assistant does not, so that logger is left out.
    """
    return "\n".join(
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith("pytest_homeassistant_custom_component")
    )


def _shown(outputs: dict[str, Any], caplog: pytest.LogCaptureFixture) -> str:
    """Everything the user and the log can see."""
    return json.dumps(outputs, ensure_ascii=False) + _log(caplog)


async def test_untouched_pending_report_is_kept(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A pending report that verifies is kept as it is: same bytes, same idempotency key."""
    hass_storage[STORAGE_KEY] = _current(_pending())
    await setup_entry(hass, entry)
    assert _parts(hass) is None
    # Sent as built, not rebuilt from today's counters (a job a day, not four).
    assert json.loads(PENDING_REPORT)["usage_stats"]["job_count"] == 7
    pending = _data(entry).delivery.pending
    assert pending is not None
    assert (pending.idempotency_key, pending.body) == (PENDING_KEY, PENDING_REPORT)
    outputs = await _outputs(hass, entry)
    assert outputs["preview"]["report"] == json.loads(PENDING_REPORT)
    assert outputs["export"]["next_report"] == json.loads(PENDING_REPORT)
    assert outputs["export"]["submission"]["pending"] == {
        "start": "2026-11-10",
        "end": "2026-11-17",
        "attempts": 1,
        "next_attempt": "2026-11-20T13:00:00+00:00",
    }


async def test_tampered_pending_report_is_neither_shown_nor_sent(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    stats_service: StatsServiceEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 15: a pending body holding a customer's name and e-mail is dropped and named.

    Preview, export and diagnostics show the report built from the counters
    instead, and submit_now sends that one: the service never sees the name.
    """
    hass_storage[STORAGE_KEY] = _current(_pending(JANE, last_request=None))
    await setup_entry(hass, entry)
    assert _parts(hass) == "delivery: pending report"
    assert _data(entry).delivery.pending is None

    outputs = await _outputs(hass, entry)
    shown = _shown(outputs, caplog)
    for word in PERSONAL:
        assert word not in shown
    # The next report is built again from the counters, for the same days.
    report = outputs["preview"]["report"]
    assert report["period"] == {
        "start": "2026-11-10T00:00:00+00:00",
        "end": "2026-11-17T00:00:00+00:00",
        "duration_days": 7,
    }
    assert report["installation"]["installation_id"] == INSTALLATION_ID
    assert report["usage_stats"]["job_count"] == 4
    assert outputs["export"]["next_report"] == report

    answer = await call_action(hass, "submit_now")
    assert answer["submitted"] is True
    assert answer["reason"] == "sent"
    (submission,) = stats_service.submissions
    assert submission.body == report
    assert submission.idempotency_key not in (None, PENDING_KEY)
    assert b"Jane" not in submission.raw
    received = json.dumps(stats_service.accepted, ensure_ascii=False) + json.dumps(
        stats_service.received
    )
    for word in PERSONAL:
        assert word not in received
    assert len(stats_service.log) == 1
    # It is kept as sent: byte for byte what the service received.
    (sent,) = (await call_action(hass, "sent_reports"))["reports"][:1]
    assert sent["body"].encode() == submission.raw
    assert sent["period"] == {"start": "2026-11-10", "end": "2026-11-17"}


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "",
        "[]",
        '"a string"',
        "1e999",
        "[" * 100_000,
        '{"schema_version": "1.0"}',
    ],
    ids=["not_json", "empty", "list", "string", "infinity", "deep", "partial"],
)
async def test_unreadable_pending_report_is_dropped(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    body: str,
) -> None:
    """A pending body that is no report is dropped; export, preview and diagnostics answer."""
    hass_storage[STORAGE_KEY] = _current(_pending(body))
    await setup_entry(hass, entry)
    assert _parts(hass) == "delivery: pending report"
    outputs = await _outputs(hass, entry)
    assert outputs["preview"]["report"]["period"]["start"] == (
        "2026-11-10T00:00:00+00:00"
    )
    assert outputs["export"]["submission"]["pending"] is None
    assert outputs["diagnostics"]["submission"]["pending"] is None


TAMPERED = {
    "other_period": _report("2026-11-10", "2026-11-16"),
    "other_week": _report("2026-11-03", "2026-11-10"),
    "other_installation": _report("2026-11-10", "2026-11-17", OTHER_ID),
    "indented": json.dumps(json.loads(PENDING_REPORT), indent=2),
    "sorted_keys": json.dumps(
        json.loads(PENDING_REPORT), separators=(",", ":"), sort_keys=True
    ),
    "extra_key": PENDING_REPORT[:-1] + ',"note":"Jane"}',
    "country_zz": _report("2026-11-10", "2026-11-17", installation__country_code="ZZ"),
    "platform_haiku": _report(
        "2026-11-10", "2026-11-17", installation__platform="haiku"
    ),
    "birth_date_release": _report(
        "2026-11-10", "2026-11-17", installation__app_version="19.07.1985"
    ),
    "feature_word": _report(
        "2026-11-10", "2026-11-17", usage_stats__feature_usage={"Jane": True}
    ),
    "error_word": _report("2026-11-10", "2026-11-17", error_summary={"Jane": 1}),
    "uptime_beyond_the_week": _report(
        "2026-11-10", "2026-11-17", usage_stats__uptime_hours=169
    ),
}


@pytest.mark.parametrize("body", TAMPERED.values(), ids=TAMPERED.keys())
async def test_tampered_pending_report_is_built_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    stats_service: StatsServiceEmulator,
    caplog: pytest.LogCaptureFixture,
    body: str,
) -> None:
    """A pending report that fails verification is dropped; the next check builds its days again.

    The new report covers the same period under a new idempotency key, in the
    builder's bytes, and it is sent (not the stored one) when the hour is up.
    """
    hass_storage[STORAGE_KEY] = _current(_pending(body))
    await setup_entry(hass, entry)
    assert _parts(hass) == "delivery: pending report"
    delivery = _data(entry).delivery
    assert delivery.pending is None

    # The first check (within 15 minutes of start-up) freezes the days again.
    await advance(hass, freezer, timedelta(minutes=16))
    pending = delivery.pending
    assert pending is not None
    assert pending.period == Period(date(2026, 11, 10), date(2026, 11, 17))
    assert pending.idempotency_key != PENDING_KEY
    assert pending.body != body
    # Built from the counters: the four jobs of 2026-11-12.
    assert json.loads(pending.body)["usage_stats"]["job_count"] == 4
    assert stats_service.log == []
    # It is one of ours: it survives a restart unchanged, with no repair.
    ir.async_delete_issue(hass, DOMAIN, ISSUE_STORAGE)
    await restart(hass, entry)
    assert _parts(hass) is None
    reloaded = _data(entry).delivery.pending
    assert reloaded is not None
    assert (reloaded.idempotency_key, reloaded.body) == (
        pending.idempotency_key,
        pending.body,
    )
    # When the hour is up it is sent, and the stored one never is.
    await advance(hass, freezer, timedelta(hours=1))
    (submission,) = stats_service.submissions
    assert submission.idempotency_key == pending.idempotency_key
    assert submission.raw == pending.body.encode()
    received = json.dumps(stats_service.accepted, ensure_ascii=False)
    shown = _shown(await _outputs(hass, entry), caplog) + received
    for word in PERSONAL:
        assert word not in shown


async def test_tampered_kept_report_is_dropped(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A kept report whose body does not verify is dropped alone; the next one is kept."""
    data = _v3_data()
    good = data["delivery"]["history"][0]
    data["delivery"]["history"] = [
        {**good, "body": JANE},
        {
            **good,
            "start": "2026-11-10",
            "end": "2026-11-17",
            "submitted": "2026-11-17",
            "body": PENDING_REPORT,
            "submission_id": "2",
        },
    ]
    hass_storage[STORAGE_KEY] = _current(data)
    await setup_entry(hass, entry)
    assert _parts(hass) == "delivery: sent report"
    reports = (await call_action(hass, "sent_reports"))["reports"]
    assert [report["submission_id"] for report in reports] == ["2"]
    assert reports[0]["body"] == PENDING_REPORT
    shown = _shown(await _outputs(hass, entry), caplog) + json.dumps(reports)
    for word in PERSONAL:
        assert word not in shown


async def test_clock_mark_in_2031_loses_no_day(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Issue 15: a stored clock mark of 2031-01-01 is held, not believed.

    All 5 counted jobs stay in the export's days and totals, new events count
    on today's (wall) date, and nothing is pruned, then or after the hold ends.
    """
    hass_storage[STORAGE_KEY] = _current(
        {
            "counters": _counters(
                {"columns": ["job_completed"], "days": {"2026-11-19": [5]}},
                job_completed=5,
            ),
            "clock": {"high_water": "2031-01-01T00:00:00+00:00", "held_since": None},
        }
    )
    await setup_entry(hass, mock_config_entry)
    assert _parts(hass) is None
    assert _data(mock_config_entry).clock.holding
    export = await call_action(hass, "export")
    assert export["counters_by_day"] == {"2026-11-19": {"job_completed": _event(5)}}
    assert export["totals"] == {"job_completed": 5}

    await _fire(hass, "job_completed", 2)
    await next_minute(hass, freezer)
    assert hass.states.get(JOBS_COMPLETED).state == "7"
    export = await call_action(hass, "export")
    assert export["counters_by_day"] == {
        "2026-11-19": {"job_completed": _event(5)},
        TODAY: {"job_completed": _event(2)},
    }
    assert export["totals"] == {"job_completed": 7}

    # Midnight's retention and the end of the hold prune nothing.
    await advance(hass, freezer, timedelta(hours=26))
    assert not _data(mock_config_entry).clock.holding
    await _fire(hass, "job_completed")
    export = await call_action(hass, "export")
    assert export["counters_by_day"] == {
        "2026-11-19": {"job_completed": _event(5)},
        TODAY: {"job_completed": _event(2)},
        "2026-11-21": {"job_completed": _event(1)},
    }
    assert export["totals"] == {"job_completed": 8}
    await restart(hass, mock_config_entry)
    assert _data(mock_config_entry).counters.days == ("2026-11-19", TODAY, "2026-11-21")


async def test_day_keys_that_are_no_ascii_dates_are_dropped(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Day keys 9999-99-99 and 2026-11-19 in full-width digits are dropped and named.

    Neither is kept (they would sort after every real day and never be
    pruned); the good day beside them is kept, and pruned only after its 90 days.
    """
    full_width = "\uff12\uff10\uff12\uff16-\uff11\uff11-\uff11\uff19"
    counters = _counters(
        {"columns": ["job_completed"], "days": {"2026-11-19": [3]}}, job_completed=6
    )
    counters["days"] = {"9999-99-99": "1", full_width: "2", **counters["days"]}
    hass_storage[STORAGE_KEY] = _current({"counters": counters})
    await setup_entry(hass, mock_config_entry)
    assert _parts(hass) == "counters: day row (2)"
    export = await call_action(hass, "export")
    assert export["counters_by_day"] == {"2026-11-19": {"job_completed": _event(3)}}
    assert export["totals"] == {"job_completed": 6}
    await _unload(hass, mock_config_entry)
    assert _stored(hass_storage)["counters"]["days"] == {"2026-11-19": "3"}

    ir.async_delete_issue(hass, DOMAIN, ISSUE_STORAGE)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert _parts(hass) is None
    counters_now = _data(mock_config_entry).counters
    # The retention tick at 00:05 UTC: 2026-11-19 is the oldest day kept on 2027-02-16.
    freezer.move_to("2027-02-16 00:04:00+00:00")
    await advance(hass, freezer, timedelta(minutes=2))
    assert counters_now.days == ("2026-11-19",)
    freezer.move_to("2027-02-17 00:04:00+00:00")
    await advance(hass, freezer, timedelta(minutes=2))
    assert counters_now.days == ()
    assert counters_now.totals == {"job_completed": 6}


async def test_records_in_2031_are_clamped_to_now(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A stored last request and submission in 2031 never run ahead of the trusted clock.

    They are clamped to now (with the 6 minutes' slack that rounding and a
    trusted clock stepping back need), so sending waits an hour, not until 2031.
    """
    hass_storage[STORAGE_KEY] = _current(
        _patch(
            "delivery",
            last_request="2031-01-01T00:00:00+00:00",
            last_success="2031-01-01T00:00:00+00:00",
        )
    )
    await setup_entry(hass, entry)
    assert _parts(hass) is None
    delivery = _data(entry).delivery
    assert delivery.last_request == datetime(2026, 11, 20, 12, 6, tzinfo=UTC)
    assert delivery.last_success == datetime(2026, 11, 20, 12, 6, tzinfo=UTC)
    assert hass.states.get(LAST_SUBMISSION).state == "2026-11-20T12:06:00+00:00"
    answer = await call_action(hass, "submit_now")
    assert (answer["reason"], answer["next_allowed"]) == (
        "too_soon",
        "2026-11-20T13:06:00+00:00",
    )
