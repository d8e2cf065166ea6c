"""How an answer file's bytes become answers, through real files and the real ``grader grade`` command: numbers as
a student (or numpy) writes them, encodings and byte-order marks, characters and YAML features answer files do
not take (each refused with one message naming the file, the line and the field), and alias bombs that stay
bounded also when the file needs its strings cleaned."""

from __future__ import annotations

import codecs
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner
from yaml.resolver import BaseResolver

from grader.cli import app
from grader.spec import load_sheet
from grader.submission.answer_file import MAX_STUDENT_ID_LENGTH, _AnswerLoader, parse_answer_file
from tests.test_answer_files import bomb as anchors

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"
SAMPLES = ROOT / "submissions" / "week7"

runner = CliRunner()


@pytest.fixture(scope="module")
def correct() -> dict[str, Any]:
    return yaml.safe_load((SAMPLES / "correct.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def part_types() -> dict[tuple[str, str], str]:
    return {(exercise.id, part.id): part.answer.type for exercise, part in load_sheet(WEEK7).parts()}


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="\n")
    else:
        path.write_bytes(content)
    return path


def grade(path: Path, sheet: Path = WEEK7) -> dict[str, Any]:
    """``grader grade -f json`` on one file: its Result as JSON (never a traceback)."""
    outcome = runner.invoke(app, ["grade", "-f", "json", str(sheet), str(path)])
    assert "Traceback" not in outcome.output
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.exception
    return json.loads(outcome.stdout)["result"]


def part(result: dict[str, Any], exercise_id: str, part_id: str) -> dict[str, Any]:
    return next(p for p in result["parts"] if (p["exercise_id"], p["part_id"]) == (exercise_id, part_id))


def assert_refused(result: dict[str, Any], path: Path, *words: str, line: int | None = None, field: str | None = None) -> str:
    """The file scores 0 with one message (one line) naming the file, ``line`` and ``field``, holding ``words``."""
    error = result["error"]
    assert error, "expected the file to be refused"
    assert "\n" not in error and error.startswith(path.name), error
    if line is not None:
        assert error.startswith(f"{path.name}:{line}" + (f" {field}:" if field else ":")), error
    elif field is not None:
        assert f" {field}:" in error, error
    for word in words:
        assert word in error, error
    assert result["points_earned"] == 0 and all(p["points_earned"] == 0 for p in result["parts"])
    return error


# ---- 1. alias bombs and text cleaning ----------------------------------------------------------------------
def bomb() -> list[str]:
    """Anchors a: [1 x9], b: [*a x9], ..., i: the last one stands for 9**9 entries (387 million) in about 600 bytes,
    indented as answers of an exercise. Copying it entry by entry took 46 s and 3.8 GB before failing."""
    return ["    " + line for line in anchors(levels=9)]


def test_an_alias_bomb_in_a_file_with_a_unicode_escape_is_graded_not_copied(tmp_path: Path) -> None:
    """A ``\\u`` anywhere (here in a comment) makes the loader clean every string of the document; the cleaning
    visits each shared list once and keeps it shared, so the bomb is graded like one without the escape."""
    text = "\n".join([
        "student: s  # \\u: a comment that needs no cleaning",
        "answers:",
        "  ex9:",
        *bomb(),
        "  ex3:",
        "    b_pool: *i",
        "  ex2:",
        '    a_formula: "(n + 2*p - f)/s + 1 \\u00e9"',  # libyaml refuses a lone surrogate; JSON files may hold one
        "",
    ])
    assert len(text.encode()) < 1000
    path = write(tmp_path, "bomb.yaml", text)
    result = grade(path)
    assert result["error"] is None and result["student_id"] == "s"
    pooled = part(result, "ex3", "b_pool")
    assert pooled["status"] == "invalid" and pooled["feedback"]
    assert part(result, "ex2", "a_formula")["answer_text"].endswith("\u00e9")
    assert any("ex9" in note for note in result["notes"])
    parsed = parse_answer_file(path, path.read_bytes())
    shared = parsed.answers["ex9"]["i"]
    assert shared is parsed.answers["ex3"]["b_pool"] and all(item is shared[0] for item in shared)


@pytest.mark.parametrize(
    "answer",
    ["&loop [*loop]  # \\u", "\n      " + "- " * 900 + "'\\u00e9'"],
    ids=["holds-itself", "nested-900-deep"],
)
def test_a_list_that_holds_itself_or_nests_900_deep_is_graded_when_cleaned(tmp_path: Path, answer: str) -> None:
    """Cleaning keeps its own stack: libyaml builds lists 1000 levels deep (the old recursive walk hit
    RecursionError, a traceback) and lists that hold themselves."""
    path = write(tmp_path, "deep.yaml", f"student: s\nanswers:\n  ex3:\n    b_pool: {answer}\n")
    result = grade(path)
    assert result["error"] is None and part(result, "ex3", "b_pool")["status"] == "invalid"


# ---- 2. numbers as people and numpy write them ---------------------------------------------------------------
def numpy_style(value: Any, kind: str) -> str:
    """``value`` as YAML flow text, written the way a student copying numpy output or typing by hand would:
    numbers and array entries with exponents (``7e0``, ``5.4305859006148940e-01``), whole numbers with a leading
    zero (``028``); other parts as JSON."""
    if isinstance(value, list):
        return "[" + ", ".join(numpy_style(item, kind) for item in value) + "]"
    if isinstance(value, bool) or not isinstance(value, int | float) or kind not in ("integer", "number", "array"):
        return json.dumps(value)
    if kind == "integer":
        return f"0{value}" if value >= 0 else str(value)
    return f"{int(value)}e0" if value == int(value) else f"{value:.16e}"


@pytest.mark.parametrize("sample", ["correct.yaml", "correct-seed-17.yaml"])
def test_numbers_written_as_numpy_prints_them_and_leading_zeros_are_read_as_meant(
    tmp_path: Path, part_types: dict[tuple[str, str], str], sample: str
) -> None:
    """``9e0``, ``5.4305859006148940e-01`` are numbers (YAML 1.1 read them as text, and arrays refused them as
    quoted); ``028`` is 28, not an octal number; ``seed: 017`` is variant 17, not 15; ``student: 0123`` is
    ``0123``, not 83. A right answer written so scores full points."""
    data = yaml.safe_load((SAMPLES / sample).read_text(encoding="utf-8"))
    lines = ["student: 0123"] + ([f"seed: 0{data['seed']}"] if "seed" in data else []) + ["answers:"]
    for exercise_id, parts in data["answers"].items():
        lines.append(f"  {exercise_id}:")
        lines.extend(f"    {part_id}: {numpy_style(value, part_types[exercise_id, part_id])}" for part_id, value in parts.items())
    text = "\n".join(lines) + "\n"
    assert re.search(r"\d\.\d{16}e-0\d", text) and re.search(r"\[\d+e0, \d+e0\]", text) and re.search(r"c_count: 0\d", text)
    result = grade(write(tmp_path, "numpy.yaml", text))
    assert result["error"] is None and result["student_id"] == "0123" and result["seed"] == data.get("seed")
    assert result["score"] == pytest.approx(1.0), [(p["key"], p["feedback"]) for p in result["parts"] if p["status"] != "correct"]


@pytest.mark.parametrize(
    ("written", "student"),
    [("0123", "0123"), ("00012345", "00012345"), ("12:30", "12:30"), ("0x1F", "0x1F"), ("1e5", "1e5"),
     ("1.50", "1.50"), ("123456", "123456"), ("'0123'", "0123"), ("2001-12-14", "2001-12-14")],
)
def test_a_student_id_is_kept_as_written(tmp_path: Path, written: str, student: str) -> None:
    """YAML 1.1 made ``0123`` the id 83, ``12:30`` 750 and ``0x1F`` 31."""
    result = grade(write(tmp_path, "id.yaml", f"student: {written}\nanswers:\n  ex3:\n    c_count: 3\n"))
    assert result["error"] is None and result["student_id"] == student


@pytest.mark.parametrize(("written", "seed"), [("17", 17), ("017", 17), ("'17'", 17), ('" 17 "', 17), ("0", 0)])
def test_a_seed_is_read_as_a_decimal_whole_number(tmp_path: Path, written: str, seed: int) -> None:
    result = grade(write(tmp_path, "seed.yaml", f"student: s\nseed: {written}\nanswers:\n  ex3:\n    c_count: 3\n"))
    assert result["error"] is None and result["seed"] == seed


@pytest.mark.parametrize(
    ("written", "got"),
    [("0x1F", "got the text '0x1F'"), ("12:30", "got the text '12:30'"), ("-1", "got -1"), ("1.5", "got 1.5"),
     ("1e3", "got 1000.0"), ("'seventeen'", "got the text 'seventeen'"), ("true", "got true"), ("[1]", "got [1]"),
     ("99999999999999999999", "got a whole number of 20 digits")],
)
def test_a_seed_that_is_no_decimal_whole_number_is_refused_at_its_line(tmp_path: Path, written: str, got: str) -> None:
    path = write(tmp_path, "seed.yaml", f"student: s\nseed: {written}\nanswers: {{}}\n")
    assert_refused(grade(path), path, "'seed' must be a whole number >= 0", got, line=2, field="seed")


def test_a_number_in_quotes_is_still_text_an_array_refuses(tmp_path: Path) -> None:
    path = write(tmp_path, "quoted.yaml", "student: s\nanswers:\n  ex3:\n    b_pool: [[[7, '9e0'], [5, 7]], [[7, 7], [5, 6]]]\n")
    result = grade(path)
    assert result["error"] is None
    assert part(result, "ex3", "b_pool")["feedback"] == "the entry at index [0, 0, 1] is the text '9e0'; write numbers without quotes"


def test_sheets_keep_yaml_1_1_numbers() -> None:
    """Only answer files read numbers the new way: PyYAML's SafeLoader (sheets) is untouched."""
    assert yaml.safe_load("[017, 0x1F, 1e-05, 12:30]") == [15, 31, "1e-05", 750]
    assert yaml.load("[017, 0x1F]", Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) == [15, 31]  # noqa: S506


# ---- 3-5. encodings ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_utf8_byte_order_mark_is_skipped(tmp_path: Path, correct: dict[str, Any], suffix: str) -> None:
    body = json.dumps(correct) if suffix == ".json" else (SAMPLES / "correct.yaml").read_text(encoding="utf-8")
    path = write(tmp_path, f"bom{suffix}", codecs.BOM_UTF8 + body.encode("utf-8"))
    result = grade(path)
    assert result["error"] is None and result["score"] == pytest.approx(1.0) and result["student_id"] == "s-correct"


@pytest.mark.parametrize(
    ("encoding", "mark", "name", "shown"),
    [("utf-16-le", codecs.BOM_UTF16_LE, "UTF-16", "FF FE"), ("utf-16-be", codecs.BOM_UTF16_BE, "UTF-16", "FE FF"),
     ("utf-32-le", codecs.BOM_UTF32_LE, "UTF-32", "FF FE 00 00"), ("utf-32-be", codecs.BOM_UTF32_BE, "UTF-32", "00 00 FE FF")],
)
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_file_saved_as_utf16_or_utf32_is_refused_saying_so(
    tmp_path: Path, suffix: str, encoding: str, mark: bytes, name: str, shown: str
) -> None:
    """Windows editors save "Unicode" as UTF-16 with a byte-order mark: that is no Latin-1 file."""
    path = write(tmp_path, f"wide{suffix}", mark + '{"student": "s", "answers": {}}\n'.encode(encoding))
    error = assert_refused(grade(path), path, f"saved as {name}", f"byte-order mark {shown}", "save it as UTF-8", line=1)
    assert "Latin-1" not in error


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_file_saved_as_utf16_without_a_byte_order_mark_is_refused_saying_so(tmp_path: Path, suffix: str) -> None:
    """ASCII saved as UTF-16 without a mark is "valid" UTF-8 with a NUL after each character."""
    path = write(tmp_path, f"wide{suffix}", '{"student": "s", "answers": {}}\n'.encode("utf-16-le"))
    assert_refused(grade(path), path, "saved as UTF-16", "save it as UTF-8", line=1)


@pytest.mark.parametrize(
    ("value", "column", "code"),
    [("2\x1b7", 15, "U+001B"), ("\x00", 14, "U+0000"), ("'é€\x07'", 17, "U+0007")],
    ids=["escape", "nul", "after-non-ascii"],
)
def test_a_control_character_is_refused_at_its_line_and_column(tmp_path: Path, value: str, column: int, code: str) -> None:
    """libyaml says only "position 41" (a byte offset), on two lines; the student gets line and column (in
    characters, as an editor counts them)."""
    path = write(tmp_path, "control.yaml", f"student: s\nanswers:\n  ex2:\n    a_set_b: {value}\n")
    error = assert_refused(
        grade(path), path, f"column {column} has the control character {code}", "YAML does not allow", line=4
    )
    assert "position" not in error


# ---- 6. YAML features answer files do not take -----------------------------------------------------------
def test_a_merge_key_is_refused_at_its_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "merge.yaml", "student: s\nanswers:\n  ex9: &base {a: 2x2x2}\n  ex3: {<<: *base, c_count: 3}\n")
    assert_refused(
        grade(path), path, "merge keys (<<) are not supported in answer files; write each answer out",
        line=4, field="answers.ex3",
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [("!!int", "!!int '' is not a decimal whole number"),  # IndexError before
     ("!!float", "!!float '' is not a number"),
     ("!!int 0x1F", "!!int '0x1F' is not a decimal whole number"),
     ("!!bool maybe", "!!bool 'maybe' is not yes/no/true/false"),  # KeyError before
     ("!!timestamp soon", "the tag !!timestamp is not supported"),  # AttributeError before
     ("!!set [1]", "the tag !!set is not supported"),  # TypeError before
     ("!!binary aGk=", "the tag !!binary is not supported"),
     ("!!python/object/apply:os.system [ls]", "the tag !!python/object/apply:os.system is not supported"),
     ("!custom 3", "the tag !custom is not supported"),
     ("!!map [1, 2]", "the tag !!map needs key: value pairs here"),  # TypeError before
     ("!!map x", "the tag !!map needs key: value pairs here")],  # "more than 4300 digits" before
)
def test_a_tag_that_builds_no_answer_is_refused_at_its_line_and_field(tmp_path: Path, value: str, message: str) -> None:
    path = write(tmp_path, "tag.yaml", f"student: s\nanswers:\n  ex2:\n    a_set_a: 4\n    a_set_b: {value}\n")
    assert_refused(grade(path), path, message, line=5, field="answers.ex2.a_set_b")


def test_explicit_core_tags_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, "tags.yaml", "student: !!str 0123\nanswers:\n  ex3:\n    c_count: !!int 3\n    d_exists: !!bool yes\n")
    result = grade(path)
    assert result["error"] is None and result["student_id"] == "0123"
    assert part(result, "ex3", "c_count")["status"] == "correct" and part(result, "ex3", "d_exists")["status"] == "correct"


def test_a_key_given_twice_names_its_field(tmp_path: Path) -> None:
    path = write(tmp_path, "twice.yaml", "student: s\nanswers:\n  ex2:\n    a_set_a: 4\n    a_set_a: 5\n")
    assert_refused(grade(path), path, "twice.yaml:5: answers.ex2.a_set_a is given twice (first on line 4); keep one", line=5)


# ---- 7-8. long values are not repeated ---------------------------------------------------------------------
@pytest.mark.parametrize("seed", ["'" + "x" * 900_000 + "'", "9" * 4000], ids=["900-kB-text", "4000-digits"])
def test_a_huge_seed_is_refused_without_repeating_it(tmp_path: Path, seed: str) -> None:
    path = write(tmp_path, "seed.yaml", f"student: s\nseed: {seed}\nanswers: {{}}\n")
    error = assert_refused(grade(path), path, "'seed' must be a whole number", line=2, field="seed")
    assert len(error) < 250, error


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_student_id_of_megabytes_is_refused_at_its_line(tmp_path: Path, suffix: str) -> None:
    size = 900_000 if suffix == ".yaml" else 3_000_000  # YAML files over 1 MiB are refused unread
    body = {"student": "s" * size, "answers": {}}
    text = json.dumps(body, indent=1) if suffix == ".json" else f"student: {body['student']}\nanswers: {{}}\n"
    path = write(tmp_path, f"id{suffix}", text)
    error = assert_refused(
        grade(path), path, f"'student' is {size} characters long; a student id has at most {MAX_STUDENT_ID_LENGTH}",
        line=2 if suffix == ".json" else 1, field="student",
    )
    assert len(error) < 250, error


def test_an_id_of_the_longest_length_is_kept(tmp_path: Path) -> None:
    student = "s" * MAX_STUDENT_ID_LENGTH
    result = grade(write(tmp_path, "id.yaml", f"student: {student}\nanswers: {{}}\n"))
    assert result["error"] is None and result["student_id"] == student


def test_unknown_top_level_fields_are_listed_briefly_at_their_line(tmp_path: Path) -> None:
    fields = "".join(f"{'k' * 1000}{index}: 1\n" for index in range(50))
    path = write(tmp_path, "fields.yaml", "student: s\n" + fields + "answers: {}\n")
    error = assert_refused(grade(path), path, "unknown top-level field(s)", "and 47 more", line=2)
    assert len(error) < 300, error


# ---- the installed program -----------------------------------------------------------------------------------
def test_the_command_prints_one_located_line_for_a_refused_file(tmp_path: Path) -> None:
    """``python -m grader grade``: exit 2 and the message on stderr, no traceback."""
    path = write(tmp_path, "control.yaml", "student: s\nanswers:\n  ex2:\n    a_set_b: 2\x1b7\n")
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(WEEK7), str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr + done.stdout
    assert "control.yaml:4: not valid YAML: column 15 has the control character U+001B" in done.stderr


def test_ids_that_yaml_1_1_reads_as_booleans_are_names_in_answer_files(tmp_path: Path) -> None:
    """A sheet may name an exercise ``yes`` or a part ``on`` (validate accepts them, ``grader template`` writes them
    unquoted); as keys they had become True and the whole exercise scored 0 ("this sheet has no exercise 'True'").
    Values keep YAML 1.1's booleans: ``yes`` answers a yes/no part."""
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(
        WEEK7.read_text(encoding="utf-8").replace("- id: a_set_a\n", "- id: on\n").replace("- id: ex2\n", "- id: yes\n"),
        encoding="utf-8",
    )
    answers = write(tmp_path, "answers.yaml", "student: s1\nanswers:\n  yes:\n    on: 28\n    off: yes\n  ex3:\n    d_exists: yes\n")
    parsed = parse_answer_file(answers, answers.read_bytes())
    assert parsed.answers == {"yes": {"on": 28, "off": True}, "ex3": {"d_exists": True}}
    run = runner.invoke(app, ["grade", str(sheet), str(answers), "--format", "json"])
    result = json.loads(run.stdout)["result"]
    assert part(result, "yes", "on")["status"] == "correct", result


def test_a_tab_that_yaml_cannot_read_is_named_as_a_tab(tmp_path: Path) -> None:
    """PyYAML says "found character that cannot start any token"; a student is told to indent with spaces."""
    path = write(tmp_path, "tab.yaml", "student: s1\nanswers:\n  ex2:\n\ta_set_a: 28\n")
    result = grade(path)
    assert result["error"] == "tab.yaml:4: not valid YAML: a tab at column 1: YAML indents with spaces only; replace the tab with spaces"


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        ("student: s1\nanswers:\n  ex1:\n    a: [1, 2\n    b: 3\n", "slip.yaml:5: ", "; is the '[' at line 4, column 8 closed?"),
        ("student: s1\nanswers:\n  ex2:\n    a_formula: n: 2\n", "slip.yaml:4: ", "; a value holding ': ' must be in quotes: a_formula: 'n: 2'"),
    ],
)
def test_yaml_slips_in_an_answer_file_get_a_hint(tmp_path: Path, text: str, where: str, hint: str) -> None:
    """An unclosed '[' was reported on the next line with no word of where it opened. (PyYAML's own words differ
    between its C parser and its Python one: only the place and the hint are pinned.)"""
    error = grade(write(tmp_path, "slip.yaml", text))["error"]
    assert error.startswith(f"{where}not valid YAML: ") and error.endswith(hint), error


def test_text_after_a_value_is_not_called_an_indentation_slip(tmp_path: Path) -> None:
    error = grade(write(tmp_path, "after.yaml", "student: s1\nanswers:\n  ex3:\n    a: [2, 2, 2] x\n"))["error"]
    assert error.startswith("after.yaml:4: not valid YAML: ") and "indented" not in error, error


@pytest.mark.parametrize(
    ("text", "suffix", "student"),
    [
        (b"student: s123\nseed: 4\nanswers:\n  ex1: [1, 2\n", ".yaml", "s123"),
        (b'student: "abc.def@x"  # me\n', ".yaml", "abc.def@x"),
        (b"\xef\xbb\xbfstudent: s77\r\nseed: 2\r\n", ".yaml", "s77"),
        (b'{"student": "s9", "answers": {', ".json", "s9"),
        (b"student: 's-12 3'\n", ".yaml", ""),  # not a plain id
        (b"student: s1\nstudent: s2\n", ".yaml", ""),  # which one?
        (b"  student: s1\n", ".yaml", ""),  # not a top-level line
        (b"student: [s1\n", ".yaml", ""),
        (b"student:\n", ".yaml", ""),
        (b'{"student": "s9", "x": {"student": "s8"}', ".json", ""),
        (b"\xff\xfe s\x00t\x00", ".yaml", ""),
    ],
)
def test_the_student_of_an_unreadable_file_is_taken_only_when_plainly_written(text: bytes, suffix: str, student: str) -> None:
    from grader.submission.answer_file import salvaged_student

    assert salvaged_student(text, suffix) == student


@settings(max_examples=300)
@given(texts=st.lists(st.one_of(
    st.sampled_from(["yes", "No", "ON", "off", "true", "~", "null", "", "0", "-0", "+1", "0123", "0x1F", "0o7", "1e5",
                     "1_000", ".5", "-.5", "1.", ".inf", "-.NaN", "2024-01-01", "1:30", "−3", "a_set_a", "<<", "="]),
    st.text(alphabet="0123456789+-.eExXoO_:yYnN~", max_size=12),
    st.text(max_size=14),
), max_size=8))
def test_short_scalars_read_the_same_from_the_tag_cache(texts: list[str]) -> None:
    """A plain scalar's tag, remembered for short texts (:meth:`_AnswerLoader.resolve`), is the one resolving it
    afresh gives, on the first meeting and on later ones, and the answers read are the same."""
    loader = _AnswerLoader("")
    try:
        for text in texts * 2:
            for implicit in [(True, False), (False, True), (False, False)]:
                fresh = BaseResolver.resolve(loader, yaml.ScalarNode, text, implicit)
                assert loader.resolve(yaml.ScalarNode, text, implicit) == fresh, (text, implicit)
    finally:
        loader.dispose()


_SCALARS = ["1", "-2", "0.50", "1e5", "4.4e-1", ".inf", "-.nan", "yes", "No", "~", "null", "''", '"1"', "abc", "1_000",
            "0x1F", "0o7", "2024-01-01", "−3", "–0.5", "!!int 3", "!!int x", "!!float 2", "!!str 5", "!!bool yes",
            "!!bool 2", "!!binary aGk=", "!!timestamp 2020-01-01", "!!null ''", "!custom 1", "!!map x", "!!seq y",
            "!!python/object x", "*a", "*b", "&a 7", "&a yes", "&b no", "&a .nan", "&b !!float nan", "&a 1.50", "1" * 5000]
_KEYS = ["a", "b", "a", "yes", "true", "1", "1.0", "~", "[1, 2]", "{x: 1}", "<<", "!!str 1", "&b k", "*a", "*b", "&a no", ".nan"]


def _yaml_value(depth: int) -> st.SearchStrategy[str]:
    scalar = st.sampled_from(_SCALARS)
    if depth == 0:
        return scalar
    inner = _yaml_value(depth - 1)
    anchor = st.sampled_from(["", "&a ", "&b ", "!!seq ", "!!map ", "!!set "])
    sequence = st.tuples(anchor, st.lists(inner, max_size=4)).map(lambda t: f"{t[0]}[{', '.join(t[1])}]")
    mapping = st.tuples(anchor, st.lists(st.tuples(st.sampled_from(_KEYS), inner), max_size=4)).map(
        lambda t: t[0] + "{" + ", ".join(f"{key}: {value}" for key, value in t[1]) + "}"
    )
    return st.one_of(scalar, sequence, mapping)


def _typed(value: Any, seen: dict[int, int] | None = None) -> Any:
    """``value`` with every number's type and written text (to tell ``1`` from ``1.0`` and ``0.50`` from ``0.5``),
    and each list, mapping or number met again (an alias: one object, as PyYAML shares it) as a reference to its
    first."""
    seen = {} if seen is None else seen
    if isinstance(value, dict | list | float) or (isinstance(value, int) and not isinstance(value, bool)):
        if id(value) in seen:
            return ("same as", seen[id(value)])
        seen[id(value)] = len(seen)
    if isinstance(value, dict):
        return [(_typed(key, seen), _typed(item, seen)) for key, item in value.items()]
    if isinstance(value, list):
        return ["list", *(_typed(item, seen) for item in value)]
    return (type(value).__name__, repr(value), getattr(value, "text", None))


def _read(text: str, method: str) -> tuple[Any, ...]:
    loader = _AnswerLoader(text)
    try:
        root = loader.get_single_node()
        return ("read", _typed(getattr(loader, method)(root)))
    except RecursionError:
        return ("too deep",)
    except Exception as error:  # noqa: BLE001 -- the two paths must fail alike, whatever the failure
        return ("refused", type(error).__name__, str(error))
    finally:
        loader.dispose()


@settings(max_examples=500)
@given(document=_yaml_value(3))
@example(document="{a: &a [1, 2], b: *a}")
@example(document="&a [1, *a]")
@example(document="{yes: 1, 'yes': 2}")
@example(document="{ex1: {p: &b no}, ex2: {*b : 3}, ex3: {q: *b}}")
@example(document="{a: &x yes, *x : 1}")
@example(document="{? &n !!float nan : 1, ? *n : 2}")
@example(document="{a: &x 1.50, b: *x}")
def test_answer_files_build_alike_on_the_plain_path_and_pyyaml_s(document: str) -> None:
    """The direct builder of plain trees (:meth:`_AnswerLoader.construct_answers`) gives what PyYAML's constructor
    gives -- every value, its type and written digits -- and, for trees it leaves to PyYAML (aliases, tags, keys
    given twice, refused scalars), the very same message."""
    assert _read(document, "construct_answers") == _read(document, "construct_document")
