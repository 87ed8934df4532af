"""The JSON Schema of the structured brief format, generated from the canonical model."""

from __future__ import annotations

from typing import Any

from newsletter.briefs.document import Brief


def brief_json_schema() -> dict[str, Any]:
    """The schema documented in ``docs/brief-format.md`` (validation mode: what files may hold)."""
    schema = Brief.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://newsletter.example/schemas/brief.json"
    return schema
