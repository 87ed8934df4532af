"""The dependency direction of DESIGN.md: kernel ← subscribers ← campaigns ← shell."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

SHELL = ("newsletter/cli", "newsletter/web")
FORBIDDEN = {
    "newsletter": ("subscribers", "campaigns"),
    "subscribers": ("campaigns",),
    "campaigns": (),
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_packages_only_import_downwards() -> None:
    offences = []
    for package, forbidden in FORBIDDEN.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(SHELL):
                continue
            for name in imported_packages(path) & set(forbidden):
                offences.append(f"{relative} imports {name}")
    assert offences == []


def test_nothing_reads_the_environment_but_config() -> None:
    offenders = [
        path.relative_to(ROOT).as_posix()
        for package in FORBIDDEN
        for path in (ROOT / package).rglob("*.py")
        if (
            path != ROOT / "newsletter" / "config.py"
            and "os.environ" in path.read_text(encoding="utf-8")
        )
        or "getenv(" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
