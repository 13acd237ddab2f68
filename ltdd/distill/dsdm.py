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

with ``λ_Σ = 50``, ``λ_h = 0.2``, ``α = 0.99``, ``t₀ = 2000`` of 10,000 iterations (``PAPER_ITERATIONS``).

**The paper's equations differ from the code** in four places; ``form="paper"`` follows the paper, the default
``form="code"`` the code (which produced the paper's numbers):

===========================  ==========================================  =======================================
step                         code (``DSDM.py``, the default)             paper (``form="paper"``)
===========================  ==========================================  =======================================
covariance (Eq. 5)           divided by ``n − 1``                        divided by ``|B|`` (= ``n``)
history term (Eq. 6)         ``λ_h / d · ‖μ^s − h‖²``                    ``λ_h · ‖μ^s − h‖²`` (no ``1/d``: 2048×
                                                                         the weight at ``d = 2048``)
history start (Eq. 8)        ``h`` = the first prototypes                ``h`` = 0 after the first iteration
image learning rate          ``0.1 · IPC/10`` (``tune_lr_img``)          η = 0.1 at every IPC
===========================  ==========================================  =======================================

The paper names no warm-up for the history term; ``history_warmup`` applies in both forms (0 switches it off).

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

from ..checks import positive_int
from ..data import ImageDataset
from ..train import TrainConfig, train_classifier
from ..config import make_generator
from .base import tile_partitions
from .network_cache import cached_networks, network_recipe
from .matching import (DistributionMatcher, MatchingConfig, class_means,
                       mean_embedding_distance, split_by_class)


PAPER_ITERATIONS = 10_000
"""T: DSDM's matching iterations (the paper's Sec. 5 and the code's ``niter``)."""

FORMS = ("code", "paper")


def pretrain_config(epochs: int = 20, strategy: str = "color_crop", cutmix: float = 0.5) -> TrainConfig:
    """How ``pre_train_model.py`` trains each network: ``epochs`` passes at a constant learning rate 0.01
    (SGD, momentum 0.9, weight decay 5e-4, batch 256), every family of ``strategy`` on every image with its own
    draw (IDC's ``DiffAug(batch=False)``: colour *and* crop), and CutMix on a batch with probability
    ``cutmix``.

    Introduced in chapter 07."""
    return TrainConfig(epochs=epochs, lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=256,
                       dsa_strategy=strategy, cutmix_prob=cutmix, schedule="constant", dsa_mode="M")


@dataclass(frozen=True)
class DSDMConfig(MatchingConfig):
    """DSDM's ``--reproduce -f 2`` setting (CIFAR). Introduced in chapter 07."""

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
    form: str = "code"
    """``"code"``: the loss and learning rate of ``DSDM.py``; ``"paper"``: the paper's Eqs. 5, 6, 8 and
    η = 0.1 (the module docstring lists the differences)."""


_PRETRAINED: dict[tuple, tuple[Tensor, list[nn.Module]]] = {}
"""Networks already pre-trained in this process, by everything that made them (they are frozen and never
changed, so runs with the same dataset and settings — an IPC sweep, an ablation — share them)."""


def pretrain_networks(dataset: ImageDataset, count: int, epochs: int, seed: int, model: str = "convnet",
                      net_width: int | None = None, strategy: str = "color_crop", cutmix: float = 0.5,
                      progress: bool = False) -> list[nn.Module]:
    """``count`` networks trained ``epochs`` epochs on the real training set as ``pre_train_model.py`` does
    (:func:`~ltdd.distill.dsdm.pretrain_config`: constant SGD 0.01, colour and crop on every image, CutMix).

    Deterministic in its arguments, and cached in memory for the lifetime of the dataset's tensors (and on disk
    between runs with ``$LTDD_NETWORK_CACHE``: :func:`ltdd.distill.network_cache.cached_networks`, one file per
    network, so a run stopped during the pre-training keeps the networks it finished).

    Introduced in chapter 07."""
    key = (id(dataset.train.images), dataset.name, str(dataset.device), count, epochs, seed, model, net_width,
           strategy, cutmix)
    if key not in _PRETRAINED:
        _PRETRAINED.clear()  # keep one set: a chapter's sweep reuses it, nothing piles up
        # the entry holds the training images too, so their id cannot be reused by another tensor meanwhile
        nets = [_pretrained_network(dataset, k, epochs, seed, model, net_width, strategy, cutmix, progress)
                for k in range(count)]
        _PRETRAINED[key] = (dataset.train.images, [net.eval().requires_grad_(False) for net in nets])
    return _PRETRAINED[key][1]


def _pretrained_network(dataset: ImageDataset, k: int, epochs: int, seed: int, model: str, net_width: int | None,
                        strategy: str, cutmix: float, progress: bool) -> nn.Module:
    """Pre-trained network ``k`` (its own generators: it does not depend on how many others there are)."""
    recipe = network_recipe("dsdm-pretrained", dataset, index=k, epochs=epochs, seed=seed, model=model,
                            net_width=net_width, strategy=strategy, cutmix=cutmix)

    def trained() -> nn.Module:
        net = _untrained(dataset, k, seed, model, net_width)
        train_classifier(net, dataset.train.images, dataset.train.labels, pretrain_config(epochs, strategy, cutmix),
                         make_generator(seed, "dsdm-pretrain-train", k, device=dataset.device),
                         hflip_safe=dataset.hflip_safe, progress=progress, description=f"pre-train {k}")
        return net

    (net,) = cached_networks(recipe, lambda: [trained()], lambda: [_untrained(dataset, k, seed, model, net_width)])
    return net


def _untrained(dataset: ImageDataset, k: int, seed: int, model: str, net_width: int | None) -> nn.Module:
    """Pre-trained network ``k`` before its training."""
    from ..models import get_model

    options = {} if net_width is None else {"width": net_width}
    return get_model(model, dataset.channels, dataset.num_classes, dataset.image_size,
                     generator=make_generator(seed, "dsdm-pretrain-init", k), **options).to(dataset.device)


def covariance(features: Tensor, unbiased: bool = True) -> Tensor:
    """Sample covariance ``(d, d)``, divided by ``n − 1`` (``unbiased``, the code) or by ``n`` (the paper's
    Eq. 5); zero for a single sample (whose covariance is undefined: the guard keeps one-image tail classes
    from turning the loss into NaN).

    Introduced in chapter 07."""
    n = len(features)
    if n < 2:
        return features.new_zeros(features.shape[1], features.shape[1])
    centred = features - features.mean(dim=0, keepdim=True)
    return centred.T @ centred / (n - 1 if unbiased else n)


def covariance_distance(a: Tensor, b: Tensor, unbiased: bool = True) -> Tensor:
    """``‖Σ_a − Σ_b‖_F²`` for feature sets ``a (n_a, d)`` and ``b (n_b, d)`` (covariances divided by ``n − 1``,
    or by ``n`` without ``unbiased``).

    When ``n_a + n_b < d`` it never forms a ``d × d`` matrix: with centred ``A`` and ``B``,
    ``‖Σ_a − Σ_b‖² = ‖AAᵀ‖²/(n_a−1)² + ‖BBᵀ‖²/(n_b−1)² − 2‖ABᵀ‖²/((n_a−1)(n_b−1))``
    (the same number; tested against the explicit form).

    Introduced in chapter 07.
    """
    if len(a) < 2 or len(b) < 2 or len(a) + len(b) >= a.shape[1]:
        return (covariance(a, unbiased) - covariance(b, unbiased)).pow(2).sum()
    ca, cb = a - a.mean(0, keepdim=True), b - b.mean(0, keepdim=True)
    na, nb = (len(a) - 1, len(b) - 1) if unbiased else (len(a), len(b))
    return ((ca @ ca.T).pow(2).sum() / na ** 2 + (cb @ cb.T).pow(2).sum() / nb ** 2
            - 2 * (ca @ cb.T).pow(2).sum() / (na * nb))


class DSDM(DistributionMatcher):
    """Prototype + covariance + historical-prototype matching under pre-trained networks. Introduced in chapter 07."""

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
        positive_int("factor", config.factor)
        super().check_config(config, dataset)
        positive_int("max_views", config.max_views)
        positive_int("pretrain_epochs", config.pretrain_epochs)
        if not isinstance(config.history_warmup, int) or config.history_warmup < 0:
            raise ValueError(f"history_warmup must be an int >= 0, got {config.history_warmup!r}")
        if config.pretrained:
            positive_int("num_pretrained", config.num_pretrained)
        if not 0 <= config.history_ema < 1:
            raise ValueError(f"history_ema must lie in [0, 1), got {config.history_ema!r}")
        for name in ("cov_weight", "history_weight"):
            if getattr(config, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(config, name)!r}")
        if config.init_order not in ("first", "random"):
            raise ValueError(f"init_order={config.init_order!r} is not allowed; choose 'first' or 'random'")
        if config.form not in FORMS:
            raise ValueError(f"form={config.form!r} is not allowed; choose one of {FORMS}")
        if not 0 <= config.pretrain_cutmix <= 1:
            raise ValueError(f"pretrain_cutmix must lie in [0, 1], got {config.pretrain_cutmix!r}")

    @property
    def image_lr(self) -> float:
        """``lr_img · IPC/10`` with ``scale_lr_by_ipc`` in the code's form (its ``tune_lr_img``: 0.01 / 0.1 / 0.5
        at IPC 1 / 10 / 50), else ``lr_img`` (the paper's η = 0.1 at every IPC)."""
        cfg = self.config
        return cfg.lr_img * cfg.ipc / 10 if cfg.scale_lr_by_ipc and cfg.form == "code" else cfg.lr_img

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
        prototype. With ``form="paper"``: covariances divided by ``n`` (Eq. 5) and no ``1/d`` on the history
        term (Eq. 6)."""
        cfg, d = self.config, real.shape[1]
        code = cfg.form == "code"
        synthetic_means = class_means(synthetic, synthetic_counts)
        losses = mean_embedding_distance(class_means(real, real_counts), synthetic_means)
        if cfg.cov_weight:
            losses = losses + cfg.cov_weight / d * torch.stack([
                covariance_distance(s, r, unbiased=code)
                for s, r in zip(split_by_class(synthetic, synthetic_counts), split_by_class(real, real_counts))])
        if cfg.history_weight and self.history is not None and self.iteration > cfg.history_warmup:
            history = self.history[torch.tensor(classes, device=synthetic.device)]
            weight = cfg.history_weight / d if code else cfg.history_weight  # Eq. 6 has no 1/d
            losses = losses + weight * (synthetic_means - history).pow(2).sum(dim=1)
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
        draw. ``h`` starts at the first prototypes (the code), or at 0 after the first iteration (the paper's
        Eq. 8, ``form="paper"``)."""
        views = self.synthetic_views(self.images)
        counts = [len(views) // self.dataset.num_classes] * self.dataset.num_classes
        if self.augment is not None:
            params = self.augment.sample(self.dataset.num_classes, self.generator, self.dataset.device,
                                         image_size=self.dataset.image_size)
            views = self._augment(views, params, counts, list(range(self.dataset.num_classes)))
        prototypes = class_means(net.embed(views), counts)
        alpha = self.config.history_ema
        if self.history is None:
            self.history = prototypes if self.config.form == "code" else torch.zeros_like(prototypes)
        else:
            self.history = alpha * self.history + (1 - alpha) * prototypes

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
