"""variant envelope

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

Every frozen variant gets its envelope (sender, reply-to, list headers, tracking flags,
provider name), from which its batches are now built instead of from the settings in force
when each batch goes out.

Variants frozen before this revision get the envelope the code before it would have used
for their next batch: the sender, reply-to, public URL, unsubscribe mailto and tracking
mode of the settings in force while upgrading (the old dispatch read exactly those), and
the provider the campaign recorded when it was frozen (``campaigns.provider``; the
configured one if none was recorded). So a campaign in flight goes on sending as it would
have; for campaigns sent already the envelope is this reconstruction, not a record.
The logic is copied here as it is at this revision, so that later changes to
``campaigns.envelope`` cannot change what this migration writes.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from newsletter.config import Settings, get_settings

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VARIANTS = sa.table(
    'campaign_variants',
    sa.column('id', sa.Integer()),
    sa.column('campaign_id', sa.Integer()),
    sa.column('name', sa.String()),
    sa.column('envelope', sa.JSON()),
)
_CAMPAIGNS = sa.table('campaigns', sa.column('id', sa.Integer()), sa.column('provider', sa.String()))


def upgrade() -> None:
    """On SQLite the column is added with a placeholder default instead of being made NOT
    NULL afterwards: that would rebuild the table, and dropping the old one deletes every
    delivery through their ``ON DELETE CASCADE`` foreign key. The default stays (SQLite
    cannot drop it in place); the model always writes the column, and ``{}`` would fail
    loudly as an unusable envelope, never send."""
    sqlite = op.get_bind().dialect.name == 'sqlite'
    op.add_column(
        'campaign_variants',
        sa.Column(
            'envelope',
            sa.JSON(),
            nullable=not sqlite,
            server_default=sa.text("'{}'") if sqlite else None,
        ),
    )
    _fill_envelopes(get_settings())
    if not sqlite:
        op.alter_column('campaign_variants', 'envelope', existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    op.drop_column('campaign_variants', 'envelope')  # in place on SQLite too (3.35+)


def _fill_envelopes(settings: Settings) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_VARIANTS.c.id, _VARIANTS.c.campaign_id, _VARIANTS.c.name, _CAMPAIGNS.c.provider)
        .join(_CAMPAIGNS, _CAMPAIGNS.c.id == _VARIANTS.c.campaign_id)
    ).all()
    if not rows:
        return
    connection.execute(
        _VARIANTS.update()
        .where(_VARIANTS.c.id == sa.bindparam('variant_id'))
        .values(envelope=sa.bindparam('filled', type_=sa.JSON())),
        [
            {'variant_id': vid, 'filled': _envelope(settings, cid, name, provider)}
            for vid, cid, name, provider in rows
        ],
    )


def _envelope(settings: Settings, campaign_id: int, name: str, provider: str | None) -> dict[str, Any]:
    provider = provider or settings.provider
    targets = [f"<mailto:{settings.unsubscribe_mailto}>"] if settings.unsubscribe_mailto else []
    targets.append("<%%nl_unsubscribe_url%%>")
    segment = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:200] or "segment"
    return {
        'provider': provider,
        'from_email': settings.from_email,
        'from_name': settings.from_name,
        'reply_to': settings.reply_to,
        'public_url': settings.public_url,
        'list_headers': {
            'List-Unsubscribe': ", ".join(targets),
            'List-Unsubscribe-Post': "List-Unsubscribe=One-Click",
        },
        'tracking': _tracking(settings.tracking, provider == 'sendgrid'),
        'categories': ['newsletter', f'campaign-{campaign_id}', f'segment-{segment}'],
    }


def _tracking(mode: str, sendgrid: bool) -> dict[str, bool]:
    plan = {'provider_opens': False, 'provider_clicks': False, 'own_opens': False, 'own_clicks': False}
    if mode == 'auto':
        plan.update(provider_opens=sendgrid, own_opens=not sendgrid, own_clicks=True)
    elif mode == 'provider':
        plan.update(provider_opens=sendgrid, provider_clicks=sendgrid)
    elif mode == 'first-party':
        plan.update(own_opens=True, own_clicks=True)
    return plan
