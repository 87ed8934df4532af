"""The root `newsletter` command: names every command and group, imports none until used.

`COMMANDS` maps each name to where it is defined and its one-line help (see
:mod:`newsletter.cli.lazy`), so `newsletter --version` and `--help` start without importing
SQLAlchemy, FastAPI or the renderer. Adding a command group is one line here, e.g.::

    "deliverability": LazyCommand("newsletter.cli.deliverability:app", "First line of its help."),

(the summary is the first paragraph of the group's ``help=`` or the command's docstring;
tests/cli/test_startup.py fails when they disagree). The order is the order of `--help`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter import __version__
from newsletter.cli.common import console
from newsletter.cli.lazy import LazyCommand, LazyGroup

COMMANDS: dict[str, LazyCommand] = {
    "serve": LazyCommand(
        "newsletter.cli.serve:serve_command",
        "Serve the public pages, the archive and the editor (at /editor), and their APIs.",
    ),
    "demo": LazyCommand(
        "newsletter.cli.demo:demo_command",
        "Run the main job end to end on the configured (by default embedded) database.",
    ),
    "render": LazyCommand(
        "newsletter.cli.render:render_command",
        "Compile briefs into DIR/<variant>.html, .txt and .mjml; print subject, size and warnings.",
    ),
    "send": LazyCommand(
        "newsletter.cli.sending:send_command",
        "Freeze a campaign (compile its variants, queue its recipients) and send it now.",
    ),
    "worker": LazyCommand(
        "newsletter.cli.sending:worker_command",
        "Send every campaign that is sending; run as many as you like against PostgreSQL.",
    ),
    "scheduler": LazyCommand(
        "newsletter.cli.sending:scheduler_command",
        "Start scheduled campaigns when they fall due (safe to run as several copies).",
    ),
    "report": LazyCommand(
        "newsletter.cli.report:app",
        "A campaign's report (`report CAMPAIGN`), or the list's health over time "
        "(`report health`).",
    ),
    "briefs": LazyCommand("newsletter.cli.briefs:app", "Import, inspect and export briefs."),
    "db": LazyCommand("newsletter.cli.database:app", "Database schema management."),
    "subscribers": LazyCommand("newsletter.cli.subscribers:app", "Who receives the newsletter."),
    "segments": LazyCommand(
        "newsletter.cli.segments:app", "Named rules that pick subscribers (and their variant)."
    ),
    "welcome": LazyCommand(
        "newsletter.cli.welcome:app",
        "The welcome series: mails sent N days after a reader confirms.",
    ),
    "campaigns": LazyCommand(
        "newsletter.cli.campaigns:app", "Create campaigns and steer their sending."
    ),
    "digest": LazyCommand("newsletter.cli.campaigns:digest_app", "The weekly digest."),
    "config": LazyCommand("newsletter.cli.config:app", "Inspect the configuration."),
    "editors": LazyCommand("newsletter.cli.editors:app", "Editor accounts of the web app."),
    "apikeys": LazyCommand(
        "newsletter.cli.apikeys:app", "API keys for /api/v1 (scoped, shown once)."
    ),
    "dkim": LazyCommand(
        "newsletter.cli.deliverability:dkim_app", "The DKIM key that signs SMTP and outbox mail."
    ),
    "domain": LazyCommand(
        "newsletter.cli.deliverability:domain_app",
        "Sending domains: their DNS records and their warm-up.",
    ),
    "bounces": LazyCommand(
        "newsletter.cli.bounces:app", "Bounces and complaints for SMTP and outbox sends."
    ),
    "webhooks": LazyCommand(
        "newsletter.cli.webhooks:app", "Outbound webhooks: signed events for other systems."
    ),
    "events": LazyCommand(
        "newsletter.cli.events:app",
        "Tracking events: how long they are kept (partitions, pruning).",
    ),
}


class RootGroup(LazyGroup):
    """The `newsletter` group: every command of :data:`COMMANDS`, loaded on first use."""

    lazy_commands = COMMANDS


app = typer.Typer(
    cls=RootGroup,
    help="Turn news briefs into personalised email newsletters and deliver them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"newsletter {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """newsletter: briefs in, newsletters out."""


def main() -> None:
    """Console-script entry point."""
    app()
