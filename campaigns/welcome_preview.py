"""Preview a welcome step and send a test of it, before any reader is due it.

The preview is the step's current version compiled as readers would get it, but untracked
(a preview must not load a pixel or wrap links) and filled with the sample values of
:func:`campaigns.preview.sample_copy`: signed with a key that is not ours, so no link in it
can unsubscribe anyone. A test is compiled afresh with the test banner and "[TEST]"
subject and sent through the configured provider by :func:`campaigns.proofs.send_proof`,
the same path as a campaign's test; it creates no campaign, receipt or delivery row.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from campaigns.preview import sample_copy
from campaigns.proofs import SentTest, send_proof
from campaigns.welcome_queue import compile_step
from campaigns.welcome_steps import get_step
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.delivery.base import Provider
from newsletter.render.variant import CompiledVariant, FilledEmail


def preview_step(session: Session, settings: Settings, step_id: int) -> CompiledVariant:
    """The step's current version as it would be compiled now (untracked); ``RenderError``
    if it cannot be, ``NotFoundError`` for no such step."""
    return compile_step(settings, get_step(session, step_id), utcnow(), tracked=False)


def step_sample(session: Session, settings: Settings, step_id: int) -> FilledEmail:
    """The preview filled with harmless sample values (subject, HTML and text to show)."""
    return sample_copy(preview_step(session, settings, step_id))


def send_step_test(
    database: Database,
    settings: Settings,
    step_id: int,
    addresses: Sequence[str],
    *,
    provider: Provider | None = None,
) -> SentTest:
    """Compile the step as a test and send it to ``addresses`` through the provider."""
    with database.transaction() as session:
        step = get_step(session, step_id)
        email = compile_step(settings, step, utcnow(), tracked=False, test_send=True)
    return send_proof(settings, email, addresses, provider=provider)
