"""Sandbox for students' Python: run their function on cases in an isolated, resource-limited child process.

Public API: ``run_cases``, ``probe_layers``, ``Limits``, ``CaseInput``, ``CaseOutcome``, ``RunReport``,
``SandboxUnavailable`` (see README-section.md in this folder for what the layers protect against).
"""

from .layers import LAYER_NAMES
from .limits import CASE_STATUSES, CaseInput, CaseOutcome, CaseStatus, Limits, RunReport, SandboxUnavailable, SandboxUsageError
from .runner import SandboxError, probe_layers, run_cases

__all__ = [
    "CASE_STATUSES",
    "LAYER_NAMES",
    "CaseInput",
    "CaseOutcome",
    "CaseStatus",
    "Limits",
    "RunReport",
    "SandboxError",
    "SandboxUnavailable",
    "SandboxUsageError",
    "probe_layers",
    "run_cases",
]
