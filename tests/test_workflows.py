"""The GitHub Actions workflows in docs/workflows: their structure, and every `grader` line they run, run for real."""

from __future__ import annotations

import copy
import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader.errors import GraderError
from grader.submission.answer_file import parse_answer_file, read_bytes, salvaged_student

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "docs" / "workflows"
STUDENT = WORKFLOWS / "student.yml"
INSTRUCTOR = WORKFLOWS / "instructor.yml"
SAMPLES = ROOT / "submissions" / "week7"
ANSWER_SUFFIXES = (".yaml", ".yml", ".json")

_INSTALLED = Path(sys.executable).parent / "grader"
GRADER: list[str] = [str(_INSTALLED)] if _INSTALLED.exists() else [sys.executable, "-m", "grader"]

_SHELL_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_EXPRESSION = re.compile(r"\$\{\{\s*env\.(\w+)\s*\}\}")
# Options whose value is a file or folder the command writes.
_OUTPUT_OPTIONS = ("--output", "-o", "--html", "--csv", "--gradebook", "--out-dir")


def load_workflow(path: Path) -> dict[str, Any]:
    """The workflow as a dict; PyYAML reads the key `on` as the boolean True (YAML 1.1), so it is put back."""
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(workflow, dict), f"{path}: not a mapping"
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def workflow_env(workflow: dict[str, Any], job_id: str) -> dict[str, str]:
    """The variables a job's steps see: the workflow's `env`, then the job's (strings, as GitHub passes them)."""
    env = {**workflow.get("env", {}), **workflow["jobs"][job_id].get("env", {})}
    return {name: str(value) for name, value in env.items()}


def resolve_expressions(text: str, env: dict[str, str]) -> str:
    """Replace `${{ env.NAME }}` (the only expression the workflows use in artifact paths)."""
    def value(match: re.Match[str]) -> str:
        assert match.group(1) in env, f"${{{{ env.{match.group(1)} }}}} is not defined in the workflow's env"
        return env[match.group(1)]

    resolved = _EXPRESSION.sub(value, text)
    assert "${{" not in resolved, f"unexpected expression in {text!r}"
    return resolved


def expand(token: str, env: dict[str, str]) -> str:
    """Expand `$NAME` / `${NAME}` as bash would, refusing variables the workflow does not define."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in env, f"${name} in a grader command is not defined in the workflow's env"
        return env[name]

    return _SHELL_VARIABLE.sub(value, token)


@dataclass
class Command:
    """One `grader ...` (or `mkdir -p ...`) line of a `run:` step."""

    step: dict[str, Any]
    line: str

    @property
    def is_grader(self) -> bool:
        return self.line.startswith("grader ")

    def argv(self, env: dict[str, str]) -> list[str]:
        tokens = shlex.split(self.line)
        assert tokens[0] == "grader"
        return GRADER + [expand(token, env) for token in tokens[1:]]

    def outputs(self, env: dict[str, str]) -> list[str]:
        """The paths this command writes (values of its output options), relative to the checkout."""
        tokens = [expand(token, env) for token in shlex.split(self.line)]
        return [tokens[i + 1] for i, token in enumerate(tokens[:-1]) if token in _OUTPUT_OPTIONS]


def step_lines(workflow: dict[str, Any], job_id: str) -> list[Command]:
    """Every line of the job's `run:` steps that run the grader, with the `mkdir -p` lines among them, in order.

    A step that runs the grader may hold nothing else, so that running these lines is running the step.
    """
    lines = []
    for step in workflow["jobs"][job_id]["steps"]:
        commands = [Command(step, line.strip()) for line in str(step.get("run", "")).splitlines() if line.strip()]
        if any(command.is_grader for command in commands):
            others = [c.line for c in commands if not c.is_grader and not c.line.startswith("mkdir -p ")]
            assert not others, f"step {step.get('name')!r} runs more than grader commands: {others}"
            lines += commands
    return lines


def grader_commands(workflow: dict[str, Any], job_id: str) -> list[Command]:
    """Every line of the job's `run:` steps that starts with `grader `, in order."""
    return [command for command in step_lines(workflow, job_id) if command.is_grader]


@dataclass
class Ran:
    command: Command
    process: subprocess.CompletedProcess[str]


def run_job(workflow: dict[str, Any], job_id: str, checkout: Path, summary: Path) -> list[Ran]:
    """Run the job's grader lines in `checkout` as the runner's bash -e would: stop at the first that fails."""
    env = workflow_env(workflow, job_id)
    process_env = {name: value for name, value in os.environ.items() if name != "GITHUB_STEP_SUMMARY"}
    process_env.update(env)
    process_env["GITHUB_STEP_SUMMARY"] = str(summary)
    ran: list[Ran] = []
    for command in step_lines(workflow, job_id):
        if not command.is_grader:
            for folder in shlex.split(command.line)[2:]:
                (checkout / expand(folder, env)).mkdir(parents=True, exist_ok=True)
            continue
        process = subprocess.run(
            command.argv(env), cwd=checkout, env=process_env, capture_output=True, text=True, timeout=300,
        )
        ran.append(Ran(command, process))
        if process.returncode != 0:
            break
    return ran


def upload_steps(workflow: dict[str, Any], job_id: str) -> list[dict[str, Any]]:
    return [s for s in workflow["jobs"][job_id]["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]


def uploaded_paths(workflow: dict[str, Any], job_id: str) -> list[str]:
    env = workflow_env(workflow, job_id)
    return [resolve_expressions(str(step["with"]["path"]), env) for step in upload_steps(workflow, job_id)]


def copy_into(checkout: Path, relative: str, source: Path) -> None:
    """Put `source` (a file or folder of this repository) at `relative` inside the temporary checkout."""
    destination = checkout / relative
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination)
    else:
        shutil.copyfile(source, destination)


def describe(ran: list[Ran]) -> str:
    return "\n".join(f"$ {r.command.line}\n-> {r.process.returncode}\n{r.process.stdout[-2000:]}{r.process.stderr[-2000:]}" for r in ran)


# -- structure ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def student() -> dict[str, Any]:
    return load_workflow(STUDENT)


@pytest.fixture(scope="module")
def instructor() -> dict[str, Any]:
    return load_workflow(INSTRUCTOR)


def test_student_workflow_runs_on_push(student: dict[str, Any]) -> None:
    assert "push" in student["on"]
    assert set(student["jobs"]) == {"check"}
    env = student["env"]
    assert {"SHEET", "ANSWERS", "MIN_SCORE", "REPORT", "GRADER_PACKAGE"} <= set(env)
    assert 0 < float(env["MIN_SCORE"]) <= 1


def test_instructor_workflow_runs_on_changes_to_the_sheets(instructor: dict[str, Any]) -> None:
    triggers = instructor["on"]
    for event in ("push", "pull_request"):
        paths = triggers[event]["paths"]
        assert "exercises/**" in paths, f"{event} must run when a sheet changes"
        assert any(path.startswith(".github/workflows/") for path in paths), f"{event} must run when the workflow changes"
    assert {"validate", "grade"} <= set(instructor["jobs"])
    assert instructor["jobs"]["grade"]["needs"] == "validate"
    assert {"EXERCISES", "SHEET", "SUBMISSIONS", "OUT", "GRADER_PACKAGE"} <= set(instructor["env"])


@pytest.mark.parametrize(("path", "job_id"), [(STUDENT, "check"), (INSTRUCTOR, "validate"), (INSTRUCTOR, "grade")])
def test_every_job_checks_out_sets_up_python_installs_runs_and_uploads(path: Path, job_id: str) -> None:
    workflow = load_workflow(path)
    job = workflow["jobs"][job_id]
    assert job["runs-on"] == "ubuntu-latest"
    steps = job["steps"]
    uses = [str(step.get("uses", "")) for step in steps]
    assert uses[0] == "actions/checkout@v4"
    python_steps = [step for step in steps if step.get("uses") == "actions/setup-python@v5"]
    assert len(python_steps) == 1
    # A string: the YAML number 3.10 would be read as 3.1, so versions are quoted.
    assert python_steps[0]["with"]["python-version"] == "3.11"

    runs = [str(step.get("run", "")) for step in steps]
    install = [i for i, run in enumerate(runs) if "pip install" in run]
    assert len(install) == 1 and '"$GRADER_PACKAGE"' in runs[install[0]]
    package = workflow_env(workflow, job_id)["GRADER_PACKAGE"]
    # A bare `grader` would install an unrelated PyPI project of that name.
    assert package.startswith(("./", "/")) or package.endswith(".whl"), package

    commands = grader_commands(workflow, job_id)
    assert commands, f"{job_id} runs no grader command"
    command_steps = [i for i, step in enumerate(steps) if any(c.step is step for c in commands)]
    assert min(command_steps) > install[0] > uses.index("actions/setup-python@v5")
    for command in commands:
        assert "${{" not in command.line, f"use env variables in run lines, not expressions: {command.line}"
        command.argv(workflow_env(workflow, job_id))  # every variable is defined

    uploads = upload_steps(workflow, job_id)
    assert len(uploads) == 1
    upload = uploads[0]
    assert upload["uses"] == "actions/upload-artifact@v4"
    assert upload["if"] == "always()", "the report must be uploaded when the check fails, too"
    assert steps.index(upload) > max(command_steps)
    assert upload["with"]["name"] and upload["with"]["path"]


# -- the student workflow, run ------------------------------------------------------------------------------


def _student_checkout(workflow: dict[str, Any], tmp_path: Path, answers: Path | None) -> tuple[Path, Path]:
    env = workflow_env(workflow, "check")
    checkout = tmp_path / "student-repo"
    checkout.mkdir()
    copy_into(checkout, env["SHEET"], ROOT / env["SHEET"])
    if answers is not None:
        copy_into(checkout, env["ANSWERS"], answers)
    return checkout, tmp_path / "step-summary.md"


def _check_json(workflow: dict[str, Any], answers: Path) -> dict[str, Any]:
    """The same check as JSON (run without a step summary), to read the total the summary must show."""
    env = workflow_env(workflow, "check")
    process_env = {name: value for name, value in os.environ.items() if name != "GITHUB_STEP_SUMMARY"}
    process = subprocess.run(
        GRADER + ["check", str(ROOT / env["SHEET"]), str(answers), "--format", "json"],
        env=process_env, capture_output=True, text=True, timeout=120, check=True,
    )
    return json.loads(process.stdout)["result"]


def _assert_report_uploaded(workflow: dict[str, Any], checkout: Path) -> None:
    for path in uploaded_paths(workflow, "check"):
        report = checkout / path
        assert report.is_file() and report.stat().st_size > 0, f"the artifact {path} was not written"
        html = report.read_text(encoding="utf-8")
        assert html.lstrip().lower().startswith("<!doctype html") and "</html>" in html


def test_student_workflow_passes_a_correct_answer_file(student: dict[str, Any], tmp_path: Path) -> None:
    answers = SAMPLES / "correct.yaml"
    checkout, summary = _student_checkout(student, tmp_path, answers)
    ran = run_job(student, "check", checkout, summary)
    assert len(ran) == len(grader_commands(student, "check"))
    assert all(r.process.returncode == 0 for r in ran), describe(ran)
    _assert_report_uploaded(student, checkout)

    result = _check_json(student, answers)
    markdown = summary.read_text(encoding="utf-8")
    total = f"Total: {result['points_earned']:g}/{result['points_possible']:g} points"
    assert markdown.count(total) == 1, f"{total!r} should appear once in the step summary:\n{markdown[:800]}"
    assert "All visible checks passed." in markdown
    assert "| part | points | status |" in markdown
    assert markdown.lstrip().startswith("## ")


def test_student_workflow_fails_below_the_minimum_score_and_still_writes_the_report(
    student: dict[str, Any], tmp_path: Path,
) -> None:
    answers = SAMPLES / "partly-correct.yaml"
    checkout, summary = _student_checkout(student, tmp_path, answers)
    ran = run_job(student, "check", checkout, summary)
    failing = [r for r in ran if r.process.returncode != 0]
    assert len(failing) == 1 and "--fail-under" in failing[0].command.line, describe(ran)
    assert failing[0].process.returncode == 1, describe(ran)
    assert f"below --fail-under {float(student['env']['MIN_SCORE']):g}" in failing[0].process.stderr
    _assert_report_uploaded(student, checkout)

    result = _check_json(student, answers)
    assert result["score"] < float(student["env"]["MIN_SCORE"])
    markdown = summary.read_text(encoding="utf-8")
    assert f"Total: {result['points_earned']:g}/{result['points_possible']:g} points" in markdown
    assert "All visible checks passed." not in markdown


def test_student_workflow_without_an_answer_file_fails_naming_it(student: dict[str, Any], tmp_path: Path) -> None:
    checkout, summary = _student_checkout(student, tmp_path, None)
    ran = run_job(student, "check", checkout, summary)
    assert ran[-1].process.returncode == 2, describe(ran)
    assert student["env"]["ANSWERS"] in ran[-1].process.stderr
    assert "Traceback" not in ran[-1].process.stderr


# -- the instructor workflow, run ---------------------------------------------------------------------------


def _instructor_checkout(workflow: dict[str, Any], tmp_path: Path, with_submissions: bool) -> tuple[Path, Path]:
    env = workflow_env(workflow, "validate")
    checkout = tmp_path / "course-repo"
    checkout.mkdir()
    copy_into(checkout, env["EXERCISES"], ROOT / env["EXERCISES"])
    if with_submissions:
        # The answer files only: the code samples run in the sandbox (timeouts included) and belong to its tests.
        for path in sorted((ROOT / env["SUBMISSIONS"]).rglob("*")):
            if path.is_file() and path.suffix in ANSWER_SUFFIXES:
                copy_into(checkout, str(Path(env["SUBMISSIONS"]) / path.relative_to(ROOT / env["SUBMISSIONS"])), path)
    return checkout, tmp_path / "step-summary.md"


def _assert_outputs_written_and_uploaded(workflow: dict[str, Any], job_id: str, checkout: Path, ran: list[Ran]) -> None:
    env = workflow_env(workflow, job_id)
    uploads = [Path(path) for path in uploaded_paths(workflow, job_id)]
    for r in ran:
        for output in r.command.outputs(env):
            written = checkout / output
            assert written.exists(), f"{r.command.line} did not write {output}"
            if written.is_file():
                assert written.stat().st_size > 0, f"{output} is empty"
            assert any(Path(output).is_relative_to(upload) for upload in uploads), f"{output} is not uploaded"


def test_instructor_workflow_validates_the_sheets_and_builds_the_artifacts(
    instructor: dict[str, Any], tmp_path: Path,
) -> None:
    checkout, summary = _instructor_checkout(instructor, tmp_path, with_submissions=False)
    ran = run_job(instructor, "validate", checkout, summary)
    assert len(ran) == len(grader_commands(instructor, "validate"))
    assert all(r.process.returncode == 0 for r in ran), describe(ran)
    validate = ran[0]
    assert validate.command.line.startswith("grader validate ")
    sheets = sorted((checkout / instructor["env"]["EXERCISES"]).glob("*.yaml"))
    assert len(sheets) >= 2
    for sheet in sheets:
        assert f"{sheet.name}: ok" in validate.process.stdout
    _assert_outputs_written_and_uploaded(instructor, "validate", checkout, ran)


def test_instructor_workflow_stops_on_a_broken_sheet(instructor: dict[str, Any], tmp_path: Path) -> None:
    checkout, summary = _instructor_checkout(instructor, tmp_path, with_submissions=False)
    exercises = checkout / instructor["env"]["EXERCISES"]
    # An author fault validate must catch: a known mistake that equals the reference answer.
    broken = yaml.safe_load((exercises / "conv1d_avgpool.yaml").read_text(encoding="utf-8"))
    broken["id"] = "broken"
    part = broken["exercises"][0]["parts"][0]
    part["mistakes"][0]["expected"] = copy.deepcopy(part["expected"])
    (exercises / "broken.yaml").write_text(yaml.safe_dump(broken, sort_keys=False), encoding="utf-8")

    ran = run_job(instructor, "validate", checkout, summary)
    assert len(ran) == 1, "the job must stop at the failing validation"
    assert ran[0].process.returncode == 2, describe(ran)
    assert "broken.yaml" in ran[0].process.stderr and "[spec-mistake-full]" in ran[0].process.stderr
    sheets = len(list(exercises.glob("*.yaml")))  # the shipped sheets and the broken one
    assert f"1 of {sheets} sheet(s) have errors" in ran[0].process.stderr
    assert "Traceback" not in ran[0].process.stderr


def test_instructor_workflow_grades_a_cohort_into_a_gradebook(instructor: dict[str, Any], tmp_path: Path) -> None:
    checkout, summary = _instructor_checkout(instructor, tmp_path, with_submissions=True)
    ran = run_job(instructor, "grade", checkout, summary)
    assert len(ran) == len(grader_commands(instructor, "grade"))
    assert all(r.process.returncode == 0 for r in ran), describe(ran)
    _assert_outputs_written_and_uploaded(instructor, "grade", checkout, ran)

    env = workflow_env(instructor, "grade")
    submissions = [
        path for path in (checkout / env["SUBMISSIONS"]).rglob("*")
        if path.is_file() and path.suffix in ANSWER_SUFFIXES
    ]
    assert len(submissions) > 10
    assert f"{len(submissions)} submissions found" in ran[0].process.stdout
    out = checkout / env["OUT"]
    reports = sorted((out / "reports").glob("*.html"))
    assert len(reports) == len(submissions)
    with (out / "grades.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # One row per student (the LMS imports by id); an unreadable file is its student's when its text plainly
    # names one (a single student: line), else a row of its own.
    students: set[str] = set()
    unreadable = 0
    for path in submissions:
        try:
            students.add(parse_answer_file(path, read_bytes(path)).student)
        except GraderError:
            named = salvaged_student(read_bytes(path), path.suffix)
            if named:
                students.add(named)
            else:
                unreadable += 1
    assert len(rows) == len(students) + unreadable < len(submissions)
    assert sorted(row["student_id"] for row in rows if row["student_id"]) == sorted(students)
    assert all(0 <= float(row["score"]) <= 1 for row in rows)
    stats_html = (out / "stats.html").read_text(encoding="utf-8")
    assert "<svg" in stats_html

    # The batch puts the cohort's table on the job's summary page.
    markdown = summary.read_text(encoding="utf-8")
    assert "| student | submission | total | score | status |" in markdown
    for path in submissions:
        assert f"| {path.name} |".replace("_", "\\_") in markdown, f"{path.name} is not in the step summary"


def test_instructor_workflow_keeps_one_report_per_student_when_file_names_repeat(
    instructor: dict[str, Any], tmp_path: Path,
) -> None:
    checkout, summary = _instructor_checkout(instructor, tmp_path, with_submissions=False)
    env = workflow_env(instructor, "grade")
    for student, sample in (("alice", "correct.yaml"), ("bob", "partly-correct.yaml")):
        copy_into(checkout, f"{env['SUBMISSIONS']}/{student}/answers.yaml", SAMPLES / sample)
    ran = run_job(instructor, "grade", checkout, summary)
    assert all(r.process.returncode == 0 for r in ran), describe(ran)
    reports = sorted((checkout / env["OUT"] / "reports").glob("*.html"))
    assert len(reports) == 2, [report.name for report in reports]
