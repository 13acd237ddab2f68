"""DeDM: debiased distribution matching — a first implementation of Biased-DD's "biased DD" objective.

Biased-DD (Lu et al., 2024) shows that distilling a biased set copies its bias into the synthetic images,
and proposes (its Eq. 6) to learn ``S`` by

.. math::  \\min_S \\; D(S, A_g) - \\lambda\\, D(S, A_b),

staying close to the data's *unbiased* attributes ``A_g`` while moving away from the *biased* ones ``A_b``;
it leaves the implementation to future work. DeDM builds it on DM (:mod:`ltdd.distill.dm`), with ``D`` the
squared distance of mean embeddings. For class ``c`` let ``μ_a`` be the mean embedding of its
bias-aligned real images, ``μ_x`` that of its bias-conflicting ones and ``μ_S`` that of its synthetic
images:

* ``A_g`` — the class as it would look without the bias: the conflicting and aligned means mixed with
  weights ``1 − ρ`` and ``ρ``, ``μ_g = (1 − ρ) μ_x + ρ μ_a`` (``ρ`` = ``aligned_share``, by default ``1/C``,
  the aligned share of an unbiased set), instead of DM's plain mean, in which aligned images dominate;
* ``A_b`` — the bias-aligned images, ``μ_a``.

The loss of class ``c`` is :func:`debiased_class_loss`,

.. math::  \\lVert \\mu_g - \\mu_S \\rVert^2 - \\lambda_c \\lVert \\mu_a - \\mu_S \\rVert^2 .

For ``0 ≤ λ_c < 1`` it is a convex quadratic in ``μ_S`` with its minimum at
``μ_g + λ_c/(1 − λ_c)·(μ_g − μ_a)``: the unbiased mean, pushed further away from the biased one. At
``λ ≥ 1`` it has no minimum (the images would run off to infinity), so ``λ`` must lie in ``[0, 1)``.

How hard to push (``push``): Eq. 6 has one constant ``λ`` (``push="constant"``, ``λ_c = λ``). But a class
that is *not* biased has aligned images only in their fair share, and pushing away from them then pushes the
synthetic images away from one of its colours, an artefact (measured: on unbiased coloured digits the
constant push costs accuracy). The default ``push="excess"`` scales ``λ`` by how far the batch's aligned
share ``n_a/n`` exceeds the unbiased share ``ρ``: ``λ_c = λ·clip((n_a/n − ρ)/(1 − ρ), 0, 1)`` — no push
for an unbiased class, the full ``λ`` for a fully biased one. A class whose
real batch has no aligned image gets DM's loss exactly: with no aligned image anywhere, DeDM *is* DM (it
draws the same networks, batches and augmentations as DM with the same seed, so the two can be compared
run by run).

Two variants decide which images are aligned (``bias_source``):

* ``"oracle"`` — the dataset's attribute labels (attribute = label); needs a biased dataset;
* ``"gce"`` — no attributes: a bias-capturing network trained with the generalized cross-entropy (LfF),
  whose confident, correct predictions mark the aligned images (:func:`ltdd.distill.debias.estimate_aligned`).
  It assumes the bias is the easiest cue. Without a bias to find, the network learns the task instead
  and marks the easy majority as aligned (coloured digits at ratio 0 and 0.1: about 85 % marked, 0 % and
  10 % truly aligned), and DeDM (GCE) then does far worse than DM.

Measured (``data/reference/bias_sweep_cdigits_dedm_cpu.json``, ``..._dm_cpu.json``; the constant push in
``dedm_constant_push_cdigits_cpu.json``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..config import make_generator
from ..checks import choice
from ..data import ImageDataset
from .debias import AlignedEstimate, BiasModelConfig, estimate_aligned
from .dm import DM, DMConfig
from .matching import class_means, group_of_rows

BIAS_SOURCES = ("oracle", "gce")
PUSH_MODES = ("excess", "constant")


@dataclass(frozen=True)
class DeDMConfig(DMConfig):
    """DM's setting plus the debiasing: where the aligned labels come from, ``λ`` and ``ρ``.

    Introduced in chapter 08."""

    bias_source: str = "oracle"
    """``oracle``: the attribute labels; ``gce``: estimated by a GCE-trained bias network (no attributes)."""
    push_weight: float = 0.5
    """λ of Biased-DD Eq. 6, in [0, 1): how hard the synthetic mean is pushed away from the aligned mean."""
    aligned_share: float | None = None
    """ρ: the aligned images' weight in the unbiased target; ``None``: 1 / number of classes."""
    push: str = "excess"
    """``excess``: λ scaled by the class's excess of aligned images over ρ; ``constant``: Eq. 6's one λ."""
    bias_epochs: int = 20
    """``gce`` only: epochs of the bias network."""
    gce_q: float = 0.7
    """``gce`` only: q of the generalized cross-entropy (LfF)."""
    aligned_threshold: float = 0.5
    """``gce`` only: an image is taken as aligned when the bias network gives its class more than this."""


def debiased_class_loss(real: Tensor, real_groups: Tensor, aligned: Tensor, synthetic_means: Tensor,
                        aligned_share: float, push_weight: float, push: str = "excess") -> Tensor:
    """Biased-DD Eq. 6 with the linear-kernel MMD, one value per class (see the module docstring).

    ``real`` are real features ``(n, d)``, ``real_groups`` the row of ``synthetic_means`` ``(C, d)`` each
    belongs to, ``aligned`` a boolean per real row. A class with only aligned or only conflicting rows
    targets the mean of what it has; the push term needs aligned rows, and with ``push="excess"`` more of
    them than the share ``aligned_share``.

    Introduced in chapter 08.
    """
    choice("push", push, PUSH_MODES)
    groups = len(synthetic_means)
    aligned_f = aligned.to(real.dtype)
    count_aligned = torch.zeros(groups, dtype=real.dtype, device=real.device).index_add_(0, real_groups, aligned_f)
    count_total = torch.bincount(real_groups, minlength=groups).to(real.dtype)
    count_conflicting = count_total - count_aligned
    share = torch.where(count_conflicting == 0, 1.0, torch.where(count_aligned == 0, 0.0, aligned_share))
    weight_aligned = share / count_aligned.clamp_min(1)
    weight_conflicting = (1 - share) / count_conflicting.clamp_min(1)
    row_weight = torch.where(aligned, weight_aligned[real_groups], weight_conflicting[real_groups])
    d = real.shape[1]
    target = torch.zeros(groups, d, dtype=real.dtype, device=real.device).index_add_(
        0, real_groups, real * row_weight[:, None])
    loss = (target - synthetic_means).pow(2).sum(1)
    if push_weight > 0:
        aligned_mean = torch.zeros(groups, d, dtype=real.dtype, device=real.device).index_add_(
            0, real_groups, real * (aligned_f / count_aligned.clamp_min(1)[real_groups])[:, None])
        if push == "constant":
            strength = (count_aligned > 0).to(real.dtype)
        elif aligned_share < 1:
            excess = (count_aligned / count_total.clamp_min(1) - aligned_share) / (1 - aligned_share)
            strength = excess.clamp(0, 1)
        else:
            strength = torch.zeros_like(count_aligned)
        loss = loss - push_weight * strength * (aligned_mean - synthetic_means).pow(2).sum(1)
    return loss


class DeDM(DM):
    """Debiased distribution matching (module docstring): DM with Biased-DD Eq. 6 as the loss.

    Introduced in chapter 08."""

    name = "dedm"
    Config = DeDMConfig

    def __init__(self, dataset: ImageDataset, config: DeDMConfig | None = None, seed: int = 0):
        super().__init__(dataset, config, seed)
        # DM's random stream: the same networks, real batches and augmentations as DM with this seed
        self.generator = make_generator(seed, DM.name, device=dataset.device)
        self.estimate: AlignedEstimate | None = None
        config = self.config
        if config.bias_source == "oracle":
            self.aligned = dataset.train.attributes == dataset.train.labels
        else:
            bias_config = BiasModelConfig(epochs=config.bias_epochs, q=config.gce_q,
                                          threshold=config.aligned_threshold)
            options = {} if config.net_width is None else {"width": config.net_width}
            self.estimate = estimate_aligned(dataset, bias_config, seed, config.model, options)
            self.aligned = self.estimate.aligned
        self.share = 1 / dataset.num_classes if config.aligned_share is None else config.aligned_share

    @classmethod
    def check_config(cls, config: DeDMConfig, dataset: ImageDataset) -> None:
        """Also checks the debiasing settings; ``bias_source="oracle"`` needs a dataset with bias attributes."""
        super().check_config(config, dataset)
        choice("bias_source", config.bias_source, BIAS_SOURCES)
        choice("push", config.push, PUSH_MODES)
        if not 0 <= config.push_weight < 1:
            raise ValueError(f"push_weight (λ) must lie in [0, 1), got {config.push_weight!r}: at λ ≥ 1 the "
                             "loss has no minimum and the images diverge")
        if config.aligned_share is not None and not 0 <= config.aligned_share <= 1:
            raise ValueError(f"aligned_share must lie in [0, 1] or be None, got {config.aligned_share!r}")
        if config.bias_source == "oracle" and dataset.train.attributes is None:
            raise ValueError(f"dataset {dataset.name!r} has no bias attributes, which bias_source='oracle' "
                             "needs; use a biased dataset (cdigits, cmnist-dd, ccifar10-dd) or "
                             "bias_source='gce', which estimates them")
        BiasModelConfig(epochs=config.bias_epochs, q=config.gce_q, threshold=config.aligned_threshold)

    def class_losses(self, net: nn.Module, real: Tensor, real_counts: list[int], synthetic: Tensor,
                     synthetic_counts: list[int], classes: list[int]) -> Tensor:
        """Biased-DD's Eq. 6 per class (:func:`~ltdd.distill.dedm.debiased_class_loss`), with the aligned flags of
        this iteration's real batch, in place of DM's loss."""
        index, counts = self.real_batch
        if len(classes) == 1:  # the per-class path: this class's slice of the batch
            index = index.split(counts)[classes[0]]
        groups = group_of_rows(real_counts, list(range(len(classes))), real.device)
        return debiased_class_loss(real, groups, self.aligned[index].to(real.device),
                                   class_means(synthetic, synthetic_counts), self.share, self.config.push_weight,
                                   self.config.push)
