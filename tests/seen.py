"""What a user or a log may see of the integration: our words, and no canary.

Shared by the property tests that damage input (the storage file, Printernizer's
answers) and then read every output: anything not built from these words or a
strict shape is a leak.
"""

from __future__ import annotations

import re
from typing import Final

from homeassistant.const import STATE_UNAVAILABLE

from custom_components.printernizer_stats import vocabulary
from custom_components.printernizer_stats.counters import REJECT_REASONS
from custom_components.printernizer_stats.delivery import Halt, SharingStatus
from custom_components.printernizer_stats.privacy import ALLOWLIST
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
