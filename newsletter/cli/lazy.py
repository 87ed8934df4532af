"""A command group that imports a command's module only when that command runs.

The command modules import SQLAlchemy, FastAPI, the renderer …: importing all of them made
`newsletter --version` take seconds. :class:`LazyGroup` knows each command by a static
:class:`LazyCommand` (where it lives and its one-line help), so `--help` lists every command
without importing any, and running a command imports only its own module.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, ClassVar

import typer
from typer._click.core import Command, Context  # typer vendors click since 0.20
from typer._click.exceptions import UsageError
from typer.core import TyperCommand

from newsletter.cli.common import ErrorReportingGroup


@dataclass(frozen=True)
class LazyCommand:
    """Where a command is defined ("package.module:attribute") and its one-line help.

    The attribute is a ``typer.Typer`` (a command group) or a command function. ``summary``
    must be the first paragraph of the command's help: a test checks that they agree.
    """

    target: str
    summary: str

    def load(self, name: str) -> Command:
        """Import the target and build its click command as ``add_typer``/``command`` would."""
        module_name, _, attribute = self.target.partition(":")
        found = getattr(importlib.import_module(module_name), attribute)
        holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        if isinstance(found, typer.Typer):
            holder.add_typer(found, name=name)
            group = typer.main.get_group(holder)
            return group.commands[name]
        holder.command(name)(found)
        return typer.main.get_command(holder)


class LazyGroup(ErrorReportingGroup):
    """:class:`ErrorReportingGroup` whose commands (in ``lazy_commands``) load on first use."""

    lazy_commands: ClassVar[Mapping[str, LazyCommand]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._summaries_only = False

    def list_commands(self, ctx: Context) -> list[str]:
        eager = super().list_commands(ctx)
        return eager + [name for name in self.lazy_commands if name not in eager]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        entry = self.lazy_commands.get(cmd_name)
        if command is not None or entry is None:
            return command
        if self._summaries_only:
            return TyperCommand(name=cmd_name, help=entry.summary)
        command = entry.load(cmd_name)
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: Context, formatter: Any) -> None:
        with self._listing():
            super().format_help(ctx, formatter)

    @contextmanager
    def _listing(self) -> Iterator[None]:
        """While help is written, commands not yet loaded stand in by their summary."""
        self._summaries_only = True
        try:
            yield
        finally:
            self._summaries_only = False

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        """Typer suggests close names from the loaded commands only: offer the lazy ones too."""
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches and "Did you mean" not in exc.message:
                suggestions = ", ".join(f"{m!r}" for m in matches)
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {suggestions}?"
            raise
