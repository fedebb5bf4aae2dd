"""Tests for the repair issues and the re-consent fix flow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, UnknownStep
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.printernizer_stats.consent import (
    CONF_CONSENT_DAY,
    CONF_CONSENT_VERSION,
    CONF_SHARE,
    CONSENT_VERSION,
)
from custom_components.printernizer_stats.const import (
    DOMAIN,
    ISSUE_ERASURE,
    ISSUE_RECONSENT,
    ISSUE_REJECTED,
    SERVICE_SUBMIT_NOW,
)
from custom_components.printernizer_stats.repairs import async_create_fix_flow
from simulator.stats_service import StatsServiceEmulator

from .conftest import advance, make_entry, opt_out, setup_entry

pytestmark = pytest.mark.freeze_time("2026-11-04 10:00:00+00:00")

TODAY = "2026-11-04"
SHARING_STATUS = "sensor.printernizer_usage_statistics_sharing_status"


async def _setup(
    hass: HomeAssistant, printernizer_url: str, options: dict[str, Any]
) -> MockConfigEntry:
    """Set up the repairs component and an entry with these options."""
    assert await async_setup_component(hass, "repairs", {})
    return await setup_entry(hass, make_entry(printernizer_url, options))


async def _submit_now(hass: HomeAssistant) -> str:
    """Call the submit_now action; the reason it gives."""
    answer = await hass.services.async_call(
        DOMAIN, SERVICE_SUBMIT_NOW, blocking=True, return_response=True
    )
    assert answer is not None
    return str(answer["reason"])


@pytest.mark.parametrize(
    ("share", "status", "consent_version", "consent_day"),
    [
        (True, "opted_in", CONSENT_VERSION, TODAY),
        (False, "opted_out", None, None),
    ],
)
async def test_reconsent_fix_flow(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    share: bool,
    status: str,
    consent_version: int | None,
    consent_day: str | None,
) -> None:
    """An outdated consent pauses sharing until the user answers the new disclosure."""
    entry = await _setup(
        hass,
        printernizer_url,
        {**opted_in_options, CONF_CONSENT_VERSION: CONSENT_VERSION - 1},
    )
    issue = ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_RECONSENT)
    assert issue is not None
    assert issue.is_fixable
    assert issue.severity is ir.IssueSeverity.WARNING
    assert hass.states.get(SHARING_STATUS).state == "paused"
    assert await _submit_now(hass) == "not_sharing"
    assert stats_service.log == []

    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = await manager.async_init(DOMAIN, data={"issue_id": ISSUE_RECONSENT})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    marker = next(iter(result["data_schema"].schema))
    assert marker == CONF_SHARE
    assert marker.default() is False
    assert entry.options[CONF_CONSENT_VERSION] == CONSENT_VERSION - 1

    result = await manager.async_configure(result["flow_id"], {CONF_SHARE: share})
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.state is ConfigEntryState.LOADED
    assert entry.options[CONF_SHARE] is share
    assert entry.options[CONF_CONSENT_VERSION] == consent_version
    assert entry.options[CONF_CONSENT_DAY] == consent_day
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_RECONSENT) is None
    assert hass.states.get(SHARING_STATUS).state == status


async def test_no_reconsent_issue_when_current(
    hass: HomeAssistant, printernizer_url: str, opted_in_options: dict[str, Any]
) -> None:
    """A current consent, or none at all, raises no re-consent issue."""
    await _setup(hass, printernizer_url, opted_in_options)

    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_RECONSENT) is None
    with pytest.raises(UnknownStep):
        await repairs_flow_manager(hass).async_init(
            DOMAIN, data={"issue_id": ISSUE_RECONSENT}
        )


async def test_report_rejected_issue(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """A report the service refuses raises an issue that only explains; it is not resent."""
    await _setup(hass, printernizer_url, opted_in_options)
    stats_service.fail_next(422)

    assert await _submit_now(hass) == "rejected"

    issue = ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_REJECTED)
    assert issue is not None
    assert not issue.is_fixable
    assert issue.translation_key == ISSUE_REJECTED
    with pytest.raises(UnknownStep):
        await repairs_flow_manager(hass).async_init(
            DOMAIN, data={"issue_id": ISSUE_REJECTED}
        )
    await advance(hass, freezer, timedelta(days=1))
    assert [status for _, _, status in stats_service.log] == [422]


async def test_erasure_failing_issue(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """An erasure the service keeps failing is explained after three attempts, then cleared."""
    entry = await _setup(hass, printernizer_url, opted_in_options)
    await _submit_now(hass)
    stats_service.down = True
    await opt_out(hass, entry)

    for _ in range(16):
        await advance(hass, freezer, timedelta(minutes=30))

    issue = ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_ERASURE)
    assert issue is not None
    assert not issue.is_fixable
    assert issue.translation_placeholders == {"count": "1"}
    assert stats_service.deleted_ids == []

    stats_service.down = False
    # The next try comes within the backoff's cap (24 h, full jitter).
    for _ in range(25):
        await advance(hass, freezer, timedelta(hours=1))
    assert len(stats_service.deleted_ids) == 1
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_ERASURE) is None


@pytest.mark.parametrize(
    "issue_id", [ISSUE_REJECTED, ISSUE_ERASURE, "storage_recovered"]
)
async def test_no_fix_flow_for_other_issues(hass: HomeAssistant, issue_id: str) -> None:
    """Only the re-consent issue has a fix flow."""
    with pytest.raises(ValueError, match=issue_id):
        await async_create_fix_flow(hass, issue_id, None)
