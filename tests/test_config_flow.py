"""Tests for the config, reconfigure, reauth and options flows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import socket
from typing import Any
from unittest.mock import AsyncMock, patch

from aiohttp import web
from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.printernizer_stats import sensor
from custom_components.printernizer_stats.consent import (
    CONF_CONSENT_DAY,
    CONF_CONSENT_VERSION,
    CONF_SHARE,
    CONSENT_VERSION,
)
from custom_components.printernizer_stats.const import (
    CONF_API_KEY,
    CONF_CREDENTIALS_GENERATION,
    CONF_ENDPOINT,
    CONF_URL,
    DEFAULT_API_KEY,
    DEFAULT_ENDPOINT,
    DOMAIN,
    ENV_API_KEY,
    ENV_ENDPOINT,
)
from custom_components.printernizer_stats.errors import InvalidResponseError
from simulator.printernizer import PrinternizerSimulator, create_app
from simulator.stats_service import StatsServiceEmulator

from .conftest import API_KEY, CONSENT_DAY, make_entry, serve, setup_entry

pytestmark = pytest.mark.freeze_time("2026-11-04 10:00:00+00:00")

TODAY = "2026-11-04"
TITLE = "Printernizer Usage Statistics"
NEW_KEY = "new-key"


@pytest.fixture
def mock_setup_entry(monkeypatch: pytest.MonkeyPatch) -> Iterator[AsyncMock]:
    """Keep created entries from loading; use the built-in endpoint and key."""
    monkeypatch.delenv(ENV_ENDPOINT, raising=False)
    monkeypatch.delenv(ENV_API_KEY, raising=False)
    with patch(
        "custom_components.printernizer_stats.async_setup_entry", return_value=True
    ) as mock_setup:
        yield mock_setup


@pytest.fixture
def closed_port_url(socket_enabled: None) -> str:
    """A loopback URL on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def other_server_url(socket_enabled: None) -> AsyncIterator[str]:
    """A web server that is not Printernizer (every API path is a 404)."""

    async def index(request: web.Request) -> web.Response:
        return web.Response(text="<html>a router's login page</html>")

    app = web.Application()
    app.router.add_get("/", index)
    server = await serve(app)
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def other_printernizer_url(socket_enabled: None) -> AsyncIterator[str]:
    """A second Printernizer, for reconfiguring."""
    server = await serve(create_app(PrinternizerSimulator(seed=2, printers=1)))
    yield str(server.make_url("")).rstrip("/")
    await server.close()


def _suggested(result: Any, field: str) -> Any:
    """What a form shows in one field: its suggested value, else its default."""
    marker = next(key for key in result["data_schema"].schema if key == field)
    if marker.description and "suggested_value" in marker.description:
        return marker.description["suggested_value"]
    return marker.default()


async def _start(hass: HomeAssistant) -> dict[str, Any]:
    """Open the user step."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    return dict(result)


async def _finish(hass: HomeAssistant, flow_id: str, url: str) -> dict[str, Any]:
    """Enter a working URL, decline sharing and check the entry is made."""
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_URL: url})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "consent"
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_SHARE: False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_URL: url}
    return dict(result)


@pytest.mark.parametrize(
    ("share", "consent"),
    [
        (
            False,
            {CONF_SHARE: False, CONF_CONSENT_VERSION: None, CONF_CONSENT_DAY: None},
        ),
        (
            True,
            {
                CONF_SHARE: True,
                CONF_CONSENT_VERSION: CONSENT_VERSION,
                CONF_CONSENT_DAY: TODAY,
            },
        ),
    ],
)
async def test_user_flow(
    hass: HomeAssistant,
    mock_setup_entry: AsyncMock,
    printernizer_url: str,
    share: bool,
    consent: dict[str, Any],
) -> None:
    """The URL is normalised and checked; the unticked box decides nothing until answered."""
    result = await _start(hass)
    assert _suggested(result, CONF_URL) == "http://localhost:8000"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: f"  {printernizer_url}//?page=1#top "}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "consent"
    assert _suggested(result, CONF_SHARE) is False

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SHARE: share}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    assert result["data"] == {CONF_URL: printernizer_url}
    assert result["options"] == {
        **consent,
        CONF_ENDPOINT: DEFAULT_ENDPOINT,
        CONF_API_KEY: DEFAULT_API_KEY,
        CONF_CREDENTIALS_GENERATION: 0,
    }
    assert len(mock_setup_entry.mock_calls) == 1


async def test_user_flow_development_defaults(
    hass: HomeAssistant,
    mock_setup_entry: AsyncMock,
    monkeypatch: pytest.MonkeyPatch,
    printernizer_url: str,
) -> None:
    """The development instance's endpoint and key become the entry's defaults."""
    monkeypatch.setenv(ENV_ENDPOINT, "http://127.0.0.1:8001/submit")
    monkeypatch.setenv(ENV_API_KEY, "dev-key")
    result = await _start(hass)

    result = await _finish(hass, result["flow_id"], printernizer_url)

    assert result["options"][CONF_ENDPOINT] == "http://127.0.0.1:8001/submit"
    assert result["options"][CONF_API_KEY] == "dev-key"


async def test_user_flow_printernizer_shares(
    hass: HomeAssistant,
    mock_setup_entry: AsyncMock,
    printernizer: PrinternizerSimulator,
    printernizer_url: str,
) -> None:
    """When Printernizer shares by itself, the disclosure says so; sharing stays off."""
    printernizer.opted_in = True
    result = await _start(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: printernizer_url}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "consent_shared"
    assert _suggested(result, CONF_SHARE) is False

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SHARE: True}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"][CONF_SHARE] is True
    assert result["options"][CONF_CONSENT_DAY] == TODAY


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_status_unreadable(
    hass: HomeAssistant, printernizer_url: str
) -> None:
    """An older Printernizer without the sharing status gets the plain disclosure."""
    with patch(
        "custom_components.printernizer_stats.config_flow.PrinternizerClient.shares_statistics",
        side_effect=InvalidResponseError("http_404"),
    ):
        result = await _start(hass)
        await _finish(hass, result["flow_id"], printernizer_url)


@pytest.mark.usefixtures("mock_setup_entry")
@pytest.mark.parametrize(
    "bad_url", ["not a url", "ftp://printernizer.local", "http://"]
)
async def test_user_flow_invalid_url(
    hass: HomeAssistant, printernizer_url: str, bad_url: str
) -> None:
    """Something that is not an http(s) address is refused on the URL field."""
    result = await _start(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: bad_url}
    )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {CONF_URL: "invalid_url"}
    assert _suggested(result, CONF_URL) == bad_url
    await _finish(hass, result["flow_id"], printernizer_url)


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_cannot_connect(
    hass: HomeAssistant, printernizer_url: str, closed_port_url: str
) -> None:
    """Nothing listening at the address is `cannot_connect` on the URL field."""
    result = await _start(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: closed_port_url}
    )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_URL: "cannot_connect"}
    assert hass.config_entries.async_entries(DOMAIN) == []
    await _finish(hass, result["flow_id"], printernizer_url)


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_invalid_response(
    hass: HomeAssistant, printernizer_url: str, other_server_url: str
) -> None:
    """A server that answers, but not like Printernizer, is `invalid_response`."""
    result = await _start(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: other_server_url}
    )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_URL: "invalid_response"}
    await _finish(hass, result["flow_id"], printernizer_url)


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_unknown_error(
    hass: HomeAssistant, printernizer_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected error is logged and shown as `unknown`."""
    result = await _start(hass)
    with patch(
        "custom_components.printernizer_stats.config_flow.PrinternizerClient.health",
        side_effect=RuntimeError("boom"),
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: printernizer_url}
        )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "unknown"}
    assert "Unexpected error while testing the Printernizer URL" in caplog.text
    await _finish(hass, result["flow_id"], printernizer_url)


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_single_instance(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """A second entry is refused before anything is asked."""
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
    """Errors keep the form and the URL; a working URL is saved and the entry reloaded."""
    entry = init_integration
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert _suggested(result, CONF_URL) == printernizer_url

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "not a url"}
    )
    assert result["errors"] == {CONF_URL: "invalid_url"}
    printernizer.available = False
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: printernizer_url}
    )
    assert result["errors"] == {CONF_URL: "cannot_connect"}
    assert entry.data[CONF_URL] == printernizer_url

    runtime_data = entry.runtime_data
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: f"{other_printernizer_url}/"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_URL] == other_printernizer_url
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not runtime_data
    assert hass.states.get("sensor.printernizer_usage_statistics_printers").state == "1"


async def _options_form(
    hass: HomeAssistant, entry: MockConfigEntry, step_id: str = "init"
) -> dict[str, Any]:
    """Open the options flow."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == step_id
    assert result["errors"] == {}
    return dict(result)


async def test_options_flow_opt_in(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    entry_options: dict[str, Any],
    stats_endpoint: str,
) -> None:
    """Ticking the box records today and the disclosure version; same key, no bump."""
    mock_config_entry.add_to_hass(hass)
    result = await _options_form(hass, mock_config_entry)
    assert _suggested(result, CONF_SHARE) is False
    assert _suggested(result, CONF_ENDPOINT) == stats_endpoint
    assert _suggested(result, CONF_API_KEY) == API_KEY

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SHARE: True, CONF_ENDPOINT: f" {stats_endpoint} ", CONF_API_KEY: API_KEY},
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {
        **entry_options,
        CONF_SHARE: True,
        CONF_CONSENT_VERSION: CONSENT_VERSION,
        CONF_CONSENT_DAY: TODAY,
    }


async def test_options_flow_opt_out(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    stats_endpoint: str,
) -> None:
    """Unticking clears the consent; a cleared key is saved empty without a check."""
    entry = make_entry(printernizer_url, opted_in_options)
    entry.add_to_hass(hass)
    result = await _options_form(hass, entry)
    assert _suggested(result, CONF_SHARE) is True

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
        CONF_CREDENTIALS_GENERATION: 1,
    }
    assert stats_service.log == []


@pytest.mark.parametrize(
    ("consent_version", "shown", "expected_day"),
    [(CONSENT_VERSION, True, CONSENT_DAY), (CONSENT_VERSION - 1, False, TODAY)],
)
async def test_options_flow_consent_day(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_endpoint: str,
    consent_version: int,
    shown: bool,
    expected_day: str,
) -> None:
    """Confirming a current consent keeps its day; an outdated one starts today."""
    entry = make_entry(
        printernizer_url, {**opted_in_options, CONF_CONSENT_VERSION: consent_version}
    )
    entry.add_to_hass(hass)
    result = await _options_form(hass, entry)
    assert _suggested(result, CONF_SHARE) is shown

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SHARE: True, CONF_ENDPOINT: stats_endpoint, CONF_API_KEY: API_KEY},
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_CONSENT_VERSION] == CONSENT_VERSION
    assert entry.options[CONF_CONSENT_DAY] == expected_day
    assert entry.options[CONF_CREDENTIALS_GENERATION] == 0


@pytest.mark.parametrize(
    ("endpoint", "error"),
    [
        ("http://example.com", "insecure_endpoint"),
        ("http://192.168.1.10:8001/submit", "insecure_endpoint"),
        ("https://user:secret@example.com/submit", "insecure_endpoint"),
        ("ftp://example.com/submit", "insecure_endpoint"),
        ("not a url", "invalid_endpoint"),
        ("example.com/submit", "invalid_endpoint"),
        ("https://", "invalid_endpoint"),
        ("https://example.com/submit#part", "invalid_endpoint"),
        ("http://[::1", "invalid_endpoint"),
    ],
)
async def test_options_flow_endpoint_errors(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    entry_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    stats_endpoint: str,
    endpoint: str,
    error: str,
) -> None:
    """A refused endpoint is shown next to Submit (a base error), the input kept; the emulator is never asked."""
    mock_config_entry.add_to_hass(hass)
    result = await _options_form(hass, mock_config_entry)
    user_input = {CONF_SHARE: True, CONF_ENDPOINT: endpoint, CONF_API_KEY: API_KEY}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], user_input
    )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert _suggested(result, CONF_SHARE) is True
    assert _suggested(result, CONF_ENDPOINT) == endpoint
    assert mock_config_entry.options == entry_options
    assert stats_service.log == []

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**user_input, CONF_ENDPOINT: stats_endpoint}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options[CONF_ENDPOINT] == stats_endpoint
    assert mock_config_entry.options[CONF_CREDENTIALS_GENERATION] == 0


@pytest.mark.parametrize(
    ("setup", "errors"),
    [
        ("wrong_key", {"base": "invalid_auth"}),
        ("key_with_newline", {"base": "invalid_auth"}),
        ("service_down", {"base": "cannot_connect_service"}),
        ("nothing_listening", {"base": "cannot_connect_service"}),
    ],
)
async def test_options_flow_key_checked(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    entry_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    stats_endpoint: str,
    closed_port_url: str,
    setup: str,
    errors: dict[str, str],
) -> None:
    """A new key or endpoint is tried against the service first; the accepted one bumps the generation."""
    stats_service.api_keys = {API_KEY, NEW_KEY}
    mock_config_entry.add_to_hass(hass)
    result = await _options_form(hass, mock_config_entry)
    user_input = {
        CONF_SHARE: True,
        CONF_ENDPOINT: stats_endpoint,
        CONF_API_KEY: NEW_KEY,
    }
    if setup == "wrong_key":
        user_input[CONF_API_KEY] = "wrong-key"
    elif setup == "key_with_newline":
        user_input[CONF_API_KEY] = "new\nkey"
    elif setup == "service_down":
        stats_service.down = True
    else:
        user_input[CONF_ENDPOINT] = f"{closed_port_url}/submit"

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], user_input
    )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert mock_config_entry.options == entry_options

    stats_service.down = False
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SHARE: True, CONF_ENDPOINT: stats_endpoint, CONF_API_KEY: f" {NEW_KEY} "},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options[CONF_API_KEY] == NEW_KEY
    assert mock_config_entry.options[CONF_CREDENTIALS_GENERATION] == 1
    assert mock_config_entry.options[CONF_SHARE] is True


async def test_options_flow_key_not_checked_without_sharing(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    stats_endpoint: str,
) -> None:
    """Without sharing a new key is saved unchecked, and still counts as new credentials."""
    mock_config_entry.add_to_hass(hass)
    result = await _options_form(hass, mock_config_entry)

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SHARE: False, CONF_ENDPOINT: stats_endpoint, CONF_API_KEY: "unchecked"},
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options[CONF_API_KEY] == "unchecked"
    assert mock_config_entry.options[CONF_CREDENTIALS_GENERATION] == 1
    assert stats_service.log == []


async def test_options_flow_reloads_and_mentions_printernizer_sharing(
    hass: HomeAssistant,
    printernizer: PrinternizerSimulator,
    init_integration: MockConfigEntry,
    stats_endpoint: str,
) -> None:
    """When Printernizer shares by itself the form says so; saving reloads the entry."""
    printernizer.opted_in = True
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    runtime_data = init_integration.runtime_data
    result = await _options_form(hass, init_integration, "init_shared")

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SHARE: True, CONF_ENDPOINT: stats_endpoint, CONF_API_KEY: API_KEY},
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.state is ConfigEntryState.LOADED
    assert init_integration.runtime_data is not runtime_data
    state = hass.states.get("sensor.printernizer_usage_statistics_sharing_status")
    assert state is not None
    assert state.state == "opted_in"
    assert state.attributes["printernizer_shares_too"] is True


async def _reauth_form(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """Start re-authentication as the integration does, and find its form."""
    entry.async_start_reauth(hass)
    await hass.async_block_till_done()
    flows = [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]
    assert len(flows) == 1
    assert flows[0]["step_id"] == "reauth_confirm"
    return dict(flows[0])


@pytest.mark.parametrize(
    ("setup", "errors"),
    [
        ("wrong_key", {CONF_API_KEY: "invalid_auth"}),
        ("service_down", {"base": "cannot_connect_service"}),
    ],
)
async def test_reauth_flow(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    setup: str,
    errors: dict[str, str],
) -> None:
    """A key the service refuses keeps the form; an accepted one is saved and reloads."""
    entry = await setup_entry(hass, make_entry(printernizer_url, opted_in_options))
    stats_service.api_keys = {NEW_KEY}
    flow = await _reauth_form(hass, entry)
    if setup == "service_down":
        stats_service.down = True

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_API_KEY: NEW_KEY if setup == "service_down" else "nope"}
    )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["errors"] == errors
    assert entry.options == opted_in_options

    stats_service.down = False
    runtime_data = entry.runtime_data
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_API_KEY: f" {NEW_KEY} "}
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.options == {
        **opted_in_options,
        CONF_API_KEY: NEW_KEY,
        CONF_CREDENTIALS_GENERATION: 1,
    }
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not runtime_data


@pytest.mark.parametrize("change", ["options", "reauth", "reconfigure"])
async def test_each_change_reloads_once_without_deprecation(
    hass: HomeAssistant,
    printernizer_url: str,
    other_printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    stats_endpoint: str,
    caplog: pytest.LogCaptureFixture,
    change: str,
) -> None:
    """An options, reauth or reconfigure change sets the platform up exactly once more, quietly."""
    entry = await setup_entry(hass, make_entry(printernizer_url, opted_in_options))
    stats_service.api_keys = {API_KEY, NEW_KEY}
    with patch(
        "custom_components.printernizer_stats.sensor.async_setup_entry",
        wraps=sensor.async_setup_entry,
    ) as sensor_setup:
        if change == "options":
            result = await _options_form(hass, entry)
            result = await hass.config_entries.options.async_configure(
                result["flow_id"],
                {
                    CONF_SHARE: True,
                    CONF_ENDPOINT: stats_endpoint,
                    CONF_API_KEY: NEW_KEY,
                },
            )
        elif change == "reauth":
            flow = await _reauth_form(hass, entry)
            result = await hass.config_entries.flow.async_configure(
                flow["flow_id"], {CONF_API_KEY: NEW_KEY}
            )
        else:
            result = await entry.start_reconfigure_flow(hass)
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {CONF_URL: other_printernizer_url}
            )
        await hass.async_block_till_done(wait_background_tasks=True)

    assert sensor_setup.call_count == 1
    assert entry.state is ConfigEntryState.LOADED
    assert "Detected that custom integration" not in caplog.text
