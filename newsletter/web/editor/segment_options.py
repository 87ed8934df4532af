"""The segment form's "what they read" fields ⇄ a segment's variant options (stored as JSON).

Every option of :class:`~newsletter.render.options.VariantOptions` has a field of its own
(topics, how many briefs, order, narratives, greeting, intro, subject, preheader), so an
editor never writes JSON. Each field's problem is reported against that field, all of them at
once; subject and preheader templates are parsed as the campaign form parses its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from pydantic import ValidationError

from campaigns.service import check_template
from newsletter.errors import InvalidInput, RenderError
from newsletter.render.options import BriefOrder, NarrativeDisplay, VariantOptions
from newsletter.web.editor.segment_rules import split_list, whole_number

PREFIX = "opt_"
NARRATIVE_LABELS: dict[str, str] = {
    "all": "every narrative, forecast included",
    "facts-only": "facts only, no narratives",
    "no-forecast": "narratives without the forecast",
}
ORDER_LABELS: dict[str, str] = {
    "campaign": "as the campaign lists them",
    "newest": "newest first",
    "topics": "by the topics above, in their order",
}
assert set(NARRATIVE_LABELS) == set(get_args(NarrativeDisplay))
assert set(ORDER_LABELS) == set(get_args(BriefOrder))
_OPTIONAL_TEXTS = ("intro", "subject", "preheader")
_TEMPLATES = ("subject", "preheader")


def form_from_options(stored: Mapping[str, Any] | None) -> dict[str, str]:
    """The fields' values for stored options (defaults filled in). Options stored before a
    rule they break existed show what can be read of them: each field that still validates
    alone, the rest at its default (the editor then saves valid options)."""
    try:
        options = VariantOptions.model_validate(dict(stored or {}))
    except ValidationError:
        options = VariantOptions.model_validate(_valid_parts(stored or {}))
    return {
        f"{PREFIX}topics": ", ".join(options.topics),
        f"{PREFIX}max_briefs": "" if options.max_briefs is None else str(options.max_briefs),
        f"{PREFIX}order": options.order,
        f"{PREFIX}narratives": options.narratives,
        f"{PREFIX}greeting": options.greeting,
        f"{PREFIX}name_fallback": options.name_fallback,
        **{f"{PREFIX}{name}": getattr(options, name) or "" for name in _OPTIONAL_TEXTS},
    }


def options_from_form(values: Mapping[str, Any]) -> dict[str, Any]:
    """The options the fields describe, as stored; :class:`InvalidInput` listing every
    field at fault (``options.<name>``). A field left out of the post keeps its default."""
    raw: dict[str, Any] = {}
    problems: list[InvalidInput] = []

    def text(name: str) -> str | None:
        value = values.get(f"{PREFIX}{name}")
        return value if isinstance(value, str) else None

    if topics := split_list(text("topics") or ""):
        raw["topics"] = topics
    count = (text("max_briefs") or "").strip()
    if count:
        number = whole_number(count, max_digits=3)
        if number is None:
            problems.append(InvalidInput("options.max_briefs", f"{count[:20]!r} is not a number"))
        else:
            raw["max_briefs"] = number
    for name in ("order", "narratives", "greeting", "name_fallback"):
        if (value := text(name)) is not None:
            raw[name] = value.strip() if name in ("order", "narratives") else value
    for name in _OPTIONAL_TEXTS:
        if (value := (text(name) or "").strip()) != "":
            raw[name] = value
    for name in _TEMPLATES:
        try:
            check_template(raw.get(name), name)
        except RenderError as exc:
            words = exc.problem.words if exc.problem else str(exc)
            problems.append(InvalidInput(f"options.{name}", words))
    try:
        options = VariantOptions.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_problems(exc))
    if problems:
        raise InvalidInput.collect(problems)
    return options.model_dump(mode="json")


def _valid_parts(stored: Mapping[str, Any]) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    for name, value in stored.items():
        try:
            VariantOptions.model_validate({name: value})
        except ValidationError:
            continue
        parts[name] = value
    return parts


def _problems(exc: ValidationError) -> list[InvalidInput]:
    found = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else ""
        found.append(InvalidInput(f"options.{name}" if name else "options", error["msg"]))
    return found
