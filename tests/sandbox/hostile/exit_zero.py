"""Hostile: calls sys.exit(0) mid-call, hoping a clean exit counts as success -> not ok."""

import sys


def solve(x):
    sys.exit(0)
