"""The figure of :mod:`ltdd.features`: real and synthetic features on one map, one panel per method (the shape of
DSDM's Fig. 7).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import Tensor


def _class_colours(n: int) -> list:
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _check_points(method: str, points, num_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(points, (tuple, list)) or len(points) != 4:
        raise ValueError(f"points_by_method[{method!r}] must be (real_xy, synthetic_xy, real_labels, "
                         f"synthetic_labels)")
    real, syn = (np.asarray(p, dtype=float) for p in points[:2])
    labels = [np.asarray(p.cpu() if isinstance(p, Tensor) else p).astype(int).ravel() for p in points[2:]]
    for kind, xy, y in (("real", real, labels[0]), ("synthetic", syn, labels[1])):
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"{method!r}: {kind} points must have shape (n, 2), got {xy.shape}")
        if len(y) != len(xy):
            raise ValueError(f"{method!r}: {len(xy)} {kind} points but {len(y)} {kind} labels")
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{method!r}: {kind} labels must lie in [0, {num_classes - 1}] (class_names)")
    return real, syn, labels[0], labels[1]


def plot_real_vs_synthetic(points_by_method: Mapping[str, tuple], class_names: Sequence[str],
                           title: str | None = None) -> Figure:
    """Real and synthetic feature maps side by side, one panel per method, coloured by class.

    ``points_by_method`` maps a method's name to ``(real_xy, synthetic_xy, real_labels, synthetic_labels)``,
    2-D points (e.g. from one :func:`ltdd.features.tsne_2d` fit, so that all panels share coordinates) and
    class indices. Real features are small faint dots, synthetic ones large markers with a black outline, as in
    DSDM's Fig. 7. The figure is closed in pyplot, so a notebook shows it once, as the cell's value.

    Introduced in chapter 07.
    """
    if not points_by_method:
        raise ValueError("points_by_method must map at least one method to its points")
    names = list(class_names)
    if not names:
        raise ValueError("class_names must not be empty")
    panels = {method: _check_points(method, points, len(names)) for method, points in points_by_method.items()}
    colours = np.array(_class_colours(len(names)))
    count = len(panels)
    fig, axes = plt.subplots(1, count, figsize=(4.2 * count + 1.4, 4.4), squeeze=False, sharex=True,
                             sharey=True, layout="constrained")
    for ax, (method, (real, syn, real_labels, syn_labels)) in zip(axes[0], panels.items()):
        ax.scatter(real[:, 0], real[:, 1], s=8, c=colours[real_labels], alpha=0.35, linewidths=0, zorder=1)
        size = 60 if len(syn) <= 20 * len(names) else 35  # smaller markers when there are many
        ax.scatter(syn[:, 0], syn[:, 1], s=size, c=colours[syn_labels], edgecolors="black", linewidths=0.7,
                   marker="o", alpha=0.85, zorder=2)
        ax.set_title(f"{method}: {len(syn)} synthetic, {len(real)} real", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Line2D([], [], linestyle="", marker="o", markersize=6, color=colours[c], label=str(name))
               for c, name in enumerate(names)]
    handles += [Line2D([], [], linestyle="", marker="o", markersize=3, color="grey", alpha=0.5, label="real"),
                Line2D([], [], linestyle="", marker="o", markersize=7, markerfacecolor="white",
                       markeredgecolor="black", label="synthetic")]
    fig.legend(handles=handles, loc="outside right center", fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    plt.close(fig)
    return fig


__all__ = ["plot_real_vs_synthetic"]
