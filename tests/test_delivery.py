"""Tests for the delivery policy, directly on the module (no Home Assistant)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
import itertools
import json
import random
from typing import Any
import uuid

from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
import pytest

from custom_components.printernizer_stats.consent import CONSENT_VERSION, Consent
from custom_components.printernizer_stats.delivery import (
    BACKOFF_CAP,
    CHECK_INTERVAL,
    ERASURE_ATTEMPTS_BEFORE_REPAIR,
    HISTORY_LENGTH,
    MAX_WAIT,
    MIN_REQUEST_INTERVAL,
    REPORT_DAYS,
    RETENTION_DAYS,
    Accepted,
    DeliveryState,
    DeliveryView,
    Erasure,
    Failed,
    Halt,
    Outcome,
    PendingReport,
    Refused,
    Sent,
    SharingStatus,
    backoff_delay,
)
from custom_components.printernizer_stats.report import Period

CONSENT_DAY = date(2026, 3, 2)
FIRST_DAY = date(2026, 3, 3)
NOW = datetime(2026, 3, 2, 15, 20, tzinfo=UTC)
CONSENT = Consent(True, CONSENT_VERSION, CONSENT_DAY)
PAUSED = Consent(True, CONSENT_VERSION - 1, CONSENT_DAY)
DECLINED = Consent()
VERSION = "1.4.0"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
BODY = '{"report": 1}'
UUID4 = "4d6f7a3e-2b1c-4e5f-9a8b-7c6d5e4f3a2b"
OTHER_ID = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the package-wide fixture: these tests need no Home Assistant."""


def _at(day: date, hour: int = 0) -> datetime:
    """A UTC time on a day."""
    return datetime.combine(day, time(hour), UTC)


def _opted_in(consent: Consent = CONSENT) -> DeliveryState:
    """A state that followed an opt-in."""
    state = DeliveryState()
    assert state.follow_consent(consent, NOW)
    return state


def _send(
    state: DeliveryState,
    outcome: Outcome,
    now: datetime,
    *,
    rng: random.Random | None = None,
    generation: int = 0,
    version: str = VERSION,
) -> PendingReport:
    """One attempt of the pending report with this outcome."""
    pending = state.begin_attempt(now)
    state.apply(
        outcome,
        now,
        rng or random.Random(1),
        generation=generation,
        version=version,
    )
    return pending


def _deliver(state: DeliveryState, now: datetime, *, force: bool = False) -> Period:
    """Freeze the next period and have it accepted."""
    period = state.next_period(CONSENT, now.date(), force=force)
    assert period is not None
    state.freeze(period, BODY, now)
    assert state.send_due(CONSENT, now, force=force)
    _send(state, Accepted("sub-1"), now)
    return period


def _stop(state: DeliveryState) -> tuple[Halt, int | None, str | None]:
    """The stop, and the credentials generation or version it waits to change."""
    return state.halt, state.halt_generation, state.halt_version


def _pending_state(now: datetime | None = None) -> DeliveryState:
    """An opted-in state with the first week frozen (at 06:00 on the day it ends)."""
    now = now or _at(date(2026, 3, 10), 6)
    state = _opted_in()
    period = state.next_period(CONSENT, now.date())
    assert period is not None
    state.freeze(period, BODY, now)
    return state


# --- consent ---------------------------------------------------------------------


def test_delivery_opt_in_makes_an_id() -> None:
    """Opting in makes a random canonical UUID4; the first day is after consent."""
    state = _opted_in()
    assert state.installation_id is not None
    assert str(uuid.UUID(state.installation_id, version=4)) == state.installation_id
    assert state.first_seen == FIRST_DAY
    assert not state.follow_consent(CONSENT, NOW)
    assert _opted_in().installation_id != state.installation_id


def test_delivery_opt_out_erases_everything_sent() -> None:
    """Opting out drops the id and the pending report and erases every id sent."""
    state = _pending_state()
    old = state.installation_id
    _send(state, Failed("timeout"), _at(date(2026, 3, 10), 6))
    state.service_ids.append(OTHER_ID)
    assert state.follow_consent(DECLINED, NOW)
    assert state.installation_id is None
    assert state.first_seen is None
    assert state.pending is None
    assert state.history == []
    assert state.last_error is None
    assert [e.installation_id for e in state.erasures] == [old, OTHER_ID]
    assert all(e.next_attempt == NOW for e in state.erasures)
    assert state.service_ids == [old, OTHER_ID]
    assert not state.can_send(CONSENT)
    # Following the same choice again changes nothing, but erasures are still owed.
    assert state.follow_consent(DECLINED, NOW)
    assert len(state.erasures) == 2
    assert not DeliveryState().follow_consent(DECLINED, NOW)


def test_delivery_opt_out_keeps_a_stop() -> None:
    """Opting out and in again does not lift a refused key."""
    state = _pending_state()
    _send(
        state, Refused(Halt.AUTH_FAILED, 401), _at(date(2026, 3, 10), 6), generation=3
    )
    state.follow_consent(DECLINED, NOW)
    state.follow_consent(CONSENT, NOW)
    assert state.halt is Halt.AUTH_FAILED
    assert state.last_error == "http_401"
    assert not state.can_send(CONSENT)
    assert not state.resume(generation=3, version=VERSION)
    assert state.resume(generation=4, version=VERSION)
    assert state.can_send(CONSENT)


@pytest.mark.parametrize(
    ("consent", "status"),
    [
        (DECLINED, SharingStatus.OPTED_OUT),
        (Consent(True, CONSENT_VERSION, None), SharingStatus.OPTED_OUT),
        (PAUSED, SharingStatus.PAUSED),
        (CONSENT, SharingStatus.OPTED_IN),
    ],
)
def test_delivery_sends_only_with_current_consent(
    consent: Consent, status: SharingStatus
) -> None:
    """Only consent to the current disclosure version allows sending."""
    state = _opted_in(PAUSED)
    now = _at(date(2026, 3, 10), 6)
    state.freeze(Period(FIRST_DAY, date(2026, 3, 10)), BODY, now)
    assert state.can_send(consent) is consent.current
    assert state.send_due(consent, now) is consent.current
    assert state.sharing_status(consent) is status
    assert state.view(consent, None).sharing is status


def test_delivery_first_report_starts_after_the_consent_day() -> None:
    """The consent day is never reported; the first week starts the day after."""
    state = _opted_in()
    assert state.next_start(CONSENT) == FIRST_DAY
    assert state.next_period(CONSENT, date(2026, 3, 9)) is None
    assert state.next_period(CONSENT, date(2026, 3, 10)) == Period(
        FIRST_DAY, date(2026, 3, 10)
    )
    assert state.next_start(DECLINED) is None
    assert state.next_period(DECLINED, date(2026, 3, 20)) is None


def test_delivery_new_consent_day_moves_the_start() -> None:
    """After agreeing again on a later day, days before it are not reported."""
    state = _opted_in()
    _deliver(state, _at(date(2026, 3, 10), 1))
    later = Consent(True, CONSENT_VERSION, date(2026, 4, 20))
    assert state.next_start(later) == date(2026, 4, 21)
    assert state.next_start(CONSENT) == date(2026, 3, 10)


# --- periods ---------------------------------------------------------------------


def test_delivery_partial_week_waits() -> None:
    """The last partial week waits until its seven days are over."""
    state = _opted_in()
    _deliver(state, _at(date(2026, 3, 10), 1))
    for day in range(10, 17):
        assert state.next_period(CONSENT, date(2026, 3, day)) is None
    assert state.next_period(CONSENT, date(2026, 3, 17)) == Period(
        date(2026, 3, 10), date(2026, 3, 17)
    )


def test_delivery_force_cuts_at_today() -> None:
    """submit_now cuts the period at today once a day is over."""
    state = _opted_in()
    assert state.next_period(CONSENT, FIRST_DAY, force=True) is None
    assert state.next_period(CONSENT, date(2026, 3, 4), force=True) == Period(
        FIRST_DAY, date(2026, 3, 4)
    )
    period = _deliver(state, _at(date(2026, 3, 6), 12), force=True)
    assert period == Period(FIRST_DAY, date(2026, 3, 6))
    assert state.reported_until == date(2026, 3, 6)
    # The plan goes on from the cut, in whole weeks again.
    assert state.next_period(CONSENT, date(2026, 3, 12)) is None
    assert state.next_period(CONSENT, date(2026, 3, 13)) == Period(
        date(2026, 3, 6), date(2026, 3, 13)
    )
    # A full week that is over is sent whole even when forced.
    assert state.next_period(CONSENT, date(2026, 3, 20), force=True) == Period(
        date(2026, 3, 6), date(2026, 3, 13)
    )


def test_delivery_outage_sends_weeks_one_at_a_time() -> None:
    """After an outage the missed weeks go out oldest first, seven days each."""
    state = _opted_in()
    now = _at(date(2026, 4, 10), 8)
    periods: list[Period] = []
    while (period := state.next_period(CONSENT, now.date())) is not None:
        state.freeze(period, BODY, now)
        assert state.send_due(CONSENT, now)
        _send(state, Accepted(), now)
        periods.append(period)
        now += MIN_REQUEST_INTERVAL
    assert [p.start for p in periods] == [
        FIRST_DAY + timedelta(days=7 * week) for week in range(5)
    ]
    assert all(p.duration_days == REPORT_DAYS for p in periods)
    assert state.reported_until == date(2026, 4, 7)


def test_delivery_expired_days_are_skipped() -> None:
    """Never-reported days older than retention are skipped, not sent as a block."""
    state = _opted_in()
    today = date(2026, 8, 1)
    oldest = today - timedelta(days=RETENTION_DAYS - 1)
    assert state.skip_expired(CONSENT, today) == (FIRST_DAY, oldest)
    assert state.reported_until == oldest
    assert state.skip_expired(CONSENT, today) is None
    period = state.next_period(CONSENT, today)
    assert period == Period(oldest, oldest + timedelta(days=REPORT_DAYS))
    assert DeliveryState().skip_expired(DECLINED, today) is None


def test_delivery_skip_waits_for_the_pending_report() -> None:
    """A pending report is sent as built; the days after it are skipped afterwards."""
    state = _pending_state()
    today = date(2026, 8, 1)
    assert state.skip_expired(CONSENT, today) is None
    _send(state, Accepted(), _at(today))
    assert state.reported_until == date(2026, 3, 10)
    oldest = today - timedelta(days=RETENTION_DAYS - 1)
    assert state.skip_expired(CONSENT, today) == (date(2026, 3, 10), oldest)


def test_delivery_preview_period() -> None:
    """The preview shows the pending period, else the next one (today without consent)."""
    today = date(2026, 3, 20)
    assert DeliveryState().preview_period(DECLINED, today) == Period(
        today, today + timedelta(days=7)
    )
    state = _opted_in()
    assert state.preview_period(CONSENT, today) == Period(FIRST_DAY, date(2026, 3, 10))
    state.freeze(Period(FIRST_DAY, date(2026, 3, 5)), BODY, NOW)
    assert state.preview_period(CONSENT, today) == Period(FIRST_DAY, date(2026, 3, 5))


def test_delivery_freeze_keeps_the_body() -> None:
    """A frozen report keeps its body and one idempotency key."""
    state = _opted_in()
    pending = state.freeze(Period(FIRST_DAY, date(2026, 3, 10)), BODY, NOW)
    assert pending is state.pending
    assert pending.period == Period(FIRST_DAY, date(2026, 3, 10))
    assert pending.body == BODY
    assert str(uuid.UUID(pending.idempotency_key, version=4)) == pending.idempotency_key
    assert pending.attempts == 0
    assert pending.next_attempt == NOW


# --- rate limit and outcomes -------------------------------------------------------


def test_delivery_one_request_per_hour() -> None:
    """At most one submission per hour, retries and forced ones included."""
    state = _pending_state()
    assert state.earliest_request() == datetime.min.replace(tzinfo=UTC)
    now = _at(date(2026, 3, 10), 6)
    _send(state, Failed("http_503"), now)
    assert state.earliest_request() == now + HOUR
    assert state.pending is not None
    state.pending.next_attempt = now
    assert not state.send_due(CONSENT, now + HOUR - timedelta(seconds=1), force=True)
    assert state.send_due(CONSENT, now + HOUR, force=True)
    state.not_before = now + 3 * HOUR
    assert state.earliest_request() == now + 3 * HOUR
    assert not state.send_due(CONSENT, now + 2 * HOUR, force=True)


def test_delivery_force_skips_the_backoff_not_the_hour() -> None:
    """A forced check ignores the backoff but not the rate limit."""
    state = _pending_state()
    now = _at(date(2026, 3, 10), 6)
    assert state.pending is not None
    state.pending.attempts = 4
    _send(state, Failed("timeout"), now, rng=random.Random(7))
    later = now + HOUR
    assert state.pending.next_attempt > later
    assert not state.send_due(CONSENT, later)
    assert state.send_due(CONSENT, later, force=True)
    assert not DeliveryState().send_due(CONSENT, later, force=True)


def test_delivery_accepted_marks_the_period_done() -> None:
    """A 2xx marks the period done and clears the error."""
    state = _pending_state()
    now = _at(date(2026, 3, 10), 6)
    _send(state, Failed("timeout"), now)
    assert state.sharing_status(CONSENT) is SharingStatus.FAILING
    later = now + 2 * DAY
    _send(state, Accepted("abc"), later)
    assert state.pending is None
    assert state.reported_until == date(2026, 3, 10)
    assert state.last_success == later
    assert state.last_error is None
    assert state.history == [Sent(FIRST_DAY, date(2026, 3, 10), later.date(), "abc")]
    assert state.sharing_status(CONSENT) is SharingStatus.OPTED_IN


def test_delivery_history_keeps_the_last_twenty() -> None:
    """The history keeps at most HISTORY_LENGTH entries, the newest last."""
    state = _opted_in()
    now = _at(date(2026, 3, 4), 1)
    for _ in range(HISTORY_LENGTH + 5):
        _deliver(state, now, force=True)
        now += DAY
    assert len(state.history) == HISTORY_LENGTH
    assert state.history[-1].end == now.date() - DAY
    assert state.history[0].start == date(2026, 3, 8)


def test_delivery_auth_failed_stops_until_new_credentials() -> None:
    """A refused key stops sending, keeps the report, until the credentials change."""
    state = _pending_state()
    now = _at(date(2026, 3, 10), 6)
    pending = _send(state, Refused(Halt.AUTH_FAILED, 403), now, generation=2)
    assert state.halt is Halt.AUTH_FAILED
    assert state.halt_generation == 2
    assert state.pending is pending
    assert state.last_error == "http_403"
    assert state.sharing_status(CONSENT) is SharingStatus.FAILING
    later = now + 30 * DAY
    assert not state.can_send(CONSENT)
    assert not state.send_due(CONSENT, later, force=True)
    assert state.next_submission(CONSENT, later) is None
    assert not state.resume(generation=2, version="9.9.9")
    assert state.halt == Halt.AUTH_FAILED
    assert state.resume(generation=3, version=VERSION)
    assert _stop(state) == (Halt.NONE, None, None)
    assert state.send_due(CONSENT, later)
    assert not state.resume(generation=4, version=VERSION)


def test_delivery_rejected_drops_the_report_until_a_new_version() -> None:
    """A rejected report is dropped; sending stops until the integration changes."""
    state = _pending_state()
    now = _at(date(2026, 3, 10), 6)
    _send(state, Refused(Halt.REJECTED, 422), now)
    assert state.pending is None
    assert state.halt is Halt.REJECTED
    assert state.halt_version == VERSION
    assert state.reported_until is None
    assert not state.can_send(CONSENT)
    assert not state.resume(generation=5, version=VERSION)
    assert state.resume(generation=0, version="1.5.0")
    assert _stop(state) == (Halt.NONE, None, None)
    # The same days are built again by the new version.
    assert state.next_period(CONSENT, now.date()) == Period(
        FIRST_DAY, date(2026, 3, 10)
    )


def test_delivery_refused_without_status() -> None:
    """A refusal without an HTTP status is recorded by its kind."""
    state = _pending_state()
    _send(state, Refused(Halt.AUTH_FAILED), _at(date(2026, 3, 10), 6))
    assert state.last_error == "auth_failed"


def test_delivery_failed_backs_off_with_full_jitter() -> None:
    """A failure waits 1 h to 24 h, growing with the attempts, with full jitter."""
    state = _pending_state()
    now = _at(date(2026, 3, 10), 6)
    rng = random.Random(3)
    waits: list[timedelta] = []
    for _ in range(8):
        _send(state, Failed("connection_error"), now, rng=rng)
        assert state.pending is not None
        wait = state.pending.next_attempt - now
        assert MIN_REQUEST_INTERVAL <= wait <= BACKOFF_CAP
        waits.append(wait)
        now = state.pending.next_attempt
    assert waits[0] == HOUR
    assert state.pending is not None
    assert state.pending.attempts == 8
    assert state.not_before is None
    assert state.last_error == "connection_error"
    assert state.sharing_status(CONSENT) is SharingStatus.FAILING


@pytest.mark.parametrize("attempt", [-1, 0, 1, 3, 5, 16, 400])
def test_delivery_backoff_delay_bounds(attempt: int) -> None:
    """The backoff stays within 1 h and 24 h and is uniform below its ceiling."""
    rng = random.Random(attempt)
    delays = [backoff_delay(attempt, rng) for _ in range(400)]
    assert all(HOUR <= delay <= BACKOFF_CAP for delay in delays)
    ceiling = min(BACKOFF_CAP, HOUR * 2 ** min(max(attempt, 0), 16))
    if ceiling >= 4 * HOUR:
        # Full jitter: spread over the whole range, not clustered at the top.
        assert min(delays) < ceiling / 4
        assert max(delays) > ceiling * 3 / 4
    else:
        assert max(delays) <= ceiling


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        (timedelta(hours=5), timedelta(hours=5)),
        (timedelta(seconds=30), HOUR),
        (timedelta(days=30), MAX_WAIT),
        (-HOUR, HOUR),
    ],
)
def test_delivery_failed_waits_as_asked(
    retry_after: timedelta, wait: timedelta
) -> None:
    """A service that says when to come back is obeyed, within 1 h and MAX_WAIT."""
    state = _pending_state()
    now = _at(date(2026, 3, 10), 6)
    _send(state, Failed("http_429", retry_after), now)
    assert state.pending is not None
    assert state.pending.next_attempt == now + wait
    assert state.not_before == now + wait
    assert state.earliest_request() == now + wait
    assert not state.send_due(CONSENT, now + wait - timedelta(seconds=1), force=True)
    assert state.send_due(CONSENT, now + wait)


def test_delivery_retry_after_zero_backs_off() -> None:
    """A zero Retry-After falls back to the ordinary backoff."""
    state = _pending_state()
    now = _at(date(2026, 3, 10), 6)
    _send(state, Failed("http_429", timedelta(0)), now)
    assert state.not_before is None
    assert state.pending is not None
    assert state.pending.next_attempt == now + HOUR


def test_delivery_free_text_reason_is_not_stored() -> None:
    """A reason that is not a code is stored as "other", so the state stays loadable."""
    state = _pending_state()
    now = _at(date(2026, 3, 10), 6)
    _send(state, Failed("Connection reset by peer"), now)
    assert state.last_error == "other"
    state.erasures.append(Erasure(OTHER_ID))
    state.erasure_failed(OTHER_ID, "Server said: no!", now, random.Random(1))
    assert state.erasures[0].last_error == "other"
    assert DeliveryState.from_storage(state.as_storage()) == state


# --- erasures ---------------------------------------------------------------------


def test_delivery_begin_attempt_records_the_id_once() -> None:
    """Every id a report may have been sent under is kept, once."""
    state = _pending_state()
    now = _at(date(2026, 3, 10), 6)
    _send(state, Failed("timeout"), now)
    _send(state, Failed("timeout"), now + DAY)
    assert state.service_ids == [state.installation_id]
    assert state.last_request == now + DAY
    assert state.pending is not None
    assert state.pending.attempts == 2


def test_delivery_delete_all_erases_and_restarts() -> None:
    """delete_all queues every id sent, rotates the id and reports from today on."""
    state = _opted_in()
    old = state.installation_id
    assert old is not None
    _deliver(state, _at(date(2026, 3, 10), 1))
    now = _at(date(2026, 3, 12), 9)
    state.freeze(Period(date(2026, 3, 10), date(2026, 3, 12)), BODY, now)
    assert state.erase_all(now) == [old]
    state.restart_after_delete(CONSENT, now.date())
    assert state.installation_id not in (None, old)
    assert state.first_seen == now.date()
    assert state.pending is None
    assert state.history == []
    assert state.reported_until == now.date()
    assert state.service_ids == [old]
    assert state.due_erasures(now) == [Erasure(old, next_attempt=now)]
    assert state.view(CONSENT, None).pending_erasures == 1
    assert state.next_period(CONSENT, date(2026, 3, 19)) == Period(
        date(2026, 3, 12), date(2026, 3, 19)
    )


def test_delivery_delete_all_without_consent() -> None:
    """delete_all without consent leaves no id and nothing to report."""
    state = DeliveryState(reported_until=date(2026, 1, 1))
    assert state.erase_all(NOW) == []
    state.restart_after_delete(DECLINED, NOW.date())
    assert state.installation_id is None
    assert state.reported_until == date(2026, 1, 1)


def test_delivery_delete_all_keeps_a_rejection() -> None:
    """delete_all does not lift a stop the service asked for."""
    state = _pending_state()
    _send(state, Refused(Halt.REJECTED, 400), _at(date(2026, 3, 10), 6))
    state.erase_all(NOW)
    state.restart_after_delete(CONSENT, date(2026, 3, 11))
    assert state.halt is Halt.REJECTED
    assert state.last_error == "http_400"
    assert not state.can_send(CONSENT)


def test_delivery_erase_all_queues_every_id() -> None:
    """Every id is queued once, however many there are; none is dropped."""
    ids = [str(uuid.UUID(int=n, version=4)) for n in range(120)]
    state = DeliveryState(service_ids=list(ids))
    assert state.erase_all(NOW) == ids
    assert state.erase_all(NOW + DAY) == ids
    assert all(e.next_attempt == NOW for e in state.erasures)


def test_delivery_failed_erasure_is_retried() -> None:
    """A failed erasure stays, backs off, and becomes a repair after three failures."""
    state = DeliveryState(service_ids=[UUID4, OTHER_ID])
    state.erase_all(NOW)
    rng = random.Random(5)
    now = NOW
    for failure in range(1, ERASURE_ATTEMPTS_BEFORE_REPAIR + 1):
        assert not state.erasure_stuck
        state.erasure_failed(UUID4, "http_503", now, rng)
        erasure = state.erasures[0]
        assert erasure.attempts == failure
        assert erasure.last_error == "http_503"
        assert HOUR <= erasure.next_attempt - now <= BACKOFF_CAP
        assert state.due_erasures(now) == [state.erasures[1]]
        now = erasure.next_attempt
        assert erasure in state.due_erasures(now)
    assert state.erasure_stuck
    state.erasure_failed("not-queued", "timeout", now, rng)
    assert state.service_ids == [UUID4, OTHER_ID]
    state.erased(UUID4)
    assert (state.erasure_stuck, state.service_ids) == (False, [OTHER_ID])
    assert [e.installation_id for e in state.erasures] == [OTHER_ID]


def test_delivery_only_erased_forgets_an_id() -> None:
    """Outcomes, consent and delete_all never drop an id; erased() does."""
    state = _pending_state()
    sent = state.installation_id
    now = _at(date(2026, 3, 10), 6)
    _send(state, Refused(Halt.REJECTED, 400), now)
    state.resume(generation=0, version="2.0.0")
    state.follow_consent(DECLINED, now)
    state.follow_consent(CONSENT, now)
    state.erase_all(now)
    state.restart_after_delete(CONSENT, now.date())
    state.follow_clock(now.date() - 30 * DAY, now - 30 * DAY)
    assert state.service_ids == [sent]
    state.erased(sent or "")
    assert state.service_ids == []
    assert state.erasures == []


# --- time ---------------------------------------------------------------------------


def test_delivery_follow_clock_rewinds_the_plan() -> None:
    """After the clock went back, a future reported_until rewinds to today."""
    state = _opted_in()
    state.reported_until = date(2027, 3, 1)
    today = date(2026, 3, 20)
    assert state.follow_clock(today, _at(today, 9))
    assert state.reported_until == today
    assert not state.follow_clock(today, _at(today, 9))
    assert state.next_period(CONSENT, today + 7 * DAY) == Period(today, today + 7 * DAY)


def test_delivery_follow_clock_tolerates_a_day() -> None:
    """A small step back over midnight keeps the plan (trusted time may go back minutes)."""
    state = _opted_in()
    today = date(2026, 3, 20)
    state.reported_until = today + DAY
    state.freeze(Period(today - 6 * DAY, today + DAY), BODY, _at(today, 9))
    assert not state.follow_clock(today, _at(today, 9))
    assert state.reported_until == today + DAY
    assert state.pending is not None


def test_delivery_follow_clock_drops_a_future_report() -> None:
    """A pending report for days that now lie ahead is dropped."""
    state = _opted_in()
    state.reported_until = date(2027, 3, 3)
    state.pending = PendingReport(date(2027, 3, 3), date(2027, 3, 10), UUID4, BODY)
    today = date(2026, 3, 20)
    assert state.follow_clock(today, _at(today, 9))
    assert state.as_storage()["pending"] is None
    assert state.reported_until == today


@pytest.mark.parametrize("jump", [timedelta(hours=3), timedelta(days=3), 400 * DAY])
@pytest.mark.parametrize(
    "outcome",
    [
        Failed("timeout"),
        Failed("http_429", timedelta(hours=5)),
        Failed("http_429", timedelta(days=6)),
        Accepted(),
    ],
)
def test_delivery_follow_clock_never_blocks_for_the_jump(
    jump: timedelta, outcome: Outcome
) -> None:
    """Waits from a request made in a future the clock left keep their length from now."""
    state = _opted_in()
    then = _at(date(2026, 5, 1), 10)
    state.freeze(Period(date(2025, 1, 6), date(2025, 1, 13)), BODY, then)
    _send(state, outcome, then, rng=random.Random(11))
    waited = state.earliest_request() - then
    retry = None if state.pending is None else state.pending.next_attempt - then
    now = then - jump
    assert state.follow_clock(now.date(), now)
    assert state.last_request == now
    assert state.earliest_request() - now == waited
    if retry is not None:
        assert state.pending is not None
        assert state.pending.next_attempt - now == retry
    assert state.wake_at(CONSENT, now) <= now + CHECK_INTERVAL


def test_delivery_follow_clock_ignores_rounding() -> None:
    """A restart just after a request (times rounded up at rest) is no clock jump."""
    state = _pending_state()
    now = datetime(2026, 3, 10, 6, 0, 10, tzinfo=UTC)
    assert state.pending is not None
    state.pending.attempts = 6
    _send(state, Failed("http_429", timedelta(days=9)), now)
    loaded = DeliveryState.from_storage(state.as_storage())
    assert loaded.last_request == now.replace(second=0) + timedelta(minutes=1)
    assert not loaded.follow_clock(now.date(), now)
    assert loaded.earliest_request() >= state.earliest_request()
    assert loaded.pending is not None
    assert loaded.pending.next_attempt >= now + MAX_WAIT


def test_delivery_follow_clock_clamps_unexplained_waits() -> None:
    """Times further ahead than any wait the policy sets are clamped."""
    now = _at(date(2026, 3, 20), 9)
    state = _pending_state(now)
    assert state.pending is not None
    state.pending.attempts = 2
    state.pending.next_attempt = now + 30 * DAY
    state.not_before = now + 30 * DAY
    state.erasures = [
        Erasure(UUID4, 1, now + 3 * DAY),
        Erasure(OTHER_ID, 0, now + HOUR),
        Erasure(str(uuid.UUID(int=1, version=4)), 2, now + 2 * HOUR),
    ]
    assert state.follow_clock(now.date(), now)
    assert state.not_before == now + MIN_REQUEST_INTERVAL
    assert state.pending.next_attempt == now + BACKOFF_CAP
    assert [e.next_attempt for e in state.erasures] == [
        now + BACKOFF_CAP,
        now,
        now + 2 * HOUR,
    ]


def test_delivery_follow_clock_sends_a_report_frozen_in_the_future() -> None:
    """A report built in a future the clock left (never sent) goes at once."""
    now = _at(date(2026, 3, 10), 6)
    state = _pending_state(now + 5 * HOUR)
    assert not state.send_due(CONSENT, now)
    assert state.follow_clock(now.date(), now)
    assert state.send_due(CONSENT, now)


# --- schedule --------------------------------------------------------------------


def test_delivery_wake_at_bounds() -> None:
    """wake_at is always in (now, now + CHECK_INTERVAL]."""
    now = _at(date(2026, 3, 10), 6)
    assert DeliveryState().wake_at(DECLINED, now) == now + CHECK_INTERVAL
    state = _opted_in()
    # The first week is due at midnight: overdue, so at once.
    assert state.wake_at(CONSENT, now) == now + timedelta(seconds=1)
    assert state.wake_at(CONSENT, _at(date(2026, 3, 9), 12)) == _at(
        date(2026, 3, 9), 18
    )
    assert state.wake_at(CONSENT, _at(date(2026, 3, 9), 21)) == _at(date(2026, 3, 10))
    state.freeze(Period(FIRST_DAY, date(2026, 3, 10)), BODY, now)
    _send(state, Failed("timeout"), now)
    assert state.wake_at(CONSENT, now) == now + HOUR
    state.erasures.append(Erasure(UUID4, next_attempt=now + 30 * timedelta(minutes=1)))
    assert state.wake_at(CONSENT, now) == now + timedelta(minutes=30)
    assert state.wake_at(PAUSED, now) == now + timedelta(minutes=30)


def test_delivery_next_submission() -> None:
    """The next submission: none without consent, else the pending retry or due time."""
    now = _at(date(2026, 3, 5), 6)
    assert DeliveryState().next_submission(CONSENT, None) is None
    state = _opted_in()
    assert state.next_submission(PAUSED, now) is None
    due = _at(date(2026, 3, 10))
    assert state.next_submission(CONSENT, None) == due
    assert state.next_submission(CONSENT, now) == due
    assert state.next_submission(CONSENT, due + 3 * HOUR) == due + 3 * HOUR
    state.freeze(Period(FIRST_DAY, date(2026, 3, 5)), BODY, now)
    _send(state, Failed("http_429", timedelta(hours=2)), now)
    assert state.next_submission(CONSENT, None) == now + 2 * HOUR
    assert state.view(CONSENT, None) == DeliveryView(
        sharing=SharingStatus.FAILING,
        last_submission=None,
        next_submission=now + 2 * HOUR,
        pending_erasures=0,
    )
    state.pending = None
    state.halt = Halt.NONE
    state.reported_until = None
    assert state.next_submission(Consent(True, CONSENT_VERSION, None), None) is None


# --- storage ------------------------------------------------------------------------


_STORED_KEYS = {
    "installation_id",
    "first_seen",
    "reported_until",
    "pending",
    "last_request",
    "not_before",
    "halt",
    "halt_generation",
    "halt_version",
    "last_error",
    "last_success",
    "history",
    "service_ids",
    "erasures",
}


def test_delivery_storage_empty_round_trip() -> None:
    """The empty state and an empty object both load as the empty state."""
    assert DeliveryState.from_storage(DeliveryState().as_storage()) == DeliveryState()
    assert DeliveryState.from_storage({}) == DeliveryState()


def test_delivery_storage_holds_nothing_from_the_key() -> None:
    """The stored form has exactly these fields; credentials appear only as a counter."""
    api_key = "pk_live_9f8e7d6c5b4a"
    state = _pending_state()
    _send(
        state, Refused(Halt.AUTH_FAILED, 401), _at(date(2026, 3, 10), 6), generation=7
    )
    stored = state.as_storage()
    assert set(stored) == _STORED_KEYS
    assert stored["halt_generation"] == 7
    text = json.dumps(stored)
    assert api_key not in text
    assert "key" not in text.replace("idempotency_key", "")


def test_delivery_storage_rounds_times_up_to_the_minute() -> None:
    """No finer time than the minute is stored; waits only grow."""
    state = _pending_state(datetime(2026, 3, 10, 6, 0, 0, tzinfo=UTC))
    state.last_request = datetime(2026, 3, 10, 6, 0, 0, 1, tzinfo=UTC)
    state.not_before = datetime(2026, 3, 10, 7, 59, 59, tzinfo=UTC)
    state.last_success = datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC)
    stored = state.as_storage()
    assert stored["pending"]["next_attempt"] == "2026-03-10T06:00:00+00:00"
    assert stored["last_request"] == "2026-03-10T06:01:00+00:00"
    assert stored["not_before"] == "2026-03-10T08:00:00+00:00"
    assert stored["last_success"] == "2027-01-01T00:00:00+00:00"


def test_delivery_storage_reads_offsets_as_utc() -> None:
    """A stored time with another offset is read as the same moment in UTC."""
    state = DeliveryState.from_storage({"last_request": "2026-03-10T08:00:00+02:00"})
    assert state.last_request == datetime(2026, 3, 10, 6, tzinfo=UTC)
    assert state.last_request is not None
    assert state.last_request.tzinfo is UTC


def test_delivery_storage_drops_repeated_ids() -> None:
    """Repeated service ids are read once."""
    state = DeliveryState.from_storage({"service_ids": [UUID4, UUID4, OTHER_ID]})
    assert state.service_ids == [UUID4, OTHER_ID]


def _valid() -> dict[str, Any]:
    """A stored state with every part filled in."""
    state = _pending_state()
    now = _at(date(2026, 3, 10), 6)
    _send(state, Failed("timeout"), now)
    state.history.append(Sent(FIRST_DAY, date(2026, 3, 4), FIRST_DAY, "s"))
    state.erasures.append(Erasure(OTHER_ID, 1, now, "http_500"))
    stored = state.as_storage()
    assert DeliveryState.from_storage(stored).as_storage() == stored
    return stored


def _broken(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    """The valid stored state with one value replaced (or removed for ...)."""
    data: dict[str, Any] = json.loads(json.dumps(_valid()))
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


_MALFORMED: list[tuple[tuple[str | int, ...], object]] = [
    (("installation_id",), 5),
    (("installation_id",), "not-a-uuid"),
    (("installation_id",), UUID4.upper()),
    (("installation_id",), "4d6f7a3e-2b1c-1e5f-9a8b-7c6d5e4f3a2b"),
    (("installation_id",), "4d6f7a3e2b1c4e5f9a8b7c6d5e4f3a2b"),
    (("installation_id",), f"{{{UUID4}}}"),
    (("first_seen",), "2026-02-30"),
    (("first_seen",), 20260302),
    (("reported_until",), "next week"),
    (("reported_until",), "9999-12-31"),
    (("reported_until",), ["2026-03-10"]),
    (("pending",), "pending"),
    (("pending",), []),
    (("pending", "start"), ...),
    (("pending", "start"), None),
    (("pending", "end"), "2026-03-01"),
    (("pending", "idempotency_key"), "key"),
    (("pending", "idempotency_key"), None),
    (("pending", "body"), {"report": 1}),
    (("pending", "attempts"), -1),
    (("pending", "attempts"), True),
    (("pending", "attempts"), "2"),
    (("pending", "attempts"), 1.0),
    (("pending", "next_attempt"), None),
    (("pending", "next_attempt"), "2026-03-10T06:00:00"),
    (("pending", "next_attempt"), "2026-03-10"),
    (("last_request",), "2026-03-10T06:00:00"),
    (("last_request",), "0001-01-01T00:00:00+01:00"),
    (("last_request",), "9999-12-31T23:59:00+00:00"),
    (("last_request",), 1_773_122_400),
    (("not_before",), "soon"),
    (("last_success",), "2026-03-10 06:00"),
    (("halt",), "stopped"),
    (("halt",), None),
    (("halt",), ["auth_failed"]),
    (("halt",), {"auth_failed": 1}),
    (("halt_generation",), "1"),
    (("halt_generation",), True),
    (("halt_version",), 1.4),
    (("last_error",), "Connection reset by peer"),
    (("last_error",), "HTTP_500"),
    (("last_error",), ""),
    (("last_error",), "x" * 33),
    (("last_error",), 500),
    (("history",), {}),
    (("history",), "[]"),
    (("history", 0), "entry"),
    (("history", 0, "submitted"), ...),
    (("history", 0, "end"), "2026-03-03"),
    (("history", 0, "start"), None),
    (("history", 0, "submission_id"), 12),
    (("service_ids",), UUID4),
    (("service_ids",), [UUID4, "nope"]),
    (("service_ids",), [7]),
    (("erasures",), {"id": UUID4}),
    (("erasures", 0), UUID4),
    (("erasures", 0, "installation_id"), None),
    (("erasures", 0, "installation_id"), "x"),
    (("erasures", 0, "attempts"), ...),
    (("erasures", 0, "attempts"), -3),
    (("erasures", 0, "next_attempt"), None),
    (("erasures", 0, "next_attempt"), "2026-03-10T06:00:00"),
    (("erasures", 0, "last_error"), "Server said no"),
    (("installation_id",), None),
]


@pytest.mark.parametrize(("path", "value"), _MALFORMED)
def test_delivery_storage_rejects_malformed(
    path: tuple[str | int, ...], value: object
) -> None:
    """Every malformed shape raises ValueError (never TypeError or KeyError)."""
    with pytest.raises(ValueError):
        DeliveryState.from_storage(_broken(path, value))


@pytest.mark.parametrize("data", [None, [], "state", 3, [("halt", "none")]])
def test_delivery_storage_rejects_non_objects(data: object) -> None:
    """A stored section that is not an object raises ValueError."""
    with pytest.raises(ValueError):
        DeliveryState.from_storage(data)


def test_delivery_storage_keeps_every_erasure() -> None:
    """Loading keeps every queued erasure, however many."""
    ids = [str(uuid.UUID(int=n + 1, version=4)) for n in range(80)]
    state = DeliveryState(service_ids=list(ids))
    state.erase_all(NOW)
    loaded = DeliveryState.from_storage(state.as_storage())
    assert [e.installation_id for e in loaded.erasures] == ids


_IDS = st.uuids(version=4).map(str)
_DAYS = st.dates(date(2000, 1, 1), date(2100, 1, 1))
_MINUTES = st.datetimes(
    datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(second=0, microsecond=0))
_CODES = st.from_regex(r"[a-z0-9_]{1,32}", fullmatch=True)


@st.composite
def _periods(draw: st.DrawFn) -> tuple[date, date]:
    start = draw(_DAYS)
    return start, start + timedelta(days=draw(st.integers(1, 7)))


@st.composite
def _states(draw: st.DrawFn, moments: st.SearchStrategy[datetime]) -> DeliveryState:
    """Any well-formed delivery state."""
    installation_id = draw(st.none() | _IDS)
    pending = None
    if installation_id is not None and draw(st.booleans()):
        start, end = draw(_periods())
        pending = PendingReport(
            start,
            end,
            draw(_IDS),
            draw(st.text(max_size=40)),
            draw(st.integers(0, 50)),
            draw(moments),
        )
    history = [
        Sent(*period, draw(_DAYS), draw(st.none() | st.text(max_size=10)))
        for period in draw(st.lists(_periods(), max_size=HISTORY_LENGTH))
    ]
    service_ids = draw(st.lists(_IDS, unique=True, max_size=5))
    return DeliveryState(
        installation_id=installation_id,
        first_seen=draw(st.none() | _DAYS),
        reported_until=draw(st.none() | _DAYS),
        pending=pending,
        last_request=draw(st.none() | moments),
        not_before=draw(st.none() | moments),
        halt=draw(st.sampled_from(Halt)),
        halt_generation=draw(st.none() | st.integers(0, 2**40)),
        halt_version=draw(st.none() | st.text(max_size=10)),
        last_error=draw(st.none() | _CODES),
        last_success=draw(st.none() | moments),
        history=history,
        service_ids=service_ids,
        erasures=[
            Erasure(
                sid, draw(st.integers(0, 9)), draw(moments), draw(st.none() | _CODES)
            )
            for sid in service_ids
            if draw(st.booleans())
        ],
    )


@settings(max_examples=100, deadline=None)
@given(_states(_MINUTES))
def test_delivery_storage_round_trip(state: DeliveryState) -> None:
    """as_storage and from_storage round trip, through JSON."""
    stored = json.loads(json.dumps(state.as_storage()))
    assert DeliveryState.from_storage(stored) == state


_ANY_TIME = st.datetimes(
    datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=50, deadline=None)
@given(_states(_ANY_TIME))
def test_delivery_storage_round_trip_rounds_up(state: DeliveryState) -> None:
    """Times come back rounded up to the minute: never earlier, less than a minute later."""
    loaded = DeliveryState.from_storage(json.loads(json.dumps(state.as_storage())))
    pairs = [
        (state.last_request, loaded.last_request),
        (state.not_before, loaded.not_before),
        (state.last_success, loaded.last_success),
        *(
            (a.next_attempt, b.next_attempt)
            for a, b in zip(state.erasures, loaded.erasures, strict=True)
        ),
    ]
    if state.pending is not None:
        assert loaded.pending is not None
        pairs.append((state.pending.next_attempt, loaded.pending.next_attempt))
    for before, after in pairs:
        if before is None:
            assert after is None
            continue
        assert after is not None
        assert before <= after < before + timedelta(minutes=1)
        assert after.second == after.microsecond == 0
    assert loaded.as_storage() == state.as_storage()


# --- the whole policy over outcome sequences -------------------------------------


_ACCEPTED = st.builds(Accepted, st.none() | st.just("sub"))
_FAILED = st.builds(
    Failed,
    st.sampled_from(["timeout", "http_503", "connection_error"]),
    st.none() | st.timedeltas(timedelta(0), timedelta(days=10)),
)
_REFUSED = st.builds(
    Refused, st.sampled_from([Halt.AUTH_FAILED, Halt.REJECTED]), st.just(401)
)
# Mostly accepted, so that long runs of reports happen; every outcome appears.
_OUTCOMES = st.one_of(
    _ACCEPTED, _ACCEPTED, _ACCEPTED, _ACCEPTED, _FAILED, _FAILED, _REFUSED
)
_STEPS = st.one_of(
    st.timedeltas(timedelta(minutes=1), timedelta(hours=6)),
    st.timedeltas(timedelta(hours=6), timedelta(days=9)),
    st.timedeltas(timedelta(days=9), timedelta(days=150)),
)


@dataclass
class _Frozen:
    """What the model knows about the report that was frozen."""

    period: Period
    forced: bool
    first_day: date


@dataclass
class _Model:
    """What the test remembers independently of the state."""

    attempts: list[datetime] = field(default_factory=list)
    accepted: list[Period] = field(default_factory=list)
    frozen: dict[str, _Frozen] = field(default_factory=dict)
    restarts: set[date] = field(default_factory=set)
    sent_ids: set[str] = field(default_factory=set)
    erased_ids: set[str] = field(default_factory=set)
    halted: Halt = Halt.NONE
    reported_until: date | None = None
    not_before: datetime | None = None
    backoff_until: datetime | None = None


class DeliveryMachine(RuleBasedStateMachine):
    """Drives the policy the way submission.py does, checking its rules throughout."""

    def __init__(self) -> None:
        """Start opted out at a fixed time."""
        super().__init__()
        self.now = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
        self.state = DeliveryState()
        self.consent = DECLINED
        self.generation = 0
        self.version = "1.0.0"
        self.rng = random.Random(0)
        self.model = _Model()

    @initialize(seed=st.integers(0, 2**32))
    def seed(self, seed: int) -> None:
        """Seed the jitter and opt in."""
        self.rng = random.Random(seed)
        self.agree()

    # --- what the shell does --------------------------------------------------

    def setup(self) -> None:
        """What every set-up does with the stored state."""
        self.state.follow_consent(self.consent, self.now)
        pending = self.state.pending
        if self.state.resume(generation=self.generation, version=self.version):
            self.model.halted = Halt.NONE
        assert self.state.pending is pending
        self.state.follow_clock(self.now.date(), self.now)

    def check(self, outcome: Outcome, erase_ok: bool, *, force: bool = False) -> None:
        """One check: erase what is due, build what is due, send when allowed."""
        state, now, model = self.state, self.now, self.model
        today = now.date()
        assert not state.follow_clock(today, now)
        for erasure in state.due_erasures(now):
            if erase_ok:
                state.erased(erasure.installation_id)
                model.erased_ids.add(erasure.installation_id)
            else:
                state.erasure_failed(erasure.installation_id, "http_500", now, self.rng)
                assert HOUR <= erasure.next_attempt - now <= BACKOFF_CAP
        if not state.can_send(self.consent):
            return
        if skipped := state.skip_expired(self.consent, today):
            assert skipped[1] == today - timedelta(days=RETENTION_DAYS - 1)
            assert skipped[0] < skipped[1]
            model.restarts.add(skipped[1])
        if state.pending is None and (
            period := state.next_period(self.consent, today, force=force)
        ):
            pending = state.freeze(period, BODY, now)
            first_day = self.consent.first_day
            assert first_day is not None
            model.frozen[pending.idempotency_key] = _Frozen(period, force, first_day)
            assert period.end <= today
            assert period.start >= first_day
            assert period.duration_days == REPORT_DAYS or (
                force and period.end == today and period.duration_days < REPORT_DAYS
            )
        if state.send_due(self.consent, now, force=force):
            self.send(outcome, force=force)

    def send(self, outcome: Outcome, *, force: bool) -> None:
        """One submission, checked against the rules."""
        state, now, model = self.state, self.now, self.model
        assert self.consent.current
        assert model.halted is Halt.NONE
        assert state.halt is Halt.NONE
        if model.attempts:
            assert now - model.attempts[-1] >= MIN_REQUEST_INTERVAL
        assert model.not_before is None or now >= model.not_before
        assert force or model.backoff_until is None or now >= model.backoff_until
        model.attempts.append(now)
        pending = state.begin_attempt(now)
        assert state.installation_id in state.service_ids
        model.sent_ids.add(state.installation_id or "")
        frozen = model.frozen[pending.idempotency_key]
        assert pending.body == BODY
        state.apply(
            outcome, now, self.rng, generation=self.generation, version=self.version
        )
        model.backoff_until = None
        if isinstance(outcome, Accepted):
            self.accepted(frozen)
        elif isinstance(outcome, Refused):
            model.halted = outcome.halt
            assert (state.pending is pending) is (outcome.halt is Halt.AUTH_FAILED)
            assert state.halt == outcome.halt
        else:
            assert state.pending is pending
            wait = pending.next_attempt - now
            if outcome.retry_after:
                assert wait == min(max(outcome.retry_after, HOUR), MAX_WAIT)
                assert state.not_before == pending.next_attempt
                model.not_before = pending.next_attempt
            else:
                assert HOUR <= wait <= BACKOFF_CAP
            model.backoff_until = pending.next_attempt

    def accepted(self, frozen: _Frozen) -> None:
        """A 2xx: the period is done and fits the plan."""
        state, model = self.state, self.model
        period = frozen.period
        assert state.pending is None
        assert state.reported_until == period.end
        assert state.last_success == self.now
        assert state.history[-1].end == period.end
        if model.accepted:
            previous = model.accepted[-1]
            assert period.start >= previous.end
            assert period.start == previous.end or period.start in model.restarts
        else:
            assert period.start == frozen.first_day or period.start in model.restarts
        model.accepted.append(period)

    # --- rules --------------------------------------------------------------------

    @rule(step=_STEPS, outcome=_OUTCOMES, erase_ok=st.booleans())
    def tick(self, step: timedelta, outcome: Outcome, erase_ok: bool) -> None:
        """Time passes, then a check runs."""
        self.now += step
        self.check(outcome, erase_ok)

    @rule(
        outcomes=st.lists(_OUTCOMES, min_size=1, max_size=6),
        wakes=st.integers(1, 40),
        erase_ok=st.booleans(),
    )
    def run(self, outcomes: list[Outcome], wakes: int, erase_ok: bool) -> None:
        """The timer fires when the policy asked, again and again."""
        for wake in range(wakes):
            self.now = self.state.wake_at(self.consent, self.now)
            self.check(outcomes[wake % len(outcomes)], erase_ok)

    @rule(
        step=st.timedeltas(timedelta(0), timedelta(days=4)),
        outcome=_OUTCOMES,
        erase_ok=st.booleans(),
    )
    def submit_now(self, step: timedelta, outcome: Outcome, erase_ok: bool) -> None:
        """A while later, the user forces a check."""
        self.now += step
        self.check(outcome, erase_ok, force=True)

    def agree(self) -> None:
        """The user agrees to the current disclosure."""
        self.consent = Consent.from_options(
            self.consent.answered(True, self.now.date())
        )
        assert self.consent.day is not None
        self.model.restarts.add(self.consent.day + DAY)
        self.setup()
        assert self.state.installation_id is not None

    def decline(self) -> None:
        """The user opts out: everything sent is queued for erasure."""
        self.consent = Consent.from_options(
            self.consent.answered(False, self.now.date())
        )
        self.setup()
        assert self.state.installation_id is None
        assert self.state.pending is None
        queued = {e.installation_id for e in self.state.erasures}
        assert set(self.state.service_ids) <= queued

    def new_disclosure(self) -> None:
        """An update raises the disclosure version: sharing pauses."""
        if self.consent.day is not None:
            self.consent = Consent(True, CONSENT_VERSION - 1, self.consent.day)
        self.setup()

    @rule(change=st.sampled_from(["agree", "agree", "decline", "new_disclosure"]))
    def consent_changes(self, change: str) -> None:
        """The user answers the disclosure again, or a new one pauses sharing."""
        getattr(self, change)()

    @rule(credentials=st.booleans())
    def reconfigured(self, credentials: bool) -> None:
        """The user enters another API key, or the integration is updated."""
        if credentials:
            self.generation += 1
        else:
            self.version += ".1"
        self.setup()

    @rule(erase_ok=st.booleans())
    def delete_all(self, erase_ok: bool) -> None:
        """delete_all: erase every id, rotate, report from today on."""
        state = self.state
        old = state.installation_id
        ids = state.erase_all(self.now)
        assert set(state.service_ids) <= set(ids)
        state.restart_after_delete(self.consent, self.now.date())
        if self.consent.opted_in:
            assert state.installation_id not in (None, old)
            self.model.restarts.add(self.now.date())
        for erasure in state.due_erasures(self.now):
            if erase_ok:
                state.erased(erasure.installation_id)
                self.model.erased_ids.add(erasure.installation_id)

    @rule()
    def restart(self) -> None:
        """Home Assistant restarts: the state goes through storage."""
        stored = json.loads(json.dumps(self.state.as_storage()))
        self.state = DeliveryState.from_storage(stored)
        self.setup()

    # --- invariants -------------------------------------------------------------

    @invariant()
    def wake_is_soon(self) -> None:
        """The next check is after now and at most CHECK_INTERVAL away."""
        wake = self.state.wake_at(self.consent, self.now)
        assert self.now < wake <= self.now + CHECK_INTERVAL

    @invariant()
    def ids_leave_only_when_erased(self) -> None:
        """Every id sent stays until erased; every id no longer in use is queued."""
        state, model = self.state, self.model
        assert model.sent_ids - model.erased_ids <= set(state.service_ids)
        queued = {e.installation_id for e in state.erasures}
        assert queued <= set(state.service_ids)
        assert set(state.service_ids) - {state.installation_id} <= queued
        assert len(state.service_ids) == len(set(state.service_ids))

    @invariant()
    def halt_follows_the_model(self) -> None:
        """The state is stopped exactly when the service said so and nothing changed."""
        assert self.state.halt is self.model.halted
        if self.state.halt is not Halt.NONE:
            assert not self.state.send_due(self.consent, self.now, force=True)

    @invariant()
    def accepted_periods_fit(self) -> None:
        """Accepted periods never overlap and never end after today."""
        accepted = self.model.accepted
        for before, after in itertools.pairwise(accepted):
            assert before.end <= after.start
        assert all(p.end <= self.now.date() for p in accepted)
        assert len(self.state.history) <= HISTORY_LENGTH

    @invariant()
    def plan_never_goes_back(self) -> None:
        """While time goes forward, the plan only moves forward."""
        reported_until = self.state.reported_until
        if self.model.reported_until is not None:
            assert reported_until is not None
            assert reported_until >= self.model.reported_until
        self.model.reported_until = reported_until

    @invariant()
    def nothing_without_consent(self) -> None:
        """Without current consent nothing is due to be sent."""
        if not self.consent.current:
            assert not self.state.send_due(self.consent, self.now, force=True)
            assert self.state.next_submission(self.consent, None) is None


DeliveryMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_delivery_policy_state_machine = DeliveryMachine.TestCase
