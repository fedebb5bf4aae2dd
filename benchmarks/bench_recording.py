"""Benchmarks for the recording path and the storage file (printed, never asserted on time).

Run with scripts/bench. Each benchmark prints one line per figure.
"""

from __future__ import annotations

from datetime import date, timedelta
import random
import time
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import json as json_helper
from homeassistant.helpers.storage import Store
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.printernizer_stats.const import (
    CONF_URL,
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    SAVE_DELAY,
)
from custom_components.printernizer_stats.counters import UsageCounters
from custom_components.printernizer_stats.privacy import (
    ALLOWLIST,
    EVENT_TYPES,
    clean_event,
)
from custom_components.printernizer_stats.storage import STORAGE_VERSION, StoredData

EVENTS = 200_000
BURST = 10_000
EVENTS_PER_DAY = 1_000
RETENTION_DAYS = 90


def _sample_events(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Realistic events: every type, random allowed metadata values."""
    samples: list[dict[str, Any]] = []
    for _ in range(count):
        event_type = rng.choice(EVENT_TYPES)
        metadata: dict[str, Any] = {}
        for key, field in ALLOWLIST[event_type].items():
            if field.kind in ("vocabulary", "boolean"):
                metadata[key] = (
                    rng.choice(field.values)
                    if field.kind == "vocabulary"
                    else rng.random() < 0.5
                )
            elif key == "duration_minutes":
                metadata[key] = rng.uniform(0, 2000)
            elif key == "size_bytes":
                metadata[key] = rng.randint(0, 300_000_000)
            elif key == "uptime_hours":
                metadata[key] = rng.uniform(0, 500)
            elif key == "app_version":
                metadata[key] = rng.choice(("2.7.0", "2.7.1", "2.8.0b1"))
            elif key == "error_type":
                metadata[key] = rng.choice(
                    (
                        "TimeoutError",
                        "ClientConnectorError",
                        "connection_timeout",
                        "CancelledError",
                        "MqttError",
                    )
                )
        samples.append({"event_type": event_type, "metadata": metadata})
    return samples


async def _setup(hass: HomeAssistant) -> MockConfigEntry:
    """Load the integration against a closed loopback port (Printernizer down)."""
    entry = MockConfigEntry(
        domain=DOMAIN, data={CONF_URL: "http://127.0.0.1:9"}, options={}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


async def test_bench_bus_throughput(hass: HomeAssistant, socket_enabled: None) -> None:
    """Events per second through the bus path vs a no-op listener on the same bus."""
    rng = random.Random(1)
    samples = _sample_events(EVENTS, rng)

    @callback
    def noop(event: Event) -> None:
        """Baseline listener."""

    unsub = hass.bus.async_listen("bench_baseline_event", noop)
    start = time.perf_counter()
    for data in samples:
        hass.bus.async_fire("bench_baseline_event", data)
    baseline = time.perf_counter() - start
    unsub()

    entry = await _setup(hass)
    counters = entry.runtime_data.storage.data.counters
    before = sum(counters.totals.values())
    start = time.perf_counter()
    for data in samples:
        hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, data)
    ours = time.perf_counter() - start
    counted = sum(counters.totals.values()) - before
    assert counted == EVENTS

    print(
        f"\nbaseline (async_fire + no-op listener): {_rate(EVENTS, baseline):,.0f} events/s"
    )
    print(
        f"printernizer_stats bus path (fire -> counter updated): {_rate(EVENTS, ours):,.0f} events/s"
    )
    print(
        f"overhead vs baseline: {ours / baseline:.2f}x (target <= 3x), counted {counted:,} of {EVENTS:,}"
    )
    await hass.config_entries.async_unload(entry.entry_id)


async def test_bench_disk_writes_during_burst(
    hass: HomeAssistant, socket_enabled: None, freezer: FrozenDateTimeFactory
) -> None:
    """Writes of our storage file caused by a burst of 10,000 events."""
    entry = await _setup(hass)
    writes: list[str] = []
    original = Store._async_write_data

    async def counting(self: Store[Any], *args: Any) -> None:
        if self.key == DOMAIN:
            writes.append(self.key)
        await original(self, *args)

    samples = _sample_events(BURST, random.Random(2))
    with patch.object(Store, "_async_write_data", counting):
        for data in samples:
            hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, data)
        await hass.async_block_till_done()
        freezer.tick(timedelta(seconds=SAVE_DELAY + 1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    print(f"\ndisk writes for a burst of {BURST:,} events: {len(writes)} (target <= 2)")
    await hass.config_entries.async_unload(entry.entry_id)


def _file_bytes(data: StoredData) -> int:
    """Size of the storage file exactly as Home Assistant writes it."""
    document = {
        "version": STORAGE_VERSION,
        "minor_version": 1,
        "key": DOMAIN,
        "data": data.as_storage(),
    }
    return len(json_helper._orjson_bytes_default_encoder(document))


def test_bench_storage_size_after_a_year() -> None:
    """Storage file size over a simulated year, at two event rates."""
    for per_day in (EVENTS_PER_DAY, 10 * EVENTS_PER_DAY):
        rng = random.Random(3)
        data = StoredData(counters=UsageCounters())
        day = date(2026, 1, 1)
        sizes: dict[int, int] = {}
        pool = [
            clean_event(s["event_type"], s["metadata"])[0]
            for s in _sample_events(5_000, rng)
        ]
        for n in range(1, 366):
            iso = day.isoformat()
            for _ in range(per_day):
                event = rng.choice(pool)
                assert event is not None
                data.counters.record(iso, event)
            data.counters.prune(day - timedelta(days=RETENTION_DAYS - 1))
            if n in (30, 90, 180, 365):
                sizes[n] = _file_bytes(data)
            day += timedelta(days=1)
        shown = ", ".join(f"day {n}: {size / 1024:.1f} KB" for n, size in sizes.items())
        print(
            f"\nstorage file at {per_day:,} events/day ({per_day * 365:,} events in the year): {shown} (target <= 150 KB)"
        )
