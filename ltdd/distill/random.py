"""Random selection: the simplest "distillation", and the baseline every method must beat."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..checks import positive_int
from ..data import ImageDataset
from .base import Distiller, SyntheticSet, check_ipc


@dataclass(frozen=True)
class RandomConfig:
    """Settings of :class:`~ltdd.distill.random.RandomSelection`: only the number of images per class.

    Machinery behind chapter 06."""

    ipc: int = 10
    """Real images kept per class."""


def sample_real_per_class(dataset: ImageDataset, ipc: int, generator: torch.Generator,
                          repeat: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick ``ipc`` distinct training images of every class (class-major order); return images, labels.

    ``repeat=True`` lets a class with fewer than ``ipc`` images (the tail of a long-tailed set) give each of its
    images more than once: passes over the class, each in a fresh random order, until ``ipc`` are drawn. A
    class that is large enough is drawn exactly as without ``repeat``.

    Introduced in chapter 06.
    """
    if not repeat:
        check_ipc(ipc, dataset)
    else:
        positive_int("ipc", ipc)
    chosen = []
    for label in range(dataset.num_classes):
        index = dataset.train.class_indices(label)
        if len(index) == 0:
            raise ValueError(f"class {label} of {dataset.name!r} has no training image to draw from")
        passes = []
        while sum(len(p) for p in passes) < ipc:
            order = torch.randperm(len(index), generator=generator, device=generator.device).to(index.device)
            passes.append(index[order])
        chosen.append(torch.cat(passes)[:ipc])
    chosen = torch.cat(chosen)
    return dataset.train.images[chosen].clone(), dataset.train.labels[chosen].clone()


class RandomSelection(Distiller):
    """``ipc`` real images per class drawn without replacement, seeded. It has no iterations.

    Machinery behind chapter 06."""

    name = "random"
    iterative = False
    Config = RandomConfig

    def __init__(self, dataset: ImageDataset, config: RandomConfig = RandomConfig(), seed: int = 0):
        check_ipc(config.ipc, dataset)
        super().__init__(dataset, config, seed)

    def init(self) -> SyntheticSet:
        """Draw ``ipc`` images of every class (:func:`~ltdd.distill.random.sample_real_per_class`); the set is final."""
        images, labels = sample_real_per_class(self.dataset, self.config.ipc, self.generator)
        self.synthetic = SyntheticSet(images, labels, self.dataset.num_classes, config=self.describe())
        return self.synthetic

    def step(self) -> dict:
        """Nothing to optimise: no metrics."""
        return {}  # nothing to optimise: the selection is final after init()
