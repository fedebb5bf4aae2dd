"""Polls Printernizer, turns what changed into events, and publishes one snapshot for the entities."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
import ipaddress
import re
from typing import TYPE_CHECKING, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.hassio import is_hassio
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util
from yarl import URL

from .const import DOMAIN, LOGGER, SCAN_INTERVAL, SLOW_POLL_INTERVAL
from .counters import week_key
from .delivery import DeliveryView
from .errors import CannotConnectError, InvalidResponseError, RateLimitedError
from .intake import EventIntake
from .printernizer import PrinternizerClient, PrinternizerFacts
from .storage import PrinternizerStatsStorage
from .tracker import RawEvent
from .vocabulary import UNKNOWN

if TYPE_CHECKING:
    from .submission import SubmissionManager

# Home Assistant add-ons are reached by host names such as
# "a0d7b954-printernizer" or "local-printernizer".
_ADDON_HOST_RE: Final = re.compile(r"(?:[0-9a-f]{8}|local)-[a-z0-9-]+")
_LISTINGS: Final = ("printers", "jobs", "files")
# Read only every SLOW_POLL_INTERVAL (rate budget).
_SLOW_READS: Final = ("system/info", "usage-stats/status")


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """Everything the entities show, taken at one moment."""

    week: Mapping[str, int]
    week_start: datetime
    totals: Mapping[str, int]
    # None until Printernizer answered once (since the statistics began).
    fleet: Mapping[str, int] | None
    printernizer_shares: bool | None
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
    """Reads Printernizer every minute within its rate limit; publishes snapshots."""

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
        self._unsub_week: CALLBACK_TYPE | None = None
        self.data = self.snapshot()
        self._schedule_week_rollover()

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
            delivery=self._delivery_view(),
        )

    @callback
    def async_publish(self) -> None:
        """Hand the entities a fresh snapshot (after events, submissions, a new week)."""
        self.data = self.snapshot()
        self.async_update_listeners()

    @callback
    def _schedule_week_rollover(self) -> None:
        """One timer for all weekly sensors: publish again when the local week starts."""
        if self._unsub_week is not None:
            self._unsub_week()
        start = self.data.week_start + timedelta(days=7)
        self._unsub_week = async_track_point_in_utc_time(
            self.hass, self._async_new_week, dt_util.as_utc(start)
        )

    @callback
    def _async_new_week(self, now: datetime) -> None:
        """The weekly counters start again from zero."""
        self._unsub_week = None
        self.async_publish()
        self._schedule_week_rollover()

    @callback
    def async_stop(self) -> None:
        """Cancel the week timer (unload)."""
        if self._unsub_week is not None:
            self._unsub_week()
            self._unsub_week = None

    # --- polling -------------------------------------------------------------------

    async def _async_update_data(self) -> StatsSnapshot:
        """Poll, translating Printernizer's errors; a changed mark is saved even after one."""
        try:
            await self._async_poll()
        except CannotConnectError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"error": err.reason},
            ) from err
        except InvalidResponseError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="invalid_response",
                translation_placeholders={"error": err.reason},
            ) from err
        finally:
            tracker = self._storage.data.tracker
            if tracker.changed:
                tracker.changed = False
                self._storage.mark_dirty()
        return self.snapshot()

    async def _async_poll(self) -> None:
        """Read health, then (unless Printernizer asked us to wait) the rest."""
        try:
            health = await self.client.health()
        except RateLimitedError:
            LOGGER.debug("Printernizer is busy; skipping this poll")
            return
        facts = self._storage.data.facts
        if facts.app_version != health.version:
            facts.app_version = health.version
            self._storage.mark_dirty()
        loop_now = self.hass.loop.time()
        if loop_now < self._busy_until:
            return
        try:
            await self._async_read_all(health.version, loop_now)
        except RateLimitedError as err:
            wait = err.retry_after or timedelta(seconds=5)
            self._busy_until = self.hass.loop.time() + wait.total_seconds()
            LOGGER.debug(
                "Printernizer is busy (rate limited); reading again in %s", wait
            )

    async def _async_read_all(self, version: str, loop_now: float) -> None:
        """The listings, plus the slow reads when due, each recorded as soon as it is read.

        A 429 stops the poll where it happened; the next poll starts with
        that read, so a busy Printernizer delays a read but never starves
        one (the slow reads included).
        """
        reads = [*_LISTINGS, *(n for n in _SLOW_READS if loop_now >= self._slow_due[n])]
        start = reads.index(self._first_read)
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
        """Read one listing or slow value and turn it into events."""
        data = self._storage.data
        tracker = data.tracker
        if name == "printers":
            printers = await self.client.printers()
            self._printer_types = {p.id: p.printer_type for p in printers}
            fleet = PrinternizerFacts.fleet_of(printers)
            if fleet != data.facts.fleet:
                data.facts.fleet = fleet
                self._storage.mark_dirty()
            return tracker.printers(printers)
        if name == "jobs":
            return tracker.jobs(await self.client.jobs(), self._printer_types)
        if name == "files":
            return tracker.files(await self.client.files())
        if name == "system/info":
            return await self._async_read_uptime(version)
        await self._async_read_sharing()
        return []

    async def _async_read_uptime(self, version: str) -> list[RawEvent]:
        """Printernizer's uptime: a restart, and the time it was seen up.

        Some Printernizer versions answer this (and usage-stats/status) with
        an error: that is not an outage, the value just stays unknown.
        """
        try:
            uptime = await self.client.uptime_seconds()
        except (CannotConnectError, InvalidResponseError):
            return []
        if uptime is None:
            return []
        events, observed = self._storage.data.tracker.uptime(
            uptime, app_version=version, deployment_mode=self.deployment_mode
        )
        self._intake.add_uptime(observed)
        return events

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
