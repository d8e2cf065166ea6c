"""translation answers (Exercise 3d), against a reference computed with the engine's conv, relu and pooling."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from grader.answers import AnswerError, CheckContext, Shifts, TranslationAnswer, TranslationReference
from grader.engine.activations import relu
from grader.engine.conv import conv2d
from grader.engine.pool import max_pool2d
from grader.result import Status

CTX = CheckContext.from_seed(0)
MAX_SHIFT = 2


def shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` (H, W, C) moved dy rows down and dx columns right, zeros filling in."""
    out = np.zeros_like(image)
    h, w = image.shape[:2]
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def build_reference(seed: int) -> TranslationReference:
    """A 6x6 image with a zero border, two 3x3 0/1 filters: conv -> relu -> 2x2 max-pool, stride 2: (2, 2, 2)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((6, 6, 1))
    image[1:5, 1:5, 0] = rng.integers(0, 5, size=(4, 4))
    filters = rng.integers(0, 2, size=(3, 3, 1, 2)).astype(np.float64)

    def pooled(img: np.ndarray) -> np.ndarray:
        return max_pool2d(relu(conv2d(img, filters)), 2, stride=2).value

    base = pooled(image)
    units = tuple(tuple(int(i) for i in index) for index in np.ndindex(base.shape))
    cache: dict[tuple[int, int], np.ndarray] = {}

    def is_invariant(unit: tuple[int, ...], shift: tuple[int, int]) -> bool:
        if shift not in cache:
            cache[shift] = pooled(shifted(image, *shift))
        return bool(cache[shift][unit] == base[unit])

    candidates = [s for s in itertools.product(range(-MAX_SHIFT, MAX_SHIFT + 1), repeat=2) if s != (0, 0)]
    example = {unit: next((s for s in candidates if is_invariant(unit, s)), None) for unit in units}
    return TranslationReference(units=units, is_invariant=is_invariant, example=example, max_shift=MAX_SHIFT)


@pytest.fixture(scope="module")
def reference() -> TranslationReference:
    for seed in range(100):  # a variant where every unit has an invariant shift and some shift breaks each
        ref = build_reference(seed)
        candidates = [s for s in itertools.product(range(-MAX_SHIFT, MAX_SHIFT + 1), repeat=2) if s != (0, 0)]
        if all(ref.example[u] is not None for u in ref.units) and all(
            any(not ref.is_invariant(u, s) for s in candidates) for u in ref.units
        ):
            return ref
    raise AssertionError("no suitable variant in 100 seeds")


def a_breaking_shift(reference: TranslationReference, unit: tuple[int, ...]) -> tuple[int, int]:
    candidates = [s for s in itertools.product(range(-MAX_SHIFT, MAX_SHIFT + 1), repeat=2) if s != (0, 0)]
    return next(s for s in candidates if not reference.is_invariant(unit, s))


def test_the_keys_own_examples_are_right_in_both_forms(reference: TranslationReference) -> None:
    answer = TranslationAnswer()
    as_mapping = answer.expected_json(reference)
    assert list(as_mapping) == [",".join(map(str, u)) for u in reference.units]
    assert answer.check(answer.parse(as_mapping), reference, CTX).status is Status.correct
    as_list = [as_mapping[key] for key in as_mapping]
    assert answer.check(answer.parse(as_list), reference, CTX).status is Status.correct


def test_one_wrong_and_one_missing_unit(reference: TranslationReference) -> None:
    answer = TranslationAnswer()
    raw = answer.expected_json(reference)
    units = list(reference.units)
    bad = a_breaking_shift(reference, units[1])
    raw[",".join(map(str, units[1]))] = list(bad)
    del raw[",".join(map(str, units[2]))]
    verdict = answer.check(answer.parse(raw), reference, CTX)
    assert verdict.status is Status.partial and verdict.fraction == pytest.approx(6 / 8)
    name1, name2 = (",".join(map(str, u)) for u in units[1:3])
    assert f"unit {name1}: shifting by {bad} changes its value" in verdict.details
    assert f"no shift given for unit {name2}" in verdict.details
    assert verdict.feedback.startswith("2 of 8 units are not right: ")


def test_zero_too_large_and_none_are_judged(reference: TranslationReference) -> None:
    answer = TranslationAnswer()
    first = reference.units[0]
    raw = answer.expected_json(reference)
    key = ",".join(map(str, first))
    for value, reason in [([0, 0], "(0, 0) does not move the image"), ([5, 0], "larger than 2 pixels"),
                          (None, "there is a translation that keeps its value")]:
        verdict = answer.check(answer.parse({**raw, key: value}), reference, CTX)
        assert verdict.fraction == pytest.approx(7 / 8)
        assert any(reason in line for line in verdict.details), verdict.details


def test_none_is_right_when_no_translation_exists() -> None:
    units = ((0, 0, 0), (0, 0, 1))
    reference = TranslationReference(
        units=units, is_invariant=lambda unit, shift: unit == (0, 0, 1) and shift == (0, 1),
        example={(0, 0, 0): None, (0, 0, 1): (0, 1)}, max_shift=1,
    )
    answer = TranslationAnswer()
    assert answer.check(answer.parse({"0,0,0": "none", "0,0,1": "(0, 1)"}), reference, CTX).status is Status.correct
    wrong = answer.check(answer.parse({"0,0,0": [1, 0], "0,0,1": [0, 1]}), reference, CTX)
    assert wrong.fraction == 0.5 and "unit 0,0,0: shifting by (1, 0) changes its value" in wrong.feedback
    assert answer.expected_json(reference) == {"0,0,0": None, "0,0,1": [0, 1]}


def test_unknown_units_and_too_many_shifts_are_reported(reference: TranslationReference) -> None:
    answer = TranslationAnswer()
    raw = {**answer.expected_json(reference), "5,5,5": [0, 1]}
    verdict = answer.check(answer.parse(raw), reference, CTX)
    assert verdict.status is Status.correct and "no such unit: 5,5,5" in verdict.feedback
    too_many = answer.check(answer.parse([[0, 1]] * 9), reference, CTX)
    assert too_many.fraction == 0 and too_many.feedback == "you listed 9 shifts but there are 8 units"


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ({"0,1,1": [0, -1]}, {(0, 1, 1): (0, -1)}),
        ({"(0, 1, 1)": "(0, -1)"}, {(0, 1, 1): (0, -1)}),
        ({"0 1 1": "0 -1"}, {(0, 1, 1): (0, -1)}),
        ({"0,1,1": None, "1,0,0": "None"}, {(0, 1, 1): None, (1, 0, 0): None}),
        ({"0,1,1": [1.0, 0.0]}, {(0, 1, 1): (1, 0)}),
    ],
)
def test_parse_forms(raw: object, parsed: dict) -> None:
    assert TranslationAnswer().parse(raw) == Shifts(by_unit=parsed)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"0,1,1": [0, 1, 2]}, "unit 0,1,1: expected a shift [dy, dx] of two whole numbers, got 3 item(s)"),
        ({"0,1,1": [True, 0]}, "unit 0,1,1: dy is true (a boolean)"),
        ({"0,1,1": [0.5, 0]}, "unit 0,1,1: dy is the number 0.5"),
        ({"a,b": [0, 1]}, "in unit 'a,b', an index is the text 'a'"),
        ({"0,-1,1": [0, 1]}, "indices are 0-based and not negative"),
        ({"0,1,1": [0, 1], "0 1 1": [1, 0]}, "unit 0,1,1 is given twice"),
        ("0,1,1: 0,1", "expected a mapping from unit to shift"),
        ({"0,1,1": {"dy": 0}}, "expected a shift [dy, dx] (or none), got a mapping"),
    ],
)
def test_parse_rejects(raw: object, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        TranslationAnswer().parse(raw)
    assert message in str(caught.value)


@pytest.mark.parametrize("minus", ["\u2212", "\u2013", "-"])
def test_a_shift_written_as_text_reads_a_pasted_minus_as_minus(minus: str) -> None:
    """``"(0, −1)"`` and ``["−1", 0]`` (JSON strings, or quoted in YAML) are the shift (0, -1), as with ``-``."""
    from grader.answers.translation import parse_shift

    assert parse_shift(f"(0, {minus}1)", "unit 0,1,1") == (0, -1)
    assert parse_shift([f"{minus}1", 0], "unit 0,1,1") == (-1, 0)
    with pytest.raises(AnswerError, match="dy is"):
        parse_shift([f"{minus}{minus}1", 0], "unit 0,1,1")


def test_shifts_written_as_dx_dy_are_told_the_order(reference: TranslationReference) -> None:
    """Each unit's valid shift written with its two numbers swapped: the feedback says the order is [dy, dx] when
    every shift fits swapped and some do not as written (a student's [dx, dy] had got only "5 of 8 are not right")."""
    answer = TranslationAnswer()
    swapped: dict[str, list[int]] = {}
    for unit in reference.units:
        fits = [s for s in itertools.product(range(-MAX_SHIFT, MAX_SHIFT + 1), repeat=2) if s != (0, 0) and reference.is_invariant(unit, s)]
        shift = next((s for s in fits if not reference.is_invariant(unit, (s[1], s[0]))), fits[0])
        swapped[",".join(map(str, unit))] = [shift[1], shift[0]]
    verdict = answer.check(answer.parse(swapped), reference, CTX)
    assert verdict.status is not Status.correct
    assert "every shift you gave keeps its unit when read as [dx, dy]: write each as [dy, dx]" in verdict.feedback
    right = answer.check(answer.parse(answer.expected_json(reference)), reference, CTX)
    assert "[dx, dy]" not in right.feedback
