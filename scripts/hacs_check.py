"""Run the HACS validator's checks that need no network, on this checkout.

HACS's validate action (hacs/action, the checks of hacs/integration's
``custom_components/hacs/validate/``) runs every check against GitHub. These are
the ones that only read the repository's files, done the same way here:

- ``hacsjson``: ``hacs.json`` at the root, only the keys HACS's schema allows,
  each of its type, ``name`` present; ``zip_release`` needs ``filename``.
- ``structure``: exactly one integration folder under ``custom_components/``
  (HACS installs the first one it finds), with a ``manifest.json``.
- ``integration_manifest``: ``manifest.json`` has ``domain`` (the folder's
  name), ``documentation`` and ``issue_tracker`` (http(s) URLs),
  ``codeowners`` (a list), ``name`` and ``version`` (a version number).
- ``information``: a ``README``/``README.md`` (or ``info``/``info.md``) at the root.
- ``brands``: ``custom_components/<domain>/brand/icon.png`` (a PNG); HACS
  accepts these local brand images without asking the brands repository.
- ``license``: a ``LICENSE`` file that GitHub's licence detection recognises as
  an open-source licence: here, the Apache License 2.0 text, word for word
  apart from the appendix's copyright line.
- ``core_domain_override`` (offline stand-in): the domain is not the domain of
  an integration shipped with the installed Home Assistant.

Left to the online action: ``archived``, ``description``, ``topics``,
``issues`` (repository settings on GitHub), the full core-domain list of the
next Home Assistant release, and ``images`` (plugins and themes only).

    python scripts/hacs_check.py [REPOSITORY]   # prints one line per check
"""

from __future__ import annotations

from collections.abc import Callable
import hashlib
import importlib.util
import json
from pathlib import Path
import re
import sys
from typing import Any
from urllib.parse import urlparse

# hacs/integration custom_components/hacs/utils/validate.py HACS_MANIFEST_JSON_SCHEMA
HACS_JSON_KEYS: dict[str, type | tuple[type, ...]] = {
    "content_in_root": bool,
    "country": (str, list),
    "filename": str,
    "hacs": str,
    "hide_default_branch": bool,
    "homeassistant": str,
    "persistent_directory": str,
    "render_readme": bool,
    "zip_release": bool,
    "name": str,
}
MANIFEST_KEYS = (
    "domain",
    "documentation",
    "issue_tracker",
    "codeowners",
    "name",
    "version",
)
VERSION = re.compile(r"^v?\d+(\.\d+)*([.+-]?[0-9A-Za-z]+)*$")
INFORMATION_FILES = ("readme", "readme.md", "info", "info.md")
# SHA-256 of the Apache License 2.0 as apache.org publishes it (LICENSE-2.0.txt).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
APPENDIX_COPYRIGHT = re.compile(r"^   Copyright .+$", re.MULTILINE)
TEMPLATE_COPYRIGHT = "   Copyright [yyyy] [name of copyright owner]"


class CheckError(Exception):
    """One check failed; the message says why."""


def _json(path: Path) -> dict[str, Any]:
    """A JSON object from a file, or a CheckError."""
    if not path.is_file():
        raise CheckError(f"{path.name} is missing")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise CheckError(f"{path.name} is not valid JSON: {err}") from err
    if not isinstance(content, dict):
        raise CheckError(f"{path.name} is not a JSON object")
    return content


def _integration(root: Path) -> Path:
    """The one integration folder under custom_components/."""
    base = root / "custom_components"
    folders = (
        sorted(
            p
            for p in base.iterdir()
            if p.is_dir() and not p.name.startswith(("_", "."))
        )
        if base.is_dir()
        else []
    )
    if len(folders) != 1:
        names = ", ".join(p.name for p in folders) or "none"
        raise CheckError(
            f"want exactly one folder in custom_components/, found {names}"
        )
    return folders[0]


def check_hacsjson(root: Path) -> str:
    """hacs.json: allowed keys, their types, a name."""
    content = _json(root / "hacs.json")
    unknown = sorted(set(content) - set(HACS_JSON_KEYS))
    if unknown:
        raise CheckError(
            f"hacs.json has keys HACS does not allow: {', '.join(unknown)}"
        )
    for key, kind in HACS_JSON_KEYS.items():
        if key in content and not isinstance(content[key], kind):
            raise CheckError(f"hacs.json: {key} has the wrong type")
    if not content.get("name"):
        raise CheckError("hacs.json has no name")
    if content.get("zip_release") and not content.get("filename"):
        raise CheckError("hacs.json: zip_release is true, but filename is not set")
    if "homeassistant" in content and not VERSION.match(content["homeassistant"]):
        raise CheckError("hacs.json: homeassistant is not a version")
    return f"name {content['name']!r}"


def check_structure(root: Path) -> str:
    """One integration under custom_components/, with a manifest."""
    folder = _integration(root)
    if not (folder / "manifest.json").is_file():
        raise CheckError(f"custom_components/{folder.name}/manifest.json is missing")
    return f"custom_components/{folder.name}"


def check_integration_manifest(root: Path) -> str:
    """manifest.json has what HACS and Home Assistant's loader require."""
    folder = _integration(root)
    manifest = _json(folder / "manifest.json")
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        raise CheckError(f"manifest.json lacks {', '.join(missing)}")
    if manifest["domain"] != folder.name:
        raise CheckError(
            f"manifest.json domain {manifest['domain']!r} is not the folder's name"
        )
    for key in ("documentation", "issue_tracker"):
        url = urlparse(str(manifest[key]))
        if url.scheme not in ("http", "https") or not url.netloc:
            raise CheckError(f"manifest.json {key} is not a URL")
    if not isinstance(manifest["codeowners"], list):
        raise CheckError("manifest.json codeowners is not a list")
    if not isinstance(manifest["name"], str) or not manifest["name"]:
        raise CheckError("manifest.json name is empty")
    if not isinstance(manifest["version"], str) or not VERSION.match(
        manifest["version"]
    ):
        raise CheckError("manifest.json version is not a version number")
    return f"domain {manifest['domain']}, version {manifest['version']}"


def check_information(root: Path) -> str:
    """A README (or info) file at the root."""
    names = {p.name.lower(): p.name for p in root.iterdir() if p.is_file()}
    for name in INFORMATION_FILES:
        if name in names:
            return names[name]
    raise CheckError("no README.md or info.md at the root")


def check_brands(root: Path) -> str:
    """Local brand images: brand/icon.png inside the integration."""
    icon = _integration(root) / "brand" / "icon.png"
    if not icon.is_file():
        raise CheckError(f"{icon.relative_to(root)} is missing")
    if icon.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        raise CheckError(f"{icon.relative_to(root)} is not a PNG")
    return str(icon.relative_to(root))


def check_license(root: Path) -> str:
    """LICENSE is the Apache License 2.0 text (copyright line filled in)."""
    path = root / "LICENSE"
    if not path.is_file():
        raise CheckError("LICENSE is missing")
    text = path.read_text(encoding="utf-8")
    lines = APPENDIX_COPYRIGHT.findall(text)
    if len(lines) != 1:
        raise CheckError("LICENSE: want one copyright line in the appendix")
    canonical = APPENDIX_COPYRIGHT.sub(TEMPLATE_COPYRIGHT, text)
    if hashlib.sha256(canonical.encode()).hexdigest() != APACHE_2_SHA256:
        raise CheckError("LICENSE is not the Apache License 2.0 text")
    return f"Apache-2.0, {lines[0].strip()}"


def check_core_domain_override(root: Path) -> str:
    """The domain is not one of Home Assistant's own integrations."""
    domain = _integration(root).name
    spec = importlib.util.find_spec("homeassistant.components")
    if spec is None or not spec.submodule_search_locations:
        return "skipped: Home Assistant is not installed here"
    if (Path(spec.submodule_search_locations[0]) / domain).exists():
        raise CheckError(f"{domain} is a Home Assistant core integration")
    return f"{domain} is not a core domain"


CHECKS: tuple[tuple[str, Callable[[Path], str]], ...] = (
    ("hacsjson", check_hacsjson),
    ("structure", check_structure),
    ("integration_manifest", check_integration_manifest),
    ("information", check_information),
    ("brands", check_brands),
    ("license", check_license),
    ("core_domain_override", check_core_domain_override),
)


def run(root: Path) -> dict[str, str | None]:
    """Run every check; map its name to the reason it failed (None: passed)."""
    results: dict[str, str | None] = {}
    for name, check in CHECKS:
        try:
            detail = check(root)
        except CheckError as err:
            results[name] = str(err)
            print(f"hacs_check: {name}: FAILED: {err}")
        else:
            results[name] = None
            print(f"hacs_check: {name}: ok ({detail})")
    return results


def main(argv: list[str]) -> int:
    """Check the repository given (default: this checkout)."""
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1]
    failed = [name for name, error in run(root).items() if error is not None]
    if failed:
        print(f"hacs_check: {len(failed)} of {len(CHECKS)} checks FAILED")
        return 1
    print(f"hacs_check: all {len(CHECKS)} offline checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
