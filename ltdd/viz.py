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


# ---- long-tailed data
SHOT_GROUP_COLORS = {"many": "#1f77b4", "medium": "#ff7f0e", "few": "#d62728"}
"""Bar colours of the shot groups (tab10 blue, orange, red); other group names get grey."""

_OTHER_GROUP_COLOR = "#7f7f7f"


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
    """
    series = _count_series(counts)
    num_classes = len(next(iter(series.values())))
    fig, ax = plt.subplots(figsize=(min(14.0, max(5.5, 0.12 * num_classes * len(series) + 3)), 3.4),
                           layout="constrained")
    width = 0.8 / len(series)
    for k, ((label, values), color) in enumerate(zip(series.items(), _palette(len(series)))):
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
    return _finish(fig)


def plot_shot_groups(counts: Sequence[int], groupings: Mapping[str, Sequence[str]],
                     thresholds: Sequence[int] = (20, 100), class_names: Sequence[str] | None = None,
                     title: str | None = None, log: bool = True) -> Figure:
    """The classes coloured by group, one panel per grouping rule (all panels share the counts).

    ``groupings`` maps a rule's name to one group name per class, e.g. the output of
    :func:`ltdd.data.longtail.shot_groups` or :func:`~ltdd.data.longtail.index_range_groups`. Bars are
    coloured with :data:`SHOT_GROUP_COLORS`; dashed lines mark ``thresholds`` (OLTR's 20 and 100
    images); each panel's legend says how many classes fall in each group.
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
        colors = [SHOT_GROUP_COLORS.get(g, _OTHER_GROUP_COLOR) for g in groups]
        ax.bar(range(len(values)), values, width=0.85, color=colors)
        for level in thresholds:
            ax.axhline(level, color="black", linestyle="--", linewidth=0.8, alpha=0.6)
        present = [g for g in SHOT_GROUP_COLORS if g in groups] + \
                  [g for g in dict.fromkeys(groups) if g not in SHOT_GROUP_COLORS]
        handles = [Patch(color=SHOT_GROUP_COLORS.get(g, _OTHER_GROUP_COLOR),
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
    return _finish(fig)


def show_image_rows(rows: Mapping[str, Tensor], dataset: ImageDataset, per_row: int = 12,
                    title: str | None = None, size: float = 0.8) -> Figure:
    """A grid with one labelled row per entry of ``rows`` (``{label: images (N, C, H, W)}``), in order.

    Shows the first ``per_row`` images of every row; images are normalised like ``dataset``. Used to put
    the same class under two selection rules side by side.
    """
    if not rows:
        raise ValueError("rows must map at least one label to a batch of images")
    if not isinstance(per_row, int) or per_row < 1:
        raise ValueError(f"per_row must be a positive int, got {per_row!r}")
    for label, images in rows.items():
        if images.ndim != 4:
            raise ValueError(f"row {label!r}: images must have shape (N, C, H, W), got {tuple(images.shape)}")
    columns = max(1, max(min(per_row, len(images)) for images in rows.values()))
    width, height = size * columns + 1.2, size * len(rows) + (0.5 if title else 0.1)
    fig, axes = plt.subplots(len(rows), columns, figsize=(width, height), squeeze=False,
                             gridspec_kw={"wspace": 0.05, "hspace": 0.05})
    fig.subplots_adjust(left=1.1 / width, right=1 - 0.1 / width, bottom=0.05 / height,
                        top=1 - (0.45 if title else 0.05) / height)
    for r, (label, images) in enumerate(rows.items()):
        shown = images[:per_row]
        pixels = _to_pixels(shown, dataset) if len(shown) else []
        for j in range(columns):
            ax = axes[r, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(pixels):
                grey = pixels[j].shape[-1] == 1
                ax.imshow(pixels[j][..., 0] if grey else pixels[j], cmap="gray" if grey else None,
                          vmin=0, vmax=1, interpolation="nearest")
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    return _finish(fig)


def counts_table(counts: Mapping[str, Sequence[int]], reference_totals: Mapping[str, int] | None = None,
                 per_class: bool = True) -> str:
    """A Markdown table of class counts: one row per ``{label: counts}`` entry.

    Columns: the counts (every class, or ``largest … smallest`` when ``per_class=False``), the smallest
    class, the total, and, with ``reference_totals`` (``{label: total}``, e.g. the totals of the public
    splits), the reference total and whether the two agree ("–" for a label without one).
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
    return _markdown_table(header, rows)


__all__ += ["SHOT_GROUP_COLORS", "counts_table", "plot_class_counts", "plot_shot_groups", "show_image_rows"]
