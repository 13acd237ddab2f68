"""Datasets: a registry of named datasets that all return one :class:`~ltdd.data.core.ImageDataset`.

>>> from ltdd.data import load_dataset
>>> digits = load_dataset("digits")            # embedded, no download
>>> digits.train.images.shape                  # normalised (N, C, H, W)
torch.Size([1258, 1, 16, 16])
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Callable

import torch

from ..config import default_data_root, download_allowed, get_device
from .bias import bias_summary, build_ccifar10_dd, build_cdigits, build_cmnist_dd
from .core import ImageDataset, LabeledImages, normalize
from .folders import FOLDER_BUILDERS
from .loaders import DatasetFilesMissing, load_cifar, load_digits, load_mnist, read_idx
from .longtail import LT_BUILDERS, counts_only, group_accuracy, shot_groups

_Builder = Callable[..., ImageDataset]


def _digits(data_root: Path, download: bool, device: torch.device, image_size: int = 16) -> ImageDataset:
    return load_digits(image_size=image_size, device=device)


DATASETS: dict[str, _Builder] = {
    "digits": _digits,
    "mnist": lambda data_root, download, device: load_mnist(data_root, download, device),
    "cifar10": lambda data_root, download, device: load_cifar("cifar10", data_root, download, device),
    "cifar100": lambda data_root, download, device: load_cifar("cifar100", data_root, download, device),
    **LT_BUILDERS,  # digits-lt, mnist-lt, cifar10-lt, cifar100-lt
    **FOLDER_BUILDERS,  # tinyimagenet-lt, imagenet-lt (the user's own files; no download)
    "cdigits": build_cdigits,
    "cmnist-dd": build_cmnist_dd,
    "ccifar10-dd": build_ccifar10_dd,
}
"""Name → builder ``(data_root, download, device, **options) -> ImageDataset``."""

DIGIT_DATASETS = {"digits", "mnist", "digits-lt", "mnist-lt", "cdigits", "cmnist-dd"}


def available_datasets() -> list[str]:
    """The names :func:`~ltdd.data.load_dataset` accepts, sorted. Machinery behind chapter 01."""
    return sorted(DATASETS)


def load_dataset(
    name: str,
    *,
    data_root: str | Path | None = None,
    download: bool | None = None,
    device: str | torch.device | None = None,
    **options,
) -> ImageDataset:
    """Load a dataset by name onto ``device`` (default: CUDA if available, else CPU).

    ``data_root`` defaults to ``data/cache`` (or ``$LTDD_DATA_ROOT``); ``download`` defaults to the
    profile's ``allow_download`` (``LTDD_DOWNLOAD`` overrides). Extra ``options`` go to the builder,
    e.g. ``load_dataset("digits", image_size=8)``. ``zca=EPS`` (any dataset) ZCA-whitens train and test
    images with a map fitted on the training images (:mod:`ltdd.data.zca`; trajectory matching uses 0.1).

    Introduced in chapter 01.
    """
    key = str(name).strip().lower()
    if key not in DATASETS:
        raise ValueError(f"dataset={name!r} is unknown; choose one of {available_datasets()}")
    root = Path(data_root) if data_root is not None else default_data_root()
    builder = DATASETS[key]
    zca = options.pop("zca", None)
    accepted = set(inspect.signature(builder).parameters) - {"data_root", "download", "device"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(f"dataset {key!r} does not accept the options {unknown}; "
                         f"it accepts {sorted(accepted) or 'none'}")
    allowed = download_allowed() if download is None else bool(download)
    dataset = builder(root, allowed, get_device(device), **options)
    dataset.options = dict(options)
    if zca is not None:
        from .zca import zca_whiten

        dataset = zca_whiten(dataset, zca)
        dataset.options["zca"] = float(zca)
    return dataset


def dataset_options(imbalance: float | None = None, bias_ratio: float | None = None,
                    severity: int | None = None, zca: float | None = None) -> dict:
    """The builder options a user set (command-line flags left at ``None`` are omitted). Machinery behind chapter 01."""
    given = {"imbalance": imbalance, "bias_ratio": bias_ratio, "severity": severity, "zca": zca}
    return {key: value for key, value in given.items() if value is not None}


__all__ = [
    "DATASETS", "DIGIT_DATASETS", "DatasetFilesMissing", "ImageDataset", "LabeledImages",
    "available_datasets", "bias_summary", "counts_only", "dataset_options", "group_accuracy", "load_dataset",
    "normalize", "read_idx", "shot_groups",
]
