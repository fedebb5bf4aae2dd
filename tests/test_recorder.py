"""What Home Assistant's recorder holds of the integration: whole minutes only, and nothing after delete_all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.db_schema import (
    States,
    StatesMeta,
    Statistics,
    StatisticsMeta,
    StatisticsShortTerm,
)
from homeassistant.components.recorder.util import session_scope
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)

from custom_components.printernizer_stats.const import (
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    SERVICE_DELETE_ALL,
    SERVICE_RECORD_EVENT,
)
from simulator.printernizer import PrinternizerSimulator

from .conftest import ENTRY_ID, next_minute, setup_entry

pytestmark = pytest.mark.freeze_time("2026-11-04 10:00:00+00:00")
PREFIX = "sensor.printernizer_usage_statistics"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """The recorder starts before Home Assistant, as in a real installation."""


def _rows(
    instance: Recorder,
) -> dict[str, list[tuple[str | None, float, float | None]]]:
    """Our entities' state rows: (state, last_updated, last_changed) per entity id."""
    rows: dict[str, list[tuple[str | None, float, float | None]]] = {}
    with session_scope(session=instance.get_session(), read_only=True) as session:
        query = session.query(
            StatesMeta.entity_id,
            States.state,
            States.last_updated_ts,
            States.last_changed_ts,
        ).join(StatesMeta, States.metadata_id == StatesMeta.metadata_id)
        for entity_id, state, updated, changed in query:
            if entity_id.startswith(PREFIX):
                rows.setdefault(entity_id, []).append((state, updated, changed))
    return rows


def _statistic_ids(instance: Recorder) -> set[str]:
    """Our entities with long-term or short-term statistics (rows or metadata)."""
    with session_scope(session=instance.get_session(), read_only=True) as session:
        with_rows = {
            statistic_id
            for table in (Statistics, StatisticsShortTerm)
            for (statistic_id,) in session.query(StatisticsMeta.statistic_id).join(
                table, table.metadata_id == StatisticsMeta.id
            )
        }
        with_meta = {
            statistic_id
            for (statistic_id,) in session.query(StatisticsMeta.statistic_id)
        }
    return {s for s in with_rows | with_meta if s.startswith(PREFIX)}


def _whole_minute(timestamp: float | None) -> bool:
    """A recorded time with no seconds and no fraction of a second."""
    return timestamp is None or timestamp % 60 == 0


async def test_recorder_keeps_only_whole_minutes_and_nothing_after_delete_all(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recorder_mock: Recorder,
    printernizer: PrinternizerSimulator,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Events at exact seconds (bus, action, polling) leave whole minutes; delete_all leaves no row."""
    await setup_entry(hass, mock_config_entry)
    freezer.move_to("2026-11-04 10:00:17.123456+00:00")
    hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": "job_completed"})
    freezer.move_to("2026-11-04 10:00:43.5+00:00")
    await hass.services.async_call(
        DOMAIN, SERVICE_RECORD_EVENT, {"event_type": "job_completed"}, blocking=True
    )
    freezer.move_to("2026-11-04 10:00:58.9+00:00")
    hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": "job_completed"})
    await next_minute(hass, freezer)
    # A job completes in Printernizer; the poll reads it at an odd second.
    printernizer.add_job(status="completed")
    freezer.move_to("2026-11-04 10:01:37.25+00:00")
    await next_minute(hass, freezer)
    for _ in range(6):
        await next_minute(hass, freezer)
    do_adhoc_statistics(hass, start=datetime(2026, 11, 4, 10, 0, tzinfo=UTC))
    await async_wait_recording_done(hass)

    rows = await recorder_mock.async_add_executor_job(_rows, recorder_mock)
    completed = [state for state, _, _ in rows[f"{PREFIX}_jobs_completed"]]
    assert completed == ["0", "3", "4"]
    odd = {
        entity_id: [
            (u, c) for _, u, c in found if not (_whole_minute(u) and _whole_minute(c))
        ]
        for entity_id, found in rows.items()
    }
    assert {entity_id: times for entity_id, times in odd.items() if times} == {}
    assert len(rows) >= 10
    assert await recorder_mock.async_add_executor_job(_statistic_ids, recorder_mock)

    answer = await hass.services.async_call(
        DOMAIN, SERVICE_DELETE_ALL, blocking=True, return_response=True
    )
    await async_wait_recording_done(hass)

    assert answer is not None
    assert answer["recorder"] == {
        "entity_history": "removed",
        "statistics": "removed",
        "bus_events": "kept",
        "bus_events_hint": answer["recorder"]["bus_events_hint"],
    }
    assert "recorder.purge" in answer["recorder"]["bus_events_hint"]
    assert await recorder_mock.async_add_executor_job(_rows, recorder_mock) == {}
    assert (
        await recorder_mock.async_add_executor_job(_statistic_ids, recorder_mock)
        == set()
    )
    assert er.async_entries_for_config_entry(entity_registry, ENTRY_ID)


@pytest.mark.parametrize(
    "recorder_config", [{"exclude": {"event_types": [EVENT_PRINTERNIZER_STATS]}}]
)
async def test_delete_all_with_bus_events_excluded(
    hass: HomeAssistant,
    recorder_mock: Recorder,
    mock_config_entry: MockConfigEntry,
    recorder_config: dict[str, Any],
) -> None:
    """When the recorder keeps no bus events of ours, the answer says so and gives no hint."""
    await setup_entry(hass, mock_config_entry)

    answer = await hass.services.async_call(
        DOMAIN, SERVICE_DELETE_ALL, blocking=True, return_response=True
    )

    assert answer is not None
    assert answer["recorder"] == {
        "entity_history": "removed",
        "statistics": "removed",
        "bus_events": "not_recorded",
    }


async def test_states_written_on_the_minute_also_after_a_day(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recorder_mock: Recorder,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Many events spread over a day: one state row per minute with a change, at most."""
    await setup_entry(hass, mock_config_entry)
    for second in range(0, 3 * 3600, 7):
        freezer.move_to(
            datetime(2026, 11, 4, 10, 0, tzinfo=UTC) + timedelta(seconds=second)
        )
        hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": "job_created"})
        if second % 60 < 7:
            await next_minute(hass, freezer)
    await async_wait_recording_done(hass)

    rows = await recorder_mock.async_add_executor_job(_rows, recorder_mock)
    created = rows[f"{PREFIX}_jobs_created_this_week"]
    assert all(_whole_minute(u) and _whole_minute(c) for _, u, c in created)
    # At most one row a minute (3 hours), never one per event (1,543 events).
    assert len(created) <= 3 * 60 + 1
