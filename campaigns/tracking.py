"""First-party tracking: the open pixel and click redirects of SMTP and outbox sends, and
unsubscribes through a campaign's own link (which SendGrid never sees either).

A tracked email's pixel and links carry a signed tracking token naming the delivery
(``TokenSigner.sign(Purpose.TRACKING, delivery id)``). An open or click is recorded as an
event of the delivery, through the same path as provider events (:mod:`campaigns.ingest`).

A click redirects only to a link of that delivery's own frozen variant, chosen by its
link id, and only to one the compiler rewrote for tracking (an http(s) destination without
per-recipient parts): the redirect is never open, whatever the URL says. A bad token or an
unknown link is a :class:`NotFoundError`, never a redirect.

Hits are recorded at most once per delivery (and link), minute and kind of visitor, so a
loop of requests cannot grow the events table without bound: the event id is made of
those (:func:`hit_event_id`), and ingest drops a repeat of an id it has stored (a look-up
by ``(source, event_id)``: the table's unique key includes the time, which differs between
two hits of one minute; the pixel and the redirect still answer every time). The
kind of visitor is the machine reason, or ``reader``: a ``HEAD`` probe, a scanner's
``GET`` and a reader's ``GET`` in the same minute are three rows, so a machine's hit never
hides a reader's from the reports, which count the two apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.events import USER_AGENT_LENGTH, EventRecord, EventType
from campaigns.ingest import IngestPolicy, record_events
from campaigns.linkmap import LinkIndexCache, LinkInfo
from campaigns.machines import click_flag, open_flag
from campaigns.model import Delivery, Variant
from newsletter.db import Database
from newsletter.errors import InvalidToken, NotFoundError
from newsletter.tokens import Purpose, TokenSigner
from subscribers.model import Subscriber

# The smallest transparent GIF (1×1, 43 bytes).
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
NOT_A_LINK = "This link is not valid (it may have been cut or altered)."


@dataclass(frozen=True, slots=True)
class Hit:
    """One request for a pixel or a link: when, by what, and whether it was a ``HEAD``."""

    at: datetime
    user_agent: str | None
    head: bool = False


class FirstPartyTracker:
    """Records opens and clicks of tracking tokens and says where a click goes."""

    def __init__(
        self,
        database: Database,
        signer: TokenSigner,
        policy: IngestPolicy,
        links: LinkIndexCache,
    ) -> None:
        self.database = database
        self.signer = signer
        self.policy = policy
        self.links = links

    def delivery_of(self, token: str) -> int | None:
        """The delivery a tracking token names, or ``None`` for a token we did not sign."""
        try:
            subject = self.signer.verify(Purpose.TRACKING, token)
        except InvalidToken:
            return None
        if not (subject.isascii() and subject.isdigit() and len(subject) <= 18):
            return None
        return int(subject)

    def record_open(self, token: str, hit: Hit) -> bool:
        """Record an open of the pixel; False when the token names no delivery of ours."""
        delivery_id = self.delivery_of(token)
        if delivery_id is None:
            return False
        reason = open_flag(user_agent=hit.user_agent, head=hit.head)
        with self.database.transaction() as session:
            if session.get(Delivery, delivery_id) is None:
                return False
            self._record(session, "opened", delivery_id, hit, reason)
        return True

    def click(self, token: str, link_id: str, hit: Hit) -> str:
        """Record a click and return where it goes; :class:`NotFoundError` if nowhere."""
        delivery_id = self.delivery_of(token)
        if delivery_id is None:
            raise NotFoundError(NOT_A_LINK)
        with self.database.transaction() as session:
            found = session.execute(
                select(Delivery.variant_id, Delivery.sent_at).where(Delivery.id == delivery_id)
            ).one_or_none()
            link = self._link(session, found.variant_id, link_id) if found else None
            if found is None or link is None or not link.redirectable:
                raise NotFoundError(NOT_A_LINK)
            reason = click_flag(
                user_agent=hit.user_agent,
                at=hit.at,
                sent_at=found.sent_at,
                window_seconds=self.policy.scanner_window_seconds,
                head=hit.head,
            )
            self._record(
                session, "clicked", delivery_id, hit, reason, link_id=link.link_id, url=link.url
            )
        return link.url

    def record_unsubscribe(self, token: str, subscriber_uid: str, at: datetime) -> bool:
        """Count an unsubscribe through a campaign's link (``?d=`` of the unsubscribe URL)
        in that campaign's report; False when the token names no delivery of ours, or one
        that is not ``subscriber_uid``'s (the subject of the unsubscribe link's own token):
        a reference leaks in every shared tracked link, so it never speaks for anyone
        else. One event per delivery, however often the link is posted."""
        delivery_id = self.delivery_of(token)
        if delivery_id is None:
            return False
        with self.database.transaction() as session:
            owner = session.scalar(
                select(Subscriber.uid)
                .join(Delivery, Delivery.subscriber_id == Subscriber.id)
                .where(Delivery.id == delivery_id)
            )
            if owner is None or owner != subscriber_uid:
                return False
            record = EventRecord(
                source="first-party",
                event_id=f"unsubscribe-{delivery_id}",
                type="unsubscribed",
                occurred_at=at,
                received_at=at,
                replay_keeps_time=False,
                delivery_ref=delivery_id,
                raw={"via": "unsubscribe link"},
            )
            record_events(session, [record], self.policy, self.links)
        return True

    def _link(self, session: Session, variant_id: int, link_id: str) -> LinkInfo | None:
        def load(wanted: int) -> list[dict[str, Any]] | None:
            value = session.scalar(select(Variant.links).where(Variant.id == wanted))
            return None if value is None else list(value)

        index = self.links.get(variant_id, load)
        return index.by_id(link_id) if index is not None else None

    def _record(
        self,
        session: Session,
        kind: EventType,
        delivery_id: int,
        hit: Hit,
        machine_reason: str | None,
        *,
        link_id: str | None = None,
        url: str | None = None,
    ) -> None:
        record = EventRecord(
            source="first-party",
            event_id=hit_event_id(kind, delivery_id, hit.at, machine_reason, link_id),
            type=kind,
            occurred_at=hit.at,
            received_at=hit.at,
            replay_keeps_time=False,  # another hit of the same minute is a replay
            delivery_ref=delivery_id,
            machine_reason=machine_reason,
            user_agent=_clean(hit.user_agent),
            link_id=link_id,
            url=url,
            raw={"method": "HEAD" if hit.head else "GET", "user_agent": _clean(hit.user_agent)},
        )
        record_events(session, [record], self.policy, self.links)


def hit_event_id(
    kind: EventType,
    delivery_id: int,
    at: datetime,
    machine_reason: str | None,
    link_id: str | None = None,
) -> str:
    """The id of a hit: the same for every hit of one delivery (and link), UTC minute and
    kind of visitor (``open-12-29012345-reader``, ``click-12-a1b2-29012345-head``)."""
    minute = int(at.timestamp() // 60)
    visitor = machine_reason or "reader"
    if kind == "clicked":
        return f"click-{delivery_id}-{link_id}-{minute}-{visitor}"
    return f"open-{delivery_id}-{minute}-{visitor}"


def _clean(user_agent: str | None) -> str | None:
    if not user_agent:
        return None
    return user_agent.replace("\x00", "")[:USER_AGENT_LENGTH] or None
