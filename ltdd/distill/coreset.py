"""Coreset selection: herding and k-center, the real-image baselines of the distillation papers.

A coreset method keeps ``ipc`` *real* training images per class, chosen by looking at their features.
As in DeepCore (Guo et al., 2022), the reference library for these baselines, selection is per class
("balanced") and the features are the input of the last linear layer of a briefly pre-trained network
(``embed(x)`` here). Two rules:

* **Herding** (Welling, 2009; as used by iCaRL): greedily pick the image that brings the running mean of the
  chosen features closest to the class mean. DeepCore's ``Herding`` takes the ``argmax`` of that distance
  instead, which picks the image that pushes the running mean *furthest* away: a bug. The textbook
  ``argmin`` is the default here; ``rule="argmax"`` reproduces the reference library.
* **K-center greedy** (Sener & Savarese, 2018): a random first centre, then repeatedly the image furthest
  from its nearest chosen centre, a 2-approximation of the minimax facility-location (k-center) problem.

CIFAR-10, ConvNet, test accuracy (%) of networks trained on the selected images, as reported in the DC/DM
papers' tables:

===========  =====  ======  ======
method       ipc 1  ipc 10  ipc 50
===========  =====  ======  ======
Random       14.4   26.0    43.4
Herding      21.5   31.6    40.4
K-Center     21.5   14.7    27.0
===========  =====  ======  ======
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from ..checks import optional_positive_int, positive_int
from ..config import make_generator
from ..data import ImageDataset
from ..models import get_model
from ..train import TrainConfig, train_classifier
from .base import Distiller, SyntheticSet, check_ipc
from .network_cache import cached_networks, network_recipe

FEATURE_KINDS = ("random", "trained")
HERDING_RULES = ("argmin", "argmax")


# --------------------------------------------------------------------------------------- selection rules
def _check_k(features: Tensor, k: int) -> int:
    """Validate ``features`` (n, d) and ``1 <= k <= n``; return ``n``."""
    if not isinstance(features, Tensor) or features.ndim != 2:
        shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"features must be a tensor of shape (n, d), got {shape}")
    n = len(features)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= n:
        raise ValueError(f"k must be an int with 1 <= k <= {n} (the number of points), got {k!r}")
    return n


def herding(features: Tensor, k: int, rule: str = "argmin") -> Tensor:
    """Herding: the indices of ``k`` rows of ``features`` (n, d), in selection order, without repeats.

    With μ the mean of all rows, step ``t = 1, ..., k`` picks

        x_t = argmin_x ‖ μ − (Σ_{j<t} x_j + x) / t ‖

    over the rows not yet chosen: the running mean of the chosen rows follows μ as closely as one more row
    allows (the first pick is the row nearest μ). ``rule="argmax"`` takes the argmax instead, as DeepCore's
    ``Herding`` does (a bug of the reference library, kept to reproduce its numbers).

    Introduced in chapter 05.
    """
    n = _check_k(features, k)
    if rule not in HERDING_RULES:
        raise ValueError(f"rule={rule!r} is unknown; choose one of {list(HERDING_RULES)}")
    mean = features.mean(dim=0)
    chosen = torch.zeros(n, dtype=torch.bool, device=features.device)
    total = torch.zeros_like(mean)  # Σ_{j<t} x_j
    picks = []
    for t in range(1, k + 1):
        # t · ‖μ − (total + x)/t‖ for every candidate x at once; the factor t does not change the order
        distance = torch.linalg.vector_norm(t * mean - total - features, dim=1)
        if rule == "argmin":
            pick = distance.masked_fill(chosen, float("inf")).argmin()
        else:
            pick = distance.masked_fill(chosen, float("-inf")).argmax()
        chosen[pick] = True
        total += features[pick]
        picks.append(pick)
    return torch.stack(picks)


def kcenter_greedy(features: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """K-center greedy: the indices of ``k`` rows of ``features`` (n, d), in selection order, no repeats.

    The first centre is drawn uniformly from ``generator``; then each step picks the row furthest from its
    nearest chosen centre, ``argmax_x min_{c chosen} ‖x − c‖``. The vector of nearest-centre distances is
    updated with one new centre per step, so the cost is O(k·n·d).

    Machinery behind chapter 05.
    """
    n = _check_k(features, k)
    first = torch.randint(n, (1,), generator=generator, device=generator.device)[0].to(features.device)
    chosen = torch.zeros(n, dtype=torch.bool, device=features.device)
    nearest = torch.full((n,), float("inf"), dtype=features.dtype, device=features.device)
    picks = []
    pick = first
    for _ in range(k):
        chosen[pick] = True
        picks.append(pick)
        nearest = torch.minimum(nearest, torch.linalg.vector_norm(features - features[pick], dim=1))
        pick = nearest.masked_fill(chosen, float("-inf")).argmax()  # masked: duplicates never repeat
    return torch.stack(picks)


# ------------------------------------------------------------------------------------------------ features
@torch.no_grad()
def embed_images(net: nn.Module, images: Tensor, batch_size: int = 1024) -> Tensor:
    """``net.embed`` of every image (the features before the classifier), in eval mode, batch by batch.

    Machinery behind chapter 05."""
    was_training = net.training
    net.eval()
    try:
        return torch.cat([net.embed(images[start:start + batch_size])
                          for start in range(0, len(images), batch_size)])
    finally:
        net.train(was_training)


def feature_network(dataset: ImageDataset, kind: str, seed: int, model: str = "convnet",
                    net_width: int | None = None, train_epochs: int = 10) -> nn.Module:
    """The network whose features the selection compares, on ``dataset.device``.

    ``kind="random"``: freshly initialised from ``make_generator(seed, "coreset-net-init")``;
    ``kind="trained"``: the same network trained for ``train_epochs`` epochs on the whole training split
    (the DD evaluation protocol of :func:`~ltdd.train.train_classifier`), kept on disk between runs with
    ``$LTDD_NETWORK_CACHE`` (:func:`ltdd.distill.network_cache.cached_networks`).

    Machinery behind chapter 05.
    """
    if kind not in FEATURE_KINDS:
        raise ValueError(f"kind={kind!r} is unknown; choose one of {list(FEATURE_KINDS)}")
    options = {} if net_width is None else {"width": net_width}

    def untrained() -> nn.Module:
        return get_model(model, dataset.channels, dataset.num_classes, dataset.image_size,
                         generator=make_generator(seed, "coreset-net-init"), **options).to(dataset.device)

    def trained() -> nn.Module:
        net = untrained()
        train_classifier(net, dataset.train.images, dataset.train.labels, TrainConfig(epochs=train_epochs),
                         make_generator(seed, "coreset-net-train", device=dataset.device),
                         hflip_safe=dataset.hflip_safe)
        return net

    if kind == "random":
        return untrained()
    recipe = network_recipe("coreset-features", dataset, seed=seed, model=model, net_width=net_width,
                            train_epochs=train_epochs)
    (net,) = cached_networks(recipe, lambda: [trained()], lambda: [untrained()])
    return net


def select_per_class(dataset: ImageDataset, features: Tensor, ipc: int,
                     select: Callable[[Tensor, int], Tensor]) -> tuple[Tensor, Tensor]:
    """Run ``select(class_features, ipc)`` within every class (class-major order); return images, labels.

    ``features`` has one row per training image; the images are copies of the chosen training images.

    Machinery behind chapter 05.
    """
    check_ipc(ipc, dataset)
    chosen = []
    for label in range(dataset.num_classes):
        index = dataset.train.class_indices(label)
        chosen.append(index[select(features[index], ipc).to(index.device)])
    chosen = torch.cat(chosen)
    return dataset.train.images[chosen].clone(), dataset.train.labels[chosen].clone()


# ------------------------------------------------------------------------------------------ distillers
@dataclass(frozen=True)
class CoresetConfig:
    """Settings of a coreset selection (:class:`~ltdd.distill.coreset.KCenterSelection`; herding adds its rule):
    how many real images per class, and the network whose features they are chosen on.

    Machinery behind chapter 05."""

    ipc: int = 10
    """Real images kept per class."""
    features: str = "trained"
    """``"trained"`` (a briefly trained network, as DeepCore) or ``"random"`` (a freshly initialised one)."""
    train_epochs: int = 10
    """Epochs of training for ``features="trained"``."""
    model: str = "convnet"
    net_width: int | None = None
    """Width of the feature network (``None``: the model's default)."""


@dataclass(frozen=True)
class HerdingConfig(CoresetConfig):
    """Settings of :class:`~ltdd.distill.coreset.HerdingSelection`: the coreset settings plus the herding rule.

    Machinery behind chapter 05."""

    rule: str = "argmin"
    """``"argmin"`` (textbook herding) or ``"argmax"`` (DeepCore's bug)."""


def check_coreset_config(config: CoresetConfig, dataset: ImageDataset) -> None:
    """Raise ``ValueError`` naming the field when a coreset config cannot run on ``dataset``.

    Machinery behind chapter 05."""
    check_ipc(config.ipc, dataset)
    if config.features not in FEATURE_KINDS:
        raise ValueError(f"features={config.features!r} is unknown; choose one of {list(FEATURE_KINDS)}")
    epochs = config.train_epochs
    positive_int("train_epochs", epochs)
    width = config.net_width
    optional_positive_int("net_width", width)
    rule = getattr(config, "rule", "argmin")
    if rule not in HERDING_RULES:
        raise ValueError(f"rule={rule!r} is unknown; choose one of {list(HERDING_RULES)}")


_FEATURES: dict[tuple, tuple[Tensor, Tensor]] = {}
"""The last features computed, by everything that determines them: herding and k-center at several IPCs (or
both methods) on one dataset share one feature network instead of training it again."""


def coreset_features(dataset: ImageDataset, config: CoresetConfig, seed: int) -> Tensor:
    """The features of every training image under the feature network that ``config`` describes (computed
    once per dataset and setting in a process; deterministic, so the cache changes no result).

    Machinery behind chapter 05."""
    key = (id(dataset.train.images), dataset.name, str(dataset.device), config.features, seed, config.model,
           config.net_width, config.train_epochs)
    if key not in _FEATURES:
        _FEATURES.clear()
        net = feature_network(dataset, config.features, seed, config.model, config.net_width, config.train_epochs)
        _FEATURES[key] = (dataset.train.images, embed_images(net, dataset.train.images))  # images pin the id
    return _FEATURES[key][1]


class _CoresetSelection(Distiller):
    """``ipc`` real images per class chosen by :meth:`select` on network features. It has no iterations."""

    iterative = False
    Config = CoresetConfig

    def __init__(self, dataset: ImageDataset, config: CoresetConfig | None = None, seed: int = 0):
        """``config`` defaults to the class's ``Config()`` (the paper's settings)."""
        config = self.Config() if config is None else config
        check_coreset_config(config, dataset)
        super().__init__(dataset, config, seed)

    def select(self, features: Tensor, k: int) -> Tensor:
        """Indices of ``k`` rows of one class's ``features``."""
        raise NotImplementedError

    def init(self) -> SyntheticSet:
        features = coreset_features(self.dataset, self.config, self.seed)
        images, labels = select_per_class(self.dataset, features, self.config.ipc, self.select)
        self.synthetic = SyntheticSet(images, labels, self.dataset.num_classes, config=self.describe())
        return self.synthetic

    def step(self) -> dict:
        return {}  # nothing to optimise: the selection is final after init()


class HerdingSelection(_CoresetSelection):
    """``ipc`` real images per class chosen by herding on network features. It has no iterations.

    Machinery behind chapter 05."""

    name = "herding"
    Config = HerdingConfig

    def select(self, features: Tensor, k: int) -> Tensor:
        """Herding within one class (:func:`~ltdd.distill.coreset.herding` with ``config.rule``)."""
        return herding(features, k, self.config.rule)


class KCenterSelection(_CoresetSelection):
    """``ipc`` real images per class chosen by k-center greedy on network features. It has no iterations.

    Machinery behind chapter 05."""

    name = "kcenter"
    Config = CoresetConfig

    def select(self, features: Tensor, k: int) -> Tensor:
        """K-center greedy within one class (:func:`~ltdd.distill.coreset.kcenter_greedy`), the first centre drawn
        from the run's generator."""
        return kcenter_greedy(features, k, self.generator)
