"""Tests for the delivery policy, directly on the module (no Home Assistant)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
import hashlib
import itertools
import json
import random
from types import SimpleNamespace
from typing import Any
import uuid

from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
import pytest

from custom_components.printernizer_stats.consent import CONSENT_VERSION, Consent
from custom_components.printernizer_stats.counters import Tally
from custom_components.printernizer_stats.delivery import (
    BACKOFF_CAP,
    CHECK_INTERVAL,
    ERASURE_ATTEMPTS_BEFORE_REPAIR,
    MAX_WAIT,
    MIN_REQUEST_INTERVAL,
    REASONS,
    REPORT_BYTES_KEPT,
    REPORT_DAYS,
    REPORTS_KEPT,
    RETENTION_DAYS,
    Accepted,
    DeliveryState,
    DeliveryView,
    Erasure,
    Failed,
    Halt,
    Outcome,
    PendingReport,
    Recipient,
    Refused,
    Sent,
    SharingStatus,
    backoff_delay,
    origin,
    parse_recipient,
)
from custom_components.printernizer_stats.report import (
    InstallationFacts,
    Period,
    build_report,
    serialize_report,
)
from custom_components.printernizer_stats.stored import Reading

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
# Two statistics services: the public kind and a local one (as the emulator).
A = "https://a.example/submit"
B = "http://127.0.0.1:8001/submit"
# Read back long after everything these tests store: nothing is clamped.
LATER = datetime(2101, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the package-wide fixture: these tests need no Home Assistant."""


def _at(day: date, hour: int = 0) -> datetime:
    """A UTC time on a day."""
    return datetime.combine(day, time(hour), UTC)


def _body(period: Period, installation_id: str, *, jobs: int = 0) -> str:
    """A report as the builder writes it (what the policy freezes and keeps)."""
    report = build_report(
        tally=Tally({"job_completed": jobs}),
        period=period,
        installation=InstallationFacts(
            installation_id=installation_id,
            first_seen=FIRST_DAY,
            app_version="2.42.0",
            platform="linux",
            deployment_mode="docker",
            country_code="DE",
        ),
        fleet={"bambu_lab": 1},
        today=period.end,
    )
    return serialize_report(report).decode()


def _freeze(state: DeliveryState, period: Period, now: datetime) -> PendingReport:
    """Freeze a real report for the state's id."""
    assert state.installation_id is not None
    return state.freeze(period, _body(period, state.installation_id), now)


def _load(
    data: object, now: datetime = LATER, *, endpoint: str | None = None
) -> tuple[DeliveryState, list[str]]:
    """Read a stored section back (through JSON); the state and what was dropped."""
    reading = Reading(now)
    state = DeliveryState.from_storage(
        json.loads(json.dumps(data)), reading, endpoint=endpoint
    )
    return state, reading.damage.summary()


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
    endpoint: str = A,
) -> PendingReport:
    """One attempt of the pending report at a service, with this outcome."""
    pending = state.begin_attempt(now, endpoint)
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
    _freeze(state, period, now)
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
    _freeze(state, period, now)
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
    """Opting out drops the id and the pending report and erases every id sent, where it went."""
    state = _pending_state()
    old = state.installation_id
    assert old is not None
    _send(state, Failed("timeout"), _at(date(2026, 3, 10), 6))
    state.recipients.append(Recipient(OTHER_ID, B))
    assert state.follow_consent(DECLINED, NOW)
    assert state.installation_id is None
    assert state.first_seen is None
    assert state.pending is None
    assert state.history == []
    assert state.last_error is None
    assert [e.recipient for e in state.erasures] == [
        Recipient(old, A),
        Recipient(OTHER_ID, B),
    ]
    assert all(e.next_attempt == NOW for e in state.erasures)
    assert state.recipients == [Recipient(old, A), Recipient(OTHER_ID, B)]
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
    assert state.pending is not None
    body = state.pending.body
    _send(state, Accepted("abc", 201), later)
    assert state.pending is None
    assert state.reported_until == date(2026, 3, 10)
    assert state.last_success == later
    assert state.last_error is None
    assert state.history == [
        Sent(
            FIRST_DAY,
            date(2026, 3, 10),
            later.date(),
            "abc",
            body=body,
            accepted=later,
            status=201,
            installation_id=state.installation_id,
        )
    ]
    assert state.sharing_status(CONSENT) is SharingStatus.OPTED_IN


def test_delivery_history_keeps_the_newest_twelve() -> None:
    """The history keeps the newest REPORTS_KEPT (12) accepted reports, the newest last."""
    assert REPORTS_KEPT == 12
    state = _opted_in()
    now = _at(date(2026, 3, 4), 1)
    bodies: list[str] = []
    for _ in range(17):
        _deliver(state, now, force=True)
        bodies.append(state.history[-1].body or "")
        now += DAY
    assert len(state.history) == 12
    # Seventeen one-day reports ending 03-04 to 03-20: the five oldest went.
    assert state.history[0].start == date(2026, 3, 8)
    assert state.history[0].end == date(2026, 3, 9)
    assert state.history[-1].end == date(2026, 3, 20)
    assert [sent.body for sent in state.history] == bodies[5:]


@pytest.mark.parametrize(
    ("size", "kept", "total"),
    [(3_413, 12, 40_956), (3_414, 11, 37_554), (10_239, 4, 40_956)],
)
def test_delivery_history_is_bounded_in_bytes(size: int, kept: int, total: int) -> None:
    """Never more than REPORT_BYTES_KEPT (40,960) body bytes are kept; the oldest go first."""
    assert REPORT_BYTES_KEPT == 40_960
    state = _opted_in()
    now = _at(date(2026, 4, 1), 9)
    for week in range(14):
        start = FIRST_DAY + 7 * week * DAY
        # Each body is told apart by its first character.
        state.freeze(Period(start, start + 7 * DAY), chr(65 + week) * size, now)
        _send(state, Accepted(), now)
        now += HOUR
    assert len(state.history) == kept
    assert sum(sent.size for sent in state.history) == total <= REPORT_BYTES_KEPT
    assert [sent.body[0] for sent in state.history if sent.body] == [
        chr(65 + week) for week in range(14 - kept, 14)
    ]


def test_delivery_history_keeps_bodies_byte_for_byte() -> None:
    """A kept report is the pending body as sent: its size and SHA-256 are of those bytes."""
    state = _pending_state()
    assert state.pending is not None
    body = state.pending.body
    _send(state, Accepted("7"), _at(date(2026, 3, 10), 6))
    (sent,) = state.history
    assert sent.body == body
    assert sent.size == len(body.encode()) == len(body)
    assert sent.sha256 == hashlib.sha256(body.encode()).hexdigest()
    # Bytes, not characters: "ä" is two bytes in UTF-8.
    wide = Sent(FIRST_DAY, date(2026, 3, 4), FIRST_DAY, None, body='{"ä":1}')
    assert wide.size == 8
    assert wide.sha256 == hashlib.sha256('{"ä":1}'.encode()).hexdigest()
    assert (
        wide.sha256
        == "735cf7b354374809aa89cce3cf8638d1a5daa493d99bd3d7cac81bdf277c3760"
    )
    bare = Sent(FIRST_DAY, date(2026, 3, 4), FIRST_DAY, None)
    assert (bare.size, bare.sha256) == (0, None)


def test_delivery_refused_and_unsent_reports_are_not_kept() -> None:
    """Only accepted reports are kept: a refused key, a rejection or a failure keeps none."""
    for outcome in (
        Refused(Halt.AUTH_FAILED, 401),
        Refused(Halt.REJECTED, 422),
        Failed("http_503"),
    ):
        state = _pending_state()
        _send(state, outcome, _at(date(2026, 3, 10), 6))
        assert state.history == []


def test_delivery_forget_old_reports_at_the_retention_boundary() -> None:
    """Kept reports whose period ended before the 90-day window are dropped."""
    today = date(2026, 6, 1)
    # The window is 2026-03-04 to 2026-06-01 (90 days); ends are exclusive.
    assert today - (RETENTION_DAYS - 1) * DAY == date(2026, 3, 4)
    gone = Sent(date(2026, 2, 25), date(2026, 3, 4), date(2026, 3, 4), "1")
    kept = Sent(date(2026, 2, 26), date(2026, 3, 5), date(2026, 3, 5), "2")
    newest = Sent(date(2026, 5, 25), date(2026, 6, 1), date(2026, 6, 1), "3")
    state = DeliveryState(history=[gone, kept, newest])
    assert state.forget_old_reports(today)
    assert state.history == [kept, newest]
    assert not state.forget_old_reports(today)
    assert state.forget_old_reports(date(2026, 6, 2))
    assert state.history == [newest]
    assert DeliveryState().forget_old_reports(today) is False


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


def test_delivery_refused_key_costs_no_budget() -> None:
    """A refused key restores the request before it (the service checks keys first)."""
    first = _at(date(2026, 3, 10), 6)
    second = first + 2 * HOUR
    state = _pending_state()
    _send(state, Failed("http_503"), first)
    _send(state, Refused(Halt.AUTH_FAILED, 401), second)
    assert state.last_request == first
    assert state.earliest_request() == _at(date(2026, 3, 10), 7)
    # A refused first attempt leaves no request on record at all.
    state = _pending_state()
    _send(state, Refused(Halt.AUTH_FAILED, 403), first)
    assert state.last_request is None
    assert state.earliest_request() == datetime.min.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "outcome",
    [Failed("http_503"), Failed("http_429"), Refused(Halt.REJECTED, 422), Accepted()],
)
def test_delivery_other_outcomes_cost_the_hour(outcome: Outcome) -> None:
    """A 5xx, a 429, a rejection or an acceptance uses the hour: last_request stays."""
    first = _at(date(2026, 3, 10), 6)
    second = first + 2 * HOUR
    state = _pending_state()
    _send(state, Failed("http_503"), first)
    _send(state, outcome, second)
    assert state.last_request == second
    assert state.earliest_request() >= _at(date(2026, 3, 10), 9)


def test_delivery_resume_after_a_refused_key_clears_the_error() -> None:
    """New credentials lift the stop and the refusal at once: the status is right again."""
    state = _pending_state()
    _send(
        state, Refused(Halt.AUTH_FAILED, 401), _at(date(2026, 3, 10), 6), generation=1
    )
    assert (state.last_error, state.sharing_status(CONSENT)) == (
        "http_401",
        SharingStatus.FAILING,
    )
    assert not state.resume(generation=1, version=VERSION)
    assert state.last_error == "http_401"
    assert state.resume(generation=2, version=VERSION)
    assert state.last_error is None
    assert state.sharing_status(CONSENT) is SharingStatus.OPTED_IN
    assert state.pending is not None


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
    state.erasures.append(Erasure(OTHER_ID, A))
    state.erasure_failed(
        Recipient(OTHER_ID, A), "Server said: no!", now, random.Random(1)
    )
    assert state.erasures[0].last_error == "other"
    loaded, dropped = _load(state.as_storage())
    assert dropped == []
    assert loaded.as_storage() == state.as_storage()
    assert (loaded.last_error, loaded.erasures[0].last_error) == ("other", "other")


@pytest.mark.parametrize(
    ("reason", "stored"),
    [
        ("timeout", "timeout"),
        ("connection_error", "connection_error"),
        ("too_many_redirects", "too_many_redirects"),
        ("http_503", "http_503"),
        ("http_429", "http_429"),
        ("jane_doe", "other"),
        ("dns_error", "other"),
        ("http_999", "other"),
        ("HTTP_503", "other"),
    ],
)
def test_delivery_only_our_reason_codes_are_kept(reason: str, stored: str) -> None:
    """A reason is one of our codes or "other": export and diagnostics show it."""
    state = _pending_state()
    now = _at(date(2026, 3, 10), 6)
    _send(state, Failed(reason), now)
    state.erasures.append(Erasure(OTHER_ID, A))
    state.erasure_failed(Recipient(OTHER_ID, A), reason, now, random.Random(1))
    assert (state.last_error, state.erasures[0].last_error) == (stored, stored)
    assert _load(state.as_storage(), now)[1] == []


# --- erasures ---------------------------------------------------------------------


def test_delivery_begin_attempt_records_the_id_once() -> None:
    """Every id a report may have been sent under is kept with its service, once each."""
    state = _pending_state()
    sid = state.installation_id
    assert sid is not None
    now = _at(date(2026, 3, 10), 6)
    _send(state, Failed("timeout"), now)
    _send(state, Failed("timeout"), now + DAY)
    assert state.recipients == [Recipient(sid, A)]
    assert state.last_request == now + DAY
    assert state.pending is not None
    assert state.pending.attempts == 2
    # The endpoint changed: the same id is now also at B (two services, two erasures).
    _send(state, Failed("timeout"), now + 2 * DAY, endpoint=B)
    _send(state, Failed("timeout"), now + 3 * DAY, endpoint=A)
    assert state.recipients == [Recipient(sid, A), Recipient(sid, B)]
    assert state.pending.attempts == 4


def test_delivery_delete_all_erases_and_restarts() -> None:
    """delete_all queues every id sent, rotates the id and reports from today on."""
    state = _opted_in()
    old = state.installation_id
    assert old is not None
    _deliver(state, _at(date(2026, 3, 10), 1))
    now = _at(date(2026, 3, 12), 9)
    _freeze(state, Period(date(2026, 3, 10), date(2026, 3, 12)), now)
    assert state.erase_all(now) == [Recipient(old, A)]
    state.restart_after_delete(CONSENT, now.date())
    assert state.installation_id not in (None, old)
    assert state.first_seen == now.date()
    assert state.pending is None
    assert state.history == []
    assert state.reported_until == now.date()
    assert state.recipients == [Recipient(old, A)]
    assert state.due_erasures(now) == [Erasure(old, A, next_attempt=now)]
    assert state.view(CONSENT, None).pending_erasures == {"https://a.example": 1}
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
    recipients = [Recipient(sid, A if n % 3 else B) for n, sid in enumerate(ids)]
    state = DeliveryState(recipients=list(recipients))
    assert state.erase_all(NOW) == recipients
    assert state.erase_all(NOW + DAY) == recipients
    assert len(state.erasures) == 120
    assert all(e.next_attempt == NOW for e in state.erasures)
    assert state.pending_erasures() == {
        "https://a.example": 80,
        "http://127.0.0.1:8001": 40,
    }


def test_delivery_erasure_is_per_service() -> None:
    """An id sent to A and to B is two erasures; erasing at A leaves B."""
    at_a, at_b, other_at_a = (
        Recipient(UUID4, A),
        Recipient(UUID4, B),
        Recipient(OTHER_ID, A),
    )
    state = DeliveryState(recipients=[at_a, at_b, other_at_a])
    assert state.erase_all(NOW) == [at_a, at_b, other_at_a]
    assert [e.recipient for e in state.erasures] == [at_a, at_b, other_at_a]
    assert state.pending_erasures() == {
        "https://a.example": 2,
        "http://127.0.0.1:8001": 1,
    }
    state.erased(at_a)
    assert [e.recipient for e in state.erasures] == [at_b, other_at_a]
    assert state.recipients == [at_b, other_at_a]
    assert state.pending_erasures() == {
        "https://a.example": 1,
        "http://127.0.0.1:8001": 1,
    }
    # A failure at B counts at B only.
    state.erasure_failed(at_b, "http_503", NOW, random.Random(2))
    assert [(e.recipient, e.attempts) for e in state.erasures] == [
        (at_b, 1),
        (other_at_a, 0),
    ]
    assert state.erasures[0].last_error == "http_503"
    # What is no longer queued is left alone.
    state.erasure_failed(at_a, "timeout", NOW, random.Random(2))
    state.erased(at_a)
    assert [e.recipient for e in state.erasures] == [at_b, other_at_a]
    state.erased(at_b)
    state.erased(other_at_a)
    assert (state.erasures, state.recipients, state.pending_erasures()) == ([], [], {})


def test_delivery_erase_all_keeps_what_is_queued() -> None:
    """erase_all twice queues nothing twice and keeps the attempts made so far."""
    state = DeliveryState(recipients=[Recipient(UUID4, A)])
    state.erase_all(NOW)
    state.erasure_failed(Recipient(UUID4, A), "timeout", NOW, random.Random(1))
    state.recipients.append(Recipient(UUID4, B))
    assert state.erase_all(NOW + DAY) == [Recipient(UUID4, A), Recipient(UUID4, B)]
    assert [(e.attempts, e.next_attempt) for e in state.erasures][1] == (0, NOW + DAY)
    assert state.erasures[0].attempts == 1


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("https://a.example/submit", "https://a.example"),
        ("https://a.example:8443/v1/submit?key=abc&x=1", "https://a.example:8443"),
        ("https://user:secret@a.example/submit", "https://a.example"),
        ("https://user@a.example:444/x?token=1#frag", "https://a.example:444"),
        ("https://u:p@ss@a.example/", "https://a.example"),
        ("http://127.0.0.1:8001/submit", "http://127.0.0.1:8001"),
        ("https://[::1]:8443/submit?k=v", "https://[::1]:8443"),
    ],
)
def test_delivery_origin_strips_path_query_and_user(
    endpoint: str, expected: str
) -> None:
    """A service is shown by scheme, host and port: never a path, a query or user info."""
    assert origin(endpoint) == expected


def test_delivery_parse_recipient() -> None:
    """A stored recipient needs a UUID4 and an endpoint the client would use."""
    assert parse_recipient({"installation_id": UUID4, "endpoint": A}) == Recipient(
        UUID4, A
    )
    assert parse_recipient(
        {"installation_id": UUID4, "endpoint": "https://A.Example:443/submit"}
    ) == Recipient(UUID4, A)
    for value in (
        {"installation_id": UUID4},
        {"endpoint": A},
        {"installation_id": UUID4.upper(), "endpoint": A},
        {"installation_id": UUID4, "endpoint": "http://a.example/submit"},
        {"installation_id": UUID4, "endpoint": "https://u:p@a.example/submit"},
        {"installation_id": UUID4, "endpoint": "ftp://a.example/submit"},
        {"installation_id": UUID4, "endpoint": "https://a.example/" + "x" * 2040},
        {"installation_id": UUID4, "endpoint": 5},
        [UUID4, A],
        UUID4,
    ):
        with pytest.raises(ValueError):
            parse_recipient(value)


def test_delivery_failed_erasure_is_retried() -> None:
    """A failed erasure stays, backs off, and becomes a repair after three failures."""
    state = DeliveryState(recipients=[Recipient(UUID4, A), Recipient(OTHER_ID, A)])
    state.erase_all(NOW)
    rng = random.Random(5)
    now = NOW
    for failure in range(1, ERASURE_ATTEMPTS_BEFORE_REPAIR + 1):
        assert not state.erasure_stuck
        state.erasure_failed(Recipient(UUID4, A), "http_503", now, rng)
        erasure = state.erasures[0]
        assert erasure.attempts == failure
        assert erasure.last_error == "http_503"
        assert HOUR <= erasure.next_attempt - now <= BACKOFF_CAP
        assert state.due_erasures(now) == [state.erasures[1]]
        now = erasure.next_attempt
        assert erasure in state.due_erasures(now)
    assert state.erasure_stuck
    state.erasure_failed(Recipient(UUID4, B), "timeout", now, rng)
    assert state.recipients == [Recipient(UUID4, A), Recipient(OTHER_ID, A)]
    assert state.erasures[0].attempts == ERASURE_ATTEMPTS_BEFORE_REPAIR
    state.erased(Recipient(UUID4, A))
    assert (state.erasure_stuck, state.recipients) == (False, [Recipient(OTHER_ID, A)])
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
    assert sent is not None
    assert state.recipients == [Recipient(sent, A)]
    state.erased(Recipient(sent, B))
    assert state.recipients == [Recipient(sent, A)]
    state.erased(Recipient(sent, A))
    assert state.recipients == []
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
    loaded, dropped = _load(state.as_storage(), now)
    assert dropped == []
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
        Erasure(UUID4, A, 1, now + 3 * DAY),
        Erasure(OTHER_ID, A, 0, now + HOUR),
        Erasure(str(uuid.UUID(int=1, version=4)), B, 2, now + 2 * HOUR),
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
    state.erasures.append(
        Erasure(UUID4, B, next_attempt=now + 30 * timedelta(minutes=1))
    )
    assert state.wake_at(CONSENT, now) == now + timedelta(minutes=30)
    assert state.wake_at(PAUSED, now) == now + timedelta(minutes=30)


def test_delivery_consent_without_a_first_day_plans_nothing() -> None:
    """Defensive: were sending allowed with no first day known, nothing is planned."""
    consent: Any = SimpleNamespace(current=True, opted_in=True, first_day=None)
    state = _opted_in()
    assert state.can_send(consent)
    assert state.next_period(consent, date(2026, 4, 1)) is None
    assert state.next_submission(consent, None) is None
    assert state.wake_at(consent, NOW) == NOW + CHECK_INTERVAL


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
        pending_erasures={},
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
    "recipients",
    "erasures",
}
# When the tables below are read back: the day after the valid state's attempt.
READ_AT = _at(date(2026, 3, 10), 7)
PERIOD = Period(FIRST_DAY, date(2026, 3, 10))
PENDING_KEY = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
KEPT_PERIOD = Period(date(2026, 2, 24), FIRST_DAY)


def test_delivery_storage_empty_round_trip() -> None:
    """The empty state and an empty object both load as the empty state, nothing dropped."""
    assert _load(DeliveryState().as_storage()) == (DeliveryState(), [])
    assert _load({}) == (DeliveryState(), [])


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
    state, dropped = _load({"last_request": "2026-03-10T08:00:00+02:00"})
    assert dropped == []
    assert state.last_request == datetime(2026, 3, 10, 6, tzinfo=UTC)
    assert state.last_request is not None
    assert state.last_request.tzinfo is UTC


def test_delivery_storage_drops_repeated_recipients() -> None:
    """A repeated recipient or erasure is read once (the same id at two services is two)."""
    recipients = [
        {"installation_id": UUID4, "endpoint": A},
        {"installation_id": UUID4, "endpoint": A},
        {"installation_id": UUID4, "endpoint": B},
        {"installation_id": OTHER_ID, "endpoint": A},
    ]
    erasure = {
        "installation_id": UUID4,
        "endpoint": A,
        "attempts": 1,
        "next_attempt": "2026-03-10T06:00:00+00:00",
        "last_error": None,
    }
    state, dropped = _load({"recipients": recipients, "erasures": [erasure, erasure]})
    assert dropped == []
    assert state.recipients == [
        Recipient(UUID4, A),
        Recipient(UUID4, B),
        Recipient(OTHER_ID, A),
    ]
    assert state.erasures == [Erasure(UUID4, A, 1, _at(date(2026, 3, 10), 6))]


def test_delivery_storage_legacy_ids_went_to_the_endpoint_in_use() -> None:
    """Ids stored before services were recorded are read as sent to the endpoint in use."""
    data = {
        "recipients": [{"installation_id": UUID4, "endpoint": A}],
        "service_ids": [UUID4, UUID4, OTHER_ID],
        "erasures": [
            {
                "installation_id": OTHER_ID,
                "attempts": 2,
                "next_attempt": "2026-03-10T06:00:00+00:00",
                "last_error": "timeout",
            }
        ],
    }
    state, dropped = _load(data, endpoint=B)
    assert dropped == []
    assert state.recipients == [
        Recipient(UUID4, A),
        Recipient(UUID4, B),
        Recipient(OTHER_ID, B),
    ]
    assert state.erasures == [
        Erasure(OTHER_ID, B, 2, _at(date(2026, 3, 10), 6), "timeout")
    ]
    assert state.pending_erasures() == {"http://127.0.0.1:8001": 1}
    # Written back in today's form: every id with its service.
    assert "service_ids" not in state.as_storage()
    assert state.as_storage()["erasures"][0]["endpoint"] == B
    # With no endpoint known, an erasure without one cannot be kept.
    state, dropped = _load(data)
    assert dropped == ["delivery: erasure"]
    assert state.recipients == [Recipient(UUID4, A)]
    assert state.erasures == []


def _kept_body() -> str:
    """The body of the kept report in the valid state."""
    return _body(KEPT_PERIOD, UUID4, jobs=3)


def _valid_state() -> DeliveryState:
    """A state with every part filled in (fixed ids, so the tables below are stable)."""
    state = _opted_in()
    state.installation_id = UUID4
    state.reported_until = FIRST_DAY
    _freeze(state, PERIOD, _at(date(2026, 3, 10), 6)).idempotency_key = PENDING_KEY
    _send(state, Failed("timeout"), _at(date(2026, 3, 10), 6))
    state.not_before = _at(date(2026, 3, 10), 9)
    state.last_success = _at(FIRST_DAY, 1)
    state.history = [
        Sent(date(2026, 2, 17), KEPT_PERIOD.start, KEPT_PERIOD.start, "s"),
        Sent(
            KEPT_PERIOD.start,
            KEPT_PERIOD.end,
            KEPT_PERIOD.end,
            "42",
            body=_kept_body(),
            accepted=_at(FIRST_DAY, 1),
            status=200,
            installation_id=UUID4,
        ),
    ]
    state.recipients.append(Recipient(OTHER_ID, B))
    state.erasures.append(
        Erasure(OTHER_ID, B, 1, _at(date(2026, 3, 10), 6), "http_500")
    )
    return state


def _valid() -> dict[str, Any]:
    """The valid state as stored; it reads back unchanged, nothing dropped."""
    stored = _valid_state().as_storage()
    loaded, dropped = _load(stored, READ_AT)
    assert dropped == []
    assert loaded.as_storage() == stored
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


def _report_with(**changes: Any) -> str:
    """The pending report in the builder's bytes with some values changed."""
    report = json.loads(_body(PERIOD, UUID4))
    for dotted, value in changes.items():
        target = report
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    return serialize_report(report).decode()


_REPORT = _body(PERIOD, UUID4)
assert '"period":{"start":"2026-03-03T00:00:00+00:00",' in _REPORT
# Each is dropped alone: the unit named, everything else kept.
_MALFORMED: dict[str, tuple[tuple[str | int, ...], object, str]] = {
    "id_int": (("installation_id",), 5, "installation id"),
    "id_text": (("installation_id",), "not-a-uuid", "installation id"),
    "id_upper": (("installation_id",), UUID4.upper(), "installation id"),
    "id_v1": (
        ("installation_id",),
        "4d6f7a3e-2b1c-1e5f-9a8b-7c6d5e4f3a2b",
        "installation id",
    ),
    "id_hex": (("installation_id",), UUID4.replace("-", ""), "installation id"),
    "id_braces": (("installation_id",), f"{{{UUID4}}}", "installation id"),
    "first_seen_feb_30": (("first_seen",), "2026-02-30", "first day"),
    "first_seen_int": (("first_seen",), 20260302, "first day"),
    "first_seen_full_width": (
        ("first_seen",),
        "\uff12\uff10\uff12\uff16-03-02",
        "first day",
    ),
    "reported_until_words": (("reported_until",), "next week", "reported until"),
    "reported_until_9999": (("reported_until",), "9999-12-31", "reported until"),
    "reported_until_list": (("reported_until",), ["2026-03-10"], "reported until"),
    "reported_until_short": (("reported_until",), "2026-3-3", "reported until"),
    "pending_text": (("pending",), "pending", "pending report"),
    "pending_list": (("pending",), [], "pending report"),
    "pending_no_start": (("pending", "start"), ..., "pending report"),
    "pending_start_none": (("pending", "start"), None, "pending report"),
    "pending_end_before": (("pending", "end"), "2026-03-01", "pending report"),
    "pending_key_text": (("pending", "idempotency_key"), "key", "pending report"),
    "pending_key_none": (("pending", "idempotency_key"), None, "pending report"),
    "pending_body_object": (("pending", "body"), {"report": 1}, "pending report"),
    "pending_body_customer": (
        ("pending", "body"),
        '{"customer": "Jane Doe", "email": "jane@example.com"}',
        "pending report",
    ),
    "pending_body_not_json": (("pending", "body"), "not json", "pending report"),
    "pending_body_other_period": (
        ("pending", "body"),
        _body(Period(FIRST_DAY, date(2026, 3, 9)), UUID4),
        "pending report",
    ),
    "pending_body_other_id": (
        ("pending", "body"),
        _body(PERIOD, OTHER_ID),
        "pending report",
    ),
    "pending_body_indented": (
        ("pending", "body"),
        json.dumps(json.loads(_REPORT), indent=2),
        "pending report",
    ),
    "pending_body_sorted": (
        ("pending", "body"),
        json.dumps(json.loads(_REPORT), separators=(",", ":"), sort_keys=True),
        "pending report",
    ),
    "pending_body_period_reordered": (
        ("pending", "body"),
        _REPORT.replace(
            '"period":{"start":"2026-03-03T00:00:00+00:00",'
            '"end":"2026-03-10T00:00:00+00:00","duration_days":7}',
            '"period":{"end":"2026-03-10T00:00:00+00:00",'
            '"start":"2026-03-03T00:00:00+00:00","duration_days":7}',
        ),
        "pending report",
    ),
    "pending_body_extra_key": (
        ("pending", "body"),
        _report_with(note="Jane Doe"),
        "pending report",
    ),
    "pending_body_country": (
        ("pending", "body"),
        _report_with(installation__country_code="ZZ"),
        "pending report",
    ),
    "pending_body_platform": (
        ("pending", "body"),
        _report_with(installation__platform="haiku"),
        "pending report",
    ),
    "pending_body_birthday": (
        ("pending", "body"),
        _report_with(installation__app_version="19.07.1985"),
        "pending report",
    ),
    "pending_body_too_long": (("pending", "body"), "x" * 10_240, "pending report"),
    "pending_attempts_negative": (("pending", "attempts"), -1, "pending report"),
    "pending_attempts_bool": (("pending", "attempts"), True, "pending report"),
    "pending_attempts_text": (("pending", "attempts"), "2", "pending report"),
    "pending_attempts_float": (("pending", "attempts"), 1.0, "pending report"),
    "pending_attempts_huge": (("pending", "attempts"), 10**15, "pending report"),
    "pending_next_none": (("pending", "next_attempt"), None, "pending report"),
    "pending_next_naive": (
        ("pending", "next_attempt"),
        "2026-03-10T06:00:00",
        "pending report",
    ),
    "pending_next_day": (("pending", "next_attempt"), "2026-03-10", "pending report"),
    "last_request_naive": (("last_request",), "2026-03-10T06:00:00", "last request"),
    "last_request_year_1": (
        ("last_request",),
        "0001-01-01T00:00:00+01:00",
        "last request",
    ),
    "last_request_9999": (
        ("last_request",),
        "9999-12-31T23:59:00+00:00",
        "last request",
    ),
    "last_request_int": (("last_request",), 1_773_122_400, "last request"),
    "last_request_space": (
        ("last_request",),
        "2026-03-10T06:00:00+00:00 ",
        "last request",
    ),
    "last_request_full_width": (
        ("last_request",),
        "\uff12\uff10\uff12\uff16-03-10T06:00:00+00:00",
        "last request",
    ),
    "not_before_words": (("not_before",), "soon", "wait"),
    "last_success_space": (("last_success",), "2026-03-10 06:00", "last submission"),
    "halt_unknown": (("halt",), "stopped", "stop reason"),
    "halt_none": (("halt",), None, "stop reason"),
    "halt_list": (("halt",), ["auth_failed"], "stop reason"),
    "halt_object": (("halt",), {"auth_failed": 1}, "stop reason"),
    "generation_text": (("halt_generation",), "1", "stop reason"),
    "generation_bool": (("halt_generation",), True, "stop reason"),
    "generation_huge": (("halt_generation",), 2**31, "stop reason"),
    "version_float": (("halt_version",), 1.4, "stop reason"),
    "version_words": (("halt_version",), "1.4 beta", "stop reason"),
    "version_long": (("halt_version",), "1" * 33, "stop reason"),
    "error_words": (("last_error",), "Connection reset by peer", "last error"),
    "error_upper": (("last_error",), "HTTP_500", "last error"),
    "error_empty": (("last_error",), "", "last error"),
    "error_long": (("last_error",), "x" * 33, "last error"),
    "error_int": (("last_error",), 500, "last error"),
    "error_code_shaped_word": (("last_error",), "jane_doe_lives_here", "last error"),
    "error_status_999": (("last_error",), "http_999", "last error"),
    "history_object": (("history",), {}, "sent report"),
    "history_text": (("history",), "[]", "sent report"),
    "history_entry_text": (("history", 0), "entry", "sent report"),
    "history_no_submitted": (("history", 0, "submitted"), ..., "sent report"),
    "history_end_before": (("history", 0, "end"), "2026-02-17", "sent report"),
    "history_start_none": (("history", 0, "start"), None, "sent report"),
    "history_id_int": (("history", 0, "submission_id"), 12, "sent report"),
    "history_id_empty": (("history", 0, "submission_id"), "", "sent report"),
    "history_id_rtl": (("history", 0, "submission_id"), "\u200f", "sent report"),
    "history_id_long": (("history", 0, "submission_id"), "1" * 65, "sent report"),
    "history_body_customer": (
        ("history", 1, "body"),
        '{"customer": "Jane Doe"}',
        "sent report",
    ),
    "history_body_other_id": (
        ("history", 1, "body"),
        _body(KEPT_PERIOD, OTHER_ID, jobs=3),
        "sent report",
    ),
    "history_body_other_period": (("history", 1, "body"), _REPORT, "sent report"),
    "history_status_404": (("history", 1, "status"), 404, "sent report"),
    "history_status_text": (("history", 1, "status"), "200", "sent report"),
    "history_accepted_naive": (
        ("history", 1, "accepted"),
        "2026-03-03T01:00:00",
        "sent report",
    ),
    "history_id_of_body": (("history", 1, "installation_id"), "x", "sent report"),
    "recipients_text": (("recipients",), UUID4, "installation id at a service"),
    "recipient_text": (("recipients", 0), UUID4, "installation id at a service"),
    "recipient_http": (
        ("recipients", 1, "endpoint"),
        "http://a.example/submit",
        "installation id at a service",
    ),
    "recipient_user": (
        ("recipients", 1, "endpoint"),
        "https://jane:doe@a.example/submit",
        "installation id at a service",
    ),
    "recipient_no_id": (
        ("recipients", 0, "installation_id"),
        ...,
        "installation id at a service",
    ),
    "erasures_object": (("erasures",), {"id": UUID4}, "erasure"),
    "erasure_text": (("erasures", 0), UUID4, "erasure"),
    "erasure_id_none": (("erasures", 0, "installation_id"), None, "erasure"),
    "erasure_id_text": (("erasures", 0, "installation_id"), "x", "erasure"),
    "erasure_no_attempts": (("erasures", 0, "attempts"), ..., "erasure"),
    "erasure_attempts_negative": (("erasures", 0, "attempts"), -3, "erasure"),
    "erasure_attempts_huge": (("erasures", 0, "attempts"), 10_001, "erasure"),
    "erasure_next_none": (("erasures", 0, "next_attempt"), None, "erasure"),
    "erasure_next_naive": (
        ("erasures", 0, "next_attempt"),
        "2026-03-10T06:00:00",
        "erasure",
    ),
    "erasure_error_words": (("erasures", 0, "last_error"), "Server said no", "erasure"),
    "erasure_endpoint_ftp": (
        ("erasures", 0, "endpoint"),
        "ftp://a.example/submit",
        "erasure",
    ),
}


def _without(path: tuple[str | int, ...]) -> dict[str, Any]:
    """The valid stored state without the unit at `path` (what a damaged unit leaves)."""
    expected: dict[str, Any] = json.loads(json.dumps(_valid()))
    key = path[0]
    assert isinstance(key, str)
    if key in ("history", "recipients", "erasures"):
        if len(path) == 1:
            expected[key] = []
        else:
            index = path[1]
            assert isinstance(index, int)
            del expected[key][index]
    elif key == "pending":
        expected["pending"] = None
    elif key in ("halt", "halt_generation", "halt_version"):
        # One stop reason: a damaged part of it is no stop.
        expected[key] = DeliveryState().as_storage()[key]
    else:
        expected[key] = None
        if key == "installation_id":
            # The pending report was built under the id: it goes with it.
            expected["pending"] = None
    return expected


@pytest.mark.parametrize(
    ("path", "value", "unit"), _MALFORMED.values(), ids=_MALFORMED.keys()
)
def test_delivery_storage_drops_a_damaged_unit_alone(
    path: tuple[str | int, ...], value: object, unit: str
) -> None:
    """Every damaged unit is dropped alone and named; everything else is kept."""
    loaded, dropped = _load(_broken(path, value), READ_AT)
    expected_dropped = [f"delivery: {unit}"]
    if path == ("installation_id",):
        expected_dropped.append("delivery: pending report")
    assert dropped == expected_dropped
    assert loaded.as_storage() == _without(path)
    # What is written back reads back as it is.
    assert _load(loaded.as_storage(), READ_AT) == (loaded, [])


def test_delivery_storage_without_an_id_drops_the_pending_report() -> None:
    """A pending report built under an id the file no longer holds is not kept."""
    loaded, dropped = _load(_broken(("installation_id",), None), READ_AT)
    assert dropped == ["delivery: pending report"]
    assert loaded.pending is None
    assert loaded.history == _load(_valid(), READ_AT)[0].history


def test_delivery_storage_keeps_a_verified_report_as_sent() -> None:
    """A pending report and a kept one that verify are read back byte for byte."""
    loaded, dropped = _load(_valid(), READ_AT)
    assert dropped == []
    assert loaded.pending is not None
    assert loaded.pending.body == _REPORT
    assert loaded.pending.period == PERIOD
    assert loaded.history[1].body == _kept_body()
    assert loaded.history[1].sha256 == hashlib.sha256(_kept_body().encode()).hexdigest()
    assert loaded.history[0].body is None


@pytest.mark.parametrize("data", [None, [], "state", 3, [("halt", "none")]])
def test_delivery_storage_rejects_non_objects(data: object) -> None:
    """A stored section that is not an object raises ValueError (storage notes it whole)."""
    with pytest.raises(ValueError, match="not an object"):
        DeliveryState.from_storage(data, Reading(READ_AT))


def test_delivery_storage_keeps_every_erasure() -> None:
    """Loading keeps every queued erasure, however many."""
    ids = [str(uuid.UUID(int=n + 1, version=4)) for n in range(80)]
    state = DeliveryState(recipients=[Recipient(sid, A) for sid in ids])
    state.erase_all(NOW)
    loaded, dropped = _load(state.as_storage())
    assert dropped == []
    assert [e.installation_id for e in loaded.erasures] == ids


def test_delivery_storage_clamps_records_ahead_of_now() -> None:
    """A record in 2031 never runs ahead of the trusted now (6 minutes' slack for rounding)."""
    data = {
        "first_seen": "2031-01-01",
        "reported_until": "2031-01-01",
        "last_request": "2031-01-01T00:00:00+00:00",
        "last_success": "2031-01-01T00:00:00+00:00",
        "history": [
            {
                "start": "2026-02-24",
                "end": "2026-03-03",
                "submitted": "2031-01-01",
                "submission_id": None,
                "accepted": "2031-01-01T00:00:00+00:00",
            }
        ],
    }
    loaded, dropped = _load(data, READ_AT)
    assert dropped == []
    assert loaded.first_seen == date(2026, 3, 11)
    assert loaded.reported_until == date(2026, 3, 11)
    assert loaded.last_request == datetime(2026, 3, 10, 7, 6, tzinfo=UTC)
    assert loaded.last_success == datetime(2026, 3, 10, 7, 6, tzinfo=UTC)
    assert loaded.history[0].submitted == date(2026, 3, 10)
    assert loaded.history[0].accepted == datetime(2026, 3, 10, 7, 6, tzinfo=UTC)
    # The next request waits the usual hour from then, not until 2031.
    assert loaded.earliest_request() == datetime(2026, 3, 10, 8, 6, tzinfo=UTC)
    # While the clock holds a stored mark back, records up to the mark are kept.
    mark = datetime(2031, 1, 1, tzinfo=UTC)
    reading = Reading(READ_AT, ceiling=mark)
    held = DeliveryState.from_storage(data, reading)
    assert not reading.damage
    assert held.last_request == mark
    assert held.reported_until == date(2031, 1, 1)


_IDS = st.uuids(version=4).map(str)
_DAYS = st.dates(date(2000, 1, 1), date(2100, 1, 1))
_MINUTES = st.datetimes(
    datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(second=0, microsecond=0))
_CODES = st.sampled_from(sorted(REASONS)) | st.integers(100, 599).map("http_{}".format)
_ENDPOINTS = st.sampled_from(
    [A, B, "https://stats.printernizer.com/submit", "https://[::1]:8443/v2/submit"]
)


@st.composite
def _periods(draw: st.DrawFn) -> Period:
    start = draw(_DAYS)
    return Period(start, start + timedelta(days=draw(st.integers(1, 7))))


@st.composite
def _sent(draw: st.DrawFn, moments: st.SearchStrategy[datetime]) -> Sent:
    """A kept report, with or without the bytes that left."""
    period = draw(_periods())
    submitted = draw(_DAYS)
    submission_id = draw(
        st.none() | st.text(min_size=1, max_size=64).filter(str.isprintable)
    )
    if not draw(st.booleans()):
        return Sent(period.start, period.end, submitted, submission_id)
    installation_id = draw(_IDS)
    return Sent(
        period.start,
        period.end,
        submitted,
        submission_id,
        body=_body(period, installation_id, jobs=draw(st.integers(0, 2**31 - 1))),
        accepted=draw(st.none() | moments),
        status=draw(st.none() | st.integers(200, 299)),
        installation_id=installation_id,
    )


@st.composite
def _states(draw: st.DrawFn, moments: st.SearchStrategy[datetime]) -> DeliveryState:
    """Any well-formed delivery state."""
    installation_id = draw(st.none() | _IDS)
    pending = None
    if installation_id is not None and draw(st.booleans()):
        period = draw(_periods())
        pending = PendingReport(
            period.start,
            period.end,
            draw(_IDS),
            _body(period, installation_id),
            draw(st.integers(0, 50)),
            draw(moments),
        )
    recipients = draw(
        st.lists(st.builds(Recipient, _IDS, _ENDPOINTS), unique=True, max_size=5)
    )
    return DeliveryState(
        installation_id=installation_id,
        first_seen=draw(st.none() | _DAYS),
        reported_until=draw(st.none() | _DAYS),
        pending=pending,
        last_request=draw(st.none() | moments),
        not_before=draw(st.none() | moments),
        halt=draw(st.sampled_from(Halt)),
        halt_generation=draw(st.none() | st.integers(0, 2**31 - 1)),
        halt_version=draw(
            st.none() | st.from_regex(r"[0-9A-Za-z.+-]{1,32}", fullmatch=True)
        ),
        last_error=draw(st.none() | _CODES),
        last_success=draw(st.none() | moments),
        history=draw(st.lists(_sent(moments), max_size=REPORTS_KEPT)),
        recipients=recipients,
        erasures=[
            Erasure(
                r.installation_id,
                r.endpoint,
                draw(st.integers(0, 9)),
                draw(moments),
                draw(st.none() | _CODES),
            )
            for r in recipients
            if draw(st.booleans())
        ],
    )


@settings(max_examples=100, deadline=None)
@given(_states(_MINUTES))
def test_delivery_storage_round_trip(state: DeliveryState) -> None:
    """as_storage and from_storage round trip, through JSON, with nothing dropped."""
    assert _load(state.as_storage()) == (state, [])


_ANY_TIME = st.datetimes(
    datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=50, deadline=None)
@given(_states(_ANY_TIME))
def test_delivery_storage_round_trip_rounds_up(state: DeliveryState) -> None:
    """Times come back rounded up to the minute: never earlier, less than a minute later."""
    loaded, dropped = _load(state.as_storage())
    assert dropped == []
    pairs = [
        (state.last_request, loaded.last_request),
        (state.not_before, loaded.not_before),
        (state.last_success, loaded.last_success),
        *(
            (a.next_attempt, b.next_attempt)
            for a, b in zip(state.erasures, loaded.erasures, strict=True)
        ),
        *(
            (a.accepted, b.accepted)
            for a, b in zip(state.history, loaded.history, strict=True)
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


_ACCEPTED = st.builds(Accepted, st.none() | st.just("sub"), st.sampled_from([200, 201]))
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
    sent: set[Recipient] = field(default_factory=set)
    erased: set[Recipient] = field(default_factory=set)
    bodies: dict[str, str] = field(default_factory=dict)
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
        self.endpoint = A
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
        stop = self.state.halt
        if self.state.resume(generation=self.generation, version=self.version):
            self.model.halted = Halt.NONE
            if stop is Halt.AUTH_FAILED:
                # New credentials: the refusal is no longer the last word.
                assert self.state.last_error is None
        assert self.state.pending is pending
        self.state.follow_clock(self.now.date(), self.now)

    def check(self, outcome: Outcome, erase_ok: bool, *, force: bool = False) -> None:
        """One check: erase what is due, build what is due, send when allowed."""
        state, now, model = self.state, self.now, self.model
        today = now.date()
        assert not state.follow_clock(today, now)
        state.forget_old_reports(today)
        oldest = today - timedelta(days=RETENTION_DAYS - 1)
        assert all(sent.end > oldest for sent in state.history)
        for erasure in state.due_erasures(now):
            if erase_ok:
                state.erased(erasure.recipient)
                model.erased.add(erasure.recipient)
            else:
                state.erasure_failed(erasure.recipient, "http_500", now, self.rng)
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
            pending = _freeze(state, period, now)
            model.bodies[pending.idempotency_key] = pending.body
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
        before = state.last_request
        pending = state.begin_attempt(now, self.endpoint)
        assert state.installation_id is not None
        recipient = Recipient(state.installation_id, self.endpoint)
        assert recipient in state.recipients
        model.sent.add(recipient)
        frozen = model.frozen[pending.idempotency_key]
        # Sent byte for byte as frozen, however often it is tried.
        assert pending.body == model.bodies[pending.idempotency_key]
        state.apply(
            outcome, now, self.rng, generation=self.generation, version=self.version
        )
        model.backoff_until = None
        if isinstance(outcome, Accepted):
            self.accepted(frozen, pending.body, outcome.status)
        elif isinstance(outcome, Refused):
            model.halted = outcome.halt
            assert (state.pending is pending) is (outcome.halt is Halt.AUTH_FAILED)
            assert state.halt == outcome.halt
            if outcome.halt is Halt.AUTH_FAILED:
                # A refused key used none of the hourly budget.
                assert state.last_request == before
                model.attempts.pop()
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

    def accepted(self, frozen: _Frozen, body: str, status: int) -> None:
        """A 2xx: the period is done, fits the plan, and is kept as sent."""
        state, model = self.state, self.model
        period = frozen.period
        assert state.pending is None
        assert state.reported_until == period.end
        assert state.last_success == self.now
        newest = state.history[-1]
        assert (newest.start, newest.end) == (period.start, period.end)
        assert (newest.body, newest.status, newest.accepted) == (body, status, self.now)
        assert newest.installation_id == state.installation_id
        assert newest.sha256 == hashlib.sha256(body.encode()).hexdigest()
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
        assert self.state.history == []
        queued = {e.recipient for e in self.state.erasures}
        assert set(self.state.recipients) <= queued

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

    @rule()
    def change_endpoint(self) -> None:
        """The user points the integration at the other service (the entry reloads)."""
        self.endpoint = B if self.endpoint == A else A
        self.setup()

    @rule(erase_ok=st.booleans())
    def delete_all(self, erase_ok: bool) -> None:
        """delete_all: erase every id at its service, rotate, report from today on."""
        state = self.state
        old = state.installation_id
        recipients = state.erase_all(self.now)
        assert set(state.recipients) <= set(recipients)
        state.restart_after_delete(self.consent, self.now.date())
        assert state.history == []
        if self.consent.opted_in:
            assert state.installation_id not in (None, old)
            self.model.restarts.add(self.now.date())
        for erasure in state.due_erasures(self.now):
            if erase_ok:
                state.erased(erasure.recipient)
                self.model.erased.add(erasure.recipient)

    @rule()
    def restart(self) -> None:
        """Home Assistant restarts: the state goes through storage, nothing is dropped."""
        stored = json.loads(json.dumps(self.state.as_storage()))
        reading = Reading(self.now)
        self.state = DeliveryState.from_storage(stored, reading, endpoint=self.endpoint)
        assert reading.damage.summary() == []
        assert self.state.as_storage() == stored
        self.setup()

    # --- invariants -------------------------------------------------------------

    @invariant()
    def wake_is_soon(self) -> None:
        """The next check is after now and at most CHECK_INTERVAL away."""
        wake = self.state.wake_at(self.consent, self.now)
        assert self.now < wake <= self.now + CHECK_INTERVAL

    @invariant()
    def ids_leave_only_when_erased(self) -> None:
        """Every id stays with each service it went to until that one erased it."""
        state, model = self.state, self.model
        recipients = set(state.recipients)
        assert model.sent - model.erased <= recipients
        queued = [e.recipient for e in state.erasures]
        assert len(queued) == len(set(queued))
        assert set(queued) <= recipients
        assert {
            r for r in recipients if r.installation_id != state.installation_id
        } <= set(queued)
        assert len(state.recipients) == len(recipients)
        assert sum(state.pending_erasures().values()) == len(queued)

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
        history = self.state.history
        assert len(history) <= REPORTS_KEPT
        assert sum(sent.size for sent in history) <= REPORT_BYTES_KEPT
        for before, after in itertools.pairwise(history):
            assert before.end <= after.start

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
