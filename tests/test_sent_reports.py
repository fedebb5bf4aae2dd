"""What left home, byte for byte: the sent_reports action against a real local service (issue 19).

The emulator runs as a real HTTP server on loopback; a subclass also keeps
the exact bytes of every report it stored, so the action's bodies are
compared with what arrived, not with a rebuild.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import hashlib
import json
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import Unauthorized
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.printernizer_stats.const import (
    CONF_API_KEY,
    DOMAIN,
    EVENT_PRINTERNIZER_STATS,
    SERVICE_DELETE_ALL,
    SERVICE_SENT_REPORTS,
)
from custom_components.printernizer_stats.delivery import REPORTS_KEPT, RETENTION_DAYS
from custom_components.printernizer_stats.diagnostics import (
    async_get_config_entry_diagnostics,
)
from simulator.stats_service import StatsServiceEmulator, Submission

from .conftest import advance, call_action, export_answer, opt_out, restart, setup_entry

# Seconds past the minute: the action shows whole minutes, never the second.
START = "2026-11-02 08:00:17+00:00"

pytestmark = [
    pytest.mark.freeze_time(START),
    pytest.mark.usefixtures("printernizer_down"),
]


def minute_up(moment: datetime) -> str:
    """A time as the integration keeps it: the whole minute, rounded up."""
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return moment.isoformat()


async def sent_reports(hass: HomeAssistant, user: MockUser) -> list[dict[str, Any]]:
    """The action's answer for `user`."""
    response = await call_action(hass, SERVICE_SENT_REPORTS, user=user)
    assert response is not None
    reports: list[dict[str, Any]] = response["reports"]  # type: ignore[assignment]
    return reports


async def weeks_of_reports(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, weeks: int
) -> None:
    """`weeks` weeks pass with a few jobs every day; each week's report goes out after it."""
    for day in range(weeks * 7 + 1):
        for _ in range(day % 4):
            hass.bus.async_fire(
                EVENT_PRINTERNIZER_STATS,
                {"event_type": "job_completed", "metadata": {}},
            )
        await advance(hass, freezer, timedelta(days=1))


def assert_matches(reports: list[dict[str, Any]], stored: list[Submission]) -> None:
    """Newest first, each the exact bytes the service stored, with its facts."""
    assert len(reports) == len(stored)
    for report, submission in zip(reports, reversed(stored), strict=True):
        raw = submission.raw
        assert report["body"].encode() == raw
        assert report["bytes"] == len(raw)
        assert report["sha256"] == hashlib.sha256(raw).hexdigest()
        assert report["status"] == 200
        assert report["submission_id"] == str(submission.submission_id)
        assert report["installation_id"] == submission.installation_id
        assert report["accepted"] == minute_up(submission.received_at)
        period = json.loads(raw)["period"]
        assert report["period"] == {
            "start": period["start"][:10],
            "end": period["end"][:10],
        }


async def test_sent_reports_are_what_the_service_stored(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """Four weeks: four reports, newest first, byte for byte what arrived; a restart keeps them."""
    await setup_entry(hass, entry)
    await weeks_of_reports(hass, freezer, 4)

    reports = await sent_reports(hass, hass_admin_user)

    assert len(reports) == 4
    assert_matches(reports, stats_service.submissions)
    assert [r["period"]["start"] for r in reports] == [
        "2026-11-24",
        "2026-11-17",
        "2026-11-10",
        "2026-11-03",
    ]
    # Received at a time with seconds: shown as the whole minute after it.
    assert all(s.received_at.second == 17 for s in stats_service.submissions)

    await restart(hass, entry)
    assert await sent_reports(hass, hass_admin_user) == reports


async def test_refused_and_rejected_reports_are_not_listed(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """A 401 and a 422 leave no entry; what the service accepted afterwards is listed."""
    await setup_entry(hass, entry)
    await weeks_of_reports(hass, freezer, 1)
    assert len(await sent_reports(hass, hass_admin_user)) == 1

    # The key is refused: the second week is not accepted...
    stats_service.api_keys = {"new-key"}
    await advance(hass, freezer, timedelta(days=7))
    assert [status for _, _, status in stats_service.log][-1] == 401
    assert len(await sent_reports(hass, hass_admin_user)) == 1
    # ...until the user enters the new key.
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_API_KEY: "new-key"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    await advance(hass, freezer, timedelta(hours=1))
    assert len(await sent_reports(hass, hass_admin_user)) == 2

    # The third week is rejected: dropped, never listed.
    stats_service.fail_next(422)
    await advance(hass, freezer, timedelta(days=7))
    assert [status for _, _, status in stats_service.log][-1] == 422

    reports = await sent_reports(hass, hass_admin_user)
    assert len(reports) == 2
    assert_matches(reports, stats_service.submissions)
    statuses = [status for _, _, status in stats_service.log]
    assert statuses.count(401) == 1
    assert statuses.count(422) == 1


async def test_delete_all_leaves_none(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """delete_all: no report is listed, in the action or the export, also after a restart."""
    await setup_entry(hass, entry)
    await weeks_of_reports(hass, freezer, 2)
    assert len(await sent_reports(hass, hass_admin_user)) == 2

    answer = await call_action(hass, SERVICE_DELETE_ALL, user=hass_admin_user)
    assert answer is not None
    assert answer["deleted"]["submissions"] == 2
    assert answer["service_erasure"] == "erased"

    assert await sent_reports(hass, hass_admin_user) == []
    assert (await export_answer(hass, hass_admin_user))["sent_reports"] == []
    await restart(hass, entry)
    assert await sent_reports(hass, hass_admin_user) == []


async def test_opting_out_leaves_none(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """Opting out: no report is listed, also after a restart."""
    await setup_entry(hass, entry)
    await weeks_of_reports(hass, freezer, 2)
    assert len(await sent_reports(hass, hass_admin_user)) == 2

    await opt_out(hass, entry)

    assert await sent_reports(hass, hass_admin_user) == []
    await restart(hass, entry)
    assert await sent_reports(hass, hass_admin_user) == []
    assert (await export_answer(hass, hass_admin_user))["sent_reports"] == []


async def test_sent_reports_for_admins_only(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
    hass_read_only_user: MockUser,
) -> None:
    """A non-admin is refused the action and gets an export without them; diagnostics count them."""
    await setup_entry(hass, entry)
    await weeks_of_reports(hass, freezer, 2)
    reports = await sent_reports(hass, hass_admin_user)
    assert len(reports) == 2

    with pytest.raises(Unauthorized):
        await sent_reports(hass, hass_read_only_user)

    assert (await export_answer(hass, hass_admin_user))["sent_reports"] == reports
    theirs = await export_answer(hass, hass_read_only_user)
    assert "sent_reports" not in theirs
    seen = json.dumps(theirs)
    installation_id = reports[0]["installation_id"]
    assert installation_id not in seen
    for report in reports:
        assert report["sha256"] not in seen
        assert report["body"] not in seen

    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["submission"]["sent_reports"] == [
        report["period"] for report in reports
    ]
    shown = json.dumps(diagnostics)
    assert installation_id not in shown
    for report in reports:
        assert report["sha256"] not in shown
        assert report["body"] not in shown


async def test_only_the_newest_are_kept(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """After more weeks than are kept, the newest REPORTS_KEPT remain, oldest gone."""
    await setup_entry(hass, entry)
    await weeks_of_reports(hass, freezer, REPORTS_KEPT + 2)

    reports = await sent_reports(hass, hass_admin_user)

    assert len(stats_service.submissions) == REPORTS_KEPT + 2
    assert len(reports) == REPORTS_KEPT
    newest = stats_service.submissions[-REPORTS_KEPT:]
    for report, submission in zip(reports, reversed(newest), strict=True):
        assert report["body"].encode() == submission.raw


async def test_reports_older_than_the_retention_are_forgotten(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    stats_service: StatsServiceEmulator,
    hass_admin_user: MockUser,
) -> None:
    """Home Assistant off for 100 days: the kept reports are past the 90-day window and go."""
    await setup_entry(hass, entry)
    await weeks_of_reports(hass, freezer, 2)
    old = await sent_reports(hass, hass_admin_user)
    assert len(old) == 2

    assert await hass.config_entries.async_unload(entry.entry_id)
    freezer.tick(timedelta(days=100))
    assert await hass.config_entries.async_setup(entry.entry_id)
    await advance(hass, freezer, timedelta(minutes=20))

    kept = await sent_reports(hass, hass_admin_user)
    oldest = (dt_util.utcnow() - timedelta(days=RETENTION_DAYS - 1)).date()
    assert not any(report in kept for report in old)
    assert all(report["period"]["end"] > oldest.isoformat() for report in kept)
    assert kept
    assert_matches(kept, stats_service.submissions[-len(kept) :])
