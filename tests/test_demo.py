"""`newsletter demo` runs the whole job on embedded defaults, and again without resending."""

from __future__ import annotations

import mailbox
from pathlib import Path

from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.cli.demo import SAMPLE_READERS


def test_demo_end_to_end_on_embedded_defaults(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    out = " ".join(first.stdout.split())
    assert "12 briefs imported and marked ready" in out
    assert f"{len(SAMPLE_READERS)} added" in out
    assert "campaign 1: sent" in out
    assert f"welcome step 1: {len(SAMPLE_READERS)} readers queued" in out
    assert f"welcome mails sent: {len(SAMPLE_READERS)}" in out
    box = mailbox.Maildir(tmp_path / "outbox", create=False)
    assert len(box) == 2 * len(SAMPLE_READERS)
    subjects = sorted(str(message["Subject"]) for message in box)
    assert subjects.count("Welcome to The Briefing") == len(SAMPLE_READERS)
    assert (tmp_path / "newsletter.db").exists()
    # the subject test: both subjects in the outbox, the cells and the outcome in the report
    subjects = [str(message["Subject"]) for message in box]
    assert 0 < sum(s.startswith("This week: ") for s in subjects) < len(subjects)
    assert "subject test: 25% of the audience per cell" in out
    assert "no clear winner" in out and "the first subject went to the rest" in out

    again = runner.invoke(app, ["demo"])
    assert again.exit_code == 0, again.output
    again_out = " ".join(again.stdout.split())
    assert "not sent again" in again_out
    assert "no reader is due a welcome step" in again_out
    assert len(mailbox.Maildir(tmp_path / "outbox", create=False)) == 2 * len(SAMPLE_READERS)
