"""Which settings each random distribution draws with, for a sheet's random inputs (grader.spec.models.RandomSpec)
and a code part's random case arguments (grader.answers.code.RandomArray) alike."""

from __future__ import annotations

DRAW_SETTINGS = {"integers": ("low", "high"), "uniform": ("low", "high"), "normal": ("mean", "std")}
"""The settings each ``dist`` draws with; the others are ignored by it."""


def unused_setting_problem(dist: str, written: set[str]) -> tuple[str, str] | None:
    """The first setting among those the author wrote (``written``) that a ``dist`` draw ignores (``low`` for
    ``normal``, ``mean`` for ``uniform``) and why, or None: an ignored setting means a draw other than the one the
    author meant."""
    used = DRAW_SETTINGS[dist]
    for setting in ("low", "high", "mean", "std"):
        if setting in written and setting not in used:
            other = "normal" if dist != "normal" else "uniform"
            return setting, (
                f"{setting} is not used when dist is {dist}: normal draws take mean and std, integers and uniform draws "
                f"take low and high; drop {setting} or write dist: {other}"
            )
    return None
