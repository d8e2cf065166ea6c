"""Hostile: prints ~20 MB, then returns a correct value -> ok, with the output excerpt capped."""

import sys


def solve(x):
    line = "spam " * 200 + "\n"
    for _ in range(20_000):
        sys.stdout.write(line)
    return x
