"""A file graded against the wrong variant says so: no ``seed:`` line on a randomized sheet, or a seed whose key the
answers fit much worse than the sheet's printed numbers. Real files through the real command (``grader grade`` and
``grader check``)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import grader.grading
from grader.cli import app
from grader.notes import NO_SEED_NOTE, wrong_variant_note
from grader.key import answer_key
from grader.spec import load_sheet

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"
SAMPLES = ROOT / "submissions" / "week7"

runner = CliRunner()


def graded(*args: str) -> dict[str, Any]:
    """The JSON result of ``grader ARGS --format json`` (exit code 0 required)."""
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["result"]


def write(folder: Path, data: dict[str, Any], name: str = "answers.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def seed_notes(result: dict[str, Any]) -> list[str]:
    return [note for note in result["notes"] if note.startswith("seed:")]


@pytest.fixture(scope="module")
def printed() -> dict[str, Any]:
    """The sample answer file right for the sheet's printed numbers (it names no seed)."""
    return yaml.safe_load((SAMPLES / "correct.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def variant17() -> dict[str, Any]:
    """The sample answer file right for variant 17."""
    return yaml.safe_load((SAMPLES / "correct-seed-17.yaml").read_text(encoding="utf-8"))


def test_answers_for_the_printed_numbers_under_a_seed_are_told_so_in_every_human_format(tmp_path: Path) -> None:
    path = SAMPLES / "wrong-variant.yaml"  # seed: 17, answers for the printed numbers
    result = graded("grade", str(WEEK7), str(path))
    assert result["score"] < 1
    assert seed_notes(result) == [wrong_variant_note(17)]
    text = runner.invoke(app, ["grade", str(WEEK7), str(path)]).stdout
    assert "your answers fit the sheet's printed numbers, not variant 17" in " ".join(text.split())
    html = runner.invoke(app, ["grade", str(WEEK7), str(path), "--format", "html"]).stdout
    assert "your answers fit the sheet&#x27;s printed numbers, not variant 17" in html


def test_the_note_names_variants_only_never_a_part_or_a_key_value() -> None:
    note = wrong_variant_note(17)
    sheet = load_sheet(WEEK7)
    for exercise, part in sheet.parts():
        assert f"{exercise.id}.{part.id}" not in note and f"'{part.id}'" not in note
    digits = "".join(character for character in note if character.isdigit())
    assert digits == "17" * note.count("17")  # no number but the seed


def test_a_file_without_a_seed_that_lost_points_hears_it_was_graded_against_the_printed_numbers() -> None:
    result = graded("check", str(WEEK7), str(SAMPLES / "partly-correct.yaml"))
    assert result["seed"] is None and result["score"] < 1
    assert seed_notes(result) == [NO_SEED_NOTE]
    text = " ".join(runner.invoke(app, ["check", str(WEEK7), str(SAMPLES / "partly-correct.yaml")]).stdout.split())
    assert "graded against the sheet's printed numbers" in text and "add the line 'seed: N'" in text


@pytest.mark.parametrize("sample", ["correct.yaml", "correct-seed-17.yaml"])
def test_full_marks_get_no_variant_note_and_cost_no_second_key(sample: str, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int | None] = []

    def spy(sheet: Any, seed: int | None = None) -> Any:
        asked.append(seed)
        return answer_key(sheet, seed)

    monkeypatch.setattr(grader.grading, "answer_key", spy)
    result = graded("grade", str(WEEK7), str(SAMPLES / sample))
    assert result["score"] == 1 and seed_notes(result) == []
    assert asked == [result["seed"]]  # only the variant graded: no comparison for a file with full marks


def test_a_variant_17_file_with_mistakes_is_not_sent_to_the_printed_numbers(tmp_path: Path, variant17: dict[str, Any],
                                                                          printed: dict[str, Any]) -> None:
    data = copy.deepcopy(variant17)
    del data["answers"]["ex1"]["a"], data["answers"]["ex3"]["b_conv"]
    data["answers"]["ex1"]["c_grad"] = 12345.0
    data["answers"]["ex3"]["c_count"] = printed["answers"]["ex3"]["c_count"]  # one answer that fits the printed sheet
    result = graded("grade", str(WEEK7), str(write(tmp_path, data)))
    assert result["score"] < 1 and seed_notes(result) == []


def test_hidden_parts_never_count_and_one_coincidence_is_no_evidence(tmp_path: Path, printed: dict[str, Any]) -> None:
    """Notes are shown at once (Gradescope's always-visible output too), so they never weigh hidden parts: with
    ex1.a (visible) and ex1.b_unusual (hidden) fitting the printed numbers, one visible part is too little, in
    ``grade`` as in ``check``; two visible parts are evidence."""
    data = {"student": "s1", "seed": 17, "answers": {"ex1": {
        "a": printed["answers"]["ex1"]["a"], "b_unusual": printed["answers"]["ex1"]["b_unusual"]}}}
    path = write(tmp_path, data)
    assert seed_notes(graded("grade", str(WEEK7), str(path))) == []
    assert seed_notes(graded("check", str(WEEK7), str(path))) == []
    data["answers"]["ex1"]["c_grad"] = printed["answers"]["ex1"]["c_grad"]
    path = write(tmp_path, data)
    assert seed_notes(graded("grade", str(WEEK7), str(path))) == [wrong_variant_note(17)]
    assert seed_notes(graded("check", str(WEEK7), str(path))) == [wrong_variant_note(17)]


def test_a_file_losing_points_on_hidden_parts_only_gets_no_seed_note(tmp_path: Path, printed: dict[str, Any]) -> None:
    """A file without seed: whose visible parts are all right must not learn from a note that a hidden part lost
    points."""
    data = copy.deepcopy(printed)
    data["answers"]["ex1"]["b_unusual"] = 12345.0
    data.pop("seed", None)
    result = graded("grade", str(WEEK7), str(write(tmp_path, data)))
    assert result["score"] < 1 and seed_notes(result) == []


def test_a_sheet_whose_variants_are_alike_needs_no_seed(tmp_path: Path) -> None:
    sheet = tmp_path / "fixed.yaml"
    sheet.write_text(
        "id: fixed\nexercises:\n  - id: ex1\n    inputs: {a: {value: 2}}\n    parts:\n"
        "      - {id: a, prompt: 'What is a?', points: 1, answer: {type: number}, expected: $a}\n",
        encoding="utf-8",
    )
    path = write(tmp_path, {"student": "s1", "answers": {"ex1": {"a": 3}}})
    result = graded("grade", str(sheet), str(path))
    assert result["score"] == 0 and result["notes"] == []
