"""The pre-send checks in one place: links and images asked over real HTTP on loopback, the
domain against a loopback DNS server, and sends through a real provider held back until
each failure is fixed or passed with a recorded reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from campaigns.checks import Check, StartRefused
from campaigns.linkcheck import Verdict, check_urls
from campaigns.preflight import _complaints, _Inputs, require_preflight, run_preflight
from campaigns.service import CampaignDraft, create_campaign, override_check
from newsletter.cli.app import app
from newsletter.config import Settings, get_settings
from newsletter.db import Database
from newsletter.deliverability.dns_check import Status
from tests.campaigns.helpers import import_cited_brief
from tests.deliverability.test_domain_check import key_file, smtp_settings, zone  # noqa: F401
from tests.fakes.dns_server import LoopbackDns

runner = CliRunner()


def test_each_distinct_url_is_asked_once_and_judged(pages: str) -> None:
    urls = [
        f"{pages}/{p}" for p in ("ok", "ok", "gone", "robots", "nohead", "slow", "loop", "boom")
    ]
    urls += ["http://127.0.0.1:9/closed", "mailto:desk@example.org", "%%nl_unsubscribe_url%%"]
    problems, unchecked = check_urls(urls, timeout=1.0, concurrency=4, limit=100)
    found = {p.url.rsplit("/", 1)[1]: (p.verdict, p.why) for p in problems}
    assert unchecked == 0
    assert found == {
        "gone": (Verdict.BROKEN, "HTTP 404"),
        "robots": (Verdict.DOUBTFUL, "HTTP 403 (refused the check)"),
        "slow": (Verdict.BROKEN, "no answer in time"),
        "loop": (Verdict.BROKEN, "more than 5 redirects"),
        "boom": (Verdict.BROKEN, "HTTP 500"),
        "closed": (Verdict.BROKEN, "cannot connect (ConnectError)"),
    }, "/ok and /nohead (GET after a refused HEAD) answer; other schemes are not asked"
    _, left = check_urls(urls, timeout=1.0, concurrency=4, limit=2)
    assert left == 6  # 8 distinct http(s) URLs, 2 asked


def _campaign_linking(db: Database, pages: str, *paths: str) -> int:
    def point_at_pages(data: dict[str, Any]) -> None:
        for n, source in enumerate(data["sources"]):
            source["url"] = f"{pages}/{paths[n % len(paths)]}?n={n}"
        for narrative in data["narratives"]:
            narrative["url"] = None  # the forecasts' market pages are on the internet
        data["image_url"] = f"{pages}/ok.jpg"

    slug = import_cited_brief(db, slug="local-links", edit=point_at_pages)
    with db.transaction() as session:
        return create_campaign(session, CampaignDraft(name="Issue", brief_slugs=[slug])).id


def test_the_outbox_sees_every_check_and_is_never_held_back(db: Database, pages: str) -> None:
    campaign_id = _campaign_linking(db, pages, "ok", "gone")
    report = run_preflight(db, campaign_id, Settings(link_check_timeout=1.0))
    checks = {i.check: i for i in report.items}
    assert list(checks) == [
        "citations", "freshness", "compliance", "domain", "size", "links", "images", "complaints"
    ]  # fmt: skip
    assert checks["links"].status is Status.FAIL and checks["links"].override is Check.BROKEN_LINKS
    assert all("HTTP 404" in d for d in checks["links"].details)
    assert checks["images"].status is Status.PASS
    assert checks["compliance"].summary == "the outbox sends to no one"
    assert not report.enforced and report.blocking == ()
    require_preflight(db, campaign_id, Settings())  # not enforced: no network, no refusal


def _enforced(key_file: Path, dns_server: LoopbackDns, **more: object) -> Settings:  # noqa: F811
    values: dict[str, object] = {
        "compliance_checks": True,
        "postal_address": "1 Desk Street, Town",
        "public_url": "https://news.example.org",
        "link_check_timeout": 1.0,
    }
    return smtp_settings(key_file, dns_server, **{**values, **more})


def test_a_real_provider_is_held_back_until_each_failure_is_fixed_or_passed(
    db: Database,
    pages: str,
    dns_server: LoopbackDns,
    key_file: Path,  # noqa: F811
) -> None:
    campaign_id = _campaign_linking(db, pages, "ok", "gone")
    settings = _enforced(key_file, dns_server)
    dns_server.zone.load(zone(key_file, dmarc=None))
    with pytest.raises(StartRefused) as refused:
        require_preflight(db, campaign_id, settings)
    message = str(refused.value)
    assert "- links: 3 of 6 broken (override 'broken-links' with a reason)" in message
    assert "- domain: news.example.org: 1 to fix (override 'domain-authentication'" in message
    dns_server.zone.load(zone(key_file))
    with db.transaction() as session:
        override_check(session, campaign_id, Check.BROKEN_LINKS, "archive links", "ana")
    require_preflight(db, campaign_id, settings)  # DMARC published, the links passed on purpose
    report = run_preflight(db, campaign_id, settings)
    links = next(i for i in report.items if i.check == "links")
    assert links.status is Status.FAIL and links.overridden and not report.blocking


def test_compliance_failures_cannot_be_passed(
    db: Database,
    pages: str,
    dns_server: LoopbackDns,
    key_file: Path,  # noqa: F811
) -> None:
    campaign_id = _campaign_linking(db, pages, "ok")
    dns_server.zone.load(zone(key_file))
    settings = _enforced(key_file, dns_server, postal_address=None)
    report = run_preflight(db, campaign_id, settings)
    (blocking,) = report.blocking
    assert blocking.check == "compliance" and blocking.override is None
    assert "NEWSLETTER_POSTAL_ADDRESS" in blocking.details[0]


def test_the_complaint_rate_of_the_last_campaigns_is_judged_against_gmails_line() -> None:
    def inputs(*complaints: tuple[str, int, int]) -> _Inputs:
        return _Inputs(1, set(), [], date(2026, 12, 1), [], complaints=list(complaints))

    assert _complaints(inputs()).status is Status.PASS
    assert _complaints(inputs(("a", 0, 5000), ("b", 4, 5000))).status is Status.PASS
    warned = _complaints(inputs(("a", 10, 5000)))
    assert warned.status is Status.WARN and warned.summary.startswith("0.20% of 5,000")
    failed = _complaints(inputs(("a", 20, 5000), ("b", 0, 1000)))
    assert failed.status is Status.FAIL and failed.override is Check.COMPLAINT_RATE


def test_campaigns_check_prints_every_check_and_send_is_refused_while_one_fails(
    db: Database,
    pages: str,
    dns_server: LoopbackDns,
    key_file: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    campaign_id = _campaign_linking(db, pages, "gone")
    dns_server.zone.load(zone(key_file))
    for name, value in _enforced(key_file, dns_server).model_dump(mode="json").items():
        if name in {"provider", "smtp_url", "from_email", "dkim_domain", "dkim_selector",
                    "dkim_key_file", "dns_resolver", "postal_address", "public_url",
                    "link_check_timeout"}:  # fmt: skip
            monkeypatch.setenv(f"NEWSLETTER_{name.upper()}", str(value))
    monkeypatch.setenv("NEWSLETTER_COMPLIANCE_CHECKS", "1")
    get_settings.cache_clear()
    checked = runner.invoke(app, ["campaigns", "check", str(campaign_id), "--format", "json"])
    assert checked.exit_code == 1, checked.output
    assert '"blocked": true' in checked.output and '"check": "links"' in checked.output
    table = runner.invoke(app, ["campaigns", "check", str(campaign_id)], terminal_width=200)
    assert "6 of 6 broken" in table.output and "override 'broken-links'" in table.output
    refused = runner.invoke(app, ["send", str(campaign_id), "--yes"])
    assert refused.exit_code == 1 and "did not pass its pre-send checks" in refused.output
    args = ["--at", "2030-01-01T07:00Z", "--override", "broken-links", "--reason", "mirror"]
    scheduled = runner.invoke(app, ["campaigns", "schedule", str(campaign_id), *args])
    assert scheduled.exit_code == 0, scheduled.output
