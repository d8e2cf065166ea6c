"""Hostile: tries to create and overwrite files outside its working directory (a folder the test made).

Returns how many writes succeeded (0 expected); the test also checks the files themselves.
"""

import numpy as np

OUTSIDE = "/tmp/grader-sandbox-test-outside"


def solve(x):
    succeeded = 0
    for path, mode in ((f"{OUTSIDE}/created.txt", "w"), (f"{OUTSIDE}/existing.txt", "w"), (f"{OUTSIDE}/existing.txt", "a")):
        try:
            with open(path, mode) as target:
                target.write("pwned")
            succeeded += 1
        except OSError:
            pass
    with open("scratch.txt", "w") as own:  # its own working directory is writable
        own.write("fine")
    return np.array(succeeded)
