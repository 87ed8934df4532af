"""The SMTP provider against a real aiosmtpd server on loopback."""

from __future__ import annotations

import email
import re
import socket
from collections.abc import Callable
from email import policy
from email.message import EmailMessage

import pytest

from newsletter.delivery.base import Batch, Recipient, RecipientResult
from newsletter.delivery.mime import custom_args_from_headers
from newsletter.delivery.smtp import SmtpConfig, SmtpProvider
from newsletter.errors import (
    ConfigurationError,
    ProviderAmbiguous,
    ProviderAuthError,
    ProviderRejected,
    ProviderRetryable,
)
from newsletter.placeholders import remaining_placeholders
from tests.delivery import samples
from tests.fakes.smtp_server import Certificate, FakeSmtpServer

Factory = Callable[..., FakeSmtpServer]


@pytest.fixture(params=["one-by-one", "pipelining"])
def smtp_server(request: pytest.FixtureRequest, smtp_server_factory: Factory) -> FakeSmtpServer:
    """A plain SMTP server, with and without PIPELINING: every test here holds for both."""
    server = smtp_server_factory()
    server.behaviour.pipelining = request.param == "pipelining"
    return server


def pipelining(server: FakeSmtpServer) -> bool:
    return server.behaviour.pipelining


def provider_for(
    server: FakeSmtpServer,
    query: str = "",
    userinfo: str = "",
    *,
    scheme: str = "smtp",
    timeout: float = 5.0,
) -> SmtpProvider:
    url = f"{scheme}://{userinfo}127.0.0.1:{server.port}{query}"
    return SmtpProvider(SmtpConfig.from_url(url, timeout=timeout))


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_one_message_per_recipient_with_headers_and_filled_parts(
    smtp_server: FakeSmtpServer,
) -> None:
    provider = provider_for(smtp_server)
    batch = samples.batch(3)
    results = provider.send(batch)
    provider.close()

    assert [r.status for r in results] == ["sent"] * 3
    assert [r.key for r in results] == ["1000", "1001", "1002"]
    assert len(smtp_server.received) == 3
    for result, rcpt, got in zip(results, batch.recipients, smtp_server.received, strict=True):
        assert got.mail_from == "briefing@news.example.org"
        assert got.rcpt_tos == (rcpt.email,)
        message = parsed(got.data)
        assert message["Message-ID"] == result.message_id
        assert message["To"].addresses[0].addr_spec == rcpt.email
        assert message["Subject"] == samples.filled(batch.message.subject, rcpt)
        assert message["List-Unsubscribe"] == rcpt.headers["List-Unsubscribe"]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert custom_args_from_headers(message.items())["delivery_id"] == rcpt.key
        text, html = message.iter_parts()
        assert samples.content(text) == samples.filled(samples.TEXT, rcpt)
        assert samples.content(html) == samples.filled(samples.HTML, rcpt)
        assert not remaining_placeholders(got.data.decode("ascii"))


def test_one_connection_serves_several_batches(smtp_server: FakeSmtpServer) -> None:
    provider = provider_for(smtp_server)
    for _ in range(3):
        provider.send(samples.batch(4))
    assert len(smtp_server.received) == 12
    assert smtp_server.connections == 1
    provider.close()


def test_dropped_connection_is_reopened_and_the_batch_goes_on(
    smtp_server: FakeSmtpServer,
) -> None:
    provider = provider_for(smtp_server)
    provider.send(samples.batch(2))
    smtp_server.drop_connections()
    results = provider.send(samples.batch(3))
    assert [r.status for r in results] == ["sent"] * 3
    assert len(smtp_server.received) == 5
    assert smtp_server.connections == 2
    provider.close()


def test_refused_recipient_fails_alone(smtp_server: FakeSmtpServer) -> None:
    smtp_server.behaviour.refuse["reader1@example.com"] = "550 5.1.1 No such user"
    provider = provider_for(smtp_server)
    results = provider.send(samples.batch(3))
    assert [r.status for r in results] == ["sent", "failed", "sent"]
    assert results[1].error == "550 5.1.1 No such user"
    assert [got.rcpt_tos for got in smtp_server.received] == [
        ("reader0@example.com",),
        ("reader2@example.com",),
    ]
    assert smtp_server.connections == 1
    provider.close()


def test_temporarily_refused_recipient_is_retryable_and_the_rest_settled(
    smtp_server: FakeSmtpServer,
) -> None:
    smtp_server.behaviour.refuse["reader1@example.com"] = "450 4.2.1 Mailbox busy"
    provider = provider_for(smtp_server)
    with pytest.raises(ProviderRetryable, match=re.escape("450 4.2.1 Mailbox busy")) as raised:
        provider.send(samples.batch(3))
    assert raised.value.status == 450
    assert [(r.key, r.status) for r in raised.value.settled] == [("1000", "sent"), ("1002", "sent")]
    assert len(smtp_server.received) == 2
    provider.close()


def test_data_refused_with_5xx_fails_the_recipient(smtp_server: FakeSmtpServer) -> None:
    smtp_server.behaviour.data_reply = "554 5.6.0 Message content rejected"
    provider = provider_for(smtp_server)
    results = provider.send(samples.batch(2))
    assert [r.status for r in results] == ["failed", "failed"]
    assert results[0].error == "554 5.6.0 Message content rejected"
    assert smtp_server.received == []
    smtp_server.behaviour.data_reply = "250 OK"
    assert [r.status for r in provider.send(samples.batch(1))] == ["sent"]
    provider.close()


def test_closing_421_twice_is_retryable_with_earlier_recipients_settled(
    smtp_server: FakeSmtpServer,
) -> None:
    smtp_server.behaviour.refuse["reader2@example.com"] = "421 4.3.2 Shutting down"
    provider = provider_for(smtp_server)
    with pytest.raises(ProviderRetryable, match="lost twice") as raised:
        provider.send(samples.batch(4))
    assert [r.key for r in raised.value.settled] == ["1000", "1001"]
    assert len(smtp_server.received) == 2
    provider.close()


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("530 5.7.0 Authentication required", ProviderAuthError),
        ("451 4.3.0 Try again later", ProviderRetryable),
        ("550 5.7.1 Sender not allowed", ProviderRejected),
    ],
)
def test_sender_refusals_are_whole_batch_errors(
    smtp_server: FakeSmtpServer, reply: str, error: type[Exception]
) -> None:
    smtp_server.behaviour.mail_reply = reply
    provider = provider_for(smtp_server)
    with pytest.raises(error, match=reply.split(" ", 1)[0]):
        provider.send(samples.batch(2))
    provider.close()


def test_no_answer_after_the_data_is_ambiguous(smtp_server: FakeSmtpServer) -> None:
    provider = provider_for(smtp_server)
    provider.send(samples.batch(1))
    smtp_server.behaviour.close_after_data = True
    with pytest.raises(ProviderAmbiguous, match="may have accepted") as raised:
        provider.send(Batch(samples.message(), [samples.recipient(7), samples.recipient(8)]))
    # The server did record both messages: exactly why they must not be resent.
    assert len(smtp_server.received) == 3
    assert raised.value.settled == ()
    provider.close()


def test_slow_answer_after_the_data_is_ambiguous(smtp_server: FakeSmtpServer) -> None:
    smtp_server.behaviour.data_delay = 1.5
    provider = provider_for(smtp_server, timeout=0.5)
    recipients = [samples.recipient(0), samples.recipient(1)]
    smtp_server.behaviour.refuse["reader0@example.com"] = "550 5.1.1 No such user"
    with pytest.raises(ProviderAmbiguous, match="no answer after the data") as raised:
        provider.send(Batch(samples.message(), recipients))
    assert [(r.key, r.status) for r in raised.value.settled] == [("1000", "failed")]
    provider.close()


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = SmtpProvider(SmtpConfig.from_url(f"smtp://127.0.0.1:{port}", timeout=2))
    with pytest.raises(ProviderRetryable, match="cannot connect"):
        provider.send(samples.batch(1))


def test_starttls_with_a_trusted_certificate(
    smtp_server_factory: Factory, certificate: Certificate
) -> None:
    server = smtp_server_factory(tls_context=certificate.server_context())
    provider = provider_for(server, f"?starttls=require&cafile={certificate.cert_path}")
    assert [r.status for r in provider.send(samples.batch(2))] == ["sent", "sent"]
    assert all(got.tls for got in server.received)
    provider.close()


def test_starttls_is_used_when_offered(
    smtp_server_factory: Factory, certificate: Certificate
) -> None:
    server = smtp_server_factory(tls_context=certificate.server_context())
    provider_for(server, f"?cafile={certificate.cert_path}").send(samples.batch(1))
    assert server.received[0].tls


def test_untrusted_certificate_stops_sending(
    smtp_server_factory: Factory, certificate: Certificate
) -> None:
    server = smtp_server_factory(tls_context=certificate.server_context())
    with pytest.raises(ProviderAuthError, match=r"TLS with SMTP server .* failed"):
        provider_for(server).send(samples.batch(1))
    assert server.received == []


def test_required_starttls_missing_stops_sending(smtp_server: FakeSmtpServer) -> None:
    with pytest.raises(ProviderAuthError, match="does not offer STARTTLS"):
        provider_for(smtp_server, "?starttls=require").send(samples.batch(1))
    assert smtp_server.received == []


def test_auth_over_starttls(smtp_server_factory: Factory, certificate: Certificate) -> None:
    server = smtp_server_factory(
        tls_context=certificate.server_context(), logins={"mailer": "s3cr:t/pw"}
    )
    query = f"?cafile={certificate.cert_path}"
    provider = provider_for(server, query, "mailer:s3cr%3At%2Fpw@")
    assert [r.status for r in provider.send(samples.batch(2))] == ["sent", "sent"]
    assert [got.login for got in server.received] == ["mailer", "mailer"]
    provider.close()

    with pytest.raises(ProviderAuthError, match="refused the credentials: 535"):
        provider_for(server, query, "mailer:wrong@").send(samples.batch(1))
    assert len(server.received) == 2


def test_auth_offered_only_after_tls(
    smtp_server_factory: Factory, certificate: Certificate
) -> None:
    server = smtp_server_factory(tls_context=certificate.server_context(), logins={"u": "p"})
    with pytest.raises(ProviderAuthError, match="offers no AUTH"):
        provider_for(server, "?starttls=never", "u:p@").send(samples.batch(1))


def test_implicit_tls(smtp_server_factory: Factory, certificate: Certificate) -> None:
    server = smtp_server_factory(
        tls_context=certificate.server_context(), implicit_tls=True, logins={"u": "p"}
    )
    provider = provider_for(server, f"?cafile={certificate.cert_path}", "u:p@", scheme="smtps")
    assert [r.status for r in provider.send(samples.batch(2))] == ["sent", "sent"]
    assert all(got.tls and got.login == "u" for got in server.received)
    provider.close()


def test_each_thread_has_its_own_connection(smtp_server: FakeSmtpServer) -> None:
    provider = provider_for(smtp_server)

    def work(thread: int) -> None:
        for start in range(0, 30, 10):
            first = thread * 100 + start
            batch = Batch(samples.message(), [samples.recipient(first + i) for i in range(10)])
            assert all(r.status == "sent" for r in provider.send(batch))

    samples.in_threads(4, work)
    provider.close()
    assert len(smtp_server.received) == 120
    assert len({got.rcpt_tos for got in smtp_server.received}) == 120
    assert smtp_server.connections == 4


def test_bad_recipient_data_fails_only_that_recipient(smtp_server: FakeSmtpServer) -> None:
    provider = provider_for(smtp_server)
    batch = Batch(samples.message(), [Recipient("x", "x@example.com"), samples.recipient(1)])
    results = provider.send(batch)
    assert [r.status for r in results] == ["failed", "sent"]
    provider.close()


def test_verp_return_path_is_the_envelope_sender_and_a_bad_one_fails_alone(
    smtp_server: FakeSmtpServer,
) -> None:
    provider = provider_for(smtp_server)
    good = samples.recipient(0)._replace(return_path="bounces+1000-sig@news.example.org")
    bad = samples.recipient(1)._replace(return_path="bounces <1001>@news.example.org")
    results = provider.send(Batch(samples.message(), [bad, good]))
    provider.close()
    assert [r.status for r in results] == ["failed", "sent"]
    assert "invalid email address" in (results[0].error or "")
    assert [got.mail_from for got in smtp_server.received] == [good.return_path]


def test_url_parsing() -> None:
    config = SmtpConfig.from_url("smtp://us%40er:p%3Ass@mail.example.org?starttls=require")
    assert (config.host, config.port, config.username, config.password) == (
        "mail.example.org",
        25,
        "us@er",
        "p:ss",
    )
    assert config.starttls == "require" and not config.implicit_tls
    assert "p:ss" not in repr(config)
    secure = SmtpConfig.from_url("smtps://mail.example.org", timeout=3)
    assert (secure.port, secure.implicit_tls, secure.timeout) == (465, True, 3)
    assert SmtpConfig.from_url("smtp://h:2525").port == 2525
    for bad in [
        "http://h",
        "smtp://",
        "smtp://h?tls=1",
        "smtp://h?starttls=maybe",
        "smtps://h?starttls=never",
        "smtp://h:99999",
    ]:
        with pytest.raises(ConfigurationError):
            SmtpConfig.from_url(bad)


# pipelining (RFC 2920) and the connection a thread keeps


def test_envelope_commands_go_together_only_when_the_server_offers_pipelining(
    smtp_server: FakeSmtpServer,
) -> None:
    provider = provider_for(smtp_server)
    batch = samples.batch(5)
    results = provider.send(batch)
    provider.close()
    assert [(r.key, r.status) for r in results] == [(str(1000 + i), "sent") for i in range(5)]
    assert [got.rcpt_tos for got in smtp_server.received] == [(r.email,) for r in batch.recipients]
    for result, got in zip(results, smtp_server.received, strict=True):
        assert parsed(got.data)["Message-ID"] == result.message_id
    assert smtp_server.pipelined == (5 if pipelining(smtp_server) else 0)


def test_refused_recipients_mid_pipeline_settle_alone_and_the_connection_goes_on(
    smtp_server: FakeSmtpServer,
) -> None:
    smtp_server.behaviour.refuse["reader1@example.com"] = "550 5.1.1 No such user"
    smtp_server.behaviour.refuse["reader3@example.com"] = "452 4.2.2 Mailbox full"
    provider = provider_for(smtp_server)
    with pytest.raises(ProviderRetryable, match=re.escape("452 4.2.2 Mailbox full")) as raised:
        provider.send(samples.batch(6))
    settled = {r.key: (r.status, r.error) for r in raised.value.settled}
    assert settled == {
        "1000": ("sent", None),
        "1001": ("failed", "550 5.1.1 No such user"),
        "1002": ("sent", None),
        "1004": ("sent", None),
        "1005": ("sent", None),
    }
    assert [got.rcpt_tos[0] for got in smtp_server.received] == [
        f"reader{i}@example.com" for i in (0, 2, 4, 5)
    ]
    assert smtp_server.handler.resets == 2  # a clean start after each refusal
    assert [r.status for r in provider.send(samples.batch(1))] == ["sent"]
    assert smtp_server.connections == 1
    provider.close()


def test_connection_dropped_mid_batch_goes_on_with_a_new_one_and_nothing_twice(
    smtp_server: FakeSmtpServer,
) -> None:
    smtp_server.behaviour.close_after_reply = 3
    provider = provider_for(smtp_server)
    results = provider.send(samples.batch(8))
    provider.close()
    assert [r.status for r in results] == ["sent"] * 8
    assert [got.rcpt_tos[0] for got in smtp_server.received] == [
        f"reader{i}@example.com" for i in range(8)
    ]
    assert smtp_server.connections == 2


def test_acceptances_are_reported_as_the_server_answers(smtp_server: FakeSmtpServer) -> None:
    """``on_accepted`` hears of each message once, by the time the next one is answered."""
    heard: list[tuple[str, int]] = []
    provider = provider_for(smtp_server)
    batch = samples.batch(4)

    def accepted(result: RecipientResult) -> None:
        heard.append((result.key, len(smtp_server.received)))

    results = provider.send(Batch(batch.message, batch.recipients, on_accepted=accepted))
    provider.close()
    assert [key for key, _ in heard] == [r.key for r in results]
    assert all(index + 1 <= seen <= index + 2 for index, (_, seen) in enumerate(heard))


def test_connections_are_reused_across_batches_and_refusals(
    smtp_server: FakeSmtpServer,
) -> None:
    provider = provider_for(smtp_server)
    smtp_server.behaviour.refuse["reader0@example.com"] = "550 5.1.1 No such user"
    for _ in range(3):
        assert [r.status for r in provider.send(samples.batch(3))] == ["failed", "sent", "sent"]
    provider.close()
    assert len(smtp_server.received) == 6
    assert smtp_server.connections == 1


def test_lines_starting_with_a_dot_arrive_intact(smtp_server: FakeSmtpServer) -> None:
    text = ".hidden\n..two\n.\nend " + samples.FIRST_NAME + "\n"
    provider = provider_for(smtp_server)
    rcpt = samples.recipient(0)
    provider.send(Batch(samples.message(text=text), [rcpt]))
    provider.close()
    text_part, _ = parsed(smtp_server.received[0].data).iter_parts()
    assert samples.content(text_part) == samples.filled(text, rcpt)
