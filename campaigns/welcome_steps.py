"""The editor's welcome series: list, add, edit and disable its steps, validated once here.

The editor page and ``newsletter welcome …`` both call these. An edit that changes what is
sent raises the step's version, so the next due reader gets a freshly frozen campaign while
readers queued before keep exactly what they were sent (:mod:`campaigns.welcome_queue`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.model import Campaign
from campaigns.welcome_model import (
    BODY_MAX,
    DELAY_MAX,
    SUBJECT_MAX,
    WelcomeCampaign,
    WelcomeReceipt,
    WelcomeStep,
)
from newsletter.db import hold_write_lock, utcnow
from newsletter.errors import InvalidInput, NotFoundError
from newsletter.untrusted import nul_problem

DEFAULT_SUBJECT = "Welcome to {newsletter}"
DEFAULT_BODY = (
    "Thank you for confirming your subscription. Each issue brings the week's stories with "
    "their sources, and every side of the argument where there is one.\n\n"
    "Start with the latest issue below, or browse the archive. You can choose your topics "
    "and how narratives read at any time."
)


@dataclass(frozen=True)
class StepText:
    """What an editor writes for a step, before it is checked."""

    delay_days: int
    subject: str
    body: str


@dataclass(frozen=True)
class StepVersionReport:
    """One frozen version of a step: its campaign and how many readers it was queued to."""

    version: int
    campaign_id: int
    status: str
    readers: int


@dataclass(frozen=True)
class StepSummary:
    step: WelcomeStep
    readers: int
    versions: tuple[StepVersionReport, ...]


def checked(text: StepText) -> StepText:
    """``text`` trimmed, or :class:`InvalidInput` naming every field that is wrong."""
    problems: list[InvalidInput] = []
    subject = " ".join(text.subject.split())
    body = text.body.replace("\r\n", "\n").strip()
    if not 0 <= text.delay_days <= DELAY_MAX:
        problems.append(InvalidInput("delay_days", f"must be a whole number 0–{DELAY_MAX}"))
    for field, value in (("subject", subject), ("body", body)):
        if why := nul_problem(value):  # PostgreSQL cannot store it; SQLite would
            problems.append(InvalidInput(field, why))
    if not subject:
        problems.append(InvalidInput("subject", "is empty"))
    elif len(subject) > SUBJECT_MAX:
        problems.append(InvalidInput("subject", f"is longer than {SUBJECT_MAX} characters"))
    if not body:
        problems.append(InvalidInput("body", "is empty"))
    elif len(body) > BODY_MAX:
        problems.append(InvalidInput("body", f"is longer than {BODY_MAX} characters"))
    if problems:
        first, *rest = problems
        raise InvalidInput(first.field, first.reason, also=rest)
    return StepText(text.delay_days, subject, body)


def list_steps(session: Session) -> list[WelcomeStep]:
    """Every step, disabled ones too, in series order."""
    query = select(WelcomeStep).order_by(
        WelcomeStep.position, WelcomeStep.delay_days, WelcomeStep.id
    )
    return list(session.scalars(query))


def get_step(session: Session, step_id: int, *, lock: bool = False) -> WelcomeStep:
    query = select(WelcomeStep).where(WelcomeStep.id == step_id)
    if lock:
        hold_write_lock(session)
        query = query.with_for_update()
    step = session.scalar(query)
    if step is None:
        raise NotFoundError(f"there is no welcome step {step_id}")
    return step


def add_step(session: Session, text: StepText) -> WelcomeStep:
    """A new enabled step, placed last."""
    good = checked(text)
    last = session.scalar(select(func.max(WelcomeStep.position))) or 0
    step = WelcomeStep(
        position=last + 1,
        delay_days=good.delay_days,
        subject=good.subject,
        body=good.body,
        enabled=True,
        version=1,
        updated_at=utcnow(),
    )
    session.add(step)
    session.flush()
    return step


def edit_step(session: Session, step_id: int, text: StepText) -> WelcomeStep:
    """Change a step; a change of words or delay makes a new version (a new campaign)."""
    good = checked(text)
    step = get_step(session, step_id, lock=True)
    if (step.delay_days, step.subject, step.body) != (good.delay_days, good.subject, good.body):
        step.delay_days, step.subject, step.body = good.delay_days, good.subject, good.body
        step.version += 1
        step.updated_at = utcnow()
    return step


def set_enabled(session: Session, step_id: int, enabled: bool) -> WelcomeStep:
    """Disable (nobody new is queued it; those queued already still get it) or enable."""
    step = get_step(session, step_id, lock=True)
    if step.enabled != enabled:
        step.enabled = enabled
        step.updated_at = utcnow()
    return step


def step_summaries(session: Session) -> list[StepSummary]:
    """Each step with its readers and the campaign of each version (their reports)."""
    steps = list_steps(session)
    readers = dict(
        session.execute(
            select(WelcomeReceipt.campaign_id, func.count()).group_by(WelcomeReceipt.campaign_id)
        ).all()
    )
    rows = session.execute(
        select(WelcomeCampaign.step_id, WelcomeCampaign.version, Campaign.id, Campaign.status)
        .join(Campaign, Campaign.id == WelcomeCampaign.campaign_id)
        .order_by(WelcomeCampaign.step_id, WelcomeCampaign.version)
    ).all()
    versions: dict[int, list[StepVersionReport]] = {}
    for step_id, version, campaign_id, status in rows:
        report = StepVersionReport(version, campaign_id, status, int(readers.get(campaign_id, 0)))
        versions.setdefault(step_id, []).append(report)
    return [
        StepSummary(
            step,
            sum(v.readers for v in versions.get(step.id, [])),
            tuple(versions.get(step.id, [])),
        )
        for step in steps
    ]
