"""`newsletter subscribers …` and `newsletter segments …` as an operator uses them."""

from __future__ import annotations

import json
import mailbox
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from campaigns.welcome_queue import queue_due_steps
from campaigns.welcome_steps import StepText, add_step
from newsletter.cli.app import app
from newsletter.config import get_settings
from newsletter.db import Database, utcnow
from subscribers.model import Subscriber
from tests.campaigns.helpers import welcomed

runner = CliRunner()


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def _topics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_TOPICS", "europe, climate,asia")


def test_import_reports_bad_rows_by_line_and_imports_the_rest(db: Database, tmp_path: Path) -> None:
    csv_file = tmp_path / "readers.csv"
    csv_file.write_text(
        "\ufeffemail,name,topics\nana@example.com,Ana,europe\nnope,Bo,\ncy@example.com,,sport\n"
        "ANA@example.com,Ana,\nzoë@example.com,Zoë,\n",
        encoding="utf-8",
    )
    code, out, err = run("subscribers", "import", str(csv_file), "--confirmed", "--source", "crm")
    assert code == 1
    assert "error: readers.csv:3: email: is not a valid email address" in err
    assert "error: readers.csv:4: topics: unknown topic(s) sport" in err
    assert "skipped: readers.csv:5: same address as line 2: skipped" in out
    assert "error: readers.csv:6: email: has non-ASCII characters before the @" in err
    assert "1 imported as active, 1 skipped, 3 bad row(s)" in out
    code, out, err = run("subscribers", "import", str(csv_file), "--strict")
    assert code == 1 and "nothing imported: 3 bad row(s) and --strict" in err
    code, out, _ = run("subscribers", "list")
    assert code == 0 and "ana@example.com" in out and "active: 1" in out
    code, _, err = run("subscribers", "import", str(tmp_path / "missing.csv"))
    assert code == 1 and "missing.csv: cannot be read" in err


def test_add_list_show_export(db: Database, tmp_path: Path) -> None:
    code, out, err = run(
        "subscribers", "add", "Bo@Example.com", "--name", "Bo", "--topics", "Europe"
    )
    assert code == 0, err
    assert "added Bo@example.com: pending (a confirmation mail is queued)" in out
    code, out, err = run("subscribers", "add", "cy@example.com", "--confirmed")
    assert code == 0 and "active" in out
    code, _, err = run("subscribers", "add", "bo@example.com")
    assert code == 1 and err.strip() == "error: bo@example.com is already a subscriber"
    code, _, err = run("subscribers", "add", "zoë@example.com")
    assert code == 1 and "non-ASCII characters before the @" in err
    code, _, err = run("subscribers", "add", "dan@example.com", "--topics", "sport")
    assert code == 1 and "topics: unknown topic(s) sport" in err
    code, out, _ = run("subscribers", "list", "--status", "pending")
    assert "Bo@example.com" in out and "cy@example.com" not in out
    code, _, err = run("subscribers", "list", "--status", "gone")
    assert code == 1 and "status: must be one of" in err
    code, out, _ = run("subscribers", "show", "BO@example.com")
    assert code == 0
    assert "status: pending" in out and "topics: europe" in out and "add from -" in out
    code, _, err = run("subscribers", "show", "nobody@example.com")
    assert code == 1 and "no subscriber with the address nobody@example.com" in err
    target = tmp_path / "out.csv"
    code, _, err = run("subscribers", "export", str(target))
    assert code == 0 and "2 subscriber(s) exported" in err
    assert target.read_text().splitlines()[0].startswith("email,name,status")
    code, out, _ = run("subscribers", "export", "--status", "active")
    assert "cy@example.com" in out and "Bo@example.com" not in out


def test_add_takes_a_time_zone_checked_as_the_csv_checks_it(db: Database) -> None:
    code, _, err = run("subscribers", "add", "eve@example.com", "--time-zone", "Mars/Olympus")
    assert code == 1 and "time_zone: unknown time zone 'Mars/Olympus'" in err, err
    code, _, err = run("subscribers", "add", "eve@example.com", "--time-zone", "Europe/Berlin")
    assert code == 0, err
    code, out, _ = run("subscribers", "export")
    header, row = out.splitlines()
    assert dict(zip(header.split(","), row.split(","), strict=True))["time_zone"] == "Europe/Berlin"


def test_send_confirmations_writes_the_outbox(db: Database, tmp_path: Path) -> None:
    run("subscribers", "add", "bo@example.com")
    code, out, err = run("subscribers", "send-confirmations")
    assert code == 0, err
    assert "1 sent" in out
    messages = list(mailbox.Maildir(Path("outbox")))
    assert len(messages) == 1 and messages[0]["To"] == "bo@example.com"


def test_gdpr_export_and_erase(db: Database) -> None:
    run("subscribers", "add", "ana@example.com", "--name", "Ana", "--confirmed")
    code, out, _ = run("subscribers", "export-data", "ana@example.com")
    data = json.loads(out)
    assert code == 0 and data["subscriber"]["name"] == "Ana"
    assert [r["kind"] for r in data["consent_records"]] == ["add"]
    code, _, _ = run("subscribers", "erase", "ana@example.com", input="n\n")
    assert code == 1  # declined: nothing happened
    assert json.loads(run("subscribers", "export-data", "ana@example.com")[1])["subscriber"]
    code, out, _ = run("subscribers", "erase", "ana@example.com", "--yes")
    assert code == 0 and "erased; the address is suppressed" in out
    data = json.loads(run("subscribers", "export-data", "ana@example.com")[1])
    assert data["subscriber"] is None and data["suppressed"]["reason"] == "erased"
    code, _, err = run("subscribers", "add", "ana@example.com")
    assert code == 1 and "suppression list" in err


def test_a_segment_with_nul_in_its_json_is_refused_on_every_database(db: Database) -> None:
    """JSONB on PostgreSQL cannot hold NUL (a crash), SQLite's JSON can: both refuse it."""
    for option, document in (
        ("--rule", '{"type": "attribute", "key": "plan", "equals": "pro\\u0000"}'),
        ("--options", '{"intro": "Hello\\u0000"}'),
        ("--options", '{"subject": "{{ first_title }}\\u0000"}'),
    ):
        extra = () if option == "--rule" else ("--rule", '{"type": "everyone"}')
        code, _, err = run("segments", "add", "nul", option, document, *extra)
        assert code == 1, err
        field = option.removeprefix("--")
        assert f"error: {field}: must not contain the NUL character U+0000" in err, err
    code, out, _ = run("segments", "list")
    assert "nul" not in out


def test_segments_add_list_show_remove(db: Database) -> None:
    run("subscribers", "add", "ana@example.com", "--topics", "europe", "--confirmed")
    run("subscribers", "add", "bo@example.com", "--topics", "asia", "--confirmed")
    run("subscribers", "add", "cy@example.com", "--topics", "europe")
    code, out, err = run(
        "segments",
        "add",
        "europe",
        "--rule",
        '{"type": "topics", "any": ["europe"]}',
        "--options",
        '{"topics": ["europe"], "narratives": "facts-only"}',
        "--description",
        "Europe desk",
    )
    assert code == 0, err
    assert "added segment europe: 2 match, 1 mailable now" in out
    code, out, err = run("segments", "add", "asia-active", "--topic", "asia", "--status", "active")
    assert code == 0 and "1 match, 1 mailable" in out, err
    code, _, err = run("segments", "add", "bad", "--rule", '{"type": "topics"}')
    assert code == 1 and "error: rule: topics rule: give exactly one of 'any' or 'all'" in err
    code, _, err = run("segments", "add", "bad", "--rule", "{")
    assert code == 1 and "--rule: is not valid JSON" in err
    code, _, err = run("segments", "add", "bad", "--rule", "{}", "--topic", "asia")
    assert code == 1 and "not both" in err
    code, _, err = run(
        "segments",
        "add",
        "bad",
        "--rule",
        '{"type": "everyone"}',
        "--options",
        '{"order": "random"}',
    )
    assert code == 1 and "options.order" in err
    code, out, _ = run("segments", "list")
    assert code == 0
    assert "europe" in out and "Europe desk" in out and "asia-active" in out
    code, out, _ = run("segments", "show", "europe")
    assert code == 0
    assert '"narratives": "facts-only"' in out and "2 match, 1 mailable now" in out
    assert "ana@example.com" in out and "cy@example.com" in out and "bo@example.com" not in out
    code, out, _ = run("segments", "remove", "europe")
    assert code == 0
    code, _, err = run("segments", "show", "europe")
    assert code == 1 and "no segment named 'europe'" in err


def test_confirmed_readers_get_the_welcome_series_only_with_welcome(
    db: Database, tmp_path: Path
) -> None:
    """``import --confirmed`` and ``add --confirmed`` welcome nobody; with ``--welcome`` they
    do (an import from each row's confirmed moment: an old one gets nothing)."""
    with db.transaction() as session:
        first = add_step(session, StepText(0, "Welcome", "Hello.")).id
    old = (utcnow() - timedelta(days=30)).isoformat()
    for name, extra in (("plain", ()), ("welcome", ("--welcome",))):
        csv_file = tmp_path / f"{name}.csv"
        csv_file.write_text(
            f"email,confirmed_at\n{name}-new@example.com,\n{name}-old@example.com,{old}\n",
            encoding="utf-8",
        )
        code, out, _ = run("subscribers", "import", str(csv_file), "--confirmed", *extra)
        assert code == 0 and "2 imported as active" in out
    code, out, _ = run("subscribers", "add", "cli@example.com", "--confirmed")
    assert code == 0 and "active, no welcome series" in out
    code, out, _ = run("subscribers", "add", "cliw@example.com", "--confirmed", "--welcome")
    assert code == 0 and "active, welcome series from now" in out
    code, _, err = run("subscribers", "add", "nope@example.com", "--welcome")
    assert code == 1 and "--welcome: needs --confirmed" in err
    code, _, err = run("subscribers", "import", str(tmp_path / "plain.csv"), "--welcome")
    assert code == 1 and "--welcome: needs --confirmed" in err
    settings = get_settings().model_copy(update={"outbox": tmp_path / "outbox"})
    queue_due_steps(db, settings)
    assert welcomed(db, first) == ["cliw@example.com", "welcome-new@example.com"]
    with db.transaction() as session:
        nope = select(Subscriber.id).where(Subscriber.email == "nope@example.com")
        assert session.scalar(nope) is None
