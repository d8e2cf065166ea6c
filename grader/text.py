"""Text from outside (file names, answer files, notebooks) made safe to store and show: no lone surrogates; and a
student's unreadable answer as bounded, printable text (:func:`answer_text`).

Python can hold strings that are not Unicode text: a file name that is not UTF-8 decodes with surrogate escapes
(``caf\\udce9.yaml``), and JSON may spell a lone surrogate (``"\\ud800"``). Neither can be written as UTF-8, so a
report, a gradebook row or a JSON dump of such a string fails. Everything a student controls passes through here
before it reaches a Result.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    """``text`` with every lone surrogate (one per undecodable byte of a file name) replaced by U+FFFD; unchanged,
    and not copied, when it has none."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def file_name(path: Path) -> str:
    """``path``'s last component as messages and reports name a student's file: :func:`one_line`."""
    return one_line(path.name)


def one_line(text: str) -> str:
    """Text a student chose (a file name, a path, an id) as one line: lone surrogates (undecodable bytes of a file
    name) become U+FFFD, control characters -- line breaks and tabs too -- and bidirectional controls are escaped
    (``\\n``, ``\\x1b``, ``\\u202e``), so that it cannot start a forged line of a report or of the CLI's output."""
    return printable(text).replace("\n", "\\n").replace("\t", "\\t")


def path_key(path: str) -> str:
    """A path as stored text, distinct for distinct paths: bytes that are not UTF-8 are written ``\\xe9``, and so
    (where ``/`` separates folders) is a backslash, as ``\\x5c``, so that a file literally named ``caf\\xe9.yaml``
    and one whose name has the byte E9 get two keys. Other paths are kept as they are."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        if os.sep != "/" or "\\" not in path:
            return path
    try:
        raw = os.fsencode(path)  # the bytes the file system has
    except UnicodeEncodeError:
        raw = path.encode("utf-8", errors="surrogatepass")
    if os.sep == "/":
        raw = raw.replace(b"\\", b"\\x5c")
    return raw.decode("utf-8", errors="backslashreplace")


def may_hold_surrogates(text: str) -> bool:
    """Whether JSON or YAML ``text`` can parse to strings with lone surrogates: only through ``\\u``/``\\U``
    escapes (the text itself, decoded from UTF-8, has none). Cheaper than walking every parsed document."""
    return "\\u" in text or "\\U" in text


def clean_document(value: Any) -> Any:
    """A parsed JSON/YAML document with :func:`without_surrogates` applied to every string, keys included.

    Work and memory follow the size of the parsed graph, not of the tree it stands for: YAML aliases make one list
    or mapping appear many times (an alias bomb of a few hundred bytes stands for billions of entries), so each
    container is cleaned once and a shared one stays shared in the result (one that holds itself too). The walk
    keeps its own stack, so a document nested as deep as a parser allows (libyaml: 1000 levels) is no
    RecursionError. Strings without surrogates are not copied."""
    cleaned: dict[int, Any] = {}  # id of an original list/dict -> its copy (the originals outlive the walk)
    pending: list[tuple[Any, Any]] = []  # (original, its copy still to be filled)

    def copy_of(item: Any) -> Any:
        if isinstance(item, str):
            return without_surrogates(item)
        if not isinstance(item, (dict, list)):
            return item
        copy = cleaned.get(id(item))
        if copy is None:
            copy = {} if isinstance(item, dict) else []
            cleaned[id(item)] = copy
            pending.append((item, copy))
        return copy

    top = copy_of(value)
    while pending:
        original, copy = pending.pop()
        if isinstance(original, dict):
            for key, entry in original.items():
                copy[copy_of(key)] = copy_of(entry)
        else:
            copy.extend([copy_of(entry) for entry in original])
    return top


ANSWER_TEXT_LIMIT = 200
"""Longest ``answer_text`` kept (characters; longer text is cut and ends in ``...``)."""
# Control characters, and bidirectional controls, which reorder what is shown ("Trojan Source"): an id or an answer
# could read as something else.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NON_TEXT = re.compile("[\ud800-\udfff\ufffe\uffff]")


def answer_text(raw: Any, limit: int = ANSWER_TEXT_LIMIT) -> str:
    """What the student wrote, as text a report can show: a string as written, ``true``/``1.5`` for YAML's
    booleans and numbers, lists and mappings in a compact JSON-like form. At most ``limit`` characters (cut
    with ``...``); control characters and bidirectional controls as ``\\x1b``/``\\u202e`` escapes, newlines
    and tabs kept. Reads at most a little more than ``limit`` characters of a large answer."""
    pieces: list[str] = []
    size = 0
    for chunk in _text_chunks(raw.strip() if isinstance(raw, str) else raw, top=True):
        shown = printable(chunk[: limit + 1 - size])
        pieces.append(shown)
        size += len(shown)
        if size > limit:
            break
    text = "".join(pieces)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable(text: str) -> str:
    """Text with control characters (ESC of ANSI colour codes, NUL, CR ...) shown as ``\\x1b`` escapes, bidirectional
    controls as ``\\u202e`` and lone surrogates as U+FFFD; newlines and tabs are kept. Keeps terminal output and
    Markdown pipe-friendly whatever a student typed (every report and message shows student text through it)."""
    return _NON_TEXT.sub("\ufffd", _CONTROL.sub(_escaped, text.replace("\r\n", "\n")))


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _text_chunks(value: Any, top: bool = False, depth: int = 0) -> Iterator[str]:
    if isinstance(value, str):
        yield value if top else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    elif value is None:
        yield "null"
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif isinstance(value, int):
        yield str(value) if value.bit_length() < 2000 else f"(a whole number of about {int(value.bit_length() * 0.30103)} digits)"
    elif isinstance(value, float):
        yield repr(value) if math.isfinite(value) else str(value)
    elif depth >= 20:
        yield "..."
    elif isinstance(value, dict):
        yield "{"
        for index, (name, item) in enumerate(value.items()):
            yield (", " if index else "")
            yield from _text_chunks(name, depth=depth + 1)
            yield ": "
            yield from _text_chunks(item, depth=depth + 1)
        yield "}"
    elif isinstance(value, (list, tuple)):
        yield "["
        for index, item in enumerate(value):
            yield (", " if index else "")
            yield from _text_chunks(item, depth=depth + 1)
        yield "]"
    else:
        yield str(value)


def close_matches(name: str, known: Iterable[str], *, n: int = 1, cutoff: float = 0.6) -> list[str]:
    """The (up to ``n``) known names most like ``name``, letter case ignored (difflib's ratio at least ``cutoff``),
    as the known names are written: for "did you mean ...?" hints."""
    folded = {k.casefold(): k for k in known}
    return [folded[match] for match in difflib.get_close_matches(name.casefold(), list(folded), n=n, cutoff=cutoff)]
