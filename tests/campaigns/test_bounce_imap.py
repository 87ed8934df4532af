"""`bounces poll --imap` against a real Dovecot on loopback: the corpus goes in by APPEND,
the poll moves each message to a folder it makes, and the effects are the Maildir poll's."""

from __future__ import annotations

import pytest
from imapclient import IMAPClient
from typer.testing import CliRunner

from campaigns.bounces import BouncePoller
from newsletter.cli.app import app
from newsletter.db import Database
from newsletter.deliverability.mailboxes import ImapConfig, ImapMailbox
from tests.campaigns.bounce_mail import (
    Sent,
    corpus,
    folder_count,
    mailbox_events,
    outbox_settings,
    statuses,
)
from tests.campaigns.test_bounce_mail import CASES
from tests.fakes.dovecot import PASSWORD, Dovecot

runner = CliRunner()


def append(server: Dovecot, *messages: bytes) -> None:
    with server.client() as client:
        for data in messages:
            client.append("INBOX", data.replace(b"\n", b"\r\n"))


def counts(client: IMAPClient) -> dict[str, int]:
    found = {}
    for _, _, name in client.list_folders():
        found[name] = client.folder_status(name, ["MESSAGES"])[b"MESSAGES"]
    return found


def test_the_corpus_over_imap(db: Database, readers: list[Sent], dovecot: Dovecot) -> None:
    messages = [corpus(name, reader) for (name, _, _), reader in zip(CASES, readers, strict=False)]
    append(dovecot, *messages, corpus("garbage.eml", readers[9]))
    poller = BouncePoller(db, outbox_settings(dovecot.root / "unused"))
    box = ImapMailbox(ImapConfig.from_url(dovecot.url))
    try:
        result = poller.poll(box)
        again = poller.poll(box)
    finally:
        box.close()
    assert (result.messages, result.processed, result.reviewed, result.recorded) == (9, 8, 1, 7)
    assert again.messages == 0
    people = statuses(db)
    assert [people[r.email] for r in readers[: len(CASES)]] == [s for _, s, _ in CASES]
    assert len(mailbox_events(db)) == 7
    with dovecot.client() as client:
        assert counts(client) == {"INBOX": 0, "processed": 8, "review": 1}
    assert folder_count(dovecot.maildir(), "processed") == 8  # the Maildir poll's layout


def test_poll_command_once_and_oversized_mail(
    db: Database, readers: list[Sent], dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_BOUNCE_MAX_BYTES", "20000")
    append(dovecot, corpus("postfix_hard.eml", readers[0]), b"Subject: big\n\n" + b"x" * 30_000)
    result = runner.invoke(app, ["bounces", "poll", "--imap", dovecot.url, "--once"])
    assert result.exit_code == 0, result.output
    assert "2 message(s): 1 processed, 1 kept for review; 1 event(s) recorded" in result.stdout
    assert statuses(db)[readers[0].email] == "bounced"
    with dovecot.client() as client:
        assert counts(client) == {"INBOX": 0, "processed": 1, "review": 1}


def test_a_refused_login_is_one_line_without_the_password(dovecot: Dovecot) -> None:
    """One refused login only, and last: Dovecot delays later logins from the same address."""
    wrong = dovecot.url.replace(PASSWORD, "not-the-password")
    result = runner.invoke(app, ["bounces", "poll", "--imap", wrong, "--once"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: bounce mailbox 127.0.0.1:")
    assert "Authentication failed" in result.stderr
    assert "not-the-password" not in result.stderr + result.stdout
