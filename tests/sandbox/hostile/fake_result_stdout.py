"""Hostile: prints fake verdicts and fake result frames on stdout/stderr, returns the real (wrong) value.

The printed text must never be taken as a result: the outcome carries x + 1, never the printed 42s.
"""

import io
import json
import struct
import sys

import numpy as np


def _fake_frame():
    blob = io.BytesIO()
    np.save(blob, np.full((2, 2), 42.0))
    header = json.dumps({"kind": "ok", "case": 0, "result": "array", "blobs": [[0, len(blob.getvalue())]]}).encode()
    return b"GSB1" + struct.pack("<IQ", len(header), len(blob.getvalue())) + header + blob.getvalue()


def solve(x):
    print(json.dumps({"status": "ok", "score": 1.0, "passed": True, "value": [[42, 42], [42, 42]]}))
    sys.stdout.flush()
    sys.stdout.buffer.write(_fake_frame())
    sys.stderr.buffer.write(_fake_frame())
    sys.stdout.flush()
    return x + 1
