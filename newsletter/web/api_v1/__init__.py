"""``/api/v1``: the API the newsroom's systems call with scoped keys (see docs/api.md)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from newsletter.briefs.document import Brief
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.web.api_v1.auth import ApiSite, install_refusals
from newsletter.web.api_v1.routes import BRIEF_SCHEMA, V1_PREFIX, router
from newsletter.web.openapi_parts import Document, Part, openapi_part

OPENAPI_PATH = f"{V1_PREFIX}/openapi.json"


def install_api_v1(app: FastAPI, settings: Settings, database: Database) -> None:
    """The routes, the shared state and the refusal answers of ``/api/v1``."""
    app.state.api_v1 = ApiSite(settings=settings, database=database)
    install_refusals(app)
    app.include_router(router)

    @app.get(OPENAPI_PATH, include_in_schema=False)
    async def v1_openapi(request: Request) -> dict[str, Any]:
        """Published: describing the API gives nothing away that a key would protect."""
        return openapi_part(request, V1_PREFIX)


def _with_brief_schema(document: Document) -> Document:
    """Add the brief format's schema (the body of brief writes) to the components."""
    schema = Brief.model_json_schema(ref_template="#/components/schemas/brief.{model}")
    definitions = {f"brief.{name}": d for name, d in schema.pop("$defs", {}).items()}
    components = dict(document.get("components", {}))
    components["schemas"] = {
        **components.get("schemas", {}),
        **definitions,
        BRIEF_SCHEMA: schema,
    }
    return {**document, "components": components}


V1_PART = Part("Newsroom API", _with_brief_schema)
