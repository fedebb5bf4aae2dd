"""Tests for the trusted clock: jumps are held back until confirmed (no Home Assistant)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import time
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.printernizer_stats.clock import (
    CONFIRM_AFTER,
    MAX_STEP,
    TOLERANCE,
    TrustedClock,
    boot_seconds,
)

T0 = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the package-wide fixture: these tests need no Home Assistant."""


def _running(start: datetime = T0) -> TrustedClock:
    """A clock that has seen one reading at `start`."""
    clock = TrustedClock()
    assert clock.now(start) == start
    return clock


def test_clock_normal_progress_passes_through() -> None:
    """Steps up to MAX_STEP forward and TOLERANCE back are believed at once."""
    clock = _running()
    wall = T0
    for step in (MINUTE, MAX_STEP, -TOLERANCE, HOUR, timedelta(0), 6 * HOUR):
        wall += step
        assert clock.now(wall) == wall
        assert not clock.holding
    assert clock.offset == timedelta(0)
    assert clock.high_water == wall


def test_clock_first_reading_is_believed() -> None:
    """Without a stored high water, the first reading is the trusted time."""
    clock = TrustedClock()
    assert clock.high_water is None
    assert not clock.holding
    assert clock.now(T0) == T0
    assert clock.high_water == T0


@pytest.mark.parametrize(
    "jump",
    [MAX_STEP + MINUTE, timedelta(days=365), -TOLERANCE - MINUTE, timedelta(days=-30)],
)
def test_clock_jump_is_held(jump: timedelta) -> None:
    """A forward step over MAX_STEP or a backward step over TOLERANCE is held."""
    clock = _running()
    assert clock.now(T0 + jump) == T0
    assert clock.holding
    # Trusted time goes on from before the jump with the wall clock's own progress.
    for minutes in range(1, 300):
        wall = T0 + jump + minutes * MINUTE
        assert clock.now(wall) == T0 + minutes * MINUTE
    assert clock.holding
    assert clock.high_water == T0 + 299 * MINUTE


def test_clock_small_step_back_is_absorbed() -> None:
    """A small step back ends once the wall clock passes the trusted time; no step back."""
    clock = _running()
    assert clock.now(T0 - 10 * MINUTE) == T0
    assert clock.now(T0 - 8 * MINUTE) == T0 + 2 * MINUTE
    assert clock.holding
    assert clock.now(T0 + 3 * MINUTE) == T0 + 3 * MINUTE
    assert not clock.holding


@pytest.mark.parametrize("jump", [timedelta(days=365), timedelta(hours=-9)])
def test_clock_coming_back_ends_the_hold(jump: timedelta) -> None:
    """The wall clock returning ends the hold as if nothing happened."""
    clock = _running()
    clock.now(T0 + jump)
    clock.now(T0 + jump + HOUR)
    assert clock.holding
    assert clock.now(T0 + HOUR) == T0 + HOUR
    assert (clock.holding, clock.offset) == (False, timedelta(0))
    assert clock.now(T0 + 2 * HOUR) == T0 + 2 * HOUR


def test_clock_coming_back_after_real_time_passed() -> None:
    """Real time that passed at the jump and the correction is caught up, not held."""
    clock = _running()
    # The jump and the correction each happen between readings an hour apart.
    assert clock.now(T0 + HOUR + timedelta(days=365)) == T0
    assert clock.now(T0 + 2 * HOUR + timedelta(days=365)) == T0 + HOUR
    assert clock.now(T0 + 3 * HOUR) == T0 + 3 * HOUR
    assert not clock.holding
    assert clock.high_water == T0 + 3 * HOUR


@pytest.mark.parametrize("jump", [timedelta(days=40), -timedelta(days=3)])
def test_clock_jump_that_persists_is_accepted(jump: timedelta) -> None:
    """A jump the wall clock keeps for CONFIRM_AFTER becomes the trusted time."""
    clock = _running()
    wall = T0 + jump
    clock.now(wall)
    while wall < T0 + jump + CONFIRM_AFTER - HOUR:
        wall += HOUR
        assert clock.now(wall) == wall - jump
        assert clock.holding
    wall += HOUR
    assert clock.now(wall) == wall
    assert not clock.holding
    assert clock.offset == timedelta(0)


def test_clock_accepted_step_back_forgets_the_future_high_water() -> None:
    """After an accepted step back, a restart is not held at the old future time."""
    wrong = T0 + timedelta(days=365)
    clock = _running(wrong)
    assert clock.high_water == wrong
    clock.now(T0)
    for hours in range(1, 24):
        assert clock.now(T0 + hours * HOUR) == wrong + hours * HOUR
    assert clock.now(T0 + CONFIRM_AFTER) == T0 + CONFIRM_AFTER
    assert clock.high_water == T0 + CONFIRM_AFTER
    restarted = TrustedClock.from_storage(clock.as_storage())
    later = T0 + CONFIRM_AFTER + timedelta(minutes=20)
    assert restarted.now(later) == later
    assert not restarted.holding


def test_clock_every_new_jump_restarts_the_wait() -> None:
    """A second jump while holding needs its own CONFIRM_AFTER."""
    clock = _running()
    for hours in range(21):
        clock.now(T0 + timedelta(days=10, hours=hours))
    # A second jump 20 h into the hold, then the clock stays there.
    wall = T0 + timedelta(days=20, hours=21)
    trusted = clock.now(wall)
    assert trusted == T0 + timedelta(hours=20)
    for hours in range(1, 24):
        assert clock.now(wall + hours * HOUR) == trusted + hours * HOUR
    assert clock.holding
    assert clock.now(wall + CONFIRM_AFTER) == wall + CONFIRM_AFTER
    assert not clock.holding


def test_clock_restart_forward_gap_is_downtime() -> None:
    """Across a restart a forward gap of any size is believed."""
    clock = TrustedClock(T0)
    later = T0 + timedelta(days=60)
    assert clock.now(later) == later
    assert not clock.holding


def test_clock_restart_behind_high_water_is_held_not_believed() -> None:
    """Across a restart a stored mark ahead of the wall clock is held: the wall clock counts."""
    clock = TrustedClock(T0)
    wall = T0 - timedelta(days=2)
    assert clock.now(wall) == wall
    assert clock.holding
    assert clock.ceiling == T0
    for hours in range(1, 24):
        assert clock.now(wall + hours * HOUR) == wall + hours * HOUR
        assert clock.high_water == T0
    # After CONFIRM_AFTER the wall clock is believed and the mark forgotten.
    assert clock.now(wall + CONFIRM_AFTER) == wall + CONFIRM_AFTER
    assert not clock.holding
    assert clock.ceiling is None
    assert clock.high_water == wall + CONFIRM_AFTER


def test_clock_stored_future_mark_is_never_believed() -> None:
    """A file claiming 2031 moves no time: events count on the wall clock's day."""
    clock = TrustedClock.from_storage({"high_water": "2031-01-01T00:00:00+00:00"})
    assert clock.now(T0) == T0
    assert clock.now(T0 + HOUR) == T0 + HOUR
    assert clock.holding
    assert clock.as_storage() == {
        "high_water": "2031-01-01T00:00:00+00:00",
        "held_since": "2026-05-04T10:30:00+00:00",
    }


def test_clock_hold_behind_the_mark_survives_a_restart() -> None:
    """The wait for a clock behind its mark counts from the first hold, across restarts."""
    clock = TrustedClock(T0)
    wall = T0 - timedelta(days=2)
    clock.now(wall)
    clock.now(wall + 20 * HOUR)
    restarted = TrustedClock.from_storage(clock.as_storage())
    assert restarted.now(wall + 21 * HOUR) == wall + 21 * HOUR
    assert restarted.holding
    assert restarted.now(wall + CONFIRM_AFTER) == wall + CONFIRM_AFTER
    assert not restarted.holding
    assert restarted.as_storage()["held_since"] is None


def test_clock_restart_behind_then_caught_up() -> None:
    """A wall clock that reaches the stored mark by itself ends the hold."""
    clock = TrustedClock(T0)
    clock.now(T0 - 2 * HOUR)
    assert clock.holding
    assert clock.now(T0 - TOLERANCE) == T0 - TOLERANCE
    assert not clock.holding
    assert clock.high_water == T0


def test_clock_restart_within_tolerance_is_believed() -> None:
    """A reading just behind the stored high water is normal."""
    clock = TrustedClock(T0)
    wall = T0 - TOLERANCE
    assert clock.now(wall) == wall
    assert not clock.holding
    assert clock.high_water == T0


def test_clock_restart_then_correction_ends_hold() -> None:
    """A Pi booting with an old date is held, and NTP correcting it ends the hold."""
    clock = TrustedClock(T0)
    clock.now(datetime(1970, 1, 1, tzinfo=UTC))
    assert clock.holding
    assert clock.now(T0 + 2 * MINUTE) == T0 + 2 * MINUTE
    assert not clock.holding


def test_clock_one_year_for_twelve_hours_then_corrected() -> None:
    """+365 days for 12 hours, then corrected: trusted time never outruns real time."""
    clock = _running()
    year = timedelta(days=365)
    readings: list[tuple[datetime, datetime]] = []
    for minutes in range(5, 24 * 60, 5):
        real = T0 + timedelta(minutes=minutes)
        wrong = HOUR <= real - T0 < 13 * HOUR
        readings.append((real, clock.now(real + year if wrong else real)))
        if wrong:
            assert clock.holding
    previous = T0
    for real, trusted in readings:
        assert trusted - T0 <= real - T0
        assert trusted >= previous
        previous = trusted
    assert not clock.holding
    assert readings[-1][1] == readings[-1][0]
    assert clock.high_water == readings[-1][0]
    stored = clock.as_storage()["high_water"]
    assert datetime.fromisoformat(stored) <= readings[-1][0]


def test_clock_as_storage_keeps_the_hour() -> None:
    """Only the hour of the newest trusted time is stored."""
    assert TrustedClock().as_storage() == {"high_water": None, "held_since": None}
    clock = _running(datetime(2026, 5, 4, 10, 59, 59, 999, tzinfo=UTC))
    assert clock.as_storage() == {
        "high_water": "2026-05-04T10:00:00+00:00",
        "held_since": None,
    }
    restored = TrustedClock.from_storage(clock.as_storage())
    assert restored.high_water == datetime(2026, 5, 4, 10, tzinfo=UTC)
    assert TrustedClock.from_storage({"high_water": None}).high_water is None
    assert TrustedClock.from_storage({}).high_water is None


def test_clock_from_storage_converts_to_utc() -> None:
    """A stored time with another offset is read as UTC."""
    clock = TrustedClock.from_storage({"high_water": "2026-05-04T12:00:00+02:00"})
    assert clock.high_water == datetime(2026, 5, 4, 10, tzinfo=UTC)
    assert clock.high_water is not None
    assert clock.high_water.tzinfo is UTC


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "2026-05-04T10:00:00+00:00",
        {"high_water": 1_700_000_000},
        {"high_water": ["2026-05-04T10:00:00+00:00"]},
        {"high_water": "yesterday"},
        {"high_water": "2026-05-04T10:00:00"},
        {"high_water": "2026-05-04"},
        {"high_water": "0001-01-01T00:00:00+01:00"},
        {"high_water": "9999-12-31T23:00:00+00:00"},
        {
            "high_water": "\uff12\uff10\uff12\uff16-05-04T10:00:00+00:00"
        },  # full-width digits
        {"high_water": "2026-05-04T10:00+00:00"},
        {
            "high_water": "2026-05-04T10:00:00+00:00",
            "held_since": "2026-05-05T10:00:00+00:00",
        },
    ],
)
def test_clock_from_storage_rejects_malformed(data: Any) -> None:
    """Every malformed shape raises ValueError."""
    with pytest.raises(ValueError):
        TrustedClock.from_storage(data)


_BURST = st.tuples(
    st.timedeltas(timedelta(0), timedelta(days=3)),
    st.one_of(
        st.timedeltas(timedelta(hours=8), timedelta(days=400)),
        st.timedeltas(-timedelta(days=400), -timedelta(minutes=6)),
    ),
    st.timedeltas(timedelta(minutes=1), timedelta(hours=20)),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_BURST, min_size=1, max_size=4),
    st.timedeltas(timedelta(minutes=1), timedelta(hours=2)),
)
def test_clock_wrong_bursts_never_outrun_real_time(
    bursts: list[tuple[timedelta, timedelta, timedelta]], interval: timedelta
) -> None:
    """Wrong wall clocks corrected within a day, read every <= 2 h: trusted time stays behind real time."""
    clock = _running()
    real, previous = T0, T0

    def read(error: timedelta) -> datetime:
        nonlocal previous
        trusted = clock.now(real + error)
        assert trusted <= real
        assert trusted >= previous - TOLERANCE
        assert clock.high_water is not None
        assert clock.high_water <= real
        previous = trusted
        return trusted

    for gap, error, duration in bursts:
        end = real + gap
        while real + interval <= end:
            real += interval
            assert read(timedelta(0)) == real
        real += interval
        start = real
        while real - start <= duration:
            read(error)
            real += interval
        # The first correct reading ends the hold.
        assert read(timedelta(0)) == real
        assert not clock.holding


# --- a clock that counts suspended time (CLOCK_BOOTTIME) ------------------------


def _booted(start: datetime = T0) -> tuple[TrustedClock, float]:
    """A running clock that has seen one reading at `start`, boot clock at 1000 s."""
    clock = TrustedClock()
    assert clock.now(start, 1000.0) == start
    return clock, 1000.0


@pytest.mark.parametrize("asleep", [timedelta(hours=16), timedelta(days=3)])
def test_clock_suspend_is_believed_at_once(asleep: timedelta) -> None:
    """Wall and boot clock advancing together is real time, however long."""
    clock, boot = _booted()
    wall = T0 + asleep
    assert clock.now(wall, boot + asleep.total_seconds()) == wall
    assert not clock.holding
    assert clock.high_water == wall


@pytest.mark.parametrize(
    "jump", [timedelta(minutes=6), timedelta(hours=3), -timedelta(hours=3)]
)
def test_clock_jump_with_boot_clock_is_held(jump: timedelta) -> None:
    """The wall clock moving alone (more than TOLERANCE) is held; real time goes on."""
    clock, boot = _booted()
    assert clock.now(T0 + jump, boot) == T0
    assert clock.holding
    assert clock.now(T0 + jump + HOUR, boot + 3600) == T0 + HOUR
    # The wall clock comes back: nothing happened.
    assert clock.now(T0 + 2 * HOUR, boot + 7200) == T0 + 2 * HOUR
    assert not clock.holding


def test_clock_jump_during_suspend_counts_only_the_jump() -> None:
    """A 16 h suspend plus a 2 h wall-clock error: 16 h are believed, 2 h held."""
    clock, boot = _booted()
    asleep = 16 * 3600.0
    assert clock.now(T0 + timedelta(hours=18), boot + asleep) == T0 + timedelta(
        hours=16
    )
    assert clock.holding


def test_clock_small_drift_with_boot_clock_is_believed() -> None:
    """NTP's small steps (within TOLERANCE) pass through."""
    clock, boot = _booted()
    wall = T0 + HOUR + timedelta(minutes=4)
    assert clock.now(wall, boot + 3600) == wall
    assert not clock.holding


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.timedeltas(timedelta(minutes=1), timedelta(hours=8)),
            st.timedeltas(timedelta(0), timedelta(days=2)),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_clock_awake_and_asleep_is_always_real_time(
    days: list[tuple[timedelta, timedelta]],
) -> None:
    """Any mix of awake time and suspends: trusted time is exactly real time."""
    clock, boot = _booted()
    real = T0
    for awake, asleep in days:
        real += awake
        boot += awake.total_seconds()
        assert clock.now(real, boot) == real
        real += asleep
        boot += asleep.total_seconds()
        assert clock.now(real, boot) == real
        assert not clock.holding


def test_boot_seconds_reads_clock_boottime(monkeypatch: pytest.MonkeyPatch) -> None:
    """Linux's CLOCK_BOOTTIME when there is one; None without it or when reading fails."""
    first = boot_seconds()
    assert first is not None
    assert first > 0
    assert (second := boot_seconds()) is not None
    assert second >= first

    def refuse(clock_id: int) -> float:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(time, "clock_gettime", refuse)
    assert boot_seconds() is None
    monkeypatch.delattr(time, "CLOCK_BOOTTIME")
    assert boot_seconds() is None
