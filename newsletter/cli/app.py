"""The root `newsletter` command: assembles the command groups of every package."""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter import __version__
from newsletter.cli import (
    bounces,
    briefs,
    campaigns,
    config,
    database,
    deliverability,
    demo,
    editors,
    render,
    report,
    segments,
    sending,
    serve,
    subscribers,
)
from newsletter.cli.common import ErrorReportingGroup, console

app = typer.Typer(
    cls=ErrorReportingGroup,
    help="Turn news briefs into personalised email newsletters and deliver them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(briefs.app, name="briefs")
app.add_typer(database.app, name="db")
app.add_typer(subscribers.app, name="subscribers")
app.add_typer(segments.app, name="segments")
app.command("serve")(serve.serve_command)
app.command("demo")(demo.demo_command)
app.command("render")(render.render_command)
app.add_typer(campaigns.app, name="campaigns")
app.add_typer(campaigns.digest_app, name="digest")
app.command("send")(sending.send_command)
app.command("worker")(sending.worker_command)
app.command("scheduler")(sending.scheduler_command)
app.command("report")(report.report_command)
app.add_typer(config.app, name="config")
app.add_typer(editors.app, name="editors")
app.add_typer(deliverability.dkim_app, name="dkim")
app.add_typer(deliverability.domain_app, name="domain")
app.add_typer(bounces.app, name="bounces")


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
