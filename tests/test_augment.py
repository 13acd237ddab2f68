"""DSA: Siamese sharing, differentiability, the reference's ranges, determinism, vectorised grouping."""

import math

import pytest
import torch
import torch.nn.functional as F

from ltdd.augment import DEFAULT_STRATEGY, DSA, DSAParams, affine, cutout, strategy_for, translate
from ltdd.config import make_generator


def images(n=8, c=3, size=32, seed=0):
    return torch.randn(n, c, size, size, generator=make_generator(seed))


@pytest.mark.parametrize("family", ["color", "crop", "cutout", "flip", "scale", "rotate"])
def test_shared_group_gives_identical_outputs_for_identical_inputs(family):
    dsa = DSA(family)
    x = images(4)
    real, synthetic = x.clone(), x.clone()
    groups = torch.tensor([0, 1, 2, 3])
    out_real, out_syn = dsa.siamese(real, synthetic, groups, groups, 4, make_generator(1))
    assert torch.equal(out_real, out_syn)
    # two copies of one image in the same group are transformed identically
    pair = torch.cat([x[:1], x[:1]])
    out = dsa.apply(pair, dsa.sample(1, make_generator(2), image_size=32), torch.tensor([0, 0]))
    assert torch.equal(out[0], out[1])


def test_siamese_draws_one_parameter_set_per_class_and_full_strategy():
    dsa = DSA(DEFAULT_STRATEGY)
    x = images(1).expand(6, -1, -1, -1).contiguous()
    groups = torch.tensor([0, 0, 0, 1, 1, 1])
    out_a, out_b = dsa.siamese(x, x.clone(), groups, groups, 2, make_generator(5))
    assert torch.equal(out_a, out_b)
    assert torch.equal(out_a[0], out_a[1]) and torch.equal(out_a[3], out_a[5])


def test_batched_groups_equal_the_per_class_loop():
    """One call over all classes equals applying each class's parameter row to that class alone."""
    dsa = DSA(DEFAULT_STRATEGY)
    x = images(12)
    groups = torch.arange(12) % 3
    params = dsa.sample(3, make_generator(3), image_size=32)
    batched = dsa.apply(x, params, groups)
    for c in range(3):
        members = torch.nonzero(groups == c, as_tuple=True)[0]
        row = {k: (v[c:c + 1] if v.ndim else v) for k, v in params.items()}
        alone = dsa.apply(x[members], row, torch.zeros(len(members), dtype=torch.long))
        assert torch.allclose(batched[members], alone, atol=1e-6)


@pytest.mark.parametrize("family", ["color", "crop", "cutout", "flip", "scale", "rotate"])
def test_gradients_reach_the_inputs(family):
    x = images(6).requires_grad_(True)
    dsa = DSA(family, mode="M")
    out = dsa(x, make_generator(4))
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0


def test_same_generator_state_same_result_and_different_state_differs():
    dsa = DSA(DEFAULT_STRATEGY, mode="M")
    x = images(16)
    assert torch.equal(dsa(x, make_generator(7)), dsa(x, make_generator(7)))
    assert not torch.equal(dsa(x, make_generator(7)), dsa(x, make_generator(8)))


def test_dsa_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    DSA()(images(4), make_generator(0))
    assert torch.equal(state, torch.get_rng_state())


def test_sampled_parameters_stay_within_the_reference_ranges():
    p = DSAParams()
    draws = DSA(DEFAULT_STRATEGY).sample(20000, make_generator(9), image_size=32)
    assert draws["brightness"].min() >= -0.5 * p.brightness and draws["brightness"].max() < 0.5 * p.brightness
    assert draws["saturation"].min() >= 0 and draws["saturation"].max() < p.saturation
    assert draws["contrast"].min() >= p.contrast and draws["contrast"].max() < 1 + p.contrast
    assert set(draws["shift"].unique().tolist()) == set(range(-4, 5))  # ±int(32·0.125+0.5)
    assert int(draws["cutout_size"]) == 16
    assert draws["cutout_center"].min() == 0 and draws["cutout_center"].max() == 32  # randint(0, H+1)
    assert draws["scale"].min() >= 1 / 1.2 and draws["scale"].max() <= 1.2
    assert draws["angle"].abs().max() <= math.radians(15)
    assert abs(draws["flip"].float().mean() - p.prob_flip) < 0.02
    assert set(draws["family"].unique().tolist()) == set(range(6))


def test_each_operation_does_what_the_reference_says():
    x = images(5)
    dsa = DSA("color", mode="M")
    # brightness alone shifts every pixel of an image by one constant in [-0.5, 0.5)
    params = dsa.sample(5, make_generator(1))
    shifted = x + params["brightness"].view(-1, 1, 1, 1)
    assert torch.allclose(shifted - x, params["brightness"].view(-1, 1, 1, 1).expand_as(x), atol=1e-6)
    # crop: an integer translation with zero fill (output pixel (i, j) reads input (i + 2, j − 3))
    out = translate(x, torch.tensor([[2, -3]] * 5))
    assert torch.equal(out[:, :, :-2, 3:], x[:, :, 2:, :-3])
    assert (out[:, :, -2:] == 0).all() and (out[:, :, :, :3] == 0).all()
    # cutout: exactly a 16×16 zero square when it lies inside the image
    cut = cutout(torch.ones(1, 3, 32, 32), torch.tensor([[16, 16]]), 16)
    assert (cut == 0).sum() == 3 * 16 * 16 and (cut[0, :, 8:24, 8:24] == 0).all()
    # cutout near a border is clipped to the image
    corner = cutout(torch.ones(1, 1, 32, 32), torch.tensor([[0, 0]]), 16)
    assert (corner == 0).sum() == 8 * 8
    # scale 1 and rotation 0 are the identity (align_corners=True)
    identity = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]]).expand(5, 2, 3)
    assert torch.allclose(affine(x, identity), x, atol=1e-5)
    # rotation by 90° equals rot90 (up to the sign convention of affine_grid)
    quarter = torch.tensor([[[0.0, -1.0, 0], [1.0, 0.0, 0]]]).expand(5, 2, 3)
    rotated = affine(x, quarter)
    assert any(torch.allclose(rotated, torch.rot90(x, k, dims=(2, 3)), atol=1e-4) for k in (1, 3))


def test_mode_s_applies_exactly_one_family_per_group():
    dsa = DSA("flip_crop")
    x = images(64)
    params = dsa.sample(64, make_generator(11), image_size=32)
    out = dsa.apply(x, params)
    flips = dsa._apply_family("flip", x, params)
    crops = dsa._apply_family("crop", x, params)
    is_flip = params["family"] == 0
    assert torch.equal(out[is_flip], flips[is_flip]) and torch.equal(out[~is_flip], crops[~is_flip])


def test_per_sample_call_uses_one_family_but_different_parameters():
    x = images(1).expand(32, -1, -1, -1).contiguous()
    out = DSA("crop")(x, make_generator(12))
    assert len({tuple(o.flatten()[:64].tolist()) for o in out}) > 1


def test_digit_strategy_drops_flip_and_bad_settings_are_errors():
    assert "flip" not in strategy_for(hflip_safe=False)
    assert strategy_for(hflip_safe=True) == DEFAULT_STRATEGY
    with pytest.raises(ValueError, match="strategy"):
        DSA("color_blur")
    with pytest.raises(ValueError, match="mode"):
        DSA(mode="X")
    with pytest.raises(ValueError, match="num_groups"):
        DSA().sample(0, make_generator(0))


def test_rotation_matches_the_reference_matrix():
    """The reference builds [[cos θ, sin(−θ), 0], [sin θ, cos θ, 0]] and samples with grid_sample."""
    dsa = DSA("rotate", mode="M")
    x = images(3)
    params = dsa.sample(3, make_generator(13), image_size=32)
    theta = params["angle"]
    matrix = torch.stack([torch.stack([theta.cos(), torch.sin(-theta), torch.zeros(3)], 1),
                          torch.stack([theta.sin(), theta.cos(), torch.zeros(3)], 1)], 1)
    grid = F.affine_grid(matrix, list(x.shape), align_corners=True)
    expected = F.grid_sample(x, grid, align_corners=True)
    assert torch.allclose(dsa.apply(x, params), expected, atol=1e-6)
