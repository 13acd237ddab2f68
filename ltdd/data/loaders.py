"""Loaders for the embedded digits and for torchvision's on-disk MNIST and CIFAR layouts.

The real datasets are read from the exact files torchvision writes under a data root, so an existing
torchvision download is reused as it is. Parsing is done here (a few lines per format) rather than through
``torchvision.datasets``, whose CIFAR classes refuse any file whose MD5 differs from the official one; that
lets the tests exercise the real parsing path on tiny files written in the same formats. torchvision is
used only to download, and only when allowed.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import make_generator
from .core import ImageDataset, LabeledImages, normalize

DIGITS_IMAGE_SIZE = 16
DIGITS_TEST_FRACTION = 0.3

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4866, 0.4409), (0.2673, 0.2564, 0.2762)
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CIFAR_LAYOUT = {
    "cifar10": {
        "folder": "cifar-10-batches-py",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": "batches.meta",
        "label_key": "labels",
        "names_key": "label_names",
    },
    "cifar100": {
        "folder": "cifar-100-python",
        "train": ["train"],
        "test": ["test"],
        "meta": "meta",
        "label_key": "fine_labels",
        "names_key": "fine_label_names",
    },
}


class DatasetFilesMissing(FileNotFoundError):
    """Raised when a dataset is not on disk and may not (or could not) be downloaded. Machinery behind chapter 01."""


# --------------------------------------------------------------------------------------------- digits
def load_digits(image_size: int = DIGITS_IMAGE_SIZE, device: torch.device | str = "cpu") -> ImageDataset:
    """scikit-learn's bundled handwritten digits (1,797 images, 8×8, 10 classes), the embedded default.

    The 8×8 images are upsampled bilinearly to ``image_size`` (16 by default): at 16×16 a depth-3
    ConvNet still ends on a 2×2 map, and DSA's crop (±2 px) and cutout (8 px) keep the proportions they
    have on 32×32 CIFAR. The split is fixed: a seeded 30 % of every class is the test set.

    Machinery behind chapter 01.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"image_size must be an int >= 8 for digits, got {image_size!r}")
    bunch = sklearn_digits()
    pixels = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    if image_size != 8:
        pixels = F.interpolate(pixels, size=(image_size, image_size), mode="bilinear", align_corners=False)
        pixels = pixels.clamp(0.0, 1.0)
    labels = torch.tensor(bunch.target, dtype=torch.long)
    test_mask = _stratified_test_mask(labels, DIGITS_TEST_FRACTION, seed=0)
    train_pixels = pixels[~test_mask]
    mean = (round(train_pixels.mean().item(), 4),)
    std = (round(train_pixels.std().item(), 4),)
    images = normalize(pixels, mean, std)
    return ImageDataset(
        name="digits",
        train=LabeledImages(images[~test_mask], labels[~test_mask]).to(device),
        test=LabeledImages(images[test_mask], labels[test_mask]).to(device),
        class_names=[str(d) for d in range(10)],
        mean=mean,
        std=std,
        hflip_safe=False,
        info={"source": "sklearn.datasets.load_digits", "native_size": 8, "image_size": image_size,
              "split": f"seeded stratified, {DIGITS_TEST_FRACTION:.0%} test"},
    )


def _stratified_test_mask(labels: Tensor, fraction: float, seed: int) -> Tensor:
    """Mark ``round(fraction·n_c)`` images of every class as test, chosen by a seeded permutation."""
    mask = torch.zeros(len(labels), dtype=torch.bool)
    for label in labels.unique().tolist():
        index = torch.nonzero(labels == label, as_tuple=True)[0]
        order = torch.randperm(len(index), generator=make_generator(seed, "digits-split", label))
        mask[index[order[: round(fraction * len(index))]]] = True
    return mask


# ---------------------------------------------------------------------------------------------- MNIST
def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not. Machinery behind chapter 01."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise ValueError(f"{path} is truncated: its header declares {ndim} dimensions")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: header says {shape}, found {body.size} bytes")
    return body.reshape(shape)


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_mnist(data_root: Path, download: bool, device: torch.device | str = "cpu") -> ImageDataset:
    """MNIST from torchvision's layout: ``<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``.

    Machinery behind chapter 01."""
    raw = Path(data_root) / "MNIST" / "raw"
    needed = [name for pair in MNIST_FILES.values() for name in pair]
    if any(_find(raw, name) is None for name in needed):
        _download_or_explain("mnist", data_root, raw, needed, download)
    splits = {}
    for split, (image_file, label_file) in MNIST_FILES.items():
        pixels = torch.from_numpy(read_idx(_find(raw, image_file)).copy()).float().div_(255).unsqueeze(1)
        labels = torch.from_numpy(read_idx(_find(raw, label_file)).astype(np.int64))
        splits[split] = LabeledImages(normalize(pixels, MNIST_MEAN, MNIST_STD), labels).to(device)
    return ImageDataset("mnist", splits["train"], splits["test"], [str(d) for d in range(10)],
                        MNIST_MEAN, MNIST_STD, hflip_safe=False, info={"files": str(raw)})


# ---------------------------------------------------------------------------------------------- CIFAR
class _ArraysOnly(pickle.Unpickler):
    """An unpickler for CIFAR's python batches that builds dicts, lists, strings and numpy arrays and nothing
    else: a crafted batch file cannot run code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are expected")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            entry = _ArraysOnly(handle, encoding="latin1").load()
        if not isinstance(entry, dict):
            raise TypeError(f"a batch is a dict, got {type(entry).__name__}")
        return {key.decode() if isinstance(key, bytes) else key: value for key, value in entry.items()}
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, KeyError, IndexError) as error:
        raise ValueError(f"{path} is not a CIFAR python batch (damaged or of another kind: {error}); remove it "
                         f"and download the dataset again") from error


def load_cifar(name: str, data_root: Path, download: bool, device: torch.device | str = "cpu") -> ImageDataset:
    """CIFAR-10/100 from torchvision's layout (the pickled python batches). Machinery behind chapter 01."""
    layout = CIFAR_LAYOUT[name]
    folder = Path(data_root) / layout["folder"]
    needed = layout["train"] + layout["test"] + [layout["meta"]]
    if any(not (folder / file).is_file() for file in needed):
        _download_or_explain(name, data_root, folder, needed, download)
    mean, std = (CIFAR10_MEAN, CIFAR10_STD) if name == "cifar10" else (CIFAR100_MEAN, CIFAR100_STD)
    splits = {}
    for split in ("train", "test"):
        batches = [_unpickle(folder / file) for file in layout[split]]
        try:
            data = np.concatenate([np.asarray(b["data"], dtype=np.uint8).reshape(-1, 3, 32, 32) for b in batches])
            labels = torch.tensor(np.concatenate([b[layout["label_key"]] for b in batches]), dtype=torch.long)
        except (KeyError, ValueError, TypeError) as error:
            raise ValueError(f"the {split} batches in {folder} are not CIFAR batches ({error}); remove them and "
                             f"download the dataset again") from error
        if len(data) != len(labels):
            raise ValueError(f"the {split} batches in {folder} hold {len(data)} images but {len(labels)} labels")
        pixels = torch.from_numpy(data).float().div_(255)
        splits[split] = LabeledImages(normalize(pixels, mean, std), labels).to(device)
    class_names = [n.decode() if isinstance(n, bytes) else str(n)
                   for n in _unpickle(folder / layout["meta"])[layout["names_key"]]]
    return ImageDataset(name, splits["train"], splits["test"], class_names, mean, std,
                        hflip_safe=True, info={"files": str(folder), **_source_note(folder)})


def _source_note(folder: Path) -> dict:
    """``{"source": ...}`` from the ``SOURCE.txt`` a converter left beside the batches (``make_cifar10.py`` writes
    one for the JPEG mirror of CIFAR-10, whose results must be labelled so), else ``{}``."""
    note = folder / "SOURCE.txt"
    return {"source": note.read_text().strip()} if note.is_file() else {}


# ------------------------------------------------------------------------------------------- download
def _download_or_explain(name: str, data_root: Path, folder: Path, needed: list[str], download: bool) -> None:
    """Download with torchvision when allowed; otherwise, or on failure, say which files go where."""
    explanation = (
        f"dataset {name!r} is not in {folder}. Place these files there: {', '.join(needed)} "
        f"(torchvision's own layout, so an existing torchvision download under data_root={str(data_root)!r} "
        "works), or allow downloading with download=True, --download, or LTDD_DOWNLOAD=1."
    )
    if not download:
        raise DatasetFilesMissing(explanation)
    import torchvision.datasets as tvd

    constructor = {"mnist": tvd.MNIST, "cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100}[name]
    try:
        for train in (True, False):
            constructor(root=str(data_root), train=train, download=True)
    except Exception as error:  # network errors come in many types; all mean "not downloadable here"
        raise DatasetFilesMissing(f"downloading failed ({error}). {explanation}") from error
