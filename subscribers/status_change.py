"""An editor changes a subscriber's status by hand, with a reason kept as consent evidence.

Nobody is opted in by an editor: *reactivating* an unsubscribed, pending or lapsed reader
queues a confirmation mail (as ``newsletter subscribers add`` does) and the reader becomes
active only by following it. Bounced and complained addresses, and suppressed ones, cannot be
reactivated here at all. *Unsubscribing* takes effect at once. Either way the consent
history records who did it, why, and from where.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from newsletter.db import utcnow
from newsletter.errors import ConflictError, InvalidInput
from subscribers.confirmations import queue_confirmation
from subscribers.fields import clean_text
from subscribers.gdpr import erase_subscriber
from subscribers.model import ConsentRecord, Subscriber
from subscribers.preferences import unsubscribe
from subscribers.signup import Origin, consent_values, find_by_uid, is_lapsed
from subscribers.suppression import is_suppressed

REASON_MAX = 500


class StatusAction(StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    REACTIVATE = "reactivate"  # a confirmation mail; active only once the reader confirms


@dataclass(frozen=True, slots=True)
class StatusChange:
    action: StatusAction
    reason: str
    editor: str  # who asked (the editor's address)


def allowed_actions(subscriber: Subscriber) -> list[StatusAction]:
    """What an editor may do to this subscriber now (before checking suppression)."""
    if subscriber.status == "active" and not is_lapsed(subscriber):
        return [StatusAction.UNSUBSCRIBE]
    if subscriber.status in ("pending", "active"):  # pending, or lapsed
        return [StatusAction.UNSUBSCRIBE, StatusAction.REACTIVATE]
    if subscriber.status == "unsubscribed":
        return [StatusAction.REACTIVATE]
    return []  # bounced, complained: the address is suppressed


def change_status(
    session: Session,
    uid: str,
    change: StatusChange,
    origin: Origin,
    *,
    resend_after: timedelta,
    now: datetime | None = None,
) -> str:
    """Apply ``change`` to the subscriber ``uid``; returns what happened, in words.

    :class:`InvalidInput` for a missing reason, :class:`ConflictError` when the action is
    not allowed (with why)."""
    now = now or utcnow()
    reason = clean_text(change.reason, "reason", REASON_MAX)
    if reason is None:
        raise InvalidInput("reason", "say why (it is kept in the consent history)")
    subscriber = find_by_uid(session, uid, for_update=True)
    if change.action not in allowed_actions(subscriber):
        raise ConflictError(_refusal(subscriber, change.action))
    form = {"reason": reason, "editor": change.editor, "action": change.action.value}
    if change.action is StatusAction.UNSUBSCRIBE:
        unsubscribe(session, uid, origin, now=now, form=form)
        return f"{subscriber.email} is unsubscribed."
    return _reactivate(session, subscriber, origin, form, resend_after, now)


def _reactivate(
    session: Session,
    subscriber: Subscriber,
    origin: Origin,
    form: dict[str, str],
    resend_after: timedelta,
    now: datetime,
) -> str:
    if subscriber.email_hash and is_suppressed(session, subscriber.email_hash):
        raise ConflictError(f"{subscriber.email} is on the suppression list: it is never mailed")
    last = subscriber.confirmation_sent_at
    if last is not None and now - last < resend_after:  # pending, lapsed or unsubscribed
        wait = int((resend_after - (now - last)).total_seconds() // 60) + 1
        raise ConflictError(
            f"a confirmation mail was queued for {subscriber.email} moments ago: "
            f"try again in {wait} minute(s)"
        )
    if subscriber.status == "unsubscribed":
        subscriber.status = "pending"  # a lapsed reader stays active-but-lapsed until then
    subscriber.confirmation_sent_at = now
    session.add(ConsentRecord(**consent_values(subscriber.id, "add", origin, form, now)))
    session.flush()
    queue_confirmation(session, subscriber.id, now)
    return (
        f"A confirmation mail is queued for {subscriber.email}: they are mailed again only "
        "once they follow its link."
    )


def _refusal(subscriber: Subscriber, action: StatusAction) -> str:
    if subscriber.status in ("bounced", "complained"):
        return (
            f"{subscriber.email} {subscriber.status}: the address is suppressed and cannot "
            "be reactivated"
        )
    if action is StatusAction.UNSUBSCRIBE:
        return f"{subscriber.email} is not subscribed"
    return f"{subscriber.email} is active already"


def erase_by_editor(session: Session, uid: str, editor: str, reason: str) -> str:
    """Erase the subscriber ``uid`` (:func:`subscribers.gdpr.erase_subscriber`) and keep, on
    the anonymised row, who erased it, when and why: nothing that describes the person."""
    clean = clean_text(reason, "reason", REASON_MAX)
    if clean is None:
        raise InvalidInput("reason", "say why (the request's reference, for instance)")
    subscriber = find_by_uid(session, uid, for_update=True)
    email = subscriber.email or ""
    erase_subscriber(session, email)
    form = {"erased": True, "editor": editor, "reason": clean}
    origin = Origin(source="editor")
    record = consent_values(subscriber.id, "unsubscribe", origin, form, utcnow())
    session.add(ConsentRecord(**record))
    return f"{email} is erased; the address is suppressed for good."
