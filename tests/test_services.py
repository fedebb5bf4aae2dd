"""Tests for the Printernizer Usage Statistics actions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
import json
import logging
from pathlib import Path
import stat
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_CALL_SERVICE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import (
    HomeAssistantError,
    ServiceValidationError,
    Unauthorized,
)
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.printernizer_stats.const import (
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    SERVICE_DELETE_ALL,
    SERVICE_EXPORT,
    SERVICE_PREVIEW,
    SERVICE_RECORD_EVENT,
    SERVICE_SENT_REPORTS,
    SERVICE_SUBMIT_NOW,
)
from custom_components.printernizer_stats.errors import (
    PrinternizerStatsError,
    StorageUnwritableError,
)
from custom_components.printernizer_stats.vocabulary import EVENT_TYPES
from simulator.stats_service import StatsServiceEmulator

from .conftest import API_KEY, advance, call_action, make_entry, publish, setup_entry

NOW = "2026-11-04T10:00:00+00:00"
TODAY = "2026-11-04"
JOBS_COMPLETED = "sensor.printernizer_usage_statistics_jobs_completed"
PRINTERS = "sensor.printernizer_usage_statistics_printers"
SUBMISSION = "custom_components.printernizer_stats.submission.SubmissionManager"

pytestmark = pytest.mark.freeze_time(NOW)


@pytest.fixture
def service_calls(hass: HomeAssistant) -> list[Event]:
    """Every call_service event fired (what the recorder would store)."""
    calls: list[Event] = []

    @callback
    def _listener(event: Event) -> None:
        if event.data["domain"] == DOMAIN:
            calls.append(event)

    hass.bus.async_listen(EVENT_CALL_SERVICE, _listener)
    return calls


@pytest.fixture
async def opted_in(
    hass: HomeAssistant, printernizer_url: str, opted_in_options: dict[str, Any]
) -> MockConfigEntry:
    """An entry of a user who opted in two days ago, set up."""
    return await setup_entry(hass, make_entry(printernizer_url, opted_in_options))


def _keys(value: Any) -> Iterator[str]:
    """Every mapping key in a nested response."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


async def test_record_event(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    service_calls: list[Event],
) -> None:
    """Valid input, numbers or range labels, is counted under our own words."""
    await call_action(
        hass,
        SERVICE_RECORD_EVENT,
        {
            "event_type": "job_completed",
            "metadata": {"printer_type": "Bambu_Lab ", "duration_minutes": 95},
        },
    )
    await call_action(
        hass,
        SERVICE_RECORD_EVENT,
        {
            "event_type": "job_completed",
            "metadata": {"printer_type": "prusa_core", "duration_minutes": "1-3h"},
        },
    )
    await call_action(hass, SERVICE_RECORD_EVENT, {"event_type": "file_downloaded"})
    await advance(hass, freezer, timedelta(seconds=1))
    assert len(service_calls) == 3

    export = await call_action(hass, SERVICE_EXPORT)
    assert export["counters_by_day"] == {
        TODAY: {
            "file_downloaded": {"count": 1, "metadata": {}},
            "job_completed": {
                "count": 2,
                "metadata": {
                    "duration_minutes": {"1-3h": 2},
                    "printer_type": {"bambu_lab": 1, "prusa_core": 1},
                },
            },
        }
    }
    assert export["totals"] == {"file_downloaded": 1, "job_completed": 2}
    assert export["rejected_events"] == {}
    assert hass.states.get(JOBS_COMPLETED).state == "2"


@pytest.mark.parametrize(
    ("data", "translation_key", "placeholders"),
    [
        (
            {"event_type": "Jane Doe's print"},
            "unknown_event_type",
            {"event_types": ", ".join(EVENT_TYPES)},
        ),
        (
            {"event_type": "job_completed", "customer": "Jane Doe"},
            "invalid_fields",
            {"fields": "event_type, metadata"},
        ),
        (
            {"event_type": "job_completed", "metadata": "Jane Doe"},
            "invalid_metadata",
            None,
        ),
        (
            {"event_type": "job_completed", "metadata": ["Jane", "Doe"]},
            "invalid_metadata",
            None,
        ),
        (
            {
                "event_type": "feature_enabled",
                "metadata": {f"Jane Doe {index}": True for index in range(17)},
            },
            "too_many_keys",
            {"max": "16"},
        ),
        (
            {
                "event_type": "job_completed",
                "metadata": {"printer_type": "bambu_lab", "jane.doe@example.com": 1},
            },
            "unknown_key",
            {
                "position": "2",
                "total": "2",
                "event_type": "job_completed",
                "allowed": "printer_type, duration_minutes",
            },
        ),
        (
            {"event_type": "app_shutdown", "metadata": {"Jane Doe": "x"}},
            "unknown_key",
            {
                "position": "1",
                "total": "1",
                "event_type": "app_shutdown",
                "allowed": "uptime_hours",
            },
        ),
        (
            {"event_type": "app_start", "metadata": {"Jane Doe": "x"}},
            "unknown_key",
            {
                "position": "1",
                "total": "1",
                "event_type": "app_start",
                "allowed": "app_version, deployment_mode, library_enabled, "
                "timelapse_enabled, auto_download_enabled",
            },
        ),
        (
            {
                "event_type": "error_occurred",
                "metadata": {"component": "api", "error_type": "JaneDoeError"},
            },
            "invalid_value",
            {"key": "error_type", "event_type": "error_occurred"},
        ),
        (
            {"event_type": "job_created", "metadata": {"printer_type": "Jane's Bambu"}},
            "invalid_value",
            {"key": "printer_type", "event_type": "job_created"},
        ),
        (
            {"event_type": "job_failed", "metadata": {"duration_minutes": -5}},
            "invalid_value",
            {"key": "duration_minutes", "event_type": "job_failed"},
        ),
        (
            {"event_type": "feature_enabled", "metadata": {"feature": "yes"}},
            "invalid_value",
            {"key": "feature", "event_type": "feature_enabled"},
        ),
    ],
)
async def test_record_event_refused(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    service_calls: list[Event],
    data: dict[str, Any],
    translation_key: str,
    placeholders: dict[str, str] | None,
) -> None:
    """Any bad part refuses the whole call before Home Assistant records it."""
    with pytest.raises(ServiceValidationError) as err:
        await call_action(hass, SERVICE_RECORD_EVENT, data)
    await hass.async_block_till_done()

    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == translation_key
    assert err.value.translation_placeholders == placeholders
    message = str(err.value)
    assert "nothing was recorded" in message
    for text in ("Jane", "Doe", "jane"):
        assert text not in message
        assert text not in json.dumps(placeholders)
    assert service_calls == []
    export = await call_action(hass, SERVICE_EXPORT)
    assert export["counters_by_day"] == {}
    assert export["totals"] == {}
    assert export["rejected_events"] == {}
    assert hass.states.get(JOBS_COMPLETED).state == "0"


async def test_record_event_refuses_non_mapping(
    hass: HomeAssistant, init_integration: MockConfigEntry, service_calls: list[Event]
) -> None:
    """Service data that is not a mapping is refused without repeating it."""
    with pytest.raises(ServiceValidationError) as err:
        await call_action(hass, SERVICE_RECORD_EVENT, ["Jane Doe"])

    assert err.value.translation_key == "invalid_metadata"
    assert service_calls == []


async def test_record_event_unknown_key_message(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """An unknown key is named by its position, never by its text."""
    with pytest.raises(ServiceValidationError) as err:
        await call_action(
            hass,
            SERVICE_RECORD_EVENT,
            {
                "event_type": "job_created",
                "metadata": {"printer_type": "octoprint", "Jane Doe": 1, "x": 2},
            },
        )

    message = str(err.value)
    assert "Metadata key 2 of 3 is not allowed for job_created" in message
    assert "Allowed keys: printer_type" in message
    assert "Jane" not in message


@pytest.mark.usefixtures("init_integration")
async def test_export(
    hass: HomeAssistant,
    stats_endpoint: str,
    printernizer_url: str,
    snapshot: SnapshotAssertion,
) -> None:
    """The export holds everything stored and the next report, never a key or address."""
    await call_action(
        hass,
        SERVICE_RECORD_EVENT,
        {"event_type": "job_completed", "metadata": {"printer_type": "octoprint"}},
    )
    hass.bus.async_fire(
        EVENT_PRINTERNIZER_STATS,
        {
            "event_type": "error_occurred",
            "metadata": {"error_type": "JaneDoeError", "note": "Jane Doe"},
        },
    )
    await hass.async_block_till_done()

    export = await call_action(hass, SERVICE_EXPORT)

    assert export == snapshot
    assert export["next_report"] == (await call_action(hass, SERVICE_PREVIEW))["report"]
    text = json.dumps(export)
    for secret in (API_KEY, stats_endpoint, printernizer_url, "127.0.0.1", "Jane"):
        assert secret not in text
    for key in _keys(export):
        assert not any(
            word in key.lower() for word in ("api_key", "endpoint", "hash", "url")
        )


@pytest.fixture
def export_dirs(hass: HomeAssistant, tmp_path: Path) -> Path:
    """An allowlisted folder (www/ is allowlisted as well, as Home Assistant does)."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    hass.config.allowlist_external_dirs = {str(allowed), hass.config.path("www")}
    return allowed


@pytest.mark.usefixtures("init_integration")
async def test_export_writes_private_file(
    hass: HomeAssistant, export_dirs: Path, hass_admin_user: MockUser
) -> None:
    """An admin gets a new owner-only file (its folder made if needed)."""
    target = export_dirs / "exports" / "printernizer.json"

    export = await call_action(
        hass, SERVICE_EXPORT, {"path": str(target)}, user=hass_admin_user
    )

    assert export["written_to"] == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    written = json.loads(target.read_text(encoding="utf-8"))
    assert written == {
        key: value for key, value in export.items() if key != "written_to"
    }


@pytest.mark.usefixtures("init_integration")
async def test_export_never_overwrites(
    hass: HomeAssistant, export_dirs: Path, hass_admin_user: MockUser
) -> None:
    """An existing file is refused and left exactly as it was."""
    target = export_dirs / "printernizer.json"
    target.write_text("mine", encoding="utf-8")
    target.chmod(0o644)

    with pytest.raises(ServiceValidationError) as err:
        await call_action(
            hass, SERVICE_EXPORT, {"path": str(target)}, user=hass_admin_user
        )

    assert err.value.translation_key == "path_exists"
    assert err.value.translation_placeholders == {"path": str(target)}
    assert target.read_text(encoding="utf-8") == "mine"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    "where", ["outside", "traversal", "symlink", "www", "directory", "relative"]
)
async def test_export_path_refused(
    hass: HomeAssistant, export_dirs: Path, tmp_path: Path, where: str
) -> None:
    """Paths outside the allowlist, in www/ or naming a folder are refused; nothing is written."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (export_dirs / "link").symlink_to(outside)
    www = Path(hass.config.path("www"))
    path = {
        "outside": str(outside / "export.json"),
        "traversal": f"{export_dirs}/../outside/export.json",
        "symlink": str(export_dirs / "link" / "export.json"),
        "www": str(www / "export.json"),
        "directory": str(export_dirs),
        "relative": "printernizer_export.json",
    }[where]

    with pytest.raises(ServiceValidationError) as err:
        await call_action(hass, SERVICE_EXPORT, {"path": path})

    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "path_not_allowed"
    assert err.value.translation_placeholders == {"path": path}
    assert list(outside.iterdir()) == []
    assert list(export_dirs.iterdir()) == [export_dirs / "link"]
    assert not (www / "export.json").exists()
    assert not Path(hass.config.path("printernizer_export.json")).exists()


@pytest.mark.usefixtures("init_integration")
async def test_export_write_failure(hass: HomeAssistant, export_dirs: Path) -> None:
    """A disk error while writing is a translated error."""
    target = export_dirs / "export.json"
    with (
        patch(
            "custom_components.printernizer_stats.services._write_new_private_json",
            side_effect=OSError(28, "No space left on device"),
        ),
        pytest.raises(HomeAssistantError) as err,
    ):
        await call_action(hass, SERVICE_EXPORT, {"path": str(target)})

    # Our words (translated), never the operating system's text.
    assert err.value.translation_key == "export_disk_full"
    assert err.value.translation_placeholders == {"path": str(target)}
    assert "No space left on device" not in str(err.value)
    assert not target.exists()


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize("user_id", ["read_only", "no-such-user"])
async def test_export_file_admin_only(
    hass: HomeAssistant,
    export_dirs: Path,
    hass_read_only_user: MockUser,
    user_id: str,
) -> None:
    """Only admins may write a file; anyone may read the response."""
    user_id = hass_read_only_user.id if user_id == "read_only" else user_id
    target = export_dirs / "export.json"

    with pytest.raises(Unauthorized):
        await call_action(hass, SERVICE_EXPORT, {"path": str(target)}, user_id=user_id)

    assert not target.exists()
    if user_id == hass_read_only_user.id:
        export = await call_action(hass, SERVICE_EXPORT, user_id=user_id)
        assert "next_report" in export
        # Identifiers and the reports that were sent are for admins only.
        assert "sent_reports" not in export
        assert export["next_report"]["installation"]["installation_id"] == (
            "**REDACTED**"
        )
        assert export["submission"]["installation_id"] is None


@pytest.mark.usefixtures("init_integration")
async def test_preview(hass: HomeAssistant) -> None:
    """Preview is the export's next report; not sharing, it is what sharing from today would send."""
    await call_action(hass, SERVICE_RECORD_EVENT, {"event_type": "job_completed"})

    preview = await call_action(hass, SERVICE_PREVIEW)

    assert preview["sharing_status"] == "opted_out"
    assert preview["report"] == (await call_action(hass, SERVICE_EXPORT))["next_report"]
    assert preview["report"]["period"]["start"] == f"{TODAY}T00:00:00+00:00"
    assert preview["report"]["usage_stats"]["job_count"] == 1


@pytest.mark.usefixtures("opted_in")
async def test_submit_now(
    hass: HomeAssistant,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """An admin sends now; a second request within the hour is deferred, not sent."""
    await call_action(hass, SERVICE_RECORD_EVENT, {"event_type": "job_completed"})

    response = await call_action(hass, SERVICE_SUBMIT_NOW, user=hass_admin_user)

    assert response == {
        "submitted": True,
        "reason": "sent",
        "next_allowed": None,
        "last_submission": NOW,
    }
    assert len(stats_service.accepted) == 1
    # Forced: the whole days since consent (the day after CONSENT_DAY), not today.
    assert stats_service.accepted[0]["period"] == {
        "start": "2026-11-03T00:00:00+00:00",
        "end": "2026-11-04T00:00:00+00:00",
        "duration_days": 1,
    }

    response = await call_action(hass, SERVICE_SUBMIT_NOW, user=hass_admin_user)

    assert response == {
        "submitted": False,
        "reason": "too_soon",
        "next_allowed": "2026-11-04T11:00:00+00:00",
        "last_submission": NOW,
    }
    assert len(stats_service.log) == 1


@pytest.mark.usefixtures("opted_in")
@pytest.mark.parametrize("service", [SERVICE_SUBMIT_NOW, SERVICE_DELETE_ALL])
@pytest.mark.parametrize("user_id", ["read_only", "no-such-user"])
async def test_admin_actions_refuse_non_admin(
    hass: HomeAssistant,
    stats_service: StatsServiceEmulator,
    hass_read_only_user: MockUser,
    service: str,
    user_id: str,
) -> None:
    """A non-admin or unknown user may neither send nor delete."""
    await call_action(hass, SERVICE_RECORD_EVENT, {"event_type": "job_completed"})
    user_id = hass_read_only_user.id if user_id == "read_only" else user_id

    with pytest.raises(Unauthorized):
        await call_action(hass, service, user_id=user_id)

    assert stats_service.log == []
    assert (await call_action(hass, SERVICE_EXPORT))["totals"] == {"job_completed": 1}


@pytest.mark.usefixtures("init_integration")
async def test_submit_now_not_opted_in(
    hass: HomeAssistant,
    stats_service: StatsServiceEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without consent nothing is sent, and the answer says why (no error)."""
    response = await call_action(hass, SERVICE_SUBMIT_NOW)

    assert response == {
        "submitted": False,
        "reason": "not_sharing",
        "next_allowed": None,
        "last_submission": None,
    }
    assert stats_service.log == []
    assert "ERROR" not in caplog.text


async def test_submit_now_nothing_to_submit(
    hass: HomeAssistant,
    printernizer_url: str,
    opted_in_options: dict[str, Any],
    stats_service: StatsServiceEmulator,
) -> None:
    """Consent given yesterday: today is the first day, and it is not over."""
    await setup_entry(
        hass,
        make_entry(printernizer_url, {**opted_in_options, "consent_day": "2026-11-03"}),
    )

    response = await call_action(hass, SERVICE_SUBMIT_NOW)

    assert (response["submitted"], response["reason"]) == (False, "nothing_due")
    assert stats_service.log == []


@pytest.mark.usefixtures("opted_in")
@pytest.mark.parametrize(
    ("status", "reason"),
    [(401, "key_refused"), (403, "key_refused"), (422, "rejected")],
)
async def test_submit_now_refused(
    hass: HomeAssistant,
    stats_service: StatsServiceEmulator,
    caplog: pytest.LogCaptureFixture,
    status: int,
    reason: str,
) -> None:
    """A refused key or report stops sending; the answer says so, twice, with one request."""
    stats_service.fail_next(status)

    response = await call_action(hass, SERVICE_SUBMIT_NOW)
    assert (response["submitted"], response["reason"]) == (False, reason)
    again = await call_action(hass, SERVICE_SUBMIT_NOW)
    assert (again["submitted"], again["reason"]) == (False, reason)
    assert [entry[2] for entry in stats_service.log] == [status]
    assert not [r for r in _ours(caplog) if r.levelname == "ERROR"]


@pytest.mark.usefixtures("opted_in")
async def test_submit_now_failed(
    hass: HomeAssistant, stats_service: StatsServiceEmulator
) -> None:
    """A failed delivery says when it is retried, as an answer."""
    stats_service.fail_next(503)

    response = await call_action(hass, SERVICE_SUBMIT_NOW)

    assert response == {
        "submitted": False,
        "reason": "retry_later",
        "next_allowed": "2026-11-04T11:00:00+00:00",
        "last_submission": None,
    }


@pytest.mark.usefixtures("opted_in")
@pytest.mark.parametrize(
    ("error", "translation_key", "message"),
    [
        (StorageUnwritableError(), "storage_unwritable", "cannot be written"),
        (PrinternizerStatsError("some_code"), None, "some_code"),
    ],
)
async def test_submit_now_other_errors(
    hass: HomeAssistant,
    error: PrinternizerStatsError,
    translation_key: str | None,
    message: str,
) -> None:
    """Only real faults raise: each becomes a Home Assistant error."""
    with (
        patch(f"{SUBMISSION}.async_submit_now", side_effect=error),
        pytest.raises(HomeAssistantError) as err,
    ):
        await call_action(hass, SERVICE_SUBMIT_NOW)

    assert err.value.translation_key == translation_key
    assert message in str(err.value)


async def test_delete_all(
    hass: HomeAssistant,
    opted_in: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """Deleting wipes local data, rotates the id and erases what the service received."""
    await call_action(hass, SERVICE_RECORD_EVENT, {"event_type": "job_completed"})
    await call_action(hass, SERVICE_RECORD_EVENT, {"event_type": "job_created"})
    await call_action(hass, SERVICE_SUBMIT_NOW)
    old_id = (await call_action(hass, SERVICE_EXPORT))["submission"]["installation_id"]
    assert stats_service.submissions_for(old_id)

    response = await call_action(hass, SERVICE_DELETE_ALL, user=hass_admin_user)
    await hass.async_block_till_done()

    assert response == {
        "deleted": {"days": 1, "events": 2, "submissions": 1},
        "service_erasure": "erased",
        "installation_id_rotated": True,
        "recorder": {
            "entity_history": "no_recorder",
            "statistics": "no_recorder",
            "bus_events": "no_recorder",
        },
    }
    assert stats_service.deleted_ids == [old_id]
    assert stats_service.submissions_for(old_id) == []
    export = await call_action(hass, SERVICE_EXPORT)
    assert export["counters_by_day"] == {}
    assert export["totals"] == {}
    assert export["submission"]["installation_id"] not in (None, old_id)
    assert export["sent_reports"] == []
    assert export["submission"]["ids_at_services"] == []
    assert export["submission"]["pending_erasures"] == []
    publish(hass)
    assert hass.states.get(JOBS_COMPLETED).state == "0"
    # The fleet describes the present: it stays, and so does the sensor.
    assert hass.states.get(PRINTERS).state == "3"


async def test_delete_all_erasure_pending(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    opted_in: MockConfigEntry,
    stats_service: StatsServiceEmulator,
) -> None:
    """While the service is down the id is kept and asked again later."""
    await call_action(hass, SERVICE_SUBMIT_NOW)
    old_id = (await call_action(hass, SERVICE_EXPORT))["submission"]["installation_id"]
    stats_service.down = True

    response = await call_action(hass, SERVICE_DELETE_ALL)

    assert response["service_erasure"] == "pending"
    assert response["installation_id_rotated"] is True
    submission = (await call_action(hass, SERVICE_EXPORT))["submission"]
    assert [e["installation_id"] for e in submission["pending_erasures"]] == [old_id]
    assert submission["installation_id"] != old_id
    publish(hass)
    state = hass.states.get("sensor.printernizer_usage_statistics_sharing_status")
    assert list(state.attributes["pending_erasures"].values()) == [1]
    assert stats_service.deleted_ids == []

    stats_service.down = False
    await advance(hass, freezer, timedelta(hours=1, minutes=1))

    assert stats_service.deleted_ids == [old_id]
    assert (await call_action(hass, SERVICE_EXPORT))["submission"][
        "pending_erasures"
    ] == []


@pytest.mark.usefixtures("init_integration")
async def test_delete_all_never_shared(
    hass: HomeAssistant, stats_service: StatsServiceEmulator
) -> None:
    """Without an id ever sent the service is not contacted."""
    await call_action(hass, SERVICE_RECORD_EVENT, {"event_type": "job_created"})

    response = await call_action(hass, SERVICE_DELETE_ALL)

    assert response == {
        "deleted": {"days": 1, "events": 1, "submissions": 0},
        "service_erasure": "not_needed",
        "installation_id_rotated": False,
        "recorder": {
            "entity_history": "no_recorder",
            "statistics": "no_recorder",
            "bus_events": "no_recorder",
        },
    }
    assert stats_service.log == []
    assert (await call_action(hass, SERVICE_EXPORT))["totals"] == {}


SERVICE_CALLS = [
    (SERVICE_RECORD_EVENT, {"event_type": "job_completed"}),
    (SERVICE_EXPORT, {}),
    (SERVICE_PREVIEW, {}),
    (SERVICE_SUBMIT_NOW, {}),
    (SERVICE_SENT_REPORTS, {}),
    (SERVICE_DELETE_ALL, {}),
]


@pytest.mark.parametrize(("service", "data"), SERVICE_CALLS)
async def test_actions_when_not_loaded(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    service: str,
    data: dict[str, Any],
) -> None:
    """Every action refuses clearly while the entry is unloaded."""
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()

    with pytest.raises(ServiceValidationError) as err:
        await call_action(hass, service, data)

    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "not_loaded"


@pytest.mark.parametrize(("service", "data"), SERVICE_CALLS)
async def test_actions_without_entry(
    hass: HomeAssistant, service: str, data: dict[str, Any]
) -> None:
    """The actions exist without a config entry and refuse clearly."""
    assert await async_setup_component(hass, DOMAIN, {})

    with pytest.raises(ServiceValidationError) as err:
        await call_action(hass, service, data)

    assert err.value.translation_key == "not_loaded"


# --- over Home Assistant's REST API ------------------------------------------------


def _ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Log records of Home Assistant and this integration (not the test servers' access logs)."""
    return [
        r
        for r in caplog.records
        if r.name.startswith(("homeassistant", "custom_components"))
    ]


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"event_type": "job_completed", "metadata": {"customer": "Jane Doe"}},
            "Metadata key 1 of 1 is not allowed for job_completed",
        ),
        ({"event_type": "Jane's party"}, "Unknown event type; nothing was recorded"),
        (
            {"event_type": "job_failed", "metadata": {"duration_minutes": -5}},
            "The value of duration_minutes is not allowed for job_failed",
        ),
    ],
)
async def test_record_event_refused_over_rest_is_400(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    body: dict[str, Any],
    message: str,
) -> None:
    """A refused call over REST is a 400 with our message, and no traceback, on every version."""
    await async_setup_component(hass, "api", {})
    client = await hass_client()

    response = await client.post(
        f"/api/services/{DOMAIN}/{SERVICE_RECORD_EVENT}", json=body
    )

    assert response.status == 400
    assert message in await response.text()
    assert "Jane" not in await response.text()
    assert not [r for r in _ours(caplog) if r.levelno >= logging.ERROR or r.exc_info]
    assert (await call_action(hass, SERVICE_EXPORT))["totals"] == {}


@pytest.mark.usefixtures("init_integration")
async def test_submit_now_over_rest_answers(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not sending is an answer over REST (200 with the reason), not a 500."""
    await async_setup_component(hass, "api", {})
    client = await hass_client()

    response = await client.post(
        f"/api/services/{DOMAIN}/{SERVICE_SUBMIT_NOW}?return_response"
    )

    assert response.status == 200
    answer = (await response.json())["service_response"]
    assert (answer["submitted"], answer["reason"]) == (False, "not_sharing")
    assert not [r for r in _ours(caplog) if r.levelno >= logging.ERROR]


@pytest.mark.usefixtures("init_integration")
async def test_export_without_response_writes_the_file(
    hass: HomeAssistant, export_dirs: Path
) -> None:
    """An automation that only wants the file need not ask for a response."""
    target = export_dirs / "only-the-file.json"

    result = await hass.services.async_call(
        DOMAIN, SERVICE_EXPORT, {"path": str(target)}, blocking=True
    )

    assert result is None
    assert json.loads(target.read_text(encoding="utf-8"))["export_version"] == 3
