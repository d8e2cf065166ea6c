"""Reports of what a student can learn from besides the key: notes on the answer file, answers that could not be
read (shown as written), a formula part's key as sample points, and hidden parts that say only passed / not
passed / pending in every format -- machine-readable ones included -- plus why an answer could not be read."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from grader.report import FORMATS, parse_json_report, redact_for_student, render
from grader.report.common import headline, sample_point_lines, value_lines, view_part
from grader.result import PartResult, Result, Status, Visibility

from .sample_results import EXTRA_SAMPLES, FORMULA_POINTS, LEAK, check_mode, hidden_copy, mixed
from .test_formats import REPORT_DIR, load_junit_schema
from .test_golden import GOLDEN, check_golden

HUMAN_FORMATS = ("text", "md", "html", "junit", "gradescope")
CASES = [(name, fmt, audience) for name in EXTRA_SAMPLES for fmt in FORMATS for audience in ("student", "instructor")]


@pytest.mark.parametrize(("sample", "fmt", "audience"), CASES, ids=[f"{s}.{f}.{a}" for s, f, a in CASES])
def test_extra_samples_match_golden(sample: str, fmt: str, audience: str, update_golden: bool) -> None:
    output = render(EXTRA_SAMPLES[sample](), fmt, audience=audience)  # type: ignore[arg-type]
    suffix = "" if audience == "student" else ".instructor"
    check_golden(GOLDEN / f"{sample}{suffix}.{fmt}", output, update_golden)


@pytest.mark.parametrize("audience", ["student", "instructor"])
def test_extra_samples_fit_the_junit_and_gradescope_contracts(audience: str) -> None:
    schema = json.loads((REPORT_DIR / "gradescope.schema.json").read_text(encoding="utf-8"))
    junit = load_junit_schema()
    for make in EXTRA_SAMPLES.values():
        jsonschema.validate(json.loads(render(make(), "gradescope", audience=audience)), schema)  # type: ignore[arg-type]
        if junit is not None:
            junit.validate(render(make(), "junit", audience=audience))  # type: ignore[arg-type]


def test_extra_samples_round_trip_through_json() -> None:
    for make in EXTRA_SAMPLES.values():
        result = make()
        assert parse_json_report(render(result, "json", audience="instructor")) == result
        back = parse_json_report(render(result, "json"))
        assert back == redact_for_student(result) == redact_for_student(back)


# ---------------------------------------------------------------------------------------------- notes


@pytest.mark.parametrize("fmt", HUMAN_FORMATS)
def test_notes_are_shown_in_every_human_readable_format(fmt: str) -> None:
    output = render(check_mode(), fmt)
    if fmt == "html":
        output = output.replace("&#x27;", "'")
    if fmt == "md":
        output = output.replace("\\_", "_")
    assert "has no part 'b_pol'; did you mean 'b_pool'?" in output, fmt
    assert "this sheet has no exercise 'ex9'" in output, fmt


def test_junit_carries_notes_as_properties_and_in_system_out() -> None:
    suite = ET.fromstring(render(check_mode(), "junit"))
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties["note.1"].startswith("answers.ex3.b_pol:")
    assert properties["note.2"].startswith("answers.ex9:")
    assert "did you mean 'b_pool'?" in suite.find("system-out").text


def test_gradescope_shows_notes_in_the_always_visible_output() -> None:
    data = json.loads(render(check_mode(), "gradescope"))
    assert "Notes on what you handed in" in data["output"] and "did you mean 'b_pool'?" in data["output"]


def test_a_result_without_notes_shows_no_notes_section() -> None:
    for fmt in HUMAN_FORMATS:
        assert "Notes on what you handed in" not in render(mixed(), fmt), fmt


# ---------------------------------------------------------------------------------------------- unreadable answers


def part_of(result: Result, key: str) -> PartResult:
    return next(p for p in result.parts if p.key == key)


@pytest.mark.parametrize("fmt", HUMAN_FORMATS)
def test_an_unreadable_answer_is_shown_as_written(fmt: str) -> None:
    output = render(check_mode(), fmt)
    assert "(n + 2p - f)/s + 1" in output, fmt
    assert "Your answer (as written)" in output or "your answer (as written)" in output, fmt


def test_an_unreadable_answer_is_never_shown_as_none() -> None:
    result = check_mode()
    view = view_part(part_of(result, "ex2.b_check_p"), "student")
    assert view.your_answer == "1.5" and view.answer_label == "Your answer (as written)"
    text = render(result, "text")
    block = text.split("ex2.b_check_p", 1)[1].split("\n[", 1)[0]
    assert "(none)" not in block and "    1.5" in block


def test_hidden_parts_show_the_students_own_text_and_why_it_cannot_be_read_but_nothing_else() -> None:
    result = check_mode()
    for fmt in FORMATS:
        output = render(result, fmt)
        assert "fifty-five" in output, fmt  # the student's own text
        assert "unknown name" in output, fmt  # why it cannot be read: from the text alone
        assert LEAK not in output, fmt
        assert "counted-conv-units" not in output, fmt


def test_old_results_without_the_new_fields_still_load() -> None:
    stored = json.loads(check_mode().model_dump_json(exclude_computed_fields=True))
    for part in stored["parts"]:
        part.pop("answer_text")
        part.pop("answer_error")
    old = Result.model_validate_json(json.dumps(stored))
    assert all(p.answer_text is None and p.answer_error == "" for p in old.parts)
    for fmt in FORMATS:
        render(old, fmt)


# ---------------------------------------------------------------------------------------------- formula keys


def test_sample_points_read_as_sentences() -> None:
    lines = sample_point_lines(FORMULA_POINTS)
    assert lines is not None
    assert lines[0] == "at n=55, f=9, s=2, p=0 the reference gives 24"
    assert lines[-1] == "(and 1 more point)" and len(lines) == 6
    assert sample_point_lines([[1, 2]]) is None and sample_point_lines([{"at": 1, "value": 2}]) is None


@pytest.mark.parametrize("fmt", HUMAN_FORMATS)
def test_a_formula_key_is_never_raw_json(fmt: str) -> None:
    output = render(check_mode(), fmt)
    if fmt == "html":
        output = output.replace("&quot;", '"')
    assert '{"at"' not in output and '"value"' not in output, fmt
    assert "at n=55, f=9, s=2, p=0 the reference gives 24" in output, fmt
    assert "at f=13 the reference gives 6" in output, fmt


def test_a_graph_answer_is_one_node_per_line() -> None:
    part = part_of(check_mode(), "ex4.b_graph")
    assert value_lines(part.actual, part) == ["h1 = sigmoid(w1*x1 + w2*x2)", "y = v1*h1", "output: y"]


# ---------------------------------------------------------------------------------------------- hidden statuses


def hidden_part(status: Status, earned: float = 0.0) -> PartResult:
    return hidden_copy(PartResult(
        exercise_id="ex3", part_id="z", answer_type="array", points_possible=2, points_earned=earned,
        status=status, actual=[1, 2], expected=[1, 3], feedback=f"key {LEAK}", mistake="some-mistake"))


@pytest.mark.parametrize(("status", "shown"), [
    (Status.correct, "correct"), (Status.partial, "incorrect"), (Status.incorrect, "incorrect"),
    (Status.missing, "incorrect"), (Status.invalid, "incorrect"), (Status.error, "incorrect"),
    (Status.pending, "pending"),
])
def test_students_machine_readable_reports_give_hidden_parts_only_passed_or_not(status: Status, shown: str) -> None:
    earned = 1.0 if status is Status.partial else 2.0 if status is Status.correct else 0.0
    result = mixed().model_copy(update={"parts": [hidden_part(status, earned)]})
    student_json = json.loads(render(result, "json"))["result"]["parts"][0]
    assert student_json["status"] == shown
    assert student_json["points_earned"] == earned  # points of a graded hidden part are shown in full
    gradescope = json.loads(render(result, "gradescope"))["tests"][0]
    assert gradescope["extra_data"]["status"] == shown
    # Instructors see the real status.
    assert json.loads(render(result, "json", audience="instructor"))["result"]["parts"][0]["status"] == status.value
    assert json.loads(render(result, "gradescope", audience="instructor"))["tests"][0]["extra_data"]["status"] == status.value
    # Every student format agrees: nothing says "partial" or "invalid" of a hidden part.
    for fmt in FORMATS:
        output = render(result, fmt)
        assert "partly correct" not in output and "invalid answer" not in output, fmt
        assert '"partial"' not in output and '"invalid"' not in output, fmt


def test_visible_parts_keep_their_real_status_for_students() -> None:
    data = json.loads(render(mixed(), "json"))["result"]["parts"]
    assert {p["status"] for p in data if p["visibility"] == "visible"} >= {"partial", "invalid", "missing"}


# ---------------------------------------------------------------------------------------------- verdict


def test_the_verdict_names_missing_or_unreadable_hidden_answers_first() -> None:
    result = check_mode()
    for audience in ("student", "instructor"):
        sentence = headline(result, audience)  # type: ignore[arg-type]
        assert sentence.startswith("2 hidden answers are missing or cannot be read (ex1.b_unusual, ex2.a_set_d)")
        assert "All visible checks passed" not in sentence


def test_all_visible_checks_passed_only_when_no_hidden_answer_is_missing() -> None:
    correct = PartResult(exercise_id="ex2", part_id="a", answer_type="number", points_possible=1, points_earned=1,
                         status=Status.correct, actual=5, expected=5)
    fine = PartResult(exercise_id="ex4", part_id="a", answer_type="number", visibility=Visibility.hidden,
                      points_possible=2, points_earned=0, status=Status.pending, actual=0.5)
    missing = fine.model_copy(update={"part_id": "b", "actual": None, "answer_error": "no answer given"})
    ok = mixed().model_copy(update={"parts": [correct, fine]})
    assert headline(ok, "student") == "All visible checks passed. Hidden checks: 1 graded after submission."
    bad = mixed().model_copy(update={"parts": [correct, fine, missing]})
    assert headline(bad, "student") == (
        "1 hidden answer is missing or cannot be read (ex4.b): as handed in, it scores 0. "
        "Visible checks: 1 of 1 correct. Hidden checks: 2 graded after submission."
    )



def test_long_sample_points_wrap_one_sentence_at_a_time_in_text() -> None:
    names = [f"w{i}_{j}" for i in range(1, 4) for j in range(1, 4)]
    points = [{"at": {name: -1.234567 + k for name in names}, "value": k + 0.5} for k in range(3)]
    part = PartResult(exercise_id="ex4", part_id="b_graph", answer_type="graph", points_possible=1,
                      points_earned=0, status=Status.incorrect, actual={"y": "w1_1"}, expected=points)
    text = render(mixed().model_copy(update={"parts": [part]}), "text")
    block = text.split("  Expected:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    starts = [line for line in block if line.startswith("    at ")]
    assert len(starts) == 3 and all(len(line) <= 100 for line in block)
    assert all(line.startswith("      ") for line in block if not line.startswith("    at "))
    assert "-1.23457" in block[0]  # 6 significant digits, as the differing point in the details
