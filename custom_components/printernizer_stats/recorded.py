"""What Home Assistant's recorder holds of this integration, and removing it.

The recorder keeps every state change of our entities (with its time) and
their long-term statistics; `delete_all` removes both through the recorder's
own public interfaces (the `recorder.purge_entities` action and the
statistics-clearing call the statistics dashboard uses). It also keeps
`printernizer_stats_event` bus events exactly as they arrived: no public
interface removes one event type, so the user is told how (and the
`events_recorded` repair tells them how to keep them out in the first place).
Everything here works without a recorder, too.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.recorder import get_instance

from .const import EVENT_PRINTERNIZER_STATS

RECORDER: Final = "recorder"
SERVICE_PURGE_ENTITIES: Final = "purge_entities"
# How to remove what the integration cannot (shown in delete_all's answer).
BUS_EVENTS_HINT: Final = (
    "Home Assistant's recorder keeps printernizer_stats_event bus events as they "
    "arrived; no integration can remove one event type. They go with the recorder's "
    "own purge (recorder.purge, keep_days) after purge_keep_days; keep them out with "
    "recorder: exclude: event_types: - printernizer_stats_event (see the README)."
)


def recorder_running(hass: HomeAssistant) -> bool:
    """Whether Home Assistant's recorder is set up."""
    return RECORDER in hass.config.components


def bus_events_kept(hass: HomeAssistant) -> bool:
    """Whether the recorder stores our bus events (it does unless they are excluded)."""
    return (
        recorder_running(hass)
        and EVENT_PRINTERNIZER_STATS not in get_instance(hass).exclude_event_types
    )


async def async_forget_entities(hass: HomeAssistant, entry_id: str) -> dict[str, Any]:
    """Remove the recorded history and statistics of the entry's entities; say what stays."""
    if not recorder_running(hass):
        return {
            "entity_history": "no_recorder",
            "statistics": "no_recorder",
            "bus_events": "no_recorder",
        }
    entity_ids = [
        entry.entity_id
        for entry in er.async_entries_for_config_entry(er.async_get(hass), entry_id)
    ]
    instance = get_instance(hass)
    if entity_ids:
        await hass.services.async_call(
            RECORDER,
            SERVICE_PURGE_ENTITIES,
            {"entity_id": entity_ids, "keep_days": 0},
            blocking=True,
        )
        instance.async_clear_statistics(entity_ids)
        # Both run in the recorder's thread, in order: wait until they did.
        await instance.async_block_till_done()
    answer: dict[str, Any] = {
        "entity_history": "removed",
        "statistics": "removed",
        "bus_events": "kept" if bus_events_kept(hass) else "not_recorded",
    }
    if answer["bus_events"] == "kept":
        answer["bus_events_hint"] = BUS_EVENTS_HINT
    return answer
