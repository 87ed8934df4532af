"""Segments are matched in order: the campaign page and the confirmation page say when a
segment above another takes some or all of its readers, before anything is sent."""

from __future__ import annotations

from campaigns.audience import audience
from campaigns.service import get_campaign
from newsletter.db import Database
from tests.campaigns.helpers import add_segment, add_subscribers, import_examples, new_campaign
from tests.editor.conftest import Editor


def _segments(db: Database) -> int:
    import_examples(db)
    add_subscribers(db, 3, topics=["tech"])
    add_subscribers(db, 2, start=10, topics=["tech", "economy"])
    add_subscribers(db, 1, start=20, topics=["sports"])
    add_segment(db, "economy", {"type": "topics", "any": ["economy"]}, {})
    add_segment(db, "tech", {"type": "topics", "any": ["tech"]}, {})
    add_segment(db, "all-readers", {"type": "everyone"}, {})
    add_segment(db, "sport", {"type": "topics", "any": ["sports"]}, {})
    return new_campaign(db, segments=["economy", "tech", "all-readers", "sport"])


def test_the_audience_names_what_segments_above_take(db: Database) -> None:
    campaign_id = _segments(db)
    with db.transaction() as session:
        found = audience(session, get_campaign(session, campaign_id))
    assert [(s.name, s.recipients, s.matching, s.taken_by) for s in found] == [
        ("economy", 2, 2, ()),
        ("tech", 3, 5, ("economy",)),
        ("all-readers", 1, 6, ("economy", "tech")),
        ("sport", 0, 1, ("all-readers",)),
    ]
    assert [s.shadowed for s in found] == [
        None,
        "tech: 2 of its 5 readers taken by economy above it",
        "all-readers: 5 of its 6 readers taken by economy, tech above it",
        "sport: 0 readers, all 1 taken by all-readers above it",
    ]


def test_the_campaign_and_confirmation_pages_say_so(db: Database, editor: Editor) -> None:
    campaign_id = _segments(db)
    page = editor.get(f"/editor/campaigns/{campaign_id}").text
    assert 'id="shadowed"' in page
    assert "sport: 0 readers, all 1 taken by all-readers above it" in page
    assert f'href="/editor/campaigns/{campaign_id}/edit">Change the order' in page
    confirm = editor.get(f"/editor/campaigns/{campaign_id}/confirm/send-now").text
    assert "tech: 2 of its 5 readers taken by economy above it" in confirm
    single = new_campaign(db, segments=["tech"])
    assert 'id="shadowed"' not in editor.get(f"/editor/campaigns/{single}").text
