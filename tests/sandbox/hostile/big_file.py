"""Hostile: writes a 10 MB file in its working directory -> exception (RLIMIT_FSIZE: file too large)."""


def solve(x):
    with open("big.bin", "wb") as big:
        for _ in range(10):
            big.write(b"\0" * (1 << 20))
    return x
