"""Tell machine traffic from readers: prefetching proxies, link scanners, HEAD requests.

An open or click a person did not cause is still recorded, with the reason it is thought
to be a machine's, and reports count it apart from human ones. The rules are deliberately
few and conservative: a reader wrongly flagged disappears from the figures, so a rule
goes in only when the traffic it matches is almost never a person.

- ``head``: a ``HEAD`` request (browsers fetch with ``GET``; scanners probe with ``HEAD``);
- ``machine-open``: the provider says so (SendGrid's ``sg_machine_open``: Apple Mail
  Privacy Protection fetched the images when the mail arrived), or our pixel was fetched
  with the bare user agent ``Mozilla/5.0`` that Apple's prefetching proxy sends (no
  browser or mail client sends it without details);
- ``too-fast``: a click within the scanner window after the message was sent (security
  gateways follow every link of a message the moment it arrives);
- ``user-agent``: an empty user agent, or one naming a bot, crawler, HTTP library or a
  mail-security scanner. Image proxies that fetch on a reader's behalf (Gmail's
  ``GoogleImageProxy``, Yahoo's) are readers and are not matched.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

HEAD = "head"
MACHINE_OPEN = "machine-open"
TOO_FAST = "too-fast"
USER_AGENT = "user-agent"
# Each reason in a few words, for reports.
REASON_TEXT = {
    HEAD: "a HEAD request (a link scanner's probe)",
    MACHINE_OPEN: "fetched on arrival (Apple Mail Privacy Protection or the provider's flag)",
    TOO_FAST: "clicked within seconds of sending (a security gateway)",
    USER_AGENT: "a bot's, scanner's or HTTP library's user agent",
}

# Lower-case fragments of machines' user agents (plain substring tests: much faster than one
# case-insensitive regular expression, and a batch has many agents).
_MACHINE_FRAGMENTS = (
    "crawler", "spider", "scanner", "preview", "headless", "phantomjs",
    "python-", "python/", "aiohttp", "httpx", "curl/", "wget/", "go-http-client", "java/",
    "okhttp", "libwww", "barracuda", "mimecast", "proofpoint", "messagelabs", "symantec",
    "forcepoint", "trendmicro", "safelinks", "safe links", "zscaler", "fireeye", "sophos",
    "ironport", "cisco", "checkpoint", "appengine-google", "facebookexternalhit", "whatsapp",
    "skypeuripreview", "microsoft office protocol discovery",
)  # fmt: skip
_PREFETCH_AGENT = "Mozilla/5.0"
_BOT = re.compile(r"bot\b")  # "Googlebot/2.1", "Slackbot 1.0", not "Abbott"


def machine_agent(user_agent: str | None) -> bool:
    """Whether a user agent is a machine's (missing counts as a machine)."""
    if user_agent is None or not user_agent.strip():
        return True
    return _machine(user_agent)


@lru_cache(maxsize=2048)
def _machine(user_agent: str) -> bool:
    """Cached: a batch of events holds a few hundred distinct user agents at most."""
    agent = user_agent.lower()
    return _BOT.search(agent) is not None or any(part in agent for part in _MACHINE_FRAGMENTS)


def open_flag(
    *, user_agent: str | None, head: bool = False, provider_machine: bool = False
) -> str | None:
    """Why an open is thought to be a machine's, or ``None`` for a reader's."""
    if head:
        return HEAD
    if provider_machine or (user_agent or "").strip() == _PREFETCH_AGENT:
        return MACHINE_OPEN
    if machine_agent(user_agent):
        return USER_AGENT
    return None


def click_flag(
    *,
    user_agent: str | None,
    at: datetime,
    sent_at: datetime | None,
    window_seconds: float,
    head: bool = False,
) -> str | None:
    """Why a click is thought to be a machine's, or ``None`` for a reader's."""
    if head:
        return HEAD
    if sent_at is not None and (at - sent_at).total_seconds() < window_seconds:
        return TOO_FAST
    if machine_agent(user_agent):
        return USER_AGENT
    return None
