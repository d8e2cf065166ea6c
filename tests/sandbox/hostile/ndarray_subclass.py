"""Hostile: returns an ndarray subclass whose comparisons always say "equal" -> a plain ndarray of its data (ok)."""

import numpy as np


class Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)

    def all(self, *args, **kwargs):
        return True

    def __array_finalize__(self, obj):
        pass


def solve(x):
    return (x * 3).view(Liar)
