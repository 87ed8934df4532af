"""The campaign page shows each variant's subject and preheader as rendered, beside the
template they come from, and says in words why one cannot render."""

from __future__ import annotations

from campaigns.freeze import freeze_campaign
from campaigns.service import CampaignDraft, create_campaign
from newsletter.config import Settings
from newsletter.db import Database
from tests.campaigns.helpers import SLUGS, add_segment, add_subscribers, import_examples
from tests.editor.conftest import Editor


def test_each_variant_shows_its_rendered_inbox_line(db: Database, editor: Editor) -> None:
    import_examples(db)
    add_subscribers(db, 2)
    add_segment(db, "quick", {"type": "everyone"}, {"subject": "Quick: {{ first_title }}"})
    add_segment(db, "broken", {"type": "everyone"}, {"subject": "{{ brief_count / 0 }}"})
    draft = CampaignDraft(
        name="Issue",
        brief_slugs=list(SLUGS),
        segment_names=["quick", "broken"],
        preheader="{{ brief_count }} stories <b>for</b> {{ first_name }}",
    )
    with db.transaction() as session:
        campaign_id = create_campaign(session, draft).id
    page = editor.get(f"/editor/campaigns/{campaign_id}").text
    quick = page.split('data-variant="quick"')[1].split("</tr>")[0]
    assert "Quick: EU Gas Prices Climb as Early Cold Snap Drains Storage" in quick
    assert "from <code>Quick: {{ first_title }}</code>" in quick
    assert "3 stories &lt;b&gt;for&lt;/b&gt; [first name]" in quick
    broken = page.split('data-variant="broken"')[1].split("</tr>")[0]
    assert "The subject template has a mistake at line 1, column 1: it divides by zero." in broken
    assert "<mark>{{ brief_count / 0 }}</mark>" in broken
    frozen = CampaignDraft(name="Frozen", brief_slugs=list(SLUGS), segment_names=["quick"])
    with db.transaction() as session:
        frozen_id = create_campaign(session, frozen).id
    freeze_campaign(db, frozen_id, Settings())
    sent = editor.get(f"/editor/campaigns/{frozen_id}").text
    assert sent.split('data-variant="quick"')[1].count("Quick: EU Gas Prices") == 1
