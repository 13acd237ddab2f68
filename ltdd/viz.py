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

from .checks import positive_int
from .config import PROFILES, Profile
from .data import ImageDataset
from .train import EvaluationReport

PROFILE_FIELDS = ("dataset", "model", "net_width", "ipc", "eval_epochs", "eval_seeds", "full_epochs",
                  "iterations", "batch_real", "allow_download")
"""The :class:`~ltdd.config.Profile` fields shown by :func:`profile_table`, in order."""


def finish_figure(fig: Figure) -> Figure:
    """Detach ``fig`` from pyplot (no second automatic display, no leak) and return it: the last line of every
    ``plot_*`` function of the package. Machinery behind chapter 01 and every later figure."""
    plt.close(fig)
    return fig


def palette(n: int) -> list:
    """``n`` colours of matplotlib's ``tab10`` cycle (repeating after ten): the line colours of the package's
    figures. Machinery behind chapter 01."""
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

    Introduced in chapter 01.
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    positive_int("per_class", per_class)
    labels = labels.detach()
    labels = (labels.argmax(dim=1) if labels.ndim == 2 else labels).cpu()
    if len(labels) != len(images):
        raise ValueError(f"labels ({len(labels)}) and images ({len(images)}) differ in length")
    rows = list(range(dataset.num_classes)) if classes is None else [int(c) for c in classes]
    if not rows or any(not 0 <= c < dataset.num_classes for c in rows):
        raise ValueError(f"classes must be a non-empty list of class indices in [0, {dataset.num_classes - 1}]")
    chosen = [torch.nonzero(labels == c, as_tuple=True)[0][:per_class] for c in rows]
    grid = [(dataset.class_names[c], _to_pixels(images[index.to(images.device)], dataset) if len(index) else [])
            for c, index in zip(rows, chosen)]
    return _pixel_grid(grid, size=size, title=title, label_width=0.7)


def _pixel_grid(rows: Sequence[tuple[str, Sequence[np.ndarray]]], size: float, title: str | None,
                label_width: float) -> Figure:
    """Draw labelled rows of ``(H, W, C)`` pixel arrays in [0, 1]; short rows leave blank cells."""
    columns = max(1, max(len(pixels) for _, pixels in rows))
    width, height = size * columns + label_width + 0.1, size * len(rows) + (0.5 if title else 0.1)
    fig, axes = plt.subplots(len(rows), columns, figsize=(width, height), squeeze=False,
                             gridspec_kw={"wspace": 0.05, "hspace": 0.05})
    fig.subplots_adjust(left=label_width / width, right=1 - 0.1 / width, bottom=0.05 / height,
                        top=1 - (0.45 if title else 0.05) / height)
    for r, (label, pixels) in enumerate(rows):
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
    return finish_figure(fig)


def _per_class_std(report: EvaluationReport) -> list[float]:
    runs = report.per_class_runs
    means = report.per_class
    return [math.sqrt(sum((run[c] - means[c]) ** 2 for run in runs) / len(runs)) for c in range(len(means))]


def plot_per_class_accuracy(reports: Mapping[str, EvaluationReport], class_names: Sequence[str],
                            title: str | None = None) -> Figure:
    """Grouped bars of per-class test accuracy (%), one group per class, one bar per report.

    Bars show the mean over the report's networks, whiskers the standard deviation; the legend gives
    each report's overall mean ± std.

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
    return finish_figure(fig)


ALIGNMENTS = {"l": "---", "r": "---:", "c": ":---:"}
"""``align`` letters of :func:`markdown_table`: the renderer's default (left), right, centred."""


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A Markdown table from a header and rows (numbers and strings as given; ``|`` in a cell is escaped, a line
    break becomes a space). ``align`` gives one letter per column: ``l`` (the default), ``r`` (numbers right) or
    ``c`` (centred). Introduced in chapter 01; every table of the package and the book goes through it."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    align = "l" * len(header) if align is None else align
    if not isinstance(align, str) or len(align) != len(header) or set(align) - set(ALIGNMENTS):
        raise ValueError(f"align must give one of 'l', 'r', 'c' for each of the {len(header)} columns, "
                         f"got {align!r}")
    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join(ALIGNMENTS[a] for a in align) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def profile_table(profiles: Mapping[str, Profile] | None = None, fields: Sequence[str] = PROFILE_FIELDS,
                  highlight: str | None = None) -> str:
    """A Markdown table with one column per profile and one row per setting (``PROFILES`` by default).

    ``highlight`` names a profile whose column header is set in bold (e.g. the active one).

    Introduced in chapter 00.
    """
    profiles = PROFILES if profiles is None else profiles
    known = set(Profile.__dataclass_fields__)
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise ValueError(f"fields {unknown} are not Profile fields; choose from {sorted(known)}")
    header = ["setting"] + [f"**{n}** (active)" if n == highlight else n for n in profiles]
    rows = [[f"`{f}`"] + [getattr(p, f) for p in profiles.values()] for f in fields]
    rows.append(["where"] + [p.description for p in profiles.values()])
    return markdown_table(header, rows)


def accuracy_table(reports: Mapping[str, EvaluationReport]) -> str:
    """A Markdown table: one row per report with mean ± std (%), networks, epochs and training images (a
    report of one network shows its accuracy without a ±: one network has no spread).

    Introduced in chapter 01."""
    rows = [[label, f"{100 * r.mean:.1f} ± {100 * r.std:.1f}" if len(r.accuracies) > 1 else f"{100 * r.mean:.1f}",
             len(r.accuracies), r.epochs, r.train_size]
            for label, r in reports.items()]
    return markdown_table(["training set", "test accuracy (%)", "networks", "epochs", "training images"],
                           rows)


__all__ = ["PROFILE_FIELDS", "accuracy_table", "finish_figure", "markdown_table", "palette", "plot_accuracy_vs_ipc",
           "plot_per_class_accuracy", "profile_table", "show_images"]


# ---- long-tailed data
SHOT_GROUP_COLORS = {"many": "#1f77b4", "medium": "#ff7f0e", "few": "#d62728"}
"""Bar colours of the shot groups (tab10 blue, orange, red); other group names get grey."""

OTHER_GROUP_COLOR = "#7f7f7f"
"""Bar colour of a group that is not a shot group (tab10 grey)."""


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
    coloured with :data:`SHOT_GROUP_COLORS`; dashed lines mark ``thresholds`` (OLTR's 20 and 100
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


def show_image_rows(rows: Mapping[str, Tensor], dataset: ImageDataset, per_row: int = 12,
                    title: str | None = None, size: float = 0.8) -> Figure:
    """A grid with one labelled row per entry of ``rows`` (``{label: images (N, C, H, W)}``), in order.

    Shows the first ``per_row`` images of every row; images are normalised like ``dataset``. Used to put
    the same class under two selection rules side by side.

    Introduced in chapter 02.
    """
    if not rows:
        raise ValueError("rows must map at least one label to a batch of images")
    positive_int("per_row", per_row)
    for label, images in rows.items():
        if images.ndim != 4:
            raise ValueError(f"row {label!r}: images must have shape (N, C, H, W), got {tuple(images.shape)}")
    grid = [(label, _to_pixels(images[:per_row], dataset) if len(images) else []) for label, images in rows.items()]
    return _pixel_grid(grid, size=size, title=title, label_width=1.1)


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


__all__ += ["OTHER_GROUP_COLOR", "SHOT_GROUP_COLORS", "counts_table", "plot_class_counts", "plot_shot_groups",
            "show_image_rows"]


# ---- biased data
BIAS_GROUP_COLORS = {"aligned": "#1f77b4", "conflicting": "#d62728"}
"""Bar colours of bias-aligned (tab10 blue) and bias-conflicting (tab10 red) images."""


def _blank(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _as_long_cpu(values, name: str) -> Tensor:
    values = torch.as_tensor(values).detach()
    if values.ndim != 1 or values.is_floating_point() or values.dtype == torch.bool:
        raise ValueError(f"{name} must be a 1-D integer tensor, got {values.dtype} of shape {tuple(values.shape)}")
    return values.to("cpu", torch.long)


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
    labels, attributes = _as_long_cpu(labels, "labels"), _as_long_cpu(attributes, "attributes")
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


def show_aligned_conflicting(images: Tensor, labels: Tensor, attributes: Tensor, dataset: ImageDataset,
                             per_group: int = 4, classes: Sequence[int] | None = None,
                             title: str | None = None, size: float = 0.6) -> Figure:
    """One row per class: its first ``per_group`` bias-aligned images, then its first ``per_group``
    bias-conflicting ones (each captioned with its attribute ``a``).

    ``images`` are normalised like ``dataset``. The grid has ``len(classes)`` rows and ``2 * per_group``
    columns; a class with fewer images of a kind leaves those cells empty.

    Introduced in chapter 03.
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    positive_int("per_group", per_group)
    labels, attributes = _as_long_cpu(labels, "labels"), _as_long_cpu(attributes, "attributes")
    if not len(labels) == len(attributes) == len(images):
        raise ValueError(f"images ({len(images)}), labels ({len(labels)}) and attributes ({len(attributes)}) "
                         "must have one entry per image")
    rows = list(range(dataset.num_classes)) if classes is None else [int(c) for c in classes]
    if not rows or any(not 0 <= c < dataset.num_classes for c in rows):
        raise ValueError(f"classes must be a non-empty list of class indices in [0, {dataset.num_classes - 1}]")
    columns = 2 * per_group
    width, height = size * columns + 0.9, size * len(rows) + (0.85 if title else 0.45)
    fig, axes = plt.subplots(len(rows), columns, figsize=(width, height), squeeze=False,
                             gridspec_kw={"wspace": 0.08, "hspace": 0.3})
    fig.subplots_adjust(left=0.6 / width, right=1 - 0.1 / width, bottom=0.15 / height,
                        top=1 - (0.75 if title else 0.35) / height)
    for r, c in enumerate(rows):
        is_class = labels == c
        groups = (torch.nonzero(is_class & (attributes == c), as_tuple=True)[0][:per_group],
                  torch.nonzero(is_class & (attributes != c), as_tuple=True)[0][:per_group])
        for g, index in enumerate(groups):
            pixels = _to_pixels(images[index.to(images.device)], dataset) if len(index) else []
            for j in range(per_group):
                ax = axes[r, g * per_group + j]
                _blank(ax)
                if j < len(pixels):
                    grey = pixels[j].shape[-1] == 1
                    ax.imshow(pixels[j][..., 0] if grey else pixels[j], cmap="gray" if grey else None,
                              vmin=0, vmax=1, interpolation="nearest")
                    if g == 1:
                        ax.set_xlabel(f"a={int(attributes[index[j]])}", fontsize=6, labelpad=1)
        axes[r, 0].set_ylabel(dataset.class_names[c], rotation=0, ha="right", va="center", fontsize=9)
    top = axes[0, 0].get_position().y1 + 0.08 / height
    for g, group in enumerate(("aligned", "conflicting")):
        left = axes[0, g * per_group].get_position().x0
        right = axes[0, g * per_group + per_group - 1].get_position().x1
        fig.text((left + right) / 2, top, f"bias-{group}", ha="center", va="bottom", fontsize=9,
                 color=BIAS_GROUP_COLORS[group])
    if title:
        fig.suptitle(title)
    return finish_figure(fig)


def plot_colour_noise(severities: Sequence[int] = (1, 2, 3, 4), samples: int = 16, seed: int = 0,
                      title: str | None = None) -> Figure:
    """The per-image colour jitter of CMNIST-DD, one panel per severity.

    Panel ``s`` shows a ``(10, samples)`` grid of colours: row ``a`` holds ``samples`` draws of
    :func:`ltdd.data.bias.colour_jitter` for attribute ``a`` at severity ``s`` (``clamp(colour[a] +
    std_s · ε, 0, 1)``), the colour a full-intensity stroke takes. The same noise ``ε`` is used in every
    panel, so only the standard deviation changes. The panel's image is that array.

    Introduced in chapter 03.
    """
    from .data.bias import BIAS_COLOURS, colour_jitter, colour_std

    if not severities:
        raise ValueError("severities must name at least one severity")
    stds = [colour_std(s) for s in severities]  # validates them
    positive_int("samples", samples)
    num_attributes = len(BIAS_COLOURS)
    attributes = torch.arange(num_attributes).repeat_interleave(samples)
    fig, axes = plt.subplots(1, len(severities), figsize=(0.18 * samples * len(severities) + 1.2, 3.0),
                             squeeze=False, layout="constrained")
    for ax, severity, std in zip(axes[0], severities, stds):
        generator = torch.Generator().manual_seed(seed)
        colours = colour_jitter(attributes, severity, generator).view(num_attributes, samples, 3)
        ax.imshow(colours.numpy(), vmin=0, vmax=1, interpolation="nearest", aspect="auto")
        ax.set_xticks([])
        ax.set_yticks(range(num_attributes), [str(a) for a in range(num_attributes)], fontsize=7)
        ax.set_title(f"severity {severity}: std {std:g}", fontsize=9)
        ax.set_xlabel(f"{samples} images")
    axes[0, 0].set_ylabel("attribute (colour)")
    if title:
        fig.suptitle(title)
    return finish_figure(fig)


def corruption_gallery(images: Tensor, severities: Sequence[int] = (1, 2, 3, 4), seed: int = 0,
                       frost_textures: str | None = None, corruptions: Sequence[str] | None = None) -> Tensor:
    """Every corruption at every Biased-DD severity on the same images: ``(K, S, N, 3, H, W)`` in [0, 1].

    ``images``: ``(N, 3, H, W)`` pixels, float in [0, 1] or ``uint8``. Entry ``[k, s]`` is
    ``corrupt(images, corruptions[k], severities[s] + 1, seeds=seeds)`` (Biased-DD severity ``s`` is
    CIFAR-10-C level ``s + 1``), with one seed per image drawn once from ``seed``, so an image meets the
    same random draw at every severity and in every row. ``frost_textures`` goes to the frost corruption
    (see :func:`ltdd.data.corruptions.frost_textures`).

    Machinery behind chapter 00.
    """
    from .data.corruptions import CORRUPTIONS, corrupt, draw_seeds

    names = list(CORRUPTIONS if corruptions is None else corruptions)
    if not names or not severities:
        raise ValueError("corruptions and severities must not be empty")
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 1 <= s <= 4 for s in severities):
        raise ValueError(f"severities must be Biased-DD severities in 1..4, got {list(severities)}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be RGB (N, 3, H, W), got {tuple(images.shape)}")
    pixels = images.detach().cpu()
    pixels = pixels.float().div(255) if pixels.dtype == torch.uint8 else pixels.float()
    seeds = draw_seeds(len(pixels), torch.Generator().manual_seed(seed))
    return torch.stack([torch.stack([corrupt(pixels, name, int(s) + 1, seeds=seeds, frost_textures=frost_textures)
                                     for s in severities]) for name in names])


def plot_corruption_gallery(images: Tensor, severities: Sequence[int] = (1, 2, 3, 4), seed: int = 0,
                            frost_textures: str | None = None, corruptions: Sequence[str] | None = None,
                            class_names: Sequence[str] | None = None, title: str | None = None,
                            size: float = 0.55) -> Figure:
    """The corruption gallery: one row per corruption, a column of clean images and one per severity.

    Every cell shows the ``N`` images side by side (separated by a white pixel column); the cells are the
    tensors of :func:`corruption_gallery`. ``class_names`` (one per corruption, e.g. CIFAR-10's) adds the
    class each corruption is aligned with to the row label. The grid is ``K × (1 + S)``.

    Introduced in chapter 03.
    """
    from .data.corruptions import CORRUPTIONS

    names = list(CORRUPTIONS if corruptions is None else corruptions)
    if class_names is not None and len(class_names) < len(names):
        raise ValueError(f"class_names needs one name per corruption ({len(names)}), got {len(class_names)}")
    gallery = corruption_gallery(images, severities, seed, frost_textures, names)
    clean = images.detach().cpu()
    clean = clean.float().div(255) if clean.dtype == torch.uint8 else clean.float()

    def strip(batch: Tensor) -> np.ndarray:  # (N, 3, H, W) -> (H, N * (W + 1) - 1, 3), white gaps
        n, _, h, w = batch.shape
        out = np.ones((h, n * (w + 1) - 1, 3))
        for i, image in enumerate(batch.clamp(0, 1).permute(0, 2, 3, 1).numpy()):
            out[:, i * (w + 1): i * (w + 1) + w] = image
        return out

    n, _, h, w = clean.shape
    cell_w = size * n * (w + 1) / max(h, w)
    columns = 1 + len(severities)
    width, height = cell_w * columns + 1.6, size * len(names) + (0.9 if title else 0.5)
    fig, axes = plt.subplots(len(names), columns, figsize=(width, height), squeeze=False,
                             gridspec_kw={"wspace": 0.06, "hspace": 0.08})
    fig.subplots_adjust(left=1.5 / width, right=1 - 0.1 / width, bottom=0.05 / height,
                        top=1 - (0.8 if title else 0.4) / height)
    for k, name in enumerate(names):
        for j in range(columns):
            ax = axes[k, j]
            _blank(ax)
            ax.imshow(strip(clean if j == 0 else gallery[k, j - 1]), vmin=0, vmax=1, interpolation="nearest")
        label = name if class_names is None else f"{name} ({class_names[k]})"
        axes[k, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    axes[0, 0].set_title("clean", fontsize=8)
    for j, s in enumerate(severities, start=1):
        axes[0, j].set_title(f"severity {s} (level {s + 1})", fontsize=8)
    if title:
        fig.suptitle(title)
    return finish_figure(fig)


__all__ += ["BIAS_GROUP_COLORS", "attribute_count_matrix", "corruption_gallery", "plot_aligned_conflicting",
            "plot_attribute_counts", "plot_colour_noise", "plot_corruption_gallery", "show_aligned_conflicting"]


# ---- distillation runs
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


def show_image_panels(panels: Mapping[str, Tensor], labels: Tensor, dataset: ImageDataset, per_class: int = 5,
                      title: str | None = None, classes: Sequence[int] | None = None,
                      size: float = 0.7) -> Figure:
    """Panels side by side, one row per class: e.g. the synthetic images next to their initialisation.

    ``panels`` maps a heading to ``(N, C, H, W)`` images normalised like ``dataset``; every panel holds
    the same number of images in the same order, so one ``labels`` tensor (hard ``(N,)`` or soft
    ``(N, C)``) serves all. Row ``c`` of every panel shows the first ``per_class`` images of class ``c``,
    so image ``j`` of a row is the same synthetic image in every panel. The grid has ``len(classes)`` rows
    and ``len(panels) * per_class`` image columns.

    Introduced in chapter 05.
    """
    if not panels:
        raise ValueError("panels must map at least one heading to a batch of images")
    positive_int("per_class", per_class)
    shapes = {tuple(images.shape) for images in panels.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 4:
        raise ValueError(f"every panel must hold images of the same shape (N, C, H, W), got {sorted(shapes)}")
    labels = labels.detach()
    labels = (labels.argmax(dim=1) if labels.ndim == 2 else labels).cpu()
    n = next(iter(shapes))[0]
    if len(labels) != n:
        raise ValueError(f"labels ({len(labels)}) and the panels' images ({n}) differ in length")
    rows = list(range(dataset.num_classes)) if classes is None else [int(c) for c in classes]
    if not rows or any(not 0 <= c < dataset.num_classes for c in rows):
        raise ValueError(f"classes must be a non-empty list of class indices in [0, {dataset.num_classes - 1}]")
    chosen = [torch.nonzero(labels == c, as_tuple=True)[0][:per_class] for c in rows]
    gap = 0.25  # width of the blank column between panels, in units of an image column
    ratios = []
    for k in range(len(panels)):
        ratios += ([gap] if k else []) + [1.0] * per_class
    width = size * sum(ratios) + 0.8
    height = size * len(rows) + (0.75 if title else 0.4)
    fig, axes = plt.subplots(len(rows), len(ratios), figsize=(width, height), squeeze=False,
                             gridspec_kw={"wspace": 0.05, "hspace": 0.05, "width_ratios": ratios})
    fig.subplots_adjust(left=0.7 / width, right=1 - 0.1 / width, bottom=0.05 / height,
                        top=1 - (0.7 if title else 0.35) / height)
    for ax in axes.flat:
        _blank(ax)
    first_columns = []
    for k, images in enumerate(panels.values()):
        first = k * (per_class + 1)
        first_columns.append(first)
        for r, index in enumerate(chosen):
            pixels = _to_pixels(images[index.to(images.device)], dataset) if len(index) else []
            for j, image in enumerate(pixels):
                grey = image.shape[-1] == 1
                axes[r, first + j].imshow(image[..., 0] if grey else image, cmap="gray" if grey else None,
                                          vmin=0, vmax=1, interpolation="nearest")
    for r, c in enumerate(rows):
        axes[r, 0].set_ylabel(dataset.class_names[c], rotation=0, ha="right", va="center", fontsize=9)
    top = axes[0, 0].get_position().y1 + 0.06 / height
    for heading, first in zip(panels, first_columns):
        left = axes[0, first].get_position().x0
        right = axes[0, first + per_class - 1].get_position().x1
        fig.text((left + right) / 2, top, heading, ha="center", va="bottom", fontsize=9)
    if title:
        fig.suptitle(title)
    return finish_figure(fig)


__all__ += ["moving_average", "plot_loss_curves", "show_image_panels"]


def plot_method_comparison(summary: Mapping[str, Mapping[str, tuple[float, float]]],
                           columns: Sequence[str] = ("overall", "many", "medium", "few"),
                           families: Mapping[str, str] | None = None, title: str | None = None) -> Figure:
    """One panel per column (overall accuracy, then the shot groups), one horizontal bar per method: the mean
    test accuracy (%) over seeds, whiskers the standard deviation, bars coloured by family.

    ``summary`` is ``{method: {column: (mean, std)}}`` in fractions (:func:`ltdd.comparison.group_summary`);
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
