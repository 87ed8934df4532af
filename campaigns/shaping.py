"""Shaped sending: provider limits, a new domain's warm-up and a delivery window, shared by
every worker through the database.

Before each claim the dispatcher asks a :class:`SendShaper` "may I send n now?"
(:meth:`SendShaper.admit`); the answer is how many, and how long to wait first; right before
each provider request it books the per-second limit (:meth:`SendShaper.pace`). Two kinds of
shared state answer it, each a row updated atomically (one ``UPDATE … RETURNING``; on
PostgreSQL the row lock, on SQLite the single writer, orders the workers):

- **pacing** (``send_pacing``): a per-second limit, or a campaign's delivery window, is a
  rate; each key keeps the next free moment, and a batch of n takes ``n / rate`` seconds from
  it (GCRA's "theoretical arrival time" without a burst allowance). A batch is at most
  :data:`PACING_STEP` seconds' worth, so that a rate is kept over short spans too, not only
  on average;
- **quotas** (``send_quotas``): per clock hour and per UTC day, a key counts what it let
  through in its current window; a request larger than what is left gets what is left.
  When nothing is left the answer is 0 and the time the window reopens: the campaign says
  ``waiting for … resumes at …`` in its status reason, and the dispatcher waits (a short
  wait) or leaves the campaign to a later round of the workers (:mod:`campaigns.dispatch`).

Keys: the provider (``provider:sendgrid``, ``provider:smtp:<host>``, ``provider:outbox``)
for the ``NEWSLETTER_SEND_LIMIT_*`` settings (or its own in ``NEWSLETTER_SEND_LIMITS``),
the From domain (``domain:<name>``) for the warm-up, the campaign (``campaign:<id>``) for
its delivery window. The warm-up's day 1 is the UTC day the domain first sent
(``sending_domains``), recorded the first time a campaign from it is dispatched.

Quotas and windows are asked before a batch is claimed, so no row waits for an hour or a
day in ``sending``; rows a claim did not find, and rows put back in the queue unsent (the
provider kept refusing for now, refused our credentials, or the batch could not be built),
are given back to the quotas they were taken from (:meth:`SendShaper.give_back`; the window
time booked for them is not: a fraction of a step at a send's end, on the safe side).
The per-second limit is booked when the batch is ready to go (every try of it: a retried
request counts too); its wait is at most a step per lane
in flight, far inside the claim's lease. With no limit, no warm-up and no window there is
no shaper at all (:func:`shaper_for` returns None): sending then makes no extra database
round trip per batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from sqlalchemy import Connection, case, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from campaigns.dispatch import Admission
from campaigns.envelope import Envelope
from campaigns.model import (
    Campaign,
    Delivery,
    SendingDomain,
    SendPacing,
    SendQuota,
    Variant,
)
from campaigns.states import CampaignStatus
from newsletter.config import ProviderLimits, ProviderName, Settings
from newsletter.db import Base, Database, utcnow
from newsletter.errors import InvalidInput

PACING_STEP = 0.2
"""Seconds of a rate one batch may take: 300/s makes batches of 60, five a second, so that
any few seconds of a send keep the rate (a 1,000-recipient batch would be 3.3 s at once)."""

WINDOW_BATCHES = 200
"""A delivery window is cut into about this many batches (at least :data:`PACING_STEP`
apart): an hour's window sends every 18 s, not five times a second."""

WINDOW_HORIZON = 60.0
"""How far ahead a delivery window may be booked: a lane whose next moment is further off
leaves the campaign to a later round of the workers (:mod:`campaigns.sending`), rather
than keep its worker from every other campaign for the whole window."""

WAITING = "waiting for "
"""How a campaign's status reason starts while a quota holds it (cleared when it moves)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_WARMUP = 10**12


class Period(StrEnum):
    """A quota's window: the clock hour or the day, in UTC."""

    HOUR = "hour"
    DAY = "day"

    def start(self, moment: datetime) -> datetime:
        if self is Period.HOUR:
            return moment.replace(minute=0, second=0, microsecond=0)
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)

    def end(self, moment: datetime) -> datetime:
        length = timedelta(hours=1) if self is Period.HOUR else timedelta(days=1)
        return self.start(moment) + length


@dataclass(frozen=True)
class Pace:
    """A rate every worker shares: ``rate`` messages a second under ``key``.

    A short-step rate (a per-second limit) is booked right before the provider request, so
    that a lane slow to claim and build its batch (a worker starting up) cannot send late
    next to the one after it and burst past the limit; its wait is at most a step per lane
    in flight. A long-step one (a delivery window) is booked ``before_claim``, so that no
    claimed row waits minutes in ``sending``."""

    key: str
    rate: float
    step: float = PACING_STEP
    before_claim: bool = False

    @property
    def batch(self) -> int:
        """The largest batch that keeps the rate over ``step`` seconds."""
        return max(1, int(self.rate * self.step))


@dataclass(frozen=True)
class Quota:
    """At most ``limit`` messages per ``period`` under ``key``; ``label`` says which limit,
    for a person (``the daily limit of sendgrid (50,000 a day)``)."""

    key: str
    period: Period
    limit: int
    label: str


@dataclass(frozen=True)
class WarmUp:
    """A From domain's warm-up: ``start`` messages on its first day, ``factor`` times more
    each day after."""

    domain: str
    first_day: date
    start: int
    factor: float

    def day(self, on: date) -> int:
        return max(1, (on - self.first_day).days + 1)

    def limit(self, on: date) -> int:
        grown = self.start * self.factor ** min(self.day(on) - 1, 200)
        return int(min(grown, _MAX_WARMUP))

    def quota(self, on: date) -> Quota:
        limit = self.limit(on)
        return Quota(
            domain_key(self.domain),
            Period.DAY,
            limit,
            f"the warm-up limit of {self.domain} (day {self.day(on)}: {limit:,} today)",
        )


@dataclass(frozen=True)
class ShapingPlan:
    """What shapes one campaign's send: its paces, its quotas and its domain's warm-up."""

    paces: tuple[Pace, ...] = ()
    quotas: tuple[Quota, ...] = ()
    warmup: WarmUp | None = None

    @property
    def empty(self) -> bool:
        return not (self.paces or self.quotas or self.warmup)

    def quotas_on(self, moment: datetime) -> list[Quota]:
        """The quotas in force at ``moment`` (the warm-up's grows each day), by key."""
        quotas = list(self.quotas)
        if self.warmup is not None:
            quotas.append(self.warmup.quota(moment.date()))
        return sorted(quotas, key=lambda q: (q.key, q.period))

    def batch(self, largest: int) -> int:
        """The batch to ask for: ``largest``, or less under a rate (see :class:`Pace`)."""
        return min([largest, *(p.batch for p in self.paces)])


def provider_key(settings: Settings, provider: ProviderName) -> str:
    """Whose limits a send counts against: the provider, and for SMTP its host."""
    if provider == "smtp" and settings.smtp_url:
        host = urlsplit(settings.smtp_url).hostname
        return f"provider:smtp:{(host or '').lower()}"
    return f"provider:{provider}"


def domain_key(domain: str) -> str:
    return f"domain:{domain}"


def from_domain(address: str) -> str:
    return address.rpartition("@")[2].strip().lower().rstrip(".")


def provider_limits(settings: Settings, name: str) -> ProviderLimits:
    """The limits of provider ``name`` (``sendgrid``, ``smtp:relay.example.org`` …): its
    own in ``NEWSLETTER_SEND_LIMITS`` (by host, else by kind), the general ones for the
    rest."""
    general = ProviderLimits(
        per_second=settings.send_limit_per_second,
        per_hour=settings.send_limit_per_hour,
        per_day=settings.send_limit_per_day,
    )
    for candidate in (name, name.partition(":")[0]):
        own = settings.send_limits.get(candidate)
        if own is not None:
            return general.model_copy(update=own.model_dump(exclude_none=True))
    return general


def limit_quotas(limits: ProviderLimits, key: str, name: str) -> tuple[Quota, ...]:
    """The hourly and daily quotas of ``limits``, for ``key``."""
    quotas = []
    if limits.per_hour:
        limit = limits.per_hour
        quotas.append(
            Quota(key, Period.HOUR, limit, f"the hourly limit of {name} ({limit:,} an hour)")
        )
    if limits.per_day:
        limit = limits.per_day
        quotas.append(Quota(key, Period.DAY, limit, f"the daily limit of {name} ({limit:,} a day)"))
    return tuple(quotas)


def window_pace(campaign_id: int, recipients: int, minutes: float) -> Pace:
    """The rate that spreads ``recipients`` over ``minutes``."""
    seconds = minutes * 60
    rate = max(recipients, 1) / seconds
    step = max(PACING_STEP, seconds / WINDOW_BATCHES)
    return Pace(f"campaign:{campaign_id}", rate, step, before_claim=True)


def plan_for(
    settings: Settings,
    campaign_id: int,
    envelope: Envelope,
    *,
    spread: tuple[int, float] | None = None,
    first_day: date | None = None,
) -> ShapingPlan:
    """The plan of a campaign frozen with ``envelope``; ``spread`` is (recipients, minutes)
    of its delivery window, ``first_day`` its From domain's first sending day."""
    key = provider_key(settings, envelope.provider)
    name = key.removeprefix("provider:")
    limits = provider_limits(settings, name)
    paces = []
    if limits.per_second:
        paces.append(Pace(key, limits.per_second))
    if spread is not None:
        paces.append(window_pace(campaign_id, *spread))
    warmup = None
    if settings.warmup_start and first_day is not None:
        domain = from_domain(envelope.from_email)
        warmup = WarmUp(domain, first_day, settings.warmup_start, settings.warmup_factor)
    return ShapingPlan(tuple(paces), limit_quotas(limits, key, name), warmup)


def shaper_for(
    database: Database,
    settings: Settings,
    campaign_id: int,
    *,
    clock: Callable[[], float] = time.time,
    totals: dict[int, int] | None = None,
) -> SendShaper | None:
    """The shaper of a campaign's send, or None when nothing shapes it; ``totals`` keeps
    the recipients of campaigns with a window counted already (a frozen campaign's count
    does not change, and counting a million rows every round would be a waste).

    Its first variant's envelope names the provider and From domain of all of them (one
    freeze decides every variant's envelope from the same settings). Records that domain's
    first sending day (once per domain, ever)."""
    with database.engine.begin() as conn:
        row = conn.execute(
            select(Campaign.spread_minutes, Variant.envelope, Variant.id)
            .join(Variant, Variant.campaign_id == Campaign.id)
            .where(Campaign.id == campaign_id)
            .order_by(Variant.position)
            .limit(1)
        ).first()
        if row is None:
            return None
        minutes, stored, variant_id = row
        try:
            envelope = Envelope.from_json(stored, variant_id=variant_id)
        except ValueError:  # its batches cannot be built: the dispatcher pauses it, saying why
            return None
        today = datetime.fromtimestamp(clock(), UTC).date()
        first_day = record_domain(conn, from_domain(envelope.from_email), today)
        spread = None
        if minutes:
            totals = {} if totals is None else totals
            if campaign_id not in totals:
                totals[campaign_id] = int(
                    conn.scalar(
                        select(func.count())
                        .select_from(Delivery)
                        .where(Delivery.campaign_id == campaign_id)
                    )
                    or 0
                )
            spread = (totals[campaign_id], float(minutes))
    plan = plan_for(settings, campaign_id, envelope, spread=spread, first_day=first_day)
    if plan.empty:
        return None
    return SendShaper(database, campaign_id, plan, clock=clock)


def _insert_new(conn: Connection, entity: type[Base], **values: object) -> None:
    """``INSERT … ON CONFLICT DO NOTHING``: a row every worker may make, made once."""
    if conn.dialect.name == "postgresql":
        conn.execute(pg_insert(entity).values(**values).on_conflict_do_nothing())
    else:
        conn.execute(sqlite_insert(entity).values(**values).on_conflict_do_nothing())


def record_domain(conn: Connection, domain: str, today: date) -> date | None:
    """The first sending day of ``domain``, recorded as ``today`` if it is new."""
    if not domain:
        return None
    _insert_new(conn, SendingDomain, domain=domain, first_sent_on=today, created_at=utcnow())
    return conn.scalar(select(SendingDomain.first_sent_on).where(SendingDomain.domain == domain))


class SendShaper:
    """One campaign's side of the shared limits (thread-safe: every call is its own
    transaction). ``clock`` gives seconds since the epoch (tests move it by hours)."""

    def __init__(
        self,
        database: Database,
        campaign_id: int,
        plan: ShapingPlan,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.campaign_id = campaign_id
        self.plan = plan
        self._clock = clock
        self._lock = threading.Lock()
        self._shown_waiting = True  # another worker may have said so: clear on first success
        self._early = [p for p in plan.paces if p.before_claim]
        self._late = [p for p in plan.paces if not p.before_claim]
        self._ensure_rows()

    def batch(self, largest: int) -> int:
        return self.plan.batch(largest)

    def _ensure_rows(self) -> None:
        moment = datetime.fromtimestamp(self._clock(), UTC)
        with self.database.engine.begin() as conn:
            for pace in self.plan.paces:
                _insert_new(conn, SendPacing, key=pace.key, free_at=0.0)
            for quota in self.plan.quotas_on(moment):
                _insert_new(
                    conn,
                    SendQuota,
                    key=quota.key,
                    period=quota.period,
                    starts_at=_EPOCH,
                    used=0,
                    granted=0,
                )

    # --- asking -----------------------------------------------------------------------

    def admit(self, want: int) -> Admission:
        """How many of ``want`` may go, and after how long (see :class:`Admission`)."""
        now = self._clock()
        moment = datetime.fromtimestamp(now, UTC)
        count = want
        quotas = self.plan.quotas_on(moment)
        if quotas:
            count, full = self._take_quotas(quotas, want, moment)
            if full is not None:
                until = full.period.end(moment)
                self._show_waiting(f"{WAITING}{full.label}: resumes at {until:%Y-%m-%d %H:%M} UTC")
                return Admission(0, (until - moment).total_seconds())
        booked, wait = self._reserve(self._early, count, now, WINDOW_HORIZON)
        if not booked:  # the window's next moment is far off: come back nearer to it
            if quotas:
                self.give_back(count)
            return Admission(0, wait)
        if self._shown_waiting:
            self._clear_waiting()
        return Admission(count, wait, now if quotas else None)

    def pace(self, count: int) -> float:
        """The wait before a request of ``count`` under the per-second limit (if any)."""
        return self._reserve(self._late, count, self._clock())[1]

    def _take_quotas(
        self, quotas: Sequence[Quota], want: int, moment: datetime
    ) -> tuple[int, Quota | None]:
        """Take up to ``want`` from every quota in one transaction: the least any of them
        had left (what others gave beyond it goes back); 0 and the quota that is spent."""
        taken: list[tuple[Quota, int]] = []
        with self.database.engine.begin() as conn:
            count = want
            for quota in quotas:
                count = self._take(conn, quota, count, moment)
                if count == 0:
                    self._return(conn, taken, 0, moment)
                    return 0, quota
                taken.append((quota, count))
            self._return(conn, taken, count, moment)
        return count, None

    def _take(self, conn: Connection, quota: Quota, want: int, moment: datetime) -> int:
        start = quota.period.start(moment)
        current = case((SendQuota.starts_at == start, SendQuota.used), else_=0)
        room = literal(quota.limit) - current
        give = case((room < want, room), else_=literal(want))
        granted = conn.scalar(
            update(SendQuota)
            .where(
                SendQuota.key == quota.key,
                SendQuota.period == quota.period,
                current < quota.limit,
            )
            .values(used=current + give, granted=give, starts_at=start)
            .returning(SendQuota.granted)
        )
        return int(granted or 0)

    def _return(
        self, conn: Connection, taken: Sequence[tuple[Quota, int]], kept: int, moment: datetime
    ) -> None:
        for quota, count in taken:
            if count > kept:
                self._give(conn, quota, count - kept, moment)

    @staticmethod
    def _give(conn: Connection, quota: Quota, count: int, moment: datetime) -> None:
        conn.execute(
            update(SendQuota)
            .where(
                SendQuota.key == quota.key,
                SendQuota.period == quota.period,
                SendQuota.starts_at == quota.period.start(moment),
            )
            .values(used=case((SendQuota.used > count, SendQuota.used - count), else_=0))
        )

    def _reserve(
        self, paces: Sequence[Pace], count: int, now: float, horizon: float | None = None
    ) -> tuple[bool, float]:
        """Book ``count`` messages' time on ``paces``: (True, the wait until the latest
        slot). With a ``horizon``, a pace whose next free moment is further ahead books
        nothing at all: (False, the wait until it is within the horizon)."""
        wait = 0.0
        if not paces:
            return True, wait
        with self.database.engine.connect() as conn, conn.begin() as transaction:
            for pace in paces:
                later = case((SendPacing.free_at > now, SendPacing.free_at), else_=literal(now))
                cost = count / pace.rate
                query = update(SendPacing).where(SendPacing.key == pace.key)
                if horizon is not None:
                    query = query.where(SendPacing.free_at <= now + horizon)
                free_at = conn.scalar(
                    query.values(free_at=later + cost).returning(SendPacing.free_at)
                )
                if free_at is not None:
                    wait = max(wait, float(free_at) - cost - now)
                    continue
                ahead = conn.scalar(select(SendPacing.free_at).where(SendPacing.key == pace.key))
                if ahead is not None and horizon is not None:
                    transaction.rollback()
                    return False, max(float(ahead) - horizon - now, 0.0)
        return True, wait

    def give_back(self, count: int, taken_at: float | None = None) -> None:
        """``count`` admitted rows were not sent (a claim did not find them, or they went
        back to the queue): they count against nothing. They go back to the windows they
        were taken from (``taken_at``, :attr:`Admission.taken_at`; default now): a quota
        taken in an hour that has ended is not given to the next one."""
        if count <= 0:
            return
        moment = datetime.fromtimestamp(self._clock() if taken_at is None else taken_at, UTC)
        with self.database.engine.begin() as conn:
            for quota in self.plan.quotas_on(moment):
                self._give(conn, quota, count, moment)

    # --- what the campaign says ---------------------------------------------------------

    def _show_waiting(self, reason: str) -> None:
        with self._lock:
            self._shown_waiting = True
        with self.database.engine.begin() as conn:
            conn.execute(
                update(Campaign)
                .where(Campaign.id == self.campaign_id, Campaign.status == CampaignStatus.SENDING)
                .values(status_reason=reason[:2000])
            )

    def _clear_waiting(self) -> None:
        with self._lock:
            self._shown_waiting = False
        with self.database.engine.begin() as conn:
            conn.execute(
                update(Campaign)
                .where(
                    Campaign.id == self.campaign_id,
                    Campaign.status == CampaignStatus.SENDING,
                    Campaign.status_reason.startswith(WAITING, autoescape=True),
                )
                .values(status_reason=None)
            )


@dataclass(frozen=True)
class DomainWarmUp:
    """A From domain's warm-up as `newsletter domain warmup` shows it."""

    domain: str
    first_sent_on: date
    day: int
    limit_today: int | None  # None: warm-up is off (NEWSLETTER_WARMUP_START unset)
    sent_today: int | None  # counted only while warm-up is on


def warmup_status(
    database: Database, settings: Settings, *, clock: Callable[[], float] = time.time
) -> list[DomainWarmUp]:
    """Every recorded From domain: its warm-up day, today's limit and what it sent today."""
    moment = datetime.fromtimestamp(clock(), UTC)
    today = moment.date()
    with database.engine.begin() as conn:
        domains = conn.execute(
            select(SendingDomain.domain, SendingDomain.first_sent_on).order_by(SendingDomain.domain)
        ).all()
        used = dict(
            conn.execute(
                select(SendQuota.key, SendQuota.used).where(
                    SendQuota.period == Period.DAY, SendQuota.starts_at == Period.DAY.start(moment)
                )
            ).all()
        )
    rows = []
    for domain, first in domains:
        warmup = WarmUp(domain, first, settings.warmup_start or 1, settings.warmup_factor)
        on = settings.warmup_start is not None
        rows.append(
            DomainWarmUp(
                domain,
                first,
                warmup.day(today),
                warmup.limit(today) if on else None,
                int(used.get(domain_key(domain), 0)) if on else None,
            )
        )
    return rows


def set_first_day(database: Database, domain: str, first_day: date) -> None:
    """Record ``domain``'s first sending day: a domain that sent before this one counted
    (its day comes from that date), or today to start its warm-up again."""
    name = from_domain("@" + domain)
    if not name or "@" in name or not name.replace("-", "").replace(".", "").isalnum():
        raise InvalidInput("domain", f"{domain!r} is not a domain name")
    with database.engine.begin() as conn:
        record_domain(conn, name, first_day)
        conn.execute(
            update(SendingDomain)
            .where(SendingDomain.domain == name)
            .values(first_sent_on=first_day)
        )
