"""Benchmark of the engine's conv2d and max_pool2d (forward + backward) against PyTorch CPU and plain loops.

Run: ``.venv/bin/python benchmarks/engine.py [--repeats 15]``. Everything is measured in this one run:
the engine, PyTorch CPU (float64, ``torch.set_num_threads(2)``, when torch is importable) and the loop twins
of ``tests/engine/naive.py``. Engine and torch are timed alternately, one call each per round, so that a
burst of load on the machine hits both; the median over the rounds is reported. The loop twins are far too
slow for the full shapes: they run on a slice (stated per case), the fastest of ``--loop-runs`` runs is kept
(load on the machine only ever adds time, so the minimum is the fairest -- and the strictest -- baseline), and
that time is scaled by the ratio of output sizes, which is exact for loops whose work is the same for every
output entry.

Targets: engine within 2x of PyTorch CPU on every case, and at least 100x faster than the loops.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout: `grader` and `tests` come from this tree

from grader.engine import Tensor, conv2d, max_pool2d  # noqa: E402
from tests.engine.naive import (  # noqa: E402
    conv2d_backward_naive,
    conv2d_naive,
    max_pool2d_backward_naive,
    max_pool2d_naive,
)

try:
    import torch
    import torch.nn.functional as torch_f
except ImportError:  # the comparison is optional; the engine never depends on torch
    torch = None


@dataclass
class Case:
    """One benchmark: engine and torch calls (forward + backward), and a scaled loop-twin measurement."""

    name: str
    engine: Callable[[], object]
    torch: Callable[[], object] | None
    loops: Callable[[], object]
    loops_scale: float
    loops_note: str


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def conv_case(rng: np.random.Generator, x_shape: tuple[int, ...], w_shape: tuple[int, ...], padding: int,
              loop_batch: int, loop_rows: int) -> Case:
    """conv2d forward + backward (seeded with a fixed random output adjoint); x (N, H, W, C), w (f, f, C, K)."""
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[-1])
    out = conv2d(x, w, b, padding=padding)
    g = rng.standard_normal(out.shape)

    def engine() -> None:
        xt, wt, bt = Tensor(x), Tensor(w), Tensor(b)
        conv2d(xt, wt, bt, padding=padding).backward(g)

    torch_call = None
    if torch is not None:
        xt = torch.tensor(x).permute(0, 3, 1, 2).contiguous().requires_grad_()
        wt = torch.tensor(w).permute(3, 2, 0, 1).contiguous().requires_grad_()
        bt = torch.tensor(b).requires_grad_()
        gt = torch.tensor(g).permute(0, 3, 1, 2).contiguous()

        def torch_call() -> None:
            for tensor in (xt, wt, bt):
                tensor.grad = None
            torch_f.conv2d(xt, wt, bt, padding=padding).backward(gt)

        torch_call()
        check = Tensor(x)
        conv2d(check, Tensor(w), Tensor(b), padding=padding).backward(g)
        assert np.allclose(check.grad, xt.grad.permute(0, 2, 3, 1).numpy()), "engine and torch disagree (conv2d dx)"

    # The loops run on `loop_batch` images cropped to `loop_rows` rows (the padded crop keeps the same kind of
    # borders); their time is scaled by full output entries / sliced output entries.
    x_slice = x[:loop_batch, :loop_rows]
    slice_rows = loop_rows + 2 * padding - w_shape[0] + 1
    g_slice = rng.standard_normal((loop_batch, slice_rows, out.shape[2], out.shape[3]))

    def loops() -> None:
        conv2d_naive(x_slice, w, b, padding=padding)
        conv2d_backward_naive(x_slice, w, g_slice, padding=padding)

    scale = out.value.size / g_slice.size
    name = f"conv2d {x_shape} x {w_shape} pad {padding}"
    note = f"loops timed on x[:{loop_batch}, :{loop_rows}] (output {g_slice.shape}), scaled x{scale:g}"
    return Case(name, engine, torch_call, loops, scale, note)


def pool_case(rng: np.random.Generator, x_shape: tuple[int, ...], size: int, loop_batch: int) -> Case:
    """max_pool2d forward + backward on x (N, H, W, C) with a size x size window and stride = size."""
    # Distinct values, so that no window has a tie and torch and the engine must pick the same winners.
    x = rng.permutation(np.prod(x_shape)).reshape(x_shape).astype(np.float64)
    out = max_pool2d(x, size)
    g = rng.standard_normal(out.shape)

    def engine() -> None:
        max_pool2d(Tensor(x), size).backward(g)

    torch_call = None
    if torch is not None:
        xt = torch.tensor(x).permute(0, 3, 1, 2).contiguous().requires_grad_()
        gt = torch.tensor(g).permute(0, 3, 1, 2).contiguous()

        def torch_call() -> None:
            xt.grad = None
            torch_f.max_pool2d(xt, size).backward(gt)

        torch_call()
        check = Tensor(x)
        max_pool2d(check, size).backward(g)
        assert np.allclose(check.grad, xt.grad.permute(0, 2, 3, 1).numpy()), "engine and torch disagree (max_pool2d)"

    x_slice, g_slice = x[:loop_batch], g[:loop_batch]

    def loops() -> None:
        max_pool2d_naive(x_slice, size)
        max_pool2d_backward_naive(x_slice, g_slice, size)

    scale = x_shape[0] / loop_batch
    name = f"max_pool2d {x_shape} {size}x{size} stride {size}"
    return Case(name, engine, torch_call, loops, scale, f"loops timed on x[:{loop_batch}], scaled x{scale:g}")


def measure(case: Case, repeats: int, loop_runs: int) -> dict[str, float | None]:
    """Median seconds of engine and torch (alternating, after one warm-up each) and the scaled loop time
    (fastest of ``loop_runs`` runs)."""
    case.engine()
    if case.torch is not None:
        case.torch()
    engine_times: list[float] = []
    torch_times: list[float] = []
    for _ in range(repeats):
        engine_times.append(_seconds(case.engine))
        if case.torch is not None:
            torch_times.append(_seconds(case.torch))
    loops = min(_seconds(case.loops) for _ in range(loop_runs)) * case.loops_scale
    return {
        "engine": statistics.median(engine_times),
        "torch": statistics.median(torch_times) if torch_times else None,
        "loops": loops,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="rounds of engine/torch timing (median reported)")
    parser.add_argument("--loop-runs", type=int, default=3, help="runs of each loop twin (fastest kept)")
    args = parser.parse_args()

    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, {platform.machine()}")
    blas_vars = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_"))}
    if blas_vars:
        print(f"note: BLAS settings in the environment (they can slow numpy; left as they are): {blas_vars}")
    if torch is not None:
        torch.set_num_threads(2)
        print(f"torch {torch.__version__} CPU, float64, {torch.get_num_threads()} threads")
    else:
        print("torch is not importable: only engine and loops are measured")

    rng = np.random.default_rng(0)
    cases = [
        conv_case(rng, (8, 32, 32, 3), (5, 5, 3, 16), 2, loop_batch=1, loop_rows=8),
        conv_case(rng, (64, 32, 32, 16), (3, 3, 16, 32), 1, loop_batch=1, loop_rows=4),
        pool_case(rng, (64, 32, 32, 16), 2, loop_batch=2),
    ]
    rounds = f"median of {args.repeats} alternating rounds, loops fastest of {args.loop_runs} runs"
    print(f"\nforward + backward, {rounds} (ms)")
    header = f"{'case':<48} {'engine':>9} {'torch':>9} {'eng/torch':>9} {'loops':>11} {'loops/eng':>10}"
    print(header)
    print("-" * len(header))
    failures: list[str] = []
    notes: list[str] = []
    for case in cases:
        result = measure(case, args.repeats, max(1, args.loop_runs))
        engine, torch_time, loops = result["engine"], result["torch"], result["loops"]
        assert engine is not None and loops is not None
        vs_torch = f"{engine / torch_time:9.2f}" if torch_time else f"{'-':>9}"
        torch_ms = f"{torch_time * 1e3:9.2f}" if torch_time else f"{'-':>9}"
        print(f"{case.name:<48} {engine * 1e3:9.2f} {torch_ms} {vs_torch} {loops * 1e3:11.0f} {loops / engine:10.0f}")
        notes.append(f"  {case.name}: {case.loops_note}")
        if torch_time and engine > 2 * torch_time:
            failures.append(f"{case.name}: engine is {engine / torch_time:.2f}x PyTorch (target <= 2x)")
        if loops / engine < 100:
            failures.append(f"{case.name}: engine is only {loops / engine:.0f}x faster than loops (target >= 100x)")
    print("\nloop twins:")
    print("\n".join(notes))
    print("\ntargets: " + ("all met" if not failures else "MISSED\n  " + "\n  ".join(failures)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
