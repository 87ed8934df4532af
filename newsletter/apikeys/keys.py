"""Make, list, revoke and check API keys; the scopes a key may hold.

:func:`create_key` returns the key in clear exactly once (:class:`NewKey`); only its
SHA-256 is stored. :func:`check_key` finds a presented key by its prefix and compares the
hashes in constant time; an unknown prefix costs the same comparison, so timing tells
nothing about which prefixes exist. It also takes the request from the key's rate limit
(:func:`take_request`), kept in the database so that every server process shares it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import case, literal, select, update
from sqlalchemy.orm import Session

from newsletter.apikeys.model import ApiKey
from newsletter.db import utcnow
from newsletter.errors import ConflictError, InvalidInput, NotFoundError
from newsletter.suggest import did_you_mean


class Scope(StrEnum):
    BRIEFS_READ = "briefs:read"
    BRIEFS_WRITE = "briefs:write"
    SUBSCRIBERS_WRITE = "subscribers:write"
    SUBSCRIBERS_IMPORT_CONFIRMED = "subscribers:import-confirmed"
    SUBSCRIBERS_ERASE = "subscribers:erase"
    CAMPAIGNS_READ = "campaigns:read"
    REPORTS_READ = "reports:read"


SCOPES: tuple[str, ...] = tuple(scope.value for scope in Scope)
SCOPE_MEANINGS: dict[str, str] = {
    Scope.BRIEFS_READ: "list briefs and read one whole",
    Scope.BRIEFS_WRITE: "create and update briefs",
    Scope.SUBSCRIBERS_WRITE: "add people (double opt-in), one or in bulk",
    Scope.SUBSCRIBERS_IMPORT_CONFIRMED: "add people as confirmed (they opted in elsewhere)",
    Scope.SUBSCRIBERS_ERASE: "erase a person (GDPR)",
    Scope.CAMPAIGNS_READ: "list campaigns",
    Scope.REPORTS_READ: "read a campaign's report",
}
KEY_START = "nlk_"
_KEY = re.compile(r"nlk_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}")
# How a key's prefix is written (``nlk_`` optional): a name may not look like one, so that
# revoking "by name or prefix" can never mean two keys
_PREFIX = re.compile(r"(?:nlk_)?([0-9a-f]{8})", re.IGNORECASE)
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()  # compared when no row matches
MAX_RATE_LIMIT = 100_000
USE_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most this often
RATE_PERIOD = 60.0  # seconds: a key's rate_limit is requests a minute


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``secret`` is the whole key, to show once and forget."""

    row: ApiKey
    secret: str


class KeyRefusal(StrEnum):
    MISSING = "missing"
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    REVOKED = "revoked"


@dataclass(frozen=True)
class KeyHolder:
    """What a request's key may do (a plain value: it outlives the transaction)."""

    id: int
    name: str
    scopes: frozenset[str]
    rate_limit: int


@dataclass(frozen=True)
class KeyCheck:
    holder: KeyHolder | None
    refusal: KeyRefusal | None = None
    revoked_at: datetime | None = None
    retry_after: float | None = None  # a known key over its rate limit: seconds to wait


def parse_scopes(values: Iterable[str], field: str = "scope") -> list[str]:
    """Scope names (comma-separated items allowed), checked, without repeats, in order."""
    found: list[str] = []
    for value in values:
        for item in value.split(","):
            scope = item.strip()
            if not scope:
                continue
            if scope not in SCOPES:
                raise InvalidInput(
                    field,
                    f"unknown scope {scope!r}{did_you_mean(scope, SCOPES)}; "
                    f"scopes are {', '.join(SCOPES)}",
                )
            if scope not in found:
                found.append(scope)
    if not found:
        raise InvalidInput(field, f"name at least one scope of {', '.join(SCOPES)}")
    return found


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            "name",
            "must be 1–60 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    if _PREFIX.fullmatch(name) or name.lower().startswith(KEY_START):
        raise InvalidInput(
            "name",
            f"{name!r} looks like a key's prefix (8 hex digits, or starting with "
            f"{KEY_START!r}): keys are revoked by name or prefix, so choose another name",
        )
    return name


def check_rate_limit(value: int) -> int:
    if not 0 <= value <= MAX_RATE_LIMIT:
        raise InvalidInput("rate_limit", f"must be between 0 (no limit) and {MAX_RATE_LIMIT}")
    return value


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    session: Session, name: str, scopes: Iterable[str], *, created_by: str, rate_limit: int
) -> NewKey:
    """A new key; :class:`ConflictError` when the name is taken (revoked keys keep theirs)."""
    name = check_name(name)
    checked = parse_scopes(scopes)
    check_rate_limit(rate_limit)
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise ConflictError(f"there is already an API key named {name!r}: choose another name")
    prefix = secrets.token_hex(4)
    while session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is not None:
        prefix = secrets.token_hex(4)  # 1 in 4 billion per key: practically never
    secret = f"{KEY_START}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        name=name,
        prefix=prefix,
        key_hash=key_hash(secret),
        scopes=checked,
        rate_limit=rate_limit,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return NewKey(row, secret)


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, revoked ones too, newest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id)))


def shown_prefix(row: ApiKey) -> str:
    """How a key is shown: its start, as the holder sees it at the start of their key."""
    return f"{KEY_START}{row.prefix}"


def find_key(session: Session, name_or_prefix: str) -> ApiKey:
    """The key with this prefix (``nlk_`` optional) when it is written like one, else the
    key with this name. Names cannot look like a prefix (:func:`check_name`); a key named
    so before that rule, whose name is another key's prefix, is refused as ambiguous."""
    wanted = name_or_prefix.strip()
    row = session.scalar(select(ApiKey).where(ApiKey.name == wanted))
    prefix = _PREFIX.fullmatch(wanted)
    if prefix is not None:
        by_prefix = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix.group(1).lower()))
        if by_prefix is not None and row is not None and by_prefix.id != row.id:
            spelt = shown_prefix(by_prefix)
            other = by_prefix.prefix if wanted.lower() == spelt else spelt
            raise ConflictError(
                f"{wanted!r} is both the prefix of the API key {by_prefix.name!r} and the name "
                f"of another key: write {other} for the first, {shown_prefix(row)} for the other"
            )
        row = by_prefix or row
    if row is None:
        names = session.scalars(select(ApiKey.name))
        raise NotFoundError(f"no API key named {wanted!r}{did_you_mean(wanted, names)}")
    return row


def revoke_key(session: Session, name_or_prefix: str, *, now: datetime | None = None) -> ApiKey:
    """Revoke a key by name or prefix; it stops working at once (every process asks the
    database for each request)."""
    row = find_key(session, name_or_prefix)
    if row.revoked_at is not None:
        raise ConflictError(
            f"the API key {row.name!r} was already revoked on {row.revoked_at:%Y-%m-%d %H:%M} UTC"
        )
    row.revoked_at = now or utcnow()
    session.flush()
    return row


def form_refusal(presented: str | None) -> KeyRefusal | None:
    """Why ``presented`` cannot be a key at all (no database needed), or ``None``."""
    if not presented:
        return KeyRefusal.MISSING
    if _KEY.fullmatch(presented) is None:
        return KeyRefusal.MALFORMED
    return None


def check_key(session: Session, presented: str | None, *, now: datetime | None = None) -> KeyCheck:
    """Who a presented key is, or why it is refused; records when a key was last used."""
    refusal = form_refusal(presented)
    if refusal is not None or presented is None:
        return KeyCheck(None, refusal or KeyRefusal.MISSING)
    match = _KEY.fullmatch(presented)
    assert match is not None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == match.group(1)))
    stored = row.key_hash if row is not None else _DUMMY_HASH
    if not hmac.compare_digest(stored, key_hash(presented)) or row is None:
        return KeyCheck(None, KeyRefusal.UNKNOWN)
    if row.revoked_at is not None:
        return KeyCheck(None, KeyRefusal.REVOKED, row.revoked_at)
    now = now or utcnow()
    holder = KeyHolder(row.id, row.name, frozenset(row.scopes), row.rate_limit)
    if row.rate_limit:
        wait = take_request(session, row.id, row.rate_limit, now.timestamp())
        if wait is not None:
            return KeyCheck(holder, retry_after=wait)
    if row.last_used_at is None or now - row.last_used_at >= USE_RESOLUTION:
        row.last_used_at = now
    return KeyCheck(holder)


def take_request(session: Session, key_id: int, per_minute: int, now: float) -> float | None:
    """One request from the key's allowance of ``per_minute`` a minute (up to a minute's
    worth at once, refilled evenly): ``None`` if allowed, else the seconds to wait.

    The generic cell rate algorithm over one stored moment, ``allowance_used_until``: a
    request may go if that moment is at most a minute (less one request's share) ahead of
    now, and pushes it one share further. One conditional ``UPDATE`` tests and advances it,
    so concurrent requests in several processes are counted exactly, on both databases."""
    share = RATE_PERIOD / per_minute
    latest = now + RATE_PERIOD - share
    used_until = ApiKey.allowance_used_until
    start = case((used_until > now, used_until), else_=literal(now))
    taken = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, used_until <= latest)
        .values(allowance_used_until=start + share)
        .returning(ApiKey.id)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is not None:
        return None
    ahead = session.scalar(select(used_until).where(ApiKey.id == key_id))
    return max(float(ahead or 0.0) - latest, 0.001)
