"""Reports of a graded submission: pure functions ``Result -> str``, one module per format.

``render(result, fmt, audience=...)`` dispatches on ``fmt`` in ``FORMATS``; ``render_csv(results)`` and
``render_text_many``/``render_md_many`` cover a batch. Reports import only ``grader.result``: they show what a
Result holds and decide nothing about grades.
"""

from __future__ import annotations

from collections.abc import Callable

from grader.report.common import AUDIENCES, Audience, check_audience
from grader.report.csv_report import render_csv
from grader.report.gradescope import render_gradescope
from grader.report.html import render_html
from grader.report.json_report import parse_json_report, redact_for_student, render_json
from grader.report.junit import render_junit
from grader.report.markdown import render_md, render_md_many, render_md_summary
from grader.report.text import render_text, render_text_many
from grader.result import Result

FORMATS: tuple[str, ...] = ("text", "md", "json", "html", "junit", "gradescope")

RENDERERS: dict[str, Callable[..., str]] = {
    "text": render_text,
    "md": render_md,
    "json": render_json,
    "html": render_html,
    "junit": render_junit,
    "gradescope": render_gradescope,
}

FILE_SUFFIXES: dict[str, str] = {
    "text": ".txt", "md": ".md", "json": ".json", "html": ".html", "junit": ".xml", "gradescope": ".json",
}
"""A conventional file suffix per format (Gradescope reads its file as ``results/results.json``)."""


def render(result: Result, fmt: str, *, audience: Audience = "student") -> str:
    """The report of one Result in format ``fmt`` (one of FORMATS) for ``audience`` ("student" or "instructor").

    Raises ValueError naming the known formats/audiences when ``fmt`` or ``audience`` is unknown."""
    if fmt not in RENDERERS:
        raise ValueError(f"unknown report format {fmt!r}; known formats: {', '.join(FORMATS)}")
    return RENDERERS[fmt](result, audience=check_audience(audience))


__all__ = [
    "AUDIENCES",
    "FILE_SUFFIXES",
    "FORMATS",
    "RENDERERS",
    "parse_json_report",
    "redact_for_student",
    "render",
    "render_csv",
    "render_gradescope",
    "render_html",
    "render_json",
    "render_junit",
    "render_md",
    "render_md_many",
    "render_md_summary",
    "render_text",
    "render_text_many",
]
