"""Report hints that grading attaches: max-pooling winners (the sheet's bold entries), channel names, tolerances."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader.engine import max_pool2d_winners
from grader.grading import grade_submission
from grader.spec import load_sheet

ROOT = Path(__file__).resolve().parents[1]
SHEET = load_sheet(ROOT / "exercises" / "week7.yaml")


def part(sample: str, key: str):  # noqa: ANN201
    result = grade_submission(SHEET, ROOT / "submissions" / "week7" / sample)
    return next(p for p in result.parts if p.key == key)


def test_feature_map_parts_carry_the_pooling_winners_of_both_arrays() -> None:
    graded = part("mistake-moved-right--ex3-c_conv.yaml", "ex3.c_conv")
    expected = np.asarray(graded.expected, dtype=float)
    actual = np.asarray(graded.actual, dtype=float)
    assert graded.annotations["expected_winners"] == max_pool2d_winners(expected, 2).tolist()
    assert graded.annotations["actual_winners"] == max_pool2d_winners(actual, 2).tolist()
    assert graded.annotations["channel_label"] == "output with filter"
    assert graded.annotations["atol"] == 1e-9


def test_a_wrongly_shaped_answer_gets_no_winners_of_its_own() -> None:
    graded = part("invalid-wrong-shapes.yaml", "ex3.b_conv")
    assert "expected_winners" in graded.annotations and "actual_winners" not in graded.annotations


def test_hidden_parts_carry_no_annotations() -> None:
    graded = part("correct.yaml", "ex1.b_unusual")
    assert graded.annotations == {}


def test_validate_refuses_winners_that_do_not_tile_the_key(tmp_path: Path) -> None:
    from grader.validate import validate_sheet

    text = (ROOT / "exercises" / "week7.yaml").read_text(encoding="utf-8")
    broken = text.replace("report: {pool_winners: {size: 2}, channel_label: output with filter}", "report: {pool_winners: {size: 3}}", 1)
    assert broken != text
    path = tmp_path / "week7.yaml"
    path.write_text(broken, encoding="utf-8")
    errors = [str(e) for e in validate_sheet(path)]
    assert errors and all("[spec-report]" in e and "report" in e for e in errors)
