"""The week-7 sheet, Exercise 3: the engine reproduces the printed feature maps, pooled volume and shift analysis.

The sheet's numbers are typed here only, to check that the engine computes them. The sheet prints the two
filters side by side in one 3x6 table: filter 1 is the left three columns, filter 2 the right three.
"""

from __future__ import annotations

import numpy as np

from grader.engine.activations import relu
from grader.engine.conv import conv2d
from grader.engine.pool import max_pool2d, max_pool2d_winners
from grader.engine.shapes import Conv, Pool, pipeline_shapes
from grader.engine.symmetry import changed_units, equivariance, invariant_shifts, invariant_shifts_all, shift

IMAGE = np.array(
    [
        [0, 0, 0, 0, 0, 0],
        [0, 1, 2, 0, 3, 0],
        [0, 1, 2, 0, 1, 0],
        [0, 4, 1, 1, 2, 0],
        [0, 0, 0, 2, 1, 0],
        [0, 0, 0, 0, 0, 0],
    ],
    dtype=np.float64,
)[:, :, None]  # (6, 6, 1)
FILTER_TABLE = np.array(
    [
        [0, 1, 0, 0, 1, 1],
        [1, 0, 1, 0, 1, 0],
        [0, 1, 0, 1, 1, 0],
    ],
    dtype=np.float64,
)
W = np.stack([FILTER_TABLE[:, :3], FILTER_TABLE[:, 3:]], axis=-1)[:, :, None, :]  # (3, 3, 1, 2)

SHEET_MAP_1 = [[3, 3, 5, 1], [7, 4, 4, 5], [2, 7, 5, 3], [4, 3, 2, 4]]
SHEET_MAP_2 = [[2, 5, 2, 4], [8, 9, 5, 7], [7, 3, 4, 6], [5, 2, 5, 3]]
SHEET_BOLD_1 = [(1, 0), (1, 3), (2, 1), (2, 2)]  # the bold maxima (row, column) in "output with filter 1"
SHEET_BOLD_2 = [(1, 1), (1, 3), (2, 0), (2, 3)]
SHEET_SHIFTED_MAP_1 = [[3, 5, 1, 3], [4, 4, 5, 1], [7, 5, 3, 2], [3, 2, 4, 1]]
SHEET_SHIFTED_MAP_2 = [[5, 2, 4, 1], [9, 5, 7, 2], [3, 4, 6, 1], [2, 5, 3, 0]]
SHEET_SHIFTED_BOLD_1 = [(0, 1), (1, 2), (2, 0), (3, 2)]
SHEET_SHIFTED_BOLD_2 = [(1, 0), (1, 2), (2, 2), (3, 1)]


def features(image: np.ndarray) -> np.ndarray:
    """relu(conv): (6, 6, 1) -> (4, 4, 2), stride 1, biases 0."""
    return relu(conv2d(image, W)).value


def model(image: np.ndarray) -> np.ndarray:
    """conv -> relu -> 2x2 max-pool with stride 2: (6, 6, 1) -> (2, 2, 2)."""
    return max_pool2d(features(image), 2, stride=2).value


def test_a_volume_after_pooling_is_2x2x2() -> None:
    assert pipeline_shapes(IMAGE.shape, [Conv(f=3, k=2), Pool(size=2, stride=2)])[-1] == (2, 2, 2)
    assert model(IMAGE).shape == (2, 2, 2)


def test_b_feature_maps_are_the_printed_ones_before_and_after_relu() -> None:
    conv = conv2d(IMAGE, W).value
    np.testing.assert_array_equal(conv[:, :, 0], SHEET_MAP_1)
    np.testing.assert_array_equal(conv[:, :, 1], SHEET_MAP_2)
    np.testing.assert_array_equal(features(IMAGE), conv)  # every entry is >= 0: relu changes nothing


def bold_check(image: np.ndarray, sheet_maps: list, bolds: list) -> None:
    """Each bold cell is the maximum of its 2x2 window and equals the engine's pooled value there."""
    pooled = model(image)
    for k, (sheet_map, bold) in enumerate(zip(sheet_maps, bolds, strict=True)):
        grid = np.asarray(sheet_map)
        assert len({(i // 2, j // 2) for i, j in bold}) == 4  # one bold cell per window
        for i, j in bold:
            window = grid[i - i % 2 : i - i % 2 + 2, j - j % 2 : j - j % 2 + 2]
            assert grid[i, j] == window.max() == pooled[i // 2, j // 2, k]


def test_b_pooled_values_are_the_bold_maxima() -> None:
    bold_check(IMAGE, [SHEET_MAP_1, SHEET_MAP_2], [SHEET_BOLD_1, SHEET_BOLD_2])
    np.testing.assert_array_equal(model(IMAGE)[:, :, 0], [[7, 5], [7, 5]])
    np.testing.assert_array_equal(model(IMAGE)[:, :, 1], [[9, 7], [7, 6]])


def test_b_winners_follow_the_engine_tie_rule_where_the_sheet_bolds_the_later_maximum() -> None:
    """Filter 1's top-right window [[5, 1], [4, 5]] has two maxima. The sheet bolds the later one, (1, 3);
    the engine's documented rule (first in row-major order) picks (0, 2). Everywhere else they agree."""
    winners = max_pool2d_winners(features(IMAGE), 2, stride=2)
    engine_1 = sorted((int(i), int(j)) for i, j in np.argwhere(winners[:, :, 0]))
    engine_2 = sorted((int(i), int(j)) for i, j in np.argwhere(winners[:, :, 1]))
    assert engine_2 == sorted(SHEET_BOLD_2)
    assert set(engine_1) ^ set(SHEET_BOLD_1) == {(0, 2), (1, 3)}
    assert SHEET_MAP_1[0][2] == SHEET_MAP_1[1][3] == 5


def test_c_moving_the_image_one_pixel_left_gives_the_printed_maps() -> None:
    moved = shift(IMAGE, 0, -1)
    np.testing.assert_array_equal(moved[:, -1, 0], 0.0)
    after = features(moved)
    np.testing.assert_array_equal(after[:, :, 0], SHEET_SHIFTED_MAP_1)
    np.testing.assert_array_equal(after[:, :, 1], SHEET_SHIFTED_MAP_2)
    bold_check(moved, [SHEET_SHIFTED_MAP_1, SHEET_SHIFTED_MAP_2], [SHEET_SHIFTED_BOLD_1, SHEET_SHIFTED_BOLD_2])


def test_c_equivariance_columns_2_to_4_move_left_and_only_the_new_column_differs() -> None:
    report = equivariance(features, IMAGE, 0, -1)
    assert not report.equivariant
    assert {j for _, j in report.cells} == {3}  # the rightmost column is the only one that is new
    np.testing.assert_array_equal(report.shifted_then_layer[:, :3], features(IMAGE)[:, 1:])


def test_c_three_of_eight_pooled_units_change() -> None:
    report = changed_units(model, IMAGE, 0, -1)
    assert (report.count, report.total) == (3, 8)
    assert report.positions == [(0, 0, 0), (1, 0, 1), (1, 1, 0)]


def test_d_every_pooled_unit_is_invariant_under_some_translation() -> None:
    table = invariant_shifts_all(model, IMAGE, max_shift=1)
    assert len(table) == 8
    assert all(table[unit] for unit in table), table  # the sheet's "Yes"
    for unit, kept in table.items():
        dy, dx = kept[0]
        assert model(shift(IMAGE, dy, dx))[unit] == model(IMAGE)[unit]
        assert invariant_shifts(model, IMAGE, unit, 1) == kept
