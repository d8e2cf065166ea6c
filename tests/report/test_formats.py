"""Each report format checked against its own contract: JUnit against the public XSD, Gradescope against the
schema written from its documentation, JSON round-trips, CSV parses back; hidden parts never leak; student
text is escaped wherever it lands."""

from __future__ import annotations

import ast
import csv
import functools
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
import xmlschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grader.report
from grader.report import (
    FORMATS,
    parse_json_report,
    redact_for_student,
    render,
    render_csv,
    render_md_many,
    render_text_many,
)
from grader.report.gradescope import SCHEMA_FILE
from grader.report.junit import render_junit
from grader.result import CaseResult, PartResult, Result, Status, Visibility

from .sample_results import HOSTILE, LEAK, SAMPLES, code_part, hidden_copy, hostile, mixed

JUNIT_XSD = Path("/work/shared/junit/JUnit.xsd")
REPORT_DIR = Path(grader.report.__file__).parent
AUDIENCES = ("student", "instructor")


@functools.cache
def load_junit_schema() -> xmlschema.XMLSchema | None:
    return xmlschema.XMLSchema(str(JUNIT_XSD)) if JUNIT_XSD.exists() else None


@pytest.fixture(scope="module")
def junit_schema() -> xmlschema.XMLSchema:
    schema = load_junit_schema()
    if schema is None:
        pytest.skip(f"the public JUnit schema is not at {JUNIT_XSD}")
    return schema


@pytest.fixture(scope="module")
def gradescope_schema() -> dict:
    schema = json.loads((REPORT_DIR / SCHEMA_FILE).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


# ---------------------------------------------------------------------------------------------- JUnit


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("audience", AUDIENCES)
def test_junit_validates_against_the_public_schema(junit_schema, sample: str, audience: str) -> None:
    junit_schema.validate(render(SAMPLES[sample](), "junit", audience=audience))


def test_junit_counts_and_names_follow_the_parts() -> None:
    result = mixed()
    suite = ET.fromstring(render(result, "junit"))
    assert suite.tag == "testsuite"
    assert suite.get("name") == "week7 s100002"
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [(f"s100002.{p.exercise_id}", p.part_id) for p in result.parts]
    not_correct = [p for p in result.parts if p.status not in (Status.correct, Status.pending)]
    assert int(suite.get("tests")) == len(result.parts)
    assert int(suite.get("failures")) == len(not_correct) == len(suite.findall("testcase/failure"))
    assert int(suite.get("skipped")) == 1 == len(suite.findall("testcase/skipped"))
    partial = next(c for c in cases if c.get("classname") == "s100002.ex2" and c.get("name") == "b")
    assert partial.find("failure").get("message").startswith("This is 2p, not p")
    assert partial.find("failure").get("type") == "partial"


def test_junit_cases_of_different_students_never_share_a_name() -> None:
    """A CI that gathers every student's report keys cases by classname and name: each student's are their own;
    files that name no student are told apart by their name and hash (two students' answers.yaml)."""
    named = {(c.get("classname"), c.get("name")) for c in ET.fromstring(render(mixed(), "junit")).findall("testcase")}
    other = mixed().model_copy(update={"student_id": "s100003"})
    unnamed = mixed().model_copy(update={"student_id": "", "submission": "answers.v2.yaml", "submission_hash": "ab" * 32})
    unnamed_too = unnamed.model_copy(update={"submission_hash": "cd" * 32})
    seen = [named]
    for result in (other, unnamed, unnamed_too):
        cases = {(c.get("classname"), c.get("name")) for c in ET.fromstring(render(result, "junit")).findall("testcase")}
        assert all(cases.isdisjoint(earlier) for earlier in seen)
        seen.append(cases)
    assert {c.get("classname").rsplit(".", 1)[0] for c in ET.fromstring(render(unnamed, "junit")).findall("testcase")} == {"answers.v2-abababab"}


def test_junit_takes_a_timestamp_and_stays_valid(junit_schema) -> None:
    text = render_junit(mixed(), timestamp="2024-05-01T10:00:00", hostname="grader-7")
    junit_schema.validate(text)
    assert ET.fromstring(text).get("timestamp") == "2024-05-01T10:00:00"


def test_junit_survives_xml_breaking_student_input(junit_schema) -> None:
    text = render(hostile(), "junit", audience="instructor")
    junit_schema.validate(text)  # parses: no raw NUL, ESC or lone surrogate, markup escaped
    assert "<script>" not in text
    assert "\x00" not in text and "\x1b" not in text


# ---------------------------------------------------------------------------------------------- Gradescope


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("audience", AUDIENCES)
def test_gradescope_validates_against_the_documented_format(gradescope_schema, sample: str, audience: str) -> None:
    jsonschema.validate(json.loads(render(SAMPLES[sample](), "gradescope", audience=audience)), gradescope_schema)


def test_gradescope_schema_refuses_what_the_documentation_does_not_allow(gradescope_schema) -> None:
    data = json.loads(render(mixed(), "gradescope"))
    for bad in (
        {**data, "visibility": "sometimes"},
        {**data, "max_score": 18},  # not a top-level field in the spec
        {**data, "tests": [{**data["tests"][0], "status": "skipped"}]},
        {**data, "tests": [{**data["tests"][0], "number": 1.1}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, gradescope_schema)


def test_gradescope_tests_mirror_the_parts() -> None:
    result = mixed()
    data = json.loads(render(result, "gradescope"))
    assert data["score"] == result.points_earned
    assert [t["max_score"] for t in data["tests"]] == [p.points_possible for p in result.parts]
    assert sum(t["score"] for t in data["tests"]) == pytest.approx(result.points_earned)
    for test, part in zip(data["tests"], result.parts, strict=True):
        assert test["visibility"] == ("after_published" if part.visibility is Visibility.hidden else "visible")
        assert test["extra_data"]["key"] == part.key
        if part.status is Status.pending:
            assert "status" not in test and "graded after submission" in test["output"]
        else:
            assert test["status"] == ("passed" if part.status is Status.correct else "failed")
    assert [t["number"] for t in data["tests"]][:4] == ["1.1", "2.1", "2.2", "3.1"]


def test_gradescope_names_show_the_start_of_a_long_prompt_and_the_output_all_of_it() -> None:
    """Gradescope lists tests by name: a prompt of hundreds of characters (week 7 has one of 383) is cut at a word;
    the test's output then starts with the whole prompt, its line breaks as spaces."""
    result = mixed()
    long_prompt = "b. The padding p that keeps the width at stride s = 1,\n as a formula in f " + "and more words " * 30
    short = result.parts[0].title
    parts = [result.parts[0], result.parts[1].model_copy(update={"title": long_prompt}), *result.parts[2:]]
    data = json.loads(render(result.model_copy(update={"parts": parts}), "gradescope"))
    named = data["tests"][1]["name"]
    assert named == f"{parts[1].key}  b. The padding p that keeps the width at stride s = 1, as a formula in f\u2026"
    assert len(named) - len(parts[1].key) - 2 <= 73
    assert data["tests"][1]["output"].startswith(" ".join(long_prompt.split()) + "\n\n")
    assert data["tests"][0]["name"] == f"{parts[0].key}  {short}" and short not in data["tests"][0]["output"]
    one_token = "a " + "x" * 300
    parts[1] = parts[1].model_copy(update={"title": one_token})
    data = json.loads(render(result.model_copy(update={"parts": parts}), "gradescope"))
    assert data["tests"][1]["name"] == f"{parts[1].key}  {one_token[:72]}\u2026"


def test_gradescope_always_visible_output_tells_nothing_of_hidden_tests() -> None:
    """The top-level output is visible at once, the hidden tests only after publication: it must give neither
    their results nor the total they are part of."""
    result = mixed()
    data = json.loads(render(result, "gradescope"))
    hidden = [t for t in data["tests"] if t["visibility"] != "visible"]
    assert hidden and data["visibility"] == "visible"
    visible_points = sum(t["score"] for t in data["tests"] if t["visibility"] == "visible")
    assert visible_points != result.points_earned
    output = data["output"]
    assert "passed" not in output.split("Hidden checks:", 1)[1] and f"/{result.points_possible:g}" not in output
    assert f"Visible parts: {visible_points:g}/" in output


# ---------------------------------------------------------------------------------------------- JSON


@pytest.mark.parametrize("sample", SAMPLES)
def test_json_round_trips_for_instructors(sample: str) -> None:
    result = SAMPLES[sample]()
    text = render(result, "json", audience="instructor")
    data = json.loads(text)
    assert (data["format"], data["version"], data["audience"]) == ("grader-result", 1, "instructor")
    assert list(data) == ["format", "version", "audience", "result"]
    assert parse_json_report(text) == result


@pytest.mark.parametrize("sample", SAMPLES)
def test_student_json_is_the_redacted_result(sample: str) -> None:
    result = SAMPLES[sample]()
    back = parse_json_report(render(result, "json"))
    assert back == redact_for_student(result)
    assert redact_for_student(back) == back
    assert [p.visibility for p in back.parts] == [p.visibility for p in result.parts]
    visible = [p for p in result.parts if p.visibility is Visibility.visible]
    assert [p for p in back.parts if p.visibility is Visibility.visible][0] == visible[0]


def test_json_key_order_is_stable() -> None:
    data = json.loads(render(mixed(), "json"))["result"]
    assert list(data)[:4] == ["sheet_id", "sheet_title", "student_id", "seed"]
    assert list(data)[-3:] == ["points_earned", "points_possible", "score"]
    assert list(data["parts"][0])[:3] == ["exercise_id", "part_id", "title"]


def test_parse_json_report_names_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        parse_json_report("{")
    with pytest.raises(ValueError, match='"format": "grader-result"'):
        parse_json_report('{"format": "other"}')
    with pytest.raises(ValueError, match="version 9"):
        parse_json_report('{"format": "grader-result", "version": 9, "result": {}}')


# ---------------------------------------------------------------------------------------------- CSV


def test_csv_parses_back_with_one_row_per_submission() -> None:
    results = [make() for make in SAMPLES.values()]
    rows = list(csv.reader(io.StringIO(render_csv(results), newline="")))
    header, body = rows[0], rows[1:]
    keys = ["ex1.a", "ex2.a", "ex2.b", "ex3.a", "ex3.b", "ex3.c", "ex3.e", "ex3.d", "ex4.a", "ex5.conv2d"]
    assert header == ["student_id", "seed", "submission", *keys, "total", "score"]
    assert len(body) == len(results)
    for row, result in zip(body, results, strict=True):
        earned = {p.key: p.points_earned for p in result.parts}
        for key in keys:
            cell = row[header.index(key)]
            assert (cell == "") if key not in earned else float(cell) == pytest.approx(earned[key])
        assert float(row[header.index("total")]) == pytest.approx(result.points_earned)
        assert float(row[header.index("score")]) == pytest.approx(result.score)
    hostile_row = body[-1]
    assert hostile_row[0] == HOSTILE  # quotes and commas survive RFC 4180 quoting
    assert hostile_row[2].startswith('"><img')


def test_csv_defuses_spreadsheet_formulas() -> None:
    result = mixed().model_copy(update={"student_id": "=HYPERLINK(\"http://x\")", "submission": "-1.5"})
    row = list(csv.reader(io.StringIO(render_csv([result]), newline="")))[1]
    assert row[0] == "'=HYPERLINK(\"http://x\")"
    assert row[2] == "-1.5"  # a plain number is left alone


# ---------------------------------------------------------------------------------------------- hidden parts


def leaky_visible_part() -> PartResult:
    """A visible part whose key, details, feedback, mistake, annotations and cases all carry LEAK."""
    return PartResult(
        exercise_id="ex9", part_id="z", title="A part about to be hidden", answer_type="array",
        points_possible=2, points_earned=0, status=Status.incorrect, actual=[[1.0, 2.0], [3.0, 4.0]],
        expected=[[float(LEAK), 2.0], [3.0, 4.0]], feedback=f"expected {LEAK} at [0, 0]",
        details=[f"max abs error at [0, 0]: {LEAK}"], mistake=f"mistake-{LEAK}",
        annotations={"expected_winners": [[True, False], [False, True]], "expected_norm": float(LEAK),
                     "channel_label": LEAK},
        cases=[CaseResult(name=f"case {LEAK}", passed=False, fraction=0, inputs=f"image ({LEAK},)",
                          feedback=f"got 1, expected {LEAK}", details=[LEAK])],
    )


def test_the_visible_part_does_carry_the_value() -> None:
    # Guards the leak test below: the value is there to leak in every format before the part is hidden.
    result = mixed().model_copy(update={"parts": [leaky_visible_part()]})
    for fmt in FORMATS:
        assert LEAK in render(result, fmt), fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_hidden_parts_never_leak_to_students(fmt: str) -> None:
    hidden = hidden_copy(leaky_visible_part())
    assert hidden.annotations and hidden.feedback and hidden.cases  # everything but expected/details survived
    result = mixed().model_copy(update={"parts": [*mixed().parts, hidden]})
    output = render(result, fmt, audience="student")
    assert LEAK not in output
    assert "ex9" in output  # the part is reported, just not its insides


def test_hidden_parts_never_leak_from_batch_reports() -> None:
    result = mixed().model_copy(update={"parts": [hidden_copy(leaky_visible_part())]})
    for output in (render_text_many([result]), render_md_many([result]), render_csv([result])):
        assert LEAK not in output


def test_instructors_see_hidden_feedback_but_never_a_key() -> None:
    result = mixed()
    assert f"The key is {LEAK}" in render(result, "text", audience="instructor")
    for fmt in FORMATS:
        assert f"The key is {LEAK}" not in render(result, fmt, audience="student"), fmt


def test_hidden_cases_show_only_counts() -> None:
    part = code_part()
    result = mixed().model_copy(update={"parts": [part]})
    for fmt in ("text", "md", "html", "gradescope"):
        output = render(result, fmt)
        assert "hidden-1" not in output and "hidden-2" not in output, fmt
        assert "1 of 2 passed" in output, fmt
        assert "two channels" in output, fmt


# ---------------------------------------------------------------------------------------------- wording


def test_students_are_never_told_all_tests_passed() -> None:
    all_visible_correct = mixed().model_copy(update={"parts": [
        PartResult(exercise_id="ex2", part_id="a", answer_type="number", points_possible=1, points_earned=1,
                   status=Status.correct, actual=5, expected=5),
        PartResult(exercise_id="ex4", part_id="a", answer_type="number", visibility=Visibility.hidden,
                   points_possible=2, points_earned=0, status=Status.pending),
    ]})
    for fmt in FORMATS:
        output = render(all_visible_correct, fmt)
        assert not re.search(r"all tests passed", output, re.IGNORECASE), fmt
        if fmt != "json":
            assert "All visible checks passed." in output, fmt
            assert "graded after submission" in output, fmt


def test_text_is_plain_and_at_most_100_columns() -> None:
    long_id = "s" + "x" * 180
    result = hostile().model_copy(update={"student_id": long_id + HOSTILE})
    for text in (render(result, "text"), render(mixed(), "text", audience="instructor"), render_text_many([result])):
        assert max(len(line) for line in text.splitlines()) <= 100
        assert "\x1b" not in text and "\x00" not in text


def test_markdown_cannot_be_broken_out_of() -> None:
    md = render(hostile(), "md")
    assert "\x1b" not in md
    # Outside fenced code (where text is literal) no markup survives; the fence outgrows the student's ```.
    assert "````text" in md
    prose = re.sub(r"^(`{3,})text\n.*?^\1$", "", md, flags=re.MULTILINE | re.DOTALL)
    # Inline code spans (the submission's name) are literal too: shown as typed, never markup.
    assert "`\"><img src=x onerror=alert(2)>,=cmd|x.yaml`" in prose
    prose = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", prose)
    assert "<script>" not in prose and "<img" not in prose and "&lt;script&gt;" in prose
    # the table row of the hostile part has exactly four cell separators (escaped pipes do not count)
    row = next(line for line in md.splitlines() if line.startswith("| ex2.a") or line.startswith("| ex2\\.a"))
    assert len(re.findall(r"(?<!\\)\|", row)) == 4


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


@pytest.mark.parametrize("audience", AUDIENCES)
def test_html_escapes_everything_from_students(audience: str) -> None:
    page = render(hostile(), "html", audience=audience)
    parser = _Tags()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert not [a for a in parser.attributes if a.startswith("on")]
    assert "&lt;script&gt;" in page
    assert "\x1b" not in page and "\x00" not in page


def test_html_is_self_contained_and_responsive() -> None:
    page = render(mixed(), "html")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    assert "@media" in page


def test_html_heatmaps_mark_differences_and_winners() -> None:
    result = mixed()
    part = next(p for p in result.parts if p.key == "ex3.b")
    page = render(result.model_copy(update={"parts": [part]}), "html")
    expected_cells = sum(len(row) * len(row[0]) for row in [part.expected])
    differing = sum(
        1 for i, row in enumerate(part.expected) for j, cell in enumerate(row) for k, value in enumerate(cell)
        if part.actual[i][j][k] != value
    )
    assert page.count('class="diff"') + page.count('class="diff win"') == differing
    winners = sum(v for row in part.annotations["expected_winners"] for cell in row for v in cell)
    winners += sum(v for row in part.annotations["actual_winners"] for cell in row for v in cell)
    assert len(re.findall(r'class="(?:diff )?win"', page)) == winners
    assert page.count('<table class="heat">') == 4  # 2 channels x (yours, expected)
    assert expected_cells == 16


def test_unknown_format_or_audience_is_named() -> None:
    with pytest.raises(ValueError, match="unknown report format 'pdf'.*text, md, json"):
        render(mixed(), "pdf")
    with pytest.raises(ValueError, match="audience must be one of student, instructor; got 'teacher'"):
        render(mixed(), "text", audience="teacher")  # type: ignore[arg-type]


def test_reports_import_only_the_result_model_text_helpers_and_the_standard_library() -> None:
    import sys

    # grader.text: the standard-library-only helpers for student text (one_line), shared with messages;
    # grader.notes: the standard-library-only texts grading writes and reports recognize (notes, case labels).
    allowed_prefixes = ("grader.result", "grader.report", "grader.text", "grader.notes", "__future__")
    for path in REPORT_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert name.startswith(allowed_prefixes) or top in sys.stdlib_module_names, f"{path.name}: {name}"


# ---------------------------------------------------------------------------------------------- any Result

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from(["\x00", "\x1b", "\ud800", "<", "&", "|", "`"]), max_size=40)
_number = st.floats(allow_nan=False, allow_infinity=False, width=32) | st.integers(-1000, 1000)
_values = st.none() | _number | _text | st.lists(st.lists(_number, min_size=2, max_size=2), min_size=1, max_size=3)


@st.composite
def any_part(draw: st.DrawFn, index: int) -> PartResult:
    hidden = draw(st.booleans())
    possible = draw(st.sampled_from([0, 1, 2, 2.5]))
    return PartResult(
        exercise_id=draw(st.sampled_from(["ex1", "ex2", "a b"])), part_id=f"p{index}", title=draw(_text),
        answer_type="number", visibility=Visibility.hidden if hidden else Visibility.visible,
        points_possible=possible, points_earned=possible * draw(st.sampled_from([0, 0.5, 1])),
        status=draw(st.sampled_from(list(Status))), actual=draw(_values),
        expected=None if hidden else draw(_values), feedback=draw(_text),
        details=[] if hidden else draw(st.lists(_text, max_size=2)),
    )


@st.composite
def any_result(draw: st.DrawFn) -> Result:
    count = draw(st.integers(0, 4))
    return Result(
        sheet_id=draw(st.sampled_from(["week7", "w"])), sheet_title=draw(_text), student_id=draw(_text),
        seed=draw(st.none() | st.integers(0, 2**31)), submission=draw(_text),
        parts=[draw(any_part(i)) for i in range(count)], error=draw(st.none() | _text),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_result())
def test_every_format_renders_any_result(result: Result) -> None:
    schema = load_junit_schema()
    for audience in AUDIENCES:
        for fmt in FORMATS:
            output = render(result, fmt, audience=audience)  # type: ignore[arg-type]
            output.encode("utf-8")  # no lone surrogates reach a file
        if schema is not None:
            schema.validate(render(result, "junit", audience=audience))
        text = render(result, "text", audience=audience)
        assert max(len(line) for line in text.splitlines()) <= 100
    assert parse_json_report(render(result, "json", audience="instructor")) == result
    list(csv.reader(io.StringIO(render_csv([result]), newline="")))


def test_bidirectional_controls_are_shown_not_obeyed() -> None:
    """A right-to-left override would make an id or an answer read as something else (Trojan Source)."""
    from grader.report.common import printable

    assert printable("s-\u202eabc\u2066x\u200f") == "s-\\u202eabc\\u2066x\\u200f"


def test_a_name_in_a_markdown_code_span_is_shown_as_typed() -> None:
    from grader.report.markdown import md_code_span

    assert md_code_span("my_answers & notes.yaml") == "`my_answers & notes.yaml`"
    assert md_code_span("a`b``c") == "```a`b``c```"
    assert md_code_span("`x\ny") == "`` `x y ``"
