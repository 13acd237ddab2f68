"""The experiments the chapters run, as reusable functions: distil with a loss history, sweep IPC, ablate.

Every function takes a :class:`~ltdd.config.Profile` for the settings that depend on the machine, so a
chapter's one settings cell decides the scale.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import torch

from ..config import Profile
from ..data import ImageDataset
from ..distill import SyntheticSet, make_distiller
from ..files import atomic_save
from ..train import EvaluationReport, TrainConfig, evaluate_synthetic
from .protocols import eval_config


@dataclass
class DistillRun:
    """A finished distillation: the set, the loss of every iteration, and how long it took.
    Machinery behind chapter 05."""

    synthetic: SyntheticSet
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def iterations(self) -> int:
        """Number of iterations run (0 for a selection method)."""
        return len(self.losses)


CHECKPOINT_EVERY = 10
"""Iterations between two checkpoints of :func:`distill` (a run with ``checkpoint`` loses at most this many)."""


def distill(method: str, dataset: ImageDataset, ipc: int, iterations: int, profile: Profile | None = None,
            seed: int = 0, progress: bool = True, checkpoint: str | Path | None = None,
            **settings) -> DistillRun:
    """Run ``method`` for ``iterations`` iterations (selection methods ignore it) and keep its loss curve.

    With ``checkpoint`` (a file) the run's state, its losses and seconds so far are saved there atomically every
    :data:`CHECKPOINT_EVERY` iterations and at the end, and a run that finds the file continues from it, to the
    same set as an uninterrupted run; a file written by another method or with other settings is a
    ``ValueError`` naming the difference. Introduced in chapter 05."""
    distiller = make_distiller(method, dataset, seed=seed, profile=profile, ipc=ipc, **settings)
    losses: list[float] = []
    seconds_before = 0.0
    if checkpoint is not None and Path(checkpoint).is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if "losses" not in state:
            raise ValueError(f"{checkpoint} was not written by distill(checkpoint=...): it has no loss history")
        distiller.load_state_dict(state)
        losses, seconds_before = list(state["losses"]), float(state["seconds"])
        if distiller.iteration > iterations:
            raise ValueError(f"the checkpoint {checkpoint} is at iteration {distiller.iteration}, past the "
                             f"{iterations} asked for")
    started = time.perf_counter()

    def seconds() -> float:
        return seconds_before + time.perf_counter() - started

    def save(d) -> None:
        atomic_save({**d.state_dict(), "losses": losses, "seconds": seconds()}, checkpoint)

    def after_step(d, metrics) -> None:
        losses.append(metrics.get("loss"))
        if checkpoint is not None and d.iteration % CHECKPOINT_EVERY == 0:
            save(d)

    synthetic = distiller.run(iterations - distiller.iteration, callbacks=(after_step,), progress=progress)
    if checkpoint is not None and distiller.iterative:
        save(distiller)
    return DistillRun(synthetic, losses, seconds())


def evaluation_protocol(profile: Profile) -> TrainConfig:
    """The evaluation protocol at the profile's scale (epochs; the rest is the literature's: DSA and DM's,
    ``EVAL_PROTOCOLS["dm"]`` of :data:`ltdd.studies.protocols.EVAL_PROTOCOLS`). Machinery behind chapter 05."""
    return eval_config("dm", profile)


def evaluate(synthetic: SyntheticSet, dataset: ImageDataset, profile: Profile, progress: bool = False,
             seeds: int | None = None) -> EvaluationReport:
    """Evaluate a set with the profile's model, width, epochs and number of networks. Introduced in chapter 05."""
    return evaluate_synthetic(synthetic, dataset, model=profile.model, seeds=seeds or profile.eval_seeds,
                              config=evaluation_protocol(profile), progress=progress,
                              model_options=profile.model_options())


def accuracy_vs_ipc(methods: Mapping[str, Mapping], dataset: ImageDataset, ipcs: Sequence[int],
                    profile: Profile, iterations: int | None = None, seed: int = 0,
                    progress: bool = True) -> dict[str, dict[int, EvaluationReport]]:
    """Distil (or select) and evaluate every method at every IPC.

    ``methods`` maps a label to the method's settings, including its name under ``"method"``, e.g.
    ``{"DM": {"method": "dm"}, "herding": {"method": "herding"}}``. Returns ``{label: {ipc: report}}``,
    ready for :func:`ltdd.book.viz.curves.plot_accuracy_vs_ipc`.
    Introduced in chapter 05.
    """
    iterations = profile.iterations if iterations is None else iterations
    curves: dict[str, dict[int, EvaluationReport]] = {}
    for label, settings in methods.items():
        settings = dict(settings)
        method = settings.pop("method")
        curves[label] = {}
        for ipc in ipcs:
            run = distill(method, dataset, ipc, iterations, profile, seed=seed, progress=progress, **settings)
            curves[label][ipc] = evaluate(run.synthetic, dataset, profile)
    return curves


def ablation(variants: Mapping[str, Mapping], dataset: ImageDataset, ipc: int, profile: Profile,
             iterations: int | None = None, seed: int = 0, progress: bool = True) -> dict[str, EvaluationReport]:
    """One method in several configurations (e.g. IDM's parts switched on one by one), each evaluated.

    ``variants`` maps a label to settings including ``"method"``; returns ``{label: report}``.
    Introduced in chapter 06.
    """
    iterations = profile.iterations if iterations is None else iterations
    reports = {}
    for label, settings in variants.items():
        settings = dict(settings)
        method = settings.pop("method")
        run = distill(method, dataset, ipc, iterations, profile, seed=seed, progress=progress, **settings)
        reports[label] = evaluate(run.synthetic, dataset, profile)
    return reports
