"""Benchmarks: the bus path in two modes, disk writes, the file after a year, report builds.

Run with scripts/bench. Numbers are printed, never asserted on time. The
integration and a bare listener (async_fire + a no-op callback, the floor)
run on the same Home Assistant, interleaved sample by sample, with asyncio's
debug mode off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
import random
import statistics
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

from custom_components.printernizer_stats.clock import TrustedClock
from custom_components.printernizer_stats.const import (
    CONF_URL,
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    SAVE_DELAY,
)
from custom_components.printernizer_stats.counters import UsageCounters, week_key
from custom_components.printernizer_stats.delivery import (
    REPORT_BYTES_KEPT,
    Accepted,
    DeliveryState,
)
from custom_components.printernizer_stats.printernizer import (
    File,
    Job,
    Printer,
    PrinternizerFacts,
)
from custom_components.printernizer_stats.privacy import ALLOWLIST, clean_event
from custom_components.printernizer_stats.report import (
    InstallationFacts,
    Period,
    build_report,
    serialize_report,
)
from custom_components.printernizer_stats.storage import (
    STORAGE_MINOR_VERSION,
    STORAGE_VERSION,
    StoredData,
)
from custom_components.printernizer_stats.tracker import TransitionTracker
from custom_components.printernizer_stats.vocabulary import ERROR_TYPES, EVENT_TYPES

SAMPLES = 7
BURST = 10_000
LONE = 5_000
EVENTS_PER_DAY = 10_000
ENDPOINT = "https://stats.printernizer.com/submit"
RETENTION_DAYS = 90


def _sample_events(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Realistic events: every type, random allowed metadata values."""
    samples: list[dict[str, Any]] = []
    for _ in range(count):
        event_type = rng.choice(EVENT_TYPES)
        metadata: dict[str, Any] = {}
        for key, field in ALLOWLIST[event_type].items():
            if key == "duration_minutes":
                metadata[key] = rng.uniform(0, 2000)
            elif key == "size_bytes":
                metadata[key] = rng.randint(0, 300_000_000)
            elif key == "uptime_hours":
                metadata[key] = rng.uniform(0, 500)
            elif key == "app_version":
                metadata[key] = rng.choice(("2.42.0", "2.42.1", "2.43.0rc1"))
            elif key == "error_type":
                metadata[key] = rng.choice((*ERROR_TYPES[:30], "JohnSmithError"))
            elif field.values == ("true", "false"):
                metadata[key] = rng.random() < 0.5
            else:
                metadata[key] = rng.choice(field.values)
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


def _line(name: str, seconds: list[float], count: int) -> str:
    """min / median / max in microseconds per event."""
    per_event = sorted(s / count * 1e6 for s in seconds)
    return (
        f"  {name:<24} min {per_event[0]:6.2f}  median {statistics.median(per_event):6.2f}"
        f"  max {per_event[-1]:6.2f} µs/event"
    )


async def _measure(
    run: Callable[[str, list[dict[str, Any]]], Awaitable[float]],
    samples: list[dict[str, Any]],
) -> tuple[list[float], list[float]]:
    """SAMPLES interleaved runs of the bare bus and of ours, in alternating order."""
    bare: list[float] = []
    ours: list[float] = []
    for index in range(SAMPLES):
        order = ("bench_bare_event", EVENT_PRINTERNIZER_STATS)
        for event_type in order if index % 2 == 0 else reversed(order):
            elapsed = await run(event_type, samples)
            (bare if event_type == "bench_bare_event" else ours).append(elapsed)
    return bare, ours


async def test_bench_bus_path(hass: HomeAssistant, socket_enabled: None) -> None:
    """Per event: a burst without yielding, and one event per loop turn (the real mode)."""
    hass.loop.set_debug(False)
    entry = await _setup(hass)

    @callback
    def noop(event: Event) -> None:
        """The floor: the bus with a listener that does nothing."""

    hass.bus.async_listen("bench_bare_event", noop)
    counters = entry.runtime_data.storage.data.counters

    async def burst(event_type: str, samples: list[dict[str, Any]]) -> float:
        fire = hass.bus.async_fire
        start = time.perf_counter()
        for data in samples:
            fire(event_type, data)
        return time.perf_counter() - start

    async def lone(event_type: str, samples: list[dict[str, Any]]) -> float:
        fire = hass.bus.async_fire
        start = time.perf_counter()
        for data in samples:
            fire(event_type, data)
            await asyncio.sleep(0)
        return time.perf_counter() - start

    print("\nbus path (project vs bare async_fire + no-op listener, asyncio debug off)")
    for name, run, count in (
        ("burst", burst, BURST),
        ("one per loop turn", lone, LONE),
    ):
        samples = _sample_events(count, random.Random(1))
        before = sum(counters.totals.values())
        bare, ours = await _measure(run, samples)
        counted = sum(counters.totals.values()) - before
        assert counted == SAMPLES * count
        ratio = statistics.median(ours) / statistics.median(bare)
        ratios = sorted(o / b for o, b in zip(ours, bare, strict=True))
        print(f" {name}: {SAMPLES} interleaved samples of {count:,} events")
        print(_line("bare bus", bare, count))
        print(_line("printernizer_stats", ours, count))
        print(
            f"  ratio of medians {ratio:.2f}x (per-sample ratios {ratios[0]:.2f}"
            f"..{ratios[-1]:.2f}x; target <= 3x), counted {counted:,} of {SAMPLES * count:,}"
        )
    await hass.config_entries.async_unload(entry.entry_id)


async def test_bench_disk_writes_during_burst(
    hass: HomeAssistant, socket_enabled: None, freezer: FrozenDateTimeFactory
) -> None:
    """Writes of our storage file caused by a burst of 10,000 events."""
    hass.loop.set_debug(False)
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
        for _ in range(3):
            freezer.tick(timedelta(seconds=SAVE_DELAY / 2 + 1))
            async_fire_time_changed(hass)
            await hass.async_block_till_done()
    print(f"\ndisk writes for a burst of {BURST:,} events: {len(writes)} (target <= 2)")
    await hass.config_entries.async_unload(entry.entry_id)


def _file_bytes(data: StoredData) -> int:
    """Size of the storage file exactly as Home Assistant writes it."""
    document = {
        "version": STORAGE_VERSION,
        "minor_version": STORAGE_MINOR_VERSION,
        "key": DOMAIN,
        "data": data.as_storage(),
    }
    return len(json_helper._orjson_bytes_default_encoder(document))


def _year(per_day: int, rng: random.Random) -> dict[int, int]:
    """A year at `per_day` events a day, 1,000 jobs, 1,000 files and 10 printers tracked."""
    pool = [
        clean_event(s["event_type"], s["metadata"])[0]
        for s in _sample_events(5_000, rng)
    ]
    day = date(2026, 1, 1)
    data = StoredData(
        counters=UsageCounters(),
        tracker=TransitionTracker(),
        facts=PrinternizerFacts(
            app_version="2.42.0", fleet={"bambu_lab": 6, "prusa_core": 4}
        ),
        delivery=DeliveryState(installation_id="0b6d1c2e-3f4a-4b5c-8d6e-7f8091a2b3c4"),
        clock=TrustedClock(),
    )
    printers = [
        Printer(f"printer-{i}", "bambu_lab" if i < 6 else "prusa_core", "online")
        for i in range(10)
    ]
    sizes: dict[int, int] = {}
    for n in range(1, 366):
        iso = day.isoformat()
        week = week_key(day)
        for _ in range(per_day):
            event = rng.choice(pool)
            assert event is not None
            data.counters.record(iso, event, week)
        data.counters.add_uptime(iso, 24 * 60)
        now = datetime(day.year, day.month, day.day, 12)
        jobs = [
            Job(
                f"job-{n}-{i}",
                f"printer-{i % 10}",
                "unknown",
                "completed",
                600.0,
                now,
                now,
            )
            for i in range(1_000)
        ]
        files = [
            File(f"{i}_customer_{n}_{i}.gcode", "downloaded", 1e6, now)
            for i in range(1_000)
        ]
        data.tracker.printers(printers)
        data.tracker.jobs(jobs, {p.id: p.printer_type for p in printers}, now=now)
        data.tracker.files(files, now=now)
        aware = now.replace(tzinfo=UTC)
        data.tracker.uptime(
            n * 86400.0,
            now=aware,
            mono=n * 86400.0,
            app_version="2.42.0",
            deployment_mode="homeassistant",
        )
        data.counters.prune(day - timedelta(days=RETENTION_DAYS - 1))
        if n % 7 == 0:
            # A week is sent and accepted: it is kept as sent (the record
            # fills up to its bound), and the next one waits, pending.
            start = day - timedelta(days=6)
            delivery = data.delivery
            if delivery.pending is not None:
                delivery.begin_attempt(aware, ENDPOINT)
                delivery.apply(
                    Accepted(str(n)), aware, rng, generation=0, version="0.3.0"
                )
            body = serialize_report(
                _report(data.counters, start, day + timedelta(days=1))
            ).decode()
            delivery.freeze(Period(start, day + timedelta(days=1)), body, aware)
        data.clock.now(now.astimezone())
        if n in (30, 90, 180, 365):
            sizes[n] = _file_bytes(data)
        day += timedelta(days=1)
    kept = data.delivery.history
    body_bytes = sum(sent.size for sent in kept)
    print(
        f"\nreports kept as sent after a year: {len(kept)}, {body_bytes:,} bytes of "
        f"bodies; were they at their bound ({REPORT_BYTES_KEPT:,} bytes), the file "
        f"would be {(sizes[365] + REPORT_BYTES_KEPT - body_bytes) / 1024:.1f} KB"
    )
    return sizes


def _report(counters: UsageCounters, start: date, end: date) -> dict[str, Any]:
    """One weekly report from stored counters."""
    return build_report(
        tally=counters.tally(start, end),
        period=Period(start, end),
        installation=InstallationFacts(
            installation_id="0b6d1c2e-3f4a-4b5c-8d6e-7f8091a2b3c4",
            first_seen=date(2026, 1, 1),
            app_version="2.42.0",
            platform="linux",
            deployment_mode="homeassistant",
            country_code="DE",
        ),
        fleet={"bambu_lab": 6, "prusa_core": 4},
        today=end,
    )


def test_bench_storage_size_after_a_year() -> None:
    """The whole file (counters, tracker, facts, delivery with a pending report, clock)."""
    for per_day in (1_000, EVENTS_PER_DAY):
        sizes = _year(per_day, random.Random(3))
        shown = ", ".join(f"day {n}: {size / 1024:.1f} KB" for n, size in sizes.items())
        print(
            f"\nwhole storage file at {per_day:,} events/day, 1,000 jobs and 1,000 files"
            f" a day, 10 printers: {shown} (target <= 150 KB)"
        )


def test_bench_report_build() -> None:
    """Reports built per second from a full 90-day file, and the events they summarise."""
    rng = random.Random(4)
    counters = UsageCounters()
    pool = [
        clean_event(s["event_type"], s["metadata"])[0]
        for s in _sample_events(5_000, rng)
    ]
    day = date(2026, 1, 1)
    for _ in range(RETENTION_DAYS):
        for _ in range(EVENTS_PER_DAY):
            event = rng.choice(pool)
            assert event is not None
            counters.record(day.isoformat(), event, week_key(day))
        day += timedelta(days=1)
    start = date(2026, 3, 1)
    runs = 200
    began = time.perf_counter()
    for _ in range(runs):
        serialize_report(_report(counters, start, start + timedelta(days=7)))
    elapsed = time.perf_counter() - began
    events = 7 * EVENTS_PER_DAY
    print(
        f"\nreport build (tally of 7 of 90 days + build + check + serialise): "
        f"{runs / elapsed:,.0f} reports/s, {runs * events / elapsed:,.0f} events/s summarised"
    )
