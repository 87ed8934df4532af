"""Run sends: one campaign now (`newsletter send`), the worker loop, and the scheduler loop.

These assemble the pieces (freeze, SQL store, batch factory, providers, dispatcher) from the
settings; any number of workers and schedulers may run at once against PostgreSQL. Each
batch goes through the provider its variant was frozen with, built from this process's
settings when first needed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from campaigns.checks import StartRefused
from campaigns.dispatch import Dispatcher, DispatchStats, ProgressCallback, RetryPolicy
from campaigns.freeze import FreezeResult, freeze_campaign
from campaigns.local_time import next_local_moment
from campaigns.messages import CampaignBatchFactory
from campaigns.model import Campaign, Delivery
from campaigns.preflight import require_preflight
from campaigns.ratelimit import SendRateLimiter
from campaigns.service import delivery_counts, get_campaign, set_spread
from campaigns.shaping import WAITING, shaper_for
from campaigns.states import CampaignStatus, DeliveryStatus
from campaigns.store import SqlDeliveryStore
from campaigns.subject_tests import decide_due_tests
from campaigns.unknowns import resend_quarantined
from campaigns.welcome_queue import queue_due_steps
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.delivery.base import Provider
from newsletter.delivery.factory import MAX_BATCH_SIZE, ProviderPool
from newsletter.errors import ConflictError, InvalidInput, UnsupportedFeature
from newsletter.webhooks.sender import WebhookSender

log = logging.getLogger(__name__)
WEBHOOK_BATCHES_PER_ROUND = 4  # claims of due webhook messages per worker round


@dataclass(frozen=True)
class SendReport:
    campaign_id: int
    status: str
    status_reason: str | None
    freeze: FreezeResult | None
    stats: DispatchStats
    counts: dict[str, int]
    next_local: datetime | None = None  # the next reader's local time a queued row waits for


class Sender:
    """A worker's sending machinery: its providers and one store, shared by its lanes.

    The provider ``NEWSLETTER_PROVIDER`` names is built at once, so that a misconfigured
    worker says so when it starts; campaigns frozen with another provider get theirs when
    their first batch needs it (``provider``: one made already, used for its own name).
    """

    def __init__(
        self,
        database: Database,
        settings: Settings,
        provider: Provider | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self._totals: dict[int, int] = {}  # recipients of campaigns with a delivery window
        self.providers = ProviderPool(settings, [provider] if provider else [])
        self.providers.get(settings.provider)
        self.store = SqlDeliveryStore(
            database, lease_seconds=settings.send_lease_seconds, clock=clock
        )
        self.dispatcher = Dispatcher(
            self.store,
            CampaignBatchFactory(database, settings, self.providers),
            lanes=settings.send_lanes if database.dialect == "postgresql" else 1,
            batch_size=min(settings.send_batch_size, MAX_BATCH_SIZE),
            rate=SendRateLimiter(settings.send_rate),
            retry=RetryPolicy(
                attempts=settings.send_retry_attempts,
                base_delay=settings.send_retry_base_delay,
                max_delay=settings.send_retry_max_delay,
            ),
        )

    def close(self) -> None:
        self.providers.close()

    def dispatch(
        self,
        campaign_id: int,
        *,
        stop: threading.Event | None = None,
        progress: ProgressCallback | None = None,
    ) -> DispatchStats:
        """Send what is queued, within the shared limits (:mod:`campaigns.shaping`); mark
        the campaign sent when nothing is left in flight."""
        self.store.expire_leases(campaign_id)
        gate = shaper_for(
            self.database, self.settings, campaign_id, clock=self.clock, totals=self._totals
        )
        stats = self.dispatcher.run(campaign_id, stop=stop, progress=progress, gate=gate)
        self.store.finish_if_done(campaign_id)
        return stats


def send_campaign(
    database: Database,
    settings: Settings,
    campaign_id: int,
    *,
    retry_unknown: bool = False,
    retry_unknown_after: float | None = None,
    provider: Provider | None = None,
    stop: threading.Event | None = None,
    progress: ProgressCallback | None = None,
    on_frozen: Callable[[FreezeResult], None] | None = None,
    spread_minutes: float | None = None,
    clock: Callable[[], float] = time.time,
) -> SendReport:
    """Freeze (if needed) and send one campaign in this process, to the end, or until a
    spent hourly or daily quota holds it (its status reason then says until when, and any
    worker goes on from there).

    ``retry_unknown_after`` (minutes) lets workers resend this campaign's unknown rows that
    have no evidence after that long (:mod:`campaigns.unknowns`); those due already are
    queued now. ``spread_minutes`` paces the send to last about that long."""
    if spread_minutes is not None:
        with database.transaction() as session:
            set_spread(session, campaign_id, spread_minutes)
    if retry_unknown_after is not None:
        allow_unknown_retry(database, settings, campaign_id, retry_unknown_after)
    freeze = _start(
        database,
        settings,
        campaign_id,
        retry_unknown=retry_unknown,
        resend_due=retry_unknown_after is not None,
    )
    if on_frozen is not None and freeze is not None:
        on_frozen(freeze)
    sender = Sender(database, settings, provider, clock=clock)
    try:
        stats = _dispatch_window(sender, campaign_id, stop or threading.Event(), progress)
    finally:
        sender.close()
    with database.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        counts = delivery_counts(session, campaign_id)
        waiting = next_local_moment(session, campaign_id) if counts.get("queued") else None
        return SendReport(
            campaign_id, campaign.status, campaign.status_reason, freeze, stats, counts, waiting
        )


def _dispatch_window(
    sender: Sender,
    campaign_id: int,
    stop: threading.Event,
    progress: ProgressCallback | None,
) -> DispatchStats:
    """Dispatch until done; a campaign paced by its delivery window leaves the dispatcher
    between far-apart batches (:data:`campaigns.shaping.WINDOW_HORIZON`), so it is taken up
    again here, as a worker's next round would, until its window has sent it all (or a
    quota holds it: any worker goes on with it then)."""
    total = DispatchStats()

    def shown(stats: DispatchStats) -> None:
        if progress is not None:
            progress(total.plus(stats))

    while True:
        total.absorb(sender.dispatch(campaign_id, stop=stop, progress=shown))
        if stop.is_set():
            return total
        now = datetime.fromtimestamp(sender.clock(), UTC)
        if decide_due_tests(sender.database, sender.settings, campaign_id, now=now):
            continue  # a subject test due now released the rest
        if not window_pending(sender.database, campaign_id):
            return total
        stop.wait(min(sender.settings.worker_poll_seconds, 1.0))


def window_pending(database: Database, campaign_id: int) -> bool:
    """Whether a sending campaign with a delivery window still has rows queued, and is not
    held by a quota."""
    with database.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        if campaign.status != CampaignStatus.SENDING or not campaign.spread_minutes:
            return False
        if (campaign.status_reason or "").startswith(WAITING):
            return False
        return bool(delivery_counts(session, campaign_id).get(DeliveryStatus.QUEUED))


def _start(
    database: Database,
    settings: Settings,
    campaign_id: int,
    *,
    retry_unknown: bool,
    resend_due: bool = False,
) -> FreezeResult | None:
    with database.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        status, frozen = campaign.status, campaign.frozen_at is not None
    if retry_unknown or resend_due:
        if retry_unknown:
            requeue_unknown(database, campaign_id)
        else:
            resend_quarantined(database, settings.unknown_quarantine_minutes, campaign_id)
        with database.transaction() as session:
            status = get_campaign(session, campaign_id).status
    if status == CampaignStatus.CANCELLED:
        raise ConflictError(f"campaign {campaign_id} is cancelled")
    if status == CampaignStatus.SENT and not (retry_unknown or resend_due):
        raise ConflictError(
            f"campaign {campaign_id} was sent already; --retry-unknown resends only the "
            "recipients whose outcome is unknown"
        )
    if status == CampaignStatus.PAUSED and frozen:
        raise ConflictError(f"campaign {campaign_id} is paused: resume it first")
    if frozen:
        return None
    return freeze_campaign(database, campaign_id, settings)


def allow_unknown_retry(
    database: Database, settings: Settings, campaign_id: int, minutes: float
) -> None:
    """The campaign's say-so: unknown rows with no evidence after ``minutes`` are resent
    automatically; never sooner than the quarantine the settings require."""
    floor = settings.unknown_quarantine_minutes
    if not minutes >= floor:
        raise InvalidInput(
            "retry_unknown_after",
            f"must be at least NEWSLETTER_UNKNOWN_QUARANTINE_MINUTES ({floor:g} minutes): "
            "the provider's events need that long to arrive",
        )
    with database.transaction() as session:
        get_campaign(session, campaign_id, lock=True).retry_unknown_after = minutes


def requeue_unknown(database: Database, campaign_id: int) -> int:
    """A person's decision: recipients whose outcome is unknown get the campaign again."""
    with database.transaction() as session:
        campaign = get_campaign(session, campaign_id, lock=True)
        result = session.execute(
            update(Delivery)
            .where(Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.UNKNOWN)
            .values(
                status=DeliveryStatus.QUEUED, worker=None, lease_until=None, updated_at=utcnow()
            )
        )
        count = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if count and campaign.status == CampaignStatus.SENT:
            campaign.status = CampaignStatus.SENDING
            campaign.finished_at = None
        return count


def start_due_campaigns(
    database: Database, settings: Settings, *, now: datetime | None = None
) -> list[FreezeResult]:
    """Freeze every scheduled campaign whose time has come (safe in several processes).

    The pre-send checks run again first (:func:`campaigns.preflight.require_preflight`:
    domain authentication, links, complaint history …, as when it was scheduled): a link
    that broke or a DNS record that went since then pauses the campaign with the reason,
    unless the check was overridden. As everywhere, the outbox and test set-ups with the
    checks off are not held back. ``now``: the worker's clock (default: this machine's)."""
    started: list[FreezeResult] = []
    while True:
        with database.transaction() as session:
            query = (
                select(Campaign.id)
                .where(
                    Campaign.status == CampaignStatus.SCHEDULED,
                    Campaign.send_at <= (now or utcnow()),
                )
                .order_by(Campaign.send_at)
                .limit(1)
            )
            if database.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            campaign_id = session.scalar(query)
        if campaign_id is None:
            return started
        try:
            require_preflight(database, campaign_id, settings)  # links and DNS change too
            started.append(freeze_campaign(database, campaign_id, settings, now=now))
        except (StartRefused, UnsupportedFeature) as exc:  # changed since it was scheduled
            _refuse_start(database, campaign_id, exc)
        except ConflictError:  # another scheduler started it between our two queries
            continue


def _refuse_start(
    database: Database, campaign_id: int, refusal: StartRefused | UnsupportedFeature
) -> None:
    """A due campaign that may not start is paused with the reason, for an editor to act on
    (nobody is there to confirm an override when a schedule falls due)."""
    log.warning("scheduled campaign %s not started: %s", campaign_id, refusal)
    with database.transaction() as session:
        campaign = get_campaign(session, campaign_id, lock=True)
        if campaign.status == CampaignStatus.SCHEDULED:
            campaign.status = CampaignStatus.PAUSED
            campaign.status_reason = f"not started when due: {refusal}"[:2000]


def sending_campaigns(database: Database) -> list[int]:
    with database.transaction() as session:
        return list(
            session.scalars(
                select(Campaign.id)
                .where(Campaign.status == CampaignStatus.SENDING)
                .order_by(Campaign.id)
            )
        )


def run_worker(
    database: Database,
    settings: Settings,
    *,
    stop: threading.Event,
    once: bool = False,
    schedule: bool = False,
    provider: Provider | None = None,
    progress: ProgressCallback | None = None,
    clock: Callable[[], float] = time.time,
) -> DispatchStats:
    """Send every campaign that is sending, until ``stop`` (or, with ``once``, until idle).

    With ``schedule`` the worker also starts due scheduled campaigns and queues the welcome
    series' due steps (the embedded, one-process set-up and cron's ``--once``). Each round
    first queues again the unknown rows whose quarantine has passed, of campaigns that allow
    it (:mod:`campaigns.unknowns`), and decides the subject tests whose wait is over
    (:mod:`campaigns.subject_tests`). Each round ends by delivering due outbound webhook
    messages (at most :data:`WEBHOOK_BATCHES_PER_ROUND` claims, so a slow receiver cannot
    hold up mail).
    """
    sender = Sender(database, settings, provider, clock=clock)
    webhooks = WebhookSender(database, settings)
    total = DispatchStats()
    try:
        while not stop.is_set():
            now = datetime.fromtimestamp(clock(), UTC)
            if schedule:
                start_due_campaigns(database, settings, now=now)
                queue_due_steps(database, settings, now)
            resend_quarantined(database, settings.unknown_quarantine_minutes)
            decide_due_tests(database, settings, now=now)
            for campaign_id in sending_campaigns(database):
                if stop.is_set():
                    break
                total.absorb(sender.dispatch(campaign_id, stop=stop, progress=progress))
            webhooks.send_due(batches=WEBHOOK_BATCHES_PER_ROUND)
            if once:
                break
            stop.wait(settings.worker_poll_seconds)
    finally:
        sender.close()
        webhooks.close()
    return total
