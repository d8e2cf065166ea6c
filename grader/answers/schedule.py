"""The ``schedule`` answer type: a reverse (backwards) schedule of graph nodes, checked by the engine's graph."""

from __future__ import annotations

from typing import Any, Literal

from grader.answers.base import AnswerError, AnswerSpec, CheckContext, correct, scored
from grader.answers.references import ScheduleReference
from grader.answers.set_answer import apply_aliases, split_names
from grader.result import Verdict


class ScheduleAnswer(AnswerSpec):
    """An order of graph nodes in which every node comes after all of its children (the sheet's Exercise 4,
    step 2: for theta, ``f6, f3, f2, f1, f5, theta``).

    Written as a list (``[f6, f3, f2, f1, f5, theta]``) or as text separated by commas, spaces or arrows
    (``"f6, f3, f2, f1, f5, theta"``). Node names are matched ignoring case. The key's value is a
    :class:`~grader.answers.references.ScheduleReference`; any valid schedule is right, not only the engine's.
    """

    type: Literal["schedule"] = "schedule"
    """Tag of this answer type."""
    aliases: dict[str, str] = {}
    """Other ways to write a node's name, mapped to the graph's name, e.g. ``{θ: theta}``."""

    def parse(self, raw: Any) -> tuple[str, ...]:
        if raw is None:
            raise AnswerError("no answer given")
        names = split_names(raw, "the schedule")
        if not names:
            raise AnswerError("the schedule is empty; list the nodes in order, separated by commas, e.g. \"c, b, a\"")
        return tuple(apply_aliases(names, self.aliases, case_sensitive=False))

    def check(self, actual: tuple[str, ...], expected: ScheduleReference, ctx: CheckContext) -> Verdict:
        if not isinstance(expected, ScheduleReference):
            raise ValueError(f"schedule answer: the key's value is a {type(expected).__name__}, not a ScheduleReference")
        labels = expected.graph.labels
        by_folded: dict[str, list[str]] = {}
        for label in labels:
            by_folded.setdefault(label.casefold(), []).append(label)
        exact = set(labels)
        resolved = [
            name if name in exact or len(by_folded.get(name.casefold(), [])) != 1 else by_folded[name.casefold()][0]
            for name in actual
        ]
        outcome = expected.graph.check_reverse_schedule(resolved, wrt=expected.wrt)
        if outcome.ok:
            return correct()
        return scored(0.0, f"not a valid reverse schedule: {outcome.reason}")

    def to_json(self, actual: tuple[str, ...]) -> list[str]:
        return list(actual)

    def expected_json(self, expected: ScheduleReference) -> list[str]:
        return expected.needed_labels()

    @property
    def format_hint(self) -> str:
        return "node names in order, separated by commas, e.g. \"c, b, a\""
