"""The biased-data figures of ltdd.book.viz and the bias-ratio explorer of ltdd.book.widgets: stacked bars equal the
counts of the attribute rule, the heat maps are the class × attribute counts, the gallery is corruptions ×
severities of exactly what ``corrupt`` returns, and the explorer's slider redraws the counts."""

from __future__ import annotations

import sys

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ltdd.book import widgets  # noqa: E402
from ltdd.data import ImageDataset, LabeledImages  # noqa: E402
from ltdd.data.bias import BIAS_COLOURS, BIASED_DD_RATIOS, COLOUR_STDS, assign_attributes, colorize  # noqa: E402
from ltdd.data.corruptions import CORRUPTIONS, corrupt, draw_seeds  # noqa: E402
from ltdd.book.viz import (BIAS_GROUP_COLORS, attribute_count_matrix, corruption_gallery,  # noqa: E402
                           plot_aligned_conflicting, plot_attribute_counts, plot_colour_noise,
                           plot_corruption_gallery, show_aligned_conflicting)

DIGITS_TRAIN = [125, 127, 124, 128, 127, 127, 127, 125, 122, 126]  # the embedded digits' training split


def _labels(counts) -> torch.Tensor:
    """Class labels with the given class sizes, interleaved (not sorted) to exercise the per-class ranks."""
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    return labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))]


def _heights(container) -> list[int]:
    return [int(round(bar.get_height())) for bar in container]


@pytest.fixture
def closed():
    """Every figure made inside the test must be closed in pyplot."""
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before, "viz functions must close their figures in pyplot"


# --------------------------------------------------------------------------------- stacked bars
def test_stacked_bars_equal_the_counts(closed):
    fig = plot_aligned_conflicting([8, 5, 0], [2, 5, 3], class_names=["a", "b", "c"], title="t")
    ax = fig.axes[0]
    low, high = ax.containers
    assert _heights(low) == [8, 5, 0] and _heights(high) == [2, 5, 3]
    assert [bar.get_y() for bar in high] == [8, 5, 0]  # stacked on the aligned bars
    aligned_rgb = matplotlib.colors.to_rgb(BIAS_GROUP_COLORS["aligned"])
    assert low.patches[0].get_facecolor()[:3] == pytest.approx(aligned_rgb)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["bias-aligned: 13, biased rate 0.5652", "bias-conflicting: 10"]
    with pytest.raises(ValueError, match="one entry per class"):
        plot_aligned_conflicting([1, 2], [1])


@pytest.mark.parametrize("ratio", BIASED_DD_RATIOS)
def test_explorer_counts_are_those_of_assign_attributes(ratio):
    labels = _labels(DIGITS_TRAIN)
    attributes = assign_attributes(labels, ratio, 10)
    aligned, conflicting = widgets.aligned_conflicting_counts(DIGITS_TRAIN, ratio)
    matrix = attribute_count_matrix(labels, attributes, 10)
    assert aligned == np.diag(matrix).tolist()
    assert conflicting == (matrix.sum(axis=1) - np.diag(matrix)).tolist()


def test_explorer_counts_reproduce_the_cifar10_reference():
    """CIFAR-10 (5,000 per class): 4,750 aligned per class at r = 0.95, none at 0, all at 1, 500 at 0.1."""
    for ratio, per_class in {0.0: 0, 0.1: 500, 0.5: 2500, 0.8: 4000, 0.95: 4750, 1.0: 5000}.items():
        aligned, conflicting = widgets.aligned_conflicting_counts([5000] * 10, ratio)
        assert aligned == [per_class] * 10 and conflicting == [5000 - per_class] * 10
    with pytest.raises(ValueError, match="whole numbers"):
        widgets.aligned_conflicting_counts([5000.5] * 10, 0.5)
    with pytest.raises(ValueError, match="bias_ratio"):
        widgets.aligned_conflicting_counts([5000] * 10, 1.5)


# --------------------------------------------------------------------------------- the explorer
def test_explorer_static_figure_outside_a_kernel(closed):
    assert not widgets.in_kernel()
    fig = widgets.bias_ratio_explorer(DIGITS_TRAIN, bias_ratio=0.95)
    assert isinstance(fig, Figure)
    low, high = fig.axes[0].containers
    assert _heights(low) == [119, 120, 118, 122, 120, 120, 121, 119, 116, 120]
    assert sum(_heights(low)) == 1195 and sum(_heights(high)) == 63  # what cdigits reports
    assert [a + b for a, b in zip(_heights(low), _heights(high))] == DIGITS_TRAIN
    assert "r = 0.95" in fig.axes[0].get_title()


def test_explorer_static_figure_when_ipywidgets_is_missing(monkeypatch, closed):
    monkeypatch.setattr(widgets, "in_kernel", lambda: True)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    fig = widgets.bias_ratio_explorer()  # CIFAR-10's class sizes by default
    assert isinstance(fig, Figure) and _heights(fig.axes[0].containers[0]) == [4750] * 10
    with pytest.raises(ImportError, match="ipywidgets"):
        widgets.bias_ratio_explorer(interactive=True)


def test_explorer_slider_redraws_the_counts(monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    monkeypatch.setattr(widgets, "in_kernel", lambda: True)
    explorer = widgets.bias_ratio_explorer(DIGITS_TRAIN, bias_ratio=0.95, class_names=list("0123456789"))
    assert isinstance(explorer, ipywidgets.interactive)
    (slider,) = explorer.kwargs_widgets
    assert isinstance(slider, ipywidgets.FloatSlider) and (slider.min, slider.max) == (0.0, 1.0)
    expected = widgets.aligned_conflicting_counts(DIGITS_TRAIN, 0.95)
    assert _heights(explorer.result.axes[0].containers[0]) == expected[0]

    for ratio in (0.5, 0.1, 0.0, 0.8):  # what moving the slider does: the callback runs and redraws
        slider.value = ratio
        low, high = explorer.result.axes[0].containers
        assert (_heights(low), _heights(high)) == widgets.aligned_conflicting_counts(DIGITS_TRAIN, ratio)
    slider.value = 1.0
    assert sum(_heights(explorer.result.axes[0].containers[1])) == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"bias_ratio": -0.1}, "bias_ratio"),
    ({"class_counts": [5]}, "num_classes"),
    ({"class_counts": [5, -1]}, "class_counts"),
    ({"step": 0}, "step"),
    ({"class_names": ["a"]}, "class_names"),
])
def test_explorer_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        widgets.bias_ratio_explorer(interactive=False, **kwargs)


# ------------------------------------------------------------------------------ attribute heat maps
def test_attribute_heat_maps_show_the_class_attribute_counts(closed):
    labels = _labels(DIGITS_TRAIN)
    panels = {"train": (labels, assign_attributes(labels, 0.95, 10)),
              "test": (labels, assign_attributes(labels, 0.0, 10))}
    fig = plot_attribute_counts(panels, 10)
    assert len(fig.axes) == 2
    for ax, (labels_, attributes) in zip(fig.axes, panels.values()):
        matrix = attribute_count_matrix(labels_, attributes, 10)
        assert np.array_equal(ax.get_images()[0].get_array(), matrix)
        assert matrix.sum(axis=1).tolist() == DIGITS_TRAIN
        assert sum(int(t.get_text().replace(",", "")) for t in ax.texts) == len(labels)
    assert np.trace(attribute_count_matrix(*panels["test"], 10)) == 0  # ratio 0: all conflicting
    assert "1,195 aligned, 63 conflicting" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="lie in"):
        attribute_count_matrix(torch.tensor([0, 3]), torch.tensor([0, 1]), 3)


# ------------------------------------------------------------------------- aligned / conflicting grid
def test_aligned_conflicting_grid(closed):
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 1, 2])
    attributes = torch.tensor([0, 1, 0, 1, 2, 0, 1, 2])
    pixels = torch.rand(8, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    coloured = colorize(pixels, attributes, severity=4)
    split = LabeledImages(coloured, labels, attributes)
    data = ImageDataset("tiny", split, split, ["zero", "one", "two"], (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    fig = show_aligned_conflicting(coloured, labels, attributes, data, per_group=2)
    axes = fig.axes
    assert axes[0].get_gridspec().get_geometry() == (3, 4)
    shown = [[bool(axes[r * 4 + j].get_images()) for j in range(4)] for r in range(3)]
    assert shown == [[True, True, True, False], [True, True, True, True], [True, False, False, False]]
    # the first aligned image of class 0 is image 0, its first conflicting one is image 1 (attribute 1)
    assert np.allclose(axes[0].get_images()[0].get_array(), coloured[0].permute(1, 2, 0).numpy())
    assert np.allclose(axes[2].get_images()[0].get_array(), coloured[1].permute(1, 2, 0).numpy())
    assert axes[2].get_xlabel() == "a=1" and axes[0].get_xlabel() == ""
    assert {t.get_text() for t in fig.texts} == {"bias-aligned", "bias-conflicting"}
    with pytest.raises(ValueError, match="per_group"):
        show_aligned_conflicting(coloured, labels, attributes, data, per_group=0)


# ------------------------------------------------------------------------------------ colour noise
def test_colour_noise_panels_shrink_with_severity(closed):
    fig = plot_colour_noise(samples=64, seed=1)
    assert len(fig.axes) == 4
    spreads = []
    for ax, (severity, std) in zip(fig.axes, COLOUR_STDS.items()):
        colours = np.asarray(ax.get_images()[0].get_array())
        assert colours.shape == (10, 64, 3)
        assert f"std {std:g}" in ax.get_title()
        assert np.abs(colours.mean(axis=1) - BIAS_COLOURS.numpy()).max() < 4 * std  # centred on the colours
        spreads.append(float(colours.std(axis=1).mean()))
    assert spreads == sorted(spreads, reverse=True)  # severity 1 jitters most, severity 4 least
    with pytest.raises(ValueError, match="severity"):
        plot_colour_noise(severities=(5,))


# ------------------------------------------------------------------------------------------ gallery
@pytest.fixture(scope="module")
def photos() -> torch.Tensor:
    return torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))


def test_gallery_is_corruptions_times_severities(photos):
    gallery = corruption_gallery(photos, frost_textures="procedural")
    assert gallery.shape == (len(CORRUPTIONS), 4, 2, 3, 32, 32)
    assert 0 <= gallery.min() and gallery.max() <= 1
    seeds = draw_seeds(2, torch.Generator().manual_seed(0))
    for k in (0, 6):  # snow and elastic: random, but seeded per image
        assert torch.equal(gallery[k, 2], corrupt(photos, CORRUPTIONS[k], 4, seeds=seeds))
    brightness = CORRUPTIONS.index("brightness")
    assert torch.equal(gallery[brightness, 0], corrupt(photos, "brightness", 2))  # severity 1 is level 2
    uint8 = corruption_gallery((photos * 255).round().to(torch.uint8), severities=(4,), corruptions=["jpeg"])
    assert uint8.shape == (1, 1, 2, 3, 32, 32) and uint8.dtype == torch.float32
    with pytest.raises(ValueError, match="severities"):
        corruption_gallery(photos, severities=(5,))
    with pytest.raises(ValueError, match="RGB"):
        corruption_gallery(photos[:, :1])


def test_gallery_figure(photos, closed):
    names = ["brightness", "contrast", "jpeg"]
    fig = plot_corruption_gallery(photos, severities=(1, 4), corruptions=names,
                                  class_names=["cat", "deer", "horse"])
    axes = fig.axes
    assert axes[0].get_gridspec().get_geometry() == (3, 3)  # corruptions × (clean + severities)
    clean = np.asarray(axes[0].get_images()[0].get_array())
    assert clean.shape == (32, 2 * 33 - 1, 3)
    assert np.allclose(clean[:, :32], photos[0].permute(1, 2, 0).numpy())
    assert np.all(clean[:, 32] == 1)  # a white column between the images
    cell = np.asarray(axes[1 * 3 + 2].get_images()[0].get_array())  # contrast, severity 4 = level 5
    assert np.allclose(cell[:, 33:], corrupt(photos[1:], "contrast", 5)[0].permute(1, 2, 0).numpy())
    assert [axes[j].get_title() for j in range(3)] == ["clean", "severity 1 (level 2)", "severity 4 (level 5)"]
    assert axes[3].get_ylabel() == "contrast (deer)"


def test_a_real_kernel_gets_the_bias_ratio_widget():
    """What the chapter's skip-execution widget cell does in Jupyter: run it in a fresh ipykernel."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("ipywidgets")
    code = ("from ltdd.book.widgets import bias_ratio_explorer, in_kernel\n"
            "print(in_kernel())\n"
            f"bias_ratio_explorer({DIGITS_TRAIN}, bias_ratio=0.95)")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    assert outputs[0]["text"].strip() == "True"
    assert "application/vnd.jupyter.widget-view+json" in outputs[-1]["data"]
