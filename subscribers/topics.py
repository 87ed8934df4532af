"""The topics a reader may choose: the configured list plus every topic of a stored brief.

``NEWSLETTER_TOPICS`` names the topics a newsroom promises (offered even before a brief has
them); briefs add theirs as they arrive, so a new beat needs no configuration change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.briefs.model import BriefRow
from newsletter.db import Database


def known_topics(session: Session, configured: Iterable[str]) -> frozenset[str]:
    """Configured topics and those of every stored brief, lower-case."""
    topics = {topic.strip().lower() for topic in configured}
    for brief_topics in session.scalars(select(BriefRow.topics)):
        topics.update(str(topic).strip().lower() for topic in brief_topics or ())
    topics.discard("")
    return frozenset(topics)


class TopicCatalog:
    """:func:`known_topics`, re-read at most every ``ttl`` seconds (the signup hot path)."""

    def __init__(self, configured: Iterable[str], *, ttl: float = 60.0) -> None:
        self._configured = tuple(configured)
        self._ttl = ttl
        self._lock = threading.Lock()
        self._topics: frozenset[str] | None = None
        self._read_at = 0.0

    def cached(self) -> frozenset[str] | None:
        """The topics if read recently enough, else ``None`` (then call :meth:`load`)."""
        with self._lock:
            if self._topics is not None and time.monotonic() - self._read_at < self._ttl:
                return self._topics
        return None

    def load(self, database: Database) -> frozenset[str]:
        with database.transaction() as session:
            topics = known_topics(session, self._configured)
        with self._lock:
            self._topics, self._read_at = topics, time.monotonic()
        return topics
