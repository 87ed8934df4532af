"""`newsletter welcome …`: add, list (JSON), edit (a new version), disable and enable, and
one-line errors that change nothing."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from campaigns.welcome_model import WelcomeStep
from newsletter.cli.app import app
from newsletter.config import get_settings
from newsletter.db import Database
from tests.campaigns.helpers import add_subscribers, outbox_mails

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["welcome", *args])
    return result.exit_code, result.stdout, result.stderr


def _stored(db: Database) -> list[tuple[int, str, bool, int]]:
    with db.transaction() as session:
        rows = session.execute(
            select(
                WelcomeStep.delay_days,
                WelcomeStep.subject,
                WelcomeStep.enabled,
                WelcomeStep.version,
            ).order_by(WelcomeStep.id)
        )
        return [(d, s, e, v) for d, s, e, v in rows]


def test_add_list_edit_disable_enable(db: Database) -> None:
    code, out, err = run("add", "Welcome to {newsletter}")
    assert code == 0, err
    assert "added welcome step 1: day 0" in out
    code, out, err = run("add", "Three days in", "--day", "3", "--body", "How is it going?")
    assert code == 0, err
    code, out, _ = run("list", "--format", "json")
    listed = json.loads(out)
    assert [(row["day"], row["subject"], row["state"]) for row in listed] == [
        (0, "Welcome to {newsletter}", "enabled"),
        (3, "Three days in", "enabled"),
    ]
    code, out, err = run("edit", "2", "--day", "4")
    assert code == 0, err
    assert "version 2" in out
    assert run("disable", "1")[0] == 0
    assert _stored(db) == [
        (0, "Welcome to {newsletter}", False, 1),
        (4, "Three days in", True, 2),
    ]
    assert run("enable", "1")[0] == 0
    assert _stored(db)[0][2] is True


def test_bad_input_is_one_line_and_changes_nothing(db: Database) -> None:
    for args in (
        ("add", "  "),
        ("add", "S", "--day", "-1"),
        ("add", "S", "--body", ""),
        ("edit", "7", "--day", "1"),
        ("disable", "7"),
    ):
        code, _, err = run(*args)
        assert code == 1, args
        assert err.startswith("error: ") and err.count("\n") == 1, err
    assert _stored(db) == []
    run("add", "S")
    code, _, err = run("edit", "1")
    assert code == 1 and "give --subject, --day or --body" in err


def test_scheduler_once_sends_the_due_step(db: Database) -> None:
    assert run("add", "Welcome to {newsletter}")[0] == 0
    add_subscribers(db, 2)
    result = runner.invoke(app, ["scheduler", "--once"])
    assert result.exit_code == 0, result.output
    assert "welcome step 1: 2 readers queued" in result.stdout
    assert "2 sent, 0 failed" in result.stdout
    assert len(outbox_mails(get_settings().outbox)) == 2
    again = runner.invoke(app, ["scheduler", "--once"])
    assert "welcome step" not in again.stdout
    assert len(outbox_mails(get_settings().outbox)) == 2
