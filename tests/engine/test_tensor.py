"""Tensor ops and backward(): values against numpy, adjoints against central differences, graph edge cases."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.engine.gradcheck import numerical_gradient
from grader.engine.tensor import Tensor, add, div, mul, neg, power, reverse_schedule, square, sub, sum_all

SETTINGS = settings(max_examples=40, deadline=None)


def arrays_in(shape: tuple[int, ...], low: float, high: float) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, width=64))


def signed_away_from_zero(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Entries with 0.5 <= |v| <= 2, so quotients and their derivatives stay moderate."""
    return st.tuples(arrays_in(shape, 0.5, 2.0), hnp.arrays(np.bool_, shape)).map(lambda p: np.where(p[1], -p[0], p[0]))


BINARY: dict[str, tuple[Callable, Callable, Callable, Callable]] = {
    # name: (engine op, numpy oracle, strategy for a, strategy for b)
    "add": (add, np.add, lambda s: arrays_in(s, -3, 3), lambda s: arrays_in(s, -3, 3)),
    "sub": (sub, np.subtract, lambda s: arrays_in(s, -3, 3), lambda s: arrays_in(s, -3, 3)),
    "mul": (mul, np.multiply, lambda s: arrays_in(s, -3, 3), lambda s: arrays_in(s, -3, 3)),
    "div": (div, np.divide, lambda s: arrays_in(s, -3, 3), signed_away_from_zero),
    # base > 0 so the exponent's adjoint (a^b ln a) exists
    "pow": (power, np.power, lambda s: arrays_in(s, 0.5, 2.0), lambda s: arrays_in(s, -2, 2)),
}


def weighted_sum_gradients(op: Callable, arrays: list[np.ndarray], weights: np.ndarray) -> list[np.ndarray]:
    """Adjoints of sum(op(*arrays) * weights) w.r.t. each array, by the engine."""
    leaves = [Tensor(a, name=f"in{i}") for i, a in enumerate(arrays)]
    sum_all(mul(op(*leaves), weights)).backward()
    return [leaf.grad for leaf in leaves]  # type: ignore[misc]


def central_gradients(oracle: Callable, arrays: list[np.ndarray], weights: np.ndarray) -> list[np.ndarray]:
    grads = []
    for i in range(len(arrays)):

        def f(point: np.ndarray, i: int = i) -> float:
            args = [point if j == i else a for j, a in enumerate(arrays)]
            return float((oracle(*args) * weights).sum())

        grads.append(numerical_gradient(f, arrays[i]))
    return grads


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(data=st.data())
def test_binary_op_value_and_adjoints_with_broadcasting(name: str, data: st.DataObject) -> None:
    op, oracle, left, right = BINARY[name]
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    a, b = data.draw(left(shapes.input_shapes[0])), data.draw(right(shapes.input_shapes[1]))
    weights = data.draw(arrays_in(shapes.result_shape, -2, 2))
    out = op(Tensor(a), Tensor(b))
    assert out.op == name and out.shape == shapes.result_shape
    np.testing.assert_allclose(out.value, oracle(a, b), rtol=1e-12, atol=1e-12)
    actual = weighted_sum_gradients(op, [a, b], weights)
    expected = central_gradients(oracle, [a, b], weights)
    for got, want, arg in zip(actual, expected, "ab", strict=True):
        assert got.shape == want.shape, arg
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{name}: adjoint of {arg}")


UNARY: dict[str, tuple[Callable, Callable]] = {
    "neg": (neg, np.negative),
    "square": (square, np.square),
    "sum": (sum_all, np.sum),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(x=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4).flatmap(lambda s: arrays_in(s, -3, 3)))
def test_unary_tensor_ops_value_and_adjoint(name: str, x: np.ndarray) -> None:
    op, oracle = UNARY[name]
    out = op(Tensor(x))
    np.testing.assert_allclose(out.value, oracle(x), rtol=1e-12, atol=1e-12)
    weights = np.linspace(-1.0, 2.0, out.value.size).reshape(out.shape)
    (actual,) = weighted_sum_gradients(op, [x], weights)
    (expected,) = central_gradients(oracle, [x], weights)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def test_operators_dispatch_to_ops_including_numpy_on_the_left() -> None:
    x = Tensor(np.array([1.0, 2.0]), name="x")
    assert [(x + 1).op, (1 + x).op, (x - 1).op, (1 - x).op, (x * 2).op, (2 * x).op] == [
        "add", "add", "sub", "sub", "mul", "mul",
    ]  # fmt: skip
    assert [(x / 2).op, (2 / x).op, (x**2).op, (2**x).op, (-x).op] == ["div", "div", "pow", "pow", "neg"]
    assert (+x) is x
    left = np.array([3.0, 4.0]) * x
    assert isinstance(left, Tensor) and left.op == "mul"
    np.testing.assert_array_equal((2 / x).value, [2.0, 1.0])
    np.testing.assert_array_equal((2**x).value, [2.0, 4.0])


def test_backward_twice_gives_the_same_gradients() -> None:
    x, y = Tensor(1.5, name="x"), Tensor(-0.5, name="y")
    out = (x * y + x**3).sum()
    out.backward()
    first = (x.grad.copy(), y.grad.copy())  # type: ignore[union-attr]
    out.backward()
    assert float(x.grad) == pytest.approx(first[0]) == pytest.approx(y.item() + 3 * x.item() ** 2)
    assert float(y.grad) == pytest.approx(first[1]) == pytest.approx(x.item())


def test_node_used_twice_accumulates() -> None:
    x = Tensor(3.0, name="x")
    out = x * x
    out.backward()
    assert float(x.grad) == 6.0  # d(x^2)/dx, both uses of x counted once each
    assert out.parents == (x, x)


def test_diamond_graph_sums_both_paths() -> None:
    a = Tensor(0.7, name="a")
    left, right = a * 3.0, a**2
    out = left * right  # 3a * a^2 = 3 a^3
    out.backward()
    assert float(a.grad) == pytest.approx(9 * 0.7**2)
    assert float(left.grad) == pytest.approx(0.7**2) and float(right.grad) == pytest.approx(2.1)


def test_deep_chain_has_no_recursion_limit() -> None:
    x = Tensor(0.5, name="x")
    node = x
    for _ in range(5000):
        node = node + x  # node = (k + 1) x
    schedule = node.backward()
    assert float(x.grad) == 5001.0
    assert schedule[0] is node and schedule[-1] is x
    assert len(reverse_schedule(node)) == 5001


def test_non_scalar_backward_needs_a_seed() -> None:
    x = Tensor(np.arange(3.0), name="x")
    out = x * 2.0
    with pytest.raises(ValueError, match=r"needs a scalar output, got shape \(3,\).*seed="):
        out.backward()
    out.backward(seed=np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, -2.0])


def test_constant_exponent_is_a_const_leaf_with_no_adjoint_flowing_into_x() -> None:
    x = Tensor(np.array([-2.0, 0.0, 3.0]), name="x")
    out = x**2
    assert out.op == "pow" and out.parents[0] is x and out.parents[1].op == "const"
    out.backward(seed=np.ones(3))
    np.testing.assert_array_equal(x.grad, [-4.0, 0.0, 6.0])  # negative base is fine: exponent is constant


def test_pow_errors_are_readable() -> None:
    with pytest.raises(ValueError, match=r"pow: -8 \*\* 0\.5 is not a finite real number at index \[0\].*whole-number"):
        power(np.array([-8.0]), 0.5)
    with pytest.raises(ValueError, match="0 to a negative power"):
        power(0.0, -1.0)
    with pytest.raises(ValueError, match="overflows float64"):
        power(9.0, 9.0**9)
    root = Tensor(0.0, name="x") ** 0.5
    with pytest.raises(ValueError, match=r"derivative of x \*\* 0.5 at x = 0 is not finite"):
        root.backward()
    base, exponent = Tensor(-1.0), Tensor(2.0)
    with pytest.raises(ValueError, match="exponent needs a positive base"):
        (base**exponent).backward()


def test_division_by_zero_and_overflow_name_the_op() -> None:
    with pytest.raises(ValueError, match=r"div: division by zero: the divisor is 0 at index \[1\]"):
        div(np.ones(2), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"mul: the result is not finite.*overflow"):
        mul(1e200, 1e200)


def test_bad_inputs_are_refused_with_their_name() -> None:
    with pytest.raises(ValueError, match=r"theta: 1 non-finite entry.*index \[1\]"):
        Tensor([0.0, np.nan], name="theta")
    with pytest.raises(ValueError, match="theta: expected numbers"):
        Tensor("abc", name="theta")
    with pytest.raises(ValueError, match=r"add: operand shapes \(2,\) and \(3,\) do not broadcast"):
        add(np.ones(2), np.ones(3))


def test_item_and_labels() -> None:
    assert Tensor([2.5]).item() == 2.5
    with pytest.raises(ValueError, match=r"item\(\): x has shape \(2,\)"):
        Tensor([1.0, 2.0], name="x").item()
    node = Tensor(1.0, name="x") + 1.0
    assert node.label.startswith("add#") and node.named("f1").label == "f1"


def test_seed_of_the_wrong_shape_and_overflowing_adjoints_are_reported() -> None:
    x = Tensor(np.ones(3), name="x")
    with pytest.raises(ValueError, match=r"seed has shape \(2,\).*output's shape \(3,\)"):
        (x * 2.0).backward(seed=np.ones(2))
    tiny = Tensor(1e-200, name="tiny")
    scaled = (tiny * 1e300).named("scaled")  # 1e100
    out = scaled * scaled  # 1e200: every value is finite, but d(out)/d(tiny) = 2e100 * 1e300 is not
    with pytest.raises(ValueError, match=r"adjoint that scaled \(mul\) sends to tiny is not finite"):
        out.backward()


def test_adjoints_never_share_memory_even_when_vjps_pass_g_through() -> None:
    # add's VJP hands g itself to both parents, so each first adjoint must be copied: otherwise the later
    # `+=` into one node's .grad would also change another's (and the caller's seed).
    rng = np.random.default_rng(7)
    a = Tensor(rng.standard_normal((3, 4)), name="a")
    b = (a + 1.0).named("b")  # db/da = 1
    c = (b + b).named("c")  # dc/db = 2
    d = (c + a).named("d")  # a reached along two paths: through b twice, and directly
    out = (d * 2.0).named("out")
    seed = rng.standard_normal((3, 4))
    seed_before = seed.copy()
    schedule = out.backward(seed)
    np.testing.assert_array_equal(seed, seed_before)
    np.testing.assert_allclose(d.grad, 2 * seed)
    np.testing.assert_allclose(c.grad, 2 * seed)
    np.testing.assert_allclose(b.grad, 4 * seed)
    np.testing.assert_allclose(a.grad, 6 * seed)  # out = 2(2(a + 1) + a) = 6a + 4
    grads = [node.grad for node in schedule] + [seed]
    for i, first in enumerate(grads):
        for second in grads[i + 1 :]:
            assert not np.shares_memory(first, second)
    out.backward(seed)  # a second pass starts from scratch and gives the same adjoints
    np.testing.assert_allclose(a.grad, 6 * seed)
