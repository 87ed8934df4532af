"""The sample briefs in examples/briefs: they import cleanly and make a believable weekly digest."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from functools import cache
from pathlib import Path

import pytest

from newsletter.briefs.document import Brief
from newsletter.briefs.export import ExportFormat, brief_to_data, dump_brief
from newsletter.briefs.importer import (
    BRIEF_SUFFIXES,
    brief_files,
    import_briefs,
    parse_all,
    parse_brief_text,
    read_brief_file,
)
from newsletter.briefs.store import load_brief
from newsletter.db import Database
from tests.conftest import ROOT, SEED_BRIEF

EXAMPLES = ROOT / "examples" / "briefs"
FILES = brief_files([EXAMPLES])
SAMPLE_FILES = [path for path in FILES if path != SEED_BRIEF]


@cache
def parsed() -> list[tuple[Path, Brief]]:
    return parse_all([EXAMPLES])


def samples() -> list[Brief]:
    return [brief for path, brief in parsed() if path != SEED_BRIEF]


def test_every_example_imports_all_or_nothing() -> None:
    # parse_all raises one BriefFormatError listing FILE:LINE for every problem.
    assert [path for path, _ in parsed()] == FILES
    assert SEED_BRIEF in FILES


def test_enough_briefs_in_every_format() -> None:
    formats = Counter(BRIEF_SUFFIXES[path.suffix] for path in FILES)
    assert len(FILES) >= 10
    assert formats["text"] >= 5
    assert formats["yaml"] >= 2
    assert formats["json"] >= 2


def test_slugs_are_unique() -> None:
    slugs = Counter(read_brief_file(path).slug for path in FILES)
    assert [slug for slug, count in slugs.items() if count > 1] == []


def test_the_seed_warns_only_about_its_missing_sources_and_topics() -> None:
    seed = read_brief_file(SEED_BRIEF)
    warnings = seed.warnings()
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("cited numbers without a source: [1], [2]")
    assert warnings[1].startswith("no topics")


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_sample_has_no_warnings(path: Path) -> None:
    brief = read_brief_file(path)
    assert brief.warnings() == []
    assert brief.topics and brief.sources


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_sample_reads_like_a_brief(path: Path) -> None:
    brief = read_brief_file(path)
    assert 4 <= len(brief.facts) <= 7
    perspectives = brief.narratives_of("perspective")
    assert len(perspectives) == 2
    assert all(s.url and s.url.startswith("https://") and s.label for s in brief.sources)
    establishment = brief.narratives_of("establishment")
    assert [n.label for n in establishment] in (
        [],
        ["Pro-establishment narrative", "Establishment-critical narrative"],
    )
    # Small enough that eight of them fit a digest under Gmail's clipping size.
    assert len(dump_brief(brief, "json").encode()) < 5_500


def test_samples_make_one_week_of_news() -> None:
    dates = sorted(brief.updated for brief in samples())
    assert dates[-1] - dates[0] < timedelta(days=9)


def test_every_sample_shares_a_topic_with_another() -> None:
    counts = Counter(topic for brief in samples() for topic in brief.topics)
    for brief in samples():
        assert any(counts[topic] > 1 for topic in brief.topics), brief.slug


def test_samples_cover_what_the_format_allows() -> None:
    briefs = samples()
    forecasters = {n.forecaster for b in briefs for n in b.narratives_of("forecast")}
    assert {"Metaculus", "Manifold Markets", "Polymarket", "Good Judgment Open"} <= forecasters
    assert any(len(f.citations) > 1 for b in briefs for f in b.facts)
    assert any(len(n.paragraphs) > 1 for b in briefs for n in b.narratives)
    assert any(b.image_url and b.image_alt and b.image_credit for b in briefs)
    assert any(not b.image_url for b in briefs)
    assert any(b.status == "ready" for b in briefs)
    assert any(not b.title.isascii() or any(not f.text.isascii() for f in b.facts) for b in briefs)


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_export_imports_back_the_same_brief(path: Path) -> None:
    brief = read_brief_file(path)
    formats: dict[ExportFormat, str] = {"json": ".json", "yaml": ".yaml"}
    if path.suffix == ".txt":
        # A structured forecast may have an as_of its sentence does not state, which the
        # text format cannot carry; briefs written as text always can.
        formats["text"] = ".txt"
    for fmt, suffix in formats.items():
        again = parse_brief_text(dump_brief(brief, fmt), source=f"export{suffix}", suffix=suffix)
        assert brief_to_data(again) == brief_to_data(brief), fmt


def test_samples_are_stored_and_loaded_back_unchanged(db: Database) -> None:
    imported = import_briefs(db, [EXAMPLES])
    assert len(imported) == len(FILES)
    with db.transaction() as session:
        for _, brief in parsed():
            assert brief_to_data(load_brief(session, brief.slug)) == brief_to_data(brief)
