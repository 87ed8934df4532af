"""The ``api_keys`` table: keys that let another system call ``/api/v1`` within scopes.

A key is ``nlk_<prefix>_<secret>``: the prefix (8 hex characters) is stored in clear to
find the row and to show which key is which; the whole key is stored only as its SHA-256.
The secret is 256 random bits, so a fast hash is enough (nothing to brute-force); the key
itself is shown once, when it is made, and never stored or logged.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Double, String
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.db import Base, utcnow


class ApiKey(Base):
    """One key: who made it, what it may do, how often, and whether it still works."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    rate_limit: Mapped[int] = mapped_column(
        doc="Requests a minute this key may make (0: no limit)."
    )
    allowance_used_until: Mapped[float] = mapped_column(
        Double(),
        default=0.0,
        server_default="0",
        doc="The rate limit's one stored number (GCRA): seconds since the Unix epoch up to "
        "which the key's requests have used its allowance; every server process reads and "
        "advances it with one conditional UPDATE (newsletter.apikeys.keys.take_request).",
    )
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
