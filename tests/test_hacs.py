"""The repository passes HACS's offline checks, and each check catches what it should."""

from __future__ import annotations

from collections.abc import Callable
import importlib.util
import json
from pathlib import Path
import shutil
import sys
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "hacs_check", ROOT / "scripts/hacs_check.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["hacs_check"] = module
    spec.loader.exec_module(module)
    return module


hacs_check = _load()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the files HACS reads."""
    for name in ("hacs.json", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tmp_path / name)
    target = tmp_path / "custom_components/printernizer_stats"
    target.mkdir(parents=True)
    source = ROOT / "custom_components/printernizer_stats"
    shutil.copy(source / "manifest.json", target / "manifest.json")
    shutil.copytree(source / "brand", target / "brand")
    return tmp_path


def _edit_json(path: Path, change: Callable[[dict[str, object]], None]) -> None:
    content = json.loads(path.read_text(encoding="utf-8"))
    change(content)
    path.write_text(json.dumps(content), encoding="utf-8")


def test_repository_passes_every_offline_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The checkout itself: all checks pass."""
    assert hacs_check.main(["hacs_check.py", str(ROOT)]) == 0
    out = capsys.readouterr().out
    assert f"all {len(hacs_check.CHECKS)} offline checks passed" in out


def test_license_is_apache_2() -> None:
    """LICENSE is Apache 2.0 with the project's copyright line; the README says so."""
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Copyright 2026 The Printernizer Usage Statistics authors" in text
    assert hacs_check.check_license(ROOT).startswith("Apache-2.0")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    licence = readme.split("## Licence")[1]
    assert "Apache License 2.0" in licence
    assert "LICENSE" in licence


def _drop_key(key: str) -> Callable[[dict[str, object]], None]:
    return lambda content: content.pop(key)


def _set(key: str, value: object) -> Callable[[dict[str, object]], None]:
    return lambda content: content.__setitem__(key, value)


@pytest.mark.parametrize(
    ("check", "file", "change", "reason"),
    [
        ("hacsjson", "hacs.json", _drop_key("name"), "no name"),
        ("hacsjson", "hacs.json", _set("domains", ["sensor"]), "not allow: domains"),
        ("hacsjson", "hacs.json", _set("render_readme", "yes"), "wrong type"),
        ("hacsjson", "hacs.json", _set("zip_release", True), "filename is not set"),
        ("integration_manifest", "manifest.json", _drop_key("issue_tracker"), "lacks"),
        (
            "integration_manifest",
            "manifest.json",
            _drop_key("version"),
            "lacks version",
        ),
        ("integration_manifest", "manifest.json", _set("documentation", "docs"), "URL"),
        ("integration_manifest", "manifest.json", _set("codeowners", "@x"), "list"),
        ("integration_manifest", "manifest.json", _set("domain", "other"), "folder"),
        ("integration_manifest", "manifest.json", _set("version", "one"), "version"),
    ],
)
def test_json_checks_catch_mistakes(
    repo: Path,
    check: str,
    file: str,
    change: Callable[[dict[str, object]], None],
    reason: str,
) -> None:
    """Each broken field fails its check, and only that check."""
    path = repo / file
    if file == "manifest.json":
        path = repo / "custom_components/printernizer_stats/manifest.json"
    _edit_json(path, change)
    results = hacs_check.run(repo)
    assert reason in (results[check] or "")
    assert [name for name, error in results.items() if error] == [check]


def test_file_checks_catch_mistakes(repo: Path) -> None:
    """Missing files, a second integration and a changed licence text all fail."""
    assert not any(hacs_check.run(repo).values())
    (repo / "README.md").rename(repo / "NOTES.md")
    (repo / "custom_components/printernizer_stats/brand/icon.png").unlink()
    license_text = (repo / "LICENSE").read_text(encoding="utf-8")
    (repo / "LICENSE").write_text(license_text.replace("irrevocable", "revocable"))
    results = hacs_check.run(repo)
    assert results["information"] == "no README.md or info.md at the root"
    assert "brand/icon.png is missing" in (results["brands"] or "")
    assert results["license"] == "LICENSE is not the Apache License 2.0 text"
    (repo / "LICENSE").unlink()
    assert hacs_check.run(repo)["license"] == "LICENSE is missing"
    (repo / "custom_components/second").mkdir()
    results = hacs_check.run(repo)
    assert "found printernizer_stats, second" in (results["structure"] or "")
    assert hacs_check.main(["hacs_check.py", str(repo)]) == 1


def test_core_domain_is_refused(repo: Path) -> None:
    """A folder named like a core integration fails the domain check."""
    (repo / "custom_components/printernizer_stats").rename(
        repo / "custom_components/sun"
    )
    results = hacs_check.run(repo)
    assert results["core_domain_override"] == "sun is a Home Assistant core integration"


def test_workflows_use_node_24_actions() -> None:
    """checkout@v5 and setup-python@v6 (Node 24); HACS and hassfest validate on push."""
    workflows = ROOT / ".github/workflows"
    uses = {
        line.split("uses:", 1)[1].strip()
        for path in workflows.glob("*.yaml")
        for line in path.read_text(encoding="utf-8").splitlines()
        if "uses:" in line
    }
    assert "actions/checkout@v5" in uses
    assert "actions/setup-python@v6" in uses
    assert {"hacs/action@main", "home-assistant/actions/hassfest@master"} <= uses
    assert not [
        u
        for u in uses
        if u.startswith(("actions/checkout@v4", "actions/setup-python@v5"))
    ]
