"""What a student reads and fills in: the exercise sheet of their variant (Markdown/HTML) and a blank answer file."""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np

from grader.answers import CodeAnswer
from grader.key import AnswerKey, calls_in
from grader.result import Visibility
from grader.spec.models import ExerciseSpec, PartSpec, SheetSpec


def _number(value: float) -> str:
    """A table entry: 4 significant digits (``grader data`` gives the exact values)."""
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def _exact(value: float) -> str:
    """A single number as the key uses it (12 significant digits, far inside every tolerance)."""
    return str(int(value)) if float(value).is_integer() else f"{value:.12g}"


EXACT_NOTE = (
    "Tables show 4 significant digits; compute with the exact inputs of your variant, which "
    "`grader data SHEET --seed SEED` prints as JSON (without --seed for the sheet's own numbers)."
)


def variant_data(key: AnswerKey) -> dict[str, object]:
    """The inputs a student's sheet shows, exactly (JSON numbers round-trip float64): ``{"sheet", "seed",
    "inputs": {exercise id: {input name: number or nested lists}}}``. Inputs the sheet does not show are left out."""
    inputs: dict[str, dict[str, object]] = {}
    for exercise in key.sheet.spec.exercises:
        shown = {name: key.inputs[exercise.id][name].tolist() for name, spec in exercise.inputs.items() if spec.show}
        if shown:
            inputs[exercise.id] = shown
    return {"sheet": key.sheet.spec.id, "seed": key.seed, "inputs": inputs}


HIDDEN_NOTE = "hidden: graded after submission, the report says only whether it passed"
"""How the sheet and the answer-file template mark a hidden part."""


def _grids(value: np.ndarray, conv_filters: bool = False, image: bool = True) -> list[tuple[str, np.ndarray]]:
    """An input as 2-D grids with captions: (H, W) as is; (H, W, C) one grid per channel (``image``; else per slice
    along the last axis: a conv1d filter bank's (f, C, K) has no channels there);
    (K, f, f) per plane; (f, f, C, K) one grid per filter and channel (``conv_filters``: the input is conv2d's w),
    any other 4-D array one per [:, :, i, j].

    Captions count 1-based as the printed sheets do ("output with filter 1") and name the 0-based index that
    answers and ``grader data`` use, as reports do: ``channel 1 of 3 ([:, :, 0])``."""
    if value.ndim <= 1:
        return [("", value.reshape(1, -1))]
    if value.ndim == 2:
        return [("", value)]
    if value.ndim == 3 and value.shape[0] < value.shape[-1]:
        planes = value.shape[0]
        return [(f"slice {i + 1} of {planes} ([{i}, :, :])", value[i]) for i in range(planes)]
    if value.ndim == 3:
        channels = value.shape[-1]
        word = "channel" if image else "slice"
        return [(f"{word} {c + 1} of {channels} ([:, :, {c}])", value[:, :, c]) for c in range(channels)]
    if value.ndim == 4:
        channels, filters = value.shape[2], value.shape[3]
        if conv_filters:
            return [
                (f"filter {k + 1} of {filters}, channel {c + 1} of {channels} ([:, :, {c}, {k}])", value[:, :, c, k])
                for k in range(filters) for c in range(channels)
            ]
        pairs = [(i, j) for i in range(channels) for j in range(filters)]
        return [(f"slice {n + 1} of {len(pairs)} ([:, :, {i}, {j}])", value[:, :, i, j]) for n, (i, j) in enumerate(pairs)]
    return []


_FILTER_BANK_ARGUMENTS = {"conv1d": "w"}
"""The argument of each op that takes a filter bank whose last axis is its filters, not channels: conv1d's w
(f, C, K)."""


def _filter_banks_in(expression: Any) -> set[str]:
    """The names an expression passes ($name) as an op's filter bank (:data:`_FILTER_BANK_ARGUMENTS`)."""
    names = set()
    for op, arguments in calls_in(expression):
        argument = arguments.get(_FILTER_BANK_ARGUMENTS.get(op, ""))
        if isinstance(argument, str) and argument.startswith("$"):
            names.add(argument[1:])
    return names


def _filter_bank_inputs(exercise: ExerciseSpec) -> set[str]:
    """The inputs the exercise passes as a conv1d filter bank: to an op of its quantities, parts' keys or known
    mistakes, or as a code case's argument that the part's key passes as one. Their 3-D slices are captioned by
    slice, not channel (every other 3-D input is taken for an image (H, W, C), whatever ops it goes through)."""
    banks = _filter_banks_in(list(exercise.quantities.values()))
    for part in exercise.parts:
        banks |= _filter_banks_in([part.expected, *(mistake.expected for mistake in part.mistakes)])
        if isinstance(part.answer, CodeAnswer):
            parameters = _filter_banks_in(part.expected)
            for case in part.answer.cases:
                banks |= {raw[1:] for name, raw in case.inputs.items() if name in parameters and isinstance(raw, str) and raw.startswith("$")}
    return banks


def _conv_filter_inputs(exercise: ExerciseSpec) -> set[str]:
    """The inputs the exercise's quantities pass as conv2d's filters ``w`` ($name), to caption their slices by filter
    and channel."""
    return {
        arguments["w"][1:] for op, arguments in calls_in(list(exercise.quantities.values()))
        if op == "conv2d" and isinstance(arguments.get("w"), str) and arguments["w"].startswith("$")
    }


_ARRAY_EXAMPLE = re.compile(r"a nested list of numbers(?P<layout>.*?), first index outermost, e\.g\. \[\[1, 2\], \[3, 4\]\]")
"""The generic rank-2 example of the array answer's format hint, replaced by one of the key's own shape."""


def _nested_example(shape: tuple[int, ...]) -> str:
    """A nested list of the given shape with entries 1, 2, 3, ...: an axis longer than 2 (the last: 4) shows its
    first entries and ``...``."""
    counter = iter(range(1, 10**6))

    def level(axis: int) -> str:
        if axis == len(shape) - 1:
            shown = shape[axis] if shape[axis] <= 4 else 3
            items = [str(next(counter)) for _ in range(shown)]
            return "[" + ", ".join(items + (["..."] if shown < shape[axis] else [])) + "]"
        shown = min(shape[axis], 2)
        items = [level(axis + 1) for _ in range(shown)]
        return "[" + ", ".join(items + (["..."] if shown < shape[axis] else [])) + "]"

    return level(0)


def _hint(key: AnswerKey, exercise_id: str, part: PartSpec) -> str:
    """The part's answer format; for an array of a visible part, with an example of its key's own shape instead of a
    generic one. A hidden part keeps the generic one: its key's shape can be (or give away) a hidden answer, such as
    an output width."""
    hint = part.answer.format_hint
    if part.answer.type != "array" or part.visibility is Visibility.hidden:
        return hint
    shape = tuple(np.shape(key.part(exercise_id, part.id).expected))
    match = _ARRAY_EXAMPLE.search(hint)
    if match is None:
        return hint
    layout = match["layout"]
    if not shape:
        text = f"a single number{layout}, e.g. 0.5"
    elif len(shape) == 1:
        text = f"a list of {shape[0]} number{'s' if shape[0] != 1 else ''}{layout}, e.g. {_nested_example(shape)}"
    else:
        sizes = "x".join(str(n) for n in shape)
        text = f"a nested list of numbers{layout} of shape {sizes}, first index outermost, e.g. {_nested_example(shape)}"
    return hint[: match.start()] + text + hint[match.end() :]


def _markdown_grid(grid: np.ndarray) -> str:
    header = "| " + " | ".join(" " for _ in range(grid.shape[1])) + " |"
    rule = "|" + "|".join("---" for _ in range(grid.shape[1])) + "|"
    rows = ["| " + " | ".join(_number(v) for v in row) + " |" for row in grid]
    return "\n".join([header, rule, *rows])


def _input_markdown(name: str, description: str, value: np.ndarray, conv_filters: bool = False, image: bool = True) -> str:
    label = description or name
    if value.ndim == 0:
        return f"- {label}: **{_exact(float(value))}**"
    grids = _grids(value, conv_filters, image)
    if not grids or value.size > 400:
        return f"- {label}: an array of shape {value.shape} (its values: `grader data`, see above)"
    parts = [f"**{label}**"]
    for caption, grid in grids:  # each grid's caption above it, where a reader going down the page meets it first
        parts.append((f"\n*{label.split(' (')[0]} {caption}*\n" if caption else "") + f"\n{_markdown_grid(grid)}\n")
    return "\n".join(parts)


def _points(part: PartSpec) -> str:
    return f"{_number(part.points)} point{'s' if part.points != 1 else ''}"


def _points_and_visibility(part: PartSpec) -> str:
    """``2 points``, or ``2 points; hidden: graded after submission, ...`` for a hidden part."""
    return f"{_points(part)}; {HIDDEN_NOTE}" if part.visibility is Visibility.hidden else _points(part)


def _answer_line(key: AnswerKey, exercise_id: str, part: PartSpec) -> str:
    """How to write the answer, and which earlier answers it may follow through from."""
    hint = _hint(key, exercise_id, part)
    if isinstance(part.answer, CodeAnswer) and key.seed is not None:
        hint += (
            ". Its cases use the sheet's own numbers (grader sheet without --seed), not this variant's: the feedback "
            "on a visible case shows those"
        )
    for entry in part.follow_through:
        share = "its points" if entry.credit >= 1.0 else f"{entry.credit:g} of its points"
        hint += f". If your {entry.part} is wrong, an answer right for your own {entry.part} still earns {share}"
    return hint


def sheet_markdown(key: AnswerKey) -> str:
    """The sheet for the key's variant, in Markdown: statement, the variant's inputs as tables, prompts, points."""
    spec = key.sheet.spec
    variant = "the sheet's own numbers" if key.seed is None else f"variant {key.seed}"
    lines = [f"# {spec.title or spec.id}", "", f"*{variant}*", "", f"*{EXACT_NOTE}*", ""]
    for exercise in spec.exercises:
        lines += [f"## {exercise.title or exercise.id}", ""]
        if exercise.text:
            lines += [exercise.text.strip(), ""]
        shown = [(n, s) for n, s in exercise.inputs.items() if s.show]
        filters, banks = _conv_filter_inputs(exercise), _filter_bank_inputs(exercise)
        if shown:
            for name, input_spec in shown:
                value = key.inputs[exercise.id][name]
                lines += [_input_markdown(name, input_spec.description, value, name in filters, name not in banks), ""]
        for part in exercise.parts:
            lines += [f"- **{exercise.id}.{part.id}** ({_points_and_visibility(part)}): {part.prompt.strip()}", "",
                      f"  *Answer: {_answer_line(key, exercise.id, part)}*", ""]
    return "\n".join(lines).rstrip() + "\n"


def _html_grid(grid: np.ndarray) -> str:
    rows = "".join("<tr>" + "".join(f"<td>{_number(v)}</td>" for v in row) + "</tr>" for row in grid)
    return f"<table class='grid'>{rows}</table>"


def sheet_html(key: AnswerKey) -> str:
    """The same sheet as one self-contained HTML page (inline CSS, no scripts)."""
    spec = key.sheet.spec
    esc = html.escape
    variant = "the sheet's own numbers" if key.seed is None else f"variant {key.seed}"
    body = [f"<h1>{esc(spec.title or spec.id)}</h1>", f"<p><em>{esc(variant)}</em></p>", f"<p><em>{esc(EXACT_NOTE)}</em></p>"]
    for exercise in spec.exercises:
        body.append(f"<h2>{esc(exercise.title or exercise.id)}</h2>")
        if exercise.text:
            body.append(f"<pre class='text'>{esc(exercise.text.strip())}</pre>")
        filters, banks = _conv_filter_inputs(exercise), _filter_bank_inputs(exercise)
        for name, input_spec in exercise.inputs.items():
            if not input_spec.show:
                continue
            value = key.inputs[exercise.id][name]
            label = esc(input_spec.description or name)
            if value.ndim == 0:
                body.append(f"<p>{label}: <strong>{_exact(float(value))}</strong></p>")
                continue
            figures = "".join(
                f"<figure>{_html_grid(grid)}<figcaption>{label} {esc(caption)}</figcaption></figure>"
                for caption, grid in _grids(value, name in filters, name not in banks)
            )
            body.append(f"<div class='inputs'>{figures}</div>" if value.size <= 400 else f"<p>{label}: an array of shape {value.shape} (its values: <code>grader data</code>, see above)</p>")
        items = "".join(
            f"<li><strong>{esc(exercise.id)}.{esc(part.id)}</strong> ({esc(_points_and_visibility(part))}): "
            f"{esc(part.prompt.strip())}<br><em>Answer: {esc(_answer_line(key, exercise.id, part))}</em></li>"
            for part in exercise.parts
        )
        body.append(f"<ol class='parts'>{items}</ol>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:auto;padding:1rem;line-height:1.4}"
        ".grid{border-collapse:collapse;margin:.3rem}.grid td{border:1px solid #999;padding:.2rem .5rem;text-align:center}"
        "figure{display:inline-block;margin:.5rem}figcaption{font-style:italic;text-align:center}"
        "pre.text{white-space:pre-wrap;font-family:inherit}.parts li{margin:.4rem 0}"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(spec.title or spec.id)}</title><style>{style}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )


def _comment(text: str, indent: str) -> list[str]:
    return [f"{indent}# {line}".rstrip() for line in text.strip().splitlines()]


def spec_parts(spec: SheetSpec) -> list[tuple[ExerciseSpec, PartSpec]]:
    return [(exercise, part) for exercise in spec.exercises for part in exercise.parts]


def answer_template(key: AnswerKey) -> str:
    """A blank answer file: each part's prompt and answer format as comments, the answers left empty."""
    spec = key.sheet.spec
    lines = [
        f"# Answer file for {spec.title or spec.id}",
        "# Fill in each answer after its colon; leave it empty if you skip a part.",
        'student: ""  # your student id',
    ]
    lines.append(f"seed: {key.seed}  # your variant: keep it as it is" if key.seed is not None else "# seed: N  (only if you were given a variant)")
    code = [(e, p) for e, p in spec_parts(spec) if p.answer.type == "code"]
    if code:
        lines.append("# Code parts are handed in as one .py or .ipynb file (put STUDENT = \"your id\" in it), defining:")
        lines += [f"#   {p.answer.function}()  ({e.id}.{p.id}, {_points_and_visibility(p)})" for e, p in code]  # type: ignore[attr-defined]
    lines.append("answers:")
    for exercise in spec.exercises:
        answerable = [p for p in exercise.parts if p.answer.type != "code"]
        if not answerable:
            continue
        lines.append(f"  {exercise.id}:  # {exercise.title}")
        for part in answerable:
            lines += _comment(f"{part.prompt.strip()} ({_points(part)})", "    ")
            if part.visibility is Visibility.hidden:
                lines += _comment(HIDDEN_NOTE, "    ")
            lines += _comment(f"format: {_hint(key, exercise.id, part)}", "    ")
            lines.append(f"    {part.id}:")
    return "\n".join(lines) + "\n"


