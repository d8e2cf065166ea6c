"""Result objects for the report tests: a full-marks, a mixed, an error and a hostile submission.

These are report fixtures, not answer keys: the numbers are deliberately arbitrary (made by small formulas
here) and only test how reports look. The engine is the only source of expected answers.
"""

from __future__ import annotations

from typing import Any

from grader.result import CaseResult, PartResult, Result, Status, Visibility

LEAK = "987.654321"
"""A distinctive value that only a hidden part's key would contain; no report may print it for students."""


def arbitrary_maps(height: int, width: int, channels: int, salt: int) -> list[list[list[float]]]:
    """An ``(H, W, K)`` nested list of arbitrary small integers (as floats)."""
    return [
        [[float((i * 7 + j * 3 + k * 5 + salt) % 11) for k in range(channels)] for j in range(width)]
        for i in range(height)
    ]


def pool_winners(maps: list[list[list[float]]], size: int = 2) -> list[list[list[bool]]]:
    """``(H, W, K)`` mask of the first maximum in each ``size x size`` window (stride = size), per channel."""
    height, width, channels = len(maps), len(maps[0]), len(maps[0][0])
    mask = [[[False] * channels for _ in range(width)] for _ in range(height)]
    for k in range(channels):
        for top in range(0, height - size + 1, size):
            for left in range(0, width - size + 1, size):
                window = [(maps[i][j][k], i, j) for i in range(top, top + size) for j in range(left, left + size)]
                best = max(v for v, _, _ in window)
                _, i, j = next(w for w in window if w[0] == best)
                mask[i][j][k] = True
    return mask


def hidden_copy(part: PartResult) -> PartResult:
    """The same part made hidden the way a pipeline would: expected and details dropped, everything else kept
    (feedback, mistake, annotations, cases), so tests can check that nothing else carries the key."""
    data: dict[str, Any] = part.model_dump(exclude={"key"})
    data.update(visibility=Visibility.hidden, expected=None, details=[])
    return PartResult.model_validate(data)


def full_marks() -> Result:
    expected = arbitrary_maps(4, 4, 2, salt=1)
    return Result(
        sheet_id="week7",
        sheet_title="Week 7: convolutional networks",
        student_id="s100001",
        seed=17,
        submission="week7-answers.yaml",
        submission_hash="sha256:1f3a",
        spec_hash="sha256:9c2e",
        grader_version="0.1.0",
        parts=[
            PartResult(exercise_id="ex2", part_id="b", title="Padding p for same width", answer_type="number",
                       points_possible=1, points_earned=1, status=Status.correct, actual=3, expected=3),
            PartResult(exercise_id="ex3", part_id="a", title="Volume after max-pooling", answer_type="shape",
                       points_possible=1, points_earned=1, status=Status.correct, actual=[2, 2, 2],
                       expected=[2, 2, 2]),
            PartResult(exercise_id="ex3", part_id="b", title="Convolution output", answer_type="array",
                       points_possible=4, points_earned=4, status=Status.correct, actual=expected,
                       expected=expected,
                       annotations={"expected_winners": pool_winners(expected), "channel_label": "output with filter"}),
            PartResult(exercise_id="ex4", part_id="a", title="t_theta", answer_type="number",
                       visibility=Visibility.hidden, points_possible=2, points_earned=2, status=Status.correct,
                       actual=0.4127),
        ],
    )


def code_part() -> PartResult:
    return PartResult(
        exercise_id="ex5", part_id="conv2d", title="Implement conv2d(image, filters)", answer_type="code",
        points_possible=3, points_earned=1.5, status=Status.partial,
        feedback="2 of 4 cases passed.",
        cases=[
            CaseResult(name="sheet image", passed=True, fraction=1.0, inputs="image (6, 6, 1), filters (3, 3, 1, 2)"),
            CaseResult(name="two channels", passed=False, fraction=0.0, inputs="image (5, 5, 2), filters (3, 3, 2, 1)",
                       feedback="Output matches the kernel flipped: cross-correlation does not flip w.",
                       details=["max abs error 4 at [0, 1, 0]; 7 of 9 entries differ"], mistake="flipped-kernel"),
            CaseResult(name="hidden-1", visibility=Visibility.hidden, passed=True, fraction=1.0),
            CaseResult(name="hidden-2", visibility=Visibility.hidden, passed=False, fraction=0.0),
        ],
    )


def mixed() -> Result:
    expected = arbitrary_maps(4, 4, 2, salt=2)
    actual = [[[v if (i + j + k) % 5 else v + 3 for k, v in enumerate(cell)] for j, cell in enumerate(row)]
              for i, row in enumerate(expected)]
    hidden_failed = hidden_copy(PartResult(
        exercise_id="ex3", part_id="d", title="Output units changed by the shift", answer_type="number",
        points_possible=1, points_earned=0, status=Status.incorrect, actual=5, expected=float(LEAK),
        feedback=f"The key is {LEAK}.", details=[f"expected {LEAK}"], mistake="counted-conv-units",
        annotations={"expected_norm": float(LEAK)},
    ))
    return Result(
        sheet_id="week7",
        sheet_title="Week 7: convolutional networks",
        student_id="s100002",
        seed=4242,
        submission="week7-answers.yaml",
        submission_hash="sha256:77b0",
        spec_hash="sha256:9c2e",
        grader_version="0.1.0",
        sandbox_layers={"rlimits": True, "bubblewrap": False},
        parts=[
            PartResult(exercise_id="ex1", part_id="a", title="dL/dw_1111 for the given numbers", answer_type="number",
                       points_possible=2, points_earned=0, status=Status.missing,
                       feedback="No answer for ex1.a in week7-answers.yaml."),
            PartResult(exercise_id="ex2", part_id="a", title="Output width for n=9, f=3, s=2, p=1",
                       answer_type="number", points_possible=1, points_earned=1, status=Status.correct,
                       actual=5, expected=5),
            PartResult(exercise_id="ex2", part_id="b", title="Padding p for same width", answer_type="number",
                       points_possible=2, points_earned=1, status=Status.partial, actual=2, expected=1,
                       feedback="This is 2p, not p: the formula pads both sides, so n + 2p - f + 1 = n gives "
                                "p = (f - 1) / 2.",
                       mistake="padding-2p"),
            PartResult(exercise_id="ex3", part_id="b", title="Convolution output (stride 1, biases 0)",
                       answer_type="array", points_possible=4, points_earned=0, status=Status.incorrect,
                       actual=actual, expected=expected,
                       feedback="Several entries are off; check the filter positions near the border.",
                       details=["max abs error 3 at [0, 0, 0]; 7 of 32 entries differ"],
                       annotations={"expected_winners": pool_winners(expected),
                                    "actual_winners": pool_winners(actual),
                                    "channel_label": "output with filter"}),
            PartResult(exercise_id="ex3", part_id="c", title="Max-pooling output", answer_type="array",
                       points_possible=2, points_earned=0, status=Status.invalid,
                       actual=[[1.5, "nan"], [2.25, 3.0]],
                       feedback="Entry [0, 1] is not a finite number (nan); every entry must be a number.",
                       details=["1 of 4 entries is not finite"]),
            hidden_copy(PartResult(
                exercise_id="ex3", part_id="e", title="Invariant translation exists", answer_type="choice",
                points_possible=1, points_earned=1, status=Status.correct, actual="yes", expected="yes")),
            hidden_failed,
            PartResult(exercise_id="ex4", part_id="a", title="t_theta for the given numbers", answer_type="number",
                       visibility=Visibility.hidden, points_possible=2, points_earned=0, status=Status.pending,
                       actual=0.25),
            code_part(),
        ],
    )


def error() -> Result:
    return Result(
        sheet_id="week7",
        sheet_title="Week 7: convolutional networks",
        student_id="s100003",
        seed=99,
        submission="week7-answers.yaml",
        error="week7-answers.yaml:3: not valid YAML: mapping values are not allowed here (column 9).",
        grader_version="0.1.0",
        parts=[
            PartResult(exercise_id="ex2", part_id="a", title="Output width", answer_type="number",
                       points_possible=1, points_earned=0, status=Status.missing),
            PartResult(exercise_id="ex3", part_id="b", title="Convolution output", answer_type="array",
                       points_possible=4, points_earned=0, status=Status.missing),
        ],
    )


HOSTILE = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'


def hostile() -> Result:
    """Student-controlled strings full of markup, control characters and delimiters."""
    return Result(
        sheet_id="week7",
        sheet_title="Week 7 & <friends>",
        student_id=HOSTILE,
        seed=None,
        submission='"><img src=x onerror=alert(2)>,=cmd|x.yaml',
        error=None,
        parts=[
            PartResult(exercise_id="ex2", part_id="a", title="Output | width", answer_type="number",
                       points_possible=1, points_earned=0, status=Status.invalid,
                       actual="<script>alert(3)</script>\x00\x1b[31mred\x07 ]]> & | ``` `x` *y* _z_",
                       feedback='Could not read "<script>alert(3)</script>\x1b[31m" as a number.\x0c\x0b',
                       details=["got text ]]><!-- & \ud800 end"]),
            PartResult(exercise_id="ex3", part_id="b", title="Convolution output", answer_type="array",
                       points_possible=2, points_earned=0, status=Status.incorrect,
                       actual=[["<b>1</b>", 2], [3, "\x1b[2J"]], expected=[[1, 2], [3, 4]],
                       feedback="Entries must be numbers, not '<b>1</b>'. \u202eevil\u202c"),
        ],
    )


SAMPLES = {"full_marks": full_marks, "mixed": mixed, "error": error, "hostile": hostile}


FORMULA_POINTS = [
    {"at": {"n": 55, "f": 9, "s": 2, "p": 0}, "value": 24},
    {"at": {"n": 41, "f": 5, "s": 4, "p": 2}, "value": 11},
    {"at": {"n": 18, "f": 11, "s": 1, "p": 3}, "value": 14},
    {"at": {"n": 5, "f": 5, "s": 1, "p": 3}, "value": 7},
    {"at": {"n": 2, "f": 8, "s": 1, "p": 5}, "value": 5},
    {"at": {"n": 9, "f": 3, "s": 2, "p": 1}, "value": 5},
]
"""A formula part's key as reports get it: sample points of the reference (one more than reports list)."""


def check_mode() -> Result:
    """A student-side ``grader check`` run: notes on misspelled ids, answers that could not be read (visible and
    hidden), a formula part's key given as sample points, a graph answer, and hidden parts that are pending
    (one missing, one unreadable, one fine) and graded (one partly correct: students see only "not passed")."""
    return Result(
        sheet_id="week7",
        sheet_title="Week 7: convolutional networks",
        student_id="s100004",
        submission="week7-answers.yaml",
        grader_version="0.1.0",
        notes=[
            "answers.ex3.b_pol: exercise 'ex3' has no part 'b_pol'; did you mean 'b_pool'? (ignored; parts: a, b_conv, "
            "b_pool)",
            "answers.ex9: this sheet has no exercise 'ex9' (ignored; exercises: ex1, ex2, ex3, ex4)",
        ],
        parts=[
            PartResult(exercise_id="ex1", part_id="b_unusual", title="dL/dw_111111 with the unusual indexing",
                       answer_type="number", visibility=Visibility.hidden, points_possible=2, points_earned=0,
                       status=Status.pending, answer_error="no answer given",
                       feedback="graded after submission; no answer given"),
            PartResult(exercise_id="ex2", part_id="a_formula", title="Output width as a formula",
                       answer_type="formula", points_possible=2, points_earned=0, status=Status.invalid,
                       answer_text="(n + 2p - f)/s + 1",
                       answer_error="cannot read the formula: could not read the formula at column 6: invalid "
                                    "decimal literal; write multiplication with '*', e.g. 2*p not 2p",
                       feedback="cannot read the formula: could not read the formula at column 6: invalid decimal "
                                "literal; write multiplication with '*', e.g. 2*p not 2p",
                       expected=FORMULA_POINTS),
            PartResult(exercise_id="ex2", part_id="b_formula", title="Same padding as a formula",
                       answer_type="formula", points_possible=2, points_earned=0, status=Status.incorrect,
                       actual="f - 1", expected=[{"at": {"f": 13}, "value": 6}, {"at": {"f": 5}, "value": 2}],
                       feedback="at f=13 your formula gives 12, which is not the expected value",
                       details=["at f=13 your formula gives 12, the reference 6",
                                "your formula differs from the reference at 50 of 50 random points"]),
            PartResult(exercise_id="ex2", part_id="b_check_p", title="Padding p for n = 4, f = 3",
                       answer_type="integer", points_possible=1, points_earned=0, status=Status.invalid,
                       answer_text="1.5", answer_error="cannot be read: expected a whole number, got 1.5",
                       feedback="expected a whole number, got 1.5", expected=1),
            PartResult(exercise_id="ex2", part_id="a_set_d", title="Output width for set D", answer_type="integer",
                       visibility=Visibility.hidden, points_possible=1, points_earned=0, status=Status.pending,
                       answer_text="fifty-five \x1b[31m<b>",
                       answer_error="cannot read 'fifty-five \\x1b[31m<b>' as a number: unknown name 'five'",
                       feedback="graded after submission; cannot read 'fifty-five' as a number"),
            PartResult(exercise_id="ex3", part_id="b_pool", title="Max-pooling output", answer_type="array",
                       points_possible=2, points_earned=0, status=Status.missing, expected=[[7, 9], [5, 7]],
                       answer_error="no answer given (the answer file has 'b_pol' instead, which is not a part id: "
                                    "check the spelling)",
                       feedback="no answer given (the answer file has 'b_pol' instead, which is not a part id: "
                                "check the spelling)"),
            hidden_copy(PartResult(
                exercise_id="ex3", part_id="c_count", title="Pooled units that change", answer_type="integer",
                points_possible=2, points_earned=1, status=Status.partial, actual=5, expected=float(LEAK),
                feedback=f"You counted conv units; the key is {LEAK}.", mistake="counted-conv-units")),
            PartResult(exercise_id="ex3", part_id="d_exists", title="Invariant translation exists",
                       answer_type="boolean", visibility=Visibility.hidden, points_possible=1, points_earned=0,
                       status=Status.pending, actual=True, feedback="graded after submission"),
            PartResult(exercise_id="ex4", part_id="b_graph", title="The network as a computation graph",
                       answer_type="graph", points_possible=3, points_earned=3, status=Status.correct,
                       actual={"h1": "sigmoid(w1*x1 + w2*x2)", "y": "v1*h1", "output": "y"},
                       expected=[{"at": {"x1": 0.5, "x2": -1, "w1": 2, "w2": 0.25, "v1": 3}, "value": 2.1}]),
        ],
    )


EXTRA_SAMPLES = {"check_mode": check_mode}
"""Samples kept out of SAMPLES (and so out of the cohort golden files): each has golden files of its own."""
