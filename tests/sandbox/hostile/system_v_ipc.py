"""Hostile: creates System V shared memory, a message queue, a semaphore set and a POSIX message queue: objects
that would outlive the process in the worker's IPC namespace, readable by a later submission and counted by no
memory limit.

-> exception (PermissionError: the seccomp filter denies every one of these calls).
"""

import ctypes
import errno
import os

IPC_PRIVATE = 0
IPC_CREAT = 0o1000


def solve(x):
    libc = ctypes.CDLL(None, use_errno=True)  # glibc >= 2.34 has mq_open itself
    attempts = {
        "shmget": lambda: libc.shmget(IPC_PRIVATE, 64 << 20, IPC_CREAT | 0o666),
        "msgget": lambda: libc.msgget(IPC_PRIVATE, IPC_CREAT | 0o666),
        "semget": lambda: libc.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o666),
        "mq_open": lambda: libc.mq_open(b"/grader-hostile", os.O_CREAT | os.O_RDWR, 0o666, None),
    }
    refused = {}
    for name, attempt in attempts.items():
        ctypes.set_errno(0)
        if attempt() != -1:
            return x * 0 - 1  # created: the sandbox let it through
        refused[name] = errno.errorcode.get(ctypes.get_errno(), "?")
    if set(refused.values()) != {"EPERM"}:
        raise OSError(f"refused, but not by the sandbox: {refused}")
    raise PermissionError(f"all refused: {refused}")
