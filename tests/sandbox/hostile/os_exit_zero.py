"""Hostile: leaves with os._exit(0) mid-call (no cleanup, exit code 0) -> crashed: no result came back."""

import os


def solve(x):
    os._exit(0)
