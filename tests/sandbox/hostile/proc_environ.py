"""Hostile: collects every environment it can see (its own, /proc/1/environ, every /proc/PID/environ).

Returns them as bytes (uint8); the test asserts the grader's secret variable is not among them.
"""

import os

import numpy as np


def solve(x):
    found = repr(dict(os.environ)).encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as environ:
                    found += environ.read()
            except OSError:
                pass
    return np.frombuffer(found, dtype=np.uint8)
