"""Datasets: the embedded digits, and MNIST/CIFAR parsed offline from tiny files in torchvision's layout."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from ltdd.data import DatasetFilesMissing, available_datasets, load_dataset, read_idx
from ltdd.data.loaders import (CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD, MNIST_MEAN,
                               MNIST_STD)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", device="cpu")


# ------------------------------------------------------------------------------------------- digits
def test_digits_counts_match_sklearn(digits):
    from sklearn.datasets import load_digits

    target = load_digits().target
    assert digits.num_classes == 10
    assert len(digits.train) + len(digits.test) == 1797
    summary = digits.summary()
    assert summary["total"] == 1797
    assert summary["per_class"] == np.bincount(target, minlength=10).tolist()
    train = digits.train.class_counts(10)
    test = digits.test.class_counts(10)
    assert [a + b for a, b in zip(train, test)] == np.bincount(target, minlength=10).tolist()
    # the documented split: round(30 %) of every class is test
    assert test == [round(0.3 * n) for n in np.bincount(target, minlength=10)]
    assert min(train) == 122


def test_digits_shapes_and_dtypes(digits):
    assert digits.train.images.shape == (1258, 1, 16, 16)
    assert digits.test.images.shape == (539, 1, 16, 16)
    assert digits.train.images.dtype == torch.float32
    assert digits.train.labels.dtype == torch.long
    assert digits.image_shape == (1, 16, 16)
    assert digits.hflip_safe is False  # a mirrored digit is another digit


def test_digits_normalised(digits):
    images = digits.train.images
    assert abs(images.mean().item()) < 1e-2
    assert abs(images.std().item() - 1.0) < 1e-2
    # de-normalised pixels lie in [0, 1] (sklearn's 0..16 scaled by 1/16, bilinear upsampling clamped)
    pixels = digits.denormalize(torch.cat([digits.train.images, digits.test.images]))
    assert pixels.min().item() >= -1e-5 and pixels.max().item() <= 1 + 1e-5
    assert pixels.max().item() > 0.99


def test_digits_split_is_a_partition_of_sklearn():
    from sklearn.datasets import load_digits

    # at 8×8 every image is one sklearn row (all 1797 rows differ): train ∪ test must use each exactly once
    bunch = load_digits()
    small = load_dataset("digits", image_size=8, device="cpu")
    raw = torch.tensor(bunch.images, dtype=torch.float32).flatten(1) / 16.0
    pixels = small.denormalize(torch.cat([small.train.images, small.test.images])).flatten(1)
    distance, index = torch.cdist(pixels, raw).min(dim=1)
    assert distance.max().item() < 1e-3
    assert sorted(index.tolist()) == list(range(1797))
    labels = torch.cat([small.train.labels, small.test.labels])
    assert torch.equal(labels, torch.as_tensor(bunch.target)[index])


def test_digits_split_is_deterministic(digits):
    again = load_dataset("digits", device="cpu")
    assert torch.equal(again.train.images, digits.train.images)
    assert torch.equal(again.train.labels, digits.train.labels)
    assert torch.equal(again.test.images, digits.test.images)
    assert torch.equal(again.test.labels, digits.test.labels)
    assert again.mean == digits.mean and again.std == digits.std


def test_digits_image_size_8():
    small = load_dataset("digits", image_size=8, device="cpu")
    assert small.train.images.shape == (1258, 1, 8, 8)
    assert small.test.images.shape == (539, 1, 8, 8)
    assert small.info["image_size"] == 8
    assert abs(small.train.images.mean().item()) < 1e-2
    assert abs(small.train.images.std().item() - 1.0) < 1e-2


def test_digits_image_size_32():
    big = load_dataset("digits", image_size=32, device="cpu")
    assert big.train.images.shape == (1258, 1, 32, 32)


def test_unknown_dataset_names_argument_and_choices():
    with pytest.raises(ValueError) as info:
        load_dataset("nope")
    message = str(info.value)
    assert "dataset" in message and "nope" in message
    for name in available_datasets():
        assert name in message
    assert {"digits", "mnist", "cifar10", "cifar100"} <= set(available_datasets())


@pytest.mark.parametrize("options, word", [
    ({"image_size": 4}, "image_size"),
    ({"image_size": "16"}, "image_size"),
    ({"colour": True}, "colour"),
])
def test_bad_digits_option(options, word):
    with pytest.raises(ValueError, match=word):
        load_dataset("digits", device="cpu", **options)


def test_unexpected_option_for_real_dataset(tmp_path):
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("mnist", data_root=tmp_path, download=False, image_size=8)


# -------------------------------------------------------------------------------- IDX / MNIST writers
def idx_bytes(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.tobytes()


def write_mnist(root: Path, gz: bool, n_train: int = 6, n_test: int = 4, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (raw / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (raw / name).write_bytes(data)
    return arrays


def test_idx_magic_numbers_are_the_official_ones():
    images = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    labels = idx_bytes(np.zeros(2, np.uint8))
    assert images[:4] == (0x00000803).to_bytes(4, "big")
    assert labels[:4] == (0x00000801).to_bytes(4, "big")
    assert images[4:16] == struct.pack(">III", 2, 28, 28)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_mnist_parsing_offline(tmp_path, gz):
    arrays = write_mnist(tmp_path, gz)
    mnist = load_dataset("mnist", data_root=tmp_path, download=False, device="cpu")
    assert mnist.name == "mnist"
    assert mnist.num_classes == 10
    assert mnist.mean == MNIST_MEAN and mnist.std == MNIST_STD
    assert mnist.hflip_safe is False
    for split, prefix in (("train", "train"), ("test", "t10k")):
        part = getattr(mnist, split)
        written = arrays[f"{prefix}-images-idx3-ubyte"]
        assert part.images.shape == (len(written), 1, 28, 28)
        assert part.images.dtype == torch.float32
        pixels = mnist.denormalize(part.images).squeeze(1) * 255
        assert torch.allclose(pixels, torch.from_numpy(written).float(), atol=1e-3)
        assert torch.equal(torch.round(pixels).to(torch.uint8), torch.from_numpy(written))
        assert part.labels.dtype == torch.long
        assert part.labels.tolist() == arrays[f"{prefix}-labels-idx1-ubyte"].tolist()


def test_read_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(idx_bytes(array))
    assert np.array_equal(read_idx(path), array)
    gz = tmp_path / "x-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(idx_bytes(array)))
    assert np.array_equal(read_idx(gz), array)


@pytest.mark.parametrize("damage", ["truncated_body", "truncated_header", "bad_magic", "float_type", "empty"])
def test_read_idx_rejects_damaged_files(tmp_path, damage):
    good = idx_bytes(np.ones((3, 28, 28), np.uint8))
    data = {
        "truncated_body": good[:-5],
        "truncated_header": good[:10],
        "bad_magic": b"\x12\x34" + good[2:],
        "float_type": good[:2] + b"\x0d" + good[3:],  # 0x0D is float32 in IDX, not unsigned bytes
        "empty": b"",
    }[damage]
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(ValueError) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_mnist_truncated_file_is_value_error(tmp_path):
    write_mnist(tmp_path, gz=False)
    path = tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(ValueError, match="truncated"):
        load_dataset("mnist", data_root=tmp_path, download=False, device="cpu")


def test_mnist_missing_files(tmp_path):
    with pytest.raises(DatasetFilesMissing) as info:
        load_dataset("mnist", data_root=tmp_path, download=False, device="cpu")
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        assert name in message
    assert "download" in message


def test_mnist_one_file_missing(tmp_path):
    write_mnist(tmp_path, gz=True)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetFilesMissing, match="t10k-labels-idx1-ubyte"):
        load_dataset("mnist", data_root=tmp_path, download=False, device="cpu")


# ----------------------------------------------------------------------------------------- CIFAR writers
class Py2Str(bytes):
    """A Python-2 ``str``: pickled with the BINSTRING opcodes the official CIFAR files use."""


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler, whose dispatch table can be extended
    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2str(self, obj):
        data = bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<I", len(data)) + data)

    dispatch[Py2Str] = save_py2str


def dump_pickle(obj: dict, path: Path, style: str) -> None:
    """``style='bytes'``: a Python-3 dict with bytes keys; ``'py2'``: keys and names as Python-2 strings,
    byte for byte the encoding of the official files."""
    if style == "bytes":
        with open(path, "wb") as handle:
            pickle.dump(obj, handle, protocol=2)
        return

    def convert(value):
        if isinstance(value, bytes):
            return Py2Str(value)
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump({Py2Str(k): convert(v) for k, v in obj.items()})
    path.write_bytes(buffer.getvalue())


CIFAR_CASES = {
    "cifar10": dict(folder="cifar-10-batches-py", train=[f"data_batch_{i}" for i in range(1, 6)],
                    test=["test_batch"], meta="batches.meta", label_key=b"labels", names_key=b"label_names",
                    classes=10, mean=CIFAR10_MEAN, std=CIFAR10_STD),
    "cifar100": dict(folder="cifar-100-python", train=["train"], test=["test"], meta="meta",
                     label_key=b"fine_labels", names_key=b"fine_label_names", classes=100,
                     mean=CIFAR100_MEAN, std=CIFAR100_STD),
}


def write_cifar(root: Path, name: str, style: str, per_file: int = 3, seed: int = 0) -> dict:
    case = CIFAR_CASES[name]
    rng = np.random.default_rng(seed)
    folder = root / case["folder"]
    folder.mkdir(parents=True)
    written = {"train": ([], []), "test": ([], [])}
    for split in ("train", "test"):
        for file in case[split]:
            data = rng.integers(0, 256, (per_file, 3072), dtype=np.uint8)
            labels = [int(v) for v in rng.integers(0, case["classes"], per_file)]
            entry = {b"batch_label": f"{split} {file}".encode(), b"data": data, case["label_key"]: labels,
                     b"filenames": [f"img_{i}.png".encode() for i in range(per_file)]}
            if name == "cifar100":
                entry[b"coarse_labels"] = [v // 5 for v in labels]
            dump_pickle(entry, folder / file, style)
            written[split][0].append(data)
            written[split][1].extend(labels)
    names = [f"class_{i:03d}" for i in range(case["classes"])]
    meta = {case["names_key"]: [n.encode() for n in names]}
    if name == "cifar10":
        meta.update({b"num_cases_per_batch": per_file, b"num_vis": 3072})
    else:
        meta[b"coarse_label_names"] = [f"super_{i}".encode() for i in range(20)]
    dump_pickle(meta, folder / case["meta"], style)
    return {"names": names, **{split: (np.concatenate(written[split][0]), written[split][1])
                               for split in ("train", "test")}}


@pytest.mark.parametrize("style", ["bytes", "py2"])
@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_parsing_offline(tmp_path, name, style):
    case = CIFAR_CASES[name]
    written = write_cifar(tmp_path, name, style)
    dataset = load_dataset(name, data_root=tmp_path, download=False, device="cpu")
    assert dataset.name == name
    assert dataset.num_classes == case["classes"]
    assert dataset.class_names == written["names"]
    assert all(isinstance(n, str) for n in dataset.class_names)
    assert dataset.mean == case["mean"] and dataset.std == case["std"]
    assert dataset.hflip_safe is True
    for split in ("train", "test"):
        part = getattr(dataset, split)
        data, labels = written[split]
        assert part.images.shape == (len(data), 3, 32, 32)
        # channel-major rows: the first 1024 values are the red plane, row by row
        expected = torch.from_numpy(data.reshape(-1, 3, 32, 32)).float()
        pixels = dataset.denormalize(part.images) * 255
        assert torch.allclose(pixels, expected, atol=1e-3)
        assert torch.equal(pixels[:, 1, 0, :5].round(), torch.from_numpy(data[:, 1024:1029]).float())
        assert part.labels.dtype == torch.long
        assert part.labels.tolist() == labels
    assert len(dataset.train) == 3 * len(case["train"])
    assert dataset.summary()["total"] == 3 * (len(case["train"]) + len(case["test"]))


def test_cifar_py2_writer_matches_official_encoding(tmp_path):
    """The 'py2' files load with str keys under latin1 and bytes keys under encoding='bytes', as the real
    files do (guards the writer the CIFAR test relies on)."""
    dump_pickle({b"label_names": [b"airplane"], b"data": np.zeros((1, 3072), np.uint8)}, tmp_path / "m", "py2")
    with open(tmp_path / "m", "rb") as handle:
        as_latin1 = pickle.load(handle, encoding="latin1")
    with open(tmp_path / "m", "rb") as handle:
        as_bytes = pickle.load(handle, encoding="bytes")
    assert as_latin1["label_names"] == ["airplane"]
    assert as_bytes[b"label_names"] == [b"airplane"]


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_missing_files(tmp_path, name):
    case = CIFAR_CASES[name]
    with pytest.raises(DatasetFilesMissing) as info:
        load_dataset(name, data_root=tmp_path, download=False, device="cpu")
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert str(tmp_path / case["folder"]) in message
    for file in case["train"] + case["test"] + [case["meta"]]:
        assert file in message


def test_cifar10_one_batch_missing(tmp_path):
    write_cifar(tmp_path, "cifar10", "bytes")
    (tmp_path / "cifar-10-batches-py" / "data_batch_4").unlink()
    with pytest.raises(DatasetFilesMissing, match="data_batch_4"):
        load_dataset("cifar10", data_root=tmp_path, download=False, device="cpu")
