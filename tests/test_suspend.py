"""Hosts that sleep, and a re-authentication that completes the job (issue 16).

A suspended machine: the wall clock and the boot clock (CLOCK_BOOTTIME)
move on, the event loop's clock (CLOCK_MONOTONIC) does not, so every timer
set before the suspend fires late by the suspend's length. The simulation
reproduces exactly that: the freezer moves the wall clock and the boot
clock (conftest makes the boot clock follow it), and `hass.loop.time` is
patched to leave out the time spent suspended.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
import time
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

from custom_components.printernizer_stats.const import (
    CONF_API_KEY,
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    SERVICE_SUBMIT_NOW,
)
from simulator.stats_service import StatsServiceEmulator

from .conftest import (
    CONSENT_DAY,
    advance,
    call_action,
    export_answer,
    next_minute,
    setup_entry,
)

# Awake from 20:00 to 04:00 UTC (across midnight, so a day change happens
# awake), suspended from 04:00 to 20:00: 8 h awake, 16 h asleep, for 30 days.
START = "2026-11-02 20:00:00+00:00"
AWAKE = timedelta(hours=8)
ASLEEP = timedelta(hours=16)
DAYS = 30
FIRST_DAY = date.fromisoformat(CONSENT_DAY) + timedelta(days=1)
SHARING = "sensor.printernizer_usage_statistics_sharing_status"

pytestmark = [
    pytest.mark.freeze_time(START),
    pytest.mark.usefixtures("printernizer_down"),
]


class Host:
    """The machine Home Assistant runs on: the loop's clock stops while it sleeps."""

    def __init__(self, hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
        """Awake, never suspended yet."""
        self._hass = hass
        self._freezer = freezer
        self.suspended = 0.0

    @property
    def loop_time(self) -> float:
        """CLOCK_MONOTONIC: the frozen clock less the time spent suspended."""
        return time.monotonic() - self.suspended

    async def sleep(self, duration: timedelta) -> None:
        """Suspend: wall and boot clocks move on, the loop's does not; then resume."""
        self.suspended += duration.total_seconds()
        self._freezer.tick(duration)
        # On resume the loop runs what is due by its own (stopped) clock.
        async_fire_time_changed(self._hass)
        await self._hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
def host(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> Iterator[Host]:
    """Home Assistant's event loop on a host that can be suspended."""
    machine = Host(hass, freezer)
    with patch.object(hass.loop, "time", lambda: machine.loop_time):
        yield machine


async def test_a_month_of_sleeping_host_delivers_every_week_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    host: Host,
) -> None:
    """30 days, awake 8 h a day: every week once, contiguous, each event on its true UTC day."""
    await setup_entry(hass, entry)
    storage = entry.runtime_data.storage
    fired: Counter[date] = Counter()
    for day in range(DAYS):
        # Awake: events at half past every hour, on both sides of midnight.
        for hour in range(int(AWAKE / timedelta(hours=1))):
            await advance(hass, freezer, timedelta(minutes=30))
            for _ in range((day + hour) % 3 + 1):
                hass.bus.async_fire(
                    EVENT_PRINTERNIZER_STATS,
                    {"event_type": "job_completed", "metadata": {}},
                )
                fired[dt_util.utcnow().date()] += 1
            await hass.async_block_till_done()
            # Counted at once, on the day the wall clock shows: a resume is believed.
            assert storage.now() == dt_util.utcnow()
            assert not storage.data.clock.holding
            await advance(hass, freezer, timedelta(minutes=30))
        await host.sleep(ASLEEP)
        assert storage.now() == dt_util.utcnow()
        assert not storage.data.clock.holding

    assert host.suspended == DAYS * ASLEEP.total_seconds()
    end = dt_util.utcnow()
    assert end == dt_util.parse_datetime(START) + DAYS * (AWAKE + ASLEEP)

    # Every week whose 7 days are over went out exactly once, in order, no gap or overlap.
    reports = stats_service.accepted
    periods = [
        (date.fromisoformat(r["period"]["start"][:10]), r["period"]["duration_days"])
        for r in reports
    ]
    expected_weeks = (end.date() - FIRST_DAY).days // 7
    assert periods == [
        (FIRST_DAY + timedelta(days=7 * week), 7) for week in range(expected_weeks)
    ]
    keys = [s.idempotency_key for s in stats_service.submissions]
    assert len(set(keys)) == len(keys) == expected_weeks == 4
    # Each counted exactly the events fired on its days.
    for report, (start, _) in zip(reports, periods, strict=True):
        days = [start + timedelta(days=i) for i in range(7)]
        assert report["usage_stats"]["job_count"] == sum(fired[d] for d in days)
    # And every day holds exactly the events of that UTC day.
    export = await export_answer(hass)
    counted = {
        day: row["job_completed"]["count"]
        for day, row in export["counters_by_day"].items()
        if "job_completed" in row
    }
    assert counted == {d.isoformat(): n for d, n in sorted(fired.items())}


async def test_a_timer_set_before_a_suspend_fires_late_by_its_length(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    host: Host,
) -> None:
    """The simulation itself: the submission timer counts awake time only."""
    await setup_entry(hass, entry)
    submission = entry.runtime_data.submission
    planned = submission.next_check
    assert planned is not None
    waiting = planned - dt_util.utcnow()
    await host.sleep(ASLEEP)
    # Due by the wall clock long ago; the loop has not counted the time yet.
    assert submission.next_check == planned
    await advance(hass, freezer, waiting - timedelta(seconds=2))
    assert submission.next_check == planned
    await advance(hass, freezer, timedelta(seconds=4))
    assert submission.next_check != planned
    assert submission.next_check is not None
    assert submission.next_check > dt_util.utcnow()


async def test_reauthentication_sends_the_waiting_report_within_a_minute(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """401, then a new key: opted_in at the next whole minute, the report out within a minute, no hour lost."""
    await setup_entry(hass, entry)
    await advance(hass, freezer, timedelta(days=2))
    state = entry.runtime_data.storage.data.delivery
    before = state.last_request
    stats_service.api_keys = {"new-key"}

    answer = await call_action(hass, SERVICE_SUBMIT_NOW, user=hass_admin_user)
    assert answer is not None
    assert answer["reason"] == "key_refused"
    refused_at = dt_util.utcnow()
    assert [status for _, _, status in stats_service.log] == [401]
    # The service checks the key before its rate limit: no budget was used.
    assert state.last_request == before
    await next_minute(hass, freezer)
    assert hass.states.get(SHARING).state == "failing"

    freezer.tick(timedelta(seconds=20))
    (flow,) = [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_API_KEY: "new-key"}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    reauthenticated = dt_util.utcnow()

    # At once: the next whole minute shows the status, before anything was sent.
    await next_minute(hass, freezer)
    assert hass.states.get(SHARING).state == "opted_in"
    assert stats_service.submissions == []

    while not stats_service.submissions and dt_util.utcnow() < reauthenticated + (
        timedelta(minutes=2)
    ):
        await advance(hass, freezer, timedelta(seconds=5))
    (submission,) = stats_service.submissions
    assert submission.received_at - reauthenticated <= timedelta(minutes=1)
    # Well within the hour after the refused attempt.
    assert submission.received_at < refused_at + timedelta(hours=1)
    assert submission.body["period"]["start"] == "2026-11-03T00:00:00+00:00"
    await next_minute(hass, freezer)
    assert hass.states.get(SHARING).state == "opted_in"
