"""The privacy filter: the one gate between untrusted event input and the counters.

Kept free of Home Assistant so it can be tested alone. Every metadata value
is mapped onto one of our own words (vocabulary.py), a coarse range, or a
strictly checked release number; nothing the caller wrote is ever kept
as-is. Two modes share one allowlist:

* lenient (bus events, polling): an unknown event type drops the event, an
  unknown key or a refused value drops that key only, and an error kind that
  is not in the list is counted as `other`;
* strict (the record_event action): any of these refuses the whole call, so
  Home Assistant never records refused input (see services.py).

A refusal names an allowlisted key or a position ("metadata key 3 of 5"),
never the caller's own text.

About 530 lines, most of them the allowlist table and the readers that
never let a caller's object run code; splitting them would separate each
rule from the check that enforces it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice
import math
import re
from types import MappingProxyType
from typing import Final, NamedTuple, cast

from .scrubber import sensitive_category
from .vocabulary import (
    BOOLEAN_VALUES,
    COMPONENTS,
    DEPLOYMENT_MODE_ALIASES,
    DEPLOYMENT_MODES,
    DURATION_RANGES,
    ERROR_TYPES,
    EVENT_TYPES,
    FEATURES,
    OTHER,
    PRINTER_TYPES,
    SIZE_BUCKETS,
    UNKNOWN,
    UPTIME_RANGES,
)

MAX_METADATA_KEYS: Final = 16
MAX_VALUE_LENGTH: Final = 64
_MEMO_SIZE: Final = 256

# Lower bounds (inclusive) of every range after the first, in the input's unit.
_DURATION_BOUNDS: Final = (15, 60, 3 * 60, 8 * 60, 24 * 60)
_SIZE_BOUNDS: Final = (1_000_000, 10_000_000, 100_000_000)
_UPTIME_BOUNDS: Final = (1, 24, 7 * 24)

# Inclusive upper bounds of a release number's parts. A version string is an
# open field that Printernizer (or anyone on the bus) fills in, so its shape
# alone must not be able to carry a birth date, a phone number or a network:
# * major 0-9: no IPv4 prefix of a private (10/8, 172.16/12, 192.168/16),
#   CGNAT (100.64/10), loopback (127/8) or link-local (169.254/16) network, no
#   year-first date with a two-digit year and no phone group of two or three
#   digits fits;
# * patch 0-9: no day-month-year or month-day-year date with a two-digit year
#   fits (10-99 are too big, 00-09 have a leading zero), nor a four-digit year;
# * minor 0-999: Printernizer raises it quickly (2.6 in November 2025, 2.42 in
#   2026), and alone it carries no date, number or address;
# * pre-release number 0-99 (rc1, b12, .dev3).
# No part may have a leading zero ("030", "07"), and all three parts are
# needed: a bare "7.3" could be a birthday. The application releases of
# Printernizer seen so far (1.0.0 to 2.42.0) all fit, none with a patch above
# 9; a 10.0.0 or an x.y.10 would count as `unknown` until the bounds are raised.
RELEASE_MAJOR_MAX: Final = 9
RELEASE_MINOR_MAX: Final = 999
RELEASE_PATCH_MAX: Final = 9
RELEASE_PRE_MAX: Final = 99
# Digits without a leading zero; the length limit keeps int() cheap, the
# bounds above decide.
_PART: Final = r"(?:0|[1-9][0-9]{0,3})"
# A release ("2.42.0", "2.8.0rc1"), optionally as `git describe` prints it
# for a source install ("2.42.0-3-g1a2b3c4", "2.42.0-dirty"): the release is kept.
_RELEASE: Final = (
    rf"(?P<major>{_PART})\.(?P<minor>{_PART})\.(?P<patch>{_PART})"
    rf"(?:(?:a|b|rc|\.dev)(?P<pre>{_PART}))?"
)
_DESCRIBE_RE: Final = re.compile(
    rf"v?(?P<release>{_RELEASE})(?:-[0-9]{{1,5}}-g[0-9a-f]{{4,40}})?(?:-dirty)?"
)
_RELEASE_BOUNDS: Final = (
    ("major", RELEASE_MAJOR_MAX),
    ("minor", RELEASE_MINOR_MAX),
    ("patch", RELEASE_PATCH_MAX),
    ("pre", RELEASE_PRE_MAX),
)


class RejectReason(StrEnum):
    """Why input was dropped; only the reason is counted, never the input itself."""

    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    INVALID_METADATA = "invalid_metadata"
    TOO_MANY_KEYS = "too_many_keys"
    UNKNOWN_KEY = "unknown_key"
    INVALID_VALUE = "invalid_value"


@dataclass(frozen=True, slots=True)
class Rejection:
    """One dropped piece of input, named without repeating it.

    `key` is set only for an allowlisted key (our own constant); an unknown
    key is named by its 1-based `position` among `total` metadata keys.
    """

    reason: RejectReason
    key: str | None = None
    position: int | None = None
    total: int | None = None


class CleanEvent(NamedTuple):
    """An event reduced to what may be stored: our own words and coarse values.

    A NamedTuple rather than a frozen dataclass: one is built per event on the
    bus path, and this is several times cheaper to create.
    """

    event_type: str
    metadata: Mapping[str, str]


type Cleaner = Callable[[object], str | RejectReason]


@dataclass(frozen=True, slots=True)
class MetadataField:
    """One allowed metadata key: what it means (for the docs) and how its value is cleaned.

    `fallback` is what lenient mode keeps for a refused value (the key is
    dropped when there is none); `capped` keys have an open set of values
    (release numbers) whose number the counters bound.
    """

    description: str
    values: tuple[str, ...]
    clean: Cleaner
    fallback: str | None = None
    capped: bool = False

    @property
    def exact(self) -> dict[str, str]:
        """Input that is already one of our words (the bus path looks it up inline)."""
        return {word: word for word in self.values if word not in BOOLEAN_VALUES}


def _as_str(value: object) -> str | None:
    """Plain str copy of str input (StrEnum included) so no subclass code runs later."""
    value_type = type(value)
    if value_type is str:
        return cast("str", value)
    # type() and issubclass() never run the object's own code; isinstance() may.
    if issubclass(value_type, str):
        return str.__str__(cast("str", value))
    return None


def _vocabulary(
    words: Iterable[str], aliases: Mapping[str, str] | None = None
) -> Cleaner:
    """Map input onto our own constant so nothing the caller made is ever stored."""
    table = {word: word for word in words}
    table |= dict(aliases or {})
    folded = {key.lower(): word for key, word in table.items()}

    def clean(value: object) -> str | RejectReason:
        """Accept a list word, tolerating case and surrounding blanks."""
        if type(value) is str and (exact := table.get(value)) is not None:
            return exact  # the common case, one lookup
        text = _as_str(value)
        if text is None or len(text) > MAX_VALUE_LENGTH:
            return RejectReason.INVALID_VALUE
        word = table.get(text) or folded.get(text.strip().lower())
        return RejectReason.INVALID_VALUE if word is None else word

    return clean


def _ranges(bounds: tuple[int, ...], labels: tuple[str, ...]) -> Cleaner:
    """Coarsen a number into a range label so precise values never leave the machine.

    The label itself is accepted too, so callers can send coarse values only.
    """
    as_label = _vocabulary(labels)

    def clean(value: object) -> str | RejectReason:
        """Accept a non-negative finite int or float (bool is not a number), or a label."""
        if type(value) is int:
            if value < 0:
                return RejectReason.INVALID_VALUE
        elif type(value) is float:
            if not 0.0 <= value < math.inf:
                return RejectReason.INVALID_VALUE
        else:
            return as_label(value)
        return labels[bisect_right(bounds, value)]

    return clean


def _clean_boolean(value: object) -> str | RejectReason:
    """Only a real bool, so truthy strings or numbers cannot smuggle anything."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return RejectReason.INVALID_VALUE


def release(value: object) -> str | None:
    """The release number in a version string, or None when there is none.

    `2.42.0`, `v2.42.0`, `2.42.0-3-g1a2b3c4` and `2.42.0-dirty` give `2.42.0`;
    a bare commit hash, a part with a leading zero or beyond its bound
    (RELEASE_*_MAX), or anything else gives None. So `19.07.1985`,
    `555.123.4567`, `192.168.178` and `030.123.4567` are never kept.

    What still passes is anything that is itself a plausible release: a date
    whose year is written with one digit (`7.3.5`), or the IPv4 prefix of a
    public network such as `8.8.8`, cannot be told from release 7.3.5 or
    8.8.8, just as `2.42.0` is itself the prefix of 2.42.0.0/24.
    """
    text = _as_str(value)
    if text is None or len(text) > MAX_VALUE_LENGTH:
        return None
    match = _DESCRIBE_RE.fullmatch(text.strip())
    if match is None:
        return None
    for part, maximum in _RELEASE_BOUNDS:
        number = match.group(part)
        if number is not None and int(number) > maximum:
            return None
    found = match.group("release")
    # Belt and braces: a release number can never look personal.
    return found if sensitive_category(found) is None else None


def _clean_app_version(value: object) -> str | RejectReason:
    """A release number is all we need to know about the installation."""
    if _as_str(value) == UNKNOWN:
        return UNKNOWN
    found = release(value)
    return RejectReason.INVALID_VALUE if found is None else found


def _memoized(clean: Cleaner) -> Cleaner:
    """Remember accepted plain strings: the same few versions repeat.

    Only accepted values are kept (never refused input), at most
    _MEMO_SIZE of them.
    """
    memo: dict[object, str] = {}

    def cached(value: object) -> str | RejectReason:
        """Look up first, then clean and remember."""
        if type(value) is str:
            hit = memo.get(value)
            if hit is not None:
                return hit
        result = clean(value)
        if type(value) is str and type(result) is str:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[value] = result
        return result

    return cached


_PRINTER_TYPE = MetadataField(
    "the printer family, never its name, address or serial number",
    PRINTER_TYPES,
    _vocabulary(PRINTER_TYPES),
)
_DURATION = MetadataField(
    "how long the job ran, as a range",
    DURATION_RANGES,
    _ranges(_DURATION_BOUNDS, DURATION_RANGES),
)
_SIZE = MetadataField(
    "the file's size, as a bucket, never its name",
    SIZE_BUCKETS,
    _ranges(_SIZE_BOUNDS, SIZE_BUCKETS),
)


def _switch(what: str) -> MetadataField:
    """A feature flag reported as on or off."""
    return MetadataField(
        f"whether {what} is switched on", BOOLEAN_VALUES, _clean_boolean
    )


def _feature(what: str) -> MetadataField:
    """The feature named by feature_enabled / feature_disabled."""
    return MetadataField(
        f"the feature that was switched {what}", FEATURES, _vocabulary(FEATURES)
    )


ALLOWLIST: Final[Mapping[str, Mapping[str, MetadataField]]] = MappingProxyType(
    {
        event_type: MappingProxyType(fields)
        for event_type, fields in {
            "app_start": {
                "app_version": MetadataField(
                    "Printernizer's release number, such as `2.42.0` (a source"
                    " install's `2.42.0-3-g1a2b3c4` counts as `2.42.0`), else `unknown`",
                    (),
                    _memoized(_clean_app_version),
                    fallback=UNKNOWN,
                    capped=True,
                ),
                "deployment_mode": MetadataField(
                    "how Printernizer is installed",
                    DEPLOYMENT_MODES,
                    _vocabulary(DEPLOYMENT_MODES, DEPLOYMENT_MODE_ALIASES),
                ),
                "library_enabled": _switch("the file library"),
                "timelapse_enabled": _switch("timelapse recording"),
                "auto_download_enabled": _switch("automatic download"),
            },
            "app_shutdown": {
                "uptime_hours": MetadataField(
                    "how long Printernizer had been running, as a range",
                    UPTIME_RANGES,
                    _ranges(_UPTIME_BOUNDS, UPTIME_RANGES),
                ),
            },
            "job_created": {"printer_type": _PRINTER_TYPE},
            "job_completed": {
                "printer_type": _PRINTER_TYPE,
                "duration_minutes": _DURATION,
            },
            "job_failed": {
                "printer_type": _PRINTER_TYPE,
                "duration_minutes": _DURATION,
            },
            "file_downloaded": {"printer_type": _PRINTER_TYPE, "size_bytes": _SIZE},
            "file_uploaded": {"printer_type": _PRINTER_TYPE, "size_bytes": _SIZE},
            "printer_connected": {"printer_type": _PRINTER_TYPE},
            "printer_disconnected": {"printer_type": _PRINTER_TYPE},
            "error_occurred": {
                "error_type": MetadataField(
                    "the kind of error: one of a fixed list of Python and Printernizer"
                    " exception classes and error codes (such as `TimeoutError` or"
                    " `PRINTER_NOT_FOUND`), anything else counts as `other`; never a message",
                    (),
                    _vocabulary(ERROR_TYPES),
                    fallback=OTHER,
                ),
                "component": MetadataField(
                    "the part of Printernizer where it happened",
                    COMPONENTS,
                    _vocabulary(COMPONENTS),
                ),
            },
            "feature_enabled": {"feature": _feature("on")},
            "feature_disabled": {"feature": _feature("off")},
        }.items()
    }
)
assert tuple(ALLOWLIST) == EVENT_TYPES

# Keys whose values are not a fixed list: the counters bound how many they keep.
CAPPED_KEYS: Final = frozenset(
    key
    for fields in ALLOWLIST.values()
    for key, field in fields.items()
    if field.capped
)

type _Slot = tuple[str, Cleaner, str | None, dict[str, str]]
# Lookup by input text, yielding our own key objects so nothing the caller made is kept.
_EVENTS: Final[dict[str, tuple[str, dict[str, _Slot]]]] = {
    event_type: (
        event_type,
        {
            key: (key, field.clean, field.fallback, field.exact)
            for key, field in fields.items()
        },
    )
    for event_type, fields in ALLOWLIST.items()
}
_UNKNOWN_EVENT: Final = (Rejection(RejectReason.UNKNOWN_EVENT_TYPE),)


def _metadata_items(
    metadata: object,
) -> tuple[tuple[object, object], ...] | RejectReason:
    """The metadata's pairs, read with bounded work and without trusting the object."""
    metadata_type = type(metadata)
    if issubclass(metadata_type, dict):
        # dict's own methods, so a subclass cannot override what we read; the
        # copy is taken without running Python code, so no thread can mutate it.
        mapping = cast("dict[object, object]", metadata)
        if dict.__len__(mapping) > MAX_METADATA_KEYS:
            return RejectReason.TOO_MANY_KEYS
        return tuple(dict.items(mapping))
    try:
        if not issubclass(metadata_type, Mapping):
            return RejectReason.INVALID_METADATA
        items = cast("Mapping[object, object]", metadata).items()
        pairs = tuple(islice(iter(items), MAX_METADATA_KEYS + 1))
    except Exception:  # noqa: BLE001 - any Mapping code may raise; clean_event must not
        return RejectReason.INVALID_METADATA
    if len(pairs) > MAX_METADATA_KEYS:
        return RejectReason.TOO_MANY_KEYS
    return pairs


def clean_event(
    event_type: object, metadata: object, *, strict: bool = False
) -> tuple[CleanEvent | None, tuple[Rejection, ...]]:
    """Never raises, whatever the input (any Python object).

    Runs for every bus event, so the common case (a plain dict of plain
    strings and numbers) takes the shortest path.
    """
    name = event_type if type(event_type) is str else _as_str(event_type)
    entry = _EVENTS.get(name) if name is not None else None
    if entry is None:
        return None, _UNKNOWN_EVENT
    event_name, fields = entry
    if metadata is None:
        return CleanEvent(event_name, {}), ()
    if type(metadata) is dict:
        # An exact dict: len() and items() cannot run the caller's code, and
        # nothing below runs any, so the view is read without a copy.
        if len(metadata) > MAX_METADATA_KEYS:
            return CleanEvent(event_name, {}), (Rejection(RejectReason.TOO_MANY_KEYS),)
        pairs: Iterable[tuple[object, object]] = metadata.items()
        total = len(metadata)
    else:
        found = _metadata_items(metadata)
        if isinstance(found, RejectReason):
            return CleanEvent(event_name, {}), (Rejection(found),)
        pairs = found
        total = len(found)
    cleaned: dict[str, str] = {}
    rejections: list[Rejection] | None = None
    position = 0
    for raw_key, value in pairs:
        position += 1
        slot = (
            fields.get(raw_key)
            if type(raw_key) is str
            else fields.get(key)
            if (key := _as_str(raw_key)) is not None
            else None
        )
        if slot is None:
            rejection = Rejection(RejectReason.UNKNOWN_KEY, None, position, total)
        else:
            if type(value) is str:
                word = slot[3].get(value)
                if word is not None:
                    cleaned[slot[0]] = word  # the common case: already our word
                    continue
            key_name, clean, fallback, _ = slot
            result = clean(value)
            if type(result) is not RejectReason:
                cleaned[key_name] = result
                continue
            if fallback is not None and not strict:
                cleaned[key_name] = fallback
                continue
            rejection = Rejection(result, key_name)
        if rejections is None:
            rejections = []
        rejections.append(rejection)
    return CleanEvent(event_name, cleaned), () if rejections is None else tuple(
        rejections
    )


def clean_value(event_type: str, key: str, value: object) -> str | None:
    """One stored or polled value re-cleaned leniently; None when it is not allowed.

    Storage runs every stored counter name through this on load, so a file
    changed by hand, or written under older rules, cannot inject a value.
    """
    slot = _EVENTS.get(event_type, ("", {}))[1].get(key)
    if slot is None:
        return None
    _, clean, fallback, _ = slot
    result = clean(value)
    if isinstance(result, RejectReason):
        # A stored name holds our own output word, which the input cleaner may
        # refuse: a switch takes real bools only, but is stored as "true".
        outputs = ALLOWLIST[event_type][key].values
        text = _as_str(value)
        if text in outputs:
            return outputs[outputs.index(text)]
        return fallback
    return result


def clean_app_version(value: object) -> str:
    """Printernizer's version as the allowlist keeps it: a release, else `unknown`."""
    return release(value) or UNKNOWN


def describe_allowlist() -> list[str]:
    """Markdown bullet lines, one per event type, listing its keys and allowed values.

    The README's "What we collect" is tested against this.
    """
    lines = []
    for event_type, fields in ALLOWLIST.items():
        parts = []
        for key, field in fields.items():
            text = f"`{key}`: {field.description}"
            if field.values:
                text += " (" + ", ".join(f"`{value}`" for value in field.values) + ")"
            parts.append(text)
        lines.append(f"- `{event_type}`: " + "; ".join(parts))
    return lines
