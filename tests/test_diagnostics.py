"""Tests for the config entry diagnostics."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.printernizer_stats.const import (
    CONF_API_KEY,
    CONF_ENDPOINT,
    DEFAULT_ENDPOINT,
    DOMAIN,
    ENV_ENDPOINT,
    EVENT_PRINTERNIZER_STATS,
    SERVICE_DELETE_ALL,
    SERVICE_SUBMIT_NOW,
)
from custom_components.printernizer_stats.storage import STORAGE_KEY
from simulator.stats_service import StatsServiceEmulator

from .conftest import API_KEY, make_entry, setup_entry

pytestmark = pytest.mark.freeze_time("2026-11-04 10:00:00+00:00")

SELF_HOSTED = "https://stats.printshop-jane.example/api/submit"


async def _opted_in_with_pending_report(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> MockConfigEntry:
    """Opt in, record events (some refused), and have a submission fail."""
    entry = await setup_entry(hass, make_entry(printernizer_url, opted_in_options))
    for event_type, metadata in (
        ("job_completed", {"printer_type": "prusa_core", "duration_minutes": 42}),
        ("job_completed", {"printer_type": "bambu_lab", "customer_name": "Jane Doe"}),
        ("file_downloaded", {"printer_type": "octoprint", "size_bytes": 2048}),
        ("Jane Doe's event", {}),
    ):
        hass.bus.async_fire(
            EVENT_PRINTERNIZER_STATS, {"event_type": event_type, "metadata": metadata}
        )
    await hass.async_block_till_done()
    stats_service.fail_next(503)
    answer = await hass.services.async_call(
        DOMAIN, SERVICE_SUBMIT_NOW, blocking=True, return_response=True
    )
    assert answer is not None
    assert answer["reason"] == "retry_later"
    return entry


async def test_entry_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    snapshot: SnapshotAssertion,
) -> None:
    """Diagnostics show storage, refusals, the pending report and the next report."""
    entry = await _opted_in_with_pending_report(
        hass, printernizer_url, opted_in_options, stats_service
    )

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    assert diagnostics["entry"]["options"][CONF_ENDPOINT] == {
        "scheme": "http",
        "is_default": False,
    }
    assert diagnostics["submission"]["pending"]["attempts"] == 1
    assert diagnostics == snapshot


@pytest.mark.parametrize("delete", [False, True])
async def test_entry_diagnostics_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_storage: dict[str, Any],
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    delete: bool,
) -> None:
    """No identifier, key or address reaches the diagnostics."""
    entry = await _opted_in_with_pending_report(
        hass, printernizer_url, opted_in_options, stats_service
    )
    if delete:
        stats_service.down = True
        await hass.services.async_call(
            DOMAIN, SERVICE_DELETE_ALL, blocking=True, return_response=True
        )
    delivery = hass_storage[STORAGE_KEY]["data"]["delivery"]
    secrets = {
        "installation id": delivery["installation_id"],
        "Printernizer URL": printernizer_url,
        "Printernizer address": printernizer_url.removeprefix("http://"),
        "API key": API_KEY,
        "endpoint": entry.options[CONF_ENDPOINT],
    }
    for index, sent in enumerate(entry.data["service_ids"]):
        secrets[f"service id {index}"] = sent["installation_id"]
    if delete:
        assert delivery["pending"] is None
        assert [e["installation_id"] for e in delivery["erasures"]] == [
            sent["installation_id"] for sent in entry.data["service_ids"]
        ]
    else:
        secrets["idempotency key"] = delivery["pending"]["idempotency_key"]
    assert all(secrets.values())

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = json.dumps(diagnostics)

    assert [name for name, value in secrets.items() if value in text] == []
    for text_seen in ("127.0.0.1", "customer_name", "Jane"):
        assert text_seen not in text
    assert diagnostics["entry"]["data"]["service_ids"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["service_keys"] == "**REDACTED**"
    erasures = diagnostics["submission"]["pending_erasures"]
    assert [e["service"] for e in erasures] == (["**REDACTED**"] if delete else [])
    assert diagnostics["entry"]["options"][CONF_API_KEY] == "**REDACTED**"


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        (SELF_HOSTED, {"scheme": "https", "is_default": False}),
        (DEFAULT_ENDPOINT, {"scheme": "https", "is_default": True}),
        (None, {"scheme": "https", "is_default": True}),
    ],
)
async def test_entry_diagnostics_endpoint(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    monkeypatch: pytest.MonkeyPatch,
    printernizer_url: str,
    entry_options: dict[str, Any],
    endpoint: str | None,
    expected: dict[str, Any],
) -> None:
    """Only the scheme and whether it is the default are shown, never the host."""
    monkeypatch.delenv(ENV_ENDPOINT, raising=False)
    options = {**entry_options, CONF_ENDPOINT: endpoint}
    if endpoint is None:
        del options[CONF_ENDPOINT]
    entry = await setup_entry(hass, make_entry(printernizer_url, options))

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    assert diagnostics["entry"]["options"][CONF_ENDPOINT] == expected
    text = json.dumps(diagnostics)
    assert "printshop" not in text
    assert "stats.printernizer.com" not in text
