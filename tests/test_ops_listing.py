"""``grader ops`` says what to write in YAML: each op's arguments with a plain kind, which are required, and the
defaults, never Python annotations (``add(a: 'Any', b: 'Any') -> 'Tensor'``); and a wrong call names the same."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import pytest

from grader.cli import main
from grader.quantities import KINDS, OPS, argument_kind

PYTHON_WORDS = re.compile(r"['\"]|\bAny\b|\bLazy\b|\bTensor\b|ndarray|->|``")


def _ops_output(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> list[str]:
    monkeypatch.setattr(sys, "argv", ["grader", "ops"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code in (0, None)
    return capsys.readouterr().out.splitlines()


def test_no_op_line_shows_python_annotations(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _ops_output(monkeypatch, capsys)
    signatures = [line for line in lines if not line.startswith(" ")]
    assert len(signatures) == len(OPS)
    for line in signatures:  # the op lines: no quotes and no Python type at all
        assert not PYTHON_WORDS.search(line), line
    for line in lines:  # the doc lines are prose (the sheet's t_n): no Python type names, no reST markup
        assert not re.search(r"'Any'|\bLazy\b|\bTensor\b|ndarray|``", line), line


def test_each_argument_has_a_plain_kind_and_defaults_read_as_yaml(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = set(_ops_output(monkeypatch, capsys))
    assert "conv2d(x: array, w: array, b: array (optional), stride: whole number or pair = 1, padding: whole number or pair = 0, floor: true or false = false)" in lines
    assert "conv1d(x: array, w: array, b: array (optional), stride: whole number = 1, padding: whole number = 0)" in lines
    assert "max_pool2d(x: array, size: whole number or pair, stride: whole number or pair = size, floor: true or false = false)" in lines
    assert "count_changed(before: array, after: array, atol: number = 1.0e-09)" in lines
    assert "every_unit_has_invariant_shift(of: quantity, input: $input, max_shift: whole number = 2)" in lines
    assert "grad(of: scalar quantity, wrt: $input or $quantity)" in lines
    assert "sum(x: array, axis: axis or axes = every axis, keepdims: true or false = false)" in lines
    assert "cross_entropy(logits: array, target: array, axis: whole number = -1, reduction: reduction = mean)" in lines
    assert "graph(nodes: mapping of nodes, inputs: mapping of inputs, output: node name = the node no other node uses)" in lines
    assert "reshape(x: array, shape: list of whole numbers)" in lines
    assert "index(x: array, at: list of positions)" in lines
    assert "formula(text: text, NAME: array, ...)" in lines
    assert "adjoints(graph: graph quantity, nodes: list of names)" in lines


def test_every_kind_is_explained_and_every_argument_is_listed() -> None:
    for name, operation in OPS.items():
        parameters = inspect.signature(operation.fn).parameters
        for argument in parameters:
            assert argument_kind(operation, argument) in KINDS, (name, argument)
        for argument, parameter in parameters.items():
            if parameter.kind is not inspect.Parameter.VAR_KEYWORD:
                assert f"{argument}: " in operation.signature, (name, argument)


def test_a_call_with_a_wrong_argument_names_the_yaml_signature(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(
        "id: t\nexercises:\n  - id: ex\n    inputs:\n      x: {value: [1, 2]}\n    quantities:\n"
        "      y: {op: relu, x: $x, slope: 2}\n"
        "    parts:\n      - {id: p, prompt: q, points: 1, answer: {type: array}, expected: $y}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sys, "argv", ["grader", "validate", str(sheet)])
    with pytest.raises(SystemExit):
        main()
    err = capsys.readouterr().err
    assert err.splitlines()[0].endswith(
        "exercises[0].quantities.y: relu: bad arguments (got an unexpected keyword argument 'slope'); "
        "expected relu(x: array) [spec-bad-args]"
    ), err
