"""The figures of a distillation run in ltdd.book.viz: loss curves on a log axis with a trailing moving average,
and image panels side by side (synthetic images next to their initialisation)."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ltdd.data import ImageDataset, LabeledImages  # noqa: E402
from ltdd.book.viz import moving_average, plot_loss_curves, show_image_panels  # noqa: E402


def test_moving_average_is_a_trailing_mean_that_skips_missing_values():
    values = [4.0, 2.0, 6.0, 8.0, 10.0]
    assert np.allclose(moving_average(values, 1), values)
    assert np.allclose(moving_average(values, 2), [4.0, 3.0, 4.0, 7.0, 9.0])
    assert np.allclose(moving_average(values, 3), [4.0, 3.0, 4.0, 16 / 3, 8.0])
    assert np.allclose(moving_average(values, 100), np.cumsum(values) / np.arange(1, 6))
    smoothed = moving_average([1.0, float("nan"), 3.0, float("nan"), float("nan")], 2)
    assert np.allclose(smoothed[:4], [1.0, 1.0, 3.0, 3.0]) and math.isnan(smoothed[4])
    with pytest.raises(ValueError, match="window"):
        moving_average(values, 0)


def test_loss_curves_log_axis_raw_and_smoothed_lines():
    before = set(plt.get_fignums())
    dm = [10.0 / (1 + i) for i in range(200)]
    other = [5.0] * 100
    fig = plot_loss_curves({"DM": dm, "other": other}, title="losses")
    assert isinstance(fig, Figure)
    assert set(plt.get_fignums()) == before, "the figure must be closed in pyplot"
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_title() == "losses"
    lines = ax.get_lines()
    assert len(lines) == 4  # raw and smoothed for each curve; default window 200 / 50 = 4
    raw, smooth = lines[0], lines[1]
    assert np.allclose(raw.get_xdata(), np.arange(1, 201))
    assert np.allclose(raw.get_ydata(), dm)
    assert np.allclose(smooth.get_ydata(), moving_average(dm, 4))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("DM (10 → 0.05)") and labels[1].startswith("other (5 → 5)")


def test_loss_curves_without_smoothing_and_with_missing_or_non_positive_values():
    fig = plot_loss_curves({"run": [1.0, None, 0.0, 0.5]}, window=1)
    (line,) = fig.axes[0].get_lines()
    y = np.asarray(line.get_ydata(), dtype=float)
    assert y[0] == 1.0 and math.isnan(y[1]) and math.isnan(y[2]) and y[3] == 0.5
    linear = plot_loss_curves({"run": [1.0, -1.0]}, log=False, window=1)
    assert linear.axes[0].get_yscale() == "linear"
    assert list(linear.axes[0].get_lines()[0].get_ydata()) == [1.0, -1.0]
    with pytest.raises(ValueError, match="curves"):
        plot_loss_curves({})
    with pytest.raises(ValueError, match="curves"):
        plot_loss_curves({"empty": []})
    with pytest.raises(ValueError, match="window"):
        plot_loss_curves({"run": [1.0]}, window=0)


def _tiny_dataset(channels: int = 1) -> ImageDataset:
    images = torch.zeros(6, channels, 4, 4)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    split = LabeledImages(images, labels)
    return ImageDataset("tiny", split, split, ["a", "b", "c"], (0.5,) * channels, (0.25,) * channels)


def test_image_panels_show_the_same_images_of_every_class_side_by_side():
    dataset = _tiny_dataset()
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    before = torch.arange(6.0).view(6, 1, 1, 1).expand(6, 1, 4, 4) / 10  # image i is constant i / 10
    after = -before
    fig = show_image_panels({"init": before, "after": after}, labels, dataset, per_class=2, title="t")
    rows, columns = fig.axes[0].get_gridspec().get_geometry()
    assert (rows, columns) == (3, 5)  # 2 images, a gap column, 2 images
    grid = np.array(fig.axes).reshape(rows, columns)
    assert not grid[0, 2].get_images(), "the gap column stays empty"
    # row 1 (class b) shows images 2 and 3: pixels = value * std + mean
    shown = grid[1, 1].get_images()[0].get_array()
    assert np.allclose(shown, 0.3 * 0.25 + 0.5)
    assert np.allclose(grid[1, 4].get_images()[0].get_array(), -0.3 * 0.25 + 0.5)
    assert [grid[r, 0].get_ylabel() for r in range(3)] == ["a", "b", "c"]
    assert {t.get_text() for t in fig.texts} == {"init", "after", "t"}  # the headings and the suptitle
    some = show_image_panels({"x": before}, torch.nn.functional.one_hot(labels, 3).float(), dataset,
                             per_class=3, classes=[2])
    assert some.axes[0].get_gridspec().get_geometry() == (1, 3)
    assert len([ax for ax in some.axes if ax.get_images()]) == 2  # class c has two images, one cell is blank


def test_image_panels_reject_mismatched_input():
    dataset = _tiny_dataset()
    labels = torch.tensor([0, 1, 2])
    images = torch.zeros(3, 1, 4, 4)
    with pytest.raises(ValueError, match="panels"):
        show_image_panels({}, labels, dataset)
    with pytest.raises(ValueError, match="same shape"):
        show_image_panels({"a": images, "b": images[:2]}, labels, dataset)
    with pytest.raises(ValueError, match="labels"):
        show_image_panels({"a": images}, labels[:2], dataset)
    with pytest.raises(ValueError, match="per_class"):
        show_image_panels({"a": images}, labels, dataset, per_class=0)
    with pytest.raises(ValueError, match="classes"):
        show_image_panels({"a": images}, labels, dataset, classes=[3])
