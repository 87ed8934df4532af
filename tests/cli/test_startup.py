"""The root command loads command modules lazily: `--version` and `--help` import none of them."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import COMMANDS, app
from tests.conftest import ROOT

HEAVY = ("sqlalchemy", "fastapi", "mjml", "premailer", "pydantic_settings", "campaigns")
runner = CliRunner()


def modules_after(*args: str) -> set[str]:
    """Top-level modules imported by `newsletter ARGS`, run in a fresh interpreter."""
    code = (
        "import json, sys\n"
        "from newsletter.cli.app import main\n"
        f"sys.argv[1:] = {list(args)!r}\n"
        "try:\n    main()\n"
        "except SystemExit:\n    pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={"PYTHONPATH": str(ROOT), "COLUMNS": "100"},
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("args", [("--version",), ("--help",), ()])
def test_the_root_command_imports_no_command_module(args: tuple[str, ...]) -> None:
    imported = modules_after(*args)
    assert imported & set(HEAVY) == set()


def test_a_group_imports_what_it_needs_and_no_more() -> None:
    imported = modules_after("config", "--help")
    assert "pydantic_settings" in imported
    assert imported & {"fastapi", "mjml", "campaigns"} == set()


def test_help_lists_every_command_with_its_summary() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    lines = [line.strip("│ ").split(None, 1) for line in result.stdout.splitlines()]
    listed = {parts[0]: parts[1].strip(" │") for parts in lines if len(parts) == 2}
    for name, entry in COMMANDS.items():
        assert listed.get(name) == entry.summary


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_summary_is_the_first_paragraph_of_the_commands_help(name: str) -> None:
    command = COMMANDS[name].load(name)
    first = inspect.cleandoc(command.help or "").split("\n\n")[0].replace("\n", " ")
    assert COMMANDS[name].summary == first
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.stderr


def test_a_misspelt_command_gets_a_suggestion() -> None:
    result = runner.invoke(app, ["subscriber", "list"])
    assert result.exit_code == 2
    assert "No such command 'subscriber'. Did you mean 'subscribers'?" in result.stderr
