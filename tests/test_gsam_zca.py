"""GSAM (the experts' optimiser of DATM and LTDD) and ZCA whitening (MTT/DATM's --zca)."""

from __future__ import annotations

import pytest
import torch

from ltdd.data import load_dataset
from ltdd.data.zca import ZCA
from ltdd.distill.experts import ExpertConfig, train_expert
from ltdd.optim import GSAMConfig, gsam_step

pytestmark = pytest.mark.usefixtures("one_thread")


A = torch.tensor([3.0, 1.0, 0.2], dtype=torch.float64)


def loss_of(w: torch.Tensor) -> torch.Tensor:
    return (A * w ** 4).sum() + (w ** 2).sum()


def quadratic_problem():
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))
    return w, lambda: loss_of(w)


def gradient(point: torch.Tensor) -> torch.Tensor:
    point = point.detach().clone().requires_grad_(True)
    return torch.autograd.grad(loss_of(point), point)[0]


def reference_direction(w: torch.Tensor, config: GSAMConfig) -> torch.Tensor:
    """GSAM Algorithm 1 written out on a plain vector (ASAM perturbation T = |w|)."""
    w = w.detach()
    g = gradient(w)
    t = w.abs() if config.adaptive else torch.ones_like(w)
    gs = gradient(w + config.rho * t * t * g / (t * g).norm())
    orthogonal = g - (g @ gs) / (gs @ gs) * gs
    return gs - config.alpha * orthogonal


@pytest.mark.parametrize("adaptive", [True, False])
def test_gsam_step_follows_algorithm_one(adaptive):
    w, f = quadratic_problem()
    config = GSAMConfig(rho=0.05, alpha=0.3, adaptive=adaptive)
    expected = w.detach() - 0.1 * reference_direction(w, config)
    gsam_step([w], f, torch.optim.SGD([w], lr=0.1), config)
    assert torch.allclose(w.detach(), expected, rtol=0, atol=1e-12)


def test_gsam_with_alpha_zero_is_sam_and_differs_from_sgd():
    w, f = quadratic_problem()
    start = w.detach().clone()
    gsam_step([w], f, torch.optim.SGD([w], lr=0.1), GSAMConfig(rho=0.05, alpha=0.0, adaptive=False))
    g = gradient(start)
    gs = gradient(start + 0.05 * g / g.norm())
    assert torch.allclose(w.detach(), start - 0.1 * gs, atol=1e-12)
    assert not torch.allclose(w.detach(), start - 0.1 * g, atol=1e-6)


def test_gsam_settings_are_checked():
    with pytest.raises(ValueError, match="gsam rho must be > 0"):
        GSAMConfig(rho=0)
    with pytest.raises(ValueError, match="gsam alpha must lie in"):
        ExpertConfig(gsam_alpha=1.5)
    with pytest.raises(ValueError, match="optimizer='adam' is unknown"):
        ExpertConfig(optimizer="adam")


def test_gsam_expert_trains_and_differs_from_sgd():
    data = load_dataset("digits-lt")
    base = dict(epochs=2, batch_size=128, lr=0.05)
    sgd = train_expert(data, ExpertConfig(**base), model_options={"width": 8}, seed=0)
    gsam = train_expert(data, ExpertConfig(**base, optimizer="gsam"), model_options={"width": 8}, seed=0)
    assert torch.equal(sgd[0], gsam[0])  # same initialisation
    assert not torch.allclose(sgd[-1], gsam[-1])
    assert torch.isfinite(gsam).all() and (gsam[-1] - gsam[0]).norm() > 0.1


# ---------------------------------------------------------------------------------------------- ZCA
def test_zca_whitens_the_training_covariance_and_inverts():
    g = torch.Generator().manual_seed(0)
    mixing = torch.randn(12, 12, generator=g, dtype=torch.float64)
    pixels = (torch.randn(4000, 12, generator=g, dtype=torch.float64) @ mixing).reshape(4000, 3, 2, 2)
    zca = ZCA.fit(pixels, eps=1e-6)
    z = zca(pixels).reshape(4000, -1)
    covariance = z.T @ z / (len(z) - 1)
    assert torch.allclose(covariance, torch.eye(12, dtype=torch.float64), atol=1e-4)
    assert torch.allclose(zca.inverse(zca(pixels)), pixels, atol=1e-8)
    assert torch.allclose(zca.whitening, zca.whitening.T)  # ZCA, not PCA: the symmetric whitening


def test_zca_dataset_option_whitens_train_and_test_alike():
    plain = load_dataset("digits")
    whitened = load_dataset("digits", zca=0.1)
    assert whitened.options == {"zca": 0.1}
    assert whitened.whitening is not None and whitened.info["zca_eps"] == 0.1
    expected = whitened.whitening(plain.denormalize(plain.test.images))
    assert torch.allclose(whitened.test.images, expected, atol=1e-5)
    assert torch.allclose(whitened.denormalize(whitened.train.images), plain.denormalize(plain.train.images),
                          atol=1e-3)
    with pytest.raises(ValueError, match="zca eps must be a number > 0"):
        load_dataset("digits", zca=0)
