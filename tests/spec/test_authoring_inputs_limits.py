"""Sizes and unchecked quantities: an input, a code case's argument or a computed quantity beyond MAX_ENTRIES, and a
key beyond MAX_KEY_ENTRIES, are each one located error (checked before allocating where the size is known), never a
MemoryError or a killed process; ``validate`` holds one variant's key at a time; and quantities no part uses are
evaluated by ``validate`` like the others.
"""

from __future__ import annotations

import gc
import re
import weakref
from pathlib import Path
from typing import Any

import pytest

import grader.key as key_module
import grader.validate as validate_module
from grader.spec.models import MAX_ENTRIES

from .conftest import Grader, line_of, one_error, write
from .test_authoring_inputs_random import code_sheet

SHEET = """\
id: s
validation_seeds: [1, 2]
exercises:
  - id: e
    inputs:
      x: {value: [[1, 2, 3], [4, 5, 6], [7, 8, 9]], random: {dist: normal, shape: [3, 3]}}
      col: {value: [[1], [2]]}
      row: {value: [[1, 2]]}
    quantities:
      q: QUANTITY
    parts:
      - {id: a, prompt: The sum., points: 1, answer: {type: number}, expected: {op: sum, x: $q}}
"""


# ---- 4. sizes -----------------------------------------------------------------------------------------------
def test_an_input_beyond_the_cap_is_refused_before_it_is_drawn(tmp_path: Path, grader: Grader) -> None:
    text = SHEET.replace("{dist: normal, shape: [3, 3]}", "{dist: normal, shape: [4096, 4096, 4096]}").replace(
        "value: [[1, 2, 3], [4, 5, 6], [7, 8, 9]], ", ""
    ).replace("QUANTITY", "{op: relu, x: $x}")
    path = write(tmp_path, text)
    error = one_error(grader("validate", path), path, "spec-range")
    assert error["path"] == "exercises[0].inputs.x.random.shape"
    assert int(error["line"]) == line_of(text, "x: {random:")
    assert f"has 68719476736 entries; an input may have at most {MAX_ENTRIES}" in error["message"]


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("{op: pad, x: {op: reshape, x: $x, shape: [3, 3, 1]}, width: 100000000}", "pad: the padded array would have 40000001200000009 entries"),
        ("{op: conv2d, x: {op: reshape, x: $x, shape: [3, 3, 1]}, w: [[[[1]]]], padding: 5000}", "conv2d: the padded input would have"),
        ("{op: mul, a: {op: pad, x: $col, width: 2000, axes: [0]}, b: {op: pad, x: $row, width: 2000, axes: [1]}}", "mul: the result would have 16016004 entries (shape 4002x4002)"),
        ("{op: stack, items: [$big, $big, $big, $big, $big, $big, $big, $big, $big, $big, $big, $big]}", "stack: the result would have"),
    ],
)
def test_a_quantity_beyond_the_cap_is_refused_before_it_is_computed(tmp_path: Path, grader: Grader, quantity: str, message: str) -> None:
    text = SHEET.replace("QUANTITY", quantity)
    if "$big" in quantity:  # 1001 x 1001 = 1002001 entries, under the cap; 12 of them are over it
        text = text.replace("    quantities:\n", "    quantities:\n      big: {op: pad, x: $x, width: 499}\n")
    path = write(tmp_path, text)
    error = one_error(grader("validate", path), path, "spec-range")
    assert error["path"] == "exercises[0].quantities.q"
    assert int(error["line"]) == line_of(text, "q: {op:")
    assert message in error["message"], error.string
    assert f"an array may have at most {MAX_ENTRIES} (MAX_ENTRIES)" in error["message"]


def test_a_quantity_whose_size_is_only_known_afterwards_is_refused_too(tmp_path: Path, grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(key_module, "MAX_ENTRIES", 8)
    text = SHEET.replace("QUANTITY", "{op: relu, x: $x}")
    path = write(tmp_path, text)
    error = one_error(grader("validate", path), path, "spec-range")
    assert error["path"] == "exercises[0].quantities.q"
    assert "relu: the result has 9 entries; an array may have at most 8" in error["message"]


def test_a_code_case_argument_beyond_the_cap_is_refused_before_it_is_drawn(tmp_path: Path, grader: Grader) -> None:
    text = code_sheet(dims="{n: {low: 1, high: 3000}}", arg='{shape: [n, "n * 100000"], dist: normal}')
    path = write(tmp_path, text)
    error = one_error(grader("validate", path), path, "spec-range")
    assert error["path"] == "exercises[0].parts[0].answer.random_cases.args.x.shape"
    assert "in random case 1" in error["message"] and f"an array may have at most {MAX_ENTRIES}" in error["message"]


def many_parts(count: int) -> str:
    parts = "\n".join(
        f"      - {{id: p{i}, prompt: q, points: 1, answer: {{type: array}}, expected: {{op: relu, x: $x}}}}" for i in range(count)
    )
    return f"id: many\nvalidation_seeds: [1]\nexercises:\n  - id: e\n    inputs:\n      x: {{random: {{dist: normal, shape: [4, 4]}}}}\n    parts:\n{parts}\n"


def test_a_key_beyond_its_total_cap_stops_at_the_part_that_crosses_it(tmp_path: Path, grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of parts of large arrays took gigabytes (the red team's sheet died in OpenBLAS's malloc)."""
    monkeypatch.setattr(key_module, "MAX_KEY_ENTRIES", 50)  # 16 entries a part: the 4th crosses it
    text = many_parts(10)
    path = write(tmp_path, text)
    for command in ("validate", "solve"):
        error = one_error(grader(command, path), path, "spec-range")
        assert error["path"] == "exercises[0].parts[3].expected"
        assert int(error["line"]) == line_of(text, "id: p3,")
        assert "the answer key holds 64 numbers up to this part" in error["message"]
        assert "at most 50 (MAX_KEY_ENTRIES)" in error["message"]
    assert grader("validate", write(tmp_path, many_parts(3), "three.yaml")).code == 0


def test_validate_holds_one_key_at_a_time(tmp_path: Path, grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validating seeds None, 1, 2 and 3 kept the previous variant's key alive while computing the next: twice the
    memory of a key."""
    real = validate_module.compute_key
    keys: list[weakref.ref[Any]] = []
    alive_at_call: list[int] = []

    def tracking(*args: Any, **kwargs: Any) -> Any:
        gc.collect()
        alive_at_call.append(sum(ref() is not None for ref in keys))
        key = real(*args, **kwargs)
        keys.append(weakref.ref(key))
        return key

    monkeypatch.setattr(validate_module, "compute_key", tracking)
    path = write(tmp_path, many_parts(2).replace("validation_seeds: [1]", "validation_seeds: [1, 2, 3]"))
    assert grader("validate", path).code == 0
    assert alive_at_call == [0, 0, 0, 0]


# ---- 5. quantities no part uses ------------------------------------------------------------------------------
UNUSED = """\
id: unused
validation_seeds: [1, 2]
exercises:
  - id: ex
    inputs:
      x: {value: 1, random: {dist: uniform, low: -1, high: 1}}
    quantities:
      used: {op: relu, x: $x}
      bad: {op: log, x: -1}
      bad3: {op: frobnicate, x: $x}
      selfref: {op: neg, x: $selfref}
      undefined: {op: relu, x: $nothere}
      on_used: {op: conv2d, x: $used, w: $used}
    parts:
      - {id: p, prompt: q, points: 1, answer: {type: number}, expected: $used}
"""


def test_validate_evaluates_the_quantities_no_part_uses(tmp_path: Path, grader: Grader) -> None:
    path = write(tmp_path, UNUSED)
    run = grader("validate", path)
    assert run.code == 2
    found = {(m["path"], m["code"]): m for m in run.errors}
    expected = {
        ("exercises[0].quantities.bad", "spec-op-failed"): "log: x must be > 0 everywhere",
        ("exercises[0].quantities.bad3.op", "spec-unknown-op"): "unknown operation 'frobnicate'",
        ("exercises[0].quantities.selfref", "spec-cycle"): "a cycle: selfref -> selfref",
        ("exercises[0].quantities.undefined.x", "spec-unknown-ref"): "$nothere is neither an input nor a quantity",
        ("exercises[0].quantities.on_used", "spec-op-failed"): "conv2d: x must be (H, W, C)",
    }
    assert set(found) == set(expected), run.err
    for where, message in expected.items():
        assert message in found[where]["message"], found[where].string
        assert int(found[where]["line"]) == line_of(UNUSED, f"{where[0].split('.')[2]}: {{op:")
    # each fault once, not once per variant; the key commands do not evaluate what no part needs
    assert len(run.errors) == len(expected)
    assert grader("solve", path).code == 0


def test_an_unused_quantity_failing_for_some_seeds_names_them(tmp_path: Path, grader: Grader) -> None:
    text = UNUSED.replace("      bad: {op: log, x: -1}\n", "      bad: {op: log, x: $x}\n")
    for name in ("bad3", "selfref", "undefined", "on_used"):
        text = "\n".join(line for line in text.splitlines() if not line.startswith(f"      {name}:")) + "\n"
    path = write(tmp_path, text)
    run = grader("validate", path)
    error = one_error(run, path, "spec-op-failed")
    assert error["path"] == "exercises[0].quantities.bad"
    assert re.match(r"seeds? [\d, ]+: log: x must be > 0", error["message"]), error.string
    assert "the sheet's own numbers" not in error["message"]  # x = 1 there: log is defined


def test_quantities_used_through_others_or_by_code_parts_are_not_evaluated_twice(tmp_path: Path, grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped sheets use every quantity: validate then does no more work than before."""
    calls: list[str] = []
    real = key_module.unused_quantities

    def recording(exercise: Any) -> list[str]:
        names = real(exercise)
        calls.extend(names)
        return names

    monkeypatch.setattr(key_module, "unused_quantities", recording)
    root = Path(__file__).resolve().parents[2]
    assert grader("validate", root / "exercises").code == 0
    assert calls == []
