"""User-written text is shown, never executed: script tags, javascript: URLs, fake placeholders."""

from __future__ import annotations

from datetime import date

from newsletter.briefs.document import Brief
from newsletter.placeholders import remaining_placeholders
from newsletter.render.links import http_url
from newsletter.render.options import VariantOptions
from tests.render.conftest import compile_, fill, parse, visible_text

SCRIPT = "<script>alert('x')</script>"
JS_URL = "javascript:alert(document.cookie)"


def hostile_brief() -> Brief:
    return Brief.model_validate(
        {
            "slug": "hostile",
            "title": f'Title {SCRIPT} "quoted" & more',
            "updated": date(2026, 11, 1),
            "image_url": "https://img.example.org/a.jpg?x=1&y=2",
            "image_alt": f'Alt " onerror="alert(1) {SCRIPT}',
            "image_credit": f"Credit {SCRIPT}",
            "topics": ["security"],
            "facts": [
                {"text": f"A fact with {SCRIPT} inside.", "citations": [1]},
                {"text": f"Click {JS_URL} for more, or %%nl_unsubscribe_url%%.", "citations": [2]},
                {"text": "A made-up %%nl_secret_value%% and <img src=x onerror=alert(1)>."},
            ],
            "sources": [
                {"number": 1, "label": f"Label {SCRIPT}", "url": "https://a.example.org/?q=<x>"},
                {"number": 2, "label": JS_URL},
            ],
            "narratives": [
                {"label": f"Side {SCRIPT}", "paragraphs": [f"Para {SCRIPT} {JS_URL}"]},
                {"label": "Other </mj-text></mj-column> side", "paragraphs": ["<mj-raw>raw"]},
            ],
        }
    )


def test_hostile_text_is_shown_harmlessly() -> None:
    brief = hostile_brief()
    variant = compile_([brief], VariantOptions(intro=f"Intro {SCRIPT}", greeting="Hi {name} <b>"))
    filled = fill(variant, first_name=f"Eve {SCRIPT}")
    root = parse(filled.html)
    assert root.xpath("//script") == []
    assert [i.get("src") for i in root.xpath("//img")] == [brief.image_url]
    assert root.xpath("//img")[0].get("alt") == brief.image_alt
    assert not [e for e in root.iter() if any(k.startswith("on") for k in e.attrib)]
    hrefs = [a.get("href") for a in root.xpath("//a[@href]")]
    assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")]
    assert "javascript:" not in " ".join(f"{k}={v}" for e in root.iter() for k, v in e.items())
    shown = visible_text(filled.html)
    for text in (brief.title, brief.facts[0].text, f"Side {SCRIPT}", f"Para {SCRIPT} {JS_URL}"):
        assert text in shown
    assert f"Eve {SCRIPT}" in shown and f"Intro {SCRIPT}" in shown and "Hi Eve" in shown
    assert f"Label {SCRIPT}" in shown and JS_URL in shown
    assert "Other </mj-text></mj-column> side" in shown and "<mj-raw>raw" in shown
    assert f"Hi Eve {SCRIPT} <b>" in filled.text and brief.facts[0].text in filled.text


def test_placeholder_lookalikes_in_briefs_are_not_filled() -> None:
    variant = compile_([hostile_brief()])
    filled = fill(variant)  # an unknown %%nl_secret_value%% would raise KeyError here
    for part in (filled.html, filled.text):
        assert remaining_placeholders(part) == []
        assert "%%\u2060nl_secret_value%%" in part
        assert "%%\u2060nl_unsubscribe_url%%" in part


def test_only_http_urls_become_hrefs() -> None:
    assert http_url("https://a.example.org/x") == "https://a.example.org/x"
    assert http_url(" HTTP://a.example.org ") == "HTTP://a.example.org"
    for bad in (
        JS_URL,
        "JavaScript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:x",
        "//a.example.org/x",
        "/relative",
        "https://",
        "https://a.example.org/x y",
        "https://a.example.org/\x00",
        "",
        None,
    ):
        assert http_url(bad) is None, bad
