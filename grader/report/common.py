"""What every report shows of a Result: status words, points, compact arrays, and the one place that decides
what a hidden part may show (``view_part``), so that no single renderer can leak a hidden answer on its own."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from typing import Any, Literal

from grader.notes import CASE_NOT_COUNTED, CASE_NOT_RUN, HIDDEN_CASE_KINDS  # re-exported for the renderers
from grader.result import CaseResult, PartResult, Result, Status, Visibility
from grader.text import one_line, printable  # printable: re-exported for the renderers

Audience = Literal["student", "instructor"]
AUDIENCES: tuple[Audience, ...] = ("student", "instructor")

STATUS_WORDS: dict[Status, str] = {
    Status.correct: "correct",
    Status.partial: "partly correct",
    Status.incorrect: "incorrect",
    Status.missing: "missing",
    Status.invalid: "invalid answer",
    Status.error: "error",
    Status.pending: "graded after submission",
}

# Non-finite numbers cannot live in JSON data, so a Result may carry them as these strings.
NON_FINITE_STRINGS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "infinity": math.inf, "-infinity": -math.inf}

GRID_MAX_SIDE = 12
"""Arrays whose rows or columns exceed this are summarized, not printed as grids."""
GRID_MAX_CHANNELS = 6
LIST_MAX_ITEMS = 16

_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def check_audience(audience: str) -> Audience:
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}; got {audience!r}")
    return audience  # type: ignore[return-value]


def xml_safe(text: str) -> str:
    """Text with characters illegal in XML 1.0 (NUL, most C0 controls, lone surrogates) replaced by U+FFFD."""
    return _ILLEGAL_XML.sub("\ufffd", text)


def fmt_number(value: float, digits: int = 4) -> str:
    """A number as a person writes it: ``3``, ``1.5``, ``0.3333``, ``1.2e-05``, ``nan`` (``digits`` significant
    digits: 4 in grids, 12 for a single answer, where a wrong 0.5431 must not read like the key 0.5430590...)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}g}"


SINGLE_NUMBER_DIGITS = 12
"""Significant digits of a single number in "Your answer"/"Expected" (the sheet's ``grader data`` gives inputs
to the same 12 digits)."""
GRID_DIGITS = 4
"""Significant digits of an array's entries in "Your answer"/"Expected", unless more are needed to tell an entry of
the answer from the key's (:func:`digits_telling_apart`)."""


def digits_telling_apart(actual: Any, expected: Any, part: PartResult) -> int:
    """The fewest significant digits, from :data:`GRID_DIGITS` up to :data:`SINGLE_NUMBER_DIGITS`, at which every
    entry where the answer and the key (both JSON arrays of one shape) differ beyond the part's tolerance
    (:func:`differs`) prints differently: an answer rounded to 4 digits otherwise shows the very grid of the key it
    missed. :data:`GRID_DIGITS` for anything else."""
    found_actual, found_expected = rectangular(actual), rectangular(expected)
    if found_actual is None or found_expected is None or found_actual[0] != found_expected[0] or not found_actual[0]:
        return GRID_DIGITS
    differing = [
        (a, e) for a, e in zip(found_actual[1], found_expected[1])
        if math.isfinite(a) and math.isfinite(e) and differs(a, e, part)
    ]
    for digits in range(GRID_DIGITS, SINGLE_NUMBER_DIGITS + 1):
        if all(fmt_number(a, digits) != fmt_number(e, digits) for a, e in differing):
            return digits
    return SINGLE_NUMBER_DIGITS


def fmt_points(earned: float, possible: float) -> str:
    """``3/4``, ``1.5/2``."""
    return f"{fmt_number(earned)}/{fmt_number(possible)}"


def fmt_percent(score: float) -> str:
    """A 0..1 score as ``67.5%``."""
    return f"{fmt_number(round(score * 100, 2))}%"


TOTALS_NOTE = "Each total is out of the parts its file grades (the whole sheet for a file that could not be read)."
"""Under a batch's table: an answer file, a code file and an unreadable file have different denominators."""


def score_note(result: Result) -> str:
    """What goes in the total's parentheses: ``94.23%``, and when parts are pending (``grader check`` leaves hidden
    ones so) ``94.23%; 3 points graded after submission``, so a student who passed every visible check reads the
    missing points as not graded yet, not as lost."""
    pending = sum(p.points_possible for p in result.parts if p.status is Status.pending)
    note = fmt_percent(result.score)
    return f"{note}; {fmt_number(pending)} point{'' if pending == 1 else 's'} {STATUS_WORDS[Status.pending]}" if pending else note


# ---------------------------------------------------------------------------------------------- arrays


def as_number(value: Any) -> float | None:
    """A JSON leaf as a float (``"nan"``/``"inf"`` strings included), or None if it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in NON_FINITE_STRINGS:
        return NON_FINITE_STRINGS[value.strip().lower()]
    return None


def array_shape(value: Any) -> tuple[int, ...] | None:
    """The shape of a rectangular nested list of numbers (``()`` for a number), or None if it is not one."""
    found = rectangular(value)
    return None if found is None else found[0]


def rectangular(value: Any) -> tuple[tuple[int, ...], list[float]] | None:
    """(shape, the leaves as floats, row-major) of a rectangular nested list of numbers (``((), [x])`` for a number),
    or None if it is not one.

    Level by level, with the lists' lengths and contents gathered by built-ins: a report asks this of an answer
    several times, and walking a 3.6 MB answer of 90,000 lists 20 deep one list at a time took 2.4 s each time.
    """
    number = as_number(value)
    if number is not None:
        return (), [number]
    if not isinstance(value, list) or not value:
        return None
    shape: list[int] = []
    level: list[Any] = [value]
    while all(isinstance(item, list) for item in level):
        lengths = set(map(len, level))
        if len(lengths) != 1 or 0 in lengths:
            return None
        shape.append(lengths.pop())
        level = list(chain.from_iterable(level))
    numbers = list(map(as_number, level))
    if any(number is None for number in numbers):  # a list among numbers (ragged), or text, a bool, ...
        return None
    return tuple(shape), numbers


def flatten(value: Any) -> list[float]:
    """Leaves of a numeric nested list as floats, row-major."""
    if isinstance(value, list):
        return [x for item in value for x in flatten(item)]
    number = as_number(value)
    return [math.nan if number is None else number]


def channel(value: list[Any], k: int) -> list[list[Any]]:
    """``value[:, :, k]`` of an ``(H, W, K)`` nested list, as an ``(H, W)`` nested list."""
    return [[cell[k] for cell in row] for row in value]


def channel_label(part: PartResult, k: int, channels: int) -> str:
    """Title of channel k (0-based) of a 3-D answer. The sheet numbers conv outputs 1-based ("output with filter
    1"); ``annotations["channel_label"]`` (e.g. ``"output with filter"``) lets the spec choose the words."""
    words = part.annotations.get("channel_label")
    if isinstance(words, str) and words.strip():
        return f"{words.strip()} {k + 1} of {channels} ([:, :, {k}])"
    return f"channel {k + 1} of {channels} ([:, :, {k}])"


def grid_fits(shape: tuple[int, ...]) -> bool:
    """Whether an array of this shape is printed entry by entry (else summarized)."""
    if len(shape) == 1:
        return shape[0] <= LIST_MAX_ITEMS
    if len(shape) == 2:
        return shape[0] <= GRID_MAX_SIDE and shape[1] <= GRID_MAX_SIDE
    if len(shape) == 3:
        return shape[0] <= GRID_MAX_SIDE and shape[1] <= GRID_MAX_SIDE and shape[2] <= GRID_MAX_CHANNELS
    return False


def summarize_array(shape: tuple[int, ...], numbers: list[float]) -> str:
    """``array (16, 16, 8): min -1.2, max 3.4, mean 0.51, 2 non-finite`` of an array's ``shape`` and its entries
    (:func:`rectangular`, row-major)."""
    finite = [x for x in numbers if math.isfinite(x)]
    dims = ", ".join(str(n) for n in shape)
    text = f"array ({dims}{',' if len(shape) == 1 else ''})"
    if finite:
        text += f": min {fmt_number(min(finite))}, max {fmt_number(max(finite))}, mean {fmt_number(sum(finite) / len(finite))}"
    if len(finite) != len(numbers):
        text += f", {len(numbers) - len(finite)} non-finite"
    return text


def fmt_cell(value: Any, digits: int = GRID_DIGITS) -> str:
    number = as_number(value)
    return fmt_number(number, digits) if number is not None else printable(str(value))


def grid_lines(
    matrix: list[list[Any]], marks: list[list[bool]] | None = None, width: int = 0, digits: int = GRID_DIGITS
) -> list[str]:
    """An ``(H, W)`` nested list as right-aligned columns (at least ``width`` wide), ``digits`` significant digits;
    entries marked True get a ``*`` after them (the sheet prints max-pooling winners in bold, which plain text
    cannot)."""
    cells = [[fmt_cell(x, digits) for x in row] for row in matrix]
    if marks is not None:
        cells = [[c + ("*" if _mark(marks, i, j) else " ") for j, c in enumerate(row)] for i, row in enumerate(cells)]
    width = max([width, *(len(c) for row in cells for c in row)])
    return ["  ".join(c.rjust(width) for c in row).rstrip() for row in cells]


def _mark(marks: Any, i: int, j: int, k: int | None = None) -> bool:
    try:
        value = marks[i][j] if k is None else marks[i][j][k]
    except (IndexError, TypeError, KeyError):
        return False
    return value is True


def mask_for(part: PartResult, key: str, shape: tuple[int, ...] | None) -> Any:
    """``annotations[key]`` when it is a nested list of the given shape (a winners mask), else None."""
    mask = part.annotations.get(key)
    if shape is None or mask is None:
        return None
    return mask if _bool_shape(mask) == shape else None


def _bool_shape(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, bool):
        return ()
    if not isinstance(value, list) or not value:
        return None
    shapes = {_bool_shape(item) for item in value}
    if len(shapes) != 1:
        return None
    (inner,) = shapes
    return None if inner is None else (len(value), *inner)


def value_lines(value: Any, part: PartResult, marks_key: str | None = None, digits: int = GRID_DIGITS) -> list[str]:
    """A JSON value (the student's answer or the key) as plain-text lines: numbers and short lists inline,
    small 2-D arrays as aligned grids, 3-D ``(H, W, K)`` arrays as K grids (one per channel), their entries to
    ``digits`` significant digits (:attr:`PartView.digits`), big arrays summarized, anything else as compact text."""
    if value is None:
        return ["(none)"]
    points = sample_point_lines(value)
    if points is not None:
        return points
    if part.answer_type == "graph" and isinstance(value, dict) and value and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return [printable(f"{name}: {expression}" if name == "output" else f"{name} = {expression}").replace("\n", " ")
                for name, expression in value.items()]
    found = rectangular(value)  # one walk of the lists gives the shape and the entries
    if found is None:
        if isinstance(value, str):
            return printable(value).split("\n") or [""]
        return [printable(_compact_json(value))]
    shape, numbers = found
    if shape == ():
        return [fmt_number(numbers[0], SINGLE_NUMBER_DIGITS)]
    if not grid_fits(shape):
        return [summarize_array(shape, numbers)]
    marks = mask_for(part, marks_key, shape) if marks_key else None
    if len(shape) == 1:
        return ["[" + ", ".join(fmt_number(x, digits) for x in numbers) + "]"]
    if len(shape) == 2:
        return grid_lines(value, marks, digits=digits)
    # One column width for every channel, so the K grids line up under each other.
    width = max(len(fmt_cell(x, digits)) for x in numbers) + (1 if marks is not None else 0)
    lines: list[str] = []
    for k in range(shape[2]):
        lines.append(channel_label(part, k, shape[2]) + ":")
        channel_marks = channel(marks, k) if marks is not None else None
        lines.extend("  " + line for line in grid_lines(channel(value, k), channel_marks, width, digits))
    return lines


SAMPLE_POINTS_SHOWN = 5
"""Most sample points of a reference function (a formula or graph part's key) listed."""


def sample_point_lines(value: Any) -> list[str] | None:
    """The key of a formula or graph part -- sample points ``[{"at": {"n": 55, ...}, "value": 24}, ...]`` -- as
    sentences ``at n=55, f=9, s=2, p=0 the reference gives 24``; None when ``value`` is not such a list."""
    if not (isinstance(value, list) and value and all(_is_sample_point(item) for item in value)):
        return None
    lines = []
    for item in value[:SAMPLE_POINTS_SHOWN]:
        at = ", ".join(f"{printable(str(name))}={_point_number(x)}" for name, x in item["at"].items())
        lines.append(f"at {at} the reference gives {_point_number(item['value'])}".replace("\n", " "))
    if len(value) > SAMPLE_POINTS_SHOWN:
        more = len(value) - SAMPLE_POINTS_SHOWN
        lines.append(f"(and {more} more point{'s' if more > 1 else ''})")
    return lines


def _point_number(value: Any) -> str:
    """A coordinate or value of a sample point, to 6 significant digits (as the differing point in the details)."""
    return fmt_number(as_number(value), 6)  # type: ignore[arg-type]


def _is_sample_point(item: Any) -> bool:
    return (
        isinstance(item, dict) and set(item) == {"at", "value"} and isinstance(item["at"], dict)
        and all(as_number(x) is not None for x in item["at"].values()) and as_number(item["value"]) is not None
    )


def _compact_json(value: Any, limit: int = 200) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def differs(actual: float, expected: float, part: PartResult) -> bool:
    """Whether one entry of the answer differs from the key. Uses ``annotations["atol"]``/``["rtol"]`` when the
    pipeline passes the part's tolerance, else a tight default (reports only highlight; they never grade)."""
    atol = part.annotations.get("atol", 1e-9)
    rtol = part.annotations.get("rtol", 1e-6)
    if math.isnan(actual) or math.isnan(expected):
        return not (math.isnan(actual) and math.isnan(expected))
    return not math.isclose(actual, expected, rel_tol=float(rtol), abs_tol=float(atol))


# ---------------------------------------------------------------------------------------------- what a part shows


_CASE_LABELS = ((CASE_NOT_COUNTED, "not counted"), (CASE_NOT_RUN, "not run"))


@dataclass(frozen=True)
class CaseView:
    """One visible code case as a report shows it."""

    name: str
    passed: bool
    inputs: str
    feedback: str
    details: list[str]

    @property
    def label(self) -> str:
        """``pass``, ``FAIL``, or for a case that failed without being wrong ``not counted`` / ``not run``."""
        if self.passed:
            return "pass"
        return next((label for prefix, label in _CASE_LABELS if self.feedback.startswith(prefix)), "FAIL")

    @property
    def result_word(self) -> str:
        """The label in a table's result column: ``passed``, ``failed``, ``not counted``, ``not run``."""
        return {"pass": "passed", "FAIL": "failed"}.get(self.label, self.label)

    @property
    def remark(self) -> str:
        """The feedback without the words its label already says (``not counted: `` ...)."""
        prefix = next((prefix for prefix, label in _CASE_LABELS if label == self.label), "")
        return self.feedback[len(prefix):] if prefix else self.feedback


FOLLOWED_PREFIX = "Credited by follow-through: judged by the student's own answer to"
"""What an instructor's report says of a part credited by follow-through, before the earlier part's id."""


@dataclass(frozen=True)
class PartView:
    """What a report may show of one part for one audience. Built only by ``view_part``.

    For a hidden part, ``expected``, ``details`` and ``annotations`` are always empty, and for students also
    the answer, the feedback and the cases: a student learns only whether a hidden part passed."""

    part: PartResult
    hidden: bool
    status_word: str
    passed: bool | None
    """True/False for graded parts; None for pending ones."""
    points: str
    show_actual: bool
    expected: Any
    details: list[str]
    feedback: str
    mistake: str | None
    followed: str | None = None
    """For instructors: the earlier part whose own answer the student was credited for (``PartResult.followed``)."""
    cases: list[CaseView] = field(default_factory=list)
    hidden_cases: str = ""
    """``hidden cases: 2 of 3 passed`` (counts only), or empty."""
    annotations: dict[str, Any] = field(default_factory=dict)
    answer_text: str | None = None
    """What the student wrote when it could not be read (theirs: shown for hidden parts too), else None."""

    @property
    def key(self) -> str:
        return self.part.key

    @property
    def your_answer(self) -> Any:
        """What "Your answer" shows: the answer as read, else the text as written when it could not be read,
        else None (nothing written, or a hidden part's answer for students)."""
        if self.show_actual and self.part.actual is not None:
            return self.part.actual
        return self.answer_text

    @property
    def show_answer(self) -> bool:
        """Whether a report prints a "Your answer" block (``(none)`` for a missing answer of a part without
        code cases)."""
        return self.your_answer is not None or (self.show_actual and not self.cases)

    @property
    def shows_text_as_written(self) -> bool:
        """"Your answer" is the text as written (it could not be read), not the answer as read."""
        return self.answer_text is not None and not (self.show_actual and self.part.actual is not None)

    @property
    def answer_label(self) -> str:
        """``Your answer``, or ``Your answer (as written)`` for text that could not be read."""
        return "Your answer (as written)" if self.shows_text_as_written else "Your answer"

    @property
    def expected_shown(self) -> Any:
        """The key where it helps: not repeated under a correct answer, never for hidden parts."""
        return None if self.part.status is Status.correct else self.expected

    @cached_property
    def digits(self) -> int:
        """Significant digits of array entries in this part's "Your answer" and "Expected": enough to tell every
        differing entry apart (:func:`digits_telling_apart`)."""
        if self.expected_shown is None or not self.show_actual or self.part.actual is None:
            return GRID_DIGITS
        return digits_telling_apart(self.part.actual, self.expected_shown, self.part)

    @property
    def actual_marks_key(self) -> str | None:
        """Which winners mask to draw on the student's answer: their own, or for a correct answer the key's."""
        if "actual_winners" in self.annotations:
            return "actual_winners"
        if self.part.status is Status.correct and "expected_winners" in self.annotations:
            return "expected_winners"
        return None

    @property
    def heading(self) -> str:
        """``ex3.b  Compute the output of the max-pooling layer`` (hidden: `` (hidden)`` appended)."""
        title = f"{self.part.key}  {printable(self.part.title)}".rstrip() if self.part.title else self.part.key
        return f"{title} (hidden)" if self.hidden else title

    @property
    def followed_text(self) -> str:
        """``Credited by follow-through: judged by the student's own answer to b_check_p``, or empty."""
        return f"{FOLLOWED_PREFIX} {self.followed}" if self.followed else ""


def view_part(part: PartResult, audience: Audience) -> PartView:
    """The one gate between a PartResult and any report."""
    hidden = part.visibility is Visibility.hidden
    passed = None if part.status is Status.pending else part.status is Status.correct
    if hidden and audience == "student":
        word = STATUS_WORDS[Status.pending] if passed is None else ("passed" if passed else "not passed")
        # Why the answer could not be read depends only on the student's text and the answer type, never on the
        # key (PartResult.answer_error): the one thing a hidden part says besides passed/not passed.
        return PartView(
            part=part, hidden=True, status_word=word, passed=passed,
            points=fmt_points(part.points_earned, part.points_possible), show_actual=False, expected=None,
            details=[], feedback=part.answer_error, mistake=None, answer_text=part.answer_text,
        )
    # A hidden part's cases are all counted as hidden, whatever their own visibility says.
    visible_cases = [] if hidden else [c for c in part.cases if c.visibility is Visibility.visible]
    hidden_cases = part.cases if hidden else [c for c in part.cases if c.visibility is Visibility.hidden]
    return PartView(
        part=part,
        hidden=hidden,
        status_word=STATUS_WORDS[part.status],
        passed=passed,
        points=fmt_points(part.points_earned, part.points_possible),
        show_actual=True,
        expected=None if hidden else part.expected,
        details=[] if hidden else list(part.details),
        feedback=part.feedback,
        mistake=part.mistake if audience == "instructor" else None,
        followed=part.followed if audience == "instructor" else None,
        cases=[_view_case(c) for c in visible_cases],
        hidden_cases=_hidden_case_counts(hidden_cases),
        annotations={} if hidden else dict(part.annotations),
        answer_text=part.answer_text,
    )


def _view_case(case: CaseResult) -> CaseView:
    return CaseView(
        name=case.name, passed=case.passed, inputs=case.inputs, feedback=case.feedback, details=list(case.details)
    )


def hidden_kind(case: CaseResult) -> str:
    """What a report may say of why a hidden case failed: its feedback when that is one of the kinds
    (:data:`HIDDEN_CASE_KINDS`), else nothing."""
    text = case.feedback
    return text if text in HIDDEN_CASE_KINDS.values() else ""


def _hidden_case_counts(cases: Sequence[CaseResult]) -> str:
    """``hidden cases: 2 of 6 passed; 3 returned a wrong value, 1 raised IndexError``: the counts, then how many
    failed in each way (no case named: a hidden case's name may describe its inputs)."""
    if not cases:
        return ""
    passed = sum(1 for c in cases if c.passed)
    kinds: dict[str, int] = {}
    for case in cases:
        kind = "" if case.passed else hidden_kind(case)
        if kind:
            kinds[kind] = kinds.get(kind, 0) + 1
    counts = f"hidden cases: {passed} of {len(cases)} passed"
    return counts + ("; " + ", ".join(f"{count} {kind}" for kind, count in kinds.items()) if kinds else "")


def shown_status(part: PartResult, audience: Audience) -> Status:
    """The status a machine-readable report gives ``audience``: for students a hidden part is only ``correct``
    (passed), ``pending`` or ``incorrect`` (not passed, whatever the reason: partly correct with a known
    mistake, an answer of the wrong shape, ...), as the human-readable reports say only passed / not passed."""
    if audience == "student" and part.visibility is Visibility.hidden and part.status not in (Status.correct, Status.pending):
        return Status.incorrect
    return part.status


def view_parts(result: Result, audience: Audience) -> list[PartView]:
    return [view_part(p, audience) for p in result.parts]


def headline(result: Result, audience: Audience, *, hidden_results: bool = True) -> str:
    """One sentence on the whole submission. Students are never told "all tests passed": hidden parts may
    still be pending or, graded, not shown in detail. ``hidden_results=False`` only counts the hidden parts (for
    text a student sees before hidden results are published)."""
    if result.error:
        return "This submission could not be graded: every part scores 0 (see the error above)."
    if not result.parts:
        return "Nothing was graded."
    visible = [p for p in result.parts if p.visibility is Visibility.visible]
    hidden = [p for p in result.parts if p.visibility is Visibility.hidden]
    correct_visible = sum(1 for p in visible if p.status is Status.correct)
    pending = sum(1 for p in hidden if p.status is Status.pending)
    passed_hidden = sum(1 for p in hidden if p.status is Status.correct)
    if audience == "instructor" and all(p.status is Status.correct for p in result.parts):
        return f"All {len(result.parts)} parts correct."
    # Missing or unreadable hidden answers (known from the student's text alone) come first: a student-side check
    # that cannot grade them must not sound as if all were well.
    unread = [p for p in hidden if p.answer_error]
    sentence = ""
    if unread:
        keys = ", ".join(printable(p.key) for p in unread[:5]) + (", ..." if len(unread) > 5 else "")
        many = len(unread) > 1
        sentence = (f"{len(unread)} hidden answer{'s are' if many else ' is'} missing or cannot be read ({keys}): "
                    f"as handed in, {'they score' if many else 'it scores'} 0. ")
    if visible and correct_visible == len(visible) and not unread:
        sentence += "All visible checks passed."
    else:
        sentence += f"Visible checks: {correct_visible} of {len(visible)} correct."
    if hidden and not hidden_results:
        sentence += f" Hidden checks: {len(hidden)}, shown when the grades are published."
    elif hidden:
        graded = len(hidden) - pending
        bits = []
        if graded:
            bits.append(f"{passed_hidden} of {graded} passed")
        if pending:
            bits.append(f"{pending} graded after submission")
        sentence += f" Hidden checks: {', '.join(bits)}."
    return sentence


NOTES_TITLE = "Notes on what you handed in (a note itself costs no points)"


def note_lines(result: Result) -> list[str]:
    """The Result's notes (answers to ids the sheet does not have, ...) as printable one-line texts."""
    return [printable(note).replace("\n", " ") for note in result.notes]


def batch_status(result: Result) -> str:
    """A few words for one row of a batch table."""
    if result.error:
        return "not graded (error)"
    correct = sum(1 for p in result.parts if p.status is Status.correct)
    pending = sum(1 for p in result.parts if p.status is Status.pending)
    text = f"{correct} of {len(result.parts)} parts correct"
    return f"{text}, {pending} pending" if pending else text


def title_of(result: Result) -> str:
    """``Week 7: convolutional networks -- student s123``."""
    sheet = printable(result.sheet_title or result.sheet_id)
    return f"{sheet} -- {one_line(result.student_id)}" if result.student_id else sheet
