"""The bounded parsers of newsletter.untrusted: what they refuse, and that they say where."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsletter.errors import InvalidInput
from newsletter.untrusted import (
    MalformedInput,
    json_depth,
    load_json,
    load_yaml,
    reject_nul,
)


def test_json_within_the_depth_bound_loads() -> None:
    assert load_json(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    assert load_json("[" * 32 + "]" * 32, max_depth=32) is not None


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("[" * 33 + "]" * 33, 1, 33),  # parsed, then refused
        ("[" * 100_000 + "]" * 100_000, 1, 33),  # the parser's own RecursionError
        ('{"a": "[[[[",\n "b": ' + "[" * 40 + "]" * 40 + "}", 2, 38),  # brackets in text skipped
    ],
)
def test_too_deep_json_is_refused_at_the_bracket_that_goes_too_far(
    text: str, line: int, column: int
) -> None:
    with pytest.raises(MalformedInput) as info:
        load_json(text, field="body")
    assert (info.value.line, info.value.column) == (line, column)
    assert info.value.reason == f"nests deeper than 32 levels (line {line}, column {column})"
    assert isinstance(info.value, InvalidInput)


def test_bad_json_and_bad_utf8_are_located() -> None:
    with pytest.raises(MalformedInput, match=r"invalid JSON: Expecting value \(line 2, column 2\)"):
        load_json('{"a":\n }')
    with pytest.raises(MalformedInput, match=r"is not UTF-8 text \(line 2\)"):
        load_json(b'{"a":\n"\xff"}')


@given(st.recursive(st.none() | st.integers(), lambda kids: st.lists(kids, max_size=3)))
def test_json_depth_counts_the_nesting(value: object) -> None:
    text = json.dumps(value)
    depth = max(text[:i].count("[") - text[:i].count("]") for i in range(len(text) + 1))
    assert json_depth(value) == depth


def test_yaml_refuses_aliases_anchors_and_depth_with_the_line() -> None:
    with pytest.raises(MalformedInput) as alias:
        load_yaml("a: 1\nb: &x [1]\nc: *x\n")
    assert alias.value.reason == (
        "YAML anchors and aliases (& and *) are not allowed (line 2, column 4)"
    )
    with pytest.raises(MalformedInput) as deep:
        load_yaml("a:\n  b: " + "[" * 40 + "]" * 40)
    assert deep.value.line == 2 and "nests deeper than 32 levels" in deep.value.reason
    with pytest.raises(MalformedInput, match="longer than 10 characters"):
        load_yaml("a: 12345678", max_chars=10)


def test_yaml_keeps_dates_as_text() -> None:
    assert load_yaml("updated: 2026-02-30") == {"updated": "2026-02-30"}


def test_nul_is_refused_with_its_place() -> None:
    reject_nul("no nul here", "name")
    with pytest.raises(InvalidInput) as one_line:
        reject_nul("ab\0", "name")
    assert str(one_line.value) == "name: must not contain the NUL character U+0000 (character 3)"
    with pytest.raises(InvalidInput) as lines:
        reject_nul("first\nse\0cond", "intro")
    assert lines.value.reason.endswith("(line 2, column 3)")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"[18446744073709551616, -9223372036854775809]", [2**64, -(2**63) - 1]),  # stdlib's ints
        (b"[9223372036854775808, 1.5e300]", [2**63, 1.5e300]),
        (b'"\\ud800 alone"', "\ud800 alone"),  # a lone surrogate: orjson refuses, stdlib reads
        (b"[NaN, -Infinity, 1e400]", None),  # without ``finite`` the stdlib's answer
    ],
)
def test_json_reads_what_the_stdlib_reads_whichever_parser_answers(
    text: bytes, value: object
) -> None:
    loaded = load_json(text)
    if value is None:
        assert json.dumps(loaded) == "[NaN, -Infinity, Infinity]"
    else:
        assert loaded == value and type(loaded) is type(value)


@pytest.mark.parametrize("text", [b"[NaN]", b'{"a": Infinity}', b"[1e400]", b"[-1e999]"])
def test_finite_json_refuses_what_no_float_holds(text: bytes) -> None:
    with pytest.raises(MalformedInput, match="invalid JSON"):
        load_json(text, finite=True)
    assert load_json(b"[1e300, 2]", finite=True) == [1e300, 2]


def test_too_deep_json_is_refused_on_the_fast_path_too() -> None:
    with pytest.raises(MalformedInput, match=r"nests deeper than 32 levels \(line 1, column 33\)"):
        load_json(b"[" * 40 + b"]" * 40, max_depth=32)  # orjson reads 40 levels; refused after
