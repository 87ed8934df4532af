"""The size budget: an 8-brief digest fits under Gmail's clipping point; overflow goes online."""

from __future__ import annotations

from newsletter.render.context import GMAIL_CLIP_BYTES
from newsletter.render.recipient import VIEW_ONLINE_URL, RecipientInfo, RecipientValues
from newsletter.tokens import TokenSigner
from tests.render.conftest import PUBLIC_URL, SECRET, compile_, fill, parse, visible_text
from tests.render.fixtures import DIGEST


def test_eight_brief_digest_fits_in_full_under_gmails_clip() -> None:
    assert len(DIGEST) == 8
    for tracked in (False, True):
        variant = compile_(DIGEST, track_clicks=tracked, track_opens=tracked)
        assert variant.brief_slugs == tuple(b.slug for b in DIGEST), variant.warnings
        assert variant.online_slugs == ()
        filled = len(fill(variant).html.encode())
        assert filled < GMAIL_CLIP_BYTES
        assert filled <= variant.estimated_size <= variant.size_budget == 100_000
        typical = RecipientInfo("s" * 22, "Maximiliana", view_id="v" * 22, tracking_id="t" * 22)
        values = RecipientValues(TokenSigner(SECRET), PUBLIC_URL).values_for(variant, typical)
        assert len(variant.fill(values).html.encode()) == variant.estimated_size
        assert not [w for w in variant.warnings if "budget" in w]


def test_briefs_that_do_not_fit_are_listed_online_and_said_so() -> None:
    full = compile_(DIGEST, fit_to_budget=False)
    budget = full.estimated_size - 25_000
    variant = compile_(DIGEST, size_budget=budget)
    assert variant.estimated_size <= budget
    assert 0 < len(variant.online_slugs) < len(DIGEST)
    assert variant.brief_slugs + variant.online_slugs == tuple(b.slug for b in DIGEST)
    assert variant.timings["passes"] <= 3
    # the next brief would not have fitted: the compiler did not give up briefs for nothing
    one_more = compile_(
        DIGEST[: len(variant.brief_slugs) + 1], size_budget=10**6, fit_to_budget=False
    )
    assert one_more.estimated_size > budget - 2_000
    (warning,) = [w for w in variant.warnings if "listed only as links" in w]
    assert all(slug in warning for slug in variant.online_slugs)
    root = parse(variant.html)
    listed = root.xpath("//h2[text()='More in this issue online']/following-sibling::ul[1]//a")
    online = [b for b in DIGEST if b.slug in variant.online_slugs]
    assert [a.text_content() for a in listed] == [b.title for b in online]
    assert [a.get("href") for a in listed] == [f"{VIEW_ONLINE_URL}#brief-{b.slug}" for b in online]
    for brief in online:
        assert brief.facts[0].text not in visible_text(variant.html)
        assert f"{VIEW_ONLINE_URL}#brief-{brief.slug}" in variant.text
    assert "MORE IN THIS ISSUE ONLINE" in variant.text
    assert {link.section for link in variant.links if link.brief_slug in variant.online_slugs} == {
        "more-online"
    }


def test_over_budget_without_fitting_is_a_warning() -> None:
    variant = compile_(DIGEST, size_budget=50_000, fit_to_budget=False)
    assert variant.online_slugs == ()
    (warning,) = [w for w in variant.warnings if "budget" in w]
    assert warning.startswith(f"the HTML is {variant.estimated_size / 1000:.1f} KB once filled")
    assert "over the 50 KB budget" in warning
    huge = compile_(DIGEST * 2, size_budget=50_000, fit_to_budget=False)
    assert any(w.endswith("Gmail will clip it") for w in huge.warnings)
