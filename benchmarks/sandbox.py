"""Benchmark: code submissions graded per second through the sandbox's warm worker, versus a fresh interpreter each.

Both sides grade the same correct student conv2d on the same 10 cases (image (8, 8, 3), filters (3, 3, 3, 4)). The
warm worker is timed with one submission at a time (one stream) and with one stream per core (each stream has its
own warm worker, as each grading thread does), and the machine's CPU time per submission is read from /proc/stat
(so it counts the grader, the worker and the children). The baseline starts ``python -c "import numpy; ..."`` per
submission, one per core at a time, loads the inputs from .npy files and imports the student's file: no isolation
at all, so it is a lower bound on what a process-per-submission design costs.

Run: ``.venv/bin/python benchmarks/sandbox.py [--submissions N] [--baseline N]``. Prints the rates and the ratio;
targets: >= 25 submissions/s and >= 5x the baseline (both with one stream per core).
``measure(submissions, streams)`` is also used by benchmarks/batch.py as the baseline of code grading in batches.
"""

from __future__ import annotations

import argparse
import os
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
STREAMS = os.cpu_count() or 1
"""Submissions graded at a time for the headline figure: one per core."""


def conv2d_loops(image: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """Loop oracle: image (H, W, C), filters (f, f, C, K) -> (H - f + 1, W - f + 1, K)."""
    f, _, C, K = filters.shape
    H, W, _ = image.shape
    out = np.zeros((H - f + 1, W - f + 1, K))
    for i in range(H - f + 1):
        for j in range(W - f + 1):
            out[i, j] = np.einsum("xyc,xyck->k", image[i : i + f, j : j + f], filters)
    return out


def machine_cpu_seconds() -> float | None:
    """CPU seconds all cores of this machine spent busy since boot (Linux /proc/stat), or None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def timed(grade: Callable[[], None], submissions: int, streams: int) -> tuple[float, float | None]:
    """(submissions per second, machine CPU milliseconds per submission or None) when ``grade`` runs
    ``submissions`` times on ``streams`` threads."""
    cpu_before = machine_cpu_seconds()
    start = time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        for future in [pool.submit(grade) for _ in range(submissions)]:
            future.result()
    elapsed = time.perf_counter() - start
    cpu_after = machine_cpu_seconds()
    cpu = None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) / submissions * 1000
    return submissions / elapsed, cpu


def workload(folder: Path) -> tuple[Path, list[CaseInput], list[np.ndarray]]:
    """The student's file (written into ``folder``), the 10 cases, and their expected outputs (loop oracle)."""
    rng = np.random.default_rng(0)
    cases = [CaseInput(f"case{i}", {"image": rng.normal(size=(8, 8, 3)), "filters": rng.normal(size=(3, 3, 3, 4))}) for i in range(CASES)]
    expected = [conv2d_loops(case.kwargs["image"], case.kwargs["filters"]) for case in cases]  # type: ignore[arg-type]
    submission = folder / "conv.py"
    submission.write_text(STUDENT_CONV2D)
    return submission, cases, expected


def measure(submissions: int, streams: int) -> dict[str, float | None]:
    """Rate and machine CPU per submission of the warm sandbox on this workload with ``streams`` at a time
    (after warming one worker per stream). Every output is checked against the loop oracle."""
    with tempfile.TemporaryDirectory() as folder_name:
        submission, cases, expected = workload(Path(folder_name))

        def grade_sandboxed() -> None:
            report = run_cases(submission, "conv2d", cases)
            for outcome, want in zip(report.cases, expected):
                assert outcome.status == "ok" and np.allclose(outcome.value, want), outcome.message

        for _ in range(3):
            timed(grade_sandboxed, streams, streams)
        rate, cpu = timed(grade_sandboxed, submissions, streams)
    return {"rate": rate, "cpu_ms": cpu, "streams": streams}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=300, help="submissions graded through the warm worker")
    parser.add_argument("--baseline", type=int, default=40, help="submissions graded by fresh interpreters")
    arguments = parser.parse_args()

    layers = probe_layers()
    one = measure(max(1, arguments.submissions // 2), 1)
    warm = measure(arguments.submissions, STREAMS)
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        submission, cases, expected = workload(folder)
        for i, case in enumerate(cases):
            np.save(folder / f"image{i}.npy", case.kwargs["image"])
            np.save(folder / f"filters{i}.npy", case.kwargs["filters"])

        def grade_fresh_interpreter() -> None:
            # Each thread gets its own output folder so concurrent runs do not overwrite each other's results.
            with tempfile.TemporaryDirectory(dir=folder) as own:
                for name in ["conv.py"] + [f"{kind}{i}.npy" for kind in ("image", "filters") for i in range(CASES)]:
                    (Path(own) / name).symlink_to(folder / name)
                subprocess.run([sys.executable, "-c", BASELINE_SCRIPT, own, str(CASES)], check=True, env={"OPENBLAS_NUM_THREADS": "1"})
                for i, want in enumerate(expected):
                    assert np.allclose(np.load(Path(own) / f"out{i}.npy"), want)

        fresh, _ = timed(grade_fresh_interpreter, arguments.baseline, STREAMS)

    def cpu_text(result: dict[str, float | None]) -> str:
        return f"{result['cpu_ms']:.1f} ms of machine CPU per submission" if result["cpu_ms"] is not None else "CPU not measured"

    active = ", ".join(name for name, on in layers.items() if on) or "none"
    inactive = ", ".join(name for name, on in layers.items() if not on) or "none"
    print(f"isolation layers active: {active}; missing: {inactive}")
    print(f"{CASES} cases of conv2d, image (8, 8, 3), filters (3, 3, 3, 4); {os.cpu_count()} cores")
    print(f"warm sandbox worker, 1 stream   : {one['rate']:7.1f} submissions/s ({cpu_text(one)})")
    print(f"warm sandbox worker, {STREAMS} stream{'s' if STREAMS != 1 else ' '}  : {warm['rate']:7.1f} submissions/s ({cpu_text(warm)}; {arguments.submissions} submissions)")
    print(f"fresh interpreter each          : {fresh:7.1f} submissions/s ({arguments.baseline} submissions, {STREAMS} at a time, no isolation)")
    print(f"speed-up                        : {warm['rate'] / fresh:7.1f}x   (targets: >= 25 submissions/s, >= 5x)")
    print(f"targets met                     : {'yes' if warm['rate'] >= 25 and warm['rate'] / fresh >= 5 else 'NO'}")


if __name__ == "__main__":
    main()
