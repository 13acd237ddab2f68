"""The figures of the recorded experiments (:mod:`ltdd.studies.recorded`): ours on CIFAR-10 (JPEG mirror) beside
the papers' numbers."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt

from ...distill import PAPER_ITERATIONS
from ...reference import BIASED_DD_RATIOS_PRINTED, PAPER_RESULTS
from ...studies.recorded import (BIAS_PAPER_ROWS, CIFAR10_MIRROR_LABEL, Experiment, paper_bias, iteration_points,
                                 row_accuracy)
from .core import finish_figure, ipc_axes, palette
from .curves import plot_bias_sweep_curves


def plot_recorded_vs_paper(experiment: Experiment, rows: Sequence[tuple[str, str]], title: str | None = None):
    """Accuracy (%) against IPC for each ``(row label, paper method)``: ours on the mirror as solid lines with
    whiskers (spread over seeds, or over networks for one seed), the paper's CIFAR-10 numbers as dashed lines
    with hollow markers in the same colour. IPCs are the experiment's ``ipcN`` studies.

    Introduced in chapter 05."""
    ipcs = sorted(int(key.removeprefix("ipc")) for key in experiment.studies if key.startswith("ipc"))
    if not ipcs:
        raise ValueError(f"experiment {experiment.name!r} has no ipcN studies")
    fig, ax = plt.subplots(figsize=(6.0, 3.8), layout="constrained")
    for (label, method), color in zip(rows, palette(len(rows))):
        points = [(ipc, row_accuracy(experiment.study(f"ipc{ipc}"), label)) for ipc in ipcs]
        points = [(ipc, value) for ipc, value in points if value is not None]
        if points:
            ax.errorbar([p[0] for p in points], [p[1][0] for p in points], yerr=[p[1][1] for p in points],
                        marker="o", capsize=3, color=color, label=f"{label} (ours)")
        paper = PAPER_RESULTS["cifar10"].get(method, {})
        paper_points = [(ipc, paper[ipc]) for ipc in ipcs if ipc in paper]
        if paper_points:
            ax.plot([p[0] for p in paper_points], [p[1] for p in paper_points], linestyle="--", marker="o",
                    markerfacecolor="none", color=color, alpha=0.8, label=f"{label} (paper)")
    ipc_axes(ax, ipcs, legend_size=7, legend_columns=2)
    ax.set_title(title or f"{CIFAR10_MIRROR_LABEL}: recorded (solid) and the papers' CIFAR-10 (dashed)", fontsize=9)
    return finish_figure(fig)


def plot_bias_recorded_vs_paper(experiment: Experiment, key: str = "severity4"):
    """Accuracy (%) on the all-conflicting test set against the bias ratio: our rows on the mirror (solid, from
    :func:`ltdd.book.viz.curves.plot_bias_sweep_curves`) and the paper's CCIFAR10-DD DM and full-set rows at IPC 50
    (hollow markers, dotted, in the same colours).

    Introduced in chapter 08."""

    sweep = experiment.study(key)
    fig = plot_bias_sweep_curves(sweep, int(key.removeprefix("severity")),
                                 title=f"CCIFAR10-DD ({CIFAR10_MIRROR_LABEL}): ours (solid) and Biased-DD's "
                                       f"Table 1 (hollow, IPC 50)")
    ax = fig.axes[0]
    colours = {line.get_label(): line.get_color() for line in ax.get_lines()}
    for label in BIAS_PAPER_ROWS:
        points = [(ratio, paper_bias(label, ratio)) for ratio in BIASED_DD_RATIOS_PRINTED]
        ax.plot([p[0] for p in points], [p[1] for p in points], linestyle=":", marker="o", markerfacecolor="none",
                color=colours.get(label, "0.3"), alpha=0.8, label=f"{label} (paper)")
    ax.legend(fontsize=8)
    return fig


def plot_accuracy_against_iterations(experiment: Experiment, baseline: Experiment | None = None,
                                     key: str = "ipc10"):
    """The recorded DM run's test accuracy (%) against its iterations (log axis; whiskers: spread over the
    evaluation networks), the paper's number after its 20,000 iterations as a hollow marker, and with
    ``baseline`` (the dm-family record) random selection at the same IPC as a dotted line.

    Introduced in chapter 05."""

    study = experiment.study(key)
    points = iteration_points(study)
    ipc = study.settings.get("ipc")
    fig, ax = plt.subplots(figsize=(6.0, 3.6), layout="constrained")
    color = palette(1)[0]
    ax.errorbar([p[0] for p in points], [p[1] for p in points], yerr=[p[2] for p in points], marker="o", capsize=3,
                color=color, label=f"DM, ours ({CIFAR10_MIRROR_LABEL})")
    paper = PAPER_RESULTS["cifar10"]["dm"].get(ipc)
    if paper is not None:
        ax.plot([PAPER_ITERATIONS["dm"]], [paper], marker="o", markerfacecolor="none", linestyle="none",
                color=color, label=f"DM, paper ({PAPER_ITERATIONS['dm']:,} iterations)")
    if baseline is not None and key in baseline.studies:
        random = row_accuracy(baseline.study(key), "random")
        if random is not None:
            ax.axhline(random[0], color="0.4", linestyle=":", label="random real images, ours")
    ax.set_xscale("log")
    ax.set_xlabel("distillation iterations")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"DM at IPC {ipc}: how far a CPU-scale run is from converged", fontsize=9)
    return finish_figure(fig)
