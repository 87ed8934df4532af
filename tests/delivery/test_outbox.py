"""The outbox provider: real Maildir files that a mail client (and the stdlib parser) can read."""

from __future__ import annotations

import email
import mailbox
import shutil
from concurrent.futures import ThreadPoolExecutor
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from newsletter.delivery.base import Batch, Recipient
from newsletter.delivery.outbox import OutboxProvider
from newsletter.errors import ConfigurationError, ProviderRetryable
from newsletter.placeholders import remaining_placeholders
from tests.delivery import samples


def read_outbox(path: Path) -> dict[str, EmailMessage]:
    """Every message in the Maildir's ``new`` folder, by Message-ID."""
    found: dict[str, EmailMessage] = {}
    for raw in mailbox.Maildir(path, factory=None, create=False):
        parsed = email.message_from_bytes(raw.as_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        found[parsed["Message-ID"]] = parsed
    return found


def test_each_recipient_gets_a_parsable_file_with_placeholders_filled(tmp_path: Path) -> None:
    provider = OutboxProvider(tmp_path / "outbox")
    recipients = [samples.recipient(0), samples.recipient(1, name="Zoë Müller")]
    results = provider.send(Batch(samples.message(), recipients))

    assert [r.status for r in results] == ["sent", "sent"]
    assert [r.key for r in results] == ["1000", "1001"]
    files = list((tmp_path / "outbox" / "new").iterdir())
    assert len(files) == 2
    assert not list((tmp_path / "outbox" / "tmp").iterdir())
    messages = read_outbox(tmp_path / "outbox")
    assert set(messages) == {r.message_id for r in results}
    for result, rcpt in zip(results, recipients, strict=True):
        assert result.message_id is not None
        parsed = messages[result.message_id]
        assert parsed["To"].addresses[0].addr_spec == rcpt.email
        assert parsed["To"].addresses[0].display_name == rcpt.name
        assert parsed["Subject"] == samples.filled(samples.message().subject, rcpt)
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text, html = parsed.iter_parts()
        assert text.get_content() == samples.filled(samples.TEXT, rcpt)
        assert html.get_content() == samples.filled(samples.HTML, rcpt)
    for path in files:
        assert not remaining_placeholders(path.read_text("ascii"))
        assert b"\r\n" not in path.read_bytes()


def test_a_bad_recipient_fails_alone(tmp_path: Path) -> None:
    provider = OutboxProvider(tmp_path)
    recipients = [
        samples.recipient(0),
        Recipient(key="no-values", email="x@example.com"),
        samples.recipient(2, email="zoë@example.com"),
        samples.recipient(3),
    ]
    results = provider.send(Batch(samples.message(), recipients))
    assert [r.status for r in results] == ["sent", "failed", "failed", "sent"]
    assert results[1].error == "no value for placeholder %%nl_first_name%%"
    assert results[2].error is not None and "SMTPUTF8" in results[2].error
    assert len(read_outbox(tmp_path)) == 2


def test_threads_share_one_outbox(tmp_path: Path) -> None:
    provider = OutboxProvider(tmp_path)

    def send(offset: int) -> list[str]:
        batch = Batch(samples.message(), [samples.recipient(offset + i) for i in range(40)])
        return [r.message_id or "" for r in provider.send(batch)]

    with ThreadPoolExecutor(4) as pool:
        ids = [mid for chunk in pool.map(send, range(0, 160, 40)) for mid in chunk]
    assert len(set(ids)) == 160
    assert set(read_outbox(tmp_path)) == set(ids)


def test_an_unwritable_outbox_is_a_retryable_error(tmp_path: Path) -> None:
    provider = OutboxProvider(tmp_path)
    shutil.rmtree(tmp_path / "new")
    (tmp_path / "new").write_text("not a folder")
    with pytest.raises(ProviderRetryable, match="cannot write to the outbox") as raised:
        provider.send(samples.batch(2))
    assert raised.value.settled == ()
    assert not list((tmp_path / "tmp").iterdir())


def test_an_outbox_path_that_is_a_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "outbox").write_text("")
    with pytest.raises(ConfigurationError, match="cannot create the outbox Maildir"):
        OutboxProvider(tmp_path / "outbox")
