"""The scrubber: a last check that a string does not look like personal or secret data.

Every word the integration keeps comes from a fixed list (vocabulary.py) or a
strict numeric form, so in normal operation this never fires; it guards the
few strings that are not list words (release numbers) and is used by the
tests to prove that no vocabulary word looks sensitive.
"""

from __future__ import annotations

from collections.abc import Callable
import ipaddress
import re
from typing import Final

_VERSION_LIKE_RE: Final = re.compile(
    r"[0-9]{1,3}\.[0-9]{1,3}(?:\.[0-9]{1,4})?(?:[.-]?(?:a|b|rc|dev|alpha|beta)[0-9]{0,3})?"
)
_EMAIL_RE: Final = re.compile(r"[\w.%+-]@[\w-]")
_URL_RE: Final = re.compile(r"://|\bwww\.", re.IGNORECASE)
_MAC_RE: Final = re.compile(
    r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"
)
# A whole run of hex digits, colons and dots; ipaddress decides if it is IPv6.
_IPV6_CANDIDATE_RE: Final = re.compile(
    r"(?<![0-9A-Za-z.:])[0-9A-Fa-f.:]{2,}+(?![0-9A-Za-z])"
)
_OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])"
_IPV4_RE: Final = re.compile(rf"(?<![0-9]){_OCTET}(?:\.{_OCTET}){{3}}(?![0-9])")
_PATH_RE: Final = re.compile(r"\\|/[^\s/]|[\w.~-]/")
_HOSTNAME_RE: Final = re.compile(r"[A-Za-z0-9-]\.[A-Za-z]{2,24}(?![A-Za-z0-9-])")
_SECRET_PREFIX_RE: Final = re.compile(
    r"\beyJ[A-Za-z0-9_-]{4,}|\bsk-[A-Za-z0-9]|\bgh[pousr]_[A-Za-z0-9]|\bxox[a-z]-"
    r"|\b(?i:bearer)\s|\bAKIA[0-9A-Z]{12,}"
)
_TOKEN_RUN_RE: Final = re.compile(r"[A-Za-z0-9_+/=-]{20,}")
_ALNUM_RUN_RE: Final = re.compile(r"[A-Za-z0-9]{8,}")
_HEX_RUN_RE: Final = re.compile(r"[0-9A-Fa-f]{12,}")


def _ipv6_in(value: str) -> bool:
    """Confirm IPv6 candidates with ipaddress, so times and MAC-like runs are not mistaken."""
    for match in _IPV6_CANDIDATE_RE.finditer(value):
        candidate = match.group().strip(".")
        if candidate.count(":") < 2 or not candidate.strip(":"):
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        return True
    return False


def _hostname_in(value: str) -> bool:
    """A dotted name ending in an alphabetic label; a release like 1.2.beta is not one."""
    return (
        _HOSTNAME_RE.search(value) is not None
        and _VERSION_LIKE_RE.fullmatch(value) is None
    )


def _secret_in(value: str) -> bool:
    """Known token prefixes, or a long run that mixes letters and digits like a key."""
    if _SECRET_PREFIX_RE.search(value):
        return True
    for match in _TOKEN_RUN_RE.finditer(value):
        run = match.group()
        if any(char.isdigit() for char in run) and any(char.isalpha() for char in run):
            return True
    return False


def _serial_in(value: str) -> bool:
    """Device serials mix at least four digits into a letter run, or are long hex."""
    for match in _ALNUM_RUN_RE.finditer(value):
        run = match.group()
        digits = sum(char.isdigit() for char in run)
        if 4 <= digits < len(run):
            return True
    return _HEX_RUN_RE.search(value) is not None


_SCRUBBERS: Final[tuple[tuple[str, Callable[[str], bool]], ...]] = (
    ("email", lambda value: _EMAIL_RE.search(value) is not None),
    ("url", lambda value: _URL_RE.search(value) is not None),
    ("mac", lambda value: _MAC_RE.search(value) is not None),
    ("ipv6", _ipv6_in),
    ("ipv4", lambda value: _IPV4_RE.search(value) is not None),
    ("path", lambda value: _PATH_RE.search(value) is not None),
    ("secret", _secret_in),
    ("hostname", _hostname_in),
    ("serial", _serial_in),
)


def sensitive_category(value: str) -> str | None:
    """The scrubber: the category name ("email", "ipv4", "ipv6", "mac", "url", "path", "hostname", "serial", "secret") if value looks sensitive, else None."""
    for category, looks_sensitive in _SCRUBBERS:
        if looks_sensitive(value):
            return category
    return None
