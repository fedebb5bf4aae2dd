"""Property test (issue 15, a): a damaged storage file costs no more than the damage.

One Home Assistant (the `hass` fixture) first lives through four real weeks
with Printernizer's simulator and two statistics services (emulators): events
on many days, a report sent to service B, delete_all while B fails to erase,
the endpoint changed to A, weekly reports accepted by A, and A down when the
last one is due. The storage file it leaves is the base: counters over many
days, tracker marks, Printernizer's facts, a pending report, kept reports
with their bodies, ids at two services, an erasure and the clock.

Each example damages the base at one to three random places (types, sizes,
dates of years 1 to 9999, full-width digits, right-to-left marks, emoji,
nesting, missing and extra keys, renamed keys, a canary "CANARY-Jane-Doe"),
sets the entry up on it again in the same Home Assistant, and checks:

* set-up succeeds (the entry is LOADED);
* every undamaged unit is kept: each untouched day row, total, rejection
  count, tracker mark, the facts, the pending report (same idempotency key,
  same bytes), each kept report (same bytes), each id at a service and each
  erasure;
* export (admin and non-admin), preview, diagnostics, sent_reports,
  submit_now and the entities' states answer, and every string in them (and
  in any report the emulator received) is one of our words or shapes; the
  canary is nowhere in them, in what the emulator received or in the log;
* what is written back reads back with nothing dropped.

Two kinds of value are not ours to check against a list, and are allowed
where they are shown (the canary included): a submission id (the service's
own answer, kept by the rule it is received with, shown to admins only) and
the origin of a valid endpoint the damaged file names for an id (a stored
recipient's service is shown by its origin; whether it was ever configured
is only known to the config entry, see the notes of the change that brought
this test).

Hypothesis drives synchronous functions only, so the test body is
synchronous and each example runs its coroutine on the idle hass loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import copy
from datetime import date, datetime, timedelta
import json
import re
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.printernizer_stats.const import (
    CONF_ENDPOINT,
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    ISSUE_STORAGE,
)
from custom_components.printernizer_stats.delivery import REASONS, origin
from custom_components.printernizer_stats.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.printernizer_stats.errors import CannotConnectError
from custom_components.printernizer_stats.report import verify_report
from custom_components.printernizer_stats.stats_api import validate_endpoint
from custom_components.printernizer_stats.storage import STORAGE_KEY, parse
from custom_components.printernizer_stats.submission import SubmissionManager
from simulator.printernizer import PrinternizerSimulator
from simulator.stats_service import StatsServiceEmulator

from .conftest import API_KEY, advance, call_action, make_entry, serve, setup_entry
from .seen import CANARY, CANARY_RE, WORDS, shaped

START = "2026-11-02 10:00:00+00:00"
pytestmark = pytest.mark.freeze_time(START)

# The canary in any case or spelling a parser might turn it into.
SECTIONS = ("counters", "tracker", "facts", "delivery", "clock")
# What the repair may say was dropped: our own unit words, never a value.
_PART_RE = re.compile(
    r"(?:counters|tracker|facts|delivery|clock): [A-Za-z ]+(?: \([0-9]+\))?"
)
EXAMPLES = 500


@pytest.fixture
def stats_service() -> StatsServiceEmulator:
    """Service A, without a rate limit: every report an example sends is stored and read."""
    return StatsServiceEmulator(api_keys={API_KEY}, rate_limit_per_hour=10**9)


# --- the words and shapes allowed in what the user sees ----------------------------


_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_NUMBER_RE = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?")
# A reason as delivery.py keeps one: one of its codes, or an HTTP status.
_HTTP_REASON_RE = re.compile(r"http_[1-5][0-9]{2}")


class Outputs:
    """Checks every string the user, the log or a service sees.

    `known` are the strings of the baseline outputs (field and entity names,
    the configured services' origins, ...) without the canary; `origins` the
    services the damaged file names for its ids: shown by their origin, as a
    recipient's service is (a known gap: see the report that came with this).
    """

    def __init__(self, known: frozenset[str], origins: frozenset[str]) -> None:
        """Remember what is allowed."""
        self.known = known
        self.origins = origins

    def allowed(self, text: str, key: str | None) -> bool:
        """One of our words or shapes (`key`: the field it is the value of)."""
        if text in WORDS or text in self.known:
            return True
        if key == "sha256":
            return bool(_SHA256_RE.fullmatch(text))
        if key == "last_error":
            return text in REASONS or bool(_HTTP_REASON_RE.fullmatch(text))
        return shaped(text)

    def check(self, value: object, *, admin: bool, where: str = "") -> None:
        """Every key and string in `value`; report bodies are checked as reports."""
        for path, key, text in _strings(value):
            here = f"{where}{path}"
            if key == "body" and text.startswith("{"):
                report = json.loads(text)
                verify_report(report)
                self.check(report, admin=admin, where=f"{here}:")
                continue
            if key == "submission_id" and admin:
                # The service's own answer, kept by the rule it was received
                # with (short, printable), shown to admins only (see the report).
                assert len(text) <= 64
                assert text.isprintable()
                continue
            if text in self.origins and (
                key == "service" or "pending_erasures" in path
            ):
                # Where a service is shown, by its origin (see the report).
                continue
            assert self.allowed(text, key), f"{here}: {text!r}"
            assert not CANARY_RE.search(text), f"{here}: {text!r}"


def _strings(
    value: object, path: str = "", key: str | None = None
) -> Iterator[tuple[str, str | None, str]]:
    """(path, the field it is the value of, string) for every key and string in a JSON value.

    An object's keys are yielded as values of no field; a list's items as
    values of the list's field.
    """
    if isinstance(value, str):
        yield path, key, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield f"{path}.{name}", None, str(name)
            yield from _strings(item, f"{path}.{name}", str(name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}", key)


# --- damage ---------------------------------------------------------------------

type Path = tuple[str | int, ...]

_INSERTS = [
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\U0001f642",  # emoji
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",  # a family (joined emoji)
    "\uff12\uff10\uff12\uff16",  # 2026 in full-width digits
    "\u0661\u0662",  # Arabic-Indic digits
    "\x00",
    " ",
    "e\u0301",
    CANARY,
    f"{CANARY}@example.com",
]
_FULL_WIDTH = str.maketrans(
    "0123456789", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19"
)


@st.composite
def _dates(draw: st.DrawFn) -> str:
    """A day or time of any year from 1 to 9999, in our form or almost."""
    year = draw(st.integers(1, 9999))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    text = draw(
        st.sampled_from(
            [
                f"{year:04d}-{month:02d}-{day:02d}",
                f"{year}-{month}-{day}",
                f"{year:04d}-{month:02d}-{day:02d}T00:00:00+00:00",
                f"{year:04d}-{month:02d}-{day:02d}T23:59:59-14:00",
                f"{year:04d}-{month:02d}-{day:02d}T12:00:00",
                f"{year:04d}-{month:02d}-{day:02d}T12:00:00Z",
                f"{year:04d}-W{day:02d}",
                f"{year:04d}-{month:02d}-{day:02d} ",
            ]
        )
    )
    return text.translate(_FULL_WIDTH) if draw(st.booleans()) else text


def _nested(depth: int, leaf: object) -> object:
    """A value nested `depth` lists and objects deep."""
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"x": value}
    return value


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([-1, 0, 1, 2**31, 2**63, 10**15 - 1, 10**15, 10**300]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(_INSERTS),
    _dates(),
)


@st.composite
def _hostile(draw: st.DrawFn, base_leaves: list[object]) -> object:
    """A value to put where another was: any type, size, date, text, nesting."""
    kind = draw(st.integers(0, 9))
    if kind <= 3:
        return draw(_SCALARS)
    if kind == 4:
        return draw(st.sampled_from(base_leaves))
    if kind == 5:
        return "x" * draw(st.integers(1_000, 120_000))
    if kind == 6:
        return draw(
            st.sampled_from(
                [[0] * 5_000, list(range(2_000)), {str(n): n for n in range(2_000)}]
            )
        )
    if kind == 7:
        return _nested(draw(st.integers(1, 400)), draw(_SCALARS))
    if kind == 8:
        return draw(
            st.lists(_SCALARS, max_size=4)
            | st.dictionaries(
                st.text(max_size=6) | st.sampled_from(_INSERTS), _SCALARS, max_size=4
            )
        )
    return draw(
        st.sampled_from(
            [
                CANARY,
                f"{CANARY}@example.com",
                f"https://{CANARY}.example/submit",
                f"http://127.0.0.1:1/{CANARY}",
                f'{{"customer": "{CANARY}"}}',
                f"2.42.0-{CANARY}",
                "19.07.1985",
                "555.123.4567",
            ]
        )
    )


def _nodes(value: object, path: Path = ()) -> Iterator[Path]:
    """Every path into a JSON value (the value itself first)."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _nodes(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nodes(item, (*path, index))


def _leaves(value: object) -> list[object]:
    """The base file's strings and numbers: plausible values from elsewhere."""
    found: list[object] = []
    for path in _nodes(value):
        item = _at(value, path)
        if isinstance(item, str | int) and not isinstance(item, bool):
            found.append(item)
    return found


def _at(value: Any, path: Path) -> Any:
    """The value at a path."""
    for key in path:
        value = value[key]
    return value


@st.composite
def _damage(
    draw: st.DrawFn, base: dict[str, Any], leaves: list[object]
) -> tuple[dict[str, Any], list[Path]]:
    """The base data damaged at one to three places; and the paths damaged.

    A damaged path is a unit replaced, removed, edited or added: every unit
    neither on such a path nor under one is undamaged. Paths are those of
    the base (an item that moved up a list when another was removed is still
    named by its place in the base; an insertion damages no existing item).
    """
    data = copy.deepcopy(base)
    # Every container of the copy by identity, with its place in the base
    # (the containers are kept alive here, so no identity is reused).
    known = {
        id(node): (path, node)
        for path in _nodes(data)
        if isinstance(node := _at(data, path), dict | list)
    }
    damaged: list[Path] = []
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from([*SECTIONS, "", "delivery", "counters"]))
        root: Path = (section,) if isinstance(data, dict) and section in data else ()
        paths = list(_nodes(_at(data, root), root))
        path = draw(st.sampled_from(paths))
        node = _at(data, path)
        parent = _at(data, path[:-1]) if path else None
        ops = ["replace", "wrap"]
        if path:
            ops += ["delete", "rename"] if isinstance(parent, dict) else ["delete"]
        if isinstance(node, str):
            ops += ["insert_text", "insert_canary", "full_width", "year"]
        if isinstance(node, dict):
            ops += ["add_key", "add_key"]
        if isinstance(node, list):
            ops += ["insert_item", "duplicate"]
        op = draw(st.sampled_from(ops))
        where = _in_base(data, path, known)
        if op == "add_key":
            key = draw(
                st.sampled_from(
                    [CANARY, "\u200f", "9999-99-99", "extra", "2026-11-25", *_INSERTS]
                )
                | st.text(max_size=8)
            )
            node[key] = draw(_hostile(leaves))
            damaged.append((*where, key))
            continue
        if op in ("insert_item", "duplicate"):
            index = draw(st.integers(0, len(node)))
            item = (
                copy.deepcopy(node[draw(st.integers(0, len(node) - 1))])
                if op == "duplicate" and node
                else draw(_hostile(leaves))
            )
            node.insert(index, item)
            damaged.append((*where, "<inserted>"))
            continue
        if op == "rename":
            assert isinstance(parent, dict)
            new_key = draw(
                st.sampled_from(
                    [
                        CANARY,
                        "2026-11-19",
                        "\u200f",
                        path[-1] + " " if isinstance(path[-1], str) else "x",
                    ]
                )
                | _dates()
                | st.text(max_size=8)
            )
            parent[new_key] = parent.pop(path[-1])
            damaged += [where, (*where[:-1], new_key)]
            continue
        damaged.append(where)
        if op == "delete":
            if isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
            continue
        if op == "replace":
            new: object = draw(_hostile(leaves))
        elif op == "wrap":
            new = draw(st.sampled_from([[node], {"value": node}]))
        elif op in ("insert_text", "insert_canary"):
            at = draw(st.integers(0, len(node)))
            text = CANARY if op == "insert_canary" else draw(st.sampled_from(_INSERTS))
            new = node[:at] + text + node[at:]
        elif op == "full_width":
            new = node.translate(_FULL_WIDTH)
        else:
            new = re.sub(
                r"[0-9]{4}",
                lambda _: f"{draw(st.integers(1, 9999)):04d}",
                node,
                count=1,
            )
        if path:
            parent[path[-1]] = new
        else:
            data = new  # type: ignore[assignment]
    return data, damaged


def _in_base(data: object, path: Path, known: dict[int, tuple[Path, object]]) -> Path:
    """Where the value at `path` (in the damaged copy) was in the base."""
    found, rest = (known[id(data)][0], 0) if id(data) in known else ((), 0)
    node: Any = data
    for depth, key in enumerate(path):
        node = node[key]
        if id(node) in known:
            found, rest = known[id(node)][0], depth + 1
    return (*found, *path[rest:])


def _intact(unit: Path, damaged: list[Path]) -> bool:
    """No damaged path is the unit, inside it, or around it."""
    return not any(
        path[: len(unit)] == unit or unit[: len(path)] == path for path in damaged
    )


# --- the real run that makes the base file ------------------------------------------


def _fire(hass: HomeAssistant, event_type: str, **metadata: Any) -> None:
    """One event on the bus."""
    hass.bus.async_fire(
        EVENT_PRINTERNIZER_STATS, {"event_type": event_type, "metadata": metadata}
    )


def _a_day_of_use(
    hass: HomeAssistant, printernizer: PrinternizerSimulator, day: int
) -> None:
    """Events of all kinds with metadata, and a job at Printernizer."""
    _fire(
        hass,
        "app_start",
        app_version="2.42.0",
        deployment_mode="docker",
        library_enabled="true",
    )
    for _ in range(day % 3 + 1):
        _fire(
            hass, "job_completed", printer_type="bambu_lab", duration_minutes=20 + day
        )
    _fire(hass, "job_failed", printer_type="prusa_core", duration_minutes=200)
    _fire(hass, "file_downloaded", printer_type="octoprint", size_bytes=5_000_000)
    _fire(hass, "error_occurred", error_type="TimeoutError", component="mqtt")
    _fire(hass, "feature_enabled", feature="timelapse")
    if day % 4 == 0:
        _fire(hass, "error_occurred", error_type="Jane Doe's printer caught fire")
        _fire(hass, "job_completed", printer_type="lathe", nickname=CANARY)
    printernizer.add_job(status="completed")


async def _real_run(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    printernizer: PrinternizerSimulator,
    service_a: StatsServiceEmulator,
    endpoint_a: str,
    service_b: StatsServiceEmulator,
    endpoint_b: str,
) -> None:
    """Four weeks of use; ends unloaded at 2026-11-26 12:00 with a pending report."""
    await setup_entry(hass, entry)
    day = 0
    # To 2026-11-04 10:00: a report of 11-03 to B.
    for _ in range(8):
        _a_day_of_use(hass, printernizer, day := day + 1)
        await advance(hass, freezer, timedelta(hours=6))
    assert (await call_action(hass, "submit_now"))["submitted"]
    # delete_all while B cannot erase: the first id waits at B.
    service_b.fail_next(503, times=10**6, endpoint="delete")
    await call_action(hass, "delete_all")
    # A day later the new id's first report also goes to B, then A is configured.
    for _ in range(4):
        _a_day_of_use(hass, printernizer, day := day + 1)
        await advance(hass, freezer, timedelta(hours=6))
    assert (await call_action(hass, "submit_now"))["submitted"]
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_ENDPOINT: endpoint_a}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    # Weekly reports to A until 11-25 ends; A is down when the last week is due.
    while datetime.now().date() < date(2026, 11, 25):
        _a_day_of_use(hass, printernizer, day := day + 1)
        await advance(hass, freezer, timedelta(hours=6))
    service_a.down = True
    await advance(hass, freezer, timedelta(hours=36))
    service_a.down = False
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    # Two hours on (Home Assistant was off): the hour since the last attempt is up.
    freezer.tick(timedelta(hours=2))
    assert len(service_a.submissions) == 2
    assert len(service_b.submissions) == 2


# --- one example ------------------------------------------------------------------


async def _look(
    hass: HomeAssistant, entry: MockConfigEntry, user: MockUser
) -> dict[str, Any]:
    """Everything the user can see of a loaded entry (each must answer)."""
    states = {
        state.entity_id: {"state": state.state, "attributes": dict(state.attributes)}
        for state in hass.states.async_all("sensor")
        if state.entity_id.startswith("sensor.printernizer_usage_statistics")
    }
    return {
        "export": await call_action(hass, "export"),
        "preview": await call_action(hass, "preview"),
        "diagnostics": await async_get_config_entry_diagnostics(hass, entry),
        "sent_reports": await call_action(hass, "sent_reports"),
        "states": json.loads(json.dumps(states, default=str)),
        "user_export": await call_action(hass, "export", user=user),
        "user_preview": await call_action(hass, "preview", user=user),
    }


def _recipients(export: dict[str, Any]) -> list[dict[str, Any]]:
    return export["submission"]["ids_at_services"]


class Example:
    """Runs one damaged file through Home Assistant and checks what comes out."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MockConfigEntry,
        user: MockUser,
        service_a: StatsServiceEmulator,
        caplog: pytest.LogCaptureFixture,
        hass_storage: dict[str, Any],
        erased: list[tuple[str, str]],
    ) -> None:
        """Keep the Home Assistant and its parts that every example uses."""
        self.hass = hass
        self.entry = entry
        self.user = user
        self.service_a = service_a
        self.caplog = caplog
        self.hass_storage = hass_storage
        self.erased = erased
        self.entry_data = dict(entry.data)
        self.document: dict[str, Any] = {}

    def reset(self, data: object) -> None:
        """The damaged file in place; entry, repairs, service and log as before the first."""
        self.hass_storage[STORAGE_KEY] = {**self.document, "data": data}
        self.hass.config_entries.async_update_entry(self.entry, data=self.entry_data)
        for domain, issue_id in list(ir.async_get(self.hass).issues):
            if domain == DOMAIN:
                ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        self.service_a.submissions.clear()
        self.service_a.log.clear()
        self.service_a.received.clear()
        self.erased.clear()
        self.caplog.clear()

    async def run(self, data: object) -> dict[str, Any]:
        """Set up on the file, look, send, unload; return what was seen."""
        self.reset(data)
        hass, entry = self.hass, self.entry
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        delivery = entry.runtime_data.storage.data.delivery
        pending = delivery.pending
        issue = ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_STORAGE)
        seen = await self._look_safely()
        seen["parts"] = (
            None if issue is None else (issue.translation_placeholders or {})["parts"]
        )
        seen["pending"] = (
            None if pending is None else (pending.idempotency_key, pending.body)
        )
        seen["submit_now"] = await call_action(hass, "submit_now")
        seen["received"] = [
            {"raw": s.raw.decode(), "key": s.idempotency_key}
            for s in self.service_a.submissions
        ]
        seen["erased"] = list(self.erased)
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        written = self.hass_storage[STORAGE_KEY]["data"]
        # Whatever was read back can be written, and reads back whole.
        assert parse(written, dt_util.utcnow())[1].summary() == []
        seen["log"] = "\n".join(
            record.getMessage()
            for record in self.caplog.records
            # The test harness's mock storage logs whole documents at DEBUG.
            if not record.name.startswith("pytest_homeassistant_custom_component")
        )
        return seen

    async def _look_safely(self) -> dict[str, Any]:
        """Look at everything (raising is a failure in itself)."""
        return await _look(self.hass, self.entry, self.user)


def _units(
    base: dict[str, Any], seen: dict[str, Any]
) -> dict[Path, Callable[[dict[str, Any]], bool]]:
    """Each unit of the base file, and how to tell that it was kept."""
    export = seen["export"]
    units: dict[Path, Callable[[dict[str, Any]], bool]] = {}
    for day in base["counters"]["days"]:
        units[("counters", "days", day)] = lambda s, day=day: (
            s["export"]["counters_by_day"].get(day) == export["counters_by_day"][day]
        )
    for name in ("totals", "rejected"):
        shown = "totals" if name == "totals" else "rejected_events"
        for key in base["counters"][name]:
            units[("counters", name, key)] = lambda s, shown=shown, key=key: (
                s["export"][shown].get(key) == export[shown][key]
            )
    for key in ("job_mark", "file_mark", "connected"):
        units[("tracker", key)] = lambda s, key=key: (
            s["export"]["tracker"][key] == export["tracker"][key]
        )
    units[("tracker", "started")] = units[("tracker", "up_until")] = lambda s: (
        (s["export"]["tracker"]["started"], s["export"]["tracker"]["up_until"])
        == (export["tracker"]["started"], export["tracker"]["up_until"])
    )
    for key in ("app_version", "fleet", "shares_statistics"):
        units[("facts", key)] = lambda s, key=key: (
            s["export"]["printernizer"][key] == export["printernizer"][key]
        )
    units[("delivery", "pending")] = lambda s: s["pending"] == seen["pending"]
    for index, sent in enumerate(base["delivery"]["history"]):
        units[("delivery", "history", index)] = lambda s, sent=sent: any(
            report["body"] == sent["body"]
            and report["period"]["start"] == sent["start"]
            for report in s["sent_reports"]["reports"]
        )
    for index, item in enumerate(base["delivery"]["recipients"]):
        shown = {
            "installation_id": item["installation_id"],
            "service": origin(item["endpoint"]),
        }
        units[("delivery", "recipients", index)] = (
            lambda s, shown=shown: shown in _recipients(s["export"])
        )
    for index, item in enumerate(base["delivery"]["erasures"]):
        shown = {
            "installation_id": item["installation_id"],
            "service": origin(item["endpoint"]),
        }
        units[("delivery", "erasures", index)] = lambda s, shown=shown: any(
            {k: e[k] for k in shown} == shown
            for e in s["export"]["submission"]["pending_erasures"]
        )
    return units


def _dependencies(unit: Path) -> list[Path]:
    """Other units a unit is read with (a pending report is built under the id)."""
    if unit[:2] == ("delivery", "pending"):
        return [unit, ("delivery", "installation_id")]
    if unit[:2] == ("counters", "days"):
        return [unit, ("counters", "columns")]
    if unit in (("tracker", "started"), ("tracker", "up_until")):
        # One run of Printernizer: a start after its end drops both.
        return [("tracker", "started"), ("tracker", "up_until")]
    return [unit]


def _named_origins(data: object) -> frozenset[str]:
    """Origins of the valid endpoints a (damaged) file names for its ids."""
    found = set()
    for path in _nodes(data):
        value = _at(data, path)
        if isinstance(value, str) and "endpoint" in map(str, path):
            try:
                found.add(origin(validate_endpoint(value)))
            except ValueError:
                continue
    return frozenset(found)


def test_storage_fuzz(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    printernizer: PrinternizerSimulator,
    stats_service: StatsServiceEmulator,
    stats_endpoint: str,
    hass_storage: dict[str, Any],
    hass_read_only_user: MockUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Any damage to a real storage file: set-up works, undamaged units stay, nothing leaks."""
    loop = hass.loop
    service_b = StatsServiceEmulator(api_keys={API_KEY})
    server_b = loop.run_until_complete(serve(service_b.app))
    endpoint_b = str(server_b.make_url("/submit"))
    entry = make_entry(
        printernizer_url, {**opted_in_options, CONF_ENDPOINT: endpoint_b}
    )
    loop.run_until_complete(
        _real_run(
            hass,
            freezer,
            entry,
            printernizer,
            stats_service,
            stats_endpoint,
            service_b,
            endpoint_b,
        )
    )
    # From here on Printernizer is down (what was stored stays as stored) and
    # any service but A is unreachable (a damaged file may name any host).
    printernizer.available = False
    erased: list[tuple[str, str]] = []
    configured = SubmissionManager._client_for

    def client_for(manager: SubmissionManager, endpoint: str) -> Any:
        if endpoint == manager.endpoint:
            return configured(manager, endpoint)

        class Unreachable:
            async def erase(self, installation_id: str) -> None:
                erased.append((endpoint, installation_id))
                raise CannotConnectError("connection_error")

        return Unreachable()

    example = Example(
        hass, entry, hass_read_only_user, stats_service, caplog, hass_storage, erased
    )
    example.document = {
        k: v for k, v in hass_storage[STORAGE_KEY].items() if k != "data"
    }
    base = copy.deepcopy(hass_storage[STORAGE_KEY]["data"])
    leaves = _leaves(base)
    with patch.object(SubmissionManager, "_client_for", client_for):
        baseline = loop.run_until_complete(example.run(copy.deepcopy(base)))
        _check_baseline(base, baseline)
        known = frozenset(
            text
            for name in (
                "export",
                "preview",
                "diagnostics",
                "sent_reports",
                "states",
                "user_export",
                "submit_now",
            )
            for _, _, text in _strings(baseline[name])
            if not CANARY_RE.search(text)
        ) | {
            origin(stats_service_url)
            for stats_service_url in (stats_endpoint, endpoint_b)
        }
        units = _units(base, baseline)

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=[
                HealthCheck.function_scoped_fixture,
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
            ],
            database=None,
            # The same examples on every run: CI checks the tallies below, which
            # a new random draw could push under their floors.
            derandomize=True,
        )
        @given(st.data())
        def damaged_file(data: st.DataObject) -> None:
            damaged_data, damaged = data.draw(_damage(base, leaves))
            seen = loop.run_until_complete(example.run(damaged_data))
            tally["examples"] += 1
            tally["repaired"] += seen["parts"] is not None
            tally["sent"] += bool(seen["received"])
            tally["pending kept"] += seen["pending"] == baseline["pending"]
            tally["canary"] += CANARY in repr(damaged_data)
            if seen["parts"] is not None:
                for part in seen["parts"].split("; "):
                    assert _PART_RE.fullmatch(part), part
            outputs = Outputs(known, _named_origins(damaged_data))
            for name in (
                "export",
                "preview",
                "diagnostics",
                "sent_reports",
                "states",
                "submit_now",
            ):
                outputs.check(seen[name], admin=True, where=name)
            for name in ("user_export", "user_preview"):
                outputs.check(seen[name], admin=False, where=name)
                assert "sent_reports" not in seen[name]
            for received in seen["received"]:
                assert not CANARY_RE.search(received["raw"])
                report = json.loads(received["raw"])
                verify_report(report)
                outputs.check(report, admin=False, where="received")
            assert not CANARY_RE.search(seen["log"]), seen["log"]
            for unit, kept in units.items():
                if all(_intact(part, damaged) for part in _dependencies(unit)):
                    assert kept(seen), (unit, damaged)
            if seen["pending"] is not None and seen["pending"] == baseline["pending"]:
                # The untouched pending report is what leaves (if anything does:
                # damage elsewhere may stop sending), byte for byte, same key.
                assert seen["received"] in ([], baseline["received"])

        tally = dict.fromkeys(
            ("examples", "repaired", "sent", "pending kept", "canary"), 0
        )
        damaged_file()
    loop.run_until_complete(server_b.close())
    # The examples did what they are for: damage that was noticed, reports
    # that left, pending reports kept and lost, canaries.
    print(f"storage fuzz: {tally}")  # noqa: T201
    assert tally["examples"] >= EXAMPLES
    assert all(tally[name] >= EXAMPLES // 50 for name in tally), tally
    assert tally["pending kept"] <= tally["examples"] - EXAMPLES // 50, tally


def _check_baseline(base: dict[str, Any], seen: dict[str, Any]) -> None:
    """The real run left every kind of unit, and the undamaged file loses nothing."""
    assert len(base["counters"]["days"]) >= 20
    assert base["tracker"]["job_mark"] is not None
    assert base["facts"]["fleet"]
    delivery = base["delivery"]
    assert delivery["pending"] is not None
    assert [sent["body"] is not None for sent in delivery["history"]] == [True] * 3
    assert len(delivery["recipients"]) == 3
    assert len(delivery["erasures"]) == 1
    assert base["clock"]["high_water"] is not None
    assert seen["pending"] is not None
    assert seen["submit_now"]["reason"] == "sent"
    (received,) = seen["received"]
    assert received["key"] == delivery["pending"]["idempotency_key"]
    assert received["raw"] == delivery["pending"]["body"]
    assert seen["diagnostics"]["submission"]["pending_erasures"]


def test_damage_paths_name_places_in_the_base() -> None:
    """The fuzz's own bookkeeping: a damaged item is named by its place in the base."""
    base: dict[str, Any] = {"history": [{"n": 0}, {"n": 1}, {"n": 2}], "days": {"a": 1}}
    data = copy.deepcopy(base)
    known = {
        id(node): (path, node)
        for path in _nodes(data)
        if isinstance(node := _at(data, path), dict | list)
    }
    del data["history"][0]
    assert _in_base(data, ("history", 0), known) == ("history", 1)
    assert _in_base(data, ("history", 1, "n"), known) == ("history", 2, "n")
    data["history"].insert(0, {"n": 9})
    assert _in_base(data, ("history", 0), known) == ("history", 0)
    assert _in_base(data, ("history", 1), known) == ("history", 1)
    data["days"] = [data["days"]]
    assert _in_base(data, ("days", 0, "a"), known) == ("days", "a")
    assert _intact(("history", 2), [("history", 1)])
    assert not _intact(("history", 2), [("history",)])
    assert not _intact(("history", 2), [("history", 2, "n")])
