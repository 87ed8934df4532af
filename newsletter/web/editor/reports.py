"""Editor pages for campaign reports: every started campaign with its headline figures, one
campaign's report with its charts, the report's downloads (JSON, each table as CSV), and the
list's health over time (``/editor/reports/health``, and its JSON and CSV).

The figures come from :mod:`campaigns.reports` and mean what its docstring says; the rows
of figures, the rates and the CSV files come from :mod:`campaigns.report_tables`, exactly
as ``newsletter report`` prints them. A campaign that has not started sending has a report
page that says so; an unknown one is the editor's 404 page.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from campaigns.charts import health_charts, report_charts
from campaigns.health import MAX_PERIODS, HealthHistory, HealthPeriod, health_history
from campaigns.health_lines import Level
from campaigns.machines import REASON_TEXT
from campaigns.report_tables import FIGURE_ROWS, CsvTable, health_csv, rate_text, report_csv
from campaigns.reports import CampaignReport, campaign_report, started_campaigns
from newsletter.web.editor.auth import csrf_protect, editor_page
from newsletter.web.editor.campaigns import CampaignId
from newsletter.web.editor.paging import PAGE_SIZE, PageQuery, page_number
from newsletter.web.editor.segment_rules import whole_number
from newsletter.web.editor.site import editor_site, render

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(editor_page), Depends(csrf_protect)]
)
TABLES = ", ".join(CsvTable)


@router.get("/editor/reports")
async def reports_page(request: Request, page: PageQuery = "1") -> Response:
    """Started campaigns, a page at a time: each page's figures are its campaigns' counters."""
    number = page_number(page)
    summaries = await editor_site(request).read(
        lambda session: started_campaigns(
            session, limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE
        )
    )
    context = {
        "summaries": summaries[:PAGE_SIZE],
        "rate": rate_text,
        "page": number,
        "more": len(summaries) > PAGE_SIZE,
        "path": "/editor/reports",
    }
    return render(request, "reports.html", context)


async def _report(request: Request, campaign_id: int) -> CampaignReport:
    return await editor_site(request).read(lambda session: campaign_report(session, campaign_id))


@router.get("/editor/campaigns/{campaign_id}/report")
async def report_page(request: Request, campaign_id: CampaignId) -> Response:
    report = await _report(request, campaign_id)
    context = {
        "report": report,
        "charts": report_charts(report),
        "rows": FIGURE_ROWS,
        "rate": rate_text,
        "tables": list(CsvTable),
        "reasons": REASON_TEXT,
        "verdict_class": VERDICT_CLASS,
    }
    return render(request, "report.html", context)


def _download(body: str, media_type: str, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type=media_type, headers=headers)


@router.get("/editor/campaigns/{campaign_id}/report.json")
async def report_json(request: Request, campaign_id: CampaignId) -> Response:
    """The report as ``newsletter report --format json`` prints it."""
    report = await _report(request, campaign_id)
    body = json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"
    return _download(body, "application/json", f"campaign-{campaign_id}-report.json")


@router.get("/editor/campaigns/{campaign_id}/report.csv")
async def report_csv_download(
    request: Request,
    campaign_id: CampaignId,
    table: Annotated[str, Query(max_length=40)] = CsvTable.segments.value,
) -> Response:
    """One table of the report as ``newsletter report --format csv --table …`` prints it."""
    if table not in CsvTable.__members__:
        raise HTTPException(400, f"There is no report table {table[:40]!r}: pick one of {TABLES}.")
    which = CsvTable(table)
    report = await _report(request, campaign_id)
    filename = f"campaign-{campaign_id}-{which.value}.csv"
    return _download(report_csv(report, which), "text/csv; charset=utf-8", filename)


# --- the list's health over time ---------------------------------------------------------

VERDICT_CLASS = {Level.OK: "pass", Level.WARNING: "warn", Level.OVER: "fail", Level.UNKNOWN: ""}
PERIODS = ", ".join(HealthPeriod)


def _health_query(by: str, last: str) -> tuple[HealthPeriod, int]:
    """The page's ``by`` and ``last``, or a 400 that says which is wrong and what fits."""
    if by not in HealthPeriod.__members__:
        raise HTTPException(400, f"by must be one of {PERIODS}, not {by[:20]!r}.")
    count = whole_number(last, max_digits=4)
    if count is None or not 1 <= count <= MAX_PERIODS:
        raise HTTPException(400, f"last must be a whole number from 1 to {MAX_PERIODS}.")
    return HealthPeriod(by), count


async def _history(request: Request, by: str, last: str) -> HealthHistory:
    period, count = _health_query(by, last)
    zone = editor_site(request).settings.editor_timezone
    return await editor_site(request).read(
        lambda session: health_history(session, by=period, last=count, timezone=zone)
    )


ByQuery = Annotated[str, Query(max_length=20)]
LastQuery = Annotated[str, Query(max_length=10)]


@router.get("/editor/reports/health")
async def health_page(
    request: Request, by: ByQuery = "campaign", last: LastQuery = "12"
) -> Response:
    history = await _history(request, by, last)
    context = {
        "history": history,
        "charts": health_charts(history),
        "rate": rate_text,
        "verdict_class": VERDICT_CLASS,
        "periods": list(HealthPeriod),
        "max_periods": MAX_PERIODS,
        "query": f"by={history.by.value}&last={history.last}",
    }
    return render(request, "health.html", context)


@router.get("/editor/reports/health.json")
async def health_json(
    request: Request, by: ByQuery = "campaign", last: LastQuery = "12"
) -> Response:
    """The history as ``newsletter report health --format json`` prints it."""
    history = await _history(request, by, last)
    body = json.dumps(history.as_dict(), indent=2, ensure_ascii=False) + "\n"
    return _download(body, "application/json", f"list-health-by-{history.by.value}.json")


@router.get("/editor/reports/health.csv")
async def health_csv_download(
    request: Request, by: ByQuery = "campaign", last: LastQuery = "12"
) -> Response:
    """The history as ``newsletter report health --format csv`` prints it."""
    history = await _history(request, by, last)
    filename = f"list-health-by-{history.by.value}.csv"
    return _download(health_csv(history), "text/csv; charset=utf-8", filename)
