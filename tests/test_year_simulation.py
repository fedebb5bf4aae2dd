"""A simulated year of weekly reports through outages, rate limits and restarts."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
import itertools
import random
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.printernizer_stats import submission as submission_module
from custom_components.printernizer_stats.const import (
    CONF_API_KEY,
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
)
from custom_components.printernizer_stats.stats_api import (
    StatsServiceClient,
    SubmitResult,
)
from custom_components.printernizer_stats.submission import ISSUE_API_KEY
from simulator.printernizer import PrinternizerSimulator
from simulator.stats_service import StatsServiceEmulator

from .conftest import CONSENT_DAY, settle

SEED = 20261102
START = "2026-11-02 07:30:00+00:00"
YEAR = timedelta(days=365)
# After the year the service stays healthy this long, so the last reports land.
COOL_DOWN = timedelta(days=12)
CONSENT = date.fromisoformat(CONSENT_DAY)
EVENT_FIELDS = {
    "job_completed": "job_count",
    "file_downloaded": "file_count",
    "file_uploaded": "upload_count",
}
ERROR_TYPES = (
    "TimeoutError",
    "ConnectionError",
    "FileNotFoundError",
    "connection_timeout",
)
TRANSIENT_STATUSES = (500, 502, 504)

ORIGINAL_SUBMIT = StatsServiceClient.submit


@dataclass
class Year:
    """What the simulation did, to compare with what the service received."""

    fired: dict[date, Counter[str]] = field(default_factory=dict)
    attempts: list[datetime] = field(default_factory=list)
    injected: list[tuple[int, int | None]] = field(default_factory=list)
    outages: Counter[str] = field(default_factory=Counter)
    restarts: int = 0
    longest_outage: timedelta = timedelta(0)
    key_changes: int = 0

    async def submit(
        self, client: StatsServiceClient, body: bytes, *, idempotency_key: str
    ) -> SubmitResult:
        """Note every attempt, including those the service never logs (timeouts)."""
        self.attempts.append(dt_util.utcnow())
        return await ORIGINAL_SUBMIT(client, body, idempotency_key=idempotency_key)

    def count(self, day: date, name: str, amount: int = 1) -> None:
        """Remember an event fired on a day."""
        self.fired.setdefault(day, Counter())[name] += amount

    def expected(self, start: date, end: date) -> Counter[str]:
        """Everything fired on the days [start, end)."""
        total: Counter[str] = Counter()
        for day, counts in self.fired.items():
            if start <= day < end:
                total.update(counts)
        return total


@pytest.fixture
async def year() -> AsyncIterator[Year]:
    """The simulation's own record, a spy on every attempt, and repeatable jitter."""
    record = Year()
    seeds = itertools.count(SEED)
    seeded = SimpleNamespace(Random=lambda: random.Random(next(seeds)))
    with (
        patch.object(
            StatsServiceClient, "submit", autospec=True, side_effect=record.submit
        ),
        patch.object(submission_module, "random", seeded),
    ):
        yield record


def _max_per_hour(times: list[datetime]) -> int:
    """The most requests in any rolling hour."""
    ordered = sorted(times)
    most = 0
    for i, at in enumerate(ordered):
        most = max(most, sum(1 for t in ordered[i:] if t - at < timedelta(hours=1)))
    return most


def _day(value: str) -> date:
    """The day of a report's midnight timestamp."""
    return date.fromisoformat(value[:10])


class Disruptions:
    """Random trouble at the service: outages from hours to weeks, 429s, bad keys."""

    def __init__(
        self, rng: random.Random, service: StatsServiceEmulator, record: Year
    ) -> None:
        """Nothing is broken yet."""
        self._rng = rng
        self._service = service
        self._record = record
        self._down_until: datetime | None = None
        self._slow_until: datetime | None = None
        self.next_trouble = dt_util.utcnow() + timedelta(days=rng.uniform(1, 10))
        # One outage of three weeks is certain, whatever the dice say.
        self._long_outage_at: datetime | None = dt_util.utcnow() + timedelta(days=150)

    def _duration(self) -> timedelta:
        """Mostly hours, sometimes days, now and then weeks (well under retention)."""
        roll = self._rng.random()
        if roll < 0.6:
            return timedelta(hours=self._rng.uniform(1, 48))
        if roll < 0.9:
            return timedelta(days=self._rng.uniform(2, 7))
        return timedelta(days=self._rng.uniform(8, 21))

    def _go_down(self, now: datetime, duration: timedelta) -> None:
        """Answer 503 for a while (extending an outage already running)."""
        self._service.down = True
        until = now + duration
        self._down_until = max(until, self._down_until or until)
        self._record.longest_outage = max(self._record.longest_outage, duration)

    def step(self, now: datetime) -> None:
        """End finished outages and maybe start a new one."""
        if self._down_until and now >= self._down_until:
            self._service.down = False
            self._down_until = None
        if self._slow_until and now >= self._slow_until:
            self._service.slow_seconds = 0
            self._slow_until = None
        if self._long_outage_at and now >= self._long_outage_at:
            self._long_outage_at = None
            self._go_down(now, timedelta(days=21))
        if now < self.next_trouble:
            return
        self.next_trouble = now + timedelta(days=self._rng.uniform(2, 14))
        kind = self._rng.choice(
            ("down", "slow", "5xx", "reset", "429", "429", "401", "down")
        )
        self._record.outages[kind] += 1
        rng = self._rng
        if kind == "down":
            self._go_down(now, self._duration())
        elif kind == "slow":
            # Slower than the client's 30 s timeout: every attempt times out.
            self._service.slow_seconds = 45
            self._slow_until = now + timedelta(hours=rng.uniform(1, 72))
        elif kind == "5xx":
            for _ in range(rng.randint(1, 6)):
                status = rng.choice(TRANSIENT_STATUSES)
                self._service.fail_next(status)
                self._record.injected.append((status, None))
        elif kind == "reset":
            self._service.reset_next += rng.randint(1, 6)
        elif kind == "429":
            for _ in range(rng.randint(1, 3)):
                wait = rng.choice((None, rng.randint(1800, 2 * 86400)))
                self._service.fail_next(
                    429, retry_after=None if wait is None else str(wait)
                )
                self._record.injected.append((429, wait))
        else:
            self._service.fail_next(401)
            self._record.injected.append((401, None))


async def test_a_year_of_reports(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
    mock_config_entry: MockConfigEntry,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    year: Year,
) -> None:
    """Every consented day lands in exactly one accepted report, counted exactly, one request an hour at most."""
    rng = random.Random(SEED)
    freezer.move_to(START)
    printernizer.available = False
    issues = ir.async_get(hass)
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, options=opted_in_options)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    trouble = Disruptions(rng, stats_service, year)
    fix_key_at: datetime | None = None
    end = dt_util.utcnow() + YEAR
    plan: dict[date, dict[str, int]] = {}
    fired: dict[date, Counter[str]] = {}
    while (now := dt_util.utcnow()) < end + COOL_DOWN:
        if now < end:
            trouble.step(now)
        else:
            stats_service.down = False
            stats_service.slow_seconds = 0

        if fix_key_at is None and issues.async_get_issue(DOMAIN, ISSUE_API_KEY):
            fix_key_at = now + timedelta(days=rng.uniform(0.5, 5))
        if fix_key_at is not None and now >= fix_key_at:
            # The user follows the repair issue and enters a new key.
            fix_key_at = None
            year.key_changes += 1
            new_key = f"key-{year.key_changes}"
            stats_service.api_keys.add(new_key)
            hass.config_entries.async_update_entry(
                mock_config_entry,
                options={**mock_config_entry.options, CONF_API_KEY: new_key},
            )
            await settle(hass, freezer)
        elif rng.random() < 0.02:
            year.restarts += 1
            assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
            await settle(hass, freezer)
            assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
            await settle(hass, freezer)

        # Events of the day, spread over the day as it passes.
        today = now.date()
        day_plan = plan.setdefault(
            today,
            {name: rng.randint(0, 20) for name in (*EVENT_FIELDS, "error_occurred")},
        )
        share = (now - datetime.combine(today, datetime.min.time(), dt_util.UTC)) / (
            timedelta(days=1)
        )
        done = fired.setdefault(today, Counter())
        for name, planned in day_plan.items():
            for _ in range(round(planned * share) - done[name]):
                done[name] += 1
                metadata: dict[str, Any] = {}
                key = name
                if name == "error_occurred":
                    error_type = rng.choice(ERROR_TYPES)
                    metadata = {"error_type": error_type}
                    key = f"error_occurred/{error_type}"
                hass.bus.async_fire(
                    EVENT_PRINTERNIZER_STATS,
                    {"event_type": name, "metadata": metadata},
                )
                year.count(today, key)
        await hass.async_block_till_done()

        freezer.tick(timedelta(hours=rng.uniform(1, 6)))
        async_fire_time_changed(hass)
        await settle(hass, freezer)

    # Let any request still hanging on the slow server finish.
    for _ in range(5):
        freezer.tick(timedelta(minutes=1))
        await settle(hass, freezer)

    reports = stats_service.accepted
    installation_ids = {r["installation"]["installation_id"] for r in reports}
    assert len(installation_ids) == 1
    assert {r["installation"]["first_seen"] for r in reports} == {
        f"{CONSENT_DAY}T00:00:00+00:00"
    }

    # Contiguous, non-overlapping, from the consent day: each day exactly once.
    periods = [(_day(r["period"]["start"]), _day(r["period"]["end"])) for r in reports]
    assert periods[0][0] == CONSENT
    for (_, previous_end), (start, _) in itertools.pairwise(periods):
        assert start == previous_end
    last_end = periods[-1][1]
    covered = [
        start + timedelta(days=i)
        for start, stop in periods
        for i in range((stop - start).days)
    ]
    assert len(covered) == len(set(covered)) == (last_end - CONSENT).days
    assert (dt_util.utcnow().date() - last_end).days < 8
    assert all(r["period"]["duration_days"] >= 7 for r in reports)

    # Each report counts exactly what was fired on its days, and so do the sums.
    for report, (start, stop) in zip(reports, periods, strict=True):
        expected = year.expected(start, stop)
        usage = report["usage_stats"]
        for event, name in EVENT_FIELDS.items():
            assert usage[name] == expected[event], (start, name)
        assert report["error_summary"] == {
            k.removeprefix("error_occurred/"): v
            for k, v in expected.items()
            if k.startswith("error_occurred/")
        }
    everything = year.expected(CONSENT, last_end)
    sums = Counter[str]()
    for report in reports:
        sums.update({n: report["usage_stats"][n] for n in EVENT_FIELDS.values()})
        sums.update(
            {f"error_occurred/{k}": v for k, v in report["error_summary"].items()}
        )
    assert sums == Counter(
        {EVENT_FIELDS.get(k, k): v for k, v in everything.items() if v}
    )

    # The service never saw more than one request per rolling hour, nor did the
    # client try more often (its timed-out attempts never reach the log).
    seen = [at for at, _, _ in stats_service.log]
    assert _max_per_hour(seen) == 1
    assert _max_per_hour(year.attempts) == 1
    assert len(stats_service.submissions) == len(reports)

    # Every Retry-After was honoured: the next attempt came no sooner.
    injected_statuses = {status for status, _ in year.injected}
    answered = [
        (at, status)
        for at, _, status in stats_service.log
        if status in injected_statuses
    ]
    for (at, status), (expected_status, wait) in zip(
        answered, year.injected, strict=False
    ):
        assert status == expected_status
        if wait is not None:
            later = [t for t in year.attempts if t > at]
            assert not later or later[0] - at >= timedelta(seconds=wait)
    # Every 429 was one we injected: the service's own limit never had to act.
    assert sum(1 for _, status in answered if status == 429) == sum(
        1 for status, _ in year.injected[: len(answered)] if status == 429
    )

    statuses = Counter(status for _, _, status in stats_service.log)
    timeouts = len(year.attempts) - len(stats_service.log)
    lengths = Counter(stop.toordinal() - start.toordinal() for start, stop in periods)
    print(  # noqa: T201 - the lead quotes these numbers (run with -s)
        "\nA year of weekly reports:"
        f"\n  reports accepted: {len(reports)}"
        f"\n  days covered: {len(covered)} ({CONSENT} to {last_end}, exclusive)"
        f"\n  period lengths (days: reports): {dict(sorted(lengths.items()))}"
        f"\n  requests attempted: {len(year.attempts)}"
        f" (server saw {len(stats_service.log)}, {timeouts} timed out)"
        f"\n  retries: {len(year.attempts) - len(reports)}"
        f"\n  answers: {dict(sorted(statuses.items()))} (0 = connection reset)"
        f"\n  max requests in a rolling hour: {_max_per_hour(year.attempts)}"
        f"\n  disruptions: {dict(sorted(year.outages.items()))}"
        f", longest outage: {year.longest_outage.days} days"
        f"\n  restarts: {year.restarts}, API key changes: {year.key_changes}"
        f"\n  events fired (consented days): {sum(everything.values())}"
    )
