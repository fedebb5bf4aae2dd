"""The README, the dialogs, the translations and the brand images say what the code does."""

from __future__ import annotations

from datetime import date
import importlib.util
import json
import os
from pathlib import Path
import re
import socket
import struct
import subprocess
import sys
from typing import Any

import aiohttp
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import jsonschema
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import yaml

from custom_components.printernizer_stats.const import DOMAIN
from custom_components.printernizer_stats.counters import UsageCounters
from custom_components.printernizer_stats.privacy import describe_allowlist
from custom_components.printernizer_stats.report import (
    InstallationFacts,
    Period,
    build_report,
    check_report,
)
from custom_components.printernizer_stats.vocabulary import EVENT_TYPES

from .conftest import load_schema

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / DOMAIN
README = (ROOT / "README.md").read_text(encoding="utf-8")
STRINGS = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
EN = json.loads((INTEGRATION / "translations" / "en.json").read_text(encoding="utf-8"))
DE = json.loads((INTEGRATION / "translations" / "de.json").read_text(encoding="utf-8"))
PLACEHOLDER = re.compile(r"\{(\w+)\}")
REFERENCE = re.compile(r"\[%key:[^%]+%\]")

# Every field a report carries, and the words of the consent text that disclose it.
DISCLOSED = {
    "schema_version": "weekly report",
    "submission_timestamp": "the day it is sent",
    "installation.installation_id": "random installation ID",
    "installation.first_seen": "the day you started sharing",
    "installation.app_version": "Printernizer's version number",
    "installation.platform": "operating system",
    "installation.deployment_mode": "How Printernizer is installed",
    "installation.country_code": "Your country",
    "period.start": "the week the report covers",
    "period.end": "the week the report covers",
    "period.duration_days": "the week the report covers",
    "printer_fleet.printer_count": "number of printers per type",
    "printer_fleet.printer_types": "number of printers per type",
    "printer_fleet.printer_type_counts": "number of printers per type",
    "usage_stats.job_count": "completed print jobs",
    "usage_stats.file_count": "downloaded files",
    "usage_stats.upload_count": "uploaded files",
    "usage_stats.uptime_hours": "hours Printernizer was running",
    "usage_stats.feature_usage": "features were switched on or off",
    "error_summary": "kind of error",
}


def _fields(report: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted names of a report's fields (maps of counts count as one field)."""
    names: set[str] = set()
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key not in (
            "printer_type_counts",
            "feature_usage",
        ):
            if key == "error_summary":
                names.add(name)
            else:
                names |= _fields(value, f"{name}.")
        else:
            names.add(name)
    return names


def _leaves(node: Any, path: str = "") -> dict[str, str]:
    """Every string of a translation file by its path."""
    if isinstance(node, dict):
        return {
            k: v
            for key, value in node.items()
            for k, v in _leaves(value, f"{path}/{key}").items()
        }
    return {path: node}


def _readme_report() -> dict[str, Any]:
    """The example report in the README."""
    block = README.split("A real report (7 days, 3 printers)")[1].split("```json")[1]
    return dict(json.loads(block.split("```")[0]))


def test_readme_lists_the_allowlist() -> None:
    """'What we collect' is the allowlist, word for word."""
    block = README.split("<!-- allowlist:start -->\n")[1].split(
        "<!-- allowlist:end -->"
    )[0]
    assert block.strip().splitlines() == describe_allowlist()


def test_readme_report_fits_the_real_contract() -> None:
    """The README's example report is what the real service accepts."""
    report = _readme_report()
    validator = jsonschema.Draft202012Validator(
        load_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert not list(validator.iter_errors(report))
    check_report(report)
    assert report["installation"]["first_seen"].endswith("T00:00:00+00:00")


def test_readme_states_the_contract_facts() -> None:
    """No idempotency at the service, and where the API key comes from."""
    assert "does not deduplicate" in README
    assert "stores a resent report twice" in README
    assert "published by the Printernizer project" in README


def test_consent_text_discloses_every_report_field() -> None:
    """The dialog lists exactly what a report contains: a new field fails until it is disclosed."""
    report = build_report(
        tally=UsageCounters().tally(date(2026, 11, 3), date(2026, 11, 10)),
        period=Period(date(2026, 11, 3), date(2026, 11, 10)),
        installation=InstallationFacts(
            installation_id="0b6d1c2e-3f4a-4b5c-8d6e-7f8091a2b3c4",
            first_seen=date(2026, 11, 3),
            app_version="2.42.0",
            platform="linux",
            deployment_mode="homeassistant",
            country_code="DE",
        ),
        fleet={"bambu_lab": 1},
        today=date(2026, 11, 10),
    )
    assert _fields(report) == set(DISCLOSED)
    text = EN["config"]["step"]["consent"]["description"]
    contains = text.split("**What is never collected or sent:**")[0]
    for field, words in DISCLOSED.items():
        assert words.lower() in contains.lower(), field
    # "never" must not contradict "collect": the country is collected, a location not.
    never = text.split("**What is never collected or sent:**")[1]
    assert "country" not in never.split("(only the country above)")[0].lower()


def test_translations_are_complete_and_consistent() -> None:
    """English and German have the same strings with the same placeholders."""
    english, german = _leaves(EN), _leaves(DE)
    assert english.keys() == german.keys()
    for path, text in english.items():
        assert set(PLACEHOLDER.findall(text)) == set(
            PLACEHOLDER.findall(german[path])
        ), path
    assert not any(REFERENCE.search(text) for text in english.values())


def test_strings_never_mix_references_with_text() -> None:
    """hassfest: a string is either one [%key:…%] reference or plain text."""
    for path, text in _leaves(STRINGS).items():
        if REFERENCE.search(text):
            assert REFERENCE.fullmatch(text), path


def test_event_type_selector_is_translated() -> None:
    """The action's event-type dropdown lists every type, each with a translated label."""
    services = yaml.safe_load(
        (INTEGRATION / "services.yaml").read_text(encoding="utf-8")
    )
    select = services["record_event"]["fields"]["event_type"]["selector"]["select"]
    assert select["options"] == list(EVENT_TYPES)
    assert select["translation_key"] == "event_type"
    for labels in (EN, DE):
        assert set(labels["selector"]["event_type"]["options"]) == set(EVENT_TYPES)


def test_quality_scale_has_every_rule() -> None:
    """Every rule of the 2026 scale is done or exempt with a reason; nothing left to do."""
    rules = yaml.safe_load(
        (INTEGRATION / "quality_scale.yaml").read_text(encoding="utf-8")
    )["rules"]
    for rule in ("brands", "reauthentication-flow", "docs-conditions", "docs-triggers"):
        assert rule in rules
    assert rules["brands"] == "done"
    assert rules["reauthentication-flow"] == "done"
    for value in rules.values():
        assert value == "done" or (value["status"] == "exempt" and value["comment"])


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("icon.png", (256, 256)),
        ("icon@2x.png", (512, 512)),
        ("dark_icon.png", (256, 256)),
        ("dark_icon@2x.png", (512, 512)),
        ("logo.png", None),
        ("logo@2x.png", None),
        ("dark_logo.png", None),
        ("dark_logo@2x.png", None),
    ],
)
def test_brand_images(name: str, size: tuple[int, int] | None) -> None:
    """Home Assistant's image rules: PNG, the right sizes, a logo's short side 128-512."""
    data = (INTEGRATION / "brand" / name).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    color_type = data[25]
    assert color_type in (3, 6)  # palette (with tRNS) or RGBA: transparent
    if size is not None:
        assert (width, height) == size
    else:
        assert width > height
        assert 128 <= height <= 512


async def test_brand_images_are_served(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """Home Assistant 2026.3+ serves the integration's own images (older releases ignore them)."""
    pytest.importorskip("homeassistant.components.brands")
    assert await async_setup_component(hass, "brands", {})
    client = await hass_client()
    response = await client.get(f"/api/brands/integration/{DOMAIN}/icon.png")
    assert response.status == 200
    assert await response.read() == (INTEGRATION / "brand" / "icon.png").read_bytes()


async def test_localhost_resolves() -> None:
    """Host names resolve as in a real installation (Home Assistant's own package constraints).

    aiodns 3.2 with pycares 5 fails for every name, "localhost" included: the
    development instance then refused the prefilled http://localhost:8000.
    """
    resolver = aiohttp.AsyncResolver()
    try:
        (found, *_) = await resolver.resolve("localhost", 8000)
    finally:
        await resolver.close()
    assert found["host"] in ("127.0.0.1", "::1")


# --- the development instance (scripts/develop, devctl, the loopback guard) ---

SCRIPTS = ROOT / "scripts"


def _script(name: str) -> Any:
    """Import a module of scripts/ by file name."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_walks_through_the_development_tools() -> None:
    """Every devctl command and developer script the README names exists."""
    section = README.split("## Development")[1].split("## Licence")[0]
    for name in ("develop", "test", "smoke", "devctl", "lint", "bench", "brand"):
        assert f"scripts/{name}" in section
        assert (SCRIPTS / name).stat().st_mode & 0o111, name
    devctl = (SCRIPTS / "devctl.py").read_text(encoding="utf-8")
    for command in re.findall(r"`scripts/devctl ([a-z-]+)", section):
        assert f'"{command}"' in devctl, command
    for step in ("Consent", "Preview", "A refused key", "Re-authenticate", "dev-key"):
        assert step in section
    develop = (SCRIPTS / "develop").read_text(encoding="utf-8")
    assert "--skip-pip" in develop
    assert (
        "HA $ha_version: the integration's icon is not shown; it needs HA 2026.3+"
        in develop
    )
    assert "the integration's icon is not shown; it needs HA 2026.3+" in section


def test_dev_configuration_needs_no_internet() -> None:
    """No default_config, cloud or discovery in the development configuration."""
    config = (ROOT / "config/configuration.yaml").read_text(encoding="utf-8")
    keys = set(re.findall(r"^([a-z_]+):", config, re.MULTILINE))
    assert not keys & {
        "default_config",
        "cloud",
        "zeroconf",
        "ssdp",
        "dhcp",
        "bluetooth",
    }


def test_ha_requirements_lists_what_the_configuration_needs(tmp_path: Path) -> None:
    """The frontend is needed; what is installed at the right version is not listed."""
    ha_requirements = _script("ha_requirements")
    (tmp_path / "configuration.yaml").write_text("config:\nhistory:\n")
    found = ha_requirements.requirements(tmp_path)
    assert any(r.startswith("home-assistant-frontend==") for r in found)
    assert "history" in ha_requirements.configured_domains(tmp_path)
    assert ha_requirements.satisfied(f"pytest=={pytest.__version__}")
    assert not ha_requirements.satisfied("pytest==0.0.1")
    assert not ha_requirements.satisfied("no-such-package-here==1")
    assert ha_requirements.satisfied('no-such-package-here==1; python_version < "3"')


def test_loopback_guard_refuses_the_world() -> None:
    """Connections, datagrams and look-ups leave 127.0.0.0/8 nowhere; loopback works."""
    probe = f"""
import asyncio, socket, sys
sys.path.insert(0, {str(SCRIPTS)!r})
import hass_loopback
hass_loopback.install({{"localhost", "vm"}})
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
client = socket.create_connection(server.getsockname(), timeout=2)
for target in (("192.0.2.1", 80), ("8.8.8.8", 53)):
    try:
        socket.socket().connect(target)
    except PermissionError:
        pass
    else:
        raise SystemExit("connected to " + target[0])
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    udp.sendto(b"x", ("224.0.0.251", 5353))
except PermissionError:
    pass
else:
    raise SystemExit("sent a datagram")
try:
    socket.getaddrinfo("example.com", 443)
except socket.gaierror:
    pass
else:
    raise SystemExit("resolved example.com")
assert socket.getaddrinfo("localhost", 80)
import aiodns
async def lookup():
    resolver = aiodns.DNSResolver()
    try:
        await resolver.query("example.com", "A")
    except aiodns.error.DNSError:
        return
    raise SystemExit("aiodns resolved example.com")
asyncio.run(lookup())
print("guarded")
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "guarded", result.stderr
    assert "refused a connection to 192.0.2.1" in result.stderr
    assert "refused a name lookup of 'example.com'" in result.stderr
    guard = _script("hass_loopback")
    assert guard.is_loopback("127.8.9.1")
    assert guard.is_loopback("::ffff:127.0.0.1")
    assert not guard.is_loopback("10.0.0.1")
    hosts = ROOT / "config/configuration.yaml"  # any file: no loopback lines
    assert guard.loopback_names(hosts) == {"localhost"}


def _dev_config(tmp_path: Path, consent_day: str = "2026-12-06") -> Path:
    storage = tmp_path / ".storage"
    storage.mkdir(parents=True)
    entry = {
        "domain": DOMAIN,
        "options": {"share_statistics": True, "consent_day": consent_day},
    }
    entries = {"version": 1, "data": {"entries": [{"domain": "sun"}, entry]}}
    (storage / "core.config_entries").write_text(json.dumps(entries))
    delivery = {
        "first_seen": "2026-12-07",
        "last_request": "2026-12-06T10:00:00+00:00",
        "not_before": None,
        "pending": {"next_attempt": "2026-12-06T11:00:00+00:00"},
    }
    (storage / DOMAIN).write_text(json.dumps({"data": {"delivery": delivery}}))
    (tmp_path / "packages").mkdir()
    (tmp_path / "packages/http.yaml").write_text("http:\n  server_port: 1\n")
    return tmp_path


@pytest.mark.usefixtures("socket_enabled")
def test_devctl_backdate_and_skip_wait(tmp_path: Path) -> None:
    """backdate moves the consent and the first day; skip-wait forgets the hour."""
    devctl = _script("devctl")
    config = _dev_config(tmp_path)
    message = devctl.backdate(config, 2)
    assert message.startswith("consent_day 2026-12-06 -> 2026-12-04")
    entries = json.loads((config / ".storage/core.config_entries").read_text())
    assert entries["data"]["entries"][1]["options"]["consent_day"] == "2026-12-04"
    assert entries["data"]["entries"][0] == {"domain": "sun"}
    delivery = json.loads((config / f".storage/{DOMAIN}").read_text())["data"][
        "delivery"
    ]
    assert delivery["first_seen"] == "2026-12-05"
    assert "forgot last_request" in devctl.skip_wait(config)
    delivery = json.loads((config / f".storage/{DOMAIN}").read_text())["data"][
        "delivery"
    ]
    assert delivery["last_request"] is None
    assert delivery["pending"]["next_attempt"] != "2026-12-06T11:00:00+00:00"
    with pytest.raises(SystemExit, match="days >= 1"):
        devctl.backdate(config, 0)


@pytest.mark.usefixtures("socket_enabled")
def test_devctl_refuses_while_home_assistant_runs(tmp_path: Path) -> None:
    """A live pid file or a listener on Home Assistant's port stops backdate."""
    devctl = _script("devctl")
    config = _dev_config(tmp_path)
    (config / ".develop.pid").write_text(str(os.getpid()))
    with pytest.raises(SystemExit, match="stop Home Assistant first"):
        devctl.backdate(config, 2)
    (config / ".develop.pid").unlink()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        (config / "packages/http.yaml").write_text(f"http:\n  server_port: {port}\n")
        assert devctl.running(config) == f"something listens on 127.0.0.1:{port}"
        with pytest.raises(SystemExit, match="stop Home Assistant first"):
            devctl.skip_wait(config)
    assert devctl.running(config) is None
    with pytest.raises(SystemExit, match="does not share"):
        devctl.backdate(_dev_config(tmp_path / "off", consent_day=""), 2)


async def test_every_action_is_described_with_an_icon(hass: HomeAssistant) -> None:
    """Each registered action has a services.yaml entry, an icon, and an English and German name."""
    assert await async_setup_component(hass, DOMAIN, {})
    registered = set(hass.services.async_services_for_domain(DOMAIN))
    services = yaml.safe_load(
        (INTEGRATION / "services.yaml").read_text(encoding="utf-8")
    )
    icons = json.loads((INTEGRATION / "icons.json").read_text(encoding="utf-8"))
    assert registered == {
        "record_event",
        "export",
        "preview",
        "submit_now",
        "sent_reports",
        "delete_all",
    }
    assert set(services) == registered
    assert set(icons["services"]) == registered
    for labels in (EN, DE):
        assert set(labels["services"]) == registered
        for name in registered:
            assert labels["services"][name]["name"]
            assert labels["services"][name]["description"]
