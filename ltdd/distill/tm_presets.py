"""The published settings of MTT, DATM and LTDD as presets for :mod:`ltdd.distill.tm` and :mod:`ltdd.experts`.

``tm_preset("ltdd", "cifar10-lt", ipc=50, imbalance=100)`` returns a :class:`Preset`: the distiller settings
(:class:`~ltdd.distill.tm.TMConfig` fields), the expert settings of each stage
(:class:`~ltdd.experts.ExpertConfig` fields), the dataset options (imbalance, ZCA) and where the numbers come
from. Sources: MTT's hyperparameter table (as transcribed from the author), DATM's configs, LTDD's configs
(``configs/CIFAR-10/ConvIN/imbrate_*``, state of 2025-08-13); see ``shared/reference/tm_family.md``.

Three LTDD CIFAR-10-LT configs are inconsistent as shipped. Their presets are **not** copies: each carries a
``flag`` saying what was wrong and what the preset does instead, and :func:`tm_preset` warns when it returns one.

* β = 10, IPC 10 — Sequential Generation with a classifier-phase window whose first upper end is 0
  (``randint(0, 0)``): the script crashes at iteration 0. The preset keeps the classifier phase at epoch 0, as
  every other config.
* β = 50, IPC 50 — the file sets imbalance rate 0.01 and points at the β = 100 buffers, and has the same crash.
  The preset uses β = 50 data and experts and the fixed classifier window.
* β = 200, IPC 50 — the file says ``ipc: 20``. The preset uses IPC 50.

Every LTDD preset uses DAM as the code does (raw class frequencies, ``dam_normalize=False``, λ = 0).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

MTT_EXPERTS = {"epochs": 50, "lr": 0.01, "momentum": 0.0, "weight_decay": 0.0, "batch_size": 256, "dsa": True,
               "optimizer": "sgd"}
GSAM_EXPERTS = {**MTT_EXPERTS, "epochs": 100, "optimizer": "gsam", "gsam_rho": 0.01, "gsam_alpha": 0.3,
                "gsam_adaptive": True}
LTDD_EXPERTS = {"representation": {**GSAM_EXPERTS, "weight_decay": 5e-3},
                "classifier": {**GSAM_EXPERTS, "epochs": 10, "weight_decay": 0.0, "stage": "classifier",
                               "per_draw": 4}}
ZCA_EPS = 0.1


@dataclass(frozen=True)
class Preset:
    """One published setting: what to distil with, how the experts were trained, on which data."""

    method: str
    dataset: str
    ipc: int
    imbalance: float | None
    settings: dict
    experts: dict
    """Stage → :class:`~ltdd.experts.ExpertConfig` fields."""
    dataset_options: dict
    source: str
    flag: str | None = None
    iterations: int = 10000
    notes: list[str] = field(default_factory=list)


def _mtt(dataset, ipc, steps, expert_epochs, max_start, lr_img, lr_lr, lr_teacher, zca, batch_syn=None):
    return Preset("mtt", dataset, ipc, None,
                  {"syn_steps": steps, "expert_epochs": expert_epochs, "max_start_epoch": max_start, "lr_img": lr_img,
                   "lr_lr": lr_lr, "lr_teacher": lr_teacher, "batch_syn": batch_syn},
                  {"representation": dict(MTT_EXPERTS)}, {"zca": ZCA_EPS} if zca else {},
                  "MTT hyperparameter table (third-party transcription of the author's values)", iterations=5000)


def _datm(dataset, ipc, lr_img, lr_lr, lr_y, threshold, window, batch_syn=None, init="correct"):
    low, high, current, expansion = window
    return Preset("datm", dataset, ipc, None,
                  {"syn_steps": 80, "expert_epochs": 2, "min_start_epoch": low, "max_start_epoch": high,
                   "current_max_start_epoch": current, "expansion_end": expansion or 0, "lr_img": lr_img,
                   "lr_lr": lr_lr, "lr_teacher": 0.01, "lr_y": lr_y, "threshold": threshold, "batch_syn": batch_syn,
                   "init": init, "soft_labels": True},
                  {"representation": dict(GSAM_EXPERTS)}, {"zca": ZCA_EPS}, "DATM configs (CIFAR)")


def _ltdd10(beta, ipc, steps_second, lr_img, window, lambda_rep, lambda_cls, flag=None):
    low, high, current, expansion = window
    return Preset("ltdd", "cifar10-lt", ipc, beta,
                  {"syn_steps": 80, "syn_steps_second": steps_second, "expert_epochs": 2, "min_start_epoch": low,
                   "max_start_epoch": high, "current_max_start_epoch": current, "expansion_end": expansion or 0,
                   "lr_img": lr_img, "lr_lr": 1e-5, "lr_teacher": 0.01, "lr_y": 2.0, "init": "correct",
                   "init_experts": 1, "short_class": "duplicate", "soft_labels": True, "dam": True,
                   "dam_lambda": 0.0, "dam_normalize": False, "dam_weighting": "column", "decoupled": True,
                   "lambda_rep": lambda_rep, "lambda_cls": lambda_cls, "second_max_start_epoch": 1,
                   "second_expert_epochs": 2, "threshold": None},
                  {stage: dict(values) for stage, values in LTDD_EXPERTS.items()},
                  {"imbalance": beta, "zca": ZCA_EPS},
                  f"LTDD config CIFAR-10/ConvIN/imbrate_{1 / beta:g}/lt_ipc{ipc}_weighted_loss_match_both.yaml",
                  flag=flag)


def _ltdd100(beta, ipc):
    low, high = (30, 50) if (beta, ipc) == (10, 10) else (20, 70)
    preset = _ltdd10(beta, ipc, 20, 1000.0, (low, high, None, None), 1.0, 0.1)
    settings = {**preset.settings, "syn_steps": 40, "lr_y": 10.0, "batch_syn": None, "init": "real"}
    return Preset("ltdd", "cifar100-lt", ipc, beta, settings, preset.experts, preset.dataset_options,
                  "LTDD CIFAR-100-LT configs (one setting listed for all IPCs; the code's labels come from one "
                  "classifier expert, here from every one)")


SG = {10: (0, 20, 10, 1000), 20: (0, 40, 20, 2000)}
"""Sequential Generation windows (low, max, first max, expansion iterations) by their final upper end."""

PRESETS: list[Preset] = [
    _mtt("cifar10", 1, 50, 2, 2, 100.0, 1e-7, 0.01, True),
    _mtt("cifar10", 10, 30, 2, 20, 100.0, 1e-5, 0.001, True),
    _mtt("cifar10", 50, 30, 2, 40, 1000.0, 1e-5, 0.001, False),
    _mtt("cifar100", 1, 20, 3, 20, 1000.0, 1e-5, 0.01, True),
    _mtt("cifar100", 10, 20, 2, 20, 1000.0, 1e-5, 0.01, False),
    _mtt("cifar100", 50, 80, 2, 40, 1000.0, 1e-5, 0.01, True, batch_syn=125),
    _datm("cifar10", 1, 100.0, 1e-7, 5.0, 1.1, (0, 4, None, None)),
    _datm("cifar10", 10, 100.0, 1e-5, 2.0, 1.0, (0, 20, 10, 1000)),
    _datm("cifar10", 50, 1000.0, 1e-5, 2.0, 1.0, (0, 40, 20, 2000)),
    _datm("cifar100", 10, 1000.0, 1e-5, 10.0, 1.0, (0, 50, 30, 2000), batch_syn=1000),
    _datm("cifar100", 50, 1000.0, 1e-5, 10.0, 1.0, (20, 70, None, None), batch_syn=1000, init="real"),
    _ltdd10(10, 10, 80, 100.0, SG[10], 1.0, 0.2,
            flag="as shipped, Sequential Generation with a classifier-phase window [0, 0) crashes at iteration 0 "
                 "(randint(0, 0)); this preset starts the classifier phase at epoch 0 like every other config "
                 "(the author's advice in LTDD issue #1 also suggests lambda_cls 0.1)"),
    _ltdd10(10, 20, 80, 100.0, (0, 40, None, None), 1.0, 0.2),
    _ltdd10(10, 50, 80, 1000.0, (0, 40, None, None), 1.0, 0.2),
    _ltdd10(50, 10, 80, 100.0, (0, 20, None, None), 1.0, 0.5),
    _ltdd10(50, 20, 80, 100.0, SG[10], 0.5, 1.0),
    _ltdd10(50, 50, 80, 100.0, SG[20], 0.5, 1.0,
            flag="as shipped, the file sets imbalance rate 0.01 and loads the beta = 100 buffers, and its "
                 "classifier-phase window crashes at iteration 0; this preset uses beta = 50 data and experts "
                 "and starts the classifier phase at epoch 0"),
    _ltdd10(100, 10, 80, 100.0, (0, 20, None, None), 0.5, 1.0),
    _ltdd10(100, 20, 80, 100.0, SG[10], 0.5, 1.0),
    _ltdd10(100, 50, 60, 1000.0, (0, 40, None, None), 1.0, 0.5),
    _ltdd10(200, 10, 80, 100.0, (0, 20, None, None), 0.1, 1.0),
    _ltdd10(200, 20, 80, 1000.0, (0, 40, None, None), 0.1, 1.0),
    _ltdd10(200, 50, 80, 1000.0, (0, 40, None, None), 0.1, 1.0,
            flag="as shipped, the file for IPC 50 says ipc: 20; this preset uses IPC 50"),
    *[_ltdd100(beta, ipc) for beta in (10, 20) for ipc in (10, 20, 50)],
]


def tm_preset(method: str, dataset: str, ipc: int, imbalance: float | None = None) -> Preset:
    """The published setting for ``method`` on ``dataset`` at ``ipc`` (and imbalance factor β for the
    long-tailed sets). Warns (``UserWarning``) when the preset corrects an inconsistent original config."""
    key = (str(method).lower(), str(dataset).lower(), ipc, None if imbalance is None else float(imbalance))
    for preset in PRESETS:
        if (preset.method, preset.dataset, preset.ipc,
                None if preset.imbalance is None else float(preset.imbalance)) == key:
            if preset.flag:
                warnings.warn(f"{method} preset for {dataset} IPC {ipc} (beta {imbalance}): {preset.flag}",
                              stacklevel=2)
            return preset
    known = sorted({(p.method, p.dataset, p.ipc, p.imbalance) for p in PRESETS if p.method == key[0]},
                   key=lambda k: (k[1], k[3] or 0, k[2]))
    raise ValueError(f"no published {method!r} setting for dataset={dataset!r}, ipc={ipc!r}, "
                     f"imbalance={imbalance!r}; known: {known}")


def preset_table(method: str | None = None) -> str:
    """A markdown table of the presets (one method or all), flagged ones marked."""
    lines = ["| method | dataset | β | IPC | N / N₂ | M | window | lr_img | lr_lr | α₀ | lr_y | batch_syn | gate "
             "| λ_rep / λ_cls | ZCA | flag |", "|---|" + "---|" * 15]
    for p in PRESETS:
        if method is not None and p.method != method:
            continue
        s = p.settings
        window = f"[{s.get('min_start_epoch', 0)}, {s['max_start_epoch']})"
        if s.get("current_max_start_epoch") is not None:
            window = (f"[{s.get('min_start_epoch', 0)}, {s['current_max_start_epoch']}→{s['max_start_epoch']} "
                      f"over {s['expansion_end']} it)")
        decoupled = s.get("decoupled", False)
        steps = f"{s['syn_steps']}" + (f" / {s['syn_steps_second']}" if decoupled else "")
        lambdas = f"{s['lambda_rep']:g} / {s['lambda_cls']:g}" if decoupled else "–"
        cells = [p.method, p.dataset, p.imbalance or "–", p.ipc, steps, s["expert_epochs"], window,
                 f"{s['lr_img']:g}", f"{s['lr_lr']:g}", f"{s['lr_teacher']:g}",
                 f"{s['lr_y']:g}" if s.get("soft_labels") else "–", s.get("batch_syn") or "all",
                 s.get("threshold") or "–", lambdas, "yes" if "zca" in p.dataset_options else "no",
                 "⚠ corrected" if p.flag else ""]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(lines)


__all__ = ["PRESETS", "Preset", "preset_table", "tm_preset"]
