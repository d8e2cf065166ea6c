"""Plain-text report of one Result: at most 100 columns, no colours, safe to pipe."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from grader.report.common import (
    GRID_DIGITS,
    NOTES_TITLE,
    TOTALS_NOTE,
    Audience,
    PartView,
    batch_status,
    check_audience,
    fmt_percent,
    fmt_points,
    headline,
    note_lines,
    printable,
    rectangular,
    score_note,
    summarize_array,
    title_of,
    value_lines,
    view_parts,
)
from grader.result import PartResult, Result
from grader.text import one_line

WIDTH = 100


def wrap(text: str, indent: str = "", first: str | None = None, width: int = WIDTH) -> list[str]:
    """Text (any characters a student typed) as lines of at most ``width`` columns, each starting with indent
    (the very first with ``first`` if given); existing line breaks are kept, long words are broken."""
    lines: list[str] = []
    for paragraph in printable(text).split("\n"):
        lead = first if first is not None and not lines else indent
        lines.extend(
            textwrap.wrap(paragraph, width=width, initial_indent=lead, subsequent_indent=indent,
                          break_long_words=True, break_on_hyphens=False, replace_whitespace=True)
            or [lead.rstrip()]
        )
    return lines


def block(value: Any, part: PartResult, indent: str, marks_key: str | None = None, digits: int = GRID_DIGITS) -> list[str]:
    """A value as indented lines (array entries to ``digits`` significant digits); a grid too wide for the page is
    summarized instead."""
    lines = value_lines(value, part, marks_key, digits)
    if any(len(indent + line) > WIDTH for line in lines):
        found = rectangular(value)
        if found is not None and found[0]:
            return [indent + summarize_array(*found)]
        # Each line wrapped on its own (continued 2 columns further in): sample points stay one per sentence.
        return [out for line in lines for out in wrap(line, indent + "  ", first=indent)]
    return [indent + line for line in lines]


def part_lines(view: PartView) -> list[str]:
    """One part: status, points, title, then what the audience may see."""
    # Status, key and points first on one line, so a long prompt never pushes the points out of sight.
    hidden = " (hidden)" if view.hidden else ""
    lines = wrap(f"[{view.status_word}] {printable(view.key)}{hidden}   {view.points} points")
    if view.part.title:
        lines += wrap(view.part.title, "    ")
    if view.feedback:
        lines += wrap(view.feedback, "     ", first="  -> ")
    if view.details:
        lines.append("  Where it differs:")
        for detail in view.details:
            lines += wrap(detail, "      ", first="    - ")
    if view.mistake:
        lines += wrap(f"known mistake matched: {view.mistake}", "  ")
    if view.followed:
        lines += wrap(view.followed_text, "  ")
    marks_note = False
    if view.show_answer:
        lines.append(f"  {view.answer_label}:")
        lines += block(view.your_answer, view.part, "    ", view.actual_marks_key, view.digits)
        marks_note |= view.actual_marks_key is not None
    if view.expected_shown is not None:
        lines.append("  Expected:")
        lines += block(view.expected_shown, view.part, "    ", "expected_winners", view.digits)
        marks_note |= "expected_winners" in view.annotations
    if marks_note:
        lines.append("  (* marks the winner of each max-pooling window)")
    if view.cases or view.hidden_cases:
        lines.append("  Cases:")
        for case in view.cases:
            lines += wrap(f"[{case.label}] {case.name}" + (f"  inputs: {case.inputs}" if case.inputs else ""), "    ")
            if case.remark:
                lines += wrap(case.remark, "           ")
            for detail in case.details:
                lines += wrap(detail, "           ")
        if view.hidden_cases:
            lines += wrap(view.hidden_cases, "    ")
    return lines


def render_text(result: Result, audience: Audience = "student") -> str:
    """The report a student reads in a terminal (``grader check``): title, total, error, then each part."""
    audience = check_audience(audience)
    lines = wrap(title_of(result))
    facts = [f"sheet: {result.sheet_id}"]
    if result.submission:
        facts.append(f"submission: {one_line(result.submission)}")
    if result.seed is not None:
        facts.append(f"variant (seed): {result.seed}")
    lines += wrap("   ".join(facts))
    lines.append("=" * WIDTH)
    if result.error:
        lines += wrap("ERROR: this submission could not be graded.")
        lines += wrap(result.error, "  ")
        lines.append("-" * WIDTH)
    lines.append(f"Total: {fmt_points(result.points_earned, result.points_possible)} points ({score_note(result)})")
    lines += wrap(headline(result, audience))
    notes = note_lines(result)
    if notes:
        lines.append(f"{NOTES_TITLE}:")
        for note in notes:
            lines += wrap(note, "    ", first="  - ")
    if audience == "instructor" and result.sandbox_layers:
        layers = ", ".join(f"{name} {'on' if on else 'OFF'}" for name, on in result.sandbox_layers.items())
        lines += wrap(f"sandbox layers: {layers}")
    for exercise, views in _by_exercise(view_parts(result, audience)).items():
        lines.append("")
        lines.append(f"-- {printable(exercise)} " + "-" * max(0, WIDTH - 4 - len(printable(exercise))))
        for view in views:
            lines += part_lines(view)
    lines.append("")
    lines.append("=" * WIDTH)
    lines.append(f"Total: {fmt_points(result.points_earned, result.points_possible)} points ({score_note(result)})")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _by_exercise(views: list[PartView]) -> dict[str, list[PartView]]:
    grouped: dict[str, list[PartView]] = {}
    for view in views:
        grouped.setdefault(view.part.exercise_id, []).append(view)
    return grouped


def summary_table(results: Sequence[Result]) -> list[str]:
    """Rows ``student  submission  total  score  status`` aligned in columns, then :data:`TOTALS_NOTE`, in 100
    columns: long ids are cut at the end, long file names in the middle (``mistake-flipped...ex3-b_pool.yaml``),
    keeping the end that tells similar names apart; the status is never cut."""
    header = ("student", "submission", "total", "score", "status")
    rows = [
        (
            printable(r.student_id or "?").replace("\n", " "),
            printable(r.submission or "?").replace("\n", " "),
            fmt_points(r.points_earned, r.points_possible),
            fmt_percent(r.score),
            batch_status(r),
        )
        for r in results
    ]
    status = max(len(row[4]) for row in [header, *rows])  # the status is never cut short
    limits = (16, max(12, min(36, WIDTH - 8 - 16 - 9 - 7 - status)), 9, 7)  # the file name gets what is left
    widths = [min(limit, max(len(row[i]) for row in [header, *rows])) for i, limit in enumerate(limits)] + [status]
    cut = (_cut, _cut_middle, _cut, _cut, _cut)  # a file name's end tells similar names apart
    out = []
    for row in [header, *rows]:
        cells = [cut[i](cell, widths[i]).ljust(widths[i]) for i, cell in enumerate(row)]
        out.append(_cut("  ".join(cells).rstrip(), WIDTH))
    out.insert(1, "  ".join("-" * w for w in widths))
    return [*out, "", TOTALS_NOTE]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _cut_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters: its start and its end around ``...``."""
    if len(text) <= width:
        return text
    tail = (width - 3) // 2
    return text[: width - 3 - tail] + "..." + text[len(text) - tail :]


def render_text_many(results: Sequence[Result], audience: Audience = "student") -> str:
    """A batch: the summary table, then every report."""
    audience = check_audience(audience)
    parts = ["\n".join(summary_table(results)) + "\n"]
    parts += [render_text(r, audience) for r in results]
    return "\n\n".join(parts)
