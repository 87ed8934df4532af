"""The subject test in the editor over real HTTP: typed on the campaign form (kept, checked,
changed, taken away), and each cell's figures and the outcome on the report page."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from campaigns.model import Campaign
from campaigns.sending import send_campaign
from campaigns.service import get_campaign
from newsletter.db import Database
from tests.campaigns.bounce_mail import outbox_settings
from tests.campaigns.helpers import SLUGS, add_subscribers, import_examples
from tests.editor.conftest import Editor

HOSTILE = '<b>Subject</b> "B"'


def _create(editor: Editor, **fields: object) -> int:
    data: dict[str, object] = {"name": "Tested", "briefs": [SLUGS[0]], **fields}
    answer = editor.post("/editor/campaigns/new", data)
    assert answer.status_code == 303, answer.text[:2000]
    return int(answer.headers["location"].rsplit("/", 1)[1])


def _candidates(db: Database, campaign_id: int) -> tuple[list[str], float | None, float | None]:
    with db.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        subjects = [c.subject for c in campaign.subject_candidates]
        return subjects, campaign.test_share, campaign.test_wait


def test_the_form_sets_changes_and_removes_a_subject_test(db: Database, editor: Editor) -> None:
    import_examples(db)
    plain = _create(editor)
    assert _candidates(db, plain) == ([], None, None)  # no other subject: no test
    campaign_id = _create(
        editor, subject_test_1=HOSTILE, subject_test_3="Subject D", test_share="15", test_wait="90"
    )
    assert _candidates(db, campaign_id) == ([HOSTILE, "Subject D"], 0.15, 90.0)
    form = editor.get(f"/editor/campaigns/{campaign_id}/edit").text
    assert 'value="&lt;b&gt;Subject&lt;/b&gt; &#34;B&#34;"' in form and HOSTILE not in form
    assert 'name="test_share" type="text" inputmode="decimal" maxlength="20" value="15"' in form
    saved = editor.post(
        f"/editor/campaigns/{campaign_id}/edit",
        {"name": "Tested", "briefs": [SLUGS[0]], "subject_test_2": "C", "test_share": "10",
         "test_wait": "60"},
    )  # fmt: skip
    assert saved.status_code == 303
    assert _candidates(db, campaign_id) == (["C"], 0.1, 60.0)
    removed = editor.post(
        f"/editor/campaigns/{campaign_id}/edit", {"name": "Tested", "briefs": [SLUGS[0]]}
    )
    assert removed.status_code == 303
    assert _candidates(db, campaign_id) == ([], None, None)


def test_a_test_that_cannot_run_is_refused_with_the_form_as_typed(
    db: Database, editor: Editor
) -> None:
    import_examples(db)
    for share, wait, message in [
        ("40", "60", "test_share: must be at least 0.001 and leave a rest"),
        ("ten", "60", "test_share: is not a number (a percentage)"),
        ("1e308", "60", "test_share: must be at least 0.001 and leave a rest"),  # was a 500
        ("10", "nan", "test_wait: is not a number (minutes)"),
        ("10", "99999", "test_wait: must be between 0 and 10080 minutes"),
    ]:
        data = {"name": "X", "briefs": [SLUGS[0]], "subject_test_1": "B", "subject_test_2": "C"}
        answer = editor.post(
            "/editor/campaigns/new", {**data, "test_share": share, "test_wait": wait}
        )
        assert answer.status_code == 422, share
        assert message in answer.text
        assert f'value="{share}"' in answer.text and 'value="C"' in answer.text
    with db.transaction() as session:
        assert session.scalars(select(Campaign)).all() == []


def test_a_nul_in_a_test_subject_is_a_422(db: Database, editor: Editor) -> None:
    import_examples(db)
    data = {"name": "X", "briefs": [SLUGS[0]], "subject_test_1": "B\x00"}
    answer = editor.post("/editor/campaigns/new", data)
    assert answer.status_code == 422 and "subject_test" in answer.text
    with db.transaction() as session:
        assert session.scalars(select(Campaign)).all() == []


def test_the_report_page_shows_each_cell_and_the_outcome(
    db: Database, editor: Editor, tmp_path: Path
) -> None:
    import_examples(db)
    add_subscribers(db, 1000)
    campaign_id = _create(editor, subject_test_1=HOSTILE, test_share="20", test_wait="0")
    settings = outbox_settings(tmp_path / "outbox", subject_test_min_cell=100)
    assert send_campaign(db, settings, campaign_id).status == "sent"
    page = editor.get(f"/editor/campaigns/{campaign_id}/report").text
    table = page[page.index('<table id="subject-test">') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r'<tr data-cell="(\d)">(.*?)</tr>', table)
    assert [cell for cell, _ in rows] == ["0", "1"]
    assert "&lt;b&gt;Subject&lt;/b&gt;" in rows[1][1] and HOSTILE not in page
    assert [re.findall(r'<td class="num">([^<]*)</td>', cells)[:2] for _, cells in rows] == [
        ["200", "0"],
        ["200", "0"],
    ]
    assert "no clear winner" in page and "the first subject went to the rest" in page
