"""Provider benchmarks: MIME build, outbox, SMTP and SendGrid throughput on this machine.

    .venv/bin/python -m bench.providers [--quick] [--threads 1,4,8,16] [--latency-ms 50]
    .venv/bin/python -m bench.providers --dkim-only [--runs 5]   # signing on vs off

Every server runs on loopback in a process of its own (aiosmtpd's ``Sink`` handler, the fake
SendGrid server with ``--no-schema --no-record``), so the figures measure the client side,
not a GIL shared with the server. The message is digest-sized: 116 KB of HTML and 15 KB of
text with six per-recipient placeholders, and each recipient carries six signed-URL-sized
substitutions, three custom args and the List-Unsubscribe headers.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from statistics import median
from typing import Any

from sendgrid.helpers.mail import (
    Content,
    CustomArg,
    Email,
    Header,
    Mail,
    Personalization,
    Substitution,
    To,
)

from newsletter.deliverability.dkim import DkimSigner, generate_key
from newsletter.delivery.base import Batch, Message, Recipient, list_unsubscribe_headers
from newsletter.delivery.mime import MimeBuilder
from newsletter.delivery.outbox import OutboxProvider
from newsletter.delivery.sendgrid import SendGridProvider, build_payload
from newsletter.delivery.smtp import SmtpConfig, SmtpProvider
from newsletter.placeholders import PlaceholderTemplate
from tests.fakes.sendgrid_rules import rule_errors, schema_errors
from tests.fakes.sendgrid_server import DEFAULT_KEY, FakeSendGridProcess

NAMES = ("first_name", "unsubscribe_url", "preferences_url", "view_url", "token", "email")
PLACEHOLDERS = [f"%%nl_{name}%%" for name in NAMES]


def digest_message(html_size: int = 116_000, text_size: int = 15_000) -> Message:
    """A message the size of an 8-brief digest (or of ``html_size`` and ``text_size``
    characters), placeholders spread through it."""
    chunk = (
        '<tr><td style="padding:12px 24px;font-family:Georgia,serif;font-size:16px">'
        "<h2>Ceasefire talks resume in Doha</h2><p>Negotiators met for six hours on Tuesday, "
        "officials said. Qatar’s foreign ministry called the talks “constructive”.</p>"
        '<p><a href="https://news.example.org/r/%%nl_token%%/42">Read more</a></p></td></tr>'
    )
    html = "<html><body><p>Hello %%nl_first_name%%,</p><table>"
    while len(html) < html_size:
        html += chunk
    html += (
        '</table><a href="%%nl_view_url%%">View online</a> · <a href="%%nl_preferences_url%%">'
        'Preferences</a> · <a href="%%nl_unsubscribe_url%%">Unsubscribe %%nl_email%%</a>'
        "</body></html>"
    )
    text = "Hello %%nl_first_name%%,\n\n"
    while len(text) < text_size:
        text += "Ceasefire talks resume in Doha. Negotiators met for six hours on Tuesday.\n"
    text += "\nView online: %%nl_view_url%%\nUnsubscribe: %%nl_unsubscribe_url%%\n"
    return Message(
        subject="The Briefing for %%nl_first_name%% · week 48",
        html=html,
        text=text,
        from_email="briefing@news.example.org",
        from_name="The Briefing",
        reply_to="editors@news.example.org",
        categories=("digest", "2026-W48"),
        track_opens=True,
        track_clicks=True,
        custom_args={"campaign_id": "7"},
    )


def recipient(index: int) -> Recipient:
    signed = f"{index}.Zk9xT2hKcGJhV0ZtWVdOMFgybGtJam95TkRFMGZR.3xq8mJm5c4h0b2k5"
    url = f"https://news.example.org/u/{signed}"
    values = [
        f"Reader{index}",
        url,
        f"https://news.example.org/p/{signed}",
        f"https://news.example.org/v/{signed}",
        signed,
        f"reader{index}@example.com",
    ]
    return Recipient(
        key=str(index),
        email=f"reader{index}@example.com",
        name=f"Reader {index}",
        substitutions=dict(zip(PLACEHOLDERS, values, strict=True)),
        custom_args={"delivery_id": str(index), "variant_id": "12", "segment": "everyone"},
        headers=list_unsubscribe_headers(url, mailto=f"unsubscribe+{signed}@news.example.org"),
    )


def batches(count: int, size: int, start: int = 0, message: Message | None = None) -> list[Batch]:
    message = message or digest_message()
    return [
        Batch(message, [recipient(start + b * size + i) for i in range(size)]) for b in range(count)
    ]


def per_call_us(function: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return median(timings) * 1e6


def stdlib_message(message: Message, rcpt: Recipient) -> bytes:
    """The same message through the stdlib ``EmailMessage`` (for comparison only)."""
    values = rcpt.substitutions
    mail = EmailMessage()
    mail["From"] = formataddr((message.from_name or "", message.from_email))
    mail["To"] = formataddr((rcpt.name or "", rcpt.email))
    mail["Subject"] = PlaceholderTemplate(message.subject).fill(values)
    for name, value in rcpt.headers.items():
        mail[name] = value
    mail.set_content(PlaceholderTemplate(message.text).fill(values))
    mail.add_alternative(PlaceholderTemplate(message.html).fill(values), subtype="html")
    return mail.as_bytes()


def bench_mime(repeat: int) -> dict[str, float]:
    message = digest_message()
    rcpt = recipient(1)
    builder = MimeBuilder(message)
    size = len(builder.build(rcpt).data)
    return {
        "builder per batch (µs)": per_call_us(lambda: MimeBuilder(message), repeat // 4 or 1),
        "build per message (µs)": per_call_us(lambda: builder.build(rcpt), repeat),
        "stdlib EmailMessage per message (µs)": per_call_us(
            lambda: stdlib_message(message, rcpt), max(repeat // 10, 3)
        ),
        "message size (KB)": size / 1000,
    }


def bench_outbox(count: int, signer: DkimSigner | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        provider = OutboxProvider(Path(folder), signer=signer)
        work = batches(max(count // 100, 1), 100)
        started = time.perf_counter()
        for batch in work:
            provider.send(batch)
        elapsed = time.perf_counter() - started
    return {"messages/s": sum(len(b.recipients) for b in work) / elapsed}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def run_threads(threads: int, work: Callable[[int], int]) -> tuple[float, int, float]:
    """Run ``work(index)`` in ``threads`` threads: (seconds, total returned, CPU seconds used).

    The CPU time is this process's (all its threads): the client's cost, not the server's.
    """
    totals = [0] * threads

    def run(index: int) -> None:
        totals[index] = work(index)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    started, cpu = time.perf_counter(), time.process_time()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - started, sum(totals), time.process_time() - cpu


def bench_smtp(
    count: int, thread_counts: list[int], signer: DkimSigner | None = None
) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c",
         "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_listening(port)
        figures: dict[str, float] = {}
        for threads in thread_counts:
            provider = SmtpProvider(SmtpConfig.from_url(f"smtp://127.0.0.1:{port}"), signer=signer)
            per_thread = max(count // threads // 50, 1)
            work = [batches(per_thread, 50, start=t * 100_000) for t in range(threads)]

            def send(index: int, work: list[list[Batch]] = work, p: SmtpProvider = provider) -> int:
                return sum(len(p.send(batch)) for batch in work[index])

            elapsed, sent, cpu = run_threads(threads, send)
            provider.close()
            figures[f"messages/s, {threads} thread(s)"] = sent / elapsed
            figures[f"client CPU per message, {threads} thread(s) (µs)"] = cpu / sent * 1e6
        return figures
    finally:
        server.terminate()
        server.wait(10)


def helper_mail(batch: Batch) -> dict[str, Any]:
    """The same request built with the official ``Mail`` helper objects (for comparison)."""
    message = batch.message
    mail = Mail(from_email=Email(message.from_email, message.from_name))
    mail.subject = message.subject
    mail.content = Content("text/plain", message.text)
    mail.content = Content("text/html", message.html)
    for rcpt in batch.recipients:
        item = Personalization()
        item.add_to(To(rcpt.email, rcpt.name))
        for key, value in rcpt.substitutions.items():
            item.add_substitution(Substitution(key, value))
        for key, value in rcpt.custom_args.items():
            item.add_custom_arg(CustomArg(key, value))
        for key, value in rcpt.headers.items():
            item.add_header(Header(key, value))
        mail.add_personalization(item)
    result: dict[str, Any] = mail.get()
    return result


def bench_sendgrid(thread_counts: list[int], latency_ms: float, seconds: float) -> dict[str, float]:
    batch = batches(1, 1000)[0]
    figures = {
        "payload as dict, 1000 recipients (ms)": per_call_us(lambda: build_payload(batch), 10)
        / 1000,
        "payload with Mail helpers, 1000 recipients (ms)": per_call_us(
            lambda: helper_mail(batch), 5
        )
        / 1000,
    }
    payload, _ = build_payload(batch)
    figures["fake server: hand-written rules per request (ms)"] = (
        per_call_us(lambda: rule_errors(payload, time.time()), 10) / 1000
    )
    figures["fake server: JSON schema per request (ms)"] = (
        per_call_us(lambda: schema_errors(payload), 3) / 1000
    )
    fake = FakeSendGridProcess("--no-schema", "--no-record", "--latency-ms", str(latency_ms))
    try:
        figures.update(_fake_alone(fake, batch, seconds))
        for threads in thread_counts:
            provider = SendGridProvider(DEFAULT_KEY, host=fake.url, timeout=30)
            work = batches(4, 1000)
            deadline = time.monotonic() + seconds

            def send(
                index: int,
                p: SendGridProvider = provider,
                work: list[Batch] = work,
                deadline: float = deadline,
            ) -> int:
                done = 0
                while time.monotonic() < deadline:
                    done += len(p.send(work[done // 1000 % len(work)]))
                return done

            before = fake.stats().get("accepted_personalizations", 0)
            elapsed, sent, cpu = run_threads(threads, send)
            accepted = fake.stats()["accepted_personalizations"] - before
            assert accepted == sent, (accepted, sent)
            label = f"{threads} thread(s), {latency_ms:g} ms latency"
            figures[f"requests/s, {label}"] = sent / 1000 / elapsed
            figures[f"recipients/s, {label}"] = sent / elapsed
            figures[f"client CPU per request, {threads} thread(s) (ms)"] = cpu / sent * 1e6
        return figures
    finally:
        fake.stop()


def _fake_alone(fake: FakeSendGridProcess, batch: Batch, seconds: float) -> dict[str, float]:
    """The fake server's own capacity: pre-serialised 1000-recipient requests, 16 threads."""
    import http.client
    import json
    from urllib.parse import urlsplit

    payload, _ = build_payload(batch)
    body = json.dumps(payload).encode("utf-8")
    port = urlsplit(fake.url).port
    headers = {"Authorization": f"Bearer {DEFAULT_KEY}", "Content-Type": "application/json"}
    deadline = time.monotonic() + seconds

    def post(_: int) -> int:
        done = 0
        while time.monotonic() < deadline:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("POST", "/v3/mail/send", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            connection.close()
            assert response.status == 202, response.status
            done += 1000
        return done

    elapsed, sent, _ = run_threads(16, post)
    return {
        "request body (KB)": len(body) / 1000,
        "fake server alone, 16 clients: recipients/s": sent / elapsed,
    }


def bench_dkim(runs: int, count: int) -> dict[str, float]:
    """Signing on vs off: build, outbox and SMTP (1 thread) messages/s, median of ``runs``."""
    signer = DkimSigner("news.example.org", "bench", generate_key())
    message, rcpt = digest_message(), recipient(1)
    figures: dict[str, list[float]] = {}
    for _ in range(runs):
        for label, chosen in (("off", None), ("on", signer)):
            builder = MimeBuilder(message, signer=chosen)
            build = 1e6 / per_call_us(lambda b=builder: b.build(rcpt), 200)  # type: ignore[misc]
            outbox = bench_outbox(count, chosen)["messages/s"]
            smtp = bench_smtp(count, [1], chosen)
            for name, value in (
                ("build messages/s", build),
                ("outbox messages/s", outbox),
                ("SMTP messages/s", smtp["messages/s, 1 thread(s)"]),
                (
                    "SMTP client CPU per message (µs)",
                    smtp["client CPU per message, 1 thread(s) (µs)"],
                ),
            ):
                figures.setdefault(f"{name}, DKIM {label}", []).append(value)
    return {name: median(values) for name, values in sorted(figures.items())}


def report(title: str, figures: dict[str, float]) -> None:
    print(f"\n{title}")
    for name, value in figures.items():
        print(f"  {name:<58} {value:>12,.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("--threads", default="1,4,8,16", help="SendGrid sender threads")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=None, help="per SendGrid run")
    parser.add_argument("--dkim-only", action="store_true", help="signing on vs off only")
    parser.add_argument("--runs", type=int, default=5, help="runs of the DKIM comparison")
    options = parser.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    quick = options.quick
    thread_counts = [int(n) for n in options.threads.split(",")]
    seconds = options.seconds or (1.0 if quick else 5.0)
    print(f"providers benchmark · {os.cpu_count()} CPUs · Python {sys.version.split()[0]}")
    if options.dkim_only:
        count = 200 if quick else 1000
        title = f"DKIM signing (RSA-2048, relaxed/relaxed), median of {options.runs} runs"
        report(title, bench_dkim(options.runs, count))
        return
    report("MIME (one recipient's message)", bench_mime(50 if quick else 500))
    report("Outbox (Maildir, fsync per file)", bench_outbox(200 if quick else 2000))
    report("SMTP (aiosmtpd Sink, loopback)", bench_smtp(200 if quick else 2000, [1, 2]))
    report(
        "SendGrid (fake server process, 1000 recipients per request)",
        bench_sendgrid(thread_counts, options.latency_ms, seconds),
    )


if __name__ == "__main__":
    main()
