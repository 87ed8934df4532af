"""Editor accounts: create, disable, change passwords, and check a login.

Passwords are hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106's low-memory
profile) and re-hashed on login when those defaults change. A login attempt costs the same
whether or not the address belongs to an account (a dummy hash is verified), and its outcome
is told apart only here, for the server's log: the web page gives every failure one answer,
so nobody can learn which addresses have accounts.

Accounts are never locked (that would let anyone lock an editor out): repeated failures slow
down the address they come from instead (:mod:`newsletter.editors.throttle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsletter.db import utcnow
from newsletter.editors.model import ROLES, Editor, new_stamp
from newsletter.editors.throttle import forget_account
from newsletter.errors import ConflictError, InvalidInput, NotFoundError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher()

LoginOutcome = Literal["ok", "unknown", "wrong-password", "disabled"]


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify when there is no account, so that failing costs the same time."""
    return _hasher.hash("no such editor: this only makes timing equal")


def normalise_email(value: str, *, field: str = "email") -> str:
    """The address as stored: validated (no DNS), lower-cased; :class:`InvalidInput` if not."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "an email address is required")
    if len(value) > 320:
        raise InvalidInput(field, "is longer than 320 characters")
    try:
        valid = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(field, f"is not a valid email address ({exc})") from None
    return valid.normalized.lower()


def check_password_rules(password: str, email: str) -> None:
    """Refuse passwords that are too short, too long, blank or the address itself."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput("password", f"must have at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise InvalidInput("password", "must not be only spaces")
    if password.strip().lower() == email.lower():
        raise InvalidInput("password", "must not be the email address")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    return role


def create_editor(session: Session, email: str, password: str, role: str = "editor") -> Editor:
    """A new active account; :class:`ConflictError` when the address has one already."""
    address = normalise_email(email)
    check_role(role)
    check_password_rules(password, address)
    if session.scalar(select(Editor.id).where(Editor.email == address)) is not None:
        raise ConflictError(f"there is already an editor account for {address}")
    editor = Editor(email=address, password_hash=_hasher.hash(password), role=role, active=True)
    session.add(editor)
    session.flush()
    return editor


def find_editor(session: Session, email: str, *, lock: bool = False) -> Editor:
    address = normalise_email(email)
    query = select(Editor).where(Editor.email == address)
    if lock:
        query = query.with_for_update()
    editor = session.scalar(query)
    if editor is None:
        raise NotFoundError(f"no editor account for {address}")
    return editor


def list_editors(session: Session) -> list[Editor]:
    return list(session.scalars(select(Editor).order_by(Editor.email)))


def set_active(session: Session, email: str, active: bool) -> Editor:
    """Enable or disable an account; disabling ends its sessions. The last admin stays."""
    editor = find_editor(session, email, lock=True)
    if not active and editor.role == "admin" and editor.active:
        admins = session.scalar(
            select(func.count()).select_from(Editor).where(Editor.role == "admin", Editor.active)
        )
        if (admins or 0) <= 1:
            raise ConflictError(f"{editor.email} is the last active admin: add another first")
    if editor.active != active:
        editor.active = active
        editor.session_stamp = new_stamp()
    return editor


def set_password(session: Session, email: str, password: str) -> Editor:
    """A new password; every session of the account ends, and the login throttle's counts
    for the account start afresh."""
    editor = find_editor(session, email, lock=True)
    check_password_rules(password, editor.email)
    editor.password_hash = _hasher.hash(password)
    editor.session_stamp = new_stamp()
    forget_account(session, editor.email)
    return editor


def login_account(email: str) -> str | None:
    """The account a login form's address names (normalised), or ``None`` when it cannot
    name any: the key of the login throttle, whether or not the account exists."""
    try:
        return normalise_email(email)
    except InvalidInput:
        return None


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    editor: Editor | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def authenticate(
    session: Session, email: str, password: str, *, now: datetime | None = None
) -> LoginResult:
    """Check a login: one argon2 verification whatever the outcome. Counting failures is
    the login throttle's job (:mod:`newsletter.editors.throttle`)."""
    try:
        editor = find_editor(session, email)
    except (InvalidInput, NotFoundError):
        _waste_time(password)
        return LoginResult("unknown")
    if not editor.active:
        _waste_time(password)
        return LoginResult("disabled")
    if not _verify(editor.password_hash, password):
        return LoginResult("wrong-password")
    if _hasher.check_needs_rehash(editor.password_hash):
        editor.password_hash = _hasher.hash(password)
    editor.last_login_at = now or utcnow()
    return LoginResult("ok", editor)


def end_sessions(session: Session, editor_id: int) -> None:
    """End every session of an account (logging out: a signed cookie copied elsewhere
    would otherwise stay valid until it expires)."""
    editor = session.get(Editor, editor_id)
    if editor is not None:
        editor.session_stamp = new_stamp()


def editor_for_session(session: Session, editor_id: int, stamp: str) -> Editor | None:
    """The active editor a session cookie names, if that session is still theirs."""
    editor = session.get(Editor, editor_id)
    if editor is None or not editor.active or editor.session_stamp != stamp:
        return None
    return editor


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _waste_time(password: str) -> None:
    _verify(_dummy_hash(), password)
