"""What the deliverability tests share: the sender, the DKIM selector, their settings."""

from __future__ import annotations

from pathlib import Path

from newsletter.config import Settings
from tests.fakes.dns_server import LoopbackDns

DOMAIN = "news.example.org"  # samples.message() is from briefing@news.example.org
SELECTOR = "nl2026"


def dkim_settings(key_file: Path, dns_server: LoopbackDns, **more: object) -> Settings:
    """Signing with ``key_file`` as SELECTOR at DOMAIN, DNS asked at the loopback server."""
    values: dict[str, object] = {
        "from_email": f"briefing@{DOMAIN}",
        "dkim_domain": DOMAIN,
        "dkim_selector": SELECTOR,
        "dkim_key_file": key_file,
        "dns_resolver": dns_server.address,
        "dns_timeout": 2.0,
    }
    values.update(more)
    return Settings(**values)  # type: ignore[arg-type]
