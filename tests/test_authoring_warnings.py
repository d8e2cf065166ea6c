"""Authoring warnings and op documentation, through the real command line (``grader.cli.main`` in this process).

``grader validate`` warns, without failing (exit 0), of a degenerate variant (a key that is all zeros, or 0 where the
other variants are not: a student answering zeros scores full marks there) and of a hidden part whose key a visible
part shows (its key, a visible code case, the pool winners ``report.pool_winners`` stars). ``grader ops`` states
dense's batch rule, and formulas know floor and ceil.

The warnings are lines ``warning: `` and the located message on stderr; :func:`grader.validate.validate_sheet` is also
tested directly.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.validate import validate_sheet
from tests.conftest import Grader, line_of, write


# ---- 1. degenerate variants: every hidden ReLU dead in seed 1 ------------------------------------------------
MLP = """\
id: tiny_mlp
validation_seeds: SEEDS
exercises:
  - id: mlp
    inputs:
      x: {value: [1.0, -0.5], random: {dist: normal, shape: [2]}}
      W1: {value: [[0.5, -0.2], [0.3, 0.8]], random: {dist: normal, shape: [2, 2], std: 0.5}}
      b1: {value: [0.1, 0.2], random: {dist: normal, shape: [2], mean: -0.5, std: 0.2}}
      W2: {value: [[0.4, -0.7]], random: {dist: normal, shape: [1, 2]}}
    quantities:
      z1: {op: dense, h: $x, v: {op: transpose, x: $W1, axes: [1, 0]}, b: $b1}
      h: {op: relu, x: $z1}
      y: {op: dense, h: $h, v: {op: transpose, x: $W2, axes: [1, 0]}}
      loss: {op: sum, x: {op: mul, a: $y, b: $y}}
      dW2: {op: grad, of: $loss, wrt: $W2}
      dx: {op: grad, of: $loss, wrt: $x}
    parts:
      - id: h
        prompt: "a. h = relu(W1 x + b1)."
        points: 1
        answer: {type: array, abs_tol: 1.0e-6, rel_tol: 1.0e-4}
        expected: $h
      - id: dW2
        prompt: "b. dL/dW2."
        points: 1
        visibility: hidden
        answer: {type: array, abs_tol: 1.0e-6, rel_tol: 1.0e-4}
        expected: $dW2
      - id: dx0
        prompt: "c. dL/dx_0."
        points: 1
        answer: {type: number, abs_tol: 1.0e-6, rel_tol: 1.0e-4}
        expected: {op: index, x: $dx, at: [0]}
"""
FIX = (
    "students' variants are drawn like these, so other validation seeds do not help: change the inputs or their "
    "random draws, or add a require: condition to the exercise (drawn again until it holds), so that no variant's "
    "key is"
)


def degenerate_lines(path: Path, text: str) -> list[str]:
    cause = "often every ReLU unit is inactive there, so no gradient flows"
    zeros = (
        "is all zeros (2 entries) in seed 1, 1 of the 4 validated variants: a student who answers all zeros there "
        f"scores full marks without computing anything ({cause}); {FIX} all zeros, or ignore this warning if the "
        "zeros are intended [spec-degenerate-key]"
    )
    return [
        f"{path}:{line_of(text, 'expected: $h')} exercises[0].parts[0].expected: the key of mlp.h {zeros}",
        f"{path}:{line_of(text, 'expected: $dW2')} exercises[0].parts[1].expected: the key of mlp.dW2 {zeros}",
        f"{path}:{line_of(text, 'expected: {op: index')} exercises[0].parts[2].expected: the key of mlp.dx0 is 0 in "
        "seed 1 but not in the sheet's own numbers and seeds 3, 7: a degenerate variant, where a student who answers "
        f"0 scores full marks without computing anything ({cause}); {FIX} 0, or ignore this warning if it is "
        "intended [spec-degenerate-key]",
    ]


def test_a_degenerate_variant_is_a_warning_naming_its_seeds(tmp_path: Path, grader: Grader) -> None:
    text = MLP.replace("SEEDS", "[1, 3, 7]")  # seed 1: both hidden units dead; 3, 7 and the sheet's numbers: not
    path = write(tmp_path, text)
    found = validate_sheet(path)
    assert list(found) == []
    assert [str(w) for w in found.warnings] == degenerate_lines(path, text)
    run = grader("validate", path)  # a warning: the sheet is usable, validate passes
    assert (run.code, run.out) == (0, f"{path}: ok\n"), run.err


def test_validate_prints_each_degenerate_key_as_a_warning(tmp_path: Path, grader: Grader) -> None:
    text = MLP.replace("SEEDS", "[1, 3, 7]")
    path = write(tmp_path, text)
    run = grader("validate", path)
    assert run.code == 0 and run.out == f"{path}: ok\n"
    assert run.err.splitlines() == [f"warning: {line}" for line in degenerate_lines(path, text)]


def test_no_warning_when_no_variant_is_degenerate(tmp_path: Path, grader: Grader) -> None:
    path = write(tmp_path, MLP.replace("SEEDS", "[3, 7]"))
    assert validate_sheet(path).warnings == []
    run = grader("validate", path)
    assert (run.code, run.out, run.err) == (0, f"{path}: ok\n", "")


def test_warnings_wait_until_the_sheet_has_no_errors(tmp_path: Path) -> None:
    path = write(tmp_path, MLP.replace("SEEDS", "[1, 3, 7]").replace("expected: $h", "expected: $nothere"))
    found = validate_sheet(path)
    assert [e.code for e in found] == ["spec-unknown-ref"] and found.warnings == []  # type: ignore[attr-defined]


# ---- 2. a hidden key shown by a visible part ---------------------------------------------------------------
RELU_BACKWARD = """\
id: relu_leak
validation_seeds: [3, 7]
exercises:
  - id: mlp
    inputs:
      x: {value: [1.0, -0.5], random: {dist: normal, shape: [2]}}
      W1: {value: [[0.5, -0.2], [0.3, 0.8]], random: {dist: normal, shape: [2, 2], std: 0.5}}
      b1: {value: [0.1, -0.5], random: {dist: normal, shape: [2], mean: -0.5, std: 0.2}}
      W2: {value: [[0.4, -0.7]], random: {dist: normal, shape: [1, 2]}}
    quantities:
      z1: {op: dense, h: $x, v: {op: transpose, x: $W1, axes: [1, 0]}, b: $b1}
      h: {op: relu, x: $z1}
      y: {op: dense, h: $h, v: {op: transpose, x: $W2, axes: [1, 0]}}
      loss: {op: sum, x: {op: mul, a: $y, b: $y}}
      db1: {op: grad, of: $loss, wrt: $b1}
      dh: {op: dense, h: {op: mul, a: 2, b: $y}, v: $W2}
    parts:
      - id: db1
        prompt: "dL/db1."
        points: 1
        visibility: hidden
        answer: {type: array, abs_tol: 1.0e-6, rel_tol: 1.0e-4}
        expected: $db1
      - id: code_relu_backward
        prompt: "Code: relu_backward(dout, z) returns dL/dz for h = relu(z), given dout = dL/dh."
        points: 1
        answer:
          type: code
          function: relu_backward
          cases:
            - {name: sheet, inputs: {dout: $dh, z: $z1}}
        expected: {op: mul, a: $dout, b: {op: greater, a: $z, b: 0}}
"""

POOL = """\
id: pool_leak
validation_seeds: [1, 2]
exercises:
  - id: cnn
    inputs:
      a: {random: {dist: uniform, low: 0.1, high: 1, shape: [4, 4, 2]}}
    quantities:
      act: {op: relu, x: $a}
    parts:
      - id: act
        prompt: "The activations relu(a)."
        points: 1
        report: {pool_winners: {size: 2}}
        answer: {type: array}
        expected: $act
      - id: winners
        prompt: "Which entries win their 2x2 max-pooling window (0/1)?"
        points: 1
        visibility: hidden
        answer: {type: array, abs_tol: 0, rel_tol: 0}
        expected: {op: max_pool_winners, x: $a, size: 2}
"""

SAME_KEY = """\
id: same_key
validation_seeds: [1, 2]
exercises:
  - id: ex
    inputs:
      x: {value: [1.5, -2.25, 0.5], random: {dist: normal, shape: [3]}}
    quantities:
      total: {op: sum, x: $x}
    parts:
      - {id: total, prompt: "The sum of x.", points: 1, answer: {type: number}, expected: $total}
      - {id: again, prompt: "The sum of x once more.", points: 1, visibility: hidden, answer: {type: number}, expected: $total}
      - {id: twice, prompt: "Twice the sum.", points: 1, visibility: hidden, answer: {type: number}, expected: {op: mul, a: 2, b: $total}}
"""


def leak_lines(tmp_path: Path) -> list[tuple[Path, list[str]]]:
    relu = write(tmp_path, RELU_BACKWARD, "relu.yaml")
    pool = write(tmp_path, POOL, "pool.yaml")
    same = write(tmp_path, SAME_KEY, "same.yaml")
    return [
        (relu, [
            f"{relu}:{line_of(RELU_BACKWARD, 'visibility: hidden')} exercises[0].parts[0].visibility: in the sheet's own "
            "numbers, the key of the hidden part mlp.db1 equals the expected output of the visible case 'sheet' of the "
            "code part mlp.code_relu_backward, which its feedback shows: a student can copy it from there; make case "
            "'sheet' hidden (visibility: hidden) or mlp.db1 visible, or give the case other inputs [spec-hidden-shown]",
        ]),
        (pool, [
            f"{pool}:{line_of(POOL, 'visibility: hidden')} exercises[0].parts[1].visibility: in every validated variant, "
            "the key of the hidden part cnn.winners equals the max-pooling winners that report.pool_winners marks on the "
            "visible part cnn.act (its report stars them on the expected answer): a student can copy it from there; "
            "remove pool_winners from cnn.act's report options, make cnn.act hidden, or make cnn.winners visible "
            "[spec-hidden-shown]",
        ]),
        (same, [
            f"{same}:{line_of(SAME_KEY, 'id: again')} exercises[0].parts[1].visibility: in every validated variant, the "
            "key of the hidden part ex.again equals the key of the visible part ex.total, which its report shows: a "
            "student can copy it from there; make ex.total hidden too or ex.again visible, or change one of them "
            "[spec-hidden-shown]",
        ]),
    ]


def test_a_hidden_key_a_visible_part_shows_is_a_warning(tmp_path: Path, grader: Grader) -> None:
    for path, lines in leak_lines(tmp_path):
        found = validate_sheet(path)
        assert list(found) == [], list(found)
        assert [str(w) for w in found.warnings] == lines
        run = grader("validate", path)  # a warning: the sheet is usable, validate passes
        assert (run.code, run.out) == (0, f"{path}: ok\n"), run.err


def test_validate_prints_each_hidden_key_shown_elsewhere(tmp_path: Path, grader: Grader) -> None:
    for path, lines in leak_lines(tmp_path):
        run = grader("validate", path)
        assert run.code == 0 and run.out == f"{path}: ok\n"
        assert run.err.splitlines() == [f"warning: {line}" for line in lines]


def test_a_hidden_code_case_shows_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, RELU_BACKWARD.replace("{name: sheet, inputs:", "{name: sheet, visibility: hidden, inputs:"))
    assert validate_sheet(path).warnings == []


# ---- 3. grader ops states dense's batch rule ------------------------------------------------------------------
def test_ops_states_the_batch_rule_of_dense_with_an_example(tmp_path: Path, grader: Grader) -> None:
    lines = grader("ops").out.splitlines()
    doc = lines[lines.index("dense(h: array, v: array, b: array (optional))") + 1]
    assert doc == (
        "    Dense layer y_o = b_o + sum v_ijko h_ijk; the ranks decide batching: v one axis longer than h "
        "(v = h.shape + (O,)) contracts all of h and gives (O,), e.g. h (3,), v (3, 2) -> (2,); v as long as h makes "
        "h's first axis a batch (v = h.shape[1:] + (O,)) and gives (N, O), e.g. h (2, 3), v (3, 2) -> (2, 2)."
    )
    # the example is what the engine computes
    sheet = write(tmp_path, """\
id: dense_rule
exercises:
  - id: ex
    inputs:
      h: {value: [[1, 2, 3], [4, 5, 6]]}
      v: {value: [[1, 0], [0, 1], [1, 1]]}
    quantities:
      y: {op: dense, h: $h, v: $v}
    parts:
      - {id: y, prompt: y, points: 1, answer: {type: array}, expected: $y}
""")
    run = grader("solve", sheet, "--format", "json")
    assert json.loads(run.out) == {"ex": {"y": [[4, 5], [10, 11]]}}  # (2, 2): one row per sample


# ---- 4. floor and ceil in formulas ----------------------------------------------------------------------------
FLOOR_SHEET = """\
id: pooled_width
exercises:
  - id: ex
    inputs:
      n: {value: 7}
      x: {value: 2.5}
    quantities:
      pooled: {op: formula, text: "floor((n - 3)/4) + 1", n: $n}
      slope: {op: grad, of: {op: formula, text: "floor(x)*x + ceil(x)", x: $x}, wrt: $x}
    parts:
      - id: pooled
        prompt: "The width after 2x2 pooling (a partial window dropped) of a width (n + 1)/2, as a formula in n."
        points: 1
        answer:
          type: formula
          variables:
            n: {low: 5, high: 41, integer: true}
        expected: {op: function, of: $pooled, variables: {n: $n}}
      - {id: slope, prompt: "d/dx (floor(x)*x + ceil(x)) at x = 2.5.", points: 1, answer: {type: number}, expected: $slope}
"""


def test_a_formula_answer_with_floor_is_graded(tmp_path: Path, grader: Grader) -> None:
    sheet = write(tmp_path, FLOOR_SHEET)
    run = grader("validate", sheet)
    assert (run.code, run.out) == (0, f"{sheet}: ok\n"), run.err
    for right in ("floor((n+1)/4)", "floor(n/4 + 1/4)"):  # the key is floor((n - 3)/4) + 1: equal for every n
        answers = write(tmp_path, f'student: s\nanswers:\n  ex:\n    pooled: "{right}"\n    slope: 2\n', "answers.yaml")
        graded = json.loads(grader("grade", sheet, answers, "--format", "json").out)["result"]
        assert {p["part_id"]: p["status"] for p in graded["parts"]} == {"pooled": "correct", "slope": "correct"}, right
        assert graded["points_earned"] == graded["points_possible"] == 2
    for wrong_answer in ("ceil((n+1)/4)", "(n+1)/4"):
        wrong = write(tmp_path, f'student: s\nanswers:\n  ex:\n    pooled: "{wrong_answer}"\n', "wrong.yaml")
        graded = json.loads(grader("grade", sheet, wrong, "--format", "json").out)["result"]
        assert next(p for p in graded["parts"] if p["part_id"] == "pooled")["status"] == "incorrect", wrong_answer


def test_the_derivative_of_floor_and_ceil_is_zero(tmp_path: Path, grader: Grader) -> None:
    run = grader("solve", write(tmp_path, FLOOR_SHEET), "--format", "json")
    assert json.loads(run.out)["ex"]["slope"] == 2  # d/dx floor(x)*x = floor(x) + x*0; d/dx ceil(x) = 0


def test_ops_and_errors_list_floor_and_ceil(tmp_path: Path, grader: Grader) -> None:
    lines = grader("ops").out.splitlines()
    doc = lines[lines.index("formula(text: text, NAME: array, ...)") + 1]
    assert doc.endswith("; functions: sin, cos, exp, log, tanh, sigmoid, relu, square, abs, max, min, floor, ceil."), doc
    from grader.engine.formula import FUNCTIONS

    assert doc.endswith(f"functions: {', '.join(FUNCTIONS)}.")  # the list is every function a formula knows
    sheet = write(tmp_path, FLOOR_SHEET)
    typo = write(tmp_path, 'student: s\nanswers:\n  ex:\n    pooled: "flor((n+1)/4)"\n', "typo.yaml")
    graded = json.loads(grader("grade", sheet, typo, "--format", "json").out)["result"]
    feedback = next(p for p in graded["parts"] if p["part_id"] == "pooled")["feedback"]
    assert (
        "unknown function 'flor' at column 1 (did you mean 'floor'?); known functions: sin, cos, exp, log, tanh, "
        "sigmoid, relu, square, abs, max, min, floor, ceil"
    ) in feedback, feedback


# ---- review: whole numbers coincide, hidden shapes stay hidden ----------------------------------------------------


def test_a_hidden_whole_number_equal_to_a_visible_stride_or_count_is_no_warning(tmp_path: Path, grader: Grader) -> None:
    """Week 7 with set C's width (3) hidden: a visible code case's stride 3, window 3 and the visible count 3 are
    coincidences, not leaks."""
    text = (Path(__file__).resolve().parents[1] / "exercises" / "week7.yaml").read_text(encoding="utf-8")
    marker = '        prompt: "a. Set C (n = 7, f = 3, s = 2, p = 0): the width of the output volume."\n'
    assert marker in text
    sheet = write(tmp_path, text.replace(marker, marker + "        visibility: hidden\n"))
    run = grader("validate", sheet)
    assert run.code == 0 and run.err == "", run.err


def test_the_student_sheet_does_not_show_the_shape_of_a_hidden_array(tmp_path: Path, grader: Grader) -> None:
    """conv1d_avgpool with its length (6) and conv_out (6x2) hidden: conv_out's format must not say 6x2."""
    text = (Path(__file__).resolve().parents[1] / "exercises" / "conv1d_avgpool.yaml").read_text(encoding="utf-8")
    text = text.replace("after relu: a 6x2 array indexed", "after relu, indexed")
    for part_id in ("length", "conv_out"):
        marker = f"      - id: {part_id}\n"
        assert marker in text
        text = text.replace(marker, marker + "        visibility: hidden\n")
    sheet = write(tmp_path, text)
    for command in ("sheet", "template"):
        run = grader(command, sheet)
        assert run.code == 0, run.err
        assert "6x2" not in run.out and "[[1, 2], [3, 4]]" in run.out, command


CONV1D_DW000 = "      - id: dw000\n"
"""Where conv1d_avgpool.yaml's hidden-part tests insert parts: before its part dw000 (dE/dw[0, 0, 0])."""
VISIBLE_DW = (
    "      - id: dw_all\n"
    "        prompt: \"dE/dw, all of it, indexed [x, c, k].\"\n"
    "        points: 1\n"
    "        answer: {type: array, abs_tol: 1.0e-6, rel_tol: 1.0e-4}\n"
    "        expected: $dw\n"
)
"""A visible part asking for the whole dE/dw (3x1x2) of conv1d_avgpool."""


def _conv1d_with(parts: str, after: str = "") -> str:
    """conv1d_avgpool.yaml with ``parts`` inserted before dw000, and ``after`` right after dw000's id line."""
    text = (Path(__file__).resolve().parents[1] / "exercises" / "conv1d_avgpool.yaml").read_text(encoding="utf-8")
    assert CONV1D_DW000 in text
    return text.replace(CONV1D_DW000, parts + CONV1D_DW000 + after)


def _warnings(grader: Grader, sheet: Path) -> list[str]:
    """The warning lines of ``grader validate`` on a sheet it accepts."""
    run = grader("validate", sheet)
    assert run.code == 0, run.err
    return [line for line in run.err.splitlines() if line.startswith("warning: ")]


def test_a_hidden_number_that_is_an_entry_of_a_visible_array_is_a_warning(tmp_path: Path, grader: Grader) -> None:
    """conv1d_avgpool with dw000 (dE/dw[0, 0, 0]) hidden and the whole dE/dw asked for visibly: the hidden number is
    one of the visible array's entries (review: only whole-array equality was checked)."""
    warnings = _warnings(grader, write(tmp_path, _conv1d_with(VISIBLE_DW, after="        visibility: hidden\n")))
    assert len(warnings) == 1 and warnings[0].endswith(
        "the key of the hidden part conv.dw000 equals an entry of the key of the visible part conv.dw_all, which its "
        "report shows: a student can copy it from there; make conv.dw_all hidden too or conv.dw000 visible, or change "
        "one of them [spec-hidden-shown]"
    ), warnings


def test_a_hidden_array_that_is_a_slice_of_a_visible_array_is_a_warning(tmp_path: Path, grader: Grader) -> None:
    """conv1d_avgpool with dE/dw of filter 0 hidden (dw[:, :, 0], shape 3x1) beside the whole dE/dw asked for visibly:
    the hidden array is a slice of the visible one (only whole arrays and single entries were compared)."""
    filter0 = (
        "      - id: dw_filter0\n"
        "        prompt: \"dE/dw of filter 0.\"\n"
        "        points: 1\n"
        "        visibility: hidden\n"
        "        answer: {type: array, abs_tol: 1.0e-6, rel_tol: 1.0e-4}\n"
        "        expected: {op: index, x: $dw, at: [null, null, 0]}\n"
    )
    warnings = _warnings(grader, write(tmp_path, _conv1d_with(VISIBLE_DW + filter0)))
    assert len(warnings) == 1 and warnings[0].endswith(
        "the key of the hidden part conv.dw_filter0 equals a slice of the key of the visible part conv.dw_all, which "
        "its report shows: a student can copy it from there; make conv.dw_all hidden too or conv.dw_filter0 visible, "
        "or change one of them [spec-hidden-shown]"
    ), warnings
    # the same part visible: no warning
    visible = _conv1d_with(VISIBLE_DW + filter0.replace("        visibility: hidden\n", ""))
    assert _warnings(grader, write(tmp_path, visible, "visible.yaml")) == []


# ---- require: conditions that hold on too few draws -----------------------------------------------------------
RARE = """\
id: rare
validation_seeds: [1, 2, 3]
exercises:
  - id: e
    inputs:
      x: {value: [PRINTED], random: {dist: normal, shape: [1]}}
    require:
      - {op: greater, a: {op: sum, x: $x}, b: THRESHOLD}
    parts:
      - {id: x2, prompt: "x squared", points: 1, answer: {type: number}, expected: {op: sum, x: {op: mul, a: $x, b: $x}}}
"""


def test_a_require_met_by_few_draws_is_a_warning_with_its_odds(tmp_path: Path, grader: Grader) -> None:
    """x > 1.8 holds for about 3.6% of normal draws: the validation seeds each find a draw in 100 tries, yet about
    one variant in forty finds none, and its student's sheet fails. validate says so, at the conditions."""
    text = RARE.replace("THRESHOLD", "1.8").replace("PRINTED", "2.5")
    sheet = write(tmp_path, text)
    warned = validate_sheet(sheet)
    assert list(warned) == []
    assert [w.code for w in warned.warnings] == ["spec-require-rare"]
    warning = warned.warnings[0]
    assert warning.line == line_of(text, "require:") and warning.path == "exercises[0].require"
    assert "of draws meet the conditions (measured on 200 variants), so about one variant in" in warning.message
    share = float(warning.message.split("only ", 1)[1].split("%", 1)[0])
    assert 1.0 <= share <= 7.0  # 3.6% expected; 200 draws
    printed = grader("validate", sheet)
    assert printed.code == 0 and "[spec-require-rare]" in printed.err, printed.err


def test_a_require_met_by_most_draws_is_no_warning(tmp_path: Path, grader: Grader) -> None:
    checked = grader("validate", write(tmp_path, RARE.replace("THRESHOLD", "-1.0").replace("PRINTED", "2.5")))  # ~84%
    assert checked.code == 0 and "warning" not in checked.err, checked.err


def test_a_require_met_by_no_measured_draw_says_most_variants_fail(tmp_path: Path) -> None:
    """x > 2.7 holds for about 0.35% of draws: none of the 200 measured may meet it, and about 70% of variants would
    find no draw (review: the message said "no variant finds no draw")."""
    text = RARE.replace("THRESHOLD", "2.7").replace("PRINTED", "3.5").replace("validation_seeds: [1, 2, 3]", "validation_seeds: [3]")
    warned = validate_sheet(write(tmp_path, text))
    assert list(warned) == [] and [w.code for w in warned.warnings] == ["spec-require-rare"]
    assert "so most variants would find no draw meeting them in 100 tries" in warned.warnings[0].message
