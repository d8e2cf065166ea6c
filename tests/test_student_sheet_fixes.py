"""The student's sheet (``grader sheet``) and answer-file template (``grader template``), through the real command
line (``grader.cli.main`` in this process):

- slice captions count 1-based as the printed sheets do ("filter 1") and name the 0-based index that answers and
  ``grader data`` use, as reports do: ``channel 1 of 2 ([:, :, 0])``;
- an array part's format shows an example of its key's own shape (a 1-D part: a flat list);
- hidden parts are marked on the sheet and in the template;
- a 4-D input (conv filters) is printed as f x f slices, one per filter and channel, with captions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import Grader, Run


@pytest.fixture
def grader(grader: Grader) -> Grader:
    """tests/conftest.py's ``grader``, asserting that each command succeeds (exit 0)."""

    def run(*args: str | Path) -> Run:
        done = grader(*args)
        assert done.code == 0, done.err
        return done

    return run


CONV = """\
id: conv_sheet
title: Conv
validation_seeds: [1, 2]
exercises:
  - id: cnn
    title: One convolution
    text: "Arrays are indexed [row, column, channel], 0-based."
    inputs:
      image: {random: {dist: normal, shape: [4, 4, 2]}, description: "image I (4x4x2)"}
      w: {random: {dist: normal, shape: [3, 3, 2, 3], std: 0.5}, description: "filters w_xyck (3x3x2x3)"}
      b: {random: {dist: normal, shape: [3], std: 0.1}, description: "biases b_k"}
      v: {random: {dist: normal, shape: [2, 2, 3, 2]}, description: "dense weights v_ijko (2x2x3x2)"}
    quantities:
      conv: {op: conv2d, x: $image, w: $w, b: $b}
      loss: {op: sum, x: {op: dense, h: {op: relu, x: $conv}, v: $v}}
      db: {op: grad, of: $loss, wrt: $b}
      dv: {op: grad, of: $loss, wrt: $v}
    parts:
      - id: conv
        prompt: "a. The convolution output (2x2x3)."
        points: 2
        answer: {type: array, abs_tol: 1.0e-6, rel_tol: 1.0e-5, axes: [row, column, filter]}
        expected: $conv
      - id: db
        prompt: "b. dL/db (3 values)."
        points: 1
        visibility: hidden
        answer: {type: array, abs_tol: 1.0e-6, rel_tol: 1.0e-5}
        expected: $db
      - id: dv
        prompt: "c. dL/dv (2x2x3x2)."
        points: 1
        answer: {type: array, abs_tol: 1.0e-6, rel_tol: 1.0e-5}
        expected: $dv
      - id: loss
        prompt: "d. L."
        points: 1
        answer: {type: number, abs_tol: 1.0e-6, rel_tol: 1.0e-5}
        expected: $loss
"""
TOLERANCE = "each entry within 1e-06 + 1e-05 * |expected|: give 6 significant digits or more"


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    path = tmp_path / "conv.yaml"
    path.write_text(CONV, encoding="utf-8")
    return path


def data(grader: Grader, sheet: Path) -> dict[str, np.ndarray]:
    inputs = json.loads(grader("data", sheet, "--seed", "1").out)["inputs"]["cnn"]
    return {name: np.array(value) for name, value in inputs.items()}


def table_after(lines: list[str], caption: str) -> np.ndarray:
    """The Markdown table printed right after the caption line (its 4-digit entries)."""
    start = lines.index(caption)
    rows = []
    for line in lines[start + 1 :]:
        if rows and not line.startswith("| "):
            break
        if line.startswith("| ") and not line.startswith("|   |"):
            rows.append([float(cell) for cell in line.strip("| ").split(" | ")])
    return np.array(rows)


# ---- (a) 1-based ordinals with the 0-based index ---------------------------------------------------------------
def test_channel_captions_count_from_1_and_name_the_0_based_index(grader: Grader, sheet: Path) -> None:
    image = data(grader, sheet)["image"]
    lines = grader("sheet", sheet, "--seed", "1").out.splitlines()
    assert [line for line in lines if line.startswith("*image I")] == [
        "*image I channel 1 of 2 ([:, :, 0])*",
        "*image I channel 2 of 2 ([:, :, 1])*",
    ]
    for c in range(2):
        assert np.allclose(table_after(lines, f"*image I channel {c + 1} of 2 ([:, :, {c}])*"), image[:, :, c], rtol=1e-3)
    page = grader("sheet", sheet, "--seed", "1", "--format", "html").out
    assert "<figcaption>image I (4x4x2) channel 2 of 2 ([:, :, 1])</figcaption>" in page


def test_plane_captions_name_their_index(grader: Grader, tmp_path: Path) -> None:
    path = tmp_path / "planes.yaml"
    path.write_text(CONV.replace("shape: [4, 4, 2]}", "shape: [2, 4, 4]}").replace("x: $image, w", "x: {op: transpose, x: $image, axes: [1, 2, 0]}, w"), encoding="utf-8")
    lines = grader("sheet", path, "--seed", "1").out.splitlines()
    assert [line for line in lines if line.startswith("*image I")] == [
        "*image I slice 1 of 2 ([0, :, :])*",
        "*image I slice 2 of 2 ([1, :, :])*",
    ]


# ---- (b) the template's example has the part's own shape --------------------------------------------------------
def test_template_examples_have_each_array_part_s_own_shape(grader: Grader, sheet: Path) -> None:
    template = grader("template", sheet, "--seed", "1").out
    formats = [line.strip() for line in template.splitlines() if line.strip().startswith("# format:")]
    assert formats[:3] == [
        "# format: a nested list of numbers with axes (row, column, filter) of shape 2x2x3, first index outermost, "
        f"e.g. [[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]]; {TOLERANCE}",
        # db is hidden: its key's shape is not shown (it can be, or give away, a hidden answer)
        f"# format: a nested list of numbers, first index outermost, e.g. [[1, 2], [3, 4]]; {TOLERANCE}",
        "# format: a nested list of numbers of shape 2x2x3x2, first index outermost, "
        f"e.g. [[[[1, 2], [3, 4], ...], [[5, 6], [7, 8], ...]], [[[9, 10], [11, 12], ...], [[13, 14], [15, 16], ...]]]; {TOLERANCE}",
    ]
    # the examples that are whole have the key's shape exactly
    key = json.loads(grader("solve", sheet, "--seed", "1", "--format", "json").out)["cnn"]
    example = yaml.safe_load(formats[0].split("e.g. ")[1].split(";")[0])
    assert np.shape(example) == np.shape(key["conv"])
    sheet_md = grader("sheet", sheet, "--seed", "1").out
    assert "a list of 3 numbers" not in sheet_md


# ---- (c) hidden parts are marked ------------------------------------------------------------------------------
def test_sheet_and_template_mark_the_hidden_parts(grader: Grader, sheet: Path) -> None:
    note = "hidden: graded after submission, the report says only whether it passed"
    lines = grader("template", sheet, "--seed", "1").out.splitlines()
    at = lines.index("    # b. dL/db (3 values). (1 point)")
    assert lines[at + 1] == f"    # {note}" and lines[at + 3] == "    db:"
    assert sum(note in line for line in lines) == 1  # only the hidden part
    md = grader("sheet", sheet, "--seed", "1").out
    assert f"- **cnn.db** (1 point; {note}): b. dL/db (3 values)." in md
    assert "- **cnn.conv** (2 points): a. The convolution output (2x2x3)." in md
    assert md.count("hidden:") == 1
    page = grader("sheet", sheet, "--seed", "1", "--format", "html").out
    assert f"<li><strong>cnn.db</strong> (1 point; {note}): b. dL/db (3 values).<br>" in page


# ---- (d) a 4-D input is printed as f x f slices -----------------------------------------------------------------
def test_conv_filters_are_printed_per_filter_and_channel(grader: Grader, sheet: Path) -> None:
    inputs = data(grader, sheet)
    lines = grader("sheet", sheet, "--seed", "1").out.splitlines()
    captions = [line for line in lines if line.startswith("*filters w_xyck")]
    assert captions == [
        f"*filters w_xyck filter {k + 1} of 3, channel {c + 1} of 2 ([:, :, {c}, {k}])*" for k in range(3) for c in range(2)
    ]
    for k in range(3):
        for c in range(2):
            caption = f"*filters w_xyck filter {k + 1} of 3, channel {c + 1} of 2 ([:, :, {c}, {k}])*"
            assert np.allclose(table_after(lines, caption), inputs["w"][:, :, c, k], rtol=1e-3)
    assert not any("its values: `grader data`" in line for line in lines)
    # a 4-D input that is not conv2d's filters: slices by their index only
    assert [line for line in lines if line.startswith("*dense weights")] == [
        f"*dense weights v_ijko slice {n + 1} of 6 ([:, :, {i}, {j}])*" for n, (i, j) in enumerate((i, j) for i in range(3) for j in range(2))
    ]
    assert np.allclose(table_after(lines, "*dense weights v_ijko slice 4 of 6 ([:, :, 1, 1])*"), inputs["v"][:, :, 1, 1], rtol=1e-3)
    page = grader("sheet", sheet, "--seed", "1", "--format", "html").out
    assert "<figcaption>filters w_xyck (3x3x2x3) filter 3 of 3, channel 2 of 2 ([:, :, 1, 2])</figcaption>" in page


FILTER_BANK = """\
id: conv1d_sheet
exercises:
  - id: e
    inputs:
      signal: {value: [[1, 0], [2, 1], [0, 1], [1, 1]], description: "signal x (4x2: length x channel)"}
      bank: {value: [[[1, 0], [0, 1]], [[1, 1], [0, 0]]], description: "filters w (2x2x2: offset x channel x filter)"}
      picture: {value: [[[1, 2], [3, 4]], [[5, 6], [7, 8]]], description: "image I"}
      other: {value: [[[1, 0], [0, 1]], [[1, 1], [0, 0]]], description: "bank V"}
    quantities:
      padded: {op: pad, x: $picture, width: 1}
      pooled: {op: max_pool2d, x: $padded, size: 1}
    parts:
      - id: code
        prompt: Write conv1d(x, w).
        points: 1
        answer:
          type: code
          function: conv1d
          cases:
            - {name: sheet, inputs: {x: $signal, w: $bank}}
        expected: {op: conv1d, x: $x, w: $w}
      - id: pool
        prompt: The pooled image.
        points: 1
        answer: {type: array}
        expected: $pooled
      - id: direct
        prompt: conv1d of the signal with another bank, in a part's key.
        points: 1
        answer: {type: array}
        expected: {op: conv1d, x: $signal, w: $other}
"""


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_only_an_image_s_last_axis_is_called_its_channels(tmp_path: Path, grader: Grader, fmt: str) -> None:
    """A conv1d filter bank (f, C, K) has filters on its last axis: its slices are not "channels" (an authoring
    review found them so captioned); an image keeps its channel captions, also when an op takes it padded."""
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(FILTER_BANK, encoding="utf-8")
    text = grader("sheet", sheet, "--format", fmt).out
    bank, image = text.index("filters w (2x2x2"), text.index("image I")
    assert bank < text.index("slice 1 of 2 ([:, :, 0])") < text.index("slice 2 of 2 ([:, :, 1])") < image
    assert image < text.index("channel 1 of 2 ([:, :, 0])") < text.index("channel 2 of 2 ([:, :, 1])")
    other = text.index("bank V")
    assert other < text.index("slice 1 of 2 ([:, :, 0])", other)  # a bank only a part's key takes
    assert text.count("channel 1 of 2") == 1 and text.count("slice 1 of 2") == 2, text


def test_a_variant_s_sheet_says_its_code_cases_use_the_sheet_s_own_numbers(tmp_path: Path, grader: Grader) -> None:
    """A code part's cases are the sheet's own numbers whatever the variant: a student with variant 3 must not expect
    the feedback on a visible case to show their variant's inputs."""
    week7 = Path(__file__).resolve().parents[1] / "exercises" / "week7.yaml"
    said = "Its cases use the sheet's own numbers (grader sheet without --seed), not this variant's"
    assert said in grader("sheet", week7, "--seed", "3").out.replace("\n", " ")
    assert said not in grader("sheet", week7).out.replace("\n", " ")
