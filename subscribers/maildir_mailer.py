"""A plain-text confirmation mailer that writes to a local Maildir (the embedded default).

Stdlib only (``email`` + ``mailbox``): enough for the outbox a newsroom's developer opens,
and for tests to follow a real link from a real mail. It is not the product's confirmation
mail: that one comes from the render pipeline's template through the configured provider and
plugs into the same :class:`~subscribers.confirmations.ConfirmationMailer` seam.
"""

from __future__ import annotations

import mailbox
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path


class MaildirConfirmationMailer:
    """Writes each confirmation mail as one message in the Maildir at ``path``."""

    def __init__(
        self, path: Path, *, from_email: str, from_name: str, newsletter_name: str
    ) -> None:
        self.path = path
        self.from_email = from_email
        self.from_name = from_name
        self.newsletter_name = newsletter_name

    def send_confirmation(self, email: str, name: str | None, confirm_url: str) -> None:
        # SMTPUTF8: an internationalised address is written as it is (a Maildir is local).
        message = EmailMessage(policy=policy.SMTPUTF8)
        message["From"] = Address(self.from_name, addr_spec=self.from_email)
        message["To"] = Address(name or "", addr_spec=email)
        message["Subject"] = f"Please confirm your subscription to {self.newsletter_name}"
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self.from_email.rpartition("@")[2] or None)
        message.set_content(
            f"Hello{' ' + name if name else ''},\n\n"
            f"Someone (we hope you) asked to receive {self.newsletter_name} at this address.\n"
            f"To confirm, open this link:\n\n{confirm_url}\n\n"
            "If you did not ask for it, ignore this mail: you will not hear from us again.\n",
            cte="8bit",
        )
        mailbox.Maildir(self.path, create=True).add(message)
