"""Sandbox for students' Python: run their functions on cases in an isolated, resource-limited child process.

Public API: ``run_cases`` (or ``prepare_cases`` once and ``run_prepared`` per submission), ``probe_layers``,
``require_layers``, ``Limits``, ``CaseInput``, ``CaseOutcome``, ``RunReport``, ``SandboxUnavailable`` (the README's
sandbox section says what the layers protect against).
"""

from .layers import LAYER_NAMES
from .limits import CASE_STATUSES, CaseInput, CaseOutcome, CaseStatus, Limits, RunReport, SandboxUnavailable, SandboxUsageError
from .runner import PreparedCases, SandboxError, prepare_cases, probe_layers, require_layers, run_cases, run_prepared

__all__ = [
    "CASE_STATUSES",
    "LAYER_NAMES",
    "CaseInput",
    "CaseOutcome",
    "CaseStatus",
    "Limits",
    "PreparedCases",
    "RunReport",
    "SandboxError",
    "SandboxUnavailable",
    "SandboxUsageError",
    "prepare_cases",
    "probe_layers",
    "require_layers",
    "run_cases",
    "run_prepared",
]
