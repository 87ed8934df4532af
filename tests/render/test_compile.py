"""The compiled digest: every narrative mode, nothing dropped, email-client rules, placeholders."""

from __future__ import annotations

import re

import pytest

from newsletter.briefs.document import Brief
from newsletter.errors import RenderError
from newsletter.placeholders import remaining_placeholders
from newsletter.render.inline import inline_css
from newsletter.render.mjml import mjml_to_html
from newsletter.render.options import NarrativeDisplay, VariantOptions
from newsletter.render.recipient import FIRST_NAME, FIRST_NAME_HTML, KNOWN_PLACEHOLDERS
from newsletter.render.variant import CompiledVariant
from tests.render.conftest import compile_, fill, parse, visible_text
from tests.render.fixtures import DIGEST, WEEK, seed_brief

MODES: tuple[NarrativeDisplay, ...] = ("all", "facts-only", "no-forecast")
SEED = seed_brief()
SETS = {"seed": (SEED,), "digest": DIGEST}


def folded(text: str) -> str:
    return " ".join(text.split())


def shown_narratives(brief: Brief, mode: NarrativeDisplay) -> list[str]:
    if mode == "facts-only":
        return []
    return [n.label for n in brief.narratives if mode == "all" or n.kind != "forecast"]


@pytest.fixture(scope="module")
def variants() -> dict[tuple[str, str], CompiledVariant]:
    return {
        (name, mode): compile_(briefs, VariantOptions(narratives=mode), fit_to_budget=False)
        for name, briefs in SETS.items()
        for mode in MODES
    }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", SETS)
def test_every_mode_renders_everything_it_should(
    variants: dict[tuple[str, str], CompiledVariant], name: str, mode: NarrativeDisplay
) -> None:
    variant = variants[(name, mode)]
    filled = fill(variant)
    html_text, text = visible_text(filled.html), folded(filled.text)
    assert variant.brief_slugs == tuple(b.slug for b in SETS[name])
    for brief in SETS[name]:
        for part in (html_text, text):
            assert brief.title in part
            for fact in brief.facts:
                assert fact.text in part
            for source in brief.sources:
                assert f"[{source.number}]" in part
                if source.label:
                    assert source.label in part
        shown = shown_narratives(brief, mode)
        for narrative in brief.narratives:
            label_in_html = narrative.label in html_text
            label_in_text = narrative.label.upper() in text
            assert label_in_html == label_in_text == (narrative.label in shown), narrative.label
            for paragraph in narrative.paragraphs:
                assert (paragraph in html_text) == (narrative.label in shown)
                assert (paragraph in text) == (narrative.label in shown)


@pytest.mark.parametrize("name", SETS)
def test_filling_leaves_no_placeholder(
    variants: dict[tuple[str, str], CompiledVariant], name: str
) -> None:
    variant = variants[(name, "all")]
    assert variant.placeholders <= KNOWN_PLACEHOLDERS
    filled = fill(variant)
    for part in (filled.subject, filled.html, filled.text):
        assert remaining_placeholders(part) == []
        assert "%%nl_" not in part


def test_citations_link_to_their_sources_or_stay_plain_numbers() -> None:
    brazil = DIGEST[1]
    html = parse(compile_([brazil]).html)
    facts = html.xpath("//ul/li")
    assert len(facts) == len(brazil.facts)
    for item, fact in zip(facts, brazil.facts, strict=True):
        chips = item.xpath("*[@class='c']")
        assert [c.text_content() for c in chips] == [str(n) for n in fact.citations]
        for chip, number in zip(chips, fact.citations, strict=True):
            source = brazil.source(number)
            assert source is not None
            if source.url:  # a link named for screen readers: "source 2: Banco Central do Brasil"
                assert chip.tag == "a" and chip.get("href") == source.url
                assert chip.get("aria-label") == f"source {number}: {source.label}"
            else:
                assert chip.tag == "span" and chip.get("href") is None
    seed_html = parse(compile_([SEED]).html)
    assert seed_html.xpath("//li/a") == []  # the seed has no sources: plain numbers
    assert [s.text_content() for s in seed_html.xpath("//li/span")] == [
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
    ]


def test_a_citation_names_the_outlet_not_the_headline() -> None:
    gas = next(b for b in WEEK if b.slug.startswith("eu-gas-prices"))
    assert gas.sources[0].label and gas.sources[0].label.startswith("Reuters: Europe gas")
    chip = parse(compile_([gas]).html).xpath("//li/a[@class='c']")[0]
    assert chip.get("aria-label") == "source 1: Reuters"


def test_compact_sources_line_links_each_label() -> None:
    brazil = DIGEST[1]
    html = parse(compile_([brazil]).html)
    (line,) = html.xpath("//p[@class='src']")
    links = {a.text_content(): a.get("href") for a in line.xpath("a")}
    for source in brazil.sources:
        shown = f"[{source.number}]\xa0{source.label}"
        if source.url:
            assert links[shown] == source.url
        else:
            assert shown in line.text_content() and shown not in links


def test_narrative_citation_markers_become_links() -> None:
    brief = DIGEST[2].model_copy(
        update={
            "narratives": [
                DIGEST[2]
                .narratives[0]
                .model_copy(update={"paragraphs": ["Officials said so [1][2] and more [9]."]})
            ]
        }
    )
    variant = compile_([brief])
    card = parse(variant.html).xpath("//td[@class='cd']")[0]
    assert [a.get("href") for a in card.xpath(".//a[@class='c']")] == [
        brief.sources[0].url,
        brief.sources[1].url,
    ]
    assert [s.text_content() for s in card.xpath(".//*[@class='c']")] == ["1", "2", "9"]
    narrative_links = [link for link in variant.links if link.section == "narrative"]
    assert {link.narrative for link in narrative_links} == {brief.narratives[0].label}
    assert "Officials said so [1][2] and more [9]." in variant.text


def test_forecast_shows_number_bar_forecaster_and_date() -> None:
    climate = DIGEST[0]
    html = parse(compile_([climate]).html)
    (card,) = html.xpath("//td[@class='cd'][h3='Nerd narrative']")
    assert card.xpath(".//td[@class='pc']")[0].text_content() == "62%"
    assert card.xpath(".//td[@class='on']")[0].get("width") == "62%"
    assert card.xpath(".//td[@class='of']")[0].get("width") == "38%"
    assert "Metaculus · as of 19 November 2026" in folded(card.text_content())


def test_establishment_split_shows_both_sides_or_nothing() -> None:
    climate, brazil = DIGEST[0], DIGEST[1]
    root = parse(compile_([climate]).html)
    html = visible_text(compile_([climate]).html)
    assert html.count("Establishment split") == 1  # labelled once, with one line saying what it is
    (note,) = root.xpath("//h3[text()='Establishment split']/following-sibling::p[1]")
    assert note.text_content().startswith("How outlets close to the establishment and outlets")
    headings = [h.text_content() for h in root.xpath("//h4")]
    assert headings == [side.label for side in climate.narratives_of("establishment")]
    assert "Establishment split" not in visible_text(compile_([brazil]).html)
    assert "Establishment split" not in visible_text(compile_([SEED]).html)


def test_images_have_alt_text_falling_back_to_the_title() -> None:
    variant = compile_(DIGEST, track_opens=True)
    images = parse(variant.html).xpath("//img")
    assert images, "the digest has images"
    for image in images:
        assert image.get("alt") is not None
    content = [i for i in images if "/t/o/" not in i.get("src")]
    alts = [i.get("alt") for i in content]
    assert alts == [b.image_alt or b.title for b in DIGEST if b.image_url]
    assert "Image: Marcelo Camargo / Agência Brasil" in visible_text(variant.html)


def test_lang_dir_dark_mode_and_mobile_rules() -> None:
    html = compile_([SEED]).html
    root = parse(html)
    assert root.get("lang") == "en" and root.get("dir") == "ltr"
    assert html.lower().startswith("<!doctype html>")
    styles = " ".join(s.text_content() for s in root.xpath("//style"))
    assert "@media (prefers-color-scheme:dark)" in styles
    assert "@media only screen and (max-width:479px)" in styles
    assert 'name="color-scheme"' in html
    rtl = parse(compile_([SEED], language="ar").html)
    assert rtl.get("lang") == "ar" and rtl.get("dir") == "rtl"


def test_outlook_conditional_comments_survive_inlining() -> None:
    variant = compile_(DIGEST, fit_to_budget=False)
    raw = mjml_to_html(variant.mjml, template="digest")
    for marker in ("<!--[if mso | IE]>", "<![endif]-->", "<!--[if !mso]><!-->", "<!--[if mso]>"):
        assert raw.count(marker) > 0
        assert variant.html.count(marker) == raw.count(marker), marker
    assert "<o:OfficeDocumentSettings>" in variant.html


def test_only_the_templates_inline_css_is_inlined() -> None:
    variant = compile_([SEED])
    root = parse(variant.html)
    card = root.xpath("//td[@class='cd']")[0]  # Outlook needs a cell's padding inline
    assert "padding:12px16px" in card.get("style").replace(" ", "")
    meta = root.xpath("//p[@class='m']")[0]  # the rest stays in <style>, once
    assert meta.get("style") is None
    # MJML's reset stays in <style>: it is not copied onto every cell
    assert not [td for td in root.xpath("//td") if "mso-table-lspace" in (td.get("style") or "")]
    assert "data-premailer" not in variant.html
    with pytest.raises(RenderError, match=r"digest\.mjml\.j2: the inline CSS block is missing"):
        inline_css(
            mjml_to_html(variant.mjml, template="t"), "p{color:red}", template="digest.mjml.j2"
        )


def test_inline_runs_keep_their_spaces() -> None:
    html = visible_text(compile_([DIGEST[1]]).html)
    assert "Sources [1] G1 · [2] Banco Central do Brasil" in html  # no-break spaces folded
    assert "Polymarket · as of 18 November 2026" in html


def test_greeting_intro_and_name_fallback() -> None:
    options = VariantOptions(
        greeting="Bom dia {name}!", name_fallback="leitor", intro="First.\n\nSecond line."
    )
    variant = compile_([SEED], options)
    assert variant.name_fallback == "leitor"
    assert f"Bom dia {FIRST_NAME_HTML}!" in variant.html
    assert f"Bom dia {FIRST_NAME}!" in variant.text and FIRST_NAME not in variant.html
    named = fill(variant, "<b>Zoë & co</b>")
    assert "Bom dia &lt;b&gt;Zoë &amp; co&lt;/b&gt;!" in named.html
    assert "Bom dia <b>Zoë & co</b>!" in named.text
    anonymous = fill(variant, None)
    assert "Bom dia leitor!" in visible_text(anonymous.html)
    assert "First.\n\nSecond line." in anonymous.text
    body = parse(anonymous.html).body
    paragraphs = [p.text_content() for p in body.xpath("//p")]
    start = paragraphs.index("Bom dia leitor!")
    assert paragraphs[start : start + 3] == ["Bom dia leitor!", "First.", "Second line."]


def test_table_of_contents_links_each_brief_anchor() -> None:
    variant = compile_(DIGEST[:3])
    root = parse(variant.html)
    toc = [
        a.get("href")
        for a in root.xpath("//h2[text()='Also in this issue']/following-sibling::ol[1]//a")
    ]
    assert toc == [f"#brief-{b.slug}" for b in DIGEST[1:3]]  # after the lead, the others
    for href in toc:
        assert root.xpath(f"//h2[@id='{href[1:]}']")
    headings = [h.get("id") or h.text_content() for h in root.xpath("//h2")]
    assert headings[:2] == [f"brief-{DIGEST[0].slug}", "Also in this issue"]
    assert "IN THIS ISSUE" in variant.text
    assert "ol" not in [e.tag for e in parse(compile_([SEED]).html).iter()]  # one brief: no TOC


def test_footer_has_why_preferences_unsubscribe_address_and_editors() -> None:
    brief = SEED.model_copy(update={"topics": ["war", "us"]})
    variant = compile_([brief], VariantOptions(topics=["war", "us"]))
    filled = fill(variant)
    footer = visible_text(filled.html).split("You are receiving")[1]
    assert "The Briefing because you subscribed at news.example.org" in footer
    assert "This edition covers: War, US." in footer  # topics as labels, not slugs
    labelled = compile_(
        [brief], VariantOptions(topics=["war", "us"]), topic_labels=(("us", "the United States"),)
    )
    assert "This edition covers: War, the United States." in visible_text(fill(labelled).html)
    assert "Manage your preferences · Unsubscribe" in footer
    assert "12 Harbour Street, Lisbon" in footer and "editors@news.example.org" in footer
    hrefs = [a.get("href") for a in parse(filled.html).xpath("//a")]
    assert any(h.startswith("https://news.example.org/unsubscribe/") for h in hrefs)
    assert any(h.startswith("https://news.example.org/preferences/") for h in hrefs)
    assert re.search(
        r"^Unsubscribe: https://news\.example\.org/unsubscribe/\S+$", filled.text, re.M
    )
    assert "Write to the editors: editors@news.example.org" in filled.text


def test_missing_postal_address_is_simply_absent_not_invented() -> None:
    variant = compile_([SEED], postal_address=None)
    assert "Harbour" not in variant.html and "None" not in visible_text(variant.html)


def test_test_send_banner_and_subject() -> None:
    variant = compile_([SEED], test_send=True)
    assert variant.subject.startswith("[TEST] ")
    assert "Test send. This copy went only to you" in visible_text(variant.html)
    assert "Test send" not in visible_text(compile_([SEED]).html)
