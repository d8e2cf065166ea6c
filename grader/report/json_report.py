"""The stable JSON form of a Result: ``{"format": "grader-result", "version": 1, "audience": ..., "result": {...}}``.

The ``result`` object is ``Result.model_dump(mode="json")`` (fields in declaration order, computed fields
``key``/``points_earned``/``points_possible``/``score`` included for readers); ``parse_json_report`` turns it
back into the Result. Documented field by field in docs/report-formats.md.
"""

from __future__ import annotations

import json
from typing import Any

from grader.report.common import Audience, check_audience, hidden_kind, shown_status
from grader.result import CaseResult, Result, Visibility

FORMAT_NAME = "grader-result"
FORMAT_VERSION = 1

_COMPUTED_RESULT_FIELDS = ("points_earned", "points_possible", "score")
_COMPUTED_PART_FIELDS = ("key",)


def redact_for_student(result: Result) -> Result:
    """The Result as a student may see it: hidden parts keep only their points, the student's own answer
    (``actual``, ``answer_text``), why it could not be read (``answer_error``: never from the key) and a status
    that says only passed / not passed / pending (``correct`` / ``incorrect`` / ``pending``: a partly correct,
    missing, invalid or error status becomes ``incorrect``); their feedback, known mistake, follow-through source
    (``followed``), annotations and case texts go. Hidden cases keep only pass/fail (named ``hidden case <n>``,
    1-based) and, in a visible part, how a failed one failed (its kind, as the other formats show it). Everything
    else of visible parts is unchanged. Idempotent; ``audience="instructor"`` output is never redacted."""
    parts = []
    for part in result.parts:
        if part.visibility is Visibility.hidden:
            cases = [_bare_case(c, i) for i, c in enumerate(part.cases)]
            part = part.model_copy(update={"status": shown_status(part, "student"), "feedback": "", "mistake": None,
                                           "followed": None, "annotations": {}, "cases": cases})
        else:
            cases = [_bare_case(c, i, hidden_kind(c)) if c.visibility is Visibility.hidden else c for i, c in enumerate(part.cases)]
            part = part.model_copy(update={"cases": cases})
        parts.append(part)
    return result.model_copy(update={"parts": parts})


def _bare_case(case: CaseResult, index: int, kind: str = "") -> CaseResult:
    """A hidden case as a student may see it: whether it passed and ``kind``, how it failed (its name may describe
    its inputs)."""
    return CaseResult(name=f"hidden case {index + 1}", visibility=Visibility.hidden, passed=case.passed,
                      fraction=case.fraction, feedback=kind)


def to_json_data(result: Result, audience: Audience = "student") -> dict[str, Any]:
    """The envelope as Python data (what ``render_json`` serializes)."""
    audience = check_audience(audience)
    shown = result if audience == "instructor" else redact_for_student(result)
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "audience": audience,
        "result": shown.model_dump(mode="json"),
    }


def render_json(result: Result, audience: Audience = "student") -> str:
    """Indented JSON, ASCII only (any character a student typed survives as an escape), ending in a newline.
    Non-finite floats in answers become ``null`` (pydantic's JSON mode), so producers should carry them as
    the strings ``"nan"``/``"inf"``/``"-inf"``."""
    return json.dumps(to_json_data(result, audience), indent=2, ensure_ascii=True, allow_nan=False) + "\n"


def parse_json_report(text: str) -> Result:
    """The Result back from ``render_json`` output (computed fields dropped, then validated).

    Raises ValueError naming what is wrong when the text is not a grader-result document of a known version."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise ValueError("not a grader report: its JSON nests too deeply") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise ValueError(f'not a grader report: expected "format": "{FORMAT_NAME}" at the top level')
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(f"grader report version {data.get('version')!r} is not supported (expected {FORMAT_VERSION})")
    payload = dict(data["result"])
    for name in _COMPUTED_RESULT_FIELDS:
        payload.pop(name, None)
    payload["parts"] = [
        {k: v for k, v in part.items() if k not in _COMPUTED_PART_FIELDS} for part in payload.get("parts", [])
    ]
    return Result.model_validate(payload)
