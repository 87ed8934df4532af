"""The Jinja2 environments of the email templates, and template errors as :class:`RenderError`.

Three environments share one set of filters:

- ``mjml`` (``*.mjml.j2``): autoescaped, because MJML is HTML where user text is concerned;
- ``text`` (``*.txt.j2``): not escaped, for the plain-text part;
- ``sandbox``: for the subject and preheader templates a segment stores (editors write
  them, so they run in Jinja's sandbox).

Every printed value that is not :class:`~markupsafe.Markup` is user text: it is made unable
to act as a placeholder (:func:`~newsletter.placeholders.neutralise`), then escaped in the
MJML environment. ``Markup`` marks our own values (placeholders, signed-URL links, anchors),
which contain nothing that needs escaping, so they print the same in HTML and text.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import (
    BaseLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
)
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from newsletter.errors import RenderError
from newsletter.placeholders import neutralise
from newsletter.render.template_problems import explain
from newsletter.resources import data_path

TEXT_WIDTH = 72


def templates_dir() -> Path:
    return data_path("templates") / "email"


def trusted(text: str) -> Markup:
    """One of our own values (placeholder, signed-URL link, anchor) marked as such.

    It must hold nothing HTML would escape, so that it prints the same in both parts.
    """
    if escape(text) != text:
        raise ValueError(f"{text!r} needs escaping: it cannot be printed unescaped")
    return Markup(text)  # noqa: S704 (checked above: nothing to escape)


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return neutralise(value)
    return value


def long_date(value: date) -> str:
    """``24 March 2023``: the same in every locale the process may run under."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def short_date(value: date) -> str:
    """``24 Mar 2023``."""
    return f"{value.day} {_MONTHS[value.month - 1][:3]} {value.year}"


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def wrap(text: str, first: str = "", rest: str | None = None, width: int = TEXT_WIDTH) -> str:
    """Fold ``text`` for a terminal: ``first`` prefixes the first line, ``rest`` the others.

    URLs and long words are never broken, so they stay clickable.
    """
    return textwrap.fill(
        " ".join(text.split()),
        width=width,
        initial_indent=first,
        subsequent_indent=first if rest is None else rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def paragraphs(text: str | None) -> list[str]:
    """Blank-line separated paragraphs of plain text, inner whitespace folded."""
    if not text:
        return []
    blocks = text.replace("\r\n", "\n").split("\n\n")
    return [" ".join(block.split()) for block in blocks if block.strip()]


def markers(citations: Iterable[Any]) -> str:
    """Citation numbers as the text part writes them: ``[1][3]``."""
    return "".join(f"[{c.number}]" for c in citations)


_FILTERS: dict[str, Callable[..., Any]] = {
    "markers": markers,
    "long_date": long_date,
    "short_date": short_date,
    "wrap": wrap,
    "paragraphs": paragraphs,
}


def _configure(env: Environment) -> Environment:
    env.filters.update(_FILTERS)
    return env


@lru_cache(maxsize=4)
def _file_environment(folder: Path, autoescape: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=autoescape,  # noqa: S701 (off only for the plain-text part)
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    return _configure(env)


def mjml_environment(folder: Path | None = None) -> Environment:
    """The autoescaping environment of the ``*.mjml.j2`` templates."""
    return _file_environment(folder or templates_dir(), True)


def text_environment(folder: Path | None = None) -> Environment:
    """The plain-text environment of the ``*.txt.j2`` templates."""
    return _file_environment(folder or templates_dir(), False)


# What a stored template may build with ``*`` and ``**`` (Jinja would otherwise compute
# ``'x' * 10**9`` while compiling the template, before any output bound can act).
MAX_BUILT_LENGTH = 10_000
MAX_EXPONENT = 64
MAX_BITS = 4096


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox, with ``*`` and ``**`` refused past sizes no subject or preheader needs."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _too_big_power(left, right):
            raise ValueError(f"a power above 2**{MAX_BITS} is not allowed here")
        if operator == "*":
            for sized, times in ((left, right), (right, left)):
                if (
                    isinstance(sized, str | list | tuple)
                    and isinstance(times, int)
                    and len(sized) * times > MAX_BUILT_LENGTH
                ):
                    raise ValueError(f"would build more than {MAX_BUILT_LENGTH} items")
        return super().call_binop(context, operator, left, right)


def _too_big_power(base: Any, exponent: Any) -> bool:
    if not isinstance(base, int) or not isinstance(exponent, int):
        return False
    return abs(exponent) > MAX_EXPONENT or base.bit_length() * abs(exponent) > MAX_BITS


@lru_cache(maxsize=1)
def sandbox() -> SandboxedEnvironment:
    """Where segment-written subject and preheader templates run."""
    env = _BoundedSandbox(
        loader=BaseLoader(), undefined=StrictUndefined, finalize=_finalize, autoescape=False
    )
    _configure(env)
    return env


def render(env: Environment, name: str, context: dict[str, Any]) -> str:
    """Render template ``name``; any failure becomes a :class:`RenderError` naming a line."""
    try:
        template = env.get_template(name)
        return template.render(context)
    except TemplateSyntaxError as exc:
        raise RenderError(exc.name or name, exc.lineno, exc.message or str(exc)) from exc
    except TemplateNotFound as exc:
        raise RenderError(name, None, f"template not found: {exc.name}") from exc
    except Exception as exc:
        template_name, line = _template_frame(exc.__traceback__, name)
        raise RenderError(template_name, line, f"{type(exc).__name__}: {exc}") from exc


def render_string(source: str, context: dict[str, Any], *, name: str, max_length: int) -> str:
    """Render a stored template string (subject, preheader) in the sandbox.

    The output is read piece by piece and refused once longer than ``max_length``, so a loop
    cannot build a huge text first.
    """
    try:
        return "".join(_pieces(_sandboxed(source), context, name, max_length))
    except TemplateSyntaxError as exc:
        raise template_error(name, source, exc.lineno, exc.message or str(exc)) from exc
    except (TemplateError, ArithmeticError, TypeError, ValueError, AttributeError) as exc:
        _, line = _template_frame(exc.__traceback__, "<template>")
        raise template_error(name, source, line, f"{type(exc).__name__}: {exc}") from exc


def template_error(name: str, source: str, line: int | None, message: str) -> RenderError:
    """A stored template's error (``name``: subject, preheader), with the mistake in words
    and its place for the editor's pages."""
    filters = _sandbox_filters()
    problem = explain(name, source, message, line, filters=filters)
    return RenderError(name, line, message, problem=problem)


@lru_cache(maxsize=1)
def _sandbox_filters() -> tuple[str, ...]:
    return tuple(sorted(sandbox().filters))


def _pieces(template: Template, context: dict[str, Any], name: str, limit: int) -> Iterator[str]:
    length = 0
    for piece in template.generate(context):
        length += len(piece)
        if length > limit:
            raise RenderError(name, None, f"the rendered {name} is longer than {limit} characters")
        yield piece


@lru_cache(maxsize=256)
def _sandboxed(source: str) -> Template:
    return sandbox().from_string(source)


def _template_frame(tb: TracebackType | None, default: str) -> tuple[str, int | None]:
    """The innermost template frame of a traceback (Jinja maps its frames to template lines)."""
    found: tuple[str, int | None] = (default, None)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2") or filename == "<template>":
            found = (_display_name(filename, default), tb.tb_lineno)
        tb = tb.tb_next
    return found


def _display_name(filename: str, default: str) -> str:
    """A template file as the loader names it (``partials/brief.mjml.j2``)."""
    if not filename.endswith(".j2"):
        return default
    path = Path(filename)
    try:
        return path.relative_to(templates_dir()).as_posix()
    except ValueError:
        return path.name
