"""One grade per student from the files they handed in for a sheet: the "by student" merge.

A student may hand in several files for one sheet: an answer file (YAML/JSON; its Result covers the answer
parts) and a code file (.py/.ipynb; its Result covers the code parts), and sometimes a second answer file later.
The gradebook keeps one Result per *file*; the CSV for the LMS (``grader.report.csv_report``) and the totals of
the cohort statistics (``grader.stats``) need one grade per *student*. This module is the one place that decides
how files combine, in :func:`by_student`:

1. **Grouping.** Files are grouped by student id, compared as exact strings once in Unicode's composed form (NFC:
   an é typed as e and a combining accent, as macOS keyboards may, is the é of another file); ids that differ in
   letter case only stay apart, and :func:`merge_warnings` names them; a student is known by the composed id. A
   file with an empty student id is a student of its own, known only by its file name: the id is read from
   inside the file, so a file that could not be read (a Result with ``error``) has none, and neither has a file
   the grader failed on. A code file without ``STUDENT = "..."`` has its file name as id
   (:attr:`GradedFile.named_after_file`): it joins only files whose id happens to be that name, and
   :func:`merge_warnings` names it.
2. **Parts.** Each part key is taken from a file that graded it (whose Result has that part). Of several such
   files -- two answer files of one student -- the one *graded last* counts: the latest ``graded_at`` (the
   gradebook's UTC time stamp, seconds), then the greater path; without either (Results given directly), the
   later one in the input. A file that left the part unanswered (status ``missing``) counts only when no file
   answered it: a student who splits the answers over two files gets all of them. The parts of the other files
   are ignored, and :meth:`StudentGrade.conflict` says so.
3. **Ungradable files.** A file that could not be graded (unreadable, or the grader failed) supplies parts only
   when the student has no other file: a broken upload never replaces a graded answer file.
4. **Totals.** A student's points are the sum of the parts taken; nothing else is added. Parts no file graded
   (e.g. code parts of a student who handed in no code) are absent, not zero: the denominator of a score is the
   caller's choice (the sheet's total points, see :func:`sheet_points`).

Students come in the order of their first file in the input; each student's files stay in input order (callers
pass files ordered by path, so the output does not depend on the order a parallel batch graded them in).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from grader.notes import named_after_file

if TYPE_CHECKING:
    from grader.gradebook import Gradebook, SubmissionRow
    from grader.result import PartResult, Result
    from grader.spec.loader import Sheet


FILE_SEPARATOR = "; "
"""Between the file names of one student in :attr:`StudentGrade.submission`."""
IGNORED_MARK = " (ignored)"
"""After the name of a file none of whose parts was taken (:attr:`StudentGrade.submission`)."""


class GradedPart(Protocol):
    """What the merge needs of a part: ``PartResult`` and the gradebook's ``PartRow`` both qualify."""

    @property
    def points_earned(self) -> float: ...

    @property
    def points_possible(self) -> float: ...

    @property
    def status(self) -> str: ...


P = TypeVar("P", bound=GradedPart)


@dataclass(frozen=True, slots=True)
class GradedFile(Generic[P]):
    """One handed-in file as the merge sees it: who it belongs to and the parts its Result graded."""

    name: str
    """The file name as handed in (``Result.submission``)."""
    student_id: str
    """Empty when the file names no student (it could not be read, or the grader failed on it)."""
    parts: Mapping[str, P]
    """The parts the file's Result has, by part key (``ex3.b``)."""
    seed: int | None = None
    """The variant the file was graded against (answer files; code files have none)."""
    path: str = ""
    """The gradebook's key of the file (its full path); "" when unknown."""
    graded_at: str = ""
    """When it was graded (UTC ISO 8601, as the gradebook stores it); "" when unknown."""
    failed: bool = False
    """The file could not be graded: unreadable (a Result with ``error``) or the grader failed on it."""
    named_after_file: bool = False
    """The student id is the file's name, not one the file gives: a code file without ``STUDENT = "..."``."""


@dataclass(frozen=True, slots=True)
class StudentGrade(Generic[P]):
    """The merged grade of one student: the parts taken and which file each came from (see the module rules)."""

    student_id: str
    """Empty for a file that names no student (then ``files`` holds that one file)."""
    files: tuple[GradedFile[P], ...]
    """Every file of the student, in input order."""
    parts: dict[str, P]
    """The parts taken, by part key, in the order the student's files (in input order) list them."""
    sources: dict[str, GradedFile[P]] = field(repr=False)
    """The file each part was taken from, by part key."""

    @property
    def points_earned(self) -> float:
        """The sum of the points earned on the parts taken (rounded to 6 decimals, as Results are)."""
        return round(sum(part.points_earned for part in self.parts.values()), 6)

    @property
    def points_possible(self) -> float:
        """The points possible of the parts taken only: parts no file graded are not in it."""
        return round(sum(part.points_possible for part in self.parts.values()), 6)

    @property
    def unreadable(self) -> bool:
        """No file of the student could be graded."""
        return all(file.failed for file in self.files)

    @property
    def used(self) -> list[GradedFile[P]]:
        """The files at least one part was taken from, in input order."""
        taken = {id(source) for source in self.sources.values()}
        return [file for file in self.files if id(file) in taken]

    @property
    def ignored(self) -> list[GradedFile[P]]:
        """The files no part was taken from (superseded by a file graded later, or ungradable), in input order."""
        taken = {id(source) for source in self.sources.values()}
        return [file for file in self.files if id(file) not in taken]

    @property
    def seed(self) -> int | None:
        """The seed of the last-graded file a part was taken from that has one (the answer file's), else None."""
        seeds = [file for file in _graded_order(self.used) if file.seed is not None]
        return seeds[-1].seed if seeds else None

    @property
    def submission(self) -> str:
        """The student's file names for a table cell: ``; ``-separated in input order, a file none of whose parts
        was taken marked `` (ignored)`` when the student has other files (cf. ``Result.submission``)."""
        ignored = {id(file) for file in self.ignored} if len(self.files) > 1 else set()
        return FILE_SEPARATOR.join(file.name + (IGNORED_MARK if id(file) in ignored else "") for file in self.files)

    def superseded(self) -> list[tuple[GradedFile[P], list[str]]]:
        """Files some of whose parts were not taken because another file graded them later, with those keys."""
        found = []
        for file in self.files:
            keys = [
                key for key, part in file.parts.items()
                if key in self.sources and self.sources[key] is not file and not _unanswered(part)
            ]
            if keys and not (file.failed and not self.unreadable):
                found.append((file, keys))
        return found

    def conflict(self) -> str | None:
        """One line naming the files used and ignored when several files graded the same parts, else None."""
        superseded = self.superseded()
        if not superseded:
            return None
        ignored = []
        for file, keys in superseded:
            whole = all(key in keys for key in file.parts)
            ignored.append(self.file_label(file) if whole else f"the parts {', '.join(keys)} of {self.file_label(file)}")
        # Only the files that graded the same parts are compared: an answer file in answers/ and a code file in
        # code/ of one student grade different parts.
        pairs = [(file, self.sources[key]) for file, keys in superseded for key in keys]
        hint = (
            "; files of this id lie in separate folders: if each student has a folder, grade with `grader batch "
            "--student-from` and a pattern whose group is that folder, which credits a file to the student whose "
            "folder holds it, whatever id it gives"
            if any(_apart(ignored_file.path, used_file.path) for ignored_file, used_file in pairs) else ""
        )
        return (
            f"student {self.student_id!r} handed in several files grading the same parts; the one graded last "
            f"counts: used {', '.join(self.file_label(file) for file in self.used)}; ignored {', '.join(ignored)}{hint}"
        )

    def file_label(self, file: GradedFile[P]) -> str:
        """The file's name, or its path when another file of the student has the same name."""
        clash = sum(1 for other in self.files if other.name == file.name) > 1
        return (file.path or file.name) if clash else file.name


def _apart(first: str, second: str) -> bool:
    """Whether two files' folders are separate: neither is the other, nor inside it (``subs/alice`` and
    ``subs/bob``, but not ``subs/alice`` and ``subs/alice/v2``). Files without a path are not apart."""
    if not first or not second:
        return False
    a, b = PurePath(first).parent, PurePath(second).parent
    return a != b and a not in b.parents and b not in a.parents


def _unanswered(part: GradedPart) -> bool:
    """Whether the file left this part out (no answer given)."""
    return str(part.status) == "missing"


def _graded_order(files: Iterable[GradedFile[P]]) -> list[GradedFile[P]]:
    """Oldest first: by ``graded_at``, then path; files equal in both keep their input order (a stable sort)."""
    return sorted(files, key=lambda file: (file.graded_at, file.path))


def _merge(student_id: str, files: list[GradedFile[P]]) -> StudentGrade[P]:
    gradable = [file for file in files if not file.failed]
    candidates = gradable or files
    parts: dict[str, P] = {}
    sources: dict[str, GradedFile[P]] = {}
    for file in _graded_order(candidates):  # a later file overwrites the parts an earlier one graded
        for key, part in file.parts.items():
            if key in parts and _unanswered(part) and not _unanswered(parts[key]):
                continue  # left out here, answered in an earlier file
            parts[key] = part
            sources[key] = file
    order = dict.fromkeys(key for file in files for key in file.parts if key in parts)  # as the files list them
    return StudentGrade(
        student_id=student_id,
        files=tuple(files),
        parts={key: parts[key] for key in order},
        sources={key: sources[key] for key in order},
    )


def by_student(files: Iterable[GradedFile[P]]) -> list[StudentGrade[P]]:
    """One :class:`StudentGrade` per student (see the module docstring for the rules), in order of first file."""
    groups: dict[str, list[GradedFile[P]]] = {}
    order: list[tuple[str, list[GradedFile[P]]]] = []
    for file in files:
        same = unicodedata.normalize("NFC", file.student_id)
        if not file.student_id:
            order.append(("", [file]))
        elif same in groups:
            groups[same].append(file)
        else:
            groups[same] = [file]
            order.append((same, groups[same]))
    return [_merge(student_id, group) for student_id, group in order]


def merge_warnings(students: Iterable[StudentGrade[P]]) -> list[str]:
    """What the instructor should hear of a merge, one line each (without a ``warning:`` prefix; files by their full
    path when known): every student who handed in several files grading the same parts
    (:meth:`StudentGrade.conflict`), then every code file whose student id is its file name. ``grader report
    --csv`` and ``grader stats`` print these on stderr."""
    students = list(students)
    lines = [conflict for student in students if (conflict := student.conflict()) is not None]
    by_case: dict[str, list[str]] = {}
    for student in students:
        if student.student_id:
            by_case.setdefault(unicodedata.normalize("NFC", student.student_id).casefold(), []).append(student.student_id)
    for ids in by_case.values():
        if len(ids) > 1:
            lines.append(
                f"student ids {', '.join(repr(i) for i in ids)} differ only in letter case: they are counted as "
                f"{len(ids)} students (ids are compared exactly); if they are one, make the files give one id"
            )
    for student in students:
        for file in student.files:
            if file.named_after_file:
                lines.append(
                    f'{file.path or file.name} has no usable STUDENT = "..." line (none, or one whose value is not one '
                    f"plain id), so its student id is its file name {file.student_id!r} and it is not added up with the "
                    f"student's answer file (unless that says student: {file.student_id}); its report asks for the line"
                )
    return lines




def graded_file(
    result: Result, *, path: str = "", graded_at: str = "", grader_failed: bool = False
) -> GradedFile[PartResult]:
    """A Result as a :class:`GradedFile` (``path`` and ``graded_at`` from the gradebook row, when there is one)."""
    return GradedFile(
        name=result.submission,
        student_id=result.student_id,
        parts={part.key: part for part in result.parts},
        seed=result.seed,
        path=path,
        graded_at=graded_at,
        failed=grader_failed or result.error is not None,
        named_after_file=named_after_file(result.notes),
    )


def students_in(book: Gradebook, spec_hash: str) -> list[StudentGrade[PartResult]]:
    """The students of one sheet version in a gradebook (files in path order; each row's ``graded_at`` decides
    which of a student's files counts for a part). Files the grader itself failed on are left out, as in the
    statistics: they name no student and are graded again by the next batch."""
    files = []
    for row in book.rows(spec_hash):
        if row.grader_failed:
            continue
        result = book.result(row.path, spec_hash)
        if result is not None:
            files.append(graded_file(result, path=row.path, graded_at=row.graded_at, grader_failed=row.grader_failed))
    return by_student(files)


def conflicts_in(book: Gradebook, spec_hash: str) -> list[str]:
    """The :meth:`StudentGrade.conflict` line of every student of one sheet version in a gradebook whose files
    grade the same parts (two answer files, or two code files, giving one id: a resubmission, or a classmate's id).

    A batch's summary calls this on every run, so only candidates' Results are read: an answer file and a code file
    grade different parts (:func:`grader.grading.parts_answered_by`), so a student with one of each, as a course
    has them, is no candidate."""
    from grader.submission.answer_file import is_code_file

    def kind(row: SubmissionRow) -> tuple[str, bool]:
        return unicodedata.normalize("NFC", row.student_id), is_code_file(row.path)

    rows = [row for row in book.rows(spec_hash) if row.student_id and not row.grader_failed]
    same_kind = Counter(kind(row) for row in rows)
    files = []
    for row in rows:
        if same_kind[kind(row)] > 1:
            result = book.result(row.path, spec_hash)
            if result is not None:
                files.append(graded_file(result, path=row.path, graded_at=row.graded_at))
    return [conflict for student in by_student(files) if (conflict := student.conflict()) is not None]


def sheet_points(sheet: Sheet) -> dict[str, float]:
    """``{part key: points}`` of a loaded sheet, in sheet order: the columns of a per-student table and, summed,
    the denominator of a student's score."""
    return {f"{exercise.id}.{part.id}": float(part.points) for exercise, part in sheet.parts()}


def cohort_points(students: Iterable[StudentGrade[P]]) -> float:
    """The points of every part some student's file graded (each key's largest points possible), summed: the
    sheet's total when no sheet is at hand and every part was graded at least once."""
    possible: dict[str, float] = {}
    for student in students:
        for file in student.files:
            for key, part in file.parts.items():
                possible[key] = max(possible.get(key, 0.0), part.points_possible)
    return round(sum(possible.values()), 6)
