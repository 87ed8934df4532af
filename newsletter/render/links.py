"""The link table of a variant: every link it holds, with a stable id, for click tracking.

Templates never build an href themselves: the view model registers each link here and
gets back the href to print. That keeps three rules in one place: only http(s) URLs become
hrefs, UTM parameters go on content destinations, and with first-party click tracking the
content hrefs point at ``/t/c/<token>/<link id>`` while unsubscribe, preferences and
view-online links (already signed per recipient) are never rewritten.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from markupsafe import Markup, escape

from newsletter.errors import ConfigurationError
from newsletter.render import routes
from newsletter.render.environment import trusted
from newsletter.render.recipient import TRACKING_TOKEN

LinkSection = Literal[
    "masthead",  # view in the browser
    "toc",  # table of contents: an anchor inside the email
    "fact-citation",  # a superscript citation number in a fact
    "narrative",  # a citation number inside a narrative's paragraph
    "source",  # a label in a brief's compact sources line
    "more-online",  # a brief listed as a linked title because the email is full
    "footer",  # preferences and unsubscribe
    "confirm",  # the double opt-in link
    "keep",  # the sunset policy's "keep me subscribed" button
    "fresh-link",  # a fresh preferences link, asked for on a broken link's page
    "welcome",  # the welcome series' links to the latest issue and the archive
]

# Sections whose links lead to third-party content: UTM'd and, when asked, tracked.
CONTENT_SECTIONS: frozenset[str] = frozenset({"fact-citation", "narrative", "source"})


@dataclass(frozen=True, slots=True)
class Link:
    """One link of a variant.

    ``link_id`` is derived from what the link is (brief, section, narrative, destination),
    so the same link gets the same id in every variant and every recompilation; ``url`` is
    the destination after UTM parameters (it may hold a per-recipient placeholder);
    ``tracked`` says whether the HTML points at the first-party redirect instead.
    """

    link_id: str
    url: str
    section: LinkSection
    brief_slug: str | None = None
    narrative: str | None = None
    tracked: bool = False


@dataclass(frozen=True, slots=True)
class Utm:
    """UTM parameters added to content destinations (existing ``utm_*`` values are kept)."""

    source: str
    medium: str = "email"
    campaign: str | None = None

    def apply(self, url: str, content: str | None = None) -> str:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        present = {key for key, _ in query}
        wanted = {
            "utm_source": self.source,
            "utm_medium": self.medium,
            "utm_campaign": self.campaign,
            "utm_content": content,
        }
        query += [(k, v) for k, v in wanted.items() if v and k not in present]
        return urlunsplit(parts._replace(query=urlencode(query)))


def http_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL, else ``None``: nothing else becomes an href."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(c.isspace() or ord(c) < 32 for c in url.strip()):
        return None
    return url.strip()


class LinkTable:
    """Collects a variant's links while its view model is built."""

    def __init__(self, public_url: str, *, track_clicks: bool = False, utm: Utm | None = None):
        if escape(public_url) != public_url:
            raise ConfigurationError(f"public_url {public_url!r} needs escaping in HTML")
        self._public_url = public_url
        self._track = track_clicks
        self._utm = utm
        self._links: dict[str, Link] = {}
        self._ids: dict[tuple[str, ...], str] = {}

    @property
    def links(self) -> tuple[Link, ...]:
        return tuple(self._links.values())

    def content(
        self,
        url: str | None,
        section: LinkSection,
        brief_slug: str,
        narrative: str | None = None,
    ) -> tuple[str, str | Markup] | None:
        """Register a link to third-party content: ``(destination, href)``, or ``None``.

        ``None`` when ``url`` is not an http(s) URL (the caller prints plain text instead).
        """
        safe = http_url(url)
        if safe is None:
            return None
        if self._utm is not None:
            safe = self._utm.apply(safe, content=brief_slug)
        link = self._add(safe, section, brief_slug, narrative, tracked=self._track)
        return link.url, self.href(link)

    def own(self, url: str, section: LinkSection, brief_slug: str | None = None) -> Markup:
        """Register one of our own links (anchors, signed per-recipient URLs): never rewritten.

        The result is :class:`Markup`: it prints unchanged in both HTML and text, so it must
        hold nothing that HTML would need escaped.
        """
        return trusted(self._add(url, section, brief_slug, None, tracked=False).url)

    def href(self, link: Link) -> str | Markup:
        """What the HTML's ``href`` holds: the destination, or the click redirect."""
        if link.tracked:
            return trusted(routes.click_url(self._public_url, TRACKING_TOKEN, link.link_id))
        return link.url

    def _add(
        self,
        url: str,
        section: LinkSection,
        brief_slug: str | None,
        narrative: str | None,
        *,
        tracked: bool,
    ) -> Link:
        key = (url, section, brief_slug or "", narrative or "")
        known = self._ids.get(key)
        if known is not None:
            return self._links[known]
        link_id = _link_id(key)
        while link_id in self._links:  # a hash collision: keep ids unique within the variant
            link_id = _link_id((*key, link_id))
        link = Link(link_id, url, section, brief_slug, narrative, tracked)
        self._ids[key] = link_id
        self._links[link_id] = link
        return link


def _link_id(key: tuple[str, ...]) -> str:
    return hashlib.blake2b("\x1f".join(key).encode(), digest_size=5).hexdigest()
