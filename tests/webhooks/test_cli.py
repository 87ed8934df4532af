"""`newsletter webhooks add|list|log|send-due|retry|disable|enable|remove` end to end."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, update
from standardwebhooks import Webhook
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.webhooks.model import EventType, WebhookMessage
from newsletter.webhooks.queue import queue_event
from tests.webhooks.receiver import Receiver

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_round_trip(db: Database, settings: Settings, receiver: Receiver) -> None:
    code, out, err = run("webhooks", "add", receiver.url, "--event", "campaign.sent")
    assert code == 0, err
    secret = out.strip()
    assert secret.startswith("whsec_") and "shown once" in err
    code, out, _ = run("webhooks", "list", "--format", "json")
    (listed,) = json.loads(out)
    assert listed["url"] == receiver.url and listed["events"] == ["campaign.sent"]
    assert secret not in out

    with db.transaction() as session:
        queue_event(session, EventType.CAMPAIGN_SENT, {"campaign_id": 7, "name": "Week 1"})
    receiver.script = [500]
    code, out, err = run("webhooks", "send-due")
    assert code == 0, err
    assert "0 delivered, 1 to retry" in out
    code, out, _ = run("webhooks", "log", "--format", "json")
    (logged,) = json.loads(out)
    assert (logged["status"], logged["last_status_code"], logged["attempts"]) == ("pending", 500, 1)

    assert run("webhooks", "retry", str(logged["id"]))[0] == 0
    code, out, _ = run("webhooks", "send-due")
    assert "1 delivered" in out
    body = Webhook(secret).verify(receiver.received[-1].body, receiver.received[-1].headers)
    assert body["data"] == {"campaign_id": 7, "name": "Week 1"}

    code, out, _ = run("webhooks", "prune", "--days", "1")
    assert "deleted 0 webhook message(s)" in out  # delivered, but only just
    with db.transaction() as session:
        session.execute(update(WebhookMessage).values(created_at=utcnow() - timedelta(days=2)))
        queue_event(session, EventType.CAMPAIGN_SENT, {"campaign_id": 8})  # pending: kept
    code, out, _ = run("webhooks", "prune", "--days", "1")
    assert "deleted 1 webhook message(s)" in out
    with db.transaction() as session:
        assert session.scalars(select(WebhookMessage.status)).all() == ["pending"]

    assert run("webhooks", "disable", str(listed["id"]))[0] == 0
    code, out, _ = run("webhooks", "list", "--format", "json")
    assert json.loads(out)[0]["enabled"] is False
    assert run("webhooks", "enable", str(listed["id"]))[0] == 0
    code, out, _ = run("webhooks", "remove", str(listed["id"]))
    assert code == 0 and receiver.url in out
    code, out, _ = run("webhooks", "log")
    assert "no webhook messages yet" in out


def test_cli_errors_are_one_line(db: Database) -> None:
    code, _, err = run("webhooks", "add", "https://127.0.0.1/x", "--event", "campaign.sent")
    assert code == 1 and err.strip().startswith("error: url:") and "loopback" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run("webhooks", "add", "https://93.184.215.14/x", "--event", "campaign.snet")
    assert code == 1 and "did you mean 'campaign.sent'" in err
    code, _, err = run("webhooks", "remove", "99")
    assert code == 1 and "no webhook endpoint 99" in err
