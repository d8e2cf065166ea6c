"""Text from outside (file names, answer files, notebooks) made safe to store and show: no lone surrogates.

Python can hold strings that are not Unicode text: a file name that is not UTF-8 decodes with surrogate escapes
(``caf\\udce9.yaml``), and JSON may spell a lone surrogate (``"\\ud800"``). Neither can be written as UTF-8, so a
report, a gradebook row or a JSON dump of such a string fails. Everything a student controls passes through here
before it reaches a Result.
"""

from __future__ import annotations

import os
import re
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
    """``path``'s last component, shown as text (bytes that are not UTF-8 become U+FFFD)."""
    return without_surrogates(path.name)


def path_key(path: str) -> str:
    """A path as stored text, distinct for distinct paths: bytes that are not UTF-8 are written ``\\xe9``."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = os.fsencode(path)  # the bytes the file system has
        except UnicodeEncodeError:
            raw = path.encode("utf-8", errors="surrogatepass")
        return raw.decode("utf-8", errors="backslashreplace")
    return path


def may_hold_surrogates(text: str) -> bool:
    """Whether JSON or YAML ``text`` can parse to strings with lone surrogates: only through ``\\u``/``\\U``
    escapes (the text itself, decoded from UTF-8, has none). Cheaper than walking every parsed document."""
    return "\\u" in text or "\\U" in text


def clean_document(value: Any) -> Any:
    """A parsed JSON/YAML document with :func:`without_surrogates` applied to every string, keys included."""
    if isinstance(value, str):
        return without_surrogates(value)
    if isinstance(value, dict):
        return {clean_document(key): clean_document(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_document(item) for item in value]
    return value
