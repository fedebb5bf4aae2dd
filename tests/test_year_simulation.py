"""A simulated year of weekly reports against a service that stores every resend.

Outages, time-outs, resets, 5xx, 429s, rejected keys, restarts, a wall clock
that jumps a year ahead and back, a storage file that is lost, and a disk
that is full for a day: every consented day still lands in exactly one
report, no report is longer than 7 days or ends after it was sent, the
service never gets more than one request an hour, and the reports kept as
sent (sent_reports) are the newest REPORTS_KEPT the service stored, byte
for byte.
"""

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
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_fire_time_changed,
)

from custom_components.printernizer_stats import submission as submission_module
from custom_components.printernizer_stats.const import (
    CONF_API_KEY,
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    SERVICE_SENT_REPORTS,
)
from custom_components.printernizer_stats.delivery import REPORTS_KEPT
from custom_components.printernizer_stats.stats_api import Accepted, StatsServiceClient
from custom_components.printernizer_stats.storage import STORAGE_KEY
from simulator.printernizer import PrinternizerSimulator
from simulator.stats_service import StatsServiceEmulator

from .conftest import API_KEY, CONSENT_DAY, call_action, full_disk, make_entry, settle

SEED = 20261102
START = "2026-11-02 07:30:00+00:00"
YEAR = timedelta(days=365)
# After the year the service stays healthy this long, so the last reports land.
COOL_DOWN = timedelta(days=12)
FIRST_DAY = date.fromisoformat(CONSENT_DAY) + timedelta(days=1)
JUMP_AT = timedelta(days=100)
RESET_AT = timedelta(days=200)
FULL_DISK_AT = timedelta(days=250)
EVENT_FIELDS = {
    "job_completed": "job_count",
    "file_downloaded": "file_count",
    "file_uploaded": "upload_count",
}
ERROR_TYPES = ("TimeoutError", "ConnectionError", "PRINTER_NOT_FOUND", "JohnSmithError")
TRANSIENT_STATUSES = (500, 502, 504)

ORIGINAL_SUBMIT = StatsServiceClient.submit


@dataclass
class Year:
    """What the simulation did, to compare with what the service received."""

    fired: list[tuple[datetime, date, str]] = field(default_factory=list)
    attempts: list[tuple[datetime, str]] = field(default_factory=list)
    answered: list[tuple[datetime, str]] = field(default_factory=list)
    outages: Counter[str] = field(default_factory=Counter)
    lost: list[tuple[datetime, date]] = field(default_factory=list)
    restarts: int = 0
    key_changes: int = 0
    longest_outage: timedelta = timedelta(0)

    async def submit(
        self, client: StatsServiceClient, body: bytes, *, idempotency_key: str
    ) -> Accepted:
        """Note every attempt, including those the service never logs (time-outs)."""
        self.attempts.append((dt_util.utcnow(), idempotency_key))
        result = await ORIGINAL_SUBMIT(client, body, idempotency_key=idempotency_key)
        self.answered.append((dt_util.utcnow(), idempotency_key))
        return result

    def expected(self, start: date, end: date) -> Counter[str]:
        """Everything fired on the days [start, end) and not lost with the storage file."""
        total: Counter[str] = Counter()
        for at, day, name in self.fired:
            if start <= day < end and not any(
                at < lost_at and day >= lost_from for lost_at, lost_from in self.lost
            ):
                total[name] += 1
        return total


@pytest.fixture
def stats_service() -> StatsServiceEmulator:
    """The emulator (accepting API_KEY), also keeping the bytes of each stored report."""
    return StatsServiceEmulator(api_keys={API_KEY})


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


async def _settle(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, service: StatsServiceEmulator
) -> None:
    """Wait for background work; only a slow service needs the clock moved meanwhile."""
    if service.slow_seconds:
        await settle(hass, freezer)
    else:
        await hass.async_block_till_done(wait_background_tasks=True)


def _max_per_hour(times: list[datetime]) -> int:
    """The most requests in any rolling hour."""
    ordered = sorted(times)
    return max(
        (
            sum(1 for t in ordered[i:] if t - at < timedelta(hours=1))
            for i, at in enumerate(ordered)
        ),
        default=0,
    )


def _day(value: str) -> date:
    """The day of a report's midnight timestamp."""
    return date.fromisoformat(value[:10])


class Trouble:
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

    def _go_down(self, now: datetime, duration: timedelta) -> None:
        """Answer 503 for a while (extending an outage already running)."""
        self._service.down = True
        until = now + duration
        self._down_until = max(until, self._down_until or until)
        self._record.longest_outage = max(self._record.longest_outage, duration)

    def step(self, now: datetime) -> None:
        """End finished outages and maybe start a new one."""
        rng = self._rng
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
        self.next_trouble = now + timedelta(days=rng.uniform(2, 14))
        kind = rng.choice(("down", "slow", "5xx", "reset", "429", "429", "401", "down"))
        self._record.outages[kind] += 1
        if kind == "down":
            roll = rng.random()
            hours = rng.uniform(1, 48) if roll < 0.6 else rng.uniform(48, 7 * 24)
            self._go_down(now, timedelta(hours=hours))
        elif kind == "slow":
            # Slower than the client's 30 s time-out: the service may still store it.
            self._service.slow_seconds = 45
            self._slow_until = now + timedelta(hours=rng.uniform(1, 72))
        elif kind == "5xx":
            for _ in range(rng.randint(1, 6)):
                self._service.fail_next(rng.choice(TRANSIENT_STATUSES))
        elif kind == "reset":
            self._service.reset_next += rng.randint(1, 6)
        elif kind == "429":
            for _ in range(rng.randint(1, 3)):
                wait = rng.choice((None, rng.randint(1800, 2 * 86400)))
                self._service.fail_next(
                    429, retry_after=None if wait is None else str(wait)
                )
        else:
            self._service.api_keys = {f"rotated-{now.timestamp():.0f}"}


async def test_a_year_of_reports(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer: PrinternizerSimulator,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    hass_storage: dict[str, Any],
    hass_admin_user: MockUser,
    year: Year,
) -> None:
    """Every consented day lands in exactly one report, counted exactly, one request an hour at most."""
    rng = random.Random(SEED)
    freezer.move_to(START)
    begin = dt_util.utcnow()
    printernizer.available = False
    entry: MockConfigEntry = make_entry(printernizer_url, opted_in_options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    trouble = Trouble(rng, stats_service, year)
    end = begin + YEAR
    plan: dict[date, dict[str, int]] = {}
    done: dict[date, Counter[str]] = {}
    jump_until: datetime | None = None
    disk_full_until: datetime | None = None
    with full_disk(
        lambda: bool(disk_full_until and dt_util.utcnow() < disk_full_until)
    ):
        while (now := dt_util.utcnow()) < end + COOL_DOWN:
            if now < end:
                trouble.step(now)
            else:
                stats_service.down = False
                stats_service.slow_seconds = 0
            storage = entry.runtime_data.storage

            # The wall clock: a year ahead for half a day, then corrected.
            if jump_until is None and now - begin >= JUMP_AT:
                jump_until = now + timedelta(hours=12)
                storage.wall_clock = lambda: dt_util.utcnow() + YEAR
            elif (
                jump_until is not None
                and now >= jump_until
                and storage.wall_clock is not dt_util.utcnow
            ):
                storage.wall_clock = dt_util.utcnow
            # The statistics file is lost (the entry keeps the end of the last report).
            if not year.lost and now - begin >= RESET_AT:
                lost_from = entry.runtime_data.storage.data.delivery.reported_until
                assert await hass.config_entries.async_unload(entry.entry_id)
                hass_storage.pop(STORAGE_KEY, None)
                year.lost.append((now, lost_from or FIRST_DAY))
                assert await hass.config_entries.async_setup(entry.entry_id)
                await _settle(hass, freezer, stats_service)
            # The disk is full for a day.
            if disk_full_until is None and now - begin >= FULL_DISK_AT:
                disk_full_until = now + timedelta(days=1)

            # The user follows the re-authentication flow a while after it appears.
            flows = [
                flow
                for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
                if flow["context"]["source"] == SOURCE_REAUTH
            ]
            if flows and not stats_service.down and rng.random() < 0.3:
                year.key_changes += 1
                (key,) = stats_service.api_keys
                await hass.config_entries.flow.async_configure(
                    flows[0]["flow_id"], {CONF_API_KEY: key}
                )
                await _settle(hass, freezer, stats_service)
            elif rng.random() < 0.02 and not (
                disk_full_until and now < disk_full_until
            ):
                year.restarts += 1
                assert await hass.config_entries.async_unload(entry.entry_id)
                await _settle(hass, freezer, stats_service)
                assert await hass.config_entries.async_setup(entry.entry_id)
                await _settle(hass, freezer, stats_service)

            # Events of the day, spread over the day as it passes.
            today = now.date()
            day_plan = plan.setdefault(
                today,
                {
                    name: rng.randint(0, 20)
                    for name in (*EVENT_FIELDS, "error_occurred")
                },
            )
            share = (
                now - datetime.combine(today, datetime.min.time(), dt_util.UTC)
            ) / timedelta(days=1)
            fired = done.setdefault(today, Counter())
            for name, planned in day_plan.items():
                for _ in range(round(planned * share) - fired[name]):
                    fired[name] += 1
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
                    year.fired.append((now, today, key))
            await hass.async_block_till_done()

            freezer.tick(timedelta(hours=rng.uniform(1, 6)))
            async_fire_time_changed(hass)
            await _settle(hass, freezer, stats_service)

        # Let any request still hanging on the slow server finish.
        for _ in range(5):
            freezer.tick(timedelta(minutes=1))
            await _settle(hass, freezer, stats_service)

    submissions = stats_service.submissions
    by_key: dict[str, Any] = {}
    duplicates = 0
    for submission in submissions:
        if submission.idempotency_key in by_key:
            # The service stores resends; they are the same report, byte for byte.
            assert by_key[submission.idempotency_key].body == submission.body
            duplicates += 1
        else:
            by_key[submission.idempotency_key] = submission
    reports = [s.body for s in by_key.values()]
    assert len({r["installation"]["installation_id"] for r in reports}) == 2

    # Contiguous, non-overlapping 7-day periods from the day after consent.
    periods = [(_day(r["period"]["start"]), _day(r["period"]["end"])) for r in reports]
    assert periods[0][0] == FIRST_DAY
    for (_, previous_end), (start, _) in itertools.pairwise(periods):
        assert start == previous_end
    assert all(stop - start == timedelta(days=7) for start, stop in periods)
    last_end = periods[-1][1]
    covered = [
        d
        for start, stop in periods
        for d in (start + timedelta(days=i) for i in range((stop - start).days))
    ]
    assert len(covered) == len(set(covered)) == (last_end - FIRST_DAY).days
    assert (dt_util.utcnow().date() - last_end).days < 8
    # No report ends after the moment it was sent (the jumped clock never showed).
    for submission in by_key.values():
        assert _day(submission.body["period"]["end"]) <= submission.received_at.date()

    # Each report counts exactly what was fired on its days (minus what was lost).
    for report, (start, stop) in zip(reports, periods, strict=True):
        expected = year.expected(start, stop)
        usage = report["usage_stats"]
        for event, name in EVENT_FIELDS.items():
            assert usage[name] == expected[event], (start, name)
        errors = Counter(
            {
                (
                    "other"
                    if k.endswith("JohnSmithError")
                    else k.removeprefix("error_occurred/")
                ): v
                for k, v in expected.items()
                if k.startswith("error_occurred/")
            }
        )
        assert report["error_summary"] == dict(errors)

    # One request an hour at most, retries included, whatever happened.
    assert _max_per_hour([at for at, _ in year.attempts]) == 1
    submit_log = [
        at
        for at, sid, _ in stats_service.log
        if sid in {r["installation"]["installation_id"] for r in reports}
    ]
    assert _max_per_hour(submit_log) == 1

    # The reports kept as sent: exactly the newest REPORTS_KEPT the service
    # stored (a resend is the same report, once), newest first, byte for byte.
    response = await call_action(hass, SERVICE_SENT_REPORTS, user=hass_admin_user)
    assert response is not None
    kept: list[dict[str, Any]] = response["reports"]  # type: ignore[assignment]
    stored: dict[str | None, bytes] = {}
    for submission in stats_service.submissions:
        stored.setdefault(submission.idempotency_key, submission.raw)
    newest = list(stored.values())[-REPORTS_KEPT:]
    assert len(kept) == REPORTS_KEPT
    assert [report["body"].encode() for report in reversed(kept)] == newest
    assert all(report["status"] == 200 for report in kept)

    statuses = Counter(status for _, _, status in stats_service.log)
    lengths = Counter((stop - start).days for start, stop in periods)
    print(  # noqa: T201 - the lead quotes these numbers (run with -s)
        "\nA year of weekly reports:"
        f"\n  reports: {len(reports)} distinct, stored {len(submissions)} times"
        f" ({duplicates} resends of a report the service already had)"
        f"\n  days covered: {len(covered)} ({FIRST_DAY} to {last_end}, exclusive)"
        f"\n  period lengths (days: reports): {dict(sorted(lengths.items()))}"
        f"\n  requests attempted: {len(year.attempts)}, answered: {len(year.answered)}"
        f"\n  answers: {dict(sorted(statuses.items()))} (0 = connection reset)"
        f"\n  max requests in a rolling hour: {_max_per_hour([at for at, _ in year.attempts])}"
        f"\n  disruptions: {dict(sorted(year.outages.items()))}"
        f", longest outage: {year.longest_outage.days} days"
        f"\n  restarts: {year.restarts}, re-authentications: {year.key_changes}"
        f"\n  clock jump +365 d for 12 h, statistics file lost on day {RESET_AT.days},"
        f" disk full for a day from day {FULL_DISK_AT.days}"
        f"\n  reports kept as sent: {len(kept)}"
        f" ({sum(report['bytes'] for report in kept)} bytes)"
    )
