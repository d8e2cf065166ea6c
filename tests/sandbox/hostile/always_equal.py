"""Hostile: returns an object that claims to equal everything -> bad-result (never trusted)."""


class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


def solve(x):
    return AlwaysEqual()
