"""Local stand-ins for Printernizer and its statistics service (development and tests)."""

from __future__ import annotations

import argparse
import ipaddress


def loopback_host(host: str) -> str:
    """Accept only loopback addresses: the stand-ins must stay on this machine."""
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{host!r} is not a loopback address")
