"""Trajectory matching: MTT (Cazenavette et al., CVPR 2022), DATM (Guo et al., ICLR 2024) and LTDD's
Distribution-agnostic Matching and Expert Decoupling (Zhao et al., "Distilling Long-tailed Datasets", 2024/25).

Every iteration starts a student at an expert's weights θ*_t (``t`` drawn from the start window), unrolls
``syn_steps`` SGD steps on the synthetic set with the learned step size α, and minimises the normalised
distance to the expert ``expert_epochs`` epochs later (MTT Eq. 2):

.. math::

    \\mathcal{L} = \\frac{\\lVert \\hat\\theta_{t+N} - \\theta^*_{t+M} \\rVert^2}{\\lVert \\theta^*_t - \\theta^*_{t+M} \\rVert^2}

(:func:`~ltdd.distill.unroll.unrolled_matching`; ``grad_mode`` chooses full backpropagation, the exact
constant-memory adjoint, or TESLA's approximation). Images, α (and DATM's label logits) take one SGD step
with momentum (0.5, 0.5, 0.9) per iteration.

=========================  =======================================================  ======================================
idea                       setting                                                  default of the method
=========================  =======================================================  ======================================
MTT: real init, hard y     ``init="real"``, ``soft_labels=False``                   :class:`MTT`
DATM: init from images     ``init="correct"``: images an expert                     :class:`DATM`, :class:`LTDD`
the experts get right      classifies correctly (:func:`select_correct`)
DATM: soft labels          ``soft_labels=True``: averaged logits of                 :class:`DATM`, :class:`LTDD`
                           the experts that are right (:func:`expert_soft_labels`)
                           or one expert's (``label_rule="first"``)
DATM: growing window       ``current_max_start_epoch``,                             :class:`DATM`
(Sequential Generation)    ``expansion_end`` (:func:`start_window`)
DATM: update gate          ``threshold``: skip the step above it                    :class:`DATM`
short classes              ``short_class``: duplicate / noise /                     ``duplicate``
                           inherent (:func:`fill_class`)
LTDD: DAM                  ``dam=True``: :func:`dam_loss` in the                    :class:`LTDD`
                           representation phase
LTDD: Expert Decoupling    ``decoupled=True``, ``classifier_buffer``,               :class:`LTDD`
                           ``lambda_rep``, ``lambda_cls``
=========================  =======================================================  ======================================

**DAM, paper and code.** The LTDD paper weights each sample's loss by g(s_y) and adjusts the logits by
−λ·log s (s: class counts of the long-tailed set); its code weights the class columns of the soft
cross-entropy by w_c = (s_c + λ_g)/(Σ_k s_k + λ_g) with λ_g = 0 (raw class frequency, summing to 1) and no
logit adjustment. :func:`dam_loss` implements the general form: ``dam_lambda`` (λ_g), ``dam_logit_adjustment``
(λ), ``dam_weighting`` (``"column"``, the code; ``"sample"``, the paper's weight of the sample's class) and
``dam_normalize`` — True rescales the weights to mean 1 so that equal class counts give plain soft
cross-entropy; False is the code's raw frequencies, about C× smaller than cross-entropy, which matters
because α is shared with the unweighted classifier phase and with evaluation. The LTDD presets
(:mod:`ltdd.distill.tm_presets`) use the code's setting.

**Expert Decoupling.** Representation experts train every layer on the long-tailed set; classifier experts
retrain only the final linear layer from a representation expert's last weights with class-balanced
sampling (:mod:`ltdd.distill.experts`). Each iteration has two phases with their own student and expert: phase 1
unrolls every parameter with DAM but matches only the backbone (``match`` = all but ``model.classifier``);
phase 2 starts from a classifier expert at epoch ``0 … second_max_start_epoch − 1`` and unrolls and matches
only the classifier (``update`` = ``match`` = the classifier block; its gradient alone is taken). The step
uses λ_rep ∇L₁ + λ_cls ∇L₂. Soft labels and initial images come from the classifier experts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..augment import DSA, strategy_for
from ..checks import choice, positive_int
from ..data import ImageDataset
from .base import ImageDistiller, SyntheticSet
from .experts import ExpertBuffer, classifier_slice, load_flat_parameters
from .matching import momentum_step
from .unroll import GRAD_MODES, soft_label_loss, unrolled_matching

INITS = ("real", "noise", "correct")
SHORT_CLASS = ("duplicate", "noise", "inherent")
LABEL_RULES = ("correct", "first")
DAM_WEIGHTING = ("column", "sample")


# ------------------------------------------------------------------------------------------------ DAM
def dam_weights(class_counts, dam_lambda: float = 0.0, normalize: bool = True) -> Tensor:
    """LTDD's class weights g(s_c) = (s_c + λ_g) / (Σ_k s_k + λ_g); ``normalize`` rescales them to mean 1.

    Introduced in chapter 11."""
    counts = torch.as_tensor(class_counts, dtype=torch.float32)
    if counts.ndim != 1 or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError(f"class_counts must be non-negative counts with a positive total, got {class_counts!r}")
    weights = (counts + dam_lambda) / (counts.sum() + dam_lambda)
    if (weights < 0).any():
        raise ValueError(f"dam_lambda={dam_lambda!r} makes a class weight negative")
    return weights * len(counts) / weights.sum() if normalize else weights


def dam_loss(logits: Tensor, labels: Tensor, class_counts, dam_lambda: float = 0.0, logit_adjustment: float = 0.0,
             weighting: str = "column", normalize: bool = True) -> Tensor:
    """Distribution-agnostic Matching's long-tailed distributed loss (LTDD Eq. 4–5, general form).

    With soft targets ``p = softmax(labels)`` (label logits ``(B, C)``; hard labels ``(B,)`` are one-hot),
    adjusted logits ``z' = z − λ log s`` and weights ``w = g(s)`` (:func:`dam_weights`):

    * ``weighting="column"`` (the code): ``(1/B) Σ_i Σ_j w_j p_ij (−log softmax(z'_i)_j)``;
    * ``weighting="sample"`` (the paper): ``(1/B) Σ_i w_{y_i} Σ_j p_ij (−log softmax(z'_i)_j)``, ``y_i`` the
      target's arg-max.

    The two agree for one-hot targets. Equal counts, λ = 0 and ``normalize`` give plain soft cross-entropy.

    Introduced in chapter 11.
    """
    choice("weighting", weighting, DAM_WEIGHTING)
    counts = torch.as_tensor(class_counts, dtype=logits.dtype, device=logits.device)
    if len(counts) != logits.shape[1]:
        raise ValueError(f"class_counts has {len(counts)} entries for {logits.shape[1]} classes")
    weights = dam_weights(counts.cpu(), dam_lambda, normalize).to(logits)
    if logit_adjustment:
        if (counts <= 0).any():
            raise ValueError("a logit adjustment needs every class count > 0 (log s)")
        logits = logits - logit_adjustment * counts.log()
    targets = F.one_hot(labels, logits.shape[1]).to(logits) if labels.ndim == 1 else F.softmax(labels, dim=1)
    per_class = -targets * F.log_softmax(logits, dim=1)
    if weighting == "column":
        return (per_class * weights).sum(dim=1).mean()
    return (weights[targets.argmax(dim=1)] * per_class.sum(dim=1)).mean()


# -------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class TMConfig:
    """Every setting of the trajectory-matching family (defaults: MTT, CIFAR-10 IPC 10, with the pixel learning
    rate its author confirmed, MTT issue #31). :class:`DATMConfig` and :class:`LTDDConfig` change the defaults.

    Introduced in chapter 10."""

    ipc: int = 10
    buffer: str | None = None
    """Folder of representation experts (``python -m ltdd experts``); required."""
    classifier_buffer: str | None = None
    """Folder of classifier experts (Expert Decoupling; required when ``decoupled``)."""
    model: str = "convnet"
    net_width: int | None = None
    syn_steps: int = 30
    """N: student steps per iteration."""
    expert_epochs: int = 2
    """M: the target is the expert M epochs after the start."""
    min_start_epoch: int = 0
    max_start_epoch: int = 20
    """T⁺: start epochs are drawn from ``[min_start_epoch, max_start_epoch)``."""
    current_max_start_epoch: int | None = None
    """Sequential Generation (DATM): the window's upper end starts here and grows to ``max_start_epoch``
    over ``expansion_end`` iterations. ``None``: a fixed window."""
    expansion_end: int = 0
    lr_img: float = 100.0
    lr_lr: float = 1e-5
    lr_teacher: float = 0.01
    """α's initial value (the experts' learning rate; MTT's table lists 0.001 for CIFAR-10 IPC 10 and 50, which
    its presets carry)."""
    lr_y: float = 2.0
    momentum_img: float = 0.5
    momentum_lr: float = 0.5
    momentum_y: float = 0.9
    batch_syn: int | None = None
    """Synthetic images per student step (``None``: all)."""
    grad_mode: str = "exact"
    """``bptt`` (the reference), ``exact`` (constant memory, same gradient), ``tesla`` (approximation)."""
    dsa: bool = True
    init: str = "real"
    """``real`` images, ``noise``, or ``correct``: images the experts classify correctly (DATM)."""
    short_class: str = "duplicate"
    """When a class has fewer usable images than IPC: ``duplicate`` them cyclically, pad with ``noise``, or
    take the class's other real images (``inherent``; an error when the class has fewer than IPC in all)."""
    init_experts: int | None = None
    """Experts tried in turn by ``init="correct"`` (``None``: all; LTDD uses one, DATM keeps going)."""
    soft_labels: bool = False
    """Learnable label logits, initialised by :func:`expert_soft_labels` (DATM)."""
    label_experts: int | None = None
    """Experts whose logits are averaged for the soft labels (``None``: every expert in the buffer)."""
    label_rule: str = "correct"
    """How the soft labels start (:func:`expert_soft_labels`): ``"correct"``, the mean logits of the experts that
    classify the image correctly (DATM with its correct-image initialisation); ``"first"``, the logits of the
    first expert, unfiltered (the DATM and LTDD code with real-image initialisation, ``pix_init: real``)."""
    threshold: float | None = None
    """DATM's gate: no update when the matching loss exceeds it."""
    dam: bool = False
    dam_lambda: float = 0.0
    dam_logit_adjustment: float = 0.0
    dam_weighting: str = "column"
    dam_normalize: bool = True
    decoupled: bool = False
    lambda_rep: float = 1.0
    lambda_cls: float = 1.0
    syn_steps_second: int | None = None
    """N₂: student steps of the classifier phase (``None``: ``syn_steps``)."""
    second_expert_epochs: int = 2
    second_max_start_epoch: int = 1
    """Classifier-phase starts are drawn from ``[0, second_max_start_epoch)`` (LTDD: always epoch 0)."""

    def __post_init__(self) -> None:
        for name in ("ipc", "syn_steps", "expert_epochs", "max_start_epoch", "second_expert_epochs",
                     "second_max_start_epoch"):
            positive_int(name, getattr(self, name))
        for name in ("syn_steps_second", "batch_syn", "init_experts", "label_experts"):
            if getattr(self, name) is not None:
                positive_int(name, getattr(self, name))
        choice("grad_mode", self.grad_mode, GRAD_MODES)
        choice("init", self.init, INITS)
        choice("short_class", self.short_class, SHORT_CLASS)
        choice("label_rule", self.label_rule, LABEL_RULES)
        choice("dam_weighting", self.dam_weighting, DAM_WEIGHTING)
        if not isinstance(self.min_start_epoch, int) or not 0 <= self.min_start_epoch < self.max_start_epoch:
            raise ValueError(f"the start window [min_start_epoch, max_start_epoch) = [{self.min_start_epoch}, "
                             f"{self.max_start_epoch}) is empty; choose 0 <= min_start_epoch < max_start_epoch")
        if self.current_max_start_epoch is not None:
            if not self.min_start_epoch < self.current_max_start_epoch <= self.max_start_epoch:
                raise ValueError(f"current_max_start_epoch={self.current_max_start_epoch} must lie in "
                                 f"({self.min_start_epoch}, {self.max_start_epoch}] (an empty first window is "
                                 f"the crash of two LTDD configs)")
            positive_int("expansion_end", self.expansion_end)
        for name in ("lr_img", "lr_lr", "lr_teacher", "lr_y"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("momentum_img", "momentum_lr", "momentum_y"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must lie in [0, 1), got {getattr(self, name)!r}")
        if self.decoupled and self.classifier_buffer is None:
            raise ValueError("decoupled=True (Expert Decoupling) needs classifier_buffer= (a folder of classifier "
                             "experts: python -m ltdd experts --stage classifier)")
        if self.lambda_rep < 0 or self.lambda_cls < 0:
            raise ValueError(f"lambda_rep and lambda_cls must be >= 0, got {self.lambda_rep}, {self.lambda_cls}")


@dataclass(frozen=True)
class DATMConfig(TMConfig):
    """DATM, CIFAR-10 IPC 10 (ZCA, GSAM experts of 100 epochs): N = 80, window [0, 10 → 20 over 1000
    iterations), soft labels from correct experts, initial images the first expert gets right, gate 1.0.

    Introduced in chapter 10."""

    syn_steps: int = 80
    max_start_epoch: int = 20
    current_max_start_epoch: int | None = 10
    expansion_end: int = 1000
    init: str = "correct"
    soft_labels: bool = True
    threshold: float | None = 1.0


@dataclass(frozen=True)
class LTDDConfig(TMConfig):
    """LTDD (DAM + Expert Decoupling), CIFAR-10-LT β = 100 IPC 10 as its code ships it: N = N₂ = 80, window
    [0, 20), λ_rep 0.5, λ_cls 1, initial images from classifier expert 0 (one pass, duplicated when short),
    soft labels from every classifier expert, DAM in the representation phase, no gate, TESLA's gradient (its
    only distillation script; ``grad_mode="exact"`` is the exact one). One difference: DAM's weights are
    rescaled to mean 1 (``dam_normalize=True``, the general form); the code's raw frequencies are
    ``dam_normalize=False``, which the presets use.

    Introduced in chapter 10."""

    syn_steps: int = 80
    grad_mode: str = "tesla"
    max_start_epoch: int = 20
    init: str = "correct"
    init_experts: int | None = 1
    soft_labels: bool = True
    dam: bool = True
    decoupled: bool = True
    lambda_rep: float = 0.5
    lambda_cls: float = 1.0


# ------------------------------------------------------------------------------------------ windows
def start_window(config: TMConfig, iteration: int) -> tuple[int, int]:
    """``[low, high)`` of the start epoch at ``iteration``: fixed, or DATM's Sequential Generation
    ``high = current + ⌊(max − current) · it / expansion_end⌋``, capped at ``max_start_epoch``.

    Introduced in chapter 10."""
    if config.current_max_start_epoch is None:
        return config.min_start_epoch, config.max_start_epoch
    grown = config.current_max_start_epoch + int((config.max_start_epoch - config.current_max_start_epoch)
                                                 * iteration / config.expansion_end)
    return config.min_start_epoch, min(grown, config.max_start_epoch)


# ------------------------------------------------------------------------------ initialisation, labels
def expert_network(template: torch.nn.Module, buffer: ExpertBuffer, index: int, epoch: int = -1) -> torch.nn.Module:
    """``template`` loaded with expert ``index``'s weights after ``epoch`` (default: the last), in eval mode.

    Introduced in chapter 10."""
    epoch = buffer.epochs if epoch == -1 else epoch
    load_flat_parameters(template, buffer.snapshot(index, epoch).to(next(template.parameters()).device))
    return template.eval()


@torch.no_grad()
def _predictions(net: torch.nn.Module, images: Tensor, batch: int = 256) -> Tensor:
    return torch.cat([net(images[i:i + batch]) for i in range(0, len(images), batch)])


def select_correct(dataset: ImageDataset, label: int, ipc: int, template: torch.nn.Module, buffer: ExpertBuffer,
                   experts: int | None, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """DATM's initialisation for one class: go through the class in a random order and keep images the expert
    classifies correctly (expert 0 at its last epoch, then expert 1, … up to ``experts``) until ``ipc`` are
    found. Returns the chosen indices into the training split (possibly fewer than ``ipc``) and the class's
    other indices, in the same random order.

    Introduced in chapter 10."""
    members = dataset.train.class_indices(label)
    order = members[torch.randperm(len(members), generator=generator, device=generator.device).to(members.device)]
    chosen = torch.zeros(len(order), dtype=torch.bool, device=order.device)
    for k in range(min(len(buffer), experts or len(buffer))):
        net = expert_network(template, buffer, k)
        right = _predictions(net, dataset.train.images[order]).argmax(dim=1) == label
        chosen |= right
        if int(chosen.sum()) >= ipc:
            break
    return order[chosen][:ipc], order[~chosen]


def fill_class(found: Tensor, others: Tensor, ipc: int, policy: str, label: int, dataset: ImageDataset,
               generator: torch.Generator) -> tuple[Tensor, int]:
    """Complete a class that has fewer usable images than ``ipc`` (LTDD Fig. 7b), returning the class's
    images and how many are noise:

    * ``duplicate`` — repeat the usable images cyclically (a class with none becomes noise, as the LTDD code);
    * ``noise`` — pad with N(0, 1) images;
    * ``inherent`` — take the class's other real images (not correctly classified, or not yet used); the class
      must hold ``ipc`` images in all.

    The LTDD code's ``inherent`` writes fewer images than its fixed C×IPC label layout expects; here the budget
    is always exactly ``ipc`` images with aligned labels.

    Introduced in chapter 11.
    """
    images = dataset.train.images
    missing = ipc - len(found)
    if missing <= 0:
        return images[found[:ipc]], 0
    shape = (missing, *dataset.image_shape)
    if policy == "inherent":
        if len(found) + len(others) < ipc:
            raise ValueError(f"ipc={ipc} is more than class {label} can provide with short_class='inherent' "
                             f"({len(found) + len(others)} real images); use short_class='duplicate' or 'noise', "
                             f"or ipc <= {len(found) + len(others)}")
        return images[torch.cat([found, others[:missing]])], 0
    if policy == "duplicate" and len(found):
        return images[found.repeat(math.ceil(ipc / len(found)))[:ipc]], 0
    noise = torch.randn(shape, generator=generator, device=generator.device).to(images.device)
    return torch.cat([images[found], noise]), missing


@torch.no_grad()
def expert_soft_labels(images: Tensor, labels: Tensor, template: torch.nn.Module, buffer: ExpertBuffer,
                       experts: int | None = None, rule: str = "correct") -> tuple[Tensor, Tensor]:
    """The initial label logits of DATM and LTDD, from the experts at their last epoch. ``rule="correct"``: for
    every image, the mean logits of the experts that classify it correctly, all zeros (a uniform target) where
    none does; ``rule="first"``: the logits of expert 0, right or wrong (the code's rule when the images are
    random real ones; ``experts`` is then ignored). Returns ``(logits (N, C), experts right (N,))``.

    Introduced in chapter 10."""
    choice("rule", rule, LABEL_RULES)
    if rule == "first":
        logits = _predictions(expert_network(template, buffer, 0), images)
        return logits, (logits.argmax(dim=1) == labels).to(logits.dtype)
    total = None
    right_count = torch.zeros(len(images), device=images.device)
    for k in range(min(len(buffer), experts or len(buffer))):
        logits = _predictions(expert_network(template, buffer, k), images)
        right = (logits.argmax(dim=1) == labels).to(logits.dtype)
        total = logits * right[:, None] if total is None else total + logits * right[:, None]
        right_count += right
    return total / right_count.clamp_min(1)[:, None], right_count


def _check_reach(buffer: ExpertBuffer, field: str, window: str, window_end: int, span: str, epochs: int) -> None:
    """The last start epoch (``window_end − 1``) plus the expert epochs must lie inside the trajectories."""
    if window_end - 1 + epochs > buffer.epochs:
        raise ValueError(f"{window}={window_end} with {span}={epochs} needs expert trajectories of "
                         f"{window_end - 1 + epochs} epochs, but {field}={str(buffer.path)!r} stores "
                         f"{buffer.epochs}; choose {window} <= {buffer.epochs - epochs + 1}"
                         + (f" or {span} <= {buffer.epochs - window_end + 1}" if buffer.epochs >= window_end else ""))


# ----------------------------------------------------------------------------------------- distiller
class TrajectoryMatcher(ImageDistiller):
    """One distiller for MTT, DATM and LTDD (see the module docstring); subclasses set the defaults.

    Introduced in chapter 10."""

    name = "mtt"
    Config = TMConfig

    def __init__(self, dataset: ImageDataset, config: TMConfig, seed: int = 0):
        super().__init__(dataset, config, seed)
        if config.buffer is None:
            raise ValueError(f"{self.name} needs buffer= (a folder of expert trajectories written by "
                             "`python -m ltdd experts`)")
        options = self._model_options()
        self.buffer = self._open(config.buffer, "buffer", options, stage="representation")
        self.classifier_buffer = None
        if config.decoupled:
            self.classifier_buffer = self._open(config.classifier_buffer, "classifier_buffer", options,
                                                stage="classifier")
            _check_reach(self.classifier_buffer, "classifier_buffer", "second_max_start_epoch",
                         config.second_max_start_epoch, "second_expert_epochs", config.second_expert_epochs)
        _check_reach(self.buffer, "buffer", "max_start_epoch", config.max_start_epoch, "expert_epochs",
                     config.expert_epochs)
        self.template = self.new_network()
        self.blocks = self._blocks()
        self.class_counts = dataset.train.class_counts(dataset.num_classes)
        self.augment = DSA(strategy_for(dataset.hflip_safe)) if config.dsa else None
        self.label_logits: Tensor | None = None
        self.label_velocity: Tensor | None = None
        self.syn_lr: Tensor | None = None
        self.lr_velocity: Tensor | None = None
        self.noise_per_class: list[int] = [0] * dataset.num_classes
        """Initial images of each class that are noise (a class short of usable images, :func:`fill_class`)."""

    @property
    def noise_images(self) -> int:
        """Number of initial images that :func:`~ltdd.distill.tm.fill_class` made noise (short classes), in all."""
        return sum(self.noise_per_class)

    # ---------------------------------------------------------------------------------- set-up
    def _model_options(self) -> dict:
        return {} if self.config.net_width is None else {"width": self.config.net_width}

    def _open(self, path, field: str, options: dict, stage: str) -> ExpertBuffer:
        buffer = ExpertBuffer(path)
        buffer.check_compatible(self.dataset, self.config.model, options)
        if buffer.record["config"]["stage"] != stage:
            raise ValueError(f"{field}={path!r} holds {buffer.record['config']['stage']} experts; "
                             f"{field} needs {stage} experts")
        if len(buffer) == 0:
            raise ValueError(f"{field}={path!r} holds no trained experts yet")
        return buffer

    def _blocks(self) -> dict[str, slice | None]:
        """Which parameters each phase updates and matches (from ``model.classifier``, not a count)."""
        if not self.config.decoupled:
            return {"update": None, "match": None}
        classifier = classifier_slice(self.template)
        return {"update": None, "match": slice(0, classifier.start), "classifier": classifier}

    def _label_source(self) -> ExpertBuffer:
        """The experts that pick initial images and soft labels: the classifier experts under ED."""
        return self.classifier_buffer if self.config.decoupled else self.buffer

    def initial_images(self) -> Tensor:
        """``ipc`` images per class as ``init`` says: random real images (MTT), images the experts classify correctly
        (DATM, :func:`~ltdd.distill.tm.select_correct`) or noise; a short class is completed by
        :func:`~ltdd.distill.tm.fill_class`."""
        config, data = self.config, self.dataset
        if config.init == "noise":
            return super().initial_images()
        parts = []
        for label in range(data.num_classes):
            if config.init == "correct":
                found, others = select_correct(data, label, config.ipc, self.template, self._label_source(),
                                               config.init_experts, self.generator)
            else:
                members = data.train.class_indices(label)
                order = members[torch.randperm(len(members), generator=self.generator,
                                               device=self.generator.device).to(members.device)]
                found, others = order[:config.ipc], order[config.ipc:]
            images, noise = fill_class(found, others, config.ipc, config.short_class, label, data, self.generator)
            parts.append(images)
            self.noise_per_class[label] = noise
        return torch.cat(parts)

    def init(self) -> SyntheticSet:
        """Also sets the learned step size α to ``lr_teacher`` and, with ``soft_labels``, the label logits to the
        experts' (:func:`~ltdd.distill.tm.expert_soft_labels`), each with zero velocity."""
        super().init()  # the images and their velocity
        device = self.dataset.device
        self.syn_lr = torch.tensor(self.config.lr_teacher, device=device)
        self.lr_velocity = torch.zeros((), device=device)
        if self.config.soft_labels:
            self.label_logits, _ = expert_soft_labels(self.images, self._hard_labels(), self.template,
                                                      self._label_source(), self.config.label_experts,
                                                      self.config.label_rule)
            self.label_velocity = torch.zeros_like(self.label_logits)
        return self._refresh_synthetic()

    def _hard_labels(self) -> Tensor:
        return super()._labels()

    def _labels(self) -> Tensor:
        if self.label_logits is None:
            return self._hard_labels()
        return F.softmax(self.label_logits, dim=1)

    @property
    def synthetic(self) -> SyntheticSet | None:
        """The current set (built as :class:`~ltdd.distill.base.ImageDistiller` builds it; soft labels are the
        softmax of the label logits), with the learned step size α as ``learned_lr``."""
        base = ImageDistiller.synthetic.fget(self)
        if base is not None and self.syn_lr is not None:
            base.learned_lr = float(self.syn_lr)
        return base

    @synthetic.setter
    def synthetic(self, value: SyntheticSet | None) -> None:
        """Store ``value`` as the current set (as :class:`~ltdd.distill.base.ImageDistiller` does)."""
        ImageDistiller.synthetic.fset(self, value)

    # -------------------------------------------------------------------------------- one iteration
    def _phase(self, buffer: ExpertBuffer, start_epoch: int, expert_epochs: int, steps: int, loss_fn,
               update, match):
        expert = int(torch.randint(len(buffer), (1,), generator=self.generator, device=self.generator.device))
        trajectory = buffer[expert]
        device = self.dataset.device
        start = trajectory[start_epoch].to(device, torch.float32)
        target = trajectory[start_epoch + expert_epochs].to(device, torch.float32)
        labels = self.label_logits if self.label_logits is not None else self._hard_labels()
        result = unrolled_matching(self.template, start, target, self.images, labels, self.syn_lr, steps,
                                   self.generator, self.config.batch_syn, self.augment, self.config.grad_mode,
                                   loss_fn, update=update, match=match)
        return result, expert

    def _dam(self, logits: Tensor, labels: Tensor) -> Tensor:
        c = self.config
        return dam_loss(logits, labels, self.class_counts, c.dam_lambda, c.dam_logit_adjustment, c.dam_weighting,
                        c.dam_normalize)

    def step(self) -> dict:
        """One iteration: a student starts from a random expert at an epoch drawn from
        :func:`~ltdd.distill.tm.start_window`, unrolls ``syn_steps`` SGD steps on the synthetic set (on DAM's
        loss with ``dam``), and gives MTT's normalised trajectory-matching loss (MTT Eq. 2). Under Expert
        Decoupling a classifier-only phase follows and the gradients combine as λ_rep ∇L₁ + λ_cls ∇L₂. Images,
        α and label logits take one momentum step, unless DATM's gate (``threshold``) skips it."""
        c = self.config
        low, high = start_window(c, self.iteration)
        start_epoch = int(torch.randint(low, high, (1,), generator=self.generator, device=self.generator.device))
        first, expert = self._phase(self.buffer, start_epoch, c.expert_epochs, c.syn_steps,
                                    self._dam if c.dam else soft_label_loss, None, self.blocks["match"])
        phases = [(c.lambda_rep if c.decoupled else 1.0, first)]
        metrics = {"loss": float(first.loss), "start_epoch": start_epoch, "expert": expert}
        if c.decoupled:
            second_start = int(torch.randint(c.second_max_start_epoch, (1,), generator=self.generator,
                                             device=self.generator.device))
            classifier = self.blocks["classifier"]
            second, _ = self._phase(self.classifier_buffer, second_start, c.second_expert_epochs,
                                    c.syn_steps_second or c.syn_steps, soft_label_loss, classifier, classifier)
            phases.append((c.lambda_cls, second))
            metrics.update(loss_rep=float(first.loss), loss_cls=float(second.loss),
                           loss=c.lambda_rep * float(first.loss) + c.lambda_cls * float(second.loss))
        gated = c.threshold is not None and metrics["loss"] > c.threshold
        if not gated:
            self._update(phases)
        metrics.update(syn_lr=float(self.syn_lr), updated=not gated)
        self._refresh_synthetic()
        return metrics

    def _update(self, phases) -> None:
        c = self.config
        images_grad = sum(w * r.images_grad for w, r in phases)
        lr_grad = sum(w * r.lr_grad for w, r in phases).reshape(())
        momentum_step(self.images, self.velocity, images_grad, c.lr_img, c.momentum_img)
        momentum_step(self.syn_lr, self.lr_velocity, lr_grad, c.lr_lr, c.momentum_lr)
        if self.label_logits is not None:
            labels_grad = sum(w * r.labels_grad for w, r in phases)
            momentum_step(self.label_logits, self.label_velocity, labels_grad, c.lr_y, c.momentum_y)
        if not float(self.syn_lr) > 0:
            raise FloatingPointError(f"the learned step size became {float(self.syn_lr):.3g} at iteration "
                                     f"{self.iteration}: lower lr_lr (now {c.lr_lr}) or lr_img (now {c.lr_img})")

    # -------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Also stores α, the label logits, their velocities and the noise images per class."""
        state = super().state_dict()
        for name in ("syn_lr", "lr_velocity", "label_logits", "label_velocity"):
            value = getattr(self, name)
            state[name] = None if value is None else value.detach().cpu().clone()
        state["noise_per_class"] = list(self.noise_per_class)
        state["buffers"] = {name: getattr(self, name).fingerprint() for name in ("buffer", "classifier_buffer")
                            if getattr(self, name) is not None}  # a resumed run uses exactly these experts
        return state

    def load_state_dict(self, state: dict) -> None:
        """Also restores α, the label logits, their velocities and the noise images per class."""
        device = self.dataset.device
        for name in ("syn_lr", "lr_velocity", "label_logits", "label_velocity"):
            setattr(self, name, None if state.get(name) is None else state[name].to(device).clone())
        self.noise_per_class = list(state.get("noise_per_class", [0] * self.dataset.num_classes))
        super().load_state_dict(state)
        for name, fingerprint in state.get("buffers", {}).items():
            getattr(self, name).pin(fingerprint)


class MTT(TrajectoryMatcher):
    """Matching Training Trajectories (Cazenavette et al. 2022): real init, hard labels, learned step size.

    Introduced in chapter 10."""

    name = "mtt"
    Config = TMConfig


class DATM(TrajectoryMatcher):
    """Difficulty-Aligned Trajectory Matching (Guo et al. 2024): MTT with soft labels, correct-image init,
    Sequential Generation and an update gate.

    Introduced in chapter 10."""

    name = "datm"
    Config = DATMConfig


class LTDD(TrajectoryMatcher):
    """Long-tailed dataset distillation (Zhao et al.): DATM with Distribution-agnostic Matching and Expert
    Decoupling.

    Introduced in chapter 10."""

    name = "ltdd"
    Config = LTDDConfig


__all__ = ["DAM_WEIGHTING", "DATM", "DATMConfig", "INITS", "LABEL_RULES", "LTDD", "LTDDConfig", "MTT", "SHORT_CLASS",
           "TMConfig",
           "TrajectoryMatcher", "dam_loss", "dam_weights", "expert_network", "expert_soft_labels", "fill_class",
           "select_correct", "start_window"]
