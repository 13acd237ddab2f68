"""What a training set holds: images per class (long-tailed counts, shot groups), bias-aligned and
bias-conflicting images per class, the class-by-attribute count matrix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from ...markdown import markdown_table
from .core import BIAS_GROUP_COLORS, OTHER_GROUP_COLOR, SHOT_GROUP_COLORS, as_long_cpu, finish_figure, palette


def _count_series(counts: Mapping[str, Sequence[int]] | Sequence[int]) -> dict[str, list[int]]:
    """``{label: counts}`` from a mapping or a single sequence (labelled "training images")."""
    series = dict(counts) if isinstance(counts, Mapping) else {"training images": counts}
    series = {str(label): [int(n) for n in values] for label, values in series.items()}
    if not series or any(not values for values in series.values()):
        raise ValueError("counts must hold at least one non-empty sequence of class counts")
    lengths = {len(values) for values in series.values()}
    if len(lengths) != 1:
        raise ValueError(f"every count sequence must have one entry per class; lengths differ: {sorted(lengths)}")
    if any(n < 0 for values in series.values() for n in values):
        raise ValueError("class counts must not be negative")
    return series


def _log_count_axis(ax) -> None:
    """A logarithmic y axis for counts, labelled with plain numbers at 1, 2 and 5 times powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:,.0f}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _class_axis(ax, num_classes: int, class_names: Sequence[str] | None) -> None:
    names = [str(c) for c in range(num_classes)] if class_names is None else [str(n) for n in class_names]
    if len(names) != num_classes:
        raise ValueError(f"class_names has {len(names)} entries but the counts have {num_classes}")
    step = max(1, math.ceil(num_classes / 25))
    if step > 1:
        style = {"rotation": 90}
    elif max(len(n) for n in names) > 4:  # words (CIFAR's "automobile") would overlap side by side
        style = {"rotation": 30, "ha": "right", "rotation_mode": "anchor"}
    else:
        style = {"rotation": 0}
    ax.set_xticks(range(0, num_classes, step), names[::step], **style)
    ax.set_xlim(-0.6, num_classes - 0.4)
    ax.set_xlabel("class")


def plot_class_counts(counts: Mapping[str, Sequence[int]] | Sequence[int],
                      class_names: Sequence[str] | None = None, title: str | None = None,
                      log: bool = False, ylabel: str = "training images") -> Figure:
    """Bars of training images per class: one group per class, one bar per count series.

    ``counts`` is one sequence (one bar per class) or ``{label: counts}`` (grouped bars, the legend gives
    each series' total). ``log=True`` puts the counts on a logarithmic axis, where an exponential profile
    is a straight staircase; ``ylabel`` names the axis. The bar heights are exactly the counts.

    Introduced in chapter 02.
    """
    series = _count_series(counts)
    num_classes = len(next(iter(series.values())))
    fig, ax = plt.subplots(figsize=(min(14.0, max(5.5, 0.12 * num_classes * len(series) + 3)), 3.4),
                           layout="constrained")
    width = 0.8 / len(series)
    for k, ((label, values), color) in enumerate(zip(series.items(), palette(len(series)))):
        xs = [c + (k - (len(series) - 1) / 2) * width for c in range(num_classes)]
        ax.bar(xs, values, width=width, color=color, label=f"{label}: {sum(values):,} images")
    _class_axis(ax, num_classes, class_names)
    ax.set_ylabel(ylabel)
    if log:
        _log_count_axis(ax)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return finish_figure(fig)


def plot_shot_groups(counts: Sequence[int], groupings: Mapping[str, Sequence[str]],
                     thresholds: Sequence[int] = (20, 100), class_names: Sequence[str] | None = None,
                     title: str | None = None, log: bool = True) -> Figure:
    """The classes coloured by group, one panel per grouping rule (all panels share the counts).

    ``groupings`` maps a rule's name to one group name per class, e.g. the output of
    :func:`ltdd.data.longtail.shot_groups` or :func:`~ltdd.data.longtail.index_range_groups`. Bars are
    coloured with :data:`~ltdd.book.viz.core.SHOT_GROUP_COLORS`; dashed lines mark ``thresholds`` (OLTR's 20 and 100
    images); each panel's legend says how many classes fall in each group.

    Introduced in chapter 02.
    """
    from matplotlib.patches import Patch

    if isinstance(counts, Mapping):
        raise ValueError("counts must be one sequence of class counts, not a mapping")
    values = _count_series(counts)["training images"]
    if not groupings:
        raise ValueError("groupings must map at least one rule name to a list of group names")
    for name, groups in groupings.items():
        if len(groups) != len(values):
            raise ValueError(f"grouping {name!r} has {len(groups)} entries but there are {len(values)} classes")
    fig, axes = plt.subplots(len(groupings), 1, figsize=(min(14.0, max(5.5, 0.1 * len(values) + 4)),
                                                         0.4 + 2.3 * len(groupings)),
                             squeeze=False, sharex=True, layout="constrained")
    for ax, (name, groups) in zip(axes[:, 0], groupings.items()):
        colors = [SHOT_GROUP_COLORS.get(g, OTHER_GROUP_COLOR) for g in groups]
        ax.bar(range(len(values)), values, width=0.85, color=colors)
        for level in thresholds:
            ax.axhline(level, color="black", linestyle="--", linewidth=0.8, alpha=0.6)
        present = [g for g in SHOT_GROUP_COLORS if g in groups] + \
                  [g for g in dict.fromkeys(groups) if g not in SHOT_GROUP_COLORS]
        handles = [Patch(color=SHOT_GROUP_COLORS.get(g, OTHER_GROUP_COLOR),
                         label=f"{g}: {list(groups).count(g)}") for g in present]
        ax.legend(handles=handles, fontsize=8, title=name, title_fontsize=8, loc="upper right")
        ax.set_ylabel("training images")
        if log:
            _log_count_axis(ax)
        ax.grid(axis="y", alpha=0.3)
    _class_axis(axes[-1, 0], len(values), class_names)
    for ax in axes[:-1, 0]:
        ax.set_xlabel("")
    if title:
        fig.suptitle(title)
    return finish_figure(fig)


def counts_table(counts: Mapping[str, Sequence[int]], reference_totals: Mapping[str, int] | None = None,
                 per_class: bool = True) -> str:
    """A Markdown table of class counts: one row per ``{label: counts}`` entry.

    Columns: the counts (every class, or ``largest … smallest`` when ``per_class=False``), the smallest
    class, the total, and, with ``reference_totals`` (``{label: total}``, e.g. the totals of the public
    splits), the reference total and whether the two agree ("–" for a label without one).

    Introduced in chapter 02.
    """
    series = _count_series(counts)
    header = ["split", "images per class" if per_class else "largest … smallest", "smallest class", "total"]
    if reference_totals is not None:
        header += ["reference total", "equal"]
    rows = []
    for label, values in series.items():
        shown = ", ".join(f"{n:,}" for n in values) if per_class else f"{values[0]:,} … {values[-1]:,}"
        row = [label, shown, f"{min(values):,}", f"{sum(values):,}"]
        if reference_totals is not None:
            reference = reference_totals.get(label)
            row += ["–", "–"] if reference is None else \
                [f"{reference:,}", "yes" if reference == sum(values) else "**no**"]
        rows.append(row)
    return markdown_table(header, rows)


def plot_aligned_conflicting(aligned: Sequence[int], conflicting: Sequence[int],
                             class_names: Sequence[str] | None = None, title: str | None = None,
                             ylabel: str = "training images") -> Figure:
    """Stacked bars per class: bias-aligned images at the bottom, bias-conflicting ones on top.

    The bottom bar of class ``c`` is exactly ``aligned[c]`` high and the top one ``conflicting[c]``
    (``ax.containers[0]`` and ``[1]``); the legend gives both totals and the biased rate
    ``aligned / (aligned + conflicting)``.

    Machinery behind chapter 00.
    """
    series = _count_series({"aligned": aligned, "conflicting": conflicting})
    low, high = series["aligned"], series["conflicting"]
    num_classes = len(low)
    total = sum(low) + sum(high)
    fig, ax = plt.subplots(figsize=(min(14.0, max(5.5, 0.12 * num_classes + 4)), 3.4), layout="constrained")
    rate = f", biased rate {sum(low) / total:.4f}" if total else ""
    ax.bar(range(num_classes), low, width=0.8, color=BIAS_GROUP_COLORS["aligned"],
           label=f"bias-aligned: {sum(low):,}{rate}")
    ax.bar(range(num_classes), high, width=0.8, bottom=low, color=BIAS_GROUP_COLORS["conflicting"],
           label=f"bias-conflicting: {sum(high):,}")
    _class_axis(ax, num_classes, class_names)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title)
    return finish_figure(fig)


def attribute_count_matrix(labels: Tensor, attributes: Tensor, num_classes: int) -> np.ndarray:
    """``M[y, a]``: how many images of class ``y`` carry attribute ``a``, shape ``(C, C)`` (int64).

    The diagonal holds the bias-aligned images, everything off it the bias-conflicting ones.

    Introduced in chapter 03.
    """
    labels, attributes = as_long_cpu(labels, "labels"), as_long_cpu(attributes, "attributes")
    if labels.shape != attributes.shape:
        raise ValueError(f"labels and attributes differ in length: {len(labels)} and {len(attributes)}")
    both = torch.cat([labels, attributes])
    if len(both) and (both.min() < 0 or both.max() >= num_classes):
        raise ValueError(f"labels and attributes must lie in [0, {num_classes})")
    flat = torch.bincount(labels * num_classes + attributes, minlength=num_classes * num_classes)
    return flat.view(num_classes, num_classes).numpy().astype(np.int64)


def plot_attribute_counts(panels: Mapping[str, tuple[Tensor, Tensor]], num_classes: int,
                          attribute_names: Sequence[str] | None = None, title: str | None = None) -> Figure:
    """One heat map per ``{label: (labels, attributes)}``: images per class (rows) and attribute (columns).

    Every cell is annotated with its count (:func:`attribute_count_matrix`, which is also the image the
    panel shows); the diagonal (bias-aligned) cells are outlined. Each panel has its own colour scale.

    Introduced in chapter 03.
    """
    from matplotlib.patches import Rectangle

    if not panels:
        raise ValueError("panels must map at least one label to (labels, attributes)")
    names = [str(a) for a in range(num_classes)] if attribute_names is None else [str(a) for a in attribute_names]
    if len(names) != num_classes:
        raise ValueError(f"attribute_names has {len(names)} entries, expected {num_classes}")
    side = min(4.2, 1.4 + 0.3 * num_classes)
    fig, axes = plt.subplots(1, len(panels), figsize=(side * len(panels), side + 0.6), squeeze=False,
                             layout="constrained")
    annotate = num_classes <= 20
    for ax, (label, (labels, attributes)) in zip(axes[0], panels.items()):
        matrix = attribute_count_matrix(labels, attributes, num_classes)
        top = max(1, int(matrix.max()))
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=top, interpolation="nearest")
        if annotate:
            for y in range(num_classes):
                for a in range(num_classes):
                    value = int(matrix[y, a])
                    ax.text(a, y, f"{value:,}", ha="center", va="center", fontsize=6,
                            color="white" if value > top / 2 else "black")
        for c in range(num_classes):
            ax.add_patch(Rectangle((c - 0.5, c - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=0.8))
        step = max(1, math.ceil(num_classes / 20))
        ax.set_xticks(range(0, num_classes, step), names[::step], fontsize=7)
        ax.set_yticks(range(0, num_classes, step), [str(c) for c in range(0, num_classes, step)], fontsize=7)
        ax.set_xlabel("attribute")
        ax.set_ylabel("class")
        aligned = int(np.trace(matrix))
        ax.set_title(f"{label}\n{aligned:,} aligned, {int(matrix.sum()) - aligned:,} conflicting", fontsize=9)
    if title:
        fig.suptitle(title)
    return finish_figure(fig)


__all__ = ["attribute_count_matrix", "counts_table", "plot_aligned_conflicting", "plot_attribute_counts",
           "plot_class_counts", "plot_shot_groups"]
