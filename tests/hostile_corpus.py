"""Hostile metadata shared by the privacy tests: every item carries CANARY, so any leak is detectable."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
import math
from typing import NoReturn

from custom_components.printernizer_stats.printernizer import (
    MAX_DURATION_SECONDS,
    MAX_FILE_BYTES,
    MAX_UPTIME_SECONDS,
)

# Upper-case letters, then digit/lower-case pairs: no vocabulary word, version or
# key label can contain it, and a CamelCase error_type containing it has a digit
# followed by a lower-case letter ("7f"), which the error_type pattern refuses.
CANARY = "CANARY7f3a"
C = CANARY
# Letters only, so it fits shapes a pattern once accepted (CamelCase words
# ending in "Error", snake_case words ending in "_failed"); the sweeps look
# for it case-insensitively.
WORD_CANARY = "Qzvxkjwy"
W = WORD_CANARY


# Numbers at and beyond every bound a Printernizer value meets where it enters
# (JSON can carry all of them: 1e400 parses to inf, 10**400 stays an int).
NUMBER_EDGES: list[float | int] = [
    0,
    -0.0,
    -1,
    0.5,
    1e22,
    1e308,
    -1e308,
    10**400,
    -(10**400),
    2**63,
    2**63 - 1,
    -(2**63) - 1,
    math.inf,
    -math.inf,
    math.nan,
    MAX_DURATION_SECONDS,
    MAX_DURATION_SECONDS + 1,
    MAX_FILE_BYTES,
    MAX_FILE_BYTES + 1,
    MAX_UPTIME_SECONDS,
    MAX_UPTIME_SECONDS + 0.5,
]


class CanaryStr(str):
    """A str subclass that also shows the canary when printed."""

    __slots__ = ()

    def __repr__(self) -> str:
        """Leak on repr."""
        return CANARY

    __str__ = __repr__


class HostileStr(str):
    """A str subclass whose dunders raise, to prove only str's own code is used."""

    __slots__ = ()

    def __hash__(self) -> int:
        """Refuse to hash."""
        raise RuntimeError(CANARY)

    def __eq__(self, other: object) -> bool:
        """Refuse to compare."""
        raise RuntimeError(CANARY)

    def __len__(self) -> int:
        """Refuse to measure."""
        raise RuntimeError(CANARY)

    def strip(self, chars: str | None = None) -> str:
        """Refuse to strip."""
        raise RuntimeError(CANARY)


class CanaryEnum(StrEnum):
    """StrEnum members are accepted as str, so their values must still be refused."""

    PRINTER = f"bambu_lab_{CANARY}"
    ERROR = f"{CANARY}Error"


class CanaryInt(int):
    """An int subclass that shows the canary; numbers must be plain int or float."""

    def __repr__(self) -> str:
        """Leak on repr."""
        return CANARY

    __str__ = __repr__


class CanaryFloat(float):
    """A float subclass that shows the canary; numbers must be plain int or float."""

    def __repr__(self) -> str:
        """Leak on repr."""
        return CANARY

    __str__ = __repr__


class CanaryDecimal(Decimal):
    """A Decimal that shows the canary."""

    def __repr__(self) -> str:
        """Leak on repr."""
        return CANARY

    __str__ = __repr__


class Leaky:
    """An object whose text is the canary."""

    def __repr__(self) -> str:
        """Leak on repr."""
        return CANARY

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        """Leak on format."""
        return CANARY


class DuckNumber(Leaky):
    """Looks like a number to int()/float()/index(), but is not one."""

    def __index__(self) -> int:
        """Pretend to be 60."""
        return 60

    __int__ = __index__

    def __float__(self) -> float:
        """Pretend to be 60.0."""
        return 60.0


class DuckStr(Leaky):
    """Looks like "bambu_lab" to anything that calls str() on it."""

    def __str__(self) -> str:
        """Pretend to be a vocabulary word, with the canary attached."""
        return f"bambu_lab {CANARY}"


class ExplodingClass(Leaky):
    """isinstance() reads __class__, which raises here; type() does not."""

    @property  # type: ignore[misc]
    def __class__(self) -> NoReturn:  # type: ignore[override]
        """Raise whenever inspected."""
        raise RuntimeError(CANARY)


class Exploding(Leaky):
    """Every protocol method raises."""

    def _boom(self, *args: object) -> NoReturn:
        """Raise with the canary in the message."""
        raise RuntimeError(CANARY)

    __eq__ = __lt__ = __gt__ = __le__ = __ge__ = _boom
    __hash__ = __bool__ = __len__ = __iter__ = __index__ = __float__ = _boom
    __getattr__ = _boom


class CanaryMapping(Mapping[str, str]):
    """A read-only mapping holding the canary."""

    def __repr__(self) -> str:
        """Leak on repr."""
        return CANARY

    def __getitem__(self, key: str) -> str:
        """Always the canary."""
        return CANARY

    def __iter__(self) -> Iterator[str]:
        """One key."""
        return iter([CANARY])

    def __len__(self) -> int:
        """One key."""
        return 1


def _nested(depth: int) -> list[object]:
    """A deeply nested list with the canary at the bottom."""
    value: list[object] = [CANARY]
    for _ in range(depth):
        value = [value]
    return value


def _fullwidth(text: str) -> str:
    """The same ASCII text in full-width look-alike characters."""
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


def _self_referencing() -> list[object]:
    """A list that contains itself."""
    value: list[object] = [CANARY]
    value.append(value)
    return value


EMAILS: list[str] = [
    f"john.doe+{C}@example.com",
    f"{C}@gmail.com",
    f"user.{C}@mail.printernizer.local",
    f"mailto:{C}@example.org",
    f"Jane Doe <{C}@example.org>",
    f"{C}_jane@localhost",
    f"admin@{C}.fritz.box",
    f"contact {C}: info@printshop.de",
    f"{C}%40example.com@evil.example",
    f"o'brien.{C}@example.ie",
]
IPV4: list[str] = [
    f"192.168.1.5 {C}",
    f"{C} 10.0.0.1",
    f"{C}:172.16.254.1:8080",
    f"printer {C} 127.0.0.1",
    f"{C}0.0.0.0",
    f"255.255.255.255/{C}",
    f"host={C};ip=192.168.178.23",
    f"{C}-10.10.10.10-",
    f"192.168.001.010 {C}",
    f"8.8.8.8{C}",
]
IPV6: list[str] = [
    f"fe80::1 {C}",
    f"{C} ::1",
    f"2001:db8::ff00:42:8329 {C}",
    f"{C} [2001:db8:85a3::8a2e:370:7334]:8080",
    f"fe80::1ff:fe23:4567:890a%eth0 {C}",
    f"{C} ::ffff:192.0.2.128",
    f"2001:0db8:0000:0000:0000:ff00:0042:8329 {C}",
    f"{C}=fd00::1",
]
MACS: list[str] = [
    f"aa:bb:cc:dd:ee:ff {C}",
    f"{C} 00-1A-2B-3C-4D-5E",
    f"{C} 001a.2b3c.4d5e",
    f"mac={C};AC:DE:48:00:11:22",
    f"{C}08:00:27:53:8b:dc",
    f"B8:27:EB:12:34:56 {C}",
]
PATHS: list[str] = [
    f"/home/john/{C}.3mf",
    f"~/{C}/benchy.gcode",
    f"./{C}.stl",
    f"../{C}",
    f"C:\\Users\\{C}\\Desktop\\part.3mf",
    f"\\\\nas\\prints\\{C}",
    f"{C}\\file",
    f"D:/prints/{C}.gcode",
    f"/var/lib/printernizer/{C}",
    f"prints/{C}.3mf",
    f"{C}/",
    f"file name {C} /tmp/x",
]
URLS: list[str] = [
    f"https://example.com/{C}",
    f"http://{C}.local:8000",
    f"www.{C}.com",
    f"ftp://{C}:21/",
    f"{C} HTTPS://EXAMPLE.ORG",
    f"file:///{C}",
    f"rtsp://192.168.1.9/{C}",
    f"WWW.{C}.DE",
]
HOSTNAMES: list[str] = [
    f"{C}.local",
    f"printer-{C}.fritz.box",
    f"{C}.example.com",
    f"my-host.lan {C}",
    f"{C} octopi.local",
    f"{C}.printernizer.io.",
    f"bambu.{C}.home",
    f"{C}-x1c.internal",
]
SERIALS: list[str] = [
    f"01P00A123456789 {C}",
    f"{C} 00M09A350100123",
    f"CZPX1234X004XK12345 {C}",
    f"{C} SN12345678",
    f"{C} 01S00C123456789",
    f"serial:{C}:AB12CD34",
    f"{C} 0123456789abcdef",
    f"{C} DEADBEEFCAFE",
    f"{C} 1000000012345678",
    f"{C} PRUSA-MK4-4242CZ42",
]
SECRETS: list[str] = [
    f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.{C}",
    f"{C} eyJhbGciOiJFUzI1NiJ9",
    f"sk-{C}abc123",
    f"{C} sk-proj-0a1b2c3d",
    f"ghp_{C}",
    f"{C} gho_16C7e42F292c6912E7710c838347Ae178B4a",
    f"xoxb-{C}",
    f"Bearer {C}",
    f"{C} bearer abc",
    f"AKIAIOSFODNN7EXAMPLE {C}",
    f"{C} wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
    f"{C}_0123456789abcdefghij",
    f"api_key={C}1234567890",
    f"{C}Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5",
]
SCRUBBABLE: dict[str, list[str]] = {
    "email": EMAILS,
    "ipv4": IPV4,
    "ipv6": IPV6,
    "mac": MACS,
    "path": PATHS,
    "url": URLS,
    "hostname": HOSTNAMES,
    "serial": SERIALS,
    "secret": SECRETS,
}

FREE_TEXT: list[str] = [
    f"Print for John Smith {C}",
    f"JohnSmith {C}",
    f"John Smith's benchy {C}",
    f"Müller {C}",
    f"{C}",
    f"{C} ",
    f" {C}",
    f"{C}\n",
    f"{C}\x00",
    f"printed {C} for Anna",
    f"Hans-Peter Müller {C}",
    f"{C} 🖨️",
    f"{C}\u202emlif",
    f"bambu_lab\u200b{C}",
    _fullwidth("bambu_lab") + C,
    f"{C}\r\nX-Injected: 1",
    f"<script>{C}</script>",
    f"'; DROP TABLE events; -- {C}",
    f"${{{C}}}",
    f"{{{{ states('{C}') }}}}",
]
PLAUSIBLE: list[str] = [
    *(f"{word} {C}" for word in ("bambu_lab", "prusa_core", "octoprint", "unknown")),
    f"bambu_lab_{C}",
    f"BAMBU_LAB{C}",
    f"{C}bambu_lab",
    f"prusa_core\n{C}",
    f"printer_service {C}",
    f"mqtt.{C}",
    f"other{C}",
    f"camera/{C}",
    f"timelapse {C}",
    f"watch_folders_{C}",
    f"homeassistant {C}",
    f"docker:{C}",
    f"raspberry_pi-{C}",
    f"2.7.0+{C}",
    f"2.7.0-{C}",
    f"2.7.0 {C}",
    f"{C}2.7.0",
    f"2.7.0rc1{C}",
    f"{C}Error",
    f"{C}TimeoutError",
    f"Connection{C}Error",
    f"ConnectionTimeout{C}",
    f"X{C}Exception",
    f"{C}_error",
    f"connection_timeout_{C}",
    f"connection_{C}_timeout",
    f"TimeoutError: {C}",
    f"ConnectionRefusedError({C})",
    f"TimeoutError {C}",
    f"60 {C}",
    f"{C}60",
    f"1.5e3{C}",
    f"true {C}",
    f"{C}true",
    f"True{C}",
    f"false,{C}",
    f"0-15m {C}",
    f"24h+{C}",
    f"100MB+ {C}",
    f"7d+{C}",
]
OVERSIZED: list[str] = [
    "a" * 10_000 + C,
    C * 100_000,
    "bambu_lab" + " " * 10_000 + C,
    " " * 60 + C,
    "2.7.0" + "0" * 20 + C,
    "Connection" * 6 + C + "Error",
    "x" * 1_000_000 + C,
]
WRONG_TYPES: list[object] = [
    C.encode(),
    f"bambu_lab {C}".encode(),
    bytearray(C.encode()),
    memoryview(C.encode()),
    (C,),
    (f"bambu_lab {C}", C),
    [C],
    [f"bambu_lab {C}", C],
    {C},
    frozenset({C, f"bambu_lab{C}"}),
    {f"value_{C}": C},
    {C: f"bambu_lab {C}"},
    {f"printer_type{C}": f"bambu_lab{C}", f"note_{C}": C},
    [True, C],
    (True, C),
    [60, C],
    [float("nan"), C],
    [float("inf"), C],
    [-1, C],
    [10**100, C],
    {f"nested_{C}": {f"deeper_{C}": [C]}},
    _nested(50),
    _nested(5_000),
    _self_referencing(),
    CanaryMapping(),
    iter([C]),
    (value for value in [C]),
    CanaryStr(f"bambu_lab {C}"),
    CanaryStr(f"{C}Error"),
    CanaryStr(f"2.7.0{C}"),
    HostileStr(f"bambu_lab {C}"),
    HostileStr(f"{C}TimeoutError"),
    CanaryEnum.PRINTER,
    CanaryEnum.ERROR,
    CanaryInt(60),
    CanaryInt(0),
    CanaryInt(-1),
    CanaryInt(10**100),
    CanaryFloat(3.5),
    CanaryFloat("nan"),
    CanaryFloat("inf"),
    CanaryFloat(-1.0),
    CanaryDecimal(60),
    [Decimal(60), C],
    [Fraction(1, 3), C],
    [complex(1, 2), C],
    Leaky(),
    DuckNumber(),
    DuckStr(),
    ExplodingClass(),
    Exploding(),
    ValueError(C),
    type(f"{C}Error", (Exception,), {}),
    type(C, (), {}),
    [None, C],
    {None: C},
    slice(C),
]

# Person-shaped words in the forms error kinds take; each passed the old pattern.
ERROR_SHAPED: list[str] = [
    f"John{W}SmithError",
    f"max_mustermann_{W.lower()}_failed",
    f"alice_at_example_com_{W.lower()}_error",
    f"DrAnnaSchmidt{W}HamburgRefused",
    f"KlausDieter{W}MeierAusDemSchwarzwaldBeiFreiburgImBreisgauError"[:64],
    f"JaneDoe{W}Error",
    f"Jane{W}Exception",
    f"{W}Timeout",
    f"printer_of_anna_{W.lower()}_lost",
]
# Printernizer's own file ids carry the file name.
NAMED_IDS: list[str] = [
    f"6f261769-910d-45ab-82f7-028814ca2a69_anna_schmidt_{W.lower()}_invoice.gcode",
    f"upload_20261130_005208_john_doe_{W.lower()}.gcode",
]

HOSTILE_VALUES: list[object] = [
    *ERROR_SHAPED,
    *EMAILS,
    *IPV4,
    *IPV6,
    *MACS,
    *PATHS,
    *URLS,
    *HOSTNAMES,
    *SERIALS,
    *SECRETS,
    *FREE_TEXT,
    *PLAUSIBLE,
    *OVERSIZED,
    *WRONG_TYPES,
]

HOSTILE_KEYS: list[str] = [
    f"anna_schmidt_berlin_{W.lower()}",
    f"max_mustermann_{W.lower()}",
    f"john_smith_{W.lower()}_error",
    f"email_{C}",
    f"john.doe+{C}@example.com",
    f"C:\\{C}",
    f"/home/{C}",
    f"~/{C}",
    f"192.168.1.5_{C}",
    f"fe80::1_{C}",
    f"aa:bb:cc:dd:ee:ff_{C}",
    f"https://{C}.example.com",
    f"{C}.local",
    f"01P00A123456789_{C}",
    f"Bearer {C}",
    f"sk-{C}",
    f"{C}",
    f"printer_type_{C}",
    f"printer_type {C}",
    f"{C}printer_type",
    f"PRINTER_TYPE{C}",
    f"printer_type\x00{C}",
    f"printer_type\n{C}",
    f"duration_minutes{C}",
    f"file_name_{C}",
    f"serial_{C}",
    f"ip_address_{C}",
    f"hostname_{C}",
    f"user_{C}",
    f"John Smith {C}",
    f"{C}Error",
    f"{C} " * 3,
    f"{C}" + "k" * 10_000,
    f"error_type\u200b{C}",
    _fullwidth("printer_type") + C,
    f"{C}\t",
    f"<{C}>",
]
