"""MJML → HTML with MRML (``mjml-python``); its errors become a :class:`RenderError` with a line.

MRML reports a failure as a plain ``ValueError``, sometimes with a byte range
(``… at position 99:109``); the line is computed from that range so the message points
into the MJML the Jinja templates produced (``newsletter render`` writes it next to the
HTML). MRML does not validate: the tests run the official compiler in strict mode.
"""

from __future__ import annotations

import re

import mjml as mrml

from newsletter.errors import RenderError

_POSITION = re.compile(r"at position (\d+):(\d+)")


def mjml_to_html(source: str, *, template: str) -> str:
    """Compile one MJML document; ``template`` names the Jinja template it came from."""
    try:
        return mrml.mjml2html(source, disable_comments=False, fonts={})
    except ValueError as exc:
        message = str(exc)
        line = None
        match = _POSITION.search(message)
        if match:
            start = int(match.group(1))
            line = source.encode()[:start].count(b"\n") + 1
            snippet = source.encode()[start : int(match.group(2))].decode(errors="replace")
            message = f"{message} near {snippet!r}"
        raise RenderError(f"{template} (compiled MJML)", line, f"MJML: {message}") from exc
