"""Write a brief in its canonical forms: JSON, YAML, or the newsroom's plain-text format.

Each output imports back to the same brief (the tests check the round trip).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal

import yaml

from newsletter.briefs.document import Brief, Narrative

ExportFormat = Literal["json", "yaml", "text"]


def brief_to_data(brief: Brief) -> dict[str, Any]:
    """The canonical mapping: defaults and empty values left out, dates as ISO text."""
    return brief.model_dump(mode="json", exclude_none=True, exclude_defaults=False)


def dump_brief(brief: Brief, fmt: ExportFormat) -> str:
    if fmt == "json":
        return json.dumps(brief_to_data(brief), ensure_ascii=False, indent=2) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(brief_to_data(brief), allow_unicode=True, sort_keys=False, width=100)
    return dump_plaintext(brief)


def _date_text(value: date) -> str:
    return f"{value:%b} {value.day}, {value.year}"


def dump_plaintext(brief: Brief) -> str:
    """The brief in the plain-text format, with a ``Slug:`` line so it re-imports in place.

    Lossless for briefs the text format can express (a forecast's figures and date must be
    stated in its first paragraph, establishment narratives come last); JSON and YAML always
    are.
    """
    out = [brief.title, "", f"    Last updated {_date_text(brief.updated)}"]
    out.append(f"    Slug: {brief.slug}")
    out.append(f"    Status: {brief.status}")
    if brief.topics:
        out.append("    Topics: " + ", ".join(brief.topics))
    if brief.image_url:
        out.append(f"    Image: {brief.image_url}")
    if brief.image_alt:
        out.append(f"    Image alt: {brief.image_alt}")
    if brief.image_credit:
        out.append(f"    Image credit: [{brief.image_credit}]")
    out.append("")
    for fact in brief.facts:
        out.append("    • " + fact.text + "".join(f"[{n}]" for n in fact.citations))
    for narrative in brief.narratives:
        if narrative.kind != "establishment":
            out += _narrative_text(narrative)
    establishment = brief.narratives_of("establishment")
    if establishment:
        out += ["", "    Establishment split"]
        for narrative in establishment:
            out += _narrative_text(narrative)
    if brief.sources:
        out += ["", "    Sources", ""]
        for source in brief.sources:
            parts = [f"[{source.number}]"]
            if source.label:
                parts.append(source.label + (":" if source.url else ""))
            if source.url:
                parts.append(source.url)
            out.append("    " + " ".join(parts))
    return "\n".join(out) + "\n"


def _narrative_text(narrative: Narrative) -> list[str]:
    out = ["", f"    {narrative.label}"]
    for paragraph in narrative.paragraphs:
        out += ["", "    " + paragraph]
    if narrative.url:
        out += ["", f"    Link: {narrative.url}"]
    return out
