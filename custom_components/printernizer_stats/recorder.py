"""The one path by which events become counters, whatever their source."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
import time

from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util

from .const import ATTR_EVENT_TYPE, ATTR_METADATA, DOMAIN, LOGGER, RETENTION_DAYS
from .counters import week_key
from .privacy import CleanEvent, RejectReason, clean_event
from .storage import PrinternizerStatsStorage

# Counted (never logged with its input) when recording itself failed.
INTERNAL_ERROR = "internal_error"


class EventRecorder:
    """Cleans events, counts them per UTC day and tells listeners, in bursts."""

    def __init__(self, hass: HomeAssistant, storage: PrinternizerStatsStorage) -> None:
        """Start with nothing to flush."""
        self._hass = hass
        self._storage = storage
        self._flush_handle: asyncio.Handle | None = None
        self._stopped = False
        self._buckets_cache = ("", "")
        self._buckets_from = 0.0
        self._buckets_until = 0.0
        self.listeners: list[Callable[[], None]] = []

    @callback
    def async_record(self, event_type: object, metadata: object) -> None:
        """Record leniently (bus events, polling): never raises, never blocks.

        An unknown event type drops the event; a refused key drops that key
        only. Each drop is counted by reason; no dropped value is ever logged.
        """
        counters = self._storage.data.counters
        try:
            event, rejections = clean_event(event_type, metadata)
            if rejections:
                counters.count_rejections(rejections)
            if event is not None:
                # The buckets' validity is checked inline: this runs per bus event.
                if not self._buckets_from <= time.time() < self._buckets_until:
                    self._refresh_buckets()
                day, week = self._buckets_cache
                counters.record(day, event, week)
        except Exception:  # noqa: BLE001 - the boundary that must never raise
            counters.rejected[INTERNAL_ERROR] = (
                counters.rejected.get(INTERNAL_ERROR, 0) + 1
            )
            LOGGER.debug("An event was dropped after an internal error")
        if self._flush_handle is None:
            self._async_changed()

    @callback
    def async_record_strict(self, event_type: object, metadata: object) -> CleanEvent:
        """Record from the record_event action: any bad input refuses the whole call."""
        event, rejections = clean_event(event_type, metadata)
        if event is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_event_type",
            )
        if rejections:
            rejection = rejections[0]
            if rejection.reason in (
                RejectReason.INVALID_METADATA,
                RejectReason.TOO_MANY_KEYS,
            ):
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key=str(rejection.reason),
                )
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key=str(rejection.reason),
                translation_placeholders={
                    "key": rejection.key or "?",
                    "event_type": event.event_type,
                },
            )
        day, week = self._buckets()
        self._storage.data.counters.record(day, event, week)
        self._async_changed()
        return event

    def _buckets(self) -> tuple[str, str]:
        """The UTC day and the local ISO week an event counts in."""
        if not self._buckets_from <= time.time() < self._buckets_until:
            self._refresh_buckets()
        return self._buckets_cache

    def _refresh_buckets(self) -> None:
        """Work out the day and week, valid until the next UTC midnight or local week start.

        Cached because working them out costs more than the rest of the bus path.
        """
        utc_now = dt_util.utcnow()
        local_now = dt_util.as_local(utc_now)
        utc_midnight = utc_now.replace(hour=0, minute=0, second=0, microsecond=0)
        local_monday = dt_util.start_of_local_day(local_now) - timedelta(
            days=local_now.weekday()
        )
        self._buckets_cache = (utc_now.date().isoformat(), week_key(local_now.date()))
        self._buckets_from = max(utc_midnight.timestamp(), local_monday.timestamp())
        self._buckets_until = min(
            (utc_midnight + timedelta(days=1)).timestamp(),
            (local_monday + timedelta(days=7)).timestamp(),
        )

    @callback
    def async_handle_bus_event(self, event: Event) -> None:
        """Listener for printernizer_stats_event."""
        data = event.data
        if isinstance(data, dict):
            # dict's own get: a subclass cannot run code or raise here.
            self.async_record(
                dict.get(data, ATTR_EVENT_TYPE), dict.get(data, ATTR_METADATA)
            )
        else:
            self.async_record(None, None)

    @callback
    def async_stop(self) -> None:
        """Drop a flush that has not run yet (unload)."""
        self._stopped = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self.listeners.clear()

    @callback
    def async_prune(self, now: datetime | None = None) -> None:
        """Enforce the retention window (runs daily and at start-up)."""
        oldest = (now or dt_util.utcnow()).date() - timedelta(days=RETENTION_DAYS - 1)
        if self._storage.data.counters.prune(oldest):
            self._async_changed()

    @callback
    def _async_changed(self) -> None:
        """Coalesce a burst of events into one save request and one state update."""
        if self._flush_handle is None and not self._stopped:
            self._flush_handle = self._hass.loop.call_soon(self._async_flush)

    @callback
    def _async_flush(self) -> None:
        """Schedule the (debounced) write and tell listeners."""
        self._flush_handle = None
        self._storage.async_schedule_save()
        for listener in self.listeners:
            listener()
