"""CRLT-DD (Hu & Guo, 2023): rebalance a long-tailed training set by condensing its large classes.

A long-tailed set has ``n_0 ≥ n_1 ≥ … ≥ n_{C−1}`` images per class. CRLT-DD makes it balanced (or less
unbalanced) by *distilling* classes down to a common size instead of throwing images away:

* **distill all** (CRLT-DD Eq. 2): every class is condensed to the smallest class's size
  ``n_min = min_c n_c``: ``C · n_min`` synthetic images;
* **distill head** (Eq. 3–4): the larger half of the classes (the head, ``⌊C/2⌋`` classes by count) is
  condensed to the median class size ``n_med = ⌊median_c n_c⌋`` (or an explicit IPC, the paper's 500 for
  CIFAR-10-LT β = 100); the tail half is kept as real images; the two parts are concatenated;
* **sample all** / **sample head**: the same budgets filled with randomly chosen real images (the paper's
  "sample" baselines: what distillation must beat);
* **distill all + aug**: the distilled set grown towards ``n_med`` per class with fixed DSA-augmented copies
  (``⌊n_med / n_min⌋`` copies of every image, the first being the image itself);
* **vanilla**: the long-tailed set as it is (the baseline).

Every plan has a size report computed from the class counts alone (:func:`plan_budget`, CRLT-DD Table IV)
and a builder (:func:`rebalance`) that returns the training set itself. Any method of :mod:`ltdd.distill`
can condense (DM by default, as in the paper). :func:`run_plan` evaluates a plan, optionally starting every
classifier from a SimCLR encoder (:mod:`ltdd.ssl`), and :func:`rebalance_study` runs the rows of CRLT-DD
Table III over several seeds with atomic saves and resume.

CRLT-DD's code drew its head and tail subsets with an unseeded ``np.random.choice``; here every draw comes
from a generator derived from the run's seed.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import torch
from torch import Tensor

from ..augment import DSA, strategy_for
from ..config import Profile, get_profile, make_generator
from ..data import ImageDataset, LabeledImages
from ..data.longtail import group_accuracy, shot_groups
from ..files import atomic_save
from ..train import EvaluationReport, TrainConfig, evaluate_training_set
from . import RebalanceStudy, Study, eval_config, run_study, study_table  # noqa: F401 (old homes)
from .runner import file_beside
from .study import GROUP_NAMES, PairedComparison, key_name  # noqa: F401 (their home before ltdd.studies)

PLANS = ("vanilla", "sample-all", "distill-all", "distill-all-aug", "sample-head", "distill-head")
DISTILLING_PLANS = ("distill-all", "distill-all-aug", "distill-head")

TABLE_III_ROWS: dict[str, dict] = {
    "vanilla": {"plan": "vanilla"},
    "sample all": {"plan": "sample-all"},
    "distill all": {"plan": "distill-all"},
    "distill all + aug": {"plan": "distill-all-aug"},
    "sample head": {"plan": "sample-head"},
    "distill head": {"plan": "distill-head"},
    "sample all + SimCLR": {"plan": "sample-all", "simclr": True},
    "distill all + SimCLR": {"plan": "distill-all", "simclr": True},
}
"""The rows of CRLT-DD's Table III: label → plan (and whether classifiers start from a SimCLR encoder)."""


# ------------------------------------------------------------------------------------------- budgets
PAPER_HEAD_IPC: dict[str, int] = {"cifar10-lt": 500, "cifar100-lt": 50}
"""Distill head's IPC in CRLT-DD, the same at every β: 500 for CIFAR-10-LT (Sec. IV-C) and 50 for
CIFAR-100-LT (the sizes of its Table IV, decoded: :func:`ltdd.reference.decode_crlt_dd_table_iv`)."""


@dataclass(frozen=True)
class CRLTSettings:
    """The scale of a CRLT-DD study: distillation, evaluation, SimCLR and distill head's IPC.
    Machinery behind chapter 09."""

    iterations: int
    """DM iterations."""
    batch_real: int
    """Real images per class per DM iteration."""
    eval_epochs: int
    eval_batch: int
    simclr_epochs: int
    ipc_head: int | None
    """Distill head's (and sample head's) IPC; ``None``: the median class size."""
    dm_settings: tuple[tuple[str, object], ...] = ()
    """Further DM settings (``(name, value)`` pairs)."""


PAPER_CRLT = {"iterations": 4000, "lr_img": 1.0, "batch_real": 128, "step_per_class": True, "eval_epochs": 500,
              "eval_batch": 128, "simclr_epochs": 100}
"""CRLT-DD's setting: DM for 4000 iterations, image learning rate 1.0, real batch 128 (Sec. IV-C; the code's
``main_DM.py`` defaults, which also step the images after every class); evaluation 500 epochs at batch 128
(Sec. IV-A); SimCLR 100 epochs (the code's ``SimCLR/run.py``)."""

VANILLA_PROTOCOLS = ("crlt", "baseline.py")


def vanilla_config(protocol: str, settings: CRLTSettings) -> TrainConfig:
    """How the vanilla row trains: ``"crlt"``, the evaluation of every other row (the paper's Sec. IV-A);
    ``"baseline.py"``, the code's baseline script (300 epochs at lr 0.01, batch 256, no augmentation).
    Machinery behind chapter 09."""
    if protocol not in VANILLA_PROTOCOLS:
        raise ValueError(f"vanilla_protocol={protocol!r} is not allowed; choose one of {VANILLA_PROTOCOLS}")
    if protocol == "baseline.py":
        return eval_config("crlt_dd_baseline")
    return crlt_evaluation(settings)


def crlt_evaluation(settings: CRLTSettings) -> TrainConfig:
    """CRLT-DD's evaluation (``EVAL_PROTOCOLS["crlt_dd"]``, :data:`ltdd.studies.protocols.EVAL_PROTOCOLS`) at the
    epochs and batch of ``settings``; chapter 09 evaluates every plan with it."""
    return dataclasses.replace(eval_config("crlt_dd", epochs=settings.eval_epochs), batch_size=settings.eval_batch)


def crlt_settings(profile: Profile, dataset: str | None = None) -> CRLTSettings:
    """CRLT-DD's setting (:data:`PAPER_CRLT`, and the paper's head IPC for ``dataset``) under the ``paper``
    profile; elsewhere the profile's scale with the evaluation batch 128 and the head at the median.
    Introduced in chapter 09."""
    if profile.name == "paper":
        p = PAPER_CRLT
        return CRLTSettings(p["iterations"], p["batch_real"], p["eval_epochs"], p["eval_batch"], p["simclr_epochs"],
                            PAPER_HEAD_IPC.get(str(dataset).lower()),
                            (("lr_img", p["lr_img"]), ("step_per_class", p["step_per_class"])))
    return CRLTSettings(profile.iterations, profile.batch_real, profile.eval_epochs, 128, profile.full_epochs, None)


def check_plan(plan: str) -> str:
    """The canonical name of a plan (case, spaces and underscores forgiven); an unknown plan is a
    ``ValueError``. Machinery behind chapter 09."""
    key = str(plan).strip().lower().replace("_", "-").replace(" ", "-")
    if key not in PLANS:
        raise ValueError(f"plan={plan!r} is unknown; choose one of {list(PLANS)}")
    return key


def median_class_size(counts: Sequence[int]) -> int:
    """``n_med = ⌊median_c n_c⌋`` (for an even number of classes, the mean of the two middle counts, floored).
    Introduced in chapter 09."""
    return int(math.floor(statistics.median(counts)))


def head_classes(counts: Sequence[int]) -> list[int]:
    """The larger half of the classes: the ``⌊C/2⌋`` classes with most images (ties: lower index first),
    in index order. For an odd C, the median class belongs to the tail. Introduced in chapter 09."""
    ranked = sorted(range(len(counts)), key=lambda c: (-counts[c], c))
    return sorted(ranked[: len(counts) // 2])


@dataclass(frozen=True)
class PlanBudget:
    """How many images of each kind a plan puts in every class (CRLT-DD Table IV, from counts alone).
    Introduced in chapter 09."""

    plan: str
    counts: tuple[int, ...]
    """The long-tailed set's images per class."""
    real: tuple[int, ...]
    """Real images kept per class."""
    synthetic: tuple[int, ...]
    """Distilled images per class (the stored images; a partitioned method expands them when training)."""
    augmented: tuple[int, ...]
    """Augmented copies of distilled images per class (distill all + aug)."""
    ipc: int | None = None
    """The condensed size of the classes a plan reduces (``n_min`` or ``n_med`` or the explicit IPC)."""

    @property
    def per_class(self) -> list[int]:
        """Images per class of the plan's training set (real + synthetic + augmented)."""
        return [r + s + a for r, s, a in zip(self.real, self.synthetic, self.augmented)]

    @property
    def total(self) -> int:
        """Images in the plan's training set."""
        return sum(self.per_class)

    @property
    def original(self) -> int:
        """Images in the long-tailed set."""
        return sum(self.counts)

    @property
    def percent(self) -> float:
        """The plan's training set as a percentage of the long-tailed set."""
        return 100.0 * self.total / self.original

    @property
    def imbalance(self) -> float:
        """Largest over smallest class of the plan's training set."""
        return max(self.per_class) / min(self.per_class)

    def as_row(self) -> dict:
        """The budget as a row of CRLT-DD's Table IV (see :func:`~ltdd.studies.rebalance.budget_table`)."""
        return {"plan": self.plan, "ipc": self.ipc, "images": self.total, "percent": round(self.percent, 2),
                "real": sum(self.real), "synthetic": sum(self.synthetic), "augmented": sum(self.augmented),
                "imbalance": round(self.imbalance, 3), "per_class": self.per_class}


def plan_budget(plan: str, counts: Sequence[int], ipc: int | None = None,
                aug_target: int | None = None) -> PlanBudget:
    """The images per class of ``plan`` on a long-tailed set with ``counts`` images per class.

    ``ipc`` overrides the condensed size (all plans: ``n_min``; head plans: ``n_med``); it must not exceed
    the smallest class that is condensed. ``aug_target`` is the per-class size that distill all + aug grows
    towards (default ``n_med``).
    Introduced in chapter 02.
    """
    plan = check_plan(plan)
    counts = tuple(int(n) for n in counts)
    if len(counts) < 2 or min(counts) < 1:
        raise ValueError(f"counts must give at least 2 classes with >= 1 image each, got {list(counts)}")
    zeros = (0,) * len(counts)
    if plan == "vanilla":
        if ipc is not None:
            raise ValueError("ipc does not apply to plan 'vanilla' (it keeps every image)")
        return PlanBudget(plan, counts, counts, zeros, zeros)
    if plan in ("sample-all", "distill-all", "distill-all-aug"):
        size = _condensed_size(ipc, min(counts), range(len(counts)), counts, "the smallest class size")
        real = (size,) * len(counts) if plan == "sample-all" else zeros
        synthetic = zeros if plan == "sample-all" else (size,) * len(counts)
        augmented = zeros
        if plan == "distill-all-aug":
            copies = augmentation_copies(size, median_class_size(counts) if aug_target is None else aug_target)
            augmented = ((copies - 1) * size,) * len(counts)
        return PlanBudget(plan, counts, real, synthetic, augmented, size)
    head = head_classes(counts)
    size = _condensed_size(ipc, median_class_size(counts), head, counts, "the median class size")
    condensed = tuple(size if c in head else 0 for c in range(len(counts)))
    tail = tuple(0 if c in head else n for c, n in enumerate(counts))
    if plan == "sample-head":
        return PlanBudget(plan, counts, tuple(a + b for a, b in zip(condensed, tail)), zeros, zeros, size)
    return PlanBudget(plan, counts, tail, condensed, zeros, size)


def _condensed_size(ipc: int | None, default: int, classes: Sequence[int], counts: Sequence[int],
                    default_name: str) -> int:
    size = default if ipc is None else ipc
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"ipc must be a positive int (default: {default_name}), got {ipc!r}")
    smallest = min(classes, key=lambda c: (counts[c], c))
    if size > counts[smallest]:
        raise ValueError(f"ipc={size} needs more images than class {smallest} has ({counts[smallest]}); "
                         f"the plan condenses classes {list(classes)[:5]}{'…' if len(classes) > 5 else ''}, "
                         f"so choose ipc <= {counts[smallest]}")
    return size


def augmentation_copies(ipc: int, target: int) -> int:
    """Copies of every distilled image (itself included) that grow ``ipc`` images towards ``target``.
    Introduced in chapter 09."""
    if not isinstance(target, int) or isinstance(target, bool) or target < ipc:
        raise ValueError(f"aug_target must be an int >= the distilled size per class ({ipc}), got {target!r}")
    return target // ipc


def budget_table(counts: Sequence[int], plans: Sequence[str] = PLANS[1:], ipc_head: int | None = None) -> list[dict]:
    """CRLT-DD Table IV: every plan's images and percentage of the long-tailed set (``ipc_head`` sets the
    head plans' IPC, e.g. the paper's 500). Introduced in chapter 09."""
    rows = []
    for plan in plans:
        plan = check_plan(plan)
        ipc = ipc_head if plan in ("sample-head", "distill-head") else None
        rows.append(plan_budget(plan, counts, ipc).as_row())
    return rows


# ------------------------------------------------------------------------------------------ building
@dataclass
class RebalancedSet:
    """A plan's training set: images (normalised), hard labels, which rows are distilled, the budget.
    Introduced in chapter 09."""

    images: Tensor
    labels: Tensor
    synthetic_rows: Tensor
    """True for distilled images and their augmented copies, False for real images."""
    budget: PlanBudget
    details: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self, num_classes: int) -> list[int]:
        """Number of images of each class."""
        return torch.bincount(self.labels.cpu(), minlength=num_classes).tolist()

    def size_report(self) -> dict:
        """The budget's row (:meth:`~ltdd.studies.rebalance.PlanBudget.as_row`) and the number of images stored."""
        return {**self.budget.as_row(), "stored_images": len(self)}

    def save(self, path: str | Path) -> Path:
        """Write the set, its budget and details atomically to ``path``."""
        return atomic_save({"images": self.images.cpu(), "labels": self.labels.cpu(),
                            "synthetic_rows": self.synthetic_rows.cpu(), "budget": dataclasses.asdict(self.budget),
                            "details": self.details}, path)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> "RebalancedSet":
        """Read a set written by :meth:`save` onto ``device``."""
        state = torch.load(path, map_location=device, weights_only=True)
        budget = {k: (tuple(v) if isinstance(v, list) else v) for k, v in state["budget"].items()}
        return cls(state["images"], state["labels"], state["synthetic_rows"], PlanBudget(**budget), state["details"])


def restrict_classes(dataset: ImageDataset, classes: Sequence[int]) -> ImageDataset:
    """The dataset reduced to ``classes`` (train and test), relabelled ``0..len(classes)−1`` in that order.
    Introduced in chapter 09."""
    classes = [int(c) for c in classes]
    if not classes or len(set(classes)) != len(classes) or min(classes) < 0 or max(classes) >= dataset.num_classes:
        raise ValueError(f"classes must be distinct labels in [0, {dataset.num_classes}), got {classes}")
    new_label = torch.full((dataset.num_classes,), -1, dtype=torch.long)
    new_label[classes] = torch.arange(len(classes))

    def keep(split: LabeledImages) -> LabeledImages:
        mapped = new_label.to(split.labels.device)[split.labels]
        rows = torch.nonzero(mapped >= 0, as_tuple=True)[0]
        part = split.subset(rows)
        return LabeledImages(part.images, mapped[rows], part.attributes)

    return dataclasses.replace(dataset, name=f"{dataset.name}[{len(classes)} classes]", train=keep(dataset.train),
                               test=keep(dataset.test), class_names=[dataset.class_names[c] for c in classes],
                               info={**dataset.info, "classes": classes})


def sample_per_class(dataset: ImageDataset, per_class: Sequence[int], generator: torch.Generator) -> Tensor:
    """Indices into ``dataset.train``: ``per_class[c]`` distinct random images of class ``c`` (all of a class,
    in their original order, when it asks for every image). Introduced in chapter 09."""
    chosen = []
    for c, n in enumerate(per_class):
        index = dataset.train.class_indices(c)
        if n > len(index):
            raise ValueError(f"class {c} has {len(index)} images, {n} were asked for")
        if n == len(index):
            chosen.append(index)
        elif n:
            order = torch.randperm(len(index), generator=generator, device=generator.device).to(index.device)
            chosen.append(index[order[:n]])
    return torch.cat(chosen) if chosen else torch.empty(0, dtype=torch.long, device=dataset.device)


def distill_classes(dataset: ImageDataset, classes: Sequence[int], ipc: int, method: str = "dm",
                    iterations: int | None = None, profile: Profile | None = None, seed: int = 0,
                    progress: bool = True, **settings) -> tuple[Tensor, Tensor, dict]:
    """Condense ``classes`` of the training set to ``ipc`` images each with ``method``; returns images,
    labels (the original class labels) and the distiller's record. Under the ``paper`` profile DM runs
    CRLT-DD's setting unless told otherwise (:func:`crlt_settings`: 4000 iterations, lr 1.0, 128 real images
    per class, a step per class). Introduced in chapter 09."""
    from ..distill import make_distiller

    profile = profile or get_profile()
    crlt = crlt_settings(profile)
    iterations = crlt.iterations if iterations is None else iterations
    if method == "dm" and crlt.dm_settings:
        settings = {**dict(crlt.dm_settings), "batch_real": crlt.batch_real, **settings}
    part = dataset if list(classes) == list(range(dataset.num_classes)) else restrict_classes(dataset, classes)
    distiller = make_distiller(method, part, seed=seed, profile=profile, ipc=ipc, **settings)
    if getattr(distiller, "factor", 1) > 1:
        option = "partition=False" if method == "idm" else "factor=1"
        raise ValueError(f"method {method!r} stores {distiller.factor}×{distiller.factor} partitioned images, so its "
                         f"{ipc} images per class would train as {ipc * distiller.factor ** 2} and break the plan's "
                         f"budget; rebalance with {option}")
    synthetic = distiller.run(iterations, progress=progress)
    images, labels = synthetic.training_pairs()
    if labels.ndim != 1:
        raise ValueError(f"method {method!r} gives soft labels; a rebalanced set mixes them with real images "
                         "and needs hard ones")
    original = torch.tensor(list(classes), device=labels.device)[labels]
    return images.detach(), original, distiller.describe()


def augmented_copies(images: Tensor, copies: int, hflip_safe: bool, generator: torch.Generator) -> Tensor:
    """``copies − 1`` DSA-augmented versions of every image (one random operation each, drawn once: a fixed
    set, as CRLT-DD's ``add_aug``). Introduced in chapter 09."""
    if copies <= 1:
        return images[:0]
    dsa = DSA(strategy_for(hflip_safe))
    repeated = images.repeat(copies - 1, 1, 1, 1)
    params = dsa.sample(len(repeated), generator, repeated.device, image_size=images.shape[-1])
    return dsa.apply(repeated, params)


def rebalance(dataset: ImageDataset, plan: str, method: str = "dm", ipc: int | None = None,
              aug_target: int | None = None, iterations: int | None = None, profile: Profile | None = None,
              seed: int = 0, progress: bool = True, cache: dict | None = None, **method_settings) -> RebalancedSet:
    """Build ``plan``'s training set from the long-tailed ``dataset.train`` (see the module docstring).

    ``method`` and ``method_settings`` choose the condensing method of the distilling plans; ``iterations``
    defaults to the profile's. Real images are copied unchanged (the tail of distill head is byte-identical
    to the long-tailed set's). A ``cache`` dict keeps distilled sets between calls, so distill all and
    distill all + aug with one seed condense once (the result is the same either way: same seed, same set).
    Introduced in chapter 09.
    """
    plan = check_plan(plan)
    counts = dataset.train.class_counts(dataset.num_classes)
    budget = plan_budget(plan, counts, ipc, aug_target)
    generator = make_generator(seed, "rebalance", plan, device=dataset.device)
    real_index = sample_per_class(dataset, budget.real, generator)
    parts_images, parts_labels = [dataset.train.images[real_index]], [dataset.train.labels[real_index]]
    details: dict = {"plan": plan, "seed": seed, "dataset": dataset.name}
    if plan in DISTILLING_PLANS:
        classes = [c for c, n in enumerate(budget.synthetic) if n]
        key = (tuple(classes), budget.ipc, method, iterations, seed, tuple(sorted(method_settings.items())))
        if cache is None or key not in cache:
            distilled = distill_classes(dataset, classes, budget.ipc, method, iterations, profile, seed, progress,
                                        **method_settings)
            if cache is None:
                cache = {}
            cache[key] = distilled
        images, labels, record = cache[key]
        details.update(method=method, distiller=record)
        parts_images.append(images)
        parts_labels.append(labels)
        if plan == "distill-all-aug":
            copies = 1 + budget.augmented[0] // budget.ipc
            parts_images.append(augmented_copies(images, copies, dataset.hflip_safe, generator))
            parts_labels.append(labels.repeat(copies - 1))
    images, labels = torch.cat(parts_images), torch.cat(parts_labels)
    synthetic_rows = torch.arange(len(labels), device=labels.device) >= len(real_index)
    return RebalancedSet(images, labels, synthetic_rows, budget, details)


# ----------------------------------------------------------------------------------------- evaluating
def head_tail_groups(counts: Sequence[int]) -> list[str]:
    """``"head"`` for the larger half of the classes (:func:`head_classes`), ``"tail"`` for the rest.
    Machinery behind chapter 09."""
    head = set(head_classes(counts))
    return ["head" if c in head else "tail" for c in range(len(counts))]


def long_tail_groups(per_class: Sequence[float], counts: Sequence[int]) -> dict:
    """Accuracy per OLTR shot group and per head/tail half of the long-tailed ``counts``.
    Machinery behind chapter 09."""
    return {"shots": group_accuracy(per_class, shot_groups(counts)),
            "halves": group_accuracy(per_class, head_tail_groups(counts))}


@dataclass
class PlanResult:
    """One plan evaluated once: the size report and the accuracy of the networks trained on its set.
    Machinery behind chapter 09."""

    label: str
    plan: str
    seed: int
    size: dict
    report: EvaluationReport
    groups: dict
    seconds: dict

    def as_row(self) -> dict:
        """The row a study stores: label, plan, seed, mean accuracy and its std over networks, per-class and group
        accuracies, size report, seconds."""
        return {"label": self.label, "plan": self.plan, "seed": self.seed, "accuracy": self.report.mean,
                "network_std": self.report.std, "per_class": self.report.per_class, "groups": self.groups,
                "size": self.size, "seconds": self.seconds}


def evaluation_config(profile: Profile) -> TrainConfig:
    """CRLT-DD's evaluation (SGD 0.01, momentum 0.9, weight decay 5e-4, step decay at half, DSA on every
    batch, batch 128) for the profile's number of epochs (the paper's 500 under ``paper``):
    :func:`crlt_evaluation`. Introduced in chapter 09."""
    return crlt_evaluation(crlt_settings(profile))


def evaluate_rebalanced(rebalanced: RebalancedSet, dataset: ImageDataset, profile: Profile, base_seed: int = 0,
                        encoder_state: dict | None = None, config: TrainConfig | None = None,
                        networks: int | None = None, progress: bool = False) -> tuple[EvaluationReport, dict]:
    """Train ``networks`` (default: the profile's ``eval_seeds``) networks on a rebalanced set and test them on
    the balanced test set; returns the report and its group accuracies (OLTR shot groups, and the head/tail
    halves of the long-tailed counts). Introduced in chapter 09."""
    report = evaluate_training_set(rebalanced.images, rebalanced.labels, dataset, profile.model,
                                   networks or profile.eval_seeds, config or evaluation_config(profile), base_seed,
                                   progress,
                                   profile.model_options(), encoder_state)
    return report, long_tail_groups(report.per_class, dataset.train.class_counts(dataset.num_classes))


def pretrain_encoder(dataset: ImageDataset, profile: Profile, seed: int = 0, epochs: int | None = None,
                     checkpoint: str | Path | None = None, progress: bool = False, **config):
    """SimCLR on the long-tailed training images (labels unused) with the profile's model and width; the
    epochs default to the profile's ``full_epochs`` (the paper's 100 under ``paper``). Introduced in chapter 09."""
    from ..ssl import SimCLRConfig, pretrain_simclr

    settings = SimCLRConfig(epochs=epochs or crlt_settings(profile).simclr_epochs, **config)
    return pretrain_simclr(dataset.train.images, dataset, settings, profile.model, profile.model_options(), seed,
                           checkpoint=checkpoint, progress=progress)


def run_plan(dataset: ImageDataset, plan: str, profile: Profile | None = None, seed: int = 0, method: str = "dm",
             ipc: int | None = None, aug_target: int | None = None, iterations: int | None = None,
             encoder_state: dict | None = None, label: str | None = None, progress: bool = False,
             **method_settings) -> tuple[PlanResult, RebalancedSet]:
    """Build ``plan``'s set with seed ``seed`` and evaluate it (networks seeded from the same ``seed``).
    Introduced in chapter 09."""
    profile = profile or get_profile()
    started = time.perf_counter()
    rebalanced = rebalance(dataset, plan, method, ipc, aug_target, iterations, profile, seed, progress,
                           **method_settings)
    built = time.perf_counter()
    report, groups = evaluate_rebalanced(rebalanced, dataset, profile, seed, encoder_state, progress=progress)
    seconds = {"build": round(built - started, 2), "evaluate": round(time.perf_counter() - built, 2)}
    result = PlanResult(label or check_plan(plan), check_plan(plan), seed, rebalanced.size_report(), report, groups,
                        seconds)
    return result, rebalanced


# --------------------------------------------------------------------------------------------- study
STUDY_KEYS = ("dataset", "profile", "imbalance", "method", "iterations", "eval_epochs", "eval_seeds", "model",
              "net_width", "batch_real", "simclr_epochs", "rows", "ipc_head", "networks", "vanilla_protocol")
"""Settings a resumed study must share with the file it continues (seeds may grow)."""


def simclr_checkpoint(out: str | Path | None, seed: int, resume: bool) -> Path | None:
    """Where a saved study keeps its SimCLR pre-training while it runs: ``<study>_simclr_seed<seed>.pt`` beside
    ``out`` (:func:`ltdd.studies.runner.file_beside`), so a stopped run resumes it epoch by epoch. Machinery behind
    chapter 09 (and chapter 12's comparison)."""
    return file_beside(out, f"simclr_seed{seed}", resume)


def rebalance_study(dataset: ImageDataset, rows: Mapping[str, Mapping] = TABLE_III_ROWS,
                    profile: Profile | None = None, seeds: Sequence[int] = (0,), method: str = "dm",
                    iterations: int | None = None, ipc_head: int | None = None, simclr_epochs: int | None = None,
                    networks: int | None = None, out: str | Path | None = None, resume: bool = False,
                    record: Mapping | None = None, progress: bool = True,
                    vanilla_protocol: str = "crlt") -> Study:
    """Run every row (label → ``{"plan": ..., "simclr": bool}``) at every seed and evaluate it: chapter 09's
    CRLT-DD Table III, a row builder over :func:`ltdd.studies.runner.run_study`.

    For each seed, a distilled set is built once and shared by the rows that use it (distill all, + aug and
    + SimCLR see the same distilled images), and one SimCLR encoder is pre-trained for the rows that ask for
    one. ``networks`` evaluation networks are trained per set (default: the profile's ``eval_seeds``); a row's
    mean ± std is taken over the seeds. With ``out`` the study is saved after every row (atomically), SimCLR's
    pre-training after every epoch (:func:`simclr_checkpoint`), and ``resume=True`` runs only the rows the file
    lacks, refusing a file written with other settings. ``record`` adds provenance to the settings.

    Under the ``paper`` profile the defaults are CRLT-DD's (:func:`crlt_settings`: DM for 4000 iterations at
    lr 1.0 with 128 real images per class, 500 evaluation epochs at batch 128, SimCLR for 100 epochs, the
    paper's head IPC). ``vanilla_protocol="baseline.py"`` trains the vanilla row as the code's baseline
    script does (:func:`vanilla_config`).
    """
    profile = profile or get_profile()
    crlt = crlt_settings(profile, dataset.name)
    vanilla = vanilla_config(vanilla_protocol, crlt)
    iterations = crlt.iterations if iterations is None else iterations
    ipc_head = crlt.ipc_head if ipc_head is None else ipc_head
    simclr_epochs = simclr_epochs or crlt.simclr_epochs
    dm_settings = {**dict(crlt.dm_settings), "batch_real": crlt.batch_real} if crlt.dm_settings and method == "dm" \
        else {}  # CRLT-DD's own DM setting, under the paper profile
    rows = {label: {"plan": check_plan(spec["plan"]), "simclr": bool(spec.get("simclr", False))}
            for label, spec in rows.items()}
    study = Study([], {"dataset": dataset.name, "profile": profile.name,
                       "imbalance": dataset.info.get("imbalance"), "method": method,
                       "iterations": iterations, "eval_epochs": profile.eval_epochs,
                       "eval_seeds": profile.eval_seeds, "model": profile.model,
                       "net_width": profile.net_width, "batch_real": crlt.batch_real,
                       "simclr_epochs": simclr_epochs, "rows": rows,
                       "ipc_head": ipc_head, "networks": networks or profile.eval_seeds,
                       "seeds": list(seeds), "vanilla_protocol": vanilla_protocol})
    if dm_settings:
        study.settings["method_settings"] = dm_settings

    def build_row(label: str, seed: int, shared: dict) -> dict:
        """One row at one seed; ``shared`` keeps the seed's built sets, distilled sets and SimCLR encoder."""
        spec, seconds = rows[label], {}
        if spec["simclr"] and "encoder" not in shared:
            started = time.perf_counter()
            pretrained = pretrain_encoder(dataset, profile, seed, study.settings["simclr_epochs"],
                                          simclr_checkpoint(out, seed, resume), progress)
            shared["encoder"], study.simclr[seed] = pretrained.encoder, pretrained.losses
            shared["simclr_seconds"] = round(time.perf_counter() - started, 2)
        plan = spec["plan"]
        ipc = ipc_head if plan in ("sample-head", "distill-head") else None
        started = time.perf_counter()
        if plan not in shared["built"]:
            shared["built"][plan] = rebalance(dataset, plan, method, ipc, None, iterations, profile, seed,
                                              progress=False, cache=shared["distilled"], **dm_settings)
        seconds["build"] = round(time.perf_counter() - started, 2)
        report, groups = evaluate_rebalanced(shared["built"][plan], dataset, profile, seed,
                                             shared["encoder"] if spec["simclr"] else None,
                                             config=vanilla if plan == "vanilla" else None, networks=networks)
        seconds["evaluate"] = round(time.perf_counter() - started - seconds["build"], 2)
        if spec["simclr"]:
            seconds["simclr"] = shared["simclr_seconds"]
        return PlanResult(label, plan, seed, shared["built"][plan].size_report(), report, groups, seconds).as_row()

    return run_study(rows, seeds, build_row, out, resume, study=study, keys=STUDY_KEYS, record=record,
                     progress=progress, desc="rebalance study", start_seed=lambda seed: {"built": {}, "distilled": {}})


__all__ = ["CRLTSettings", "DISTILLING_PLANS", "PAPER_CRLT", "PAPER_HEAD_IPC", "PLANS", "VANILLA_PROTOCOLS",
           "PairedComparison", "PlanBudget", "PlanResult", "RebalanceStudy", "RebalancedSet",
           "TABLE_III_ROWS", "augmentation_copies", "crlt_evaluation", "augmented_copies", "budget_table", "check_plan",
           "distill_classes", "evaluate_rebalanced", "evaluation_config", "head_classes", "head_tail_groups",
           "key_name", "median_class_size", "plan_budget", "pretrain_encoder", "rebalance", "rebalance_study",
           "restrict_classes", "run_plan", "sample_per_class", "simclr_checkpoint", "study_table", "crlt_settings",
           "vanilla_config"]
