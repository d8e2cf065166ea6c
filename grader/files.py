"""Writing output files atomically: a reader sees the old file or the new one, never half of one.

What sits at the path decides how it is written:

- nothing, or a regular file: a temporary file in the same folder, renamed over it (``os.replace``). A new file
  gets the usual mode (``0o666`` less the umask), a replaced file keeps its mode.
- a symbolic link: followed; the file it points to is replaced as above, the link stays.
- a character device or a FIFO (``/dev/stdout``, ``/dev/null``, a named pipe): written directly, in place --
  replacing it would destroy the device node or the pipe.
- a folder, a block device or a socket: refused.

Every failure is an :class:`OutputError` naming the path (``cannot write PATH: reason``), never a bare OSError.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path

from grader.errors import GraderError


class OutputError(GraderError):
    """An output path that cannot be written; the message is ``cannot write PATH: reason``."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot write {path}: {reason}")


def _reason(error: OSError) -> str:
    """The operating system's words for ``error`` (``Permission denied``)."""
    return error.strerror or str(error) or type(error).__name__


def _mode_of(path: Path) -> int | None:
    """``st_mode`` of ``path`` with symlinks followed, or None when nothing is there (or a link dangles)."""
    try:
        return os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # NotADirectoryError: see _check_parent_folders
        return None
    except OSError as error:  # a symlink loop, no permission
        raise OutputError(path, _reason(error)) from error


def _check_parent_folders(path: Path) -> None:
    """Refuse ``path`` when the nearest existing folder above it is not a folder (``x.yaml/out.txt``).

    A dangling symbolic link is checked where it points (that is what a write creates).
    """
    folder = Path(os.path.realpath(path)).parent if path.is_symlink() else path.parent
    for ancestor in (folder, *folder.parents):
        if os.path.lexists(ancestor):
            if not ancestor.is_dir():
                raise OutputError(path, f"{ancestor} is not a folder")
            return


def check_output_file(path: Path | str) -> None:
    """Fail early, before any work, when ``path`` can certainly not be written as a file."""
    path = Path(path)
    _check_file_mode(path, _mode_of(path))


def _check_file_mode(path: Path, mode: int | None) -> None:
    """:func:`check_output_file` for ``path`` whose ``st_mode`` (links followed) is ``mode``."""
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(path, "it is a folder; give a file name")
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        raise OutputError(path, "it is not a regular file, a character device or a pipe")
    if mode is None:
        _check_parent_folders(path)


def check_output_dir(path: Path | str) -> None:
    """Fail early, before any work, when ``path`` can certainly not be a folder to write files in."""
    path = Path(path)
    mode = _mode_of(path)
    if mode is not None and not stat.S_ISDIR(mode):
        raise OutputError(path, "it exists and is not a folder; give a folder for the reports")
    if mode is None:
        _check_parent_folders(path)


def _umask() -> int:
    """The process's umask (read without changing it when /proc allows, for thread safety)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_in_place(path: Path, text: str) -> None:
    """Stream ``text`` into a device or pipe (never replaced: that would destroy the node)."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


_ORPHAN = re.compile(r"\.(.+)\.(\d+)\.[^.]+\.tmp")
"""A temporary file of :func:`_replace` for the file NAME: ``.NAME.PID.RANDOM.tmp``."""

_ORPHANS: dict[str, dict[str, list[str]]] = {}
"""Per folder (listed once per process: a batch writes thousands of reports into one), the temporary files that
killed writers left there, by the name of the file they were writing."""


def _remove_orphans(target: Path) -> None:
    """Remove the temporary files of ``target`` that writers which were killed left (their process no longer
    runs); a live writer's file, and other files' temporaries, are never touched."""
    folder = os.path.realpath(target.parent)
    if folder not in _ORPHANS:
        found: dict[str, list[str]] = {}
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    match = _ORPHAN.fullmatch(entry.name)
                    if match is not None and int(match.group(2)) != os.getpid() and not _running(int(match.group(2))):
                        found.setdefault(match.group(1), []).append(entry.path)
        except OSError:
            pass
        _ORPHANS[folder] = found
    for orphan in _ORPHANS[folder].pop(target.name, []):
        Path(orphan).unlink(missing_ok=True)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (also when it runs as another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, OSError):  # PermissionError: alive under another user; OverflowError: not a pid
        return True
    return True


def _replace(target: Path, text: str, mode: int) -> None:
    """Write ``text`` to a temporary file next to ``target`` with ``mode``, then rename it over ``target``. The
    temporary file's name carries this process's id, so a later write can tell it is an orphan when it is left by
    a writer that was killed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(target)
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    except OSError as error:
        raise OSError(error.errno, f"cannot create a file in {target.parent} ({_reason(error)})") from error
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            os.fchmod(handle.fileno(), mode)  # mkstemp makes 0600; a report must be readable like any file
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_atomic(path: Path | str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``: atomically for files (see the module's docstring).

    Raises:
        OutputError: the path is a folder, its parent is a file, permission is denied, the disk is full, ...
    """
    path = Path(path)
    mode = _mode_of(path)
    _check_file_mode(path, mode)
    try:
        if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            _write_in_place(path, text)
        else:
            target = Path(os.path.realpath(path))
            new_mode = stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask()
            _replace(target, text, new_mode)
    except OSError as error:
        raise OutputError(path, _reason(error)) from error
