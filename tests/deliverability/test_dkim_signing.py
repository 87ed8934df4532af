"""DKIM signatures on SMTP and outbox mail, verified by dkimpy against the key a loopback DNS
server publishes (looked up through dnspython, as a receiver does)."""

from __future__ import annotations

import mailbox
import re
from pathlib import Path

import dkim
import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsletter.config import Settings
from newsletter.deliverability.dkim import (
    DkimSigner,
    dns_record,
    generate_key,
    relaxed_body,
    write_private_key,
    zone_line,
)
from newsletter.deliverability.lookup import Dns, dkim_txt_function, make_resolver
from newsletter.delivery.base import Batch
from newsletter.delivery.factory import make_provider
from newsletter.delivery.mime import MimeBuilder
from newsletter.errors import ConfigurationError, ProviderRejected
from tests.deliverability.common import DOMAIN, SELECTOR, dkim_settings
from tests.delivery import samples
from tests.fakes.dns_server import LoopbackDns
from tests.fakes.smtp_server import FakeSmtpServer


@pytest.fixture(scope="module")
def key_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dkim") / "keys" / "nl2026.pem"
    write_private_key(path, generate_key())
    return path


def published(dns_server: LoopbackDns, key_file: Path, domain: str = DOMAIN) -> None:
    """Serve the key's record at SELECTOR._domainkey.DOMAIN (as `dkim keygen` prints it)."""
    from newsletter.deliverability.dkim import load_private_key

    record = dns_record(load_private_key(key_file))
    dns_server.zone.load(zone_line(f"{SELECTOR}._domainkey.{domain}", record))


def verify(data: bytes, config: Settings) -> bool:
    """dkimpy's verify, its TXT lookup going to the loopback server through dnspython."""
    lookup = dkim_txt_function(Dns(make_resolver(config)))
    return bool(dkim.verify(data, dnsfunc=lookup))


def signature_tags(data: bytes) -> dict[str, str]:
    header = re.search(rb"^DKIM-Signature:(.*?)\n(?=\S)", data, re.S | re.M)
    assert header is not None
    value = re.sub(r"\s+", "", header.group(1).decode())
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


def test_smtp_message_is_signed_and_verifies_against_published_key(
    smtp_server: FakeSmtpServer, dns_server: LoopbackDns, key_pem: Path
) -> None:
    published(dns_server, key_pem)
    config = dkim_settings(key_pem, dns_server, provider="smtp",
                      smtp_url=f"smtp://127.0.0.1:{smtp_server.port}?starttls=never")  # fmt: skip
    provider = make_provider(config)
    try:
        results = provider.send(samples.batch(2))
    finally:
        provider.close()
    assert [r.status for r in results] == ["sent", "sent"]
    assert len(smtp_server.received) == 2
    for received in smtp_server.received:
        assert verify(received.data, config)
        tags = signature_tags(received.data)
        assert tags["d"] == DOMAIN and tags["s"] == SELECTOR
        assert tags["c"] == "relaxed/relaxed" and tags["a"] == "rsa-sha256"
        assert tags["h"].split(":") == [
            "from", "to", "subject", "date", "message-id", "mime-version", "content-type",
            "list-unsubscribe", "list-unsubscribe-post", "reply-to", "from",
        ]  # fmt: skip
    assert (f"{SELECTOR}._domainkey.{DOMAIN}", "TXT") in dns_server.zone.queries


def test_outbox_message_is_signed_and_verifies(
    tmp_path: Path, dns_server: LoopbackDns, key_pem: Path
) -> None:
    published(dns_server, key_pem)
    config = dkim_settings(key_pem, dns_server, outbox=tmp_path / "outbox")
    provider = make_provider(config)
    message = samples.message(headers={"List-Id": "<briefing.news.example.org>",
                                       "Feedback-ID": "7:12:digest:briefing"})  # fmt: skip
    results = provider.send(Batch(message, [samples.recipient(1, name="Zoë Müller")]))
    assert [r.status for r in results] == ["sent"]
    (raw,) = [m.as_bytes() for m in mailbox.Maildir(tmp_path / "outbox", factory=None)]
    assert b"\r\n" not in raw  # a Maildir file, LF line ends, signed as CRLF on the wire
    assert verify(raw, config)
    assert verify(raw.replace(b"\n", b"\r\n"), config)
    h = signature_tags(raw)["h"].split(":")
    assert {"list-id", "feedback-id", "list-unsubscribe-post"} <= set(h)


def test_a_changed_message_or_another_key_does_not_verify(
    tmp_path: Path, dns_server: LoopbackDns, key_pem: Path
) -> None:
    config = dkim_settings(key_pem, dns_server, outbox=tmp_path / "outbox")
    signer = DkimSigner.from_settings(config)
    assert signer is not None
    data = MimeBuilder(samples.message(), signer=signer).build(samples.recipient(1)).data
    published(dns_server, key_pem)
    assert verify(data, config)
    for old, new in (
        (b">Unsubscribe<", b">Unsubscribf<"),
        (b"\r\nSubject: ", b"\r\nSubject: Re: "),
    ):
        assert old in data
        assert not verify(data.replace(old, new, 1), config)
    other = tmp_path / "other.pem"
    write_private_key(other, generate_key())
    published(dns_server, other)  # the record no longer matches the signing key
    assert not verify(data, config)


def test_unaligned_dkim_domain_is_refused_before_sending(
    tmp_path: Path, dns_server: LoopbackDns, key_pem: Path
) -> None:
    config = dkim_settings(
        key_pem, dns_server, dkim_domain="other.example.net", outbox=tmp_path / "outbox"
    )
    with pytest.raises(ConfigurationError, match="does not align with the From address"):
        make_provider(config)
    # a parent of the From domain aligns (relaxed)
    parent = dkim_settings(key_pem, dns_server, dkim_domain="example.org", outbox=tmp_path / "o")
    signer = DkimSigner.from_settings(parent)
    assert signer is not None and signer.domain == "example.org"
    with pytest.raises(ProviderRejected, match="does not align with the DKIM domain"):
        make_provider(parent).send(samples.batch(1, from_email="news@elsewhere.example.com"))


def test_half_configured_dkim_and_unsafe_keys_are_refused(
    tmp_path: Path, dns_server: LoopbackDns, key_pem: Path
) -> None:
    with pytest.raises(ConfigurationError, match="NEWSLETTER_DKIM_SELECTOR unset"):
        DkimSigner.from_settings(dkim_settings(key_pem, dns_server, dkim_selector=None))
    with pytest.raises(ConfigurationError, match="dkim keygen"):
        DkimSigner.from_settings(dkim_settings(tmp_path / "none.pem", dns_server))
    loose = tmp_path / "loose.pem"
    loose.write_bytes(key_pem.read_bytes())
    loose.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600") as caught:
        DkimSigner.from_settings(dkim_settings(loose, dns_server))
    assert "PRIVATE KEY" not in str(caught.value)


def test_key_file_is_private_and_never_overwritten_without_force(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "key.pem"
    write_private_key(path, generate_key())
    assert path.stat().st_mode & 0o777 == 0o600
    first = path.read_bytes()
    with pytest.raises(ConfigurationError, match="already exists"):
        write_private_key(path, generate_key())
    assert path.read_bytes() == first
    write_private_key(path, generate_key(), force=True)
    assert path.read_bytes() != first and path.stat().st_mode & 0o777 == 0o600


@given(st.lists(st.sampled_from([b"a", b"b ", b" ", b"  ", b"\t", b"\r\n", b"=\r\n", b"\r"])))
def test_relaxed_body_is_dkimpys(pieces: list[bytes]) -> None:
    from dkim.canonicalization import CanonicalizationPolicy

    body = b"".join(pieces)
    expected = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed").canonicalize_body(body)
    assert relaxed_body(body) == expected


def test_a_campaign_does_not_start_with_unaligned_dkim(key_pem: Path) -> None:
    from campaigns.checks import StartRefused, require_startable
    from campaigns.model import Campaign

    config = Settings(from_email=f"briefing@{DOMAIN}", dkim_domain="example.net",  # type: ignore[call-arg]
                      dkim_selector=SELECTOR, dkim_key_file=key_pem)  # fmt: skip
    with pytest.raises(StartRefused, match=r"DKIM domain example\.net does not align"):
        require_startable(Campaign(id=5), [], config)
    aligned = config.model_copy(update={"dkim_domain": DOMAIN})
    require_startable(Campaign(id=5), [], aligned)
