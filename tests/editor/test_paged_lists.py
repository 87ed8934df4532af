"""The reports list, the campaigns list and ``newsletter campaigns list --page`` show 25
campaigns a page, newest first, with links to the next and previous pages; a page number
that is not one is a 400 that says what fits."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from campaigns.model import Campaign
from campaigns.sending import send_campaign
from newsletter.cli.app import app
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from tests.campaigns.helpers import add_subscribers, import_examples, new_campaign
from tests.editor.conftest import Editor

HTML = {"Accept": "text/html"}


@pytest.fixture
def thirty(db: Database, tmp_path: Path) -> list[int]:
    """Thirty started campaigns, Issue 1 the oldest; Issue 30 sent to 7 readers."""
    import_examples(db)
    add_subscribers(db, 7)
    ids = [new_campaign(db, name=f"Issue {n}") for n in range(1, 31)]
    send_campaign(db, Settings(outbox=tmp_path / "box"), ids[-1])
    start = utcnow() - timedelta(days=60)
    with db.transaction() as session:
        for n, campaign_id in enumerate(ids):
            session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id)
                .values(started_at=start + timedelta(days=n), status="sent")
            )
    return ids


def _rows(html: str, attribute: str) -> list[str]:
    return re.findall(rf'<tr {attribute}="(\d+)"', html)


def _names(html: str, path: str) -> list[str]:
    return re.findall(rf'<a href="/editor/campaigns/\d+{path}">(Issue \d+)</a>', html)


def test_reports_come_25_a_page_newest_first(editor: Editor, thirty: list[int]) -> None:
    first = editor.get("/editor/reports", headers=HTML).text
    names = _names(first, "/report")
    assert names == [f"Issue {n}" for n in range(30, 5, -1)]
    assert '<a href="/editor/reports?page=2" rel="next">Older</a>' in first
    assert 'rel="prev"' not in first
    second = editor.get("/editor/reports?page=2", headers=HTML).text
    assert _names(second, "/report") == [f"Issue {n}" for n in range(5, 0, -1)]
    assert '<a href="/editor/reports" rel="prev">Newer</a>' in second
    assert 'rel="next"' not in second
    beyond = editor.get("/editor/reports?page=3", headers=HTML)
    assert beyond.status_code == 200 and "There are no older campaigns" in beyond.text


def test_reports_show_the_counted_figures(editor: Editor, thirty: list[int]) -> None:
    html = editor.get("/editor/reports", headers=HTML).text
    row = html[html.index(f'data-campaign="{thirty[-1]}"') :]
    cells = re.findall(r'<td class="num">(\d+)</td>', row[: row.index("</tr>")])
    assert cells[:2] == ["7", "7"]  # recipients, sent


def test_campaigns_come_25_a_page(editor: Editor, thirty: list[int]) -> None:
    first = editor.get("/editor/campaigns", headers=HTML).text
    assert len(_names(first, "")) == 25 and _names(first, "")[0] == "Issue 30"
    assert '<td class="num">7</td>' in first  # Issue 30's recipients, from the counters
    assert '<a href="/editor/campaigns?page=2" rel="next">Older</a>' in first
    second = editor.get("/editor/campaigns?page=2", headers=HTML).text
    assert _names(second, "") == [f"Issue {n}" for n in range(5, 0, -1)]


@pytest.mark.parametrize("page", ["0", "abc", "1000001", "-1", "²"])
def test_a_page_that_is_no_page_is_refused_with_what_fits(
    editor: Editor, thirty: list[int], page: str
) -> None:
    for path in ("/editor/reports", "/editor/campaigns"):
        answer = editor.get(path, params={"page": page}, headers=HTML)
        assert answer.status_code == 400, (path, page)
        assert "page must be a whole number from 1 to 100000" in answer.text


def test_the_cli_lists_a_page_of_campaigns(thirty: list[int]) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["campaigns", "list", "--page", "2", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert [c["name"] for c in json.loads(listed.stdout)] == [f"Issue {n}" for n in range(5, 0, -1)]
    first = runner.invoke(app, ["campaigns", "list", "--page", "1", "--format", "json"])
    rows = json.loads(first.stdout)
    assert len(rows) == 25 and (rows[0]["recipients"], rows[0]["sent"]) == (7, 7)
    assert runner.invoke(app, ["campaigns", "list", "--page", "0"]).exit_code != 0
