"""Benchmark: code submissions graded per second through the sandbox's warm worker, versus a fresh interpreter each.

Both sides grade the same correct student conv2d on the same 10 cases (image (8, 8, 3), filters (3, 3, 3, 4)),
two submissions at a time (two threads, as the batch grader does on 2 cores). The baseline starts
``python -c "import numpy; ..."`` per submission, loads the inputs from .npy files and imports the student's file:
no isolation at all, so it is a lower bound on what a process-per-submission design costs.

Run: ``.venv/bin/python benchmarks/sandbox.py [--submissions N] [--baseline N]``. Prints the rates and the ratio;
targets: >= 25 submissions/s and >= 5x the baseline.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.sandbox import CaseInput, probe_layers, run_cases  # noqa: E402

STUDENT_CONV2D = '''\
import numpy as np


def conv2d(image, filters):
    """image (H, W, C), filters (f, f, C, K) -> (H - f + 1, W - f + 1, K); cross-correlation, stride 1."""
    f, _, C, K = filters.shape
    H, W, _ = image.shape
    out = np.zeros((H - f + 1, W - f + 1, K))
    for x in range(f):
        for y in range(f):
            out += np.tensordot(image[x:x + H - f + 1, y:y + W - f + 1, :], filters[x, y], axes=([2], [0]))
    return out
'''

BASELINE_SCRIPT = '''\
import importlib.util, sys
import numpy as np
folder = sys.argv[1]
spec = importlib.util.spec_from_file_location("submission", folder + "/conv.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
for i in range(int(sys.argv[2])):
    result = module.conv2d(image=np.load(f"{folder}/image{i}.npy"), filters=np.load(f"{folder}/filters{i}.npy"))
    np.save(f"{folder}/out{i}.npy", np.asarray(result, dtype=np.float64))
'''

CASES = 10
THREADS = 2


def conv2d_loops(image: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """Loop oracle: image (H, W, C), filters (f, f, C, K) -> (H - f + 1, W - f + 1, K)."""
    f, _, C, K = filters.shape
    H, W, _ = image.shape
    out = np.zeros((H - f + 1, W - f + 1, K))
    for i in range(H - f + 1):
        for j in range(W - f + 1):
            out[i, j] = np.einsum("xyc,xyck->k", image[i : i + f, j : j + f], filters)
    return out


def rate(grade: Callable[[], None], submissions: int) -> float:
    """Submissions per second when ``grade`` runs ``submissions`` times on THREADS threads."""
    start = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(grade) for _ in range(submissions)]:
            future.result()
    return submissions / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=300, help="submissions graded through the warm worker")
    parser.add_argument("--baseline", type=int, default=40, help="submissions graded by fresh interpreters")
    arguments = parser.parse_args()

    rng = np.random.default_rng(0)
    cases = [CaseInput(f"case{i}", {"image": rng.normal(size=(8, 8, 3)), "filters": rng.normal(size=(3, 3, 3, 4))}) for i in range(CASES)]
    expected = [conv2d_loops(case.kwargs["image"], case.kwargs["filters"]) for case in cases]  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        submission = folder / "conv.py"
        submission.write_text(STUDENT_CONV2D)
        for i, case in enumerate(cases):
            np.save(folder / f"image{i}.npy", case.kwargs["image"])
            np.save(folder / f"filters{i}.npy", case.kwargs["filters"])

        def grade_sandboxed() -> None:
            report = run_cases(submission, "conv2d", cases)
            for outcome, want in zip(report.cases, expected):
                assert outcome.status == "ok" and np.allclose(outcome.value, want), outcome.message

        def grade_fresh_interpreter() -> None:
            # Each thread gets its own output folder so concurrent runs do not overwrite each other's results.
            with tempfile.TemporaryDirectory(dir=folder) as own:
                for name in ["conv.py"] + [f"{kind}{i}.npy" for kind in ("image", "filters") for i in range(CASES)]:
                    (Path(own) / name).symlink_to(folder / name)
                subprocess.run([sys.executable, "-c", BASELINE_SCRIPT, own, str(CASES)], check=True, env={"OPENBLAS_NUM_THREADS": "1"})
                for i, want in enumerate(expected):
                    assert np.allclose(np.load(Path(own) / f"out{i}.npy"), want)

        layers = probe_layers()
        for _ in range(2 * THREADS):  # start the warm workers (one per thread) before timing
            rate(grade_sandboxed, THREADS)
        warm = rate(grade_sandboxed, arguments.submissions)
        start = time.perf_counter()
        for _ in range(max(1, arguments.submissions // 4)):
            grade_sandboxed()
        single = max(1, arguments.submissions // 4) / (time.perf_counter() - start)
        fresh = rate(grade_fresh_interpreter, arguments.baseline)

    active = ", ".join(name for name, on in layers.items() if on) or "none"
    inactive = ", ".join(name for name, on in layers.items() if not on) or "none"
    print(f"isolation layers active: {active}; missing: {inactive}")
    print(f"{CASES} cases of conv2d, image (8, 8, 3), filters (3, 3, 3, 4); {THREADS} submissions at a time")
    print(f"warm sandbox worker   : {warm:7.1f} submissions/s ({arguments.submissions} submissions; 1 thread: {single:.1f}/s)")
    print(f"fresh interpreter each: {fresh:7.1f} submissions/s ({arguments.baseline} submissions, no isolation)")
    print(f"speed-up              : {warm / fresh:7.1f}x   (targets: >= 25 submissions/s, >= 5x)")
    print(f"targets met           : {'yes' if warm >= 25 and warm / fresh >= 5 else 'NO'}")


if __name__ == "__main__":
    main()
