"""Smoke test: a real Home Assistant, started by scripts/develop, used over its API.

Run by ``scripts/smoke`` (which prepares the venv first). In a fresh temporary
configuration folder, on free loopback ports:

1. start ``scripts/develop`` (Home Assistant with ``--skip-pip`` under the
   loopback guard, the Printernizer simulator, the statistics-service emulator);
2. onboard over REST (user, core config, analytics, integration);
3. add the entry (Printernizer URL, then sharing on), fire bus events and
   ``record_event`` calls, wait for the counters, call ``preview``;
4. on Home Assistant 2026.3+, fetch the integration's icon from
   ``/api/brands`` and compare it with ``brand/icon.png`` byte for byte;
5. stop; move the consent two days back (``scripts/devctl backdate 2``);
   start again: it must come up;
6. make the emulator refuse the key, ``submit_now``, find the re-authentication
   flow the integration started, enter ``dev-key``: ``reauth_successful``;
7. stop, ``scripts/devctl skip-wait``, start: ``submit_now`` sends the waiting
   report and the emulator stores it;
8. stop, then check that the venv's packages did not change and host names
   still resolve.

Fails on any log line with ``Detected that custom integration
'printernizer_stats'``, a ``Detected blocking call`` or an ERROR or traceback
naming ``printernizer_stats``, or a connection refused by the loopback guard
on the integration's behalf.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from importlib import metadata
import json
import os
from pathlib import Path
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "printernizer_stats"
SENSOR = "sensor.printernizer_usage_statistics_"
RECORD = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
)
STEP_TIMEOUT = 240.0  # a first start on a slow machine
COUNTER_WAIT = 75.0  # counter states change on the next whole minute at the latest


class SmokeError(Exception):
    """The smoke test failed; the message says where."""


def say(message: str) -> None:
    """One line of progress."""
    print(f"smoke: {message}", flush=True)


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def packages() -> dict[str, str]:
    """Every distribution installed in this venv, with its version."""
    return {
        dist.metadata["Name"].lower(): dist.version for dist in metadata.distributions()
    }


# The one error the smoke test provokes: submit_now while the emulator refuses
# the key. Home Assistant logs a failed action called from the UI (websocket)
# as an error (2025.4: "Unexpected exception" with its traceback).
PROVOKED = ("[homeassistant.components.websocket_api", "refused the API key")


def scan_log(path: Path) -> tuple[list[str], list[str]]:
    """Problems naming the integration, and other errors (first lines), in a log."""
    if not path.is_file():
        return [], []
    records: list[list[str]] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if RECORD.match(line) or not records:
            records.append([line])
        else:
            records[-1].append(line)
    ours, others = [], []
    for record in records:
        text = "\n".join(record)
        match = RECORD.match(record[0])
        level = match.group(1) if match else ""
        named = DOMAIN in text
        if PROVOKED[0] in record[0] and PROVOKED[1] in text:
            others.append("provoked by the smoke test: " + record[0][24:])
        elif (
            f"Detected that custom integration '{DOMAIN}'" in text
            or ("Detected blocking call" in text and named)
            or (named and (level in ("ERROR", "CRITICAL") or "Traceback" in text))
            or ("loopback_guard" in record[0] and f"({DOMAIN})" in text)
        ):
            ours.append(text)
        elif level in ("ERROR", "CRITICAL") or "loopback_guard" in record[0]:
            others.append(record[0][24:])
    return ours, others


class Smoke:
    """One run: the processes, the API client and what was seen."""

    def __init__(self, work: Path) -> None:
        """Pick ports and folders."""
        self.work = work
        self.config = work / "config"
        self.hass_port, self.sim_port, self.emulator_port = free_ports(3)
        self.base = f"http://127.0.0.1:{self.hass_port}"
        self.emulator = f"http://127.0.0.1:{self.emulator_port}"
        self.develop: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.token = ""
        self.session: aiohttp.ClientSession
        self.ha_version = ""
        self.others: list[str] = []

    @property
    def env(self) -> dict[str, str]:
        """scripts/develop's settings for this run."""
        return {
            **os.environ,
            "DEVELOP_PYTHON_CHOSEN": "1",
            "VENV": os.environ.get("VENV", ".venv"),
            "HASS_CONFIG": str(self.config),
            "HASS_PORT": str(self.hass_port),
            "EMULATOR_PORT": str(self.emulator_port),
            "PRINTERNIZER_URL": f"http://127.0.0.1:{self.sim_port}",
        }

    # --- processes ------------------------------------------------------------

    async def start(self) -> None:
        """Start scripts/develop and wait until Home Assistant answers."""
        self.runs += 1
        output = (self.work / f"develop-{self.runs}.log").open("wb")
        self.develop = subprocess.Popen(  # noqa: ASYNC220 - one start, not awaited
            ["bash", "scripts/develop"],
            cwd=ROOT,
            env=self.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        output.close()
        started = time.monotonic()

        async def up() -> bool:
            if self.develop is not None and self.develop.poll() is not None:
                raise SmokeError(f"scripts/develop exited ({self.develop.returncode})")
            # Before onboarding its views answer; after it, the API with the token.
            path, headers = "/api/onboarding", {}
            if self.token:
                path, headers = "/api/", {"Authorization": f"Bearer {self.token}"}
            try:
                async with self.session.get(
                    self.base + path, headers=headers
                ) as answer:
                    return answer.status == 200
            except aiohttp.ClientError:
                return False

        await self.until(up, STEP_TIMEOUT, "Home Assistant to answer")
        say(
            f"Home Assistant is up (start {self.runs}, {time.monotonic() - started:.0f} s)"
        )

    async def stop(self) -> None:
        """Stop scripts/develop (SIGTERM: SIGINT may be ignored in background jobs), read the log."""
        develop, self.develop = self.develop, None
        if develop is None:
            return
        started = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            develop.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(develop.wait, 90)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(develop.pid, signal.SIGKILL)
            develop.wait()
            raise SmokeError("scripts/develop did not stop within 90 s") from None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(develop.pid, signal.SIGKILL)  # nothing may be left behind
        say(f"stopped (exit {develop.returncode}, {time.monotonic() - started:.0f} s)")
        ours, others = scan_log(self.config / "home-assistant.log")
        self.others += others
        if ours:
            raise SmokeError(
                "the log names the integration:\n" + "\n---\n".join(ours[:5])
            )

    async def until(
        self, check: Callable[[], Awaitable[Any]], seconds: float, what: str
    ) -> Any:
        """Poll ``check`` every second until it returns something true."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if result := await check():
                return result
            await asyncio.sleep(1)
        raise SmokeError(f"waited {seconds:.0f} s for {what}")

    # --- API ------------------------------------------------------------------

    async def api(
        self, method: str, path: str, body: Any = None, *, want: int = 200
    ) -> Any:
        """One REST call with the token; its JSON answer."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.session.request(
            method, f"{self.base}{path}", json=body, headers=headers
        ) as answer:
            text = await answer.text()
            if answer.status != want:
                raise SmokeError(f"{method} {path}: HTTP {answer.status}: {text[:500]}")
            return json.loads(text) if text else None

    async def ws(self, command: dict[str, Any]) -> dict[str, Any]:
        """One websocket command; its result message."""
        async with self.session.ws_connect(f"{self.base}/api/websocket") as socket_:
            await socket_.receive_json()  # auth_required
            await socket_.send_json({"type": "auth", "access_token": self.token})
            if (await socket_.receive_json())["type"] != "auth_ok":
                raise SmokeError("websocket authentication failed")
            await socket_.send_json({"id": 1, **command})
            while True:
                message = await socket_.receive_json(timeout=60)
                if message.get("id") == 1 and message["type"] == "result":
                    return dict(message)

    async def control(self, mode: str) -> dict[str, Any]:
        """Set the emulator's mode."""
        async with self.session.post(
            f"{self.emulator}/_control", json={"mode": mode}
        ) as answer:
            return dict(await answer.json())

    async def states(self) -> dict[str, str]:
        """The integration's sensor states by entity id."""
        found = await self.api("GET", "/api/states")
        return {
            s["entity_id"]: s["state"]
            for s in found
            if s["entity_id"].startswith(SENSOR)
        }

    async def entry_state(self) -> str:
        """The config entry's state."""
        entries = await self.api(
            "GET", f"/api/config/config_entries/entry?domain={DOMAIN}"
        )
        return str(entries[0]["state"]) if entries else "missing"

    # --- the steps ------------------------------------------------------------

    async def onboard(self) -> None:
        """All four onboarding steps over REST."""
        client_id = f"{self.base}/"
        user = await self.api(
            "POST",
            "/api/onboarding/users",
            {
                "client_id": client_id,
                "name": "Smoke Test",
                "username": "smoke",
                "password": "smoke-test-password",
                "language": "en",
            },
        )
        async with self.session.post(
            f"{self.base}/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": user["auth_code"],
                "client_id": client_id,
            },
        ) as answer:
            if answer.status != 200:
                raise SmokeError(f"/auth/token: HTTP {answer.status}")
            self.token = (await answer.json())["access_token"]
        await self.api("POST", "/api/onboarding/core_config")
        await self.api("POST", "/api/onboarding/analytics")
        await self.api(
            "POST",
            "/api/onboarding/integration",
            {"client_id": client_id, "redirect_uri": f"{client_id}?auth_callback=1"},
        )
        steps = await self.api("GET", "/api/onboarding")
        if not all(step["done"] for step in steps):
            raise SmokeError(f"onboarding not done: {steps}")
        self.ha_version = (await self.api("GET", "/api/config"))["version"]
        say(f"onboarded over REST (Home Assistant {self.ha_version})")

    async def add_entry(self) -> None:
        """The config flow: Printernizer's URL, then sharing switched on."""
        flow = await self.api(
            "POST", "/api/config/config_entries/flow", {"handler": DOMAIN}
        )
        path = f"/api/config/config_entries/flow/{flow['flow_id']}"
        step = await self.api(
            "POST", path, {"url": f"http://127.0.0.1:{self.sim_port}"}
        )
        if step.get("step_id") != "consent":
            raise SmokeError(f"URL step: {step}")
        done = await self.api("POST", path, {"share_statistics": True})
        if done.get("type") != "create_entry":
            raise SmokeError(f"consent step: {done}")
        await self.until(
            lambda: self._is(self.entry_state, "loaded"), 60, "the entry to load"
        )
        say("entry added over the config flow (simulator URL, sharing on) and loaded")

    async def _is(self, read: Callable[[], Awaitable[Any]], value: Any) -> bool:
        return bool(await read() == value)

    async def record(self) -> None:
        """Events from the bus and the action; the counters must show them."""
        job = {"printer_type": "bambu_lab", "duration_minutes": 95}
        for _ in range(2):
            await self.api(
                "POST",
                f"/api/events/{DOMAIN}_event",
                {"event_type": "job_completed", "metadata": job},
            )
        for event_type, data in (
            ("job_failed", {"printer_type": "prusa_core", "duration_minutes": "1-3h"}),
            ("file_downloaded", {"printer_type": "bambu_lab", "size_bytes": "1-10MB"}),
        ):
            await self.api(
                "POST",
                f"/api/services/{DOMAIN}/record_event",
                {"event_type": event_type, "metadata": data},
            )
        want = {
            "jobs_completed_this_week": 2,
            "jobs_failed_this_week": 1,
            "files_downloaded_this_week": 1,
        }
        started = time.monotonic()

        async def counted() -> dict[str, str] | None:
            states = await self.states()
            for key, least in want.items():
                value = states.get(SENSOR + key, "")
                if not value.isdigit() or int(value) < least:
                    return None
            return states

        states = await self.until(
            counted, COUNTER_WAIT, "the counters to show the events"
        )
        say(
            f"2 bus events and 2 record_event calls counted after"
            f" {time.monotonic() - started:.0f} s; {len(states)} sensors:"
        )
        for entity_id, state in sorted(states.items()):
            say(f"  {entity_id.removeprefix(SENSOR)} = {state}")

    async def preview(self) -> None:
        """The preview action returns the next report."""
        answer = await self.api(
            "POST", f"/api/services/{DOMAIN}/preview?return_response", {}
        )
        response = answer["service_response"]
        report = response["report"]
        if report.get("schema_version") != "1.0" or not report["installation"].get(
            "installation_id"
        ):
            raise SmokeError(f"preview: {response}")
        period = report["period"]
        say(
            f"preview: sharing {response['sharing_status']}, period"
            f" {period['start'][:10]} to {period['end'][:10]}"
        )

    async def icon(self) -> None:
        """Home Assistant 2026.3+ serves brand/icon.png as the integration's icon."""
        version = tuple(int(part) for part in self.ha_version.split(".")[:2])
        if version < (2026, 3):
            say(
                f"icon route skipped: Home Assistant {self.ha_version} has no /api/brands"
            )
            return
        async with self.session.get(
            f"{self.base}/api/brands/integration/{DOMAIN}/icon.png",
            headers={"Authorization": f"Bearer {self.token}"},
        ) as answer:
            body = await answer.read()
        ours = (ROOT / "custom_components" / DOMAIN / "brand" / "icon.png").read_bytes()
        if answer.status != 200 or body != ours:
            raise SmokeError(f"icon route: HTTP {answer.status}, {len(body)} bytes")
        say(f"icon route answers brand/icon.png byte for byte ({len(body)} bytes)")

    async def devctl(self, *args: str) -> None:
        """scripts/devctl (backdate, skip-wait) while Home Assistant is stopped."""
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "scripts/devctl.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SmokeError(f"devctl {args[0]}: {result.stdout}{result.stderr}")
        say(result.stdout.strip())

    async def reauthenticate(self) -> None:
        """Refused key -> the integration starts reauth -> dev-key -> reauth_successful."""
        await self.until(
            lambda: self._is(self.entry_state, "loaded"), 60, "the entry to load"
        )
        await self.control("refuse-key")
        result = await self.ws(
            {
                "type": "call_service",
                "domain": DOMAIN,
                "service": "submit_now",
                "service_data": {},
                "return_response": True,
            }
        )
        outcome = result.get("result") or result.get("error")
        say(f"emulator refuses the key; submit_now answered: {outcome}")

        async def reauth_flow() -> dict[str, Any] | None:
            flows = (await self.ws({"type": "config_entries/flow/progress"}))["result"]
            return next(
                (
                    f
                    for f in flows
                    if f["handler"] == DOMAIN and f["context"].get("source") == "reauth"
                ),
                None,
            )

        flow = await self.until(reauth_flow, 30, "the integration to start reauth")
        status = (await self.states()).get(SENSOR + "sharing_status")
        say(
            f"reauth flow {flow['step_id']} started by the integration; sharing status {status}"
        )
        await self.control("normal")
        await asyncio.sleep(2)  # a person reads the card before typing the key
        done = await self.api(
            "POST",
            f"/api/config/config_entries/flow/{flow['flow_id']}",
            {"api_key": "dev-key"},
        )
        if (done.get("type"), done.get("reason")) != ("abort", "reauth_successful"):
            raise SmokeError(f"reauth: {done}")
        await self.until(
            lambda: self._is(self.entry_state, "loaded"), 60, "the entry to reload"
        )

        async def recovered() -> str | None:
            state = (await self.states()).get(SENSOR + "sharing_status")
            return state if state not in (None, "failing", "unavailable") else None

        try:
            status = await self.until(recovered, 30, "sharing status to recover")
        except SmokeError:
            say(f"entry {await self.entry_state()}, sensors {await self.states()}")
            raise
        async with self.session.get(f"{self.emulator}/_control") as answer:
            received = (await answer.json())["received"]
        seen = ", ".join(
            f"{r['method']} {r['path'][:13]} {r['status']}" for r in received
        )
        say(
            f"re-authenticated with dev-key: reauth_successful; sharing status {status}"
        )
        say(f"the emulator received: {seen}")

    async def send(self) -> None:
        """After skip-wait, submit_now sends the waiting report and the service stores it."""
        await self.until(
            lambda: self._is(self.entry_state, "loaded"), 60, "the entry to load"
        )
        result = await self.ws(
            {
                "type": "call_service",
                "domain": DOMAIN,
                "service": "submit_now",
                "service_data": {},
                "return_response": True,
            }
        )
        async with self.session.get(f"{self.emulator}/_control") as answer:
            state = await answer.json()
        if state["stored_reports"] != 1:
            raise SmokeError(f"submit_now after skip-wait: {result}; emulator: {state}")
        period = state["last_report"]["period"]
        say(
            f"submit_now sent the waiting report: stored by the emulator"
            f" ({period['start'][:10]} to {period['end'][:10]})"
        )

    async def run(self) -> None:
        """All the steps, timed."""
        timer = time.monotonic()
        before = packages()
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=60)
        ) as session:
            self.session = session
            try:
                await self.start()
                await self.onboard()
                await self.add_entry()
                await self.record()
                await self.preview()
                await self.icon()
                await self.stop()
                await self.devctl("backdate", "2")
                await self.start()  # answers the API with the same user's token
                say("started again: up, same user, entry kept")
                await self.reauthenticate()
                await self.stop()
                await self.devctl("skip-wait")
                await self.start()
                await self.send()
                await self.stop()
            finally:
                if (develop := self.develop) is not None:  # failed: stop, keep the logs
                    with contextlib.suppress(ProcessLookupError):
                        develop.send_signal(signal.SIGTERM)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        await asyncio.to_thread(develop.wait, 60)
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(develop.pid, signal.SIGKILL)
                    develop.wait()
        after = packages()
        changed = sorted(
            f"{name} {before.get(name)} -> {after.get(name)}"
            for name in before.keys() | after.keys()
            if before.get(name) != after.get(name)
        )
        if changed:
            raise SmokeError(f"Home Assistant changed the venv: {', '.join(changed)}")
        say(
            f"the venv is unchanged ({len(after)} packages; pycares {after.get('pycares')})"
        )
        resolver = aiohttp.AsyncResolver()
        try:
            await resolver.resolve("localhost", 8000)
        finally:
            await resolver.close()
        say("host names still resolve (aiodns)")
        for line in sorted(set(self.others)):
            say(f"noted, not ours: {line[:160]}")
        say(f"passed in {time.monotonic() - timer:.0f} s")


def main() -> int:
    """Run in a temporary folder; keep it (and show the logs) on failure."""
    work = Path(tempfile.mkdtemp(prefix="printernizer-smoke-"))
    smoke = Smoke(work)
    try:
        asyncio.run(smoke.run())
    except (SmokeError, aiohttp.ClientError, TimeoutError, OSError) as err:
        say(f"FAILED: {err!r}" if not isinstance(err, SmokeError) else f"FAILED: {err}")
        for log in [
            *sorted(work.glob("develop-*.log")),
            smoke.config / "home-assistant.log",
        ]:
            if log.is_file():
                lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
                print(f"----- last lines of {log}", *lines[-40:], sep="\n")
        say(f"kept {work}")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
