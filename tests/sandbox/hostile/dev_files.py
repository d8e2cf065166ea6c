"""Hostile: creates files in /dev and /dev/shm, bubblewrap's own tmpfs, outside the private /tmp whose file count
and size are limited -> ok, doubled: both are read-only (as root the child's own uid could not write there either)."""


def solve(x):
    for path in ("/dev/shm/f", "/dev/f"):
        try:
            open(path, "w").close()
        except OSError:
            continue
        return x + 1000  # it wrote there
    return 2 * x
