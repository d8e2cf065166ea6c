"""Batch grading on a Dask distributed cluster (a LocalCluster of two worker processes)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from grader.batch import run_batch
from grader.errors import GraderError
from grader.gradebook import Gradebook
from tests.batch.helpers import fake_grade, make_fake_cohort, write_fake_spec, write_fake_submission

distributed = pytest.importorskip("distributed", reason="the optional dependency 'distributed' is not installed")


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local_cluster:
        yield local_cluster


@pytest.mark.slow
def test_a_cohort_graded_on_a_cluster_lands_in_the_gradebook_exactly_once(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = write_fake_spec(tmp_path)
    folder = tmp_path / "submissions"
    paths = make_fake_cohort(folder, 50)
    write_fake_submission(folder / "zz-buggy.json", "bug", {}, crash=True)
    gradebook_path = tmp_path / "gb.sqlite"

    summary = run_batch(
        spec, folder, executor="dask", scheduler=cluster.scheduler_address, gradebook_path=gradebook_path,
        progress=False, grade_fn=fake_grade, chunk_size=4,
    )
    assert (summary.graded, summary.failed, summary.grader_failures) == (51, 1, 1)
    with Gradebook(gradebook_path) as gradebook:
        rows = {row.path: row for row in gradebook.rows()}
        assert sorted(rows) == sorted(str(p.resolve()) for p in [*paths, folder / "zz-buggy.json"])
        for path in paths:
            stored = gradebook.result(str(path.resolve()), "fake-sheet")
            assert stored == fake_grade(spec, path)  # the worker saw the same bytes and the same file name

    again = run_batch(
        spec, folder, executor="dask", scheduler=cluster.scheduler_address, gradebook_path=gradebook_path,
        progress=False, grade_fn=fake_grade,
    )
    assert (again.graded, again.skipped) == (1, 50)  # only the grader failure is tried again


def test_an_unreachable_scheduler_is_a_grader_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("grader.batch.DASK_CONNECT_SECONDS", 1.0)
    spec = write_fake_spec(tmp_path)
    make_fake_cohort(tmp_path / "s", 1)
    with pytest.raises(GraderError, match="tcp://127.0.0.1:9"):
        run_batch(
            spec, tmp_path / "s", executor="dask", scheduler="tcp://127.0.0.1:9", gradebook_path=tmp_path / "gb.sqlite",
            progress=False, grade_fn=fake_grade,
        )


@pytest.mark.slow
def test_messages_name_the_submission_not_the_workers_temporary_copy(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from grader.grading import grade_file

    spec = Path(__file__).resolve().parents[2] / "exercises" / "week7.yaml"
    folder = tmp_path / "submissions"
    folder.mkdir()
    broken = folder / "broken.yaml"
    broken.write_text("student: s1\nseed: 3\nanswers:\n  ex1.a: [1, 2\n")
    summary = run_batch(
        spec, folder, executor="dask", scheduler=cluster.scheduler_address, gradebook_path=tmp_path / "gb.sqlite",
        progress=False, grade_fn=grade_file,
    )
    [result] = list(summary.results())
    # The student's Result names the file only: neither the worker's copy nor the instructor's folder.
    assert result.error is not None and result.error.startswith("broken.yaml:5:"), result.error
    assert "grader-submission" not in result.model_dump_json()
    assert str(folder) not in result.model_dump_json()


@pytest.mark.slow
def test_the_student_the_folder_names_travels_with_the_task(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from grader.grading import grade_file

    root = Path(__file__).resolve().parents[2]
    folder = tmp_path / "submissions"
    (folder / "alice").mkdir(parents=True)
    shutil.copy(root / "submissions" / "week7" / "correct.yaml", folder / "alice" / "answers.yaml")  # says s-correct
    summary = run_batch(
        root / "exercises" / "week7.yaml", folder, executor="dask", scheduler=cluster.scheduler_address,
        gradebook_path=tmp_path / "gb.sqlite", progress=False, grade_fn=grade_file, student_from="^([^/]+)/",
    )
    [result] = list(summary.results())
    assert result.student_id == "alice" and result.points_earned == result.points_possible
    assert [(declared, owner) for _, declared, owner in summary.reassigned] == [("s-correct", "alice")]


@pytest.mark.slow
def test_a_file_over_the_size_limit_is_refused_with_its_own_size(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Only the bytes grading reads travel to the worker (the limit plus one); the message still gives the file's
    size, as a local batch does (it had given the limit plus one)."""
    from grader.grading import grade_file
    from grader.submission.answer_file import MAX_FILE_BYTES

    folder = tmp_path / "submissions"
    folder.mkdir()
    big = folder / "big.yaml"
    big.write_bytes(b"student: s1\nanswers: {}\n" + b"#" * 100)
    size = MAX_FILE_BYTES + 12345
    os.truncate(big, size)
    summary = run_batch(
        Path(__file__).resolve().parents[2] / "exercises" / "week7.yaml", folder, executor="dask",
        scheduler=cluster.scheduler_address, gradebook_path=tmp_path / "gb.sqlite", progress=False, grade_fn=grade_file,
    )
    [result] = list(summary.results())
    assert result.error == f"big.yaml: the file is {size} bytes; the limit is {MAX_FILE_BYTES}", result.error


@pytest.mark.slow
def test_files_gone_before_their_chunk_is_sent_are_graded_0_and_the_batch_goes_on(  # type: ignore[no-untyped-def]
    cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent reads each file when its chunk is sent; a file deleted since it was hashed (an LMS sync) stopped
    the whole batch with an internal error. Now it scores 0 with the reason, as with local workers, also when its
    whole chunk is gone, and the next run grades it again once it is back."""
    import grader.batch as batch_module

    spec = write_fake_spec(tmp_path)
    folder = tmp_path / "submissions"
    paths = make_fake_cohort(folder, 10)
    gone = {paths[5], paths[8], paths[9]}  # chunks of 4: one of the second, all of the third
    saved = tmp_path / "saved"
    saved.mkdir()
    hash_of = batch_module.file_sha256

    def hash_then_lose(path: Path) -> str:
        digest = hash_of(path)
        if path in gone:
            shutil.move(path, saved / path.name)
        return digest

    monkeypatch.setattr(batch_module, "file_sha256", hash_then_lose)
    gradebook_path = tmp_path / "gb.sqlite"
    summary = run_batch(
        spec, folder, executor="dask", scheduler=cluster.scheduler_address, gradebook_path=gradebook_path,
        progress=False, grade_fn=fake_grade, chunk_size=4,
    )
    assert (summary.graded, summary.failed, summary.grader_failures) == (10, 3, 0)
    assert sorted(path for path, _ in summary.unreadable) == sorted(str(p.resolve()) for p in gone)
    assert all("the file could not be read (No such file or directory)" in why for _, why in summary.unreadable)
    monkeypatch.setattr(batch_module, "file_sha256", hash_of)
    for path in gone:
        shutil.move(saved / path.name, path)
    again = run_batch(
        spec, folder, executor="dask", scheduler=cluster.scheduler_address, gradebook_path=gradebook_path,
        progress=False, grade_fn=fake_grade, chunk_size=4,
    )
    assert (again.graded, again.failed, again.skipped) == (3, 0, 7)


@pytest.mark.slow
def test_a_roster_travels_to_the_cluster(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """With ``roster``, each answer file is graded on the cluster's workers against the variant the roster gives its
    student (here the folder's, by ``student_from``), as on one machine."""
    from grader.roster import load_roster

    root = Path(__file__).resolve().parents[2]
    answers = (root / "submissions" / "week7" / "correct-seed-17.yaml").read_text(encoding="utf-8")
    for student in ("ada", "alan"):
        (tmp_path / "subs" / student).mkdir(parents=True)
        (tmp_path / "subs" / student / "answers.yaml").write_text(answers, encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text("student,seed\nada,17\nalan,5\n", encoding="utf-8")
    summary = run_batch(
        root / "exercises" / "week7.yaml", tmp_path / "subs", executor="dask", scheduler=cluster.scheduler_address,
        gradebook_path=tmp_path / "gb.sqlite", progress=False, student_from="^([^/]+)/", roster=load_roster(roster),
    )
    assert (summary.graded, summary.failed) == (2, 0)
    with Gradebook(tmp_path / "gb.sqlite") as gradebook:
        scores = {row.student_id: (row.seed, row.score) for row in gradebook.rows()}
    assert scores["ada"] == (17, 1.0) and scores["alan"][0] == 5 and scores["alan"][1] < 0.5
