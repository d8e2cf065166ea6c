"""Hostile: returns a 72 MB array, more than the result cap -> bad-result."""

import numpy as np


def solve(x):
    return np.zeros((3000, 3000))
