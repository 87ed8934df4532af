"""The ``editors`` table: people who log in to the editor web app, and their login state.

A password is kept only as an argon2 hash. ``session_stamp`` is a random value that every
session cookie carries: changing it (new password, account disabled) ends every session of
that editor at their next request, although sessions live in signed cookies, not the
database.

``login_failures`` counts failed logins per (account, client address) and per address, for
the login throttle (:mod:`newsletter.editors.throttle`); it is in the database so that every
web process, on every host, sees the same counts.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.db import Base, utcnow

Role = Literal["editor", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)


def new_stamp() -> str:
    return secrets.token_urlsafe(16)


class Editor(Base):
    """One editor account; ``email`` is stored lower-cased, so it is unique as people mean it."""

    __tablename__ = "editors"
    __table_args__ = (CheckConstraint("role IN ('editor', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10), default="editor")
    active: Mapped[bool] = mapped_column(default=True)
    session_stamp: Mapped[str] = mapped_column(String(40), default=new_stamp)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


ANY_ACCOUNT = ""  # the ``account`` of the row that counts an address's failures overall


class LoginFailures(Base):
    """Failed logins in a row from one client ``address`` to one ``account`` (the address
    as typed, lower-cased, whether or not it has an account), or to any (``ANY_ACCOUNT``).

    ``wait_until`` is when the next attempt from there may come (the time of the last
    failure when no wait is due yet); a count whose wait ended long ago is forgotten.
    """

    __tablename__ = "login_failures"

    account: Mapped[str] = mapped_column(String(320), primary_key=True)
    address: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int]
    wait_until: Mapped[datetime] = mapped_column(index=True)
