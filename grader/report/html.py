"""Self-contained HTML report of one Result: inline CSS, no scripts, readable on a phone; numeric 2-D and 3-D
answers drawn as heatmaps (student's beside the key), differing cells outlined, max-pooling winners in bold."""

from __future__ import annotations

import html
import math
from typing import Any

from grader.report.common import (
    FOLLOWED_PREFIX,
    NOTES_TITLE,
    Audience,
    CaseView,
    PartView,
    array_shape,
    as_number,
    channel,
    channel_label,
    check_audience,
    differs,
    flatten,
    fmt_number,
    fmt_points,
    grid_fits,
    headline,
    mask_for,
    note_lines,
    printable,
    score_note,
    title_of,
    value_lines,
    view_parts,
)
from grader.result import PartResult, Result

_CSS = """
:root { --ok: #1a7f37; --part: #9a6700; --bad: #cf222e; --muted: #59636e; --pending: #0969da; --line: #d0d7de; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
  background: #f6f8fa; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.35rem; margin: 0 0 .25rem; overflow-wrap: break-word; }
h2 { font-size: 1.05rem; margin: 0; overflow-wrap: break-word; }
.meta { color: var(--muted); margin: 0 0 .75rem; font-size: .9rem; overflow-wrap: break-word; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .85rem 1rem;
  margin: 0 0 1rem; }
.total { font-size: 1.6rem; font-weight: 700; }
.total small { font-size: 1rem; font-weight: 400; color: var(--muted); }
.alert { border-color: var(--bad); background: #ffebe9; }
.alert strong { color: var(--bad); }
table.summary { width: 100%; border-collapse: collapse; font-size: .95rem; }
table.summary th, table.summary td { text-align: left; padding: .3rem .4rem; border-bottom: 1px solid var(--line);
  vertical-align: top; overflow-wrap: break-word; }
table.summary td.pts, table.summary th.pts { text-align: right; white-space: nowrap; }
.part-head { display: flex; flex-wrap: wrap; gap: .4rem .6rem; align-items: baseline; }
.points { margin-left: auto; font-weight: 700; white-space: nowrap; }
.badge { display: inline-block; border-radius: .7rem; padding: .05rem .6rem; font-size: .8rem; font-weight: 600;
  color: #fff; background: var(--muted); line-height: 1.35; }
.part-head .badge { white-space: nowrap; }
.sub { color: var(--muted); font-size: .85rem; }
.s-correct, .s-passed { background: var(--ok); }
.s-partial { background: var(--part); }
.s-incorrect, .s-invalid, .s-error, .s-not-passed { background: var(--bad); }
.s-missing { background: var(--muted); }
.s-pending { background: var(--pending); }
.part.st-correct, .part.st-passed { border-left: 5px solid var(--ok); }
.part.st-partial { border-left: 5px solid var(--part); }
.part.st-incorrect, .part.st-invalid, .part.st-error, .part.st-not-passed { border-left: 5px solid var(--bad); }
.part.st-missing { border-left: 5px solid var(--muted); }
.part.st-pending { border-left: 5px solid var(--pending); }
.feedback { margin: .5rem 0; overflow-wrap: break-word; }
.details { margin: .25rem 0 .5rem; padding-left: 1.2rem; color: #3d444d; font-size: .92rem;
  overflow-wrap: break-word; }
.mistake { font-size: .9rem; color: var(--muted); }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: .5rem .6rem; margin: .25rem 0;
  overflow-x: auto; font-size: .88rem; white-space: pre; }
.label { font-weight: 600; font-size: .9rem; margin: .6rem 0 .1rem; }
.maps { display: flex; flex-wrap: wrap; gap: .75rem 1.25rem; margin: .35rem 0; }
figure { margin: 0; display: table; }
figcaption { display: table-caption; caption-side: top; font-size: .8rem; line-height: 1.25; color: var(--muted);
  margin-bottom: .2rem; }
figcaption b { color: #1f2328; }
table.heat { border-collapse: separate; border-spacing: 2px; font-variant-numeric: tabular-nums; }
table.heat td { min-width: 2.1rem; height: 2.1rem; padding: 0 .25rem; text-align: center; font-size: .9rem;
  border-radius: 3px; }
table.heat td.diff { outline: 3px solid var(--bad); outline-offset: -3px; }
table.heat td.win { font-weight: 800; text-decoration: underline; }
table.heat td.nonfinite { background: repeating-linear-gradient(45deg, #eee, #eee 4px, #ccc 4px, #ccc 8px); }
.legend { font-size: .8rem; color: var(--muted); margin: .2rem 0 0; }
table.cases { border-collapse: collapse; width: 100%; font-size: .9rem; margin-top: .4rem; }
table.cases th, table.cases td { text-align: left; padding: .25rem .4rem; border-bottom: 1px solid var(--line);
  vertical-align: top; overflow-wrap: break-word; }
.note { color: var(--muted); font-size: .9rem; }
@media (max-width: 30rem) { main { padding: .5rem; } .card { padding: .7rem .75rem; }
  table.heat td { min-width: 1.8rem; height: 1.8rem; font-size: .8rem; } }
"""


def esc(text: Any) -> str:
    """Anything from a Result as HTML text: control characters made visible, markup escaped (quotes too)."""
    return html.escape(printable(str(text)), quote=True)


def _status_class(view: PartView) -> str:
    if view.hidden and view.status_word in ("passed", "not passed"):
        return view.status_word.replace(" ", "-")
    return view.part.status.value


# ---------------------------------------------------------------------------------------------- heatmaps


def _colour(value: float, low: float, high: float) -> tuple[str, str]:
    """Background and text colour of one cell: white to dark blue over [low, high]; with negative values,
    orange below 0 and blue above (0 stays white)."""
    if not math.isfinite(value):
        return "", "#1f2328"
    if low < 0 < high:
        t = value / (high if value > 0 else -low)
        end = (8, 69, 148) if value > 0 else (179, 88, 6)
        t = abs(t)
    else:
        t = 0.0 if high == low else (value - low) / (high - low)
        end = (8, 69, 148)
    start = (247, 251, 255)
    rgb = tuple(round(s + (e - s) * min(max(t, 0.0), 1.0)) for s, e in zip(start, end))
    return f"#{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x}", ("#fff" if t > 0.55 else "#1f2328")


def _heat_table(matrix: list[list[Any]], low: float, high: float, marks: Any, other: list[list[Any]] | None,
                part: PartResult, who: str, label: str, digits: int) -> str:
    rows = []
    for i, row in enumerate(matrix):
        cells = []
        for j, raw in enumerate(row):
            value = as_number(raw)
            number = math.nan if value is None else value
            classes = []
            if not math.isfinite(number):
                classes.append("nonfinite")
            if other is not None:
                reference = as_number(other[i][j])
                if reference is None or differs(number, reference, part):
                    classes.append("diff")
            if marks is not None and marks[i][j] is True:
                classes.append("win")
            background, ink = _colour(number, low, high)
            style = f' style="background:{background};color:{ink}"' if background else ""
            css = f' class="{" ".join(classes)}"' if classes else ""
            text = fmt_number(number, digits) if value is not None else esc(raw)
            cells.append(f"<td{css}{style}>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = f"<b>{esc(who)}</b>" + (f"<br>{esc(label)}" if label else "")
    return (f'<figure><figcaption>{caption}</figcaption><table class="heat">'
            + "".join(rows) + "</table></figure>")


def _heatmaps(view: PartView) -> str | None:
    """Side-by-side heatmaps of the student's answer and the key (per channel for ``(H, W, K)``), or None when
    the answer is not a small numeric 2-D/3-D array."""
    actual, expected = view.your_answer, view.expected_shown
    actual_shape = array_shape(actual) if actual is not None else None
    expected_shape = array_shape(expected) if expected is not None else None
    drawable = [s for s in (actual_shape, expected_shape) if s is not None and len(s) in (2, 3) and grid_fits(s)]
    if not drawable:
        return None
    values = [x for v, s in ((actual, actual_shape), (expected, expected_shape)) if s in drawable for x in flatten(v)]
    finite = [x for x in values if math.isfinite(x)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    same_shape = actual_shape == expected_shape and actual_shape in drawable
    actual_marks = mask_for(view.part, view.actual_marks_key, actual_shape) if view.actual_marks_key else None
    expected_marks = mask_for(view.part, "expected_winners", expected_shape) if "expected_winners" in view.annotations else None

    def planes(value: Any, shape: tuple[int, ...], marks: Any) -> list[tuple[str, list[list[Any]], Any]]:
        if len(shape) == 2:
            return [("", value, marks)]
        return [(channel_label(view.part, k, shape[2]), channel(value, k), channel(marks, k) if marks else None)
                for k in range(shape[2])]

    actual_planes = planes(actual, actual_shape, actual_marks) if actual_shape in drawable else []
    expected_planes = planes(expected, expected_shape, expected_marks) if expected_shape in drawable else []
    groups = []
    count = max(len(actual_planes), len(expected_planes))
    for k in range(count):
        figures = []
        if k < len(actual_planes):
            label, matrix, marks = actual_planes[k]
            other = expected_planes[k][1] if same_shape else None
            figures.append(_heat_table(matrix, low, high, marks, other, view.part, "Your answer", label, view.digits))
        if k < len(expected_planes):
            label, matrix, marks = expected_planes[k]
            figures.append(_heat_table(matrix, low, high, marks, None, view.part, "Expected", label, view.digits))
        groups.append('<div class="maps">' + "".join(figures) + "</div>")
    legend = ["colour: value from " + fmt_number(low) + " to " + fmt_number(high)]
    if same_shape:
        legend.append("red outline: differs from the expected value")
    if actual_marks is not None or expected_marks is not None:
        legend.append("bold underlined: max-pooling winner")
    if actual_shape is not None and expected_shape is not None and actual_shape != expected_shape:
        legend.append(f"shape {actual_shape} but expected {expected_shape}")
    maps = "".join(groups) + f'<p class="legend">{esc("; ".join(legend))}.</p>'
    # An answer that cannot be drawn is printed in its place: the student's first, then the key.
    if view.show_answer and actual_shape not in drawable:
        maps = _pre(view.answer_label, actual, view.part, view.actual_marks_key, view.digits) + maps
    if expected is not None and expected_shape not in drawable:
        maps += _pre("Expected", expected, view.part, "expected_winners", view.digits)
    return maps


def _pre(label: str, value: Any, part: PartResult, marks_key: str | None, digits: int) -> str:
    text = "\n".join(value_lines(value, part, marks_key, digits))
    return f'<p class="label">{esc(label)}</p><pre>{esc(text)}</pre>'


# ---------------------------------------------------------------------------------------------- page


def _part(view: PartView) -> str:
    state = _status_class(view)
    out = [f'<section class="card part st-{state}" id="part-{esc(view.key)}">',
           '<div class="part-head">',
           f'<span class="badge s-{state}">{esc(view.status_word)}</span>',
           f"<h2>{esc(view.heading)}</h2>",
           f'<span class="points">{esc(view.points)}</span></div>']
    if view.hidden and not view.show_actual:
        out.append('<p class="note">A hidden check: only whether it passed is shown.</p>')
    if view.feedback:
        out.append(f'<p class="feedback">{esc(view.feedback)}</p>')
    if view.details:
        out.append('<ul class="details">' + "".join(f"<li>{esc(d)}</li>" for d in view.details) + "</ul>")
    if view.mistake:
        out.append(f'<p class="mistake">Known mistake matched: <code>{esc(view.mistake)}</code></p>')
    if view.followed:
        out.append(f'<p class="mistake">{esc(FOLLOWED_PREFIX)} <code>{esc(view.followed)}</code></p>')
    if view.show_answer:
        maps = _heatmaps(view)
        if maps is not None:
            out.append(maps)
        else:
            out.append(_pre(view.answer_label, view.your_answer, view.part, view.actual_marks_key, view.digits))
            if view.expected_shown is not None:
                out.append(_pre("Expected", view.expected_shown, view.part, "expected_winners", view.digits))
    if view.cases or view.hidden_cases:
        rows = "".join(
            f"<tr><td>{esc(c.name)}</td><td>{esc(c.inputs)}</td>"
            f'<td><span class="badge s-{_case_class(c)}">{esc(c.result_word)}</span></td>'
            f"<td>{'<br>'.join(esc(t) for t in [c.remark, *c.details] if t)}</td></tr>"
            for c in view.cases
        )
        if rows:
            out.append('<table class="cases"><thead><tr><th>case</th><th>inputs</th><th>result</th>'
                       f"<th>feedback</th></tr></thead><tbody>{rows}</tbody></table>")
        if view.hidden_cases:
            out.append(f'<p class="note">{esc(view.hidden_cases[0].upper() + view.hidden_cases[1:])}.</p>')
    out.append("</section>")
    return "\n".join(out)


def _case_class(case: CaseView) -> str:
    """The badge colour of a case: passed, failed, or grey for a case that failed without being wrong (not counted,
    not run)."""
    if case.passed:
        return "passed"
    return "not-passed" if case.label == "FAIL" else "missing"


def _subtitle(view: PartView) -> str:
    title = printable(view.part.title)
    return f"{title} (hidden)" if view.hidden else title


def render_html(result: Result, audience: Audience = "student") -> str:
    """One self-contained HTML page (no scripts, no external assets)."""
    audience = check_audience(audience)
    views = view_parts(result, audience)
    title = title_of(result)
    meta = [f"sheet {result.sheet_id}"]
    if result.submission:
        meta.append(f"submission {result.submission}")
    if result.seed is not None:
        meta.append(f"variant (seed) {result.seed}")
    body = [f"<header><h1>{esc(title)}</h1>", f'<p class="meta">{esc(" · ".join(meta))}</p></header>']
    if result.error:
        body.append('<div class="card alert" role="alert"><strong>This submission could not be graded.</strong>'
                    f"<p>{esc(result.error)}</p></div>")
    body.append('<div class="card"><div class="total">'
                f"{esc(fmt_points(result.points_earned, result.points_possible))} <small>points "
                f"({esc(score_note(result))})</small></div>"
                f"<p>{esc(headline(result, audience))}</p>")
    notes = note_lines(result)
    if notes:
        body.append(f'<div class="notes"><p class="label">{esc(NOTES_TITLE)}</p><ul class="details">'
                    + "".join(f"<li>{esc(note)}</li>" for note in notes) + "</ul></div>")
    if audience == "instructor" and result.sandbox_layers:
        layers = ", ".join(f"{n} {'on' if on else 'OFF'}" for n, on in result.sandbox_layers.items())
        body.append(f'<p class="note">Sandbox layers: {esc(layers)}</p>')
    if views:
        rows = "".join(
            f'<tr><td><a href="#part-{esc(v.key)}">{esc(v.key)}</a>'
            f'<div class="sub">{esc(_subtitle(v))}</div></td>'
            f'<td class="pts">{esc(v.points)}</td>'
            f'<td><span class="badge s-{_status_class(v)}">{esc(v.status_word)}</span></td></tr>'
            for v in views
        )
        body.append('<table class="summary"><thead><tr><th>part</th><th class="pts">points</th><th>status</th>'
                    f"</tr></thead><tbody>{rows}</tbody></table>")
    body.append("</div>")
    body += [_part(v) for v in views]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )
