"""The SQLite gradebook: rows per submission and part, replacement, one transaction per submission."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.errors import GraderError
from grader.gradebook import Gradebook
from grader.result import Result
from tests.batch.helpers import PART_POINTS, make_result


def test_record_round_trips_the_result_and_writes_part_rows(tmp_path: Path) -> None:
    result = make_result(
        "s001",
        {"ex1.a": 1.0, "ex1.b": 0.0, "ex2.a": 0.5},
        mistakes={"ex1.b": "flipped-kernel"},
        case_mistakes={"ex2.a": ["stride-1", "stride-1", "no-padding"]},
        submission="s001.yaml",
        submission_hash="a" * 64,
        spec_hash="b" * 64,
    )
    with Gradebook(tmp_path / "gb.sqlite") as gradebook:
        gradebook.record(result, "/course/s001.yaml")
        assert gradebook.result("/course/s001.yaml", "fake-sheet") == result
        assert list(gradebook.results("b" * 64)) == [result]
        [row] = list(gradebook.rows())
        assert (row.path, row.student_id, row.submission_hash, row.spec_hash) == (
            "/course/s001.yaml", "s001", "a" * 64, "b" * 64,
        )
        assert row.points_earned == result.points_earned == 3.5
        assert row.points_possible == sum(PART_POINTS.values())
        assert row.graded_at.endswith("+00:00") and row.error is None and not row.grader_failed
        parts = {p.part_key: p for p in gradebook.part_rows("fake-sheet")}
        assert list(parts) == ["ex1.a", "ex1.b", "ex2.a"]
        assert parts["ex1.b"].mistakes == ("flipped-kernel",)
        assert parts["ex2.a"].mistakes == ("stride-1", "no-padding")
        assert parts["ex2.a"].fraction == 0.5 and parts["ex2.a"].status == "partial"
        assert parts["ex1.a"].submission_points_earned == 3.5


def test_recording_again_replaces_the_row_and_its_parts(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "gb.sqlite") as gradebook:
        gradebook.record(make_result("s1", {"ex1.a": 0.0, "ex1.b": 0.0}, submission_hash="1"), "p")
        gradebook.record(make_result("s1", {"ex2.a": 1.0}, submission_hash="2"), "p")
        assert gradebook.count() == 1
        assert [p.part_key for p in gradebook.part_rows("fake-sheet")] == ["ex2.a"]
        assert gradebook.has("p", "2", "") and not gradebook.has("p", "1", "")
        # Another sheet's grade of the same file is a separate row.
        gradebook.record(make_result("s1", {"ex1.a": 1.0}, sheet_id="other"), "p")
        assert gradebook.count() == 2 and gradebook.sheet_ids() == ["fake-sheet", "other"]


def test_a_failing_write_leaves_the_previous_grade_whole(tmp_path: Path) -> None:
    path = tmp_path / "gb.sqlite"
    good = make_result("s1", {"ex1.a": 1.0, "ex1.b": 1.0})
    with Gradebook(path) as gradebook:
        gradebook.record(good, "p")
        # Two parts with one key violate the parts table's primary key half-way through the transaction.
        broken = make_result("s1", {"ex1.a": 0.0}).model_copy(
            update={"parts": [make_result("s1", {"ex1.a": 0.0}).parts[0]] * 2}
        )
        with pytest.raises(sqlite3.IntegrityError):
            gradebook.record(broken, "p")
        assert gradebook.result("p", "fake-sheet") == good
        assert len(list(gradebook.part_rows("fake-sheet"))) == 2
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_grader_failures_do_not_count_as_graded(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "gb.sqlite") as gradebook:
        failed = make_result("", {}, error="grader bug", submission_hash="h", spec_hash="s")
        gradebook.record(failed, "p", grader_failed=True)
        assert not gradebook.has("p", "h", "s")
        assert gradebook.graded_keys("s") == {}
        gradebook.record(failed, "p")
        assert gradebook.has("p", "h", "s") and {path: key[:3] for path, key in gradebook.graded_keys("s").items()} == {"p": ("h", None, None)}


def test_a_file_that_is_not_a_gradebook_is_refused_with_its_name(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(GraderError, match="notes.sqlite"):
        Gradebook(bogus)
    with pytest.raises(GraderError, match="does not exist"):
        Gradebook(tmp_path / "missing" / "gb.sqlite")


def test_results_stream_in_path_order_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "gb.sqlite"
    with Gradebook(path) as gradebook:
        for name in ["c", "a", "b"]:
            gradebook.record(make_result(name, {"ex1.a": 1.0}), name)
    with Gradebook(path) as gradebook:
        assert [r.student_id for r in gradebook.results("fake-sheet")] == ["a", "b", "c"]
        stored = json.loads(
            sqlite3.connect(path).execute("SELECT result_json FROM submissions WHERE path='a'").fetchone()[0]
        )
        assert Result.model_validate(stored).student_id == "a"


records = st.lists(
    st.tuples(
        st.sampled_from(["p1", "p2", "p3"]),
        st.dictionaries(st.sampled_from(sorted(PART_POINTS)), st.sampled_from([0.0, 0.5, 1.0]), max_size=3),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=30, deadline=None)
@given(records)
def test_the_gradebook_holds_exactly_the_last_grade_of_each_path(
    tmp_path_factory: pytest.TempPathFactory, sequence: list[tuple[str, dict[str, float]]]
) -> None:
    last: dict[str, Result] = {}
    with Gradebook(tmp_path_factory.mktemp("gb") / "gb.sqlite") as gradebook:
        for index, (path, fractions) in enumerate(sequence):
            result = make_result(f"student{index}", fractions)
            gradebook.record(result, path)
            last[path] = result
        assert gradebook.count() == len(last)
        assert {path: gradebook.result(path, "fake-sheet") for path in last} == last
        expected_parts = sorted((path, p.key) for path, r in last.items() for p in r.parts)
        assert sorted((row.path, row.part_key) for row in gradebook.part_rows("fake-sheet")) == expected_parts


def test_a_gradebook_written_before_owners_were_kept_gains_the_columns(tmp_path: Path) -> None:
    """Columns added later (owner, declared_student; a part's followed) are added when an older gradebook is opened
    for writing; its rows read as credited by their own ids and followed by none, and reading it never needs them."""
    from grader import gradebook as gradebook_module

    path = tmp_path / "old.sqlite"
    old_schema = gradebook_module._SCHEMA.replace("    owner TEXT,\n    declared_student TEXT,\n", "")
    old_schema = old_schema.replace("    followed TEXT,\n", "")
    assert "followed" not in old_schema and "owner" not in old_schema
    with sqlite3.connect(path) as conn:
        conn.executescript(old_schema)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(gradebook_module.SCHEMA_VERSION),))
        old_columns = [c for c in gradebook_module._SUBMISSION_COLUMNS if c not in ("owner", "declared_student")]
        row = gradebook_module.prepare_record(make_result("s1", {"ex1.a": 1.0}, submission_hash="h", spec_hash="s"), "p")
        submission_id = conn.execute(
            f"INSERT INTO submissions ({', '.join(old_columns)}) VALUES ({', '.join('?' * len(old_columns))})",
            row.submission_row[: len(old_columns)],
        ).lastrowid
        old_part_columns = [c for c in gradebook_module._PART_COLUMNS if c != "followed"]
        for part_row in row.part_rows:
            conn.execute(
                f"INSERT INTO parts (submission_id, {', '.join(old_part_columns)}) VALUES (?, {', '.join('?' * len(old_part_columns))})",
                (submission_id, *part_row[: len(old_part_columns)]),
            )
    with Gradebook(path, read_only=True) as gradebook:
        assert [r.student_id for r in gradebook.rows("s")] == ["s1"]
        assert [(p.part_key, p.followed) for p in gradebook.part_rows("s")] == [("ex1.a", None)]
    with Gradebook(path) as gradebook:
        assert {path: key[:3] for path, key in gradebook.graded_keys("s").items()} == {"p": ("h", None, None)}
        gradebook.write(gradebook_module.prepare_record(make_result("s2", {}, submission_hash="h2", spec_hash="s"), "q",
                                                        owner="alice", declared_student="s2"))
        assert gradebook.graded_keys("s")["q"][:3] == ("h2", "alice", "s2")
        followed = make_result("s3", {"ex1.a": 1.0}, submission_hash="h3", spec_hash="s")
        followed = followed.model_copy(update={"parts": [followed.parts[0].model_copy(update={"followed": "earlier"})]})
        gradebook.write(gradebook_module.prepare_record(followed, "r"))
        assert [(p.path, p.followed) for p in gradebook.part_rows("s")] == [("p", None), ("r", "earlier")]
        # for a sheet whose ex1.a follows another part, p's row does not say what it followed: graded again
        assert sorted(gradebook.graded_keys("s", ["ex1.a"])) == ["q", "r"]
        assert sorted(gradebook.graded_keys("s")) == ["p", "q", "r"]
