"""Hostile: double-forks a daemon that outlives the call -> denied (exception); no process may survive."""

import os
import time


def solve(x):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", "1000", "grader-hostile-marker"])
            time.sleep(1000)
        os._exit(0)
    return x
