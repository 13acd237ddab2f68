"""SimCLR (ltdd.ssl): NT-Xent against a direct computation, views, pre-training, checkpoints, encoder loading."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from ltdd.config import make_generator
from ltdd.data import load_dataset
from ltdd.models import get_model
from ltdd.ssl import (SimCLRConfig, SimCLRTrainer, SimCLRViews, adjust_brightness, adjust_contrast,
                      adjust_saturation, encoder_state, hsv_to_rgb, load_encoder, nt_xent, pretrain_simclr,
                      rgb_to_hsv, shift_hue)
from ltdd.train import TrainConfig, train_networks

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits_lt():
    return load_dataset("digits-lt")


def direct_nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> float:
    """SimCLR Eq. 1 term by term: ℓ(i, j) = −log exp(s_ij/τ) / Σ_{k≠i} exp(s_ik/τ), averaged over 2N anchors."""
    z = torch.cat([z1, z2]).double()
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        sim = [float(z[i] @ z[k] / (z[i].norm() * z[k].norm())) for k in range(2 * n)]
        denominator = sum(math.exp(sim[k] / temperature) for k in range(2 * n) if k != i)
        total += -math.log(math.exp(sim[j] / temperature) / denominator)
    return total / (2 * n)


@pytest.mark.parametrize("temperature", [0.5, 0.1])
def test_nt_xent_equals_the_direct_computation(temperature):
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    assert nt_xent(z1, z2, temperature).item() == pytest.approx(direct_nt_xent(z1, z2, temperature), rel=1e-5)


def test_nt_xent_is_invariant_to_batch_order_and_view_order():
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    order = torch.randperm(8, generator=g)
    loss = nt_xent(z1, z2)
    assert nt_xent(z1[order], z2[order]).item() == pytest.approx(loss.item(), rel=1e-6)
    assert nt_xent(z2, z1).item() == pytest.approx(loss.item(), rel=1e-6)
    assert nt_xent(3 * z1, z2).item() == pytest.approx(loss.item(), rel=1e-5)  # cosine: scale-free


def test_nt_xent_is_small_when_views_agree_and_refuses_bad_input():
    eye = torch.eye(4)
    assert nt_xent(eye, eye, 0.1).item() < nt_xent(eye, eye.roll(1, 0), 0.1).item()
    with pytest.raises(ValueError, match="at least 2 images"):
        nt_xent(torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        nt_xent(eye, eye, 0.0)
    with pytest.raises(ValueError, match="equal shape"):
        nt_xent(eye, eye[:3])


# ------------------------------------------------------------------------------------------ views
def test_colour_operations_equal_torchvision():
    x = torch.rand(3, 3, 6, 6, generator=torch.Generator().manual_seed(2))
    per_image = lambda f, v: torch.stack([f(xi, v) for xi in x])  # noqa: E731
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(x)), x, atol=1e-6)
    assert torch.allclose(shift_hue(x, torch.full((3,), 0.15)), per_image(TF.adjust_hue, 0.15), atol=1e-5)
    assert torch.allclose(shift_hue(x, torch.full((3,), -0.1)), per_image(TF.adjust_hue, -0.1), atol=1e-5)
    factor = torch.full((3, 1, 1, 1), 1.4)
    assert torch.allclose(adjust_saturation(x, factor), per_image(TF.adjust_saturation, 1.4), atol=1e-4)
    assert torch.allclose(adjust_contrast(x, factor), per_image(TF.adjust_contrast, 1.4), atol=1e-4)
    assert torch.allclose(adjust_brightness(x, factor), per_image(TF.adjust_brightness, 1.4), atol=1e-6)


def test_views_are_seeded_in_range_and_digit_safe(digits_lt):
    pixels = digits_lt.denormalize(digits_lt.train.images[:16]).clamp(0, 1)
    views = SimCLRViews.for_dataset(digits_lt)
    assert not views.flip and views.crop_scale[0] >= 0.4
    first = views(pixels, torch.Generator().manual_seed(5))
    assert first.shape == pixels.shape and first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, views(pixels, torch.Generator().manual_seed(5)))
    assert not torch.equal(first, views(pixels, torch.Generator().manual_seed(6)))
    rgb = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert SimCLRViews()(rgb, torch.Generator().manual_seed(0)).shape == rgb.shape
    full = SimCLRViews(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip=False, jitter_prob=0, grayscale_prob=0)
    assert torch.allclose(full(rgb, torch.Generator().manual_seed(0)), rgb, atol=1e-5)  # identity crop
    with pytest.raises(ValueError, match="crop_scale"):
        SimCLRViews(crop_scale=(0.5, 1.2))


# -------------------------------------------------------------------------------------- pre-training
def small_trainer(dataset, epochs=6, seed=0, **config):
    return SimCLRTrainer(dataset.train.images[:160], dataset, SimCLRConfig(epochs=epochs, batch_size=64, lr=1e-3,
                                                                          **config),
                         model_options={"width": 16}, seed=seed)


@pytest.mark.parametrize("head", ["mlp", "none"])
def test_pretraining_lowers_the_nt_xent_loss(digits_lt, head):
    trainer = small_trainer(digits_lt, head=head)
    before = trainer.evaluate_loss(batches=2)
    result = trainer.run(progress=False)
    assert trainer.evaluate_loss(batches=2) < before - 0.05
    assert len(result.losses) == 6 and result.losses[-1] < result.losses[0]


def test_checkpointed_pretraining_resumes_to_the_same_encoder(digits_lt, tmp_path):
    whole = small_trainer(digits_lt, epochs=3).run(progress=False)
    checkpoint = tmp_path / "simclr.pt"
    first = small_trainer(digits_lt, epochs=3)
    first.epoch()
    from ltdd.files import atomic_save

    atomic_save(first.state_dict(), checkpoint)
    resumed = pretrain_simclr(digits_lt.train.images[:160], digits_lt,
                              SimCLRConfig(epochs=3, batch_size=64, lr=1e-3), model_options={"width": 16},
                              checkpoint=checkpoint, progress=False)
    assert resumed.losses == whole.losses
    assert all(torch.equal(resumed.encoder[k], whole.encoder[k]) for k in whole.encoder)
    with pytest.raises(ValueError, match="other settings"):
        small_trainer(digits_lt, epochs=4).resume(checkpoint)


def test_encoder_loads_into_a_classifier_with_another_class_count(digits_lt):
    trainer = small_trainer(digits_lt, epochs=1)
    state = trainer.run(progress=False).encoder
    assert not any(k.startswith("classifier.") for k in state)
    three_way = get_model("convnet", 1, 3, 16, generator=make_generator(0, "t"), width=16)
    load_encoder(three_way, state)
    x = digits_lt.test.images[:4]
    assert torch.allclose(three_way.embed(x), trainer.encoder.embed(x), atol=1e-6)
    assert three_way(x).shape == (4, 3)
    assert encoder_state(three_way).keys() == state.keys()
    wider = get_model("convnet", 1, 10, 16, generator=make_generator(0, "t"), width=32)
    with pytest.raises(ValueError, match="does not fit this model.*shape differs"):
        load_encoder(wider, state)


def test_evaluation_networks_start_from_the_encoder(digits_lt):
    trainer = small_trainer(digits_lt, epochs=1)
    state = trainer.run(progress=False).encoder
    frozen = TrainConfig(epochs=1, lr=1e-12, dsa=False)  # a step too small to move the weights
    images, labels = digits_lt.train.images[::5], digits_lt.train.labels[::5]
    x = digits_lt.test.images[:8]
    (_, tuned), = train_networks(images, labels, digits_lt, "convnet", [0], frozen, model_options={"width": 16},
                                 encoder_state=state)
    (_, plain), = train_networks(images, labels, digits_lt, "convnet", [0], frozen, model_options={"width": 16})
    expected = trainer.encoder.eval().embed(x)
    assert torch.allclose(tuned.eval().embed(x), expected, atol=1e-5)
    assert not torch.allclose(plain.eval().embed(x), expected, atol=1e-2)
    assert torch.equal(tuned.classifier.weight, plain.classifier.weight)  # the classifier starts fresh


def test_config_refuses_bad_settings():
    with pytest.raises(ValueError, match="head='linear' is unknown"):
        SimCLRConfig(head="linear")
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        SimCLRConfig(batch_size=1)
