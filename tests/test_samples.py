"""Every sample submission is graded through the real CLI and must get the outcome its file name promises."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.grading import grade_submission
from grader.result import PartResult
from grader.spec import load_sheet

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SETS = {
    "week7": (ROOT / "exercises" / "week7.yaml", ROOT / "submissions" / "week7"),
    "conv1d_avgpool": (ROOT / "exercises" / "conv1d_avgpool.yaml", ROOT / "submissions" / "conv1d_avgpool"),
    "softmax_regression": (ROOT / "exercises" / "softmax_regression.yaml", ROOT / "submissions" / "softmax_regression"),
}
MISTAKE_NAME = re.compile(r"^mistake-(?P<mistake>[a-z0-9-]+?)--(?P<exercise>[A-Za-z0-9_]+)-(?P<part>[A-Za-z0-9_]+)\.(yaml|yml|json)$")

runner = CliRunner()


def _samples() -> list[tuple[str, Path, Path]]:
    found = []
    for set_name, (sheet, folder) in SAMPLE_SETS.items():
        if folder.is_dir():
            found += [(set_name, sheet, path) for path in sorted(folder.iterdir()) if path.is_file()]
    return found


SAMPLES = _samples()


def _grade(sheet: Path, path: Path) -> tuple[int, dict[str, Any] | None, str]:
    """Exit code, the JSON result (None when stdout is not JSON) and all the output, via the real CLI."""
    result = runner.invoke(app, ["grade", str(sheet), str(path), "--format", "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    try:
        document = json.loads(result.stdout)["result"]
    except (json.JSONDecodeError, KeyError):
        document = None
    return result.exit_code, document, result.output


def _parts(result: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p["exercise_id"], p["part_id"]): p for p in result["parts"]}


def _assert_all_correct(result: dict[str, Any], except_part: tuple[str, str] | None = None) -> None:
    wrong = [key for key, part in _parts(result).items() if key != except_part and part["status"] != "correct"]
    assert not wrong, f"parts not correct: {wrong}"


def _internal_part(sheet: Path, path: Path, key: tuple[str, str]) -> PartResult:
    graded = grade_submission(load_sheet(sheet), path)
    return next(p for p in graded.parts if (p.exercise_id, p.part_id) == key)


def _check_promise(sheet: Path, path: Path, code: int, result: dict[str, Any] | None, output: str) -> None:
    name = path.name
    assert "Traceback" not in output
    if name.startswith("unusable-"):
        assert code == 2, output
        assert result is not None and result["error"], output
        assert "\n" not in result["error"].strip() and name in result["error"]
        return
    assert code == 0, output
    assert result is not None and not result["error"], output
    parts = _parts(result)
    mistake = MISTAKE_NAME.match(name)
    if name.startswith("correct"):
        assert result["score"] == pytest.approx(1.0)
        _assert_all_correct(result)
    elif name.startswith("partly-correct"):
        assert 0 < result["score"] < 1
    elif mistake:
        key = (mistake["exercise"], mistake["part"])
        assert key in parts, f"{name}: the sheet has no part {key}"
        if parts[key]["visibility"] == "hidden":
            # A student's report never shows a hidden part's mistake; the Result the gradebook keeps does.
            assert parts[key]["status"] != "correct" and parts[key]["mistake"] is None
            assert _internal_part(sheet, path, key).mistake == mistake["mistake"]
        else:
            assert parts[key]["mistake"] == mistake["mistake"], parts[key]
            assert parts[key]["feedback"].strip()
        _assert_all_correct(result, except_part=key)
    elif name.startswith("invalid-"):
        assert any(p["status"] == "invalid" for p in parts.values()), [p["status"] for p in parts.values()]
    elif name.startswith("missing-parts"):
        assert any(p["status"] == "missing" for p in parts.values())
    elif name.startswith("wrong-variant"):
        assert result["score"] < 1
    elif name.startswith("notes-unknown-part-ids"):
        assert result["notes"]
        notes = " ".join(result["notes"])
        assert "ex3.e" in notes or "'e'" in notes or "ex9" in notes, notes
    else:
        pytest.fail(f"{name}: the name promises no known outcome; add a rule to tests/test_samples.py")


@pytest.mark.parametrize(("set_name", "sheet", "path"), SAMPLES, ids=[f"{s}/{p.name}" for s, _, p in SAMPLES])
def test_sample_gets_the_outcome_its_name_promises(set_name: str, sheet: Path, path: Path) -> None:
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    code, result, output = _grade(sheet, path)
    _check_promise(sheet, path, code, result, output)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, f"{path.name} was modified by grading"


def test_notes_name_every_unknown_id() -> None:
    sheet, folder = SAMPLE_SETS["week7"]
    _, result, _ = _grade(sheet, folder / "notes-unknown-part-ids.yaml")
    assert result is not None
    notes = " ".join(result["notes"])
    assert "answers.ex3.e" in notes and "answers.ex9" in notes


def test_a_name_without_a_rule_fails() -> None:
    with pytest.raises(pytest.fail.Exception, match="promises no known outcome"):
        _check_promise(SAMPLE_SETS["week7"][0], Path("surprising-sample.yaml"), 0, {"error": None, "parts": [], "score": 1.0, "notes": []}, "")


def test_every_sample_set_has_samples() -> None:
    for set_name, (_, folder) in SAMPLE_SETS.items():
        assert [p for p in SAMPLES if p[0] == set_name], f"no samples in {folder}"


@pytest.mark.parametrize("set_name", sorted(SAMPLE_SETS))
def test_grading_the_whole_folder_gives_a_summary_line_per_file(set_name: str) -> None:
    sheet, folder = SAMPLE_SETS[set_name]
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    hashes = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    result = runner.invoke(app, ["grade", str(sheet), str(folder)])
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "grader/" not in result.output  # code samples show the student's own traceback, never the grader's
    summary = result.stdout.split("\n\n", 1)[0].splitlines()
    assert summary[0].split()[:4] == ["student", "submission", "total", "score"]
    rows = [line for line in summary[2:] if line.strip()]
    assert len(rows) == len(files), summary
    for path in files:
        if path.name.startswith("unusable-"):
            assert any(path.name in row for row in rows), path.name
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files} == hashes
