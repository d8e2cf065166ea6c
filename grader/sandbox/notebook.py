"""Jupyter notebooks as modules: the code cells, in order, with IPython magics and shell lines removed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from grader.text import clean_document

# Cell magics whose body is still Python: only their first line is dropped. Any other ``%%`` cell (bash, html,
# writefile, ...) is not Python and is dropped whole.
PYTHON_BODY_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun")


MAX_NOTEBOOK_VALUES = 1_000_000
"""Most JSON values (objects, lists, strings) a notebook may hold: parsing builds a Python object for each, in the
grader's process, outside any sandbox limit (32 MiB of ``[{},{},...]`` took 950 MB; a million, about 150 MB). A
notebook's plots are one string each, its code and text a string per line."""


class NotebookError(Exception):
    """The submitted file is not a readable notebook; the message is for the student."""


@dataclass(frozen=True)
class NotebookSource:
    """A notebook flattened into module source.

    Attributes:
        source: the code cells joined in order, magics and shell lines replaced by empty lines.
        line_map: ``line_map[n - 1] = (cell, line)`` for module line ``n``: the 1-based cell number counted over
            all cells of the notebook (markdown too, as seen from the top) and the 1-based line inside that cell.
    """

    source: str
    line_map: list[tuple[int, int]]

    def locate(self, line: int) -> tuple[int, int] | None:
        """The ``(cell, line)`` of module line ``line`` (1-based), or None outside the notebook's lines."""
        if 1 <= line <= len(self.line_map):
            return self.line_map[line - 1]
        return None


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def source_lines(text: str) -> list[str]:
    """Python source split into lines as Python splits it: at ``\\r\\n``, ``\\r`` and ``\\n`` only.

    (``str.splitlines`` also splits at form feeds, ``\\x1c``-``\\x1e``, ``\\x85`` and U+2028/U+2029, which
    Python reads inside a line: in a comment pasted from a web page they would change the code.)"""
    lines = _LINE_BREAK.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def _cell_lines(cell: dict[str, object], index: int, filename: str) -> list[str]:
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(part, str) for part in source):
        text = "".join(source)
    elif isinstance(source, str):
        text = source
    else:
        raise NotebookError(f"{filename}: cell {index} has a 'source' that is neither text nor a list of lines")
    return source_lines(text)


@dataclass
class _Scanner:
    """Where a cell's next line starts, as far as IPython's magics care: inside a string that spans lines (a
    triple-quoted one, or one continued by a backslash), inside brackets, or after a backslash continuation, a line
    beginning with ``%`` or ``!`` is Python (text of the string, a modulo), not a magic."""

    quote: str | None = None
    depth: int = 0
    continued: bool = False

    def at_statement(self) -> bool:
        return self.quote is None and self.depth == 0 and not self.continued

    def read(self, line: str) -> None:
        """Follow ``line`` (a line of Python, without its line break) to its end."""
        index, length, commented = 0, len(line), False
        while index < length:
            char = line[index]
            if self.quote is not None:
                if char == "\\":
                    index += 2
                elif line.startswith(self.quote, index):
                    index += len(self.quote)
                    self.quote = None
                else:
                    index += 1
                continue
            if char == "#":
                commented = True
                break
            if char in "\"'":
                self.quote = line[index : index + 3] if line[index : index + 3] in ('"""', "'''") else char
                index += len(self.quote)
                continue
            if char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(0, self.depth - 1)
            index += 1
        ends_in_backslash = (len(line) - len(line.rstrip("\\"))) % 2 == 1  # an odd run: the last one is no escaped one
        if self.quote is not None and len(self.quote) == 1 and not ends_in_backslash:
            self.quote = None  # a one-line string left open: Python's own error, not this scanner's to carry on
        self.continued = self.quote is None and ends_in_backslash and not commented


def notebook_to_source(text: str, filename: str) -> NotebookSource:
    """Flatten the notebook JSON ``text`` (nbformat 4) into module source; NotebookError if it is not a notebook.

    Lines that start a statement with ``%`` or ``!`` (line magics, shell commands) become empty lines, so an
    indented ``!pip install`` does not shift the lines after it; such a line inside a string spanning lines or
    inside brackets is Python and stays, as IPython keeps it (:class:`_Scanner`). Cell magics are handled as
    described in ``PYTHON_BODY_CELL_MAGICS``. Outputs are ignored.
    """
    values = text.count("{") + text.count("[") + text.count('"') // 2  # an upper bound of the objects json builds
    if values > MAX_NOTEBOOK_VALUES:
        raise NotebookError(
            f"{filename} holds about {values:,} JSON values (its outputs included); a notebook may hold at most "
            f"{MAX_NOTEBOOK_VALUES:,}: clear its outputs and hand it in again"
        )
    try:
        document = json.loads(text)
    except ValueError as error:
        raise NotebookError(f"{filename} is not a notebook: its JSON does not parse ({error})") from None
    except RecursionError:
        raise NotebookError(f"{filename} is not a notebook: its JSON nests too deeply") from None
    if "\\u" in text or "\\U" in text:  # JSON escapes may spell lone surrogates, which no .py file can hold
        document = clean_document(document)  # its own stack: a deeply nested notebook is no RecursionError
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise NotebookError(f"{filename} is not a notebook: it has no list of 'cells'")
    lines: list[str] = []
    line_map: list[tuple[int, int]] = []
    for index, cell in enumerate(document["cells"], start=1):
        if not isinstance(cell, dict):
            raise NotebookError(f"{filename}: cell {index} is not a JSON object")
        if cell.get("cell_type") != "code":
            continue
        cell_lines = _cell_lines(cell, index, filename)
        first = cell_lines[0].strip() if cell_lines else ""
        if first.startswith("%%") and first.split()[0] not in PYTHON_BODY_CELL_MAGICS:
            continue
        scanner = _Scanner()
        for number, line in enumerate(cell_lines, start=1):
            if scanner.at_statement() and line.lstrip().startswith(("%", "!")):
                lines.append("")
            else:
                lines.append(line)
                scanner.read(line)
            line_map.append((index, number))
        # A blank separator line keeps one cell's unfinished statement from swallowing the next cell's first line.
        lines.append("")
        line_map.append((index, len(cell_lines) + 1))
    return NotebookSource(source="\n".join(lines) + "\n", line_map=line_map)
