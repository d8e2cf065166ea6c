"""Hostile: starts a long-running program -> denied (exception); no process may survive."""

import subprocess


def solve(x):
    subprocess.Popen(["sleep", "1000", "grader-hostile-marker"])
    return x
