"""Every method of the book on one long-tailed training set, under one evaluation protocol.

:func:`compare_methods` builds, for every seed, the set of each row of :data:`COMPARISON_ROWS`: a coreset
(random, herding, k-center), a distilled set (DC, DSA, DM, IDM, DSDM), a trajectory-matching set (MTT, DATM,
LTDD = DAM + Expert Decoupling, from one buffer of experts per seed), or a CRLT-DD rebalanced training set
(distill all, distill head, distill all + SimCLR, and the long-tailed set itself for reference). Every set is
then evaluated the same way and the result is a :class:`~ltdd.studies.study.Study` (rows × seeds, saved
atomically after every row, resumable), with the accuracy per OLTR shot group and per head/tail half.

Protocols (``protocol=``):

* ``"ours"`` (default), the book's final-accuracy protocol: every set trains the profile's network (model and
  width) with SGD at step 0.01, momentum 0.9, weight decay 5e-4, batch 128, DSA, a ×0.1 step at half of the
  profile's epochs, and the accuracy after the last epoch is reported. Soft labels and IDM/DSDM's partitioned
  images are used as the set defines them; nothing else differs between rows.
* ``"papers"``: each family evaluated as its own papers (and chapter) do: the DC/DSA/DM reference protocol
  (batch 256) for coresets and distribution/gradient matching, CRLT-DD's (batch 128) for the rebalanced sets,
  and MTT's for trajectory matching (the step size the set learned, the experts' width).

The rows differ in size: a coreset or a distilled set has ``ipc`` images per class, a CRLT-DD set keeps most of
the long-tailed set (its budget comes from the class counts, :func:`ltdd.studies.rebalance.plan_budget`); the table
prints the number of images next to the accuracy.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

from ..config import Profile, get_profile
from ..data import ImageDataset
from ..distill import SyntheticSet
from ..train import EvaluationReport, TrainConfig, evaluate_training_set
from . import Study, check_seeds, eval_config, run_study, seed_count, study_table
from .experiments import distill
from .rebalance import (check_plan, evaluation_config, long_tail_groups, pretrain_encoder, rebalance,
                        simclr_checkpoint)
from .runner import file_beside
from .tm_study import TMScale, distill_row, scale_for, train_ablation_buffers

COMPARISON_ROWS: dict[str, dict] = {
    "random": {"method": "random"},
    "herding": {"method": "herding"},
    "k-center": {"method": "kcenter"},
    "DC": {"method": "dc"},
    "DSA": {"method": "dsa"},
    "DM": {"method": "dm"},
    "IDM": {"method": "idm", "settings": {"init": "real-repeat"}},
    "DSDM": {"method": "dsdm", "settings": {"init": "real-repeat"}},
    "MTT": {"method": "mtt"},
    "DATM": {"method": "datm"},
    "LTDD (DAM+ED)": {"method": "ltdd"},
    "CRLT-DD distill all": {"plan": "distill-all"},
    "CRLT-DD distill head": {"plan": "distill-head"},
    "CRLT-DD distill all + SimCLR": {"plan": "distill-all", "simclr": True},
    "whole long-tailed set": {"plan": "vanilla"},
}
"""Label → what builds the row's set: ``{"method": name}`` (any of :data:`ltdd.distill.METHODS`; ``"settings"``
adds config fields, ``"iterations"`` overrides the default) or ``{"plan": name, "simclr": bool}`` (a CRLT-DD
plan, condensing with DM). IDM and DSDM start each stored image from 2 × 2 real images, more than the tail
classes of a small long-tailed set have, so their rows reuse a short class's images (``init="real-repeat"``)."""

TRAJECTORY_METHODS = ("mtt", "datm", "ltdd")
PROTOCOLS = ("ours", "papers")
FAMILIES = ("coreset", "matching", "trajectory", "rebalancing")
_CORESETS = ("random", "herding", "kcenter")

_SMOKE_GM = {"outer_loop": 1, "inner_loop": 1}
_CPU_GM = {"outer_loop": 5, "inner_loop": 10}
SCALED_SETTINGS: dict[str, dict[str, dict]] = {
    "smoke": {"dc": _SMOKE_GM, "dsa": _SMOKE_GM, "herding": {"train_epochs": 1}, "kcenter": {"train_epochs": 1},
              "idm": {"net_train_steps": 1, "net_batch": 64},
              "dsdm": {"num_pretrained": 2, "pretrain_epochs": 1}},
    "cpu": {"dc": _CPU_GM, "dsa": _CPU_GM, "idm": {"net_train_steps": 1},
            "dsdm": {"num_pretrained": 5, "pretrain_epochs": 5}},
}
"""Profile → method → settings that make a method affordable at that scale (a row's own ``settings`` win), the
same reductions as the method's chapter: gradient matching's loops (the reference's IPC table would cost hours on
a CPU), IDM's queue training, DSDM's pre-trained networks, one epoch of the coresets' feature network under
``smoke``. On ``gpu`` and ``paper`` every method runs its defaults. On every profile DSDM's history warm-up is a
fifth of the iterations, as the paper's 2000 of 10,000."""

COMPARISON_KEYS = ("dataset", "dataset_options", "profile", "protocol", "ipc", "iterations", "eval_epochs", "model",
                   "net_width", "rows", "networks", "tm_scale", "simclr_epochs")
"""Settings a resumed comparison must share with the file it continues (seeds may grow)."""


def scaled_settings(method: str, profile: Profile) -> dict:
    """The settings :data:`SCALED_SETTINGS` gives ``method`` under ``profile`` (``{}`` for none).
    Introduced in chapter 12."""
    return dict(SCALED_SETTINGS.get(profile.name, {}).get(method, {}))


def family(spec: Mapping) -> str:
    """``"coreset"``, ``"matching"``, ``"trajectory"`` or ``"rebalancing"``: how a row's set is built.
    Machinery behind chapter 12."""
    if "plan" in spec:
        return "rebalancing"
    method = spec["method"]
    return "coreset" if method in _CORESETS else "trajectory" if method in TRAJECTORY_METHODS else "matching"


def check_rows(rows: Mapping[str, Mapping]) -> dict[str, dict]:
    """Validate and normalise row specifications (see :data:`COMPARISON_ROWS`). Machinery behind chapter 12."""
    from ..distill import METHODS

    if not rows:
        raise ValueError("rows must name at least one row")
    checked = {}
    for label, spec in rows.items():
        if ("method" in spec) == ("plan" in spec):
            raise ValueError(f"row {label!r} must give exactly one of 'method' or 'plan', got {dict(spec)}")
        if "method" in spec and spec["method"] not in METHODS:
            raise ValueError(f"row {label!r}: unknown method {spec['method']!r}; choose from {sorted(METHODS)}")
        extra = set(spec) - {"method", "plan", "simclr", "settings", "iterations"}
        if extra:
            raise ValueError(f"row {label!r} has unknown keys {sorted(extra)}; allowed: method or plan, simclr, "
                             "settings, iterations")
        spec = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in spec.items()}
        if "plan" in spec:
            spec["plan"] = check_plan(spec["plan"])
            spec["simclr"] = bool(spec.get("simclr", False))
        checked[label] = spec
    return checked


def protocol_config(protocol: str, row_family: str, profile: Profile, synthetic: SyntheticSet | None = None,
                    scale: TMScale | None = None) -> tuple[TrainConfig, dict]:
    """The training recipe and network options that evaluate a set of ``row_family`` (see the module
    docstring for the two protocols), from :data:`ltdd.studies.protocols.EVAL_PROTOCOLS`: ``"ours"`` and the
    rebalanced sets ``"crlt_dd"``, trajectory matching ``"datm"``, the other families ``"dm"``.
    Machinery behind chapter 12."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if protocol == "ours" or row_family == "rebalancing":
        return evaluation_config(profile), profile.model_options()
    if row_family == "trajectory":
        options = profile.model_options() if scale is None or scale.net_width is None else {"width": scale.net_width}
        learned = synthetic.learned_lr if synthetic is not None else None
        return eval_config("datm", profile, learned_lr=learned), options
    return eval_config("dm", profile), profile.model_options()


def evaluate_row(images, labels, dataset: ImageDataset, profile: Profile, config: TrainConfig, options: dict,
                 seed: int, networks: int, encoder_state: dict | None = None) -> tuple[EvaluationReport, dict]:
    """A row's training set evaluated the comparison's way: ``networks`` networks trained under ``config``, and
    their accuracy by long-tail group. Machinery behind chapter 12 (and chapter 05's accuracy against
    iterations, :mod:`ltdd.studies.convergence`)."""
    report = evaluate_training_set(images, labels.detach(), dataset, profile.model, networks, config, seed, False,
                                   options, encoder_state)
    return report, long_tail_groups(report.per_class, dataset.train.class_counts(dataset.num_classes))


def row_checkpoint(out: str | Path | None, label: str, seed: int, resume: bool) -> Path | None:
    """Where a saved study keeps a distillation row's run while it goes on: ``<study>_<label>_seed<seed>.pt``
    beside ``out``, the label reduced to letters, digits and dashes (:func:`ltdd.studies.runner.file_beside`), so
    a stopped run resumes the row from its last checkpoint (:func:`ltdd.studies.experiments.distill`) instead of
    from iteration 0. The file stays after the row: it holds the row's final set. Machinery behind chapter 12."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
    return file_beside(out, f"{slug}_seed{seed}", resume)


class _SeedContext:
    """What the rows of one seed share: the experts, the SimCLR encoder and the distilled sets of CRLT-DD, and
    where its distillation rows keep their checkpoints (``row_checkpoint(label)``, ``None``: nowhere)."""

    def __init__(self, dataset: ImageDataset, profile: Profile, scale: TMScale, seed: int, workdir: Path,
                 simclr_epochs: int, simclr_checkpoint: Path | None = None,
                 row_checkpoint: Callable[[str], Path | None] = lambda label: None):
        self.dataset, self.profile, self.scale, self.seed = dataset, profile, scale, seed
        self.workdir, self.simclr_epochs, self.simclr_checkpoint = workdir, simclr_epochs, simclr_checkpoint
        self.row_checkpoint = row_checkpoint
        self.buffers = None
        self.encoder = None
        self.simclr_losses: list[float] | None = None
        self.distilled: dict = {}

    def experts(self):
        if self.buffers is None:
            self.buffers = train_ablation_buffers(self.dataset, self.scale, self.seed,
                                                  self.workdir / f"seed_{self.seed}", self.profile.model)
        return self.buffers

    def simclr_encoder(self):
        if self.encoder is None:
            pretrained = pretrain_encoder(self.dataset, self.profile, self.seed, self.simclr_epochs,
                                          self.simclr_checkpoint)
            self.encoder, self.simclr_losses = pretrained.encoder, pretrained.losses
        return self.encoder


def _build_and_evaluate(label: str, spec: dict, context: _SeedContext, protocol: str, ipc: int, iterations: int,
                        networks: int) -> dict:
    """One row at one seed: build its set, evaluate it, and return the study row."""
    dataset, profile, scale, seed = context.dataset, context.profile, context.scale, context.seed
    row_family = family(spec)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    encoder, learned_lr = None, None
    if row_family == "rebalancing":
        if spec["simclr"]:
            encoder = context.simclr_encoder()
            seconds["simclr"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
        built = rebalance(dataset, spec["plan"], "dm", None, None, spec.get("iterations", iterations), profile,
                          seed, progress=False, cache=context.distilled, **spec.get("settings", {}))
        images, labels, synthetic = built.images, built.labels, None
    elif row_family == "trajectory":
        buffers = context.experts()
        seconds["experts"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        distiller = distill_row(dataset, {"method": spec["method"], "settings": spec.get("settings", {})},
                                dataclasses.replace(scale, ipc=ipc), buffers, seed, profile.model,
                                spec.get("iterations"))
        synthetic = distiller.synthetic
        learned_lr = synthetic.learned_lr
        images, labels = synthetic.training_pairs()
    else:
        settings = {**scaled_settings(spec["method"], profile), **spec.get("settings", {})}
        if spec["method"] == "dsdm":
            settings.setdefault("history_warmup", max(1, spec.get("iterations", iterations) // 5))
        run = distill(spec["method"], dataset, ipc, spec.get("iterations", iterations), profile, seed=seed,
                      progress=False, checkpoint=context.row_checkpoint(label), **settings)
        synthetic = run.synthetic
        images, labels = synthetic.training_pairs()
    seconds["build"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    config, options = protocol_config(protocol, row_family, profile, synthetic, scale)
    report, groups = evaluate_row(images, labels, dataset, profile, config, options, seed, networks, encoder)
    seconds["evaluate"] = round(time.perf_counter() - started, 2)
    return {"label": label, "plan": spec.get("method", spec.get("plan")), "family": row_family, "seed": seed,
            "accuracy": report.mean, "network_std": report.std, "per_class": report.per_class, "groups": groups,
            "size": {"images": int(len(labels)), "stored": int(len(synthetic)) if synthetic is not None
                     else int(len(labels))},
            "learned_lr": learned_lr, "eval_lr": config.lr, "seconds": seconds}


def compare_methods(dataset: ImageDataset, profile: Profile | None = None, seeds: Sequence[int] = (0,),
                    rows: Mapping[str, Mapping] = COMPARISON_ROWS, protocol: str = "ours", ipc: int | None = None,
                    iterations: int | None = None, networks: int | None = None, scale: TMScale | None = None,
                    simclr_epochs: int | None = None, workdir: str | Path | None = None,
                    out: str | Path | None = None, resume: bool = False, record: Mapping | None = None,
                    progress: bool = True, after_row: Callable[[int, int], None] | None = None) -> Study:
    """Build and evaluate every row at every seed on ``dataset`` (a long-tailed set, e.g. ``digits-lt``).

    ``ipc`` (default: the profile's) sizes coresets, distilled and trajectory-matching sets; ``iterations``
    (default: the profile's) is how long the matching methods and CRLT-DD's DM condense, while trajectory
    matching runs its scale's iterations (:func:`ltdd.studies.tm_study.scale_for`) unless a row says otherwise.
    ``networks`` networks (default: the profile's ``eval_seeds``) are trained per set; mean ± std is taken over
    ``seeds``. Expert buffers go to ``workdir`` (default: beside ``out``, else a temporary folder). With ``out``
    the study is saved after every row, and a distillation row's run every few iterations beside it
    (:func:`row_checkpoint`); ``resume=True`` runs only what the file lacks, continuing a stopped row from its
    checkpoint, and refuses a file written with other settings. ``after_row(done, left)``, if given, is called
    after every row this call runs, with the number run so far and the number still to run (a chapter's budget
    watch, :meth:`ltdd.budget.ChapterBudget.watch`).
    Introduced in chapter 12.
    """
    profile = profile or get_profile()
    rows = check_rows(rows)
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    seeds = check_seeds(seeds)
    ipc = profile.ipc if ipc is None else ipc
    iterations = profile.iterations if iterations is None else iterations
    networks = profile.eval_seeds if networks is None else networks
    scale = scale or scale_for(profile)
    simclr_epochs = simclr_epochs or profile.full_epochs
    settings = {"dataset": dataset.name, "dataset_options": dict(dataset.options), "profile": profile.name,
                "protocol": protocol, "ipc": ipc, "iterations": iterations, "eval_epochs": profile.eval_epochs,
                "model": profile.model, "net_width": profile.net_width, "batch_real": profile.batch_real,
                "rows": rows, "networks": networks,
                "tm_scale": dataclasses.asdict(scale), "simclr_epochs": simclr_epochs, "seeds": seeds,
                "imbalance": dataset.info.get("imbalance"), "dataset_source": dataset.info.get("source"),
                "counts": dataset.train.class_counts(dataset.num_classes)}
    study = Study([], settings)

    def build_row(label: str, seed: int, context: _SeedContext) -> dict:
        row = _build_and_evaluate(label, rows[label], context, protocol, ipc, iterations, networks)
        if context.simclr_losses is not None:
            study.simclr[seed] = context.simclr_losses
        return row

    with tempfile.TemporaryDirectory(prefix="ltdd-compare-") as scratch:
        if workdir is None:
            workdir = Path(out).with_name(Path(out).stem + "_experts") if out is not None else Path(scratch)
        return run_study(rows, seeds, build_row, out, resume, study=study, keys=COMPARISON_KEYS, record=record,
                         progress=progress, desc="comparison", after_row=after_row,
                         start_seed=lambda seed: _SeedContext(
                             dataset, profile, scale, seed, Path(workdir), simclr_epochs,
                             simclr_checkpoint(out, seed, resume),
                             lambda label: row_checkpoint(out, label, seed, resume)))


SHOT_COLUMNS = (("overall", "accuracy"), ("many", "groups.shots.many"), ("medium", "groups.shots.medium"),
                ("few", "groups.shots.few"))
"""The table's accuracy columns: overall, then the OLTR shot groups (classes with > 100, 20–100, < 20 images)."""


def _family_of(study: Study, label: str) -> str:
    return next(row for row in study.rows if row["label"] == label).get("family", "")


def _stored(study: Study, label: str) -> str:
    return str(next(row for row in study.rows if row["label"] == label)["size"]["stored"])


def comparison_table(study: Study, columns: Sequence[tuple[str, str]] = SHOT_COLUMNS) -> str:
    """A markdown table: one line per row, mean ± std over seeds (in %) for every column, and the number of images
    the set stores (IDM and DSDM decode each stored image into four training images).

    A shot group the long-tailed set does not have (e.g. no class with more than 100 images) shows "–"
    (:func:`ltdd.studies.study.study_table` with these columns). Introduced in chapter 12."""
    return study_table(study, columns, decimals=1, header="method", first=(("family", _family_of),),
                       after=(("images stored", _stored), ("seeds", seed_count)))


def group_summary(study: Study, columns: Sequence[tuple[str, str]] = SHOT_COLUMNS
                  ) -> dict[str, dict[str, tuple[float, float]]]:
    """``{label: {column: (mean, std)}}`` in fractions, the numbers behind :func:`comparison_table` (columns a
    row has no value for are left out). Introduced in chapter 12."""
    summary = {}
    for label in study.labels():
        summary[label] = {}
        for name, key in columns:
            mean, std, count = study.mean_std(label, key)
            if count:
                summary[label][name] = (mean, std)
    return summary


def row_families(study: Study) -> dict[str, str]:
    """``{label: family}`` of a comparison's rows (to colour :func:`ltdd.book.viz.curves.plot_method_comparison`).
    Introduced in chapter 12."""
    return {row["label"]: row.get("family", "") for row in study.rows}


__all__ = ["COMPARISON_ROWS", "FAMILIES", "PROTOCOLS", "SCALED_SETTINGS", "SHOT_COLUMNS", "TRAJECTORY_METHODS",
           "check_rows", "compare_methods", "comparison_table", "family", "group_summary", "protocol_config",
           "row_checkpoint", "row_families", "scaled_settings"]
