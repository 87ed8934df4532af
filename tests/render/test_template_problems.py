"""A subject or preheader template's mistake is said in plain words, with the line and
column of the spot (the unknown name, the stray brace, the brace never closed)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsletter.errors import RenderError
from newsletter.render.environment import render_string
from newsletter.render.template_problems import TemplateProblem, explain

VALUES = {"first_title": "T", "issue_date": date(2026, 12, 2), "titles": ["T"], "brief_count": 1}


def problem_of(source: str) -> TemplateProblem:
    with pytest.raises(RenderError) as info:
        render_string(source, dict(VALUES), name="subject", max_length=998)
    assert info.value.problem is not None
    return info.value.problem


@pytest.mark.parametrize(
    ("source", "words", "where", "marked"),
    [
        ("{{ first_title", "is opened but never closed", (1, 1), "{{"),
        ("Hi {{ x } }}", "“}” does not belong here", (1, 9), "}"),
        ("{{ first_title }", "“}” does not belong here", (1, 16), "}"),
        ("{{ titles[0 }}", "Jinja expected “]” first", (1, 13), "}"),
        (
            "{{ first_title newsletter_name }}",
            "“newsletter_name” follows a value with nothing to join them",
            (1, 16),
            "newsletter_name",
        ),
        ("{{ first_title $ }}", "“$” cannot be used inside", (1, 16), "$"),
        ("{% news %}", "there is no tag called “news”", (1, 1), "{% news"),
        (
            "Week\n{{ first_title }} · {{ issue_date|long_dat }}",
            "no filter called “long_dat” (did you mean 'long_date'",
            (2, 34),
            "|long_dat",
        ),
        (
            "{{ firsttitle }} weekly",
            "“firsttitle” is not a value this template can use (did you mean 'first_title'",
            (1, 4),
            "firsttitle",
        ),
        ("{{ brief_count / 0 }}", "it divides by zero", (1, 1), "{{ brief_count / 0 }}"),
        ("a {% if brief_count %}b", "“{% if %}” is opened but never closed", (1, 3), "{% if"),
        ("{{ ''.__class__ }}", "may not use", (1, 1), "{{ ''.__class__ }}"),
    ],
)
def test_each_mistake_is_said_in_words_at_its_place(
    source: str, words: str, where: tuple[int, int], marked: str
) -> None:
    problem = problem_of(source)
    assert words in problem.words
    assert (problem.line, problem.column) == where
    assert problem.marked == marked
    assert problem.before + problem.marked + problem.after == source.split("\n")[where[0] - 1]
    assert problem.caret == " " * (where[1] - 1) + "^" * len(marked)


def test_an_unclosed_brace_is_found_on_its_own_line() -> None:
    problem = problem_of("Weekly {{ first_title }}\nwith {{ brief_count\n")
    assert (problem.line, problem.column, problem.marked) == (2, 6, "{{")
    # text after an unclosed brace reads as more of the value: Jinja stops there instead
    problem = problem_of("{{ first_title\nand more text")
    assert (problem.line, problem.column, problem.marked) == (2, 10, "text")
    assert "end the value with “}}”" in problem.words


def test_the_error_text_stays_as_the_command_line_prints_it() -> None:
    with pytest.raises(RenderError, match=r"^subject:1: unexpected '}'$"):
        render_string("{{ x } }}", dict(VALUES), name="subject", max_length=998)


@given(
    st.text(alphabet="{}%|$ abx_\n'", max_size=30),
    st.integers(min_value=-3, max_value=9),
    st.sampled_from(
        ["unexpected '}'", "unexpected char '$' at 40", "'x' is undefined", "no filter named 'b'",
         "unexpected end of template", "expected token 'end of print statement', got 'a'",
         "Encountered unknown tag 'x'.", "anything else"]
    ),
)  # fmt: skip
def test_any_message_and_template_give_a_place_inside_the_template(
    source: str, line: int, message: str
) -> None:
    problem = explain("subject", source, message, line)
    lines = source.split("\n")
    assert 1 <= problem.line <= len(lines)
    assert 1 <= problem.column <= len(lines[problem.line - 1]) + 1
    assert problem.words and problem.length >= 1
