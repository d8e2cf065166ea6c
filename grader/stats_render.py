"""Render cohort statistics (``grader.stats.SheetStats``) as plain text or one self-contained HTML page.

The HTML page has no external assets: inline CSS, an inline SVG histogram of total scores and an inline SVG
bar chart of the known mistakes (one bar per part and mistake). Every string from the gradebook is escaped.
Both renderers are pure functions of the statistics.
"""

from __future__ import annotations

from html import escape

from grader.stats import PartStats, SheetStats

_BAR_WIDTH = 40
"""Characters of the longest bar in the text histogram."""

_FOLLOW_THROUGH_HEADING = "Credited by follow-through (submissions judged by their own answer to the earlier part)"


def _percent(value: float) -> str:
    """``87.5%``; a share below 1 never shows as ``100.0%`` (1999 of 2000 full marks is ``>99.9%``), nor one above 0
    as ``0.0%``."""
    text = f"{100 * value:.1f}%"
    if text == "100.0%" and value < 1:
        return ">99.9%"
    if text == "0.0%" and value > 0:
        return "<0.1%"
    return text


def _discrimination(part: PartStats) -> str:
    """``+0.42``; a correlation that rounds to 0 is ``+0.00``, never ``-0.00``."""
    if part.discrimination is None:
        return "n/a"
    shown = f"{part.discrimination:+.2f}"
    return "+0.00" if shown == "-0.00" else shown


def _points(value: float) -> str:
    return f"{value:g}"


def _share(part: PartStats, value: float) -> str:
    """A part's mean, spread or share of full marks as a percentage; ``n/a`` when no file graded the part."""
    return _percent(value) if part.n else "n/a"


def _count(n: int, noun: str) -> str:
    """``1 submission``, ``2 submissions``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _students_note(stats: SheetStats) -> str:
    """Why the totals count fewer students than there are submissions (shown only then)."""
    students = stats.totals.students
    return (
        f"Totals are over {students} student{'' if students == 1 else 's'}: each student's files add up (answer and "
        "code parts), and of two files grading the same part the one graded last counts."
    )


def render_stats_text(stats: SheetStats) -> str:
    """A plain-text report: totals, a histogram of total scores, a table of parts and the mistakes per part."""
    totals = stats.totals
    title = f"{stats.sheet_id}: {stats.sheet_title}" if stats.sheet_title else stats.sheet_id
    lines = [
        f"Statistics of {title} -- {_count(totals.n, 'submission')}"
        + (f" ({totals.unreadable} could not be graded)" if totals.unreadable else "")
        + (f"; {totals.grader_failures} more left out: the grader failed on them (run batch again)" if totals.grader_failures else ""),
    ]
    if len(stats.spec_hashes) > 1:
        lines.append(
            f"warning: graded against {len(stats.spec_hashes)} versions of the spec; regrade for comparable numbers"
        )
    if totals.students != totals.n:
        lines.append(_students_note(stats))
    lines += [
        "",
        f"Total score per student: mean {_percent(totals.mean)}, sd {_percent(totals.sd)}, "
        f"median {_percent(totals.median)}, min {_percent(totals.minimum)}, max {_percent(totals.maximum)} "
        f"(mean {totals.mean_points:.2f} of {_points(totals.points_possible)} points)",
        "",
    ]
    biggest = max((b.count for b in totals.histogram), default=0)
    for index, bin_ in enumerate(totals.histogram):
        closing = "]" if index == len(totals.histogram) - 1 else ")"
        bar = "#" * (round(_BAR_WIDTH * bin_.count / biggest) if biggest else 0)
        lines.append(f"  [{100 * bin_.low:3.0f}%, {100 * bin_.high:3.0f}%{closing} {bin_.count:6d} {bar}")

    key_width = max([len("part"), *(len(p.key) for p in stats.parts)])
    lines += [
        "",
        f"{'part':<{key_width}}  {'points':>6}  {'n':>6}  {'mean':>6}  {'sd':>6}  {'full':>6}  {'discr.':>6}",
    ]
    notes: list[str] = []
    for part in stats.parts:
        lines.append(
            f"{part.key:<{key_width}}  {_points(part.points_possible):>6}  {part.n:>6}  {_share(part, part.mean):>6}  "
            f"{_share(part, part.sd):>6}  {_share(part, part.full_marks):>6}  {_discrimination(part):>6}"
        )
        if part.discrimination_note:
            notes.append(f"  {part.key}: discrimination {part.discrimination_note}")
    lines.append(
        "(mean, sd: of the part's fraction of points; full: share with full marks; "
        "discr.: correlation with the rest of the student's total)"
    )
    if notes:
        lines += ["", "Notes:", *notes]

    mistake_lines = [
        f"  {part.key:<{key_width}}  {mistake.mistake_id}: {mistake.count} ({_percent(mistake.share)})"
        for part in stats.parts
        for mistake in part.mistakes
    ]
    lines += ["", "Known mistakes (submissions matching each):", *(mistake_lines or ["  none recorded"])]
    followed_lines = [
        f"  {part.key:<{key_width}}  from {followed.source}: {followed.count} ({_percent(followed.share)})"
        for part in stats.parts
        for followed in part.followed
    ]
    if followed_lines:  # only for sheets with follow_through
        lines += ["", f"{_FOLLOW_THROUGH_HEADING}:", *followed_lines]
    lines += [f"  {note}" for note in _unrecorded_notes(stats)]
    return "\n".join(lines) + "\n"


def _unrecorded_notes(stats: SheetStats) -> list[str]:
    """Per part that follows others: how many of its submissions an older grader graded without recording what
    they followed (those are not counted above)."""
    return [
        f"{part.key}: {_count(part.followed_unrecorded, 'submission')} graded before follow-through credit was "
        "recorded are not counted; run grader batch again to record it"
        for part in stats.parts
        if part.followed_unrecorded
    ]


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:1rem;max-width:60rem;
line-height:1.4;color:#222;background:#fff}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:1.8rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
svg{width:100%;height:auto;max-width:48rem;display:block}
.note,.warning{font-size:.9rem;color:#555}.warning{color:#a33}
"""


def _histogram_svg(stats: SheetStats) -> str:
    bins = stats.totals.histogram
    width, height, left, bottom, top = 600, 260, 44, 40, 16
    plot_width, plot_height = width - left - 10, height - bottom - top
    biggest = max((b.count for b in bins), default=0) or 1
    slot = plot_width / max(len(bins), 1)
    shapes = [
        f'<line x1="{left}" y1="{top + plot_height}" x2="{left + plot_width}" y2="{top + plot_height}" stroke="#444"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="12">{biggest}</text>',
        f'<text x="{left - 6}" y="{top + plot_height}" text-anchor="end" font-size="12">0</text>',
    ]
    for index, bin_ in enumerate(bins):
        bar_height = plot_height * bin_.count / biggest
        x = left + index * slot
        closing = "]" if index == len(bins) - 1 else ")"
        label = f"[{100 * bin_.low:.0f}%, {100 * bin_.high:.0f}%{closing}: {_count(bin_.count, 'student')}"
        shapes.append(
            f'<rect x="{x + 2:.1f}" y="{top + plot_height - bar_height:.1f}" width="{slot - 4:.1f}" '
            f'height="{bar_height:.1f}" fill="#4a7fb5"><title>{escape(label)}</title></rect>'
        )
        shapes.append(
            f'<text x="{x + slot / 2:.1f}" y="{top + plot_height + 16}" text-anchor="middle" font-size="12">'
            f"{100 * bin_.low:.0f}</text>"
        )
    shapes.append(
        f'<text x="{left + plot_width / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="12">'
        "total score per student (%, bin start)</text>"
    )
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="histogram of total scores per student" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(shapes)}</svg>'
    )


def _mistakes_svg(stats: SheetStats) -> str:
    bars = [(f"{part.key} · {m.mistake_id}", m.count, m.share) for part in stats.parts for m in part.mistakes]
    if not bars:
        return '<p class="note">No known mistakes recorded.</p>'
    label_width, bar_space, row, width = 300, 260, 24, 640
    height = row * len(bars) + 10
    biggest = max(count for _, count, _ in bars) or 1
    shapes = []
    for index, (label, count, share) in enumerate(bars):
        y = 5 + index * row
        bar_width = bar_space * count / biggest
        shapes.append(
            f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end" font-size="13">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{bar_width:.1f}" height="{row - 8}" fill="#c2573a">'
            f"<title>{escape(label)}: {count} ({_percent(share)})</title></rect>"
            f'<text x="{label_width + bar_width + 6:.1f}" y="{y + 16}" font-size="13">{count} ({_percent(share)})</text>'
        )
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="known mistakes per part" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(shapes)}</svg>'
    )


def _follow_through_html(stats: SheetStats) -> str:
    """A table of the follow-through credit per part and earlier part; empty for a sheet without follow_through."""
    rows = [
        f"<tr><td>{escape(part.key)}</td><td>{escape(followed.source)}</td><td>{followed.count}</td>"
        f"<td>{_percent(followed.share)}</td></tr>"
        for part in stats.parts
        for followed in part.followed
    ]
    if not rows:
        return ""
    notes = "".join(f'<p class="warning">{escape(note)}.</p>\n' for note in _unrecorded_notes(stats))
    return (
        f"<h2>Follow-through</h2>\n<p class=\"note\">{escape(_FOLLOW_THROUGH_HEADING)}.</p>\n<div class=\"scroll\"><table>\n"
        "<thead><tr><th>part</th><th>earlier part</th><th>submissions</th><th>share</th></tr></thead>\n"
        f"<tbody>\n{''.join(rows)}\n</tbody></table></div>\n{notes}"
    )


def render_stats_html(stats: SheetStats) -> str:
    """One self-contained HTML page (inline CSS and SVG, no scripts, no external assets), readable on a phone."""
    totals = stats.totals
    title = f"{stats.sheet_id}: {stats.sheet_title}" if stats.sheet_title else stats.sheet_id
    rows = []
    for part in stats.parts:
        discrimination = (
            f'<abbr title="{escape(part.discrimination_note)}">n/a</abbr>'
            if part.discrimination is None
            else escape(_discrimination(part))
        )
        statuses = ", ".join(f"{escape(status)} {count}" for status, count in part.status_counts.items())
        rows.append(
            f"<tr><td>{escape(part.key)}</td><td>{escape(_points(part.points_possible))}</td><td>{part.n}</td>"
            f"<td>{_share(part, part.mean)}</td><td>{_share(part, part.sd)}</td><td>{_share(part, part.full_marks)}</td>"
            f"<td>{discrimination}</td><td>{statuses}</td></tr>"
        )
    notes = [
        f"<li>{escape(part.key)}: discrimination {escape(part.discrimination_note)}</li>"
        for part in stats.parts
        if part.discrimination_note
    ]
    warning = (
        f'<p class="warning">Graded against {len(stats.spec_hashes)} versions of the spec; regrade for comparable '
        "numbers.</p>"
        if len(stats.spec_hashes) > 1
        else ""
    )
    unreadable = f" ({totals.unreadable} could not be graded)" if totals.unreadable else ""
    if totals.grader_failures:
        unreadable += f"; {totals.grader_failures} more left out: the grader failed on them (run batch again)"
    students = f" {escape(_students_note(stats))}" if totals.students != totals.n else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Statistics: {escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Statistics: {escape(title)}</h1>
<p>{_count(totals.n, 'submission')}{escape(unreadable)}.{students}
Total score per student: mean {_percent(totals.mean)}, sd {_percent(totals.sd)},
median {_percent(totals.median)}, min {_percent(totals.minimum)}, max {_percent(totals.maximum)}
(mean {totals.mean_points:.2f} of {escape(_points(totals.points_possible))} points).</p>
{warning}
<h2>Total scores per student</h2>
{_histogram_svg(stats)}
<h2>Parts</h2>
<div class="scroll"><table>
<thead><tr><th>part</th><th>points</th><th>n</th><th>mean</th><th>sd</th><th>full marks</th><th>discrimination</th>
<th>statuses</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody>
</table></div>
<p class="note">mean, sd: of the part's fraction of its points (sd: population); full marks: share of submissions
with all the part's points; discrimination: Pearson correlation of the part's score with the rest of the student's
total.</p>
{"<ul class='note'>" + "".join(notes) + "</ul>" if notes else ""}
<h2>Known mistakes</h2>
{_mistakes_svg(stats)}
{_follow_through_html(stats)}
</body>
</html>
"""
