"""ltdd.book.widgets: the β explorer returns a live widget in a kernel and a static figure everywhere else."""

from __future__ import annotations

import sys

import matplotlib
import pytest

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from ltdd.book import widgets  # noqa: E402
from ltdd.data.longtail import longtail_counts  # noqa: E402


def _heights(fig: Figure) -> list[int]:
    return [int(round(bar.get_height())) for bar in fig.axes[0].patches]


def test_static_figure_outside_a_kernel():
    assert not widgets.in_kernel()  # pytest runs no IPython kernel
    fig = widgets.imbalance_explorer(num_classes=10, n_max=5000, imbalance=100)
    assert isinstance(fig, Figure)
    assert _heights(fig) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    assert "12,406 images" in fig.axes[0].get_title()


def test_static_figure_when_ipywidgets_is_missing(monkeypatch):
    monkeypatch.setattr(widgets, "in_kernel", lambda: True)  # a kernel, but ...
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # ... `import ipywidgets` raises ImportError
    assert not widgets.ipywidgets_available()
    assert not widgets.widgets_available()
    fig = widgets.imbalance_explorer(num_classes=100, n_max=500, imbalance=100)
    assert isinstance(fig, Figure)
    assert _heights(fig) == longtail_counts(500, 100, 100)
    with pytest.raises(ImportError, match="ipywidgets"):
        widgets.imbalance_explorer(interactive=True)


def test_widget_in_a_kernel_redraws_the_counts(monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    monkeypatch.setattr(widgets, "in_kernel", lambda: True)
    explorer = widgets.imbalance_explorer(num_classes=10, n_max=5000, imbalance=100)
    assert isinstance(explorer, ipywidgets.interactive)
    slider, rule, log_switch = explorer.kwargs_widgets
    assert isinstance(slider, ipywidgets.FloatLogSlider)
    assert slider.value == pytest.approx(100) and slider.max == pytest.approx(3.0)  # β up to 10^3
    assert _heights(explorer.result) == longtail_counts(5000, 10, 100)  # drawn once on creation

    slider.value = 10  # what moving the slider does: the callback runs and redraws
    assert _heights(explorer.result) == longtail_counts(5000, 10, 10)
    assert sum(_heights(explorer.result)) == 20431
    rule.value = "paper"
    assert _heights(explorer.result) == longtail_counts(5000, 10, 10, rule="paper")
    log_switch.value = True
    assert explorer.result.axes[0].get_yscale() == "log"


def test_interactive_flag_overrides_the_detection(monkeypatch):
    pytest.importorskip("ipywidgets")
    monkeypatch.setattr(widgets, "in_kernel", lambda: True)
    assert isinstance(widgets.imbalance_explorer(interactive=False), Figure)
    monkeypatch.setattr(widgets, "in_kernel", lambda: False)
    assert not isinstance(widgets.imbalance_explorer(interactive=True), Figure)


def test_figures_are_closed_in_pyplot():
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    widgets.imbalance_explorer(interactive=False)
    widgets.class_size_figure(10, 122, 10)
    assert set(plt.get_fignums()) == before


@pytest.mark.parametrize("kwargs, match", [
    ({"imbalance": 0.5}, "imbalance"),
    ({"num_classes": 1}, "num_classes"),
    ({"rule": "linear"}, "rule"),
    ({"imbalance": 2000}, "max_imbalance"),  # default slider end for n_max 5000 is 1000
    ({"n_max": 122, "imbalance": 100}, "max_imbalance"),  # at most n_max / 2 = 61
    ({"imbalance": 10, "max_imbalance": 5}, "max_imbalance"),
    ({"max_imbalance": 10_000}, "too large"),  # the smallest class would keep no image
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        widgets.imbalance_explorer(interactive=False, **kwargs)


def test_a_real_kernel_gets_the_widget():
    """What the chapter's widget cell does in Jupyter: run it in a fresh ipykernel (the chapter tags the cell
    skip-execution, so neither nbmake nor the book build executes it)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("ipywidgets")
    code = ("from ltdd.book.widgets import imbalance_explorer, in_kernel\n"
            "print(in_kernel())\n"
            "imbalance_explorer(num_classes=10, n_max=5000, imbalance=100)")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    assert outputs[0]["text"].strip() == "True"
    assert "application/vnd.jupyter.widget-view+json" in outputs[-1]["data"]
