"""The login throttle: growing waits after failed logins, per account and client address.

A hard lock on an account after a few wrong passwords lets anyone who knows an editor's
address lock them out. Here failures are counted per (account, client address) and per
address overall: after ``free_failures`` in a row from one address to one account, each
further attempt from that address must wait ``first_delay`` (1 s), then twice that, and so
on up to ``max_delay``; the right password from another address still logs in at once.
``address_free_failures`` does the same for an address trying many accounts. A success
clears its own (account, address) count.

An attempt is counted as a failure *before* its password is checked, in a transaction of its
own (:func:`reserve_attempt`), and given back on success (:func:`forgive`): parallel
requests cannot all slip through while one password is being verified. Unknown addresses
are counted like accounts, so the throttle never tells which addresses have one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from newsletter.db import utcnow
from newsletter.editors.model import ANY_ACCOUNT, LoginFailures

_MAX_ADDRESS = 100
_MAX_DOUBLINGS = 24  # 2**24 s is past any cap, and an hour times it fits a timedelta


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free, how long the waits grow, and when counts are forgotten."""

    free_failures: int = 3
    address_free_failures: int = 20
    first_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=5)
    forget: timedelta = timedelta(hours=1)

    def wait_after(self, failures: int, *, overall: bool) -> timedelta:
        """The wait imposed after ``failures`` in a row: none while they are free, then
        ``first_delay`` doubling with each further failure, capped at ``max_delay``."""
        free = self.address_free_failures if overall else self.free_failures
        if failures < free:
            return timedelta(0)
        return min(self.max_delay, self.first_delay * (1 << min(failures - free, _MAX_DOUBLINGS)))


def reserve_attempt(
    session: Session,
    account: str | None,
    address: str,
    policy: ThrottlePolicy,
    *,
    now: datetime | None = None,
) -> float | None:
    """Count a login attempt as a failure in advance: ``None`` if it may go ahead, else
    the seconds to wait (and nothing is counted). ``account`` is the typed address,
    normalised, or ``None`` when it cannot be anyone's (then only the address counts)."""
    now = now or utcnow()
    rows = _locked_rows(session, _keys(account, address), now)
    for row in rows:
        if now - row.wait_until > policy.forget:
            row.failures = 0
    wait = max((row.wait_until - now).total_seconds() for row in rows)
    if wait > 0:
        return wait
    for row in rows:
        row.failures += 1
        overall = row.account == ANY_ACCOUNT
        row.wait_until = now + policy.wait_after(row.failures, overall=overall)
    session.execute(delete(LoginFailures).where(LoginFailures.wait_until < now - policy.forget))
    return None


def forgive(
    session: Session,
    account: str,
    address: str,
    policy: ThrottlePolicy,
    *,
    now: datetime | None = None,
) -> None:
    """A login succeeded: its (account, address) count goes, and the address's overall
    count gives back the failure reserved for this attempt."""
    now = now or utcnow()
    key = address[:_MAX_ADDRESS]
    session.execute(
        delete(LoginFailures).where(LoginFailures.account == account, LoginFailures.address == key)
    )
    overall = session.get(LoginFailures, (ANY_ACCOUNT, key), with_for_update=True)
    if overall is not None and overall.failures > 0:
        overall.failures -= 1
        if policy.wait_after(overall.failures, overall=True) == timedelta(0):
            overall.wait_until = min(overall.wait_until, now)


def forget_account(session: Session, account: str) -> None:
    """Clear every count of one account (its password was just set anew)."""
    session.execute(delete(LoginFailures).where(LoginFailures.account == account))


def _keys(account: str | None, address: str) -> list[tuple[str, str]]:
    key = address[:_MAX_ADDRESS]
    keys = [(ANY_ACCOUNT, key)]
    if account:
        keys.append((account, key))
    return keys


def _locked_rows(
    session: Session, keys: Sequence[tuple[str, str]], now: datetime
) -> list[LoginFailures]:
    """The rows of ``keys``, made if missing, locked (in a fixed order) until commit."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    fresh = [{"account": a, "address": b, "failures": 0, "wait_until": now} for a, b in keys]
    session.execute(insert(LoginFailures).on_conflict_do_nothing(), fresh)
    accounts = [account for account, _ in keys]
    query = (
        select(LoginFailures)
        .where(LoginFailures.address == keys[0][1], LoginFailures.account.in_(accounts))
        .order_by(LoginFailures.account)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))
