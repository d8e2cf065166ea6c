"""Golden files: every report format of every sample Result, compared byte for byte.

After an intended change of a renderer, regenerate and review the diff:
``pytest tests/report --update-golden`` (or ``GRADER_UPDATE_GOLDEN=1 pytest tests/report`` from anywhere).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.report import FORMATS, render, render_csv, render_md_many, render_text_many

from .sample_results import SAMPLES

GOLDEN = Path(__file__).parent / "golden"

CASES = [(name, fmt, "student") for name in SAMPLES for fmt in FORMATS]
CASES += [("mixed", fmt, "instructor") for fmt in FORMATS]


def check_golden(path: Path, actual: str, update: bool) -> None:
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="")
        return
    assert path.exists(), f"{path} is missing: run pytest tests/report --update-golden"
    with path.open(encoding="utf-8", newline="") as handle:
        expected = handle.read()
    assert actual == expected, f"{path.name} differs from the renderer's output (regenerate if intended)"


@pytest.mark.parametrize(("sample", "fmt", "audience"), CASES, ids=[f"{s}.{f}.{a}" for s, f, a in CASES])
def test_report_matches_golden(sample: str, fmt: str, audience: str, update_golden: bool) -> None:
    output = render(SAMPLES[sample](), fmt, audience=audience)  # type: ignore[arg-type]
    suffix = "" if audience == "student" else ".instructor"
    check_golden(GOLDEN / f"{sample}{suffix}.{fmt}", output, update_golden)


def test_batch_reports_match_golden(update_golden: bool) -> None:
    results = [make() for make in SAMPLES.values()]
    check_golden(GOLDEN / "cohort.csv", render_csv(results), update_golden)
    check_golden(GOLDEN / "cohort.text", render_text_many(results), update_golden)
    check_golden(GOLDEN / "cohort.md", render_md_many(results), update_golden)


def test_rendering_is_deterministic() -> None:
    for make in SAMPLES.values():
        for fmt in FORMATS:
            assert render(make(), fmt) == render(make(), fmt)
