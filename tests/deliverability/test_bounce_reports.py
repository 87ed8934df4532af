"""Reading bounce mailbox messages: untrusted bytes give a report or a clear refusal, never a
crash; a few shapes the corpus tests do not cover."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.deliverability.bounce_mail import BounceReport, UnreadableReport, read_report

HEADERS = st.sampled_from([
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n",
    b"Content-Type: multipart/report; report-type=feedback-report; boundary=b\n",
    b"Content-Type: message/delivery-status\n",
    b"Auto-Submitted: auto-replied\n",
    b"X-Failed-Recipients: a@b, , <>\n",
    b"Subject: Undelivered Mail Returned to Sender\n",
])  # fmt: skip
PARTS = st.sampled_from([
    b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: x\n\nAction: failed\nFinal-Recipient: rfc822;\n",
    b"--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n",
    b"--b\nContent-Type: message/rfc822\n\n",
    b"--b\nContent-Type: text/rfc822-headers\n\nMessage-ID: <x>\n",
    b"--b--\n",
])  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(HEADERS, max_size=4), st.lists(PARTS | st.binary(max_size=60), max_size=6))
def test_any_bytes_give_a_report_or_a_refusal(headers: list[bytes], parts: list[bytes]) -> None:
    data = b"From: x@y\n" + b"".join(headers) + b"\n" + b"\n".join(parts)
    with contextlib.suppress(UnreadableReport):
        assert isinstance(read_report(data), BounceReport)


def test_size_is_bounded_before_parsing() -> None:
    with pytest.raises(UnreadableReport, match="over the limit"):
        read_report(b"Subject: x\n\n" + b"x" * 2000, max_bytes=1000)


def test_a_failed_dsn_with_a_temporary_status_is_soft_and_not_spam_is_no_complaint() -> None:
    dsn = (
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
        b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n"
        b"Final-Recipient: rfc822; ann@example.org\nAction: failed\nStatus: 4.4.7\n\n--b--\n"
    )
    (failure,) = read_report(dsn).failures
    assert (failure.address, failure.kind, failure.status) == ("ann@example.org", "soft", "4.4.7")
    arf = (
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=b\n\n"
        b"--b\nContent-Type: message/feedback-report\n\nFeedback-Type: not-spam\n\n--b--\n"
    )
    report = read_report(arf)
    assert report.failures == () and "no complaint" in (report.reason or "")
