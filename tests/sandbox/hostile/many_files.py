"""Hostile: creates empty files without end (each costs the kernel about 1 kB, counted by no limit of the child)
-> crashed: stopped once the submission's processes have created more than the sandbox allows (needs the private
/tmp of bubblewrap, where the files are counted)."""

import os


def solve(x):
    made = 0
    while True:
        os.close(os.open(f"f{made}", os.O_CREAT | os.O_WRONLY, 0o600))
        made += 1
