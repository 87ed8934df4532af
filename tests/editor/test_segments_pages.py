"""The editor's segment pages over HTTP, on SQLite and PostgreSQL: the list in order with live
counts, the form that builds the stored JSON rule (with a preview of count and members),
JSON for rules the form cannot show, reordering, and deleting only unused segments."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from newsletter.db import Database
from newsletter.errors import InvalidInput
from newsletter.render.options import VariantOptions
from newsletter.web.editor.segment_rules import form_from_rule, rule_from_form
from subscribers.model import Segment
from tests.campaigns.helpers import add_segment, add_subscribers, import_examples, new_campaign
from tests.editor.conftest import Editor, flashes


def stored(db: Database) -> list[tuple[str, dict[str, object], int]]:
    with db.transaction() as session:
        rows = session.execute(
            select(Segment.name, Segment.rule, Segment.position).order_by(Segment.position)
        )
        return [(name, dict(rule), position) for name, rule, position in rows]


def options_of(db: Database, name: str) -> dict[str, object]:
    with db.transaction() as session:
        return dict(session.scalars(select(Segment.options).where(Segment.name == name)).one())


def segment_id(db: Database, name: str) -> int:
    with db.transaction() as session:
        return session.scalars(select(Segment.id).where(Segment.name == name)).one()


def names_listed(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/editor/segments/\d+/edit">([^<]+)</a>', html)


FORM = {
    "name": "climate fans",
    "description": "Climate <readers>",
    "mode": "form",
    "join": "all",
    "status_in": ["active"],
    "topics_list": "climate, science",
    "topics_match": "any",
    "created_within_days": "",
    "opt_narratives": "facts-only",
    "opt_topics": "Climate",
    "opt_greeting": "Hi {name},",
}


def test_a_segment_is_built_previewed_and_saved_with_the_form(db: Database, editor: Editor) -> None:
    add_subscribers(db, 3, topics=["climate"])
    add_subscribers(db, 2, start=10, topics=["science"], status="unsubscribed")
    add_subscribers(db, 4, start=20, topics=["europe"])

    preview = editor.post("/editor/segments/new", {**FORM, "action": "preview"})
    assert preview.status_code == 200
    assert '<strong id="preview-count">3</strong> match' in preview.text
    assert len(re.findall(r'href="/editor/subscribers/[\w-]+">reader\d+@', preview.text)) == 3
    assert "&#34;type&#34;: &#34;topics&#34;" in preview.text or '"type": "topics"' in preview.text
    assert stored(db) == []  # a preview stores nothing
    assert 'value="climate fans"' in preview.text  # the form comes back as typed

    saved = editor.follow(editor.post("/editor/segments/new", {**FORM, "action": "save"}))
    assert "Segment climate fans is saved." in flashes(saved.text)
    assert stored(db) == [
        (
            "climate fans",
            {
                "type": "all",
                "rules": [
                    {"type": "status", "in": ["active"]},
                    {"type": "topics", "any": ["climate", "science"]},
                ],
            },
            1,
        )
    ]
    row = saved.text.split("climate fans</a>")[1].split("</tr>")[0]
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["3", "3"]
    assert "Climate &lt;readers&gt;" in saved.text

    assert options_of(db, "climate fans") == {
        **VariantOptions().model_dump(mode="json"),
        "narratives": "facts-only",
        "topics": ["climate"],
        "greeting": "Hi {name},",
    }
    edit = editor.get(f"/editor/segments/{segment_id(db, 'climate fans')}/edit")
    assert 'value="climate, science"' in edit.text
    assert (
        'id="opt_topics" name="opt_topics" type="text" maxlength="3000" value="climate"'
        in edit.text
    )
    assert '<option value="facts-only" selected>' in edit.text
    assert 'value="Hi {name},"' in edit.text
    assert re.search(r'name="status_in" value="active" checked', edit.text)
    taken = editor.post("/editor/segments/new", {**FORM, "action": "save"})
    assert taken.status_code == 422 and "already exists" in taken.text


def test_bad_input_says_what_and_where(db: Database, editor: Editor) -> None:
    cases = [
        ({"created_within_days": "soon"}, "created_within_days"),
        ({"created_within_days": "²"}, "created_within_days"),
        ({"opened_within_days": "0"}, "within_days"),
        ({"attribute_key": "no spaces allowed"}, "attribute"),
        ({"opt_narratives": "some"}, "options.narratives"),
        ({"opt_order": "random"}, "options.order"),
        ({"opt_max_briefs": "many"}, "options.max_briefs: 'many' is not a number"),
        ({"opt_max_briefs": "51"}, "options.max_briefs"),
        ({"opt_greeting": "x" * 201}, "options.greeting"),
        ({"opt_subject": "{{ first_title"}, "options.subject"),
        ({"mode": "json", "rule_json": '{"type": "nothing"}'}, "unknown rule type"),
        ({"mode": "json", "rule_json": "[1"}, "rule: is not valid JSON"),
        ({"name": ""}, "a segment needs a name"),
    ]
    for changes, words in cases:
        answer = editor.post("/editor/segments/new", {**FORM, **changes, "action": "save"})
        assert answer.status_code == 422, changes
        assert words in answer.text.replace("&#39;", "'"), (changes, answer.text[-3000:])
    assert stored(db) == []


def test_every_option_problem_is_named_at_once_and_marked(db: Database, editor: Editor) -> None:
    bad = {"opt_max_briefs": "0", "opt_order": "random", "opt_subject": "{{ first_title"}
    answer = editor.post("/editor/segments/new", {**FORM, **bad, "action": "save"})
    assert answer.status_code == 422
    text = answer.text.replace("&#39;", "'")
    for field in ("options.max_briefs", "options.order", "options.subject"):
        assert field in text
    for field in ("opt_max_briefs", "opt_order", "opt_subject"):
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', text), field
    assert not re.search(r'id="opt_greeting"[^>]*aria-invalid', text)
    assert 'value="{{ first_title"' in text  # kept as typed, escaped
    assert stored(db) == []


def test_options_left_out_of_the_post_keep_their_defaults(db: Database, editor: Editor) -> None:
    editor.follow(editor.post("/editor/segments/new", {"name": "plain", "action": "save"}))
    assert options_of(db, "plain") == VariantOptions().model_dump(mode="json")


def test_json_mode_negation_and_engagement(db: Database, editor: Editor) -> None:
    add_subscribers(db, 2)
    rule = '{"type": "any", "rules": [{"type": "all", "rules": [{"type": "everyone"}]}]}'
    editor.follow(
        editor.post(
            "/editor/segments/new",
            {"name": "nested", "mode": "json", "rule_json": rule, "action": "save"},
        )
    )
    edit = editor.get(f"/editor/segments/{segment_id(db, 'nested')}/edit")
    assert re.search(r'name="mode" value="json" checked', edit.text)
    assert "cannot show: edit its JSON" in edit.text
    form = {"name": "quiet", "opened_within_days": "30", "opened_not": "1", "action": "save"}
    editor.follow(editor.post("/editor/segments/new", form))
    assert stored(db)[1] == (
        "quiet",
        {"type": "not", "rule": {"type": "opened", "within_days": 30}},
        2,
    )


def test_reorder_and_delete(db: Database, editor: Editor) -> None:
    import_examples(db)
    for name in ("a", "b", "c"):
        add_segment(db, name, {"type": "everyone"}, {})
    editor.follow(editor.post("/editor/segments/order", {}))  # numbers them 1, 2, 3
    ids = {name: segment_id(db, name) for name in "abc"}
    answer = editor.post(
        "/editor/segments/order", {f"position_{ids['c']}": "1", f"position_{ids['a']}": "3"}
    )
    assert names_listed(editor.follow(answer).text) == ["c", "b", "a"]
    assert [position for *_, position in stored(db)] == [1, 2, 3]
    bad = editor.follow(editor.post("/editor/segments/order", {f"position_{ids['a']}": "²"}))
    assert "not one" in " ".join(flashes(bad.text))

    campaign_id = new_campaign(db, segments=["b"], name="Weekly <b>")
    page = editor.get(f"/editor/segments/{ids['b']}/delete")
    assert "cannot be deleted" in page.text and f"/editor/campaigns/{campaign_id}" in page.text
    assert "Weekly &lt;b&gt;" in page.text
    refused = editor.follow(editor.post(f"/editor/segments/{ids['b']}/delete"))
    assert "is used by Weekly &lt;b&gt; (#" in " ".join(flashes(refused.text))
    editor.follow(editor.post(f"/editor/segments/{ids['a']}/delete"))
    assert [name for name, *_ in stored(db)] == ["c", "b"]
    assert editor.get("/editor/segments/999/edit").status_code == 404
    assert editor.get("/editor/segments/x/edit").status_code == 422


@pytest.mark.parametrize(
    "rule",
    [
        {"type": "everyone"},
        {"type": "topics", "all": ["a", "b"]},
        {"type": "not", "rule": {"type": "clicked", "within_days": 9}},
        {
            "type": "any",
            "rules": [
                {"type": "status", "in": ["active", "pending"]},
                {"type": "source", "in": ["web"]},
                {"type": "created", "within_days": 3, "older_than_days": 1},
                {"type": "attribute", "key": "plan", "exists": False},
            ],
        },
    ],
)
def test_the_form_shows_and_rebuilds_a_rule(rule: dict[str, object]) -> None:
    """(The form lists conditions in its own order: all/any of them mean the same.)"""
    from campaigns.wiring import wire_extensions

    wire_extensions()
    values = form_from_rule(rule)
    assert values is not None
    assert rule_from_form(values) == rule


def test_rules_the_form_cannot_show() -> None:
    assert form_from_rule({"type": "attribute", "key": "n", "equals": 1}) is None
    assert form_from_rule({"type": "all", "rules": [{"type": "any", "rules": []}]}) is None
    twice = {"type": "topics", "any": ["a"]}
    assert form_from_rule({"type": "all", "rules": [twice, twice]}) is None
    with pytest.raises(InvalidInput):
        rule_from_form({"created_within_days": "-3"})


def test_options_stored_before_a_rule_they_break_still_open_in_the_form(
    db: Database, editor: Editor
) -> None:
    with db.transaction() as session:  # as an older version may have stored them
        session.add(
            Segment(
                name="old",
                rule={"type": "everyone"},
                options={"narratives": "facts-only", "max_briefs": 99, "retired": True},
            )
        )
    page = editor.get(f"/editor/segments/{segment_id(db, 'old')}/edit")
    assert page.status_code == 200
    assert '<option value="facts-only" selected>' in page.text  # what still holds is shown
    assert 'name="opt_max_briefs" type="number" min="1" max="50" value=""' in page.text
