"""Wire format between the grader, the sandbox worker and the child: length-prefixed frames of JSON + .npy bytes.

A frame is ``MAGIC | u32 header length | u64 payload length | header (UTF-8 JSON object) | payload``. Arrays travel
as concatenated ``.npy`` blobs (``numpy.lib.format``), read back with ``allow_pickle=False``; the header says where
each blob starts and ends. Runs on both sides of the sandbox: standard library and numpy only, relative imports.
"""

from __future__ import annotations

import io
import json
import os
import struct
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

MAGIC = b"GSB1"
PREFIX = struct.Struct("<4sIQ")
MAX_HEADER_BYTES = 1 << 20
# Result keys of a dict-returning function: at most this many, each at most this long.
MAX_RESULT_KEYS = 64
MAX_KEY_CHARS = 100


class WireError(Exception):
    """A frame or array that breaks the wire format (too big, malformed, wrong dtype); the message is for people."""


class OversizeError(WireError):
    """A frame whose payload is larger than the reader accepts (a result over its cap)."""


def encode_frame(header: dict[str, Any], payload: bytes = b"") -> bytes:
    """One frame: the prefix, ``header`` as JSON (NaN/inf allowed), then ``payload``."""
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return PREFIX.pack(MAGIC, len(header_bytes), len(payload)) + header_bytes + payload


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to the (blocking) file descriptor ``fd``."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(stream: io.BufferedReader | Any, size: int) -> bytes:
    data = stream.read(size)
    if data is None or len(data) != size:
        raise EOFError(f"stream ended after {0 if data is None else len(data)} of {size} bytes")
    return data


def read_frame(stream: Any, *, max_payload_bytes: int) -> tuple[dict[str, Any], bytes]:
    """Read one frame from a blocking binary stream; EOFError at a clean or torn end, WireError if malformed."""
    prefix = stream.read(PREFIX.size)
    if not prefix:
        raise EOFError("stream closed")
    if len(prefix) != PREFIX.size:
        raise EOFError("stream closed inside a frame prefix")
    header, payload_length = _parse_prefix(prefix, max_payload_bytes)
    header_bytes = _read_exact(stream, header)
    payload = _read_exact(stream, payload_length)
    return _parse_header(header_bytes), payload


def _parse_prefix(prefix: bytes, max_payload_bytes: int) -> tuple[int, int]:
    magic, header_length, payload_length = PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise WireError("the result channel carried bytes that are not a frame")
    if header_length > MAX_HEADER_BYTES:
        raise WireError(f"a frame header of {header_length} bytes exceeds {MAX_HEADER_BYTES} bytes")
    if payload_length > max_payload_bytes:
        raise OversizeError(f"a result of {payload_length} bytes exceeds the cap of {max_payload_bytes} bytes")
    return header_length, payload_length


def _parse_header(header_bytes: bytes) -> dict[str, Any]:
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise WireError(f"a frame header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise WireError("a frame header is not a JSON object")
    return header


class FrameParser:
    """Incremental frame parser for a non-blocking pipe: ``feed`` bytes, get complete frames.

    ``pending_payload`` tells how many payload bytes the frame being received declared, so a reader can refuse a
    frame as soon as its prefix arrives.
    """

    def __init__(self, max_payload_bytes: int) -> None:
        self.max_payload_bytes = max_payload_bytes
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Append ``data`` and yield every frame now complete; raises WireError on a malformed/oversized frame."""
        self._buffer += data
        while len(self._buffer) >= PREFIX.size:
            header_length, payload_length = _parse_prefix(bytes(self._buffer[: PREFIX.size]), self.max_payload_bytes)
            total = PREFIX.size + header_length + payload_length
            if len(self._buffer) < total:
                return
            header = _parse_header(bytes(self._buffer[PREFIX.size : PREFIX.size + header_length]))
            payload = bytes(self._buffer[PREFIX.size + header_length : total])
            del self._buffer[:total]
            yield header, payload

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)


# ---------------------------------------------------------------------------------------------------------------
# arrays


def array_to_npy(array: np.ndarray) -> bytes:
    """``array`` as .npy bytes (any memory layout, shape kept, 0-d included; never pickled)."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def pack_blobs(blobs: Sequence[bytes]) -> tuple[list[list[int]], bytes]:
    """Concatenate ``blobs``; returns ``[[offset, length], ...]`` and the joined bytes."""
    table: list[list[int]] = []
    offset = 0
    for blob in blobs:
        table.append([offset, len(blob)])
        offset += len(blob)
    return table, b"".join(blobs)


def blob_at(payload: bytes, table: Any, index: Any) -> bytes:
    """The blob number ``index`` of ``payload`` per ``table``; WireError if the table or index is malformed."""
    if not isinstance(table, list) or not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(table):
        raise WireError("a frame refers to a result blob that does not exist")
    entry = table[index]
    if (
        not isinstance(entry, list)
        or len(entry) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in entry)
        or entry[0] < 0
        or entry[1] < 0
        or entry[0] + entry[1] > len(payload)
    ):
        raise WireError("a frame's blob table is malformed")
    return payload[entry[0] : entry[0] + entry[1]]


def npy_to_array(blob: bytes, *, max_bytes: int) -> np.ndarray:
    """Validate and load one .npy blob sent by untrusted code.

    Accepts only bool, integer and float dtypes (no object, structured, complex, string or datetime data), reads
    the header first and refuses arrays whose data exceeds ``max_bytes``. Returns a plain, native-endian, writable
    ndarray: float64 for any float input, int64 for integers (float64 when unsigned values exceed int64), bool kept.
    """
    stream = io.BytesIO(blob)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream, max_header_size=10000)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream, max_header_size=10000)
        else:
            raise WireError(f"unsupported .npy version {version}")
    except WireError:
        raise
    except Exception as error:  # numpy raises ValueError/SyntaxError/... on malformed headers
        raise WireError(f"the result is not a valid .npy array ({type(error).__name__})") from None
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise WireError(f"the result has dtype {dtype}; only bool, integer and float arrays are accepted")
    count = 1
    for dim in shape:
        count *= int(dim)
    data_bytes = count * dtype.itemsize
    if data_bytes > max_bytes:
        raise WireError(f"the result holds {data_bytes} bytes, more than the cap of {max_bytes} bytes")
    if len(blob) - stream.tell() != data_bytes:
        raise WireError("the result's .npy data has the wrong length for its shape")
    stream.seek(0)
    try:
        array = np.lib.format.read_array(stream, allow_pickle=False)
    except Exception as error:
        raise WireError(f"the result could not be read as an array ({type(error).__name__})") from None
    array = np.asarray(array)
    if fortran_order:
        array = np.ascontiguousarray(array)
    if array.dtype.kind == "f":
        return np.array(array, dtype=np.float64, copy=True)
    if array.dtype.kind == "b":
        return np.array(array, dtype=np.bool_, copy=True)
    if array.dtype.kind == "u" and array.size and int(array.max()) > np.iinfo(np.int64).max:
        return np.array(array, dtype=np.float64, copy=True)
    return np.array(array, dtype=np.int64, copy=True)


# ---------------------------------------------------------------------------------------------------------------
# case inputs


def encode_case_kwargs(kwargs: dict[str, Any], blobs: list[bytes]) -> list[dict[str, Any]]:
    """JSON descriptions of one case's keyword arguments; arrays are appended to ``blobs`` and referenced by index.

    Python scalars keep their type (``bool``, ``int``, ``float``) so the student's function receives exactly them.
    """
    described: list[dict[str, Any]] = []
    for key, value in kwargs.items():
        if isinstance(value, np.ndarray):
            described.append({"key": key, "kind": "array", "blob": len(blobs)})
            blobs.append(array_to_npy(value))
        elif isinstance(value, bool):
            described.append({"key": key, "kind": "bool", "value": value})
        elif isinstance(value, int):
            described.append({"key": key, "kind": "int", "value": value})
        else:
            described.append({"key": key, "kind": "float", "value": float(value)})
    return described


def decode_case_kwargs(described: list[dict[str, Any]], table: Any, payload: bytes) -> dict[str, Any]:
    """Inverse of :func:`encode_case_kwargs` (inside the worker, on the grader's trusted request)."""
    kwargs: dict[str, Any] = {}
    for item in described:
        kind = item["kind"]
        if kind == "array":
            kwargs[item["key"]] = np.lib.format.read_array(io.BytesIO(blob_at(payload, table, item["blob"])), allow_pickle=False)
        elif kind == "bool":
            kwargs[item["key"]] = bool(item["value"])
        elif kind == "int":
            kwargs[item["key"]] = int(item["value"])
        else:
            kwargs[item["key"]] = float(item["value"])
    return kwargs
