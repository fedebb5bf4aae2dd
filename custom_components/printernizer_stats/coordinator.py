"""Polls Printernizer, turns what changed into events, and publishes one snapshot for the entities.

Entity states change only on the whole minute: Home Assistant's recorder
keeps every state change with its time, so a state written when an event
arrives would keep the event's exact time. A timer on each whole minute
compares a fresh snapshot with the one shown and writes the states once if
anything changed (counts appear within a minute).

A Printernizer that misses a poll or two (a restart takes seconds) is not an
outage: its values stay as they were and only the debug log mentions it.
After FAILURES_BEFORE_UNAVAILABLE polls in a row, the values read from it
become unavailable (one log line), and one line says when it is back. A
Printernizer too busy for us (HTTP 429: its per-address budget is shared with
every other client on this host) for STARVED_POLLS_BEFORE_REPAIR polls in a
row raises a repair that clears itself once reads succeed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
import ipaddress
import re
from typing import TYPE_CHECKING, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.event import async_track_utc_time_change
from homeassistant.helpers.hassio import is_hassio
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util
from yarl import URL

from .const import (
    DOMAIN,
    ISSUE_PRINTERNIZER_BUSY,
    LOGGER,
    SCAN_INTERVAL,
    SLOW_POLL_INTERVAL,
)
from .counters import week_key
from .delivery import DeliveryView
from .errors import CannotConnectError, InvalidResponseError, RateLimitedError
from .intake import EventIntake
from .printernizer import PrinternizerClient, PrinternizerFacts
from .storage import PrinternizerStatsStorage
from .tracker import RawEvent, UptimeCredit
from .vocabulary import UNKNOWN

if TYPE_CHECKING:
    from .submission import SubmissionManager

# Home Assistant add-ons are reached by host names such as
# "a0d7b954-printernizer" or "local-printernizer".
_ADDON_HOST_RE: Final = re.compile(r"(?:[0-9a-f]{8}|local)-[a-z0-9-]+")
# Read every poll: the listings, and the uptime (a restart is seen within a poll).
_LISTINGS: Final = ("printers", "jobs", "files", "system/info")
# Read only every SLOW_POLL_INTERVAL (rate budget).
_SLOW_READS: Final = ("usage-stats/status",)
FAILURES_BEFORE_UNAVAILABLE: Final = 3
STARVED_POLLS_BEFORE_REPAIR: Final = 10


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """Everything the entities show, taken at one moment."""

    week: Mapping[str, int]
    week_start: datetime
    totals: Mapping[str, int]
    # None until Printernizer answered once (since the statistics began).
    fleet: Mapping[str, int] | None
    printernizer_shares: bool | None
    # Printernizer's release, for the device (None until known).
    printernizer_version: str | None
    delivery: DeliveryView


@dataclass(slots=True)
class PrinternizerStatsRuntimeData:
    """What a loaded config entry holds."""

    storage: PrinternizerStatsStorage
    intake: EventIntake
    coordinator: PrinternizerStatsCoordinator
    submission: SubmissionManager


type PrinternizerStatsConfigEntry = ConfigEntry[PrinternizerStatsRuntimeData]


def deployment_mode(hass: HomeAssistant, url: str) -> str:
    """How Printernizer is installed, in its own words, only when we can tell.

    `homeassistant` when Home Assistant runs under the Supervisor and
    Printernizer answers on this host or an add-on host name; else `unknown`.
    """
    if not is_hassio(hass):
        return UNKNOWN
    host = (URL(url).host or "").lower()
    if host in (
        "localhost",
        "homeassistant",
        "homeassistant.local",
    ) or _ADDON_HOST_RE.fullmatch(host):
        return "homeassistant"
    try:
        return "homeassistant" if ipaddress.ip_address(host).is_loopback else UNKNOWN
    except ValueError:
        return UNKNOWN


class PrinternizerStatsCoordinator(DataUpdateCoordinator[StatsSnapshot]):
    """Reads Printernizer every minute within its rate limit; publishes snapshots on the minute."""

    config_entry: PrinternizerStatsConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: PrinternizerStatsConfigEntry,
        *,
        client: PrinternizerClient,
        storage: PrinternizerStatsStorage,
        intake: EventIntake,
        delivery_view: Callable[[], DeliveryView],
        deployment_mode: str,
    ) -> None:
        """Keep the client, the stored data, the recording path and the delivery view."""
        super().__init__(
            hass, LOGGER, config_entry=entry, name=DOMAIN, update_interval=SCAN_INTERVAL
        )
        self.client = client
        self._storage = storage
        self._delivery_view = delivery_view
        self._intake = intake
        self.deployment_mode = deployment_mode
        self._printer_types: dict[str, str] = {}
        self._busy_until = 0.0
        self._slow_due = dict.fromkeys(_SLOW_READS, 0.0)
        # After a 429, the next poll starts with the read that was refused.
        self._first_read: str = _LISTINGS[0]
        self.failures = 0
        self.starved = 0
        self.data = self.snapshot()
        self._shown: tuple[StatsSnapshot, bool] = (self.data, True)
        self._unsub_minute: CALLBACK_TYPE | None = async_track_utc_time_change(
            hass, self._async_minute, second=0
        )

    # --- snapshot ------------------------------------------------------------------

    @callback
    def snapshot(self) -> StatsSnapshot:
        """What the entities show now."""
        data = self._storage.data
        local = dt_util.as_local(self._storage.now())
        week_start = dt_util.start_of_local_day(local) - timedelta(days=local.weekday())
        facts = data.facts
        return StatsSnapshot(
            week=dict(data.counters.week_counts(week_key(local.date()))),
            week_start=week_start,
            totals=dict(data.counters.totals),
            fleet=None if facts.fleet is None else dict(facts.fleet),
            printernizer_shares=facts.shares_statistics,
            printernizer_version=None
            if facts.app_version == UNKNOWN
            else facts.app_version,
            delivery=self._delivery_view(),
        )

    @callback
    def async_update_listeners(self) -> None:
        """Home Assistant asks after every poll: the whole-minute timer shows changes instead."""

    @callback
    def _async_minute(self, now: datetime) -> None:
        """On the whole minute: write the states once if anything changed since the last."""
        snapshot = self.snapshot()
        shown = (snapshot, self.last_update_success)
        if shown != self._shown:
            self._shown = shown
            self.data = snapshot
            super().async_update_listeners()

    @callback
    def async_stop(self) -> None:
        """Cancel the minute timer (unload)."""
        if self._unsub_minute is not None:
            self._unsub_minute()
            self._unsub_minute = None

    # --- polling -------------------------------------------------------------------

    async def _async_update_data(self) -> StatsSnapshot:
        """Poll; a few missed polls in a row are not an outage (see the module docstring).

        A changed mark is saved even after a failed poll.
        """
        try:
            await self._async_poll()
        except (CannotConnectError, InvalidResponseError) as err:
            self.failures += 1
            if self.failures < FAILURES_BEFORE_UNAVAILABLE:
                LOGGER.debug(
                    "Printernizer did not answer (%s); its values stay as they are "
                    "(%d of %d missed polls before they are unavailable)",
                    err.reason,
                    self.failures,
                    FAILURES_BEFORE_UNAVAILABLE,
                )
                return self.data
            key = (
                "cannot_connect"
                if isinstance(err, CannotConnectError)
                else "invalid_response"
            )
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=key,
                translation_placeholders={"error": err.reason},
            ) from err
        finally:
            tracker = self._storage.data.tracker
            if tracker.changed:
                tracker.changed = False
                self._storage.mark_dirty()
        self.failures = 0
        return self.snapshot()

    async def _async_poll(self) -> None:
        """Read health, then (unless Printernizer asked us to wait) the rest."""
        try:
            health = await self.client.health()
        except RateLimitedError as err:
            self._starving(err.retry_after)
            return
        facts = self._storage.data.facts
        if facts.app_version != health.version:
            facts.app_version = health.version
            self._storage.mark_dirty()
            self._update_device(health.version)
        loop_now = self.hass.loop.time()
        if loop_now < self._busy_until:
            self._starving(None)
            return
        try:
            await self._async_read_all(health.version, loop_now)
        except RateLimitedError as err:
            wait = err.retry_after or timedelta(seconds=5)
            self._busy_until = self.hass.loop.time() + wait.total_seconds()
            self._starving(wait)
            return
        if self.starved:
            self.starved = 0
            ir.async_delete_issue(self.hass, DOMAIN, ISSUE_PRINTERNIZER_BUSY)

    @callback
    def _update_device(self, version: str) -> None:
        """Show Printernizer's new release on the service device."""
        registry = dr.async_get(self.hass)
        for device in dr.async_entries_for_config_entry(
            registry, self.config_entry.entry_id
        ):
            registry.async_update_device(
                device.id, sw_version=None if version == UNKNOWN else version
            )

    def _starving(self, wait: timedelta | None) -> None:
        """A poll that read nothing because Printernizer was too busy for us."""
        self.starved += 1
        next_read = max(SCAN_INTERVAL, wait or timedelta(0), self._busy_wait())
        LOGGER.debug(
            "Printernizer is busy (rate limited, %d polls in a row); the next read is in %s",
            self.starved,
            next_read,
        )
        if self.starved == STARVED_POLLS_BEFORE_REPAIR:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                ISSUE_PRINTERNIZER_BUSY,
                is_fixable=False,
                is_persistent=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_PRINTERNIZER_BUSY,
                translation_placeholders={"polls": str(self.starved)},
            )

    def _busy_wait(self) -> timedelta:
        """How long Printernizer's last 429 still asks us to wait."""
        return timedelta(seconds=max(self._busy_until - self.hass.loop.time(), 0.0))

    async def _async_read_all(self, version: str, loop_now: float) -> None:
        """The listings and the uptime, plus the slow read when due, each recorded as soon as it is read.

        A 429 stops the poll where it happened; the next poll starts with
        that read, so a busy Printernizer delays a read but never starves
        one (the slow read included).
        """
        reads = [*_LISTINGS, *(n for n in _SLOW_READS if loop_now >= self._slow_due[n])]
        start = reads.index(self._first_read) if self._first_read in reads else 0
        for name in reads[start:] + reads[:start]:
            try:
                events = await self._async_read(name, version)
            except RateLimitedError:
                self._first_read = name
                raise
            if name in self._slow_due:
                self._slow_due[name] = loop_now + SLOW_POLL_INTERVAL.total_seconds()
            self._record(events)
        self._first_read = _LISTINGS[0]

    async def _async_read(self, name: str, version: str) -> list[RawEvent]:
        """Read one listing or value and turn it into events."""
        data = self._storage.data
        tracker = data.tracker
        now = self._storage.now()
        naive_now = now.replace(tzinfo=None)
        if name == "printers":
            printers = await self.client.printers()
            self._printer_types = {p.id: p.printer_type for p in printers}
            fleet = PrinternizerFacts.fleet_of(printers)
            if fleet != data.facts.fleet:
                data.facts.fleet = fleet
                self._storage.mark_dirty()
            return tracker.printers(printers)
        if name == "jobs":
            return tracker.jobs(
                await self.client.jobs(), self._printer_types, now=naive_now
            )
        if name == "files":
            return tracker.files(await self.client.files(), now=naive_now)
        if name == "system/info":
            return await self._async_read_uptime(version)
        await self._async_read_sharing()
        return []

    async def _async_read_uptime(self, version: str) -> list[RawEvent]:
        """Printernizer's uptime: a restart, and the minutes it was up.

        Some Printernizer versions answer this (and usage-stats/status) with
        an error: that is not an outage, the value just stays unknown.
        """
        try:
            uptime = await self.client.uptime_seconds()
        except (CannotConnectError, InvalidResponseError):
            return []
        if uptime is None:
            return []
        events, credit = self._storage.data.tracker.uptime(
            uptime,
            now=self._storage.now(),
            mono=self.hass.loop.time(),
            app_version=version,
            deployment_mode=self.deployment_mode,
        )
        self._credit(credit)
        return events

    def _credit(self, credit: UptimeCredit) -> None:
        """Count the minutes Printernizer was up, per UTC day."""
        for day, minutes in credit:
            self._intake.add_uptime(day, minutes)

    async def _async_read_sharing(self) -> None:
        """Whether Printernizer itself shares statistics with the same service."""
        facts = self._storage.data.facts
        try:
            shares = await self.client.shares_statistics()
        except (CannotConnectError, InvalidResponseError):
            return
        if shares is not None and shares != facts.shares_statistics:
            facts.shares_statistics = shares
            self._storage.mark_dirty()

    def _record(self, events: list[RawEvent]) -> None:
        """Hand polled events to the one recording path."""
        for event_type, metadata in events:
            self._intake.record(event_type, metadata)
