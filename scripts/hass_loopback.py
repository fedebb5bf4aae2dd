"""Run Home Assistant (``hass`` arguments follow) unable to reach beyond this machine.

The development instance and the smoke test configure Home Assistant for
loopback only (no ``default_config``, no cloud, no discovery, ``--skip-pip``),
but a few built-in parts still try the internet when asked: on 2026.x the
``brands`` integration fetches other integrations' icons from a CDN for the
UI. This launcher refuses, inside the process, every connection, datagram and
name lookup that would leave 127.0.0.0/8 (or ::1), before any packet is sent:

- ``socket.connect``/``connect_ex``/``sendto``/``sendmsg`` to another address;
- ``socket.getaddrinfo`` and aiodns (what aiohttp uses) for any name but the
  loopback names of ``/etc/hosts``, so no DNS query goes out either.

Each refusal is logged once per destination as a WARNING of the logger
``loopback_guard``, with ``(printernizer_stats)`` appended when the
integration's code asked for it; ``scripts/smoke`` fails on those.

    python scripts/hass_loopback.py -c config --skip-pip
"""

from __future__ import annotations

from collections.abc import Callable
import errno
import ipaddress
import logging
from pathlib import Path
import socket
import sys
import traceback
from typing import Any

_LOGGER = logging.getLogger("loopback_guard")
_INET = (socket.AF_INET, socket.AF_INET6)
_seen: set[str] = set()


def loopback_names(hosts: Path = Path("/etc/hosts")) -> set[str]:
    """Names that /etc/hosts maps to a loopback address, plus ``localhost``."""
    names = {"localhost"}
    try:
        lines = hosts.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return names
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) > 1 and is_loopback(fields[0]):
            names.update(name.lower() for name in fields[1:])
    return names


def is_loopback(host: object) -> bool:
    """``host`` is a loopback (or the unspecified, i.e. this host's) address."""
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    try:
        address = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _refuse(what: str) -> None:
    """Log one refusal per destination (naming the integration if it asked)."""
    ours = any(
        "printernizer_stats" in frame.filename for frame in traceback.extract_stack()
    )
    if what not in _seen:
        _seen.add(what)
        suffix = " (printernizer_stats)" if ours else ""
        _LOGGER.warning("refused %s: only 127.0.0.0/8 may be reached%s", what, suffix)


def _allowed_name(host: object, names: set[str]) -> bool:
    """A name or address that stays on this machine."""
    if host is None:
        return True  # getaddrinfo(None, port): the local wildcard
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    return is_loopback(host) or str(host).lower().rstrip(".") in names


def install(names: set[str] | None = None) -> None:
    """Patch the socket layer and aiodns of this process."""
    names = loopback_names() if names is None else names

    def guard_address(family: int, address: Any) -> None:
        if (
            family in _INET
            and isinstance(address, tuple)
            and not is_loopback(address[0])
        ):
            _refuse(f"a connection to {address[0]}")
            raise PermissionError(errno.EACCES, "refused by the loopback guard")

    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto
    original_sendmsg = socket.socket.sendmsg
    original_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        guard_address(self.family, address)
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard_address(self.family, address)
        return original_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        guard_address(self.family, args[-1])
        return original_sendto(self, data, *args)

    def sendmsg(self: socket.socket, buffers: Any, *args: Any) -> int:
        if len(args) >= 3 and args[2] is not None:
            guard_address(self.family, args[2])
        return original_sendmsg(self, buffers, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _allowed_name(host, names):
            _refuse(f"a name lookup of {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, "refused by the loopback guard")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[assignment]
    socket.socket.sendmsg = sendmsg  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    _guard_aiodns(names)


def _guard_aiodns(names: set[str]) -> None:
    """Refuse aiodns look-ups (pycares sends its queries from C) of outside names."""
    try:
        import aiodns  # noqa: PLC0415
        from aiodns.error import DNSError  # noqa: PLC0415
    except ImportError:
        return

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(self: Any, host: Any, *args: Any, **kwargs: Any) -> Any:
            if not _allowed_name(host, names):
                _refuse(f"a name lookup of {host!r}")
                raise DNSError(4, "refused by the loopback guard")  # ARES_ENOTFOUND
            return method(self, host, *args, **kwargs)

        return guarded

    for name in ("getaddrinfo", "gethostbyname", "query", "query_dns"):
        if (method := getattr(aiodns.DNSResolver, name, None)) is not None:
            setattr(aiodns.DNSResolver, name, wrap(method))


def main() -> int:
    """Install the guard, then run Home Assistant's own entry point."""
    install()
    from homeassistant.__main__ import main as hass_main  # noqa: PLC0415

    sys.argv[0] = "hass"
    return hass_main()


if __name__ == "__main__":
    sys.exit(main())
