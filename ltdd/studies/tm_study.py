"""Long-tailed trajectory matching as an experiment: the ablation base → +DAM → +DAM+ED (LTDD Fig. 6a), the
diagnostics of LTDD Figs. 2 and 5 (why experts trained on long-tailed data mislead the distillation), and TESLA's
gradient against the exact one (:func:`compare_grad_modes`).

:func:`tm_ablation` trains, for every seed, one buffer of representation experts on the long-tailed set and
one of classifier experts from them, distils every row of :data:`ABLATION_ROWS` from those buffers, and
evaluates each set with networks trained at the step size the set learned. The result is a
:class:`~ltdd.studies.study.Study` (rows × seeds, saved atomically after every row, resumable), so its
tables, paired comparisons and per-class reports work here too.

The scale of every profile is in :data:`TM_SCALE`; the ``gpu`` and ``paper`` profiles use a published
CIFAR-10-LT setting (:mod:`ltdd.distill.tm_presets`; ``paper``: the ablation's β = 200, IPC 50, see
:func:`scale_for`), and train both kinds of experts with the preset's expert settings (GSAM, LTDD's weight decay
5e-3 for the representation experts, class-aware sampling for the classifier experts).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

from ..config import Profile, get_profile
from ..data import ImageDataset
from ..diagnostics import classifier_weight_norms
from ..distill import SyntheticSet, make_distiller
from ..distill.experts import ExpertBuffer, ExpertConfig, train_buffer
from ..distill.unroll import GRAD_MODES, SavedTensorMeter
from ..train import evaluate_training_set
from . import HALF_COLUMNS, Study, eval_config, run_study, seed_count, study_table
from .rebalance import long_tail_groups

ABLATION_ROWS: dict[str, dict] = {
    "MTT": {"method": "mtt"},
    "base": {"method": "datm"},
    "+DAM": {"method": "datm", "settings": {"dam": True}},
    "+DAM+ED": {"method": "ltdd"},
}
"""LTDD's ablation (base = DATM: soft labels and initial images from the experts; +DAM: the distributed loss;
+DAM+ED: Expert Decoupling, whose classifier experts also pick the images and labels), with plain MTT for
reference. The scale's common settings apply to every row."""


@dataclass(frozen=True)
class TMScale:
    """Everything about a trajectory-matching experiment that depends on the machine. Machinery behind chapter 11."""

    ipc: int
    experts: int
    expert_epochs: int
    classifier_epochs: int
    expert_lr: float
    expert_batch: int
    iterations: int
    net_width: int | None
    distill: dict
    """Settings shared by every row (TMConfig fields)."""
    experts_optimizer: str = "sgd"
    expert_settings: dict = dataclasses.field(default_factory=dict)
    """Further :class:`~ltdd.distill.experts.ExpertConfig` fields by stage (``"representation"``, ``"classifier"``): the
    preset's expert settings at the ``gpu`` and ``paper`` scales (weight decay, momentum, GSAM, …)."""


_SMALL_DISTILL = {"expert_epochs": 2, "lr_lr": 1e-5, "current_max_start_epoch": None, "expansion_end": 0,
                  "threshold": None, "grad_mode": "exact", "dam_normalize": True, "lambda_rep": 1.0,
                  "lambda_cls": 1.0, "init_experts": None}

TM_SCALE: dict[str, TMScale] = {
    "smoke": TMScale(ipc=5, experts=2, expert_epochs=4, classifier_epochs=2, expert_lr=0.05, expert_batch=64,
                     iterations=4, net_width=16,
                     distill={**_SMALL_DISTILL, "syn_steps": 4, "max_start_epoch": 2, "lr_img": 100.0,
                              "lr_teacher": 0.05}),
    "cpu": TMScale(ipc=10, experts=5, expert_epochs=20, classifier_epochs=4, expert_lr=0.05, expert_batch=64,
                   iterations=100, net_width=32,
                   distill={**_SMALL_DISTILL, "syn_steps": 10, "max_start_epoch": 10, "lr_img": 100.0,
                            "lr_teacher": 0.05}),
}
"""``smoke`` and ``cpu``: embedded digits-LT, a narrow ConvNet (the ``cpu`` profile's width 64 would take about
4× longer), a few short experts, 10-step students. Not the paper's scale; see :func:`scale_for`."""


def scale_for(profile: Profile) -> TMScale:
    """The profile's scale: :data:`TM_SCALE`, or a published LTDD CIFAR-10-LT setting with its experts'
    settings. ``paper``: the setting of LTDD's ablation (Fig. 6a: β = 200, IPC 50; the config's 10,000
    iterations; 100 experts of each kind); ``gpu``: the β = 100, IPC 10 setting (the first column of the main
    table) with 10 experts of half the epochs and the profile's iterations. The dataset (``--imbalance``) is the
    caller's: run the ``paper`` scale on CIFAR-10-LT at β = 200. Introduced in chapter 10."""
    if profile.name in TM_SCALE:
        return TM_SCALE[profile.name]
    import warnings

    from ..distill.tm_presets import tm_preset

    gpu = profile.name == "gpu"  # a tenth of the experts, half their epochs
    with warnings.catch_warnings():  # the β = 200, IPC 50 preset is a corrected config and says so
        warnings.simplefilter("ignore")
        preset = tm_preset("ltdd", "cifar10-lt", 10, 100) if gpu else tm_preset("ltdd", "cifar10-lt", 50, 200)
    # what makes a row MTT, DATM or LTDD comes from its method's defaults and the row, not from the preset
    shared = {k: v for k, v in preset.settings.items()
              if k not in ("decoupled", "dam", "init_experts", "init", "soft_labels")}
    rep = preset.experts["representation"]
    expert_settings = {stage: {k: v for k, v in values.items() if k not in ("epochs", "stage")}
                       for stage, values in preset.experts.items()}
    return TMScale(ipc=preset.ipc, experts=10 if gpu else 100,
                   expert_epochs=rep["epochs"] // 2 if gpu else rep["epochs"],
                   classifier_epochs=preset.experts["classifier"]["epochs"], expert_lr=rep["lr"],
                   expert_batch=rep["batch_size"], iterations=profile.iterations if gpu else preset.iterations,
                   net_width=profile.net_width, distill=shared, experts_optimizer=rep["optimizer"],
                   expert_settings=expert_settings)


def expert_config(scale: TMScale, stage: str) -> ExpertConfig:
    """The :class:`~ltdd.distill.experts.ExpertConfig` of one stage at ``scale``: its epochs, learning rate, batch and
    optimiser, then the stage's ``expert_settings``. Introduced in chapter 11."""
    epochs = scale.expert_epochs if stage == "representation" else scale.classifier_epochs
    common = {"lr": scale.expert_lr, "batch_size": scale.expert_batch, "optimizer": scale.experts_optimizer}
    return ExpertConfig(**{**common, **scale.expert_settings.get(stage, {}), "epochs": epochs, "stage": stage})


def train_ablation_buffers(dataset: ImageDataset, scale: TMScale, seed: int, folder: str | Path, model: str = "convnet",
                           progress: bool = False) -> tuple[ExpertBuffer, ExpertBuffer]:
    """The representation and classifier experts of one seed (resumable: finished experts are kept).
    Introduced in chapter 11."""
    folder = Path(folder)
    options = {} if scale.net_width is None else {"width": scale.net_width}
    rep = train_buffer(dataset, folder / "representation", scale.experts, expert_config(scale, "representation"),
                       model, options, 1000 * seed, progress=progress)
    cls = train_buffer(dataset, folder / "classifier", scale.experts, expert_config(scale, "classifier"), model,
                       options, 1000 * seed, representation=rep.path, progress=progress)
    return rep, cls


def distill_row(dataset: ImageDataset, spec: Mapping, scale: TMScale, buffers: tuple[ExpertBuffer, ExpertBuffer],
                seed: int, model: str = "convnet", iterations: int | None = None, progress: bool = False):
    """Distil one ablation row from the seed's buffers; returns the distiller (its set and its history).
    Introduced in chapter 11."""
    rep, cls = buffers
    settings = {**scale.distill, **spec.get("settings", {}), "ipc": scale.ipc, "buffer": str(rep.path),
                "model": model, "net_width": scale.net_width}
    if spec["method"] == "ltdd":
        settings["classifier_buffer"] = str(cls.path)
    distiller = make_distiller(spec["method"], dataset, seed=seed, **settings)
    distiller.losses = []
    distiller.run(scale.iterations if iterations is None else iterations,
                  callbacks=(lambda d, m: d.losses.append(m["loss"]),), progress=progress)
    return distiller


def evaluate_tm(synthetic: SyntheticSet, dataset: ImageDataset, profile: Profile, scale: TMScale, seed: int,
                networks: int | None = None, progress: bool = False):
    """Train networks on a trajectory-matching set at the step size it learned (``EVAL_PROTOCOLS["datm"]``: MTT's
    evaluation at batch 128, as DATM/LTDD) for the profile's epochs; returns the report and its shot-group and
    head/tail accuracies. Introduced in chapter 10."""
    config = eval_config("datm", profile, learned_lr=synthetic.learned_lr)
    options = {} if scale.net_width is None else {"width": scale.net_width}
    images, labels = synthetic.training_pairs()
    report = evaluate_training_set(images, labels.detach(), dataset, profile.model, networks or profile.eval_seeds,
                                   config, seed, progress, options)
    return report, long_tail_groups(report.per_class, dataset.train.class_counts(dataset.num_classes))


def compare_grad_modes(dataset: ImageDataset, spec: Mapping, scale: TMScale,
                       buffers: tuple[ExpertBuffer, ExpertBuffer], profile: Profile, seed: int = 0,
                       modes: Sequence[str] = ("tesla", "exact"), model: str = "convnet",
                       iterations: int | None = None, networks: int | None = None) -> dict[str, dict]:
    """Distil one ablation row with each gradient mode (:mod:`ltdd.distill.unroll`) from the same buffers and
    seed, so that the gradient is the only difference, and evaluate each set as :func:`evaluate_tm` does.

    Returns ``{mode: {"accuracy", "tail", "learned_lr", "peak_saved_mb", "seconds_per_iteration"}}``:
    ``peak_saved_mb`` is the peak of the tensors autograd kept for the backward passes
    (:class:`~ltdd.distill.unroll.SavedTensorMeter`, any device) over the distillation, and the time is the
    wall-clock time of the iterations (initialisation excluded) divided by their number. Introduced in chapter 11."""
    unknown = [mode for mode in modes if mode not in GRAD_MODES]
    if unknown or not modes:
        raise ValueError(f"modes must be a non-empty list of {list(GRAD_MODES)}, got {list(modes)!r}")
    count = scale.iterations if iterations is None else iterations
    _check_iterations(count)
    results = {}
    for mode in modes:
        mode_scale = dataclasses.replace(scale, distill={**scale.distill, "grad_mode": mode})
        distiller = distill_row(dataset, spec, mode_scale, buffers, seed, model, iterations=0)
        started = time.perf_counter()
        with SavedTensorMeter() as meter:
            distiller.run(count, progress=False)
        seconds = time.perf_counter() - started
        synthetic = distiller.synthetic
        report, groups = evaluate_tm(synthetic, dataset, profile, mode_scale, seed, networks)
        results[mode] = {"accuracy": report.mean, "tail": groups["halves"]["tail"],
                         "learned_lr": synthetic.learned_lr, "peak_saved_mb": meter.peak / 1e6,
                         "seconds_per_iteration": seconds / count}
    return results


def _check_iterations(count) -> None:
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"iterations must be a positive int, got {count!r}")


ABLATION_KEYS = ("dataset", "dataset_options", "profile", "scale", "eval_epochs", "model", "rows")


def tm_ablation(dataset: ImageDataset, profile: Profile | None = None, seeds: Sequence[int] = (0,),
                rows: Mapping[str, Mapping] = ABLATION_ROWS, scale: TMScale | None = None,
                workdir: str | Path = "tm_ablation", out: str | Path | None = None, resume: bool = False,
                networks: int | None = None, record: Mapping | None = None, progress: bool = True) -> Study:
    """Run every row at every seed (see the module docstring); chapter 11 runs it live and records it with
    ``python -m ltdd tm-ablation``. Buffers go to ``workdir/seed_<s>``; with ``out`` the study is saved after every
    row and ``resume=True`` runs only what the file lacks, refusing a file written with other settings
    (:func:`ltdd.studies.runner.run_study`)."""
    profile = profile or get_profile()
    scale = scale or scale_for(profile)
    settings = {"dataset": dataset.name, "dataset_options": dict(dataset.options), "profile": profile.name,
                "scale": dataclasses.asdict(scale), "eval_epochs": profile.eval_epochs, "model": profile.model,
                "rows": {k: dict(v) for k, v in rows.items()}, "networks": networks or profile.eval_seeds,
                "seeds": list(seeds), "imbalance": dataset.info.get("imbalance")}

    def build_row(label: str, seed: int, shared: dict) -> dict:
        """One row at one seed; the seed's expert buffers are trained by its first row and shared."""
        spec = rows[label]
        started = time.perf_counter()
        if "buffers" not in shared:
            shared["buffers"] = train_ablation_buffers(dataset, scale, seed, Path(workdir) / f"seed_{seed}",
                                                       profile.model)
        experts_seconds = time.perf_counter() - started
        distiller = distill_row(dataset, spec, scale, shared["buffers"], seed, profile.model)
        synthetic = distiller.synthetic
        distilled = time.perf_counter()
        report, groups = evaluate_tm(synthetic, dataset, profile, scale, seed, networks)
        return {"label": label, "plan": spec["method"], "seed": seed, "accuracy": report.mean,
                "network_std": report.std, "per_class": report.per_class, "groups": groups,
                "size": {"images": len(synthetic)}, "learned_lr": synthetic.learned_lr,
                "losses": [round(v, 5) for v in distiller.losses],
                "label_confidence": soft_label_confidence(synthetic),
                "seconds": {"experts": round(experts_seconds, 2),
                            "distill": round(distilled - started - experts_seconds, 2),
                            "evaluate": round(time.perf_counter() - distilled, 2)}}

    return run_study(rows, seeds, build_row, out, resume, study=Study([], settings), keys=ABLATION_KEYS,
                     record=record, progress=progress, desc="trajectory-matching ablation",
                     start_seed=lambda seed: {})


def _learned_lr(study: Study, label: str) -> str:
    return f"{study.mean_std(label, 'learned_lr')[0]:.3g}"


def ablation_table(study: Study, keys: Sequence[tuple[str, str]] = HALF_COLUMNS) -> str:
    """A markdown table of an ablation: mean ± std over seeds (in %) of each ``(column, key)``, and the step
    size the sets learned (:func:`ltdd.studies.study.study_table` with those columns). Introduced in chapter 11."""
    return study_table(study, keys, decimals=1, after=(("learned α", _learned_lr), ("seeds", seed_count)))


# ---------------------------------------------------------------------------------------- diagnostics
def expert_weight_norms(buffer: ExpertBuffer, template: torch.nn.Module, expert: int = 0,
                        epoch: int = -1) -> list[float]:
    """:func:`~ltdd.diagnostics.classifier_weight_norms` of expert ``expert`` after ``epoch`` (default: the
    last): ‖w_c‖ per class (LTDD Fig. 2: the head classes get the larger norms when the network trained on
    long-tailed data). Introduced in chapter 11."""
    from ..distill.tm import expert_network

    return classifier_weight_norms(expert_network(template, buffer, expert, epoch))


def soft_label_confidence(synthetic: SyntheticSet) -> list[float]:
    """Per class, the mean probability a set's labels give to the image's own class (LTDD Fig. 5: experts
    trained on long-tailed data are less sure of tail classes). Hard labels give 1.0.

    An image's own class is the class it was made for: trajectory matching stores its images class by class,
    the same number per class, so a soft-labelled set must have that layout.
    Introduced in chapter 11.
    """
    num_classes = synthetic.num_classes
    if synthetic.labels.ndim == 1:
        return [1.0] * num_classes
    if len(synthetic) % num_classes:
        raise ValueError(f"synthetic must hold the same number of images for every class, stored class by class; "
                         f"got {len(synthetic)} images for {num_classes} classes")
    own_class = torch.arange(num_classes, device=synthetic.labels.device).repeat_interleave(
        len(synthetic) // num_classes)
    own = synthetic.labels.gather(1, own_class[:, None]).squeeze(1)
    return own.reshape(num_classes, -1).mean(dim=1).tolist()


def expert_confidence(buffer: ExpertBuffer, template: torch.nn.Module, dataset: ImageDataset,
                      experts: int | None = None) -> list[float]:
    """Per class, the mean softmax probability the first ``experts`` experts (default: all; last epoch,
    averaged over experts) give to the true class on the balanced test set (LTDD Fig. 5). Introduced in chapter 11."""
    from ..distill.tm import expert_network

    count = len(buffer) if experts is None else experts
    if not isinstance(count, int) or not 1 <= count <= len(buffer):
        raise ValueError(f"experts must be an int in [1, {len(buffer)}] (the buffer's experts) or None, "
                         f"got {experts!r}")
    total = torch.zeros(dataset.num_classes)
    images, labels = dataset.test.images, dataset.test.labels.cpu()
    for k in range(count):
        with torch.no_grad():
            probs = F.softmax(expert_network(template, buffer, k)(images), dim=1).cpu()
        own = probs.gather(1, labels[:, None]).squeeze(1)
        total += torch.stack([own[labels == c].mean() for c in range(dataset.num_classes)])
    return (total / count).tolist()


__all__ = ["ABLATION_ROWS", "ablation_table", "TMScale", "TM_SCALE", "compare_grad_modes", "distill_row",
           "evaluate_tm", "expert_config", "expert_confidence",
           "expert_weight_norms", "scale_for", "soft_label_confidence", "tm_ablation", "train_ablation_buffers"]
