"""The published settings of MTT, DATM and LTDD as presets for :mod:`ltdd.distill.tm` and :mod:`ltdd.distill.experts`.

``tm_preset("ltdd", "cifar10-lt", ipc=50, imbalance=100)`` returns a :class:`Preset`: the distiller settings
(:class:`~ltdd.distill.tm.TMConfig` fields), the expert settings of each stage
(:class:`~ltdd.distill.experts.ExpertConfig` fields), the dataset options (imbalance, ZCA) and where the numbers come
from. Sources: MTT's hyperparameter table (as transcribed from the author), DATM's configs
(``configs/<dataset>/ConvIN/IPC*.yaml``, state of 2024-05-23) and LTDD's configs (``configs/CIFAR-10``,
``CIFAR-100`` and ``TinyImageNet``, state of 2025-08-13); see ``shared/reference/tm_family.md``.

What the presets take from the code, beyond the numbers of the config files:

* **The gradient.** LTDD's only distillation script (``DAM-ED_tesla.py``) differentiates with TESLA's
  truncation, so every LTDD preset has ``grad_mode="tesla"``; ``grad_mode="exact"`` is the exact gradient of
  the same loss, at the same constant memory (``--option grad_mode=exact``). DATM's presets follow
  ``DATM.py``, which backpropagates through every step: ``"exact"`` computes that gradient.
* **The soft labels with real-image initialisation** (``pix_init: real``: every LTDD CIFAR-100-LT and
  Tiny-ImageNet-LT config, DATM's CIFAR-100 IPC 50): the code takes the logits of *one* expert, the first
  classifier expert under LTDD, right or wrong, not the mean over the experts that classify the image
  correctly. These presets have ``label_rule="first"``.
* **The synthetic batch.** ``batch_syn`` is the config's value where it is smaller than the synthetic set, and
  ``None`` (every image, as the code does when ``batch_syn`` is larger) otherwise.
* **Sequential Generation** is on by default in both codes (``cfg.py``): a DATM config that omits the switch
  grows its window (CIFAR-10 IPC 50, CIFAR-100 IPC 1, Tiny IPC 1).

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

from ..markdown import markdown_table

MTT_EXPERTS = {"epochs": 50, "lr": 0.01, "momentum": 0.0, "weight_decay": 0.0, "batch_size": 256, "dsa": True,
               "optimizer": "sgd"}
GSAM_EXPERTS = {**MTT_EXPERTS, "epochs": 100, "optimizer": "gsam", "gsam_rho": 0.01, "gsam_alpha": 0.3,
                "gsam_adaptive": True}
LTDD_EXPERTS = {"representation": {**GSAM_EXPERTS, "weight_decay": 5e-3},
                "classifier": {**GSAM_EXPERTS, "epochs": 10, "weight_decay": 0.0, "stage": "classifier",
                               "per_draw": 4}}
ZCA_EPS = 0.1
CLASSES = {"cifar10": 10, "cifar10-lt": 10, "cifar100": 100, "cifar100-lt": 100, "tinyimagenet": 200,
           "tinyimagenet-lt": 200}
LTDD_REPO = "LTDD config configs/"
DATM_REPO = "DATM config configs/"


@dataclass(frozen=True)
class Preset:
    """One published setting: what to distil with, how the experts were trained, on which data.

    Machinery behind chapter 10."""

    method: str
    dataset: str
    ipc: int
    imbalance: float | None
    settings: dict
    experts: dict
    """Stage → :class:`~ltdd.distill.experts.ExpertConfig` fields."""
    dataset_options: dict
    source: str
    flag: str | None = None
    iterations: int = 10000
    notes: list[str] = field(default_factory=list)

    @property
    def model(self) -> str:
        """The network the experts and the student use (ConvNet-3, or ConvNetD4 on Tiny ImageNet)."""
        return self.settings.get("model", "convnet")


def _batch(batch_syn: int | None, dataset: str, ipc: int) -> int | None:
    """The config's ``batch_syn``, or ``None`` where it covers the whole synthetic set (as the code then does)."""
    return None if batch_syn is None or batch_syn >= CLASSES[dataset] * ipc else batch_syn


def _mtt(dataset, ipc, steps, expert_epochs, max_start, lr_img, lr_lr, lr_teacher, zca, batch_syn=None):
    return Preset("mtt", dataset, ipc, None,
                  {"syn_steps": steps, "expert_epochs": expert_epochs, "max_start_epoch": max_start, "lr_img": lr_img,
                   "lr_lr": lr_lr, "lr_teacher": lr_teacher, "batch_syn": _batch(batch_syn, dataset, ipc)},
                  {"representation": dict(MTT_EXPERTS)}, {"zca": ZCA_EPS} if zca else {},
                  "MTT hyperparameter table (third-party transcription of the author's values)", iterations=5000)


def _datm(dataset, ipc, lr_img, lr_lr, lr_y, threshold, window, batch_syn=None, init="correct", steps=80,
          expert_epochs=2, file=None):
    low, high, current, expansion = window
    folder = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "tinyimagenet": "TinyImageNet"}[dataset]
    settings = {"syn_steps": steps, "expert_epochs": expert_epochs, "min_start_epoch": low, "max_start_epoch": high,
                "current_max_start_epoch": current, "expansion_end": expansion or 0, "lr_img": lr_img,
                "lr_lr": lr_lr, "lr_teacher": 0.01, "lr_y": lr_y, "threshold": threshold,
                "batch_syn": _batch(batch_syn, dataset, ipc), "init": init, "soft_labels": True,
                "label_rule": "first" if init == "real" else "correct", "grad_mode": "exact"}
    notes = []
    if dataset == "tinyimagenet":
        settings["model"] = "convnetd4"
        notes.append("DATM's README gives the expert command for CIFAR-10 only; the preset assumes the same "
                     "expert settings, with ConvNetD4")
    return Preset("datm", dataset, ipc, None, settings, {"representation": dict(GSAM_EXPERTS)}, {"zca": ZCA_EPS},
                  f"{DATM_REPO}{folder}/ConvIN/{file or f'IPC{ipc}.yaml'}", notes=notes)


def _ltdd(dataset, beta, ipc, file, *, steps, steps_second, lr_img, lr_lr, lr_y, window, lambda_rep, lambda_cls,
          init, batch_syn, flag=None, iterations=10000, model=None):
    low, high, current, expansion = window
    settings = {"syn_steps": steps, "syn_steps_second": steps_second, "expert_epochs": 2, "min_start_epoch": low,
                "max_start_epoch": high, "current_max_start_epoch": current, "expansion_end": expansion or 0,
                "lr_img": lr_img, "lr_lr": lr_lr, "lr_teacher": 0.01, "lr_y": lr_y, "init": init,
                "init_experts": 1, "short_class": "duplicate", "soft_labels": True,
                "label_rule": "first" if init == "real" else "correct", "batch_syn": _batch(batch_syn, dataset, ipc),
                "grad_mode": "tesla", "dam": True, "dam_lambda": 0.0, "dam_normalize": False,
                "dam_weighting": "column", "decoupled": True, "lambda_rep": lambda_rep, "lambda_cls": lambda_cls,
                "second_max_start_epoch": 1, "second_expert_epochs": 2, "threshold": None}
    if model is not None:
        settings["model"] = model
    return Preset("ltdd", dataset, ipc, beta, settings, {stage: dict(values) for stage, values in LTDD_EXPERTS.items()},
                  {"imbalance": beta, "zca": ZCA_EPS}, LTDD_REPO + file, flag=flag, iterations=iterations)


def _ltdd10(beta, ipc, steps_second, lr_img, window, lambda_rep, lambda_cls, flag=None):
    """CIFAR-10-LT: ``CIFAR-10/ConvIN/imbrate_<1/β>/lt_ipc<IPC>_weighted_loss_match_both.yaml``."""
    rate = {10: "01", 50: "002", 100: "001", 200: "0005"}[beta]
    return _ltdd("cifar10-lt", beta, ipc, f"CIFAR-10/ConvIN/imbrate_{rate}/lt_ipc{ipc}_weighted_loss_match_both.yaml",
                 steps=80, steps_second=steps_second, lr_img=lr_img, lr_lr=1e-5, lr_y=2.0, window=window,
                 lambda_rep=lambda_rep, lambda_cls=lambda_cls, init="correct", batch_syn=500, flag=flag)


def _ltdd100(beta, ipc):
    """CIFAR-100-LT: ``CIFAR-100/ConvIN/imbrate_01/lt_ipc*.yaml`` (β = 10), ``imbrate005/{ipc10,ipc20,IPC50}.yaml``
    (β = 20)."""
    file = f"imbrate_01/lt_ipc{ipc}.yaml" if beta == 10 else f"imbrate005/{'IPC' if ipc == 50 else 'ipc'}{ipc}.yaml"
    window = (30, 50, None, None) if (beta, ipc) == (10, 10) else (20, 70, None, None)
    return _ltdd("cifar100-lt", beta, ipc, "CIFAR-100/ConvIN/" + file, steps=40, steps_second=20, lr_img=1000.0,
                 lr_lr=1e-5, lr_y=10.0, window=window, lambda_rep=1.0, lambda_cls=0.1, init="real", batch_syn=1000)


def _ltdd_tiny(beta, ipc):
    """Tiny-ImageNet-LT (ConvNetD4, 64 px): ``TinyImageNet/ConvIN/imbrate01`` (β = 10), ``imbrate005`` (β = 20)."""
    file = f"TinyImageNet/ConvIN/imbrate{'01' if beta == 10 else '005'}/IPC{ipc}.yaml"
    steps = {10: 25, 20: 20, 50: 10}[ipc]
    return _ltdd("tinyimagenet-lt", beta, ipc, file, steps=steps, steps_second=steps, lr_img=100.0,
                 lr_lr=1e-5 if ipc == 50 else 1e-4, lr_y=10.0,
                 window=(40, 70, None, None) if ipc == 50 else (10, 50, None, None), lambda_rep=1.0, lambda_cls=0.1,
                 init="real", batch_syn=1000 if ipc == 50 else 500, model="convnetd4",
                 iterations=1500 if (beta, ipc) == (20, 50) else 10000)


PRESETS: list[Preset] = [
    _mtt("cifar10", 1, 50, 2, 2, 100.0, 1e-7, 0.01, True),
    _mtt("cifar10", 10, 30, 2, 20, 100.0, 1e-5, 0.001, True),
    _mtt("cifar10", 50, 30, 2, 40, 1000.0, 1e-5, 0.001, False),
    _mtt("cifar100", 1, 20, 3, 20, 1000.0, 1e-5, 0.01, True),
    _mtt("cifar100", 10, 20, 2, 20, 1000.0, 1e-5, 0.01, False),
    _mtt("cifar100", 50, 80, 2, 40, 1000.0, 1e-5, 0.01, True, batch_syn=125),
    _datm("cifar10", 1, 100.0, 1e-7, 5.0, 1.1, (0, 4, None, None), batch_syn=10),
    _datm("cifar10", 10, 100.0, 1e-5, 2.0, 1.0, (0, 20, 10, 1000), batch_syn=100),
    _datm("cifar10", 50, 1000.0, 1e-5, 2.0, 1.0, (0, 40, 20, 2000), batch_syn=500),
    _datm("cifar100", 1, 1000.0, 1e-5, 10.0, 1.0, (0, 20, 10, 1000), batch_syn=1000, steps=40, expert_epochs=3),
    _datm("cifar100", 10, 1000.0, 1e-5, 10.0, 1.0, (0, 50, 30, 2000), batch_syn=1000),
    _datm("cifar100", 50, 1000.0, 1e-5, 10.0, 1.0, (20, 70, None, None), batch_syn=1000, init="real"),
    _datm("tinyimagenet", 1, 10000.0, 1e-4, 10.0, 1.0, (0, 20, 15, 2000), batch_syn=1000, steps=40),
    _datm("tinyimagenet", 10, 100.0, 1e-4, 10.0, 1.0, (10, 50, None, None), batch_syn=500, steps=40),
    _datm("tinyimagenet", 50, 100.0, 1e-4, 10.0, 1.0, (40, 70, None, None), batch_syn=1000, steps=20),
    _ltdd10(10, 10, 80, 100.0, (0, 20, 10, 1000), 1.0, 0.2,
            flag="as shipped, Sequential Generation with a classifier-phase window [0, 0) crashes at iteration 0 "
                 "(randint(0, 0)); this preset starts the classifier phase at epoch 0 like every other config "
                 "(the author's advice in LTDD issue #1 also suggests lambda_cls 0.1)"),
    _ltdd10(10, 20, 80, 100.0, (0, 40, None, None), 1.0, 0.2),
    _ltdd10(10, 50, 80, 1000.0, (0, 40, None, None), 1.0, 0.2),
    _ltdd10(50, 10, 80, 100.0, (0, 20, None, None), 1.0, 0.5),
    _ltdd10(50, 20, 80, 100.0, (0, 20, 10, 2000), 0.5, 1.0),
    _ltdd10(50, 50, 80, 100.0, (0, 40, 20, 2000), 0.5, 1.0,
            flag="as shipped, the file sets imbalance rate 0.01 and loads the beta = 100 buffers, and its "
                 "classifier-phase window crashes at iteration 0; this preset uses beta = 50 data and experts "
                 "and starts the classifier phase at epoch 0"),
    _ltdd10(100, 10, 80, 100.0, (0, 20, None, None), 0.5, 1.0),
    _ltdd10(100, 20, 80, 100.0, (0, 20, 10, 2000), 0.5, 1.0),
    _ltdd10(100, 50, 60, 1000.0, (0, 40, None, None), 1.0, 0.5),
    _ltdd10(200, 10, 80, 100.0, (0, 20, None, None), 0.1, 1.0),
    _ltdd10(200, 20, 80, 1000.0, (0, 40, None, None), 0.1, 1.0),
    _ltdd10(200, 50, 80, 1000.0, (0, 40, None, None), 0.1, 1.0,
            flag="as shipped, the file for IPC 50 says ipc: 20; this preset uses IPC 50"),
    *[_ltdd100(beta, ipc) for beta in (10, 20) for ipc in (10, 20, 50)],
    *[_ltdd_tiny(beta, ipc) for beta in (10, 20) for ipc in (10, 20, 50)],
]


TM_METHODS = ("mtt", "datm", "ltdd")


def find_preset(method: str, dataset: str, ipc: int, imbalance: float | None = None) -> Preset | None:
    """:func:`tm_preset`, or ``None`` where no published setting exists (the ``paper`` profile's look-up).

    Machinery behind chapter 10."""
    key = (str(method).lower(), str(dataset).lower(), ipc, None if imbalance is None else float(imbalance))
    if not any(_key(p) == key for p in PRESETS):
        return None
    return tm_preset(method, dataset, ipc, imbalance)


def _key(preset: Preset) -> tuple:
    return (preset.method, preset.dataset, preset.ipc, None if preset.imbalance is None else float(preset.imbalance))


def tm_preset(method: str, dataset: str, ipc: int, imbalance: float | None = None) -> Preset:
    """The published setting for ``method`` on ``dataset`` at ``ipc`` (and imbalance factor β for the
    long-tailed sets). Warns (``UserWarning``) when the preset corrects an inconsistent original config.

    Introduced in chapter 10."""
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
    """A markdown table of the presets (one method or all), flagged ones marked. "labels": how the soft labels
    start (mean of the correct experts, or the first expert's logits); "grad": the gradient mode.

    Introduced in chapter 10."""
    header = ["method", "dataset", "β", "IPC", "model", "N / N₂", "M", "window", "lr_img", "lr_lr", "α₀", "lr_y",
              "labels", "batch_syn", "gate", "λ_rep / λ_cls", "grad", "ZCA", "iterations", "flag"]
    rows = []
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
        soft = s.get("soft_labels")
        cells = [p.method, p.dataset, p.imbalance or "–", p.ipc, p.model, steps, s["expert_epochs"], window,
                 f"{s['lr_img']:g}", f"{s['lr_lr']:g}", f"{s['lr_teacher']:g}", f"{s['lr_y']:g}" if soft else "–",
                 ("one expert" if s.get("label_rule") == "first" else "correct experts") if soft else "hard",
                 s.get("batch_syn") or "all", s.get("threshold") or "–", lambdas, s.get("grad_mode", "exact"),
                 "yes" if "zca" in p.dataset_options else "no", p.iterations, "⚠ corrected" if p.flag else ""]
        rows.append(cells)
    return markdown_table(header, rows)


__all__ = ["PRESETS", "Preset", "TM_METHODS", "find_preset", "preset_table", "tm_preset"]
