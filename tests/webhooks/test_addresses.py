"""The SSRF guard: only http(s), https unless private addresses are allowed, and no host
that resolves to loopback, private or link-local addresses, at registration and at send."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from newsletter.config import Settings
from newsletter.db import Database
from newsletter.errors import InvalidInput
from newsletter.webhooks.addresses import (
    AddressRefused,
    check_endpoint_url,
    refused_address,
    resolve_target,
)
from newsletter.webhooks.endpoints import add_endpoint, parse_events
from newsletter.webhooks.model import EventType, MessageStatus, WebhookMessage
from newsletter.webhooks.queue import queue_event
from newsletter.webhooks.sender import WebhookSender
from tests.webhooks.conftest import register
from tests.webhooks.receiver import Receiver


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("10.1.2.3", True),
        ("192.168.0.9", True),
        ("172.16.0.1", True),
        ("169.254.169.254", True),  # cloud metadata
        ("fe80::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", True),
        ("100.64.0.1", True),  # carrier-grade NAT
        ("224.0.0.1", True),
        ("93.184.215.14", False),
        ("2606:4700::1111", False),
        # IPv6 forms that carry an IPv4 address a gateway or tunnel delivers to
        ("64:ff9b::a00:1", True),  # NAT64 (DNS64 networks) to 10.0.0.1
        ("64:ff9b::a9fe:a9fe", True),  # NAT64 to the metadata address
        ("64:ff9b:1::a00:1", True),  # local-use NAT64 prefix
        ("2002:a00:1::1", True),  # 6to4 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", True),  # Teredo to 10.0.0.1
        ("::a00:1", True),  # IPv4-compatible (deprecated) 10.0.0.1
        ("64:ff9b::5db8:d70e", False),  # NAT64 of a public address stays allowed
    ],
)
def test_addresses(address: str, refused: bool) -> None:
    assert (refused_address(address) is not None) is refused


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://localhost:8443/hook", "loopback"),
        ("https://10.0.0.7/hook", "private"),
        ("https://[::1]/hook", "loopback"),
        ("http://93.184.215.14/hook", "use https"),
        ("ftp://example.org/hook", "only http"),
        ("https:///hook", "no host"),
        ("https://user:pw@93.184.215.14/hook", "credentials"),
        ("https://93.184.215.14:99999/", "not a URL"),
        ("https://2130706433/hook", "loopback"),  # decimal 127.0.0.1
        ("https://0x7f.1/hook", "loopback"),
        ("https://0177.0.0.1/hook", "loopback"),
        ("https://localhost./hook", "loopback|cannot resolve"),  # no DNS here
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://[::ffff:7f00:1]/hook", "loopback"),
    ],
)
def test_refused_urls(url: str, why: str) -> None:
    with pytest.raises(AddressRefused, match=why):
        check_endpoint_url(url, allow_private=False)


def test_a_public_address_is_accepted() -> None:
    # an IP literal: getaddrinfo answers without asking DNS (tests stay on loopback)
    assert check_endpoint_url("https://93.184.215.14/h", allow_private=False) == (
        "https://93.184.215.14/h"
    )


def test_private_allowed_when_configured_and_pinned_to_the_checked_address() -> None:
    assert check_endpoint_url("http://localhost:8080/h?x=1", allow_private=True)
    target = resolve_target("http://localhost:8080/h?x=1", allow_private=True)
    assert target.url.split("/")[2] in ("127.0.0.1:8080", "[::1]:8080")
    assert target.url.endswith("/h?x=1")
    assert (target.host_header, target.server_name) == ("localhost:8080", "localhost")


def test_registration_refuses_with_the_field_named(db: Database) -> None:
    with db.transaction() as session, pytest.raises(InvalidInput, match=r"url: .*loopback"):
        add_endpoint(
            session,
            "https://127.0.0.1/x",
            ["campaign.sent"],
            created_by="t",
            allow_private=False,
        )
    with pytest.raises(InvalidInput, match=r"did you mean .campaign\.sent."):
        parse_events(["campaign.snet"])
    with pytest.raises(InvalidInput, match="at least one"):
        parse_events([" , "])
    assert parse_events(["campaign.sent,subscriber.bounced", "campaign.sent"]) == [
        "campaign.sent",
        "subscriber.bounced",
    ]


def test_send_time_check_refuses_what_registration_allowed(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    register(db, receiver.url.replace("http:", "https:"))  # allowed then (private on) ...
    with db.transaction() as session:
        queue_event(session, EventType.CAMPAIGN_SENT, {"campaign_id": 1})
    strict = settings.model_copy(update={"webhooks_allow_private_addresses": False})
    sender = WebhookSender(db, strict)  # ... refused now: nothing reaches the receiver
    try:
        report = sender.send_due()
    finally:
        sender.close()
    assert report.retrying == 1 and receiver.received == []
    with db.transaction() as session:
        message = session.scalars(select(WebhookMessage)).one()
    assert message.status == MessageStatus.PENDING
    assert "refused" in (message.last_error or "") and "loopback" in (message.last_error or "")
