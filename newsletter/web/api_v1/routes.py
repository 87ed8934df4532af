"""``/api/v1``: briefs, subscribers, campaigns and reports for the newsroom's systems.

Every route names the scope it needs (:func:`newsletter.web.api_v1.auth.require`). Briefs
travel in the structured JSON format of ``docs/brief-format.md`` and are read by the same
importer as files, so a bad one is a ``422`` listing every problem with its line. People
arrive with their consent source; they get the double opt-in mail unless the key may
vouch for a confirmed opt-in (``subscribers:import-confirmed``) and the request says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from campaigns.reports import CampaignReport, campaign_report
from newsletter.apikeys.keys import KeyHolder, Scope
from newsletter.briefs.document import Brief
from newsletter.briefs.export import brief_to_data
from newsletter.briefs.importer import parse_brief_bytes
from newsletter.briefs.model import BriefRow
from newsletter.briefs.store import get_brief_row, load_brief, save_brief
from newsletter.delivery.capabilities import delivers_unicode_local_parts
from newsletter.errors import BriefFormatError, ConflictError, InvalidInput
from newsletter.web.api_models import (
    BriefOut,
    CampaignOut,
    Problem,
    brief_summaries,
    campaign_summaries,
)
from newsletter.web.api_v1.auth import ApiRefused, api_site, require
from newsletter.web.paging import PageQuery, answer_page, page_query
from subscribers.gdpr import EraseResult, erase_subscriber
from subscribers.intake import Arrival, CheckedArrival, check_arrival, take_in
from subscribers.signup import retrying_unique
from subscribers.topics import known_topics

V1_PREFIX = "/api/v1"
BRIEF_SCHEMA = "brief.Brief"  # the format's own schemas are "brief.*"


class RefusalOut(BaseModel):
    detail: str
    missing_scope: str | None = Field(
        default=None, description="The scope the key lacks (403 only)."
    )


_DESCRIPTIONS = {
    400: "The body could not be read (it is not UTF-8 JSON).",
    401: "No API key, an unknown one, or a revoked one: `detail` says which.",
    403: "The key lacks the scope this needs: `missing_scope` names it.",
    404: "No such brief or campaign.",
    409: "It exists already (a brief's slug).",
    413: "The body is too large.",
    422: "A parameter or the body is not valid: `detail` lists each problem and where.",
    429: "The key's requests a minute are used up: retry after `Retry-After` seconds.",
}
_REFUSALS = {401, 403, 429}


def _answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    codes = (*codes, 401, 403, 429)
    return {
        code: {
            "description": _DESCRIPTIONS[code],
            "model": RefusalOut if code in _REFUSALS else Problem,
        }
        for code in codes
    }


router = APIRouter(prefix=V1_PREFIX, tags=["v1"])
Slug = Annotated[str, Path(max_length=120, description="A brief's slug.")]
CampaignId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_BRIEF_JSON = {"application/json": {"schema": {"$ref": f"#/components/schemas/{BRIEF_SCHEMA}"}}}
BRIEF_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One brief in the structured JSON format (docs/brief-format.md).",
        "content": _BRIEF_JSON,
    }
}
BRIEF_ANSWER = {"description": "The brief in the structured JSON format.", "content": _BRIEF_JSON}


# --- briefs ---------------------------------------------------------------------------------


@router.get("/briefs", responses=_answers(422))
async def list_briefs(
    request: Request,
    response: Response,
    holder: Annotated[KeyHolder, Depends(require(Scope.BRIEFS_READ))],
    asked: Annotated[PageQuery, Depends(page_query)],
    status: Annotated[Literal["draft", "ready"] | None, Query()] = None,
) -> list[BriefOut]:
    """Stored briefs, newest first, with their warnings: one page (``page``, ``per_page``);
    a ``Link: <…>; rel="next"`` header when more follow."""
    found = await api_site(request).run(lambda s: brief_summaries(s, status, asked))
    return answer_page(request, response, asked, found)


@router.get(
    "/briefs/{slug}",
    responses={200: BRIEF_ANSWER, **_answers(404, 422)},
    response_model=None,
)
async def get_brief(
    request: Request,
    slug: Slug,
    holder: Annotated[KeyHolder, Depends(require(Scope.BRIEFS_READ))],
) -> dict[str, Any]:
    """One brief, whole, in the JSON format it can be sent back in."""
    return await api_site(request).run(lambda s: brief_to_data(load_brief(s, slug)))


@router.post(
    "/briefs",
    status_code=201,
    responses=_answers(400, 409, 413, 422),
    openapi_extra=BRIEF_BODY,
)
async def create_brief(
    request: Request,
    holder: Annotated[KeyHolder, Depends(require(Scope.BRIEFS_WRITE))],
) -> BriefOut:
    """Store a new brief; ``409`` if its slug is taken (update it with ``PUT``)."""
    brief = await _brief_of(request)

    def store(session: Session) -> BriefOut:
        if session.scalar(_slug_taken(brief.slug)) is not None:
            raise ConflictError(f"a brief with slug {brief.slug!r} exists: PUT it to update it")
        save_brief(session, brief, source_name=f"api:{holder.name}", base_version=0)
        return BriefOut.of(get_brief_row(session, brief.slug))

    return await api_site(request).run(store)


@router.put(
    "/briefs/{slug}",
    responses={201: {"description": "Created.", "model": BriefOut}, **_answers(400, 413, 422)},
    openapi_extra=BRIEF_BODY,
)
async def put_brief(
    request: Request,
    response: Response,
    slug: Slug,
    holder: Annotated[KeyHolder, Depends(require(Scope.BRIEFS_WRITE))],
) -> BriefOut:
    """Store the brief under this slug, new (``201``) or replacing the stored one (``200``).
    A brief that does not state its status keeps the one it has."""
    brief = await _brief_of(request)
    if brief.slug != slug:
        raise RequestValidationError(
            [_located(["body", "slug"], f"is {brief.slug!r}, but the path says {slug!r}")]
        )

    def store(session: Session) -> tuple[bool, BriefOut]:
        created = save_brief(session, brief, source_name=f"api:{holder.name}")
        return created, BriefOut.of(get_brief_row(session, slug))

    created, out = await api_site(request).run(store)
    response.status_code = 201 if created else 200
    return out


async def _brief_of(request: Request) -> Brief:
    """The body as a brief, read by the importer off the event loop."""
    raw = await request.body()
    try:
        return await run_in_threadpool(parse_brief_bytes, raw, source="body", suffix=".json")
    except BriefFormatError as exc:
        raise RequestValidationError(
            [_located(["body"], p.message, line=p.line) for p in exc.problems]
        ) from None


def _slug_taken(slug: str) -> Select[Any]:
    return select(BriefRow.id).where(BriefRow.slug == slug)


def _located(loc: list[str | int], message: str, *, line: int | None = None) -> dict[str, Any]:
    """One entry of a 422's ``detail``; a brief's problems say their line in the body."""
    where = f"line {line}: " if line is not None else ""
    return {"loc": loc, "msg": where + message, "type": "value_error"}


# --- subscribers ----------------------------------------------------------------------------


class SubscriberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    source: str = Field(
        max_length=100,
        description="Where they opted in (a form's label, e.g. 'cms:article-footer'): kept "
        "in their consent record.",
    )
    name: str | None = Field(default=None, max_length=100)
    topics: list[str] = Field(default_factory=list, max_length=50)
    ip: str | None = Field(
        default=None, max_length=45, description="Their address when they opted in."
    )
    user_agent: str | None = Field(default=None, max_length=500)
    time_zone: str | None = Field(
        default=None,
        max_length=64,
        description="Their clock, an IANA name (e.g. 'Europe/Berlin'): a campaign sent at "
        "local time reaches them by it. Left out or empty: NEWSLETTER_DEFAULT_TIME_ZONE.",
    )

    def arrival(self) -> Arrival:
        return Arrival(
            email=self.email,
            source=self.source,
            name=self.name,
            topics=self.topics,
            ip=self.ip,
            user_agent=self.user_agent,
            time_zone=self.time_zone,
        )


class AddSubscriber(SubscriberIn):
    confirmed: bool = Field(
        default=False,
        description="They confirmed their opt-in with you: add them active, without our "
        "confirmation mail (needs the scope subscribers:import-confirmed).",
    )
    welcome: bool = Field(
        default=False,
        description="With confirmed: their welcome series starts now. Left out, a confirmed "
        "person gets no welcome series (a list moved from elsewhere is not welcomed). "
        "Without confirmed it changes nothing: a person who confirms by our mail always "
        "gets the series.",
    )


class BulkAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscribers: list[SubscriberIn] = Field(
        min_length=1, max_length=10_000, description="At most NEWSLETTER_API_BULK_MAX_SUBSCRIBERS."
    )
    confirmed: bool = Field(default=False, description="As for one subscriber, for all.")
    welcome: bool = Field(default=False, description="As for one subscriber, for all.")


IntakeName = Literal["queued", "throttled", "already-active", "suppressed", "added", "exists"]


class AddedOut(BaseModel):
    email: str
    result: IntakeName = Field(
        description="queued: pending, confirmation mail queued; throttled: pending, a mail "
        "went moments ago; already-active; suppressed: erased, bounced or complained, never "
        "mailed; added: active (confirmed); exists: confirmed asked, address already known."
    )


class BulkOut(BaseModel):
    results: list[AddedOut] = Field(description="One per subscriber sent, in order.")
    counts: dict[str, int] = Field(description="How many of each result.")


class EraseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)


class ErasedOut(BaseModel):
    result: Literal["erased", "already-erased", "not-found"] = Field(
        description="not-found: no subscriber, the address is suppressed all the same."
    )


@router.post("/subscribers", responses=_answers(400, 413, 422))
async def add_subscriber(
    request: Request,
    body: AddSubscriber,
    holder: Annotated[KeyHolder, Depends(require(Scope.SUBSCRIBERS_WRITE))],
) -> AddedOut:
    """Add one person: double opt-in (our confirmation mail), or active when ``confirmed``."""
    _may_confirm(holder, body.confirmed)
    (result,) = await _take_in(
        request, holder, [body], confirmed=body.confirmed, welcome=body.welcome, bulk=False
    )
    return result


@router.post("/subscribers/bulk", responses=_answers(400, 413, 422))
async def add_subscribers(
    request: Request,
    body: BulkAdd,
    holder: Annotated[KeyHolder, Depends(require(Scope.SUBSCRIBERS_WRITE))],
) -> BulkOut:
    """Add many people at once: all are checked first (a bad one is a ``422`` naming its
    index, and nobody is stored), then all are stored in one transaction."""
    _may_confirm(holder, body.confirmed)
    most = api_site(request).settings.api_bulk_max_subscribers
    if len(body.subscribers) > most:
        raise RequestValidationError(
            [_located(["body", "subscribers"], f"at most {most} subscribers in one request")]
        )
    people = body.subscribers
    results = await _take_in(
        request, holder, people, confirmed=body.confirmed, welcome=body.welcome, bulk=True
    )
    return BulkOut(results=results, counts=dict(Counter(r.result for r in results)))


@router.post("/subscribers/erase", responses=_answers(400, 413, 422))
async def erase(
    request: Request,
    body: EraseIn,
    holder: Annotated[KeyHolder, Depends(require(Scope.SUBSCRIBERS_ERASE))],
) -> ErasedOut:
    """Erase a person (GDPR): their data is removed and the address suppressed for good.
    The address travels in the body, not the URL, to keep it out of access logs."""
    result: EraseResult = await api_site(request).run(lambda s: erase_subscriber(s, body.email))
    return ErasedOut(result=result.value)


def _may_confirm(holder: KeyHolder, confirmed: bool) -> None:
    scope = Scope.SUBSCRIBERS_IMPORT_CONFIRMED
    if confirmed and scope not in holder.scopes:
        raise ApiRefused(
            403,
            f"the API key {holder.name!r} lacks the scope {scope.value!r}: it may add people "
            "only by double opt-in (leave out 'confirmed')",
            missing_scope=scope.value,
        )


async def _take_in(
    request: Request,
    holder: KeyHolder,
    people: Sequence[SubscriberIn],
    *,
    confirmed: bool,
    welcome: bool,
    bulk: bool,
) -> list[AddedOut]:
    site = api_site(request)
    settings = site.settings
    ascii_only = not delivers_unicode_local_parts(settings.provider)
    resend = timedelta(minutes=settings.confirmation_resend_minutes)

    def work(session: Session) -> list[AddedOut]:
        topics = known_topics(session, settings.topics)
        checked = _checked(people, topics, ascii_only, bulk)
        results = take_in(
            session,
            checked,
            confirmed=confirmed,
            welcome=welcome,
            system=holder.name,
            resend_after=resend,
        )
        return [
            AddedOut(email=person.address.email, result=result.value)
            for person, result in zip(checked, results, strict=True)
        ]

    return await run_in_threadpool(retrying_unique, site.database, work)


def _checked(
    people: Sequence[SubscriberIn], topics: frozenset[str], ascii_only: bool, bulk: bool
) -> list[CheckedArrival]:
    """Every person checked; one ``422`` listing every problem of every person."""
    checked: list[CheckedArrival] = []
    problems: list[dict[str, Any]] = []
    for index, person in enumerate(people):
        try:
            checked.append(check_arrival(person.arrival(), topics, ascii_local_part=ascii_only))
        except InvalidInput as exc:
            where: list[str | int] = ["body", "subscribers", index] if bulk else ["body"]
            problems += [_located([*where, field], reason) for field, reason in exc.problems]
    if problems:
        raise RequestValidationError(problems)
    return checked


# --- campaigns and reports ----------------------------------------------------------------


@router.get("/campaigns", responses=_answers())
async def list_campaigns(
    request: Request,
    response: Response,
    holder: Annotated[KeyHolder, Depends(require(Scope.CAMPAIGNS_READ))],
    asked: Annotated[PageQuery, Depends(page_query)],
) -> list[CampaignOut]:
    """Campaigns, newest first, with their recipients and how many were sent: one page
    (``page``, ``per_page``); a ``Link: <…>; rel="next"`` header when more follow."""
    found = await api_site(request).run(lambda s: campaign_summaries(s, asked))
    return answer_page(request, response, asked, found)


@router.get("/campaigns/{campaign_id}/report", responses=_answers(404, 422))
async def report(
    request: Request,
    campaign_id: CampaignId,
    holder: Annotated[KeyHolder, Depends(require(Scope.REPORTS_READ))],
) -> CampaignReport:
    """The campaign's report, as the editor API and ``newsletter report --format json``
    give it: sending and delivery, human opens and clicks with their rates, per segment,
    brief and narrative, the top links, machine opens and clicks apart."""
    return await api_site(request).run(lambda s: campaign_report(s, campaign_id))
