"""Settings that keep secrets secret: passwords in URLs as ***, keys of at least 32 bytes,
and the generated key's file (next to the data, private, never a link, made once)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.config import Settings, shown, without_password
from newsletter.errors import ConfigurationError
from tests.conftest import ROOT

KEY = "k" * 32


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://u:hunter2@host:587", "smtp://u:***@host:587"),
        (
            "smtps://mail%40x.org:hunter2@host?cafile=/ca.pem",
            "smtps://mail%40x.org:***@host?cafile=/ca.pem",
        ),
        ("smtp://u:hun/ter2@host", "smtp://u:***@host"),
        ("smtp://u:hun@ter2@host", "smtp://u:***@host"),
        ("smtp://u:hun?ter2@host:25", "smtp://u:***@host:25"),
        ("smtp://:hunter2@host", "smtp://:***@host"),
        (
            "postgresql+psycopg://news:hunter2@db:5432/nl",
            "postgresql+psycopg://news:***@db:5432/nl",
        ),
        (
            "postgresql://news:hun%40ter2@db/nl?sslmode=require",
            "postgresql://news:***@db/nl?sslmode=require",
        ),
        ("postgresql://news:hun@ter2@db/nl", "postgresql://news:***@db/nl"),
        ("smtp://user@host:25", "smtp://user@host:25"),
        ("sqlite:///newsletter.db", "sqlite:///newsletter.db"),
        ("https://example.org:8443/thanks?ref=a@b", "https://example.org:8443/thanks?ref=a@b"),
    ],
)
def test_urls_are_shown_with_their_password_as_stars(url: str, expected: str) -> None:
    assert without_password(url) == expected
    assert shown(url) == expected


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY")


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that takes nothing away: the file's mode must come from us alone."""
    old = os.umask(0)
    yield
    os.umask(old)


def _settings(folder: Path, **values: object) -> Settings:
    return Settings(database_url=f"sqlite:///{folder / 'news.db'}", **values)  # type: ignore[arg-type]


def test_a_key_under_32_bytes_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="31-byte key: it must be at least 32 bytes"):
        Settings(secret_key="k" * 31).signing_key()
    assert Settings(secret_key=KEY).signing_key() == KEY


@pytest.mark.usefixtures("no_key", "open_umask")
def test_a_new_key_is_made_next_to_the_database_private_and_announced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with caplog.at_level(logging.WARNING, logger="newsletter.config"):
        key = _settings(data).signing_key()
    made = data / ".newsletter-secret"
    assert len(key) >= 32 and made.read_text().strip() == key
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    assert [r.getMessage() for r in caplog.records] == [
        f"created a new secret key in {made} (keep it: every mailed link needs it)"
    ]
    assert not (tmp_path / ".newsletter-secret").exists() and sorted(os.listdir(data)) == [
        ".newsletter-secret"
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="newsletter.config"):
        assert _settings(data).signing_key() == key
    assert caplog.records == []  # said once, when made


@pytest.mark.usefixtures("no_key")
def test_a_command_run_from_another_folder_uses_the_same_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, here, there = (tmp_path / name for name in ("data", "here", "there"))
    for folder in (data, here, there):
        folder.mkdir()
    monkeypatch.chdir(here)
    first = _settings(data).signing_key()
    monkeypatch.chdir(there)
    assert _settings(data).signing_key() == first
    assert os.listdir(here) == [] and os.listdir(there) == []


@pytest.mark.usefixtures("no_key")
def test_the_configured_key_file_is_used(tmp_path: Path) -> None:
    chosen = tmp_path / "keys" / "newsletter.key"
    chosen.parent.mkdir()
    key = _settings(tmp_path, secret_key_file=chosen).signing_key()
    assert chosen.read_text().strip() == key and not (tmp_path / ".newsletter-secret").exists()


@pytest.mark.usefixtures("no_key")
def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    keys: list[str] = []
    start = threading.Barrier(8)

    def one() -> None:
        start.wait()
        keys.append(_settings(tmp_path).signing_key())

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert os.listdir(tmp_path) == [".newsletter-secret"]  # no temporary file left


@pytest.mark.usefixtures("no_key")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_key_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    made = tmp_path / ".newsletter-secret"
    made.write_text(KEY)
    made.chmod(mode)
    with pytest.raises(ConfigurationError, match=f"open to group or others \\(mode 0{mode:o}\\)"):
        _settings(tmp_path).signing_key()


@pytest.mark.usefixtures("no_key")
def test_a_key_file_that_is_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real-key"
    real.write_text(KEY)
    real.chmod(0o600)
    (tmp_path / ".newsletter-secret").symlink_to(real)
    with pytest.raises(ConfigurationError, match="is a symbolic link: refused"):
        _settings(tmp_path).signing_key()
    (tmp_path / ".newsletter-secret").unlink()
    (tmp_path / ".newsletter-secret").symlink_to(tmp_path / "nowhere")  # dangling: not made
    with pytest.raises(ConfigurationError, match="is a symbolic link: refused"):
        _settings(tmp_path).signing_key()
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.usefixtures("no_key")
def test_a_key_file_under_32_bytes_is_refused(tmp_path: Path) -> None:
    made = tmp_path / ".newsletter-secret"
    made.write_text("short-key\n")
    made.chmod(0o600)
    with pytest.raises(ConfigurationError, match="9-byte key: it must be at least 32 bytes"):
        _settings(tmp_path).signing_key()


@pytest.mark.usefixtures("no_key")
@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://news@db.internal/newsletter", "sqlite://", "sqlite:///:memory:"],
)
def test_without_a_data_folder_the_operator_must_choose_a_key(url: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings(database_url=url).signing_key()
    assert "set NEWSLETTER_SECRET_KEY" in str(refused.value)
    assert "NEWSLETTER_SECRET_KEY_FILE" in str(refused.value)


def test_the_command_line_says_where_it_made_a_key_once(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("newsletter")
    data = tmp_path / "data"
    env = {
        "PATH": str(script.parent),
        "PYTHONPATH": str(ROOT),  # this checkout's code, whichever the script was installed from
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{data / 'n.db'}",
    }
    said = []
    for name in ("data", "elsewhere"):
        (tmp_path / name).mkdir(exist_ok=True)
        done = subprocess.run(
            [str(script), "subscribers", "send-confirmations"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path / name,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        said.append(done.stderr)
    made = data / ".newsletter-secret"
    assert (
        said[0].strip()
        == f"created a new secret key in {made} (keep it: every mailed link needs it)"
    )
    assert said[1] == ""
    assert not (tmp_path / "elsewhere" / ".newsletter-secret").exists()
