"""Speed of grading one answer file of the full week-7 sheet, in-process, and of the CLI's cold start.

Run: python benchmarks/grading.py. Prints medians; the answer key's cost is reported separately (a batch
computes it once per variant). Targets (issue 3): grading < 20 ms median.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from grader.grading import grade_answer_file
from grader.key import answer_key, compute_key
from grader.spec import load_sheet
from grader.submission.answer_file import parse_answer_file

ROOT = Path(__file__).resolve().parents[1]


def median_ms(fn, repeat: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    sheet = load_sheet(ROOT / "exercises" / "week7.yaml")
    sample = ROOT / "submissions" / "week7" / "correct.yaml"
    data = sample.read_bytes()
    print(f"answer key (seed-less), computed afresh: {median_ms(lambda: compute_key(sheet, None), 10):8.2f} ms median")
    print(f"answer key for a new seed:               {median_ms(lambda: compute_key(sheet, 12345), 10):8.2f} ms median")
    answer_key(sheet, None)  # cached from here on, as in a batch
    print(f"parse the answer file:                   {median_ms(lambda: parse_answer_file(sample, data), 50):8.2f} ms median")
    submission = parse_answer_file(sample, data)
    grading = median_ms(lambda: grade_answer_file(sheet, submission), 50)
    print(f"grade the full sheet (key cached):       {grading:8.2f} ms median   target < 20 ms")
    grader = [sys.executable, "-m", "grader"]
    help_ms = median_ms(lambda: subprocess.run([*grader, "--help"], capture_output=True, check=True), 5)
    grade_ms = median_ms(lambda: subprocess.run([*grader, "grade", str(ROOT / "exercises/week7.yaml"), str(sample)], capture_output=True, check=True), 5)
    baseline = median_ms(lambda: subprocess.run([sys.executable, "-c", "import numpy"], capture_output=True, check=True), 5)
    print(f"cold start: python -c 'import numpy':    {baseline:8.1f} ms (baseline)")
    print(f"cold start: grader --help:               {help_ms:8.1f} ms ({help_ms / baseline:.2f}x baseline)")
    print(f"cold start: grader grade (one file):     {grade_ms:8.1f} ms ({grade_ms / baseline:.2f}x baseline)")


if __name__ == "__main__":
    main()
