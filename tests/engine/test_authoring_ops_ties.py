"""The engine's tie check of max/min nodes (grader.engine.graph.select_ties and tie_rule_dependence), op by op.

Routings are enumerated by hand in the test (which argument each tied node gives its adjoint to), so the cases
where only several ties together change an adjoint are known independently of the random splits the check uses.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.engine import Tensor, maximum, minimum
from grader.engine.graph import select_ties, tie_rule_dependence
from grader.quantities import OPS, TIE_ATOL, TIE_RTOL


def _leaves(**values: float) -> dict[str, Tensor]:
    return {name: Tensor(value, name=name) for name, value in values.items()}


def test_only_the_ties_together_change_the_adjoint_and_it_is_still_refused() -> None:
    """m1 = max(b, a) gives its adjoint to b, m2 = max(x, m1) to x: a receives adjoint only when both ties go to
    their second argument (by hand: t_a = (1 - r1)(1 - r2) for r the share kept by the first argument)."""
    graph = OPS["graph"].fn({"m1": "max(b, a)", "m2": "max(x, m1)"}, _leaves(a=2.0, b=2.0, x=2.0))
    with pytest.raises(ValueError) as caught:
        OPS["adjoint"].fn(graph, "a")
    message = str(caught.value)
    assert message.startswith("the adjoint t_a depends on max's tie rule: ")
    assert "sharing the adjoints of the 2 tied max/min nodes between their arguments changes the key (t_a, for one)" in message
    assert graph.node("a").grad == 0.0 and graph.node("x").grad == 1.0  # the .grad values the rule gives, restored


def test_the_check_leaves_the_rule_adjoints_and_the_vjps_in_place() -> None:
    a, b = Tensor(np.array([1.0, 2.0, 3.0]), name="a"), Tensor(np.array([1.0, 0.0, 3.0]), name="b")
    out = minimum(a, b) * Tensor(np.array([2.0, 0.0, 5.0]), name="w")  # entry 2 ties and receives adjoint 5
    schedule = out.backward(seed=np.ones(3))
    ties = select_ties(schedule, rtol=TIE_RTOL, atol=TIE_ATOL)
    assert len(ties) == 1 and ties[0].index == (0,) and ties[0].receiving  # entry 0 ties too, first of them
    vjp = ties[0].node._vjp
    found = tie_rule_dependence(out, [b], ties, seed=np.ones(3), rtol=TIE_RTOL, atol=TIE_ATOL)
    assert found is not None and found.alone and found.target is b
    assert (found.index, found.by_rule, found.otherwise) == ((0,), 0.0, 2.0)  # by hand: min(1, 1) * 2 routed to b
    assert ties[0].node._vjp is vjp
    assert b.grad.tolist() == [0.0, 0.0, 0.0] and a.grad.tolist() == [2.0, 0.0, 5.0]


def test_a_tie_receiving_no_adjoint_or_not_reaching_the_target_is_no_dependence() -> None:
    a, b, c = Tensor(2.0, name="a"), Tensor(2.0, name="b"), Tensor(0.5, name="c")
    out = maximum(a, b) * 0.0 + c * 3.0
    schedule = out.backward()
    ties = select_ties(schedule, rtol=TIE_RTOL, atol=TIE_ATOL)
    assert len(ties) == 1 and not ties[0].receiving
    assert tie_rule_dependence(out, [a, b, c], ties, rtol=TIE_RTOL, atol=TIE_ATOL) is None
    assert select_ties(maximum(a, c).backward(), rtol=TIE_RTOL, atol=TIE_ATOL) == []


def test_rounding_is_a_tie() -> None:
    """0.1 + 0.2 and 0.3 differ in the last bit: which one wins must not decide a key."""
    graph = OPS["graph"].fn({"s": "p + q", "m": "max(s, r)", "L": "m * 2"}, _leaves(p=0.1, q=0.2, r=0.3))
    with pytest.raises(ValueError, match=r"node m = max\(s, r\) has equal arguments \(s = 0.30000000000000004 and r = 0.3\)"):
        OPS["adjoint"].fn(graph, "r")
