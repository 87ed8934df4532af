"""Every `list` command: tables that keep identifiers whole, and the same rows as JSON and CSV."""

from __future__ import annotations

import csv
import io
import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.cli.listing import Column, ListFormat, print_listing
from newsletter.db import Database
from tests.conftest import ROOT

runner = CliRunner()
PASSWORD = "correct horse battery staple"
LONG_LOCAL = "a-rather-long-local-part-that-people-do-have-sometimes-really"
EMAIL = f"{LONG_LOCAL}@example.org"
SEGMENT = "readers-who-follow-the-economy-and-technology-and-want-it-first"
FORMULA_NAME = "=HYPERLINK(evil)"

# (command, identifier key, the keys of every row, in order)
LISTS = (
    (
        ("briefs", "list"),
        "slug",
        ["slug", "title", "updated", "status", "topics", "facts", "narratives"],
    ),
    (
        ("subscribers", "list"),
        "email",
        ["email", "name", "status", "topics", "narratives", "source", "created_at"],
    ),
    (("segments", "list"), "name", ["name", "matching", "mailable", "description"]),
    (
        ("campaigns", "list"),
        "id",
        ["id", "name", "status", "send_at", "briefs", "recipients", "sent"],
    ),
    (("editors", "list"), "email", ["email", "role", "active", "last_login_at"]),
)


def run(*args: str, input: str | None = None) -> str:
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.fixture
def filled(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The sample briefs, a subscriber, a segment, a campaign and an editor, added by CLI."""
    monkeypatch.setenv("NEWSLETTER_TOPICS", "economy,tech")
    run("briefs", "import", str(ROOT / "examples" / "briefs"))
    run("subscribers", "add", EMAIL, "--name", FORMULA_NAME, "--topics", "economy,tech")
    run("segments", "add", SEGMENT, "--topic", "economy", "--description", "Markets first")
    slug = json.loads(run("briefs", "list", "--format", "json"))[0]["slug"]
    run("campaigns", "create", "--name", "Weekly", "--briefs", slug)
    run("editors", "add", EMAIL, "--password-stdin", input=PASSWORD + "\n")
    return db


@pytest.mark.parametrize(("command", "key", "keys"), LISTS, ids=lambda v: str(v))
def test_json_csv_and_table_show_the_same_rows(
    filled: Database, command: tuple[str, ...], key: str, keys: list[str]
) -> None:
    rows = json.loads(run(*command, "--format", "json"))
    assert rows and all(list(row) == keys for row in rows)
    records = list(csv.reader(io.StringIO(run(*command, "-f", "csv"))))
    assert records[0] == keys and len(records) == len(rows) + 1
    table = run(*command)  # piped (not a terminal), 80 columns: once cut to "spacexs-st…"
    lines = table.splitlines()
    for row in rows:
        identifier = str(row[key])
        assert any(f"│ {identifier} " in line for line in lines), identifier
    assert "…" not in table


def test_values_keep_their_types_in_json_and_are_safe_in_csv(filled: Database) -> None:
    [subscriber] = json.loads(run("subscribers", "list", "-f", "json"))
    assert subscriber["topics"] == ["economy", "tech"]
    assert subscriber["name"] == FORMULA_NAME and subscriber["source"] == "cli"
    assert subscriber["created_at"].endswith("+00:00")
    [record] = list(csv.DictReader(io.StringIO(run("subscribers", "list", "-f", "csv"))))
    assert record["name"] == "'" + FORMULA_NAME  # a spreadsheet shows it, does not run it
    assert record["topics"] == "economy;tech"
    [campaign] = json.loads(run("campaigns", "list", "-f", "json"))
    assert isinstance(campaign["id"], int) and campaign["briefs"] == 1
    assert campaign["send_at"] is None and campaign["recipients"] is None
    [editor] = json.loads(run("editors", "list", "-f", "json"))
    assert editor["active"] is True and editor["last_login_at"] is None


def test_subscriber_counts_go_to_stderr_when_the_output_is_data(filled: Database) -> None:
    result = runner.invoke(app, ["subscribers", "list", "-f", "json"])
    assert json.loads(result.stdout)[0]["email"] == EMAIL
    assert "pending: 1" in result.stderr
    assert "pending: 1" in run("subscribers", "list")


def test_empty_listings(db: Database) -> None:
    assert "no briefs yet" in run("briefs", "list")
    assert json.loads(run("briefs", "list", "-f", "json")) == []
    assert run("editors", "list", "-f", "csv") == "email,role,active,last_login_at\n"


def test_a_bad_format_is_refused(db: Database) -> None:
    result = runner.invoke(app, ["segments", "list", "--format", "xml"])
    assert result.exit_code == 2 and "xml" in result.stderr


SLUG = "spacexs-starship-flight-twelve-reaches-orbit-and-lands-the-booster"
ROWS = [{"slug": SLUG, "title": "A title long enough that it has to wrap in a narrow window"}]
COLUMNS = (Column("slug", identifier=True), Column("title"))


@pytest.mark.parametrize("terminal", [True, False])
def test_identifiers_stay_whole_however_narrow_the_console(terminal: bool) -> None:
    out = io.StringIO()
    narrow = Console(file=out, width=40, force_terminal=terminal, color_system=None)
    print_listing(ROWS, COLUMNS, ListFormat.table, empty="-", out=narrow)
    lines = out.getvalue().splitlines()
    assert any(f"│ {SLUG} │" in line for line in lines)
    title_lines = [line for line in lines if "A title" in line]
    if terminal:  # the title wraps at words to leave the slug whole
        assert not any(ROWS[0]["title"] in line for line in lines)
    else:  # piped: one row per line
        assert ROWS[0]["title"] in title_lines[0]


def test_a_table_that_fits_is_printed_as_is() -> None:
    out = io.StringIO()
    wide = Console(file=out, width=200, force_terminal=True, color_system=None)
    print_listing(ROWS, COLUMNS, ListFormat.table, empty="-", out=wide)
    assert max(len(line) for line in out.getvalue().splitlines()) < 200
