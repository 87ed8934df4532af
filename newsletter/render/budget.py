"""The size budget: keep a variant's HTML under Gmail's clipping point, and say when it is not.

Gmail hides everything after ~102 KB of HTML behind "[Message clipped]", including the
unsubscribe link. Rather than let that happen, the briefs at the end of a variant that do
not fit are listed as linked titles ("More in this issue online"). Sizes are measured on
the HTML filled with values as long as real ones: signed URLs and tracking tokens are
longer than their placeholders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from newsletter.briefs.document import Brief
from newsletter.render.context import GMAIL_CLIP_BYTES
from newsletter.render.variant import CompiledVariant
from newsletter.render.view import anchor

# What listing one brief as a linked title costs, and the section holding them: measured
# on the templates (a title's own bytes come on top); only a first guess, then checked.
_ONLINE_SECTION_BYTES = 1_600
_ONLINE_ENTRY_BYTES = 160


def fit_to_budget(
    build: Callable[[int], CompiledVariant], briefs: Sequence[Brief], budget: int
) -> tuple[CompiledVariant, int]:
    """The variant with as many briefs in full as fit; ``build(n)`` shows the first ``n``.

    Returns the variant and how many compilations it took (one when everything fits).
    """
    variant = build(len(briefs))
    if variant.estimated_size <= budget:
        return variant, 1
    in_full = _guess(variant, briefs, budget)
    passes = 1
    while True:
        variant = build(in_full)
        passes += 1
        if variant.estimated_size <= budget or in_full == 0:
            return variant, passes
        in_full -= 1


def _guess(variant: CompiledVariant, briefs: Sequence[Brief], budget: int) -> int:
    """How many briefs should fit, from where each brief starts in the filled HTML."""
    html = variant.typical.html.encode()
    starts = [html.find(f'id="{anchor(b.slug)}"'.encode()) for b in briefs]
    if any(position < 0 for position in starts):
        return len(briefs) - 1
    end = html.find(b'class="ft', starts[-1])
    ends = [*starts[1:], end if end > 0 else len(html)]
    size = len(html)
    for in_full in range(len(briefs) - 1, -1, -1):
        moved = briefs[in_full:]
        size -= ends[in_full] - starts[in_full]
        listed = sum(len(b.title.encode()) + _ONLINE_ENTRY_BYTES for b in moved)
        if size + _ONLINE_SECTION_BYTES + listed <= budget:
            return in_full
    return 0


def size_warnings(variant: CompiledVariant, budget: int) -> list[str]:
    """What an editor must know about the size: briefs moved online, or over the budget."""
    found: list[str] = []
    if variant.online_slugs:
        found.append(
            f"{len(variant.online_slugs)} brief(s) listed only as links to the web version to "
            f"stay under the {budget / 1000:.0f} KB budget: {', '.join(variant.online_slugs)}"
        )
    size = variant.estimated_size
    if size > budget:
        message = (
            f"the HTML is {size / 1000:.1f} KB once filled, over the {budget / 1000:.0f} KB budget"
        )
        if size > GMAIL_CLIP_BYTES:
            message += ": Gmail will clip it"
        found.append(message)
    return found
