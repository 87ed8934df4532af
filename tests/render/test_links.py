"""The link table, first-party click and open tracking, and UTM parameters."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from newsletter.render.links import CONTENT_SECTIONS, LinkTable, Utm
from newsletter.render.options import VariantOptions
from newsletter.render.recipient import TRACKING_TOKEN
from newsletter.tokens import Purpose, TokenSigner
from tests.render.conftest import PUBLIC_URL, compile_, fill, parse
from tests.render.fixtures import DIGEST

CLICK = re.compile(rf"^{re.escape(PUBLIC_URL)}/t/c/{re.escape(TRACKING_TOKEN)}/([0-9a-f]{{10}})$")


def test_every_href_is_in_the_link_table() -> None:
    variant = compile_(DIGEST, fit_to_budget=False)
    hrefs = {a.get("href") for a in parse(variant.html).xpath("//a[@href]")}
    table = {link.url for link in variant.links}
    assert hrefs == table
    ids = [link.link_id for link in variant.links]
    assert len(ids) == len(set(ids))
    sections = {link.section for link in variant.links}
    assert sections == {"masthead", "toc", "fact-citation", "source", "footer"}
    for link in variant.links:
        assert (link.brief_slug is None) == (link.section in ("masthead", "footer"))
        if link.section in CONTENT_SECTIONS:
            assert link.url.startswith("https://")


def test_link_ids_are_stable_across_compilations_and_variants() -> None:
    first = {
        (link.url, link.section, link.brief_slug): link.link_id for link in compile_(DIGEST).links
    }
    again = {
        (link.url, link.section, link.brief_slug): link.link_id for link in compile_(DIGEST).links
    }
    assert first == again
    climate_only = compile_(DIGEST, VariantOptions(topics=["climate"], narratives="facts-only"))
    for link in climate_only.links:
        assert first[(link.url, link.section, link.brief_slug)] == link.link_id


def test_click_tracking_rewrites_content_links_only() -> None:
    variant = compile_(DIGEST, track_clicks=True, track_opens=True, fit_to_budget=False)
    root = parse(variant.html)
    by_id = {link.link_id: link for link in variant.links}
    rewritten = 0
    for anchor in root.xpath("//a[@href]"):
        href = anchor.get("href")
        match = CLICK.match(href)
        if match:
            link = variant.link(match.group(1))
            assert link.tracked and link.section in CONTENT_SECTIONS
            rewritten += 1
        else:
            assert any(link.url == href and not link.tracked for link in by_id.values()), href
    assert rewritten == len(root.xpath("//li/a[@class='c']")) + len(
        root.xpath("//p[@class='src']/a")
    )
    footer = [link for link in variant.links if link.section in ("footer", "masthead", "toc")]
    assert footer and not [link for link in footer if link.tracked]
    # the plain-text part keeps the destinations
    assert DIGEST[0].sources[0].url in variant.text and "/t/c/" not in variant.text


def test_open_pixel_and_tracking_token_after_filling(signer: TokenSigner) -> None:
    variant = compile_(DIGEST[:2], track_clicks=True, track_opens=True)
    (pixel,) = [i for i in parse(variant.html).xpath("//img") if "/t/o/" in i.get("src")]
    assert pixel.get("alt") == "" and pixel.get("width") == "1"
    assert pixel.get("src") == f"{PUBLIC_URL}/t/o/{TRACKING_TOKEN}.gif"
    filled = fill(variant)
    opens = re.findall(rf'{re.escape(PUBLIC_URL)}/t/o/([^"]+)\.gif"', filled.html)
    clicks = re.findall(rf'{re.escape(PUBLIC_URL)}/t/c/([^/"]+)/[0-9a-f]{{10}}"', filled.html)
    assert len(opens) == 1 and len(clicks) > 10 and set(clicks) == set(opens)
    assert signer.verify(Purpose.TRACKING, opens[0]) == "dlv-9"
    assert "/t/" not in compile_(DIGEST[:2]).html


def test_utm_parameters_on_destinations() -> None:
    utm = Utm(source="briefing", medium="email", campaign="issue-2026-11-20")
    variant = compile_(DIGEST[:2], utm=utm)
    content = [link for link in variant.links if link.section in CONTENT_SECTIONS]
    assert content
    for link in content:
        query = parse_qs(urlsplit(link.url).query)
        assert query["utm_source"] == ["briefing"] and query["utm_medium"] == ["email"]
        assert query["utm_campaign"] == ["issue-2026-11-20"]
        assert query["utm_content"] == [link.brief_slug]
    for link in variant.links:
        if link.section not in CONTENT_SECTIONS:
            assert "utm_" not in link.url
    assert content[0].url in variant.text
    hrefs = [a.get("href") for a in parse(variant.html).xpath("//a[@href]")]
    assert content[0].url in hrefs


def test_utm_keeps_the_query_and_existing_utm_values() -> None:
    utm = Utm(source="briefing", campaign="c")
    url = utm.apply("https://a.example.org/p?id=7&utm_source=partner#top", content="slug")
    parts = urlsplit(url)
    assert parse_qs(parts.query) == {
        "id": ["7"],
        "utm_source": ["partner"],
        "utm_medium": ["email"],
        "utm_campaign": ["c"],
        "utm_content": ["slug"],
    }
    assert parts.fragment == "top"


def test_the_same_link_is_registered_once() -> None:
    table = LinkTable(PUBLIC_URL)
    a = table.content("https://a.example.org/x", "source", "b1")
    b = table.content("https://a.example.org/x", "source", "b1")
    c = table.content("https://a.example.org/x", "fact-citation", "b1")
    assert a == b and a is not None and c is not None
    assert len(table.links) == 2
    assert table.content("javascript:alert(1)", "source", "b1") is None
    assert len(table.links) == 2
