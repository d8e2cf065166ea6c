"""Every code sample in submissions/week7/code/ gets the outcome its name promises, through the real CLI.

Names: ``correct.*`` full marks; ``mistake-<id>.py`` the code part with that known mistake gets its feedback;
``incorrect-*.py`` a code part fails with shape feedback; ``error-crash.py`` / ``error-timeout.py`` a code part
ends in ``error`` with the reason. Every other code part of a sample is correct (each sample breaks one thing).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from grader.cli import app

ROOT = Path(__file__).resolve().parents[1]
SHEET = ROOT / "exercises" / "week7.yaml"
FOLDER = ROOT / "submissions" / "week7" / "code"
SAMPLES = sorted(p for p in FOLDER.iterdir() if p.is_file())
runner = CliRunner()


def grade(path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["grade", str(SHEET), str(path), "--format", "json", *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "grader/" not in result.output  # a student's own traceback may show, the grader's never
    return result.exit_code, json.loads(result.stdout)["result"]


def not_correct(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["key"]: p for p in result["parts"] if p["status"] != "correct"}


def test_there_are_code_samples() -> None:
    names = {p.name for p in SAMPLES}
    assert {"correct.py", "correct.ipynb", "error-timeout.py", "error-crash.py"} <= names


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_code_sample_gets_the_promised_outcome(path: Path) -> None:
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    code, result = grade(path)
    assert code == 0
    assert result["error"] is None
    assert result["sandbox_layers"].get("child-process") is True
    wrong = not_correct(result)
    stem = path.stem
    if stem == "correct":
        assert wrong == {}, wrong
        assert result["score"] == 1.0
        assert result["student_id"].startswith("s-code-")  # declared in the code as STUDENT = "..."
    elif stem.startswith("mistake-"):
        mistake = stem.removeprefix("mistake-")
        assert len(wrong) == 1, wrong
        (part,) = wrong.values()
        assert part["mistake"] == mistake
        assert part["feedback"] and part["status"] in ("partial", "incorrect")
    elif stem.startswith("incorrect-"):
        assert list(wrong) == ["ex3.code_conv2d"]
        part = wrong["ex3.code_conv2d"]
        assert part["status"] == "incorrect" and part["points_earned"] == 0
        assert "expected shape" in part["feedback"]
    elif stem == "error-crash":
        part = wrong["ex3.code_conv2d"]
        assert list(wrong) == ["ex3.code_conv2d"] and part["status"] == "error"
        assert "raised an exception" in part["feedback"]
        visible = [c for c in part["cases"] if c["visibility"] == "visible"]
        assert any("error-crash.py" in d and "line" in d for c in visible for d in c["details"])
        assert not any("grader/" in d for c in part["cases"] for d in c["details"])  # no grader internals
    elif stem == "error-timeout":
        part = wrong["ex3.code_conv2d"]
        assert list(wrong) == ["ex3.code_conv2d"] and part["status"] == "error"
        assert "out of time" in part["feedback"]
    else:
        pytest.fail(f"{path.name}: the name promises no known outcome; name it for what it must get")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_hidden_cases_show_only_pass_or_fail_and_how_they_failed() -> None:
    _, result = grade(FOLDER / "mistake-flipped-kernel.py")
    part = next(p for p in result["parts"] if p["key"] == "ex3.code_conv2d")
    hidden = [c for c in part["cases"] if c["visibility"] == "hidden"]
    assert hidden and all(c["inputs"] == "" and c["details"] == [] for c in hidden)
    assert any(not c["passed"] for c in hidden)
    # a failed hidden case says only its kind, as the text and HTML reports do; a passed one says nothing
    assert {c["feedback"] for c in hidden if not c["passed"]} == {"returned a wrong value"}
    assert {c["feedback"] for c in hidden if c["passed"]} <= {""}
    # the flipped kernel gives the right maps for the sheet's filters, which a 180-degree turn leaves unchanged; the
    # visible case with asymmetric test filters catches it before submission
    failed_visible = [c["name"] for c in part["cases"] if c["visibility"] == "visible" and not c["passed"]]
    assert failed_visible == ["asymmetric-filters"]


def test_check_mode_is_the_same_for_visible_code_parts() -> None:
    result = runner.invoke(app, ["check", str(SHEET), str(FOLDER / "correct.py")])
    assert result.exit_code == 0
    assert "all visible checks passed" in result.stdout.lower()


def test_an_answer_file_sheet_without_code_parts_refuses_code(tmp_path: Path) -> None:
    sheet = ROOT / "exercises" / "conv1d_avgpool.yaml"
    code = runner.invoke(app, ["grade", str(sheet), str(FOLDER / "correct.py"), "--format", "json"])
    assert code.exit_code == 2
    assert "no code parts" in json.loads(code.stdout)["result"]["error"]


def test_a_notebook_with_megabytes_of_plots_is_graded_by_its_code(tmp_path: Path) -> None:
    """Outputs (plots as base64 images) made a course's notebooks larger than the 4 MiB any file had, and its code
    scored 0 ("the file is 6003248 bytes; the limit is 4194304"); a notebook may now have 32 MiB, its code 2 MiB."""
    import base64
    import os

    from grader.submission.answer_file import MAX_NOTEBOOK_BYTES

    from grader.grading import grade_submission
    from grader.spec import load_sheet

    notebook = json.loads((FOLDER / "correct.ipynb").read_text(encoding="utf-8"))
    plot = base64.b64encode(os.urandom(5 << 20)).decode()
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [{"output_type": "display_data", "data": {"image/png": plot}, "metadata": {}}]
            break
    plotted = tmp_path / "plotted.ipynb"
    plotted.write_text(json.dumps(notebook), encoding="utf-8")
    assert plotted.stat().st_size > 6 << 20
    result = grade_submission(load_sheet(SHEET), plotted)
    assert result.error is None and result.score == 1.0, result.error
    huge = tmp_path / "huge.ipynb"
    huge.write_text(json.dumps(notebook), encoding="utf-8")
    os.truncate(huge, MAX_NOTEBOOK_BYTES + 1)
    refused = grade_submission(load_sheet(SHEET), huge)
    assert refused.error == f"huge.ipynb: the file is {MAX_NOTEBOOK_BYTES + 1} bytes; the limit is {MAX_NOTEBOOK_BYTES}", refused.error
