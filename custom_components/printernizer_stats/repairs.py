"""Repair flows: re-consent to a new disclosure, and replace a rejected API key."""

from __future__ import annotations

from typing import Any

from homeassistant import data_entry_flow
from homeassistant.components.repairs import RepairsFlow
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    BooleanSelector,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import voluptuous as vol

from .config_flow import consent_options
from .const import CONF_API_KEY, CONF_SHARE, DOMAIN
from .submission import ISSUE_API_KEY, ISSUE_RECONSENT


class _EntryRepairFlow(RepairsFlow):
    """A repair that ends by updating the entry's options (which reloads it).

    The repairs manager starts a flow by passing `{"issue_id": ...}` as the
    first step's input, so only input that carries the form's field is an answer.
    """

    def _update_options(self, changes: dict[str, Any]) -> data_entry_flow.FlowResult:
        entry = self.hass.config_entries.async_entries(DOMAIN)[0]
        self.hass.config_entries.async_update_entry(
            entry, options={**entry.options, **changes}
        )
        return self.async_create_entry(data={})


class ReconsentFlow(_EntryRepairFlow):
    """Show the new disclosure; sharing resumes only if the box is ticked again."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> data_entry_flow.FlowResult:
        """Ask again."""
        if user_input is None or CONF_SHARE not in user_input:
            return self.async_show_form(
                step_id="init",
                data_schema=vol.Schema(
                    {vol.Required(CONF_SHARE, default=False): BooleanSelector()}
                ),
            )
        entry = self.hass.config_entries.async_entries(DOMAIN)[0]
        return self._update_options(
            consent_options(user_input[CONF_SHARE], entry.options)
        )


class ApiKeyFlow(_EntryRepairFlow):
    """Enter the key the statistics service accepts."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> data_entry_flow.FlowResult:
        """Ask for the new key."""
        if user_input is None or CONF_API_KEY not in user_input:
            return self.async_show_form(
                step_id="init",
                data_schema=vol.Schema(
                    {
                        vol.Required(CONF_API_KEY): TextSelector(
                            TextSelectorConfig(type=TextSelectorType.PASSWORD)
                        )
                    }
                ),
            )
        return self._update_options({CONF_API_KEY: user_input[CONF_API_KEY].strip()})


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Pick the flow for a fixable issue."""
    if issue_id == ISSUE_API_KEY:
        return ApiKeyFlow()
    if issue_id == ISSUE_RECONSENT:
        return ReconsentFlow()
    raise ValueError(f"Unknown issue {issue_id}")
