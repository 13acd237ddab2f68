"""The evaluation protocols of the papers, named, in one place.

A distilled (or rebalanced) set is judged by training fresh networks on it; how they train is the protocol. The
papers differ in batch size, epochs, augmentation and step size, and comparing numbers across them needs the
recipe to be explicit. :data:`EVAL_PROTOCOLS` holds each recipe as its source states it; :func:`eval_config`
scales it to a :class:`~ltdd.config.Profile` (its ``eval_epochs``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import Profile
from ..train import TrainConfig


@dataclass(frozen=True)
class EvalProtocol:
    """One paper's evaluation: the training recipe as published, where it comes from, and whether the learning
    rate is the one the set learned (trajectory matching) rather than ``config.lr``. Machinery behind chapter 05
    and every later chapter that evaluates a set."""

    config: TrainConfig
    source: str
    """The paper and code file the recipe is read from."""
    learned_lr: bool = False
    """``True``: the network trains at the step size the distillation learned (``config.lr`` when it has none)."""


EVAL_PROTOCOLS: dict[str, EvalProtocol] = {
    "dc": EvalProtocol(
        TrainConfig(epochs=300, lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=256, dsa=False),
        "DC (Zhao et al., ICLR 2021), code main.py + utils.evaluate_synset: epoch_eval_train 300 without "
        "augmentation (get_daparam augments MNIST only), SGD 0.01, momentum 0.9, wd 5e-4, batch_train 256, ×0.1 "
        "at half"),
    "dm": EvalProtocol(
        TrainConfig(epochs=1000, lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=256, dsa=True),
        "DSA (ICML 2021) and DM (WACV 2023), code utils.evaluate_synset (main_DM.py defaults): epoch_eval_train "
        "1000, SGD 0.01, momentum 0.9, wd 5e-4, batch_train 256, DSA, ×0.1 at epoch E//2+1"),
    "mtt": EvalProtocol(
        TrainConfig(epochs=1000, lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=256, dsa=True),
        "MTT (Cazenavette et al., CVPR 2022), code utils.evaluate_synset: epoch_eval_train 1000 at the learned "
        "syn_lr, momentum 0.9, wd 5e-4, batch_train 256, DSA, ×0.1 at epoch 501", learned_lr=True),
    "datm": EvalProtocol(
        TrainConfig(epochs=1000, lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=128, dsa=True),
        "DATM (Guo et al., ICLR 2024) and LTDD (Zhao et al., 2024), code utils/utils_baseline.evaluate_synset: "
        "epoch_eval_train 1000 at the learned syn_lr, momentum 0.9, wd 5e-4, batch_train 128, DSA, ×0.1 at "
        "epoch 501", learned_lr=True),
    "crlt_dd": EvalProtocol(
        TrainConfig(epochs=500, lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=128, dsa=True),
        "CRLT-DD (Hu & Guo, 2023), Sec. IV-A and code utils.evaluate_synset: 500 epochs, SGD 0.01, momentum 0.9, "
        "wd 5e-4, batch 128, DSA on every batch, ×0.1 at epochs//2+1"),
    "crlt_dd_baseline": EvalProtocol(
        TrainConfig(epochs=300, lr=0.01, batch_size=256, dsa=False, schedule="constant"),
        "CRLT-DD's code baseline.py (the whole long-tailed set): 300 epochs, lr 0.01, batch 256, no "
        "augmentation"),
}
"""Name → the evaluation recipe of a paper's code, with its source (see ``source`` of each entry). Each
distillation chapter evaluates with its papers' protocol at the profile's scale: chapters 05–07 ``"dm"``, chapter
08 (Biased-DD's "default settings of DC, DSA and DM") ``"dc"`` and ``"dm"``, chapter 09 ``"crlt_dd"``, chapters
10–11 ``"datm"``; ``python -m ltdd evaluate`` trains with ``"dm"``, or ``"mtt"`` for a set that learned its step
size."""


def check_protocol(name: str) -> EvalProtocol:
    """The protocol called ``name`` (chapter 05 names the first, DM's); an unknown name is a ``ValueError`` listing
    the known ones."""
    if name not in EVAL_PROTOCOLS:
        raise ValueError(f"protocol {name!r} is unknown; choose one of {sorted(EVAL_PROTOCOLS)}")
    return EVAL_PROTOCOLS[name]


def eval_config(name: str, profile: Profile | None = None, epochs: int | None = None,
                learned_lr: float | None = None) -> TrainConfig:
    """The :class:`~ltdd.train.TrainConfig` of protocol ``name`` at a scale: ``epochs`` if given, else the
    profile's ``eval_epochs``, else (no profile) the published epochs; a protocol with a learned step size trains
    at ``learned_lr`` (its ``config.lr`` when ``None``).

    Chapter 05 introduces the evaluation of a distilled set; every study and ``python -m ltdd evaluate`` take
    their recipe from here."""
    protocol = check_protocol(name)
    if epochs is None:
        epochs = protocol.config.epochs if profile is None else profile.eval_epochs
    lr = learned_lr if protocol.learned_lr and learned_lr else protocol.config.lr
    return dataclasses.replace(protocol.config, epochs=epochs, lr=lr)
