"""Hostile (no attack, an extreme name): ``solve`` is an instance of a class named with 600,000 characters, which
the "not a function" message names.

-> missing-function, the class name cut short.
"""

solve = type("C" * 600_000, (), {})()
