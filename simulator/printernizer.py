"""A stand-in for Printernizer 2.42.0's REST API that answers like the real one.

Shapes, quirks and rate limiting follow the real responses recorded in
tests/fixtures/printernizer/; tests/test_simulator_parity.py holds them together.
Personal fields carry fake but realistic values, served unmasked as the real does.
For a development Home Assistant instance::

    python -m simulator.printernizer --host 127.0.0.1 --port 8000 --tick 5
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
import contextlib
from datetime import UTC, datetime
import json
import logging
import math
import random
import re
from typing import Any
import uuid

from aiohttp import web

from simulator import loopback_host

_LOGGER = logging.getLogger(__name__)

type Json = dict[str, Any]

API = "/api/v1"
PRINTER_TYPES = ("bambu_lab", "prusa_core", "octoprint")
TERMINAL_JOB_STATUSES = frozenset({"completed", "failed", "cancelled"})
RATE_PER_MINUTE = 100  # POST /printers (10) and DELETE (20) are not served here
BURST = 20
INITIAL_TOKENS = 100.0
MAX_LIMIT = {"printers": 100, "jobs": 1000, "files": 1000}


# Documents as Printernizer serialises them, before the per-item values.
_PRINTER = """{"id": null, "name": null, "printer_type": null, "status": null,
  "ip_address": null, "connection_config": {"ip_address": null, "api_key": null,
  "access_code": null, "serial_number": null, "webcam_url": null}, "location": null,
  "description": null, "is_enabled": true, "last_seen": null, "current_job": null,
  "temperatures": null, "filaments": null, "total_jobs": null, "created_at": null,
  "updated_at": null}"""
_JOB = """{"id": null, "printer_id": null, "printer_type": "unknown", "job_name": null,
  "filename": null, "status": "pending", "start_time": null, "end_time": null,
  "estimated_duration": null, "actual_duration": null, "progress": 0.0,
  "material_used": null, "material_cost": null, "power_cost": null,
  "is_business": false, "customer_name": null, "order_id": null, "created_at": null,
  "updated_at": null, "progress_percent": 0.0, "cost_eur": 0.0, "started_at": null,
  "completed_at": null}"""
_FILE = """{"id": null, "printer_id": null, "filename": null, "source": null,
  "status": null, "file_size": null, "file_path": null, "file_type": null,
  "downloaded_at": null, "created_at": null, "watch_folder_path": null,
  "relative_path": null, "modified_time": null, "has_thumbnail": false,
  "thumbnail_width": null, "thumbnail_height": null, "thumbnail_format": null}"""
_HEALTH = """{"status": "healthy", "timestamp": null, "version": null,
  "environment": "development", "database": {"type": "sqlite", "healthy": true,
  "connection_count": 1}, "services": {"database": {"status": "healthy",
  "type": "sqlite", "details": {"connected": true}}, "printer_service": {"status":
  "healthy", "details": {"printer_count": 0, "monitoring_active": false}},
  "file_service": {"status": "healthy", "details": {"initialized": true}},
  "trending_service": {"status": "disabled", "details": {"reason":
  "temporarily disabled"}}, "event_service": {"status": "healthy",
  "details": {"initialized": true}}}, "uptime_seconds": null}"""
_NEXT = {  # advance(): where jobs and files go next
    "pending": ("running",),
    "running": ("completed",) * 8 + ("failed", "cancelled"),
    "available": ("downloading",),
    "downloading": ("downloaded",),
}
_NOT_AN_INTEGER = "a valid integer, unable to parse string as an integer"
_PEOPLE = ("Erika Mustermann", "Max Mustermann", "Jane Roe", "John Doe", "Otto Weber")
_PARTS = ("bracket", "phone_stand", "gear", "enclosure", "spare_clip", "prototype")
_MODELS = {"bambu_lab": "X1 Carbon", "prusa_core": "Core One", "octoprint": "Ender 3"}


class PrinternizerSimulator:
    """A simulated Printernizer installation: seeded, with an injectable clock."""

    def __init__(
        self,
        *,
        seed: int = 0,
        printers: int = 3,
        now: Callable[[], datetime] | None = None,
        version: str = "2.42.0",
    ) -> None:
        """Configure ``printers`` online printers, types cycling PRINTER_TYPES."""
        self._rng = random.Random(seed)
        self._clock: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.version = version
        self.available = True
        self.opted_in = False
        self.throttle_every: int | None = None
        self.requests: Counter[str] = Counter()
        self.printers: dict[str, Json] = {}
        self.jobs: dict[str, Json] = {}
        self.files: dict[str, Json] = {}
        self.events = 1  # Printernizer's own usage events, from app_start on
        self._buckets: dict[str, tuple[float, float]] = {}
        self._limited = 0
        self.started_at = self.now()
        for index in range(printers):
            self.add_printer(PRINTER_TYPES[index % len(PRINTER_TYPES)], "online")

    def now(self) -> datetime:
        """Simulated time, naive like Printernizer's (UTC if the clock is aware)."""
        value = self._clock()
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value

    def stamp(self) -> str:
        """Naive ISO timestamp (no offset), as ``datetime.now().isoformat()``."""
        return self.now().isoformat()

    @property
    def uptime_seconds(self) -> int:
        """Whole seconds since the simulated (re)start."""
        return int((self.now() - self.started_at).total_seconds())

    def _uuid(self) -> str:
        """A reproducible UUID4 string."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def add_printer(self, printer_type: str, status: str = "unknown") -> str:
        """Configure a printer (secrets in plaintext) and return its id."""
        rng, bambu = self._rng, printer_type == "bambu_lab"
        ip_address = f"192.168.{rng.randint(0, 9)}.{rng.randint(20, 250)}"
        printer_id = self._uuid()
        owner, model = rng.choice(_PEOPLE).split()[0], _MODELS.get(printer_type, "3D")
        printer: Json = json.loads(_PRINTER)
        # Created as octoprint, listed as prusa_core forever after.
        kind = "prusa_core" if printer_type == "octoprint" else printer_type
        printer.update(id=printer_id, name=f"{owner}'s {model}", printer_type=kind)
        config = printer["connection_config"]  # secrets in plaintext, as served
        printer["ip_address"] = config["ip_address"] = ip_address
        if bambu:
            config["access_code"] = f"{rng.randrange(10**8):08d}"
            config["serial_number"] = f"01P00A{rng.randrange(10**9):09d}"
        else:
            config["api_key"] = f"{rng.getrandbits(128):032x}"
        self.printers[printer_id] = printer
        self.set_printer_status(printer_id, status)
        return printer_id

    def set_printer_status(self, printer_id: str, status: str) -> None:
        """Set a printer's status; being online refreshes last_seen."""
        printer = self.printers[printer_id]
        printer["status"] = status
        if status == "online":
            printer["last_seen"] = self.stamp()

    def add_job(self, *, printer_id: str | None = None, status: str = "pending") -> str:
        """Create a job like POST /jobs (KeyError for an unknown printer); return its id."""
        rng = self._rng
        printer_id = printer_id or rng.choice(list(self.printers))
        if printer_id not in self.printers:
            raise KeyError(printer_id)
        customer, part = rng.choice((*_PEOPLE, None)), rng.choice(_PARTS)
        cost = rng.choice((None, round(rng.uniform(0.2, 9), 2)))
        created = self.now().replace(microsecond=0).isoformat()  # one-second resolution
        job_id, job = self._uuid(), json.loads(_JOB)  # printer_type stays "unknown"
        filename = f"{(customer or 'Stock').split()[-1]}_{part}_v{rng.randint(1, 9)}"
        job.update(
            id=job_id,
            printer_id=printer_id,
            job_name=f"{part.replace('_', ' ').title()} for {customer or 'stock'}",
            filename=f"{filename}.gcode",
            estimated_duration=rng.choice((None, rng.randint(10, 240) * 60)),
            material_cost=cost,
            is_business=customer is not None,
            customer_name=customer,
            created_at=created,
            updated_at=created,
            cost_eur=cost or 0.0,
        )
        self.jobs[job_id] = job
        self.events += 1
        if status != "pending":
            self.set_job_status(job_id, status)
        return job_id

    def set_job_status(self, job_id: str, status: str) -> None:
        """Force a job's status, setting the timestamps as Printernizer does."""
        job, now = self.jobs[job_id], self.stamp()
        if status in TERMINAL_JOB_STATUSES:
            start = job["start_time"] or now  # pending -> failed: start == end
            job.update(start_time=start, started_at=start)
            job.update(end_time=now, completed_at=now)
            self.events += 1
        elif status != "pending" and job["start_time"] is None:
            job.update(start_time=now, started_at=now)
        job.update(status=status, updated_at=now)

    def add_file(
        self,
        *,
        printer_id: str | None = None,
        status: str = "available",
        size: int | None = None,
        source: str = "printer",
    ) -> str:
        """Record a printer file (id ``{printer_id}_{filename}``) or an upload."""
        rng, now = self._rng, self.now()
        ext = rng.choice(("3mf", "gcode", "bgcode"))
        person, part = rng.choice(_PEOPLE).split()[-1], rng.choice(_PARTS)
        name = f"{person}_{part}_{rng.randint(100, 999)}.{ext}"
        sim_file: Json = json.loads(_FILE)
        if source == "upload":  # only by id and in the library, never in /files
            file_id, printer_id = f"upload_{now:%Y%m%d_%H%M%S}_{name}", "upload"
            status = "downloaded"  # as recorded, yet without downloaded_at
            sim_file["file_path"] = f"/data/printernizer/downloads/uploads/{name}"
        else:
            printer_id = printer_id or rng.choice(list(self.printers))
            file_id = f"{printer_id}_{name}"
        sim_file.update(
            id=file_id,
            printer_id=printer_id,
            filename=name,
            source=source,
            file_size=rng.randint(10_000, 50_000_000) if size is None else size,
            file_type=ext,
            created_at=f"{now:%Y-%m-%d %H:%M:%S}",  # a space, no "T"
        )
        self.files[file_id] = sim_file
        self.set_file_status(file_id, status)
        return file_id

    def set_file_status(self, file_id: str, status: str) -> None:
        """Set a file's status; ``downloaded`` sets downloaded_at and the local path."""
        sim_file = self.files[file_id]
        sim_file["status"] = status
        if status == "downloaded" and sim_file["source"] == "printer":
            folder = f"/data/printernizer/printer-files/{sim_file['printer_id']}"
            sim_file["file_path"] = f"{folder}/{sim_file['filename']}"
            sim_file["downloaded_at"] = self.stamp()

    def restart(self) -> None:
        """Restart: uptime from zero; printers rewritten, which cascades to every job."""
        self.started_at = self.now()
        self.jobs.clear()
        self._buckets.clear()
        self.events += 1
        for printer in self.printers.values():
            printer.update(status="unknown", last_seen=None)

    def advance(self, steps: int = 1) -> None:
        """Move on by random ticks: printers connect, jobs run and end, files download."""
        rng = self._rng
        for _ in range(steps):
            for printer_id, printer in self.printers.items():
                if printer["status"] == "unknown" or rng.random() < 0.03:
                    status = "offline" if rng.random() < 0.2 else "online"
                    self.set_printer_status(printer_id, status)
            for items, change in (
                (self.jobs, self.set_job_status),
                (self.files, self.set_file_status),
            ):
                for key, item in list(items.items()):
                    if item["status"] in _NEXT and rng.random() < 0.4:
                        change(key, rng.choice(_NEXT[item["status"]]))
            online = [k for k, p in self.printers.items() if p["status"] == "online"]
            if online and rng.random() < 0.3:
                self.add_job(printer_id=rng.choice(online))
            if online and rng.random() < 0.2:
                self.add_file(printer_id=rng.choice(online))

    def admit(self, client: str) -> tuple[bool, int, float]:
        """Take a token from the client's bucket: (admitted, remaining, wait seconds)."""
        epoch, rate = self.now().replace(tzinfo=UTC).timestamp(), RATE_PER_MINUTE / 60
        tokens, then = self._buckets.get(client, (INITIAL_TOKENS, epoch))
        tokens = min(RATE_PER_MINUTE + BURST, tokens + (epoch - then) * rate)
        self._limited += 1
        every = self.throttle_every
        if tokens < 1 or (every is not None and self._limited % every == 0):
            self._buckets[client] = (tokens, epoch)
            return False, 0, (1 - tokens) / rate if tokens < 1 else 1 / rate
        self._buckets[client] = (tokens - 1, epoch)
        return True, int(tokens - 1), 0.0

    def printer_json(self, printer_id: str, *, listed: bool = True) -> Json:
        """A printer as PrinterResponse; created_at/updated_at are the response time."""
        printer, now = self.printers[printer_id], self.stamp()
        online = printer["status"] == "online"
        jobs = sum(job["printer_id"] == printer_id for job in self.jobs.values())
        return {
            **printer,
            "temperatures": {"bed": 0.0, "nozzle": 0.0} if online else None,
            "total_jobs": jobs if listed else None,  # null when fetched by id
            "created_at": now,
            "updated_at": now,
        }

    def health_json(self) -> Json:
        """/health: uptime_seconds always null; the printer service counts none."""
        body: Json = json.loads(_HEALTH)
        body.update(timestamp=self.stamp(), version=self.version)
        return body


def _paging(request: web.Request, high: int) -> tuple[int, int, list[Json]]:
    """Page (>= 1), limit (1..high) and pydantic-style errors, as FastAPI's Query()."""
    values, errors = [1, 50], []
    for index, name in enumerate(("page", "limit")):
        raw = request.query.get(name, str(values[index]))
        if not re.fullmatch(r"[+-]?\d+", raw.strip()):
            kind, msg = "int_parsing", _NOT_AN_INTEGER
        elif (value := int(raw)) < 1:
            kind, msg = "greater_than_equal", "greater than or equal to 1"
        elif name == "limit" and value > high:
            kind, msg = "less_than_equal", f"less than or equal to {high}"
        else:
            values[index] = value
            continue
        loc, msg = ["query", name], f"Input should be {msg}"
        errors.append({"type": kind, "loc": loc, "msg": msg, "input": raw})
    return values[0], values[1], errors


def create_app(sim: PrinternizerSimulator) -> web.Application:
    """Build the aiohttp application serving ``sim``."""

    def error(status: int, message: str, code: str, details: Json) -> web.Response:
        """Printernizer's error envelope."""
        body: Json = {"status": "error", "message": message, "error_code": code}
        body.update(details=details, timestamp=sim.stamp())
        return web.json_response(body, status=status)

    @web.middleware
    async def gate(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Count, answer 503 when unavailable, rate-limit all but /health."""
        sim.requests[request.path] += 1
        if not sim.available:
            return web.json_response({"detail": "Service Unavailable"}, status=503)
        if request.path == f"{API}/health":
            return await handler(request)
        admitted, remaining, wait = sim.admit(request.remote or "unknown")
        limit = str(RATE_PER_MINUTE)
        if not admitted:  # no timestamp in this envelope, no other headers either
            message = "Too many requests. Please try again later."
            details = {"retry_after_seconds": round(wait, 1)}
            details["rate_limit_per_minute"] = RATE_PER_MINUTE
            body: Json = {"status": "error", "message": message}
            body.update(error_code="RATE_LIMIT_EXCEEDED", details=details)
            reset = int(sim.now().replace(tzinfo=UTC).timestamp() + wait)
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}
            headers.update({"X-RateLimit-Limit": limit, "X-RateLimit-Remaining": "0"})
            headers["X-RateLimit-Reset"] = str(reset)
            return web.json_response(body, status=429, headers=headers)
        response = await handler(request)
        response.headers["X-RateLimit-Limit"] = limit
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        return response

    def listing(request: web.Request, key: str, items: list[Json]) -> web.Response:
        """One page of ``items`` in Printernizer's list shape (past the end: empty)."""
        page, limit, errors = _paging(request, MAX_LIMIT[key])
        if errors:
            details = {"validation_errors": errors}
            return error(422, "Request validation failed", "VALIDATION_ERROR", details)
        pages = math.ceil(len(items) / limit)
        pagination = {"page": page, "limit": limit, "total_items": len(items)}
        pagination["total_pages"] = pages if key == "printers" else max(1, pages)
        chunk = items[(page - 1) * limit : page * limit]
        body = {key: chunk, "total_count": len(items), "pagination": pagination}
        return web.json_response(body)

    async def health(request: web.Request) -> web.Response:
        return web.json_response(sim.health_json())

    async def system_info(request: web.Request) -> web.Response:
        body: Json = {"version": "unknown", "environment": "development"}
        body.update(timezone="Europe/Berlin", database_size_mb=0.77)
        return web.json_response({**body, "uptime_seconds": sim.uptime_seconds})

    async def usage_status(request: web.Request) -> web.Response:
        body: Json = {"service_available": True, "opted_in": sim.opted_in}
        body.update(total_events=sim.events, collection_active=True)
        return web.json_response(body)

    async def printers(request: web.Request) -> web.Response:
        items = [sim.printer_json(printer_id) for printer_id in sim.printers]
        return listing(request, "printers", items)

    async def jobs(request: web.Request) -> web.Response:
        # created_at DESC at one-second resolution; ties keep insertion order.
        ordered = sorted(sim.jobs.values(), key=lambda j: j["created_at"], reverse=True)
        return listing(request, "jobs", ordered)

    async def one(request: web.Request) -> web.Response:
        kind, key = request.match_info["kind"], request.match_info["key"]
        if kind == "printers" and key in sim.printers:
            return web.json_response(sim.printer_json(key, listed=False))
        if kind == "jobs" and key in sim.jobs:
            return web.json_response(sim.jobs[key])
        name = kind.removesuffix("s")  # PRINTER_NOT_FOUND, JOB_NOT_FOUND
        message = f"{name.title()} not found: {key}"
        return error(404, message, f"{name.upper()}_NOT_FOUND", {f"{name}_id": key})

    async def files(request: web.Request) -> web.Response:
        items = [f for f in reversed(sim.files.values()) if f["source"] != "upload"]
        return listing(request, "files", items)

    app = web.Application(middlewares=[gate])
    for path, handler in (
        ("health", health),
        ("system/info", system_info),
        ("usage-stats/status", usage_status),
        ("printers", printers),
        ("jobs", jobs),
        ("{kind:printers|jobs}/{key}", one),
        ("files", files),
    ):
        app.router.add_get(f"{API}/{path}", handler)
    return app


async def _serve(sim: PrinternizerSimulator, host: str, port: int, tick: float) -> None:
    """Serve ``sim`` and advance it every ``tick`` seconds until cancelled."""
    runner = web.AppRunner(create_app(sim), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    _LOGGER.info("Printernizer simulator on http://%s:%s%s", host, port, API)
    try:
        while True:
            await asyncio.sleep(tick)
            sim.advance()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Run the simulator until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", type=loopback_host, default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--tick", type=float, default=5.0, help="seconds per advance()")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--printers", type=int, default=3)
    parser.add_argument("--version", default="2.42.0", help="version /health reports")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    sim = PrinternizerSimulator(seed=args.seed, printers=args.printers)
    sim.version = args.version
    sim.advance(5)  # start with a few jobs and files
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(sim, args.host, args.port, args.tick))


if __name__ == "__main__":
    main()
