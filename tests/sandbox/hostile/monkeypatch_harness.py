"""Hostile: breaks what the harness itself uses to report results (json, struct, builtins it calls), at import and
again during every call, and deletes builtins -> the harness undoes it between calls; the outcome is ok with 2 * x.

A patch of a name the harness never reads (``abs`` here) stays, as in plain Python: ``solve`` relies on it.
"""

import builtins
import json
import json.encoder
import struct
import types


def _break_the_harness():
    json.dumps = lambda *args, **kwargs: '{"kind": "ok", "case": 0, "result": "array", "blobs": []}'
    json.encoder.c_make_encoder = None
    json.encoder.encode_basestring_ascii = lambda text: '"forged"'
    json.JSONEncoder.__init__ = lambda self, *args, **kwargs: None
    struct.pack = lambda *args: b""
    builtins.dict = list
    builtins.range = lambda *args: []
    builtins.getattr = lambda *args: None
    types.ModuleType = None
    for name in ("sorted", "callable", "bytes", "memoryview"):
        if hasattr(builtins, name):
            delattr(builtins, name)


_break_the_harness()
builtins.abs = lambda value: "patched"


def solve(x):
    _break_the_harness()
    return x * 2 if abs(-1) == "patched" else x * 0
