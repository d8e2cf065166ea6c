"""The grad op through conv -> relu -> max pool against a loop twin that knows both conventions: max pooling's tie
rule (which tied entry receives a window's gradient) and relu's derivative at 0 (0 or 1).

With integer inputs a pre-activation is often exactly 0. The gradient is ``sum_w v_w * s(e_w) * dy(e_w)/dtheta`` over
the pooling windows w, e_w the entry that receives w's gradient and s its relu slope. The key rests on a convention
exactly when some window w, some entry e it may route to (a tied entry, or its one winner) and some slope s allowed
at e (1 where y > 0, 0 where y < 0, 0 or 1 where y = 0) give ``v_w * s * dy(e)`` other than the rule's: every routing
and slope choice is a sum of such single-window terms. The twin enumerates them by loops; the op must refuse for the
pool's tie rule when a change of routing alone matters (as before), else for relu's derivative at 0 when a change of
slope matters, and accept (with the twin's gradient) otherwise. Cases come from the max-pool tie tests' generator.
"""

from __future__ import annotations

import re

import numpy as np
from hypothesis import event, given, settings

from grader.quantities import TIE_ATOL, TIE_RTOL

from .test_pool_ties import conv_pool_cases, differs, engine_grad

KINK = re.compile(
    r"depends on relu's derivative at 0: relu\(.*\) has its input at 0 \(.* = 0 at entry \[(?P<entry>[\d, ]+)\]"
)
KINK_VALUES = re.compile(
    r"\((?:entry \[(?P<index>[\d, ]+)\] of )?the gradient is (?P<rule>\S+) with the engine's relu'\(0\) = 0, "
    r"(?P<one>\S+) with relu'\(0\) = 1\)"
)


def twin(case: dict) -> tuple[np.ndarray, bool, bool, dict[tuple[int, int, int], np.ndarray]]:  # type: ignore[type-arg]
    """By loops on the 2-d view: (the gradient by the rules, whether a routing change alone matters, whether a change
    of slope at a zero pre-activation matters, and for each zero entry (r, q, k) of the conv output the gradient
    when its slope alone is 1, the windows keeping the tie rule)."""
    x, w, v = case["x"], case["w"], case["v"]
    (fh, fw, kk), (sh, sw), (ph, pw) = w.shape, case["stride"], case["size"]
    y = np.zeros((x.shape[0] - fh + 1, x.shape[1] - fw + 1, kk))
    for r, q, k in np.ndindex(*y.shape):
        y[r, q, k] = sum(x[r + a, q + b] * w[a, b, k] for a in range(fh) for b in range(fw))
    relu = case["relu"]
    z = np.maximum(y, 0.0) if relu else y
    rule_slope = (y > 0).astype(float) if relu else np.ones_like(y)

    def dy(r: int, q: int, k: int) -> np.ndarray:
        """d y[r, q, k] / d wrt, written out."""
        d = np.zeros(x.shape if case["wrt"] == "x" else w.shape)
        for a in range(fh):
            for b in range(fw):
                if case["wrt"] == "x":
                    d[r + a, q + b] += w[a, b, k]
                else:
                    d[a, b, k] += x[r + a, q + b]
        return d

    rule = np.zeros(x.shape if case["wrt"] == "x" else w.shape)
    routed_to: dict[tuple[int, int, int], float] = {}  # conv entry -> the sum of v over the windows routed to it
    terms: list[tuple[float, tuple[int, int, int], tuple[int, int, int], list[tuple[int, int, int]]]] = []
    for i, j, k in np.ndindex(*v.shape):
        cells = [(i * sh + a, j * sw + b, k) for a in range(ph) for b in range(pw)]
        top = max(z[c] for c in cells)
        winner = next(c for c in cells if z[c] == top)  # first maximum, row-major
        tied = [c for c in cells if top - z[c] <= TIE_ATOL + TIE_RTOL * abs(top)]
        rule += v[i, j, k] * rule_slope[winner] * dy(*winner)
        routed_to[winner] = routed_to.get(winner, 0.0) + v[i, j, k]
        terms.append((v[i, j, k], winner, winner, tied))
    pool_matters = kink_matters = False
    for weight, winner, _, tied in terms:
        base = weight * rule_slope[winner] * dy(*winner)
        for cell in tied:
            slopes = (0.0, 1.0) if relu and y[cell] == 0 else (rule_slope[cell],)
            for slope in slopes:
                change = differs(rule + weight * slope * dy(*cell) - base, rule)
                if slope == rule_slope[cell]:
                    pool_matters |= change
                else:
                    kink_matters |= change
    alone = {
        cell: rule + routed_to.get(cell, 0.0) * dy(*cell)
        for cell in zip(*np.nonzero((y == 0) & relu), strict=True)
    }
    return rule, pool_matters, kink_matters, {tuple(int(i) for i in c): g for c, g in alone.items()}


def check(case: dict) -> str:  # type: ignore[type-arg]
    """Assert the op's verdict is the twin's (and a kink refusal's entry and values); return the verdict."""
    rule, pool_matters, kink_matters, alone = twin(case)
    got = engine_grad(case)
    if not isinstance(got, str):
        assert not pool_matters and not kink_matters, (case, got)
        np.testing.assert_allclose(got, rule, rtol=1e-12, atol=1e-12)
        return "accepted"
    if pool_matters:
        assert "depends on max pooling's tie rule" in got, (case, got)
        return "refused: tie"
    assert kink_matters, (case, got)
    named = KINK.search(got)
    assert named is not None, got
    values = KINK_VALUES.search(got)
    if values is not None:  # the named entry's slope alone changes the key: check both values against the twin
        entry = [int(n) for n in named["entry"].split(", ")]
        cell = (0, entry[0], entry[1]) if case["one_d"] else (entry[0], entry[1], entry[2])
        index = [int(n) for n in values["index"].split(", ")] if values["index"] else []
        twin_index = ([0, index[0]] if case["wrt"] == "x" else [0, index[0], index[2]]) if case["one_d"] else (
            index[:2] if case["wrt"] == "x" else [index[0], index[1], index[3]]
        )
        assert values["rule"] == f"{rule[tuple(twin_index)] + 0.0:.6g}", got
        assert values["one"] == f"{alone[cell][tuple(twin_index)] + 0.0:.6g}", got
    else:  # only with a routing change: the message says so
        assert "together with max pooling's tie rule" in got, got
    return "refused: kink"


@settings(max_examples=250, deadline=None)
@given(conv_pool_cases())
def test_grad_through_relu_and_max_pool_is_refused_exactly_when_a_convention_changes_it(case: dict) -> None:  # type: ignore[type-arg]
    event(check(case))


def test_the_twin_sees_every_verdict() -> None:
    # Not vacuous: over fixed integer cases (as in test_pool_ties), some keys are accepted, some refused for the tie
    # rule, some for relu's derivative at 0 (with a single entry's values), and some only for both together.
    rng = np.random.default_rng(3)
    seen: dict[str, int] = {}
    together = valued = 0
    for _ in range(300):
        one_d = bool(rng.integers(2))
        size = (1, int(rng.integers(1, 4))) if one_d else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        stride = (1, int(rng.integers(1, 4))) if one_d else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        out = (1, int(rng.integers(1, 5))) if one_d else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        filt = (1, int(rng.integers(1, 3))) if one_d else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        conv = ((out[0] - 1) * stride[0] + size[0], (out[1] - 1) * stride[1] + size[1])
        case = {
            "one_d": one_d, "size": size, "stride": stride, "relu": True, "wrt": "xw"[int(rng.integers(2))],
            "x": rng.integers(0, 3, (conv[0] + filt[0] - 1, conv[1] + filt[1] - 1)) * 1.0,
            "w": rng.integers(-1, 2, (*filt, 1)) * 1.0, "v": rng.integers(-2, 3, (*out, 1)) * 1.0,
        }
        verdict = check(case)
        seen[verdict] = seen.get(verdict, 0) + 1
        got = engine_grad(case)
        together += isinstance(got, str) and "together with max pooling's tie rule" in got
        valued += isinstance(got, str) and KINK_VALUES.search(got) is not None
    assert all(seen.get(v, 0) >= 5 for v in ("accepted", "refused: tie", "refused: kink")), seen
    assert together >= 1 and valued >= 5, (seen, together, valued)
