"""What a compilation needs besides briefs and options: the issue, the sender, the switches.

:meth:`CompileContext.from_settings` fills it from :class:`Settings`; campaigns and tests
may also build one directly (the renderer never reads configuration itself).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal
from urllib.parse import urlsplit

from newsletter.config import Settings
from newsletter.render.links import Utm

GMAIL_CLIP_BYTES = 102 * 1024
DEFAULT_SIZE_BUDGET = 100_000

_RTL_LANGUAGES = frozenset({"ar", "arc", "ckb", "dv", "fa", "he", "ps", "sd", "ug", "ur", "yi"})


@dataclass(frozen=True)
class CompileContext:
    """One compilation's settings.

    ``track_clicks`` rewrites links to sources through ``/t/c/<token>/<link id>``;
    ``track_opens`` adds the ``/t/o/<token>.gif`` pixel; ``utm`` tags source links;
    ``test_send`` adds the test banner and marks the subject; ``fit_to_budget`` lists the
    briefs that would push the HTML over ``size_budget`` bytes as links to the web version.
    ``web_page`` makes the public archive's page rather than an email: no greeting, no
    "view in your browser", no "you are receiving this" and no personal links; the footer
    leads to the archive and the signup page instead.
    """

    issue_date: date
    newsletter_name: str = "The Briefing"
    public_url: str = "http://127.0.0.1:8000"
    reply_to: str | None = None
    postal_address: str | None = None
    language: str = "en"
    variant: str = "default"
    reason: str | None = None
    test_send: bool = False
    track_clicks: bool = False
    track_opens: bool = False
    utm: Utm | None = None
    size_budget: int = DEFAULT_SIZE_BUDGET
    fit_to_budget: bool = True
    web_page: bool = False
    topic_labels: tuple[tuple[str, str], ...] = ()  # NEWSLETTER_TOPIC_LABELS, as pairs

    @classmethod
    def from_settings(cls, settings: Settings, issue_date: date, **changes: Any) -> CompileContext:
        """A context from the configuration; ``changes`` override single fields."""
        utm = None
        if settings.utm_enabled:
            campaign = settings.utm_campaign.format(issue_date=issue_date.isoformat())
            utm = Utm(settings.utm_source, settings.utm_medium, campaign)
        context = cls(
            issue_date=issue_date,
            newsletter_name=settings.newsletter_name,
            public_url=settings.public_url.rstrip("/"),
            reply_to=settings.reply_to or settings.from_email,
            postal_address=settings.postal_address,
            language=settings.language,
            utm=utm,
            size_budget=settings.email_size_budget,
            topic_labels=tuple(settings.topic_labels.items()),
        )
        return replace(context, **changes)

    @property
    def direction(self) -> Literal["ltr", "rtl"]:
        primary = self.language.split("-")[0].split("_")[0].lower()
        return "rtl" if primary in _RTL_LANGUAGES else "ltr"

    @property
    def site(self) -> str:
        """The public site's host name, for sentences such as "you subscribed at …"."""
        return urlsplit(self.public_url).hostname or self.public_url
