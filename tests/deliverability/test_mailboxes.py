"""Naming the bounce mailbox: IMAP URLs parsed with clear refusals (passwords never shown),
a folder that is no Maildir refused, and the command asking for one when none is set."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.deliverability.mailboxes import ImapConfig, MaildirMailbox, open_mailbox
from newsletter.errors import ConfigurationError


def test_imap_urls() -> None:
    config = ImapConfig.from_url("imaps://bounce%40x:p%2Fw@imap.example.org/Bounces?cafile=/ca")
    assert (config.host, config.port, config.tls, config.folder) == (
        "imap.example.org", 993, True, "Bounces",
    )  # fmt: skip
    assert (config.username, config.password, config.cafile) == ("bounce@x", "p/w", "/ca")
    plain = ImapConfig.from_url("imap://u:p@127.0.0.1:1143")
    assert (plain.port, plain.tls, plain.folder) == (1143, False, "INBOX")
    for url, problem in [
        ("pop3://u:secret@host", "imap://… or imaps://…"),
        ("imaps://host/INBOX", "give the user and password"),
        ("imaps://u:secret@host/?starttls=1", "only option"),
        ("imaps://u:secret@host:99999/", "out of range"),
    ]:
        with pytest.raises(ConfigurationError, match=problem) as caught:
            ImapConfig.from_url(url)
        assert "secret" not in str(caught.value)


def test_maildir_and_choice(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a Maildir"):
        MaildirMailbox(tmp_path)
    with pytest.raises(ConfigurationError, match="exactly one"):
        open_mailbox()
    with pytest.raises(ConfigurationError, match="exactly one"):
        open_mailbox(imap="imap://u:p@h", maildir=tmp_path)


def test_poll_needs_a_mailbox() -> None:
    result = CliRunner().invoke(app, ["bounces", "poll", "--once"])
    assert result.exit_code == 1
    assert "give --imap URL or --maildir DIR (or set NEWSLETTER_BOUNCE_MAILBOX)" in result.stderr
