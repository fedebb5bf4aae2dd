"""Benchmarks: how long the Printernizer client blocks Home Assistant's event loop during a poll's reads.

Run with scripts/bench. Numbers are printed, never asserted on time.

A stand-in Printernizer runs in its own process on 127.0.0.1 (so its JSON
encoding and socket writes never hold this process's GIL) and serves jobs
built from the recorded job objects with long names: (a) 1,000 and (b)
10,000 jobs paginated as Printernizer does (100 a page; the client reads at
most MAX_PAGES pages), and (c) one page of 60 MB that ignores `limit`, once
with its Content-Length and once chunked without one.

Blocked time is measured two ways, both over one poll's reads:

* longest callback: every piece of code the loop runs goes through
  `asyncio.Handle._run` (task steps, transport reads, timers); it is timed
  for each callback and the longest is kept. This is the "longest slice"
  itself, exactly, minus the loop's own select() which blocks nothing. Its
  wall time includes any time the OS gave the CPU to another process (this
  machine has 2 cores, often shared), so the CPU time of the longest
  callback (`time.thread_time`) is printed too: that part is the client's.
* lateness: a monitor task sleeps 1 ms in a loop and records how much later
  than asked it woke up. A slice of B ms delays it by between B - 1 ms and
  B ms, so this is an independent check of the first number (plus the
  timer's own jitter).

Wall time is the poll's reads from the first request to the last answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
import json
import multiprocessing
from multiprocessing.connection import Connection
from pathlib import Path
import statistics
import time
from typing import Any
from unittest.mock import patch

import aiohttp
from aiohttp import web

from custom_components.printernizer_stats.errors import ClientError
from custom_components.printernizer_stats.printernizer import (
    MAX_PAGES,
    MAX_RESPONSE_BYTES,
    PAGE_LIMIT,
    PrinternizerClient,
)

RUNS = 7
RECORDED = (
    Path(__file__).parents[1] / "tests/fixtures/printernizer/03l_jobs_list_final.json"
)
PAGE_60_MB = 60_000_000
# The targets for the longest blocking slice.
TARGET_PAGES_MS = 20
TARGET_TOO_LARGE_MS = 50


def _jobs(count: int) -> list[dict[str, Any]]:
    """`count` jobs shaped like the recorded ones, with long names, newest first."""
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))["jobs"]
    jobs = []
    for index in range(count):
        job = dict(recorded[index % len(recorded)])
        second = 86_400 * 30 - index
        job |= {
            "id": f"{index:08d}-8cb8-4d48-91d0-1dd0fe6adebf",
            "job_name": f"CANARY-JOB-{index} bracket for the left side panel, v2",
            "filename": f"CANARY-FILE-{index}_bracket_left_side_panel_v2_0.2mm_PLA_MK4.gcode",
            "customer_name": f"CANARY-CUSTOMER-{index} Mustermann GmbH & Co. KG",
            "created_at": f"2026-11-{1 + second // 86_400:02d}T"
            f"{second % 86_400 // 3600:02d}:{second % 3600 // 60:02d}:{second % 60:02d}",
        }
        jobs.append(job)
    return jobs


def _page_body(jobs: list[dict[str, Any]], page: int, limit: int) -> bytes:
    """One page as Printernizer lists it."""
    total_pages = -(-len(jobs) // limit)
    return json.dumps(
        {
            "jobs": jobs[(page - 1) * limit : page * limit],
            "total_count": len(jobs),
            "pagination": {
                "page": page,
                "limit": limit,
                "total_items": len(jobs),
                "total_pages": total_pages,
            },
        }
    ).encode()


def _one_page(size: int) -> bytes:
    """A single page of at least `size` bytes of recorded-shape jobs."""
    count = size // len(json.dumps(_jobs(1)[0]))
    while len(body := json.dumps({"jobs": _jobs(count)}).encode()) < size:
        count = count * size // len(body) + 1
    return body


def _serve(scenario: str, count: int, ready: Connection) -> None:
    """The stand-in Printernizer (runs in its own process); sends its port once listening."""
    if scenario == "pages":
        jobs = _jobs(count)
        pages = {
            page: _page_body(jobs, page, PAGE_LIMIT) for page in range(1, MAX_PAGES + 2)
        }
    else:
        whole = _one_page(PAGE_60_MB)

    async def handler(request: web.Request) -> web.StreamResponse:
        if scenario == "pages":
            page = int(request.query["page"])
            return web.Response(body=pages[page], content_type="application/json")
        if scenario == "one_page":
            return web.Response(body=whole, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for start in range(0, len(whole), 65_536):
                await response.write(whole[start : start + 65_536])
            await response.write_eof()
        except ConnectionError:
            pass  # the client hung up once it had read enough: the point
        return response

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/api/v1/jobs", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ready.send(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


@contextmanager
def _stand_in(scenario: str, count: int = 0) -> Iterator[str]:
    """Start the stand-in in its own process and yield its base URL; stop it after."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_serve, args=(scenario, count, send), daemon=True)
    process.start()
    try:
        if not receive.poll(120):
            raise RuntimeError("the stand-in Printernizer did not start")
        yield f"http://127.0.0.1:{receive.recv()}"
    finally:
        process.terminate()
        process.join(10)
        receive.close()
        send.close()


@contextmanager
def _longest_callback() -> Iterator[list[float]]:
    """Time every callback the loop runs: yields [longest wall time, its CPU time]."""
    longest = [0.0, 0.0]
    original = asyncio.Handle._run

    def timed(handle: asyncio.Handle) -> None:
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            original(handle)
        finally:
            if (elapsed := time.perf_counter() - start) > longest[0]:
                longest[:] = [elapsed, time.thread_time() - cpu]

    with patch.object(asyncio.Handle, "_run", timed):
        yield longest


async def _monitor(stop: asyncio.Event, lateness: list[float]) -> None:
    """Sleep 1 ms at a time and record how late each wake-up was."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(0.001)
        lateness.append(loop.time() - before - 0.001)


async def _measure(url: str) -> tuple[str, float, list[float], float]:
    """One poll's job reads: outcome, wall time, longest callback (wall, CPU), largest lateness."""
    async with aiohttp.ClientSession() as session:
        client = PrinternizerClient(session, url, timeout=60)
        stop = asyncio.Event()
        lateness: list[float] = []
        monitor = asyncio.create_task(_monitor(stop, lateness))
        await asyncio.sleep(0.01)
        with _longest_callback() as longest:
            start = time.perf_counter()
            try:
                outcome = f"{len(await client.jobs()):,} jobs"
            except ClientError as err:
                outcome = f"refused: {err.reason}"
            wall = time.perf_counter() - start
        stop.set()
        await monitor
    return outcome, wall, longest, max(lateness, default=0.0)


async def _report(name: str, url: str, target_ms: int) -> None:
    """RUNS polls against one stand-in; print median wall time and worst blocking."""
    samples = [await _measure(url) for _ in range(RUNS)]
    outcomes = {outcome for outcome, *_ in samples}
    walls = [wall * 1000 for _, wall, _, _ in samples]
    longest = [slice_[0] * 1000 for _, _, slice_, _ in samples]
    cpu = [slice_[1] * 1000 for _, _, slice_, _ in samples]
    late = [lateness * 1000 for *_, lateness in samples]
    print(f" {name}: {', '.join(sorted(outcomes))} ({RUNS} polls)")
    print(
        f"  longest callback  median {statistics.median(longest):6.2f}  max {max(longest):6.2f} ms"
        f"  (target <= {target_ms} ms)"
    )
    print(
        f"   its CPU time     median {statistics.median(cpu):6.2f}  max {max(cpu):6.2f} ms"
    )
    print(
        f"  monitor lateness  median {statistics.median(late):6.2f}  max {max(late):6.2f} ms"
    )
    print(
        f"  wall time         median {statistics.median(walls):6.2f}  max {max(walls):6.2f} ms"
    )


async def test_bench_poll_paginated(socket_enabled: None) -> None:
    """Jobs paginated 100 a page: the client reads MAX_PAGES pages of 1,000 or 10,000."""
    asyncio.get_running_loop().set_debug(False)
    await asyncio.sleep(0)  # the next steps run without debug's slow-callback log
    page = _page_body(_jobs(PAGE_LIMIT), 1, PAGE_LIMIT)
    print(
        f"\njobs read per poll (a page of {PAGE_LIMIT} recorded-shape jobs with long names"
        f" is {len(page):,} bytes; cap {MAX_RESPONSE_BYTES:,})"
    )
    for count in (1_000, 10_000):
        with _stand_in("pages", count) as url:
            await _report(f"{count:,} jobs, {PAGE_LIMIT} a page", url, TARGET_PAGES_MS)


async def test_bench_poll_page_too_large(socket_enabled: None) -> None:
    """One 60 MB page that ignores `limit`: refused by its size, with or without Content-Length."""
    asyncio.get_running_loop().set_debug(False)
    await asyncio.sleep(0)  # the next steps run without debug's slow-callback log
    whole = _one_page(PAGE_60_MB)
    start = time.perf_counter()
    json.loads(whole)
    decode = time.perf_counter() - start
    print(
        f"\na single page of {len(whole) / 1e6:.0f} MB (decoding it, which the cap"
        f" avoids, takes {decode * 1000:,.0f} ms on this machine)"
    )
    del whole
    for scenario, name in (
        ("one_page", "with Content-Length"),
        ("one_page_chunked", "chunked, no Content-Length"),
    ):
        with _stand_in(scenario) as url:
            await _report(f"60 MB page, {name}", url, TARGET_TOO_LARGE_MS)
