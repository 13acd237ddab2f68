"""The long-tailed figures and tables of ltdd.book.viz: bars equal the counts, groups get their colours."""

from __future__ import annotations

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from ltdd.data import ImageDataset, LabeledImages  # noqa: E402
from ltdd.data.longtail import index_range_groups, longtail_counts, shot_groups  # noqa: E402
from ltdd.book.viz import (SHOT_GROUP_COLORS, counts_table, plot_class_counts, plot_shot_groups,  # noqa: E402
                           show_image_rows)

CIFAR10_B100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


def _heights(ax) -> list[int]:
    return [int(round(bar.get_height())) for bar in ax.patches]


def test_class_counts_bars_equal_the_counts():
    before = set(plt.get_fignums())
    paper = longtail_counts(5000, 10, 100, rule="paper")
    fig = plot_class_counts({"exp": CIFAR10_B100, "paper": paper}, log=True, title="CIFAR-10-LT")
    assert set(plt.get_fignums()) == before, "the figure must be closed in pyplot"
    ax = fig.axes[0]
    assert _heights(ax) == CIFAR10_B100 + paper  # one container per series, in order
    assert ax.get_yscale() == "log"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["exp: 12,406 images", f"paper: {sum(paper):,} images"]
    labels = {t.get_text() for t in ax.get_yticklabels()}
    assert {"100", "1,000", "5,000"} <= labels  # plain numbers on the log axis, not 10^2
    single = plot_class_counts([3, 2, 1], class_names=["a", "b", "c"], ylabel="images")
    assert _heights(single.axes[0]) == [3, 2, 1]
    assert single.axes[0].get_ylabel() == "images" and single.axes[0].get_yscale() == "linear"
    assert [t.get_text() for t in single.axes[0].get_xticklabels()] == ["a", "b", "c"]


def test_class_counts_rejects_bad_input():
    with pytest.raises(ValueError, match="one entry per class"):
        plot_class_counts({"a": [1, 2], "b": [1, 2, 3]})
    with pytest.raises(ValueError, match="class_names"):
        plot_class_counts([1, 2], class_names=["x"])
    with pytest.raises(ValueError, match="at least one"):
        plot_class_counts({})


def test_shot_group_colours_and_legend():
    counts = longtail_counts(500, 100, 100)
    groupings = {"> 100 / < 20": shot_groups(counts), "≥ 100 / ≤ 20": shot_groups(counts, inclusive=True),
                 "MiSLAS": index_range_groups(100, (36, 71))}
    fig = plot_shot_groups(counts, groupings, title="CIFAR-100-LT")
    assert len(fig.axes) == 3
    for ax, groups in zip(fig.axes, groupings.values()):
        assert _heights(ax) == counts
        assert [to_hex(bar.get_facecolor()) for bar in ax.patches] == [SHOT_GROUP_COLORS[g] for g in groups]
        assert ax.get_yscale() == "log"
    legends = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in fig.axes]
    assert legends[0] == ["many: 35", "medium: 35", "few: 30"]
    assert legends[1] == ["many: 35", "medium: 34", "few: 31"]  # class 69 has exactly 20 images
    assert legends[2] == ["many: 36", "medium: 35", "few: 29"]
    assert to_hex(fig.axes[1].patches[69].get_facecolor()) == SHOT_GROUP_COLORS["few"]
    assert to_hex(fig.axes[0].patches[69].get_facecolor()) == SHOT_GROUP_COLORS["medium"]
    thresholds = sorted(line.get_ydata()[0] for line in fig.axes[0].get_lines())
    assert thresholds == [20, 100]


def test_shot_groups_rejects_mismatched_groupings():
    with pytest.raises(ValueError, match="entries"):
        plot_shot_groups([5, 4, 3], {"rule": ["many", "few"]})
    with pytest.raises(ValueError, match="at least one"):
        plot_shot_groups([5, 4, 3], {})


def test_image_rows_grid():
    images = torch.randn(7, 1, 8, 8)
    split = LabeledImages(images, torch.zeros(7, dtype=torch.long))
    dataset = ImageDataset("tiny", split, split, ["a"], (0.5,), (0.2,))
    fig = show_image_rows({"ldam": images[:5], "ltdd": images[2:]}, dataset, per_row=4, title="tail")
    assert fig.axes[0].get_gridspec().get_geometry() == (2, 4)
    shown = [len(ax.get_images()) for ax in fig.axes]
    assert shown == [1] * 8
    assert [fig.axes[0].get_ylabel(), fig.axes[4].get_ylabel()] == ["ldam", "ltdd"]
    with pytest.raises(ValueError, match="per_row"):
        show_image_rows({"a": images}, dataset, per_row=0)


def test_counts_table_checks_reference_totals():
    table = counts_table({"β = 100": CIFAR10_B100, "β = 10": longtail_counts(5000, 10, 10)},
                         reference_totals={"β = 100": 12406, "β = 10": 20000}).splitlines()
    assert table[0] == "| split | images per class | smallest class | total | reference total | equal |"
    assert table[2] == ("| β = 100 | 5,000, 2,997, 1,796, 1,077, 645, 387, 232, 139, 83, 50 | 50 | 12,406 "
                        "| 12,406 | yes |")
    assert table[3].endswith("| 20,431 | 20,000 | **no** |")
    short = counts_table({"CIFAR-100-LT β = 100": longtail_counts(500, 100, 100)}, per_class=False)
    assert short.splitlines()[2] == "| CIFAR-100-LT β = 100 | 500 … 5 | 5 | 10,847 |"
