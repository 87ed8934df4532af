"""The steps SMTP and the outbox share: each recipient gets a MIME message of their own.

Their payload is the batch's :class:`~newsletter.delivery.mime.MimeBuilder` (made once, the
DKIM signer with it) and the validated recipients; ``post`` builds and hands over one
message at a time, so it returns the results itself and ``parse_result`` has nothing left
to read. A message that cannot be built for one recipient (an address that cannot be
encoded) fails that recipient only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from newsletter.delivery.base import BaseProvider, Batch, Recipient, RecipientResult
from newsletter.delivery.mime import CRLF, MimeBuilder, batch_builder

if TYPE_CHECKING:
    from newsletter.deliverability.dkim import DkimSigner


class MimeBatch(NamedTuple):
    """A per-message provider's payload: the batch's builder, who to build for, and whom to
    tell of each acceptance at once (``Batch.on_accepted``)."""

    builder: MimeBuilder
    recipients: Sequence[Recipient]
    on_accepted: Callable[[RecipientResult], None] | None = None


class PerMessageProvider(BaseProvider[MimeBatch, list[RecipientResult]]):
    """A provider that sends each recipient their own MIME message (signed, if configured)."""

    linesep = CRLF
    signer: DkimSigner | None = None
    dot_stuff = False  # SMTP: messages built in DATA's dot-stuffed form

    def build_payload(self, batch: Batch, recipients: Sequence[Recipient]) -> MimeBatch:
        builder = batch_builder(
            batch.message, linesep=self.linesep, signer=self.signer, dot_stuff=self.dot_stuff
        )
        return MimeBatch(builder, recipients, batch.on_accepted)

    def parse_result(
        self, answer: list[RecipientResult], recipients: Sequence[Recipient]
    ) -> list[RecipientResult]:
        return answer
