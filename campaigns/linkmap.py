"""Find a frozen variant's link by id (first-party clicks) or by destination (SendGrid clicks).

A variant's link table is frozen with it, so an index built once per variant stays right;
:class:`LinkIndexCache` keeps a bounded number of them for the web process. Links whose
URL holds a per-recipient placeholder (signed unsubscribe and preferences URLs) are found
by the part before the placeholder, since a SendGrid click reports the filled-in URL.

A destination can be several links (a source cited in a fact, in a narrative and listed
in the sources line): a SendGrid click on it says only the URL, so it is attributed only
as far as those links agree (often the brief, rarely the narrative), never guessed.
"""

from __future__ import annotations

import html
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from newsletter.placeholders import PLACEHOLDER
from newsletter.render import routes
from newsletter.render.links import http_url
from newsletter.render.recipient import PREFERENCES_URL, UNSUBSCRIBE_URL, VIEW_ONLINE_URL


def url_expansions(public_url: str) -> dict[str, str]:
    """Where our own whole-URL placeholders point (see :class:`LinkIndex`)."""
    return {
        UNSUBSCRIBE_URL: public_url + routes.UNSUBSCRIBE,
        PREFERENCES_URL: public_url + routes.PREFERENCES,
        VIEW_ONLINE_URL: public_url + routes.VIEW_ONLINE,
    }


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """What a report needs to know about one link of a variant."""

    link_id: str | None  # None: a destination shared by links that differ
    url: str
    section: str | None
    brief_slug: str | None
    narrative: str | None
    tracked: bool

    @property
    def redirectable(self) -> bool:
        """Whether the click redirect may send a reader here: a tracked http(s) link with no
        per-recipient placeholder (nothing else is ever a redirect's destination)."""
        return (
            self.tracked and PLACEHOLDER.search(self.url) is None and http_url(self.url) is not None
        )


def link_info(link: Mapping[str, Any]) -> LinkInfo:
    """A link table entry (as frozen in ``Variant.links``) as a :class:`LinkInfo`."""
    return LinkInfo(
        link_id=str(link["link_id"]),
        url=str(link["url"]),
        section=str(link["section"]),
        brief_slug=link.get("brief_slug"),
        narrative=link.get("narrative"),
        tracked=bool(link.get("tracked", False)),
    )


class LinkIndex:
    """One variant's links by id, by exact destination, and by placeholder prefix.

    ``expansions`` maps a placeholder that is a whole URL (``%%nl_unsubscribe_url%%``) to
    the fixed start of its values (``https://…/unsubscribe/``), so such links are found too.
    """

    def __init__(
        self, links: Iterable[Mapping[str, Any]], expansions: Mapping[str, str] | None = None
    ) -> None:
        self._by_id: dict[str, LinkInfo] = {}
        self._by_url: dict[str, LinkInfo] = {}
        self._prefixes: list[tuple[str, LinkInfo]] = []
        for link in map(link_info, links):
            assert link.link_id is not None
            self._by_id[link.link_id] = link
            first = PLACEHOLDER.search(link.url)
            if first is None:
                known = self._by_url.get(link.url)
                self._by_url[link.url] = link if known is None else _common(known, link)
                continue
            prefix = link.url[: first.start()]
            if not prefix:
                prefix = (expansions or {}).get(first.group(), "")
            if prefix:
                self._prefixes.append((prefix, link))

    def by_id(self, link_id: str) -> LinkInfo | None:
        return self._by_id.get(link_id)

    def by_url(self, url: str) -> LinkInfo | None:
        """The link a reported click URL belongs to, or ``None`` when no link matches."""
        found = self._by_url.get(url) or self._by_url.get(html.unescape(url))
        if found is not None:
            return found
        for prefix, link in self._prefixes:
            if url.startswith(prefix):
                return link
        return None


def _common(one: LinkInfo, other: LinkInfo) -> LinkInfo:
    """What two links to one destination have in common (the rest is unknown)."""
    return LinkInfo(
        link_id=None,
        url=one.url,
        section=one.section if one.section == other.section else None,
        brief_slug=one.brief_slug if one.brief_slug == other.brief_slug else None,
        narrative=one.narrative if one.narrative == other.narrative else None,
        tracked=False,
    )


class LinkIndexCache:
    """Link indexes of recently used variants (frozen, so never stale), thread-safe."""

    def __init__(self, expansions: Mapping[str, str] | None = None, size: int = 256) -> None:
        self._expansions = dict(expansions or {})
        self._size = size
        self._indexes: OrderedDict[int, LinkIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, variant_id: int, load: Callable[[int], Iterable[Mapping[str, Any]] | None]
    ) -> LinkIndex | None:
        """The variant's index, loading its links with ``load`` on a miss (``None``: no such
        variant)."""
        with self._lock:
            index = self._indexes.get(variant_id)
            if index is not None:
                self._indexes.move_to_end(variant_id)
                return index
        links = load(variant_id)
        if links is None:
            return None
        index = LinkIndex(links, self._expansions)
        with self._lock:
            self._indexes[variant_id] = index
            while len(self._indexes) > self._size:
                self._indexes.popitem(last=False)
        return index
