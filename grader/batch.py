"""Batch grading: every submission in a folder, graded in parallel (local processes or Dask), into a gradebook.

The parent process finds the submissions, skips those already graded with the same content and spec, hands the
rest to workers in chunks and is the single writer of the gradebook: each submission's result is committed in
its own transaction as soon as it comes back, so a batch killed at any moment loses at most the submissions in
flight, and the next run grades exactly those. Nothing is held for the whole cohort: at most a few chunks of
results are in memory at a time.

A submission never stops the batch: a student's fault is already a Result (``grade_file`` never raises for
it); an exception escaping the grading function (a grader bug) and a worker process that dies (e.g. killed by
the kernel for memory) become a failed Result with the reason, marked so that the next run grades it again.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import hashlib
import itertools
import json
import logging
import multiprocessing
import multiprocessing.util
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from grader import __version__
from grader.cohort import conflicts_in
from grader.errors import SHEET_FAULT, GraderError, Interrupted, SpecError, SpecErrors, VariantKeyError
from grader.gradebook import GradedKey, Gradebook, PreparedRecord, prepare_record
from grader.notes import asks_for_an_id
from grader.report.common import printable
from grader.result import PartResult, Result
from grader.roster import Roster, roster_variant
from grader.submission.answer_file import MAX_STUDENT_ID_LENGTH, is_code_file, size_limit
from grader.text import file_name, one_line, path_key, without_surrogates

SUBMISSION_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json", ".py", ".ipynb")
"""File endings a batch grades; everything else in the folder is ignored."""

DEFAULT_GRADEBOOK = Path("gradebook.sqlite")
"""Where a batch writes when no gradebook is given: ``gradebook.sqlite`` in the current directory, so the
course's gradebook sits where the instructor works, outside the folder students' files are copied into."""

CHUNK_SIZE = 16
"""Submissions per task sent to a worker: large enough to amortize inter-process traffic, small enough that
results stream into the gradebook and that a dying worker takes few submissions with it."""

IN_FLIGHT_PER_JOB = 4
"""Chunks queued per worker: keeps workers busy while bounding the results held in memory."""


class GradeFn(Protocol):
    """The grading function: ``grade_file(spec_path, submission_path) -> Result`` (see ``grader.grading``)."""

    def __call__(self, spec_path: Path, submission_path: Path, /) -> Result: ...


@dataclass(frozen=True, slots=True)
class SheetIdentity:
    """What the parent knows of the sheet: its id and title, the sha256 of the spec file's bytes, and the keys of
    the parts that declare ``follow_through``."""

    sheet_id: str
    title: str
    spec_hash: str
    following: tuple[str, ...] = ()
    unanswered: dict[str, tuple[PartResult, ...]] = field(default_factory=dict, hash=False, compare=False)
    """The zero-point parts of a file that could not be graded at all, by kind (``answers``, ``code``): those a file
    of its kind answers, as :func:`grader.grading.unusable` gives them, so that such a file counts them all (a CI's
    JUnit report lists each as failed, never an empty suite that passes)."""

    def unanswered_parts(self, path: Path) -> list[PartResult]:
        """The zero-point parts of ``path``, which could not be graded at all."""
        return list(self.unanswered.get("code" if is_code_file(path) else "answers", ()))


@dataclass(frozen=True, slots=True)
class SubmissionTask:
    """One submission to grade: ``key`` is the gradebook path (the file's resolved absolute path).

    ``shown_path`` is set when ``path`` is a worker's local copy (Dask): the instructor's messages then name
    ``shown_path``, the path the batch was given, instead of the copy's temporary one. The student's Result names
    neither: only the file's name. ``owner`` is the student the file's place in the folder
    names (``--student-from``), or None: then the file's own ``student:``/``STUDENT =`` counts."""

    key: str
    path: Path
    submission_hash: str
    shown_path: str | None = None
    owner: str | None = None


@dataclass
class BatchSummary:
    """What a batch did. ``graded`` counts submissions graded in this run (including ``failed`` ones);
    ``skipped`` those left alone because their content and the spec were unchanged; ``failed`` graded results
    carrying an ``error`` (unreadable submission, or the grader itself failed: ``grader_failures`` of them,
    listed in ``failures`` as ``(path, message)``). ``elapsed`` is wall-clock seconds; ``rate`` graded per second.

    ``graded_paths`` are the gradebook keys graded in this run, in order; :meth:`results` reads their Results
    back from the gradebook one at a time (the batch does not keep them in memory).
    """

    spec_path: Path
    gradebook_path: Path
    sheet_id: str
    spec_hash: str
    total: int = 0
    graded: int = 0
    skipped: int = 0
    failed: int = 0
    grader_failures: int = 0
    elapsed: float = 0.0
    jobs: int = 1
    executor: str = "local"
    graded_paths: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    """``(key, why)`` of the submissions graded 0 because they could not be read or used (the student's fault, not
    the grader's: they are not graded again unless they change)."""
    unlisted: list[str] = field(default_factory=list)
    """Gradebook keys of the folders (and entries) in the folder that could not be listed or looked at: their files
    were neither graded nor forgotten."""
    not_files: list[str] = field(default_factory=list)
    """Gradebook keys of the entries named like submissions that are no files (a dangling link, a link loop, a FIFO,
    a device): nothing to grade, said so that a broken upload does not go unnoticed."""
    forgotten: list[str] = field(default_factory=list)
    """Gradebook keys of this sheet's results whose files are no longer in the folder (deleted or renamed since they
    were graded): removed from the gradebook, so that report and stats count only the folder's files."""
    unmatched: list[str] = field(default_factory=list)
    """Gradebook keys of the files ``student_from`` did not match (graded under the id they give themselves)."""
    reassigned: list[tuple[str, str, str]] = field(default_factory=list)
    """``(key, id the file gives, owner)`` of the files ``student_from`` credited to another student than the one
    they name."""
    exposed: int = 0
    """Code submissions graded in this run whose code ran without bubblewrap's private filesystem."""
    conflicts: list[str] = field(default_factory=list)
    """One line per student whose files in the gradebook grade the same parts, naming the file that counts
    (:func:`grader.cohort.conflicts_in`): a resubmission, or a file giving a classmate's id."""

    @property
    def rate(self) -> float:
        """Submissions graded per second of wall-clock time (0 when nothing was graded)."""
        return self.graded / self.elapsed if self.elapsed > 0 and self.graded else 0.0

    def describe(self) -> str:
        """A few lines for people: counts, speed, where the gradebook is, and the grader's own failures."""
        speed = (  # nothing graded: no worker was started (or reached), so none is named
            f"{self.elapsed:.1f} s, {self.rate:.{1 if self.rate < 10 else 0}f}/s on {self.jobs} {self.executor} worker{'s' if self.jobs != 1 else ''}"
            if self.graded else f"{self.elapsed:.1f} s"
        )
        lines = [
            f"{self.sheet_id}: {self.total} submission{'s' if self.total != 1 else ''} found; "
            f"graded {self.graded} ({self.failed} could not be graded), skipped {self.skipped} unchanged; {speed}",
            f"gradebook: {self.gradebook_path}",
        ]
        if self.exposed:
            from grader.sandbox.layers import exposure_warning

            lines.append(exposure_warning(self.exposed))
        if self.unlisted:
            lines.append(f"{len(self.unlisted)} folder(s) or file(s) could not be read (no permission?); what they hold was neither graded nor forgotten:")
            lines += _first_ones([f"  {one_line(path)}" for path in self.unlisted])
        if self.not_files:
            lines.append(
                f"{len(self.not_files)} entr{'y' if len(self.not_files) == 1 else 'ies'} named like submissions "
                f"{'is not a file' if len(self.not_files) == 1 else 'are not files'} (a dangling link, a link loop, a "
                "FIFO?) and not graded:"
            )
            lines += _first_ones([f"  {one_line(path)}" for path in self.not_files])
        if self.forgotten:
            lines.append(f"forgot the results of {len(self.forgotten)} file(s) no longer in the folder (deleted or renamed since):")
            lines += _first_ones([f"  {one_line(path)}" for path in self.forgotten])
        if self.reassigned:
            lines.append(
                f"--student-from credited {len(self.reassigned)} file(s) to another student than the one they name "
                "(another naming scheme, a typo, or a classmate's id?):"
            )
            lines += _first_ones([f"  {one_line(path)}: says {printable(repr(declared))}, handed in by {printable(repr(owner))}"
                                  for path, declared, owner in self.reassigned])
        if self.unmatched:
            lines.append(
                f"--student-from matched no student id in {len(self.unmatched)} file path(s) (or one longer than "
                f"{MAX_STUDENT_ID_LENGTH} characters, or with a line break, tab or control character); each counts for "
                "the id it gives:"
            )
            lines += _first_ones([f"  {one_line(path)}" for path in self.unmatched])
        if self.conflicts:
            lines.append(
                f"{len(self.conflicts)} student id(s) are given by several files grading the same parts; the one graded "
                "last counts for them (a resubmission, or a file giving a classmate's id? `--student-from` credits each "
                "file to the student whose folder holds it):"
            )
            lines += _first_ones([f"  {printable(one_line(line))}" for line in self.conflicts])
        if self.unreadable:
            lines.append(f"{len(self.unreadable)} could not be graded (0 points, with the reason in their report):")
            lines += _first_ones([f"  {one_line(path)}: {printable(one_line(why))}" for path, why in self.unreadable])
        if self.failures:
            lines.append(f"the grader itself failed on {len(self.failures)} (graded again on the next run):")
            # File names are the students': shown with control characters escaped, on one line each.
            lines += _first_ones([f"  {one_line(path)}: {printable(message)}" for path, message in self.failures])
        return "\n".join(lines)

    def add(self, outcome: Outcome) -> None:
        """Count ``outcome``, just saved in the gradebook."""
        record = outcome.record
        self.graded += 1
        self.graded_paths.append(record.path)
        if record.failed:
            self.failed += 1
        if outcome.grader_failure is not None:
            self.grader_failures += 1
            self.failures.append((record.path, outcome.grader_failure))
        elif record.failed:
            self.unreadable.append((record.path, record.error))
        if outcome.reassigned is not None:
            self.reassigned.append((record.path, *outcome.reassigned))
        self.exposed += outcome.exposed

    def below(self, threshold: float) -> list[tuple[str, float]]:
        """``(key, score)`` of every submission of this sheet version in the gradebook (graded now or skipped as
        unchanged) whose score (0..1) is below ``threshold``, in path order."""
        with Gradebook(self.gradebook_path) as gradebook:
            return [(row.path, row.score) for row in gradebook.rows(self.spec_hash) if row.score < threshold]

    def results(self) -> Iterator[Result]:
        """The Results graded in this run, read back from the gradebook in grading order."""
        with Gradebook(self.gradebook_path) as gradebook:
            for key in self.graded_paths:
                result = gradebook.result(key, self.sheet_id)
                if result is not None:
                    yield result


def _first_ones(lines: list[str], shown: int = 20) -> list[str]:
    """The first ``shown`` of a summary's listed lines, then how many more there are."""
    return lines[:shown] + ([f"  ... and {len(lines) - shown} more"] if len(lines) > shown else [])


# -- finding submissions ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FoundSubmission:
    """A submission file found in a folder: ``key`` is its gradebook key (its resolved absolute path); ``outside``
    marks a symbolic link to a file outside the folder, which is never read (:func:`outside_link_message`)."""

    path: Path
    key: str
    outside: bool = False


def outside_link_message(path: Path) -> str:
    """Why a symbolic link out of the submissions folder scores 0: its target (``/etc/passwd``, another course's
    file) is not the student's to hand in, and reading it could show the grading machine's files in a report."""
    return f"{file_name(path)}: a symbolic link to a file outside the submissions folder; it was not read (hand in the file itself)"


def find_submissions(submissions_dir: Path, *, exclude: Iterable[Path] = ()) -> list[FoundSubmission]:
    """Every submission file under ``submissions_dir`` (recursive), sorted by relative path.

    Keeps files ending in one of :data:`SUBMISSION_SUFFIXES`; skips hidden files and anything inside a hidden
    folder (``.git``, ``.ipynb_checkpoints``), folders reached through symbolic links, and the files in ``exclude``
    (e.g. the gradebook). A symbolic link to a file outside the folder is kept, marked ``outside``: it is graded as
    unusable, unread. Raises GraderError when ``submissions_dir`` is not a folder.
    """
    return _discover(submissions_dir, exclude)


def _discover(
    submissions_dir: Path, exclude: Iterable[Path], unlisted: list[str] | None = None, not_files: list[str] | None = None
) -> list[FoundSubmission]:
    """:func:`find_submissions`; the gradebook keys of the folders that could not be listed and of the entries that
    could not be looked at (no permission, gone, an I/O error) are appended to ``unlisted``: what they hold is
    unknown, so a batch neither grades nor forgets it. The keys of entries named like submissions that are no files
    (dangling links, link loops, FIFOs, devices) are appended to ``not_files``.

    The folder is resolved once; a file's key is that plus its relative path, unless the file is a symbolic link
    (then it is resolved itself, or keeps its own path when it leads out of the folder): no path component below
    the folder is a link, folders behind links are not entered. (Resolving every file costs a system call per path
    component: a tenth of the batch's own CPU time.)
    """
    if not submissions_dir.is_dir():
        what = "does not exist" if not submissions_dir.exists() else "is not a folder"
        raise GraderError(f"submissions folder {submissions_dir}: {what}")
    excluded = {os.path.realpath(p) for p in exclude}
    base = os.path.realpath(submissions_dir)
    inside = os.path.join(base, "")  # what every path in the folder starts with
    found: list[tuple[str, Path, str, bool, bool]] = []
    pending: list[tuple[str, ...]] = [()]
    while pending:
        parts = pending.pop()
        try:
            with os.scandir(os.path.join(submissions_dir, *parts)) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        pending.append((*parts, entry.name))
                        continue
                    if os.path.splitext(entry.name)[1].lower() not in SUBMISSION_SUFFIXES:
                        continue
                    own = os.path.join(base, *parts, entry.name)
                    try:
                        if not entry.is_file():  # FIFOs, devices, dangling links and link loops are no submissions
                            if not_files is not None:
                                not_files.append(path_key(own))
                            continue
                        link = entry.is_symlink()
                        key = os.path.realpath(entry.path) if link else own
                    except OSError as error:
                        kept = not_files if error.errno == errno.ELOOP else unlisted  # a link loop is no file either
                        if kept is not None:
                            kept.append(path_key(own))
                        continue
                    outside = link and not key.startswith(inside)
                    if outside:
                        key = own  # the link itself is the submission; its target is never read
                    if key not in excluded:
                        relative = (*parts, entry.name)
                        found.append(("/".join(relative), submissions_dir.joinpath(*relative), key, link, outside))
        except OSError:  # a folder that vanished or cannot be listed: its files cannot be graded
            if not parts:
                raise GraderError(f"submissions folder {submissions_dir}: cannot be read") from None
            if unlisted is not None:
                unlisted.append(path_key(os.path.join(base, *parts)))
    found.sort(key=lambda item: item[0])
    # A file reached both directly and through a link is one submission, graded under its own name.
    direct = {key for _relative, _path, key, link, _outside in found if not link}
    seen: set[str] = set()
    discovered: list[FoundSubmission] = []
    for _relative, path, key, link, outside in found:
        if (link and key in direct) or key in seen:
            continue
        seen.add(key)
        discovered.append(FoundSubmission(path, path_key(key), outside))
    return discovered


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file's bytes. Of a file over the size grading reads (``size_limit``, which it then
    refuses), the digest of what grading reads and of the file's size: a sparse file of terabytes is not read."""
    digest = hashlib.sha256()
    limit = size_limit(path)
    with path.open("rb") as handle:
        read = 0
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            read += len(block)
            if read > limit:
                digest.update(f"\0size {os.fstat(handle.fileno()).st_size}".encode())
                break
    return digest.hexdigest()


def sheet_identity(spec_path: Path) -> SheetIdentity:
    """Load the sheet once in the parent (so a bad spec stops the batch before anything is graded; forked workers
    grading with :func:`grader.grading.grade_file` find it loaded).

    Raises GraderError (from the spec loader) when the spec is missing or invalid.
    """
    from grader.grading import loaded_sheet, unusable  # deferred: grading is only needed when a batch starts

    sheet = loaded_sheet(spec_path)
    following = tuple(f"{exercise.id}.{part.id}" for exercise, part in sheet.parts() if part.follow_through)
    unanswered = {kind: tuple(unusable(sheet, Path(f"file{suffix}"), "").parts) for kind, suffix in (("answers", ".yaml"), ("code", ".py"))}
    return SheetIdentity(
        sheet_id=sheet.id, title=sheet.title, spec_hash=sheet.spec_hash, following=following, unanswered=unanswered
    )


# -- the work done in a worker ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _WorkerSetup:
    """What every local worker process needs; ``code_threads``: code submissions it grades at once (see
    :func:`code_threads_per_job`)."""

    grade_fn: GradeFn
    spec_path: Path
    identity: SheetIdentity
    code_threads: int = 1
    roster: Roster | None = None
    """``--roster``: given to ``grade_fn`` with each task's owner (the default grade_fn only)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One submission graded by a worker: the rows to insert, and the grader's own failure message if any."""

    record: PreparedRecord
    grader_failure: str | None
    reassigned: tuple[str, str] | None = None
    """``(id the file gives, owner)`` when its owner (``--student-from``) is someone else: the instructor hears."""
    exposed: bool = False
    """Code that ran without bubblewrap's private filesystem (:func:`grader.sandbox.layers.exposed`)."""


_setup: _WorkerSetup | None = None


def _init_worker(setup: _WorkerSetup) -> None:
    global _setup
    _setup = setup
    _die_with_parent()
    # At its end (through multiprocessing, which skips atexit), the worker closes its sandbox workers.
    multiprocessing.util.Finalize(None, _close_sandbox_workers, exitpriority=10)


def _close_sandbox_workers() -> None:
    """End this worker's warm sandbox workers (only if it graded code: the sandbox is loaded for code only)."""
    runner = sys.modules.get("grader.sandbox.runner")
    if runner is not None:
        runner.close_workers()


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker when the batch process dies (even by SIGKILL), so a killed
    batch leaves no orphaned workers grading for nobody. Elsewhere, a no-op."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def failed_result(identity: SheetIdentity, task: SubmissionTask, message: str) -> Result:
    """A zero-point Result for a submission the grader itself could not grade (or read), carrying ``message``:
    every part its kind of file answers scores 0."""
    return Result(
        sheet_id=identity.sheet_id,
        sheet_title=identity.title,
        submission=file_name(task.path),
        student_id=task.owner or "",
        submission_hash=task.submission_hash,
        spec_hash=identity.spec_hash,
        parts=identity.unanswered_parts(task.path),
        error=message,
        grader_version=__version__,
    )


GRADER_FAULT = (
    "the grader failed on this submission -- a fault of the grader, not of your file; it will be graded again"
)
"""What the student's Result says when the grader itself failed (an exception, a dead worker); the instructor's
message, with the exception and the paths of the machine, goes to the batch's summary only."""


def _record(result: Result, task: SubmissionTask, *, grader_failed: bool = False, declared: str | None = None,
            submission_hash: str | None = None, roster: Roster | None = None) -> PreparedRecord:
    """The gradebook row of ``task``'s Result, with the student its place in the folder names (``task.owner``) and,
    for an answer file graded with a ``roster``, what the roster gave that student."""
    variant = roster_variant(roster, result.student_id) if roster is not None and not is_code_file(task.path) else None
    return prepare_record(result, task.key, grader_failed=grader_failed, submission_hash=submission_hash,
                          owner=task.owner, declared_student=declared, roster_variant=variant)


def grade_one(setup: _WorkerSetup, task: SubmissionTask) -> Outcome:
    """Grade one submission with ``setup.grade_fn``; an exception escaping it (or its row) becomes a failed Result.

    The row keeps the hash of the bytes that were graded (the Result's), so a file changed after the batch hashed
    it is judged "unchanged" next time only if it still holds what was graded. A Result with an error and no hash
    whose file is no longer a file (it vanished, or became a folder, after the batch hashed it) keeps no hash, so
    the next run grades the file again, whatever it holds then, instead of taking it for unchanged and keeping the
    0; a file refused for what it is (too large) keeps the hash the batch took, and is skipped while unchanged."""
    try:
        if setup.roster is None:
            result = setup.grade_fn(setup.spec_path, task.path)
        else:
            result = setup.grade_fn(setup.spec_path, task.path, roster=setup.roster, owner=task.owner)  # type: ignore[call-arg]
        if not isinstance(result, Result):
            raise TypeError(f"the grading function returned {type(result).__name__}, not a Result")
        if task.shown_path is not None:  # a worker's copy: the student's Result names the file, never that folder
            result = _shown_as(result, str(task.path), file_name(task.path))
        declared = None
        if task.owner is not None:
            result, declared = owned_by(result, task.owner)
        if result.spec_hash and result.spec_hash != setup.identity.spec_hash:  # workers load the sheet themselves
            message = (
                f"the sheet {setup.spec_path.name} was changed while the batch ran, so this submission was graded "
                "against another version of it; it will be graded again on the next run"
            )
            return Outcome(_record(failed_result(setup.identity, task, message), task, grader_failed=True), message)
        graded_hash = result.submission_hash or ("" if result.error is not None and not task.path.is_file() else task.submission_hash)
        record = _record(result, task, declared=declared, submission_hash=graded_hash, roster=setup.roster)
        reassigned = (declared, result.student_id) if declared is not None else None
        return Outcome(record, None, reassigned, exposed=_ran_exposed(result))
    except (SpecError, SpecErrors) as error:  # the sheet cannot make this variant's key: the author's fault
        detail = str(error) if task.shown_path is None else str(error).replace(str(task.path), task.shown_path)
        told = error.result if isinstance(error, VariantKeyError) else failed_result(setup.identity, task, SHEET_FAULT)
        declared = None
        if task.owner is not None:
            told, declared = owned_by(told, task.owner)
        record = _record(told, task, grader_failed=True, declared=declared)
        return Outcome(record, without_surrogates(f"the sheet {setup.spec_path.name} failed on this variant: {detail}"))
    except Exception as error:  # noqa: BLE001 -- a grader bug on one submission must not stop the batch
        where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
        place = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
        detail = str(error) if task.shown_path is None else str(error).replace(str(task.path), task.shown_path)
        message = without_surrogates(
            f"the grader failed on this submission ({type(error).__name__}: {detail}{place}); "
            "this is a fault of the grader, not of the submission -- it will be graded again on the next run"
        )
        return Outcome(_record(failed_result(setup.identity, task, GRADER_FAULT), task, grader_failed=True), message)


def _shown_as(result: Result, local_path: str, shown_path: str) -> Result:
    """``result`` with every mention of ``local_path`` (a worker's temporary copy) replaced by ``shown_path``."""
    local, shown = json.dumps(local_path)[1:-1], json.dumps(shown_path)[1:-1]
    text = result.model_dump_json(exclude_computed_fields=True)
    return Result.model_validate_json(text.replace(local, shown)) if local in text else result


def same_variant(before: GradedKey, path: Path, roster: Roster | None) -> bool:
    """Whether an answer file graded before (``before``) was graded with ``roster`` saying of its student what it
    says now (:func:`~grader.roster.roster_variant`: the same seed, or not listed both times; a file graded without
    a roster was not); always for code files, which have no variant, and without a roster."""
    if roster is None or is_code_file(path):
        return True
    return before.roster_variant == roster_variant(roster, before.student_id)


def student_pattern(text: str) -> re.Pattern[str]:
    """``--student-from``: a regular expression searched in each file's path relative to the submissions folder
    (``/`` between folders); its group ``id`` (or its only group) is the student who handed the file in. GraderError
    when it is not one, or has no such group."""
    try:
        pattern = re.compile(text)
    except re.error as error:
        raise GraderError(f"--student-from {text!r}: not a regular expression ({error})") from None
    if "id" not in pattern.groupindex and pattern.groups != 1:
        raise GraderError(
            f"--student-from {text!r}: needs a group for the student id: (?P<id>...), or exactly one (...); "
            "e.g. '^([^/]+)/' for one folder per student"
        )
    return pattern


def owner_of(pattern: re.Pattern[str], relative: str) -> str | None:
    """The student ``pattern`` (:func:`student_pattern`) finds in ``relative`` (a path in the submissions folder, with
    ``/``), or None when it does not match, or its group is empty or no id an answer file's ``student:`` could be
    (longer than MAX_STUDENT_ID_LENGTH, or holding a line break, a tab or a control character: a folder name
    can)."""
    match = pattern.search(relative)
    if match is None:
        return None
    found = ((match.group("id") if "id" in pattern.groupindex else match.group(1)) or "").strip()
    # Bytes of a name that are not UTF-8 (an old archive's Latin-1 'Müller') are kept as \xfc, so 'Müller' and
    # 'Möller' stay two students (replacing each by U+FFFD made them one).
    owner = path_key(found)
    return owner if owner and len(owner) <= MAX_STUDENT_ID_LENGTH and owner.isprintable() else None


def owned_by(result: Result, owner: str) -> tuple[Result, str | None]:
    """``result`` credited to ``owner``, the student the file's place in the folder names, and the id the file gave
    when that was someone else's (for the instructor: it may be a typo, another naming scheme, or a student handing
    in under a classmate's id). A note asking the student for an id is dropped: the folder says who they are."""
    declared = result.student_id if not any(asks_for_an_id(note) for note in result.notes) else ""
    if declared == owner:
        return result, None
    notes = [note for note in result.notes if not asks_for_an_id(note)]
    return result.model_copy(update={"student_id": owner, "notes": notes}), (declared or None)


def _ran_exposed(result: Result) -> bool:
    """Whether ``result``'s code ran without bubblewrap's private filesystem (False for an answer file, without
    loading the sandbox, which grading loads only for code)."""
    if not result.sandbox_layers:
        return False
    from grader.sandbox.layers import exposed

    return exposed(result.sandbox_layers)


def code_threads_per_job(jobs: int, cores: int | None = None) -> int:
    """Code submissions each of ``jobs`` worker processes grades at once: enough that the workers together keep one
    submission in flight per core (``cores``, default ``os.cpu_count()``), and no more.

    Each thread has its own warm sandbox worker, and a code submission spends most of its time there, so with fewer
    jobs than cores a worker needs several in flight to use the cores. More than one per core only adds processes
    competing for them: on 2 cores with 2 jobs, two threads per job graded benchmarks/batch.py's sandbox workload
    about 6% slower than one, each submission costing 0.5-0.8 ms more CPU.
    """
    available = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, -(-available // max(1, jobs)))


_code_pool: ThreadPoolExecutor | None = None


def _grade_chunk(tasks: Sequence[SubmissionTask]) -> list[Outcome]:
    """Grade a chunk in order; its code submissions ``code_threads`` at a time, its answer files one after the
    other."""
    global _code_pool
    assert _setup is not None, "worker used before _init_worker"
    setup = _setup
    code = [task for task in tasks if is_code_file(task.path)]
    if len(code) < 2 or setup.code_threads < 2:
        return [grade_one(setup, task) for task in tasks]
    if _code_pool is None:
        _code_pool = ThreadPoolExecutor(setup.code_threads, thread_name_prefix="grader-code")
    running = {task.key: _code_pool.submit(grade_one, setup, task) for task in code}
    return [running[task.key].result() if task.key in running else grade_one(setup, task) for task in tasks]


def _dead_worker_outcome(identity: SheetIdentity, task: SubmissionTask, detail: str) -> Outcome:
    message = (
        f"the grading process died while grading this submission ({detail}); "
        "it will be graded again on the next run"
    )
    return Outcome(_record(failed_result(identity, task, GRADER_FAULT), task, grader_failed=True), message)


# -- progress ---------------------------------------------------------------------------------------------------


class _Progress:
    """A rich progress bar (done/total, failed, rate) on stderr when asked for and stderr is a terminal (stdout
    stays clean for the summary); else silent."""

    def __init__(self, enabled: bool, total: int, description: str) -> None:
        self._progress: Any = None
        self._task: Any = None
        if not (enabled and total and sys.stderr.isatty()):
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("failed {task.fields[failed]}"),
            TextColumn("{task.fields[rate]:.0f}/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = self._progress.add_task(description, total=total, failed=0, rate=0.0)
        self._started = time.perf_counter()

    def __enter__(self) -> _Progress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, done: int, failed: int) -> None:
        if self._progress is None:
            return
        elapsed = time.perf_counter() - self._started
        self._progress.update(self._task, completed=done, failed=failed, rate=done / elapsed if elapsed else 0.0)


# -- the batch --------------------------------------------------------------------------------------------------


def _chunks(tasks: Sequence[SubmissionTask], size: int, code_size: int = 1) -> Iterator[list[SubmissionTask]]:
    """``tasks`` in order, in chunks of up to ``size`` answer files or ``code_size`` code files (a worker's results
    reach the gradebook a chunk at a time: 16 code files, each allowed minutes, could hold back every result of a
    batch killed and resumed every few minutes)."""
    chunk: list[SubmissionTask] = []
    chunk_is_code = False
    for task in tasks:
        code = is_code_file(task.path)
        if chunk and (code != chunk_is_code or len(chunk) >= (code_size if code else size)):
            yield chunk
            chunk = []
        chunk.append(task)
        chunk_is_code = code
    if chunk:
        yield chunk


def _mp_context() -> multiprocessing.context.BaseContext:
    # fork: workers inherit the loaded modules and the grading function (no pickling, so tests may pass
    # closures); spawn where fork does not exist.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _run_local(
    tasks: Sequence[SubmissionTask], setup: _WorkerSetup, jobs: int, chunk_size: int
) -> Iterator[Outcome]:
    """Grade ``tasks`` on ``jobs`` local worker processes, yielding outcomes as they complete.

    A worker that dies breaks the pool: the chunks in flight then are graded again, each submission in a
    fresh process of its own, so the one that kills its process is found and recorded as failed while the
    others are graded normally.
    """
    context = _mp_context()
    if context.get_start_method() == "fork" and any(is_code_file(task.path) for task in tasks):
        # Probe the sandbox's layers (bubblewrap starts a Python to test itself) once here: forked workers
        # inherit the cached answer instead of each probing again.
        from grader.sandbox import probe_layers

        probe_layers()
    queue = list(_chunks(tasks, chunk_size, setup.code_threads))
    queue.reverse()  # pop() from the end keeps the sorted order
    max_in_flight = max(1, jobs * IN_FLIGHT_PER_JOB)
    while queue:
        suspects: list[SubmissionTask] = []
        # no more processes than chunks to grade: --jobs 1000 on 8 files started 1000 (11 s, where 40 took 0.5 s)
        workers = max(1, min(jobs, len(queue)))
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(setup,))
        pending: dict[Future[list[Outcome]], list[SubmissionTask]] = {}
        try:
            while queue or pending:
                while queue and len(pending) < max_in_flight:
                    chunk = queue.pop()
                    pending[pool.submit(_grade_chunk, chunk)] = chunk
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                broken = False
                for future in sorted(done, key=lambda f: pending[f][0].key):
                    chunk = pending.pop(future)
                    try:
                        outcomes = future.result()
                    except BrokenProcessPool:
                        suspects.extend(chunk)
                        broken = True
                        continue
                    yield from outcomes
                if broken:
                    for chunk in pending.values():
                        suspects.extend(chunk)
                    pending.clear()
                    break
        except BaseException:  # Ctrl-C, or the batch stopped reading: end the workers now, not after their chunks
            _terminate_workers(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if suspects:
            yield from _run_isolated(suspects, setup, jobs, context)


def _run_isolated(
    tasks: Sequence[SubmissionTask], setup: _WorkerSetup, jobs: int, context: multiprocessing.context.BaseContext
) -> Iterator[Outcome]:
    """Grade each task in a process of its own (up to ``jobs`` at a time): a crash then names its submission."""
    remaining = list(tasks)
    remaining.reverse()
    running: dict[Future[list[Outcome]], tuple[SubmissionTask, ProcessPoolExecutor]] = {}
    try:
        while remaining or running:
            while remaining and len(running) < jobs:
                task = remaining.pop()
                pool = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_init_worker, initargs=(setup,))
                running[pool.submit(_grade_chunk, [task])] = (task, pool)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                task, pool = running.pop(future)
                try:
                    outcomes = future.result()
                except BrokenProcessPool as error:
                    outcomes = [_dead_worker_outcome(setup.identity, task, _death_detail(error))]
                pool.shutdown(wait=True)
                yield from outcomes
    except BaseException:  # Ctrl-C, or the batch stopped reading
        for _, pool in running.values():
            _terminate_workers(pool)
        raise
    finally:
        for _, pool in running.values():
            pool.shutdown(wait=False, cancel_futures=True)


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    """End a pool's worker processes at once (SIGTERM; their sandbox workers die with them) instead of waiting for
    the chunks they are grading: what Python 3.14's ``terminate_workers`` does, by hand before it."""
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()


def _death_detail(error: BaseException) -> str:
    cause = error.__cause__
    text = str(cause) if cause is not None else str(error)
    return text.strip() or "the process ended abruptly, e.g. killed for using too much memory"


def run_batch(
    spec_path: Path,
    submissions_dir: Path,
    *,
    jobs: int | None = None,
    gradebook_path: Path | None = None,
    regrade: bool = False,
    executor: Literal["local", "dask"] = "local",
    scheduler: str | None = None,
    progress: bool = True,
    grade_fn: GradeFn | None = None,
    chunk_size: int = CHUNK_SIZE,
    student_from: str | None = None,
    require_sandbox: bool = False,
    roster: Roster | None = None,
) -> BatchSummary:
    """Grade every submission under ``submissions_dir`` against the sheet at ``spec_path`` into a gradebook.

    Args:
        spec_path: the exercise sheet (YAML); loaded once here so a bad spec fails before grading starts.
        submissions_dir: searched recursively (see :func:`find_submissions`).
        jobs: worker processes (local) or the number of workers of a cluster started here (dask without a
            scheduler); default: every core (``os.cpu_count()``).
        gradebook_path: the SQLite gradebook; default :data:`DEFAULT_GRADEBOOK` (``./gradebook.sqlite``).
        regrade: grade every submission even if its content and the spec are unchanged (rows are replaced).
        executor: ``local`` (processes on this machine) or ``dask`` (a ``distributed`` cluster).
        scheduler: with ``dask``, the scheduler's address (``tcp://host:8786``); None starts a local cluster.
        progress: show a progress bar on stderr (only when stderr is a terminal).
        grade_fn: ``(spec_path, submission_path) -> Result``; default ``grader.grading.grade_file``.
        chunk_size: submissions per task sent to a worker.
        student_from: a regular expression whose group names the student who handed each file in, searched in
            its path relative to ``submissions_dir`` (:func:`student_pattern`); that id counts over the one the
            file gives. Files it does not match keep their own (listed in ``BatchSummary.unmatched``).
        require_sandbox: refuse to run students' code without every isolation layer: checked here before any
            grading when the folder holds code (SandboxUnavailable, listing what is missing), and by each worker
            (on a Dask worker without them, that worker's code submissions are grader failures, graded again
            next run). Only with the default ``grade_fn``.
        roster: the course's roster (:func:`grader.roster.load_roster`): each answer file is graded against the
            variant it gives the file's student (its owner by ``student_from``, else the id the file gives), and a
            file graded before is graded again when its student's variant there has changed. Only with the default
            ``grade_fn``.

    Returns a :class:`BatchSummary`. Raises GraderError for the caller's faults (missing spec or folder, bad
    arguments, an unreachable scheduler); never for a submission.
    """
    if jobs is not None and jobs < 1:
        raise GraderError(f"jobs: must be at least 1, got {jobs}")
    if chunk_size < 1:
        raise GraderError(f"chunk_size: must be at least 1, got {chunk_size}")
    if executor not in ("local", "dask"):
        raise GraderError(f"executor: must be 'local' or 'dask', got {executor!r}")
    if scheduler is not None and executor != "dask":
        raise GraderError("scheduler: only used with executor='dask'")
    jobs = jobs or os.cpu_count() or 1
    pattern = student_pattern(student_from) if student_from is not None else None
    if grade_fn is None:
        from grader.grading import grade_file

        grade_fn = functools.partial(grade_file, require_sandbox=True) if require_sandbox else grade_file
    elif require_sandbox:
        raise GraderError("require_sandbox: only with the default grade_fn")
    elif roster is not None:
        raise GraderError("roster: only with the default grade_fn")
    gradebook_path = gradebook_path if gradebook_path is not None else DEFAULT_GRADEBOOK
    identity = sheet_identity(spec_path)
    started = time.perf_counter()

    unlisted: list[str] = []
    not_files: list[str] = []
    discovered = _discover(submissions_dir, _gradebook_files(gradebook_path), unlisted, not_files)
    if require_sandbox and any(is_code_file(found.path) for found in discovered):
        from grader.sandbox import require_layers

        require_layers()  # before anything is graded: a missing layer stops the batch, not each submission
    summary = BatchSummary(
        spec_path=spec_path,
        gradebook_path=gradebook_path,
        sheet_id=identity.sheet_id,
        spec_hash=identity.spec_hash,
        total=len(discovered),
        jobs=jobs,
        executor=executor,
    )
    with Gradebook(gradebook_path, exclusive=True) as gradebook:
        summary.unlisted = unlisted
        summary.not_files = sorted(not_files)
        gradebook.record_folder(path_key(os.path.realpath(submissions_dir)))  # report's --out-dir must stay out of it
        summary.forgotten = _forget_gone(gradebook, identity.sheet_id, submissions_dir, discovered, unlisted)
        graded_before = {} if regrade else gradebook.graded_keys(identity.spec_hash, identity.following)
        tasks: list[SubmissionTask] = []
        unreadable: list[Outcome] = []
        for found in discovered:
            path, key = found.path, found.key
            owner = None
            if pattern is not None:
                owner = owner_of(pattern, path.relative_to(submissions_dir).as_posix())
                if owner is None:
                    summary.unmatched.append(key)
            if found.outside:
                task = SubmissionTask(key=key, path=path, submission_hash="", owner=owner)
                unreadable.append(Outcome(_record(failed_result(identity, task, outside_link_message(path)), task), None))
                continue
            try:
                submission_hash = file_sha256(path)
            except OSError as error:  # gone since it was found, or not readable: a result for it, and go on
                unreadable.append(_unreadable_outcome(identity, SubmissionTask(key=key, path=path, submission_hash="", owner=owner), error))
                continue
            before = graded_before.get(key)
            # Unchanged, and credited the same way (to the same owner, or by its own id both times): skipped.
            if before is not None and before.submission_hash == submission_hash and before.owner == owner and same_variant(before, path, roster):
                summary.skipped += 1
                if before.declared_student is not None and owner is not None:  # still worth telling
                    summary.reassigned.append((key, before.declared_student, owner))
            else:
                tasks.append(SubmissionTask(key=key, path=path, submission_hash=submission_hash, owner=owner))
        del graded_before

        setup = _WorkerSetup(grade_fn=grade_fn, spec_path=spec_path, identity=identity, code_threads=code_threads_per_job(jobs), roster=roster)
        if not tasks:
            outcomes: Iterable[Outcome] = ()
        elif executor == "local":
            outcomes = _run_local(tasks, setup, jobs, chunk_size)
        else:
            outcomes = _run_dask(tasks, setup, jobs, scheduler, chunk_size)

        guard = _SavingGuard()
        with _Progress(progress, len(unreadable) + len(tasks), f"grading {identity.sheet_id}") as bar, \
                _interruptible(outcomes, summary, len(unreadable) + len(tasks)), guard.installed():
            for outcome in itertools.chain(unreadable, outcomes):
                with guard.saving():  # Ctrl-C lands before or after a result is saved and counted, not between
                    gradebook.write(outcome.record)
                    summary.add(outcome)
                bar.update(summary.graded, summary.failed)
        summary.conflicts = conflicts_in(gradebook, identity.spec_hash)
    summary.elapsed = time.perf_counter() - started
    return summary


class _SavingGuard:
    """While installed (:meth:`installed`, on the main thread, where Python runs signal handlers), Ctrl-C during
    :meth:`saving` is held until saving ends, then raised: a result is saved and counted, or neither, so an
    interrupted batch's count of saved results is exact. Elsewhere Ctrl-C raises KeyboardInterrupt as usual."""

    def __init__(self) -> None:
        self._saving = False
        self._pending = False

    def _on_sigint(self, signum: int, frame: object) -> None:
        if self._saving:
            self._pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            yield  # not where Ctrl-C arrives, or someone else handles it: leave it alone
            return
        signal.signal(signal.SIGINT, self._on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    @contextlib.contextmanager
    def saving(self) -> Iterator[None]:
        self._saving = True
        try:
            yield
        finally:
            self._saving = False
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt


@contextlib.contextmanager
def _interruptible(outcomes: Iterable[Outcome], summary: BatchSummary, to_grade: int) -> Iterator[None]:
    """Turn Ctrl-C while grading into :class:`grader.errors.Interrupted`, saying what is saved, after stopping the
    workers (closing ``outcomes``, the executor's generator, ends them)."""
    try:
        yield
    except KeyboardInterrupt:
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()
        raise Interrupted(
            f"interrupted: {summary.graded} of the {to_grade} submission(s) to grade were graded and are saved in "
            f"{summary.gradebook_path}; run the same command again to grade the rest"
        ) from None


def _forget_gone(
    gradebook: Gradebook, sheet_id: str, submissions_dir: Path, found: list[FoundSubmission], unlisted: list[str]
) -> list[str]:
    """Remove from ``gradebook`` the results of ``sheet_id`` (any version) of files in ``submissions_dir`` that are no
    longer there (deleted or renamed since they were graded), so that a file counts once and a deleted one not at
    all in report and stats; return their keys.

    Kept: results of files elsewhere (another folder graded into the same gradebook), of files in or below the
    ``unlisted`` folders and entries (what they hold now is unknown), and everything when the folder holds no
    submission at all (an unmounted drive or a failed copy looks the same as a cohort deleted)."""
    if not found:
        return []
    folder = path_key(str(submissions_dir.resolve()))
    present = {submission.key for submission in found}
    unknown = tuple(unlisted) + tuple(place + os.sep for place in unlisted)
    gone = [
        row.path for row in gradebook.rows(sheet_id)
        if row.sheet_id == sheet_id and row.path.startswith(folder + os.sep) and row.path not in present
        and not (unknown and row.path.startswith(unknown))
    ]
    if gone:
        gradebook.remove(gone, sheet_id)
    return gone


def _gradebook_files(gradebook_path: Path) -> list[Path]:
    return [gradebook_path, *(gradebook_path.with_name(gradebook_path.name + s) for s in ("-wal", "-shm", "-journal"))]




# -- Dask -------------------------------------------------------------------------------------------------------
# Workers may run on other machines without the course's files: each task carries the submission's bytes, the
# spec's bytes travel once per worker, and the worker writes both to a private temporary folder (keeping the
# file names, which the Result reports) before calling the same grading function as a local worker.

DASK_WORKER_WAIT_SECONDS = 60.0
"""How long a batch waits for the first worker to join the scheduler before giving up."""
DASK_CONNECT_SECONDS = 30.0
"""How long a batch tries to reach the scheduler before giving up."""


@dataclass(frozen=True, slots=True)
class _RemoteSetup:
    grade_fn: GradeFn
    spec_name: str
    spec_bytes: bytes
    identity: SheetIdentity
    roster: Roster | None = None


_remote_specs: dict[str, Path] = {}
_remote_specs_lock = threading.Lock()


def _remote_spec_path(remote: _RemoteSetup) -> Path:
    # A worker runs tasks in threads: the lock keeps it to one copy of the spec per spec hash.
    with _remote_specs_lock:
        path = _remote_specs.get(remote.identity.spec_hash)
        if path is None or not path.is_file():
            folder = Path(tempfile.mkdtemp(prefix="grader-spec-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)  # when the worker process ends
            path = folder / remote.spec_name
            path.write_bytes(remote.spec_bytes)
            _remote_specs[remote.identity.spec_hash] = path
        return path


def _grade_chunk_remote(remote: _RemoteSetup, items: list[tuple[SubmissionTask, bytes, int]]) -> list[Outcome]:
    setup = _WorkerSetup(grade_fn=remote.grade_fn, spec_path=_remote_spec_path(remote), identity=remote.identity, roster=remote.roster)
    outcomes = []
    for task, content, size in items:
        with tempfile.TemporaryDirectory(prefix="grader-submission-") as folder:
            local_path = Path(folder) / task.path.name
            local_path.write_bytes(content)
            if size > len(content):  # a file over the limit: the rest as a hole, so its refusal gives its size
                os.truncate(local_path, size)
            local_task = SubmissionTask(task.key, local_path, task.submission_hash, shown_path=str(task.path), owner=task.owner)
            outcomes.append(grade_one(setup, local_task))
    return outcomes


def _worker_grader_version() -> str:
    import grader

    return grader.__version__


def _dask_items(
    tasks: Sequence[SubmissionTask], identity: SheetIdentity
) -> tuple[list[tuple[SubmissionTask, bytes, int]], list[Outcome]]:
    """Each task with its file's bytes, as many as grading reads (one more than ``size_limit``: the remote
    worker then refuses the file as too large, as a local one would), and the file's size in bytes; and the
    outcomes of the files that can no longer be read (gone or replaced since the batch found them), graded 0 here
    as a local worker grades them, instead of stopping the batch."""
    items = []
    unreadable = []
    for task in tasks:
        try:
            with task.path.open("rb") as handle:
                items.append((task, handle.read(size_limit(task.path) + 1), os.fstat(handle.fileno()).st_size))
        except OSError as error:
            unreadable.append(_unreadable_outcome(identity, task, error))
    return items, unreadable


def _unreadable_outcome(identity: SheetIdentity, task: SubmissionTask, error: OSError) -> Outcome:
    """0 points for a file the batch cannot read (gone, a folder now, no permission), with the reason; its row keeps
    no hash, so the next run tries it again."""
    unread = SubmissionTask(key=task.key, path=task.path, submission_hash="", owner=task.owner)
    message = f"{file_name(task.path)}: the file could not be read ({error.strerror or type(error).__name__})"
    return Outcome(_record(failed_result(identity, unread, message), unread), None)


def _run_dask(
    tasks: Sequence[SubmissionTask], setup: _WorkerSetup, jobs: int, scheduler: str | None, chunk_size: int
) -> Iterator[Outcome]:
    """Grade ``tasks`` on a Dask ``distributed`` cluster (at ``scheduler``, or a local one with ``jobs``
    single-threaded worker processes), yielding outcomes as they complete; the caller writes the gradebook.

    A chunk whose worker died (``KilledWorker`` once Dask gave up retrying it) is resubmitted one submission
    per task; a submission that still kills its worker is recorded as failed.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as error:
        raise GraderError(
            "executor 'dask' needs the optional dependency 'distributed': pip install 'grader[dask]'"
        ) from error

    cluster = None
    try:
        if scheduler is None:
            cluster = LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = Client(cluster)
        else:
            try:
                client = Client(scheduler, timeout=f"{DASK_CONNECT_SECONDS}s")
            except (OSError, TimeoutError) as error:
                raise GraderError(
                    f"scheduler {scheduler}: cannot connect within {DASK_CONNECT_SECONDS:.0f} s ({error}); "
                    f"is 'dask scheduler' running there?"
                ) from error
    except GraderError:
        raise
    except Exception as error:  # noqa: BLE001 -- distributed raises many types; the user needs one message
        raise GraderError(f"dask: cannot start or reach the cluster ({type(error).__name__}: {error})") from error
    try:
        yield from _dask_grade(client, as_completed, tasks, setup, chunk_size, scheduler)
    finally:
        # Closing logs the workers' closed connections as errors with tracebacks: not for the user's terminal.
        distributed_log = logging.getLogger("distributed")
        level = distributed_log.level
        distributed_log.setLevel(logging.CRITICAL)
        try:
            client.close()
            if cluster is not None:
                cluster.close()
        finally:
            distributed_log.setLevel(level)


def _dask_grade(
    client: Any,
    as_completed: Any,
    tasks: Sequence[SubmissionTask],
    setup: _WorkerSetup,
    chunk_size: int,
    scheduler: str | None,
) -> Iterator[Outcome]:
    from distributed import KilledWorker

    try:
        client.wait_for_workers(1, timeout=DASK_WORKER_WAIT_SECONDS)
    except TimeoutError as error:
        raise GraderError(
            f"scheduler {scheduler}: no worker joined within {DASK_WORKER_WAIT_SECONDS:.0f} s; "
            f"start some with 'dask worker {scheduler} --nthreads 1'"
        ) from error
    versions = client.run(_worker_grader_version)
    mismatched = {worker: version for worker, version in versions.items() if version != __version__}
    if mismatched:
        listed = ", ".join(f"{worker} has {version}" for worker, version in sorted(mismatched.items()))
        raise GraderError(f"dask workers run another grader version than this one ({__version__}): {listed}")

    remote = _RemoteSetup(
        grade_fn=setup.grade_fn,
        spec_name=setup.spec_path.name,
        spec_bytes=setup.spec_path.read_bytes(),
        identity=setup.identity,
        roster=setup.roster,
    )
    [remote_future] = client.scatter([remote], broadcast=True)
    workers = max(1, len(versions))
    queue = list(_chunks(tasks, chunk_size))
    queue.reverse()
    retry_alone: list[SubmissionTask] = []
    chunk_of: dict[Any, list[SubmissionTask]] = {}

    completed = as_completed()
    unread: list[Outcome] = []  # files gone since they were found: graded 0 here, yielded as the loop goes
    in_flight = workers * IN_FLIGHT_PER_JOB

    def submit_more() -> None:
        while (retry_alone or queue) and len(chunk_of) < in_flight:
            items, unreadable = _dask_items([retry_alone.pop()] if retry_alone else queue.pop(), setup.identity)
            unread.extend(unreadable)
            if items:
                future = client.submit(_grade_chunk_remote, remote_future, items, pure=False)
                chunk_of[future] = [task for task, _, _ in items]
                completed.add(future)

    submit_more()
    for future in completed:
        yield from unread
        unread.clear()
        chunk = chunk_of.pop(future)
        try:
            outcomes = future.result()
        except KilledWorker as error:
            if len(chunk) > 1:
                retry_alone.extend(chunk)
            else:
                yield _dead_worker_outcome(setup.identity, chunk[0], f"Dask: {error}")
        else:
            yield from outcomes
        future.release()
        submit_more()
    yield from unread
