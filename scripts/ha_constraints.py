"""Print the Home Assistant pin for this interpreter, or extract its package constraints.

Real installations install Home Assistant with the ``package_constraints.txt``
shipped inside its wheel; without them pip may pick versions that break it
(aiodns 3.2 with pycares 5 breaks every host-name lookup). ``scripts/setup``
uses this helper so the test and development venvs resolve the same way.

    python scripts/ha_constraints.py version requirements_test.txt
    python scripts/ha_constraints.py extract WHEEL OUTPUT
"""

from __future__ import annotations

from pathlib import Path
import sys
import zipfile

from pip._vendor.packaging.requirements import Requirement

CONSTRAINTS_MEMBER = "homeassistant/package_constraints.txt"


def pinned_version(requirements: Path) -> str:
    """The exact homeassistant version requirements_test.txt pins for this Python."""
    for line in requirements.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        if requirement.name != "homeassistant":
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        specs = list(requirement.specifier)
        if len(specs) == 1 and specs[0].operator == "==":
            return specs[0].version
    raise SystemExit(f"{requirements}: no homeassistant==X pin for this Python")


def extract(wheel: Path, output: Path) -> None:
    """Copy the wheel's package_constraints.txt to output."""
    with zipfile.ZipFile(wheel) as archive:
        output.write_bytes(archive.read(CONSTRAINTS_MEMBER))


def main(argv: list[str]) -> None:
    """Dispatch the two sub-commands."""
    if len(argv) == 3 and argv[1] == "version":
        print(pinned_version(Path(argv[2])))
    elif len(argv) == 4 and argv[1] == "extract":
        extract(Path(argv[2]), Path(argv[3]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
