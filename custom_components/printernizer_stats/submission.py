"""The weekly report's life: when to build it, sending it once, and consent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
import hashlib
import json
import random
import sys
from typing import TYPE_CHECKING, Any
import uuid

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .const import (
    CONF_API_KEY,
    CONF_CONSENT_DAY,
    CONF_CONSENT_VERSION,
    CONF_ENDPOINT,
    CONF_SHARE,
    CONSENT_VERSION,
    DOMAIN,
    LOGGER,
    default_endpoint,
)
from .counters import KEY_SEPARATOR
from .report import (
    UNKNOWN_COUNTRY,
    InstallationFacts,
    Period,
    build_report,
    country_code,
    serialize_report,
)
from .stats_api import StatsServiceClient, SubmitOutcome, SubmitResult, backoff_delay

if TYPE_CHECKING:
    from .coordinator import PrinternizerStatsConfigEntry
    from .storage import PrinternizerStatsStorage

REPORT_DAYS = 7
MIN_REQUEST_INTERVAL = timedelta(hours=1)
CHECK_INTERVAL = timedelta(hours=6)
STARTUP_DELAY = timedelta(minutes=5)
STARTUP_JITTER = timedelta(minutes=10)
HISTORY_LENGTH = 20

ISSUE_RECONSENT = "reconsent_required"
ISSUE_API_KEY = "api_key_rejected"
ISSUE_REJECTED = "report_rejected"


class SharingStatus(StrEnum):
    """What the sharing-status sensor shows."""

    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"
    PAUSED = "paused"
    FAILING = "failing"


class _State(StrEnum):
    """Why submissions are (not) flowing; persisted."""

    OK = "ok"
    RETRYING = "retrying"
    AUTH_FAILED = "auth_failed"
    REJECTED = "rejected"


@dataclass(slots=True)
class PendingReport:
    """A built report waiting to be accepted; survives restarts byte for byte."""

    period_start: date
    period_end: date
    idempotency_key: str
    body: str
    attempts: int
    next_attempt: datetime

    def as_storage(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "idempotency_key": self.idempotency_key,
            "body": self.body,
            "attempts": self.attempts,
            "next_attempt": self.next_attempt.isoformat(),
        }

    @classmethod
    def from_storage(cls, data: Any) -> PendingReport | None:
        """Parse; a malformed entry is dropped (the period is then rebuilt)."""
        try:
            next_attempt = dt_util.parse_datetime(data["next_attempt"])
            if next_attempt is None:
                return None
            return cls(
                period_start=date.fromisoformat(data["period_start"]),
                period_end=date.fromisoformat(data["period_end"]),
                idempotency_key=str(data["idempotency_key"]),
                body=str(data["body"]),
                attempts=int(data["attempts"]),
                next_attempt=next_attempt,
            )
        except (KeyError, TypeError, ValueError):
            return None


def _credentials_hash(endpoint: str, api_key: str) -> str:
    """Remember which credentials failed without storing the key twice."""
    return hashlib.sha256(f"{endpoint}\n{api_key}".encode()).hexdigest()[:16]


class SubmissionManager:
    """Schedules, builds, sends and retries the weekly report."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: PrinternizerStatsConfigEntry,
        storage: PrinternizerStatsStorage,
        *,
        integration_version: str,
    ) -> None:
        """Read consent and the persisted submission state."""
        self._hass = hass
        self._entry = entry
        self._storage = storage
        self._version = integration_version
        self._unsub_timer: CALLBACK_TYPE | None = None
        self._stopped = False
        self._rng = random.Random()
        self.next_check: datetime | None = None
        self.listeners: list[Callable[[], None]] = []
        self._country = UNKNOWN_COUNTRY
        options = entry.options
        self.endpoint: str = options.get(CONF_ENDPOINT) or default_endpoint()
        self._api_key: str = options.get(CONF_API_KEY, "")
        self._client = StatsServiceClient(
            async_get_clientsession(hass),
            endpoint=self.endpoint,
            api_key=self._api_key,
            user_agent=f"HomeAssistant-PrinternizerStats/{integration_version}",
        )
        state = storage.data.submission
        self.pending = PendingReport.from_storage(state.get("pending"))
        self._last_period_end = _parse_day(state.get("last_period_end"))
        self.last_success = _parse_time(state.get("last_success"))
        self._last_request = _parse_time(state.get("last_request"))
        # A pause the service asked for (429 Retry-After); submit_now honours it too.
        self._not_before = _parse_time(state.get("not_before"))
        self._state = (
            _State(state.get("state", "ok"))
            if state.get("state") in set(_State)
            else _State.OK
        )
        self._failed_with: str | None = state.get("failed_with")
        self._rejected_version: str | None = state.get("rejected_version")
        self.history: list[dict[str, Any]] = list(state.get("history") or [])[
            -HISTORY_LENGTH:
        ]

    # --- consent ---------------------------------------------------------

    @property
    def consent_day(self) -> date | None:
        """The day sharing was agreed to, if it was."""
        return _parse_day(self._entry.options.get(CONF_CONSENT_DAY))

    @property
    def opted_in(self) -> bool:
        """The user agreed to some version of the disclosure."""
        return (
            bool(self._entry.options.get(CONF_SHARE)) and self.consent_day is not None
        )

    @property
    def consent_current(self) -> bool:
        """The user agreed to the disclosure of this version."""
        return (
            self.opted_in
            and self._entry.options.get(CONF_CONSENT_VERSION) == CONSENT_VERSION
        )

    @property
    def sharing_status(self) -> SharingStatus:
        """One word for the dashboard."""
        if not self.opted_in:
            return SharingStatus.OPTED_OUT
        if not self.consent_current:
            return SharingStatus.PAUSED
        if self._state is not _State.OK:
            return SharingStatus.FAILING
        return SharingStatus.OPTED_IN

    async def async_apply_consent(self) -> None:
        """Bring stored state in line with the entry's consent (run at every setup)."""
        # The time-zone lookup reads tzdata's files: once, off the event loop.
        self._country = await self._hass.async_add_executor_job(
            country_code, self._hass.config.country, self._hass.config.time_zone
        )
        data = self._storage.data
        if not self.opted_in:
            if data.installation_id or self.pending or self._last_period_end:
                LOGGER.info(
                    "Sharing is off: the installation id and any pending report were discarded"
                )
            data.installation_id = None
            data.first_seen = None
            self.pending = None
            self._last_period_end = None
            # The history belongs to the discarded id; a later opt-in starts anew.
            self.history = []
            self._state = _State.OK
            self._failed_with = None
            self._rejected_version = None
            for issue in (ISSUE_RECONSENT, ISSUE_API_KEY, ISSUE_REJECTED):
                ir.async_delete_issue(self._hass, DOMAIN, issue)
            await self._async_persist()
            return
        if data.installation_id is None:
            data.installation_id = str(uuid.uuid4())
            data.first_seen = self.consent_day.isoformat() if self.consent_day else None
        if self.consent_current:
            ir.async_delete_issue(self._hass, DOMAIN, ISSUE_RECONSENT)
        else:
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                ISSUE_RECONSENT,
                is_fixable=True,
                is_persistent=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_RECONSENT,
            )
        if self._state is _State.AUTH_FAILED and self._failed_with != _credentials_hash(
            self.endpoint, self._api_key
        ):
            # The user entered other credentials: try again.
            self._state = _State.OK
            self._failed_with = None
            ir.async_delete_issue(self._hass, DOMAIN, ISSUE_API_KEY)
        if self._state is _State.REJECTED and self._rejected_version != self._version:
            # A new version of the integration builds reports differently.
            self._state = _State.OK
            self._rejected_version = None
            ir.async_delete_issue(self._hass, DOMAIN, ISSUE_REJECTED)
        await self._async_persist()

    # --- scheduling ------------------------------------------------------

    @callback
    def async_start(self) -> None:
        """First check a while after start-up, with jitter so installs spread out."""
        delay = STARTUP_DELAY + self._rng.random() * STARTUP_JITTER
        self._async_schedule(dt_util.utcnow() + delay)

    @callback
    def async_stop(self) -> None:
        """Cancel the timer (unload); a check still running plans nothing more."""
        self._stopped = True
        if self._unsub_timer:
            self._unsub_timer()
            self._unsub_timer = None
        self.next_check = None

    @callback
    def _async_schedule(self, when: datetime) -> None:
        """Wake up at `when` (replacing any earlier plan)."""
        if self._stopped:
            return
        if self._unsub_timer:
            self._unsub_timer()
        self.next_check = when
        self._unsub_timer = async_track_point_in_utc_time(
            self._hass, self._async_timer, when
        )

    @callback
    def _async_timer(self, now: datetime) -> None:
        """Run a check in a task that unloading the entry cancels."""
        self._unsub_timer = None
        self._entry.async_create_background_task(
            self._hass, self.async_check(), f"{DOMAIN} submission check"
        )

    @property
    def next_submission(self) -> datetime | None:
        """When a report will be sent next, as far as we know now."""
        start = self._period_start()
        if (
            start is None
            or not self.consent_current
            or self._state in (_State.AUTH_FAILED, _State.REJECTED)
        ):
            return None
        if self.pending is not None:
            return max(self.pending.next_attempt, self._earliest_request())
        due = datetime.combine(
            start + timedelta(days=REPORT_DAYS), datetime.min.time(), dt_util.UTC
        )
        # An overdue report goes out at the next check, not in the past.
        return max(due, self._earliest_request(), self.next_check or due)

    def _earliest_request(self) -> datetime:
        """The service takes one request per installation per hour, and may ask for more."""
        earliest = dt_util.utc_from_timestamp(0)
        if self._last_request is not None:
            earliest = self._last_request + MIN_REQUEST_INTERVAL
        if self._not_before is not None:
            earliest = max(earliest, self._not_before)
        return earliest

    def _period_start(self) -> date | None:
        """Where the next report begins: after the last accepted one, never before consent."""
        consent_day = self.consent_day
        if consent_day is None:
            return None
        if self._last_period_end is None:
            return consent_day
        return max(self._last_period_end, consent_day)

    async def async_check(self, *, force: bool = False) -> SubmitResult | None:
        """Build a report when one is due and send it when allowed; plan the next check."""
        now = dt_util.utcnow()
        result: SubmitResult | None = None
        try:
            if self.consent_current and self._state not in (
                _State.AUTH_FAILED,
                _State.REJECTED,
            ):
                if self.pending is None:
                    await self._async_build_pending(now, force=force)
                if (
                    self.pending is not None
                    and (force or now >= self.pending.next_attempt)
                    and now >= self._earliest_request()
                ):
                    result = await self._async_send(now)
        finally:
            self._async_plan_next(now)
            self._async_notify()
        return result

    @callback
    def _async_notify(self) -> None:
        """Let the sensors show the new state; they otherwise follow Printernizer's polls."""
        if not self._stopped:
            for listener in self.listeners:
                listener()

    @callback
    def _async_plan_next(self, now: datetime) -> None:
        """Next wake-up: the pending report's retry time, else the regular check."""
        when = now + CHECK_INTERVAL
        if (
            self.pending is not None
            and self.consent_current
            and self._state is not _State.AUTH_FAILED
        ):
            when = min(when, max(self.pending.next_attempt, self._earliest_request()))
        self._async_schedule(max(when, now + timedelta(seconds=1)))

    async def _async_build_pending(self, now: datetime, *, force: bool) -> None:
        """Freeze the next report (payload, period, idempotency key) once it is due."""
        start = self._period_start()
        end = now.date()
        if start is None or end <= start:
            return
        if not force and (end - start).days < REPORT_DAYS:
            return
        self.pending = PendingReport(
            period_start=start,
            period_end=end,
            idempotency_key=str(uuid.uuid4()),
            body=serialize_report(self.build_report(start, end, now)).decode(),
            attempts=0,
            next_attempt=now,
        )
        await self._async_persist()

    def build_report(self, start: date, end: date, now: datetime) -> dict[str, Any]:
        """The report for [start, end) from what is stored now."""
        data = self._storage.data
        snapshot = data.snapshot
        consent_day = self.consent_day or start
        return build_report(
            counters=data.counters.by_date(),
            period=Period(start=start, end=end),
            installation=InstallationFacts(
                installation_id=data.installation_id
                or "00000000-0000-4000-8000-000000000000",
                first_seen=_parse_day(data.first_seen) or consent_day,
                app_version=snapshot.get("app_version") or "unknown",
                python_version=None,
                platform=sys.platform,
                country_code=self._country,
            ),
            fleet=snapshot.get("fleet") or {},
            uptime_hours=snapshot.get("uptime_hours"),
            consent_day=consent_day,
            today=now.date(),
        )

    def preview(self) -> dict[str, Any] | None:
        """The exact next report: the pending one, else the next period with today's data."""
        if self.pending is not None:
            return dict(json.loads(self.pending.body))
        now = dt_util.utcnow()
        start = self._period_start() or now.date()
        end = max(now.date(), start + timedelta(days=REPORT_DAYS))
        sent = max(now, datetime.combine(end, datetime.min.time(), dt_util.UTC))
        return self.build_report(start, end, sent)

    async def _async_send(self, now: datetime) -> SubmitResult:
        """One request; the outcome decides what happens to the pending report."""
        pending = self.pending
        assert pending is not None
        self._last_request = now
        pending.attempts += 1
        await self._async_persist()
        result = await self._client.submit(
            pending.body.encode(), idempotency_key=pending.idempotency_key
        )
        outcome = result.outcome
        if outcome is SubmitOutcome.ACCEPTED:
            LOGGER.info(
                "The usage report for %s to %s was accepted",
                pending.period_start,
                pending.period_end - timedelta(days=1),
            )
            self._last_period_end = pending.period_end
            self.last_success = now
            self.history = [
                *self.history,
                {
                    "period_start": pending.period_start.isoformat(),
                    "period_end": pending.period_end.isoformat(),
                    "submitted": now.date().isoformat(),
                    "submission_id": result.submission_id,
                },
            ][-HISTORY_LENGTH:]
            self.pending = None
            self._state = _State.OK
            self._rejected_version = None
            ir.async_delete_issue(self._hass, DOMAIN, ISSUE_API_KEY)
            ir.async_delete_issue(self._hass, DOMAIN, ISSUE_REJECTED)
        elif outcome is SubmitOutcome.AUTH_FAILED:
            LOGGER.warning(
                "The statistics service refused the API key (HTTP %s); submissions stop "
                "until a new key is entered in the integration's options",
                result.status,
            )
            self._state = _State.AUTH_FAILED
            self._failed_with = _credentials_hash(self.endpoint, self._api_key)
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                ISSUE_API_KEY,
                is_fixable=True,
                severity=ir.IssueSeverity.ERROR,
                translation_key=ISSUE_API_KEY,
            )
        elif outcome is SubmitOutcome.REJECTED:
            LOGGER.warning(
                "The statistics service rejected the report (HTTP %s); it will not be "
                "sent again and submissions pause until the integration is updated",
                result.status,
            )
            self.pending = None
            self._state = _State.REJECTED
            self._rejected_version = self._version
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                ISSUE_REJECTED,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_REJECTED,
                translation_placeholders={"status": str(result.status)},
            )
        else:
            # Retry-After when the service sends one (429), else backoff with
            # full jitter; never sooner than the one-request-per-hour limit.
            delay = result.retry_after or backoff_delay(
                pending.attempts - 1, rng=self._rng
            )
            delay = max(delay, MIN_REQUEST_INTERVAL)
            pending.next_attempt = now + delay
            if result.retry_after:
                self._not_before = pending.next_attempt
            self._state = _State.RETRYING
            LOGGER.debug(
                "Report not delivered (%s); next attempt at %s",
                result.error or outcome,
                pending.next_attempt,
            )
        await self._async_persist()
        return result

    async def async_submit_now(self) -> datetime | None:
        """The submit_now action: send now if allowed; return the next allowed time if not."""
        if not self.consent_current:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="not_opted_in"
            )
        now = dt_util.utcnow()
        if now < self._earliest_request():
            return self._earliest_request()
        if self._state is _State.AUTH_FAILED:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="api_key_rejected"
            )
        self._state = _State.OK if self._state is _State.REJECTED else self._state
        result = await self.async_check(force=True)
        if result is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="nothing_to_submit"
            )
        if result.outcome is not SubmitOutcome.ACCEPTED:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="submission_failed",
                translation_placeholders={
                    "reason": result.error or str(result.outcome)
                },
            )
        return None

    async def async_delete_all(self) -> dict[str, Any]:
        """Wipe local data, ask the service to erase what it has, rotate the id."""
        data = self._storage.data
        old_id = data.installation_id
        deleted = {
            "days": len(data.counters.days),
            "events": sum(
                count
                for counts in data.counters.days.values()
                for name, count in counts.items()
                if KEY_SEPARATOR not in name
            ),
            "submissions": len(self.history),
        }
        erasure = "not_needed"
        if old_id is not None and (self.history or self.pending is not None):
            outcome = await self._client.delete_installation(old_id)
            erasure = "erased" if outcome.ok else "failed"
        data.counters.clear()
        data.snapshot = {}
        data.installation_id = None
        data.first_seen = None
        self.pending = None
        self.history = []
        self.last_success = None
        self._last_period_end = None
        self._state = _State.OK
        await self.async_apply_consent()
        if self.opted_in:
            # The new id starts today: days before it were erased, not idle.
            today = dt_util.utcnow().date()
            data.first_seen = today.isoformat()
            self._last_period_end = today
            await self._async_persist()
        return {
            "deleted": deleted,
            "service_erasure": erasure,
            "installation_id_rotated": old_id is not None,
        }

    # --- persistence ------------------------------------------------------

    async def _async_persist(self) -> None:
        """Put the state into the stored data and save at once.

        A pending report must survive a crash, so this does not wait for the
        debounced save (it runs at most a few times per hour).
        """
        self._storage.data.submission = self.as_storage()
        await self._storage.async_flush()

    def as_storage(self) -> dict[str, Any]:
        """JSON form of the submission state."""
        return {
            "pending": self.pending.as_storage() if self.pending else None,
            "last_period_end": self._last_period_end.isoformat()
            if self._last_period_end
            else None,
            "last_success": self.last_success.isoformat()
            if self.last_success
            else None,
            "last_request": self._last_request.isoformat()
            if self._last_request
            else None,
            "not_before": self._not_before.isoformat() if self._not_before else None,
            "state": str(self._state),
            "failed_with": self._failed_with,
            "rejected_version": self._rejected_version,
            "history": self.history,
        }


def _parse_day(value: Any) -> date | None:
    """An ISO day, or None."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _parse_time(value: Any) -> datetime | None:
    """An ISO datetime, or None."""
    if not isinstance(value, str):
        return None
    parsed = dt_util.parse_datetime(value)
    return dt_util.as_utc(parsed) if parsed else None
