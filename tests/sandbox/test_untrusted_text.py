"""Text a submission controls (exception messages, names, dict keys, its file name, its line breaks) never stops a
submission from being graded, stored and reported."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from grader.cli import app
from grader.sandbox import CaseInput, run_cases

ROOT = Path(__file__).resolve().parents[2]
WEEK7 = ROOT / "exercises" / "week7.yaml"
CORRECT = ROOT / "submissions" / "week7" / "code" / "correct.py"
CORRECT_NOTEBOOK = ROOT / "submissions" / "week7" / "code" / "correct.ipynb"

runner = CliRunner()

# Each defines grad_w (or adjoints) so that a message shown for it carries a lone surrogate the student chose.
SURROGATE_SUBMISSIONS = {
    "s_message.py": 'STUDENT = "s-message"\ndef grad_w(image, w, b, v, target):\n    raise ValueError("lone \\ud800 surrogate")\n',
    "s_defined.py": 'STUDENT = "s-defined"\nglobals()["fn\\udcff"] = lambda: 0\n',
    "s_frame.py": (
        'STUDENT = "s-frame"\ndef _inner():\n    raise ValueError("inner")\n'
        '_inner.__code__ = _inner.__code__.replace(co_name="name\\ud800")\n'
        "def grad_w(image, w, b, v, target):\n    _inner()\n"
    ),
    "s_type.py": (
        'STUDENT = "s-type"\nclass E(Exception): pass\nE.__qualname__ = "E\\ud800"\n'
        'def grad_w(image, w, b, v, target):\n    raise E("x")\n'
    ),
    "s_key.py": 'STUDENT = "s-key"\ndef adjoints(x1, x2, theta):\n    return {"extra\\ud800": 1.0}\n',
    "s_not_function.py": 'STUDENT = "s-not-function"\nclass C: pass\nC.__qualname__ = "C\\ud800"\ngrad_w = C()\n',
}


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_sandbox_messages_never_carry_lone_surrogates(tmp_path: Path) -> None:
    submission = tmp_path / "s_message.py"
    submission.write_text(SURROGATE_SUBMISSIONS["s_message.py"].replace("grad_w(image, w, b, v, target)", "solve(x)"))
    outcome = run_cases(submission, "solve", [CaseInput("c", {"x": np.ones(2)})]).cases[0]
    assert outcome.status == "exception"
    assert _encodable(outcome.message) and "lone \ufffd surrogate" in outcome.message


def test_a_batch_grades_and_stores_submissions_whose_messages_or_name_hold_surrogates(tmp_path: Path) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name, source in SURROGATE_SUBMISSIONS.items():
        (folder / name).write_text(source, encoding="utf-8")
    # An honest file whose name was unpacked with the wrong encoding, with a syntax error to report.
    odd_name = os.fsdecode(b"l\xf6sung.py")
    (folder / odd_name).write_text('STUDENT = "s-odd-name"\ndef grad_w(:\n', encoding="utf-8")
    book = tmp_path / "book.sqlite"

    result = runner.invoke(app, ["batch", str(WEEK7), str(folder), "--jobs", "2", "--gradebook", str(book)])
    assert result.exit_code == 0, result.output
    assert "the grader failed" not in result.output and "grader itself failed" not in result.output

    with sqlite3.connect(book) as connection:
        rows = connection.execute("SELECT student_id, grader_failed, result_json FROM submissions").fetchall()
    assert len(rows) == len(SURROGATE_SUBMISSIONS) + 1
    assert {student for student, _, _ in rows} == {
        "s-message", "s-defined", "s-frame", "s-type", "s-key", "s-not-function", "s-odd-name",
    }
    assert all(failed == 0 for _, failed, _ in rows)
    texts = {student: text for student, _, text in rows}
    assert "\ufffd" in texts["s-message"] or "\\ufffd" in texts["s-message"]
    odd = json.loads(texts["s-odd-name"])
    assert odd["submission"] == "l\ufffdsung.py"
    assert "SyntaxError in l\ufffdsung.py, line 2" in json.dumps(odd, ensure_ascii=False)

    report = runner.invoke(app, ["report", str(WEEK7), "--gradebook", str(book), "--format", "md", "--out-dir", str(tmp_path / "md"), "--csv", str(tmp_path / "grades.csv")])
    assert report.exit_code == 0, report.output


def test_a_notebook_keeps_line_separators_that_python_reads_inside_a_line(tmp_path: Path) -> None:
    """U+2028 (or a form feed) pasted into a comment is not a line break for Python, nor for the grader."""
    notebook = json.loads(CORRECT_NOTEBOOK.read_text(encoding="utf-8"))
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    source = code_cells[-1]["source"]
    lines = source if isinstance(source, list) else source.splitlines(keepends=True)
    code_cells[-1]["source"] = ["# see the lecture notes\u2028(slide 12)\x0c and the book\n", *lines]
    submission = tmp_path / "pasted.ipynb"
    submission.write_text(json.dumps(notebook), encoding="utf-8")

    result = runner.invoke(app, ["grade", str(WEEK7), str(submission), "--format", "json"])
    assert result.exit_code == 0, result.output
    graded = json.loads(result.output)["result"]
    assert graded["error"] is None
    assert graded["points_earned"] == graded["points_possible"] > 0


def test_a_traceback_shows_the_line_python_names_when_a_comment_holds_a_line_separator(tmp_path: Path) -> None:
    submission = tmp_path / "shift.py"
    submission.write_text("# one\u2028two\nx = 1\n\ndef solve(x):\n    raise ValueError('here')\n", encoding="utf-8")
    outcome = run_cases(submission, "solve", [CaseInput("c", {"x": np.ones(1)})]).cases[0]
    assert 'shift.py", line 5, in solve\n    raise ValueError(\'here\')' in outcome.message, outcome.message
