"""`newsletter serve` as an operator starts it: the pages answer and confirmations go out."""

from __future__ import annotations

import mailbox
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

NEWSLETTER = Path(sys.executable).with_name("newsletter")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_and_sends_the_queued_confirmation(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'newsletter.db'}",
        "NEWSLETTER_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "NEWSLETTER_OUTBOX": str(tmp_path / "outbox"),
    }
    server = subprocess.Popen(
        [str(NEWSLETTER), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/subscribe", timeout=1)
                break
            except httpx.HTTPError:
                assert server.poll() is None, "newsletter serve exited"
                assert time.monotonic() < deadline, "newsletter serve did not start"
                time.sleep(0.2)
        assert page.status_code == 200 and "<form" in page.text
        answer = httpx.post(f"http://127.0.0.1:{port}/subscribe", json={"email": "ann@example.org"})
        assert answer.status_code == 202
        outbox = tmp_path / "outbox"
        while not (outbox.exists() and len(mailbox.Maildir(outbox)) == 1):
            assert time.monotonic() < deadline + 10, "no confirmation mail within seconds"
            time.sleep(0.2)
        (message,) = list(mailbox.Maildir(outbox))
        assert message["To"] == "ann@example.org"
        (text_part, html_part) = message.get_payload()
        for part in (text_part, html_part):
            body = part.get_payload(decode=True).decode("utf-8")
            assert f"http://127.0.0.1:{port}/confirm/" in body
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=15)[0].decode()
    assert f"serving on http://127.0.0.1:{port}/subscribe" in output
    # no webhook key is configured: one line says so
    assert output.count("SendGrid events are off") == 1
