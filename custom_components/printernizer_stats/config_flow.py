"""Config flow: where Printernizer is, and whether the user shares statistics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .const import (
    CONF_API_KEY,
    CONF_CONSENT_DAY,
    CONF_CONSENT_VERSION,
    CONF_ENDPOINT,
    CONF_SHARE,
    CONF_URL,
    CONSENT_VERSION,
    DEFAULT_API_KEY,
    DEFAULT_URL,
    DOMAIN,
    LOGGER,
    default_endpoint,
)
from .printernizer import (
    PrinternizerClient,
    PrinternizerConnectionError,
    PrinternizerResponseError,
    normalize_url,
)
from .stats_api import InsecureEndpointError, validate_endpoint

TITLE = "Printernizer Usage Statistics"

_URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_SHARE_SCHEMA = vol.Schema({vol.Required(CONF_SHARE, default=False): BooleanSelector()})


def consent_options(share: bool, current: Mapping[str, Any]) -> dict[str, Any]:
    """The consent part of the options after the user answered the disclosure.

    Agreeing records the disclosure version and the day: only days from then
    on are ever submitted. Declining clears both.
    """
    if not share:
        return {CONF_SHARE: False, CONF_CONSENT_VERSION: None, CONF_CONSENT_DAY: None}
    if current.get(CONF_SHARE) and current.get(CONF_CONSENT_VERSION) == CONSENT_VERSION:
        consent_day = current.get(CONF_CONSENT_DAY)
    else:
        consent_day = dt_util.utcnow().date().isoformat()
    return {
        CONF_SHARE: True,
        CONF_CONSENT_VERSION: CONSENT_VERSION,
        CONF_CONSENT_DAY: consent_day,
    }


async def _async_test_url(hass: HomeAssistant, url: str) -> tuple[str, dict[str, str]]:
    """Normalise the URL and ask Printernizer's health endpoint; return (url, errors)."""
    try:
        url = normalize_url(url)
    except ValueError:
        return url, {CONF_URL: "invalid_url"}
    client = PrinternizerClient(async_get_clientsession(hass), url)
    try:
        await client.health()
    except PrinternizerConnectionError:
        return url, {CONF_URL: "cannot_connect"}
    except PrinternizerResponseError:
        return url, {CONF_URL: "invalid_response"}
    except Exception:  # noqa: BLE001 - shown as 'unknown', logged with details
        LOGGER.exception("Unexpected error while testing %s", url)
        return url, {"base": "unknown"}
    return url, {}


def _url_schema(default: str) -> vol.Schema:
    """The single-field form for the Printernizer URL."""
    return vol.Schema({vol.Required(CONF_URL, default=default): _URL_SELECTOR})


class PrinternizerStatsConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up the integration: URL first, then the privacy disclosure."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Nothing chosen yet."""
        self._url = DEFAULT_URL

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask where Printernizer answers and check that it does."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._url, errors = await _async_test_url(self.hass, user_input[CONF_URL])
            if not errors:
                return await self.async_step_consent()
        return self.async_show_form(
            step_id="user",
            data_schema=_url_schema(self._url),
            errors=errors,
        )

    async def async_step_consent(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what is and is not collected; sharing stays off unless ticked."""
        if user_input is None:
            return self.async_show_form(step_id="consent", data_schema=_SHARE_SCHEMA)
        return self.async_create_entry(
            title=TITLE,
            data={CONF_URL: self._url},
            options={
                **consent_options(user_input[CONF_SHARE], {}),
                CONF_ENDPOINT: default_endpoint(),
                CONF_API_KEY: DEFAULT_API_KEY,
            },
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Point the integration at another Printernizer."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        url = entry.data[CONF_URL]
        if user_input is not None:
            url, errors = await _async_test_url(self.hass, user_input[CONF_URL])
            if not errors:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_URL: url}
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_url_schema(url),
            errors=errors,
        )

    @staticmethod
    @callback
    def async_get_options_flow(
        config_entry: ConfigEntry,
    ) -> PrinternizerStatsOptionsFlow:
        """Consent and submission settings."""
        return PrinternizerStatsOptionsFlow()


class PrinternizerStatsOptionsFlow(OptionsFlow):
    """Change consent, the statistics endpoint and the API key."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the disclosure again with the current choices."""
        options = self.config_entry.options
        errors: dict[str, str] = {}
        if user_input is not None:
            endpoint = user_input[CONF_ENDPOINT].strip()
            try:
                endpoint = validate_endpoint(endpoint)
            except InsecureEndpointError:
                errors[CONF_ENDPOINT] = "insecure_endpoint"
            except ValueError:
                errors[CONF_ENDPOINT] = "invalid_endpoint"
            if not errors:
                return self.async_create_entry(
                    data={
                        **consent_options(user_input[CONF_SHARE], options),
                        CONF_ENDPOINT: endpoint,
                        CONF_API_KEY: user_input.get(CONF_API_KEY, "").strip(),
                    }
                )
        defaults = user_input or {
            CONF_SHARE: bool(options.get(CONF_SHARE))
            and options.get(CONF_CONSENT_VERSION) == CONSENT_VERSION,
            CONF_ENDPOINT: options.get(CONF_ENDPOINT, default_endpoint()),
            CONF_API_KEY: options.get(CONF_API_KEY, DEFAULT_API_KEY),
        }
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SHARE, default=defaults[CONF_SHARE]
                ): BooleanSelector(),
                vol.Required(
                    CONF_ENDPOINT, default=defaults[CONF_ENDPOINT]
                ): _URL_SELECTOR,
                # A suggested value, not a default: a cleared field must stay empty.
                vol.Optional(
                    CONF_API_KEY,
                    description={"suggested_value": defaults.get(CONF_API_KEY, "")},
                ): TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD)),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema, errors=errors)
