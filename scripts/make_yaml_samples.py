"""Write the sample answer files of the sheets written only in YAML (submissions/conv1d_avgpool/,
submissions/softmax_regression/) from `grader solve --format json`.

Run: python scripts/make_yaml_samples.py [SHEET_ID ...] (default: every sheet of SAMPLE_SHEETS). Right answers
come from the engine through the real CLI (never typed in); only formulas are written as a student would.
tests/test_samples.py grades each file and checks the promise in its name; tests/test_cli.py checks the files
are what this script writes.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]

Answers = dict[str, dict[str, Any]]
"""exercise id -> part id -> answer, as `grader solve --format json` prints a key."""


@dataclass(frozen=True)
class SampleSheet:
    """One sheet's samples: where they go, the students' prefix, and what a student writes for expression parts."""

    sheet: Path
    out: Path
    prefix: str
    partly: Callable[[Answers], Answers]
    """The right answers with some parts wrong (the ``partly-correct`` sample)."""
    written: dict[tuple[str, str], Any] = field(default_factory=dict)
    """(exercise, part) -> the expression a student writes for it."""
    written_mistakes: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    """(exercise, part, mistake) -> the expression a student who makes that mistake writes."""
    seed: int = 5
    """The variant of the seeded samples (its inputs are random, so no mistake coincides with the key)."""


def _conv1d_partly(right: Answers) -> Answers:
    partly = copy.deepcopy(right)
    partly["conv"]["dw000"] = right["conv"]["dw000"] + 1.0
    partly["autodiff"]["children"] = ["g1"]
    return partly


def _softmax_partly(right: Answers) -> Answers:
    partly = copy.deepcopy(right)
    partly["single"]["c_loss"] = right["single"]["c_loss"] + 0.5
    partly["batch"]["b_dW"] = [[-value for value in row] for row in right["batch"]["b_dW"]]
    return partly


SAMPLE_SHEETS: dict[str, SampleSheet] = {
    "conv1d_avgpool": SampleSheet(
        ROOT / "exercises" / "conv1d_avgpool.yaml", ROOT / "submissions" / "conv1d_avgpool", "c1", _conv1d_partly,
        written={("conv", "length_formula"): "(L + 2*p - f)/s + 1"},
        written_mistakes={("conv", "length_formula", "no-plus-one"): "(L + 2*p - f)/s"},
    ),
    "softmax_regression": SampleSheet(
        ROOT / "exercises" / "softmax_regression.yaml", ROOT / "submissions" / "softmax_regression", "sr", _softmax_partly,
    ),
}


def solve(samples: SampleSheet, seed: int | None = None) -> Answers:
    """The answer key as `grader solve --format json` prints it."""
    command = [sys.executable, "-m", "grader", "solve", str(samples.sheet), "--format", "json"]
    if seed is not None:
        command += ["--seed", str(seed)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout)


def right_answers(samples: SampleSheet, key_json: Answers) -> Answers:
    """The key with each expression part as a student writes it."""
    answers = copy.deepcopy(key_json)
    for (exercise_id, part_id), text in samples.written.items():
        answers[exercise_id][part_id] = text
    return answers


def documents(samples: SampleSheet) -> dict[str, dict[str, Any]]:
    """File name -> answer-file document, for every sample of one sheet."""
    from grader.key import compute_key
    from grader.spec import load_sheet

    right = right_answers(samples, solve(samples))
    seeded = right_answers(samples, solve(samples, samples.seed))
    prefix, seed = samples.prefix, samples.seed
    out: dict[str, dict[str, Any]] = {
        "correct.yaml": {"student": f"{prefix}-correct", "answers": right},
        f"correct-seed-{seed}.yaml": {"student": f"{prefix}-correct-{seed}", "seed": seed, "answers": seeded},
        "partly-correct.yaml": {"student": f"{prefix}-partly", "answers": samples.partly(right)},
    }
    # One file per known mistake, on the seeded variant.
    sheet = load_sheet(samples.sheet)
    key = compute_key(sheet, seed)
    for exercise, part in sheet.parts():
        for mistake in part.mistakes:
            value = samples.written_mistakes.get((exercise.id, part.id, mistake.id))
            if value is None:
                value = key.mistake_json(exercise.id, part.id, mistake.id)
            document = copy.deepcopy(seeded)
            document[exercise.id][part.id] = value
            out[f"mistake-{mistake.id}--{exercise.id}-{part.id}.yaml"] = {"student": f"{prefix}-{mistake.id}", "seed": seed, "answers": document}
    return out


def main(names: list[str]) -> None:
    for name in names or list(SAMPLE_SHEETS):
        samples = SAMPLE_SHEETS[name]
        samples.out.mkdir(parents=True, exist_ok=True)
        for file_name, document in documents(samples).items():
            text = yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=120)
            (samples.out / file_name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
