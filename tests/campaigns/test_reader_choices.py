"""Readers' own choices at the freeze: each reader's narrative mode and topics shape their
variant within their segment; combinations that come to the same issue share a variant; a
reader whose topics match no brief gets the full issue; reports group by segment or choice."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from campaigns.choices import ChoiceGroup, plan_choice_variants, queue_readers
from campaigns.freeze import freeze_campaign
from campaigns.model import Delivery, Variant, VariantChoice
from campaigns.report_tables import CsvTable, report_csv
from campaigns.reports import campaign_report
from newsletter.briefs.importer import brief_files, parse_all
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.render.options import VariantOptions
from newsletter.render.selection import for_reader, stricter_display
from subscribers.model import Subscriber
from subscribers.segment_store import context_for
from subscribers.segments import Everyone
from tests.campaigns.helpers import (
    EXAMPLES,
    SLUGS,
    add_segment,
    add_subscribers,
    import_examples,
    new_campaign,
)

GAS, RATES, GOOGLE = SLUGS  # topics: energy+climate+economy+europe / economy+uk / tech+economy


def _examples() -> dict[str, object]:
    return {brief.slug: brief for _, brief in parse_all(brief_files([EXAMPLES]))}


def test_the_barer_narrative_display_wins() -> None:
    assert stricter_display("all", "no-forecast") == "no-forecast"
    assert stricter_display("facts-only", "all") == "facts-only"
    assert stricter_display("no-forecast", "facts-only") == "facts-only"
    assert stricter_display("all", "all") == "all"


def test_a_readers_topics_narrow_the_segments_briefs_and_never_empty_them() -> None:
    briefs = [b for slug, b in _examples().items() if slug in SLUGS]
    everyone = VariantOptions()
    assert [b.slug for b in for_reader(briefs, everyone, frozenset({"energy"}))] == [GAS]
    assert {b.slug for b in for_reader(briefs, everyone, frozenset({"economy"}))} == set(SLUGS)
    assert {b.slug for b in for_reader(briefs, everyone, frozenset({"knitting"}))} == set(SLUGS)
    assert {b.slug for b in for_reader(briefs, everyone, frozenset())} == set(SLUGS)
    uk_segment = VariantOptions(topics=["uk", "tech"])
    assert {b.slug for b in for_reader(briefs, uk_segment, frozenset({"energy"}))} == {
        RATES,
        GOOGLE,
    }, "a topic outside the segment's briefs falls back to the segment's issue, not everyone's"
    assert [b.slug for b in for_reader(briefs, uk_segment, frozenset({"tech"}))] == [GOOGLE]


def test_combinations_that_come_to_the_same_issue_share_a_variant() -> None:
    briefs = [b for slug, b in _examples().items() if slug in SLUGS]
    groups = [
        ChoiceGroup(0, "all", "", 5),
        ChoiceGroup(0, "all", '["energy"]', 2),
        ChoiceGroup(0, "all", '["climate", "energy"]', 1),
        ChoiceGroup(0, "all", '["energy","climate"]', 1),
        ChoiceGroup(0, "all", '["economy"]', 1),
        ChoiceGroup(0, "all", "null", 1),
        ChoiceGroup(0, "bogus", '{"not": "a list"}', 1),
        ChoiceGroup(0, "no-forecast", "[]", 1),
    ]
    own, needed = plan_choice_variants([VariantOptions()], briefs, groups)
    assert sorted(g.readers for g in own[0]) == [1, 1, 1, 5], "no choice or all briefs: own"
    assert [(v.narratives, [b.slug for b in v.briefs], v.matched_topics) for v in needed] == [
        ("no-forecast", list(SLUGS), set()),
        ("all", [GAS], {"energy", "climate"}),
    ], "fuller issues are listed first"
    assert sum(g.readers for g in needed[1].groups) == 4


def _reader_mix(db: Database) -> None:
    add_subscribers(db, 2)
    add_subscribers(db, 1, start=10, narratives="no-forecast")
    add_subscribers(db, 2, start=20, topics=["energy"])
    add_subscribers(db, 1, start=30, topics=["climate", "energy"])
    add_subscribers(db, 1, start=31, topics=["energy", "climate"])
    add_subscribers(db, 1, start=40, topics=["economy"])
    add_subscribers(db, 1, start=50, topics=["knitting"])
    add_subscribers(db, 1, start=60, topics=["tech"], narratives="facts-only")
    add_subscribers(db, 1, start=70, status="pending", topics=["sports"])


def _variant_of(db: Database, campaign_id: int) -> dict[str, Variant]:
    with db.transaction() as session:
        rows = session.execute(
            select(Subscriber.email, Variant)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .join(Variant, Variant.id == Delivery.variant_id)
            .where(Delivery.campaign_id == campaign_id)
        ).all()
        session.expunge_all()
    return {email.split("@")[0]: variant for email, variant in rows}


def test_each_reader_gets_the_issue_their_own_choices_make(db: Database) -> None:
    import_examples(db)
    _reader_mix(db)
    campaign_id = new_campaign(db)
    result = freeze_campaign(db, campaign_id, Settings())
    assert [(v.name, v.recipients) for v in result.variants] == [
        ("everyone", 4),
        ("everyone · no forecasts", 1),
        ("everyone · topics: climate, energy", 4),
        ("everyone · facts only · topics: tech", 1),
    ]
    given = _variant_of(db, campaign_id)
    assert "reader70" not in given, "a pending reader gets nothing, whatever they chose"
    for reader in ("reader0", "reader1", "reader40", "reader50"):
        assert given[reader].name == "everyone" and given[reader].choice is None
        assert given[reader].brief_slugs == list(SLUGS)
    energy = given["reader20"]
    assert energy.brief_slugs == [GAS] and energy.choice == {
        "segment": "everyone",
        "narratives": "all",
        "topics": ["climate", "energy"],
    }
    assert {given[r].id for r in ("reader21", "reader30", "reader31")} == {energy.id}
    forecasts = [n for n in _examples()[GAS].narratives if n.kind == "forecast"]  # type: ignore[attr-defined]
    question = forecasts[0].question or forecasts[0].label
    no_forecast = given["reader10"]
    assert (
        no_forecast.brief_slugs == list(SLUGS)
        and no_forecast.options["narratives"] == "no-forecast"
    )
    assert question[:40] in given["reader0"].text and question[:40] not in no_forecast.text
    tech = given["reader60"]
    assert tech.brief_slugs == [GOOGLE] and tech.options["narratives"] == "facts-only"
    with db.transaction() as session:
        recorded = session.scalars(
            select(VariantChoice).where(VariantChoice.campaign_id == campaign_id)
        ).all()
    assert sum(c.readers for c in recorded) == 10 and len(recorded) == 8


def test_choices_apply_within_the_segment_a_reader_falls_in(db: Database) -> None:
    import_examples(db)
    add_segment(
        db,
        "uk",
        {"type": "topics", "any": ["uk", "tech"]},
        {"narratives": "no-forecast", "topics": ["uk", "tech"]},
    )
    add_subscribers(db, 2, topics=["uk"])
    add_subscribers(db, 1, start=10, topics=["tech"], narratives="all")
    add_subscribers(db, 1, start=20, topics=["energy"])
    campaign_id = new_campaign(db, segments=["uk"])
    freeze_campaign(db, campaign_id, Settings())
    given = _variant_of(db, campaign_id)
    assert set(given) == {"reader0", "reader1", "reader10"}, "only the segment's readers"
    assert given["reader0"].brief_slugs == [RATES] and given["reader0"].name == "uk · topics: uk"
    tech = given["reader10"]
    assert tech.brief_slugs == [GOOGLE] and tech.options["narratives"] == "no-forecast", (
        "a reader's 'all' does not undo the segment's 'no forecasts'"
    )


def test_a_reader_whose_choice_was_not_recorded_gets_their_segments_own_variant(
    db: Database,
) -> None:
    """The freeze counts choices, then queues: a choice changed in between must not lose the
    reader. Queueing with no recorded choice at all gives everyone their segment's own."""
    import_examples(db)
    _reader_mix(db)
    campaign_id = new_campaign(db)
    with db.transaction() as session:
        own = Variant(
            campaign_id=campaign_id,
            position=0,
            name="everyone",
            subject="s",
            preheader="",
            html="",
            text="",
            web_html="",
            size_bytes=0,
            envelope={},
        )
        session.add(own)
        session.flush()
        queue_readers(session, campaign_id, [(0, Everyone())], context_for(session), [own.id])
        queued = Counter(
            session.scalars(select(Delivery.variant_id).where(Delivery.campaign_id == campaign_id))
        )
    assert queued == {own.id: 10}


def test_reports_group_by_segment_and_by_choice(db: Database) -> None:
    import_examples(db)
    _reader_mix(db)
    campaign_id = new_campaign(db)
    freeze_campaign(db, campaign_id, Settings())
    with db.transaction() as session:
        report = campaign_report(session, campaign_id)
    assert [(s.segment, s.figures.recipients) for s in report.segments] == [("everyone", 10)]
    assert [(c.variant, c.narratives, c.topics, c.figures.recipients) for c in report.choices] == [
        ("everyone", None, None, 4),
        ("everyone · no forecasts", "no-forecast", (), 1),
        ("everyone · topics: climate, energy", "all", ("climate", "energy"), 4),
        ("everyone · facts only · topics: tech", "facts-only", ("tech",), 1),
    ]
    rows = report_csv(report, CsvTable.choices).splitlines()
    assert rows[0].startswith("segment,variant_id,variant,narratives,topics,recipients,")
    assert rows[3].startswith("everyone,") and ",all,climate; energy,4," in rows[3]
