"""The structured (YAML/JSON) format: validation with lines, and the export round trip."""

from __future__ import annotations

import json
from datetime import date
from textwrap import dedent

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.briefs.document import Brief, Fact, Narrative, Source
from newsletter.briefs.export import dump_brief, dump_plaintext
from newsletter.briefs.plaintext import load_plaintext
from newsletter.briefs.structured import load_structured
from newsletter.errors import BriefFormatError
from tests.conftest import SEED_BRIEF

YAML_BRIEF = dedent(
    """\
    slug: ecb-holds-rates
    title: ECB holds rates at 2%
    updated: 2026-11-20
    topics: [economy, europe]
    status: ready
    facts:
      - text: The ECB kept its deposit rate unchanged.
        citations: [1]
      - text: Two members dissented.
        citations: [1, 2]
    sources:
      - number: 1
        label: ECB press release
        url: https://www.ecb.europa.eu/press/pr/2026/html/index.en.html
      - number: 2
        label: Financial Times
    narratives:
      - label: Hawkish narrative
        paragraphs: [Inflation is not beaten yet.]
      - kind: forecast
        label: Nerd narrative
        paragraphs: [Markets price a cut by March.]
        probability: 0.35
        forecaster: Polymarket
        question: Will the ECB cut by March 2027?
        as_of: 2026-11-19
    """
)


def yaml_problems(text: str) -> list[str]:
    with pytest.raises(BriefFormatError) as info:
        load_structured(text, source="b.yaml", fmt="yaml")
    return [str(p) for p in info.value.problems]


def test_yaml_brief_loads() -> None:
    brief = load_structured(YAML_BRIEF, source="b.yaml", fmt="yaml")
    assert brief.updated == date(2026, 11, 20)
    assert brief.facts[1].citations == [1, 2]
    assert brief.narratives[1].probability == 0.35
    assert brief.source(2) == Source(number=2, label="Financial Times")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("updated: 2026-11-20", "updated: 2026-02-30"), "b.yaml:3: updated input should be"),
        (("probability: 0.35", "probability: 1.5"), "b.yaml:23: narrative 2 probability"),
        (("citations: [1, 2]", "citations: [1, 7]"), "b.yaml:9: fact 2 cites [7]"),
        (("label: Nerd narrative", "label: hawkish NARRATIVE"), "b.yaml:20: narrative label"),
        (("url: https://www.ecb", "url: ftp://www.ecb"), "b.yaml:14: source 1 url must be an http"),
        (("title: ECB holds rates at 2%", "title: ''"), "b.yaml:2: title is empty"),
        (("status: ready", "status: published"), "b.yaml:5: status input should be"),
        (
            ("topics: [economy, europe]", "topics: [economy, europe]\ncolour: red"),
            "b.yaml:5: colour",
        ),
        (("slug: ecb-holds-rates", "slug: ECB Holds"), "b.yaml:1: slug"),
    ],
)
def test_yaml_errors_name_the_line(change: tuple[str, str], expected: str) -> None:
    found = yaml_problems(YAML_BRIEF.replace(*change))
    assert any(p.startswith(expected) for p in found), found


def test_no_facts_is_an_error() -> None:
    text = YAML_BRIEF.split("facts:")[0] + "facts: []\n"
    assert yaml_problems(text) == ["b.yaml:6: facts is empty"]


def test_citation_markers_belong_in_citations() -> None:
    found = yaml_problems(YAML_BRIEF.replace("unchanged.", "unchanged.[1]"))
    assert found == [
        "b.yaml:7: fact 1 text holds a citation marker like [1]: put the numbers in 'citations'"
    ]


def test_duplicate_keys_are_refused() -> None:
    found = yaml_problems(YAML_BRIEF.replace("status: ready", "status: ready\ntitle: Again"))
    assert found == ["b.yaml:6: key 'title' appears twice"]


def test_broken_yaml_and_json_report_their_line() -> None:
    assert yaml_problems("slug: x\ntitle: [unclosed\n")[0].startswith("b.yaml:3: invalid YAML")
    with pytest.raises(BriefFormatError) as info:
        load_structured('{\n  "slug": "x",\n  "title": }\n', source="b.json", fmt="json")
    assert str(info.value).startswith("b.json:3: invalid JSON")


def test_json_errors_name_the_line() -> None:
    data = load_structured(YAML_BRIEF, source="b.yaml", fmt="yaml").model_dump(mode="json")
    data["narratives"][1]["probability"] = -0.1
    text = json.dumps(data, indent=2)
    with pytest.raises(BriefFormatError) as info:
        load_structured(text, source="b.json", fmt="json")
    (problem,) = info.value.problems
    assert problem.line is not None and '"probability": -0.1' in text.splitlines()[problem.line - 1]


def test_seed_survives_json_yaml_and_text_round_trips() -> None:
    seed = load_plaintext(SEED_BRIEF.read_text(encoding="utf-8"), source="seed.txt")
    for fmt in ("json", "yaml"):
        assert load_structured(dump_brief(seed, fmt), source="x", fmt=fmt) == seed
    assert load_plaintext(dump_plaintext(seed), source="x.txt") == seed


# --- property: any valid brief survives export and import unchanged ----------------------

_text = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
        min_size=1,
        max_size=40,
    )
    .map(lambda s: " ".join(s.split()))
    .filter(lambda s: s and "[" not in s)
)
_label = _text.map(lambda s: s[:100])
_url = st.builds(
    lambda host, path: f"https://{host}.example/{path}",
    st.from_regex(r"[a-z]{1,10}", fullmatch=True),
    st.from_regex(r"[a-z0-9/_-]{0,20}", fullmatch=True),
)
_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


@st.composite
def briefs(draw: st.DrawFn) -> Brief:
    numbers = draw(st.lists(st.integers(1, 40), unique=True, max_size=6))
    sources = [
        Source(number=n, label=draw(st.none() | _label), url=draw(st.none() | _url))
        for n in sorted(numbers)
    ]
    citable = numbers or [1, 2, 3]
    facts = draw(
        st.lists(
            st.builds(Fact, text=_text, citations=st.lists(st.sampled_from(citable), max_size=3)),
            min_size=1,
            max_size=5,
        )
    )
    labels = draw(st.lists(_label, unique_by=str.casefold, max_size=4))
    narratives = []
    for index, label in enumerate(labels):
        if index == 0 and draw(st.booleans()):
            narratives.append(
                Narrative(
                    kind="forecast",
                    label=label,
                    paragraphs=draw(st.lists(_text, min_size=1, max_size=2)),
                    probability=draw(st.floats(0, 1, allow_nan=False)),
                    forecaster=draw(st.none() | _label),
                    question=draw(st.none() | _text),
                    as_of=draw(st.none() | _dates),
                )
            )
        else:
            kind = draw(st.sampled_from(["perspective", "establishment"]))
            narratives.append(
                Narrative(
                    kind=kind, label=label, paragraphs=draw(st.lists(_text, min_size=1, max_size=3))
                )
            )
    return Brief(
        slug=draw(st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?", fullmatch=True)),
        title=draw(_text),
        updated=draw(_dates),
        image_url=draw(st.none() | _url),
        image_credit=draw(st.none() | _label),
        image_alt=draw(st.none() | _label),
        topics=draw(
            st.lists(
                st.from_regex(r"[a-z][a-z -]{0,20}[a-z]", fullmatch=True), unique=True, max_size=3
            )
        ),
        status=draw(st.sampled_from(["draft", "ready"])),
        facts=facts,
        sources=sources if numbers else [],
        narratives=narratives,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(briefs(), st.sampled_from(["json", "yaml"]))
def test_structured_export_round_trips(brief: Brief, fmt: str) -> None:
    assert load_structured(dump_brief(brief, fmt), source="x", fmt=fmt) == brief  # type: ignore[arg-type]
