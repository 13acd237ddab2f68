"""Models: every architecture at every resolution, the ConvNet facts of the papers, seeded initialisation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ltdd.config import make_generator
from ltdd.models import ConvNet, available_models, count_parameters, get_model, reset_parameters

SIZES = [(1, 8), (3, 28), (3, 32), (3, 64), (1, 16), (1, 28)]
HEAVY = {"vgg11", "vgg11bn", "resnet18", "resnet18bn"}


pytestmark = pytest.mark.usefixtures("one_thread")


def _cases():
    for name in available_models():
        for channels, size in SIZES:
            marks = [pytest.mark.slow] if (name in HEAVY and size == 64) else []
            yield pytest.param(name, channels, size, marks=marks, id=f"{name}-{channels}x{size}")


def _too_small(name: str, size: int) -> bool:
    """Combinations the models document as impossible: depth 4 with pooling needs 16 px."""
    return name == "convnetd4" and size < 16


@pytest.mark.parametrize("name, channels, size", list(_cases()))
def test_every_model_runs_at_every_size(name, channels, size):
    if _too_small(name, size):
        with pytest.raises(ValueError, match="image_size"):
            get_model(name, channels, 10, size)
        return
    model = get_model(name, channels, 7, size)
    x = torch.randn(2, channels, size, size)
    with torch.no_grad():
        logits = model(x)
        features = model.embed(x)
    assert logits.shape == (2, 7)
    assert torch.isfinite(logits).all()
    assert features.shape == (2, model.feature_dim)
    assert model.classifier.in_features == model.feature_dim
    assert model.classifier.out_features == 7


def test_available_models_are_canonical_names():
    names = available_models()
    assert len(names) == len(set(names))
    assert {"convnet", "convnetbn", "alexnet", "vgg11", "resnet18", "resnet18bn"} <= set(names)
    # name lookup is case-insensitive and ignores - and _
    assert isinstance(get_model("ConvNet", 1, 10, 16), ConvNet)
    assert isinstance(get_model("Conv_Net-BN", 1, 10, 16).features[1], nn.BatchNorm2d)


# --------------------------------------------------------------------------------------- ConvNet facts
def test_convnet_cifar10_parameter_count_and_embedding():
    model = get_model("convnet", 3, 10, 32)
    assert count_parameters(model) == 320_010
    assert model.feature_dim == 2048
    with torch.no_grad():
        assert model.embed(torch.randn(2, 3, 32, 32)).shape == (2, 2048)


def test_convnet_64_has_8192_features():
    model = get_model("convnet", 3, 10, 64)
    assert model.feature_dim == 8192
    with torch.no_grad():
        assert model.embed(torch.randn(1, 3, 64, 64)).shape == (1, 8192)


def test_convnet_default_blocks():
    model = get_model("convnet", 3, 10, 32)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    pools = [m for m in model.features if isinstance(m, nn.AvgPool2d)]
    assert len(convs) == 3 and len(pools) == 3
    assert all(c.out_channels == 128 and c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert sum(isinstance(m, nn.ReLU) for m in model.features) == 3


def test_instance_norm_is_groupnorm_c_c():
    model = get_model("convnet", 3, 10, 32, width=64)
    norms = [m for m in model.features if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 3
    for norm in norms:
        assert norm.num_groups == norm.num_channels == 64
        assert norm.affine
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_mnist_convnet_pads_first_conv_by_3():
    model = get_model("convnet", 1, 10, 28)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert convs[0].padding == (3, 3)
    assert all(c.padding == (1, 1) for c in convs[1:])
    assert model.feature_dim == 2048  # 28×28 treated as 32×32, as the reference does
    # the rule is tied to 28×28: the 16×16 digits keep padding 1, and 3-channel 28×28 too
    assert get_model("convnet", 1, 10, 16).features[0].padding == (1, 1)
    assert get_model("convnet", 3, 10, 28).features[0].padding == (1, 1)
    assert get_model("convnet", 1, 10, 28, first_padding=1).features[0].padding == (1, 1)


def test_convnet_16px_feature_dim():
    assert get_model("convnet", 1, 10, 16, width=32).feature_dim == 32 * 2 * 2


@pytest.mark.parametrize("name, check", [
    ("ConvNetD2", lambda m: sum(isinstance(x, nn.Conv2d) for x in m.features) == 2 and m.feature_dim == 128 * 8 * 8),
    ("ConvNetD4", lambda m: sum(isinstance(x, nn.Conv2d) for x in m.features) == 4 and m.feature_dim == 128 * 2 * 2),
    ("ConvNetW64", lambda m: all(x.out_channels == 64 for x in m.features if isinstance(x, nn.Conv2d))
     and m.feature_dim == 64 * 4 * 4),
    ("ConvNetBN", lambda m: sum(isinstance(x, nn.BatchNorm2d) for x in m.features) == 3
     and not any(isinstance(x, nn.GroupNorm) for x in m.features)),
    ("ConvNetNN", lambda m: not any(isinstance(x, (nn.GroupNorm, nn.BatchNorm2d, nn.LayerNorm)) for x in m.features)),
    ("ConvNetLN", lambda m: sum(isinstance(x, nn.LayerNorm) for x in m.features) == 3),
    ("ConvNetGN", lambda m: all(x.num_groups == 4 for x in m.features if isinstance(x, nn.GroupNorm))),
    ("ConvNetNP", lambda m: not any(isinstance(x, (nn.AvgPool2d, nn.MaxPool2d)) for x in m.features)
     and m.feature_dim == 128 * 32 * 32),
    ("ConvNetMP", lambda m: sum(isinstance(x, nn.MaxPool2d) for x in m.features) == 3),
    ("ConvNetD2W32BN", lambda m: sum(isinstance(x, nn.Conv2d) for x in m.features) == 2
     and all(x.out_channels == 32 for x in m.features if isinstance(x, nn.Conv2d))
     and any(isinstance(x, nn.BatchNorm2d) for x in m.features)),
])
def test_convnet_name_variants(name, check):
    model = get_model(name, 3, 10, 32)
    assert isinstance(model, ConvNet)
    assert check(model)


def test_options_override_name_settings():
    model = get_model("ConvNetW64", 3, 10, 32, width=16)
    assert model.features[0].out_channels == 16


@pytest.mark.parametrize("kwargs, word", [
    ({"name": "nope"}, "model"),
    ({"name": "convnetq7"}, "model"),
    ({"name": "convnet", "norm": "weirdnorm"}, "norm"),
    ({"name": "convnet", "pooling": "median"}, "pooling"),
    ({"name": "convnet", "act": "tanhh"}, "act"),
    ({"name": "alexnet", "norm": "weirdnorm"}, "norm"),
    ({"name": "convnet", "depth": 0}, "depth"),
    ({"name": "convnet", "width": 0}, "width"),
])
def test_bad_arguments_name_the_argument(kwargs, word):
    kwargs = dict(kwargs)
    name = kwargs.pop("name")
    with pytest.raises(ValueError) as info:
        get_model(name, 3, 10, 32, **kwargs)
    assert word in str(info.value)


def test_unknown_model_lists_choices():
    with pytest.raises(ValueError) as info:
        get_model("nope", 3, 10, 32)
    assert "model='nope'" in str(info.value)
    for name in available_models():
        assert name in str(info.value)


@pytest.mark.parametrize("argument, value", [("channels", 0), ("num_classes", 0), ("image_size", 0)])
def test_bad_sizes(argument, value):
    sizes = {"channels": 3, "num_classes": 10, "image_size": 32, argument: value}
    with pytest.raises(ValueError, match=argument):
        get_model("convnet", **sizes)


def test_convnetd4_too_small_message():
    with pytest.raises(ValueError) as info:
        get_model("convnetd4", 1, 10, 8)
    assert "image_size=8" in str(info.value)
    # the suggested alternative (no pooling) does work
    get_model("convnetd4", 1, 10, 8, pooling="none")


# -------------------------------------------------------------------------------------- initialisation
def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in model.state_dict().values()]


@pytest.mark.parametrize("name", ["convnet", "convnetbn", "alexnet"])
def test_generator_makes_init_reproducible(name):
    a = get_model(name, 1, 10, 16, generator=make_generator(0))
    b = get_model(name, 1, 10, 16, generator=make_generator(0))
    c = get_model(name, 1, 10, 16, generator=make_generator(1))
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(torch.equal(x, y) for x, y in zip(wa, wb))
    assert not torch.equal(a.classifier.weight, c.classifier.weight)
    assert not torch.equal(a.features[0].weight, c.features[0].weight)
    x = torch.randn(3, 1, 16, 16)
    a.eval(), b.eval()
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


def test_generator_init_leaves_global_rng_alone():
    model = get_model("convnet", 1, 10, 16)  # without a generator: PyTorch's default, from the global RNG
    torch.manual_seed(123)
    before = torch.get_rng_state()
    get_model("convnet", 3, 10, 32, generator=make_generator(0))
    get_model("convnetbn", 1, 10, 8, generator=make_generator(5))
    get_model("alexnet", 1, 10, 16, generator=make_generator(5))
    assert torch.equal(torch.get_rng_state(), before)
    reset_parameters(model, make_generator(3))
    assert torch.equal(torch.get_rng_state(), before)


def test_generator_init_does_not_depend_on_global_rng():
    torch.manual_seed(1)
    a = get_model("convnet", 1, 10, 16, generator=make_generator(7))
    torch.manual_seed(2)
    b = get_model("convnet", 1, 10, 16, generator=make_generator(7))
    assert all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(b)))


def test_reset_parameters_matches_pytorch_default_statistics():
    model = get_model("convnet", 3, 10, 32, generator=make_generator(0))
    reference = get_model("convnet", 3, 10, 32)  # PyTorch's own reset_parameters
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    ref_layers = [m for m in reference.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for layer, ref in zip(layers, ref_layers):
        fan_in = layer.weight[0].numel()
        bound = 1 / math.sqrt(fan_in)
        w = layer.weight.detach()
        assert w.abs().max().item() <= bound + 1e-7
        assert w.abs().max().item() > 0.98 * bound
        # uniform on ±bound: mean 0, std bound/√3, as PyTorch's default draw
        assert abs(w.mean().item()) < 0.05 * bound
        assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
        assert w.std().item() == pytest.approx(ref.weight.detach().std().item(), rel=0.05)
        assert ref.weight.detach().abs().max().item() <= bound + 1e-7
        b = layer.bias.detach()
        assert b.abs().max().item() <= bound + 1e-7
        assert b.abs().max().item() > 0.5 * bound
    assert model.classifier.weight.shape == (10, 2048)
    for norm in (m for m in model.modules() if isinstance(m, nn.GroupNorm)):
        assert torch.equal(norm.weight, torch.ones_like(norm.weight))
        assert torch.equal(norm.bias, torch.zeros_like(norm.bias))


def test_reset_parameters_resets_batchnorm():
    model = get_model("convnetbn", 1, 10, 16)
    with torch.no_grad():
        model.train()(torch.randn(8, 1, 16, 16) * 3 + 1)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(2.0)
    reset_parameters(model, make_generator(0))
    for m in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        assert torch.equal(m.weight, torch.ones_like(m.weight))
        assert torch.equal(m.bias, torch.zeros_like(m.bias))
        assert torch.equal(m.running_mean, torch.zeros_like(m.running_mean))
        assert torch.equal(m.running_var, torch.ones_like(m.running_var))


# ----------------------------------------------------------------------------------- batch independence
def test_instance_norm_embeddings_are_batch_independent():
    model = get_model("convnet", 3, 10, 32, width=32, generator=make_generator(0)).train()
    x = torch.randn(6, 3, 32, 32, generator=make_generator(1))
    with torch.no_grad():
        batch = model.embed(x)
        single = torch.cat([model.embed(x[i:i + 1]) for i in range(len(x))])
        halves = torch.cat([model.embed(x[:3]), model.embed(x[3:])])
    assert torch.allclose(batch, single, atol=1e-5, rtol=1e-4)
    assert torch.allclose(batch, halves, atol=1e-5, rtol=1e-4)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model.embed(x), batch, atol=1e-5, rtol=1e-4)  # train and eval agree


def test_batchnorm_train_mode_is_batch_dependent():
    model = get_model("convnetbn", 3, 10, 32, width=32, generator=make_generator(0)).train()
    x = torch.randn(6, 3, 32, 32, generator=make_generator(1))
    with torch.no_grad():
        batch = model.embed(x)
        halves = torch.cat([model.embed(x[:3]), model.embed(x[3:])])
    assert not torch.allclose(batch, halves, atol=1e-3)
    model.eval()  # with running statistics the same input gives the same output in any batch
    with torch.no_grad():
        full = model.embed(x)
        parts = torch.cat([model.embed(x[:3]), model.embed(x[3:])])
    assert torch.allclose(full, parts, atol=1e-5, rtol=1e-4)


def test_feature_probe_does_not_touch_batchnorm_statistics():
    model = get_model("convnetbn", 3, 10, 32)
    for m in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        assert m.num_batches_tracked.item() == 0
        assert torch.equal(m.running_mean, torch.zeros_like(m.running_mean))
    assert model.training


def test_instance_norm_over_a_one_by_one_map_is_refused():
    # 6×6 input, depth 3: 6 → 3 → 1 after two blocks, so the third block's instance norm sees one value
    with pytest.raises(ValueError, match="1×1 map in block 3"):
        get_model("convnet", 1, 10, 6)
    with pytest.raises(ValueError, match="1×1 map in block 2"):
        get_model("convnetd2", 1, 10, 2)
    get_model("convnetd2", 1, 10, 6)  # 6 → 3 → 1 only after the last pooling: fine
