"""Isolation layers: the seccomp filter (hand-built classic BPF), prctl helpers, the bubblewrap command, probing.

This module runs on both sides of the sandbox (the grader process and the sandboxed worker/child), so it imports
only the standard library and, like every module the worker loads, only relative imports inside this package.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform
import shutil
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Names of the layers a RunReport reports, in the order they are listed to people.
LAYER_NAMES: tuple[str, ...] = (
    "child-process",
    "rlimits",
    "seccomp",
    "separate-user",
    "no-network",
    "pid-namespace",
    "read-only-system",
    "private-filesystem",
)

# How to get each layer when it is missing (shown in SandboxUnavailable's message and the README section).
LAYER_HOWTO: dict[str, str] = {
    "child-process": "always active",
    "rlimits": "needs Linux (the resource module)",
    "seccomp": "needs Linux on x86_64 with seccomp filters enabled in the kernel",
    "separate-user": "run the grader as root (the child then switches to an unused unprivileged uid)",
    "no-network": "install bubblewrap (`apt-get install -y bubblewrap`); as non-root it also needs user namespaces",
    "pid-namespace": "install bubblewrap (`apt-get install -y bubblewrap`)",
    "read-only-system": "install bubblewrap (`apt-get install -y bubblewrap`)",
    "private-filesystem": "install bubblewrap (`apt-get install -y bubblewrap`)",
}

BWRAP_LAYERS: tuple[str, ...] = ("no-network", "pid-namespace", "read-only-system", "private-filesystem")


def exposed(layers_used: dict[str, bool]) -> bool:
    """Whether code run with these layers (a Result's ``sandbox_layers``; ``{}`` when no code ran) could read the
    machine's files: it ran without bubblewrap's private filesystem (bubblewrap missing, or failing after its probe)."""
    return bool(layers_used) and not layers_used.get("private-filesystem", False)


def exposure_warning(count: int) -> str:
    """What ``grade`` and ``batch`` tell the instructor when ``count`` code submissions ran :func:`exposed`: the
    default runs code anyway (a laptop without bubblewrap can still grade), so it must not happen in silence."""
    return (
        f"warning: {count} code submission{'s' if count != 1 else ''} ran without bubblewrap (no private filesystem): "
        "students' code could read every file this user can read, the sheet, the gradebook and other students' files "
        "included; install bubblewrap (apt-get install -y bubblewrap), or pass --require-sandbox to refuse to run "
        "code without it"
    )

# Where the harness code is mounted inside the bubblewrap sandbox.
HARNESS_MOUNT = "/opt/grader-sandbox"

# ---------------------------------------------------------------------------------------------------------------
# prctl / seccomp constants (linux/prctl.h, linux/seccomp.h, linux/audit.h, linux/filter.h)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
CLONE_THREAD = 0x00010000

BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
BPF_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
BPF_RET_K = 0x06  # BPF_RET | BPF_K

# Offsets inside struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6];} (little endian: low word first).
OFFSET_NR = 0
OFFSET_ARCH = 4
OFFSET_ARG0_LOW = 16

EPERM = 1
ENOSYS = 38

# x86_64 syscall numbers denied with EPERM: sockets, new processes, exec, tracing other processes, namespaces,
# mounts, kernel keyrings/bpf/perf/io_uring (large attack surface a numpy function never needs), and System V IPC
# and POSIX message queues: their objects outlive the process in the worker's IPC namespace, where a later
# submission could read them, and their memory is counted by no limit of the child's.
X86_64_DENIED: dict[str, int] = {
    "socket": 41,
    "socketpair": 53,
    "fork": 57,
    "vfork": 58,
    "execve": 59,
    "execveat": 322,
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "unshare": 272,
    "setns": 308,
    "personality": 135,
    "kexec_load": 246,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "perf_event_open": 298,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "tkill": 200,
    "rt_sigqueueinfo": 129,
    "rt_tgsigqueueinfo": 297,
    "pidfd_open": 434,
    "pidfd_send_signal": 424,
    "shmget": 29,
    "shmat": 30,
    "shmctl": 31,
    "shmdt": 67,
    "semget": 64,
    "semop": 65,
    "semctl": 66,
    "semtimedop": 220,
    "msgget": 68,
    "msgsnd": 69,
    "msgrcv": 70,
    "msgctl": 71,
    "mq_open": 240,
    "mq_unlink": 241,
    "mq_timedsend": 242,
    "mq_timedreceive": 243,
    "mq_notify": 244,
    "mq_getsetattr": 245,
}
X86_64_CLONE = 56
X86_64_CLONE3 = 435
X86_64_KILL = 62
X86_64_TGKILL = 234


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    """One classic-BPF instruction (struct sock_filter: u16 code, u8 jt, u8 jf, u32 k)."""
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


def build_seccomp_program(own_pid: int) -> bytes:
    """The seccomp filter for the student's process, as packed ``struct sock_filter`` instructions.

    Allows everything except: syscalls of another architecture (kill), the x32 ABI, the calls in
    ``X86_64_DENIED`` (EPERM), ``clone`` without ``CLONE_THREAD`` (EPERM: threads yes, processes no),
    ``clone3`` (ENOSYS, so the C library falls back to ``clone`` whose flags the filter can read), and ``kill`` /
    ``tgkill`` aimed at any process but the student's own ``own_pid`` (or its own group, pid 0).

    The instructions around ``own_pid`` are built once per process (the worker builds them before it forks), so a
    child only packs its pid in between.
    """
    before, after = _program_around_pid()
    return before + struct.pack("I", own_pid & 0xFFFFFFFF) + after


@functools.cache
def _program_around_pid() -> tuple[bytes, bytes]:
    """The filter of :func:`build_seccomp_program` as the bytes before and after its own-pid field."""
    allow = _insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)
    deny = _insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM)
    # Tail blocks, each reached by a forward jump from the dispatch list.
    clone_block = [
        _insn(BPF_LD_W_ABS, 0, 0, OFFSET_ARG0_LOW),
        _insn(BPF_JSET_K, 0, 1, CLONE_THREAD),
        allow,
        deny,
    ]
    signal_block = [
        _insn(BPF_LD_W_ABS, 0, 0, OFFSET_ARG0_LOW),
        _insn(BPF_JEQ_K, 2, 0, 0),  # own pid: filled in by build_seccomp_program
        _insn(BPF_JEQ_K, 1, 0, 0),
        deny,
        allow,
    ]
    enosys = [_insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS)]
    denied_numbers = sorted(X86_64_DENIED.values())
    # Dispatch: one JEQ per denied number jumping to the shared "deny" at the end of the dispatch list.
    dispatch_count = len(denied_numbers) + 4  # + clone, clone3, kill, tgkill
    dispatch: list[bytes] = []
    # Layout after the dispatch list: [allow][deny][clone_block][signal_block][enosys]
    for index, number in enumerate(denied_numbers):
        remaining = dispatch_count - index - 1  # instructions after this one in the dispatch list
        dispatch.append(_insn(BPF_JEQ_K, remaining + 1, 0, number))  # -> deny
    base = len(denied_numbers)
    to_clone = lambda i: dispatch_count - i - 1 + 2  # noqa: E731 -- skip allow, deny
    to_signal = lambda i: dispatch_count - i - 1 + 2 + len(clone_block)  # noqa: E731
    to_enosys = lambda i: dispatch_count - i - 1 + 2 + len(clone_block) + len(signal_block)  # noqa: E731
    dispatch.append(_insn(BPF_JEQ_K, to_clone(base), 0, X86_64_CLONE))
    dispatch.append(_insn(BPF_JEQ_K, to_enosys(base + 1), 0, X86_64_CLONE3))
    dispatch.append(_insn(BPF_JEQ_K, to_signal(base + 2), 0, X86_64_KILL))
    dispatch.append(_insn(BPF_JEQ_K, to_signal(base + 3), 0, X86_64_TGKILL))
    head = [
        _insn(BPF_LD_W_ABS, 0, 0, OFFSET_ARCH),
        _insn(BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _insn(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        _insn(BPF_LD_W_ABS, 0, 0, OFFSET_NR),
        _insn(BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),
        deny,
    ]
    program = head + dispatch + [allow, deny] + clone_block + signal_block + enosys
    pid_at = 8 * (len(head) + len(dispatch) + 2 + len(clone_block) + 1) + 4  # the k field of the own-pid JEQ
    packed = b"".join(program)
    return packed[:pid_at], packed[pid_at + 4 :]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


@functools.cache
def _libc() -> ctypes.CDLL:
    # Not ctypes.util.find_library: it may run ldconfig/gcc in a subprocess, which is slow (and, after seccomp,
    # impossible). The worker calls this once before forking so children inherit the loaded library.
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


@functools.cache
def _prctl_function() -> Any:
    """libc's prctl as a function object of its own (indexing, unlike attribute access, does not share it), with its
    argument types set once: calls then build no ctypes objects (in a forked child, each costs page faults)."""
    function = _libc()["prctl"]
    function.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    function.restype = ctypes.c_int
    return function


def prctl(option: int, arg2: int = 0, arg3: int | None = None) -> None:
    """Call prctl(2) (``arg3`` an address, or None); raises OSError on failure."""
    if _prctl_function()(option, arg2, arg3, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl({option}) failed: {os.strerror(errno)}")


@functools.cache
def seccomp_supported() -> bool:
    """True on x86_64 Linux whose kernel offers seccomp filters (the only architecture the filter is built for).

    Asked once per process (the kernel does not change under it): every ``run_cases`` probes the layers."""
    if platform.machine() != "x86_64" or not sys.platform.startswith("linux"):
        return False
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return False
    return "Seccomp:" in status


class _SeccompFilter:
    """The filter of :func:`build_seccomp_program` in memory the kernel can read (a ctypes buffer and the
    ``struct sock_fprog`` pointing at it), built once per process: installing it then writes one pid into the buffer
    and makes two system calls."""

    def __init__(self) -> None:
        before, after = _program_around_pid()
        self._pid_at = len(before)
        program = before + bytes(4) + after
        self._buffer = ctypes.create_string_buffer(program, len(program))
        self._fprog = _SockFprog(len(program) // 8, ctypes.addressof(self._buffer))
        self._fprog_address = ctypes.addressof(self._fprog)

    def install(self, own_pid: int) -> None:
        struct.pack_into("I", self._buffer, self._pid_at, own_pid & 0xFFFFFFFF)
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        if _prctl_function()(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, self._fprog_address, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"installing the seccomp filter failed: {os.strerror(errno)}")


@functools.cache
def _seccomp_filter() -> _SeccompFilter:
    return _SeccompFilter()


def prepare_seccomp() -> None:
    """Build everything :func:`install_seccomp` needs (the worker calls this once, before it forks children)."""
    _prctl_function()
    if seccomp_supported():
        _seccomp_filter()


def install_seccomp() -> None:
    """Set no_new_privs and install the filter of :func:`build_seccomp_program` (for this process's pid) on the
    calling thread.

    Must be called while the process has a single thread (filters apply to the calling thread and the threads it
    creates later). Raises OSError when the kernel refuses.
    """
    if not seccomp_supported():
        raise OSError("seccomp filters need Linux on x86_64")
    _seccomp_filter().install(os.getpid())


# ---------------------------------------------------------------------------------------------------------------
# bubblewrap


def _under(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


GRADER_PACKAGE = Path(__file__).resolve().parent.parent
"""The grader package's folder: hidden inside the sandbox when anything bound there holds it (an installed grader:
in a venv, or under /usr)."""


def grader_packages() -> list[Path]:
    """Every copy of the grader package this Python could import: the one running, and any other on ``sys.path``
    (a copy installed into the venv while the grader runs from a source tree, say). Each holds the reference engine,
    so each is hidden from the sandbox wherever a mount would show it."""
    found = {GRADER_PACKAGE}
    for entry in sys.path:
        candidate = Path(entry or ".") / "grader"
        try:
            if (candidate / "engine").is_dir() and (candidate / "__init__.py").is_file():
                found.add(candidate.resolve())
        except OSError:
            continue
    return sorted(found)


def python_mounts() -> list[Path]:
    """Directories the worker's Python needs to see: the interpreter's installation, the venv, numpy's site dir."""
    import numpy  # the worker needs numpy; the grader process has it already

    candidates = [
        Path(sys.base_prefix).resolve(),
        Path(sys.prefix).resolve(),
        Path(sys.executable).resolve().parent.parent,
        Path(numpy.__file__).resolve().parent.parent,
    ]
    mounts: list[Path] = []
    for candidate in candidates:
        if candidate == Path("/usr") or _under(candidate, [Path("/usr")]):
            continue  # bound as a whole already
        if not _under(candidate, mounts):
            mounts = [m for m in mounts if not _under(m, [candidate])] + [candidate]
    return mounts


def bwrap_command(harness_dir: Path, tmpfs_bytes: int) -> list[str]:
    """The bubblewrap argument list that starts a worker: new net/pid/ipc/uts namespaces, read-only /usr and Python,
    nothing else of the host (no /home, /work, /etc beyond two files), a private size-capped tmpfs /tmp.

    The caller appends the command to run. ``harness_dir`` (this package's directory) is mounted read-only at
    ``HARNESS_MOUNT``.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise FileNotFoundError("bwrap")
    args = [
        bwrap,
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    # The private /tmp comes first: mounts below it (a Python or checkout under /tmp) are bound on top of it.
    # /dev is bubblewrap's own tmpfs, owned by the sandbox's user when the grader is not root: read-only, so that
    # files (and their count, MAX_NEW_FILES) stay in the private /tmp; writing to /dev/null still works.
    args += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
    args += ["--size", str(tmpfs_bytes), "--perms", "0755", "--tmpfs", "/tmp"]
    if os.geteuid() == 0:
        # The worker keeps root (in its own namespaces) only to switch each child to a fresh unprivileged uid.
        args += ["--cap-add", "ALL"]
    else:
        args += ["--unshare-user"]
    bound = [Path("/usr")]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
            bound.append(host)
    for etc_file in ("/etc/ld.so.cache", "/etc/localtime"):
        args += ["--ro-bind-try", etc_file, etc_file]
    created: set[Path] = {Path("/"), Path("/tmp")}
    mounts = python_mounts()
    for mount in mounts:
        # Parents are created world-readable so the unprivileged child can walk to the mount (bwrap would copy
        # e.g. /root's 0700 otherwise).
        for parent in reversed(mount.parents):
            if parent not in created:
                args += ["--perms", "0755", "--dir", str(parent)]
                created.add(parent)
        args += ["--ro-bind", str(mount), str(mount)]
    for package in grader_packages():
        if _under(package, [*bound, *mounts]):
            # Installed into the environment (pip install ., into a venv or /usr/local), the grader would be
            # importable there: its reference engine computes every key. An empty, read-only folder hides it (the
            # harness is mounted on its own below, from the host's path).
            args += ["--perms", "0555", "--size", "4096", "--tmpfs", str(package)]
    args += ["--ro-bind", str(harness_dir), HARNESS_MOUNT, "--chdir", "/tmp", "--clearenv"]
    return args


PRIVATE_TMP_ENV = "GRADER_SANDBOX_PRIVATE_TMP"
"""Set (to 1) in a worker started in bubblewrap, whose /tmp (holding the working directory) is its own tmpfs: the
files in use there are counted against the worker's MAX_NEW_FILES. Elsewhere /tmp is shared with the machine and
not counted."""


def bwrap_works() -> bool:
    """True when bubblewrap is installed and can create the worker's sandbox on this machine (probed once)."""
    return bwrap_problem() is None


@functools.cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot create the worker's sandbox here (``not installed``, or what it said when it failed,
    e.g. a Python installation under a home folder this user cannot read); None when it can. Probed once."""
    try:
        command = bwrap_command(Path(__file__).resolve().parent, 1 << 20) + [sys.executable, "-I", "-c", "import numpy"]
    except FileNotFoundError:
        return "not installed"
    try:
        completed = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env={})
    except (OSError, subprocess.SubprocessError) as error:
        return f"it could not be run ({error})"
    if completed.returncode == 0:
        return None
    said = completed.stderr.decode("utf-8", "replace").strip().splitlines()
    return f"it failed (exit code {completed.returncode}): {said[-1][:300]}" if said else f"it failed (exit code {completed.returncode})"


def probe_layers() -> dict[str, bool]:
    """Which isolation layers this machine can give a submission right now (each name of ``LAYER_NAMES``)."""
    have_bwrap = bwrap_works()
    layers = {
        "child-process": True,
        "rlimits": sys.platform.startswith("linux"),
        "seccomp": seccomp_supported(),
        "separate-user": os.geteuid() == 0,
    }
    for name in BWRAP_LAYERS:
        layers[name] = have_bwrap
    return layers
