"""A minus sign pasted from a PDF or a word processor (U+2212, the en dash, the small and the full-width hyphen) in
an unquoted YAML number reads as ``-`` wherever a number stands -- array entries, shifts, exponents -- as it
already did in a number answer; quoted, such a number stays text, which an array refuses as before. Through
real answer files and the real ``grader grade``."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.engine.formula import MINUS_SIGNS

from .test_hints_support import ROOT, WEEK7, answer_file, flow, grade, solve, write_sheet

runner = CliRunner()


def pasted(text: str, minus: str) -> str:
    """``text`` with every ``-`` written as ``minus``."""
    return text.replace("-", minus)


@pytest.mark.parametrize("minus", list(MINUS_SIGNS))
def test_array_entries_with_a_pasted_minus_are_numbers(tmp_path: Path, minus: str) -> None:
    sheet = write_sheet(tmp_path)
    key = solve(sheet)["ex"]["mat"]
    written = pasted(flow(key), minus)
    assert minus in written
    parts = grade(sheet, answer_file(tmp_path, "ex", {"mat": written}))
    assert parts["ex.mat"]["status"] == "correct", parts["ex.mat"]["feedback"]
    assert parts["ex.mat"]["actual"] == key


def test_a_pasted_minus_in_an_exponent_of_an_array_entry(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path)
    key = solve(sheet)["ex"]["mat"]
    written = "[" + ", ".join("[" + ", ".join(f"{value:e}" for value in row) + "]" for row in key) + "]"
    written = written.replace("-", "\u2212")  # [[1.500000e+00, −6.000000e+00], [2.000000e+00, −2.500000e−01]]
    assert "e\u2212" in written
    parts = grade(sheet, answer_file(tmp_path, "ex", {"mat": written}))
    assert parts["ex.mat"]["status"] == "correct", parts["ex.mat"]["feedback"]


def test_the_walkthrough_pool_answer_is_read_and_gets_the_sign_hint(tmp_path: Path) -> None:
    """The finding: ``b_pool: [[[12, 7], [13, 11]], [[13, 9], [14, −6]]]`` was "the text '−6'"."""
    pool = np.array(solve(WEEK7)["ex3"]["b_pool"], dtype=float)
    assert pool[1, 1, 1] != 0
    pool[1, 1, 1] *= -1
    written = pasted(flow(pool.tolist()), "\u2212")
    parts = grade(WEEK7, answer_file(tmp_path, "ex3", {"b_pool": written}))
    assert parts["ex3.b_pool"]["feedback"] == (
        "1 of 8 entries differ from the expected values; it has the opposite sign of the correct value (the size is right)"
    )


def test_shifts_with_a_pasted_minus_are_right(tmp_path: Path) -> None:
    text = (ROOT / "submissions" / "week7" / "correct.yaml").read_text(encoding="utf-8")
    shifts = re.sub(r"(?<=[\[ ])-(?=\d)", "\u2212", text.split("d_shifts:", 1)[1].split("ex4:", 1)[0])
    assert "\u2212" in shifts
    path = tmp_path / "answers.yaml"
    path.write_text(text.split("d_shifts:", 1)[0] + "d_shifts:" + shifts + "ex4:" + text.split("ex4:", 1)[1], encoding="utf-8")
    parts = grade(WEEK7, path)
    assert parts["ex3.d_shifts"]["status"] == "correct", parts["ex3.d_shifts"]["feedback"]


def test_quoted_numbers_and_words_stay_text(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path)
    for entry in ("'\u22126'", "abc", "'6'"):
        path = answer_file(tmp_path, "ex", {"mat": f"[[1.5, {entry}], [2, 0.5]]"})
        part = grade(sheet, path)["ex.mat"]
        shown = entry.strip("'")
        assert part["status"] == "invalid"
        assert part["feedback"] == f"the entry at index [0, 1] is the text '{shown}'; write numbers without quotes"


def test_a_student_id_with_a_pasted_minus_stays_as_written(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path)
    path = tmp_path / "answers.yaml"
    path.write_text("student: \u2212123\nanswers:\n  ex:\n    zero: 0\n", encoding="utf-8")
    result = runner.invoke(app, ["grade", str(sheet), str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"student_id": "\u2212123"' in result.stdout or '"student_id": "\\u2212123"' in result.stdout
