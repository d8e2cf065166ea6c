"""Exercise specs: YAML -> validated, frozen models (with line numbers kept for errors)."""

from grader.spec.loader import Sheet, load_sheet
from grader.spec.models import Call, ExerciseSpec, InputSpec, MistakeSpec, PartSpec, RandomSpec, SheetSpec

__all__ = ["Call", "ExerciseSpec", "InputSpec", "MistakeSpec", "PartSpec", "RandomSpec", "Sheet", "SheetSpec", "load_sheet"]
