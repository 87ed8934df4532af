"""API keys: made once and shown once, stored hashed, listed in three formats, revoked by
name or prefix; checking a key tells missing, malformed, unknown and revoked apart."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from newsletter.apikeys.keys import (
    KeyRefusal,
    check_key,
    create_key,
    key_hash,
    parse_scopes,
    revoke_key,
)
from newsletter.apikeys.model import ApiKey
from newsletter.cli.app import app
from newsletter.db import Database, utcnow
from newsletter.errors import ConflictError, InvalidInput, NotFoundError

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_prints_the_key_once_and_stores_only_its_hash(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code, out, err = run(
        "apikeys", "create", "--name", "cms",
        "--scope", "briefs:write,subscribers:write", "--scope", "reports:read",
    )  # fmt: skip
    assert code == 0, err
    key = out.strip()
    assert key.startswith("nlk_") and len(key) == 4 + 8 + 1 + 43
    assert "not shown again" in err and key not in err
    assert key not in caplog.text
    with db.transaction() as session:
        row = session.scalars(select(ApiKey)).one()
        assert row.key_hash == key_hash(key) and key not in (row.prefix, row.key_hash)
        assert row.scopes == ["briefs:write", "subscribers:write", "reports:read"]
        assert row.rate_limit == 120 and row.created_by == "command line"
        assert check_key(session, key).holder is not None

    code, out, _ = run("apikeys", "list", "--format", "json")
    (listed,) = json.loads(out)
    assert listed["name"] == "cms" and listed["prefix"] == f"nlk_{row.prefix}"
    assert listed["revoked_at"] is None and key not in out
    code, out, _ = run("apikeys", "list", "--format", "csv")
    (line,) = csv.DictReader(io.StringIO(out))
    assert line["scopes"] == "briefs:write;subscribers:write;reports:read"
    code, out, _ = run("apikeys", "list")
    assert "cms" in out and f"nlk_{row.prefix}" in out and key not in out

    code, out, _ = run("apikeys", "revoke", f"nlk_{row.prefix}")
    assert code == 0 and "revoked the API key 'cms'" in out
    code, _, err = run("apikeys", "revoke", "cms")
    assert code == 1 and "already revoked" in err
    with db.transaction() as session:
        assert check_key(session, key).refusal is KeyRefusal.REVOKED


def test_cli_refusals_are_one_located_line(db: Database) -> None:
    code, _, err = run("apikeys", "create", "--name", "cms", "--scope", "briefs:wirte")
    assert code == 1
    assert "--scope: unknown scope 'briefs:wirte' (did you mean 'briefs:write'" in err
    code, _, err = run("apikeys", "create", "--name", "a b", "--scope", "briefs:read")
    assert code == 1 and "name: must be 1–60 letters" in err
    code, _, err = run("apikeys", "revoke", "cmss")
    assert code == 1 and "no API key named 'cmss'" in err
    code, out, _ = run("apikeys", "list")
    assert "no API keys yet" in out


def test_names_are_unique_and_limits_bounded(db: Database) -> None:
    with db.transaction() as session:
        create_key(session, "cms", ["briefs:read"], created_by="t", rate_limit=0)
        with pytest.raises(ConflictError, match="already an API key named 'cms'"):
            create_key(session, "cms", ["briefs:read"], created_by="t", rate_limit=0)
        with pytest.raises(InvalidInput, match="rate_limit"):
            create_key(session, "crm", ["briefs:read"], created_by="t", rate_limit=-1)
        with pytest.raises(NotFoundError):
            revoke_key(session, "nlk_00000000")
    with pytest.raises(InvalidInput, match="name at least one scope"):
        parse_scopes([" , "])
    assert parse_scopes(["briefs:read,briefs:read", "reports:read"]) == [
        "briefs:read",
        "reports:read",
    ]


def test_a_name_cannot_look_like_a_prefix_and_a_prefix_means_its_key(db: Database) -> None:
    with db.transaction() as session:
        cms = create_key(session, "cms", ["briefs:read"], created_by="t", rate_limit=0).row
        for name in (f"nlk_{cms.prefix}", cms.prefix, "NLK_something", "DEADBEEF"):
            with pytest.raises(InvalidInput, match="looks like a key's prefix"):
                create_key(session, name, ["briefs:read"], created_by="t", rate_limit=0)
        create_key(session, "deadbeef-feed", ["briefs:read"], created_by="t", rate_limit=0)
        # a key named like cms's prefix before names were checked
        crm = create_key(session, "crm", ["briefs:read"], created_by="t", rate_limit=0).row
        crm.name = f"nlk_{cms.prefix}"
        session.flush()
        with pytest.raises(ConflictError, match=f"write {cms.prefix} for the first"):
            revoke_key(session, f"nlk_{cms.prefix}")
        assert cms.revoked_at is None and crm.revoked_at is None
        assert revoke_key(session, cms.prefix) is cms  # the other spelling: the prefix
        assert revoke_key(session, f"nlk_{crm.prefix}") is crm
        assert revoke_key(session, "deadbeef-feed").revoked_at is not None


def test_check_key_tells_each_refusal_and_records_use_sparingly(db: Database) -> None:
    with db.transaction() as session:
        made = create_key(session, "cms", ["briefs:read"], created_by="t", rate_limit=5)
        other = create_key(session, "crm", ["briefs:read"], created_by="t", rate_limit=5)
    wrong_secret = made.secret[:-4] + ("AAAA" if not made.secret.endswith("AAAA") else "BBBB")
    swapped = made.secret[:13] + other.secret[13:]  # one key's prefix, another's secret
    with db.transaction() as session:
        assert check_key(session, None).refusal is KeyRefusal.MISSING
        assert check_key(session, "hello").refusal is KeyRefusal.MALFORMED
        assert check_key(session, wrong_secret).refusal is KeyRefusal.UNKNOWN
        assert check_key(session, swapped).refusal is KeyRefusal.UNKNOWN
        now = utcnow()
        holder = check_key(session, made.secret, now=now).holder
        assert holder is not None and holder.name == "cms" and holder.rate_limit == 5
        check_key(session, made.secret, now=now + timedelta(seconds=30))
    with db.transaction() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.name == "cms")).one()
        assert row.last_used_at == now  # not rewritten within the minute


def test_a_keys_allowance_refills_evenly_and_says_how_long_to_wait(db: Database) -> None:
    with db.transaction() as session:
        key = create_key(session, "cms", ["briefs:read"], created_by="t", rate_limit=3).secret
    start = utcnow()

    def wait_at(seconds: float) -> float | None:
        with db.transaction() as session:
            checked = check_key(session, key, now=start + timedelta(seconds=seconds))
            assert checked.holder is not None and checked.holder.name == "cms"
            return checked.retry_after

    assert [wait_at(0), wait_at(0.1), wait_at(0.2)] == [None, None, None]  # a minute's worth
    refused = wait_at(0.3)
    assert refused is not None and 19 <= refused <= 20.1  # one request's share: 60 s / 3
    assert wait_at(10) is not None  # refusals take nothing: still about 10 s to go
    assert wait_at(20.1) is None
    assert wait_at(20.2) is not None
    assert wait_at(200) is None  # idle time refills the allowance, up to a minute's worth
    assert wait_at(200.1) is None and wait_at(200.2) is None and wait_at(200.3) is not None


def test_the_allowance_is_shared_by_every_process(db: Database, database_url: str) -> None:
    """Two engines (two server processes) taking requests at once from one key's
    allowance of 20 a minute: exactly 20 go, whichever process asks."""
    from concurrent.futures import ThreadPoolExecutor

    from newsletter.db import open_database

    with db.transaction() as session:
        key = create_key(session, "cms", ["briefs:read"], created_by="t", rate_limit=20).secret
    other = open_database(database_url)
    now = utcnow()

    def ask(database: Database) -> bool:
        with database.transaction() as session:
            return check_key(session, key, now=now).retry_after is None

    try:
        with ThreadPoolExecutor(8) as pool:
            allowed = list(pool.map(ask, [db, other] * 25))
    finally:
        other.dispose()
    assert allowed.count(True) == 20
