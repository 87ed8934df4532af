"""`newsletter editors …`: add (hidden prompt or stdin), list, disable, enable, password."""

from __future__ import annotations

from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.db import Database
from newsletter.editors.accounts import authenticate

runner = CliRunner()
PASSWORD = "correct horse battery staple"


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def _can_log_in(db: Database, email: str, password: str) -> bool:
    with db.transaction() as session:
        return authenticate(session, email, password).ok


def test_add_asks_for_the_password_twice_without_echoing_it(db: Database) -> None:
    code, out, err = run("editors", "add", "Ann@Example.org", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 0, err
    assert "added editor ann@example.org" in out
    assert PASSWORD not in out  # the prompt hides what is typed
    assert _can_log_in(db, "ann@example.org", PASSWORD)

    code, out, _ = run("editors", "add", "bo@example.org", input=f"{PASSWORD}\nsomething else\n")
    assert code != 0 and "do not match" in out.lower()
    assert not _can_log_in(db, "bo@example.org", PASSWORD)


def test_scripts_give_the_password_on_stdin(db: Database) -> None:
    code, out, err = run(
        "editors",
        "add",
        "root@example.org",
        "--role",
        "admin",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert code == 0, err
    assert "added admin root@example.org" in out
    code, _, err = run("editors", "add", "bo@example.org", "--password-stdin", input="short\n")
    assert code == 1 and err.strip() == "error: password: must have at least 12 characters"
    code, _, err = run("editors", "add", "root@example.org", "--password-stdin", input=PASSWORD)
    assert code == 1 and "already an editor account" in err
    code, _, err = run("editors", "add", "x@example.org", "--role", "boss", "--password-stdin")
    assert code == 2 and "boss" in err


def test_list_disable_enable_and_new_password(db: Database) -> None:
    for email, role in (("root@example.org", "admin"), ("ann@example.org", "editor")):
        code, _, err = run(
            "editors", "add", email, "--role", role, "--password-stdin", input=PASSWORD
        )
        assert code == 0, err
    code, out, _ = run("editors", "list")
    assert code == 0 and "ann@example.org" in out and "root@example.org" in out and "never" in out

    assert run("editors", "disable", "ann@example.org")[0] == 0
    assert not _can_log_in(db, "ann@example.org", PASSWORD)
    code, _, err = run("editors", "disable", "root@example.org")
    assert code == 1 and "last active admin" in err
    assert run("editors", "enable", "ann@example.org")[0] == 0
    assert _can_log_in(db, "ann@example.org", PASSWORD)

    new = "a brand new passphrase"
    code, out, _ = run("editors", "password", "ann@example.org", "--password-stdin", input=new)
    assert code == 0 and "new password set for ann@example.org" in out
    assert _can_log_in(db, "ann@example.org", new)
    assert not _can_log_in(db, "ann@example.org", PASSWORD)
    code, _, err = run("editors", "disable", "nobody@example.org")
    assert code == 1 and "no editor account for nobody@example.org" in err
