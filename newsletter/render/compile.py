"""Compile a variant once: briefs + options → Jinja2 → MJML → HTML → inlined CSS, and text.

Everything per recipient stays a placeholder, so this runs once per segment, never per
subscriber. The digest is kept under the size budget by :mod:`newsletter.render.budget`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from time import perf_counter
from typing import Any

from markupsafe import Markup, escape

from newsletter.briefs.document import Brief
from newsletter.errors import RenderError
from newsletter.placeholders import PLACEHOLDER, neutralise, remaining_placeholders
from newsletter.render import routes
from newsletter.render.budget import fit_to_budget, size_warnings
from newsletter.render.context import CompileContext
from newsletter.render.environment import (
    mjml_environment,
    paragraphs,
    render,
    render_string,
    templates_dir,
    text_environment,
    trusted,
)
from newsletter.render.inline import inline_css
from newsletter.render.links import LinkTable
from newsletter.render.mjml import mjml_to_html
from newsletter.render.options import VariantOptions
from newsletter.render.recipient import (
    CONFIRM_URL,
    FIRST_NAME,
    FIRST_NAME_HTML,
    KEEP_URL,
    KNOWN_PLACEHOLDERS,
    PREFERENCES_URL,
    TRACKING_TOKEN,
    UNSUBSCRIBE_URL,
    VIEW_ONLINE_URL,
)
from newsletter.render.selection import select_briefs
from newsletter.render.variant import CompiledVariant, EmailKind
from newsletter.render.view import ESTABLISHMENT_NOTE, ESTABLISHMENT_SPLIT, build_digest
from newsletter.topics import topic_label

DEFAULT_SUBJECT = "{{ first_title }} · {{ newsletter_name }}"  # the top story leads
# A header line may hold 998 characters (RFC 5322); a preheader is a line of preview text.
SUBJECT_MAX = 998
PREHEADER_MAX = 500
DEFAULT_PREHEADER = '{{ (titles[1:] or titles)|join(" · ")|truncate(140, true, "…", 0) }}'


@dataclass(frozen=True, slots=True)
class Footer:
    reason: str | None
    preferences: Markup | None
    unsubscribe: Markup | None
    reply_to: str | None
    postal_address: str | None
    archive: str | None = None  # the public page's links (``CompileContext.web_page``)
    signup: str | None = None


@lru_cache(maxsize=1)
def _stylesheets() -> tuple[str, str]:
    folder = templates_dir()
    inline = (folder / "inline.css").read_text(encoding="utf-8").strip()
    head = (folder / "head.css").read_text(encoding="utf-8").strip()
    return inline, head


def compile_variant(
    briefs: Sequence[Brief], options: VariantOptions, context: CompileContext
) -> CompiledVariant:
    """One segment's digest from the campaign's briefs; raises :class:`RenderError`."""
    started = perf_counter()
    selection = select_briefs(briefs, options)
    chosen = selection.briefs
    if not chosen:
        raise RenderError("digest.mjml.j2", None, "no brief matches this variant's options")
    subject, preheader = subject_and_preheader(options, context, chosen)

    def build(in_full: int) -> CompiledVariant:
        return _compile_digest(chosen, options, context, subject, preheader, in_full)

    if context.fit_to_budget:
        variant, passes = fit_to_budget(build, chosen, context.size_budget)
    else:
        variant, passes = build(len(chosen)), 1
    warnings = [*_brief_warnings(chosen, variant), *size_warnings(variant, context.size_budget)]
    timings = {**variant.timings, "passes": float(passes), "total": perf_counter() - started}
    final = replace(variant, left_out=selection.left_out, warnings=tuple(warnings), timings=timings)
    return _checked(final)


def compile_confirmation(
    context: CompileContext, *, greeting: str = "Hello {name},", name_fallback: str = "there"
) -> CompiledVariant:
    """The double opt-in email: one confirmation link (``%%nl_confirm_url%%``)."""
    links = LinkTable(context.public_url)
    confirm = links.own(CONFIRM_URL, "confirm")
    footer = Footer(
        reason=f"You are receiving this email because someone, we hope you, asked to subscribe "
        f"this address to {context.newsletter_name} at {context.site}.",
        preferences=None,
        unsubscribe=None,
        reply_to=context.reply_to,
        postal_address=context.postal_address,
    )
    return _one_button_mail(
        "confirmation",
        context,
        links,
        footer,
        ("confirm_url", confirm),
        subject=f"Please confirm your subscription to {context.newsletter_name}",
        preheader=f"One click and {context.newsletter_name} is on its way.",
        greeting=greeting,
        name_fallback=name_fallback,
    )


def compile_keep(
    context: CompileContext, *, greeting: str = "Hello {name},", name_fallback: str = "there"
) -> CompiledVariant:
    """The sunset policy's question: one "Keep me subscribed" button (``%%nl_keep_url%%``),
    and the usual footer with preferences and one-click unsubscribe."""
    links = LinkTable(context.public_url)
    keep = links.own(KEEP_URL, "keep")
    footer = _subscriber_footer(context, links)
    return _one_button_mail(
        "keep",
        context,
        links,
        footer,
        ("keep_url", keep),
        subject=f"Do you still want {context.newsletter_name}?",
        preheader="One click keeps your subscription; otherwise we will stop writing.",
        greeting=greeting,
        name_fallback=name_fallback,
    )


def compile_fresh_link(
    context: CompileContext, *, greeting: str = "Hello {name},", name_fallback: str = "there"
) -> CompiledVariant:
    """A fresh preferences link (``%%nl_preferences_url%%``), asked for on the page of a
    broken one; the footer carries the unsubscribe link too (it may be what broke)."""
    links = LinkTable(context.public_url)
    preferences = links.own(PREFERENCES_URL, "fresh-link")
    footer = Footer(
        reason=f"You are receiving this email because someone, we hope you, asked for a fresh "
        f"link to this address's subscription to {context.newsletter_name} at {context.site}.",
        preferences=None,
        unsubscribe=links.own(UNSUBSCRIBE_URL, "footer"),
        reply_to=context.reply_to,
        postal_address=context.postal_address,
    )
    return _one_button_mail(
        "fresh-link",
        context,
        links,
        footer,
        ("preferences_url", preferences),
        subject=f"Your link to manage {context.newsletter_name}",
        preheader="Choose your topics, how narratives read, or unsubscribe.",
        greeting=greeting,
        name_fallback=name_fallback,
    )


def compile_welcome(
    context: CompileContext,
    *,
    subject: str,
    body: str,
    greeting: str = "Hello {name},",
    name_fallback: str = "there",
) -> CompiledVariant:
    """A welcome series step: the editor's plain-text paragraphs (escaped like any text, and
    unable to act as a placeholder), then links to the latest issue and the archive (content
    links: tracked when clicks are) and the reader's own preferences link, with the usual
    footer."""
    links = LinkTable(context.public_url, track_clicks=context.track_clicks, utm=context.utm)
    latest = links.content(context.public_url + routes.LATEST_ISSUE, "welcome", "welcome")
    archive = links.content(context.public_url + routes.ARCHIVE, "welcome", "welcome")
    assert latest is not None and archive is not None  # public_url is an http(s) URL
    footer = _subscriber_footer(context, links)
    shared = {
        **_shared(context, footer, view_online=None),
        "body": paragraphs(neutralise(body)),
        "latest_url": latest[0],
        "latest_href": latest[1],
        "archive_url": archive[0],
        "archive_href": archive[1],
        "preferences_url": links.own(PREFERENCES_URL, "welcome"),
    }
    if context.track_opens:
        shared["open_pixel"] = trusted(routes.open_pixel_url(context.public_url, TRACKING_TOKEN))
    email = _compile(
        "welcome",
        context,
        links,
        shared,
        subject=_marked_as_test(" ".join(neutralise(subject).split()), context),
        preheader=paragraphs(neutralise(body))[0][:140] if body.strip() else "",
        greeting=greeting,
        name_fallback=name_fallback,
    )
    return _checked(email)


def _one_button_mail(
    template: EmailKind,
    context: CompileContext,
    links: LinkTable,
    footer: Footer,
    button: tuple[str, Markup],
    *,
    subject: str,
    preheader: str,
    greeting: str,
    name_fallback: str,
) -> CompiledVariant:
    """A transactional mail whose point is one link (``button``: its template name, link)."""
    name, link = button
    shared = {**_shared(context, footer, view_online=None), name: link}
    email = _compile(
        template,
        context,
        links,
        shared,
        subject=_marked_as_test(subject, context),
        preheader=preheader,
        greeting=greeting,
        name_fallback=name_fallback,
    )
    return _checked(email)


def _marked_as_test(subject: str, context: CompileContext) -> str:
    return f"[TEST] {subject}" if context.test_send else subject


def subject_and_preheader(
    options: VariantOptions, context: CompileContext, briefs: Sequence[Brief]
) -> tuple[str, str]:
    """The segment's subject and preheader templates (or the defaults), rendered once."""
    subject, preheader = subject_lines(
        options.subject,
        options.preheader,
        issue_date=context.issue_date,
        titles=[b.title for b in briefs],
        newsletter_name=context.newsletter_name,
    )
    return _marked_as_test(subject, context), preheader


def subject_lines(
    subject_template: str | None,
    preheader_template: str | None,
    *,
    issue_date: date,
    titles: Sequence[str],
    newsletter_name: str,
) -> tuple[str, str]:
    """Subject and preheader templates (``None``: the defaults) rendered, folded and bounded.

    Also what saving a campaign tries out, so that a template that cannot render (or renders
    too long) is refused when it is written rather than at the freeze.
    """
    values: dict[str, Any] = {
        "issue_date": issue_date,
        "first_title": titles[0],
        "titles": list(titles),
        "brief_count": len(titles),
        "newsletter_name": newsletter_name,
        "first_name": trusted(FIRST_NAME),
    }
    subject = render_string(
        subject_template or DEFAULT_SUBJECT, values, name="subject", max_length=SUBJECT_MAX
    )
    preheader = render_string(
        preheader_template or DEFAULT_PREHEADER, values, name="preheader", max_length=PREHEADER_MAX
    )
    subject, preheader = " ".join(subject.split()), " ".join(preheader.split())
    for name, text in (("subject", subject), ("preheader", preheader)):
        unknown = sorted(set(remaining_placeholders(text)) - {FIRST_NAME})
        if unknown:
            raise RenderError(name, None, f"unknown placeholder {unknown[0]} (use {FIRST_NAME})")
    if not subject:
        raise RenderError("subject", None, "the subject is empty")
    return subject, preheader


def _compile_digest(
    briefs: Sequence[Brief],
    options: VariantOptions,
    context: CompileContext,
    subject: str,
    preheader: str,
    in_full: int,
) -> CompiledVariant:
    started = perf_counter()
    links = LinkTable(context.public_url, track_clicks=context.track_clicks, utm=context.utm)
    if context.web_page:
        view_online, footer = None, _page_footer(context)
    else:
        view_online = links.own(VIEW_ONLINE_URL, "masthead")
        footer = _subscriber_footer(context, links, reason=_reason(options, context))
    digest = build_digest(briefs, options.narratives, links, in_full=in_full)
    shared = {
        **_shared(context, footer, view_online=view_online),
        "digest": digest,
        "intro": paragraphs(options.intro),
        "establishment_split": ESTABLISHMENT_SPLIT,
        "establishment_note": ESTABLISHMENT_NOTE,
    }
    if context.track_opens:
        shared["open_pixel"] = trusted(routes.open_pixel_url(context.public_url, TRACKING_TOKEN))
    return _compile(
        "digest",
        context,
        links,
        shared,
        subject=subject,
        preheader=preheader,
        greeting="" if context.web_page else options.greeting,
        name_fallback=options.name_fallback,
        started=started,
        brief_slugs=tuple(b.slug for b in digest.briefs),
        online_slugs=tuple(b.slug for b in briefs[in_full:]),
    )


def _compile(
    kind: EmailKind,
    context: CompileContext,
    links: LinkTable,
    shared: dict[str, Any],
    *,
    subject: str,
    preheader: str,
    greeting: str,
    name_fallback: str,
    started: float | None = None,
    **fields: Any,
) -> CompiledVariant:
    """Jinja → MJML → HTML → inlined CSS, then the text part, timing each stage."""
    t0 = perf_counter() if started is None else started
    html_values = {
        **shared,
        "title": _html_with_placeholders(subject),
        "preheader": _html_with_placeholders(preheader),
        "greeting": _html_with_placeholders(neutralise(greeting).replace("{name}", FIRST_NAME)),
    }
    template = f"{kind}.mjml.j2"
    mjml = render(mjml_environment(), template, html_values)
    t1 = perf_counter()
    raw = mjml_to_html(mjml, template=template)
    t2 = perf_counter()
    html = inline_css(raw, _stylesheets()[0], template=template)
    t3 = perf_counter()
    text_greeting = Markup(neutralise(greeting).replace("{name}", FIRST_NAME))  # noqa: S704
    text_values = {**shared, "greeting": text_greeting}  # Markup: printed as is in text
    text = render(text_environment(), f"{kind}.txt.j2", text_values).strip() + "\n"
    t4 = perf_counter()
    return CompiledVariant(
        name=context.variant,
        kind=kind,
        subject=subject,
        preheader=preheader,
        html=html,
        text=text,
        mjml=mjml,
        public_url=context.public_url,
        name_fallback=name_fallback,
        links=links.links,
        size_budget=context.size_budget,
        timings={"jinja": t1 - t0, "mjml": t2 - t1, "inline": t3 - t2, "text": t4 - t3},
        **fields,
    )


def _shared(
    context: CompileContext, footer: Footer, *, view_online: Markup | None
) -> dict[str, Any]:
    inline, head = _stylesheets()
    return {
        "lang": context.language,
        "dir": context.direction,
        "inline_css": Markup(inline),  # noqa: S704 (our own stylesheets)
        "head_css": Markup(head),  # noqa: S704
        "test_send": context.test_send,
        "open_pixel": None,
        "newsletter_name": context.newsletter_name,
        "issue_date": context.issue_date,
        "view_online": view_online,
        "footer": footer,
    }


def _subscriber_footer(
    context: CompileContext, links: LinkTable, *, reason: str | None = None
) -> Footer:
    """The footer of mail to a subscriber: why they get it (by default: they subscribed),
    their preferences and one-click unsubscribe links, reply-to and postal address."""
    if reason is None:
        reason = (
            f"You are receiving this email because you subscribed to "
            f"{context.newsletter_name} at {context.site}."
        )
    return Footer(
        reason=reason,
        preferences=links.own(PREFERENCES_URL, "footer"),
        unsubscribe=links.own(UNSUBSCRIBE_URL, "footer"),
        reply_to=context.reply_to,
        postal_address=context.postal_address,
    )


def _page_footer(context: CompileContext) -> Footer:
    """The public page's footer: where the other issues are and how to get the next one."""
    return Footer(
        reason=None,
        preferences=None,
        unsubscribe=None,
        reply_to=None,
        postal_address=context.postal_address,
        archive=f"{context.public_url}/archive",
        signup=f"{context.public_url}/subscribe",
    )


def _reason(options: VariantOptions, context: CompileContext) -> str:
    if context.reason:
        return context.reason
    reason = (
        f"You are receiving {context.newsletter_name} because you subscribed at {context.site}."
    )
    if options.topics:
        labels = dict(context.topic_labels)
        covered = (topic_label(topic, labels) for topic in options.topics)
        reason += " This edition covers: " + ", ".join(covered) + "."
    return reason


def _html_with_placeholders(text: str) -> Markup:
    """Plain text for HTML: escaped, its first-name placeholder swapped for the escaped one."""
    pieces = PLACEHOLDER.split(text)
    keys = PLACEHOLDER.findall(text)
    out = [str(escape(pieces[0]))]
    for key, piece in zip(keys, pieces[1:], strict=True):
        out.append(FIRST_NAME_HTML if key == FIRST_NAME else key)
        out.append(str(escape(piece)))
    return Markup("".join(out))  # noqa: S704 (every piece escaped above)


def _checked(variant: CompiledVariant) -> CompiledVariant:
    """Only placeholders a recipient can fill; the raw first name never in HTML."""
    template = f"{variant.kind}.mjml.j2"
    unknown = variant.placeholders - KNOWN_PLACEHOLDERS  # splits the parts once, for fill()
    if unknown:
        raise RenderError(template, None, f"unknown placeholder {sorted(unknown)[0]}")
    if FIRST_NAME in variant.html:
        raise RenderError(template, None, f"{FIRST_NAME} in HTML: use {FIRST_NAME_HTML}")
    return variant


def _brief_warnings(briefs: Sequence[Brief], variant: CompiledVariant) -> list[str]:
    """What a reader of this variant will not see of a brief, said out loud."""
    shown = set(variant.brief_slugs)
    found: list[str] = []
    for brief in briefs:
        if brief.slug not in shown:
            continue
        if brief.image_credit and not brief.image_url:
            found.append(f"{brief.slug}: image credit {brief.image_credit!r} not shown: no image")
        linked = {s.number for s in brief.sources if s.url}
        plain = [n for n in brief.cited_numbers if n not in linked]
        if plain:
            numbers = ", ".join(f"[{n}]" for n in plain)
            found.append(f"{brief.slug}: citations without a source URL, shown unlinked: {numbers}")
    return found
