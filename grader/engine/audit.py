"""What the convention audits share (max pooling's tie rule in grader.engine.pool; max/min ties and relu/abs at 0
in grader.engine.graph, called from grader.quantities): the fixed seeds of their random splits, how many candidates
they try to name a culprit, and how they compare adjoints and print numbers."""

from __future__ import annotations

import numpy as np

SPLIT_SEEDS = (20261127, 7)
"""The fixed seeds of the random splits that decide whether a key depends on a convention (a tie rule, a derivative
at a kink): fixed, so that the decision is the same on every run of one sheet and variant."""

NAMED_CANDIDATES = 16
"""How many candidates (tied windows, tied max/min nodes, kinks) are tried, one at a time, to name one whose
convention alone changes the key."""


def differs(other: np.ndarray, base: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Where two adjoints or gradients (one shape) differ by more than rounding: ``rtol`` per entry, and ``atol``
    relative to the largest entry of ``base`` (reordered sums of large terms may leave noise on an entry near 0)."""
    scale = max(1.0, float(np.abs(base).max(initial=0.0)))
    return ~np.isclose(other, base, rtol=rtol, atol=atol * scale)


def number_text(value: float) -> str:
    """The shortest text that reads back as ``value`` (``2``, ``0.30000000000000004``, ``1e-17``)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
