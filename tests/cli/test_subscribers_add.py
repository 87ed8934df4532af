"""`newsletter subscribers add` takes what a CSV row takes, checked by the same rules."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.db import Database

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def _topics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_TOPICS", "economy,tech,climate")


def exported() -> dict[str, dict[str, str]]:
    code, out, err = run("subscribers", "export")
    assert code == 0, err
    return {row["email"]: row for row in csv.DictReader(io.StringIO(out))}


def test_every_csv_field_by_hand_gives_the_row_an_import_gives(
    db: Database, tmp_path: Path
) -> None:
    code, out, err = run(
        "subscribers",
        "add",
        "ana@example.org",
        "--name",
        "Ana",
        "--topics",
        "economy;Tech",
        "--narratives",
        "facts-only",
        "--source",
        "crm",
        "--attr",
        "plan=pro",
        "--attr",
        "city=Oslo",
        "--attr",
        "blank=",
        "--confirmed",
    )
    assert code == 0, err
    assert "added ana@example.org: active" in out
    sheet = tmp_path / "same.csv"
    sheet.write_text(
        "email,name,topics,narratives,source,attr.plan,attr.city,attr.blank\n"
        "bo@example.org,Ana,economy;Tech,facts-only,crm,pro,Oslo,\n",
        encoding="utf-8",
    )
    code, _, err = run("subscribers", "import", str(sheet), "--confirmed")
    assert code == 0, err
    rows = exported()
    by_hand, imported = rows["ana@example.org"], rows["bo@example.org"]
    differ = {"email", "created_at", "confirmed_at"}
    assert {k: v for k, v in by_hand.items() if k not in differ} == {
        k: v for k, v in imported.items() if k not in differ
    }
    assert by_hand["narratives"] == "facts-only" and by_hand["attr.city"] == "Oslo"
    assert "attr.blank" not in by_hand  # a blank attribute is not stored, as in the CSV
    code, out, _ = run("subscribers", "show", "ana@example.org")
    assert '"plan": "pro"' in out and "narratives: facts-only" in out


# (option and value, the CSV column and cell with the same mistake)
BAD = (
    (("--narratives", "everything"), ("narratives", "everything")),
    (("--source", "news<letter>"), ("source", "news<letter>")),
    (("--name", "Ana\r\nBcc: x@example.org"), ("name", '"Ana\r\nBcc: x@example.org"')),
    (("--topics", "sport"), ("topics", "sport")),
    (("--attr", "plan=" + "x" * 501), ("attr.plan", "x" * 501)),
)


@pytest.mark.parametrize(("option", "cell"), BAD, ids=[b[0][0] for b in BAD])
def test_a_bad_value_is_refused_as_the_csv_refuses_it_and_nothing_is_written(
    db: Database, tmp_path: Path, option: tuple[str, str], cell: tuple[str, str]
) -> None:
    code, out, err = run("subscribers", "add", "ana@example.org", *option)
    assert code == 1 and "Traceback" not in out + err
    assert err.startswith("error: ")
    message = err.strip().removeprefix("error: ")
    sheet = tmp_path / "bad.csv"
    sheet.write_text(f"email,{cell[0]}\nana@example.org,{cell[1]}\n", encoding="utf-8")
    code, _, csv_err = run("subscribers", "import", str(sheet))
    assert code == 1
    assert csv_err.strip() == f"error: bad.csv:2: {message}"
    assert exported() == {}
    code, out, _ = run("subscribers", "list", "-f", "json")
    assert json.loads(out) == []


def test_attribute_options_must_be_key_value_pairs_with_a_valid_name(db: Database) -> None:
    code, _, err = run("subscribers", "add", "ana@example.org", "--attr", "plan")
    assert code == 1 and err.strip() == "error: --attr: 'plan': write KEY=VALUE"
    code, _, err = run("subscribers", "add", "ana@example.org", "--attr", "my plan=pro")
    assert code == 1 and "attribute name 'my plan' must be a letter" in err
    assert exported() == {}
