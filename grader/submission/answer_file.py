"""Answer files: ``{student, seed?, answers: {exercise_id: {part_id: value}}}`` in YAML or JSON."""

from __future__ import annotations

import hashlib
import json
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grader.errors import InputFileError
from grader.spec.yaml_lines import MAX_FILE_BYTES, check_nesting, utf8_text
from grader.text import clean_document, may_hold_surrogates

ANSWER_SUFFIXES = (".yaml", ".yml", ".json")
CODE_SUFFIXES = (".py", ".ipynb")

MAX_YAML_ANSWER_BYTES = 1 << 20
"""Larger YAML answer files are refused before parsing: YAML takes about a hundred times a file's size in memory
while it parses (a 4 MiB file needed 470 MB); JSON, a few times, so JSON files may have up to MAX_FILE_BYTES."""


class _AnswerLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader (libyaml's when installed), refusing a key given twice in one mapping: the student meant one
    of the two answers, and the grader will not guess which."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                if key in first_line:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{key!r} is given twice (first on line {first_line[key]}); keep one", key_node.start_mark
                    )
                first_line[key] = key_node.start_mark.line + 1
            except TypeError:  # an unhashable key: the base class refuses it with its own message
                continue
        return super().construct_mapping(node, deep=deep)


@dataclass(frozen=True)
class AnswerFile:
    """A parsed answer file. ``answers`` maps exercise id -> part id -> the raw value as written; ``student`` is
    "" when the file names no student (it is graded all the same)."""

    path: Path
    sha256: str
    student: str
    seed: int | None
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: Path) -> bytes:
    """The submission's bytes (read once, never written); InputFileError when missing or too large."""
    try:
        if path.is_dir():
            raise InputFileError("expected a file, got a folder", file=path)
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):  # a pipe or a device would block or never end
            raise InputFileError("expected a file, got a device, pipe or socket", file=path)
        if status.st_size > MAX_FILE_BYTES:
            raise InputFileError(f"the file is {status.st_size} bytes; the limit is {MAX_FILE_BYTES}", file=path)
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # the file may have grown since
        if len(data) > MAX_FILE_BYTES:
            raise InputFileError(f"the file is over the limit of {MAX_FILE_BYTES} bytes", file=path)
        return data
    except FileNotFoundError:
        raise InputFileError("no such file", file=path) from None
    except OSError as exc:
        raise InputFileError(f"cannot read the file ({exc.strerror})", file=path) from None


def _too_many_digits(text: str, path: Path) -> InputFileError:
    """The error for a whole number too long for Python to read (``sys.get_int_max_str_digits``), at its line."""
    limit = sys.get_int_max_str_digits() or 4300
    found = re.search(rf"\d{{{limit + 1},}}", text)
    line = text.count("\n", 0, found.start()) + 1 if found else None
    return InputFileError(f"a number has more than {limit} digits, far more than any answer needs (numbers go up to about 1.8e308)", file=path, line=line)


def parse_answer_file(path: Path, data: bytes) -> AnswerFile:
    """Parse an answer file's bytes; InputFileError (with the line where known) when it is unusable."""
    text = utf8_text(data, path)
    check_nesting(text, path)
    if path.suffix.lower() == ".json":

        def refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            document = dict(pairs)
            if len(document) != len(pairs):
                keys = [key for key, _ in pairs]
                twice = next(key for key in document if keys.count(key) > 1)
                raise InputFileError(f"{twice!r} is given twice in one object; keep one", file=path)
            return document

        try:
            document = json.loads(text, object_pairs_hook=refuse_duplicates)
        except json.JSONDecodeError as exc:
            raise InputFileError(f"not valid JSON: {exc.msg}", file=path, line=exc.lineno) from None
        except ValueError:  # Python's limit on the digits of an int read from text
            raise _too_many_digits(text, path) from None
        except RecursionError:
            raise InputFileError("not valid JSON: nested too deeply", file=path) from None
    else:
        if len(data) > MAX_YAML_ANSWER_BYTES:
            raise InputFileError(
                f"a YAML answer file may have at most {MAX_YAML_ANSWER_BYTES >> 20} MiB and this one has {len(data)} bytes; "
                "hand in large answers as JSON",
                file=path,
            )
        try:
            document = yaml.load(text, Loader=_AnswerLoader)  # noqa: S506 -- a safe loader
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise InputFileError(
                f"not valid YAML: {exc.problem or exc.context}", file=path, line=mark.line + 1 if mark else None
            ) from None
        except (yaml.YAMLError, RecursionError) as exc:
            raise InputFileError(f"not valid YAML: {exc}", file=path) from None
        except ValueError:  # Python's limit on the digits of an int read from text
            raise _too_many_digits(text, path) from None
    if may_hold_surrogates(text):
        document = clean_document(document)
    return _answer_file(path, data, document)


def _answer_file(path: Path, data: bytes, document: Any) -> AnswerFile:
    if not isinstance(document, dict):
        raise InputFileError(
            "an answer file must be a mapping with 'student' and 'answers' (see `grader template`)", file=path
        )
    unknown = sorted(str(k) for k in document if k not in ("student", "seed", "answers"))
    if unknown:
        raise InputFileError(f"unknown top-level field(s) {', '.join(unknown)}; expected student, seed, answers", file=path)
    student = document.get("student")
    if student is None or (isinstance(student, str) and not student.strip()):
        student = ""  # graded all the same; the report asks for the id (notes.MISSING_STUDENT_NOTE)
    elif not isinstance(student, str | int) or isinstance(student, bool):
        raise InputFileError("'student' must be your student id (text)", file=path, path="student")
    if any(not character.isprintable() for character in str(student).strip()):
        raise InputFileError(
            "'student' must be your student id on one line, without tabs or control characters", file=path, path="student"
        )
    seed = document.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise InputFileError(f"'seed' must be a whole number >= 0 (your variant), got {seed!r}", file=path, path="seed")
    answers = document.get("answers")
    if answers is None:
        answers = {}
    if not isinstance(answers, dict):
        raise InputFileError("'answers' must map exercise ids to {part id: answer}", file=path, path="answers")
    for exercise_id, parts in answers.items():
        if parts is not None and not isinstance(parts, dict):
            raise InputFileError(
                f"answers for exercise {exercise_id!r} must map part ids to answers", file=path, path=f"answers.{exercise_id}"
            )
    normalized = {str(e): {str(p): v for p, v in (parts or {}).items()} for e, parts in answers.items()}
    return AnswerFile(path=path, sha256=file_hash(data), student=str(student).strip(), seed=seed, answers=normalized)
