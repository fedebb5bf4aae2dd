"""What a user or a log may see of the integration: our words, and no canary.

Shared by the property tests that damage input (the storage file, Printernizer's
answers) and then read every output: anything not built from these words or a
strict shape is a leak.
"""

from __future__ import annotations

from datetime import datetime
import re
from typing import Final

from homeassistant.const import STATE_UNAVAILABLE

from custom_components.printernizer_stats import vocabulary
from custom_components.printernizer_stats.counters import REJECT_REASONS
from custom_components.printernizer_stats.delivery import Halt, SharingStatus
from custom_components.printernizer_stats.privacy import ALLOWLIST, release
from custom_components.printernizer_stats.submission import SubmitReason

# Planted by the damage; must never come out anywhere.
CANARY: Final = "CANARY-Jane-Doe"
# Any canary: the damage's, and every CANARY-... value of the recordings.
CANARY_RE: Final = re.compile(r"canary|jane.?doe", re.IGNORECASE)


def _words() -> frozenset[str]:
    """Every word of our vocabularies, reason codes, states and stop reasons."""
    words: set[str] = set()
    for name in vocabulary.__all__:
        value = getattr(vocabulary, name)
        if isinstance(value, str):
            words.add(value)
        elif isinstance(value, tuple | frozenset):
            words.update(value)
        else:
            words.update(value)
            words.update(value.values())
    for event_type, fields in ALLOWLIST.items():
        words.add(event_type)
        for key, field in fields.items():
            words.add(key)
            words.update(field.values)
    words.update(REJECT_REASONS)
    words.update(map(str, SharingStatus))
    words.update(map(str, Halt))
    words.update(map(str, SubmitReason))
    words.update({"**REDACTED**", "1.0", "http", "https", STATE_UNAVAILABLE})
    return frozenset(words)


WORDS: Final = _words()

# The shapes a value may have besides our words, written here on their own
# (not taken from the code under test), so a wrong pattern there is caught.
_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
_WEEK_RE = re.compile(r"[0-9]{4}-W[0-9]{2}")
_UUID4_RE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
_NUMBER_RE = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?")


def shaped(text: str) -> bool:
    """A real ASCII day, time or week, an id, a number or a release."""
    if _DAY_RE.fullmatch(text) or _TIME_RE.fullmatch(text):
        try:
            datetime.fromisoformat(text)
        except ValueError:
            return False
        return True
    return (
        bool(_WEEK_RE.fullmatch(text))
        or bool(_UUID4_RE.fullmatch(text))
        or bool(_NUMBER_RE.fullmatch(text))
        or release(text) == text
    )
