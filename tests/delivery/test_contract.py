"""The provider contract: one fixed sequence, the same answers from every provider."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from newsletter.delivery.base import (
    BaseProvider,
    Batch,
    Feature,
    Recipient,
    RecipientResult,
    RecipientStatus,
    labels,
)
from newsletter.delivery.factory import PROVIDER_CLASSES, features_of
from newsletter.delivery.outbox import OutboxProvider
from newsletter.delivery.sendgrid import SendGridProvider
from newsletter.errors import ProviderRetryable
from tests.delivery import samples


def test_a_message_finds_its_placeholders_once() -> None:
    message = samples.message()
    assert message.placeholders == {samples.FIRST_NAME, samples.UNSUBSCRIBE, samples.TOKEN}
    assert samples.message(subject="Plain", html="<p>x</p>", text="x").placeholders == set()


def test_a_message_says_which_options_it_asks() -> None:
    assert samples.message().features == {Feature.CATEGORIES, Feature.TRACKING}
    plain = samples.message(categories=(), track_opens=False, track_clicks=False)
    assert plain.features == frozenset()


def test_only_sendgrid_honours_categories_and_tracking() -> None:
    assert features_of("sendgrid") == set(Feature)
    assert features_of("smtp") == features_of("outbox") == frozenset()
    assert all(issubclass(cls, BaseProvider) for cls in PROVIDER_CLASSES.values())


def test_a_recipient_without_a_value_fails_alone_in_order(tmp_path: Path) -> None:
    batch = samples.batch(3)
    lacking = batch.recipients[1]._replace(substitutions={samples.FIRST_NAME: "Ann"})
    recipients = [batch.recipients[0], lacking, batch.recipients[2]]
    results = OutboxProvider(tmp_path).send(type(batch)(batch.message, recipients))
    assert [r.key for r in results] == [r.key for r in recipients]
    assert [r.status for r in results] == ["sent", "failed", "sent"]
    assert results[1].error == f"no value for placeholder {samples.TOKEN}"


class _Unreachable(BaseProvider[int, None]):
    """A provider whose post always fails: what the sequence does around it."""

    name = "unreachable"

    def build_payload(self, batch: Batch, recipients: Sequence[Recipient]) -> int:
        return len(recipients)

    def post(self, payload: int) -> None:
        raise ProviderRetryable(f"{payload} recipient(s) not sent")

    def parse_result(self, answer: None, recipients: Sequence[Recipient]) -> list[RecipientResult]:
        raise AssertionError("never reached")


def test_a_failed_post_carries_the_refused_recipients() -> None:
    batch = samples.batch(2)
    lacking = batch.recipients[0]._replace(substitutions={})
    with pytest.raises(ProviderRetryable, match=r"^1 recipient") as caught:
        _Unreachable().send(type(batch)(batch.message, [lacking, batch.recipients[1]]))
    assert [(r.key, r.status) for r in caught.value.settled] == [
        (lacking.key, RecipientStatus.FAILED)
    ]


def test_a_batch_over_the_limit_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at most 1000"):
        _Unreachable().send(samples.batch(1001))


def test_labels_go_only_to_a_provider_that_keeps_them(tmp_path: Path) -> None:
    assert labels(OutboxProvider(tmp_path), "confirmation") == ()
    sendgrid = SendGridProvider("key", host="http://127.0.0.1:9")
    try:
        assert labels(sendgrid, "confirmation") == ("confirmation",)
    finally:
        sendgrid.close()
