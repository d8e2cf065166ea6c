"""Hostile: forges the harness's 'ok' frame with an array blob of no data but shape (0, 2**63) -> bad-result.

The blob passes a check of its length (zero entries, zero bytes); the grader must refuse the shape itself rather
than let numpy raise while building the array.
"""

import json
import os
import struct


def solve(x):
    blob = b"GA" + bytes([11, 2]) + struct.pack("<QQ", 0, 2**63)  # dtype code 11 (<f8), 2 axes, no data
    header = json.dumps({"kind": "ok", "case": 0, "result": "array", "blobs": [[0, len(blob)]]}).encode()
    frame = b"GSB1" + struct.pack("<IQ", len(header), len(blob)) + header + blob
    for fd in os.listdir("/proc/self/fd"):  # the result pipe is the only descriptor above stderr
        if int(fd) > 2:
            try:
                os.write(int(fd), frame)
            except OSError:
                pass
    os._exit(0)
