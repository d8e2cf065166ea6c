"""The reference engine: numpy-only math that computes every answer the grader expects.

Layout follows the week-7 sheet (and TensorFlow): images ``(H, W, C)`` or ``(N, H, W, C)``, filter banks
``(f, f, C, K)`` indexed ``w[x, y, c, k]``, conv outputs ``(H', W', K)``. Indices are 0-based: the sheet's
``w_1111`` is ``w[0, 0, 0, 0]``. Cross-correlation, no kernel flip. This package imports only numpy.
"""

from grader.engine.activations import absolute, cos, exp, log, maximum, minimum, relu, sigmoid, sin, tanh
from grader.engine.conv import conv1d, conv2d
from grader.engine.formula import Formula, FormulaError, NamedGraph, parse_formula, parse_named_graph
from grader.engine.gradcheck import check_gradients, numerical_gradient
from grader.engine.graph import Graph, ScheduleCheck
from grader.engine.linear import dense, matmul
from grader.engine.loss import cross_entropy, mse_loss
from grader.engine.pool import (
    PoolTie,
    TieAudit,
    TieScan,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
    max_pool2d_ties,
    max_pool2d_winners,
    max_pool_tie_audit,
)
from grader.engine.reduce import mean, sum_over
from grader.engine.shapes import conv_output_size, pipeline_shapes, pool_output_size, same_padding
from grader.engine.softmax import log_softmax, softmax
from grader.engine.symmetry import changed_units, equivariance, invariant_shifts, invariant_shifts_all, shift
from grader.engine.tensor import Tensor, add, div, mul, neg, power, reverse_schedule, square, sub, sum_all

__all__ = [
    "absolute",
    "maximum",
    "minimum",
    "Formula",
    "FormulaError",
    "NamedGraph",
    "parse_formula",
    "parse_named_graph",
    "conv_output_size",
    "pipeline_shapes",
    "pool_output_size",
    "same_padding",
    "changed_units",
    "equivariance",
    "invariant_shifts",
    "invariant_shifts_all",
    "shift",
    "avg_pool1d",
    "avg_pool2d",
    "check_gradients",
    "conv1d",
    "conv2d",
    "dense",
    "max_pool1d",
    "max_pool2d",
    "max_pool2d_ties",
    "max_pool2d_winners",
    "max_pool_tie_audit",
    "PoolTie",
    "TieAudit",
    "TieScan",
    "mse_loss",
    "cross_entropy",
    "matmul",
    "mean",
    "sum_over",
    "softmax",
    "log_softmax",
    "numerical_gradient",
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
