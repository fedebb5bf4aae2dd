"""Erasure follows the data: each id is erased at the service that received it, with its key (issue 17).

Two (or three) emulators run as real HTTP servers on loopback, each on its
own port and accepting only its own key: A (where the reports went), B (the
endpoint the user changed to) and C (a further change).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
import json
from typing import Any
from unittest.mock import patch
import uuid

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.printernizer_stats.consent import CONF_SHARE
from custom_components.printernizer_stats.const import (
    CONF_API_KEY,
    CONF_ENDPOINT,
    DATA_SERVICE_IDS,
    DATA_SERVICE_KEYS,
    SERVICE_DELETE_ALL,
)
from custom_components.printernizer_stats.delivery import Recipient, origin
from custom_components.printernizer_stats.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.printernizer_stats.storage import STORAGE_KEY
from simulator.stats_service import StatsServiceEmulator

from .conftest import (
    API_KEY,
    advance,
    call_action,
    export_answer,
    make_entry,
    next_minute,
    opt_out,
    restart,
    serve,
    setup_entry,
)

KEY_B = "key-of-b"
KEY_C = "key-of-c"
SHARING = "sensor.printernizer_usage_statistics_sharing_status"

pytestmark = [
    pytest.mark.freeze_time("2026-11-02 08:00:00+00:00"),
    pytest.mark.usefixtures("printernizer_down"),
]


@pytest.fixture
def stats_service() -> StatsServiceEmulator:
    """Service A (the conftest endpoint): accepts API_KEY only."""
    return StatsServiceEmulator(api_keys={API_KEY})


async def _served(service: StatsServiceEmulator) -> AsyncIterator[str]:
    """A service's submit URL on loopback while the test runs."""
    server = await serve(service.app)
    yield str(server.make_url("/submit"))
    await server.close()


@pytest.fixture
def service_b() -> StatsServiceEmulator:
    """Service B: accepts its own key only."""
    return StatsServiceEmulator(api_keys={KEY_B})


@pytest.fixture
async def endpoint_b(
    service_b: StatsServiceEmulator, socket_enabled: None
) -> AsyncIterator[str]:
    """B's submit URL (another port)."""
    async for url in _served(service_b):
        yield url


@pytest.fixture
def service_c() -> StatsServiceEmulator:
    """Service C: accepts its own key only."""
    return StatsServiceEmulator(api_keys={KEY_C})


@pytest.fixture
async def endpoint_c(
    service_c: StatsServiceEmulator, socket_enabled: None
) -> AsyncIterator[str]:
    """C's submit URL (a third port)."""
    async for url in _served(service_c):
        yield url


async def change_endpoint(
    hass: HomeAssistant, entry: MockConfigEntry, endpoint: str, key: str
) -> None:
    """The user points sharing at another service in the options, still sharing (the entry reloads)."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SHARE: True, CONF_ENDPOINT: endpoint, CONF_API_KEY: key},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.submission.endpoint == endpoint


async def delete_all(hass: HomeAssistant, user: MockUser) -> dict[str, Any]:
    """The delete_all action, as an admin."""
    answer = await call_action(hass, SERVICE_DELETE_ALL, user=user)
    assert answer is not None
    return dict(answer)


def state(entry: MockConfigEntry) -> Any:
    """The delivery state of the loaded entry."""
    return entry.runtime_data.storage.data.delivery


async def sent_to_a(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    service_a: StatsServiceEmulator,
) -> str:
    """Share with A for a week: A stores one report; return its installation id."""
    await setup_entry(hass, entry)
    await advance(hass, freezer, timedelta(days=8))
    (submission,) = service_a.submissions
    endpoint_a = entry.options[CONF_ENDPOINT]
    assert entry.data[DATA_SERVICE_IDS] == [
        {"installation_id": submission.installation_id, "endpoint": endpoint_a}
    ]
    assert entry.data[DATA_SERVICE_KEYS] == {endpoint_a: API_KEY}
    return submission.installation_id


def erasures_of(
    service: StatsServiceEmulator, installation_id: str
) -> list[str | None]:
    """The keys of every erasure request for one id that reached a service."""
    return [key for sid, key in service.erasure_keys if sid == installation_id]


@pytest.mark.parametrize("a_answers", [200, 404])
async def test_delete_all_after_an_endpoint_change_erases_at_a(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    stats_endpoint: str,
    service_b: StatsServiceEmulator,
    endpoint_b: str,
    hass_admin_user: MockUser,
    a_answers: int,
) -> None:
    """Reports to A, endpoint changed to B: delete_all asks A, with A's key; B hears nothing of the id.

    A 404 from A (which received the id) is erased too.
    """
    sent_id = await sent_to_a(hass, freezer, entry, stats_service)
    await change_endpoint(hass, entry, endpoint_b, KEY_B)
    # A's key stays in the entry while A holds the id; B has none of ours.
    assert entry.data[DATA_SERVICE_KEYS] == {stats_endpoint: API_KEY}
    if a_answers == 404:
        stats_service.fail_next(404, endpoint="delete")

    answer = await delete_all(hass, hass_admin_user)

    assert answer["service_erasure"] == "erased"
    assert erasures_of(stats_service, sent_id) == [API_KEY]
    if a_answers == 200:
        assert stats_service.submissions_for(sent_id) == []
    assert erasures_of(service_b, sent_id) == []
    assert state(entry).erasures == []
    assert state(entry).recipients == []
    assert entry.data[DATA_SERVICE_IDS] == []
    assert entry.data[DATA_SERVICE_KEYS] == {}


async def test_only_a_confirms_and_a_pending_erasure_outlives_restarts_and_changes(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    stats_endpoint: str,
    service_b: StatsServiceEmulator,
    endpoint_b: str,
    service_c: StatsServiceEmulator,
    endpoint_c: str,
    hass_admin_user: MockUser,
) -> None:
    """A is down: B (which would answer 404) is never asked; the erasure waits for A, through restarts and another change."""
    sent_id = await sent_to_a(hass, freezer, entry, stats_service)
    await change_endpoint(hass, entry, endpoint_b, KEY_B)
    stats_service.down = True
    # A real B answers 404 for an id it never saw: that must not count.
    service_b.fail_next(404, endpoint="delete", times=100)

    answer = await delete_all(hass, hass_admin_user)

    assert answer["service_erasure"] == "pending"
    assert erasures_of(service_b, sent_id) == []
    assert [(e.installation_id, e.endpoint) for e in state(entry).erasures] == [
        (sent_id, stats_endpoint)
    ]
    assert entry.data[DATA_SERVICE_KEYS] == {stats_endpoint: API_KEY}
    assert entry.data[DATA_SERVICE_IDS] == [
        {"installation_id": sent_id, "endpoint": stats_endpoint, "erase": True}
    ]
    await _shows_pending_at(hass, freezer, entry, stats_endpoint, sent_id)

    await restart(hass, entry)
    await advance(hass, freezer, timedelta(hours=6))
    await change_endpoint(hass, entry, endpoint_c, KEY_C)
    await advance(hass, freezer, timedelta(hours=6))
    await restart(hass, entry)
    await advance(hass, freezer, timedelta(hours=6))

    assert [e.recipient for e in state(entry).erasures] == [
        Recipient(sent_id, stats_endpoint)
    ]
    assert entry.data[DATA_SERVICE_KEYS] == {stats_endpoint: API_KEY}
    await _shows_pending_at(hass, freezer, entry, stats_endpoint, sent_id)
    assert erasures_of(stats_service, sent_id) == []  # A was down: nothing arrived

    stats_service.down = False
    await advance(hass, freezer, timedelta(days=1))

    assert erasures_of(stats_service, sent_id) == [API_KEY]
    assert stats_service.deleted_ids == [sent_id]
    assert erasures_of(service_b, sent_id) == []
    assert erasures_of(service_c, sent_id) == []
    assert state(entry).erasures == []
    assert entry.data[DATA_SERVICE_KEYS] == {}
    assert entry.data[DATA_SERVICE_IDS] == []
    await next_minute(hass, freezer)
    assert hass.states.get(SHARING).attributes["pending_erasures"] == {}


async def _shows_pending_at(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    endpoint: str,
    installation_id: str,
) -> None:
    """The sensor, the export and diagnostics show one erasure pending at that service: origin only, no key."""
    await next_minute(hass, freezer)
    service = origin(endpoint)
    assert "/submit" not in service
    assert hass.states.get(SHARING).attributes["pending_erasures"] == {service: 1}

    export = await export_answer(hass)
    (pending,) = export["submission"]["pending_erasures"]
    assert pending["installation_id"] == installation_id
    assert pending["service"] == service
    assert API_KEY not in json.dumps(export)

    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    (shown,) = diagnostics["submission"]["pending_erasures"]
    # A self-hosted service is not named in diagnostics; the count is there.
    assert shown["service"] == "**REDACTED**"
    dumped = json.dumps(diagnostics)
    assert API_KEY not in dumped
    assert installation_id not in dumped


async def test_opting_out_after_an_endpoint_change_erases_at_each_service(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    stats_endpoint: str,
    service_b: StatsServiceEmulator,
    endpoint_b: str,
) -> None:
    """Opt-out after a change: A is asked with A's key; B only once it received the id, with B's key."""
    sent_id = await sent_to_a(hass, freezer, entry, stats_service)
    await change_endpoint(hass, entry, endpoint_b, KEY_B)
    await opt_out(hass, entry)
    # The erasure goes out a minute after the reload.
    await advance(hass, freezer, timedelta(minutes=2))

    assert erasures_of(stats_service, sent_id) == [API_KEY]
    assert stats_service.deleted_ids == [sent_id]
    assert erasures_of(service_b, sent_id) == []
    assert state(entry).erasures == []
    assert entry.data[DATA_SERVICE_KEYS] == {}


async def test_opting_out_erases_at_both_services_that_received_the_id(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    stats_endpoint: str,
    service_b: StatsServiceEmulator,
    endpoint_b: str,
) -> None:
    """A week to A, then a week to B under the same id: opting out asks each with its own key."""
    sent_id = await sent_to_a(hass, freezer, entry, stats_service)
    await change_endpoint(hass, entry, endpoint_b, KEY_B)
    await advance(hass, freezer, timedelta(days=7))
    assert [s.installation_id for s in service_b.submissions] == [sent_id]
    assert entry.data[DATA_SERVICE_KEYS] == {
        stats_endpoint: API_KEY,
        endpoint_b: KEY_B,
    }
    stats_service.down = True

    await opt_out(hass, entry)
    await advance(hass, freezer, timedelta(minutes=2))

    assert erasures_of(service_b, sent_id) == [KEY_B]
    assert service_b.submissions_for(sent_id) == []
    assert [e.endpoint for e in state(entry).erasures] == [stats_endpoint]
    # B is done: its key goes; A's stays until A confirms.
    assert entry.data[DATA_SERVICE_KEYS] == {stats_endpoint: API_KEY}

    stats_service.down = False
    await advance(hass, freezer, timedelta(days=1))
    assert erasures_of(stats_service, sent_id)[-1] == API_KEY
    assert stats_service.deleted_ids == [sent_id]
    assert state(entry).erasures == []
    assert entry.data[DATA_SERVICE_KEYS] == {}
    assert entry.data[DATA_SERVICE_IDS] == []


async def test_legacy_bare_ids_are_erased_at_the_current_endpoint(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    stats_endpoint: str,
    hass_admin_user: MockUser,
) -> None:
    """Entry data written before services were recorded: bare ids are taken as sent to the endpoint in use."""
    legacy_id = str(uuid.uuid4())
    entry = make_entry(printernizer_url, opted_in_options, service_ids=[legacy_id])
    await setup_entry(hass, entry)

    assert Recipient(legacy_id, stats_endpoint) in state(entry).recipients
    assert {
        "installation_id": legacy_id,
        "endpoint": stats_endpoint,
    } in entry.data[DATA_SERVICE_IDS]
    assert entry.data[DATA_SERVICE_KEYS] == {stats_endpoint: API_KEY}

    answer = await delete_all(hass, hass_admin_user)

    assert answer["service_erasure"] == "erased"
    assert erasures_of(stats_service, legacy_id) == [API_KEY]
    assert entry.data[DATA_SERVICE_IDS] == []
    assert entry.data[DATA_SERVICE_KEYS] == {}


async def test_damaged_entry_data_is_read_by_the_file_rules(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    stats_endpoint: str,
    endpoint_b: str,
    hass_admin_user: MockUser,
) -> None:
    """Unusable items in the entry are skipped; every usable id is erased where it was sent."""
    legacy_id, at_b = str(uuid.uuid4()), str(uuid.uuid4())
    entry = make_entry(
        printernizer_url,
        opted_in_options,
        reported_until="2026-13-45",
        service_ids=[
            legacy_id,
            "not-an-id",
            42,
            {"installation_id": at_b},
            {"installation_id": at_b, "endpoint": "ftp://example.org/submit"},
            {"installation_id": at_b, "endpoint": endpoint_b},
        ],
        service_keys={endpoint_b: KEY_B},
    )
    await setup_entry(hass, entry)

    assert state(entry).recipients == [
        Recipient(legacy_id, stats_endpoint),
        Recipient(at_b, endpoint_b),
    ]
    assert state(entry).reported_until is None
    assert entry.data[DATA_SERVICE_KEYS] == {
        stats_endpoint: API_KEY,
        endpoint_b: KEY_B,
    }

    answer = await delete_all(hass, hass_admin_user)

    assert answer["service_erasure"] == "erased"
    assert erasures_of(stats_service, legacy_id) == [API_KEY]
    assert entry.data[DATA_SERVICE_IDS] == []
    assert entry.data[DATA_SERVICE_KEYS] == {}


async def test_delete_all_again_while_an_erasure_waits_says_pending(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    stats_endpoint: str,
    hass_admin_user: MockUser,
) -> None:
    """An erasure waiting for its next attempt is not confirmed by a second delete_all."""
    sent_id = await sent_to_a(hass, freezer, entry, stats_service)
    stats_service.down = True
    assert (await delete_all(hass, hass_admin_user))["service_erasure"] == "pending"
    await advance(hass, freezer, timedelta(minutes=10))

    answer = await delete_all(hass, hass_admin_user)

    assert answer["service_erasure"] == "pending"
    assert [e.recipient for e in state(entry).erasures] == [
        Recipient(sent_id, stats_endpoint)
    ]
    stats_service.down = False
    await advance(hass, freezer, timedelta(days=1))
    assert erasures_of(stats_service, sent_id) == [API_KEY]
    assert state(entry).erasures == []


async def test_a_pending_erasure_outlives_a_lost_statistics_file(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    stats_endpoint: str,
    hass_admin_user: MockUser,
    hass_storage: dict[str, Any],
) -> None:
    """The entry marks the ids to erase: a new file still asks A, though sharing goes on."""
    sent_id = await sent_to_a(hass, freezer, entry, stats_service)
    stats_service.down = True
    assert (await delete_all(hass, hass_admin_user))["service_erasure"] == "pending"

    assert await hass.config_entries.async_unload(entry.entry_id)
    hass_storage.pop(STORAGE_KEY)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert [e.recipient for e in state(entry).erasures] == [
        Recipient(sent_id, stats_endpoint)
    ]
    assert state(entry).installation_id not in (None, sent_id)
    stats_service.down = False
    await advance(hass, freezer, timedelta(days=1))
    assert erasures_of(stats_service, sent_id) == [API_KEY]
    assert state(entry).erasures == []
    assert entry.data[DATA_SERVICE_IDS] == []


async def test_a_service_the_entry_never_sent_to_is_never_contacted(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    hass_storage: dict[str, Any],
    hass_admin_user: MockUser,
    stats_endpoint: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hand-edited file naming another host: dropped at set-up, never asked, never shown."""
    planted = str(uuid.uuid4())
    hass_storage[STORAGE_KEY] = {
        "version": 3,
        "minor_version": 2,
        "key": STORAGE_KEY,
        "data": {
            "delivery": {
                "recipients": [
                    {
                        "installation_id": planted,
                        "endpoint": "https://evil.example/submit",
                    }
                ],
                "erasures": [
                    {
                        "installation_id": planted,
                        "endpoint": "https://evil.example/submit",
                        "attempts": 0,
                        "next_attempt": "2026-11-02T08:00:00+00:00",
                    }
                ],
            }
        },
    }
    entry = make_entry(printernizer_url, opted_in_options)
    with patch(
        "custom_components.printernizer_stats.submission.StatsServiceClient.erase"
    ) as erase:
        await setup_entry(hass, entry)
        await advance(hass, freezer, timedelta(minutes=2))
        answer = await delete_all(hass, hass_admin_user)

    assert [call.args for call in erase.call_args_list] == []
    assert answer["service_erasure"] == "not_needed"
    assert state(entry).recipients == []
    assert "evil.example" not in json.dumps(dict(entry.data))
    assert "never sent to" in caplog.text
