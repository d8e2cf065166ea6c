"""Max-pooling ties: a key must not depend on the engine's tie rule (first maximum in row-major window order).

``max_pool_winners`` refuses a window whose maximum is held twice (up to TIE_RTOL/TIE_ATOL), and ``grad`` refuses a
gradient through a max pool that changes when a tied window's gradient goes to another tied entry. Both surface
as located author errors in ``grader validate`` (``file:line field.path: message [code]``, exit 2), per seed, and
as a sheet fault when a submission's variant ties. The sheets are real YAML files in ``tmp_path`` and the commands
run through the real command line (``grader.cli.main``, so the exit codes are the ones a user sees).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.cli import main
from grader.engine import Tensor, max_pool1d, max_pool2d, relu
from grader.engine.pool import max_pool2d_ties, max_pool_tie_audit
from grader.errors import SHEET_FAULT
from grader.quantities import OPS, TIE_ATOL, TIE_RTOL

ERROR_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+) (?P<path>\S+): (?P<message>.+) \[(?P<code>spec-[a-z-]+)\]$")


def write(folder: Path, text: str, name: str = "sheet.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return next(i + 1 for i, line in enumerate(text.splitlines()) if needle in line)


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


Grader = Callable[..., Run]


@pytest.fixture
def grader(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Grader:
    """Run ``grader ARGS...`` in this process as the installed program does; returns a Run."""

    def run(*args: str | Path) -> Run:
        monkeypatch.setattr(sys, "argv", ["grader", *map(str, args)])
        with pytest.raises(SystemExit) as exited:
            main()
        captured = capsys.readouterr()
        code = exited.value.code if isinstance(exited.value.code, int) else 0
        assert "internal error" not in captured.err and "Traceback" not in captured.err, captured.err
        return Run(code, captured.out, captured.err)

    return run


def validate_errors(grader: Grader, path: Path) -> list[re.Match[str]]:
    """The ``file:line path: message [code]`` lines of ``grader validate``; asserts exit 2 and nothing else."""
    run = grader("validate", path)
    assert run.code == 2, run.err
    lines = run.err.strip().splitlines()
    assert lines[-1] == "1 of 1 sheet(s) have errors", run.err
    errors = [m for m in map(ERROR_LINE.match, lines[:-1]) if m]
    assert len(errors) == len(lines) - 1, run.err  # every line is a located error
    return errors


def solve(grader: Grader, path: Path, seed: int | None = None) -> dict:  # type: ignore[type-arg]
    run = grader("solve", path, "--format", "json", *([] if seed is None else ["--seed", str(seed)]))
    assert run.code == 0, run.err
    return json.loads(run.out)


# ---- an independent loop twin of the winners and of the tie test ----------------------------------------------
def windows(shape: tuple[int, int, int], size: tuple[int, int], stride: tuple[int, int]):  # type: ignore[no-untyped-def]
    """(i, j, c, rows, cols) of every window of an (H, W, C) array, row-major over (H', W', C)."""
    out_h = (shape[0] - size[0]) // stride[0] + 1
    out_w = (shape[1] - size[1]) // stride[1] + 1
    for i in range(out_h):
        for j in range(out_w):
            for c in range(shape[2]):
                rows = range(i * stride[0], i * stride[0] + size[0])
                cols = range(j * stride[1], j * stride[1] + size[1])
                yield i, j, c, rows, cols


def loop_winners(x: np.ndarray, size: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(x.shape)
    for _, _, c, rows, cols in windows(x.shape, size, stride):
        best = max(((x[r, q, c], r, q) for r in rows for q in cols), key=lambda t: t[0])
        mask[best[1], best[2], c] = 1.0
    return mask


def loop_first_tie(x: np.ndarray, size: tuple[int, int], stride: tuple[int, int]) -> tuple | None:  # type: ignore[type-arg]
    """(rows, cols, channel, [(r, q, value), ...]) of the first window holding its maximum twice, else None."""
    for _, _, c, rows, cols in windows(x.shape, size, stride):
        top = max(x[r, q, c] for r in rows for q in cols)
        tied = [(r, q, x[r, q, c]) for r in rows for q in cols if top - x[r, q, c] <= TIE_ATOL + TIE_RTOL * abs(top)]
        if len(tied) > 1:
            return rows, cols, c, tied
    return None


def tie_text(tie: tuple) -> str:  # type: ignore[type-arg]
    rows, cols, c, tied = tie
    entries = [f"x[{r}, {q}, {c}] = {float(v):g}" for r, q, v in tied]
    if len(entries) > 4:  # the message lists 4 entries, then how many more
        entries = [*entries[:4], f"{len(entries) - 4} more"]
    return (
        f"the window at rows {rows[0]}-{rows[-1]}, columns {cols[0]}-{cols[-1]} of channel {c} (0-based) holds its "
        f"maximum more than once ({', '.join(entries[:-1])} and {entries[-1]})"
    )


# ---- sheets -----------------------------------------------------------------------------------------------------
# Exercise 3 of week 7: filter 1's top-right window of the relu output is [[5, 1], [4, 5]].
TIED_SHEET = """\
id: tied
validation_seeds: [1, 2]
exercises:
  - id: pool
    inputs:
      image:
        value: [[1, 2, 5, 1], [0, 1, 4, 5], [3, 1, 0, 2], [1, 0, 1, 1]]
        random: {dist: normal, shape: [4, 4]}
    quantities:
      x: {op: reshape, x: $image, shape: [4, 4, 1]}
    parts:
      - id: winners
        prompt: Which entries of x receive the gradient of 2x2 max pooling (1 or 0 for each)?
        points: 1
        answer: {type: array, abs_tol: 0, rel_tol: 0}
        expected: {op: max_pool_winners, x: $x, size: 2}
"""

CONTINUOUS_SHEET = TIED_SHEET.replace(
    "[[1, 2, 5, 1], [0, 1, 4, 5], [3, 1, 0, 2], [1, 0, 1, 1]]",
    "[[0.3, -1.2, 0.8, 2.5], [1.7, 0.1, -0.4, 2.49], [-2.0, 0.6, 1.1, 0.2], [0.05, 0.61, -0.3, 1.0]]",
)


def test_a_tied_window_is_refused_by_validate_at_the_part_with_what_to_do(tmp_path: Path, grader: Grader) -> None:
    path = write(tmp_path, TIED_SHEET)
    [error] = validate_errors(grader, path)
    assert error["file"] == str(path)
    assert int(error["line"]) == line_of(TIED_SHEET, "expected: {op: max_pool_winners")
    assert error["path"] == "exercises[0].parts[0].expected"
    assert error["code"] == "spec-op-failed"
    message = error["message"]
    # only the sheet's own numbers tie (the seeds draw normal values)
    assert message.startswith(
        "the sheet's own numbers: max_pool_winners: the window at rows 0-1, columns 2-3 of channel 0 (0-based) "
        "holds its maximum more than once (x[0, 2, 0] = 5 and x[1, 3, 0] = 5)"
    ), message
    assert "would be decided by a tie rule" in message
    assert "a continuous distribution, dist: normal or uniform" in message
    assert "or do not ask for the winners of this pooling layer" in message


def test_every_command_computing_the_key_refuses_the_tied_numbers(tmp_path: Path, grader: Grader) -> None:
    path = write(tmp_path, TIED_SHEET)
    run = grader("solve", path)
    assert run.code == 2
    assert f"{path}:{line_of(TIED_SHEET, 'expected: {op: max_pool_winners')} exercises[0].parts[0].expected: " \
        "max_pool_winners: the window at rows 0-1, columns 2-3" in run.err
    assert "[spec-op-failed]" in run.err
    assert solve(grader, path, seed=1)  # a seeded variant draws normal values: no tie, a key


def test_a_sheet_with_continuous_inputs_is_accepted_and_its_key_is_the_loop_winners(tmp_path: Path, grader: Grader) -> None:
    path = write(tmp_path, CONTINUOUS_SHEET)
    run = grader("validate", path)
    assert run.code == 0, run.err
    image = np.array([[0.3, -1.2, 0.8, 2.5], [1.7, 0.1, -0.4, 2.49], [-2.0, 0.6, 1.1, 0.2], [0.05, 0.61, -0.3, 1.0]])
    key = solve(grader, path)["pool"]["winners"]
    np.testing.assert_array_equal(key, loop_winners(image[..., None], (2, 2), (2, 2)))
    # 2.5 against 2.49 and 0.6 against 0.61 are close, but far beyond rounding: no tie


def test_a_window_tied_up_to_rounding_is_refused_too(tmp_path: Path, grader: Grader) -> None:
    # 0.1 + 0.2 is 0.30000000000000004: which of it and 0.3 is larger is a matter of rounding.
    text = TIED_SHEET.replace(
        "      x: {op: reshape, x: $image, shape: [4, 4, 1]}",
        "      x: {op: reshape, x: {op: add, a: $image, b: $shift}, shape: [2, 2, 1]}",
    ).replace(
        "        value: [[1, 2, 5, 1], [0, 1, 4, 5], [3, 1, 0, 2], [1, 0, 1, 1]]\n        random: {dist: normal, shape: [4, 4]}",
        "        value: [[0.1, 0.3], [0.0, -1.0]]\n        random: {dist: normal, shape: [2, 2]}\n"
        "      shift: {value: [[0.2, 0.0], [0.0, 0.0]]}",
    )
    [error] = validate_errors(grader, write(tmp_path, text))
    assert "(x[0, 0, 0] = 0.30000000000000004 and x[0, 1, 0] = 0.3)" in error["message"], error["message"]


# ---- only some seeds tie --------------------------------------------------------------------------------------
SEEDED_SHEET = """\
id: seeded
validation_seeds: SEEDS
exercises:
  - id: pool
    inputs:
      image:
        value: [[0.5, 2.5, 1.5, 3.5], [1.0, 0.0, 2.0, 3.0], [4.0, 0.25, 2.75, 0.75], [3.25, 1.25, 0.125, 1.75]]
        random: {dist: integers, low: 0, high: 9, shape: [4, 4]}
    quantities:
      x: {op: reshape, x: $image, shape: [4, 4, 1]}
      winners: {op: max_pool_winners, x: $x, size: 2}
    parts:
      - id: winners
        prompt: Which entries of x receive the gradient of 2x2 max pooling (1 or 0 for each)?
        points: 1
        answer: {type: array, abs_tol: 0, rel_tol: 0}
        expected: $winners
"""


def drawn_image(grader: Grader, path: Path, seed: int) -> np.ndarray:
    """The image of variant ``seed`` as ``grader data`` shows it, as (H, W, 1)."""
    run = grader("data", path, "--seed", str(seed))
    assert run.code == 0, run.err
    return np.asarray(json.loads(run.out)["inputs"]["pool"]["image"], dtype=np.float64)[..., None]


def test_only_the_seeds_that_tie_are_named_and_their_submissions_are_a_sheet_fault(tmp_path: Path, grader: Grader) -> None:
    # `data` computes the key too: draw the seeds' images from a twin sheet that does not ask for the winners.
    probe = write(tmp_path, SEEDED_SHEET.replace("SEEDS", "[]").replace("expected: $winners", "expected: $x"), "probe.yaml")
    tied: dict[int, tuple] = {}  # type: ignore[type-arg]
    untied: dict[int, np.ndarray] = {}
    for seed in range(1, 80):
        image = drawn_image(grader, probe, seed)
        tie = loop_first_tie(image, (2, 2), (2, 2))
        if tie is not None and len(tied) < 2:
            tied[seed] = tie
        elif tie is None and len(untied) < 2:
            untied[seed] = image
        if len(tied) == len(untied) == 2:
            break
    assert len(tied) == len(untied) == 2, "integers 0-9 should tie in some 2x2 window for some seeds, not all"
    seeds = sorted([*tied, *untied])
    text = SEEDED_SHEET.replace("SEEDS", str(seeds))
    path = write(tmp_path, text)

    [error] = validate_errors(grader, path)
    assert error["path"] == "exercises[0].quantities.winners" and int(error["line"]) == line_of(text, "winners: {op:")
    assert error["code"] == "spec-op-failed"
    message = error["message"]
    first, second = sorted(tied)
    # One message naming both seeds, or (when their windows differ) the first seed's, naming the second after it.
    if message.startswith(f"seeds {first}, {second}: "):
        assert tie_text(tied[first]) == tie_text(tied[second]), message
    else:
        assert message.startswith(f"seed {first}: ") and message.endswith(f"(likewise in seed {second})"), message
    assert message.split(": ", 1)[1].startswith("max_pool_winners: " + tie_text(tied[first])), message
    assert "the sheet's own numbers" not in message
    for seed in untied:
        assert re.search(rf"\b{seed}\b", message.split(":", 1)[0]) is None, message

    # solve: the tied variant is refused and named, the untied one's key is the loop's winners
    refused = grader("solve", path, "--seed", str(first))
    assert refused.code == 2
    assert f"exercises[0].quantities.winners: seed {first}: max_pool_winners: {tie_text(tied[first])}" in refused.err
    fine, image = next(iter(untied.items()))
    key = solve(grader, path, seed=fine)["pool"]["winners"]
    np.testing.assert_array_equal(key, loop_winners(image, (2, 2), (2, 2)))

    # grade: a submission of the tied variant is the sheet's fault (the student's report says so), the other is graded
    answer = json.dumps(np.asarray(key).tolist())
    bad = write(tmp_path, f"student: s1\nseed: {first}\nanswers:\n  pool:\n    winners: {answer}\n", "s1.yaml")
    graded = grader("grade", path, bad, "--format", "json")
    assert graded.code == 2
    assert SHEET_FAULT in graded.out
    assert f"seed {first}: max_pool_winners: the window at" in graded.err
    good = write(tmp_path, f"student: s2\nseed: {fine}\nanswers:\n  pool:\n    winners: {answer}\n", "s2.yaml")
    graded = grader("grade", path, good, "--format", "json")
    assert graded.code == 0, graded.err
    result = json.loads(graded.out)["result"]
    assert result["points_earned"] == result["points_possible"] == 1


# ---- the op against a loop twin -------------------------------------------------------------------------------
@st.composite
def pool_cases(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, int], tuple[int, int] | None]:
    """An (H, W, C) array of distinct floats, a window (maybe non-square) and a stride (maybe overlapping, maybe
    leaving gaps, maybe the default)."""
    fh, fw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.sampled_from([None, (1, 1), (2, 2), (3, 3), (1, 2), (2, 1), (fh, fw), (fh + 1, fw)]))
    sh, sw = (fh, fw) if stride is None else stride
    out_h, out_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shape = ((out_h - 1) * sh + fh, (out_w - 1) * sw + fw, draw(st.integers(1, 2)))
    elements = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
    x = draw(hnp.arrays(np.float64, shape, elements=elements, unique=True))
    return x, (fh, fw), stride


@settings(max_examples=60, deadline=None)
@given(pool_cases())
def test_without_ties_the_winners_mark_one_entry_per_window_as_a_loop_does(case: tuple) -> None:  # type: ignore[type-arg]
    x, size, stride = case
    strides = size if stride is None else stride
    assume(loop_first_tie(x, size, strides) is None)  # distinct floats may still be equal up to rounding
    mask = OPS["max_pool_winners"].fn(x, list(size), None if stride is None else list(stride))
    assert mask.dtype == np.float64 and mask.shape == x.shape
    np.testing.assert_array_equal(mask, loop_winners(x, size, strides))
    if strides[0] >= size[0] and strides[1] >= size[1]:  # windows do not overlap: exactly one 1 in each
        for _, _, c, rows, cols in windows(x.shape, size, strides):
            assert mask[rows.start:rows.stop, cols.start:cols.stop, c].sum() == 1.0
        assert mask.sum() == len(list(windows(x.shape, size, strides)))


@settings(max_examples=60, deadline=None)
@given(pool_cases(), st.integers(0, 2**32 - 1))
def test_with_ties_the_op_names_the_first_tied_window_as_a_loop_finds_it(case: tuple, seed: int) -> None:  # type: ignore[type-arg]
    x, size, stride = case
    strides = size if stride is None else stride
    x = np.random.default_rng(seed).integers(0, 3, size=x.shape).astype(np.float64)  # ties are likely
    tie = loop_first_tie(x, size, strides)
    call = lambda: OPS["max_pool_winners"].fn(x, list(size), None if stride is None else list(stride))  # noqa: E731
    if tie is None:
        np.testing.assert_array_equal(call(), loop_winners(x, size, strides))
        return
    with pytest.raises(ValueError) as raised:
        call()
    assert str(raised.value).startswith(tie_text(tie)), (str(raised.value), tie_text(tie))


def test_the_scan_counts_tied_windows_and_describes_batched_ones() -> None:
    x = np.zeros((2, 4, 4, 1))
    x[1] = np.arange(16.0).reshape(4, 4, 1)
    x[1, 2, 3, 0] = 15.0  # window rows 2-3, columns 2-3 of batch entry 1: 15 at [2, 3] and [3, 3]
    scan = max_pool2d_ties(x, 2, rtol=TIE_RTOL, atol=TIE_ATOL, limit=10)
    assert (scan.tied, scan.windows) == (5, 8)  # batch entry 0 is all zeros: its 4 windows tie
    last = scan.ties[-1]
    assert last.where() == "the window at rows 2-3, columns 2-3 of channel 0 of batch entry 1 (0-based)"
    assert last.entries == ((1, 2, 3, 0), (1, 3, 3, 0)) and last.values == (15.0, 15.0)


# ---- gradients through a max pool -----------------------------------------------------------------------------
GRAD_SHEET = """\
id: grads
validation_seeds: [1, 2]
exercises:
  - id: net
    inputs:
      image:
        value: IMAGE
        random: {dist: DIST, shape: [4, 4]}
      w: {value: [[[[1.5]]]], random: {dist: normal, shape: [1, 1, 1, 1]}}
      v: {value: [[[[0.5]], [[-1.0]]], [[[2.0]], [[1.5]]]], random: {dist: normal, shape: [2, 2, 1, 1]}}
    quantities:
      x: {op: reshape, x: $image, shape: [4, 4, 1]}
      act: {op: mul, a: {op: relu, x: $x}, b: {op: conv2d, x: $x, w: $w}}
      loss: {op: sum, x: {op: dense, h: {op: max_pool2d, x: $act, size: 2}, v: $v}}
      dimage: {op: grad, of: $loss, wrt: $image}
    parts:
      - id: d
        prompt: dL/dI, a 4x4 array.
        points: 1
        answer: {type: array, rel_tol: 1.0e-6}
        expected: $dimage
"""


def grad_sheet(image: str, dist: str = "normal") -> str:
    return GRAD_SHEET.replace("IMAGE", image).replace("DIST", dist)


def test_a_gradient_through_a_tied_max_pool_is_refused_with_the_window(tmp_path: Path, grader: Grader) -> None:
    text = grad_sheet("[[1, 2, 5, 1], [0, 1, 4, 5], [3, 1, 0, 2], [1, 0, 1, 1]]")
    path = write(tmp_path, text)
    [error] = validate_errors(grader, path)
    assert error["path"] == "exercises[0].quantities.dimage" and int(error["line"]) == line_of(text, "dimage: {op: grad")
    assert error["code"] == "spec-op-failed"
    message = error["message"]
    assert message.startswith(
        "the sheet's own numbers: grad: the gradient with respect to image depends on max pooling's tie rule: the "
        "window at rows 0-1, columns 2-3 of channel 0 (0-based) of the max_pool2d input holds its maximum more than "
        "once (input[0, 2, 0] = 37.5 and input[1, 3, 0] = 37.5) and receives gradient"
    ), message
    # relu(x) * 1.5x: the window's gradient -1 goes to image[0, 2] (2 * 1.5 * 5 * -1 = -15) or to image[1, 3]
    assert "changes the key (entry [0, 2] of the gradient is -15 by the tie rule, 0 otherwise)" in message
    assert "or do not ask for a gradient through this max pooling" in message


def test_ties_that_cannot_change_the_gradient_are_accepted(tmp_path: Path, grader: Grader) -> None:
    # The top-left window is all negative: relu(x) * 1.5x is 0 there, four tied zeros whose derivative is 0
    # whichever of them gets the window's gradient. The other windows have a single maximum.
    image = "[[-1, -2, 5, 1], [-3, -1, 4, 2], [3, 1, 0, 2], [1, 0, 1, 6]]"
    path = write(tmp_path, grad_sheet(image))
    run = grader("validate", path)
    assert run.code == 0, run.err
    key = np.asarray(solve(grader, path)["net"]["d"])
    expected = np.zeros((4, 4))
    expected[0, 2], expected[2, 0], expected[3, 3] = 2 * 1.5 * 5 * -1.0, 2 * 1.5 * 3 * 2.0, 2 * 1.5 * 6 * 1.5
    np.testing.assert_allclose(key, expected, rtol=1e-12)


def test_a_gradient_through_continuous_inputs_is_accepted_for_every_seed(tmp_path: Path, grader: Grader) -> None:
    path = write(tmp_path, grad_sheet("[[0.3, -1.2, 0.8, 2.5], [1.7, 0.1, -0.4, 2.4], [-2.0, 0.6, 1.1, 0.2], [0.05, 0.7, -0.3, 1.0]]"))
    run = grader("validate", path)
    assert run.code == 0, run.err


def test_an_audit_keeps_the_tie_rule_unless_asked_and_reroutes_only_the_windows_named() -> None:
    values = np.array([[5.0, 1.0, 2.0, 2.0], [4.0, 5.0, 0.0, 1.0]])[..., None]  # windows (2x2): [5 1; 4 5], [2 2; 0 1]
    seed = np.array([[[3.0], [7.0]]])

    def gradient(**audit: object) -> tuple[np.ndarray, list]:  # type: ignore[type-arg]
        x = Tensor(values)
        out = max_pool2d(x, 2)
        if not audit:
            out.backward(seed)
            return x.grad, []  # type: ignore[return-value]
        with max_pool_tie_audit(rtol=TIE_RTOL, atol=TIE_ATOL, **audit) as found:  # type: ignore[arg-type]
            out.backward(seed)
        return x.grad, found.ties  # type: ignore[return-value]

    plain, _ = gradient()
    kept, ties = gradient(pick=None)
    np.testing.assert_array_equal(kept, plain)
    assert [(t.serial, t.entries, t.adjoint) for t in ties] == [
        (0, ((0, 0, 0), (1, 1, 0)), 3.0), (1, ((0, 2, 0), (0, 3, 0)), 7.0)
    ]
    last, _ = gradient(pick="last")
    np.testing.assert_array_equal(last[..., 0], [[0, 0, 0, 7], [0, 3, 0, 0]])
    only_second, _ = gradient(pick="last", only=frozenset({1}))
    np.testing.assert_array_equal(only_second[..., 0], [[3, 0, 0, 7], [0, 0, 0, 0]])


def test_an_audit_describes_1d_and_overlapping_windows() -> None:
    x = Tensor(np.array([[2.0], [5.0], [5.0], [1.0]]))
    with max_pool_tie_audit(rtol=TIE_RTOL, atol=TIE_ATOL, pick="last") as audit:
        max_pool1d(x, 4).backward(np.array([[1.0]]))
    np.testing.assert_array_equal(x.grad[:, 0], [0.0, 0.0, 1.0, 0.0])
    [tie] = audit.ties
    assert tie.where() == "the window at positions 0-3 of channel 0 (0-based)" and tie.entries == ((1, 0), (2, 0))
    # Overlapping windows (stride 1) over relu zeros: every window ties; no gradient reaches past the relu.
    y = Tensor(-np.ones((3, 3, 1)))
    with max_pool_tie_audit(rtol=TIE_RTOL, atol=TIE_ATOL, pick="last") as audit:
        max_pool2d(relu(y), 2, stride=1).sum().backward()
    assert audit.receiving == 4 and audit.ties[3].where() == "the window at rows 1-2, columns 1-2 of channel 0 (0-based)"
    np.testing.assert_array_equal(y.grad, np.zeros((3, 3, 1)))


def test_a_grad_of_a_quantity_not_depending_on_wrt_is_refused_even_after_another_grad(tmp_path: Path, grader: Grader) -> None:
    # Both grads are evaluated in one expression: the first leaves a gradient on w, which the second must not return.
    text = """\
id: s
exercises:
  - id: e
    inputs:
      w: {value: [1.0, 2.0]}
      u: {value: [3.0, 4.0]}
    quantities:
      gw: {op: grad, of: {op: sum, x: {op: square, x: $w}}, wrt: $w}
      gu: {op: grad, of: {op: sum, x: {op: square, x: $u}}, wrt: $w}
    parts:
      - {id: a, prompt: a, points: 1, answer: {type: array}, expected: {op: add, a: $gw, b: $gu}}
"""
    [error] = validate_errors(grader, write(tmp_path, text))
    assert error["path"] == "exercises[0].quantities.gu"
    assert error["message"] == "grad: 'of' does not depend on w"
