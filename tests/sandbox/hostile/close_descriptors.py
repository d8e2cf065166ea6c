"""Closes every low file descriptor, the harness's result channel among them, then returns: the harness cannot send
the result, and the student is told that closing descriptors they did not open does this (not to stop calling
exit(), which they never did)."""

import os


def solve(x):
    os.closerange(0, 10)
    return x
