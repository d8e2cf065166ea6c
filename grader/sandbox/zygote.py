"""Zygotes: the processes that fork the sandboxed children, and that never hold anything of a student.

A child can read all the memory it inherited, freed blocks included (``ctypes.string_at`` over ``/proc/self/maps``).
Children forked from the worker itself therefore found there what the worker had handled for earlier submissions:
other students' source code, printed output and results. So the worker (the supervisor, :mod:`worker`) starts a
zygote once, right after its own preparation and before it reads any request:

- for each run (one set of cases, named by their content) the zygote forks a *run zygote*, which receives the
  run's cases straight from the worker over its own socket and decodes them once; the worker ends it when it
  serves other cases, so no child finds another run's cases either;
- for each child the worker sends the run zygote a spawn request (the limits, and three pipe ends passed over the
  socket: the child's result and output pipes and the pipe of its source);
- the run zygote forks the child, which first reads the student's file name and source from that pipe (only the
  worker writes it), then runs :func:`child.run_child`; the run zygote reaps its children and reports each exit
  status to the worker.

A child thus inherits the harness, numpy and its run's cases, and nothing of any other submission or run. As a
bonus, the worker no longer shares its memory with a child while it supervises: before, each page it wrote was a
copy-on-write fault (~350 per submission); a run zygote writes little between forks (~170 faults).

Standard library and numpy only; relative imports.
"""

from __future__ import annotations

import ctypes
import functools
import os
import random
import select
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import child, layers, wire

MAX_SOURCE_FRAME_BYTES = 64 << 20
"""Largest source frame a child reads (the grader sends at most a few MiB)."""
POLL_SECONDS = 0.005
"""How often children are polled for their exit where pidfd_open (Linux 5.3) is missing."""


@dataclass
class Case:
    """One case: call ``function(**kwargs)`` within ``cpu_seconds`` of CPU and ``wall_seconds`` of wall time. The
    worker keeps them without ``kwargs`` (it needs only the limits); a run zygote decodes the arguments, but never
    those of a hidden case (``hidden``: ``kwargs`` None), which a child receives only when it reaches one. ``group`` and
    ``group_seconds``: see :class:`grader.sandbox.CaseInput`."""

    name: str
    function: str
    kwargs: dict[str, Any] | None
    cpu_seconds: float
    wall_seconds: float
    hidden: bool = False
    group: str | None = None
    group_seconds: float | None = None


def cases_from(described: list[dict[str, Any]], table: Any = None, payload: bytes | None = None) -> list[Case]:
    """The cases of a request's ``cases`` list; their arguments decoded only when ``payload`` is given."""
    return [
        Case(
            name=str(case["name"]),
            function=str(case["function"]),
            kwargs=None if payload is None or case["kwargs"] is None else wire.decode_case_kwargs(case["kwargs"], table, payload),
            cpu_seconds=float(case["cpu_seconds"]),
            wall_seconds=float(case["wall_seconds"]),
            hidden=case["kwargs"] is None,
            group=None if case.get("group") is None else str(case["group"]),
            group_seconds=None if case.get("group_seconds") is None else float(case["group_seconds"]),
        )
        for case in described
    ]


# ---------------------------------------------------------------------------------------------------------------
# forking


@functools.cache
def _libc_fork() -> Callable[[], int] | None:
    """libc's fork(), to be called with the GIL held (``ctypes.PyDLL``), where that is known to be safe: CPython
    3.11 on Linux (the version this was checked against; others use ``os.fork``)."""
    if sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11) or not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.PyDLL("libc.so.6", use_errno=True)["fork"]
    except (OSError, AttributeError):
        return None
    function.argtypes = []
    function.restype = ctypes.c_int
    return function


def fork() -> int:
    """Fork this process (0 in the child, the child's pid here), as cheaply as is safe.

    ``os.fork`` runs the interpreter's after-fork work in the child (re-creating the GIL and runtime locks, then the
    hooks of ``threading`` and ``random``): about 270 extra page faults, each a copied page (~1 ms of the child's
    CPU). None of it is needed in a process with a single thread, as a run zygote always is: no lock can be held by
    another thread, no other thread state exists, and no Python signal handler is installed (``child.prepare``
    resets them), so no signal can be pending for Python. Then libc's fork is called directly, with the GIL held.
    Anywhere else (more than one thread, another Python, another system) this is ``os.fork``. The child must call
    :func:`reseed_after_fork` first thing, inside the ``try`` that ends it with ``os._exit``. (A test pins the
    after-fork hooks the harness's modules register: a new one must be looked at before it is skipped.)
    """
    libc_fork = _libc_fork()
    if libc_fork is None or len(os.listdir("/proc/self/task")) != 1:
        return os.fork()
    pid = libc_fork()
    if pid < 0:
        number = ctypes.get_errno()
        raise OSError(number, f"fork failed: {os.strerror(number)}")
    return pid


def reseed_after_fork() -> None:
    """In a child of :func:`fork`: what ``os.fork``'s hook of ``random`` does (the child must not draw numbers
    another child drew), and the same for numpy's global generator (``np.random.rand()`` and the like), which no
    fork hook reseeds: unseeded, every student's code drew the numbers the first child drew, where a fresh
    interpreter draws new ones. (A 32-bit seed: 4 us, where ``np.random.seed()`` pools entropy for 180 us.)"""
    random.seed()
    np.random.seed(int.from_bytes(os.urandom(4), "little"))


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _virtual_memory_bytes() -> int:
    """This process's address space in bytes (the first field of /proc/self/statm, in pages)."""
    fd = os.open("/proc/self/statm", os.O_RDONLY)
    try:
        return int(os.read(fd, 64).split()[0]) * _PAGE_BYTES
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------------------------
# the zygote processes


_run_cases: list[Case] = []
"""The decoded cases of this run zygote's run (set once, when it starts)."""
_run_address_space = 0
"""This run zygote's address space in bytes once its cases are decoded: what a child starts with, on top of which
it gets its memory limit (measured once, not for every child)."""


def _read_source(fd: int) -> tuple[str, str]:
    """(file name, source text) from the worker's source frame on ``fd`` (which stays open: it carries the hidden
    cases' arguments later)."""
    header, payload = wire.read_fd_frame(fd, MAX_SOURCE_FRAME_BYTES)
    return str(header["filename"]), payload.decode("utf-8", errors="surrogatepass")


def _spawn(request: dict[str, Any], fds: list[int]) -> dict[str, Any]:
    """Fork one child for ``request`` with pipe ends ``fds`` (result write, output write, source read); closes them
    here. Returns the reply for the worker."""
    cases = _run_cases
    try:
        if len(fds) != 3:
            return {"kind": "spawn-failed", "message": f"expected 3 pipe ends, got {len(fds)}"}
        result_fd, output_fd, source_fd = fds
        address_space = _run_address_space + int(request["memory_bytes"])
        zygote_pid = os.getpid()
        pid = fork()
        if pid == 0:  # the child: never returns
            try:
                reseed_after_fork()
                filename, source = _read_source(source_fd)
                hidden_fd = source_fd if any(case.hidden for case in cases[int(request["start"]):]) else None
                if hidden_fd is None:
                    os.close(source_fd)
                config = child.ChildConfig(
                    source=source,
                    filename=filename,
                    cases=[(case.name, case.function, case.kwargs) for case in cases],
                    start=int(request["start"]),
                    result_fd=result_fd,
                    output_fd=output_fd,
                    workdir=str(request["workdir"]),
                    uid=request["uid"],
                    address_space_bytes=address_space,
                    file_size_bytes=int(request["file_size_bytes"]),
                    cpu_seconds_total=int(request["cpu_seconds_total"]),
                    max_result_bytes=int(request["max_result_bytes"]),
                    seccomp=bool(request["seccomp"]),
                    require=bool(request["require"]),
                    worker_pid=zygote_pid,
                    hidden_fd=hidden_fd,
                )
                child.run_child(config)
            finally:
                os._exit(72)
        return {"kind": "spawned", "pid": pid}
    finally:
        for fd in fds:
            os.close(fd)


def _receive(sock: socket.socket, max_fds: int) -> tuple[dict[str, Any], bytes, list[int]] | None:
    """One request and the fds that came with it; None when the worker closed the socket. The worker sends the next
    request only after the reply to this one, so nothing of the next is read here."""
    if max_fds:
        data, fds, _flags, _address = socket.recv_fds(sock, 1 << 16, max_fds)
    else:
        data, fds = sock.recv(1 << 16), []
    if not data:
        for fd in fds:
            os.close(fd)
        return None
    buffer = bytearray(data)
    while len(buffer) < wire.PREFIX.size:
        more = sock.recv(1 << 16)
        if not more:
            return None
        buffer += more
    _magic, header_length, payload_length = wire.PREFIX.unpack(bytes(buffer[: wire.PREFIX.size]))
    total = wire.PREFIX.size + header_length + payload_length
    while len(buffer) < total:
        more = sock.recv(min(1 << 20, total - len(buffer)))
        if not more:
            return None
        buffer += more
    ((header, payload),) = wire.FrameParser(payload_length).feed(bytes(buffer))
    return header, payload, fds


def _exit_code(pid: int, flags: int) -> int | None:
    """The exit code of child ``pid`` (negative: killed by that signal) once it ended; None while it runs."""
    try:
        waited, status = os.waitpid(pid, flags)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status) if waited == pid else None


def serve(sock: socket.socket, worker_pid: int) -> None:
    """The zygote's loop: on each ``start-run`` request, fork a run zygote serving the socket that came with it;
    returns when the worker is gone. It never receives cases or anything of a student."""
    layers.prctl(layers.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != worker_pid:
        return
    while True:
        received = _receive(sock, 1)
        while True:  # reap the run zygotes that ended (each ends when the worker closes its socket)
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        if received is None:
            return
        _header, _payload, fds = received
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            wire.write_all(sock.fileno(), wire.encode_frame({"kind": "start-failed", "message": "expected one socket"}))
            continue
        zygote_pid = os.getpid()
        pid = os.fork()  # rare (once per run a worker serves), so os.fork's own after-fork work is kept
        if pid == 0:
            try:
                sock.close()
                serve_run(socket.socket(fileno=fds[0]), zygote_pid)
            finally:
                os._exit(0)
        os.close(fds[0])
        wire.write_all(sock.fileno(), wire.encode_frame({"kind": "started", "pid": pid}))


def serve_run(sock: socket.socket, zygote_pid: int) -> None:
    """A run zygote's loop: receive the run's cases once, then fork a child per spawn request and report each
    one's exit; returns when the worker closes the socket (its children have all ended by then)."""
    global _run_cases, _run_address_space
    layers.prctl(layers.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != zygote_pid:
        return
    received = _receive(sock, 0)
    if received is None:
        return
    header, payload, _fds = received
    _run_cases = cases_from(header["cases"], header["blobs"], payload)
    del header, payload, received
    _run_address_space = _virtual_memory_bytes()
    wire.write_all(sock.fileno(), wire.encode_frame({"kind": "ready"}))
    pidfd_open = getattr(os, "pidfd_open", None)
    children: dict[int, int] = {}  # pidfd (or, without pidfds, the pid itself) -> pid
    while True:
        timeout = POLL_SECONDS if children and pidfd_open is None else None
        watched = [sock.fileno(), *children] if pidfd_open is not None else [sock.fileno()]
        readable, _, _ = select.select(watched, [], [], timeout)
        for handle, pid in list(children.items()):
            if pidfd_open is not None and handle not in readable:
                continue
            code = _exit_code(pid, 0 if pidfd_open is not None else os.WNOHANG)
            if code is None and pidfd_open is None:
                continue
            del children[handle]
            if pidfd_open is not None:
                os.close(handle)
            wire.write_all(sock.fileno(), wire.encode_frame({"kind": "exited", "pid": pid, "code": code}))
        if sock.fileno() not in readable:
            continue
        received = _receive(sock, 3)
        if received is None:
            return
        request, _no_payload, fds = received
        try:
            reply = _spawn(request, fds)
        except Exception:  # noqa: BLE001 -- tell the worker why instead of dying
            reply = {"kind": "spawn-failed", "message": traceback.format_exc(limit=5)[-3000:]}
        if reply["kind"] == "spawned":
            pid = reply["pid"]
            children[pidfd_open(pid) if pidfd_open is not None else pid] = pid
        wire.write_all(sock.fileno(), wire.encode_frame(reply))


# ---------------------------------------------------------------------------------------------------------------
# the worker's side


class ZygoteGone(Exception):
    """The zygote died or broke the protocol: the worker cannot run children any more."""


class _Channel:
    """A socket to a zygote process: frames out (with fds), frames in (exit reports recorded, replies queued)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._parser = wire.FrameParser(1 << 20)
        self.exited: dict[int, int | None] = {}
        self._replies: list[dict[str, Any]] = []

    def send(self, header: dict[str, Any], payload: bytes = b"", fds: list[int] | None = None) -> None:
        frame = wire.encode_frame(header, payload)
        try:
            sent = socket.send_fds(self.sock, [frame], fds) if fds else 0
            self.sock.sendall(frame[sent:])
        except OSError as error:
            raise ZygoteGone(f"the zygote ended ({error})") from None

    def read(self, timeout: float | None) -> bool:
        """Read what came (waiting up to ``timeout`` seconds, None: until something comes); False on timeout."""
        readable, _, _ = select.select([self.sock], [], [], timeout)
        if not readable:
            return False
        try:
            data = self.sock.recv(1 << 16)
        except OSError as error:  # e.g. reset: it died with our request unread
            raise ZygoteGone(f"the zygote ended ({error})") from None
        if not data:
            raise ZygoteGone("the zygote ended")
        try:
            for header, _payload in self._parser.feed(data):
                if header.get("kind") == "exited" and isinstance(header.get("pid"), int):
                    code = header.get("code")
                    self.exited[header["pid"]] = code if isinstance(code, int) else None
                else:
                    self._replies.append(header)
        except wire.WireError as error:
            raise ZygoteGone(f"the zygote broke the protocol: {error}") from None
        return True

    def reply(self) -> dict[str, Any]:
        while not self._replies:
            self.read(None)
        return self._replies.pop(0)


class RunZygote:
    """The worker's handle on the zygote of one run (one set of cases): spawn children, learn how they ended.

    Every run gets its own: it decodes the run's cases once and is ended when the worker moves to other cases, so
    a child never finds another run's cases (another sheet's, hidden parts') in the memory it inherits, not even
    in freed blocks. Each child gets its own copy-on-write copy of them: a function that overwrites its arguments
    changes nothing the next submission receives.
    """

    def __init__(self, channel: _Channel, token: str | None, cases: list[Case], hidden_frame: bytes = b"") -> None:
        self._channel = channel
        self.token = token
        self.cases = cases  # names and limits only
        self.hidden_frame = hidden_frame  # the hidden cases' arguments: kept here, never in the run zygote

    def spawn(self, request: dict[str, Any], fds: list[int]) -> int:
        """Fork a child for ``request`` (see :func:`_spawn`) with pipe ends ``fds`` (result write, output write,
        source read); returns its pid."""
        self._channel.send(request, b"", fds)
        reply = self._channel.reply()
        if reply.get("kind") == "spawned" and isinstance(reply.get("pid"), int):
            return reply["pid"]
        # The run zygote is fine but could not start this child (e.g. fork failed): the worker reports it.
        raise RuntimeError(f"the run zygote could not start a child: {str(reply.get('message', reply))[:3000]}")

    def wait_exit(self, pid: int, timeout: float | None) -> tuple[bool, int | None]:
        """(whether child ``pid`` has ended, its exit code: negative for a signal, None if unknown), waiting up to
        ``timeout`` seconds (None: until it ends)."""
        while pid not in self._channel.exited:
            if not self._channel.read(timeout):
                return False, None
        return True, self._channel.exited[pid]

    def release(self, pid: int) -> None:
        """Forget child ``pid`` (after it ended and its exit was read)."""
        self._channel.exited.pop(pid, None)

    def close(self) -> None:
        """End the run zygote (its children have all ended: the worker waits for each one's exit)."""
        self._channel.sock.close()


class Zygote:
    """The worker's handle on its zygote, which starts a :class:`RunZygote` for each run's cases."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self._channel = _Channel(sock)
        self.pid = pid
        self.run: RunZygote | None = None

    @classmethod
    def start(cls, close_in_zygote: list[int]) -> Zygote:
        """Fork the zygote from this (prepared, single-threaded) worker; it closes ``close_in_zygote`` (the worker's
        channel to the grader)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        worker_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                for fd in close_in_zygote:
                    os.close(fd)
                serve(theirs, worker_pid)
            finally:
                os._exit(0)
        theirs.close()
        return cls(ours, pid)

    def run_for(
        self, token: str | None, fields: dict[str, Any] | None, payload: bytes, hidden_frame: bytes = b""
    ) -> RunZygote | None:
        """The run zygote for the cases named ``token``: the current one if it has them, else a new one started with
        ``fields`` (the request's ``cases`` and ``blobs``) and ``payload``, ending the current one; ``hidden_frame``
        (the hidden cases' arguments) stays with the worker. None when the cases are neither kept nor given (the
        grader must send them). A request without a token gets a run zygote of its own."""
        if token is not None and self.run is not None and self.run.token == token:
            return self.run
        if fields is None:
            return None
        if self.run is not None:
            self.run.close()
            self.run = None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._channel.send({"kind": "start-run"}, b"", [theirs.fileno()])
        finally:
            theirs.close()
        reply = self._channel.reply()
        if reply.get("kind") != "started":
            ours.close()
            raise ZygoteGone(f"the zygote could not start a run: {str(reply.get('message', reply))[:500]}")
        channel = _Channel(ours)
        channel.send({"kind": "cases", **fields}, payload)
        if channel.reply().get("kind") != "ready":
            ours.close()
            raise ZygoteGone("the run zygote did not take the cases")
        self.run = RunZygote(channel, token, cases_from(fields["cases"]), hidden_frame)
        return self.run

    def close(self) -> None:
        if self.run is not None:
            self.run.close()
        self._channel.sock.close()
