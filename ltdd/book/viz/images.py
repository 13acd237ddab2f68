"""Images as grids: a set per class, sets side by side, bias-aligned beside bias-conflicting images, colour noise and
corruptions at each severity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from ...checks import positive_int
from ...data import ImageDataset
from .core import BIAS_GROUP_COLORS, as_long_cpu, finish_figure


def _image_grid(rows: int, columns: int, width: float, height: float, left: float, bottom: float, top: float,
                space: tuple[float, float], width_ratios: list | None = None):
    """A ``rows × columns`` grid of image axes on a ``width × height`` inch figure, with margins in inches
    (``left`` for the row labels, ``top`` for the title; 0.1 on the right) and ``space = (wspace, hspace)``."""
    gridspec = {"wspace": space[0], "hspace": space[1], **({"width_ratios": width_ratios} if width_ratios else {})}
    fig, axes = plt.subplots(rows, columns, figsize=(width, height), squeeze=False, gridspec_kw=gridspec)
    fig.subplots_adjust(left=left / width, right=1 - 0.1 / width, bottom=bottom / height, top=1 - top / height)
    return fig, axes


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
    fig, axes = _image_grid(len(rows), columns, width, height, left=label_width, bottom=0.05,
                            top=0.45 if title else 0.05, space=(0.05, 0.05))
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


def _blank(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


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
    labels, attributes = as_long_cpu(labels, "labels"), as_long_cpu(attributes, "attributes")
    if not len(labels) == len(attributes) == len(images):
        raise ValueError(f"images ({len(images)}), labels ({len(labels)}) and attributes ({len(attributes)}) "
                         "must have one entry per image")
    rows = list(range(dataset.num_classes)) if classes is None else [int(c) for c in classes]
    if not rows or any(not 0 <= c < dataset.num_classes for c in rows):
        raise ValueError(f"classes must be a non-empty list of class indices in [0, {dataset.num_classes - 1}]")
    columns = 2 * per_group
    width, height = size * columns + 0.9, size * len(rows) + (0.85 if title else 0.45)
    fig, axes = _image_grid(len(rows), columns, width, height, left=0.6, bottom=0.15,
                            top=0.75 if title else 0.35, space=(0.08, 0.3))
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
    from ...data.bias import BIAS_COLOURS, colour_jitter, colour_std

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
    from ...data.corruptions import CORRUPTIONS, corrupt, draw_seeds

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
    from ...data.corruptions import CORRUPTIONS

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
    fig, axes = _image_grid(len(names), columns, width, height, left=1.5, bottom=0.05,
                            top=0.8 if title else 0.4, space=(0.06, 0.08))
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
    fig, axes = _image_grid(len(rows), len(ratios), width, height, left=0.7, bottom=0.05,
                            top=0.7 if title else 0.35, space=(0.05, 0.05), width_ratios=ratios)
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


__all__ = ["corruption_gallery", "plot_colour_noise", "plot_corruption_gallery", "show_aligned_conflicting",
           "show_image_panels", "show_image_rows", "show_images"]
