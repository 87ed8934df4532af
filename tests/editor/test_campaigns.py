"""The campaign pages over real HTTP: create and edit, this week's digest, confirmations
with first-match counts, send now (handed to a worker), pause, resume, cancel, progress."""

from __future__ import annotations

import re
import threading

from sqlalchemy import select, update

from campaigns.freeze import freeze_campaign
from campaigns.model import Campaign, Delivery
from campaigns.sending import run_worker, send_campaign
from campaigns.service import get_campaign, pause_campaign
from newsletter.briefs.model import BriefRow
from newsletter.db import Database, utcnow
from tests.campaigns.helpers import (
    SLUGS,
    add_subscribers,
    add_tech_and_economy,
    add_topic_readers,
    import_examples,
)
from tests.editor.conftest import Editor, flashes
from tests.subscribers.conftest import LiveServer


def _create(editor: Editor, name: str, slugs: list[str], **fields: object) -> int:
    data: dict[str, object] = {"name": name, "briefs": slugs, **fields}
    answer = editor.post("/editor/campaigns/new", data)
    assert answer.status_code == 303, answer.text[:1000]
    return int(answer.headers["location"].rsplit("/", 1)[1])


def _campaign(db: Database, campaign_id: int) -> Campaign:
    with db.transaction() as session:
        return get_campaign(session, campaign_id)


def _brief_order(db: Database, campaign_id: int) -> list[str]:
    with db.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        slugs = dict(session.execute(select(BriefRow.id, BriefRow.slug)).all())
        return [slugs[b.brief_id] for b in campaign.briefs]


def _segments_and_readers(db: Database) -> dict[str, int]:
    segments = add_tech_and_economy(db)
    add_topic_readers(db, inactive="unsubscribed")
    return segments


def _reach(html: str) -> list[tuple[str, int]]:
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td class="num"[^>]*>(\d+)</td>', html)
    return [(name, int(count)) for name, count in rows]


def test_a_campaign_is_made_from_picked_briefs_in_the_order_given(
    db: Database, editor: Editor
) -> None:
    import_examples(db)
    segments = _segments_and_readers(db)
    form = editor.get("/editor/campaigns/new")
    assert form.status_code == 200 and SLUGS[0] in form.text
    campaign_id = _create(
        editor,
        "Monday issue",
        list(SLUGS),
        **{
            f"brief_order_{SLUGS[0]}": "3",
            f"brief_order_{SLUGS[1]}": "1",
            f"brief_order_{SLUGS[2]}": "2",
            "segments": [str(segments["tech"]), str(segments["economy"])],
            f"segment_order_{segments['economy']}": "1",
            f"segment_order_{segments['tech']}": "2",
            "subject": "{{ first_title }} and more",
            "issue_date": "2026-12-01",
        },
    )
    assert _brief_order(db, campaign_id) == [SLUGS[1], SLUGS[2], SLUGS[0]]
    campaign = _campaign(db, campaign_id)
    assert campaign.status == "draft" and campaign.issue_date.isoformat() == "2026-12-01"
    assert campaign.subject_template == "{{ first_title }} and more"
    page = editor.get(f"/editor/campaigns/{campaign_id}")
    assert "Campaign created. Check the preview, then schedule it." in flashes(page.text)
    assert "economy → tech" in page.text


def test_a_campaign_form_with_problems_is_shown_again_with_what_was_typed(
    db: Database, editor: Editor
) -> None:
    import_examples(db)
    empty = editor.post("/editor/campaigns/new", {"name": "Kept name", "briefs": []})
    assert empty.status_code == 422
    assert "a campaign needs at least one brief" in empty.text
    assert 'value="Kept name"' in empty.text
    bad = editor.post(
        "/editor/campaigns/new",
        {"name": "X", "briefs": [SLUGS[0]], "subject": "{{ first_title "},
    )
    assert bad.status_code == 422
    assert "The subject template has a mistake at line 1, column 1: a “{{” or “{%”" in bad.text
    assert f'value="{SLUGS[0]}" checked' in bad.text
    bad_date = editor.post(
        "/editor/campaigns/new", {"name": "X", "briefs": [SLUGS[0]], "issue_date": "tomorrow"}
    )
    assert bad_date.status_code == 422 and "issue_date: is not a date" in bad_date.text
    with db.transaction() as session:
        assert session.scalars(select(Campaign)).all() == []


def test_this_weeks_digest_is_made_once(db: Database, editor: Editor) -> None:
    import_examples(db)
    with db.transaction() as session:
        session.execute(update(BriefRow).values(status="draft", ready_at=None))
    nothing = editor.follow(editor.post("/editor/campaigns/digest"))
    assert any("nothing to digest" in text for text in flashes(nothing.text))
    import_examples(db, ready=True)
    first = editor.post("/editor/campaigns/digest")
    page = editor.follow(first)
    assert "Created the digest of" in page.text
    again = editor.post("/editor/campaigns/digest")
    assert again.headers["location"] == first.headers["location"]
    assert "exists already" in editor.follow(again).text


def test_editing_a_campaign_and_not_after_it_is_frozen(
    db: Database, editor: Editor, site: LiveServer
) -> None:
    import_examples(db)
    campaign_id = _create(editor, "Draft", [SLUGS[0]])
    form = editor.get(f"/editor/campaigns/{campaign_id}/edit")
    assert form.status_code == 200 and 'value="Draft"' in form.text
    saved = editor.post(
        f"/editor/campaigns/{campaign_id}/edit",
        {"name": "Final", "briefs": [SLUGS[2], SLUGS[1]], "preheader": "Inside: {{ titles[1] }}"},
    )
    assert "Campaign saved." in editor.follow(saved).text
    assert _brief_order(db, campaign_id) == [SLUGS[2], SLUGS[1]]
    assert _campaign(db, campaign_id).name == "Final"
    freeze_campaign(db, campaign_id, site.settings)
    refused = editor.get(f"/editor/campaigns/{campaign_id}/edit")
    assert refused.status_code == 303
    assert "can no longer change" in editor.follow(refused).text
    late = editor.post(
        f"/editor/campaigns/{campaign_id}/edit", {"name": "Too late", "briefs": [SLUGS[0]]}
    )
    assert late.status_code == 422 and "is sending: it can only edit when" in late.text
    assert _campaign(db, campaign_id).name == "Final"


def test_confirmations_count_recipients_per_segment_without_freezing(
    db: Database, editor: Editor
) -> None:
    import_examples(db)
    segments = _segments_and_readers(db)
    campaign_id = _create(
        editor, "Issue", list(SLUGS), segments=[str(segments["tech"]), str(segments["economy"])]
    )
    for action in ("send-now", "cancel"):
        page = editor.get(f"/editor/campaigns/{campaign_id}/confirm/{action}")
        assert page.status_code == 200
        assert _reach(page.text) == [("tech", 5), ("economy", 4), ("Total", 9)]
        assert '<td class="num" id="reach-total">9</td>' in page.text
    scheduled = editor.get(
        f"/editor/campaigns/{campaign_id}/confirm/schedule", params={"send_at": "2030-01-02T07:30"}
    )
    assert "2030-01-02 07:30 UTC" in scheduled.text
    assert 'name="send_at" value="2030-01-02T07:30"' in scheduled.text
    not_now = editor.get(f"/editor/campaigns/{campaign_id}/confirm/resume")
    assert not_now.status_code == 303 and "cannot resume now" in editor.follow(not_now).text
    bad_time = editor.get(f"/editor/campaigns/{campaign_id}/confirm/schedule?send_at=soon")
    assert "Send at is not a date and time." in editor.follow(bad_time).text
    campaign = _campaign(db, campaign_id)
    assert campaign.status == "draft" and campaign.frozen_at is None
    with db.transaction() as session:
        assert session.scalars(select(Delivery)).all() == []


def test_schedule_then_send_now_leaves_the_sending_to_a_worker(
    db: Database, editor: Editor, site: LiveServer
) -> None:
    import_examples(db)
    add_subscribers(db, 4)
    campaign_id = _create(editor, "Issue", list(SLUGS))
    scheduled = editor.post(
        f"/editor/campaigns/{campaign_id}/actions/schedule", {"send_at": "2030-01-02T07:30"}
    )
    assert "Scheduled." in editor.follow(scheduled).text
    campaign = _campaign(db, campaign_id)
    assert campaign.status == "scheduled" and campaign.send_at is not None
    assert campaign.send_at.isoformat() == "2030-01-02T07:30:00+00:00"

    before = utcnow()
    page = editor.follow(editor.post(f"/editor/campaigns/{campaign_id}/actions/send-now"))
    assert "Sending starts as soon as a worker picks it up" in page.text
    campaign = _campaign(db, campaign_id)
    assert campaign.status == "scheduled" and campaign.frozen_at is None  # nothing sent inline
    assert campaign.send_at is not None and before <= campaign.send_at <= utcnow()
    assert "waiting for a worker" in editor.get(f"/editor/campaigns/{campaign_id}").text

    stats = run_worker(db, site.settings, stop=threading.Event(), once=True, schedule=True)
    assert stats.sent == 4
    page = editor.get(f"/editor/campaigns/{campaign_id}")
    assert '<span class="badge sent">sent</span>' in page.text
    assert '<td class="num" data-count="sent">4</td>' in page.text
    assert f'href="/archive/{campaign_id}"' in page.text
    progress = editor.get(f"/editor/api/campaigns/{campaign_id}").json()
    assert progress["status"] == "sent" and progress["counts"] == {"sent": 4}
    assert progress["variants"] == [{"position": 0, "name": "everyone", "counts": {"sent": 4}}]
    assert len(site.mails()) == 4


def test_pause_resume_and_cancel_a_frozen_campaign(
    db: Database, editor: Editor, site: LiveServer
) -> None:
    import_examples(db)
    add_subscribers(db, 3)
    campaign_id = _create(editor, "Issue", list(SLUGS))
    freeze_campaign(db, campaign_id, site.settings)
    confirm = editor.get(f"/editor/campaigns/{campaign_id}/confirm/pause")
    assert ("everyone", 3) in _reach(confirm.text)  # frozen: the deliveries are the truth
    assert (
        "Paused."
        in editor.follow(editor.post(f"/editor/campaigns/{campaign_id}/actions/pause")).text
    )
    assert _campaign(db, campaign_id).status == "paused"
    resumed = editor.follow(editor.post(f"/editor/campaigns/{campaign_id}/actions/resume"))
    assert "Resumed: the campaign is sending again." in resumed.text
    wrong = editor.follow(editor.post(f"/editor/campaigns/{campaign_id}/actions/resume"))
    assert "it can only resume when paused" in wrong.text
    cancelled = editor.follow(editor.post(f"/editor/campaigns/{campaign_id}/actions/cancel"))
    assert "Cancelled; 3 queued recipients were skipped." in cancelled.text
    assert '<td class="num" data-count="skipped">3</td>' in cancelled.text
    assert editor.post(f"/editor/campaigns/{campaign_id}/actions/explode").status_code == 422
    assert editor.get("/editor/campaigns/99999").status_code == 404
    assert editor.get(f"/editor/campaigns/{2**40}").status_code == 422


def test_the_campaign_page_says_why_it_stopped_and_which_deliveries_failed(
    db: Database, editor: Editor, site: LiveServer
) -> None:
    import_examples(db)
    add_subscribers(db, 3)
    campaign_id = _create(editor, "Issue", list(SLUGS))
    send_campaign(db, site.settings, campaign_id)
    with db.transaction() as session:
        first = session.scalars(select(Delivery.id).order_by(Delivery.id)).first()
        session.execute(
            update(Delivery)
            .where(Delivery.id == first)
            .values(status="failed", error="550 5.1.1 <reader0@example.org>: no such user")
        )
        session.execute(update(Campaign).values(status="sending", finished_at=None))
    with db.transaction() as session:
        pause_campaign(session, campaign_id, "SendGrid refused the API key (401): check it")
    page = editor.get(f"/editor/campaigns/{campaign_id}")
    assert "SendGrid refused the API key (401): check it" in page.text
    assert "1 failed: <code>550 5.1.1 &lt;reader0@example.org&gt;: no such user</code>" in page.text
    assert (
        '<td class="num" data-count="failed"><a href="#delivery-errors" title="Why: the delivery '
        'errors below">1</a></td>' in page.text
    )
    listing = editor.get("/editor/campaigns")
    assert f'href="/editor/campaigns/{campaign_id}"' in listing.text and "paused" in listing.text


def test_a_campaign_waiting_for_a_sending_limit_says_until_when(
    db: Database, editor: Editor, site: LiveServer
) -> None:
    import_examples(db)
    add_subscribers(db, 3)
    campaign_id = _create(editor, "Issue", list(SLUGS))
    settings = site.settings.model_copy(update={"send_limit_per_hour": 2})
    report = send_campaign(db, settings, campaign_id, spread_minutes=0.01)
    assert report.counts == {"sent": 2, "queued": 1}
    page = editor.get(f"/editor/campaigns/{campaign_id}")
    assert "<dt>Delivery window</dt><dd>spread over 0.01 minutes</dd>" in page.text
    assert '<span class="badge sending">sending</span>' in page.text
    assert "waiting for the hourly limit of outbox (2 an hour): resumes at" in page.text


def test_the_confirmation_sets_the_delivery_window(db: Database, editor: Editor) -> None:
    import_examples(db)
    campaign_id = _create(editor, "Issue", list(SLUGS))
    page = editor.get(f"/editor/campaigns/{campaign_id}/confirm/send-now")
    assert 'name="spread_minutes"' in page.text and 'max="10080"' in page.text
    for bad in ("soon", "0", "-5", "nan", "inf", "10081", "1e400", "9" * 30, "1,5"):
        answer = editor.post(
            f"/editor/campaigns/{campaign_id}/actions/schedule",
            {"send_at": "2030-01-02T07:30", "spread_minutes": bad},
        )
        assert flashes(editor.follow(answer).text) == [
            "spread_minutes: must be a number of minutes, more than 0 and at most 10,080 "
            "(a week), or empty"
        ], bad
        campaign = _campaign(db, campaign_id)
        assert (campaign.status, campaign.spread_minutes) == ("draft", None), bad
    scheduled = editor.post(
        f"/editor/campaigns/{campaign_id}/actions/schedule",
        {"send_at": "2030-01-02T07:30", "spread_minutes": " 90 "},
    )
    assert "Scheduled, spread over 90 minutes." in flashes(editor.follow(scheduled).text)[0]
    campaign = _campaign(db, campaign_id)
    assert (campaign.status, campaign.spread_minutes) == ("scheduled", 90)
    page = editor.get(f"/editor/campaigns/{campaign_id}")
    assert "spread over 90 minutes" in page.text
    confirm = editor.get(f"/editor/campaigns/{campaign_id}/confirm/send-now")
    assert 'id="spread_minutes"' in confirm.text and 'value="90"' in confirm.text  # as it is
    cleared = editor.post(
        f"/editor/campaigns/{campaign_id}/actions/send-now", {"spread_minutes": ""}
    )
    assert flashes(editor.follow(cleared).text) == [
        "Sending starts as soon as a worker picks it up (within seconds)."
    ]
    assert _campaign(db, campaign_id).spread_minutes is None
    editor.post(f"/editor/campaigns/{campaign_id}/actions/send-now", {"spread_minutes": "7.5"})
    assert _campaign(db, campaign_id).spread_minutes == 7.5
    pause = editor.get(f"/editor/campaigns/{campaign_id}/confirm/cancel")
    assert "spread_minutes" not in pause.text  # only sending actions have a window


def _store_plain_briefs(db: Database, count: int) -> list[str]:
    """``count`` bare stored briefs (title and date only), oldest first: enough for a form."""
    from datetime import date, timedelta

    slugs = [f"old-brief-{index:04d}" for index in range(count)]
    with db.transaction() as session:
        for index, slug in enumerate(slugs):
            day = date(2020, 1, 1) + timedelta(days=index)
            session.add(BriefRow(slug=slug, title=f"Archive story {index}", updated=day))
    return slugs


def test_the_campaign_form_offers_a_bounded_list_and_finds_older_briefs_by_title(
    db: Database, editor: Editor
) -> None:
    """Years of briefs must not make the form one field per brief ever stored (the post
    would pass the field limit and be refused): it lists the newest, finds the rest."""
    slugs = _store_plain_briefs(db, 420)
    form = editor.get("/editor/campaigns/new")
    assert form.status_code == 200
    assert form.text.count('name="briefs"') == 300
    assert slugs[-1] in form.text and slugs[0] not in form.text
    assert "120 older briefs not listed" in form.text
    found = editor.get("/editor/campaigns/new", params={"find": "story 7"})
    listed = set(re.findall(r'name="briefs" value="([^"]+)"', found.text))
    assert listed == {slugs[7], *(slugs[i] for i in range(70, 80))}
    for odd in ("%_", "story\x00 7", "\x00"):
        assert editor.get("/editor/campaigns/new", params={"find": odd}).status_code == 200
    # The browser posts every listed box: that stays inside the limit, and an old brief
    # picked through the search stays listed (and kept) when the campaign is edited.
    posted: dict[str, object] = {f"brief_order_{slug}": "" for slug in slugs[-300:]}
    campaign_id = _create(editor, "From the archive", [slugs[0]], **posted)
    edit = editor.get(f"/editor/campaigns/{campaign_id}/edit")
    assert re.search(rf'value="{slugs[0]}" checked', edit.text)
    saved = editor.post(
        f"/editor/campaigns/{campaign_id}/edit", {"name": "Renamed", "briefs": [slugs[0]]}
    )
    assert saved.status_code == 303 and _brief_order(db, campaign_id) == [slugs[0]]


def test_the_form_sets_a_local_send_time_and_refuses_a_bad_one(
    db: Database, editor: Editor
) -> None:
    import_examples(db)
    bad = editor.post(
        "/editor/campaigns/new", {"name": "Late", "briefs": [SLUGS[0]], "local_time": "7pm"}
    )
    assert bad.status_code == 422 and "local_time" in bad.text and 'value="7pm"' in bad.text
    with db.transaction() as session:
        assert session.scalars(select(Campaign)).all() == []
    campaign_id = _create(editor, "Morning", [SLUGS[0]], local_time="07:30")
    assert f"{_campaign(db, campaign_id).local_send_time:%H:%M}" == "07:30"
    page = editor.get(f"/editor/campaigns/{campaign_id}")
    assert "07:30 on each reader’s clock" in page.text
    listed = editor.get("/editor/api/campaigns").json()
    assert [c["local_send_time"] for c in listed] == ["07:30"]
    form = editor.get(f"/editor/campaigns/{campaign_id}/edit")
    assert 'value="07:30"' in form.text
    cleared = editor.post(
        f"/editor/campaigns/{campaign_id}/edit",
        {"name": "Morning", "briefs": [SLUGS[0]], "local_time": ""},
    )
    assert cleared.status_code == 303
    assert _campaign(db, campaign_id).local_send_time is None
