"""Hostile: leaves a thread running after returning -> the value counts (ok); nothing survives the run."""

import threading
import time


def _linger():
    while True:
        time.sleep(0.01)


def solve(x):
    threading.Thread(target=_linger, daemon=True).start()
    threading.Thread(target=_linger, daemon=False).start()
    return x * 2
