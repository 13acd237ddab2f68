"""Figures and small tables for the chapters.

Every plotting function returns a :class:`matplotlib.figure.Figure` and closes it in pyplot before
returning, so a notebook shows the figure exactly once (as the cell's value) and scripts can
``fig.savefig(...)``. Table helpers return Markdown text; show it with
``IPython.display.Markdown(text)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from .config import PROFILES, Profile
from .data import ImageDataset
from .train import EvaluationReport

PROFILE_FIELDS = ("dataset", "model", "net_width", "ipc", "eval_epochs", "eval_seeds", "full_epochs",
                  "iterations", "batch_real", "allow_download")
"""The :class:`~ltdd.config.Profile` fields shown by :func:`profile_table`, in order."""


def _finish(fig: Figure) -> Figure:
    """Detach ``fig`` from pyplot (no second automatic display, no leak) and return it."""
    plt.close(fig)
    return fig


def _palette(n: int) -> list:
    cmap = matplotlib.colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def _to_pixels(images: Tensor, dataset: ImageDataset) -> np.ndarray:
    """Normalised ``(N, C, H, W)`` images → ``(N, H, W, C)`` pixels in [0, 1], as a numpy array."""
    return dataset.denormalize(images.detach().float()).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()


def show_images(images: Tensor, labels: Tensor, dataset: ImageDataset, per_class: int = 10,
                title: str | None = None, classes: Sequence[int] | None = None,
                size: float = 0.8) -> Figure:
    """A grid of images, one row per class, the first ``per_class`` images of each class in a row.

    ``images`` are normalised like ``dataset`` (only the shown ones are denormalised for display);
    ``labels`` are hard ``(N,)`` or soft ``(N, C)`` labels (argmax is used). ``classes`` picks the rows
    (default: every class of ``dataset``); a class without images gets an empty row.
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    if not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be a positive int, got {per_class!r}")
    labels = labels.detach()
    labels = (labels.argmax(dim=1) if labels.ndim == 2 else labels).cpu()
    if len(labels) != len(images):
        raise ValueError(f"labels ({len(labels)}) and images ({len(images)}) differ in length")
    rows = list(range(dataset.num_classes)) if classes is None else [int(c) for c in classes]
    if not rows or any(not 0 <= c < dataset.num_classes for c in rows):
        raise ValueError(f"classes must be a non-empty list of class indices in [0, {dataset.num_classes - 1}]")
    chosen = [torch.nonzero(labels == c, as_tuple=True)[0][:per_class].tolist() for c in rows]
    columns = max(1, max(len(index) for index in chosen))
    flat = [i for index in chosen for i in index]
    pixels = _to_pixels(images[torch.tensor(flat, dtype=torch.long, device=images.device)], dataset) \
        if flat else None
    width, height = size * columns + 0.8, size * len(rows) + (0.5 if title else 0.1)
    fig, axes = plt.subplots(len(rows), columns, figsize=(width, height), squeeze=False,
                             gridspec_kw={"wspace": 0.05, "hspace": 0.05})
    fig.subplots_adjust(left=0.7 / width, right=1 - 0.1 / width, bottom=0.05 / height,
                        top=1 - (0.45 if title else 0.05) / height)
    position = 0
    for r, (c, index) in enumerate(zip(rows, chosen)):
        for j in range(columns):
            ax = axes[r, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(index):
                picture = pixels[position]
                position += 1
                grey = picture.shape[-1] == 1
                ax.imshow(picture[..., 0] if grey else picture, cmap="gray" if grey else None,
                          vmin=0, vmax=1, interpolation="nearest")
        axes[r, 0].set_ylabel(dataset.class_names[c], rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    return _finish(fig)


def _per_class_std(report: EvaluationReport) -> list[float]:
    runs = report.per_class_runs
    means = report.per_class
    return [math.sqrt(sum((run[c] - means[c]) ** 2 for run in runs) / len(runs)) for c in range(len(means))]


def plot_per_class_accuracy(reports: Mapping[str, EvaluationReport], class_names: Sequence[str],
                            title: str | None = None) -> Figure:
    """Grouped bars of per-class test accuracy (%), one group per class, one bar per report.

    Bars show the mean over the report's networks, whiskers the standard deviation; the legend gives
    each report's overall mean ± std.
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
    for k, ((label, report), color) in enumerate(zip(reports.items(), _palette(len(reports)))):
        xs = [c + (k - (len(reports) - 1) / 2) * width for c in range(len(names))]
        heights = [100 * a for a in report.per_class]
        errors = [100 * s for s in _per_class_std(report)] if len(report.accuracies) > 1 else None
        ax.bar(xs, heights, width=width, color=color, yerr=errors, capsize=2, error_kw={"linewidth": 0.8},
               label=f"{label}: {100 * report.mean:.1f} ± {100 * report.std:.1f} %")
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
    return _finish(fig)


def plot_accuracy_vs_ipc(curves: Mapping[str, Mapping[int, EvaluationReport]],
                         full: EvaluationReport | None = None, title: str | None = None) -> Figure:
    """Test accuracy (%) against images per class, one line per method, whiskers = std over networks.

    ``curves`` maps a method name to ``{ipc: report}``; ``full`` (the whole training set) is drawn as a
    horizontal band at its mean ± std.
    """
    if not curves or not any(curves.values()):
        raise ValueError("curves must map at least one method to at least one {ipc: report}")
    fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
    all_ipcs = sorted({ipc for points in curves.values() for ipc in points})
    for (label, points), color in zip(curves.items(), _palette(len(curves))):
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
    if len(all_ipcs) > 1 and all_ipcs[-1] / all_ipcs[0] > 4:
        ax.set_xscale("log")
    ax.set_xticks(all_ipcs, [str(i) for i in all_ipcs])
    ax.minorticks_off()
    ax.set_xlabel("images per class (IPC)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return _finish(fig)


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def profile_table(profiles: Mapping[str, Profile] | None = None, fields: Sequence[str] = PROFILE_FIELDS,
                  highlight: str | None = None) -> str:
    """A Markdown table with one column per profile and one row per setting (``PROFILES`` by default).

    ``highlight`` names a profile whose column header is set in bold (e.g. the active one).
    """
    profiles = PROFILES if profiles is None else profiles
    known = set(Profile.__dataclass_fields__)
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise ValueError(f"fields {unknown} are not Profile fields; choose from {sorted(known)}")
    header = ["setting"] + [f"**{n}** (active)" if n == highlight else n for n in profiles]
    rows = [[f"`{f}`"] + [getattr(p, f) for p in profiles.values()] for f in fields]
    rows.append(["where"] + [p.description for p in profiles.values()])
    return _markdown_table(header, rows)


def accuracy_table(reports: Mapping[str, EvaluationReport]) -> str:
    """A Markdown table: one row per report with mean ± std (%), networks, epochs and training images."""
    rows = [[label, f"{100 * r.mean:.1f} ± {100 * r.std:.1f}", len(r.accuracies), r.epochs, r.train_size]
            for label, r in reports.items()]
    return _markdown_table(["training set", "test accuracy (%)", "networks", "epochs", "training images"],
                           rows)


__all__ = ["PROFILE_FIELDS", "accuracy_table", "plot_accuracy_vs_ipc", "plot_per_class_accuracy",
           "profile_table", "show_images"]
