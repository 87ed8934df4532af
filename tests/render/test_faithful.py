"""The digest says what the briefs say, in their order, the same way for every side.

Both parts give a brief's parts in the brief's order; a forecast states its question once,
its date only when the source gives one, and links its question; narratives all look alike.
"""

from __future__ import annotations

import re
from typing import Any

from newsletter.briefs.document import Brief
from newsletter.render.environment import TEXT_WIDTH
from newsletter.render.options import VariantOptions
from tests.render.conftest import compile_, fill, parse, visible_text
from tests.render.fixtures import DIGEST, WEEK


def html_parts(root: Any, brief: Brief) -> list[str]:
    """What a brief's HTML shows, in document order: facts, narrative headings, sources."""
    found: list[str] = []
    inside = False
    for element in root.body.iter():
        if element.tag == "h2":
            if element.get("id") == f"brief-{brief.slug}":
                inside = True
                continue
            if inside:
                break
        if not inside:
            continue
        if element.tag == "ul":
            found.append("facts")
        elif element.tag in ("h3", "h4"):
            found.append(element.text_content().casefold())
        elif element.tag == "p" and element.get("class") == "src":
            found.append("sources")
        elif element.get("class") == "ft":
            break
    return found


def text_parts(text: str, brief: Brief) -> list[str]:
    """The same for a brief's block of the text part (headings are written in capitals)."""
    block = next(b for b in text.split("=" * TEXT_WIDTH)[1:] if brief.title[:40] in b)
    found: list[str] = []
    for line in block.splitlines():
        heading = line.removesuffix(" (forecast)")
        if line.startswith("  * ") and "facts" not in found:
            found.append("facts")
        elif line == "Sources":
            found.append("sources")
        elif heading and heading == heading.upper() and heading[0].isalpha():
            found.append(heading.casefold())
    return found


def expected_parts(brief: Brief) -> list[str]:
    found = ["facts"]
    for narrative in brief.narratives:
        if narrative.kind == "establishment" and "establishment split" not in found:
            found.append("establishment split")
        found.append(narrative.label.casefold())
    return [*found, "sources"] if brief.sources else found


def test_both_parts_give_each_brief_in_the_briefs_order() -> None:
    variant = compile_(WEEK)
    root, text = parse(variant.html), variant.text
    for brief in WEEK:
        assert html_parts(root, brief) == text_parts(text, brief) == expected_parts(brief)


def test_an_editors_narrative_order_is_kept() -> None:
    climate = DIGEST[0]
    reordered = climate.model_copy(update={"narratives": climate.narratives[::-1]})
    variant = compile_([reordered])
    assert html_parts(parse(variant.html), reordered) == expected_parts(reordered)
    assert text_parts(variant.text, reordered) == expected_parts(reordered)
    assert expected_parts(reordered)[1] == "establishment split"


def forecast_brief(**changes: Any) -> Brief:
    """The climate brief with its forecast changed."""
    climate = DIGEST[0]
    forecast = climate.narratives_of("forecast")[0].model_copy(update=changes)
    narratives = [forecast if n.kind == "forecast" else n for n in climate.narratives]
    return climate.model_copy(update={"narratives": narratives})


def forecast_card(html: str) -> Any:
    (card,) = parse(html).xpath("//td[@class='cd'][h3='Nerd narrative']")
    return card


def test_forecast_question_is_shown_once_as_a_sentence() -> None:
    # Its words already state it ("There is a 62% chance that …"): not repeated.
    stated = compile_([DIGEST[0]])
    assert forecast_card(stated.html).xpath(".//p[@class='q']") == []
    assert "The European Parliament will approve" not in stated.text
    # Words that do not state it: the question is shown, once, as a sentence.
    brief = forecast_brief(paragraphs=["Traders moved after the committee vote."])
    variant = compile_([brief])
    (question,) = forecast_card(variant.html).xpath(".//p[@class='q']")
    sentence = "The European Parliament will approve the 2040 target before July 1, 2027."
    assert question.text_content() == sentence
    assert visible_text(variant.html).count("will approve the 2040 target") == 1
    assert " ".join(variant.text.split()).count(sentence) == 1


def test_forecast_date_only_when_the_source_states_one() -> None:
    dated = folded_card(compile_([DIGEST[0]]).html)
    assert "Metaculus · as of 19 November 2026" in dated
    undated_variant = compile_([forecast_brief(as_of=None)])
    undated = folded_card(undated_variant.html)
    assert "as of" not in undated and "Metaculus · brief updated 19 November 2026" in undated
    assert "  Metaculus, brief updated 19 November 2026\n" in undated_variant.text
    # A plain-text brief that states no date gets none (not its "Last updated" date) …
    gas = next(b for b in WEEK if b.slug.startswith("eu-gas-prices"))
    assert "Metaculus · brief updated 23 November 2026" in folded_card(compile_([gas]).html)
    # … one that does ("(as of Nov 18, 2026)") shows it.
    ai_act = next(b for b in WEEK if b.slug == "eu-ai-act-high-risk-delay")
    assert "Manifold Markets · as of 18 November 2026" in folded_card(compile_([ai_act]).html)


def folded_card(html: str) -> str:
    return " ".join(forecast_card(html).text_content().split())


def test_forecast_links_its_question_when_the_brief_gives_one() -> None:
    url = "https://www.metaculus.com/questions/2040-target/"
    variant = compile_([forecast_brief(url=url)], track_clicks=True)
    (link,) = forecast_card(variant.html).xpath(".//p[@class='m']/a")
    assert link.text_content() == "View on Metaculus"
    registered = variant.link(link.get("href").rsplit("/", 1)[1])
    assert (registered.url, registered.section, registered.narrative) == (
        url,
        "narrative",
        "Nerd narrative",
    )
    assert f"  View on Metaculus: {url}\n" in variant.text
    assert forecast_card(compile_([DIGEST[0]]).html).xpath(".//p[@class='m']/a") == []
    bank = next(b for b in WEEK if b.slug == "bank-of-england-cuts-rates-split-vote")
    bank_card = forecast_card(compile_([bank]).html)
    assert [a.get("href") for a in bank_card.xpath(".//a")] == [
        "https://www.gjopen.com/questions/bank-rate-march-2027"
    ]


def test_every_narrative_gets_the_same_neutral_treatment() -> None:
    variant = compile_(WEEK)
    root = parse(variant.html)
    cards = root.xpath("//td[@class='cd']")
    assert len(cards) == sum(len(b.narratives) for b in WEEK)
    looks = {(c.get("bgcolor"), c.get("style"), c.get("valign")) for c in cards if c.get("width")}
    assert len(looks) == 1  # cards side by side: first and second alike
    assert len({(c.get("bgcolor"), c.get("style")) for c in cards}) == 1
    labels = root.xpath("//td[@class='cd']/h3 | //td[@class='cd']/h4")
    assert len(labels) == len(cards)
    assert {(h.get("class"), h.get("style")) for h in labels} == {(None, None)}
    styles = " ".join(s.text_content() for s in root.xpath("//style"))
    assert not re.search(r"nth-|side|first-child|last-child|#a23b2a", styles)


def test_narrative_labels_are_headings() -> None:
    root = parse(compile_([DIGEST[0]]).html)
    assert [h.text_content() for h in root.xpath("//h3 | //h4")] == [
        "Pro-target narrative",
        "Critical narrative",
        "Nerd narrative",
        "Establishment split",
        "Pro-establishment outlets",
        "Anti-establishment outlets",
    ]


def test_text_part_has_no_image_line_and_greets_naturally() -> None:
    for briefs in (WEEK, DIGEST):
        text = fill(compile_(briefs), None).text
        assert not re.search(r"^Image\b", text, re.M)
        assert "\nHello there,\n" in text
    html = fill(compile_(DIGEST), None).html
    assert "Hello there," in visible_text(html)
    assert (
        "Bom dia leitor"
        in fill(
            compile_(DIGEST, VariantOptions(greeting="Bom dia {name}", name_fallback="leitor")),
            None,
        ).text
    )
