"""VERP return paths: short, lower-case, signed; SMTP sends from them, the outbox writes them as
Return-Path, and DKIM signatures still verify (Return-Path is not a signed header)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import mailbox
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.config import Settings
from newsletter.deliverability.verp import ReturnPaths, base32_80, is_return_path
from newsletter.delivery.base import Batch
from newsletter.delivery.factory import make_provider
from newsletter.errors import ConfigurationError, InvalidToken
from tests.deliverability.common import dkim_settings
from tests.deliverability.test_dkim_signing import key_pem, published, verify  # noqa: F401
from tests.delivery import samples
from tests.fakes.dns_server import LoopbackDns
from tests.fakes.smtp_server import FakeSmtpServer

SECRET = "test-secret-key-0123456789abcdef"
PATHS = ReturnPaths(SECRET, "Bounces.Example.ORG")


@settings(deadline=None)  # microseconds each, but a loaded machine stalls any of them
@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_a_return_path_names_its_delivery_whatever_the_case(delivery_id: int) -> None:
    address = PATHS.address(delivery_id, "briefing@example.org")
    local, _, domain = address.partition("@")
    assert domain == "bounces.example.org"
    assert len(local) <= 64 and local == local.lower() and local.startswith("bounces+")
    assert PATHS.delivery_id(address) == delivery_id
    assert PATHS.delivery_id(address.upper()) == delivery_id  # an MTA that shouts
    assert PATHS.delivery_id(f"<{address}>") == delivery_id


def test_a_forged_or_altered_ref_is_refused() -> None:
    address = PATHS.address(42, "briefing@example.org")
    number, mac = address.partition("+")[2].partition("@")[0].split("-")
    altered_id = address.replace(f"+{number}-", f"+{int(number, 16) + 1:x}-")
    altered_mac = address.replace(mac, ("b" if mac[0] == "a" else "a") + mac[1:])
    other_key = ReturnPaths("another-secret-key-0123456789abcdef", "bounces.example.org")
    for forged in (altered_id, altered_mac, other_key.address(42, "x@example.org"),
                   "bounces+2a-zzzz@bounces.example.org", "bounces+0-aaaaaaaaaaaaaaaa@x.org"):  # fmt: skip
        assert is_return_path(forged)
        with pytest.raises(InvalidToken):
            PATHS.delivery_id(forged)
    for other in ("briefing@example.org", "fbl@example.org", "bounces@example.org", ""):
        assert PATHS.delivery_id(other) is None and not is_return_path(other)


def test_the_domain_defaults_to_the_from_domain_and_must_be_a_name() -> None:
    plain = ReturnPaths(SECRET)
    assert plain.address(7, "briefing@News.Example.org").endswith("@news.example.org")
    with pytest.raises(ConfigurationError, match="BOUNCE_DOMAIN"):
        ReturnPaths(SECRET, "not a domain")
    with pytest.raises(ValueError, match="positive"):
        PATHS.address(0, "briefing@example.org")


def test_smtp_sends_from_the_return_path(smtp_server: FakeSmtpServer) -> None:
    recipient = samples.recipient(1)._replace(return_path=PATHS.address(1001, "b@example.org"))
    url = f"smtp://127.0.0.1:{smtp_server.port}?starttls=never"
    provider = make_provider(Settings(provider="smtp", smtp_url=url))
    try:
        provider.send(Batch(samples.message(), [recipient, samples.recipient(2)]))
    finally:
        provider.close()
    first, second = smtp_server.received
    assert first.mail_from == recipient.return_path
    assert second.mail_from == "briefing@news.example.org"  # none given: the From address
    assert b"Return-Path" not in first.data  # the receiving server adds it, not the sender


def test_outbox_writes_return_path_and_dkim_still_verifies(
    tmp_path: Path,
    dns_server: LoopbackDns,
    key_pem: Path,  # noqa: F811
) -> None:
    published(dns_server, key_pem)
    config = dkim_settings(key_pem, dns_server, outbox=tmp_path / "outbox")
    verp = PATHS.address(1001, "briefing@news.example.org")
    provider = make_provider(config)
    provider.send(Batch(samples.message(), [samples.recipient(1)._replace(return_path=verp)]))
    (raw,) = [m.as_bytes() for m in mailbox.Maildir(tmp_path / "outbox", factory=None)]
    assert raw.startswith(f"Return-Path: <{verp}>\n".encode())
    assert verify(raw, config)
    assert b"return-path" not in raw.split(b"DKIM-Signature:")[1].split(b"\n\n")[0].lower()


@settings(deadline=None)
@given(st.binary(min_size=10, max_size=10))
def test_the_fast_base32_is_the_stdlibs(data: bytes) -> None:
    assert base32_80(data) == base64.b32encode(data).decode("ascii").lower()


def test_a_ref_is_the_documented_hmac_of_the_hex_id() -> None:
    key = hmac.new(b"k" * 32, b"newsletter.bounce-return-path", hashlib.sha256).digest()
    digest = hmac.new(key, b"2a", hashlib.sha256).digest()[:10]
    expected = "2a-" + base64.b32encode(digest).decode("ascii").lower()
    assert ReturnPaths("k" * 32).ref(42) == expected
