"""A real IMAP server for tests: Debian's Dovecot, run unprivileged from a config of its own.

It listens on 127.0.0.1 at a free port, accepts plaintext logins on loopback from one
passwd-file user, and keeps mail as a Maildir in a temporary folder. Run as root (CI), its
login and internal processes use Dovecot's own ``dovenull``/``dovecot`` accounts and mail is
owned by ``dovecot``. Without the ``dovecot`` binary (``apt-get install dovecot-imapd``) the
fixtures skip with a message saying so.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or (
    "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
)
USER = "bounces"
PASSWORD = "bounce-secret-4-tests"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:{root}/mail/%u
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    """One Dovecot process; ``url`` logs in as the test user to its INBOX."""

    def __init__(self) -> None:
        assert DOVECOT is not None
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-"))
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX"

    def maildir(self) -> Path:
        return self.root / "mail" / USER

    def start(self) -> None:
        owner = _mail_owner()
        os.chmod(self.root, 0o755)
        for folder in ("run", "state", "mail", "home"):
            (self.root / folder).mkdir()
        for folder in ("mail", "home"):
            os.chown(self.root / folder, owner.pw_uid, owner.pw_gid)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        root_user = os.getuid() == 0
        config = CONFIG.format(
            root=self.root,
            port=self.port,
            uid=owner.pw_uid,
            gid=owner.pw_gid,
            login_user="dovenull" if root_user else owner.pw_name,
            internal_user="dovecot" if root_user else owner.pw_name,
        )
        (self.root / "dovecot.conf").write_text(config)
        assert DOVECOT is not None
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_until_ready()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def empty(self) -> None:
        """No messages in INBOX, and no other folder."""
        with self.client() as client:
            for _, _, name in client.list_folders():
                if name != "INBOX":
                    client.delete_folder(name)
            client.select_folder("INBOX")
            uids = client.search(["ALL"])
            if uids:
                client.delete_messages(uids)
                client.expunge()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                log = (
                    (self.root / "dovecot.log").read_text()
                    if self.root.joinpath("dovecot.log").exists()
                    else ""
                )
                raise RuntimeError(f"dovecot exited: {err} {log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer on port {self.port} within 15 s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mail_owner() -> pwd.struct_passwd:
    return pwd.getpwnam("dovecot") if os.getuid() == 0 else pwd.getpwuid(os.getuid())


@pytest.fixture(scope="module")
def dovecot_server() -> Iterator[Dovecot]:
    if DOVECOT is None:
        pytest.skip("Debian's dovecot-imapd is missing (apt-get install dovecot-imapd): "
                    "IMAP bounce mailbox tests skipped")  # fmt: skip
    server = Dovecot()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> Dovecot:
    """The module's Dovecot with an empty mailbox."""
    dovecot_server.empty()
    return dovecot_server
