"""Four `newsletter worker` processes on PostgreSQL share one per-second limit through the
database: the rate the provider sees stays within 5 % of it, and every recipient gets the
campaign exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.db import Database
from tests.campaigns.test_workers import (
    four_workers_send_it_all,
    frozen_campaign,
    needs_postgres,
    worker_env,
)
from tests.fakes.sendgrid_server import FakeSendGrid

pytestmark = pytest.mark.slow
LIMIT = 300
RECIPIENTS = 3_000  # about 10 s at the limit


def test_four_workers_keep_a_shared_per_second_limit(
    db: Database, database_url: str, sendgrid_server: FakeSendGrid, tmp_path: Path
) -> None:
    needs_postgres(db)
    sendgrid_server.configure(check_schema=False, latency_ms=20)
    campaign_id, addresses = frozen_campaign(db, sendgrid_server, RECIPIENTS)
    env = worker_env(
        database_url,
        sendgrid_server,
        NEWSLETTER_SEND_LANES="2",
        NEWSLETTER_SEND_LIMIT_PER_SECOND=str(LIMIT),
    )
    four_workers_send_it_all(db, env, sendgrid_server, tmp_path, campaign_id, addresses)

    requests = sorted(sendgrid_server.accepted, key=lambda r: r.at)
    assert max(len(r.personalizations) for r in requests) == LIMIT // 5  # 0.2 s per batch
    # The rate over the send: what came after the first request, over the time it took.
    after_first = RECIPIENTS - len(requests[0].personalizations)
    rate = after_first / (requests[-1].at - requests[0].at)
    assert abs(rate - LIMIT) <= 0.05 * LIMIT, f"{rate:.1f}/s against a limit of {LIMIT}/s"
    # And over any few seconds in it, with three batches of slack: on a loaded machine a lane
    # woken late sends next to the following one (and the fake's clock is in this process).
    # Four workers each pacing on their own would send 1,200/s.
    times = [r.at for r in requests]
    sizes = [len(r.personalizations) for r in requests]
    busiest = {span: most_within(times, sizes, span) for span in (2, 5)}
    print(f"{rate:.1f}/s over {times[-1] - times[0]:.2f} s; most in 2 s, 5 s: {busiest}")
    for span, most in busiest.items():
        assert most <= span * LIMIT + 3 * LIMIT // 5, f"{most} in {span} s"


def most_within(times: list[float], sizes: list[int], span: float) -> int:
    """The most recipients requested within any ``span`` seconds."""
    return max(
        sum(n for t, n in zip(times[start:], sizes[start:], strict=True) if t < at + span)
        for start, at in enumerate(times)
    )
