"""The plain-text importer: the seed brief exactly, and the variations a newsroom writes."""

from __future__ import annotations

from datetime import date
from textwrap import dedent

import pytest

from newsletter.briefs.plaintext import load_plaintext
from newsletter.errors import BriefFormatError
from tests.conftest import SEED_BRIEF


def parse(text: str) -> object:
    return load_plaintext(dedent(text).lstrip("\n"), source="brief.txt")


def problems(text: str) -> list[str]:
    with pytest.raises(BriefFormatError) as info:
        parse(text)
    return [str(p) for p in info.value.problems]


def test_seed_brief_imports_exactly_as_described() -> None:
    brief = load_plaintext(SEED_BRIEF.read_text(encoding="utf-8"), source=str(SEED_BRIEF))
    assert brief.title == "Ukrainian Commander: Russia 'Losing Steam' in Bakhmut"
    assert brief.updated == date(2023, 3, 24)
    assert brief.image_credit == "via Ukranews"
    assert brief.image_url is None
    assert [f.citations for f in brief.facts] == [[1], [2], [3], [4], [5], [6]]
    assert all("[" not in f.text for f in brief.facts)
    assert brief.facts[0].text.startswith("Russian forces in the Donetsk city of Bakhmut")
    assert brief.facts[0].text.endswith("to retake ground in the area.")
    assert brief.facts[5].text.endswith('"these have to be Ukrainian decisions."')
    labels = [(n.label, n.kind) for n in brief.narratives]
    assert labels == [
        ("Anti-Russia narrative", "perspective"),
        ("Pro-Russia narrative", "perspective"),
        ("Nerd narrative", "forecast"),
    ]
    nerd = brief.narratives[2]
    assert nerd.probability == pytest.approx(0.10)
    assert nerd.forecaster == "Metaculus"
    assert nerd.question == (
        "Russia will capture or surround a large Ukrainian city before June 1, 2023"
    )
    assert nerd.as_of is None  # the sentence states no date: none is invented
    assert brief.narratives_of("establishment") == []
    assert brief.sources == []
    dumped = brief.model_dump_json()
    assert "More neutral establishment stance articles" not in dumped
    assert "Sign up to our newsletter" not in dumped
    assert brief.slug == "ukrainian-commander-russia-losing-steam-in-bakhmut"


RICH = """
    Ceasefire talks resume in Doha — “cautious optimism”
    Last updated November 20, 2026
    Topics: Middle East, Diplomacy
    Image: https://images.example.org/doha.jpg
    Image credit: Reuters/Ibraheem Abu Mustafa

    • Negotiators met for six hours on Tuesday[1], officials said.[2][3]
    • Qatar's foreign ministry called the talks "constructive",
      adding that a second round is planned.[2]

    Pro-Israel narrative

    Pressure works. The talks resumed only after
    the latest operation.

    A second paragraph of the same narrative.

    Pro-Palestine narrative

    The talks are a delay tactic.

    Nerd narrative

    There's a 62% chance of a ceasefire before 2027, according to Manifold Markets (as of Nov 18, 2026).

    Establishment split

    Pro-establishment narrative

    Diplomacy is finally working.

    Establishment-critical narrative

    Nothing will change on the ground.

    More neutral establishment stance articles

    Sign up to our newsletter!

    Sources

    [1] Reuters: Talks resume: what we know https://www.reuters.com/world/talks
    [2] Al Jazeera: https://www.aljazeera.com/news/1
    [3] Times of Israel
"""


def test_newsroom_variations() -> None:
    brief = parse(RICH)
    assert brief.title == "Ceasefire talks resume in Doha — “cautious optimism”"
    assert brief.updated == date(2026, 11, 20)
    assert brief.topics == ["middle east", "diplomacy"]
    assert brief.image_url == "https://images.example.org/doha.jpg"
    assert brief.facts[0].text == "Negotiators met for six hours on Tuesday, officials said."
    assert brief.facts[0].citations == [1, 2, 3]
    assert brief.facts[1].text == (
        'Qatar\'s foreign ministry called the talks "constructive", '
        "adding that a second round is planned."
    )
    pro_israel = brief.narratives[0]
    assert pro_israel.paragraphs == [
        "Pressure works. The talks resumed only after the latest operation.",
        "A second paragraph of the same narrative.",
    ]
    forecast = brief.narratives[2]
    assert forecast.kind == "forecast"
    assert forecast.probability == pytest.approx(0.62)
    assert forecast.forecaster == "Manifold Markets"
    assert forecast.question == "a ceasefire before 2027"
    assert forecast.as_of == date(2026, 11, 18)
    establishment = brief.narratives_of("establishment")
    assert [n.label for n in establishment] == [
        "Pro-establishment narrative",
        "Establishment-critical narrative",
    ]
    assert [(s.number, s.label, s.url) for s in brief.sources] == [
        (1, "Reuters: Talks resume: what we know", "https://www.reuters.com/world/talks"),
        (2, "Al Jazeera", "https://www.aljazeera.com/news/1"),
        (3, "Times of Israel", None),
    ]
    assert brief.warnings() == ["sources without a URL: [3]"]


def test_missing_image_credit_and_unicode_title() -> None:
    brief = parse(
        """
        Выборы в Молдове: итоги
        Last updated 2026-11-22

        • Явка составила 52%.[1]
        """
    )
    assert brief.image_credit is None
    assert brief.title == "Выборы в Молдове: итоги"
    assert brief.slug  # a non-Latin title still gets a usable slug
    assert brief.facts[0].text == "Явка составила 52%."


def test_boilerplate_above_the_facts_is_dropped() -> None:
    brief = parse(
        """
        Title
        Share this story
        Last updated Nov 20, 2026
        Sign up to our newsletter!

        • A fact.[1]

        X narrative

        Text.

        Share this brief
        """
    )
    assert brief.updated == date(2026, 11, 20)
    assert [f.text for f in brief.facts] == ["A fact."]
    assert brief.narratives[0].paragraphs == ["Text."]


@pytest.mark.parametrize(
    ("sentence", "probability", "forecaster", "question", "as_of"),
    [
        (
            "There is a 35% chance that the bill passes before 2027, according to Metaculus. "
            "Forecasters moved the figure up after the vote.",
            0.35,
            "Metaculus",
            "the bill passes before 2027",
            None,
        ),
        (
            "There's a 62% chance of a cut in December, according to traders on Polymarket "
            "(as of Nov 17, 2026). The market was thin.",
            0.62,
            "Polymarket",
            "a cut in December",
            date(2026, 11, 17),
        ),
        (
            "There is a 40 per cent chance that it happens, according to Good Judgment Open "
            "superforecasters.",
            0.40,
            "Good Judgment Open",
            "it happens",
            None,
        ),
        (
            "There is an 8% chance that the U.S. wins, according to the Kalshi.com prediction market",
            0.08,
            "Kalshi.com",
            "the U.S. wins",
            None,
        ),
    ],
)
def test_forecast_sentence_shapes(
    sentence: str, probability: float, forecaster: str, question: str, as_of: date | None
) -> None:
    # The forecast sentence may be followed by commentary in the same paragraph; the
    # forecaster is the name alone, without "traders on" or "superforecasters".
    brief = load_plaintext(
        f"Title\nLast updated Nov 18, 2026\n\n• A fact.[1]\n\nNerd narrative\n\n{sentence}\n",
        source="brief.txt",
    )
    nerd = brief.narratives[0]
    assert nerd.kind == "forecast"
    assert nerd.probability == pytest.approx(probability)
    assert nerd.forecaster == forecaster
    assert nerd.question == question
    assert nerd.as_of == as_of
    assert nerd.paragraphs == [sentence]


def test_forecast_link_line_names_the_question() -> None:
    brief = load_plaintext(
        "Title\nLast updated Nov 18, 2026\n\n• A fact.[1]\n\nNerd narrative\n\n"
        "There is a 5% chance that it rains, according to Metaculus.\n\n"
        "Link: https://www.metaculus.com/questions/123/\n\nA comment.\n",
        source="brief.txt",
    )
    (nerd,) = brief.narratives
    assert nerd.url == "https://www.metaculus.com/questions/123/"
    assert nerd.paragraphs == [
        "There is a 5% chance that it rains, according to Metaculus.",
        "A comment.",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Title\nLast updated Feb 30, 2023\n\n• A fact.[1]\n",
            "brief.txt:2: impossible or unreadable date 'Feb 30, 2023'",
        ),
        (
            "Title\nLast updated Mar 1, 2023\n\n• A fact.[1]\n\nNerd narrative\n\n"
            "There is a 150% chance that it rains, according to Metaculus.\n",
            "brief.txt:6: probability 150% is outside 0–100%",
        ),
        (
            "Title\nLast updated Mar 1, 2023\n\n• A fact.[4]\n\nSources\n\n[1] A: https://a.example\n",
            "brief.txt:4: fact 1 cites [4] but the sources list has no [4]",
        ),
        (
            "Title\nLast updated Mar 1, 2023\n\n• A fact.[1]\n\nX narrative\n\nOne.\n\n"
            "X narrative\n\nTwo.\n",
            "brief.txt:10: narrative label 'X narrative' is used more than once",
        ),
        (
            "Title\nLast updated Mar 1, 2023\n\n• A fact.[1]\n\nSources\n\n[1] A: ftp://a.example/x\n",
            "brief.txt:8: source 1 url must be an http(s) URL",
        ),
        (
            "Title\nLast updated Mar 1, 2023\nImage: javascript:alert(1)\n\n• A fact.[1]\n",
            "brief.txt:3: image url must be an http(s) URL",
        ),
        ("Last updated Mar 1, 2023\n", "brief.txt:1: the first line must be the title"),
        ("Title\nLast updated Mar 1, 2023\n", "brief.txt:1: facts is empty"),
        ("Title\n\n• A fact.[1]\n", "brief.txt:1: updated is missing"),
        (
            "Title\nLast updated Mar 1, 2023\n\n• A fact.[1]\n\nNerd narrative\n\nIt may rain.\n",
            "brief.txt:6: the 'Nerd narrative' needs a forecast sentence",
        ),
        (
            "Title\nLast updated Mar 1, 2023\n\n• A fact.[1]\n\nNerd narrative\n\n"
            "There is a 5% chance that it rains, according to Metaculus.\n\nLink: ftp://x/q\n",
            "brief.txt:10: narrative 1 url must be an http(s) URL",
        ),
        (
            "Title\nLast updated Mar 1, 2023\n\n• A fact.[1]\n\nX narrative\n\nOne.\n\n"
            "Link: https://example.org/q\n",
            "brief.txt:6: narrative 1 url only belong to a forecast narrative",
        ),
        (
            "Title\nLast updated Mar 1, 2023\n\n• A fact.[1]\n\nA stray paragraph.\n",
            "brief.txt:6: unexpected text outside any section",
        ),
        (
            "Title\nLast updated Mar 1, 2023\n\n• A fact.[1]\n\nEstablishment split\n\nLoose text.\n",
            "brief.txt:8: unexpected text under 'Establishment split'",
        ),
    ],
)
def test_errors_say_file_line_and_what(text: str, expected: str) -> None:
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


def test_empty_title_is_an_error() -> None:
    # A file whose first line is only a bullet has no title at all.
    found = problems("   \n\n")
    assert "brief.txt:1: title is missing" in found or any("title" in p for p in found)


def test_every_problem_is_reported_at_once() -> None:
    # Field problems are all reported together; brief-wide rules (duplicate labels,
    # missing sources) are checked once the fields themselves are valid.
    found = problems(
        "Title\nLast updated Feb 30, 2023\nImage: ftp://x\n\n• A fact.[1]\n\nX narrative\n\n"
        "\n\nNerd narrative\n\nNo forecast here.\n"
    )
    assert [p.split(":")[1] for p in found] == ["2", "3", "7", "11"], found
    assert found[2] == "brief.txt:7: narrative 1 has no text"


def test_html_in_text_is_kept_as_text() -> None:
    brief = parse(
        """
        <script>alert("x")</script> Title
        Last updated Mar 1, 2023

        • A <b>bold</b> claim with javascript:alert(1) in it.[1]
        """
    )
    assert brief.title == '<script>alert("x")</script> Title'
    assert brief.facts[0].text == "A <b>bold</b> claim with javascript:alert(1) in it."


# --- robustness: any text either parses or is refused with located problems --------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_LINES = st.sampled_from(
    [
        "Title of a brief",
        "Last updated Mar 24, 2023",
        "Last updated Feb 30, 2023",
        "Image credit: [via Reuters]",
        "Image: https://example.org/a.jpg",
        "Topics: europe, tech",
        "• A fact.[1]",
        "• Another fact[2][3] mid-sentence.",
        "Anti-X narrative",
        "Nerd narrative",
        "There is a 40% chance that it happens, according to Metaculus.",
        "There's a 140% chance that it happens, according to Metaculus.",
        "Establishment split",
        "Pro-establishment narrative",
        "Sources",
        "[1] Reuters: https://reuters.com/a",
        "[2] javascript:alert(1)",
        "Sign up to our newsletter!",
        "",
        "",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES | st.text(max_size=30), max_size=25))
def test_parser_never_crashes(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        brief = load_plaintext(text, source="fuzz.txt")
    except BriefFormatError as exc:
        assert all(p.source == "fuzz.txt" and p.message for p in exc.problems)
    else:
        assert brief.facts and brief.title


def test_header_keys_need_their_colon_and_slugs_drop_apostrophes() -> None:
    found = problems(
        "Ukraine's grid holds\nLast updated Mar 1, 2023\nImages show damage\n\n• A fact.[1]\n"
    )
    assert found[0].startswith("brief.txt:3: unexpected line before the first fact: 'Images show")
    brief = parse("Ukraine's grid holds\nLast updated Mar 1, 2023\n\n• A fact.[1]\n")
    assert brief.slug == "ukraines-grid-holds"
