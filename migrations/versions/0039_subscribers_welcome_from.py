"""subscribers remember when their welcome series starts

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-03

``subscribers.welcome_from`` is the moment a reader's welcome series starts (each step's
delay counts from it); NULL: the reader never gets the series. Until now the series counted
from ``confirmed_at``, so readers added as already confirmed (a CSV import, an API or
command-line add with ``confirmed``) got it as if they had just confirmed by mail. From now
on only a double opt-in confirmation sets it; an import or vouched add sets it only when
asked (``--welcome``, the API's ``welcome``). It is indexed like ``confirmed_at`` was for
the welcome queue (an index range scan per step and round).

Existing readers: ``welcome_from = confirmed_at`` for the active readers whose consent
history shows a double opt-in confirmation, i.e. a ``confirm`` consent record written at
their ``confirmed_at``. Confirming by mail (:func:`subscribers.signup.confirm`) has always
set ``confirmed_at`` and written that record in one transaction with the same moment,
while imports record ``import`` and hand adds (CLI, API, demo) ``add``; the other
``confirm`` records, a lapsed reader's revival, carry a later moment than
``confirmed_at`` and are not matched. So the history is reliable and imported readers do
not get the series after the upgrade. A reader who is not active now gets ``welcome_from``
again when they next confirm by mail. (Readers confirmed more than a week before a step
fell due never get it anyway: the queue's late limit.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from newsletter.db import UTCDateTime

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("welcome_from", UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE subscribers SET welcome_from = confirmed_at "
        "WHERE status = 'active' AND confirmed_at IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM consent_records WHERE consent_records.subscriber_id = subscribers.id "
        "AND consent_records.kind = 'confirm' AND consent_records.at = subscribers.confirmed_at)"
    )
    op.create_index("ix_subscribers_welcome_from", "subscribers", ["welcome_from"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_subscribers_welcome_from", table_name="subscribers")
    op.drop_column("subscribers", "welcome_from")
