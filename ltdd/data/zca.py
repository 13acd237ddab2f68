"""ZCA whitening (Bell & Sejnowski 1997), as trajectory matching uses it (MTT's and DATM's ``--zca``).

Fitted on the training images in pixel space, ZCA maps every image ``x`` (flattened to ``D`` values) to

    z = (x − μ) W,     W = U diag((λ + ε)^{-1/2}) Uᵀ,

with ``U diag(λ) Uᵀ`` the eigendecomposition of the training set's (unbiased) pixel covariance and ``ε``
the regulariser (the references use kornia's ``ZCAWhitening(eps=0.1)``). It decorrelates neighbouring pixels,
which sharpens edges and is reported to help trajectory matching on CIFAR. The same map is applied to the
test images (the LTDD code's CIFAR-10-LT loader normalises test images before ZCA but not train images; here
both go through the identical map).

A whitened dataset is loaded with ``load_dataset(name, zca=0.1)``: its options record ``zca``, so expert
buffers and distilled sets made from it refuse the unwhitened set. :meth:`ZCA.inverse` maps whitened
images back to pixels for figures (``dataset.denormalize`` does it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class ZCA:
    """A fitted whitening map: pixel mean ``μ`` (D,), whitening ``W`` and its inverse (D, D).

    Machinery behind chapter 10."""

    mean: Tensor
    whitening: Tensor
    unwhitening: Tensor
    eps: float

    @classmethod
    def fit(cls, pixels: Tensor, eps: float = 0.1) -> "ZCA":
        """Fit on images ``(N, C, H, W)`` in pixel space (float64 for the eigendecomposition)."""
        if not (isinstance(eps, (int, float)) and not isinstance(eps, bool) and eps > 0):
            raise ValueError(f"zca eps must be a number > 0 (the references use 0.1), got {eps!r}")
        if len(pixels) < 2:
            raise ValueError("ZCA needs at least 2 training images")
        x = pixels.reshape(len(pixels), -1).to(torch.float64)
        mean = x.mean(dim=0)
        centred = x - mean
        covariance = centred.T @ centred / (len(x) - 1)
        values, vectors = torch.linalg.eigh(covariance)
        values = values.clamp_min(0)  # round-off can make the smallest eigenvalues slightly negative
        whitening = vectors @ torch.diag((values + eps).rsqrt()) @ vectors.T
        unwhitening = vectors @ torch.diag((values + eps).sqrt()) @ vectors.T
        dtype = pixels.dtype
        return cls(mean.to(dtype), whitening.to(dtype), unwhitening.to(dtype), float(eps))

    def to(self, device) -> "ZCA":
        """A copy with its tensors on ``device``."""
        return ZCA(self.mean.to(device), self.whitening.to(device), self.unwhitening.to(device), self.eps)

    def __call__(self, pixels: Tensor) -> Tensor:
        """Whiten images ``(N, C, H, W)`` given in pixel space."""
        flat = pixels.reshape(len(pixels), -1)
        return ((flat - self.mean.to(flat)) @ self.whitening.to(flat)).reshape(pixels.shape)

    def inverse(self, whitened: Tensor) -> Tensor:
        """Pixels back from whitened images."""
        flat = whitened.reshape(len(whitened), -1)
        return (flat @ self.unwhitening.to(flat) + self.mean.to(flat)).reshape(whitened.shape)


def zca_whiten(dataset, eps: float = 0.1):
    """A copy of ``dataset`` whose train and test images are ZCA-whitened with a map fitted on its training
    images (in pixel space); the map is kept as ``dataset.whitening``.

    Machinery behind chapter 10."""
    from .core import ImageDataset, LabeledImages

    if getattr(dataset, "whitening", None) is not None:
        raise ValueError(f"dataset {dataset.name!r} is already ZCA-whitened")
    zca = ZCA.fit(dataset.denormalize(dataset.train.images).cpu(), eps).to(dataset.device)

    def whiten(split: LabeledImages) -> LabeledImages:
        return dataclasses.replace(split, images=zca(dataset.denormalize(split.images)))

    channels = dataset.channels
    return ImageDataset(dataset.name, whiten(dataset.train), whiten(dataset.test), list(dataset.class_names),
                          (0.0,) * channels, (1.0,) * channels, dataset.hflip_safe,
                          {**dataset.info, "zca_eps": float(eps)}, dict(dataset.options), whitening=zca)


__all__ = ["ZCA", "zca_whiten"]
