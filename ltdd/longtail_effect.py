"""What the long tail does to a classifier: the same network trained on a long-tailed set and on a balanced
subset of the same size (chapters 02 and 04).

Comparing a long-tailed set with the whole balanced set it was cut from mixes two effects: the long-tailed set
is smaller *and* skewed. :func:`longtail_effect` isolates the skew: it trains fresh networks on the long-tailed
training set and on a balanced subset with the same number of images (``len(long-tailed) // C`` per class, drawn
with an explicit generator), tests both on the balanced test set, and keeps the overall, per-class and shot-group
accuracy and the norm of each class's classifier weights (LTDD's diagnosis: the norms fall from head to tail).

The result is a :class:`~ltdd.rebalance.RebalanceStudy` (rows × seeds), saved atomically after every row and
resumable, as the other studies of the book; ``python -m ltdd longtail-effect`` runs it from the command line.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Sequence

import torch
from tqdm.auto import tqdm

from .config import make_generator
from .data import ImageDataset
from .data.longtail import make_longtail
from .diagnostics import train_full
from .files import settings_mismatch
from .rebalance import RebalanceStudy, long_tail_groups
from .train import TrainConfig

LONGTAIL_EFFECT_KEYS = ("dataset", "imbalance", "epochs", "batch_size", "model", "model_options", "networks",
                        "counts")
"""Settings a resumed study must share with the file it continues (seeds may grow)."""

LONG_TAILED, BALANCED_SUBSET = "long-tailed", "balanced subset, same size"
"""The two rows' labels."""


def balanced_subset(dataset: ImageDataset, per_class: int, seed: int) -> ImageDataset:
    """``per_class`` training images of every class of ``dataset``, drawn without replacement with a generator
    seeded by ``seed`` (the test split is kept). Named ``"<name>-balanced-<per_class>"``."""
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
                    record: dict | None = None, progress: bool = True) -> RebalanceStudy:
    """Train ``networks`` networks per seed on the long-tailed version of ``balanced`` (imbalance factor
    ``imbalance``, the book's count rule and selection) and on a balanced subset of the same size, each for
    ``epochs`` epochs of the evaluation recipe (SGD 0.01, momentum 0.9, DSA, batch ``batch_size``, a ×0.1 step
    at half), and return both rows per seed. With ``out`` the study is saved after every row; ``resume=True``
    runs only the rows the file lacks and refuses a file written with other settings.
    """
    seeds = list(seeds)
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative ints, got {seeds!r}")
    if not isinstance(networks, int) or isinstance(networks, bool) or networks < 1:
        raise ValueError(f"networks must be a positive int, got {networks!r}")
    config = TrainConfig(epochs=epochs, batch_size=batch_size)
    longtailed = make_longtail(balanced, imbalance)
    counts = longtailed.train.class_counts(balanced.num_classes)
    per_class = len(longtailed.train) // balanced.num_classes
    model_options = dict(model_options or {})
    settings = {"dataset": balanced.name, "imbalance": float(imbalance), "epochs": epochs,
                "batch_size": batch_size, "model": model, "model_options": model_options, "networks": networks,
                "counts": counts, "balanced_per_class": per_class, "seeds": seeds,
                "class_names": list(balanced.class_names),
                "dataset_source": balanced.info.get("source")}
    study = RebalanceStudy([], settings)
    if out is not None and resume and Path(out).is_file():
        previous = RebalanceStudy.load(out)
        different = settings_mismatch(previous.settings, settings, LONGTAIL_EFFECT_KEYS)
        if different:
            raise ValueError(f"{out} was written with other settings: {different}")
        study.rows = previous.rows
        study.settings["seeds"] = sorted(set(previous.settings.get("seeds", [])) | set(seeds))
    study.settings.update(record or {})
    bar = tqdm(total=2 * len(seeds), desc="long-tail effect", disable=not progress)
    for seed in seeds:
        sets = ((LONG_TAILED, "long-tailed", lambda: longtailed),
                (BALANCED_SUBSET, "balanced-subset", lambda: balanced_subset(balanced, per_class, seed)))
        for label, plan, build in sets:
            bar.set_postfix_str(f"seed {seed}: {label}")
            if not study.done(label, seed):
                study.rows.append(_row(label, plan, seed, build(), config, networks, model, model_options,
                                       counts, progress=False))
                if out is not None:
                    study.save(out, LONGTAIL_EFFECT_KEYS)
            bar.update()
    bar.close()
    return study


def weight_norm_slope(study: RebalanceStudy, label: str) -> float:
    """How the classifier's weight norms fall from head to tail in a row: the least-squares slope of the
    seed-averaged norm of each class against the logarithm of its long-tailed count (negative: the tail's
    rows are shorter)."""
    norms = study.per_class(label, "weight_norms")
    counts = study.settings["counts"]
    xs = [math.log(c) for c in counts]
    mx, my = sum(xs) / len(xs), sum(norms) / len(norms)
    return sum((x - mx) * (y - my) for x, y in zip(xs, norms)) / sum((x - mx) ** 2 for x in xs)
