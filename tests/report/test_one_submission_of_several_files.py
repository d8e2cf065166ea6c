"""A submission of several files (Gradescope's /autograder/submission: an answer file and a code file) gives one
results.json, HTML or JUnit report of them all, through the real CLI; a folder of many students' files does not."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest

import grader.report
from grader.report.gradescope import SCHEMA_FILE
from tests.conftest import Grader

ROOT = Path(__file__).resolve().parents[2]
SHEET = ROOT / "exercises" / "week7.yaml"
SAMPLES = ROOT / "submissions" / "week7"
SCHEMA = json.loads((Path(grader.report.__file__).parent / SCHEMA_FILE).read_text(encoding="utf-8"))


def _submission(tmp_path: Path, answer: str = "correct.yaml", code: str | None = "correct.py", student: str = "s-correct") -> Path:
    """One student's upload: the answer sample, and a code sample made to name the same student."""
    folder = tmp_path / "submission"
    folder.mkdir(parents=True)
    shutil.copy(SAMPLES / answer, folder / "answers.yaml")
    if code is not None:
        source = (SAMPLES / "code" / code).read_text(encoding="utf-8")
        (folder / "code.py").write_text(source.replace('STUDENT = "s-code-correct"', f'STUDENT = "{student}"'), encoding="utf-8")
    return folder


def _sheet_part_keys() -> list[str]:
    from grader.spec import load_sheet

    return [f"{exercise.id}.{part.id}" for exercise, part in load_sheet(SHEET).parts()]


def test_an_answer_file_and_a_code_file_make_one_gradescope_result(tmp_path: Path, grader: Grader) -> None:
    """It had refused ("writes one file per submission"), so a Gradescope assignment taking both files could score
    only one of them; the code file's tests were also numbered by its own exercises (ex3 as 2.1)."""
    out = tmp_path / "results.json"
    run = grader("grade", SHEET, _submission(tmp_path), "--format", "gradescope", "-o", out)
    assert run.code == 0, run.err
    data = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(data, SCHEMA)
    names = [test["name"].split()[0] for test in data["tests"]]
    assert names == _sheet_part_keys()  # every part, code ones included, in sheet order
    numbers = {test["name"].split()[0]: test["number"] for test in data["tests"]}
    assert numbers["ex3.code_conv2d"] == "3.8" and numbers["ex1.code_grad_w"] == "1.6" and numbers["ex1.a"] == "1.1"
    assert all(test["score"] == test["max_score"] for test in data["tests"])
    assert data["score"] == sum(test["max_score"] for test in data["tests"]) == data["extra_data"]["points_possible"]
    assert data["extra_data"]["student_id"] == "s-correct"
    assert data["extra_data"]["submission"] == "answers.yaml; code.py"


def test_a_broken_file_costs_its_own_parts_only(tmp_path: Path, grader: Grader) -> None:
    """A code file that is not UTF-8 scores 0 on the code parts (each says why); an answer file that is not YAML
    scores 0 on the answer parts and is named in the notes; the other file's parts count either way."""
    folder = _submission(tmp_path / "code", code=None)
    (folder / "code.py").write_bytes(b"\xff\xfe not python")  # an upload gone wrong
    run = grader("grade", SHEET, folder, "--format", "gradescope")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    jsonschema.validate(data, SCHEMA)
    code = [test for test in data["tests"] if ".code_" in test["name"].split()[0]]
    answers = [test for test in data["tests"] if ".code_" not in test["name"].split()[0]]
    assert code and all(test["score"] == 0 and "could not be imported" in test["output"] for test in code)
    assert answers and all(test["score"] == test["max_score"] for test in answers)

    folder = _submission(tmp_path / "answers")
    (folder / "answers.yaml").write_text("student: s-correct\nanswers: [unclosed\n", encoding="utf-8")
    run = grader("grade", SHEET, folder, "--format", "gradescope")
    assert run.code == 0, run.err
    assert "answers.yaml: could not be graded" in run.err  # stderr names each file, as for several submissions
    data = json.loads(run.out)
    jsonschema.validate(data, SCHEMA)
    code = [test for test in data["tests"] if ".code_" in test["name"].split()[0]]
    answers = [test for test in data["tests"] if ".code_" not in test["name"].split()[0]]
    assert code and all(test["score"] == test["max_score"] for test in code)
    assert answers and all(test["score"] == 0 for test in answers)
    assert "answers.yaml could not be graded: answers.yaml:" in data["output"]


def test_gradescope_never_asks_for_a_student_id(tmp_path: Path, grader: Grader) -> None:
    """Gradescope credits an upload to the account that made it: files without a student id (an answer file, a
    code file without its STUDENT line, or with an empty one) are graded without asking for one there, while the
    other formats still ask."""
    folder = tmp_path / "submission"
    folder.mkdir()
    answers = (SAMPLES / "correct.yaml").read_text(encoding="utf-8")
    (folder / "answers.yaml").write_text("\n".join(line for line in answers.splitlines() if not line.startswith("student:")) + "\n", encoding="utf-8")
    code = (SAMPLES / "code" / "correct.py").read_text(encoding="utf-8")
    for name, student_line in [("code.py", ""), ("empty_id.py", 'STUDENT = ""')]:
        (folder / name).write_text(code.replace('STUDENT = "s-code-correct"', student_line), encoding="utf-8")
    for files in ([folder / "answers.yaml"], [folder / "code.py"], [folder / "answers.yaml", folder / "code.py"], [folder / "empty_id.py"]):
        run = grader("grade", SHEET, *files, "--format", "gradescope")
        assert run.code == 0, run.err
        data = json.loads(run.out)
        jsonschema.validate(data, SCHEMA)
        assert "student" not in data["output"].lower(), data["output"]
        assert data["score"] == sum(test["score"] for test in data["tests"]) > 0
        text = grader("grade", SHEET, *files, "--format", "md" if len(files) == 1 else "html", "-o", tmp_path / "report").code
        assert text == 0
        shown = (tmp_path / "report").read_text(encoding="utf-8")
        assert "student id given" in shown or "STUDENT line" in shown, files


def test_placeholder_ids_do_not_stop_a_gradescope_submission(tmp_path: Path, grader: Grader) -> None:
    """A template's placeholder left in the code file: Gradescope's upload is still one submission, under the id of
    the file saved last; the report says so."""
    folder = _submission(tmp_path, student="s000000")
    os.utime(folder / "code.py", (1_000_000, 1_000_000))  # the code first, the answers later
    run = grader("grade", SHEET, folder, "--format", "gradescope")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert "the files name different students ('s000000', 's-correct'): graded as one submission, of 's-correct'" in data["output"]
    assert data["score"] == data["extra_data"]["points_possible"] and data["extra_data"]["student_id"] == "s-correct"


def test_of_two_answer_files_the_one_saved_last_counts_whatever_their_names(tmp_path: Path, grader: Grader) -> None:
    """By path, answers-v2.yaml (a fixed resubmission) sorts before answers.yaml ('-' before '.'), and the old file
    had counted."""
    folder = tmp_path / "upload"
    folder.mkdir()
    shutil.copy(SAMPLES / "mistake-sign-error--ex1-a.yaml", folder / "answers.yaml")
    shutil.copy(SAMPLES / "correct.yaml", folder / "answers-v2.yaml")
    os.utime(folder / "answers.yaml", (1_000_000, 1_000_000))
    os.utime(folder / "answers-v2.yaml", (2_000_000, 2_000_000))
    data = json.loads(grader("grade", SHEET, folder, "--format", "gradescope").out)
    scores = {test["name"].split()[0]: test["score"] for test in data["tests"]}
    assert scores["ex1.a"] == 3.0 and data["extra_data"]["student_id"] == "s-correct"
    assert "answers.yaml: its answers to ex1.a, ex1.b_dense, " in data["output"] and "replaced by those of answers-v2.yaml, saved later" in data["output"]
    os.utime(folder / "answers.yaml", (3_000_000, 3_000_000))  # the other way round
    data = json.loads(grader("grade", SHEET, folder, "--format", "gradescope").out)
    assert {test["name"].split()[0]: test["score"] for test in data["tests"]}["ex1.a"] < 3.0  # the sign error counts


def test_one_file_is_scored_out_of_the_whole_sheet_and_an_empty_upload_still_gets_a_result(tmp_path: Path, grader: Grader) -> None:
    """Gradescope's submission is the whole sheet: an answer file alone lists the code parts as missing (it had
    listed 35 tests out of 39, and a code file alone said "14/14 points (100%)"), numbered by the sheet's places;
    an upload with nothing to grade writes a results.json saying so (Gradescope otherwise says only that the
    autograder failed), and exits 2."""
    keys = _sheet_part_keys()
    for upload in (SAMPLES / "correct.yaml", SAMPLES / "code" / "correct.py"):
        data = json.loads(grader("grade", SHEET, upload, "--format", "gradescope").out)
        jsonschema.validate(data, SCHEMA)
        assert [test["name"].split()[0] for test in data["tests"]] == keys
        assert {test["name"].split()[0]: test["number"] for test in data["tests"]}["ex3.code_conv2d"] == "3.8"
        assert 0 < data["score"] < data["extra_data"]["points_possible"] == sum(test["max_score"] for test in data["tests"])
        assert "100%" not in data["output"]
    junk = tmp_path / "upload"
    junk.mkdir()
    (junk / "answers.yaml.txt").write_text("student: s1\n", encoding="utf-8")
    out = tmp_path / "results" / "results.json"
    run = grader("grade", SHEET, junk, "--format", "gradescope", "-o", out)
    assert run.code == 2 and "nothing to grade" in run.err
    data = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(data, SCHEMA)
    assert data["score"] == 0 and [test["name"].split()[0] for test in data["tests"]] == keys
    assert "nothing to grade: the submission has no answer file (.yaml, .yml, .json) and no code file (.py, .ipynb); it holds answers.yaml.txt" in data["output"]
    plain = grader("grade", SHEET, junk)  # other formats: the error alone, as before
    assert plain.code == 2 and plain.out == "" and "no submissions found in" in plain.err


def test_a_gradescope_upload_naming_three_students_still_gets_one_result(tmp_path: Path, grader: Grader) -> None:
    """A typo in one answer file's id, fixed in another, and a template's placeholder in the code: still one
    submission (Gradescope shows only "the autograder failed" without a results.json); the report names the ids."""
    folder = _submission(tmp_path, student="s000000")
    shutil.copy(SAMPLES / "mistake-sign-error--ex1-a.yaml", folder / "answers-old.yaml")
    run = grader("grade", SHEET, folder, "--format", "gradescope")
    assert run.code == 0, run.err
    assert "the files name different students (" in json.loads(run.out)["output"]


@pytest.mark.parametrize("fmt", ["html", "junit"])
def test_one_students_files_make_one_report_and_many_students_are_refused(tmp_path: Path, grader: Grader, fmt: str) -> None:
    run = grader("grade", SHEET, _submission(tmp_path), "--format", fmt)
    assert run.code == 0, run.err
    assert "code_conv2d" in run.out and "b_pool" in run.out
    many = tmp_path / "cohort"
    many.mkdir()
    shutil.copy(SAMPLES / "correct.yaml", many / "a.yaml")
    shutil.copy(SAMPLES / "mistake-sign-error--ex1-a.yaml", many / "b.yaml")
    refused = grader("grade", SHEET, many, "--format", fmt)
    assert refused.code == 2 and refused.out == ""
    assert f"--format {fmt} writes one report per submission, and these files name 2 students" in refused.err
    assert f"grader batch --format {fmt} --out-dir DIR" in refused.err
