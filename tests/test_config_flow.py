"""Tests for the config, reconfigure and options flows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import socket
from typing import Any
from unittest.mock import AsyncMock, patch

from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.printernizer_stats.const import (
    CONF_API_KEY,
    CONF_CONSENT_DAY,
    CONF_CONSENT_VERSION,
    CONF_ENDPOINT,
    CONF_SHARE,
    CONF_URL,
    CONSENT_VERSION,
    DEFAULT_API_KEY,
    DEFAULT_ENDPOINT,
    DOMAIN,
    ENV_ENDPOINT,
)
from simulator.printernizer import PrinternizerSimulator, create_app

from .conftest import API_KEY, CONSENT_DAY

SHARING_STATUS = "sensor.printernizer_usage_statistics_sharing_status"
NOW = "2026-11-27 12:00:00+00:00"
TODAY = "2026-11-27"


@pytest.fixture
def mock_setup_entry(monkeypatch: pytest.MonkeyPatch) -> Iterator[AsyncMock]:
    """Keep created entries from loading, and use the built-in default endpoint."""
    monkeypatch.delenv(ENV_ENDPOINT, raising=False)
    with patch(
        "custom_components.printernizer_stats.async_setup_entry", return_value=True
    ) as mock_setup:
        yield mock_setup


@pytest.fixture
async def other_printernizer_url(socket_enabled: None) -> AsyncIterator[str]:
    """A second simulated Printernizer on loopback, for reconfiguring."""
    server = TestServer(create_app(PrinternizerSimulator(seed=2)), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
def closed_port_url(socket_enabled: None) -> str:
    """A loopback URL on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _default(result: Any, field: str) -> Any:
    """The value a form shows for one field (its suggested value, else its default)."""
    schema: vol.Schema = result["data_schema"]
    marker = next(key for key in schema.schema if key == field)
    if marker.description and "suggested_value" in marker.description:
        return marker.description["suggested_value"]
    return marker.default()


async def _consent_step(hass: HomeAssistant, url: str) -> dict[str, Any]:
    """Start the user flow and pass the URL step."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: url}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "consent"
    return dict(result)


@pytest.mark.usefixtures("mock_setup_entry")
@pytest.mark.parametrize(
    ("share", "consent_version", "consent_day"),
    [(False, None, None), (True, CONSENT_VERSION, TODAY)],
)
async def test_user_flow(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    share: bool,
    consent_version: int | None,
    consent_day: str | None,
) -> None:
    """The URL is checked, then consent decides the options; sharing starts off."""
    freezer.move_to(NOW)
    result = await _consent_step(hass, printernizer_url)
    assert _default(result, CONF_SHARE) is False

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SHARE: share}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Printernizer Usage Statistics"
    assert result["data"] == {CONF_URL: printernizer_url}
    assert result["options"] == {
        CONF_SHARE: share,
        CONF_CONSENT_VERSION: consent_version,
        CONF_CONSENT_DAY: consent_day,
        CONF_ENDPOINT: DEFAULT_ENDPOINT,
        CONF_API_KEY: DEFAULT_API_KEY,
    }


@pytest.mark.usefixtures("mock_setup_entry")
@pytest.mark.parametrize("suffix", ["/", "//", "/?x=1#top"])
async def test_user_flow_url_normalised(
    hass: HomeAssistant, printernizer_url: str, suffix: str
) -> None:
    """Trailing slashes, queries and fragments are not saved."""
    result = await _consent_step(hass, f"  {printernizer_url}{suffix}")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SHARE: False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_URL: printernizer_url}


async def test_user_flow_endpoint_from_environment(
    hass: HomeAssistant,
    mock_setup_entry: AsyncMock,
    monkeypatch: pytest.MonkeyPatch,
    printernizer_url: str,
) -> None:
    """The development instance's endpoint variable becomes the default endpoint."""
    monkeypatch.setenv(ENV_ENDPOINT, "http://127.0.0.1:8001/submit")
    result = await _consent_step(hass, printernizer_url)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SHARE: False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"][CONF_ENDPOINT] == "http://127.0.0.1:8001/submit"
    assert len(mock_setup_entry.mock_calls) == 1


async def _assert_error_then_recover(
    hass: HomeAssistant, bad_url: str, good_url: str, errors: dict[str, str]
) -> None:
    """The user step shows `errors` for `bad_url` and then accepts `good_url`."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: bad_url}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == errors
    assert _default(result, CONF_URL) == bad_url

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: good_url}
    )
    assert result["step_id"] == "consent"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SHARE: False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_URL: good_url}


@pytest.mark.usefixtures("mock_setup_entry")
@pytest.mark.parametrize("bad_url", ["not a url", "ftp://x", "http://"])
async def test_user_flow_invalid_url(
    hass: HomeAssistant, printernizer_url: str, bad_url: str
) -> None:
    """Something that is not an http(s) URL is refused on the URL field."""
    await _assert_error_then_recover(
        hass, bad_url, printernizer_url, {CONF_URL: "invalid_url"}
    )


@pytest.mark.usefixtures("mock_setup_entry")
@pytest.mark.parametrize(
    ("available", "health_payload", "error"),
    [
        (False, None, "cannot_connect"),
        (True, {"hello": "world"}, "invalid_response"),
        (True, ["status", "ok"], "invalid_response"),
        (True, "<html>not json</html>", "invalid_response"),
    ],
)
async def test_user_flow_printernizer_errors(
    hass: HomeAssistant,
    printernizer: PrinternizerSimulator,
    printernizer_url: str,
    available: bool,
    health_payload: object | None,
    error: str,
) -> None:
    """A Printernizer that fails or answers wrongly is reported on the URL field."""
    printernizer.available = available
    printernizer.health_payload = health_payload
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: printernizer_url}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_URL: error}
    assert hass.config_entries.async_entries(DOMAIN) == []

    printernizer.available = True
    printernizer.health_payload = None
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: printernizer_url}
    )
    assert result["step_id"] == "consent"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SHARE: False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_closed_port(
    hass: HomeAssistant, printernizer_url: str, closed_port_url: str
) -> None:
    """Nothing listening at the address is `cannot_connect`."""
    await _assert_error_then_recover(
        hass, closed_port_url, printernizer_url, {CONF_URL: "cannot_connect"}
    )


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_unknown_error(
    hass: HomeAssistant, printernizer_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected error is logged and shown as `unknown`."""
    with patch(
        "custom_components.printernizer_stats.config_flow.PrinternizerClient.health",
        side_effect=RuntimeError("boom"),
    ):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USER}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: printernizer_url}
        )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "unknown"}
    assert "Unexpected error while testing" in caplog.text

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: printernizer_url}
    )
    assert result["step_id"] == "consent"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SHARE: False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_single_instance(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """A second entry is refused before any question is asked."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "single_instance_allowed"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_reconfigure_flow(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    printernizer: PrinternizerSimulator,
    printernizer_url: str,
    other_printernizer_url: str,
) -> None:
    """Errors keep the form; a working URL is saved and the entry reloaded."""
    entry = init_integration
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert _default(result, CONF_URL) == printernizer_url

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "ftp://x"}
    )
    assert result["errors"] == {CONF_URL: "invalid_url"}
    printernizer.available = False
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: printernizer_url}
    )
    assert result["errors"] == {CONF_URL: "cannot_connect"}
    assert entry.data[CONF_URL] == printernizer_url

    old_runtime_data = entry.runtime_data
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: f"{other_printernizer_url}/"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_URL] == other_printernizer_url
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not old_runtime_data
    assert entry.runtime_data.coordinator.last_update_success


def _entry(hass: HomeAssistant, options: dict[str, Any]) -> MockConfigEntry:
    """An entry that is added to Home Assistant but not set up."""
    entry = MockConfigEntry(
        domain=DOMAIN, data={CONF_URL: "http://127.0.0.1:8000"}, options=options
    )
    entry.add_to_hass(hass)
    return entry


async def _options_form(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """Open the options flow and check it shows the disclosure step."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    assert result["errors"] == {}
    return dict(result)


async def test_options_flow_opt_in(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    stats_endpoint: str,
) -> None:
    """Ticking the box records the disclosure version and today."""
    freezer.move_to(NOW)
    mock_config_entry.add_to_hass(hass)
    result = await _options_form(hass, mock_config_entry)
    assert _default(result, CONF_SHARE) is False
    assert _default(result, CONF_ENDPOINT) == stats_endpoint
    assert _default(result, CONF_API_KEY) == API_KEY

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SHARE: True, CONF_ENDPOINT: f" {stats_endpoint} ", CONF_API_KEY: " k "},
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {
        CONF_SHARE: True,
        CONF_CONSENT_VERSION: CONSENT_VERSION,
        CONF_CONSENT_DAY: TODAY,
        CONF_ENDPOINT: stats_endpoint,
        CONF_API_KEY: "k",
    }


async def test_options_flow_opt_out(
    hass: HomeAssistant, opted_in_options: dict[str, Any], stats_endpoint: str
) -> None:
    """Unticking the box clears the consent; a cleared API key stays empty."""
    entry = _entry(hass, opted_in_options)
    result = await _options_form(hass, entry)
    assert _default(result, CONF_SHARE) is True
    assert _default(result, CONF_API_KEY) == API_KEY

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SHARE: False, CONF_ENDPOINT: stats_endpoint}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_SHARE: False,
        CONF_CONSENT_VERSION: None,
        CONF_CONSENT_DAY: None,
        CONF_ENDPOINT: stats_endpoint,
        CONF_API_KEY: "",
    }


@pytest.mark.parametrize(
    ("consent_version", "expected_day"),
    [(CONSENT_VERSION, CONSENT_DAY), (CONSENT_VERSION - 1, TODAY)],
)
async def test_options_flow_reopt_in_consent_day(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    opted_in_options: dict[str, Any],
    stats_endpoint: str,
    consent_version: int,
    expected_day: str,
) -> None:
    """Confirming a current consent keeps its day; an outdated one starts today."""
    freezer.move_to(NOW)
    entry = _entry(hass, {**opted_in_options, CONF_CONSENT_VERSION: consent_version})
    result = await _options_form(hass, entry)
    assert _default(result, CONF_SHARE) is (consent_version == CONSENT_VERSION)

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SHARE: True, CONF_ENDPOINT: stats_endpoint, CONF_API_KEY: API_KEY},
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_CONSENT_VERSION] == CONSENT_VERSION
    assert entry.options[CONF_CONSENT_DAY] == expected_day


@pytest.mark.parametrize(
    ("endpoint", "error"),
    [
        ("http://stats.printernizer.com/submit", "insecure_endpoint"),
        ("http://192.168.1.10:8001/submit", "insecure_endpoint"),
        ("https://user:secret@stats.printernizer.com/submit", "insecure_endpoint"),
        ("not a url", "insecure_endpoint"),
        ("ftp://stats.printernizer.com/submit", "insecure_endpoint"),
        ("https://", "invalid_endpoint"),
        ("https://stats.printernizer.com/submit#fragment", "invalid_endpoint"),
        ("http://[::1", "invalid_endpoint"),
    ],
)
async def test_options_flow_endpoint_errors(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    entry_options: dict[str, Any],
    endpoint: str,
    error: str,
) -> None:
    """A refused endpoint is shown on its field; loopback http is accepted after."""
    mock_config_entry.add_to_hass(hass)
    result = await _options_form(hass, mock_config_entry)
    user_input = {CONF_SHARE: True, CONF_ENDPOINT: endpoint, CONF_API_KEY: "new"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], user_input
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_ENDPOINT: error}
    assert _default(result, CONF_SHARE) is True
    assert _default(result, CONF_ENDPOINT) == endpoint
    assert mock_config_entry.options == entry_options

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {**user_input, CONF_ENDPOINT: "http://127.0.0.1:8001/submit"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options[CONF_ENDPOINT] == "http://127.0.0.1:8001/submit"
    assert mock_config_entry.options[CONF_SHARE] is True


async def test_options_flow_reloads_entry(
    hass: HomeAssistant, init_integration: MockConfigEntry, stats_endpoint: str
) -> None:
    """Saving the options reloads the entry, which then shares."""
    assert hass.states.get(SHARING_STATUS).state == "opted_out"
    assert init_integration.runtime_data.storage.data.installation_id is None
    result = await _options_form(hass, init_integration)

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SHARE: True, CONF_ENDPOINT: stats_endpoint, CONF_API_KEY: API_KEY},
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.state is ConfigEntryState.LOADED
    assert hass.states.get(SHARING_STATUS).state == "opted_in"
    assert init_integration.runtime_data.storage.data.installation_id is not None
