"""Ask every link and image of an issue whether it answers, before readers click it.

Each distinct URL is asked once: ``HEAD``, then ``GET`` when a server does not do ``HEAD``
(the body is never read), redirects followed up to a limit, with a timeout per request and
a bounded number in flight (a small thread pool sharing one HTTP client). A missing page
(404, 410), a server error or no answer at all is *broken*; a server that refuses robots
(401, 403, 429, other 4xx) is only *doubtful*: such sites often answer browsers normally, so
the preflight warns instead of blocking.

:func:`check_urls` blocks for up to a few timeouts: call it from a worker thread or the
CLI, never from the server's event loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from functools import partial

import httpx

from newsletter import __version__

MAX_REDIRECTS = 5
BROKEN_STATUSES = frozenset({404, 410})
HEAD_REFUSED = frozenset({403, 405, 501})  # then ask with GET instead


class Verdict(StrEnum):
    BROKEN = "broken"
    DOUBTFUL = "doubtful"


@dataclass(frozen=True)
class LinkProblem:
    url: str
    verdict: Verdict
    why: str


def check_urls(
    urls: Iterable[str], *, timeout: float, concurrency: int, limit: int
) -> tuple[list[LinkProblem], int]:
    """The problems found among the first ``limit`` distinct http(s) URLs, and how many
    URLs were left unchecked beyond ``limit``."""
    distinct = list(dict.fromkeys(u for u in urls if u.startswith(("http://", "https://"))))
    checked = distinct[:limit]
    if not checked:
        return [], len(distinct)
    headers = {"User-Agent": f"newsletter-linkcheck/{__version__}"}
    with (
        httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers=headers,
            trust_env=False,
        ) as client,
        ThreadPoolExecutor(max_workers=min(concurrency, len(checked))) as pool,
    ):
        found = list(pool.map(partial(_check_one, client), checked))
    return [problem for problem in found if problem is not None], len(distinct) - len(checked)


def _check_one(client: httpx.Client, url: str) -> LinkProblem | None:
    try:
        status = _status(client, "HEAD", url)
        if status in HEAD_REFUSED:
            status = _status(client, "GET", url)
    except httpx.TooManyRedirects:
        return LinkProblem(url, Verdict.BROKEN, f"more than {MAX_REDIRECTS} redirects")
    except httpx.TimeoutException:
        return LinkProblem(url, Verdict.BROKEN, "no answer in time")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return LinkProblem(url, Verdict.BROKEN, f"cannot connect ({type(exc).__name__})")
    if status in BROKEN_STATUSES or status >= 500:
        return LinkProblem(url, Verdict.BROKEN, f"HTTP {status}")
    if status >= 400:
        return LinkProblem(url, Verdict.DOUBTFUL, f"HTTP {status} (refused the check)")
    return None


def _status(client: httpx.Client, method: str, url: str) -> int:
    """The final status of ``method url``, without reading a body."""
    with client.stream(method, url) as response:
        return response.status_code
