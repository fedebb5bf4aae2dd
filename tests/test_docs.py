"""The README and the translations must say what the code does."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

import pytest

from custom_components.printernizer_stats.privacy import describe_allowlist

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "printernizer_stats"


def _keys(node: Any, prefix: str = "") -> set[str]:
    """Every leaf path of a translation file."""
    if not isinstance(node, dict):
        return {prefix}
    return {
        path for key, value in node.items() for path in _keys(value, f"{prefix}/{key}")
    }


def test_readme_allowlist_matches_code() -> None:
    """The README's "What we collect" list is the allowlist, word for word."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"<!-- allowlist:start -->\n(.*?)\n<!-- allowlist:end -->", readme, re.DOTALL
    )
    assert block is not None
    assert block.group(1).splitlines() == describe_allowlist()


def test_english_translation_is_resolved_strings() -> None:
    """translations/en.json is strings.json with every reference resolved."""
    strings = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
    english = json.loads(
        (INTEGRATION / "translations" / "en.json").read_text(encoding="utf-8")
    )
    assert _keys(english) == _keys(strings)
    assert "[%key:" not in json.dumps(english)


@pytest.mark.parametrize("language", ["de"])
def test_translation_has_every_key(language: str) -> None:
    """Other languages translate exactly the keys English has, placeholders included."""
    english = json.loads(
        (INTEGRATION / "translations" / "en.json").read_text(encoding="utf-8")
    )
    other = json.loads(
        (INTEGRATION / "translations" / f"{language}.json").read_text(encoding="utf-8")
    )
    assert _keys(other) == _keys(english)

    def placeholders(node: Any) -> dict[str, set[str]]:
        flat: dict[str, set[str]] = {}

        def walk(value: Any, path: str) -> None:
            if isinstance(value, dict):
                for key, child in value.items():
                    walk(child, f"{path}/{key}")
            else:
                flat[path] = set(re.findall(r"\{(\w+)\}", value))

        walk(node, "")
        return flat

    assert placeholders(other) == placeholders(english)
