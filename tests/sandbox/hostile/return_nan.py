"""Hostile (mild): returns NaN and inf -> ok with the values kept (the grader's check ladder reports them)."""

import numpy as np


def solve(x):
    result = np.full_like(x, np.nan)
    result[0] = np.inf
    return result
