"""Process-wide garbage-collector settings, chosen by the commands that start a process.

CPython's cyclic collector is tuned for short programs: a young-generation pass every 700
allocations, and full passes that walk every object of the heap. Two kinds of our
processes pay for that (measured in docs/benchmarks.md): a sending process allocates
millions of short-lived tuples and dicts that reference counting frees anyway, and a web
server's full passes over its large, long-lived heap were its p99 latency.

Both settings are process-wide, so only entry points apply them (``newsletter serve``,
``worker``, ``send``, ``scheduler``, and uvicorn's app factory for each server process),
once, after start-up: library functions never touch the collector.
"""

from __future__ import annotations

import gc

SENDING_YOUNG_THRESHOLD = 50_000
"""Allocations between young-generation passes in a sending process (CPython: 700)."""

SERVING_OLD_THRESHOLD = 1_000
"""Middle-generation passes between full passes in a server process (CPython: 10)."""


def freeze_start_up() -> None:
    """Move everything alive now (modules, the app, pools) out of the collector's sight:
    collections no longer walk it. Collected first, so no garbage is kept for good."""
    gc.collect()
    gc.freeze()


def tune_for_sending() -> None:
    """A process that dispatches campaigns: start-up frozen, young passes rarer."""
    freeze_start_up()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(SENDING_YOUNG_THRESHOLD, middle, old)


def tune_for_serving() -> None:
    """A web server process: start-up frozen, full passes rare (request handling makes
    few reference cycles; the young generations are still collected as usual)."""
    freeze_start_up()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, SERVING_OLD_THRESHOLD)
