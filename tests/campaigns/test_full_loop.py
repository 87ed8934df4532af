"""The whole loop: send to the fake SendGrid, post the events SendGrid would send back for
what it accepted (signed, over HTTP), and read the report: every number is accounted for."""

from __future__ import annotations

import csv
import io
import json
import random
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from typer.testing import CliRunner

from campaigns.charts import report_charts
from campaigns.events import Event
from campaigns.model import Delivery, Variant
from campaigns.reports import CampaignReport, campaign_report, started_campaigns
from campaigns.sending import send_campaign
from newsletter.cli.app import app
from newsletter.db import Database, utcnow
from subscribers.model import Subscriber
from tests.campaigns.helpers import (
    add_segment,
    add_subscribers,
    import_cited_brief,
    import_examples,
    links_by_section,
    new_campaign,
    sendgrid_settings,
)
from tests.campaigns.webhooks import Recipient, SiteClock, event, ingest, recipients_of
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.sendgrid_signing import SendGridKey
from tests.subscribers.conftest import LiveServer

Serve = Callable[..., LiveServer]
HUMAN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126 Safari/537.36"


def click_path(recipient: Recipient, link: dict[str, Any]) -> str:
    """The redirect path of ``link`` in the mail this reader received."""
    token = recipient.substitutions["%%nl_tracking_token%%"]
    return f"/t/c/{token}/{link['link_id']}"


def test_send_post_events_read_the_report(
    db: Database, sendgrid_server: FakeSendGrid, serve: Serve
) -> None:
    key = SendGridKey()
    server = serve(sendgrid_webhook_public_key=key.public_key, tracking_scanner_seconds=20)
    import_examples(db)
    cited = import_cited_brief(db)
    europe = add_subscribers(db, 30, topics=["europe"])
    others = add_subscribers(db, 20, start=30)
    add_segment(db, "europe", {"type": "topics", "any": ["europe"]}, {})
    add_segment(db, "everyone else", {"type": "everyone"}, {"narratives": "facts-only"})
    campaign_id = new_campaign(db, segments=["europe", "everyone else"], more_briefs=[cited])
    settings = sendgrid_settings(sendgrid_server, public_url=server.url)
    assert send_campaign(db, settings, campaign_id).counts == {"sent": 50}
    request = sendgrid_server.accepted[0].body["tracking_settings"]
    assert request["open_tracking"]["enable"] and not request["click_tracking"]["enable"]
    sent_at = utcnow() - timedelta(hours=1)  # the readers come an hour later
    with db.transaction() as session:
        session.execute(update(Delivery).values(sent_at=sent_at))
        variant_of = dict(
            session.execute(
                select(Subscriber.email, Delivery.variant_id).join(
                    Delivery, Delivery.subscriber_id == Subscriber.id
                )
            ).all()
        )
    to = recipients_of(sendgrid_server, campaign_id)
    assert set(to) == set(europe + others)
    eu_variant, rest_variant = variant_of[europe[0]], variant_of[others[0]]
    eu_links = links_by_section(db, eu_variant)
    narrative_link = next(x for x in eu_links["narrative"] if x["brief_slug"] == cited)
    source_link = next(x for x in eu_links["source"] if x["brief_slug"] == cited)
    fact_link = eu_links["fact-citation"][0]
    rest_fact = links_by_section(db, rest_variant)["fact-citation"][0]
    assert "narrative" not in links_by_section(db, rest_variant)  # facts-only variant
    e, o = [to[a] for a in europe], [to[a] for a in others]
    assert server.url + click_path(e[3], narrative_link) in e[3].filled_html()

    # what SendGrid posts: processed, delivered or bounced, opens, complaints ...
    now = int(time.time())
    at = lambda minutes: now - 3600 + minutes * 60  # noqa: E731
    events: list[dict[str, Any]] = []
    for r in e + o:
        events.append(event(r, "processed", timestamp=at(0)))
    bounced = {e[0].email, e[1].email, o[0].email}  # two hard, one soft (blocked)
    for r in e + o:
        if r.email not in bounced:
            events.append(event(r, "delivered", timestamp=at(1), response="250 OK"))
    events += [
        event(e[0], "bounce", type="bounce", reason="550 no such user", timestamp=at(1)),
        event(e[1], "bounce", type="bounce", reason="550 mailbox disabled", timestamp=at(1)),
        event(o[0], "bounce", type="blocked", reason="421 rate limited", timestamp=at(1)),
    ]
    # opens: europe 2..13 (12 readers, 2..4 twice), others 1..4; Apple MPP for 6 more
    for r in e[2:14] + e[2:5] + o[1:5]:
        events.append(event(r, "open", timestamp=at(10), useragent=HUMAN, sg_machine_open=False))
    for r in [*e[14:17], *o[5:7], e[2]]:
        events.append(
            event(r, "open", timestamp=at(0), useragent="Mozilla/5.0", sg_machine_open=True)
        )
    events += [
        event(e[11], "unsubscribe", timestamp=at(30)),
        event(o[3], "spamreport", timestamp=at(30)),
        event(e[12], "deferred", timestamp=at(1), response="451 later", attempt="1"),
        # not ours: another system's mail to one of our readers
        event(Recipient(europe[20], "other-system", {}), "open", timestamp=at(5), useragent=HUMAN),
    ]
    random.Random(6).shuffle(events)
    batches = [events[i : i + 40] for i in range(0, len(events), 40)]
    recorded = 0
    with httpx.Client(base_url=server.url) as client:
        for batch in batches:
            body = json.dumps(batch).encode()
            answer = client.post("/webhooks/sendgrid", content=body, headers=key.headers(body))
            assert answer.status_code == 200, answer.text
            recorded += answer.json()["recorded"]
        assert recorded == len(events)
        replay = json.dumps(batches[0]).encode()  # SendGrid sends a batch again
        again = client.post("/webhooks/sendgrid", content=replay, headers=key.headers(replay))
        assert again.json()["recorded"] == 0

        # what readers do: the narrative link 4 readers (one twice), the cited brief's source 2,
        # a fact 1; two in the other segment; a scanner probes with HEAD, a bot by its name
        clicks = [(r, narrative_link) for r in e[2:6]] + [(e[2], narrative_link)]
        clicks += [(r, source_link) for r in e[6:8]] + [(e[8], fact_link)]
        clicks += [(r, rest_fact) for r in o[1:3]]
        clock = SiteClock(server, utcnow())
        for r, link in clicks:  # a minute apart: e[2]'s second click is a click of its own
            clock.now += timedelta(minutes=1)
            answer = client.get(click_path(r, link), headers={"User-Agent": HUMAN})
            assert answer.status_code == 302 and answer.headers["location"] == link["url"]
        client.head(click_path(e[9], fact_link), headers={"User-Agent": HUMAN})
        client.get(click_path(e[9], fact_link), headers={"User-Agent": "Mimecast/1.0"})

    with db.transaction() as session:
        report = campaign_report(session, campaign_id)
        (summary,) = started_campaigns(session)
    assert summary.totals == report.totals  # the reports list counts alike
    check_report(report, eu_variant, rest_variant, cited, narrative_link, source_link)
    check_cli(report)
    for name, svg in report_charts(report).items():
        root = ET.fromstring(str(svg))
        assert root.tag == "{http://www.w3.org/2000/svg}svg", name


def check_report(
    report: CampaignReport,
    eu_variant: int,
    rest_variant: int,
    cited: str,
    narrative_link: dict[str, Any],
    source_link: dict[str, Any],
) -> None:
    assert report.provider == "sendgrid" and report.status == "sent"
    assert report.tracks_opens and report.tracks_clicks
    eu, rest = (s.figures for s in report.segments)
    assert [s.segment for s in report.segments] == ["europe", "everyone else"]
    given = {c.variant_id: c for c in report.choices}  # the europe readers chose "europe"
    assert (given[eu_variant].segment, given[eu_variant].topics) == ("europe", ("europe",))
    assert (given[rest_variant].segment, given[rest_variant].narratives) == ("everyone else", None)
    assert (eu.recipients, eu.sent, eu.delivered) == (30, 30, 28)
    assert (eu.bounced, eu.hard_bounced, eu.soft_bounced, eu.deferred) == (2, 2, 0, 1)
    assert (eu.opened, eu.opens, eu.machine_opened) == (12, 15, 3)  # e[2]'s machine open aside
    assert (eu.clicked, eu.clicks, eu.machine_clicks) == (7, 8, 2)
    assert (eu.unsubscribed, eu.complained) == (1, 0)
    assert eu.rate_base == "delivered"
    assert eu.open_rate == 12 / 28 and eu.click_rate == 7 / 28 and eu.click_to_open_rate == 7 / 12
    assert (rest.recipients, rest.delivered, rest.bounced, rest.soft_bounced) == (20, 19, 1, 1)
    assert (rest.opened, rest.machine_opened, rest.clicked, rest.complained) == (4, 2, 2, 1)
    total = report.totals
    assert (total.recipients, total.sent, total.delivered, total.opened, total.clicked) == (
        50,
        50,
        47,
        16,
        9,
    )
    assert (total.unknown, total.failed, total.pending) == (0, 0, 0)
    assert total.click_rate == 9 / 47
    briefs = {b.brief_slug: b for b in report.briefs}
    assert [b.brief_slug for b in report.briefs][-1] == cited  # the campaign's order
    assert (briefs[cited].clicks, briefs[cited].clickers) == (7, 6)  # narrative 5 + source 2
    assert sum(b.clicks for b in report.briefs) == 10  # every human click
    narratives = {(n.brief_slug, n.narrative): n for n in report.narratives}
    clicked = narratives[(cited, narrative_link["narrative"])]
    assert (clicked.clicks, clicked.clickers) == (5, 4)
    assert sum(n.clicks for n in report.narratives) == 5  # the others: listed, not clicked
    assert len(report.narratives) > 1
    top = report.top_links[0]
    assert (top.link_id, top.url, top.section, top.narrative) == (
        narrative_link["link_id"],
        narrative_link["url"],
        "narrative",
        narrative_link["narrative"],
    )
    assert (top.clicks, top.clickers) == (5, 4)
    by_id = {link.link_id: link for link in report.top_links}
    assert (by_id[source_link["link_id"]].clicks, by_id[source_link["link_id"]].section) == (
        2,
        "source",
    )
    assert all(link.link_id for link in report.top_links)  # every click knows its link
    assert report.machine_events == {
        "clicked:head": 1,
        "clicked:user-agent": 1,
        "opened:machine-open": 6,
    }


def check_cli(report: CampaignReport) -> None:
    runner = CliRunner()
    as_json = runner.invoke(app, ["report", str(report.campaign_id), "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    expected = report.as_dict()
    for one in (data, expected):
        one.pop("generated_at")
    assert data == expected
    table = runner.invoke(app, ["report", str(report.campaign_id)])
    assert table.exit_code == 0, table.output
    for text in (
        "segments",
        "europe",
        "everyone else",
        "42.9 %",
        "clicks by narrative",
        "top links",
    ):
        assert text in table.stdout, text
    as_csv = runner.invoke(app, ["report", str(report.campaign_id), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["segment"] for r in rows] == ["europe", "everyone else", "all"]
    assert [int(r["clicked"]) for r in rows] == [7, 2, 9]
    links = runner.invoke(app, ["report", str(report.campaign_id), "-f", "csv", "--table", "links"])
    assert (
        Counter(r["section"] for r in csv.DictReader(io.StringIO(links.stdout)))["narrative"] == 1
    )
    missing = runner.invoke(app, ["report", "9999"])
    assert missing.exit_code == 1 and "no campaign with id 9999" in missing.output


def test_sendgrid_click_events_tell_only_as_much_as_their_url(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    """With NEWSLETTER_TRACKING=provider SendGrid tracks clicks and reports only the URL: a
    destination several links share is attributed only as far as those links agree."""
    import_examples(db)
    cited = import_cited_brief(db)
    (address,) = add_subscribers(db, 1)
    campaign_id = new_campaign(db, more_briefs=[cited])
    settings = sendgrid_settings(sendgrid_server, tracking="provider", utm_enabled=True)
    assert send_campaign(db, settings, campaign_id).counts == {"sent": 1}
    request = sendgrid_server.accepted[0].body["tracking_settings"]
    assert request["click_tracking"]["enable"] and request["open_tracking"]["enable"]
    reader = recipients_of(sendgrid_server, campaign_id)[address]
    with db.transaction() as session:
        (variant_id,) = session.scalars(
            select(Variant.id).where(Variant.campaign_id == campaign_id)
        )
    links = links_by_section(db, variant_id)
    # a citation in a narrative of the cited brief: also one of its sources
    narrative_url = next(x["url"] for x in links["narrative"] if x["brief_slug"] == cited)
    unsubscribe = reader.substitutions["%%nl_unsubscribe_url%%"]
    later = int(time.time()) + 3600
    ingest(
        db,
        [
            event(reader, "click", url=narrative_url, useragent=HUMAN, timestamp=later),
            event(reader, "click", url=unsubscribe, useragent=HUMAN, timestamp=later),
            event(reader, "click", url="https://example.net/x", useragent=HUMAN, timestamp=later),
        ],
    )
    with db.transaction() as session:
        rows = {r.url: r for r in session.scalars(select(Event).where(Event.type == "clicked"))}
    shared = rows[narrative_url]
    assert (shared.brief_slug, shared.section, shared.narrative, shared.link_id) == (
        cited,
        None,
        None,
        None,
    )
    footer = rows[unsubscribe]
    assert (footer.section, footer.link_id) == ("footer", links["footer"][-1]["link_id"])
    assert rows["https://example.net/x"].brief_slug is None
    with db.transaction() as session:
        report = campaign_report(session, campaign_id)
    assert {b.brief_slug: b.clicks for b in report.briefs}[cited] == 1
    # the unsubscribe click is no interest in the content: in no click figure
    assert report.totals.clicked == 1 and report.totals.clicks == 2
