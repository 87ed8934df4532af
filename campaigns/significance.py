"""The two-proportion z-test: how sure we may be that two click rates really differ.

A subject test compares unique human click rates of cells a few thousand readers large; the
normal approximation of the pooled two-proportion test is the textbook answer there (and what
email tools report as "confidence"). Pure arithmetic, no database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    """Two proportions compared: the z statistic, the two-sided p-value, and the confidence
    (1 - p) that the rates differ."""

    z: float
    p_value: float

    @property
    def confidence(self) -> float:
        return 1.0 - self.p_value


def two_proportion_test(hits_a: int, n_a: int, hits_b: int, n_b: int) -> Comparison:
    """Pooled two-proportion z-test of ``hits_a/n_a`` against ``hits_b/n_b`` (two-sided).

    With no one in a group, or no difference possible (pooled rate 0 or 1), there is no
    evidence: z = 0 and p = 1."""
    if not (0 <= hits_a <= n_a and 0 <= hits_b <= n_b):
        raise ValueError("hits must be between 0 and the group's size")
    if n_a == 0 or n_b == 0:
        return Comparison(0.0, 1.0)
    pooled = (hits_a + hits_b) / (n_a + n_b)
    variance = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    if variance <= 0:
        return Comparison(0.0, 1.0)
    z = (hits_a / n_a - hits_b / n_b) / math.sqrt(variance)
    return Comparison(z, math.erfc(abs(z) / math.sqrt(2)))
