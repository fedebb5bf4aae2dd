"""The privacy promise end to end: hostile input from every source, looked for in every sink.

Sources: the bus event, the record_event action, and polling a Printernizer
whose answers carry personal data (recorded responses of a real Printernizer,
their CANARY values, plus the hostile corpus). Sinks: the storage file, the
log, states and attributes, diagnostics, export, preview, the report the
statistics service receives, and Home Assistant's recorder database.
"""

from __future__ import annotations

from datetime import timedelta
import json
import logging
import re
from typing import Any

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.db_schema import (
    EventData,
    Events,
    StateAttributes,
    States,
)
from homeassistant.components.recorder.util import session_scope
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.printernizer_stats.const import (
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    ISSUE_RECORDER,
    SERVICE_EXPORT,
    SERVICE_PREVIEW,
    SERVICE_RECORD_EVENT,
)
from custom_components.printernizer_stats.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.printernizer_stats.privacy import ALLOWLIST
from simulator.stats_service import StatsServiceEmulator

from .conftest import advance, load_fixture, make_entry, serve, setup_entry
from .hostile_corpus import (
    CANARY,
    ERROR_SHAPED,
    HOSTILE_KEYS,
    HOSTILE_VALUES,
    NAMED_IDS,
    WORD_CANARY,
)

# Recorded responses mark every personal value "CANARY-…".
LEAKS = re.compile(
    rf"{CANARY}|{WORD_CANARY}|CANARY-|anna_schmidt|john_doe|JohnSmith|mustermann",
    re.IGNORECASE,
)
pytestmark = pytest.mark.freeze_time("2026-11-02 08:00:00+00:00")


@pytest.fixture
def recorder_config() -> dict[str, Any]:
    """The recorder as the README tells users to configure it."""
    return {"exclude": {"event_types": [EVENT_PRINTERNIZER_STATS]}}


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """The recorder must start before Home Assistant (and it is on, as by default)."""


def _strings(value: Any) -> list[str]:
    """Hostile values as strings, where they are strings (sources may send any object)."""
    return [value] if type(value) is str else []


async def _printernizer_with_personal_data(socket_enabled: None) -> str:
    """A Printernizer answering with recorded responses plus hostile names and ids."""
    printers = load_fixture("02d_printers_list.json")
    jobs = load_fixture("03l_jobs_list_final.json")
    for job, hostile in zip(jobs["jobs"], ERROR_SHAPED, strict=False):
        job["job_name"] = hostile
        job["customer_name"] = f"{hostile} {CANARY}"
    files = {
        "files": [
            {
                "id": named,
                "filename": named,
                "status": "downloaded",
                "file_size": 1234,
                "downloaded_at": "2026-11-02 09:00:00",
                "file_path": f"/data/{named}",
            }
            for named in NAMED_IDS
        ],
        "total_count": len(NAMED_IDS),
        "pagination": {"page": 1, "limit": 100, "total_items": 2, "total_pages": 1},
    }
    bodies = {
        "health": {
            **load_fixture("01_health.json"),
            "version": f"2.42.0-{WORD_CANARY}",
        },
        "system/info": load_fixture("01d_system_info.json"),
        "usage-stats/status": load_fixture("05b_usage_stats_status.json"),
        "printers": printers,
        "jobs": jobs,
        "files": files,
    }
    app = web.Application()

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(bodies[request.match_info["path"]])

    app.router.add_get("/api/v1/{path:.+}", answer)
    server = await serve(app)
    return str(server.make_url("")).rstrip("/")


def _database_text(instance: Recorder) -> str:
    """Every event's and state's data in the recorder database."""
    with session_scope(session=instance.get_session(), read_only=True) as session:
        rows = [
            *(row.shared_data for row in session.query(EventData)),
            *(row.event_type_id for row in session.query(Events)),
            *(row.state for row in session.query(States)),
            *(row.shared_attrs for row in session.query(StateAttributes)),
        ]
    return "\n".join(str(row) for row in rows)


async def test_no_hostile_value_reaches_any_sink(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recorder_mock: Recorder,
    socket_enabled: None,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """0 hits: storage, log, states, diagnostics, export, preview, report, recorder database."""
    caplog.set_level(logging.DEBUG)
    url = await _printernizer_with_personal_data(socket_enabled)
    entry = await setup_entry(hass, make_entry(url, opted_in_options))
    # The day after consent: what is recorded now goes into the first report.
    await advance(hass, freezer, timedelta(days=1))

    refused = 0
    for event_type, fields in ALLOWLIST.items():
        for value in HOSTILE_VALUES:
            for key in (*fields, *HOSTILE_KEYS[:3]):
                metadata = {key: value}
                hass.bus.async_fire(
                    EVENT_PRINTERNIZER_STATS,
                    {"event_type": event_type, "metadata": metadata},
                )
                if _strings(value) or key in HOSTILE_KEYS:
                    try:
                        await hass.services.async_call(
                            DOMAIN,
                            SERVICE_RECORD_EVENT,
                            {"event_type": event_type, "metadata": metadata},
                            blocking=True,
                        )
                    except ServiceValidationError as err:
                        refused += 1
                        placeholders = str(err.translation_placeholders)
                    else:
                        placeholders = ""
                    assert not LEAKS.search(placeholders)
    for key in HOSTILE_KEYS:
        hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": key})
    assert refused > 1000

    # Polls, a new week and a report at the service.
    await advance(hass, freezer, timedelta(days=8))
    await async_wait_recording_done(hass)

    sinks = {
        "storage": json.dumps(hass_storage[DOMAIN]),
        # Everything logged at DEBUG and above, by every logger. (With
        # `homeassistant.core: debug` Home Assistant itself logs each bus event
        # raw; the README says so, and recommends the action.)
        "log": "\n".join(record.getMessage() for record in caplog.records),
        "states": json.dumps(
            [
                (s.entity_id, s.state, dict(s.attributes))
                for s in hass.states.async_all()
            ],
            default=str,
        ),
        "diagnostics": json.dumps(
            await async_get_config_entry_diagnostics(hass, entry), default=str
        ),
        "export": json.dumps(
            await hass.services.async_call(
                DOMAIN, SERVICE_EXPORT, {}, blocking=True, return_response=True
            )
        ),
        "preview": json.dumps(
            await hass.services.async_call(
                DOMAIN, SERVICE_PREVIEW, {}, blocking=True, return_response=True
            )
        ),
        "report": json.dumps(stats_service.accepted),
        "recorder": await recorder_mock.async_add_executor_job(
            _database_text, recorder_mock
        ),
    }
    (report,) = stats_service.accepted
    # The hostile events were counted where allowed, and reached the report.
    assert report["usage_stats"]["job_count"] > 1000
    assert report["error_summary"]["other"] > 100
    hits = {name: LEAKS.findall(text)[:3] for name, text in sinks.items()}
    assert hits == {name: [] for name in sinks}


async def test_repair_when_the_recorder_keeps_bus_events(
    hass: HomeAssistant,
    recorder_mock: Recorder,
    init_integration: Any,
    recorder_config: dict[str, Any],
) -> None:
    """Without the exclusion, a bus event raises a repair with the configuration snippet."""
    recorder_mock.exclude_event_types.discard(EVENT_PRINTERNIZER_STATS)
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": "app_start"})
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_RECORDER)
    assert issue is not None
    assert issue.translation_placeholders == {"event_type": EVENT_PRINTERNIZER_STATS}
