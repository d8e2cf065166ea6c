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
                       feedback="Entries must be numbers, not '<b>1</b>'."),
        ],
    )


SAMPLES = {"full_marks": full_marks, "mixed": mixed, "error": error, "hostile": hostile}
