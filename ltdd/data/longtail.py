"""Long-tailed variants of the balanced datasets, and the many/medium/few-shot groups used to report them.

The recipe is the one every public long-tailed CIFAR split uses (Cao et al., LDAM-DRW, ``IMBALANCECIFAR``;
MiSLAS, CRLT-DD and LTDD use the same counts):

1. **Counts.** Class ``i`` of ``C`` keeps ``n_i = int(n_max · µ^(i/(C−1)))`` training images, where
   ``µ = 1/β`` and β (the *imbalance factor*, IF) is the ratio of the largest to the smallest class. So
   class 0 is the largest, class ``C−1`` has ``n_max/β`` images, and the counts fall geometrically
   (:func:`longtail_counts`).
2. **Selection.** Which images of a class survive is a seeded random draw (:func:`select_longtail_indices`):
   LDAM shuffles each class with one NumPy RNG seeded once; LTDD draws each class from a fresh
   ``RandomState(42)``. The counts are identical, the images are not.
3. **Test set.** The balanced test split is kept untouched, so overall accuracy equals the mean of the
   per-class accuracies.
4. **Reporting.** Classes are grouped by their number of training images (Liu et al., OLTR: many > 100,
   medium 20–100, few < 20) or by fixed index ranges (MiSLAS); see :func:`shot_groups`,
   :func:`index_range_groups` and :func:`group_accuracy`.

>>> longtail_counts(5000, 10, imbalance=100)
[5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
"""

from __future__ import annotations

import dataclasses
import math
from numbers import Real
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ..checks import int_in_range
from .core import ImageDataset
from .loaders import DIGITS_IMAGE_SIZE, load_cifar, load_digits, load_mnist

# ----------------------------------------------------------------------------------------- constants
COUNT_RULES = ("exp", "paper")
"""``exp``: β^(−i/(C−1)), as every public implementation computes it; ``paper``: β^(−c/C), as some papers
print it."""

SELECTION_RULES = ("ldam", "ltdd")
REFERENCE_SEEDS = {"ldam": 0, "ltdd": 42}
"""The seed each public implementation hard-codes: LDAM's ``rand_number=0``, LTDD's ``RandomState(42)``."""

CIFAR10_LT_IMBALANCE = 100
CIFAR100_LT_IMBALANCE = 100
MNIST_LT_IMBALANCE = 100
DIGITS_LT_IMBALANCE = 10
"""digits has only 122–128 training images per class. β = 10 gives 122 … 12 images: a clear tail in which
the smallest class still holds more than the chapters' 10 images per class. (β = 100 would leave 1.)"""

DEFAULT_IMBALANCE = {
    "cifar10-lt": CIFAR10_LT_IMBALANCE,
    "cifar100-lt": CIFAR100_LT_IMBALANCE,
    "mnist-lt": MNIST_LT_IMBALANCE,
    "digits-lt": DIGITS_LT_IMBALANCE,
    "tinyimagenet-lt": 10,  # LTDD's Tiny ImageNet-LT configs use β = 10 and 20 (ltdd.data.folders)
}
"""The imbalance factor β each long-tailed dataset uses when none is given (dataset name → β)."""

MNIST_TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
"""Images per class in MNIST's 60,000-image training split (classes 0–9). MNIST is not balanced, so its
long-tailed version starts from the smallest class (5421, digit 5): the largest count every class can supply."""

_BALANCED_SHAPE = {  # name → (n_max, num_classes) of the balanced training split, known without loading it
    "cifar10": (5000, 10),
    "cifar100": (500, 100),
    "mnist": (min(MNIST_TRAIN_COUNTS), 10),
    "tinyimagenet": (500, 200),
}

SHOT_GROUPS = ("many", "medium", "few")

MISLAS_INDEX_SPLITS = {
    "cifar10": (3, 7),
    "cifar100": (36, 71),
    "imagenet-lt": (390, 835),
    "places-lt": (131, 288),
}
"""MiSLAS's fixed head/medium/tail index ranges ``[0, a) [a, b) [b, C)`` (classes sorted by count)."""


# -------------------------------------------------------------------------------------------- counts
def longtail_counts(n_max: int, num_classes: int, imbalance: float, rule: str = "exp") -> list[int]:
    """Training images per class of a long-tailed split with imbalance factor β = ``imbalance``.

    ``rule="exp"`` is the exponential profile of LDAM-DRW (``get_img_num_per_cls``), used unchanged by
    MiSLAS, CRLT-DD and LTDD: ``n_i = int(n_max · µ^(i/(C−1)))`` with ``µ = 1/β`` (equivalently
    ``n_max · β^(−i/(C−1))``, the form the CRLT-DD paper prints), truncated by ``int``. It is evaluated in
    float64 exactly as the reference does (µ first, then the power), so the counts match the public
    splits to the image: CIFAR-10-LT β = 100 totals 12,406.

    ``rule="paper"`` is the variant β^(−c/C) that some papers print: ``n_c = int(n_max · β^(−c/C))``.
    Its smallest class has ``n_max · β^(−(C−1)/C)`` images, not ``n_max/β`` (79 instead of 50 for
    CIFAR-10 β = 100); no public code uses it.

    Raises ``ValueError`` for β < 1, fewer than 2 classes, ``n_max < 1``, an unknown rule, or a β so large
    that a class would be left with no image.

    Introduced in chapter 02.
    """
    int_in_range("n_max", n_max, minimum=1)
    int_in_range("num_classes", num_classes, minimum=2)
    beta = check_imbalance(imbalance)
    if rule == "exp":
        mu = 1.0 / beta
        counts = [int(float(n_max) * mu ** (i / (num_classes - 1.0))) for i in range(num_classes)]
    elif rule == "paper":
        counts = [int(float(n_max) * beta ** (-c / num_classes)) for c in range(num_classes)]
    else:
        raise ValueError(f"rule={rule!r} is unknown; choose one of {list(COUNT_RULES)}")
    if counts[-1] < 1:
        raise ValueError(f"imbalance={imbalance!r} is too large for n_max={n_max}: "
                         f"the smallest class would keep {counts[-1]} images")
    return counts


def counts_only(name: str, imbalance: float | None = None, rule: str = "exp") -> list[int]:
    """Per-class training counts of a long-tailed dataset without loading its images.

    ``name`` is ``cifar10-lt`` (n_max 5000, 10 classes), ``cifar100-lt`` (500, 100), ``mnist-lt``
    (5421 = MNIST's smallest class, 10) or ``digits-lt`` (loads scikit-learn's bundled digits, which takes
    a moment but needs no download). The ``-lt`` suffix is optional. ``imbalance`` defaults to the
    dataset's default (:data:`DEFAULT_IMBALANCE`). The result equals
    ``make_longtail(load(name), imbalance, rule).train`` counts.

    Introduced in chapter 02.
    """
    base = str(name).strip().lower().removesuffix("-lt")
    if imbalance is None:
        imbalance = DEFAULT_IMBALANCE.get(f"{base}-lt")
    if base == "digits":
        n_max, num_classes = min(load_digits(image_size=8).train.class_counts(10)), 10
    elif base in _BALANCED_SHAPE:
        n_max, num_classes = _BALANCED_SHAPE[base]
    else:
        raise ValueError(f"name={name!r} has no known counts; choose one of {sorted(DEFAULT_IMBALANCE)}")
    return longtail_counts(n_max, num_classes, imbalance, rule)


# ----------------------------------------------------------------------------------------- selection
# NumPy's legacy RandomState is used on purpose here (ltdd otherwise draws from torch.Generator objects made
# by ltdd.config.make_generator): it is the generator the public splits were drawn with, so the same seed
# reproduces the very images of LDAM's and LTDD's long-tailed CIFAR.
def select_longtail_indices(labels: Tensor | np.ndarray | Sequence[int], counts: Sequence[int],
                            rule: str = "ldam", seed: int | None = None) -> Tensor:
    """Indices of the images that a long-tailed split keeps: ``counts[c]`` images of every class ``c``.

    ``rule="ldam"`` reproduces LDAM-DRW's ``gen_imbalanced_data`` (and MiSLAS, CRLT-DD): one RNG seeded once
    (``rand_number``, default 0); classes in label order; each class's indices are shuffled and the first
    ``counts[c]`` kept. The RNG is consumed across classes, so a class's draw depends on the sizes of the
    classes before it. ``rule="ltdd"`` reproduces LTDD's ``produce_imbanlance_data``: every class draws from a
    *fresh* ``RandomState(42)`` (``choice(n_available, counts[c], replace=False)``), independently of the others.

    ``seed=None`` uses the rule's reference seed (:data:`REFERENCE_SEEDS`: 0 for ldam, 42 for ltdd).
    Returns a CPU ``int64`` tensor, grouped by class (class 0 first) and, inside a class, in the order
    drawn (not sorted), as the reference stacks the images.

    Introduced in chapter 02.
    """
    if rule not in SELECTION_RULES:
        raise ValueError(f"rule={rule!r} is unknown; choose one of {list(SELECTION_RULES)}")
    seed = REFERENCE_SEEDS[rule] if seed is None else seed
    int_in_range("seed", seed, minimum=0, maximum=2**32 - 1)
    labels = _as_numpy_labels(labels)
    if len(labels) and (labels.min() < 0 or labels.max() >= len(counts)):
        raise ValueError(f"labels must lie in [0, {len(counts)}) to match counts, "
                         f"found {labels.min()}..{labels.max()}")
    members = [np.flatnonzero(labels == c) for c in range(len(counts))]
    for c, (index, n) in enumerate(zip(members, counts)):
        int_in_range(f"counts[{c}]", n, minimum=0)
        if n > len(index):
            raise ValueError(f"counts[{c}]={n} but class {c} has only {len(index)} images")
    draw = _draw_ldam if rule == "ldam" else _draw_ltdd
    chosen = draw(members, [int(n) for n in counts], seed)
    return torch.from_numpy(np.concatenate(chosen + [np.empty(0, dtype=np.int64)]).astype(np.int64))


def _draw_ldam(members: list[np.ndarray], counts: list[int], seed: int) -> list[np.ndarray]:
    """One RNG for all classes, seeded once: shuffle each class's indices, keep a prefix."""
    rng = np.random.RandomState(seed)
    chosen = []
    for index, n in zip(members, counts):
        index = index.copy()
        rng.shuffle(index)
        chosen.append(index[:n])
    return chosen


def _draw_ltdd(members: list[np.ndarray], counts: list[int], seed: int) -> list[np.ndarray]:
    """A fresh RNG per class: choose ``n`` positions of the class without replacement."""
    return [index[np.random.RandomState(seed).choice(len(index), n, replace=False)]
            for index, n in zip(members, counts)]


# ------------------------------------------------------------------------------------------ datasets
def make_longtail(dataset: ImageDataset, imbalance: float, rule: str = "exp", selection: str = "ldam",
                  seed: int | None = None) -> ImageDataset:
    """A long-tailed copy of ``dataset``: the training split subsampled to :func:`longtail_counts`.

    ``n_max`` is the smallest class count of the balanced training split, i.e. the largest count every
    class can supply (for CIFAR it is simply the common 5000/500; MNIST's classes are unequal, so 5421).
    The images are chosen by :func:`select_longtail_indices` with ``selection`` and ``seed`` (``None``: the
    rule's reference seed). The test split stays balanced and untouched. The result is named
    ``"<name>-lt"`` and records ``imbalance``, ``counts``, ``count_rule``, ``selection``, ``selection_seed``
    and ``n_max`` in ``info``.

    Machinery behind chapter 02.
    """
    if selection not in SELECTION_RULES:
        raise ValueError(f"selection={selection!r} is unknown; choose one of {list(SELECTION_RULES)}")
    available = dataset.train.class_counts(dataset.num_classes)
    n_max = min(available)
    counts = longtail_counts(n_max, dataset.num_classes, imbalance, rule)
    seed = REFERENCE_SEEDS[selection] if seed is None else seed
    index = select_longtail_indices(dataset.train.labels, counts, rule=selection, seed=seed)
    info = {**dataset.info, "balanced_name": dataset.name, "imbalance": imbalance, "count_rule": rule,
            "selection": selection, "selection_seed": seed, "n_max": n_max, "counts": counts}
    return dataclasses.replace(dataset, name=f"{dataset.name}-lt",
                               train=dataset.train.subset(index.to(dataset.device)), info=info)


def build_digits_lt(data_root: Path, download: bool, device: torch.device,
                    imbalance: float = DIGITS_LT_IMBALANCE, rule: str = "exp", selection: str = "ldam",
                    seed: int | None = None, image_size: int = DIGITS_IMAGE_SIZE) -> ImageDataset:
    """``digits-lt``: the embedded digits, long-tailed (default β = 10: 122 … 12 images per class).

    Machinery behind chapter 02."""
    return make_longtail(load_digits(image_size=image_size, device=device), imbalance, rule, selection, seed)


def build_mnist_lt(data_root: Path, download: bool, device: torch.device,
                   imbalance: float = MNIST_LT_IMBALANCE, rule: str = "exp", selection: str = "ldam",
                   seed: int | None = None) -> ImageDataset:
    """``mnist-lt``: MNIST, long-tailed from its smallest class (default β = 100: 5421 … 54).

    Machinery behind chapter 02."""
    return make_longtail(load_mnist(data_root, download, device), imbalance, rule, selection, seed)


def build_cifar10_lt(data_root: Path, download: bool, device: torch.device,
                     imbalance: float = CIFAR10_LT_IMBALANCE, rule: str = "exp", selection: str = "ldam",
                     seed: int | None = None) -> ImageDataset:
    """``cifar10-lt``: LDAM's CIFAR-10-LT (default β = 100: 5000 … 50, 12,406 images). Machinery behind chapter 02."""
    return make_longtail(load_cifar("cifar10", data_root, download, device), imbalance, rule, selection, seed)


def build_cifar100_lt(data_root: Path, download: bool, device: torch.device,
                      imbalance: float = CIFAR100_LT_IMBALANCE, rule: str = "exp", selection: str = "ldam",
                      seed: int | None = None) -> ImageDataset:
    """``cifar100-lt``: LDAM's CIFAR-100-LT (default β = 100: 500 … 5, 10,847 images). Machinery behind chapter 02."""
    return make_longtail(load_cifar("cifar100", data_root, download, device), imbalance, rule, selection, seed)


LT_BUILDERS = {
    "digits-lt": build_digits_lt,
    "mnist-lt": build_mnist_lt,
    "cifar10-lt": build_cifar10_lt,
    "cifar100-lt": build_cifar100_lt,
}
"""Name → builder, ready for ``ltdd.data.DATASETS.update(LT_BUILDERS)``."""


# -------------------------------------------------------------------------------------- shot groups
def shot_groups(train_counts: Sequence[int], many: int = 100, few: int = 20,
                inclusive: bool = False) -> list[str]:
    """The shot group of every class, from its number of training images.

    Default (the OLTR paper, Decoupling and most successors): ``many`` if n > 100, ``few`` if n < 20,
    ``medium`` otherwise (20 ≤ n ≤ 100). ``inclusive=True`` is what OLTR's code (``shot_acc``) actually
    does: ``many`` if n ≥ 100, else ``few`` if n ≤ 20. The two differ only for classes sitting exactly on
    a threshold, but those exist: CIFAR-100-LT β = 100 gives 35 / 35 / 30 classes, and 35 / 34 / 31
    inclusively (class 69 has exactly 20 images).

    Introduced in chapter 02.
    """
    if few > many:
        raise ValueError(f"few={few} must not exceed many={many}")
    if inclusive:
        return ["many" if n >= many else "few" if n <= few else "medium" for n in train_counts]
    return ["many" if n > many else "few" if n < few else "medium" for n in train_counts]


def index_range_groups(num_classes: int, splits: tuple[int, int]) -> list[str]:
    """Fixed index ranges (MiSLAS): classes ``[0, a)`` many, ``[a, b)`` medium, ``[b, C)`` few.

    ``splits = (a, b)``; :data:`MISLAS_INDEX_SPLITS` holds MiSLAS's ranges, e.g. CIFAR-100 ``(36, 71)``.
    The group names are those of :func:`shot_groups`, so :func:`group_accuracy` tabulates both alike.

    Introduced in chapter 02.
    """
    int_in_range("num_classes", num_classes, minimum=1)
    a, b = splits
    if not (0 <= a <= b <= num_classes):
        raise ValueError(f"splits={splits!r} must satisfy 0 <= a <= b <= num_classes={num_classes}")
    return ["many" if c < a else "medium" if c < b else "few" for c in range(num_classes)]


def group_accuracy(per_class_accuracy: Sequence[float] | Tensor | np.ndarray,
                   groups: Sequence[str]) -> dict[str, float]:
    """Unweighted mean of the per-class accuracies within each group (OLTR's many/medium/few accuracy).

    Groups without a class are **left out** of the result (repositories differ: some report 0, some NaN;
    an absent key cannot be mistaken for a measurement). Keys come in the order many, medium, few, then any
    other group names in order of first appearance.

    Introduced in chapter 02.
    """
    values = [float(v) for v in (per_class_accuracy.tolist() if hasattr(per_class_accuracy, "tolist")
                                 else per_class_accuracy)]
    groups = list(groups)
    if len(values) != len(groups):
        raise ValueError(f"per_class_accuracy has {len(values)} entries but groups has {len(groups)}")
    names = [g for g in SHOT_GROUPS if g in groups]
    names += [g for g in dict.fromkeys(groups) if g not in SHOT_GROUPS]
    return {name: sum(v for v, g in zip(values, groups) if g == name) / groups.count(name) for name in names}


# ---------------------------------------------------------------------------------------- validation
def check_imbalance(imbalance: object) -> float:
    """The imbalance factor β = n_max / n_min as a float when it is a finite number >= 1; otherwise a
    ``ValueError`` (LDAM's ``imb_factor`` is 1/β, a common mix-up). Machinery behind chapter 02."""
    if not isinstance(imbalance, Real) or isinstance(imbalance, bool) or not math.isfinite(imbalance) \
            or imbalance < 1:
        raise ValueError(f"imbalance must be a finite number >= 1 (β = n_max / n_min), got {imbalance!r}; "
                         "note that LDAM's imb_factor is 1/β")
    return float(imbalance)


def _as_numpy_labels(labels: Tensor | np.ndarray | Sequence[int]) -> np.ndarray:
    array = labels.detach().cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {array.shape}")
    return array.astype(np.int64)


__all__ = [
    "COUNT_RULES", "DEFAULT_IMBALANCE", "LT_BUILDERS", "MISLAS_INDEX_SPLITS", "MNIST_TRAIN_COUNTS",
    "REFERENCE_SEEDS", "SELECTION_RULES", "SHOT_GROUPS", "build_cifar100_lt", "build_cifar10_lt",
    "build_digits_lt", "build_mnist_lt", "check_imbalance", "counts_only", "group_accuracy", "index_range_groups",
    "longtail_counts", "make_longtail", "select_longtail_indices", "shot_groups",
]
