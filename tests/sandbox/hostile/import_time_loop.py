"""Hostile: loops forever while being imported -> every case times out (the import's own limit)."""

while True:
    pass


def solve(x):
    return x
