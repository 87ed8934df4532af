"""docs/embedding.md stays true: its "own form" section lists and shows every field the
signup endpoint takes, and it names every script a public page loads."""

from __future__ import annotations

import re

from subscribers.routes import SignupBody
from tests.conftest import ROOT

PAGE = (ROOT / "docs" / "embedding.md").read_text(encoding="utf-8")
OWN_FORM = PAGE.split("## 3. Your own form on your site", 1)[1].split("\n## ", 1)[0]


def test_the_own_form_section_lists_and_shows_every_signup_field() -> None:
    listed = set(re.findall(r"^\| `(\w+)` \|", OWN_FORM, flags=re.MULTILINE))
    shown = set(re.findall(r'\bname="(\w+)"', OWN_FORM))
    assert listed == set(SignupBody.model_fields)
    assert shown == set(SignupBody.model_fields)


def test_every_script_of_a_public_page_is_named() -> None:
    public = (ROOT / "templates" / "web").glob("*.html")  # the editor's are in editor/
    scripts = {
        source
        for template in public
        for source in re.findall(r'<script src="([^"]+)"', template.read_text(encoding="utf-8"))
    }
    assert scripts, "the signup page loads its time-zone script"
    for source in scripts:
        assert f"`{source}`" in PAGE, f"docs/embedding.md does not mention {source}"
