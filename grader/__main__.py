"""``python -m grader``: the same as the ``grader`` console script."""

from grader.cli import main

main()
