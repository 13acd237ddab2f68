"""The one in-memory dataset object every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class LabeledImages:
    """One split: normalised images ``(N, C, H, W)`` (float32) and integer labels ``(N,)``.

    ``attributes`` holds an optional per-image attribute (e.g. the colour of a biased dataset).

    Machinery behind chapter 08.
    """

    images: Tensor
    labels: Tensor
    attributes: Tensor | None = None

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise ValueError(f"images must have shape (N, C, H, W), got {tuple(self.images.shape)}")
        if self.labels.ndim != 1 or len(self.labels) != len(self.images):
            raise ValueError(
                f"labels must have shape ({len(self.images)},), got {tuple(self.labels.shape)}"
            )
        if self.attributes is not None and len(self.attributes) != len(self.images):
            raise ValueError("attributes must have one entry per image")

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self, num_classes: int) -> list[int]:
        """Number of images of each of the ``num_classes`` classes."""
        return torch.bincount(self.labels.cpu(), minlength=num_classes).tolist()

    def class_indices(self, label: int) -> Tensor:
        """Indices (on the images' device) of every image of one class."""
        return torch.nonzero(self.labels == label, as_tuple=True)[0]

    def subset(self, index: Tensor) -> "LabeledImages":
        """The images (with their labels and attributes) at ``index``."""
        attributes = None if self.attributes is None else self.attributes[index]
        return LabeledImages(self.images[index], self.labels[index], attributes)

    def to(self, device: torch.device | str) -> "LabeledImages":
        """A copy on ``device``."""
        attributes = None if self.attributes is None else self.attributes.to(device)
        return LabeledImages(self.images.to(device), self.labels.to(device), attributes)


@dataclass
class ImageDataset:
    """A named classification dataset held in memory, ready for distillation.

    Images are stored **normalised** with ``mean`` and ``std`` (per channel), as the distillation
    literature does: augmentation and matching act on normalised tensors, so a zero fill equals the mean.

    Machinery behind chapter 08.
    """

    name: str
    train: LabeledImages
    test: LabeledImages
    class_names: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    hflip_safe: bool = True
    """False for digits: a mirrored 2 is no longer a 2, so DSA drops the flip (as the reference does)."""
    info: dict = field(default_factory=dict)
    """Free-form facts about how the set was built (source files, split rule, resolution)."""
    options: dict = field(default_factory=dict)
    """The options it was loaded with (``load_dataset(name, **options)`` rebuilds the same set)."""
    whitening: object | None = None
    """The :class:`~ltdd.data.zca.ZCA` map when the images are ZCA-whitened (``load_dataset(..., zca=0.1)``)."""

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def channels(self) -> int:
        """Number of image channels (1 for grey digits, 3 for colour)."""
        return self.train.images.shape[1]

    @property
    def image_size(self) -> int:
        """Side length of the (square) images in pixels."""
        return self.train.images.shape[-1]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """Shape ``(C, H, W)`` of one image."""
        return tuple(self.train.images.shape[1:])

    @property
    def device(self) -> torch.device:
        """Device the images are on."""
        return self.train.images.device

    def to(self, device: torch.device | str) -> "ImageDataset":
        """A copy with both splits (and the ZCA map, if any) on ``device``."""
        return ImageDataset(
            self.name, self.train.to(device), self.test.to(device), self.class_names, self.mean,
            self.std, self.hflip_safe, self.info, self.options,
            None if self.whitening is None else self.whitening.to(device),
        )

    def denormalize(self, images: Tensor) -> Tensor:
        """Map normalised (or ZCA-whitened) images back to pixel space [0, 1] (for figures)."""
        if self.whitening is not None:
            return self.whitening.inverse(images)
        mean = torch.tensor(self.mean, device=images.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=images.device).view(1, -1, 1, 1)
        return images * std + mean

    def summary(self) -> dict:
        """Counts per class and totals, as ``python -m ltdd data NAME`` prints them."""
        train = self.train.class_counts(self.num_classes)
        test = self.test.class_counts(self.num_classes)
        per_class = [a + b for a, b in zip(train, test)]
        from .bias import bias_summary  # bias imports core: a local import avoids the cycle

        bias = bias_summary(self)
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "class_names": self.class_names,
            "image_shape": list(self.image_shape),
            "per_class": per_class,
            "total": sum(per_class),
            "train": {"per_class": train, "total": sum(train)},
            "test": {"per_class": test, "total": sum(test)},
            "mean": list(self.mean),
            "std": list(self.std),
            **({"options": self.options} if self.options else {}),
            **({"bias": bias} if bias else {}),
            **({"info": self.info} if self.info else {}),
        }


def normalize(images: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """``(x - mean) / std`` per channel for images in [0, 1]. Introduced in chapter 08."""
    mean_t = torch.tensor(mean, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    return (images - mean_t) / std_t
