"""The engine's scan for relu/abs inputs at 0 (:func:`grader.engine.graph.kinks`) and its test of whether adjoints
depend on the derivative taken there (:func:`grader.engine.graph.kink_dependence`), on graphs built by hand."""

from __future__ import annotations

import numpy as np
import pytest

from grader.engine import Tensor, absolute, relu
from grader.engine.graph import kink_dependence, kinks
from grader.quantities import TIE_ATOL, TIE_RTOL


def test_kinks_finds_zero_inputs_with_the_engine_derivative_and_the_receiving_entries() -> None:
    x = Tensor(np.array([0.0, 2.0, -1.0, 1e-13]), "x")
    v = Tensor(np.array([0.0, 1.0, 1.0, 3.0]), "v")
    out = (relu(x) * v).sum()
    schedule = out.backward()
    [kink] = kinks(schedule, atol=TIE_ATOL)
    assert kink.function == "relu" and kink.at.tolist() == [True, False, False, True]
    assert kink.rule.tolist() == [0.0, 1.0, 0.0, 1.0]  # 1e-13 is on the positive side for the engine
    assert kink.receiving_at.tolist() == [False, False, False, True] and kink.index == (3,) and kink.value == 1e-13
    assert kinks((absolute(Tensor(np.array([1.0, -2.0]))),), atol=TIE_ATOL) == []


def test_abs_takes_the_sign_and_0_at_0() -> None:
    x = Tensor(np.array([-2.0, 0.0, 3.0]), "x")
    out = absolute(x).sum()
    out.backward()
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]
    [kink] = kinks([out.parents[0]], atol=TIE_ATOL)
    assert kink.conventions == (0.0, 1.0, -1.0) and kink.derivative(1.0).tolist() == [-1.0, 1.0, 1.0]


def test_a_dependence_names_the_entry_and_gives_each_convention() -> None:
    x = Tensor(np.array([0.0, 0.0, 5.0]), "x")
    out = (absolute(x) * np.array([0.0, 2.0, 1.0])).sum()
    schedule = out.backward()
    found = kink_dependence(out, [x], kinks(schedule, atol=TIE_ATOL), rtol=TIE_RTOL, atol=TIE_ATOL)
    assert found is not None and found.alone and found.entry == (1,) and found.index == (1,)
    assert found.values == ((0.0, 0.0), (1.0, 2.0), (-1.0, -2.0))
    assert x.grad.tolist() == [0.0, 0.0, 1.0]  # the engine's adjoints are back


def test_no_dependence_when_no_adjoint_reaches_the_zero_or_it_does_not_reach_the_target() -> None:
    x, y = Tensor(np.array([0.0, 1.0]), "x"), Tensor(np.array([2.0, 3.0]), "y")
    out = (relu(x) * np.array([0.0, 1.0]) + relu(x) * y).sum()  # t_y = relu(x): no derivative of relu in it
    schedule = out.backward()
    assert kink_dependence(out, [y], kinks(schedule, atol=TIE_ATOL), rtol=TIE_RTOL, atol=TIE_ATOL) is None
    only_masked = (relu(x) * np.array([0.0, 1.0])).sum()
    schedule = only_masked.backward()
    assert kink_dependence(only_masked, [x], kinks(schedule, atol=TIE_ATOL), rtol=TIE_RTOL, atol=TIE_ATOL) is None


def test_the_decision_is_the_same_on_every_run() -> None:
    x = Tensor(np.zeros((3, 3)), "x")
    out = (relu(relu(x) - relu(x * 2.0)) * np.arange(9.0).reshape(3, 3)).sum()
    runs = []
    for _ in range(3):
        schedule = out.backward()
        found = kink_dependence(out, [x], kinks(schedule, atol=TIE_ATOL), rtol=TIE_RTOL, atol=TIE_ATOL)
        assert found is not None
        runs.append((found.kink.node is not None, found.alone, found.entry, found.index))
    assert runs[0] == runs[1] == runs[2]


@pytest.mark.parametrize("value", [1e-9, -1e-6])
def test_values_beyond_rounding_are_no_kink(value: float) -> None:
    out = relu(Tensor(np.array([value]), "x")).sum()
    assert kinks(out.backward(), atol=TIE_ATOL) == []
