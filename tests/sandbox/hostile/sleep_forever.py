"""Hostile: sleeps forever, using no CPU -> timeout (wall clock)."""

import time


def solve(x):
    time.sleep(10**6)
