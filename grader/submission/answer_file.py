"""Answer files: ``{student, seed?, answers: {exercise_id: {part_id: value}}}`` in YAML or JSON.

Numbers are read as written: a float keeps its text (a :class:`~grader.answers.base.WrittenFloat`, so a hint can
tell ``0.440`` from ``0.44``), and in YAML an unquoted number with a minus sign pasted from a PDF or a word
processor (``−6``, ``1e−5``: :data:`~grader.engine.formula.MINUS_SIGNS`) is that number, wherever it stands (a
list entry, a shift), as a number typed with ``-`` would be. Quoted, it stays text, as every quoted number does.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import yaml

from grader.answers.base import WrittenFloat
from grader.engine.formula import MINUS_SIGNS, read_minus_signs
from grader.errors import InputFileError
from grader.spec.yaml_lines import (
    BOOL_TAG,
    DECIMAL_FLOAT,
    DECIMAL_INT,
    FLOAT_TAG,
    INT_TAG,
    MAX_FILE_BYTES,
    STR_TAG,
    YAML11_NUMBER_RESOLVERS,
    Loc,
    read_float,
    syntax_hint,
    tab_problem,
    check_nesting,
    format_path,
    text_position,
    utf8_text,
)
from grader.text import answer_text, clean_document, may_hold_surrogates

ANSWER_SUFFIXES = (".yaml", ".yml", ".json")
CODE_SUFFIXES = (".py", ".ipynb")


def is_code_file(path: PurePath | str) -> bool:
    """Whether a submission at ``path`` is code (a .py file or a notebook, any case), graded in the sandbox."""
    return PurePath(path).suffix.lower() in CODE_SUFFIXES

MAX_NOTEBOOK_BYTES = 32 << 20
"""Largest notebook read: its outputs (plots are base64 images of 50-200 kB each) are ignored, but they make a
course's notebooks far larger than their code; the code itself may be MAX_SOURCE_BYTES (grader.sandbox.runner)."""


def size_limit(path: Path) -> int:
    """The most bytes of a submission like ``path`` that grading reads: MAX_NOTEBOOK_BYTES for a notebook,
    MAX_FILE_BYTES for any other file."""
    return MAX_NOTEBOOK_BYTES if path.suffix.lower() == ".ipynb" else MAX_FILE_BYTES


MAX_YAML_ANSWER_BYTES = 1 << 20
"""Larger YAML answer files are refused before parsing: YAML takes about a hundred times a file's size in memory
while it parses (a 4 MiB file needed 470 MB); JSON, a few times, so JSON files may have up to MAX_FILE_BYTES."""


_MERGE = "tag:yaml.org,2002:merge"
_PASTED_MINUS_TAG = "tag:grader,2024:number-with-pasted-minus"
"""The private tag of an unquoted number written with a pasted minus sign (``−6``): see :data:`PASTED_MINUS_NUMBER`."""
_ANY_SIGN = f"[-+{MINUS_SIGNS}]"
PASTED_MINUS_NUMBER = re.compile(
    f"(?=[^{MINUS_SIGNS}]*[{MINUS_SIGNS}])"  # at least one pasted minus sign
    f"(?:{DECIMAL_INT.pattern.replace('[-+]', _ANY_SIGN)}|{DECIMAL_FLOAT.pattern.replace('[-+]', _ANY_SIGN)})"
)
"""A number as :data:`DECIMAL_INT` or :data:`DECIMAL_FLOAT` read it, with at least one of its signs a pasted minus
sign (``−6``, ``−0.5``, ``1e−5``): the text is a plain number once those are read as ``-``."""
_UNSUPPORTED_TAGS = ("binary", "timestamp", "set", "omap", "pairs")


class _Refusal(yaml.constructor.ConstructorError):
    """Valid YAML that answer files do not accept (a key given twice, a merge key, a tag): its message is the
    student's whole explanation, not prefixed with "not valid YAML"."""


class _KeyTwice(_Refusal):
    """A key given twice in one mapping; ``first_line`` is where it was given first. Its message names the key by
    its whole field path (``answers.ex2.a_set_a``), once the path is known."""

    def __init__(self, key: Any, first_line: int, mark: Any) -> None:
        super().__init__(None, None, f"{_shown(key)} is given twice (first on line {first_line}); keep one", mark)
        self.first_line = first_line


_SafeBase: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_LIBYAML = _SafeBase is not yaml.SafeLoader
"""Whether libyaml parses answer files (it counts a bad character's position in bytes, PyYAML in characters)."""


_PLAIN_SCALAR_TAGS: dict[str, str] = {}
"""Plain scalar text -> its tag in answer files (:meth:`_AnswerLoader.resolve`): texts of at most
:data:`_CACHED_SCALAR_CHARACTERS`, the first :data:`_CACHED_SCALARS` met (a worker's first files hold the ids and
numbers its later ones repeat)."""
_CACHED_SCALAR_CHARACTERS = 12
_CACHED_SCALARS = 4096
_RESOLVE = yaml.resolver.BaseResolver.resolve
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_PLAIN_SCALAR_TAGS_BUILT = frozenset({STR_TAG, INT_TAG, FLOAT_TAG, BOOL_TAG, "tag:yaml.org,2002:null", _PASTED_MINUS_TAG})
"""The scalar tags :meth:`_AnswerLoader.construct_answers` builds itself (with this loader's constructors)."""


class _NotPlain(Exception):
    """An answer file's tree that :meth:`_AnswerLoader.construct_answers` leaves to PyYAML's constructor."""


class _AnswerLoader(_SafeBase):  # type: ignore[misc,valid-type]
    """The safe loader (libyaml's when installed) with YAML 1.2-like numbers (``DECIMAL_INT`` and ``DECIMAL_FLOAT``
    of grader.spec.yaml_lines, as sheets read them), refusing a key given twice in one mapping (the student meant
    one of the two answers, and the grader will not guess which), merge keys, and tags that build anything but
    text, numbers, booleans, lists and mappings. Unlike sheets, answer files keep YAML 1.1's yes/no/on/off
    booleans: a student's ``yes`` is a boolean answer."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in YAML11_NUMBER_RESOLVERS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    yaml_constructors = dict(yaml.SafeLoader.yaml_constructors)

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        """The tag of a node; a short plain scalar's (an id, a key, a small whole number, ``true``) from
        :data:`_PLAIN_SCALAR_TAGS` once resolved: a plain scalar's tag depends on its text alone (this loader has no
        path resolvers), and answer files repeat the same few hundred short ones."""
        if kind is yaml.ScalarNode and implicit[0]:  # a collection's ``implicit`` is one bool
            tag = _PLAIN_SCALAR_TAGS.get(value)
            if tag is None:
                tag = _RESOLVE(self, kind, value, implicit)
                if len(value) <= _CACHED_SCALAR_CHARACTERS and len(_PLAIN_SCALAR_TAGS) < _CACHED_SCALARS:
                    _PLAIN_SCALAR_TAGS[value] = tag
            return tag  # type: ignore[no-any-return]
        return _RESOLVE(self, kind, value, implicit)  # type: ignore[no-any-return]

    def construct_answers(self, root: yaml.Node) -> Any:
        """``construct_document(root)``: built directly when the tree is plain -- no alias, no explicit tag but the
        scalars' own, no key given twice -- as nearly every answer file is; else by PyYAML's constructor, which also
        gives the message of any fault (the order it meets faults in is its own)."""
        try:
            return self._plain(root, set())
        except Exception:  # noqa: BLE001 -- whatever it is, the general path below meets it again and says it
            return self.construct_document(root)

    def _plain(self, node: yaml.Node, met: set[int]) -> Any:
        """The value of a plain tree (:meth:`construct_answers`); _NotPlain otherwise (or the scalar's refusal).
        ``met``: the ids of the nodes met so far (a node met twice is an alias). Leaves the nodes unchanged."""
        if id(node) in met:  # an alias: one object shared (or holding itself), as PyYAML builds it
            raise _NotPlain
        met.add(id(node))
        kind = type(node)
        if kind is yaml.ScalarNode:
            if node.tag not in _PLAIN_SCALAR_TAGS_BUILT:
                raise _NotPlain
            return self.yaml_constructors[node.tag](self, node)
        if kind is yaml.SequenceNode and node.tag == _SEQ_TAG:
            return [self._plain(item, met) for item in node.value]
        if kind is not yaml.MappingNode or node.tag != _MAP_TAG:
            raise _NotPlain
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == BOOL_TAG and type(key_node) is yaml.ScalarNode:  # a key is a name, as construct_mapping reads it
                if id(key_node) in met:  # the node is left as it is: PyYAML may yet build it, as a value too
                    raise _NotPlain
                met.add(id(key_node))
                key = self.construct_scalar(key_node)
            else:
                key = self._plain(key_node, met)
            if key in mapping:
                raise _NotPlain
            mapping[key] = self._plain(value_node, met)
        return mapping

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):  # ``!!map [1, 2]``: a tag that asks for a mapping on a list
            raise _Refusal(None, None, "the tag !!map needs key: value pairs here", node.start_mark)
        first_line: dict[Any, int] = {}
        for key_node, _value_node in node.value:
            if key_node.tag == BOOL_TAG and isinstance(key_node, yaml.ScalarNode):
                # a key is a name: an exercise or part whose id is yes/no/on/off/true/false is that text, not a bool
                key_node.tag = STR_TAG
            if key_node.tag == _MERGE:
                raise _Refusal(
                    None, None, "merge keys (<<) are not supported in answer files; write each answer out", key_node.start_mark
                )
            key = self.construct_object(key_node, deep=True)
            try:
                if key in first_line:
                    raise _KeyTwice(key, first_line[key], key_node.start_mark)
                first_line[key] = key_node.start_mark.line + 1
            except TypeError:  # an unhashable key: the base class refuses it with its own message
                continue
        return super().construct_mapping(node, deep=deep)

    def construct_decimal_int(self, node: yaml.Node) -> int:
        """An int (implicit: ``DECIMAL_INT`` text; ``!!int``: decimal text only)."""
        value = node.value
        try:
            return int(value)
        except (TypeError, ValueError):
            if isinstance(value, str) and len(value) > (sys.get_int_max_str_digits() or 4300) and value.isascii():
                raise _TooManyDigits from None  # Python's limit on the digits of an int read from text
            raise _Refusal(None, None, f"!!int {_node_text(node)} is not a decimal whole number", node.start_mark) from None

    def construct_decimal_float(self, node: yaml.Node) -> float:
        """A float (implicit: ``DECIMAL_FLOAT`` text; ``!!float``: whatever ``float()`` or YAML reads), keeping its
        text (a :class:`WrittenFloat`) when it is finite."""
        text = str(node.value)
        try:
            value = read_float(text)
        except ValueError:
            raise _Refusal(None, None, f"!!float {_node_text(node)} is not a number", node.start_mark) from None
        return WrittenFloat(value, text.strip()) if math.isfinite(value) else value

    def construct_pasted_minus_number(self, node: yaml.Node) -> int | float:
        """An unquoted number written with a pasted minus sign (:data:`PASTED_MINUS_NUMBER`), read as the number
        written with ``-``, as a YAML int or float."""
        text = str(node.value)
        if not isinstance(node, yaml.ScalarNode) or not PASTED_MINUS_NUMBER.match(text):
            raise _Refusal(None, None, f"{_node_text(node)} is not a number", node.start_mark)
        plain = read_minus_signs(text)
        tag = INT_TAG if DECIMAL_INT.match(plain) else FLOAT_TAG
        number = yaml.ScalarNode(tag, plain, node.start_mark, node.end_mark)
        return self.construct_decimal_int(number) if tag == INT_TAG else self.construct_decimal_float(number)

    def construct_checked_bool(self, node: yaml.Node) -> bool:
        """A bool (implicit: YAML 1.1's yes/no/true/false/on/off; ``!!bool``: those words only)."""
        value = node.value
        if isinstance(value, str) and value.lower() in self.bool_values:
            return self.bool_values[value.lower()]
        raise _Refusal(None, None, f"!!bool {_node_text(node)} is not yes/no/true/false", node.start_mark)

    def construct_unsupported(self, node: yaml.Node) -> Any:
        """Refuses a tag that builds something no answer is (dates, bytes, sets) or that YAML cannot build."""
        tag = str(node.tag)
        shown = "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag
        raise _Refusal(
            None, None,
            f"the tag {answer_text(shown, 40)} is not supported in answer files; write the answer as text, a number or a list",
            node.start_mark,
        )


_AnswerLoader.add_implicit_resolver(INT_TAG, DECIMAL_INT, list("-+0123456789"))
_AnswerLoader.add_implicit_resolver(FLOAT_TAG, DECIMAL_FLOAT, list("-+.0123456789"))
_AnswerLoader.add_constructor(INT_TAG, _AnswerLoader.construct_decimal_int)
_AnswerLoader.add_constructor(FLOAT_TAG, _AnswerLoader.construct_decimal_float)
_AnswerLoader.add_constructor(BOOL_TAG, _AnswerLoader.construct_checked_bool)
_AnswerLoader.add_implicit_resolver(_PASTED_MINUS_TAG, PASTED_MINUS_NUMBER, list(f"{MINUS_SIGNS}+.0123456789"))
_AnswerLoader.add_constructor(_PASTED_MINUS_TAG, _AnswerLoader.construct_pasted_minus_number)
for _tag in _UNSUPPORTED_TAGS:
    _AnswerLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _AnswerLoader.construct_unsupported)
_AnswerLoader.add_constructor(None, _AnswerLoader.construct_unsupported)


def _json_float(text: str) -> float:
    """A JSON number with a fraction or an exponent, keeping its text when it is finite (``1e400`` is inf)."""
    value = float(text)
    return WrittenFloat(value, text) if math.isfinite(value) else value


def _node_text(node: yaml.Node) -> str:
    """A node's text for a message: a scalar's as written (at most 40 characters), else what kind it is."""
    if isinstance(node, yaml.ScalarNode):
        return f"'{answer_text(node.value, 40)}'"
    return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"


def _shown(value: Any) -> str:
    """A value the student wrote, for a message: quoted text or a number, at most about 40 characters."""
    text = answer_text(value, 40)
    return f"'{text}'" if isinstance(value, str) else text


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
        limit = size_limit(path)
        if status.st_size > limit:
            raise InputFileError(f"the file is {status.st_size} bytes; the limit is {limit}", file=path)
        with path.open("rb") as handle:
            data = handle.read(limit + 1)  # the file may have grown since
        if len(data) > limit:
            raise InputFileError(f"the file is over the limit of {limit} bytes", file=path)
        return data
    except FileNotFoundError:
        raise InputFileError("no such file", file=path) from None
    except OSError as exc:
        raise InputFileError(f"cannot read the file ({exc.strerror})", file=path) from None


class _TooManyDigits(Exception):
    """A whole number in the YAML has more digits than Python reads from text (``sys.get_int_max_str_digits``)."""


def _too_many_digits(text: str, path: Path) -> InputFileError:
    """The error for a whole number too long for Python to read (``sys.get_int_max_str_digits``), at its line."""
    limit = sys.get_int_max_str_digits() or 4300
    found = re.search(rf"\d{{{limit + 1},}}", text)
    line = text.count("\n", 0, found.start()) + 1 if found else None
    return InputFileError(f"a number has more than {limit} digits, far more than any answer needs (numbers go up to about 1.8e308)", file=path, line=line)


def _one_line(text: str) -> str:
    """A parser's message on one line (libyaml's span several)."""
    return " ".join(str(text).split())


def _saved_as_utf16(data: bytes) -> bool:
    """Whether ``data`` looks like UTF-16 without a byte-order mark: mostly text with a NUL byte after or before
    every character (a file of ASCII text saved as UTF-16 decodes as "valid" UTF-8 full of NULs)."""
    return len(data) >= 4 and max(data[0::2].count(0), data[1::2].count(0)) * 4 >= len(data)


def _reader_error(exc: yaml.reader.ReaderError, text: str, data: bytes, path: Path) -> InputFileError:
    """A character YAML does not allow (a control character, NUL), at its line and column: libyaml gives only
    an offset (in bytes of the UTF-8 text; PyYAML's own reader counts characters)."""
    if _saved_as_utf16(data):
        return InputFileError("not UTF-8 text: the file was saved as UTF-16 (every other byte is 0); save it as UTF-8", file=path, line=1)
    offset = int(exc.position)
    encoded = text.encode("utf-8", errors="surrogatepass")
    if not _LIBYAML:  # PyYAML's own reader: an index in characters
        offset = len(text[:offset].encode("utf-8", errors="surrogatepass"))
    line, column = text_position(encoded, min(offset, len(encoded)))
    code = exc.character if isinstance(exc.character, int) else ord(exc.character) if exc.character else None
    name = f"the control character U+{code:04X}" if code is not None else "a character"
    return InputFileError(
        f"not valid YAML: column {column} has {name}, which YAML does not allow; delete it", file=path, line=line
    )


def _field_at(root: yaml.Node, mark: Any) -> str | None:
    """The field path (``answers.ex3.b_pool``) of the node of ``root``'s graph that starts at ``mark``; None when
    none does. Each node is visited once, so aliases cost nothing (called only for a message)."""
    if mark is None:
        return None
    where = (mark.line, mark.column)
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, Loc]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                name = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                if (key_node.start_mark.line, key_node.start_mark.column) == where:
                    return format_path(loc if key_node.tag == _MERGE else (*loc, name)) or None
                stack.append((value_node, (*loc, name)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*loc, index)) for index, item in enumerate(node.value))
        if node is not root and (node.start_mark.line, node.start_mark.column) == where:
            return format_path(loc) or None
    return None


class _Places:
    """Lines of an answer file's fields, looked up only when a message needs one: from the YAML nodes, or for
    JSON where the field's key is written exactly once in the text."""

    def __init__(self, text: str, root: yaml.Node | None) -> None:
        self._text = text
        self.root = root
        """The YAML document's node (None for JSON)."""

    def line(self, *keys: str) -> int | None:
        """The line of the key ``keys`` leads to, or of the nearest of its ancestors that has one."""
        if isinstance(self.root, yaml.MappingNode):
            node: yaml.Node = self.root
            line = None
            for key in keys:
                if not isinstance(node, yaml.MappingNode):
                    break
                found = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
                if found is None:
                    break
                line, node = found[0].start_mark.line + 1, found[1]
            return line
        for key in reversed(keys):
            written = re.compile(re.escape(json.dumps(key)) + r"\s*:")
            hits = [hit.start() for _, hit in zip(range(2), written.finditer(self._text))]
            if len(hits) == 1:
                return self._text.count("\n", 0, hits[0]) + 1
        return None


def parse_answer_file(path: Path, data: bytes) -> AnswerFile:
    """Parse an answer file's bytes; InputFileError (with the line where known) when it is unusable."""
    text = utf8_text(data, path).removeprefix("\ufeff")  # a byte-order mark some Windows editors write
    check_nesting(text, path)
    root: yaml.Node | None = None
    if path.suffix.lower() == ".json":

        def refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            document = dict(pairs)
            if len(document) != len(pairs):
                keys = [key for key, _ in pairs]
                twice = next(key for key in document if keys.count(key) > 1)
                raise InputFileError(f"{_shown(twice)} is given twice in one object; keep one", file=path)
            return document

        try:
            document = json.loads(text, object_pairs_hook=refuse_duplicates, parse_float=_json_float)
        except json.JSONDecodeError as exc:
            if _saved_as_utf16(data):
                raise InputFileError("not UTF-8 text: the file was saved as UTF-16 (every other byte is 0); save it as UTF-8", file=path, line=1) from None
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
        loader = None
        try:
            loader = _AnswerLoader(text)  # PyYAML's own reader checks the characters here already
            root = loader.get_single_node()
            document = loader.construct_answers(root) if root is not None else None
        except yaml.reader.ReaderError as exc:  # no MarkedYAMLError: an offset, no line
            raise _reader_error(exc, text, data, path) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = tab_problem(text, mark) or _one_line(exc.problem or exc.context or "") + syntax_hint(text, exc)
            field_path = _field_at(root, mark) if root is not None else None
            if isinstance(exc, _KeyTwice) and field_path:  # the key's path is the message's subject
                message, field_path = f"{field_path} is given twice (first on line {exc.first_line}); keep one", None
            raise InputFileError(
                message if isinstance(exc, _Refusal) else f"not valid YAML: {message}",
                file=path, line=mark.line + 1 if mark else None, path=field_path,
            ) from None
        except yaml.YAMLError as exc:
            raise InputFileError(f"not valid YAML: {_one_line(str(exc))}", file=path) from None
        except RecursionError:
            raise InputFileError("not valid YAML: nested too deeply", file=path) from None
        except _TooManyDigits:
            raise _too_many_digits(text, path) from None
        except ValueError as exc:  # a constructor's own refusal (e.g. a tag on the wrong kind of node)
            raise InputFileError(f"not valid YAML: {_one_line(str(exc))}", file=path) from None
        finally:
            if loader is not None:
                loader.dispose()
    if may_hold_surrogates(text):
        document = clean_document(document)
    return _answer_file(path, data, document, _Places(text, root))


MAX_STUDENT_ID_LENGTH = 200
"""Longest student id read (characters): ids are short; a longer one is a mistake and would fill every report."""
_DECIMAL_SEED = re.compile(r"\s*\+?[0-9]{1,19}\s*")


def _student(document: dict[Any, Any], path: Path, places: _Places) -> str:
    """The student id as written: text; a number as its text (``0123`` is not 123, ``1e5`` not 100000.0)."""
    student = document.get("student")
    if student is None or (isinstance(student, str) and not student.strip()):
        return ""  # graded all the same; the report asks for the id (notes.MISSING_STUDENT_NOTE)
    root = places.root
    if isinstance(student, int | float) and not isinstance(student, bool) and isinstance(root, yaml.MappingNode):
        written = (
            value.value for key, value in root.value
            if isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode) and key.value == "student"
        )
        student = next(written, student)
    problem = None
    if isinstance(student, bool) or not isinstance(student, str | int):
        problem = "'student' must be your student id (text)"
    else:
        student = str(student).strip()
        if len(student) > MAX_STUDENT_ID_LENGTH:
            problem = (
                f"'student' is {len(student)} characters long; a student id has at most {MAX_STUDENT_ID_LENGTH} "
                "(write just your id, e.g. s123456)"
            )
        elif not student.isprintable():
            problem = "'student' must be your student id on one line, without tabs or control characters"
    if problem is not None:
        raise InputFileError(problem, file=path, line=places.line("student"), path="student")
    return student


_STUDENT_LINE = re.compile(r"""^student:[ \t]*(?:'([^'\n]*)'|"([^"\n]*)"|([^'"#\s][^#\n]*?))[ \t]*(?:#[^\n]*)?$""", re.MULTILINE)
_STUDENT_MEMBER = re.compile(r'"student"\s*:\s*"([^"\\\n]*)"')
_SALVAGED_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}")


def salvaged_student(data: bytes, suffix: str) -> str:
    """The student id of an answer file that could not be read, when its text names one plainly, else ``""``: one
    ``student:`` line at the start of a line (YAML) or one ``"student": "..."`` member (JSON), whose id is letters,
    digits and ``. _ @ + -`` (so a grade of 0 for a broken file still reaches its student's row). Never raises."""
    text = data[: 1 << 16].decode("utf-8", errors="replace").removeprefix("\ufeff")
    if suffix.lower() == ".json":
        found = [match.group(1) for match in _STUDENT_MEMBER.finditer(text)]
    else:
        found = [next(group for group in match.groups() if group is not None) for match in _STUDENT_LINE.finditer(text)]
    if len(found) != 1:
        return ""
    student = found[0].strip()
    return student if _SALVAGED_ID.fullmatch(student) else ""


MAX_SEED = 2**63 - 1
"""The largest variant seed (a signed 64-bit integer, as JSON readers and the gradebook keep it)."""


def decimal_seed(text: str) -> int | None:
    """A variant seed written as text, as answer files take it: decimal digits, an optional ``+`` and spaces around
    (``'17'``, ``017``, ``+17``), at most :data:`MAX_SEED`; None for anything else."""
    if not _DECIMAL_SEED.fullmatch(text):
        return None
    seed = int(text)
    return seed if seed <= MAX_SEED else None


def _seed(document: dict[Any, Any], path: Path, places: _Places) -> int | None:
    """The variant the file names: a whole number >= 0, also as text of decimal digits (``'17'``, ``017``)."""
    seed = document.get("seed")
    if seed is None:
        return None
    if isinstance(seed, str) and _DECIMAL_SEED.fullmatch(seed):
        seed = int(seed)
    if isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= MAX_SEED:
        return seed
    if isinstance(seed, str):
        got = f"the text {_shown(seed)}"
    elif isinstance(seed, int) and not isinstance(seed, bool) and seed.bit_length() > 64:
        got = f"a whole number of {'about ' if seed.bit_length() > 14_000 else ''}{_digits(seed)} digits"
    else:
        got = _shown(seed)
    raise InputFileError(
        f"'seed' must be a whole number >= 0 (your variant, as `grader sheet --seed` printed it), got {got}",
        file=path, line=places.line("seed"), path="seed",
    )


def _digits(value: int) -> int:
    """How many decimal digits ``value`` has (estimated beyond 14,000 bits, where ``str`` would be slow or refused)."""
    return len(str(abs(value))) if value.bit_length() <= 14_000 else int(value.bit_length() * 0.30103) + 1


def _answer_file(path: Path, data: bytes, document: Any, places: _Places) -> AnswerFile:
    if not isinstance(document, dict):
        raise InputFileError(
            "an answer file must be a mapping with 'student' and 'answers' (see `grader template`)", file=path
        )
    unknown = [key for key in document if key not in ("student", "seed", "answers")]
    if unknown:
        shown = ", ".join(answer_text(str(key), 40) for key in unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        raise InputFileError(
            f"unknown top-level field(s) {shown}; expected student, seed, answers",
            file=path, line=places.line(str(unknown[0])),
        )
    student = _student(document, path, places)
    seed = _seed(document, path, places)
    answers = document.get("answers")
    if answers is None:
        answers = {}
    if not isinstance(answers, dict):
        raise InputFileError(
            "'answers' must map exercise ids to {part id: answer}", file=path, line=places.line("answers"), path="answers"
        )
    for exercise_id, parts in answers.items():
        if parts is not None and not isinstance(parts, dict):
            shown = answer_text(str(exercise_id), 40)
            raise InputFileError(
                f"answers for exercise '{shown}' must map part ids to answers",
                file=path, line=places.line("answers", str(exercise_id)), path=f"answers.{shown}",
            )
    normalized = {str(e): {str(p): v for p, v in (parts or {}).items()} for e, parts in answers.items()}
    return AnswerFile(path=path, sha256=file_hash(data), student=student, seed=seed, answers=normalized)
