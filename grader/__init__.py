"""grader: an auto-grader for neural-network courses (YAML exercises, a numpy reference engine)."""

__version__ = "0.1.0"
