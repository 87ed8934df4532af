"""docs/configuration.md lists every setting exactly as `Settings` defines it."""

from __future__ import annotations

from newsletter.cli.config import reference_markdown
from newsletter.config import Settings
from tests.conftest import ROOT


def test_every_setting_explains_itself() -> None:
    assert [name for name, f in Settings.model_fields.items() if not f.description] == []


def test_the_reference_page_is_generated_from_settings() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page.endswith(reference_markdown()), "run: newsletter config docs (and paste it)"
