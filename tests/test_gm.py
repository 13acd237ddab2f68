"""Gradient matching: DC and DSA (ltdd.distill.gm)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ltdd.data.core import ImageDataset, LabeledImages
from ltdd.distill import DC, DSAConfig, DSAMatcher, GMConfig, make_distiller
from ltdd.distill.gm import (LOOPS_BY_IPC, gradient_distance, layer_distance, loops_for, per_class_gradients)
from ltdd.models import get_model

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_LOOPS = {"outer_loop": 2, "inner_loop": 2, "net_width": 8, "batch_real": 16}


def toy_dataset(per_class=20, classes=3, size=16, channels=1, seed=0) -> ImageDataset:
    """Classes that differ in mean brightness and in a class-specific stripe: learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(classes).repeat_interleave(per_class)
    images = 0.5 * torch.randn(len(labels), channels, size, size, generator=g)
    for c in range(classes):
        images[labels == c, :, c * 2:(c * 2) + 2, :] += 2.0
    split = LabeledImages(images, labels)
    return ImageDataset("toy", split, split, [str(c) for c in range(classes)], (0.5,) * channels,
                        (0.25,) * channels, False)


# ----------------------------------------------------------------------------------------- distances
def test_layer_distance_equals_a_hand_computation():
    # two output channels of a 1x2 weight: cos((1,0),(1,0)) = 1 and cos((0,1),(1,1)) = 1/sqrt(2)
    real = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    synthetic = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]])
    expected = (1 - 1 / (1 + 1e-6)) + (1 - 1 / (math.sqrt(2) + 1e-6))
    assert layer_distance(real, synthetic).item() == pytest.approx(expected, rel=1e-6)


def test_layer_distance_reshapes_conv_gradients_per_output_channel():
    g = torch.Generator().manual_seed(0)
    real, synthetic = torch.randn(1, 4, 3, 3, 3, generator=g), torch.randn(1, 4, 3, 3, 3, generator=g)
    by_hand = sum(1 - F.cosine_similarity(real[0, i].flatten(), synthetic[0, i].flatten(), dim=0, eps=0)
                  for i in range(4))
    assert layer_distance(real, synthetic).item() == pytest.approx(by_hand.item(), abs=1e-5)


def test_one_dimensional_gradients_are_ignored_as_the_reference_unless_asked():
    real, synthetic = torch.tensor([[1.0, 2.0]]), torch.tensor([[2.0, -1.0]])  # orthogonal: cos 0
    assert layer_distance(real, synthetic).item() == 0.0
    assert layer_distance(real, synthetic, match_1d=True).item() == pytest.approx(1.0, abs=1e-6)


def test_mse_and_cos_metrics_use_the_concatenated_gradients():
    real = [torch.tensor([[1.0, 0.0]]), torch.tensor([[[2.0]]])]
    synthetic = [torch.tensor([[0.0, 0.0]]), torch.tensor([[[2.0]]])]
    assert gradient_distance(real, synthetic, "mse").item() == pytest.approx(1.0)
    # concatenated (1, 0, 2) vs (0, 0, 2): cos = 4 / (sqrt(5) * 2)
    assert gradient_distance(real, synthetic, "cos").item() == pytest.approx(1 - 4 / (2 * math.sqrt(5)), abs=1e-6)
    with pytest.raises(ValueError, match="metric"):
        gradient_distance(real, synthetic, "l1")


# ----------------------------------------------------------------------------------------- loops
def test_loop_counts_follow_the_reference_table_and_refuse_other_ipcs():
    assert loops_for(10) == (10, 50) and loops_for(50) == (50, 10) and loops_for(1) == (1, 1)
    assert set(LOOPS_BY_IPC) == {1, 10, 20, 30, 40, 50}
    assert loops_for(10, inner_loop=5) == (10, 5)
    assert loops_for(7, 3, 4) == (3, 4)
    with pytest.raises(ValueError, match="outer_loop and inner_loop"):
        loops_for(7)


# ----------------------------------------------------------------------------------------- per-class grads
@pytest.mark.parametrize("norm", ["instancenorm", "batchnorm"])
def test_vectorised_per_class_gradients_equal_the_loop(norm):
    g = torch.Generator().manual_seed(1)
    net = get_model("convnet", 1, 3, 8, generator=g, width=8, norm=norm)
    if norm == "batchnorm":
        net.eval()  # batch norm is frozen while matching: per-sample, as the vectorised path needs
    images = torch.randn(12, 1, 8, 8, generator=g, requires_grad=True)
    labels = torch.arange(3).repeat_interleave(4)
    loop = per_class_gradients(net, images, labels, [4, 4, 4], create_graph=True, path="loop")
    vmap = per_class_gradients(net, images, labels, [4, 4, 4], create_graph=True, path="vmap")
    for a, b in zip(loop, vmap):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    # and the second-order gradients, with respect to the images, agree too
    (ga,) = torch.autograd.grad(sum(x.pow(2).sum() for x in loop), images)
    (gb,) = torch.autograd.grad(sum(x.pow(2).sum() for x in vmap), images)
    torch.testing.assert_close(ga, gb, atol=1e-5, rtol=1e-4)


def test_per_class_gradient_is_the_gradient_of_that_class_alone():
    g = torch.Generator().manual_seed(2)
    net = get_model("convnet", 1, 2, 8, generator=g, width=4)
    images, labels = torch.randn(5, 1, 8, 8, generator=g), torch.tensor([0, 0, 0, 1, 1])
    grads = per_class_gradients(net, images, labels, [3, 2])
    alone = torch.autograd.grad(F.cross_entropy(net(images[3:]), labels[3:]), list(net.parameters()))
    for stacked, single in zip(grads, alone):
        torch.testing.assert_close(stacked[1], single)
    with pytest.raises(ValueError, match="same number of images per class"):
        per_class_gradients(net, images, labels, [3, 2], path="vmap")


# ----------------------------------------------------------------------------------------- the method
def test_both_gradient_paths_distil_the_same_set():
    data = toy_dataset()
    sets = [DC(data, GMConfig(ipc=2, per_class_grads=path, **TINY_LOOPS), seed=3).run(2, progress=False)
            for path in ("vmap", "loop")]
    torch.testing.assert_close(sets[0].images, sets[1].images, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("method", ["dc", "dsa"])
def test_matching_loss_decreases_on_a_toy_problem(method):
    """Image steps against one fixed network: the gradient distance falls (DSA's draws make it noisy, so
    the mean over the last steps is compared with the mean over the first)."""
    data = toy_dataset()
    distiller = make_distiller(method, data, seed=0, ipc=2, init="noise", outer_loop=1, inner_loop=1,
                               net_width=8, batch_real=20, lr_img=0.5)
    distiller.init()
    net = distiller.new_network()
    losses = [float(distiller.matching_step(net)) for _ in range(40)]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.8 * first, (first, last)


def test_dc_run_is_reproducible_and_resumes_to_the_same_set():
    data = toy_dataset()
    config = GMConfig(ipc=2, **TINY_LOOPS)
    straight = DC(data, config, seed=4).run(3, progress=False)
    first = DC(data, config, seed=4)
    first.run(1, progress=False)
    state = first.state_dict()
    resumed = DC(data, config, seed=4)
    resumed.load_state_dict(state)
    torch.testing.assert_close(resumed.run(2, progress=False).images, straight.images)
    assert resumed.iteration == 3


def test_batch_norm_network_is_frozen_as_the_reference():
    data = toy_dataset()
    distiller = DC(data, GMConfig(ipc=2, model="convnetbn", **TINY_LOOPS), seed=0)
    distiller.init()
    net = distiller.new_network()
    before = [m.running_mean.clone() for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    distiller.freeze_batch_norm(net)
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(not m.training for m in norms)
    assert any(not torch.equal(a, m.running_mean) for a, m in zip(before, norms))  # one train-mode pass
    synthetic = distiller.run(1, progress=False)
    assert torch.isfinite(synthetic.images).all()


def test_dsa_defaults_are_the_readme_setting():
    assert DSAConfig().dsa and DSAConfig().init == "real"
    assert not GMConfig().dsa and GMConfig().init == "noise"
    assert GMConfig().lr_img == 0.1 and GMConfig().momentum == 0.5 and GMConfig().lr_net == 0.01
    assert DSAMatcher.name == "dsa" and DC.name == "dc"


@pytest.mark.parametrize("settings, message", [
    ({"ipc": 7}, "outer_loop and inner_loop"),
    ({"ipc": 10, "metric": "l2"}, "metric"),
    ({"ipc": 10, "lr_img": 0}, "lr_img"),
    ({"ipc": 10, "momentum": 1.0}, "momentum"),
    ({"ipc": 10, "inner_loop": 0}, "inner_loop"),
    ({"ipc": 10, "per_class_grads": "jit"}, "per_class_grads"),
    ({"ipc": 30, "init": "real", "outer_loop": 1, "inner_loop": 1}, "ipc"),
])
def test_bad_settings_are_refused_by_name(settings, message):
    with pytest.raises(ValueError, match=message):
        make_distiller("dc", toy_dataset(), **settings)
