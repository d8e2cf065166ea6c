"""Grade a code submission (.py or .ipynb): every code part's function runs in one sandbox run, case by case.

The student's outputs come back as plain arrays and are checked here, in the grader's process, with the
same ladder as answer files. A part's score is the share of its cases passed; when every failing case matches
a known mistake, the student gets that mistake's feedback (and credit, if any).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from grader.answers.code import CodeAnswer
from grader.code_key import CodeCaseKey, CodeKey, code_part_key, defining
from grader.engine import symmetry
from grader.grading import Mode, check_context, part_fields, pending_part, sheet_result, unusable
from grader.notes import (
    CASE_NOT_COUNTED,
    CASE_NOT_RUN,
    HIDDEN_CASE_KINDS,
    MISSING_CODE_STUDENT_NOTE,
    unusable_code_student_note,
)
from grader.result import CaseResult, PartResult, Result, Status, Verdict, Visibility
from grader.sandbox import CaseInput, CaseOutcome, Limits, PreparedCases, prepare_cases, run_prepared
from grader.sandbox.notebook import NotebookError, notebook_to_source
from grader.spec.loader import Sheet
from grader.spec.models import ExerciseSpec, PartSpec
from grader.submission.answer_file import file_hash
from grader.submission.student_line import StudentLine, student_line
from grader.text import file_name, without_surrogates

_STOPPED = {
    "exception": "your function raised an exception",
    "timeout": "your function ran out of time",
    "memory": "your function used too much memory",
    "crashed": "your code stopped the process before returning",
    "bad-result": "your function returned something that is not numbers",
    "not-run": CASE_NOT_RUN + "the time allowed was used up",
    "import-error": "your file could not be imported",
    "missing-function": "the function is not defined in your file",
}

# Why no case of a part called the function (CaseOutcome.before_call), by the status the cases share.
_BEFORE_CALL = {
    "import-error": "your file could not be imported",
    "missing-function": "the function is not defined in your file",
    "timeout": "importing your file took too long",
    "memory": "importing your file used too much memory",
    "crashed": "your file stopped the process while it was imported",
}


def declared_student_of(path: Path, data: bytes) -> StudentLine:
    """The student id ``STUDENT = "..."`` declares in the code (read as text, never run; for notebooks in any code
    cell; see grader.submission.student_line), or why the line gives none. Without one the file is graded under its
    file name, and its report asks for the line (MISSING_CODE_STUDENT_NOTE, or the line's problem)."""
    text = data.decode("utf-8-sig", errors="replace")
    if path.suffix.lower() == ".ipynb":
        try:  # the Python the sandbox runs: code cells, magics blanked, %%bash and the like left out
            text = notebook_to_source(text, path.name).source
        except NotebookError:  # not a notebook: grading says why
            pass
    found = student_line(text)
    return StudentLine(without_surrogates(found.student), None) if found.student else found


def _case_verdict(answer: CodeAnswer, case: CodeCaseKey, outcome: CaseOutcome, outputs: dict[str, Any], ctx: Any) -> Verdict:
    if outcome.status != "ok":
        reason = _STOPPED.get(outcome.status, outcome.status)
        return Verdict(fraction=0.0, status=Status.error, feedback=reason, details=[outcome.message] if outcome.message else [])
    if case.kind == "value":
        return answer.check(outcome.value, case.expected, ctx)
    base = outputs.get(case.base)
    if base is None:
        return Verdict(fraction=0.0, status=Status.error, feedback=f"not checked: case {case.base} gave no output to compare with")
    if not isinstance(base, np.ndarray) or not isinstance(outcome.value, np.ndarray):  # a dict of arrays came back
        return Verdict(fraction=0.0, status=Status.invalid, feedback="not checked: the function returned a dict, not one array")
    before = np.asarray(base, dtype=np.float64)
    after = np.asarray(outcome.value, dtype=np.float64)
    reference_shape = np.shape(case.expected)
    if before.shape != reference_shape or after.shape != reference_shape:
        return Verdict(
            fraction=0.0, status=Status.invalid,
            feedback=f"not checked: the outputs have shapes {before.shape} and {after.shape}, expected {reference_shape}",
        )
    if not (np.isfinite(before).all() and np.isfinite(after).all()):  # NaN compares as "no difference": never holds
        return Verdict(fraction=0.0, status=Status.invalid, feedback="not checked: the outputs hold NaN or inf")
    tolerance = answer.abs_tol + answer.rel_tol * np.abs(after)
    if case.kind == "equivariance":
        dy, dx = case.shift
        out_y, out_x = case.output_shift
        assert case.mask is not None
        differs = (np.abs(symmetry.shift(before, out_y, out_x) - after) > tolerance) & case.mask
        if differs.any():
            where = [int(i) for i in np.argwhere(differs)[0]]
            moved = "the same way" if (out_y, out_x) == (dy, dx) else f"by ({out_y}, {out_x}) (the layer's stride divides the shift)"
            return Verdict(
                fraction=0.0, status=Status.incorrect,
                feedback=f"not equivariant: shifting the input by ({dy}, {dx}) should shift the output {moved} away from the border",
                details=[f"{int(differs.sum())} output cells break it, first at {where}"],
            )
        return Verdict(fraction=1.0, status=Status.correct)
    changed = [u for u in case.units if abs(after[u] - before[u]) > answer.abs_tol + answer.rel_tol * abs(before[u])]
    if changed:
        return Verdict(
            fraction=0.0, status=Status.incorrect,
            feedback=f"shifting the input by {case.shift} changes output units that max pooling keeps unchanged",
            details=[f"changed units: {', '.join(str(list(u)) for u in changed[:5])}"],
        )
    return Verdict(fraction=1.0, status=Status.correct)


def _mistake(part: PartSpec, answer: CodeAnswer, failed: list[CodeCaseKey], outputs: dict[str, Any], ctx: Any) -> Any:
    """The known mistake every failed value case matches (all of them ran and returned), if any. A case where the
    mistake is undefined (``ignored-padding`` where the size without padding is not whole) is passed over: the
    mistake must be defined for, and match, at least one failed case, and every other failed case it is defined for."""
    value_failed = [c for c in failed if c.kind == "value"]
    if not value_failed or any(c.name not in outputs for c in value_failed):
        return None
    for mistake in part.mistakes:
        defined = defining(value_failed, mistake.id)
        if defined and all(answer.matches(outputs[c.name], c.mistakes[mistake.id], ctx) for c in defined):
            return mistake
    return None


def _gate_properties(key: CodeKey, verdicts: dict[str, Verdict]) -> set[str]:
    """Take back a passed property case whose base case failed: a function that is wrong on the base case (a
    constant output, a transposed kernel) can still be trivially equivariant or invariant, and must not earn
    points for it. The base case is named only when it is visible. Returns the names of the cases taken back:
    they hold, so reports label them ``not counted`` (:data:`CASE_NOT_COUNTED`), not failed."""
    cases = {c.name: c for c in key.cases}
    gated: set[str] = set()
    for case in key.cases:
        if case.kind == "value" or verdicts[case.name].fraction < 1.0 or verdicts[case.base].fraction >= 1.0:
            continue
        base = cases[case.base]
        named = f"case {base.name}" if base.visibility is not Visibility.hidden else "the case it is compared with"
        verdicts[case.name] = Verdict(
            fraction=0.0, status=Status.incorrect,
            feedback=f"{CASE_NOT_COUNTED}the property holds, but only counts when your function also gets {named} right",
        )
        gated.add(case.name)
    return gated


def _before_call(outcome: CaseOutcome) -> bool:
    """Whether the case never called the function (the module failed to import, or lacks the function)."""
    return outcome.before_call


def _stopped_before_call(key: CodeKey, outcomes: dict[str, CaseOutcome]) -> CaseOutcome | None:
    """The outcome all of a part's cases share when none of them called the function (a SyntaxError, a missing
    function): the same status and message for every case, so it is told once for the part. None otherwise."""
    first = outcomes[key.cases[0].name]
    shared = all(
        _before_call(o) and o.status == first.status and o.message == first.message for o in (outcomes[c.name] for c in key.cases)
    )
    return first if shared else None


def _not_run_part(exercise: ExerciseSpec, part: PartSpec, key: CodeKey, stopped: CaseOutcome) -> PartResult:
    """A part none of whose cases ran: the reason once, with the file's own message (the line and the error of a
    SyntaxError), and every case ``not run``.

    The message only when the part has a visible case: visible cases run before any hidden input reaches the
    student's code, so theirs (which the others share) cannot carry one. A part whose cases are all hidden got its
    message from a process started after hidden inputs had been handed to an earlier one, which could have left
    them in the working directory for the file's import to raise with: it says only the reason."""
    lead = _BEFORE_CALL.get(stopped.status, _STOPPED.get(stopped.status, stopped.status))
    count = len(key.cases)
    cases_ran = "the case ran" if count == 1 else f"none of the {count} cases ran"
    hidden_part = part.visibility is Visibility.hidden
    shown = stopped.message and any(case.visibility is not Visibility.hidden for case in key.cases)
    feedback = f"{lead}, so {cases_ran}" + (f":\n{stopped.message}" if shown else "")
    verdict = Verdict(fraction=0.0, status=Status.error, feedback=f"{CASE_NOT_RUN}{lead}")
    # A file that does not define the function has no answer to the part (as an answer file that leaves it out): a
    # student who hands in the parts' functions in separate files keeps each (grader.cohort's merge).
    unanswered = stopped.status == "missing-function"
    return PartResult(
        **part_fields(exercise, part),
        points_earned=0.0,
        status=Status.missing if unanswered else Status.error,
        feedback="not passed" if hidden_part else feedback,
        cases=[_case_result(c, verdict, hidden_part, HIDDEN_CASE_KINDS["before-call"]) for c in key.cases],
    )


def _failure_kind(answer: CodeAnswer, case: CodeCaseKey, outcome: CaseOutcome, outputs: dict[str, Any], gated: bool) -> str:
    """How a case failed, in words that tell none of its values (what a hidden case may say): a phrase of
    HIDDEN_CASE_KINDS (never an exception's type: the student's code picks it, so it could spell out the inputs)."""
    if outcome.status != "ok":
        kind = "before-call" if _before_call(outcome) else outcome.status
        return HIDDEN_CASE_KINDS.get(kind, HIDDEN_CASE_KINDS["crashed"])
    if case.kind == "value":
        return HIDDEN_CASE_KINDS[answer.failure_kind(outcome.value, case.expected)]
    if gated:
        return HIDDEN_CASE_KINDS["not-counted"]
    base = outputs.get(case.base)
    if base is None:
        return HIDDEN_CASE_KINDS["unchecked"]
    if isinstance(base, dict) or isinstance(outcome.value, dict):
        return HIDDEN_CASE_KINDS["dict"]
    if np.shape(base) != np.shape(case.expected) or np.shape(outcome.value) != np.shape(case.expected):
        return HIDDEN_CASE_KINDS["shape"]
    return HIDDEN_CASE_KINDS["property"]


def _changed_note(function: str, key: CodeKey, outcomes: dict[str, CaseOutcome]) -> str:
    """A remark (no points) when the function changed array arguments in place (CaseOutcome.changed) in a
    visible case: which, and in how many visible cases; empty when it changed none. Hidden cases are not counted: the
    code chooses whether to change an argument, so that would be one more bit of what it saw of each."""
    visible = [c for c in key.cases if c.visibility is Visibility.visible]
    changed = [o.changed for o in (outcomes[c.name] for c in visible) if o.changed]
    if not changed:
        return ""
    names = list(dict.fromkeys(name for case in changed for name in case))
    quoted = [f"'{name}'" for name in names]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return (
        f"Note: your function changed its argument{'s' if len(names) > 1 else ''} {listed} in place (in {len(changed)} of "
        f"{len(visible)} visible cases). This costs no points, as every case gets its own copy, but code that calls "
        f"{function}() would find its array changed: work on a copy ({names[0]} = {names[0]}.copy()) or write the "
        "result into a new array."
    )


def _with_note(feedback: str, note: str) -> str:
    """``feedback`` then ``note`` as a sentence of its own on a line of its own."""
    if not feedback or not note:
        return feedback or note
    return f"{feedback}{'' if feedback.endswith('.') else '.'}\n{note}"


# One submission's whole run may take at most this long, however many code parts its sheet has.
MAX_RUN_SECONDS = 300.0


def _part_limits(answer: CodeAnswer, key: CodeKey) -> Limits:
    """The limits one code part's cases get when run on their own."""
    seconds = answer.seconds_per_case
    return Limits(
        cpu_seconds_per_case=seconds, wall_seconds_per_case=2 * seconds + 1,
        wall_seconds_total=min(120.0, 10 + len(key.cases) * seconds),
    )


def _part_cases(prefix: str, answer: CodeAnswer, key: CodeKey) -> list[CaseInput]:
    """The part's cases for the sandbox, named ``prefix + case name``, each calling the part's function within the
    part's own per-call limits, and together within the part's own total time (their group, named ``prefix``)."""
    limits = _part_limits(answer, key)
    return [
        CaseInput(
            prefix + c.name, c.kwargs, function=answer.function,
            cpu_seconds=limits.cpu_seconds_per_case, wall_seconds=limits.wall_seconds_per_case,
            group=prefix, group_seconds=limits.wall_seconds_total,
        )
        for c in key.cases
    ]


def _graded_part(sheet: Sheet, exercise: ExerciseSpec, part: PartSpec, key: CodeKey, outcomes: dict[str, CaseOutcome]) -> PartResult:
    """Grade one code part from its cases' sandbox ``outcomes`` (by case name, without any prefix)."""
    stopped = _stopped_before_call(key, outcomes)
    if stopped is not None:
        return _not_run_part(exercise, part, key, stopped)
    answer: CodeAnswer = part.answer  # type: ignore[assignment]
    outputs = {name: o.value for name, o in outcomes.items() if o.status == "ok"}
    ctx = check_context(sheet, exercise.id, part.id)
    verdicts = {c.name: _case_verdict(answer, c, outcomes[c.name], outputs, ctx) for c in key.cases}
    gated = _gate_properties(key, verdicts)
    passed = [c for c in key.cases if verdicts[c.name].fraction >= 1.0]
    failed = [c for c in key.cases if verdicts[c.name].fraction < 1.0]
    fraction = len(passed) / len(key.cases)
    mistake = _mistake(part, answer, failed, outputs, ctx) if failed else None
    hidden_part = part.visibility is Visibility.hidden
    kinds = {c.name: _failure_kind(answer, c, outcomes[c.name], outputs, c.name in gated) for c in failed}
    cases = [_case_result(c, verdicts[c.name], hidden_part, kinds.get(c.name, "")) for c in key.cases]
    if not failed:
        status, feedback = Status.correct, ""
    elif mistake is not None:
        fraction = max(fraction, mistake.credit)
        status, feedback = (Status.partial if fraction > 0 else Status.incorrect), mistake.feedback
    else:
        status = Status.partial if passed else (Status.error if all(verdicts[c.name].status is Status.error for c in failed) else Status.incorrect)
        wrong = [c for c in failed if c.name not in gated]
        # Only a visible case is named: a hidden one's verdict would tell its expected shape or values.
        shown = [c for c in wrong if c.visibility is not Visibility.hidden]
        feedback = f"{len(wrong)} of {len(key.cases)} cases failed"
        if len(wrong) < len(failed):
            feedback += f" and {len(failed) - len(wrong)} {'was' if len(failed) - len(wrong) == 1 else 'were'} not counted"
        feedback += f"; first: {shown[0].name}: {verdicts[shown[0].name].feedback}" if shown else " (all of them hidden: how they failed is below)"
    note = _changed_note(answer.function, key, outcomes)
    return PartResult(
        **part_fields(exercise, part),
        points_earned=round(fraction * part.points, 6),
        status=status,
        feedback=("passed" if not failed else "not passed") if hidden_part else _with_note(feedback, note),
        mistake=mistake.id if mistake is not None else None,
        cases=cases,
    )


@lru_cache(maxsize=64)
def _prepared_run(sheet: Sheet, part_ids: tuple[tuple[str, str], ...]) -> PreparedCases:
    """The sandbox cases of one run of these code parts (``(exercise id, part id)`` each), checked and encoded once
    per loaded sheet: every submission of a batch runs the same cases. Visible cases first, then hidden ones.

    Each case keeps its part's per-call limits, and each part's cases together its total time (a group of the
    sandbox's, which also pays for the imports its timed-out calls cause): a part whose calls are slow runs out of
    its own time, never of the parts' after it, unless MAX_RUN_SECONDS, the cap of the run's total, runs out first.
    The run's total time is what the parts would have had one by one, plus an import per part and one more (at most
    MAX_RUN_SECONDS). Case names are prefixed ``exercise.part/`` to stay unique across parts.
    """
    specs = {(exercise.id, part.id): part for exercise, part in sheet.parts()}
    answers: list[CodeAnswer] = [specs[ids].answer for ids in part_ids]  # type: ignore[misc]
    visible: list[CaseInput] = []
    hidden: list[CaseInput] = []
    total_seconds = 0.0
    for (exercise_id, part_id), answer in zip(part_ids, answers, strict=True):
        key = code_part_key(sheet, exercise_id, part_id)
        hidden_part = specs[(exercise_id, part_id)].visibility is Visibility.hidden
        for case_key, case in zip(key.cases, _part_cases(f"{exercise_id}.{part_id}/", answer, key), strict=True):
            (hidden if hidden_part or case_key.visibility is Visibility.hidden else visible).append(case)
        total_seconds += _part_limits(answer, key).wall_seconds_total
    # One process runs them all and keeps its globals: hidden cases come last, and their inputs reach the process
    # only when every visible case has its outcome, so no visible case's message (the student sees those in full)
    # can carry a hidden case's inputs, not even read from memory the process holds.
    cases = visible + hidden
    slowest = max(answer.seconds_per_case for answer in answers)
    # Beyond the parts' own times, the first import and, per part, the import of the process started after the part
    # used up its time: a part's time pays for the imports its timed-out calls cause, but the one after its last
    # call serves the parts after it.
    imports = (len(answers) + 1) * (2 * slowest + 1)
    limits = Limits(
        cpu_seconds_per_case=slowest, wall_seconds_per_case=2 * slowest + 1,
        wall_seconds_total=min(MAX_RUN_SECONDS, total_seconds + imports),
    )
    return prepare_cases(answers[0].function, cases, limits=limits, hidden_from=len(visible))


def _grade_code_parts(
    sheet: Sheet, parts: list[tuple[ExerciseSpec, PartSpec]], path: Path, *, mode: Mode, require_sandbox: bool
) -> tuple[list[PartResult], dict[str, bool]]:
    """Grade every code part in ``parts`` with ONE sandbox run (one import of the module for all their functions);
    also return the isolation layers used ({} when no part ran). Hidden parts in check mode do not run."""
    runnable = [(exercise, part) for exercise, part in parts if pending_part(exercise, part, mode) is None]
    outcomes: dict[str, CaseOutcome] = {}
    layers: dict[str, bool] = {}
    if runnable:
        prepared = _prepared_run(sheet, tuple((exercise.id, part.id) for exercise, part in runnable))
        report = run_prepared(path, prepared, require_sandbox=require_sandbox)
        outcomes = {o.name: o for o in report.cases}
        layers = report.layers
    graded: dict[tuple[str, str], PartResult] = {}
    for exercise, part in runnable:
        key = code_part_key(sheet, exercise.id, part.id)
        prefix = f"{exercise.id}.{part.id}/"
        own = {c.name: outcomes[prefix + c.name] for c in key.cases}  # by the part's own case names
        graded[(exercise.id, part.id)] = _graded_part(sheet, exercise, part, key, own)
    results: list[PartResult] = []
    for exercise, part in parts:
        pending = pending_part(exercise, part, mode)
        results.append(pending if pending is not None else graded[(exercise.id, part.id)])
    return results, layers


def _case_result(case: CodeCaseKey, verdict: Verdict, hidden_part: bool, kind: str) -> CaseResult:
    """One case as the Result holds it. A hidden case keeps only whether it passed and, when it failed, ``kind``
    (:func:`_failure_kind`): how it failed, in words that tell none of its inputs, outputs or expected values."""
    hidden = hidden_part or case.visibility is Visibility.hidden
    passed = verdict.fraction >= 1.0
    return CaseResult(
        name=case.name,
        visibility=Visibility.hidden if hidden else Visibility.visible,
        passed=passed,
        fraction=verdict.fraction,
        inputs="" if hidden else case.inputs_text,
        feedback=("" if passed else kind) if hidden else verdict.feedback,
        details=[] if hidden else list(verdict.details),
        mistake=None,
    )


def grade_code_file(sheet: Sheet, path: Path, data: bytes, *, mode: Mode = "full", require_sandbox: bool = False) -> Result:
    """Grade every code part of ``sheet`` on one .py/.ipynb file (answer-file parts are graded from answer files).

    The student is the one ``STUDENT = "..."`` names; without it, the file's name, and the report asks for the line."""
    parts = [(e, p) for e, p in sheet.parts() if p.answer.type == "code"]
    digest = file_hash(data)
    if not parts:
        return unusable(sheet, path, f"{file_name(path)}: this sheet has no code parts; hand in an answer file", submission_hash=digest)
    results, layers = _grade_code_parts(sheet, parts, path, mode=mode, require_sandbox=require_sandbox)
    declared = declared_student_of(path, data)
    if declared.student:
        notes = []
    else:
        notes = [unusable_code_student_note(declared.problem) if declared.problem else MISSING_CODE_STUDENT_NOTE]
    return sheet_result(
        sheet, path, student_id=declared.student or without_surrogates(path.stem), submission_hash=digest,
        parts=results, sandbox_layers=layers, notes=notes,
    )
