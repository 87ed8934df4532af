"""What a segment may change about its variant of a campaign: briefs, order, narratives, words.

Stored as JSON on each segment; the compiler applies one ``VariantOptions`` to the campaign's
briefs to produce that segment's variant.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NarrativeDisplay = Literal["all", "facts-only", "no-forecast"]
BriefOrder = Literal["campaign", "newest", "topics"]

_Topic = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]


class VariantOptions(BaseModel):
    """One segment's choices; the defaults give the full digest in the campaign's order.

    - ``topics``: only briefs with at least one of these topics (empty: every brief);
    - ``order``: ``campaign`` as listed, ``newest`` by updated date, ``topics`` by the
      position of a brief's first matching topic in ``topics``;
    - ``narratives``: ``all``; ``facts-only`` (no narratives at all); ``no-forecast``;
    - ``intro``: plain text shown under the greeting (blank lines separate paragraphs);
    - ``greeting``: text where ``{name}`` becomes the reader's first name, or
      ``name_fallback`` when we do not know it (the default reads "Hello there,");
    - ``subject`` / ``preheader``: Jinja templates (``issue_date``, ``first_title``,
      ``brief_count``, ``newsletter_name``); unset: the campaign's own.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    topics: list[_Topic] = Field(default_factory=list, max_length=50)
    order: BriefOrder = "campaign"
    narratives: NarrativeDisplay = "all"
    intro: Annotated[str, StringConstraints(max_length=2_000)] | None = None
    greeting: Annotated[str, StringConstraints(max_length=200)] = "Hello {name},"
    name_fallback: Annotated[str, StringConstraints(max_length=60)] = "there"  # "Hello there,"
    subject: Annotated[str, StringConstraints(max_length=300)] | None = None
    preheader: Annotated[str, StringConstraints(max_length=300)] | None = None
    max_briefs: int | None = Field(default=None, ge=1, le=50)
