"""Subject and preheader templates, and errors that name the template and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.errors import RenderError
from newsletter.render.environment import mjml_environment, render, text_environment
from newsletter.render.mjml import mjml_to_html
from newsletter.render.options import VariantOptions
from newsletter.render.recipient import FIRST_NAME, FIRST_NAME_HTML
from tests.render.conftest import compile_, fill, parse
from tests.render.fixtures import DIGEST


def test_default_subject_and_preheader() -> None:
    variant = compile_(DIGEST[:3])
    assert variant.subject == f"{DIGEST[0].title} · The Briefing"  # the top story leads
    assert variant.preheader.startswith(f"{DIGEST[1].title} · ")
    assert variant.preheader.endswith("…") and len(variant.preheader) <= 141
    root = parse(variant.html)
    assert root.xpath("//title")[0].text_content() == variant.subject
    assert variant.preheader in root.body.text_content()


def test_segment_templates_for_subject_and_preheader() -> None:
    options = VariantOptions(
        subject="{{ first_name }}, {{ brief_count }} briefs for {{ issue_date|long_date }}",
        preheader="Lead: {{ first_title|upper }} & more",
    )
    variant = compile_(DIGEST[:2], options)
    assert variant.subject == f"{FIRST_NAME}, 2 briefs for 20 November 2026"
    assert variant.preheader == f"Lead: {DIGEST[0].title.upper()} & more"
    assert FIRST_NAME_HTML in variant.html and FIRST_NAME not in variant.html
    filled = fill(variant, "Zoë <3")
    assert filled.subject == "Zoë <3, 2 briefs for 20 November 2026"
    assert parse(filled.html).xpath("//title")[0].text_content() == filled.subject


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ("{{ first_title", "subject:1: unexpected end of template"),
        ("line one\n{{ nope }}", "subject:2: UndefinedError: 'nope' is undefined"),
        ("{{ ''.__class__.__mro__ }}", "subject:1: SecurityError"),
        ("Hi %%nl_unsubscribe_link%%", "subject: unknown placeholder %%nl_unsubscribe_link%%"),
        ("   ", "subject: the subject is empty"),
        (
            "{% for n in range(2000) %}x{% endfor %}",
            "subject: the rendered subject is longer than 998 characters",
        ),
        ("{{ 'x' * 10**9 }}", "subject:1: ValueError: would build more than 10000 items"),
        ("{{ 9 ** 99 }}", "subject:1: ValueError: a power above 2**4096 is not allowed"),
        ("{{ 2**64**64 }}", "subject:1: ValueError: a power above 2**4096 is not allowed"),
    ],
)
def test_bad_subject_templates_are_render_errors(subject: str, message: str) -> None:
    with pytest.raises(RenderError) as info:
        compile_(DIGEST[:1], VariantOptions(subject=subject))
    assert str(info.value).startswith(message)
    assert info.value.template == "subject"


def test_a_preheader_that_renders_too_long_is_a_render_error() -> None:
    options = VariantOptions(preheader="{% for n in range(501) %}x{% endfor %}")
    with pytest.raises(RenderError) as info:
        compile_(DIGEST[:1], options)
    assert str(info.value) == "preheader: the rendered preheader is longer than 500 characters"
    fits = VariantOptions(subject="{% for n in range(998) %}x{% endfor %}")
    assert len(compile_(DIGEST[:1], fits).subject) == 998


def test_no_brief_selected_is_an_error() -> None:
    with pytest.raises(RenderError, match="no brief matches"):
        compile_(DIGEST, VariantOptions(topics=["gardening"]))


def write(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_template_errors_name_the_template_and_line(tmp_path: Path) -> None:
    write(tmp_path, "broken.mjml.j2", "<mjml>\n<mj-body>\n{% if x %}\n</mj-body>\n")
    write(tmp_path, "outer.txt.j2", "line 1\n{% include 'partials/inner.txt.j2' %}\n")
    write(tmp_path, "partials/inner.txt.j2", "fine\nstill fine\n{{ missing.attribute }}\n")
    with pytest.raises(RenderError) as syntax:
        render(mjml_environment(tmp_path), "broken.mjml.j2", {})
    assert (syntax.value.template, syntax.value.line) == ("broken.mjml.j2", 4)
    with pytest.raises(RenderError) as runtime:
        render(text_environment(tmp_path), "outer.txt.j2", {})
    assert str(runtime.value).startswith("inner.txt.j2:3: UndefinedError")
    with pytest.raises(RenderError, match=r"^absent\.txt\.j2: template not found"):
        render(text_environment(tmp_path), "absent.txt.j2", {})


def test_mjml_errors_name_the_template_and_the_mjml_line() -> None:
    source = "<mjml><mj-body>\n<mj-section>\n<mj-column><mj-text>x</mj-text></mj-column>\n"
    source += "</mj-section></mj-wrapper></mj-body></mjml>"
    with pytest.raises(RenderError) as info:
        mjml_to_html(source, template="digest.mjml.j2")
    assert info.value.template == "digest.mjml.j2 (compiled MJML)"
    assert info.value.line == 4
    assert "unexpected token in root template" in str(info.value)
    assert str(info.value).endswith("near '</mj-body>'")
    with pytest.raises(RenderError, match=r"^digest\.mjml\.j2 \(compiled MJML\): MJML: "):
        mjml_to_html("<mjml><mj-body><mj-section>", template="digest.mjml.j2")
