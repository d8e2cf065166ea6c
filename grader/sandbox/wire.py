"""Wire format between the grader, the sandbox worker and the child: length-prefixed frames of JSON + array blobs.

A frame is ``MAGIC | u32 header length | u64 payload length | header (UTF-8 JSON object) | payload``. Arrays travel
as concatenated array blobs (:func:`array_to_blob`: a fixed binary header with dtype code and shape, then the raw
data; never pickled); the header says where each blob starts and ends. Runs on both sides of the sandbox: standard
library and numpy only, relative imports.
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
HARNESS_FAILED_EXIT = 71
"""The exit code of a child whose harness failed after setup: most often it could not write to its result channel
because the student's code closed or replaced file descriptors it did not open."""


# Captured at import: the sandboxed child sends its frames with it after the student's code ran, and the student may
# have reassigned ``os.write`` (the child's guard does not watch os, see child.py).
_os_write = os.write


class WireError(Exception):
    """A frame or array that breaks the wire format (too big, malformed, wrong dtype); the message is for people."""


class OversizeError(WireError):
    """A frame whose payload is larger than the reader accepts (a result over its cap)."""


def _header_encoder() -> Any:
    """``header -> str``: compact JSON (NaN/inf allowed, non-ASCII escaped), as ``json.dumps(header,
    separators=(",", ":"))`` gives, but with the C encoder built once instead of a JSONEncoder per call: faster, and
    nothing is looked up at call time that a student's monkeypatching in the child could have replaced (``json.dumps``
    creates a ``JSONEncoder``, whose class attributes no guard restores). Headers are built by the harness and never
    circular, so they are not checked for cycles."""
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_encoder is None:  # an interpreter without the _json accelerator
        return lambda header: json.dumps(header, separators=(",", ":"))

    def unsupported(value: Any) -> Any:
        raise TypeError(f"a frame header cannot hold {type(value).__name__}")

    iterencode = make_encoder(None, unsupported, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)
    join = "".join
    return lambda header: join(iterencode(header, 0))


_encode_header = _header_encoder()


def encode_frame(header: dict[str, Any], payload: bytes = b"") -> bytes:
    """One frame: the prefix, ``header`` as JSON (NaN/inf allowed), then ``payload``."""
    header_bytes = _encode_header(header).encode("utf-8")
    return PREFIX.pack(MAGIC, len(header_bytes), len(payload)) + header_bytes + payload


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to the (blocking) file descriptor ``fd``."""
    view = memoryview(data)
    while view:
        written = _os_write(fd, view)
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
    header, payload_length = _parse_prefix(prefix, max_payload_bytes, MAX_HEADER_BYTES)
    header_bytes = _read_exact(stream, header)
    payload = _read_exact(stream, payload_length)
    return _parse_header(header_bytes), payload


def _parse_prefix(prefix: bytes, max_payload_bytes: int, max_header_bytes: int) -> tuple[int, int]:
    magic, header_length, payload_length = PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise WireError("the result channel carried bytes that are not a frame")
    if header_length > max_header_bytes:
        raise WireError(f"a frame header of {header_length} bytes exceeds {max_header_bytes} bytes")
    if payload_length > max_payload_bytes:
        raise OversizeError(f"a result of {payload_length} bytes exceeds the cap of {max_payload_bytes} bytes")
    return header_length, payload_length


def _parse_header(header_bytes: bytes) -> dict[str, Any]:
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise WireError(f"a frame header is not JSON: {error}") from None
    except RecursionError:
        raise WireError("a frame header nests its JSON too deeply") from None
    if not isinstance(header, dict):
        raise WireError("a frame header is not a JSON object")
    return header


class FrameParser:
    """Incremental frame parser for a non-blocking pipe: ``feed`` bytes, get complete frames.

    ``pending_payload`` tells how many payload bytes the frame being received declared, so a reader can refuse a
    frame as soon as its prefix arrives.
    """

    def __init__(self, max_payload_bytes: int, max_header_bytes: int = MAX_HEADER_BYTES) -> None:
        self.max_payload_bytes = max_payload_bytes
        self.max_header_bytes = max_header_bytes
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Append ``data`` and yield every frame now complete; raises WireError on a malformed/oversized frame."""
        self._buffer += data
        while len(self._buffer) >= PREFIX.size:
            header_length, payload_length = _parse_prefix(bytes(self._buffer[: PREFIX.size]), self.max_payload_bytes, self.max_header_bytes)
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


ARRAY_MAGIC = b"GA"
ARRAY_PREFIX = struct.Struct("<2sBB")  # magic, dtype code, number of dimensions; then one u64 per dimension
ARRAY_DIM = struct.Struct("<Q")
MAX_DIMS = 32
ARRAY_DTYPES: tuple[np.dtype, ...] = tuple(
    np.dtype(code) for code in ("|b1", "<i1", "<i2", "<i4", "<i8", "<u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8")
)
"""The dtypes an array blob may carry (their index is its dtype code): bool, little-endian integers and floats."""
_DTYPE_CODES = {dtype: code for code, dtype in enumerate(ARRAY_DTYPES)}
_FLOAT64 = ARRAY_DTYPES[-1]


def array_to_blob(array: np.ndarray) -> bytes:
    """``array`` (bool, integer or float; any shape, 0-d included, any memory layout or byte order) as an array blob:
    ``ARRAY_PREFIX`` (magic, dtype code, ndim), one little-endian u64 per dimension, then the data in C order.

    Floats wider than 64 bits are sent as float64. Raises WireError for any other dtype. Unlike ``.npy`` the header
    is fixed binary, so reading it needs no parser (``numpy.lib.format`` parses a Python literal per array).
    """
    dtype = array.dtype
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise WireError(f"an array of dtype {dtype} cannot be sent; only bool, integer and float arrays can")
    wire_dtype = _FLOAT64 if dtype.kind == "f" and dtype.itemsize > 8 else dtype.newbyteorder("<")
    code = _DTYPE_CODES[wire_dtype]
    shape = array.shape
    header = ARRAY_PREFIX.pack(ARRAY_MAGIC, code, len(shape)) + b"".join(ARRAY_DIM.pack(dim) for dim in shape)
    return header + array.astype(wire_dtype, copy=False).tobytes(order="C")


def read_fd_frame(fd: int, max_bytes: int) -> tuple[dict[str, Any], bytes]:
    """The first frame on ``fd``, read exactly (nothing after it: the worker may write another later)."""

    def exactly(count: int) -> bytes:
        chunks: list[bytes] = []
        while count:
            data = os.read(fd, min(count, 1 << 16))
            if not data:
                raise OSError("the frame is incomplete")
            chunks.append(data)
            count -= len(data)
        return b"".join(chunks)

    prefix = exactly(PREFIX.size)
    _magic, header_length, payload_length = PREFIX.unpack(prefix)
    if header_length + payload_length > max_bytes:
        raise OSError("the frame is too large")
    frames = list(FrameParser(max_bytes).feed(prefix + exactly(header_length + payload_length)))
    if len(frames) != 1:
        raise OSError("the frame is incomplete")
    return frames[0]


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


MAX_DIM = (1 << 31) - 1
"""Largest size of one axis a blob may declare (also for arrays with a zero-sized axis, which hold no data)."""


def _read_blob(blob: bytes, max_bytes: int) -> np.ndarray:
    """The array a blob declares, in its wire dtype (a read-only view of ``blob``); WireError for anything that
    breaks the format: magic, dtype code, number and size of dimensions, data longer than ``max_bytes`` or not
    exactly as long as the shape says. Nothing is copied before every check passed."""
    if len(blob) < ARRAY_PREFIX.size:
        raise WireError("the result is not a valid array blob (too short)")
    magic, code, ndim = ARRAY_PREFIX.unpack_from(blob)
    if magic != ARRAY_MAGIC:
        raise WireError("the result is not a valid array blob (bad magic)")
    if code >= len(ARRAY_DTYPES):
        raise WireError(f"the result has an unknown dtype code {code}; only bool, integer and float arrays are accepted")
    if ndim > MAX_DIMS:
        raise WireError(f"the result has {ndim} dimensions, more than {MAX_DIMS}")
    offset = ARRAY_PREFIX.size + ndim * ARRAY_DIM.size
    if len(blob) < offset:
        raise WireError("the result is not a valid array blob (its shape is cut off)")
    shape = tuple(ARRAY_DIM.unpack_from(blob, ARRAY_PREFIX.size + i * ARRAY_DIM.size)[0] for i in range(ndim))
    if any(dim > MAX_DIM for dim in shape):
        raise WireError(f"the result has an axis longer than {MAX_DIM}")
    dtype = ARRAY_DTYPES[code]
    count = 1
    for dim in shape:
        count *= dim
    data_bytes = count * dtype.itemsize
    if data_bytes > max_bytes:
        raise WireError(f"the result holds {data_bytes} bytes, more than the cap of {max_bytes} bytes")
    if len(blob) - offset != data_bytes:
        raise WireError("the result's data has the wrong length for its shape")
    try:
        return np.frombuffer(blob, dtype=dtype, count=count, offset=offset).reshape(shape) if count else np.empty(shape, dtype)
    except (ValueError, MemoryError) as error:  # e.g. numpy's own limits on an empty array's shape
        raise WireError(f"the result's shape {shape} cannot be an array ({error})") from None


def held_bytes(kind: str, size: int) -> int:
    """Bytes a result of ``size`` numbers of dtype kind ``kind`` takes as the grader holds it (:func:`blob_to_array`:
    8 per number, 1 per bool): what the result caps count, so an int8 result cannot grow eightfold past them."""
    return size if kind == "b" else 8 * size


def blob_to_array(blob: bytes, *, max_bytes: int) -> np.ndarray:
    """Validate and load one array blob (see :func:`array_to_blob`) sent by untrusted code: a result.

    Returns a plain, native-endian, C-contiguous, writable ndarray: float64 for any float input, int64 for integers
    (float64 when unsigned values exceed int64), bool kept. WireError when the blob is malformed or when the array
    would hold more than ``max_bytes`` (:func:`held_bytes`).
    """
    array = _read_blob(blob, max_bytes)
    kind = array.dtype.kind
    if held_bytes(kind, array.size) > max_bytes:
        raise WireError(
            f"the result has {array.size} numbers ({held_bytes(kind, array.size) / 2**20:.1f} MiB as 64-bit values), "
            f"more than the cap of {max_bytes / 2**20:.1f} MiB"
        )
    if kind == "f":
        return array.astype(np.float64)
    if kind == "b":
        return array.astype(np.bool_)
    if kind == "u" and array.size and int(array.max()) > np.iinfo(np.int64).max:
        return array.astype(np.float64)
    return array.astype(np.int64)


def blob_to_input(blob: bytes) -> np.ndarray:
    """Load one array blob of the grader's request (a case's argument): its dtype kept (uint8 stays uint8, float32
    stays float32), native byte order, C-contiguous and writable (the student's function may modify it)."""
    array = _read_blob(blob, len(blob))
    return array.astype(array.dtype.newbyteorder("="))


# ---------------------------------------------------------------------------------------------------------------
# case inputs


def encode_case_kwargs(kwargs: dict[str, Any], blobs: list[bytes]) -> list[dict[str, Any]]:
    """JSON descriptions of one case's keyword arguments; arrays are appended to ``blobs`` and referenced by index.

    Python scalars keep their type (``bool``, ``int``, ``float``) and arrays their dtype (floats wider than 64 bits
    become float64), so the student's function receives exactly them (:func:`decode_case_kwargs`).
    """
    described: list[dict[str, Any]] = []
    for key, value in kwargs.items():
        if isinstance(value, np.ndarray):
            described.append({"key": key, "kind": "array", "blob": len(blobs)})
            blobs.append(array_to_blob(value))
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
            kwargs[item["key"]] = blob_to_input(blob_at(payload, table, item["blob"]))
        elif kind == "bool":
            kwargs[item["key"]] = bool(item["value"])
        elif kind == "int":
            kwargs[item["key"]] = int(item["value"])
        else:
            kwargs[item["key"]] = float(item["value"])
    return kwargs
