"""Tests for the storage file: retention, migration, recovery, private atomic writes."""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from datetime import date, timedelta
import json
import logging
from pathlib import Path
import stat
from typing import Any
from unittest.mock import patch
import uuid

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.printernizer_stats.const import (
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    RETENTION_DAYS,
    SAVE_DELAY,
    SERVICE_PREVIEW,
)
from custom_components.printernizer_stats.coordinator import (
    PrinternizerStatsConfigEntry,
)
from custom_components.printernizer_stats.storage import (
    ISSUE_STORAGE_RECOVERED,
    STORAGE_KEY,
    STORAGE_VERSION,
    StoredData,
)
from simulator.printernizer import PrinternizerSimulator

from .conftest import advance

JOBS_COMPLETED = "sensor.printernizer_usage_statistics_jobs_completed"
NOW = "2026-11-20 12:00:00+00:00"
TODAY = "2026-11-20"
# RETENTION_DAYS days are kept: today and the RETENTION_DAYS - 1 before it.
OLDEST_KEPT = (date(2026, 11, 20) - timedelta(days=RETENTION_DAYS - 1)).isoformat()
TOO_OLD = (date(2026, 11, 20) - timedelta(days=RETENTION_DAYS)).isoformat()
# Kept one day longer: the oldest day kept after the next midnight.
NEXT_OLDEST_KEPT = (date(2026, 11, 21) - timedelta(days=RETENTION_DAYS - 1)).isoformat()

V1_FILE: dict[str, Any] = {
    "version": 1,
    "minor_version": 1,
    "key": STORAGE_KEY,
    "data": {
        "days": {
            "2026-11-01": {
                "job_completed": {
                    "count": 3,
                    "metadata": {"printer_type": {"bambu_lab": 2, "prusa_core": 1}},
                }
            }
        },
        "rejected": {"unknown_key": 2},
    },
}


def _v2_file(data: object, version: int = STORAGE_VERSION) -> dict[str, Any]:
    """A storage document as Home Assistant's Store writes it."""
    return {"version": version, "minor_version": 1, "key": STORAGE_KEY, "data": data}


def _stored(hass_storage: dict[str, Any]) -> StoredData:
    """What is in the storage file now, parsed."""
    document = hass_storage[STORAGE_KEY]
    assert document["version"] == STORAGE_VERSION
    return StoredData.from_storage(document["data"])


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add and set up the entry."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def _fire(hass: HomeAssistant, event_type: str, count: int = 1) -> None:
    """Push events through the bus."""
    for _ in range(count):
        hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": event_type})
    await hass.async_block_till_done()


async def test_storage_private_atomic_store(
    hass: HomeAssistant, init_integration: PrinternizerStatsConfigEntry
) -> None:
    """The Store writes owner-only files atomically, under its own key."""
    storage = init_integration.runtime_data.storage
    store = storage._store
    assert store._private is True
    assert store._atomic_writes is True
    assert store.key == STORAGE_KEY
    assert storage.path == hass.config.path(".storage", STORAGE_KEY)


async def test_storage_flushed_on_unload(
    hass: HomeAssistant,
    init_integration: PrinternizerStatsConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Unloading writes what is pending at once, without waiting for the delay."""
    await _fire(hass, "job_completed", 3)
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert _stored(hass_storage).counters.totals == {"job_completed": 3}


async def test_storage_flushed_on_final_write(
    hass: HomeAssistant,
    init_integration: PrinternizerStatsConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Home Assistant's final write at shutdown saves the delayed data."""
    await _fire(hass, "file_downloaded", 2)
    assert _stored(hass_storage).counters.totals == {}
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()
    assert _stored(hass_storage).counters.totals == {"file_downloaded": 2}


async def test_storage_debounced_write(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: PrinternizerStatsConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Recorded events reach the file after SAVE_DELAY, not before."""
    await _fire(hass, "job_failed")
    await advance(hass, freezer, timedelta(seconds=SAVE_DELAY - 5))
    assert _stored(hass_storage).counters.totals == {}
    await advance(hass, freezer, timedelta(seconds=10))
    assert _stored(hass_storage).counters.totals == {"job_failed": 1}


async def test_storage_removed_with_entry(
    hass: HomeAssistant,
    init_integration: PrinternizerStatsConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Removing the integration removes its statistics file."""
    assert STORAGE_KEY in hass_storage
    await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    assert STORAGE_KEY not in hass_storage


def _days_document(*days: str) -> dict[str, Any]:
    """A version 2 document with two completed jobs on each day."""
    return _v2_file(
        {
            "columns": ["job_completed"],
            "days": {day: [2] for day in days},
            "rejected": {},
            "totals": {"job_completed": 2 * len(days) + 10},
        }
    )


async def test_storage_retention_at_setup(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Days older than the retention window are pruned at setup; totals are kept."""
    freezer.move_to(NOW)
    hass_storage[STORAGE_KEY] = _days_document(
        "2026-01-01", TOO_OLD, OLDEST_KEPT, TODAY
    )
    await _setup(hass, mock_config_entry)

    counters = mock_config_entry.runtime_data.storage.data.counters
    assert list(counters.days) == [OLDEST_KEPT, TODAY]
    assert counters.totals == {"job_completed": 18}
    assert hass.states.get(JOBS_COMPLETED).state == "18"
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    assert list(_stored(hass_storage).counters.days) == [OLDEST_KEPT, TODAY]


async def test_storage_retention_daily(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """The daily tick after midnight UTC prunes the day that left the window."""
    freezer.move_to("2026-11-20 23:30:00+00:00")
    hass_storage[STORAGE_KEY] = _days_document(OLDEST_KEPT, NEXT_OLDEST_KEPT, TODAY)
    await _setup(hass, mock_config_entry)
    counters = mock_config_entry.runtime_data.storage.data.counters
    assert len(counters.days) == 3

    await advance(hass, freezer, timedelta(minutes=34))
    assert len(counters.days) == 3
    await advance(hass, freezer, timedelta(minutes=2))
    assert list(counters.days) == [NEXT_OLDEST_KEPT, TODAY]
    assert counters.totals == {"job_completed": 16}
    await advance(hass, freezer, timedelta(seconds=SAVE_DELAY + 1))
    assert list(_stored(hass_storage).counters.days) == [NEXT_OLDEST_KEPT, TODAY]


async def test_storage_migration_from_v1(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A version 1 file is migrated: counters, rejections and totals carry over."""
    freezer.move_to(NOW)
    hass_storage[STORAGE_KEY] = json.loads(json.dumps(V1_FILE))
    await _setup(hass, mock_config_entry)

    counters = mock_config_entry.runtime_data.storage.data.counters
    assert counters.days == {
        "2026-11-01": {
            "job_completed": 3,
            "job_completed/printer_type=bambu_lab": 2,
            "job_completed/printer_type=prusa_core": 1,
        }
    }
    assert counters.totals == {"job_completed": 3}
    assert counters.rejected == {"unknown_key": 2}
    assert hass.states.get(JOBS_COMPLETED).state == "3"

    stored = hass_storage[STORAGE_KEY]
    assert stored["version"] == STORAGE_VERSION
    assert stored["data"]["columns"] == [
        "job_completed",
        "job_completed/printer_type=bambu_lab",
        "job_completed/printer_type=prusa_core",
    ]
    assert stored["data"]["days"] == {"2026-11-01": [3, 2, 1]}
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_STORAGE_RECOVERED) is None


@pytest.mark.parametrize(
    "document",
    [
        _v2_file({"days": "garbage"}),
        _v2_file(["not", "an", "object"]),
        _v2_file("garbage"),
        _v2_file({"installation": "me"}),
        _v2_file({"installation": {"id": 5}}),
        _v2_file({"tracker": ["jobs"]}),
        _v2_file({"columns": ["job_completed"], "days": {"2026-11-01": [1, 2]}}),
        _v2_file({"columns": ["job_completed"], "days": {"2026-11-01": [-1]}}),
        _v2_file({}, version=STORAGE_VERSION + 1),
        _v2_file({"days": {"2026-11-01": "garbage"}}, version=1),
        _v2_file(
            {"days": {"2026-11-01": {"job_completed": {"count": "3"}}}}, version=1
        ),
        _v2_file(["garbage"], version=1),
        _v2_file({"days": [], "rejected": {}}, version=1),
    ],
    ids=[
        "days_not_object",
        "data_list",
        "data_string",
        "installation_string",
        "installation_id_int",
        "tracker_list",
        "row_too_long",
        "negative_count",
        "newer_version",
        "v1_day_string",
        "v1_count_string",
        "v1_data_list",
        "v1_days_list",
    ],
)
async def test_storage_recovery(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    document: dict[str, Any],
) -> None:
    """A malformed file never stops setup: counting restarts from zero and a repair issue says so."""
    hass_storage[STORAGE_KEY] = json.loads(json.dumps(document))
    await _setup(hass, mock_config_entry)

    issue = ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_STORAGE_RECOVERED)
    assert issue is not None
    assert issue.translation_key == ISSUE_STORAGE_RECOVERED
    assert issue.severity is ir.IssueSeverity.WARNING
    assert "path" in (issue.translation_placeholders or {})
    ours = [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("custom_components.printernizer_stats")
    ]
    assert any("starts again from zero" in message for message in ours)
    assert not any("garbage" in message for message in ours)

    storage = mock_config_entry.runtime_data.storage
    assert storage.data.counters.days == {}
    assert storage.data.counters.totals == {}
    await _fire(hass, "job_completed")
    assert hass.states.get(JOBS_COMPLETED).state == "1"
    await storage.async_flush()
    assert _stored(hass_storage).counters.totals == {"job_completed": 1}


@contextlib.contextmanager
def _real_disk() -> Iterator[None]:
    """Let our Store read and write real files; every other Store stays mocked."""
    mocked_load = Store._async_load
    mocked_write = Store._async_write_data

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

    with (
        patch.object(Store, "_async_load", load),
        patch.object(Store, "_async_write_data", write),
    ):
        yield


@pytest.mark.parametrize(
    ("content", "home_assistant_issue"),
    [
        (b'{"version": 2, "data": {"days": \x00\xff', True),
        (b"", True),
        (json.dumps(_v2_file({"days": "garbage"})).encode(), False),
        (b'{"data": {}}', False),
        (b"[1, 2, 3]", False),
    ],
    ids=["undecodable", "empty", "wrong_shape", "no_version", "list"],
)
async def test_storage_recovery_on_disk(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    content: bytes,
    home_assistant_issue: bool,
) -> None:
    """A bad file on disk is kept aside, counting restarts and the new file is owner-only."""
    hass.config.config_dir = str(tmp_path)
    folder = tmp_path / ".storage"
    folder.mkdir()
    path = folder / STORAGE_KEY
    path.write_bytes(content)
    caplog.set_level(logging.ERROR)

    with _real_disk():
        await _setup(hass, mock_config_entry)
        storage = mock_config_entry.runtime_data.storage
        assert storage.path == str(path)
        assert storage.data.counters.totals == {}
        await _fire(hass, "job_completed", 2)
        await storage.async_flush()

        (aside,) = folder.glob(f"{STORAGE_KEY}.corrupt.*")
        assert aside.read_bytes() == content
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        written = json.loads(path.read_text())
        assert written["version"] == STORAGE_VERSION
        assert StoredData.from_storage(written["data"]).counters.totals == {
            "job_completed": 2
        }
        assert not list(folder.glob("*.tmp*"))

        issues = ir.async_get(hass).issues
        assert (DOMAIN, ISSUE_STORAGE_RECOVERED) in issues
        assert (
            any(domain == "homeassistant" for domain, _ in issues)
            is home_assistant_issue
        )
        assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    assert hass.states.get(JOBS_COMPLETED).state == "unavailable"


async def test_storage_valid_file_on_disk(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    tmp_path: Path,
) -> None:
    """A good file on disk loads without a repair issue and is written back owner-only."""
    hass.config.config_dir = str(tmp_path)
    folder = tmp_path / ".storage"
    folder.mkdir()
    path = folder / STORAGE_KEY
    path.write_text(json.dumps(_days_document(TODAY)))
    path.chmod(0o644)

    with _real_disk():
        await _setup(hass, mock_config_entry)
        assert hass.states.get(JOBS_COMPLETED).state == "12"
        assert await hass.config_entries.async_unload(mock_config_entry.entry_id)

    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_STORAGE_RECOVERED) is None
    assert not list(folder.glob("*.corrupt.*"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert StoredData.from_storage(
        json.loads(path.read_text())["data"]
    ).counters.totals == {"job_completed": 12}


async def test_storage_empty_object_file_on_disk(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    tmp_path: Path,
) -> None:
    """A file holding just {} loads as empty without claiming it was corrupt."""
    hass.config.config_dir = str(tmp_path)
    folder = tmp_path / ".storage"
    folder.mkdir()
    (folder / STORAGE_KEY).write_text("{}")

    with _real_disk():
        await _setup(hass, mock_config_entry)
        assert await hass.config_entries.async_unload(mock_config_entry.entry_id)

    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_STORAGE_RECOVERED) is None
    assert not list(folder.glob("*.corrupt.*"))


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        ({}, {}),
        (
            {"app_version": "2.7.0", "uptime_hours": 5.5, "fleet": {"bambu_lab": 2}},
            {"app_version": "2.7.0", "uptime_hours": 5.5, "fleet": {"bambu_lab": 2}},
        ),
        (
            {"app_version": None, "uptime_hours": None, "fleet": {}},
            {"app_version": None, "uptime_hours": None, "fleet": {}},
        ),
        (
            {"app_version": "owner@example.com", "uptime_hours": "5", "fleet": "x"},
            {"app_version": None, "uptime_hours": None, "fleet": {}},
        ),
        (
            {"app_version": 2.7, "uptime_hours": -1, "fleet": ["bambu_lab"]},
            {"app_version": None, "uptime_hours": None, "fleet": {}},
        ),
        (
            {
                "uptime_hours": True,
                "fleet": {
                    "bambu_lab": "2",
                    "creality": 1,
                    "octoprint": 0,
                    "prusa_core": 3,
                },
            },
            {"app_version": None, "uptime_hours": None, "fleet": {"prusa_core": 3}},
        ),
    ],
)
async def test_storage_snapshot_rechecked(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    printernizer: PrinternizerSimulator,
    snapshot: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    """Stored Printernizer facts are checked again before a report can use them."""
    printernizer.available = False
    hass_storage[STORAGE_KEY] = _v2_file({"snapshot": snapshot})
    await _setup(hass, mock_config_entry)
    assert mock_config_entry.runtime_data.storage.data.snapshot == expected
    preview = await hass.services.async_call(
        DOMAIN, SERVICE_PREVIEW, {}, blocking=True, return_response=True
    )
    report = preview["report"]
    assert report["installation"]["app_version"] == (
        expected.get("app_version") or "unknown"
    )
    assert report["printer_fleet"]["printer_count"] == sum(
        expected.get("fleet", {}).values()
    )
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_STORAGE_RECOVERED) is None


@pytest.mark.parametrize(
    ("stored_id", "kept"),
    [
        ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("0F8FAD5B-D9CB-469F-A165-70867728950E", False),
        ("0f8fad5b-d9cb-169f-a165-70867728950e", False),
        ("owner@example.com", False),
        (None, False),
    ],
)
async def test_storage_installation_id_rechecked(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    opted_in_options: dict[str, Any],
    stored_id: str | None,
    kept: bool,
) -> None:
    """Only a canonical UUID4 is kept as the installation id; anything else is replaced."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=mock_config_entry.title,
        data=dict(mock_config_entry.data),
        options=opted_in_options,
        entry_id=mock_config_entry.entry_id,
    )
    hass_storage[STORAGE_KEY] = _v2_file(
        {"installation": {"id": stored_id, "first_seen": "2026-11-02"}}
    )
    await _setup(hass, entry)
    installation_id = entry.runtime_data.storage.data.installation_id
    assert installation_id is not None
    assert (installation_id == stored_id) is kept
    assert str(uuid.UUID(installation_id)) == installation_id
    assert uuid.UUID(installation_id).version == 4
    preview = await hass.services.async_call(
        DOMAIN, SERVICE_PREVIEW, {}, blocking=True, return_response=True
    )
    assert preview["report"]["installation"]["installation_id"] == installation_id
