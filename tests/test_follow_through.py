"""Error carried forward (``follow_through``): a part answered right for the student's own wrong answer to an
earlier part earns its credit, with feedback saying so; the sheet's author is told when a follow_through entry
cannot work. Everything runs through the real command line on real files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tests.conftest import ERROR_LINE, Grader, line_of, write

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"
SOFTMAX = ROOT / "exercises" / "softmax_regression.yaml"


def _graded(grader: Grader, sheet: Path, folder: Path, answers: dict[str, Any], *args: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The parts of ``grade --format json`` (or of ``check`` when args start with it) for these answers."""
    path = folder / "answers.yaml"
    path.write_text(yaml.safe_dump({"student": "s", "answers": answers}), encoding="utf-8")
    command = args[0] if args else "grade"
    run = grader(command, sheet, path, "--format", "json", *args[1:])
    assert run.code in (0, 1), run.err
    return {(p["exercise_id"], p["part_id"]): p for p in json.loads(run.out)["result"]["parts"]}


# ---- week 7: the width for the student's own padding ------------------------------------------------------------
@pytest.mark.parametrize("command", ["grade", "check"])
def test_a_width_right_for_the_students_own_padding_earns_the_point(grader: Grader, tmp_path: Path, command: str) -> None:
    """p-not-halved gives p = 2 (the key is 1); with p = 2 the width is (4 + 4 - 3) + 1 = 6 (the key is 4)."""
    parts = _graded(grader, WEEK7, tmp_path, {"ex2": {"b_check_p": 2, "b_check_size": 6}}, command)
    p, size = parts[("ex2", "b_check_p")], parts[("ex2", "b_check_size")]
    assert (p["points_earned"], p["mistake"]) == (0.0, "p-not-halved")  # the slip itself still costs its point
    assert (size["points_earned"], size["status"], size["mistake"]) == (1.0, "correct", None)
    right = json.loads(grader("solve", WEEK7, "--format", "json").out)["ex2"]["b_check_size"]  # the engine's width
    assert size["feedback"] == (
        "Right for your own answer to b_check_p (2), which was not right: this part uses that answer, so it earns all "
        f"its points. With the right b_check_p it is {right}"
    )
    assert size["details"] == []  # no "yours 6, expected 4" beside a part judged by the student's own p


@pytest.mark.parametrize(
    ("answers", "points", "status"),
    [
        ({"b_check_p": 1, "b_check_size": 6}, 0.0, "incorrect"),  # p is right: the key's width is the only right one
        ({"b_check_p": 2, "b_check_size": 4}, 1.0, "correct"),  # right anyway
        ({"b_check_p": 2, "b_check_size": 5}, 0.0, "incorrect"),  # right for neither p
        ({"b_check_p": "two", "b_check_size": 6}, 0.0, "incorrect"),  # p unreadable: nothing to follow
        ({"b_check_size": 6}, 0.0, "incorrect"),  # p missing
        ({"b_check_p": -3, "b_check_size": 6}, 0.0, "incorrect"),  # no width exists for p = -3 (the key fails)
    ],
)
def test_no_credit_without_a_wrong_readable_answer_that_the_width_fits(
    grader: Grader, tmp_path: Path, answers: dict[str, Any], points: float, status: str
) -> None:
    size = _graded(grader, WEEK7, tmp_path, {"ex2": answers})[("ex2", "b_check_size")]
    assert (size["points_earned"], size["status"]) == (points, status)
    assert "your own answer" not in size["feedback"]


def test_the_student_sheet_says_which_answers_a_part_follows(grader: Grader) -> None:
    run = grader("sheet", WEEK7)
    assert run.code == 0
    line = next(line for line in run.out.splitlines() if "If your b_check_p is wrong" in line)
    assert "an answer right for your own b_check_p still earns its points" in line
    assert sum("If your" in line for line in run.out.splitlines()) == 1  # only b_check_size follows another part


# ---- softmax regression: probabilities, loss and dL/dz for the student's own logits -------------------------------
def _softmax_following_the_logits(folder: Path) -> Path:
    """exercises/softmax_regression.yaml with the probabilities, the loss and dL/dz following a_logits (the shipped
    sheet does not: logits of zeros would make them trivial)."""
    single, batch = SOFTMAX.read_text(encoding="utf-8").split("  - id: batch\n")
    entry = "        follow_through: [{part: a_logits, replaces: z}]\n"
    for expected in ("\n        expected: $p\n", "\n        expected: $loss\n", "\n        expected: $dz\n"):
        assert single.count(expected) == 1, expected  # the part's own line (a mistake's is indented further)
        single = single.replace(expected, expected + entry)
    return write(folder, single + "  - id: batch\n" + batch, "softmax_following.yaml")


def test_a_consistent_chain_from_wrong_logits_earns_the_later_parts(grader: Grader, tmp_path: Path) -> None:
    """A student who forgot the bias computes z = x W and then, correctly for that z, p, L and dL/dz."""
    sheet = _softmax_following_the_logits(tmp_path)
    assert grader("validate", sheet).code == 0
    inputs = {name: np.asarray(value) for name, value in json.loads(grader("data", sheet).out)["inputs"]["single"].items()}
    z = inputs["x"] @ inputs["W"]  # no + b
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    label = int(inputs["label"])
    answers = {"single": {
        "a_logits": z.tolist(), "b_probabilities": p.tolist(), "c_loss": float(-np.log(p[label])),
        "d_dz": (p - np.eye(3)[label]).tolist(), "e_dW": np.outer(inputs["x"], p - np.eye(3)[label]).tolist(),
    }}
    parts = _graded(grader, sheet, tmp_path, answers)
    assert parts[("single", "a_logits")]["points_earned"] == 0
    for part_id in ("b_probabilities", "c_loss", "d_dz"):
        part = parts[("single", part_id)]
        assert (part["status"], part["points_earned"]) == ("correct", part["points_possible"]), part_id
        assert part["feedback"].startswith("Right for your own answer to a_logits, which was not right"), part["feedback"]
    # dL/dW has no follow_through (it is the gradient with respect to W, which the student's z does not carry)
    assert parts[("single", "e_dW")]["points_earned"] == 0
    # the shipped sheet follows nothing: the same file earns only what the key gives
    shipped = _graded(grader, SOFTMAX, tmp_path, answers)
    assert all("your own answer" not in part["feedback"] for part in shipped.values())


# ---- partial credit, hidden parts -------------------------------------------------------------------------------
CHAIN = """\
id: chain
validation_seeds: [1, 2]
exercises:
  - id: e
    inputs:
      x: {value: [1.0, 2.0], random: {dist: normal, shape: [2]}}
    quantities:
      y: {op: mul, a: $x, b: 3}
      s: {op: sum, x: {op: square, x: $y}}
    parts:
      - {id: a, prompt: y = 3x, points: 2, answer: {type: array}, expected: $y}
      - id: b
        prompt: the sum of the squares of y
        points: 4
        answer: {type: number}
        expected: $s
        follow_through:
          - {part: a, replaces: y, credit: 0.5}
"""


def test_partial_follow_through_credit(grader: Grader, tmp_path: Path) -> None:
    sheet = write(tmp_path, CHAIN)
    assert grader("validate", sheet).code == 0
    theirs = np.array([2.0, 4.0])  # y = 2x instead of 3x
    part = _graded(grader, sheet, tmp_path, {"e": {"a": theirs.tolist(), "b": float((theirs**2).sum())}})[("e", "b")]
    assert (part["status"], part["points_earned"]) == ("partial", 2.0)
    right = json.loads(grader("solve", sheet, "--format", "json").out)["e"]["b"]
    assert f"so it earns 0.5 of its points. With the right a it is {right:g}" in part["feedback"]


def test_a_hidden_part_that_follows_says_only_passed(grader: Grader, tmp_path: Path) -> None:
    text = CHAIN.replace("credit: 0.5}", "credit: 1}").replace("        points: 4\n", "        points: 4\n        visibility: hidden\n")
    sheet = write(tmp_path, text)
    assert grader("validate", sheet).code == 0
    followed = _graded(grader, sheet, tmp_path, {"e": {"a": [2.0, 4.0], "b": 20.0}})[("e", "b")]
    right = _graded(grader, sheet, tmp_path, {"e": {"a": [2.0, 4.0], "b": 45.0}})[("e", "b")]
    assert (followed["points_earned"], followed["status"]) == (4.0, "correct")
    assert followed["feedback"] == right["feedback"] and "your own" not in json.dumps(followed)  # told only "passed"
    assert followed["followed"] is None and right["followed"] is None  # nor which earlier answer it was judged by
    instructor = _graded(grader, sheet, tmp_path, {"e": {"a": [2.0, 4.0], "b": 20.0}}, "grade", "--audience", "instructor")
    assert (instructor[("e", "b")]["feedback"], instructor[("e", "b")]["followed"]) == ("passed", "a")
    # in check mode the hidden part is not graded at all
    pending = _graded(grader, sheet, tmp_path, {"e": {"a": [2.0, 4.0], "b": 20.0}}, "check")[("e", "b")]
    assert pending["status"] == "pending" and pending["points_earned"] == 0


HIDDEN_FOLLOWER = CHAIN.replace("credit: 0.5}", "credit: 1}").replace("        points: 4\n", "        points: 4\n        visibility: hidden\n")
FOLLOWED_LINE = "judged by the student's own answer to "


@pytest.mark.parametrize("fmt", ["text", "md", "html", "gradescope"])
def test_instructors_read_which_earlier_answer_a_part_was_credited_for_and_students_do_not(
    grader: Grader, tmp_path: Path, fmt: str
) -> None:
    """A hidden part credited by follow-through tells students only "passed"; the instructor's report of the same
    file says it was judged by the student's own answer to part a. A part judged by the key says nothing of it."""
    sheet = write(tmp_path, HIDDEN_FOLLOWER)
    path = tmp_path / "answers.yaml"
    reports = {}
    for name, b in (("followed", 20.0), ("right", 45.0)):  # for y = [2, 4]: its own sum of squares, and the key's
        path.write_text(yaml.safe_dump({"student": "s", "answers": {"e": {"a": [2.0, 4.0], "b": b}}}), encoding="utf-8")
        for audience in ("student", "instructor"):
            run = grader("grade", sheet, path, "--format", fmt, "--audience", audience)
            assert run.code in (0, 1), run.err
            # the part id as each format sets it: `a` in Markdown, <code>a</code> in HTML
            reports[(name, audience)] = run.out.replace("&#x27;", "'").replace("`", "").replace("<code>", "").replace("</code>", "")
    assert FOLLOWED_LINE + "a" in reports[("followed", "instructor")]
    assert FOLLOWED_LINE not in reports[("followed", "student")]
    assert FOLLOWED_LINE not in reports[("right", "instructor")] + reports[("right", "student")]


def test_stats_count_the_follow_through_credit_of_each_part(grader: Grader, tmp_path: Path) -> None:
    """Five files: three credited for their own wrong a, one right throughout, one wrong for both. ``stats`` counts
    3 of 5 for b from a, in text and in its HTML page; rows an older grader wrote are named, not counted, and graded
    again by the next batch; a sheet without follow_through has no such section."""
    sheet = write(tmp_path, CHAIN)
    folder = tmp_path / "submissions"
    folder.mkdir()
    x = np.array([1.0, 2.0])
    for index, (a, b) in enumerate([(2 * x, 20.0), (4 * x, 80.0), (x, 5.0), (3 * x, 45.0), (2 * x, 7.0)]):
        answers = {"e": {"a": a.tolist(), "b": b}}
        (folder / f"s{index}.yaml").write_text(yaml.safe_dump({"student": f"s{index}", "answers": answers}), encoding="utf-8")
    book, page = tmp_path / "gradebook.sqlite", tmp_path / "stats.html"
    assert grader("batch", sheet, folder, "--gradebook", book).code == 0
    run = grader("stats", sheet, "--gradebook", book, "--html", page)
    assert run.code == 0, run.err
    section = run.out.split("Credited by follow-through", 1)[1].splitlines()
    assert [line.split() for line in section[1:] if line.startswith("  ")] == [["e.b", "from", "a:", "3", "(60.0%)"]]
    assert "<td>e.b</td><td>a</td><td>3</td><td>60.0%</td>" in page.read_text(encoding="utf-8")

    # A gradebook an older grader wrote has no record of what its rows followed (the column is added empty, NULL):
    # stats says so instead of counting them as followed by none, and the next batch grades them again.
    with sqlite3.connect(book) as conn:
        conn.execute("UPDATE parts SET followed = NULL")
    conn.close()
    run = grader("stats", sheet, "--gradebook", book)
    assert "e.b   from a: 0 (0.0%)" in run.out
    assert "e.b: 5 submissions graded before follow-through credit was recorded are not counted" in run.out
    assert "graded 5 (0 could not be graded), skipped 0 unchanged" in grader("batch", sheet, folder, "--gradebook", book).out
    assert "e.b   from a: 3 (60.0%)" in grader("stats", sheet, "--gradebook", book).out
    assert "graded 0 (0 could not be graded), skipped 5 unchanged" in grader("batch", sheet, folder, "--gradebook", book).out

    plain = write(tmp_path, CHAIN.split("        follow_through:")[0], "plain.yaml")
    assert grader("batch", plain, folder, "--gradebook", tmp_path / "plain.sqlite").code == 0
    run = grader("stats", plain, "--gradebook", tmp_path / "plain.sqlite")
    assert run.code == 0 and "follow-through" not in run.out.lower()


CLASS_SHEET = """\
id: classes
exercises:
  - id: e
    inputs:
      p: {value: [0.1, 0.2, 0.6, 0.1]}
    quantities:
      pred: {op: argmax, x: $p}
    parts:
      - {id: a, prompt: the predicted class, points: 1, answer: {type: integer}, expected: $pred}
      - id: b
        prompt: the probability of the predicted class
        points: 1
        answer: {type: number}
        expected: {op: index, x: $p, at: [$pred]}
        follow_through: [{part: a, replaces: pred}]
"""


@pytest.mark.parametrize(("predicted", "credited"), [(3, True), (1, False), (-1, False), (4, False)])
def test_only_a_class_that_exists_is_followed(grader: Grader, tmp_path: Path, predicted: int, credited: bool) -> None:
    """p[3] = 0.1: the probability of class 3, a wrong but real class, earns b; class -1 is no class (Python would
    read it as the last, also 0.1), nor is 4; for class 1 the answer 0.1 is simply wrong."""
    sheet = write(tmp_path, CLASS_SHEET)
    assert grader("validate", sheet).code == 0
    part = _graded(grader, sheet, tmp_path, {"e": {"a": predicted, "b": 0.1}})[("e", "b")]
    assert (part["points_earned"], part["followed"]) == ((1.0, "a") if credited else (0.0, None))


# ---- the author's faults ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "field", "fragments"),
    [
        ("{part: zz, replaces: y}", "part", ["follow_through.part names no part 'zz' in exercise 'e'", "the other parts: a"]),
        ("{part: b, replaces: y}", "part", ["follow_through.part names this part itself"]),
        ("{part: a, replaces: yy}", "replaces", ["must name an input or quantity of exercise 'e'", "known: s, x, y"]),
        ("{part: a, replaces: x}", "replaces", ["with x set to the key of a, this part's key would be", "the answer to a is not x"]),
        ("{part: a, replaces: y, credit: 0}", "credit", ["greater than 0"]),
    ],
)
def test_a_follow_through_that_cannot_work_is_an_error_at_its_field(
    grader: Grader, tmp_path: Path, entry: str, field: str, fragments: list[str]
) -> None:
    text = CHAIN.replace("{part: a, replaces: y, credit: 0.5}", entry)
    sheet = write(tmp_path, text)
    run = grader("validate", sheet)
    assert run.code == 2
    [error] = [m for m in map(ERROR_LINE.match, run.err.splitlines()) if m]
    assert error["line"] == str(line_of(text, entry))
    assert error["path"].startswith("exercises[0].parts[1].follow_through[0]")
    assert error["path"].endswith(field)
    for fragment in fragments:
        assert fragment in error["message"], error["message"]


def test_a_follow_through_whose_value_the_key_ignores_is_an_error(grader: Grader, tmp_path: Path) -> None:
    """b's key does not use z (it is a sum of squares of y): setting z to anything changes nothing."""
    text = CHAIN.replace("      s: {op: sum", "      z: {op: mul, a: $x, b: 2}\n      s: {op: sum").replace(
        "{part: a, replaces: y, credit: 0.5}", "{part: a, replaces: z}"
    ).replace("expected: $y}", "expected: $z}")
    sheet = write(tmp_path, text)
    run = grader("validate", sheet)
    assert run.code == 2, run.out
    assert "this part's key does not change with z" in run.err and "[spec-follow-through]" in run.err


def test_a_visible_part_may_not_follow_a_hidden_one(grader: Grader, tmp_path: Path) -> None:
    text = CHAIN.replace("{id: a, prompt: y = 3x, points: 2,", "{id: a, prompt: y = 3x, points: 2, visibility: hidden,")
    sheet = write(tmp_path, text)
    run = grader("validate", sheet)
    assert run.code == 2
    assert "part 'a' is hidden: this visible part's feedback would tell whether the student's answer there was right" in run.err


def test_a_follow_through_from_a_part_that_is_no_value_is_an_error(grader: Grader, tmp_path: Path) -> None:
    text = CHAIN.replace(
        "      - {id: a, prompt: y = 3x, points: 2, answer: {type: array}, expected: $y}\n",
        "      - {id: a, prompt: y = 3x, points: 2, answer: {type: array}, expected: $y}\n"
        "      - {id: big, prompt: 'is y_0 > 0?', points: 1, answer: {type: boolean}, expected: {op: greater, a: {op: index, x: $y, at: [0]}, b: 0}}\n",
    ).replace("{part: a, replaces: y, credit: 0.5}", "{part: big, replaces: y}")
    sheet = write(tmp_path, text)
    run = grader("validate", sheet)
    assert run.code == 2
    assert "part 'big' has a 'boolean' answer, which cannot stand for a value" in run.err


def test_an_earlier_answer_of_another_shape_is_not_followed(grader: Grader, tmp_path: Path) -> None:
    """y has 2 entries; a y of 3 entries for which b is consistent earns nothing: another layout is no slip in a
    value (and the key is never recomputed for arrays of a size the student chooses)."""
    sheet = write(tmp_path, CHAIN)
    part = _graded(grader, sheet, tmp_path, {"e": {"a": [1.0, 2.0, 2.0], "b": 9.0}})[("e", "b")]
    assert (part["status"], part["points_earned"]) == ("incorrect", 0.0)
    same_shape = _graded(grader, sheet, tmp_path, {"e": {"a": [1.0, 2.0], "b": 5.0}})[("e", "b")]
    assert (same_shape["status"], same_shape["points_earned"]) == ("partial", 2.0)


# ---- review: what a first version got wrong -------------------------------------------------------------------------
LAZY = """\
id: lazy
exercises:
  - id: e
    inputs:
      image: {value: [[1, 2, 0], [0, 3, 1], [2, 0, 1]]}
      s: {value: 1.5}
    quantities:
      x: {op: reshape, x: $image, shape: [3, 3, 1]}
      t: {op: mul, a: $s, b: 2}
      y: {op: mul, a: $x, b: $t}
      moved: {op: shifted, of: $y, input: $image, dx: 1}
    parts:
      - {id: a, prompt: t = 2 s, points: 1, answer: {type: number}, expected: $t}
      - id: b
        prompt: y with the image moved right, minus y
        points: 1
        answer: {type: array}
        expected: {op: sub, a: $moved, b: $y}
        follow_through: [{part: a, replaces: t}]
"""


def test_the_students_value_holds_inside_ops_that_evaluate_again(grader: Grader, tmp_path: Path) -> None:
    """shifted evaluates 'of' again with the image moved; the student's t must hold there too (a first version mixed
    their t outside with the true t inside)."""
    sheet = write(tmp_path, LAZY)
    assert grader("validate", sheet).code == 0
    image = np.array([[1, 2, 0], [0, 3, 1], [2, 0, 1]], dtype=float)
    moved = np.zeros_like(image)
    moved[:, 1:] = image[:, :-1]
    theirs = ((moved - image) * 4.0)[:, :, None]  # right for t = 4
    part = _graded(grader, sheet, tmp_path, {"e": {"a": 4.0, "b": theirs.tolist()}})[("e", "b")]
    assert (part["status"], part["points_earned"]) == ("correct", 1.0), part["feedback"]


TOLERANT = """\
id: tol
exercises:
  - id: e
    inputs:
      s: {value: 0.7234}
    quantities:
      y: {op: exp, x: {op: mul, a: $s, b: 10}}
    parts:
      - {id: s1, prompt: s, points: 1, answer: {type: number, rel_tol: 0.01}, expected: $s}
      - id: y1
        prompt: exp(10 s)
        points: 3
        answer: {type: number, rel_tol: 1.0e-4}
        expected: $y
        follow_through: [{part: s1, replaces: s, credit: 0.5}]
"""


def test_an_earlier_answer_accepted_within_its_tolerance_is_followed_with_all_points(grader: Grader, tmp_path: Path) -> None:
    """s1 = 0.72 is accepted (1%); exp(7.2) is right for it but 3% off exp(7.234). It must not score less than the
    wrong s1 = 0.70 with exp(7.0), which the follow-through credits."""
    sheet = write(tmp_path, TOLERANT)
    accepted = _graded(grader, sheet, tmp_path, {"e": {"s1": 0.72, "y1": float(np.exp(7.2))}})
    wrong = _graded(grader, sheet, tmp_path, {"e": {"s1": 0.70, "y1": float(np.exp(7.0))}})
    assert (accepted[("e", "s1")]["status"], accepted[("e", "y1")]["points_earned"]) == ("correct", 3.0)
    assert "which was accepted within its tolerance" in accepted[("e", "y1")]["feedback"]
    assert wrong[("e", "y1")]["points_earned"] == 1.5  # credit 0.5 for a wrong s1
    exact = _graded(grader, sheet, tmp_path, {"e": {"s1": 0.7234, "y1": float(np.exp(7.2))}})
    assert exact[("e", "y1")]["points_earned"] == 0  # s1 exact: the key is the student's own


def test_the_best_of_several_entries_counts(grader: Grader, tmp_path: Path) -> None:
    text = CHAIN.replace(
        "      s: {op: sum, x: {op: square, x: $y}}\n",
        "      s: {op: sum, x: {op: square, x: $y}}\n      y2: {op: mul, a: $y, b: 1}\n",
    ).replace(
        "      - {id: a, prompt: y = 3x, points: 2, answer: {type: array}, expected: $y}\n",
        "      - {id: a, prompt: y = 3x, points: 2, answer: {type: array}, expected: $y}\n"
        "      - {id: a2, prompt: y again, points: 2, answer: {type: array}, expected: $y2}\n",
    ).replace(
        "expected: $s\n", "expected: {op: sum, x: {op: square, x: $y2}}\n"
    ).replace(
        "          - {part: a, replaces: y, credit: 0.5}\n",
        "          - {part: a, replaces: y, credit: 0.5}\n          - {part: a2, replaces: y2}\n",
    )
    sheet = write(tmp_path, text)
    assert grader("validate", sheet).code == 0, grader("validate", sheet).err
    part = _graded(grader, sheet, tmp_path, {"e": {"a": [2.0, 4.0], "a2": [2.0, 4.0], "b": 20.0}})[("e", "b")]
    assert (part["status"], part["points_earned"]) == ("correct", 4.0)


PADDED = """\
id: pad
exercises:
  - id: e
    inputs:
      x: {value: [[1, 2, 0, 1], [0, 3, 1, 2], [2, 0, 1, 1], [1, 1, 0, 2]]}
      w: {value: [[1, 0, -1], [2, 1, 0], [0, 1, 1]]}
      f: {value: 3}
    quantities:
      p: {op: same_padding, f: $f}
      out: {op: conv2d, x: {op: reshape, x: $x, shape: [4, 4, 1]}, w: {op: reshape, x: $w, shape: [3, 3, 1, 1]}, padding: $p}
    parts:
      - {id: a, prompt: the padding that keeps the size, points: 1, answer: {type: integer}, expected: $p}
      - id: b
        prompt: the output with that padding
        points: 2
        answer: {type: array}
        expected: $out
        follow_through: [{part: a, replaces: p}]
"""


def test_an_answer_whose_shape_follows_from_the_earlier_answer_is_followed(grader: Grader, tmp_path: Path) -> None:
    """With the student's p = 2 the output is 6x6x1, not the key's 4x4x1: a shape the key alone calls invalid."""
    sheet = write(tmp_path, PADDED)
    assert grader("validate", sheet).code == 0
    x = np.array([[1, 2, 0, 1], [0, 3, 1, 2], [2, 0, 1, 1], [1, 1, 0, 2]], dtype=float)
    w = np.array([[1, 0, -1], [2, 1, 0], [0, 1, 1]], dtype=float)
    padded = np.pad(x, 2)
    out = np.array([[(padded[i:i + 3, j:j + 3] * w).sum() for j in range(6)] for i in range(6)])[:, :, None]
    part = _graded(grader, sheet, tmp_path, {"e": {"a": 2, "b": out.tolist()}})[("e", "b")]
    assert (part["status"], part["points_earned"]) == ("correct", 2.0), part["feedback"]


def test_a_comparison_that_follows_a_number_is_accepted_and_credited(grader: Grader, tmp_path: Path) -> None:
    """validate moves the earlier value several ways: 0.7 + 1 leaves 'greater than 0' true, the opposite sign does not."""
    text = """\
id: cmp
exercises:
  - id: e
    inputs:
      s: {value: 0.7}
    parts:
      - {id: a, prompt: s, points: 1, answer: {type: number}, expected: $s}
      - id: b
        prompt: is s positive?
        points: 1
        answer: {type: boolean}
        expected: {op: greater, a: $s, b: 0}
        follow_through: [{part: a, replaces: s}]
"""
    sheet = write(tmp_path, text)
    assert grader("validate", sheet).code == 0
    part = _graded(grader, sheet, tmp_path, {"e": {"a": -0.5, "b": False}})[("e", "b")]
    assert (part["status"], part["points_earned"]) == ("correct", 1.0)


def test_a_code_part_may_not_follow_through(grader: Grader, tmp_path: Path) -> None:
    text = CHAIN.replace(
        "        answer: {type: number}\n        expected: $s\n",
        "        answer: {type: code, function: f, cases: [{name: c, inputs: {x: $x}}]}\n        expected: $s\n",
    )
    run = grader("validate", write(tmp_path, text))
    assert run.code == 2 and "internal error" not in run.err
    assert "follow_through works for answers that are values" in run.err and "not for a 'code' part" in run.err


def test_an_entry_listed_twice_is_an_error(grader: Grader, tmp_path: Path) -> None:
    text = CHAIN.replace(
        "          - {part: a, replaces: y, credit: 0.5}\n",
        "          - {part: a, replaces: y}\n          - {part: a, replaces: y, credit: 0.5}\n",
    )
    run = grader("validate", write(tmp_path, text))
    assert run.code == 2
    assert "follow_through lists part 'a' replacing 'y' twice" in run.err and "[spec-follow-through]" in run.err
