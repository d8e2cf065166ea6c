"""Hostile: returns a right answer in a list whose __del__ ends the process (os._exit) when the result is freed.

The value was handed over before it is freed, so the first case is graded on it ("ok"); the process then ends
between two calls, which the next case is charged with ("crashed").
"""

import os


class Vanishing(list):
    def __del__(self):
        os._exit(0)


def solve(x):
    return Vanishing((2 * x).tolist())
