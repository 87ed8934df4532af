"""Subject tests: 2–4 subjects on test cells, the winner by unique human clicks to the rest.

Opens are no evidence (machine opens, Apple's privacy proxy, are half of them), so cells are
compared by the share of their sent recipients who clicked content as a person
(``variant_rollups.clicked``). At the freeze each variant gets one copy per subject, its
cell (:class:`campaigns.model.Variant` ``cell``); the freeze's one ``INSERT … SELECT`` deals
recipients to cells by a stable hash of their id (:func:`cell_of`), and the rest stay on the
variant with ``cell`` NULL, which no worker claims until the test is decided. Once no
cell delivery is queued or being sent, ``test_wait`` minutes after the last one went out
(:func:`due_at`), the first scheduler to get there decides, by one conditional UPDATE
(``… WHERE test_decided_at IS NULL``), and copies the winning cell's frozen content onto
the rest's variants (never sent until then), which releases them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, literal, null, select, update
from sqlalchemy.orm import Session

from campaigns.checks import StartRefused
from campaigns.model import Campaign, Delivery, SubjectCandidate, Variant
from campaigns.rollups import VariantDeliveries, VariantRollup
from campaigns.service import check_template, get_campaign, require_status
from campaigns.significance import two_proportion_test
from campaigns.states import CampaignStatus, DeliveryStatus
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.errors import InvalidInput
from newsletter.render.options import VariantOptions

MAX_SUBJECTS = 4
# Cells are dealt per thousand: (id mod 1000) × a prime coprime to 1000, mod 1000, visits
# every residue once per 1,000 consecutive ids, so each cell gets its exact share of any
# run of ids, whatever order people signed up in.
_PER = 1000
_SPREAD = 7919
HOLDING = "subject test: the rest waits for the winner"
LETTERS = "ABCD"


@dataclass(frozen=True)
class SubjectTestPlan:
    """What an editor asks for: the other subjects (with their preheaders), each cell's
    share of the audience and the minutes to wait before deciding."""

    subjects: Sequence[tuple[str, str | None]]
    share: float
    wait_minutes: float


def set_subject_test(session: Session, campaign_id: int, plan: SubjectTestPlan | None) -> None:
    """Give a campaign that has not started a subject test (``None``: take it away)."""
    campaign = get_campaign(session, campaign_id, lock=True)
    require_status(campaign, "edit")
    if campaign.frozen_at is not None:
        raise InvalidInput("subject_test", "the campaign is frozen already")
    campaign.subject_candidates = []
    session.flush()
    if plan is None:
        campaign.test_share = campaign.test_wait = None
        return
    check_plan(plan)
    campaign.subject_candidates = [
        SubjectCandidate(position=i, subject=subject.strip(), preheader=preheader or None)
        for i, (subject, preheader) in enumerate(plan.subjects, 1)
    ]
    campaign.test_share = plan.share
    campaign.test_wait = plan.wait_minutes


def check_plan(plan: SubjectTestPlan) -> None:
    """Refuse a test that cannot run, saying which value and why."""
    cells = len(plan.subjects) + 1
    if not 2 <= cells <= MAX_SUBJECTS:
        raise InvalidInput(
            "subject_test", f"give 1 to {MAX_SUBJECTS - 1} other subjects (got {cells - 1})"
        )
    for subject, preheader in plan.subjects:
        if not subject.strip():
            raise InvalidInput("subject_test", "a test subject is empty")
        if len(subject) > 300 or len(preheader or "") > 300:
            raise InvalidInput("subject_test", "a test subject or preheader is over 300 characters")
        check_template(subject, "subject_test")
        check_template(preheader, "subject_test")
    fits = 0 < plan.share < 1  # first: round() raises for NaN and for an infinite product
    if not fits or not round(plan.share * _PER) >= 1 or not plan.share * cells < 1:
        raise InvalidInput(
            "test_share",
            f"must be at least 0.001 and leave a rest: {cells} cells × share below 1 "
            f"(got {plan.share:g})",
        )
    if not 0 <= plan.wait_minutes <= 7 * 24 * 60:
        raise InvalidInput("test_wait", "must be between 0 and 10080 minutes (a week)")


def has_test(campaign: Campaign) -> bool:
    return campaign.test_share is not None and bool(campaign.subject_candidates)


def candidate_options(options: VariantOptions, candidate: SubjectCandidate) -> VariantOptions:
    """A variant's options with a test subject (and its preheader, when it has one)."""
    changes: dict[str, Any] = {"subject": candidate.subject}
    if candidate.preheader:
        changes["preheader"] = candidate.preheader
    return options.model_copy(update=changes)


def cell_label(position: int) -> str:
    return f"subject {LETTERS[position]}"


@dataclass(frozen=True)
class CellDeal:
    """How the freeze's INSERT … SELECT deals cells: ``permille`` per cell, and the cell
    variant of each (variant, cell)."""

    permille: int
    cells: int
    variants: dict[tuple[int, int], int]

    def cell_of(self, subscriber_id: ColumnElement[int]) -> ColumnElement[Any]:
        """The cell of a subscriber id, NULL for the rest (stable: a hash of the id)."""
        spot = (subscriber_id % _PER) * _SPREAD % _PER
        return case(
            *[(spot < self.permille * (k + 1), literal(k)) for k in range(self.cells)],
            else_=null(),
        )

    def variant_of(self, variant: ColumnElement[int], cell: ColumnElement[Any]) -> Any:
        """The variant a dealt recipient gets: its cell's copy, or (the rest) its own."""
        return case(
            *[((variant == b) & (cell == k), literal(v)) for (b, k), v in self.variants.items()],
            else_=variant,
        )


def deal_for(campaign: Campaign, variants: dict[tuple[int, int], int]) -> CellDeal:
    assert campaign.test_share is not None
    cells = len(campaign.subject_candidates) + 1
    return CellDeal(round(campaign.test_share * _PER), cells, variants)


def require_cell_sizes(session: Session, campaign: Campaign, settings: Settings) -> None:
    """Refuse (the freeze rolls back) a test whose smallest cell is under the minimum."""
    sizes = dict(
        session.execute(
            select(Delivery.cell, func.count())
            .where(Delivery.campaign_id == campaign.id, Delivery.cell.is_not(None))
            .group_by(Delivery.cell)
        ).all()
    )
    cells = len(campaign.subject_candidates) + 1
    smallest = min(int(sizes.get(k, 0)) for k in range(cells))
    if smallest < settings.subject_test_min_cell:
        raise StartRefused(
            f"campaign {campaign.id}: its subject test's smallest cell would have {smallest} "
            f"recipients, under NEWSLETTER_SUBJECT_TEST_MIN_CELL "
            f"({settings.subject_test_min_cell}): raise --test-share, or send without a test"
        )


# --- deciding ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellFigures:
    position: int
    subject: str
    sent: int
    clickers: int

    @property
    def rate(self) -> float | None:
        return self.clickers / self.sent if self.sent else None


@dataclass(frozen=True)
class Verdict:
    """The best cell, and how sure the test is that it beats the next best."""

    best: int
    runner_up: int
    confidence: float
    winner: int | None  # None: no clear winner


def cell_figures(session: Session, campaign_id: int) -> list[CellFigures]:
    """Each cell's sent recipients and unique human clickers (counters kept at ingest).

    Clickers are capped at the cell's sent count: events of deliveries that were later
    re-counted (no longer ``sent``) can leave more clickers than recipients, which no rate
    or significance test can take."""
    variants = list(
        session.scalars(
            select(Variant)
            .where(Variant.campaign_id == campaign_id, Variant.cell.is_not(None))
            .order_by(Variant.position)
        )
    )
    cell_by_variant = {v.id: int(v.cell) for v in variants if v.cell is not None}
    sent: dict[int, int] = {}
    clickers: dict[int, int] = {}
    for variant_id, count in session.execute(
        select(VariantDeliveries.variant_id, VariantDeliveries.deliveries).where(
            VariantDeliveries.campaign_id == campaign_id,
            VariantDeliveries.status == DeliveryStatus.SENT,
        )
    ):
        if variant_id in cell_by_variant:
            cell = cell_by_variant[variant_id]
            sent[cell] = sent.get(cell, 0) + int(count)
    for variant_id, clicked in session.execute(
        select(VariantRollup.variant_id, VariantRollup.clicked).where(
            VariantRollup.campaign_id == campaign_id
        )
    ):
        if variant_id in cell_by_variant:
            cell = cell_by_variant[variant_id]
            clickers[cell] = clickers.get(cell, 0) + int(clicked)
    subjects: dict[int, str] = {}
    for variant in variants:
        subjects.setdefault(cell_by_variant[variant.id], variant.subject)
    return [
        CellFigures(
            cell,
            subjects[cell],
            sent.get(cell, 0),
            min(clickers.get(cell, 0), sent.get(cell, 0)),
        )
        for cell in sorted(subjects)
    ]


def verdict(cells: Sequence[CellFigures], confidence: float) -> Verdict:
    """The cell with the best click rate wins if the two-proportion test puts its lead over
    the next best at ``confidence`` or more; ties go to the earlier subject."""
    ranked = sorted(cells, key=lambda c: (-(c.rate or 0.0), c.position))
    if len(ranked) < 2:  # a cell's variants gone (deleted by hand): nothing to compare
        return Verdict(0, 0, 0.0, None)
    best, runner_up = ranked[0], ranked[1]
    test = two_proportion_test(best.clickers, best.sent, runner_up.clickers, runner_up.sent)
    clear = test.confidence >= confidence and (best.rate or 0.0) > (runner_up.rate or 0.0)
    winner = best.position if clear else None
    return Verdict(best.position, runner_up.position, test.confidence, winner)


def due_at(session: Session, campaign: Campaign) -> datetime | None:
    """When the test is decided: its wait after the last test-cell delivery went out (was
    sent, failed, or its outcome became unknown), never after the freeze alone. ``None``
    while any cell delivery is still queued or being sent (an hourly send limit, warm-up, a
    reader's local moment not come yet): a test is never decided on cells not out yet."""
    if campaign.frozen_at is None:
        return None
    of_cells = (Delivery.campaign_id == campaign.id, Delivery.cell.is_not(None))
    waiting = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
    if session.scalar(select(exists().where(*of_cells, Delivery.status.in_(waiting)))):
        return None
    last = session.scalar(
        select(func.max(func.coalesce(Delivery.sent_at, Delivery.updated_at))).where(*of_cells)
    )
    start = max(campaign.frozen_at, last) if last is not None else campaign.frozen_at
    return start + timedelta(minutes=campaign.test_wait or 0)


def decide_due_tests(
    database: Database,
    settings: Settings,
    campaign_id: int | None = None,
    *,
    now: datetime | None = None,
) -> list[int]:
    """Decide every subject test whose wait is over at ``now`` (default: the clock), or only
    ``campaign_id``'s; safe in several schedulers at once: each test is decided by exactly
    one. Returns the campaigns this call decided."""
    now = now or utcnow()
    with database.transaction() as session:
        query = select(Campaign).where(
            Campaign.status == CampaignStatus.SENDING,
            Campaign.test_share.is_not(None),
            Campaign.test_decided_at.is_(None),
            Campaign.frozen_at.is_not(None),
        )
        if campaign_id is not None:
            query = query.where(Campaign.id == campaign_id)
        moments = {c.id: due_at(session, c) for c in session.scalars(query)}
    due = [cid for cid, moment in moments.items() if moment is not None and moment <= now]
    return [cid for cid in due if _decide(database, settings, cid, now)]


def _decide(database: Database, settings: Settings, campaign_id: int, now: datetime) -> bool:
    with database.transaction() as session:
        found = verdict(cell_figures(session, campaign_id), settings.subject_test_confidence)
        won = session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.test_decided_at.is_(None))
            .values(test_decided_at=now, test_winner=found.winner)
        )
        if not won.rowcount:  # type: ignore[attr-defined]
            return False  # another scheduler decided it
        if found.winner:
            _give_rest(session, campaign_id, found.winner)
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status_reason == HOLDING)
            .values(status_reason=None)
        )
        return True


_CONTENT = (
    "subject",
    "preheader",
    "html",
    "text",
    "web_html",
    "links",
    "warnings",
    "brief_slugs",
    "online_slugs",
    "options",
    "size_bytes",
)


def _give_rest(session: Session, campaign_id: int, winner: int) -> None:
    """The winning cell's frozen content onto each variant of the rest (sent nothing yet)."""
    variants = session.scalars(select(Variant).where(Variant.campaign_id == campaign_id))
    by_id = {v.id: v for v in variants}
    for variant in by_id.values():
        if variant.cell != winner or not variant.choice:
            continue
        rest = by_id[int(variant.choice["of"])]
        for name in _CONTENT:
            setattr(rest, name, getattr(variant, name))
    session.flush()


# --- reporting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CellReport:
    """One cell: its subject, sent recipients, unique human clickers and their rate, and
    the confidence that the best cell's rate beats this one's (``None`` for the best)."""

    position: int
    label: str
    subject: str
    sent: int
    clickers: int
    click_rate: float | None
    confidence_best_beats_it: float | None


@dataclass(frozen=True)
class SubjectTestReport:
    share: float
    wait_minutes: float
    decides_at: datetime | None
    decided_at: datetime | None
    winner: int | None
    confidence: float  # the best cell against the next best
    outcome: str  # in words for a person
    cells: tuple[CellReport, ...]


def subject_test_report(session: Session, campaign: Campaign) -> SubjectTestReport | None:
    """The subject test's section of a campaign's report (``None``: no test, or not frozen)."""
    if campaign.test_share is None or campaign.frozen_at is None:
        return None
    figures = cell_figures(session, campaign.id)
    if len(figures) < 2:
        return None
    found = verdict(figures, 1.0)  # the ranking and confidence; the decision is stored
    best = next(c for c in figures if c.position == found.best)
    cells = tuple(
        CellReport(
            c.position,
            cell_label(c.position),
            c.subject,
            c.sent,
            c.clickers,
            c.rate,
            None
            if c.position == best.position
            else two_proportion_test(best.clickers, best.sent, c.clickers, c.sent).confidence,
        )
        for c in figures
    )
    decides_at = due_at(session, campaign)
    return SubjectTestReport(
        share=campaign.test_share,
        wait_minutes=campaign.test_wait or 0.0,
        decides_at=decides_at,
        decided_at=campaign.test_decided_at,
        winner=campaign.test_winner,
        confidence=found.confidence,
        outcome=_outcome(campaign, found, decides_at),
        cells=cells,
    )


def _outcome(campaign: Campaign, found: Verdict, decides_at: datetime | None) -> str:
    sure = f"{found.confidence:.1%} confidence"
    if campaign.test_decided_at is None and decides_at is None:
        return (
            f"undecided: waits for every test cell's mail to go out, then "
            f"{campaign.test_wait or 0:g} minutes; so far {cell_label(found.best)} leads "
            f"{cell_label(found.runner_up)} at {sure}"
        )
    if campaign.test_decided_at is None:
        return (
            f"undecided: decides at {decides_at:%Y-%m-%d %H:%M} UTC; so far "
            f"{cell_label(found.best)} leads {cell_label(found.runner_up)} at {sure}"
        )
    if campaign.test_winner is None:
        return (
            f"no clear winner ({cell_label(found.best)} over {cell_label(found.runner_up)} at "
            f"{sure} now): the first subject went to the rest"
        )
    return f"winner: {cell_label(campaign.test_winner)}, sent to the rest ({sure} now)"
