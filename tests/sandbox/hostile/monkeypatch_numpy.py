"""Hostile: monkeypatches numpy and builtins at import so comparisons/conversions lie -> only the child is affected.

The outcome is ok with the true value 2 * x.
"""

import builtins

import numpy as np

np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.asarray = lambda *args, **kwargs: "hacked"
np.save = lambda *args, **kwargs: None
builtins.isinstance = lambda *args: True
builtins.len = lambda *args: 0


def solve(x):
    return x * 2
