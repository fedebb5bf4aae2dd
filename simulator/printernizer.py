"""A deterministic, controllable stand-in for Printernizer's REST API.

The JSON shapes follow the real Printernizer backend (repository
``schmacka/printernizer-ha``, add-on copy ``printernizer/src/api/routers/``
``printers.py``, ``jobs.py``, ``files.py``, ``health.py`` and the models in
``printernizer/src/models/``), including the privacy-relevant fields a client
must never keep: printer names, IP addresses, unmasked ``connection_config``
(API keys, access codes, serial numbers), locations, job and file names, file
paths and customer names.  File ids of printer files are
``"{printer_id}_{filename}"`` exactly as in Printernizer, so even an id can
carry a customer's file name.

Timestamps are naive ISO strings, as Printernizer (``datetime.now()``) sends
them.

Run for a development Home Assistant instance::

    python -m simulator.printernizer --host 127.0.0.1 --port 8000 --tick 5
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
import json
import logging
import random
from typing import Any
import uuid

from aiohttp import web

from simulator import loopback_host

_LOGGER = logging.getLogger(__name__)

API = "/api/v1"

PRINTER_TYPES: tuple[str, ...] = ("bambu_lab", "prusa_core", "octoprint")
"""Printer types Printernizer knows (plus ``unknown``)."""

ODD_PRINTER_TYPE = "creality_k1"
"""A type the client does not know; it must map it to ``unknown``."""

PRINTER_STATUSES: tuple[str, ...] = (
    "online",
    "offline",
    "printing",
    "paused",
    "error",
    "unknown",
)
JOB_STATUSES: tuple[str, ...] = (
    "pending",
    "running",
    "printing",
    "paused",
    "completed",
    "failed",
    "cancelled",
    "unknown",
)
TERMINAL_JOB_STATUSES = frozenset({"completed", "failed", "cancelled"})
ACTIVE_JOB_STATUSES = frozenset({"running", "printing", "paused"})
FILE_STATUSES: tuple[str, ...] = (
    "available",
    "downloading",
    "downloaded",
    "local",
    "error",
    "deleted",
    "unavailable",
)

DEFAULT_LIMIT = 50
MAX_LIMIT_PRINTERS = 100  # Query(50, ge=1, le=100) in Printernizer
MAX_LIMIT_JOBS = 1000  # Query(50, ge=1, le=1000) in Printernizer
DEFAULT_MAX_ITEMS = 1000

# Steps after which the simulated world forces progress, so that advance()
# always reaches terminal states in a bounded number of steps.
_MAX_PENDING_STEPS = 3
_MAX_ACTIVE_STEPS = 8
_MAX_PAUSED_STEPS = 2
_MAX_DOWNLOADING_STEPS = 3

_PEOPLE = (
    "Anna Mueller",
    "Jonas Becker",
    "Lea Schmidt",
    "Max Weber",
    "Sofia Rossi",
    "Tom Baker",
)
_PARTS = (
    "bracket",
    "enclosure",
    "gear",
    "phone_stand",
    "prototype",
    "spare_clip",
)
_PLACES = (
    "Garage, Hauptstrasse 12, 10115 Berlin",
    "Office 3.14, Am Markt 5, 80331 Muenchen",
    "Basement workshop, 221B Baker Street, London",
    "Makerspace, Rue de Rivoli 10, Paris",
)


def _naive(value: datetime | None) -> str | None:
    """Format like Printernizer: naive ISO 8601 (no offset)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat()


@dataclass
class SimPrinter:
    """A printer as Printernizer stores it."""

    id: str
    name: str
    printer_type: str
    status: str
    ip_address: str
    api_key: str | None
    access_code: str | None
    serial_number: str | None
    webcam_url: str | None
    location: str
    description: str
    is_enabled: bool
    created_at: datetime
    last_seen: datetime | None


@dataclass
class SimJob:
    """A print job as Printernizer stores it."""

    id: str
    printer_id: str
    printer_type: str
    job_name: str
    filename: str | None
    status: str
    customer_name: str | None
    is_business: bool
    estimated_duration: int | None
    actual_duration: int | None
    progress: int | None
    material_used: float | None
    material_cost: float | None
    power_cost: float | None
    start_time: datetime | None
    end_time: datetime | None
    created_at: datetime
    updated_at: datetime
    step_changed: int = 0


@dataclass
class SimFile:
    """A file as Printernizer stores it."""

    id: str
    printer_id: str | None
    filename: str
    source: str
    status: str
    file_size: int | None
    file_path: str | None
    file_type: str | None
    downloaded_at: datetime | None
    created_at: datetime
    watch_folder_path: str | None
    relative_path: str | None
    step_changed: int = 0


class _QueryError(Exception):
    """A query parameter failed validation (FastAPI answers 422)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid query")
        self.errors = errors


class PrinternizerSimulator:
    """State of a simulated Printernizer installation.

    Everything random comes from one ``random.Random(seed)`` so a test gets the
    same world every time.  The clock is injectable (``now``).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        printers: int = 4,
        now: Callable[[], datetime] | None = None,
        initial_jobs: int = 0,
        initial_files: int = 0,
    ) -> None:
        """Create a fleet of ``printers`` printers (types cycle, 4th is odd)."""
        self._rng = random.Random(seed)
        self._now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self._step = 0
        self._printers: dict[str, SimPrinter] = {}
        self._jobs: dict[str, SimJob] = {}
        self._files: dict[str, SimFile] = {}
        self.started_at = self._now()
        self.requests: Counter[str] = Counter()
        self.available = True
        self.health_payload: object | None = None
        self.health_status = "healthy"
        self.report_uptime = True
        self.version = "2.7.0"
        self.max_items = DEFAULT_MAX_ITEMS
        cycle = (*PRINTER_TYPES, ODD_PRINTER_TYPE)
        for index in range(printers):
            self.add_printer(printer_type=cycle[index % len(cycle)])
        for _ in range(initial_jobs):
            self.add_job(status=self._rng.choice(("completed", "completed", "failed")))
        for _ in range(initial_files):
            self.add_file(status=self._rng.choice(("available", "downloaded", "local")))

    # ------------------------------------------------------------------ ids

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _digits(self, count: int) -> str:
        return "".join(self._rng.choice("0123456789") for _ in range(count))

    def _token(self, count: int) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self._rng.choice(alphabet) for _ in range(count))

    # -------------------------------------------------------------- printers

    @property
    def printer_ids(self) -> list[str]:
        """Ids of all printers, in creation order."""
        return list(self._printers)

    @property
    def printers(self) -> list[SimPrinter]:
        """All printers, in creation order."""
        return list(self._printers.values())

    def add_printer(
        self, *, printer_type: str = "bambu_lab", status: str = "online"
    ) -> str:
        """Add a printer (any ``printer_type`` string is accepted) and return its id."""
        number = len(self._printers) + 1
        owner = self._rng.choice(_PEOPLE).split()[0]
        ip_address = f"192.168.{self._rng.randint(0, 9)}.{self._rng.randint(20, 250)}"
        api_key: str | None = None
        access_code: str | None = None
        serial: str | None = None
        if printer_type == "bambu_lab":
            access_code = self._digits(8)
            serial = f"01P00A{self._digits(9)}"
        elif printer_type == "prusa_core":
            api_key = self._token(16)
            serial = f"CZPX{self._digits(10)}"
        else:
            api_key = self._token(32)
            serial = f"SN{self._digits(12)}"
        printer = SimPrinter(
            id=self._uuid(),
            name=f"{owner}'s {printer_type} #{number}",
            printer_type=printer_type,
            status=status,
            ip_address=ip_address,
            api_key=api_key,
            access_code=access_code,
            serial_number=serial,
            webcam_url=f"rtsp://{ip_address}:322/streaming/live/1",
            location=self._rng.choice(_PLACES),
            description=f"Bought by {self._rng.choice(_PEOPLE)}",
            is_enabled=True,
            created_at=self._now(),
            last_seen=self._now() if status != "offline" else None,
        )
        self._printers[printer.id] = printer
        return printer.id

    def remove_printer(self, printer_id: str) -> None:
        """Remove a printer (its jobs and files stay, as in Printernizer)."""
        del self._printers[printer_id]

    def set_printer_status(self, printer_id: str, status: str) -> None:
        """Set a printer's status (any string; the client must cope)."""
        printer = self._printers[printer_id]
        printer.status = status
        if status != "offline":
            printer.last_seen = self._now()

    # ------------------------------------------------------------------ jobs

    @property
    def jobs(self) -> list[SimJob]:
        """All jobs, oldest first."""
        return list(self._jobs.values())

    def get_job(self, job_id: str) -> SimJob:
        """Return a job by id (KeyError if dropped or unknown)."""
        return self._jobs[job_id]

    def add_job(
        self,
        status: str = "pending",
        printer_type: str | None = None,
        duration: int | None = None,
        *,
        printer_id: str | None = None,
    ) -> str:
        """Add a job and return its id.

        ``printer_type`` picks a printer of that type when there is one;
        otherwise the job still reports that type (e.g. ``"unknown"``).
        ``duration`` is the ``actual_duration`` in seconds; a job added in a
        terminal state without one gets a random duration, any other job
        gets ``None`` unless given.
        """
        now = self._now()
        printer = self._pick_printer(printer_type, printer_id)
        job_type = printer_type or (printer.printer_type if printer else "unknown")
        customer = self._rng.choice(_PEOPLE)
        part = self._rng.choice(_PARTS)
        filename = f"{customer.split()[1]}_{part}_v{self._rng.randint(1, 9)}.3mf"
        estimated = self._rng.randint(10, 240) * 60
        if duration is None and status in TERMINAL_JOB_STATUSES:
            duration = self._finished_duration(status, estimated)
        started = status in ACTIVE_JOB_STATUSES or status in TERMINAL_JOB_STATUSES
        job = SimJob(
            id=self._uuid(),
            printer_id=printer.id if printer else self._uuid(),
            printer_type=job_type,
            job_name=f"{part.replace('_', ' ').title()} for {customer}",
            filename=filename,
            status=status,
            customer_name=customer,
            is_business=self._rng.random() < 0.5,
            estimated_duration=estimated,
            actual_duration=duration,
            progress=100 if status == "completed" else (0 if started else None),
            material_used=round(self._rng.uniform(5, 300), 1),
            material_cost=round(self._rng.uniform(0.2, 9), 2),
            power_cost=round(self._rng.uniform(0.05, 1.5), 2),
            start_time=now if started else None,
            end_time=now if status in TERMINAL_JOB_STATUSES else None,
            created_at=now,
            updated_at=now,
            step_changed=self._step,
        )
        self._jobs[job.id] = job
        self._trim(self._jobs)
        return job.id

    def set_job_status(
        self, job_id: str, status: str, actual_duration: int | None = None
    ) -> None:
        """Change a job's status (any string) and the timestamps that go with it.

        Entering a terminal state without ``actual_duration`` computes one
        (time since start, or the estimate when the clock stood still).
        """
        job = self._jobs[job_id]
        now = self._now()
        job.status = status
        job.updated_at = now
        job.step_changed = self._step
        if status in ACTIVE_JOB_STATUSES and job.start_time is None:
            job.start_time = now
            job.progress = job.progress or 0
        if status in TERMINAL_JOB_STATUSES:
            job.end_time = now
            if job.start_time is None:
                job.start_time = now
            if actual_duration is None:
                elapsed = int((now - job.start_time).total_seconds())
                actual_duration = elapsed or self._finished_duration(
                    status, job.estimated_duration or 3600
                )
            if status == "completed":
                job.progress = 100
        job.actual_duration = actual_duration

    def _pick_printer(
        self, printer_type: str | None, printer_id: str | None
    ) -> SimPrinter | None:
        if printer_id is not None:
            return self._printers[printer_id]
        candidates = [
            printer
            for printer in self._printers.values()
            if printer_type is None or printer.printer_type == printer_type
        ]
        if not candidates:
            candidates = list(self._printers.values())
        return self._rng.choice(candidates) if candidates else None

    def _finished_duration(self, status: str, estimated: int) -> int:
        if status == "completed":
            return int(estimated * self._rng.uniform(0.9, 1.25))
        return int(estimated * self._rng.uniform(0.05, 0.8)) + 1

    # ----------------------------------------------------------------- files

    @property
    def files(self) -> list[SimFile]:
        """All files, oldest first."""
        return list(self._files.values())

    def get_file(self, file_id: str) -> SimFile:
        """Return a file by id (KeyError if dropped or unknown)."""
        return self._files[file_id]

    def add_file(
        self, status: str = "available", *, printer_id: str | None = None
    ) -> str:
        """Add a file and return its id.

        Printer files get Printernizer's id format ``{printer_id}_{filename}``;
        ``status="local"`` makes a watch-folder file with a UUID id.
        """
        now = self._now()
        customer = self._rng.choice(_PEOPLE).split()[1]
        part = self._rng.choice(_PARTS)
        ext = self._rng.choice(("3mf", "gcode", "bgcode", "stl"))
        filename = f"{customer}_{part}_{self._rng.randint(100, 999)}.{ext}"
        if status == "local":
            sim_file = SimFile(
                id=self._uuid(),
                printer_id=None,
                filename=filename,
                source="local_watch",
                status=status,
                file_size=self._rng.randint(10_000, 50_000_000),
                file_path=f"/media/3d/{customer.lower()}/{filename}",
                file_type=ext,
                downloaded_at=None,
                created_at=now,
                watch_folder_path=f"/media/3d/{customer.lower()}",
                relative_path=filename,
                step_changed=self._step,
            )
        else:
            printer = self._pick_printer(None, printer_id)
            owner = printer.id if printer else self._uuid()
            sim_file = SimFile(
                id=f"{owner}_{filename}",
                printer_id=owner,
                filename=filename,
                source="printer",
                status=status,
                file_size=self._rng.randint(10_000, 50_000_000),
                file_path=None,
                file_type=ext,
                downloaded_at=None,
                created_at=now,
                watch_folder_path=None,
                relative_path=None,
                step_changed=self._step,
            )
            if status == "downloaded":
                self._mark_downloaded(sim_file)
        if sim_file.id in self._files:  # same name twice on one printer
            del self._files[sim_file.id]
        self._files[sim_file.id] = sim_file
        self._trim(self._files)
        return sim_file.id

    def set_file_status(self, file_id: str, status: str) -> None:
        """Change a file's status (any string)."""
        sim_file = self._files[file_id]
        sim_file.status = status
        sim_file.step_changed = self._step
        if status == "downloaded":
            self._mark_downloaded(sim_file)

    def _mark_downloaded(self, sim_file: SimFile) -> None:
        printer = self._printers.get(sim_file.printer_id or "")
        folder = printer.name if printer else "unknown"
        sim_file.downloaded_at = self._now()
        sim_file.file_path = f"/data/printernizer/printers/{folder}/{sim_file.filename}"

    # ------------------------------------------------------------- the world

    def _trim(self, items: dict[str, Any]) -> None:
        while len(items) > self.max_items:
            del items[next(iter(items))]

    def advance(self, steps: int = 1) -> None:
        """Move the simulated world forward by ``steps`` ticks.

        New jobs and files appear now and then; pending jobs start, running
        jobs finish (mostly ``completed``, sometimes ``failed`` or
        ``cancelled``, always with an ``actual_duration``); files go
        available → downloading → downloaded; printers follow their jobs and
        occasionally go offline or into error.  Every job reaches a terminal
        state within ``_MAX_PENDING_STEPS + _MAX_ACTIVE_STEPS +
        _MAX_PAUSED_STEPS`` steps, every download finishes within
        ``_MAX_DOWNLOADING_STEPS``.
        """
        for _ in range(steps):
            self._step += 1
            self._advance_jobs()
            self._advance_files()
            self._advance_printers()

    def _age(self, changed: int) -> int:
        return self._step - changed

    def _advance_jobs(self) -> None:
        rng = self._rng
        for job in list(self._jobs.values()):
            age = self._age(job.step_changed)
            if job.status == "pending":
                if age >= _MAX_PENDING_STEPS or rng.random() < 0.5:
                    running = (
                        "printing" if job.printer_type == "bambu_lab" else "running"
                    )
                    self.set_job_status(job.id, running)
            elif job.status in ("running", "printing"):
                job.progress = min(100, (job.progress or 0) + rng.randint(10, 45))
                job.updated_at = self._now()
                if job.progress >= 100 or age >= _MAX_ACTIVE_STEPS:
                    roll = rng.random()
                    final = (
                        "completed"
                        if roll < 0.8
                        else ("failed" if roll < 0.92 else "cancelled")
                    )
                    duration = self._finished_duration(
                        final, job.estimated_duration or 3600
                    )
                    self.set_job_status(job.id, final, duration)
                elif rng.random() < 0.05:
                    # step_changed stays: the active-time bound keeps counting.
                    job.status = "paused"
            elif job.status == "paused" and (
                age >= _MAX_PAUSED_STEPS or rng.random() < 0.5
            ):
                job.status = (
                    "printing" if job.printer_type == "bambu_lab" else "running"
                )
                job.updated_at = self._now()
        busy = {
            job.printer_id
            for job in self._jobs.values()
            if job.status in ACTIVE_JOB_STATUSES or job.status == "pending"
        }
        idle = [
            printer.id
            for printer in self._printers.values()
            if printer.id not in busy and printer.status in ("online", "unknown")
        ]
        if idle and rng.random() < 0.4:
            self.add_job(status="pending", printer_id=rng.choice(idle))

    def _advance_files(self) -> None:
        rng = self._rng
        for sim_file in list(self._files.values()):
            age = self._age(sim_file.step_changed)
            if sim_file.status == "available" and rng.random() < 0.3:
                self.set_file_status(sim_file.id, "downloading")
            elif sim_file.status == "downloading" and (
                age >= _MAX_DOWNLOADING_STEPS or rng.random() < 0.6
            ):
                self.set_file_status(
                    sim_file.id, "error" if rng.random() < 0.05 else "downloaded"
                )
        if self._printers and rng.random() < 0.3:
            self.add_file(status="available")

    def _advance_printers(self) -> None:
        rng = self._rng
        active: dict[str, str] = {}
        for job in self._jobs.values():
            if job.status in ACTIVE_JOB_STATUSES:
                active[job.printer_id] = (
                    "paused" if job.status == "paused" else "printing"
                )
        for printer in self._printers.values():
            if printer.id in active:
                printer.status = active[printer.id]
            elif printer.status in ("printing", "paused"):
                printer.status = "online"
            elif rng.random() < 0.05:
                printer.status = rng.choice(
                    [s for s in ("online", "offline", "error") if s != printer.status]
                )
            if printer.status != "offline":
                printer.last_seen = self._now()

    # ------------------------------------------------------------- rendering

    def printer_json(self, printer: SimPrinter) -> dict[str, Any]:
        """Render a printer like Printernizer's PrinterResponse."""
        current = next(
            (
                job
                for job in reversed(self._jobs.values())
                if job.printer_id == printer.id and job.status in ACTIVE_JOB_STATUSES
            ),
            None,
        )
        current_job = None
        temperatures = None
        if current is not None:
            current_job = {
                "name": current.job_name,
                "status": "printing" if printer.status == "printing" else "idle",
                "progress": current.progress,
                "started_at": _naive(current.start_time),
                "estimated_remaining": None,
                "layer_current": None,
                "layer_total": None,
            }
            temperatures = {"bed": 60.0, "nozzle": 220.0}
        return {
            "id": printer.id,
            "name": printer.name,
            "printer_type": printer.printer_type,
            "status": printer.status,
            "ip_address": printer.ip_address,
            "connection_config": {
                "ip_address": printer.ip_address,
                "api_key": printer.api_key,
                "access_code": printer.access_code,
                "serial_number": printer.serial_number,
                "webcam_url": printer.webcam_url,
            },
            "location": printer.location,
            "description": printer.description,
            "is_enabled": printer.is_enabled,
            "last_seen": _naive(printer.last_seen),
            "current_job": current_job,
            "temperatures": temperatures,
            "filaments": None,
            "total_jobs": sum(
                1 for job in self._jobs.values() if job.printer_id == printer.id
            ),
            "created_at": _naive(printer.created_at),
            "updated_at": _naive(printer.created_at),
        }

    @staticmethod
    def job_json(job: SimJob) -> dict[str, Any]:
        """Render a job like Printernizer's JobResponse (plus ``customer_name``)."""
        cost = (job.material_cost or 0) + (job.power_cost or 0)
        return {
            "id": job.id,
            "printer_id": job.printer_id,
            "printer_type": job.printer_type,
            "job_name": job.job_name,
            "filename": job.filename,
            "status": job.status,
            "start_time": _naive(job.start_time),
            "end_time": _naive(job.end_time),
            "estimated_duration": job.estimated_duration,
            "actual_duration": job.actual_duration,
            "progress": None if job.progress is None else float(job.progress),
            "material_used": job.material_used,
            "material_cost": job.material_cost,
            "power_cost": job.power_cost,
            "is_business": job.is_business,
            "created_at": _naive(job.created_at),
            "updated_at": _naive(job.updated_at),
            "progress_percent": None if job.progress is None else float(job.progress),
            "cost_eur": round(cost, 2),
            "started_at": _naive(job.start_time),
            "completed_at": _naive(job.end_time),
            # Not in Printernizer's JobResponse (its Job model keeps customer
            # data in customer_info); served anyway so clients prove they
            # drop it.
            "customer_name": job.customer_name,
        }

    @staticmethod
    def file_json(sim_file: SimFile) -> dict[str, Any]:
        """Render a file like Printernizer's FileResponse."""
        return {
            "id": sim_file.id,
            "printer_id": sim_file.printer_id,
            "filename": sim_file.filename,
            "source": sim_file.source,
            "status": sim_file.status,
            "file_size": sim_file.file_size,
            "file_path": sim_file.file_path,
            "file_type": sim_file.file_type,
            "downloaded_at": _naive(sim_file.downloaded_at),
            "created_at": _naive(sim_file.created_at),
            "watch_folder_path": sim_file.watch_folder_path,
            "relative_path": sim_file.relative_path,
            "modified_time": _naive(sim_file.created_at),
            "has_thumbnail": False,
            "thumbnail_width": None,
            "thumbnail_height": None,
            "thumbnail_format": None,
        }

    def health_json(self) -> dict[str, Any]:
        """Render Printernizer's HealthResponse."""
        now = self._now()
        uptime = (now - self.started_at).total_seconds() if self.report_uptime else None
        healthy = {"status": "healthy", "details": {"initialized": True}}
        return {
            "status": self.health_status,
            "timestamp": _naive(now),
            "version": self.version,
            "environment": "production",
            "database": {"type": "sqlite", "healthy": True, "connection_count": 1},
            "services": {
                "database": {
                    "status": "healthy",
                    "type": "sqlite",
                    "details": {"connected": True},
                },
                "printer_service": {
                    "status": "healthy",
                    "details": {
                        "printer_count": len(self._printers),
                        "monitoring_active": True,
                    },
                },
                "file_service": healthy,
                "trending_service": {
                    "status": "disabled",
                    "details": {"reason": "temporarily disabled"},
                },
                "event_service": healthy,
            },
            "uptime_seconds": uptime,
        }


# ------------------------------------------------------------------ web app


def _int_query(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise _QueryError(
            [
                {
                    "type": "int_parsing",
                    "loc": ["query", name],
                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                    "input": raw,
                }
            ]
        ) from None


def _paging(request: web.Request, max_limit: int | None) -> tuple[int, int]:
    page = _int_query(request, "page", 1)
    limit = _int_query(request, "limit", DEFAULT_LIMIT)
    errors: list[dict[str, Any]] = []
    if page < 1:
        errors.append(
            {
                "type": "greater_than_equal",
                "loc": ["query", "page"],
                "msg": "Input should be greater than or equal to 1",
                "input": str(page),
            }
        )
    if limit < 1:
        errors.append(
            {
                "type": "greater_than_equal",
                "loc": ["query", "limit"],
                "msg": "Input should be greater than or equal to 1",
                "input": str(limit),
            }
        )
    elif max_limit is not None and limit > max_limit:
        errors.append(
            {
                "type": "less_than_equal",
                "loc": ["query", "limit"],
                "msg": f"Input should be less than or equal to {max_limit}",
                "input": str(limit),
            }
        )
    if errors:
        raise _QueryError(errors)
    return page, limit


def _paginated(
    key: str,
    items: list[dict[str, Any]],
    page: int,
    limit: int,
    *,
    min_one_page: bool,
) -> dict[str, Any]:
    total = len(items)
    pages = (total + limit - 1) // limit
    if min_one_page:
        pages = max(1, pages)
    start = (page - 1) * limit
    return {
        key: items[start : start + limit],
        "total_count": total,
        "pagination": {
            "page": page,
            "limit": limit,
            "total_items": total,
            "total_pages": pages,
        },
    }


def _filtered(items: Iterable[Any], request: web.Request, **fields: str) -> list[Any]:
    """Keep items whose attribute matches each given query parameter."""
    result = list(items)
    for param, attribute in fields.items():
        wanted = request.query.get(param)
        if wanted is not None:
            result = [item for item in result if getattr(item, attribute) == wanted]
    return result


def create_app(sim: PrinternizerSimulator) -> web.Application:
    """Build the aiohttp application serving ``sim``."""

    @web.middleware
    async def gate(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        sim.requests[request.path] += 1
        if not sim.available:
            return web.json_response({"detail": "Service Unavailable"}, status=503)
        try:
            return await handler(request)
        except _QueryError as err:
            return web.json_response({"detail": err.errors}, status=422)

    async def health(request: web.Request) -> web.Response:
        payload = sim.health_payload
        if payload is None:
            return web.json_response(sim.health_json())
        if isinstance(payload, str):
            return web.Response(text=payload, content_type="text/plain")
        return web.Response(text=json.dumps(payload), content_type="application/json")

    async def printers(request: web.Request) -> web.Response:
        page, limit = _paging(request, MAX_LIMIT_PRINTERS)
        chosen = _filtered(
            sim.printers, request, printer_type="printer_type", status="status"
        )
        items = [sim.printer_json(printer) for printer in chosen]
        # Printernizer: total_pages = ceil(total / limit), i.e. 0 without printers.
        return web.json_response(
            _paginated("printers", items, page, limit, min_one_page=False)
        )

    async def jobs(request: web.Request) -> web.Response:
        page, limit = _paging(request, MAX_LIMIT_JOBS)
        chosen = _filtered(
            reversed(sim.jobs), request, printer_id="printer_id", job_status="status"
        )
        items = [sim.job_json(job) for job in chosen]
        return web.json_response(
            _paginated("jobs", items, page, limit, min_one_page=True)
        )

    async def files(request: web.Request) -> web.Response:
        page, limit = _paging(request, None)
        chosen = _filtered(
            reversed(sim.files),
            request,
            printer_id="printer_id",
            status="status",
            source="source",
        )
        items = [sim.file_json(sim_file) for sim_file in chosen]
        return web.json_response(
            _paginated("files", items, page, limit, min_one_page=True)
        )

    app = web.Application(middlewares=[gate])
    app.router.add_get(f"{API}/health", health)
    app.router.add_get(f"{API}/printers", printers)
    app.router.add_get(f"{API}/jobs", jobs)
    app.router.add_get(f"{API}/files", files)
    return app


# ---------------------------------------------------------------------- CLI


async def _serve(sim: PrinternizerSimulator, host: str, port: int, tick: float) -> None:
    runner = web.AppRunner(create_app(sim), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    _LOGGER.info(
        "Printernizer simulator listening on http://%s:%s%s (printers=%s, tick=%ss)",
        host,
        port,
        API,
        len(sim.printer_ids),
        tick,
    )
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
    parser.add_argument("--printers", type=int, default=4)
    parser.add_argument("--initial-jobs", type=int, default=5)
    parser.add_argument("--initial-files", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    sim = PrinternizerSimulator(
        seed=args.seed,
        printers=args.printers,
        initial_jobs=args.initial_jobs,
        initial_files=args.initial_files,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(sim, args.host, args.port, args.tick))


if __name__ == "__main__":
    main()
