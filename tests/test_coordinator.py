"""Polling Printernizer through Home Assistant: recorded answers, rate limits, outages, restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
import json
import logging
import time
from types import MappingProxyType, SimpleNamespace
from typing import Any
from unittest.mock import patch

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from custom_components.printernizer_stats.const import (
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    ISSUE_RECORDER,
    SAVE_DELAY,
    SCAN_INTERVAL,
    SLOW_POLL_INTERVAL,
)
from custom_components.printernizer_stats.counters import UsageCounters
from simulator.printernizer import PrinternizerSimulator

from .conftest import (
    FIXTURES,
    advance,
    export_answer,
    load_fixture,
    make_entry,
    next_minute,
    publish,
    restart,
    serve,
    setup_entry,
)

pytestmark = pytest.mark.freeze_time("2026-11-30 00:53:00+00:00")

PREFIX = "sensor.printernizer_usage_statistics"
PRINTERS = f"{PREFIX}_printers"
SHARING = f"{PREFIX}_sharing_status"
COMPLETED_TOTAL = f"{PREFIX}_jobs_completed"
COMPLETED_WEEK = f"{PREFIX}_jobs_completed_this_week"
FAILED_WEEK = f"{PREFIX}_jobs_failed_this_week"
CREATED_WEEK = f"{PREFIX}_jobs_created_this_week"
DOWNLOADED_WEEK = f"{PREFIX}_files_downloaded_this_week"
TODAY = "2026-11-30"
LOGGERS = (
    "custom_components.printernizer_stats",
    "homeassistant.helpers.update_coordinator",
)
SLOW_POLLS = int(SLOW_POLL_INTERVAL / SCAN_INTERVAL)
INDEX = {
    item["file"]: item
    for item in json.loads(
        (FIXTURES / "printernizer" / "_index.json").read_text(encoding="utf-8")
    )
}


# --- recorded Printernizer --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """One recorded response: status, every recorded header, the body."""

    status: int
    headers: dict[str, str]
    body: Any


def recorded(
    name: str, *, headers: dict[str, str | None] | None = None, **body: Any
) -> Answer:
    """A recording of Printernizer 2.42.0, optionally with changed body fields or headers (None drops one)."""
    meta = INDEX[name]
    changed = headers or {}
    kept = {
        key: value
        for key, value in meta["headers"]
        if key != "content-length" and key not in changed
    }
    fixture = load_fixture(name)
    return Answer(
        status=meta["status"],
        headers=kept
        | {key: value for key, value in changed.items() if value is not None},
        body=fixture | body if body else fixture,
    )


@dataclass
class RecordedPrinternizer:
    """Serves recordings per path; a test switches them between polls.

    A path maps to one answer, or to one answer per page (`?page=N`); `once`
    answers the next request of a path only (a single 429, say).
    """

    answers: dict[str, Answer | list[Answer]] = field(
        default_factory=lambda: {
            "health": recorded("01_health.json"),
            "system/info": recorded("01d_system_info.json"),
            "usage-stats/status": recorded("05b_usage_stats_status.json"),
            "printers": recorded("02d_printers_list.json"),
            "jobs": recorded("08b_jobs_list_after_restart.json"),
            "files": recorded("04a_files_list_empty.json"),
        }
    )
    once: dict[str, Answer] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    # system/info's uptime grows with the (frozen) clock from its recorded
    # value, from the first request on.
    booted: float | None = None

    def count(self, path: str) -> int:
        """Requests of one path so far."""
        return self.requests.count(path)

    def restart(self, uptime: int = 0) -> None:
        """Printernizer restarts: its uptime starts again at `uptime`."""
        self.answers["system/info"] = recorded(
            "01d_system_info.json", uptime_seconds=uptime
        )
        self.booted = time.time()

    def _body(self, path: str, answer: Answer) -> Any:
        """The recorded body; system/info's uptime as time has passed since."""
        body = answer.body
        if self.booted is None:
            self.booted = time.time()
        if path == "system/info" and type(body.get("uptime_seconds")) is int:
            elapsed = int(time.time() - self.booted)
            body = body | {"uptime_seconds": body["uptime_seconds"] + elapsed}
        return body

    async def handle(self, request: web.Request) -> web.Response:
        """Answer with the recording chosen for this path."""
        path = request.match_info["path"]
        self.requests.append(path)
        answer = self.once.pop(path, None) or self.answers.get(path)
        if isinstance(answer, list):
            answer = answer[min(int(request.query.get("page", "1")), len(answer)) - 1]
        if answer is None:
            return web.json_response({"detail": "Not Found"}, status=404)
        return web.Response(
            status=answer.status,
            headers=answer.headers,
            body=json.dumps(self._body(path, answer)).encode(),
        )


@pytest.fixture
def recording() -> RecordedPrinternizer:
    """Printernizer as recorded: three printers, no jobs yet."""
    return RecordedPrinternizer()


@pytest.fixture
async def recording_entry(
    recording: RecordedPrinternizer, socket_enabled: None, entry_options: dict[str, Any]
) -> AsyncIterator[MockConfigEntry]:
    """A config entry pointing at the recordings, served on 127.0.0.1."""
    app = web.Application()
    app.router.add_route("*", "/api/v1/{path:.*}", recording.handle)
    server = await serve(app)
    yield make_entry(str(server.make_url("")).rstrip("/"), entry_options)
    await server.close()


# --- helpers ----------------------------------------------------------------------


async def today(hass: HomeAssistant) -> dict[str, Any]:
    """Today's counters from the export (all polls here stay within one UTC day)."""
    return dict((await export_answer(hass))["counters_by_day"].get(TODAY, {}))


async def poll(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, times: int = 1
) -> None:
    """Let the coordinator poll `times` times, a minute apart."""
    for _ in range(times):
        await advance(hass, freezer, SCAN_INTERVAL)


def state(hass: HomeAssistant, entity_id: str) -> str:
    """An entity's state as the next whole minute shows it."""
    publish(hass)
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current.state


def attributes(hass: HomeAssistant, entity_id: str) -> dict[str, Any]:
    """An entity's attributes as the next whole minute shows them."""
    publish(hass)
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return dict(current.attributes)


def our_sensors(hass: HomeAssistant) -> list[str]:
    """Every sensor of the integration."""
    return [
        s.entity_id
        for s in hass.states.async_all("sensor")
        if s.entity_id.startswith(PREFIX)
    ]


def loud(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Records above DEBUG from the integration and Home Assistant's coordinator."""
    return [
        r
        for r in caplog.records
        if r.name.startswith(LOGGERS) and r.levelno > logging.DEBUG
    ]


def typed(printer_type: str, count: int = 1, **extra: dict[str, int]) -> dict[str, Any]:
    """An exported event entry with its printer type (and other metadata)."""
    return {
        "count": count,
        "metadata": {"printer_type": {printer_type: count}, **extra},
    }


# --- recorded responses: jobs -----------------------------------------------------


async def test_recorded_jobs_counted_through_statuses(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
) -> None:
    """Created, running, a refused completion, failed, completed: each counted once, typed by printer."""
    await setup_entry(hass, recording_entry)
    assert state(hass, PRINTERS) == "3"
    assert attributes(hass, PRINTERS) == {
        "bambu_lab": 1,
        "prusa_core": 2,
        "state_class": "measurement",
        "friendly_name": "Printernizer Usage Statistics Printers",
    }
    for name in (
        "03d_jobs_list_after_create.json",
        "03f_jobs_list_after_job1_running.json",
        "03h_jobs_list_after_failed_completion_attempt.json",
        "03j_jobs_list_after_job2_failed.json",
        "03l_jobs_list_final.json",
        "03l_jobs_list_final.json",
    ):
        recording.answers["jobs"] = recorded(name)
        await poll(hass, freezer)

    counts = await today(hass)
    assert counts["job_created"] == {
        "count": 3,
        "metadata": {"printer_type": {"bambu_lab": 1, "prusa_core": 2}},
    }
    # Ran 19 s on the bambu_lab printer; failed at once on a prusa_core one.
    assert counts["job_completed"] == typed("bambu_lab", duration_minutes={"0-15m": 1})
    assert counts["job_failed"] == typed("prusa_core", duration_minutes={"0-15m": 1})
    assert (await export_answer(hass))["totals"] == {
        "job_created": 3,
        "job_completed": 1,
        "job_failed": 1,
    }
    assert [
        state(hass, e)
        for e in (CREATED_WEEK, COMPLETED_WEEK, FAILED_WEEK, COMPLETED_TOTAL)
    ] == ["3", "1", "1", "1"]


async def test_recorded_jobs_read_across_pages(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
) -> None:
    """Every page up to total_pages is read; what changed on page 2 counts, once."""
    recording.answers["jobs"] = recorded("03f_jobs_list_after_job1_running.json")
    await setup_entry(hass, recording_entry)
    recording.answers["jobs"] = [
        recorded("03m_jobs_list_limit2_page1.json"),
        recorded("03n_jobs_list_limit2_page2.json"),
        recorded("03o_jobs_list_limit2_page3_beyond.json"),
    ]
    before = recording.count("jobs")
    await poll(hass, freezer)
    assert recording.count("jobs") - before == 2
    await poll(hass, freezer, 2)

    assert (await export_answer(hass))["totals"] == {
        "job_completed": 1,
        "job_failed": 1,
    }
    counts = await today(hass)
    assert counts["job_completed"] == typed("bambu_lab", duration_minutes={"0-15m": 1})
    assert counts["job_failed"] == typed("prusa_core", duration_minutes={"0-15m": 1})


async def test_recorded_printernizer_restart_counts_nothing(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
) -> None:
    """Printernizer's restart empties its job list: nothing is counted, the fleet stays."""
    recording.answers["jobs"] = recorded("03j_jobs_list_after_job2_failed.json")
    recording.answers["printers"] = recorded("03q_printers_list_after_jobs.json")
    await setup_entry(hass, recording_entry)
    recording.answers["jobs"] = recorded("03l_jobs_list_final.json")
    await poll(hass, freezer)
    totals = (await export_answer(hass))["totals"]
    assert totals == {"job_completed": 1}

    recording.answers["health"] = recorded("08a_health_after_restart.json")
    recording.answers["jobs"] = recorded("08b_jobs_list_after_restart.json")
    recording.answers["printers"] = recorded("08c_printers_list_after_restart.json")
    await poll(hass, freezer, 3)

    assert (await export_answer(hass))["totals"] == totals
    assert state(hass, PRINTERS) == "3"
    assert state(hass, COMPLETED_WEEK) == "1"


async def test_recorded_uptime_drop_is_one_restart(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
) -> None:
    """system/info is read every poll: a restart is one app_start and one app_shutdown, at the next poll."""
    with patch(
        "custom_components.printernizer_stats.coordinator.is_hassio", return_value=True
    ):
        await setup_entry(hass, recording_entry)
    await poll(hass, freezer, 9)
    recording.restart(uptime=12)
    await poll(hass, freezer)
    counts = await today(hass)
    assert counts["app_start"] == {
        "count": 1,
        "metadata": {
            "app_version": {"2.42.0": 1},
            "deployment_mode": {"homeassistant": 1},
        },
    }
    assert counts["app_shutdown"] == {
        "count": 1,
        "metadata": {"uptime_hours": {"0-1h": 1}},
    }
    await poll(hass, freezer, 20)
    assert (await today(hass))["app_start"]["count"] == 1
    # Every poll reads the uptime; the sharing status every ten minutes.
    assert recording.count("system/info") == 31
    assert recording.count("usage-stats/status") == 4
    assert recording.count("health") == 31


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.42.0-3-g1a2b3c4", "2.42.0"),
        ("2.42.0-dirty", "2.42.0"),
        ("1a2b3c4", "unknown"),
        ("2.42.0", "2.42.0"),
    ],
)
async def test_recorded_version_kept_as_release(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
    version: str,
    expected: str,
) -> None:
    """A source install's version counts as its release; a bare commit hash as unknown."""
    await setup_entry(hass, recording_entry)
    assert (await export_answer(hass))["printernizer"]["app_version"] == "2.42.0"
    recording.answers["health"] = recorded("01_health.json", version=version)
    await poll(hass, freezer)
    assert (await export_answer(hass))["printernizer"]["app_version"] == expected


async def test_recorded_printernizer_shares_too(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
) -> None:
    """Printernizer's own opt-in shows on the sharing sensor; an error there changes nothing."""
    await setup_entry(hass, recording_entry)
    assert attributes(hass, SHARING)["printernizer_shares_too"] is False

    recording.answers["usage-stats/status"] = recorded(
        "05b_usage_stats_status.json", opted_in=True
    )
    # An answer without an uptime (as /health gives) is no reading.
    recording.answers["system/info"] = recorded("01_health.json")
    minutes = (await today(hass)).get("printernizer_uptime_minutes")
    await poll(hass, freezer, SLOW_POLLS - 1)
    assert attributes(hass, SHARING)["printernizer_shares_too"] is False
    await poll(hass, freezer)
    assert attributes(hass, SHARING)["printernizer_shares_too"] is True

    # Versions without these endpoints: the values just stay as they were.
    del recording.answers["usage-stats/status"]
    recording.answers["system/info"] = recorded("07a_error_printer_not_found.json")
    await advance(hass, freezer, SLOW_POLL_INTERVAL)
    assert attributes(hass, SHARING)["printernizer_shares_too"] is True
    assert state(hass, PRINTERS) == "3"
    export_data = await export_answer(hass)
    assert export_data["printernizer"]["shares_statistics"] is True
    # No uptime was read since: none was credited.
    assert (await today(hass)).get("printernizer_uptime_minutes") == minutes


# --- recorded responses: rate limits and errors -----------------------------------


async def test_recorded_rate_limit_resumes_with_refused_listing(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 429 is busy, not down: the fleet stays, only a debug line, and the next poll starts there."""
    caplog.set_level(logging.DEBUG)
    await setup_entry(hass, recording_entry)
    recording.once["jobs"] = recorded("06a_rate_limit_429.json")
    recording.requests.clear()
    await poll(hass, freezer)
    assert recording.requests == ["health", "printers", "jobs"]
    assert state(hass, PRINTERS) == "3"

    recording.answers["jobs"] = recorded("03d_jobs_list_after_create.json")
    recording.requests.clear()
    await poll(hass, freezer)
    assert recording.requests == ["health", "jobs", "files", "system/info", "printers"]
    assert (await export_answer(hass))["totals"] == {"job_created": 3}
    await poll(hass, freezer)
    assert recording.requests[5:] == [
        "health",
        "printers",
        "jobs",
        "files",
        "system/info",
    ]
    assert loud(caplog) == []
    assert "rate limited" in caplog.text


@pytest.mark.parametrize("header", ["retry-after", "x-ratelimit-reset"])
async def test_recorded_rate_limit_wait_honoured(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
    header: str,
) -> None:
    """No listing is asked for until the time the 429 named has passed; health still is."""
    await setup_entry(hass, recording_entry)
    refused_at = int(dt_util.utcnow().timestamp()) + 60
    headers: dict[str, str | None] = {"retry-after": "90"}
    if header == "x-ratelimit-reset":
        # Without Retry-After, the reset time (epoch seconds) is honoured.
        headers = {"retry-after": None, header: str(refused_at + 90)}
    recording.once["printers"] = recorded("06a_rate_limit_429.json", headers=headers)
    await poll(hass, freezer)
    recording.requests.clear()
    await poll(hass, freezer)
    assert recording.requests == ["health"]
    assert state(hass, PRINTERS) == "3"
    await poll(hass, freezer)
    assert recording.requests[1:] == [
        "health",
        "printers",
        "jobs",
        "files",
        "system/info",
    ]


async def test_recorded_health_rate_limited_skips_poll(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Should health ever answer 429, that poll reads nothing and nothing goes unavailable."""
    await setup_entry(hass, recording_entry)
    recording.once["health"] = recorded("06a_rate_limit_429.json")
    recording.requests.clear()
    await poll(hass, freezer)
    assert recording.requests == ["health"]
    assert all(state(hass, sensor) != STATE_UNAVAILABLE for sensor in our_sensors(hass))
    assert loud(caplog) == []


@pytest.mark.parametrize(
    ("path", "answer", "reason"),
    [
        (
            "health",
            recorded("04b_files_upload_malformed_multipart_400.json"),
            "http_400",
        ),
        ("health", recorded("05b_usage_stats_status.json"), "no_status"),
        ("jobs", recorded("07b_error_jobs_page0.json"), "http_422"),
        (
            "files",
            recorded("03g_job1_status_completed_with_notes_ERROR500.json"),
            "http_500",
        ),
        ("printers", recorded("01_health.json"), "not_a_listing"),
    ],
)
async def test_recorded_error_answers_make_printers_unavailable(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    path: str,
    answer: Answer,
    reason: str,
) -> None:
    """Three error answers in a row make the printers unavailable (one line, its reason only); then it recovers."""
    await setup_entry(hass, recording_entry)
    recording.answers[path], good = answer, recording.answers[path]
    await poll(hass, freezer, 2)
    assert state(hass, PRINTERS) == "3"
    assert loud(caplog) == []
    await poll(hass, freezer)
    assert state(hass, PRINTERS) == STATE_UNAVAILABLE
    assert state(hass, COMPLETED_TOTAL) == "0"
    errors = [r for r in loud(caplog) if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert reason in errors[0].getMessage()
    assert "CANARY" not in caplog.text

    recording.answers[path] = good
    await poll(hass, freezer)
    assert state(hass, PRINTERS) == "3"


async def test_recorded_marks_saved_when_poll_fails(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Marks taken before a listing failed are written like any other change."""
    facts = {"app_version": "2.42.0", "fleet": {"bambu_lab": 1, "prusa_core": 2}}
    hass_storage[DOMAIN] = {
        "version": 3,
        "minor_version": 1,
        "key": DOMAIN,
        "data": {"facts": facts},
    }
    recording.answers["jobs"] = recorded("03l_jobs_list_final.json")
    recording.answers["files"] = recorded("07a_error_printer_not_found.json")
    await setup_entry(hass, recording_entry)
    # One failed poll is not an outage: the stored fleet is shown.
    assert state(hass, PRINTERS) == "3"
    await advance(hass, freezer, timedelta(seconds=SAVE_DELAY + 1))
    tracker = hass_storage[DOMAIN]["data"]["tracker"]
    assert tracker["job_mark"] == "2026-11-30T00:51:48"
    assert tracker["connected"] == {"bambu_lab": 1}


# --- Home Assistant restarts ------------------------------------------------------


async def test_ha_restart_counts_transition_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
) -> None:
    """Nothing counted before a restart counts again; a job completed meanwhile counts once."""
    await setup_entry(hass, recording_entry)
    recording.answers["jobs"] = recorded("03d_jobs_list_after_create.json")
    await poll(hass, freezer)
    recording.answers["jobs"] = recorded("03j_jobs_list_after_job2_failed.json")
    await poll(hass, freezer)
    assert (await export_answer(hass))["totals"] == {"job_created": 3, "job_failed": 1}

    await restart(hass, recording_entry)
    await poll(hass, freezer, 2)
    assert (await export_answer(hass))["totals"] == {"job_created": 3, "job_failed": 1}

    # Completed while Home Assistant was stopped.
    assert await hass.config_entries.async_unload(recording_entry.entry_id)
    recording.answers["jobs"] = recorded("03l_jobs_list_final.json")
    await setup_entry(hass, recording_entry)
    await poll(hass, freezer, 2)
    await restart(hass, recording_entry)
    await poll(hass, freezer)
    export_data = await export_answer(hass)
    assert export_data["totals"] == {
        "job_created": 3,
        "job_failed": 1,
        "job_completed": 1,
    }
    assert export_data["counters_by_day"][TODAY]["job_completed"] == typed(
        "bambu_lab", duration_minutes={"0-15m": 1}
    )
    assert [state(hass, e) for e in (COMPLETED_WEEK, COMPLETED_TOTAL)] == ["1", "1"]


async def test_ha_restart_files_downloaded_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A file reaching downloaded counts once, across restarts too; one downloaded meanwhile counts."""
    await setup_entry(hass, mock_config_entry)
    file_id = printernizer.add_file(status="available", size=25_000_000)
    await poll(hass, freezer)
    printernizer.set_file_status(file_id, "downloading")
    await poll(hass, freezer)
    printernizer.set_file_status(file_id, "downloaded")
    await poll(hass, freezer, 2)
    assert (await today(hass))["file_downloaded"] == {
        "count": 1,
        "metadata": {"size_bytes": {"10-100MB": 1}},
    }

    await restart(hass, mock_config_entry)
    await poll(hass, freezer)
    assert (await export_answer(hass))["totals"] == {"file_downloaded": 1}
    stored = hass_storage[DOMAIN]["data"]["tracker"]
    assert stored["file_mark"] is not None
    assert file_id not in json.dumps(hass_storage[DOMAIN])

    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await advance(hass, freezer, timedelta(minutes=5))
    printernizer.add_file(status="downloaded", size=500_000)
    await setup_entry(hass, mock_config_entry)
    await poll(hass, freezer, 2)
    assert (await export_answer(hass))["totals"] == {"file_downloaded": 2}
    assert state(hass, DOWNLOADED_WEEK) == "2"


async def test_ha_restart_printernizer_restarted_meanwhile(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    """A start later than the stored one after a restart is one app_start; later readings add nothing."""
    await setup_entry(hass, mock_config_entry)
    await advance(hass, freezer, timedelta(hours=2))
    await poll(hass, freezer)
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    printernizer.restart()
    await advance(hass, freezer, timedelta(minutes=5))
    await setup_entry(hass, mock_config_entry)
    await poll(hass, freezer, SLOW_POLLS + 1)

    counts = await today(hass)
    assert counts["app_start"]["count"] == 1
    assert counts["app_shutdown"] == {
        "count": 1,
        "metadata": {"uptime_hours": {"1-24h": 1}},
    }
    # Up 2 h 1 min before; the restart's 5 min and the 11 polls after it.
    assert counts["printernizer_uptime_minutes"] == 121 + 5 + 11


async def test_quick_printernizer_restart_is_quiet_and_counted(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Down for 12 s between two polls: no warning or error, sensors available, one restart counted."""
    await setup_entry(hass, mock_config_entry)
    await poll(hass, freezer, 3)
    await advance(hass, freezer, timedelta(seconds=2))
    printernizer.available = False
    await poll(hass, freezer)
    printernizer.restart()
    printernizer.available = True
    await advance(hass, freezer, timedelta(seconds=12))
    await poll(hass, freezer, 2)
    assert loud(caplog) == []
    assert all(state(hass, s) != STATE_UNAVAILABLE for s in our_sensors(hass))
    counts = await today(hass)
    assert counts["app_start"]["count"] == 1
    assert counts["app_shutdown"]["count"] == 1


# --- deployment mode --------------------------------------------------------------


@pytest.mark.parametrize(
    ("supervised", "url", "expected"),
    [
        (True, "http://127.0.0.1:8000", "homeassistant"),
        (True, "http://127.0.0.53:8000", "homeassistant"),
        (True, "http://[::1]:8000", "homeassistant"),
        (True, "http://LOCALHOST:8000/", "homeassistant"),
        (True, "http://a0d7b954-printernizer:8000", "homeassistant"),
        (True, "http://local-printernizer:8000", "homeassistant"),
        (True, "http://192.168.1.20:8000", "unknown"),
        (True, "http://printernizer.lan:8000", "unknown"),
        (True, "http://a0d7b954.printernizer:8000", "unknown"),
        (False, "http://127.0.0.1:8000", "unknown"),
        (False, "http://a0d7b954-printernizer:8000", "unknown"),
    ],
)
async def test_deployment_mode_derived(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    entry_options: dict[str, Any],
    supervised: bool,
    url: str,
    expected: str,
) -> None:
    """`homeassistant` only under the Supervisor with Printernizer on this host or an add-on host."""
    base = url.rstrip("/").lower()
    for path, name in (
        ("health", "01_health.json"),
        ("printers", "02d_printers_list.json"),
        ("jobs", "03l_jobs_list_final.json"),
        ("files", "04a_files_list_empty.json"),
        ("system/info", "01d_system_info.json"),
        ("usage-stats/status", "05b_usage_stats_status.json"),
    ):
        aioclient_mock.get(f"{base}/api/v1/{path}", json=load_fixture(name))
    with patch(
        "custom_components.printernizer_stats.coordinator.is_hassio",
        return_value=supervised,
    ):
        await setup_entry(hass, make_entry(url, entry_options))
    assert state(hass, PRINTERS) == "3"
    export_data = await export_answer(hass)
    assert export_data["printernizer"]["deployment_mode"] == expected
    assert export_data["next_report"]["installation"]["deployment_mode"] == expected


# --- the simulator: request budget, rate limits, outages --------------------------


@pytest.mark.parametrize(("history", "requests_made"), [(0, 153), (201, 273)])
async def test_poll_request_budget(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
    mock_config_entry: MockConfigEntry,
    history: int,
    requests_made: int,
) -> None:
    """Thirty minutes: 5.1 requests a minute (at most 6), 9.1 with three pages of jobs and files."""
    for _ in range(history):
        printernizer.add_job(status="completed")
        printernizer.add_file(status="downloaded")
    await setup_entry(hass, mock_config_entry)
    printernizer.requests.clear()
    for _ in range(30):
        printernizer.advance()
        await poll(hass, freezer)

    requests = printernizer.requests
    # health, one page each (three for a long history), the uptime, and every
    # ten minutes whether Printernizer shares itself.
    assert sum(requests.values()) == requests_made <= 10 * 30
    assert requests["/api/v1/health"] == 30
    assert requests["/api/v1/system/info"] == 30
    # At most every ten minutes: at 10, 20 and 30 minutes after set-up.
    assert requests["/api/v1/usage-stats/status"] == 3
    assert sum((await export_answer(hass))["totals"].values()) > 0


async def test_uptime_minutes_are_printernizer_real_uptime(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Minutes up count per day, the time Home Assistant was stopped included; downtime is not."""
    await setup_entry(hass, mock_config_entry)
    for _ in range(21):
        await advance(hass, freezer, SLOW_POLL_INTERVAL)
    assert (await today(hass))["printernizer_uptime_minutes"] == 210

    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, timedelta(hours=2))
    await setup_entry(hass, mock_config_entry)
    assert (await today(hass))["printernizer_uptime_minutes"] == 330
    printernizer.available = False
    await advance(hass, freezer, SLOW_POLL_INTERVAL)
    assert (await today(hass))["printernizer_uptime_minutes"] == 330


async def test_rate_limited_one_in_three(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Ten minutes of 429 to one request in three: all available, nothing logged above debug, every read happens."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    printernizer.throttle_every = 3
    printernizer.opted_in = True
    await setup_entry(hass, mock_config_entry)
    assert attributes(hass, SHARING)["printernizer_shares_too"] is None
    bambu = next(iter(printernizer.printers))
    job_id = ""
    for minute in range(10):
        if minute == 2:  # after every listing's baseline (one was refused at set-up)
            job_id = printernizer.add_job(status="running")
            printernizer.add_file(status="downloaded", size=2_000_000)
            printernizer.set_printer_status(bambu, "offline")
        if minute == 6:
            printernizer.set_job_status(job_id, "completed")
        await poll(hass, freezer)
        unavailable = [
            s for s in our_sensors(hass) if state(hass, s) == STATE_UNAVAILABLE
        ]
        assert unavailable == []

    export_data = await export_answer(hass)
    assert export_data["totals"] == {
        "job_created": 1,
        "job_completed": 1,
        "file_downloaded": 1,
        "printer_disconnected": 1,
    }
    assert attributes(hass, SHARING)["printernizer_shares_too"] is True
    assert state(hass, PRINTERS) == "3"
    assert loud(caplog) == []
    assert "rate limited" in caplog.text


async def test_printernizer_down_and_back(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Down: the printers sensor is unavailable, logged once; bus counters keep counting; back: available."""
    await setup_entry(hass, mock_config_entry)
    printernizer.available = False
    for _ in range(3):
        await poll(hass, freezer)
        hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": "job_completed"})
    await advance(hass, freezer, timedelta(seconds=1))
    assert state(hass, PRINTERS) == STATE_UNAVAILABLE
    assert state(hass, COMPLETED_TOTAL) == "3"
    assert state(hass, COMPLETED_WEEK) == "3"
    down = [r for r in loud(caplog) if r.levelno >= logging.WARNING]
    assert len(down) == 1
    assert "http_503" in down[0].getMessage()

    printernizer.available = True
    await poll(hass, freezer)
    assert state(hass, PRINTERS) == "3"
    assert [r.getMessage() for r in loud(caplog) if r.levelno == logging.INFO] == [
        "Fetching printernizer_stats data recovered"
    ]


async def test_weekly_counters_start_again_each_week(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    """At the local week's start the weekly sensors show zero and a new last_reset; totals stay."""
    await setup_entry(hass, mock_config_entry)
    printernizer.add_job(status="completed")
    await poll(hass, freezer)
    assert [
        state(hass, e) for e in (CREATED_WEEK, COMPLETED_WEEK, COMPLETED_TOTAL)
    ] == ["1", "1", "1"]
    reset = dt_util.parse_datetime(attributes(hass, COMPLETED_WEEK)["last_reset"])
    assert reset is not None

    # Printernizer down: only the week timer can publish the new week.
    printernizer.available = False
    await advance(hass, freezer, reset + timedelta(days=7) - dt_util.utcnow())
    assert [
        state(hass, e) for e in (CREATED_WEEK, COMPLETED_WEEK, COMPLETED_TOTAL)
    ] == ["0", "0", "1"]
    new_reset = dt_util.parse_datetime(attributes(hass, COMPLETED_WEEK)["last_reset"])
    assert new_reset == reset + timedelta(days=7)

    printernizer.available = True
    printernizer.add_job(status="failed")
    await poll(hass, freezer)
    assert [state(hass, e) for e in (CREATED_WEEK, FAILED_WEEK)] == ["1", "1"]
    assert (await export_answer(hass))["totals"] == {
        "job_created": 2,
        "job_completed": 1,
        "job_failed": 1,
    }


# --- the one recording path, beside polling ---------------------------------------


async def test_bus_events_recorded_leniently(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bus events count beside polling; bad input is dropped by reason, logged rarely, never raised."""
    caplog.set_level(logging.DEBUG, logger=LOGGERS[0])
    await setup_entry(hass, mock_config_entry)
    for printer_type in ("octoprint", "bambu_lab"):
        await hass.services.async_call(
            DOMAIN,
            "record_event",
            {"event_type": "job_completed", "metadata": {"printer_type": printer_type}},
            blocking=True,
        )
    fire = hass.bus.async_fire
    fire(
        EVENT_PRINTERNIZER_STATS,
        {"event_type": "job_completed", "metadata": {"secret": "CANARY-X"}},
    )
    fire(EVENT_PRINTERNIZER_STATS, {"event_type": "CANARY-TYPE"})
    fire(EVENT_PRINTERNIZER_STATS, MappingProxyType({"event_type": "job_failed"}))
    with patch.object(UsageCounters, "record", side_effect=RuntimeError):
        fire(EVENT_PRINTERNIZER_STATS, {"event_type": "job_failed"})
    await advance(hass, freezer, timedelta(seconds=11))
    fire(EVENT_PRINTERNIZER_STATS, {"event_type": "job_created", "metadata": [1]})
    await advance(hass, freezer, timedelta(seconds=1))

    export_data = await export_answer(hass)
    assert export_data["totals"] == {"job_completed": 3, "job_created": 1}
    assert export_data["rejected_events"] == {
        "unknown_key": 1,
        "unknown_event_type": 2,
        "internal_error": 1,
        "invalid_metadata": 1,
    }
    assert [state(hass, e) for e in (COMPLETED_WEEK, CREATED_WEEK)] == ["3", "1"]
    drops = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("Dropped")
    ]
    assert drops == [
        "Dropped input of a job_completed event: unknown_key (0 more drops not logged)",
        "Dropped input of a job_created event: invalid_metadata (2 more drops not logged)",
    ]
    assert "CANARY" not in caplog.text


@pytest.mark.parametrize("excluded", [False, True])
async def test_bus_events_kept_by_recorder_raise_repair(
    hass: HomeAssistant,
    issue_registry: ir.IssueRegistry,
    mock_config_entry: MockConfigEntry,
    excluded: bool,
) -> None:
    """The first bus event checks whether Home Assistant's recorder keeps our events raw."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        ISSUE_RECORDER,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_RECORDER,
    )
    await setup_entry(hass, mock_config_entry)
    hass.config.components.add("recorder")
    recorder = SimpleNamespace(
        exclude_event_types={EVENT_PRINTERNIZER_STATS} if excluded else set()
    )
    with patch(
        "custom_components.printernizer_stats.recorded.get_instance",
        return_value=recorder,
    ):
        hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": "app_start"})
        await hass.async_block_till_done()
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_RECORDER)
    assert (issue is None) is excluded
    assert (await export_answer(hass))["totals"] == {"app_start": 1}


async def test_days_beyond_retention_pruned_at_start(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Days older than the retention window go at set-up; totals stay."""
    hass_storage[DOMAIN] = {
        "version": 3,
        "minor_version": 1,
        "key": DOMAIN,
        "data": {
            "counters": {
                "columns": ["job_completed"],
                "days": {"2026-06-01": [2], "2026-11-29": [1]},
                "totals": {"job_completed": 3},
            }
        },
    }
    await setup_entry(hass, mock_config_entry)
    export_data = await export_answer(hass)
    assert list(export_data["counters_by_day"]) == ["2026-11-29"]
    assert export_data["totals"] == {"job_completed": 3}
    assert state(hass, COMPLETED_TOTAL) == "3"


async def test_starved_by_another_client_raises_repair_until_reads_succeed(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Ten polls in a row that Printernizer is too busy for raise a repair; it clears itself."""
    caplog.set_level(logging.DEBUG, logger=LOGGERS[0])
    await setup_entry(hass, recording_entry)
    good = recording.answers["printers"]
    recording.answers["printers"] = recorded("06a_rate_limit_429.json")
    await poll(hass, freezer, 9)
    assert issue_registry.async_get_issue(DOMAIN, "printernizer_busy") is None
    await poll(hass, freezer)
    issue = issue_registry.async_get_issue(DOMAIN, "printernizer_busy")
    assert issue is not None
    assert issue.translation_placeholders == {"polls": "10"}
    assert state(hass, PRINTERS) == "3"
    # The log says when the next read really is: the next poll, not Retry-After's 1 s.
    assert "the next read is in 0:01:00" in caplog.text
    assert loud(caplog) == []

    recording.answers["printers"] = good
    await poll(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, "printernizer_busy") is None
    diagnostics_counts = hass.config_entries.async_entries(DOMAIN)[0].runtime_data
    assert diagnostics_counts.coordinator.starved == 0


async def test_states_change_only_on_the_whole_minute(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording_entry: MockConfigEntry,
) -> None:
    """Events at exact seconds show on the next whole minute, with that minute as their time."""
    await setup_entry(hass, recording_entry)
    freezer.move_to("2026-11-30 00:53:17.123456+00:00")
    hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": "job_completed"})
    await hass.async_block_till_done()
    current = hass.states.get(COMPLETED_TOTAL)
    assert current is not None
    assert current.state == "0"
    await next_minute(hass, freezer)
    current = hass.states.get(COMPLETED_TOTAL)
    assert current is not None
    assert current.state == "1"
    assert current.last_changed == dt_util.parse_datetime("2026-11-30 00:54:00+00:00")
    assert current.last_updated == current.last_changed


# --- hostile values from Printernizer (issue 15) ------------------------------------


def _jobs_with(*changes: dict[str, Any]) -> Answer:
    """The recorded list of three new jobs, the first ones changed as given."""
    answer = recorded("03d_jobs_list_after_create.json")
    jobs = [
        job | (changes[index] if index < len(changes) else {})
        for index, job in enumerate(answer.body["jobs"])
    ]
    return Answer(answer.status, answer.headers, answer.body | {"jobs": jobs})


async def test_year_one_timestamp_skips_only_that_job(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A job stamped year 1 (with an offset) next to good ones: they count, nothing fails."""
    recording.answers["jobs"] = recorded("08b_jobs_list_after_restart.json")
    await setup_entry(hass, recording_entry)
    recording.answers["jobs"] = _jobs_with({"created_at": "0001-01-01T00:00:00+05:00"})
    await poll(hass, freezer, 2)

    assert (await export_answer(hass))["totals"] == {"job_created": 2}
    assert state(hass, PRINTERS) == "3"
    assert loud(caplog) == []


async def test_job_stamped_2099_never_hides_later_jobs(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """After a 2099 job and a Home Assistant restart, jobs created later are counted."""
    recording.answers["jobs"] = recorded("08b_jobs_list_after_restart.json")
    await setup_entry(hass, recording_entry)
    recording.answers["jobs"] = _jobs_with({"created_at": "2099-01-01T00:00:00"})
    await poll(hass, freezer)
    await restart(hass, recording_entry)
    await advance(hass, freezer, timedelta(seconds=SAVE_DELAY + 1))
    assert hass_storage[DOMAIN]["data"]["tracker"]["job_mark"] < "2026-12-01"

    answer = _jobs_with({"created_at": "2099-01-01T00:00:00"})
    later = answer.body["jobs"][1] | {
        "id": "a-later-job",
        "created_at": "2026-11-30T01:10:00",
    }
    answer.body["jobs"].append(later)
    recording.answers["jobs"] = answer
    freezer.move_to("2026-11-30 01:11:00+00:00")
    await poll(hass, freezer)

    # Two good jobs at first, one more after the restart; never the 2099 one.
    assert (await export_answer(hass))["totals"]["job_created"] == 3


async def test_absurd_uptime_is_not_a_reading_and_keeps_every_counter(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recording: RecordedPrinternizer,
    recording_entry: MockConfigEntry,
) -> None:
    """uptime_seconds 1e22 is dropped where it enters: after a restart all counters are kept."""
    await setup_entry(hass, recording_entry)
    for _ in range(5):
        await hass.services.async_call(
            DOMAIN, "record_event", {"event_type": "job_completed"}, blocking=True
        )
    recording.answers["system/info"] = recorded(
        "01d_system_info.json", uptime_seconds=1e22
    )
    await poll(hass, freezer, 3)
    await restart(hass, recording_entry)

    export_data = await export_answer(hass)
    assert export_data["totals"] == {"job_completed": 5}
    assert export_data["counters_by_day"][TODAY]["job_completed"]["count"] == 5
    assert all(
        minutes <= 24 * 60
        for day in export_data["counters_by_day"].values()
        if (minutes := day.get("printernizer_uptime_minutes")) is not None
    )
