"""What the key hands to the structured answer types: references that can be queried, not just compared.

The key (``grader/key.py``) builds these from the engine; the answer types only call them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from grader.engine.graph import Graph


@dataclass(frozen=True)
class ScheduleReference:
    """The key of a ``schedule`` part: the computation graph and the nodes whose adjoints are wanted.

    Attributes:
        graph: the engine's graph with every node named (``f1`` ... ``f6``, ``x1``, ``x2``, ``theta``).
        wrt: the variables of interest (``("theta",)``); empty means the schedule must cover the whole graph.
    """

    graph: Graph
    wrt: tuple[str, ...] = ()

    def needed_labels(self) -> list[str]:
        """The nodes a schedule for ``wrt`` covers: the wrt nodes and everything that depends on them, in the
        engine's own reverse-schedule order (output first) -- itself a valid schedule. All nodes when ``wrt``
        is empty."""
        if not self.wrt:
            return self.graph.labels
        wanted: set[str] = set(self.wrt)
        for name in self.wrt:
            wanted.update(node.label for node in self.graph.children_of(name))
        return [label for label in self.graph.labels if label in wanted]


@dataclass(frozen=True)
class FunctionReference:
    """The key of a ``formula`` or ``graph`` part: the reference function, vectorized over points.

    Attributes:
        fn: maps ``{variable: (P,) array}`` to the reference values ``(P,)``, NaN where the reference is
            undefined (a conv size that is not a whole number, a stride that does not fit).
    """

    fn: Callable[[Mapping[str, np.ndarray]], np.ndarray]

    def __call__(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.fn(values)


GraphReference = FunctionReference
"""The key of a ``graph`` part is a function of the inputs like that of a ``formula`` part."""

Unit = tuple[int, ...]
Shift = tuple[int, int]


@dataclass(frozen=True)
class TranslationReference:
    """The key of a ``translation`` part (Exercise 3d): which shifts leave each pooled unit's value unchanged.

    Attributes:
        units: 0-based indices ``(i, j, k)`` of the output units of the max-pooling layer, row-major order.
        is_invariant: ``is_invariant(unit, (dy, dx))`` tells whether shifting the image by ``dy`` rows down and
            ``dx`` columns right (negative: up/left; zeros fill in) leaves that unit's value unchanged.
        example: one invariant non-zero shift per unit, or None when none exists within ``max_shift``.
        max_shift: largest ``|dy|`` and ``|dx|`` considered.
        held: the memory its Python objects take, in numbers of 8 bytes (a key cache counts keys by that):
            about 22 per unit and 11 per invariant shift (measured with tracemalloc on 20,000 pooled units).
    """

    units: tuple[Unit, ...]
    is_invariant: Callable[[Unit, Shift], bool]
    example: Mapping[Unit, Shift | None]
    max_shift: int
    held: int = 0
