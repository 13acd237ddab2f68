"""DC and DSA: dataset condensation by gradient matching (Zhao, Mopuri & Bilen, ICLR 2021; Zhao & Bilen,
ICML 2021).

Learn synthetic images whose training gradients match the real images' gradients, class by class, along
the trajectory of a network that is itself trained on the synthetic set (DC Eq. 9):

.. math::

    \\min_S \\; \\mathbb{E}_{\\theta_0 \\sim P_{\\theta_0}} \\sum_{t=0}^{T-1} \\sum_c
    D\\big(\\nabla_\\theta \\mathcal{L}(S_c; \\theta_t),\\; \\nabla_\\theta \\mathcal{L}(T_c; \\theta_t)\\big),
    \\qquad \\theta_{t+1} = \\theta_t - \\eta_\\theta \\nabla_\\theta \\mathcal{L}(S; \\theta_t)\\;
    (\\varsigma_\\theta \\text{ times})

with the layer-wise distance of DC Eq. 10: for every layer, one minus the cosine similarity of the two
gradients of each output channel, summed (:func:`gradient_distance`, metric ``"ours"``). DSA applies the
same differentiable augmentation, drawn once per class, to the real and the synthetic images before the
gradients are taken (Siamese augmentation, DSA Eq. 4).

One *iteration* is one outer episode of the reference code: a fresh network θ₀, then ``outer_loop`` times

1. (batch-norm networks) a forward pass of 16 real images per class in train mode, then batch norm frozen;
2. for every class, the real gradient (detached) and the synthetic gradient (kept in the graph);
3. one SGD step with momentum on the images, on the loss summed over classes;
4. unless it was the last outer step, ``inner_loop`` epochs of training the network on the synthetic set
   (plain SGD, lr_net; under DSA with per-sample augmentation).

=====================  ============================================  =====================================
equation part          function / setting                            reference default
=====================  ============================================  =====================================
θ₀ ~ P_θ₀              :meth:`GradientMatcher.step`                  a fresh ConvNet per iteration
T (outer steps)        ``outer_loop`` (:func:`loops_for`)            1 / 10 / 50 for IPC 1 / 10 / 50
ς_θ (inner epochs)     ``inner_loop`` (:func:`loops_for`)            1 / 50 / 10
∇L(S_c), ∇L(T_c)       :func:`per_class_gradients`                   ``batch_real`` 256 real per class
D                      :func:`gradient_distance`                     ``"ours"``; also ``"mse"``, ``"cos"``
S update               :func:`~ltdd.distill.matching.momentum_step`  lr 0.1, momentum 0.5
θ update               :meth:`GradientMatcher.train_network`         SGD lr 0.01, batch 256
=====================  ============================================  =====================================

**Per-class gradients, vectorised.** The reference loops over classes, one ``autograd.grad`` with
``create_graph=True`` each (``per_class_grads="loop"``, the default). With ``per_class_grads="vmap"`` the
synthetic gradients of all classes come from *one* backward pass: every class gets its own copy of the
parameters (same values), the network runs on all classes at once through :func:`torch.func.vmap`, and the
gradient of the summed loss with respect to copy ``c`` is class ``c``'s gradient. Both give the same set
(tested). On the CPU it does not pay: a whole image step takes as long either way at the coloured-digits
shape (1.49 s vmap, 1.51 s loop) and longer with vmap at the CIFAR-10 shape (45.9 s against 36.0 s), because
the real gradients dominate and the grouped convolutions vmap produces are slow there
(``benchmarks/gm_speed.py``, ``data/reference/gm_speed_cpu.md``). On a GPU, where the loop's many small
kernels cost more, it is untested for speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, vmap

from ..augment import DSA, strategy_for
from ..checks import choice, positive_int
from ..data import ImageDataset
from ..models import has_batch_norm
from .base import ImageDistiller, check_ipc
from .matching import INITS, ClassBalancedSampler, group_of_rows, momentum_step

LOOPS_BY_IPC: dict[int, tuple[int, int]] = {1: (1, 1), 10: (10, 50), 20: (20, 25), 30: (30, 20), 40: (40, 15),
                                            50: (50, 10)}
"""IPC → (outer_loop, inner_loop) of the reference's ``get_loops``; other IPCs need both set explicitly."""

METRICS = ("ours", "mse", "cos")
GRAD_PATHS = ("vmap", "loop")
EPS = 1e-6
"""Added to the product of norms in the cosine, as the reference (a zero gradient gives distance 1)."""


def loops_for(ipc: int, outer_loop: int | None = None, inner_loop: int | None = None) -> tuple[int, int]:
    """``(outer_loop, inner_loop)``: the given values, or the reference's table for this IPC.

    Introduced in chapter 08."""
    if outer_loop is not None and inner_loop is not None:
        return outer_loop, inner_loop
    if ipc not in LOOPS_BY_IPC:
        raise ValueError(f"ipc={ipc} has no outer/inner loop counts in the reference's table "
                         f"(IPC {sorted(LOOPS_BY_IPC)}); set outer_loop and inner_loop explicitly, "
                         f"e.g. outer_loop={ipc}, inner_loop={max(1, round(500 / ipc))}")
    table_outer, table_inner = LOOPS_BY_IPC[ipc]
    return (table_outer if outer_loop is None else outer_loop,
            table_inner if inner_loop is None else inner_loop)


# ------------------------------------------------------------------------------------------- distances
def _rows(gradient: Tensor) -> Tensor:
    """``(K, *shape)`` → ``(K, out_channels, rest)``: one row per output channel (or neuron)."""
    return gradient.reshape(gradient.shape[0], gradient.shape[1], -1)


def layer_distance(real: Tensor, synthetic: Tensor, match_1d: bool = False) -> Tensor:
    """DC Eq. 10 for one layer and ``K`` gradient pairs (leading dim): ``Σ_i (1 − cos(A_i, B_i))`` over the
    output channels ``i``, each ``A_i`` the flattened gradient of channel ``i``'s weights. Returns ``(K,)``.

    A 1-D parameter (bias, norm scale) has one number per channel. The reference returns 0 for it
    (``match_1d=False``); ``match_1d=True`` treats the whole vector as one row instead.

    Introduced in chapter 08.
    """
    if real.shape != synthetic.shape:
        raise ValueError(f"gradient shapes differ: {tuple(real.shape)} and {tuple(synthetic.shape)}")
    if real.ndim == 2:  # (K, channels): a 1-D parameter
        if not match_1d:
            return real.new_zeros(real.shape[0])
        real, synthetic = real.unsqueeze(1), synthetic.unsqueeze(1)
    a, b = _rows(real), _rows(synthetic)
    cosine = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1) + EPS)
    return (1 - cosine).sum(-1)


def gradient_distance(real: list[Tensor], synthetic: list[Tensor], metric: str = "ours",
                      match_1d: bool = False) -> Tensor:
    """The distance between ``K`` pairs of network gradients, one tensor per parameter with a leading dim K.

    * ``"ours"``: DC's layer-wise distance, :func:`layer_distance` summed over the layers;
    * ``"mse"``: squared Euclidean distance of the concatenated gradients (every parameter);
    * ``"cos"``: one minus the cosine of the concatenated gradients.

    Returns ``(K,)``.

    Introduced in chapter 08.
    """
    choice("metric", metric, METRICS)
    if len(real) != len(synthetic) or not real:
        raise ValueError(f"need the same non-zero number of gradients, got {len(real)} and {len(synthetic)}")
    if metric == "ours":
        return torch.stack([layer_distance(r, s, match_1d) for r, s in zip(real, synthetic)]).sum(0)
    a = torch.cat([r.flatten(1) for r in real], 1)
    b = torch.cat([s.flatten(1) for s in synthetic], 1)
    if metric == "mse":
        return (a - b).pow(2).sum(-1)
    return 1 - (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1) + EPS)


# ----------------------------------------------------------------------------------- per-class gradients
def per_class_gradients(net: nn.Module, images: Tensor, labels: Tensor, counts: list[int],
                        create_graph: bool = False, path: str = "loop") -> list[Tensor]:
    """The gradient of the mean cross-entropy of every class's images with respect to ``net``'s parameters.

    ``images`` are class-sorted with ``counts[k]`` rows for the k-th class; returns one tensor per parameter
    with a leading dim ``len(counts)``. ``create_graph`` keeps the graph (for the synthetic images).
    ``path="loop"`` takes one ``autograd.grad`` per class (the reference); ``"vmap"`` one backward pass
    through per-class parameter copies (equal counts only). ``net`` must act per sample (instance norm,
    or batch norm in eval mode).

    Introduced in chapter 08.
    """
    choice("path", path, GRAD_PATHS)
    params = [p for p in net.parameters() if p.requires_grad]
    if path == "loop":
        grads = [torch.autograd.grad(F.cross_entropy(net(x), y), params, create_graph=create_graph)
                 for x, y in zip(images.split(counts), labels.split(counts))]
        return [torch.stack(per_param) for per_param in zip(*grads)]
    if len(set(counts)) != 1:
        raise ValueError(f"path='vmap' needs the same number of images per class, got {counts}")
    return _stacked_gradients(net, images, labels, len(counts), create_graph)


def _stacked_gradients(net: nn.Module, images: Tensor, labels: Tensor, groups: int,
                       create_graph: bool) -> list[Tensor]:
    names = [name for name, p in net.named_parameters() if p.requires_grad]
    copies = {name: p.detach().unsqueeze(0).expand(groups, *p.shape).clone().requires_grad_(True)
              for name, p in net.named_parameters() if p.requires_grad}
    frozen = {name: p for name, p in net.named_parameters() if not p.requires_grad}
    buffers = dict(net.named_buffers())

    def class_loss(weights: dict, x: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(functional_call(net, ({**weights, **frozen}, buffers), (x,)), y)

    n = len(images) // groups
    losses = vmap(class_loss)(copies, images.reshape(groups, n, *images.shape[1:]), labels.reshape(groups, n))
    return list(torch.autograd.grad(losses.sum(), [copies[name] for name in names], create_graph=create_graph))


# ------------------------------------------------------------------------------------------ the method
@dataclass(frozen=True)
class GMConfig:
    """DC's reference setting (``main.py --method DC``). Machinery behind chapter 05."""

    ipc: int = 10
    """Synthetic images per class."""
    outer_loop: int | None = None
    """Image steps per iteration; ``None``: the reference's table for the IPC (:data:`LOOPS_BY_IPC`)."""
    inner_loop: int | None = None
    """Epochs of network training on the synthetic set between image steps; ``None``: the table."""
    lr_img: float = 0.1
    momentum: float = 0.5
    """SGD momentum of the images."""
    lr_net: float = 0.01
    """Learning rate of the network trained on the synthetic set (plain SGD, as the reference)."""
    batch_real: int = 256
    """Real images per class for each real gradient (fewer when a class has fewer)."""
    batch_train: int = 256
    """Batch size of the inner network training."""
    init: str = "noise"
    """``noise`` (DC's default) or ``real`` (the DSA README's)."""
    metric: str = "ours"
    """Gradient distance: ``ours`` (layer-wise, DC Eq. 10), ``mse`` or ``cos`` (see :func:`gradient_distance`)."""
    match_1d: bool = False
    """Also match 1-D parameters' gradients under ``ours`` (the reference ignores them)."""
    model: str = "convnet"
    net_width: int | None = None
    """ConvNet width; ``None`` keeps the model's default (128)."""
    dsa: bool = False
    """Siamese DSA while matching and per-sample DSA while training the network (the DSA method)."""
    dsa_strategy: str | None = None
    """``None``: the reference strategy, without flip for digit datasets."""
    bn_images_per_class: int = 16
    """Real images per class that set a batch-norm network's statistics before each image step."""
    per_class_grads: str = "loop"
    """``loop``: the reference's loop over classes; ``vmap``: the synthetic per-class gradients in one backward
    pass (same result; see the module docstring for when it pays)."""


@dataclass(frozen=True)
class DSAConfig(GMConfig):
    """DSA's reference setting: DC plus Siamese augmentation, initialised from real images (DSA README).

    Machinery behind chapter 05."""

    init: str = "real"
    dsa: bool = True


class GradientMatcher(ImageDistiller):
    """Dataset condensation by gradient matching (see the module docstring). ``DC`` and ``DSA`` are its two
    published settings.

    Introduced in chapter 08."""

    name = "gm"
    Config = GMConfig

    def __init__(self, dataset: ImageDataset, config: GMConfig = GMConfig(), seed: int = 0):
        self.check_config(config, dataset)
        super().__init__(dataset, config, seed)
        self.outer_loop, self.inner_loop = loops_for(config.ipc, config.outer_loop, config.inner_loop)
        self.sampler = ClassBalancedSampler(dataset.train.labels, dataset.num_classes)
        strategy = config.dsa_strategy or strategy_for(dataset.hflip_safe)
        self.augment = DSA(strategy) if config.dsa else None

    @classmethod
    def check_config(cls, config: GMConfig, dataset: ImageDataset) -> None:
        """Raise ``ValueError`` naming the first setting that is out of range."""
        for name in ("ipc", "batch_real", "batch_train", "bn_images_per_class"):
            positive_int(name, getattr(config, name))
        for name in ("outer_loop", "inner_loop"):
            if getattr(config, name) is not None:
                positive_int(name, getattr(config, name))
        loops_for(config.ipc, config.outer_loop, config.inner_loop)
        for name in ("lr_img", "lr_net"):
            if not getattr(config, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(config, name)!r}")
        if not 0 <= config.momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {config.momentum!r}")
        choice("init", config.init, INITS)
        choice("metric", config.metric, METRICS)
        choice("per_class_grads", config.per_class_grads, GRAD_PATHS)
        if config.net_width is not None:
            positive_int("net_width", config.net_width)
        if config.init == "real":
            check_ipc(config.ipc, dataset)

    # --------------------------------------------------------------------------- one iteration
    def step(self) -> dict:
        """One outer episode of DC's gradient matching (DC Eq. 9; Zhao, Mopuri & Bilen 2021): a fresh network,
        then ``outer_loop`` times a matching step (:meth:`~ltdd.distill.gm.GradientMatcher.matching_step`) with,
        between them, ``inner_loop`` epochs of training the network on the synthetic set
        (:meth:`~ltdd.distill.gm.GradientMatcher.train_network`). Returns the mean per-class gradient
        distance."""
        if self.images is None:
            self.init()
        net = self.new_network()
        optimizer = torch.optim.SGD(net.parameters(), lr=self.config.lr_net)
        losses = []
        for outer in range(self.outer_loop):
            if has_batch_norm(net):
                self.freeze_batch_norm(net)
            losses.append(self.matching_step(net))
            if outer < self.outer_loop - 1:
                self.train_network(net, optimizer)
        self._refresh_synthetic()
        return {"loss": float(torch.stack(losses).mean())}

    def freeze_batch_norm(self, net: nn.Module) -> None:
        """The reference's batch-norm handling: one train-mode pass over ``bn_images_per_class`` real images
        per class (updating the running statistics), then every batch-norm layer in eval mode."""
        index, _ = self.sampler.sample(self.config.bn_images_per_class, self.generator)
        net.train()
        with torch.no_grad():
            net(self.dataset.train.images[index])
        for module in net.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()

    def matching_step(self, net: nn.Module) -> Tensor:
        """Match every class's gradients once and take one image step; returns the mean per-class distance."""
        cfg, classes = self.config, list(range(self.dataset.num_classes))
        index, real_counts = self.sampler.sample(cfg.batch_real, self.generator)
        real, real_labels = self.dataset.train.images[index], self.dataset.train.labels[index]
        synthetic_counts = [cfg.ipc] * len(classes)
        point = self.images.clone().requires_grad_(True)
        synthetic, labels = point, self._labels()
        if self.augment is not None:  # Siamese: one draw per class, shared by its real and synthetic images
            params = self.augment.sample(len(classes), self.generator, self.dataset.device,
                                         image_size=self.dataset.image_size)
            real = self.augment.apply(real, params, group_of_rows(real_counts, classes, real.device))
            synthetic = self.augment.apply(synthetic, params, labels)
        real_grads = [g.detach() for g in per_class_gradients(net, real, real_labels, real_counts)]
        synthetic_grads = per_class_gradients(net, synthetic, labels, synthetic_counts, create_graph=True,
                                              path=cfg.per_class_grads)
        distances = gradient_distance(real_grads, synthetic_grads, cfg.metric, cfg.match_1d)
        (grad,) = torch.autograd.grad(distances.sum(), point)
        momentum_step(self.images, self.velocity, grad, cfg.lr_img, cfg.momentum)
        return distances.detach().mean()

    def train_network(self, net: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """``inner_loop`` epochs of SGD on the current synthetic set (a detached copy), shuffled batches of
        ``batch_train``; with DSA, per-sample augmentation (one family per batch, as the reference)."""
        images, labels = self.images.detach(), self._labels()
        net.train()
        for _ in range(self.inner_loop):
            order = torch.randperm(len(images), generator=self.generator,
                                   device=self.generator.device).to(images.device)
            for batch in order.split(self.config.batch_train):
                x = images[batch]
                if self.augment is not None:
                    x = self.augment(x, self.generator)
                loss = F.cross_entropy(net(x), labels[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()


class DC(GradientMatcher):
    """DC (Zhao, Mopuri & Bilen, ICLR 2021): gradient matching without augmentation, noise init.
    CIFAR-10 ConvNet-3, IPC 1 / 10 / 50: 28.3 / 44.9 / 53.9 %.

    Introduced in chapter 05."""

    name = "dc"
    Config = GMConfig


class DSAMatcher(GradientMatcher):
    """DSA (Zhao & Bilen, ICML 2021): gradient matching with Siamese augmentation, real init.
    CIFAR-10 ConvNet-3, IPC 1 / 10 / 50: 28.8 / 52.1 / 60.6 %.

    Machinery behind chapter 05."""

    name = "dsa"
    Config = DSAConfig
