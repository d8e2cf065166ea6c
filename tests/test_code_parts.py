"""Code parts in a sheet: keys for literal, random and property cases; validation; grading through the sandbox."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader import engine
from grader.code_key import code_part_key
from grader.grading import grade_submission
from grader.spec import load_sheet
from grader.validate import validate_sheet

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"


def write_sheet(tmp_path: Path, part: str) -> Path:
    text = textwrap.dedent(
        """\
        id: code-test
        exercises:
          - id: e
            inputs:
              image: {value: [[1, 2, 0], [0, 1, 3], [2, 2, 1]]}
            quantities:
              x: {op: reshape, x: $image, shape: [3, 3, 1]}
            parts:
        """
    ) + textwrap.indent(textwrap.dedent(part), "      ")
    path = tmp_path / "sheet.yaml"
    path.write_text(text, encoding="utf-8")
    return path


RELU_PART = """\
- id: relu
  prompt: Write relu(x).
  points: 2
  answer:
    type: code
    function: relu
    cases:
      - {name: given, inputs: {x: $x}}
    random_cases:
      count: 3
      dims: {n: {low: 1, high: 4}}
      args: {x: {shape: [n, "n + 1"], dist: normal}}
  expected: {op: relu, x: $x}
  mistakes:
    - id: identity
      expected: $x
      feedback: relu sets negative entries to 0.
"""


def test_week7_code_keys_are_the_engine_on_each_case() -> None:
    sheet = load_sheet(WEEK7)
    key = code_part_key(sheet, "ex3", "code_conv2d")
    for case in key.cases:
        kwargs = case.kwargs
        expected = engine.conv2d(kwargs["image"], kwargs["filters"], stride=kwargs["stride"], padding=kwargs["padding"]).value
        np.testing.assert_array_equal(case.expected, expected)
    random = [c for c in key.cases if c.name.startswith("random-")]
    assert len(random) == 6 and all(c.visibility == "hidden" for c in random)
    assert len({(c.kwargs["image"].shape, c.kwargs["filters"].shape, c.kwargs["stride"], c.kwargs["padding"]) for c in random}) > 1
    equivariance = [c for c in key.cases if c.kind == "equivariance"]
    assert equivariance and equivariance[0].mask is not None and 0 < equivariance[0].mask.sum() < equivariance[0].mask.size


def test_random_shapes_may_be_formulas_of_dims(tmp_path: Path) -> None:
    sheet = load_sheet(write_sheet(tmp_path, RELU_PART))
    key = code_part_key(sheet, "e", "relu")
    for case in key.cases[1:]:
        rows, cols = case.kwargs["x"].shape
        assert cols == rows + 1
        np.testing.assert_array_equal(case.expected, np.maximum(case.kwargs["x"], 0))
    assert validate_sheet(sheet.path) == []


def test_validate_finds_a_mistake_that_never_differs(tmp_path: Path) -> None:
    part = RELU_PART.replace("expected: $x\n      feedback", "expected: {op: relu, x: $x}\n      feedback")
    errors = validate_sheet(write_sheet(tmp_path, part))
    assert len(errors) == 1 and "spec-mistake-full" in str(errors[0]) and "identity" in str(errors[0])


def test_validate_finds_random_cases_that_never_have_a_key(tmp_path: Path) -> None:
    part = """\
    - id: pool
      prompt: Write pool(x).
      points: 1
      answer:
        type: code
        function: pool
        cases: [{name: given, inputs: {x: $x}}]
        random_cases:
          count: 1
          dims: {n: {low: 5, high: 5}}
          args: {x: {shape: [n, n, 1]}}
      expected: {op: max_pool2d, x: $x, size: 3}
    """
    errors = validate_sheet(write_sheet(tmp_path, part))
    assert errors and "spec-random-cases" in str(errors[0]) and "not a whole number" in str(errors[0])


PADDED_PART = """\
- id: padded
  prompt: conv2d with padding.
  points: 1
  answer:
    type: code
    function: conv2d
    cases:
      - {name: s2p1, inputs: {image: $big, filters: $kernel, stride: 2, padding: 1}}
      - {name: s3p2, inputs: {image: $big, filters: $kernel, stride: 3, padding: 2}}
  expected: {op: conv2d, x: $image, w: $filters, stride: $stride, padding: $padding}
  mistakes:
    - id: ignored-padding
      expected: {op: conv2d, x: $image, w: $filters, stride: $stride, padding: 0}
      feedback: Add the padding before sliding the filters.
"""


def write_padded_sheet(tmp_path: Path, part: str) -> Path:
    """``part`` on a 5x5 image (the 3x3 one with a zero border) and a 3x3 filter: without its padding, case s2p1
    has a whole output size ((5 - 3)/2 + 1 = 2), case s3p2 has none ((5 - 3)/3 + 1)."""
    sheet_path = write_sheet(tmp_path, part)
    sheet_path.write_text(
        sheet_path.read_text(encoding="utf-8").replace(
            "      x: {op: reshape, x: $image, shape: [3, 3, 1]}\n",
            "      x: {op: reshape, x: $image, shape: [3, 3, 1]}\n"
            "      big: {op: pad, x: $x, width: 1}\n"
            "      kernel: {op: reshape, x: [[1, 0, -1], [2, 1, -2], [1, 0, 0]], shape: [3, 3, 1, 1]}\n",
        ),
        encoding="utf-8",
    )
    return sheet_path


def test_a_mistake_undefined_for_one_case_is_recognised_by_the_others(tmp_path: Path) -> None:
    """Ignoring the padding leaves no whole output size for case s3p2. That case had made the whole key fail
    (validate refused the sheet); now the mistake is only not looked for there, and a student who ignores the
    padding is told so from the case where it is defined."""
    sheet_path = write_padded_sheet(tmp_path, PADDED_PART)
    assert validate_sheet(sheet_path) == []
    sheet = load_sheet(sheet_path)
    [s2p1, s3p2] = code_part_key(sheet, "e", "padded").cases
    assert "ignored-padding" in s2p1.mistakes and "ignored-padding" not in s3p2.mistakes
    assert "is not a whole number" in s3p2.undefined_mistakes["ignored-padding"]
    right, unpadded = tmp_path / "right.py", tmp_path / "unpadded.py"
    right.write_text(STRIDED_CONV.format(extra=""), encoding="utf-8")
    unpadded.write_text(STRIDED_CONV.replace("padding=0):", "padding=0):\n    padding = 0").format(extra=""), encoding="utf-8")
    assert grade_submission(sheet, right).score == 1.0
    [part] = grade_submission(sheet, unpadded).parts
    assert [c.passed for c in part.cases] == [False, False]
    assert part.mistake == "ignored-padding" and part.feedback == "Add the padding before sliding the filters."


def test_a_mistake_undefined_in_every_case_is_refused_at_the_mistake(tmp_path: Path) -> None:
    part = PADDED_PART.replace("      - {name: s2p1, inputs: {image: $big, filters: $kernel, stride: 2, padding: 1}}\n", "")
    [error] = validate_sheet(write_padded_sheet(tmp_path, part))
    assert error.path == "exercises[0].parts[0].mistakes[0].expected", error
    assert error.message.startswith("known mistake 'ignored-padding' is undefined in every case, so no output can match it (case 's3p2': conv2d: ")


def test_a_relu_submission_is_graded_case_by_case(tmp_path: Path) -> None:
    sheet = load_sheet(write_sheet(tmp_path, RELU_PART))
    right = tmp_path / "right.py"
    right.write_text("import numpy as np\nSTUDENT = 's1'\ndef relu(x):\n    return np.maximum(x, 0)\n", encoding="utf-8")
    identity = tmp_path / "identity.py"
    identity.write_text("def relu(x):\n    return x\n", encoding="utf-8")
    result = grade_submission(sheet, right)
    assert result.student_id == "s1" and result.score == 1.0
    (part,) = result.parts
    assert [c.passed for c in part.cases] == [True] * 4
    # The given case is all positive, so the identity passes it and fails only hidden cases; the known mistake that
    # explains them is still named and credited (it names the slip, never a hidden input or value): a review had
    # it dropped, which took away its credit and the instructor's view of it along with the student's feedback.
    wrong = grade_submission(sheet, identity).parts[0]
    assert [c.passed for c in wrong.cases] == [True, False, False, False]
    assert wrong.mistake == "identity" and wrong.feedback == "relu sets negative entries to 0."
    assert wrong.points_earned < 2


@pytest.mark.parametrize("returned", ["None", "'text'", "{'a': 1}", "[[1, 2]]"])
def test_unusable_return_values_fail_their_cases(tmp_path: Path, returned: str) -> None:
    sheet = load_sheet(write_sheet(tmp_path, RELU_PART))
    code = tmp_path / "odd.py"
    code.write_text(f"def relu(x):\n    return {returned}\n", encoding="utf-8")
    part = grade_submission(sheet, code).parts[0]
    assert part.points_earned == 0 and not any(c.passed for c in part.cases)


def test_a_dict_where_an_array_is_due_fails_the_property_cases_too(tmp_path: Path) -> None:
    """max_pool's invariance cases compare two of its outputs: a dict there is a failed case, not a grader crash."""
    code = tmp_path / "dicts.py"
    code.write_text("def max_pool(x, size, stride):\n    return {'a': x}\n", encoding="utf-8")
    result = grade_submission(load_sheet(WEEK7), code)
    assert result.error is None
    pooled = next(p for p in result.parts if p.part_id == "code_max_pool")
    assert pooled.points_earned == 0 and not any(c.passed for c in pooled.cases)


WRONG_ONLY_ON_HIDDEN_CASES = '''\
import numpy as np

SHOWN = []


def conv2d(image, filters, stride=1, padding=0):
    SHOWN.append(image.shape)
    image = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
    f = filters.shape[0]
    rows, cols = (image.shape[0] - f) // stride + 1, (image.shape[1] - f) // stride + 1
    out = np.zeros((rows, cols, filters.shape[3]))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = np.tensordot(image[i * stride : i * stride + f, j * stride : j * stride + f], filters, axes=3)
    return out if image.shape == (6, 6, 1) or len(SHOWN) <= VISIBLE else out.reshape(-1)


def max_pool(x, size, stride):
    raise RuntimeError(f"seen before: {SHOWN}")
'''


def test_hidden_cases_run_last_and_are_never_named(tmp_path: Path) -> None:
    """Only counts are shown for hidden cases: the summary names no hidden case, and no visible case's message can
    carry what the code saw of a hidden case (one process runs them all and keeps its globals)."""
    sheet = load_sheet(WEEK7)
    key = code_part_key(sheet, "ex3", "code_conv2d")
    hidden = [c for c in key.cases if c.visibility.value == "hidden"]
    visible = [c for c in key.cases if c.visibility.value != "hidden"]
    assert hidden and visible
    code = tmp_path / "sly.py"
    code.write_text(WRONG_ONLY_ON_HIDDEN_CASES.replace("VISIBLE", str(len(visible))), encoding="utf-8")
    result = grade_submission(sheet, code, mode="check")
    conv = next(p for p in result.parts if p.part_id == "code_conv2d")
    assert "failed" in conv.feedback and not any(c.name in conv.feedback for c in hidden), conv.feedback
    pool = next(p for p in result.parts if p.part_id == "code_max_pool")
    shown = " ".join([pool.feedback, *(d for c in pool.cases for d in c.details)])
    assert "seen before" in shown
    seen = shown.split("seen before: [", 1)[1].split("]", 1)[0]
    assert seen.count("(") == len(visible), seen  # only the visible conv2d cases had run


CONSTANT_FUNCTIONS = '''\
import numpy as np


def conv2d(image, filters, stride=1, padding=0):
    f = filters.shape[0]
    rows = (image.shape[0] + 2 * padding - f) // stride + 1
    cols = (image.shape[1] + 2 * padding - f) // stride + 1
    return np.zeros((rows, cols, filters.shape[3]))


def max_pool(x, size, stride):
    return np.zeros(((x.shape[0] - size) // stride + 1, (x.shape[1] - size) // stride + 1, x.shape[2]))
'''


def test_a_constant_function_earns_nothing_for_being_trivially_equivariant(tmp_path: Path) -> None:
    """Zeros of the right shape are translation-equivariant and invariant: the property cases must not pay for that."""
    code = tmp_path / "zeros.py"
    code.write_text(CONSTANT_FUNCTIONS, encoding="utf-8")
    result = grade_submission(load_sheet(WEEK7), code)
    for part_id in ("code_conv2d", "code_max_pool"):
        part = next(p for p in result.parts if p.part_id == part_id)
        assert part.points_earned == 0 and not any(c.passed for c in part.cases), (part_id, part.points_earned)
        gated = [c for c in part.cases if c.feedback.startswith("not counted: the property holds")]
        assert gated, [c.feedback for c in part.cases]


def test_a_correct_function_keeps_its_property_cases(tmp_path: Path) -> None:
    code = tmp_path / "right.py"
    code.write_text((ROOT / "submissions" / "week7" / "code" / "correct.py").read_text(encoding="utf-8"), encoding="utf-8")
    result = grade_submission(load_sheet(WEEK7), code)
    for part_id in ("code_conv2d", "code_max_pool"):
        part = next(p for p in result.parts if p.part_id == part_id)
        assert part.points_earned == part.points_possible and all(c.passed for c in part.cases)


SEARCHING_FOR_HIDDEN_INPUTS = '''\
import gc, os, sys
import numpy as np


def _search():
    """Every number the process holds in arrays, in the harness's frames, or can read from its descriptors now."""
    found = []
    for obj in gc.get_objects():
        if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
            found.extend(obj.ravel()[:64].tolist())
        elif isinstance(obj, dict):
            for value in list(obj.values())[:64]:
                if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    found.extend(value.ravel()[:64].tolist())
    frame = sys._getframe()
    while frame is not None:
        config = frame.f_locals.get("config")
        for case in getattr(config, "cases", None) or []:
            for value in (case[2] or {}).values():
                found.extend(np.ravel(value)[:64].tolist())
        frame = frame.f_back
    for fd in range(3, 64):
        try:
            os.set_blocking(fd, False)
            found.append(os.read(fd, 1 << 16).hex())
        except OSError:
            pass
    return found


def relu(x):
    if x.shape != (3, 3, 1):  # a random (hidden) case: answer it right
        return np.maximum(x, 0)
    raise ValueError("found: " + repr(_search()))
'''

MARKED_PART = """\
- id: relu
  prompt: Write relu(x).
  points: 2
  answer:
    type: code
    function: relu
    cases:
      - {name: given, inputs: {x: $x}}
      - {name: secret, inputs: {x: $marked}, visibility: hidden}
  expected: {op: relu, x: $x}
"""


def _marked_sheet(tmp_path: Path) -> Path:
    """MARKED_PART's sheet, with the hidden case's input ``marked`` (entries +-4242.4242, found nowhere else)."""
    sheet_path = write_sheet(tmp_path, MARKED_PART)
    text = sheet_path.read_text(encoding="utf-8").replace(
        "      image: {value: [[1, 2, 0], [0, 1, 3], [2, 2, 1]]}\n",
        "      image: {value: [[1, 2, 0], [0, 1, 3], [2, 2, 1]]}\n"
        "      marked: {value: [[[4242.4242], [-4242.4242]], [[4242.4242], [4242.4242]]]}\n",
    )
    sheet_path.write_text(text, encoding="utf-8")
    return sheet_path


def test_no_visible_case_can_read_a_hidden_cases_inputs(tmp_path: Path) -> None:
    """A hidden case's inputs reach the sandboxed process only once every visible case has its outcome: a visible
    case searching the process's arrays, the harness's frames and its open descriptors finds none of them (here
    the marker 4242.4242), so its message, which the student reads in full, cannot carry them."""
    sheet_path = _marked_sheet(tmp_path)
    sheet = load_sheet(sheet_path)
    code = tmp_path / "searching.py"
    code.write_text(SEARCHING_FOR_HIDDEN_INPUTS, encoding="utf-8")
    part = grade_submission(sheet, code, mode="full").parts[0]
    given, secret = part.cases
    shown = " ".join([given.feedback, *given.details])
    assert "found: [" in shown and "4242.4242" not in shown and "4242" not in shown.replace("4242.4242", ""), shown
    assert (given.passed, secret.passed) == (False, True)  # the hidden case got its inputs and was answered right


FORGING_A_REQUEST = SEARCHING_FOR_HIDDEN_INPUTS.replace(
    '    raise ValueError("found: " + repr(_search()))',
    '''    import time
    wire = next(m for name, m in sys.modules.items() if name.endswith("sandbox.wire"))
    for fd in range(3, 64):  # ask for the hidden inputs on every descriptor, as the harness asks on its own
        try:
            os.write(fd, wire.encode_frame({"kind": "need-hidden"}))
        except OSError:
            pass
    time.sleep(0.2)
    raise ValueError("found: " + repr(_search()))''',
)


def test_a_forged_request_for_the_hidden_inputs_is_refused(tmp_path: Path) -> None:
    """The student's code writes the harness's own request for the hidden inputs while a visible case runs: the
    worker answers it only between calls, once every visible case has its outcome, so this one is a broken channel
    (the case crashed) and nothing of the hidden inputs comes back; the hidden case still runs in a fresh process."""
    sheet_path = _marked_sheet(tmp_path)
    code = tmp_path / "forging.py"
    code.write_text(FORGING_A_REQUEST, encoding="utf-8")
    part = grade_submission(load_sheet(sheet_path), code, mode="full").parts[0]
    given, secret = part.cases
    shown = " ".join([given.feedback, *given.details, part.feedback])
    assert "4242" not in shown, shown
    assert (given.passed, secret.passed) == (False, True)


LEAVING_HIDDEN_INPUTS_BEHIND = '''\
import os
import numpy as np

if os.path.exists("left.txt"):  # a process started after the hidden case below: raise with what it left
    raise ValueError("LEFT " + open("left.txt").read())


def relu(x):
    if x.shape != (3, 3, 1):  # the hidden case: write its inputs where the next process will look, and end
        with open("left.txt", "w") as file:
            file.write(repr(x.ravel().tolist()))
        os._exit(0)
    return np.maximum(x, 0)


def relu_again(x):
    return np.maximum(x, 0)
'''

ONLY_HIDDEN_PART = """\
- id: again
  prompt: Write relu once more.
  points: 1
  answer:
    type: code
    function: relu_again
    cases:
      - {name: hidden-only, inputs: {x: $x}, visibility: hidden}
  expected: {op: relu, x: $x}
"""


def test_a_part_whose_cases_are_all_hidden_never_shows_a_message_from_after_the_hidden_inputs(tmp_path: Path) -> None:
    """A hidden case writes its inputs to the working directory and ends its process; the process started for the
    next case imports the file, which raises with them. That import error is every case's outcome in a part whose
    cases are all hidden (a visible part): its feedback gives the reason, never the message."""
    sheet_path = _marked_sheet(tmp_path)
    sheet_path.write_text(sheet_path.read_text(encoding="utf-8") + textwrap.indent(ONLY_HIDDEN_PART, "      "), encoding="utf-8")
    code = tmp_path / "leaving.py"
    code.write_text(LEAVING_HIDDEN_INPUTS_BEHIND, encoding="utf-8")
    result = grade_submission(load_sheet(sheet_path), code, mode="full")
    shown = result.model_dump_json()
    assert "4242" not in shown and "LEFT" not in shown, shown
    relu_part, again = result.parts
    assert relu_part.cases[0].passed and not relu_part.cases[1].passed
    assert again.feedback == "your file could not be imported, so the case ran", again.feedback


def test_a_key_that_cannot_be_computed_for_one_case_names_the_case(tmp_path: Path) -> None:
    """The error stays at the expression that failed and names the case whose inputs it failed for, with its line."""
    sheet_path = write_sheet(tmp_path, """\
        - id: sixth
          prompt: Return the sixth entry of x.
          points: 1
          answer:
            type: code
            function: sixth
            cases:
              - {name: long, inputs: {x: [1, 2, 3, 4, 5, 6, 7]}}
              - {name: short, inputs: {x: [1, 2, 3]}}
          expected: {op: index, x: $x, at: [5]}
        """)
    errors = validate_sheet(sheet_path)
    text = sheet_path.read_text(encoding="utf-8")
    short_line = next(number for number, line in enumerate(text.splitlines(), start=1) if "name: short" in line)
    assert len(errors) == 1 and errors[0].path == "exercises[0].parts[0].expected", errors
    assert errors[0].message.startswith(f"case 'short' (line {short_line}): index"), errors[0].message


STRIDED_PART = """\
- id: strided
  prompt: conv2d with a stride.
  points: 1
  answer:
    type: code
    function: conv2d
    cases:
      - {name: s2p1, inputs: {image: $picture, filters: $kernel, stride: 2, padding: 1}}
    properties:
      - {kind: equivariance, case: s2p1, input: image, shift: [2, 2], stride: 2}
  expected: {op: conv2d, x: $image, w: $filters, stride: $stride, padding: $padding}
"""

STRIDED_CONV = '''\
import numpy as np


def conv2d(image, filters, stride=1, padding=0):
    x = np.pad(np.asarray(image, float), ((padding, padding), (padding, padding), (0, 0)))
    f = filters.shape[0]
    height, width = (x.shape[0] - f) // stride + 1, (x.shape[1] - f) // stride + 1
    out = np.zeros((height, width, filters.shape[3]))
    for i in range(height):
        for j in range(width):
            out[i, j] = np.einsum("xyc,xyck->k", x[i * stride:i * stride + f, j * stride:j * stride + f], filters)
    return out{extra}
'''


def write_strided_sheet(tmp_path: Path, properties: str) -> Path:
    """STRIDED_PART with ``properties`` (its YAML list item) as its one property check, on a 7x7 image with a
    zero border."""
    sheet_path = write_sheet(tmp_path, STRIDED_PART.replace(
        "      - {kind: equivariance, case: s2p1, input: image, shift: [2, 2], stride: 2}\n", f"      - {properties}\n",
    ))
    text = sheet_path.read_text(encoding="utf-8").replace(
        "      x: {op: reshape, x: $image, shape: [3, 3, 1]}\n",
        "      x: {op: reshape, x: $image, shape: [3, 3, 1]}\n"
        "      picture: {op: reshape, x: $img, shape: [7, 7, 1]}\n"
        "      kernel: {op: reshape, x: $k, shape: [3, 3, 1, 1]}\n",
    ).replace(
        "      image: {value: [[1, 2, 0], [0, 1, 3], [2, 2, 1]]}\n",
        "      image: {value: [[1, 2, 0], [0, 1, 3], [2, 2, 1]]}\n"
        "      img: {value: [[0,0,0,0,0,0,0],[0,1,2,0,3,1,0],[0,4,1,1,2,0,0],[0,0,0,2,1,1,0],[0,3,1,0,0,2,0],[0,1,2,3,0,1,0],[0,0,0,0,0,0,0]]}\n"
        "      k: {value: [[1, 0, -1], [2, 1, -2], [1, 0, 0]]}\n",
    )
    sheet_path.write_text(text, encoding="utf-8")
    return sheet_path


def test_equivariance_of_a_strided_layer_moves_the_output_by_the_shift_over_the_stride(tmp_path: Path) -> None:
    """A stride-2 layer is equivariant to a 2-pixel shift with its output moving 1 cell: the check says so (with
    the shift alone it found no cell that moves with the input, or, with shift 1, checked almost nothing)."""
    sheet_path = write_strided_sheet(tmp_path, "{kind: equivariance, case: s2p1, input: image, shift: [2, 2], stride: 2}")
    assert validate_sheet(sheet_path) == []
    sheet = load_sheet(sheet_path)
    right, wrong = tmp_path / "right.py", tmp_path / "wrong.py"
    right.write_text(STRIDED_CONV.format(extra=""), encoding="utf-8")
    wrong.write_text(STRIDED_CONV.format(extra=" + 0.5 * np.arange(height)[:, None, None]"), encoding="utf-8")  # grows with the row
    [passed] = [c for c in grade_submission(sheet, right, mode="full").parts[0].cases if c.name == "s2p1-shifted-2-2"]
    assert passed.passed
    [failed] = [c for c in grade_submission(sheet, wrong, mode="full").parts[0].cases if c.name == "s2p1-shifted-2-2"]
    assert not failed.passed and failed.feedback == (
        "not equivariant: shifting the input by (2, 2) should shift the output by (1, 1) (the layer's stride divides "
        "the shift) away from the border"
    )


def test_a_shift_a_strided_layer_does_not_follow_is_refused_though_zeros_of_the_image_still_match(tmp_path: Path) -> None:
    """Under a stride of 2, a 1-pixel shift moves no output cell by a whole cell. On this image with a zero border
    some cells still matched (zeros in, zeros out), so the key checked those few and validate passed; the check is
    now also tried on random numbers, where nothing matches by coincidence."""
    sheet_path = write_strided_sheet(tmp_path, "{kind: equivariance, case: s2p1, input: image, shift: [1, 1]}")
    [error] = validate_sheet(sheet_path)
    assert error.path.startswith("exercises[0].parts[0].answer.properties[0]"), error
    assert "no output cell moves with the input under this shift" in error.message and "stride" in error.message


def test_a_file_without_the_function_leaves_the_part_unanswered(tmp_path: Path) -> None:
    """Not defining the function is no answer to the part (status missing, as an answer file that leaves a part
    out), so a student's separate code files for separate parts add up in the gradebook's merge."""
    sheet = load_sheet(write_sheet(tmp_path, RELU_PART))
    other = tmp_path / "other.py"
    other.write_text("def sigmoid(x):\n    return x\n", encoding="utf-8")
    [part] = grade_submission(sheet, other).parts
    assert part.status == "missing" and part.points_earned == 0
    assert part.feedback.startswith("the function is not defined in your file, so none of the 4 cases ran")
