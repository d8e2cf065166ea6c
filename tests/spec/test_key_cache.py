"""The per-process cache of answer keys keeps each variant's key once, within a bound on the numbers it holds: a
batch over many variants of a sheet of big arrays does not keep every variant's key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader import key as key_module
from grader.key import KEY_CACHE_NUMBERS, answer_key, compute_key
from grader.spec.loader import load_sheet

BIG_SHEET = """\
id: big-arrays
exercises:
  - id: scale
    inputs:
      x: {random: {dist: normal, shape: [400, 500]}}
    parts:
      - id: doubled
        prompt: 2 x, a 400x500 array
        points: 1
        answer: {type: array}
        expected: {op: mul, a: $x, b: 2}
"""


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    key_module._KEYS.clear()


def _held() -> int:
    return sum(key.numbers for key in key_module._KEYS.values())


def test_a_variant_key_is_computed_once() -> None:
    sheet = load_sheet(Path("exercises/week7.yaml"))
    first = answer_key(sheet, 7)
    assert answer_key(sheet, 7) is first and answer_key(sheet, 8) is not first
    assert answer_key(sheet, 7) is first  # the week-7 keys are small: both variants stay


def test_big_keys_are_dropped_oldest_first_within_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(BIG_SHEET)
    sheet = load_sheet(path)
    per_key = compute_key(sheet, 0).numbers
    assert per_key == 2 * 400 * 500  # the drawn input and the part's key
    for seed in range(30):
        latest = answer_key(sheet, seed)
        assert _held() <= max(KEY_CACHE_NUMBERS, per_key)
    kept = [seed for (_, seed) in key_module._KEYS]
    assert kept == list(range(30 - KEY_CACHE_NUMBERS // per_key, 30))  # the most recent ones, in order of use
    assert answer_key(sheet, 29) is latest
    np.testing.assert_array_equal(answer_key(sheet, 0).part("scale", "doubled").expected, compute_key(sheet, 0).part("scale", "doubled").expected)


def test_a_key_bigger_than_the_bound_is_still_kept_while_it_is_the_latest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(BIG_SHEET)
    sheet = load_sheet(path)
    monkeypatch.setattr(key_module, "KEY_CACHE_NUMBERS", 1000)
    first = answer_key(sheet, 1)
    assert answer_key(sheet, 1) is first and list(key_module._KEYS) == [(sheet, 1)]
    answer_key(sheet, 2)
    assert list(key_module._KEYS) == [(sheet, 2)]


BIG_INPUT_SMALL_KEY = """\
id: big-input
exercises:
  - id: total
    inputs:
      x: {random: {dist: normal, shape: [1000, 1000]}}
    parts:
      - id: sum
        prompt: the sum of x
        points: 1
        answer: {type: number}
        expected: {op: sum, x: $x}
"""


def test_drawn_inputs_count_against_the_bound(tmp_path: Path) -> None:
    """A key of one number over a 1000x1000 input still holds the input (the student's sheet shows it)."""
    path = tmp_path / "big-input.yaml"
    path.write_text(BIG_INPUT_SMALL_KEY)
    sheet = load_sheet(path)
    for seed in range(8):
        answer_key(sheet, seed)
    assert compute_key(sheet, 0).numbers == 1000 * 1000 + 1
    assert len(key_module._KEYS) == KEY_CACHE_NUMBERS // (1000 * 1000 + 1)
    assert _held() <= KEY_CACHE_NUMBERS
