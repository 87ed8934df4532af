"""`campaigns create` says what it made: the id alone on stdout (for scripts), and on stderr
the name, the briefs in order, each segment with its readers, the provider and the command
to run next; with a send time, when it goes and what starts it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from campaigns.model import Campaign
from newsletter.cli.app import app
from newsletter.config import get_settings
from newsletter.db import Database
from tests.campaigns.helpers import (
    SLUGS,
    add_subscribers,
    add_tech_and_economy,
    add_topic_readers,
    import_examples,
)

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_create_prints_the_id_and_what_it_made(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_examples(db)
    add_tech_and_economy(db)
    add_topic_readers(db)
    monkeypatch.setenv("NEWSLETTER_OUTBOX", str(tmp_path / "box"))
    get_settings.cache_clear()
    code, out, err = run(
        "campaigns", "create", "--name", "Special", "--segment", "tech,economy", SLUGS[1], SLUGS[0]
    )
    assert code == 0, err
    campaign_id = int(out)  # stdout holds the id alone
    lines = err.splitlines()
    assert lines[0] == f"created campaign {campaign_id} “Special” (draft)"
    assert lines[1] == f"briefs (2), in this order: {SLUGS[1]}, {SLUGS[0]}"
    assert "  tech: 5 recipients" in lines
    assert "  economy: 4 recipients" in lines  # first match: tech readers stay in tech
    assert "  in all: 9" in lines
    assert (
        f"provider: outbox (the Maildir {(tmp_path / 'box').resolve()}: nothing leaves this machine)"
        in lines
    )
    assert lines[-1].startswith(f"next: newsletter send {campaign_id} --dry-run")
    assert lines[-1].endswith(f"then newsletter send {campaign_id}")


def test_a_scheduled_campaign_says_when_and_what_starts_it(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_examples(db)
    add_topic_readers(db)
    monkeypatch.setenv("NEWSLETTER_PROVIDER", "smtp")
    monkeypatch.setenv("NEWSLETTER_SMTP_URL", "smtp://news:hunter2-secret@mail.example.org:587")
    get_settings.cache_clear()
    code, out, err = run(
        "campaigns", "create", "--name", "Later", "--briefs", SLUGS[0],
        "--send-at", "2031-01-06T07:00:00+01:00",
    )  # fmt: skip
    assert code == 0, err
    campaign_id = int(out)
    assert f"created campaign {campaign_id} “Later” (scheduled)" in err
    assert "  everyone: 12 recipients" in err
    assert "provider: smtp via smtp://news:***@mail.example.org:587" in err
    assert "hunter2" not in err
    assert "scheduled for 2031-01-06 06:00 UTC: a worker starts it when due" in err
    assert f"next: newsletter campaigns check {campaign_id}" in err


def test_a_subject_test_from_the_command_line_to_the_report(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_examples(db)
    add_subscribers(db, 1000)  # ids 1–1000: one full turn of the cell hash
    monkeypatch.setenv("NEWSLETTER_OUTBOX", str(tmp_path / "box"))
    monkeypatch.setenv("NEWSLETTER_SUBJECT_TEST_MIN_CELL", "50")
    get_settings.cache_clear()
    code, out, err = run(
        "campaigns", "create", "--name", "Tested", "--briefs", SLUGS[0],
        "--subject", "Subject A", "--subject-test", "Subject B", "--subject-test", "Subject C",
        "--test-share", "0.2", "--test-wait", "0",
    )  # fmt: skip
    assert code == 0, err
    campaign_id = int(out)
    assert "subject test: 3 subjects, 20.0% of the audience each; 0 minutes after" in err
    code, sent, err = run("send", "--yes", str(campaign_id))
    assert code == 0, sent + err
    code, out, err = run("report", "--format", "json", str(campaign_id))
    assert code == 0, err
    tested = json.loads(out)["subject_test"]
    cells = {cell["subject"]: cell for cell in tested["cells"]}
    assert {name: cell["sent"] for name, cell in cells.items()} == {
        "Subject A": 200,
        "Subject B": 200,
        "Subject C": 200,
    }
    assert cells["Subject A"]["clickers"] == 0 and tested["winner"] is None
    assert tested["outcome"].startswith("no clear winner")
    code, out, _ = run("report", str(campaign_id))
    assert "subject test: 20% of the audience per cell" in " ".join(out.split())


def test_a_subject_test_that_cannot_run_is_refused_and_nothing_is_created(
    db: Database,
) -> None:
    import_examples(db)
    code, _, err = run(
        "campaigns", "create", "--name", "Too big", "--briefs", SLUGS[0],
        "--subject-test", "B", "--subject-test", "C", "--test-share", "0.4",
    )  # fmt: skip
    assert code != 0
    assert "test_share: must be at least 0.001 and leave a rest" in err
    assert len(err.strip().splitlines()) == 1
    for share in ("nan", "1e308"):  # each was a traceback (round() of NaN or infinity)
        code, _, err = run(
            "campaigns", "create", "--name", "Odd", "--briefs", SLUGS[0],
            "--subject-test", "B", "--test-share", share,
        )  # fmt: skip
        assert code != 0 and len(err.strip().splitlines()) == 1, err
        assert "test_share: must be at least 0.001" in err
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 0
