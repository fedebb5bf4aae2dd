"""Steer the development instance: the emulator's answers, and the consent day.

    scripts/devctl refuse-key     the emulator answers 401 "Invalid API key" to every key
    scripts/devctl rate-limit     ... 429, as when an installation's hourly window is full
    scripts/devctl fail 503       ... that 5xx status to every submit and erase
    scripts/devctl normal         back to the real service's behaviour
    scripts/devctl status         the mode, the reports stored, the last requests
    scripts/devctl backdate N     (Home Assistant stopped) move the entry's consent
                                  N days back, so whole days are there to send
    scripts/devctl skip-wait      (Home Assistant stopped) forget the last request and
                                  any wait, so submit_now may send at once (the
                                  integration sends at most once an hour)

EMULATOR_PORT (8001) and HASS_CONFIG (config) as for scripts/develop.
Standard library only: runs with any python3.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
import errno
import fcntl
import json
import os
from pathlib import Path
import socket
import sys
from typing import Any
import urllib.error
import urllib.request

DOMAIN = "printernizer_stats"
MODES = {"refuse-key": 0, "rate-limit": 0, "fail": 1, "normal": 0}


def _emulator(body: dict[str, Any] | None = None) -> dict[str, Any]:
    """GET (or POST ``body`` to) the emulator's /_control."""
    port = os.environ.get("EMULATOR_PORT", "8001")
    url = f"http://127.0.0.1:{port}/_control"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return dict(json.loads(answer.read()))
    except urllib.error.HTTPError as err:
        detail = json.loads(err.read() or b"{}").get("detail", err.reason)
        raise SystemExit(f"devctl: the emulator refused: {detail}") from err
    except OSError as err:
        raise SystemExit(
            f"devctl: no emulator with controls at {url} ({err}); is scripts/develop running?"
        ) from err


def show(state: dict[str, Any]) -> None:
    """Print the emulator's state the way a person reads it."""
    mode = state["mode"] + (
        f" {state['fail_status']}" if state.get("fail_status") else ""
    )
    print(f"emulator mode: {mode}")
    print(f"reports stored: {state['stored_reports']}")
    if report := state.get("last_report"):
        period, usage = report.get("period", {}), report.get("usage_stats", {})
        print(
            f"last report: {period.get('start')} to {period.get('end')},"
            f" job_count {usage.get('job_count')},"
            f" installation {report.get('installation', {}).get('installation_id')}"
        )
    if state.get("deleted_ids"):
        print(f"erased installations: {', '.join(state['deleted_ids'])}")
    received = state.get("received", [])
    print(
        f"last {min(len(received), 10)} of the requests received:"
        if received
        else "no requests yet"
    )
    for entry in received[-10:]:
        status = entry["status"] or "connection reset"
        print(f"  {entry['at']}  {entry['method']:6} {entry['path']}  -> {status}")


def _http_port(config: Path) -> int:
    """The port Home Assistant listens on, from its settings (8123 if none)."""
    try:
        stored = json.loads((config / ".storage/http").read_text(encoding="utf-8"))
        return int(stored["data"]["stable"]["server_port"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        for line in (
            (config / "packages/http.yaml").read_text(encoding="utf-8").splitlines()
        ):
            if line.strip().startswith("server_port:"):
                return int(line.split(":", 1)[1])
    except (OSError, ValueError):
        pass
    return 8123


def running(config: Path) -> str | None:
    """Why Home Assistant looks like it is running on ``config`` (None: it is not)."""
    pid_file = config / ".develop.pid"
    try:
        pid = int(pid_file.read_text(encoding="utf-8"))
        os.kill(pid, 0)
    except (OSError, ValueError):
        pass
    else:
        return f"process {pid} from {pid_file} is running"
    lock = config / ".ha_run.lock"  # Home Assistant 2026.x holds it while running
    if lock.exists():
        with lock.open("a") as file:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                if err.errno in (errno.EAGAIN, errno.EACCES):
                    return f"{lock} is locked"
                raise
            fcntl.flock(file, fcntl.LOCK_UN)
    port = _http_port(config)
    with socket.socket() as probe:
        probe.settimeout(1)
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return f"something listens on 127.0.0.1:{port}"
    return None


def _write_json(path: Path, content: dict[str, Any]) -> None:
    """Replace a storage file atomically, keeping its mode."""
    temporary = path.with_name(path.name + ".devctl")
    temporary.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    os.chmod(temporary, path.stat().st_mode & 0o777)
    os.replace(temporary, path)


def backdate(config: Path, days: int) -> str:
    """Move the entry's consent_day (and the installation's first day) ``days`` back."""
    if days < 1:
        raise SystemExit("devctl: backdate needs a number of days >= 1")
    if why := running(config):
        raise SystemExit(
            f"devctl: stop Home Assistant first ({why}); it rewrites the entries"
        )
    path = config / ".storage/core.config_entries"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SystemExit(
            f"devctl: {path} is missing: onboard and add the integration first"
        ) from err
    entries = [e for e in stored["data"]["entries"] if e.get("domain") == DOMAIN]
    if not entries:
        raise SystemExit(
            f"devctl: no {DOMAIN} entry in {path}: add the integration first"
        )
    options = entries[0].setdefault("options", {})
    if not options.get("consent_day") or not options.get("share_statistics"):
        raise SystemExit(
            "devctl: the entry does not share statistics: switch sharing on first"
        )
    old = date.fromisoformat(options["consent_day"])
    new = old - timedelta(days=days)
    options["consent_day"] = new.isoformat()
    _write_json(path, stored)
    # The installation's first day follows the consent (the day after it).
    statistics = config / f".storage/{DOMAIN}"
    if statistics.is_file():
        content = json.loads(statistics.read_text(encoding="utf-8"))
        delivery = content.get("data", {}).get("delivery", {})
        if isinstance(delivery.get("first_seen"), str):
            first = date.fromisoformat(delivery["first_seen"]) - timedelta(days=days)
            delivery["first_seen"] = first.isoformat()
            _write_json(statistics, content)
    today = date.today()
    whole = (today - (new + timedelta(days=1))).days
    sendable = (
        f"submit_now can send {whole} whole day(s), {new + timedelta(days=1)} to {today - timedelta(days=1)}"
        if whole > 0
        else "still no whole day to send: backdate at least 2 days"
    )
    return f"consent_day {old} -> {new}: {sendable}; start Home Assistant again"


def _statistics(config: Path) -> tuple[Path, dict[str, Any]]:
    """The integration's storage file and its content (Home Assistant stopped)."""
    if why := running(config):
        raise SystemExit(
            f"devctl: stop Home Assistant first ({why}); it rewrites its files"
        )
    path = config / f".storage/{DOMAIN}"
    try:
        return path, json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SystemExit(
            f"devctl: {path} is missing: add the integration first"
        ) from err


def skip_wait(config: Path) -> str:
    """Forget the last request and any wait the service asked for."""
    path, content = _statistics(config)
    delivery = content.get("data", {}).get("delivery", {})
    forgot = [k for k in ("last_request", "not_before") if delivery.get(k)]
    for key in forgot:
        delivery[key] = None
    now = datetime.now(UTC).replace(second=0, microsecond=0).isoformat()
    if isinstance(delivery.get("pending"), dict):
        delivery["pending"]["next_attempt"] = now
        forgot.append("the pending report's next attempt (now)")
    _write_json(path, content)
    done = ", ".join(forgot) or "nothing was waiting"
    return f"forgot {done}: submit_now may send at once; start Home Assistant again"


def main(argv: list[str]) -> int:
    """Dispatch one command."""
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    command, args = argv[1], argv[2:]
    if command == "status" and not args:
        show(_emulator())
    elif command in MODES and len(args) == MODES[command]:
        order: dict[str, Any] = {"mode": command}
        if args:
            if not args[0].isdigit():
                raise SystemExit(
                    "devctl: fail needs a status, for example: scripts/devctl fail 503"
                )
            order["status"] = int(args[0])
        show(_emulator(order))
    elif command == "skip-wait" and not args:
        print(f"devctl: {skip_wait(Path(os.environ.get('HASS_CONFIG', 'config')))}")
    elif command == "backdate" and len(args) == 1 and args[0].isdigit():
        print(
            f"devctl: {backdate(Path(os.environ.get('HASS_CONFIG', 'config')), int(args[0]))}"
        )
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
