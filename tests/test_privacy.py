"""Tests for the privacy filter: allowlist, coarsening, scrubber and hostile input."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from enum import IntEnum, StrEnum
from fractions import Fraction
import re
import time
from types import MappingProxyType
from typing import cast

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.printernizer_stats.privacy import (
    ALLOWLIST,
    COMPONENTS,
    DEPLOYMENT_MODES,
    DURATION_RANGES,
    EVENT_TYPES,
    FEATURES,
    MAX_METADATA_KEYS,
    PRINTER_TYPES,
    SIZE_BUCKETS,
    UNNAMED_KEY,
    UPTIME_RANGES,
    CleanEvent,
    Rejection,
    RejectReason,
    clean_event,
    describe_allowlist,
    safe_key_label,
    sensitive_category,
)
from tests.hostile_corpus import (
    CANARY,
    HOSTILE_KEYS,
    HOSTILE_VALUES,
    SCRUBBABLE,
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
REFUSED = {RejectReason.INVALID_VALUE, RejectReason.SENSITIVE_VALUE}

# Independent oracles for the pattern keys, written from the specification.
VERSION_ORACLE = re.compile(
    r"[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,4})?([.-]?(a|b|rc|dev|alpha|beta)[0-9]{0,3})?"
)
CAMEL_ORACLE = re.compile(
    r"[A-Z][A-Za-z0-9]*(Error|Exception|Timeout|Failure|Warning|Interrupt|Refused"
    r"|Denied|Exceeded|Unavailable|Invalid|Cancelled)"
)
SNAKE_SUFFIXES = [
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
]
LABEL_ORACLE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def _is_valid_error_type(value: str) -> bool:
    """The error_type rule, restated for the property tests."""
    if not 3 <= len(value) <= 64:
        return False
    if CAMEL_ORACLE.fullmatch(value):
        return re.search("[0-9][a-z]", value) is None
    return (
        re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+){0,7}", value) is not None
        and value.split("_")[-1] in SNAKE_SUFFIXES
    )


PATTERN_ORACLES = {
    "app_version": lambda value: len(value) <= 24 and VERSION_ORACLE.fullmatch(value),
    "error_type": _is_valid_error_type,
}


def _clean_one(key: str, value: object) -> tuple[str | None, tuple[Rejection, ...]]:
    """Clean one key/value on the first event type that allows the key."""
    event, rejections = clean_event(EVENT_FOR_KEY[key], {key: value})
    assert event is not None
    return event.metadata.get(key), rejections


def _assert_no_canary(result: object) -> None:
    """The canary must not survive in any form, in any letter case."""
    assert CANARY.lower() not in repr(result).lower()


def test_event_types_order() -> None:
    """The twelve event types, in the documented order, are the allowlist's keys."""
    assert tuple(EXPECTED_KEYS) == EVENT_TYPES
    assert tuple(ALLOWLIST) == EVENT_TYPES


@pytest.mark.parametrize(("event_type", "keys"), list(EXPECTED_KEYS.items()))
def test_allowlist_keys(event_type: str, keys: tuple[str, ...]) -> None:
    """Each event type allows exactly the keys of the product table."""
    assert tuple(ALLOWLIST[event_type]) == keys


@pytest.mark.parametrize(
    ("key", "kind", "values"),
    [
        ("printer_type", "vocabulary", PRINTER_TYPES),
        ("component", "vocabulary", COMPONENTS),
        ("feature", "vocabulary", FEATURES),
        ("deployment_mode", "vocabulary", DEPLOYMENT_MODES),
        ("duration_minutes", "range", DURATION_RANGES),
        ("size_bytes", "range", SIZE_BUCKETS),
        ("uptime_hours", "range", UPTIME_RANGES),
        ("library_enabled", "boolean", ("true", "false")),
        ("timelapse_enabled", "boolean", ("true", "false")),
        ("auto_download_enabled", "boolean", ("true", "false")),
        ("app_version", "pattern", ()),
        ("error_type", "pattern", ()),
    ],
)
def test_allowlist_field_kinds(key: str, kind: str, values: tuple[str, ...]) -> None:
    """Every field has the documented kind and possible outputs wherever it is used."""
    fields = [fields[key] for fields in ALLOWLIST.values() if key in fields]
    assert fields
    for field in fields:
        assert field.kind == kind
        assert field.values == values
        assert field.description


def test_constants_values() -> None:
    """The vocabularies and bucket labels are the product decision, in order."""
    assert PRINTER_TYPES == ("bambu_lab", "prusa_core", "octoprint", "unknown")
    assert DEPLOYMENT_MODES == ("homeassistant", "docker", "standalone", "raspberry_pi")
    assert DURATION_RANGES == ("0-15m", "15-60m", "1-3h", "3-8h", "8-24h", "24h+")
    assert SIZE_BUCKETS == ("0-1MB", "1-10MB", "10-100MB", "100MB+")
    assert UPTIME_RANGES == ("0-1h", "1-24h", "1-7d", "7d+")
    assert MAX_METADATA_KEYS == 16
    assert len(COMPONENTS) == 11
    assert len(FEATURES) == 7


@pytest.mark.parametrize(
    ("event_type", "metadata", "expected"),
    [
        (
            "app_start",
            {
                "app_version": "2.7.0",
                "deployment_mode": "homeassistant",
                "library_enabled": True,
                "timelapse_enabled": False,
                "auto_download_enabled": True,
            },
            {
                "app_version": "2.7.0",
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
            {"error_type": "ConnectionTimeoutError", "component": "printer_service"},
            {"error_type": "ConnectionTimeoutError", "component": "printer_service"},
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
    """Every event type keeps every allowed key, coarsened to its canonical value."""
    event, rejections = clean_event(event_type, metadata)
    assert rejections == ()
    assert event == CleanEvent(event_type, expected)
    assert any(event.event_type is name for name in EVENT_TYPES)
    for key, value in event.metadata.items():
        assert type(key) is str
        assert type(value) is str


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


class _Minutes(IntEnum):
    """An int subclass: numbers must be plain int or float."""

    HOUR = 60


@pytest.mark.parametrize("key", ["duration_minutes", "size_bytes", "uptime_hours"])
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
        DuckNumber(),
    ],
)
def test_range_invalid(key: str, value: object) -> None:
    """Negative, non-finite, boolean and non-number input is refused."""
    assert _clean_one(key, value) == (
        None,
        (Rejection(RejectReason.INVALID_VALUE, key),),
    )


@settings(max_examples=200, deadline=None)
@given(
    key=st.sampled_from(["duration_minutes", "size_bytes", "uptime_hours"]),
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


@pytest.mark.parametrize(
    "key", ["printer_type", "component", "feature", "deployment_mode"]
)
def test_vocabulary_every_word(key: str) -> None:
    """Every vocabulary word is accepted and stored as our own constant."""
    field = ALLOWLIST[EVENT_FOR_KEY[key]][key]
    for word in field.values:
        value, rejections = _clean_one(key, "".join(word))
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
        ("printer_type", "bambu_lab".ljust(64), "bambu_lab"),
        ("deployment_mode", "\tDocker\n", "docker"),
        ("component", "MQTT", "mqtt"),
        ("feature", "Watch_Folders", "watch_folders"),
    ],
)
def test_vocabulary_normalizes(key: str, value: str, expected: str) -> None:
    """Case and surrounding blanks are forgiven; the output is a plain constant."""
    cleaned, rejections = _clean_one(key, value)
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
        ("printer_type", "prusa"),
        ("printer_type", "bambu_lab".ljust(65)),
        ("printer_type", "bambu_lab\x00"),
        ("printer_type", "camera"),
        ("component", "printer"),
        ("component", "auto_download"),
        ("feature", "mqtt"),
        ("deployment_mode", "kubernetes"),
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
    """Anything that is not a vocabulary word, or not a string, is refused."""
    assert _clean_one(key, value) == (
        None,
        (Rejection(RejectReason.INVALID_VALUE, key),),
    )


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
    key = "library_enabled"
    assert _clean_one(key, value) == (
        None,
        (Rejection(RejectReason.INVALID_VALUE, key),),
    )


@pytest.mark.parametrize(
    "value",
    [
        "2.7.0",
        "2.7",
        "0.0",
        "999.999.9999",
        "1.2.3rc1",
        "1.2.3-beta2",
        "1.2.3.dev",
        "1.2.3.dev0",
        "1.2.dev123",
        "1.2.3a",
        "1.2b1",
        "1.2.beta",
        "2.8.0alpha",
    ],
)
def test_app_version_accepts(value: str) -> None:
    """Release numbers, including pre-release tags, are kept as they are."""
    assert _clean_one("app_version", value) == (value, ())


@pytest.mark.parametrize(
    "value",
    [
        "",
        "2",
        "v2.7.0",
        "2.7.0\n",
        " 2.7.0",
        "2.7.0.1",
        "1234.1.1",
        "2.7.12345",
        "2.7.0rc1234",
        "2.7.0-gamma",
        "2.7.0+local",
        "\u0662.\u0667.\u0660",
        "2.7.0" + "0" * 20,
        "2025.4.4",
        2.7,
        None,
        ("2", "7"),
    ],
)
def test_app_version_rejects(value: object) -> None:
    """Anything but a plain release number is refused."""
    assert _clean_one("app_version", value) == (
        None,
        (Rejection(RejectReason.INVALID_VALUE, "app_version"),),
    )


def test_app_version_scrubbed() -> None:
    """A pattern-valid version still goes through the scrubber (accepted false positive)."""
    assert _clean_one("app_version", "1.2.1234rc123") == (
        None,
        (Rejection(RejectReason.SENSITIVE_VALUE, "app_version"),),
    )


@pytest.mark.parametrize(
    "value",
    [
        "ConnectionTimeoutError",
        "TimeoutError",
        "ClientConnectorError",
        "CancelledError",
        "Exception",
        "Error",
        "HTTPError",
        "OSError",
        "JSONDecodeError",
        "Http2Error",
        "KeyboardInterrupt",
        "PermissionDenied",
        "ConnectionRefused",
        "QuotaExceeded",
        "ServiceUnavailable",
        "TokenInvalid",
        "UserWarning",
        "AuthFailure",
        "ReadTimeout",
        "X" + "y" * 58 + "Error",
        "connection_timeout",
        "mqtt_connection_lost",
        "auth_failed",
        "error",
        "timeout",
        "a_b_c_d_e_f_g_error",
        "upload_cancelled",
        "quota_exceeded",
        "access_denied",
        "printer_unavailable",
        "token_invalid",
        "unexpected_exception",
        "disk_failure",
        "connection_refused",
        "http2_error",
    ],
)
def test_error_type_accepts(value: str) -> None:
    """Exception class names and snake_case error codes are kept as they are."""
    assert _clean_one("error_type", value) == (value, ())


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ab",
        "Er",
        "John Smith",
        "JohnSmith",
        "john_smith",
        "Print for John Smith",
        "ConnectionError: could not reach 10.0.0.1",
        "ValueError(1)",
        "TimeoutError ",
        "ConnectionError\n",
        "A1b2Error",
        "Y7f3aError",
        "connection timeout",
        "Connection_Error",
        "connectionTimeout",
        "connectionError",
        "_error",
        "error_",
        "my__error",
        "a_b_c_d_e_f_g_h_error",
        "TimeoutErrors",
        "ERROR",
        "MyERROR",
        "Timeouterror",
        "X" + "y" * 59 + "Error",
        "\u0141\u00f3d\u017aError",
        "\uff34imeoutError",
        "lost_connection",
        TimeoutError,
        TimeoutError(),
        None,
        42,
    ],
)
def test_error_type_rejects(value: object) -> None:
    """Free text, names and anything not shaped like an error kind is refused."""
    assert _clean_one("error_type", value) == (
        None,
        (Rejection(RejectReason.INVALID_VALUE, "error_type"),),
    )


@pytest.mark.parametrize(
    "value",
    [
        "Sn12345678Error",
        "DeadBeefCafeError",
        "Http2ConnectionTimeoutError",
        "AKIAABCDEFGHIJKLMNOPError",
        "sn12345678_error",
    ],
)
def test_error_type_scrubbed(value: str) -> None:
    """Pattern-valid error types that look like serials or keys are refused."""
    assert _clean_one("error_type", value) == (
        None,
        (Rejection(RejectReason.SENSITIVE_VALUE, "error_type"),),
    )


@pytest.mark.parametrize(
    "event_type",
    [
        "",
        "job_complete",
        "JOB_CREATED",
        " job_created",
        "job_created\n",
        "job_created\x00",
        "usage_report",
        None,
        1,
        True,
        b"job_created",
        ["job_created"],
        ("job_created",),
        {"event_type": "job_created"},
        HostileStr("job_created "),
        pytest.param(Exploding(), id="exploding"),
        pytest.param(ExplodingClass(), id="exploding_class"),
    ],
)
def test_clean_event_unknown_event_type(event_type: object) -> None:
    """An unknown or non-str event type drops the whole event and ignores its metadata."""
    assert clean_event(event_type, {"printer_type": "bambu_lab"}) == (
        None,
        (Rejection(RejectReason.UNKNOWN_EVENT_TYPE, None),),
    )


def test_clean_event_str_subclass_event_type() -> None:
    """A StrEnum event type is accepted and replaced by our own constant."""

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
        0,
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
        (Rejection(RejectReason.INVALID_METADATA, None),),
    )


class _ListMapping(Mapping[object, object]):
    """A minimal Mapping that is not a dict."""

    def __init__(self, pairs: list[tuple[object, object]]) -> None:
        """Keep the pairs."""
        self._pairs = pairs

    def __getitem__(self, key: object) -> object:
        """Look a key up."""
        for item_key, value in self._pairs:
            if item_key == key:
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
        if key == "duration_minutes":
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
    result = clean_event("job_completed", metadata)
    assert result == (CleanEvent("job_completed", {}), (Rejection(reason, None),))
    _assert_no_canary(result)


def test_clean_event_max_keys() -> None:
    """Sixteen keys are still read one by one."""
    metadata: dict[object, object] = {
        f"extra_{i}": i for i in range(MAX_METADATA_KEYS - 2)
    }
    metadata.update(GOOD)
    event, rejections = clean_event("job_completed", metadata)
    assert event == GOOD_CLEAN
    assert rejections == tuple(
        Rejection(RejectReason.UNKNOWN_KEY, f"extra_{i}")
        for i in range(MAX_METADATA_KEYS - 2)
    )


def test_clean_event_keys_independent() -> None:
    """A bad key or value drops only itself; good keys survive."""
    event, rejections = clean_event(
        "job_completed",
        {
            "printer_type": "bambu_lab",
            "duration_minutes": -5,
            "size_bytes": 10,
            "file_name": "benchy.3mf",
            ("tuple", "key"): 1,
            7: "seven",
            None: "none",
            f"serial_{CANARY}": "x",
        },
    )
    assert event == CleanEvent("job_completed", {"printer_type": "bambu_lab"})
    assert rejections == (
        Rejection(RejectReason.INVALID_VALUE, "duration_minutes"),
        Rejection(RejectReason.UNKNOWN_KEY, "size_bytes"),
        Rejection(RejectReason.UNKNOWN_KEY, "file_name"),
        Rejection(RejectReason.UNKNOWN_KEY, UNNAMED_KEY),
        Rejection(RejectReason.UNKNOWN_KEY, UNNAMED_KEY),
        Rejection(RejectReason.UNKNOWN_KEY, UNNAMED_KEY),
        Rejection(RejectReason.UNKNOWN_KEY, UNNAMED_KEY),
    )
    _assert_no_canary((event, rejections))


def test_clean_event_str_subclass_key() -> None:
    """A str-subclass key is matched by content and stored as our own key."""

    class Key(StrEnum):
        """A caller's own key names."""

        PRINTER_TYPE = "printer_type"

    event, rejections = clean_event("job_created", {Key.PRINTER_TYPE: "bambu_lab"})
    assert rejections == ()
    assert event is not None
    assert [type(key) for key in event.metadata] == [str]


@pytest.mark.parametrize(("event_type", "key"), ALL_PAIRS)
def test_clean_event_hostile_values(event_type: str, key: str) -> None:
    """Every hostile value is refused under every allowed key, and nothing of it survives."""
    for index, value in enumerate(HOSTILE_VALUES):
        result = clean_event(event_type, {key: value})
        event, rejections = result
        assert event == CleanEvent(event_type, {}), (
            f"value #{index} ({type(value).__name__})"
        )
        assert len(rejections) == 1, f"value #{index}"
        assert rejections[0].reason in REFUSED, f"value #{index}"
        assert rejections[0].key == key
        _assert_no_canary(result)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_clean_event_hostile_values_elsewhere(event_type: str) -> None:
    """Hostile values as event type or as the whole metadata leave no trace."""
    for value in HOSTILE_VALUES:
        assert clean_event(value, None) == (
            None,
            (Rejection(RejectReason.UNKNOWN_EVENT_TYPE, None),),
        )
        result = clean_event(event_type, value)
        assert result[0] is not None
        _assert_no_canary(result)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_clean_event_hostile_keys(event_type: str) -> None:
    """Every hostile key is refused and named only as "<unnamed key>"."""
    for key in HOSTILE_KEYS:
        assert safe_key_label(key) == UNNAMED_KEY
        result = clean_event(event_type, {key: "bambu_lab"})
        assert result == (
            CleanEvent(event_type, {}),
            (Rejection(RejectReason.UNKNOWN_KEY, UNNAMED_KEY),),
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
    """The corpus is big enough and every item visibly carries the canary."""
    assert len(HOSTILE_VALUES) >= 200
    assert len(HOSTILE_KEYS) >= 30
    assert all(type(key) is str and CANARY in key for key in HOSTILE_KEYS)
    for index, value in enumerate(HOSTILE_VALUES):
        value_type = type(value)
        strings = _strings_in(value)
        assert all(CANARY in text for text in strings), f"value #{index}"
        if strings or value_type in (bytes, bytearray, memoryview):
            continue
        if hasattr(value_type, "__next__"):
            continue  # iterators hold the canary but cannot show it unconsumed
        assert CANARY in value_type.__repr__(value), f"value #{index}"


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("printer_type", "printer_type"),
        ("file_name", "file_name"),
        ("a", "a"),
        ("k" * 32, "k" * 32),
        ("k" * 33, UNNAMED_KEY),
        ("", UNNAMED_KEY),
        ("Printer", UNNAMED_KEY),
        ("1key", UNNAMED_KEY),
        ("_key", UNNAMED_KEY),
        ("printer-type", UNNAMED_KEY),
        ("printer type", UNNAMED_KEY),
        ("printer_type\n", UNNAMED_KEY),
        ("sn12345678", UNNAMED_KEY),
        ("deadbeefcafe", UNNAMED_KEY),
        ("api_key_0123456789abcdef", UNNAMED_KEY),
        (_Printer.BAMBU, "bambu_lab"),
        (HostileStr("file_name"), "file_name"),
        (1, UNNAMED_KEY),
        (None, UNNAMED_KEY),
        (b"printer_type", UNNAMED_KEY),
        (("printer_type",), UNNAMED_KEY),
        (Leaky(), UNNAMED_KEY),
        pytest.param(ExplodingClass(), UNNAMED_KEY, id="exploding_class"),
    ],
)
def test_safe_key_label(key: object, label: str) -> None:
    """Only short snake_case keys that are not sensitive are shown by name."""
    result = safe_key_label(key)
    assert result == label
    assert type(result) is str


def test_safe_key_label_allowlist_keys() -> None:
    """Every allowed key can be named in an error message."""
    for key in ALL_KEYS:
        assert safe_key_label(key) == key


@pytest.mark.parametrize(
    ("value", "category"),
    [
        ("john@example.com", "email"),
        ("john.doe+tag@example.co.uk", "email"),
        ("user@localhost", "email"),
        ("192.168.1.5", "ipv4"),
        ("10.0.0.1:8080", "ipv4"),
        ("0.0.0.0", "ipv4"),
        ("ip 255.255.255.255", "ipv4"),
        ("192.168.001.001", "ipv4"),
        ("fe80::1", "ipv6"),
        ("::1", "ipv6"),
        ("2001:db8::ff00:42:8329", "ipv6"),
        ("[2001:db8::1]:443", "ipv6"),
        ("fe80::1%eth0", "ipv6"),
        ("::ffff:192.168.1.1", "ipv6"),
        ("2001:0db8:0000:0000:0000:ff00:0042:8329", "ipv6"),
        ("addr fd00::1.", "ipv6"),
        ("aa:bb:cc:dd:ee:ff", "mac"),
        ("AA-BB-CC-DD-EE-FF", "mac"),
        ("aabb.ccdd.eeff", "mac"),
        ("http://printer", "url"),
        ("https://example.com/x", "url"),
        ("rtsp://192.168.1.9/stream", "url"),
        ("www.example.org", "url"),
        ("WWW.EXAMPLE.ORG", "url"),
        ("/home/user", "path"),
        ("~/prints", "path"),
        ("./benchy.3mf", "path"),
        ("../up", "path"),
        ("C:\\Users\\john", "path"),
        ("C:/Users/john", "path"),
        ("\\\\server\\share", "path"),
        ("back\\slash", "path"),
        ("prints/benchy", "path"),
        ("dir/", "path"),
        ("printer.local", "hostname"),
        ("my-host.fritz.box", "hostname"),
        ("example.com", "hostname"),
        ("example.com.", "hostname"),
        ("octopi.lan", "hostname"),
        ("secret.gcode", "hostname"),
        ("01P00A123456789", "serial"),
        ("00M09A350100123", "serial"),
        ("CZPX1234X004XK12345", "serial"),
        ("SN12345678", "serial"),
        ("deadbeefcafe", "serial"),
        ("123456789012", "serial"),
        ("serial AB12CD34 here", "serial"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "secret"),
        ("sk-abc123", "secret"),
        ("ghp_abcdef123", "secret"),
        ("gho_abc", "secret"),
        ("xoxb-123-456", "secret"),
        ("Bearer abc", "secret"),
        ("bearer\tabc", "secret"),
        ("AKIAIOSFODNN7EXAMPLE", "secret"),
        ("abcdefghij0123456789xyz", "secret"),
        ("key=abc_def-ghi+jkl=mn0=", "secret"),
        ("wJalrXUtnFEMI/K7MDENG", "path"),
    ],
)
def test_sensitive_category(value: str, category: str) -> None:
    """Each kind of identifying string is recognised and named."""
    assert sensitive_category(value) == category


@pytest.mark.parametrize(
    "value",
    [
        "2.7.0",
        "1.2.3rc1",
        "1.2.beta",
        "1.2.3.dev",
        "ConnectionTimeoutError",
        "TimeoutError",
        "connection_timeout",
        "ClientConnectorError",
        "CancelledError",
        "Http2Error",
        "12:30",
        "12:30:45",
        "x :: y",
        "Foo::Bar",
        "256.1.1.1",
        "1.2.3",
        "benchy.3mf",
        "e.g",
        "12345678901",
        "abcdefghijklmnopqrstuvwxyz",
        "a.abcdefghijklmnopqrstuvwxyz",
        "disk-full",
        "",
        "CANARY7f3a",
    ],
)
def test_sensitive_category_legit(value: str) -> None:
    """Versions, error kinds and harmless text pass the scrubber."""
    assert sensitive_category(value) is None


def test_sensitive_category_allowlist_constants() -> None:
    """Our own event types, keys and every possible output pass the scrubber."""
    words = [*EVENT_TYPES, *ALL_KEYS]
    for fields in ALLOWLIST.values():
        for field in fields.values():
            words.extend(field.values)
    for word in words:
        assert sensitive_category(word) is None, word


@pytest.mark.parametrize(("category", "values"), list(SCRUBBABLE.items()))
def test_sensitive_category_hostile(category: str, values: list[str]) -> None:
    """The corpus's identifying strings are each recognised as their category."""
    for value in values:
        assert sensitive_category(value) == category, value


def test_sensitive_category_adversarial_speed() -> None:
    """No catastrophic backtracking: pathological 64-char strings stay cheap."""
    seeds = [
        "a",
        "1.",
        ":",
        "a:",
        "0:",
        "a@",
        "a.",
        "a-",
        "/",
        "\\",
        "A1",
        "ff",
        " ",
        "a.1",
        "1",
    ]
    inputs = [(seed * 64)[:64] for seed in seeds] + [
        (seed * 64)[:63] + "!" for seed in seeds
    ]
    start = time.perf_counter()
    for _ in range(50):
        for value in inputs:
            sensitive_category(value)
    assert time.perf_counter() - start < 2.0


def test_describe_allowlist() -> None:
    """The generated disclosure names every event type, key and possible value."""
    lines = describe_allowlist()
    assert len(lines) == len(EVENT_TYPES)
    for line, (event_type, fields) in zip(lines, ALLOWLIST.items(), strict=True):
        assert line.startswith(f"- `{event_type}`: ")
        for key, field in fields.items():
            assert f"`{key}`: {field.description}" in line
            for value in field.values:
                assert f"`{value}`" in line


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
        "2.7.0",
        "1.2.3rc1",
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
    | _pick(list(HOSTILE_KEYS))
)
ANY_METADATA = (
    st.none()
    | st.dictionaries(ANY_KEY, ANY_VALUE, max_size=MAX_METADATA_KEYS + 3)
    | st.dictionaries(st.sampled_from(ALL_KEYS), ANY_VALUE, max_size=6)
    | ANY_VALUE
)
ANY_EVENT_TYPE = st.sampled_from(EVENT_TYPES) | st.text(max_size=30) | ANY_VALUE


@settings(max_examples=400, deadline=None)
@given(event_type=ANY_EVENT_TYPE, metadata=ANY_METADATA)
def test_clean_event_property_any_input(event_type: object, metadata: object) -> None:
    """Whatever comes in, only allowlisted keys with allowed values come out."""
    result = clean_event(event_type, metadata)
    event, rejections = result
    _assert_no_canary(result)
    if event is None:
        assert rejections == (Rejection(RejectReason.UNKNOWN_EVENT_TYPE, None),)
        return
    assert any(event.event_type is name for name in EVENT_TYPES)
    fields = ALLOWLIST[event.event_type]
    for key, value in event.metadata.items():
        assert type(key) is str
        assert type(value) is str
        field = fields[key]
        if field.kind == "pattern":
            assert PATTERN_ORACLES[key](value)
            assert sensitive_category(value) is None
            assert field.clean(value) == value
        else:
            assert value in field.values
    for rejection in rejections:
        assert isinstance(rejection.reason, RejectReason)
        assert rejection.reason is not RejectReason.UNKNOWN_EVENT_TYPE
        if rejection.key is not None:
            assert rejection.key == UNNAMED_KEY or (
                LABEL_ORACLE.fullmatch(rejection.key)
                and sensitive_category(rejection.key) is None
            )


@settings(max_examples=300, deadline=None)
@given(
    event_type=st.sampled_from(EVENT_TYPES),
    data=st.data(),
)
def test_clean_event_property_valid_input(event_type: str, data: st.DataObject) -> None:
    """Valid values for every key of an event all survive, with no rejections."""
    metadata: dict[str, object] = {}
    for key, field in ALLOWLIST[event_type].items():
        if field.kind == "vocabulary":
            metadata[key] = data.draw(st.sampled_from(field.values))
        elif field.kind == "range":
            metadata[key] = data.draw(
                st.integers(min_value=0) | st.floats(min_value=0, allow_infinity=False)
            )
        elif field.kind == "boolean":
            metadata[key] = data.draw(st.booleans())
        else:
            metadata[key] = data.draw(
                st.sampled_from(
                    ["2.7.0", "1.2.3rc1"]
                    if key == "app_version"
                    else ["TimeoutError", "auth_failed"]
                )
            )
    event, rejections = clean_event(event_type, metadata)
    assert rejections == ()
    assert event is not None
    assert set(event.metadata) == set(metadata)


@settings(max_examples=300, deadline=None)
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


def test_memo_stays_bounded_and_correct() -> None:
    """Many distinct accepted error types never grow the memo past its bound, and answers stay right."""
    names = [f"Error{chr(65 + i // 26)}{chr(65 + i % 26)}Error" for i in range(600)]
    for name in names:
        event, rejections = clean_event("error_occurred", {"error_type": name})
        assert rejections == ()
        assert event is not None
        assert event.metadata == {"error_type": name}
    event, rejections = clean_event("error_occurred", {"error_type": names[0]})
    assert event is not None
    assert event.metadata == {"error_type": names[0]}
