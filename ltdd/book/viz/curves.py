"""Accuracy and loss curves: per-class accuracy, accuracy against images per class, distillation losses, the
methods compared, a bias sweep's accuracy against the bias ratio.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ...checks import positive_int
from ...studies.biased import BiasSweep
from ...train import EvaluationReport
from .core import finish_figure, ipc_axes, palette


def _per_class_std(report: EvaluationReport) -> list[float]:
    runs = report.per_class_runs
    means = report.per_class
    return [math.sqrt(sum((run[c] - means[c]) ** 2 for run in runs) / len(runs)) for c in range(len(means))]


def _mean_and_spread(report: EvaluationReport) -> str:
    """``mean ± std`` in percent, or the mean alone for one network, which has no spread to show."""
    if len(report.accuracies) < 2:
        return f"{100 * report.mean:.1f}"
    return f"{100 * report.mean:.1f} ± {100 * report.std:.1f}"


def plot_per_class_accuracy(reports: Mapping[str, EvaluationReport], class_names: Sequence[str],
                            title: str | None = None) -> Figure:
    """Grouped bars of per-class test accuracy (%), one group per class, one bar per report.

    Bars show the mean over the report's networks, whiskers the standard deviation; the legend gives
    each report's overall mean ± std (the mean alone for a single network).

    Introduced in chapter 01.
    """
    if not reports:
        raise ValueError("reports must contain at least one EvaluationReport")
    names = list(class_names)
    for label, report in reports.items():
        if len(report.per_class) != len(names):
            raise ValueError(f"report {label!r} has {len(report.per_class)} classes, "
                             f"class_names has {len(names)}")
    fig, ax = plt.subplots(figsize=(min(14.0, max(6.0, 0.3 * len(names) * len(reports) + 3)), 3.8),
                           layout="constrained")
    width = 0.8 / len(reports)
    for k, ((label, report), color) in enumerate(zip(reports.items(), palette(len(reports)))):
        xs = [c + (k - (len(reports) - 1) / 2) * width for c in range(len(names))]
        heights = [100 * a for a in report.per_class]
        errors = [100 * s for s in _per_class_std(report)] if len(report.accuracies) > 1 else None
        ax.bar(xs, heights, width=width, color=color, yerr=errors, capsize=2, error_kw={"linewidth": 0.8},
               label=f"{label}: {_mean_and_spread(report)} %")
    step = max(1, math.ceil(len(names) / 25))
    ax.set_xticks(range(0, len(names), step), names[::step], rotation=0 if step == 1 else 90)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_xlabel("class")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 105)
    ax.grid(axis="y", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=min(3, len(reports)), fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    return finish_figure(fig)


def plot_accuracy_vs_ipc(curves: Mapping[str, Mapping[int, EvaluationReport]],
                         full: EvaluationReport | None = None, title: str | None = None) -> Figure:
    """Test accuracy (%) against images per class, one line per method, whiskers = std over networks.

    ``curves`` maps a method name to ``{ipc: report}``; ``full`` (the whole training set) is drawn as a
    horizontal band at its mean ± std.

    Introduced in chapter 01.
    """
    if not curves or not any(curves.values()):
        raise ValueError("curves must map at least one method to at least one {ipc: report}")
    fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
    all_ipcs = sorted({ipc for points in curves.values() for ipc in points})
    for (label, points), color in zip(curves.items(), palette(len(curves))):
        ipcs = sorted(points)
        means = [100 * points[i].mean for i in ipcs]
        stds = [100 * points[i].std for i in ipcs]
        ax.errorbar(ipcs, means, yerr=stds, marker="o", capsize=3, color=color, label=label)
    if full is not None:
        low, high = 100 * (full.mean - full.std), 100 * (full.mean + full.std)
        ax.axhline(100 * full.mean, color="black", linestyle="--", linewidth=1,
                   label=f"full training set: {100 * full.mean:.1f} %")
        if high > low:
            ax.axhspan(low, high, color="black", alpha=0.08)
    ipc_axes(ax, all_ipcs, log=len(all_ipcs) > 1 and all_ipcs[-1] / all_ipcs[0] > 4)
    if title:
        ax.set_title(title)
    return finish_figure(fig)


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """The trailing mean of the last ``window`` values at every position (fewer at the start), same length.

    NaN entries (e.g. missing losses) are skipped: a position averages the finite values of its window and
    is NaN only when its window holds none.

    Machinery behind chapter 00.
    """
    positive_int("window", window)
    x = np.asarray(values, dtype=float).reshape(-1)
    finite = np.isfinite(x)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, x, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    end = np.arange(1, len(x) + 1)
    start = np.maximum(0, end - int(window))
    n = counts[end] - counts[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[end] - sums[start]) / np.maximum(n, 1), np.nan)


def _loss_values(values: Sequence[float | None]) -> np.ndarray:
    """Floats with ``None`` as NaN."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def plot_loss_curves(curves: Mapping[str, Sequence[float | None]], title: str | None = None,
                     window: int | None = None, log: bool = True, xlabel: str = "iteration",
                     ylabel: str = "loss") -> Figure:
    """Loss against iteration, one line per ``{label: losses}`` entry, on a logarithmic y axis.

    Entry ``i`` of a curve is drawn at iteration ``i + 1``. Each curve is drawn faintly as recorded and,
    on top, as a trailing moving average (:func:`moving_average`) of ``window`` iterations (default: about
    a fiftieth of the longest curve, at least 1, when the smoothed line is the only one drawn). ``None``,
    NaN and, on the log axis, values ``<= 0`` are left out of the drawing; the legend gives each curve's
    first and last recorded value.

    Introduced in chapter 05.
    """
    if not curves or not any(len(values) for values in curves.values()):
        raise ValueError("curves must map at least one label to a non-empty sequence of losses")
    longest = max(len(values) for values in curves.values())
    window = max(1, round(longest / 50)) if window is None else window
    positive_int("window", window)
    fig, ax = plt.subplots(figsize=(6.0, 3.6), layout="constrained")
    for (label, values), color in zip(curves.items(), palette(len(curves))):
        y = _loss_values(values)
        if log:
            y = np.where(y > 0, y, np.nan)
        x = np.arange(1, len(y) + 1)
        shown = y[np.isfinite(y)]
        summary = f" ({shown[0]:.3g} → {shown[-1]:.3g})" if len(shown) else " (no values)"
        if window > 1:
            ax.plot(x, y, color=color, alpha=0.25, linewidth=0.8)
            ax.plot(x, moving_average(y, window), color=color, linewidth=1.6, label=f"{label}{summary}")
        else:
            ax.plot(x, y, color=color, linewidth=1.4, label=f"{label}{summary}")
    if log:
        ax.set_yscale("log")
    ax.set_xlim(0.5, longest + 0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (f" ({window}-iteration moving average)" if window > 1 else ""))
    ax.grid(alpha=0.3, which="both" if log else "major")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return finish_figure(fig)


def plot_method_comparison(summary: Mapping[str, Mapping[str, tuple[float, float]]],
                           columns: Sequence[str] = ("overall", "many", "medium", "few"),
                           families: Mapping[str, str] | None = None, title: str | None = None) -> Figure:
    """One panel per column (overall accuracy, then the shot groups), one horizontal bar per method: the mean
    test accuracy (%) over seeds, whiskers the standard deviation, bars coloured by family.

    ``summary`` is ``{method: {column: (mean, std)}}`` in fractions (:func:`ltdd.studies.comparison.group_summary`);
    a column a method lacks is left empty. Methods are drawn top to bottom in ``summary``'s order.

    Introduced in chapter 12.
    """
    if not summary:
        raise ValueError("summary must contain at least one method")
    columns = [c for c in columns if any(c in row for row in summary.values())]
    if not columns:
        raise ValueError("no method has any of the requested columns")
    labels = list(summary)
    family_of = dict(families or {})
    family_names = list(dict.fromkeys(family_of.get(label, "") for label in labels))
    colours = dict(zip(family_names, palette(len(family_names))))
    fig, axes = plt.subplots(1, len(columns), sharey=True, squeeze=False, layout="constrained",
                             figsize=(2.6 * len(columns) + 1.8, 0.32 * len(labels) + 1.4))
    ys = np.arange(len(labels))[::-1]
    for ax, column in zip(axes[0], columns):
        for y, label in zip(ys, labels):
            if column not in summary[label]:
                continue
            mean, std = summary[label][column]
            ax.barh(y, 100 * mean, xerr=100 * std, color=colours[family_of.get(label, "")], height=0.7,
                    capsize=2, error_kw={"linewidth": 0.8})
        ax.set_title(column, fontsize=10)
        ax.set_xlim(0, 105)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel("test accuracy (%)")
    axes[0][0].set_yticks(ys, labels)
    if families:
        handles = [matplotlib.patches.Patch(color=colours[name], label=name) for name in family_names]
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return finish_figure(fig)


def plot_bias_sweep_curves(sweep: BiasSweep, severity: int | None = None, title: str | None = None,
                           key: str = "conflicting_test") -> Figure:
    """Accuracy (%) on the all-conflicting test set against the bias ratio: one line per method (mean over
    seeds, band ± std) and the full-set control dashed. Introduced in chapter 08."""
    severity = sweep.severities()[-1] if severity is None else severity
    ratios = sweep.ratios()
    labels = sweep.labels() + (["full set"] if sweep.full else [])
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for label, colour in zip(labels, palette(len(labels))):
        cells = [sweep.cell(label, r, severity, key) for r in ratios]
        xs = [r for r, c in zip(ratios, cells) if c[2]]
        means = [100 * c[0] for c in cells if c[2]]
        stds = [100 * c[1] for c in cells if c[2]]
        style = {"linestyle": "--", "color": "0.3"} if label == "full set" else {"color": colour}
        ax.plot(xs, means, marker="o", label=label, **style)
        ax.fill_between(xs, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)],
                        alpha=0.15, color=style["color"])
    ax.axhline(100 / 10, color="0.6", linewidth=0.8, linestyle=":")
    ax.set_xlabel("bias ratio (fraction of bias-aligned training images)")
    ax.set_ylabel("accuracy on the all-conflicting test set (%)" if key == "conflicting_test" else f"{key} (%)")
    ax.set_title(title or f"{sweep.settings.get('dataset', '')}, severity {severity}", fontsize=10)
    ax.legend(fontsize=8)
    return finish_figure(fig)


__all__ = ["moving_average", "plot_accuracy_vs_ipc", "plot_bias_sweep_curves", "plot_loss_curves",
           "plot_method_comparison", "plot_per_class_accuracy"]
