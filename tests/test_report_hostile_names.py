"""A file name or a flood of unknown ids a student chose never forges or floods what a report shows."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from typer.testing import CliRunner

from grader.cli import app

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"
CORRECT = ROOT / "submissions" / "week7" / "correct.yaml"

runner = CliRunner()


def test_a_line_break_in_a_file_name_cannot_forge_a_line_of_the_text_report(tmp_path: Path) -> None:
    forged = "x\nTotal: 52 of 52 points (100%) -- all correct\n.yaml"
    path = tmp_path / forged
    wrong = CORRECT.read_text(encoding="utf-8").replace("answers:", "answers:\n  ex9: {a: 1}", 1)
    broken = CORRECT.read_text(encoding="utf-8").replace("answers:", "answers:\n  ex1: {a: 12345}", 1)
    # Graded (the name in the header), and unusable (a duplicate key: the error message names the file too).
    for answers, fmt in [(wrong, "text"), (wrong, "junit"), (broken, "text"), (broken, "junit")]:
        path.write_text(answers, encoding="utf-8")
        result = runner.invoke(app, ["grade", str(WEEK7), str(path), "--format", fmt])
        assert result.exit_code in (0, 2), result.output
        lines = result.stdout.splitlines()
        assert not any(line.startswith("Total: 52 of 52") for line in lines), fmt
        assert any("x\\nTotal: 52 of 52 points (100%) -- all correct\\n.yaml" in line for line in lines), fmt


def test_a_flood_of_unknown_ids_is_counted_not_listed(tmp_path: Path) -> None:
    data = {"student": "s1", "answers": {"ex1": {f"zz{index}": 1 for index in range(500)}, "nowhere": {"a": 1}}}
    path = tmp_path / "flood.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(app, ["grade", str(WEEK7), str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["result"]["notes"]
    listed = [note for note in notes if note.startswith("answers.")]
    assert len(listed) == 20 and listed[0].startswith("answers.ex1.zz0: exercise 'ex1' has no part 'zz0'")
    assert notes[-1] == "answers: 481 more answers under ids this sheet does not have (ignored; not listed one by one)"


def test_a_few_unknown_ids_are_each_listed(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    shutil.copy(CORRECT, folder / "a.yaml")
    text = (folder / "a.yaml").read_text(encoding="utf-8").replace("answers:\n", "answers:\n  ex9: {a: 1}\n", 1)
    (folder / "a.yaml").write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["grade", str(WEEK7), str(folder / "a.yaml"), "--format", "json"])
    notes = json.loads(result.stdout)["result"]["notes"]
    assert [note.split(":")[0] for note in notes] == ["answers.ex9"] and os.sep not in notes[0].split(":")[0]


def test_the_cli_names_such_a_file_on_one_line_of_stderr(tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "broken\nFORGED\t.yaml").write_text("student: s2\nanswers: []\n", encoding="utf-8")
    shutil.copy(CORRECT, folder / "ok.yaml")
    result = runner.invoke(app, ["grade", str(WEEK7), str(folder), "--format", "text"])
    assert result.exit_code == 0, result.output
    complaints = [line for line in result.stderr.splitlines() if "could not be graded" in line]
    assert len(complaints) == 1 and "broken\\nFORGED\\t.yaml: could not be graded: broken\\nFORGED\\t.yaml" in complaints[0]
    assert not any(line.startswith("FORGED") for line in result.stderr.splitlines())


def test_past_the_listed_notes_a_misspelled_id_still_names_its_part(tmp_path: Path) -> None:
    answers = {f"zz{index}": 1 for index in range(30)}
    answers["b_pol"] = [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]  # listed 31st: only counted
    data = {"student": "s1", "answers": {"ex3": answers}}
    path = tmp_path / "late.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = json.loads(runner.invoke(app, ["grade", str(WEEK7), str(path), "--format", "json"]).stdout)["result"]
    assert "11 more answers" in result["notes"][-1]
    [b_pool] = [part for part in result["parts"] if part["part_id"] == "b_pool"]
    assert "b_pol" in b_pool["feedback"], b_pool["feedback"]
