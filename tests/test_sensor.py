"""Tests for the Printernizer Usage Statistics sensors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest.mock import PropertyMock, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.printernizer_stats.const import (
    CONF_CONSENT_DAY,
    CONF_CONSENT_VERSION,
    CONF_SHARE,
    CONSENT_VERSION,
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    SERVICE_RECORD_EVENT,
    SERVICE_SUBMIT_NOW,
)
from custom_components.printernizer_stats.coordinator import (
    PrinternizerStatsRuntimeData,
)
from simulator.printernizer import PrinternizerSimulator
from simulator.stats_service import StatsServiceEmulator

from .conftest import ENTRY_ID, advance, setup_entry

# Wednesday noon in the test time zone (US/Pacific, UTC-8 in November).
WEDNESDAY = "2026-11-11T20:00:00+00:00"
# Sunday noon of the week before.
SUNDAY = "2026-11-08T20:00:00+00:00"
MONDAY_LOCAL = "2026-11-09T00:00:00-08:00"
PREVIOUS_MONDAY_LOCAL = "2026-11-02T00:00:00-08:00"

PREFIX = "sensor.printernizer_usage_statistics"
WEEKLY = {
    "job_completed": f"{PREFIX}_jobs_completed_this_week",
    "job_failed": f"{PREFIX}_jobs_failed_this_week",
    "job_created": f"{PREFIX}_jobs_created_this_week",
    "file_downloaded": f"{PREFIX}_files_downloaded_this_week",
    "error_occurred": f"{PREFIX}_errors_this_week",
}
JOBS_COMPLETED = f"{PREFIX}_jobs_completed"
EVENTS_TOTAL = f"{PREFIX}_events_recorded"
PRINTERS = f"{PREFIX}_printers"
LAST_SUBMISSION = f"{PREFIX}_last_submission"
NEXT_SUBMISSION = f"{PREFIX}_next_submission"
SHARING_STATUS = f"{PREFIX}_sharing_status"


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Enable every entity, including those disabled by default."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


async def _fire(hass: HomeAssistant, event_type: str, count: int = 1) -> None:
    """Push events over the bus and let the recorder flush."""
    for _ in range(count):
        hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": event_type})
    await hass.async_block_till_done()


def _state(hass: HomeAssistant, entity_id: str) -> str:
    """The state of an entity that must exist."""
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


def _registry_view(entry: er.RegistryEntry) -> dict[str, Any]:
    """The registry fields the integration controls, in a release-independent form."""
    return {
        "unique_id": entry.unique_id,
        "platform": entry.platform,
        "translation_key": entry.translation_key,
        "has_entity_name": entry.has_entity_name,
        "original_name": entry.original_name,
        "original_device_class": entry.original_device_class,
        "entity_category": entry.entity_category,
        "disabled_by": entry.disabled_by,
        "unit_of_measurement": entry.unit_of_measurement,
        "capabilities": {str(k): v for k, v in (entry.capabilities or {}).items()},
        "has_device": entry.device_id is not None,
    }


@pytest.mark.freeze_time(WEDNESDAY)
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_all_entities(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """Every sensor's state and registry entry match the snapshot."""
    for event_type, count in (
        ("job_completed", 3),
        ("job_failed", 1),
        ("job_created", 4),
        ("file_downloaded", 2),
        ("error_occurred", 1),
        ("app_start", 1),
    ):
        await _fire(hass, event_type, count)

    # Like snapshot_platform, but in a release-independent form: registry
    # entries gain fields and attribute keys became enums in Home Assistant 2026.
    entries = er.async_entries_for_config_entry(
        entity_registry, init_integration.entry_id
    )
    assert entries
    for entry in entries:
        assert _registry_view(entry) == snapshot(name=f"{entry.entity_id}-entry")
        assert entry.disabled_by is None, "Please enable all entities."
        state = hass.states.get(entry.entity_id)
        assert state, f"State not found for {entry.entity_id}"
        assert {
            "state": state.state,
            "attributes": {str(k): v for k, v in state.attributes.items()},
        } == snapshot(name=f"{entry.entity_id}-state")


@pytest.mark.freeze_time(WEDNESDAY)
async def test_events_total_disabled_by_default(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """The diagnostic event total is registered but disabled; the others are enabled."""
    entries = er.async_entries_for_config_entry(
        entity_registry, init_integration.entry_id
    )
    disabled = {e.entity_id for e in entries if e.disabled_by is not None}
    assert disabled == {EVENTS_TOTAL}
    entry = entity_registry.async_get(EVENTS_TOTAL)
    assert entry is not None
    assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert hass.states.get(EVENTS_TOTAL) is None


@pytest.mark.freeze_time(SUNDAY)
async def test_weekly_counts_only_this_week(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Events of the previous week's Sunday are not counted this week; totals keep them."""
    for event_type, entity_id in WEEKLY.items():
        await _fire(hass, event_type)
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.state == "1"
        assert state.attributes["last_reset"] == PREVIOUS_MONDAY_LOCAL

    await advance(hass, freezer, timedelta(days=3))
    for event_type, entity_id in WEEKLY.items():
        assert _state(hass, entity_id) == "0"
        await _fire(hass, event_type, 2)
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.state == "2"
        assert state.attributes["last_reset"] == MONDAY_LOCAL
    assert _state(hass, JOBS_COMPLETED) == "3"


@pytest.mark.freeze_time(SUNDAY)
@pytest.mark.parametrize("printernizer_up", [True, False])
async def test_weekly_rolls_over_at_week_boundary(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    printernizer: PrinternizerSimulator,
    freezer: FrozenDateTimeFactory,
    printernizer_up: bool,
) -> None:
    """At Monday 00:00 local the weekly counters restart, even while Printernizer is down."""
    entity_id = WEEKLY["job_completed"]
    await _fire(hass, "job_completed")
    printernizer.available = printernizer_up
    freezer.move_to("2026-11-09T07:58:00+00:00")  # Sunday 23:58 local
    await advance(hass, freezer, timedelta(seconds=61))
    await advance(hass, freezer, timedelta(seconds=30))
    assert _state(hass, PRINTERS) == ("4" if printernizer_up else STATE_UNAVAILABLE)
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == "1"
    assert state.attributes["last_reset"] == PREVIOUS_MONDAY_LOCAL

    await advance(hass, freezer, timedelta(seconds=30))  # Monday 00:00:01 local

    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == "0"
    assert state.attributes["last_reset"] == MONDAY_LOCAL
    assert _state(hass, JOBS_COMPLETED) == "1"


@pytest.mark.freeze_time(
    "2026-11-09T07:30:00+00:00"
)  # Sunday 23:30 local, Monday in UTC
async def test_weekly_counts_follow_local_week_not_utc_day(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An event late on Sunday (local) belongs to the ending week although it is Monday in UTC."""
    entity_id = WEEKLY["job_completed"]
    await _fire(hass, "job_completed")
    assert _state(hass, entity_id) == "1"

    freezer.move_to("2026-11-09T08:30:00+00:00")  # Monday 00:30 local
    await advance(hass, freezer, timedelta(seconds=1))
    assert _state(hass, entity_id) == "0"
    await _fire(hass, "job_completed")
    assert _state(hass, entity_id) == "1"
    counters = init_integration.runtime_data.storage.data.counters
    assert counters.weeks == {
        "2026-W45": {"job_completed": 1},
        "2026-W46": {"job_completed": 1},
    }
    assert counters.days == {"2026-11-09": {"job_completed": 2}}


@pytest.mark.freeze_time(WEDNESDAY)
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_lifetime_totals_survive_retention(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Pruning old days empties the weekly counters but not the lifetime totals."""
    data: PrinternizerStatsRuntimeData = init_integration.runtime_data
    await _fire(hass, "job_completed", 2)
    await _fire(hass, "error_occurred")
    assert set(data.storage.data.counters.days) == {"2026-11-11"}

    await advance(hass, freezer, timedelta(days=100))

    assert data.storage.data.counters.days == {}
    assert _state(hass, WEEKLY["job_completed"]) == "0"
    assert _state(hass, WEEKLY["error_occurred"]) == "0"
    assert _state(hass, JOBS_COMPLETED) == "2"
    assert _state(hass, EVENTS_TOTAL) == "3"


@pytest.mark.freeze_time(WEDNESDAY)
async def test_printers_follow_printernizer(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    printernizer: PrinternizerSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The fleet sensor shows counts per type, and only it goes unavailable with Printernizer."""
    state = hass.states.get(PRINTERS)
    assert state is not None
    assert state.state == "4"
    assert state.attributes["bambu_lab"] == 1
    assert state.attributes["prusa_core"] == 1
    assert state.attributes["octoprint"] == 1
    assert state.attributes["unknown"] == 1  # creality_k1 is not a known type

    printernizer.available = False
    await advance(hass, freezer, timedelta(seconds=61))
    assert _state(hass, PRINTERS) == STATE_UNAVAILABLE
    for entity_id in (
        *WEEKLY.values(),
        JOBS_COMPLETED,
        LAST_SUBMISSION,
        NEXT_SUBMISSION,
        SHARING_STATUS,
    ):
        assert _state(hass, entity_id) != STATE_UNAVAILABLE
    await _fire(hass, "job_completed")
    assert _state(hass, WEEKLY["job_completed"]) == "1"

    printernizer.available = True
    printernizer.add_printer(printer_type="bambu_lab")
    await advance(hass, freezer, timedelta(seconds=61))
    state = hass.states.get(PRINTERS)
    assert state is not None
    assert state.state == "5"
    assert state.attributes["bambu_lab"] == 2


@pytest.mark.freeze_time(WEDNESDAY)
async def test_state_updates_when_event_recorded(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    printernizer: PrinternizerSimulator,
) -> None:
    """A burst of recorded events updates the sensors at once, once, without a poll."""
    entity_id = WEEKLY["job_completed"]
    polls = printernizer.requests["/api/v1/health"]
    changes: list[Event[EventStateChangedData]] = []

    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        if event.data["entity_id"] == entity_id:
            changes.append(event)

    hass.bus.async_listen(EVENT_STATE_CHANGED, _changed)

    await _fire(hass, "job_completed", 3)
    assert _state(hass, entity_id) == "3"
    assert len(changes) == 1

    await hass.services.async_call(
        DOMAIN, SERVICE_RECORD_EVENT, {"event_type": "job_completed"}, blocking=True
    )
    await hass.async_block_till_done()
    assert _state(hass, entity_id) == "4"
    assert printernizer.requests["/api/v1/health"] == polls


@pytest.mark.freeze_time(WEDNESDAY)
@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({}, "opted_in"),
        ({CONF_CONSENT_VERSION: CONSENT_VERSION - 1}, "paused"),
        (
            {CONF_SHARE: False, CONF_CONSENT_VERSION: None, CONF_CONSENT_DAY: None},
            "opted_out",
        ),
    ],
)
async def test_sharing_status_follows_consent(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    overrides: dict[str, Any],
    status: str,
) -> None:
    """The sharing status reflects the consent in the entry's options."""
    await setup_entry(hass, printernizer_url, opted_in_options | overrides)
    state = hass.states.get(SHARING_STATUS)
    assert state is not None
    assert state.state == status
    assert state.attributes["options"] == ["opted_in", "opted_out", "paused", "failing"]
    if status == "opted_in":
        assert _state(hass, NEXT_SUBMISSION) != STATE_UNKNOWN
    else:
        assert _state(hass, NEXT_SUBMISSION) == STATE_UNKNOWN


@pytest.mark.freeze_time(WEDNESDAY)
async def test_submission_sensors_follow_submissions(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A failed send shows failing and a retry time; the accepted retry sets the last submission."""
    await setup_entry(hass, printernizer_url, opted_in_options)
    assert _state(hass, SHARING_STATUS) == "opted_in"
    assert _state(hass, LAST_SUBMISSION) == STATE_UNKNOWN

    stats_service.fail_next(500)
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(DOMAIN, SERVICE_SUBMIT_NOW, {}, blocking=True)
    await hass.async_block_till_done()
    assert _state(hass, SHARING_STATUS) == "failing"
    assert _state(hass, LAST_SUBMISSION) == STATE_UNKNOWN
    retry = dt_util.parse_datetime(_state(hass, NEXT_SUBMISSION))
    assert retry is not None
    assert retry >= dt_util.utcnow() + timedelta(hours=1)

    await advance(hass, freezer, retry - dt_util.utcnow() + timedelta(seconds=1))
    await advance(hass, freezer, timedelta(seconds=61))
    assert len(stats_service.accepted) == 1
    assert _state(hass, SHARING_STATUS) == "opted_in"
    sent = dt_util.parse_datetime(_state(hass, LAST_SUBMISSION))
    assert sent is not None
    assert dt_util.utcnow() - timedelta(seconds=62) <= sent <= dt_util.utcnow()


@pytest.mark.freeze_time(WEDNESDAY)
async def test_submit_now_updates_submission_sensors(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
) -> None:
    """An accepted submit_now shows its time at once and moves the next submission on."""
    await setup_entry(hass, printernizer_url, opted_in_options)
    before = dt_util.parse_datetime(_state(hass, NEXT_SUBMISSION))
    assert before is not None
    assert before < dt_util.utcnow()  # the first period (from 2 November) is due

    await hass.services.async_call(DOMAIN, SERVICE_SUBMIT_NOW, {}, blocking=True)

    assert _state(hass, LAST_SUBMISSION) == WEDNESDAY
    after = dt_util.parse_datetime(_state(hass, NEXT_SUBMISSION))
    assert after is not None
    assert after.date().isoformat() == "2026-11-18"
    assert _state(hass, SHARING_STATUS) == "opted_in"


@pytest.mark.freeze_time(WEDNESDAY)
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_unique_ids_stable_across_reload(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A reload keeps every unique id and entity id, and adds no entity."""

    def registered() -> dict[str, str]:
        """Entity ids by unique id."""
        return {
            entry.unique_id: entry.entity_id
            for entry in er.async_entries_for_config_entry(
                entity_registry, init_integration.entry_id
            )
        }

    before = registered()
    assert len(before) == 11
    assert all(uid.startswith(f"{ENTRY_ID}_") for uid in before)

    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()

    assert registered() == before
    assert _state(hass, JOBS_COMPLETED) == "0"


@pytest.mark.freeze_time(WEDNESDAY)
async def test_next_submission_is_utc_day_boundary(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
) -> None:
    """After a report, the next one is due when its seventh UTC day is complete."""
    await setup_entry(hass, printernizer_url, opted_in_options)
    await hass.services.async_call(DOMAIN, SERVICE_SUBMIT_NOW, {}, blocking=True)

    assert _state(hass, NEXT_SUBMISSION) == "2026-11-18T00:00:00+00:00"


@pytest.mark.freeze_time(WEDNESDAY)
async def test_scheduled_submission_updates_sensors_while_printernizer_down(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    printernizer: PrinternizerSimulator,
    stats_service: StatsServiceEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The submission sensors change when the scheduler sends, without a successful poll."""
    await setup_entry(hass, printernizer_url, opted_in_options)
    printernizer.available = False
    await advance(hass, freezer, timedelta(seconds=61))
    assert _state(hass, PRINTERS) == STATE_UNAVAILABLE

    await advance(hass, freezer, timedelta(minutes=16))

    assert len(stats_service.accepted) == 1
    assert _state(hass, LAST_SUBMISSION) != STATE_UNKNOWN
