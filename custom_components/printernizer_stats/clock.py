"""Wall-clock time, with jumps held back until they prove to be real.

A Raspberry Pi without a real-time clock boots with a wrong date, and a bad
time server can move the clock by a year and back. Days counted, retention
and report periods all follow the clock, so an unnoticed jump would delete
days not yet reported, send reports for days that have not happened, or
stop sending until the wrong date comes round again.

A suspended machine is different: a Home Assistant virtual machine on a
laptop sleeps for hours, and on resume the wall clock has moved on with real
time. Linux's CLOCK_BOOTTIME counts suspended time too, so a suspend is the
wall clock and the boot clock advancing together (believed at once), while a
jump is the wall clock moving alone (held). Where no such clock exists,
any step of more than `max_step` between two looks, or any step backwards,
counts as a jump; the integration looks at least every few hours while
running, so only a suspend longer than `max_step` is then mistaken for one.

A held jump is not believed: the trusted time carries on from before it with
real time's progress. If the wall clock comes back, nothing happened; if it
stays where it jumped for `confirm_after`, the new time is accepted and a
high-water mark left in a future the clock gave up is forgotten.

Across a restart a forward gap is downtime. A wall clock behind the stored
high-water mark (a Pi booting with an old date, or a file that lies) is held
the other way round: the stored mark is not believed, counting follows the
wall clock, and the mark only bounds what the file may hold (`ceiling`)
until the wall clock reaches it or `confirm_after` has passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
import time
from typing import Any, Final

from . import stored

MAX_STEP: Final = timedelta(hours=7)
CONFIRM_AFTER: Final = timedelta(hours=24)
TOLERANCE: Final = timedelta(minutes=5)


def boot_seconds() -> float | None:
    """Seconds on a clock that also counts suspended time (CLOCK_BOOTTIME), if there is one."""
    clock_id = getattr(time, "CLOCK_BOOTTIME", None)
    if clock_id is None:
        return None
    try:
        return time.clock_gettime(clock_id)
    except OSError:
        return None


class TrustedClock:
    """Turns wall-clock (and boot-clock) readings into trusted UTC time."""

    def __init__(
        self,
        high_water: datetime | None = None,
        *,
        held_since: datetime | None = None,
        max_step: timedelta = MAX_STEP,
        confirm_after: timedelta = CONFIRM_AFTER,
    ) -> None:
        """Start from the newest time seen before a restart (hour precision), if any."""
        self._max_step = max_step
        self._confirm_after = confirm_after
        self._last_wall: datetime | None = None
        self._last_boot: float | None = None
        self._last_trusted: datetime | None = None
        self._restored = high_water
        self._restored_held_since = held_since
        self.high_water = high_water
        # Trusted time is wall time minus this while a jump is held back.
        self.offset = timedelta(0)
        # Trusted time when the hold began.
        self._held_since: datetime | None = None
        # A stored mark ahead of the wall clock: held, not believed.
        self._behind: datetime | None = None

    @property
    def holding(self) -> bool:
        """A jump was seen and is not yet believed (or the clock is behind its stored mark)."""
        return self._held_since is not None

    @property
    def ceiling(self) -> datetime | None:
        """A stored mark ahead of the wall clock, held but not believed; else None."""
        return self._behind

    def now(self, wall: datetime, boot: float | None = None) -> datetime:
        """The trusted time for a wall-clock reading (aware UTC).

        `boot` is a reading of a clock that counts suspended time (seconds),
        or None where there is none.
        """
        last_wall, last_boot, previous = (
            self._last_wall,
            self._last_boot,
            self._last_trusted,
        )
        self._last_wall, self._last_boot = wall, boot
        if last_wall is None or previous is None:
            self._first_reading(wall)
        elif jump := self._jump_size(wall - last_wall, last_boot, boot):
            if self._behind is not None and wall >= self._behind - TOLERANCE:
                # The clock caught up with a time seen before the restart.
                self._release()
            else:
                # Every jump restarts the wait: the new time must hold for a while.
                self.offset += jump
                self._held_since = previous
        accepted = False
        trusted = wall - self.offset
        if self._held_since is not None:
            came_back = (
                abs(self.offset) <= TOLERANCE
                if self._behind is None
                else wall >= self._behind - TOLERANCE
            ) or (
                boot is None
                and self._behind is None
                and previous is not None
                and timedelta(0) <= wall - previous <= self._max_step
            )
            accepted = trusted - self._held_since >= self._confirm_after
            if came_back or accepted:
                self._release()
                trusted = wall
        if self.high_water is None or trusted > self.high_water or accepted:
            # An accepted step back disowns the future the clock had left.
            self.high_water = trusted
        self._last_trusted = trusted
        return trusted

    def _first_reading(self, wall: datetime) -> None:
        """First reading of this run: a gap forward is downtime; behind the mark is held."""
        restored = self._restored
        if restored is not None and wall < restored - TOLERANCE:
            self._behind = restored
            since = self._restored_held_since
            self._held_since = wall if since is None or since > wall else since

    def _jump_size(
        self, step: timedelta, last_boot: float | None, boot: float | None
    ) -> timedelta:
        """How far the wall clock moved beyond real time since the last look (0: no jump)."""
        if boot is not None and last_boot is not None:
            jump = step - timedelta(seconds=max(boot - last_boot, 0.0))
            return jump if abs(jump) > TOLERANCE else timedelta(0)
        if step < -TOLERANCE or step > self._max_step:
            return step
        return timedelta(0)

    def _release(self) -> None:
        """Believe the wall clock again."""
        self.offset = timedelta(0)
        self._held_since = None
        self._behind = None

    def as_storage(self) -> dict[str, Any]:
        """The newest trusted time to the hour, and since when a stored mark is held."""
        high_water = self.high_water
        return {
            "high_water": None
            if high_water is None
            else high_water.replace(minute=0, second=0, microsecond=0).isoformat(),
            "held_since": stored.iso(self._held_since)
            if self._behind is not None
            else None,
        }

    @classmethod
    def from_storage(cls, data: object) -> TrustedClock:
        """Restore; raise ValueError when malformed."""
        if not isinstance(data, Mapping):
            raise ValueError("clock state is not an object")  # noqa: TRY004
        high_water = stored.moment(data.get("high_water"))
        held_since = stored.moment(data.get("held_since"))
        if high_water is None:
            return cls()
        if held_since is not None and held_since > high_water:
            raise ValueError("a hold cannot begin after the mark it holds")
        return cls(high_water, held_since=held_since)
