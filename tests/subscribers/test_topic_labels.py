"""Topics as the newsroom writes them: configured labels, else title case that keeps the
acronyms ("AI", "US", "Middle East", never "Ai" or "Us"), on the signup and preferences
pages and in the editor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from pydantic import ValidationError

from newsletter.config import Settings, shown
from newsletter.db import Database
from newsletter.tokens import Purpose, TokenSigner
from newsletter.topics import parse_topic_labels, topic_label
from tests.campaigns.helpers import import_examples
from tests.editor.conftest import add_editor, client, log_in
from tests.subscribers.conftest import LiveServer, add_subscriber

TOPICS = ["ai", "middle-east", "us", "climate-change", "eu_policy", "uk"]


def test_a_topic_is_written_as_configured_else_title_cased_with_acronyms() -> None:
    assert [topic_label(t) for t in TOPICS] == [
        "AI",
        "Middle East",
        "US",
        "Climate Change",
        "EU Policy",
        "UK",
    ]
    labels = parse_topic_labels(" ai = A.I. , middle-east=Middle East,, us=United States ")
    assert labels == {"ai": "A.I.", "middle-east": "Middle East", "us": "United States"}
    assert topic_label("ai", labels) == "A.I." and topic_label("uk", labels) == "UK"


@pytest.mark.parametrize("bad", ["ai", "ai=", "=AI", "ai=AI,uk"])
def test_a_label_that_is_not_topic_equals_label_is_refused(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_TOPIC_LABELS", bad)
    with pytest.raises(ValidationError, match="is not topic=Label"):
        Settings()


def test_labels_come_from_the_environment_and_show_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWSLETTER_TOPIC_LABELS", "AI=AI,middle-east=Middle East")
    settings = Settings()
    assert settings.topic_labels == {"ai": "AI", "middle-east": "Middle East"}
    assert shown(settings.topic_labels) == "ai=AI,middle-east=Middle East"


@pytest.fixture
def labelled(serve: Callable[..., LiveServer]) -> LiveServer:
    return serve(topics=TOPICS, topic_labels={"eu_policy": "EU <policy> & law"})


def test_signup_and_preferences_pages_show_the_labels(db: Database, labelled: LiveServer) -> None:
    with db.transaction() as session:
        uid = add_subscriber(session, "ana@example.org", topics=["middle-east"]).uid
    token = TokenSigner(labelled.settings.signing_key()).sign(Purpose.PREFERENCES, uid)
    with client(labelled) as http:
        for path in ("/subscribe", f"/preferences/{token}"):
            page = http.get(path).text
            for label in ("AI", "Middle East", "US", "Climate Change", "UK"):
                assert f"> {label}</label>" in page, (path, label)
            assert "EU &lt;policy&gt; &amp; law" in page and "<policy>" not in page
            assert "> Ai</label>" not in page and "> Us</label>" not in page
            assert 'value="middle-east"' in page  # what is stored stays the slug


def test_the_editor_shows_the_labels(db: Database, labelled: LiveServer) -> None:
    import_examples(db)
    add_editor(db, "ann@example.org")
    with log_in(labelled, "ann@example.org") as editor:
        briefs = editor.get("/editor/briefs").text
        assert "US, Politics, Elections" in briefs  # example 002's topics: us, politics, …
        brief = editor.get("/editor/briefs/us-midterms-house-control-undecided").text
        assert "US, Politics, Elections" in brief


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 375])
def test_the_signup_form_reads_well_with_labels(
    browser: Browser, labelled: LiveServer, artifacts_dir: Path, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{labelled.url}/subscribe")
    for label in ("AI", "Middle East", "US", "EU <policy> & law"):
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    page.get_by_label("Middle East", exact=True).check()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(artifacts_dir / f"signup-topics-{width}.png"), full_page=True)
    context.close()
