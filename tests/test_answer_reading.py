"""Real answer files, graded end to end: misspelled ids are named with a suggestion, answers that cannot be read
are shown as written, a formula part's key reads as sentences, hidden parts say only passed / not passed to
students, and a student-side ``grader check`` says when a hidden answer is missing or unreadable -- from the
student's text alone, never from the key."""

from __future__ import annotations

import copy
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from grader.answers import ANSWER_TYPES, AnswerSpec
from grader.cli import app
from grader.gradebook import Gradebook
from grader.grading import grade_submission
from grader.text import ANSWER_TEXT_LIMIT, answer_text
from grader.report import FORMATS, render
from grader.result import PartResult, Result, Status, Visibility
from grader.spec import load_sheet
from grader.spec.loader import Sheet

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"
CORRECT = ROOT / "submissions" / "week7" / "correct.yaml"
HUMAN_FORMATS = ("text", "md", "html", "junit", "gradescope")

runner = CliRunner()


@pytest.fixture(scope="module")
def sheet() -> Sheet:
    return load_sheet(WEEK7)


@pytest.fixture(scope="module")
def correct() -> dict[str, Any]:
    return yaml.safe_load(CORRECT.read_text(encoding="utf-8"))


def answer_file(tmp_path: Path, base: dict[str, Any], edits: dict[str, Any] | None = None,
                drop: tuple[str, ...] = (), rename: dict[str, str] | None = None, name: str = "answers.yaml") -> Path:
    """``base`` with ``edits`` ({"ex2.b_check_p": 1.5}), ``drop``ped parts and ``rename``d ids ("ex3.b_pool": "b_pol")."""
    data = copy.deepcopy(base)
    for key, value in (edits or {}).items():
        exercise, part = key.split(".")
        data["answers"].setdefault(exercise, {})[part] = value
    for key in drop:
        exercise, part = key.split(".")
        del data["answers"][exercise][part]
    for key, new in (rename or {}).items():
        exercise, part = key.split(".")
        answers = data["answers"][exercise]
        data["answers"][exercise] = {(new if k == part else k): v for k, v in answers.items()}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def cli(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def part(result: Result, key: str) -> PartResult:
    return next(p for p in result.parts if p.key == key)


# ---------------------------------------------------------------------------------------------- 1. misspelled ids


def test_a_misspelled_part_id_is_named_with_a_suggestion_in_the_text_report(tmp_path: Path, correct: dict) -> None:
    path = answer_file(tmp_path, correct, rename={"ex3.b_pool": "b_pol"})
    output = cli("check", str(WEEK7), str(path)).stdout
    assert "answers.ex3.b_pol: exercise 'ex3' has no part 'b_pol'; did you mean 'b_pool'?" in output
    missing = output.split("[missing] ex3.b_pool", 1)[1].split("\n[", 1)[0]
    assert "'b_pol'" in " ".join(missing.split())  # the missing part names what was written instead


@pytest.mark.parametrize("fmt", HUMAN_FORMATS)
def test_notes_reach_every_human_readable_format(tmp_path: Path, correct: dict, sheet: Sheet, fmt: str) -> None:
    path = answer_file(tmp_path, correct, rename={"ex3.b_pool": "b_pol"})
    output = render(grade_submission(sheet, path, mode="check"), fmt)
    output = output.replace("&#x27;", "'").replace("\\_", "_")
    assert "did you mean 'b_pool'?" in output, fmt


def test_suggestions_for_exercises_parts_in_the_wrong_exercise_and_code_parts(tmp_path: Path, correct: dict,
                                                                             sheet: Sheet) -> None:
    data = copy.deepcopy(correct)
    data["answers"]["exx3"] = {"a": "2x2x2"}
    data["answers"]["ex2"]["b_pool"] = [[7, 9], [5, 7]]
    data["answers"]["ex3"]["code_conv2d"] = "def conv2d(): ..."
    data["answers"]["ex3"]["B_Conv_"] = 1
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    notes = grade_submission(sheet, path).notes
    assert any(n.startswith("answers.exx3:") and "did you mean 'ex3'?" in n for n in notes), notes
    assert any(n.startswith("answers.ex2.b_pool:") and "did you mean ex3.b_pool?" in n for n in notes), notes
    assert any(n.startswith("answers.ex3.code_conv2d:") and "code part" in n and ".py" in n for n in notes), notes
    assert any(n.startswith("answers.ex3.B_Conv_:") and "did you mean 'b_conv'?" in n for n in notes), notes
    assert len(notes) == 4


def test_an_id_with_invisible_characters_shows_them(tmp_path: Path, correct: dict, sheet: Sheet) -> None:
    """'a_set_a ' (a trailing space) and 'a_set_b' with a zero-width space are not the parts they look like: the note
    shows the space inside the quotes and the invisible character escaped, so it does not contradict itself."""
    path = answer_file(tmp_path, correct, rename={"ex2.a_set_a": "a_set_a ", "ex2.a_set_b": "a_set_b\u200b"})
    notes = grade_submission(sheet, path).notes
    assert any("has no part 'a_set_a '; did you mean 'a_set_a'?" in n for n in notes), notes
    assert any("has no part 'a_set_b\\u200b'; did you mean 'a_set_b'?" in n for n in notes), notes


def test_an_id_like_nothing_gets_no_suggestion(tmp_path: Path, correct: dict, sheet: Sheet) -> None:
    path = answer_file(tmp_path, correct, edits={"ex3.zzzz": 1})
    (note,) = grade_submission(sheet, path).notes
    assert "did you mean" not in note and "has no part 'zzzz'" in note


# ---------------------------------------------------------------------------------------------- 2. unreadable answers

UNREADABLE = {
    "ex2.b_check_p": (1.5, "1.5"),
    "ex3.d_exists": ("maybe", "maybe"),
    "ex4.t_f2": ("cos(0.5", "cos(0.5"),
    "ex2.a_formula": ("(n + 2p - f)/s + 1", "(n + 2p - f)/s + 1"),
    "ex3.b_pool": ([[7, "x"], [5, 7]], '[[7, "x"], [5, 7]]'),
}


def test_unreadable_answers_keep_what_the_student_wrote(tmp_path: Path, correct: dict, sheet: Sheet) -> None:
    path = answer_file(tmp_path, correct, edits={k: raw for k, (raw, _) in UNREADABLE.items()})
    result = grade_submission(sheet, path)
    for key, (_, shown) in UNREADABLE.items():
        graded = part(result, key)
        assert graded.status is Status.invalid, key
        assert graded.actual is None and graded.answer_text == shown, key
        assert graded.answer_error and graded.answer_error in (graded.feedback, f"cannot be read: {graded.feedback}")
    text = render(result, "text")
    block = text.split("ex2.b_check_p", 1)[1].split("\n[", 1)[0]
    assert "Your answer (as written):\n    1.5\n" in block and "(none)" not in block
    data = json.loads(cli("grade", str(WEEK7), str(path), "--format", "json").stdout)["result"]
    by_key = {p["key"]: p for p in data["parts"]}
    assert by_key["ex3.d_exists"]["actual"] is None and by_key["ex3.d_exists"]["answer_text"] == "maybe"
    assert by_key["ex2.a_set_a"]["answer_text"] is None and by_key["ex2.a_set_a"]["answer_error"] == ""


def test_read_answers_and_missing_ones_carry_no_answer_text(tmp_path: Path, correct: dict, sheet: Sheet) -> None:
    path = answer_file(tmp_path, correct, drop=("ex2.b_check_p",), edits={"ex2.a_set_a": "   "})
    result = grade_submission(sheet, path)
    for key in ("ex2.b_check_p", "ex2.a_set_a"):
        assert part(result, key).status is Status.missing
        assert part(result, key).answer_text is None and part(result, key).answer_error == "no answer given"
    assert all(p.answer_text is None and not p.answer_error for p in result.parts if p.status is Status.correct)


def test_answer_text_is_bounded_and_printable() -> None:
    long = answer_text("x" * 100_000)
    assert len(long) == ANSWER_TEXT_LIMIT and long.endswith("...")
    assert answer_text("a\x1bb\u202ec\x00") == "a\\x1bb\\u202ec\\x00"
    assert answer_text([[1, True, None, "q\"t"]] * 1000).startswith('[[1, true, null, "q\\"t"], [')
    assert len(answer_text(list(range(10**6)))) == ANSWER_TEXT_LIMIT
    assert answer_text({"a": 1.5, 2: [float("nan")]}) == '{"a": 1.5, 2: [nan]}'
    assert answer_text(10**5000).startswith("(a whole number of about")
    assert len(answer_text("\x1b" * 500)) <= ANSWER_TEXT_LIMIT


def test_unreadable_answers_survive_the_gradebook_and_old_rows_still_load(tmp_path: Path, correct: dict,
                                                                          sheet: Sheet) -> None:
    path = answer_file(tmp_path, correct, edits={"ex2.b_check_p": 1.5, "ex2.a_set_d": "fifty-five"})
    result = grade_submission(sheet, path)
    with Gradebook(tmp_path / "gb.sqlite") as gradebook:
        gradebook.record(result, str(path))
        stored = gradebook.result(str(path), sheet.id)
    assert stored == result
    assert part(stored, "ex2.b_check_p").answer_text == "1.5"
    # A row written before answer_text/answer_error existed.
    old = json.loads(result.model_dump_json(exclude_computed_fields=True))
    for item in old["parts"]:
        del item["answer_text"], item["answer_error"]
    loaded = Result.model_validate_json(json.dumps(old))
    assert part(loaded, "ex2.b_check_p").answer_text is None
    for fmt in FORMATS:
        render(loaded, fmt)


# ---------------------------------------------------------------------------------------------- 3. formula keys


def test_a_formula_key_reads_as_sentences_in_every_format(tmp_path: Path, correct: dict, sheet: Sheet) -> None:
    path = answer_file(tmp_path, correct, edits={"ex2.a_formula": "(n + 2p - f)/s + 1", "ex2.b_formula": "f - 1"})
    result = grade_submission(sheet, path)
    for fmt in HUMAN_FORMATS:
        output = render(result, fmt).replace("&quot;", '"')
        assert '{"at"' not in output and '"s"...' not in output, fmt
        assert "at n=55, f=9, s=2, p=0 the reference gives 24" in output, fmt
        assert "at f=13 the reference gives 6" in output, fmt


def test_formula_sample_points_are_distinct(sheet: Sheet) -> None:
    from grader.key import answer_key

    key = answer_key(sheet)
    for exercise, spec in sheet.parts():
        if spec.answer.type in ("formula", "graph"):
            points = [json.dumps(p["at"], sort_keys=True) for p in key.expected_json(exercise.id, spec.id)]
            assert len(points) == len(set(points)) == 5, spec.id


# ---------------------------------------------------------------------------------------------- 4. hidden statuses

MINI = """
id: mini
title: A small sheet with hidden parts
exercises:
  - id: ex1
    title: Sizes
    inputs:
      n: {value: 9, description: "n"}
      f: {value: 3, description: "f"}
      s: {value: 2, description: "s"}
      one: {value: 1, show: false}
      zero: {value: 0, show: false}
      grid: {value: [[1, 2], [3, 4]], description: "a grid"}
    quantities:
      size: {op: conv_output_size, n: $n, f: $f, stride: $s, padding: $zero}
    parts:
      - id: width
        prompt: "a. The output width."
        points: 1
        answer: {type: integer}
        expected: $size
      - id: hidden_width
        prompt: "b. The output width again."
        points: 2
        visibility: hidden
        answer: {type: integer}
        expected: $size
        mistakes:
          - id: no-stride
            expected: {op: conv_output_size, n: $n, f: $f, stride: $one, padding: $zero}
            feedback: "You ignored the stride."
            credit: 0.5
      - id: hidden_grid
        prompt: "c. The grid."
        points: 1
        visibility: hidden
        answer: {type: array}
        expected: $grid
"""


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    path = tmp_path / "mini.yaml"
    path.write_text(MINI, encoding="utf-8")
    return path


def test_hidden_parts_are_passed_or_not_passed_in_student_json_and_gradescope(tmp_path: Path, mini: Path) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text("student: s1\nanswers:\n  ex1: {width: 4, hidden_width: 7, hidden_grid: [1, 2, 3]}\n")
    result = grade_submission(load_sheet(mini), answers)
    assert (part(result, "ex1.hidden_width").status, part(result, "ex1.hidden_grid").status) == (Status.partial, Status.invalid)
    student = {p["key"]: p for p in json.loads(cli("grade", str(mini), str(answers), "--format", "json").stdout)["result"]["parts"]}
    assert student["ex1.hidden_width"]["status"] == "incorrect" and student["ex1.hidden_width"]["points_earned"] == 1.0
    assert student["ex1.hidden_grid"]["status"] == "incorrect"
    assert student["ex1.hidden_grid"]["answer_error"] == ""  # a wrong shape is found against the key: not shown
    tests = json.loads(cli("grade", str(mini), str(answers), "--format", "gradescope").stdout)["tests"]
    assert [t["extra_data"]["status"] for t in tests] == ["correct", "incorrect", "incorrect"]
    instructor = json.loads(render(result, "gradescope", audience="instructor"))["tests"]
    assert [t["extra_data"]["status"] for t in instructor] == ["correct", "partial", "invalid"]
    for fmt in FORMATS:
        output = render(result, fmt)
        assert "stride" not in output and "(2, 2)" not in output and "2x2" not in output, fmt


# ---------------------------------------------------------------------------------------------- 5. check mode


def test_check_mode_says_when_hidden_answers_are_missing_or_unreadable(tmp_path: Path, correct: dict) -> None:
    path = answer_file(tmp_path, correct, drop=("ex1.b_unusual",), edits={"ex2.a_set_d": "fifty-five"})
    output = cli("check", str(WEEK7), str(path)).stdout
    verdict = " ".join(output.split("\n\n", 1)[0].split())
    assert "2 hidden answers are missing or cannot be read (ex1.b_unusual, ex2.a_set_d)" in verdict
    assert "All visible checks passed" not in verdict
    unusual = output.split("ex1.b_unusual (hidden)", 1)[1].split("\n[", 1)[0]
    assert "no answer given" in unusual
    set_d = output.split("ex2.a_set_d (hidden)", 1)[1].split("\n[", 1)[0]
    assert "cannot read 'fifty-five'" in set_d and "Your answer (as written):\n    fifty-five" in set_d
    assert "55" not in set_d.replace("fifty-five", "")  # nothing of the key (the width is 55)
    data = json.loads(cli("check", str(WEEK7), str(path), "--format", "json").stdout)["result"]
    hidden = {p["key"]: p for p in data["parts"] if p["visibility"] == "hidden"}
    assert {p["status"] for p in hidden.values()} == {"pending"}
    assert hidden["ex1.b_unusual"]["answer_error"] == "no answer given"
    assert hidden["ex2.a_set_d"]["answer_text"] == "fifty-five"
    assert all(p["expected"] is None and p["points_earned"] == 0 for p in hidden.values())


def test_check_mode_with_readable_hidden_answers_still_says_all_visible_checks_passed(sheet: Sheet) -> None:
    result = grade_submission(sheet, CORRECT, mode="check")
    hidden = [p for p in result.parts if p.visibility is Visibility.hidden]
    assert hidden and all(p.status is Status.pending and not p.answer_error for p in hidden)
    assert "All visible checks passed." in render(result, "text")


def test_check_mode_reading_of_hidden_answers_does_not_depend_on_the_key(tmp_path: Path, correct: dict,
                                                                         sheet: Sheet) -> None:
    """The same hidden answers checked against two variants (two different keys) read the same."""
    edits = {"ex2.a_set_d": "fifty-five", "ex1.b_unusual": 0.125}
    shown = []
    for seed in (None, 1, 2):
        data = copy.deepcopy(correct)
        if seed is not None:
            data["seed"] = seed
        path = answer_file(tmp_path, data, edits=edits, name=f"s{seed}.yaml")
        result = grade_submission(sheet, path, mode="check")
        shown.append([(p.key, p.status, p.actual, p.answer_text, p.answer_error, p.feedback)
                      for p in result.parts if p.visibility is Visibility.hidden])
    assert shown[0] == shown[1] == shown[2]


def test_every_answer_types_parse_sees_only_the_raw_answer() -> None:
    """What makes check-mode reading safe: parse(raw) gets nothing of the key, and no type changes the ladder
    (is_missing -> parse -> check) that grading relies on."""
    for name, cls in ANSWER_TYPES.items():
        assert list(inspect.signature(cls.parse).parameters) == ["self", "raw"], name
        assert cls.grade is AnswerSpec.grade and cls.is_missing is AnswerSpec.is_missing, name


@pytest.mark.parametrize("raw", [None, "  ", "fifty-five", 1.5, [1, "x"], {"a": None}, True])
def test_reading_an_answer_agrees_with_grading_on_every_part(sheet: Sheet, raw: Any) -> None:
    from grader.grading import check_context, judge
    from grader.key import answer_key

    key = answer_key(sheet)
    for exercise, spec in sheet.parts():
        if spec.answer.type == "code":
            continue
        actual, unread = spec.answer.read(raw)
        graded, verdict = judge(spec.answer, spec, raw, key.part(exercise.id, spec.id),
                                check_context(sheet, exercise.id, spec.id))
        assert (unread is None) == (graded is not None), (spec.id, raw)
        if unread is not None:
            assert verdict.status in (Status.missing, Status.invalid) and verdict == unread, (spec.id, raw)


def test_full_mode_tells_students_why_a_hidden_answer_scored_nothing(tmp_path: Path, correct: dict,
                                                                     sheet: Sheet) -> None:
    path = answer_file(tmp_path, correct, drop=("ex1.b_unusual",), edits={"ex2.a_set_d": "fifty-five"})
    result = grade_submission(sheet, path)
    assert part(result, "ex1.b_unusual").status is Status.missing
    assert part(result, "ex2.a_set_d").status is Status.invalid
    text = render(result, "text")
    assert "2 hidden answers are missing or cannot be read" in text
    assert "[not passed] ex2.a_set_d (hidden)" in text and "cannot read 'fifty-five'" in text


def test_odd_ids_in_notes_are_escaped_once_and_never_stripped(tmp_path: Path) -> None:
    path = tmp_path / "odd.json"
    path.write_text(json.dumps({"student": "s", "answers": {"ex1": {"b_unusual\n": 1, "\u202eevil": 2}}}), encoding="utf-8")
    notes = grade_submission(load_sheet(WEEK7), path).notes
    assert any("no part 'b_unusual\\n'; did you mean 'b_unusual'?" in note for note in notes), notes
    assert any("answers.ex1.\\u202eevil: exercise 'ex1' has no part '\\u202eevil'" in note for note in notes), notes
