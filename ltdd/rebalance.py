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
import json
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .augment import DSA, strategy_for
from .config import Profile, get_profile, make_generator
from .data import ImageDataset, LabeledImages
from .data.longtail import group_accuracy, shot_groups
from .files import atomic_save, atomic_write_text, locked, read_json, settings_mismatch
from .train import EvaluationReport, TrainConfig, evaluate_training_set
from .viz import markdown_table

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
    """The scale of a CRLT-DD study: distillation, evaluation, SimCLR and distill head's IPC."""

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
    ``"baseline.py"``, the code's baseline script (300 epochs at lr 0.01, batch 256, no augmentation)."""
    if protocol not in VANILLA_PROTOCOLS:
        raise ValueError(f"vanilla_protocol={protocol!r} is not allowed; choose one of {VANILLA_PROTOCOLS}")
    if protocol == "baseline.py":
        return TrainConfig(epochs=300, lr=0.01, batch_size=256, dsa=False, schedule="constant")
    return TrainConfig(epochs=settings.eval_epochs, batch_size=settings.eval_batch)


def crlt_settings(profile: Profile, dataset: str | None = None) -> CRLTSettings:
    """CRLT-DD's setting (:data:`PAPER_CRLT`, and the paper's head IPC for ``dataset``) under the ``paper``
    profile; elsewhere the profile's scale with the evaluation batch 128 and the head at the median."""
    if profile.name == "paper":
        p = PAPER_CRLT
        return CRLTSettings(p["iterations"], p["batch_real"], p["eval_epochs"], p["eval_batch"], p["simclr_epochs"],
                            PAPER_HEAD_IPC.get(str(dataset).lower()),
                            (("lr_img", p["lr_img"]), ("step_per_class", p["step_per_class"])))
    return CRLTSettings(profile.iterations, profile.batch_real, profile.eval_epochs, 128, profile.full_epochs, None)


def check_plan(plan: str) -> str:
    """The canonical name of a plan (case, spaces and underscores forgiven); an unknown plan is a
    ``ValueError``."""
    key = str(plan).strip().lower().replace("_", "-").replace(" ", "-")
    if key not in PLANS:
        raise ValueError(f"plan={plan!r} is unknown; choose one of {list(PLANS)}")
    return key


def median_class_size(counts: Sequence[int]) -> int:
    """``n_med = ⌊median_c n_c⌋`` (for an even number of classes, the mean of the two middle counts, floored)."""
    return int(math.floor(statistics.median(counts)))


def head_classes(counts: Sequence[int]) -> list[int]:
    """The larger half of the classes: the ``⌊C/2⌋`` classes with most images (ties: lower index first),
    in index order. For an odd C, the median class belongs to the tail."""
    ranked = sorted(range(len(counts)), key=lambda c: (-counts[c], c))
    return sorted(ranked[: len(counts) // 2])


@dataclass(frozen=True)
class PlanBudget:
    """How many images of each kind a plan puts in every class (CRLT-DD Table IV, from counts alone)."""

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
        """The budget as a row of CRLT-DD's Table IV (see :func:`~ltdd.rebalance.budget_table`)."""
        return {"plan": self.plan, "ipc": self.ipc, "images": self.total, "percent": round(self.percent, 2),
                "real": sum(self.real), "synthetic": sum(self.synthetic), "augmented": sum(self.augmented),
                "imbalance": round(self.imbalance, 3), "per_class": self.per_class}


def plan_budget(plan: str, counts: Sequence[int], ipc: int | None = None,
                aug_target: int | None = None) -> PlanBudget:
    """The images per class of ``plan`` on a long-tailed set with ``counts`` images per class.

    ``ipc`` overrides the condensed size (all plans: ``n_min``; head plans: ``n_med``); it must not exceed
    the smallest class that is condensed. ``aug_target`` is the per-class size that distill all + aug grows
    towards (default ``n_med``).
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
    """Copies of every distilled image (itself included) that grow ``ipc`` images towards ``target``."""
    if not isinstance(target, int) or isinstance(target, bool) or target < ipc:
        raise ValueError(f"aug_target must be an int >= the distilled size per class ({ipc}), got {target!r}")
    return target // ipc


def budget_table(counts: Sequence[int], plans: Sequence[str] = PLANS[1:], ipc_head: int | None = None) -> list[dict]:
    """CRLT-DD Table IV: every plan's images and percentage of the long-tailed set (``ipc_head`` sets the
    head plans' IPC, e.g. the paper's 500)."""
    rows = []
    for plan in plans:
        plan = check_plan(plan)
        ipc = ipc_head if plan in ("sample-head", "distill-head") else None
        rows.append(plan_budget(plan, counts, ipc).as_row())
    return rows


# ------------------------------------------------------------------------------------------ building
@dataclass
class RebalancedSet:
    """A plan's training set: images (normalised), hard labels, which rows are distilled, the budget."""

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
        """The budget's row (:meth:`~ltdd.rebalance.PlanBudget.as_row`) and the number of images stored."""
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
    """The dataset reduced to ``classes`` (train and test), relabelled ``0..len(classes)−1`` in that order."""
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
    in their original order, when it asks for every image)."""
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
    per class, a step per class)."""
    from .distill import make_distiller

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
    set, as CRLT-DD's ``add_aug``)."""
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
    """``"head"`` for the larger half of the classes (:func:`head_classes`), ``"tail"`` for the rest."""
    head = set(head_classes(counts))
    return ["head" if c in head else "tail" for c in range(len(counts))]


def long_tail_groups(per_class: Sequence[float], counts: Sequence[int]) -> dict:
    """Accuracy per OLTR shot group and per head/tail half of the long-tailed ``counts``."""
    return {"shots": group_accuracy(per_class, shot_groups(counts)),
            "halves": group_accuracy(per_class, head_tail_groups(counts))}


@dataclass
class PlanResult:
    """One plan evaluated once: the size report and the accuracy of the networks trained on its set."""

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
    batch, batch 128) for the profile's number of epochs (the paper's 500 under ``paper``)."""
    settings = crlt_settings(profile)
    return TrainConfig(epochs=settings.eval_epochs, batch_size=settings.eval_batch)


def evaluate_rebalanced(rebalanced: RebalancedSet, dataset: ImageDataset, profile: Profile, base_seed: int = 0,
                        encoder_state: dict | None = None, config: TrainConfig | None = None,
                        networks: int | None = None, progress: bool = False) -> tuple[EvaluationReport, dict]:
    """Train ``networks`` (default: the profile's ``eval_seeds``) networks on a rebalanced set and test them on
    the balanced test set; returns the report and its group accuracies (OLTR shot groups, and the head/tail
    halves of the long-tailed counts)."""
    report = evaluate_training_set(rebalanced.images, rebalanced.labels, dataset, profile.model,
                                   networks or profile.eval_seeds, config or evaluation_config(profile), base_seed,
                                   progress,
                                   profile.model_options(), encoder_state)
    return report, long_tail_groups(report.per_class, dataset.train.class_counts(dataset.num_classes))


def pretrain_encoder(dataset: ImageDataset, profile: Profile, seed: int = 0, epochs: int | None = None,
                     checkpoint: str | Path | None = None, progress: bool = False, **config):
    """SimCLR on the long-tailed training images (labels unused) with the profile's model and width; the
    epochs default to the profile's ``full_epochs`` (the paper's 100 under ``paper``)."""
    from .ssl import SimCLRConfig, pretrain_simclr

    settings = SimCLRConfig(epochs=epochs or crlt_settings(profile).simclr_epochs, **config)
    return pretrain_simclr(dataset.train.images, dataset, settings, profile.model, profile.model_options(), seed,
                           checkpoint=checkpoint, progress=progress)


def run_plan(dataset: ImageDataset, plan: str, profile: Profile | None = None, seed: int = 0, method: str = "dm",
             ipc: int | None = None, aug_target: int | None = None, iterations: int | None = None,
             encoder_state: dict | None = None, label: str | None = None, progress: bool = False,
             **method_settings) -> tuple[PlanResult, RebalancedSet]:
    """Build ``plan``'s set with seed ``seed`` and evaluate it (networks seeded from the same ``seed``)."""
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


def _value_at(row: dict, key: str):
    for part in key.split("."):
        row = row.get(part) if isinstance(row, dict) else None
    return row


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


GROUP_NAMES = {"shots": "{group}-shot accuracy", "halves": "{group}-half accuracy"}
"""How :func:`key_name` words a ``groups.<grouping>.<group>`` key, per grouping."""


def key_name(key: str) -> str:
    """The words for a result key in a sentence: ``"accuracy"`` → "overall accuracy", ``"groups.shots.few"`` →
    "few-shot accuracy", ``"groups.halves.tail"`` → "tail-half accuracy"; another ``groups.<grouping>.<group>``
    key → "<group> accuracy (<grouping>)"; any other key is returned as it is."""
    if key == "accuracy":
        return "overall accuracy"
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "groups" and all(parts[1:]):
        grouping, group = parts[1:]
        return GROUP_NAMES[grouping].format(group=group) if grouping in GROUP_NAMES else f"{group} accuracy ({grouping})"
    return key


@dataclass
class PairedComparison:
    """Two rows of a study on one key, paired by seed (fractions in [0, 1])."""

    label: str
    baseline: str
    key: str
    seeds: list[int]
    values: list[float]
    baseline_values: list[float]

    @property
    def differences(self) -> list[float]:
        """Row minus baseline, seed by seed."""
        return [a - b for a, b in zip(self.values, self.baseline_values)]

    @property
    def mean_difference(self) -> float:
        """Mean of the differences (``nan`` when no seed has both rows)."""
        return sum(self.differences) / len(self.differences) if self.seeds else math.nan

    @property
    def wins(self) -> int:
        """Seeds on which ``label`` is higher than ``baseline``."""
        return sum(d > 0 for d in self.differences)

    @property
    def clear(self) -> bool:
        """Whether the difference is clear: two or more seeds, all differences of one sign, and a mean
        difference larger than the spread over seeds of either row."""
        if len(self.seeds) < 2 or not (all(d > 0 for d in self.differences) or all(d < 0 for d in self.differences)):
            return False
        spread = max(_mean_std(self.values)[1], _mean_std(self.baseline_values)[1])
        return abs(self.mean_difference) > spread

    def sentence(self, name: str | None = None) -> str:
        """The comparison in words, every number taken from the rows, as Markdown (the row in bold) for a
        chapter's prose: show it with ``IPython.display.Markdown``, or display the comparison itself, which
        renders as this sentence. ``name`` words the key (default: :func:`key_name`)."""
        name = name or key_name(self.key)
        if not self.seeds:
            return f"**{self.label}**, {name}: no seed has both this row and {self.baseline}."
        (m, s), (bm, bs) = _mean_std(self.values), _mean_std(self.baseline_values)
        diff = 100 * self.mean_difference
        outcome = "improved" if diff > 0 else "got worse" if diff < 0 else "did not change"
        if len(self.seeds) == 1:
            caveat = " (a single seed: there is no spread to judge the difference by)"
        elif diff != 0 and not self.clear:
            caveat = ", but not clearly (not on every seed, or by no more than the spread over seeds)"
        else:
            caveat = ""
        return (f"**{self.label}**, {name}: {100 * m:.1f} ± {100 * s:.1f} % against {100 * bm:.1f} ± {100 * bs:.1f} % "
                f"for {self.baseline}, a difference of {diff:+.1f} points on average, positive in {self.wins} of "
                f"{len(self.seeds)} seeds: the {name} {outcome}{caveat}.")

    def _repr_markdown_(self) -> str:
        return self.sentence()


@dataclass
class RebalanceStudy:
    """Results of :func:`rebalance_study`: one row per (table row, seed), the settings, the SimCLR losses."""

    rows: list[dict]
    settings: dict = field(default_factory=dict)
    simclr: dict = field(default_factory=dict)
    """Seed → the pre-training loss of every epoch."""

    def labels(self) -> list[str]:
        """Row labels, in order of first appearance."""
        return list(dict.fromkeys(row["label"] for row in self.rows))

    def done(self, label: str, seed: int) -> bool:
        """Whether the study has row ``label`` at ``seed`` (``resume`` skips it)."""
        return any((row["label"], row["seed"]) == (label, seed) for row in self.rows)

    def values(self, label: str, key: str = "accuracy") -> list[float]:
        """``key`` of every seed of a row (``"accuracy"``, or ``"groups.halves.tail"``-style paths)."""
        return [float(value) for row in self.rows if row["label"] == label
                for value in [_value_at(row, key)] if value is not None]

    def mean_std(self, label: str, key: str = "accuracy") -> tuple[float, float, int]:
        """Mean, population std and count of ``key`` over the seeds of a row (``nan`` when it has none)."""
        values = self.values(label, key)
        if not values:
            return math.nan, math.nan, 0
        mean = sum(values) / len(values)
        return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)), len(values)

    def report(self, label: str) -> EvaluationReport:
        """A row as an :class:`~ltdd.train.EvaluationReport` with one "run" per seed (for
        :func:`ltdd.viz.plot_per_class_accuracy` and friends)."""
        rows = [row for row in self.rows if row["label"] == label]
        if not rows:
            raise KeyError(f"no rows for {label!r}; the study has {self.labels()}")
        return EvaluationReport(self.settings.get("model", "convnet"), self.settings.get("eval_epochs", 0),
                                [row["seed"] for row in rows], [row["accuracy"] for row in rows],
                                [row["per_class"] for row in rows], rows[0]["size"]["images"],
                                extra={"label": label, "plan": rows[0]["plan"]})

    def compare(self, label: str, baseline: str, key: str = "accuracy") -> "PairedComparison":
        """Row ``label`` against row ``baseline`` on ``key``, seed by seed (the seeds both rows have)."""
        ours = {row["seed"]: value for row in self.rows if row["label"] == label
                for value in [_value_at(row, key)] if value is not None}
        theirs = {row["seed"]: value for row in self.rows if row["label"] == baseline
                  for value in [_value_at(row, key)] if value is not None}
        seeds = sorted(set(ours) & set(theirs))
        return PairedComparison(label, baseline, key, seeds, [ours[s] for s in seeds], [theirs[s] for s in seeds])

    def per_class(self, label: str, key: str = "per_class") -> list[float]:
        """Per-class accuracy of a row (or another per-class list of its rows, ``key``), averaged over seeds."""
        runs = [row[key] for row in self.rows if row["label"] == label]
        if not runs:
            raise KeyError(f"no rows for {label!r}; the study has {self.labels()}")
        return [sum(run[c] for run in runs) / len(runs) for c in range(len(runs[0]))]

    def save(self, path: str | Path, merge_keys: Sequence[str] | None = None) -> Path:
        """Write the rows, settings and SimCLR losses as JSON, atomically, holding the folder's lock.

        With ``merge_keys`` (the settings that make two studies one), rows that another process has written to
        ``path`` meanwhile are first merged into this study (:meth:`~ltdd.rebalance.RebalanceStudy.merge`), so processes that run seeds of one
        study side by side keep each other's rows."""
        path = Path(path)
        with locked(path.parent):
            if merge_keys is not None and path.is_file():
                self.merge(RebalanceStudy.load(path), merge_keys, path)
            return atomic_write_text(json.dumps({"settings": self.settings, "rows": self.rows,
                                                 "simclr": {str(k): v for k, v in self.simclr.items()}}, indent=1),
                                     path)

    def merge(self, other: "RebalanceStudy", keys: Sequence[str], source: str | Path = "the other study") -> None:
        """Add ``other``'s rows that this study lacks (by label and seed), its seeds and its SimCLR losses; a study
        with other ``keys`` settings is a ``ValueError``."""
        different = settings_mismatch(other.settings, self.settings, keys)
        if different:
            raise ValueError(f"{source} was written by another run with other settings: {different}")
        mine = {(row["label"], row["seed"]) for row in self.rows}
        self.rows += [row for row in other.rows if (row["label"], row["seed"]) not in mine]
        self.settings["seeds"] = sorted(set(self.settings.get("seeds", [])) | set(other.settings.get("seeds", [])))
        for seed, losses in other.simclr.items():
            self.simclr.setdefault(seed, losses)

    @classmethod
    def combine(cls, *studies: "RebalanceStudy") -> "RebalanceStudy":
        """One study from several run side by side (e.g. seeds split over processes): all rows (a (row, seed)
        measured twice is kept once), the first one's settings with the seeds of all."""
        if not studies:
            raise ValueError("combine needs at least one study")
        rows = []
        for study in studies:
            rows += [row for row in study.rows if not any((r["label"], r["seed"]) == (row["label"], row["seed"])
                                                          for r in rows)]
        settings = dict(studies[0].settings)
        settings["seeds"] = sorted({seed for study in studies for seed in study.settings.get("seeds", [])})
        return cls(rows, settings, {k: v for study in studies for k, v in study.simclr.items()})

    @classmethod
    def load(cls, path: str | Path) -> "RebalanceStudy":
        """Read a study written by :meth:`save`; a file of another shape is a ``ValueError`` naming it."""
        data = read_json(path)
        try:
            rows, settings, simclr = data["rows"], data.get("settings", {}), data.get("simclr", {})
            if not isinstance(rows, list) or not isinstance(settings, dict) or not isinstance(simclr, dict):
                raise TypeError("rows must be a list, settings and simclr objects")
            for row in rows:
                if not (isinstance(row, dict) and isinstance(row["label"], str) and isinstance(row["seed"], int)):
                    raise TypeError(f"every row needs a label and an int seed, got {row!r:.80}")
            return cls(rows, settings, {int(k): v for k, v in simclr.items()})
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"{path} is not a study file (hand-edited?): {error!s:.200}") from error


def rebalance_study(dataset: ImageDataset, rows: Mapping[str, Mapping] = TABLE_III_ROWS,
                    profile: Profile | None = None, seeds: Sequence[int] = (0,), method: str = "dm",
                    iterations: int | None = None, ipc_head: int | None = None, simclr_epochs: int | None = None,
                    networks: int | None = None, out: str | Path | None = None, resume: bool = False,
                    record: Mapping | None = None, progress: bool = True,
                    vanilla_protocol: str = "crlt") -> RebalanceStudy:
    """Run every row (label → ``{"plan": ..., "simclr": bool}``) at every seed and evaluate it.

    For each seed, a distilled set is built once and shared by the rows that use it (distill all, + aug and
    + SimCLR see the same distilled images), and one SimCLR encoder is pre-trained for the rows that ask for
    one. ``networks`` evaluation networks are trained per set (default: the profile's ``eval_seeds``); a row's
    mean ± std is taken over the seeds. With ``out`` the study is saved after every row (atomically) and ``resume=True`` runs only the rows
    the file lacks, refusing a file written with other settings. ``record`` adds provenance to the settings.

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
    study = RebalanceStudy([], {"dataset": dataset.name, "profile": profile.name,
                                "imbalance": dataset.info.get("imbalance"), "method": method,
                                "iterations": iterations, "eval_epochs": profile.eval_epochs,
                                "eval_seeds": profile.eval_seeds, "model": profile.model,
                                "net_width": profile.net_width, "batch_real": crlt.batch_real,
                                "simclr_epochs": simclr_epochs, "rows": rows,
                                "ipc_head": ipc_head, "networks": networks or profile.eval_seeds,
                                "seeds": list(seeds), "vanilla_protocol": vanilla_protocol})
    if dm_settings:
        study.settings["method_settings"] = dm_settings
    if out is not None and resume and Path(out).is_file():
        previous = RebalanceStudy.load(out)
        different = settings_mismatch(previous.settings, study.settings, STUDY_KEYS)
        if different:
            raise ValueError(f"{out} was written with other settings: {different}")
        study.rows, study.simclr = previous.rows, previous.simclr
        study.settings["seeds"] = sorted(set(previous.settings.get("seeds", [])) | set(seeds))
    study.settings.update(record or {})
    bar = tqdm(total=len(rows) * len(seeds), desc="rebalance study", disable=not progress)
    for seed in seeds:
        built: dict[str, RebalancedSet] = {}
        distilled: dict = {}
        encoder = None
        for label, spec in rows.items():
            if study.done(label, seed):
                bar.update()
                continue
            if spec["simclr"] and encoder is None:
                started = time.perf_counter()
                pretrained = pretrain_encoder(dataset, profile, seed, study.settings["simclr_epochs"])
                encoder, study.simclr[seed] = pretrained.encoder, pretrained.losses
                simclr_seconds = round(time.perf_counter() - started, 2)
            plan = spec["plan"]
            ipc = ipc_head if plan in ("sample-head", "distill-head") else None
            started = time.perf_counter()
            if plan not in built:
                built[plan] = rebalance(dataset, plan, method, ipc, None, iterations, profile, seed, progress=False,
                                        cache=distilled, **dm_settings)
            build_seconds = round(time.perf_counter() - started, 2)
            config = vanilla if plan == "vanilla" else None
            report, groups = evaluate_rebalanced(built[plan], dataset, profile, seed,
                                                 encoder if spec["simclr"] else None, config=config,
                                                 networks=networks)
            seconds = {"build": build_seconds, "evaluate": round(time.perf_counter() - started - build_seconds, 2)}
            if spec["simclr"]:
                seconds["simclr"] = simclr_seconds
            result = PlanResult(label, plan, seed, built[plan].size_report(), report, groups, seconds)
            study.rows.append(result.as_row())
            if out is not None:
                study.save(out, STUDY_KEYS)
            bar.update()
    bar.close()
    return study


def study_table(study: RebalanceStudy, keys: Sequence[tuple[str, str]] = (("overall", "accuracy"),
                ("head half", "groups.halves.head"), ("tail half", "groups.halves.tail"))) -> str:
    """A markdown table: one line per row, mean ± std over seeds (in %) of each ``(column, key)``, and size."""
    header = ["row", *[name for name, _ in keys], "images", "% of LT set", "seeds"]
    rows = []
    for label in study.labels():
        cells = []
        for _, key in keys:
            mean, std, count = study.mean_std(label, key)
            cells.append("–" if count == 0 else f"{100 * mean:.2f} ± {100 * std:.2f}")
        size = next(row["size"] for row in study.rows if row["label"] == label)
        rows.append([label, *cells, size["images"], f"{size['percent']:.1f}", study.mean_std(label)[2]])
    return markdown_table(header, rows)


__all__ = ["CRLTSettings", "DISTILLING_PLANS", "PAPER_CRLT", "PAPER_HEAD_IPC", "PLANS", "VANILLA_PROTOCOLS",
           "PairedComparison", "PlanBudget", "PlanResult", "RebalanceStudy", "RebalancedSet",
           "TABLE_III_ROWS", "augmentation_copies", "augmented_copies", "budget_table", "check_plan",
           "distill_classes", "evaluate_rebalanced", "evaluation_config", "head_classes", "head_tail_groups",
           "key_name", "median_class_size", "plan_budget", "pretrain_encoder", "rebalance", "rebalance_study",
           "restrict_classes", "run_plan", "sample_per_class", "study_table", "crlt_settings", "vanilla_config"]
