"""Training and evaluating classifiers: the evaluation protocol of the dataset-distillation literature.

A synthetic set is judged by training fresh networks on it and testing them on the real test set. The
protocol of DC, DSA and DM (``utils.evaluate_synset`` in their code):

* SGD, learning rate 0.01, momentum 0.9, weight decay 5e-4, batch 256;
* ``epochs + 1`` passes over the data (the reference loops over ``range(E + 1)``); after pass
  ``E // 2 + 1`` the learning rate drops ×0.1 by *re-creating* the optimiser (so the momentum restarts);
* DSA on every training batch, with per-sample parameters;
* the test accuracy after the last pass is reported, mean ± std over several networks.

:func:`evaluate_synthetic` runs that protocol; :func:`train_classifier` is the single-network building
block, also used for the full-data baseline. Labels may be hard (``(N,)`` integers) or soft
(``(N, C)`` probabilities, trained with soft cross-entropy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ._deprecated import renamed
from .augment import DSA, strategy_for
from .checks import positive_int, seed_list
from .config import make_generator
from .data import ImageDataset, LabeledImages
from .models import get_model


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of the evaluation protocol (defaults: the DC/DSA/DM reference). Introduced in chapter 01."""

    epochs: int = 1000
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 256
    dsa: bool = True
    dsa_strategy: str | None = None
    """``None``: the reference strategy, without flip for digit datasets."""
    cutmix_prob: float = 0.0
    """Probability that a batch is CutMixed (Yun et al. 2019, β = 1), as IDC/DSDM train their networks."""
    schedule: str = "step"
    """``"step"``: the DC/DSA/DM reference, ``epochs + 1`` passes with the learning rate ×0.1 after pass
    ``epochs // 2 + 1`` (a new optimiser, as the reference); ``"constant"``: exactly ``epochs`` passes at ``lr``
    (IDC's and DSDM's ``pre_train_model.py``); ``"multistep"``: exactly ``epochs`` passes, the learning rate
    ×0.1 from each epoch of ``milestones`` on (``MultiStepLR``, momentum kept; Biased-DD's full-set control)."""
    milestones: tuple[int, ...] = ()
    """Epochs at which the ``"multistep"`` schedule multiplies the learning rate by 0.1."""
    dsa_mode: str = "S"
    """``"S"``: one augmentation family per batch (the DSA reference); ``"M"``: every family of the strategy on
    every image, in order (IDC's ``DiffAug``, which DSDM pre-trains with: colour *and* crop)."""

    def __post_init__(self) -> None:
        if self.schedule not in ("step", "constant", "multistep"):
            raise ValueError(f"schedule={self.schedule!r} is not allowed; choose 'step', 'constant' or 'multistep'")
        if self.milestones and self.schedule != "multistep":
            raise ValueError(f"milestones={self.milestones!r} need schedule='multistep', got {self.schedule!r}")
        if any(not isinstance(m, int) or not 0 < m < self.epochs for m in self.milestones):
            raise ValueError(f"milestones must be ints in (0, epochs={self.epochs}), got {self.milestones!r}")
        if self.dsa_mode not in ("S", "M"):
            raise ValueError(f"dsa_mode={self.dsa_mode!r} is not allowed; choose 'S' or 'M'")
        positive_int("epochs", self.epochs)
        positive_int("batch_size", self.batch_size)
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not 0 <= self.cutmix_prob <= 1:
            raise ValueError(f"cutmix_prob must lie in [0, 1], got {self.cutmix_prob!r}")

    @property
    def decay_after_pass(self) -> int | None:
        """The 0-based pass after which the learning rate drops ×0.1 (the reference's ``E//2 + 1``); ``None``
        with the constant schedule."""
        return self.epochs // 2 + 1 if self.schedule == "step" else None

    @property
    def passes(self) -> int:
        """Passes over the data: ``epochs + 1`` with the step schedule (the reference's ``range(E + 1)``),
        ``epochs`` with the constant one."""
        return self.epochs + 1 if self.schedule == "step" else self.epochs


@dataclass
class Accuracy:
    """Overall and per-class accuracy of one network on one split.

    On a split with bias attributes, ``aligned`` and ``conflicting`` are the accuracies on the
    bias-aligned (attribute = label) and bias-conflicting images (``None`` where a split has none).

    Introduced in chapter 08.
    """

    overall: float
    per_class: list[float]
    aligned: float | None = None
    conflicting: float | None = None


def soft_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy against a probability vector per sample: ``−Σ_c p_c log softmax(z)_c``, batch mean.

    Machinery behind chapter 01."""
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy for hard labels ``(N,)``, soft cross-entropy for soft labels ``(N, C)``.

    Machinery behind chapter 01."""
    return soft_cross_entropy(logits, labels) if labels.ndim == 2 else F.cross_entropy(logits, labels)


@torch.no_grad()
def network_accuracy(model: nn.Module, split: LabeledImages, num_classes: int, batch_size: int = 1024) -> Accuracy:
    """Overall and per-class accuracy of ``model`` on ``split`` (``nan`` for a class absent from it), and on its
    bias-aligned and bias-conflicting images where ``split`` has attributes. Introduced in chapter 04 (as
    ``evaluate``, its old name; the evaluation of a synthetic set, :func:`ltdd.studies.experiments.evaluate`, keeps that
    name)."""
    was_training = model.training
    model.eval()
    hits = torch.cat([model(split.images[start:start + batch_size]).argmax(dim=1)
                      == split.labels[start:start + batch_size] for start in range(0, len(split), batch_size)])
    model.train(was_training)
    hits = hits.float()
    correct = torch.zeros(num_classes, device=hits.device).index_add_(0, split.labels, hits)
    total = torch.zeros(num_classes, device=hits.device).index_add_(0, split.labels, torch.ones_like(hits))
    accuracy = Accuracy(overall=hits.mean().item(), per_class=(correct / total).tolist())
    if split.attributes is not None:
        aligned = split.attributes == split.labels
        accuracy.aligned = hits[aligned].mean().item() if aligned.any() else None
        accuracy.conflicting = hits[~aligned].mean().item() if (~aligned).any() else None
    return accuracy


evaluate = renamed(network_accuracy, "evaluate")


def train_classifier(model: nn.Module, images: Tensor, labels: Tensor, config: TrainConfig,
                     generator: torch.Generator, hflip_safe: bool = True, progress: bool = False,
                     description: str = "train") -> list[float]:
    """Train ``model`` in place with the protocol of :class:`TrainConfig`; returns the loss of every pass.

    ``generator`` drives the batch order and the augmentation, so the same generator state and the same
    initial weights give the same trained network.

    Machinery behind chapter 01.
    """
    if len(images) != len(labels):
        raise ValueError(f"images ({len(images)}) and labels ({len(labels)}) differ in length")
    if len(images) == 0:
        raise ValueError("cannot train on an empty set of images")
    dsa = DSA(config.dsa_strategy or strategy_for(hflip_safe), mode=config.dsa_mode) if config.dsa else None
    model.train()

    def make_optimizer(lr: float) -> torch.optim.Optimizer:
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)

    optimizer = make_optimizer(config.lr)
    losses = []
    passes = range(config.passes)
    for epoch in tqdm(passes, desc=description, leave=False, disable=not progress):
        order = torch.randperm(len(images), generator=generator, device=generator.device).to(images.device)
        total = torch.zeros((), device=images.device)  # summed on the device: no sync per batch
        for start in range(0, len(images), config.batch_size):
            batch = order[start:start + config.batch_size]
            x, y = images[batch], labels[batch]
            if dsa is not None:
                x = dsa(x, generator)
            if config.cutmix_prob and _draw(generator) < config.cutmix_prob:
                x, y_other, keep = cutmix(x, y, generator)
                logits = model(x)
                loss = keep * classification_loss(logits, y) + (1 - keep) * classification_loss(logits, y_other)
            else:
                loss = classification_loss(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(batch)
        losses.append(total.item() / len(images))
        if epoch == config.decay_after_pass:
            optimizer = make_optimizer(config.lr * 0.1)
        if epoch + 1 in config.milestones:
            for group in optimizer.param_groups:
                group["lr"] *= 0.1
    return losses


def _draw(generator: torch.Generator) -> float:
    return float(torch.rand((), generator=generator, device=generator.device))


def cutmix(x: Tensor, y: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor, float]:
    """CutMix with β = 1: paste a box of a shuffled batch into ``x``. Returns the mixed images, the pasted
    images' labels and the kept fraction λ (the weight of the original labels).

    Machinery behind chapter 01."""
    n, _, h, w = x.shape
    lam = _draw(generator)
    order = torch.randperm(n, generator=generator, device=generator.device).to(x.device)
    cut_h, cut_w = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
    cy, cx = (int(v) for v in torch.randint(0, max(h, w), (2,), generator=generator, device=generator.device))
    cy, cx = cy % h, cx % w
    top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, h)
    left, right = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, w)
    mixed = x.clone()
    mixed[:, :, top:bottom, left:right] = x[order, :, top:bottom, left:right]
    keep = 1 - (bottom - top) * (right - left) / (h * w)
    return mixed, y[order], keep


@dataclass
class EvaluationReport:
    """Accuracy of networks trained on one training set, over several seeds. Machinery behind chapter 01."""

    model: str
    epochs: int
    seeds: list[int]
    accuracies: list[float]
    per_class_runs: list[list[float]]
    train_size: int
    extra: dict = field(default_factory=dict)
    aligned_runs: list[float | None] = field(default_factory=list)
    conflicting_runs: list[float | None] = field(default_factory=list)

    @classmethod
    def from_runs(cls, runs: list[Accuracy], model: str, epochs: int, seeds: list[int], train_size: int,
                  extra: dict | None = None) -> "EvaluationReport":
        """A report from one :class:`Accuracy` per network (bias figures kept when the test split has them)."""
        has_bias = any(run.aligned is not None or run.conflicting is not None for run in runs)
        return cls(model, epochs, list(seeds), [run.overall for run in runs], [run.per_class for run in runs],
                   train_size, extra=dict(extra or {}),
                   aligned_runs=[run.aligned for run in runs] if has_bias else [],
                   conflicting_runs=[run.conflicting for run in runs] if has_bias else [])

    @property
    def mean(self) -> float:
        """Mean accuracy over the networks (a fraction in [0, 1])."""
        return sum(self.accuracies) / len(self.accuracies)

    @property
    def std(self) -> float:
        """Population standard deviation (numpy's default), as the DD papers report."""
        m = self.mean
        return math.sqrt(sum((a - m) ** 2 for a in self.accuracies) / len(self.accuracies))

    @property
    def per_class(self) -> list[float]:
        """Per-class accuracy averaged over the runs."""
        return [sum(run[c] for run in self.per_class_runs) / len(self.per_class_runs)
                for c in range(len(self.per_class_runs[0]))]

    def group_accuracy(self, groups: list[str]) -> dict[str, float]:
        """Mean per-class accuracy within each shot group (e.g. from :func:`ltdd.data.longtail.shot_groups`)."""
        from .data.longtail import group_accuracy

        return group_accuracy(self.per_class, groups)

    @property
    def aligned(self) -> float | None:
        """Mean accuracy on bias-aligned test images (biased datasets only)."""
        return _mean_or_none(self.aligned_runs)

    @property
    def conflicting(self) -> float | None:
        """Mean accuracy on bias-conflicting test images (biased datasets only)."""
        return _mean_or_none(self.conflicting_runs)

    def as_dict(self) -> dict:
        """The report as plain numbers (``python -m ltdd evaluate`` prints it): mean, std, per class, every run,
        and the bias figures where there are any."""
        bias = {"aligned": self.aligned, "conflicting": self.conflicting} if self.aligned_runs else {}
        return {"mean": self.mean, "std": self.std, "per_class": self.per_class,
                "runs": self.accuracies, "per_class_runs": self.per_class_runs, "seeds": self.seeds,
                "model": self.model, "epochs": self.epochs, "train_size": self.train_size, **bias,
                **self.extra}

    def __str__(self) -> str:
        details = f"({self.epochs} epochs, {self.train_size} training images)"
        if len(self.seeds) == 1:  # one network has no spread: say so rather than print "± 0.00"
            return f"{self.model}: {100 * self.mean:.2f} % from one network, so no spread {details}"
        return (f"{self.model}: {100 * self.mean:.2f} ± {100 * self.std:.2f} % over {len(self.seeds)} "
                f"networks {details}")


def evaluate_training_set(images: Tensor, labels: Tensor, dataset: ImageDataset, model: str = "convnet",
                          seeds: int | list[int] = 3, config: TrainConfig = TrainConfig(), base_seed: int = 0,
                          progress: bool = True, model_options: dict | None = None,
                          encoder_state: dict | None = None) -> EvaluationReport:
    """Train ``seeds`` fresh networks on (images, labels) and test each on ``dataset.test``.

    ``seeds`` is a count (networks ``0..seeds-1``) or an explicit list; network ``k`` draws its weights,
    batch order and augmentation from generators derived from ``(base_seed, k)``. ``encoder_state`` (e.g.
    SimCLR's, :mod:`ltdd.ssl`) initialises the feature layers of every network before training.

    Introduced in chapter 01.
    """
    seeds_used = seed_list(seeds)
    runs = [network_accuracy(net, dataset.test, dataset.num_classes)
            for _, net in train_networks(images, labels, dataset, model, seeds_used, config, base_seed, progress,
                                         model_options, encoder_state)]
    return EvaluationReport.from_runs(runs, model, config.epochs, seeds_used, len(images),
                                      extra={"model_options": dict(model_options or {})})


def train_networks(images: Tensor, labels: Tensor, dataset: ImageDataset, model: str, seeds: int | list[int],
                   config: TrainConfig, base_seed: int = 0, progress: bool = False,
                   model_options: dict | None = None, encoder_state: dict | None = None):
    """Yield ``(k, network)`` for every seed ``k``: a fresh ``model`` trained on (images, labels).

    Network ``k`` draws its weights from ``make_generator(base_seed, "eval-init", k)`` and its batch order
    and augmentation from ``make_generator(base_seed, "eval-train", k)``, so every caller that trains
    "network k" gets the same network. With ``encoder_state`` (:func:`ltdd.ssl.encoder_state`), the feature
    layers start from it and only the classifier is fresh: the network is fine-tuned, every layer trained.

    Machinery behind chapter 01.
    """
    expected = dataset.image_shape
    if tuple(images.shape[1:]) != expected:
        raise ValueError(f"images have shape {tuple(images.shape[1:])} per image, but dataset "
                         f"{dataset.name!r} has {expected}")
    device = dataset.device
    images, labels = images.to(device), labels.to(device)
    for k in tqdm(seed_list(seeds), desc=f"train {model}", disable=not progress):
        net = get_model(model, dataset.channels, dataset.num_classes, dataset.image_size,
                        generator=make_generator(base_seed, "eval-init", k), **(model_options or {}))
        if encoder_state is not None:
            from .ssl import load_encoder

            load_encoder(net, encoder_state)
        net = net.to(device)
        train_classifier(net, images, labels, config, make_generator(base_seed, "eval-train", k, device=device),
                         hflip_safe=dataset.hflip_safe, progress=progress, description=f"network {k}")
        yield k, net


def evaluate_synthetic(synthetic, dataset: ImageDataset, model: str = "convnet", seeds: int | list[int] = 3,
                       config: TrainConfig = TrainConfig(), base_seed: int = 0, progress: bool = True,
                       model_options: dict | None = None) -> EvaluationReport:
    """The DD evaluation protocol for a :class:`~ltdd.distill.base.SyntheticSet` (hard or soft labels).

    A partitioned set (``factor`` > 1: IDM, DSDM) trains on its expanded parts, as those methods evaluate.

    Introduced in chapter 01.
    """
    synthetic.check_compatible(dataset)
    images, labels = synthetic.training_pairs()
    report = evaluate_training_set(images, labels.detach(), dataset, model, seeds, config, base_seed, progress,
                                   model_options)
    report.extra["method"] = synthetic.config.get("method")
    return report


def _mean_or_none(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


