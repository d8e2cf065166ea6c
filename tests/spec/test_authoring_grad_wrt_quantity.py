"""``{op: grad, of: $loss, wrt: $a}`` with ``wrt`` naming a quantity (a layer's pre-activation, the logits), not
only an input, and the new ops matmul, softmax, log_softmax, cross_entropy, sum and mean.

The derivative with respect to a quantity is the total derivative through that node of the graph (PyTorch's
``retain_grad``): ``$a`` written inside ``$loss`` is the same node, an expression that recomputes the same value
inline is another one. Keys are checked against values computed independently here: the textbook identities
(dL/dz = softmax(z) - onehot(y), dL/dW = outer(x, dL/dz), dL/da = (W2 (y - t)) * act'(a)) in numpy, and PyTorch
autograd with ``retain_grad()`` when it is installed (only those comparisons are skipped without it). The inputs
of a seeded variant are read back with ``grader data``. Every sheet is a real YAML file in ``tmp_path`` run through
the real command line (the ``grader`` fixture, which also fails on any traceback or internal error).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from .conftest import Grader, line_of, one_error, solved_key, validate_errors, write


# ---- helpers -----------------------------------------------------------------------------------------------------
def _torch() -> ModuleType:
    """PyTorch, or the calling test skipped (the numpy checks live in their own tests). Tensors made from the
    inputs (float64 numpy arrays) are float64; literals below say so."""
    return pytest.importorskip("torch", reason="PyTorch is not installed; the cross-check against it is optional")


def _variant(grader: Grader, path: Path, seed: int | None, exercise: str = "ex") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(the key of ``solve --format json``, the exact inputs of ``data``) of one variant, each as the CLI prints it."""
    seed_args = [] if seed is None else ["--seed", str(seed)]
    solved = grader("solve", path, *seed_args, "--format", "json")
    assert solved.code == 0, solved.err
    given = grader("data", path, *seed_args)
    assert given.code == 0, given.err
    inputs = {name: np.asarray(value, dtype=np.float64) for name, value in json.loads(given.out)["inputs"][exercise].items()}
    return json.loads(solved.out)[exercise], inputs


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)  # type: ignore[no-any-return]


def _graded_part(grader: Grader, sheet: Path, answers: Path, part: str) -> dict[str, Any]:
    """One part of ``grade --format json --audience instructor``."""
    run = grader("grade", sheet, answers, "--format", "json", "--audience", "instructor")
    assert run.code == 0, run.err
    [found] = [p for p in json.loads(run.out)["result"]["parts"] if p["part_id"] == part]
    return found  # type: ignore[no-any-return]


def _one_error_at(grader: Grader, tmp_path: Path, text: str, needle: str, field: str, code: str) -> dict[str, str]:
    """The one located error of ``validate`` on ``text``, checked to be at the line holding ``needle``, at ``field``
    and of ``code``."""
    path = write(tmp_path, text)
    [error] = validate_errors(grader, path)
    assert (error["file"], error["line"], error["path"], error["code"]) == (str(path), str(line_of(text, needle)), field, code)
    return error


# ---- 1. softmax regression: z = x @ W + b, L = cross_entropy(z, label) ---------------------------------------------
SOFTMAX = """\
id: softmax-regression
validation_seeds: [1, 2, 3]
exercises:
  - id: ex
    inputs:
      x: {value: [0.5, -1.0, 2.0, 0.3], random: {dist: normal, shape: [4]}}
      W: {value: [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [-0.7, 0.8, 0.9], [1.0, -1.1, 1.2]], random: {dist: normal, shape: [4, 3]}}
      b: {value: [0.0, 0.1, -0.1], random: {dist: normal, shape: [3]}}
      label: {value: 2, random: {dist: integers, low: 0, high: 2}}
    quantities:
      z: {op: add, a: {op: matmul, a: $x, b: $W}, b: $b}
      p: {op: softmax, x: $z}
      loss: {op: cross_entropy, logits: $z, target: $label}
      dz: {op: grad, of: $loss, wrt: $z}
      dW: {op: grad, of: $loss, wrt: $W}
    parts:
      - {id: p, prompt: softmax probabilities, points: 1, answer: {type: array}, expected: $p}
      - {id: loss, prompt: the loss, points: 1, answer: {type: number}, expected: $loss}
      - id: dz
        prompt: dL/dz
        points: 2
        answer: {type: array}
        expected: $dz
        mistakes:
          - id: y-minus-p
            expected: {op: neg, x: $dz}
            feedback: "the sign: dL/dz = p - y, not y - p"
      - {id: dW, prompt: dL/dW, points: 2, answer: {type: array}, expected: $dW}
      - {id: db, prompt: dL/db, points: 1, answer: {type: array}, expected: {op: grad, of: $loss, wrt: $b}}
"""
SEEDS = [None, 1, 2, 5, 11, 23]


def test_softmax_regression_dz_is_softmax_minus_onehot(grader: Grader, tmp_path: Path) -> None:
    path = write(tmp_path, SOFTMAX)
    assert grader("validate", path).code == 0
    labels = set()
    for seed in SEEDS:
        key, given = _variant(grader, path, seed)
        x, W, b, label = given["x"], given["W"], given["b"], int(given["label"])
        labels.add(label)
        p = _softmax(x @ W + b)
        dz = p - np.eye(3)[label]
        assert np.allclose(key["p"], p, rtol=1e-12, atol=1e-14), seed
        assert key["loss"] == pytest.approx(-np.log(p[label]), rel=1e-12)
        assert np.allclose(key["dz"], dz, rtol=1e-12, atol=1e-14), seed
        assert np.allclose(key["db"], dz, rtol=1e-12, atol=1e-14), seed  # z = xW + b: dL/db = dL/dz
        assert np.allclose(key["dW"], np.outer(x, dz), rtol=1e-12, atol=1e-14), seed
    assert len(labels) > 1  # the seeds exercise more than one class


def test_softmax_regression_matches_pytorch_retain_grad(grader: Grader, tmp_path: Path) -> None:
    torch = _torch()
    path = write(tmp_path, SOFTMAX)
    for seed in SEEDS:
        key, given = _variant(grader, path, seed)
        x = torch.tensor(given["x"])
        W = torch.tensor(given["W"], requires_grad=True)
        b = torch.tensor(given["b"], requires_grad=True)
        z = x @ W + b
        z.retain_grad()
        loss = torch.nn.functional.cross_entropy(z[None], torch.tensor([int(given["label"])]))
        loss.backward()
        assert key["loss"] == pytest.approx(loss.item(), rel=1e-12)
        np.testing.assert_allclose(key["dz"], z.grad.numpy(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(key["dW"], W.grad.numpy(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(key["db"], b.grad.numpy(), rtol=1e-10, atol=1e-13)


BATCH = """\
id: softmax-batch
exercises:
  - id: ex
    inputs:
      X: {random: {dist: normal, shape: [5, 4]}}
      W: {random: {dist: normal, shape: [4, 3]}}
      b: {random: {dist: normal, shape: [3]}}
      labels: {random: {dist: integers, low: 0, high: 2, shape: [5]}}
      s: {random: {dist: normal, shape: [5, 3]}}
    quantities:
      Z: {op: add, a: {op: matmul, a: $X, b: $W}, b: $b}
      T: {op: softmax, x: $s}
      loss: {op: cross_entropy, logits: $Z, target: TARGET, reduction: REDUCTION}
      nll: {op: REDUCTION, x: {op: neg, x: {op: sum, x: {op: mul, a: ONEHOT, b: {op: log_softmax, x: $Z}}, axis: -1}}}
    parts:
      - {id: loss, prompt: L, points: 1, answer: {type: number}, expected: $loss}
      - {id: nll, prompt: the same by log_softmax, points: 1, answer: {type: number}, expected: $nll}
      - {id: dZ, prompt: dL/dZ, points: 1, answer: {type: array}, expected: {op: grad, of: $loss, wrt: $Z}}
      - {id: dZ_nll, prompt: d nll/dZ, points: 1, answer: {type: array}, expected: {op: grad, of: $nll, wrt: $Z}}
      - {id: dW, prompt: dL/dW, points: 1, answer: {type: array}, expected: {op: grad, of: $loss, wrt: $W}}
"""


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("target", ["indices", "probabilities"])
def test_a_batch_of_logits_with_indices_or_probabilities(grader: Grader, tmp_path: Path, reduction: str, target: str) -> None:
    # indices: one class per row; probabilities: each row a softmax of random numbers. nll writes the same loss with
    # log_softmax, sum over the class axis and mean/sum over the rows; its gradient must be the same.
    text = BATCH.replace("REDUCTION", reduction)
    if target == "indices":
        # 1 - |label - k| is 1 for the class k = label, 0 or less for the others: the one-hot of each row (the abs
        # and relu at 0 here do not lie between Z and the loss, so they are no reason to refuse)
        onehot = "{op: formula, text: 'relu(1 - abs(l - k))', l: {op: reshape, x: $labels, shape: [5, 1]}, k: [0, 1, 2]}"
        text = text.replace("      T: {op: softmax, x: $s}\n", "").replace("TARGET", "$labels").replace("ONEHOT", onehot)
    else:
        text = text.replace("TARGET", "$T").replace("ONEHOT", "$T")
    path = write(tmp_path, text)
    assert grader("validate", path).code == 0, grader("validate", path).err
    for seed in [None, 4, 9]:
        key, given = _variant(grader, path, seed)
        Z = given["X"] @ given["W"] + given["b"]
        T = np.eye(3)[given["labels"].astype(int)] if target == "indices" else _softmax(given["s"])
        P = _softmax(Z)
        per_row = -(T * np.log(P)).sum(axis=-1)
        scale = 1 / 5 if reduction == "mean" else 1.0
        dZ = (P - T) * scale  # rows of T sum to 1 in both cases
        assert key["loss"] == pytest.approx(per_row.sum() * scale, rel=1e-12)
        assert key["nll"] == pytest.approx(key["loss"], rel=1e-12)
        np.testing.assert_allclose(key["dZ"], dZ, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(key["dZ_nll"], dZ, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(key["dW"], given["X"].T @ dZ, rtol=1e-10, atol=1e-14)


def test_a_batch_matches_pytorch(grader: Grader, tmp_path: Path) -> None:
    torch = _torch()
    path = write(tmp_path, BATCH.replace("REDUCTION", "mean").replace("TARGET", "$T").replace("ONEHOT", "$T"))
    for seed in [None, 4]:
        key, given = _variant(grader, path, seed)
        W = torch.tensor(given["W"], requires_grad=True)
        Z = torch.tensor(given["X"]) @ W + torch.tensor(given["b"])
        Z.retain_grad()
        loss = torch.nn.functional.cross_entropy(Z, torch.softmax(torch.tensor(given["s"]), dim=-1))
        loss.backward()
        assert key["loss"] == pytest.approx(loss.item(), rel=1e-12)
        np.testing.assert_allclose(key["dZ"], Z.grad.numpy(), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(key["dW"], W.grad.numpy(), rtol=1e-10, atol=1e-14)


PATHS = """\
id: paths
exercises:
  - id: ex
    inputs:
      x: {value: [0.5, -1.0, 2.0, 0.3]}
      W: {value: [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [-0.7, 0.8, 0.9], [1.0, -1.1, 1.2]]}
      b: {value: [0.0, 0.1, -0.1]}
      label: {value: 1}
    quantities:
      z: {op: add, a: {op: matmul, a: $x, b: $W}, b: $b}
      ce: {op: cross_entropy, logits: $z, target: $label}
      both: {op: add, a: $ce, b: {op: mul, a: 0.5, b: {op: sum, x: {op: mul, a: $z, b: $z}}}}
      inline: {op: add, a: $ce, b: {op: sum, x: {op: add, a: {op: matmul, a: $x, b: $W}, b: $b}}}
    parts:
      - {id: both, prompt: q, points: 1, answer: {type: array}, expected: {op: grad, of: $both, wrt: $z}}
      - {id: inline, prompt: q, points: 1, answer: {type: array}, expected: {op: grad, of: $inline, wrt: $z}}
      - {id: inline_W, prompt: q, points: 1, answer: {type: array}, expected: {op: grad, of: $inline, wrt: $W}}
"""


def test_every_path_through_the_node_counts_and_only_those(grader: Grader, tmp_path: Path) -> None:
    # both = ce(z) + 1/2 |z|^2 uses $z twice: dL/dz = p - y + z. inline = ce(z) + sum(x W + b) recomputes z without
    # $z: only ce goes through the node (dL/dz = p - y), while dL/dW sees both terms (outer(x, p - y + 1)).
    key = solved_key(grader, write(tmp_path, PATHS))["ex"]
    x = np.array([0.5, -1.0, 2.0, 0.3])
    W = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [-0.7, 0.8, 0.9], [1.0, -1.1, 1.2]])
    z = x @ W + np.array([0.0, 0.1, -0.1])
    dce = _softmax(z) - np.eye(3)[1]
    np.testing.assert_allclose(key["both"], dce + z, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(key["inline"], dce, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(key["inline_W"], np.outer(x, dce + 1), rtol=1e-12, atol=1e-14)


# ---- 2. layers: dL/da of a conv2d or dense pre-activation --------------------------------------------------------
CONV = """\
id: conv-net
exercises:
  - id: ex
    inputs:
      image: {random: {dist: normal, shape: [5, 5, 2]}}
      w: {random: {dist: normal, shape: [3, 3, 2, 2], std: 0.5}}
      b: {random: {dist: normal, shape: [2]}}
      v: {random: {dist: normal, shape: [3, 3, 2, 2], std: 0.5}}
      target: {random: {dist: normal, shape: [2]}}
    quantities:
      a: {op: conv2d, x: $image, w: $w, b: $b}
      h: {op: ACT, x: $a}
      y: {op: dense, h: $h, v: $v}
      loss: {op: mse_loss, y: $y, target: $target}
    parts:
      - {id: da, prompt: dL/da, points: 1, answer: {type: array}, expected: {op: grad, of: $loss, wrt: $a}}
      - {id: dh, prompt: dL/dh, points: 1, answer: {type: array}, expected: {op: grad, of: $loss, wrt: $h}}
      - {id: dw, prompt: dL/dw, points: 1, answer: {type: array}, expected: {op: grad, of: $loss, wrt: $w}}
"""


@pytest.mark.parametrize("act", ["sigmoid", "relu"])
def test_conv_pre_activation_gradient_matches_pytorch(grader: Grader, tmp_path: Path, act: str) -> None:
    torch = _torch()
    path = write(tmp_path, CONV.replace("ACT", act))
    assert grader("validate", path).code == 0
    for seed in [None, 1, 7]:
        key, given = _variant(grader, path, seed)
        image = torch.tensor(given["image"]).permute(2, 0, 1)[None]  # (1, C, H, W)
        w = torch.tensor(given["w"]).permute(3, 2, 0, 1).contiguous().requires_grad_()  # (K, C, f, f)
        a = torch.nn.functional.conv2d(image, w, torch.tensor(given["b"]))  # cross-correlation, as the engine
        a.retain_grad()
        h = torch.sigmoid(a) if act == "sigmoid" else torch.relu(a)
        h.retain_grad()
        y = torch.einsum("ijko,kij->o", torch.tensor(given["v"]), h[0])
        loss = 0.5 * ((torch.tensor(given["target"]) - y) ** 2).sum()
        loss.backward()
        np.testing.assert_allclose(key["da"], a.grad[0].permute(1, 2, 0).numpy(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(key["dh"], h.grad[0].permute(1, 2, 0).numpy(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(key["dw"], w.grad.permute(2, 3, 1, 0).numpy(), rtol=1e-10, atol=1e-13)
        assert np.abs(key["da"]).max() > 1e-6  # not a vacuous zero


MLP = """\
id: mlp
exercises:
  - id: ex
    inputs:
      x: {random: {dist: normal, shape: [4]}}
      W1: {random: {dist: normal, shape: [4, 3]}}
      b1: {random: {dist: normal, shape: [3]}}
      W2: {random: {dist: normal, shape: [3, 2]}}
      b2: {random: {dist: normal, shape: [2]}}
      t: {random: {dist: normal, shape: [2]}}
    quantities:
      a: {op: dense, h: $x, v: $W1, b: $b1}
      h: {op: ACT, x: $a}
      y: {op: dense, h: $h, v: $W2, b: $b2}
      loss: {op: mse_loss, y: $y, target: $t}
    parts:
      - {id: da, prompt: dL/da, points: 1, answer: {type: array}, expected: {op: grad, of: $loss, wrt: $a}}
      - {id: dh, prompt: dL/dh, points: 1, answer: {type: array}, expected: {op: grad, of: $loss, wrt: $h}}
      - {id: dy, prompt: dL/dy, points: 1, answer: {type: array}, expected: {op: grad, of: $loss, wrt: $y}}
"""


@pytest.mark.parametrize("act", ["sigmoid", "relu"])
def test_dense_pre_activation_gradient_is_the_backprop_formula(grader: Grader, tmp_path: Path, act: str) -> None:
    path = write(tmp_path, MLP.replace("ACT", act))
    assert grader("validate", path).code == 0
    for seed in [None, 2, 3, 8]:
        key, g = _variant(grader, path, seed)
        a = g["x"] @ g["W1"] + g["b1"]
        h, slope = (1 / (1 + np.exp(-a)), None) if act == "sigmoid" else (np.maximum(a, 0), (a > 0).astype(float))
        if slope is None:
            slope = h * (1 - h)
        dy = h @ g["W2"] + g["b2"] - g["t"]
        dh = g["W2"] @ dy
        np.testing.assert_allclose(key["dy"], dy, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(key["dh"], dh, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(key["da"], dh * slope, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("act", ["sigmoid", "relu"])
def test_dense_pre_activation_gradient_matches_pytorch(grader: Grader, tmp_path: Path, act: str) -> None:
    torch = _torch()
    path = write(tmp_path, MLP.replace("ACT", act))
    for seed in [None, 2]:
        key, g = _variant(grader, path, seed)
        a = torch.tensor(g["x"]) @ torch.tensor(g["W1"], requires_grad=True) + torch.tensor(g["b1"])
        a.retain_grad()
        h = torch.sigmoid(a) if act == "sigmoid" else torch.relu(a)
        y = h @ torch.tensor(g["W2"]) + torch.tensor(g["b2"])
        (0.5 * ((torch.tensor(g["t"]) - y) ** 2).sum()).backward()
        np.testing.assert_allclose(key["da"], a.grad.numpy(), rtol=1e-10, atol=1e-13)


# ---- 3. grading an answer file against dL/dz ---------------------------------------------------------------------
def test_grading_dz_right_sign_flipped_and_wrong(grader: Grader, tmp_path: Path) -> None:
    sheet = write(tmp_path, SOFTMAX)
    x = np.array([0.5, -1.0, 2.0, 0.3])
    W = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [-0.7, 0.8, 0.9], [1.0, -1.1, 1.2]])
    dz = _softmax(x @ W + np.array([0.0, 0.1, -0.1])) - np.eye(3)[2]

    def answers(name: str, value: np.ndarray) -> Path:
        return write(tmp_path, f"student: s1\nanswers:\n  ex:\n    dz: {json.dumps(value.tolist())}\n", name)

    right = _graded_part(grader, sheet, answers("right.yaml", dz), "dz")
    assert (right["status"], right["points_earned"], right["points_possible"], right["mistake"]) == ("correct", 2.0, 2.0, None)
    flipped = _graded_part(grader, sheet, answers("flipped.yaml", -dz), "dz")  # y - p
    assert (flipped["status"], flipped["points_earned"], flipped["mistake"]) == ("incorrect", 0.0, "y-minus-p")
    assert flipped["feedback"] == "the sign: dL/dz = p - y, not y - p"
    wrong = _graded_part(grader, sheet, answers("wrong.yaml", dz + np.array([0.0, 0.05, -0.05])), "dz")
    assert (wrong["status"], wrong["points_earned"], wrong["mistake"]) == ("incorrect", 0.0, None)


def test_grading_a_seeded_variant_against_its_own_dz(grader: Grader, tmp_path: Path) -> None:
    sheet = write(tmp_path, SOFTMAX)
    _, given = _variant(grader, sheet, 5)
    dz = _softmax(given["x"] @ given["W"] + given["b"]) - np.eye(3)[int(given["label"])]
    for name, value, status, points in [("right.yaml", dz, "correct", 2.0), ("flipped.yaml", -dz, "incorrect", 0.0)]:
        answers = write(tmp_path, f"student: s1\nseed: 5\nanswers:\n  ex:\n    dz: {json.dumps(value.tolist())}\n", name)
        part = _graded_part(grader, sheet, answers, "dz")
        assert (part["status"], part["points_earned"]) == (status, points), part
    assert part["mistake"] == "y-minus-p"


# ---- 4. errors as an author sees them ----------------------------------------------------------------------------
ERRORS = """\
id: grad-errors
exercises:
  - id: ex
    inputs:
      x: {value: [0.5, -1.0, 2.0, 0.3]}
      W: {value: [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [-0.7, 0.8, 0.9], [1.0, -1.1, 1.2]]}
      b: {value: [0.0, 0.1, -0.1]}
      q: {value: [0.25, -0.5, 1.0]}
      label: {value: 2}
    quantities:
      z: {op: add, a: {op: matmul, a: $x, b: $W}, b: $b}
      loss: {op: cross_entropy, logits: $z, target: $label}
      other: OTHER
      dz: {op: grad, of: OF, wrt: WRT}
    parts:
      - {id: dz, prompt: dL/dz, points: 1, answer: {type: array}, expected: $dz}
"""


def _errors_sheet(other: str = "{op: softmax, x: $z}", of: str = "$loss", wrt: str = "$z") -> str:
    return ERRORS.replace("OTHER", other).replace("OF", of).replace("WRT", wrt)


def test_wrt_as_an_inline_op_is_a_spec_error(grader: Grader, tmp_path: Path) -> None:
    text = _errors_sheet(wrt="{op: add, a: {op: matmul, a: $x, b: $W}, b: $b}")
    error = _one_error_at(grader, tmp_path, text, "dz: {op: grad", "exercises[0].quantities.dz.wrt", "spec-bad-arg")
    assert error["message"].startswith(
        "grad: 'wrt' must be a $reference to an input or a quantity (a node the value is computed from), got {'op': 'add'"
    )
    path = tmp_path / "sheet.yaml"  # written by _one_error_at
    one_error(grader("solve", path), path, "spec-bad-arg")  # every command says the same, exit 2


@pytest.mark.parametrize(
    "other",
    [
        # the same value recomputed inline: another node
        "{op: cross_entropy, logits: {op: add, a: {op: matmul, a: $x, b: $W}, b: $b}, target: $label}",
        "{op: sum, x: {op: mul, a: $W, b: $W}}",  # upstream of z only
    ],
    ids=["recomputed-inline", "upstream-only"],
)
def test_wrt_a_quantity_of_does_not_go_through(grader: Grader, tmp_path: Path, other: str) -> None:
    text = _errors_sheet(other=other, of="$other")
    error = _one_error_at(grader, tmp_path, text, "dz: {op: grad", "exercises[0].quantities.dz", "spec-op-failed")
    assert error["message"] == (
        "grad: 'of' does not depend on z: no path of its graph goes through the quantity $z (an expression that "
        "computes the same value again, instead of writing $z, is another node)"
    )
    # the same 'of' with respect to the input W is fine: it does depend on W
    key = solved_key(grader, write(tmp_path, _errors_sheet(other=other, of="$other", wrt="$W"), "by_w.yaml"))
    assert np.abs(np.array(key["ex"]["dz"])).max() > 0


def test_wrt_an_unknown_name_is_named(grader: Grader, tmp_path: Path) -> None:
    text = _errors_sheet(wrt="$zz")
    path = write(tmp_path, text)
    [error] = validate_errors(grader, path)
    assert (error["line"], error["path"], error["code"]) == (
        str(line_of(text, "dz: {op: grad")), "exercises[0].quantities.dz.wrt", "spec-unknown-ref"
    )
    assert error["message"] == "$zz is neither an input nor a quantity of this exercise; known: W, b, dz, label, loss, other, q, x, z"


def test_wrt_a_gradient_quantity_says_what_is_wrong(grader: Grader, tmp_path: Path) -> None:
    path = write(tmp_path, _errors_sheet(other="{op: grad, of: $loss, wrt: $W}", wrt="$other"))
    [error] = validate_errors(grader, path)
    assert (error["path"], error["code"]) == ("exercises[0].quantities.dz", "spec-op-failed")
    # other is an array (a gradient): what is wrong is that autodiff holds it as a constant, no node of the graph
    assert error["message"].startswith("grad: 'wrt' must be a node of the graph 'of' is computed from; other is an array"), error["message"]
    assert "constant" in error["message"] and "not an array" not in error["message"], error["message"]


def test_second_order_through_the_quantity_is_refused(grader: Grader, tmp_path: Path) -> None:
    # other = dL/dz itself; L + 1/2 |dL/dz|^2 depends on z through the gradient too, which grad would miss
    text = _errors_sheet(
        other="{op: grad, of: $loss, wrt: $z}",
        of="{op: add, a: $loss, b: {op: mul, a: 0.5, b: {op: sum, x: {op: mul, a: $other, b: $other}}}}",
    )
    path = write(tmp_path, text)
    [error] = validate_errors(grader, path)
    assert (error["path"], error["code"]) == ("exercises[0].quantities.dz", "spec-op-failed")
    assert error["message"].startswith(
        "grad: second-order gradients are not supported: 'of' is computed from a gradient or adjoint (grad, adjoint, "
        "adjoints) that depends on "
    )
    assert error["message"].endswith("so its own dependence on z would be left out of the key")


def test_a_gradient_of_unrelated_inputs_is_a_constant_and_accepted(grader: Grader, tmp_path: Path) -> None:
    # other = d/dq sum(q^2) = 2q does not depend on x, W, b: L + sum(other * z) has dL/dz = p - y + 2q
    text = _errors_sheet(
        other="{op: grad, of: {op: sum, x: {op: mul, a: $q, b: $q}}, wrt: $q}",
        of="{op: add, a: $loss, b: {op: sum, x: {op: mul, a: $other, b: $z}}}",
    )
    key = solved_key(grader, write(tmp_path, text))["ex"]
    x = np.array([0.5, -1.0, 2.0, 0.3])
    W = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [-0.7, 0.8, 0.9], [1.0, -1.1, 1.2]])
    dce = _softmax(x @ W + np.array([0.0, 0.1, -0.1])) - np.eye(3)[2]
    np.testing.assert_allclose(key["dz"], dce + 2 * np.array([0.25, -0.5, 1.0]), rtol=1e-12, atol=1e-14)


LITERAL_SECOND_ORDER = """\
id: literal-second-order
exercises:
  - id: ex
    inputs:
      q: {value: [1.0, 1.0]}
    quantities:
      z: {op: mul, a: [1.0, 2.0], b: 1.5}
      g: {op: grad, of: {op: sum, x: {op: mul, a: {op: mul, a: $z, b: $z}, b: $q}}, wrt: $q}
      L: {op: sum, x: {op: mul, a: $g, b: $z}}
      dz: {op: grad, of: $L, wrt: $z}
    parts:
      - {id: dz, prompt: dL/dz, points: 1, answer: {type: array}, expected: $dz}
"""


def test_second_order_through_a_quantity_made_of_literals_is_refused(grader: Grader, tmp_path: Path) -> None:
    path = write(tmp_path, LITERAL_SECOND_ORDER)
    run = grader("solve", path, "--format", "json")
    if run.code == 0:  # accepted: then the key must at least be the derivative
        np.testing.assert_allclose(json.loads(run.out)["ex"]["dz"], 3 * np.array([1.5, 3.0]) ** 2)
    error = one_error(run, path, "spec-op-failed")
    assert "second-order gradients are not supported" in error["message"]


# relu at exactly 0: between wrt and 'of' (refused) or upstream of wrt (accepted)
KINK = """\
id: relu-kink
exercises:
  - id: ex
    inputs:
      u: {value: [0.0, 1.5, -2.0]}
      W: {value: [[1.0, 0.5], ROW, [0.3, 0.2]]}
      v: {value: [[0.3], [-0.7]]}
      t: {value: [0.2]}
    quantities:
      r: {op: relu, x: $u}
      a: {op: dense, h: $r, v: $W}
      h: {op: relu, x: $a}
      loss: {op: mse_loss, y: {op: dense, h: $h, v: $v}, target: $t}
      d: {op: grad, of: $loss, wrt: WRT}
    parts:
      - {id: d, prompt: the gradient, points: 1, answer: {type: array}, expected: $d}
"""
AT_ZERO = "[0.0, 0.5]"
"""r = relu(u) = [0, 1.5, 0] and a = r W = 1.5 W[1] = [0, 0.75]: relu(a) has its input at 0 (entry 0)."""
AWAY = "[-0.5, 0.25]"
"""a = [-0.75, 0.375]: no zero after the dense layer (relu(u) still has one, upstream)."""


def test_relu_at_0_between_wrt_and_of_is_refused(grader: Grader, tmp_path: Path) -> None:
    text = KINK.replace("ROW", AT_ZERO).replace("WRT", "$a")
    error = _one_error_at(grader, tmp_path, text, "d: {op: grad", "exercises[0].quantities.d", "spec-op-failed")
    assert "depends on relu's derivative at 0" in error["message"]
    # dL/da_0 = relu'(0) * v_0 * (y - t) = relu'(0) * 0.3 * (0.75 * -0.7 - 0.2) = relu'(0) * -0.2175
    assert "(entry [0] of the gradient is 0 with the engine's relu'(0) = 0, -0.2175 with relu'(0) = 1)" in error["message"]


MAX_TIE = """\
id: max-tie
exercises:
  - id: ex
    inputs:
      x: {value: [0.5, 2.0]}
      c: {value: [1.0, 3.0]}
    quantities:
      a: {op: mul, a: $x, b: 2}
      m: {op: formula, text: 'max(a, c) * 3', a: $a, c: $c}
      loss: {op: sum, x: {op: mul, a: $m, b: $m}}
      d: {op: grad, of: $loss, wrt: WRT}
    parts:
      - {id: d, prompt: the gradient, points: 1, answer: {type: array}, expected: $d}
"""
"""a = 2 x = [1, 4] ties c = [1, 3] at entry 0 inside the formula m = 3 max(a, c)."""


def test_a_max_tie_between_wrt_and_of_is_refused_after_it_accepted(grader: Grader, tmp_path: Path) -> None:
    text = MAX_TIE.replace("WRT", "$a")
    error = _one_error_at(grader, tmp_path, text, "d: {op: grad", "exercises[0].quantities.d", "spec-op-failed")
    assert "depends on max's tie rule" in error["message"]
    assert "(entry [0] of the gradient is 18 by the tie rule, 0 otherwise)" in error["message"]  # 2 m * 3, m = 3
    # dL/dm = 2 m, m = 3 max(a, c) = [3, 12]: the tie is upstream of m
    key = solved_key(grader, write(tmp_path, MAX_TIE.replace("WRT", "$m"), "by_m.yaml"))["ex"]
    assert key["d"] == [6.0, 24.0]


@pytest.mark.parametrize(
    ("sheet", "what"),
    [(KINK.replace("ROW", AT_ZERO), "relu's derivative at 0"), (MAX_TIE, "max's tie rule")],
    ids=["relu-kink", "max-tie"],
)
def test_kink_and_tie_refusals_name_the_quantity(grader: Grader, tmp_path: Path, sheet: str, what: str) -> None:
    [error] = validate_errors(grader, write(tmp_path, sheet.replace("WRT", "$a")))
    assert error["message"].startswith(f"grad: the gradient with respect to a depends on {what}: "), error["message"]


def test_relu_at_0_before_wrt_is_accepted_after_it_refused(grader: Grader, tmp_path: Path) -> None:
    # with the kink of relu(a) upstream of h, dL/dh does not rest on it: dL/dh = v (y - t)
    key = solved_key(grader, write(tmp_path, KINK.replace("ROW", AT_ZERO).replace("WRT", "$h")))["ex"]
    np.testing.assert_allclose(key["d"], np.array([0.3, -0.7]) * (0.75 * -0.7 - 0.2), rtol=1e-12)


@pytest.mark.parametrize("wrt", ["$a", "$r"])
def test_relu_at_0_upstream_of_wrt_is_accepted_and_matches_pytorch(grader: Grader, tmp_path: Path, wrt: str) -> None:
    key = solved_key(grader, write(tmp_path, KINK.replace("ROW", AWAY).replace("WRT", wrt)))["ex"]
    W = np.array([[1.0, 0.5], [-0.5, 0.25], [0.3, 0.2]])
    r = np.maximum([0.0, 1.5, -2.0], 0)
    a = r @ W
    dy = np.maximum(a, 0) @ np.array([0.3, -0.7]) - 0.2
    da = np.array([0.3, -0.7]) * dy * (a > 0)
    np.testing.assert_allclose(key["d"], da if wrt == "$a" else W @ da, rtol=1e-12, atol=1e-15)
    assert np.abs(key["d"]).max() > 0
    # the input u itself sits on the kink: the same sheet with wrt: $u is refused
    [error] = validate_errors(grader, write(tmp_path, KINK.replace("ROW", AWAY).replace("WRT", "$u"), "by_u.yaml"))
    assert error["message"].startswith("grad: the gradient with respect to u depends on relu's derivative at 0: relu(u)")
    torch = _torch()
    u = torch.tensor([0.0, 1.5, -2.0], dtype=torch.float64, requires_grad=True)
    r_t = torch.relu(u)
    r_t.retain_grad()
    a_t = r_t @ torch.tensor(W)
    a_t.retain_grad()
    (0.5 * (0.2 - torch.relu(a_t) @ torch.tensor([0.3, -0.7], dtype=torch.float64)) ** 2).backward()
    np.testing.assert_allclose(key["d"], (a_t if wrt == "$a" else r_t).grad.numpy(), rtol=1e-12, atol=1e-15)


POOL = """\
id: pool-tie
exercises:
  - id: ex
    inputs:
      img: {value: [[[1.0], [2.0], [0.5], [0.1]], [[2.0], [0.3], [0.2], [0.4]], [[0.1], [0.2], [0.3], [0.7]], [[0.6], [0.5], [0.4], [0.2]]]}
      s: {value: 1.5}
      v: {value: [[[[0.3]], [[-0.7]]], [[[0.2]], [[0.9]]]]}
      t: {value: [0.2]}
    quantities:
      a: {op: mul, a: $img, b: $s}
      p: {op: max_pool2d, x: $a, size: 2}
      loss: {op: mse_loss, y: {op: dense, h: $p, v: $v}, target: $t}
      d: {op: grad, of: $loss, wrt: WRT}
    parts:
      - {id: d, prompt: the gradient, points: 1, answer: {type: array}, expected: $d}
"""
"""The top-left window of a = 1.5 img holds its maximum 3 twice ([0, 1] and [1, 0])."""


def test_a_max_pool_tie_between_wrt_and_of_is_refused(grader: Grader, tmp_path: Path) -> None:
    text = POOL.replace("WRT", "$a")
    error = _one_error_at(grader, tmp_path, text, "d: {op: grad", "exercises[0].quantities.d", "spec-op-failed")
    assert error["message"].startswith(
        "grad: the gradient with respect to a depends on max pooling's tie rule: the window at rows 0-1, columns 0-1 "
        "of channel 0 (0-based) of the max_pool2d input holds its maximum more than once"
    )


def test_a_max_pool_tie_upstream_of_wrt_is_accepted(grader: Grader, tmp_path: Path) -> None:
    key = solved_key(grader, write(tmp_path, POOL.replace("WRT", "$p")))["ex"]
    v = np.array([[0.3, -0.7], [0.2, 0.9]])
    pooled = 1.5 * np.array([[2.0, 0.5], [0.6, 0.7]])
    np.testing.assert_allclose(np.array(key["d"])[..., 0], v * ((v * pooled).sum() - 0.2), rtol=1e-12)


# ---- 5. grader ops -----------------------------------------------------------------------------------------------
def test_ops_lists_grad_wrt_a_quantity_and_the_new_ops(grader: Grader) -> None:
    run = grader("ops")
    assert run.code == 0, run.err
    lines = set(run.out.splitlines())
    for signature in [
        "grad(of: scalar quantity, wrt: $input or $quantity)",
        "matmul(a: array, b: array)",
        "softmax(x: array, axis: whole number = -1)",
        "log_softmax(x: array, axis: whole number = -1)",
        "cross_entropy(logits: array, target: array, axis: whole number = -1, reduction: reduction = mean)",
        "sum(x: array, axis: axis or axes = every axis, keepdims: true or false = false)",
        "mean(x: array, axis: axis or axes = every axis, keepdims: true or false = false)",
    ]:
        assert signature in lines, signature
