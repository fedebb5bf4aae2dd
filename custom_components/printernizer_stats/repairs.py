"""Repair flow: agree again to a new version of the disclosure.

A rejected API key is not a repair but Home Assistant's re-authentication
flow (config_flow.py); the other repairs only explain.
"""

from __future__ import annotations

from typing import Any

from homeassistant import data_entry_flow
from homeassistant.components.repairs import RepairsFlow
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import BooleanSelector
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .consent import CONF_SHARE, Consent
from .const import DOMAIN, ISSUE_RECONSENT


class ReconsentFlow(RepairsFlow):
    """Show the new disclosure; sharing resumes only if switched on again."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> data_entry_flow.FlowResult:
        """Ask again.

        The repairs manager starts a flow by passing `{"issue_id": ...}` as the
        first step's input, so only input that carries the field is an answer.
        """
        if user_input is None or CONF_SHARE not in user_input:
            return self.async_show_form(
                step_id="init",
                data_schema=vol.Schema(
                    {vol.Required(CONF_SHARE, default=False): BooleanSelector()}
                ),
            )
        entry = self.hass.config_entries.async_entries(DOMAIN)[0]
        consent = Consent.from_options(entry.options)
        self.hass.config_entries.async_update_entry(
            entry,
            options={
                **entry.options,
                **consent.answered(user_input[CONF_SHARE], dt_util.utcnow().date()),
            },
        )
        return self.async_create_entry(data={})


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Pick the flow for a fixable issue."""
    if issue_id == ISSUE_RECONSENT:
        return ReconsentFlow()
    raise ValueError(f"Unknown issue {issue_id}")
