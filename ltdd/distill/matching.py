"""What DM, IDM and DSDM share: class-balanced real batches, Siamese augmentation per class, class-wise
feature statistics, and the image update — batched over classes, with the reference's per-class loop kept
as an option.

One iteration of every distribution-matching method has the same skeleton:

1. pick an embedding network ψ (DM: a fresh random one; IDM: one from a queue; DSDM: a pre-trained one);
2. draw up to ``batch_real`` real images of every class and one DSA parameter set per class, applied to the
   class's real images *and* its synthetic images (Siamese augmentation);
3. embed both and compare them class by class (:meth:`DistributionMatcher.class_losses`);
4. update the synthetic images with SGD and momentum — one step on the summed loss (DM), or one step per
   class in class order (IDM and DSDM, as their code does).

**Batched and per-class paths.** With a per-sample network (instance norm, or no norm) the features of an
image do not depend on the other images in the batch, so every class can go through the network in *one*
forward pass and be regrouped afterwards; the per-class loop of the reference code does the same work in
``C`` small passes. ``forward="per_class"`` keeps that loop (for testing and the speed benchmark); both paths
use the same real images and the same augmentation draws, so they give the same synthetic set.

**One step per class, in one pass.** The reference takes the image step of class ``c`` *after* the steps of
classes ``0 … c−1``; because of momentum, those earlier steps also move class ``c``'s images (their velocity
decays but is not zero). Class ``c``'s loss depends only on its own images, so where its gradient is taken is
known in closed form (:func:`per_class_lookahead`), and the ``C`` momentum steps compose into one update
(:func:`apply_per_class_steps`). The result equals the sequential loop up to float rounding — tested.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..augment import DSA, strategy_for
from ..checks import choice, positive_int
from ..data import ImageDataset
from ..models import has_batch_norm, reset_parameters
from .base import ImageDistiller, check_ipc, expand_partitions

FORWARD_PATHS = ("batched", "per_class")
CPU_REAL_CHUNK = 32
"""Real images per forward call on the CPU (see ``DistributionMatcher._real_features``). Measured on the
project's 2-core machine at the CIFAR-10 shape (ConvNet-3, width 128, 2,560 images): 32 images per call take
0.57 of the time of 128 per call and 0.54 of the reference's one class of 256 per call
(``data/reference/distill_speed_cpu.md``); the features are bit for bit the same."""
INITS = ("real", "noise", "real-repeat")


_COMPILED_EMBEDDING = None


def compiled_embedding():
    """``torch.compile`` of ``(net, images) ↦ net.embed(images)``, built once per process and shared by every
    distiller. The network is an argument, so a network with new weights, or another network of the same
    architecture, reuses the compiled code; a new batch size or input shape compiles once more.

    Compilation fuses each layer's normalisation, ReLU and pooling into one pass over the activations, which is
    where an uncompiled CPU iteration spends about half its time (the profile in
    ``data/reference/distill_speed_cpu.md``). Machinery behind chapter 05."""
    global _COMPILED_EMBEDDING
    if _COMPILED_EMBEDDING is None:
        _COMPILED_EMBEDDING = torch.compile(_embedding)
    return _COMPILED_EMBEDDING


def _embedding(net: nn.Module, images: Tensor) -> Tensor:
    return net.embed(images)


# ----------------------------------------------------------------------------------------- real batches
class ClassBalancedSampler:
    """Draws up to ``per_class`` distinct real images of every class, returned class-sorted.

    One random key per training image and one sort give a fresh random order *within* every class; the first
    ``min(per_class, class size)`` images of each class are taken (the reference's
    ``np.random.permutation(indices_c)[:n]``, for all classes at once).

    Introduced in chapter 05.
    """

    def __init__(self, labels: Tensor, num_classes: int):
        self.num_classes = num_classes
        self.by_class = torch.argsort(labels, stable=True)
        self.sorted_labels = labels[self.by_class]
        self.counts = torch.bincount(labels, minlength=num_classes)
        self.starts = torch.cumsum(self.counts, 0) - self.counts

    def sample(self, per_class: int, generator: torch.Generator) -> tuple[Tensor, list[int]]:
        """Indices into the split (class-sorted) and the number taken from every class."""
        positive_int("per_class", per_class)
        keys = torch.rand(len(self.by_class), generator=generator, device=generator.device,
                          dtype=torch.float64).to(self.by_class.device)
        shuffled = self.by_class[torch.argsort(self.sorted_labels.double() * 2 + keys)]  # classes stay in place
        taken = self.counts.clamp(max=per_class)
        first_of_segment = torch.cumsum(taken, 0) - taken
        offsets = torch.arange(int(taken.sum()), device=taken.device) - first_of_segment.repeat_interleave(taken)
        return shuffled[self.starts.repeat_interleave(taken) + offsets], taken.tolist()


# ------------------------------------------------------------------------------------ class statistics
def group_of_rows(counts: list[int], classes: list[int], device: torch.device | str) -> Tensor:
    """The class of every row of a class-sorted batch holding ``counts[i]`` rows of class ``classes[i]``.

    Machinery behind chapter 05."""
    return torch.repeat_interleave(torch.tensor(classes, device=device), torch.tensor(counts, device=device))


def split_by_class(features: Tensor, counts: list[int]) -> tuple[Tensor, ...]:
    """The rows of every class of a class-sorted batch. Machinery behind chapter 05."""
    return torch.split(features, counts)


def class_means(features: Tensor, counts: list[int]) -> Tensor:
    """The mean feature of every class, ``(C, d)``, of a class-sorted batch (a reshape when counts agree).

    Introduced in chapter 05."""
    if len(set(counts)) == 1:
        return features.reshape(len(counts), counts[0], -1).mean(dim=1)
    return torch.stack([rows.mean(dim=0) for rows in split_by_class(features, counts)])


def mean_embedding_distance(real_means: Tensor, synthetic_means: Tensor) -> Tensor:
    """DM's objective per class: ``‖ mean ψ(A(real_c)) − mean ψ(A(syn_c)) ‖²`` — the empirical MMD with a
    linear kernel (Zhao & Bilen, WACV 2023, Sec. 3.2). Returns one value per class, ``(C,)``.

    Introduced in chapter 05."""
    return (real_means - synthetic_means).pow(2).sum(dim=1)


# -------------------------------------------------------------------------------------- image updates
def momentum_step(images: Tensor, velocity: Tensor, grad: Tensor, lr: float, momentum: float) -> None:
    """One step of ``torch.optim.SGD`` with momentum (no dampening, no weight decay), in place:
    ``v ← μ v + g``, ``x ← x − lr v``. A zero ``velocity`` is SGD's first step.

    Introduced in chapter 05."""
    velocity.mul_(momentum).add_(grad)
    images.sub_(lr * velocity)


def _geometric(momentum: float, first: int, last: int) -> float:
    """``Σ_{k=first}^{last} μ^k`` (0 when ``last < first``)."""
    return sum(momentum ** k for k in range(first, last + 1))


def _per_row(values: list[float], row_class: Tensor, like: Tensor) -> Tensor:
    return torch.tensor(values, dtype=like.dtype, device=like.device)[row_class].view(-1, *[1] * (like.ndim - 1))


def per_class_lookahead(images: Tensor, velocity: Tensor, row_class: Tensor, num_classes: int, lr: float,
                        momentum: float) -> Tensor:
    """Where class ``c`` stands when the reference takes its step: after ``c`` momentum-only steps,
    ``x_c − lr·(μ + μ² + … + μ^c)·v_c``.

    Introduced in chapter 05."""
    shift = [_geometric(momentum, 1, c) for c in range(num_classes)]
    return images - lr * _per_row(shift, row_class, images) * velocity


def apply_per_class_steps(images: Tensor, velocity: Tensor, grad: Tensor, row_class: Tensor, num_classes: int,
                          lr: float, momentum: float) -> None:
    """Apply the reference's ``C`` sequential momentum steps (class ``c``'s gradient enters at step ``c``)
    in one update, in place. ``grad`` holds every class's gradient taken at :func:`per_class_lookahead`.

    After all steps, ``v = μ^C v₀ + μ^{C−1−c} g_c`` and ``x = x₀ − lr·[(μ + … + μ^C) v₀ + (1 + … + μ^{C−1−c}) g_c]``.

    Introduced in chapter 05.
    """
    c = num_classes
    carried = [_geometric(momentum, 0, c - 1 - k) for k in range(c)]
    decay = [momentum ** (c - 1 - k) for k in range(c)]
    images.sub_(lr * (_geometric(momentum, 1, c) * velocity + _per_row(carried, row_class, grad) * grad))
    velocity.mul_(momentum ** c).add_(_per_row(decay, row_class, grad) * grad)


# ------------------------------------------------------------------------------------------ the base
@dataclass(frozen=True)
class MatchingConfig:
    """Settings every distribution-matching method has (defaults: DM's paper setting). Machinery behind chapter 05."""

    ipc: int = 10
    """Synthetic images per class (stored images: the storage budget)."""
    lr_img: float = 1.0
    """Learning rate of the synthetic images."""
    momentum: float = 0.5
    """SGD momentum of the synthetic images."""
    batch_real: int = 256
    """Real images per class drawn every iteration (fewer when a class has fewer)."""
    init: str = "real"
    """``real``: start from random real images of the class; ``noise``: from N(0, 1) in normalised space;
    ``real-repeat``: as ``real``, but a class with too few images (the tail of a long-tailed set) reuses them
    (:func:`~ltdd.distill.random.sample_real_per_class` with ``repeat=True``) instead of being refused."""
    model: str = "convnet"
    """Embedding network (see :func:`ltdd.models.get_model`)."""
    net_width: int | None = None
    """ConvNet width; ``None`` keeps the model's default (128, the papers')."""
    dsa: bool = True
    """Siamese DSA on real and synthetic images (one draw per class)."""
    dsa_strategy: str | None = None
    """``None``: the reference strategy, without flip for digit datasets."""
    forward: str = "batched"
    """``batched``: every class in one forward pass; ``per_class``: the reference's loop over classes."""
    step_per_class: bool = False
    """One image step per class (IDM, DSDM code) instead of one step on the summed loss (DM)."""
    compile_embedding: bool = False
    """Run the embedding network through ``torch.compile`` (:func:`compiled_embedding`): on the CPU a DM or DSDM
    iteration at the CIFAR-10 shape took 0.77 of the uncompiled time (``data/reference/distill_speed_cpu.md``),
    after a first iteration that compiles (seconds to a minute). The arithmetic is the same, fused differently, so the images
    agree with an uncompiled run up to float rounding, not bit for bit. Needs a C++ compiler on the CPU."""


class DistributionMatcher(ImageDistiller):
    """The skeleton of one distribution-matching iteration (module docstring); subclasses define the
    embedding network (:meth:`matching_network`), the loss per class (:meth:`class_losses`) and, where the
    method has one, the work after the image update (:meth:`after_update`).

    The optimised tensor ``self.images`` lives in the method's own space (normalised, or DSDM's [0, 1]
    pixels); :meth:`~ltdd.distill.base.ImageDistiller.normalized` maps it to what the network sees,
    :meth:`synthetic_views` to the images that are matched (IDM's and DSDM's expanded parts).

    Introduced in chapter 05.
    """

    dsa_mode = "S"
    """DSA mode: ``S`` applies one family per class draw (DM, IDM); DSDM's IDC augmentation applies all."""

    @classmethod
    def factor_of(cls, config: MatchingConfig) -> int:
        """Partition factor of the stored images (see :class:`~ltdd.distill.base.SyntheticSet`); 1 = none."""
        return 1

    def __init__(self, dataset: ImageDataset, config: MatchingConfig | None = None, seed: int = 0):
        config = self.Config() if config is None else config  # the method's paper setting
        self.check_config(config, dataset)
        super().__init__(dataset, config, seed)
        self.factor = self.factor_of(config)
        self.sampler = ClassBalancedSampler(dataset.train.labels, dataset.num_classes)
        strategy = config.dsa_strategy or strategy_for(dataset.hflip_safe)
        self.augment = DSA(strategy, mode=self.dsa_mode) if config.dsa else None
        self._scratch: nn.Module | None = None
        self.channels_last = dataset.device.type == "cpu"  # measured faster for the ConvNet on CPU, not on CUDA
        self.real_chunk = CPU_REAL_CHUNK if dataset.device.type == "cpu" else None  # None: all real images at once

    # --------------------------------------------------------------------------- validation
    @classmethod
    def check_config(cls, config: MatchingConfig, dataset: ImageDataset) -> None:
        """Raise ``ValueError`` naming the first setting that is out of range."""
        positive_int("ipc", config.ipc)
        positive_int("batch_real", config.batch_real)
        if not config.lr_img > 0:
            raise ValueError(f"lr_img must be > 0, got {config.lr_img!r}")
        if not 0 <= config.momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {config.momentum!r}")
        choice("init", config.init, INITS)
        choice("forward", config.forward, FORWARD_PATHS)
        if config.net_width is not None:
            positive_int("net_width", config.net_width)
        factor = cls.factor_of(config)
        if config.init == "real" and factor == 1:
            check_ipc(config.ipc, dataset)
        elif config.init == "real":
            counts = dataset.train.class_counts(dataset.num_classes)
            smallest, need = min(counts), config.ipc * factor ** 2
            if need > smallest:
                raise ValueError(
                    f"ipc={config.ipc} needs {need} real images per class for a {factor}×{factor} "
                    f"initialisation, but class {counts.index(smallest)} of {dataset.name!r} has {smallest}; "
                    f"choose ipc <= {smallest // factor ** 2}, init='real-repeat' or init='noise'")

    # --------------------------------------------------------------------------- hooks
    def fresh_network(self) -> nn.Module:
        """A frozen network with newly drawn weights (DM's ψ_ϑ, ϑ ~ P_ϑ). The module is built once and its
        weights redrawn in place: the same draws as building it anew, without the construction cost."""
        if self._scratch is None:
            self._scratch = self.new_network()
        else:
            reset_parameters(self._scratch, self.generator)
        return self._scratch.train().requires_grad_(False)

    def matching_network(self) -> nn.Module:
        """The network ψ of this iteration."""
        raise NotImplementedError

    def class_losses(self, net: nn.Module, real: Tensor, real_counts: list[int], synthetic: Tensor,
                     synthetic_counts: list[int], classes: list[int]) -> Tensor:
        """The loss of each class in ``classes`` from class-sorted real and synthetic features, ``(k,)``."""
        raise NotImplementedError

    def after_update(self, net: nn.Module) -> dict:
        """Work after the image update (IDM trains its queue; DSDM updates its prototype memory)."""
        return {}

    @property
    def image_lr(self) -> float:
        """The images' learning rate (DSDM scales it with IPC)."""
        return self.config.lr_img

    def synthetic_views(self, images: Tensor) -> Tensor:
        """The images that are matched, class-major: the parts of a partitioned set, else the images."""
        return expand_partitions(self.normalized(images), self.factor)

    @property
    def views_per_class(self) -> int:
        """Expanded synthetic images per class, ``ipc · factor²`` (before DSDM's ``max_views`` cap)."""
        return self.config.ipc * self.factor ** 2

    # --------------------------------------------------------------------------- one iteration
    def step(self) -> dict:
        """One iteration of the skeleton in the module docstring: the network, the class-balanced real batch and
        one DSA draw per class, the image update (batched or per class), then
        :meth:`~ltdd.distill.matching.DistributionMatcher.after_update`. Returns the summed loss and the
        method's metrics."""
        if self.images is None:
            self.init()
        net = self.matching_network()
        trainable = [p for p in net.parameters() if p.requires_grad]
        for p in trainable:  # only the images need gradients
            p.requires_grad_(False)
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        index, real_counts = self.sampler.sample(self.config.batch_real, self.generator)
        self.real_batch = (index, real_counts)  # which training images this iteration matches (DeDM reads it)
        params = self.augment.sample(self.dataset.num_classes, self.generator, self.dataset.device,
                                     image_size=self.dataset.image_size) if self.augment else None
        real = self.dataset.train.images[index]
        if self.config.forward == "batched":
            losses = self._batched_iteration(net, real, real_counts, params)
        else:
            losses = self._per_class_iteration(net, real, real_counts, params)
        if self.channels_last:
            net = net.to(memory_format=torch.contiguous_format)
        for p in trainable:
            p.requires_grad_(True)
        metrics = {"loss": float(losses.sum()), **self.after_update(net)}
        self._refresh_synthetic()
        return metrics

    def _augment(self, images: Tensor, params: dict | None, counts: list[int], classes: list[int]) -> Tensor:
        if params is None:
            return images
        return self.augment.apply(images, params, group_of_rows(counts, classes, images.device))

    def _embed(self, net: nn.Module, images: Tensor) -> Tensor:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        if self.config.compile_embedding:
            return compiled_embedding()(net, images)
        return net.embed(images)

    def _real_features(self, net: nn.Module, real: Tensor, counts: list[int], classes: list[int],
                       params: dict | None) -> Tensor:
        """Features of the augmented real images, without autograd. On the CPU they go through in chunks of
        ``real_chunk`` images (:data:`CPU_REAL_CHUNK`; the same arithmetic for a per-sample network, while a
        batch-norm network sees the whole batch), which keeps every layer's activations in cache instead of
        streaming gigabytes through memory."""
        per_sample = not has_batch_norm(net)
        chunk = self.real_chunk if self.real_chunk and per_sample else len(real)
        groups = group_of_rows(counts, classes, real.device)
        with torch.inference_mode():
            features = torch.cat([
                self._embed(net, self.augment.apply(part, params, part_groups) if params is not None else part)
                for part, part_groups in zip(real.split(chunk), groups.split(chunk))])
        return features.clone()  # a normal tensor again, usable in the autograd graph

    def _losses_at(self, net: nn.Module, point: Tensor, real: Tensor, real_counts: list[int], params: dict | None,
                   classes: list[int]) -> Tensor:
        """Per-class losses for ``classes`` with the synthetic images of those classes at ``point``."""
        real_features = self._real_features(net, real, real_counts, classes, params)
        views = self.synthetic_views(point)
        view_counts = [len(views) // len(classes)] * len(classes)
        synthetic_features = self._embed(net, self._augment(views, params, view_counts, classes))
        return self.class_losses(net, real_features, real_counts, synthetic_features, view_counts, classes)

    def _batched_iteration(self, net: nn.Module, real: Tensor, real_counts: list[int], params: dict | None) -> Tensor:
        cfg, classes = self.config, list(range(self.dataset.num_classes))
        row_class = self._labels()
        if cfg.step_per_class:
            point = per_class_lookahead(self.images, self.velocity, row_class, len(classes), self.image_lr,
                                        cfg.momentum)
        else:
            point = self.images.clone()
        point.requires_grad_(True)
        losses = self._losses_at(net, point, real, real_counts, params, classes)
        (grad,) = torch.autograd.grad(losses.sum(), point)
        if cfg.step_per_class:
            apply_per_class_steps(self.images, self.velocity, grad, row_class, len(classes), self.image_lr,
                                  cfg.momentum)
        else:
            momentum_step(self.images, self.velocity, grad, self.image_lr, cfg.momentum)
        return losses.detach()

    def _per_class_iteration(self, net: nn.Module, real: Tensor, real_counts: list[int], params: dict | None) -> Tensor:
        """The reference's loop: one class at a time through the network (and, with ``step_per_class``, one
        image step per class)."""
        cfg, ipc = self.config, self.config.ipc
        real_chunks = torch.split(real, real_counts)
        total_grad = torch.zeros_like(self.images)
        losses = []
        for c in range(self.dataset.num_classes):
            rows = slice(c * ipc, (c + 1) * ipc)
            point = self.images[rows].clone().requires_grad_(True)
            loss = self._losses_at(net, point, real_chunks[c], [real_counts[c]], params, [c])
            (grad,) = torch.autograd.grad(loss.sum(), point)
            losses.append(loss.detach())
            if cfg.step_per_class:
                full = torch.zeros_like(self.images)
                full[rows] = grad
                momentum_step(self.images, self.velocity, full, self.image_lr, cfg.momentum)
            else:
                total_grad[rows] = grad
        if not cfg.step_per_class:
            momentum_step(self.images, self.velocity, total_grad, self.image_lr, cfg.momentum)
        return torch.cat(losses)

