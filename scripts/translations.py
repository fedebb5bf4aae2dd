"""Build translations/en.json from strings.json, resolving [%key:...%] references.

Home Assistant core resolves these references when it builds its translation
files; a custom integration ships the resolved files itself.

    python scripts/translations.py          # write translations/en.json
    python scripts/translations.py --check  # exit 1 when it is out of date
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import sys
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "printernizer_stats"
REFERENCE = re.compile(r"\[%key:component::printernizer_stats::([a-z0-9_:]+)%\]")


def resolve(strings: dict[str, Any]) -> dict[str, Any]:
    """Replace every reference by the text it points to."""

    def lookup(path: str) -> str:
        node: Any = strings
        for part in path.split("::"):
            node = node[part]
        return resolve_text(node)

    def resolve_text(text: str) -> str:
        return REFERENCE.sub(lambda match: lookup(match.group(1)), text)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        return resolve_text(node)

    return walk(strings)


def main() -> int:
    """Write or check translations/en.json."""
    strings = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
    rendered = json.dumps(resolve(strings), indent=2, ensure_ascii=False) + "\n"
    target = INTEGRATION / "translations" / "en.json"
    if "--check" in sys.argv:
        if target.read_text(encoding="utf-8") != rendered:
            print("translations/en.json is out of date: run scripts/translations.py")
            return 1
        return 0
    target.write_text(rendered, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
