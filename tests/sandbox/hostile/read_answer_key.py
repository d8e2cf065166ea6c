"""Hostile: tries to read the exercise's answer key (a path the test creates) and list the grader's files.

Returns what it could read as bytes (uint8); the test asserts the secret is not among them.
"""

import os

import numpy as np

ANSWER_KEY = "/tmp/grader-sandbox-test-exercise/answer_key.yaml"


def solve(x):
    found = b""
    for path in (ANSWER_KEY, os.path.dirname(ANSWER_KEY)):
        try:
            if os.path.isdir(path):
                found += " ".join(os.listdir(path)).encode()
            else:
                with open(path, "rb") as key:
                    found += key.read()
        except OSError:
            pass
    if not found:
        with open(ANSWER_KEY, "rb") as key:  # raises: shows which error the sandbox gave
            found = key.read()
    return np.frombuffer(found, dtype=np.uint8)
