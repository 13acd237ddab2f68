"""Datasets: a registry of named datasets that all return one :class:`ImageDataset`.

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
from .core import ImageDataset, LabeledImages, normalize
from .loaders import DatasetFilesMissing, load_cifar, load_digits, load_mnist, read_idx

_Builder = Callable[..., ImageDataset]


def _digits(data_root: Path, download: bool, device: torch.device, image_size: int = 16) -> ImageDataset:
    return load_digits(image_size=image_size, device=device)


DATASETS: dict[str, _Builder] = {
    "digits": _digits,
    "mnist": lambda data_root, download, device: load_mnist(data_root, download, device),
    "cifar10": lambda data_root, download, device: load_cifar("cifar10", data_root, download, device),
    "cifar100": lambda data_root, download, device: load_cifar("cifar100", data_root, download, device),
}
"""Name → builder. Later chapters register their long-tailed and biased variants here."""

DIGIT_DATASETS = {"digits", "mnist"}


def available_datasets() -> list[str]:
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
    e.g. ``load_dataset("digits", image_size=8)``.
    """
    key = str(name).strip().lower()
    if key not in DATASETS:
        raise ValueError(f"dataset={name!r} is unknown; choose one of {available_datasets()}")
    root = Path(data_root) if data_root is not None else default_data_root()
    builder = DATASETS[key]
    accepted = set(inspect.signature(builder).parameters) - {"data_root", "download", "device"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(f"dataset {key!r} does not accept the options {unknown}; "
                         f"it accepts {sorted(accepted) or 'none'}")
    allowed = download_allowed() if download is None else bool(download)
    return builder(root, allowed, get_device(device), **options)


__all__ = [
    "DATASETS", "DIGIT_DATASETS", "DatasetFilesMissing", "ImageDataset", "LabeledImages",
    "available_datasets", "load_dataset", "normalize", "read_idx",
]
