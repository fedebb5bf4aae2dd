"""The one path by which events become counters, whatever their source.

Sources: the `printernizer_stats_event` bus event (lenient: never raises,
never blocks), the record_event action (strict; checked before Home
Assistant records the call, see services.py) and polling (coordinator.py).
An event costs the privacy check, a counter increment and a flag: the file
is written once per burst (storage.py), and the entities show the counts on
the next whole minute (coordinator.py).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
import time
from typing import Final

from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .const import (
    ATTR_EVENT_TYPE,
    ATTR_METADATA,
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    ISSUE_RECORDER,
    LOGGER,
)
from .counters import week_key
from .delivery import RETENTION_DAYS
from .privacy import CleanEvent, Rejection, clean_event
from .recorded import bus_events_kept, recorder_running
from .storage import PrinternizerStatsStorage

# At most one debug line about dropped bus events per this many seconds.
DROP_LOG_INTERVAL: Final = 10.0


class EventIntake:
    """Cleans events, counts them per UTC day and local week, and tells listeners."""

    def __init__(self, hass: HomeAssistant, storage: PrinternizerStatsStorage) -> None:
        """Start with nothing to flush."""
        self._hass = hass
        self._storage = storage
        self._counters = storage.data.counters
        self._stopped = False
        self._buckets = ("", "")
        self._buckets_from = 0.0
        self._buckets_until = 0.0
        self._next_drop_log = 0.0
        self._dropped_quietly = 0
        self._recorder_checked = False

    # --- recording ----------------------------------------------------------------

    @callback
    def record(self, event_type: object, metadata: object) -> None:
        """Record leniently (bus events, polling): never raises, never blocks.

        An unknown event type drops the event; a refused key drops that key
        only. Each drop is counted by reason; no dropped value is ever logged.
        """
        try:
            event, rejections = clean_event(event_type, metadata)
            if rejections:
                self._counters.count_rejections(rejections)
                self._log_drop(event, rejections[0])
            if event is not None:
                # Inline validity check: this runs for every bus event.
                if not self._buckets_from <= time.time() < self._buckets_until:
                    self._refresh_buckets()
                day, week = self._buckets
                self._counters.record(day, event, week)
        except Exception:  # noqa: BLE001 - the boundary that must never raise
            self._counters.count_internal_error()
            LOGGER.debug("An event was dropped after an internal error")
        self._changed()

    @callback
    def record_clean(self, event: CleanEvent) -> None:
        """Record an event the strict check already cleaned (the record_event action)."""
        if not self._buckets_from <= time.time() < self._buckets_until:
            self._refresh_buckets()
        day, week = self._buckets
        self._counters.record(day, event, week)
        self._changed()

    @callback
    def add_uptime(self, day: date, minutes: int) -> None:
        """Printernizer was up this many minutes on a UTC day."""
        self._counters.add_uptime(day.isoformat(), minutes)
        self._changed()

    def _refresh_buckets(self) -> None:
        """Work out the day and week, valid until the next UTC midnight or local week start.

        Cached because working them out costs more than the rest of the bus
        path. Uses the trusted clock, so a clock jump does not move events
        to a day that has not come.
        """
        trusted = self._storage.now()
        local = dt_util.as_local(trusted)
        utc_midnight = trusted.replace(hour=0, minute=0, second=0, microsecond=0)
        monday = dt_util.start_of_local_day(local) - timedelta(days=local.weekday())
        boundary = min(utc_midnight + timedelta(days=1), monday + timedelta(days=7))
        wall = time.time()
        self._buckets = (trusted.date().isoformat(), week_key(local.date()))
        self._buckets_from = wall
        self._buckets_until = wall + max((boundary - trusted).total_seconds(), 1.0)

    # --- bus ----------------------------------------------------------------------

    @callback
    def handle_bus_event(self, event: Event) -> None:
        """Listener for printernizer_stats_event."""
        data = event.data
        if isinstance(data, dict):
            # dict's own get: a subclass cannot run code or raise here.
            self.record(dict.get(data, ATTR_EVENT_TYPE), dict.get(data, ATTR_METADATA))
        else:
            self.record(None, None)
        if not self._recorder_checked:
            self._recorder_checked = True
            self._check_recorder()

    def _check_recorder(self) -> None:
        """Raise a repair when Home Assistant's recorder keeps our bus events raw.

        There is no supported way for an integration to keep an event's data
        out of the recorder; the user can, with one line of configuration.
        """
        if not recorder_running(self._hass):
            return
        if not bus_events_kept(self._hass):
            ir.async_delete_issue(self._hass, DOMAIN, ISSUE_RECORDER)
            return
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            ISSUE_RECORDER,
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_RECORDER,
            translation_placeholders={"event_type": EVENT_PRINTERNIZER_STATS},
        )

    def _log_drop(self, event: CleanEvent | None, rejection: Rejection) -> None:
        """One debug line now and then: the reason and our own event type, never input."""
        now = time.monotonic()
        if now < self._next_drop_log:
            self._dropped_quietly += 1
            return
        self._next_drop_log = now + DROP_LOG_INTERVAL
        LOGGER.debug(
            "Dropped input of a %s event: %s (%d more drops not logged)",
            event.event_type if event is not None else "unknown",
            rejection.reason,
            self._dropped_quietly,
        )
        self._dropped_quietly = 0

    # --- housekeeping -------------------------------------------------------------

    @callback
    def prune(self, now: datetime | None = None) -> None:
        """Enforce the retention window (daily and at start-up), in trusted time."""
        trusted = self._storage.now()
        oldest = trusted.date() - timedelta(days=RETENTION_DAYS - 1)
        if self._counters.prune(oldest):
            self._changed()

    @callback
    def _changed(self) -> None:
        """Ask for a save (the Store debounces it; shutdown's final write includes it)."""
        if not self._stopped:
            self._storage.mark_dirty()

    @callback
    def async_stop(self) -> None:
        """Unload: nothing more is recorded."""
        self._stopped = True
