"""The "by student" merge (``grader.cohort``) that the CSV and the cohort statistics share: its rules one by one."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.cohort import GradedFile, by_student, cohort_points, graded_file, merge_warnings, sheet_points
from grader.spec import load_sheet
from tests.batch.helpers import make_result

ROOT = Path(__file__).resolve().parents[1]
POINTS = {"ex1.a": 2.0, "ex1.b": 1.0, "ex2.a": 3.0}


def file(student: str, fractions: dict[str, float], name: str, *, path: str = "", graded_at: str = "",
         error: str | None = None, seed: int | None = None) -> GradedFile:
    result = make_result(student, fractions, submission=name, error=error, points=POINTS)
    return graded_file(result.model_copy(update={"seed": seed}), path=path or f"/subs/{name}", graded_at=graded_at)


def test_an_answer_file_and_a_code_file_add_up() -> None:
    answers = file("s1", {"ex1.a": 1.0, "ex1.b": 0.5}, "s1.yaml", seed=7, graded_at="2025-01-01T10:00:00+00:00")
    code = file("s1", {"ex2.a": 0.5}, "s1.py", graded_at="2025-01-01T11:00:00+00:00")  # no seed, graded later
    [student] = by_student([code, answers])
    assert student.student_id == "s1" and student.files == (code, answers)
    assert list(student.parts) == ["ex2.a", "ex1.a", "ex1.b"]  # as the files list them, in input order
    assert student.points_earned == pytest.approx(2 + 0.5 + 1.5) and student.points_possible == 6
    assert student.seed == 7  # the answer file's, though the code file was graded last
    assert student.submission == "s1.py; s1.yaml"
    assert student.conflict() is None and student.ignored == []


def test_of_two_files_grading_a_part_the_one_graded_last_counts_then_the_greater_path() -> None:
    early = file("s1", {"ex1.a": 1.0, "ex1.b": 1.0}, "z.yaml", graded_at="2025-01-01T10:00:00+00:00")
    late = file("s1", {"ex1.a": 0.0, "ex1.b": 0.0}, "a.yaml", graded_at="2025-01-02T10:00:00+00:00")
    [student] = by_student([late, early])
    assert student.points_earned == 0 and student.sources["ex1.a"] is late
    assert student.ignored == [early] and student.submission == "a.yaml; z.yaml (ignored)"
    assert student.conflict() == (
        "student 's1' handed in several files grading the same parts; the one graded last counts: "
        "used a.yaml; ignored z.yaml"
    )
    # Graded in the same second: the greater path counts; without times or paths, the later in the input.
    same = "2025-01-01T10:00:00+00:00"
    [student] = by_student([file("s1", {"ex1.a": 0.0}, "b.yaml", graded_at=same),
                            file("s1", {"ex1.a": 1.0}, "a.yaml", graded_at=same)])
    assert student.sources["ex1.a"].name == "b.yaml"
    bare = [graded_file(make_result("s1", {"ex1.a": f}, points=POINTS)) for f in (1.0, 0.5)]
    assert by_student(bare)[0].parts["ex1.a"].points_earned == 1.0


def test_a_partly_superseded_file_is_named_with_the_parts_ignored() -> None:
    old = file("s1", {"ex1.a": 1.0, "ex1.b": 1.0}, "answers.yaml", path="/subs/old/answers.yaml",
               graded_at="2025-01-01T10:00:00+00:00")
    new = file("s1", {"ex1.b": 0.0}, "answers.yaml", path="/subs/new/answers.yaml",
               graded_at="2025-01-02T10:00:00+00:00")
    [student] = by_student([new, old])
    assert student.points_earned == 2.0  # ex1.a from the old file, ex1.b from the new one
    assert student.used == [new, old] and student.ignored == []
    message = student.conflict()
    assert message is not None  # files of one name are told apart by their paths
    listed, hint = message.split("; files of this id lie in separate folders")  # old/, new/: two students' folders?
    assert listed.endswith("used /subs/new/answers.yaml, /subs/old/answers.yaml; ignored the parts ex1.b of /subs/old/answers.yaml")
    assert "--student-from" in hint


def test_files_without_a_student_id_are_students_of_their_own() -> None:
    broken = [file("", {"ex1.a": 0.0, "ex1.b": 0.0, "ex2.a": 0.0}, "answers.yaml", path=f"/subs/{who}/answers.yaml",
                    error="not YAML") for who in ("x", "y")]
    good = file("s1", {"ex1.a": 1.0}, "s1.yaml")
    students = by_student([broken[0], good, broken[1]])
    assert [(s.student_id, s.files) for s in students] == [("", (broken[0],)), ("s1", (good,)), ("", (broken[1],))]
    assert [s.unreadable for s in students] == [True, False, True]
    assert students[0].points_possible == 6 and students[0].points_earned == 0  # its parts, all 0, are shown


def test_a_file_that_could_not_be_graded_never_replaces_a_graded_one() -> None:
    good = file("s1", {"ex1.a": 1.0}, "s1.yaml", graded_at="2025-01-01T10:00:00+00:00")
    broken = file("s1", {"ex1.a": 0.0}, "s1-again.yaml", error="not YAML", graded_at="2025-01-02T10:00:00+00:00")
    [student] = by_student([good, broken])
    assert student.parts["ex1.a"].points_earned == 2.0 and not student.unreadable
    assert student.ignored == [broken] and student.conflict() is None


def test_the_sheets_points_and_the_cohorts_points() -> None:
    sheet = load_sheet(ROOT / "exercises" / "week7.yaml")
    points = sheet_points(sheet)
    assert list(points) == sheet.part_keys() and sum(points.values()) == 66
    students = by_student([file("s1", {"ex1.a": 1.0}, "a.yaml"), file("s2", {"ex2.a": 0.0}, "b.py")])
    assert cohort_points(students) == 5  # ex1.a and ex2.a; nobody graded ex1.b


def test_a_conflict_between_separate_folders_points_to_student_from() -> None:
    """Two students' folders holding files under one id: likely one handing in under the other's id."""
    time = "2025-01-01T10:00:00+00:00"
    apart = [file("s1", {"ex1.a": 1.0}, "a.yaml", path="/subs/alice/a.yaml", graded_at=time),
             file("s1", {"ex1.a": 0.0}, "a.yaml", path="/subs/bob/a.yaml", graded_at=time)]
    nested = [file("s1", {"ex1.a": 1.0}, "a.yaml", path="/subs/alice/a.yaml", graded_at=time),
              file("s1", {"ex1.a": 0.0}, "a.yaml", path="/subs/alice/v2/a.yaml", graded_at=time)]
    [student] = by_student(apart)
    assert (student.conflict() or "").endswith("whatever id it gives") and "--student-from` and a pattern" in (student.conflict() or "")
    [student] = by_student(nested)
    assert "--student-from" not in (student.conflict() or "x")
    # An answer file in answers/ and a code file in code/ grade other parts: their folders say nothing.
    mixed = [file("s1", {"ex1.a": 1.0}, "a1.yaml", path="/subs/answers/a1.yaml", graded_at=time),
             file("s1", {"ex1.a": 0.0}, "a2.yaml", path="/subs/answers/a2.yaml", graded_at=time),
             file("s1", {"ex2.a": 1.0}, "s1.py", path="/subs/code/s1.py", graded_at=time)]
    [student] = by_student(mixed)
    assert student.conflict() is not None and "--student-from" not in (student.conflict() or "")


def test_answers_split_over_two_files_add_up_and_a_later_file_leaving_a_part_out_keeps_the_earlier_answer() -> None:
    """An answer file has a row for every answer part, "missing" for those it leaves out; that row had replaced the
    answer of an earlier file, so a student who split the sheet over two files lost the first file's points."""
    def missing(graded: GradedFile, keys: list[str]) -> GradedFile:
        parts = {key: part.model_copy(update={"status": "missing", "points_earned": 0.0}) if key in keys else part
                 for key, part in graded.parts.items()}
        return GradedFile(name=graded.name, student_id=graded.student_id, parts=parts, seed=graded.seed,
                          path=graded.path, graded_at=graded.graded_at)

    first = missing(file("bob", {"ex1.a": 1.0, "ex1.b": 1.0, "ex2.a": 0.0}, "part1.yaml", graded_at="2025-01-01T10:00:00+00:00"), ["ex2.a"])
    second = missing(file("bob", {"ex1.a": 0.0, "ex1.b": 0.0, "ex2.a": 1.0}, "part2.yaml", graded_at="2025-01-02T10:00:00+00:00"), ["ex1.a", "ex1.b"])
    [student] = by_student([first, second])
    assert student.points_earned == 2 + 1 + 3
    assert student.sources["ex1.a"] is first and student.sources["ex2.a"] is second
    assert student.conflict() is None and student.submission == "part1.yaml; part2.yaml"


def test_ids_that_differ_only_in_unicode_form_are_one_student_and_in_case_are_named() -> None:
    """José typed with a combining accent (as macOS may) in one file and precomposed in the other had made two
    students silently; ids that differ in letter case stay two students, with a warning."""
    decomposed, composed = "Jose\u0301", "Jos\u00e9"
    [student] = by_student([file(decomposed, {"ex1.a": 1.0}, "jose.yaml"), file(composed, {"ex2.a": 1.0}, "jose.py")])
    assert student.student_id == composed and student.points_earned == 2 + 3
    students = by_student([file("Alice", {"ex1.a": 1.0}, "a.yaml"), file("alice", {"ex2.a": 1.0}, "a.py")])
    assert [s.student_id for s in students] == ["Alice", "alice"]
    assert merge_warnings(students) == [
        "student ids 'Alice', 'alice' differ only in letter case: they are counted as 2 students (ids are compared "
        "exactly); if they are one, make the files give one id"
    ]
