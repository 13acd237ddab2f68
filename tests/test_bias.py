"""Biased datasets: attribute assignment (LfF / Biased-DD rule), CMNIST-DD colouring, coloured digits."""

import inspect

import numpy as np
import pytest
import torch

from ltdd.config import make_generator
from ltdd.data.bias import (
    BIAS_COLOURS, COLOUR_STDS, aligned_counts, assign_attributes, attribute_milestones, bias_ratio_matrix,
    bias_summary, biased_rate, build_cdigits, build_cmnist_dd, colorize, colour_jitter, colour_std,
    make_coloured,
)
from ltdd.data.loaders import load_digits

# CIFAR-10 train class 0 (5,000 images): counts over attributes 0..9, from the reference notes (§2.1).
CIFAR10_CLASS0 = {
    0.0: [0, 556, 555, 556, 555, 556, 555, 556, 555, 556],
    0.1: [500] * 10,
    0.5: [2500, 278, 278, 277, 278, 278, 278, 277, 278, 278],
    0.8: [4000, 111, 111, 111, 111, 112, 111, 111, 111, 111],
    0.95: [4750, 28, 28, 27, 28, 28, 28, 27, 28, 28],
    1.0: [5000] + [0] * 9,
}
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def cifar_like_labels(per_class: int = 5000, num_classes: int = 10) -> torch.Tensor:
    """Classes interleaved (0, 1, ..., 9, 0, 1, ...) so that dataset order is not class order."""
    return torch.arange(num_classes).repeat(per_class)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def cdigits():
    return build_cdigits(None, False, torch.device("cpu"))


# ------------------------------------------------------------------------------ attribute assignment
@pytest.mark.parametrize("ratio", sorted(CIFAR10_CLASS0))
def test_cifar10_class0_counts_match_reference(ratio):
    labels = cifar_like_labels()
    attributes = assign_attributes(labels, ratio, 10)
    assert torch.bincount(attributes[labels == 0], minlength=10).tolist() == CIFAR10_CLASS0[ratio]


def test_every_class_gets_its_share_and_its_own_aligned_block():
    labels = cifar_like_labels()
    attributes = assign_attributes(labels, 0.95, 10)
    for c in range(10):
        counts = torch.bincount(attributes[labels == c], minlength=10)
        assert counts[c] == 4750 and counts.sum() == 5000
        assert sorted(counts.tolist()) == sorted(CIFAR10_CLASS0[0.95])


def test_mnist_095_gives_57000_aligned():
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(MNIST_TRAIN_COUNTS)])
    labels = labels[torch.randperm(len(labels), generator=make_generator(0))]
    assert aligned_counts(labels, assign_attributes(labels, 0.95, 10)) == (57000, 3000)


def test_biased_dd_test_set_is_all_conflicting_and_spread():
    labels = cifar_like_labels(per_class=1000)
    attributes = assign_attributes(labels, 0.0, 10)
    assert aligned_counts(labels, attributes) == (0, 10000)
    for c in range(10):
        counts = torch.bincount(attributes[labels == c], minlength=10).tolist()
        assert counts[c] == 0 and set(counts[:c] + counts[c + 1:]) == {111, 112}


def test_lff_ratio_01_is_uniform():
    labels = cifar_like_labels(per_class=1000)
    attributes = assign_attributes(labels, 0.1, 10)
    for c in range(10):
        assert torch.bincount(attributes[labels == c], minlength=10).tolist() == [100] * 10


def test_milestones_round_half_to_even():
    # 5 images at r = 0.5: 2.5 -> 2 (NumPy rounds half to even); 3 images: 1.5 -> 2
    assert attribute_milestones([5, 3], 0.5, 2).tolist() == [[2, 5], [2, 3]]
    labels = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1])
    assert assign_attributes(labels, 0.5, 2).tolist() == [0, 0, 1, 1, 1, 0, 0, 1]


def test_ratio_matrix_rows_are_distributions():
    ratios = bias_ratio_matrix(0.8, 10)
    assert np.allclose(ratios.sum(axis=1), 1.0)
    assert np.all(np.diag(ratios) == 0.8)
    assert np.allclose(ratios[0, 1:], 0.2 / 9)


def test_contiguous_blocks_in_dataset_order():
    labels = torch.randint(0, 10, (3000,), generator=make_generator(1))
    attributes = assign_attributes(labels, 0.5, 10)
    counts = torch.bincount(labels, minlength=10).tolist()
    milestones = attribute_milestones(counts, 0.5, 10)
    for c in range(10):
        in_order = attributes[labels == c]
        block_sizes = np.diff(milestones[c], prepend=0).tolist()
        expected = torch.repeat_interleave(torch.arange(10), torch.tensor(block_sizes))
        assert torch.equal(in_order, expected)  # sorted blocks 0, 1, ..., 9 in dataset order


def test_shuffle_changes_order_not_counts():
    labels = cifar_like_labels(per_class=500)
    plain = assign_attributes(labels, 0.8, 10)
    shuffled = assign_attributes(labels, 0.8, 10, shuffle=True, generator=make_generator(3))
    again = assign_attributes(labels, 0.8, 10, shuffle=True, generator=make_generator(3))
    other = assign_attributes(labels, 0.8, 10, shuffle=True, generator=make_generator(4))
    assert not torch.equal(plain, shuffled)
    assert torch.equal(shuffled, again) and not torch.equal(shuffled, other)
    for c in range(10):
        a, b = plain[labels == c], shuffled[labels == c]
        assert torch.bincount(a, minlength=10).tolist() == torch.bincount(b, minlength=10).tolist()
        assert not torch.equal(b, b.sort().values)  # no longer contiguous blocks
    assert torch.equal(assign_attributes(labels, 0.8, 10, shuffle=True),
                       assign_attributes(labels, 0.8, 10, shuffle=True))  # default generator is seeded


def test_empty_class_and_dtype():
    labels = torch.tensor([0, 0, 2, 2, 2], dtype=torch.int32)  # class 1 has no image
    attributes = assign_attributes(labels, 1.0, 3)
    assert attributes.dtype == torch.long and attributes.tolist() == [0, 0, 2, 2, 2]


@pytest.mark.parametrize("ratio", [-0.01, 1.01, float("nan"), "0.5", True, None])
def test_bias_ratio_outside_unit_interval(ratio):
    with pytest.raises(ValueError, match="bias_ratio"):
        assign_attributes(torch.tensor([0, 1]), ratio, 2)


def test_bad_labels_and_num_classes():
    with pytest.raises(ValueError, match="labels"):
        assign_attributes(torch.tensor([0, 10]), 0.5, 10)
    with pytest.raises(ValueError, match="labels"):
        assign_attributes(torch.tensor([0.0, 1.0]), 0.5, 10)
    with pytest.raises(ValueError, match="num_classes"):
        assign_attributes(torch.tensor([0, 0]), 0.5, 1)


def test_aligned_counts_and_biased_rate():
    labels = torch.tensor([0, 1, 2, 3])
    attributes = torch.tensor([0, 1, 0, 0])
    assert aligned_counts(labels, attributes) == (2, 2)
    assert aligned_counts(labels, attributes).conflicting == 2
    assert biased_rate(labels, attributes) == 0.5
    with pytest.raises(ValueError, match="empty"):
        biased_rate(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long))
    with pytest.raises(ValueError, match="attributes"):
        aligned_counts(labels, attributes[:3])


# -------------------------------------------------------------------------------------------- colour
def square_digits(n: int, size: int = 8) -> torch.Tensor:
    """Grey test images: black background, a full-intensity square and a mid-grey bar."""
    pixels = torch.zeros(n, 1, size, size)
    pixels[:, :, 2:5, 2:5] = 1.0
    pixels[:, :, 6, 1:7] = 100 / 255
    return pixels


def test_severity_to_std():
    assert [colour_std(s) for s in (1, 2, 3, 4)] == [0.05, 0.02, 0.01, 0.005]


@pytest.mark.parametrize("severity", [0, 5, 2.0, "1", None, True])
def test_bad_severity(severity):
    with pytest.raises(ValueError, match="severity"):
        colour_std(severity)
    with pytest.raises(ValueError, match="severity"):
        colorize(square_digits(2), torch.tensor([0, 1]), severity)


def test_background_black_foreground_class_colour():
    attributes = torch.arange(10).repeat(20)
    out = colorize(square_digits(200), attributes, 4, make_generator(0))
    assert out.shape == (200, 3, 8, 8) and out.dtype == torch.float32
    background = square_digits(200).expand(-1, 3, -1, -1) == 0
    assert torch.all(out[background] == 0)
    stroke = out[:, :, 3, 3]  # full intensity: the jittered colour, truncated to 1/255
    assert torch.all((stroke - BIAS_COLOURS[attributes]).abs() <= 5 * 0.005 + 1 / 255)
    # every image's stroke is closest to its own attribute's colour
    assert torch.equal(torch.cdist(stroke, BIAS_COLOURS).argmin(dim=1), attributes)
    # a mid-grey pixel is the same colour scaled by its intensity
    assert torch.allclose(out[:, :, 6, 3], stroke * 100 / 255, atol=2 / 255)


@pytest.mark.parametrize("severity", [1, 2, 3, 4])
def test_jitter_std_matches_severity(severity):
    attributes = torch.full((20000,), 2)  # colour 2 lies far from 0 and 1: no clamping
    colours = colour_jitter(attributes, severity, make_generator(severity))
    noise = colours - BIAS_COLOURS[2]
    assert noise.mean(dim=0).abs().max() < 0.05 * COLOUR_STDS[severity]
    assert torch.allclose(noise.std(dim=0), torch.full((3,), COLOUR_STDS[severity]), rtol=0.05)


def test_pixel_noise_std_at_severity_1():
    out = colorize(square_digits(5000), torch.full((5000,), 2), 1, make_generator(7))
    estimate = (out[:, :, 3, 3] * 255 + 0.5) / 255  # undo the truncation on average
    assert torch.allclose(estimate.std(dim=0), torch.full((3,), 0.05), rtol=0.06)
    assert torch.allclose(estimate.mean(dim=0), BIAS_COLOURS[2], atol=0.003)


def test_one_offset_per_image():
    out = colorize(square_digits(50), torch.zeros(50, dtype=torch.long), 1, make_generator(0))
    square = out[:, :, 2:5, 2:5].reshape(50, 3, 9)
    assert torch.all(square == square[:, :, :1])  # the same colour over the whole stroke of an image
    assert square[:, 0, 0].unique().numel() > 10  # but a different colour per image


def test_same_seed_same_output_different_seed_different():
    pixels, attributes = square_digits(64), torch.arange(10).repeat(7)[:64]
    a = colorize(pixels, attributes, 2, make_generator(5))
    b = colorize(pixels, attributes, 2, make_generator(5))
    c = colorize(pixels, attributes, 2, make_generator(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_uint8_truncation():
    grey = torch.randint(0, 256, (300, 1, 6, 6), generator=make_generator(2)).float()
    attributes = torch.arange(10).repeat(30)
    out = colorize(grey / 255, attributes, 1, make_generator(9))
    scaled = out * 255
    assert torch.equal(scaled, scaled.round()) and scaled.min() >= 0 and scaled.max() <= 255
    colour = colour_jitter(attributes, 1, make_generator(9)).view(-1, 3, 1, 1)
    product = colour * grey  # float32, as the original
    assert torch.equal(scaled, product.floor())  # astype(uint8) truncates ...
    assert not torch.equal(scaled, product.round())  # ... it does not round


def test_colorize_rejects_normalised_pixels():
    with pytest.raises(ValueError, match="pixels"):
        colorize(square_digits(2) * 3 - 0.5, torch.tensor([0, 1]), 1)
    with pytest.raises(ValueError, match="pixels"):
        colorize(torch.zeros(2, 3, 4, 4), torch.tensor([0, 1]), 1)


# ------------------------------------------------------------------------------- coloured datasets
def test_build_cdigits_end_to_end(cdigits, digits):
    assert cdigits.name == "cdigits" and not cdigits.hflip_safe
    assert cdigits.train.images.shape == (len(digits.train), 3, 16, 16)
    assert cdigits.test.images.shape == (len(digits.test), 3, 16, 16)
    assert torch.equal(cdigits.train.labels, digits.train.labels)
    assert cdigits.train.attributes is not None and cdigits.test.attributes is not None
    train = aligned_counts(cdigits.train.labels, cdigits.train.attributes)
    info = cdigits.info
    assert info["bias_ratio"] == 0.95 and info["severity"] == 4 and info["test_split"] == "conflicting"
    assert (info["train"]["aligned"], info["train"]["conflicting"]) == train
    assert info["train"]["aligned"] + info["train"]["conflicting"] == len(digits.train)
    assert abs(info["biased_rate"] - 0.95) < 0.01
    assert (info["test"]["aligned"], info["test"]["conflicting"]) == (0, len(digits.test))
    assert cdigits.summary()["info"]["train"] == info["train"]
    assert bias_summary(cdigits)["train"] == info["train"]
    assert bias_summary(digits) is None


def test_cdigits_normalised_and_pixels_recovered(cdigits, digits):
    images = cdigits.train.images
    per_channel = images.transpose(0, 1).reshape(3, -1)
    assert torch.allclose(per_channel.mean(dim=1), torch.zeros(3), atol=1e-3)
    assert torch.allclose(per_channel.std(dim=1), torch.ones(3), atol=1e-3)
    pixels = cdigits.denormalize(images)
    assert torch.allclose(pixels * 255, (pixels * 255).round(), atol=1e-3)  # multiples of 1/255
    grey = (digits.denormalize(digits.train.images) * 255).round()
    assert torch.all(pixels.abs()[(grey == 0).expand(-1, 3, -1, -1)] < 1e-5)  # black stays black


def test_cdigits_foreground_follows_attribute(cdigits, digits):
    grey = (digits.denormalize(digits.train.images) * 255).round()
    pixels = cdigits.denormalize(cdigits.train.images) * 255
    bright = (grey >= 128).float()  # every digit has strokes this bright
    colour = (pixels * bright).sum(dim=(2, 3)) / (grey * bright).sum(dim=(2, 3))
    assert torch.equal(torch.cdist(colour, BIAS_COLOURS).argmin(dim=1), cdigits.train.attributes)


def test_test_splits(digits):
    conflicting = make_coloured(digits, 0.95, 4, seed=0, test_split="conflicting")
    assert not torch.any(conflicting.test.attributes == conflicting.test.labels)
    lff = make_coloured(digits, 0.95, 4, seed=0, test_split="lff")
    rate = biased_rate(lff.test.labels, lff.test.attributes)
    assert abs(rate - 0.1) < 0.01 and lff.info["test_bias_ratio"] == 0.1
    assert torch.equal(lff.train.attributes, conflicting.train.attributes)  # the training set is unchanged
    with pytest.raises(ValueError, match="test_split"):
        make_coloured(digits, 0.95, 4, test_split="unbiased")


def test_make_coloured_seeds_and_arguments(digits):
    a = make_coloured(digits, 0.5, 1, seed=0)
    b = make_coloured(digits, 0.5, 1, seed=0)
    c = make_coloured(digits, 0.5, 1, seed=1)
    assert torch.equal(a.train.images, b.train.images) and not torch.equal(a.train.images, c.train.images)
    assert torch.equal(a.train.attributes, c.train.attributes)  # the rule is deterministic, only noise varies
    with pytest.raises(ValueError, match="bias_ratio"):
        make_coloured(digits, 1.5, 4)
    with pytest.raises(ValueError, match="severity"):
        make_coloured(digits, 0.5, 5)
    with pytest.raises(ValueError, match="grey"):
        make_coloured(a, 0.5, 4)


def test_builders_follow_the_registry_signature():
    for builder in (build_cdigits, build_cmnist_dd):
        parameters = inspect.signature(builder).parameters
        assert list(parameters)[:3] == ["data_root", "download", "device"]
        assert {"bias_ratio", "severity", "seed", "test_split"} <= set(parameters)
        assert parameters["test_split"].default == "conflicting"


def write_fake_mnist(root, n_train=40, n_test=20):
    """Tiny MNIST in torchvision's raw IDX layout."""
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        pixels = np.zeros((n, 28, 28), np.uint8)
        pixels[:, 8:20, 10:18] = rng.integers(1, 256, (n, 12, 8), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, array, code in (("images-idx3", pixels, 3), ("labels-idx1", labels, 1)):
            header = bytes([0, 0, 0x08, code]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
            (raw / f"{prefix}-{kind}-ubyte").write_bytes(header + array.tobytes())
        images[prefix] = pixels
    return images


def test_build_cmnist_dd_from_raw_files(tmp_path):
    raw = write_fake_mnist(tmp_path)
    data = build_cmnist_dd(tmp_path, False, torch.device("cpu"), bias_ratio=0.5, severity=1, seed=3)
    assert data.name == "cmnist-dd" and data.image_shape == (3, 28, 28)
    assert len(data.train) == 40 and len(data.test) == 20
    assert data.info["train"] == {"aligned": 20, "conflicting": 20, "biased_rate": 0.5}
    assert data.info["test"]["aligned"] == 0
    # exactly the original's arithmetic on the raw uint8 digits: floor(colour * raw) / 255
    colour = colour_jitter(data.train.attributes, 1, make_generator(3, "colour", "train"))
    expected = (colour.view(-1, 3, 1, 1) * torch.from_numpy(raw["train"]).float().unsqueeze(1)).floor()
    assert torch.equal((data.denormalize(data.train.images) * 255).round(), expected)
    with pytest.raises(ValueError, match="bias_ratio"):
        build_cmnist_dd(tmp_path, False, torch.device("cpu"), bias_ratio=-1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_same_result_on_cuda(digits):
    cpu = make_coloured(digits, 0.8, 2, seed=4)
    cuda = make_coloured(digits.to("cuda"), 0.8, 2, seed=4)
    assert cuda.device.type == "cuda" and cuda.mean == cpu.mean and cuda.std == cpu.std
    assert torch.equal(cuda.train.attributes.cpu(), cpu.train.attributes)
    assert torch.allclose(cuda.train.images.cpu(), cpu.train.images, atol=1e-5)
