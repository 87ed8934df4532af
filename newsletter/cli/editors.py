"""`newsletter editors …`: the accounts that may log in to the editor web app."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from newsletter.cli.common import console, opened_db
from newsletter.cli.listing import Column, ListFormat, ListFormatOption, print_listing
from newsletter.editors.accounts import create_editor, list_editors, set_active, set_password

app = typer.Typer(help="Editor accounts of the web app.", no_args_is_help=True)


class RoleChoice(StrEnum):
    editor = "editor"
    admin = "admin"


PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of standard input (for scripts).",
    ),
]


def read_password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@app.command("add")
def add_command(
    email: Annotated[str, typer.Argument(help="The editor's email address (their login).")],
    role: Annotated[
        RoleChoice, typer.Option(help="admin also manages editors and sees the settings.")
    ] = RoleChoice.editor,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add an editor account; asks for the password (argon2-hashed, never stored in clear)."""
    password = read_password(password_stdin)
    with opened_db() as database, database.transaction() as session:
        editor = create_editor(session, email, password, role.value)
        console.print(f"added {editor.role} {editor.email}", markup=False)


LIST_COLUMNS = (
    Column("email", identifier=True),
    Column("role"),
    Column("active"),
    Column(
        "last_login_at",
        "last login (UTC)",
        shown=lambda at: f"{at:%Y-%m-%d %H:%M}" if at else "never",
    ),
)


@app.command("list")
def list_command(fmt: ListFormatOption = ListFormat.table) -> None:
    """Every editor account, with its role and last login."""
    with opened_db() as database, database.transaction() as session:
        rows = [
            {
                "email": editor.email,
                "role": editor.role,
                "active": editor.active,
                "last_login_at": editor.last_login_at,
            }
            for editor in list_editors(session)
        ]
    print_listing(
        rows, LIST_COLUMNS, fmt, empty="no editors yet: try `newsletter editors add EMAIL`"
    )


@app.command("disable")
def disable_command(email: str) -> None:
    """Disable an account: it cannot log in, and its open sessions end."""
    with opened_db() as database, database.transaction() as session:
        editor = set_active(session, email, False)
        console.print(f"disabled {editor.email}", markup=False)


@app.command("enable")
def enable_command(email: str) -> None:
    """Enable a disabled account again."""
    with opened_db() as database, database.transaction() as session:
        editor = set_active(session, email, True)
        console.print(f"enabled {editor.email}", markup=False)


@app.command("password")
def password_command(email: str, password_stdin: PasswordStdin = False) -> None:
    """Set a new password (ends the account's sessions; its failed logins are forgotten)."""
    password = read_password(password_stdin)
    with opened_db() as database, database.transaction() as session:
        editor = set_password(session, email, password)
        console.print(f"new password set for {editor.email}", markup=False)
