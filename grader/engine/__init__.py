"""The reference engine: numpy-only math that computes every answer the grader expects.

Layout follows the week-7 sheet (and TensorFlow): images ``(H, W, C)`` or ``(N, H, W, C)``, filter banks
``(f, f, C, K)`` indexed ``w[x, y, c, k]``, conv outputs ``(H', W', K)``. Indices are 0-based: the sheet's
``w_1111`` is ``w[0, 0, 0, 0]``. Cross-correlation, no kernel flip. This package imports only numpy.
"""

from grader.engine.activations import cos, exp, log, relu, sigmoid, sin, tanh
from grader.engine.graph import Graph, ScheduleCheck
from grader.engine.tensor import Tensor, add, div, mul, neg, power, reverse_schedule, square, sub, sum_all

__all__ = [
    "Graph",
    "ScheduleCheck",
    "Tensor",
    "add",
    "cos",
    "div",
    "exp",
    "log",
    "mul",
    "neg",
    "power",
    "relu",
    "reverse_schedule",
    "sigmoid",
    "sin",
    "square",
    "sub",
    "sum_all",
    "tanh",
]
