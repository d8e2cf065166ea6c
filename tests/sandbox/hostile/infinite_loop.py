"""Hostile: spins forever -> timeout (CPU)."""


def solve(x):
    while True:
        pass
