"""The fake SendGrid server: accepts what the official client sends, refuses what SendGrid would."""

from __future__ import annotations

import copy
import http.client
import json
import threading
import time
import urllib.error
from collections.abc import Callable
from typing import Any

import pytest
from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Category,
    ClickTracking,
    Content,
    CustomArg,
    Email,
    Header,
    Mail,
    OpenTracking,
    Personalization,
    Substitution,
    To,
    TrackingSettings,
)

from tests.fakes.sendgrid_server import (
    DEFAULT_KEY,
    FORBIDDEN_KEY,
    FakeSendGrid,
    FakeSendGridProcess,
    Faults,
)

Body = dict[str, Any]


def client(fake: FakeSendGrid | FakeSendGridProcess, key: str = DEFAULT_KEY) -> SendGridAPIClient:
    sg = SendGridAPIClient(key, host=fake.url)
    sg.client.timeout = 10
    return sg


def valid_body(count: int = 2) -> Body:
    return {
        "personalizations": [
            {
                "to": [{"email": f"reader{i}@example.com", "name": f"Reader {i}"}],
                "substitutions": {"%%nl_first_name%%": f"R{i}"},
                "custom_args": {"delivery_id": str(i)},
                "headers": {"List-Unsubscribe": f"<https://news.example.org/u/{i}>"},
            }
            for i in range(count)
        ],
        "from": {"email": "briefing@news.example.org", "name": "The Briefing"},
        "reply_to": {"email": "editors@news.example.org"},
        "subject": "Hello %%nl_first_name%%",
        "content": [
            {"type": "text/plain", "value": "Hi %%nl_first_name%%"},
            {"type": "text/html", "value": "<p>Hi %%nl_first_name%%</p>"},
        ],
        "categories": ["digest"],
        "custom_args": {"campaign_id": "7"},
        "tracking_settings": {"open_tracking": {"enable": True}},
    }


def rejection(sg: SendGridAPIClient, body: Body) -> list[dict[str, Any]]:
    """Post ``body``, expect a 400, and return SendGrid's error list (checking its shape)."""
    with pytest.raises(http_errors.BadRequestsError) as raised:
        sg.client.mail.send.post(request_body=body)
    assert raised.value.status_code == 400
    errors = json.loads(raised.value.body)["errors"]
    assert errors and all(set(e) == {"message", "field", "help"} for e in errors)
    return list(errors)


def test_accepts_a_mail_built_with_the_official_helpers(sendgrid_server: FakeSendGrid) -> None:
    mail = Mail(from_email=Email("briefing@news.example.org", "The Briefing"))
    mail.subject = "Week 48 for -name-"
    mail.content = Content("text/plain", "Hello -name-")
    mail.content = Content("text/html", "<p>Hello -name-</p>")
    for index in range(3):
        personalization = Personalization()
        personalization.add_to(To(f"reader{index}@example.com", f"Reader {index}"))
        personalization.add_substitution(Substitution("-name-", f"Reader {index}"))
        personalization.add_custom_arg(CustomArg("delivery_id", str(index)))
        personalization.add_header(Header("List-Unsubscribe", f"<https://x.example/u/{index}>"))
        mail.add_personalization(personalization)
    mail.category = Category("digest")
    mail.tracking_settings = TrackingSettings(
        click_tracking=ClickTracking(True, False), open_tracking=OpenTracking(True)
    )

    response = client(sendgrid_server).send(mail)

    assert response.status_code == 202
    assert response.body == b""
    message_id = response.headers["X-Message-Id"]
    assert len(message_id) >= 20
    assert [a.message_id for a in sendgrid_server.accepted] == [message_id]
    rows = sorted(sendgrid_server.personalizations(), key=lambda row: row[1]["to"][0]["email"])
    assert [row[0] for row in rows] == [message_id] * 3
    assert rows[1][1] == {
        "to": [{"email": "reader1@example.com", "name": "Reader 1"}],
        "substitutions": {"-name-": "Reader 1"},
        "custom_args": {"delivery_id": "1"},
        "headers": {"List-Unsubscribe": "<https://x.example/u/1>"},
    }
    assert sendgrid_server.recipient_counts() == {f"reader{i}@example.com": 1 for i in range(3)}
    assert sendgrid_server.stats() == {
        "requests": 1,
        "accepted_requests": 1,
        "accepted_personalizations": 3,
    }


def test_a_subject_in_every_personalization_is_enough(sendgrid_server: FakeSendGrid) -> None:
    body = valid_body()
    del body["subject"]
    for item in body["personalizations"]:
        item["subject"] = "Own subject"
    assert client(sendgrid_server).client.mail.send.post(request_body=body).status_code == 202


def _set(path: str, value: Any) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        *parents, last = path.split(".")
        target: Any = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value

    return change


_DELETE = object()


def _recipients(count: int, start: int = 0) -> list[dict[str, str]]:
    return [{"email": f"r{i}@example.com"} for i in range(start, start + count)]


VIOLATIONS: dict[str, tuple[Callable[[Body], None], str, str]] = {
    "no personalizations": (
        _set("personalizations", _DELETE),
        "personalizations",
        "at least one personalization",
    ),
    "empty personalizations": (
        _set("personalizations", []),
        "personalizations",
        "at least one personalization",
    ),
    "1001 personalizations": (
        _set("personalizations", [{"to": [r]} for r in _recipients(1001)]),
        "personalizations",
        "more than 1000 personalizations",
    ),
    "1001 recipients": (
        _set("personalizations", [{"to": _recipients(500), "bcc": _recipients(501, 500)}]),
        "personalizations",
        "total number of recipients",
    ),
    "personalization without to": (
        _set("personalizations.0.to", []),
        "personalizations.0.to",
        "The to array is required",
    ),
    "invalid address": (
        _set("personalizations.1.to.0.email", "not-an-address"),
        "personalizations.1.to.0.email",
        "valid address",
    ),
    "duplicate address": (
        _set("personalizations.0.bcc", [{"email": "READER0@example.com"}]),
        "personalizations.0.bcc",
        "first duplicate instance of [READER0@example.com]",
    ),
    "no subject": (_set("subject", _DELETE), "subject", "The subject is required"),
    "empty subject": (_set("subject", ""), "subject", "The subject is required"),
    "no content": (_set("content", _DELETE), "content", "the content parameter is required"),
    "html before text": (
        _set(
            "content",
            [{"type": "text/html", "value": "<p>x</p>"}, {"type": "text/plain", "value": "x"}],
        ),
        "content",
        "text/plain content must be first",
    ),
    "empty content value": (
        _set("content.1.value", ""),
        "content.1.value",
        "at least one character",
    ),
    "custom_args too large": (
        _set("personalizations.0.custom_args", {f"k{i}": "v" * 100 for i in range(100)}),
        "personalizations.0.custom_args",
        "10,000 bytes",
    ),
    "custom_args not strings": (
        _set("personalizations.0.custom_args", {"id": 7}),
        "personalizations.0.custom_args.id",
        "Expected: string",
    ),
    "top-level custom_args a string": (
        _set("custom_args", "campaign=7"),
        "custom_args",
        "Expected: object",
    ),
    "substitutions too large": (
        _set("personalizations.1.substitutions", {"%%nl_x%%": "é" * 5001}),
        "personalizations.1.substitutions",
        "10,000 bytes",
    ),
    "reserved header in personalization": (
        _set("personalizations.0.headers", {"Subject": "x"}),
        "personalizations.0.headers.Subject",
        "reserved",
    ),
    "reserved header at top level": (
        _set("headers", {"X-SG-ID": "1"}),
        "headers.X-SG-ID",
        "reserved",
    ),
    "11 categories": (
        _set("categories", [f"c{i}" for i in range(11)]),
        "categories",
        "more than 10 categories",
    ),
    "long category": (_set("categories", ["c" * 256]), "categories.0", "longer than 255"),
    "non-ASCII category": (_set("categories", ["café"]), "categories.0", "ASCII"),
    "send_at beyond 72 hours": (
        _set("send_at", int(time.time()) + 73 * 3600),
        "send_at",
        "more than 72 hours in advance",
    ),
    "reply_to and reply_to_list": (
        _set("reply_to_list", [{"email": "a@example.org"}]),
        "reply_to_list",
        "mutually exclusive",
    ),
    "no from": (_set("from", _DELETE), "from", "The from object must be provided"),
    "schema: tracking flag not a boolean": (
        _set("tracking_settings", {"click_tracking": {"enable": "yes"}}),
        "tracking_settings.click_tracking.enable",
        "is not of type 'boolean'",
    ),
}


@pytest.mark.parametrize("case", list(VIOLATIONS))
def test_each_rule_violation_is_a_400_in_sendgrid_format(
    sendgrid_server: FakeSendGrid, case: str
) -> None:
    change, field, message = VIOLATIONS[case]
    body = valid_body()
    change(body)
    errors = rejection(client(sendgrid_server), body)
    assert any(e["field"] == field and message in e["message"] for e in errors), errors
    assert sendgrid_server.accepted == []


def test_valid_boundaries_are_accepted(sendgrid_server: FakeSendGrid) -> None:
    body = valid_body()
    body["personalizations"] = [{"to": [r]} for r in _recipients(1000)]
    body["categories"] = [f"c{i}" for i in range(9)] + ["c" * 255]
    body["send_at"] = int(time.time()) + 71 * 3600
    body["personalizations"][0]["custom_args"] = {"k": "v" * 9000}
    response = client(sendgrid_server).client.mail.send.post(request_body=body)
    assert response.status_code == 202
    assert sum(sendgrid_server.recipient_counts().values()) == 1000


def test_schema_check_can_be_switched_off_but_the_rules_cannot(
    sendgrid_server: FakeSendGrid,
) -> None:
    sendgrid_server.configure(check_schema=False)
    sg = client(sendgrid_server)
    body = valid_body()
    body["tracking_settings"] = {"click_tracking": {"enable": "yes"}}
    assert sg.client.mail.send.post(request_body=body).status_code == 202
    body["content"].reverse()
    assert any("must be first" in e["message"] for e in rejection(sg, body))


def test_a_benchmark_can_check_only_every_nth_request(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.configure(check_every=3)
    sg = client(sendgrid_server)
    body = valid_body()
    body["content"].reverse()
    assert any("must be first" in e["message"] for e in rejection(sg, body))  # 1st: checked
    assert sg.client.mail.send.post(request_body=body).status_code == 202  # 2nd: not
    assert sg.client.mail.send.post(request_body=body).status_code == 202  # 3rd: not
    assert rejection(sg, body)  # 4th: checked again


def test_malformed_json_is_a_bad_request(sendgrid_server: FakeSendGrid) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", sendgrid_server.port, timeout=5)
    connection.request(
        "POST",
        "/v3/mail/send",
        body=b"{not json",
        headers={"Authorization": f"Bearer {DEFAULT_KEY}", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    assert response.status == 400
    assert json.loads(response.read()) == {
        "errors": [{"message": "Bad Request", "field": None, "help": None}]
    }
    connection.close()


@pytest.mark.parametrize(
    ("content_type", "status"),
    [("text/plain", 415), (None, 415), ("application/json; charset=utf-8", 202)],
)
def test_the_body_must_be_declared_json(
    sendgrid_server: FakeSendGrid, content_type: str | None, status: int
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", sendgrid_server.port, timeout=5)
    headers = {"Authorization": f"Bearer {DEFAULT_KEY}"}
    if content_type:
        headers["Content-Type"] = content_type
    connection.request("POST", "/v3/mail/send", body=json.dumps(valid_body()), headers=headers)
    assert connection.getresponse().status == status
    connection.close()


def test_authorization(sendgrid_server: FakeSendGrid) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", sendgrid_server.port, timeout=5)
    connection.request("POST", "/v3/mail/send", body=json.dumps(valid_body()))
    response = connection.getresponse()
    assert response.status == 401
    assert json.loads(response.read())["errors"][0]["message"] == "authorization required"
    connection.close()

    with pytest.raises(http_errors.UnauthorizedError) as unauthorized:
        client(sendgrid_server, "SG.wrong").client.mail.send.post(request_body=valid_body())
    assert "invalid, expired, or revoked" in unauthorized.value.body.decode()
    with pytest.raises(http_errors.ForbiddenError) as forbidden:
        client(sendgrid_server, FORBIDDEN_KEY).client.mail.send.post(request_body=valid_body())
    assert json.loads(forbidden.value.body)["errors"][0]["message"] == "access forbidden"
    assert sendgrid_server.accepted == []


def test_body_over_30_mb_is_413(sendgrid_server: FakeSendGrid) -> None:
    body = valid_body()
    body["content"][1]["value"] = "x" * (30 * 1024 * 1024 + 1)
    with pytest.raises(http_errors.PayloadTooLargeError) as raised:
        client(sendgrid_server).client.mail.send.post(request_body=body)
    assert json.loads(raised.value.body)["errors"][0]["message"] == "content too large"


def test_sandbox_mode_answers_200_and_sends_nothing(sendgrid_server: FakeSendGrid) -> None:
    body = valid_body()
    body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    response = client(sendgrid_server).client.mail.send.post(request_body=body)
    assert response.status_code == 200
    assert sendgrid_server.accepted == []
    assert sendgrid_server.stats()["sandbox"] == 1
    body["content"].reverse()
    rejection(client(sendgrid_server), body)  # sandbox still validates


def test_rate_limit_429_carries_the_reset(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.configure(rate_limit_reset_s=30)
    sendgrid_server.fail_next(429)
    sg = client(sendgrid_server)
    with pytest.raises(http_errors.TooManyRequestsError) as raised:
        sg.client.mail.send.post(request_body=valid_body())
    headers = raised.value.headers
    assert headers["X-RateLimit-Limit"] == "600"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert 25 <= int(headers["X-RateLimit-Reset"]) - time.time() <= 31
    assert sendgrid_server.accepted == []
    assert sg.client.mail.send.post(request_body=valid_body()).status_code == 202


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, http_errors.InternalServerError), (503, http_errors.ServiceUnavailableError)],
)
def test_server_errors_on_cue(
    sendgrid_server: FakeSendGrid, status: int, error: type[Exception]
) -> None:
    sendgrid_server.fail_next(status, count=2)
    sg = client(sendgrid_server)
    for _ in range(2):
        with pytest.raises(error):
            sg.client.mail.send.post(request_body=valid_body())
    assert sg.client.mail.send.post(request_body=valid_body()).status_code == 202
    assert sendgrid_server.stats()[f"failed_{status}"] == 2


def outcomes(fake: FakeSendGrid, count: int) -> list[int]:
    sg = client(fake)
    found = []
    for _ in range(count):
        try:
            found.append(sg.client.mail.send.post(request_body=valid_body(1)).status_code)
        except http_errors.HTTPError as exc:
            found.append(exc.status_code)
    return found


def test_random_failures_are_seeded(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.configure(failure_rate=0.3, failure_statuses=(429, 503), seed=42)
    first = outcomes(sendgrid_server, 100)
    sendgrid_server.configure(seed=42)
    assert outcomes(sendgrid_server, 100) == first
    failures = [s for s in first if s != 202]
    assert 15 <= len(failures) <= 45
    assert set(failures) == {429, 503}
    assert len(sendgrid_server.accepted) == 2 * first.count(202)


def test_latency_delays_answers_without_serialising_them(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.configure(latency_ms=300)
    statuses: list[int] = []

    def send() -> None:
        statuses.append(
            client(sendgrid_server).client.mail.send.post(request_body=valid_body(1)).status_code
        )

    started = time.monotonic()
    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert statuses == [202] * 8
    assert 0.3 <= elapsed < 1.5


def test_slow_answer_after_acceptance_times_the_client_out(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.configure(latency_ms=1000)
    sg = client(sendgrid_server)
    sg.client.timeout = 0.2
    with pytest.raises(TimeoutError):
        sg.client.mail.send.post(request_body=valid_body())
    assert len(sendgrid_server.accepted) == 1


@pytest.mark.parametrize("accept", [True, False])
def test_dropped_connection(sendgrid_server: FakeSendGrid, accept: bool) -> None:
    sendgrid_server.drop_next(accept=accept)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        client(sendgrid_server).client.mail.send.post(request_body=valid_body())
    assert len(sendgrid_server.accepted) == (1 if accept else 0)


def test_refused_connections_then_accepted_again(sendgrid_server: FakeSendGrid) -> None:
    port = sendgrid_server.port
    sendgrid_server.refuse_connections()
    with pytest.raises(urllib.error.URLError) as raised:
        client(sendgrid_server).client.mail.send.post(request_body=valid_body())
    assert isinstance(raised.value.reason, ConnectionRefusedError)
    sendgrid_server.accept_connections()
    assert sendgrid_server.port == port
    assert (
        client(sendgrid_server).client.mail.send.post(request_body=valid_body()).status_code == 202
    )


def test_reset_returns_to_the_starting_faults() -> None:
    with FakeSendGrid(faults=Faults(check_schema=False, latency_ms=1)) as fake:
        fake.configure(latency_ms=50, failure_rate=0.5)
        fake.reset()
        assert (fake.faults.check_schema, fake.faults.latency_ms) == (False, 1)
        assert fake.faults.failure_rate == 0


def test_reset_forgets_everything(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.configure(latency_ms=5)
    sendgrid_server.fail_next(500)
    sendgrid_server.reset()
    assert (
        client(sendgrid_server).client.mail.send.post(request_body=valid_body()).status_code == 202
    )
    sendgrid_server.reset()
    assert sendgrid_server.accepted == [] and sendgrid_server.stats() == {}
    assert sendgrid_server.faults.latency_ms == 0


def test_separate_process_with_control_endpoints(sendgrid_process: FakeSendGridProcess) -> None:
    sg = client(sendgrid_process)
    response = sg.client.mail.send.post(request_body=valid_body(3))
    assert response.status_code == 202
    sendgrid_process.fail_next(500, message="try later")
    with pytest.raises(http_errors.InternalServerError) as failed:
        sg.client.mail.send.post(request_body=valid_body(1))
    assert json.loads(failed.value.body)["errors"][0]["message"] == "try later"
    assert sendgrid_process.configure(latency_ms=10)["latency_ms"] == 10
    body = copy.deepcopy(valid_body())
    body["content"].reverse()
    rejection(sg, body)

    stats = sendgrid_process.stats()
    assert stats == {
        "requests": 3,
        "accepted_requests": 1,
        "accepted_personalizations": 3,
        "failed_500": 1,
        "rejected": 1,
    }
    rows = sendgrid_process.accepted()
    assert {row["message_id"] for row in rows} == {response.headers["X-Message-Id"]}
    assert sorted(row["to"][0] for row in rows) == [f"reader{i}@example.com" for i in range(3)]
    assert set(rows[0]) == {"message_id", "to", "custom_args"}
    assert "substitutions" in sendgrid_process.accepted(brief=False)[0]
    assert sendgrid_process.recipient_counts() == {f"reader{i}@example.com": 1 for i in range(3)}
    sendgrid_process.reset()
    assert sendgrid_process.stats() == {}
