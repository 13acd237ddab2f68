"""The experiments the chapters run, as reusable functions: distil with a loss history, sweep IPC, ablate.

Every function takes a :class:`~ltdd.config.Profile` for the settings that depend on the machine, so a
chapter's one settings cell decides the scale.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..config import Profile
from ..data import ImageDataset
from ..distill import SyntheticSet, make_distiller
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


def distill(method: str, dataset: ImageDataset, ipc: int, iterations: int, profile: Profile | None = None,
            seed: int = 0, progress: bool = True, **settings) -> DistillRun:
    """Run ``method`` for ``iterations`` iterations (selection methods ignore it) and keep its loss curve.
    Introduced in chapter 05."""
    distiller = make_distiller(method, dataset, seed=seed, profile=profile, ipc=ipc, **settings)
    losses: list[float] = []
    started = time.perf_counter()
    synthetic = distiller.run(iterations, callbacks=(lambda _d, metrics: losses.append(metrics.get("loss")),),
                              progress=progress)
    return DistillRun(synthetic, losses, time.perf_counter() - started)


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
