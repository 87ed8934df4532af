"""One app, several OpenAPI documents: the public one, and one per API kept apart from it.

FastAPI generates one document for every route. :func:`split_openapi` makes the public
``/openapi.json`` leave out the paths under each separate prefix (the editor API, the
newsroom API ``/api/v1``); each of those is served by its own route as :func:`openapi_part`
returns it: only its paths, its own title, and whatever its ``finish`` adds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from fastapi import FastAPI, Request

Document = dict[str, Any]


@dataclass(frozen=True)
class Part:
    title: str
    finish: Callable[[Document], Document] = lambda document: document


class OpenApiParts:
    def __init__(self, full: Callable[[], Document], parts: Mapping[str, Part]) -> None:
        self._full = full
        self._parts = dict(parts)
        self._documents: dict[str | None, Document] = {}

    def document(self, prefix: str | None) -> Document:
        """The part under ``prefix`` (``None``: the public document, every other path)."""
        if prefix not in self._documents:
            full = self._full()
            paths = {
                path: item
                for path, item in full.get("paths", {}).items()
                if self._part_of(path) == prefix
            }
            document = {**full, "paths": paths}
            if prefix is not None:
                part = self._parts[prefix]
                document["info"] = {**full["info"], "title": part.title}
                document = part.finish(document)
            self._documents[prefix] = document
        return self._documents[prefix]

    def _part_of(self, path: str) -> str | None:
        return next((p for p in self._parts if path.startswith(p + "/")), None)


def split_openapi(app: FastAPI, parts: Mapping[str, Part]) -> None:
    """Install the parts: ``app.openapi()`` (``/openapi.json``) becomes the public one."""
    split = OpenApiParts(app.openapi, parts)
    app.state.openapi_parts = split
    app.openapi = lambda: split.document(None)  # type: ignore[method-assign]


def openapi_part(request: Request, prefix: str) -> Document:
    return cast(OpenApiParts, request.app.state.openapi_parts).document(prefix)
