"""Hostile: classic fork bomb -> denied (exception); no process may survive."""

import os


def solve(x):
    while True:
        os.fork()
