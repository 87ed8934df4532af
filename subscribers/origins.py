"""Whether an unsafe request comes from another site (the check against cross-site posts).

Browsers name the page a post comes from in ``Origin`` (and, where supported, say
``Sec-Fetch-Site: cross-site``, which also holds when a ``no-referrer`` policy made the
origin ``null``); a request from another site's page is refused where only
our own pages may post. Clients that send neither (curl, mail clients' one-click) pass:
this guards a visitor's browser, not the endpoint, which has its own limits.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased (how ``Origin`` names a page)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def foreign_origin(request: Request, public_url: str) -> str | None:
    """What names another site as this request's sender, or ``None`` (ours, or unsaid)."""
    origin = request.headers.get("origin")
    # "null": the page's Referrer-Policy (no-referrer on the pages behind signed links) hid
    # it; Sec-Fetch-Site below still tells another site apart.
    if origin is not None and origin != "null":
        own = {origin_of(public_url), origin_of(str(request.base_url))}
        if origin.lower() not in own:
            return origin
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return "another site (Sec-Fetch-Site: cross-site)"
    return None
