"""How far a distillation run is from converged: one run, evaluated at several iteration counts.

The papers run DM for 20,000 iterations; a CPU affords a few hundred. :func:`accuracy_against_iterations`
distils once and, at each of the ``checkpoints`` (iteration counts, increasing), evaluates the set it has so far
with the comparison's protocol (chapter 12's ``"ours"``), so the rows of the study are the run's accuracy against
its iterations. Running on from one checkpoint to the next is the same run as running straight to the last one
(the distiller's state, its random generator included, carries over), and the row at ``k`` iterations is the row
:func:`ltdd.studies.comparison.compare_methods` records for a run of ``k`` iterations with the same seed.

With ``out`` (a folder) the study (``study.json``) is saved after every checkpoint and the distiller's state
(``checkpoint.pt``) before every evaluation, both atomically, so ``resume=True`` continues where a stopped run
was, to the same result.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Mapping, Sequence

import torch

from ..checks import positive_int
from ..config import Profile, get_profile
from ..data import ImageDataset
from ..distill import make_distiller
from ..files import atomic_save
from .runner import run_study
from .study import Study

CONVERGENCE_KEYS = ("dataset", "dataset_options", "method", "settings", "profile", "ipc", "eval_epochs", "model",
                    "net_width", "batch_real", "networks", "protocol")
"""The settings that make two runs one (a resumed run must agree on them)."""


def check_checkpoints(checkpoints: Sequence[int]) -> list[int]:
    """Iteration counts at which to evaluate: positive ints, strictly increasing. Machinery behind chapter 05."""
    checkpoints = list(checkpoints)
    if not checkpoints:
        raise ValueError("checkpoints must name at least one iteration count")
    for value in checkpoints:
        positive_int("checkpoints", value)
    if any(b <= a for a, b in zip(checkpoints, checkpoints[1:])):
        raise ValueError(f"checkpoints must be strictly increasing, got {checkpoints}")
    return checkpoints


def checkpoint_label(iterations: int) -> str:
    """The row label of the evaluation after ``iterations`` iterations. Machinery behind chapter 05."""
    return f"{iterations} iterations"


def accuracy_against_iterations(dataset: ImageDataset, method: str, checkpoints: Sequence[int],
                                profile: Profile | None = None, ipc: int | None = None, seed: int = 0,
                                networks: int | None = None, out: str | Path | None = None, resume: bool = False,
                                record: Mapping | None = None, progress: bool = True, **settings) -> Study:
    """Distil ``method`` on ``dataset`` once and evaluate its set after each of ``checkpoints`` iterations (see
    the module docstring). ``ipc`` and ``networks`` default to the profile's; ``settings`` go to the method's
    config, over the comparison's reductions at the profile's scale (:data:`ltdd.studies.comparison.SCALED_SETTINGS`). Each row holds ``iterations``, the accuracy, its spread over the ``networks`` evaluation networks, the
    per-class accuracy and the seconds of distillation and evaluation.

    Introduced in chapter 05."""
    from .comparison import evaluate_row, protocol_config, scaled_settings

    profile = profile or get_profile()
    checkpoints = check_checkpoints(checkpoints)
    settings = {**scaled_settings(method, profile), **settings}  # the comparison's reductions at this scale
    if method == "dsdm":  # as in the comparison: a warm-up of a fifth of the run (here: of the longest)
        settings.setdefault("history_warmup", max(1, checkpoints[-1] // 5))
    ipc = profile.ipc if ipc is None else ipc
    networks = profile.eval_seeds if networks is None else networks
    folder = Path(out) if out is not None else None
    state_path = folder / "checkpoint.pt" if folder is not None else None
    study = Study([], {"dataset": dataset.name, "dataset_options": dict(dataset.options), "method": method,
                       "settings": dict(settings), "profile": profile.name, "ipc": ipc, "checkpoints": checkpoints,
                       "iterations": checkpoints[-1], "eval_epochs": profile.eval_epochs, "model": profile.model,
                       "net_width": profile.net_width, "batch_real": profile.batch_real, "networks": networks,
                       "protocol": "ours", "seeds": [seed]})
    distiller = make_distiller(method, dataset, seed=seed, profile=profile, ipc=ipc, **settings)
    if resume and state_path is not None and state_path.is_file():
        distiller.load_state_dict(torch.load(state_path, map_location="cpu", weights_only=True))
    config, options = protocol_config("ours", "matching", profile)

    def build_row(iterations: int, row_seed: int, _context) -> dict:
        if distiller.iteration > iterations:
            raise ValueError(f"the checkpoint in {state_path} is at iteration {distiller.iteration}, past "
                             f"{iterations}; a checkpoint cannot go back (use another --out)")
        started = time.perf_counter()
        synthetic = distiller.run(iterations - distiller.iteration, progress=progress)
        distilled = time.perf_counter() - started
        if state_path is not None:
            atomic_save(distiller.state_dict(), state_path)
        started = time.perf_counter()
        images, labels = synthetic.training_pairs()
        report, groups = evaluate_row(images, labels, dataset, profile, config, options, row_seed, networks)
        return {"label": checkpoint_label(iterations), "iterations": iterations, "seed": row_seed,
                "accuracy": report.mean, "network_std": report.std, "per_class": report.per_class, "groups": groups,
                "seconds": {"build": round(distilled, 2), "evaluate": round(time.perf_counter() - started, 2)}}

    rows = {checkpoint_label(k): k for k in checkpoints}
    return run_study(list(rows.values()), [seed], build_row, folder / "study.json" if folder else None, resume,
                     study=study, keys=CONVERGENCE_KEYS, record=record, progress=progress,
                     desc=f"{method} against iterations", order="row",
                     row_id=lambda iterations, row_seed: (checkpoint_label(iterations), row_seed))
