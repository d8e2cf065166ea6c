"""check_nesting refuses brackets nested deeper than MAX_NESTING at the line of the first bracket too deep, with a
closing bracket at depth 0 staying at 0 and quotes not tracked. It is now computed with numpy (a 3.6 MB answer of
90,000 lists 20 deep took 0.8 s in a Python loop); the reference here is that loop."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from grader.errors import InputFileError
from grader.spec.yaml_lines import MAX_NESTING, check_nesting


def loop_reference(text: str) -> int | None:
    """The line of the first bracket nested deeper than MAX_NESTING, or None."""
    depth = 0
    for index, character in enumerate(text):
        if character in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return text.count("\n", 0, index) + 1
        elif character in "]}":
            depth = max(0, depth - 1)
    return None


def refused_at(text: str) -> int | None:
    try:
        check_nesting(text, "answers.yaml")
    except InputFileError as error:
        assert error.line is not None and "nested more than" in str(error)
        return error.line
    return None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["[", "]", "{", "}", "\n", "x", "é", "'", "[" * 30, "]" * 30]), max_size=200))
def test_the_first_bracket_too_deep_is_found_as_by_a_loop(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert refused_at(text) == loop_reference(text)


def test_closing_brackets_at_depth_0_do_not_let_a_later_run_nest_deeper() -> None:
    text = "]" * 100 + "\n" + "[" * MAX_NESTING + "\n["
    assert refused_at(text) == 3 == loop_reference(text)
    assert refused_at("[" * MAX_NESTING + "]" * MAX_NESTING + "[" * MAX_NESTING) is None
