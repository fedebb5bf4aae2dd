"""Config flow: where Printernizer is, whether the user shares, and the service's API key."""

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

from .consent import CONF_SHARE, Consent
from .const import (
    CONF_API_KEY,
    CONF_CREDENTIALS_GENERATION,
    CONF_ENDPOINT,
    CONF_URL,
    DEFAULT_URL,
    DOMAIN,
    LOGGER,
    default_api_key,
    default_endpoint,
)
from .errors import (
    AuthFailedError,
    CannotConnectError,
    ClientError,
    InsecureEndpointError,
    InvalidEndpointError,
    InvalidResponseError,
)
from .printernizer import PrinternizerClient, normalize_url
from .stats_api import StatsServiceClient, validate_endpoint

TITLE = "Printernizer Usage Statistics"

_URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_KEY_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_SHARE_SCHEMA = vol.Schema({vol.Required(CONF_SHARE, default=False): BooleanSelector()})


async def _async_test_url(
    hass: HomeAssistant, url: str
) -> tuple[str, dict[str, str], bool | None]:
    """Normalise the URL and ask Printernizer; return (url, errors, whether it shares itself)."""
    try:
        url = normalize_url(url)
    except ValueError:
        return url, {CONF_URL: "invalid_url"}, None
    client = PrinternizerClient(async_get_clientsession(hass), url)
    try:
        await client.health()
    except CannotConnectError:
        return url, {CONF_URL: "cannot_connect"}, None
    except InvalidResponseError:
        return url, {CONF_URL: "invalid_response"}, None
    except Exception:  # noqa: BLE001 - shown as 'unknown', logged with details
        LOGGER.exception("Unexpected error while testing the Printernizer URL")
        return url, {"base": "unknown"}, None
    try:
        shares = await client.shares_statistics()
    except ClientError:
        shares = None
    return url, {}, shares


async def _async_test_key(
    hass: HomeAssistant, endpoint: str, api_key: str
) -> dict[str, str]:
    """Check an API key against the statistics service without storing anything."""
    try:
        client = StatsServiceClient(
            async_get_clientsession(hass),
            endpoint=endpoint,
            api_key=api_key,
            user_agent="HomeAssistant-PrinternizerStats",
        )
        await client.check_credentials()
    except (AuthFailedError, InvalidEndpointError):
        return {CONF_API_KEY: "invalid_auth"}
    except ClientError:
        return {"base": "cannot_connect_service"}
    return {}


def _url_schema(default: str) -> vol.Schema:
    """The single-field form for the Printernizer URL."""
    return vol.Schema({vol.Required(CONF_URL, default=default): _URL_SELECTOR})


def _check_endpoint(endpoint: str) -> tuple[str, dict[str, str]]:
    """Validate the endpoint field; return it normalised and any error."""
    try:
        return validate_endpoint(endpoint), {}
    except InsecureEndpointError:
        return endpoint, {CONF_ENDPOINT: "insecure_endpoint"}
    except InvalidEndpointError:
        return endpoint, {CONF_ENDPOINT: "invalid_endpoint"}


class PrinternizerStatsConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up the integration: URL first, then the privacy disclosure."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Nothing chosen yet."""
        self._url = DEFAULT_URL
        self._shares: bool | None = None

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask where Printernizer answers and check that it does."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._url, errors, self._shares = await _async_test_url(
                self.hass, user_input[CONF_URL]
            )
            if not errors:
                return await self.async_step_consent()
        return self.async_show_form(
            step_id="user", data_schema=_url_schema(self._url), errors=errors
        )

    async def async_step_consent(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what is and is not collected; sharing stays off unless switched on."""
        if user_input is None:
            # Printernizer shares by itself: say so, and recommend one side only.
            step = "consent_shared" if self._shares else "consent"
            return self.async_show_form(step_id=step, data_schema=_SHARE_SCHEMA)
        return self.async_create_entry(
            title=TITLE,
            data={CONF_URL: self._url},
            options={
                **Consent().answered(user_input[CONF_SHARE], dt_util.utcnow().date()),
                CONF_ENDPOINT: default_endpoint(),
                CONF_API_KEY: default_api_key(),
                CONF_CREDENTIALS_GENERATION: 0,
            },
        )

    async_step_consent_shared = async_step_consent

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """The statistics service refused the API key."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a key the service accepts, and check it before saving."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            api_key = user_input[CONF_API_KEY].strip()
            endpoint = entry.options.get(CONF_ENDPOINT) or default_endpoint()
            errors = await _async_test_key(self.hass, endpoint, api_key)
            if not errors:
                # The entry's update listener reloads it once (__init__.py).
                self.hass.config_entries.async_update_entry(
                    entry,
                    options={
                        **entry.options,
                        CONF_API_KEY: api_key,
                        CONF_CREDENTIALS_GENERATION: entry.options.get(
                            CONF_CREDENTIALS_GENERATION, 0
                        )
                        + 1,
                    },
                )
                return self.async_abort(reason="reauth_successful")
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_API_KEY): _KEY_SELECTOR}),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Point the integration at another Printernizer."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        url = entry.data[CONF_URL]
        if user_input is not None:
            url, errors, _ = await _async_test_url(self.hass, user_input[CONF_URL])
            if not errors:
                self.hass.config_entries.async_update_entry(
                    entry, data={**entry.data, CONF_URL: url}
                )
                return self.async_abort(reason="reconfigure_successful")
        return self.async_show_form(
            step_id="reconfigure", data_schema=_url_schema(url), errors=errors
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
        consent = Consent.from_options(options)
        errors: dict[str, str] = {}
        if user_input is not None:
            endpoint, errors = _check_endpoint(user_input[CONF_ENDPOINT].strip())
            api_key = user_input.get(CONF_API_KEY, "").strip()
            generation = options.get(CONF_CREDENTIALS_GENERATION, 0)
            changed = endpoint != (
                options.get(CONF_ENDPOINT) or default_endpoint()
            ) or api_key != options.get(CONF_API_KEY, "")
            if not errors and changed and user_input[CONF_SHARE]:
                errors = await _async_test_key(self.hass, endpoint, api_key)
            # Shown next to Submit: a field error would sit below the long
            # disclosure, out of sight.
            errors = (
                {"base": error} if (error := next(iter(errors.values()), None)) else {}
            )
            if not errors:
                return self.async_create_entry(
                    data={
                        **options,
                        **consent.answered(
                            user_input[CONF_SHARE], dt_util.utcnow().date()
                        ),
                        CONF_ENDPOINT: endpoint,
                        CONF_API_KEY: api_key,
                        CONF_CREDENTIALS_GENERATION: generation + changed,
                    }
                )
        defaults = user_input or {
            CONF_SHARE: consent.current,
            CONF_ENDPOINT: options.get(CONF_ENDPOINT, default_endpoint()),
            CONF_API_KEY: options.get(CONF_API_KEY, ""),
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
                ): _KEY_SELECTOR,
            }
        )
        # Printernizer shares by itself (last poll): say so next to the toggle.
        runtime = getattr(self.config_entry, "runtime_data", None)
        shares = runtime.storage.data.facts.shares_statistics if runtime else None
        return self.async_show_form(
            step_id="init_shared" if shares else "init",
            data_schema=schema,
            errors=errors,
        )

    async_step_init_shared = async_step_init
