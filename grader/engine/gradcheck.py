"""Gradient checking: central differences, and autodiff-versus-central-differences errors per input."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from grader.engine.tensor import Tensor


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` for every entry i of ``x``.

    Args:
        f: a scalar function of an array shaped like x (it must not keep a reference to its argument,
            which is perturbed in place and restored).
        x: the point, any shape (copied to float64; the caller's array is not modified).
        eps: the step, > 0.

    Returns:
        float64 array shaped like x. Truncation error is O(eps^2 f'''), round-off O(|f| 1e-16 / eps).
    """
    if not eps > 0:
        raise ValueError(f"numerical_gradient: eps must be > 0, got {eps!r}")
    # C order, so that the flat views below alias the arrays (a transposed input would otherwise give copies).
    point = np.array(x, dtype=np.float64, order="C", copy=True)
    grad = np.zeros_like(point)
    flat_point, flat_grad = point.reshape(-1), grad.reshape(-1)
    for i in range(flat_point.size):
        original = flat_point[i]
        flat_point[i] = original + eps
        above = float(f(point))
        flat_point[i] = original - eps
        below = float(f(point))
        flat_point[i] = original
        flat_grad[i] = (above - below) / (2.0 * eps)
    return grad


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """``max |a - n| / max(1, |a|, |n|)`` entrywise: relative for entries above 1, absolute below (so that
    gradients near zero are not judged by a ratio of round-off). 0.0 for empty arrays."""
    a, n = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"relative_error: shapes differ, actual {a.shape} vs expected {n.shape}")
    if a.size == 0:
        return 0.0
    scale = np.maximum(1.0, np.maximum(np.abs(a), np.abs(n)))
    return float(np.max(np.abs(a - n) / scale))


def check_gradients(
    build: Callable[..., Tensor], inputs: Mapping[str, np.ndarray], eps: float = 1e-6
) -> dict[str, float]:
    """Compare the engine's gradients with central differences for each named input.

    Args:
        build: called as ``build(**tensors)`` with one leaf Tensor per entry of ``inputs`` (named by its key);
            must return a scalar Tensor (size 1) computed from them with engine ops.
        inputs: name -> array (any shapes).
        eps: central-difference step.

    Returns:
        name -> :func:`relative_error` between ``.grad`` after ``backward()`` and central differences.
    """
    arrays = {name: np.array(value, dtype=np.float64, order="C", copy=True) for name, value in inputs.items()}
    leaves = {name: Tensor(array, name=name) for name, array in arrays.items()}
    output = build(**leaves)
    if not isinstance(output, Tensor) or output.value.size != 1:
        shape = output.shape if isinstance(output, Tensor) else type(output).__name__
        raise ValueError(f"check_gradients: build must return a scalar Tensor, got {shape}")
    output.backward()
    errors: dict[str, float] = {}
    for name, array in arrays.items():

        def f(point: np.ndarray, name: str = name) -> float:
            trial = {other: Tensor(arrays[other] if other != name else point, name=other) for other in arrays}
            return build(**trial).item()

        expected = numerical_gradient(f, array, eps)
        actual = leaves[name].grad if leaves[name].grad is not None else np.zeros_like(array)
        errors[name] = relative_error(actual, expected)
    return errors
