"""The acceptance journal: group commits, a bounded backlog, failures reach the sender."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from campaigns.journal import AcceptanceJournal, JournalError
from campaigns.sending import send_campaign
from campaigns.store import SqlDeliveryStore
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.delivery.base import Batch, RecipientResult, RecipientStatus
from newsletter.delivery.outbox import OutboxProvider
from newsletter.errors import ProviderRetryable
from tests.campaigns.helpers import add_subscribers, import_examples, new_campaign


def sent(key: int) -> RecipientResult:
    return RecipientResult(str(key), RecipientStatus.SENT, message_id=f"<{key}@example.org>")


class GatedWriter:
    """Writes only while its gate is open; records each group it wrote."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.gate = threading.Event()
        self.started = threading.Event()

    def __call__(self, results: Sequence[RecipientResult]) -> None:
        self.started.set()
        assert self.gate.wait(10), "the test never opened the gate"
        self.groups.append([r.key for r in results])


def test_acceptances_made_during_a_write_go_in_the_next_one_together() -> None:
    writer = GatedWriter()
    journal = AcceptanceJournal(writer)
    batch = journal.batch()
    batch.accept(sent(1))
    assert writer.started.wait(5)  # the first is being written alone, at once
    for key in range(2, 6):
        batch.accept(sent(key))  # the sender does not wait for the database
    writer.gate.set()
    journal.drain()
    journal.close()
    assert writer.groups == [["1"], ["2", "3", "4", "5"]]
    assert batch.keys == {"1", "2", "3", "4", "5"}


def test_the_sender_waits_when_the_backlog_is_full() -> None:
    writer = GatedWriter()
    journal = AcceptanceJournal(writer, limit=2)
    journal.accept(sent(1))
    assert writer.started.wait(5)
    journal.accept(sent(2))  # two unwritten, one of them in the write under way: the limit
    third = threading.Thread(target=journal.accept, args=(sent(3),))
    third.start()
    third.join(0.2)
    assert third.is_alive(), "a third acceptance went past a full backlog"
    writer.gate.set()
    third.join(5)
    journal.drain()
    journal.close()
    assert [key for group in writer.groups for key in group] == ["1", "2", "3"]


def test_a_failed_write_stops_the_sender_and_drain_says_so() -> None:
    def failing(results: Sequence[RecipientResult]) -> None:
        raise OSError("database gone")

    journal = AcceptanceJournal(failing)
    journal.accept(sent(1))
    with pytest.raises(JournalError, match="database gone"):
        journal.drain()
    with pytest.raises(JournalError, match="database gone"):
        journal.accept(sent(2))
    journal.close()


def test_no_thread_without_acceptances() -> None:
    journal = AcceptanceJournal(GatedWriter())
    batch = journal.batch()
    journal.drain()
    journal.close()
    assert batch.keys == set()
    assert not any(t.name == "acceptance-journal" for t in threading.enumerate())


def test_at_most_one_write_per_interval_and_a_drain_writes_at_once() -> None:
    groups: list[list[str]] = []
    journal = AcceptanceJournal(lambda results: groups.append([r.key for r in results]), interval=5)
    journal.accept(sent(1))  # after a quiet spell: written at once
    deadline = time.monotonic() + 5
    while not groups and time.monotonic() < deadline:
        time.sleep(0.01)
    assert groups == [["1"]]
    journal.accept(sent(2))
    journal.accept(sent(3))
    time.sleep(0.2)
    assert groups == [["1"]], "written before the interval was over"
    journal.drain()  # someone waits: no more gathering
    journal.close()
    assert groups == [["1"], ["2", "3"]]


def test_lanes_share_one_journal_and_a_drain_does_not_wait_for_later_acceptances() -> None:
    groups: list[list[str]] = []
    journal = AcceptanceJournal(lambda results: groups.append([r.key for r in results]))
    first, second = journal.batch(), journal.batch()
    first.accept(sent(1))
    second.accept(sent(2))
    stop = threading.Event()

    def other_lane() -> None:  # keeps accepting while the first lane drains
        key = 100
        while not stop.is_set():
            second.accept(sent(key))
            key += 1
            time.sleep(0.001)

    lane = threading.Thread(target=other_lane)
    lane.start()
    started = time.monotonic()
    journal.drain()  # returns once 1 and 2 are written, however busy the other lane is
    waited = time.monotonic() - started
    stop.set()
    lane.join()
    journal.close()
    assert waited < 2
    assert first.keys == {"1"} and {"2", "100"} <= second.keys and "1" not in second.keys
    written = [key for group in groups for key in group]
    assert written[:2] == ["1", "2"] and len(written) == 1 + len(second.keys)


def test_a_failed_write_stops_every_lane() -> None:
    def failing(results: Sequence[RecipientResult]) -> None:
        raise OSError("database gone")

    journal = AcceptanceJournal(failing)
    first, second = journal.batch(), journal.batch()
    first.accept(sent(1))
    with pytest.raises(JournalError, match="database gone"):
        journal.drain()
    with pytest.raises(JournalError, match="database gone"):
        second.accept(sent(2))
    assert second.keys == set()
    journal.close()


class AcceptsOneThenLosesTheRelay(OutboxProvider):
    """The relay takes the batch's first message, then the connection drops."""

    def send(self, batch: Batch) -> list[RecipientResult]:
        assert batch.on_accepted is not None
        batch.on_accepted(
            RecipientResult(batch.recipients[0].key, RecipientStatus.SENT, message_id="<1@x>")
        )
        raise ProviderRetryable("the relay went away")


def test_a_journal_that_cannot_write_after_a_failed_batch_pauses_the_campaign(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal's failure meets the provider's: the campaign pauses with the reason and
    the rows not recorded are unknown (no lane crashes, no row is left 'sending')."""
    import_examples(db)
    add_subscribers(db, 3)
    campaign_id = new_campaign(db)
    settings = Settings(outbox=tmp_path / "outbox")

    def unwritable(self: SqlDeliveryStore, results: Sequence[RecipientResult]) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(SqlDeliveryStore, "record", unwritable)
    report = send_campaign(
        db, settings, campaign_id, provider=AcceptsOneThenLosesTheRelay(tmp_path / "outbox")
    )
    assert report.status == "paused"
    assert report.status_reason is not None and "disk full" in report.status_reason
    assert report.counts == {"unknown": 3}
