"""The ``grader`` command: parses arguments, calls one pipeline function, renders, maps errors to exit codes.

Exit codes: 0 done (whatever the scores), 1 a score below ``--fail-under``, 2 unusable input (a bad spec, a
missing file, a submission that could not be read), 3 an internal error (a bug: please report it).
This is the only module that prints or exits.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
import yaml

from grader import __version__
from grader.errors import SHEET_FAULT, GraderError, Interrupted, SpecError, SpecErrors, VariantKeyError
from grader.files import check_output_dir, check_output_file, write_atomic
from grader.text import file_name, one_line, path_key

if TYPE_CHECKING:  # pydantic models load only for commands that need them (keeps `grader --help` fast)
    from grader.batch import FoundSubmission
    from grader.gradebook import Gradebook
    from grader.result import Result
    from grader.roster import Roster
    from grader.spec import Sheet

app = typer.Typer(
    name="grader",
    help="Auto-grader for neural-network courses: exercises in YAML, answers computed by a numpy engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class ReportFormat(str, Enum):
    text = "text"
    md = "md"
    json = "json"
    html = "html"
    junit = "junit"
    gradescope = "gradescope"


class Audience(str, Enum):
    student = "student"
    instructor = "instructor"


class Executor(str, Enum):
    local = "local"
    dask = "dask"


class KeyFormat(str, Enum):
    yaml = "yaml"
    json = "json"
    md = "md"


class SheetFormat(str, Enum):
    md = "md"
    html = "html"


def _whole_number(value: str) -> int:
    """Parse a whole-number option (typer names the option in front of the message)."""
    try:
        return int(value)
    except ValueError:
        raise typer.BadParameter(f"expected a whole number, got {value!r}") from None


def _seed(value: str) -> int:
    """Parse a variant seed: a whole number from 0 to MAX_SEED (what answer files take)."""
    from grader.submission.answer_file import MAX_SEED

    number = _whole_number(value)
    if number < 0:
        raise typer.BadParameter(f"expected a whole number of at least 0, got {value!r}")
    if number > MAX_SEED:
        raise typer.BadParameter(f"expected a seed of at most {MAX_SEED} (as answer files take), got {value!r}")
    return number


MAX_VALIDATE_SEEDS = 10_000
"""Most seeds ``validate --seeds`` takes (each is a key to compute: week 7's take about 30 ms each)."""


def _seed_list(value: str) -> list[int]:
    """Parse ``validate --seeds``: seeds and ranges of them, ``1-200`` or ``5,9,17`` or ``1-3,40``."""
    seeds: list[int] = []
    for item in value.split(","):
        first, dash, last = item.strip().partition("-")
        low = _seed(first.strip())
        high = _seed(last.strip()) if dash else low
        if high < low:
            raise typer.BadParameter(f"expected a range from low to high, e.g. 1-200, got {item.strip()!r}")
        if len(seeds) + high - low + 1 > MAX_VALIDATE_SEEDS:
            raise typer.BadParameter(f"at most {MAX_VALIDATE_SEEDS} seeds, got more in {value!r}")
        seeds.extend(range(low, high + 1))
    return seeds


def _positive_whole_number(value: str) -> int:
    """Parse a whole-number option that must be at least 1."""
    number = _whole_number(value)
    if number < 1:
        raise typer.BadParameter(f"expected a whole number of at least 1, got {value!r}")
    return number


def _fraction(value: str) -> float:
    """Parse a score threshold: a number from 0 to 1."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0.0 <= number <= 1.0:
        raise typer.BadParameter(f"expected a number from 0 to 1 (a share of the points), got {value!r}")
    return number


SpecArg = Annotated[Path, typer.Argument(help="The exercise sheet (YAML).", show_default=False)]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", parser=_seed, help="Variant seed (default: the sheet's own numbers).")]
OutOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout.")]


def _refuse_overwriting(output: Path | None, spec: Path, submissions: Sequence[Path] = (), roster: Path | None = None) -> None:
    """GraderError, before anything is written, when ``-o`` names the sheet, the roster or a submission being graded
    (also through a link): the report would replace the file it was made from."""
    if output is None:
        return
    target = output.resolve()
    if target == spec.resolve():
        raise GraderError(f"-o {one_line(str(output))}: is the sheet {one_line(str(spec))}; choose another file name")
    if roster is not None and target == roster.resolve():
        raise GraderError(f"-o {one_line(str(output))}: is the roster {one_line(str(roster))}; choose another file name")
    for submission in submissions:
        if target == submission.resolve():
            raise GraderError(
                f"-o {one_line(str(output))}: would replace the submission {one_line(str(submission))}; choose another file name"
            )


def _emit(text: str, output: Path | None, spec: Path | None = None) -> None:
    """Print ``text``, or write it atomically to ``output`` (refused when that is the sheet ``spec``)."""
    if spec is not None:
        _refuse_overwriting(output, spec)
    if output is None:
        try:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            sys.stdout.flush()
        except OSError as error:  # a full disk behind a redirect, a closed pipe: the reader's problem, said plainly
            raise GraderError(f"cannot write to standard output: {error.strerror or type(error).__name__}") from None
    else:
        write_atomic(output, text)
        typer.echo(f"wrote {output}", err=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _load(spec: Path) -> Sheet:
    from grader.spec import load_sheet

    return load_sheet(spec)


def _roster(path: Path | None) -> Roster | None:
    """The roster of ``--roster`` (None without it); InputFileError naming the file and line of a fault."""
    from grader.roster import load_roster

    return load_roster(path) if path is not None else None


STEP_SUMMARY_BYTES = 1_000_000
"""The most a step's job summary may hold: GitHub refuses a summary over 1 MiB and shows none of it ("upload
aborted"), which a batch of about 7,000 files reached."""


def _within(markdown: str, room: int) -> str:
    """``markdown`` cut after its last whole line that leaves room for a note saying so, when it is longer than
    ``room`` bytes (UTF-8)."""
    if len(markdown.encode("utf-8")) <= room:
        return markdown
    note = "\n*(cut here: a job summary may hold at most 1 MiB; the gradebook and the reports have every row)*\n"
    budget = max(0, room - len(note.encode("utf-8")))
    kept = markdown.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    return kept[: kept.rfind("\n") + 1] + note if budget else ""


def _step_summary(render: Callable[[], str]) -> None:
    """Append what ``render`` makes (Markdown) to GitHub Actions' job summary when running there; elsewhere it is not
    rendered at all (for a 3.6 MB answer that took 5 s).

    The summary is an extra: when it cannot be written, a one-line warning, and the exit code stays as it is.
    """
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        markdown = render()
        try:
            with open(path, "a", encoding="utf-8") as summary:
                summary.write(_within(markdown if markdown.endswith("\n") else markdown + "\n", STEP_SUMMARY_BYTES - summary.tell()))
        except OSError as error:
            reason = error.strerror or type(error).__name__
            typer.echo(f"warning: cannot write the job summary GITHUB_STEP_SUMMARY={path}: {reason}", err=True)


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Sheet files or folders of them.", show_default=False)],
    seeds: Annotated[Optional[list[int]], typer.Option(
        "--seeds", parser=_seed_list, show_default=False,
        help="Also check these variants, e.g. 1-200 or 5,9,17: every student's, when each has their own "
             "(besides the sheet's own numbers and its validation_seeds).",
    )] = None,
) -> None:
    """Check sheets before students see them: schema, every key for several seeds, references and mistakes."""
    from grader.validate import validate_paths

    results = validate_paths(paths, [seed for given in seeds or [] for seed in given])
    failed = 0
    for path, errors in results.items():
        if errors:
            failed += 1
            for error in errors:
                typer.echo(str(error), err=True)
        else:
            for warning in errors.warnings:  # the sheet is usable: said on stderr, validation passes
                typer.echo(f"warning: {warning}", err=True)
            typer.echo(f"{path}: ok")
    if failed:
        raise _fail(f"{failed} of {len(results)} sheet(s) have errors")


@app.command()
def solve(spec: SpecArg, seed: SeedOpt = None, fmt: Annotated[KeyFormat, typer.Option("--format", "-f")] = KeyFormat.yaml, output: OutOpt = None) -> None:
    """Print the answer key of a variant (instructors only: it holds every hidden answer)."""
    from grader.key import compute_key
    from grader.report.common import sample_point_lines

    key = compute_key(_load(spec), seed)
    answers = key.as_json()
    if fmt is KeyFormat.json:
        text = json.dumps(answers, indent=2)
    elif fmt is KeyFormat.yaml:
        text = yaml.safe_dump(answers, sort_keys=False, default_flow_style=None, width=120)
    else:
        lines = [f"# Answer key: {key.sheet.title or key.sheet.id}", "", f"Variant: {'the sheet' if seed is None else seed}", ""]
        for exercise_id, parts in answers.items():
            lines += [f"## {exercise_id}", ""]
            for part_id, value in parts.items():
                points = sample_point_lines(value)  # a formula or graph key: sentences, not raw JSON
                lines += [f"- **{part_id}**: `{json.dumps(value)}`"] if points is None else [
                    f"- **{part_id}**:", *(f"  - {point}" for point in points)
                ]
            lines.append("")
        text = "\n".join(lines)
    _emit(text, output, spec)


@app.command()
def template(spec: SpecArg, seed: SeedOpt = None, output: OutOpt = None) -> None:
    """Print a blank answer file for a student, each part's prompt as a comment."""
    from grader.key import compute_key
    from grader.student_sheet import answer_template

    _emit(answer_template(compute_key(_load(spec), seed)), output, spec)


@app.command()
def data(spec: SpecArg, seed: SeedOpt = None, output: OutOpt = None) -> None:
    """Print the exact inputs of a variant as JSON (the sheet's tables round them to 4 digits)."""
    from grader.key import compute_key
    from grader.student_sheet import variant_data

    _emit(json.dumps(variant_data(compute_key(_load(spec), seed))) + "\n", output, spec)


@app.command()
def sheet(spec: SpecArg, seed: SeedOpt = None, fmt: Annotated[SheetFormat, typer.Option("--format", "-f")] = SheetFormat.md, output: OutOpt = None) -> None:
    """Print the exercise sheet a student reads, with the inputs of their variant."""
    from grader.key import compute_key
    from grader.student_sheet import sheet_html, sheet_markdown

    key = compute_key(_load(spec), seed)
    _emit(sheet_html(key) if fmt is SheetFormat.html else sheet_markdown(key), output, spec)


def _submission_files(paths: list[Path]) -> list[FoundSubmission]:
    """The files to grade: files as given, folders walked as ``batch`` walks them (hidden files and folders such
    as ``.ipynb_checkpoints`` or ``.venv`` skipped, links not followed out of loops, links out of the folder marked
    ``outside``: graded unread)."""
    from grader.batch import FoundSubmission, find_submissions

    files: list[FoundSubmission] = []
    for path in paths:
        if path.is_dir():
            files += find_submissions(path)
        elif not path.exists():
            raise GraderError(f"{path}: no such file or folder")
        else:
            files.append(FoundSubmission(path, str(path)))
    if not files:
        raise _NothingToGrade(f"no submissions found in {', '.join(map(str, paths))}")
    return files


class _NothingToGrade(GraderError):
    """No answer or code file among the paths given to ``grade``/``check``."""


def _nothing_to_grade_reason(paths: list[Path]) -> str:
    """What the student handed in instead of an answer or code file, for a report's error (file names only)."""
    from grader.submission.answer_file import ANSWER_SUFFIXES, CODE_SUFFIXES

    names = sorted(
        file.name for path in paths if path.is_dir() for file in path.rglob("*")
        if file.is_file() and not any(part.startswith(".") for part in file.relative_to(path).parts)
    )
    held = f"; it holds {', '.join(names[:8])}{', ...' if len(names) > 8 else ''}" if names else "; it is empty"
    return (
        f"nothing to grade: the submission has no answer file ({', '.join(ANSWER_SUFFIXES)}) and no code file "
        f"({', '.join(CODE_SUFFIXES)}){held}"
    )


def _grade_command(
    spec: Path, submissions: list[Path], fmt: ReportFormat, output: Path | None, fail_under: float | None, mode: str,
    require_sandbox: bool, audience: Audience = Audience.student, roster_path: Path | None = None,
) -> None:
    """Grade ``submissions``, write their report for ``audience`` (one, or a summary then each), append the GitHub
    step summary (the student's view, whoever the report is for), and set the exit code (2: a single submission
    unusable or the sheet failed on a variant; 1: below ``fail_under``)."""
    from grader.batch import outside_link_message
    from grader.grading import grade_submission, unusable
    from grader.report import render, render_junit, render_md, render_md_many, render_text_many
    from grader.report.common import printable

    if output is not None:
        check_output_file(output)
    loaded = _load(spec)
    roster = _roster(roster_path)
    try:
        found = _submission_files(submissions)
    except _NothingToGrade:
        if fmt is not ReportFormat.gradescope:
            raise
        # Gradescope tells a student only "the autograder failed" when no results.json was written: this one says why
        from grader.combined import nothing_handed_in

        reason = _nothing_to_grade_reason(submissions)
        _emit(render(nothing_handed_in(loaded, ", ".join(file_name(path) for path in submissions), reason), "gradescope",  # type: ignore[arg-type]
                     audience=audience.value), output)
        raise GraderError(reason) from None
    files = [submission.path for submission in found]
    _refuse_overwriting(output, spec, files, roster_path)
    results: list[Result] = []
    sheet_faults: list[str] = []
    for submission in found:
        path = submission.path
        if submission.outside:
            results.append(unusable(loaded, path, outside_link_message(path)))  # type: ignore[arg-type]
            continue
        try:
            results.append(grade_submission(loaded, path, mode=mode, require_sandbox=require_sandbox, roster=roster))  # type: ignore[arg-type]
        except (SpecError, SpecErrors) as error:  # this variant's key: the author's fault; grade the others
            # A student running check sees what their report says; the sheet's own error is for its author.
            shown = one_line(str(path))
            sheet_faults.append(f"{shown}: {SHEET_FAULT}" if mode == "check" else f"{shown}: the sheet failed on this variant: {error}")
            told = error.result if isinstance(error, VariantKeyError) else unusable(loaded, path, SHEET_FAULT)  # type: ignore[arg-type]
            results.append(told)
    graded = results  # one per file, for stderr; the report may combine them
    reader = audience.value
    if fmt is ReportFormat.gradescope or (len(results) > 1 and fmt in ONE_FILE_FORMATS):
        results = [_one_submission(loaded, results, fmt, files)]  # type: ignore[arg-type]
    if len(results) == 1 and fmt is ReportFormat.junit:
        text = render_junit(results[0], reader, timestamp=_now_for_junit())
    elif len(results) == 1:
        text = render(results[0], fmt.value, audience=reader)
    elif fmt is ReportFormat.text:
        text = render_text_many(results, reader)
    elif fmt is ReportFormat.md:
        text = render_md_many(results, reader)
    elif fmt is ReportFormat.json:
        text = "[\n" + ",\n".join(render(r, "json", audience=reader).strip() for r in results) + "\n]"
    _emit(text, output)  # the report first: a summary that cannot be written must not lose it
    _step_summary(lambda: render_md(results[0]) if len(results) == 1 else render_md_many(results))
    for fault in sheet_faults:
        typer.echo(fault, err=True)
    if sheet_faults:
        raise typer.Exit(2)
    not_graded = [(path, r) for path, r in zip(files, graded, strict=True) if r.error]
    for path, result in not_graded[:20]:  # also on stderr: a CI log shows why, even when the report went to a file
        # The report names the file by its name only (the student's view); here, the path it was given as.
        typer.echo(f"{one_line(str(path))}: could not be graded: {printable(result.error or '')}", err=True)
    if mode == "full":  # (check runs a student's own code on their own machine)
        from grader.sandbox.layers import exposed, exposure_warning

        if unshielded := sum(exposed(result.sandbox_layers) for result in graded):
            typer.echo(exposure_warning(unshielded), err=True)
    if len(graded) == 1 and not_graded:  # several: like a batch, an unusable one is a result (0 with the reason)
        raise typer.Exit(2)
    if fail_under is not None:
        below = [r for r in results if _graded_score(r) < fail_under]
        for result in below[:20]:
            typer.echo(f"{printable(result.submission)}: {_score_compared(result)} is below --fail-under {fail_under:g}", err=True)
        if len(below) > 20 or (below and len(results) > 1):
            typer.echo(f"{len(below)} of {len(results)} submissions are below --fail-under {fail_under:g}", err=True)
        if below:
            raise typer.Exit(1)


ONE_FILE_FORMATS = (ReportFormat.html, ReportFormat.junit, ReportFormat.gradescope)
"""Formats of one report per submission: several files given are one student's submission, combined. Gradescope's
results.json always is (one file too): a submission is the whole sheet, and its tests follow the sheet's parts."""


def _one_submission(sheet: Sheet, results: list[Result], fmt: ReportFormat, files: list[Path]) -> Result:
    """The Results of ``files`` as one submission's (Gradescope's /autograder/submission holds the answer file
    and the code file of one student), the file saved last counting where two answer one part. For html and junit,
    GraderError when the files name more than one student (a folder of a cohort is batch's); Gradescope's
    submission is one whatever ids its files give (a template's placeholder left in one, a typo fixed in another):
    it must always get a results.json, and its report notes the ids."""
    from grader.combined import combined_result, students_named
    from grader.report.common import printable

    named = students_named(results)
    if len(named) > 1 and fmt is not ReportFormat.gradescope:
        shown = ", ".join(printable(repr(student)) for student in named[:5]) + (", ..." if len(named) > 5 else "")
        raise GraderError(
            f"--format {fmt.value} writes one report per submission, and these files name {len(named)} students "
            f"({shown}): give one student's files (an answer file and a code file are combined), or use "
            f"`grader batch --format {fmt.value} --out-dir DIR` for a folder of many"
        )
    return combined_result(sheet, results, [_saved_at(path) for path in files])


def _saved_at(path: Path) -> float:
    """When ``path`` was last modified (seconds), 0 when it cannot be told (a link out of the folder, gone)."""
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def _now_for_junit(graded_at: str | None = None) -> str:
    """A JUnit ``timestamp`` (ISO 8601 without zone, UTC): ``graded_at`` (a gradebook time) or now."""
    from datetime import UTC, datetime

    moment = datetime.fromisoformat(graded_at) if graded_at else datetime.now(UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def _score_compared(result: Result) -> str:
    """The score ``--fail-under`` compares, in words: ``46/49 points of the graded parts (93.88%; 3 points of hidden
    parts pending)``."""
    from grader.report.common import fmt_number, fmt_percent, fmt_points
    from grader.result import Status

    pending = sum(p.points_possible for p in result.parts if p.status is Status.pending)
    graded = sum(p.points_possible for p in result.parts) - pending
    text = f"{fmt_points(result.points_earned, graded)} points of the graded parts ({fmt_percent(_graded_score(result))}"
    return text + (f"; {fmt_number(pending)} points of hidden parts pending)" if pending else ")")


def _graded_score(result: Result) -> float:
    """The score over the parts that were graded: ``check`` leaves hidden parts pending, and they don't count."""
    from grader.result import Status

    possible = sum(p.points_possible for p in result.parts if p.status is not Status.pending)
    return result.points_earned / possible if possible else 0.0


FailUnder = Annotated[Optional[float], typer.Option("--fail-under", parser=_fraction, help="Exit 1 when a score (0..1 of the graded parts' points) is below this.")]
RequireSandbox = Annotated[bool, typer.Option("--require-sandbox", help="Refuse to run code unless every isolation layer is available.")]
RosterOpt = Annotated[Optional[Path], typer.Option(
    "--roster", metavar="CSV",
    help="The course's roster: a CSV file with the columns student and seed. Each answer file is graded against the "
         "variant it gives the file's student, whatever seed the file names; a student it does not list scores 0.",
)]
AudienceOpt = Annotated[Audience, typer.Option(
    "--audience",
    help="Who reads the reports: the student (hidden parts show only their points and whether they passed) or the "
         "instructor (also their feedback, known mistake and answer). A GitHub step summary is always the student's.",
)]


@app.command()
def grade(
    spec: SpecArg,
    submissions: Annotated[list[Path], typer.Argument(help="Answer files, code files, or folders of them.", show_default=False)],
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.text,
    output: OutOpt = None,
    fail_under: FailUnder = None,
    require_sandbox: RequireSandbox = False,
    audience: AudienceOpt = Audience.student,
    roster: RosterOpt = None,
) -> None:
    """Grade submissions and print the feedback report (several submissions: a summary, then each report)."""
    _grade_command(spec, submissions, fmt, output, fail_under, "full", require_sandbox, audience, roster)


@app.command()
def check(
    spec: SpecArg,
    submission: Annotated[Path, typer.Argument(help="Your answer file or code file (or a folder of them).", show_default=False)],
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.text,
    output: OutOpt = None,
    fail_under: FailUnder = None,
    require_sandbox: RequireSandbox = False,
) -> None:
    """The student-side run: visible parts graded, hidden parts listed as graded after submission."""
    _grade_command(spec, [submission], fmt, output, fail_under, "check", require_sandbox)


@app.command()
def schema(output: OutOpt = None) -> None:
    """Print the JSON Schema of exercise sheets (for editor completion and checks)."""
    from grader.spec.models import SheetSpec

    _emit(json.dumps(SheetSpec.model_json_schema(), indent=2), output)


@app.command()
def ops() -> None:
    """List the operations a sheet's quantities may use, with their arguments."""
    from grader.quantities import OPS

    for name in sorted(OPS):
        typer.echo(f"{OPS[name].signature}\n    {OPS[name].doc}")


@app.command()
def batch(
    spec: SpecArg,
    submissions_dir: Annotated[Path, typer.Argument(help="Folder of submissions.", show_default=False)],
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", parser=_positive_whole_number, help="Parallel workers (default: all cores).")] = None,
    gradebook: Annotated[Optional[Path], typer.Option("--gradebook", help="SQLite gradebook, created on first use (default: ./gradebook.sqlite).")] = None,
    regrade: Annotated[bool, typer.Option("--regrade", help="Grade again even when nothing changed.")] = False,
    executor: Annotated[Executor, typer.Option("--executor", help="Where workers run: processes on this machine, or a Dask cluster.")] = Executor.local,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786 (with --executor dask; without it, a local cluster).")] = None,
    fmt: Annotated[Optional[ReportFormat], typer.Option("--format", "-f", help="Also write one report per submission (into --out-dir).")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", help="Folder for the per-submission reports (with --format; default: ./reports).")] = None,
    fail_under: FailUnder = None,
    require_sandbox: RequireSandbox = False,
    audience: AudienceOpt = Audience.student,
    student_from: Annotated[Optional[str], typer.Option(
        "--student-from", metavar="REGEX",
        help="Who handed each file in, from its path in the folder: a regular expression whose group is the student "
             "id, e.g. '^([^/]+)/' for one folder per student; it counts over the id the file gives.",
    )] = None,
    roster: RosterOpt = None,
) -> None:
    """Grade a whole folder in parallel into a gradebook; unchanged submissions are skipped."""
    from grader.batch import run_batch

    if scheduler is not None and executor is not Executor.dask:
        raise GraderError("--scheduler needs --executor dask")
    if out_dir is not None and fmt is None:
        raise GraderError("--out-dir needs --format (which report to write there: html, junit, gradescope, ...)")
    if fmt is not None:
        out_dir = out_dir or Path("reports")
        check_output_dir(out_dir)
        if _inside(out_dir, submissions_dir):
            raise GraderError(
                f"--out-dir {out_dir}: is inside the submissions folder {submissions_dir}, so the next batch would grade "
                "the reports as submissions (and a report could replace a student's file); choose a folder outside it"
            )
    summary = run_batch(
        spec, submissions_dir, jobs=jobs, gradebook_path=gradebook, regrade=regrade, executor=executor.value,
        scheduler=scheduler, progress=sys.stderr.isatty(), student_from=student_from, require_sandbox=require_sandbox,
        roster=_roster(roster),
    )
    described = summary.describe()
    typer.echo(described)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        from grader.report import render_md_summary
        from grader.report.markdown import code_block

        fenced = "\n".join(code_block(described.split("\n")))  # paths may hold backticks
        _step_summary(lambda: f"## grader batch\n\n{fenced}\n\n" + render_md_summary(summary.results()))
    if fmt is not None and out_dir is not None:
        from grader.gradebook import Gradebook

        with Gradebook(summary.gradebook_path, read_only=True) as book, book.snapshot():
            _write_reports(book, fmt.value, out_dir, summary.spec_hash, audience.value)
    if fail_under is not None:
        below = summary.below(fail_under)
        for key, score in below[:20]:  # as grade does: the CI log names them
            typer.echo(f"{one_line(key)}: score {score:.4g} is below --fail-under {fail_under:g}", err=True)
        if len(below) > 20:
            typer.echo(f"... and {len(below) - 20} more below --fail-under {fail_under:g}", err=True)
        if below:
            raise _fail(f"{len(below)} score(s) below --fail-under {fail_under:g}", 1)


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (both resolved, links followed)."""
    resolved, base = path.resolve(), folder.resolve()
    return resolved == base or base in resolved.parents


def _refuse_replacing(outputs: list[Path], book: Gradebook, what: str) -> None:
    """GraderError, before anything is written, when one of ``outputs`` is the gradebook (or its -wal/-shm/-journal
    file) or a submission it holds: a typo in an output option must not destroy a term's grades or a student's
    file."""
    gradebook = book.path.resolve()
    protected = {gradebook, *(gradebook.with_name(gradebook.name + suffix) for suffix in ("-wal", "-shm", "-journal"))}
    for output in outputs:
        target = output.resolve()
        if target in protected:
            raise GraderError(f"{what} {output}: is the gradebook {book.path} (or one of its files); choose another name")
    submissions = {row.path for row in book.rows()}
    for output in outputs:
        if str(output.resolve()) in submissions:
            raise GraderError(f"{what} {output}: would replace the submission {one_line(str(output.resolve()))}; choose a folder outside the submissions")


def _refuse_inside_submissions(out_dir: Path, folders: list[str], submissions: list[str]) -> None:
    """GraderError when ``out_dir`` lies in a folder a batch graded into the gradebook (``folders``, gradebook keys);
    for files no recorded folder holds (graded before folders were recorded), in the folder that holds them all:
    the next batch would grade the reports as submissions, as ``grader batch`` refuses for its own --out-dir.
    Compared as gradebook keys (:func:`grader.text.path_key`), which spell a backslash or a byte that is not UTF-8
    as an escape."""
    target = path_key(str(out_dir.resolve()))
    guarded = list(folders)
    older = [path for path in submissions if not any(_key_within(path, folder) for folder in folders)]
    if older:
        try:
            holding = os.path.commonpath([os.path.dirname(path) for path in older])
        except ValueError:  # paths on different drives: no one folder holds them
            holding = ""
        if holding and os.path.dirname(holding) != holding:  # the root holds everything
            guarded.append(holding)
    for folder in guarded:
        if _key_within(target, folder):
            raise GraderError(
                f"--out-dir {out_dir}: is inside the folder of the submissions ({one_line(folder)}), so the next batch "
                "would grade the reports as submissions; choose a folder outside it"
            )


def _key_within(key: str, folder: str) -> bool:
    """Whether the gradebook key ``key`` is ``folder`` or lies below it."""
    return key == folder or key.startswith(folder.rstrip(os.sep) + os.sep)


def _write_reports(book: Gradebook, fmt: str, out_dir: Path, spec_hash: str, audience: str) -> None:
    from grader.report import FILE_SUFFIXES, render, render_junit

    rows = list(book.rows(spec_hash))  # without the Results: those stream, one in memory at a time
    names = _report_names([(row.student_id, Path(row.submission).stem, row.path) for row in rows])
    targets = [out_dir / f"{name}{FILE_SUFFIXES[fmt]}" for name in names]
    _refuse_replacing(targets, book, "--out-dir")
    _refuse_inside_submissions(out_dir, book.folders(), [row.path for row in rows])
    # Rows and Results of one sheet version both come in path order. JUnit carries when each was graded.
    for row, result, target in zip(rows, book.results(spec_hash), targets, strict=True):
        text = render_junit(result, audience, timestamp=_now_for_junit(row.graded_at)) if fmt == "junit" else render(result, fmt, audience=audience)
        write_atomic(target, text)
    typer.echo(f"wrote {len(targets)} {fmt} report(s) to {out_dir}")


REPORT_NAME_BYTES = 120
"""Longest report file name stem in bytes (file systems allow 255, and a suffix and a counter are added)."""


def _safe_name(text: str) -> str:
    """``text`` as a file name stem: letters, digits, ``-_.`` kept, the rest ``_``; a name longer than
    REPORT_NAME_BYTES is cut and ends in a hash of the whole, so distinct long names stay distinct."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip(".") or "submission"
    if len(name.encode("utf-8", errors="replace")) <= REPORT_NAME_BYTES:
        return name
    digest = hashlib.sha256(name.encode("utf-8", errors="replace")).hexdigest()[:12]
    cut = name.encode("utf-8", errors="replace")[: REPORT_NAME_BYTES - 13].decode("utf-8", errors="ignore")
    return f"{cut}-{digest}"


def _report_names(submissions: list[tuple[str, str, str]]) -> list[str]:
    """A distinct file name stem per report of ``submissions`` (``(student id, file stem, submission path)`` each):
    the stem when no other report has it, else ``student--stem`` for every report that shares it, and if still
    shared (files without an id, or two of one student) followed by 6 hex digits of the file's path.

    Students often hand in files of one name (``alice/answers.yaml``, ``bob/answers.yaml``): then each report carries
    its student (``alice--answers``, ``bob--answers``), so a name never passes from one student's report to another's
    when the cohort grows; nor when one of two files without an id gets one, since the digits come from the file's
    own path, not from its place in the list. Names are compared casefolded: ``Bob`` and ``bob`` are one file on the
    case-insensitive file systems of macOS and Windows, where the reports are often unzipped.
    """
    bases = [_safe_name(stem) for _, stem, _ in submissions]
    stems = Counter(base.casefold() for base in bases)
    named = [
        base if stems[base.casefold()] == 1 else _safe_name(f"{_safe_name(student_id or 'no-id')}--{base}")
        for (student_id, _, _), base in zip(submissions, bases, strict=True)
    ]
    sharing = Counter(name.casefold() for name in named)
    used: set[str] = set()  # casefolded
    names = []
    for (_, _, path), name in zip(submissions, named, strict=True):
        if sharing[name.casefold()] > 1:
            name = f"{name}-{hashlib.sha256(path.encode('utf-8', 'surrogateescape')).hexdigest()[:6]}"
        candidate, number = name, 2
        while candidate.casefold() in used:  # 6 hex digits alike: one in 16 million
            candidate, number = f"{name}-{number}", number + 1
        used.add(candidate.casefold())
        names.append(candidate)
    return names


@app.command()
def report(
    spec: SpecArg,
    gradebook: Annotated[Path, typer.Option("--gradebook", help="The gradebook to read.")],
    fmt: Annotated[Optional[ReportFormat], typer.Option("--format", "-f", help="Format of the per-submission reports (default: html).")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", help="Folder for the reports (default: ./reports).")] = None,
    csv: Annotated[Optional[Path], typer.Option("--csv", help="Write one CSV row per student here (LMS import); alone, without --format or --out-dir, only the CSV.")] = None,
    audience: AudienceOpt = Audience.student,
) -> None:
    """Render reports from a gradebook without grading again."""
    from grader.cohort import merge_warnings, sheet_points, students_in
    from grader.gradebook import Gradebook
    from grader.report import render_csv

    per_submission = csv is None or fmt is not None or out_dir is not None
    fmt = fmt or ReportFormat.html
    out_dir = out_dir or Path("reports")
    if per_submission:
        check_output_dir(out_dir)
    if csv is not None:
        check_output_file(csv)
    loaded = _load(spec)
    # One snapshot: a batch committing meanwhile cannot pair one student's name with another's report.
    with Gradebook(gradebook, read_only=True) as book, book.snapshot():  # refuses a missing file or no gradebook
        _require_results_of_this_sheet(book, loaded, spec)
        if csv is not None:
            _refuse_replacing([csv], book, "--csv")
        if per_submission:
            _write_reports(book, fmt.value, out_dir, loaded.spec_hash, audience.value)
        if csv is not None:
            students = students_in(book, loaded.spec_hash)  # one CSV row per student
            failed = sum(1 for row in book.rows(loaded.spec_hash) if row.grader_failed)
            _warn(merge_warnings(students) + (
                [f"{failed} file(s) left out of {csv}: the grader itself failed on them; run grader batch again to grade them"]
                if failed else []
            ))
            points = sheet_points(loaded)
            write_atomic(csv, render_csv(students, part_keys=list(points), points_possible=sum(points.values())))
            typer.echo(f"wrote {csv}")


def _warn(lines: list[str]) -> None:
    """Each line on stderr as ``warning: ...``, on one line with control characters escaped (file names and ids
    are the students')."""
    from grader.report.common import printable

    for line in lines:
        typer.echo(f"warning: {printable(line)}".replace("\n", "\\n"), err=True)


def _require_results_of_this_sheet(book: Gradebook, sheet: Sheet, spec: Path) -> None:
    """Refuse to write reports when no result was graded with exactly this version of the sheet.

    ``report`` renders the results of this exact spec (its hash); results of the same sheet id graded with
    another version (the sheet was edited since) are left out -- with a warning, or an error when nothing is left.
    """
    versions = [row.spec_hash for row in book.rows(sheet.id)]
    current = versions.count(sheet.spec_hash)
    stale = len(versions) - current
    again = f"run `grader batch {spec} SUBMISSIONS --gradebook {book.path}` again to grade them with this version"
    if current == 0 and stale <= 0:
        known = ", ".join(book.sheet_ids()) or "none"
        raise GraderError(f"the gradebook {book.path} has no results for sheet {sheet.id!r} (it has: {known}); nothing was written")
    if current == 0:
        raise GraderError(
            f"the gradebook {book.path} has {stale} result(s) for sheet {sheet.id!r}, but all were graded with another "
            f"version of the sheet than {spec} (it changed since); {again}; nothing was written"
        )
    if stale > 0:
        typer.echo(
            f"warning: {stale} result(s) for sheet {sheet.id!r} were graded with another version of the sheet than "
            f"{spec} and are left out; {again}",
            err=True,
        )


@app.command()
def stats(
    spec: SpecArg,
    gradebook: Annotated[Path, typer.Option("--gradebook", help="The gradebook to read.")],
    html_out: Annotated[Optional[Path], typer.Option("--html", help="Also write an HTML page with charts here.")] = None,
) -> None:
    """Per-part statistics of a cohort: mean, spread, full marks, discrimination, known mistakes."""
    from grader.cohort import sheet_points
    from grader.gradebook import Gradebook
    from grader.stats import compute_stats, follow_through_of, known_mistakes_of
    from grader.stats_render import render_stats_html, render_stats_text

    if html_out is not None:
        check_output_file(html_out)
    sheet = _load(spec)
    with Gradebook(gradebook, read_only=True) as book, book.snapshot():  # refuses a missing file or no gradebook
        if html_out is not None:
            _refuse_replacing([html_out], book, "--html")
        _require_results_of_this_sheet(book, sheet, spec)  # as report: this version of the sheet only
        try:
            points = sheet_points(sheet)
            computed = compute_stats(
                book, sheet.spec_hash, known_mistakes=known_mistakes_of(sheet), points_possible=sum(points.values()),
                part_points=points, follow_through=follow_through_of(sheet),
            )
        except LookupError as error:  # no results for this sheet: the user gave the wrong gradebook or sheet
            raise GraderError(str(error)) from error
    typer.echo(render_stats_text(computed))
    _warn(computed.warnings)
    if html_out is not None:
        write_atomic(html_out, render_stats_html(computed))
        typer.echo(f"wrote {html_out}")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"grader {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False) -> None:
    """Auto-grader for neural-network courses."""


def _usage_error_types() -> tuple[type[Exception], ...]:
    """Usage errors of the installed typer: its own classes (typer >= 0.2x vendors click), else click's."""
    found: list[type[Exception]] = []
    if hasattr(typer, "TyperException"):
        found.append(typer.TyperException)
    try:
        import click

        found.append(click.ClickException)
    except ImportError:
        pass
    return tuple(found)


def _usage_error(exc: Any) -> int:
    """Show a command-line usage error as click does (usage, a hint, ``Error: ...``); its exit code (2).

    Typer vendors click, so these are ``typer``'s own exception classes, not ``click.ClickException``. A bare
    ``grader`` raises NoArgsIsHelpError: with rich installed the help is already printed and the message empty. A
    missing argument's ``message`` is empty too: only ``format_message()`` says "Missing argument 'spec'".
    """
    message = getattr(exc, "message", None)
    if isinstance(message, str):
        # typer checks a choice through pydantic, whose ValueError text starts "Value error, "
        exc.message = message.replace("Value error, ", "")
        if "'csv' is not one of" in message:
            exc.message += " One CSV row per student is written with --csv FILE (on grader report)."
    if exc.format_message().strip():
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            typer.echo(f"Error: {exc.format_message()}", err=True)
    return 2


def main() -> None:
    """Entry point: run the app; errors become one message and an exit code, never a traceback."""
    try:
        # Without standalone mode click returns (not raises) the code of a typer.Exit.
        code = app(standalone_mode=False)
        if code == 130:  # typer's answer to Ctrl-C in a command (no command of the grader exits 130 itself)
            typer.echo("interrupted", err=True)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except SpecErrors as exc:
        typer.echo(str(exc), err=True)
        sys.exit(2)
    except Interrupted as exc:
        typer.echo(str(exc), err=True)
        sys.exit(130)
    except GraderError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except _usage_error_types() as exc:  # click's usage errors: no such command/option, a bad option value
        sys.exit(_usage_error(exc))
    except typer.Abort as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:  # outside the command (typer's own Ctrl-C handling covers the command itself)
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 -- the last line of defence: no traceback for users
        typer.echo(f"internal error: {type(exc).__name__}: {exc} (please report this with the command you ran)", err=True)
        sys.exit(3)
