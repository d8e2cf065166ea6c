"""Hostile: unbounded recursion -> exception (RecursionError), not a grader crash."""


def solve(x):
    return solve(x + 1)
