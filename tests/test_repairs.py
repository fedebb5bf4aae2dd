"""Tests for the repair issues and their fix flows."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    CLIENT_ID,
    MockConfigEntry,
    MockUser,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.printernizer_stats.const import (
    CONF_API_KEY,
    CONF_CONSENT_DAY,
    CONF_CONSENT_VERSION,
    CONF_SHARE,
    CONSENT_VERSION,
    DOMAIN,
    SERVICE_SUBMIT_NOW,
)
from custom_components.printernizer_stats.repairs import async_create_fix_flow
from simulator.stats_service import StatsServiceEmulator

from .conftest import CONSENT_DAY, advance, setup_entry

SHARING_STATUS = "sensor.printernizer_usage_statistics_sharing_status"
NOW = "2026-11-27 12:00:00+00:00"
TODAY = "2026-11-27"


async def _setup(
    hass: HomeAssistant, printernizer_url: str, options: dict[str, Any]
) -> MockConfigEntry:
    """Set up the repairs component and an entry with these options."""
    assert await async_setup_component(hass, "repairs", {})
    return await setup_entry(hass, printernizer_url, options)


async def _fix(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    issue_id: str,
    user_input: dict[str, Any],
) -> dict[str, Any]:
    """Run a fix flow through the repairs HTTP API as an admin; return its form.

    The token is made now because the tests move the clock past the lifetime
    of the fixture's token.
    """
    refresh_token = await hass.auth.async_create_refresh_token(
        hass_admin_user, CLIENT_ID
    )
    client = await hass_client(hass.auth.async_create_access_token(refresh_token))
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    assert response.status == HTTPStatus.OK
    form = await response.json()
    assert form["type"] == "form"
    assert form["step_id"] == "init"

    response = await client.post(
        f"/api/repairs/issues/fix/{form['flow_id']}", json=user_input
    )
    assert response.status == HTTPStatus.OK
    result = await response.json()
    assert result["type"] == "create_entry"
    await hass.async_block_till_done(wait_background_tasks=True)
    return dict(form)


async def _submit_now(hass: HomeAssistant) -> dict[str, Any]:
    """Call the submit_now action."""
    response = await hass.services.async_call(
        DOMAIN, SERVICE_SUBMIT_NOW, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


@pytest.mark.parametrize(
    ("share", "status", "consent_version", "consent_day"),
    [
        (True, "opted_in", CONSENT_VERSION, TODAY),
        (False, "opted_out", None, None),
    ],
)
async def test_reconsent_fix_flow(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    share: bool,
    status: str,
    consent_version: int | None,
    consent_day: str | None,
) -> None:
    """An outdated consent pauses sharing until the user answers the disclosure again."""
    freezer.move_to(NOW)
    entry = await _setup(
        hass,
        printernizer_url,
        {**opted_in_options, CONF_CONSENT_VERSION: CONSENT_VERSION - 1},
    )
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "reconsent_required")
    assert issue is not None
    assert issue.is_fixable
    assert hass.states.get(SHARING_STATUS).state == "paused"
    with pytest.raises(ServiceValidationError):
        await _submit_now(hass)
    await advance(hass, freezer, timedelta(hours=1))
    assert stats_service.log == []

    form = await _fix(
        hass, hass_client, hass_admin_user, "reconsent_required", {CONF_SHARE: share}
    )

    assert form["data_schema"][0]["name"] == CONF_SHARE
    assert form["data_schema"][0]["default"] is False
    assert entry.state is ConfigEntryState.LOADED
    assert entry.options[CONF_SHARE] is share
    assert entry.options[CONF_CONSENT_VERSION] == consent_version
    assert entry.options[CONF_CONSENT_DAY] == consent_day
    assert ir.async_get(hass).async_get_issue(DOMAIN, "reconsent_required") is None
    assert hass.states.get(SHARING_STATUS).state == status


async def test_api_key_fix_flow(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """A refused key stops submissions until a new one is entered in the repair."""
    freezer.move_to(NOW)
    stats_service.api_keys = {"other-key"}
    entry = await _setup(hass, printernizer_url, opted_in_options)
    with pytest.raises(HomeAssistantError):
        await _submit_now(hass)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "api_key_rejected")
    assert issue is not None
    assert issue.is_fixable
    assert issue.severity is ir.IssueSeverity.ERROR
    runtime_data = entry.runtime_data
    assert runtime_data.submission.sharing_status == "failing"

    form = await _fix(
        hass,
        hass_client,
        hass_admin_user,
        "api_key_rejected",
        {CONF_API_KEY: " other-key "},
    )

    assert form["data_schema"][0]["name"] == CONF_API_KEY
    assert form["data_schema"][0]["required"] is True
    assert entry.options == {**opted_in_options, CONF_API_KEY: "other-key"}
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not runtime_data
    assert ir.async_get(hass).async_get_issue(DOMAIN, "api_key_rejected") is None
    assert hass.states.get(SHARING_STATUS).state == "opted_in"
    assert stats_service.accepted == []

    freezer.tick(timedelta(hours=1))
    assert await _submit_now(hass) == {
        "submitted": True,
        "next_allowed": None,
        "last_submission": "2026-11-27T13:00:00+00:00",
    }
    assert len(stats_service.accepted) == 1
    assert stats_service.accepted[0]["period"]["start"].startswith(CONSENT_DAY)


async def test_report_rejected_issue(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """A report the service refuses raises an issue and is not sent again."""
    freezer.move_to(NOW)
    entry = await _setup(hass, printernizer_url, opted_in_options)
    assert ir.async_get(hass).async_get_issue(DOMAIN, "report_rejected") is None
    stats_service.fail_next(422)

    with pytest.raises(HomeAssistantError):
        await _submit_now(hass)

    issue = ir.async_get(hass).async_get_issue(DOMAIN, "report_rejected")
    assert issue is not None
    assert not issue.is_fixable
    assert issue.translation_placeholders == {"status": "422"}
    assert entry.runtime_data.submission.sharing_status == "failing"
    assert entry.runtime_data.submission.pending is None
    await advance(hass, freezer, timedelta(days=2))
    assert [status for _, _, status in stats_service.log] == [422]


@pytest.mark.parametrize(
    "data",
    [
        ["not", "an", "object"],
        {"installation": "not an object"},
        {"installation": {"id": 7}},
    ],
)
async def test_storage_recovered_issue(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    printernizer_url: str,
    entry_options: dict[str, Any],
    data: object,
) -> None:
    """An unreadable statistics file does not stop setup and raises an issue."""
    hass_storage[DOMAIN] = {
        "version": 2,
        "minor_version": 1,
        "key": DOMAIN,
        "data": data,
    }

    entry = await _setup(hass, printernizer_url, entry_options)

    assert entry.state is ConfigEntryState.LOADED
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "storage_recovered")
    assert issue is not None
    assert not issue.is_fixable
    assert issue.translation_key == "storage_recovered"
    assert set(issue.translation_placeholders or {}) == {"path"}
    assert hass.states.get(SHARING_STATUS).state == "opted_out"


async def test_no_fix_flow_for_other_issues(hass: HomeAssistant) -> None:
    """Only the two fixable issues have a fix flow."""
    with pytest.raises(ValueError, match="storage_recovered"):
        await async_create_fix_flow(hass, "storage_recovered", None)
