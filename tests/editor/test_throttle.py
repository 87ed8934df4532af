"""The login throttle in the database: free failures, growing capped waits per (account,
address) and per address, other addresses untouched, success and quiet time forgetting."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from newsletter.db import Database, utcnow
from newsletter.editors.accounts import create_editor, set_password
from newsletter.editors.model import LoginFailures
from newsletter.editors.throttle import ThrottlePolicy, forgive, reserve_attempt

POLICY = ThrottlePolicy(
    free_failures=3,
    address_free_failures=5,
    max_delay=timedelta(seconds=10),
    forget=timedelta(minutes=30),
)
ANN = "ann@example.org"
HOME, ELSEWHERE = "198.51.100.7", "203.0.113.9"


def _try(
    db: Database, when: datetime, account: str | None = ANN, address: str = HOME
) -> float | None:
    with db.transaction() as session:
        return reserve_attempt(session, account, address, POLICY, now=when)


def _fail_until_told_to_wait(db: Database, start: datetime, account: str = ANN) -> list[float]:
    """Failures from HOME, each as soon as allowed; the waits imposed, in order."""
    waits: list[float] = []
    when = start
    for _ in range(8):
        assert _try(db, when, account) is None
        wait = _try(db, when)
        if wait is not None:
            waits.append(wait)
            when += timedelta(seconds=wait)
    return waits


def test_waits_start_after_the_free_failures_double_and_stop_at_the_cap(db: Database) -> None:
    now = utcnow()
    assert [_try(db, now) for _ in range(3)] == [None, None, None]
    assert _try(db, now) == 1.0  # after the third failure in a row: wait 1 s
    assert _try(db, now + timedelta(seconds=0.5)) == 0.5
    assert _fail_until_told_to_wait(db, now + timedelta(seconds=1)) == [2, 4, 8, 10, 10, 10, 10, 10]


def test_another_address_is_never_slowed_by_someone_elses_failures(db: Database) -> None:
    now = utcnow()
    for _ in range(3):
        _try(db, now, address=ELSEWHERE)
    assert _try(db, now, address=ELSEWHERE) == 1.0
    assert _try(db, now) is None  # the editor, from home: at once


def test_a_success_clears_its_own_count_only(db: Database) -> None:
    now = utcnow()
    for address in (HOME, HOME, HOME, ELSEWHERE, ELSEWHERE, ELSEWHERE):
        _try(db, now, address=address)
    later = now + timedelta(seconds=1)
    assert _try(db, later) is None  # the editor's fourth attempt, after the wait: right
    with db.transaction() as session:
        forgive(session, ANN, HOME, POLICY, now=later)
    assert _try(db, later) is None and _try(db, later) is None  # free again
    assert _try(db, later, address=ELSEWHERE) is None  # waited its 1 s...
    assert _try(db, later, address=ELSEWHERE) == 2.0  # ...and keeps growing


def test_one_address_trying_many_accounts_is_slowed_down_too(db: Database) -> None:
    now = utcnow()
    accounts = [f"guess{n}@example.org" for n in range(5)]
    assert [_try(db, now, account) for account in accounts] == [None] * 5
    assert _try(db, now, "guess9@example.org") == 1.0
    assert _try(db, now, None) == 1.0  # not even a valid address gets past it
    assert _try(db, now, "guess9@example.org", ELSEWHERE) is None


def test_a_count_is_forgotten_after_a_quiet_while(db: Database) -> None:
    now = utcnow()
    for _ in range(4):
        _try(db, now)
    assert _try(db, now + timedelta(minutes=29)) is None  # its wait is over: allowed
    quiet = now + timedelta(minutes=29, seconds=3) + POLICY.forget
    assert [_try(db, quiet) for _ in range(3)] == [None, None, None]  # free failures again
    with db.transaction() as session:
        rows = session.scalars(select(LoginFailures)).all()
    assert {row.failures for row in rows} == {3}


def test_a_new_password_forgets_the_accounts_counts(db: Database) -> None:
    with db.transaction() as session:
        create_editor(session, ANN, "correct horse battery staple")
    now = utcnow()
    for _ in range(4):
        _try(db, now)
    with db.transaction() as session:
        set_password(session, ANN, "another long passphrase")
    assert _try(db, now) is None
