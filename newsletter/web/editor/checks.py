"""The editor's pre-send checks page: every check of :mod:`campaigns.preflight`, on demand.

It asks the network (DNS, each link and image), so it runs only when an editor opens it, in
the thread pool, never on the event loop; the confirmation page runs the same checks before
a send through a real provider.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from campaigns.preflight import run_preflight
from campaigns.service import get_campaign
from newsletter.web.editor.auth import csrf_protect, editor_page
from newsletter.web.editor.campaigns import CampaignId
from newsletter.web.editor.site import editor_site, render

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(editor_page), Depends(csrf_protect)]
)


@router.get("/editor/campaigns/{campaign_id}/checks")
async def checks_page(request: Request, campaign_id: CampaignId) -> Response:
    site = editor_site(request)
    campaign = await site.run(lambda session: get_campaign(session, campaign_id))
    checks = await run_in_threadpool(run_preflight, site.database, campaign_id, site.settings)
    return render(request, "checks.html", {"campaign": campaign, "checks": checks})
