"""The figures of :mod:`ltdd.diagnostics`: what a network trained on a whole long-tailed or biased training set
gets wrong (per-class accuracy against class size, classifier weight norms, aligned vs conflicting accuracy
against the bias ratio).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ...diagnostics import BiasSweepPoint
from ...train import EvaluationReport
from .core import OTHER_GROUP_COLOR, SHOT_GROUP_COLORS, finish_figure, palette


def _group_colors(groups: Sequence[str] | None, num_classes: int) -> list:
    if groups is None:
        return [palette(1)[0]] * num_classes
    if len(groups) != num_classes:
        raise ValueError(f"groups has {len(groups)} entries but there are {num_classes} classes")
    return [SHOT_GROUP_COLORS.get(g, OTHER_GROUP_COLOR) for g in groups]


def _group_legend(ax, groups: Sequence[str] | None, extra: list | None = None, **options) -> None:
    from matplotlib.lines import Line2D

    handles = [] if groups is None else [
        Line2D([], [], marker="o", linestyle="", color=SHOT_GROUP_COLORS.get(g, OTHER_GROUP_COLOR),
               label=f"{g} ({list(groups).count(g)} classes)") for g in dict.fromkeys(groups)]
    ax.legend(handles=handles + (extra or []), fontsize=8, **options)


def _check_counts(values: Sequence[float], train_counts: Sequence[int], what: str) -> None:
    if len(values) != len(train_counts):
        raise ValueError(f"{what} has {len(values)} classes but train_counts has {len(train_counts)}")


def plot_accuracy_vs_class_size(report: EvaluationReport, train_counts: Sequence[int],
                                groups: Sequence[str] | None = None, reference: EvaluationReport | None = None,
                                reference_label: str = "balanced training set", class_names=None,
                                log: bool = True, title: str | None = None) -> Figure:
    """Per-class test accuracy (%) against the class's number of training images: one point per class.

    Points are coloured by ``groups`` (e.g. :func:`~ltdd.data.longtail.shot_groups`) and labelled with the
    class name. ``reference`` (a network trained on the balanced set) adds a hollow grey point per class
    at the same position, joined to the long-tailed one: the length of the line is what the tail cost.

    Introduced in chapter 04.
    """
    _check_counts(report.per_class, train_counts, "report")
    names = [str(c) for c in range(len(train_counts))] if class_names is None else [str(n) for n in class_names]
    fig, ax = plt.subplots(figsize=(5.8, 3.8), layout="constrained")
    accuracy = [100 * a for a in report.per_class]
    extra = []
    if reference is not None:
        _check_counts(reference.per_class, train_counts, "reference")
        ref = [100 * a for a in reference.per_class]
        ax.vlines(train_counts, accuracy, ref, color="grey", linewidth=0.8, alpha=0.6)
        extra.append(ax.scatter(train_counts, ref, facecolors="none", edgecolors="grey", s=36, zorder=2,
                                label=f"{reference_label}: {100 * reference.mean:.1f} %"))
    ax.scatter(train_counts, accuracy, c=_group_colors(groups, len(train_counts)), s=36, zorder=3)
    if len(names) <= 20:
        for n, a, label in zip(train_counts, accuracy, names):
            ax.annotate(label, (n, a), textcoords="offset points", xytext=(4, 3), fontsize=8)
    if log:
        _log_x_axis(ax)
    ax.set_xlabel("training images of the class")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(-5, 105)
    ax.grid(alpha=0.3)
    _group_legend(ax, groups, extra, loc="lower right")
    ax.set_title(title or f"per-class accuracy, overall {100 * report.mean:.1f} %", fontsize=10)
    return finish_figure(fig)


def _log_x_axis(ax) -> None:
    """A logarithmic x axis labelled with plain numbers at 1, 2 and 5 times powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot_weight_norms(norms: Sequence[float], train_counts: Sequence[int], groups: Sequence[str] | None = None,
                      reference: Sequence[float] | None = None, reference_label: str = "balanced training set",
                      class_names=None, title: str | None = None) -> Figure:
    """Classifier weight norm per class as bars (coloured by ``groups``), the class size under each bar.

    The LTDD Fig. 2 picture. ``reference`` (the norms of a network trained on the balanced set) is drawn
    as black markers on the same axes.

    Introduced in chapter 04.
    """
    from matplotlib.lines import Line2D

    _check_counts(norms, train_counts, "norms")
    num_classes = len(norms)
    fig, ax = plt.subplots(figsize=(min(14.0, max(5.8, 0.35 * num_classes + 2)), 3.6), layout="constrained")
    ax.bar(range(num_classes), norms, width=0.75, color=_group_colors(groups, num_classes))
    extra = []
    if reference is not None:
        _check_counts(reference, train_counts, "reference")
        ax.plot(range(num_classes), reference, linestyle="", marker="_", markersize=14, markeredgewidth=2,
                color="black")
        extra.append(Line2D([], [], linestyle="", marker="_", markersize=14, markeredgewidth=2, color="black",
                            label=reference_label))
    names = [str(c) for c in range(num_classes)] if class_names is None else [str(n) for n in class_names]
    if len(names) != num_classes:
        raise ValueError(f"class_names has {len(names)} entries but there are {num_classes} classes")
    step = max(1, -(-num_classes // 25))
    ax.set_xticks(range(0, num_classes, step),
                  [f"{name}\n{n:,}" for name, n in zip(names, train_counts)][::step], fontsize=8)
    ax.set_xlim(-0.6, num_classes - 0.4)
    ax.set_xlabel("class (training images)")
    ax.set_ylabel("‖classifier row‖₂")
    top = max([*norms, *(reference or [])])
    ax.set_ylim(0, 1.35 * top if top > 0 else 1.0)  # room for the legend above the bars
    ax.grid(axis="y", alpha=0.3)
    _group_legend(ax, groups, extra, loc="upper right", ncols=2)
    ax.set_title(title or "classifier weight norm per class", fontsize=10)
    return finish_figure(fig)


def plot_full_set_bias_sweep(sweep: Mapping[float, BiasSweepPoint], title: str | None = None) -> Figure:
    """Aligned vs conflicting test accuracy (%) against the bias ratio, whiskers = std over networks.

    Three lines: aligned and conflicting images of LfF's split, and Biased-DD's all-conflicting test set.

    Introduced in chapter 04 (as ``plot_bias_sweep``, its old name).
    """
    if not sweep:
        raise ValueError("sweep must hold at least one bias ratio")
    ratios = list(sweep)
    lff = [point.report.on("lff") for point in sweep.values()]
    lines = {
        "aligned (LfF split)": ([100 * r.aligned for r in lff], [100 * _std(r.aligned_runs) for r in lff]),
        "conflicting (LfF split)": ([100 * r.conflicting for r in lff],
                                    [100 * _std(r.conflicting_runs) for r in lff]),
        "all-conflicting test set (Biased-DD)": ([100 * p.accuracy for p in sweep.values()],
                                                 [100 * p.report.std for p in sweep.values()]),
    }
    fig, ax = plt.subplots(figsize=(5.8, 3.6), layout="constrained")
    for (label, (means, stds)), color, style in zip(lines.items(), palette(3), ("-", "-", "--")):
        ax.errorbar(ratios, means, yerr=stds, marker="o", capsize=3, color=color, linestyle=style, label=label)
    ax.set_xticks(ratios, [f"{r:g}" for r in ratios])
    ax.set_xlabel("bias ratio (fraction of bias-aligned training images)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(-5, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    if title:
        ax.set_title(title, fontsize=10)
    return finish_figure(fig)


def _std(values: Sequence[float | None]) -> float:
    present = [v for v in values if v is not None]
    mean = sum(present) / len(present)
    return (sum((v - mean) ** 2 for v in present) / len(present)) ** 0.5


__all__ = ["plot_accuracy_vs_class_size", "plot_full_set_bias_sweep", "plot_weight_norms"]
