"""The Atom feed of the public archive (RFC 4287): one entry per sent issue, newest first.

Built with the standard library's ElementTree, which escapes every text and attribute;
characters XML 1.0 cannot carry at all (control characters a title might hold) are dropped
first, so the feed always parses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from xml.etree import ElementTree as ET

from newsletter.render.environment import long_date

ATOM = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

ET.register_namespace("", ATOM)


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _stamp(moment: datetime) -> str:
    """RFC 3339 in UTC (``2026-12-02T07:00:00Z``)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = _clean(text)
    return element


def atom_feed(entries: Sequence[FeedEntry], *, title: str, site_url: str, now: datetime) -> bytes:
    """The feed document; ``updated`` is the newest entry's time (``now`` when empty)."""
    archive = f"{site_url}/archive"
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", archive)
    _add(feed, "title", title)
    _add(feed, "subtitle", f"Past issues of {title}")
    _add(feed, "updated", _stamp(max((e.updated for e in entries), default=now)))
    _add(feed, "link", rel="self", type="application/atom+xml", href=f"{archive}/feed.xml")
    _add(feed, "link", rel="alternate", type="text/html", href=archive)
    author = _add(feed, "author")
    _add(author, "name", title)
    for entry in entries:
        entry.append_to(feed, archive)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


@dataclass(frozen=True)
class FeedEntry:
    """One issue in the feed: its page, subject, date, when it was sent, its briefs' titles."""

    campaign_id: int
    subject: str
    issue_date: date
    updated: datetime
    titles: tuple[str, ...]

    def append_to(self, feed: ET.Element, archive: str) -> None:
        url = f"{archive}/{self.campaign_id}"
        entry = _add(feed, "entry")
        _add(entry, "id", url)
        _add(entry, "title", self.subject)
        _add(entry, "updated", _stamp(self.updated))
        _add(entry, "published", _stamp(self.updated))
        _add(entry, "link", rel="alternate", type="text/html", href=url)
        summary = f"The issue of {long_date(self.issue_date)}."
        if self.titles:
            summary += " In this issue: " + "; ".join(self.titles) + "."
        _add(entry, "summary", summary, type="text")
