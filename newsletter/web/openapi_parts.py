"""One app, several OpenAPI documents: the public one, and one per API kept apart from it.

FastAPI generates one document for every route. :func:`split_openapi` makes the public
``/openapi.json`` leave out the paths under each separate prefix (the editor API, the
newsroom API ``/api/v1``); each of those is served by its own route as :func:`openapi_part`
returns it: only its paths and the component schemas they use, its own title, and whatever
its ``finish`` adds.
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
            document = _with_used_components({**full, "paths": paths})
            if prefix is not None:
                part = self._parts[prefix]
                document["info"] = {**full["info"], "title": part.title}
                document = part.finish(document)
            self._documents[prefix] = document
        return self._documents[prefix]

    def _part_of(self, path: str) -> str | None:
        return next((p for p in self._parts if path.startswith(p + "/")), None)


def _with_used_components(document: Document) -> Document:
    """``document`` keeping only the component schemas its paths refer to, directly or
    through other schemas: each part describes its own models, not every API's."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    used: set[str] = set()
    pending: list[Any] = [document["paths"]]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_SCHEMA_REF):
                name = ref.removeprefix(_SCHEMA_REF)
                if name not in used and name in schemas:
                    used.add(name)
                    pending.append(schemas[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    if "components" not in document:
        return document
    components = {**document["components"]}
    components["schemas"] = {name: schemas[name] for name in schemas if name in used}
    if not components["schemas"]:
        del components["schemas"]
    return {**document, "components": components}


_SCHEMA_REF = "#/components/schemas/"


def split_openapi(app: FastAPI, parts: Mapping[str, Part]) -> None:
    """Install the parts: ``app.openapi()`` (``/openapi.json``) becomes the public one."""
    split = OpenApiParts(app.openapi, parts)
    app.state.openapi_parts = split
    app.openapi = lambda: split.document(None)  # type: ignore[method-assign]


def openapi_part(request: Request, prefix: str) -> Document:
    return cast(OpenApiParts, request.app.state.openapi_parts).document(prefix)
