"""One run calling several functions of the student's module: one import, per-function outcomes and messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import grader.code_grading as code_grading
from grader.code_grading import grade_code_file
from grader.sandbox import (
    CaseInput,
    Limits,
    PreparedCases,
    RunReport,
    SandboxUsageError,
    prepare_cases,
    run_cases,
    run_prepared,
)
from grader.spec.loader import load_sheet

from .conftest import CONV2D_SOURCE, FAST_LIMITS, conv2d_loops, survivors

ROOT = Path(__file__).resolve().parents[2]

# conv2d from the shared correct submission, plus functions that each misbehave in their own way.
SEVERAL_SOURCE = CONV2D_SOURCE + '''
import sys

print("importing the module")


def double(x):
    return 2 * x


def pick(x, index):
    return x[index]


def quits(x):
    sys.exit(3)


def as_text(x):
    return "not numbers"


def spin(x):
    while x[0] > 0:
        pass
    return x


def forget_double(x):
    global double
    del double
    return x


not_a_function = 3
'''


def _image_filters(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"image": rng.normal(size=(5, 6, 2)), "filters": rng.normal(size=(3, 3, 2, 3))}


@pytest.fixture
def several(write_submission) -> Path:
    return write_submission("several.py", SEVERAL_SOURCE)


def test_two_functions_in_one_run_with_one_import(several: Path) -> None:
    x = np.arange(4.0)
    cases = [
        CaseInput("conv-a", _image_filters(1)),  # positional, function=None: run_cases' function
        CaseInput("double-a", {"x": x}, function="double"),
        CaseInput("conv-b", _image_filters(2), function="conv2d"),
        CaseInput("double-b", {"x": -x}, "double"),
    ]
    report = run_cases(several, "conv2d", cases)
    assert [c.name for c in report.cases] == ["conv-a", "double-a", "conv-b", "double-b"]
    assert [c.status for c in report.cases] == ["ok"] * 4, [c.message for c in report.cases]
    for case, outcome in zip(cases, report.cases):
        if case.function == "double":
            np.testing.assert_array_equal(outcome.value, 2 * case.kwargs["x"])
        else:
            np.testing.assert_allclose(outcome.value, conv2d_loops(case.kwargs["image"], case.kwargs["filters"]), atol=1e-12)
    assert report.stdout_excerpt.count("importing the module") == 1  # one child imported it, for both functions


def test_a_missing_function_fails_only_its_own_cases(several: Path) -> None:
    x = np.ones(3)
    cases = [
        CaseInput("absent-1", {"x": x}, function="relu"),
        CaseInput("double-1", {"x": x}, function="double"),
        CaseInput("absent-2", {"x": x}, function="relu"),
        CaseInput("value", {"x": x}, function="not_a_function"),
        CaseInput("double-2", {"x": 3 * x}, function="double"),
    ]
    report = run_cases(several, "double", cases)
    assert [c.status for c in report.cases] == ["missing-function", "ok", "missing-function", "missing-function", "ok"]
    for outcome in report.cases[0], report.cases[2]:
        assert outcome.message.startswith("several.py does not define a function named 'relu' (it defines: ")
        assert "conv2d" in outcome.message and "double" in outcome.message
    assert report.cases[3].message == "several.py defines 'not_a_function', but it is a int, not a function"
    np.testing.assert_array_equal(report.cases[4].value, 6 * x)


def test_functions_are_looked_up_before_any_call(several: Path) -> None:
    """A call that deletes another function from the module does not change what later cases call."""
    x = np.ones(2)
    cases = [CaseInput("forget", {"x": x}, function="forget_double"), CaseInput("double", {"x": x}, function="double")]
    report = run_cases(several, "double", cases)
    assert [c.status for c in report.cases] == ["ok", "ok"], [c.message for c in report.cases]
    np.testing.assert_array_equal(report.cases[1].value, 2 * x)


def test_messages_name_the_function_of_each_case(several: Path) -> None:
    x = np.ones(2)
    cases = [
        CaseInput("quits", {"x": x}, function="quits"),
        CaseInput("names", {"y": x}, function="pick"),  # pick(x, index) called with y=...
        CaseInput("text", {"x": x}, function="as_text"),
        CaseInput("double", {"x": x}, function="double"),
    ]
    report = run_cases(several, "conv2d", cases)
    quits, names, text, double = report.cases
    assert quits.status == "exception" and "quits must return its result instead" in quits.message
    assert names.status == "exception" and "the grader calls pick with keyword arguments" in names.message
    assert text.status == "bad-result" and text.message.startswith("as_text returned an unusable value")
    assert double.status == "ok"
    assert not any("conv2d" in outcome.message for outcome in report.cases)


def test_an_import_error_applies_to_every_function(write_submission) -> None:
    path = write_submission("broken.py", "import numpy as np\n\ndef double(x):\n    return 2 * x\n\nraise RuntimeError('at import')\n")
    cases = [CaseInput("a", {"x": np.ones(1)}, function="double"), CaseInput("b", {"x": np.ones(1)}, function="relu")]
    report = run_cases(path, "double", cases)
    assert [c.status for c in report.cases] == ["import-error", "import-error"]
    assert all("RuntimeError: at import" in c.message for c in report.cases)


@pytest.mark.slow
def test_a_timeout_in_one_function_does_not_stop_the_others(several: Path) -> None:
    cases = [
        CaseInput("double-1", {"x": np.ones(2)}, function="double"),
        CaseInput("spins", {"x": np.ones(2)}, function="spin"),
        CaseInput("double-2", {"x": np.full(2, 5.0)}, function="double"),
        CaseInput("relu", {"x": np.ones(2)}, function="relu"),
        CaseInput("returns", {"x": -np.ones(2)}, function="spin"),
    ]
    report = run_cases(several, "double", cases, limits=FAST_LIMITS)
    assert [c.status for c in report.cases] == ["ok", "timeout", "ok", "missing-function", "ok"]
    assert report.cases[1].message.startswith("stopped: this call of spin used more than 0.5 s of CPU time")
    np.testing.assert_array_equal(report.cases[2].value, np.full(2, 10.0))
    assert "'relu'" in report.cases[3].message
    assert report.stdout_excerpt.count("importing the module") == 2  # the child was restarted once, after the timeout
    assert survivors() == []


@pytest.mark.slow
def test_what_a_case_returned_is_kept_when_the_next_one_hangs(several: Path) -> None:
    """A finished case's frame travels with the next case's start (large ones at once): whatever its kind and size,
    it is reported, and the time limit that follows is charged to the case that hangs."""
    large = np.arange(300_000.0)  # 2.4 MB of result: written on its own, not held for the next frame
    cases = [
        CaseInput("small", {"x": np.ones(2)}, function="double"),
        CaseInput("large", {"x": large}, function="double"),
        CaseInput("spins-after-large", {"x": np.ones(2)}, function="spin"),
        CaseInput("quits", {"x": np.ones(2)}, function="quits"),
        CaseInput("absent", {"x": np.ones(2)}, function="relu"),
        CaseInput("spins-after-missing", {"x": np.ones(2)}, function="spin"),
        CaseInput("last", {"x": np.full(2, 4.0)}, function="double"),
    ]
    report = run_cases(several, "double", cases, limits=FAST_LIMITS)
    statuses = [c.status for c in report.cases]
    assert statuses == ["ok", "ok", "timeout", "exception", "missing-function", "timeout", "ok"], [c.message for c in report.cases]
    np.testing.assert_array_equal(report.cases[1].value, 2 * large)
    assert "spin" in report.cases[2].message and "spin" in report.cases[5].message
    np.testing.assert_array_equal(report.cases[6].value, np.full(2, 8.0))
    assert survivors() == []


@pytest.mark.slow
def test_each_case_may_have_its_own_time_limits(several: Path) -> None:
    limits = Limits(cpu_seconds_per_case=3.0, wall_seconds_per_case=5.0, wall_seconds_total=20.0)
    cases = [
        CaseInput("short", {"x": np.ones(1)}, function="spin", cpu_seconds=0.3, wall_seconds=1.0),
        CaseInput("double", {"x": np.ones(1)}, function="double", cpu_seconds=0.3),
    ]
    report = run_cases(several, "double", cases, limits=limits)
    assert [c.status for c in report.cases] == ["timeout", "ok"]
    assert "used more than 0.3 s of CPU time" in report.cases[0].message


def test_a_slow_group_runs_out_of_its_own_time_not_of_the_others(write_submission) -> None:
    """Cases of one group (a graded part) share its group_seconds over their calls, wherever they stand in the run:
    once used up, its call running is stopped and its cases not started are not run, while the other group's
    cases, hidden ones after it included, still run within the run's total time."""
    path = write_submission("slow_part.py", "import time\n\ndef slow(x):\n    time.sleep(0.6)\n    return x\n\n"
                                            "def quick(x):\n    return 2 * x\n")
    x = {"x": np.ones(2)}
    slow = {"function": "slow", "group": "ex.slow/", "group_seconds": 1.0, "wall_seconds": 5.0}
    quick = {"function": "quick", "group": "ex.quick/", "group_seconds": 2.0}
    cases = [
        CaseInput("a1", x, **slow), CaseInput("a2", x, **slow), CaseInput("a3", x, **slow),  # type: ignore[arg-type]
        CaseInput("b1", x, **quick), CaseInput("a4", x, **slow), CaseInput("b2", x, **quick),  # type: ignore[arg-type]
    ]
    limits = Limits(cpu_seconds_per_case=1.0, wall_seconds_per_case=5.0, wall_seconds_total=10.0)
    report = run_prepared(path, prepare_cases("quick", cases, limits=limits, hidden_from=4))
    outcomes = {c.name: c for c in report.cases}
    assert [c.status for c in report.cases] == ["ok", "timeout", "not-run", "ok", "not-run", "ok"], [c.message for c in report.cases]
    assert outcomes["a2"].message == "stopped: this part's cases may take 1 s in all, and that time ran out during this call of slow"
    for name in ("a3", "a4"):
        assert outcomes[name].message == "not run: this part's cases may take 1 s in all, and they had used it up before this case"
    np.testing.assert_array_equal(outcomes["b2"].value, np.full(2, 2.0))
    assert survivors() == []


def _group_run(path: Path, a_seconds: float, a_wall: float, cases_a: int) -> dict[str, Any]:
    """Run ``cases_a`` cases of ``slow`` in group a (``a_seconds`` in all, ``a_wall`` per call), then one quick case
    in group b, within a generous total: the outcomes by name."""
    x = {"x": np.ones(2)}
    slow = {"function": "slow", "group": "a", "group_seconds": a_seconds, "wall_seconds": a_wall}
    cases = [CaseInput(f"a{i}", x, **slow) for i in range(cases_a)]  # type: ignore[arg-type]
    cases.append(CaseInput("b", x, function="quick", group="b", group_seconds=2.0))
    limits = Limits(cpu_seconds_per_case=1.0, wall_seconds_per_case=5.0, wall_seconds_total=30.0)
    return {c.name: c for c in run_prepared(path, prepare_cases("quick", cases, limits=limits)).cases}


def test_a_call_that_ends_its_process_is_charged_to_its_group(write_submission) -> None:
    """A crashed call's time counts like a returned one's (review: only the calls the sandbox stopped were counted,
    so a part whose calls crash took the later parts' time)."""
    path = write_submission("crashing_part.py", "import os, time\n\ndef slow(x):\n    time.sleep(0.4)\n    os._exit(3)\n\n"
                                                "def quick(x):\n    return 2 * x\n")
    outcomes = _group_run(path, a_seconds=1.0, a_wall=5.0, cases_a=4)
    assert [outcomes[n].status for n in ("a0", "a1", "a2", "a3", "b")] == ["crashed", "crashed", "timeout", "not-run", "ok"], outcomes
    assert "this part's cases may take 1 s in all" in outcomes["a2"].message


def test_the_imports_a_groups_timeouts_cause_are_charged_to_it(write_submission) -> None:
    """Each call stopped for time ends its process, and the next one imports the module again: that import is
    charged to the group whose call caused it (review: a slow import times the timeouts of one part outlasted the
    run's total)."""
    path = write_submission("slow_import.py", "import time\ntime.sleep(1.0)\n\ndef slow(x):\n    time.sleep(10)\n\n"
                                              "def quick(x):\n    return 2 * x\n")
    # a0 0.3 s + import 1 s + a1 0.3 s + import 1 s uses up a's 2 s; uncharged imports would leave time for all five.
    outcomes = _group_run(path, a_seconds=2.0, a_wall=0.3, cases_a=5)
    assert [outcomes[f"a{i}"].status for i in range(5)] == ["timeout", "timeout", "not-run", "not-run", "not-run"], outcomes
    assert outcomes["b"].status == "ok"


def test_case_groups_are_checked(several: Path) -> None:
    x = {"x": np.ones(1)}
    with pytest.raises(SandboxUsageError, match=r"cases\[0\] \(a\): group \(text\) and group_seconds go together"):
        prepare_cases("double", [CaseInput("a", x, group="g")])
    with pytest.raises(SandboxUsageError, match=r"group_seconds must be None or a positive number"):
        prepare_cases("double", [CaseInput("a", x, group="g", group_seconds=-1.0)])
    with pytest.raises(SandboxUsageError, match=r"cases\[1\] \(b\): group 'g' has group_seconds 2 in an earlier case, not 3"):
        prepare_cases("double", [CaseInput("a", x, group="g", group_seconds=2.0), CaseInput("b", x, group="g", group_seconds=3.0)])


def test_case_functions_and_limits_are_checked(several: Path) -> None:
    x = {"x": np.ones(1)}
    with pytest.raises(SandboxUsageError, match=r"cases\[1\] \(b\): function must be None or a Python identifier"):
        run_cases(several, "double", [CaseInput("a", x), CaseInput("b", x, function="not valid")])
    with pytest.raises(SandboxUsageError, match="identifier"):
        run_cases(several, "double", [CaseInput("a", x, function="class")])
    with pytest.raises(SandboxUsageError, match=r"cases\[0\] \(a\) cpu_seconds must be None or a positive number"):
        run_cases(several, "double", [CaseInput("a", x, function="double", cpu_seconds=0)])
    with pytest.raises(SandboxUsageError, match="wall_seconds"):
        run_cases(several, "double", [CaseInput("a", x, wall_seconds=float("nan"))])


@pytest.mark.parametrize("mode", ["full", "check"])
def test_a_code_submission_is_one_sandbox_run(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """grade_code_file runs every (non-pending) code part of week 7 in one sandbox run, each part's cases calling
    its own function with its own per-call limits; the cases are prepared once per sheet, not per submission."""
    sheet = load_sheet(ROOT / "exercises" / "week7.yaml")
    calls: list[list[Any]] = []
    prepared_runs: set[int] = set()

    def counting_run_prepared(source: Path, prepared: PreparedCases, **kwargs: Any) -> RunReport:
        calls.append(list(prepared.cases))
        prepared_runs.add(id(prepared))
        return run_prepared(source, prepared, **kwargs)

    monkeypatch.setattr(code_grading, "run_prepared", counting_run_prepared)
    path = ROOT / "submissions" / "week7" / "code" / "correct.py"
    result = grade_code_file(sheet, path, path.read_bytes(), mode=mode)  # type: ignore[arg-type]
    grade_code_file(sheet, path, path.read_bytes(), mode=mode)  # type: ignore[arg-type]
    assert len(calls) == 2 and len(prepared_runs) == 1
    calls.pop()
    code_parts = [(e, p) for e, p in sheet.parts() if p.answer.type == "code"]
    run_parts = {name.split("/", 1)[0] for name in (c.name for c in calls[0])}
    expected_parts = {f"{e.id}.{p.id}" for e, p in code_parts if not (mode == "check" and p.visibility.value == "hidden")}
    assert run_parts == expected_parts and len(expected_parts) >= 2
    for case in calls[0]:
        part = next(p for e, p in code_parts if case.name.startswith(f"{e.id}.{p.id}/"))
        assert case.function == part.answer.function and case.cpu_seconds == part.answer.seconds_per_case
        # Each part's cases share the part's own total time: a slow part cannot use up another's.
        assert case.group == f"{case.name.split('/', 1)[0]}/"
    seconds = {case.group: case.group_seconds for case in calls[0]}
    assert len(seconds) == len(expected_parts) and all(s is not None and s > 0 for s in seconds.values())
    statuses = {p.key: p.status.value for p in result.parts}
    assert set(statuses) == {f"{e.id}.{p.id}" for e, p in code_parts}
    assert all(s == ("pending" if key not in expected_parts else "correct") for key, s in statuses.items()), statuses
