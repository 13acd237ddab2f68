"""Interactive explorers for the chapters, each with a static fallback.

A widget needs a running kernel: on a rendered book page (or in any output without a kernel) a slider
could be moved but the Python callback behind it would never run, so the figure would stay at its first
value. The chapters therefore draw a plain static figure for the book and offer the widget as an extra,
and every explorer here returns

- an ``ipywidgets`` widget when ``ipywidgets`` imports and the code runs inside an IPython kernel
  (Jupyter, JupyterLab, VS Code, Colab), and
- otherwise a static :class:`matplotlib.figure.Figure` drawn at the given values.

``interactive=True`` or ``False`` forces one or the other.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

from matplotlib.figure import Figure

from ..data.longtail import COUNT_RULES, longtail_counts
from .viz.counts import plot_class_counts

RULE_LABELS = {"exp": "β^(−i/(C−1))  (the code)", "paper": "β^(−c/C)  (some papers)"}
"""How the explorer names the two count rules of :func:`ltdd.data.longtail.longtail_counts`."""

MAX_IMBALANCE = 1000.0
"""Upper end of the β slider (further capped so that the smallest class keeps at least one image)."""


def _drawn(explorer):
    """``explorer`` with its figure drawn: ipywidgets 8 draws an ``interactive`` when it is made, 7.7 (Colab's)
    only when it is first displayed; drawing it here gives ``explorer.result`` under both."""
    if explorer.result is None:
        explorer.update()
    return explorer


def ipywidgets_available() -> bool:
    """Whether ``ipywidgets`` can be imported. Machinery behind chapter 02."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def in_kernel() -> bool:
    """Whether this code runs inside an IPython kernel (a notebook frontend may be listening).

    Machinery behind chapter 02."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def widgets_available() -> bool:
    """``ipywidgets`` imports *and* a kernel is running: the condition for returning a widget.

    Machinery behind chapter 02."""
    return ipywidgets_available() and in_kernel()


def class_size_figure(num_classes: int = 10, n_max: int = 5000, imbalance: float = 100,
                      rule: str = "exp", log: bool = False) -> Figure:
    """The histogram the explorer shows: images per class of one long-tailed split, as bars.

    The title gives β, the total and the smallest class; the bar heights are
    ``longtail_counts(n_max, num_classes, imbalance, rule)``.

    Machinery behind chapter 02.
    """
    counts = longtail_counts(n_max, num_classes, imbalance, rule)
    title = (f"C = {num_classes}, n_max = {n_max:,}, β = {imbalance:.4g}: {sum(counts):,} images, "
             f"smallest class {counts[-1]:,}")
    return plot_class_counts({RULE_LABELS.get(rule, rule): counts}, title=title, log=log)


def imbalance_explorer(num_classes: int = 10, n_max: int = 5000, imbalance: float = 100,
                       rule: str = "exp", log: bool = False, *, interactive: bool | None = None,
                       max_imbalance: float | None = None) -> Any:
    """A histogram of class sizes with a slider for the imbalance factor β (and the count rule).

    Returns an ``ipywidgets.interactive`` (a slider for β on a log scale, a choice of count rule, a
    log-axis switch, and the figure) when ``interactive`` is ``True``, or when it is ``None`` and
    :func:`widgets_available`; otherwise the static :func:`class_size_figure` at the given values.
    The widget's ``result`` attribute holds the figure last drawn.

    ``max_imbalance`` is the slider's upper end (default: :data:`MAX_IMBALANCE`, at most ``n_max / 2`` so
    that the smallest class keeps at least one image under either rule). Raises ``ValueError`` for
    arguments :func:`~ltdd.data.longtail.longtail_counts` rejects or a β beyond ``max_imbalance``;
    ``ImportError`` when ``interactive=True`` and ``ipywidgets`` is missing.

    Introduced in chapter 02.
    """
    longtail_counts(n_max, num_classes, imbalance, rule)  # validates all four arguments
    beta = float(imbalance)
    top = min(MAX_IMBALANCE, n_max / 2) if max_imbalance is None else max_imbalance
    if not isinstance(top, Real) or isinstance(top, bool) or not math.isfinite(top) or top < beta:
        raise ValueError(f"max_imbalance={top!r} must be a finite number >= imbalance={imbalance!r} "
                         f"(default: min({MAX_IMBALANCE:g}, n_max / 2))")
    top = float(top)
    for candidate in COUNT_RULES:  # every β the slider can reach must leave an image in every class
        longtail_counts(n_max, num_classes, top, candidate)

    if interactive is None:
        interactive = widgets_available()
    if not interactive:
        return class_size_figure(num_classes, n_max, beta, rule, log)
    try:
        import ipywidgets as widgets
    except ImportError as error:
        raise ImportError("interactive=True needs ipywidgets (pip install ipywidgets); "
                          "interactive=None falls back to a static figure") from error

    slider = widgets.FloatLogSlider(value=beta, base=10, min=0.0, max=math.log10(top), step=0.01,
                                    description="β", continuous_update=False, readout_format=".3g")
    choice = widgets.Dropdown(options=[(RULE_LABELS[r], r) for r in COUNT_RULES], value=rule,
                              description="rule")
    switch = widgets.Checkbox(value=log, description="log axis")

    def draw(imbalance: float, rule: str, log: bool) -> Figure:
        return class_size_figure(num_classes, n_max, imbalance, rule, log)

    return _drawn(widgets.interactive(draw, {"auto_display": True}, imbalance=slider, rule=choice, log=switch))


__all__ = ["MAX_IMBALANCE", "RULE_LABELS", "class_size_figure", "imbalance_explorer", "in_kernel",
           "ipywidgets_available", "widgets_available"]


# ---- biased data
def aligned_conflicting_counts(class_counts, bias_ratio: float) -> tuple[list[int], list[int]]:
    """Per class, how many images the LfF / Biased-DD attribute rule makes bias-aligned and how many
    bias-conflicting, from the class sizes alone (no images, no labels).

    Class ``c``'s aligned images are its attribute-``c`` block, ``M[c, c] - M[c, c - 1]`` with the milestones
    ``M`` of :func:`ltdd.data.bias.attribute_milestones`; the rest of the class is conflicting. This is
    exactly what :func:`~ltdd.data.bias.assign_attributes` produces for labels with these class sizes.

    Introduced in chapter 03.
    """
    import numpy as np

    from ..data.bias import attribute_milestones

    values = list(class_counts)
    counts = [int(n) for n in values]
    if any(n != m for n, m in zip(counts, values)):
        raise ValueError(f"class_counts must be whole numbers, got {class_counts!r}")
    milestones = attribute_milestones(counts, bias_ratio, len(counts))  # validates counts and ratio
    starts = np.concatenate([np.zeros((len(counts), 1), dtype=np.int64), milestones[:, :-1]], axis=1)
    aligned = [int(milestones[c, c] - starts[c, c]) for c in range(len(counts))]
    return aligned, [n - a for n, a in zip(counts, aligned)]


def bias_counts_figure(class_counts, bias_ratio: float = 0.95, class_names=None,
                       ylabel: str = "training images") -> Figure:
    """The figure the bias-ratio explorer shows: stacked aligned / conflicting bars per class at one ratio.

    The bar heights are :func:`aligned_conflicting_counts`; the title gives ``r`` and the biased rate.

    Introduced in chapter 03.
    """
    from .viz.counts import plot_aligned_conflicting

    aligned, conflicting = aligned_conflicting_counts(class_counts, bias_ratio)
    total = sum(aligned) + sum(conflicting)
    rate = f"{sum(aligned) / total:.4f}" if total else "undefined"
    title = (f"bias ratio r = {float(bias_ratio):.2f}: {sum(aligned):,} aligned, {sum(conflicting):,} "
             f"conflicting (biased rate {rate})")
    return plot_aligned_conflicting(aligned, conflicting, class_names=class_names, title=title, ylabel=ylabel)


def bias_ratio_explorer(class_counts=(5000,) * 10, bias_ratio: float = 0.95, class_names=None, *,
                        interactive: bool | None = None, step: float = 0.01) -> Any:
    """Stacked bars of bias-aligned and bias-conflicting images per class, with a slider for the ratio.

    ``class_counts``: the class sizes (default: CIFAR-10's training set, 5,000 per class). Returns an
    ``ipywidgets.interactive`` (a slider for ``r`` from 0 to 1 in steps of ``step``, and the figure) when
    ``interactive`` is ``True``, or when it is ``None`` and :func:`widgets_available`; otherwise the static
    :func:`bias_counts_figure` at ``bias_ratio``. The widget's ``result`` holds the figure last drawn.
    Raises ``ValueError`` for counts or a ratio the attribute rule rejects; ``ImportError`` when
    ``interactive=True`` and ``ipywidgets`` is missing.

    Introduced in chapter 03.
    """
    counts = list(class_counts)
    aligned_conflicting_counts(counts, bias_ratio)  # validates the counts and the ratio
    if not isinstance(step, Real) or isinstance(step, bool) or not 0 < step <= 0.5:
        raise ValueError(f"step must be a number in (0, 0.5], got {step!r}")
    if class_names is not None and len(class_names) != len(counts):
        raise ValueError(f"class_names has {len(class_names)} entries but there are {len(counts)} classes")
    if interactive is None:
        interactive = widgets_available()
    if not interactive:
        return bias_counts_figure(counts, bias_ratio, class_names)
    try:
        import ipywidgets as widgets
    except ImportError as error:
        raise ImportError("interactive=True needs ipywidgets (pip install ipywidgets); "
                          "interactive=None falls back to a static figure") from error

    slider = widgets.FloatSlider(value=float(bias_ratio), min=0.0, max=1.0, step=float(step),
                                 description="bias ratio r", continuous_update=False, readout_format=".2f",
                                 style={"description_width": "initial"})

    def draw(bias_ratio: float) -> Figure:  # slider floats such as 0.9500000000000001 back to 0.95
        return bias_counts_figure(counts, round(bias_ratio, 10), class_names)

    return _drawn(widgets.interactive(draw, {"auto_display": True}, bias_ratio=slider))


__all__ += ["aligned_conflicting_counts", "bias_counts_figure", "bias_ratio_explorer"]
