"""The ``editors`` table: people who log in to the editor web app, and their login state.

A password is kept only as an argon2 hash. ``session_stamp`` is a random value that every
session cookie carries: changing it (new password, account disabled) ends every session of
that editor at their next request, although sessions live in signed cookies, not the
database. ``failed_logins`` and ``locked_until`` implement the lockout after wrong
passwords, in the database so that every web process sees the same count.
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
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
