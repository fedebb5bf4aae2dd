"""Tests for the weekly report's life through Home Assistant: consent, sending, outcomes, erasure."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
import itertools
import logging
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import jsonschema
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.printernizer_stats.consent import Consent
from custom_components.printernizer_stats.const import (
    CONF_API_KEY,
    DATA_REPORTED_UNTIL,
    DATA_SERVICE_IDS,
    DATA_SERVICE_KEYS,
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    ISSUE_ERASURE,
    ISSUE_REJECTED,
)
from custom_components.printernizer_stats.delivery import Recipient, origin
from custom_components.printernizer_stats.errors import ContractError
from custom_components.printernizer_stats.report import Period
from custom_components.printernizer_stats.stats_api import StatsServiceClient
from custom_components.printernizer_stats.storage import STORAGE_KEY
from simulator.stats_service import StatsServiceEmulator

from .conftest import (
    advance,
    call_action,
    full_disk,
    load_schema,
    make_entry,
    next_minute,
    opt_out,
    restart,
    setup_entry,
)

START = "2026-11-02 08:00:00+00:00"
SHARING = "sensor.printernizer_usage_statistics_sharing_status"
NEXT = "sensor.printernizer_usage_statistics_next_submission"
VALIDATOR = jsonschema.Draft202012Validator(
    load_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)

pytestmark = [
    pytest.mark.freeze_time(START),
    pytest.mark.usefixtures("printernizer_down"),
]


def _fire(hass: HomeAssistant, event_type: str, count: int = 1, **meta: Any) -> None:
    """Fire events on the bus."""
    for _ in range(count):
        hass.bus.async_fire(
            EVENT_PRINTERNIZER_STATS, {"event_type": event_type, "metadata": meta}
        )


def _state(entry: MockConfigEntry) -> Any:
    """The delivery state of the loaded entry."""
    return entry.runtime_data.storage.data.delivery


async def test_weekly_report_fits_the_real_contract(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
) -> None:
    """The first week goes out once its 7 days are over, valid for the real service."""
    await setup_entry(hass, entry)
    _fire(hass, "job_completed", 3)  # consent day: never reported
    await advance(hass, freezer, timedelta(days=1))
    _fire(hass, "job_completed", 2, printer_type="bambu_lab", duration_minutes=95)
    _fire(hass, "error_occurred", error_type="JohnSmithError")
    _fire(hass, "error_occurred", error_type="TimeoutError")
    await advance(hass, freezer, timedelta(days=7))

    assert len(stats_service.accepted) == 1
    report = stats_service.accepted[0]
    assert not list(VALIDATOR.iter_errors(report))
    assert report["period"] == {
        "start": "2026-11-03T00:00:00+00:00",
        "end": "2026-11-10T00:00:00+00:00",
        "duration_days": 7,
    }
    assert report["installation"]["first_seen"] == "2026-11-03T00:00:00+00:00"
    assert report["usage_stats"]["job_count"] == 2
    assert report["error_summary"] == {"TimeoutError": 1, "other": 1}
    assert stats_service.submissions[0].idempotency_key
    await next_minute(hass, freezer)
    assert hass.states.get(SHARING).state == "opted_in"


async def test_events_before_consent_on_the_consent_day_stay_home(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    entry_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """Three jobs at 00:30, consent at 23:00: the report does not carry them."""
    freezer.move_to("2026-11-02 00:30:00+00:00")
    entry = await setup_entry(hass, make_entry(printernizer_url, entry_options))
    _fire(hass, "job_completed", 3)
    await advance(hass, freezer, timedelta(hours=22, minutes=30))
    consent = Consent().answered(True, dt_util.utcnow().date())
    hass.config_entries.async_update_entry(entry, options={**entry.options, **consent})
    await hass.async_block_till_done(wait_background_tasks=True)
    _fire(hass, "job_completed", 1)  # 23:00 on the consent day: still not sent
    await advance(hass, freezer, timedelta(days=8, hours=2))

    (report,) = stats_service.accepted
    assert report["period"]["start"] == "2026-11-03T00:00:00+00:00"
    assert report["usage_stats"]["job_count"] == 0


async def test_rejected_report_is_not_resent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
) -> None:
    """422: the payload is dropped, a repair explains, sharing pauses until an update."""
    await setup_entry(hass, entry)
    stats_service.fail_next(422)
    await advance(hass, freezer, timedelta(days=9))
    assert [status for _, _, status in stats_service.log] == [422]
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_REJECTED)
    assert _state(entry).pending is None
    await next_minute(hass, freezer)
    assert hass.states.get(SHARING).state == "failing"
    assert hass.states.get(NEXT).state == "unknown"

    # A new version of the integration builds the report again and sends it.
    newer = SimpleNamespace(version="9.9.9")
    with patch(
        "custom_components.printernizer_stats.async_get_integration", return_value=newer
    ):
        await restart(hass, entry)
        await advance(hass, freezer, timedelta(hours=7))
    (report,) = stats_service.accepted
    assert report["period"]["start"] == "2026-11-03T00:00:00+00:00"
    assert not ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_REJECTED)


async def test_rejected_key_starts_reauthentication(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
) -> None:
    """401: nothing more is sent; the re-authenticate flow delivers the pending report."""
    await setup_entry(hass, entry)
    stats_service.api_keys = {"other-key"}
    await advance(hass, freezer, timedelta(days=9))
    assert [status for _, _, status in stats_service.log] == [401]
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    key = _state(entry).pending.idempotency_key

    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {CONF_API_KEY: "other-key"}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    await advance(hass, freezer, timedelta(hours=6))
    (submission,) = stats_service.submissions
    assert submission.idempotency_key == key
    await next_minute(hass, freezer)
    assert hass.states.get(SHARING).state == "opted_in"


async def test_rate_limited_waits_an_hour_at_least(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
) -> None:
    """429 without Retry-After (as the real service answers): back off at least an hour."""
    await setup_entry(hass, entry)
    stats_service.fail_next(429, times=2)
    await advance(hass, freezer, timedelta(days=9))
    times = [at for at, _, _ in stats_service.log]
    assert len(times) == 3
    assert all(b - a >= timedelta(hours=1) for a, b in itertools.pairwise(times))
    assert len(stats_service.accepted) == 1


async def test_restart_resends_a_report_that_may_have_arrived(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
) -> None:
    """Stopped after the service stored the report but before its answer was saved.

    The attempt was saved before the request left, so after the restart the
    report goes out again with the same Idempotency-Key. The real service does
    not deduplicate and then holds it twice: the window the README describes.
    """
    await setup_entry(hass, entry)
    original = StatsServiceClient.submit

    async def stopped_after_delivery(
        client: StatsServiceClient, *args: Any, **kwargs: Any
    ) -> Any:
        await original(client, *args, **kwargs)
        raise asyncio.CancelledError  # Home Assistant stops before the answer is saved

    with patch.object(StatsServiceClient, "submit", stopped_after_delivery):
        await advance(hass, freezer, timedelta(days=8))
        assert len(stats_service.submissions) == 1
        assert _state(entry).pending.attempts == 1
        await restart(hass, entry)
    await advance(hass, freezer, timedelta(hours=2))

    first, second = stats_service.submissions
    assert first.idempotency_key == second.idempotency_key
    assert first.body == second.body
    assert _state(entry).pending is None
    assert _state(entry).reported_until.isoformat() == "2026-11-10"


async def test_full_disk_sends_nothing_until_the_state_can_be_saved(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
) -> None:
    """A save that fails blocks every request until a save succeeds again."""
    await setup_entry(hass, entry)
    with full_disk():
        await advance(hass, freezer, timedelta(days=9))
        assert stats_service.log == []
        assert not entry.runtime_data.storage.healthy
    await advance(hass, freezer, timedelta(hours=12))
    assert entry.runtime_data.storage.healthy
    assert len(stats_service.accepted) == 1


async def test_lost_storage_does_not_resend_reported_days(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_storage: dict[str, Any],
) -> None:
    """The end of the last accepted period survives in the entry: a new id starts after it."""
    await setup_entry(hass, entry)
    await advance(hass, freezer, timedelta(days=8))
    first = stats_service.accepted[0]
    assert entry.data[DATA_REPORTED_UNTIL] == "2026-11-10"
    old_id = first["installation"]["installation_id"]
    stats_endpoint = entry.options["endpoint"]
    assert entry.data[DATA_SERVICE_IDS] == [
        {"installation_id": old_id, "endpoint": stats_endpoint}
    ]

    assert await hass.config_entries.async_unload(entry.entry_id)
    hass_storage.pop(STORAGE_KEY)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await advance(hass, freezer, timedelta(days=7))
    second = stats_service.accepted[1]
    assert second["period"]["start"] == "2026-11-10T00:00:00+00:00"
    assert second["installation"]["installation_id"] != old_id
    # The old id stays where it was sent until that service erases it.
    assert Recipient(old_id, stats_endpoint) in _state(entry).recipients


async def test_catching_up_goes_week_by_week(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
) -> None:
    """After three weeks of outage the missed weeks go out as 7-day reports, oldest first."""
    await setup_entry(hass, entry)
    stats_service.down = True
    await advance(hass, freezer, timedelta(days=23))
    stats_service.down = False
    await advance(hass, freezer, timedelta(days=2))
    starts = [r["period"]["start"][:10] for r in stats_service.accepted]
    assert starts == ["2026-11-03", "2026-11-10", "2026-11-17"]
    assert {r["period"]["duration_days"] for r in stats_service.accepted} == {7}


async def test_opting_out_erases_every_id_sent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
) -> None:
    """Opting out asks the service to erase; a failing erasure is kept across restarts."""
    await setup_entry(hass, entry)
    await advance(hass, freezer, timedelta(days=8))
    sent_id = stats_service.accepted[0]["installation"]["installation_id"]
    stats_service.down = True
    await opt_out(hass, entry)
    await advance(hass, freezer, timedelta(hours=18))
    assert _state(entry).installation_id is None
    assert [e.installation_id for e in _state(entry).erasures] == [sent_id]
    await next_minute(hass, freezer)
    attributes = hass.states.get(SHARING).attributes
    assert attributes["pending_erasures"] == {origin(entry.options["endpoint"]): 1}

    await restart(hass, entry)
    await advance(hass, freezer, timedelta(days=2))
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_ERASURE)
    stats_service.down = False
    await advance(hass, freezer, timedelta(days=1))
    assert stats_service.deleted_ids == [sent_id]
    assert _state(entry).recipients == []
    assert entry.data[DATA_SERVICE_IDS] == []
    assert entry.data[DATA_SERVICE_KEYS] == {}
    assert not ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_ERASURE)
    await next_minute(hass, freezer)
    assert hass.states.get(SHARING).attributes["pending_erasures"] == {}


async def test_clock_jump_and_correction_change_nothing(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
) -> None:
    """A year ahead for 12 hours, then back: no future report, no lost day, no stall."""
    await setup_entry(hass, entry)
    await advance(hass, freezer, timedelta(days=3))
    storage = entry.runtime_data.storage
    # Only the wall clock jumps; the time Home Assistant's timers count goes on.
    storage.wall_clock = lambda: dt_util.utcnow() + timedelta(days=365)
    await advance(hass, freezer, timedelta(seconds=1))
    _fire(hass, "job_completed", 4)
    await advance(hass, freezer, timedelta(hours=12))
    assert stats_service.log == []
    assert storage.data.clock.holding
    storage.wall_clock = dt_util.utcnow
    await advance(hass, freezer, timedelta(days=5))

    (report,) = stats_service.accepted
    assert report["period"]["end"] == "2026-11-10T00:00:00+00:00"
    assert report["usage_stats"]["job_count"] == 4
    assert not storage.data.clock.holding
    assert datetime.fromisoformat(report["submission_timestamp"]) <= dt_util.utcnow()


async def test_days_older_than_retention_are_skipped_with_a_log_line(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Never-reported days beyond the 90-day retention are dropped from the plan, not sent."""
    options = {**opted_in_options, "consent_day": "2026-05-01"}
    entry = make_entry(printernizer_url, options, reported_until="2026-06-01")
    await setup_entry(hass, entry)
    await advance(hass, freezer, timedelta(hours=1))
    assert "never reported and are older than the 90-day retention" in caplog.text
    assert _state(entry).reported_until.isoformat() == "2026-08-12"
    (report,) = stats_service.accepted
    assert report["period"]["start"] == "2026-08-05T00:00:00+00:00"
    assert report["period"]["duration_days"] == 7


async def test_a_report_that_does_not_fit_is_never_sent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A builder bug: logged once, nothing sent, not retried every second."""
    await setup_entry(hass, entry)
    with patch(
        "custom_components.printernizer_stats.submission.build_report",
        side_effect=ContractError("installation.first_seen: not a date-time"),
    ) as build:
        await advance(hass, freezer, timedelta(days=9))
    assert stats_service.log == []
    assert caplog.text.count("does not fit the service") == 1
    assert build.call_count <= 9 * 4 + 2
    await advance(hass, freezer, timedelta(hours=7))
    assert len(stats_service.accepted) == 1


async def test_submit_now_with_a_full_disk(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """submit_now says the file cannot be written, and nothing is sent."""
    await setup_entry(hass, entry)
    await advance(hass, freezer, timedelta(days=2))
    with full_disk():
        await entry.runtime_data.storage.async_commit()
        with pytest.raises(HomeAssistantError) as err:
            await call_action(hass, "submit_now", user=hass_admin_user)
    assert err.value.translation_key == "storage_unwritable"
    assert stats_service.log == []


async def _submit_now(
    hass: HomeAssistant, user: MockUser, caplog: pytest.LogCaptureFixture
) -> dict[str, Any]:
    """Call submit_now as an admin; an expected outcome is an answer and logs no ERROR."""
    caplog.clear()
    response = await call_action(hass, "submit_now", user=user)
    assert response is not None
    # The emulator's own access log cannot format a frozen time on Python 3.14
    # (aiohttp's "Error in logging"): that is the test server, not Home Assistant.
    errors = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name != "aiohttp.access"
    ]
    assert not errors, [r.getMessage() for r in errors]
    return dict(response)


async def test_submit_now_answers_sent_then_too_soon(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Sent: the complete days so far; a second call within the hour is too soon, with the time."""
    await setup_entry(hass, entry)
    await advance(hass, freezer, timedelta(days=2))  # 11-04 08:00: 11-03 is complete
    sent_at = dt_util.utcnow()

    answer = await _submit_now(hass, hass_admin_user, caplog)

    assert answer == {
        "submitted": True,
        "reason": "sent",
        "next_allowed": None,
        "last_submission": sent_at.isoformat(),
    }
    (report,) = stats_service.accepted
    assert report["period"]["start"] == "2026-11-03T00:00:00+00:00"
    assert report["period"]["duration_days"] == 1

    freezer.tick(timedelta(minutes=20))
    answer = await _submit_now(hass, hass_admin_user, caplog)
    assert answer["submitted"] is False
    assert answer["reason"] == "too_soon"
    assert answer["next_allowed"] == (sent_at + timedelta(hours=1)).isoformat()
    assert len(stats_service.log) == 1


async def test_submit_now_answers_not_sharing(
    hass: HomeAssistant,
    printernizer_url: str,
    entry_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without consent: not_sharing, and nothing is sent."""
    await setup_entry(hass, make_entry(printernizer_url, entry_options))
    answer = await _submit_now(hass, hass_admin_user, caplog)
    assert answer["submitted"] is False
    assert answer["reason"] == "not_sharing"
    assert answer["next_allowed"] is None
    assert stats_service.log == []


async def test_submit_now_answers_nothing_due(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On the consent day no reportable day is complete: nothing_due."""
    await setup_entry(hass, entry)
    answer = await _submit_now(hass, hass_admin_user, caplog)
    assert answer["submitted"] is False
    assert answer["reason"] == "nothing_due"
    assert answer["next_allowed"] is None
    assert stats_service.log == []


@pytest.mark.parametrize(
    ("status", "reason", "halted"),
    [(401, "key_refused", "auth_failed"), (422, "rejected", "rejected")],
)
async def test_submit_now_answers_refusals(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
    caplog: pytest.LogCaptureFixture,
    status: int,
    reason: str,
    halted: str,
) -> None:
    """A refused key or report: the answer says so, again on the next call, with one request."""
    await setup_entry(hass, entry)
    await advance(hass, freezer, timedelta(days=2))
    stats_service.fail_next(status)

    answer = await _submit_now(hass, hass_admin_user, caplog)
    assert answer["submitted"] is False
    assert answer["reason"] == reason
    assert answer["next_allowed"] is None
    assert str(_state(entry).halt) == halted

    answer = await _submit_now(hass, hass_admin_user, caplog)
    assert answer["reason"] == reason
    assert [entry[2] for entry in stats_service.log] == [status]


@pytest.mark.parametrize(
    ("status", "retry_after", "wait"),
    [
        (503, None, timedelta(hours=1)),
        (429, "7200", timedelta(hours=2)),
    ],
)
async def test_submit_now_answers_retry_later(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
    caplog: pytest.LogCaptureFixture,
    status: int,
    retry_after: str | None,
    wait: timedelta,
) -> None:
    """Not delivered: retry_later with the time of the next attempt (at least the hour, or as asked)."""
    await setup_entry(hass, entry)
    await advance(hass, freezer, timedelta(days=2))
    stats_service.fail_next(status, retry_after=retry_after)
    now = dt_util.utcnow()

    answer = await _submit_now(hass, hass_admin_user, caplog)

    assert answer["submitted"] is False
    assert answer["reason"] == "retry_later"
    next_allowed = dt_util.parse_datetime(answer["next_allowed"])
    assert next_allowed is not None
    assert next_allowed >= now + wait
    if retry_after is not None:
        assert next_allowed == now + wait
    # The waiting report is what preview shows, and goes out on its own once allowed.
    preview = await hass.services.async_call(
        DOMAIN, "preview", blocking=True, return_response=True
    )
    assert preview is not None
    await advance(hass, freezer, next_allowed - now + timedelta(minutes=1))
    assert stats_service.accepted == [preview["report"]]


async def test_submit_now_after_a_check_that_just_sent(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_admin_user: MockUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A check ahead of submit_now used the hour: submit_now says when it may send."""
    await setup_entry(hass, entry)
    submission = entry.runtime_data.submission
    _state(entry).freeze(
        Period(date(2026, 11, 3), date(2026, 11, 4)), "{}", dt_util.utcnow()
    )
    now = dt_util.utcnow()

    async def check_that_just_sent(**_: Any) -> None:
        _state(entry).last_request = now

    with patch.object(submission, "async_check", side_effect=check_that_just_sent):
        answer = await _submit_now(hass, hass_admin_user, caplog)
    assert answer["submitted"] is False
    assert answer["reason"] == "too_soon"
    assert answer["next_allowed"] == (now + timedelta(hours=1)).isoformat()


async def test_a_clock_that_went_back_for_good_does_not_stop_sending(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Reports were sent under a clock a month ahead; once the real time is believed, the plan goes on from today."""
    await setup_entry(hass, entry)
    storage = entry.runtime_data.storage
    storage.wall_clock = lambda: dt_util.utcnow() + timedelta(days=30)
    await advance(hass, freezer, timedelta(days=2))
    assert stats_service.accepted
    storage.wall_clock = dt_util.utcnow
    await advance(hass, freezer, timedelta(days=2))
    assert "The clock went back" in caplog.text
    assert _state(entry).reported_until <= dt_util.utcnow().date()
    sent = len(stats_service.accepted)
    await advance(hass, freezer, timedelta(days=8))
    assert len(stats_service.accepted) > sent


async def test_nothing_is_scheduled_after_unload(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """A check still running when the entry unloads plans no further check."""
    await setup_entry(hass, entry)
    submission = entry.runtime_data.submission
    assert await hass.config_entries.async_unload(entry.entry_id)
    await submission.async_check()
    assert submission.next_check is None
