"""DSDM: Diversified Semantic Distribution Matching (Li, Zhou, Gu, Li & Wang, ACM MM 2024).

DM's first moment is not enough: DSDM matches, per class and under *pre-trained* networks,

* the **prototype** (mean feature) — DM's term;
* the **covariance** of the features, so that the synthetic images spread like the real ones;
* a **historical prototype**: an exponential moving average of the class's synthetic prototype over past
  iterations (and so over the different pre-trained networks), which damps the jumps from network to
  network once a warm-up is over.

Per class ``c``, with features ``f = ψ_j(A(x))`` of a randomly drawn pre-trained network ``j`` and ``d`` their
dimension (as in the code, ``DSDM.py: matchloss``):

.. math::

    \\mathcal{L}_c = \\|\\mu^r_c - \\mu^s_c\\|^2
    + \\frac{\\lambda_\\Sigma}{d}\\,\\|\\Sigma^s_c - \\Sigma^r_c\\|_F^2
    + [t > t_0]\\,\\frac{\\lambda_h}{d}\\,\\|\\mu^s_c - h_c\\|^2,
    \\qquad h_c \\leftarrow \\alpha h_c + (1-\\alpha)\\,\\mu^s_c

with ``λ_Σ = 50``, ``λ_h = 0.2``, ``α = 0.99``, ``t₀ = 2000`` of 10,000 iterations.

=====================  =====================================================  ========================
part                   function                                               switch
=====================  =====================================================  ========================
pre-trained ψ_j        :func:`pretrain_networks` (kept in memory)             ``pretrained``
μ (prototype)          :func:`~ltdd.distill.matching.class_means`
Σ (covariance)         :func:`covariance_distance` (Gram form when n < d)     ``cov_weight``
h (history)            :meth:`DSDM.update_history`                            ``history_weight``
multi-formation        :func:`~ltdd.distill.base.expand_partitions` (×2)      ``factor``
=====================  =====================================================  ========================

Like IDC, the code keeps the images in [0, 1] pixel space, clamps them after every update, normalises
inside the augmentation, and takes one image step per class; the image learning rate is ``0.1 · IPC/10``
(0.01 / 0.1 / 0.5 at IPC 1 / 10 / 50). Its augmentation is IDC's ``color_crop_cutout`` with one draw shared
by a class's real and synthetic images; here that is DSA mode ``M`` on ``color_crop_cutout`` (the same
magnitudes, all three families in order, one draw per class).

**Evaluation protocol.** The paper reports the *best* test accuracy over checkpoints (every 100 iterations)
and over evaluations during training (IDC's protocol); :class:`DSDM` returns the final set and the book
reports its final accuracy, like DM and IDM. Paper: CIFAR-10 IPC 1/10/50 → 45.0 / 66.5 / 75.8 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..data import ImageDataset
from ..train import TrainConfig, train_classifier
from ..config import make_generator
from .base import tile_partitions
from .matching import (DistributionMatcher, MatchingConfig, _check_positive_int, class_means,
                       mean_embedding_distance, split_by_class)


@dataclass(frozen=True)
class DSDMConfig(MatchingConfig):
    """DSDM's ``--reproduce -f 2`` setting (CIFAR)."""

    lr_img: float = 0.1
    """Base learning rate in [0, 1] pixel units, multiplied by IPC/10 when ``scale_lr_by_ipc``."""
    scale_lr_by_ipc: bool = True
    step_per_class: bool = True
    dsa_strategy: str | None = "color_crop_cutout"
    factor: int = 2
    """Multi-formation: each stored image holds factor × factor images."""
    max_views: int = 256
    """At most this many expanded images per class are matched (``batch_syn_max``)."""
    pretrained: bool = True
    """Match under pre-trained networks; ``False`` uses a fresh random network per iteration (DM's)."""
    num_pretrained: int = 10
    pretrain_epochs: int = 20
    pretrain_strategy: str = "color_crop"
    """Per-sample augmentation while pre-training (with CutMix, as the code)."""
    pretrain_cutmix: float = 0.5
    cov_weight: float = 50.0
    history_weight: float = 0.2
    history_ema: float = 0.99
    history_warmup: int = 2000
    """The historical-prototype term counts from this iteration on (2000 of the paper's 10,000)."""
    init_order: str = "first"
    """``first``: the first 4·IPC images of each class, as the code; ``random``: random ones."""


_PRETRAINED: dict[tuple, tuple[Tensor, list[nn.Module]]] = {}
"""Networks already pre-trained in this process, by everything that made them (they are frozen and never
changed, so runs with the same dataset and settings — an IPC sweep, an ablation — share them)."""


def pretrain_networks(dataset: ImageDataset, count: int, epochs: int, seed: int, model: str = "convnet",
                      net_width: int | None = None, strategy: str = "color_crop", cutmix: float = 0.5,
                      progress: bool = False) -> list[nn.Module]:
    """``count`` networks trained ``epochs`` epochs on the real training set (``pre_train_model.py``):
    SGD 0.01, momentum 0.9, weight decay 5e-4, batch 256, per-sample augmentation and CutMix.

    Deterministic in its arguments, and cached in memory for the lifetime of the dataset's tensors."""
    key = (id(dataset.train.images), dataset.name, str(dataset.device), count, epochs, seed, model, net_width,
           strategy, cutmix)
    if key not in _PRETRAINED:
        _PRETRAINED.clear()  # keep one set: a chapter's sweep reuses it, nothing piles up
        # the entry holds the training images too, so their id cannot be reused by another tensor meanwhile
        _PRETRAINED[key] = (dataset.train.images,
                            _pretrain(dataset, count, epochs, seed, model, net_width, strategy, cutmix, progress))
    return _PRETRAINED[key][1]


def _pretrain(dataset: ImageDataset, count: int, epochs: int, seed: int, model: str, net_width: int | None,
              strategy: str, cutmix: float, progress: bool) -> list[nn.Module]:
    from ..models import get_model

    options = {} if net_width is None else {"width": net_width}
    config = TrainConfig(epochs=epochs, dsa_strategy=strategy, cutmix_prob=cutmix)
    nets = []
    for k in range(count):
        net = get_model(model, dataset.channels, dataset.num_classes, dataset.image_size,
                        generator=make_generator(seed, "dsdm-pretrain-init", k), **options).to(dataset.device)
        train_classifier(net, dataset.train.images, dataset.train.labels, config,
                         make_generator(seed, "dsdm-pretrain-train", k, device=dataset.device),
                         hflip_safe=dataset.hflip_safe, progress=progress, description=f"pre-train {k}")
        nets.append(net.eval().requires_grad_(False))
    return nets


def covariance(features: Tensor) -> Tensor:
    """Sample covariance ``(d, d)`` with the ``n − 1`` normalisation; zero for a single sample (whose
    covariance is undefined: the guard keeps one-image tail classes from turning the loss into NaN)."""
    n = len(features)
    if n < 2:
        return features.new_zeros(features.shape[1], features.shape[1])
    centred = features - features.mean(dim=0, keepdim=True)
    return centred.T @ centred / (n - 1)


def covariance_distance(a: Tensor, b: Tensor) -> Tensor:
    """``‖Σ_a − Σ_b‖_F²`` for feature sets ``a (n_a, d)`` and ``b (n_b, d)``.

    When ``n_a + n_b < d`` it never forms a ``d × d`` matrix: with centred ``A`` and ``B``,
    ``‖Σ_a − Σ_b‖² = ‖AAᵀ‖²/(n_a−1)² + ‖BBᵀ‖²/(n_b−1)² − 2‖ABᵀ‖²/((n_a−1)(n_b−1))``
    (the same number; tested against the explicit form).
    """
    if len(a) < 2 or len(b) < 2 or len(a) + len(b) >= a.shape[1]:
        return (covariance(a) - covariance(b)).pow(2).sum()
    ca, cb = a - a.mean(0, keepdim=True), b - b.mean(0, keepdim=True)
    na, nb = len(a) - 1, len(b) - 1
    return ((ca @ ca.T).pow(2).sum() / na ** 2 + (cb @ cb.T).pow(2).sum() / nb ** 2
            - 2 * (ca @ cb.T).pow(2).sum() / (na * nb))


class DSDM(DistributionMatcher):
    """Prototype + covariance + historical-prototype matching under pre-trained networks."""

    name = "dsdm"
    Config = DSDMConfig
    dsa_mode = "M"

    def __init__(self, dataset: ImageDataset, config: DSDMConfig = DSDMConfig(), seed: int = 0):
        super().__init__(dataset, config, seed)
        self.networks: list[nn.Module] = []
        self.history: Tensor | None = None
        mean = torch.tensor(dataset.mean, device=dataset.device).view(1, -1, 1, 1)
        std = torch.tensor(dataset.std, device=dataset.device).view(1, -1, 1, 1)
        self._mean, self._std = mean, std

    @classmethod
    def factor_of(cls, config: DSDMConfig) -> int:
        """The multi-formation factor ``config.factor`` (2 in the paper's setting)."""
        return config.factor

    @classmethod
    def check_config(cls, config: DSDMConfig, dataset: ImageDataset) -> None:
        """Also checks the multi-formation, pre-training and historical-prototype settings."""
        _check_positive_int("factor", config.factor)
        super().check_config(config, dataset)
        _check_positive_int("max_views", config.max_views)
        _check_positive_int("pretrain_epochs", config.pretrain_epochs)
        if not isinstance(config.history_warmup, int) or config.history_warmup < 0:
            raise ValueError(f"history_warmup must be an int >= 0, got {config.history_warmup!r}")
        if config.pretrained:
            _check_positive_int("num_pretrained", config.num_pretrained)
        if not 0 <= config.history_ema < 1:
            raise ValueError(f"history_ema must lie in [0, 1), got {config.history_ema!r}")
        for name in ("cov_weight", "history_weight"):
            if getattr(config, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(config, name)!r}")
        if config.init_order not in ("first", "random"):
            raise ValueError(f"init_order={config.init_order!r} is not allowed; choose 'first' or 'random'")
        if not 0 <= config.pretrain_cutmix <= 1:
            raise ValueError(f"pretrain_cutmix must lie in [0, 1], got {config.pretrain_cutmix!r}")

    @property
    def image_lr(self) -> float:
        """``lr_img · IPC/10`` with ``scale_lr_by_ipc`` (the code's ``tune_lr_img``: 0.01 / 0.1 / 0.5 at IPC
        1 / 10 / 50), else ``lr_img``."""
        cfg = self.config
        return cfg.lr_img * cfg.ipc / 10 if cfg.scale_lr_by_ipc else cfg.lr_img

    # ------------------------------------------------------------------ pixel space
    def normalized(self, images: Tensor) -> Tensor:
        """Pixels in [0, 1] normalised with the dataset's mean and std (DSDM optimises pixels)."""
        return (images - self._mean) / self._std

    def synthetic_views(self, images: Tensor) -> Tensor:
        """The expanded parts, at most ``max_views`` per class (the first ones, as the code's
        ``batch_syn_max``)."""
        views = super().synthetic_views(images)
        per_class = self.views_per_class
        if per_class <= self.config.max_views:
            return views
        views = views.reshape(len(views) // per_class, per_class, *views.shape[1:])[:, :self.config.max_views]
        return views.reshape(-1, *views.shape[2:])

    def initial_images(self) -> Tensor:
        """``factor² · IPC`` real images per class in [0, 1] pixel space (the first ones, as the code, or random
        ones: ``init_order``), nearest-resized and tiled ``factor × factor``; uniform noise with
        ``init="noise"``."""
        cfg, train = self.config, self.dataset.train
        need = cfg.ipc * self.factor ** 2
        if cfg.init == "noise":
            shape = (self.dataset.num_classes * cfg.ipc, *self.dataset.image_shape)
            return torch.rand(shape, generator=self.generator, device=self.generator.device).to(self.dataset.device)
        chosen = []
        for c in range(self.dataset.num_classes):
            index = train.class_indices(c)
            if cfg.init_order == "random":
                index = index[torch.randperm(len(index), generator=self.generator,
                                             device=self.generator.device).to(index.device)]
            if cfg.init == "real-repeat" and len(index) < need:  # a short class: pass over it again
                index = index.repeat(-(-need // len(index)))
            chosen.append(index[:need])
        pixels = self.dataset.denormalize(train.images[torch.cat(chosen)]).clamp(0, 1)
        return tile_partitions(pixels, self.factor, mode="nearest")

    def init(self):
        """Also pre-trains the matching networks (:func:`~ltdd.distill.dsdm.pretrain_networks`, shared within the
        process) and clears the historical prototypes."""
        synthetic = super().init()
        cfg = self.config
        if cfg.pretrained and not self.networks:
            self.networks = pretrain_networks(self.dataset, cfg.num_pretrained, cfg.pretrain_epochs, self.seed,
                                              cfg.model, cfg.net_width, cfg.pretrain_strategy, cfg.pretrain_cutmix)
        self.history = None
        return synthetic

    # ------------------------------------------------------------------ one iteration
    def matching_network(self) -> nn.Module:
        """One of the pre-trained networks, drawn at random; without ``pretrained``, a fresh random network as in
        DM."""
        if not self.config.pretrained:
            return self.fresh_network()
        k = int(torch.randint(len(self.networks), (1,), generator=self.generator, device=self.generator.device))
        return self.networks[k]

    def class_losses(self, net: nn.Module, real: Tensor, real_counts: list[int], synthetic: Tensor,
                     synthetic_counts: list[int], classes: list[int]) -> Tensor:
        """DSDM's loss per class (module docstring; the code's ``matchloss``): the prototype distance, plus
        ``cov_weight / d`` times the covariance distance (:func:`~ltdd.distill.dsdm.covariance_distance`), plus,
        after ``history_warmup`` iterations, ``history_weight / d`` times the distance to the historical
        prototype."""
        cfg, d = self.config, real.shape[1]
        synthetic_means = class_means(synthetic, synthetic_counts)
        losses = mean_embedding_distance(class_means(real, real_counts), synthetic_means)
        if cfg.cov_weight:
            losses = losses + cfg.cov_weight / d * torch.stack([
                covariance_distance(s, r) for s, r in zip(split_by_class(synthetic, synthetic_counts),
                                                          split_by_class(real, real_counts))])
        if cfg.history_weight and self.history is not None and self.iteration > cfg.history_warmup:
            history = self.history[torch.tensor(classes, device=synthetic.device)]
            losses = losses + cfg.history_weight / d * (synthetic_means - history).pow(2).sum(dim=1)
        return losses

    def after_update(self, net: nn.Module) -> dict:
        """Clamp the images to [0, 1] and update the historical prototypes
        (:meth:`~ltdd.distill.dsdm.DSDM.update_history`)."""
        with torch.no_grad():
            self.images.clamp_(0, 1)
        if self.config.history_weight:
            self.update_history(net)
        return {}

    @torch.no_grad()
    def update_history(self, net: nn.Module) -> None:
        """``h ← α h + (1 − α) μ^s`` with the prototypes of the updated images under a fresh augmentation
        draw (``h`` starts at the first prototypes)."""
        views = self.synthetic_views(self.images)
        counts = [len(views) // self.dataset.num_classes] * self.dataset.num_classes
        if self.augment is not None:
            params = self.augment.sample(self.dataset.num_classes, self.generator, self.dataset.device,
                                         image_size=self.dataset.image_size)
            views = self._augment(views, params, counts, list(range(self.dataset.num_classes)))
        prototypes = class_means(net.embed(views), counts)
        alpha = self.config.history_ema
        self.history = prototypes if self.history is None else alpha * self.history + (1 - alpha) * prototypes

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Also stores the pre-trained networks' weights and the historical prototypes."""
        state = super().state_dict()
        state["networks"] = [{k: v.detach().cpu() for k, v in net.state_dict().items()} for net in self.networks]
        state["history"] = None if self.history is None else self.history.cpu()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Also restores the pre-trained networks (frozen) and the historical prototypes."""
        super().load_state_dict(state)
        scratch = torch.Generator(device=self.dataset.device)
        self.networks = []
        for weights in state.get("networks", []):
            net = self.new_network(scratch)
            net.load_state_dict(weights)
            self.networks.append(net.eval().requires_grad_(False))
        history = state.get("history")
        self.history = None if history is None else history.to(self.dataset.device)
