"""Finding the bias-aligned images without attribute labels: a bias-capturing network trained with the
generalized cross-entropy, as in Learning from Failure (LfF; Nam et al., NeurIPS 2020).

The generalized cross-entropy (GCE; Zhang & Sabuncu, NeurIPS 2018; LfF Eq. 2) of a prediction ``p`` for
the true class ``y`` is

.. math::  \\mathrm{GCE}(p, y) = \\frac{1 - p_y^{\\,q}}{q}, \\qquad q \\in (0, 1],

whose gradient is the cross-entropy's times ``p_y^q``: images that are already predicted well weigh more.
A network trained with it amplifies whatever it finds easiest first. On a biased set the easy cue is the
bias (a colour is far easier to read than a digit's shape), so the network becomes a *bias reader*: it
gets the bias-aligned images right and the bias-conflicting ones wrong. Its confidence in the true class,
``p_y(x)``, therefore estimates whether ``x`` is bias-aligned (:func:`estimate_aligned`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from ..checks import positive_int
from ..config import make_generator
from ..data import ImageDataset
from ..models import get_model

GCE_Q = 0.7
"""LfF's q."""


def generalized_cross_entropy(logits: Tensor, labels: Tensor, q: float = GCE_Q) -> Tensor:
    """Mean GCE ``(1 − p_y^q) / q`` (LfF Eq. 2). ``q → 0`` gives the cross-entropy, ``q = 1`` the MAE.

    Machinery behind chapter 08."""
    if not 0 < q <= 1:
        raise ValueError(f"q must lie in (0, 1], got {q!r}")
    p_true = F.softmax(logits, dim=1).gather(1, labels[:, None]).squeeze(1)
    return ((1 - p_true.clamp_min(1e-12) ** q) / q).mean()


@dataclass(frozen=True)
class BiasModelConfig:
    """How the bias-capturing network is trained (SGD with momentum on GCE, no augmentation).

    Introduced in chapter 08."""

    epochs: int = 20
    lr: float = 0.01
    momentum: float = 0.9
    batch_size: int = 256
    q: float = GCE_Q
    threshold: float = 0.5
    """An image is estimated bias-aligned when the bias network gives its true class more than this."""

    def __post_init__(self) -> None:
        positive_int("bias_epochs", self.epochs)
        if not 0 < self.q <= 1:
            raise ValueError(f"gce_q must lie in (0, 1], got {self.q!r}")
        if not 0 < self.threshold < 1:
            raise ValueError(f"aligned_threshold must lie in (0, 1), got {self.threshold!r}")
        if not self.lr > 0:
            raise ValueError(f"bias lr must be > 0, got {self.lr!r}")


@dataclass
class AlignedEstimate:
    """Which training images a bias network takes for bias-aligned.

    ``confidence[i]`` is the bias network's probability of image ``i``'s true class, ``aligned`` the
    estimate (``confidence > threshold``). Where the dataset has attributes, ``precision`` and ``recall``
    compare the estimate with the truth (attribute = label); else they are ``None``.

    Machinery behind chapter 08.
    """

    aligned: Tensor
    confidence: Tensor
    losses: list[float]
    precision: float | None = None
    recall: float | None = None

    @property
    def aligned_fraction(self) -> float:
        """Fraction of the training images estimated to be bias-aligned."""
        return float(self.aligned.float().mean())


def train_bias_model(dataset: ImageDataset, config: BiasModelConfig = BiasModelConfig(), seed: int = 0,
                     model: str = "convnet", model_options: dict | None = None,
                     progress: bool = False) -> tuple[torch.nn.Module, list[float]]:
    """Train a network on ``dataset.train`` with GCE; returns it (in eval mode) and the loss of every epoch.
    Its weights and batch order come from ``make_generator(seed, "bias-model", ...)``.

    Machinery behind chapter 08."""
    train = dataset.train
    net = get_model(model, dataset.channels, dataset.num_classes, dataset.image_size,
                    generator=make_generator(seed, "bias-model", "init"), **(model_options or {})).to(dataset.device)
    generator = make_generator(seed, "bias-model", "order", device=dataset.device)
    optimizer = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum)
    losses = []
    net.train()
    for _ in tqdm(range(config.epochs), desc="bias network (GCE)", leave=False, disable=not progress):
        order = torch.randperm(len(train), generator=generator, device=generator.device).to(train.images.device)
        total = torch.zeros((), device=train.images.device)
        for batch in order.split(config.batch_size):
            loss = generalized_cross_entropy(net(train.images[batch]), train.labels[batch], config.q)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(batch)
        losses.append(total.item() / len(train))
    return net.eval(), losses


@torch.no_grad()
def true_class_confidence(net: torch.nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1024) -> Tensor:
    """``p_y(x)`` of every image under ``net``. Machinery behind chapter 08."""
    return torch.cat([F.softmax(net(images[i:i + batch_size]), dim=1).gather(1, labels[i:i + batch_size, None])
                      .squeeze(1) for i in range(0, len(images), batch_size)])


def estimate_aligned(dataset: ImageDataset, config: BiasModelConfig = BiasModelConfig(), seed: int = 0,
                     model: str = "convnet", model_options: dict | None = None,
                     progress: bool = False) -> AlignedEstimate:
    """Estimate, without attributes, which training images are bias-aligned (see the module docstring).

    Introduced in chapter 08."""
    net, losses = train_bias_model(dataset, config, seed, model, model_options, progress)
    confidence = true_class_confidence(net, dataset.train.images, dataset.train.labels)
    aligned = confidence > config.threshold
    estimate = AlignedEstimate(aligned, confidence, losses)
    if dataset.train.attributes is not None:
        truth = dataset.train.attributes == dataset.train.labels
        hits = (aligned & truth).sum().item()
        estimate.precision = hits / aligned.sum().item() if aligned.any() else None
        estimate.recall = hits / truth.sum().item() if truth.any() else None
    return estimate
