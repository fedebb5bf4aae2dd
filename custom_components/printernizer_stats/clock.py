"""Wall-clock time, with jumps held back until they prove to be real.

A Raspberry Pi without a real-time clock boots with a wrong date, and a bad
time server can move the clock by a year and back. Days counted, retention
and report periods all follow the clock, so an unnoticed jump would delete
days not yet reported, send reports for days that have not happened, or
stop sending until the wrong date comes round again.

Within a run the integration looks at the clock at least every few hours
(every poll, every check), so a step larger than `max_step` between two
looks, or any step backwards, is a jump. A jump is not believed at once:
the trusted time carries on from before the jump, advancing with the wall
clock's own progress. If the clock comes back (a reading that is an
ordinary step on from the last trusted time: real time that passed while a
jump was seen is caught up), nothing happened. If it stays where it jumped
for `confirm_after`, the new time is accepted, and a high-water mark left in
a future the clock gave up is forgotten. Across a restart a forward gap is
normal (Home Assistant was off); a step backwards below the last time seen
is held the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from . import stored

MAX_STEP: Final = timedelta(hours=7)
CONFIRM_AFTER: Final = timedelta(hours=24)
TOLERANCE: Final = timedelta(minutes=5)


class TrustedClock:
    """Turns wall-clock readings into trusted UTC time."""

    def __init__(
        self,
        high_water: datetime | None = None,
        *,
        max_step: timedelta = MAX_STEP,
        confirm_after: timedelta = CONFIRM_AFTER,
    ) -> None:
        """Start from the newest time seen before a restart (hour precision), if any."""
        self._max_step = max_step
        self._confirm_after = confirm_after
        self._last_wall: datetime | None = None
        self._last_trusted: datetime | None = None
        self._restored = high_water
        self.high_water = high_water
        # Trusted time is wall time minus this while a jump is held back.
        self.offset = timedelta(0)
        self._held_since: datetime | None = None

    @property
    def holding(self) -> bool:
        """A jump was seen and is not yet believed."""
        return self._held_since is not None

    def now(self, wall: datetime) -> datetime:
        """The trusted time for a wall-clock reading (aware UTC)."""
        last, previous = self._last_wall, self._last_trusted
        self._last_wall = wall
        if last is None:
            # First reading of this run: a gap forward is downtime; a step
            # behind the last time seen before the restart is a jump.
            if self._restored is not None and wall < self._restored - TOLERANCE:
                self._jump(wall, wall - self._restored)
        else:
            step = wall - last
            if step < -TOLERANCE or step > self._max_step:
                self._jump(wall, step)
        accepted = False
        if self._held_since is not None:
            # The clock came back (an ordinary step on from the trusted time),
            # or stayed where it jumped long enough.
            came_back = abs(self.offset) <= TOLERANCE or (
                previous is not None
                and timedelta(0) <= wall - previous <= self._max_step
            )
            accepted = wall - self._held_since >= self._confirm_after
            if came_back or accepted:
                self.offset = timedelta(0)
                self._held_since = None
        trusted = wall - self.offset
        if self.high_water is None or trusted > self.high_water or accepted:
            # An accepted step back disowns the future the clock had left.
            self.high_water = trusted
        self._last_trusted = trusted
        return trusted

    def _jump(self, wall: datetime, step: timedelta) -> None:
        """Hold a jump back: trusted time stays where it was and goes on from there.

        Every jump restarts the wait: the new time must hold for a while.
        """
        self.offset += step
        self._held_since = wall

    def as_storage(self) -> dict[str, Any]:
        """The newest trusted time, to the hour."""
        if self.high_water is None:
            return {"high_water": None}
        return {
            "high_water": self.high_water.replace(
                minute=0, second=0, microsecond=0
            ).isoformat()
        }

    @classmethod
    def from_storage(cls, data: object) -> TrustedClock:
        """Restore; raise ValueError when malformed."""
        if not isinstance(data, dict):
            raise ValueError("clock state is not an object")  # noqa: TRY004
        high_water = stored.moment(data.get("high_water"))
        return cls() if high_water is None else cls(high_water)
