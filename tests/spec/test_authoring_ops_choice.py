"""A choice key ``{op: option, at: {op: argmax, x: ...}}`` whose argmax ranges over more entries than there are
options: some variants would pick no option. It is refused from the shapes alone, in every variant, not only in the
variants whose largest entry happens to be past the last option.

The engine side (the position knows the size of the array it was taken over; ``OptionAt.option`` refuses) is tested
here directly, and through ``grader validate``, whose key (grader/key.py ``_choice``) calls ``OptionAt.option``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.answers.choice import OptionAt, Position
from grader.quantities import OPS

from .conftest import Grader, line_of, write

SHEET = """\
id: choice-range
exercises:
  - id: ex
    inputs:
      y: {value: [3, 1, 2, 0.5], random: {dist: normal, shape: [4]}}
    parts:
      - id: a
        prompt: which entry is largest?
        points: 1
        answer: {type: choice, options: OPTIONS}
        expected: {op: option, at: {op: argmax, x: $y}}
"""


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_the_position_knows_how_many_positions_it_ranges_over(op: str) -> None:
    values = np.array([[0.5, -1.0, 2.0], [0.25, 3.0, -2.0]])
    position = OPS[op].fn(values)
    assert isinstance(position, Position) and position.among == values.size
    assert int(position) == int(np.argmax(values) if op == "argmax" else np.argmin(values))
    at = OPS["option"].fn(position)
    assert at == OptionAt(int(position), among=6)
    assert OPS["option"].fn(OPS["greater"].fn(1.0, 0.5)) == OptionAt(1, among=2)
    assert OPS["option"].fn(np.int64(2)).among is None  # a position from elsewhere: nothing known about its range
    with pytest.raises(ValueError, match="'at' is written in the sheet"):  # a literal types the key by hand
        OPS["option"].fn(2)


def test_more_positions_than_options_is_refused_whatever_the_position() -> None:
    options = ["a", "b", "c"]
    for position in range(3):  # even where this variant's position has an option
        with pytest.raises(ValueError) as caught:
            OptionAt(position, among=4).option(options, "expected")
        message = str(caught.value)
        assert message.startswith("expected picks the option at a position among 4")
        assert "there are only 3 options (0: 'a', 1: 'b', 2: 'c')" in message
    assert OptionAt(2, among=3).option(options, "expected") == "c"
    assert OptionAt(1, among=2).option(options, "expected") == "b"
    with pytest.raises(ValueError, match="picks the option at position 3, but there are only 3"):
        OptionAt(3).option(options, "expected")


def test_validate_refuses_more_argmax_entries_than_options_in_every_variant(grader: Grader, tmp_path: Path) -> None:
    text = SHEET.replace("OPTIONS", "[a, b, c]")
    run = grader("validate", write(tmp_path, text))
    assert run.code == 2, run.err
    (error,) = run.errors
    assert int(error["line"]) == line_of(text, "op: option") and error["path"] == "exercises[0].parts[0].expected"
    assert "a position among 4" in error["message"] and "only 3 options" in error["message"]
    assert not error["message"].startswith("seed")  # every variant alike, the sheet's own numbers included


def test_one_option_per_entry_validates(grader: Grader, tmp_path: Path) -> None:
    path = write(tmp_path, SHEET.replace("OPTIONS", "[a, b, c, d]"))
    assert grader("validate", path).code == 0
