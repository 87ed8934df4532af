"""`newsletter render --segment NAME`: the segment's variant, as the editor's preview has it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from campaigns.preview import preview_variant
from campaigns.service import get_campaign
from newsletter.briefs.store import save_brief
from newsletter.cli.app import app
from newsletter.config import get_settings
from newsletter.db import Database
from tests.render.fixtures import DIGEST

runner = CliRunner()
OPTIONS = {
    "topics": ["climate"],
    "narratives": "facts-only",
    "intro": "The warming week, facts first.",
    "greeting": "Hi {name},",
}


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def brief_ids(html: str) -> list[str]:
    return re.findall(r'id="brief-([a-z0-9-]+)"', html)


def setup(db: Database, segment: str = "climate-readers") -> list[str]:
    with db.transaction() as session:
        for brief in DIGEST:
            save_brief(session, brief)
    options = json.dumps(OPTIONS)
    code, _, err = run("segments", "add", segment, "--topic", "climate", "--options", options)
    assert code == 0, err
    return [b.slug for b in DIGEST]


def test_render_segment_gives_the_campaign_previews_variant(db: Database, tmp_path: Path) -> None:
    slugs = setup(db)
    code, out, err = run(
        "campaigns", "create", "--name", "Week", "--segment", "climate-readers", *slugs
    )
    assert code == 0, err
    campaign_id = int(out)
    with db.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        issue_date = campaign.issue_date.isoformat()
        preview = preview_variant(session, campaign, get_settings(), 0, test_send=True)
    args = ["render", "--segment", "climate-readers", "--test-send", "--date", issue_date]
    code, out, err = run(*args, "--out", str(tmp_path), *slugs)
    assert code == 0, err
    html = (tmp_path / "climate-readers.html").read_text(encoding="utf-8")
    text = (tmp_path / "climate-readers.txt").read_text(encoding="utf-8")
    assert (html, text) == (preview.html, preview.text)
    climate = [b for b in DIGEST if "climate" in b.topics]
    assert brief_ids(html) == [b.slug for b in climate] != slugs
    assert "The warming week, facts first." in html
    assert climate[0].narratives[0].label not in html  # facts-only
    assert f"climate-readers: {preview.subject}" in " ".join(out.split())


def test_command_line_options_override_the_segments(db: Database, tmp_path: Path) -> None:
    slugs = setup(db, segment="climate & energy")
    args = ["render", "--segment", "climate & energy", "--out", str(tmp_path)]
    code, _, err = run(*args, "--narratives", "all", "--topics", "energy", *slugs)
    assert code == 0, err
    html = (tmp_path / "climate-energy.html").read_text(encoding="utf-8")  # a file name
    energy = [b for b in DIGEST if "energy" in b.topics]
    assert brief_ids(html) == [b.slug for b in energy]
    assert energy[0].narratives[0].label in html  # --narratives all wins
    assert "The warming week, facts first." in html  # the rest is the segment's
    code, _, err = run(*args, "--name", "mine", slugs[0], "--topics", "climate")
    assert code == 0, err
    assert (tmp_path / "mine.html").is_file()


def test_render_segment_errors(db: Database, tmp_path: Path) -> None:
    slugs = setup(db)
    code, _, err = run("render", "--segment", "nobody", "--out", str(tmp_path), slugs[0])
    assert code == 1
    assert err.strip() == "error: no segment named 'nobody' (see `newsletter segments list`)"
    options = tmp_path / "o.yaml"
    options.write_text("narratives: all\n")
    code, _, err = run(
        "render", "--segment", "climate-readers", "--options", str(options), "--out", ".", "x"
    )
    assert code == 2 and "give --segment or --options, not both" in err
    assert list(tmp_path.glob("*.html")) == []
