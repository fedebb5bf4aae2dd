"""Tests for polling Printernizer: transitions become events, exactly once, and nothing private is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.printernizer_stats.const import (
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    SAVE_DELAY,
    SCAN_INTERVAL,
)
from custom_components.printernizer_stats.coordinator import ROUTINE_SAVE_INTERVAL
from custom_components.printernizer_stats.counters import UsageCounters
from custom_components.printernizer_stats.printernizer import MAX_PAGES, PAGE_LIMIT
from custom_components.printernizer_stats.storage import STORAGE_KEY
from custom_components.printernizer_stats.tracker import MAX_TRACKED
from simulator.printernizer import PrinternizerSimulator

from .conftest import advance

PREFIX = "sensor.printernizer_usage_statistics"
PRINTERS = f"{PREFIX}_printers"
JOBS_COMPLETED = f"{PREFIX}_jobs_completed"
JOBS_CREATED_WEEK = f"{PREFIX}_jobs_created_this_week"
POLL = SCAN_INTERVAL + timedelta(seconds=1)
JOBS_PATH = "/api/v1/jobs"


def _counters(entry: MockConfigEntry) -> UsageCounters:
    """The entry's live counters."""
    return entry.runtime_data.storage.data.counters


def _today(entry: MockConfigEntry) -> dict[str, int]:
    """Today's counters (polls in these tests stay within one UTC day)."""
    days = _counters(entry).days
    return dict(days[max(days)]) if days else {}


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add and set up the entry; wait for its first poll."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED


@pytest.fixture
async def polling(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> MockConfigEntry:
    """The integration set up under frozen time (freezer before setup, so timers line up)."""
    await _setup(hass, mock_config_entry)
    return mock_config_entry


def _private_values(printernizer: PrinternizerSimulator) -> set[str]:
    """Every private value the simulator serves: ids, names, addresses, secrets, paths."""
    values: set[str] = set()
    for printer in printernizer.printers:
        values |= {
            printer.id,
            printer.name,
            printer.ip_address,
            printer.location,
            printer.description,
            *(
                value
                for value in (
                    printer.api_key,
                    printer.access_code,
                    printer.serial_number,
                    printer.webcam_url,
                )
                if value
            ),
        }
    for job in printernizer.jobs:
        values |= {job.id, job.printer_id, job.job_name}
        values |= {value for value in (job.filename, job.customer_name) if value}
    for sim_file in printernizer.files:
        values |= {sim_file.id, sim_file.filename}
        values |= {
            value for value in (sim_file.file_path, sim_file.watch_folder_path) if value
        }
    return values


async def _visible_text(
    hass: HomeAssistant, entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> str:
    """Our storage file and every state and attribute, as text."""
    await entry.runtime_data.storage.async_flush()
    states = [state.as_dict() for state in hass.states.async_all()]
    return json.dumps(hass_storage[STORAGE_KEY]) + json.dumps(states, default=str)


async def test_polling_first_poll_is_baseline(
    hass: HomeAssistant, polling: MockConfigEntry, printernizer: PrinternizerSimulator
) -> None:
    """What Printernizer already lists at the first poll is history, not new events."""
    assert len(printernizer.jobs) == 3
    assert _counters(polling).totals == {}
    assert hass.states.get(JOBS_CREATED_WEEK).state == "0"
    printers = hass.states.get(PRINTERS)
    assert printers.state == "4"
    assert printers.attributes["bambu_lab"] == 1
    assert printers.attributes["unknown"] == 1
    tracker = polling.runtime_data.storage.data.tracker.as_storage()
    assert (len(tracker["printers"]), len(tracker["jobs"]), len(tracker["files"])) == (
        4,
        3,
        2,
    )


@pytest.mark.parametrize(
    ("final", "duration", "expected"),
    [
        (
            "completed",
            5400,
            {
                "job_completed": 1,
                "job_completed/printer_type=prusa_core": 1,
                "job_completed/duration_minutes=1-3h": 1,
            },
        ),
        (
            "completed",
            30 * 3600,
            {
                "job_completed": 1,
                "job_completed/printer_type=prusa_core": 1,
                "job_completed/duration_minutes=24h+": 1,
            },
        ),
        (
            "failed",
            300,
            {
                "job_failed": 1,
                "job_failed/printer_type=prusa_core": 1,
                "job_failed/duration_minutes=0-15m": 1,
            },
        ),
        ("cancelled", 300, {}),
    ],
)
async def test_polling_job_lifecycle(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    polling: MockConfigEntry,
    printernizer: PrinternizerSimulator,
    final: str,
    duration: int,
    expected: dict[str, int],
) -> None:
    """A new job is created; finishing counts once with type and duration range; cancelled counts nothing."""
    job_id = printernizer.add_job(status="pending", printer_type="prusa_core")
    await advance(hass, freezer, POLL)
    assert _today(polling) == {
        "job_created": 1,
        "job_created/printer_type=prusa_core": 1,
    }
    assert hass.states.get(JOBS_CREATED_WEEK).state == "1"

    printernizer.set_job_status(job_id, "running")
    await advance(hass, freezer, POLL)
    printernizer.set_job_status(job_id, final, duration)
    await advance(hass, freezer, POLL)
    await advance(hass, freezer, POLL)

    created = {"job_created": 1, "job_created/printer_type=prusa_core": 1}
    assert _today(polling) == created | expected
    assert hass.states.get(JOBS_COMPLETED).state == str(
        expected.get("job_completed", 0)
    )


async def test_polling_file_downloaded(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    polling: MockConfigEntry,
    printernizer: PrinternizerSimulator,
) -> None:
    """A file reaching "downloaded" counts once, with its size bucket."""
    file_id = printernizer.add_file(status="available")
    printernizer.get_file(file_id).file_size = 25_000_000
    await advance(hass, freezer, POLL)
    printernizer.set_file_status(file_id, "downloading")
    await advance(hass, freezer, POLL)
    assert _today(polling) == {}

    printernizer.set_file_status(file_id, "downloaded")
    await advance(hass, freezer, POLL)
    await advance(hass, freezer, POLL)
    assert _today(polling) == {
        "file_downloaded": 1,
        "file_downloaded/size_bytes=10-100MB": 1,
    }


async def test_polling_printer_offline_online(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    polling: MockConfigEntry,
    printernizer: PrinternizerSimulator,
) -> None:
    """A known printer going offline and back is a disconnect and a connect."""
    bambu = printernizer.printer_ids[0]
    printernizer.set_printer_status(bambu, "offline")
    await advance(hass, freezer, POLL)
    assert _today(polling) == {
        "printer_disconnected": 1,
        "printer_disconnected/printer_type=bambu_lab": 1,
    }
    printernizer.set_printer_status(bambu, "online")
    await advance(hass, freezer, POLL)
    await advance(hass, freezer, POLL)
    assert _today(polling) == {
        "printer_disconnected": 1,
        "printer_disconnected/printer_type=bambu_lab": 1,
        "printer_connected": 1,
        "printer_connected/printer_type=bambu_lab": 1,
    }


async def test_polling_new_printer(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    polling: MockConfigEntry,
    printernizer: PrinternizerSimulator,
) -> None:
    """A printer added to the fleet changes the fleet, not the connection counters."""
    printernizer.add_printer(printer_type="octoprint", status="online")
    await advance(hass, freezer, POLL)
    assert _today(polling) == {}
    state = hass.states.get(PRINTERS)
    assert state.state == "5"
    assert state.attributes["octoprint"] == 2
    assert polling.runtime_data.storage.data.snapshot["fleet"] == {
        "bambu_lab": 1,
        "prusa_core": 1,
        "octoprint": 2,
        "unknown": 1,
    }


async def test_polling_printernizer_restart(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    polling: MockConfigEntry,
    printernizer: PrinternizerSimulator,
) -> None:
    """Uptime going backwards is an app_start with Printernizer's version."""
    await advance(hass, freezer, POLL)
    await advance(hass, freezer, POLL)
    assert _today(polling) == {}
    printernizer.started_at = datetime.now(UTC)
    printernizer.version = "2.8.0rc1"
    await advance(hass, freezer, POLL)
    await advance(hass, freezer, POLL)
    assert _today(polling) == {"app_start": 1, "app_start/app_version=2.8.0rc1": 1}
    snapshot = polling.runtime_data.storage.data.snapshot
    assert snapshot["app_version"] == "2.8.0rc1"
    assert snapshot["uptime_hours"] == 0.0


async def test_polling_without_version_or_uptime(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    polling: MockConfigEntry,
    printernizer: PrinternizerSimulator,
) -> None:
    """A health answer without uptime or a usable version leaves them unknown."""
    printernizer.report_uptime = False
    printernizer.version = "not a version"
    await advance(hass, freezer, POLL)
    assert polling.runtime_data.storage.data.snapshot["app_version"] is None
    assert polling.runtime_data.storage.data.snapshot["uptime_hours"] is None
    printernizer.version = ""
    await advance(hass, freezer, POLL)
    assert polling.runtime_data.storage.data.snapshot["app_version"] is None
    assert _today(polling) == {}


@pytest.mark.parametrize(
    ("new_jobs", "pages"),
    [(PAGE_LIMIT * 2 + 50, 3), (PAGE_LIMIT * MAX_PAGES + 100, MAX_PAGES)],
)
async def test_polling_pagination(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    polling: MockConfigEntry,
    printernizer: PrinternizerSimulator,
    hass_storage: dict[str, Any],
    new_jobs: int,
    pages: int,
) -> None:
    """Jobs on later pages are counted; at most MAX_PAGES pages are read and state stays bounded."""
    for _ in range(new_jobs):
        printernizer.add_job(status="pending", printer_type="bambu_lab")
    before = printernizer.requests[JOBS_PATH]
    await advance(hass, freezer, POLL)
    assert printernizer.requests[JOBS_PATH] - before == pages

    seen = min(new_jobs, PAGE_LIMIT * pages)
    assert _counters(polling).totals == {"job_created": seen}
    await polling.runtime_data.storage.async_flush()
    tracker = hass_storage[STORAGE_KEY]["data"]["tracker"]
    # Visible jobs, plus those known before that fell out of the listing.
    assert len(tracker["jobs"]) == min(len(printernizer.jobs), seen + 3) <= MAX_TRACKED

    await advance(hass, freezer, POLL)
    assert _counters(polling).totals == {"job_created": seen}


async def test_polling_empty_listing_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    polling: MockConfigEntry,
    printernizer: PrinternizerSimulator,
) -> None:
    """A listing that comes back empty for one poll does not make every job new afterwards."""
    printernizer.add_job(status="completed", printer_type="bambu_lab", duration=60)
    await advance(hass, freezer, POLL)
    assert _counters(polling).totals == {"job_created": 1, "job_completed": 1}

    jobs, files = printernizer._jobs, printernizer._files
    printernizer._jobs, printernizer._files = {}, {}
    await advance(hass, freezer, POLL)
    printernizer._jobs, printernizer._files = jobs, files
    await advance(hass, freezer, POLL)
    assert _counters(polling).totals == {"job_created": 1, "job_completed": 1}


async def test_polling_ha_restart_counts_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    polling: MockConfigEntry,
    printernizer: PrinternizerSimulator,
) -> None:
    """After a restart nothing is counted twice, and what changed while down is counted once."""
    running = printernizer.add_job(status="running", printer_type="bambu_lab")
    done = printernizer.add_job(status="running", printer_type="bambu_lab")
    await advance(hass, freezer, POLL)
    printernizer.set_job_status(done, "completed", 600)
    await advance(hass, freezer, POLL)
    assert _counters(polling).totals == {"job_created": 2, "job_completed": 1}

    assert await hass.config_entries.async_unload(polling.entry_id)
    await hass.async_block_till_done()
    printernizer.set_job_status(running, "completed", 7200)
    printernizer.add_job(status="completed", printer_type="octoprint", duration=60)
    await advance(hass, freezer, timedelta(minutes=10))

    assert await hass.config_entries.async_setup(polling.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    for _ in range(3):
        await advance(hass, freezer, POLL)

    assert _counters(polling).totals == {"job_created": 3, "job_completed": 3}
    assert _today(polling)["job_completed/duration_minutes=1-3h"] == 1
    assert _today(polling)["job_completed/printer_type=octoprint"] == 1
    assert hass.states.get(JOBS_COMPLETED).state == "3"


async def test_polling_state_holds_only_hashes(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    polling: MockConfigEntry,
    printernizer: PrinternizerSimulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A busy simulated world leaves no id, name, address, secret or path in storage, states or logs."""
    caplog.set_level(logging.DEBUG, logger="custom_components.printernizer_stats")
    for _ in range(25):
        printernizer.advance()
        await advance(hass, freezer, POLL)
    assert sum(_counters(polling).totals.values()) > 0

    tracker = hass_storage[STORAGE_KEY]["data"]["tracker"]
    for kind in ("printers", "jobs", "files"):
        assert all(len(key) == 16 for key in tracker[kind])
    text = await _visible_text(hass, polling, hass_storage)
    private = _private_values(printernizer)
    assert len(private) > 50
    leaked = sorted(value for value in private if value in text or value in caplog.text)
    assert leaked == []


async def test_polling_printernizer_down_and_back(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    polling: MockConfigEntry,
    printernizer: PrinternizerSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Printernizer's values go unavailable, counters stay; each change is logged once; nothing is lost."""
    caplog.set_level(logging.INFO, logger="custom_components.printernizer_stats")
    job_id = printernizer.add_job(status="running", printer_type="octoprint")
    await advance(hass, freezer, POLL)
    printernizer.available = False
    for _ in range(3):
        await advance(hass, freezer, POLL)
    assert hass.states.get(PRINTERS).state == STATE_UNAVAILABLE
    assert hass.states.get(JOBS_CREATED_WEEK).state == "1"
    hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": "job_completed"})
    await hass.async_block_till_done()
    assert hass.states.get(JOBS_COMPLETED).state == "1"

    printernizer.set_job_status(job_id, "completed", 60)
    printernizer.available = True
    for _ in range(2):
        await advance(hass, freezer, POLL)
    assert hass.states.get(PRINTERS).state == "4"
    assert hass.states.get(JOBS_COMPLETED).state == "2"

    ours = [
        r
        for r in caplog.records
        if r.name.startswith("custom_components.printernizer_stats")
    ]
    down = [r for r in ours if r.levelno >= logging.ERROR]
    back = [r for r in ours if "recovered" in r.getMessage()]
    assert len(down) == 1
    assert "HTTP 503" in down[0].getMessage()
    assert len(back) == 1


async def test_polling_invalid_response(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    polling: MockConfigEntry,
    printernizer: PrinternizerSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Something that answers but is not Printernizer makes its values unavailable."""
    printernizer.health_payload = "<html>router login</html>"
    await advance(hass, freezer, POLL)
    assert hass.states.get(PRINTERS).state == STATE_UNAVAILABLE
    assert "answered unexpectedly" in caplog.text
    assert "router login" not in caplog.text

    printernizer.health_payload = None
    await advance(hass, freezer, POLL)
    assert hass.states.get(PRINTERS).state == "4"
    assert _counters(polling).totals == {}


async def test_polling_not_counted_before_setup_finished(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    printernizer: PrinternizerSimulator,
) -> None:
    """Setup with Printernizer down takes its baseline at the first successful poll."""
    printernizer.available = False
    await _setup(hass, mock_config_entry)
    await advance(hass, freezer, POLL)
    printernizer.available = True
    await advance(hass, freezer, POLL)
    assert _counters(mock_config_entry).totals == {}
    printernizer.add_job(status="pending")
    await advance(hass, freezer, POLL)
    assert _counters(mock_config_entry).totals == {"job_created": 1}
    assert mock_config_entry.runtime_data.coordinator.last_update_success
    assert mock_config_entry.domain == DOMAIN


async def test_polling_idle_writes_throttled(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    store_writes: list[dict[str, Any]],
    polling: MockConfigEntry,
    printernizer: PrinternizerSimulator,
) -> None:
    """Polls that only see the uptime grow do not write the file every minute."""
    await advance(hass, freezer, timedelta(seconds=SAVE_DELAY + 1))
    assert store_writes
    store_writes.clear()
    for _ in range(5):
        await advance(hass, freezer, POLL)
    assert store_writes == []

    printernizer.set_printer_status(printernizer.printer_ids[2], "paused")
    await advance(hass, freezer, POLL)
    await advance(hass, freezer, timedelta(seconds=SAVE_DELAY + 1))
    assert len(store_writes) == 1

    # Any save restarts the routine clock; the next one comes after the interval.
    for _ in range(ROUTINE_SAVE_INTERVAL // POLL.seconds + 2):
        await advance(hass, freezer, POLL)
    assert len(store_writes) == 2
    stored_uptime = store_writes[-1]["data"]["tracker"]["uptime_seconds"]
    assert stored_uptime >= ROUTINE_SAVE_INTERVAL


async def test_polling_printernizer_restarted_while_ha_down(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    polling: MockConfigEntry,
    printernizer: PrinternizerSimulator,
) -> None:
    """A Printernizer restart during a Home Assistant restart is one app_start."""
    for _ in range(3):
        await advance(hass, freezer, POLL)
    assert await hass.config_entries.async_unload(polling.entry_id)
    await hass.async_block_till_done()
    printernizer.started_at = datetime.now(UTC)
    await advance(hass, freezer, POLL)

    assert await hass.config_entries.async_setup(polling.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    for _ in range(2):
        await advance(hass, freezer, POLL)
    assert _counters(polling).totals == {"app_start": 1}
