"""Test helpers for campaigns: sample briefs in the database, many subscribers fast."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy import insert

from newsletter.briefs.importer import import_briefs
from newsletter.db import Database, utcnow
from subscribers.addresses import email_digest
from subscribers.model import Segment, Subscriber
from tests.conftest import ROOT

EXAMPLES = ROOT / "examples" / "briefs"
SLUGS = (
    "eu-gas-prices-climb-as-early-cold-snap-drains-storage",
    "bank-of-england-cuts-rates-split-vote",
    "judge-orders-google-to-sell-its-ad-exchange",
)


def import_examples(db: Database, *, ready: bool = True) -> list[str]:
    return [r.brief.slug for r in import_briefs(db, [EXAMPLES], mark_ready=ready)]


def add_subscribers(
    db: Database,
    count: int,
    *,
    start: int = 0,
    status: str = "active",
    topics: Sequence[str] = (),
    domain: str = "example.org",
    named: bool = True,
) -> list[str]:
    """``count`` subscribers inserted in bulk; returns their addresses."""
    now = utcnow()
    rows = []
    for n in range(start, start + count):
        email = f"reader{n}@{domain}"
        rows.append(
            {
                "uid": secrets.token_urlsafe(16),
                "email": email,
                "email_key": email,
                "email_hash": email_digest(email),
                "name": f"Reader {n}" if named else None,
                "status": status,
                "topics": list(topics),
                "narratives": "all",
                "attributes": {},
                "source": "test",
                "created_at": now,
                "confirmed_at": now if status == "active" else None,
            }
        )
    with db.transaction() as session:
        for chunk in range(0, len(rows), 5000):
            session.execute(insert(Subscriber), rows[chunk : chunk + 5000])
    return [r["email"] for r in rows]


def add_segment(
    db: Database, name: str, rule: dict[str, object], options: dict[str, object]
) -> None:
    with db.transaction() as session:
        session.add(Segment(name=name, rule=rule, options=options))
