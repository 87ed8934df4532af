"""Fuzzing an OpenAPI document's operations with schemathesis, shared by the public, editor
and newsroom API tests: each operation (with each combination of known path values) gets a
derandomised run of its own, so every one is tried whatever else the document holds — a
single draw over all of them once left one untried when another API's models joined."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

Operation = Any  # schemathesis' APIOperation


def negatable(operations: Iterable[Operation], mode: GenerationMode, *, known: bool) -> list[Any]:
    """The operations a run in ``mode`` can exercise: every one when positive; when negative,
    those with something to break (with known path values, only a body)."""
    if mode is GenerationMode.POSITIVE:
        return list(operations)
    if known:
        return [op for op in operations if op.body]
    return [op for op in operations if op.path_parameters or op.body or op.query]


def strategies(
    operations: Iterable[Operation],
    mode: GenerationMode,
    known: Mapping[str, Sequence[object]] | None = None,
) -> list[Any]:
    """One strategy per operation, or with ``known`` one per combination of known values
    for its path parameters."""
    if known is None:
        return [op.as_strategy(mode) for op in operations]
    return [
        op.as_strategy(mode, path_parameters=dict(zip(names, combination, strict=True)))
        for op in operations
        for names in [re.findall(r"{(\w+)}", op.path)]
        for combination in itertools.product(*(known[name] for name in names))
    ]


def exercise_each(
    cases: Iterable[Any],
    *,
    examples: int,
    checks: Sequence[Any],
    headers: Mapping[str, str] | None = None,
) -> tuple[set[str], set[int]]:
    """Run every strategy for ``examples`` derandomised cases, each call validated with
    ``checks``; returns the operations tried and the statuses seen."""
    seen: set[str] = set()
    statuses: set[int] = set()
    for strategy in cases:

        @given(case=strategy)
        @settings(
            max_examples=examples,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: schemathesis.Case) -> None:
            seen.add(case.operation.label)
            response = case.call_and_validate(headers=dict(headers or {}), checks=checks)
            statuses.add(response.status_code)

        exercise()
    return seen, statuses


def fuzz_operations(
    operations: Sequence[Operation],
    mode: GenerationMode,
    known: Mapping[str, Sequence[object]] | None,
    *,
    examples: int,
    checks: Sequence[Any],
    headers: Mapping[str, str] | None = None,
) -> set[int]:
    """Fuzz a document's operations, with ``known`` path values only those that take any,
    and check that every operation the mode can exercise was tried; returns the statuses
    seen. (A negative run with known path values can only break the body.)"""
    if known is not None:
        operations = [op for op in operations if "{" in op.path]
    tried = negatable(operations, mode, known=known is not None)
    seen, statuses = exercise_each(
        strategies(tried, mode, known), examples=examples, checks=checks, headers=headers
    )
    expected = {op.label for op in tried}
    assert seen >= expected, f"not every operation was tried: {sorted(seen)}"
    return statuses
