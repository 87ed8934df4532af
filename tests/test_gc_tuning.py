"""Garbage-collector tuning: what each process kind gets, that the entry points apply it,
and that no library code touches the collector (DESIGN.md: process-wide tuning happens at
entry points, never as a side effect of a library call)."""

from __future__ import annotations

import ast
import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.gc_tuning import (
    SENDING_YOUNG_THRESHOLD,
    SERVING_OLD_THRESHOLD,
    tune_for_sending,
    tune_for_serving,
)
from tests.conftest import ROOT

PACKAGES = ("newsletter", "subscribers", "campaigns")
TUNING_MODULE = "newsletter/gc_tuning.py"
SETTERS = {"freeze", "unfreeze", "set_threshold", "disable", "enable"}


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """This test process's collector settings as they were, whatever the test did."""
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if frozen == 0:
            gc.unfreeze()


def test_a_sending_process_collects_young_objects_rarely(restored_gc: None) -> None:
    _, middle, old = gc.get_threshold()
    tune_for_sending()
    assert gc.get_threshold() == (SENDING_YOUNG_THRESHOLD, middle, old)
    assert gc.get_freeze_count() > 0


def test_a_server_process_makes_full_collections_rare(restored_gc: None) -> None:
    young, middle, _ = gc.get_threshold()
    tune_for_serving()
    assert gc.get_threshold() == (young, middle, SERVING_OLD_THRESHOLD)
    assert gc.get_freeze_count() > 0


def test_the_worker_command_tunes_its_process(tmp_path: Path) -> None:
    """`newsletter worker --once` in a process of its own (nothing to send), which then
    reports its collector's settings."""
    script = (
        "import gc\n"
        "from typer.testing import CliRunner\n"
        "from newsletter.cli.app import app\n"
        "result = CliRunner().invoke(app, ['worker', '--once'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(gc.get_threshold()[0], gc.get_freeze_count() > 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env["NEWSLETTER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'worker.db'}"
    env["NEWSLETTER_SECRET_KEY"] = "a-secret-of-thirty-two-characters"
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(SENDING_YOUNG_THRESHOLD), "True"]


def _collector_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(ROOT).as_posix()}:{node.lineno} gc.{node.func.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "gc"
        and node.func.attr in SETTERS
    ]


def test_only_the_tuning_module_changes_the_collector() -> None:
    offences = [
        call
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.relative_to(ROOT).as_posix() != TUNING_MODULE
        for call in _collector_calls(path)
    ]
    assert offences == []
    assert _collector_calls(ROOT / TUNING_MODULE)  # the check sees the calls it looks for
