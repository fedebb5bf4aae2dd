"""Property tests: Printernizer's recorded answers, damaged every way, cost no more than the damage.

Each example takes a recorded body, damages some items (types, ranges, years
1 to 9999, offsets, sizes, missing and extra keys, nesting), the page
(pagination, item counts) or the bytes, and reads it as the client does:
`decode_json` on the bytes, then the same parsing `PrinternizerClient` runs
(through a stand-in session for whole listings, so no server per example).
Properties: only `ClientError`s are raised; every undamaged recorded item
within the page's first PAGE_LIMIT is returned with its fields unchanged;
every time and number is None or within its bounds; the counts add up.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
import json
import math
from typing import Any, Self

from hypothesis import HealthCheck, event, given, settings, strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
import pytest

from custom_components.printernizer_stats.errors import (
    ClientError,
    InvalidResponseError,
)
from custom_components.printernizer_stats.printernizer import (
    DEFAULT_RETRY_AFTER,
    MAX_DURATION_SECONDS,
    MAX_FILE_BYTES,
    MAX_ID_LENGTH,
    MAX_PAGES,
    MAX_RESPONSE_BYTES,
    MAX_RETRY_AFTER,
    MAX_UPTIME_SECONDS,
    MAX_WORD_LENGTH,
    MAX_YEAR,
    MIN_YEAR,
    PAGE_LIMIT,
    Discarded,
    File,
    Job,
    Printer,
    PrinternizerClient,
    decode_json,
    parse_files,
    parse_health,
    parse_jobs,
    parse_printers,
    parse_shares_statistics,
    parse_time,
    parse_uptime_seconds,
    retry_after,
)
from custom_components.printernizer_stats.privacy import release
from custom_components.printernizer_stats.vocabulary import (
    FILE_STATUSES,
    JOB_STATUSES,
    PRINTER_STATUSES,
    PRINTER_TYPES,
    UNKNOWN,
)

from .conftest import load_recording, recorded_files_listing
from .hostile_corpus import NUMBER_EDGES

FUZZ = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override conftest's: parsing is free of Home Assistant."""


LISTINGS: dict[str, list[dict[str, Any]]] = {
    "printers": [load_recording(p) for p in ("02d", "03q", "08c")],
    "jobs": [
        load_recording(p) for p in ("03d", "03f", "03h", "03j", "03l", "03m", "03n")
    ],
    "files": [recorded_files_listing()],
}
PARSERS = {"printers": parse_printers, "jobs": parse_jobs, "files": parse_files}
FIELDS = sorted(
    {
        key
        for name, bodies in LISTINGS.items()
        for body in bodies
        for item in body[name]
        for key in item
    }
)

# --- hostile values -------------------------------------------------------------------

DATETIMES = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)
)
OFFSETS = st.none() | st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
TIMESTAMPS = st.builds(
    lambda moment, zone, sep: moment.replace(tzinfo=zone).isoformat(sep=sep),
    DATETIMES,
    OFFSETS,
    st.sampled_from("T "),
)
EDGES = st.sampled_from(NUMBER_EDGES)
WORDS = st.sampled_from(
    [
        "",
        " ",
        "x" * 10_000,
        "ü" * 300,
        "\udcff",
        "\x00",
        "completed ",
        "ONLINE",
        "DOWNLOADED",
        "bambu_lab",
        "2026-11-30T00:51:22",
        "2026-11-30 00:52:08",
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "CANARY-NAME",
        *PRINTER_STATUSES,
        *JOB_STATUSES,
        *FILE_STATUSES,
    ]
)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | EDGES
    | st.text(max_size=12)
    | WORDS
    | TIMESTAMPS
)
JSON = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(
        st.sampled_from(FIELDS) | st.text(max_size=6), children, max_size=3
    ),
    max_leaves=6,
)


# Strategies built once: building them inside a draw costs more than the test.
PICK = st.integers(0, 2**16)
ACTIONS = st.sampled_from(["set", "set", "set", "drop", "add", "replace", "wrap"])
KEYS = st.text(max_size=10)
PAGINATION = st.fixed_dictionaries({"total_pages": JSON | EDGES | st.integers()}) | JSON
PADDING = st.sampled_from([0, 0, 0, 1, PAGE_LIMIT - 3, PAGE_LIMIT, 2 * PAGE_LIMIT])
RECORDED_PAGES = {key: st.sampled_from(bodies) for key, bodies in LISTINGS.items()}


def _pick[T](draw: st.DrawFn, choices: list[T]) -> T:
    """One of `choices` (which may be empty only when never drawn from)."""
    return choices[draw(PICK) % len(choices)]


def _damaged_item(draw: st.DrawFn, item: dict[str, Any]) -> Any:
    """The item with one to three of: a field set, a field removed, a key added, the item replaced or wrapped."""
    damaged: Any = copy.deepcopy(item)
    for _ in range(1 + draw(PICK) % 3):
        action = draw(ACTIONS) if isinstance(damaged, dict) else "replace"
        if action == "set":
            damaged[_pick(draw, sorted(damaged) or FIELDS)] = draw(JSON)
        elif action == "drop" and damaged:
            del damaged[_pick(draw, sorted(damaged))]
        elif action == "add":
            damaged[draw(KEYS)] = draw(JSON)
        elif action == "replace":
            damaged = draw(JSON)
        elif action == "wrap":
            damaged = _pick(draw, [[damaged], {"item": damaged}, {"id": damaged}])
    return damaged


@dataclass
class Damaged:
    """A damaged listing page and what must survive it."""

    body: Any
    # Position in the page → the model of the undamaged recorded item there.
    intact: dict[int, Any] = field(default_factory=dict)


@st.composite
def damaged_pages(draw: st.DrawFn, key: str) -> Damaged:
    """A recorded page with damaged items, junk between them, padding and a damaged pagination block."""
    body = copy.deepcopy(draw(RECORDED_PAGES[key]))
    entries: list[tuple[Any, Any]] = []
    for item in body[key]:
        (pristine,) = PARSERS[key]({key: [item]})
        if draw(st.booleans()):
            entries.append((_damaged_item(draw, item), None))
        else:
            entries.append((item, pristine))
    for _ in range(draw(PICK) % 4):
        entries.insert(draw(PICK) % (len(entries) + 1), (draw(JSON), None))
    at = draw(PICK) % (len(entries) + 1)
    entries[at:at] = [
        ({"id": f"pad-{i}", "status": "completed"}, None) for i in range(draw(PADDING))
    ]
    body[key] = [entry for entry, _ in entries]
    page = Damaged(
        body,
        {pos: model for pos, (_, model) in enumerate(entries) if model is not None},
    )
    if draw(st.booleans()):
        body["pagination"] = draw(PAGINATION)
    if draw(PICK) % 10 == 0:
        body[key] = draw(JSON)
        page.intact = {}
    if draw(PICK) % 20 == 0:
        page.body = draw(JSON)
        page.intact = {}
    return page


# --- what every model must satisfy -------------------------------------------------------


def _check_time(value: datetime | None) -> None:
    assert value is None or (
        value.tzinfo is None and MIN_YEAR <= value.year <= MAX_YEAR
    )


def _check_number(value: float | None, maximum: float) -> None:
    assert value is None or (
        type(value) is float and 0 <= value <= maximum and math.copysign(1, value) == 1
    )


def _check_id(value: str | None) -> None:
    assert value is None or (type(value) is str and 0 < len(value) <= MAX_ID_LENGTH)


def _check(model: Printer | Job | File) -> None:
    """Every field of a model within its bounds."""
    _check_id(model.id)
    assert model.id is not None
    match model:
        case Printer():
            assert model.printer_type in (*PRINTER_TYPES, UNKNOWN)
            assert model.status in (*PRINTER_STATUSES, UNKNOWN)
        case Job():
            _check_id(model.printer_id)
            assert model.printer_type in (*PRINTER_TYPES, UNKNOWN)
            assert model.status in (*JOB_STATUSES, UNKNOWN)
            _check_number(model.duration_seconds, MAX_DURATION_SECONDS)
            _check_time(model.created)
            _check_time(model.finished)
        case File():
            assert model.status in (*FILE_STATUSES, UNKNOWN)
            _check_number(model.size_bytes, MAX_FILE_BYTES)
            _check_time(model.downloaded)


def _encode(body: Any, ascii_only: bool) -> bytes:
    """JSON bytes as a server may send them (lone surrogates make invalid UTF-8)."""
    return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def _read_page(key: str, page: Damaged, ascii_only: bool) -> None:
    """Decode and parse one damaged page, then check the properties."""
    decoded = decode_json(_encode(page.body, ascii_only))
    if ascii_only:
        assert decoded is not None or page.body is None
    discarded = Discarded()
    listed = decoded.get(key) if isinstance(decoded, dict) else None
    if not isinstance(listed, list):
        with pytest.raises(InvalidResponseError, match="not_a_listing"):
            PARSERS[key](decoded, discarded)
        return
    models = PARSERS[key](decoded, discarded)
    event(f"intact items: {bool(page.intact)}, page full: {len(models) == PAGE_LIMIT}")
    assert len(models) <= PAGE_LIMIT
    assert discarded.skipped == {
        k: len(listed) - len(models) if k == key else 0 for k in PARSERS
    }
    for position, model in page.intact.items():
        if position < PAGE_LIMIT:
            assert model in models
    for model in models:
        _check(model)


# --- listings ---------------------------------------------------------------------------


@FUZZ
@given(damaged_pages("jobs"), st.booleans())
def test_fuzz_jobs(page: Damaged, ascii_only: bool) -> None:
    """Damaged job pages: the undamaged recorded jobs are returned unchanged."""
    _read_page("jobs", page, ascii_only)


@FUZZ
@given(damaged_pages("printers"), st.booleans())
def test_fuzz_printers(page: Damaged, ascii_only: bool) -> None:
    """Damaged printer pages: the undamaged recorded printers are returned unchanged."""
    _read_page("printers", page, ascii_only)


@FUZZ
@given(damaged_pages("files"), st.booleans())
def test_fuzz_files(page: Damaged, ascii_only: bool) -> None:
    """Damaged file pages: the undamaged recorded files are returned unchanged."""
    _read_page("files", page, ascii_only)


@FUZZ
@given(
    st.sampled_from(sorted(LISTINGS)),
    st.data(),
    st.integers(0, 20),
    st.binary(min_size=1, max_size=8),
    st.sampled_from(["insert", "replace", "truncate", "nest"]),
)
def test_fuzz_listing_bytes(
    key: str, data: st.DataObject, where: int, junk: bytes, how: str
) -> None:
    """Damaged bytes of a recorded page (not JSON, bad UTF-8, nested deep): a ClientError at most."""
    raw = json.dumps(data.draw(st.sampled_from(LISTINGS[key]))).encode()
    at = len(raw) * where // 20
    if how == "insert":
        raw = raw[:at] + junk + raw[at:]
    elif how == "replace":
        raw = raw[:at] + junk + raw[at + len(junk) :]
    elif how == "truncate":
        raw = raw[:at]
    else:
        depth = data.draw(st.integers(1, 200_000))
        raw = raw.replace(b"null", b"[" * depth + b"]" * depth, 1)
    try:
        models = PARSERS[key](decode_json(raw), Discarded())
    except ClientError:
        return
    for model in models:
        _check(model)


# --- the client's whole read: pages, sizes, total_pages ---------------------------------


class _Stream:
    """A response body handed out in 64 KiB reads, as aiohttp's stream does."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self.given = 0

    async def read(self, size: int) -> bytes:
        chunk = self._body[self.given : self.given + min(size, 65_536)]
        self.given += len(chunk)
        return chunk


class _Response:
    """Just what the client touches of aiohttp's response."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status = status
        self.headers = CIMultiDictProxy(CIMultiDict(headers))
        self.content = _Stream(body)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


@dataclass
class _Session:
    """Serves page N of `pages` (the last one past the end); no socket is opened."""

    pages: list[tuple[int, bytes, bool]]
    asked: list[int] = field(default_factory=list)
    responses: list[_Response] = field(default_factory=list)

    def get(self, url: str, *, params: dict[str, int], **kwargs: Any) -> _Response:
        assert url == "http://127.0.0.1:1/api/v1/jobs"
        assert params["limit"] == PAGE_LIMIT
        self.asked.append(params["page"])
        status, body, declared = self.pages[min(params["page"], len(self.pages)) - 1]
        headers = {"Content-Length": str(len(body))} if declared else {}
        self.responses.append(_Response(status, body, headers))
        return self.responses[-1]


@FUZZ
@given(
    st.lists(
        st.tuples(
            damaged_pages("jobs"),
            st.sampled_from([200, 200, 200, 200, 429, 404, 500]),
            st.sampled_from([None, None, None, -1, 0, 1, 8 * MAX_RESPONSE_BYTES]),
            st.booleans(),
        ),
        min_size=1,
        max_size=MAX_PAGES + 1,
    )
)
def test_fuzz_client_listing(
    pages: list[tuple[Damaged, int, int | None, bool]],
) -> None:
    """Whole listings through the client: at most MAX_PAGES requests, never more than cap + 1 bytes read, only ClientErrors."""
    served = []
    for page, status, size, declared in pages:
        raw = _encode(page.body, ascii_only=True)
        if size is not None:
            # The page padded to the cap, one byte less or more, or 8 MiB over it.
            raw += b" " * max(0, MAX_RESPONSE_BYTES - len(raw) + size)
        served.append((status, raw, declared))
    session = _Session(served)
    client = PrinternizerClient(session, "http://127.0.0.1:1")  # type: ignore[arg-type]
    try:
        jobs = asyncio.run(client.jobs())
    except ClientError as err:
        event(f"refused: {err.reason}")
        jobs = None
    else:
        event(f"read {len(session.asked)} page(s)")
    assert 1 <= len(session.asked) <= MAX_PAGES
    assert session.asked == list(range(1, len(session.asked) + 1))
    assert all(r.content.given <= MAX_RESPONSE_BYTES + 1 for r in session.responses)
    if jobs is None:
        return
    assert len(jobs) <= PAGE_LIMIT * MAX_PAGES
    for job in jobs:
        _check(job)
    for number in session.asked:
        page = pages[min(number, len(pages)) - 1][0]
        for position, model in page.intact.items():
            if position < PAGE_LIMIT:
                assert model in jobs


# --- single values ----------------------------------------------------------------------


@FUZZ
@given(
    DATETIMES,
    OFFSETS,
    st.sampled_from("T "),
    st.sampled_from(["auto", "seconds", "milliseconds", "minutes"]),
)
def test_fuzz_parse_time(
    moment: datetime, zone: timezone | None, sep: str, timespec: str
) -> None:
    """Any year 1-9999 with any offset: naive UTC within 2000-2099, else None; never an exception."""
    text = moment.replace(tzinfo=zone).isoformat(sep=sep, timespec=timespec)
    written = datetime.fromisoformat(text).replace(tzinfo=None)
    try:
        expected: datetime | None = written - (
            zone.utcoffset(None) if zone else timedelta(0)
        )
    except OverflowError:
        expected = None
    if expected is not None and not MIN_YEAR <= expected.year <= MAX_YEAR:
        expected = None
    assert parse_time(text) == expected


@FUZZ
@given(JSON)
def test_fuzz_parse_time_any_value(value: object) -> None:
    """Any JSON value: None or a naive time within range."""
    _check_time(parse_time(value))


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["Retry-After", "X-RateLimit-Reset", "X-RateLimit-Limit"]),
        st.text(max_size=14)
        | st.integers(-(10**30), 10**30).map(str)
        | st.sampled_from(
            ["1", "0", " 7 ", "\u0661", "²", "9" * 400, "1e300", "inf", "nan"]
        ),
    ),
    st.sampled_from([load_recording("06a"), load_recording("06c")]),
    JSON | EDGES,
    st.booleans(),
)
def test_fuzz_retry_after(
    headers: dict[str, str], recorded: dict[str, Any], wait: object, replace: bool
) -> None:
    """Any headers and any retry_after_seconds: whole seconds from 0 to 5 minutes."""
    body = copy.deepcopy(recorded)
    if replace:
        body["details"] = wait
    else:
        body["details"]["retry_after_seconds"] = wait
    waited = retry_after(headers, decode_json(_encode(body, ascii_only=True)))
    assert timedelta(0) <= waited <= MAX_RETRY_AFTER
    assert waited.microseconds == 0
    if (
        not headers
        and not replace
        and isinstance(wait, int | float)
        and not isinstance(wait, bool)
    ):
        if wait >= 0:
            assert waited == timedelta(seconds=math.ceil(min(wait, 300)))
        else:
            assert waited == DEFAULT_RETRY_AFTER


@FUZZ
@given(
    st.sampled_from([load_recording(p) for p in ("01", "01d", "05b", "06b", "08a")]),
    st.sampled_from(["status", "version", "uptime_seconds", "opted_in", "extra"]),
    JSON | EDGES,
    st.booleans(),
)
def test_fuzz_single_values(
    recorded: dict[str, Any], key: str, value: object, whole: bool
) -> None:
    """Health, uptime and sharing from damaged bodies: bounded values or InvalidResponseError."""
    body = value if whole else recorded | {key: value}
    decoded = decode_json(_encode(body, ascii_only=True))
    discarded = Discarded()
    try:
        health = parse_health(decoded)
    except InvalidResponseError:
        assert not isinstance(decoded, dict) or not isinstance(
            decoded.get("status"), str
        )
    else:
        assert len(health.status) <= MAX_WORD_LENGTH
        assert health.version == UNKNOWN or health.version == release(health.version)
    uptime = parse_uptime_seconds(decoded, discarded)
    _check_number(uptime, MAX_UPTIME_SECONDS)
    assert discarded.values_dropped in (0, 1)
    assert parse_shares_statistics(decoded) in (True, False, None)
    if (
        not whole
        and key == "uptime_seconds"
        and type(value) is int
        and 0 <= value <= MAX_UPTIME_SECONDS
    ):
        assert uptime == value


def test_fuzz_recorded_untouched() -> None:
    """The oracle itself: every recorded page parses to its items, nothing skipped or dropped."""
    for key, bodies in LISTINGS.items():
        for body in bodies:
            discarded = Discarded()
            models = PARSERS[key](body, discarded)
            assert len(models) == len(body[key]) > 0
            assert discarded == Discarded()
