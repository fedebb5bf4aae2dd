"""Fail when any module of the integration is below the coverage floor.

The total in setup.cfg could hide one poorly tested module behind many
well tested ones; this checks each file on its own.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys

FLOOR = 95.0


def main() -> int:
    """Read coverage's JSON report and list the modules below FLOOR."""
    report = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    low = {
        name: data["summary"]["percent_covered"]
        for name, data in report["files"].items()
        if data["summary"]["percent_covered"] < FLOOR
    }
    for name, percent in sorted(low.items()):
        print(f"coverage: {name} is at {percent:.1f}% (floor {FLOOR:.0f}%)")
    if not low:
        print(f"coverage: every module is at or above {FLOOR:.0f}%")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
