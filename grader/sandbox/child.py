"""Code that runs inside the forked child: lock the process down, import the student's module, call its functions.

The child talks to its supervisor (the worker) only through ``result_fd``, in frames of :mod:`wire`. Nothing it
sends is trusted by the grader; this module only makes honest results easy to send and honest failures easy to
explain. Standard library and numpy only; relative imports (the worker loads this package without ``grader``).
"""

from __future__ import annotations

import builtins
import itertools
import operator
import os
import resource
import signal
import sys
import types
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from . import layers, wire

MAX_MESSAGE_CHARS = 2000
MAX_FRAMES = 60
OPEN_FILES = 64
PROCESSES_PER_UID = 32  # threads count too; fork/clone of processes is denied by seccomp anyway

# Saved before the student's module runs, so monkeypatching numpy or builtins cannot change how results are sent.
_asarray = np.asarray
_ndarray = np.ndarray
_generic = np.generic
_isinstance = builtins.isinstance
_len = builtins.len
_str = builtins.str
_type = builtins.type
# Values of these exact types hold no object of the student's: freeing them runs none of the student's code.
_SCALAR_TYPES = frozenset({builtins.float, builtins.int, builtins.bool, *np.sctypeDict.values()} - {np.object_, np.void})
_to_blob = wire.array_to_blob
_encode = wire.encode_frame
_write_all = wire.write_all
_exit = os._exit
_all = builtins.all
_map = builtins.map
_zip = builtins.zip
_is = operator.is_
_repeat = itertools.repeat
# For telling which array arguments a call changed in place (C-level ufuncs and methods, captured before the student
# could replace numpy's attributes): comparing with them runs none of the student's code.
_copy_array = _ndarray.copy
_equal = np.equal
_isnan = np.isnan
_logical_or = np.logical_or
_logical_and = np.logical_and
_all_true = np.logical_and.reduce
_bool_array = np.array
_BOOL = np.dtype(np.bool_)
_MISSING = object()
_streams: list[Any] = []  # the child's own stdout/stderr objects, flushed before "done" even if the student swapped them


class _ModuleGuard:
    """Undoes the student's reassignments of the module globals the harness reads (in builtins, json, ...).

    The harness runs between the student's calls (sending frames, converting results); a patched ``isinstance`` or
    ``json.dumps`` must not break it. Only the ``names`` the harness's own code can look up are watched: those the
    student replaced or deleted return; everything else stays as the student's code left it.
    """

    def __init__(self, modules: list[types.ModuleType], names: frozenset[str]) -> None:
        self._saved = []
        for module in modules:
            watched = {key: value for key, value in module.__dict__.items() if key in names}
            self._saved.append((module.__dict__, tuple(watched), tuple(watched.values())))

    def restore(self) -> None:
        # Runs a few times per case: the check that nothing changed is a C-level pass over each namespace (with
        # functions saved before the student ran); only a namespace that changed is walked in Python.
        for namespace, keys, values in self._saved:
            if _all(_map(_is, _map(namespace.get, keys, _repeat(_MISSING)), values)):
                continue
            for key, value in _zip(keys, values):
                if namespace.get(key, _MISSING) is not value:
                    namespace[key] = value


# Looked up in builtins by the interpreter's own C code (``import`` statements, ``class`` statements), so in no
# code's co_names.
_C_LEVEL_BUILTINS = frozenset({"__import__", "__build_class__"})


def _code_names(modules: list[types.ModuleType]) -> frozenset[str]:
    """Every name the code of ``modules`` can look up: ``co_names`` of their functions and methods, nested code
    included (global, builtin and attribute names alike), plus :data:`_C_LEVEL_BUILTINS`."""
    names: set[str] = set(_C_LEVEL_BUILTINS)
    pending: list[types.CodeType] = []
    for module in modules:
        for value in vars(module).values():
            members = vars(value).values() if isinstance(value, type) and value.__module__ == module.__name__ else [value]
            for member in members:
                function = getattr(member, "__func__", member)  # classmethod/staticmethod
                if isinstance(function, types.FunctionType) and function.__module__ == module.__name__:
                    pending.append(function.__code__)
    while pending:
        code = pending.pop()
        names.update(code.co_names)
        pending.extend(const for const in code.co_consts if isinstance(const, types.CodeType))
    return frozenset(names)


def _guard() -> _ModuleGuard:
    """The guard of the module globals the harness can read after the student's code ran.

    Watched: in builtins, json, json.encoder, io, struct, types and wire, the names that the code of this module,
    wire, json and json.encoder (``json.dumps``, should frames ever be encoded without the C encoder) and numpy's
    dtype printing (``f"{array.dtype}"`` in messages runs Python code of numpy) can look up. The rest of numpy and
    os the harness captured at import (``_asarray``, ``wire._os_write``, ...). Every object a check touches costs a
    copy-on-write page fault in the forked child, so it watches about 120 entries rather than these namespaces' 350.
    """
    import importlib
    import io
    import json
    import json.encoder
    import struct

    scanned = [sys.modules[__name__], wire, json, json.encoder]
    for name in ("numpy._core._dtype", "numpy.core._dtype"):  # numpy 2, numpy 1
        try:
            scanned.append(importlib.import_module(name))
            break
        except ImportError:
            continue
    return _ModuleGuard([builtins, json, json.encoder, io, struct, wire, types], _code_names(scanned))


def environment(workdir: str) -> dict[str, str]:
    """The whole environment of the student's code: nothing of the grader's; HOME is the working directory."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir}


# Left at (or reset to) their default action for the student's code: SIGXCPU ends a run over its CPU limit.
DEFAULT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGXCPU)


@dataclass(frozen=True)
class _Prepared:
    """What :func:`prepare` set up for the worker's children: their working directory (also HOME), the text
    streams they use as stdin/stdout/stderr, and the guard of the modules the harness reads."""

    workdir: str
    streams: tuple[Any, Any, Any]
    guard: _ModuleGuard


_prepared: _Prepared | None = None


def prepare(workdir: str) -> None:
    """Set up, once in the worker (before it starts its zygote), what every child inherits, so that a child creates
    and touches fewer objects: in a forked child each page first written is copied (a fault of about 3.5 us here), and objects the
    child creates land on such pages. Done here rather than in each child:

    - the signals of :data:`DEFAULT_SIGNALS` get their default action (the worker does not need them either);
    - the environment becomes :func:`environment` of ``workdir``, the working directory of every child of this
      worker (the worker creates it afresh for each submission);
    - the text streams a child uses on fds 0-2 are created (see :func:`_open_standard_streams`);
    - libc's prctl and the seccomp filter are set up (the child only writes its pid into the filter);
    - the guarded modules are snapshotted, and the garbage collector's view of the heap is frozen.
    """
    global _prepared
    import gc

    for signum in DEFAULT_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    os.environ.clear()
    os.environ.update(environment(workdir))
    layers.prepare_seccomp()
    _prepared = _Prepared(workdir, _open_standard_streams(), _guard())
    gc.collect()
    gc.freeze()


def _open_standard_streams() -> tuple[Any, Any, Any]:
    """Text streams on fds 0, 1 and 2 as the child uses them (UTF-8, line-buffered output), opened while fds 1 and 2
    are a pipe, as they are in the child (the streams note whether their file is seekable when opened)."""
    saved = (os.dup(1), os.dup(2))
    read_end, write_end = os.pipe()
    try:
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        return (
            open(0, closefd=False),  # noqa: SIM115 -- lives as long as the process
            open(1, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False),  # noqa: SIM115
            open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False),  # noqa: SIM115
        )
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, read_end, write_end):
            os.close(fd)


@dataclass
class ChildConfig:
    """Everything the child needs, handed over in memory by fork (never through a file the student could read).

    Attributes:
        source: the module's source text; filename: the name shown in tracebacks (``conv.py``).
        cases: ``(name, function, kwargs)`` per case, ``function`` the module-level name that case calls;
            start: index of the first case to run.
        result_fd: the write end of the result pipe; output_fd: where stdout/stderr go.
        workdir: the fresh working directory; uid: switch to this uid (None: keep the current one).
        address_space_bytes, file_size_bytes, cpu_seconds_total: rlimits; max_result_bytes: result cap.
        seccomp: install the filter; require: refuse to run if a layer cannot be set up.
        worker_pid: the supervisor, to detect its death right after the parent-death signal is armed.
        hidden_fd: where the hidden cases' arguments come from (their ``kwargs`` are None until then), or None.
    """

    source: str
    filename: str
    cases: list[tuple[str, str, dict[str, Any]]]
    start: int
    result_fd: int
    output_fd: int
    workdir: str
    uid: int | None
    address_space_bytes: int
    file_size_bytes: int
    cpu_seconds_total: int
    max_result_bytes: int
    seccomp: bool
    require: bool
    worker_pid: int
    hidden_fd: int | None = None


def _send(fd: int, header: dict[str, Any], payload: bytes = b"", *, held: bytes = b"") -> None:
    """Write one frame, after the ``held`` frames (a finished case's) in the same write."""
    _write_all(fd, held + _encode(header, payload) if held else _encode(header, payload))


HOLD_BYTES = 1 << 16
"""A finished case's frame up to this size waits for the next frame (the next case's start) and goes in the same
write: one wake-up of the worker per case instead of two. Larger ones are written at once, not copied."""
MAX_HIDDEN_FRAME_BYTES = 1 << 40
"""The hidden cases' arguments come from the grader, trusted: any size it sends (they then count in the child's
memory limit, as what it allocates does)."""


def _redirect_standard_streams(output_fd: int, streams: tuple[Any, Any, Any]) -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    sys.stdin, sys.stdout, sys.stderr = streams
    _streams[:] = streams[1:]


def _close_other_fds(*keep: int) -> None:
    """Close every descriptor from 3 on but those in ``keep``."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)


def _set_rlimits(config: ChildConfig) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (config.file_size_bytes, config.file_size_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
    # Soft limit: SIGXCPU (kills: the default action); hard limit one second later: SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (config.cpu_seconds_total, config.cpu_seconds_total + 1))
    resource.setrlimit(resource.RLIMIT_AS, (config.address_space_bytes, config.address_space_bytes))


def _setup(config: ChildConfig) -> dict[str, bool]:
    """Lock the process down; returns which layers the child itself set up (rlimits, separate-user, seccomp)."""
    prepared = _prepared
    if prepared is None or prepared.workdir != config.workdir:
        raise RuntimeError("the worker did not prepare the child's working directory")
    os.setsid()
    _redirect_standard_streams(config.output_fd, prepared.streams)
    _close_other_fds(config.result_fd, *(() if config.hidden_fd is None else (config.hidden_fd,)))
    os.chdir(config.workdir)
    os.umask(0o077)
    active = {"rlimits": False, "separate-user": False, "seccomp": False}
    _set_rlimits(config)
    active["rlimits"] = True
    if config.uid is not None:
        os.setgroups([])
        os.setresgid(config.uid, config.uid, config.uid)
        os.setresuid(config.uid, config.uid, config.uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (PROCESSES_PER_UID, PROCESSES_PER_UID))
        active["separate-user"] = True
    # Armed after the uid switch, which clears it; if the supervisor already died, nobody would stop us: leave.
    layers.prctl(layers.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != config.worker_pid:
        _exit(0)
    if config.seccomp:
        try:
            layers.install_seccomp()
            active["seccomp"] = True
        except OSError:
            if config.require:
                raise
    return active


def _error_info(error: BaseException, filename: str) -> dict[str, Any]:
    """Type, message and the student's own frames ``[line, function]`` of ``error`` (frames elsewhere dropped)."""
    try:
        message = _str(error)
    except BaseException:  # noqa: BLE001 -- a student's __str__ may raise anything
        message = "<the exception's message could not be turned into text>"
    if _len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + " [...]"
    error_type = _type(error)
    module = getattr(error_type, "__module__", "builtins")
    type_name = error_type.__qualname__ if module in ("builtins", "submission") else f"{module}.{error_type.__qualname__}"
    frames: list[list[Any]] = []
    total = 0
    traceback = error.__traceback__
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if code.co_filename == filename:
            total += 1
            if _len(frames) < MAX_FRAMES:
                frames.append([traceback.tb_lineno, code.co_name])
            else:
                frames[-1] = [traceback.tb_lineno, code.co_name]  # keep the innermost frame
        traceback = traceback.tb_next
    info: dict[str, Any] = {"type": type_name[:200], "message": message, "frames": frames, "total_frames": total}
    if _isinstance(error, SyntaxError):
        info["syntax"] = {
            "line": error.lineno if _isinstance(error.lineno, int) else None,
            "column": error.offset if _isinstance(error.offset, int) else None,
            "message": _str(error.msg)[:MAX_MESSAGE_CHARS],
            "file": _str(error.filename)[:200],
        }
    return info


def _memory_info(error: BaseException, filename: str) -> dict[str, Any]:
    try:
        return _error_info(error, filename)
    except MemoryError:
        return {"type": "MemoryError", "message": "", "frames": [], "total_frames": 0}


def _as_plain_array(value: Any, what: str, max_bytes: int) -> np.ndarray | str:
    """``value`` as a plain ndarray, or the student-facing reason it cannot be one."""
    if _isinstance(value, (dict, set, frozenset, str, bytes)) or value is None:
        return f"{what} is {_describe(value)}; return a numpy array of numbers"
    try:
        array = _asarray(value)
    except BaseException as error:  # noqa: BLE001 -- an __array__ of the student's may raise anything
        return f"{what} ({_describe(value)}) could not be turned into a numpy array: {_type(error).__name__}"
    if not _isinstance(array, _ndarray):
        return f"{what} is {_describe(value)}; return a numpy array of numbers"
    if array.dtype.kind == "O":
        return f"{what} is {_describe(value)}, which numpy can only hold as Python objects; return numbers"
    if array.dtype.kind == "c":
        return f"{what} has complex numbers (dtype {array.dtype}); return real numbers"
    if array.dtype.kind not in "biuf" or array.dtype.fields is not None:
        return f"{what} has dtype {array.dtype}; return an array of numbers"
    held = wire.held_bytes(array.dtype.kind, array.size)
    if held > max_bytes:
        return (
            f"{what} is an array of shape {tuple(array.shape)} ({held / 2**20:.1f} MiB as 64-bit numbers), more than "
            f"the {max_bytes / 2**20:.1f} MiB a result may have"
        )
    return array


def _describe(value: Any) -> str:
    kind = _type(value)
    if value is None:
        return "None"
    return f"a {kind.__module__ + '.' if kind.__module__ not in ('builtins', 'submission') else ''}{kind.__qualname__}"


MAX_SNAPSHOT_BYTES = 64 << 20
"""The array arguments of one call are copied (to tell afterwards which the call changed in place) only when they
hold at most this many bytes together: the copies count against the student's memory while their function runs."""


def _snapshot(kwargs: dict[str, Any]) -> list[np.ndarray | None] | None:
    """Copies of a case's arguments taken before the call, one per argument in order (None for a number), for
    :func:`_changed_flags`; None when the arrays together exceed :data:`MAX_SNAPSHOT_BYTES` or cannot be copied
    (then nothing is checked). The arguments are the harness's exact ndarrays: copying them runs no student code."""
    try:
        arrays = [value if _type(value) is _ndarray else None for value in kwargs.values()]
        if not any(array is not None for array in arrays) or sum(a.nbytes for a in arrays if a is not None) > MAX_SNAPSHOT_BYTES:
            return None
        return [None if array is None else _copy_array(array) for array in arrays]
    except BaseException:  # noqa: BLE001 -- out of memory: the call runs unchecked rather than not at all
        return None


def _unchanged(now: np.ndarray, before: np.ndarray) -> bool:
    """Whether an argument still holds what its copy ``before`` holds: same shape, dtype and values, NaN equal to
    NaN (both of any shape, e.g. an image ``(H, W, C)``)."""
    if now.shape != before.shape or now.dtype != before.dtype:
        return False
    same = _equal(now, before)
    if now.dtype.kind == "f":
        same = _logical_or(same, _logical_and(_isnan(now), _isnan(before)))
    return bool(_all_true(same, axis=None))


def _changed_flags(kwargs: dict[str, Any], snapshot: list[np.ndarray | None] | None) -> bytes | None:
    """An array blob of shape ``(len(kwargs),)``, dtype bool: which arguments the call changed in place; None when
    it changed none (the common case: nothing is sent) or nothing was copied."""
    if snapshot is None:
        return None
    # An argument that is no longer the harness's exact ndarray was swapped by code digging in the harness's frames.
    flags = [
        before is not None and (_type(now) is not _ndarray or not _unchanged(now, before))
        for now, before in _zip(kwargs.values(), snapshot)
    ]
    if not any(flags):
        return None
    return _to_blob(_bool_array(flags, dtype=_BOOL))


def _result_frame(case: int, value: Any, max_bytes: int, changed: bytes | None = None) -> tuple[dict[str, Any], bytes]:
    """The ``ok`` frame for ``value`` or a ``bad-result`` frame explaining why it is not acceptable. ``changed``
    (:func:`_changed_flags`), when given, travels as one more blob after the result's own: the grader reads it as
    the flags of the arguments the call changed in place."""
    if _isinstance(value, dict):
        if _len(value) > wire.MAX_RESULT_KEYS:
            return {"kind": "bad-result", "case": case, "message": f"the returned dict has {_len(value)} keys (at most {wire.MAX_RESULT_KEYS})"}, b""
        keys: list[str] = []
        blobs: list[bytes] = []
        total = 0
        for key, item in value.items():
            if not _isinstance(key, str) or _len(key) > wire.MAX_KEY_CHARS:
                return {"kind": "bad-result", "case": case, "message": f"the returned dict has a key {key!r:.60}; keys must be short strings"}, b""
            array = _as_plain_array(item, f"the returned value for key {key!r}", max_bytes - total)
            if _isinstance(array, str):
                return {"kind": "bad-result", "case": case, "message": array}, b""
            total += wire.held_bytes(array.dtype.kind, array.size)
            keys.append(key)
            blobs.append(_to_blob(array))
        if changed is not None and _len(blobs) < wire.MAX_RESULT_KEYS:
            blobs.append(changed)
        table, payload = wire.pack_blobs(blobs)
        return {"kind": "ok", "case": case, "result": "dict", "keys": keys, "blobs": table}, payload
    array = _as_plain_array(value, "the returned value", max_bytes)
    if _isinstance(array, str):
        return {"kind": "bad-result", "case": case, "message": array}, b""
    table, payload = wire.pack_blobs([_to_blob(array)] if changed is None else [_to_blob(array), changed])
    return {"kind": "ok", "case": case, "result": "array", "blobs": table}, payload


def _defined_functions(namespace: dict[str, Any]) -> list[str]:
    return sorted(name for name, value in namespace.items() if _isinstance(value, types.FunctionType) and not name.startswith("_"))[:20]


def run_child(config: ChildConfig) -> NoReturn:
    """The whole life of the child; never returns (it must not fall back into the worker's code)."""
    fd = config.result_fd
    try:
        try:
            active = _setup(config)
        except BaseException as error:  # noqa: BLE001 -- report and leave; the student's code never ran
            _send(fd, {"kind": "setup-failed", "message": f"{_type(error).__name__}: {error}"})
            _exit(70)
        _send(fd, {"kind": "ready", "layers": active})
        _run_student(config)
    except BaseException:  # noqa: BLE001 -- nothing may escape into the forked worker's stack
        _exit(wire.HARNESS_FAILED_EXIT)
    _exit(0)


def _receive_hidden(config: ChildConfig) -> None:
    """Fill in the hidden cases' arguments from the frame the worker writes to ``config.hidden_fd`` once asked."""
    first = next(index for index, case in enumerate(config.cases) if case[2] is None)
    if config.hidden_fd is None:
        raise OSError("no hidden cases' arguments were given")
    os.set_blocking(config.hidden_fd, True)  # the student's code may have made it non-blocking
    header, payload = wire.read_fd_frame(config.hidden_fd, MAX_HIDDEN_FRAME_BYTES)
    os.close(config.hidden_fd)
    config.hidden_fd = None
    described = header["kwargs"]
    if not isinstance(described, list) or _len(described) != _len(config.cases) - first:
        raise OSError("the hidden cases' arguments do not match the cases")
    for offset, kwargs in enumerate(described):
        name, function_name, _ = config.cases[first + offset]
        config.cases[first + offset] = (name, function_name, wire.decode_case_kwargs(kwargs, header["blobs"], payload))


def _run_student(config: ChildConfig) -> None:
    fd = config.result_fd
    assert _prepared is not None  # checked by _setup
    guard = _prepared.guard
    try:
        code = compile(config.source, config.filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError) as error:
        _send(fd, {"kind": "import-error", "phase": "compile", "error": _error_info(error, config.filename)})
        return
    module = types.ModuleType("submission")
    module.__file__ = config.filename
    sys.modules["submission"] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 -- the student's module, inside the sandbox
    except BaseException as error:  # noqa: BLE001 -- SystemExit and KeyboardInterrupt included
        guard.restore()
        info = _memory_info(error, config.filename)
        error.__traceback__ = None
        del error
        _send(fd, {"kind": "import-error", "phase": "import", "error": info})
        return
    guard.restore()
    # Every function is looked up once, right after the import and before any call, so what a case finds does not
    # depend on what earlier calls did to the module (nor on where a restarted child begins).
    functions: dict[str, Any] = {}
    missing: dict[str, dict[str, Any]] = {}
    for _name, function_name, _kwargs in config.cases[config.start :]:
        if function_name in functions or function_name in missing:
            continue
        found = module.__dict__.get(function_name)
        if found is None or not callable(found):
            missing[function_name] = {"found": None if found is None else _describe(found), "defined": _defined_functions(module.__dict__)}
        else:
            functions[function_name] = found
    # The frame that ends a case is held (up to HOLD_BYTES) until the next case starts: nothing of the student's
    # runs in between, so the worker learns both at the moment the next case starts, from one write.
    held = _encode({"kind": "imported"}, b"")
    for index in range(config.start, _len(config.cases)):
        _name, function_name, kwargs = config.cases[index]
        if function_name in missing:
            held += _encode(dict(missing[function_name], kind="missing-function", case=index), b"")
            continue
        if kwargs is None:  # the first hidden case: every case before it has its outcome by now
            _send(fd, {"kind": "need-hidden"}, held=held)
            held = b""
            _receive_hidden(config)
            kwargs = config.cases[index][2]
        function = functions[function_name]
        snapshot = _snapshot(kwargs)
        _send(fd, {"kind": "start", "case": index}, held=held)
        held = b""
        try:
            value = function(**kwargs)
        except BaseException as error:  # noqa: BLE001 -- SystemExit and KeyboardInterrupt included
            guard.restore()
            snapshot = None
            kind = "memory" if _isinstance(error, MemoryError) else "exception"
            info = _memory_info(error, config.filename)
            error.__traceback__ = None
            del error
            held = _encode({"kind": kind, "case": index, "error": info}, b"")
            continue
        guard.restore()
        try:
            changed = _changed_flags(kwargs, snapshot)
        except BaseException:  # noqa: BLE001 -- out of memory, or harness data the student's code tampered with
            changed = None
        snapshot = None
        # Converting (and later freeing) an exact ndarray of numbers runs no code of the student's; a subclass, a
        # list, a dict or an array of objects may (__array__, __len__, __del__, ...).
        plain = _type(value) is _ndarray and value.dtype.kind in "biuf"
        try:
            header, payload = _result_frame(index, value, config.max_result_bytes, changed)
        except MemoryError:
            header, payload = {"kind": "bad-result", "case": index, "message": "the result could not be copied: out of memory"}, b""
        except BaseException as error:  # noqa: BLE001 -- conversion may run the student's __array__ etc.
            header, payload = {"kind": "bad-result", "case": index, "message": f"the result could not be read: {_type(error).__name__}"}, b""
        if not plain:
            guard.restore()  # converting may have run the student's code again (__array__, __len__, ...)
        if _len(payload) > HOLD_BYTES or not (plain or _type(value) in _SCALAR_TYPES):
            # Freeing a list, a dict or an object of the student's may run their code (__del__), which may end the
            # process: its case's frame goes out first.
            _send(fd, header, payload)
            del value
        else:
            del value
            held = _encode(header, payload)
    if held:
        _write_all(fd, held)  # before the flush below, which may block on a full output pipe
    for stream in _streams:
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001,S110 -- the student may have closed or replaced the streams
            pass
    _send(fd, {"kind": "done"})
