"""The bounce mailbox, over IMAP (``imapclient``) or as a local Maildir: list, read, move.

Both give the same three operations: the messages waiting in the inbox (with their size,
so that an oversized one is never downloaded), a message's bytes, and moving a message to
a folder (``processed`` or ``review``, made when missing). Nothing is ever deleted: a move
is IMAP ``MOVE`` (or ``COPY`` then delete where ``MOVE`` is missing), and for a Maildir a
rename into the Maildir++ sub-folder (``.processed``), the layout Dovecot uses for the same
folder, so an IMAP client sees what a Maildir poll moved and the other way round.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from newsletter.config import without_password
from newsletter.errors import ConfigurationError, NewsletterError

PROCESSED = "processed"
REVIEW = "review"


class MailboxError(NewsletterError):
    """The bounce mailbox cannot be reached or changed (connection, login, folder)."""


@dataclass(frozen=True, slots=True)
class MailItem:
    """One message waiting in the inbox: its handle for this mailbox and its size."""

    handle: str
    size: int


class BounceMailbox(Protocol):
    """Where bounces arrive. Used by one poll at a time; ``close`` when done."""

    where: str

    def waiting(self) -> list[MailItem]: ...

    def read(self, item: MailItem) -> bytes: ...

    def move(self, item: MailItem, folder: str) -> None: ...

    def close(self) -> None: ...


class MaildirMailbox:
    """A Maildir's ``new`` and ``cur`` messages; moves are renames into ``.<folder>/cur``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        if not (self.path / "cur").is_dir() or not (self.path / "new").is_dir():
            raise ConfigurationError(f"{self.path} is not a Maildir (no cur/ and new/ in it)")

    def waiting(self) -> list[MailItem]:
        items = []
        with _os_errors(f"bounce Maildir {self.where}: cannot list the messages"):
            for sub in ("new", "cur"):
                with os.scandir(self.path / sub) as entries:
                    for entry in entries:
                        if entry.is_file() and not entry.name.startswith("."):
                            items.append(MailItem(f"{sub}/{entry.name}", entry.stat().st_size))
        return sorted(items, key=lambda item: item.handle)

    def read(self, item: MailItem) -> bytes:
        with _os_errors(f"bounce Maildir {self.where}: cannot read {item.handle}"):
            return (self.path / item.handle).read_bytes()

    def move(self, item: MailItem, folder: str) -> None:
        name = item.handle.partition("/")[2]
        if ":2," not in name:
            name += ":2,S"  # what a mail client does when it has seen a new message
        with _os_errors(f"bounce Maildir {self.where}: cannot move {item.handle} to {folder}"):
            os.replace(self.path / item.handle, self._folder(folder) / "cur" / name)

    def _folder(self, folder: str) -> Path:
        root = self.path / f".{folder}"
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "maildirfolder").touch()
        return root

    def close(self) -> None:
        """Nothing is held open."""


@contextmanager
def _os_errors(doing: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise MailboxError(f"{doing}: {exc.strerror or exc}") from exc


@dataclass(frozen=True)
class ImapConfig:
    """``imap[s]://user:password@host[:port]/FOLDER[?cafile=PATH]`` (folder default INBOX)."""

    host: str
    port: int
    username: str
    password: str
    folder: str = "INBOX"
    tls: bool = True
    cafile: str | None = None

    @classmethod
    def from_url(cls, url: str) -> ImapConfig:
        parts = urlsplit(url)
        shown = without_password(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname:
            raise ConfigurationError(f"a bounce mailbox is imap://… or imaps://…, not {shown}")
        if not parts.username or parts.password is None:
            raise ConfigurationError(f"{shown}: give the user and password (imap://user:pass@…)")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if set(query) - {"cafile"}:
            raise ConfigurationError(f"{shown}: the only option is ?cafile=PATH")
        try:
            port = parts.port or (993 if parts.scheme == "imaps" else 143)
        except ValueError as exc:
            raise ConfigurationError(f"{shown}: {exc}") from None
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username),
            password=unquote(parts.password),
            folder=unquote(parts.path.strip("/")) or "INBOX",
            tls=parts.scheme == "imaps",
            cafile=query.get("cafile"),
        )


class ImapMailbox:
    """One IMAP connection for one poll; plain ``imap://`` is for loopback or a trusted net."""

    def __init__(self, config: ImapConfig, *, timeout: float = 30.0) -> None:
        self.config = config
        self.where = f"{config.host}:{config.port}/{config.folder}"
        context = ssl.create_default_context(cafile=config.cafile) if config.tls else None
        try:
            self._client = IMAPClient(
                config.host, port=config.port, ssl=config.tls, ssl_context=context, timeout=timeout
            )
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"cannot connect to the bounce mailbox {self.where}: {exc}") from exc
        try:
            self._client.login(config.username, config.password)
            self._client.select_folder(config.folder)
        except (OSError, IMAPClientError) as exc:
            self._client.shutdown()
            raise MailboxError(f"bounce mailbox {self.where}: {exc}") from exc
        self._made: set[str] = set()

    def waiting(self) -> list[MailItem]:
        with self._errors("list the messages"):
            uids = self._client.search(["NOT", "DELETED"])
            sizes = self._client.fetch(uids, ["RFC822.SIZE"]) if uids else {}
        return [MailItem(str(uid), int(sizes[uid][b"RFC822.SIZE"])) for uid in sorted(sizes)]

    def read(self, item: MailItem) -> bytes:
        with self._errors(f"read message {item.handle}"):
            found = self._client.fetch([int(item.handle)], ["BODY.PEEK[]"])
        data = found.get(int(item.handle), {}).get(b"BODY[]")
        if not isinstance(data, bytes):
            raise MailboxError(f"bounce mailbox {self.where}: message {item.handle} vanished")
        return data

    def move(self, item: MailItem, folder: str) -> None:
        with self._errors(f"move message {item.handle} to {folder}"):
            if folder not in self._made:
                if not self._client.folder_exists(folder):
                    self._client.create_folder(folder)
                self._made.add(folder)
            uid = int(item.handle)
            if self._client.has_capability("MOVE"):
                self._client.move([uid], folder)
            else:
                self._client.copy([uid], folder)
                self._client.delete_messages([uid])
                self._client.uid_expunge([uid])

    def close(self) -> None:
        try:
            self._client.logout()
        except (OSError, IMAPClientError):
            self._client.shutdown()

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """IMAP and socket errors become :class:`MailboxError` saying what was being done."""
        try:
            yield
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"bounce mailbox {self.where}: cannot {doing}: {exc}") from exc


def open_mailbox(*, imap: str | None = None, maildir: Path | None = None) -> BounceMailbox:
    """The mailbox one of ``imap`` (a URL) or ``maildir`` (a folder) names."""
    if (imap is None) == (maildir is None):
        raise ConfigurationError("give exactly one bounce mailbox: --imap URL or --maildir DIR")
    if imap is not None:
        return ImapMailbox(ImapConfig.from_url(imap))
    assert maildir is not None
    return MaildirMailbox(maildir)
