"""SMTP throughput against Postfix's ``smtp-sink``: a server that is not the bottleneck.

    .venv/bin/python -m bench.smtp [--messages 20000] [--threads 1,2,4] [--runs 3]
    .venv/bin/python -m bench.smtp --dispatch sqlite,postgresql --recipients 20000
    .venv/bin/python -m bench.smtp --dispatch sqlite --dkim   # every message DKIM-signed
    .venv/bin/python -m bench.smtp --no-pipelining      # smtp-sink -p: no PIPELINING offered
    .venv/bin/python -m bench.smtp --profile            # where one thread's time goes

``smtp-sink`` (Debian's ``postfix`` package; only this benchmark needs it) reads each
message and throws it away, in C, so the figures are the client's: the provider alone
(digest-sized messages from ``bench.providers``, 1,000 per batch, one connection per
thread), then ``--dispatch``: a frozen campaign of the example briefs sent end to end in
this process (claim, build from the frozen variant, VERP return paths, SMTP, the
acceptance journal) on SQLite and/or PostgreSQL. Every run checks that the sink counted
exactly the messages sent.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from statistics import median
from typing import Any

from bench.providers import (
    batches,
    digest_message,
    free_port,
    recipient,
    report,
    run_threads,
    wait_listening,
)
from newsletter.delivery.base import Message
from newsletter.delivery.mime import MimeBuilder
from newsletter.delivery.smtp import SmtpConfig, SmtpProvider

SINK = "/usr/sbin/smtp-sink"
_COUNTER = re.compile(rb"mesg=(\d+)")


@dataclass
class Sink:
    """A running ``smtp-sink``: its port and the messages it has counted so far."""

    port: int
    process: subprocess.Popen[bytes]
    counter: Path

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=never"

    def messages(self) -> int:
        """The sink's own count of messages received (its ``-c`` counter line)."""
        found = _COUNTER.findall(self.counter.read_bytes())
        return int(found[-1]) if found else 0

    def cpu_seconds(self) -> float:
        """CPU time the sink process has used (user + system, from /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def expect(self, before: int, sent: int, timeout: float = 10) -> None:
        """Fail the run unless the sink counts ``sent`` messages more than ``before``."""
        deadline = time.monotonic() + timeout
        while (seen := self.messages()) < before + sent and time.monotonic() < deadline:
            time.sleep(0.05)
        if seen - before != sent:
            raise SystemExit(f"smtp-sink counted {seen - before} messages, {sent} were sent")


@contextmanager
def smtp_sink(*options: str) -> Iterator[Sink]:
    """``smtp-sink`` on a loopback port in a process of its own (``options``: e.g. ``-p``)."""
    binary = shutil.which("smtp-sink") or SINK
    if not Path(binary).exists():
        raise SystemExit("smtp-sink not found: apt-get install postfix (then stop its daemon)")
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        counter = Path(folder) / "counter"
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        with counter.open("wb") as out:
            process = subprocess.Popen(
                [binary, "-c", *user, *options, f"127.0.0.1:{port}", "1000"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_listening(port)
            yield Sink(port, process, counter)
        finally:
            process.terminate()
            process.wait(10)


MESSAGES = {
    "digest": (116_000, 15_000),  # an 8-brief digest: about 167 KB on the wire
    "short": (8_000, 2_000),  # a short announcement: about 12 KB on the wire
}


def message_of(size: str) -> Message:
    html, text = MESSAGES[size]
    return digest_message(html, text)


def wire_size(message: Message) -> int:
    return len(MimeBuilder(message).build(recipient(1)).data)


def provider_run(sink: Sink, messages: int, threads: int, size: str) -> dict[str, float]:
    """``messages`` messages of ``size`` in batches of 1,000 from ``threads`` threads
    (one thread: this one, so that a profile sees it)."""
    provider = SmtpProvider(SmtpConfig.from_url(sink.url))
    per_batch = min(1000, max(messages // threads, 1))
    per_thread = max(messages // threads // per_batch, 1)
    message = message_of(size)
    work = [
        batches(per_thread, per_batch, start=t * 1_000_000, message=message) for t in range(threads)
    ]
    before, sink_cpu = sink.messages(), sink.cpu_seconds()

    def send(index: int) -> int:
        return sum(len(provider.send(batch)) for batch in work[index])

    try:
        if threads == 1:
            started, cpu = time.perf_counter(), time.process_time()
            sent = send(0)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        else:
            elapsed, sent, cpu = run_threads(threads, send)
    finally:
        provider.close()
    sink.expect(before, sent)
    return {
        "messages/s": sent / elapsed,
        "client CPU per message (µs)": cpu / sent * 1e6,
        "smtp-sink CPU per message (µs)": (sink.cpu_seconds() - sink_cpu) / sent * 1e6,
    }


def ceiling_run(sink: Sink, messages: int, sessions: int, size: int) -> dict[str, float]:
    """Postfix's own C client (``smtp-source``) against the same sink: what the sink and
    the loopback take at most for messages of ``size`` bytes."""
    source = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    before = sink.messages()
    started = time.perf_counter()
    subprocess.run(
        [source, "-s", str(sessions), "-m", str(messages), "-l", str(size),
         f"127.0.0.1:{sink.port}"],
        check=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    sink.expect(before, messages)
    return {"messages/s": messages / elapsed}


def profiled(function: Callable[[], Any], top: int) -> None:
    """Run ``function`` under cProfile and print where the time went."""
    profile = cProfile.Profile()
    profile.enable()
    function()
    profile.disable()
    stats = pstats.Stats(profile, stream=sys.stdout).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Median and range of each figure over the runs."""
    figures: dict[str, float] = {}
    for name in runs[0]:
        values = [run[name] for run in runs]
        figures[f"{name}, median"] = median(values)
        if len(values) > 1:
            figures[f"{name}, min"] = min(values)
            figures[f"{name}, max"] = max(values)
    return figures


def bench_provider(sink: Sink, messages: int, threads: list[int], runs: int, size: str) -> None:
    wire = wire_size(message_of(size))
    for count in threads:
        results = [ceiling_run(sink, messages, count, wire) for _ in range(runs)]
        title = f"smtp-source (C) alone, {count} session(s), {wire / 1000:.0f} KB messages"
        report(title, medians(results))
        results = [provider_run(sink, messages, count, size) for _ in range(runs)]
        title = f"provider alone, {count} thread(s), {messages:,} {size} messages"
        report(title, medians(results))


def bench_dispatch(
    sink: Sink, databases: list[str], recipients: int, runs: int, *, dkim: bool = False
) -> None:
    from bench.smtp_dispatch import dispatch_run  # the database pieces only when asked for

    signed = ", DKIM-signed" if dkim else ""
    for name in databases:
        results = [dispatch_run(sink, name, recipients, dkim=dkim) for _ in range(runs)]
        report(f"dispatch end to end, {name}, {recipients:,} recipients{signed}", medians(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="per provider run")
    parser.add_argument("--size", choices=sorted(MESSAGES), default="digest")
    parser.add_argument("--threads", default="1,2,4", help="provider threads (connections)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each figure")
    parser.add_argument("--dispatch", default="", help="sqlite,postgresql: end to end")
    parser.add_argument("--recipients", type=int, default=20_000, help="per dispatch run")
    parser.add_argument("--no-pipelining", action="store_true", help="smtp-sink -p")
    parser.add_argument("--dkim", action="store_true", help="--dispatch: sign every message")
    parser.add_argument("--profile", action="store_true", help="profile one 1-thread run")
    parser.add_argument("--top", type=int, default=25, help="profile lines to print")
    options = parser.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    sink_options = ["-p"] if options.no_pipelining else []
    print(
        f"SMTP against smtp-sink · {os.cpu_count()} CPUs · Python {sys.version.split()[0]}"
        f" · PIPELINING {'off' if options.no_pipelining else 'offered'}"
    )
    with smtp_sink(*sink_options) as sink:
        if options.profile:
            if options.dispatch:
                from bench.smtp_dispatch import dispatch_run

                for name in options.dispatch.split(","):
                    print(f"\nprofile: dispatch on {name}")
                    profiled(partial(dispatch_run, sink, name, options.recipients), options.top)
            else:
                print("\nprofile: provider alone, 1 thread")
                profiled(lambda: provider_run(sink, options.messages, 1, options.size), options.top)
            return
        threads = [int(n) for n in options.threads.split(",") if n]
        if threads:
            bench_provider(sink, options.messages, threads, options.runs, options.size)
        if options.dispatch:
            databases = options.dispatch.split(",")
            bench_dispatch(sink, databases, options.recipients, options.runs, dkim=options.dkim)


if __name__ == "__main__":
    main()
