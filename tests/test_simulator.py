"""Tests for the Printernizer simulator and the statistics-service emulator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
import json
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient
import pytest

from simulator.printernizer import (
    ODD_PRINTER_TYPE,
    TERMINAL_JOB_STATUSES,
    PrinternizerSimulator,
    create_app,
)
from simulator.stats_service import (
    MAX_BODY_BYTES,
    VALID_INSTALLATION_ID,
    StatsServiceEmulator,
    valid_report,
)

type ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
KEY = {"X-API-Key": "test-key"}
OTHER_ID = "9c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f"


@pytest.fixture(autouse=True)
def _local_sockets(socket_enabled: None) -> None:
    """Let the test servers listen (Home Assistant's plugin still limits them to 127.0.0.1)."""


@pytest.fixture
def sim() -> PrinternizerSimulator:
    return PrinternizerSimulator(seed=1, now=lambda: NOW)


@pytest.fixture
async def pclient(
    aiohttp_client: ClientFactory, sim: PrinternizerSimulator
) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(sim))


class Clock:
    """A settable clock for the emulator."""

    def __init__(self) -> None:
        self.value = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.value


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stats(clock: Clock) -> StatsServiceEmulator:
    return StatsServiceEmulator(now=clock)


@pytest.fixture
async def sclient(
    aiohttp_client: ClientFactory, stats: StatsServiceEmulator
) -> TestClient[Any, Any]:
    return await aiohttp_client(stats.app)


# --------------------------------------------------------------- Printernizer


async def test_printers_carry_pii_and_odd_type(pclient: TestClient[Any, Any]) -> None:
    resp = await pclient.get("/api/v1/printers")
    assert resp.status == 200
    data = await resp.json()
    assert set(data) == {"printers", "total_count", "pagination"}
    assert data["pagination"] == {
        "page": 1,
        "limit": 50,
        "total_items": 4,
        "total_pages": 1,
    }
    printers = data["printers"]
    assert [p["printer_type"] for p in printers] == [
        "bambu_lab",
        "prusa_core",
        "octoprint",
        ODD_PRINTER_TYPE,
    ]
    for printer in printers:
        assert printer["status"] == "online"
        assert printer["name"]
        assert printer["ip_address"].startswith("192.168.")
        assert printer["location"]
        config = printer["connection_config"]
        assert config["ip_address"] == printer["ip_address"]
        assert config["serial_number"]
        assert config["access_code"] or config["api_key"]
    bambu = printers[0]["connection_config"]
    assert len(bambu["access_code"]) == 8
    assert bambu["serial_number"].startswith("01P00A")


async def test_printer_pagination_and_limits(
    aiohttp_client: ClientFactory,
) -> None:
    sim = PrinternizerSimulator(printers=5, now=lambda: NOW)
    client = await aiohttp_client(create_app(sim))
    seen: list[str] = []
    for page in (1, 2, 3):
        resp = await client.get("/api/v1/printers", params={"page": page, "limit": 2})
        data = await resp.json()
        assert data["pagination"]["total_pages"] == 3
        seen += [p["id"] for p in data["printers"]]
    assert seen == sim.printer_ids
    resp = await client.get("/api/v1/printers", params={"page": 4, "limit": 2})
    assert (await resp.json())["printers"] == []
    for params in ({"limit": 101}, {"limit": 0}, {"page": 0}, {"limit": "x"}):
        resp = await client.get("/api/v1/printers", params=params)
        assert resp.status == 422
        assert (await resp.json())["detail"][0]["loc"][0] == "query"
    resp = await client.get("/api/v1/printers", params={"limit": 100})
    assert resp.status == 200

    empty = await aiohttp_client(create_app(PrinternizerSimulator(printers=0)))
    data = await (await empty.get("/api/v1/printers")).json()
    assert data["pagination"]["total_pages"] == 0  # as Printernizer computes it


async def test_job_pagination_newest_first(
    pclient: TestClient[Any, Any], sim: PrinternizerSimulator
) -> None:
    ids = [sim.add_job() for _ in range(7)]
    collected: list[str] = []
    for page in (1, 2, 3):
        resp = await pclient.get("/api/v1/jobs", params={"page": page, "limit": 3})
        data = await resp.json()
        assert data["total_count"] == 7
        assert data["pagination"] == {
            "page": page,
            "limit": 3,
            "total_items": 7,
            "total_pages": 3,
        }
        collected += [job["id"] for job in data["jobs"]]
    assert collected == ids[::-1]
    assert (await pclient.get("/api/v1/jobs", params={"limit": 1000})).status == 200
    assert (await pclient.get("/api/v1/jobs", params={"limit": 1001})).status == 422
    resp = await pclient.get("/api/v1/jobs", params={"job_status": "pending"})
    assert (await resp.json())["total_count"] == 7


async def test_empty_jobs_and_files_have_one_page(
    pclient: TestClient[Any, Any],
) -> None:
    for path, key in (("/api/v1/jobs", "jobs"), ("/api/v1/files", "files")):
        data = await (await pclient.get(path)).json()
        assert data[key] == []
        assert data["pagination"] == {
            "page": 1,
            "limit": 50,
            "total_items": 0,
            "total_pages": 1,
        }


async def test_jobs_carry_pii(
    pclient: TestClient[Any, Any], sim: PrinternizerSimulator
) -> None:
    pending = sim.add_job()
    done = sim.add_job(status="completed", printer_type="prusa_core", duration=3600)
    odd = sim.add_job(status="weird_state", printer_type="unknown")
    jobs = {
        job["id"]: job
        for job in (await (await pclient.get("/api/v1/jobs")).json())["jobs"]
    }
    assert jobs[pending]["status"] == "pending"
    assert jobs[pending]["actual_duration"] is None
    assert jobs[pending]["start_time"] is None
    assert jobs[done]["status"] == "completed"
    assert jobs[done]["actual_duration"] == 3600
    assert jobs[done]["printer_type"] == "prusa_core"
    assert jobs[done]["end_time"] == "2025-01-15T12:00:00"  # naive, like Printernizer
    assert jobs[odd]["status"] == "weird_state"
    assert jobs[odd]["printer_type"] == "unknown"
    for job in jobs.values():
        assert job["job_name"]
        assert job["filename"].endswith(".3mf")
        assert job["customer_name"]
        assert job["customer_name"] in job["job_name"]
        assert job["printer_id"]


async def test_files_carry_pii(
    pclient: TestClient[Any, Any], sim: PrinternizerSimulator
) -> None:
    available = sim.add_file()
    local = sim.add_file(status="local")
    downloaded = sim.add_file(status="downloaded")
    files = {
        f["id"]: f for f in (await (await pclient.get("/api/v1/files")).json())["files"]
    }
    assert files[available]["status"] == "available"
    assert files[available]["file_path"] is None
    # Printernizer's printer-file id embeds the file name.
    assert (
        available == f"{files[available]['printer_id']}_{files[available]['filename']}"
    )
    assert files[local]["source"] == "local_watch"
    assert files[local]["printer_id"] is None
    assert files[local]["file_path"].startswith("/media/")
    assert files[downloaded]["file_path"].startswith("/data/printernizer/")
    assert files[downloaded]["downloaded_at"] == "2025-01-15T12:00:00"
    for sim_file in files.values():
        assert sim_file["file_size"] > 0
    sim.set_file_status(available, "downloaded")
    data = await (
        await pclient.get("/api/v1/files", params={"status": "downloaded"})
    ).json()
    assert {f["id"] for f in data["files"]} == {available, downloaded}


async def test_set_job_status_fills_duration(sim: PrinternizerSimulator) -> None:
    job_id = sim.add_job()
    sim.set_job_status(job_id, "printing")
    job = sim.get_job(job_id)
    assert job.start_time == NOW
    assert job.actual_duration is None
    sim.set_job_status(job_id, "failed")
    failed = sim.get_job(job_id)
    assert isinstance(failed.actual_duration, int)
    assert failed.actual_duration > 0
    assert failed.end_time == NOW
    sim.set_job_status(job_id, "completed", actual_duration=42)
    assert job.actual_duration == 42
    assert job.progress == 100


async def test_advance_reaches_terminal_states(sim: PrinternizerSimulator) -> None:
    jobs = [sim.add_job() for _ in range(10)]
    downloads = [sim.add_file(status="downloading") for _ in range(3)]
    sim.advance(14)
    for job_id in jobs:
        job = sim.get_job(job_id)
        assert job.status in TERMINAL_JOB_STATUSES
        assert isinstance(job.actual_duration, int)
        assert job.actual_duration > 0
    assert {sim.get_job(job_id).status for job_id in jobs} >= {"completed"}
    for file_id in downloads:
        assert sim.get_file(file_id).status in {"downloaded", "error"}
    assert len(sim.jobs) > len(jobs)  # new jobs appeared
    assert len(sim.files) > len(downloads)
    sim.advance(200)
    statuses = {job.status for job in sim.jobs}
    assert statuses & {"failed", "cancelled"}
    assert {f.status for f in sim.files} >= {"downloaded"}


async def test_advance_is_deterministic() -> None:
    def world(seed: int) -> str:
        sim = PrinternizerSimulator(seed=seed, now=lambda: NOW)
        sim.advance(30)
        return json.dumps(
            [
                [sim.printer_json(p) for p in sim.printers],
                [sim.job_json(j) for j in sim.jobs],
                [sim.file_json(f) for f in sim.files],
            ]
        )

    assert world(3) == world(3)
    assert world(3) != world(4)


async def test_printers_follow_jobs(sim: PrinternizerSimulator) -> None:
    printer_id = sim.printer_ids[0]
    job_id = sim.add_job(printer_id=printer_id)
    sim.set_job_status(job_id, "printing")
    sim._advance_printers()
    assert sim.printers[0].status == "printing"
    assert sim.printer_json(sim.printers[0])["current_job"]["name"]
    sim.set_job_status(job_id, "completed")
    sim._advance_printers()
    assert sim.printers[0].status == "online"
    sim.set_printer_status(printer_id, "error")
    assert sim.printers[0].status == "error"


async def test_bounded_history() -> None:
    sim = PrinternizerSimulator(printers=1, now=lambda: NOW)
    first = sim.add_job()
    for _ in range(1004):
        sim.add_job()
    assert len(sim.jobs) == 1000
    with pytest.raises(KeyError):
        sim.get_job(first)
    sim.max_items = 10
    for _ in range(15):
        sim.add_file()
    assert len(sim.files) <= 10


async def test_unavailable_answers_503(
    pclient: TestClient[Any, Any], sim: PrinternizerSimulator
) -> None:
    sim.available = False
    for path in ("health", "printers", "jobs", "files"):
        resp = await pclient.get(f"/api/v1/{path}")
        assert resp.status == 503
    sim.available = True
    assert (await pclient.get("/api/v1/health")).status == 200
    assert sim.requests["/api/v1/health"] == 2
    assert sim.requests["/api/v1/jobs"] == 1


async def test_health_default_and_overrides(
    pclient: TestClient[Any, Any], sim: PrinternizerSimulator
) -> None:
    data = await (await pclient.get("/api/v1/health")).json()
    assert data["status"] == "healthy"
    assert data["version"] == "2.7.0"
    assert data["uptime_seconds"] == 0.0
    assert {"timestamp", "environment", "database", "services"} <= set(data)
    sim.report_uptime = False  # what the real Printernizer sends today
    assert (await (await pclient.get("/api/v1/health")).json())[
        "uptime_seconds"
    ] is None

    sim.health_payload = {"hello": "world"}
    resp = await pclient.get("/api/v1/health")
    assert resp.status == 200
    assert await resp.json() == {"hello": "world"}

    sim.health_payload = "<html>Bad Gateway</html>"
    resp = await pclient.get("/api/v1/health")
    assert resp.content_type == "text/plain"
    with pytest.raises(aiohttp.ContentTypeError):
        await resp.json()


# -------------------------------------------------------- statistics service


async def test_valid_report_accepted(
    sclient: TestClient[Any, Any], stats: StatsServiceEmulator, clock: Clock
) -> None:
    body = valid_report()
    resp = await sclient.post("/submit", json=body, headers=KEY)
    assert resp.status == 200
    data = await resp.json()
    assert data["status"] == "success"
    assert data["submission_id"] == 1
    assert data["message"]
    assert stats.accepted == [body]
    assert stats.log == [(clock.value, VALID_INSTALLATION_ID, 200)]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = body
        for part in parents:
            target = target[part]
        target[leaf] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = body
        for part in parents:
            target = target[part]
        del target[leaf]

    return mutate


def _day(offset: int, clock_time: str = "00:00:00+00:00") -> str:
    today = datetime.now(UTC).date() + timedelta(days=offset)
    return f"{today.isoformat()}T{clock_time}"


VIOLATIONS: list[tuple[str, Callable[[dict[str, Any]], None], list[str | int]]] = [
    ("extra_top", _set("hostname", "printer.local"), ["body", "hostname"]),
    (
        "extra_nested",
        _set("installation.ip_address", "10.0.0.1"),
        ["body", "installation", "ip_address"],
    ),
    ("missing_top", _drop("error_summary"), ["body", "error_summary"]),
    (
        "missing_nested",
        _drop("installation.country_code"),
        ["body", "installation", "country_code"],
    ),
    ("schema_version", _set("schema_version", "2.0"), ["body", "schema_version"]),
    (
        "timestamp_precise",
        _set("submission_timestamp", _day(0, "13:45:12+00:00")),
        ["body", "submission_timestamp"],
    ),
    (
        "timestamp_naive",
        _set("submission_timestamp", _day(0, "00:00:00")),
        ["body", "submission_timestamp"],
    ),
    (
        "timestamp_not_utc",
        _set("submission_timestamp", _day(0, "00:00:00+02:00")),
        ["body", "submission_timestamp"],
    ),
    (
        "timestamp_future",
        _set("submission_timestamp", _day(2)),
        ["body", "submission_timestamp"],
    ),
    (
        "installation_id_not_uuid",
        _set("installation.installation_id", "my-raspberry-pi"),
        ["body", "installation", "installation_id"],
    ),
    (
        "installation_id_uuid1",
        _set("installation.installation_id", "3f2b8c1e-9a4d-1e6f-8b2a-1c5d7e9f0a3b"),
        ["body", "installation", "installation_id"],
    ),
    (
        "installation_id_upper",
        _set("installation.installation_id", VALID_INSTALLATION_ID.upper()),
        ["body", "installation", "installation_id"],
    ),
    (
        "first_seen_garbage",
        _set("installation.first_seen", "yesterday"),
        ["body", "installation", "first_seen"],
    ),
    (
        "first_seen_after_start",
        _set("installation.first_seen", _day(-1)[:10]),
        ["body", "period", "start"],
    ),
    (
        "app_version_text",
        _set("installation.app_version", "2.7.0 on anna's pi"),
        ["body", "installation", "app_version"],
    ),
    (
        "python_version_number",
        _set("installation.python_version", 3.13),
        ["body", "installation", "python_version"],
    ),
    (
        "platform",
        _set("installation.platform", "win32"),
        ["body", "installation", "platform"],
    ),
    (
        "deployment_mode",
        _set("installation.deployment_mode", "kubernetes"),
        ["body", "installation", "deployment_mode"],
    ),
    (
        "country_lower",
        _set("installation.country_code", "de"),
        ["body", "installation", "country_code"],
    ),
    (
        "country_long",
        _set("installation.country_code", "DEU"),
        ["body", "installation", "country_code"],
    ),
    ("period_reversed", _set("period.end", _day(-8)), ["body", "period", "end"]),
    (
        "period_duration",
        _set("period.duration_days", 6),
        ["body", "period", "duration_days"],
    ),
    ("period_future", _set("period.end", _day(1)), ["body", "period", "end"]),
    (
        "period_not_midnight",
        _set("period.start", _day(-7, "06:00:00+00:00")),
        ["body", "period", "start"],
    ),
    (
        "printer_count_negative",
        _set("printer_fleet.printer_count", -1),
        ["body", "printer_fleet", "printer_count"],
    ),
    (
        "printer_count_bool",
        _set("printer_fleet.printer_count", True),
        ["body", "printer_fleet", "printer_count"],
    ),
    (
        "printer_count_sum",
        _set("printer_fleet.printer_count", 3),
        ["body", "printer_fleet", "printer_count"],
    ),
    (
        "printer_type_unknown_vocab",
        _set("printer_fleet.printer_types", ["bambu_lab", "creality_k1"]),
        ["body", "printer_fleet", "printer_types", 1],
    ),
    (
        "printer_types_duplicate",
        _set("printer_fleet.printer_types", ["bambu_lab", "prusa_core", "bambu_lab"]),
        ["body", "printer_fleet", "printer_types"],
    ),
    (
        "printer_type_counts_keys",
        _set("printer_fleet.printer_type_counts", {"bambu_lab": 2}),
        ["body", "printer_fleet", "printer_type_counts"],
    ),
    (
        "job_count_string",
        _set("usage_stats.job_count", "5"),
        ["body", "usage_stats", "job_count"],
    ),
    (
        "job_count_float",
        _set("usage_stats.job_count", 5.0),
        ["body", "usage_stats", "job_count"],
    ),
    (
        "uptime_fraction",
        _set("usage_stats.uptime_hours", 12.5),
        ["body", "usage_stats", "uptime_hours"],
    ),
    (
        "uptime_too_many",
        _set("usage_stats.uptime_hours", 7 * 24 + 1),
        ["body", "usage_stats", "uptime_hours"],
    ),
    (
        "feature_not_bool",
        _set("usage_stats.feature_usage", {"library_enabled": "yes"}),
        ["body", "usage_stats", "feature_usage", "library_enabled"],
    ),
    (
        "feature_key_pii",
        _set("usage_stats.feature_usage", {"anna@example.com": True}),
        ["body", "usage_stats", "feature_usage", "anna@example.com", "[key]"],
    ),
    (
        "error_negative",
        _set("error_summary", {"ConnectionError": -1}),
        ["body", "error_summary", "ConnectionError"],
    ),
    (
        "error_key_path",
        _set("error_summary", {"/home/anna/secret.3mf": 1}),
        ["body", "error_summary", "/home/anna/secret.3mf", "[key]"],
    ),
    (
        "error_cardinality",
        _set("error_summary", {f"Error{i}": 1 for i in range(51)}),
        ["body", "error_summary"],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "loc"),
    [pytest.param(m, loc, id=name) for name, m, loc in VIOLATIONS],
)
async def test_schema_violation_rejected(
    sclient: TestClient[Any, Any],
    stats: StatsServiceEmulator,
    mutate: Callable[[dict[str, Any]], None],
    loc: list[str | int],
) -> None:
    body = valid_report()
    mutate(body)
    resp = await sclient.post("/submit", json=body, headers=KEY)
    assert resp.status == 422
    detail = (await resp.json())["detail"]
    assert loc in [error["loc"] for error in detail], detail
    assert stats.accepted == []


async def test_body_shape_errors(
    sclient: TestClient[Any, Any], stats: StatsServiceEmulator
) -> None:
    resp = await sclient.post("/submit", json=[1, 2], headers=KEY)
    assert resp.status == 422
    resp = await sclient.post(
        "/submit",
        data="{not json",
        headers={**KEY, "Content-Type": "application/json"},
    )
    assert resp.status == 400
    resp = await sclient.post(
        "/submit",
        data=json.dumps(valid_report()),
        headers={**KEY, "Content-Type": "text/plain"},
    )
    assert resp.status == 400
    big = valid_report(padding="x" * MAX_BODY_BYTES)
    resp = await sclient.post("/submit", json=big, headers=KEY)
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["type"] == "too_large"
    assert stats.accepted == []


async def test_optional_python_version(
    sclient: TestClient[Any, Any], stats: StatsServiceEmulator
) -> None:
    body = valid_report()
    body["installation"].pop("python_version")
    body["installation"]["first_seen"] = body["period"]["start"]  # datetime form
    resp = await sclient.post("/submit", json=body, headers=KEY)
    assert resp.status == 200, await resp.text()
    body = valid_report(
        installation={"installation_id": OTHER_ID, "python_version": None}
    )
    resp = await sclient.post("/submit", json=body, headers=KEY)
    assert resp.status == 200, await resp.text()


async def test_auth(sclient: TestClient[Any, Any], stats: StatsServiceEmulator) -> None:
    body = valid_report()
    assert (await sclient.post("/submit", json=body)).status == 403
    resp = await sclient.post("/submit", json=body, headers={"X-API-Key": ""})
    assert resp.status == 403
    resp = await sclient.post("/submit", json=body, headers={"X-API-Key": "nope"})
    assert resp.status == 401
    assert await resp.json() == {"detail": "Invalid API key"}
    assert stats.accepted == []
    assert [entry[2] for entry in stats.log] == [403, 403, 401]
    # Auth failures do not use up the hourly allowance.
    assert (await sclient.post("/submit", json=body, headers=KEY)).status == 200


async def test_rate_limit(
    sclient: TestClient[Any, Any], stats: StatsServiceEmulator, clock: Clock
) -> None:
    first = valid_report()
    resp = await sclient.post(
        "/submit", json=first, headers={**KEY, "Idempotency-Key": "a"}
    )
    assert resp.status == 200
    clock.value += timedelta(minutes=10)
    resp = await sclient.post(
        "/submit", json=valid_report(), headers={**KEY, "Idempotency-Key": "b"}
    )
    assert resp.status == 429
    assert resp.headers["Retry-After"] == str(50 * 60)
    assert "Rate limit exceeded" in (await resp.json())["detail"]
    # Another installation is not affected.
    other = valid_report(installation={"installation_id": OTHER_ID})
    assert (await sclient.post("/submit", json=other, headers=KEY)).status == 200
    clock.value += timedelta(minutes=50)
    resp = await sclient.post(
        "/submit", json=valid_report(), headers={**KEY, "Idempotency-Key": "b"}
    )
    assert resp.status == 200
    assert len(stats.accepted) == 3
    stats.send_retry_after = False
    resp = await sclient.post("/submit", json=valid_report(), headers=KEY)
    assert resp.status == 429
    assert "Retry-After" not in resp.headers


async def test_rejected_report_counts_for_rate_limit(
    sclient: TestClient[Any, Any],
) -> None:
    bad = valid_report(schema_version="9")
    assert (await sclient.post("/submit", json=bad, headers=KEY)).status == 422
    resp = await sclient.post("/submit", json=valid_report(), headers=KEY)
    assert resp.status == 429


async def test_idempotent_repeat(
    sclient: TestClient[Any, Any], stats: StatsServiceEmulator
) -> None:
    body = valid_report()
    headers = {**KEY, "Idempotency-Key": "6f1c1a2e-8d3b-4b0c-9a55-0e4f3b2a1c0d"}
    first = await (await sclient.post("/submit", json=body, headers=headers)).json()
    resp = await sclient.post("/submit", json=body, headers=headers)
    assert resp.status == 200
    assert (await resp.json())["submission_id"] == first["submission_id"]
    assert len(stats.accepted) == 1
    changed = valid_report(usage_stats={"job_count": 6})
    resp = await sclient.post("/submit", json=changed, headers=headers)
    assert resp.status == 422
    assert len(stats.accepted) == 1


async def test_fail_next(
    sclient: TestClient[Any, Any], stats: StatsServiceEmulator
) -> None:
    stats.fail_next(500)
    stats.fail_next(429, retry_after="120")
    stats.fail_next(503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT", times=2)
    body = valid_report()
    resp = await sclient.post("/submit", json=body, headers=KEY)
    assert resp.status == 500
    resp = await sclient.post("/submit", json=body, headers=KEY)
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "120"
    for _ in range(2):
        resp = await sclient.post("/submit", json=body, headers=KEY)
        assert resp.status == 503
        assert resp.headers["Retry-After"].endswith("GMT")
    stats.fail_next(401)
    assert (await sclient.post("/submit", json=body, headers=KEY)).status == 401
    stats.fail_next(422)
    resp = await sclient.post("/submit", json=body, headers=KEY)
    assert (await resp.json())["detail"][0]["type"] == "injected"
    assert stats.accepted == []
    # Injected answers do not use up the hourly allowance.
    assert (await sclient.post("/submit", json=body, headers=KEY)).status == 200
    assert [entry[2] for entry in stats.log] == [500, 429, 503, 503, 401, 422, 200]
    assert {entry[1] for entry in stats.log} == {VALID_INSTALLATION_ID}


async def test_down_and_slow(
    sclient: TestClient[Any, Any], stats: StatsServiceEmulator
) -> None:
    stats.down = True
    resp = await sclient.post("/submit", json=valid_report(), headers=KEY)
    assert resp.status == 503
    stats.down = False
    stats.slow_seconds = 0.5
    with pytest.raises(TimeoutError):
        await sclient.post(
            "/submit",
            json=valid_report(),
            headers=KEY,
            timeout=aiohttp.ClientTimeout(total=0.05),
        )
    stats.slow_seconds = 0
    assert stats.accepted == []


async def test_reset_connection(
    sclient: TestClient[Any, Any], stats: StatsServiceEmulator
) -> None:
    stats.reset_next = 1
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await sclient.post("/submit", json=valid_report(), headers=KEY)
    assert stats.log[-1][2] == 0
    assert stats.reset_next == 0
    assert stats.accepted == []
    resp = await sclient.post("/submit", json=valid_report(), headers=KEY)
    assert resp.status == 200


async def test_reset_on_delete(
    sclient: TestClient[Any, Any], stats: StatsServiceEmulator
) -> None:
    path = f"/installation/{VALID_INSTALLATION_ID}"
    # aiohttp's TestClient turns off the client's retry of idempotent requests.
    stats.reset_next = 1
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await sclient.delete(path, headers=KEY)
    # A normal ClientSession (like Home Assistant's) retries a DELETE once.
    stats.reset_next = 1
    async with (
        aiohttp.ClientSession() as session,
        session.delete(sclient.make_url(path), headers=KEY) as resp,
    ):
        assert resp.status == 200
    stats.reset_next = 2
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await session.delete(sclient.make_url(path), headers=KEY)
    assert [entry[2] for entry in stats.log] == [0, 0, 200, 0, 0]


async def test_delete_installation(
    sclient: TestClient[Any, Any], stats: StatsServiceEmulator
) -> None:
    other = valid_report(installation={"installation_id": OTHER_ID})
    assert (
        await sclient.post("/submit", json=valid_report(), headers=KEY)
    ).status == 200
    assert (await sclient.post("/submit", json=other, headers=KEY)).status == 200
    path = f"/installation/{VALID_INSTALLATION_ID}"
    assert (await sclient.delete(path)).status == 403
    assert (await sclient.delete(path, headers={"X-API-Key": "nope"})).status == 401
    resp = await sclient.delete(path, headers=KEY)
    assert resp.status == 200
    data = await resp.json()
    assert data["status"] == "success"
    assert data["deleted_count"] == 1
    assert stats.accepted == [other]
    assert stats.submissions_for(VALID_INSTALLATION_ID) == []
    # Unknown (or already deleted) installations: 200 with 0, like the real service.
    resp = await sclient.delete(path, headers=KEY)
    assert (await resp.json())["deleted_count"] == 0
    # Deleting also clears the rate-limit window.
    assert (
        await sclient.post("/submit", json=valid_report(), headers=KEY)
    ).status == 200
    stats.fail_next(404, endpoint="delete")
    assert (await sclient.delete(path, headers=KEY)).status == 404
    assert stats.log[-1] == (stats.now(), VALID_INSTALLATION_ID, 404)


async def test_valid_report_helper_and_callback(
    aiohttp_client: ClientFactory,
) -> None:
    seen: list[dict[str, Any]] = []
    stats = StatsServiceEmulator(api_keys={"k1", "k2"}, on_accept=seen.append)
    client = await aiohttp_client(stats.app)
    body = valid_report(
        installation={"country_code": "XX"}, error_summary={}, period={}
    )
    assert body["installation"]["country_code"] == "XX"
    assert body["installation"]["deployment_mode"] == "homeassistant"
    assert body["error_summary"] == {}
    assert body["period"]["duration_days"] == 7
    resp = await client.post("/submit", json=body, headers={"X-API-Key": "k2"})
    assert resp.status == 200
    assert seen == [body]
    assert (await client.get("/health")).status == 200
