"""GitHub-flavoured Markdown report of one Result (also appended to GITHUB_STEP_SUMMARY by the CLI)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from grader.report.common import (
    FOLLOWED_PREFIX,
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
    score_note,
    title_of,
    value_lines,
    view_parts,
)
from grader.result import PartResult, Result

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_BLOCK_START = re.compile(r"^(\s*)([-+#>=]|\d+[.)])")


def md_text(text: str) -> str:
    """Student text safe inside Markdown prose or a table cell: HTML characters as entities, Markdown
    punctuation backslash-escaped, line breaks as spaces (a table row is one line)."""
    text = printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # A line starting like a list item, heading or quote would turn into one.
    return " ".join(_BLOCK_START.sub(r"\1\\\2", line) for line in text.split("\n"))


def md_code_span(text: str) -> str:
    """Student text as an inline code span: shown literally (no escapes or entities to decode), delimited by more
    backticks than any run inside it, on one line."""
    text = printable(text).replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def icon(view: PartView) -> str:
    """A status glyph for skimming: correct/passed, partly correct, pending, anything else."""
    if view.passed is None:
        return "⏳"
    if view.passed:
        return "✅"
    return "🟡" if view.status_word == "partly correct" else "❌"


def code_block(lines: list[str]) -> list[str]:
    """Lines in a fenced block whose fence is longer than any run of backticks inside (so it cannot be closed
    early by what a student typed)."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", *lines, fence]


def _value(title: str, value: Any, part: PartResult, marks_key: str | None, digits: int) -> list[str]:
    lines = [f"**{title}**", ""]
    lines += code_block(value_lines(value, part, marks_key, digits))
    return lines + [""]


def part_section(view: PartView) -> list[str]:
    lines = [f"#### {icon(view)} {md_text(view.heading)}", "", f"**{view.points}** points, {view.status_word}.", ""]
    if view.feedback:
        lines += [md_text(view.feedback), ""]
    if view.details:
        lines += ["Where it differs:", ""] + [f"- {md_text(d)}" for d in view.details] + [""]
    if view.mistake:
        lines += [f"Known mistake matched: {md_code_span(view.mistake)}", ""]
    if view.followed:
        lines += [f"{FOLLOWED_PREFIX} {md_code_span(view.followed)}", ""]
    marks = False
    if view.show_answer:
        lines += _value(view.answer_label, view.your_answer, view.part, view.actual_marks_key, view.digits)
        marks |= view.actual_marks_key is not None
    if view.expected_shown is not None:
        lines += _value("Expected", view.expected_shown, view.part, "expected_winners", view.digits)
        marks |= "expected_winners" in view.annotations
    if marks:
        lines += ["`*` marks the winner of each max-pooling window.", ""]
    if view.cases or view.hidden_cases:
        lines += ["| case | inputs | result | feedback |", "| --- | --- | --- | --- |"]
        for case in view.cases:
            said = "; ".join(md_text(t) for t in [case.remark, *case.details] if t)
            lines.append(f"| {md_text(case.name)} | {md_text(case.inputs)} | {case.result_word} | {said} |")
        lines.append("")
        if view.hidden_cases:
            lines += [md_text(view.hidden_cases[0].upper() + view.hidden_cases[1:]) + ".", ""]
    return lines


def render_md(result: Result, audience: Audience = "student") -> str:
    """A summary table (part, points, status) then a section per part."""
    audience = check_audience(audience)
    views = view_parts(result, audience)
    lines = [f"## {md_text(title_of(result))}", ""]
    facts = [f"sheet {md_code_span(result.sheet_id)}"]
    if result.submission:
        facts.append(f"submission {md_code_span(result.submission)}")
    if result.seed is not None:
        facts.append(f"variant (seed) {result.seed}")
    lines += [", ".join(facts), ""]
    if result.error:
        lines += ["> [!CAUTION]", "> **This submission could not be graded.**", f"> {md_text(result.error)}", ""]
    lines += [f"**Total: {fmt_points(result.points_earned, result.points_possible)} points "
              f"({score_note(result)})**. {md_text(headline(result, audience))}", ""]
    notes = note_lines(result)
    if notes:
        lines += ["> [!NOTE]", f"> **{NOTES_TITLE}:**", ">"] + [f"> - {md_text(note)}" for note in notes] + [""]
    if audience == "instructor" and result.sandbox_layers:
        layers = ", ".join(f"{md_text(n)} {'on' if on else '**off**'}" for n, on in result.sandbox_layers.items())
        lines += [f"Sandbox layers: {layers}", ""]
    if views:
        lines += ["| part | points | status |", "| --- | ---: | --- |"]
        for view in views:
            lines.append(f"| {md_text(view.heading)} | {view.points} | {icon(view)} "
                         f"{view.status_word} |")
        lines += ["", "<details open><summary>Details per part</summary>", ""]
        for view in views:
            lines += part_section(view)
        lines += ["</details>", ""]
    return "\n".join(lines)


def render_md_summary(results: Iterable[Result]) -> str:
    """A batch's table: one row per submission (student, file, total, score, status), no per-part detail."""
    rows = [
        f"| {md_text(r.student_id or '?')} | {md_text(r.submission or '?')} | "
        f"{fmt_points(r.points_earned, r.points_possible)} | {fmt_percent(r.score)} | {md_text(batch_status(r))} |"
        for r in results
    ]
    if not rows:  # a batch that found everything unchanged: no table of nothing
        return "## Batch summary\n\nNo submission was graded in this run.\n"
    lines = ["## Batch summary", "", "| student | submission | total | score | status |", "| --- | --- | ---: | ---: | --- |"]
    return "\n".join([*lines, *rows, "", md_text(TOTALS_NOTE)]) + "\n"


def render_md_many(results: Sequence[Result], audience: Audience = "student") -> str:
    """A batch: the summary table, then every report."""
    audience = check_audience(audience)
    return render_md_summary(results) + "\n" + "\n".join(render_md(r, audience) for r in results)
