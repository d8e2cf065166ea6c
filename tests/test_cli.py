"""The ``grader`` command end to end: every subcommand on the real sheets, and errors as one clear line."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from grader.cli import app
from grader.key import compute_key
from grader.spec import load_sheet
from tests.conftest import Grader

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"
CONV1D = ROOT / "exercises" / "conv1d_avgpool.yaml"
SAMPLES = ROOT / "submissions" / "week7"
GRADER = [sys.executable, "-m", "grader"]

runner = CliRunner()

# The sheet's printed Exercise 3 numbers (typed here only to check that the engine reproduces them).
SHEET_MAP_1 = [[3, 3, 5, 1], [7, 4, 4, 5], [2, 7, 5, 3], [4, 3, 2, 4]]
SHEET_MAP_2 = [[2, 5, 2, 4], [8, 9, 5, 7], [7, 3, 4, 6], [5, 2, 5, 3]]
SHEET_POOLED_1 = [[7, 5], [7, 5]]  # the bold maxima of "output with filter 1"
SHEET_POOLED_2 = [[9, 7], [7, 6]]
SHEET_SHIFTED_MAP_1 = [[3, 5, 1, 3], [4, 4, 5, 1], [7, 5, 3, 2], [3, 2, 4, 1]]
SHEET_SHIFTED_MAP_2 = [[5, 2, 4, 1], [9, 5, 7, 2], [3, 4, 6, 1], [2, 5, 3, 0]]
SHEET_CHANGED_UNITS = 3


def invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result


def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed program as a user runs it (``python -m grader``), for exit codes and error messages.

    ``env``: variables set on top of this process's environment (GITHUB_STEP_SUMMARY is never inherited).
    """
    environment = {name: value for name, value in os.environ.items() if name != "GITHUB_STEP_SUMMARY"}
    environment.update(env or {})
    return subprocess.run([*GRADER, *args], capture_output=True, text=True, cwd=cwd, timeout=120, env=environment)


@pytest.fixture(scope="module")
def key_json() -> dict[str, dict[str, Any]]:
    result = invoke("solve", str(WEEK7), "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_validate_every_sheet_in_exercises() -> None:
    result = invoke("validate", str(ROOT / "exercises"))
    assert result.exit_code == 0, result.output
    assert f"{WEEK7}: ok" in result.stdout and f"{CONV1D}: ok" in result.stdout


COINCIDING_SOMETIMES = """\
id: coinciding
validation_seeds: [1]
exercises:
  - id: e
    inputs:
      n: {value: 3, random: {dist: integers, low: 0, high: 2}}
    quantities:
      q: {op: mul, a: $n, b: $n}
    parts:
      - id: p
        prompt: n squared
        points: 1
        answer: {type: number}
        expected: $q
        mistakes:
          - {id: doubled, expected: {op: add, a: $n, b: $n}, feedback: n + n is not n n}
"""


def test_validate_seeds_checks_every_students_variant(grader: Grader, tmp_path: Path) -> None:
    """n n and n + n agree for n = 0 and n = 2: seed 1 draws neither, so the sheet's own seeds pass; --seeds 1-8,
    every student's variant in a course of 8, finds the variants where the mistake scores full marks."""
    sheet = tmp_path / "coinciding.yaml"
    sheet.write_text(COINCIDING_SOMETIMES, encoding="utf-8")
    drawn = {seed: int(compute_key(load_sheet(sheet), seed).inputs["e"]["n"]) for seed in range(1, 9)}
    coinciding = [seed for seed, n in drawn.items() if n in (0, 2)]
    assert drawn[1] == 1 and coinciding, drawn
    assert grader("validate", sheet).code == 0
    run = grader("validate", sheet, "--seeds", "1-3,4-8")
    assert run.code == 2 and [error["code"] for error in run.errors] == ["spec-mistake-full"], run.err
    assert run.errors[0]["message"].startswith(f"seed{'s' if len(coinciding) > 1 else ''} {', '.join(map(str, coinciding))}: known mistake 'doubled'")
    for bad, said in [("5-3", "from low to high"), ("x", "a whole number"), ("0-20000", "at most 10000 seeds"), ("-1", "a whole number")]:
        refused = invoke("validate", str(sheet), "--seeds", bad)
        assert refused.exit_code == 2 and said in refused.output, (bad, refused.output)


def test_solve_reproduces_the_printed_exercise_3(key_json: dict[str, dict[str, Any]]) -> None:
    ex3 = key_json["ex3"]
    conv = np.asarray(ex3["b_conv"])
    assert conv.shape == (4, 4, 2)
    np.testing.assert_array_equal(conv[:, :, 0], SHEET_MAP_1)
    np.testing.assert_array_equal(conv[:, :, 1], SHEET_MAP_2)
    pooled = np.asarray(ex3["b_pool"])
    assert pooled.shape == (2, 2, 2)
    np.testing.assert_array_equal(pooled[:, :, 0], SHEET_POOLED_1)
    np.testing.assert_array_equal(pooled[:, :, 1], SHEET_POOLED_2)
    shifted = np.asarray(ex3["c_conv"])
    np.testing.assert_array_equal(shifted[:, :, 0], SHEET_SHIFTED_MAP_1)
    np.testing.assert_array_equal(shifted[:, :, 1], SHEET_SHIFTED_MAP_2)
    assert ex3["c_count"] == SHEET_CHANGED_UNITS
    assert ex3["d_exists"] is True


def _conv_size(n: int, f: int, s: int, p: int) -> int:
    size = (n + 2 * p - f) / s + 1
    assert size.is_integer()
    return int(size)


def test_solve_volume_sizes_follow_the_formula(key_json: dict[str, dict[str, Any]]) -> None:
    ex2 = key_json["ex2"]
    assert ex2["a_set_a"] == _conv_size(32, 5, 1, 0) == 28
    assert ex2["a_set_b"] == _conv_size(32, 5, 1, 2) == 32
    assert ex2["a_set_c"] == _conv_size(7, 3, 2, 0) == 3
    assert ex2["a_set_d"] == _conv_size(227, 11, 4, 0) == 55
    assert ex2["b_check_p"] == (3 - 1) // 2
    assert ex2["b_check_size"] == _conv_size(4, 3, 1, 1) == 4
    volume = ex2["a_volume"]
    assert [int(v) for v in (volume.split("x") if isinstance(volume, str) else volume)] == [28, 28, 6]


def test_solve_adjoints_equal_the_closed_forms(key_json: dict[str, dict[str, Any]]) -> None:
    inputs = compute_key(load_sheet(WEEK7)).inputs["ex4"]
    x1, x2, theta = (float(inputs[name]) for name in ("x1", "x2", "theta"))
    c = math.cos(theta * x1 + x2)
    closed = {
        "t_f6": 1.0, "t_f3": 1.0, "t_f5": 1.0, "t_f2": c, "t_f1": c, "t_f4": theta,
        "t_theta": x1 * c + x2**2, "t_x1": theta * c, "t_x2": c + 2 * theta * x2,
    }
    for part_id, value in closed.items():
        assert key_json["ex4"][part_id] == pytest.approx(value, rel=1e-12, abs=1e-12), part_id


@pytest.mark.parametrize("fmt", ["yaml", "md"])
def test_solve_other_formats(fmt: str, key_json: dict[str, dict[str, Any]]) -> None:
    result = invoke("solve", str(WEEK7), "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "yaml":
        assert yaml.safe_load(result.stdout) == key_json
    else:
        assert "## ex3" in result.stdout and "**c_count**: `3`" in result.stdout
        first = key_json["ex2"]["a_formula"][0]  # a formula's key reads as sentences, not raw JSON
        at = ", ".join(f"{name}={value:g}" for name, value in first["at"].items())
        assert f"  - at {at} the reference gives {first['value']:g}" in result.stdout
        assert '"at":' not in result.stdout


def test_template_lists_every_part_and_filled_with_the_key_scores_full(tmp_path: Path) -> None:
    sheet = load_sheet(WEEK7)
    result = invoke("template", str(WEEK7))
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.stdout)
    for exercise, part in sheet.parts():
        if part.answer.type == "code":  # handed in as a .py/.ipynb file: the template names it, keyless
            assert part.id not in document["answers"][exercise.id]
            assert f"{part.answer.function}()" in result.stdout
            continue
        assert part.id in document["answers"][exercise.id]
        assert f"# {part.prompt.strip().splitlines()[0]}" in result.stdout
    key = compute_key(sheet)
    plain = set()
    document["student"] = "s-template"
    for exercise, part in sheet.parts():
        value = key.answer_json(exercise.id, part.id)
        if value is not None:
            document["answers"][exercise.id][part.id] = value
            plain.add((exercise.id, part.id))
    assert len(plain) > 20
    filled = tmp_path / "filled.yaml"
    filled.write_text(yaml.safe_dump(document), encoding="utf-8")
    graded = invoke("grade", str(WEEK7), str(filled), "--format", "json")
    assert graded.exit_code == 0, graded.output
    parts = json.loads(graded.stdout)["result"]["parts"]
    statuses = {(p["exercise_id"], p["part_id"]): p["status"] for p in parts}
    assert {k: statuses[k] for k in plain} == {k: "correct" for k in plain}
    assert all(statuses[k] == "missing" for k in statuses.keys() - plain)


def test_sheet_markdown_shows_the_image_as_a_table() -> None:
    result = invoke("sheet", str(WEEK7), "--format", "md")
    assert result.exit_code == 0, result.output
    assert "| 0 | 1 | 2 | 0 | 3 | 0 |" in result.stdout
    assert "| 0 | 4 | 1 | 1 | 2 | 0 |" in result.stdout


def test_sheet_markdown_puts_each_channel_s_caption_above_its_own_table() -> None:
    """Read top-down, "channel c" introduces the table of channel c (checked against `grader data`'s exact input)."""
    image = np.array(json.loads(invoke("data", str(WEEK7)).stdout)["inputs"]["ex1"]["image"])
    lines = invoke("sheet", str(WEEK7), "--format", "md").stdout.splitlines()
    for channel in range(image.shape[2]):
        caption = lines.index(f"*input image I channel {channel + 1} of 3 ([:, :, {channel}])*")
        table = next(i for i in range(caption + 1, len(lines)) if lines[i].startswith("| ") and not lines[i].startswith("|   |"))
        first_row = [float(cell) for cell in lines[table].strip("| ").split(" | ")]
        assert np.allclose(first_row, image[0, :, channel], rtol=1e-3), (channel, first_row)
        assert not any(line.startswith("*input image I channel") for line in lines[caption + 1 : table])


def test_sheet_html_is_one_self_contained_page() -> None:
    result = invoke("sheet", str(WEEK7), "--format", "html")
    assert result.exit_code == 0, result.output
    page = result.stdout.lower()
    assert page.lstrip().startswith("<!doctype html") and page.rstrip().endswith("</html>")
    assert "http" not in page and "<script" not in page
    assert "translation equivariance" in page


def test_schema_is_a_json_schema_that_accepts_the_sheets() -> None:
    result = invoke("schema")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for sheet in (WEEK7, CONV1D):
        errors = list(validator.iter_errors(yaml.safe_load(sheet.read_text(encoding="utf-8"))))
        assert not errors, [e.message for e in errors[:3]]
    assert list(validator.iter_errors({"id": "x", "exercises": [], "bogus": 1}))


def test_ops_lists_conv2d() -> None:
    result = invoke("ops")
    assert result.exit_code == 0
    assert any(line.startswith("conv2d(") for line in result.stdout.splitlines())


def test_check_on_a_correct_sample_leaves_hidden_parts_pending() -> None:
    result = invoke("check", str(WEEK7), str(SAMPLES / "correct.yaml"))
    assert result.exit_code == 0, result.output
    assert "all visible checks passed" in result.stdout.lower()
    assert "all tests passed" not in result.stdout.lower()
    as_json = invoke("check", str(WEEK7), str(SAMPLES / "correct.yaml"), "--format", "json")
    parts = json.loads(as_json.stdout)["result"]["parts"]
    hidden = [p for p in parts if p["visibility"] == "hidden"]
    assert hidden and all(p["status"] == "pending" for p in hidden)
    assert all(p["status"] == "correct" for p in parts if p["visibility"] == "visible")


def test_fail_under_exits_1_for_a_lower_score() -> None:
    result = invoke("grade", str(WEEK7), str(SAMPLES / "partly-correct.yaml"), "--fail-under", "0.99")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "partly-correct.yaml: 45/52 points of the graded parts (86.54%) is below --fail-under 0.99"
    ]  # said once (a second line had repeated it)
    assert invoke("grade", str(WEEK7), str(SAMPLES / "correct.yaml"), "--fail-under", "0.99").exit_code == 0
    several = invoke("grade", str(WEEK7), str(SAMPLES / "partly-correct.yaml"), str(SAMPLES / "correct.yaml"), "--fail-under", "0.99")
    assert several.exit_code == 1 and several.stderr.splitlines()[-1] == "1 of 2 submissions are below --fail-under 0.99"


def test_output_file_is_written_and_replaced(tmp_path: Path) -> None:
    out = tmp_path / "key.json"
    out.write_text("old contents that are longer than nothing " * 1000, encoding="utf-8")
    before = out.stat().st_ino
    result = invoke("solve", str(WEEK7), "--format", "json", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8"))["ex2"]["a_set_a"] == 28
    # Replaced by a rename (a new inode), never truncated and rewritten in place; no temporary left behind.
    assert out.stat().st_ino != before
    assert [p.name for p in tmp_path.iterdir()] == ["key.json"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["grade", "missing-sheet.yaml", "submissions/week7/correct.yaml"], "missing-sheet.yaml"),
        (["grade", "exercises/week7.yaml", "submissions/week7/no-such-file.yaml"], "no-such-file.yaml"),
        (["grade", "exercises", "submissions/week7/correct.yaml"], "exercises"),
        (["solve", "missing-sheet.yaml"], "missing-sheet.yaml"),
    ],
    ids=["missing-spec", "missing-submission", "spec-is-a-folder", "solve-missing-spec"],
)
def test_unusable_arguments_exit_2_with_one_line(args: list[str], needle: str) -> None:
    result = run(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr


def test_unsupported_suffix_is_refused_naming_the_file(tmp_path: Path) -> None:
    text_file = tmp_path / "answers.txt"
    text_file.write_text("student: s\n", encoding="utf-8")
    result = invoke("grade", str(WEEK7), str(text_file), "--format", "json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["result"]["error"]
    assert "answers.txt" in error and ".txt" in error and "\n" not in error


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["grade", "exercises/week7.yaml", "submissions/week7/unusable-malformed-yaml.yaml"], 2),
        (["grade", "exercises/week7.yaml", "submissions/week7/partly-correct.yaml", "--fail-under", "0.99"], 1),
        (["grade", "exercises/week7.yaml", "pyproject.toml"], 2),
        (["validate", "tests/spec/test_spec_errors.py"], 2),
    ],
    ids=["unusable-submission", "fail-under", "unsupported-suffix", "validate-finds-errors"],
)
def test_the_installed_program_keeps_exit_codes(args: list[str], code: int) -> None:
    assert run(*args).returncode == code


def test_python_dash_m_grader_help() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("grade", "check", "validate", "solve", "template", "sheet", "schema", "ops"):
        assert command in result.stdout


def _samples_module() -> Any:
    spec = importlib.util.spec_from_file_location("make_yaml_samples", ROOT / "scripts" / "make_yaml_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_yaml_samples"] = module  # dataclasses resolve the module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("sheet_id", ["conv1d_avgpool", "softmax_regression"])
def test_yaml_sheet_samples_are_what_the_engine_solves(sheet_id: str) -> None:
    """The committed samples equal a fresh `grader solve --format json` (+ the written formulas)."""
    module = _samples_module()
    documents = module.documents(module.SAMPLE_SHEETS[sheet_id])
    folder = ROOT / "submissions" / sheet_id
    assert sorted(documents) == sorted(p.name for p in folder.iterdir())
    for name, document in documents.items():
        assert yaml.safe_load((folder / name).read_text(encoding="utf-8")) == document, name


def test_conv1d_correct_and_mistake_files(tmp_path: Path) -> None:
    module = _samples_module()
    samples = module.SAMPLE_SHEETS["conv1d_avgpool"]
    answers = module.right_answers(samples, module.solve(samples))
    correct = tmp_path / "correct.json"
    correct.write_text(json.dumps({"student": "s", "answers": answers}), encoding="utf-8")
    graded = json.loads(invoke("grade", str(CONV1D), str(correct), "--format", "json").stdout)["result"]
    assert graded["score"] == 1.0
    answers["conv"]["pooled"] = np.asarray(answers["conv"]["conv_out"]).reshape(3, 2, 2).max(axis=1).tolist()
    mistake = tmp_path / "max-pool.json"
    mistake.write_text(json.dumps({"student": "s", "answers": answers}), encoding="utf-8")
    graded = json.loads(invoke("grade", str(CONV1D), str(mistake), "--format", "json").stdout)["result"]
    pooled = next(p for p in graded["parts"] if p["part_id"] == "pooled")
    assert pooled["mistake"] == "max-pooling" and "average" in pooled["feedback"]
    assert 0 < graded["score"] < 1


# -- usage errors: click's usage message and exit 2, never "internal error" -------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["bogus"], "No such command 'bogus'"),
        (["check", str(WEEK7), str(SAMPLES / "correct.yaml"), "--bogus"], "No such option: --bogus"),
        (["check", str(WEEK7), str(SAMPLES / "correct.yaml"), "extra"], "unexpected extra argument"),
        (["solve"], "Missing argument 'spec'"),
        (["grade", str(WEEK7)], "Missing argument 'submissions'"),
        (["batch", str(WEEK7)], "Missing argument 'submissions"),
        (["stats"], "Missing argument 'spec'"),
    ],
    ids=["unknown-command", "unknown-option", "extra-argument", "solve-no-sheet", "grade-no-files", "batch-no-folder", "stats-no-sheet"],
)
def test_usage_errors_exit_2_with_clicks_message(args: list[str], needle: str) -> None:
    result = run(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert needle in result.stderr and "Usage:" in result.stderr and "--help" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_bare_grader_prints_help_and_no_internal_error() -> None:
    result = run()
    assert result.returncode == 2, (result.stdout, result.stderr)  # what typer and click do for no_args_is_help
    assert "Usage:" in result.stdout + result.stderr and "check" in result.stdout + result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "option", "expected"),
    [
        (["solve", str(WEEK7), "--seed", "abc"], "'--seed'", "expected a whole number, got 'abc'"),
        (["batch", str(WEEK7), str(SAMPLES), "--jobs", "x"], "'--jobs'", "expected a whole number, got 'x'"),
        (["batch", str(WEEK7), str(SAMPLES), "-j", "0"], "'--jobs'", "at least 1, got '0'"),
        (["grade", str(WEEK7), str(SAMPLES / "correct.yaml"), "--fail-under", "2"], "'--fail-under'", "from 0 to 1"),
        (["grade", str(WEEK7), str(SAMPLES / "correct.yaml"), "--fail-under", "half"], "'--fail-under'", "got 'half'"),
    ],
    ids=["seed-not-a-number", "jobs-not-a-number", "jobs-zero", "fail-under-above-1", "fail-under-not-a-number"],
)
def test_bad_option_values_name_the_option(args: list[str], option: str, expected: str) -> None:
    result = run(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    error = next(line for line in result.stderr.splitlines() if line.startswith("Error:"))
    assert option in error and expected in error, result.stderr
    assert "internal error" not in result.stderr


# -- outputs that cannot be written: exit 2 naming the path, checked before grading -----------------------------


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gradebook of two week-7 samples, graded by `grader batch` with the sheet as committed."""
    folder = tmp_path_factory.mktemp("graded")
    submissions = folder / "submissions"
    submissions.mkdir()
    for name in ("correct.yaml", "partly-correct.yaml"):
        shutil.copy(SAMPLES / name, submissions / name)
    book = folder / "week7.sqlite"
    result = run("batch", str(WEEK7), str(submissions), "--jobs", "1", "--gradebook", str(book))
    assert result.returncode == 0, result.stderr
    return book


def _unwritable_outputs(tmp_path: Path, gradebook: Path) -> dict[str, tuple[list[str], Path]]:
    """Commands whose output path is a folder where a file is wanted, or a file where a folder is wanted."""
    folder = tmp_path / "a-folder"
    folder.mkdir()
    afile = tmp_path / "a-file.txt"
    afile.write_text("not a folder\n", encoding="utf-8")
    check = ["check", str(WEEK7), str(SAMPLES / "correct.yaml")]
    return {
        "output-is-a-folder": ([*check, "-o", str(folder)], folder),
        "output-under-a-file": ([*check, "-o", str(afile / "report.txt")], afile / "report.txt"),
        "report-out-dir-is-a-file": (["report", str(WEEK7), "--gradebook", str(gradebook), "--out-dir", str(afile)], afile),
        "report-csv-is-a-folder": (
            ["report", str(WEEK7), "--gradebook", str(gradebook), "--out-dir", str(tmp_path / "r"), "--csv", str(folder)],
            folder,
        ),
        "stats-html-is-a-folder": (["stats", str(WEEK7), "--gradebook", str(gradebook), "--html", str(folder)], folder),
        "batch-out-dir-is-a-file": (
            ["batch", str(WEEK7), str(SAMPLES), "-f", "html", "--out-dir", str(afile), "--gradebook", str(tmp_path / "b.sqlite")],
            afile,
        ),
    }


@pytest.mark.parametrize(
    "case",
    ["output-is-a-folder", "output-under-a-file", "report-out-dir-is-a-file", "report-csv-is-a-folder",
     "stats-html-is-a-folder", "batch-out-dir-is-a-file"],
)
def test_unwritable_output_paths_exit_2_naming_the_path(case: str, tmp_path: Path, gradebook: Path) -> None:
    args, path = _unwritable_outputs(tmp_path, gradebook)[case]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = run(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write {path}: "), result.stderr
    assert "internal error" not in result.stderr
    # Refused before any work: nothing graded, no gradebook created, no report or temporary file left.
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert result.stdout == ""


# -- GITHUB_STEP_SUMMARY: an extra that never costs the student's report ----------------------------------------


@pytest.mark.parametrize("fail_under", [None, "0.99"], ids=["passing", "below-fail-under"])
def test_unwritable_step_summary_warns_and_keeps_the_report_and_exit_code(tmp_path: Path, fail_under: str | None) -> None:
    summary = tmp_path / "summary-is-a-folder"
    summary.mkdir()
    extra = [] if fail_under is None else ["--fail-under", fail_under]
    result = run("check", str(WEEK7), str(SAMPLES / "partly-correct.yaml"), *extra, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == (0 if fail_under is None else 1), result.stderr
    assert "Total:" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "GITHUB_STEP_SUMMARY" in warnings[0] and str(summary) in warnings[0]
    assert "internal error" not in result.stderr


def test_step_summary_is_still_written_after_the_report(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    result = run("check", str(WEEK7), str(SAMPLES / "correct.yaml"), env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n") and len(text) > len("earlier step\n") + 100



def test_a_step_summary_stays_within_what_github_shows(tmp_path: Path) -> None:
    """GitHub drops a job summary over 1 MiB whole; a summary near the limit is cut at a line, saying so."""
    summary = tmp_path / "summary.md"
    earlier = ("x" * 99 + "\n") * 9_990  # 999,000 bytes from earlier steps
    summary.write_text(earlier, encoding="utf-8")
    result = run("check", str(WEEK7), str(SAMPLES / "partly-correct.yaml"), env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 0, result.stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith(earlier) and len(text.encode("utf-8")) <= 1_000_000
    assert text.endswith("*(cut here: a job summary may hold at most 1 MiB; the gradebook and the reports have every row)*\n")

# -- stats and report on a gradebook without results for this sheet ------------------------------------------


def test_stats_of_a_sheet_the_gradebook_lacks_is_a_user_error(gradebook: Path) -> None:
    result = run("stats", str(CONV1D), "--gradebook", str(gradebook))
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no results for sheet 'conv1d_avgpool'" in lines[0] and "week7" in lines[0]
    assert "internal error" not in result.stderr and "please report" not in result.stderr


def _edited_week7(tmp_path: Path) -> Path:
    """week7.yaml with one comment added: the same sheet id, another spec hash."""
    edited = tmp_path / "week7-edited.yaml"
    edited.write_text(WEEK7.read_text(encoding="utf-8") + "\n# typo fix\n", encoding="utf-8")
    return edited


def test_report_refuses_results_graded_with_another_version_of_the_sheet(tmp_path: Path, gradebook: Path) -> None:
    csv = tmp_path / "grades.csv"
    csv.write_text("student,score\ns1,1.0\n", encoding="utf-8")
    out_dir = tmp_path / "reports"
    edited = _edited_week7(tmp_path)
    result = run("report", str(edited), "--gradebook", str(gradebook), "--out-dir", str(out_dir), "--csv", str(csv))
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "another version" in lines[0] and "grader batch" in lines[0], result.stderr
    assert csv.read_text(encoding="utf-8") == "student,score\ns1,1.0\n"
    assert not out_dir.exists()


def test_report_of_the_graded_sheet_writes_every_result(tmp_path: Path, gradebook: Path) -> None:
    out_dir, csv = tmp_path / "reports", tmp_path / "grades.csv"
    result = run("report", str(WEEK7), "--gradebook", str(gradebook), "--out-dir", str(out_dir), "--csv", str(csv))
    assert result.returncode == 0, result.stderr
    assert len(list(out_dir.glob("*.html"))) == 2
    assert len(csv.read_text(encoding="utf-8").strip().splitlines()) == 3


def test_report_warns_about_results_of_an_older_version_and_leaves_them_out(tmp_path: Path) -> None:
    book = tmp_path / "mixed.sqlite"
    edited = _edited_week7(tmp_path)
    for sheet, name in ((WEEK7, "correct.yaml"), (edited, "partly-correct.yaml")):
        folder = tmp_path / name.removesuffix(".yaml")
        folder.mkdir()
        shutil.copy(SAMPLES / name, folder / name)
        assert run("batch", str(sheet), str(folder), "--jobs", "1", "--gradebook", str(book)).returncode == 0
    result = run("report", str(edited), "--gradebook", str(book), "--out-dir", str(tmp_path / "reports"))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["partly-correct.html"]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "1 result(s)" in warnings[0] and "grader batch" in warnings[0]


def test_report_file_names_stay_short_and_distinct() -> None:
    from grader.cli import REPORT_NAME_BYTES, _report_names

    long_id = "\u00e9" * 300
    names = _report_names([(long_id, "answers", "/a"), (long_id, "answers", "/b"), ("x" * 400, "y" * 400, "/c")])
    assert len(set(names)) == 3
    assert all(len(name.encode("utf-8")) <= REPORT_NAME_BYTES + 8 for name in names), [len(n.encode()) for n in names]


def test_data_gives_a_variant_s_shown_inputs_exactly_and_nothing_hidden(tmp_path: Path) -> None:
    """The sheet rounds its tables to 4 digits and leaves big arrays out; `grader data` has every shown input
    exactly as the key uses it, so an answer computed from it is accepted."""
    import numpy as np

    from grader.key import compute_key
    from grader.spec import load_sheet

    completed = run("data", str(WEEK7), "--seed", "17")
    assert completed.returncode == 0, completed.stderr
    data = json.loads(completed.stdout)
    key = compute_key(load_sheet(WEEK7), 17)
    assert data["sheet"] == "week7" and data["seed"] == 17
    for exercise in key.sheet.spec.exercises:
        for name, spec in exercise.inputs.items():
            if spec.show:
                assert np.array_equal(np.asarray(data["inputs"][exercise.id][name]), key.inputs[exercise.id][name])
            else:
                assert name not in data["inputs"].get(exercise.id, {})
    # theta as the data gives it is the answer to t_f4 (f4 = theta), to the last bit.
    theta = data["inputs"]["ex4"]["theta"]
    answers = tmp_path / "theta.yaml"
    answers.write_text(f"student: s\nseed: 17\nanswers:\n  ex4:\n    t_f4: {theta!r}\n", encoding="utf-8")
    graded = run("grade", str(WEEK7), str(answers), "--format", "json")
    t_f4 = next(p for p in json.loads(graded.stdout)["result"]["parts"] if p["part_id"] == "t_f4")
    assert t_f4["status"] == "correct", t_f4
    sheet = run("sheet", str(WEEK7), "--seed", "17").stdout
    assert "grader data" in sheet and "answer-file template's variant data" not in sheet


def test_check_fail_under_names_the_score_it_compared(tmp_path: Path) -> None:
    """check leaves hidden parts pending: the log says which score --fail-under saw, and what is pending."""
    result = run("check", str(WEEK7), str(SAMPLES / "missing-parts.yaml"), "--fail-under", "0.9", "-o", str(tmp_path / "r.html"), "-f", "html")
    assert result.returncode == 1
    assert "missing-parts.yaml: " in result.stderr and "points of the graded parts (" in result.stderr
    assert "points of hidden parts pending) is below --fail-under 0.9" in result.stderr


def test_an_unreadable_submission_says_why_on_stderr_when_the_report_goes_to_a_file(tmp_path: Path) -> None:
    result = run("check", str(WEEK7), str(SAMPLES / "unusable-malformed-yaml.yaml"), "-o", str(tmp_path / "r.html"), "-f", "html")
    assert result.returncode == 2
    # stderr names the path as given; the report (the student's view) names the file by its name only.
    given = SAMPLES / "unusable-malformed-yaml.yaml"
    assert f"{given}: could not be graded: unusable-malformed-yaml.yaml:5: not valid YAML" in result.stderr


def test_grading_a_folder_skips_hidden_folders_as_batch_does(tmp_path: Path) -> None:
    work = tmp_path / "repo"
    (work / ".ipynb_checkpoints").mkdir(parents=True)
    (work / ".venv" / "lib").mkdir(parents=True)
    shutil.copy(SAMPLES / "correct.yaml", work / "answers.yaml")
    shutil.copy(SAMPLES / "missing-parts.yaml", work / ".ipynb_checkpoints" / "answers-checkpoint.yaml")
    (work / ".venv" / "lib" / "site.py").write_text("x = 1\n")
    result = run("grade", str(WEEK7), str(work), "--fail-under", "1", "-f", "json")
    assert result.returncode == 0, result.stderr
    graded = json.loads(result.stdout)  # one submission: one report, not a list
    assert graded["result"]["submission"] == "answers.yaml"


@pytest.mark.parametrize("command", ["sheet", "data", "solve", "template"])
def test_seeds_answer_files_refuse_are_refused(command: str) -> None:
    result = invoke(command, str(WEEK7), "--seed", "-1")
    assert result.exit_code == 2 and "expected a whole number of at least 0" in result.output
    result = invoke(command, str(WEEK7), "--seed", str(2**63))  # an answer file could not name that variant
    said = " ".join(result.output.replace("│", " ").split())  # the message as one line, out of its box
    assert result.exit_code == 2 and f"expected a seed of at most {2**63 - 1} (as answer files take)" in said
    assert invoke(command, str(WEEK7), "--seed", str(2**63 - 1)).exit_code == 0


def test_grade_goes_on_past_a_variant_the_sheet_cannot_key(tmp_path: Path) -> None:
    """(L - 4)/2 + 1 is not whole for odd L: that student's report says the sheet failed, the others are graded,
    the log names the sheet's error, and the exit code is 2 (the author must fix the sheet)."""
    spec = tmp_path / "sizes.yaml"
    spec.write_text(
        "id: sizes\nexercises:\n  - id: size\n    inputs:\n      L: {value: 20, random: {low: 10, high: 40}}\n"
        "    quantities:\n      out: {op: conv_output_size, n: $L, f: 4, stride: 2, padding: 0}\n"
        "    parts:\n      - id: out\n        prompt: The output length.\n        points: 1\n"
        "        answer: {type: integer}\n        expected: $out\n"
    )
    sheet = load_sheet(spec)
    seeds = {}
    for seed in range(100):
        try:
            compute_key(sheet, seed)
            seeds.setdefault("good", seed)
        except Exception:  # noqa: BLE001 -- SpecErrors: this seed's L is odd
            seeds.setdefault("bad", seed)
    for name, seed in seeds.items():
        (tmp_path / f"{name}.yaml").write_text(f"student: {name}\nseed: {seed}\nanswers:\n  size:\n    out: 3\n")
    result = run("grade", str(spec), str(tmp_path / "bad.yaml"), str(tmp_path / "good.yaml"), "-f", "json")
    assert result.returncode == 2
    assert "bad.yaml: the sheet failed on this variant" in result.stderr and "not a whole number" in result.stderr
    bad, good = (report["result"] for report in json.loads(result.stdout))
    assert "fault of the sheet" in bad["error"] and good["error"] is None
    assert (bad["student_id"], bad["seed"]) == ("bad", seeds["bad"])
    checked = run("check", str(spec), str(tmp_path / "bad.yaml"))  # a student: the sheet's error is its author's
    assert checked.returncode == 2 and "fault of the sheet" in checked.stderr
    assert "not a whole number" not in checked.stderr + checked.stdout and "sizes.yaml:" not in checked.stderr


def test_junit_from_grade_carries_the_grading_time() -> None:
    from datetime import UTC, datetime, timedelta

    result = invoke("grade", str(WEEK7), str(SAMPLES / "correct.yaml"), "-f", "junit")
    assert result.exit_code == 0
    stamp = result.output.split('timestamp="', 1)[1].split('"', 1)[0]
    when = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - when) < timedelta(minutes=10)


def test_junit_reports_from_a_gradebook_carry_each_grading_time(tmp_path: Path) -> None:
    import sqlite3

    folder = tmp_path / "subs"
    folder.mkdir()
    for name in ("correct.yaml", "partly-correct.yaml"):
        shutil.copy(SAMPLES / name, folder / name)
    gradebook = tmp_path / "gb.sqlite"
    assert invoke("batch", str(WEEK7), str(folder), "--gradebook", str(gradebook), "--jobs", "1").exit_code == 0
    result = invoke("report", str(WEEK7), "--gradebook", str(gradebook), "--format", "junit", "--out-dir", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    with sqlite3.connect(gradebook) as connection:
        graded = {Path(path).stem: when for path, when in connection.execute("SELECT path, graded_at FROM submissions")}
    for stem, when in graded.items():
        text = (tmp_path / "out" / f"{stem}.xml").read_text(encoding="utf-8")
        assert f'timestamp="{when.removesuffix("+00:00")}"' in text


# -- --audience: the instructor's view of hidden parts from the command line -------------------------------------

@pytest.fixture(scope="module")
def hidden_mistake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample whose hidden part ex1.b_unusual matches the known mistake 'sum-over-k', under a name and a student
    id that do not say so."""
    sample = SAMPLES / "mistake-sum-over-k--ex1-b_unusual.yaml"
    text = sample.read_text(encoding="utf-8")
    assert "student: s-sum-over-k" in text
    path = tmp_path_factory.mktemp("hidden") / "answers.yaml"
    path.write_text(text.replace("student: s-sum-over-k", "student: s-someone"), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["text", "md", "json", "html", "junit"])
def test_grade_audience_instructor_shows_a_hidden_part_s_known_mistake(fmt: str, hidden_mistake: Path) -> None:
    student = invoke("grade", str(WEEK7), str(hidden_mistake), "--format", fmt)
    instructor = invoke("grade", str(WEEK7), str(hidden_mistake), "--format", fmt, "--audience", "instructor")
    assert student.exit_code == instructor.exit_code == 0, (student.output, instructor.output)
    assert "sum-over-k" in instructor.output and "sum-over-k" not in student.output


def test_grade_several_files_for_the_instructor_and_the_step_summary_stays_the_student_s(tmp_path: Path, hidden_mistake: Path) -> None:
    summary = tmp_path / "summary.md"
    result = run(
        "grade", str(WEEK7), str(hidden_mistake), str(SAMPLES / "correct.yaml"), "--audience", "instructor",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.returncode == 0, result.stderr
    assert "known mistake matched: sum-over-k" in result.stdout
    assert "sum-over-k" not in summary.read_text(encoding="utf-8")


def test_report_audience_instructor_writes_the_instructor_s_reports(tmp_path: Path, hidden_mistake: Path) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(hidden_mistake, folder / hidden_mistake.name)
    book = tmp_path / "book.sqlite"
    assert run("batch", str(WEEK7), str(folder), "--jobs", "1", "--gradebook", str(book)).returncode == 0
    for audience in ("student", "instructor"):
        out_dir = tmp_path / audience
        result = run("report", str(WEEK7), "--gradebook", str(book), "--format", "md", "--out-dir", str(out_dir), "--audience", audience)
        assert result.returncode == 0, result.stderr
        [written] = out_dir.glob("*.md")
        assert ("sum-over-k" in written.read_text(encoding="utf-8")) == (audience == "instructor")


def test_grading_the_week7_samples_lists_each_file_on_a_row_of_its_own() -> None:
    """The quick start's table: similar long file names stay apart (cut in the middle, not at the end), no row is
    wider than 100 columns, and a note says what each total is out of."""
    result = run("grade", str(WEEK7), str(SAMPLES))
    table = result.stdout.split("\n\n", 1)[0].splitlines()
    rows = table[2:]
    assert len(rows) == len(set(rows)) and all(len(line) <= 100 for line in table)
    assert any("mistake-flipped-k...-ex3-b_conv.yaml" in row for row in rows)
    assert any("mistake-flipped-k...-ex3-b_pool.yaml" in row for row in rows)
    assert "Each total is out of the parts its file grades" in result.stdout


def test_a_batch_with_nothing_to_grade_writes_no_empty_table_to_the_step_summary(tmp_path: Path) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(SAMPLES / "correct.yaml", folder / "correct.yaml")
    book, summary = tmp_path / "b.sqlite", tmp_path / "summary.md"
    assert run("batch", str(WEEK7), str(folder), "--jobs", "1", "--gradebook", str(book)).returncode == 0
    result = run("batch", str(WEEK7), str(folder), "--jobs", "1", "--gradebook", str(book), env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 0, result.stderr
    text = summary.read_text(encoding="utf-8")
    assert "No submission was graded in this run." in text and "| student |" not in text


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["report", str(WEEK7), "--gradebook", "gb.sqlite", "--format", "csv"], "'csv' is not one of 'text', 'md', 'json', 'html', 'junit', 'gradescope'. One CSV row per student is written with --csv FILE"),
        (["grade", str(WEEK7), str(SAMPLES / "correct.yaml"), "--audience", "teacher"], "Invalid value for '--audience': 'teacher' is not one of 'student', 'instructor'."),
    ],
    ids=["format-csv", "audience-teacher"],
)
def test_a_choice_not_offered_is_told_in_plain_words(args: list[str], said: str) -> None:
    result = run(*args)
    assert result.returncode == 2 and said in result.stderr and "Value error" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("command", "output", "message"),
    [
        (["grade", "{sheet}", "{answers}"], "{answers}", "-o hand-in/answers.yaml: would replace the submission"),
        (["check", "{sheet}", "{answers}"], "{link}", "-o hand-in/link.txt: would replace the submission hand-in/answers.yaml"),
        (["grade", "{sheet}", "{folder}", "--format", "md"], "{answers}", "-o hand-in/answers.yaml: would replace the submission"),
        (["template", "{sheet}"], "{sheet}", "-o w7.yaml: is the sheet"),
        (["solve", "{sheet}"], "{sheet}", "-o w7.yaml: is the sheet"),
        (["sheet", "{sheet}"], "{sheet}", "-o w7.yaml: is the sheet"),
        (["data", "{sheet}"], "{sheet}", "-o w7.yaml: is the sheet"),
    ],
)
def test_o_never_replaces_the_sheet_or_a_submission_it_was_made_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, grader: Grader, command: list[str], output: str, message: str
) -> None:
    """-o had written the report over the student's answers (also through a link, and over a file in a graded
    folder) or the template over the sheet: both inputs stay as they were, and the command says why (exit 2)."""
    folder = tmp_path / "hand-in"
    folder.mkdir()
    answers, sheet, link = folder / "answers.yaml", tmp_path / "w7.yaml", folder / "link.txt"
    shutil.copy(SAMPLES / "correct.yaml", answers)
    shutil.copy(WEEK7, sheet)
    link.symlink_to(answers.name)
    before = {path: path.read_bytes() for path in (answers, sheet)}
    names = {"sheet": sheet.name, "answers": str(answers.relative_to(tmp_path)), "folder": folder.name, "link": str(link.relative_to(tmp_path))}
    monkeypatch.chdir(tmp_path)
    run = grader(*(part.format(**names) for part in command), "-o", output.format(**names))
    assert run.code == 2 and run.err.startswith(f"error: {message}"), run.err
    assert {path: path.read_bytes() for path in before} == before


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux) to fill the disk behind stdout")
def test_a_full_disk_behind_stdout_is_said_in_one_line_not_an_internal_error() -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run([*GRADER, "grade", str(WEEK7), str(SAMPLES / "correct.yaml")], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "error: cannot write to standard output: No space left on device", result.stderr
