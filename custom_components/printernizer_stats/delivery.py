"""The delivery policy: which period to report next, when to send, retry and erase.

Free of Home Assistant: every method takes the (trusted) time as an argument
and changes only this state, so the whole policy is unit-tested directly.
The Home Assistant shell (submission.py) runs the timers, makes the HTTP
requests, saves the state and raises repairs; it asks this module what is
due and tells it what happened.

Rules (see the README for the user's view):

* Periods are 7 whole UTC days, contiguous from the day after consent; after
  an outage the missed weeks go out one report at a time, oldest first; the
  last partial week waits. Days older than retention that were never
  reported are skipped, not sent as one block.
* At most one submission per hour, retries included. 2xx: the period is
  done. 401/403: stop until the credentials change. 400/422: drop that
  report, stop until the integration is updated. 429 and failures: back
  off (1 h to 24 h, full jitter), or wait as long as the service asks.
* Every installation id that was ever sent is kept with the service it was
  sent to, and erasing it asks that service (never the one configured now)
  until it confirms, whatever else happens.
* The reports the service accepted are kept as sent, byte for byte (the
  newest REPORTS_KEPT, within REPORT_BYTES_KEPT and the retention window):
  the user can compare what left with what the service stored.

Longer than most modules on purpose: the policy and the check of every
field of the section it owns are one job (the stored form is input: every
unit is re-checked on load and a damaged one dropped alone), and splitting
the rules across files would make each harder to find.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
import hashlib
import json
import random
import re
from typing import Any, Final
from urllib.parse import urlsplit
import uuid

from . import stored
from .consent import Consent
from .errors import ContractError
from .report import MAX_REPORT_BYTES, UUID4_RE, Period, serialize_report, verify_report
from .stats_api import (
    ERROR_CONNECTION,
    ERROR_INSECURE_REDIRECT,
    ERROR_INVALID_RESPONSE,
    ERROR_REDIRECT,
    ERROR_TIMEOUT,
    ERROR_TOO_MANY_REDIRECTS,
    validate_endpoint,
)
from .stored import Reading

REPORT_DAYS: Final = 7
RETENTION_DAYS: Final = 90
MIN_REQUEST_INTERVAL: Final = timedelta(hours=1)
CHECK_INTERVAL: Final = timedelta(hours=6)
BACKOFF_BASE: Final = timedelta(hours=1)
BACKOFF_CAP: Final = timedelta(hours=24)
MAX_WAIT: Final = timedelta(days=7)
# Accepted reports kept, each exactly as sent: about three months of weeks,
# and never more bytes than this in all.
REPORTS_KEPT: Final = 12
REPORT_BYTES_KEPT: Final = 40_960
# An erasure that failed this often is shown to the user as a repair.
ERASURE_ATTEMPTS_BEFORE_REPAIR: Final = 3
# Stored as the reason when an outcome brings something that is not a code.
OTHER_REASON: Final = "other"
# The reasons the shell reports besides an HTTP status (http_NNN): the
# statistics client's error codes, an endpoint it cannot use, a stop. Export
# and diagnostics show them, so no other word is kept, nor read back.
REASONS: Final = frozenset(
    {
        ERROR_TIMEOUT,
        ERROR_CONNECTION,
        ERROR_INVALID_RESPONSE,
        ERROR_INSECURE_REDIRECT,
        ERROR_REDIRECT,
        ERROR_TOO_MANY_REDIRECTS,
        "invalid_endpoint",
        "auth_failed",
        "rejected",
        OTHER_REASON,
    }
)

_HTTP_REASON_RE: Final = re.compile(r"http_[1-5][0-9]{2}")
_VERSION_RE: Final = re.compile(r"[0-9A-Za-z.+-]{1,32}")
_SECTION: Final = "delivery"


class Halt(StrEnum):
    """Why sending stopped until something changes."""

    NONE = "none"
    AUTH_FAILED = "auth_failed"
    REJECTED = "rejected"


class SharingStatus(StrEnum):
    """What the sharing-status sensor shows."""

    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"
    PAUSED = "paused"
    FAILING = "failing"


@dataclass(frozen=True, slots=True)
class Accepted:
    """The service stored the report (its HTTP status and its id for it)."""

    submission_id: str | None = None
    status: int = 200


@dataclass(frozen=True, slots=True)
class Refused:
    """The service refused the key (AUTH_FAILED) or the report (REJECTED)."""

    halt: Halt
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    """Not delivered this time (network, 5xx, 429); `retry_after` if the service said."""

    reason: str
    retry_after: timedelta | None = None


type Outcome = Accepted | Refused | Failed


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """What the sensors and diagnostics show of the delivery state."""

    sharing: SharingStatus
    last_submission: datetime | None
    next_submission: datetime | None
    # Erasures not yet confirmed, per service (its origin: no path, no key).
    pending_erasures: Mapping[str, int]


@dataclass(slots=True)
class PendingReport:
    """A built report waiting to be accepted; sent byte for byte with one idempotency key."""

    start: date
    end: date
    idempotency_key: str
    body: str
    attempts: int = 0
    next_attempt: datetime = field(
        default_factory=lambda: datetime.min.replace(tzinfo=UTC)
    )

    @property
    def period(self) -> Period:
        """The period the report covers."""
        return Period(self.start, self.end)


@dataclass(frozen=True, slots=True)
class Recipient:
    """An installation id and the service (endpoint) it was sent to."""

    installation_id: str
    endpoint: str


@dataclass(slots=True)
class Erasure:
    """An installation id whose data one service must still be asked to erase."""

    installation_id: str
    endpoint: str
    attempts: int = 0
    next_attempt: datetime = field(
        default_factory=lambda: datetime.min.replace(tzinfo=UTC)
    )
    last_error: str | None = None

    @property
    def recipient(self) -> Recipient:
        """Which id, at which service."""
        return Recipient(self.installation_id, self.endpoint)


@dataclass(frozen=True, slots=True)
class Sent:
    """One accepted report: its period (whole days) and, for the newest, the bytes that left.

    `body` is exactly what was POSTed; `accepted` the minute the answer came,
    `status` its HTTP status, `installation_id` the id it was sent under.
    Reports accepted before this record existed have no body.
    """

    start: date
    end: date
    submitted: date
    submission_id: str | None
    body: str | None = None
    accepted: datetime | None = None
    status: int | None = None
    installation_id: str | None = None

    @property
    def size(self) -> int:
        """Bytes of the body as sent."""
        return 0 if self.body is None else len(self.body.encode())

    @property
    def sha256(self) -> str | None:
        """SHA-256 of the body as sent, to match it against what the service stored."""
        return (
            None
            if self.body is None
            else hashlib.sha256(self.body.encode()).hexdigest()
        )


def backoff_delay(attempt: int, rng: random.Random) -> timedelta:
    """Exponential backoff with full jitter, between BACKOFF_BASE and BACKOFF_CAP."""
    exponent = min(max(attempt, 0), 16)
    ceiling = min(
        BACKOFF_CAP.total_seconds(), BACKOFF_BASE.total_seconds() * 2.0**exponent
    )
    return min(
        BACKOFF_CAP, max(BACKOFF_BASE, timedelta(seconds=rng.uniform(0, ceiling)))
    )


def _midnight(day: date) -> datetime:
    """A UTC day's start."""
    return datetime.combine(day, time.min, UTC)


def _is_reason(text: str) -> bool:
    """One of our reason codes (REASONS, or http_ and a status)."""
    return text in REASONS or _HTTP_REASON_RE.fullmatch(text) is not None


def _code(reason: str) -> str:
    """A reason as it may be stored: one of our codes, never free text."""
    return reason if _is_reason(reason) else OTHER_REASON


def origin(endpoint: str) -> str:
    """A service as the user may see it: scheme, host and port; no path, no key."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _trim(history: list[Sent]) -> list[Sent]:
    """The newest REPORTS_KEPT reports within REPORT_BYTES_KEPT (oldest go first)."""
    kept = history[-REPORTS_KEPT:]
    while len(kept) > 1 and sum(sent.size for sent in kept) > REPORT_BYTES_KEPT:
        kept = kept[1:]
    return kept


@dataclass(slots=True)
class DeliveryState:
    """Everything the policy remembers (one stored section, plus two facts in the config entry)."""

    installation_id: str | None = None
    first_seen: date | None = None
    # End (exclusive) of the last accepted period, or where the plan goes on.
    reported_until: date | None = None
    pending: PendingReport | None = None
    last_request: datetime | None = None
    not_before: datetime | None = None
    halt: Halt = Halt.NONE
    halt_generation: int | None = None
    halt_version: str | None = None
    last_error: str | None = None
    last_success: datetime | None = None
    # The reports the service accepted, oldest first (see Sent).
    history: list[Sent] = field(default_factory=list)
    # Every id a report was (maybe) sent under, with its service, not yet erased.
    recipients: list[Recipient] = field(default_factory=list)
    erasures: list[Erasure] = field(default_factory=list)
    # The request before the one in flight: a refused key costs no budget.
    _request_before: datetime | None = field(default=None, repr=False)

    # --- consent ------------------------------------------------------------------

    def follow_consent(self, consent: Consent, now: datetime) -> bool:
        """Bring the state in line with the user's choice; True when it changed.

        Opting in makes a random id (first seen: the first reportable day);
        opting out cancels what is pending, forgets the id and what was sent,
        and asks each service to erase everything it was sent.
        """
        if consent.opted_in:
            if self.installation_id is None:
                self.installation_id = str(uuid.uuid4())
                self.first_seen = consent.first_day
                return True
            return False
        changed = (
            self.installation_id is not None
            or self.pending is not None
            or bool(self.history)
        )
        self.erase_all(now)
        self._forget_id()
        return changed or bool(self.erasures)

    def _forget_id(self) -> None:
        """Drop the id and what was sent under it (a stop stays: its cause is not the id)."""
        self.installation_id = None
        self.first_seen = None
        self.pending = None
        self.history = []
        if self.halt is Halt.NONE:
            self.last_error = None

    def erase_all(self, now: datetime) -> list[Recipient]:
        """Put every id a service may hold on the erasure list, for that service; return them."""
        queued = {erasure.recipient for erasure in self.erasures}
        self.erasures.extend(
            Erasure(r.installation_id, r.endpoint, next_attempt=now)
            for r in self.recipients
            if r not in queued
        )
        return [erasure.recipient for erasure in self.erasures]

    def restart_after_delete(self, consent: Consent, today: date) -> None:
        """delete_all: local data and the id are gone; a new id reports from today on."""
        self._forget_id()
        if consent.opted_in:
            self.installation_id = str(uuid.uuid4())
            self.first_seen = today
            # Days before today were erased, not idle: never report them.
            self.reported_until = max(self.reported_until or today, today)

    def resume(self, *, generation: int, version: str) -> bool:
        """Lift a stop whose cause went away (new credentials, a new integration version).

        After a refused key the status is right at once: the refusal is no
        longer the last word.
        """
        if self.halt is Halt.AUTH_FAILED and self.halt_generation != generation:
            self.last_error = None
        elif not (self.halt is Halt.REJECTED and self.halt_version != version):
            return False
        self.halt = Halt.NONE
        self.halt_generation = None
        self.halt_version = None
        return True

    # --- time -------------------------------------------------------------------

    def follow_clock(self, today: date, now: datetime) -> bool:
        """After the clock went back: nothing may stay scheduled in a future it left.

        A report accepted for days that (now) lie ahead cannot be unsent; the
        plan goes on from today so sending does not stop for the length of
        the jump. Waits counted from a request made in that future keep their
        length, counted from now.
        """
        changed = False
        tomorrow = today + timedelta(days=1)
        if self.reported_until is not None and self.reported_until > tomorrow:
            self.reported_until = today
            changed = True
        pending = self.pending
        if pending is not None and pending.end > tomorrow:
            self.pending = pending = None
            changed = True
        # Times within stored.SLACK of now are no sign of a clock that went
        # back: trusted time may step back a few minutes, stored times are
        # rounded up.
        late = now + stored.SLACK
        if self.last_request is not None and self.last_request > late:
            back = self.last_request - now
            self.last_request = now
            if self.not_before is not None:
                self.not_before -= back
            if pending is not None and pending.attempts:
                pending.next_attempt -= back
            changed = True
        if self.not_before is not None and self.not_before > late + MAX_WAIT:
            self.not_before = now + MIN_REQUEST_INTERVAL
            changed = True
        waits: list[tuple[PendingReport | Erasure, timedelta]] = [
            (erasure, BACKOFF_CAP) for erasure in self.erasures
        ]
        if pending is not None:
            waits.append((pending, MAX_WAIT))
        for item, longest in waits:
            if not item.attempts and item.next_attempt > late:
                # Planned for "at once" in the future the clock left.
                item.next_attempt = now
                changed = True
            elif item.next_attempt > late + longest:
                item.next_attempt = now + BACKOFF_CAP
                changed = True
        return changed

    def forget_old_reports(self, today: date) -> bool:
        """Drop kept reports whose period ended before the retention window; True if any went."""
        oldest = today - timedelta(days=RETENTION_DAYS - 1)
        kept = [sent for sent in self.history if sent.end > oldest]
        changed = len(kept) != len(self.history)
        self.history = kept
        return changed

    def earliest_request(self) -> datetime:
        """One submission per installation per hour, and longer when the service asked."""
        earliest = datetime.min.replace(tzinfo=UTC)
        if self.last_request is not None:
            earliest = self.last_request + MIN_REQUEST_INTERVAL
        if self.not_before is not None:
            earliest = max(earliest, self.not_before)
        return earliest

    # --- planning ----------------------------------------------------------------

    def can_send(self, consent: Consent) -> bool:
        """Sending is allowed by consent and not stopped."""
        return (
            consent.current
            and self.halt is Halt.NONE
            and self.installation_id is not None
        )

    def skip_expired(self, consent: Consent, today: date) -> tuple[date, date] | None:
        """Skip never-reported days older than retention; return the skipped [start, end).

        A pending report is sent as built; the days after it are skipped once
        it is settled.
        """
        if self.pending is not None:
            return None
        start = self.next_start(consent)
        oldest = today - timedelta(days=RETENTION_DAYS - 1)
        if start is None or start >= oldest:
            return None
        self.reported_until = oldest
        return start, oldest

    def next_start(self, consent: Consent) -> date | None:
        """Where the next report begins: after the last one, never before consent."""
        first = consent.first_day
        if first is None:
            return None
        return first if self.reported_until is None else max(self.reported_until, first)

    def next_period(
        self, consent: Consent, today: date, *, force: bool = False
    ) -> Period | None:
        """The next period, once its 7 days are over (forced: up to today, if a day is over)."""
        start = self.next_start(consent)
        if start is None:
            return None
        end = start + timedelta(days=REPORT_DAYS)
        if end <= today:
            return Period(start, end)
        if force and start < today:
            return Period(start, today)
        return None

    def preview_period(self, consent: Consent, today: date) -> Period:
        """The period the next report will cover (for preview and export)."""
        if self.pending is not None:
            return self.pending.period
        start = self.next_start(consent) or today
        return Period(start, start + timedelta(days=REPORT_DAYS))

    def freeze(self, period: Period, body: str, now: datetime) -> PendingReport:
        """Keep a built report for sending; it is sent as is until accepted or rejected."""
        self.pending = PendingReport(
            period.start, period.end, str(uuid.uuid4()), body, next_attempt=now
        )
        return self.pending

    def send_due(self, consent: Consent, now: datetime, *, force: bool = False) -> bool:
        """The pending report may be sent now."""
        return (
            self.pending is not None
            and self.can_send(consent)
            and (force or now >= self.pending.next_attempt)
            and now >= self.earliest_request()
        )

    def due_erasures(self, now: datetime) -> list[Erasure]:
        """Erasures whose next attempt has come."""
        return [erasure for erasure in self.erasures if now >= erasure.next_attempt]

    def wake_at(self, consent: Consent, now: datetime) -> datetime:
        """When something may next be due (at most CHECK_INTERVAL away)."""
        when = now + CHECK_INTERVAL
        if self.can_send(consent):
            if self.pending is not None:
                when = min(
                    when, max(self.pending.next_attempt, self.earliest_request())
                )
            elif (start := self.next_start(consent)) is not None:
                due = _midnight(start + timedelta(days=REPORT_DAYS))
                when = min(when, max(due, self.earliest_request()))
        for erasure in self.erasures:
            when = min(when, erasure.next_attempt)
        return max(when, now + timedelta(seconds=1))

    def next_submission(
        self, consent: Consent, next_check: datetime | None
    ) -> datetime | None:
        """When a report will be sent next, as far as is known now."""
        if not self.can_send(consent):
            return None
        if self.pending is not None:
            return max(self.pending.next_attempt, self.earliest_request())
        start = self.next_start(consent)
        if start is None:
            return None
        due = _midnight(start + timedelta(days=REPORT_DAYS))
        # An overdue report goes out at the next check, not in the past.
        return max(due, self.earliest_request(), next_check or due)

    def pending_erasures(self) -> dict[str, int]:
        """Erasures not yet confirmed, per service origin."""
        counts: dict[str, int] = {}
        for erasure in self.erasures:
            key = origin(erasure.endpoint)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def view(self, consent: Consent, next_check: datetime | None) -> DeliveryView:
        """The state as the sensors show it."""
        return DeliveryView(
            sharing=self.sharing_status(consent),
            last_submission=self.last_success,
            next_submission=self.next_submission(consent, next_check),
            pending_erasures=self.pending_erasures(),
        )

    def sharing_status(self, consent: Consent) -> SharingStatus:
        """One word for the dashboard."""
        if not consent.opted_in:
            return SharingStatus.OPTED_OUT
        if not consent.current:
            return SharingStatus.PAUSED
        if self.halt is not Halt.NONE or self.last_error is not None:
            return SharingStatus.FAILING
        return SharingStatus.OPTED_IN

    # --- outcomes ----------------------------------------------------------------

    def begin_attempt(self, now: datetime, endpoint: str) -> PendingReport:
        """Note an attempt (and where it goes) before the request leaves: it may reach the service."""
        pending = self.pending
        assert pending is not None and self.installation_id is not None
        self._request_before = self.last_request
        self.last_request = now
        pending.attempts += 1
        recipient = Recipient(self.installation_id, endpoint)
        if recipient not in self.recipients:
            self.recipients.append(recipient)
        return pending

    def apply(
        self,
        outcome: Outcome,
        now: datetime,
        rng: random.Random,
        *,
        generation: int,
        version: str,
    ) -> None:
        """What one submission's outcome means for the pending report and the schedule."""
        pending = self.pending
        assert pending is not None
        if isinstance(outcome, Accepted):
            self.reported_until = pending.end
            sent = Sent(
                pending.start,
                pending.end,
                now.date(),
                outcome.submission_id,
                body=pending.body,
                accepted=now,
                status=outcome.status,
                installation_id=self.installation_id,
            )
            self.history = _trim([*self.history, sent])
            self.pending = None
            self.halt = Halt.NONE
            self.last_error = None
            self.last_success = now
            return
        if isinstance(outcome, Refused):
            self.halt = outcome.halt
            self.last_error = _code(
                f"http_{outcome.status}" if outcome.status else str(outcome.halt)
            )
            if outcome.halt is Halt.AUTH_FAILED:
                self.halt_generation = generation
                # The service checks the key before its rate limit: a refused
                # key used none of the hourly budget.
                self.last_request = self._request_before
            else:
                # That payload is never sent again; a new build replaces it.
                self.halt_version = version
                self.pending = None
            return
        delay = max(
            outcome.retry_after or backoff_delay(pending.attempts - 1, rng),
            MIN_REQUEST_INTERVAL,
        )
        pending.next_attempt = now + min(delay, MAX_WAIT)
        if outcome.retry_after:
            self.not_before = pending.next_attempt
        self.last_error = _code(outcome.reason)

    def erased(self, recipient: Recipient) -> None:
        """That service confirmed the erasure: forget the id there for good."""
        self.erasures = [e for e in self.erasures if e.recipient != recipient]
        self.recipients = [r for r in self.recipients if r != recipient]

    def erasure_failed(
        self, recipient: Recipient, reason: str, now: datetime, rng: random.Random
    ) -> None:
        """Keep the id and try that service again later."""
        for erasure in self.erasures:
            if erasure.recipient == recipient:
                erasure.attempts += 1
                erasure.last_error = _code(reason)
                erasure.next_attempt = now + backoff_delay(erasure.attempts - 1, rng)

    @property
    def erasure_stuck(self) -> bool:
        """An erasure failed often enough that the user should know."""
        return any(e.attempts >= ERASURE_ATTEMPTS_BEFORE_REPAIR for e in self.erasures)

    # --- persistence ----------------------------------------------------------------

    def as_storage(self) -> dict[str, Any]:
        """JSON form (no secret: the keys used at each service stay in the config entry)."""
        pending = self.pending
        return {
            "installation_id": self.installation_id,
            "first_seen": stored.iso(self.first_seen),
            "reported_until": stored.iso(self.reported_until),
            "pending": None
            if pending is None
            else {
                "start": pending.start.isoformat(),
                "end": pending.end.isoformat(),
                "idempotency_key": pending.idempotency_key,
                "body": pending.body,
                "attempts": pending.attempts,
                "next_attempt": stored.iso(pending.next_attempt),
            },
            "last_request": stored.iso(self.last_request),
            "not_before": stored.iso(self.not_before),
            "halt": str(self.halt),
            "halt_generation": self.halt_generation,
            "halt_version": self.halt_version,
            "last_error": self.last_error,
            "last_success": stored.iso(self.last_success),
            "history": [_sent_as_storage(sent) for sent in self.history],
            "recipients": [
                {"installation_id": r.installation_id, "endpoint": r.endpoint}
                for r in self.recipients
            ],
            "erasures": [
                {
                    "installation_id": e.installation_id,
                    "endpoint": e.endpoint,
                    "attempts": e.attempts,
                    "next_attempt": stored.iso(e.next_attempt),
                    "last_error": e.last_error,
                }
                for e in self.erasures
            ],
        }

    @classmethod
    def from_storage(
        cls, data: object, reading: Reading, *, endpoint: str | None = None
    ) -> DeliveryState:
        """Parse the stored section, dropping each damaged unit alone (noted in `reading`).

        `endpoint` is where ids stored without one (written before services
        were recorded) were sent: the endpoint configured now, the best that
        is known. Raises ValueError only when the section is not an object.
        """
        if not isinstance(data, Mapping):
            raise ValueError("delivery state is not an object")  # noqa: TRY004
        get = data.get

        def keep[T](unit: str, parse: Any, value: object) -> T | None:
            result: T | None = reading.keep(_SECTION, unit, parse, value)
            return result

        halt = keep("stop reason", _halt, get("halt", "none")) or Halt.NONE
        state = cls(
            installation_id=keep(
                "installation id", _installation_id, get("installation_id")
            ),
            first_seen=keep("first day", _bounded_day(reading), get("first_seen")),
            reported_until=keep(
                "reported until", _bounded_day(reading), get("reported_until")
            ),
            last_request=keep("last request", _past(reading), get("last_request")),
            not_before=keep("wait", stored.moment, get("not_before")),
            halt=halt,
            halt_generation=keep("stop reason", _generation, get("halt_generation")),
            halt_version=keep("stop reason", _version, get("halt_version")),
            last_error=keep("last error", _reason, get("last_error")),
            last_success=keep("last submission", _past(reading), get("last_success")),
        )
        state.history = _trim(
            reading.each(
                _SECTION,
                "sent report",
                _sent(reading),
                keep("sent report", stored.list_of, get("history")) or [],
            )
        )
        old_ids = keep(
            "installation id at a service", stored.list_of, get("service_ids")
        )
        state.recipients = unique(
            [
                *reading.each(
                    _SECTION,
                    "installation id at a service",
                    parse_recipient,
                    keep(
                        "installation id at a service",
                        stored.list_of,
                        get("recipients"),
                    )
                    or [],
                ),
                # Written before services were recorded: bare ids.
                *(
                    Recipient(sid, endpoint)
                    for sid in reading.each(
                        _SECTION,
                        "installation id at a service",
                        _installation_id_str,
                        old_ids or [],
                    )
                    if endpoint is not None
                ),
            ]
        )
        erasures = reading.each(
            _SECTION,
            "erasure",
            _erasure(endpoint),
            keep("erasure", stored.list_of, get("erasures")) or [],
        )
        state.erasures = list({e.recipient: e for e in erasures}.values())
        if (pending := get("pending")) is not None:
            state.pending = keep(
                "pending report", _pending(state.installation_id), pending
            )
        return state


# --- the stored form (each parser raises ValueError) ---------------------------


def _sent_as_storage(sent: Sent) -> dict[str, Any]:
    """One kept report as stored."""
    return {
        "start": sent.start.isoformat(),
        "end": sent.end.isoformat(),
        "submitted": sent.submitted.isoformat(),
        "submission_id": sent.submission_id,
        "body": sent.body,
        "accepted": stored.iso(sent.accepted),
        "status": sent.status,
        "installation_id": sent.installation_id,
    }


def unique[T](items: list[T]) -> list[T]:
    """Items in order, each once."""
    return list(dict.fromkeys(items))


def _halt(value: object) -> Halt:
    """A stop reason we know."""
    if not isinstance(value, str) or value not in set(Halt):
        raise ValueError("unknown halt")
    return Halt(value)


def _generation(value: object) -> int | None:
    """An optional credentials generation."""
    return None if value is None else stored.count(value, 2**31 - 1)


def _version(value: object) -> str | None:
    """An optional integration version (as the manifest writes it)."""
    text = stored.optional(value, str)
    if text is not None and not _VERSION_RE.fullmatch(text):
        raise ValueError("not a version")
    return text


def _reason(value: object) -> str | None:
    """An optional reason code of ours (never free text, nor another word)."""
    text = stored.optional(value, str)
    if text is not None and not _is_reason(text):
        raise ValueError("a reason is not a code")
    return text


def _installation_id(value: object) -> str | None:
    """An optional canonical UUID4."""
    text = stored.optional(value, str)
    if text is not None and not UUID4_RE.fullmatch(text):
        raise ValueError("not an installation id")
    return text


def _installation_id_str(value: object) -> str:
    """A canonical UUID4."""
    text = _installation_id(value)
    if text is None:
        raise ValueError("no installation id")
    return text


def _endpoint(value: object) -> str:
    """A statistics endpoint the client would use (https, or plain http to this machine)."""
    if not isinstance(value, str) or len(value) > 2048:
        raise ValueError("not an endpoint")
    return validate_endpoint(value)


def _bounded_day(reading: Reading) -> Any:
    """An optional day, clamped so it never lies ahead of tomorrow."""

    def parse(value: object) -> date | None:
        day = stored.day(value)
        return None if day is None else min(day, reading.latest_day)

    return parse


def _past(reading: Reading) -> Any:
    """An optional moment, clamped so it never lies ahead of the trusted now."""

    def parse(value: object) -> datetime | None:
        moment = stored.moment(value)
        return None if moment is None else reading.not_after_now(moment)

    return parse


def parse_recipient(value: object) -> Recipient:
    """An id and the service it went to, as stored (raises ValueError)."""
    item = stored.fields(value, ("installation_id", "endpoint"))
    return Recipient(
        _installation_id_str(item["installation_id"]), _endpoint(item["endpoint"])
    )


def _verified_body(
    body: object, start: date, end: date, installation_id: str | None
) -> str:
    """A stored report, re-checked exactly as a freshly built one (report.verify_report).

    It must also be in the builder's own bytes and belong to the period and
    id it is stored with: a hand-edited report is never shown or sent.
    """
    if not isinstance(body, str) or len(body) >= MAX_REPORT_BYTES:
        raise ValueError("a stored report is not a report")
    try:
        report = json.loads(body)
        verify_report(report)
    except (ContractError, RecursionError) as err:
        raise ValueError("a stored report does not verify") from err
    # verify_report checked the keys' order; together with the builder's
    # bytes no byte of a stored report is left free to carry anything.
    if serialize_report(report) != body.encode():
        raise ValueError("a stored report is not in the builder's form")
    period = report["period"]
    if (
        period["start"][:10] != start.isoformat()
        or period["end"][:10] != end.isoformat()
        or report["installation"]["installation_id"] != installation_id
    ):
        raise ValueError("a stored report belongs to another period or id")
    return body


def _pending(installation_id: str | None) -> Any:
    """A stored pending report, verified as if it had just been built."""

    def parse(value: object) -> PendingReport:
        item = stored.fields(
            value,
            ("start", "end", "idempotency_key", "body", "attempts", "next_attempt"),
        )
        start, end = stored.day(item["start"]), stored.day(item["end"])
        next_attempt = stored.moment(item["next_attempt"])
        key = item["idempotency_key"]
        if start is None or end is None or next_attempt is None or end <= start:
            raise ValueError("a pending report has no period")
        if not (isinstance(key, str) and UUID4_RE.fullmatch(key)):
            raise ValueError("a pending report is malformed")
        body = _verified_body(item["body"], start, end, installation_id)
        return PendingReport(
            start, end, key, body, stored.count(item["attempts"]), next_attempt
        )

    return parse


def _sent(reading: Reading) -> Any:
    """A stored accepted report; one with a body must verify, like a pending one."""

    def parse(value: object) -> Sent:
        item = stored.fields(value, ("start", "end", "submitted"))
        start, end = stored.day(item["start"]), stored.day(item["end"])
        submitted = stored.day(item["submitted"])
        submission_id = stored.optional(item.get("submission_id"), str)
        if start is None or end is None or submitted is None or end <= start:
            raise ValueError("a history entry is malformed")
        if submission_id is not None and not (
            0 < len(submission_id) <= 64 and submission_id.isprintable()
        ):
            raise ValueError("a submission id is not a short printable code")
        installation_id = _installation_id(item.get("installation_id"))
        body = item.get("body")
        accepted = stored.moment(item.get("accepted"))
        status = stored.optional(item.get("status"), int)
        if body is not None:
            body = _verified_body(body, start, end, installation_id)
        if status is not None and not 200 <= status < 300:
            raise ValueError("an accepted report has no success status")
        return Sent(
            start,
            end,
            reading.not_after_now(submitted),
            submission_id,
            body=body,
            accepted=None if accepted is None else reading.not_after_now(accepted),
            status=status,
            installation_id=installation_id,
        )

    return parse


def _erasure(endpoint: str | None) -> Any:
    """A stored erasure (one written before services were recorded goes to `endpoint`)."""

    def parse(value: object) -> Erasure:
        item = stored.fields(value, ("installation_id", "attempts", "next_attempt"))
        sid = _installation_id_str(item["installation_id"])
        where = item.get("endpoint", endpoint)
        next_attempt = stored.moment(item["next_attempt"])
        if next_attempt is None or where is None:
            raise ValueError("an erasure is malformed")
        return Erasure(
            sid,
            _endpoint(where),
            stored.count(item["attempts"], 10_000),
            next_attempt,
            _reason(item.get("last_error")),
        )

    return parse
