"""'Did you mean …?' for an unknown brief slug or segment name, in the CLI's one-line errors
(the editor's come from the same services: tests/editor/test_suggestions.py)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.db import Database
from newsletter.suggest import close_names, did_you_mean, missing_names
from tests.campaigns.helpers import SLUGS, add_segment, import_examples

runner = CliRunner()
GAS = SLUGS[0]  # eu-gas-prices-climb-as-early-cold-snap-drains-storage


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stderr.strip()


def test_close_names_are_typos_and_beginnings() -> None:
    known = [*SLUGS, "europe", "everyone-else", "tech"]
    assert close_names("bank-of-englnd-cuts-rates-split-vote", known) == [SLUGS[1]]
    assert close_names("eu-gas", known) == [GAS]  # the start of a long slug
    assert close_names("Europe", known) == ["europe"]
    assert close_names("xy", known) == [] and close_names("weather", known) == []
    assert did_you_mean("tehc", known) == " (did you mean 'tech'?)"
    assert did_you_mean("nothing-like-it", known) == ""
    assert missing_names("no segment named", ["eurpoe", "zzz"], known) == (
        "no segment named 'eurpoe' (did you mean 'europe'?), 'zzz'"
    )
    three = did_you_mean("e", ["ea", "eb", "ec", "ed"])  # at most three, in difflib's order
    assert three.startswith(" (did you mean 'e") and three.count("'e") == 3 and " or " in three


def test_the_cli_suggests_briefs_and_segments(db: Database, tmp_path: Path) -> None:
    import_examples(db)
    add_segment(db, "europe", {"type": "topics", "any": ["europe"]}, {})
    code, err = run("briefs", "show", "eu-gas-prices")
    assert code == 1 and err == f"error: no brief with slug 'eu-gas-prices' (did you mean '{GAS}'?)"
    code, err = run(
        "campaigns", "create", "--name", "x", "--briefs", "bank-of-englnd-cuts-rates-split-vote"
    )
    assert code == 1 and f"(did you mean '{SLUGS[1]}'?)" in err
    code, err = run("campaigns", "create", "--name", "x", "--briefs", GAS, "--segment", "eurpoe")
    assert code == 1 and err == "error: no segment named 'eurpoe' (did you mean 'europe'?)"
    code, err = run("render", "--segment", "Europ", "--out", str(tmp_path), GAS)
    assert code == 1 and "no segment named 'Europ' (did you mean 'europe'?)" in err
    code, err = run(
        "render", "--out", str(tmp_path), "--briefs", "judge-orders-gogle-to-sell-its-ad-exchange"
    )
    assert code == 1 and f"(did you mean '{SLUGS[2]}'?)" in err
    code, err = run("digest", "create", "--week", "2026-W48", "--include", "eu-gas")
    assert code == 1 and f"no brief with slug 'eu-gas' (did you mean '{GAS}'?) to include" in err
