"""relu and abs at exactly 0: their derivative there is a convention (the engine's, as PyTorch's and TensorFlow's, is
0), so a key must not rest on it, as it must not rest on max pooling's or max/min's tie rule.

``adjoint``/``adjoints`` of a graph and ``grad`` refuse a key that changes when the derivative at the entries at 0
of a relu/abs input is taken as 1 (relu) or +1/-1 (abs), with one located message naming the node, the entry, and
the key under each convention; a key that cannot change (no adjoint reaches the entry, or the entry does not reach
the asked gradient) is accepted. Accepted keys are checked against derivatives written out here and, when it is
installed, against PyTorch. The sheets are real YAML files run through the real command line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.engine import Tensor
from grader.quantities import OPS

from .conftest import Grader, graph_sheet, line_of, solved_key, validate_errors, write

GRAPH = """\
id: graph-kinks
exercises:
  - id: ex
    inputs:
      a: {value: A}
      b: {value: B}
    quantities:
      G: {op: graph, nodes: {p: 'FUNCTION(a - 0.7)', L: p*b}, inputs: {a: $a, b: $b}}
    parts:
      - {id: ta, prompt: t_a, points: 1, answer: {type: number}, expected: {op: adjoint, graph: $G, node: a}}
      - {id: tb, prompt: t_b, points: 1, answer: {type: number}, expected: {op: adjoint, graph: $G, node: b}}
      - {id: tp, prompt: t_p, points: 1, answer: {type: number}, expected: {op: adjoint, graph: $G, node: p}}
"""


# ---- graphs: adjoint and adjoints -------------------------------------------------------------------------------
def test_an_adjoint_through_relu_at_0_is_refused_with_both_values(grader: Grader, tmp_path: Path) -> None:
    text = graph_sheet(GRAPH, "relu", 0.7, -1.3)
    [error] = validate_errors(grader, write(tmp_path, text))
    assert error["path"] == "exercises[0].parts[0].expected" and int(error["line"]) == line_of(text, "id: ta")
    assert error["code"] == "spec-op-failed"
    assert error["message"] == (
        "adjoint: the adjoint t_a depends on relu's derivative at 0: node p = relu(a - 0.7) has its input at 0 "
        "(a - 0.7 = 0), where relu has no derivative, so the derivative there is a convention (the engine takes "
        "relu'(0) = 0, as PyTorch and TensorFlow do), not the function's; taking another derivative there changes "
        "the key (t_a is 0 with the engine's relu'(0) = 0, -1.3 with relu'(0) = 1). Use inputs for which the input "
        "of this relu is not 0 (random inputs from a continuous distribution, dist: normal or uniform, not "
        "integers), or do not ask for an adjoint through it"
    )


def test_an_adjoint_through_abs_at_0_is_refused_with_the_three_values(grader: Grader, tmp_path: Path) -> None:
    [error] = validate_errors(grader, write(tmp_path, graph_sheet(GRAPH, "abs", 0.7, -1.3)))
    assert error["message"].startswith("adjoint: the adjoint t_a depends on abs's derivative at 0: node p = abs(a - 0.7)")
    # d/da (|a - 0.7| * b) = sign * b: 0 by the engine, b = -1.3 with +1, 1.3 with -1
    assert "(t_a is 0 with the engine's abs'(0) = 0, -1.3 with abs'(0) = +1, 1.3 with abs'(0) = -1)" in error["message"]


@pytest.mark.parametrize("function", ["relu", "abs"])
def test_keys_that_cannot_change_at_0_are_accepted(grader: Grader, tmp_path: Path, function: str) -> None:
    # t_b = p = 0 and t_p = b do not pass through the derivative at 0; with b = 0 nothing reaches the kink, so
    # t_a = derivative * b = 0 by any convention.
    path = write(tmp_path, graph_sheet(GRAPH, function, 0.7, -1.3).replace("node: a}}", "node: L}}"))
    assert solved_key(grader, path)["ex"] == {"ta": 1.0, "tb": 0.0, "tp": -1.3}
    assert solved_key(grader, write(tmp_path, graph_sheet(GRAPH, function, 0.7, 0)))["ex"] == {"ta": 0.0, "tb": 0.0, "tp": 0.0}


@pytest.mark.parametrize("function", ["relu", "abs"])
@pytest.mark.parametrize("a", [2.5, -1.5])
def test_away_from_0_the_keys_are_the_derivatives(grader: Grader, tmp_path: Path, function: str, a: float) -> None:
    b = -1.3
    z = a - 0.7
    slope = (1.0 if z > 0 else 0.0) if function == "relu" else float(np.sign(z))
    value = max(z, 0.0) if function == "relu" else abs(z)
    key = solved_key(grader, write(tmp_path, graph_sheet(GRAPH, function, a, b)))["ex"]
    assert key["ta"] == pytest.approx(slope * b) and key["tb"] == pytest.approx(value) and key["tp"] == b


def test_adjoints_refuses_as_adjoint_does() -> None:
    graph = OPS["graph"].fn({"p": "relu(a - 0.7)", "L": "p*b"}, {"a": Tensor(0.7, name="a"), "b": Tensor(-1.3, name="b")})
    with pytest.raises(ValueError, match=r"the adjoint t_a depends on relu's derivative at 0"):
        OPS["adjoints"].fn(graph, ["L", "p", "a"])
    got = OPS["adjoints"].fn(graph, ["L", "p", "b"])
    assert (float(got["L"]), float(got["p"]), float(got["b"])) == (1.0, -1.3, 0.0)


def test_rounding_to_0_counts_as_0(grader: Grader, tmp_path: Path) -> None:
    # 0.1 + 0.2 - 0.3 is 5.55e-17, not 0: relu takes slope 1 there by rounding alone.
    text = graph_sheet(GRAPH, "relu", 0.3, 2).replace("a - 0.7", "a - 0.1 - 0.2")
    [error] = validate_errors(grader, write(tmp_path, text))
    assert "has its input at 0 (a - 0.1 - 0.2 = -2.7755575615628914e-17, 0 up to rounding)" in error["message"]
    assert "(t_a is 0 with the engine's relu'(0) = 0, 2 with relu'(0) = 1)" in error["message"]


def test_stacked_kinks_that_matter_only_together_are_refused() -> None:
    # L = relu(relu(a) - relu(c)) at a = c = 0: t_a = s2 * s1(a). Setting either slope to 1 alone leaves 0 (the other
    # is 0); both together give 1, so the key rests on the convention all the same.
    graph = OPS["graph"].fn({"L": "relu(relu(a) - relu(c))"}, {"a": Tensor(0.0, name="a"), "c": Tensor(0.0, name="c")})
    with pytest.raises(ValueError, match=r"t_a depends on relu's derivative at 0: .*changing the derivative at 0 of the 3 relu/abs nodes"):
        OPS["adjoint"].fn(graph, "a")


def test_the_check_leaves_the_engine_adjoints_and_vjps_in_place() -> None:
    graph = OPS["graph"].fn({"p": "relu(a - 0.7)", "L": "p*b"}, {"a": Tensor(0.7, name="a"), "b": Tensor(-1.3, name="b")})
    node = graph.node("p")
    vjp = node._vjp
    with pytest.raises(ValueError):
        OPS["adjoint"].fn(graph, "a")
    assert node._vjp is vjp and float(graph.node("a").grad) == 0.0 and float(node.grad) == -1.3


# ---- grad: formulas and conv nets --------------------------------------------------------------------------------
def test_grad_through_a_formula_relu_at_0_is_refused(grader: Grader, tmp_path: Path) -> None:
    text = """\
id: formula-kink
exercises:
  - id: ex
    inputs:
      x: {value: [1, 2, -1]}
    quantities:
      dx: {op: grad, of: {op: sum, x: {op: formula, text: 'abs(x - 1) * 3', x: $x}}, wrt: $x}
    parts:
      - {id: g, prompt: q, points: 1, answer: {type: array}, expected: $dx}
"""
    [error] = validate_errors(grader, write(tmp_path, text))
    assert error["path"] == "exercises[0].quantities.dx" and error["code"] == "spec-op-failed"
    assert error["message"].startswith(
        "grad: the gradient with respect to x depends on abs's derivative at 0: abs(x - 1) has its input at 0 "
        "(x - 1 = 0 at entry [0])"
    )
    assert "(entry [0] of the gradient is 0 with the engine's abs'(0) = 0, 3 with abs'(0) = +1, -3 with abs'(0) = -1)" in (
        error["message"]
    )


CONV = """\
id: conv-kink
exercises:
  - id: ex
    inputs:
      image: {value: IMAGE}
      w: {value: [[1, -1], [1, -1]]}
      v: {value: [[[[0.5]], [[-1]]], [[[2]], [[1.5]]]]}
      target: {value: [1]}
    quantities:
      x: {op: reshape, x: $image, shape: [4, 4, 1]}
      f: {op: reshape, x: $w, shape: [2, 2, 1, 1]}
      act: {op: relu, x: {op: conv2d, x: $x, w: $f}}
      pooled: {op: POOL, x: $act, size: 2, stride: 1}
      loss: {op: mse_loss, y: {op: dense, h: $pooled, v: $v}, target: $target}
      dw: {op: grad, of: $loss, wrt: $w}
    parts:
      - {id: g, prompt: dL/dw, points: 1, answer: {type: array}, expected: $dw}
"""
KINKED = [[1, 2, 0, 1], [0, 1, 2, 1], [1, 0, 1, 2], [2, 1, 0, 1]]
"""Pre-activations (2x2 filter [[1, -1], [1, -1]]): [[-2, 1, 0], [0, -2, 0], [2, 0, -2]], four exact zeros."""
UNREACHED = [[1, 2, 0, 1], [0, 1, 2, 1], [1, 0, 3, 2], [2, 1, 0, 3]]
"""Pre-activations [[-2, 1, 0], [0, -4, 2], [2, -2, -2]]: both zeros lose their max-pooling windows to a unique max."""


def _conv(image: list[list[int]], pool: str) -> str:
    return CONV.replace("IMAGE", str(image)).replace("POOL", pool)


def _conv_grad(image: list[list[int]], pool: str, slope_at_0: float, only: tuple[int, int] | None = None) -> np.ndarray:
    """dL/dw written out by loops, with relu'(0) = slope_at_0 (at the conv output entry ``only`` alone when given,
    0 at the other zeros; max pooling: every window has one maximum, or the routing does not matter, as in the
    accepted case below)."""
    x, w = np.array(image, float), np.array([[1.0, -1.0], [1.0, -1.0]])
    v, target = np.array([[0.5, -1.0], [2.0, 1.5]]), 1.0
    z = np.array([[(x[i : i + 2, j : j + 2] * w).sum() for j in range(3)] for i in range(3)])
    h = np.maximum(z, 0)
    slope = np.where(z > 0, 1.0, np.where(z < 0, 0.0, slope_at_0 if only is None else 0.0))
    if only is not None:
        assert z[only] == 0
        slope[only] = slope_at_0
    dh = np.zeros((3, 3))
    pooled = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            window = h[i : i + 2, j : j + 2]
            if pool == "avg_pool2d":
                pooled[i, j] = window.mean()
            else:
                pooled[i, j] = window.max()
    y = (v * pooled).sum()
    for i in range(2):
        for j in range(2):
            window = h[i : i + 2, j : j + 2]
            if pool == "avg_pool2d":
                dh[i : i + 2, j : j + 2] += (y - target) * v[i, j] / 4
            else:
                a, b = np.unravel_index(int(np.argmax(window)), (2, 2))
                dh[i + a, j + b] += (y - target) * v[i, j]
    dz = dh * slope
    return np.array([[sum(dz[i, j] * x[i + a, j + b] for i in range(3) for j in range(3)) for b in range(2)] for a in range(2)])


def test_a_conv_net_gradient_through_relu_at_0_and_avg_pooling_is_refused(grader: Grader, tmp_path: Path) -> None:
    text = _conv(KINKED, "avg_pool2d")
    [error] = validate_errors(grader, write(tmp_path, text))
    assert error["path"] == "exercises[0].quantities.dw" and int(error["line"]) == line_of(text, "dw: {op: grad")
    message = error["message"]
    assert message.startswith(
        "grad: the gradient with respect to w depends on relu's derivative at 0: relu(conv2d(reshape(image), "
        "reshape(w))) has its input at 0 (conv2d(reshape(image), reshape(w)) = 0 at entry [0, 2, 0] and 3 more "
        "entries)"
    ), message
    # the values under both conventions, with the derivative changed at entry (0, 2) of the conv output alone
    rule, one = _conv_grad(KINKED, "avg_pool2d", 0.0), _conv_grad(KINKED, "avg_pool2d", 1.0, only=(0, 2))
    index = tuple(int(i) for i in np.argwhere(~np.isclose(rule, one))[0])
    assert (
        f"taking another derivative there changes the key (entry [{index[0]}, {index[1]}] of the gradient is "
        f"{rule[index] + 0.0:.6g} with the engine's relu'(0) = 0, {one[index]:.6g} with relu'(0) = 1)"
    ) in message, (message, rule, one)


def test_a_conv_net_gradient_behind_a_max_pool_tie_is_refused(grader: Grader, tmp_path: Path) -> None:
    # the window at rows 1-2, columns 1-2 of the relu output is all 0 (pre-activations -2, 0, 0, -2): the tie rule
    # gives its gradient to the -2 (slope 0), so changing relu'(0) alone or the routing alone changes nothing, but
    # both together do.
    [error] = validate_errors(grader, write(tmp_path, _conv(KINKED, "max_pool2d")))
    assert "has its input at 0 (conv2d(reshape(image), reshape(w)) = 0 at entry [1, 2, 0] and 3 more entries)" in (
        error["message"]
    )
    assert "changing it together with max pooling's tie rule changes the key" in error["message"]


def test_a_conv_net_gradient_whose_zeros_do_not_reach_it_is_accepted(grader: Grader, tmp_path: Path) -> None:
    pool = "max_pool2d"
    x, w = np.array(UNREACHED, float), np.array([[1.0, -1.0], [1.0, -1.0]])
    assert sum((x[i : i + 2, j : j + 2] * w).sum() == 0 for i in range(3) for j in range(3)) == 2  # zeros there are
    key = solved_key(grader, write(tmp_path, _conv(UNREACHED, pool)))["ex"]["g"]
    expected = _conv_grad(UNREACHED, pool, 0.0)
    np.testing.assert_allclose(key, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(key, _conv_grad(UNREACHED, pool, 1.0), rtol=1e-12, atol=1e-12)


def test_torch_agrees_with_accepted_keys_and_differs_by_convention_where_refused() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; the cross-check against it is optional")

    def torch_grad(image: list[list[int]], pool: str) -> np.ndarray:
        x = torch.tensor(image, dtype=torch.float64).reshape(1, 1, 4, 4)
        w = torch.tensor([[1.0, -1.0], [1.0, -1.0]], dtype=torch.float64, requires_grad=True)
        h = torch.relu(torch.nn.functional.conv2d(x, w.reshape(1, 1, 2, 2)))
        pooled = (torch.nn.functional.avg_pool2d if pool == "avg_pool2d" else torch.nn.functional.max_pool2d)(h, 2, 1)
        y = (pooled.reshape(2, 2) * torch.tensor([[0.5, -1.0], [2.0, 1.5]], dtype=torch.float64)).sum()
        (0.5 * (1.0 - y) ** 2).backward()
        return w.grad.numpy()

    def engine_grad(image: list[list[int]], pool: str) -> np.ndarray | str:
        x = OPS["reshape"].fn(Tensor(np.array(image, float), "image"), [4, 4, 1])
        w = Tensor(np.array([[1.0, -1.0], [1.0, -1.0]]), "w")
        act = OPS["relu"].fn(OPS["conv2d"].fn(x, OPS["reshape"].fn(w, [2, 2, 1, 1])))
        pooled = OPS[pool].fn(act, 2, 1)
        loss = OPS["mse_loss"].fn(OPS["dense"].fn(pooled, np.array([[0.5, -1.0], [2.0, 1.5]]).reshape(2, 2, 1, 1)), [1.0])
        try:
            return OPS["grad"].fn(loss, w)
        except ValueError as refused:
            return str(refused)

    np.testing.assert_allclose(engine_grad(UNREACHED, "max_pool2d"), torch_grad(UNREACHED, "max_pool2d"), rtol=1e-12)
    # torch's relu'(0) is 0 as the engine's: it gives the engine's rule value; relu'(0) = 1 gives another key.
    refused = engine_grad(KINKED, "avg_pool2d")
    assert isinstance(refused, str) and "relu's derivative at 0" in refused
    np.testing.assert_allclose(torch_grad(KINKED, "avg_pool2d"), _conv_grad(KINKED, "avg_pool2d", 0.0), rtol=1e-12)
    assert not np.allclose(_conv_grad(KINKED, "avg_pool2d", 1.0), _conv_grad(KINKED, "avg_pool2d", 0.0))
