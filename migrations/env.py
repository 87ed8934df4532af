"""Alembic environment: runs on the connection the application hands over, or on the URL
from ``NEWSLETTER_DATABASE_URL`` when a developer runs ``alembic`` by hand."""

from __future__ import annotations

from alembic import context

# Imported for their side effect: each registers its tables on Base.metadata.
import campaigns.events
import campaigns.model
import campaigns.rollups
import campaigns.welcome_model  # noqa: F401
import newsletter.apikeys.model
import newsletter.briefs.model
import newsletter.editors.model
import newsletter.webhooks.model  # noqa: F401
import subscribers.model  # noqa: F401
from newsletter.config import get_settings
from newsletter.db import Base, make_engine
from newsletter.migrate import comparison_options

metadata = Base.metadata

config = context.config


def run_migrations(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        **comparison_options(connection),  # type: ignore[arg-type]
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = make_engine(get_settings().database_url)
    with engine.begin() as conn:
        run_migrations(conn)
