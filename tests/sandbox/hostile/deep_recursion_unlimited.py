"""Hostile: lifts the recursion limit, then recurses until the C stack overflows -> crashed (SIGSEGV) or exception."""

import sys

sys.setrecursionlimit(10**8)


def _down(n):
    return _down(n + 1) + 1


def solve(x):
    return _down(0)
