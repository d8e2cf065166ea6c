"""The ``set`` answer type: an unordered collection of names (``f1, f2, f3, f5, f6``), with partial credit."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from grader.answers.base import AnswerError, AnswerSpec, CheckContext, bounded_text, correct, describe_raw, scored
from grader.result import Verdict

MAX_ITEMS = 1000
"""Most names read in one answer."""
MAX_NAME_LENGTH = 100
_SEPARATORS = re.compile(r"\s*(?:,|;|->|→)\s*")
_BRACKETS = {"(": ")", "[": "]", "{": "}"}


def split_names(raw: Any, what: str) -> list[str]:
    """A list of names from a YAML list or from text separated by commas (or spaces, or arrows ``->``).

    Surrounding brackets (``"{f1, f2}"``) are dropped, and so is YAML's reading of an unquoted ``{f1, f2}`` as
    a mapping with empty values; numbers in a list are read as names (``1`` -> ``"1"``).
    AnswerError for anything else, naming the offending item (1-based).
    """
    if isinstance(raw, str):
        text = bounded_text(raw, what)
        if text[:1] in _BRACKETS and text[-1:] == _BRACKETS[text[:1]]:
            text = text[1:-1].strip()
        if not text:
            return []
        pieces = _SEPARATORS.split(text) if _SEPARATORS.search(text) else text.split()
        if any(not piece for piece in pieces):
            raise AnswerError(f"cannot read {raw.strip()[:60]!r}: there is an empty name between two separators")
        items: list[Any] = pieces
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
    elif isinstance(raw, dict) and all(value is None for value in raw.values()):
        items = list(raw)  # YAML reads an unquoted {f1, f2} as a mapping whose values are all empty
    else:
        raise AnswerError(f"expected {what} as a list of names, got {describe_raw(raw)}")
    if len(items) > MAX_ITEMS:
        raise AnswerError(f"{what} has {len(items)} names; at most {MAX_ITEMS} are read")
    names: list[str] = []
    for position, item in enumerate(items, start=1):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise AnswerError(f"item {position} is {describe_raw(item)}; expected a name")
        name = " ".join(str(item).split())
        if not name:
            raise AnswerError(f"item {position} is empty; expected a name")
        if len(name) > MAX_NAME_LENGTH:
            raise AnswerError(f"item {position} is {len(name)} characters long; names have at most {MAX_NAME_LENGTH}")
        names.append(name)
    return names


def apply_aliases(names: list[str], aliases: Mapping[str, str], *, case_sensitive: bool) -> list[str]:
    """``names`` with each alias replaced by the name it stands for (``θ`` -> ``theta``)."""
    if not aliases:
        return names
    fold = (lambda s: s) if case_sensitive else str.casefold
    table = {fold(alias): target for alias, target in aliases.items()}
    return [table.get(fold(name), name) for name in names]


def _plain(name: str) -> str:
    """A name without case, underscores, hyphens and spaces: ``f_1`` and ``F1`` are ``f1``."""
    return re.sub(r"[\s_\-]", "", name).casefold()


def _spelled_otherwise(extra: list[str], missing: list[str]) -> list[tuple[str, str]]:
    """(the student's name, the sheet's) for each extra name that is a missing one written with other case,
    underscores, hyphens or spaces."""
    by_plain = {_plain(name): name for name in missing}
    return sorted(((name, by_plain[_plain(name)]) for name in extra if _plain(name) in by_plain), key=lambda pair: pair[1])


class SetAnswer(AnswerSpec):
    """A set of names, e.g. the children of theta: ``f1, f2, f3, f5, f6`` (order and repeats do not matter).

    Written as a list (``[f1, f2]``) or as text separated by commas (``"f1, f2"``, braces allowed). The key's
    value is a ``frozenset[str]``. With ``partial``, the fraction is ``|A ∩ E| / |A ∪ E|`` (Jaccard index of the
    answer A and the key E), so both missing and extra names cost credit.
    """

    type: Literal["set"] = "set"
    """Tag of this answer type."""
    aliases: dict[str, str] = {}
    """Other ways to write a name, mapped to the name in the key, e.g. ``{θ: theta, f_1: f1}``."""
    partial: bool = True
    """Give partial credit ``|A ∩ E| / |A ∪ E|`` (otherwise all or nothing)."""
    case_sensitive: bool = False
    """Tell ``F1`` from ``f1`` (by default case does not matter)."""

    def _key(self, name: str) -> str:
        return name if self.case_sensitive else name.casefold()

    def parse(self, raw: Any) -> frozenset[str]:
        if raw is None:
            raise AnswerError("no answer given")
        names = split_names(raw, "the set")
        return frozenset(apply_aliases(names, self.aliases, case_sensitive=self.case_sensitive))

    def check(self, actual: frozenset[str], expected: frozenset[str], ctx: CheckContext) -> Verdict:
        expected_by_key = {self._key(str(name)): str(name) for name in expected}
        actual_by_key = {self._key(name): name for name in actual}
        missing_names = sorted(expected_by_key[k] for k in expected_by_key.keys() - actual_by_key.keys())
        extra_names = sorted(actual_by_key[k] for k in actual_by_key.keys() - expected_by_key.keys())
        if not missing_names and not extra_names:
            return correct()
        union = len(expected_by_key.keys() | actual_by_key.keys())
        common = len(expected_by_key.keys() & actual_by_key.keys())
        parts = []
        if missing_names:
            parts.append(f"{len(missing_names)} name{'s are' if len(missing_names) > 1 else ' is'} missing")
        if extra_names:
            parts.append(f"{len(extra_names)} name{'s do' if len(extra_names) > 1 else ' does'} not belong")
        details = []
        if missing_names:
            details.append("missing: " + ", ".join(missing_names))
        if extra_names:
            details.append("should not be there: " + ", ".join(extra_names))
        spelled = _spelled_otherwise(extra_names, missing_names)
        feedback = " and ".join(parts)
        if spelled:
            feedback += "; write the names as the sheet does: " + ", ".join(f"{name} (not {yours})" for yours, name in spelled)
        return scored(common / union if self.partial else 0.0, feedback, details)

    def to_json(self, actual: frozenset[str]) -> list[str]:
        return sorted(actual)

    def expected_json(self, expected: frozenset[str]) -> list[str]:
        return sorted(str(name) for name in expected)

    @property
    def format_hint(self) -> str:
        return "names separated by commas, e.g. \"a, b, c\" (order does not matter)"
