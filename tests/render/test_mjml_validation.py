"""Every template's MJML passes the official compiler's strict validation (MRML validates nothing).

The official ``mjml`` npm package is installed by ``make test`` into ``tests/.node`` (see the
Makefile's ``node-mjml`` target); this test runs it offline with node.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from newsletter.render.compile import (
    compile_confirmation,
    compile_fresh_link,
    compile_keep,
    compile_welcome,
)
from newsletter.render.mjml import mjml_to_html
from newsletter.render.options import VariantOptions
from tests.conftest import IN_CI, ROOT
from tests.render.conftest import compile_, context, parse
from tests.render.fixtures import DIGEST, WEEK, seed_brief
from tests.render.test_escaping import hostile_brief

NODE_MODULES = ROOT / "tests" / ".node" / "node_modules"
VALIDATOR = Path(__file__).with_name("validate_mjml.js")


def node_mjml() -> tuple[str, Path]:
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "node is not installed"
    elif not (NODE_MODULES / "mjml" / "package.json").is_file():
        problem = f"the mjml npm package is not in {NODE_MODULES} (run `make node-mjml`)"
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)
    assert node is not None
    return node, NODE_MODULES


def documents() -> dict[str, str]:
    seed = seed_brief()
    docs = {
        f"digest-{mode}": compile_(
            DIGEST, VariantOptions(narratives=mode), fit_to_budget=False
        ).mjml
        for mode in ("all", "facts-only", "no-forecast")
    }
    docs["seed"] = compile_([seed]).mjml
    docs["tracked-test-send-rtl"] = compile_(
        DIGEST[:3], track_clicks=True, track_opens=True, test_send=True, language="he"
    ).mjml
    docs["more-online"] = compile_(DIGEST, size_budget=30_000).mjml
    docs["hostile"] = compile_([hostile_brief()]).mjml
    docs["confirmation"] = compile_confirmation(context()).mjml
    docs["keep"] = compile_keep(context()).mjml
    docs["fresh-link"] = compile_fresh_link(context()).mjml
    tracked = context(track_clicks=True, track_opens=True)
    docs["welcome"] = compile_welcome(tracked, subject="Welcome", body="One.\n\nTwo <b>.").mjml
    return docs


def validate(docs: dict[str, str]) -> dict[str, list[str]]:
    """Each document's strict-validation errors, from one node process."""
    return {name: errors for name, (errors, _) in official(docs).items()}


def official(docs: dict[str, str]) -> dict[str, tuple[list[str], str]]:
    """Each document's strict-validation errors and HTML from the official compiler."""
    node, modules = node_mjml()
    result = subprocess.run(
        [node, str(VALIDATOR)],
        input=json.dumps([{"name": name, "mjml": mjml} for name, mjml in docs.items()]),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "NODE_PATH": str(modules)},
    )
    return {r["name"]: (r["errors"], r["html"]) for r in json.loads(result.stdout)}


def test_templates_pass_strict_validation() -> None:
    docs = documents()
    assert "More in this issue online" in docs["more-online"]
    reports = validate(docs)
    assert set(reports) == set(docs)
    assert {name: errors for name, errors in reports.items() if errors} == {}


def test_the_validator_does_catch_errors() -> None:
    bad = "<mjml><mj-body><mj-section foo='1'><mj-column><mj-txt>x</mj-txt>"
    bad += "</mj-column></mj-section></mj-body></mjml>"
    errors = validate({"bad": bad})["bad"]
    assert any("Attribute foo is illegal" in e for e in errors)
    assert any("mj-txt" in e for e in errors)


def test_image_widths_match_the_official_compiler() -> None:
    # MRML once wrote width="600" for images in the 552 px column (it ignores the padding
    # shorthand), and Outlook, which takes the attribute, overflowed.
    mjml = compile_(WEEK, fit_to_budget=False, track_opens=True).mjml
    errors, html = official({"week": mjml})["week"]
    assert errors == []

    def widths(document: str) -> list[str | None]:
        return [img.get("width") for img in parse(document).xpath("//img")]

    ours = widths(mjml_to_html(mjml, template="digest.mjml.j2"))
    assert ours == widths(html)
    content = [w for w in ours if w != "1"]  # the open pixel is 1 × 1
    assert len(content) == sum(1 for b in WEEK if b.image_url)
    assert set(content) == {"552"}  # 600 px less 2 × 24 px of padding
