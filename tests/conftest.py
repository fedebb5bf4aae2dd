"""Fixtures for the Printernizer Usage Statistics tests."""

from __future__ import annotations

# Import our package before Home Assistant's loader puts the test plugin's own
# `custom_components` (testing_config) first on sys.path.
import custom_components.printernizer_stats  # noqa: F401  # isort: skip

# Diagnostics imports the Supervisor client lazily; its models cannot be built
# while freezegun has replaced datetime, so import it before any test freezes time.
import aiohasupervisor  # noqa: F401  # isort: skip

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
import json
from pathlib import Path
import time
from typing import Any
from unittest.mock import patch

from aiohttp import web
from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.file import WriteError
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.printernizer_stats.consent import (
    CONF_CONSENT_DAY,
    CONF_CONSENT_VERSION,
    CONF_SHARE,
    CONSENT_VERSION,
    Consent,
)
from custom_components.printernizer_stats.const import (
    CONF_API_KEY,
    CONF_CREDENTIALS_GENERATION,
    CONF_ENDPOINT,
    CONF_URL,
    DOMAIN,
    SERVICE_EXPORT,
    SERVICE_RECORD_EVENT,
)
from custom_components.printernizer_stats.storage import STORAGE_KEY
from simulator.printernizer import PrinternizerSimulator, create_app
from simulator.stats_service import StatsServiceEmulator

ENTRY_ID = "01JPRINTERNIZERSTATSENTRY0"
API_KEY = "test-key"
CONSENT_DAY = "2026-11-02"
FIXTURES = Path(__file__).parent / "fixtures"
# Within one run the trusted clock holds back steps larger than this (clock.py):
# tests move time in steps no larger, as a running Home Assistant does.
MAX_TICK = timedelta(hours=6)


def load_fixture(name: str) -> Any:
    """A recorded response of the real Printernizer 2.42.0 (tests/fixtures/printernizer)."""
    return json.loads((FIXTURES / "printernizer" / name).read_text(encoding="utf-8"))


def load_recording(prefix: str) -> Any:
    """The recording named `prefix`_*.json (tests/fixtures/printernizer), e.g. "03l"."""
    (path,) = (FIXTURES / "printernizer").glob(f"{prefix}_*.json")
    return load_fixture(path.name)


def recorded_files_listing() -> dict[str, Any]:
    """A /files page of the recorded file object in its listed forms.

    /files never listed a file in the recordings; a printer's file has a
    download time, in Printernizer's two timestamp formats.
    """
    upload = load_recording("04e")
    return {
        "files": [
            upload,
            upload | {"id": "p1_part.3mf", "downloaded_at": "2026-11-30 00:52:08"},
            upload | {"id": "p2_part.3mf", "downloaded_at": "2026-11-30T00:52:09"},
        ],
        "total_count": 3,
        "pagination": {"page": 1, "limit": 100, "total_items": 3, "total_pages": 1},
    }


def load_schema() -> dict[str, Any]:
    """The real statistics service's request schema (tests/fixtures/contract)."""
    schema: dict[str, Any] = json.loads(
        (FIXTURES / "contract" / "aggregation-submit.schema.json").read_text(
            encoding="utf-8"
        )
    )
    return schema


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components."""


@pytest.fixture(autouse=True)
def boot_clock_follows_frozen_time() -> Iterator[None]:
    """The suspend-aware clock (CLOCK_BOOTTIME) follows the test's clock.

    Under freezegun `time.monotonic()` moves with the frozen wall clock, so a
    tick is real time passing (as a suspend is); tests that jump only the
    wall clock replace `storage.wall_clock`.
    """
    with patch(
        "custom_components.printernizer_stats.storage.boot_seconds",
        lambda: time.monotonic(),
    ):
        yield


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Store snapshots in tests/snapshots, as Home Assistant core does."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


async def serve(app: web.Application) -> TestServer:
    """Start an aiohttp app on 127.0.0.1 (never anywhere else).

    Home Assistant's test plugin blocks sockets; `socket_enabled` lifts that,
    while its allow-list still limits connections to 127.0.0.1.
    """
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
def printernizer() -> PrinternizerSimulator:
    """A Printernizer with three printers (one of each type), controllable by tests."""
    return PrinternizerSimulator(seed=1, printers=3)


@pytest.fixture
async def printernizer_url(
    printernizer: PrinternizerSimulator, socket_enabled: None
) -> AsyncIterator[str]:
    """The simulator, served over real HTTP on loopback."""
    server = await serve(create_app(printernizer))
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
def stats_service() -> StatsServiceEmulator:
    """The statistics service emulator (accepts API key "test-key")."""
    return StatsServiceEmulator(api_keys={API_KEY})


@pytest.fixture
async def stats_endpoint(
    stats_service: StatsServiceEmulator, socket_enabled: None
) -> AsyncIterator[str]:
    """The emulator's submit URL on loopback."""
    server = await serve(stats_service.app)
    yield str(server.make_url("/submit"))
    await server.close()


@pytest.fixture
def entry_options(stats_endpoint: str) -> dict[str, Any]:
    """Options of a user who did not opt in."""
    return {
        CONF_SHARE: False,
        CONF_CONSENT_VERSION: None,
        CONF_CONSENT_DAY: None,
        CONF_ENDPOINT: stats_endpoint,
        CONF_API_KEY: API_KEY,
        CONF_CREDENTIALS_GENERATION: 0,
    }


@pytest.fixture
def opted_in_options(entry_options: dict[str, Any]) -> dict[str, Any]:
    """Options of a user who opted in on CONSENT_DAY."""
    return {
        **entry_options,
        CONF_SHARE: True,
        CONF_CONSENT_VERSION: CONSENT_VERSION,
        CONF_CONSENT_DAY: CONSENT_DAY,
    }


def make_entry(url: str, options: dict[str, Any], **data: Any) -> MockConfigEntry:
    """A config entry pointing at a Printernizer."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Printernizer Usage Statistics",
        data={CONF_URL: url, **data},
        options=options,
        entry_id=ENTRY_ID,
    )


@pytest.fixture
def entry(printernizer_url: str, opted_in_options: dict[str, Any]) -> MockConfigEntry:
    """An entry of a user who agreed on CONSENT_DAY (reports start the day after)."""
    return make_entry(printernizer_url, opted_in_options)


@pytest.fixture
def printernizer_down(printernizer: PrinternizerSimulator) -> None:
    """Polls fail fast, so only what a test fires or stores is counted."""
    printernizer.available = False


@pytest.fixture
def mock_config_entry(
    printernizer_url: str, entry_options: dict[str, Any]
) -> MockConfigEntry:
    """A config entry pointing at the simulator, not sharing."""
    return make_entry(printernizer_url, entry_options)


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add the entry (once) and set it up."""
    if entry.entry_id not in {e.entry_id for e in hass.config_entries.async_entries()}:
        entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


async def restart(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Unload and set up again; storage carries over as after an HA restart."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> MockConfigEntry:
    """The integration, set up and loaded."""
    return await setup_entry(hass, mock_config_entry)


@pytest.fixture
def store_writes() -> Iterator[list[dict[str, Any]]]:
    """Every write of our storage file (other Stores are left alone).

    Store._async_write_data takes (path, data) before Home Assistant 2026.x
    and (data) after; the spy passes whatever it gets through.
    """
    writes: list[dict[str, Any]] = []
    mocked_write = Store._async_write_data

    async def spy(store: Store[Any], *args: Any) -> None:
        await mocked_write(store, *args)
        if store.key == STORAGE_KEY:
            writes.append(args[-1])

    with patch.object(Store, "_async_write_data", spy):
        yield writes


@contextmanager
def full_disk(while_: Callable[[], bool] = lambda: True) -> Iterator[None]:
    """Our storage file cannot be written while `while_()` holds (other Stores are left alone)."""
    original = Store._async_write_data

    async def write(store: Store[Any], *args: Any) -> None:
        if store.key == STORAGE_KEY and while_():
            raise WriteError("No space left on device")
        await original(store, *args)

    with patch.object(Store, "_async_write_data", write):
        yield


async def call_action(
    hass: HomeAssistant,
    service: str,
    data: Any = None,
    *,
    user: MockUser | None = None,
    user_id: str | None = None,
) -> Any:
    """Call one of our actions as a user (with a response, where it has one) and wait for it."""
    if user is not None:
        user_id = user.id
    return await hass.services.async_call(
        DOMAIN,
        service,
        data if data is not None else {},
        blocking=True,
        context=Context(user_id=user_id),
        return_response=service != SERVICE_RECORD_EVENT,
    )


async def export_answer(
    hass: HomeAssistant, user: MockUser | None = None
) -> dict[str, Any]:
    """The export action's answer (no user: Home Assistant itself, an admin)."""
    response = await call_action(hass, SERVICE_EXPORT, user=user)
    assert response is not None
    return dict(response)


async def opt_out(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """The user switches sharing off in the options (the entry reloads)."""
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, **Consent().answered(False, date(2026, 1, 1))}
    )
    await hass.async_block_till_done(wait_background_tasks=True)


async def advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta
) -> None:
    """Move time in steps of at most MAX_TICK, firing due timers and waiting for their work.

    Timers that the fired work sets for a moment already passed within the
    step fire too (at the step's end), as they would have in real time.
    """
    while delta > timedelta(0):
        step = min(delta, MAX_TICK)
        delta -= step
        freezer.tick(step)
        for _ in range(3):
            async_fire_time_changed(hass)
            await hass.async_block_till_done(wait_background_tasks=True)


def publish(hass: HomeAssistant) -> None:
    """Show now what the next whole minute will show (no time moves, nothing is polled)."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            entry.runtime_data.coordinator._async_minute(dt_util.utcnow())


async def next_minute(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Move to the next whole minute and let the entities show what changed.

    Entity states change only on the whole minute (coordinator.py).
    """
    now = dt_util.utcnow()
    freezer.move_to(now.replace(second=0, microsecond=0) + timedelta(minutes=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def settle(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Wait for background work, moving the clock while a request hangs.

    The frozen clock also freezes the event loop's, so a request to a slow
    server only times out when time is moved while it waits.
    """
    waiter = asyncio.ensure_future(
        hass.async_block_till_done(wait_background_tasks=True)
    )
    loop = asyncio.get_running_loop()
    waited = 0.0
    while not waiter.done():
        await loop.run_in_executor(None, time.sleep, 0.001)
        waited += 0.001
        if waited >= 0.02 and not waiter.done():
            freezer.tick(timedelta(seconds=15))
            waited = 0.0
    await waiter
