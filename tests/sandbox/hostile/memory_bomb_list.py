"""Hostile: grows a Python list of megabyte blocks until allocation fails -> memory."""


def solve(x):
    blocks = []
    while True:
        blocks.append(bytearray(1 << 20))
