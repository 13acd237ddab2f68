"""What the long tail does to a classifier: the same network trained on a long-tailed set and on a balanced
subset of the same size (chapters 02 and 04).

Comparing a long-tailed set with the whole balanced set it was cut from mixes two effects: the long-tailed set
is smaller *and* skewed. :func:`longtail_effect` isolates the skew: it trains fresh networks on the long-tailed
training set and on a balanced subset with the same number of images (``len(long-tailed) // C`` per class, drawn
with an explicit generator), tests both on the balanced test set, and keeps the overall, per-class and shot-group
accuracy and the norm of each class's classifier weights (LTDD's diagnosis: the norms fall from head to tail).

The result is a :class:`~ltdd.studies.study.Study` (rows × seeds), saved atomically after every row and
resumable, as the other studies of the book; ``python -m ltdd longtail-effect`` runs it from the command line.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Sequence

import torch

from ..checks import positive_int
from ..config import make_generator
from ..data import ImageDataset
from ..data.longtail import make_longtail
from ..diagnostics import train_full
from ..train import TrainConfig
from . import Study, check_seeds, eval_config, run_study
from .rebalance import long_tail_groups

LONGTAIL_EFFECT_KEYS = ("dataset", "imbalance", "epochs", "batch_size", "model", "model_options", "networks",
                        "counts")
"""Settings a resumed study must share with the file it continues (seeds may grow)."""

LONG_TAILED, BALANCED_SUBSET = "long-tailed", "balanced subset, same size"
"""The two rows' labels."""


def balanced_subset(dataset: ImageDataset, per_class: int, seed: int) -> ImageDataset:
    """``per_class`` training images of every class of ``dataset``, drawn without replacement with a generator
    seeded by ``seed`` (the test split is kept). Named ``"<name>-balanced-<per_class>"``.
    Machinery behind chapter 04."""
    if not isinstance(per_class, int) or isinstance(per_class, bool) or per_class < 1:
        raise ValueError(f"per_class must be a positive int, got {per_class!r}")
    counts = dataset.train.class_counts(dataset.num_classes)
    if per_class > min(counts):
        raise ValueError(f"per_class={per_class} exceeds the smallest class of {dataset.name} ({min(counts)} images)")
    generator = make_generator(seed, "balanced-subset")
    chosen = []
    for label in range(dataset.num_classes):
        members = dataset.train.class_indices(label).cpu()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    index = torch.cat(chosen).sort().values.to(dataset.device)
    return dataclasses.replace(dataset, name=f"{dataset.name}-balanced-{per_class}",
                               train=dataset.train.subset(index),
                               info={**dataset.info, "balanced_subset": per_class, "subset_seed": seed})


def _row(label: str, plan: str, seed: int, dataset: ImageDataset, config: TrainConfig, networks: int,
         model: str, model_options: dict, counts: Sequence[int], progress: bool) -> dict:
    started = time.perf_counter()
    report = train_full(dataset, config, networks, model=model, model_options=model_options,
                        base_seed=seed, progress=progress)
    return {"label": label, "plan": plan, "seed": seed, "accuracy": report.mean, "network_std": report.std,
            "per_class": report.per_class, "groups": long_tail_groups(report.per_class, counts),
            "weight_norms": report.weight_norms, "size": {"images": len(dataset.train), "stored": len(dataset.train)},
            "seconds": {"train": round(time.perf_counter() - started, 2)}}


def longtail_effect(balanced: ImageDataset, imbalance: float, epochs: int, seeds: Sequence[int] = (0,),
                    networks: int = 1, model: str = "convnet", model_options: dict | None = None,
                    batch_size: int = 256, out: str | Path | None = None, resume: bool = False,
                    record: dict | None = None, progress: bool = True) -> Study:
    """Train ``networks`` networks per seed on the long-tailed version of ``balanced`` (imbalance factor
    ``imbalance``, the book's count rule and selection) and on a balanced subset of the same size, each for
    ``epochs`` epochs of the evaluation recipe (SGD 0.01, momentum 0.9, DSA, batch ``batch_size``, a ×0.1 step
    at half: ``EVAL_PROTOCOLS["dm"]`` of :data:`ltdd.studies.protocols.EVAL_PROTOCOLS`), and return both rows per seed.
    Chapter 04 shows the recorded run. With ``out`` the study is saved after every row; ``resume=True`` runs only
    the rows the file lacks and refuses a file written with other settings (:func:`ltdd.studies.runner.run_study`).
    """
    seeds = check_seeds(seeds)
    positive_int("networks", networks)
    config = dataclasses.replace(eval_config("dm", epochs=epochs), batch_size=batch_size)
    longtailed = make_longtail(balanced, imbalance)
    counts = longtailed.train.class_counts(balanced.num_classes)
    per_class = len(longtailed.train) // balanced.num_classes
    model_options = dict(model_options or {})
    settings = {"dataset": balanced.name, "imbalance": float(imbalance), "epochs": epochs,
                "batch_size": batch_size, "model": model, "model_options": model_options, "networks": networks,
                "counts": counts, "balanced_per_class": per_class, "seeds": seeds,
                "class_names": list(balanced.class_names),
                "dataset_source": balanced.info.get("source")}
    sets = {LONG_TAILED: ("long-tailed", lambda seed: longtailed),
            BALANCED_SUBSET: ("balanced-subset", lambda seed: balanced_subset(balanced, per_class, seed))}

    def build_row(label: str, seed: int, _context) -> dict:
        plan, build = sets[label]
        return _row(label, plan, seed, build(seed), config, networks, model, model_options, counts, progress=False)

    return run_study(sets, seeds, build_row, out, resume, study=Study([], settings), keys=LONGTAIL_EFFECT_KEYS,
                     record=record, progress=progress, desc="long-tail effect")


def weight_norm_slope(study: Study, label: str) -> float:
    """How the classifier's weight norms fall from head to tail in a row: the least-squares slope of the
    seed-averaged norm of each class against the logarithm of its long-tailed count (negative: the tail's
    rows are shorter). Machinery behind chapter 04."""
    norms = study.per_class(label, "weight_norms")
    counts = study.settings["counts"]
    xs = [math.log(c) for c in counts]
    mx, my = sum(xs) / len(xs), sum(norms) / len(norms)
    return sum((x - mx) * (y - my) for x, y in zip(xs, norms)) / sum((x - mx) ** 2 for x in xs)
