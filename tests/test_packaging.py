"""The package depends on what its code imports, not on what the dev extras happen to bring.

The whole proof is `.ci/plain-install` (the wheel alone in a fresh venv runs `demo` and
`serve`); this test catches the same class of defect in seconds, on any machine: every
third-party module the three packages import must come from a distribution reachable from
the package's own requirements, without the ``dev`` extra.
"""

from __future__ import annotations

import ast
import sys
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("newsletter", "subscribers", "campaigns")
# Imports whose distribution needs an optional part of itself: the module, the distribution
# that must then be installed. SQLAlchemy's asyncio extension runs on greenlet, which
# `sqlalchemy` alone does not install (`newsletter serve` failed on a plain install).
NEEDS = {"sqlalchemy.ext.asyncio": "greenlet"}


def _imported_modules() -> set[str]:
    found: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module)
    return found


def _closure(name: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """The distributions ``name`` (with ``extras``) installs, itself included, normalised."""
    seen: set[str] = set()
    pending: list[tuple[str, frozenset[str]]] = [(name, extras)]
    while pending:
        current, wanted = pending.pop()
        try:
            dist = distribution(current)
        except PackageNotFoundError:
            continue
        key = _norm(dist.metadata["Name"])
        if key in seen and not wanted:
            continue
        seen.add(key)
        for line in dist.requires or []:
            req = Requirement(line)
            environments = [{"extra": extra} for extra in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in environments):
                pending.append((req.name, frozenset(req.extras)))
    return seen


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_every_imported_module_comes_from_a_runtime_dependency() -> None:
    runtime = _closure("newsletter")
    assert "dev" not in runtime
    owners = packages_distributions()
    missing: dict[str, list[str]] = {}
    for module in sorted(_imported_modules()):
        top = module.split(".")[0]
        if top in PACKAGES or top in sys.stdlib_module_names or top == "__future__":
            continue
        dists = {_norm(d) for d in owners.get(top, [])}
        if not dists & runtime:
            missing.setdefault(module, sorted(dists))
    for module, needed in NEEDS.items():
        if module in _imported_modules() and _norm(needed) not in runtime:
            missing[module] = [needed]
    assert not missing, f"imported but not installed by `pip install newsletter`: {missing}"


def test_the_dev_extra_is_not_counted_as_runtime() -> None:
    """The check above would pass vacuously if it followed the dev extra."""
    assert "aiosmtpd" not in _closure("newsletter")
    assert "aiosmtpd" in _closure("newsletter", frozenset({"dev"}))
