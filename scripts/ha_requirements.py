"""Print the Python packages a Home Assistant configuration needs and this venv lacks.

``scripts/develop`` and ``scripts/smoke`` run Home Assistant with
``--skip-pip``: it then never installs or upgrades a package at run time (left
to itself it upgrades what the onboarding's Radio Browser needs, pycares among
them, past the versions ``scripts/setup`` pinned, and every host name stops
resolving). Instead, this lists what Home Assistant would have installed for
the integrations the configuration loads (the defaults of ``bootstrap.py``,
the configuration's top-level keys, the custom integrations, and all their
``dependencies``), so that the scripts install it beforehand with Home
Assistant's own package constraints.

    python scripts/ha_requirements.py CONFIG_DIR   # one requirement a line
"""

from __future__ import annotations

from importlib import metadata
import json
from pathlib import Path
import re
import sys

from homeassistant import bootstrap, components
from packaging.requirements import InvalidRequirement, Requirement

TOP_LEVEL_KEY = re.compile(r"^([a-z0-9_]+)(?: [^:]*)?:", re.MULTILINE)


def configured_domains(config_dir: Path) -> set[str]:
    """The domains Home Assistant sets up at start for this configuration."""
    # Stage 0 and 1 domains (isal, sentry, cloud, ...) start only when configured.
    domains = set(bootstrap.CORE_INTEGRATIONS) | set(bootstrap.DEFAULT_INTEGRATIONS)
    text = (config_dir / "configuration.yaml").read_text(encoding="utf-8")
    domains |= set(TOP_LEVEL_KEY.findall(text))
    custom = config_dir / "custom_components"
    if custom.is_dir():
        domains |= {p.parent.name for p in custom.glob("*/manifest.json")}
    return domains


def _manifest(domain: str, config_dir: Path) -> dict[str, object] | None:
    """The manifest of a custom or built-in integration (None: no such integration)."""
    for base in (config_dir / "custom_components", Path(components.__path__[0])):
        path = base / domain / "manifest.json"
        if path.is_file():
            return dict(json.loads(path.read_text(encoding="utf-8")))
    return None


def requirements(config_dir: Path) -> list[str]:
    """Requirements of the configured integrations and all their dependencies."""
    todo, done, found = sorted(configured_domains(config_dir)), set(), []
    while todo:
        domain = todo.pop()
        if domain in done:
            continue
        done.add(domain)
        manifest = _manifest(domain, config_dir)
        if manifest is None:
            continue  # not an integration: Home Assistant reports it, nothing to install
        found += [str(r) for r in manifest.get("requirements", [])]  # type: ignore[attr-defined]
        todo += [str(d) for d in manifest.get("dependencies", [])]  # type: ignore[attr-defined]
    return sorted(set(found))


def satisfied(requirement: str) -> bool:
    """The venv already has a version that fits."""
    try:
        parsed = Requirement(requirement)
    except InvalidRequirement:
        return False
    if parsed.marker is not None and not parsed.marker.evaluate():
        return True
    try:
        installed = metadata.version(parsed.name)
    except metadata.PackageNotFoundError:
        return False
    return parsed.specifier.contains(installed, prereleases=True)


def main(argv: list[str]) -> int:
    """Print the missing requirements, one a line."""
    if len(argv) != 2:
        raise SystemExit(__doc__)
    for requirement in requirements(Path(argv[1])):
        if not satisfied(requirement):
            print(requirement)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
