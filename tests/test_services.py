"""Tests for the Printernizer Usage Statistics actions."""

from __future__ import annotations

from datetime import timedelta
import json
from pathlib import Path
import stat
from typing import Any
from unittest.mock import patch
import uuid

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import (
    HomeAssistantError,
    ServiceValidationError,
    Unauthorized,
)
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.printernizer_stats.const import (
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    SERVICE_DELETE_ALL,
    SERVICE_EXPORT,
    SERVICE_PREVIEW,
    SERVICE_RECORD_EVENT,
    SERVICE_SUBMIT_NOW,
)
from custom_components.printernizer_stats.coordinator import (
    PrinternizerStatsRuntimeData,
)
from simulator.stats_service import StatsServiceEmulator

from .conftest import CONSENT_DAY, advance, setup_entry

# Wednesday noon in the test time zone (US/Pacific), nine days after CONSENT_DAY.
NOW = "2026-11-11T20:00:00+00:00"
CONSENT_NOON = f"{CONSENT_DAY}T20:00:00+00:00"
TODAY = "2026-11-11"
JOBS_COMPLETED = "sensor.printernizer_usage_statistics_jobs_completed"

pytestmark = pytest.mark.freeze_time(NOW)


async def _call(
    hass: HomeAssistant,
    service: str,
    data: dict[str, Any] | None = None,
    *,
    context: Context | None = None,
    return_response: bool = True,
) -> Any:
    """Call one of our actions and wait for it."""
    return await hass.services.async_call(
        DOMAIN,
        service,
        data or {},
        blocking=True,
        context=context,
        return_response=return_response,
    )


def _runtime(entry: MockConfigEntry) -> PrinternizerStatsRuntimeData:
    """The loaded entry's runtime data."""
    data: PrinternizerStatsRuntimeData = entry.runtime_data
    return data


def _assert_nothing_stored(entry: MockConfigEntry) -> None:
    """No counter, total or rejection exists."""
    counters = _runtime(entry).storage.data.counters
    assert counters.days == {}
    assert counters.totals == {}
    assert counters.rejected == {}


async def test_record_event(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A valid event is counted with its coarsened metadata and shown at once."""
    response = await _call(
        hass,
        SERVICE_RECORD_EVENT,
        {
            "event_type": "job_completed",
            "metadata": {"printer_type": "bambu_lab", "duration_minutes": 95},
        },
        return_response=False,
    )
    await hass.async_block_till_done()

    assert response is None
    counters = _runtime(init_integration).storage.data.counters
    assert counters.days == {
        TODAY: {
            "job_completed": 1,
            "job_completed/printer_type=bambu_lab": 1,
            "job_completed/duration_minutes=1-3h": 1,
        }
    }
    assert counters.totals == {"job_completed": 1}
    state = hass.states.get(JOBS_COMPLETED)
    assert state is not None
    assert state.state == "1"


@pytest.mark.parametrize(
    ("event_type", "metadata", "translation_key", "placeholders"),
    [
        ("print_started", None, "unknown_event_type", None),
        (
            "job_completed",
            {"printer_type": "bambu_lab", "customer_name": "Anna Mueller"},
            "unknown_key",
            {"key": "customer_name", "event_type": "job_completed"},
        ),
        (
            "job_completed",
            {"anna@example.com": "x"},
            "unknown_key",
            {"key": "<unnamed key>", "event_type": "job_completed"},
        ),
        (
            "job_failed",
            {"printer_type": "bambu_lab", "duration_minutes": -5},
            "invalid_value",
            {"key": "duration_minutes", "event_type": "job_failed"},
        ),
        (
            "job_created",
            {"printer_type": "Anna's Bambu"},
            "invalid_value",
            {"key": "printer_type", "event_type": "job_created"},
        ),
        (
            "error_occurred",
            {"component": "api", "error_type": "Printer1234Error"},
            "sensitive_value",
            {"key": "error_type", "event_type": "error_occurred"},
        ),
        (
            "feature_enabled",
            {f"key_{index}": True for index in range(17)},
            "too_many_keys",
            None,
        ),
    ],
)
async def test_record_event_refused(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    event_type: str,
    metadata: dict[str, Any] | None,
    translation_key: str,
    placeholders: dict[str, str] | None,
) -> None:
    """Any bad part refuses the whole call with an error naming the key; nothing is stored."""
    data: dict[str, Any] = {"event_type": event_type}
    if metadata is not None:
        data["metadata"] = metadata

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, SERVICE_RECORD_EVENT, data, return_response=False)
    await hass.async_block_till_done()

    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == translation_key
    assert err.value.translation_placeholders == placeholders
    _assert_nothing_stored(init_integration)
    state = hass.states.get(JOBS_COMPLETED)
    assert state is not None
    assert state.state == "0"


async def test_record_event_error_message(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The refusal's message names the key but never repeats the refused value."""
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            SERVICE_RECORD_EVENT,
            {
                "event_type": "error_occurred",
                "metadata": {"error_type": "Anna1234Error"},
            },
            return_response=False,
        )

    message = str(err.value)
    assert "error_type" in message
    assert "nothing was recorded" in message
    assert "Anna1234Error" not in message


async def _opted_in_history(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
) -> MockConfigEntry:
    """Opt in on CONSENT_DAY, record on several days, and let the first report go out."""
    entry = await setup_entry(hass, printernizer_url, opted_in_options)
    await _call(
        hass,
        SERVICE_RECORD_EVENT,
        {
            "event_type": "job_completed",
            "metadata": {"printer_type": "prusa_core", "duration_minutes": 30},
        },
        return_response=False,
    )
    hass.bus.async_fire(
        EVENT_PRINTERNIZER_STATS,
        {
            "event_type": "file_downloaded",
            "metadata": {"size_bytes": 2_500_000, "filename": "Anna_bracket.3mf"},
        },
    )
    await advance(hass, freezer, timedelta(days=2))
    await _call(
        hass,
        SERVICE_RECORD_EVENT,
        {
            "event_type": "error_occurred",
            "metadata": {"error_type": "TimeoutError", "component": "mqtt"},
        },
        return_response=False,
    )
    hass.bus.async_fire(EVENT_PRINTERNIZER_STATS, {"event_type": "bogus"})
    freezer.move_to("2026-11-11T19:59:59+00:00")
    await advance(hass, freezer, timedelta(seconds=1))
    return entry


@pytest.mark.freeze_time(CONSENT_NOON)
async def test_export(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    snapshot: SnapshotAssertion,
) -> None:
    """The export holds everything stored, the consent, the history and the next report."""
    entry = await _opted_in_history(hass, freezer, printernizer_url, opted_in_options)
    assert len(stats_service.accepted) == 1

    export = await _call(hass, SERVICE_EXPORT)

    installation_id = _runtime(entry).storage.data.installation_id
    assert installation_id is not None
    assert uuid.UUID(installation_id).version == 4
    assert export["installation"]["installation_id"] == installation_id
    assert export["next_report"]["installation"]["installation_id"] == installation_id
    assert export["next_report"] == (await _call(hass, SERVICE_PREVIEW))["report"]
    assert export == snapshot(exclude=props("installation_id"))


async def test_export_writes_private_file(
    hass: HomeAssistant, init_integration: MockConfigEntry, tmp_path: Path
) -> None:
    """The export is also written as owner-only JSON, even over a readable old file."""
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    target = tmp_path / "exports" / "printernizer.json"
    target.parent.mkdir()
    target.write_text("old")
    target.chmod(0o644)

    export = await _call(hass, SERVICE_EXPORT, {"path": str(target)})

    assert export["written_to"] == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    written = json.loads(target.read_text(encoding="utf-8"))
    assert written == {
        key: value for key, value in export.items() if key != "written_to"
    }
    assert written["export_version"] == 1


async def test_export_creates_folder(
    hass: HomeAssistant, init_integration: MockConfigEntry, tmp_path: Path
) -> None:
    """A missing folder inside an allowed one is created."""
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    target = tmp_path / "new" / "export.json"

    await _call(hass, SERVICE_EXPORT, {"path": str(target)})

    assert stat.S_IMODE(target.stat().st_mode) == 0o600


async def test_export_write_failure_is_translated(
    hass: HomeAssistant, init_integration: MockConfigEntry, tmp_path: Path
) -> None:
    """A disk error while writing the export is a translated error, not a traceback."""
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    target = tmp_path / "export.json"
    with (
        patch(
            "custom_components.printernizer_stats.services._write_private_json",
            side_effect=OSError(28, "No space left on device"),
        ),
        pytest.raises(HomeAssistantError) as err,
    ):
        await _call(hass, SERVICE_EXPORT, {"path": str(target)})
    assert err.value.translation_key == "export_write_failed"
    assert err.value.translation_placeholders == {
        "path": str(target),
        "error": "No space left on device",
    }
    assert not target.exists()


@pytest.mark.parametrize(
    "where",
    ["outside", "traversal", "symlink", "www", "directory", "relative"],
)
async def test_export_path_refused(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    tmp_path: Path,
    where: str,
) -> None:
    """Paths outside the allowlist, in www/ or naming a folder are refused; nothing is written."""
    allowed = tmp_path / "allowed"
    outside = tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "link").symlink_to(outside)
    www = Path(hass.config.path("www"))
    # Home Assistant allowlists www/ by default; it must still be refused.
    hass.config.allowlist_external_dirs = {str(allowed), str(www)}
    path = {
        "outside": str(outside / "export.json"),
        "traversal": f"{allowed}/../outside/export.json",
        "symlink": str(allowed / "link" / "export.json"),
        "www": str(www / "export.json"),
        "directory": str(allowed),
        "relative": "printernizer_export.json",
    }[where]

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, SERVICE_EXPORT, {"path": path})

    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "path_not_allowed"
    assert err.value.translation_placeholders == {"path": path}
    assert list(outside.iterdir()) == []
    assert list(allowed.iterdir()) == [allowed / "link"]
    assert not (www / "export.json").exists()
    assert not Path(hass.config.path("printernizer_export.json")).exists()


async def test_preview_matches_export(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Preview returns the export's next report and the sharing status."""
    await _call(
        hass,
        SERVICE_RECORD_EVENT,
        {"event_type": "job_completed"},
        return_response=False,
    )

    preview = await _call(hass, SERVICE_PREVIEW)
    export = await _call(hass, SERVICE_EXPORT)

    assert preview["sharing_status"] == "opted_out"
    assert preview["report"] == export["next_report"]
    # Not opted in: what a report would hold if sharing started today.
    assert preview["report"]["usage_stats"]["job_count"] == 1
    assert preview["report"]["period"]["start"] == f"{TODAY}T00:00:00+00:00"
    assert export["submission"]["pending"] is None


async def test_preview_is_the_report_sent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """While a report is pending, preview and export show exactly what the retry sends."""
    await setup_entry(hass, printernizer_url, opted_in_options)
    await _call(
        hass,
        SERVICE_RECORD_EVENT,
        {"event_type": "job_completed"},
        return_response=False,
    )
    stats_service.fail_next(503)
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, SERVICE_SUBMIT_NOW)
    assert err.value.translation_key == "submission_failed"

    preview = await _call(hass, SERVICE_PREVIEW)
    export = await _call(hass, SERVICE_EXPORT)
    assert preview["sharing_status"] == "failing"
    assert export["next_report"] == preview["report"]
    pending = export["submission"]["pending"]
    assert pending["period_start"] == CONSENT_DAY
    assert pending["period_end"] == TODAY
    assert pending["attempts"] == 1
    next_attempt = dt_util.parse_datetime(pending["next_attempt"])
    assert next_attempt is not None
    assert next_attempt >= dt_util.utcnow() + timedelta(hours=1)

    # An event recorded now does not change the frozen report.
    await _call(
        hass,
        SERVICE_RECORD_EVENT,
        {"event_type": "job_completed"},
        return_response=False,
    )
    assert (await _call(hass, SERVICE_PREVIEW))["report"] == preview["report"]

    await advance(hass, freezer, timedelta(days=2))
    assert stats_service.accepted == [preview["report"]]


async def test_submit_now(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """An admin sends the report now; a second request within the hour is deferred."""
    await setup_entry(hass, printernizer_url, opted_in_options)
    context = Context(user_id=hass_admin_user.id)

    response = await _call(hass, SERVICE_SUBMIT_NOW, context=context)

    assert response == {
        "submitted": True,
        "next_allowed": None,
        "last_submission": NOW,
    }
    assert len(stats_service.accepted) == 1
    assert stats_service.accepted[0]["period"]["start"].startswith(CONSENT_DAY)

    response = await _call(hass, SERVICE_SUBMIT_NOW, context=context)

    assert response == {
        "submitted": False,
        "next_allowed": "2026-11-11T21:00:00+00:00",
        "last_submission": NOW,
    }
    assert len(stats_service.log) == 1


async def test_submit_now_not_opted_in(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    stats_service: StatsServiceEmulator,
) -> None:
    """Without consent nothing is sent and the user is told why."""
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, SERVICE_SUBMIT_NOW)

    assert err.value.translation_key == "not_opted_in"
    assert stats_service.log == []


@pytest.mark.parametrize("service", [SERVICE_SUBMIT_NOW, SERVICE_DELETE_ALL])
async def test_admin_actions_refuse_non_admin(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    hass_read_only_user: MockUser,
    service: str,
) -> None:
    """A non-admin or unknown user may neither send nor delete."""
    entry = await setup_entry(hass, printernizer_url, opted_in_options)
    await _call(
        hass,
        SERVICE_RECORD_EVENT,
        {"event_type": "job_completed"},
        return_response=False,
    )
    installation_id = _runtime(entry).storage.data.installation_id

    for user_id in (hass_read_only_user.id, "no-such-user"):
        with pytest.raises(Unauthorized):
            await _call(hass, service, context=Context(user_id=user_id))

    assert stats_service.log == []
    stored = _runtime(entry).storage.data
    assert stored.counters.totals == {"job_completed": 1}
    assert stored.installation_id == installation_id


@pytest.mark.freeze_time(CONSENT_NOON)
async def test_delete_all(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """Deleting wipes local data, rotates the id and erases what the service received."""
    entry = await _opted_in_history(hass, freezer, printernizer_url, opted_in_options)
    old_id = _runtime(entry).storage.data.installation_id
    assert old_id is not None
    assert stats_service.submissions_for(old_id)

    response = await _call(
        hass, SERVICE_DELETE_ALL, context=Context(user_id=hass_admin_user.id)
    )
    await hass.async_block_till_done()

    assert response == {
        "deleted": {"days": 2, "events": 3, "submissions": 1},
        "service_erasure": "erased",
        "installation_id_rotated": True,
    }
    assert stats_service.submissions_for(old_id) == []
    stored = _runtime(entry).storage.data
    _assert_nothing_stored(entry)
    assert stored.installation_id not in (None, old_id)
    export = await _call(hass, SERVICE_EXPORT)
    assert export["submission"]["history"] == []
    assert export["submission"]["last_success"] is None
    state = hass.states.get(JOBS_COMPLETED)
    assert state is not None
    assert state.state == "0"


async def test_delete_all_never_shared(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    stats_service: StatsServiceEmulator,
) -> None:
    """Without an installation id the service is not contacted."""
    await _call(
        hass, SERVICE_RECORD_EVENT, {"event_type": "job_created"}, return_response=False
    )

    response = await _call(hass, SERVICE_DELETE_ALL)

    assert response == {
        "deleted": {"days": 1, "events": 1, "submissions": 0},
        "service_erasure": "not_needed",
        "installation_id_rotated": False,
    }
    assert stats_service.log == []
    _assert_nothing_stored(init_integration)


SERVICE_CALLS = [
    (SERVICE_RECORD_EVENT, {"event_type": "job_completed"}, False),
    (SERVICE_EXPORT, {}, True),
    (SERVICE_PREVIEW, {}, True),
    (SERVICE_SUBMIT_NOW, {}, True),
    (SERVICE_DELETE_ALL, {}, True),
]


@pytest.mark.parametrize(("service", "data", "return_response"), SERVICE_CALLS)
async def test_actions_when_not_loaded(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    service: str,
    data: dict[str, Any],
    return_response: bool,
) -> None:
    """Every action refuses clearly while the entry is unloaded."""
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, service, data, return_response=return_response)

    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "not_loaded"


@pytest.mark.parametrize(("service", "data", "return_response"), SERVICE_CALLS)
async def test_actions_without_entry(
    hass: HomeAssistant, service: str, data: dict[str, Any], return_response: bool
) -> None:
    """The actions exist without a config entry and refuse clearly."""
    assert await async_setup_component(hass, DOMAIN, {})

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, service, data, return_response=return_response)

    assert err.value.translation_key == "not_loaded"
