"""The Home Assistant shell around the delivery policy: timers, requests, saves, repairs.

The policy (delivery.py) decides; this module runs it. Durability comes
first: an attempt is saved before the request leaves, and a 2xx is saved
before anything else happens, so a report reaches the service twice only if
Home Assistant stops, or the request times out, after the service stored it
and before its answer was saved. While the file cannot be written, nothing
is sent.

Erasure follows the data: every installation id is erased at the service it
was sent to, with the key used there. The keys of services other than the
configured one are kept in the config entry (with Home Assistant's other
credentials, never in the statistics file) until those services confirm.

About 600 lines: besides the timer and the request cycle, the actions that
read or change the delivery state (submit_now, delete_all, sent_reports)
live here, next to the saves and repairs they must share.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
import json
import platform
import random
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_call_later

from .consent import Consent
from .const import (
    CONF_API_KEY,
    CONF_CREDENTIALS_GENERATION,
    CONF_ENDPOINT,
    DATA_REPORTED_UNTIL,
    DATA_SERVICE_IDS,
    DATA_SERVICE_KEYS,
    DOMAIN,
    ISSUE_ERASURE,
    ISSUE_RECONSENT,
    ISSUE_REJECTED,
    LOGGER,
    default_endpoint,
)
from .country import country_code
from .delivery import (
    CHECK_INTERVAL,
    RETENTION_DAYS,
    Accepted,
    DeliveryView,
    Erasure,
    Failed,
    Halt,
    Outcome,
    Recipient,
    Refused,
    SharingStatus,
    parse_recipient,
    unique,
)
from .errors import (
    AuthFailedError,
    ClientError,
    ContractError,
    RateLimitedError,
    RejectedError,
    StorageUnwritableError,
)
from .report import InstallationFacts, Period, Report, build_report, serialize_report
from .stats_api import StatsServiceClient
from .storage import PrinternizerStatsStorage
from .stored import day as stored_day, iso as stored_iso
from .vocabulary import PLATFORMS, UNKNOWN, UNKNOWN_COUNTRY

STARTUP_DELAY: Final = timedelta(minutes=5)
STARTUP_JITTER: Final = timedelta(minutes=10)
# An erasure the user asked for should not wait for the start-up delay.
ERASURE_DELAY: Final = timedelta(minutes=1)
# While the file cannot be written, try again this often (and send nothing).
SAVE_RETRY: Final = timedelta(minutes=5)
PREVIEW_ID: Final = "00000000-0000-4000-8000-000000000000"


class SubmitReason(StrEnum):
    """What submit_now did, or why it did not send: every expected outcome is an answer."""

    SENT = "sent"
    NOT_SHARING = "not_sharing"
    NOTHING_DUE = "nothing_due"
    TOO_SOON = "too_soon"
    KEY_REFUSED = "key_refused"
    REJECTED = "rejected"
    RETRY_LATER = "retry_later"


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The answer of submit_now: sent or not, why, and when a request is allowed again."""

    reason: SubmitReason
    next_allowed: datetime | None = None

    @property
    def submitted(self) -> bool:
        """Whether a report was accepted by this call."""
        return self.reason is SubmitReason.SENT


_HALT_REASONS: Final = {
    Halt.AUTH_FAILED: SubmitReason.KEY_REFUSED,
    Halt.REJECTED: SubmitReason.REJECTED,
}


def _platform() -> str:
    """The operating system, in the report's words."""
    system = platform.system().lower()
    return system if system in PLATFORMS else UNKNOWN


class SubmissionManager:
    """Runs the weekly report and the erasures for one config entry."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        storage: PrinternizerStatsStorage,
        *,
        version: str,
        deployment_mode: str,
    ) -> None:
        """Read consent and the submission settings of the entry."""
        self._hass = hass
        self._entry = entry
        self._storage = storage
        self._state = storage.data.delivery
        self._version = version
        self._deployment_mode = deployment_mode
        self._rng = random.Random()
        self._unsub_timer: CALLBACK_TYPE | None = None
        self._stopped = False
        self._country = UNKNOWN_COUNTRY
        self._platform = _platform()
        self._build_failed = False
        self._lock = asyncio.Lock()
        self.next_check: datetime | None = None
        self.consent = Consent.from_options(entry.options)
        self.endpoint: str = entry.options.get(CONF_ENDPOINT) or default_endpoint()
        self._generation: int = entry.options.get(CONF_CREDENTIALS_GENERATION, 0)
        self._api_key: str = entry.options.get(CONF_API_KEY, "")
        self._user_agent = f"HomeAssistant-PrinternizerStats/{version}"
        self._client = StatsServiceClient(
            async_get_clientsession(hass),
            endpoint=self.endpoint,
            api_key=self._api_key,
            user_agent=self._user_agent,
        )
        self._resumed = False

    # --- set-up ------------------------------------------------------------------

    async def async_setup(self) -> None:
        """Bring the stored state in line with the entry (run at every set-up)."""
        # The time-zone lookup reads tzdata's files: once, off the event loop.
        self._country = await self._hass.async_add_executor_job(
            country_code, self._hass.config.country, self._hass.config.time_zone
        )
        state = self._state
        now = self._storage.now()
        # The entry keeps what must survive losing the statistics file; it is
        # input too, so it is read with the file's own rules.
        try:
            kept = stored_day(self._entry.data.get(DATA_REPORTED_UNTIL))
        except ValueError:
            kept = None
        if kept is not None and kept <= now.date() + timedelta(days=1):
            state.reported_until = max(state.reported_until or kept, kept)
        entry_recipients = self._entry_recipients()
        self._forget_unknown_services({r.endpoint for r, _ in entry_recipients})
        for recipient, erase in entry_recipients:
            if recipient not in state.recipients:
                state.recipients.append(recipient)
            # An erasure asked for survives a lost file: the entry marks it.
            if erase and recipient not in {e.recipient for e in state.erasures}:
                state.erasures.append(
                    Erasure(
                        recipient.installation_id, recipient.endpoint, next_attempt=now
                    )
                )
        if not self.consent.opted_in and (state.installation_id or state.pending):
            LOGGER.info(
                "Sharing is off: the installation id and any pending report were discarded, "
                "and each service is asked to erase what it received"
            )
        state.follow_consent(self.consent, now)
        self._resumed = state.resume(generation=self._generation, version=self._version)
        if not self._storage.data.clock.holding:
            state.follow_clock(now.date(), now)
        self._update_issues()
        await self._async_persist()

    def _forget_unknown_services(self, known: set[str]) -> None:
        """Drop ids the file says went to a service the entry never sent to.

        The file is input: a hand-edited one must not make us contact, or
        show, a host of its choosing. The entry records every service that
        received a report (and the one configured now).
        """
        state = self._state
        known = known | {self.endpoint} | set(self._entry_keys())
        recipients = [r for r in state.recipients if r.endpoint in known]
        erasures = [e for e in state.erasures if e.endpoint in known]
        if len(recipients) != len(state.recipients) or len(erasures) != len(
            state.erasures
        ):
            LOGGER.warning(
                "The statistics file names a statistics service this entry never "
                "sent to; those entries were dropped"
            )
            state.recipients, state.erasures = recipients, erasures

    def _entry_recipients(self) -> list[tuple[Recipient, bool]]:
        """The ids kept in the entry, with their services (bare ids: the endpoint in use), and whether each is to be erased."""
        recipients: list[tuple[Recipient, bool]] = []
        kept = self._entry.data.get(DATA_SERVICE_IDS)
        for item in kept if isinstance(kept, list) else []:
            try:
                recipient = parse_recipient(
                    {"installation_id": item, "endpoint": self.endpoint}
                    if isinstance(item, str)
                    else item
                )
            except ValueError:
                continue
            recipients.append(
                (recipient, isinstance(item, dict) and item.get("erase") is True)
            )
        return recipients

    def _entry_keys(self) -> dict[str, str]:
        """The key used at each service, as the entry keeps it (input too: only strings count)."""
        keys = self._entry.data.get(DATA_SERVICE_KEYS)
        if not isinstance(keys, dict):
            return {}
        return {
            endpoint: key
            for endpoint, key in keys.items()
            if isinstance(endpoint, str) and isinstance(key, str)
        }

    def _client_for(self, endpoint: str) -> StatsServiceClient:
        """A client for one service, with the key used there (the configured one's: the current key)."""
        if endpoint == self.endpoint:
            return self._client
        return StatsServiceClient(
            async_get_clientsession(self._hass),
            endpoint=endpoint,
            api_key=self._entry_keys().get(endpoint, ""),
            user_agent=self._user_agent,
        )

    @callback
    def async_start(self) -> None:
        """First check a while after start-up, with jitter so installs spread out."""
        delay = STARTUP_DELAY + self._rng.random() * STARTUP_JITTER
        if self._state.erasures or self._resumed:
            # Erasures the user asked for, and a report waiting for the new
            # key, do not wait for the start-up delay.
            delay = ERASURE_DELAY
        self._schedule(self._storage.now() + delay)

    @callback
    def async_stop(self) -> None:
        """Cancel the timer (unload); a check still running plans nothing more."""
        self._stopped = True
        if self._unsub_timer:
            self._unsub_timer()
            self._unsub_timer = None
        self.next_check = None

    @callback
    def _schedule(self, when: datetime) -> None:
        """Wake up at `when` (trusted time), replacing any earlier plan.

        The timer counts elapsed time, not wall-clock time: a clock that jumps
        a year ahead and back must not move a check by a year.
        """
        if self._stopped:
            return
        if self._unsub_timer:
            self._unsub_timer()
        self.next_check = when
        delay = max((when - self._storage.now()).total_seconds(), 1.0)
        self._unsub_timer = async_call_later(self._hass, delay, self._async_timer)

    @callback
    def _async_timer(self, _now: datetime) -> None:
        """Run a check in a task that unloading the entry cancels."""
        self._unsub_timer = None
        self._entry.async_create_background_task(
            self._hass, self.async_check(), f"{DOMAIN} submission check"
        )

    # --- the check ----------------------------------------------------------------

    def view(self) -> DeliveryView:
        """What the sensors show."""
        return self._state.view(self.consent, self.next_check)

    @property
    def sharing_status(self) -> SharingStatus:
        """One word for the dashboard."""
        return self._state.sharing_status(self.consent)

    async def async_check(self, *, force: bool = False) -> Outcome | None:
        """Erase what is due, build the next report when due, send when allowed.

        One at a time: a check, submit_now and delete_all never interleave.
        """
        async with self._lock:
            return await self._async_check(force=force)

    async def _async_check(self, *, force: bool) -> Outcome | None:
        """The check itself (under the lock)."""
        now = self._storage.now()
        outcome: Outcome | None = None
        try:
            if not self._storage.data.clock.holding and self._state.follow_clock(
                now.date(), now
            ):
                LOGGER.warning(
                    "The clock went back; the report plan continues from today"
                )
            if self._state.forget_old_reports(now.date()):
                await self._async_persist()
            await self._async_require_storage()
            await self._async_erase_due(now)
            if self._state.can_send(self.consent):
                await self._async_prepare(now, force=force)
                if self._state.send_due(self.consent, now, force=force):
                    outcome = await self._async_send(now)
        except StorageUnwritableError:
            LOGGER.warning(
                "The statistics file cannot be written; nothing is sent until it can"
            )
            self._schedule(now + SAVE_RETRY)
            if force:
                raise
            return None
        finally:
            self._update_issues()
        when = self._state.wake_at(self.consent, now)
        if self._build_failed:
            # A report that cannot be built is not tried again every second.
            when = max(when, now + CHECK_INTERVAL)
        self._schedule(when)
        return outcome

    async def _async_require_storage(self) -> None:
        """Send nothing while the file cannot be written (a full disk must not cause resends)."""
        if not self._storage.healthy and not await self._storage.async_commit():
            raise StorageUnwritableError

    async def _async_prepare(self, now: datetime, *, force: bool) -> None:
        """Skip expired days, then freeze the next report once its period is over."""
        state = self._state
        today = now.date()
        if skipped := state.skip_expired(self.consent, today):
            LOGGER.warning(
                "Days %s to %s were never reported and are older than the %s-day "
                "retention; they are skipped",
                skipped[0],
                skipped[1] - timedelta(days=1),
                RETENTION_DAYS,
            )
            await self._async_persist()
        if state.pending is not None:
            return
        period = state.next_period(self.consent, today, force=force)
        if period is None:
            return
        try:
            report = self.build(period, now)
        except ContractError as err:
            if not self._build_failed:
                LOGGER.error(
                    "A report was not sent because it does not fit the service (%s)",
                    err,
                )
            self._build_failed = True
            return
        self._build_failed = False
        state.freeze(period, serialize_report(report).decode(), now)
        await self._async_persist()

    async def _async_send(self, now: datetime) -> Outcome:
        """One request, saved before it leaves; its outcome saved before anything else."""
        pending = self._state.begin_attempt(now, self.endpoint)
        await self._async_persist()
        if not self._storage.healthy:
            raise StorageUnwritableError
        outcome = await self._async_post(pending.body.encode(), pending.idempotency_key)
        self._state.apply(
            outcome, now, self._rng, generation=self._generation, version=self._version
        )
        await self._async_persist()
        if isinstance(outcome, Accepted):
            LOGGER.info(
                "The usage report for %s to %s was accepted",
                pending.start,
                pending.end - timedelta(days=1),
            )
        elif isinstance(outcome, Refused) and outcome.halt is Halt.AUTH_FAILED:
            LOGGER.warning(
                "The statistics service refused the API key (HTTP %s); nothing is sent "
                "until a new key is entered (Settings > Devices & services > re-authenticate)",
                outcome.status,
            )
            self._entry.async_start_reauth(self._hass)
        elif isinstance(outcome, Refused):
            LOGGER.warning(
                "The statistics service rejected the report (HTTP %s); it is not sent "
                "again, and sharing pauses until the integration is updated",
                outcome.status,
            )
        else:
            LOGGER.debug(
                "Report not delivered (%s); next attempt at %s",
                outcome.reason,
                pending.next_attempt,
            )
        return outcome

    async def _async_post(self, body: bytes, key: str) -> Outcome:
        """The request, its answer as an outcome."""
        try:
            accepted = await self._client.submit(body, idempotency_key=key)
        except AuthFailedError as err:
            return Refused(Halt.AUTH_FAILED, err.status)
        except RejectedError as err:
            return Refused(Halt.REJECTED, err.status)
        except RateLimitedError as err:
            return Failed(err.reason, err.retry_after)
        except ClientError as err:
            return Failed(err.reason)
        return Accepted(accepted.submission_id, accepted.status)

    async def _async_erase_due(self, now: datetime) -> None:
        """Ask each service to erase each id it received whose turn it is."""
        for erasure in self._state.due_erasures(now):
            recipient = erasure.recipient
            try:
                await self._client_for(recipient.endpoint).erase(
                    recipient.installation_id
                )
            except (ClientError, ValueError) as err:
                reason = (
                    err.reason if isinstance(err, ClientError) else "invalid_endpoint"
                )
                self._state.erasure_failed(recipient, reason, now, self._rng)
            else:
                self._state.erased(recipient)
            await self._async_persist()

    # --- reports ------------------------------------------------------------------

    def build(self, period: Period, now: datetime) -> Report:
        """The report for a period from what is stored now."""
        data = self._storage.data
        state = self._state
        return build_report(
            tally=data.counters.tally(period.start, period.end),
            period=period,
            installation=InstallationFacts(
                installation_id=state.installation_id or PREVIEW_ID,
                first_seen=state.first_seen or period.start,
                app_version=data.facts.app_version,
                platform=self._platform,
                deployment_mode=self._deployment_mode,
                country_code=self._country,
            ),
            fleet=data.facts.fleet or {},
            today=now.date(),
        )

    def preview(self) -> Report:
        """The exact next report: the pending one byte for byte, else the next period's so far."""
        if self._state.pending is not None:
            report: Report = json.loads(self._state.pending.body)
            return report
        now = self._storage.now()
        period = self._state.preview_period(self.consent, now.date())
        return self.build(
            period,
            max(now, datetime.combine(period.end, datetime.min.time(), now.tzinfo)),
        )

    # --- actions ------------------------------------------------------------------

    async def async_submit_now(self) -> SubmitResult:
        """The submit_now action: send now if allowed, else say why.

        Every expected outcome is an answer; only a statistics file that
        cannot be written raises (StorageUnwritableError).
        """
        state = self._state
        if not self.consent.current:
            return SubmitResult(SubmitReason.NOT_SHARING)
        if state.halt is not Halt.NONE:
            return SubmitResult(_HALT_REASONS[state.halt])
        now = self._storage.now()
        if now < state.earliest_request():
            return SubmitResult(SubmitReason.TOO_SOON, state.earliest_request())
        outcome = await self.async_check(force=True)
        if outcome is None:
            if state.pending is None:
                return SubmitResult(SubmitReason.NOTHING_DUE)
            return SubmitResult(SubmitReason.TOO_SOON, state.earliest_request())
        if isinstance(outcome, Refused):
            return SubmitResult(_HALT_REASONS[outcome.halt])
        if isinstance(outcome, Failed):
            pending = state.pending
            return SubmitResult(
                SubmitReason.RETRY_LATER,
                max(pending.next_attempt, state.earliest_request())
                if pending
                else None,
            )
        return SubmitResult(SubmitReason.SENT)

    def sent_reports(self) -> list[dict[str, Any]]:
        """The reports the service accepted, newest first, each exactly as sent."""
        return [
            {
                "period": {
                    "start": sent.start.isoformat(),
                    "end": sent.end.isoformat(),
                },
                # The whole minute, as kept at rest: the same before and after a restart.
                "accepted": stored_iso(sent.accepted),
                "status": sent.status,
                "submission_id": sent.submission_id,
                "installation_id": sent.installation_id,
                "bytes": sent.size if sent.body is not None else None,
                "sha256": sent.sha256,
                "body": sent.body,
            }
            for sent in reversed(self._state.history)
        ]

    async def async_delete_all(self) -> dict[str, Any]:
        """Wipe local data, ask the service to erase every id it got, rotate the id.

        Waits for a check in progress, so a report in flight is settled first.
        """
        async with self._lock:
            return await self._async_delete_all()

    async def _async_delete_all(self) -> dict[str, Any]:
        """delete_all itself (under the lock)."""
        data = self._storage.data
        state = self._state
        now = self._storage.now()
        deleted = {
            "days": len(data.counters.days),
            "events": data.counters.event_count(),
            "submissions": len(state.history),
        }
        had_id = state.installation_id is not None
        ids = state.erase_all(now)
        data.counters.clear()
        # The fleet and Printernizer's release describe the present, not
        # history: they stay, so the printers sensor stays available.
        data.tracker.reset()
        state.restart_after_delete(self.consent, now.date())
        await self._async_persist()
        await self._async_erase_due(now)
        # Erased only when every service confirmed: an erasure still waiting
        # for its next attempt (from an earlier opt-out or delete) is pending.
        erasure = "not_needed" if not ids else "pending" if state.erasures else "erased"
        self._update_issues()
        self._schedule(self._state.wake_at(self.consent, now))
        return {
            "deleted": deleted,
            "service_erasure": erasure,
            "installation_id_rotated": had_id,
        }

    # --- persistence and repairs --------------------------------------------------

    async def _async_persist(self) -> None:
        """Save now, and copy what must outlive the file into the entry.

        The entry keeps the end of the last accepted period, every id a
        service may hold with that service (marked "erase" once erasing it
        was asked for), and the key used at each service other than the
        configured one while an id there is not yet erased.
        """
        await self._storage.async_commit()
        state = self._state
        endpoints = {r.endpoint for r in state.recipients} | {
            e.endpoint for e in state.erasures
        }
        keys = self._entry_keys()
        erasing = {e.recipient for e in state.erasures}
        wanted: dict[str, Any] = {
            DATA_REPORTED_UNTIL: None
            if state.reported_until is None
            else state.reported_until.isoformat(),
            DATA_SERVICE_IDS: [
                {"installation_id": r.installation_id, "endpoint": r.endpoint}
                | ({"erase": True} if r in erasing else {})
                for r in unique(
                    [*state.recipients, *(e.recipient for e in state.erasures)]
                )
            ],
            DATA_SERVICE_KEYS: {
                endpoint: self._api_key
                if endpoint == self.endpoint
                else keys.get(endpoint, "")
                for endpoint in sorted(endpoints)
            },
        }
        if any(self._entry.data.get(key) != value for key, value in wanted.items()):
            self._hass.config_entries.async_update_entry(
                self._entry, data={**self._entry.data, **wanted}
            )

    @callback
    def _update_issues(self) -> None:
        """Raise or clear the repairs that follow from the state."""
        state = self._state
        self._issue(
            ISSUE_RECONSENT,
            self.consent.opted_in and not self.consent.current,
            fixable=True,
        )
        self._issue(ISSUE_REJECTED, state.halt is Halt.REJECTED)
        self._issue(
            ISSUE_ERASURE,
            state.erasure_stuck,
            placeholders={"count": str(len(state.erasures))},
        )

    def _issue(
        self,
        issue_id: str,
        active: bool,
        *,
        fixable: bool = False,
        placeholders: dict[str, str] | None = None,
    ) -> None:
        """Create or delete one repair issue."""
        if not active:
            ir.async_delete_issue(self._hass, DOMAIN, issue_id)
            return
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            issue_id,
            is_fixable=fixable,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=issue_id,
            translation_placeholders=placeholders,
        )
