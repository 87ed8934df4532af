"""The SQL delivery store: claims with leases, outcome recording, lease expiry.

On PostgreSQL any number of workers claim from one campaign at once with
``SELECT … FOR UPDATE SKIP LOCKED``; SQLite runs one worker (its single writer makes each
claim statement atomic, which is enough for that worker's threads). Every method is one
short transaction, committed before the caller talks to a provider; they run on plain
connections (SQLAlchemy Core), not ORM sessions: a worker holds no objects, and a session's
bookkeeping was a measurable share of a batch.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    Table,
    Update,
    any_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import NullType

from campaigns.dispatch import Claim, ClaimedRecipient
from campaigns.model import Campaign, Delivery, Variant
from campaigns.states import CampaignStatus, DeliveryStatus
from campaigns.webhook_events import report_campaign
from campaigns.welcome_model import WelcomeCampaign
from newsletter.db import Database, utcnow
from newsletter.delivery.base import RecipientResult, RecipientStatus
from newsletter.webhooks.model import EventType
from subscribers.model import Subscriber
from subscribers.suppression import mailable

_ERROR_LIMIT = 2000
_AnySelect = Select[*tuple[Any, ...]]
DELIVERIES = cast(Table, Delivery.__table__)


def _literal(status: DeliveryStatus) -> ColumnElement[str]:
    """A state as an SQL literal, not a parameter, so that the planners can match it to the
    partial indexes on that state (``ix_deliveries_queued``, ``ix_deliveries_sending``)."""
    return literal_column(f"'{status.value}'")


QUEUED = _literal(DeliveryStatus.QUEUED)
SENDING = _literal(DeliveryStatus.SENDING)
# The states a worker may still record an outcome over: its own ``sending`` rows, and
# ``unknown`` ones (a lease that ran out mid-request), since the provider's answer beats it.
_RECORDABLE = (DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN)
_LEFT = "no longer subscribed when their turn came"

# Planner hint. Statements that reach deliveries by id (a claim's 1,000 ids) or through
# the partial indexes run with sequential scans off on PostgreSQL: against a table of
# 100,000–300,000 deliveries the planner otherwise preferred to read the whole table (slower
# per update, and CPU the lanes and the other workers share; measured in
# docs/benchmarks.md, Sending). Guarded by tests/campaigns/test_claims.py (the plans).
_BY_KEY_HINT = "SET LOCAL enable_seqscan = off"

# ``record`` writes sent rows with one set-based UPDATE per message id while there are at
# most this many distinct ids and some id is shared (SendGrid: one per batch); otherwise
# (SMTP, outbox: one per recipient, in batches or in the acceptance journal's small
# groups) with one executemany UPDATE whose parameters carry each row's id.
_GROUPED_MESSAGE_IDS = 8


def held_rest(conn: Connection, campaign_id: int) -> ColumnElement[bool]:
    """What a claim may take: every queued row, but while a subject test is undecided only
    its cells' variants (the rest waits for the winner, :mod:`campaigns.subject_tests`).

    The cells' variant ids go into the query itself, so the scan of ``ix_deliveries_queued``
    reaches only their rows instead of walking past the held rest (most of the audience)."""
    test = conn.execute(
        select(Campaign.test_share, Campaign.test_decided_at).where(Campaign.id == campaign_id)
    ).first()
    if test is None or test[0] is None or test[1] is not None:
        return true()
    cells = conn.scalars(
        select(Variant.id).where(Variant.campaign_id == campaign_id, Variant.cell.is_not(None))
    ).all()
    return Delivery.variant_id.in_(list(cells))


def worker_name() -> str:
    """host:pid:random: unique per process, readable in `campaigns show`."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class SqlDeliveryStore:
    """:class:`~campaigns.dispatch.DeliveryStore` over the ``deliveries`` table."""

    def __init__(
        self,
        database: Database,
        *,
        worker: str | None = None,
        lease_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.worker = worker or worker_name()
        self.lease = timedelta(seconds=lease_seconds)
        self.clock = clock
        self._skip_locked = database.dialect == "postgresql"
        self._claiming = threading.Lock()
        self._local: dict[int, bool] = {}  # campaign → sent at the readers' local time

    def _now(self) -> datetime:
        """The clock's now: what a row's ``not_before`` is compared with."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def _is_local(self, conn: Connection, campaign_id: int) -> bool:
        """Whether the campaign's rows carry not-before moments (fixed once it is frozen)."""
        if campaign_id not in self._local:
            self._local[campaign_id] = bool(
                conn.scalar(
                    select(Campaign.local_send_time.is_not(None)).where(Campaign.id == campaign_id)
                )
            )
        return self._local[campaign_id]

    def _due(self, query: _AnySelect, campaign_id: int, local: bool) -> _AnySelect:
        """Queued rows of the campaign a claim may take, in claim order: all of them, or
        with local times the due ones, earliest moment first (``ix_deliveries_queued_local``
        holds them in that order, so rows whose hour has not come are never read)."""
        query = query.where(Delivery.campaign_id == campaign_id, Delivery.status == QUEUED)
        if not local:
            return query.order_by(Delivery.variant_id, Delivery.id)
        return query.where(
            Delivery.not_before.is_not(None), Delivery.not_before <= self._now()
        ).order_by(Delivery.not_before, Delivery.variant_id, Delivery.id)

    def _in(self, column: Any, ids: Collection[int]) -> ColumnElement[bool]:
        """``column IN ids``; on PostgreSQL one array parameter (``= ANY``) instead of a
        thousand placeholders, which psycopg would otherwise parse on every call.

        The array travels in its text form (``{1,2,3}``), cheaper to build than psycopg's
        list adapter makes it, as an *untyped* parameter cast to ``bigint[]``: the
        server then types the parameter itself and reads the value once. (Sent as a typed
        string and cast, the array would be re-parsed for every row a sequential scan
        visits.)"""
        if self._skip_locked:
            array = "{" + ",".join(map(str, map(int, ids))) + "}"
            untyped = bindparam(None, array, type_=NullType())
            return cast(ColumnElement[bool], column == any_(sql_cast(untyped, ARRAY(BigInteger))))
        return cast(ColumnElement[bool], column.in_(list(ids)))

    @contextmanager
    def _by_key(self) -> Iterator[Connection]:
        """A transaction for statements that reach rows by id or through the partial
        indexes: on PostgreSQL with :data:`_BY_KEY_HINT` (why: see there)."""
        with self.database.engine.begin() as conn:
            if self._skip_locked:
                conn.exec_driver_sql(_BY_KEY_HINT)
            yield conn

    # --- claiming ---------------------------------------------------------------------

    def claim(self, campaign_id: int, limit: int) -> Claim | None:
        with self._by_key() as conn:
            local = self._is_local(conn, campaign_id)
            if self._skip_locked:
                return self._claim_locked(conn, campaign_id, limit, local)
            return self._claim_single_writer(conn, campaign_id, limit, local)

    def _claim_locked(
        self, conn: Connection, campaign_id: int, limit: int, local: bool
    ) -> Claim | None:
        """PostgreSQL: lock up to ``limit`` queued rows, with their subscribers, in one
        query (``FOR UPDATE OF deliveries SKIP LOCKED``), then mark those of the first
        variant ``sending``; rows of a following variant are only locked until commit."""
        query = self._locking_claim(campaign_id, limit, local, held_rest(conn, campaign_id))
        # One locking scan at a time per worker: lanes of one process taking row locks
        # side by side would split each other's batches into smaller requests. The rows
        # stay locked until this transaction commits, so the rest needs no serialising.
        with self._claiming:
            rows = conn.execute(query).all()
        if not rows:
            return None
        variant_id = rows[0][1]
        recipients: list[ClaimedRecipient] = []
        gone: list[int] = []
        for delivery_id, row_variant, uid, email, name, can_mail in rows:
            if row_variant != variant_id:
                break
            if can_mail and email:
                recipients.append(ClaimedRecipient(delivery_id, uid, email, name))
            else:
                gone.append(delivery_id)
        if recipients:
            self._mark_sending(conn, [r.delivery_id for r in recipients])
        if gone:
            self._set(conn, gone, DeliveryStatus.SKIPPED, _LEFT)
        return Claim(campaign_id, variant_id, tuple(recipients))

    def _locking_claim(
        self,
        campaign_id: int,
        limit: int,
        local: bool,
        held: ColumnElement[bool] | None = None,
    ) -> _AnySelect:
        """The claim's one query on PostgreSQL (its plan: tests/campaigns/test_claims.py)."""
        sending = exists(
            select(Campaign.id).where(
                Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING
            )
        )
        rows_of = select(
            Delivery.id,
            Delivery.variant_id,
            Subscriber.uid,
            Subscriber.email,
            Subscriber.name,
            case((mailable(), True), else_=False),
        ).join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        return (
            self._due(rows_of, campaign_id, local)
            .where(sending, true() if held is None else held)
            .limit(limit)
            .with_for_update(of=Delivery, skip_locked=True)
        )

    def _claim_single_writer(
        self, conn: Connection, campaign_id: int, limit: int, local: bool
    ) -> Claim | None:
        """SQLite: one UPDATE … WHERE id IN (SELECT … LIMIT) is atomic under its single
        writer, which is all one worker's lanes need."""
        first = self._next_slot(conn, campaign_id, local)
        if first is None:
            return None
        variant_id, not_before = first
        ids = (
            select(Delivery.id)
            .where(
                Delivery.campaign_id == campaign_id,
                Delivery.variant_id == variant_id,
                Delivery.status == QUEUED,
            )
            .order_by(Delivery.id)
            .limit(limit)
        )
        if local:  # one moment's rows: its index range, in id order
            ids = ids.where(Delivery.not_before == not_before)
        claimed = conn.execute(
            self._sending_values(
                _update_deliveries().where(
                    Delivery.id.in_(ids.scalar_subquery()), Delivery.status == QUEUED
                )
            ).returning(Delivery.id, Delivery.subscriber_id)
        ).all()
        if not claimed:
            return Claim(campaign_id, variant_id, ())
        return Claim(campaign_id, variant_id, self._recipients(conn, claimed))

    def _sending_values(self, query: Update) -> Update:
        now = utcnow()
        return query.values(
            status=DeliveryStatus.SENDING,
            worker=self.worker,
            lease_until=now + self.lease,
            attempts=Delivery.attempts + 1,
            updated_at=now,
        )

    def _mark_sending(self, conn: Connection, ids: list[int]) -> None:
        conn.execute(self._sending_values(_update_deliveries().where(self._in(Delivery.id, ids))))

    def _next_slot(
        self, conn: Connection, campaign_id: int, local: bool
    ) -> tuple[int, datetime | None] | None:
        """A variant (and, with local times, a due moment) with queued rows, if the campaign
        is still sending."""
        query = select(Delivery.variant_id, Delivery.not_before).join(
            Campaign, Campaign.id == Delivery.campaign_id
        )
        row = conn.execute(
            self._due(query, campaign_id, local)
            .where(Campaign.status == CampaignStatus.SENDING, held_rest(conn, campaign_id))
            .limit(1)
        ).first()
        return None if row is None else (int(row[0]), row[1])

    def _recipients(
        self, conn: Connection, claimed: Sequence[tuple[int, int]]
    ) -> tuple[ClaimedRecipient, ...]:
        """Subscriber details of claimed rows; rows whose subscriber left meanwhile are skipped."""
        by_subscriber = {subscriber_id: delivery_id for delivery_id, subscriber_id in claimed}
        rows = conn.execute(
            select(
                Subscriber.id,
                Subscriber.uid,
                Subscriber.email,
                Subscriber.name,
                case((mailable(), True), else_=False),
            ).where(self._in(Subscriber.id, by_subscriber))
        ).all()
        recipients: list[ClaimedRecipient] = []
        gone: list[int] = []
        for subscriber_id, uid, email, name, can_mail in rows:
            delivery_id = by_subscriber.pop(subscriber_id)
            if can_mail and email:
                recipients.append(ClaimedRecipient(delivery_id, uid, email, name))
            else:
                gone.append(delivery_id)
        gone += by_subscriber.values()  # subscriber rows deleted outright
        if gone:
            self._set(conn, gone, DeliveryStatus.SKIPPED, _LEFT)
        recipients.sort(key=lambda r: r.delivery_id)
        return tuple(recipients)

    def extend_lease(self, claim: Claim) -> None:
        with self._by_key() as conn:
            conn.execute(
                _update_deliveries()
                .where(
                    self._in(Delivery.id, [r.delivery_id for r in claim.recipients]),
                    Delivery.status == DeliveryStatus.SENDING,
                    Delivery.worker == self.worker,
                )
                .values(lease_until=utcnow() + self.lease)
            )

    # --- recording --------------------------------------------------------------------

    def record(self, results: Sequence[RecipientResult]) -> None:
        """Sent rows grouped by message id (SendGrid: one per batch) in set-based updates;
        ``sent_at`` is the worker's clock, as its claims and subject-test decisions use."""
        now = self._now()
        sent: dict[str | None, list[int]] = defaultdict(list)
        failed: list[dict[str, object]] = []
        for result in results:
            if result.status == RecipientStatus.SENT:
                sent[result.message_id].append(int(result.key))
            else:
                failed.append({"b_id": int(result.key), "b_error": _clip(result.error)})
        with self._by_key() as conn:
            rows = sum(map(len, sent.values()))
            grouped = len(sent) <= _GROUPED_MESSAGE_IDS and rows > len(sent)
            for message_id, ids in sent.items() if grouped else ():
                conn.execute(
                    self._mine(ids).values(
                        status=DeliveryStatus.SENT,
                        message_id=message_id,
                        sent_at=now,
                        updated_at=now,
                        lease_until=None,
                        error=None,
                    )
                )
            if not grouped:
                conn.execute(
                    self._mine_by_param().values(
                        status=DeliveryStatus.SENT,
                        message_id=bindparam("b_mid"),
                        sent_at=now,
                        updated_at=now,
                        lease_until=None,
                        error=None,
                    ),
                    [{"b_id": i, "b_mid": mid} for mid, ids in sent.items() for i in ids],
                )
            if failed:
                conn.execute(
                    self._mine_by_param().values(
                        status=DeliveryStatus.FAILED,
                        error=bindparam("b_error"),
                        updated_at=now,
                        lease_until=None,
                    ),
                    failed,
                )

    def _mine(self, ids: Collection[int]) -> Update:
        """Rows of this worker's claim, in one of the :data:`_RECORDABLE` states."""
        return _update_deliveries().where(
            self._in(Delivery.id, ids),
            Delivery.status.in_(_RECORDABLE),
            Delivery.worker == self.worker,
        )

    def _mine_by_param(self) -> Update:
        """Core UPDATE for executemany: one row per parameter set (``b_id``)."""
        return update(DELIVERIES).where(
            DELIVERIES.c.id == bindparam("b_id"),
            or_(*(DELIVERIES.c.status == status for status in _RECORDABLE)),
            DELIVERIES.c.worker == self.worker,
        )

    def requeue(self, keys: Collection[str], reason: str) -> None:
        with self._by_key() as conn:
            conn.execute(
                self._mine([int(k) for k in keys]).values(
                    status=DeliveryStatus.QUEUED,
                    error=_clip(reason),
                    lease_until=None,
                    worker=None,
                    updated_at=utcnow(),
                )
            )

    def fail(self, keys: Collection[str], reason: str) -> None:
        with self._by_key() as conn:
            self._set(conn, [int(k) for k in keys], DeliveryStatus.FAILED, reason, mine=True)

    def mark_unknown(self, keys: Collection[str], reason: str) -> None:
        with self._by_key() as conn:
            self._set(conn, [int(k) for k in keys], DeliveryStatus.UNKNOWN, reason, mine=True)

    def _set(
        self,
        conn: Connection,
        ids: list[int],
        status: DeliveryStatus,
        reason: str,
        *,
        mine: bool = False,
    ) -> None:
        query = self._mine(ids) if mine else _update_deliveries().where(self._in(Delivery.id, ids))
        conn.execute(
            query.values(status=status, error=_clip(reason), lease_until=None, updated_at=utcnow())
        )

    # --- the campaign -----------------------------------------------------------------

    def pause(self, campaign_id: int, reason: str) -> None:
        with self.database.engine.begin() as conn:
            conn.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING)
                .values(status=CampaignStatus.PAUSED, status_reason=_clip(reason))
            )

    def expire_leases(self, campaign_id: int | None = None) -> int:
        """Rows left ``sending`` past their lease (a worker died) become ``unknown``."""
        now = utcnow()
        query = _update_deliveries().where(Delivery.status == SENDING, Delivery.lease_until < now)
        if campaign_id is not None:
            query = query.where(Delivery.campaign_id == campaign_id)
        with self.database.engine.begin() as conn:
            result = conn.execute(
                query.values(
                    status=DeliveryStatus.UNKNOWN,
                    error="the worker sending it stopped before recording the outcome",
                    updated_at=now,
                )
            )
        return int(result.rowcount or 0)

    def finish_if_done(self, campaign_id: int) -> bool:
        """Mark a sending campaign ``sent`` once no row is queued or in flight."""
        with self.database.engine.begin() as conn:
            busy = conn.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(
                    Delivery.campaign_id == campaign_id,
                    Delivery.status.in_((DeliveryStatus.QUEUED, DeliveryStatus.SENDING)),
                )
            )
            if busy:
                return False
            now = utcnow()
            name = conn.scalar(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING)
                .values(status=CampaignStatus.SENT, finished_at=now)
                .returning(Campaign.name)
            )
            if name is None:
                return False
            if _first_finish(conn, campaign_id, now):
                report_campaign(conn, EventType.CAMPAIGN_SENT, campaign_id, name, now)
            return True


def _first_finish(conn: Connection, campaign_id: int, now: datetime) -> bool:
    """Whether ``campaign.sent`` is to be reported now: only the first time the campaign
    finishes (a campaign sending again after ``send --retry-unknown`` or a quarantine
    resend finishes again, and is not reported again), and never for a welcome-series
    campaign, which takes new readers for as long as its step lasts. Marks it reported."""
    reported = conn.scalar(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.sent_reported_at.is_(None),
            ~exists().where(WelcomeCampaign.campaign_id == Campaign.id),
        )
        .values(sent_reported_at=now)
        .returning(Campaign.id)
    )
    return reported is not None


def _update_deliveries() -> Update:
    """An UPDATE of deliveries that skips the ORM's session synchronisation: the store
    never holds Delivery objects, and the synchronisation was a large share of a batch."""
    return update(Delivery).execution_options(synchronize_session=False)


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= _ERROR_LIMIT else text[: _ERROR_LIMIT - 1] + "…"
