"""The warm sandbox worker: imports numpy once, then runs one locked-down child per submission and supervises it.

Started by :mod:`runner` (inside bubblewrap where available) and driven over its stdin/stdout with :mod:`wire`
frames: a ``run`` request in, a ``report`` out. The children are forked by a zygote of the run (:mod:`zygote`),
never by this process, which holds every submission's data; the worker hands each child its source through a pipe.
The worker enforces the time limits (it watches wall clock and the child's CPU clock), collects the child's output
(capped) and result frames, restarts a child after a case that had to be killed, and kills everything the
submission started when it is done. It never runs student code itself. Standard library and numpy only; relative
imports.
"""

from __future__ import annotations

import errno
import fcntl
import importlib
import math
import os
import random
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from . import child, layers, wire
from .zygote import Case, RunZygote, Zygote, ZygoteGone

# Each submission runs as a fresh uid from this range (when the worker is root), so no two submissions share a
# uid: one cannot signal or read another, RLIMIT_NPROC counts only its own processes, and kill(-1) as that uid
# sweeps exactly what it left behind. Tests look for survivors in this range.
UID_BASE = 1_500_000_000
UID_SPAN = 500_000_000
# From the operating system, not the worker's ``random`` state, which every child inherits: a submission must not
# be able to tell which uid the next one gets.
_UID_RANDOM = random.SystemRandom()

SETUP_SECONDS = 10.0
POLL_SECONDS = 0.02
READ_CHUNK = 1 << 20
RESULT_SLACK_BYTES = 64 << 10  # array headers and dict keys on top of the data cap

# Imported before forking so the child needs no file of the standard library: with a separate uid it may not be
# allowed to read the Python installation (e.g. under a 0700 home directory).
PREIMPORTED = (
    "abc", "array", "bisect", "cmath", "collections", "collections.abc", "contextlib", "copy", "dataclasses",
    "decimal", "enum", "fractions", "functools", "heapq", "itertools", "json", "math", "numbers", "operator",
    "pprint", "random", "re", "statistics", "string", "struct", "textwrap", "time", "typing", "warnings",
    "numpy.linalg", "numpy.fft", "numpy.random", "numpy.lib.stride_tricks",
)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

MAX_NEW_FILES = 10_000
"""Files (inodes: directories, links and empty files too) the children of one submission may create. A private
/tmp caps their bytes, not their number, and each takes about 1 kB of the kernel's memory that no limit of the
child counts: a hostile file made 3 million empty files (3 GB) in 30 s before this limit."""

_PRIVATE_TMP = os.environ.get(layers.PRIVATE_TMP_ENV) == "1"
"""Read when the worker starts, before :func:`child.prepare` replaces its environment with the children's."""


def _files_in_use(path: str) -> int | None:
    """Inodes in use on the file system holding ``path`` (None when it cannot tell)."""
    try:
        status = os.statvfs(path)
    except OSError:
        return None
    return status.f_files - status.f_ffree if status.f_files else None


WORKDIR_PREFIX = "grader-worker-"
"""A worker's directory in the temporary folder is ``grader-worker-<worker pid>-<random>`` (removed when it ends)."""


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads), 0.0 when it is gone.

    Read from the process's CPU-time clock (Linux: ``MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)``): one system call,
    exact to the nanosecond, where /proc/PID/stat costs three and counts in clock ticks. The watch loop reads it after
    every frame the child sends, so this is on the path of every case.
    """
    try:
        return time.clock_gettime(((~pid) << 3) | 2)
    except OSError:
        return _proc_cpu_seconds(pid)


def _proc_cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:
        return 0.0
    fields = data[data.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class OutputBuffer:
    """The first ``cap`` bytes of everything the child printed, and how many more bytes were dropped."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.kept = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.cap - len(self.kept)
        if room > 0:
            self.kept += data[:room]
        self.dropped += max(0, len(data) - max(room, 0))


@dataclass
class ChildRun:
    """What one child process left: outcomes per case index, or one outcome for every remaining case."""

    outcomes: dict[int, dict[str, Any]] = field(default_factory=dict)
    module_outcome: dict[str, Any] | None = None
    next_start: int = 0
    layers: dict[str, bool] | None = None
    setup_failed: str | None = None


@dataclass
class Submission:
    """One decoded ``run`` request. ``cases`` carry only their names and limits (the run zygote decodes the
    arguments)."""

    source: bytes
    filename: str
    cases: list[Case]
    limits: dict[str, Any]
    seccomp: bool
    require: bool
    hidden_frame: bytes = b""
    """The hidden cases' arguments (:attr:`grader.sandbox.runner.PreparedCases.hidden_frame`), written to a child
    only when it asks at the first hidden case, every case before it having its outcome."""

    @property
    def hidden_from(self) -> int:
        """Index of the first case whose arguments the run zygote does not hold (len(cases) when none)."""
        return next((index for index, case in enumerate(self.cases) if case.hidden), len(self.cases))


def _set_nonblocking(fd: int) -> None:
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)


def _drain(fd: int) -> tuple[bytes, bool]:
    """Everything readable now from non-blocking ``fd``; the flag is True at end of file."""
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return b"".join(chunks), False
        except OSError as error:
            if error.errno == errno.EINTR:
                continue
            return b"".join(chunks), True
        if not data:
            return b"".join(chunks), True
        chunks.append(data)
        if len(chunks) >= 16:  # let the caller check its clocks between large bursts
            return b"".join(chunks), False


def _kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# What the worker relays of a child's frames is rebuilt from these fields, each bounded, so that the grader's report
# stays small and flat whatever the child sent (JSON nested 900 deep, names of megabytes).


def _text(value: Any, limit: int) -> str:
    """``value`` if it is a string (at most ``limit`` characters), else empty."""
    return value[:limit] if isinstance(value, str) else ""


def _whole_number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _error_record(info: Any) -> dict[str, Any] | None:
    """The parts of a child's error description (see ``child._error_info``) the grader reads, bounded."""
    if not isinstance(info, dict):
        return None
    frames = info.get("frames")
    record: dict[str, Any] = {
        "type": _text(info.get("type"), 200) or "Exception",
        "message": _text(info.get("message"), 2000),
        "frames": [
            [frame[0], _text(frame[1], 100)]
            for frame in (frames[: child.MAX_FRAMES] if isinstance(frames, list) else [])
            if isinstance(frame, list) and len(frame) == 2 and _whole_number(frame[0]) is not None
        ],
        "total_frames": _whole_number(info.get("total_frames")) or 0,
    }
    syntax = info.get("syntax")
    if isinstance(syntax, dict):
        record["syntax"] = {
            "line": _whole_number(syntax.get("line")),
            "column": _whole_number(syntax.get("column")),
            "message": _text(syntax.get("message"), 500),
            "file": _text(syntax.get("file"), 200),
        }
    return record


def _blob_table(table: Any) -> list[list[int]] | None:
    """A result's ``[[offset, length], ...]`` as sent, or None when it is not one (the grader then refuses it)."""
    if not isinstance(table, list) or len(table) > wire.MAX_RESULT_KEYS:
        return None
    if not all(isinstance(entry, list) and len(entry) == 2 and all(_whole_number(v) is not None for v in entry) for entry in table):
        return None
    return table


def _result_keys(keys: Any) -> list[str] | None:
    if keys is None:
        return None
    if not isinstance(keys, list) or len(keys) > wire.MAX_RESULT_KEYS:
        return []
    return [key if isinstance(key, str) and len(key) <= wire.MAX_KEY_CHARS else "" for key in keys]


class Supervisor:
    """Runs the children of one submission one after another and turns what they send into outcomes."""

    def __init__(self, submission: Submission, response_blobs: list[bytes], output: OutputBuffer, zygote: RunZygote) -> None:
        self.submission = submission
        self.zygote = zygote
        self.response_blobs = response_blobs
        self.response_size = 0
        self.output = output
        limits = submission.limits
        # The import and the time between calls get the run's per-case limits; each call its case's own.
        self.cpu_per_case = float(limits["cpu_seconds_per_case"])
        self.wall_per_case = float(limits["wall_seconds_per_case"])
        self.max_result_bytes = int(limits["max_result_bytes"])
        self.max_total_result_bytes = int(limits["max_total_result_bytes"])
        self.hidden_from = submission.hidden_from
        # The child's source pipe while it may still ask for the hidden cases' arguments, and what of them is left
        # to write once it asked (written as the pipe takes it, so a child that asks and never reads blocks nothing).
        self._hidden_fd: int | None = None
        self._hidden_pending: memoryview | None = None
        # Wall-clock seconds each group (CaseInput.group) has taken, over every child of the run: its cases' calls,
        # and the setup and import of each child started again because one of its calls did not return.
        self._group_used: dict[str, float] = {}
        self._call_started = 0.0
        self._restart_group: str | None = None  # the group whose call ended the last child, if one did
        # Where files the children make are counted (the private /tmp) and how many were in use before them.
        self.files_path: str | None = None
        self.files_before = 0

    def count_files_in(self, path: str) -> None:
        """Count the files the children create on the file system of ``path`` (:data:`MAX_NEW_FILES`), from now."""
        before = _files_in_use(path)
        if before is not None:
            self.files_path, self.files_before = path, before

    def _too_many_files(self) -> bool:
        if self.files_path is None:
            return False
        in_use = _files_in_use(self.files_path)
        return in_use is not None and in_use - self.files_before > MAX_NEW_FILES

    def group_left(self, index: int) -> float:
        """Seconds the group of case ``index`` has left for its calls (inf for a case in no group)."""
        case = self.submission.cases[index]
        if case.group is None or case.group_seconds is None:
            return math.inf
        return case.group_seconds - self._group_used.get(case.group, 0.0)

    def _charge(self, group: str | None, since: float) -> None:
        """Charge the time from ``since`` to now to ``group`` (nothing for no group)."""
        if group is not None:
            self._group_used[group] = self._group_used.get(group, 0.0) + time.monotonic() - since

    def run_child(self, start: int, deadline: float, workdir: str, uid: int | None) -> ChildRun:
        submission = self.submission
        limits = submission.limits
        result_read, result_write = os.pipe()
        output_read, output_write = os.pipe()
        source_read, source_write = os.pipe()
        cpu_remaining = self.cpu_per_case + sum(case.cpu_seconds for case in submission.cases[start:])
        request = {
            "kind": "spawn",
            "start": start,
            "workdir": workdir,
            "uid": uid,
            "memory_bytes": int(limits["memory_bytes"]),
            "file_size_bytes": int(limits["file_size_bytes"]),
            "cpu_seconds_total": math.ceil(cpu_remaining) + 1,
            "max_result_bytes": self.max_result_bytes,
            "seccomp": submission.seccomp,
            "require": submission.require,
        }
        try:
            pid = self.zygote.spawn(request, [result_write, output_write, source_read])
        except BaseException:
            for fd in (result_read, output_read, source_write):
                os.close(fd)
            raise
        finally:
            for fd in (result_write, output_write, source_read):
                os.close(fd)
        try:
            # The source goes straight to the child, never through the zygote's memory.
            source_frame = wire.encode_frame({"filename": submission.filename}, submission.source)
            hidden_later = bool(submission.hidden_frame) and start < len(submission.cases)
            try:
                wire.write_all(source_write, source_frame)
            except OSError:
                hidden_later = False  # the child died before reading it: _watch reports how it ended
            finally:
                if hidden_later:  # the same pipe carries the hidden cases' arguments when the child asks
                    _set_nonblocking(source_write)
                    self._hidden_fd = source_write
                else:
                    os.close(source_write)
            _set_nonblocking(result_read)
            _set_nonblocking(output_read)
            return self._watch(pid, start, deadline, result_read, output_read)
        finally:
            self._close_hidden()
            _kill_group(pid)
            self.zygote.wait_exit(pid, None)
            self.zygote.release(pid)
            data, _ = _drain(output_read)
            self.output.add(data)
            os.close(result_read)
            os.close(output_read)

    def _close_hidden(self) -> None:
        if self._hidden_fd is not None:
            os.close(self._hidden_fd)
        self._hidden_fd, self._hidden_pending = None, None

    def _write_hidden(self) -> None:
        """Write what the pipe takes of the hidden cases' arguments the child asked for; close it when all is out."""
        assert self._hidden_fd is not None and self._hidden_pending is not None
        try:
            written = os.write(self._hidden_fd, self._hidden_pending[: 1 << 16])
        except BlockingIOError:
            return
        except OSError:  # the child is gone: _watch learns how it ended
            self._close_hidden()
            return
        self._hidden_pending = self._hidden_pending[written:]
        if not self._hidden_pending:
            self._close_hidden()

    def _watch(self, pid: int, start: int, deadline: float, result_read: int, output_read: int) -> ChildRun:
        """Follow one child to its end. Time is charged to groups here: each call to its case's group, and a
        restarted child's setup and import to the group whose call ended the child before (else a part whose
        calls keep timing out would spend the other parts' time importing the file again)."""
        spawned = time.monotonic()
        restart_group, self._restart_group = self._restart_group, None
        run = ChildRun(next_start=len(self.submission.cases))
        parser = wire.FrameParser(self.max_result_bytes + RESULT_SLACK_BYTES)
        phase = "setup"  # setup -> import -> between -> case -> between ... -> finished
        current = start  # the case running ("case") or expected next ("between")
        phase_wall = time.monotonic()
        phase_cpu = 0.0
        killed: dict[str, Any] | None = None
        result_open, output_open = True, True
        while result_open:
            now = time.monotonic()
            cpu_limit, wall_limit = self._phase_limits(phase, current)
            wait = max(0.0, min(POLL_SECONDS, phase_wall + wall_limit - now, deadline - now))
            writing = [self._hidden_fd] if self._hidden_fd is not None and self._hidden_pending is not None else []
            readable, writable, _ = select.select(
                [fd for fd, is_open in ((result_read, True), (output_read, output_open)) if is_open], writing, [], wait
            )
            if writable:
                self._write_hidden()
            if output_read in readable:
                data, at_end = _drain(output_read)
                self.output.add(data)
                output_open = not at_end
            if result_read in readable:
                data, at_end = _drain(result_read)
                try:
                    frames = 0
                    for header, payload in parser.feed(data):
                        before = (phase, current)
                        phase, current, done = self._on_frame(header, payload, phase, current, run)
                        if before[0] == "case" and (phase, current) != before:
                            self._charge(self.submission.cases[before[1]].group, self._call_started)
                        elif phase == "case" and before[0] != "case":
                            self._call_started = time.monotonic()
                        elif before[0] in ("setup", "import") and phase not in ("setup", "import"):
                            self._charge(restart_group, spawned)
                            restart_group = None
                        if done:
                            return run
                        frames += 1
                except wire.WireError as error:
                    self._charged_at_end(phase, current, restart_group, spawned, None)
                    return self._protocol_failure(run, phase, current, error)
                if frames:  # the frames of one read were sent together (a case's end with the next one's start)
                    phase_wall, phase_cpu = time.monotonic(), _cpu_seconds(pid)
                result_open = not at_end
                if not result_open:
                    break
                if phase == "case" and self.group_left(current) <= 0:  # its part's time is used up: not called
                    killed = {"status": "not-run", "reason": "group"}
                    _kill_group(pid)
                    break
            now = time.monotonic()
            if phase == "setup":
                if now - phase_wall > SETUP_SECONDS:
                    run.setup_failed = f"the sandboxed process did not start within {SETUP_SECONDS:.0f} s"
                    return run
                continue
            cpu_used = _cpu_seconds(pid) - phase_cpu
            if now >= deadline:
                killed = {"status": "timeout", "reason": "total", "seconds": self.submission.limits["wall_seconds_total"]}
            elif cpu_used > cpu_limit:
                killed = {"status": "timeout", "reason": "cpu", "seconds": cpu_limit}
            elif now - phase_wall > wall_limit:
                group_stop = phase == "case" and wall_limit < self.submission.cases[current].wall_seconds
                killed = {"status": "timeout", "reason": "group" if group_stop else "wall", "seconds": wall_limit}
            elif self._too_many_files():
                killed = {"status": "crashed", "reason": "files", "limit": MAX_NEW_FILES}
            if killed is not None:
                _kill_group(pid)
                break
        self._charged_at_end(phase, current, restart_group, spawned, killed)
        exit_code = self._exit_code(pid) if killed is None else None
        return self._ended(run, phase, current, killed, exit_code)

    def _charged_at_end(
        self, phase: str, current: int, restart_group: str | None, spawned: float, killed: dict[str, Any] | None
    ) -> None:
        """Charge what a child that ended before saying it was done spent last: the call it was in (crashed, or
        stopped by us; not a call refused for its group's time), or its setup and import; a call's group is then
        the group of the child started next."""
        if phase == "case" and not (killed is not None and killed["status"] == "not-run"):
            group = self.submission.cases[current].group
            self._charge(group, self._call_started)
            self._restart_group = group
        elif phase in ("setup", "import"):
            self._charge(restart_group, spawned)

    def _phase_limits(self, phase: str, current: int) -> tuple[float, float]:
        """(CPU seconds, wall seconds) the child may spend in ``phase``: a call has its case's own limits."""
        if phase == "setup":
            return self.cpu_per_case, SETUP_SECONDS
        if phase == "case":
            case = self.submission.cases[current]
            return case.cpu_seconds, max(0.0, min(case.wall_seconds, self.group_left(current)))
        return self.cpu_per_case, self.wall_per_case

    def _exit_code(self, pid: int) -> int | None:
        """The child's exit code (negative: killed by that signal), waiting briefly for a child that closed the
        result pipe but is still running (then it is killed and reported as such)."""
        ended, code = self.zygote.wait_exit(pid, 0.5)
        if not ended:
            _kill_group(pid)
            _, code = self.zygote.wait_exit(pid, None)
        return code

    def _on_frame(self, header: dict[str, Any], payload: bytes, phase: str, current: int, run: ChildRun) -> tuple[str, int, bool]:
        """Apply one frame from the child; returns the new (phase, current case, finished)."""
        kind = header.get("kind")
        case = header.get("case")
        if phase == "setup":
            if kind == "ready" and isinstance(header.get("layers"), dict):
                run.layers = {str(k): v is True for k, v in header["layers"].items()}
                return "import", current, False
            if kind == "setup-failed":
                run.setup_failed = _text(header.get("message"), 2000)
                return phase, current, True
            raise wire.WireError("the sandboxed process sent an unexpected first message")
        if phase == "import":
            if kind == "imported":
                return "between", current, False
            if kind == "import-error":
                run.module_outcome = {"status": "import-error", "error": _error_record(header.get("error")), "phase": _text(header.get("phase"), 20)}
                return phase, current, True
        elif phase == "between":
            if kind == "start" and case == current:
                return "case", current, False
            if kind == "need-hidden" and current >= self.hidden_from and self._hidden_fd is not None and self._hidden_pending is None:
                # Every case before the hidden ones has its outcome: nothing the child learns now reaches the student.
                self._hidden_pending = memoryview(self.submission.hidden_frame)
                return "between", current, False
            if kind == "missing-function" and case == current:
                defined = header.get("defined")
                run.outcomes[current] = {
                    "status": "missing-function",
                    "found": _text(header.get("found"), 200) or None,
                    "defined": [_text(name, 100) for name in defined[:20]] if isinstance(defined, list) else [],
                }
                return "between", current + 1, False
            if kind == "done" and current == len(self.submission.cases):
                return "finished", current, True
        elif phase == "case" and case == current:
            if kind == "ok":
                if self.response_size + len(payload) > self.max_total_result_bytes:
                    total = self.max_total_result_bytes / 2**20
                    message = f"the results of this submission's cases together are over {total:.0f} MiB; this one was not kept"
                    run.outcomes[current] = {"status": "bad-result", "message": message}
                    return "between", current + 1, False
                self.response_blobs.append(payload)
                run.outcomes[current] = {
                    "status": "ok",
                    "result": _text(header.get("result"), 10),
                    "keys": _result_keys(header.get("keys")),
                    "blobs": _blob_table(header.get("blobs")),
                    "base": self.response_size,
                    "length": len(payload),
                }
                self.response_size += len(payload)
                return "between", current + 1, False
            if kind in ("exception", "memory"):
                run.outcomes[current] = {"status": kind, "error": _error_record(header.get("error"))}
                return "between", current + 1, False
            if kind == "bad-result":
                run.outcomes[current] = {"status": "bad-result", "message": _text(header.get("message"), 2000)}
                return "between", current + 1, False
        raise wire.WireError(f"the result channel carried an unexpected message while in phase '{phase}'")

    def _protocol_failure(self, run: ChildRun, phase: str, current: int, error: wire.WireError) -> ChildRun:
        failure = {"status": "crashed", "reason": "channel", "message": str(error)}
        if phase in ("setup", "import"):
            run.module_outcome = dict(failure, phase="import")
        elif current < len(self.submission.cases):
            if isinstance(error, wire.OversizeError):
                failure = {"status": "bad-result", "message": str(error)}
            run.outcomes[current] = failure
            run.next_start = current + 1
        return run

    def _ended(self, run: ChildRun, phase: str, current: int, killed: dict[str, Any] | None, exit_code: int | None) -> ChildRun:
        """Outcomes when the child stopped before saying it was done: killed by us, crashed or exited."""
        ending = killed if killed is not None else {"status": "crashed", "exit_code": exit_code}
        if killed is not None and killed["reason"] == "total" and phase != "case":
            run.next_start = len(self.submission.cases)  # the cases not started become "not-run"
            if phase in ("setup", "import"):
                run.module_outcome = dict(ending, phase="import")
            return run
        if phase == "setup":
            run.setup_failed = run.setup_failed or f"the sandboxed process ended during setup ({_describe_exit(exit_code)})"
            return run
        if phase == "import":
            run.module_outcome = dict(ending, phase="import")
            return run
        if current >= len(self.submission.cases):
            return run
        run.outcomes[current] = dict(ending, phase="case" if phase == "case" else "between")
        run.next_start = current + 1
        return run


def _describe_exit(exit_code: int | None) -> str:
    if exit_code is None:
        return "no exit status"
    if exit_code < 0:
        try:
            return f"signal {signal.Signals(-exit_code).name}"
        except ValueError:
            return f"signal {-exit_code}"
    return f"exit code {exit_code}"


def _sweep(uid: int | None, zygote_pid: int) -> None:
    """After children that could create processes (no seccomp filter): kill every process still running as the
    submission's ``uid`` (None: no uid of its own, nothing to kill by uid) and reap what was reparented to this
    worker (its subreaper), leaving the zygote alone."""
    if uid is not None:
        helper = os.fork()
        if helper == 0:
            try:
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)  # every process of this uid but the caller
            finally:
                os._exit(0)
        os.waitpid(helper, 0)
    children_file = f"/proc/self/task/{os.getpid()}/children"
    give_up = time.monotonic() + 0.2
    while time.monotonic() < give_up:
        try:
            waited, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if waited != 0:
            continue
        try:
            with open(children_file) as children:
                if children.read().split() in ([], [str(zygote_pid)]):
                    return
        except OSError:
            pass
        time.sleep(0.002)


CLEANUP_SECONDS = 2.0
"""What a submission left in its working directory is removed within this time, or its worker ends (a fresh one
takes over; inside bubblewrap the worker's private /tmp goes with it)."""


MAX_CLEANUP_DEPTH = 800
"""Deepest tree :func:`_remove_tree` descends (one open directory per level, under the usual limit of 1024 files)."""


def _remove_tree(path: str, seconds: float = CLEANUP_SECONDS) -> bool:
    """Remove the directory ``path`` and whatever a submission left in it, whatever its permissions, within
    ``seconds``. True when it is gone; False when it could not all be removed (deeper than MAX_CLEANUP_DEPTH,
    millions of entries, a file that cannot be removed): the caller then gives up on it. Never raises.

    Directories are opened relative to their parent without following symbolic links, as ``shutil.rmtree`` does,
    so a process swapping a directory for a link cannot make this remove or chmod anything elsewhere; and it is
    iterative, so no recursion limit applies."""
    try:
        os.rmdir(path)  # the usual case: the code wrote nothing
        return True
    except FileNotFoundError:
        return True
    except OSError:
        pass
    deadline = time.monotonic() + seconds
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    stack: list[tuple[int, str]] = []  # (open directory, its name in the one below it), the tree's top first
    entries_seen = 0
    try:
        stack.append((os.open(path, flags), path))
        while stack:
            directory = stack[-1][0]
            try:
                os.fchmod(directory, 0o700)  # the code may have made it unreadable or unwritable
            except OSError:
                pass
            subdirectory = None
            with os.scandir(directory) as entries:
                for entry in entries:
                    entries_seen += 1
                    if entries_seen % 256 == 0 and time.monotonic() > deadline:
                        return False
                    if entry.is_dir(follow_symlinks=False):
                        subdirectory = entry.name
                        break
                    os.unlink(entry.name, dir_fd=directory)
            if subdirectory is not None:
                if len(stack) >= MAX_CLEANUP_DEPTH:
                    return False
                stack.append((os.open(subdirectory, flags, dir_fd=directory), subdirectory))
                continue
            _, name = stack.pop()
            os.close(directory)
            if stack:
                os.rmdir(name, dir_fd=stack[-1][0])
            else:
                os.rmdir(path)
        return True
    except OSError:
        return False
    finally:
        for directory, _ in stack:
            os.close(directory)


_WORKDIR_NAME = re.compile(re.escape(WORKDIR_PREFIX) + r"[0-9]+-[a-z0-9_]{8}")
"""A worker's folder as ``tempfile.mkdtemp`` names it (``grader-worker-<pid>-`` and 8 random characters)."""


def remove_ended_workers_folders(temp: str) -> None:
    """Start removing the folders in ``temp`` that workers of this user left when they ended without removing them
    (killed with the process that started them: a batch stopped by a signal, a SIGKILL). A worker holds a lock on
    its folder while it lives (:func:`main`), which works across PID namespaces (containers sharing a /tmp), so a
    folder is removed only when named as a worker names it, holding nothing but its ``submission`` folder, owned by
    this user and not locked. A worker inside bubblewrap has a /tmp of its own: only plain workers leave folders in
    the machine's."""
    try:
        names = [name for name in os.listdir(temp) if _WORKDIR_NAME.fullmatch(name)]
    except OSError:
        return
    for name in names:
        path = os.path.join(temp, name)
        try:
            handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if os.fstat(handle).st_uid != os.geteuid() or not set(os.listdir(handle)) <= {"submission"}:
                continue
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: its worker lives
            _remove_in_background(path)
        except OSError:
            continue
        finally:
            os.close(handle)


def _remove_in_background(path: str) -> None:
    """Start ``rm -rf path`` and leave it running (the worker is ending; nothing waits for it)."""
    try:
        subprocess.Popen(
            ["rm", "-rf", "--", path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        pass


def _make_workdir(workdir: str, uid: int | None) -> None:
    """Create ``workdir`` afresh (mode 0700, owned by ``uid``). What a previous submission left there and could not
    be removed is moved aside first, so no submission ever sees another's files."""
    try:
        os.mkdir(workdir, 0o700)
    except FileExistsError:
        os.rename(workdir, f"{workdir}.stale.{time.monotonic_ns()}")
        os.mkdir(workdir, 0o700)
    if uid is not None:
        os.chown(workdir, uid, uid)


def handle_run(request: dict[str, Any], payload: bytes, workdir: str, zygote: Zygote) -> tuple[dict[str, Any], bytes]:
    """Run one submission's cases in a fresh ``workdir`` (the one :func:`child.prepare` was given; removed
    afterwards); returns the ``report`` frame (header, payload of result blobs)."""
    limits = request["limits"]
    token = request.get("cases_token")
    source_length = int(request["source_bytes"])  # the payload: the module's source, the cases' blobs, the hidden frame
    fields = {"cases": request["cases"], "blobs": request["blobs"]} if "cases" in request else None
    hidden_length = int(request.get("hidden_bytes", 0)) if fields is not None else 0
    blobs_end = len(payload) - hidden_length
    run_zygote = zygote.run_for(
        token if isinstance(token, str) else None, fields, payload[source_length:blobs_end], payload[blobs_end:]
    )
    if run_zygote is None:
        return {"kind": "need-cases"}, b""
    cases = run_zygote.cases
    submission = Submission(
        source=payload[:source_length],
        filename=request["filename"],
        cases=cases,
        limits=limits,
        seccomp=bool(request["seccomp"]),
        require=bool(request["require"]),
        hidden_frame=run_zygote.hidden_frame,
    )
    uid = UID_BASE + _UID_RANDOM.randrange(UID_SPAN) if os.geteuid() == 0 else None
    _make_workdir(workdir, uid)
    output = OutputBuffer(int(limits["max_output_bytes"]))
    response_blobs: list[bytes] = []
    supervisor = Supervisor(submission, response_blobs, output, run_zygote)
    if _PRIVATE_TMP:
        supervisor.count_files_in(workdir)
    outcomes: list[dict[str, Any] | None] = [None] * len(cases)
    active: dict[str, bool] | None = None
    deadline = time.monotonic() + float(limits["wall_seconds_total"])
    start = 0
    # Whether the student's code ran in a child without the seccomp filter, which denies creating processes.
    could_fork = False
    try:
        while start < len(cases) and time.monotonic() < deadline:
            run = supervisor.run_child(start, deadline, workdir, uid)
            if run.layers is not None:
                active = run.layers if active is None else {k: v and run.layers.get(k, False) for k, v in active.items()}
                could_fork = could_fork or not run.layers.get("seccomp", False)
            if run.setup_failed is not None:
                return {"kind": "setup-failed", "message": run.setup_failed}, b""
            for index, outcome in run.outcomes.items():
                outcomes[index] = outcome
            if run.module_outcome is not None:
                for index in range(start, len(cases)):
                    if outcomes[index] is None:
                        outcomes[index] = run.module_outcome
                break
            start = run.next_start
            while start < len(cases) and supervisor.group_left(start) <= 0:  # its part's time is used up
                outcomes[start] = outcomes[start] or {"status": "not-run", "reason": "group"}
                start += 1
    finally:
        # Children that could not fork left only threads, which died with them: then there is nothing to sweep,
        # and the sweep's own fork (the costliest step of a short run) is saved.
        if could_fork:
            _sweep(uid, zygote.pid)
    report = {
        "kind": "report",
        "cases": [outcome if outcome is not None else {"status": "not-run"} for outcome in outcomes],
        "layers": active or {},
        "output": output.kept.decode("utf-8", errors="backslashreplace"),
        "output_dropped": output.dropped,
    }
    return report, b"".join(response_blobs)


def main() -> None:
    """Serve ``run`` requests on stdin until it closes; replies go to stdout (fds 0/1 are then /dev/null)."""
    control_in = os.dup(0)
    control_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    layers.prctl(layers.PR_SET_PDEATHSIG, signal.SIGKILL)
    layers.prctl(layers.PR_SET_CHILD_SUBREAPER, 1)
    for name in PREIMPORTED:
        importlib.import_module(name)
    # Every child of this worker works in the same directory (also its HOME), made afresh for each submission:
    # with a fixed path the child's environment is set up once, here, by child.prepare.
    # The name carries this worker's pid, so a directory left behind can be told from a live worker's.
    base = tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-")
    os.chmod(base, 0o711)  # the child's uid must pass through to its working directory, not list what is here
    # Held while this worker (or its zygote) lives: remove_ended_workers_folders leaves a locked folder alone.
    folder_lock = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(folder_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    workdir = os.path.join(base, "submission")
    child.prepare(workdir)
    # This process will hold every submission's source, output and results, and the zygote hands children their
    # pipes: neither may be read or written through /proc/PID/mem by a child of the same uid (a child with a uid of
    # its own cannot anyway). Set before the zygote is forked, which inherits it; children read their own memory.
    layers.prctl(layers.PR_SET_DUMPABLE, 0)
    # Children are forked by the zygote, started now, before any student's data enters this process.
    zygote = Zygote.start(close_in_zygote=[control_in, control_out])
    reader = os.fdopen(control_in, "rb", buffering=1 << 16)
    wire.write_all(control_out, wire.encode_frame({"kind": "hello", "pid": os.getpid(), "uid": os.geteuid()}))
    try:
        while True:
            try:
                request, payload = wire.read_frame(reader, max_payload_bytes=1 << 40)
            except EOFError:
                return
            try:
                header, response_payload = handle_run(request, payload, workdir, zygote)
            except ZygoteGone:  # nothing can run here any more: end, so the grader runs the submission on a new worker
                return
            except Exception:  # noqa: BLE001 -- report the worker's own failure instead of dying silently
                header, response_payload = {"kind": "worker-error", "message": traceback.format_exc(limit=5)[-3000:]}, b""
            wire.write_all(control_out, wire.encode_frame(header, response_payload))
            # Cleaned after the reply, so the submission's time limits do not have to cover it; a worker that cannot
            # clean up in time ends, and the grader gives the next submission a fresh one.
            if not _remove_tree(workdir):
                return
    finally:
        zygote.close()
        if not _remove_tree(base):
            _remove_in_background(base)


if __name__ == "__main__":
    sys.exit(main())
