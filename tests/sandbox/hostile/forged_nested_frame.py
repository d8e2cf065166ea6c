"""Hostile: forges, on the result channel, an exception frame for its own case whose JSON nests deeper than a
parser can recurse (100,000 levels, which no parser takes; then 985, which the worker parses but the grader,
deeper in its stack, would not), and leaves.

-> case 0 crashes on the corrupted channel; case 1 gets an exception with a plain message (the worker relays only
bounded fields); the grader is unaffected.
"""

import os
import struct


def _result_fd():
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                    return fd
            except OSError:
                pass
    return None


def solve(x):
    case = int(x[0])  # the cases are arange(4) and ones(3)
    depth = 100_000 if case == 0 else 985
    nested = "[" * depth + "]" * depth
    header = ('{"kind":"exception","case":%d,"error":{"type":%s,"message":%s,"frames":[[1,%s]],"total_frames":1}}' % (case, nested, nested, nested)).encode()
    os.write(_result_fd(), struct.pack("<4sIQ", b"GSB1", len(header), 0) + header)
    os._exit(0)
