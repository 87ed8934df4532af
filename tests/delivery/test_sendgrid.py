"""The SendGrid provider against the fake SendGrid server (and a TLS server it must not trust)."""

from __future__ import annotations

import contextlib
import gc
import re
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from newsletter.delivery.base import Batch, Recipient
from newsletter.delivery.sendgrid import SendGridProvider
from newsletter.errors import (
    ProviderAmbiguous,
    ProviderAuthError,
    ProviderRejected,
    ProviderRetryable,
)
from tests.delivery import samples
from tests.fakes.sendgrid_server import DEFAULT_KEY, FORBIDDEN_KEY, FakeSendGrid
from tests.fakes.smtp_server import make_certificate


def provider_for(fake: FakeSendGrid, key: str = DEFAULT_KEY, **options: object) -> SendGridProvider:
    return SendGridProvider(key, host=fake.url, **options)  # type: ignore[arg-type]


def test_one_request_per_batch_with_one_personalization_per_recipient(
    sendgrid_server: FakeSendGrid,
) -> None:
    batch = samples.batch(3)
    results = provider_for(sendgrid_server).send(batch)

    assert len(sendgrid_server.accepted) == 1
    accepted = sendgrid_server.accepted[0]
    assert [(r.key, r.status, r.message_id) for r in results] == [
        (rcpt.key, "sent", accepted.message_id) for rcpt in batch.recipients
    ]
    body = accepted.body
    assert body["from"] == {"email": "briefing@news.example.org", "name": "The Briefing"}
    assert body["reply_to"] == {"email": "editors@news.example.org"}
    assert body["subject"] == "The Briefing for %%nl_first_name%% · week 48"
    assert body["content"] == [
        {"type": "text/plain", "value": samples.TEXT},
        {"type": "text/html", "value": samples.HTML},
    ]
    assert body["categories"] == ["digest", "2026-W48"]
    assert body["custom_args"] == {"campaign_id": "7", "variant_id": "12"}
    assert body["tracking_settings"] == {
        "click_tracking": {"enable": True, "enable_text": False},
        "open_tracking": {"enable": True},
    }
    assert "mail_settings" not in body
    by_address = {p["to"][0]["email"]: p for p in accepted.personalizations}
    assert set(by_address) == {r.email for r in batch.recipients}
    for rcpt in batch.recipients:
        item = by_address[rcpt.email]
        assert item == {
            "to": [{"email": rcpt.email, "name": rcpt.name}],
            "substitutions": dict(rcpt.substitutions),
            "custom_args": dict(rcpt.custom_args),
            "headers": {
                "List-Unsubscribe": (
                    f"<mailto:unsubscribe+{int(rcpt.key) - 1000}@news.example.org>, "
                    f"<https://news.example.org/u/{int(rcpt.key) - 1000}-sig>"
                ),
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        }


def test_a_full_batch_passes_the_official_schema(sendgrid_server: FakeSendGrid) -> None:
    batch = Batch(samples.message(), [samples.recipient(i) for i in range(1000)])
    results = provider_for(sendgrid_server).send(batch)
    assert {r.status for r in results} == {"sent"}
    counts = sendgrid_server.recipient_counts()
    assert len(counts) == 1000 and set(counts.values()) == {1}


def test_display_names_with_separators_are_quoted(sendgrid_server: FakeSendGrid) -> None:
    rcpt = samples.recipient(1, name='Doe, Jane "JD"')
    provider_for(sendgrid_server).send(Batch(samples.message(), [rcpt]))
    to = sendgrid_server.accepted[0].personalizations[0]["to"][0]
    assert to["name"] == '"Doe, Jane \\"JD\\""'


def test_sandbox_mode(sendgrid_server: FakeSendGrid) -> None:
    results = provider_for(sendgrid_server, sandbox=True).send(samples.batch(2))
    assert [(r.status, r.message_id) for r in results] == [("sent", None), ("sent", None)]
    assert sendgrid_server.accepted == []
    assert sendgrid_server.stats()["sandbox"] == 1


def test_recipients_sendgrid_would_refuse_fail_alone(sendgrid_server: FakeSendGrid) -> None:
    good = samples.recipient(0)
    big = samples.recipient(1)
    recipients = [
        good,
        Recipient("no-values", "a@example.com"),
        Recipient(
            "too-big",
            "b@example.com",
            substitutions={**big.substitutions, "%%nl_x%%": "x" * 10_000},
        ),
        Recipient(
            "reserved", "c@example.com", substitutions=good.substitutions, headers={"CC": "x@y.z"}
        ),
        Recipient("bad-address", "not an address", substitutions=good.substitutions),
    ]
    results = provider_for(sendgrid_server).send(Batch(samples.message(), recipients))
    assert [(r.key, r.status) for r in results] == [
        ("1000", "sent"),
        ("no-values", "failed"),
        ("too-big", "failed"),
        ("reserved", "failed"),
        ("bad-address", "failed"),
    ]
    assert results[1].error == "no value for placeholder %%nl_first_name%%"
    assert results[2].error is not None and "10,000 bytes" in results[2].error
    assert sendgrid_server.recipient_counts() == {"reader0@example.com": 1}

    only_bad = provider_for(sendgrid_server).send(Batch(samples.message(), recipients[1:2]))
    assert only_bad[0].status == "failed"
    assert sendgrid_server.stats()["requests"] == 1


def test_rate_limit_is_retryable_after_the_reset(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.configure(rate_limit_reset_s=20)
    sendgrid_server.fail_next(429)
    with pytest.raises(ProviderRetryable, match="too many requests") as raised:
        provider_for(sendgrid_server).send(samples.batch(2))
    assert raised.value.status == 429
    assert raised.value.retry_after is not None and 18 <= raised.value.retry_after <= 20
    assert raised.value.settled == ()
    assert sendgrid_server.accepted == []


def test_retry_after_header_when_there_is_no_reset(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.fail_next(429, headers={"X-RateLimit-Reset": None, "Retry-After": "7"})
    with pytest.raises(ProviderRetryable) as raised:
        provider_for(sendgrid_server).send(samples.batch(1))
    assert raised.value.retry_after == 7


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(sendgrid_server: FakeSendGrid, status: int) -> None:
    sendgrid_server.fail_next(status)
    with pytest.raises(ProviderRetryable, match=f"server error {status}") as raised:
        provider_for(sendgrid_server).send(samples.batch(1))
    assert raised.value.status == status


def test_bad_request_is_rejected_with_sendgrids_reasons(sendgrid_server: FakeSendGrid) -> None:
    message = samples.message(headers={"Subject": "x"}, categories=[f"c{i}" for i in range(11)])
    with pytest.raises(ProviderRejected) as raised:
        provider_for(sendgrid_server).send(Batch(message, [samples.recipient(1)]))
    assert raised.value.status == 400
    reasons = raised.value.reasons
    assert any(
        re.search(r"'Subject' header is reserved.*\(field: headers\.Subject\)", r) for r in reasons
    )
    assert any("more than 10 categories per request. (field: categories)" in r for r in reasons)
    assert "reserved" in str(raised.value)


def test_injected_400_carries_its_message(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.fail_next(400, message="The from email does not contain a valid address.")
    with pytest.raises(ProviderRejected) as raised:
        provider_for(sendgrid_server).send(samples.batch(2))
    assert raised.value.reasons == ("The from email does not contain a valid address.",)
    assert provider_for(sendgrid_server).send(samples.batch(2))[0].status == "sent"


def test_too_large_is_rejected(sendgrid_server: FakeSendGrid) -> None:
    message = samples.message(html="x" * (30 * 1024 * 1024))
    with pytest.raises(ProviderRejected, match="content too large") as raised:
        provider_for(sendgrid_server).send(Batch(message, [samples.recipient(1)]))
    assert raised.value.status == 413


@pytest.mark.parametrize(("key", "status"), [("SG.wrong", 401), (FORBIDDEN_KEY, 403)])
def test_refused_keys_stop_sending(sendgrid_server: FakeSendGrid, key: str, status: int) -> None:
    with pytest.raises(ProviderAuthError, match=f"refused the API key \\({status}\\)") as raised:
        provider_for(sendgrid_server, key).send(samples.batch(1))
    assert raised.value.status == status


def test_slow_answer_beyond_the_timeout_is_ambiguous(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.configure(latency_ms=1500)
    started = time.monotonic()
    with pytest.raises(ProviderAmbiguous, match="may have been accepted"):
        provider_for(sendgrid_server, timeout=0.3).send(samples.batch(2))
    assert time.monotonic() - started < 1.4
    # … and SendGrid had indeed accepted it: resending would mail everyone twice.
    assert len(sendgrid_server.accepted) == 1


def test_dropped_connection_is_ambiguous(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.drop_next()
    with pytest.raises(ProviderAmbiguous):
        provider_for(sendgrid_server).send(samples.batch(2))
    assert len(sendgrid_server.accepted) == 1


def test_connection_refused_is_retryable(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.refuse_connections()
    with pytest.raises(ProviderRetryable, match="cannot reach SendGrid"):
        provider_for(sendgrid_server).send(samples.batch(1))
    sendgrid_server.accept_connections()
    assert provider_for(sendgrid_server).send(samples.batch(1))[0].status == "sent"


def test_nothing_listening_at_all_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = SendGridProvider(DEFAULT_KEY, host=f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(ProviderRetryable):
        provider.send(samples.batch(1))


def test_batches_over_the_limit_are_a_programming_error(sendgrid_server: FakeSendGrid) -> None:
    batch = Batch(samples.message(), [samples.recipient(i) for i in range(1001)])
    with pytest.raises(ValueError, match="at most 1000"):
        provider_for(sendgrid_server).send(batch)


def test_threads_share_one_provider(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.configure(latency_ms=50)
    provider = provider_for(sendgrid_server)
    ids: list[str | None] = []

    def work(thread: int) -> None:
        for start in range(0, 500, 100):
            first = thread * 1000 + start
            batch = Batch(samples.message(), [samples.recipient(first + i) for i in range(100)])
            ids.extend(r.message_id for r in provider.send(batch))

    samples.in_threads(4, work)
    counts = sendgrid_server.recipient_counts()
    assert len(counts) == 2000 and set(counts.values()) == {1}
    assert len(set(ids)) == 20 and None not in ids


def test_an_untrusted_certificate_is_an_auth_error(tmp_path: Path) -> None:
    """A TLS answer with a certificate nobody vouches for: nothing was sent, and retrying
    will not help (a person must fix the host or the trust store)."""
    context = make_certificate(tmp_path).server_context()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def handshake() -> None:
            connection, _ = listener.accept()
            with contextlib.suppress(OSError), context.wrap_socket(connection, server_side=True):
                pass

        server = threading.Thread(target=handshake)
        server.start()
        provider = SendGridProvider(DEFAULT_KEY, host=f"https://127.0.0.1:{port}", timeout=5)
        try:
            with pytest.raises(ProviderAuthError, match="TLS certificate"):
                provider.send(samples.batch(1))
        finally:
            provider.close()
            server.join(5)


def test_a_sent_body_is_not_left_for_the_garbage_collector(sendgrid_server: FakeSendGrid) -> None:
    """A request (and its body, a megabyte for 1,000 recipients) kept alive in a reference
    cycle until the collector runs would double a sending worker's memory."""
    provider = provider_for(sendgrid_server)
    provider.send(samples.batch(20))
    gc.collect()
    gc.disable()
    try:
        provider.send(samples.batch(20))
        kept = [
            request
            for request in gc.get_objects()
            if isinstance(request, urllib.request.Request) and request.data
        ]
    finally:
        gc.enable()
    assert kept == []
