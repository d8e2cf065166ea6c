"""YAML -> plain Python data plus a map from field path to line number, so errors can name the line."""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any

import yaml

from grader.errors import InputFileError

MAX_FILE_BYTES = 4 << 20
"""Larger files are refused before parsing: no exercise or answer file needs more, and a hostile one can't hang us."""

Loc = tuple[str | int, ...]


def format_path(loc: Loc) -> str:
    """``("exercises", 2, "parts", 1, "points")`` -> ``exercises[2].parts[1].points``."""
    text = ""
    for item in loc:
        if isinstance(item, int):
            text += f"[{item}]"
        else:
            text += f".{item}" if text else str(item)
    return text


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


def _construct(loader: yaml.SafeLoader, node: yaml.Node, loc: Loc, lines: dict[Loc, int], depth: int = 0) -> Any:
    lines.setdefault(loc, node.start_mark.line + 1)
    if depth > 200:
        raise InputFileError("nested more than 200 levels deep", line=node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True) if isinstance(key_node, yaml.ScalarNode) else None
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
    return loader.construct_object(node, deep=True)


def read_text(path: Path, what: str) -> str:
    """The file's text; InputFileError when missing, a folder, too large or not UTF-8."""
    try:
        if path.is_dir():
            raise InputFileError(f"{what}: expected a file, got a folder", file=path)
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputFileError(f"{what}: file is {size} bytes; the limit is {MAX_FILE_BYTES}", file=path)
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{what}: no such file", file=path) from None
    except OSError as exc:
        raise InputFileError(f"{what}: cannot read ({exc.strerror})", file=path) from None
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
    """Parse one YAML document (JSON is YAML too); return data and its line map.

    Aliases are refused (an exercise never needs them and they enable billion-laughs files).
    """
    check_nesting(text, file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
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
        data = _construct(yaml.SafeLoader(""), node, (), lines)
    except InputFileError as exc:
        raise InputFileError(exc.message, file=file, line=exc.line, path=exc.path) from None
    except yaml.YAMLError as exc:
        raise InputFileError(f"not valid YAML: {exc}", file=file) from None
    except RecursionError:
        raise InputFileError("not valid YAML: nested too deeply", file=file) from None
    return data, LineMap(lines)


def _refuse_aliases(text: str, file: Path | str) -> None:
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else None
            raise InputFileError("YAML aliases (*name) are not allowed here", file=file, line=line)


MAX_NESTING = 64


def check_nesting(text: str, file: Path | str) -> None:
    """Refuse text whose brackets nest deeper than MAX_NESTING, before a recursive parser sees it.

    Quotes are not tracked, so it can only over-count: a legitimate file nests a few levels.
    """
    depth = 0
    for match in _BRACKETS.finditer(text):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_NESTING:
                line = text.count("\n", 0, match.start()) + 1
                raise InputFileError(f"brackets nested more than {MAX_NESTING} levels deep", file=file, line=line)
        else:
            depth = max(0, depth - 1)


_BRACKETS = re.compile(r"[\[\]{}]")
