"""Report tests: the ``--update-golden`` option (also ``GRADER_UPDATE_GOLDEN=1``) rewrites the golden files."""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    # Registered only when this conftest is loaded at start-up (``pytest tests/report ...``); from the project
    # root use GRADER_UPDATE_GOLDEN=1 instead.
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/report/golden/* from the current renderers instead of comparing")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    try:
        flag = bool(request.config.getoption("--update-golden"))
    except ValueError:
        flag = False
    return flag or os.environ.get("GRADER_UPDATE_GOLDEN") == "1"
