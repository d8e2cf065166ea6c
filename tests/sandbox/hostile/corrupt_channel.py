"""Hostile: writes garbage to every file descriptor it inherited, hoping to forge or break the result channel.

-> this case is not ok (crashed: the channel is corrupted) and the grader is unaffected.
"""

import os


def solve(x):
    for fd in range(3, 64):
        try:
            os.write(fd, b"GSB1\xff\xff\xff\xff garbage " * 4)
        except OSError:
            pass
    return x
