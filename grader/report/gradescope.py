"""Gradescope ``results.json`` for one Result, per the autograder specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/, "Output format"); validated in the tests
against ``gradescope.schema.json`` beside this module."""

from __future__ import annotations

import json
from typing import Any

from grader.report.common import (
    NOTES_TITLE,
    Audience,
    PartView,
    check_audience,
    fmt_points,
    headline,
    note_lines,
    printable,
    score_note,
    shown_status,
    value_lines,
    view_parts,
)
from grader.notes import asks_for_an_id
from grader.result import Result

SCHEMA_FILE = "gradescope.schema.json"

NAME_TITLE_CHARS = 72
"""Most characters of a part's prompt a test's name shows: Gradescope lists tests by name, and week 7's prompts run
to 380 characters. A longer prompt is cut at a word, and the test's output starts with all of it."""


def _prompt(view: PartView) -> str:
    return " ".join(printable(view.part.title).split())


def _test_name(view: PartView) -> str:
    """``ex2.a  The output width as a formula in n, f, s and p, written with + - * / ** and…`` (hidden parts:
    `` (hidden)`` appended), the prompt cut to :data:`NAME_TITLE_CHARS`."""
    prompt = _prompt(view)
    if len(prompt) > NAME_TITLE_CHARS:
        at_word = prompt[: NAME_TITLE_CHARS + 1].rsplit(" ", 1)[0].rstrip(" ,;:.")
        # at a word, unless that keeps less than half (one long token): then at the character
        prompt = (at_word if len(at_word) >= NAME_TITLE_CHARS // 2 else prompt[:NAME_TITLE_CHARS]) + "\u2026"
    name = f"{view.part.key}  {prompt}" if prompt else view.part.key
    return f"{name} (hidden)" if view.hidden else name


def _test_output(view: PartView) -> str:
    lines = [f"{view.status_word} ({view.points} points)"]
    if len(_prompt(view)) > NAME_TITLE_CHARS:  # the name shows only its start
        lines[:0] = [_prompt(view), ""]
    if view.hidden and not view.show_actual:
        lines.append("A hidden check: only whether it passed is shown.")
    if view.feedback:
        lines += ["", view.feedback]
    if view.details:
        lines += ["", "Where it differs:", *(f"- {d}" for d in view.details)]
    if view.mistake:
        lines.append(f"Known mistake matched: {view.mistake}")
    if view.followed:
        lines.append(view.followed_text)
    if view.show_answer:
        lines += ["", f"{view.answer_label}:", *("  " + line for line in value_lines(view.your_answer, view.part,
                                                                                     view.actual_marks_key, view.digits))]
    if view.expected_shown is not None:
        lines += ["Expected:", *("  " + line for line in value_lines(view.expected_shown, view.part,
                                                                       "expected_winners", view.digits))]
    if view.cases or view.hidden_cases:
        lines.append("")
        for case in view.cases:
            said = "; ".join(t for t in [case.remark, *case.details] if t)
            lines.append(f"[{case.label}] {case.name}"
                         + (f" ({case.inputs})" if case.inputs else "") + (f": {said}" if said else ""))
        if view.hidden_cases:
            lines.append(view.hidden_cases)
    return printable("\n".join(lines))


def to_gradescope_data(result: Result, audience: Audience = "student") -> dict[str, Any]:
    """The results.json object. Visible parts are ``"visible"`` tests, hidden parts ``"after_published"``
    ones; a pending part has no ``status`` (Gradescope knows only passed/failed) and says so in its output."""
    audience = check_audience(audience)
    views = view_parts(result, audience)
    numbers: dict[str, int] = {}
    exercise_numbers: dict[str, int] = {}
    tests = []
    for view in views:
        exercise = view.part.exercise_id
        exercise_numbers.setdefault(exercise, len(exercise_numbers) + 1)
        numbers[exercise] = numbers.get(exercise, 0) + 1
        test: dict[str, Any] = {
            "score": view.part.points_earned,
            "max_score": view.part.points_possible,
        }
        if view.passed is not None:
            test["status"] = "passed" if view.passed else "failed"
        test.update({
            "name": _test_name(view),
            "name_format": "text",
            "number": f"{exercise_numbers[exercise]}.{numbers[exercise]}",
            "output": _test_output(view),
            "output_format": "text",
            "tags": [printable(exercise), printable(view.part.answer_type)],
            "visibility": "after_published" if view.hidden else "visible",
            "extra_data": {"key": printable(view.key), "status": shown_status(view.part, audience).value},
        })
        tests.append(test)
    if audience == "student" and any(view.hidden for view in views):
        # This text is always visible, while hidden tests wait for publication: neither the total nor the hidden
        # tests' results may show through it.
        shown = [view.part for view in views if not view.hidden]
        earned, possible = sum(p.points_earned for p in shown), sum(p.points_possible for p in shown)
        summary = [f"Visible parts: {fmt_points(earned, possible)} points. "
                   f"{headline(result, audience, hidden_results=False)}"]
    else:
        summary = [f"Total: {fmt_points(result.points_earned, result.points_possible)} points "
                   f"({score_note(result)}). {headline(result, audience)}"]
    if result.error:
        summary.insert(0, f"This submission could not be graded: {result.error}")
    # Gradescope credits a submission to the account that uploaded it: a note asking for the id only worries there.
    notes = [note for note in note_lines(result) if not asks_for_an_id(note)]
    if notes:
        summary.append("\n".join([f"{NOTES_TITLE}:", *(f"- {note}" for note in notes)]))
    data: dict[str, Any] = {
        "score": result.points_earned,
        "output": printable("\n\n".join(summary)),
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {
            "sheet_id": printable(result.sheet_id),
            "student_id": printable(result.student_id),
            "seed": result.seed,
            "submission": printable(result.submission),
            "points_possible": result.points_possible,
            "grader_version": printable(result.grader_version),
        },
        "tests": tests,
    }
    return data


def render_gradescope(result: Result, audience: Audience = "student") -> str:
    """``results.json`` text (indented, ASCII only)."""
    return json.dumps(to_gradescope_data(result, audience), indent=2, ensure_ascii=True, allow_nan=False) + "\n"
