"""The preview over real HTTP: a tab per segment, frames at two widths with a strict policy,
inbox line, size, links and warnings; previewing as a subscriber without putting them at
risk; sending a test through the outbox."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import EmailMessage
from html import unescape
from typing import cast

from sqlalchemy import select

from campaigns.freeze import freeze_campaign
from campaigns.service import CampaignDraft, create_campaign
from newsletter.db import Database
from subscribers.model import Subscriber
from tests.campaigns.helpers import SLUGS, add_segment, add_subscribers, import_examples
from tests.editor.conftest import Editor, add_editor, client, flashes, log_in
from tests.subscribers.conftest import LiveServer, add_subscriber


def _campaign(db: Database, *segments: str, subject: str | None = None) -> int:
    draft = CampaignDraft(
        name="Issue", brief_slugs=list(SLUGS), segment_names=list(segments), subject=subject
    )
    with db.transaction() as session:
        return create_campaign(session, draft).id


def _with_segments(db: Database) -> int:
    import_examples(db)
    add_segment(
        db,
        "tech",
        {"type": "topics", "any": ["tech"]},
        {"topics": ["tech"], "narratives": "facts-only"},
    )
    add_segment(db, "everyone else", {"type": "everyone"}, {"order": "newest"})
    return _campaign(db, "tech", "everyone else", subject="{{ first_name }}, {{ first_title }}")


def test_each_segment_has_a_tab_with_frames_inbox_line_size_links_and_warnings(
    db: Database, editor: Editor
) -> None:
    campaign_id = _with_segments(db)
    page = editor.get(f"/editor/campaigns/{campaign_id}/preview")
    assert page.status_code == 200
    tabs = re.findall(
        r'<a href="/editor/campaigns/\d+/preview\?variant=(\d)"[^>]*>([^<]+)</a>', page.text
    )
    assert tabs == [("0", "tech"), ("1", "everyone else")]
    assert 'aria-current="page">tech</a>' in page.text
    assert 'id="preview-subject">there, Judge Orders Google' in page.text
    for width in (600, 375):
        assert (
            f'<iframe class="w{width}" sandbox src="/editor/campaigns/{campaign_id}/preview/0/email"'
            in page.text
        )
    assert re.search(r"\d+\.\d KB of HTML for a reader, of 102 KB where Gmail clips\.", page.text)
    links = re.findall(
        r"<tr>\s*<td>(fact-citation|source|narrative|masthead|footer|toc)</td>", page.text
    )
    assert "fact-citation" in links and "footer" in links
    assert "Nerd narrative" not in page.text  # facts-only: the tech variant has no narratives
    assert "not in this variant" in page.text  # the briefs the tech segment's topics leave out
    assert "Plain-text part" in page.text and 'id="text-part"' in page.text

    second = editor.get(f"/editor/campaigns/{campaign_id}/preview?variant=1")
    assert 'aria-current="page">everyone else</a>' in second.text
    assert editor.get(f"/editor/campaigns/{campaign_id}/preview?variant=2").status_code == 404

    document = editor.get(f"/editor/campaigns/{campaign_id}/preview/1/email")
    assert document.status_code == 200 and "<html" in document.text
    assert "%%nl_" not in document.text
    policy = document.headers["content-security-policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy and "script-src" not in policy
    assert document.headers["x-frame-options"] == "SAMEORIGIN"


def test_a_variant_that_cannot_compile_shows_why(db: Database, editor: Editor) -> None:
    import_examples(db)
    add_segment(db, "sport", {"type": "everyone"}, {"topics": ["sports"]})
    campaign_id = _campaign(db, "sport")
    page = editor.get(f"/editor/campaigns/{campaign_id}/preview")
    assert page.status_code == 200
    assert "cannot be compiled" in page.text and "no brief matches" in page.text
    document = editor.get(f"/editor/campaigns/{campaign_id}/preview/0/email")
    assert document.status_code == 422 and "no brief matches" in document.text


def test_previewing_as_a_subscriber_shows_their_name_but_cannot_unsubscribe_them(
    db: Database, editor: Editor, site: LiveServer
) -> None:
    campaign_id = _with_segments(db)
    with db.transaction() as session:
        zoe = add_subscriber(session, "zoe@example.org", name="Zoë <b>", topics=["europe"])
        uid = zoe.uid
    found = editor.post(f"/editor/campaigns/{campaign_id}/preview/as", {"email": "ZOE@example.org"})
    assert found.headers["location"] == (
        f"/editor/campaigns/{campaign_id}/preview?variant=1&subscriber={uid}"
    )
    page = editor.follow(found)
    assert "As Zoë &lt;b&gt;" in page.text and "<strong>everyone else</strong>" in page.text
    assert 'id="preview-subject">Zoë &lt;b&gt;, ' in page.text
    assert "zoe@example.org" not in page.headers.get("location", "")
    document = editor.get(f"/editor/campaigns/{campaign_id}/preview/1/email?subscriber={uid}")
    assert "Zoë &lt;b&gt;" in document.text and "Zoë <b>" not in document.text

    unsubscribe = re.search(r'href="[^"]*(/unsubscribe/[^"]+)"', document.text)
    assert unsubscribe is not None
    with client(site) as reader:  # following the preview's link, and pressing the button
        assert reader.get(unsubscribe.group(1)).status_code == 400
        assert reader.post(unsubscribe.group(1), data={}).status_code == 400
    with db.transaction() as session:
        assert session.scalars(select(Subscriber.status)).one() == "active"

    unknown = editor.follow(
        editor.post(f"/editor/campaigns/{campaign_id}/preview/as", {"email": "who@example.org"})
    )
    assert "no subscriber with the address who@example.org" in flashes(unknown.text)


def test_a_test_goes_through_the_outbox_marked_as_a_test(
    db: Database, editor: Editor, site: LiveServer
) -> None:
    campaign_id = _with_segments(db)
    sent = editor.post(
        f"/editor/campaigns/{campaign_id}/test",
        {"variant": "1", "addresses": "ed@example.org\nsub@example.org"},
    )
    assert sent.headers["location"] == f"/editor/campaigns/{campaign_id}/preview?variant=1"
    page = editor.follow(sent)
    assert (
        "Test of “everyone else” sent through outbox to ed@example.org, sub@example.org."
        in flashes(page.text)
    )
    mails = site.mails()
    assert sorted(str(m["To"]) for m in mails) == ["ed@example.org", "sub@example.org"]
    for mail in mails:
        assert str(mail["Subject"]).startswith("[TEST] there, ")
        html = cast(EmailMessage, mail.get_body(("html",))).get_content()
        assert "Test send." in html and "/t/o/" not in html and "/t/c/" not in html

    # A refused test answers with the preview again (not a redirect that loses the form):
    # the addresses as typed, and the reason beside the field, naming the bad address.
    for addresses, reason in (
        (
            "a@example.org, b@example.org, c@example.org, d@example.org, e@example.org, f@example.org",
            "at most 5",
        ),
        ("ed@example.org\nnot-an-address", "“not-an-address” is not a valid email address"),
        ("ann@example.org, bob@, <b>x</b>", "“bob@” is not a valid email address"),
        ("", "at least one address"),
    ):
        refused = editor.post(
            f"/editor/campaigns/{campaign_id}/test", {"variant": "0", "addresses": addresses}
        )
        assert refused.status_code == 422
        (error,) = re.findall(
            r'<p class="error" id="addresses-error"[^>]*>([^<]*)</p>', refused.text
        )
        assert error.startswith("Test not sent: ") and reason in unescape(error), error
        typed = re.search(r'<textarea id="addresses"[^>]*>([^<]*)</textarea>', refused.text)
        assert typed is not None and unescape(typed.group(1)) == addresses
        assert 'aria-invalid="true"' in refused.text
    assert len(site.mails()) == 2


def test_a_frozen_campaign_shows_what_was_sent_and_takes_no_tests(
    db: Database, editor: Editor, site: LiveServer
) -> None:
    import_examples(db)
    add_subscribers(db, 2)
    campaign_id = _campaign(db)
    before = editor.get(f"/editor/campaigns/{campaign_id}/preview")
    assert f'<span class="from">{site.settings.from_name}</span>' in before.text
    freeze_campaign(db, campaign_id, site.settings.model_copy(update={"from_name": "Frozen Ed"}))
    page = editor.get(f"/editor/campaigns/{campaign_id}/preview")
    assert "this is exactly what was sent" in page.text
    assert '<span class="from">Frozen Ed</span>' in page.text  # the sender as frozen
    assert "tests are for campaigns that have not started" in page.text
    assert "<td>yes</td>" in page.text  # outbox sends track clicks first-party: links say so
    refused = editor.follow(
        editor.post(
            f"/editor/campaigns/{campaign_id}/test", {"variant": "0", "addresses": "ed@example.org"}
        )
    )
    assert any("is frozen" in text for text in flashes(refused.text))
    assert site.mails() == []


def test_briefs_that_would_become_links_are_named_before_sending(
    db: Database, serve: Callable[..., LiveServer]
) -> None:
    site = serve(email_size_budget=15_000)
    add_editor(db, "ann@example.org")
    editor = log_in(site, "ann@example.org")
    import_examples(db)
    campaign_id = _campaign(db)
    page = editor.get(f"/editor/campaigns/{campaign_id}/preview")
    (notice,) = re.findall(r'<p class="notice" id="online-briefs">(.*?)</p>', page.text, re.S)
    online = re.search(r"<strong>([^<]+)</strong>", notice)
    assert online is not None
    slugs = online.group(1).split(", ")
    assert slugs and slugs == list(SLUGS)[-len(slugs) :]  # the last briefs of the campaign
    assert f'href="/editor/campaigns/{campaign_id}/edit">reorder or drop briefs</a>' in notice
    editor.http.close()
