"""run_cases on ordinary submissions: correct, raising, broken, notebooks, dict results, limits, layers, threads."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grader.sandbox.layers as layers_module
import grader.sandbox.runner as runner_module
import grader.sandbox.worker as worker_module
from grader.errors import GraderError, InputFileError
from grader.sandbox import (
    LAYER_NAMES,
    CaseInput,
    Limits,
    SandboxUnavailable,
    SandboxUsageError,
    probe_layers,
    run_cases,
)

from .conftest import FAST_LIMITS, assert_grader_fine, conv2d_loops, survivors


def _conv_cases(count: int, seed: int = 0) -> list[CaseInput]:
    rng = np.random.default_rng(seed)
    return [
        CaseInput(f"conv{i}", {"image": rng.normal(size=(6, 7, 2)), "filters": rng.normal(size=(3, 3, 2, 4))})
        for i in range(count)
    ]


def test_correct_conv2d_matches_the_loop_oracle(correct_submission: Path) -> None:
    cases = _conv_cases(4)
    report = run_cases(correct_submission, "conv2d", cases)
    assert [c.name for c in report.cases] == [c.name for c in cases]
    for case, outcome in zip(cases, report.cases):
        assert outcome.status == "ok" and outcome.message == ""
        assert type(outcome.value) is np.ndarray and outcome.value.dtype == np.float64
        assert outcome.value.shape == (4, 5, 4)
        np.testing.assert_allclose(outcome.value, conv2d_loops(case.kwargs["image"], case.kwargs["filters"]), atol=1e-12)
    assert report.layers["child-process"] is True
    assert set(report.layers) == set(LAYER_NAMES)


def test_layers_reported_match_the_probe(correct_submission: Path) -> None:
    report = run_cases(correct_submission, "conv2d", _conv_cases(1))
    assert report.layers == probe_layers()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    height=st.integers(3, 9),
    width=st.integers(3, 9),
    channels=st.integers(1, 3),
    kernels=st.integers(1, 3),
    size=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_correct_conv2d_on_random_shapes(
    correct_submission: Path, height: int, width: int, channels: int, kernels: int, size: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    image, filters = rng.normal(size=(height, width, channels)), rng.normal(size=(size, size, channels, kernels))
    report = run_cases(correct_submission, "conv2d", [CaseInput("random", {"image": image, "filters": filters})])
    np.testing.assert_allclose(report.cases[0].value, conv2d_loops(image, filters), atol=1e-12)


def test_exception_shows_only_the_students_lines(write_submission) -> None:
    path = write_submission(
        "broken.py",
        "import numpy as np\n\n\ndef helper(a):\n    return a @ np.ones((5, 5))\n\n\ndef conv2d(image, filters):\n    return helper(image)\n",
    )
    report = run_cases(path, "conv2d", _conv_cases(2))
    for outcome in report.cases:
        assert outcome.status == "exception" and outcome.value is None
        message = outcome.message
        assert 'File "broken.py", line 9, in conv2d' in message
        assert "    return helper(image)" in message
        assert 'File "broken.py", line 5, in helper' in message
        assert message.rstrip().splitlines()[-1].startswith("ValueError: matmul")
        for internal in ("child.py", "worker.py", "_grader_sandbox", "grader/sandbox", "numpy/", "site-packages"):
            assert internal not in message


def test_wrong_parameter_names_get_a_hint(write_submission) -> None:
    path = write_submission("names.py", "def conv2d(img, w):\n    return img\n")
    outcome = run_cases(path, "conv2d", _conv_cases(1)).cases[0]
    assert outcome.status == "exception"
    assert "unexpected keyword argument 'image'" in outcome.message
    assert "keyword arguments" in outcome.message


def test_syntax_error_gives_line_and_column(write_submission) -> None:
    path = write_submission("syntax.py", "import numpy as np\n\ndef conv2d(image, filters)\n    return image\n")
    report = run_cases(path, "conv2d", _conv_cases(3))
    for outcome in report.cases:
        assert outcome.status == "import-error"
        assert outcome.message.startswith("SyntaxError in syntax.py, line 3, column 27:"), outcome.message
        assert "def conv2d(image, filters)" in outcome.message
        assert outcome.message.splitlines()[-1].strip() == "^"


def test_import_error_and_exception_at_import(write_submission) -> None:
    path = write_submission("imports.py", "import numpy as np\nimport scipy_does_not_exist\n\ndef conv2d(image, filters):\n    return image\n")
    outcome = run_cases(path, "conv2d", _conv_cases(1)).cases[0]
    assert outcome.status == "import-error"
    assert "importing imports.py failed" in outcome.message
    assert 'File "imports.py", line 2, in <module>' in outcome.message
    assert "ModuleNotFoundError: No module named 'scipy_does_not_exist'" in outcome.message


def test_missing_function_lists_what_is_defined(write_submission) -> None:
    path = write_submission("other.py", "def convolve(image, filters):\n    return image\n\ndef _private():\n    pass\n\nconv2d_result = 3\n")
    report = run_cases(path, "conv2d", _conv_cases(2))
    for outcome in report.cases:
        assert outcome.status == "missing-function"
        assert outcome.message == "other.py does not define a function named 'conv2d' (it defines: convolve)"
    not_callable = write_submission("value.py", "conv2d = 3\n")
    outcome = run_cases(not_callable, "conv2d", _conv_cases(1)).cases[0]
    assert outcome.status == "missing-function" and "it is a int, not a function" in outcome.message


def _notebook(cells: list[tuple[str, str]]) -> str:
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [
                {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True), **({"outputs": [{"output_type": "stream", "name": "stdout", "text": ["ignored"]}], "execution_count": 1} if kind == "code" else {})}
                for kind, text in cells
            ],
        }
    )


def test_notebook_submission_runs_code_cells_without_magics(write_submission) -> None:
    path = write_submission(
        "homework.ipynb",
        _notebook(
            [
                ("markdown", "# Week 7\nImplement conv2d."),
                ("code", "%matplotlib inline\n!pip install numpy\nimport numpy as np"),
                ("code", "%%bash\necho this is not python\nrm -rf /"),
                ("code", "%%time\nSCALE = 2.0"),
                ("code", "def conv2d(image, filters):\n    f, _, C, K = filters.shape\n    H, W, _ = image.shape\n"
                 "    out = np.zeros((H - f + 1, W - f + 1, K))\n    for x in range(f):\n        for y in range(f):\n"
                 "            out += np.tensordot(image[x:x + H - f + 1, y:y + W - f + 1], filters[x, y], axes=([2], [0]))\n"
                 "    return out * SCALE / 2.0"),
            ]
        ),
    )
    cases = _conv_cases(2)
    report = run_cases(path, "conv2d", cases)
    for case, outcome in zip(cases, report.cases):
        assert outcome.status == "ok", outcome.message
        np.testing.assert_allclose(outcome.value, conv2d_loops(case.kwargs["image"], case.kwargs["filters"]), atol=1e-12)
    assert "ignored" not in report.stdout_excerpt


def test_notebook_errors_point_at_cell_and_line(write_submission) -> None:
    path = write_submission(
        "broken.ipynb",
        _notebook([("markdown", "intro"), ("code", "import numpy as np"), ("code", "def conv2d(image, filters):\n    x = 1\n    return image / undefined_name")]),
    )
    outcome = run_cases(path, "conv2d", _conv_cases(1)).cases[0]
    assert outcome.status == "exception"
    assert 'File "broken.ipynb", cell 3, line 3, in conv2d' in outcome.message
    assert "NameError: name 'undefined_name' is not defined" in outcome.message
    syntax = write_submission("syntax.ipynb", _notebook([("code", "import numpy as np"), ("code", "def conv2d(image, filters):\n    return (image")]))
    outcome = run_cases(syntax, "conv2d", _conv_cases(1)).cases[0]
    assert outcome.status == "import-error" and "syntax.ipynb, cell 2, line 2" in outcome.message


def test_unreadable_notebook_is_an_import_error(write_submission) -> None:
    path = write_submission("bad.ipynb", "{not json")
    outcome = run_cases(path, "conv2d", _conv_cases(1)).cases[0]
    assert outcome.status == "import-error" and "bad.ipynb is not a notebook" in outcome.message


def test_dict_results_scalars_and_dtypes(write_submission) -> None:
    path = write_submission(
        "grads.py",
        "import numpy as np\n\n"
        "def grads(x, stride, scale, flag):\n"
        "    assert type(stride) is int and type(scale) is float and type(flag) is bool\n"
        "    return {'dx': x * scale, 'count': np.array([stride, stride], dtype=np.int32), 'mask': x > 0,\n"
        "            'small': x.astype(np.float32)}\n",
    )
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    report = run_cases(path, "grads", [CaseInput("g", {"x": x, "stride": np.int64(2), "scale": 0.5, "flag": True})])
    outcome = report.cases[0]
    assert outcome.status == "ok", outcome.message
    assert isinstance(outcome.value, dict) and sorted(outcome.value) == ["count", "dx", "mask", "small"]
    np.testing.assert_array_equal(outcome.value["dx"], x * 0.5)
    assert outcome.value["count"].dtype == np.int64 and outcome.value["count"].tolist() == [2, 2]
    assert outcome.value["mask"].dtype == np.bool_
    assert outcome.value["small"].dtype == np.float64


@pytest.mark.parametrize(
    ("returned", "fragment"),
    [
        ("None", "is None"),
        ("'text'", "a str"),
        ("np.array([1 + 2j])", "complex"),
        ("np.array(['a'])", "dtype <U1"),
        ("[np.ones(2), np.ones(3)]", "could not be turned into a numpy array"),
        ("{1: np.ones(2)}", "keys must be short strings"),
    ],
)
def test_unusable_return_values_are_bad_results(write_submission, returned: str, fragment: str) -> None:
    path = write_submission("ret.py", f"import numpy as np\n\ndef solve(x):\n    return {returned}\n")
    outcome = run_cases(path, "solve", [CaseInput("r", {"x": np.ones(2)})]).cases[0]
    assert outcome.status == "bad-result" and fragment in outcome.message, outcome.message


def test_lists_and_python_numbers_are_accepted(write_submission) -> None:
    path = write_submission("ret.py", "def solve(x):\n    return [[1, 2], [3, 4]] if x.size > 1 else 2.5\n")
    report = run_cases(path, "solve", [CaseInput("list", {"x": np.ones(2)}), CaseInput("scalar", {"x": np.ones(1)})])
    assert report.cases[0].value.tolist() == [[1, 2], [3, 4]] and report.cases[0].value.dtype == np.int64
    assert report.cases[1].value.shape == () and float(report.cases[1].value) == 2.5


@pytest.mark.slow
def test_a_timeout_does_not_stop_the_following_cases(write_submission) -> None:
    path = write_submission("slow.py", "def solve(x):\n    while x[0] > 0:\n        pass\n    return x + 1\n")
    cases = [CaseInput("fast1", {"x": np.zeros(2)}), CaseInput("loops", {"x": np.ones(2)}), CaseInput("fast2", {"x": -np.ones(2)})]
    report = run_cases(path, "solve", cases, limits=FAST_LIMITS)
    assert [c.status for c in report.cases] == ["ok", "timeout", "ok"]
    np.testing.assert_array_equal(report.cases[2].value, np.zeros(2))
    assert survivors() == []


@pytest.mark.slow
def test_total_time_budget_leaves_later_cases_not_run(write_submission) -> None:
    path = write_submission("sleepy.py", "import time\n\ndef solve(x):\n    time.sleep(0.4)\n    return x\n")
    limits = Limits(cpu_seconds_per_case=1.0, wall_seconds_per_case=2.0, wall_seconds_total=1.0)
    report = run_cases(path, "solve", [CaseInput(f"c{i}", {"x": np.ones(1)}) for i in range(6)], limits=limits)
    statuses = [c.status for c in report.cases]
    assert statuses[0] == "ok" and statuses[-1] == "not-run"
    assert "not-run" in statuses and set(statuses) <= {"ok", "timeout", "not-run"}
    assert "1 s of total time" in report.cases[-1].message


def test_printed_output_is_kept_in_the_excerpt(write_submission) -> None:
    path = write_submission("chatty.py", "import sys\nprint('importing')\n\ndef solve(x):\n    print('shape', x.shape)\n    print('warn', file=sys.stderr)\n    return x\n")
    report = run_cases(path, "solve", [CaseInput("a", {"x": np.ones(2)})])
    assert report.cases[0].status == "ok"
    assert "importing" in report.stdout_excerpt and "shape (2,)" in report.stdout_excerpt and "warn" in report.stdout_excerpt


def test_grader_misuse_raises_grader_errors(correct_submission: Path, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        run_cases(tmp_path / "absent.py", "conv2d", _conv_cases(1))
    with pytest.raises(SandboxUsageError, match="identifier"):
        run_cases(correct_submission, "conv 2d", _conv_cases(1))
    with pytest.raises(SandboxUsageError, match="used twice"):
        run_cases(correct_submission, "conv2d", _conv_cases(1) + _conv_cases(1))
    with pytest.raises(SandboxUsageError, match="dtype object"):
        run_cases(correct_submission, "conv2d", [CaseInput("o", {"image": np.array([None])})])
    with pytest.raises(SandboxUsageError, match="cpu_seconds_per_case"):
        Limits(cpu_seconds_per_case=0)
    assert issubclass(SandboxUsageError, GraderError) and issubclass(SandboxUnavailable, GraderError)
    assert run_cases(correct_submission, "conv2d", []).cases == []


def test_require_sandbox_names_the_missing_layers(correct_submission: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if all(probe_layers().values()):
        report = run_cases(correct_submission, "conv2d", _conv_cases(1), require_sandbox=True)
        assert all(report.layers.values()) and report.cases[0].status == "ok"
    probed = dict(layers_module.probe_layers(), **{"no-network": False, "seccomp": False})
    monkeypatch.setattr(layers_module, "probe_layers", lambda: probed)
    with pytest.raises(SandboxUnavailable) as raised:
        run_cases(correct_submission, "conv2d", _conv_cases(1), require_sandbox=True)
    message = str(raised.value)
    assert "no-network" in message and "seccomp" in message and "apt-get install -y bubblewrap" in message
    assert "private-filesystem" not in message or not probed["private-filesystem"]


def _left_behind_by_ended_workers(wait_seconds: float = 2.0) -> list[Path]:
    """Worker directories in the temporary folder whose worker (the pid in their name) has ended.

    Directories of live workers are left out: they may be another test run's, on the same machine."""
    deadline = time.monotonic() + wait_seconds
    while True:
        left = []
        for path in Path(tempfile.gettempdir()).glob(f"{worker_module.WORKDIR_PREFIX}*"):
            pid = path.name.removeprefix(worker_module.WORKDIR_PREFIX).split("-", 1)[0]
            if not pid.isdigit() or not Path(f"/proc/{pid}").exists():
                left.append(path)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def test_without_bubblewrap_the_plain_worker_still_isolates(correct_submission: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Force the fallback (no bubblewrap): rlimits, seccomp and the separate uid still hold, and layers say so."""
    probed = dict(layers_module.probe_layers(), **{name: False for name in layers_module.BWRAP_LAYERS})
    monkeypatch.setattr(layers_module, "probe_layers", lambda: probed)
    cases = _conv_cases(2)
    report = run_cases(correct_submission, "conv2d", cases)
    assert all(c.status == "ok" for c in report.cases)
    assert not any(report.layers[name] for name in layers_module.BWRAP_LAYERS)
    assert report.layers["seccomp"] == probed["seccomp"] and report.layers["separate-user"] == probed["separate-user"]
    hostile = Path(__file__).parent / "hostile"
    fork = run_cases(hostile / "fork_bomb.py", "solve", [CaseInput("f", {"x": np.ones(1)})], limits=FAST_LIMITS)
    assert fork.cases[0].status in ("exception", "crashed")
    memory = run_cases(hostile / "memory_bomb.py", "solve", [CaseInput("m", {"x": np.ones(1)})], limits=FAST_LIMITS)
    assert memory.cases[0].status == "memory"
    secret = tmp_path / "private"
    secret.mkdir(mode=0o700)
    (secret / "key.txt").write_text("secret")
    reader = tmp_path / "reader.py"
    reader.write_text(f"def solve(x):\n    return len(open({str(secret / 'key.txt')!r}).read())\n")
    outcome = run_cases(reader, "solve", [CaseInput("r", {"x": np.ones(1)})], limits=FAST_LIMITS).cases[0]
    if probed["separate-user"]:
        assert outcome.status == "exception" and "PermissionError" in outcome.message
    assert _left_behind_by_ended_workers() == [], "the plain worker must remove its working directories"
    assert survivors() == []


def test_two_threads_grade_at_once(correct_submission: Path, write_submission) -> None:
    broken = write_submission("raises.py", "def conv2d(image, filters):\n    raise ValueError('nope')\n")
    results: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def grade(label: str, path: Path) -> None:
        try:
            for _ in range(5):
                report = run_cases(path, "conv2d", _conv_cases(3))
                results.setdefault(label, []).extend(c.status for c in report.cases)
        except BaseException as error:  # noqa: BLE001 -- surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=grade, args=("good", correct_submission)), threading.Thread(target=grade, args=("bad", broken))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results["good"] == ["ok"] * 15 and results["bad"] == ["exception"] * 15


def test_a_dead_worker_is_replaced(correct_submission: Path) -> None:
    run_cases(correct_submission, "conv2d", _conv_cases(1))
    idle = list(runner_module._POOL._idle)
    assert idle, "a warm worker should be kept after a run"
    for worker in idle:
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait()
    report = run_cases(correct_submission, "conv2d", _conv_cases(2))
    assert [c.status for c in report.cases] == ["ok", "ok"]
    assert_grader_fine(correct_submission)


def test_cases_prepared_once_run_like_run_cases(tmp_path: Path) -> None:
    """prepare_cases + run_prepared (what a batch does for every student) gives exactly run_cases' outcomes, and
    a prepared set of cases can be run on any number of submissions."""
    from grader.sandbox import prepare_cases, run_prepared

    from .conftest import CONV2D_SOURCE

    rng = np.random.default_rng(3)
    cases = [CaseInput(f"c{i}", {"image": rng.normal(size=(5, 5, 2)), "filters": rng.normal(size=(3, 3, 2, 2))}) for i in range(3)]
    prepared = prepare_cases("conv2d", cases, limits=FAST_LIMITS)
    right, wrong = tmp_path / "right.py", tmp_path / "wrong.py"
    right.write_text(CONV2D_SOURCE)
    wrong.write_text("def conv2d(image, filters):\n    raise ValueError('not yet')\n")
    for submission in (right, wrong, right):
        once = run_prepared(submission, prepared)
        direct = run_cases(submission, "conv2d", cases, limits=FAST_LIMITS)
        assert [(o.name, o.status, o.message) for o in once.cases] == [(o.name, o.status, o.message) for o in direct.cases]
    for outcome, case in zip(run_prepared(right, prepared).cases, cases):
        np.testing.assert_allclose(outcome.value, conv2d_loops(case.kwargs["image"], case.kwargs["filters"]))  # type: ignore[arg-type]
    with pytest.raises(InputFileError):
        run_prepared(tmp_path / "missing.py", prepared)
    with pytest.raises(SandboxUsageError):
        prepare_cases("not a name", cases)


HOME_CHECK = '''\
import os
import random

import numpy as np


def solve(x):
    home = os.environ["HOME"]
    assert sorted(os.environ) == ["HOME", "LANG", "PATH"], sorted(os.environ)
    assert os.getcwd() == home and os.listdir(home) == [], (os.getcwd(), home, os.listdir(home))
    with open(os.path.join(home, "left-behind.txt"), "w") as note:
        note.write("a file for the next submission to find")
    return np.array([random.random(), np.random.rand()])
'''


def test_every_submission_gets_a_fresh_home_and_its_own_random_state(write_submission) -> None:
    """The child's environment is PATH, LANG and HOME, its working directory; what one submission leaves there is
    gone for the next; and ``random`` and numpy's global generator are reseeded in every child (as a fresh
    interpreter would have them), not inherited."""
    submission = write_submission("home.py", HOME_CHECK)
    draws = []
    for _ in range(3):
        outcome = run_cases(submission, "solve", [CaseInput("c", {"x": np.ones(1)})], limits=FAST_LIMITS).cases[0]
        assert outcome.status == "ok", outcome.message
        draws.append(tuple(outcome.value))
    assert len({python for python, _ in draws}) == 3
    assert len({numpy for _, numpy in draws}) == 3


MUTATES_ITS_INPUT = '''\
def solve(x):
    before = x.copy()
    x[...] = 99.0
    return before
'''


def test_a_worker_keeps_prepared_cases_but_every_submission_gets_them_unchanged(
    write_submission, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the first request a worker keeps the decoded cases and gets only their token; a student's function that
    overwrites its argument in place changes nothing the next submission (or the next case) receives. A worker that
    does not have the cases asks for them."""
    from grader.sandbox import prepare_cases, run_prepared

    submission = write_submission("mutates.py", MUTATES_ITS_INPUT)
    xs = [np.arange(4.0), np.full(4, 7.0)]
    prepared = prepare_cases("solve", [CaseInput(f"c{i}", {"x": x}) for i, x in enumerate(xs)], limits=FAST_LIMITS)
    sent: list[bytes] = []
    real_request = runner_module._Worker.request

    def recording_request(worker, frame: bytes, deadline: float, max_payload: int, max_header: int):  # noqa: ANN001
        sent.append(frame)
        return real_request(worker, frame, deadline, max_payload, max_header)

    monkeypatch.setattr(runner_module._Worker, "request", recording_request)

    def run_and_check() -> None:
        for outcome, x in zip(run_prepared(submission, prepared).cases, xs):
            assert outcome.status == "ok", outcome.message
            np.testing.assert_array_equal(outcome.value, x)

    for _ in range(3):
        run_and_check()
    with_cases = [frame for frame in sent if b'"cases":' in frame]
    assert len(with_cases) <= len(sent) - 2, "later requests to a worker carry only the token"
    # The runner believes every idle worker keeps another preparation's cases: each asks for them once.
    other = prepare_cases("solve", [CaseInput("d0", {"x": xs[0]}), CaseInput("d1", {"x": xs[1]})], limits=FAST_LIMITS)
    for worker in runner_module._POOL._idle:
        worker.kept_token = other.token
    sent.clear()
    for outcome, x in zip(run_prepared(submission, other).cases, xs):
        assert outcome.status == "ok" and np.array_equal(outcome.value, x), outcome.message
    assert [b'"cases":' in frame for frame in sent] == [False, True]
    # Cases are named by their content: preparing the same cases again needs no new transfer.
    again = prepare_cases("solve", [CaseInput(f"c{i}", {"x": x}) for i, x in enumerate(xs)], limits=FAST_LIMITS)
    assert again.token == prepared.token != other.token


PEEKS_AT_THE_WORKER = '''\
import sys

import numpy as np


def solve(x):
    worker = sys.modules.get("_grader_sandbox.worker") or sys.modules.get("grader.sandbox.worker")
    kept = getattr(worker, "_kept_cases", None)
    seen = [] if kept is None else [float(v) for case in kept[1] for v in np.ravel(case.kwargs.get("x", []))]
    return np.array(seen + [-1.0])
'''


def test_a_child_finds_no_other_runs_cases_in_its_worker(write_submission) -> None:
    """Children inherit their worker's memory: the cases it keeps must be only the current run's."""
    from grader.sandbox import prepare_cases, run_prepared

    secret = prepare_cases("solve", [CaseInput("hidden", {"x": np.array([31337.0, 4242.0])})], limits=FAST_LIMITS)
    mine = prepare_cases("solve", [CaseInput("mine", {"x": np.array([1.0])})], limits=FAST_LIMITS)
    benign = write_submission("benign.py", "def solve(x):\n    return x\n")
    peek = write_submission("peek.py", PEEKS_AT_THE_WORKER)
    for _ in range(3):  # each idle worker has run the secret cases last
        assert run_prepared(benign, secret).cases[0].status == "ok"
    for _ in range(3):
        outcome = run_prepared(peek, mine).cases[0]
        assert outcome.status == "ok", outcome.message
        assert 31337.0 not in outcome.value and 4242.0 not in outcome.value
        assert list(outcome.value) in ([1.0, -1.0], [-1.0])


def test_a_replaced_preparation_is_a_new_one(write_submission) -> None:
    from dataclasses import replace

    from grader.sandbox import prepare_cases, run_prepared

    first = prepare_cases("solve", [CaseInput("c", {"x": np.array([1.0])})], limits=FAST_LIMITS)
    other = prepare_cases("solve", [CaseInput("c", {"x": np.array([100.0])})], limits=FAST_LIMITS)
    swapped = replace(first, described=other.described, table=other.table, payload=other.payload)
    assert swapped.token != first.token
    doubles = write_submission("double.py", "def solve(x):\n    return 2 * x\n")
    assert run_prepared(doubles, first).cases[0].value.tolist() == [2.0]
    assert run_prepared(doubles, swapped).cases[0].value.tolist() == [200.0]


@pytest.mark.parametrize(
    ("patch", "returned", "fragment"),
    [
        ("builtins.__import__ = None", "np.array([1j])", "complex numbers (dtype complex128)"),
        ("builtins.issubclass = None", "np.array(['a'])", "dtype <U1"),
    ],
)
def test_patching_what_the_harness_needs_does_not_change_its_messages(write_submission, patch: str, returned: str, fragment: str) -> None:
    source = f"import builtins\n\nimport numpy as np\n\n\ndef solve(x):\n    {patch}\n    return {returned}\n"
    outcome = run_cases(write_submission("patches.py", source), "solve", [CaseInput("c", {"x": np.ones(1)})], limits=FAST_LIMITS).cases[0]
    assert outcome.status == "bad-result" and fragment in outcome.message, outcome.message


DEEP_TREE = '''\
import os


def solve(x):
    for _ in range(1100):
        os.mkdir("d")
        os.chdir("d")
    return x
'''


def test_a_tree_deeper_than_the_recursion_limit_is_removed(write_submission) -> None:
    """What a submission leaves in its folder is removed however deep it nests (a tree deeper than the worker
    removes ends the worker, and the next submission gets a fresh one); the next one starts empty."""
    deep = write_submission("deep.py", DEEP_TREE)
    home = write_submission("home.py", HOME_CHECK)
    for _ in range(2):
        assert run_cases(deep, "solve", [CaseInput("c", {"x": np.ones(1)})], limits=FAST_LIMITS).cases[0].status == "ok"
        outcome = run_cases(home, "solve", [CaseInput("c", {"x": np.ones(1)})], limits=FAST_LIMITS).cases[0]
        assert outcome.status == "ok", outcome.message


SCANS_ITS_MEMORY = '''\
import ctypes
import re

import numpy as np


def solve(x):
    """Everything of the other submission this process can find in its own memory, freed blocks included."""
    pattern = re.compile(rb"OTHER-STUDENT-(SOURCE|OUTPUT)-[0-9a-f]{12}|\\\\x11\\\\x22\\\\x33\\\\x44\\\\x55\\\\x66\\\\x77\\\\x08")
    found = set()
    with open("/proc/self/maps") as maps:
        regions = [line.split() for line in maps]
    for fields in regions:
        if "rw" not in fields[1]:
            continue
        start, end = (int(value, 16) for value in fields[0].split("-"))
        if end - start > (256 << 20):
            continue
        try:
            data = ctypes.string_at(start, end - start)
        except Exception:
            continue
        found.update(match.group() for match in pattern.finditer(data))
    print("FOUND", sorted(found))
    return np.array([len(found)])
'''


def test_a_submission_finds_nothing_of_earlier_ones_in_its_memory(write_submission) -> None:
    """Children are forked by a zygote that never holds a student's data: a later submission cannot read an earlier
    one's source, printed output or results from the memory it inherits (before, the worker's freed blocks had them)."""
    import secrets

    marker = secrets.token_hex(6)
    result_bytes = bytes([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x08])
    victim = write_submission(
        "victim.py",
        f"# OTHER-STUDENT-SOURCE-{marker}\nimport numpy as np\n\n\ndef solve(x):\n"
        f"    print('OTHER-STUDENT-OUTPUT-{marker}')\n    return np.frombuffer({result_bytes!r} * 512, dtype=np.int64)\n",
    )
    scanner = write_submission("scanner.py", SCANS_ITS_MEMORY)
    case = [CaseInput("c", {"x": np.ones(1)})]
    for _ in range(4):
        report = run_cases(victim, "solve", case, limits=FAST_LIMITS)
        assert report.cases[0].status == "ok" and f"OTHER-STUDENT-OUTPUT-{marker}" in report.stdout_excerpt
    for _ in range(3):
        report = run_cases(scanner, "solve", case, limits=Limits(cpu_seconds_per_case=10.0, wall_seconds_per_case=20.0))
        assert report.cases[0].status == "ok", report.cases[0].message
        assert "FOUND []" in report.stdout_excerpt, report.stdout_excerpt


def _zygotes() -> list[int]:
    """Pids of this test process's sandbox workers' zygotes (a worker process whose parent is a worker process and
    that descends from this process: another test process's workers are left alone)."""
    parents: dict[int, int] = {}
    workers: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"_grader_sandbox" in command and not command.startswith(b"/usr/bin/bwrap"):
            workers.add(int(entry.name))

    def descends_from_this_process(pid: int) -> bool:
        while pid in parents and pid != os.getpid():
            pid = parents[pid]
        return pid == os.getpid()

    return [pid for pid in workers if parents[pid] in workers and descends_from_this_process(pid)]


def test_a_worker_whose_zygote_died_is_replaced(correct_submission: Path) -> None:
    cases = [CaseInput("c", {"image": np.ones((4, 4, 1)), "filters": np.ones((3, 3, 1, 1))})]
    assert run_cases(correct_submission, "conv2d", cases).cases[0].status == "ok"
    zygotes = _zygotes()
    assert zygotes, "every warm worker has a zygote"
    for pid in zygotes:
        os.kill(pid, signal.SIGKILL)
    for _ in range(3):
        assert run_cases(correct_submission, "conv2d", cases).cases[0].status == "ok"
    assert survivors() == []


def test_a_submission_finds_nothing_of_other_runs_cases_in_its_memory(write_submission) -> None:
    """Each run's cases live in a zygote of that run, ended when the worker serves other cases: a submission on
    one run cannot find another run's case names or inputs (another sheet's, hidden parts') in its memory, not even
    in freed blocks."""
    import secrets

    marker = secrets.token_hex(6)
    hidden_input = np.frombuffer(f"HIDINPUT{marker[:8]}".encode() * 64, dtype=np.int64)
    benign = write_submission("benign.py", "import numpy as np\n\n\ndef solve(x):\n    return np.zeros(1)\n")
    scanner = write_submission(
        "scanner.py",
        # A pattern that does not contain the marker itself (the scanner's own source is in its memory).
        SCANS_ITS_MEMORY.replace("OTHER-STUDENT-(SOURCE|OUTPUT)-[0-9a-f]{12}", "HIDDEN-CASE-[0-9a-f]{12}|HIDINPUT[0-9a-f]{8}"),
    )
    for _ in range(4):
        outcome = run_cases(benign, "solve", [CaseInput(f"HIDDEN-CASE-{marker}", {"x": hidden_input})], limits=FAST_LIMITS).cases[0]
        assert outcome.status == "ok", outcome.message
    limits = Limits(cpu_seconds_per_case=10.0, wall_seconds_per_case=20.0)
    for _ in range(3):
        report = run_cases(scanner, "solve", [CaseInput("public", {"x": np.ones(1)})], limits=limits)
        assert report.cases[0].status == "ok", report.cases[0].message
        assert "FOUND []" in report.stdout_excerpt, report.stdout_excerpt


def test_a_source_that_grows_when_escaped_is_run(write_submission) -> None:
    """1.5 MB of CJK comments and blank lines: up to 6 times that as JSON; the source travels as raw bytes."""
    padding = ("# " + "\u6f22\u5b57" * 200 + "\n") * 1200 + "\n" * 200_000
    source = write_submission("cjk.py", "import numpy as np\n" + padding + "\n\ndef solve(x):\n    return 2 * x\n")
    assert source.stat().st_size > 1_500_000
    outcome = run_cases(source, "solve", [CaseInput("c", {"x": np.ones(3)})], limits=FAST_LIMITS).cases[0]
    assert outcome.status == "ok", outcome.message
    np.testing.assert_array_equal(outcome.value, np.full(3, 2.0))


def test_the_results_of_one_run_are_capped_together(write_submission) -> None:
    """Each result under its own cap, but together over the run's: the ones past it are refused, not kept."""
    path = write_submission("big.py", "import numpy as np\n\ndef solve(x):\n    return np.ones(100_000, dtype=np.int8)\n")
    limits = replace(FAST_LIMITS, max_result_bytes=1 << 20, max_total_result_bytes=2 << 20)  # 800 kB each as int64
    report = run_cases(path, "solve", [CaseInput(f"c{i}", {"x": np.ones(1)}) for i in range(4)], limits=limits)
    assert [case.status for case in report.cases] == ["ok", "ok", "bad-result", "bad-result"], [c.message for c in report.cases]
    assert "together are over 2 MiB" in report.cases[2].message
    with pytest.raises(SandboxUsageError, match="max_total_result_bytes"):
        Limits(max_total_result_bytes=0)


def test_an_installed_grader_is_hidden_from_the_student(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``pip install .`` puts the grader, and its reference engine that computes every key, into the environment the
    sandbox mounts: there it is an empty folder. (Simulated by mounting the folder that holds the package.)"""
    if not probe_layers()["private-filesystem"]:
        pytest.skip("no private filesystem (bubblewrap) on this machine: the grader's files are readable anyway")
    holder = layers_module.GRADER_PACKAGE.parent
    real_mounts = layers_module.python_mounts
    monkeypatch.setattr(layers_module, "python_mounts", lambda: [*real_mounts(), holder])
    runner_module._POOL.close_all()  # workers started from now on mount ``holder``
    thief = tmp_path / "thief.py"
    thief.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(holder)!r})\n"
        "def solve(x):\n"
        f"    listed = os.listdir({str(layers_module.GRADER_PACKAGE)!r})\n"
        "    if listed:\n"
        "        raise ValueError(f'sees {sorted(listed)}')\n"
        "    from grader.engine.conv import conv2d\n"
        "    return x\n"
    )
    try:
        outcome = run_cases(thief, "solve", [CaseInput("steal", {"x": np.ones(1)})], limits=FAST_LIMITS).cases[0]
        assert outcome.status == "exception" and "ModuleNotFoundError: No module named 'grader.engine'" in outcome.message, outcome.message
        honest = tmp_path / "honest.py"
        honest.write_text("def solve(x):\n    return 2 * x\n")
        assert run_cases(honest, "solve", [CaseInput("ok", {"x": np.ones(2)})]).cases[0].status == "ok"
    finally:
        runner_module._POOL.close_all()


@pytest.mark.parametrize("installed", ["/usr/local/lib/python3.11/site-packages/grader", "/usr/lib/python3/dist-packages/grader"])
def test_a_grader_installed_under_usr_is_hidden_too(monkeypatch: pytest.MonkeyPatch, installed: str) -> None:
    """/usr is bound whole (a python:3.11 image, Debian's pip into /usr/local): the package there is covered as well."""
    import shutil

    if shutil.which("bwrap") is None:
        pytest.skip("no bubblewrap on this machine")
    monkeypatch.setattr(layers_module, "GRADER_PACKAGE", Path(installed))
    monkeypatch.setattr(layers_module, "python_mounts", lambda: [])
    command = layers_module.bwrap_command(layers_module.GRADER_PACKAGE / "sandbox", 1 << 20)
    at = command.index(installed)
    assert command[at - 1] == "--tmpfs" and command.index("--ro-bind", at) > at  # after /usr's bind, before the harness
    assert command.index("/usr") < at


def test_a_second_copy_of_the_grader_on_the_path_is_hidden_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The grader running from a source tree while a copy is installed in the mounted venv (a checkout whose venv got
    ``pip install .``): the installed copy, found on sys.path, is hidden as well."""
    if not probe_layers()["private-filesystem"]:
        pytest.skip("no private filesystem (bubblewrap) on this machine: the grader's files are readable anyway")
    site = tmp_path / "site"
    (site / "grader" / "engine").mkdir(parents=True)
    (site / "grader" / "__init__.py").write_text("")
    (site / "grader" / "engine" / "__init__.py").write_text("")
    (site / "grader" / "engine" / "conv.py").write_text("def conv2d(x, w):\n    return 'the key'\n")
    os.chmod(tmp_path, 0o755)  # the sandboxed child's own uid must be able to walk there
    real_mounts = layers_module.python_mounts
    monkeypatch.setattr(layers_module, "python_mounts", lambda: [*real_mounts(), site])
    monkeypatch.setattr("sys.path", [*__import__("sys").path, str(site)])
    runner_module._POOL.close_all()
    thief = tmp_path / "thief.py"
    thief.write_text(
        f"import sys\nsys.path.insert(0, {str(site)!r})\n"
        "def solve(x):\n    from grader.engine.conv import conv2d\n    return x\n"
    )
    try:
        outcome = run_cases(thief, "solve", [CaseInput("steal", {"x": np.ones(1)})], limits=FAST_LIMITS).cases[0]
        assert outcome.status == "exception" and "No module named 'grader.engine'" in outcome.message, outcome.message
    finally:
        runner_module._POOL.close_all()
