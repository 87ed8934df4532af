"""What an editor's preview shows of a campaign: each variant's email, compiled or frozen.

Before the freeze a variant is compiled from the stored briefs exactly as freezing would
compile it (tracking included), so its size and links are what will be sent. After the
freeze the stored variant is shown: what was sent. Either way the result is a
:class:`CompiledVariant`, filled for display with values as long as real ones but signed
with a key that is not ours (:func:`newsletter.render.recipient.typical_values`): a link
followed from a preview can never unsubscribe, change preferences or count a click.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.envelope import Envelope, envelope_for
from campaigns.freeze import variant_context, variant_plan
from campaigns.model import Campaign, Variant
from campaigns.service import campaign_briefs
from newsletter.config import Settings
from newsletter.errors import NotFoundError, RenderError
from newsletter.render.compile import compile_variant, subject_and_preheader
from newsletter.render.links import Link
from newsletter.render.recipient import FIRST_NAME, FIRST_NAME_HTML, clean_name, typical_values
from newsletter.render.selection import select_briefs
from newsletter.render.template_problems import TemplateProblem
from newsletter.render.variant import CompiledVariant, FilledEmail


def variant_names(session: Session, campaign: Campaign) -> list[str]:
    """The campaign's variants in match order (the frozen ones once it is frozen)."""
    if campaign.frozen_at is not None:
        return list(
            session.scalars(
                select(Variant.name)
                .where(Variant.campaign_id == campaign.id)
                .order_by(Variant.position)
            )
        )
    return [name for name, _, _, _ in variant_plan(session, campaign)]


def preview_variant(
    session: Session,
    campaign: Campaign,
    settings: Settings,
    position: int,
    *,
    test_send: bool = False,
) -> CompiledVariant:
    """Variant ``position`` as it will be (or was) sent; raises ``RenderError``.

    ``test_send`` compiles it afresh for a test: banner, "[TEST]" subject, no tracking.
    """
    if campaign.frozen_at is not None and not test_send:
        row = session.scalar(
            select(Variant).where(Variant.campaign_id == campaign.id, Variant.position == position)
        )
        if row is None:
            raise NotFoundError(f"campaign {campaign.id} has no variant {position}")
        return frozen_variant(row, settings.public_url)
    plan = variant_plan(session, campaign)
    if not 0 <= position < len(plan):
        raise NotFoundError(f"campaign {campaign.id} has no variant {position}")
    name, _, options, _ = plan[position]
    context = variant_context(
        settings, campaign, name, test_send=test_send, tracked=False if test_send else None
    )
    return compile_variant(campaign_briefs(session, campaign), options, context)


def variant_envelope(
    session: Session, campaign: Campaign, settings: Settings, position: int
) -> Envelope:
    """Variant ``position``'s sender, list headers, tracking and provider: as frozen once the
    campaign is, else as freezing it now would decide them."""
    row = session.scalar(
        select(Variant).where(Variant.campaign_id == campaign.id, Variant.position == position)
    )
    if row is not None:
        return Envelope.from_json(row.envelope, variant_id=row.id)
    return envelope_for(settings, campaign.id, variant_names(session, campaign)[position])


def frozen_variant(row: Variant, public_url: str) -> CompiledVariant:
    """A stored variant as a :class:`CompiledVariant` (for filling, sizes and links)."""
    return CompiledVariant(
        name=row.name,
        kind="digest",
        subject=row.subject,
        preheader=row.preheader,
        html=row.html,
        text=row.text,
        mjml="",
        public_url=public_url,
        name_fallback=str(row.options.get("name_fallback", "reader")),
        links=tuple(Link(**link) for link in row.links),
        warnings=tuple(row.warnings),
        brief_slugs=tuple(row.brief_slugs),
        online_slugs=tuple(row.online_slugs),
    )


def sample_values(email: CompiledVariant, first_name: str | None = None) -> dict[str, str]:
    """Display values: typical (harmless) links and tokens, and ``first_name`` if given."""
    values = typical_values(email.public_url, email.placeholders, name_fallback=email.name_fallback)
    name = clean_name(first_name) or email.name_fallback
    if FIRST_NAME in values:
        values[FIRST_NAME] = name
    if FIRST_NAME_HTML in values:
        values[FIRST_NAME_HTML] = escape(name, quote=True)
    return values


def sample_copy(email: CompiledVariant, first_name: str | None = None) -> FilledEmail:
    """The email filled for display (see :func:`sample_values`)."""
    return email.fill(sample_values(email, first_name))


@dataclass(frozen=True)
class InboxLine:
    """What one variant shows in an inbox: its subject and preheader as rendered (or why
    its template cannot render), beside the templates they came from."""

    variant: str
    subject_template: str | None
    preheader_template: str | None
    subject: str | None
    preheader: str | None
    error: str | None = None
    problem: TemplateProblem | None = None  # a template's mistake in words, and its place


def inbox_lines(session: Session, campaign: Campaign, settings: Settings) -> list[InboxLine]:
    """Each variant's inbox line: frozen once the campaign is, else rendered as freezing
    would render it now (the briefs each segment would get, today's issue date)."""
    if campaign.frozen_at is not None:
        rows = session.scalars(
            select(Variant).where(Variant.campaign_id == campaign.id).order_by(Variant.position)
        )
        return [
            InboxLine(
                v.name,
                v.options.get("subject"),
                v.options.get("preheader"),
                v.subject,
                v.preheader,
            )
            for v in rows
        ]
    briefs = campaign_briefs(session, campaign)
    lines = []
    for name, _, options, _ in variant_plan(session, campaign):
        context = variant_context(settings, campaign, name)
        chosen = select_briefs(briefs, options).briefs
        try:
            if not chosen:
                raise RenderError(name, None, "no brief matches this segment's options")
            subject, preheader = subject_and_preheader(options, context, chosen)
        except RenderError as exc:
            lines.append(
                InboxLine(
                    name, options.subject, options.preheader, None, None, str(exc), exc.problem
                )
            )
        else:
            lines.append(InboxLine(name, options.subject, options.preheader, subject, preheader))
    return lines
