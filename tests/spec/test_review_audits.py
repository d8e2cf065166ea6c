"""Review findings on the audits that refuse keys resting on a convention (tie rules, relu/abs at 0).

Each sheet is run through the real command line. Refused keys are shown to depend on a convention by computing the
key under two conventions here, by hand (a routing written out, or one-sided finite differences); accepted keys are
checked against derivatives written out here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .conftest import Grader, line_of, solved_key, validate_errors, write


# ---- 1. a max/min tie and a max-pooling tie that change the key only together ------------------------------
SELPOOL = """\
id: selpool
exercises:
  - id: ex
    inputs:
      x: {value: [[1], [1]]}
    quantities:
      p: {op: max_pool1d, x: $x, size: 2}
      a: {op: index, x: $x, at: [0, 0]}
      b: {op: index, x: $p, at: [0, 0]}
      m: {op: formula, text: 'max(a, b)', a: $a, b: $b}
      g: {op: grad, of: $m, wrt: $x}
    parts:
      - {id: g, prompt: q, points: 1, answer: {type: array}, expected: $g}
"""


def _selpool_routings() -> set[tuple[float, float]]:
    """m = max(x0, max(x0, x1)) at x0 = x1 = 1, by hand: the gradient under each pair of tie rules."""
    keys = set()
    for max_first in (True, False):  # max gives its adjoint to a = x0, or to b = p
        for pool_first in (True, False):  # the pool gives its adjoint to x0, or to x1
            g = np.zeros(2)
            if max_first:
                g[0] += 1
            else:
                g[0 if pool_first else 1] += 1
            keys.add(tuple(g))
    return keys


def test_a_max_tie_and_a_pool_tie_that_change_the_key_only_together_are_refused(grader: Grader, tmp_path: Path) -> None:
    assert _selpool_routings() == {(1.0, 0.0), (0.0, 1.0)}  # the key rests on the two rules together
    [error] = validate_errors(grader, write(tmp_path, SELPOOL))
    assert error["path"] == "exercises[0].quantities.g" and int(error["line"]) == line_of(SELPOOL, "g: {op: grad")
    assert "depends on max's tie rule" in error["message"]
    assert "together with max pooling's tie rule changes the key" in error["message"]


POOLSEL = """\
id: poolsel
exercises:
  - id: ex
    inputs:
      x: {value: 1}
      y: {value: 1}
    quantities:
      u: {op: formula, text: 'max(x, y)', x: $x, y: $y}
      v: {op: formula, text: 'x*1', x: $x}
      w: {op: reshape, x: {op: stack, items: [$v, $u]}, shape: [2, 1]}
      p: {op: sum, x: {op: max_pool1d, x: $w, size: 2}}
      g: {op: grad, of: $p, wrt: $x}
    parts:
      - {id: g, prompt: q, points: 1, answer: {type: number}, expected: $g}
"""


def test_a_pool_tie_in_front_of_a_max_tie_is_refused_too(grader: Grader, tmp_path: Path) -> None:
    # p = max(x, max(x, y)) at x = y = 1: dp/dx is 1 when the pool takes v = x or max takes x, 0 when both take the
    # other one (the pool u, max y): two rules together decide it
    keys = {1.0 if (pool_v or max_x) else 0.0 for pool_v in (True, False) for max_x in (True, False)}
    assert keys == {0.0, 1.0}
    [error] = validate_errors(grader, write(tmp_path, POOLSEL))
    assert "together with max pooling's tie rule" in error["message"]


def test_a_pool_tie_without_a_max_tie_that_matters_is_accepted(grader: Grader, tmp_path: Path) -> None:
    # max(a, b) with a = 2 > b = 1 has no tie: the pool's tie sends all to x0 or x1, and dm/dx0 = 1 either way
    text = SELPOOL.replace("at: [0, 0]}\n      b:", "at: [0, 0]}\n      b0:").replace(
        "      m: {op: formula, text: 'max(a, b)', a: $a, b: $b}",
        "      m: {op: formula, text: 'max(2*a, b)', a: $a, b: $b0}",
    )
    key = solved_key(grader, write(tmp_path, text))
    assert key["ex"]["g"] == [[2], [0]]


# ---- 2. and 5. the kink tolerance is relative to the operands that made the input ----------------------------
SMALL = """\
id: small
exercises:
  - id: ex
    inputs:
      a: {value: 3.0e-13}
      b: {value: 2}
      x: {value: 0.1}
      w: {value: 3}
      c: {value: 1.0e+6}
      d: {value: 3.0e+5}
    quantities:
      G: {op: graph, nodes: {p: 'relu(a)', L: p*b}, inputs: {a: $a, b: $b}}
      H: {op: graph, nodes: {p: 'relu(x*w*c - d)', L: p*b}, inputs: {x: $x, w: $w, c: $c, d: $d, b: $b}}
    parts:
      - {id: ta, prompt: t_a, points: 1, answer: {type: number}, expected: {op: adjoint, graph: $G, node: a}}
      - {id: tx, prompt: t_x, points: 1, answer: {type: number}, expected: {op: adjoint, graph: $H, node: x}}
"""


def test_relu_of_a_rounding_error_of_large_operands_is_refused(grader: Grader, tmp_path: Path) -> None:
    # 0.1*3*1e6 - 3e5 is 0 exactly (5.8e-11 in floating point): t_x = b*w*c*relu'(0) is 0 or 6e6 by convention
    x, w, c, d, b = 0.1, 3.0, 1e6, 3e5, 2.0
    assert abs(x * w * c - d) < 1e-9 * d and x * w * c - d != 0
    one_sided = [b * (max(0.0, (x + s * 1e-9) * w * c - d) - max(0.0, x * w * c - d)) / (s * 1e-9) for s in (1, -1)]
    assert round(one_sided[0] / 6e6, 3) == 1.0 or round(one_sided[1] / 6e6, 3) == 1.0  # one side has slope 6e6
    [error] = validate_errors(grader, write(tmp_path, SMALL))
    assert int(error["line"]) == line_of(SMALL, "id: tx")
    message = error["message"]
    assert "depends on relu's derivative at 0" in message and "x * w * c - d = 5.820766091346741e-11" in message
    # the engine took the positive side: the message says so, and does not claim it took 0
    assert "the engine took relu'(0) = 1 here, as rounding left the input just above 0" in message
    assert "the engine takes relu'(0) = 0" not in message
    assert "(t_x is 0 with relu'(0) = 0, 6e+06 with the engine's relu'(0) = 1)" in message


def test_relu_of_a_small_typed_input_is_no_kink(grader: Grader, tmp_path: Path) -> None:
    # a = 3e-13 typed in the sheet is positive: t_a = b * relu'(a) = 2 (one-sided differences agree: a is not 0)
    a, b, h = 3e-13, 2.0, 1e-14
    slopes = [b * (max(0.0, a + s * h) - max(0.0, a)) / (s * h) for s in (1, -1)]
    assert np.allclose(slopes, [2.0, 2.0])
    text = SMALL.replace("      - {id: tx,", "      #")
    key = solved_key(grader, write(tmp_path, text))
    assert key["ex"]["ta"] == 2


# ---- 3. a function key that crosses a kink ---------------------------------------------------------------------
FNKINK = """\
id: fnkink
exercises:
  - id: ex
    inputs:
      a: {value: 2.5}
      b: {value: 1.5}
    quantities:
      G: {op: graph, nodes: {p: 'relu(a - 1)', L: p*b}, inputs: {a: $a, b: $b}}
    parts:
      - id: h
        prompt: t_a as formula
        points: 1
        answer:
          type: formula
          variables:
            a: {low: -3, high: 3, integer: true}
            b: {low: -3, high: 3}
        expected: {op: function, of: {op: adjoint, graph: $G, node: a}, variables: {a: $a, b: $b}}
"""

ANSWERS = """\
student: s1
answers:
  ex:
    h: "ANSWER"
"""


def test_a_function_key_is_undefined_where_it_meets_a_kink(grader: Grader, tmp_path: Path) -> None:
    sheet = write(tmp_path, FNKINK)
    run = grader("validate", sheet)
    assert run.code == 0, run.err
    # t_a = b for a > 1, 0 for a < 1 (a = 1, where relu has no derivative, is left out)
    right = grader("grade", sheet, write(tmp_path, ANSWERS.replace("ANSWER", "b*(abs(a - 1) + a - 1)/(2*(a - 1))"), "a.yaml"))
    assert "internal error" not in right.err and "1/1" in right.out, right.out + right.err
    wrong = grader("grade", sheet, write(tmp_path, ANSWERS.replace("ANSWER", "b"), "b.yaml"))
    assert "internal error" not in wrong.err and "0/1" in wrong.out


# ---- 4. a second-order gradient through shift ------------------------------------------------------------------
SECOND = """\
id: second
exercises:
  - id: ex
    inputs:
      x: {value: [1.5, -2.0]}
    quantities:
      g: {op: grad, of: {op: sum, x: {op: formula, text: 'x*x*x', x: $x}}, wrt: $x}
      s: {op: shift, x: {op: reshape, x: $g, shape: [2, 1, 1]}, dy: 0}
      viashift: {op: grad, of: {op: sum, x: {op: mul, a: {op: reshape, x: $s, shape: [2]}, b: $x}}, wrt: $x}
    parts:
      - {id: e, prompt: q, points: 1, answer: {type: array}, expected: $viashift}
"""


def test_a_second_order_gradient_through_shift_is_refused(grader: Grader, tmp_path: Path) -> None:
    # d/dx sum(3x^2 * x) = 9x^2, not the 3x^2 a constant g would give
    x = np.array([1.5, -2.0])
    h = 1e-6
    true = np.array([(np.sum(3 * (x + h * e) ** 3) - np.sum(3 * x**3)) / h for e in np.eye(2)])
    assert not np.allclose(true, 3 * x**2, rtol=1e-3)
    [error] = validate_errors(grader, write(tmp_path, SECOND))
    assert int(error["line"]) == line_of(SECOND, "viashift:")
    assert "second-order gradients are not supported" in error["message"]


# ---- 6./7. messages say what the engine did --------------------------------------------------------------------
ROUND = """\
id: round
exercises:
  - id: ex
    inputs:
      a: {value: 0.1}
      b: {value: 2}
      c: {value: 0.3}
    quantities:
      K: {op: graph, nodes: {p: 'max(c, a + 0.2)', L: p*b}, inputs: {a: $a, b: $b, c: $c}}
    parts:
      - {id: tc, prompt: t_a, points: 1, answer: {type: number}, expected: {op: adjoint, graph: $K, node: a}}
"""


def test_a_tie_the_engine_routed_to_the_second_argument_is_named_so(grader: Grader, tmp_path: Path) -> None:
    # 0.1 + 0.2 = 0.30000000000000004 > 0.3: the engine routes to a + 0.2 (t_a = 2); to c, t_a would be 0
    assert 0.1 + 0.2 > 0.3
    [error] = validate_errors(grader, write(tmp_path, ROUND))
    message = error["message"]
    assert "(the engine gave it to the second argument, a + 0.2)" in message
    assert "giving it to the first argument (c) instead changes the key (t_a is 2 by the tie rule, 0 otherwise)" in message


UNRELATED = """\
id: unrelated
exercises:
  - id: ex
    inputs:
      a: {value: 0.7}
      b: {value: 2}
      e: {value: 1}
    quantities:
      G: {op: graph, nodes: {p: 'relu(relu(a - 0.7))', q: 'max(e, e + 0)', L: 'p*b + q'}, inputs: {a: $a, b: $b, e: $e}}
    parts:
      - {id: ta, prompt: t_a, points: 1, answer: {type: number}, expected: {op: adjoint, graph: $G, node: a}}
"""


def test_a_tie_that_does_not_reach_the_adjoint_is_not_named(grader: Grader, tmp_path: Path) -> None:
    # t_a = b * r1 * r2 with r1, r2 the two relus' derivatives at 0: 0 unless both are 1 (then 2), and no route of
    # max(e, e) reaches a: only the two kinks together change the key, and max's tie rule is no part of it
    assert {2.0 * r1 * r2 for r1 in (0.0, 1.0) for r2 in (0.0, 1.0)} == {0.0, 2.0}
    [error] = validate_errors(grader, write(tmp_path, UNRELATED))
    message = error["message"]
    assert "depends on relu's derivative at 0" in message
    assert "changing the derivative at 0 of the 2 relu/abs nodes whose input is 0 changes the key" in message
    assert "tie rule" not in message
