"""Hostile: signals its parent, every process, and tries to write the parent's memory -> exception; grader fine."""

import os
import signal


def solve(x):
    errors = []
    for target in (os.getppid(), 1, -1):
        try:
            os.kill(target, signal.SIGKILL)
        except OSError as error:
            errors.append(error)
    try:
        with open(f"/proc/{os.getppid()}/mem", "wb") as memory:
            memory.write(b"\0")
    except OSError as error:
        errors.append(error)
    raise PermissionError(f"{len(errors)} attacks refused")
