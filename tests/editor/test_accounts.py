"""Editor accounts: argon2 hashes, one answer for every failed login, lockout, last admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from newsletter.db import Database, utcnow
from newsletter.editors.accounts import (
    LoginPolicy,
    authenticate,
    create_editor,
    editor_for_session,
    set_active,
    set_password,
)
from newsletter.editors.model import Editor
from newsletter.errors import ConflictError, InvalidInput

PASSWORD = "correct horse battery staple"
POLICY = LoginPolicy(max_failures=3, lockout=timedelta(minutes=15))


def _editor(db: Database, email: str = "ann@example.org") -> Editor:
    with db.transaction() as session:
        return session.scalars(select(Editor).where(Editor.email == email)).one()


def test_a_new_account_keeps_only_an_argon2_hash_and_a_lower_case_address(db: Database) -> None:
    with db.transaction() as session:
        create_editor(session, "Ann@Example.ORG", PASSWORD, "admin")
    ann = _editor(db)
    assert ann.role == "admin" and ann.active
    assert ann.password_hash.startswith("$argon2id$") and PASSWORD not in ann.password_hash
    with db.transaction() as session, pytest.raises(ConflictError, match="already"):
        create_editor(session, "ANN@example.org", PASSWORD)


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        ("not an address", PASSWORD, "email"),
        ("bo@example.org", "too short", "password"),
        ("bo@example.org", " " * 20, "password"),
        ("bo@example.org", "Bo@Example.org", "password"),
        ("bo@example.org", "x" * 1025, "password"),
    ],
)
def test_bad_addresses_and_weak_passwords_are_refused(
    db: Database, email: str, password: str, field: str
) -> None:
    with db.transaction() as session, pytest.raises(InvalidInput) as refused:
        create_editor(session, email, password)
    assert refused.value.field == field
    with db.transaction() as session:
        assert session.scalars(select(Editor)).all() == []


def test_login_outcomes_are_told_apart_only_inside(db: Database) -> None:
    with db.transaction() as session:
        create_editor(session, "ann@example.org", PASSWORD)
        create_editor(session, "bo@example.org", PASSWORD, "admin")
        set_active(session, "ann@example.org", False)
    with db.transaction() as session:
        assert authenticate(session, "BO@example.org", PASSWORD, POLICY).ok
        assert authenticate(session, "bo@example.org", "wrong " + PASSWORD, POLICY).outcome == (
            "wrong-password"
        )
        assert authenticate(session, "ann@example.org", PASSWORD, POLICY).outcome == "disabled"
        assert authenticate(session, "cy@example.org", PASSWORD, POLICY).outcome == "unknown"
        assert authenticate(session, "nonsense", PASSWORD, POLICY).outcome == "unknown"
    bo = _editor(db, "bo@example.org")
    assert bo.last_login_at is not None and bo.failed_logins == 1


def test_repeated_wrong_passwords_lock_the_account_even_against_the_right_one(
    db: Database,
) -> None:
    with db.transaction() as session:
        create_editor(session, "ann@example.org", PASSWORD)
    now = utcnow()
    for _ in range(POLICY.max_failures):
        with db.transaction() as session:
            assert authenticate(session, "ann@example.org", "guess", POLICY, now=now).outcome == (
                "wrong-password"
            )
    locked = _editor(db).locked_until
    assert locked is not None and locked == now + POLICY.lockout
    with db.transaction() as session:
        result = authenticate(session, "ann@example.org", PASSWORD, POLICY, now=now)
        assert result.outcome == "locked" and result.editor is None
    later = now + POLICY.lockout + timedelta(seconds=1)
    with db.transaction() as session:
        assert authenticate(session, "ann@example.org", PASSWORD, POLICY, now=later).ok
    assert _editor(db).locked_until is None and _editor(db).failed_logins == 0


def test_a_right_password_resets_the_count_of_wrong_ones(db: Database) -> None:
    with db.transaction() as session:
        create_editor(session, "ann@example.org", PASSWORD)
    for attempt in ("guess", "guess", PASSWORD, "guess", "guess"):
        with db.transaction() as session:
            authenticate(session, "ann@example.org", attempt, POLICY)
    assert _editor(db).locked_until is None and _editor(db).failed_logins == 2


def test_a_new_password_or_a_disabled_account_ends_existing_sessions(db: Database) -> None:
    with db.transaction() as session:
        ann = create_editor(session, "ann@example.org", PASSWORD)
        create_editor(session, "root@example.org", PASSWORD, "admin")
        first = (ann.id, ann.session_stamp)
    with db.transaction() as session:
        assert editor_for_session(session, *first) is not None
        set_password(session, "ann@example.org", "another long passphrase")
    with db.transaction() as session:
        assert editor_for_session(session, *first) is None
        assert authenticate(session, "ann@example.org", PASSWORD, POLICY).outcome == (
            "wrong-password"
        )
        result = authenticate(session, "ann@example.org", "another long passphrase", POLICY)
        assert result.ok and result.editor is not None
        second = (result.editor.id, result.editor.session_stamp)
        set_active(session, "ann@example.org", False)
    with db.transaction() as session:
        assert editor_for_session(session, *second) is None


def test_the_last_active_admin_cannot_be_disabled(db: Database) -> None:
    with db.transaction() as session:
        create_editor(session, "root@example.org", PASSWORD, "admin")
        create_editor(session, "ann@example.org", PASSWORD)
    with db.transaction() as session, pytest.raises(ConflictError, match="last active admin"):
        set_active(session, "root@example.org", False)
    with db.transaction() as session:
        create_editor(session, "boss@example.org", PASSWORD, "admin")
        set_active(session, "root@example.org", False)
    assert not _editor(db, "root@example.org").active
