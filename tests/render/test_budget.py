"""The size budget: a 12-brief week fits whole under Gmail's clipping point, its HTML at most
2.5× its text; overflow goes online in the HTML, never in the text."""

from __future__ import annotations

from newsletter.render.context import GMAIL_CLIP_BYTES
from newsletter.render.recipient import VIEW_ONLINE_URL, RecipientInfo, RecipientValues
from newsletter.tokens import TokenSigner
from tests.render.conftest import PUBLIC_URL, SECRET, compile_, fill, parse, visible_text
from tests.render.fixtures import DIGEST, WEEK

MAX_HTML_TO_TEXT = 2.5  # lean markup: the goal that lets a 12-brief week fit whole


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


def test_twelve_brief_week_fits_whole_with_lean_markup() -> None:
    # The examples: 5–6 facts, sources with URLs, two perspectives, a forecast, establishment
    # splits. Before the lean markup, 4 of them went online (HTML 3.6–3.8× the text).
    assert len(WEEK) == 12
    for tracked in (False, True):
        variant = compile_(WEEK, track_clicks=tracked, track_opens=tracked)
        assert variant.brief_slugs == tuple(b.slug for b in WEEK), variant.warnings
        assert variant.online_slugs == ()
        filled = fill(variant)
        html, text = len(filled.html.encode()), len(filled.text.encode())
        assert html <= variant.estimated_size <= variant.size_budget < GMAIL_CLIP_BYTES
        assert html / text <= MAX_HTML_TO_TEXT, (tracked, html, text)


def test_the_text_part_is_never_cut() -> None:
    whole = compile_(WEEK, fit_to_budget=False)
    cut = compile_(WEEK, size_budget=whole.estimated_size // 2)
    assert cut.online_slugs  # the HTML lists some briefs as links …
    assert cut.text == whole.text  # … the text has every one in full
    for brief in WEEK:
        for fact in brief.facts:
            assert fact.text[:60] in " ".join(cut.text.split())


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
    contents = root.xpath("//h2[text()='Also in this issue']/following-sibling::ol[1]//a")
    assert [a.text_content() for a in contents][-len(online) :] == [b.title for b in online]
    hrefs = {a.get("href") for a in root.xpath("//a[@href]")}
    for brief in online:
        assert brief.facts[0].text not in visible_text(variant.html)
        assert not {s.url for s in brief.sources} & hrefs  # only the link to the web version
        assert brief.facts[0].text in " ".join(variant.text.split())  # the text has it all


def test_over_budget_without_fitting_is_a_warning() -> None:
    variant = compile_(DIGEST, size_budget=30_000, fit_to_budget=False)
    assert variant.online_slugs == ()
    (warning,) = [w for w in variant.warnings if "budget" in w]
    assert warning.startswith(f"the HTML is {variant.estimated_size / 1000:.1f} KB once filled")
    assert "over the 30 KB budget" in warning
    huge = compile_(DIGEST * 3, size_budget=30_000, fit_to_budget=False)
    assert any(w.endswith("Gmail will clip it") for w in huge.warnings)
