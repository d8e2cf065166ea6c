"""Grader side of the sandbox: ``run_cases`` -- a pool of warm workers, requests, and validation of all replies.

Nothing a worker relays from the child is trusted: every field is type-checked, every array goes through
:func:`wire.blob_to_array`, and every message shown to the student is rebuilt here from checked parts (the
student's own traceback lines come from the grader's copy of their source).
"""

from __future__ import annotations

import atexit
import codecs
import functools
import hashlib
import json
import keyword
import math
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import tokenize
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from grader.errors import GraderError, InputFileError
from grader.submission.answer_file import MAX_NOTEBOOK_BYTES
from grader.text import file_name, without_surrogates

from . import layers, wire
from .worker import remove_ended_workers_folders
from .limits import CaseInput, CaseOutcome, Limits, RunReport, SandboxUnavailable, SandboxUsageError
from .notebook import NotebookError, NotebookSource, notebook_to_source, source_lines

HARNESS_DIR = Path(__file__).resolve().parent
# Loads this directory as the package ``_grader_sandbox`` without running ``grader`` (absent in the sandbox).
WORKER_BOOT = (
    "import sys, types\n"
    "package = types.ModuleType('_grader_sandbox')\n"
    "package.__path__ = [sys.argv[1]]\n"
    "sys.modules['_grader_sandbox'] = package\n"
    "from _grader_sandbox.worker import main\n"
    "main()\n"
)
# One thread per BLAS call: two submissions graded at once on two cores should not fight over threads.
WORKER_TEMP = "/tmp"
"""Where a plain worker makes its folder: its environment (WORKER_ENV) has no TMPDIR, whatever the grader's."""
WORKER_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
TMPFS_BYTES = 256 << 20
WORKER_START_SECONDS = 60.0
REPLY_SLACK_SECONDS = 20.0
MAX_SOURCE_BYTES = 2 << 20
REPORT_CASE_BYTES = 128 << 10
"""Room in the worker's report for one case's record (a traceback of at most 60 frames, names of 100 characters and
a message of 2000, JSON-escaped), which the worker bounds to that."""
RESULT_SLACK_BYTES = 64 << 10


class SandboxError(GraderError):
    """The sandbox itself failed (a bug or a broken machine), not the student's code."""


# ---------------------------------------------------------------------------------------------------------------
# workers


class _Worker:
    """One warm worker process (inside bubblewrap when ``sandboxed``), used by one run at a time."""

    def __init__(self, sandboxed: bool) -> None:
        self.sandboxed = sandboxed
        if sandboxed:
            command = layers.bwrap_command(HARNESS_DIR, TMPFS_BYTES)
            for name, value in {**WORKER_ENV, layers.PRIVATE_TMP_ENV: "1"}.items():
                command += ["--setenv", name, value]
            command += [sys.executable, "-I", "-c", WORKER_BOOT, layers.HARNESS_MOUNT]
        else:
            command = [sys.executable, "-I", "-c", WORKER_BOOT, str(HARNESS_DIR)]
        debug = os.environ.get("GRADER_SANDBOX_DEBUG") == "1"
        self.process = subprocess.Popen(  # noqa: S603 -- fixed command, no shell
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if debug else subprocess.DEVNULL,
            env=dict(WORKER_ENV),
            close_fds=True,
            start_new_session=True,
            cwd="/",
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._out_fd = self.process.stdout.fileno()
        self._parser = wire.FrameParser(1 << 20)
        # The token of the prepared run whose cases this worker keeps (the last one it was sent with a token).
        self.kept_token: str | None = None
        try:
            hello, _ = self._read(time.monotonic() + WORKER_START_SECONDS, 1 << 20)
        except (EOFError, TimeoutError, wire.WireError) as error:
            self.close()
            raise SandboxError(f"the sandbox worker did not start ({error})") from None
        if hello.get("kind") != "hello":
            self.close()
            raise SandboxError("the sandbox worker started but did not greet")

    def alive(self) -> bool:
        return self.process.poll() is None

    def _read(self, deadline: float, max_payload: int, max_header: int = wire.MAX_HEADER_BYTES) -> tuple[dict[str, Any], bytes]:
        self._parser.max_payload_bytes = max_payload
        self._parser.max_header_bytes = max_header
        while True:
            for frame in self._parser.feed(b""):
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the sandbox worker did not answer in time")
            readable, _, _ = select.select([self._out_fd], [], [], remaining)
            if not readable:
                continue
            data = os.read(self._out_fd, 1 << 20)
            if not data:
                raise EOFError("the sandbox worker ended")
            for frame in self._parser.feed(data):
                return frame

    def request(self, frame: bytes, deadline: float, max_payload: int, max_header: int) -> tuple[dict[str, Any], bytes]:
        """Send one request and wait for its reply (its header at most ``max_header`` bytes, its payload at most
        ``max_payload``); EOFError if the worker died, TimeoutError past ``deadline``."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(frame)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise EOFError("the sandbox worker ended") from None
        return self._read(deadline, max_payload, max_header)

    def close(self) -> None:
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.kill()
        self.process.wait()


class _Spawner:
    """Starts workers from one long-lived daemon thread.

    A worker dies with the *thread* that started it (bubblewrap's --die-with-parent and the worker's own
    PR_SET_PDEATHSIG follow the parent thread), so workers started from a short-lived thread of a batch grader's
    pool would die with it; this thread lives as long as the grader process.
    """

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[tuple[bool, queue.SimpleQueue[_Worker | BaseException]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def spawn(self, sandboxed: bool) -> _Worker:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="grader-sandbox-spawner", daemon=True)
                self._thread.start()
        reply: queue.SimpleQueue[_Worker | BaseException] = queue.SimpleQueue()
        self._requests.put((sandboxed, reply))
        result = reply.get()
        if isinstance(result, BaseException):
            raise result
        return result

    def _serve(self) -> None:
        while True:
            sandboxed, reply = self._requests.get()
            try:
                if not sandboxed:  # its folder will be in the machine's /tmp, as those of plain workers killed before
                    remove_ended_workers_folders(WORKER_TEMP)
                reply.put(_Worker(sandboxed))
            except BaseException as error:  # noqa: BLE001 -- handed to the waiting caller
                reply.put(error)


class _WorkerPool:
    """Idle warm workers; each run takes one (starting it when none is idle) and gives it back. Thread-safe; a
    forked grader process starts afresh (it must not share pipes with its parent's workers)."""

    def __init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._owner = os.getpid()
        self._spawner = _Spawner()

    def acquire(self, sandboxed: bool) -> _Worker:
        with self._lock:
            if self._owner != os.getpid():
                self.forget()
            while self._idle:
                worker = self._idle.pop()
                if worker.alive() and worker.sandboxed == sandboxed:
                    return worker
                worker.close()
        return self._spawner.spawn(sandboxed)

    def release(self, worker: _Worker) -> None:
        with self._lock:
            if self._owner == os.getpid() and worker.alive():
                self._idle.append(worker)
                return
        worker.close()

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        if self._owner == os.getpid():
            for worker in idle:
                worker.close()


_POOL = _WorkerPool()
atexit.register(_POOL.close_all)


def close_workers() -> None:
    """End this process's idle warm workers, letting each remove its folder (as at exit). A batch's worker
    processes end through multiprocessing, which skips atexit: they call this from a multiprocessing finalizer,
    without which their sandbox workers died with them (PR_SET_PDEATHSIG), leaving a plain worker's folder behind."""
    _POOL.close_all()
os.register_at_fork(after_in_child=_POOL.forget)


def probe_layers() -> dict[str, bool]:
    """Which isolation layers this machine can give a submission (names in ``grader.sandbox.LAYER_NAMES``)."""
    return layers.probe_layers()


def require_layers() -> None:
    """Raise SandboxUnavailable, listing each missing isolation layer and how to get it, unless this machine has
    them all (what ``require_sandbox=True`` and ``--require-sandbox`` check before any code runs)."""
    probed = layers.probe_layers()
    missing = [name for name in layers.LAYER_NAMES if not probed[name]]
    if missing:
        raise SandboxUnavailable(_missing_layers_message(missing))


def _missing_layers_message(missing: Sequence[str]) -> str:
    lines = [f"the sandbox is required but {len(missing)} isolation layer(s) are not available on this machine:"]
    lines += [f"  {name}: {layers.LAYER_HOWTO[name]}" for name in missing]
    problem = layers.bwrap_problem() if any(name in layers.BWRAP_LAYERS for name in missing) else None
    if problem is not None and problem != "not installed":
        lines.append(f"bubblewrap is installed, but {problem}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# arguments and source


@dataclass(frozen=True)
class _Source:
    """The module to run: ``text`` shown to the sandbox under ``filename``; ``notebook`` maps lines to cells."""

    text: str
    filename: str
    notebook: NotebookSource | None

    def where(self, line: int, *, quoted: bool = False) -> str:
        """``conv.py, line 7`` (``"conv.py", line 7`` when ``quoted``, as in tracebacks); notebooks add the cell."""
        name = f'"{self.filename}"' if quoted else self.filename
        if self.notebook is not None:
            located = self.notebook.locate(line)
            if located is not None:
                return f"{name}, cell {located[0]}, line {located[1]}"
        return f"{name}, line {line}"

    @functools.cached_property
    def lines(self) -> list[str]:
        """``text`` split into lines once (a traceback of 200 frames looks up 200 lines)."""
        return source_lines(self.text)

    def line_text(self, line: int) -> str:
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1].strip()[:200]
        return ""


@dataclass(frozen=True)
class _Case:
    """A checked CaseInput: its function resolved, kwargs normalized and its per-call limits (seconds) filled in."""

    name: str
    function: str
    kwargs: dict[str, Any]
    cpu_seconds: float
    wall_seconds: float
    group: str | None = None
    group_seconds: float | None = None


def _is_identifier(name: Any) -> bool:
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


def _case_seconds(value: Any, default: float, place: str) -> float:
    if value is None:
        return float(default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise SandboxUsageError(f"{place} must be None or a positive number of seconds, got {value!r}")
    return float(value)


def _check_cases(function: str, cases: Sequence[CaseInput], limits: Limits) -> list[_Case]:
    """Raise SandboxUsageError for grader misuse; returns the cases checked and normalized."""
    if not isinstance(limits, Limits):
        raise SandboxUsageError(f"limits must be a grader.sandbox.Limits, got {type(limits).__name__}")
    if not _is_identifier(function):
        raise SandboxUsageError(f"function must be a Python identifier, got {function!r}")
    names: set[str] = set()
    group_seconds: dict[str, float] = {}
    normalized: list[_Case] = []
    for position, case in enumerate(cases):
        if not isinstance(case, CaseInput):
            raise SandboxUsageError(f"cases[{position}] must be a CaseInput, got {type(case).__name__}")
        if case.name in names:
            raise SandboxUsageError(f"cases[{position}]: the case name {case.name!r} is used twice")
        names.add(case.name)
        if case.function is not None and not _is_identifier(case.function):
            raise SandboxUsageError(f"cases[{position}] ({case.name}): function must be None or a Python identifier, got {case.function!r}")
        cpu_seconds = _case_seconds(case.cpu_seconds, limits.cpu_seconds_per_case, f"cases[{position}] ({case.name}) cpu_seconds")
        wall_seconds = _case_seconds(case.wall_seconds, limits.wall_seconds_per_case, f"cases[{position}] ({case.name}) wall_seconds")
        if (case.group is None) != (case.group_seconds is None) or not isinstance(case.group, str | None):
            raise SandboxUsageError(f"cases[{position}] ({case.name}): group (text) and group_seconds go together")
        if case.group is not None:
            seconds = _case_seconds(case.group_seconds, 0.0, f"cases[{position}] ({case.name}) group_seconds")
            if group_seconds.setdefault(case.group, seconds) != seconds:
                raise SandboxUsageError(
                    f"cases[{position}] ({case.name}): group {case.group!r} has group_seconds {group_seconds[case.group]:g} "
                    f"in an earlier case, not {seconds:g}"
                )
        if not isinstance(case.kwargs, Mapping):
            raise SandboxUsageError(f"cases[{position}] ({case.name}): kwargs must be a mapping")
        kwargs: dict[str, Any] = {}
        for key, value in case.kwargs.items():
            place = f"cases[{position}] ({case.name}) argument {key!r}"
            if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
                raise SandboxUsageError(f"{place}: argument names must be Python identifiers")
            if isinstance(value, np.ndarray):
                if value.dtype.kind not in "biuf" or value.dtype.fields is not None:
                    raise SandboxUsageError(f"{place}: arrays must hold bool, int or float numbers, got dtype {value.dtype}")
                kwargs[key] = np.asarray(value)
            elif isinstance(value, np.generic) and value.dtype.kind in "biuf":
                kwargs[key] = value.item()
            elif isinstance(value, (bool, int, float)):
                kwargs[key] = value
            else:
                raise SandboxUsageError(f"{place}: expected a numpy array or a number, got {type(value).__name__}")
        normalized.append(_Case(
            case.name, case.function or function, kwargs, cpu_seconds, wall_seconds,
            case.group, group_seconds[case.group] if case.group is not None else None,
        ))
    return normalized


UNREAD_ENCODINGS = frozenset({"punycode", "idna", "undefined"})
"""Codecs a ``# coding:`` line may name that are not read: no text file is written in them, ``undefined`` always
refuses, and decoding punycode takes time growing with the square of the file's length (a minute of the grader's
own CPU for 1 MB), before any limit of the sandbox applies."""


def _load_source(path: Path) -> _Source | str:
    """The submission as module source, or (a string) why it cannot be one: the student's fault, not an error."""
    filename = file_name(path)  # shown to the student: bytes that are not UTF-8 become U+FFFD
    is_notebook = path.suffix.lower() == ".ipynb"
    limit = MAX_NOTEBOOK_BYTES if is_notebook else MAX_SOURCE_BYTES  # a notebook's outputs are read, then dropped
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
            size = os.fstat(handle.fileno()).st_size
    except OSError as error:
        raise InputFileError(f"the submission file cannot be read: {error.strerror}", file=path) from None
    if len(data) > limit:
        size = max(size, len(data))
        return f"{filename} is {size / 2**20:.1f} MiB; a {'notebook' if is_notebook else 'submission'} may be at most {limit / 2**20:.0f} MiB"
    if is_notebook:
        try:
            notebook = notebook_to_source(data.decode("utf-8-sig"), filename)
        except UnicodeDecodeError as error:
            return f"{filename} is not UTF-8 text (byte {data[error.start]:#04x} at offset {error.start})"
        except NotebookError as error:
            return str(error)
        if len(notebook.source.encode("utf-8", errors="surrogatepass")) > MAX_SOURCE_BYTES:
            return f"{filename}: its code cells hold more than {MAX_SOURCE_BYTES / 2**20:.0f} MiB of code"
        return _Source(notebook.source, filename, notebook)
    try:
        encoding, _ = tokenize.detect_encoding(iter(data.splitlines(keepends=True)).__next__)
        if codecs.lookup(encoding).name in UNREAD_ENCODINGS:
            return (
                f"{filename}: its '# coding: {encoding}' line names no encoding of text files; write it in UTF-8 "
                "and remove the line"
            )
        text = data.decode(encoding)
    except (SyntaxError, LookupError) as error:
        return f"{filename}: cannot tell its text encoding ({error})"
    except UnicodeDecodeError as error:
        return f"{filename} is not valid {error.encoding} text (byte {data[error.start]:#04x} at offset {error.start})"
    except UnicodeError as error:  # a codec that refuses in its own way
        return f"{filename} cannot be read as {encoding} text ({error})"
    if text.startswith("\ufeff"):
        text = text[1:]
    return _Source(text, filename, None)


# ---------------------------------------------------------------------------------------------------------------
# run_cases


@dataclass(frozen=True)
class PreparedCases:
    """Cases checked and encoded once by :func:`prepare_cases`, to run against many submissions with
    :func:`run_prepared`: a batch grades every student's file on the same cases, so validating them and encoding
    their arrays is done once, not per submission.

    Attributes:
        limits: the run's limits.
        cases: the checked cases, in order (each with its function resolved). described: their JSON descriptions for the worker (arrays referenced
            by index into ``table``, the ``[offset, length]`` of each array blob in ``payload``).
        limits_described: ``limits`` as the worker reads them.
        token: names these cases to the workers; each keeps the cases of the last run it served (in a zygote of that
            run, see zygote.RunZygote), so a batch sends them once per worker and then only the token.
    """

    limits: Limits
    cases: tuple[_Case, ...]
    described: list[dict[str, Any]]
    table: list[list[int]]
    payload: bytes
    limits_described: dict[str, Any]
    hidden_frame: bytes = b""
    """The arguments of the hidden cases (``described`` gives them as null), as one frame the worker hands a child
    only once every case before them has its outcome: see :func:`prepare_cases`."""

    @functools.cached_property
    def token(self) -> str:
        """What names these cases to a worker: the sha256 of their descriptions and arrays (a copy made with
        ``dataclasses.replace`` gets its own)."""
        digest = hashlib.sha256(json.dumps([self.described, self.table], sort_keys=True).encode())
        digest.update(self.payload)
        digest.update(self.hidden_frame)
        return digest.hexdigest()


def prepare_cases(
    function: str, cases: Sequence[CaseInput], *, limits: Limits = Limits(), hidden_from: int | None = None  # noqa: B008
) -> PreparedCases:
    """Check ``cases`` (SandboxUsageError for bad ``function``/``cases``/``limits``) and encode them for the worker;
    ``function`` is what a case calls when it names none.

    The cases from index ``hidden_from`` on are hidden: what the student's code says while they run is never shown
    to the student, while the messages of the cases before them are. So a child must not hold their arguments
    before every case before them has its outcome (else a visible case could read them, e.g. from the harness's
    frames, and put them in its message): their arguments travel apart, in :attr:`PreparedCases.hidden_frame`,
    which the worker writes to the child only then."""
    normalized = _check_cases(function, cases, limits)
    first_hidden = len(normalized) if hidden_from is None else max(0, min(hidden_from, len(normalized)))
    blobs: list[bytes] = []
    hidden_blobs: list[bytes] = []
    described = [
        {
            "name": case.name,
            "function": case.function,
            "cpu_seconds": case.cpu_seconds,
            "wall_seconds": case.wall_seconds,
            "group": case.group,
            "group_seconds": case.group_seconds,
            "kwargs": wire.encode_case_kwargs(case.kwargs, blobs) if index < first_hidden else None,
        }
        for index, case in enumerate(normalized)
    ]
    table, payload = wire.pack_blobs(blobs)
    hidden_frame = b""
    if first_hidden < len(normalized):
        hidden = [wire.encode_case_kwargs(case.kwargs, hidden_blobs) for case in normalized[first_hidden:]]
        hidden_table, hidden_payload = wire.pack_blobs(hidden_blobs)
        hidden_frame = wire.encode_frame({"kwargs": hidden, "blobs": hidden_table}, hidden_payload)
    return PreparedCases(limits, tuple(normalized), described, table, payload, asdict(limits), hidden_frame)


def run_cases(
    source: Path,
    function: str,
    cases: Sequence[CaseInput],
    *,
    limits: Limits = Limits(),  # noqa: B008 -- frozen, shared safely
    require_sandbox: bool = False,
) -> RunReport:
    """Import ``source`` (a .py file or a .ipynb notebook) in a sandboxed child and call ``function(**kwargs)`` per
    case (the case's own ``CaseInput.function`` when it names one); one outcome per case, in order.

    The module is imported once for all cases, whichever functions they call; a function the module lacks makes
    only its own cases ``missing-function``.

    Never raises because of the student's code. Raises InputFileError when ``source`` is missing,
    SandboxUsageError for bad ``function``/``cases``/``limits``, SandboxUnavailable when ``require_sandbox`` and a
    layer of :func:`probe_layers` is missing, SandboxError when the sandbox machinery itself fails.
    """
    return run_prepared(source, prepare_cases(function, cases, limits=limits), require_sandbox=require_sandbox)


def run_prepared(source: Path, prepared: PreparedCases, *, require_sandbox: bool = False) -> RunReport:
    """:func:`run_cases` on cases prepared once with :func:`prepare_cases` (same outcomes, same errors)."""
    source = Path(source)
    if not source.is_file():
        raise InputFileError("the submission file does not exist or is not a file", file=source)
    limits = prepared.limits
    probed = layers.probe_layers()
    if require_sandbox:
        require_layers()
    loaded = _load_source(source)
    if isinstance(loaded, str):
        return RunReport([CaseOutcome(case.name, "import-error", None, loaded, before_call=True) for case in prepared.cases], _no_layers(), "")
    if not prepared.cases:
        return RunReport([], _no_layers(), "")
    # The source travels as the frame's payload (the header is JSON, where escaping could make it 6 times larger).
    source = loaded.text.encode("utf-8", errors="surrogatepass")
    request = {
        "kind": "run",
        "source_bytes": len(source),
        "filename": loaded.filename,
        "limits": prepared.limits_described,
        "seccomp": probed["seccomp"],
        "require": require_sandbox,
    }
    count = len(prepared.cases)
    max_reply = count * (limits.max_result_bytes + RESULT_SLACK_BYTES) + limits.max_output_bytes * 4 + (1 << 20)
    # The report's header: each case's record (bounded by the worker) and the output, JSON-escaped.
    max_reply_header = wire.MAX_HEADER_BYTES + count * REPORT_CASE_BYTES + 8 * limits.max_output_bytes
    deadline_seconds = limits.wall_seconds_total + REPLY_SLACK_SECONDS
    sandboxed = probed["private-filesystem"]
    reply, reply_payload, sandboxed = _execute(request, source, prepared, sandboxed, deadline_seconds, (max_reply, max_reply_header), require_sandbox)
    if reply is None:
        message = "the sandbox stopped while running this submission (twice); it was not graded -- tell your instructor"
        return RunReport([CaseOutcome(case.name, "crashed", None, message) for case in prepared.cases], _no_layers(), "")
    return _decode_report(reply, reply_payload, loaded, prepared.cases, limits, sandboxed, require_sandbox)


def _no_layers() -> dict[str, bool]:
    """The layers of a run in which no student code ran as far as the grader knows (a file that is no module, no
    cases, the sandbox gone twice): none. It had been every layer off but the child process, which reports showed
    as code run unprotected, and which made grade and batch warn that code ran without bubblewrap."""
    return {}


def _request_frame(worker: _Worker, request: dict[str, Any], source: bytes, prepared: PreparedCases, send_cases: bool) -> bytes:
    """The ``run`` frame for ``worker``, its payload the ``source`` then the cases' blobs: only the token of the cases
    when the worker keeps them (and they are not asked for), else with the cases. Records that the worker keeps
    them afterwards, as the worker does."""
    if worker.kept_token == prepared.token and not send_cases:
        return wire.encode_frame({**request, "cases_token": prepared.token}, source)
    worker.kept_token = prepared.token
    frame = {
        **request, "cases_token": prepared.token, "cases": prepared.described, "blobs": prepared.table,
        "hidden_bytes": len(prepared.hidden_frame),
    }
    return wire.encode_frame(frame, source + prepared.payload + prepared.hidden_frame)


def _execute(
    request: dict[str, Any],
    source: bytes,
    prepared: PreparedCases,
    sandboxed: bool,
    deadline_seconds: float,
    max_reply: tuple[int, int],
    require_sandbox: bool,
) -> tuple[dict[str, Any] | None, bytes, bool]:
    """Send ``request`` with the module's ``source`` (and ``prepared``'s cases, or their token to a worker that
    kept them) to a warm worker; a worker that dies is replaced once (a fresh interpreter). Returns the reply (None
    when two workers died), its payload and whether the worker ran inside bubblewrap."""
    for _attempt in range(2):
        try:
            worker = _POOL.acquire(sandboxed)
        except SandboxError:
            if not sandboxed or require_sandbox:
                raise
            sandboxed = False  # bubblewrap probed fine but failed now: run unsandboxed, and say so in layers
            worker = _POOL.acquire(sandboxed)
        try:
            deadline = time.monotonic() + deadline_seconds
            reply, payload = worker.request(_request_frame(worker, request, source, prepared, False), deadline, *max_reply)
            if reply.get("kind") == "need-cases":  # the worker no longer has them: send them after all
                reply, payload = worker.request(_request_frame(worker, request, source, prepared, True), deadline, *max_reply)
        except EOFError:
            worker.kill()
            continue
        except (TimeoutError, wire.WireError) as error:
            worker.kill()
            raise SandboxError(f"the sandbox worker failed: {error}") from None
        _POOL.release(worker)
        return reply, payload, sandboxed
    return None, b"", sandboxed


def _decode_report(
    reply: dict[str, Any],
    payload: bytes,
    source: _Source,
    cases: Sequence[_Case],
    limits: Limits,
    sandboxed: bool,
    require_sandbox: bool,
) -> RunReport:
    kind = reply.get("kind")
    if kind == "setup-failed":
        message = f"the sandbox could not lock the child process down: {str(reply.get('message'))[:500]}"
        if require_sandbox:
            raise SandboxUnavailable(message)
        raise SandboxError(message)
    if kind == "worker-error":
        raise SandboxError(f"the sandbox worker failed internally:\n{str(reply.get('message'))[:3000]}")
    raw_cases = reply.get("cases")
    if kind != "report" or not isinstance(raw_cases, list) or len(raw_cases) != len(cases):
        raise SandboxError("the sandbox worker sent a malformed report")
    describer = _Describer(source, limits)
    outcomes = [
        describer.outcome(case, cases[index - 1].function if index else None, raw, payload)
        for index, (case, raw) in enumerate(zip(cases, raw_cases))
    ]
    child_layers = reply.get("layers") if isinstance(reply.get("layers"), dict) else {}
    active = {
        name: (
            True
            if name == "child-process"
            else sandboxed
            if name in layers.BWRAP_LAYERS
            else child_layers.get(name) is True
        )
        for name in layers.LAYER_NAMES
    }
    output = str(reply.get("output", ""))[: limits.max_output_bytes]
    dropped = reply.get("output_dropped")
    if isinstance(dropped, int) and dropped > 0:
        output += f"\n[... {dropped} more bytes of output not shown]"
    return RunReport(outcomes, active, output)


class _Describer:
    """Turns the worker's raw per-case records into CaseOutcomes with student-facing messages (naming the function
    of the case at hand)."""

    def __init__(self, source: _Source, limits: Limits) -> None:
        self.source = source
        self.limits = limits
        self.held_bytes = 0  # of the results decoded so far (Limits.max_total_result_bytes)

    def outcome(self, case: _Case, previous_function: str | None, raw: Any, payload: bytes) -> CaseOutcome:
        """``case``'s outcome from ``raw``; ``previous_function`` is what the case before it called (None: first).

        Every text from the sandbox is the student's to choose (exception messages, names of frames, types and
        functions, dict keys): lone surrogates in it become U+FFFD here, so that a Result can always be stored as
        JSON and rendered."""
        described = self._outcome(case, previous_function, raw, payload)
        message = without_surrogates(described.message)
        return described if message is described.message else replace(described, message=message)

    def _outcome(self, case: _Case, previous_function: str | None, raw: Any, payload: bytes) -> CaseOutcome:
        name, function = case.name, case.function
        if not isinstance(raw, dict):
            return CaseOutcome(name, "crashed", None, "the sandbox lost this case's result")
        status = raw.get("status")
        in_import = raw.get("phase") == "import"
        if status == "ok":
            try:
                value, changed = self._value(raw, payload, case)
            except wire.WireError as error:
                return CaseOutcome(name, "bad-result", None, f"{function} returned an unusable value: {error}")
            size = value.nbytes if isinstance(value, np.ndarray) else sum(array.nbytes for array in value.values())
            if self.held_bytes + size > self.limits.max_total_result_bytes:
                total = self.limits.max_total_result_bytes / 2**20
                return CaseOutcome(name, "bad-result", None, f"the results of this submission's cases together are over {total:.0f} MiB; this one was not kept")
            self.held_bytes += size
            return CaseOutcome(name, "ok", value, "", changed=changed)
        if status in ("exception", "memory"):
            text = self._exception(raw.get("error"), function, during_call=True)
            if status == "memory":
                text = f"ran out of memory (the limit is {_mib(self.limits.memory_bytes)}):\n{text}"
            return CaseOutcome(name, status, None, text)
        if status == "bad-result":
            return CaseOutcome(name, "bad-result", None, f"{function} returned an unusable value: {str(raw.get('message', ''))[:2000]}")
        if status == "timeout":
            return CaseOutcome(name, "timeout", None, self._timeout(raw, case), before_call=in_import)
        if status == "crashed":
            exit_code = raw.get("exit_code")
            if exit_code == -signal.SIGXCPU:  # RLIMIT_CPU, the backstop of the per-case CPU watch
                message = self._timeout({"reason": "cpu", "phase": raw.get("phase")}, case)
                return CaseOutcome(name, "timeout", None, message, before_call=in_import)
            return CaseOutcome(name, "crashed", None, self._crashed(raw, function, previous_function), before_call=in_import)
        if status == "import-error":
            return CaseOutcome(name, "import-error", None, self._import_error(raw, function), before_call=True)
        if status == "missing-function":
            return CaseOutcome(name, "missing-function", None, self._missing_function(raw, function), before_call=True)
        if status == "not-run":
            if raw.get("reason") == "group" and case.group_seconds is not None:
                message = f"not run: this part's cases may take {case.group_seconds:g} s in all, and they had used it up before this case"
            else:
                message = f"not run: the submission used up its {self.limits.wall_seconds_total:g} s of total time before this case"
            return CaseOutcome(name, "not-run", None, message)
        return CaseOutcome(name, "crashed", None, "the sandbox lost this case's result")

    def _value(self, raw: dict[str, Any], payload: bytes, case: _Case) -> tuple[np.ndarray | dict[str, np.ndarray], tuple[str, ...]]:
        """The result of an ``ok`` record and the array arguments the call changed in place (:func:`_changed`)."""
        base, length = raw.get("base"), raw.get("length")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (base, length)) or base + length > len(payload):
            raise wire.WireError("the result was lost in transfer")
        blob_payload = payload[base : base + length]
        table = raw.get("blobs")
        keys = raw.get("keys")
        # One blob more than the result needs: the child's flags of the arguments the call changed in place.
        needed = len(keys) if raw.get("result") == "dict" and isinstance(keys, list) else 1
        changed: tuple[str, ...] = ()
        if isinstance(table, list) and len(table) == needed + 1:
            changed = _changed(wire.blob_at(blob_payload, table, needed), case)
            table = table[:needed]
        return self._result(raw, blob_payload, table), changed

    def _result(self, raw: dict[str, Any], blob_payload: bytes, table: Any) -> np.ndarray | dict[str, np.ndarray]:
        cap = self.limits.max_result_bytes
        if raw.get("result") == "array":
            if not isinstance(table, list) or len(table) != 1:
                raise wire.WireError("the result is not a single array")
            return wire.blob_to_array(wire.blob_at(blob_payload, table, 0), max_bytes=cap)
        if raw.get("result") == "dict":
            keys = raw.get("keys")
            if (
                not isinstance(keys, list)
                or not isinstance(table, list)
                or len(keys) != len(table)
                or len(keys) > wire.MAX_RESULT_KEYS
                or not all(isinstance(k, str) and len(k) <= wire.MAX_KEY_CHARS for k in keys)
                or len(set(keys)) != len(keys)
            ):
                raise wire.WireError("the returned dict could not be read (its keys must be distinct short strings)")
            value: dict[str, np.ndarray] = {}
            for index, key in enumerate(keys):
                array = wire.blob_to_array(wire.blob_at(blob_payload, table, index), max_bytes=cap)
                cap -= array.nbytes
                value[without_surrogates(key)] = array
            if len(value) != len(keys):
                raise wire.WireError("the returned dict could not be read (its keys must be distinct short strings)")
            return value
        raise wire.WireError("the result has an unknown form")

    def _frames(self, info: dict[str, Any]) -> list[str]:
        frames = info.get("frames")
        if not isinstance(frames, list):
            return []
        lines: list[str] = []
        previous: tuple[int, str] | None = None
        repeats = 0

        def flush_repeats() -> None:
            if repeats:
                lines.append(f"  [Previous line repeated {repeats} more times]")

        for frame in frames[:200]:
            if not (isinstance(frame, list) and len(frame) == 2 and isinstance(frame[0], int) and isinstance(frame[1], str)):
                continue
            key = (frame[0], frame[1][:100])
            if key == previous:
                repeats += 1
                continue
            flush_repeats()
            repeats = 0
            previous = key
            lines.append(f"  File {self.source.where(key[0], quoted=True)}, in {key[1]}")
            text = self.source.line_text(key[0])
            if text:
                lines.append(f"    {text}")
        flush_repeats()
        total = info.get("total_frames")
        if isinstance(total, int) and total > len(frames):
            lines.append(f"  [{total - len(frames)} more frames of your code not shown]")
        return lines

    def _exception(self, info: Any, function: str, *, during_call: bool) -> str:
        if not isinstance(info, dict):
            return "an exception whose details were lost"
        type_name = str(info.get("type", "Exception"))[:200]
        message = str(info.get("message", ""))[:2000]
        frames = self._frames(info)
        lines = ["Traceback (most recent call last; your code only):", *frames] if frames else []
        lines.append(f"{type_name}: {message}" if message else type_name)
        if type_name == "SystemExit":
            lines.append(f"(your code called sys.exit() or exit(); {function} must return its result instead)")
        elif during_call and not frames and type_name == "TypeError":
            lines.append(f"(the grader calls {function} with keyword arguments; check the parameter names)")
        return "\n".join(lines)

    def _import_error(self, raw: dict[str, Any], function: str) -> str:
        info = raw.get("error")
        if isinstance(info, dict) and isinstance(info.get("syntax"), dict) and raw.get("phase") == "compile":
            syntax = info["syntax"]
            line, column = syntax.get("line"), syntax.get("column")
            place = self.source.filename
            if isinstance(line, int):
                place = self.source.where(line)
                if isinstance(column, int):
                    place += f", column {column}"
            text = f"{str(info.get('type', 'SyntaxError'))[:100]} in {place}: {str(syntax.get('message', ''))[:500]}"
            if isinstance(line, int) and self.source.line_text(line):
                raw_line = self.source.lines[line - 1]
                stripped = raw_line.lstrip()
                text += f"\n    {stripped[:200]}"
                if isinstance(column, int) and 1 <= column <= len(raw_line) + 1:
                    text += "\n    " + " " * max(0, column - 1 - (len(raw_line) - len(stripped))) + "^"
            return text
        return f"importing {self.source.filename} failed:\n{self._exception(info, function, during_call=False)}"

    def _missing_function(self, raw: dict[str, Any], function: str) -> str:
        found = raw.get("found")
        if isinstance(found, str):
            return f"{self.source.filename} defines '{function}', but it is {found[:100]}, not a function"
        defined = raw.get("defined")
        names = [str(name)[:60] for name in defined[:20]] if isinstance(defined, list) else []
        message = f"{self.source.filename} does not define a function named '{function}'"
        return message + (f" (it defines: {', '.join(names)})" if names else "")

    def _timeout(self, raw: dict[str, Any], case: _Case) -> str:
        reason, phase = raw.get("reason"), raw.get("phase")
        in_call = phase not in ("import", "between")
        what = f"importing {self.source.filename}" if phase == "import" else f"this call of {case.function}"
        # A call has the case's own limits; the import and the time between calls have the run's.
        cpu_seconds = case.cpu_seconds if in_call else self.limits.cpu_seconds_per_case
        wall_seconds = case.wall_seconds if in_call else self.limits.wall_seconds_per_case
        if reason == "cpu":
            return f"stopped: {what} used more than {cpu_seconds:g} s of CPU time (is there an endless loop?)"
        if reason == "wall":
            return f"stopped: {what} took more than {wall_seconds:g} s (does the code sleep or wait for something?)"
        if reason == "group" and case.group_seconds is not None:
            return f"stopped: this part's cases may take {case.group_seconds:g} s in all, and that time ran out during {what}"
        return f"stopped: the whole submission may run for {self.limits.wall_seconds_total:g} s and that time ran out during {what}"

    def _crashed(self, raw: dict[str, Any], function: str, previous_function: str | None) -> str:
        phase = raw.get("phase")
        what = f"while importing {self.source.filename}" if phase == "import" else f"while running {function}"
        if phase == "between":
            calls = f"two calls of {function}" if previous_function in (None, function) else f"a call of {previous_function} and one of {function}"
            what = f"between {calls} (a background thread?)"
        if raw.get("reason") == "files":
            return (
                f"stopped {what}: the code has created more than {raw.get('limit')} files or folders, its processes "
                "together (the sandbox allows no more); write fewer"
            )
        if raw.get("reason") == "channel":
            return (
                f"the result channel was corrupted {what} ({str(raw.get('message', ''))[:300]}); do not write to files "
                "or file descriptors your code did not open"
            )
        exit_code = raw.get("exit_code")
        if exit_code == wire.HARNESS_FAILED_EXIT:
            return (
                f"the process exited (exit code {exit_code}) {what}, before a result came back: the sandbox could not "
                "send it, which happens when code closes or replaces file descriptors it did not open (or calls "
                "os._exit); do neither"
            )
        if isinstance(exit_code, int) and exit_code >= 0:
            return f"the process exited (exit code {exit_code}) {what}, before a result came back; do not call exit() or os._exit()"
        if isinstance(exit_code, int):
            number = -exit_code
            try:
                signal_name = signal.Signals(number).name
            except ValueError:
                signal_name = f"signal {number}"
            hint = {
                "SIGSEGV": "; very deep recursion or a crash inside a C extension does this",
                "SIGKILL": "; it was killed, usually for using too much memory",
                "SIGSYS": "; it made a system call the sandbox forbids",
                "SIGABRT": "; Python aborted, often after running out of memory",
            }.get(signal_name, "")
            return f"the process crashed ({signal_name}) {what}{hint}"
        return f"the process ended {what} without a result"


def _changed(blob: bytes, case: _Case) -> tuple[str, ...]:
    """The array arguments of ``case`` the child flags as changed in place by the call: ``blob`` must be a bool array
    of shape ``(len(case.kwargs),)``, one flag per argument in order (``child._changed_flags``). Anything else is
    ignored: only a student forging frames could send it, and it would concern nothing but their own function."""
    try:
        flags = wire.blob_to_array(blob, max_bytes=len(case.kwargs))
    except wire.WireError:
        return ()
    if flags.dtype != np.bool_ or flags.shape != (len(case.kwargs),):
        return ()
    return tuple(name for (name, value), flag in zip(case.kwargs.items(), flags.tolist()) if flag and isinstance(value, np.ndarray))


def _mib(size: int) -> str:
    return f"{size / 2**30:g} GiB" if size >= 2**30 else f"{size / 2**20:g} MiB"
