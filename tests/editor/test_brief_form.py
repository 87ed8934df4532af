"""The brief form ⇄ document mapping: every example brief survives the trip through the form,
posted fields become rows (blank and removed ones dropped), and the importer's problems come
back keyed by the field they concern."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.briefs.document import Brief
from newsletter.briefs.importer import brief_files, read_brief_file
from newsletter.briefs.structured import load_structured
from newsletter.web.editor.brief_form import (
    BriefForm,
    FactFields,
    NarrativeFields,
    SourceFields,
    document_from_form,
    form_from_brief,
    form_from_post,
    paragraphs_of,
    slug_for,
    validate_form,
)
from tests.briefs.test_structured import YAML_BRIEF
from tests.conftest import ROOT

EXAMPLES = brief_files([ROOT / "examples" / "briefs"])


def _without_status(brief: Brief) -> dict[str, object]:
    data = brief.model_dump()
    data.pop("status")
    return data


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_brief_survives_the_form(path: object) -> None:
    brief = read_brief_file(path)  # type: ignore[arg-type]
    again = validate_form(form_from_brief(brief), slug=brief.slug)
    assert isinstance(again, Brief), again
    assert _without_status(again) == _without_status(brief)
    assert "status" not in again.model_fields_set  # a save keeps the stored status


def test_a_brief_becomes_form_values() -> None:
    form = form_from_brief(load_structured(YAML_BRIEF, source="b.yaml", fmt="yaml"))
    assert (form.title, form.updated, form.topics) == (
        "ECB holds rates at 2%",
        "2026-11-20",
        "economy, europe",
    )
    assert form.facts[1] == FactFields("Two members dissented.", "1, 2")
    assert form.sources[1] == SourceFields("2", "Financial Times", "")
    nerd = form.narratives[1]
    assert (nerd.kind, nerd.probability, nerd.forecaster, nerd.as_of) == (
        "forecast",
        "0.35",
        "Polymarket",
        "2026-11-19",
    )


def test_posted_fields_become_rows_in_order_blank_and_removed_ones_dropped() -> None:
    form = form_from_post(
        {
            "title": "T",
            "facts-10-text": "third",
            "facts-2-text": "first",
            "facts-2-citations": "1 2",
            "facts-3-text": "   ",  # blank
            "facts-5-text": "removed",
            "facts-5-remove": "1",
            "facts-7-text": "second",
            "facts-999-text": "beyond the bound",
            "sources-0-number": "4",  # a number alone is a fresh blank row
            "narratives-0-kind": "perspective",  # the default alone is blank too
            "narratives-1-label": "Kyiv",
            "narratives-1-paragraphs": "One.\r\n\r\nTwo\nlines.",
            "csrf_token": "ignored",
            "action": "save",
        }
    )
    assert [f.text for f in form.facts] == ["first", "second", "third"]
    assert form.sources == []
    assert form.narratives == [NarrativeFields(label="Kyiv", paragraphs="One.\r\n\r\nTwo\nlines.")]
    document = document_from_form(form, slug="s")
    assert document["facts"][0] == {"text": "first", "citations": ["1", "2"]}
    assert document["narratives"][0]["paragraphs"] == ["One.", "Two\nlines."]
    assert "image_url" not in document  # empty optional fields are left out


def test_paragraphs_are_split_on_blank_lines() -> None:
    assert paragraphs_of("a\n \nb\n\n\nc\nd") == ["a", "b", "c\nd"]
    assert paragraphs_of("  \n ") == []


def test_a_new_slug_is_typed_or_made_from_the_title() -> None:
    assert slug_for(BriefForm(title="Ukraine's grid: winter")) == "ukraines-grid-winter"
    assert slug_for(BriefForm(slug=" own-slug ", title="x")) == "own-slug"


def test_problems_come_back_keyed_by_their_field() -> None:
    form = BriefForm(
        title="Fine",
        updated="2026-02-30",
        topics="europe, europe",
        facts=[FactFields("ok", "1"), FactFields("bad [3] marker", "")],
        sources=[SourceFields("1", "A", "ftp://x")],
        narratives=[
            NarrativeFields(kind="forecast", label="Nerd", paragraphs="p"),
            NarrativeFields(label="Side", paragraphs="", probability="0.5"),
        ],
    )
    errors = validate_form(form, slug="Bad Slug")
    assert isinstance(errors, dict)
    assert errors["slug"][0].startswith("slug string should match pattern")
    assert errors["updated"][0].startswith("updated input should be a valid date")
    assert errors["facts-1-text"] == [
        "fact 2 text holds a citation marker like [1]: put the numbers in 'citations'"
    ]
    assert errors["sources-0-url"][0].startswith("source 1 url must be an http(s) URL")
    assert errors["narratives-0"] == [
        "narrative 1 a forecast narrative needs a probability between 0 and 1"
    ]
    assert errors["narratives-1"] == ["narrative 2 has no text"]  # the importer names the row
    assert set(errors) == {
        "slug",
        "updated",
        "facts-1-text",
        "sources-0-url",
        "narratives-0",
        "narratives-1",
    }


def test_brief_wide_rules_point_at_their_row() -> None:
    base = form_from_brief(load_structured(YAML_BRIEF, source="b.yaml", fmt="yaml"))
    base.sources.append(SourceFields("2", "Again", ""))
    assert validate_form(base, slug="s") == {
        "sources-2": ["source number 2 is listed more than once"]
    }
    base.sources.pop()
    base.facts[0].citations = "7"
    assert validate_form(base, slug="s") == {
        "facts-0": ["fact 1 cites [7] but the sources list has no [7]"]
    }
    empty = validate_form(BriefForm(title="T", updated="2026-01-01"), slug="s")
    assert empty == {"facts": ["facts is empty"]}


_NAMES = (
    *("title", "slug", "updated", "topics", "image_url", "image_alt", "image_credit"),
    *("facts-0-text", "facts-0-citations", "facts-1-text", "facts-150-text", "facts-0-remove"),
    *("sources-0-number", "sources-0-label", "sources-0-url", "sources-1-number"),
    *("narratives-0-kind", "narratives-0-label", "narratives-0-paragraphs"),
    *("narratives-0-probability", "narratives-0-forecaster", "narratives-0-question"),
    *("narratives-0-as_of", "narratives-0-url", "narratives-x-label", "facts--1-text"),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.dictionaries(
        st.sampled_from(_NAMES),
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(["nan", "1e999", "\x00", "[1]", "2026-02-30", "forecast", "1, 1"]),
        ),
    )
)
def test_any_posted_values_give_a_brief_or_located_problems(values: dict[str, str]) -> None:
    form = form_from_post(values)
    result = validate_form(form, slug=slug_for(form) or "x")
    if isinstance(result, dict):
        assert result and all(messages for messages in result.values())
        rows = {kind: len(form.rows(kind)) for kind in ("facts", "sources", "narratives")}
        for name in result:  # every problem names a field the page shows (or the whole form)
            parts = name.split("-")
            assert parts[0] in {"", *vars(BriefForm()).keys()}
            if len(parts) > 1:
                assert int(parts[1]) < rows[parts[0]]  # type: ignore[index]
