"""Shared fixtures: a clean environment per test, and real databases (SQLite and PostgreSQL).

Every test that asks for ``db`` (or ``database_url``) runs once on SQLite and, when
``NEWSLETTER_TEST_POSTGRES_URL`` is set, once more on PostgreSQL in a schema of its own.
With ``CI=true`` an unreachable PostgreSQL fails the run instead of skipping it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from newsletter.config import get_settings
from newsletter.db import Database, open_database

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parent.parent
SEED_BRIEF = ROOT / "examples" / "briefs" / "000_a021a2f2923e46e5.txt"

# Hypothesis' per-example deadline and its "data generation too slow" check time this shared
# 2-core machine's load, not the code under test (a VERP property test failed on a 200 ms
# deadline in a loaded run): off for every property test; each still runs its examples.
hypothesis_settings.register_profile(
    "newsletter", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("newsletter")

POSTGRES_URL = os.environ.get("NEWSLETTER_TEST_POSTGRES_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"
_BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


def _check_postgres() -> str | None:
    if not POSTGRES_URL:
        return "NEWSLETTER_TEST_POSTGRES_URL is not set" if IN_CI else None
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {make_url(POSTGRES_URL).render_as_string()} is unreachable: {exc}"
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    from campaigns.wiring import wire_extensions

    wire_extensions()  # as the web app and the CLI do when they are built
    problem = _check_postgres()
    if problem and IN_CI:
        pytest.exit(f"CI=true but {problem}: refusing to skip the PostgreSQL tests", returncode=3)
    if problem:
        raise pytest.UsageError(problem)


def pytest_report_header(config: pytest.Config) -> str:
    return "database backends: " + ", ".join(_BACKENDS)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No NEWSLETTER_* setting leaks in from the developer's shell; cwd is a fresh folder."""
    for name in list(os.environ):
        if name.startswith("NEWSLETTER_") and name != "NEWSLETTER_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "test-secret-key-0123456789abcdef")
    # Tests send through fake SMTP/SendGrid servers on loopback (http, no postal address);
    # tests of the compliance refusals turn the checks back on.
    monkeypatch.setenv("NEWSLETTER_COMPLIANCE_CHECKS", "0")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(params=_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend; PostgreSQL gets a throw-away schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A migrated database, also configured as the application's (for CLI and web tests)."""
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", database_url)
    get_settings.cache_clear()
    database = open_database(database_url)
    try:
        yield database
    finally:
        database.dispose()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "artifacts"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM:
        return
    skip = pytest.mark.skip(
        reason="Debian's chromium is missing (apt-get install chromium): browser tests skipped"
    )
    browser_items = [item for item in items if "browser" in item.keywords]
    for item in browser_items:
        item.add_marker(skip)
    if browser_items:
        config.issue_config_time_warning(
            pytest.PytestWarning(
                f"chromium not found: {len(browser_items)} browser tests will be skipped"
            ),
            stacklevel=2,
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium driven by Playwright (its own browser download is not used)."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "browser tests need chromium"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture(autouse=True)
def _no_loop_left_running_by_playwright(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that use no browser run without Playwright's event loop marked as running.

    Playwright's sync API marks its loop as the main thread's running loop after every call
    (``_sync_base.py`` does it on purpose), and the session's browser keeps it so: code a later
    test runs on the main thread (``asyncio.run``) then fails only in a full run. Browser tests
    keep the mark, which Playwright's own loop needs between calls.
    """
    if "browser" in request.fixturenames:
        yield
        return
    left = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(left)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """A folder under ./artifacts kept after the run (screenshots, rendered emails)."""
    folder = ARTIFACTS / request.node.module.__name__.rsplit(".", 1)[-1]
    folder.mkdir(parents=True, exist_ok=True)
    return folder
