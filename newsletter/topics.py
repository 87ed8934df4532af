"""How a topic (stored as a lower-case slug: ``ai``, ``middle-east``) is written for readers.

The newsroom's own labels come first (``NEWSLETTER_TOPIC_LABELS``,
``ai=AI,middle-east=Middle East``); any other topic is title-cased word by word, keeping the
acronyms a newsroom writes in capitals (``us`` → "US", not "Us").
"""

from __future__ import annotations

import re
from collections.abc import Mapping

ACRONYMS = frozenset(
    {
        "ai", "eu", "uk", "us", "usa", "un", "uae", "nato", "gdp", "imf", "ecb", "who", "opec",
        "g7", "g20", "lgbtq", "nhs", "fbi", "cia", "covid", "asean", "brics", "cop", "ipcc",
    }
)  # fmt: skip
_SEPARATORS = re.compile(r"[-_\s]+")


def topic_label(topic: str, labels: Mapping[str, str] | None = None) -> str:
    """``topic`` as readers see it: the configured label, else title case with acronyms."""
    if labels and topic in labels:
        return labels[topic]
    words = [w for w in _SEPARATORS.split(topic) if w]
    return " ".join(w.upper() if w.lower() in ACRONYMS else w.capitalize() for w in words)


def parse_topic_labels(value: str) -> dict[str, str]:
    """``"ai=AI, middle-east=Middle East"`` → ``{"ai": "AI", "middle-east": "Middle East"}``;
    raises ``ValueError`` naming an entry that is not ``topic=Label``."""
    labels: dict[str, str] = {}
    for entry in value.split(","):
        if not entry.strip():
            continue
        topic, equals, label = entry.partition("=")
        if not equals or not topic.strip() or not label.strip():
            raise ValueError(f"{entry.strip()!r} is not topic=Label (e.g. 'ai=AI')")
        labels[topic.strip().lower()] = label.strip()
    return labels
