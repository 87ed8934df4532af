"""A compiled variant: what one segment's subscribers receive, with placeholders to fill.

This is what campaigns freeze and providers send. :meth:`CompiledVariant.fill` personalises
it for one recipient; SendGrid gets the same placeholders as ``substitutions`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from newsletter.placeholders import PlaceholderTemplate
from newsletter.render.links import Link
from newsletter.render.recipient import KNOWN_PLACEHOLDERS, typical_values

EmailKind = Literal["digest", "confirmation", "keep", "fresh-link", "welcome"]


@dataclass(frozen=True, slots=True)
class FilledEmail:
    """One recipient's copy: no placeholder left."""

    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class CompiledVariant:
    """Subject, preheader, HTML and text of one variant, with its link table and warnings.

    ``brief_slugs`` are shown in full, ``online_slugs`` only as links to the web version
    (they did not fit the size budget), ``left_out`` were not selected by the segment's
    options (slug, reason). ``timings`` are the seconds each stage took.
    """

    name: str
    kind: EmailKind
    subject: str
    preheader: str
    html: str
    text: str
    mjml: str
    public_url: str
    name_fallback: str
    links: tuple[Link, ...] = ()
    warnings: tuple[str, ...] = ()
    brief_slugs: tuple[str, ...] = ()
    online_slugs: tuple[str, ...] = ()
    left_out: tuple[tuple[str, str], ...] = ()
    size_budget: int | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    estimated_size: int = -1

    def __post_init__(self) -> None:
        if self.estimated_size < 0:  # not known yet: count it
            object.__setattr__(self, "estimated_size", self._estimate_size())

    @property
    def size_bytes(self) -> int:
        """Bytes of the HTML part as compiled (placeholders not yet filled)."""
        return len(self.html.encode())

    def _estimate_size(self) -> int:
        """Bytes of the HTML part once filled for a recipient: what the size budget limits.

        Counted, not filled: each placeholder's count times how much longer a typical
        value is (signed URLs and tokens are longer than their placeholders).
        """
        found = [key for key in KNOWN_PLACEHOLDERS if key in self.html]
        values = typical_values(self.public_url, found, name_fallback=self.name_fallback)
        grows = sum(
            self.html.count(key) * (len(value.encode()) - len(key)) for key, value in values.items()
        )
        return self.size_bytes + grows

    @cached_property
    def typical(self) -> FilledEmail:
        """A copy filled with made-up values as long as real ones (size estimates, previews)."""
        values = typical_values(
            self.public_url, self.placeholders, name_fallback=self.name_fallback
        )
        return self.fill(values)

    @cached_property
    def _templates(self) -> tuple[PlaceholderTemplate, PlaceholderTemplate, PlaceholderTemplate]:
        return (
            PlaceholderTemplate(self.subject),
            PlaceholderTemplate(self.html),
            PlaceholderTemplate(self.text),
        )

    @cached_property
    def placeholders(self) -> frozenset[str]:
        """Every placeholder the subject, HTML or text holds (SendGrid needs them all)."""
        subject, html, text = self._templates
        return subject.placeholders | html.placeholders | text.placeholders

    def fill(self, values: Mapping[str, str]) -> FilledEmail:
        """One recipient's copy; ``values`` maps each placeholder to its value."""
        subject, html, text = self._templates
        return FilledEmail(subject.fill(values), html.fill(values), text.fill(values))

    def link(self, link_id: str) -> Link:
        """The link with this id (the click redirect's lookup); ``KeyError`` if unknown."""
        return self._links_by_id[link_id]

    @cached_property
    def _links_by_id(self) -> dict[str, Link]:
        return {link.link_id: link for link in self.links}
