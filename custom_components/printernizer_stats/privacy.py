"""The privacy filter: the one gate between untrusted event input and storage, kept free of Home Assistant so it can be tested alone."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
import ipaddress
from itertools import islice
import math
import re
from types import MappingProxyType
from typing import Final, NamedTuple, cast

MAX_METADATA_KEYS: Final = 16
MAX_VALUE_LENGTH: Final = 64
MAX_VERSION_LENGTH: Final = 24
MIN_ERROR_TYPE_LENGTH: Final = 3
UNNAMED_KEY: Final = "<unnamed key>"
_MEMO_SIZE: Final = 256

EVENT_TYPES: Final[tuple[str, ...]] = (
    "app_start",
    "app_shutdown",
    "job_created",
    "job_completed",
    "job_failed",
    "file_downloaded",
    "file_uploaded",
    "printer_connected",
    "printer_disconnected",
    "error_occurred",
    "feature_enabled",
    "feature_disabled",
)
PRINTER_TYPES: Final[tuple[str, ...]] = (
    "bambu_lab",
    "prusa_core",
    "octoprint",
    "unknown",
)
COMPONENTS: Final[tuple[str, ...]] = (
    "api",
    "camera",
    "database",
    "file_service",
    "job_service",
    "library",
    "mqtt",
    "notification",
    "printer_service",
    "websocket",
    "other",
)
FEATURES: Final[tuple[str, ...]] = (
    "auto_download",
    "camera",
    "library",
    "notifications",
    "slicing",
    "timelapse",
    "watch_folders",
)
DEPLOYMENT_MODES: Final[tuple[str, ...]] = (
    "homeassistant",
    "docker",
    "standalone",
    "raspberry_pi",
)
DURATION_RANGES: Final[tuple[str, ...]] = (
    "0-15m",
    "15-60m",
    "1-3h",
    "3-8h",
    "8-24h",
    "24h+",
)
SIZE_BUCKETS: Final[tuple[str, ...]] = ("0-1MB", "1-10MB", "10-100MB", "100MB+")
UPTIME_RANGES: Final[tuple[str, ...]] = ("0-1h", "1-24h", "1-7d", "7d+")
BOOLEAN_VALUES: Final[tuple[str, ...]] = ("true", "false")

# Lower bounds (inclusive) of every range after the first, in the input's unit.
_DURATION_BOUNDS: Final = (15, 60, 3 * 60, 8 * 60, 24 * 60)
_SIZE_BOUNDS: Final = (1_000_000, 10_000_000, 100_000_000)
_UPTIME_BOUNDS: Final = (1, 24, 7 * 24)

CAMEL_ERROR_SUFFIXES: Final[tuple[str, ...]] = (
    "Error",
    "Exception",
    "Timeout",
    "Failure",
    "Warning",
    "Interrupt",
    "Refused",
    "Denied",
    "Exceeded",
    "Unavailable",
    "Invalid",
    "Cancelled",
)
SNAKE_ERROR_SUFFIXES: Final[frozenset[str]] = frozenset(
    {
        "error",
        "exception",
        "timeout",
        "failure",
        "failed",
        "refused",
        "denied",
        "exceeded",
        "unavailable",
        "invalid",
        "cancelled",
        "lost",
    }
)

_VERSION_RE: Final = re.compile(
    r"[0-9]{1,3}\.[0-9]{1,3}(?:\.[0-9]{1,4})?(?:[.-]?(?:a|b|rc|dev|alpha|beta)[0-9]{0,3})?"
)
_CAMEL_RE: Final = re.compile(r"[A-Z][A-Za-z0-9]{2,63}")
# CamelCase words start upper-case, so a digit followed by a lower-case letter
# ("A1b2c3Error") is a token, not a class name.
_DIGIT_THEN_LOWER_RE: Final = re.compile(r"[0-9][a-z]")
_SNAKE_RE: Final = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+){0,7}")
_KEY_LABEL_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")

_EMAIL_RE: Final = re.compile(r"[\w.%+-]@[\w-]")
_URL_RE: Final = re.compile(r"://|\bwww\.", re.IGNORECASE)
_MAC_RE: Final = re.compile(
    r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"
)
# A whole run of hex digits, colons and dots; ipaddress decides if it is IPv6.
_IPV6_CANDIDATE_RE: Final = re.compile(
    r"(?<![0-9A-Za-z.:])[0-9A-Fa-f.:]{2,}+(?![0-9A-Za-z])"
)
_OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])"
_IPV4_RE: Final = re.compile(rf"(?<![0-9]){_OCTET}(?:\.{_OCTET}){{3}}(?![0-9])")
_PATH_RE: Final = re.compile(r"\\|/[^\s/]|[\w.~-]/")
_HOSTNAME_RE: Final = re.compile(r"[A-Za-z0-9-]\.[A-Za-z]{2,24}(?![A-Za-z0-9-])")
_SECRET_PREFIX_RE: Final = re.compile(
    r"\beyJ[A-Za-z0-9_-]{4,}|\bsk-[A-Za-z0-9]|\bgh[pousr]_[A-Za-z0-9]|\bxox[a-z]-"
    r"|\b(?i:bearer)\s|\bAKIA[0-9A-Z]{12,}"
)
_TOKEN_RUN_RE: Final = re.compile(r"[A-Za-z0-9_+/=-]{20,}")
_ALNUM_RUN_RE: Final = re.compile(r"[A-Za-z0-9]{8,}")
_HEX_RUN_RE: Final = re.compile(r"[0-9A-Fa-f]{12,}")


class RejectReason(StrEnum):
    """Why input was dropped; only the reason is counted, never the input itself."""

    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    INVALID_METADATA = "invalid_metadata"
    TOO_MANY_KEYS = "too_many_keys"
    UNKNOWN_KEY = "unknown_key"
    INVALID_VALUE = "invalid_value"
    SENSITIVE_VALUE = "sensitive_value"


@dataclass(frozen=True, slots=True)
class Rejection:
    """One dropped piece of input, named safely enough to count and show."""

    reason: RejectReason
    key: str | None


class CleanEvent(NamedTuple):
    """An event reduced to what may be stored: our own constants and coarse values.

    A NamedTuple rather than a frozen dataclass: one is built per event on the
    bus path, and this is several times cheaper to create.
    """

    event_type: str
    metadata: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class MetadataField:
    """One allowed metadata key: what it means (for docs) and how its value is checked/coarsened."""

    description: str
    kind: str
    values: tuple[str, ...]
    clean: Callable[[object], str | RejectReason]


def _as_str(value: object) -> str | None:
    """Plain str copy of str input (StrEnum included) so no subclass code runs later."""
    value_type = type(value)
    if value_type is str:
        return cast("str", value)
    # type() and issubclass() never run the object's own code; isinstance() may.
    if issubclass(value_type, str):
        return str.__str__(cast("str", value))
    return None


def _vocabulary(words: tuple[str, ...]) -> Callable[[object], str | RejectReason]:
    """Map input onto our own constant so nothing the caller made is ever stored."""
    table = {word: word for word in words}

    def clean(value: object) -> str | RejectReason:
        """Accept a vocabulary word, tolerating case and surrounding blanks."""
        if type(value) is str and (exact := table.get(value)) is not None:
            return exact  # the common case, one lookup
        text = _as_str(value)
        if text is None or len(text) > MAX_VALUE_LENGTH:
            return RejectReason.INVALID_VALUE
        word = table.get(text)
        if word is None:
            word = table.get(text.strip().lower())
        return RejectReason.INVALID_VALUE if word is None else word

    return clean


def _ranges(
    bounds: tuple[int, ...], labels: tuple[str, ...]
) -> Callable[[object], str | RejectReason]:
    """Coarsen a number into a range label so precise values never leave the machine."""

    def clean(value: object) -> str | RejectReason:
        """Accept a non-negative finite int or float (bool is not a number)."""
        if type(value) is int:
            if value < 0:
                return RejectReason.INVALID_VALUE
        elif type(value) is float:
            if not 0.0 <= value < math.inf:
                return RejectReason.INVALID_VALUE
        else:
            return RejectReason.INVALID_VALUE
        return labels[bisect_right(bounds, value)]

    return clean


def _clean_boolean(value: object) -> str | RejectReason:
    """Only a real bool, so truthy strings or numbers cannot smuggle anything."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return RejectReason.INVALID_VALUE


def _scrubbed(text: str) -> str | RejectReason:
    """Last line of defence for strings that passed a pattern check."""
    return text if sensitive_category(text) is None else RejectReason.SENSITIVE_VALUE


def _clean_app_version(value: object) -> str | RejectReason:
    """A release number is all we need to know about the installation."""
    text = _as_str(value)
    if (
        text is None
        or len(text) > MAX_VERSION_LENGTH
        or _VERSION_RE.fullmatch(text) is None
    ):
        return RejectReason.INVALID_VALUE
    return _scrubbed(text)


def _clean_error_type(value: object) -> str | RejectReason:
    """An error's kind (class name or code), never its message, which may hold personal data."""
    text = _as_str(value)
    if text is None or not MIN_ERROR_TYPE_LENGTH <= len(text) <= MAX_VALUE_LENGTH:
        return RejectReason.INVALID_VALUE
    if _CAMEL_RE.fullmatch(text) is not None:
        if not text.endswith(CAMEL_ERROR_SUFFIXES) or _DIGIT_THEN_LOWER_RE.search(text):
            return RejectReason.INVALID_VALUE
    elif (
        _SNAKE_RE.fullmatch(text) is None
        or text.rpartition("_")[2] not in SNAKE_ERROR_SUFFIXES
    ):
        return RejectReason.INVALID_VALUE
    return _scrubbed(text)


def _memoized(
    clean: Callable[[object], str | RejectReason],
) -> Callable[[object], str | RejectReason]:
    """Remember accepted plain strings: the same few versions and error types repeat.

    Only accepted values are kept (never refused input), at most
    _MEMO_SIZE of them, so the bus path stays cheap without holding on to
    anything the filter refused.
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


def _ipv6_in(value: str) -> bool:
    """Confirm IPv6 candidates with ipaddress, so times and MAC-like runs are not mistaken."""
    for match in _IPV6_CANDIDATE_RE.finditer(value):
        candidate = match.group().strip(".")
        if candidate.count(":") < 2 or not candidate.strip(":"):
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        return True
    return False


def _hostname_in(value: str) -> bool:
    """A dotted name ending in an alphabetic label; a release like 1.2.beta is not one."""
    return (
        _HOSTNAME_RE.search(value) is not None and _VERSION_RE.fullmatch(value) is None
    )


def _secret_in(value: str) -> bool:
    """Known token prefixes, or a long run that mixes letters and digits like a key."""
    if _SECRET_PREFIX_RE.search(value):
        return True
    for match in _TOKEN_RUN_RE.finditer(value):
        run = match.group()
        if any(char.isdigit() for char in run) and any(char.isalpha() for char in run):
            return True
    return False


def _serial_in(value: str) -> bool:
    """Device serials mix at least four digits into a letter run, or are long hex."""
    for match in _ALNUM_RUN_RE.finditer(value):
        run = match.group()
        digits = sum(char.isdigit() for char in run)
        if 4 <= digits < len(run):
            return True
    return _HEX_RUN_RE.search(value) is not None


_SCRUBBERS: Final[tuple[tuple[str, Callable[[str], bool]], ...]] = (
    ("email", lambda value: _EMAIL_RE.search(value) is not None),
    ("url", lambda value: _URL_RE.search(value) is not None),
    ("mac", lambda value: _MAC_RE.search(value) is not None),
    ("ipv6", _ipv6_in),
    ("ipv4", lambda value: _IPV4_RE.search(value) is not None),
    ("path", lambda value: _PATH_RE.search(value) is not None),
    ("secret", _secret_in),
    ("hostname", _hostname_in),
    ("serial", _serial_in),
)


def sensitive_category(value: str) -> str | None:
    """The scrubber: the category name ("email", "ipv4", "ipv6", "mac", "url", "path", "hostname", "serial", "secret") if value looks sensitive, else None."""
    for category, looks_sensitive in _SCRUBBERS:
        if looks_sensitive(value):
            return category
    return None


def safe_key_label(key: object) -> str:
    """A label for a metadata key that is safe to show in an error message: the key itself if it is a str matching ^[a-z][a-z0-9_]{0,31}$ and sensitive_category(key) is None, otherwise "<unnamed key>"."""
    text = _as_str(key)
    if (
        text is None
        or len(text) > 32
        or _KEY_LABEL_RE.fullmatch(text) is None
        or sensitive_category(text) is not None
    ):
        return UNNAMED_KEY
    return text


_PRINTER_TYPE = MetadataField(
    "the printer family, never its name, address or serial number",
    "vocabulary",
    PRINTER_TYPES,
    _vocabulary(PRINTER_TYPES),
)
_DURATION = MetadataField(
    "how long the job ran, as a range",
    "range",
    DURATION_RANGES,
    _ranges(_DURATION_BOUNDS, DURATION_RANGES),
)
_SIZE = MetadataField(
    "the file's size, as a bucket, never its name",
    "range",
    SIZE_BUCKETS,
    _ranges(_SIZE_BOUNDS, SIZE_BUCKETS),
)


def _switch(what: str) -> MetadataField:
    """A feature flag reported as on or off."""
    return MetadataField(
        f"whether {what} is switched on", "boolean", BOOLEAN_VALUES, _clean_boolean
    )


ALLOWLIST: Final[Mapping[str, Mapping[str, MetadataField]]] = MappingProxyType(
    {
        event_type: MappingProxyType(fields)
        for event_type, fields in {
            "app_start": {
                "app_version": MetadataField(
                    "Printernizer's release number, such as `2.7.0` or `2.8.0rc1`",
                    "pattern",
                    (),
                    _memoized(_clean_app_version),
                ),
                "deployment_mode": MetadataField(
                    "how Printernizer is installed",
                    "vocabulary",
                    DEPLOYMENT_MODES,
                    _vocabulary(DEPLOYMENT_MODES),
                ),
                "library_enabled": _switch("the file library"),
                "timelapse_enabled": _switch("timelapse recording"),
                "auto_download_enabled": _switch("automatic download"),
            },
            "app_shutdown": {
                "uptime_hours": MetadataField(
                    "how long Printernizer had been running, as a range",
                    "range",
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
                    "the kind of error: an exception class name such as `TimeoutError`"
                    " or a code such as `connection_timeout`, never its message",
                    "pattern",
                    (),
                    _memoized(_clean_error_type),
                ),
                "component": MetadataField(
                    "the part of Printernizer where it happened",
                    "vocabulary",
                    COMPONENTS,
                    _vocabulary(COMPONENTS),
                ),
            },
            "feature_enabled": {
                "feature": MetadataField(
                    "the feature that was switched on",
                    "vocabulary",
                    FEATURES,
                    _vocabulary(FEATURES),
                ),
            },
            "feature_disabled": {
                "feature": MetadataField(
                    "the feature that was switched off",
                    "vocabulary",
                    FEATURES,
                    _vocabulary(FEATURES),
                ),
            },
        }.items()
    }
)

# Lookup by input text, yielding our own key objects so nothing the caller made is kept.
_EVENTS: Final[
    dict[str, tuple[str, dict[str, tuple[str, Callable[[object], str | RejectReason]]]]]
] = {
    event_type: (event_type, {key: (key, field.clean) for key, field in fields.items()})
    for event_type, fields in ALLOWLIST.items()
}
_UNKNOWN_EVENT: Final = (Rejection(RejectReason.UNKNOWN_EVENT_TYPE, None),)


def _metadata_items(metadata: object) -> Iterable[tuple[object, object]] | RejectReason:
    """The metadata's pairs, read with bounded work and without trusting the object."""
    metadata_type = type(metadata)
    if metadata_type is dict or issubclass(metadata_type, dict):
        # dict's own methods, so a subclass cannot override what we read; the
        # copy is taken without running Python code, so no thread can mutate it.
        mapping: dict[object, object] = metadata  # type: ignore[assignment]
        if dict.__len__(mapping) > MAX_METADATA_KEYS:
            return RejectReason.TOO_MANY_KEYS
        return tuple(dict.items(mapping))
    try:
        if not issubclass(metadata_type, Mapping):
            return RejectReason.INVALID_METADATA
        items = cast("Mapping[object, object]", metadata).items()
        pairs = list(islice(iter(items), MAX_METADATA_KEYS + 1))
    except Exception:  # noqa: BLE001 - any Mapping code may raise; clean_event must not
        return RejectReason.INVALID_METADATA
    if len(pairs) > MAX_METADATA_KEYS:
        return RejectReason.TOO_MANY_KEYS
    return pairs


def clean_event(
    event_type: object, metadata: object
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
            return CleanEvent(event_name, {}), (
                Rejection(RejectReason.TOO_MANY_KEYS, None),
            )
        pairs: Iterable[tuple[object, object]] = metadata.items()
    else:
        found = _metadata_items(metadata)
        if isinstance(found, RejectReason):
            return CleanEvent(event_name, {}), (Rejection(found, None),)
        pairs = found
    cleaned: dict[str, str] = {}
    rejections: list[Rejection] | None = None
    for raw_key, value in pairs:
        key = raw_key if type(raw_key) is str else _as_str(raw_key)
        slot = fields.get(key) if key is not None else None
        if slot is None:
            rejection = Rejection(RejectReason.UNKNOWN_KEY, safe_key_label(key))
        else:
            key_name, clean = slot
            result = clean(value)
            if type(result) is not RejectReason:
                cleaned[key_name] = result
                continue
            rejection = Rejection(result, key_name)
        if rejections is None:
            rejections = []
        rejections.append(rejection)
    return CleanEvent(event_name, cleaned), () if rejections is None else tuple(
        rejections
    )


def clean_app_version(value: object) -> str | None:
    """Printernizer's version as the allowlist accepts it, or None (polling, stored facts)."""
    result = ALLOWLIST["app_start"]["app_version"].clean(value)
    return None if isinstance(result, RejectReason) else result


def describe_allowlist() -> list[str]:
    """Markdown bullet lines, one per event type, listing its keys and their allowed values; the README's 'What we collect' is generated from/tested against this."""
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
