"""Cohort statistics against independent numpy computations, and their text and HTML renderings."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from fractions import Fraction
from html.parser import HTMLParser
from types import SimpleNamespace
from pathlib import Path

import numpy as np
import pytest

from grader.gradebook import Gradebook
from grader.stats import compute_stats
from grader.stats_render import render_stats_html, render_stats_text
from tests.batch.helpers import make_result

POINTS = {"ex1.a": 2.0, "ex1.b": 1.0, "ex2.a": 3.0, "ex3.a": 4.0}
MISTAKES = {"ex1.a": ["flipped-kernel", "no-padding"], "ex2.a": ["stride-1"]}


def _fill(path: Path, n: int, seed: int) -> list[tuple[dict[str, float], dict[str, str]]]:
    """A gradebook with ``n`` random Results (ex3.a always full marks) and one unreadable submission."""
    rng = np.random.default_rng(seed)
    cohort = []
    with Gradebook(path) as gradebook:
        for index in range(n):
            fractions = {key: float(rng.choice([0.0, 0.25, 0.5, 1.0])) for key in ["ex1.a", "ex1.b", "ex2.a"]}
            fractions["ex3.a"] = 1.0
            mistakes = {
                key: str(rng.choice(ids)) for key, ids in MISTAKES.items() if fractions[key] == 0.0 and rng.random() < 0.7
            }
            gradebook.record(make_result(f"s{index}", fractions, mistakes=mistakes, points=POINTS), f"s{index}.yaml")
            cohort.append((fractions, mistakes))
        gradebook.record(make_result("broken", {}, error="not YAML", points=POINTS), "broken.yaml")
    return cohort


def test_statistics_match_an_independent_computation(tmp_path: Path) -> None:
    cohort = _fill(tmp_path / "gb.sqlite", 80, seed=1)
    with Gradebook(tmp_path / "gb.sqlite") as gradebook:
        stats = compute_stats(gradebook, "fake-sheet")

    assert [p.key for p in stats.parts] == list(POINTS)
    total_points = np.array([sum(POINTS[k] * f for k, f in fr.items()) for fr, _ in cohort])
    for part in stats.parts:
        fractions = np.array([fr[part.key] for fr, _ in cohort])
        assert part.n == len(cohort) and part.points_possible == POINTS[part.key]
        assert part.mean == pytest.approx(np.mean(fractions))
        assert part.sd == pytest.approx(np.std(fractions))
        assert part.full_marks == pytest.approx(np.mean(fractions == 1.0))
        rest = total_points - POINTS[part.key] * fractions
        if part.key == "ex3.a":
            assert part.discrimination is None and "scored the same" in part.discrimination_note
        else:
            assert part.discrimination == pytest.approx(np.corrcoef(fractions, rest)[0, 1])
            assert part.discrimination_note == ""
        expected_mistakes = Counter(m[part.key] for _, m in cohort if part.key in m)
        assert {m.mistake_id: m.count for m in part.mistakes} == dict(expected_mistakes)
        assert all(m.share == pytest.approx(m.count / len(cohort)) for m in part.mistakes)
        assert sum(part.status_counts.values()) == len(cohort)

    totals = stats.totals
    scores = np.append(total_points / sum(POINTS.values()), 0.0)  # the unreadable submission scores 0
    assert (totals.n, totals.unreadable) == (len(cohort) + 1, 1)
    assert totals.mean == pytest.approx(scores.mean()) and totals.sd == pytest.approx(scores.std())
    assert totals.median == pytest.approx(np.median(scores))
    assert (totals.minimum, totals.maximum) == (pytest.approx(scores.min()), pytest.approx(scores.max()))
    # Exact decimal arithmetic: a score of 0.6 belongs to [60%, 70%).
    bins = Counter(min(int(Fraction(str(round(score, 6))) * 10), 9) for score in scores)
    assert [b.count for b in totals.histogram] == [bins[i] for i in range(10)]
    assert stats.sheet_title == "Fake <sheet> & co" and len(stats.spec_hashes) == 1


def test_known_mistakes_nobody_made_are_listed_with_zero_and_order_follows_the_sheet(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "gb.sqlite") as gradebook:
        gradebook.record(make_result("a", {"ex1.a": 0.0, "ex2.a": 1.0}, mistakes={"ex1.a": "m1"}), "a")
        gradebook.record(make_result("b", {"ex1.a": 1.0, "ex2.a": 1.0}), "b")
        known = {"ex2.a": ["m9"], "ex1.a": ["m1", "m2"]}
        stats = compute_stats(gradebook, "fake-sheet", known_mistakes=known)
    assert [p.key for p in stats.parts] == ["ex2.a", "ex1.a"]
    assert [(m.mistake_id, m.count) for m in stats.parts[1].mistakes] == [("m1", 1), ("m2", 0)]
    assert [(m.mistake_id, m.count) for m in stats.parts[0].mistakes] == [("m9", 0)]
    assert "scored the same" in stats.parts[0].discrimination_note  # ex2.a: full marks for both
    assert "rest of the total" in stats.parts[1].discrimination_note  # ex1.a's rest is ex2.a: constant
    assert stats.parts[1].discrimination is None


def test_a_single_submission_has_no_discrimination_and_an_unknown_sheet_is_named(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "gb.sqlite") as gradebook:
        gradebook.record(make_result("a", {"ex1.a": 0.5}), "a")
        [part] = compute_stats(gradebook, "fake-sheet").parts
        assert part.discrimination is None and "at least 3" in part.discrimination_note
        with pytest.raises(LookupError, match="week9.*fake-sheet"):
            compute_stats(gradebook, "week9")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [value or "" for name, value in attrs if name in ("src", "href")]


def test_renderings_show_every_part_and_mistake_and_the_html_is_self_contained(tmp_path: Path) -> None:
    _fill(tmp_path / "gb.sqlite", 30, seed=2)
    with Gradebook(tmp_path / "gb.sqlite") as gradebook:
        stats = compute_stats(gradebook, "fake-sheet")
    text = render_stats_text(stats)
    html = render_stats_html(stats)
    for part in stats.parts:
        assert part.key in text and part.key in html
        for mistake in part.mistakes:
            assert f"{mistake.mistake_id}: {mistake.count}" in text
            assert f"{part.key} · {mistake.mistake_id}" in html
    assert "31 submissions (1 could not be graded)" in text
    assert "ex3.a: discrimination undefined" in text

    assert "<sheet>" not in html and "Fake &lt;sheet&gt; &amp; co" in html
    parser = _Tags()
    parser.feed(html)
    assert "script" not in parser.tags and "link" not in parser.tags and parser.urls == []
    assert 'name="viewport"' in html
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) == 2
    for svg in svgs:
        ET.fromstring(svg)  # well-formed XML
    histogram = ET.fromstring(svgs[0])
    bars = [e for e in histogram.iter() if e.tag.endswith("rect")]
    assert len(bars) == 10
    heights = [float(b.get("height", "0")) for b in bars]
    counts = [b.count for b in stats.totals.histogram]
    assert heights.index(max(heights)) == counts.index(max(counts))
    mistakes_chart = ET.fromstring(svgs[1])
    assert len([e for e in mistakes_chart.iter() if e.tag.endswith("rect")]) == sum(len(p.mistakes) for p in stats.parts)


def test_unreadable_files_count_in_the_totals_only_and_grader_failures_nowhere(tmp_path: Path) -> None:
    """An unreadable file has every part at 0 (missing): counted in a part's statistics it would make every part
    look discriminating. A file the grader failed on is no student's result at all."""
    import shutil

    from grader.batch import run_batch
    from grader.stats import compute_stats

    root = Path(__file__).resolve().parents[2]
    sheet = root / "exercises" / "week7.yaml"
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(root / "submissions" / "week7" / "correct.yaml", folder / "a.yaml")
    shutil.copy(root / "submissions" / "week7" / "correct.yaml", folder / "b.yaml")
    (folder / "broken.yaml").write_text("student: [unclosed\n", encoding="utf-8")
    book = tmp_path / "gb.sqlite"
    run_batch(sheet, folder, jobs=1, gradebook_path=book, progress=False)

    def failing(spec: Path, path: Path):  # noqa: ANN202
        raise RuntimeError("grader bug")

    (folder / "c.yaml").write_text("student: c\nanswers: {}\n", encoding="utf-8")
    run_batch(sheet, folder, jobs=1, gradebook_path=book, progress=False, grade_fn=failing)  # only c.yaml is new
    with Gradebook(book, read_only=True) as gradebook:
        stats = compute_stats(gradebook, "week7")
    assert (stats.totals.n, stats.totals.unreadable, stats.totals.grader_failures) == (3, 1, 1)
    for part in stats.parts:
        assert part.n == 2 and part.status_counts.get("missing", 0) == 0, part.key
    assert "1 more left out: the grader failed on them" in render_stats_text(stats)


def test_a_rest_of_the_total_that_differs_only_by_rounding_is_constant() -> None:
    import numpy as np

    from grader.stats import _pearson

    value, note = _pearson(np.array([0.0, 1.0, 0.5]), np.array([0.6666669999999999, 0.666667, 0.666667]))
    assert value is None and "rest of the total is the same" in note


def test_shares_never_round_to_all_or_nothing_and_no_correlation_shows_minus_zero() -> None:
    """1999 of 2000 full marks had shown as 100.0%, and a correlation of -0.001 as -0.00."""
    from grader.stats_render import _discrimination, _percent

    assert (_percent(1999 / 2000), _percent(1.0), _percent(1 / 5000), _percent(0.0), _percent(0.875)) == (
        ">99.9%", "100.0%", "<0.1%", "0.0%", "87.5%"
    )
    part = SimpleNamespace(discrimination=-0.001)
    assert _discrimination(part) == "+0.00"  # type: ignore[arg-type]
    assert _discrimination(SimpleNamespace(discrimination=None)) == "n/a"  # type: ignore[arg-type]
