"""Hostile: asks numpy for ~800 GB -> memory (RLIMIT_AS)."""

import numpy as np


def solve(x):
    return np.ones(10**11)
