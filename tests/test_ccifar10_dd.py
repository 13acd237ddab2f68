"""CCIFAR10-DD end to end on a few-image CIFAR-10 written in torchvision's layout: corruption k on the
images whose attribute is k, the all-conflicting test split, the on-disk cache."""

import pytest
import torch

from ltdd.data import load_dataset
from ltdd.data.bias import bias_summary
from ltdd.data.cache import CACHE_FOLDER
from ltdd.data.corruptions import CORRUPTIONS, corrupt

from test_data import write_cifar


@pytest.fixture
def fake_cifar_root(tmp_path):
    write_cifar(tmp_path, "cifar10", "bytes", per_file=12, seed=3)
    return tmp_path


def pixels_of(split, dataset):
    return (dataset.denormalize(split.images) * 255).round().to(torch.uint8)


def test_ccifar10_dd_applies_corruption_k_to_attribute_k_and_caches(fake_cifar_root):
    options = dict(bias_ratio=0.8, severity=2, frost_textures="procedural")
    biased = load_dataset("ccifar10-dd", data_root=fake_cifar_root, download=False, device="cpu", **options)
    clean = load_dataset("cifar10", data_root=fake_cifar_root, download=False, device="cpu")
    assert biased.image_shape == (3, 32, 32) and biased.train.attributes is not None
    assert torch.equal(biased.train.labels, clean.train.labels)
    assert bias_summary(biased)["test"]["aligned"] == 0  # Biased-DD: every test image conflicting
    # the deterministic corruptions can be recomputed exactly from the clean pixels
    clean_pixels, corrupted = pixels_of(clean.train, clean), pixels_of(biased.train, biased)
    for k, name in enumerate(CORRUPTIONS):
        members = torch.nonzero(biased.train.attributes == k, as_tuple=True)[0]
        if name in {"brightness", "contrast", "saturate", "pixelate", "jpeg"} and len(members):
            expected = corrupt(clean_pixels[members], name, level=3)  # severity 2 = CIFAR-10-C level 3
            assert torch.equal(corrupted[members], expected), name
    cache_files = list((fake_cifar_root / CACHE_FOLDER).glob("ccifar10-dd-*.pt"))
    assert len(cache_files) == 1
    again = load_dataset("ccifar10-dd", data_root=fake_cifar_root, download=False, device="cpu", **options)
    assert torch.equal(again.train.images, biased.train.images)
    other = load_dataset("ccifar10-dd", data_root=fake_cifar_root, download=False, device="cpu",
                         bias_ratio=0.5, severity=2, frost_textures="procedural")
    assert len(list((fake_cifar_root / CACHE_FOLDER).glob("ccifar10-dd-*.pt"))) == 2
    assert not torch.equal(other.train.attributes, biased.train.attributes)


@pytest.mark.parametrize("options, named", [({"bias_ratio": -0.1}, "bias_ratio"), ({"severity": 0}, "severity"),
                                            ({"test_split": "all"}, "test_split")])
def test_ccifar10_dd_bad_options(fake_cifar_root, options, named):
    with pytest.raises(ValueError, match=named):
        load_dataset("ccifar10-dd", data_root=fake_cifar_root, download=False, device="cpu", **options)
