"""Generate a synthetic cohort of submissions for a sheet, with a manifest of what was planted in them.

    python benchmarks/make_cohort.py exercises/week7.yaml OUT_DIR -n 1000 --seed 0 [--code-fraction 0.02]

Writes ``OUT_DIR/submissions/<student>.yaml|.json|.py|.ipynb`` and ``OUT_DIR/planted.json`` (outside the
submissions folder, so a batch over it does not grade the manifest). Every answer comes from the answer key the
grader itself computes (``grader.key.answer_key``); nothing is typed by hand. Per part, an answer file holds:

- ``right``: the key's answer (``answer_json``);
- a known mistake: the value the engine computes under that mistake (``mistake_json``), planted only when it
  differs from the right answer and from the part's other mistakes for that variant;
- ``wrong``: the right answer perturbed so that it matches neither the key nor a known mistake;
- ``missing``: the part left out.

Some files are malformed (YAML or JSON that does not parse) and, with ``--code-fraction``, some are copies of
the sample code submissions in ``submissions/<sheet>/code/`` when that folder exists. Parts whose answers are
not plain values (formulas, graphs, schedules, translations, code) are left missing in answer files.

The manifest counts, per part, how often each outcome and each known mistake was planted, so a test can check
that grading the cohort and computing statistics finds exactly those counts.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from grader.errors import GraderError  # noqa: E402
from grader.key import answer_key  # noqa: E402
from grader.spec import load_sheet  # noqa: E402

OUTCOME_WEIGHTS = {"right": 0.55, "mistake": 0.25, "wrong": 0.10, "missing": 0.10}
"""Share of each outcome per part of an answer file (a part without known mistakes gives their share to right)."""
MALFORMED_FRACTION = 0.03
"""Default share of files that do not parse."""
STUDENT_LINE = re.compile(r'STUDENT = \\?"[^"\\]*\\?"')
"""A code sample's ``STUDENT = "..."`` line, in a .py file or (its quotes escaped) in a notebook's JSON."""
JSON_FRACTION = 0.2
"""Share of answer files written as JSON rather than YAML."""
MALFORMED_TEXTS = {
    ".yaml": "student: {student}\nanswers:\n  ex1: [unclosed, list\n    a: 1\n",
    ".json": '{{"student": "{student}", "answers": {{"ex1": {{"a": 1,}}}}',
}
"""Files that do not parse (a YAML flow list left open; a JSON object with a trailing comma)."""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _close_numbers(first: Any, second: Any) -> bool:
    """Whether two JSON values are equal up to 1e-6 relative (numbers anywhere in nested lists)."""
    if isinstance(first, bool) or isinstance(second, bool):
        return first == second
    if isinstance(first, int | float) and isinstance(second, int | float):
        return math.isclose(first, second, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(first, list) and isinstance(second, list):
        return len(first) == len(second) and all(_close_numbers(a, b) for a, b in zip(first, second, strict=True))
    return _canonical(first) == _canonical(second)


def _perturb(answer_type: str, value: Any) -> Any:
    """A wrong answer of the right type, far from ``value`` (None when the type has no obvious perturbation)."""
    if answer_type == "number":
        return value * 1.5 + 1000.0
    if answer_type == "integer":
        return value + 1000
    if answer_type == "boolean":
        return not value
    if answer_type == "array":
        def shift(item: Any) -> Any:
            return [shift(x) for x in item] if isinstance(item, list) else item + 1000
        return shift(value)
    if answer_type == "shape":
        return "x".join(str(int(size) + 1000) for size in str(value).split("x"))
    if answer_type == "set":
        return sorted(value)[:1] + ["not_a_node"] if value else ["not_a_node"]
    return None


def make_cohort(
    spec_path: Path,
    out_dir: Path,
    *,
    n: int,
    seed: int = 0,
    code_fraction: float = 0.0,
    variants: int = 50,
    malformed_fraction: float = MALFORMED_FRACTION,
    code_dir: Path | None = None,
) -> dict[str, Any]:
    """Write ``n`` submissions under ``out_dir/submissions`` and return (and write) the planted manifest.

    ``variants``: students draw their variant seed from 1..variants (0: every student gets their own seed).
    ``code_fraction`` and ``malformed_fraction``: shares of code and malformed files (rounded to whole files).
    ``code_dir``: sample code submissions to copy (default ``submissions/<sheet id>/code`` in the repository).
    """
    sheet = load_sheet(spec_path)
    rng = random.Random(seed)
    folder = out_dir / "submissions"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    code_dir = code_dir if code_dir is not None else REPO / "submissions" / sheet.id / "code"
    code_samples = sorted(p for p in code_dir.glob("*") if p.suffix in (".py", ".ipynb")) if code_dir.is_dir() else []
    plain_parts = [(e, p) for e, p in sheet.parts() if p.answer.type != "code"]

    parts_manifest: dict[str, dict[str, Any]] = {
        f"{e.id}.{p.id}": {"right": 0, "wrong": 0, "missing": 0, "mistakes": {}} for e, p in plain_parts
    }
    files = {"answer": 0, "malformed": 0, "code": 0}
    # Exact numbers of code and malformed files, at random places: a small cohort still gets some of each.
    n_code = round(n * code_fraction) if code_samples else 0
    n_malformed = min(round(n * malformed_fraction), n - n_code)
    special = rng.sample(range(n), n_code + n_malformed)
    code_indices, malformed_indices = set(special[:n_code]), set(special[n_code:])
    for index in range(n):
        student = f"s{index + 1:05d}"
        if index in code_indices:
            sample = code_samples[rng.randrange(len(code_samples))]
            # the sample's own STUDENT = "s-code-..." would make every copy of it one student
            quote = '\\"' if sample.suffix == ".ipynb" else '"'  # a notebook's source is JSON text
            source = STUDENT_LINE.sub(lambda _: f"STUDENT = {quote}{student}{quote}", sample.read_text(encoding="utf-8"))
            (folder / f"{student}{sample.suffix}").write_text(source, encoding="utf-8")
            files["code"] += 1
            continue
        suffix = ".json" if rng.random() < JSON_FRACTION else ".yaml"
        if index in malformed_indices:
            (folder / f"{student}{suffix}").write_text(MALFORMED_TEXTS[suffix].format(student=student))
            files["malformed"] += 1
            continue
        variant = rng.randint(1, variants) if variants else seed * 1_000_003 + index + 1
        key = answer_key(sheet, variant)
        answers: dict[str, dict[str, Any]] = {}
        for exercise, part in plain_parts:
            counts = parts_manifest[f"{exercise.id}.{part.id}"]
            right = key.answer_json(exercise.id, part.id)
            if right is None:
                counts["missing"] += 1
                continue
            mistakes = {m: key.mistake_json(exercise.id, part.id, m) for m in key.mistake_ids(exercise.id, part.id)}
            # A mistake is plantable for this variant only when its value tells it apart from the key and from
            # the part's other mistakes; otherwise grading could not say which one was made.
            plantable = [
                m
                for m, value in mistakes.items()
                if value is not None
                and not _close_numbers(value, right)
                and not any(_close_numbers(value, other) for o, other in mistakes.items() if o != m and other is not None)
            ]
            outcome = rng.choices(list(OUTCOME_WEIGHTS), weights=list(OUTCOME_WEIGHTS.values()))[0]
            if outcome == "mistake" and not plantable:
                outcome = "right"
            if outcome == "wrong":
                wrong = _perturb(part.answer.type, right)
                if wrong is None or any(
                    _close_numbers(wrong, v) for v in [right, *mistakes.values()] if v is not None
                ):
                    outcome = "missing"
            if outcome == "right":
                value = right
            elif outcome == "mistake":
                mistake_id = plantable[rng.randrange(len(plantable))]
                value = mistakes[mistake_id]
                counts["mistakes"][mistake_id] = counts["mistakes"].get(mistake_id, 0) + 1
            elif outcome == "wrong":
                value = wrong
            else:
                counts["missing"] += 1
                continue
            if outcome != "mistake":
                counts[outcome] += 1
            answers.setdefault(exercise.id, {})[part.id] = value
        document = {"student": student, "seed": variant, "answers": answers}
        path = folder / f"{student}{suffix}"
        if suffix == ".json":
            path.write_text(json.dumps(document, indent=1))
        else:
            path.write_text(yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=120))
        files["answer"] += 1

    manifest = {
        "sheet_id": sheet.id,
        "spec_hash": sheet.spec_hash,
        "n": n,
        "seed": seed,
        "variants": variants,
        "malformed_fraction": malformed_fraction,
        "code_fraction": code_fraction,
        "code_samples": [p.name for p in code_samples],
        "files": files,
        "parts": parts_manifest,
    }
    (out_dir / "planted.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path, help="the exercise sheet (YAML)")
    parser.add_argument("out_dir", type=Path, help="where to write submissions/ and planted.json")
    parser.add_argument("-n", type=int, default=1000, help="number of submissions (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cohort's random choices (default 0)")
    parser.add_argument("--code-fraction", type=float, default=0.0, help="share of code submissions (default 0)")
    parser.add_argument(
        "--malformed-fraction", type=float, default=MALFORMED_FRACTION, help="share of malformed files (default 0.03)"
    )
    parser.add_argument(
        "--variants", type=int, default=50, help="students draw from this many variants; 0: one each (default 50)"
    )
    args = parser.parse_args(argv)
    if args.n < 0 or args.variants < 0:
        parser.error("-n and --variants must be >= 0")
    if not (0.0 <= args.code_fraction <= 1.0 and 0.0 <= args.malformed_fraction <= 1.0):
        parser.error("--code-fraction and --malformed-fraction must be within [0, 1]")
    try:
        manifest = make_cohort(
            args.spec,
            args.out_dir,
            n=args.n,
            seed=args.seed,
            code_fraction=args.code_fraction,
            variants=args.variants,
            malformed_fraction=args.malformed_fraction,
        )
    except GraderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    files = manifest["files"]
    print(
        f"wrote {args.n} submissions to {args.out_dir / 'submissions'} "
        f"({files['answer']} answer files, {files['malformed']} malformed, {files['code']} code) "
        f"and {args.out_dir / 'planted.json'}"
    )
    if args.code_fraction and not manifest["code_samples"]:
        print("note: no sample code submissions found; no code files were written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
