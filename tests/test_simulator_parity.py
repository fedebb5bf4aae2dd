"""The simulator answers like the recorded Printernizer 2.42.0, field by field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
import pytest

from simulator.printernizer import PrinternizerSimulator, create_app

FIXTURES = Path(__file__).parent / "fixtures" / "printernizer"
INDEX = {e["file"]: e for e in json.loads((FIXTURES / "_index.json").read_text())}
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?")  # naive, no offset
SPACED = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")  # files' created_at
RATE_HEADERS = (
    "retry-after",
    *(f"x-ratelimit-{n}" for n in ("limit", "remaining", "reset")),
)

type Client = TestClient[web.Request, web.Application]
type World = tuple[PrinternizerSimulator, Client, Clock]


def entry(prefix: str) -> dict[str, Any]:
    """The _index.json entry of the recording named ``prefix``_*.json."""
    (path,) = FIXTURES.glob(f"{prefix}_*.json")
    return dict(INDEX[path.name])


def recorded(*prefixes: str) -> list[Any]:
    """Recorded response bodies."""
    return [json.loads((FIXTURES / entry(p)["file"]).read_text()) for p in prefixes]


def kind(value: Any) -> str:
    """JSON type of a value; timestamps are told apart by their format."""
    if isinstance(value, str) and ISO.fullmatch(value):
        return "iso"
    if isinstance(value, str) and SPACED.fullmatch(value):
        return "spaced"
    return type(value).__name__


def assert_like(actual: Any, samples: list[Any], path: str = "$") -> None:
    """Same keys in the same order at every level, only the recorded types (or null)."""
    kinds = {kind(sample) for sample in samples}
    assert kind(actual) in kinds, f"{path}: {actual!r} is not one of {kinds}"
    if isinstance(actual, dict):
        dicts = [sample for sample in samples if isinstance(sample, dict)]
        assert {tuple(d) for d in dicts} == {tuple(actual)}, f"{path}: keys differ"
        for key, value in actual.items():
            assert_like(value, [d[key] for d in dicts], f"{path}.{key}")
    elif isinstance(actual, list):
        items = [
            item for sample in samples if isinstance(sample, list) for item in sample
        ]
        assert items or not actual, f"{path}: no recorded items to compare with"
        for number, item in enumerate(actual):
            assert_like(item, items, f"{path}[{number}]")


def rate_headers(headers: Any) -> dict[str, str]:
    """The rate-limit headers among served (or recorded) ``headers``."""
    headers = dict(headers) if isinstance(headers, list) else headers
    return {name: headers[name] for name in RATE_HEADERS if name in headers}


class Clock:
    """A clock the test moves by hand, from the recording's first request on."""

    now = datetime(2026, 11, 30, 0, 50, 56, 804459, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def world(socket_enabled: None) -> AsyncIterator[World]:
    """A simulator with three printers, as recorded, served on 127.0.0.1 only."""
    clock = Clock()
    sim = PrinternizerSimulator(now=clock)
    async with TestClient(TestServer(create_app(sim), host="127.0.0.1")) as client:
        yield sim, client, clock


def drive_like_recording(sim: PrinternizerSimulator, clock: Clock) -> list[str]:
    """Create three jobs and move them through their statuses as in 03a..03k."""
    first, second, third = sim.printers
    sim.set_printer_status(second, "offline")
    job1 = sim.add_job(printer_id=first)
    clock.tick(4)
    job2, job3 = sim.add_job(printer_id=second), sim.add_job(printer_id=third)
    clock.tick(2.2)
    sim.set_job_status(job1, "running")
    clock.tick(7.4)
    sim.set_job_status(job2, "failed")
    clock.tick(11.7)
    sim.set_job_status(job1, "completed")
    return [job1, job2, job3]


async def get(client: Client, path: str) -> tuple[int, Any, Any]:
    """Status, JSON body and headers of GET /api/v1/<path>."""
    response = await client.get(f"/api/v1/{path}")
    return response.status, await response.json(), response.headers


UPLOAD = recorded("04e")[0]
# The only recorded FileResponse is an upload; a printer file's other forms:
PRINTER_FILE = {**UPLOAD, "file_path": None, "downloaded_at": "2026-11-30T00:52:08"}
LISTS = ("03d", "03f", "03h", "03j", "03l", "03m", "03n", "08b")
SHAPES = {
    "health": ("01", "06b", "08a"),
    "system/info": ("01d",),
    "usage-stats/status": ("05b",),
    "printers?page=1&limit=100": ("02d", "03q", "08c"),
    "printers/{printer}": ("02e", "02f", "02g"),
    "jobs?page=1&limit=100": LISTS,
    "jobs/{job}": ("03p",),
    "files?page=1&limit=100": ("04a", "04d", "04f"),
}


@pytest.mark.parametrize("path", SHAPES)
async def test_bodies_and_headers_like_the_recordings(world: World, path: str) -> None:
    sim, client, clock = world
    jobs = drive_like_recording(sim, clock)
    sim.add_file(status="downloaded")
    sim.add_file()
    first = SHAPES[path][0]
    samples = recorded(*SHAPES[path])
    if path.startswith("files"):
        samples = [{**sample, "files": [UPLOAD, PRINTER_FILE]} for sample in samples]
    if path == "jobs/{job}":  # one job was fetched by id; the listed ones count too
        samples += [job for body in recorded(*LISTS) for job in body["jobs"]]
    for printer, job in zip(sim.printers, jobs, strict=True):
        status, body, headers = await get(client, path.format(printer=printer, job=job))
        assert status == entry(first)["status"]
        assert_like(body, samples)
        real = rate_headers(entry(first)["headers"])
        assert rate_headers(headers).keys() == real.keys()
        sim.set_printer_status(printer, "unknown")  # online, offline, unknown


@pytest.mark.parametrize("prefix", ["07a", "07b", "07d"])
async def test_error_envelopes_as_recorded(world: World, prefix: str) -> None:
    _, client, _ = world
    (expected,) = recorded(prefix)
    path = entry(prefix)["request"].removeprefix("GET /api/v1/")  # the same request
    status, body, _ = await get(client, path)
    assert status == entry(prefix)["status"]
    assert kind(body.pop("timestamp")) == kind(expected.pop("timestamp")) == "iso"
    assert body == expected


async def test_throttle_every_answers_429_like_the_recording(world: World) -> None:
    sim, client, clock = world
    sim.throttle_every = 3  # /health is neither limited nor counted
    paths = ("jobs", "health", "printers", "health", "files") * 2
    statuses = [(await client.get(f"/api/v1/{path}")).status for path in paths]
    assert statuses == [200, 200, 200, 200, 429] * 2
    assert sim.requests["/api/v1/health"] == 4
    sim.throttle_every = 1
    status, body, headers = await get(client, "jobs?page=1&limit=1")
    assert status == entry("06a")["status"] == 429
    assert_like(body, recorded("06a", "06c"))  # no timestamp, unlike other errors
    assert body["error_code"] == "RATE_LIMIT_EXCEEDED"
    served, real = rate_headers(headers), rate_headers(entry("06a")["headers"])
    assert served.keys() == real.keys()
    assert served["retry-after"] == real["retry-after"] == "1"
    assert served["x-ratelimit-remaining"] == real["x-ratelimit-remaining"] == "0"
    assert served["x-ratelimit-limit"] == real["x-ratelimit-limit"] == "100"
    assert 0 <= int(served["x-ratelimit-reset"]) - int(clock.now.timestamp()) <= 1
    assert rate_headers((await client.get("/api/v1/health")).headers) == {}


async def test_token_bucket_per_client(world: World) -> None:
    _, client, clock = world
    statuses = [(await client.get("/api/v1/jobs")).status for _ in range(101)]
    assert statuses == [200] * 100 + [429]  # a new client starts with 100 tokens
    _, body, _ = await get(client, "files")
    assert body["details"]["retry_after_seconds"] == 0.6  # as recorded in 06a
    assert (await client.get("/api/v1/health")).status == 200
    clock.tick(0.61)  # 100 per minute: one token back
    assert (await client.get("/api/v1/jobs")).status == 200
    clock.tick(3600)  # capacity 100 + burst 20, as the recorded 119 remaining show
    _, _, headers = await get(client, "jobs")
    assert headers["X-RateLimit-Remaining"] == "119"


def assert_job_quirks(jobs: dict[str, dict[str, Any]]) -> None:
    """The quirks of jobs created through the API, keyed by status."""
    for job in jobs.values():
        assert job["printer_type"] == "unknown" and job["printer_id"]
        assert job["started_at"] == job["start_time"]
        assert job["completed_at"] == job["end_time"]
    done, failed = jobs["completed"], jobs["failed"]
    assert done["actual_duration"] is None and done["progress"] == 0.0
    assert done["start_time"] < done["end_time"]
    assert failed["start_time"] == failed["end_time"]  # forced pending -> failed


async def test_octoprint_is_listed_as_prusa_core(world: World) -> None:
    sim, client, _ = world
    created, listed, fetched = recorded("02c", "02d", "02g")
    assert created["printer_type"] == "octoprint" != fetched["printer_type"]
    types = [printer["printer_type"] for printer in listed["printers"]]
    assert types == ["bambu_lab", "prusa_core", "prusa_core"]
    later = sim.add_printer("octoprint")
    _, body, _ = await get(client, "printers")
    assert [p["printer_type"] for p in body["printers"]] == [*types, "prusa_core"]
    assert (await get(client, f"printers/{later}"))[1]["printer_type"] == "prusa_core"


async def test_jobs_quirks_order_and_pages_as_recorded(world: World) -> None:
    sim, client, clock = world
    job1, job2, job3 = drive_like_recording(sim, clock)
    assert_job_quirks({job["status"]: job for job in recorded("03l")[0]["jobs"]})
    _, body, _ = await get(client, "jobs?page=1&limit=100")
    assert_job_quirks({job["status"]: job for job in body["jobs"]})
    pages = recorded("03m", "03n", "03o")
    names = [job["job_name"] for page in pages for job in page["jobs"]]
    assert names == ["CANARY-JOB-2", "CANARY-JOB-3", "CANARY-JOB-1"]  # ties: creation
    served = [(await get(client, f"jobs?page={n}&limit=2"))[1] for n in (1, 2, 3)]
    for body, page in zip(served, pages, strict=True):
        assert body["pagination"] == page["pagination"]
        assert body["total_count"] == page["total_count"] == 3
    assert [job["id"] for body in served for job in body["jobs"]] == [job2, job3, job1]
    assert served[2]["jobs"] == [] == pages[2]["jobs"]
    assert (await get(client, "printers?limit=101"))[0] == 422


async def test_uptime_and_restart_as_recorded(world: World) -> None:
    sim, client, clock = world
    assert {b["uptime_seconds"] for b in recorded("01", "06b", "08a")} == {None}
    (info,) = recorded("01d")
    assert (info["version"], info["uptime_seconds"]) == ("unknown", 21)
    drive_like_recording(sim, clock)  # 25.3 seconds
    _, health, _ = await get(client, "health")
    assert (health["version"], health["uptime_seconds"]) == ("2.42.0", None)
    _, info, _ = await get(client, "system/info")
    assert (info["version"], info["uptime_seconds"]) == ("unknown", 25)
    clock.tick(30)
    sim.restart()  # the cascade deletes every job
    assert (await get(client, "jobs?page=1&limit=100"))[1] == recorded("08b")[0]
    _, body, _ = await get(client, "printers?page=1&limit=100")
    printers = {(p["status"], p["total_jobs"]) for p in body["printers"]}
    assert printers == {("unknown", 0)}
    _, info, _ = await get(client, "system/info")
    assert info["uptime_seconds"] == sim.uptime_seconds == 0


async def test_printer_files_and_uploads(world: World) -> None:
    sim, client, _ = world
    assert recorded("04c")[0]["success_count"] == 1 > len(recorded("04d")[0]["files"])
    assert sim.add_file(source="upload").startswith("upload_")  # never listed
    printer_file = sim.add_file(printer_id=next(iter(sim.printers)), size=196)
    sim.set_file_status(printer_file, "downloaded")
    _, body, _ = await get(client, "files")
    (served,) = body["files"]
    assert served["id"] == printer_file
    assert printer_file == f"{served['printer_id']}_{served['filename']}"
    assert kind(served["downloaded_at"]) == "iso"
    assert (kind(served["created_at"]), served["file_size"]) == ("spaced", 196)


async def test_unavailable_answers_503(world: World) -> None:
    sim, client, _ = world
    sim.available = False
    for path in ("health", "jobs"):
        assert (await client.get(f"/api/v1/{path}")).status == 503
