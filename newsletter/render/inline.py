"""CSS inlining with premailer: only the template's own inline CSS, media queries kept.

MRML leaves ``<mj-style inline="inline">`` as an ordinary ``<style>`` block. That block is
taken out and handed to premailer as ``css_text``; every other ``<style>`` (MJML's reset,
its column widths, our ``@media`` rules for mobile and dark mode) is marked
``data-premailer="ignore"`` and stays as it is. Inlining MJML's reset onto every cell would
make every message much larger (``docs/benchmarks.md``, Rendering). Network access is off:
nothing is fetched while rendering.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from premailer import Premailer

from newsletter.errors import RenderError

_IGNORE = '<style data-premailer="ignore" '
_LOWER_DOCTYPE = "<!doctype html>"


class _Inliner(Premailer):  # type: ignore[misc]  # premailer ships no type hints
    """Premailer that parses a given stylesheet once, not on every email.

    Premailer caches the parsed CSS but re-serialises every property of it on each
    ``transform``: half of its time with our small stylesheet.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._rules: dict[tuple[str, int], tuple[list[Any], list[Any]]] = {}

    def _parse_style_rules(self, css_body: str, ruleset_index: int) -> tuple[list[Any], list[Any]]:
        key = (css_body, ruleset_index)
        if key not in self._rules:
            self._rules[key] = super()._parse_style_rules(css_body, ruleset_index)
        return self._rules[key]


@lru_cache(maxsize=8)
def _inliner(css: str) -> _Inliner:
    return _Inliner(
        css_text=[css],
        allow_network=False,
        disable_validation=True,
        disable_leftover_css=True,
        cssutils_logging_level=logging.CRITICAL,
        exclude_pseudoclasses=True,
        strip_important=False,
        remove_unset_properties=True,
        align_floating_images=False,
    )


def inline_css(html: str, css: str, *, template: str) -> str:
    """``html`` with ``css`` applied as ``style`` attributes; ``css`` must be in it verbatim."""
    block = f'<style type="text/css">{css}</style>'
    if block not in html:
        raise RenderError(template, None, "the inline CSS block is missing from MJML's output")
    body = html.replace(block, "", 1).replace("<style ", _IGNORE)
    out: str = _inliner(css).transform(body, pretty_print=False)
    # premailer drops the lower-case doctype MJML writes; style tags inside Outlook's
    # conditional comments are comments to it, so their marker is removed here.
    out = out.replace(_IGNORE, "<style ")
    if not out.lstrip().lower().startswith("<!doctype"):
        out = f"{_LOWER_DOCTYPE}{out}"
    return out
