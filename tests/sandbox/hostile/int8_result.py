"""Hostile: returns 3 Mi int8 numbers (3 MiB sent), which the grader would hold as 24 MiB of int64, over the
16 MiB result cap.

-> bad-result naming the size as 64-bit numbers; the grader never widens it.
"""

import numpy as np


def solve(x):
    return np.ones(3 << 20, dtype=np.int8)
