"""The SQL delivery store records outcomes whatever the shape of the provider's answer: one
message id for the batch (SendGrid) or one per recipient (SMTP, outbox), on either side of
the store's switch between grouped and per-row updates (``_GROUPED_MESSAGE_IDS``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from campaigns.freeze import freeze_campaign
from campaigns.model import Delivery
from campaigns.states import DeliveryStatus
from campaigns.store import _GROUPED_MESSAGE_IDS, SqlDeliveryStore
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.delivery.base import RecipientResult, RecipientStatus
from tests.campaigns.helpers import add_subscribers, import_examples, new_campaign


@pytest.mark.parametrize(
    ("subscribers", "distinct_ids"),
    [
        (12, 1),
        (12, _GROUPED_MESSAGE_IDS),
        (12, _GROUPED_MESSAGE_IDS + 1),
        (4, 3),  # a small group of the acceptance journal: every row its own message id
        (2, 1),
    ],
)
def test_record_stores_each_rows_message_id_and_failure(
    db: Database, subscribers: int, distinct_ids: int
) -> None:
    import_examples(db)
    add_subscribers(db, subscribers, named=False)
    campaign_id = new_campaign(db)
    freeze_campaign(db, campaign_id, Settings())
    store = SqlDeliveryStore(db)
    claim = store.claim(campaign_id, 100)
    assert claim is not None and len(claim.recipients) == subscribers
    *accepted, refused = [str(r.delivery_id) for r in claim.recipients]
    results = [
        RecipientResult(key, RecipientStatus.SENT, message_id=f"m{n % distinct_ids}")
        for n, key in enumerate(accepted)
    ]
    results.append(RecipientResult(refused, RecipientStatus.FAILED, error="mailbox unknown"))
    store.record(results)
    with db.transaction() as session:
        rows = {
            str(id_): (status, message_id, error)
            for id_, status, message_id, error in session.execute(
                select(Delivery.id, Delivery.status, Delivery.message_id, Delivery.error).where(
                    Delivery.campaign_id == campaign_id
                )
            )
        }
    for result in results[:-1]:
        assert rows[result.key] == (DeliveryStatus.SENT, result.message_id, None)
    assert rows[refused] == (DeliveryStatus.FAILED, None, "mailbox unknown")
