"""Tests for the privacy filter: closed vocabularies, ranges, releases, the scrubber and hostile input."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from decimal import Decimal
from enum import IntEnum, StrEnum
from fractions import Fraction
import ipaddress
import re
import time
from types import MappingProxyType
from typing import NamedTuple, cast

from hypothesis import example, given, settings, strategies as st
import pytest

from custom_components.printernizer_stats import error_types, privacy, vocabulary
from custom_components.printernizer_stats.error_types import ERROR_TYPES
from custom_components.printernizer_stats.privacy import (
    ALLOWLIST,
    CAPPED_KEYS,
    MAX_METADATA_KEYS,
    MAX_VALUE_LENGTH,
    CleanEvent,
    Rejection,
    RejectReason,
    clean_app_version,
    clean_event,
    clean_value,
    describe_allowlist,
    release,
)
from custom_components.printernizer_stats.scrubber import sensitive_category
from custom_components.printernizer_stats.vocabulary import (
    BOOLEAN_VALUES,
    COMPONENTS,
    DEPLOYMENT_MODE_ALIASES,
    DEPLOYMENT_MODES,
    DURATION_RANGES,
    EVENT_TYPES,
    FEATURES,
    OTHER,
    PRINTER_TYPES,
    SIZE_BUCKETS,
    UNKNOWN,
    UPTIME_RANGES,
)

from .hostile_corpus import (
    CANARY,
    ERROR_SHAPED,
    HOSTILE_KEYS,
    HOSTILE_VALUES,
    SCRUBBABLE,
    WORD_CANARY,
    CanaryInt,
    DuckNumber,
    Exploding,
    ExplodingClass,
    HostileStr,
    Leaky,
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Pure unit tests: no Home Assistant instance needed."""


EXPECTED_KEYS: dict[str, tuple[str, ...]] = {
    "app_start": (
        "app_version",
        "deployment_mode",
        "library_enabled",
        "timelapse_enabled",
        "auto_download_enabled",
    ),
    "app_shutdown": ("uptime_hours",),
    "job_created": ("printer_type",),
    "job_completed": ("printer_type", "duration_minutes"),
    "job_failed": ("printer_type", "duration_minutes"),
    "file_downloaded": ("printer_type", "size_bytes"),
    "file_uploaded": ("printer_type", "size_bytes"),
    "printer_connected": ("printer_type",),
    "printer_disconnected": ("printer_type",),
    "error_occurred": ("error_type", "component"),
    "feature_enabled": ("feature",),
    "feature_disabled": ("feature",),
}
ALL_PAIRS = [
    (event_type, key) for event_type, fields in ALLOWLIST.items() for key in fields
]
ALL_KEYS = sorted({key for _, key in ALL_PAIRS})
# Which event carries each key first, to test a key without repeating the table.
EVENT_FOR_KEY = {key: event_type for event_type, key in reversed(ALL_PAIRS)}
FALLBACKS = {"app_version": UNKNOWN, "error_type": OTHER}
ERROR_WORDS = frozenset(ERROR_TYPES)
FOLDED_ERROR_WORDS = frozenset(word.lower() for word in ERROR_TYPES)
# Independent oracle for a release number, written from the specification:
# major 0-9, minor 0-999, patch 0-9, pre-release number 0-99, no leading zeros.
RELEASE_ORACLE = re.compile(
    r"[0-9]\.(0|[1-9][0-9]{0,2})\.[0-9]((a|b|rc|\.dev)(0|[1-9][0-9]?))?"
)
# Personal data shaped like a release (issue 15): each passed the old pattern.
RELEASE_SHAPED = ["19.07.1985", "555.123.4567", "192.168.178", "030.123.4567"]
# Person-shaped words an error kind once could be (each passed the old pattern).
PERSON_SHAPED = [
    "JohnSmithError",
    "max_mustermann_failed",
    "alice_at_example_com_error",
    "DrAnnaSchmidtHamburgRefused",
    ("KlausDieter" + "MeierAusDemSchwarzwald" * 3)[:59] + "Error",
    "JaneDoeError",
]
RANGE_KEYS = ("duration_minutes", "size_bytes", "uptime_hours")


def _clean_one(
    key: str, value: object, *, strict: bool = False
) -> tuple[str | None, tuple[Rejection, ...]]:
    """Clean one key/value on the first event type that allows the key."""
    event, rejections = clean_event(EVENT_FOR_KEY[key], {key: value}, strict=strict)
    assert event is not None
    return event.metadata.get(key), rejections


def _refused(key: str) -> tuple[None, tuple[Rejection, ...]]:
    """What cleaning answers for a refused value of a key without a fallback."""
    return None, (Rejection(RejectReason.INVALID_VALUE, key),)


def _assert_no_canary(result: object) -> None:
    """Neither canary may survive in any form, in any letter case."""
    text = repr(result).lower()
    assert CANARY.lower() not in text
    assert WORD_CANARY.lower() not in text


def _builtin_exception_names() -> set[str]:
    """Python's built-in exception classes, read from the running interpreter."""
    return {
        name
        for name, obj in vars(builtins).items()
        if isinstance(obj, type)
        and issubclass(obj, BaseException)
        and not issubclass(obj, Warning)
        and not name.startswith("_")
    }


# --- the allowlist -----------------------------------------------------------------


def test_allowlist_event_types_order() -> None:
    """The twelve event types, in the documented order, are the allowlist's keys."""
    assert tuple(EXPECTED_KEYS) == EVENT_TYPES
    assert tuple(ALLOWLIST) == EVENT_TYPES


@pytest.mark.parametrize(("event_type", "keys"), list(EXPECTED_KEYS.items()))
def test_allowlist_keys(event_type: str, keys: tuple[str, ...]) -> None:
    """Each event type allows exactly the keys of the product table."""
    assert tuple(ALLOWLIST[event_type]) == keys


@pytest.mark.parametrize(
    ("key", "values", "fallback", "capped"),
    [
        ("printer_type", PRINTER_TYPES, None, False),
        ("component", COMPONENTS, None, False),
        ("feature", FEATURES, None, False),
        ("deployment_mode", DEPLOYMENT_MODES, None, False),
        ("duration_minutes", DURATION_RANGES, None, False),
        ("size_bytes", SIZE_BUCKETS, None, False),
        ("uptime_hours", UPTIME_RANGES, None, False),
        ("library_enabled", BOOLEAN_VALUES, None, False),
        ("timelapse_enabled", BOOLEAN_VALUES, None, False),
        ("auto_download_enabled", BOOLEAN_VALUES, None, False),
        ("app_version", (), UNKNOWN, True),
        ("error_type", (), OTHER, False),
    ],
)
def test_allowlist_fields(
    key: str, values: tuple[str, ...], fallback: str | None, capped: bool
) -> None:
    """Every field lists its outputs, its lenient fallback and whether the counters cap it."""
    fields = [fields[key] for fields in ALLOWLIST.values() if key in fields]
    assert fields
    for field in fields:
        assert field.values == values
        assert field.fallback == fallback
        assert field.capped is capped
        assert field.description
    assert (key in CAPPED_KEYS) is capped


def test_allowlist_constants_values() -> None:
    """The vocabularies use Printernizer's words and the product's range labels."""
    assert PRINTER_TYPES == ("bambu_lab", "prusa_core", "octoprint", "unknown")
    assert DEPLOYMENT_MODES == (
        "homeassistant",
        "docker",
        "standalone",
        "pi",
        "unknown",
    )
    assert "raspberry_pi" not in DEPLOYMENT_MODES
    assert DEPLOYMENT_MODE_ALIASES == {
        "raspberry_pi": "pi",
        "home_assistant": "homeassistant",
    }
    assert DURATION_RANGES == ("0-15m", "15-60m", "1-3h", "3-8h", "8-24h", "24h+")
    assert SIZE_BUCKETS == ("0-1MB", "1-10MB", "10-100MB", "100MB+")
    assert UPTIME_RANGES == ("0-1h", "1-24h", "1-7d", "7d+")
    assert MAX_METADATA_KEYS == 16
    assert MAX_VALUE_LENGTH == 64
    assert set(CAPPED_KEYS) == {"app_version"}


@pytest.mark.parametrize(
    ("event_type", "metadata", "expected"),
    [
        (
            "app_start",
            {
                "app_version": "2.42.0",
                "deployment_mode": "homeassistant",
                "library_enabled": True,
                "timelapse_enabled": False,
                "auto_download_enabled": True,
            },
            {
                "app_version": "2.42.0",
                "deployment_mode": "homeassistant",
                "library_enabled": "true",
                "timelapse_enabled": "false",
                "auto_download_enabled": "true",
            },
        ),
        ("app_shutdown", {"uptime_hours": 30}, {"uptime_hours": "1-7d"}),
        ("job_created", {"printer_type": "bambu_lab"}, {"printer_type": "bambu_lab"}),
        (
            "job_completed",
            {"printer_type": "prusa_core", "duration_minutes": 60},
            {"printer_type": "prusa_core", "duration_minutes": "1-3h"},
        ),
        (
            "job_failed",
            {"printer_type": "octoprint", "duration_minutes": 5.5},
            {"printer_type": "octoprint", "duration_minutes": "0-15m"},
        ),
        (
            "file_downloaded",
            {"printer_type": "unknown", "size_bytes": 2_500_000},
            {"printer_type": "unknown", "size_bytes": "1-10MB"},
        ),
        (
            "file_uploaded",
            {"printer_type": "bambu_lab", "size_bytes": 250_000_000},
            {"printer_type": "bambu_lab", "size_bytes": "100MB+"},
        ),
        (
            "printer_connected",
            {"printer_type": "octoprint"},
            {"printer_type": "octoprint"},
        ),
        (
            "printer_disconnected",
            {"printer_type": "unknown"},
            {"printer_type": "unknown"},
        ),
        (
            "error_occurred",
            {"error_type": "PrinterConnectionError", "component": "printer_service"},
            {"error_type": "PrinterConnectionError", "component": "printer_service"},
        ),
        ("feature_enabled", {"feature": "timelapse"}, {"feature": "timelapse"}),
        (
            "feature_disabled",
            {"feature": "watch_folders"},
            {"feature": "watch_folders"},
        ),
    ],
)
def test_clean_event_every_key(
    event_type: str, metadata: dict[str, object], expected: dict[str, str]
) -> None:
    """Every event type keeps every allowed key, mapped onto our own words, in both modes."""
    for strict in (False, True):
        event, rejections = clean_event(event_type, metadata, strict=strict)
        assert rejections == ()
        assert event == CleanEvent(event_type, expected)
        assert any(event.event_type is name for name in EVENT_TYPES)
        for key, value in event.metadata.items():
            assert type(key) is str
            assert type(value) is str


# --- ranges ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "label"),
    [
        ("duration_minutes", 0, "0-15m"),
        ("duration_minutes", -0.0, "0-15m"),
        ("duration_minutes", 14.999, "0-15m"),
        ("duration_minutes", 15, "15-60m"),
        ("duration_minutes", 59.9, "15-60m"),
        ("duration_minutes", 60, "1-3h"),
        ("duration_minutes", 179, "1-3h"),
        ("duration_minutes", 180, "3-8h"),
        ("duration_minutes", 479.99, "3-8h"),
        ("duration_minutes", 480, "8-24h"),
        ("duration_minutes", 1439, "8-24h"),
        ("duration_minutes", 1440, "24h+"),
        ("duration_minutes", 10**100, "24h+"),
        ("duration_minutes", 1e308, "24h+"),
        ("size_bytes", 0, "0-1MB"),
        ("size_bytes", 999_999, "0-1MB"),
        ("size_bytes", 1_000_000, "1-10MB"),
        ("size_bytes", 9_999_999.5, "1-10MB"),
        ("size_bytes", 10_000_000, "10-100MB"),
        ("size_bytes", 99_999_999, "10-100MB"),
        ("size_bytes", 100_000_000, "100MB+"),
        ("size_bytes", 10**15, "100MB+"),
        ("uptime_hours", 0, "0-1h"),
        ("uptime_hours", 0.99, "0-1h"),
        ("uptime_hours", 1, "1-24h"),
        ("uptime_hours", 23.9, "1-24h"),
        ("uptime_hours", 24, "1-7d"),
        ("uptime_hours", 167.9, "1-7d"),
        ("uptime_hours", 168, "7d+"),
        ("uptime_hours", 10**9, "7d+"),
    ],
)
def test_range_boundaries(key: str, value: float, label: str) -> None:
    """Lower bounds are inclusive and every number lands in exactly one range."""
    assert _clean_one(key, value) == (label, ())


@pytest.mark.parametrize(
    ("key", "labels"),
    [
        ("duration_minutes", DURATION_RANGES),
        ("size_bytes", SIZE_BUCKETS),
        ("uptime_hours", UPTIME_RANGES),
    ],
)
def test_range_accepts_own_labels(key: str, labels: tuple[str, ...]) -> None:
    """A range's own labels are accepted (tolerating case and blanks) as our constant."""
    for label in labels:
        for text in ("".join(label), f" {label.upper()}\t"):
            value, rejections = _clean_one(key, text, strict=True)
            assert rejections == ()
            assert value is label
    other_labels = {*DURATION_RANGES, *SIZE_BUCKETS, *UPTIME_RANGES} - set(labels)
    for label in other_labels:
        assert _clean_one(key, label) == _refused(key)


class _Minutes(IntEnum):
    """An int subclass: numbers must be plain int or float."""

    HOUR = 60


@pytest.mark.parametrize("key", RANGE_KEYS)
@pytest.mark.parametrize(
    "value",
    [
        -1,
        -0.001,
        -(10**100),
        float("nan"),
        float("inf"),
        float("-inf"),
        True,
        False,
        "60",
        "",
        None,
        [60],
        {"value": 60},
        b"60",
        Decimal(60),
        Fraction(1, 2),
        complex(1, 0),
        _Minutes.HOUR,
        CanaryInt(60),
        DuckNumber(),
    ],
)
def test_range_invalid(key: str, value: object) -> None:
    """Negative, non-finite, boolean and non-number input is refused; ranges have no fallback."""
    assert _clean_one(key, value) == _refused(key)
    assert _clean_one(key, value, strict=True) == _refused(key)


@settings(max_examples=100, deadline=None)
@given(
    key=st.sampled_from(RANGE_KEYS),
    values=st.lists(
        st.integers(min_value=0) | st.floats(min_value=0, allow_infinity=False),
        min_size=2,
        max_size=2,
    ),
)
def test_range_property_monotonic(key: str, values: list[float]) -> None:
    """A larger number never falls into an earlier range."""
    low, high = sorted(values)
    labels = ALLOWLIST[EVENT_FOR_KEY[key]][key].values
    low_label, _ = _clean_one(key, low)
    high_label, _ = _clean_one(key, high)
    assert low_label is not None
    assert high_label is not None
    assert labels.index(low_label) <= labels.index(high_label)


# --- vocabularies ------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["printer_type", "component", "feature", "deployment_mode"]
)
def test_vocabulary_every_word(key: str) -> None:
    """Every vocabulary word is accepted and stored as our own constant."""
    field = ALLOWLIST[EVENT_FOR_KEY[key]][key]
    for word in field.values:
        value, rejections = _clean_one(key, "".join(word), strict=True)
        assert rejections == ()
        assert value is word


class _Printer(StrEnum):
    """A caller's own enum of printer types."""

    BAMBU = "bambu_lab"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("printer_type", " Bambu_Lab ", "bambu_lab"),
        ("printer_type", "OCTOPRINT", "octoprint"),
        ("printer_type", _Printer.BAMBU, "bambu_lab"),
        ("printer_type", HostileStr("prusa_core"), "prusa_core"),
        ("printer_type", "bambu_lab".ljust(MAX_VALUE_LENGTH), "bambu_lab"),
        ("deployment_mode", "\tDocker\n", "docker"),
        ("deployment_mode", "pi", "pi"),
        ("deployment_mode", "raspberry_pi", "pi"),
        ("deployment_mode", " Raspberry_Pi ", "pi"),
        ("deployment_mode", "home_assistant", "homeassistant"),
        ("component", "MQTT", "mqtt"),
        ("feature", "Watch_Folders", "watch_folders"),
    ],
)
def test_vocabulary_normalizes(key: str, value: str, expected: str) -> None:
    """Case, surrounding blanks and earlier spellings are forgiven; the output is a plain constant."""
    cleaned, rejections = _clean_one(key, value, strict=True)
    assert rejections == ()
    assert cleaned == expected
    assert type(cleaned) is str


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("printer_type", ""),
        ("printer_type", "bambu"),
        ("printer_type", "bambu lab"),
        ("printer_type", "bambu-lab"),
        ("printer_type", "bambu_lab".ljust(MAX_VALUE_LENGTH + 1)),
        ("printer_type", "bambu_lab\x00"),
        ("printer_type", "camera"),
        ("component", "printer"),
        ("component", "auto_download"),
        ("feature", "mqtt"),
        ("deployment_mode", "kubernetes"),
        ("deployment_mode", "raspberry"),
        ("printer_type", 1),
        ("printer_type", None),
        ("printer_type", True),
        ("printer_type", b"bambu_lab"),
        ("printer_type", ["bambu_lab"]),
        ("printer_type", ("bambu_lab",)),
        ("printer_type", {"bambu_lab"}),
        ("printer_type", {"printer_type": "bambu_lab"}),
    ],
)
def test_vocabulary_rejects(key: str, value: object) -> None:
    """Anything that is not a vocabulary word, or not a string, is refused in both modes."""
    assert _clean_one(key, value) == _refused(key)
    assert _clean_one(key, value, strict=True) == _refused(key)


@pytest.mark.parametrize(("value", "expected"), [(True, "true"), (False, "false")])
def test_boolean_accepts(value: bool, expected: str) -> None:
    """Real booleans become "true"/"false"."""
    for key in ("library_enabled", "timelapse_enabled", "auto_download_enabled"):
        assert _clean_one(key, value) == (expected, ())


@pytest.mark.parametrize(
    "value", ["true", "false", "True", 1, 0, 1.0, None, [True], b"true"]
)
def test_boolean_rejects(value: object) -> None:
    """Truthy or falsy stand-ins are not booleans."""
    assert _clean_one("library_enabled", value) == _refused("library_enabled")


# --- app versions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.42.0", "2.42.0"),
        ("v2.42.0", "2.42.0"),
        ("2.42.0-3-g1a2b3c4", "2.42.0"),
        ("2.42.0-dirty", "2.42.0"),
        ("2.42.0-3-g1a2b3c4-dirty", "2.42.0"),
        (" 2.42.0\n", "2.42.0"),
        ("2.41.7", "2.41.7"),
        ("2.4.0", "2.4.0"),
        ("1.1.0", "1.1.0"),
        ("0.0.0", "0.0.0"),
        ("2.8.0rc1", "2.8.0rc1"),
        ("2.8.0a3", "2.8.0a3"),
        ("2.8.0b12", "2.8.0b12"),
        ("2.8.0.dev1", "2.8.0.dev1"),
        ("2.8.0rc0", "2.8.0rc0"),
        ("9.999.9rc99", "9.999.9rc99"),
        ("v9.999.9.dev99-12345-g1a2b3c4-dirty", "9.999.9.dev99"),
        (HostileStr("2.42.0"), "2.42.0"),
        (UNKNOWN, UNKNOWN),
    ],
)
def test_app_version_accepts(value: str, expected: str) -> None:
    """Releases (also as `git describe` prints them) are kept as the release alone."""
    assert _clean_one("app_version", value, strict=True) == (expected, ())
    assert _clean_one("app_version", value) == (expected, ())
    assert clean_app_version(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "1a2b3c4",
        "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
        "g1a2b3c4",
        "",
        "2",
        "V2.42.0",
        "2.42.0.1",
        "2.42.0+local",
        "2.42.0-gamma",
        "2.42.0-3-gXYZ",
        "2.42.0-dirty-3-g1a2b3c4",
        "1234.1.1",
        "2.42",
        "0.0",
        "999.999.9999",
        "10.0.0",
        "2.1000.0",
        "2.42.10",
        "2.8.0rc100",
        "2.8.0rc01",
        "02.42.0",
        "2.042.0",
        "2.42.00",
        "1.1.1985",
        "12.31.99",
        "7.3.85",
        "3.7.15",
        "15.3.7",
        "10.0.0-3-g1a2b3c4",
        "v192.168.178-dirty",
        *RELEASE_SHAPED,
        "2.7.0rc1234",
        "2.7.0" + "0" * 20,
        "\u0662.\u0667.\u0660",
        "999.999.9999rc999",
        " unknown",
        "Unknown",
        2.42,
        None,
        ("2", "42"),
    ],
)
def test_app_version_refuses(value: object) -> None:
    """A bare hash or anything else is `unknown` in lenient mode and refused in strict mode."""
    assert _clean_one("app_version", value) == (UNKNOWN, ())
    assert _clean_one("app_version", value, strict=True) == _refused("app_version")


@pytest.mark.parametrize("value", RELEASE_SHAPED)
def test_app_version_never_keeps_personal_shapes(value: str) -> None:
    """A birth date, phone numbers and a subnet shaped like releases are never kept (issue 15).

    On every path: the release itself, a bus event (today's fallback
    `unknown`), the record_event action (refused), a stored counter name and
    the version read from Printernizer's /health.
    """
    assert release(value) is None
    assert clean_event("app_start", {"app_version": value}) == (
        CleanEvent("app_start", {"app_version": UNKNOWN}),
        (),
    )
    assert _clean_one("app_version", value, strict=True) == _refused("app_version")
    assert clean_value("app_start", "app_version", value) == UNKNOWN
    assert clean_app_version(value) == UNKNOWN


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2.42.0", "2.42.0"), ("2.41.7", "2.41.7"), ("2.42.0-3-g1a2b3c4", "2.42.0")],
)
def test_app_version_keeps_real_releases(value: str, expected: str) -> None:
    """Printernizer's real releases are still kept, on every path."""
    assert release(value) == expected
    assert clean_event("app_start", {"app_version": value}) == (
        CleanEvent("app_start", {"app_version": expected}),
        (),
    )
    assert _clean_one("app_version", value, strict=True) == (expected, ())
    assert clean_value("app_start", "app_version", value) == expected
    assert clean_app_version(value) == expected


def test_app_version_scrubbed_release(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bounds refuse what the scrubber used to catch; the scrubber still has the last word."""
    assert sensitive_category("999.999.9999rc999") == "serial"
    assert release("999.999.9999rc999") is None
    assert clean_app_version("999.999.9999rc999") == UNKNOWN
    # No release within the bounds looks sensitive (see the test below and
    # the property tests), so a scrubber that objects is simulated.
    monkeypatch.setattr(privacy, "sensitive_category", lambda value: "serial")
    assert release("2.42.0") is None


def test_app_version_bounded_releases_all_kept() -> None:
    """Every minor with the longest other parts, and every major and patch, is kept as is.

    So the scrubber never objects to a release within the bounds.
    """
    releases = [
        f"9.{minor}.9{pre}"
        for minor in range(1000)
        for pre in ("", "a99", "b99", "rc99", ".dev99")
    ]
    releases += [
        f"{major}.999.{patch}rc99" for major in range(10) for patch in range(10)
    ]
    for text in releases:
        assert RELEASE_ORACLE.fullmatch(text)
        assert release(text) == text


@settings(max_examples=100, deadline=None)
@given(
    value=st.text(max_size=40)
    | st.from_regex(
        r"v?[0-9]{1,4}\.[0-9]{1,4}(\.[0-9]{1,5})?((a|b|rc|\.dev)[0-9]{1,4})?"
        r"(-[0-9]{1,6}-g[0-9a-f]{3,41})?(-dirty)?",
        fullmatch=True,
    )
)
@example("2.42.0-3-g1a2b3c4")
@example("0.0")
def test_app_version_property(value: str) -> None:
    """Only a release or `unknown` comes out, and the allowlist accepts exactly those results."""
    found = release(value)
    lenient, _ = _clean_one("app_version", value)
    strict, rejections = _clean_one("app_version", value, strict=True)
    if found is None:
        assert lenient == UNKNOWN
        assert (strict, rejections) == (
            (UNKNOWN, ()) if value == UNKNOWN else _refused("app_version")
        )
    else:
        assert RELEASE_ORACLE.fullmatch(found)
        assert found in value
        assert sensitive_category(found) is None
        assert lenient == strict == found
        assert rejections == ()
    assert lenient is not None
    # Stored results are accepted unchanged on the way back in.
    assert clean_value("app_start", "app_version", lenient) == lenient
    assert _clean_one("app_version", lenient, strict=True) == (lenient, ())


class Shaped(NamedTuple):
    """Personal data written like a release, and whether it may pass as one.

    `passable` comes from how the value was made, not from the bounds: a
    date only with a one-digit year, an IPv4 prefix only of a public network.
    """

    kind: str
    text: str
    passable: bool


def _digits(value: int, padded: bool, width: int = 2) -> str:
    """A number as people write it, with or without leading zeros."""
    return f"{value:0{width}d}" if padded else str(value)


@st.composite
def _dates(draw: st.DrawFn) -> Shaped:
    """Any day of 1900-2100 in d.m.y, m.d.y or y.m.d order, with 4-, 2- or 1-digit years."""
    day = draw(st.dates(date(1900, 1, 1), date(2100, 12, 31)))
    padded = draw(st.booleans())
    year_form = draw(st.sampled_from(["yyyy", "yy", "y"]))
    year = {
        "yyyy": f"{day.year:04d}",
        "yy": f"{day.year % 100:02d}",
        "y": str(day.year % 100),
    }[year_form]
    d, m = _digits(day.day, padded), _digits(day.month, padded)
    order = draw(st.sampled_from([(d, m, year), (m, d, year), (year, m, d)]))
    # "5" for 2005 or "85" for 1985: only a one-digit year reads like a release.
    return Shaped("date", ".".join(order), len(year) == 1)


@st.composite
def _phones(draw: st.DrawFn) -> Shaped:
    """Dotted phone-number groups of 3-3-4, 2-3-4 or 3-4 digits, leading zeros included."""
    lengths = draw(st.sampled_from([(3, 3, 4), (2, 3, 4), (3, 4)]))
    groups = [draw(st.text("0123456789", min_size=n, max_size=n)) for n in lengths]
    return Shaped("phone", ".".join(groups), False)


@st.composite
def _ipv4_prefixes(draw: st.DrawFn) -> Shaped:
    """The first three octets a.b.c of an address, a in 1-255, maybe zero-padded."""
    octets = [draw(st.integers(1, 255)), draw(st.integers(0, 255))]
    octets.append(draw(st.integers(0, 255)))
    padded = draw(st.booleans())
    text = ".".join(_digits(octet, padded, 3) for octet in octets)
    network = ipaddress.ip_network("{}.{}.{}.0/24".format(*octets))
    return Shaped("ipv4", text, network.is_global)


@settings(max_examples=500, deadline=None)
@given(
    shaped=st.one_of(_dates(), _phones(), _ipv4_prefixes()),
    prefix=st.sampled_from(["", "v"]),
    suffix=st.sampled_from(["", "-dirty", "-3-g1a2b3c4"]),
)
@example(Shaped("date", "19.07.1985", False), "", "")
@example(Shaped("date", "19.7.85", False), "", "")
@example(Shaped("date", "12.31.99", False), "", "")
@example(Shaped("date", "1.1.1985", False), "", "")
@example(Shaped("date", "7.3.5", True), "", "")
@example(Shaped("phone", "555.123.4567", False), "", "")
@example(Shaped("phone", "030.123.4567", False), "", "")
@example(Shaped("ipv4", "192.168.178", False), "", "")
@example(Shaped("ipv4", "10.0.0", False), "v", "-dirty")
@example(Shaped("ipv4", "8.8.8", True), "", "")
def test_app_version_property_personal_shapes(
    shaped: Shaped, prefix: str, suffix: str
) -> None:
    """Dates, phone numbers and IPv4 prefixes are refused unless they are a plausible release.

    Whatever release() returns fits the bounds (major 0-9, minor 0-999,
    patch 0-9, no leading zeros). What can still pass, and is fine because it
    cannot be told from a real release:
    * a date whose year is written with one digit (`7.3.5`, 2005-03-07);
    * the prefix of a public network with a first and third octet of 0-9
      (`8.8.8`), as `2.42.0` is itself the prefix of 2.42.0.0/24.
    No date with a two- or four-digit year, no phone number in these shapes
    and no prefix of a private, shared (CGNAT), loopback or link-local
    network passes, in any order, with or without leading zeros.
    """
    found = release(f"{prefix}{shaped.text}{suffix}")
    assert found is None or RELEASE_ORACLE.fullmatch(found)
    assert found is None or shaped.passable
    # The converse: nothing release-shaped within the bounds is refused.
    assert (found is not None) == bool(RELEASE_ORACLE.fullmatch(shaped.text))
    assert clean_app_version(shaped.text) == (found or UNKNOWN)


def test_app_version_memo_stays_correct() -> None:
    """Many distinct versions overflow the memo without changing any answer."""
    versions = [f"{index // 100}.{index % 100}.0" for index in range(600)]
    for _ in range(2):
        for version in versions:
            assert _clean_one("app_version", version) == (version, ())
            assert _clean_one("app_version", f"v{version}-dirty") == (version, ())
    assert _clean_one("app_version", "JohnSmith") == (UNKNOWN, ())


# --- error kinds -------------------------------------------------------------------


def test_error_types_list_shape() -> None:
    """The list is sorted, unique, word-shaped, short and never contains `other`."""
    assert list(ERROR_TYPES) == sorted(set(ERROR_TYPES))
    assert OTHER not in ERROR_TYPES
    assert UNKNOWN not in ERROR_TYPES
    for word in ERROR_TYPES:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", word), word
        assert len(word) <= MAX_VALUE_LENGTH
    for part in (
        error_types.PYTHON_BUILTINS,
        error_types.PRINTERNIZER_CLASSES,
        error_types.PRINTERNIZER_CODES,
        error_types.LIBRARY_CLASSES,
        error_types.PRINTERNIZER_CATEGORIES,
    ):
        assert set(part) <= ERROR_WORDS
        assert list(part) == sorted(part)


def test_error_types_include_python_builtins() -> None:
    """Every built-in exception class of the running Python (warnings excluded) is listed."""
    names = _builtin_exception_names()
    assert {
        "TimeoutError",
        "ValueError",
        "ExceptionGroup",
        "KeyboardInterrupt",
    } <= names
    assert "UserWarning" not in names
    assert names <= ERROR_WORDS, sorted(names - ERROR_WORDS)
    for name in names:
        assert _clean_one("error_type", name, strict=True) == (name, ())


def test_error_type_every_word() -> None:
    """Every listed kind is accepted in strict mode and stored as our own constant."""
    for word in ERROR_TYPES:
        value, rejections = _clean_one("error_type", "".join(word), strict=True)
        assert rejections == ()
        assert value is word


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" TimeoutError ", "TimeoutError"),
        ("timeouterror", "TimeoutError"),
        ("TIMEOUTERROR", "TimeoutError"),
        ("\tValueError\n", "ValueError"),
        ("printer_not_found", "PRINTER_NOT_FOUND"),
        ("Connection_Lost", "connection_lost"),
        ("http_503", "HTTP_503"),
        (HostileStr("KeyError"), "KeyError"),
    ],
)
def test_error_type_tolerates_case_and_blanks(value: str, expected: str) -> None:
    """Case and surrounding blanks are forgiven; the stored word is the list's own."""
    cleaned, rejections = _clean_one("error_type", value, strict=True)
    assert rejections == ()
    assert cleaned == expected
    assert any(cleaned is word for word in ERROR_TYPES)


@pytest.mark.parametrize(
    "value",
    [
        *PERSON_SHAPED,
        *ERROR_SHAPED,
        "ConnectionTimeoutError",
        "Timeout Error",
        "Timeout_Error",
        "TimeoutError: printer 10.0.0.1 did not answer",
        "ValueError(1)",
        "UserWarning",
        "DeprecationWarning",
        "errors",
        OTHER,
        "",
        "TimeoutError".ljust(MAX_VALUE_LENGTH + 1),
        TimeoutError,
        TimeoutError(),
        None,
        42,
        CanaryInt(1),
    ],
)
def test_error_type_outside_list(value: object) -> None:
    """Anything unlisted is `other` in lenient mode and refused in strict mode, never echoed."""
    lenient = _clean_one("error_type", value)
    strict = _clean_one("error_type", value, strict=True)
    assert lenient == (OTHER, ())
    assert strict == _refused("error_type")
    if isinstance(value, str) and value not in ("", OTHER):
        assert value.lower() not in repr((lenient, strict)).lower()


def test_error_type_person_shaped_word_lengths() -> None:
    """The 64-character person-shaped word is exactly at the length limit, not above it."""
    assert len(PERSON_SHAPED[4]) == MAX_VALUE_LENGTH
    assert PERSON_SHAPED[4].startswith("KlausDieter")
    assert PERSON_SHAPED[4].endswith("Error")


@settings(max_examples=100, deadline=None)
@given(
    value=st.text(max_size=70)
    | st.sampled_from(ERROR_TYPES).map(lambda word: f" {word.swapcase()} ")
    | st.from_regex(r"[A-Z][a-z]{2,10}([A-Z][a-z]{2,10}){0,3}(Error|Exception|Failed)")
)
def test_error_type_property(value: str) -> None:
    """Only a listed word or `other` is ever kept, whatever the text."""
    lenient, rejections = _clean_one("error_type", value)
    assert rejections == ()
    assert lenient in ERROR_WORDS or lenient == OTHER
    listed = len(value) <= MAX_VALUE_LENGTH and (
        value in ERROR_WORDS or value.strip().lower() in FOLDED_ERROR_WORDS
    )
    assert (lenient != OTHER) is listed
    strict = _clean_one("error_type", value, strict=True)
    assert strict == ((lenient, ()) if listed else _refused("error_type"))


# --- the scrubber and our own words ---------------------------------------------------


def _vocabulary_words() -> list[str]:
    """Every word of every list in vocabulary.py, the error kinds and the allowlist's keys."""
    words: list[str] = [*ALL_KEYS, *ERROR_TYPES]
    for name in vocabulary.__all__:
        item = getattr(vocabulary, name)
        if isinstance(item, str):
            words.append(item)
        elif isinstance(item, Mapping):
            words.extend([*item, *item.values()])
        else:
            words.extend(cast("Iterable[str]", item))
    return words


def test_vocabulary_words_not_sensitive() -> None:
    """No word we keep or send looks personal or secret to the scrubber."""
    words = _vocabulary_words()
    assert {"pi", "24h+", "100MB+", "7d+", "HTTP_503", "DE"} <= set(words)
    assert len(words) > 500
    for word in words:
        assert type(word) is str
        assert sensitive_category(word) is None, word


@pytest.mark.parametrize(
    ("value", "category"),
    [
        ("john@example.com", "email"),
        ("john.doe+tag@example.co.uk", "email"),
        ("user@localhost", "email"),
        ("192.168.1.5", "ipv4"),
        ("10.0.0.1:8080", "ipv4"),
        ("0.0.0.0", "ipv4"),
        ("192.168.001.001", "ipv4"),
        ("fe80::1", "ipv6"),
        ("::1", "ipv6"),
        ("2001:db8::ff00:42:8329", "ipv6"),
        ("[2001:db8::1]:443", "ipv6"),
        ("fe80::1%eth0", "ipv6"),
        ("::ffff:192.168.1.1", "ipv6"),
        ("addr fd00::1.", "ipv6"),
        ("aa:bb:cc:dd:ee:ff", "mac"),
        ("AA-BB-CC-DD-EE-FF", "mac"),
        ("aabb.ccdd.eeff", "mac"),
        ("http://printer", "url"),
        ("rtsp://192.168.1.9/stream", "url"),
        ("WWW.EXAMPLE.ORG", "url"),
        ("/home/user", "path"),
        ("~/prints", "path"),
        ("C:\\Users\\john", "path"),
        ("prints/benchy", "path"),
        ("wJalrXUtnFEMI/K7MDENG", "path"),
        ("printer.local", "hostname"),
        ("my-host.fritz.box", "hostname"),
        ("example.com.", "hostname"),
        ("secret.gcode", "hostname"),
        ("01P00A123456789", "serial"),
        ("SN12345678", "serial"),
        ("deadbeefcafe", "serial"),
        ("123456789012", "serial"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "secret"),
        ("sk-abc123", "secret"),
        ("ghp_abcdef123", "secret"),
        ("xoxb-123-456", "secret"),
        ("Bearer abc", "secret"),
        ("AKIAIOSFODNN7EXAMPLE", "secret"),
        ("abcdefghij0123456789xyz", "secret"),
        ("key=abc_def-ghi+jkl=mn0=", "secret"),
    ],
)
def test_sensitive_category(value: str, category: str) -> None:
    """Each kind of identifying string is recognised and named."""
    assert sensitive_category(value) == category


@pytest.mark.parametrize(
    "value",
    [
        "2.42.0",
        "1.2.3rc1",
        "1.2.beta",
        "TimeoutError",
        "connection_timeout",
        "12:30",
        "12:30:45",
        "x :: y",
        "Foo::Bar",
        "::",
        "256.1.1.1",
        "benchy.3mf",
        "e.g",
        "12345678901",
        "abcdefghijklmnopqrstuvwxyz",
        "disk-full",
        "",
        CANARY,
    ],
)
def test_sensitive_category_legit(value: str) -> None:
    """Versions, error kinds and harmless text pass the scrubber."""
    assert sensitive_category(value) is None


@pytest.mark.parametrize(("category", "values"), list(SCRUBBABLE.items()))
def test_sensitive_category_hostile(category: str, values: list[str]) -> None:
    """The corpus's identifying strings are each recognised as their category."""
    for value in values:
        assert sensitive_category(value) == category, value


def test_sensitive_category_adversarial_speed() -> None:
    """No catastrophic backtracking: pathological 64-char strings stay cheap."""
    seeds = ["a", "1.", ":", "a:", "0:", "a@", "a.", "a-", "/", "\\", "A1", "ff", " "]
    inputs = [(seed * 64)[:64] for seed in seeds]
    inputs += [(seed * 64)[:63] + "!" for seed in seeds]
    start = time.perf_counter()
    for _ in range(50):
        for value in inputs:
            sensitive_category(value)
    assert time.perf_counter() - start < 2.0


@settings(max_examples=100, deadline=None)
@given(
    value=st.text(max_size=64)
    | st.from_regex(r"[0-9a-fA-F:.@/\\_-]{0,64}", fullmatch=True)
)
def test_sensitive_category_property_any_text(value: str) -> None:
    """The scrubber never raises and only answers with a known category."""
    assert sensitive_category(value) in {
        None,
        "email",
        "ipv4",
        "ipv6",
        "mac",
        "url",
        "path",
        "hostname",
        "serial",
        "secret",
    }


# --- event types and metadata containers ----------------------------------------------


@pytest.mark.parametrize(
    "event_type",
    [
        "",
        "job_complete",
        "JOB_CREATED",
        " job_created",
        "job_created\n",
        "usage_report",
        None,
        1,
        True,
        b"job_created",
        ["job_created"],
        {"event_type": "job_created"},
        HostileStr("job_created "),
        pytest.param(Exploding(), id="exploding"),
        pytest.param(ExplodingClass(), id="exploding_class"),
    ],
)
def test_clean_event_unknown_event_type(event_type: object) -> None:
    """An unknown or non-str event type drops the whole event and ignores its metadata."""
    for strict in (False, True):
        assert clean_event(
            event_type, {"printer_type": "bambu_lab"}, strict=strict
        ) == (None, (Rejection(RejectReason.UNKNOWN_EVENT_TYPE),))


def test_clean_event_str_subclass_event_type() -> None:
    """A StrEnum or hostile str event type is accepted and replaced by our own constant."""

    class Event(StrEnum):
        """A caller's own event names."""

        CREATED = "job_created"

    for event_type in (Event.CREATED, HostileStr("job_created")):
        event, rejections = clean_event(event_type, None)
        assert rejections == ()
        assert event is not None
        assert event.event_type is EVENT_TYPES[2]
        assert type(event.event_type) is str


def test_clean_event_no_metadata() -> None:
    """No metadata is fine: the event counts, with nothing attached."""
    assert clean_event("job_created", None) == (CleanEvent("job_created", {}), ())
    assert clean_event("job_created", {}) == (CleanEvent("job_created", {}), ())


@pytest.mark.parametrize(
    "metadata",
    [
        [],
        [("printer_type", "bambu_lab")],
        "printer_type=bambu_lab",
        b"{}",
        1,
        False,
        {"printer_type"},
        object(),
        pytest.param(Exploding(), id="exploding"),
        pytest.param(ExplodingClass(), id="exploding_class"),
        Leaky(),
    ],
)
def test_clean_event_invalid_metadata(metadata: object) -> None:
    """Metadata that is not a mapping is dropped; the event still counts."""
    assert clean_event("job_created", metadata) == (
        CleanEvent("job_created", {}),
        (Rejection(RejectReason.INVALID_METADATA),),
    )


class _ListMapping(Mapping[object, object]):
    """A minimal Mapping that is not a dict (its keys need not be hashable)."""

    def __init__(self, pairs: list[tuple[object, object]]) -> None:
        """Keep the pairs."""
        self._pairs = pairs

    def __getitem__(self, key: object) -> object:
        """Look a key up by identity."""
        for item_key, value in self._pairs:
            if item_key is key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[object]:
        """Iterate the keys."""
        return iter([key for key, _ in self._pairs])

    def __len__(self) -> int:
        """Count the pairs."""
        return len(self._pairs)


class _EndlessMapping(Mapping[str, int]):
    """A Mapping that claims one key but yields keys forever."""

    def __getitem__(self, key: str) -> int:
        """Any key maps to 1."""
        return 1

    def __iter__(self) -> Iterator[str]:
        """Never ends."""
        count = 0
        while True:
            count += 1
            yield f"key{count}"

    def __len__(self) -> int:
        """Lie about the size."""
        return 1


class _RaisingMapping(_ListMapping):
    """A Mapping whose reading fails half-way."""

    def __getitem__(self, key: object) -> object:
        """Fail on the second key."""
        if key is GOOD_KEYS[1]:
            raise RuntimeError(CANARY)
        return super().__getitem__(key)


class _SneakyDict(dict[object, object]):
    """A dict subclass whose own accessors lie or raise."""

    def items(self) -> Iterator[tuple[object, object]]:  # type: ignore[override]
        """Pretend to hold something else."""
        return iter([(CANARY, CANARY)])

    def __iter__(self) -> Iterator[object]:
        """Refuse iteration."""
        raise RuntimeError(CANARY)

    def __len__(self) -> int:
        """Lie about the size."""
        return 0


GOOD = {"printer_type": "bambu_lab", "duration_minutes": 75}
GOOD_KEYS = list(GOOD)
GOOD_CLEAN = CleanEvent(
    "job_completed", {"printer_type": "bambu_lab", "duration_minutes": "1-3h"}
)


@pytest.mark.parametrize(
    "metadata",
    [
        dict(GOOD),
        MappingProxyType(dict(GOOD)),
        _ListMapping(list(GOOD.items())),
        _SneakyDict(GOOD),
    ],
)
def test_clean_event_mapping_types(metadata: Mapping[str, object]) -> None:
    """Any Mapping is accepted; dict subclasses are read through dict itself."""
    assert clean_event("job_completed", metadata) == (GOOD_CLEAN, ())


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        (_RaisingMapping(list(GOOD.items())), RejectReason.INVALID_METADATA),
        (_EndlessMapping(), RejectReason.TOO_MANY_KEYS),
        (
            {f"key{i}": i for i in range(MAX_METADATA_KEYS + 1)},
            RejectReason.TOO_MANY_KEYS,
        ),
        (_SneakyDict({f"key{i}": i for i in range(100)}), RejectReason.TOO_MANY_KEYS),
        (_ListMapping([(f"key{i}", i) for i in range(17)]), RejectReason.TOO_MANY_KEYS),
        (
            MappingProxyType({**GOOD, **{f"k{i}": i for i in range(10**5)}}),
            RejectReason.TOO_MANY_KEYS,
        ),
    ],
)
def test_clean_event_metadata_dropped(
    metadata: Mapping[str, object], reason: RejectReason
) -> None:
    """Unreadable or oversized metadata is dropped whole, with bounded work."""
    for strict in (False, True):
        result = clean_event("job_completed", metadata, strict=strict)
        assert result == (CleanEvent("job_completed", {}), (Rejection(reason),))
        _assert_no_canary(result)


def test_clean_event_max_keys() -> None:
    """Sixteen keys are still read one by one; unknown ones are named by position."""
    metadata: dict[object, object] = {
        f"extra_{i}": i for i in range(MAX_METADATA_KEYS - 2)
    }
    metadata.update(GOOD)
    event, rejections = clean_event("job_completed", metadata)
    assert event == GOOD_CLEAN
    assert rejections == tuple(
        Rejection(RejectReason.UNKNOWN_KEY, None, i + 1, MAX_METADATA_KEYS)
        for i in range(MAX_METADATA_KEYS - 2)
    )


def test_clean_event_keys_independent() -> None:
    """A bad key or value drops only itself; good keys survive; keys are named by position."""
    metadata: dict[object, object] = {
        "printer_type": "bambu_lab",
        "duration_minutes": -5,
        "size_bytes": 10,
        f"file_name_{CANARY}": "benchy.3mf",
        ("tuple", "key"): 1,
        7: "seven",
        None: "none",
        ExplodingClass(): "x",
    }
    result = clean_event("job_completed", metadata)
    assert result == (
        CleanEvent("job_completed", {"printer_type": "bambu_lab"}),
        (
            Rejection(RejectReason.INVALID_VALUE, "duration_minutes"),
            *(Rejection(RejectReason.UNKNOWN_KEY, None, i, 8) for i in range(3, 9)),
        ),
    )
    _assert_no_canary(result)


def test_clean_event_unhashable_and_exploding_keys() -> None:
    """Keys that cannot be hashed or inspected are named by position, never touched."""
    metadata = _ListMapping(
        [
            ([CANARY], "bambu_lab"),
            (Exploding(), "bambu_lab"),
            (HostileStr(f"{CANARY}_key"), "bambu_lab"),
            (HostileStr("printer_type"), "prusa_core"),
        ]
    )
    result = clean_event("job_created", metadata, strict=True)
    assert result == (
        CleanEvent("job_created", {"printer_type": "prusa_core"}),
        tuple(Rejection(RejectReason.UNKNOWN_KEY, None, i, 4) for i in (1, 2, 3)),
    )
    _assert_no_canary(result)


def test_clean_event_str_subclass_key() -> None:
    """A str-subclass key is matched by content and stored as our own key."""

    class Key(StrEnum):
        """A caller's own key names."""

        PRINTER_TYPE = "printer_type"

    event, rejections = clean_event("job_created", {Key.PRINTER_TYPE: "bambu_lab"})
    assert rejections == ()
    assert event is not None
    assert [type(key) for key in event.metadata] == [str]


@pytest.mark.parametrize(
    ("metadata", "lenient", "strict"),
    [
        (
            {"error_type": "JohnSmithError", "component": "mqtt"},
            {"error_type": OTHER, "component": "mqtt"},
            {"component": "mqtt"},
        ),
        (
            {"app_version": "1a2b3c4", "deployment_mode": "raspberry_pi"},
            {"app_version": UNKNOWN, "deployment_mode": "pi"},
            {"deployment_mode": "pi"},
        ),
    ],
)
def test_clean_event_strict_refuses_fallbacks(
    metadata: dict[str, str], lenient: dict[str, str], strict: dict[str, str]
) -> None:
    """Lenient mode keeps a fallback for a refused value; strict mode refuses it by key."""
    event_type = EVENT_FOR_KEY[next(iter(metadata))]
    assert clean_event(event_type, metadata) == (CleanEvent(event_type, lenient), ())
    event, rejections = clean_event(event_type, metadata, strict=True)
    assert event == CleanEvent(event_type, strict)
    assert [(r.reason, r.key) for r in rejections] == [
        (RejectReason.INVALID_VALUE, key) for key in metadata if key not in strict
    ]


@pytest.mark.parametrize(("event_type", "key"), ALL_PAIRS)
def test_clean_event_hostile_values(event_type: str, key: str) -> None:
    """Every hostile value is refused (or replaced by the fallback) under every allowed key."""
    fallback = FALLBACKS.get(key)
    for index, value in enumerate(HOSTILE_VALUES):
        lenient = clean_event(event_type, {key: value})
        if fallback is None:
            assert lenient == (
                CleanEvent(event_type, {}),
                (Rejection(RejectReason.INVALID_VALUE, key),),
            ), f"value #{index}"
        else:
            assert lenient == (CleanEvent(event_type, {key: fallback}), ()), index
        strict = clean_event(event_type, {key: value}, strict=True)
        assert strict == (
            CleanEvent(event_type, {}),
            (Rejection(RejectReason.INVALID_VALUE, key),),
        ), f"value #{index}"
        _assert_no_canary((lenient, strict))


def test_clean_event_hostile_values_elsewhere() -> None:
    """Hostile values as event type or as the whole metadata leave no trace and never raise."""
    for value in HOSTILE_VALUES:
        assert clean_event(value, None) == (
            None,
            (Rejection(RejectReason.UNKNOWN_EVENT_TYPE),),
        )
        for event_type in EVENT_TYPES:
            result = clean_event(event_type, value, strict=True)
            assert result[0] is not None
            _assert_no_canary(result)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_clean_event_hostile_keys(event_type: str) -> None:
    """Every hostile key is refused and named only by its position."""
    for key in HOSTILE_KEYS:
        for strict in (False, True):
            result = clean_event(event_type, {key: "bambu_lab"}, strict=strict)
            assert result == (
                CleanEvent(event_type, {}),
                (Rejection(RejectReason.UNKNOWN_KEY, None, 1, 1),),
            )
            _assert_no_canary(result)


def _strings_in(value: object) -> list[str]:
    """Every str reachable through the built-in containers of a corpus item."""
    found: list[str] = []
    stack: list[object] = [value]
    seen: set[int] = set()
    while stack and len(seen) < 10_000:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        item_type = type(item)
        if issubclass(item_type, str):
            found.append(str.__str__(cast("str", item)))
        elif item_type in (list, tuple, set, frozenset):
            stack.extend(cast("Iterable[object]", item))
        elif item_type is dict:
            stack.extend(cast("dict[object, object]", item).items())
    return found


def test_hostile_corpus_carries_canary() -> None:
    """The corpus is big enough and every string in it visibly carries a canary."""
    assert len(HOSTILE_VALUES) >= 200
    assert len(HOSTILE_KEYS) >= 30
    marks = (CANARY.lower(), WORD_CANARY.lower())
    assert all(any(m in key.lower() for m in marks) for key in HOSTILE_KEYS)
    for index, value in enumerate(HOSTILE_VALUES):
        for text in _strings_in(value):
            assert any(mark in text.lower() for mark in marks), f"value #{index}"


# --- clean_value and the disclosure --------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "key", "value", "expected"),
    [
        ("app_start", "deployment_mode", "raspberry_pi", "pi"),
        ("app_start", "deployment_mode", "pi", "pi"),
        ("app_start", "deployment_mode", "kubernetes", None),
        ("app_start", "app_version", "2.42.0-dirty", "2.42.0"),
        ("app_start", "app_version", "1a2b3c4", UNKNOWN),
        ("app_start", "app_version", UNKNOWN, UNKNOWN),
        ("app_start", "library_enabled", "true", "true"),
        ("app_start", "timelapse_enabled", "false", "false"),
        ("app_start", "library_enabled", "True", None),
        ("error_occurred", "error_type", "JohnSmithError", OTHER),
        ("error_occurred", "error_type", OTHER, OTHER),
        ("error_occurred", "error_type", "timeouterror", "TimeoutError"),
        ("error_occurred", "component", OTHER, OTHER),
        ("job_completed", "duration_minutes", "1-3h", "1-3h"),
        ("job_completed", "duration_minutes", "75", None),
        ("job_created", "printer_type", "teleporter", None),
        ("job_created", "duration_minutes", "1-3h", None),
        ("teleport", "printer_type", "bambu_lab", None),
        ("", "", "", None),
    ],
)
def test_clean_value_recleans_stored_names(
    event_type: str, key: str, value: str, expected: str | None
) -> None:
    """Stored names are cleaned leniently again: renamed, merged into a fallback or dropped."""
    assert clean_value(event_type, key, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2.42.0-3-g1a2b3c4", "2.42.0"), ("deadbeef", UNKNOWN), (None, UNKNOWN)],
)
def test_clean_app_version(value: object, expected: str) -> None:
    """The installation's version is a release, else `unknown`."""
    assert clean_app_version(value) == expected


def test_describe_allowlist() -> None:
    """The disclosure has one line per event type naming every key and possible value."""
    lines = describe_allowlist()
    assert len(lines) == len(EVENT_TYPES)
    for line, (event_type, fields) in zip(lines, ALLOWLIST.items(), strict=True):
        assert line.startswith(f"- `{event_type}`: ")
        assert "\n" not in line
        for key, field in fields.items():
            assert f"`{key}`: {field.description}" in line
            for value in field.values:
                assert f"`{value}`" in line
    assert lines[1] == (
        "- `app_shutdown`: `uptime_hours`: how long Printernizer had been running,"
        " as a range (`0-1h`, `1-24h`, `1-7d`, `7d+`)"
    )
    error_line = lines[EVENT_TYPES.index("error_occurred")]
    assert "`TimeoutError`" in error_line
    assert "`other`" in error_line
    assert "`pi`" in lines[0]
    assert "raspberry_pi" not in "".join(lines)


# --- properties over any input -------------------------------------------------------


JSON_LIKE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=80)
    | st.binary(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.tuples(children, children)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8,
)
LEGIT_VALUES = st.sampled_from(
    [
        *PRINTER_TYPES,
        *COMPONENTS,
        *FEATURES,
        *DEPLOYMENT_MODES,
        *DURATION_RANGES,
        "raspberry_pi",
        "2.42.0",
        "v2.42.0-3-g1a2b3c4",
        "TimeoutError",
        "connection_timeout",
        "Bambu_Lab ",
        True,
        False,
        0,
        15,
        60,
        1440,
        1_000_000,
        168,
        3.5,
    ]
)


def _pick(values: list[object]) -> st.SearchStrategy[object]:
    """Draw from a list by index: some items refuse to be hashed, as sampled_from needs."""
    return st.integers(min_value=0, max_value=len(values) - 1).map(values.__getitem__)


ODD_VALUES = (
    _pick(
        [
            Leaky(),
            DuckNumber(),
            Exploding(),
            ExplodingClass(),
            CanaryInt(5),
            _Printer.BAMBU,
            _Minutes.HOUR,
            HostileStr("bambu_lab"),
            TimeoutError,
            object(),
            Ellipsis,
        ]
    )
    | st.decimals()
    | st.fractions()
    | st.complex_numbers()
    | st.datetimes()
    | st.uuids()
    | st.frozensets(st.text(max_size=4), max_size=3)
    | _pick(HOSTILE_VALUES)
)
ANY_VALUE = JSON_LIKE | LEGIT_VALUES | ODD_VALUES
ANY_KEY = (
    st.sampled_from(ALL_KEYS)
    | st.text(max_size=40)
    | st.integers()
    | st.none()
    | st.sampled_from(HOSTILE_KEYS)
)
ANY_METADATA = (
    st.none()
    | st.dictionaries(ANY_KEY, ANY_VALUE, max_size=MAX_METADATA_KEYS + 3)
    | st.dictionaries(st.sampled_from(ALL_KEYS), ANY_VALUE, max_size=6)
    | st.lists(st.tuples(ANY_KEY | ODD_VALUES, ANY_VALUE), max_size=6).map(_ListMapping)
    | ANY_VALUE
)
ANY_EVENT_TYPE = st.sampled_from(EVENT_TYPES) | st.text(max_size=30) | ANY_VALUE


@settings(max_examples=250, deadline=None)
@given(event_type=ANY_EVENT_TYPE, metadata=ANY_METADATA, strict=st.booleans())
def test_clean_event_property_any_input(
    event_type: object, metadata: object, strict: bool
) -> None:
    """Never raises; only allowlisted keys with allowed values come out; refusals name no input."""
    result = clean_event(event_type, metadata, strict=strict)
    event, rejections = result
    _assert_no_canary(result)
    if event is None:
        assert rejections == (Rejection(RejectReason.UNKNOWN_EVENT_TYPE),)
        return
    assert any(event.event_type is name for name in EVENT_TYPES)
    fields = ALLOWLIST[event.event_type]
    for key, value in event.metadata.items():
        assert type(key) is str
        assert type(value) is str
        field = fields[key]
        if key == "app_version":
            assert value == UNKNOWN or RELEASE_ORACLE.fullmatch(value)
        elif key == "error_type":
            assert value in ERROR_WORDS or value == OTHER
        else:
            assert value in field.values
        assert sensitive_category(value) is None
        assert clean_value(event.event_type, key, value) == value
    for rejection in rejections:
        assert isinstance(rejection.reason, RejectReason)
        assert rejection.reason is not RejectReason.UNKNOWN_EVENT_TYPE
        if rejection.reason is RejectReason.UNKNOWN_KEY:
            assert rejection.key is None
            assert rejection.total is not None
            assert rejection.position is not None
            assert 1 <= rejection.position <= rejection.total <= MAX_METADATA_KEYS
        elif rejection.key is not None:
            assert rejection.key in fields
            assert rejection.position is None
            assert rejection.key not in event.metadata
        else:
            assert rejection.reason in {
                RejectReason.INVALID_METADATA,
                RejectReason.TOO_MANY_KEYS,
            }
            assert event.metadata == {}


@settings(max_examples=150, deadline=None)
@given(
    key=ANY_KEY,
    value=ANY_VALUE,
    event_type=st.sampled_from(EVENT_TYPES),
    strict=st.booleans(),
)
def test_clean_event_property_reprs_hold_no_input(
    key: object, value: object, event_type: str, strict: bool
) -> None:
    """No Rejection or CleanEvent repr ever holds a canary, whatever the key and value."""
    metadata = _ListMapping([(key, value), (f"{WORD_CANARY}_{CANARY}", value)])
    for candidate in ({key: value}, metadata):
        event, rejections = clean_event(event_type, candidate, strict=strict)
        _assert_no_canary(event)
        for rejection in rejections:
            _assert_no_canary(rejection)


@settings(max_examples=100, deadline=None)
@given(event_type=st.sampled_from(EVENT_TYPES), data=st.data())
def test_clean_event_property_valid_input(event_type: str, data: st.DataObject) -> None:
    """Valid values for every key of an event all survive strict mode, with no rejections."""
    metadata: dict[str, object] = {}
    for key, field in ALLOWLIST[event_type].items():
        if key in RANGE_KEYS:
            metadata[key] = data.draw(
                st.integers(min_value=0)
                | st.floats(min_value=0, allow_infinity=False)
                | st.sampled_from(field.values)
            )
        elif field.values == BOOLEAN_VALUES:
            metadata[key] = data.draw(st.booleans())
        elif key == "app_version":
            metadata[key] = data.draw(st.sampled_from(["2.42.0", "v2.8.0rc1", UNKNOWN]))
        elif key == "error_type":
            metadata[key] = data.draw(st.sampled_from(ERROR_TYPES))
        else:
            metadata[key] = data.draw(st.sampled_from(field.values))
    event, rejections = clean_event(event_type, metadata, strict=True)
    assert rejections == ()
    assert event is not None
    assert set(event.metadata) == set(metadata)
