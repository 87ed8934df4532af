"""The plain-text part: what a terminal mail client shows."""

from __future__ import annotations

import re

from newsletter.render.environment import TEXT_WIDTH
from newsletter.render.options import VariantOptions
from tests.render.conftest import compile_, fill
from tests.render.fixtures import DIGEST, seed_brief


def blocks(text: str) -> list[str]:
    """The text of each brief, from its rule to the next."""
    return text.split("=" * TEXT_WIDTH)[1:]


def test_structure_of_the_digest_text() -> None:
    variant = compile_(DIGEST, VariantOptions(intro="Welcome to this week's issue."))
    text = fill(variant).text
    lines = text.splitlines()
    assert lines[0] == "THE BRIEFING · 20 November 2026"
    assert lines[1].startswith("View in your browser: https://news.example.org/view/")
    assert "Hello Ana," in lines and "Welcome to this week's issue." in lines
    toc = lines[lines.index("IN THIS ISSUE") + 1 : lines.index("IN THIS ISSUE") + 9]
    assert [re.sub(r"^ ?\d\. ", "", line) for line in toc][:1] == [DIGEST[0].title]
    for brief, block in zip(DIGEST, blocks(text), strict=True):
        body = block.splitlines()
        assert body[1].startswith(f"{DIGEST.index(brief) + 1}. ")
        assert f"Updated {brief.updated.day} " in block
        bullets = [line for line in body if line.startswith("  * ")]
        assert len(bullets) == len(brief.facts)
        folded = " ".join(block.split())
        for fact in brief.facts:
            assert fact.text + "".join(f"[{n}]" for n in fact.citations) in folded
        sources = block.split("\nSources\n")[1]
        for source in brief.sources:
            label = source.label or source.url.split("/")[2].removeprefix("www.")  # type: ignore[union-attr]
            assert f"[{source.number}] {label}" in " ".join(sources.split())
            if source.url:
                assert f"<{source.url}>" in sources
        for narrative in brief.narratives:
            assert narrative.label.upper() in block
            # a narrative comes before the sources that close the brief
            assert block.index(narrative.label.upper()) < block.index("\nSources\n")
    footer = text.split("\n-- \n")[1]
    assert re.search(r"^Unsubscribe: https://news\.example\.org/unsubscribe/\S+$", footer, re.M)
    assert re.search(r"^Manage your preferences: https://\S+$", footer, re.M)
    assert "12 Harbour Street" in footer
    assert (
        "Write to the editors: editors@news.example.org (or just reply to this email)"
        in " ".join(footer.split())
    )


def test_lines_fit_a_terminal_except_unbreakable_urls() -> None:
    text = fill(compile_(DIGEST)).text
    for line in text.splitlines():
        if len(line) > TEXT_WIDTH:
            assert re.search(r"https?://\S{20,}", line), line


def test_forecast_in_text() -> None:
    text = compile_([seed_brief()]).text
    block = text.split("NERD NARRATIVE (forecast)\n")[1]
    # the question is in the forecast's own words: not repeated; the source states no date
    assert block.startswith("  10% [##..................]\n  Metaculus, brief updated 24 March")
    assert "2023\n\n  There is a 10% chance that Russia will capture" in block
