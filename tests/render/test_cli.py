"""`newsletter render` against a real database: files written, subject, size and warnings shown."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from newsletter.briefs.store import save_brief
from newsletter.cli.app import app
from newsletter.db import Database
from newsletter.placeholders import remaining_placeholders
from tests.render.fixtures import DIGEST, seed_brief

runner = CliRunner()


def store(db: Database) -> None:
    with db.transaction() as session:
        for brief in (*DIGEST, seed_brief()):
            save_brief(session, brief)


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_render_writes_the_variant_files(db: Database, tmp_path: Path) -> None:
    store(db)
    out = tmp_path / "out"
    first, second, third = (b.slug for b in DIGEST[:3])
    code, stdout, stderr = run(
        "render", "--briefs", f"{first},{second}", third, "--out", str(out), "--date", "2026-11-20"
    )
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == ["default.html", "default.mjml", "default.txt"]
    html = (out / "default.html").read_text(encoding="utf-8")
    assert html.lower().startswith("<!doctype html>") and "20 November 2026" in html
    assert [m for m in re.findall(r'id="brief-([a-z0-9-]+)"', html)] == [first, second, third]
    assert (out / "default.mjml").read_text(encoding="utf-8").startswith("<mjml")
    text = (out / "default.txt").read_text(encoding="utf-8")
    assert DIGEST[2].facts[0].text[:40] in " ".join(text.split())
    assert f"default: {DIGEST[0].title} · The Briefing" in " ".join(stdout.split())
    assert re.search(r"\d+\.\d KB HTML once filled \(budget 100 KB\), 3 brief\(s\)", stdout)
    assert "warning: brazil-central-bank-holds-selic: citations without a source URL" in stdout


def test_render_options_file_narratives_topics_and_preview(db: Database, tmp_path: Path) -> None:
    store(db)
    options = tmp_path / "climate.yaml"
    options.write_text("topics: [climate]\nintro: Hot off the press.\nnarratives: all\n")
    slugs = [b.slug for b in DIGEST]
    args = ["render", "--out", str(tmp_path), "--options", str(options), "--preview"]
    code, stdout, stderr = run(*args, "--narratives", "facts-only", "--briefs", *slugs)
    assert code == 0, stderr
    html = (tmp_path / "climate.html").read_text(encoding="utf-8")
    assert "Hot off the press." in html
    climate = [b for b in DIGEST if "climate" in b.topics]
    assert re.findall(r'id="brief-([a-z0-9-]+)"', html) == [b.slug for b in climate]
    assert climate[0].narratives[0].label not in html  # facts-only from the command line
    assert f"{len(climate)} brief(s)" in stdout
    preview = (tmp_path / "climate.preview.html").read_text(encoding="utf-8")
    assert remaining_placeholders(preview) == [] and remaining_placeholders(html) != []
    assert (tmp_path / "climate.preview.txt").is_file()
    code, _, _ = run("render", "--out", str(tmp_path), "--topics", "nothing", slugs[0])
    assert code == 1


def test_render_errors_are_one_line(db: Database, tmp_path: Path) -> None:
    store(db)
    code, _, stderr = run("render", "--briefs", "no-such-brief", "--out", str(tmp_path))
    assert (code, stderr.strip()) == (1, "error: no brief with slug 'no-such-brief'")
    bad = tmp_path / "bad.json"
    bad.write_text('{"narratives": "some"}')
    code, _, stderr = run("render", "--options", str(bad), "--out", str(tmp_path), DIGEST[0].slug)
    assert code == 1 and stderr.startswith(f"error: {bad}: narratives: Input should be")
    code, _, stderr = run("render", "--segment", "climate", "--out", str(tmp_path), "x")
    assert code == 1 and stderr.startswith("error: no segment named 'climate'")
    code, _, stderr = run("render", "--out", str(tmp_path))
    assert code == 2 and "name at least one brief" in stderr
