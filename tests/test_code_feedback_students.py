"""What students read about their code, from real code files graded on week 7 through the sandbox: a SyntaxError
told once per part, property cases that hold labelled ``not counted`` (not FAIL), one line per wrong dict entry,
how each hidden case failed (never a value of it), whole prompts, and a note when a function changes its
arguments in place."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from grader.code_key import code_part_key
from grader.grading import grade_submission
from grader.report import render
from grader.result import PartResult, Result, Visibility
from grader.sandbox.runner import _Case
from grader.sandbox.wire import array_to_blob
from grader.spec import load_sheet

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"

CONV2D = """\
def conv2d(image, filters, stride=1, padding=0):
    image = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
    f = filters.shape[0]
    rows, cols = (image.shape[0] - f) // stride + 1, (image.shape[1] - f) // stride + 1
    out = np.zeros((rows, cols, filters.shape[3]))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = np.tensordot(image[i * stride : i * stride + f, j * stride : j * stride + f], filters, axes=3)
    return out
"""

MAX_POOL = """\
def max_pool(x, size, stride):
    rows, cols = (x.shape[0] - size) // stride + 1, (x.shape[1] - size) // stride + 1
    out = np.zeros((rows, cols, x.shape[2]))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = x[i * stride : i * stride + size, j * stride : j * stride + size].max(axis=(0, 1))
    return out
"""

SYNTAX_ERROR = """\
import numpy as np
STUDENT = "s-syntax"
def conv2d(image, filters, stride=1, padding=0)
    return image
"""

# A student's attempt (from the walkthrough): zeros of the right shape for conv2d (trivially equivariant, wrong on
# every case), adjoints with the sign and a path wrong (f4, x2 and theta differ).
ZEROS_AND_WRONG_ADJOINTS = """\
import math
import numpy as np
STUDENT = "s-zeros"
def conv2d(image, filters, stride=1, padding=0):
    f = filters.shape[0]
    rows = (image.shape[0] + 2 * padding - f) // stride + 1
    cols = (image.shape[1] + 2 * padding - f) // stride + 1
    return np.zeros((rows, cols, filters.shape[3]))
def adjoints(x1, x2, theta):
    z = theta * x1 + x2
    return {'f6': 1, 'f3': 1, 'f2': math.cos(z), 'f1': math.cos(z), 'f5': 1, 'f4': 2 * x2,
            'theta': x1 * math.cos(z), 'x1': theta * math.cos(z), 'x2': math.cos(z)}
"""

# Right on the visible cases, wrong in a different way on each hidden one (they run after every visible case).
HIDDEN_FAILURES = (
    "import numpy as np\nSTUDENT = 's-hidden'\nCALLS = []\n"
    + CONV2D.replace("def conv2d(", "def _conv2d(")
    + """
def conv2d(image, filters, stride=1, padding=0):
    CALLS.append(1)
    hidden = len(CALLS) - VISIBLE - 1
    out = _conv2d(image, filters, stride, padding)
    if hidden == 0:
        raise IndexError(f"SECRET{image.sum()}")
    if hidden == 1:
        raise type(f"Leak{int(abs(image.sum()))}Error", (Exception,), {})("SECRET")
    if hidden == 2:
        return out.reshape(-1)
    if hidden == 3:
        return out * np.nan
    if hidden == 4:
        return out + 1
    if hidden == 5:  # last: the child is replaced after a timeout, and CALLS starts again
        while True:
            pass
    return out
"""
)

# Right results; conv2d zeroes its filters and max_pool its input after use; grad_w writes back what it read.
MUTATING = (
    "import numpy as np\nSTUDENT = 's-mutate'\n"
    + CONV2D.replace("    return out\n", "    filters[...] = 0\n    return out\n")
    + MAX_POOL.replace("    return out\n", "    x[:] = 0\n    return out\n")
    + """
def adjoints(x1, x2, theta):
    import math
    z = theta * x1 + x2
    return dict(f6=1.0, f3=1.0, f2=math.cos(z), f1=math.cos(z), f5=1.0, f4=theta,
                theta=x1 * math.cos(z) + x2 ** 2, x1=theta * math.cos(z), x2=math.cos(z) + 2 * theta * x2)
def grad_w(image, w, b, v, target):
    w[...] = w.copy()
    return np.zeros_like(w)
"""
)


# max_pool right but for one NaN entry in every output: no property case may "hold" on NaN (NaN compares as equal).
NAN_POOL = (
    "import numpy as np\nSTUDENT = 's-nan'\n"
    + MAX_POOL.replace("    return out\n", "    out.flat[0] = np.nan\n    return out\n")
)


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(source, encoding="utf-8")
    return path


def part(result: Result, part_id: str) -> PartResult:
    return next(p for p in result.parts if p.part_id == part_id)


def section(report: str, key: str) -> str:
    """The lines of one part in a text report: from its status line to the next part's."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("[") and f"] {key} " in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(("[", "-- ", "===="))), len(lines))
    return "\n".join(lines[start:end])


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Each student file graded once through the real path (the sandbox included)."""
    folder = tmp_path_factory.mktemp("code")
    sheet = load_sheet(WEEK7)
    visible = sum(1 for c in code_part_key(sheet, "ex3", "code_conv2d").cases if c.visibility is not Visibility.hidden)
    files = {
        "syntax": ("syntax.py", SYNTAX_ERROR),
        "zeros": ("zeros.py", ZEROS_AND_WRONG_ADJOINTS),
        "hidden": ("hidden.py", HIDDEN_FAILURES.replace("VISIBLE", str(visible))),
        "mutating": ("mutating.py", MUTATING),
        "nan": ("nan.py", NAN_POOL),
    }
    return {key: grade_submission(sheet, write(folder, name, source)) for key, (name, source) in files.items()}


# ---------------------------------------------------------------------------------------------- 1. a SyntaxError


def test_a_syntax_error_is_told_once_per_part_and_its_cases_are_not_run(graded: dict[str, Result]) -> None:
    result = graded["syntax"]
    report = render(result, "text")
    code_parts = [p for p in result.parts if p.answer_type == "code"]
    # Once per part (with the line and the message), not once per case (21 times before).
    assert report.count("SyntaxError in syntax.py, line 3, column") == len(code_parts), report
    assert report.count("expected ':'") == len(code_parts)
    conv = section(report, "ex3.code_conv2d")
    count = len(part(result, "code_conv2d").cases)
    assert f"-> your file could not be imported, so none of the {count} cases ran:" in conv
    assert "[FAIL]" not in report and "[not run] sheet-image  inputs:" in conv
    assert re.search(r"hidden cases: 0 of (\d+) passed; \1 not run", conv), conv
    for code in code_parts:
        assert code.points_earned == 0 and code.status.value == "error"
        assert all(not c.passed and c.details == [] for c in code.cases)


# ---------------------------------------------------------------------------------------------- 2. properties


def test_a_property_that_holds_is_labelled_not_counted_and_still_earns_nothing(graded: dict[str, Result]) -> None:
    conv = part(graded["zeros"], "code_conv2d")
    held = [c for c in conv.cases if c.name == "sheet-image-shifted-1-1"]
    assert held and not held[0].passed and held[0].fraction == 0  # counted as before: not at all
    assert conv.points_earned == 0
    text = section(render(graded["zeros"], "text"), "ex3.code_conv2d")
    assert "[not counted] sheet-image-shifted-1-1" in text and "[FAIL] sheet-image-shifted-1-1" not in text
    assert "the property holds, but only counts when your function also gets case sheet-image right" in flat(text)
    assert "not counted: the property holds" not in flat(text)  # the label says it; the line does not repeat it
    failed = sum(1 for c in conv.cases if not c.passed) - 1
    assert conv.feedback.startswith(f"{failed} of {len(conv.cases)} cases failed and 1 was not counted; first: sheet-image:")
    markdown = render(graded["zeros"], "md")
    assert "| sheet-image-shifted-1-1 |" in markdown and "| not counted | the property holds" in markdown
    assert '<span class="badge s-missing">not counted</span>' in render(graded["zeros"], "html")
    # the LMS formats too: Gradescope's test output and JUnit's failure text
    gradescope = json.loads(render(graded["zeros"], "gradescope"))
    output = next(t["output"] for t in gradescope["tests"] if "code_conv2d" in t["name"])
    assert "[not counted] sheet-image-shifted-1-1" in output and "[FAIL] sheet-image-shifted-1-1" not in output
    junit = render(graded["zeros"], "junit")
    assert "case sheet-image-shifted-1-1: not counted -- the property holds" in junit


# ---------------------------------------------------------------------------------------------- 3. a dict result


def test_each_wrong_entry_of_a_returned_dict_is_told_once(graded: dict[str, Result]) -> None:
    adjoints = part(graded["zeros"], "code_adjoints")
    case = next(c for c in adjoints.cases if c.name == "given-numbers")
    assert case.feedback == "wrong values for f4, x2, theta"
    for key in ("f4", "x2", "theta"):
        lines = [d for d in case.details if d.startswith(f"{key}: ")]
        assert len(lines) == 1 and re.fullmatch(rf"{key}: yours \S+, expected \S+", lines[0]), case.details
    assert not any("is not within the tolerance" in d for d in case.details)
    assert len(case.details) == 3


# ---------------------------------------------------------------------------------------------- 4. hidden cases


HIDDEN_KINDS = (
    "hidden cases: 0 of 6 passed; 2 raised an exception, 1 returned an array of the wrong shape, 1 returned "
    "non-finite values (NaN or inf), 1 returned a wrong value, 1 ran out of time"
)


@pytest.mark.parametrize("audience", ["student", "instructor"])
def test_hidden_cases_say_how_they_failed_and_nothing_of_their_values(graded: dict[str, Result], audience: str) -> None:
    result = graded["hidden"]
    conv = part(result, "code_conv2d")
    assert [c.passed for c in conv.cases if c.visibility is Visibility.visible] == [True] * sum(
        1 for c in conv.cases if c.visibility is Visibility.visible
    )
    for fmt in ("text", "md", "html", "junit", "gradescope"):
        output = render(result, fmt, audience=audience)  # type: ignore[arg-type]
        assert flat(HIDDEN_KINDS) in flat(output) or flat(HIDDEN_KINDS[0].upper() + HIDDEN_KINDS[1:]) in flat(output), fmt
        # no message and no exception type: the code picks the type (even among built-in ones) from what it sees
        assert "SECRET" not in output and "Leak" not in output and "IndexError" not in output, fmt
    text = section(render(result, "text"), "ex3.code_conv2d")
    assert "hidden cases: 0 of 6 passed\n" not in text + "\n"  # the bare count of before


def test_hidden_case_kinds_are_the_only_text_of_a_hidden_case(graded: dict[str, Result]) -> None:
    conv = part(graded["hidden"], "code_conv2d")
    hidden = [c for c in conv.cases if c.visibility is Visibility.hidden]
    assert all(c.inputs == "" and c.details == [] for c in hidden)
    assert [c.feedback for c in hidden] == [
        "raised an exception", "raised an exception", "returned an array of the wrong shape",
        "returned non-finite values (NaN or inf)", "returned a wrong value", "ran out of time",
    ]


# ---------------------------------------------------------------------------------------------- 5. prompts


def test_code_prompts_are_shown_whole(graded: dict[str, Result]) -> None:
    sheet = load_sheet(WEEK7)
    report = render(graded["zeros"], "text")
    for exercise, spec in sheet.parts():
        if spec.answer.type != "code":
            continue
        shown = part(graded["zeros"], spec.id)
        assert shown.title == flat(spec.prompt), shown.title
        assert flat(spec.prompt) in flat(section(report, f"{exercise.id}.{spec.id}"))
    conv = flat(section(report, "ex3.code_conv2d"))
    assert "(a cross-correlation: no flipping)" in conv and "(no bias, no non-linearity)." in conv
    assert "return the pooled (H', W', C) volume." in flat(section(report, "ex3.code_max_pool"))


# ---------------------------------------------------------------------------------------------- 6. in place


def test_a_function_that_changes_its_arguments_in_place_is_told_so_at_no_cost(graded: dict[str, Result]) -> None:
    result = graded["mutating"]
    conv, pool, grad = part(result, "code_conv2d"), part(result, "code_max_pool"), part(result, "code_grad_w")
    assert conv.points_earned == conv.points_possible and pool.points_earned == pool.points_possible
    visible = sum(1 for c in conv.cases if c.visibility is Visibility.visible)
    assert 0 < visible < len(conv.cases)  # hidden cases are not counted: that would tell a bit of each
    assert conv.feedback == (
        f"Note: your function changed its argument 'filters' in place (in {visible} of {visible} visible "
        "cases). This costs no points, as every case gets its own copy, but code that calls conv2d() would find its "
        "array changed: work on a copy (filters = filters.copy()) or write the result into a new array."
    )
    assert pool.feedback.startswith("Note: your function changed its argument 'x' in place")
    assert "x = x.copy()" in pool.feedback
    assert "in place" not in grad.feedback  # it wrote back the very values it read
    assert "in place" not in part(result, "code_adjoints").feedback  # numbers only
    text = render(result, "text")
    assert "-> Note: your function changed its argument 'filters' in place" in section(text, "ex3.code_conv2d")


def _case(**kwargs: object) -> _Case:
    return _Case("c", "f", dict(kwargs), 1.0, 1.0)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([True, False, True], ("x",)),  # 'size' is a number, not an array: never named
        ([False, True, False], ("filters",)),
        ([False, False, False], ()),
        ([True, True], ()),  # one flag per argument, or nothing
        (np.array([1, 0, 0]), ()),  # bool only
        ([[True, False, True]], ()),
    ],
)
def test_the_flags_from_the_child_are_checked_before_use(flags: object, expected: tuple[str, ...]) -> None:
    from grader.sandbox.runner import (
        _changed,  # the grader's check of what the child sends
    )

    case = _Case("c", "f", {"x": np.zeros((2, 2)), "filters": np.ones(3), "size": 2}, 1.0, 1.0)
    assert _changed(array_to_blob(np.asarray(flags)), case) == expected
    assert _changed(b"not a blob", case) == ()


def test_the_child_flags_an_argument_only_when_its_shape_dtype_or_values_change() -> None:
    from grader.sandbox.child import _changed_flags, _snapshot
    from grader.sandbox.wire import blob_to_array

    def flags(kwargs: dict[str, object], change: object) -> list[bool] | None:
        snapshot = _snapshot(kwargs)  # type: ignore[arg-type]
        change(kwargs)  # type: ignore[operator]
        blob = _changed_flags(kwargs, snapshot)  # type: ignore[arg-type]
        return None if blob is None else blob_to_array(blob, max_bytes=64).tolist()

    def fresh() -> dict[str, object]:
        return {"x": np.array([[1.0, np.nan], [0.0, 2.0]]), "k": np.arange(3), "size": 2}

    def untouched(kwargs: dict[str, object]) -> None:
        kwargs["x"][0, 1] = np.nan  # type: ignore[index]  # NaN written over NaN: the same
        kwargs["x"][1, 0] = -0.0  # type: ignore[index]  # -0.0 equals 0.0

    def reshaped(kwargs: dict[str, object]) -> None:
        kwargs["x"].shape = (4,)  # type: ignore[union-attr]

    def zeroed(kwargs: dict[str, object]) -> None:
        kwargs["k"][:] = 0  # type: ignore[index]

    assert flags(fresh(), untouched) is None
    assert flags(fresh(), reshaped) == [True, False, False]
    assert flags(fresh(), zeroed) == [False, True, False]
    assert _snapshot({"size": 2, "stride": 1}) is None  # no arrays: nothing copied, nothing sent


def test_a_property_case_is_not_checked_on_outputs_holding_nan(graded: dict[str, Result]) -> None:
    """Re-check finding: a max_pool returning NaN had its invariance cases 'hold' (NaN differs from nothing)."""
    pool = part(graded["nan"], "code_max_pool")
    assert pool.points_earned == 0
    properties = [c for c in pool.cases if c.visibility is Visibility.visible and c.name not in {
        case.name for case in code_part_key(load_sheet(WEEK7), "ex3", "code_max_pool").cases if case.kind == "value"}]
    assert properties, [c.name for c in pool.cases]
    for case in properties:
        assert not case.passed and case.feedback == "not checked: the outputs hold NaN or inf", (case.name, case.feedback)
