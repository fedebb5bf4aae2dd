"""Tests for the weekly report's life: scheduling, sending once, outcomes and consent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
import time
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import (
    HomeAssistantError,
    ServiceValidationError,
    Unauthorized,
)
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_fire_time_changed,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.printernizer_stats.config_flow import consent_options
from custom_components.printernizer_stats.const import (
    CONF_API_KEY,
    CONF_CONSENT_DAY,
    CONF_CONSENT_VERSION,
    CONF_ENDPOINT,
    CONF_SHARE,
    CONSENT_VERSION,
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    SERVICE_DELETE_ALL,
    SERVICE_EXPORT,
    SERVICE_PREVIEW,
    SERVICE_SUBMIT_NOW,
)
from custom_components.printernizer_stats.stats_api import (
    StatsServiceClient,
    SubmitOutcome,
    SubmitResult,
    backoff_delay,
)
from custom_components.printernizer_stats.storage import STORAGE_VERSION
from custom_components.printernizer_stats.submission import (
    ISSUE_API_KEY,
    ISSUE_RECONSENT,
    ISSUE_REJECTED,
    SubmissionManager,
)
from simulator.printernizer import PrinternizerSimulator
from simulator.stats_service import StatsServiceEmulator

from .conftest import API_KEY, CONSENT_DAY, settle

SHARING_STATUS = "sensor.printernizer_usage_statistics_sharing_status"
NEXT_SUBMISSION = "sensor.printernizer_usage_statistics_next_submission"
LAST_SUBMISSION = "sensor.printernizer_usage_statistics_last_submission"
INSTALLATION_ID = "5b0e8c3a-6f1d-4e2b-9a7c-0d4f3e2a1b6c"
NEW_API_KEY = "new-key"
START = "2026-11-02 08:00:00+00:00"
CLIENT_TIMEOUT = timedelta(seconds=30)

pytestmark = pytest.mark.freeze_time(START)


@pytest.fixture(autouse=True)
def printernizer_down(printernizer: PrinternizerSimulator) -> None:
    """Polls fail fast so only the events a test fires are counted."""
    printernizer.available = False


def _manager(entry: MockConfigEntry) -> SubmissionManager:
    """The loaded entry's submission manager."""
    manager: SubmissionManager = entry.runtime_data.submission
    return manager


async def _setup(
    hass: HomeAssistant, entry: MockConfigEntry, **options: Any
) -> SubmissionManager:
    """Add (once) and load the entry with option changes."""
    if entry.entry_id not in {e.entry_id for e in hass.config_entries.async_entries()}:
        entry.add_to_hass(hass)
    if options:
        hass.config_entries.async_update_entry(
            entry, options={**entry.options, **options}
        )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return _manager(entry)


async def _restart(hass: HomeAssistant, entry: MockConfigEntry) -> SubmissionManager:
    """Unload and set up again; storage carries over as after an HA restart."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return _manager(entry)


async def _change_options(
    hass: HomeAssistant, entry: MockConfigEntry, **options: Any
) -> SubmissionManager:
    """Update the options as the options flow does (the entry reloads)."""
    hass.config_entries.async_update_entry(entry, options={**entry.options, **options})
    await hass.async_block_till_done()
    return _manager(entry)


async def _fire(
    hass: HomeAssistant, event_type: str, count: int = 1, **meta: Any
) -> None:
    """Push events over the bus as Printernizer does."""
    for _ in range(count):
        hass.bus.async_fire(
            EVENT_PRINTERNIZER_STATS, {"event_type": event_type, "metadata": meta}
        )
    await hass.async_block_till_done()


async def _go(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta
) -> None:
    """Move time, fire what is due and let slow requests time out."""
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await settle(hass, freezer)


async def _days(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, days: float
) -> None:
    """Move time forward in six-hour steps."""
    for _ in range(round(days * 4)):
        await _go(hass, freezer, timedelta(hours=6))


async def _until_due(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, manager: SubmissionManager
) -> None:
    """Jump to the manager's next planned check and run it."""
    assert manager.next_check is not None
    freezer.move_to(manager.next_check)
    async_fire_time_changed(hass)
    await settle(hass, freezer)


async def _until_requests(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    manager: SubmissionManager,
    service: StatsServiceEmulator,
    count: int,
) -> None:
    """Run planned checks until the service has seen `count` requests."""
    for _ in range(200):
        if len(service.log) >= count:
            return
        await _until_due(hass, freezer, manager)
    pytest.fail(f"the service never saw {count} requests")


def _max_per_hour(times: list[datetime]) -> int:
    """The most requests seen in any rolling hour."""
    ordered = sorted(times)
    return max(
        (
            sum(1 for other in ordered[i:] if other - at < timedelta(hours=1))
            for i, at in enumerate(ordered)
        ),
        default=0,
    )


def _periods(service: StatsServiceEmulator) -> list[tuple[str, str]]:
    """The periods of the accepted reports, as (start, end) days."""
    return [
        (body["period"]["start"][:10], body["period"]["end"][:10])
        for body in service.accepted
    ]


async def _call(
    hass: HomeAssistant, service: str, context: Context | None = None
) -> dict[str, Any]:
    """Call one of our actions and return its response."""
    response = await hass.services.async_call(
        DOMAIN, service, blocking=True, return_response=True, context=context
    )
    assert isinstance(response, dict)
    return response


def _state(hass: HomeAssistant, entity_id: str) -> str:
    """The state of one of our sensors."""
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


def _issue(hass: HomeAssistant, issue_id: str) -> ir.IssueEntry | None:
    """One of our repair issues, if raised."""
    return ir.async_get(hass).async_get_issue(DOMAIN, issue_id)


def _stored_installation(hass_storage: dict[str, Any]) -> str | None:
    """The installation id in the storage file."""
    installation_id: str | None = hass_storage[DOMAIN]["data"]["installation"]["id"]
    return installation_id


def _preload(
    hass_storage: dict[str, Any],
    submission: dict[str, Any] | None = None,
    *,
    counters: dict[str, Any] | None = None,
    snapshot: dict[str, Any] | None = None,
) -> None:
    """Start from a storage file with a known installation id."""
    hass_storage[DOMAIN] = {
        "version": STORAGE_VERSION,
        "minor_version": 1,
        "key": DOMAIN,
        "data": {
            "columns": [],
            "days": {},
            "rejected": {},
            "totals": {},
            **(counters or {}),
            "installation": {"id": INSTALLATION_ID, "first_seen": CONSENT_DAY},
            "snapshot": snapshot or {},
            "submission": submission or {},
        },
    }


ORIGINAL_SUBMIT: Callable[..., Awaitable[SubmitResult]] = StatsServiceClient.submit


class SubmitSpy:
    """Records every submission attempt as the client makes it."""

    def __init__(self) -> None:
        """Nothing seen yet."""
        self.calls: list[tuple[datetime, str]] = []
        self.lose_response = 0

    async def submit(
        self, client: StatsServiceClient, body: bytes, *, idempotency_key: str
    ) -> SubmitResult:
        """Send for real; optionally pretend the answer was lost."""
        self.calls.append((dt_util.utcnow(), idempotency_key))
        result = await ORIGINAL_SUBMIT(client, body, idempotency_key=idempotency_key)
        if self.lose_response:
            self.lose_response -= 1
            return SubmitResult(SubmitOutcome.RETRY, None, None, None, "timeout")
        return result


@pytest.fixture
async def spy() -> AsyncIterator[SubmitSpy]:
    """Every attempt the client makes, including those the server never logs."""
    recorder = SubmitSpy()
    with patch.object(
        StatsServiceClient, "submit", autospec=True, side_effect=recorder.submit
    ):
        yield recorder


# --- restarts -----------------------------------------------------------------


async def test_restart_resends_same_idempotency_key(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    spy: SubmitSpy,
) -> None:
    """A report pending across a restart is resent with its key and counted once."""
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    await _fire(hass, "job_completed", 3)
    stats_service.down = True
    await _days(hass, freezer, 8)
    assert manager.pending is not None
    key = manager.pending.idempotency_key
    body = manager.pending.body
    assert manager.pending.attempts >= 1
    assert stats_service.accepted == []

    manager = await _restart(hass, mock_config_entry)
    assert manager.pending is not None
    assert manager.pending.idempotency_key == key
    assert manager.pending.body == body
    await _fire(hass, "job_completed", 5)

    stats_service.down = False
    await _days(hass, freezer, 2)
    assert {k for _, k in spy.calls} == {key}
    assert [s.idempotency_key for s in stats_service.submissions] == [key]
    assert _periods(stats_service) == [("2026-11-02", "2026-11-09")]
    assert stats_service.accepted[0]["usage_stats"]["job_count"] == 3
    assert _manager(mock_config_entry).pending is None

    await _days(hass, freezer, 7)
    assert _periods(stats_service) == [
        ("2026-11-02", "2026-11-09"),
        ("2026-11-09", "2026-11-16"),
    ]
    assert stats_service.accepted[1]["usage_stats"]["job_count"] == 5
    assert _max_per_hour([at for at, _ in spy.calls]) == 1


async def test_lost_answer_then_restart_is_not_counted_twice(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    spy: SubmitSpy,
) -> None:
    """The service stored the report but the answer was lost: the resend is a no-op."""
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    await _fire(hass, "file_downloaded", 4)
    spy.lose_response = 1
    await _until_requests(hass, freezer, manager, stats_service, 1)
    assert len(stats_service.submissions) == 1
    assert manager.pending is not None
    key = manager.pending.idempotency_key

    manager = await _restart(hass, mock_config_entry)
    await _days(hass, freezer, 2)
    assert [k for _, k in spy.calls] == [key, key]
    assert len(stats_service.submissions) == 1
    assert _periods(stats_service) == [("2026-11-02", "2026-11-09")]
    assert manager.history[-1]["submission_id"] == "1"
    assert _state(hass, LAST_SUBMISSION) != "unknown"


async def test_unload_during_request_leaves_no_timer(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    spy: SubmitSpy,
) -> None:
    """A request still running at unload does not keep sending after it."""
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    await _days(hass, freezer, 6.5)
    stats_service.slow_seconds = 120
    freezer.tick(timedelta(days=1))
    async_fire_time_changed(hass)
    for _ in range(5):
        await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.02)
    assert len(spy.calls) == 1
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await settle(hass, freezer)
    stats_service.slow_seconds = 0
    await _days(hass, freezer, 3)
    assert len(spy.calls) == 1
    assert manager.next_check is None

    manager = await _setup(hass, mock_config_entry)
    await _days(hass, freezer, 1)
    assert len(spy.calls) == 2
    assert _periods(stats_service) == [("2026-11-02", "2026-11-09")]


# --- the report -----------------------------------------------------------------


async def test_report_snapshot(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    snapshot: SnapshotAssertion,
) -> None:
    """The exact report for known counters; what preview shows is what is sent."""
    _preload(
        hass_storage,
        counters={
            "columns": ["job_completed", "error_occurred"],
            "days": {"2026-10-31": [50, 3]},
            "totals": {"job_completed": 50, "error_occurred": 3},
        },
        snapshot={
            "app_version": "2.7.0",
            "uptime_hours": 30.4,
            "fleet": {"bambu_lab": 2, "prusa_core": 1},
        },
    )
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    await _fire(hass, "job_completed", 4, printer_type="bambu_lab")
    await _fire(hass, "job_completed", 1, printer_type="prusa_core")
    await _fire(hass, "job_failed", 2)
    await _fire(hass, "file_downloaded", 3, size_bytes=2_000_000)
    await _go(hass, freezer, timedelta(days=2))
    await _fire(hass, "file_uploaded", 2)
    await _fire(hass, "error_occurred", 2, error_type="TimeoutError")
    await _fire(hass, "error_occurred", 1, error_type="ConnectionError")
    await _fire(hass, "feature_enabled", 1, feature="timelapse")
    await _fire(hass, "app_start", 1, library_enabled=False)
    await _go(hass, freezer, timedelta(days=4, hours=15))
    await _fire(hass, "job_completed", 7)
    assert stats_service.log == []

    preview = await _call(hass, SERVICE_PREVIEW)
    assert preview == snapshot(name="preview_before_due")

    stats_service.down = True
    await _until_requests(hass, freezer, manager, stats_service, 1)
    await _fire(hass, "job_completed", 100)
    pending = await _call(hass, SERVICE_PREVIEW)
    stats_service.down = False
    await _until_requests(hass, freezer, manager, stats_service, 2)
    assert stats_service.accepted == [pending["report"]]
    assert stats_service.accepted == [preview["report"]]
    assert stats_service.accepted == [snapshot(name="accepted_report")]
    assert pending["report"]["installation"]["installation_id"] == INSTALLATION_ID
    assert pending["report"]["usage_stats"]["job_count"] == 12


async def test_preview_shows_pending_report(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """While a report waits, preview and export show exactly those bytes."""
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    await _fire(hass, "job_completed", 2)
    stats_service.down = True
    await _days(hass, freezer, 7.5)
    await _fire(hass, "job_completed", 9)
    assert manager.pending is not None
    preview = await _call(hass, SERVICE_PREVIEW)
    assert preview["report"]["usage_stats"]["job_count"] == 2
    export = await _call(hass, SERVICE_EXPORT)
    assert export["next_report"] == preview["report"]
    assert export["submission"]["pending"]["period_end"] == "2026-11-09"

    stats_service.down = False
    await _days(hass, freezer, 1)
    assert stats_service.accepted == [preview["report"]]


async def test_no_data_from_before_consent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
) -> None:
    """Events recorded before the consent day never reach a report."""
    freezer.move_to("2026-10-28 09:00:00+00:00")
    await _setup(hass, mock_config_entry)
    await _fire(hass, "job_completed", 11)
    await _fire(hass, "error_occurred", 3, error_type="EarlyError")
    await _days(hass, freezer, 5)
    assert stats_service.log == []

    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_SHARE: True,
            CONF_ENDPOINT: mock_config_entry.options[CONF_ENDPOINT],
            CONF_API_KEY: API_KEY,
        },
    )
    await hass.async_block_till_done()
    assert mock_config_entry.options[CONF_CONSENT_DAY] == "2026-11-02"
    assert _state(hass, SHARING_STATUS) == "opted_in"
    await _fire(hass, "job_completed", 2)
    await _days(hass, freezer, 8)

    [report] = stats_service.accepted
    assert report["period"]["start"] == "2026-11-02T00:00:00+00:00"
    assert report["installation"]["first_seen"] == "2026-11-02T00:00:00+00:00"
    assert report["usage_stats"]["job_count"] == 2
    assert report["error_summary"] == {}


async def test_nothing_sent_without_consent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """Not opted in: counted locally, nothing sent in 30 days, no id exists."""
    manager = await _setup(hass, mock_config_entry)
    await _fire(hass, "job_completed", 5)
    await _days(hass, freezer, 30)
    assert stats_service.log == []
    assert manager.pending is None
    assert _stored_installation(hass_storage) is None
    assert _state(hass, SHARING_STATUS) == "opted_out"
    assert _state(hass, NEXT_SUBMISSION) == "unknown"
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, SERVICE_SUBMIT_NOW)
    assert err.value.translation_key == "not_opted_in"
    preview = await _call(hass, SERVICE_PREVIEW)
    assert preview["sharing_status"] == "opted_out"


async def test_outdated_consent_pauses(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """Consent to an older disclosure: paused, a repair issue, nothing sent."""
    await _setup(
        hass,
        mock_config_entry,
        **opted_in_options | {CONF_CONSENT_VERSION: CONSENT_VERSION - 1},
    )
    await _fire(hass, "job_completed", 5)
    await _days(hass, freezer, 30)
    assert stats_service.log == []
    assert _state(hass, SHARING_STATUS) == "paused"
    assert _state(hass, NEXT_SUBMISSION) == "unknown"
    assert _issue(hass, ISSUE_RECONSENT) is not None

    # Re-consenting (as the repair flow does) starts sharing from today.
    await _change_options(
        hass, mock_config_entry, **consent_options(True, mock_config_entry.options)
    )
    assert _issue(hass, ISSUE_RECONSENT) is None
    assert _state(hass, SHARING_STATUS) == "opted_in"
    await _fire(hass, "job_completed", 1)
    await _days(hass, freezer, 8)
    [report] = stats_service.accepted
    assert report["period"]["start"][:10] == "2026-12-02"
    assert report["usage_stats"]["job_count"] == 1


# --- outcomes ---------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failure_stops_until_new_key(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    spy: SubmitSpy,
    status: int,
) -> None:
    """401/403 stop sending and raise a repair; a new key resends the same report."""
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    stats_service.fail_next(status)
    await _days(hass, freezer, 7.5)
    assert [s for _, _, s in stats_service.log] == [status]
    assert manager.pending is not None
    key = manager.pending.idempotency_key
    assert _issue(hass, ISSUE_API_KEY) is not None
    assert _state(hass, SHARING_STATUS) == "failing"
    assert _state(hass, NEXT_SUBMISSION) == "unknown"

    await _days(hass, freezer, 10)
    manager = await _restart(hass, mock_config_entry)
    await _days(hass, freezer, 2)
    assert len(stats_service.log) == 1
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, SERVICE_SUBMIT_NOW)
    assert err.value.translation_key == "api_key_rejected"
    assert len(stats_service.log) == 1

    stats_service.api_keys.add(NEW_API_KEY)
    manager = await _change_options(
        hass, mock_config_entry, **{CONF_API_KEY: NEW_API_KEY}
    )
    assert _issue(hass, ISSUE_API_KEY) is None
    assert _state(hass, SHARING_STATUS) == "opted_in"
    await _days(hass, freezer, 1)
    assert stats_service.submissions[0].idempotency_key == key
    assert _periods(stats_service) == [
        ("2026-11-02", "2026-11-09"),
        ("2026-11-09", "2026-11-22"),
    ]
    assert _max_per_hour([at for at, _ in spy.calls]) == 1


@pytest.mark.parametrize("status", [400, 422])
async def test_rejected_report_is_never_resent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    status: int,
) -> None:
    """400/422 drop that payload, raise a repair and stop sending."""
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    stats_service.fail_next(status)
    await _days(hass, freezer, 7.5)
    assert [s for _, _, s in stats_service.log] == [status]
    assert manager.pending is None
    issue = _issue(hass, ISSUE_REJECTED)
    assert issue is not None
    assert issue.translation_placeholders == {"status": str(status)}
    assert _state(hass, SHARING_STATUS) == "failing"

    await _days(hass, freezer, 20)
    await _restart(hass, mock_config_entry)
    await _days(hass, freezer, 10)
    assert len(stats_service.log) == 1
    assert stats_service.accepted == []


async def test_rejected_state_clears_with_new_version(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """A rejection recorded by an older release does not block this one."""
    _preload(
        hass_storage,
        {"state": "rejected", "rejected_version": "0.0.1", "last_period_end": None},
    )
    ir.async_create_issue(
        hass,
        DOMAIN,
        ISSUE_REJECTED,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_REJECTED,
        translation_placeholders={"status": "422"},
    )
    await _setup(hass, mock_config_entry, **opted_in_options)
    assert _issue(hass, ISSUE_REJECTED) is None
    await _days(hass, freezer, 7.5)
    assert len(stats_service.accepted) == 1


async def test_rate_limited_honours_retry_after(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """429 with Retry-After: the next attempt waits at least that long."""
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    stats_service.fail_next(429, retry_after="10800")
    await _until_requests(hass, freezer, manager, stats_service, 1)
    [(first, _, status)] = stats_service.log
    assert status == 429
    assert manager.pending is not None
    assert manager.pending.next_attempt == first + timedelta(seconds=10800)
    assert _state(hass, SHARING_STATUS) == "failing"
    assert _state(hass, NEXT_SUBMISSION) == (
        (first + timedelta(seconds=10800)).replace(microsecond=0).isoformat()
    )

    while len(stats_service.log) == 1:
        await _go(hass, freezer, timedelta(minutes=20))
    second = stats_service.log[1][0]
    assert timedelta(seconds=10800) <= second - first < timedelta(hours=3, minutes=20)
    assert len(stats_service.accepted) == 1
    assert _state(hass, SHARING_STATUS) == "opted_in"


async def test_rate_limited_retry_after_survives_submit_now(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """submit_now does not jump the pause the service asked for."""
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    stats_service.fail_next(429, retry_after="10800")
    await _until_requests(hass, freezer, manager, stats_service, 1)
    first = stats_service.log[0][0]
    freezer.tick(timedelta(hours=1, minutes=5))
    response = await _call(
        hass, SERVICE_SUBMIT_NOW, Context(user_id=hass_admin_user.id)
    )
    assert response == {
        "submitted": False,
        "next_allowed": (first + timedelta(seconds=10800)).isoformat(),
        "last_submission": None,
    }
    assert len(stats_service.log) == 1


@pytest.mark.parametrize("retry_after", [None, "0", "soon"])
async def test_rate_limited_without_retry_after_backs_off(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    retry_after: str | None,
) -> None:
    """429 without a usable Retry-After backs off, never sooner than an hour."""
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    stats_service.fail_next(429, retry_after=retry_after)
    await _until_requests(hass, freezer, manager, stats_service, 1)
    [(first, _, _)] = stats_service.log
    assert manager.pending is not None
    assert manager.pending.next_attempt - first == timedelta(hours=1)
    await _until_requests(hass, freezer, manager, stats_service, 2)
    assert len(stats_service.accepted) == 1
    assert stats_service.log[1][0] - first == timedelta(hours=1)


def _break(kind: str, service: StatsServiceEmulator, times: int) -> None:
    """Make the next requests fail in one of the transient ways."""
    if kind == "down":
        service.down = True
    elif kind == "500":
        service.fail_next(500, times=times)
    elif kind == "reset":
        service.reset_next = times
    else:
        service.slow_seconds = CLIENT_TIMEOUT.total_seconds() * 3


@pytest.mark.parametrize("kind", ["down", "500", "reset", "timeout"])
async def test_transient_failures_back_off(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    spy: SubmitSpy,
    kind: str,
) -> None:
    """5xx, resets and timeouts: exponential backoff with jitter, one request an hour at most."""
    failures = 8
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    _break(kind, stats_service, failures)
    with patch(
        "custom_components.printernizer_stats.submission.backoff_delay",
        wraps=backoff_delay,
    ) as backoff:
        for attempt in range(failures):
            while len(spy.calls) == attempt:
                await _until_due(hass, freezer, manager)
                assert manager.next_check is not None
                assert manager.next_check - dt_util.utcnow() <= timedelta(hours=6)
            assert len(spy.calls) == attempt + 1
            sent = spy.calls[-1][0]
            assert manager.pending is not None
            delay = manager.pending.next_attempt - sent
            ceiling = min(timedelta(hours=2**attempt), timedelta(hours=24))
            assert timedelta(hours=1) <= delay <= ceiling
    assert [c.args[0] for c in backoff.call_args_list] == list(range(failures))
    assert len({c.kwargs["rng"] for c in backoff.call_args_list}) == 1
    assert _state(hass, SHARING_STATUS) == "failing"

    stats_service.down = False
    stats_service.slow_seconds = 0
    await _days(hass, freezer, 2)
    assert len(stats_service.accepted) == 1
    assert len(spy.calls) == failures + 1
    assert _max_per_hour([at for at, _ in spy.calls]) == 1
    assert {k for _, k in spy.calls} == {stats_service.submissions[0].idempotency_key}


async def test_backoff_is_jittered(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """Retry delays are drawn at random, so installs do not retry in lockstep."""
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    stats_service.down = True
    delays: set[timedelta] = set()
    while len(stats_service.log) < 12:
        await _until_due(hass, freezer, manager)
        if manager.pending is not None and manager.pending.attempts >= 6:
            delays.add(manager.pending.next_attempt - stats_service.log[-1][0])
    assert len(delays) > 1
    assert all(timedelta(hours=1) <= d <= timedelta(hours=24) for d in delays)


async def test_first_check_after_startup_delay(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """A due report waits 5 to 15 minutes after start-up; installs spread out."""
    freezer.move_to("2026-11-20 10:00:00+00:00")
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    started = dt_util.utcnow()
    assert manager.next_check is not None
    delay = manager.next_check - started
    assert timedelta(minutes=5) <= delay <= timedelta(minutes=15)

    await _go(hass, freezer, timedelta(minutes=4, seconds=59))
    assert stats_service.log == []
    await _until_due(hass, freezer, manager)
    assert len(stats_service.accepted) == 1
    assert _periods(stats_service) == [("2026-11-02", "2026-11-20")]

    offsets = {delay}
    for _ in range(3):
        manager = await _restart(hass, mock_config_entry)
        assert manager.next_check is not None
        offsets.add(manager.next_check - dt_util.utcnow())
    assert len(offsets) == 4
    assert all(timedelta(minutes=5) <= o <= timedelta(minutes=15) for o in offsets)


async def test_checks_at_least_daily(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """With nothing due, the next check is never more than a day away."""
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    for _ in range(10):
        await _until_due(hass, freezer, manager)
        assert manager.next_check is not None
        assert manager.next_check - dt_util.utcnow() <= timedelta(days=1)
    assert stats_service.log == []
    expected_due = datetime.fromisoformat("2026-11-09T00:00:00+00:00")
    assert _state(hass, NEXT_SUBMISSION) == expected_due.isoformat()


async def test_malformed_state_is_rebuilt(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """Unreadable submission state is dropped; the period is rebuilt from consent."""
    _preload(
        hass_storage,
        {
            "pending": {"period_start": "2026-11-02", "next_attempt": "soon"},
            "last_period_end": "yesterday",
            "last_success": 17,
            "last_request": "not a time",
            "state": "confused",
            "history": None,
        },
    )
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    assert manager.pending is None
    assert manager.last_success is None
    assert manager.history == []
    assert _state(hass, SHARING_STATUS) == "opted_in"
    await _days(hass, freezer, 7.5)
    assert _periods(stats_service) == [("2026-11-02", "2026-11-09")]


@pytest.mark.parametrize(
    "pending",
    [
        {"period_start": "2026-11-02"},
        {
            "period_start": "2026-11-02",
            "period_end": "2026-11-09",
            "idempotency_key": "k",
            "body": "{}",
            "attempts": 1,
            "next_attempt": "not a time",
        },
        {
            "period_start": "2026-11-02",
            "period_end": "2026-11-09",
            "idempotency_key": "k",
            "body": "{}",
            "attempts": "many",
            "next_attempt": "2026-11-09T01:00:00+00:00",
        },
    ],
)
async def test_malformed_pending_is_dropped(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    pending: dict[str, Any],
) -> None:
    """A pending report that cannot be read is rebuilt rather than sent."""
    _preload(hass_storage, {"pending": pending})
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    assert manager.pending is None


# --- consent lifecycle and actions ----------------------------------------------


async def test_opt_out_cancels_and_opt_in_starts_fresh(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """Opting out drops the pending report and the id; opting in again starts anew."""
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    await _fire(hass, "job_completed", 2)
    await _days(hass, freezer, 7.5)
    old_id = stats_service.submissions[0].installation_id
    stats_service.down = True
    await _days(hass, freezer, 7.5)
    assert manager.pending is not None

    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SHARE: False, CONF_ENDPOINT: mock_config_entry.options[CONF_ENDPOINT]},
    )
    await hass.async_block_till_done()
    manager = _manager(mock_config_entry)
    assert manager.pending is None
    assert manager.history == []
    assert _stored_installation(hass_storage) is None
    assert hass_storage[DOMAIN]["data"]["submission"]["pending"] is None
    assert hass_storage[DOMAIN]["data"]["submission"]["history"] == []
    assert _state(hass, SHARING_STATUS) == "opted_out"
    requests = len(stats_service.log)
    stats_service.down = False
    await _days(hass, freezer, 10)
    assert len(stats_service.log) == requests

    await _fire(hass, "job_completed", 6)
    freezer.tick(timedelta(days=1))
    await _fire(hass, "job_completed", 1)
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_SHARE: True,
            CONF_ENDPOINT: mock_config_entry.options[CONF_ENDPOINT],
            CONF_API_KEY: API_KEY,
        },
    )
    await hass.async_block_till_done()
    new_consent = dt_util.utcnow().date()
    new_id = _stored_installation(hass_storage)
    assert new_id is not None
    assert new_id != old_id
    assert len(stats_service.log) == requests
    await _fire(hass, "job_completed", 3)
    await _days(hass, freezer, 8)
    report = stats_service.accepted[-1]
    assert report["installation"]["installation_id"] == new_id
    assert report["installation"]["first_seen"] == f"{new_consent.isoformat()}T00:00:00+00:00"
    assert report["period"]["start"][:10] == new_consent.isoformat()
    assert report["usage_stats"]["job_count"] == 4


async def test_delete_all_erases_service_data(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """delete_all wipes local data, erases the service's copy and rotates the id."""
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    await _fire(hass, "job_completed", 4)
    await _days(hass, freezer, 15)
    old_id = _stored_installation(hass_storage)
    assert old_id is not None
    assert len(stats_service.submissions_for(old_id)) == 2
    await _fire(hass, "job_completed", 2)

    response = await _call(
        hass, SERVICE_DELETE_ALL, Context(user_id=hass_admin_user.id)
    )
    assert response["service_erasure"] == "erased"
    assert response["installation_id_rotated"] is True
    assert response["deleted"]["events"] == 6
    assert response["deleted"]["submissions"] == 2
    assert stats_service.submissions_for(old_id) == []
    assert stats_service.accepted == []
    new_id = _stored_installation(hass_storage)
    assert new_id is not None
    assert new_id != old_id
    assert manager.history == []
    assert hass_storage[DOMAIN]["data"]["days"] == {}

    deleted_on = dt_util.utcnow().date()
    await _fire(hass, "job_completed", 1)
    await _days(hass, freezer, 8)
    [report] = stats_service.accepted
    assert report["installation"]["installation_id"] == new_id
    assert report["period"]["start"][:10] == deleted_on.isoformat()
    assert report["usage_stats"]["job_count"] == 1


@pytest.mark.parametrize(
    ("opted_in", "submitted", "fail", "erasure"),
    [
        (True, False, False, "not_needed"),
        (False, False, False, "not_needed"),
        (True, True, True, "failed"),
    ],
)
async def test_delete_all_erasure_outcomes(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
    opted_in: bool,
    submitted: bool,
    fail: bool,
    erasure: str,
) -> None:
    """Nothing sent means nothing to erase; a failed erase is reported."""
    await _setup(hass, mock_config_entry, **(opted_in_options if opted_in else {}))
    await _fire(hass, "job_completed", 1)
    if submitted:
        await _days(hass, freezer, 7.5)
    if fail:
        stats_service.fail_next(500, endpoint="delete")
    old_id = _stored_installation(hass_storage)
    response = await _call(
        hass, SERVICE_DELETE_ALL, Context(user_id=hass_admin_user.id)
    )
    assert response["service_erasure"] == erasure
    assert response["installation_id_rotated"] is opted_in
    new_id = _stored_installation(hass_storage)
    assert (new_id is not None) is opted_in
    assert new_id is None or new_id != old_id
    deletes = [entry for entry in stats_service.log if entry[1] == old_id]
    assert len(deletes) == (2 if submitted else 0)


async def test_delete_all_requires_admin(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    hass_storage: dict[str, Any],
    hass_read_only_user: MockUser,
) -> None:
    """A non-admin user cannot delete everything or force a submission."""
    await _setup(hass, mock_config_entry, **opted_in_options)
    await _fire(hass, "job_completed", 1)
    before = _stored_installation(hass_storage)
    for service in (SERVICE_DELETE_ALL, SERVICE_SUBMIT_NOW):
        with pytest.raises(Unauthorized):
            await _call(hass, service, Context(user_id=hass_read_only_user.id))
    assert _stored_installation(hass_storage) == before


async def test_submit_now_respects_hourly_limit(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """The first call sends; a second within the hour returns when it may."""
    context = Context(user_id=hass_admin_user.id)
    await _setup(hass, mock_config_entry, **opted_in_options)
    await _fire(hass, "job_completed", 3)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, SERVICE_SUBMIT_NOW, context)
    assert err.value.translation_key == "nothing_to_submit"
    await _days(hass, freezer, 2)

    first = await _call(hass, SERVICE_SUBMIT_NOW, context)
    now = dt_util.utcnow()
    assert first == {
        "submitted": True,
        "next_allowed": None,
        "last_submission": now.isoformat(),
    }
    assert _periods(stats_service) == [("2026-11-02", "2026-11-04")]
    assert stats_service.accepted[0]["usage_stats"]["job_count"] == 3

    freezer.tick(timedelta(minutes=30))
    second = await _call(hass, SERVICE_SUBMIT_NOW, context)
    assert second == {
        "submitted": False,
        "next_allowed": (now + timedelta(hours=1)).isoformat(),
        "last_submission": now.isoformat(),
    }
    assert len(stats_service.log) == 1

    await _days(hass, freezer, 7.5)
    assert _periods(stats_service) == [
        ("2026-11-02", "2026-11-04"),
        ("2026-11-04", "2026-11-11"),
    ]


async def test_submit_now_reports_failure(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """A failed forced submission raises; the report stays pending with its key."""
    context = Context(user_id=hass_admin_user.id)
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    await _days(hass, freezer, 2)
    stats_service.down = True
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, SERVICE_SUBMIT_NOW, context)
    assert err.value.translation_key == "submission_failed"
    assert manager.pending is not None
    key = manager.pending.idempotency_key
    stats_service.down = False
    await _days(hass, freezer, 1)
    assert [s.idempotency_key for s in stats_service.submissions] == [key]


async def test_submit_now_after_rejection_sends_fresh_report(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """An admin can retry after a rejection; success clears the repair issue."""
    manager = await _setup(hass, mock_config_entry, **opted_in_options)
    stats_service.fail_next(422)
    await _days(hass, freezer, 7.5)
    assert _issue(hass, ISSUE_REJECTED) is not None
    response = await _call(
        hass, SERVICE_SUBMIT_NOW, Context(user_id=hass_admin_user.id)
    )
    assert response["submitted"] is True
    assert len(stats_service.accepted) == 1
    assert manager.pending is None
    assert _issue(hass, ISSUE_REJECTED) is None
    assert _state(hass, SHARING_STATUS) == "opted_in"
