"""The segment form's conditions ⇄ a segment rule's JSON (which stays what is stored).

The form has one fieldset per rule kind (status, topics, narratives, source, signup and
confirmation dates, a custom attribute, opened, clicked), each optional and each with a
"not" box, joined by "all of" or "any of". A rule the form cannot show (nested groups, a
kind used twice) is edited as JSON instead; either way the rule is checked by
:func:`subscribers.segments.parse_rule` before anything is stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from newsletter.errors import InvalidInput
from newsletter.untrusted import MalformedInput, load_json, reject_nul_in
from subscribers.model import STATUSES
from subscribers.segments import parse_rule

KINDS = ("status", "topics", "narratives", "source", "created", "confirmed", "attribute")
ENGAGEMENT_KINDS = ("opened", "clicked")
FORM_KINDS = (*KINDS, *ENGAGEMENT_KINDS)
NARRATIVES = ("all", "facts-only", "no-forecast")
_LIST = re.compile(r"[;,|\n]")
FormValues = dict[str, str | list[str]]


def split_list(text: str) -> list[str]:
    """The items typed in one box, separated by commas, semicolons, bars or new lines."""
    return [part.strip() for part in _LIST.split(text) if part.strip()]


def whole_number(text: str, max_digits: int = 6) -> int | None:
    """``text`` as a whole number written with ASCII digits (``²`` and ``٣`` are not), or
    ``None``."""
    if not (text.isascii() and text.isdigit()) or len(text) > max_digits:
        return None
    return int(text)


def _number(values: Mapping[str, Any], field: str) -> int | None:
    text = str(values.get(field) or "").strip()
    if not text:
        return None
    number = whole_number(text)
    if number is None:
        raise InvalidInput(field, f"{text[:20]!r} is not a whole number of days")
    return number


def _choices(values: Mapping[str, Any], field: str) -> list[str]:
    chosen = values.get(field) or []
    return [chosen] if isinstance(chosen, str) else list(chosen)


def _days_rule(kind: str, values: Mapping[str, Any]) -> dict[str, Any] | None:
    rule: dict[str, Any] = {"type": kind}
    for part in ("within_days", "older_than_days"):
        number = _number(values, f"{kind}_{part}")
        if number is not None:
            rule[part] = number
    return rule if len(rule) > 1 else None


def _attribute_rule(values: Mapping[str, Any]) -> dict[str, Any] | None:
    key = str(values.get("attribute_key") or "").strip()
    if not key:
        return None
    test = values.get("attribute_test") or "equals"
    if test == "exists":
        return {"type": "attribute", "key": key, "exists": True}
    if test == "missing":
        return {"type": "attribute", "key": key, "exists": False}
    return {"type": "attribute", "key": key, "equals": str(values.get("attribute_value") or "")}


def _engaged_rule(kind: str, values: Mapping[str, Any]) -> dict[str, Any] | None:
    days = _number(values, f"{kind}_within_days")
    return None if days is None else {"type": kind, "within_days": days}


_BUILDERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any] | None]] = {
    "status": lambda v: {"type": "status", "in": s} if (s := _choices(v, "status_in")) else None,
    "topics": lambda v: (
        {"type": "topics", ("all" if v.get("topics_match") == "all" else "any"): t}
        if (t := split_list(str(v.get("topics_list") or "")))
        else None
    ),
    "narratives": lambda v: (
        {"type": "narratives", "in": n} if (n := _choices(v, "narratives_in")) else None
    ),
    "source": lambda v: (
        {"type": "source", "in": s} if (s := split_list(str(v.get("source_list") or ""))) else None
    ),
    "created": lambda v: _days_rule("created", v),
    "confirmed": lambda v: _days_rule("confirmed", v),
    "attribute": _attribute_rule,
    "opened": lambda v: _engaged_rule("opened", v),
    "clicked": lambda v: _engaged_rule("clicked", v),
}


def rule_from_form(values: Mapping[str, Any]) -> dict[str, Any]:
    """The rule the form describes, validated; ``everyone`` when no condition is filled."""
    if values.get("mode") == "json":
        return rule_from_json(str(values.get("rule_json") or ""))
    parts: list[dict[str, Any]] = []
    for kind in FORM_KINDS:
        rule = _BUILDERS[kind](values)
        if rule is not None:
            parts.append({"type": "not", "rule": rule} if values.get(f"{kind}_not") else rule)
    if not parts:
        rule = {"type": "everyone"}
    elif len(parts) == 1:
        rule = parts[0]
    else:
        rule = {"type": "any" if values.get("join") == "any" else "all", "rules": parts}
    return _checked(rule)


def _checked(rule: dict[str, Any]) -> dict[str, Any]:
    """The rule if it parses and holds no NUL (PostgreSQL takes none, even in a preview)."""
    parse_rule(rule)
    reject_nul_in(rule, "rule")
    return rule


def rule_from_json(text: str) -> dict[str, Any]:
    try:
        value = load_json(text, field="rule")
    except MalformedInput as exc:
        raise InvalidInput("rule", f"is not valid JSON ({exc.reason})") from None
    if not isinstance(value, dict):
        raise InvalidInput("rule", "must be a JSON object with a 'type'")
    return _checked(dict(value))


def form_from_rule(rule: Mapping[str, Any]) -> FormValues | None:
    """The form's values for a stored rule, or ``None`` when only JSON can show it."""
    if rule.get("type") == "everyone":
        return {"join": "all"}
    join = rule.get("type")
    parts = list(rule.get("rules") or []) if join in ("all", "any") else [rule]
    values: FormValues = {"join": "any" if join == "any" else "all"}
    for part in parts:
        negated = part.get("type") == "not"
        leaf = part.get("rule") if negated else part
        if not isinstance(leaf, dict) or not _fill(values, leaf):
            return None
        if negated:
            values[f"{leaf['type']}_not"] = "1"
    return values


def _fill(values: FormValues, leaf: Mapping[str, Any]) -> bool:
    kind = leaf.get("type")
    if kind not in FORM_KINDS or any(key.startswith(f"{kind}_") for key in values):
        return False
    if kind in ("status", "narratives"):
        values[f"{kind}_in"] = [str(v) for v in leaf["in"]]
    elif kind == "topics":
        values["topics_match"] = "all" if "all" in leaf else "any"
        values["topics_list"] = ", ".join(leaf.get("all") or leaf.get("any") or [])
    elif kind == "source":
        values["source_list"] = ", ".join(leaf["in"])
    elif kind in ("created", "confirmed", *ENGAGEMENT_KINDS):
        if leaf.get("after") or leaf.get("before"):
            return False
        for part in ("within_days", "older_than_days"):
            if leaf.get(part) is not None:
                values[f"{kind}_{part}"] = str(leaf[part])
    else:
        return _fill_attribute(values, leaf)
    return True


def _fill_attribute(values: FormValues, leaf: Mapping[str, Any]) -> bool:
    if leaf.get("in") is not None or not isinstance(leaf.get("equals", ""), str):
        return False
    values["attribute_key"] = str(leaf["key"])
    if leaf.get("exists") is not None:
        values["attribute_test"] = "exists" if leaf["exists"] else "missing"
    else:
        values["attribute_test"] = "equals"
        values["attribute_value"] = str(leaf.get("equals", ""))
    return True


def shown_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


STATUS_CHOICES = STATUSES
