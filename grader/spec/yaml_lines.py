"""YAML -> plain Python data plus a map from field path to line number, so errors can name the line."""

from __future__ import annotations

import codecs
import json
import math
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from grader.errors import InputFileError

INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
BOOL_TAG = "tag:yaml.org,2002:bool"
STR_TAG = "tag:yaml.org,2002:str"
YAML11_NUMBER_RESOLVERS = (INT_TAG, FLOAT_TAG, "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value")
"""YAML 1.1 resolvers that sheets and answer files do without: octal (``010`` is 8), hexadecimal, base-60
(``1:30`` is 90) and ``1_000`` ints, floats that need a dot (``1e-6`` is text), dates, and ``=``. Their text stays
text, as YAML 1.2 reads it, and :data:`DECIMAL_INT` and :data:`DECIMAL_FLOAT` read numbers instead."""
DECIMAL_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
"""A whole number as people write it: ``017`` is no octal 15 and ``0123`` (a student id) no 83; they stay text."""
DECIMAL_FLOAT = re.compile(
    r"(?:[-+]?(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[0-9]+(?:\.[0-9]*(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+))"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z"
)
"""A number with a dot or an exponent as numpy prints it (``1e-05``, ``9e0``, ``2.5e3``, ``3E5``, ``.5``) and
YAML's ``.inf``/``.nan``; plain digits are left to :data:`DECIMAL_INT`, so ``0123`` is no float either."""
_CORE_BOOL = re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")


def read_float(text: str) -> float:
    """A float scalar of a sheet or an answer file: implicit, :data:`DECIMAL_FLOAT` text; ``!!float``, what
    ``float()`` reads or YAML's ``.inf``/``-.inf``/``.nan``. ValueError for anything else."""
    special = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}.get(text.strip().lower())
    return special if special is not None else float(text)


class SheetLoader(yaml.SafeLoader):
    """PyYAML's safe loader reading scalars as YAML 1.2's core schema does: numbers as :data:`DECIMAL_INT` and
    :data:`DECIMAL_FLOAT` (as answer files read them, so a student who copies a sheet's number writes the same
    number), and only ``true``/``false`` as booleans: ``yes``, ``no``, ``on``, ``off``, ``y`` and ``n`` are text
    (an id, a choice option or an input named ``on`` stays what it says)."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (*YAML11_NUMBER_RESOLVERS, BOOL_TAG)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    yaml_constructors = dict(yaml.SafeLoader.yaml_constructors)

    def construct_decimal_int(self, node: yaml.ScalarNode) -> int:
        """An int: implicit, :data:`DECIMAL_INT` text; ``!!int``, decimal text only (``!!int 010`` is 10, not 8)."""
        try:
            return int(node.value)
        except ValueError:
            raise yaml.constructor.ConstructorError(
                None, None, f"!!int {node.value[:40]!r} is not a decimal whole number", node.start_mark
            ) from None

    def construct_decimal_float(self, node: yaml.ScalarNode) -> float:
        """A float (:func:`read_float`)."""
        try:
            return read_float(str(node.value))
        except ValueError:
            raise yaml.constructor.ConstructorError(
                None, None, f"!!float {str(node.value).strip()[:40]!r} is not a number", node.start_mark
            ) from None

    def construct_core_bool(self, node: yaml.ScalarNode) -> bool:
        """A bool: ``true`` or ``false`` in any of YAML 1.2's three spellings."""
        if _CORE_BOOL.match(str(node.value)):
            return str(node.value).lower() == "true"
        raise yaml.constructor.ConstructorError(None, None, f"!!bool {str(node.value)[:40]!r} is not true or false", node.start_mark)


    def construct_unsupported(self, node: yaml.Node) -> Any:
        """Refuses a tag that builds anything but text, a number, true/false or null (dates, bytes, Python objects,
        an application's own ``!tag``)."""
        raise yaml.constructor.ConstructorError(None, None, _unsupported_tag(node), node.start_mark)


def _unsupported_tag(node: yaml.Node) -> str:
    tag = str(node.tag)
    shown = "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag
    return f"the tag {shown[:60]} is not supported; write text, numbers, true/false, lists and key: value pairs"


_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:str", "tag:yaml.org,2002:null", INT_TAG, FLOAT_TAG, BOOL_TAG})
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


SheetLoader.add_implicit_resolver(BOOL_TAG, _CORE_BOOL, list("tTfF"))
SheetLoader.add_implicit_resolver(INT_TAG, DECIMAL_INT, list("-+0123456789"))
SheetLoader.add_implicit_resolver(FLOAT_TAG, DECIMAL_FLOAT, list("-+.0123456789"))
SheetLoader.add_constructor(INT_TAG, SheetLoader.construct_decimal_int)
SheetLoader.add_constructor(FLOAT_TAG, SheetLoader.construct_decimal_float)
SheetLoader.add_constructor(BOOL_TAG, SheetLoader.construct_core_bool)
for _tag in list(SheetLoader.yaml_constructors):
    if _tag not in _PLAIN_TAGS and _tag not in _COLLECTION_TAGS:
        SheetLoader.add_constructor(_tag, SheetLoader.construct_unsupported)
SheetLoader.add_constructor(None, SheetLoader.construct_unsupported)

MAX_FILE_BYTES = 4 << 20
"""Larger files are refused before parsing: no exercise or answer file needs more, and a hostile one can't hang us."""

Loc = tuple[str | int, ...]


def format_path(loc: Loc) -> str:
    """``("exercises", 2, "parts", 1, "points")`` -> ``exercises[2].parts[1].points``; a key other than letters,
    digits, ``_`` and ``-`` is quoted: ``inputs["my x"]``."""
    text = ""
    for item in loc:
        if isinstance(item, int):
            text += f"[{item}]"
        elif _PLAIN_KEY.fullmatch(str(item)):
            text += f".{item}" if text else str(item)
        else:  # quoted, so that a space, a dot or a line break in a key cannot blur the path; escaped when unprintable
            text += "[" + json.dumps(str(item), ensure_ascii=not str(item).isprintable()) + "]"
    return text


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")
"""A key a path shows as is (``.conv2d``); any other is quoted (``["my x"]``, ``["θ"]``)."""


class LineMap:
    """Line numbers (1-based) of every mapping value and sequence item, by path."""

    def __init__(self, lines: dict[Loc, int]) -> None:
        self._lines = lines

    def line(self, loc: Loc) -> int | None:
        """The line of ``loc`` or of its nearest ancestor that has one."""
        loc = tuple(loc)
        while loc:
            if loc in self._lines:
                return self._lines[loc]
            loc = loc[:-1]
        return self._lines.get((), None)


def _construct(loader: SheetLoader, node: yaml.Node, loc: Loc, lines: dict[Loc, int], depth: int = 0) -> Any:
    lines.setdefault(loc, node.start_mark.line + 1)
    if depth > 200:
        raise InputFileError("nested more than 200 levels deep", line=node.start_mark.line + 1)
    if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:  # ``!!set {a, b}``, ``!!omap``
        raise InputFileError(_unsupported_tag(node), line=node.start_mark.line + 1, path=format_path(loc))
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise InputFileError(
                    "merge keys (<<) are not supported; write the fields out", line=key_node.start_mark.line + 1, path=format_path(loc)
                )
            key = _scalar(loader, key_node, loc) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise InputFileError("mapping keys must be plain names", line=key_node.start_mark.line + 1)
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                raise InputFileError(f"duplicate key {key!r}", line=key_node.start_mark.line + 1, path=format_path(loc))
            child = (*loc, key)
            lines[child] = key_node.start_mark.line + 1
            result[key] = _construct(loader, value_node, child, lines, depth + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, (*loc, i), lines, depth + 1) for i, item in enumerate(node.value)]
    return _scalar(loader, node, loc)


def tab_problem(text: str, mark: yaml.Mark | None) -> str | None:
    """What to say when YAML stopped at a tab (PyYAML: "found character '\\t' that cannot start any token"): YAML
    indents with spaces only. None when it stopped elsewhere."""
    if mark is None or not 0 <= mark.index < len(text) or text[mark.index] != "\t":
        return None
    return f"a tab at column {mark.column + 1}: YAML indents with spaces only; replace the tab with spaces"


_LIST_ITEM_WITHOUT_SPACE = re.compile(r"^\s*-[^\s\-]")


def syntax_hint(text: str, exc: yaml.MarkedYAMLError) -> str:
    """What to do about the YAML slips people make most, to follow PyYAML's words ("; ..."), or "" for others:
    a value holding ``': '`` unquoted, ``-id: a`` without a space, a line indented off its mapping, an unclosed
    ``[`` or ``{`` (PyYAML stops where it noticed, often a line later: the hint names where it opened)."""
    problem, mark, opened = exc.problem or "", exc.problem_mark, exc.context_mark
    if mark is None:
        return ""
    lines = text.splitlines()
    here = lines[mark.line] if mark.line < len(lines) else ""
    if problem.startswith("mapping values are not allowed"):
        for line in (here, lines[mark.line - 1] if 0 < mark.line <= len(lines) else ""):
            if _LIST_ITEM_WITHOUT_SPACE.match(line):
                item = line.strip()
                return f"; a list item needs a space after '-': write '- {item[1:]}', not '{item}'"
        key, colon, value = here.strip().partition(": ")
        value, hash_mark, comment = value.partition(" #")  # a comment after the value stays a comment
        if colon and ": " in value and len(key) <= 40:
            # single quotes: YAML reads everything in them as written, but a ' itself, which is written twice
            value = value.rstrip()
            shown = value.replace("'", "''") if len(value) <= 40 else value[:37].replace("'", "''") + "..."
            after = f"  #{comment}" if hash_mark and len(comment) <= 40 else ""
            return f"; a value holding ': ' must be in quotes: {key}: '{shown}'{after}"
    # PyYAML's words, and libyaml's (answer files are read with its C parser where installed)
    if ("',' or ']'" in problem or "',' or '}'" in problem) and opened is not None:
        bracket = "[" if "']'" in problem else "{"
        return f"; is the '{bracket}' at line {opened.line + 1}, column {opened.column + 1} closed?"
    starts_its_line = not here[: mark.column].strip()  # else the line goes on after a value (a: [1] x), no indent
    if (problem.startswith("expected <block end>") or problem == "did not find expected key") and starts_its_line:
        return (
            f"; is line {mark.line + 1} indented differently from the lines above it? (the keys of one mapping, and "
            "the '-' of one list, start in the same column)"
        )
    return ""


def _scalar(loader: SheetLoader, node: yaml.Node, loc: Loc) -> Any:
    """A scalar (a value or a key) at ``loc``; a tag nothing builds (``!!python/object``, ``!custom``) or ``!!int x``
    is one InputFileError at its line (PyYAML's own message takes four lines)."""
    try:
        return loader.construct_object(node, deep=True)
    except yaml.MarkedYAMLError as exc:
        problem = " ".join((exc.problem or exc.context or "not valid YAML").split())
        raise InputFileError(problem, line=node.start_mark.line + 1, path=format_path(loc)) from None


def read_text(path: Path, what: str, limit: int = MAX_FILE_BYTES) -> str:
    """The text of the file ``what`` (``exercise sheet``, ``roster``) at ``path``, at most ``limit`` bytes; a pipe
    (``<(...)``) is read too. InputFileError when missing, a folder or a device, too large or not UTF-8."""
    try:
        status = path.stat()
        if stat.S_ISDIR(status.st_mode):
            raise InputFileError(f"{what}: expected a file, got a folder", file=path)
        if not (stat.S_ISREG(status.st_mode) or stat.S_ISFIFO(status.st_mode)):  # /dev/zero would never end
            raise InputFileError(f"{what}: expected a file, got a device or socket", file=path)
        if status.st_size > limit:
            raise InputFileError(f"{what}: file is {status.st_size} bytes; the limit is {limit}", file=path)
        with path.open("rb") as handle:
            data = handle.read(limit + 1)  # it may have grown since, or be a pipe
    except FileNotFoundError:
        raise InputFileError(f"{what}: no such file", file=path) from None
    except OSError as exc:
        raise InputFileError(f"{what}: cannot read ({exc.strerror})", file=path) from None
    if len(data) > limit:
        raise InputFileError(f"{what}: file is over the limit of {limit} bytes", file=path)
    return utf8_text(data, path, f"{what}: ")


_BYTE_ORDER_MARKS = (  # UTF-32's first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def utf8_text(data: bytes, path: Path, prefix: str = "") -> str:
    """``data`` decoded as UTF-8; InputFileError naming the line, column and byte where it is not, or saying the
    file was saved as UTF-16 or UTF-32 when it starts with their byte-order mark."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        for mark, encoding in _BYTE_ORDER_MARKS:
            if data.startswith(mark):
                raise InputFileError(
                    f"{prefix}not UTF-8 text: the file was saved as {encoding} (it starts with {encoding}'s byte-order "
                    f"mark {mark.hex(' ').upper()}); save it as UTF-8",
                    file=path, line=1,
                ) from None
        line, column = text_position(data, exc.start)
        raise InputFileError(
            f"{prefix}not UTF-8 text: column {column} has the byte 0x{data[exc.start]:02X} ({data[exc.start]}), which "
            "UTF-8 does not allow there (the file was probably saved as Latin-1 or Windows-1252); save it as UTF-8",
            file=path, line=line,
        ) from None


def text_position(data: bytes, offset: int) -> tuple[int, int]:
    """The 1-based line and column (in characters, as an editor counts them) of byte ``offset`` of ``data``."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def load_yaml_with_lines(text: str, file: Path | str) -> tuple[Any, LineMap]:
    """Parse one YAML document (JSON is YAML too) with :class:`SheetLoader` (YAML 1.2's numbers and booleans);
    return data and its line map.

    Aliases are refused (an exercise never needs them and they enable billion-laughs files).
    """
    check_nesting(text, file)
    try:
        node = yaml.compose(text, Loader=SheetLoader)
    except yaml.reader.ReaderError as exc:  # a control character: PyYAML names only its offset in the text
        raise _forbidden_character(text, exc.position, file) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = tab_problem(text, mark) or (exc.problem or exc.context or "invalid YAML") + syntax_hint(text, exc)
        raise InputFileError(f"not valid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise InputFileError(f"not valid YAML: {exc}", file=file) from None
    except RecursionError:
        raise InputFileError("not valid YAML: nested too deeply", file=file) from None
    if node is None:
        raise InputFileError("the file is empty", file=file)
    _refuse_aliases(text, file)
    lines: dict[Loc, int] = {}
    try:
        data = _construct(SheetLoader(""), node, (), lines)
    except InputFileError as exc:
        raise InputFileError(exc.message, file=file, line=exc.line, path=exc.path) from None
    except yaml.YAMLError as exc:
        raise InputFileError(f"not valid YAML: {exc}", file=file) from None
    except RecursionError:
        raise InputFileError("not valid YAML: nested too deeply", file=file) from None
    return data, LineMap(lines)


def _forbidden_character(text: str, position: int, file: Path | str) -> InputFileError:
    """The error for a character YAML does not allow (a raw BEL ``\\x07`` or ESC ``\\x1b``, often pasted from a
    terminal) at ``position`` of ``text``: its line, column and field, and how to write it instead."""
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    code = ord(text[position])
    kind = "control character" if code < 0x20 or 0x7F <= code <= 0x9F else "character"
    return InputFileError(
        f"column {column} has the {kind} U+{code:04X}, which YAML text may not contain: delete it, or write it as "
        f"the escape \\x{code:02x} inside a double-quoted string" if code <= 0xFF else
        f"column {column} has the {kind} U+{code:04X}, which YAML text may not contain: delete it",
        file=file, line=line, path=_field_at(text, position),
    )


def _field_at(text: str, position: int) -> str | None:
    """The field path of the value that holds character ``position`` of ``text``, found in the text with every
    character YAML refuses blanked out; None when even that text is not valid YAML."""
    blanked = _NOT_YAML_TEXT.sub(" ", text)
    try:
        node = yaml.compose(blanked, Loader=SheetLoader)
    except (yaml.YAMLError, RecursionError):
        return None
    loc: Loc = ()
    while node is not None:
        inside = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.start_mark.index <= position < value_node.end_mark.index:
                    inside = (str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?", value_node)
                    break
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                if item.start_mark.index <= position < item.end_mark.index:
                    inside = (i, item)
                    break
        if inside is None:
            break
        loc, node = (*loc, inside[0]), inside[1]
    return format_path(loc) or None


_NOT_YAML_TEXT = yaml.reader.Reader.NON_PRINTABLE
"""What PyYAML's reader refuses: control characters but tab and line breaks, surrogates, U+FFFE and U+FFFF."""


def _refuse_aliases(text: str, file: Path | str) -> None:
    for event in yaml.parse(text, Loader=SheetLoader):
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else None
            raise InputFileError(
                "YAML aliases (*name) are not allowed in sheets: write the value out at each place (answer files accept them)",
                file=file, line=line,
            )


MAX_NESTING = 64


def check_nesting(text: str, file: Path | str) -> None:
    """Refuse text whose brackets nest deeper than MAX_NESTING, before a recursive parser sees it.

    Quotes are not tracked, so it can only over-count: a legitimate file nests a few levels.
    """
    encoded = text.encode("utf-8", "surrogatepass")
    if sum(encoded.count(opening) for opening in (b"[", b"{")) <= MAX_NESTING:
        return
    codes = np.frombuffer(encoded, dtype=np.uint8)
    at = np.flatnonzero(np.isin(codes, _BRACKET_CODES))  # byte offsets of the brackets, in order
    steps = np.where(np.isin(codes[at], _OPENING_CODES), 1, -1)
    # the depth after each bracket, a closing bracket at depth 0 staying at 0: the running sum less its lowest
    # point so far below 0
    total = np.cumsum(steps)
    depth = total - np.minimum.accumulate(np.minimum(total, 0))
    deeper = np.flatnonzero(depth > MAX_NESTING)
    if deeper.size:
        line = encoded.count(b"\n", 0, int(at[deeper[0]])) + 1
        raise InputFileError(f"brackets nested more than {MAX_NESTING} levels deep", file=file, line=line)


_BRACKET_CODES = np.frombuffer(b"[]{}", dtype=np.uint8)
_OPENING_CODES = np.frombuffer(b"[{", dtype=np.uint8)
