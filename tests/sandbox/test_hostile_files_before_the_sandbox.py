"""Code files that attack the grader's own process before the sandbox runs anything: a notebook nested deep
enough to exhaust a recursive walk, a ``# coding:`` line naming a codec that refuses or takes quadratic time, a
sparse file of gigabytes in a batch; and notebooks whose STUDENT line the grader must read as the sandbox runs the
cells (a byte-order mark, a STUDENT line in a ``%%bash`` cell). Each is graded, with its reason, never a crash."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app

ROOT = Path(__file__).resolve().parents[2]
WEEK7 = ROOT / "exercises" / "week7.yaml"
CORRECT_NOTEBOOK = ROOT / "submissions" / "week7" / "code" / "correct.ipynb"

runner = CliRunner()


def _graded(path: Path) -> dict:
    run = runner.invoke(app, ["grade", str(WEEK7), str(path), "--format", "json"])
    assert run.exit_code == 0, run.output
    assert "Traceback" not in run.output and "internal error" not in run.output, run.output
    return json.loads(run.stdout)["result"]


def test_a_notebook_nested_deeper_than_the_recursion_limit_is_graded(tmp_path: Path) -> None:
    # "\u0041" makes the notebook's strings go through the surrogate cleaning; 900 levels pass json.loads
    nested = "[" * 900 + "]" * 900
    path = tmp_path / "deep.ipynb"
    path.write_text(
        '{"cells": [{"cell_type": "code", "source": "STUDENT = \\"nb900\\"\\n\\u0041 = 1\\n"}], "metadata": ' + nested + "}",
        encoding="utf-8",
    )
    result = _graded(path)
    assert result["student_id"] == "nb900"
    assert result["points_earned"] == 0 and all(part["status"] == "missing" for part in result["parts"])  # it defines no function


@pytest.mark.parametrize("codec", ["undefined", "punycode", "idna"])
def test_a_coding_line_naming_no_text_encoding_is_the_files_fault(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "coded.py"
    path.write_bytes(f"# coding: {codec}\nSTUDENT = 's-coded'\n-".encode() + b"a" * 200_000)
    started = time.monotonic()
    result = _graded(path)
    assert time.monotonic() - started < 60  # punycode alone took about 2 s here for 200 kB, growing quadratically
    feedback = " ".join(part["feedback"] for part in result["parts"])
    assert f"coded.py: its '# coding: {codec}' line names no encoding of text files" in feedback


def test_a_sparse_file_of_gigabytes_is_refused_without_being_read(tmp_path: Path) -> None:
    folder = tmp_path / "cohort"
    folder.mkdir()
    sparse = folder / "sparse.py"
    with sparse.open("wb") as handle:
        handle.truncate(64 << 30)  # 64 GiB of holes: reading them all would take minutes
    gradebook = tmp_path / "gradebook.sqlite"
    run = runner.invoke(app, ["batch", str(WEEK7), str(folder), "--gradebook", str(gradebook), "--jobs", "1"])
    assert run.exit_code in (0, 1), run.output
    assert f"the file is {64 << 30} bytes; the limit is" in run.output
    with sqlite3.connect(gradebook) as connection:
        assert connection.execute("select count(*) from submissions").fetchone()[0] == 1
    assert os.stat(sparse).st_size == 64 << 30  # untouched


def _notebook(tmp_path: Path, name: str, cells: list[dict], *, bom: bool = False) -> Path:
    document = json.loads(CORRECT_NOTEBOOK.read_text(encoding="utf-8"))
    for cell in document["cells"]:  # the sample's own STUDENT line goes; the cells given bring theirs
        cell["source"] = [line for line in cell["source"] if not line.startswith("STUDENT")]
    document["cells"] += cells
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + json.dumps(document).encode())
    return path


def _code_cell(source: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source}


def test_a_notebook_with_a_byte_order_mark_is_credited_to_its_student(tmp_path: Path) -> None:
    path = _notebook(tmp_path, "bom.ipynb", [_code_cell('STUDENT = "bom-student"\n')], bom=True)
    result = _graded(path)
    assert result["student_id"] == "bom-student" and result["points_earned"] == result["points_possible"]


def test_a_student_line_in_a_cell_python_does_not_run_is_not_the_id(tmp_path: Path) -> None:
    cells = [_code_cell('STUDENT = "real"\n'), _code_cell("%%bash\nSTUDENT='other'\necho $STUDENT\n")]
    result = _graded(_notebook(tmp_path, "magic.ipynb", cells))
    assert result["student_id"] == "real"


def test_the_sandbox_s_dev_is_read_only() -> None:
    """/dev is bubblewrap's own tmpfs, writable by the sandbox's user when the grader is not root: it is remounted
    read-only right after it is made, so files (and their count) stay in the private /tmp. (As root the child's own
    uid cannot write there anyway; the hostile sample dev_files.py checks what a child can do.)"""
    from grader.sandbox import layers

    try:
        command = layers.bwrap_command(Path(layers.__file__).resolve().parent, 1 << 20)
    except FileNotFoundError:
        pytest.skip("bubblewrap is not installed")
    made = command.index("--dev")
    assert command[made + 1] == "/dev" and command[made + 2 : made + 4] == ["--remount-ro", "/dev"]
    assert not any(argument.startswith("/dev/") for argument in command[made + 4 :])  # nothing mounted below it later
