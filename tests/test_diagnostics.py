"""Tests for the config entry diagnostics."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.matchers import path_type

from custom_components.printernizer_stats.const import (
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    SERVICE_SUBMIT_NOW,
)
from simulator.stats_service import StatsServiceEmulator

from .conftest import API_KEY

pytestmark = pytest.mark.freeze_time("2026-11-27 12:00:00+00:00")


@pytest.fixture
def mock_config_entry(
    mock_config_entry: MockConfigEntry, opted_in_options: dict[str, Any]
) -> MockConfigEntry:
    """The entry of a user who opted in (so there is an installation id)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=mock_config_entry.title,
        data=dict(mock_config_entry.data),
        options=opted_in_options,
        entry_id=mock_config_entry.entry_id,
    )


async def _record_and_fail_submission(
    hass: HomeAssistant, stats_service: StatsServiceEmulator, status: int
) -> None:
    """Record a few events (some refused), then have a submission fail."""
    for event_type, metadata in (
        ("job_completed", {"printer_type": "prusa_core", "duration_minutes": 42}),
        ("job_completed", {"printer_type": "bambu_lab", "customer_name": "Alice"}),
        ("file_downloaded", {"printer_type": "octoprint", "size_bytes": 2048}),
        ("made_up_event", {}),
    ):
        hass.bus.async_fire(
            EVENT_PRINTERNIZER_STATS,
            {"event_type": event_type, "metadata": metadata},
        )
    await hass.async_block_till_done()
    stats_service.fail_next(status, retry_after="3600")
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            DOMAIN, SERVICE_SUBMIT_NOW, blocking=True, return_response=True
        )


async def test_entry_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    snapshot: SnapshotAssertion,
) -> None:
    """Diagnostics show storage, refusals, the pending report and the next report."""
    await _record_and_fail_submission(hass, stats_service, 429)

    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, init_integration
    )

    assert diagnostics["rejected_events"]
    assert diagnostics["storage"]["days"] == 1
    assert diagnostics["submission"]["pending"]["attempts"] == 1
    assert diagnostics["submission"]["state"] == "retrying"
    assert diagnostics["next_report"]["period"]["duration_days"] == 25
    assert diagnostics == snapshot(
        matcher=path_type({"entry.options.endpoint": (str,)})
    )


@pytest.mark.parametrize("status", [401, 429])
async def test_entry_diagnostics_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    printernizer_url: str,
    stats_service: StatsServiceEmulator,
    status: int,
) -> None:
    """No identifier, key or address reaches the diagnostics."""
    await _record_and_fail_submission(hass, stats_service, status)
    data = init_integration.runtime_data
    pending = data.submission.pending
    assert pending is not None
    secrets = {
        "installation id": data.storage.data.installation_id,
        "idempotency key": pending.idempotency_key,
        "API key": API_KEY,
        "Printernizer URL": printernizer_url,
        "Printernizer address": printernizer_url.removeprefix("http://"),
    }
    if status == 401:
        secrets["credentials hash"] = data.storage.data.submission["failed_with"]

    text = json.dumps(
        await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    )

    assert all(secrets.values())
    assert [name for name, value in secrets.items() if value in text] == []
    assert "customer_name" not in text
    assert "Alice" not in text
