"""The outbox provider (the default): every message becomes a file in a local Maildir.

It needs no account, and what it writes is exactly what SMTP would send (same builder, LF
line ends as Maildir files have), so a person can open ``./outbox`` in a mail client (mutt
``-f outbox``, Thunderbird, Evolution) to see the newsletter each subscriber got.
"""

from __future__ import annotations

import mailbox
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.delivery.base import RecipientResult, RecipientStatus
from newsletter.delivery.mime import LF, return_path_header
from newsletter.delivery.per_message import MimeBatch, PerMessageProvider
from newsletter.errors import ConfigurationError, ProviderRetryable

if TYPE_CHECKING:
    from newsletter.deliverability.dkim import DkimSigner


class OutboxProvider(PerMessageProvider):
    """Writes each recipient's MIME message into ``path``/new, atomically (tmp, then new).

    Thread-safe: ``mailbox.Maildir`` names files from a class-wide counter that is not, so
    writes go one at a time; other processes get distinct names from their pid.
    """

    name = "outbox"
    max_batch_size = 1000
    linesep = LF  # as Maildir files have

    def __init__(self, path: Path, *, signer: DkimSigner | None = None) -> None:
        self.path = Path(path)
        self.signer = signer
        try:  # mailbox makes the three folders only when the Maildir itself is new
            for folder in ("tmp", "new", "cur"):
                (self.path / folder).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create the outbox Maildir {self.path}: {exc}"
            ) from exc
        self._maildir = mailbox.Maildir(self.path, factory=None, create=False)
        self._lock = threading.Lock()

    def post(self, payload: MimeBatch) -> list[RecipientResult]:
        """Write each message; an unwritable folder is retryable (the disk may be full)."""
        results: list[RecipientResult] = []
        for recipient in payload.recipients:
            built = payload.builder.try_build(recipient)
            if isinstance(built, RecipientResult):
                results.append(built)
                continue
            data = built.data
            if recipient.return_path:  # what a delivering server prepends (not DKIM-signed)
                data = return_path_header(recipient.return_path, LF) + data
            try:
                with self._lock:
                    self._maildir.add(data)
            except OSError as exc:
                raise ProviderRetryable(
                    f"cannot write to the outbox {self.path}: {exc}", settled=results
                ) from exc
            results.append(
                RecipientResult(recipient.key, RecipientStatus.SENT, message_id=built.message_id)
            )
        return results
