"""Sheet mistakes ``grader validate`` once accepted silently (or told several times, or only when grading), each now
one located error: a code part's function named by a Python keyword, a property check's zero shift or a setting its
kind ignores, a random draw given settings its ``dist`` ignores (a sheet input's or a code part's random case
argument's), quoted numbers in an input's ``value`` or a random case argument, a ``follow_through`` naming a later
part, and a code case argument the student's function cannot take as a parameter.

Every test writes real YAML in a temporary folder and runs ``grader validate`` (``grader.cli.main``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Grader, line_of, validate_errors, write

SHEET = """\
id: s
validation_seeds: [1]
exercises:
  - id: e
    inputs:
      x: {value: [[1, 2], [3, 4]]}
      r: {random: {dist: normal, shape: [2], mean: 0, std: 1}}
      u: {random: {dist: uniform, low: -1, high: 1}}
    quantities:
      s: {op: sum, x: $x}
    parts:
      - id: total
        prompt: "The sum of x."
        points: 1
        answer: {type: number}
        expected: $s
      - id: double
        prompt: "Twice the sum."
        points: 1
        answer: {type: number}
        expected: {op: mul, a: $s, b: 2}
        follow_through:
          - {part: total, replaces: s}
      - id: code
        prompt: "Code: twice(x) returns 2x."
        points: 1
        answer:
          type: code
          function: twice
          cases:
            - {name: one, inputs: {x: $x}}
          properties:
            - {kind: equivariance, case: one, input: x, shift: [1, 0]}
        expected: {op: mul, a: $x, b: 2}
"""


def one_located(grader: Grader, tmp_path: Path, text: str) -> dict[str, str]:
    """The only error of ``grader validate`` on ``text``, without its file (checked to be the sheet's)."""
    path = write(tmp_path, text)
    errors = validate_errors(grader, path)
    assert len(errors) == 1, errors
    assert errors[0].pop("file") == str(path)
    return errors[0]


def test_the_sheet_is_valid(tmp_path: Path, grader: Grader) -> None:
    run = grader("validate", write(tmp_path, SHEET))
    assert run.code == 0, run.err


# ---- 1. a function named by a keyword ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["class", "None", "lambda"])
def test_a_keyword_function_name_is_refused(tmp_path: Path, grader: Grader, name: str) -> None:
    text = SHEET.replace("function: twice", f"function: {name}")
    assert one_located(grader, tmp_path, text) == {
        "line": str(line_of(text, f"function: {name}")), "path": "exercises[0].parts[2].answer.function",
        "message": f"{name!r} is a Python keyword: the function name must be a Python identifier that is not a keyword "
                   f"(e.g. {name.lower()}_fn)",
        "code": "spec-name",
    }


def test_a_function_name_that_is_no_identifier_was_already_refused(tmp_path: Path, grader: Grader) -> None:
    text = SHEET.replace("function: twice", 'function: "9lives"')
    assert one_located(grader, tmp_path, text) == {
        "line": str(line_of(text, "function: ")), "path": "exercises[0].parts[2].answer.function",
        "message": "'9lives' is not a valid name: ASCII letters (A-Z, a-z), digits and underscores, not starting with a "
                   "digit",
        "code": "spec-name",
    }


# ---- 2. a zero shift ---------------------------------------------------------------------------------------------
def test_a_zero_shift_is_refused(tmp_path: Path, grader: Grader) -> None:
    text = SHEET.replace("shift: [1, 0]", "shift: [0, 0]")
    assert one_located(grader, tmp_path, text) == {
        "line": str(line_of(text, "shift: [0, 0]")), "path": "exercises[0].parts[2].answer.properties[0].shift",
        "message": "shift [0, 0] moves nothing, so the check would pass for any function: a shift must move the image "
                   "by at least one pixel (dy or dx not 0), e.g. [1, 1]",
        "code": "spec-invalid",
    }


# ---- 3. settings a draw ignores ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("mean: 0, std: 1}", "mean: 0, std: 1, low: -1, high: 1}", "r.random.low",
         "low is not used when dist is normal: normal draws take mean and std, integers and uniform draws take low "
         "and high; drop low or write dist: uniform"),
        ("std: 1}", "std: 1, high: 1}", "r.random.high",
         "high is not used when dist is normal: normal draws take mean and std, integers and uniform draws take low "
         "and high; drop high or write dist: uniform"),
        ("low: -1, high: 1}", "low: -1, high: 1, mean: 0}", "u.random.mean",
         "mean is not used when dist is uniform: normal draws take mean and std, integers and uniform draws take low "
         "and high; drop mean or write dist: normal"),
        ("dist: uniform, low: -1, high: 1}", "dist: integers, low: -1, high: 1, std: 2}", "u.random.std",
         "std is not used when dist is integers: normal draws take mean and std, integers and uniform draws take low "
         "and high; drop std or write dist: normal"),
    ],
)
def test_a_setting_the_draw_ignores_is_refused(tmp_path: Path, grader: Grader, old: str, new: str, field: str, message: str) -> None:
    text = SHEET.replace(old, new)
    assert one_located(grader, tmp_path, text) == {
        "line": str(line_of(text, new)), "path": f"exercises[0].inputs.{field}", "message": message, "code": "spec-invalid",
    }


def test_a_draw_with_only_its_own_settings_or_defaults_is_fine(tmp_path: Path, grader: Grader) -> None:
    text = SHEET.replace("{dist: normal, shape: [2], mean: 0, std: 1}", "{dist: normal, shape: [2]}").replace(
        "{dist: uniform, low: -1, high: 1}", "{low: 0, high: 3}"
    )
    assert grader("validate", write(tmp_path, text)).code == 0


# ---- 4. quoted numbers -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('[["1.0", 2], [3, 4]]', "'1.0' (at value[0][0]) is a number written as text (in quotes, or as a block scalar); write it as a plain number: 1.0"),
        ('"3"', "'3' is a number written as text (in quotes, or as a block scalar); write it as a plain number: 3"),
        ("[[1, 2], [3, '-4e-1']]", "'-4e-1' (at value[1][1]) is a number written as text (in quotes, or as a block scalar); write it as a plain number: -4e-1"),
        ('" 3"', "' 3' is a number written as text (in quotes, or as a block scalar); write it as a plain number: 3"),
    ],
)
def test_a_quoted_number_in_a_value_is_refused(tmp_path: Path, grader: Grader, value: str, message: str) -> None:
    text = SHEET.replace("x: {value: [[1, 2], [3, 4]]}", f"x: {{value: {value}}}")
    assert one_located(grader, tmp_path, text) == {
        "line": str(line_of(text, "x: {value:")), "path": "exercises[0].inputs.x.value", "message": message,
        "code": "spec-invalid",
    }


def test_unquoted_numbers_yaml_leaves_as_text_are_still_read(tmp_path: Path, grader: Grader) -> None:
    """``010`` (zero-padded) and ``1_000`` are text to the sheet loader when unquoted, and numbers as before."""
    text = SHEET.replace("x: {value: [[1, 2], [3, 4]]}", "x: {value: [[010, 2], [3, 1_000]]}")
    assert grader("validate", write(tmp_path, text)).code == 0


# ---- 5. follow_through naming a later part -----------------------------------------------------------------------
def test_follow_through_naming_a_later_part_is_refused(tmp_path: Path, grader: Grader) -> None:
    total = '      - id: total\n        prompt: "The sum of x."\n        points: 1\n        answer: {type: number}\n        expected: $s\n'
    assert total in SHEET
    text = SHEET.replace(total, "").replace("      - id: code\n", total + "      - id: code\n")
    assert one_located(grader, tmp_path, text) == {
        "line": str(line_of(text, "{part: total")), "path": "exercises[0].parts[0].follow_through[0].part",
        "message": "follow_through.part names 'total', which comes after this part: follow-through credits an answer "
                   "judged by the student's own answer to an earlier part; this is the exercise's first part, or move "
                   "'total' before 'double'",
        "code": "spec-follow-through",
    }


def test_follow_through_naming_the_part_itself_was_already_refused(tmp_path: Path, grader: Grader) -> None:
    text = SHEET.replace("{part: total, replaces: s}", "{part: double, replaces: s}")
    assert one_located(grader, tmp_path, text) == {
        "line": str(line_of(text, "{part: double")), "path": "exercises[0].parts[1].follow_through[0].part",
        "message": "follow_through.part names this part itself; the other parts: total, code", "code": "spec-follow-through",
    }


RANDOM_CASES = """\
          random_cases:
            count: 2
            args:
              x: ARG
"""


@pytest.mark.parametrize(
    ("arg", "field", "message"),
    [
        ("{shape: [2, 2], dist: normal, std: 0}", ".std", "Input should be greater than 0"),
        ("{shape: [2, 2], dist: normal, low: 1}", ".low",
         "low is not used when dist is normal: normal draws take mean and std, integers and uniform draws take low "
         "and high; drop low or write dist: uniform"),
        ("[1, 2]", "",
         "an argument of the random cases is a random array ({shape: [...], dist: ...}), the name of a dim, or a "
         "number; got list"),
        ("~", "",
         "an argument of the random cases is a random array ({shape: [...], dist: ...}), the name of a dim, or a "
         "number; got null"),
        ("'2.5'", "", "'2.5' is a number written as text (in quotes); write it as a plain number: 2.5"),
        ("'n + 1'", "",
         "'n + 1' is not the name of a dim (ASCII letters, digits and underscores); an argument is a random array, a "
         'dim\'s name or a number (formulas of dims such as "m + f - 1" go in a random array\'s shape)'),
        (".inf", "", "an argument of the random cases must be a finite number, got inf"),
        ("1_000", "",  # text to YAML, unquoted: not told to drop quotes it has none of
         "'1_000' is not the name of a dim (ASCII letters, digits and underscores); an argument is a random array, a "
         'dim\'s name or a number (formulas of dims such as "m + f - 1" go in a random array\'s shape)'),
    ],
)
def test_a_random_case_argument_is_told_once_at_its_place(
    tmp_path: Path, grader: Grader, arg: str, field: str, message: str
) -> None:
    """A mistake in a code part's random case argument is one error, at the argument (it was told once per form an
    argument may take: a random array, a dim's name, a float, an int), and a setting the draw ignores is refused
    there as it is for a sheet's inputs."""
    text = SHEET.replace("          properties:\n", RANDOM_CASES.replace("ARG", arg) + "          properties:\n")
    error = one_located(grader, tmp_path, text)
    assert error["path"] == f"exercises[0].parts[2].answer.random_cases.args.x{field}"
    assert error["line"] == str(line_of(text, "x: " + arg)) and error["message"] == message


def test_random_case_arguments_of_every_form_are_read(tmp_path: Path, grader: Grader) -> None:
    arg = "{shape: [2, 2], dist: normal, mean: 1, std: 2}\n              n: 3\n              m: 0.5"
    run = grader("validate", write(tmp_path, SHEET.replace("          properties:\n", RANDOM_CASES.replace("ARG", arg) + "          properties:\n")))
    assert run.code == 0, run.err


def test_a_name_with_a_line_break_is_shown_escaped_on_one_line(tmp_path: Path, grader: Grader) -> None:
    """The place of an error is one line of ``grader validate``'s output even for a key holding a line break (a
    name ending in one was once accepted)."""
    for name, shown in (('"a\\nb"', '["a\\nb"]'), ('"a\\n"', '["a\\n"]')):
        text = SHEET.replace("      x: {value: [[1, 2], [3, 4]]}\n", f"      x: {{value: [[1, 2], [3, 4]]}}\n      {name}: {{value: 1}}\n")
        error = one_located(grader, tmp_path, text)
        assert error["path"] == f"exercises[0].inputs{shown}", error


@pytest.mark.parametrize("name", ["lambda", "my x", "class"])
def test_an_argument_name_the_function_cannot_take_is_refused(tmp_path: Path, grader: Grader, name: str) -> None:
    """A code case's input names a parameter of the student's function: a keyword or a name with a space passed
    validate, then stopped grading (the sandbox refuses such an argument)."""
    text = SHEET.replace("{name: one, inputs: {x: $x}}", f'{{name: one, inputs: {{"{name}": $x}}}}')
    error = one_located(grader, tmp_path, text)
    shown = name if name.isidentifier() else f'["{name}"]'
    assert error["path"] == f"exercises[0].parts[2].answer.cases[0].inputs{'.' if name.isidentifier() else ''}{shown}"
    assert error["message"] == (
        f"{name!r} is not a valid argument name: the student's function takes it as a parameter, so it must be a "
        "Python identifier (ASCII letters, digits and underscores, not starting with a digit) that is not a keyword"
    )


@pytest.mark.parametrize(
    ("check", "field", "message"),
    [
        ("{kind: pool_invariance, case: one, input: x, shift: [1, 0]}", "shift",
         "shift is not used by a pool_invariance check (it takes max_shift): drop shift, or write the kind of check "
         "that uses it"),
        ("{kind: equivariance, case: one, input: x, max_shift: 2}", "max_shift",
         "max_shift is not used by an equivariance check (it takes shift and stride): drop max_shift, or write the kind "
         "of check that uses it"),
        ("{kind: pool_invariance, case: one, input: x, stride: 2}", "stride",
         "stride is not used by a pool_invariance check (it takes max_shift): drop stride, or write the kind of check "
         "that uses it"),
        ("{kind: equivariance, case: one, input: x, shift: [2, 1], stride: 2}", "shift",
         "shift [2, 1] is not a multiple of stride 2: a layer of stride 2 moves its output by whole cells only for "
         "shifts in steps of 2 pixels"),
    ],
)
def test_a_setting_the_kind_of_check_ignores_is_refused(
    tmp_path: Path, grader: Grader, check: str, field: str, message: str
) -> None:
    text = SHEET.replace("{kind: equivariance, case: one, input: x, shift: [1, 0]}", check)
    error = one_located(grader, tmp_path, text)
    assert error["path"] == f"exercises[0].parts[2].answer.properties[0].{field}" and error["message"] == message


QUOTED_SETTINGS = """\
id: quoted
exercises:
  - id: e
    inputs:
      w: {value: 0.5, random: {dist: uniform, low: LOW, high: 20, shape: []}}
    parts:
      - id: a
        prompt: p
        points: POINTS
        answer: {type: number, abs_tol: TOL}
        expected: $w
      - id: b
        prompt: p
        points: 1
        answer: {type: formula, variables: {w: {low: DOMAIN, high: 2}}}
        expected: {op: function, of: $w, variables: {w: $w}}
"""
PLAIN = {"LOW": "1", "POINTS": "2", "TOL": "1.0e-3", "DOMAIN": "1"}


@pytest.mark.parametrize(
    ("setting", "written", "path", "example"),
    [
        ("POINTS", '"2"', "exercises[0].parts[0].points", "2"),
        ("LOW", '"010"', "exercises[0].inputs.w.random.low", "10"),
        ("TOL", "'1e-3'", "exercises[0].parts[0].answer.abs_tol", "0.001"),
        ("DOMAIN", '"1"', "exercises[0].parts[1].answer.variables.w.low", "1"),
        ("POINTS", "1_000", "exercises[0].parts[0].points", "1000"),  # YAML 1.2 keeps 1_000 as text
    ],
)
def test_a_number_written_as_text_in_a_setting_is_refused_at_it(
    tmp_path: Path, grader: Grader, setting: str, written: str, path: str, example: str
) -> None:
    """Pydantic read "010" as ten and '1e-3' as a thousandth without a word; a sheet's numbers are numbers, as an
    input's value must be."""
    text = QUOTED_SETTINGS
    for name, plain in PLAIN.items():
        text = text.replace(name, written if name == setting else plain)
    error = one_located(grader, tmp_path, text)
    assert error["path"] == path, error
    assert error["message"] == (
        f"{written.strip(chr(34) + chr(39))!r} is text, not a number: write a plain number (no quotes or underscores), "
        f"e.g. {example}"
    )


@pytest.mark.parametrize(
    ("setting", "written", "path", "message"),
    [
        ("TOL", "true", "exercises[0].parts[0].answer.abs_tol", "true is yes/no, not a number: write a number, e.g. 1"),
        ("POINTS", "true", "exercises[0].parts[0].points", "true is yes/no, not a number: write a number, e.g. 1"),
        ("LOW", "false", "exercises[0].inputs.w.random.low", "false is yes/no, not a number: write a number, e.g. 0"),
        ("SHAPE", "[true]", "exercises[0].inputs.w.random.shape[0]", "true is yes/no, not a number: write a number, e.g. 1"),
    ],
)
def test_a_boolean_for_a_number_or_a_number_for_a_boolean_is_refused_at_it(
    tmp_path: Path, grader: Grader, setting: str, written: str, path: str, message: str
) -> None:
    """Pydantic read ``abs_tol: true`` as a tolerance of 1 (every answer then passed, and validate said ok),
    ``shape: [true]`` as a 1-entry draw and ``partial: 1`` as true."""
    text = QUOTED_SETTINGS.replace("shape: []", "shape: SHAPE")
    for name, plain in {**PLAIN, "SHAPE": "[]"}.items():
        text = text.replace(name, written if name == setting else plain)
    error = one_located(grader, tmp_path, text)
    assert (error["path"], error["message"]) == (path, message)
    if setting == "TOL":  # and a number for a yes/no
        array_part = text.replace("abs_tol: true}", "partial: 1}").replace("type: number", "type: array")
        error = one_located(grader, tmp_path, array_part)
        assert (error["path"], error["message"]) == ("exercises[0].parts[0].answer.partial", "1 is a number, not yes/no: write true or false")


def test_the_same_settings_written_as_numbers_are_fine(tmp_path: Path, grader: Grader) -> None:
    text = QUOTED_SETTINGS
    for name, plain in PLAIN.items():
        text = text.replace(name, plain)
    assert grader("validate", write(tmp_path, text)).code == 0


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        ("shift: [1, 1]", "shift: [true, 1]", "answer.properties[0].shift[0]", "true is yes/no, not a number: write a number, e.g. 1"),
        ("image: {shape: [h, w, c]}", "image: {shape: [h, true, c]}", "answer.random_cases.args.image.shape[1]", "true is yes/no, not a number: write a number, e.g. 1"),
    ],
)
def test_a_boolean_among_sizes_or_shifts_is_refused(tmp_path: Path, grader: Grader, old: str, new: str, path: str, message: str) -> None:
    """A property's shift (a pair of numbers) and a random case's shape (sizes or size names) took true for 1."""
    week7 = (Path(__file__).resolve().parents[2] / "exercises" / "week7.yaml").read_text(encoding="utf-8")
    assert week7.count(old) == 1
    error = one_located(grader, tmp_path, week7.replace(old, new))
    assert error["path"].endswith(path) and error["message"] == message, error


def test_a_reshape_to_a_size_that_is_no_whole_number_is_refused(tmp_path: Path, grader: Grader) -> None:
    """int() read a reshape's true as 1 and 2.5 as 2."""
    for written in ("[1, true]", "[1, 2.5]"):
        text = QUOTED_SETTINGS.replace("expected: $w", f"expected: {{op: reshape, x: $w, shape: {written}}}")
        for name, plain in PLAIN.items():
            text = text.replace(name, plain)
        error = one_located(grader, tmp_path, text)
        assert error["message"] == f"reshape: shape must hold whole numbers, got {written}", error
