"""Write the sample answer files of submissions/week7/ from the engine's answer key.

Run: python scripts/make_samples.py. Each file is named for the outcome it must get; tests/test_samples.py
grades every one and checks that promise. Right answers come from the key (never typed in); the formula and
graph answers below are what a student would write, and the tests prove the engine accepts them.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml

from grader.key import compute_key
from grader.spec import load_sheet

ROOT = Path(__file__).resolve().parents[1]
SHEET = ROOT / "exercises" / "week7.yaml"
OUT = ROOT / "submissions" / "week7"

# What a student writes for the parts whose answer is an expression rather than a value.
WRITTEN = {
    ("ex2", "a_formula"): "(n + 2*p - f)/s + 1",
    ("ex2", "b_formula"): "(f - 1)/2",
    ("ex4", "t_theta_formula"): "x1*cos(theta*x1 + x2) + x2**2",
    ("ex4", "b_graph"): {
        "h1_1": "sigmoid(w1_11*x1 + w1_12*x2)",
        "h1_2": "sigmoid(w1_21*x1 + w1_22*x2)",
        "h2_1": "sigmoid(w2_11*h1_1 + w2_12*h1_2)",
        "h2_2": "sigmoid(w2_21*h1_1 + w2_22*h1_2)",
        "y": "w3_1*h2_1 + w3_2*h2_2",
    },
    ("ex4", "c_graph"): {
        "c1": "k1*u1 + k2*u2 + k3*u3",
        "c2": "k1*u2 + k2*u3 + k3*u4",
        "c3": "k1*u3 + k2*u4 + k3*u5",
        "c4": "k1*u4 + k2*u5 + k3*u6",
        "p1": "max(c1, c2)",
        "p2": "max(c3, c4)",
        "y": "v1*p1 + v2*p2",
    },
}
WRITTEN_MISTAKES = {
    ("ex2", "a_formula", "p-not-2p"): "(n + p - f)/s + 1",
    ("ex2", "a_formula", "no-plus-one"): "(n + 2*p - f)/s",
    ("ex2", "a_formula", "padding-ignored"): "(n - f)/s + 1",
    ("ex2", "b_formula", "p-not-halved"): "f - 1",
    ("ex4", "t_theta_formula", "one-path-only"): "x1*cos(theta*x1 + x2)",
}


def answers(key: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for exercise, part in key.sheet.parts():
        if part.answer.type == "code":
            continue
        value = WRITTEN.get((exercise.id, part.id))
        if value is None:
            value = key.part(exercise.id, part.id).expected
            value = part.answer.expected_json(value)
        out.setdefault(exercise.id, {})[part.id] = copy.deepcopy(value)
    return out


def write(name: str, document: Any, *, raw: str | None = None) -> None:
    path = OUT / name
    text = raw if raw is not None else yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=120)
    path.write_text(text, encoding="utf-8")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    sheet = load_sheet(SHEET)
    key = compute_key(sheet, None)
    right = answers(key)
    write("correct.yaml", {"student": "s-correct", "answers": right})
    key17 = compute_key(sheet, 17)
    right17 = answers(key17)
    write("correct-seed-17.yaml", {"student": "s-correct-17", "seed": 17, "answers": right17})

    partly = copy.deepcopy(right)
    partly["ex1"]["a"] = right["ex1"]["a"] + 1.0
    partly["ex3"]["c_count"] = right["ex3"]["c_count"] + 2
    del partly["ex4"]["b_graph"]
    write("partly-correct.yaml", {"student": "s-partly", "answers": partly})

    # One file per known mistake: the mistake's own value where it is a value, else a student's expression.
    for variant_seed, variant_key, base in ((None, key, right), (17, key17, right17)):
        for exercise, part in sheet.parts():
            if part.answer.type == "code":  # code parts' mistakes have their own samples (submissions/week7/code)
                continue
            for mistake in part.mistakes:
                value = WRITTEN_MISTAKES.get((exercise.id, part.id, mistake.id))
                if value is None:
                    value = variant_key.mistake_json(exercise.id, part.id, mistake.id)
                if value is None or (mistake.may_coincide and variant_seed is None):
                    continue
                name = f"mistake-{mistake.id}--{exercise.id}-{part.id}.yaml"
                if (OUT / name).exists() and variant_seed is not None:
                    continue
                document = copy.deepcopy(base)
                document[exercise.id][part.id] = value
                header: dict[str, Any] = {"student": f"s-{mistake.id}"}
                if variant_seed is not None:
                    header["seed"] = variant_seed
                write(name, {**header, "answers": document})

    shapes = copy.deepcopy(right)
    shapes["ex3"]["b_pool"] = [row[0] for row in right["ex3"]["b_pool"]]  # 2x2 instead of 2x2x2
    shapes["ex3"]["b_conv"] = [[list(col) for col in zip(*plane)] for plane in right["ex3"]["b_conv"]]  # wrong layout
    write("invalid-wrong-shapes.yaml", {"student": "s-shapes", "answers": shapes})

    missing = {"ex3": copy.deepcopy(right["ex3"])}
    write("missing-parts.yaml", {"student": "s-missing", "answers": missing})

    nan = copy.deepcopy(right)
    nan["ex1"]["a"] = math.nan
    nan["ex1"]["c_grad"] = math.inf
    write("invalid-nan-inf.yaml", {"student": "s-nan", "answers": nan}, raw=None)

    write("wrong-variant.yaml", {"student": "s-variant", "seed": 17, "answers": right})

    unknown = copy.deepcopy(right)
    unknown["ex3"]["e"] = 1
    unknown["ex9"] = {"a": 2}
    write("notes-unknown-part-ids.yaml", {"student": "s-unknown", "answers": unknown})

    write("unusable-malformed-yaml.yaml", None, raw="student: s-malformed\nanswers:\n  ex3:\n    a: [2, 2\n    b_pool: {\n")
    write("unusable-deeply-nested.yaml", None, raw="student: s-deep\nanswers:\n  ex3:\n    b_pool: " + "[" * 500 + "]" * 500 + "\n")
    write("unusable-not-a-mapping.json", None, raw="[1, 2, 3]\n")
    write("invalid-wrong-types.json", None, raw='{"student": "s-types", "answers": {"ex3": {"a": true, "b_pool": "seven", "c_count": [1]}, "ex1": {"a": "__import__(\'os\').system(\'true\')"}}}\n')


if __name__ == "__main__":
    main()
