"""The report pages over real HTTP: an issue sent through the outbox to two segments, its
readers' opens and clicks (and a few machines') coming in through our pixel and redirect,
then the report page, the reports list, the downloads and the API telling the same
figures as :func:`campaigns.reports.campaign_report`; names shown as text; drafts; refusals."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET

from pydantic import TypeAdapter

from campaigns.report_tables import FIGURE_ROWS, CsvTable, rate_text, report_csv
from campaigns.reports import CampaignReport, campaign_report
from newsletter.db import Database
from tests.campaigns.helpers import (
    add_segment,
    add_subscribers,
    import_cited_brief,
    import_examples,
    links_by_section,
    new_campaign,
    send_issue,
)
from tests.editor.conftest import Editor, click, client, sent_and_read
from tests.subscribers.conftest import LiveServer

HTML = {"Accept": "text/html"}
HOSTILE = '<script>alert("x")</script>'
SVG = "{http://www.w3.org/2000/svg}"


def report_of(db: Database, campaign_id: int) -> CampaignReport:
    with db.transaction() as session:
        return campaign_report(session, campaign_id)


def figure_table(html: str) -> tuple[list[str], dict[str, list[str]]]:
    """The report page's figures by segment: the column names, and each figure's cells."""
    table = html[html.index('<table id="segment-figures">') :]
    table = table[: table.index("</table>")]
    columns = re.findall(r'<th scope="col" class="num">([^<]*)</th>', table)
    rows = {
        name: re.findall(r'<td class="num">([^<]*)</td>', cells)
        for name, cells in re.findall(r'<tr data-figure="(\w+)">(.*?)</tr>', table)
    }
    return columns, rows


def headline(html: str, figure: str) -> str:
    found = re.search(rf'<dd[^>]* data-figure="{figure}">(.*?)</dd>', html)
    assert found, figure
    return re.sub(r"<[^>]+>", "", found.group(1))


def test_logged_out_the_reports_are_closed(site: LiveServer) -> None:
    with client(site) as http:
        for path in (
            "/editor/reports",
            "/editor/campaigns/1/report",
            "/editor/campaigns/1/report.json",
            "/editor/campaigns/1/report.csv",
        ):
            answer = http.get(path, headers=HTML)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == f"/editor/login?next={path}"
        api = http.get("/editor/api/campaigns/1/report")
        assert api.status_code == 401 and api.json()["detail"].startswith("log in first")


def test_the_report_page_shows_each_segments_figures(
    db: Database, site: LiveServer, editor: Editor
) -> None:
    issue = sent_and_read(db, site)
    campaign_id = issue.campaign_id
    report = report_of(db, campaign_id)
    tech, economy = (s.figures for s in report.segments)
    assert (tech.recipients, tech.opened, tech.opens, tech.clicked) == (5, 3, 4, 2)
    assert (economy.recipients, economy.opened, economy.machine_opened) == (4, 1, 1)
    assert (economy.clicked, economy.machine_clicks) == (1, 1)

    page = editor.get(f"/editor/campaigns/{campaign_id}/report")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/editor/reports" aria-current="page">Reports</a>' in html
    columns, rows = figure_table(html)
    assert columns == ["tech", "economy", "All"]
    assert [name for _, name, _ in FIGURE_ROWS] == list(rows)
    for _, name, is_rate in FIGURE_ROWS:
        values = [getattr(f, name) for f in (tech, economy, report.totals)]
        told = [rate_text(v) if is_rate else str(v) for v in values]
        if name == "delivered":
            told = ["–"] * 3  # the outbox knows no deliveries
        assert rows[name] == told, name
    assert rows["opened"] == ["3", "1", "4"] and rows["clicked"] == ["2", "1", "3"]
    assert rows["open_rate"] == ["60.0 %", "25.0 %", "44.4 %"]
    assert headline(html, "recipients") == "9" and headline(html, "sent") == "9"
    assert headline(html, "opened") == "4 44.4 %" and headline(html, "clicked") == "3 33.3 %"
    assert headline(html, "delivered") == "not reported"  # the outbox knows no deliveries
    assert headline(html, "failed-unknown") == "0 / 0"
    assert headline(html, "machine_opened") == "1" and headline(html, "machine_clicks") == "1"
    assert "Rates are of sent" in html
    assert html.count("<svg") == 3
    top = report.top_links[0]
    assert (top.clicks, top.section) == (2, "fact-citation")
    assert f'<td class="url">{top.url}</td>' in html
    assert "a bot&#39;s, scanner&#39;s or HTTP library&#39;s user agent" in html
    for table in CsvTable:
        assert f"/editor/campaigns/{campaign_id}/report.csv?table={table}" in html

    listed = editor.get("/editor/reports").text
    row = re.search(rf'<tr data-campaign="{campaign_id}">(.*?)</tr>', listed, re.S)
    assert row and f'href="/editor/campaigns/{campaign_id}/report"' in row.group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', row.group(1)) == [
        "9",
        "9",
        "44.4 %",
        "33.3 %",
    ]
    campaign_page = editor.get(f"/editor/campaigns/{campaign_id}").text
    assert f'href="/editor/campaigns/{campaign_id}/report"' in campaign_page


def test_downloads_and_the_api_tell_the_report(
    db: Database, site: LiveServer, editor: Editor
) -> None:
    campaign_id = sent_and_read(db, site).campaign_id
    report = report_of(db, campaign_id)
    base = f"/editor/campaigns/{campaign_id}/report"

    as_json = editor.get(f"{base}.json")
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    disposition = as_json.headers["content-disposition"]
    assert disposition == f'attachment; filename="campaign-{campaign_id}-report.json"'
    assert as_json.headers["cache-control"] == "no-store"  # like every editor answer
    assert as_json.headers["x-content-type-options"] == "nosniff"
    data, expected = as_json.json(), report.as_dict()
    assert data.pop("generated_at") and expected.pop("generated_at")
    assert data == expected

    for table in CsvTable:
        as_csv = editor.get(f"{base}.csv", params={"table": table.value})
        assert as_csv.status_code == 200, table
        assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
        assert as_csv.headers["content-disposition"] == (
            f'attachment; filename="campaign-{campaign_id}-{table}.csv"'
        )
        assert as_csv.text == report_csv(report, table)
    assert editor.get(f"{base}.csv").text == report_csv(report, CsvTable.segments)
    bad = editor.get(f"{base}.csv", params={"table": "everything"})
    assert bad.status_code == 400
    assert bad.json()["detail"] == (
        "There is no report table 'everything': pick one of segments, choices, briefs, narratives, links."
    )
    bad_page = editor.get(f"{base}.csv", params={"table": "x" * 41}, headers=HTML)
    assert bad_page.status_code == 422 and "<h1>That did not work</h1>" in bad_page.text

    api = editor.get(f"/editor/api/campaigns/{campaign_id}/report")
    assert api.status_code == 200
    told = TypeAdapter(CampaignReport).validate_python(api.json())
    assert told == dataclasses.replace(report, generated_at=told.generated_at)

    missing = editor.get("/editor/campaigns/9999/report", headers=HTML)
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
    assert "no campaign with id 9999" in missing.text and 'class="bar"' in missing.text
    assert editor.get("/editor/campaigns/9999/report.json").status_code == 404
    assert editor.get("/editor/api/campaigns/9999/report").json() == {
        "detail": "no campaign with id 9999"
    }


def _hostile_brief(data: dict[str, object]) -> None:
    data["title"] = f"Brief {HOSTILE}"
    narratives, sources = data["narratives"], data["sources"]
    assert isinstance(narratives, list) and isinstance(sources, list)
    narratives[0]["label"] = f"Narrative {HOSTILE}"
    sources[1]["url"] = 'https://example.org/?q="><script>alert(1)</script>'  # cited by it


def test_every_name_is_shown_as_text(db: Database, site: LiveServer, editor: Editor) -> None:
    import_examples(db)
    slug = import_cited_brief(db, slug="hostile", edit=_hostile_brief)
    add_segment(db, f"Segment {HOSTILE}", {"type": "everyone"}, {})
    add_subscribers(db, 2)
    campaign_id = new_campaign(
        db, segments=[f"Segment {HOSTILE}"], more_briefs=[slug], name=f"Campaign {HOSTILE}"
    )
    issue = send_issue(db, site.settings, campaign_id)
    token = issue.tokens["reader0@example.org"]
    links = links_by_section(db, issue.variants["reader0@example.org"])
    (link,) = [n for n in links["narrative"] if n["narrative"] == f"Narrative {HOSTILE}"]
    assert link["url"].endswith("<script>alert(1)</script>")
    with client(site) as http:
        click(http, token, link)

    html = editor.get(f"/editor/campaigns/{campaign_id}/report").text
    assert html.count("<script") == 1  # the editor's own /static/editor.js
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    for name in ("Campaign", "Segment", "Brief", "Narrative"):
        assert f"{name} {escaped}" in html, name
    url = "https://example.org/?q=&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f'<td class="url">{url}</td>' in html
    charts = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(charts) == 3
    titles = []
    for svg in charts:
        root = ET.fromstring(svg)
        assert not [e for e in root.iter() if e.tag in (f"{SVG}script", f"{SVG}foreignObject")]
        titles += [t.text for t in root.iter(f"{SVG}title")]
    for name in ("Segment", "Brief"):
        assert f"{name} {HOSTILE}" in titles, name
    assert f"Narrative {HOSTILE} · {slug}" in titles
    listed = editor.get("/editor/reports").text
    assert listed.count("<script") == 1 and f"Campaign {escaped}" in listed


def test_a_draft_has_nothing_sent_yet(db: Database, editor: Editor) -> None:
    import_examples(db)
    campaign_id = new_campaign(db)
    page = editor.get(f"/editor/campaigns/{campaign_id}/report")
    assert page.status_code == 200
    assert (
        'id="nothing-sent"' in page.text and "Nothing sent yet: this campaign is draft" in page.text
    )
    assert "<svg" not in page.text and "segment-figures" not in page.text
    assert (
        "The report opens once sending starts"
        in editor.get(f"/editor/campaigns/{campaign_id}").text
    )
    assert "No campaign has started sending yet" in editor.get("/editor/reports").text
    api = editor.get(f"/editor/api/campaigns/{campaign_id}/report").json()
    assert api["status"] == "draft" and api["segments"] == [] and api["totals"]["recipients"] == 0
