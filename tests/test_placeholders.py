"""Placeholders: filled exactly like a naive replace, and user text cannot pose as one."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsletter.placeholders import (
    PLACEHOLDER,
    PlaceholderTemplate,
    fill,
    neutralise,
    placeholder,
    remaining_placeholders,
)

NAMES = ["first_name", "unsubscribe_url", "x1"]


class Values(dict[str, str]):
    """Every placeholder has a value, even one that random text happens to spell."""

    def __missing__(self, key: str) -> str:
        return f"<{key}:%%nl_x1%%>"


VALUES = Values({placeholder(n): f"<{n}:%%nl_x1%%>" for n in NAMES})
pieces = st.lists(
    st.one_of(st.text(alphabet="ab%_nl \n"), st.sampled_from([placeholder(n) for n in NAMES])),
    max_size=30,
)


@given(pieces)
def test_fill_matches_a_single_pass_substitution(parts: list[str]) -> None:
    text = "".join(parts)
    expected = PLACEHOLDER.sub(lambda m: VALUES[m.group(0)], text)
    assert PlaceholderTemplate(text).fill(VALUES) == expected


@given(st.text())
def test_neutralised_text_has_no_placeholder(text: str) -> None:
    assert remaining_placeholders(neutralise(text)) == []
    assert neutralise(text).replace("\u2060", "") == text.replace("\u2060", "")


def test_fill_edge_cases() -> None:
    assert PlaceholderTemplate("plain").fill({}) == "plain"
    assert fill("%%nl_x1%%", {"%%nl_x1%%": "one"}) == "one"
    template = PlaceholderTemplate("a %%nl_x1%% b %%nl_first_name%% c %%nl_x1%%")
    assert template.placeholders == {"%%nl_x1%%", "%%nl_first_name%%"}
    with pytest.raises(KeyError):
        template.fill({"%%nl_x1%%": "1"})
    with pytest.raises(ValueError):
        placeholder("Bad-Name")
    assert re.fullmatch(PLACEHOLDER, placeholder("tracking_token"))
