"""The dispatcher's GC setting is raised only while a dispatch runs, and overlapping
dispatches (threads of `newsletter serve`, tests) restore it only when the last one ends."""

from __future__ import annotations

import gc

from campaigns.dispatch import few_collections


def test_collections_are_rarer_during_a_dispatch_and_restored_after() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    with few_collections():
        assert gc.get_threshold()[0] == 50_000
        assert gc.get_freeze_count() > frozen_before
        with few_collections():  # a second dispatch at the same time
            assert gc.get_threshold()[0] == 50_000
        assert gc.get_threshold()[0] == 50_000  # the first one is still running
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_setting_is_restored_when_a_dispatch_fails() -> None:
    before = gc.get_threshold()
    try:
        with few_collections():
            raise RuntimeError("a lane crashed")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before


def test_a_heap_frozen_before_stays_frozen() -> None:
    """`newsletter serve` freezes its app's objects at start-up; a dispatch in its
    in-process worker must not thaw them."""
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with few_collections():
            pass
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()
