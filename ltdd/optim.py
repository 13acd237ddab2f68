"""GSAM: surrogate-gap guided sharpness-aware minimisation (Zhuang et al., ICLR 2022), the optimiser of DATM's
and LTDD's experts (inherited from FTD, Du et al. 2023: flatter experts make trajectories easier to match).

One GSAM step on a minibatch loss ``f``:

1. ``g = ∇f(w)``;
2. ascend to ``w + e`` with ``e = ρ · T² g / ‖T g‖`` (``T = |w|`` element-wise when ``adaptive``, as ASAM;
   ``T = 1`` otherwise — SAM's ``ρ g/‖g‖``);
3. ``g_s = ∇f(w + e)``, the SAM gradient;
4. remove ``α`` times the part of ``g`` orthogonal to ``g_s`` (GSAM Algorithm 1, line 7):
   ``d = g_s − α (g − (⟨g, g_s⟩/‖g_s‖²) g_s)``;
5. return to ``w`` and let the base optimiser (SGD, with its weight decay and momentum) step with ``d``.

DATM / LTDD: base SGD lr 0.01, momentum 0, ρ = 0.01 (constant), α = 0.3, adaptive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

EPS = 1e-12


@dataclass(frozen=True)
class GSAMConfig:
    """GSAM's two numbers and its ASAM switch (defaults: DATM's and LTDD's experts). Machinery behind chapter 11."""

    rho: float = 0.01
    alpha: float = 0.3
    adaptive: bool = True

    def __post_init__(self) -> None:
        if not self.rho > 0:
            raise ValueError(f"gsam rho must be > 0, got {self.rho!r}")
        if not 0 <= self.alpha <= 1:
            raise ValueError(f"gsam alpha must lie in [0, 1], got {self.alpha!r}")


def _norm(tensors: list[Tensor]) -> Tensor:
    return torch.sqrt(sum((t * t).sum() for t in tensors))


def gsam_step(params: list[Tensor], loss_fn: Callable[[], Tensor], base: torch.optim.Optimizer,
              config: GSAMConfig = GSAMConfig()) -> Tensor:
    """One GSAM step (see the module docstring): ``loss_fn()`` computes the minibatch loss at the current
    weights (it is called twice, on the same batch and augmentation); ``base`` holds ``params``. Returns the
    loss at ``w``.

    Machinery behind chapter 11."""
    params = [p for p in params if p.requires_grad]
    loss = loss_fn()
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        scaled = [g * p.abs() for g, p in zip(grads, params)] if config.adaptive else list(grads)
        scale = config.rho / (_norm(scaled) + EPS)
        perturbation = [g * scale * (p * p if config.adaptive else 1) for g, p in zip(grads, params)]
        for p, e in zip(params, perturbation):
            p.add_(e)
    sam_grads = torch.autograd.grad(loss_fn(), params)
    with torch.no_grad():
        inner = sum((g * s).sum() for g, s in zip(grads, sam_grads))
        sam_norm_sq = sum((s * s).sum() for s in sam_grads)
        projection = inner / (sam_norm_sq + EPS)
        for p, e, g, s in zip(params, perturbation, grads, sam_grads):
            p.sub_(e)
            p.grad = s - config.alpha * (g - projection * s)
    base.step()
    return loss.detach()


__all__ = ["GSAMConfig", "gsam_step"]
