"""The public archive's page of a campaign: the whole issue as a web page, compiled at freeze.

Every brief of the campaign with every narrative (the default :class:`VariantOptions`, with
the campaign's own subject and preheader), whichever segments it went to and whatever its
readers chose; no tracking and nothing personal: no greeting, no "view in your browser", no
"you are receiving this", no unsubscribe or preferences link (see
:attr:`~newsletter.render.context.CompileContext.web_page`). A reader's own variant stays
what their view-online link shows (``Variant.web_html``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from campaigns.model import Campaign
from newsletter.briefs.document import Brief
from newsletter.config import Settings
from newsletter.placeholders import PlaceholderTemplate
from newsletter.render.compile import compile_variant
from newsletter.render.context import CompileContext
from newsletter.render.options import VariantOptions
from newsletter.render.recipient import FIRST_NAME, FIRST_NAME_HTML

ARCHIVE_VARIANT = "archive"


def archive_page(campaign: Campaign, settings: Settings, briefs: Sequence[Brief]) -> str:
    """The issue of ``campaign`` (dated, so after its issue date is set) as a public page."""
    options = VariantOptions(
        subject=campaign.subject_template or None, preheader=campaign.preheader_template or None
    )
    context = CompileContext.from_settings(
        settings,
        campaign.issue_date,
        variant=ARCHIVE_VARIANT,
        fit_to_budget=False,
        track_clicks=False,
        track_opens=False,
        web_page=True,
    )
    page = compile_variant(briefs, options, context)
    fallback = page.name_fallback  # a subject template may greet the reader by name
    return PlaceholderTemplate(page.html).fill(
        {FIRST_NAME: fallback, FIRST_NAME_HTML: escape(fallback, quote=True)}
    )
