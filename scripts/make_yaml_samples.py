"""Write the sample answer files of submissions/conv1d_avgpool/ from `grader solve --format json`.

Run: python scripts/make_conv1d_samples.py. Right answers come from the engine through the real CLI (never typed
in); only the formula is written as a student would. tests/test_samples.py grades each file and checks the
promise in its name; tests/test_cli.py checks the files are what this script writes.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHEET = ROOT / "exercises" / "conv1d_avgpool.yaml"
OUT = ROOT / "submissions" / "conv1d_avgpool"

# Parts whose answer is an expression: what a student writes (right, and for a known mistake).
WRITTEN = {("conv", "length_formula"): "(L + 2*p - f)/s + 1"}
WRITTEN_MISTAKES = {("conv", "length_formula", "no-plus-one"): "(L + 2*p - f)/s"}


def solve(seed: int | None = None) -> dict[str, dict[str, Any]]:
    """The answer key as `grader solve --format json` prints it."""
    command = [sys.executable, "-m", "grader", "solve", str(SHEET), "--format", "json"]
    if seed is not None:
        command += ["--seed", str(seed)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout)


def right_answers(key_json: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    answers = copy.deepcopy(key_json)
    for (exercise_id, part_id), text in WRITTEN.items():
        answers[exercise_id][part_id] = text
    return answers


def documents() -> dict[str, dict[str, Any]]:
    """File name -> answer-file document, for every sample."""
    from grader.key import compute_key
    from grader.spec import load_sheet

    right = right_answers(solve())
    right5 = right_answers(solve(5))
    out: dict[str, dict[str, Any]] = {
        "correct.yaml": {"student": "c1-correct", "answers": right},
        "correct-seed-5.yaml": {"student": "c1-correct-5", "seed": 5, "answers": right5},
    }
    partly = copy.deepcopy(right)
    partly["conv"]["dw000"] = right["conv"]["dw000"] + 1.0
    partly["autodiff"]["children"] = ["g1"]
    out["partly-correct.yaml"] = {"student": "c1-partly", "answers": partly}
    # One file per known mistake, on the seed-5 variant (its inputs are random, so no mistake coincides).
    sheet = load_sheet(SHEET)
    key5 = compute_key(sheet, 5)
    for exercise, part in sheet.parts():
        for mistake in part.mistakes:
            value = WRITTEN_MISTAKES.get((exercise.id, part.id, mistake.id))
            if value is None:
                value = key5.mistake_json(exercise.id, part.id, mistake.id)
            document = copy.deepcopy(right5)
            document[exercise.id][part.id] = value
            out[f"mistake-{mistake.id}--{exercise.id}-{part.id}.yaml"] = {"student": f"c1-{mistake.id}", "seed": 5, "answers": document}
    return out


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, document in documents().items():
        (OUT / name).write_text(yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=120), encoding="utf-8")


if __name__ == "__main__":
    main()
