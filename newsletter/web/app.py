"""The FastAPI app factory: the shell that puts every package's routes into one web app.

``create_app`` opens (and migrates) the configured database, builds the page templates,
installs the error handlers, the body-size limit and the reading of proxy headers, and
includes the routers of the packages. Packages never build apps themselves; they export a
router plus what it needs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from campaigns.routes import WEBHOOK_PATH, TrackingSite
from campaigns.routes import router as tracking_router
from campaigns.wiring import wire_extensions
from newsletter import __version__
from newsletter.config import Settings, get_settings
from newsletter.db import Database, open_database, open_read_database
from newsletter.errors import ConfigurationError
from newsletter.gc_tuning import tune_for_serving
from newsletter.web.api_v1 import V1_PART, install_api_v1
from newsletter.web.api_v1.routes import V1_PREFIX
from newsletter.web.archive import Archive
from newsletter.web.archive import router as archive_router
from newsletter.web.editor.api import API_PREFIX
from newsletter.web.editor.auth import BRIEF_FORM_PATHS
from newsletter.web.editor.install import (
    IMPORT_PATH,
    UPLOAD_PATH,
    editor_error_page,
    install_editor,
)
from newsletter.web.errors import install_error_handlers
from newsletter.web.home import router as home_router
from newsletter.web.limits import BodySizeLimit
from newsletter.web.openapi_parts import Part, split_openapi
from newsletter.web.pages import page_templates
from newsletter.web.public_headers import PublicHeaders
from subscribers.keep_routes import router as keep_router
from subscribers.routes import PublicSite
from subscribers.routes import router as subscribers_router

log = logging.getLogger("newsletter.web")


def _reader(settings: Settings, database: Database) -> Database:
    """Where the editor's reports and counts read from. A read database that cannot be used
    (unreachable, or not yet at the code's schema, as during a deploy that migrated the
    primary a moment ago) must not take signups and unsubscribes down with it: the editor
    then reads from the main database, and the log says why."""
    try:
        return open_read_database(
            settings.read_database_url,
            database,
            pool_size=settings.database_pool_size,
            max_overflow=0,
            pool_timeout=30,
        )
    except ConfigurationError as exc:
        log.warning("reports and counts read from the main database: %s", exc)
        return database


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    """The web app for ``settings`` (default: from the environment).

    ``database`` lets a caller share an already open database (tests, the benchmark);
    otherwise the configured one is opened here and closed when the app shuts down. The
    editor's reports and counts read from ``NEWSLETTER_READ_DATABASE_URL`` when it is set.
    """
    settings = settings or get_settings()
    wire_extensions()
    owned = database is None
    database = database or open_database(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=0,
        pool_timeout=30,
    )
    reader = _reader(settings, database)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.public_site.close()
        if reader is not database:
            reader.dispose()
        if owned:
            database.dispose()

    app = FastAPI(
        title=settings.newsletter_name,
        version=__version__,
        summary="Subscribe, confirm, choose what to receive, unsubscribe; read the archive.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    pages = page_templates(settings)
    app.state.settings = settings
    app.state.database = database
    tracking_site = TrackingSite.build(settings, database)
    app.state.tracking_site = tracking_site
    app.state.public_site = PublicSite.build(
        settings, database, pages, on_unsubscribe=tracking_site.tracker.record_unsubscribe
    )
    app.state.archive = Archive.build(settings, database, pages)
    install_error_handlers(app, pages, error_page=editor_error_page)
    app.include_router(subscribers_router)
    app.include_router(keep_router)
    app.include_router(tracking_router)
    app.include_router(archive_router)
    app.include_router(home_router)
    install_editor(app, settings, database, pages, reader)
    install_api_v1(app, settings, database)
    split_openapi(app, {API_PREFIX: Part("Editor API"), V1_PREFIX: V1_PART})
    app.add_middleware(PublicHeaders, thank_you_url=settings.thank_you_url)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        larger={
            WEBHOOK_PATH: settings.webhook_max_body_bytes,
            UPLOAD_PATH: settings.editor_upload_max_bytes,
            IMPORT_PATH: settings.editor_import_max_bytes,
        },
        larger_matching=[
            *((path, settings.editor_brief_form_max_bytes) for path in BRIEF_FORM_PATHS),
            (re.escape(V1_PREFIX + "/"), settings.api_max_body_bytes),
        ],
    )
    # Outermost: the client address (X-Forwarded-For) and scheme (X-Forwarded-Proto) are
    # taken from the headers only when the peer is one of the configured proxies, whatever
    # server runs the app; every rate limit and the login throttle read the result.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    return app


def served_app() -> FastAPI:
    """The app as ``newsletter serve`` runs it: uvicorn calls this factory once in each
    server process, so it is that process's entry point, and tunes the garbage collector
    for serving (:func:`newsletter.gc_tuning.tune_for_serving`) once the app is built."""
    app = create_app()
    tune_for_serving()
    return app
