"""The networks of the dataset-distillation literature, sized for any input resolution.

* :class:`ConvNet` — the workhorse of DC, DSA, DM, IDM, MTT: ``depth`` blocks of
  3×3 conv (``width`` channels) → norm → activation → 2×2 pool, then one linear layer.
  Instance norm is ``GroupNorm(C, C)``: per-sample statistics, so train and eval behave the same and a
  batch of many classes gives the same features as one class at a time.
* :class:`AlexNet`, :class:`VGG11`, :class:`ResNet18` — CIFAR-style variants used for cross-architecture
  evaluation.

Every model exposes ``embed(x)`` (the features before the classifier) and ``classifier`` (the final linear
layer). Feature sizes are found by a dummy forward, so 8×8, 16×16, 28×28, 32×32 and 64×64 inputs all work.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import positive_int

NORMS = {"instancenorm": "instancenorm", "instance": "instancenorm", "in": "instancenorm",
         "batchnorm": "batchnorm", "batch": "batchnorm", "bn": "batchnorm",
         "layernorm": "layernorm", "layer": "layernorm", "ln": "layernorm",
         "groupnorm": "groupnorm", "group": "groupnorm", "gn": "groupnorm",
         "none": "none", "nn": "none"}
POOLINGS = {"avgpooling": "avgpooling", "avg": "avgpooling", "ap": "avgpooling",
            "maxpooling": "maxpooling", "max": "maxpooling", "mp": "maxpooling",
            "none": "none", "np": "none"}
ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "leakyrelu": nn.LeakyReLU, "swish": nn.SiLU}


def _choice(kind: str, value: str, table: dict) -> str:
    key = str(value).lower()
    if key not in table:
        raise ValueError(f"{kind}={value!r} is unknown; choose one of {sorted(set(table))}")
    return table[key]


def make_norm(norm: str, channels: int, spatial: int) -> nn.Module:
    """A normalisation layer by name; ``spatial`` is the feature-map side (layer norm needs it).

    Machinery behind chapter 01."""
    norm = _choice("norm", norm, NORMS)
    if norm == "instancenorm":
        return nn.GroupNorm(channels, channels, affine=True)
    if norm == "batchnorm":
        return nn.BatchNorm2d(channels)
    if norm == "layernorm":
        return nn.LayerNorm([channels, spatial, spatial], elementwise_affine=True)
    if norm == "groupnorm":
        return nn.GroupNorm(4, channels, affine=True)
    return nn.Identity()


def _check_sizes(channels: int, num_classes: int, image_size: int) -> None:
    for name, value in (("channels", channels), ("num_classes", num_classes), ("image_size", image_size)):
        positive_int(name, value)


def _feature_size(features: nn.Module, channels: int, image_size: int) -> int:
    was_training = features.training
    features.eval()  # a BatchNorm layer would otherwise update its running statistics
    with torch.no_grad():
        out = features(torch.zeros(2, channels, image_size, image_size))
    features.train(was_training)
    return out.flatten(1).shape[1]


class FeatureClassifier(nn.Module):
    """A feature extractor ``features`` followed by one linear ``classifier``.

    ``embed(x)`` returns the flattened features (what distribution matching compares); the feature size is
    measured by a dummy forward, so any input resolution the extractor accepts works.

    Machinery behind chapter 01.
    """

    features: nn.Module
    classifier: nn.Linear
    feature_dim: int

    def _attach_head(self, features: nn.Module, channels: int, num_classes: int, image_size: int) -> None:
        self.features = features
        self.feature_dim = _feature_size(features, channels, image_size)
        self.classifier = nn.Linear(self.feature_dim, num_classes)

    def embed(self, x: Tensor) -> Tensor:
        """The flattened features of ``x``, ``(N, feature_dim)``."""
        return self.features(x).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        """The logits: the classifier applied to the features (:meth:`embed`)."""
        return self.classifier(self.embed(x))


class ConvNet(FeatureClassifier):
    """ConvNet-``depth`` of the DC/DM papers (defaults: width 128, depth 3, instance norm, ReLU, avg pool).

    For 1-channel 28×28 inputs (MNIST) the first convolution pads by 3, turning them into 32×32 maps as the
    reference does; ``first_padding`` overrides this. (The reference pads by 3 for *every* 1-channel input;
    here the rule is tied to 28×28 so that the 16×16 embedded digits keep their size.)

    Introduced in chapter 01.
    """

    def __init__(self, channels: int, num_classes: int, image_size: int, width: int = 128, depth: int = 3,
                 act: str = "relu", norm: str = "instancenorm", pooling: str = "avgpooling",
                 first_padding: int | None = None):
        super().__init__()
        _check_sizes(channels, num_classes, image_size)
        positive_int("depth", depth)
        positive_int("width", width)
        activation = ACTIVATIONS[_choice("act", act, {k: k for k in ACTIVATIONS})]
        pooling = _choice("pooling", pooling, POOLINGS)
        if first_padding is None:
            first_padding = 3 if (channels == 1 and image_size == 28) else 1
        layers: list[nn.Module] = []
        in_channels, side = channels, image_size
        for block in range(depth):
            padding = first_padding if block == 0 else 1
            layers.append(nn.Conv2d(in_channels, width, kernel_size=3, padding=padding))
            side = side + 2 * padding - 2
            if side == 1 and NORMS[_choice("norm", norm, NORMS)] == "instancenorm":
                # (x - mean) / std over a single value is 0: every later feature would be constant
                raise ValueError(
                    f"image_size={image_size} leaves a 1×1 map in block {block + 1} of depth={depth}, where "
                    "instance norm outputs zeros; use a larger image, a smaller depth or another norm")
            layers.append(make_norm(norm, width, side))
            # in place, as the reference: no fresh activation tensor per layer (a measurable share of a CPU pass)
            layers.append(activation(inplace=True) if activation is not nn.Sigmoid else activation())
            if pooling != "none":
                if side < 2:
                    raise ValueError(
                        f"image_size={image_size} is too small for depth={depth} with pooling; "
                        f"use depth <= {block} or pooling='none'")
                layers.append(nn.AvgPool2d(2, 2) if pooling == "avgpooling" else nn.MaxPool2d(2, 2))
                side //= 2
            in_channels = width
        self._attach_head(nn.Sequential(*layers), channels, num_classes, image_size)


class AlexNet(FeatureClassifier):
    """The five-convolution AlexNet of the DC benchmark (pools use ``ceil_mode`` so small inputs work).

    Machinery behind chapter 01."""

    def __init__(self, channels: int, num_classes: int, image_size: int, norm: str = "none"):
        super().__init__()
        _check_sizes(channels, num_classes, image_size)
        side = image_size

        def conv(cin: int, cout: int, kernel: int, padding: int) -> list[nn.Module]:
            nonlocal side
            side = side + 2 * padding - kernel + 1
            return [nn.Conv2d(cin, cout, kernel, padding=padding), make_norm(norm, cout, side), nn.ReLU()]

        def pool() -> nn.Module:
            nonlocal side
            side = math.ceil(side / 2)
            return nn.MaxPool2d(2, 2, ceil_mode=True)

        layers = conv(channels, 128, 5, 4 if channels == 1 else 2) + [pool()]
        layers += conv(128, 192, 5, 2) + [pool()]
        layers += conv(192, 256, 3, 1) + conv(256, 192, 3, 1) + conv(192, 192, 3, 1) + [pool()]
        self._attach_head(nn.Sequential(*layers), channels, num_classes, image_size)


class VGG11(FeatureClassifier):
    """VGG-11 for CIFAR-size inputs: eight 3×3 convolutions, five pools, one linear classifier.

    Machinery behind chapter 01."""

    PLAN = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]

    def __init__(self, channels: int, num_classes: int, image_size: int, norm: str = "instancenorm"):
        super().__init__()
        _check_sizes(channels, num_classes, image_size)
        layers: list[nn.Module] = []
        in_channels, side = channels, image_size
        for item in self.PLAN:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
                side = math.ceil(side / 2)
            else:
                padding = 3 if (channels == 1 and image_size == 28 and in_channels == 1) else 1
                side = side + 2 * padding - 2
                layers += [nn.Conv2d(in_channels, item, 3, padding=padding), make_norm(norm, item, side),
                           nn.ReLU()]
                in_channels = item
        self._attach_head(nn.Sequential(*layers), channels, num_classes, image_size)


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3×3 convolutions, each normalised, and a shortcut (a normalised 1×1 convolution
    when the stride or the width changes).

    Machinery behind chapter 01."""

    def __init__(self, cin: int, cout: int, stride: int, norm: str, side: int):
        super().__init__()
        out_side = math.ceil(side / stride)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.norm1 = make_norm(norm, cout, out_side)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.norm2 = make_norm(norm, cout, out_side)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                          make_norm(norm, cout, out_side))

    def forward(self, x: Tensor) -> Tensor:
        """``relu(norm2(conv2(relu(norm1(conv1(x))))) + shortcut(x))``."""
        out = F.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(FeatureClassifier):
    """CIFAR-style ResNet-18: 3×3 stem without max-pool, four stages of two basic blocks, global avg pool.

    ``norm='instancenorm'`` is the DC benchmark's ``ResNet18``; ``norm='batchnorm'`` its ``ResNet18BN``.

    Machinery behind chapter 01.
    """

    def __init__(self, channels: int, num_classes: int, image_size: int, norm: str = "instancenorm"):
        super().__init__()
        _check_sizes(channels, num_classes, image_size)
        side = image_size
        stem = [nn.Conv2d(channels, 64, 3, padding=1, bias=False), make_norm(norm, 64, side), nn.ReLU()]
        blocks: list[nn.Module] = []
        cin = 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            for block_stride in (stride, 1):
                blocks.append(BasicBlock(cin, cout, block_stride, norm, side))
                side = math.ceil(side / block_stride)
                cin = cout
        self._attach_head(nn.Sequential(*stem, *blocks, nn.AdaptiveAvgPool2d(1)), channels, num_classes,
                          image_size)


_CONVNET_NAME = re.compile(
    r"^convnet(?:d(?P<depth>\d+))?(?:w(?P<width>\d+))?(?P<norm>nn|bn|ln|in|gn)?(?P<pool>np|mp|ap)?$")
MODEL_NAMES = ["convnet", "convnetd4", "convnetbn", "alexnet", "alexnetbn", "vgg11", "vgg11bn",
               "resnet18", "resnet18bn"]


def available_models() -> list[str]:
    """The canonical names; ConvNet also accepts the reference's variants (``ConvNetD2``, ``ConvNetW64``,
    ``ConvNetBN``, ``ConvNetNP``, ...).

    Machinery behind chapter 01."""
    return list(MODEL_NAMES)


def get_model(name: str, channels: int, num_classes: int, image_size: int,
              generator: torch.Generator | None = None, **options) -> nn.Module:
    """Build a model by name (case-insensitive). With a ``generator`` the initial weights are drawn from it
    (PyTorch's default initialisation, reproducibly); ``options`` override constructor arguments, e.g.
    ``get_model("convnet", 3, 10, 32, width=64)``.

    Introduced in chapter 09."""
    key = str(name).lower().replace("-", "").replace("_", "")
    # The constructors draw PyTorch's default init from the global RNG; with a generator those draws are
    # overwritten anyway, so the global state is restored afterwards (nothing in ltdd may shift it).
    global_state = torch.get_rng_state() if generator is not None else None
    match = _CONVNET_NAME.match(key)
    if match:
        settings = {}
        if match["depth"]:
            settings["depth"] = int(match["depth"])
        if match["width"]:
            settings["width"] = int(match["width"])
        if match["norm"]:
            settings["norm"] = NORMS[match["norm"]]
        if match["pool"]:
            settings["pooling"] = POOLINGS[match["pool"]]
        model = ConvNet(channels, num_classes, image_size, **{**settings, **options})
    elif key in {"alexnet", "alexnetbn"}:
        model = AlexNet(channels, num_classes, image_size,
                        **{"norm": "batchnorm" if key.endswith("bn") else "none", **options})
    elif key in {"vgg11", "vgg11bn"}:
        model = VGG11(channels, num_classes, image_size,
                      **{"norm": "batchnorm" if key.endswith("bn") else "instancenorm", **options})
    elif key in {"resnet18", "resnet18bn"}:
        model = ResNet18(channels, num_classes, image_size,
                         **{"norm": "batchnorm" if key.endswith("bn") else "instancenorm", **options})
    else:
        raise ValueError(f"model={name!r} is unknown; choose one of {available_models()} "
                         "(or a ConvNet variant such as ConvNetD2, ConvNetW64, ConvNetBN)")
    if generator is not None:
        torch.set_rng_state(global_state)
        reset_parameters(model, generator)
    return model


@torch.no_grad()
def reset_parameters(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-draw every weight with PyTorch's default initialisation, from ``generator``.

    Conv and linear layers: Kaiming-uniform with ``a=√5`` and a uniform bias in ±1/√fan_in, exactly what
    ``reset_parameters`` does, but reproducible without touching the global RNG. Norm layers: ones, zeros.

    Machinery behind chapter 01.
    """
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            fan_in = module.weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in)  # kaiming_uniform(a=√5) reduces to this bound
            _uniform(module.weight, bound, generator)
            if module.bias is not None:
                _uniform(module.bias, bound, generator)
        elif isinstance(module, (nn.GroupNorm, nn.BatchNorm2d, nn.LayerNorm)):
            if getattr(module, "weight", None) is not None:
                module.weight.fill_(1.0)
            if getattr(module, "bias", None) is not None:
                module.bias.zero_()
            if isinstance(module, nn.BatchNorm2d):
                module.reset_running_stats()
    return model


def _uniform(tensor: Tensor, bound: float, generator: torch.Generator) -> None:
    values = torch.rand(tensor.shape, generator=generator, device=generator.device, dtype=tensor.dtype)
    tensor.copy_(values.to(tensor.device).mul_(2 * bound).sub_(bound))


def has_batch_norm(model: nn.Module) -> bool:
    """Whether any layer normalises over the batch (its features then depend on the other images in it).

    Machinery behind chapter 01."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def count_parameters(model: nn.Module) -> int:
    """Number of parameters of ``model``. Machinery behind chapter 01."""
    return sum(p.numel() for p in model.parameters())
