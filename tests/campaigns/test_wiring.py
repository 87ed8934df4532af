"""The campaigns package's segment rules and personal data are registered by the function
the app and the CLI call, never by importing a module: checked in fresh interpreters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

REPORT = (
    "import json\n"
    "from subscribers.gdpr import _SECTIONS\n"
    "from subscribers.segments import rule_types\n"
    "print(json.dumps({'rules': rule_types(), 'sections': sorted(_SECTIONS)}))\n"
)


def registered(code: str, tmp_path: Path) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", code + REPORT],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
        env={
            "PYTHONPATH": str(ROOT),
            "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}",
            "NEWSLETTER_SECRET_KEY": "k" * 40,
        },
    )
    found: dict[str, list[str]] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_importing_campaigns_registers_nothing(tmp_path: Path) -> None:
    found = registered("import campaigns.freeze, campaigns.sending, campaigns.service\n", tmp_path)
    assert "opened" not in found["rules"] and "clicked" not in found["rules"]
    assert "tracking_events" not in found["sections"]
    assert "topics" in found["rules"] and "consent_records" in found["sections"]
    assert "welcome_receipts" not in found["sections"]
    assert "webhook_messages" in found["sections"]  # the subscribers package's own


def test_the_wiring_function_registers_them(tmp_path: Path) -> None:
    found = registered(
        "from campaigns.wiring import wire_extensions\nwire_extensions()\nwire_extensions()\n",
        tmp_path,
    )
    assert {"opened", "clicked"} <= set(found["rules"])
    assert {"tracking_events", "welcome_receipts"} <= set(found["sections"])


def test_the_web_app_factory_wires_them(tmp_path: Path) -> None:
    found = registered("from newsletter.web.app import create_app\ncreate_app()\n", tmp_path)
    assert {"opened", "clicked"} <= set(found["rules"])
    assert "tracking_events" in found["sections"]


def test_a_cli_database_command_wires_them(tmp_path: Path) -> None:
    found = registered("from newsletter.cli.common import open_db\nopen_db().dispose()\n", tmp_path)
    assert {"opened", "clicked"} <= set(found["rules"])
    assert "tracking_events" in found["sections"]


RULE = '{"type": "opened", "within_days": 30}'


def test_a_cli_command_in_a_fresh_process_accepts_an_engagement_rule(tmp_path: Path) -> None:
    done = subprocess.run(
        [*(sys.executable, "-m", "newsletter", "segments", "add", "engaged"), "--rule", RULE],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            "PYTHONPATH": str(ROOT),
            "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}",
            "NEWSLETTER_SECRET_KEY": "k" * 40,
            "COLUMNS": "200",
        },
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "unknown rule type" not in done.stderr + done.stdout
