"""The `newsletter` command as a person uses it: one-line errors, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from newsletter import __version__
from newsletter.cli.app import app
from newsletter.db import Database
from tests.briefs.test_structured import YAML_BRIEF
from tests.conftest import ROOT, SEED_BRIEF

SEED_SLUG = "ukrainian-commander-russia-losing-steam-in-bakhmut"
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.strip() == f"newsletter {__version__}"


def test_import_list_show_export_ready(db: Database, tmp_path: Path) -> None:
    code, out, err = run("briefs", "import", str(SEED_BRIEF))
    assert code == 0, err
    assert f"added {SEED_SLUG}" in out
    assert "warning: cited numbers without a source" in out

    code, out, _ = run("briefs", "list")
    assert code == 0 and "draft" in out

    code, out, _ = run("briefs", "show", SEED_SLUG)
    assert code == 0
    assert "Anti-Russia narrative" in out and "10%" in out and "Metaculus" in out

    for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
        code, out, _ = run("briefs", "export", SEED_SLUG, "--format", fmt)
        assert code == 0
        exported = tmp_path / f"again.{fmt}"
        exported.write_text(out, encoding="utf-8")
        assert load(out)["slug"] == SEED_SLUG
        code, out, err = run("briefs", "import", str(exported))
        assert code == 0, err
        assert f"updated {SEED_SLUG}" in out

    code, out, _ = run("briefs", "ready", SEED_SLUG)
    assert code == 0 and f"{SEED_SLUG}: ready" in out
    code, out, _ = run("briefs", "list", "--status", "ready")
    assert SEED_SLUG[:8] in out


def test_errors_are_one_line_each_and_exit_non_zero(db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(YAML_BRIEF.replace("2026-11-20", "2026-02-30"), encoding="utf-8")
    code, out, err = run("briefs", "import", str(bad))
    assert code == 1
    assert err.startswith(f"error: {bad}:3: updated")
    assert "Traceback" not in err + out
    code, _, err = run("briefs", "show", "nope")
    assert code == 1 and err.strip() == "error: no brief with slug 'nope'"


def test_a_fresh_database_is_migrated_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    code, out, _ = run("briefs", "list")
    assert code == 0 and "no briefs yet" in out
    code, out, _ = run("db", "upgrade")
    assert code == 0 and out.startswith("already at")


def test_installed_console_script_runs_without_traceback(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("newsletter")
    env = {"PATH": str(script.parent), "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    done = subprocess.run(
        [str(script), "briefs", "show", "missing"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "error: no brief with slug 'missing'"
    assert (ROOT / "newsletter").is_dir()


SMTP_URL = "smtp://mailer:hunter2@smtp.example.org:587"
POSTGRES_WITH_PASSWORD = "postgresql+psycopg://news:pg-pass-7f3a@db.internal:5432/newsletter"


def test_config_show_hides_every_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SMTP_URL", SMTP_URL)
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", POSTGRES_WITH_PASSWORD)
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.key-that-stays-inside")
    monkeypatch.setenv("COLUMNS", "250")  # one line per setting
    code, table, _ = run("config", "show")
    assert code == 0
    code, as_json, _ = run("config", "show", "--format", "json")
    assert code == 0 and as_json == run("config", "show", "--json")[1]
    for output in (table, as_json):
        for secret in ("hunter2", "pg-pass-7f3a", "key-that-stays-inside", "test-secret-key"):
            assert secret not in output
    values = json.loads(as_json)
    assert values["smtp_url"] == "smtp://mailer:***@smtp.example.org:587"
    assert values["database_url"] == "postgresql+psycopg://news:***@db.internal:5432/newsletter"
    assert values["secret_key"] == values["sendgrid_api_key"] == "(set)"
    assert "smtp://mailer:***@smtp.example.org:587" in table
    assert "postgresql+psycopg://news:***@db.internal:5432/newsletter" in table
