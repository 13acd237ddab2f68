"""DM: Dataset Condensation with Distribution Matching (Zhao & Bilen, WACV 2023).

Learn synthetic images whose mean embedding matches the real images' mean embedding, class by class, under
*randomly initialised* networks and a shared (Siamese) augmentation:

.. math::

    \\min_S \\; \\mathbb{E}_{\\vartheta \\sim P_\\vartheta,\\, \\omega \\sim \\Omega}
    \\sum_c \\Big\\| \\frac{1}{|T_c|} \\sum_{x \\in T_c} \\psi_\\vartheta(A(x, \\omega))
    - \\frac{1}{|S_c|} \\sum_{s \\in S_c} \\psi_\\vartheta(A(s, \\omega)) \\Big\\|^2

— the empirical maximum mean discrepancy with a linear kernel. Every iteration draws a fresh network ψ_ϑ
(never trained, parameters frozen), ``batch_real`` real images per class and one DSA draw ω per class, and
takes one SGD step (lr 1.0, momentum 0.5) on the loss summed over classes.

=====================  ======================================================  ======================================
equation part          function                                                notes
=====================  ======================================================  ======================================
ψ_ϑ, ϑ ~ P_ϑ           :meth:`DM.matching_network`                             a fresh random ConvNet per iteration
T_c sample             :class:`~ltdd.distill.matching.ClassBalancedSampler`    256 per class (paper)
A(·, ω), shared ω      :meth:`ltdd.augment.DSA.apply` per class group          Siamese: one draw per class
mean ψ per class       :func:`~ltdd.distill.matching.class_means`
‖·‖² per class         :func:`~ltdd.distill.matching.mean_embedding_distance`
SGD on S               :func:`~ltdd.distill.matching.momentum_step`
=====================  ======================================================  ======================================

Paper setting: 20,000 iterations, IPC 1/10/50 → CIFAR-10 26.0 / 48.9 / 63.0 % (ConvNet-3, evaluated with
DSA for 1000 epochs). The reference code pushes the classes through the network one at a time; here every
class goes through in one forward pass (``forward="batched"``, exact for instance norm) — the loop remains as
``forward="per_class"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from .matching import DistributionMatcher, MatchingConfig, class_means, mean_embedding_distance


@dataclass(frozen=True)
class DMConfig(MatchingConfig):
    """DM's paper setting (``main_DM.py``): lr_img 1.0 (the README uses 10 for CIFAR-10 IPC ≥ 100), momentum
    0.5, 256 real images per class, init from real images, DSA ``color_crop_cutout_flip_scale_rotate``.

    Introduced in chapter 05."""


class DM(DistributionMatcher):
    """Distribution matching with a fresh random network per iteration (see the module docstring).

    Introduced in chapter 01."""

    name = "dm"
    Config = DMConfig

    def matching_network(self) -> nn.Module:
        """A frozen network with freshly drawn weights, every iteration (DM's ψ_ϑ, ϑ ~ P_ϑ;
        :meth:`~ltdd.distill.matching.DistributionMatcher.fresh_network`)."""
        return self.fresh_network()

    def class_losses(self, net: nn.Module, real: Tensor, real_counts: list[int], synthetic: Tensor,
                     synthetic_counts: list[int], classes: list[int]) -> Tensor:
        """DM's loss per class (Zhao & Bilen, WACV 2023, Sec. 3.2): the squared distance between the mean embeddings
        of the class's real and synthetic images (:func:`~ltdd.distill.matching.mean_embedding_distance`), the
        empirical MMD with a linear kernel."""
        return mean_embedding_distance(class_means(real, real_counts), class_means(synthetic, synthetic_counts))
