"""The list-health page over real HTTP: closed to visitors, linked from the reports page, the
history's figures and verdicts as :func:`campaigns.health.health_history` tells them, two
charts with Gmail's lines, names shown as text, downloads, and bad queries refused with a
message that says what fits."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from campaigns.health import HealthPeriod, health_history
from newsletter.db import Database
from tests.campaigns.health_data import sent_three_issues
from tests.editor.conftest import Editor, client
from tests.subscribers.conftest import LiveServer

HTML = {"Accept": "text/html"}
HOSTILE = '<script>alert("x")</script>'
SVG = "{http://www.w3.org/2000/svg}"
PATHS = ("/editor/reports/health", "/editor/reports/health.json", "/editor/reports/health.csv")


def _cells(html: str, figure: str) -> list[str]:
    found = re.findall(rf'<td class="num" data-figure="{figure}">(.*?)</td>', html, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in found]


def test_logged_out_the_health_page_is_closed(site: LiveServer) -> None:
    with client(site) as http:
        for path in PATHS:
            answer = http.get(path, headers=HTML)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == f"/editor/login?next={path}"


def test_the_health_page_tells_the_history_with_its_lines(
    db: Database, site: LiveServer, editor: Editor, tmp_path: Path
) -> None:
    issues = sent_three_issues(db, tmp_path, name=f"Issue {HOSTILE}")
    listed = editor.get("/editor/reports").text
    assert '<a href="/editor/reports/health" id="health-link">' in listed

    page = editor.get("/editor/reports/health")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/editor/reports" aria-current="page">Reports</a>' in html
    assert html.count("<script") == 1  # the editor's own /static/editor.js
    escaped = "Issue &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    for n, campaign_id in enumerate(issues.campaigns, 1):
        assert f'<a href="/editor/campaigns/{campaign_id}/report">{escaped} {n}</a>' in html
    assert _cells(html, "sent") == ["500", "500", "500"]
    assert _cells(html, "bounce_rate") == ["6.0 % over", "0.0 %", "0.0 %"]
    assert _cells(html, "complaint_rate") == ["0.0 %", "0.20 % warning", "0.40 % over"]
    assert _cells(html, "unsubscribe_rate") == ["0.0 %", "1.0 %", "0.0 %"]
    assert _cells(html, "delivered") == ["–"] * 3  # the outbox knows no deliveries
    assert 'class="verdict fail" title="over Gmail&#39;s 0.3 % limit">0.40 %' in html
    flagged = re.search(r'<ul class="notice" id="flagged">(.*?)</ul>', html, re.S)
    assert flagged and flagged.group(1).count("<li>") == 3
    assert "complaints 0.40 %, over Gmail&#39;s 0.3 % limit" in flagged.group(1)

    charts = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(charts) == 2
    for svg in charts:
        root = ET.fromstring(svg)
        assert not [e for e in root.iter() if e.tag in (f"{SVG}script", f"{SVG}foreignObject")]
        assert len(list(root.iter(f"{SVG}line"))) == 2
        titles = [t.text for t in root.iter(f"{SVG}title")]
        assert f"Issue {HOSTILE} 1" in titles  # the full name, as text
    texts = ["".join(t.itertext()) for t in ET.fromstring(charts[0]).iter(f"{SVG}text")]
    assert "Gmail's limit (0.3 %)" in texts and "0.40 %" in texts

    with db.transaction() as session:
        expected = health_history(session, by=HealthPeriod.week, last=4)
    weekly = editor.get("/editor/reports/health?by=week&last=4").text
    assert _cells(weekly, "sent") == [str(row.figures.sent) for row in expected.rows]
    assert [row.campaigns for row in expected.rows] == [1, 1, 0, 1]
    assert '<option value="week" selected>' in weekly and 'value="4"' in weekly
    assert "/editor/reports/health.csv?by=week&amp;last=4" in weekly


def test_downloads_and_refusals(
    db: Database, site: LiveServer, editor: Editor, tmp_path: Path
) -> None:
    sent_three_issues(db, tmp_path)
    as_json = editor.get("/editor/reports/health.json?by=month&last=2")
    assert as_json.status_code == 200
    assert as_json.headers["content-disposition"] == (
        'attachment; filename="list-health-by-month.json"'
    )
    data = as_json.json()
    assert data["by"] == "month" and len(data["rows"]) == 2 and data["timezone"]
    assert sum(row["campaigns"] for row in data["rows"]) == 3
    as_csv = editor.get("/editor/reports/health.csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["complaint_status"] for r in rows] == ["ok", "warning", "over"]
    for query, message in (
        ("by=year", "by must be one of campaign, week, month"),
        ("last=0", "last must be a whole number from 1 to 520"),
        ("last=abc", "last must be a whole number from 1 to 520"),
        ("last=100000", "last must be a whole number from 1 to 520"),
        ("last=%C2%B2", "last must be a whole number from 1 to 520"),
        (f"by={'x' * 30}", ""),
    ):
        for path in PATHS:
            answer = editor.get(f"{path}?{query}", headers=HTML)
            assert answer.status_code in (400, 422), (path, query, answer.status_code)
            assert message in answer.text.replace("&#39;", "'"), (path, query)


def test_with_nothing_sent_the_page_says_so(db: Database, editor: Editor) -> None:
    html = editor.get("/editor/reports/health").text
    assert 'id="nothing"' in html and "<svg" not in html
    weekly = editor.get("/editor/reports/health?by=week&last=3").text
    assert _cells(weekly, "sent") == ["0", "0", "0"]  # empty weeks still show
