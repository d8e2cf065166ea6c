"""The sandbox's public data: Limits, CaseInput, CaseOutcome, RunReport and the SandboxUnavailable error."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

from grader.errors import GraderError

CaseStatus = Literal[
    "ok", "exception", "timeout", "memory", "crashed", "bad-result", "not-run", "import-error", "missing-function"
]
CASE_STATUSES: tuple[str, ...] = get_args(CaseStatus)


class SandboxUsageError(GraderError):
    """The grader called the sandbox wrongly (missing source file, bad limits, bad case input); never the student."""


class SandboxUnavailable(GraderError):
    """``require_sandbox=True`` and an isolation layer is missing; the message lists them and how to get each."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission's run.

    Attributes:
        cpu_seconds_per_case: CPU time one call of the student's function may use (importing the module gets the
            same allowance); a CaseInput may set its own. Checked every ~20 ms by the supervisor, backed by
            RLIMIT_CPU for the whole run.
        wall_seconds_per_case: wall-clock time of one call (and of the import): catches sleeping/blocking code; a
            CaseInput may set its own.
        wall_seconds_total: wall-clock time of the whole submission (import + every case); cases not started in
            time are reported ``not-run``.
        memory_bytes: address space the student's code may add to the harness's own (Python + numpy, ~100 MB of
            virtual memory), enforced with RLIMIT_AS; exceeding it gives ``memory``.
        file_size_bytes: largest file the code may write (RLIMIT_FSIZE).
        max_result_bytes: largest result of one case, as the grader holds it (8 bytes per number, 1 per bool;
            all arrays of a dict together).
        max_total_result_bytes: largest total of all the cases' results of one run, counted the same way; results
            beyond it are refused (``bad-result``), so one submission cannot fill the grader's memory.
        max_output_bytes: how much of what the code prints (stdout and stderr together) is kept.
    """

    cpu_seconds_per_case: float = 2.0
    wall_seconds_per_case: float = 5.0
    wall_seconds_total: float = 30.0
    memory_bytes: int = 1 << 30
    file_size_bytes: int = 1 << 20
    max_result_bytes: int = 16 << 20
    max_total_result_bytes: int = 64 << 20
    max_output_bytes: int = 64 << 10

    def __post_init__(self) -> None:
        for name in ("cpu_seconds_per_case", "wall_seconds_per_case", "wall_seconds_total"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
                raise SandboxUsageError(f"Limits.{name} must be a positive number of seconds, got {value!r}")
        for name in ("memory_bytes", "file_size_bytes", "max_result_bytes", "max_total_result_bytes", "max_output_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise SandboxUsageError(f"Limits.{name} must be a positive whole number of bytes, got {value!r}")


@dataclass(frozen=True)
class CaseInput:
    """One call of a function of the student's module: ``function(**kwargs)``.

    Attributes:
        name: shown to the student and used to match outcomes to cases (unique within a run).
        kwargs: keyword arguments; arrays of bool/int/float dtype (e.g. ``image: (H, W, C)``,
            ``filters: (f, f, C, K)``) or Python/numpy scalars (passed as Python ``float``/``int``/``bool``).
        function: the module-level function this case calls; None: the ``function`` given to ``run_cases``.
            One run may call several functions: the module is imported once for all of them.
        cpu_seconds, wall_seconds: this case's own per-call limits; None: ``Limits.cpu_seconds_per_case`` /
            ``Limits.wall_seconds_per_case``.
        group, group_seconds: the cases that share a ``group`` (the grader's: one graded part's cases) may take
            ``group_seconds`` of wall-clock time in all, counted over their calls, wherever they stand in the run.
            When it is used up, the group's call running is stopped (``timeout``) and its cases not yet started
            are ``not-run``, while the other groups' cases still run: a slow part cannot use up the time of the
            parts after it. Both or neither; one group has one ``group_seconds``. None: only
            ``Limits.wall_seconds_total`` bounds the case.
    """

    name: str
    kwargs: Mapping[str, np.ndarray | float | int | bool]
    function: str | None = None
    cpu_seconds: float | None = None
    wall_seconds: float | None = None
    group: str | None = None
    group_seconds: float | None = None


@dataclass(frozen=True)
class CaseOutcome:
    """What one case produced.

    Attributes:
        name: the case's name.
        status: ``ok`` when a valid result came back; otherwise why not.
        value: only for ``ok``: a plain ndarray (float64, int64 or bool; C-contiguous, not a subclass), or a dict
            ``str -> ndarray`` for functions returning a mapping. NaN and inf are kept (the grader's check ladder
            reports them).
        message: for the student: their exception with only their own traceback lines, or why the case was
            stopped; empty for ``ok``.
        before_call: the function was never called: the module could not be imported (or ran out of time or
            crashed while importing), or it does not define the function.
        changed: for ``ok``: the array arguments (the grader's own names, in the case's order) that the call changed
            in place (shape, dtype or any value; NaN equals NaN); the call got its own copies, so nothing else saw it.

    ``before_call`` and ``changed`` reveal none of the case's inputs or outputs (each is checked by the runner: only
    the grader's own argument names), so a grader may tell them even about a hidden case. No exception type is
    among such facts: a student's code picks which type to raise, so even a list of built-in types would spell out
    what it saw of a hidden case.
    """

    name: str
    status: CaseStatus
    value: np.ndarray | dict[str, np.ndarray] | None
    message: str
    before_call: bool = False
    changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunReport:
    """Outcomes of one submission's cases, in the order given, and how it was isolated.

    Attributes:
        cases: one CaseOutcome per CaseInput, same order.
        layers: isolation layer name -> whether it was active for this run (see ``grader.sandbox.LAYER_NAMES``).
        stdout_excerpt: the start of what the code printed (stdout and stderr interleaved), capped at
            ``Limits.max_output_bytes`` with a note on how much was cut.
    """

    cases: list[CaseOutcome]
    layers: dict[str, bool] = field(default_factory=dict)
    stdout_excerpt: str = ""
