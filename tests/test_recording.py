"""Tests for the one recording path: hostile input from the bus, the action and polling, and bursts."""

from __future__ import annotations

from datetime import timedelta
import json
import logging
from types import MappingProxyType
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.event import async_track_state_change_event
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import voluptuous as vol

from custom_components.printernizer_stats.const import (
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    SAVE_DELAY,
    SERVICE_EXPORT,
    SERVICE_PREVIEW,
    SERVICE_RECORD_EVENT,
)
from custom_components.printernizer_stats.counters import UsageCounters
from custom_components.printernizer_stats.privacy import MAX_METADATA_KEYS, UNNAMED_KEY
from custom_components.printernizer_stats.recorder import INTERNAL_ERROR
from custom_components.printernizer_stats.storage import STORAGE_KEY
from simulator.printernizer import PrinternizerSimulator

from .conftest import advance
from .hostile_corpus import (
    CANARY,
    HOSTILE_KEYS,
    HOSTILE_VALUES,
    CanaryMapping,
    ExplodingClass,
)

JOBS_COMPLETED = "sensor.printernizer_usage_statistics_jobs_completed"
POLL = timedelta(seconds=61)
LOGGER_NAME = "custom_components.printernizer_stats"

# (event type, allowed key): every kind of validator in the allowlist.
ALLOWED_KEYS: list[tuple[str, str]] = [
    ("job_completed", "printer_type"),
    ("job_failed", "duration_minutes"),
    ("file_downloaded", "size_bytes"),
    ("app_start", "app_version"),
    ("app_start", "deployment_mode"),
    ("app_start", "library_enabled"),
    ("app_shutdown", "uptime_hours"),
    ("error_occurred", "error_type"),
    ("error_occurred", "component"),
    ("feature_enabled", "feature"),
]
# The action is exercised with one key per validator kind (vocabulary, range, pattern, boolean).
ACTION_KEYS: list[tuple[str, str]] = [
    ("job_completed", "printer_type"),
    ("job_failed", "duration_minutes"),
    ("app_start", "app_version"),
    ("error_occurred", "error_type"),
    ("app_start", "library_enabled"),
]
# A valid key sent beside the hostile one: it must not save the call.
VALID_COMPANION: dict[str, dict[str, object]] = {
    "job_completed": {},
    "job_failed": {"printer_type": "bambu_lab"},
    "app_start": {"deployment_mode": "homeassistant"},
    "error_occurred": {"component": "mqtt"},
}
HOSTILE_STRINGS: list[str] = [value for value in HOSTILE_VALUES if type(value) is str]


@pytest.fixture(autouse=True)
def debug_log(caplog: pytest.LogCaptureFixture) -> None:
    """Log everything the integration says, so a leak into the log would be caught."""
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)


def _counters(entry: MockConfigEntry) -> UsageCounters:
    """The entry's live counters."""
    return entry.runtime_data.storage.data.counters


def _is_core_invalid_data_log(record: logging.LogRecord) -> bool:
    """Home Assistant core's own debug line for a call its schema refused.

    Core logs the refused service data at debug level; this integration
    cannot stop that while its schema raises vol.Invalid (see
    test_action_schema_refusal_not_logged).
    """
    return record.name == "homeassistant.core" and record.msg.startswith(
        "Invalid data for service call"
    )


async def _assert_canary_absent(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The canary is in no file, log, state, attribute, diagnostics, export or preview."""
    await entry.runtime_data.storage.async_flush()
    assert STORAGE_KEY in hass_storage
    export = await hass.services.async_call(
        DOMAIN, SERVICE_EXPORT, {}, blocking=True, return_response=True
    )
    preview = await hass.services.async_call(
        DOMAIN, SERVICE_PREVIEW, {}, blocking=True, return_response=True
    )
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    places = {
        "storage": json.dumps(hass_storage),
        "log": "\n".join(
            caplog.handler.format(record)
            for record in caplog.records
            if not _is_core_invalid_data_log(record)
        ),
        "states": json.dumps(
            [state.as_dict() for state in hass.states.async_all()], default=str
        ),
        "diagnostics": json.dumps(diagnostics),
        "export": json.dumps(export),
        "preview": json.dumps(preview),
    }
    assert [where for where, text in places.items() if CANARY in text] == []
    # Nothing raised inside Home Assistant (it would log an error, not fail).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert export["counters_by_day"] is not None


# --- the bus: lenient ------------------------------------------------------


async def test_bus_hostile_values(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every hostile value under every kind of allowed key drops that key only; the event still counts."""
    for event_type, key in ALLOWED_KEYS:
        for value in HOSTILE_VALUES:
            hass.bus.async_fire(
                EVENT_PRINTERNIZER_STATS,
                {"event_type": event_type, "metadata": {key: value}},
            )
    await hass.async_block_till_done()

    counters = _counters(init_integration)
    fired = len(HOSTILE_VALUES)
    expected_totals: dict[str, int] = {}
    for event_type, _ in ALLOWED_KEYS:
        expected_totals[event_type] = expected_totals.get(event_type, 0) + fired
    assert counters.totals == expected_totals
    # No value survived: only the bare event types were counted.
    assert all("/" not in name for day in counters.days.values() for name in day)
    assert set(counters.rejected) <= {"invalid_value", "sensitive_value"}
    assert sum(counters.rejected.values()) == fired * len(ALLOWED_KEYS)
    assert hass.states.get(JOBS_COMPLETED).state == str(fired)
    await _assert_canary_absent(
        hass, hass_client, init_integration, hass_storage, caplog
    )


async def test_bus_hostile_keys(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hostile key is dropped and counted; the allowed key beside it is kept."""
    for key in HOSTILE_KEYS:
        hass.bus.async_fire(
            EVENT_PRINTERNIZER_STATS,
            {
                "event_type": "job_completed",
                "metadata": {key: "bambu_lab", "printer_type": "bambu_lab"},
            },
        )
    await hass.async_block_till_done()

    counters = _counters(init_integration)
    (day,) = counters.days.values()
    assert day == {
        "job_completed": len(HOSTILE_KEYS),
        "job_completed/printer_type=bambu_lab": len(HOSTILE_KEYS),
    }
    assert counters.rejected == {"unknown_key": len(HOSTILE_KEYS)}
    await _assert_canary_absent(
        hass, hass_client, init_integration, hass_storage, caplog
    )


async def test_bus_hostile_event_types_and_metadata(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Hostile event types drop the event; hostile metadata objects drop the metadata only."""
    for value in [*HOSTILE_VALUES, *HOSTILE_KEYS]:
        hass.bus.async_fire(
            EVENT_PRINTERNIZER_STATS,
            {"event_type": value, "metadata": {"printer_type": "bambu_lab"}},
        )
    non_dicts = [value for value in HOSTILE_VALUES if not issubclass(type(value), dict)]
    for value in non_dicts:
        hass.bus.async_fire(
            EVENT_PRINTERNIZER_STATS, {"event_type": "job_failed", "metadata": value}
        )
    hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {})
    hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"metadata": {"a": CANARY}})
    await hass.async_block_till_done()

    counters = _counters(init_integration)
    assert counters.totals == {"job_failed": len(non_dicts)}
    assert counters.rejected["unknown_event_type"] == (
        len(HOSTILE_VALUES) + len(HOSTILE_KEYS) + 2
    )
    assert counters.rejected["invalid_metadata"] > 30
    assert INTERNAL_ERROR not in counters.rejected
    await _assert_canary_absent(
        hass, hass_client, init_integration, hass_storage, caplog
    )


@pytest.mark.parametrize(
    "data",
    [
        CanaryMapping(),
        MappingProxyType({"event_type": "job_completed"}),
        [("event_type", "job_completed")],
    ],
)
async def test_bus_event_data_not_a_dict(
    hass: HomeAssistant, init_integration: MockConfigEntry, data: Any
) -> None:
    """Event data that is not a plain dict is not read; the event is dropped and counted."""
    hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, data)
    await hass.async_block_till_done()
    assert _counters(init_integration).totals == {}
    assert _counters(init_integration).rejected == {"unknown_event_type": 1}


async def test_bus_too_many_keys(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Oversized metadata is dropped as a whole; the event still counts."""
    metadata = {f"key_{index}": "x" for index in range(MAX_METADATA_KEYS + 1)}
    metadata["printer_type"] = "bambu_lab"
    hass.bus.async_fire(
        EVENT_PRINTERNIZER_STATS, {"event_type": "job_created", "metadata": metadata}
    )
    await hass.async_block_till_done()
    assert _counters(init_integration).totals == {"job_created": 1}
    assert _counters(init_integration).rejected == {"too_many_keys": 1}


async def test_bus_internal_error_counted(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failure inside recording is counted, never raised into the bus, never logged with input."""
    with patch.object(UsageCounters, "record", side_effect=RuntimeError(CANARY)):
        hass.bus.async_fire(
            EVENT_PRINTERNIZER_STATS,
            {"event_type": "job_completed", "metadata": {"printer_type": "octoprint"}},
        )
        await hass.async_block_till_done()
    assert _counters(init_integration).rejected == {INTERNAL_ERROR: 1}
    assert "dropped after an internal error" in caplog.text
    assert CANARY not in caplog.text

    hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": "job_completed"})
    await hass.async_block_till_done()
    assert hass.states.get(JOBS_COMPLETED).state == "1"


# --- the action: strict ----------------------------------------------------


def _assert_no_canary_in_error(err: Exception) -> None:
    """The error shown to the caller does not echo the input."""
    assert CANARY not in str(err)
    assert CANARY not in repr(err)
    if isinstance(err, ServiceValidationError):
        assert CANARY not in json.dumps(err.translation_placeholders or {})


async def _call_record(hass: HomeAssistant, data: dict[str, Any]) -> Exception:
    """Call record_event and return the error it must raise."""
    with pytest.raises((ServiceValidationError, vol.Invalid)) as info:
        await hass.services.async_call(
            DOMAIN, SERVICE_RECORD_EVENT, data, blocking=True
        )
    _assert_no_canary_in_error(info.value)
    return info.value


async def test_action_hostile_values(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Any hostile value refuses the whole call, naming the key, even beside a valid key; nothing is stored."""
    for event_type, key in ACTION_KEYS:
        for value in HOSTILE_VALUES:
            err = await _call_record(
                hass,
                {
                    "event_type": event_type,
                    "metadata": {**VALID_COMPANION[event_type], key: value},
                },
            )
            assert isinstance(err, ServiceValidationError)
            assert err.translation_domain == DOMAIN
            assert err.translation_key in ("invalid_value", "sensitive_value")
            assert err.translation_placeholders == {
                "key": key,
                "event_type": event_type,
            }

    counters = _counters(init_integration)
    assert counters.days == {}
    assert counters.totals == {}
    assert counters.rejected == {}
    await _assert_canary_absent(
        hass, hass_client, init_integration, hass_storage, caplog
    )


async def test_action_hostile_keys(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hostile key is shown as "<unnamed key>" and refuses the call."""
    for key in HOSTILE_KEYS:
        err = await _call_record(
            hass,
            {"event_type": "job_completed", "metadata": {key: "bambu_lab"}},
        )
        assert isinstance(err, ServiceValidationError)
        assert err.translation_key == "unknown_key"
        assert err.translation_placeholders == {
            "key": UNNAMED_KEY,
            "event_type": "job_completed",
        }
    assert _counters(init_integration).totals == {}
    await _assert_canary_absent(
        hass, hass_client, init_integration, hass_storage, caplog
    )


async def test_action_hostile_event_types_and_metadata(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Hostile event types and non-dict metadata are refused before anything is stored."""
    for value in [*HOSTILE_STRINGS, *HOSTILE_KEYS]:
        err = await _call_record(hass, {"event_type": value})
        assert isinstance(err, ServiceValidationError)
        assert err.translation_key == "unknown_event_type"
    for value in HOSTILE_VALUES:
        if issubclass(type(value), dict) or type(value) is ExplodingClass:
            continue
        err = await _call_record(
            hass, {"event_type": "job_completed", "metadata": value}
        )
        # Refused by the schema, or by the strict recorder if the schema lets it by.
        assert isinstance(err, vol.Invalid) or err.translation_key in (
            "invalid_metadata",
            "unknown_key",
        )
    assert _counters(init_integration).totals == {}
    await _assert_canary_absent(
        hass, hass_client, init_integration, hass_storage, caplog
    )


@pytest.mark.parametrize("field", ["event_type", "metadata"])
async def test_action_object_raising_on_inspection(
    hass: HomeAssistant, init_integration: MockConfigEntry, field: str
) -> None:
    """An object whose __class__ raises is refused without echoing its error."""
    data: dict[str, Any] = {"event_type": "job_completed", field: ExplodingClass()}
    await _call_record(hass, data)
    assert _counters(init_integration).totals == {}


async def test_action_schema_refusal_not_logged(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Refused metadata is not written to the log, even at debug level."""
    caplog.set_level(logging.DEBUG)
    await _call_record(
        hass, {"event_type": "job_completed", "metadata": f"{CANARY}@example.com"}
    )
    assert CANARY not in caplog.text


@pytest.mark.parametrize(
    ("data", "translation_key", "placeholders"),
    [
        ({"event_type": "print_started"}, "unknown_event_type", None),
        (
            {
                "event_type": "job_completed",
                "metadata": {f"k{index}": 1 for index in range(MAX_METADATA_KEYS + 1)},
            },
            "too_many_keys",
            None,
        ),
        (
            {"event_type": "job_completed", "metadata": {"filename": "benchy.3mf"}},
            "unknown_key",
            {"key": "filename", "event_type": "job_completed"},
        ),
        (
            {"event_type": "job_completed", "metadata": {"printer_type": "creality"}},
            "invalid_value",
            {"key": "printer_type", "event_type": "job_completed"},
        ),
        (
            {
                "event_type": "error_occurred",
                "metadata": {"error_type": "Host1234abcdError"},
            },
            "invalid_value",
            {"key": "error_type", "event_type": "error_occurred"},
        ),
        (
            {
                "event_type": "error_occurred",
                "metadata": {"error_type": "TimeoutError", "component": "mqtt", "x": 1},
            },
            "unknown_key",
            {"key": "x", "event_type": "error_occurred"},
        ),
    ],
)
async def test_action_refused(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    data: dict[str, Any],
    translation_key: str,
    placeholders: dict[str, str] | None,
) -> None:
    """Each kind of bad input gets its own translated error, and nothing is stored."""
    err = await _call_record(hass, data)
    assert isinstance(err, ServiceValidationError)
    assert err.translation_key == translation_key
    assert err.translation_placeholders == placeholders
    assert _counters(init_integration).days == {}
    assert _counters(init_integration).rejected == {}


async def test_action_invalid_metadata_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Metadata that is not a mapping refuses the call (the schema normally stops it first)."""
    recorder = init_integration.runtime_data.recorder
    with pytest.raises(ServiceValidationError) as info:
        recorder.async_record_strict("job_completed", [("printer_type", "bambu_lab")])
    assert info.value.translation_key == "invalid_metadata"
    assert _counters(init_integration).days == {}


async def test_action_records(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A clean call is counted with its coarsened metadata."""
    await hass.services.async_call(
        DOMAIN,
        SERVICE_RECORD_EVENT,
        {
            "event_type": "job_completed",
            "metadata": {"printer_type": " Bambu_Lab ", "duration_minutes": 200},
        },
        blocking=True,
    )
    await hass.services.async_call(
        DOMAIN, SERVICE_RECORD_EVENT, {"event_type": "app_start"}, blocking=True
    )
    await hass.async_block_till_done()
    (day,) = _counters(init_integration).days.values()
    assert day == {
        "job_completed": 1,
        "job_completed/printer_type=bambu_lab": 1,
        "job_completed/duration_minutes=3-8h": 1,
        "app_start": 1,
    }
    assert hass.states.get(JOBS_COMPLETED).state == "1"


# --- polling ---------------------------------------------------------------


PRINTER_FIELDS = (
    "id",
    "name",
    "printer_type",
    "ip_address",
    "api_key",
    "access_code",
    "serial_number",
    "webcam_url",
    "location",
    "description",
)
JOB_FIELDS = (
    "id",
    "printer_id",
    "printer_type",
    "job_name",
    "filename",
    "customer_name",
    "actual_duration",
)
FILE_FIELDS = (
    "id",
    "printer_id",
    "filename",
    "file_size",
    "file_path",
    "watch_folder_path",
    "relative_path",
)
SHORT_HOSTILE = [value for value in HOSTILE_STRINGS if len(value) <= 1000]
LONG_HOSTILE = [value for value in HOSTILE_STRINGS if len(value) > 1000]


def _poison_world(printernizer: PrinternizerSimulator) -> None:
    """Add printers, jobs and files whose every field is hostile, twice: with a good and a hostile status."""
    for value in SHORT_HOSTILE:
        for suffix, status in (("", None), ("#2", value)):
            printer_id = printernizer.add_printer()
            printer = next(p for p in printernizer.printers if p.id == printer_id)
            for field in PRINTER_FIELDS:
                setattr(printer, field, value + suffix)
            printer.status = status or "online"
            job = printernizer.get_job(printernizer.add_job(status="completed"))
            for field in JOB_FIELDS:
                setattr(job, field, value + suffix)
            job.status = status or "completed"
            sim_file = printernizer.get_file(printernizer.add_file(status="downloaded"))
            for field in FILE_FIELDS:
                setattr(sim_file, field, value + suffix)
            sim_file.status = status or "downloaded"
    # Oversized values go into one private field each, to keep answers small.
    targets = [
        *((printer, "location") for printer in printernizer.printers[:4]),
        *((job, "customer_name") for job in printernizer.jobs[:3]),
    ]
    assert len(LONG_HOSTILE) <= len(targets)
    for (item, field), value in zip(targets, LONG_HOSTILE, strict=False):
        setattr(item, field, value)


async def test_polling_hostile_fields(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_client: ClientSessionGenerator,
    mock_config_entry: MockConfigEntry,
    printernizer: PrinternizerSimulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Hostile private fields, types, statuses, ids, durations and sizes never get past the client."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    _poison_world(printernizer)
    await advance(hass, freezer, POLL)
    counters = _counters(mock_config_entry)
    count = len(SHORT_HOSTILE)
    assert counters.totals == {
        "job_created": 2 * count,
        "job_completed": count,
        "file_downloaded": count,
    }
    (day,) = counters.days.values()
    assert day["job_completed/printer_type=unknown"] == count
    assert not any("duration_minutes" in name or "size_bytes" in name for name in day)
    assert counters.rejected == {}
    assert hass.states.get(
        "sensor.printernizer_usage_statistics_printers"
    ).state == str(4 + 2 * count)

    for printer in printernizer.printers[4:]:
        printer.status = "offline"
    await advance(hass, freezer, POLL)
    assert counters.totals["printer_disconnected"] == count
    await _assert_canary_absent(
        hass, hass_client, mock_config_entry, hass_storage, caplog
    )


async def test_polling_hostile_versions(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_client: ClientSessionGenerator,
    mock_config_entry: MockConfigEntry,
    printernizer: PrinternizerSimulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hostile version in /health is refused as app_start metadata and as the known version."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    coordinator = mock_config_entry.runtime_data.coordinator

    versions: list[object] = [*HOSTILE_STRINGS, 2.7, [CANARY], {"v": CANARY}]
    for index, version in enumerate(versions):
        # Each answer reports less uptime than the one before: a restart every time.
        printernizer.health_payload = {
            "status": "healthy",
            "version": version,
            "uptime_seconds": 10_000 - index,
        }
        await coordinator.async_refresh()
        assert coordinator.data.app_version is None
    counters = _counters(mock_config_entry)
    assert counters.totals == {"app_start": len(versions) - 1}
    assert sum(counters.rejected.values()) == len(HOSTILE_STRINGS) - 1
    assert mock_config_entry.runtime_data.storage.data.snapshot["app_version"] is None
    await _assert_canary_absent(
        hass, hass_client, mock_config_entry, hass_storage, caplog
    )


# --- bursts ----------------------------------------------------------------


async def test_burst_counted_exactly_written_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    store_writes: list[dict[str, Any]],
) -> None:
    """1,000 events fired at once are all counted, with one state update and one write."""
    updates: list[Event[EventStateChangedData]] = []

    @callback
    def state_changed(event: Event[EventStateChangedData]) -> None:
        updates.append(event)

    async_track_state_change_event(hass, JOBS_COMPLETED, state_changed)
    kinds = ["job_completed", "job_failed", "file_downloaded", "error_occurred"]
    for index in range(1000):
        hass.bus.async_fire(
            EVENT_PRINTERNIZER_STATS,
            {
                "event_type": kinds[index % 4],
                "metadata": {"printer_type": "prusa_core"},
            },
        )
    await hass.async_block_till_done()
    # State listeners are dispatched one loop iteration later.
    await hass.async_block_till_done()

    counters = _counters(init_integration)
    assert counters.totals == dict.fromkeys(kinds, 250)
    assert counters.rejected == {"unknown_key": 250}
    assert hass.states.get(JOBS_COMPLETED).state == "250"
    assert len(updates) == 1
    assert store_writes == []

    await advance(hass, freezer, timedelta(seconds=SAVE_DELAY + 1))
    assert len(store_writes) == 1
    assert hass_storage[STORAGE_KEY]["data"]["totals"] == dict.fromkeys(kinds, 250)
    await advance(hass, freezer, timedelta(seconds=SAVE_DELAY + 1))
    assert len(store_writes) == 1


async def test_recorder_stopped(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """After stop, a pending flush is dropped and no new one is scheduled."""
    recorder = init_integration.runtime_data.recorder
    calls: list[None] = []
    recorder.listeners.append(lambda: calls.append(None))
    recorder.async_record("job_completed", None)
    recorder.async_stop()
    recorder.async_record("job_completed", None)
    await hass.async_block_till_done()
    assert calls == []
    assert recorder.listeners == []
    assert _counters(init_integration).totals == {"job_completed": 2}
