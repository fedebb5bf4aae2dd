"""Tests for the Printernizer Usage Statistics sensors."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest.mock import PropertyMock, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import (
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util.read_only_dict import ReadOnlyDict
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    snapshot_platform,
)
from pytest_homeassistant_custom_component.syrupy import (
    HomeAssistantSnapshotExtension,
    HomeAssistantSnapshotSerializer,
)
from syrupy.assertion import SnapshotAssertion
from syrupy.types import SerializableData
from yarl import URL

from custom_components.printernizer_stats.consent import (
    CONF_CONSENT_DAY,
    CONF_CONSENT_VERSION,
    CONF_SHARE,
    CONSENT_VERSION,
)
from custom_components.printernizer_stats.const import (
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    SERVICE_RECORD_EVENT,
    SERVICE_SUBMIT_NOW,
)
from simulator.printernizer import PrinternizerSimulator
from simulator.stats_service import StatsServiceEmulator

from .conftest import (
    ENTRY_ID,
    advance,
    make_entry,
    next_minute,
    opt_out,
    publish,
    setup_entry,
)

# Wednesday 02:00 in the test time zone (US/Pacific, UTC-8 in November).
pytestmark = pytest.mark.freeze_time("2026-11-04 10:00:00+00:00")
# Sunday 23:58 local: Monday in UTC, still the old week locally.
SUNDAY_NIGHT = "2026-11-09 07:58:00+00:00"
MONDAY = "2026-11-02T00:00:00-08:00"
NEXT_MONDAY = "2026-11-09T00:00:00-08:00"

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


class _StableSerializer(HomeAssistantSnapshotSerializer):
    """Serialise entities the same way on every supported Home Assistant release.

    Releases after 2025.4 add registry fields this integration does not set
    (object_id_base, suggested_object_id, a default alias) and key attributes
    and capabilities by StrEnum members; both are reduced to the common form.
    """

    @classmethod
    def _serializable_entity_registry_entry(
        cls, data: er.RegistryEntry
    ) -> SerializableData:
        """Drop release-specific fields; plain string capability keys."""
        serialized = super()._serializable_entity_registry_entry(data)
        for key in ("aliases", "object_id_base", "suggested_object_id"):
            serialized.pop(key, None)
        if serialized["capabilities"] is not None:
            serialized["capabilities"] = {
                str(key): value for key, value in serialized["capabilities"].items()
            }
        return serialized

    @classmethod
    def _serializable_state(cls, data: State) -> SerializableData:
        """Plain string attribute keys."""
        serialized = super()._serializable_state(data)
        serialized["attributes"] = ReadOnlyDict(
            {str(key): value for key, value in serialized["attributes"].items()}
        )
        return serialized


class _StableSnapshotExtension(HomeAssistantSnapshotExtension):
    """Home Assistant's snapshot extension with the release-independent serializer."""

    serializer_class = _StableSerializer


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots that read the same on Home Assistant 2025.4 and 2026.x."""
    return snapshot.use_extension(_StableSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Enable every entity, including those disabled by default."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


def _state(hass: HomeAssistant, entity_id: str) -> str:
    """The state of an entity that must exist."""
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


def stats_service_origin(entry: MockConfigEntry) -> str:
    """The origin of the entry's statistics service (as the sensor attribute shows it)."""
    endpoint = URL(entry.options["endpoint"])
    return f"{endpoint.scheme}://{endpoint.host}:{endpoint.port}"


def _fire(hass: HomeAssistant, event_type: str, count: int = 1) -> None:
    """Push events over the bus, as Printernizer does."""
    for _ in range(count):
        hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": event_type})


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_all_entities(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """Every sensor's state and registry entry match the snapshot."""
    entry = await setup_entry(hass, make_entry(printernizer_url, opted_in_options))
    for event_type, count in (
        ("job_completed", 3),
        ("job_failed", 1),
        ("job_created", 4),
        ("file_downloaded", 2),
        ("error_occurred", 1),
        ("app_start", 1),
    ):
        _fire(hass, event_type, count)
    await hass.services.async_call(
        DOMAIN, SERVICE_SUBMIT_NOW, blocking=True, return_response=True
    )
    await next_minute(hass, freezer)

    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_events_total_disabled_by_default(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Only the diagnostic event total is registered disabled; ids are stable."""
    entries = er.async_entries_for_config_entry(entity_registry, ENTRY_ID)
    assert len(entries) == 11
    assert all(entry.unique_id.startswith(f"{ENTRY_ID}_") for entry in entries)
    assert {e.entity_id for e in entries if e.disabled_by is not None} == {EVENTS_TOTAL}
    assert hass.states.get(EVENTS_TOTAL) is None


@pytest.mark.usefixtures("init_integration")
async def test_weekly_counters(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Each weekly sensor counts its event type since local Monday 00:00."""
    for index, event_type in enumerate(WEEKLY, 1):
        _fire(hass, event_type, index)
    _fire(hass, "file_uploaded")
    await next_minute(hass, freezer)

    for index, entity_id in enumerate(WEEKLY.values(), 1):
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.state == str(index)
        assert state.attributes["last_reset"] == MONDAY
        assert state.attributes["state_class"] == "total"
    assert _state(hass, JOBS_COMPLETED) == "1"


@pytest.mark.freeze_time(SUNDAY_NIGHT)
@pytest.mark.parametrize("printernizer_up", [True, False])
async def test_weekly_rollover(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
    init_integration: MockConfigEntry,
    printernizer_up: bool,
) -> None:
    """At local Monday 00:00 the weekly counters restart without any event; totals go on."""
    entity_id = WEEKLY["job_completed"]
    _fire(hass, "job_completed", 2)
    printernizer.available = printernizer_up
    await advance(hass, freezer, timedelta(minutes=1, seconds=59))
    # One missed poll is no outage: the fleet is still shown.
    assert _state(hass, PRINTERS) == "3"
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == "2"
    assert state.attributes["last_reset"] == MONDAY

    await advance(hass, freezer, timedelta(seconds=1))

    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == "0"
    assert state.attributes["last_reset"] == NEXT_MONDAY
    assert _state(hass, JOBS_COMPLETED) == "2"

    _fire(hass, "job_completed")
    await next_minute(hass, freezer)
    assert _state(hass, entity_id) == "1"
    assert _state(hass, JOBS_COMPLETED) == "3"


@pytest.mark.usefixtures("init_integration")
async def test_printers_follow_printernizer(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
) -> None:
    """The fleet sensor shows counts per type, and only it goes unavailable with Printernizer."""
    state = hass.states.get(PRINTERS)
    assert state is not None
    assert state.state == "3"
    assert state.attributes["bambu_lab"] == 1
    assert state.attributes["prusa_core"] == 2
    assert "octoprint" not in state.attributes

    printernizer.available = False
    for _ in range(3):
        await next_minute(hass, freezer)
    # Three polls missed (the third one finished after its minute was shown).
    assert _state(hass, PRINTERS) == "3"
    await next_minute(hass, freezer)
    # Three missed polls in a row: now it is unavailable.
    assert _state(hass, PRINTERS) == STATE_UNAVAILABLE
    for entity_id in (*WEEKLY.values(), JOBS_COMPLETED, SHARING_STATUS):
        assert _state(hass, entity_id) != STATE_UNAVAILABLE
    _fire(hass, "job_completed")
    await next_minute(hass, freezer)
    assert _state(hass, WEEKLY["job_completed"]) == "1"

    printernizer.available = True
    printernizer.add_printer("bambu_lab", "online")
    await advance(hass, freezer, timedelta(minutes=1))
    await next_minute(hass, freezer)
    state = hass.states.get(PRINTERS)
    assert state is not None
    assert state.state == "4"
    assert state.attributes["bambu_lab"] == 2


async def test_printers_unavailable_until_read(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Before Printernizer ever answered, there is no fleet to show."""
    printernizer.available = False
    await setup_entry(hass, mock_config_entry)
    assert _state(hass, PRINTERS) == STATE_UNAVAILABLE

    printernizer.available = True
    await advance(hass, freezer, timedelta(minutes=1))
    await next_minute(hass, freezer)
    assert _state(hass, PRINTERS) == "3"


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
    """The sharing status shows the consent; only sharing has a next submission."""
    await setup_entry(hass, make_entry(printernizer_url, opted_in_options | overrides))

    state = hass.states.get(SHARING_STATUS)
    assert state is not None
    assert state.state == status
    assert state.attributes["options"] == ["opted_in", "opted_out", "paused", "failing"]
    assert state.attributes["pending_erasures"] == {}
    assert state.attributes["printernizer_shares_too"] is False
    assert _state(hass, LAST_SUBMISSION) == STATE_UNKNOWN
    expected = "2026-11-10T00:00:00+00:00" if status == "opted_in" else STATE_UNKNOWN
    assert _state(hass, NEXT_SUBMISSION) == expected


async def test_sharing_status_failing_and_erasures(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """A failed send shows failing; an erasure the service has not confirmed is counted."""
    printernizer.opted_in = True
    entry = await setup_entry(hass, make_entry(printernizer_url, opted_in_options))
    publish(hass)
    assert hass.states.get(SHARING_STATUS).attributes["printernizer_shares_too"] is True
    stats_service.fail_next(503)
    answer = await hass.services.async_call(
        DOMAIN, SERVICE_SUBMIT_NOW, blocking=True, return_response=True
    )
    assert answer is not None
    assert (answer["submitted"], answer["reason"]) == (False, "retry_later")
    await next_minute(hass, freezer)
    assert _state(hass, SHARING_STATUS) == "failing"
    assert _state(hass, NEXT_SUBMISSION) == "2026-11-04T11:00:00+00:00"

    stats_service.down = True
    await opt_out(hass, entry)
    await advance(hass, freezer, timedelta(minutes=1, seconds=1))
    await next_minute(hass, freezer)

    state = hass.states.get(SHARING_STATUS)
    assert state is not None
    assert state.state == "opted_out"
    service = str(stats_service_origin(entry))
    assert state.attributes["pending_erasures"] == {service: 1}
    assert _state(hass, NEXT_SUBMISSION) == STATE_UNKNOWN


@pytest.mark.usefixtures("init_integration")
async def test_burst_of_events(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """1,000 bus events are all counted and cost one update per sensor, on the whole minute."""
    changes: Counter[str] = Counter()

    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        changes[event.data["entity_id"]] += 1

    hass.bus.async_listen(EVENT_STATE_CHANGED, _changed)
    burst = {
        "job_completed": 400,
        "job_created": 300,
        "file_downloaded": 200,
        "error_occurred": 100,
    }
    for event_type, count in burst.items():
        _fire(hass, event_type, count)
    await next_minute(hass, freezer)

    for event_type, count in burst.items():
        assert _state(hass, WEEKLY[event_type]) == str(count)
    assert _state(hass, JOBS_COMPLETED) == "400"
    assert set(changes.values()) == {1}

    await hass.services.async_call(
        DOMAIN, SERVICE_RECORD_EVENT, {"event_type": "job_completed"}, blocking=True
    )
    await next_minute(hass, freezer)
    assert _state(hass, JOBS_COMPLETED) == "401"


async def test_device_links_to_printernizer_and_shows_its_release(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
    printernizer_url: str,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """The service device opens Printernizer's web interface and follows its release."""
    (device,) = dr.async_entries_for_config_entry(device_registry, ENTRY_ID)
    assert device.configuration_url == printernizer_url
    assert device.sw_version == "2.42.0"

    printernizer.version = "2.43.1"
    await advance(hass, freezer, timedelta(minutes=1))
    (device,) = dr.async_entries_for_config_entry(device_registry, ENTRY_ID)
    assert device.identifiers == {(DOMAIN, ENTRY_ID)}
    assert device.sw_version == "2.43.1"
