"""Editor accounts: argon2 hashes, one answer for every failed login, last admin."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from newsletter.db import Database
from newsletter.editors.accounts import (
    authenticate,
    create_editor,
    editor_for_session,
    set_active,
    set_password,
)
from newsletter.editors.model import Editor
from newsletter.errors import ConflictError, InvalidInput

PASSWORD = "correct horse battery staple"


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
        assert authenticate(session, "BO@example.org", PASSWORD).ok
        assert authenticate(session, "bo@example.org", "wrong " + PASSWORD).outcome == (
            "wrong-password"
        )
        assert authenticate(session, "ann@example.org", PASSWORD).outcome == "disabled"
        assert authenticate(session, "cy@example.org", PASSWORD).outcome == "unknown"
        assert authenticate(session, "nonsense", PASSWORD).outcome == "unknown"
    bo = _editor(db, "bo@example.org")
    assert bo.last_login_at is not None


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
        assert authenticate(session, "ann@example.org", PASSWORD).outcome == ("wrong-password")
        result = authenticate(session, "ann@example.org", "another long passphrase")
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
