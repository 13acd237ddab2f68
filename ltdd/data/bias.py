"""Biased datasets: bias attributes, the colour bias of CMNIST-DD, and coloured digits.

A *biased* dataset pairs every image with a second, non-class attribute ``a`` (here: a colour) that is
spuriously correlated with its label ``y``. Attribute ``c`` "belongs" to class ``c``, so

* an image is **bias-aligned** when ``a == y`` (its colour is its class's colour), and
* **bias-conflicting** when ``a != y``.

The construction follows Biased-DD (Lu et al., 2024, "Exploring the Impact of Dataset Bias on Dataset
Distillation": CMNIST-DD and CCIFAR10-DD), which reuses the attribute assignment and the colouring of LfF
(Nam et al., 2020, "Learning from Failure"):

1. :func:`assign_attributes` - the attribute rule of both codes (a ratio matrix, rounded cumulative
   milestones, contiguous blocks in dataset order).
2. :func:`colorize` - the CMNIST colouring: one jittered RGB colour per image multiplies the grey digit
   (foreground only), truncated to ``uint8`` as the original does.
3. :func:`make_coloured` - a grey :class:`~ltdd.data.core.ImageDataset` (digits or MNIST) turned into a
   coloured, biased one: the training set has ``bias_ratio`` aligned images, the test set is all
   bias-conflicting (Biased-DD) or LfF's uniform 10 %-aligned split.

:func:`build_cdigits` and :func:`build_cmnist_dd` are ready-made builders for the dataset registry.
The corrupted CIFAR-10 variant (CCIFAR10-DD) lives in :mod:`ltdd.data.corruptions`; it uses the same
:func:`assign_attributes`.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..config import make_generator
from .core import ImageDataset, LabeledImages, normalize
from .loaders import load_cifar, load_digits, load_mnist

BIAS_COLOURS = torch.tensor(
    [
        [0.983682, 0.312519, 0.168575],
        [0.990530, 0.915605, 0.351512],
        [0.672964, 0.461070, 0.579808],
        [0.783252, 0.831556, 0.601329],
        [0.088016, 0.777963, 0.981808],
        [0.321393, 0.961055, 0.446450],
        [0.024616, 0.235650, 0.758666],
        [0.555247, 0.101580, 0.761763],
        [0.207723, 0.392949, 0.018702],
        [0.833658, 0.202409, 0.266943],
    ],
    dtype=torch.float32,
)
"""The ten mean colours (RGB in [0, 1]) of CMNIST-DD, row ``a`` for attribute ``a``.

They are LfF's ``colors.th`` (shipped again by Biased-DD) to six decimals; the stored float32 values differ
by less than 5e-7.
"""

COLOUR_STDS: dict[int, float] = {1: 0.05, 2: 0.02, 3: 0.01, 4: 0.005}
"""Severity -> standard deviation of the per-image colour jitter (LfF / Biased-DD, ``std[severity - 1]``).

A *higher* severity means *less* jitter, hence a purer, easier colour cue. The originals' list has a fifth
entry (0.002) that no released dataset uses; it is left out here.
"""

BIASED_DD_RATIOS = (0.0, 0.1, 0.5, 0.8, 0.95, 1.0)
"""The bias ratios Biased-DD releases (fraction of bias-aligned training images)."""

DEFAULT_BIAS_RATIO = 0.95
"""Default bias ratio of the builders: 95 % aligned, the most skewed Biased-DD setting short of fully
biased (and LfF's 5 % conflicting split). Biased-DD itself sweeps all of :data:`BIASED_DD_RATIOS`."""

DEFAULT_SEVERITY = 4
"""Default severity of the builders: the purest colour cue (std 0.005), as in LfF's experiments.
Biased-DD sweeps severities 1-4."""

TEST_SPLITS: dict[str, float] = {"conflicting": 0.0, "lff": 0.1}
"""Test-set rule -> the bias ratio its attributes are assigned with.

``"conflicting"``: Biased-DD's test set, ratio 0, so every test image is bias-conflicting (its attribute is
spread evenly over the other classes' colours). ``"lff"``: LfF's validation split, ratio 0.1, which with ten
classes is the uniform assignment (10 % aligned, every colour equally often in every class).
"""

DEFAULT_NAMES = {"digits": "cdigits", "mnist": "cmnist-dd"}


# ----------------------------------------------------------------------------------------- validation
def _check_bias_ratio(bias_ratio: float, name: str = "bias_ratio") -> float:
    if isinstance(bias_ratio, bool) or not isinstance(bias_ratio, numbers.Real):
        raise ValueError(f"{name} must be a number in [0, 1], got {bias_ratio!r}")
    value = float(bias_ratio)
    if not (0.0 <= value <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must lie in [0, 1] (the fraction of bias-aligned images), got {bias_ratio!r}")
    return value


def _check_num_classes(num_classes: int) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    return int(num_classes)


def check_severity(severity: int) -> int:
    """``severity`` as an int when it is one of the levels of ``COLOUR_STDS``; otherwise a ``ValueError``.
    Machinery behind chapter 03."""
    if isinstance(severity, bool) or not isinstance(severity, numbers.Integral) or int(severity) not in COLOUR_STDS:
        raise ValueError(f"severity must be one of {sorted(COLOUR_STDS)}, got {severity!r}")
    return int(severity)


def _check_labels(labels: Tensor, num_classes: int, name: str = "labels") -> Tensor:
    """``labels`` as a 1-D int64 CPU tensor with every value in ``[0, num_classes)``."""
    labels = torch.as_tensor(labels)
    if labels.ndim != 1 or labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"{name} must be a 1-D integer tensor, got dtype {labels.dtype} and shape "
                         f"{tuple(labels.shape)}")
    labels = labels.to("cpu", torch.long)
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{name} must lie in [0, {num_classes}), found values from {labels.min().item()} "
                         f"to {labels.max().item()}")
    return labels


def _check_settings(bias_ratio: float, severity: int, test_split: str) -> tuple[float, int]:
    """Validate the three settings every biased dataset takes; return the ratio and severity."""
    if test_split not in TEST_SPLITS:
        raise ValueError(f"test_split must be one of {sorted(TEST_SPLITS)}, got {test_split!r}")
    return _check_bias_ratio(bias_ratio), check_severity(severity)


def colour_std(severity: int) -> float:
    """The colour-jitter standard deviation of a severity (1 -> 0.05, 2 -> 0.02, 3 -> 0.01, 4 -> 0.005).

    Introduced in chapter 03."""
    return COLOUR_STDS[check_severity(severity)]


# ----------------------------------------------------------------------------- attribute assignment
def bias_ratio_matrix(bias_ratio: float, num_classes: int) -> np.ndarray:
    """The ratio matrix of the attribute rule: ``R[c, a] = r`` if ``a == c`` else ``(1 - r) / (C - 1)``.

    Row ``c`` is the distribution of attributes within class ``c``: a fraction ``r`` keeps the class's own
    attribute, the rest is split evenly over the other ``C - 1`` attributes. ``r = 1/C`` is uniform
    (unbiased), ``r = 1`` fully biased, ``r = 0`` anti-correlated (no aligned image at all).

    Introduced in chapter 03.
    """
    r = _check_bias_ratio(bias_ratio)
    num_classes = _check_num_classes(num_classes)
    ratios = np.full((num_classes, num_classes), (1.0 - r) / (num_classes - 1), dtype=np.float64)
    np.fill_diagonal(ratios, r)
    return ratios


def attribute_milestones(class_counts, bias_ratio: float, num_classes: int) -> np.ndarray:
    """Block ends of the attribute rule: ``M[c, k] = round(n_c * sum_{a <= k} R[c, a])``, shape ``(C, C)``.

    Computed in float64 as ``n_c * cumsum(R[c])`` and rounded half-to-even (``np.rint``), which is exactly
    what the originals' NumPy ``.round()`` does: e.g. a class of 5 images at ``r = 0.5`` gets
    ``round(2.5) = 2`` aligned images, not 3.

    Introduced in chapter 03.
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    num_classes = _check_num_classes(num_classes)
    if counts.shape != (num_classes,) or (counts < 0).any():
        raise ValueError(f"class_counts must be {num_classes} non-negative counts, got {class_counts!r}")
    ratios = bias_ratio_matrix(bias_ratio, num_classes)
    return np.rint(counts[:, None] * np.cumsum(ratios, axis=1)).astype(np.int64)


def assign_attributes(
    labels: Tensor,
    bias_ratio: float,
    num_classes: int,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One bias attribute per image, following the LfF / Biased-DD rule (``make_attr_labels``).

    For class ``c`` with ``n_c`` images, the ``j``-th image of that class *in dataset order*
    (``j = 0 .. n_c - 1``) gets attribute ``a = min{k : M[c, k] > j}``, with the milestones ``M`` of
    :func:`attribute_milestones`. Each class is thus cut into contiguous blocks with attributes
    ``0, 1, ..., C - 1`` of sizes ``M[c, k] - M[c, k - 1]``; the aligned block (``a == c``) holds
    about ``r * n_c`` images (exactly ``round(r * n_c)`` for class 0, within one image for the others). CIFAR-10 class 0 (5,000 images) at ``r = 0.95`` gets
    ``4750, 28, 28, 27, 28, 28, 28, 27, 28, 28`` images with attributes 0..9.

    The originals never shuffle, so which images get which attribute depends on the dataset order.
    ``shuffle=True`` deals the same per-class counts to a random permutation of each class's images
    (drawn from ``generator``; a fixed seed-0 generator when none is given), which removes any link between
    dataset order and attribute.

    Returns an int64 tensor on ``labels``' device.

    Introduced in chapter 03.
    """
    r = _check_bias_ratio(bias_ratio)
    num_classes = _check_num_classes(num_classes)
    device = torch.as_tensor(labels).device
    cpu_labels = _check_labels(labels, num_classes)
    counts = torch.bincount(cpu_labels, minlength=num_classes)
    milestones = torch.from_numpy(attribute_milestones(counts.numpy(), r, num_classes))

    # rank j of every image within its class, in dataset order
    order = torch.argsort(cpu_labels, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(cpu_labels)
    rank[order] = torch.arange(len(cpu_labels)) - starts[cpu_labels[order]]
    if shuffle:
        generator = generator if generator is not None else make_generator(0, "assign-attributes")
        for c in range(num_classes):
            members = order[starts[c]: starts[c] + counts[c]]
            rank[members] = torch.randperm(int(counts[c]), generator=generator, device=generator.device).cpu()

    # min{k : M[c, k] > j} = the number of milestones <= j
    attributes = (milestones[cpu_labels] <= rank[:, None]).sum(dim=1).clamp_(max=num_classes - 1)
    return attributes.to(device)


# --------------------------------------------------------------------------------- bias statistics
class AlignedCounts(NamedTuple):
    """How many images of a split are bias-aligned (``attribute == label``) and how many conflicting.

    Machinery behind chapter 03."""

    aligned: int
    conflicting: int


def _aligned_mask(labels: Tensor, attributes: Tensor) -> Tensor:
    labels, attributes = torch.as_tensor(labels), torch.as_tensor(attributes)
    if labels.shape != attributes.shape or labels.ndim != 1:
        raise ValueError(f"labels and attributes must be 1-D and of one length, got {tuple(labels.shape)} "
                         f"and {tuple(attributes.shape)}")
    return labels.cpu() == attributes.cpu()


def aligned_counts(labels: Tensor, attributes: Tensor) -> AlignedCounts:
    """``(aligned, conflicting)``: how many images have ``attribute == label`` and how many do not.

    Introduced in chapter 03."""
    aligned = int(_aligned_mask(labels, attributes).sum())
    return AlignedCounts(aligned, len(labels) - aligned)


def biased_rate(labels: Tensor, attributes: Tensor) -> float:
    """Biased-DD's biased rate (its Eq. 1): the fraction of bias-aligned images,
    ``|{i : a_i = y_i}| / N``.

    For a training set built with :func:`assign_attributes` it equals ``bias_ratio`` up to the per-class
    rounding of the milestones (MNIST at 0.95: exactly 57,000 of 60,000).

    Introduced in chapter 03.
    """
    if len(labels) == 0:
        raise ValueError("labels is empty: the biased rate of no images is undefined")
    return aligned_counts(labels, attributes).aligned / len(labels)


def bias_summary(dataset: ImageDataset) -> dict | None:
    """What a dataset summary adds for a biased dataset (``None`` when the training set has no attributes).

    ``{"biased_rate": train rate, "train": {"aligned", "conflicting", "biased_rate"}, "test": {...}}``; a split
    without attributes is left out.

    Machinery behind chapter 03.
    """
    if dataset.train.attributes is None:
        return None
    summary: dict = {}
    for split_name in ("train", "test"):
        split = getattr(dataset, split_name)
        if split.attributes is None or len(split) == 0:
            continue
        counts = aligned_counts(split.labels, split.attributes)
        summary[split_name] = {**counts._asdict(), "biased_rate": round(biased_rate(split.labels, split.attributes), 6)}
    return {"biased_rate": summary["train"]["biased_rate"], **summary}


# ------------------------------------------------------------------------------------------ colour
def colour_jitter(
    attributes: Tensor,
    severity: int,
    generator: torch.Generator | None = None,
    colours: Tensor = BIAS_COLOURS,
) -> Tensor:
    """The colour of every image, shape ``(N, 3)``: ``clamp(colours[a] + eps * std, 0, 1)``, ``eps ~ N(0, I)``.

    One RGB offset per image (LfF / Biased-DD ``colorize``), with ``std`` = :func:`colour_std` of the
    severity. The noise is drawn on ``generator``'s device (CPU by default) in one call, so a seed gives the
    same colours on every device; it is returned on the attributes' device.

    Machinery behind chapter 03.
    """
    std = colour_std(severity)
    attributes = torch.as_tensor(attributes)
    if attributes.ndim != 1 or attributes.is_floating_point():
        raise ValueError(f"attributes must be a 1-D integer tensor, got shape {tuple(attributes.shape)}")
    if len(attributes) and (attributes.min() < 0 or attributes.max() >= len(colours)):
        raise ValueError(f"attributes must lie in [0, {len(colours)}) to index the colour table")
    generator = generator if generator is not None else make_generator(0, "colour-jitter")
    noise = torch.randn((len(attributes), 3), generator=generator, device=generator.device)
    base = colours.to(noise.device, torch.float32)[attributes.to(noise.device, torch.long)]
    return (base + noise * std).clamp_(0.0, 1.0).to(attributes.device)


def colorize(
    pixels: Tensor,
    attributes: Tensor,
    severity: int,
    generator: torch.Generator | None = None,
    colours: Tensor = BIAS_COLOURS,
) -> Tensor:
    """Colour grey digits as CMNIST-DD does; returns ``(N, 3, H, W)`` float32 in [0, 1].

    ``pixels``: grey images in [0, 1], shape ``(N, 1, H, W)`` or ``(N, H, W)`` (*pixel* values, not
    normalised ones). Per image, with the 8-bit intensity ``g = round(255 * pixel)`` and the jittered colour
    ``k`` of :func:`colour_jitter`, the original computes (LfF ``colored_mnist_protocol``, Biased-DD)::

        value = uint8(k * g) / 255        # float32 product, then truncation toward zero (numpy astype)

    so the background (``g = 0``) stays exactly black and a full-intensity stroke takes the colour ``k``
    rounded *down* to a multiple of 1/255. Every image is done at once (no Python loop over images).

    Machinery behind chapter 03.
    """
    pixels = torch.as_tensor(pixels)
    if pixels.ndim == 3:
        pixels = pixels.unsqueeze(1)
    if pixels.ndim != 4 or pixels.shape[1] != 1:
        raise ValueError(f"pixels must be grey images (N, 1, H, W) or (N, H, W), got {tuple(pixels.shape)}")
    if len(pixels) != len(attributes):
        raise ValueError(f"pixels and attributes must have one entry per image, got {len(pixels)} and "
                         f"{len(attributes)}")
    if len(pixels) and (pixels.min() < -1e-3 or pixels.max() > 1 + 1e-3):
        raise ValueError("pixels must lie in [0, 1]; denormalise normalised images first "
                         f"(found {pixels.min().item():.3f} to {pixels.max().item():.3f})")
    grey = (pixels.float() * 255).round_().clamp_(0, 255)           # the raw uint8 intensity
    colour = colour_jitter(torch.as_tensor(attributes).to(pixels.device), severity, generator, colours)
    coloured = colour.view(-1, 3, 1, 1) * grey                       # float32, in [0, 255]
    return coloured.floor_().div_(255)                               # astype(uint8) truncates, then / 255


# ---------------------------------------------------------------------------------- coloured datasets
def make_coloured(
    dataset: ImageDataset,
    bias_ratio: float = DEFAULT_BIAS_RATIO,
    severity: int = DEFAULT_SEVERITY,
    seed: int = 0,
    test_split: str = "conflicting",
    shuffle: bool = False,
    name: str | None = None,
) -> ImageDataset:
    """A coloured, biased copy of a grey dataset (digits, MNIST): the CMNIST-DD protocol.

    * Training attributes: :func:`assign_attributes` with ``bias_ratio`` (fraction of bias-aligned images).
    * Test attributes: ``test_split="conflicting"`` (Biased-DD, all bias-conflicting, ratio 0) or ``"lff"``
      (LfF's validation rule, ratio 0.1 = uniform, 10 % aligned); see :data:`TEST_SPLITS`.
    * Colours: :func:`colorize` at ``severity``, with noise streams ``make_generator(seed, "colour", split)``.
      (Biased-DD draws test then train images from one global stream, so its exact pixels differ.)
    * Normalisation: per-channel mean and std of the *coloured training set*, rounded to 4 decimals as
      :func:`~ltdd.data.loaders.load_digits` does. They change a little with ``bias_ratio`` and ``severity``;
      the values used are in ``mean``/``std``. (Biased-DD stores unnormalised [0, 1] tensors.)

    ``shuffle`` is :func:`assign_attributes`' option (off, as in the originals). The result is named
    ``cdigits`` / ``cmnist-dd`` (else ``"c" + dataset.name``), keeps the class names, has
    ``hflip_safe=False`` and lives on ``dataset``'s device. ``info`` records the settings and the biased
    rate and aligned / conflicting counts of both splits.

    Machinery behind chapter 03.
    """
    r, severity = _check_settings(bias_ratio, severity, test_split)
    if not isinstance(dataset, ImageDataset) or dataset.channels != 1:
        raise ValueError("dataset must be a grey (1-channel) ImageDataset such as digits or MNIST")
    if dataset.num_classes > len(BIAS_COLOURS):
        raise ValueError(f"dataset has {dataset.num_classes} classes but only {len(BIAS_COLOURS)} colours exist")
    num_classes = dataset.num_classes

    splits: dict[str, LabeledImages] = {}
    for split_name, ratio in (("train", r), ("test", TEST_SPLITS[test_split])):
        split = getattr(dataset, split_name)
        attributes = assign_attributes(split.labels, ratio, num_classes, shuffle=shuffle,
                                       generator=make_generator(seed, "attributes", split_name))
        pixels = dataset.denormalize(split.images)
        images = colorize(pixels, attributes, severity, make_generator(seed, "colour", split_name))
        splits[split_name] = LabeledImages(images, split.labels.clone(), attributes)

    train_pixels = splits["train"].images
    mean = tuple(round(train_pixels[:, c].mean().item(), 4) for c in range(3))
    std = tuple(round(train_pixels[:, c].std().item(), 4) for c in range(3))
    if min(std) <= 0:
        raise ValueError("the coloured training set is constant in some channel; it cannot be normalised")
    mean_t = torch.tensor(mean, device=train_pixels.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=train_pixels.device).view(1, 3, 1, 1)
    for split in splits.values():
        split.images.sub_(mean_t).div_(std_t)  # = normalize(images, mean, std), without a second copy

    result = ImageDataset(
        name=name or DEFAULT_NAMES.get(dataset.name, f"c{dataset.name}"),
        train=splits["train"],
        test=splits["test"],
        class_names=list(dataset.class_names),
        mean=mean,
        std=std,
        hflip_safe=False,
    )
    stats = bias_summary(result)
    result.info = {
        "source": dataset.name,
        "protocol": "CMNIST-DD (Biased-DD / LfF colouring)",
        "bias_ratio": r,
        "severity": severity,
        "colour_std": COLOUR_STDS[severity],
        "seed": seed,
        "test_split": test_split,
        "test_bias_ratio": TEST_SPLITS[test_split],
        "attribute_order": "shuffled" if shuffle else "dataset order (contiguous blocks)",
        "biased_rate": stats["biased_rate"],
        "train": stats["train"],
        "test": stats["test"],
        "normalisation": "per-channel mean/std of the coloured training set",
        **({"source_info": dataset.info} if dataset.info else {}),
    }
    return result


def build_cdigits(
    data_root: Path,
    download: bool,
    device: torch.device,
    bias_ratio: float = DEFAULT_BIAS_RATIO,
    severity: int = DEFAULT_SEVERITY,
    seed: int = 0,
    test_split: str = "conflicting",
) -> ImageDataset:
    """``cdigits``: the embedded 16x16 digits coloured with the CMNIST-DD protocol (no download).

    Machinery behind chapter 03."""
    return make_coloured(load_digits(device=device), bias_ratio, severity, seed, test_split)


def build_cmnist_dd(
    data_root: Path,
    download: bool,
    device: torch.device,
    bias_ratio: float = DEFAULT_BIAS_RATIO,
    severity: int = DEFAULT_SEVERITY,
    seed: int = 0,
    test_split: str = "conflicting",
) -> ImageDataset:
    """``cmnist-dd``: MNIST (torchvision layout under ``data_root``) coloured with the CMNIST-DD protocol.

    Machinery behind chapter 03."""
    _check_bias_ratio(bias_ratio)  # fail before reading 60,000 images
    check_severity(severity)
    return make_coloured(load_mnist(data_root, download, device), bias_ratio, severity, seed, test_split)


# --------------------------------------------------------------------------------------- CCIFAR10-DD
def make_corrupted(
    dataset: ImageDataset,
    data_root: Path,
    bias_ratio: float = DEFAULT_BIAS_RATIO,
    severity: int = DEFAULT_SEVERITY,
    seed: int = 0,
    test_split: str = "conflicting",
    frost_textures: str | None = None,
) -> ImageDataset:
    """A corrupted, biased copy of CIFAR-10: the CCIFAR10-DD protocol of Biased-DD.

    Attributes are assigned as in :func:`make_coloured`; image ``i`` then gets corruption
    ``CORRUPTIONS[attribute_i]`` at CIFAR-10-C level ``severity + 1``
    (:func:`ltdd.data.corruptions.corrupt_biased_dd`), so corruption ``k`` is aligned with class ``k``.
    The corrupted pixels are cached on disk under ``data_root`` (:mod:`ltdd.data.cache`), keyed by every
    setting, because 60,000 corruptions take a while. The dataset keeps CIFAR-10's normalisation.

    Machinery behind chapter 03.
    """
    from .cache import cached
    from .corruptions import corrupt_biased_dd

    r, severity = _check_settings(bias_ratio, severity, test_split)
    recipe = {"name": "ccifar10-dd", "source": dataset.name, "bias_ratio": r, "severity": severity,
              "seed": seed, "test_split": test_split, "frost_textures": frost_textures or "installed",
              "train_size": len(dataset.train), "test_size": len(dataset.test)}

    def build() -> dict[str, Tensor]:
        tensors = {}
        for split_name, ratio in (("train", r), ("test", TEST_SPLITS[test_split])):
            split = getattr(dataset, split_name)
            attributes = assign_attributes(split.labels.cpu(), ratio, dataset.num_classes,
                                           generator=make_generator(seed, "attributes", split_name))
            pixels = (dataset.denormalize(split.images).cpu() * 255).round().clamp(0, 255).to(torch.uint8)
            tensors[f"{split_name}_pixels"] = corrupt_biased_dd(
                pixels, attributes, severity, make_generator(seed, "corruption", split_name),
                frost_textures=frost_textures)
            tensors[f"{split_name}_attributes"] = attributes
        return tensors

    tensors = cached(data_root, recipe, build)
    device = dataset.device
    splits = {}
    for split_name in ("train", "test"):
        pixels = tensors[f"{split_name}_pixels"].to(device).float().div_(255)
        split = getattr(dataset, split_name)
        splits[split_name] = LabeledImages(normalize(pixels, dataset.mean, dataset.std), split.labels.clone(),
                                           tensors[f"{split_name}_attributes"].to(device))
    result = ImageDataset("ccifar10-dd", splits["train"], splits["test"], list(dataset.class_names),
                          dataset.mean, dataset.std, hflip_safe=True)
    stats = bias_summary(result)
    result.info = {"source": dataset.name, "protocol": "CCIFAR10-DD (Biased-DD: corruption k aligned with class k)",
                   **{k: v for k, v in recipe.items() if k != "name"}, "cifar10_c_level": severity + 1,
                   "biased_rate": stats["biased_rate"], "train": stats["train"], "test": stats["test"]}
    return result


def build_ccifar10_dd(
    data_root: Path,
    download: bool,
    device: torch.device,
    bias_ratio: float = DEFAULT_BIAS_RATIO,
    severity: int = DEFAULT_SEVERITY,
    seed: int = 0,
    test_split: str = "conflicting",
    frost_textures: str | None = None,
) -> ImageDataset:
    """``ccifar10-dd``: CIFAR-10 (torchvision layout under ``data_root``) with the CCIFAR10-DD corruptions.

    Machinery behind chapter 03."""
    _check_bias_ratio(bias_ratio)  # fail before reading 60,000 images
    check_severity(severity)
    return make_corrupted(load_cifar("cifar10", data_root, download, device), data_root, bias_ratio, severity,
                          seed, test_split, frost_textures)


__all__ = [
    "build_ccifar10_dd", "make_corrupted",
    "AlignedCounts", "BIAS_COLOURS", "BIASED_DD_RATIOS", "COLOUR_STDS", "DEFAULT_BIAS_RATIO",
    "DEFAULT_SEVERITY", "TEST_SPLITS", "aligned_counts", "assign_attributes", "attribute_milestones",
    "bias_ratio_matrix", "bias_summary", "biased_rate", "build_cdigits", "build_cmnist_dd", "check_severity",
    "colorize", "colour_jitter", "colour_std", "make_coloured",
]
