"""Image-folder datasets: TinyImageNet-LT (Tiny ImageNet on disk) and ImageNet-LT (OLTR split files).

Neither can be downloaded here: Tiny ImageNet is not in torchvision, and ImageNet needs the user's own
ILSVRC-2012 copy. Both builders read the files a user already has and say precisely what to place where
(:class:`~ltdd.data.loaders.DatasetFilesMissing`) when something is missing.

**TinyImageNet-LT** (``tinyimagenet-lt``, as in LTDD): Tiny ImageNet's 200 classes at 64×64, read from
its standard layout ``<data_root>/tiny-imagenet-200/{wnids.txt, words.txt, train/<wnid>/images/*.JPEG,
val/images/*.JPEG, val/val_annotations.txt}``. Labels follow the *sorted* wnids (what ``ImageFolder`` on
``train/`` gives, and what LTDD uses), the images of a class in sorted file order. The training split is
made long-tailed with the same counts and selection rules as :func:`ltdd.data.longtail.make_longtail`
(``n_i = int(n_max · β^(−i/(C−1)))``, n_max = 500): the result is identical to
``make_longtail(load_tinyimagenet(...), ...)``, but only the images the long-tailed split keeps are decoded
(39,072 of 100,000 at β = 10; about 0.4 ms each, so ≈ 20 s with the val set). The balanced ``val``
split (50 per class) is the test set.

**ImageNet-LT** (``imagenet-lt``, Liu et al., OLTR): the split files ``ImageNet_LT_{train,val,test}.txt``
(one ``relative/path.JPEG <label>`` per line) over the user's ILSVRC-2012 folder; 1000 classes, 115,846
training images (1280 … 5 per class), test 50 per class (from the ILSVRC validation set). Images are decoded
with PIL, resized (shorter side to ``image_size``, bilinear) and centre-cropped; the default 64 px is the
resolution LTDD distils ImageNet-LT at (ConvNetD4).

Both are normalised with the ImageNet statistics, as the public distillation code does for Tiny ImageNet
and ImageNet (``mean (0.485, 0.456, 0.406)``, ``std (0.229, 0.224, 0.225)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from tqdm.auto import tqdm

from ..checks import int_in_range
from .core import ImageDataset, LabeledImages, normalize
from .loaders import DatasetFilesMissing
from .longtail import COUNT_RULES, REFERENCE_SEEDS, SELECTION_RULES, check_imbalance, \
    longtail_counts, select_longtail_indices

# ----------------------------------------------------------------------------------------- constants
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
"""ImageNet statistics, used by the public distillation code (DC/DSA/DM, MTT, DATM, LTDD) for Tiny ImageNet too."""

TINYIMAGENET_FOLDER = "tiny-imagenet-200"
TINYIMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
TINYIMAGENET_SIZE = 64
TINYIMAGENET_CLASSES = 200
TINYIMAGENET_TRAIN_PER_CLASS = 500
TINYIMAGENET_LT_IMBALANCE = 10
"""LTDD's TinyImageNet-LT configs use β = 10 (``imbrate01``) and β = 20 (``imbrate005``): 500 … 50 images per
class, 39,072 in all at β = 10 (31,711 at 20, 21,549 at 100)."""

IMAGENET_LT_FOLDER = "ImageNet_LT"
IMAGENET_LT_IMAGE_FOLDER = "imagenet"
IMAGENET_LT_IMAGE_SIZE = 64
"""LTDD distils ImageNet-LT at 64 px (ConvNetD4), as Tiny ImageNet."""
IMAGENET_LT_SPLIT_FILES = {
    "train": "ImageNet_LT_train.txt",
    "val": "ImageNet_LT_val.txt",
    "test": "ImageNet_LT_test.txt",
}
IMAGENET_LT_TEST_SPLITS = ("test", "val")
OLTR_URL = "https://github.com/zhmiao/OpenLongTailRecognition-OLTR"

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
MAX_IMAGE_SIZE = 512
_PROGRESS_MIN = 500  # no progress bar for fewer images (tests, tiny fakes)
_CHUNK = 4096  # images normalised at a time (keeps the float copy of a large uint8 set in small pieces)
_WNID = re.compile(r"^n\d{8}$")


# -------------------------------------------------------------------------------------------- images
def load_rgb(path: Path | str, image_size: int) -> np.ndarray:
    """One image as ``(image_size, image_size, 3)`` uint8: shorter side resized to ``image_size``, centre crop.

    An image already ``image_size`` square is returned as decoded. Large JPEGs are decoded at a reduced
    scale first (PIL's ``draft``: DCT scaling to the smallest power-of-two reduction that still covers
    ``image_size``), which is several times faster than a full decode of a full-size ImageNet photo.

    Machinery behind chapter 02.
    """
    with Image.open(path) as image:
        if image.format == "JPEG":
            image.draft(None, (image_size, image_size))
        image = image.convert("RGB")
    width, height = image.size
    if min(width, height) != image_size:
        if width <= height:
            new_size = (image_size, max(image_size, int(image_size * height / width)))
        else:
            new_size = (max(image_size, int(image_size * width / height)), image_size)
        image = image.resize(new_size, Image.BILINEAR)
        width, height = image.size
    if (width, height) != (image_size, image_size):
        left = int(round((width - image_size) / 2.0))
        top = int(round((height - image_size) / 2.0))
        image = image.crop((left, top, left + image_size, top + image_size))
    return np.asarray(image, dtype=np.uint8)


def decode_images(paths: Sequence[Path | str], image_size: int, desc: str = "decode") -> Tensor:
    """Decode ``paths`` in order into one ``(N, 3, image_size, image_size)`` uint8 tensor (tqdm progress bar).

    Machinery behind chapter 02."""
    pixels = np.empty((len(paths), 3, image_size, image_size), dtype=np.uint8)
    bar = tqdm(paths, desc=desc, unit="img", leave=False, disable=len(paths) < _PROGRESS_MIN)
    for i, path in enumerate(bar):
        pixels[i] = load_rgb(path, image_size).transpose(2, 0, 1)
    return torch.from_numpy(pixels)


def _split(pixels: Tensor, labels: np.ndarray | Sequence[int], device: torch.device | str) -> LabeledImages:
    """uint8 pixels → normalised float32 (chunk by chunk, so no second full-size temporary) on ``device``."""
    images = torch.empty(pixels.shape, dtype=torch.float32)
    for start in range(0, len(pixels), _CHUNK):
        chunk = pixels[start:start + _CHUNK].float().div_(255)
        images[start:start + _CHUNK] = normalize(chunk, IMAGENET_MEAN, IMAGENET_STD)
    labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    return LabeledImages(images, labels).to(device)


# -------------------------------------------------------------------------------------- Tiny ImageNet
@dataclass(frozen=True)
class ImageList:
    """Image files and their integer labels, in dataset order. Machinery behind chapter 02."""

    paths: list[Path]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, index: Sequence[int] | np.ndarray | Tensor) -> "ImageList":
        """The files (and labels) at ``index``, in that order."""
        index = np.asarray(index.tolist() if isinstance(index, Tensor) else index, dtype=np.int64)
        return ImageList([self.paths[i] for i in index], self.labels[index])


@dataclass(frozen=True)
class TinyImageNetFiles:
    """The file index of an on-disk Tiny ImageNet: nothing decoded yet. Machinery behind chapter 02."""

    folder: Path
    wnids: list[str]
    """Sorted; ``wnids[label]`` is the class of ``label``."""
    class_names: list[str]
    train: ImageList
    val: ImageList


def _tiny_missing(folder: Path, what: str) -> DatasetFilesMissing:
    return DatasetFilesMissing(
        f"Tiny ImageNet is not complete in {folder}: {what}. Download {TINYIMAGENET_URL} (it cannot be "
        f"downloaded automatically: it is not in torchvision) and unzip it into data_root="
        f"{str(folder.parent)!r}, so that {folder} holds wnids.txt, words.txt, "
        "train/<wnid>/images/*.JPEG, val/images/*.JPEG and val/val_annotations.txt."
    )


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def tinyimagenet_files(data_root: Path | str) -> TinyImageNetFiles:
    """Index ``<data_root>/tiny-imagenet-200``: wnids, class names and the train / val file lists.

    Raises :class:`~ltdd.data.loaders.DatasetFilesMissing` naming the folder and what to place there when the folder,
    ``wnids.txt``, a class's training images, ``val/val_annotations.txt`` or a listed val image is missing.
    ``words.txt`` is optional (class names fall back to the wnids).

    Machinery behind chapter 02.
    """
    folder = Path(data_root) / TINYIMAGENET_FOLDER
    if not folder.is_dir():
        raise _tiny_missing(folder, "the folder does not exist")
    wnids_file = folder / "wnids.txt"
    if not wnids_file.is_file():
        raise _tiny_missing(folder, "wnids.txt is missing")
    wnids = sorted({line.strip() for line in wnids_file.read_text().splitlines() if line.strip()})
    if len(wnids) < 2:
        raise _tiny_missing(folder, f"wnids.txt lists {len(wnids)} class(es)")
    label_of = {wnid: label for label, wnid in enumerate(wnids)}

    train_paths: list[Path] = []
    train_labels: list[int] = []
    for label, wnid in enumerate(wnids):
        class_dir = folder / "train" / wnid / "images"
        files = sorted(p for p in class_dir.iterdir() if _is_image(p)) if class_dir.is_dir() else []
        if not files:
            raise _tiny_missing(folder, f"train/{wnid}/images/ holds no image (class {label})")
        train_paths += files
        train_labels += [label] * len(files)

    annotations = folder / "val" / "val_annotations.txt"
    if not annotations.is_file():
        raise _tiny_missing(folder, "val/val_annotations.txt is missing")
    val_paths: list[Path] = []
    val_labels: list[int] = []
    for number, line in enumerate(annotations.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2 or fields[1] not in label_of:
            raise ValueError(f"{annotations}:{number}: expected '<file> <wnid> ...' with a wnid from "
                             f"wnids.txt, got {line!r}")
        path = folder / "val" / "images" / fields[0]
        if not path.is_file():
            raise _tiny_missing(folder, f"val/images/{fields[0]} (listed in val_annotations.txt) is missing")
        val_paths.append(path)
        val_labels.append(label_of[fields[1]])
    if not val_paths:
        raise _tiny_missing(folder, "val/val_annotations.txt lists no image")

    return TinyImageNetFiles(folder, wnids, _tiny_class_names(folder / "words.txt", wnids),
                             ImageList(train_paths, np.asarray(train_labels, dtype=np.int64)),
                             ImageList(val_paths, np.asarray(val_labels, dtype=np.int64)))


def _tiny_class_names(words_file: Path, wnids: list[str]) -> list[str]:
    """The first synonym in ``words.txt`` of every wnid ("goldfish"); the wnid where absent or ambiguous."""
    words: dict[str, str] = {}
    if words_file.is_file():
        wanted = set(wnids)
        for line in words_file.read_text(encoding="utf-8", errors="replace").splitlines():
            wnid, _, text = line.partition("\t")
            if wnid.strip() in wanted and text.strip():
                words[wnid.strip()] = text.split(",")[0].strip()
    names = [words.get(wnid, wnid) for wnid in wnids]
    repeated = {name for name in names if names.count(name) > 1}
    return [f"{name} ({wnid})" if name in repeated and name != wnid else name for name, wnid in zip(names, wnids)]


def _tiny_dataset(name: str, files: TinyImageNetFiles, train: ImageList, device: torch.device | str,
                  info: dict) -> ImageDataset:
    train_split = _split(decode_images(train.paths, TINYIMAGENET_SIZE, "Tiny ImageNet train"), train.labels,
                         device)
    test_split = _split(decode_images(files.val.paths, TINYIMAGENET_SIZE, "Tiny ImageNet val"), files.val.labels,
                        device)
    base_info = {"source": TINYIMAGENET_URL, "files": str(files.folder), "native_size": TINYIMAGENET_SIZE,
                 "test": "val/ (val_annotations.txt)", "wnids": list(files.wnids)}
    return ImageDataset(name, train_split, test_split, list(files.class_names), IMAGENET_MEAN,
                        IMAGENET_STD, hflip_safe=True, info={**base_info, **info})


def load_tinyimagenet(data_root: Path | str, download: bool = False,
                      device: torch.device | str = "cpu") -> ImageDataset:
    """The balanced Tiny ImageNet (200 classes, 500 train / 50 test per class, 64×64), named ``tinyimagenet``.

    Decodes all 110,000 images (a few minutes). ``download`` is accepted for the builder signature only:
    Tiny ImageNet is never downloaded.

    Machinery behind chapter 02.
    """
    files = tinyimagenet_files(data_root)
    return _tiny_dataset("tinyimagenet", files, files.train, device, {})


def build_tinyimagenet_lt(data_root: Path, download: bool, device: torch.device,
                          imbalance: float = TINYIMAGENET_LT_IMBALANCE, rule: str = "exp",
                          selection: str = "ldam", seed: int | None = None,
                          n_max: int | None = None) -> ImageDataset:
    """``tinyimagenet-lt``: Tiny ImageNet with a long-tailed training split (default β = 10: 500 … 50).

    The counts are :func:`~ltdd.data.longtail.longtail_counts` ``(n_max, 200, imbalance, rule)`` and the
    images are chosen by :func:`~ltdd.data.longtail.select_longtail_indices` (``selection="ldam"``: LDAM's
    sequential RNG; ``"ltdd"``: a fresh ``RandomState(42)`` per class, LTDD's own images). ``n_max=None``
    uses the smallest class of the training folder (500 for the real set), exactly as ``make_longtail``
    does, so with ``n_max=None`` the result equals ``make_longtail(load_tinyimagenet(...), imbalance, rule,
    selection, seed)``; an explicit ``n_max`` (at most that smallest class) gives a smaller set. Only the
    kept images are decoded. The test split is the balanced ``val`` set (50 per class).

    Machinery behind chapter 02.
    """
    beta = check_imbalance(imbalance)
    if rule not in COUNT_RULES:
        raise ValueError(f"rule={rule!r} is unknown; choose one of {list(COUNT_RULES)}")
    if selection not in SELECTION_RULES:
        raise ValueError(f"selection={selection!r} is unknown; choose one of {list(SELECTION_RULES)}")
    if seed is not None:
        int_in_range("seed", seed, minimum=0, maximum=2**32 - 1)
    if n_max is not None:
        int_in_range("n_max", n_max, minimum=1)

    files = tinyimagenet_files(data_root)
    available = np.bincount(files.train.labels, minlength=len(files.wnids))
    smallest = int(available.min())
    if n_max is not None and n_max > smallest:
        raise ValueError(f"n_max={n_max} exceeds the smallest training class ({smallest} images in "
                         f"{files.folder / 'train'}); choose n_max <= {smallest}")
    n_max = smallest if n_max is None else int(n_max)
    counts = longtail_counts(n_max, len(files.wnids), beta, rule)
    seed = REFERENCE_SEEDS[selection] if seed is None else int(seed)
    index = select_longtail_indices(files.train.labels, counts, rule=selection, seed=seed)
    info = {"balanced_name": "tinyimagenet", "imbalance": imbalance, "count_rule": rule,
            "selection": selection, "selection_seed": seed, "n_max": n_max, "counts": counts}
    return _tiny_dataset("tinyimagenet-lt", files, files.train.take(index), device, info)


# ------------------------------------------------------------------------------------------ ImageNet-LT
def read_split_file(path: Path | str) -> ImageList:
    """Parse an OLTR split file: one ``relative/path.JPEG <label>`` per line (blank lines ignored).

    The paths stay relative (``ImageList.paths`` holds them as given). Raises ``ValueError`` naming the file
    and line for a line without a non-negative integer label.

    Machinery behind chapter 02.
    """
    path = Path(path)
    paths: list[Path] = []
    labels: list[int] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = line.rsplit(None, 1)
        if len(parts) != 2 or not (parts[1].isascii() and parts[1].isdigit()):
            raise ValueError(f"{path}:{number}: expected 'relative/path.JPEG <label>', got {line!r}")
        paths.append(Path(parts[0]))
        labels.append(int(parts[1]))
    if not paths:
        raise ValueError(f"{path} lists no image")
    return ImageList(paths, np.asarray(labels, dtype=np.int64))


def _imagenet_lt_class_names(train: ImageList, num_classes: int) -> list[str]:
    """The wnid folder of each class's training images (``train/n01440764/…`` → ``n01440764``).

    Falls back to ``"0"``, ``"1"``, … when the paths carry no wnid or a wnid serves two labels.
    """
    names: dict[int, str] = {}
    for path, label in zip(train.paths, train.labels.tolist()):
        names.setdefault(label, path.parent.name)
    wnids = [names.get(c, "") for c in range(num_classes)]
    if all(_WNID.match(w) for w in wnids) and len(set(wnids)) == num_classes:
        return wnids
    return [str(c) for c in range(num_classes)]


def build_imagenet_lt(data_root: Path, download: bool, device: torch.device,
                      image_size: int = IMAGENET_LT_IMAGE_SIZE, split_dir: str | Path | None = None,
                      image_root: str | Path | None = None, test_split: str = "test") -> ImageDataset:
    """``imagenet-lt``: OLTR's ImageNet-LT split files over your own ILSVRC-2012 images.

    ``split_dir`` (default ``<data_root>/ImageNet_LT``) holds ``ImageNet_LT_train.txt`` and
    ``ImageNet_LT_test.txt`` (and ``ImageNet_LT_val.txt`` for ``test_split="val"``), from the Google-Drive
    folder linked in the OLTR README. ``image_root`` (default ``<data_root>/imagenet``) is the folder the
    split files' paths are relative to (it holds ``train/n01440764/…`` and ``val/n01440764/…``).
    Labels are the split files' (OLTR's order, not re-sorted by count); class names are the wnid folders.

    Every image is decoded with PIL, resized (shorter side to ``image_size``, bilinear) and centre-cropped.
    ``test_split`` is ``"test"`` (50 per class, the ILSVRC validation images) or ``"val"`` (OLTR's validation
    split, 20 per class). Memory: at 64 px the training split alone is 115,846 × 3×64×64 float32
    ≈ 5.7 GB (the test split another 2.5 GB). Decoding takes about 3 ms per photo on one core (JPEG draft
    mode), ≈ 8 min for train + test.

    Machinery behind chapter 02.
    """
    if not isinstance(image_size, Integral) or isinstance(image_size, bool) or \
            not 8 <= image_size <= MAX_IMAGE_SIZE:
        raise ValueError(f"image_size must be an int in [8, {MAX_IMAGE_SIZE}], got {image_size!r} "
                         f"(LTDD uses {IMAGENET_LT_IMAGE_SIZE})")
    if test_split not in IMAGENET_LT_TEST_SPLITS:
        raise ValueError(f"test_split={test_split!r} is unknown; choose one of {list(IMAGENET_LT_TEST_SPLITS)}")
    split_dir = Path(split_dir) if split_dir is not None else Path(data_root) / IMAGENET_LT_FOLDER
    image_root = Path(image_root) if image_root is not None else Path(data_root) / IMAGENET_LT_IMAGE_FOLDER

    needed = [IMAGENET_LT_SPLIT_FILES["train"], IMAGENET_LT_SPLIT_FILES[test_split]]
    missing = [name for name in needed if not (split_dir / name).is_file()]
    if missing:
        raise DatasetFilesMissing(
            f"ImageNet-LT split files are missing from {split_dir}: {', '.join(missing)}. They cannot be "
            f"downloaded automatically: get ImageNet_LT_train.txt, ImageNet_LT_test.txt (and ImageNet_LT_val.txt) "
            f"from the Google-Drive folder linked in the OLTR README ({OLTR_URL}) and place them in {split_dir} "
            "(or pass split_dir=...)."
        )
    train = read_split_file(split_dir / needed[0])
    test = read_split_file(split_dir / needed[1])
    num_classes = int(train.labels.max()) + 1
    empty = np.flatnonzero(np.bincount(train.labels, minlength=num_classes) == 0)
    if len(empty):
        raise ValueError(f"{split_dir / needed[0]} has no image of classes {empty[:10].tolist()}; "
                         f"labels must cover 0..{num_classes - 1}")
    if int(test.labels.max()) >= num_classes:
        raise ValueError(f"{split_dir / needed[1]} uses label {int(test.labels.max())}, but the training "
                         f"split has only {num_classes} classes")

    if not image_root.is_dir():
        raise DatasetFilesMissing(
            f"ImageNet-LT images: the folder {image_root} does not exist. Link or copy your ILSVRC-2012 folder "
            f"there (the split files' paths, e.g. {train.paths[0].as_posix()}, are relative to it), or pass "
            "image_root=...; ImageNet cannot be downloaded automatically."
        )
    absent = [p for p in train.paths + test.paths if not (image_root / p).is_file()]
    if absent:
        examples = ", ".join(p.as_posix() for p in absent[:3])
        raise DatasetFilesMissing(
            f"ImageNet-LT images: {len(absent)} file(s) listed in the split files are missing under {image_root} "
            f"(e.g. {examples}). Place your ILSVRC-2012 images there in the layout the split files use "
            "(train/<wnid>/*.JPEG, val/<wnid>/*.JPEG), or pass image_root=..."
        )

    train_split = _split(decode_images([image_root / p for p in train.paths], image_size, "ImageNet-LT train"),
                         train.labels, device)
    test_split_images = _split(decode_images([image_root / p for p in test.paths], image_size,
                                             f"ImageNet-LT {test_split}"), test.labels, device)
    info = {"source": f"OLTR ImageNet-LT split files ({OLTR_URL}) over ILSVRC-2012",
            "files": str(split_dir), "image_root": str(image_root), "split_files": needed,
            "image_size": int(image_size), "resize": "shorter side to image_size (bilinear), centre crop",
            "test": test_split}
    return ImageDataset("imagenet-lt", train_split, test_split_images,
                        _imagenet_lt_class_names(train, num_classes), IMAGENET_MEAN, IMAGENET_STD,
                        hflip_safe=True, info=info)


FOLDER_BUILDERS = {
    "tinyimagenet-lt": build_tinyimagenet_lt,
    "imagenet-lt": build_imagenet_lt,
}
"""Name → builder, ready for ``ltdd.data.DATASETS.update(FOLDER_BUILDERS)``."""

__all__ = [
    "FOLDER_BUILDERS", "IMAGENET_LT_IMAGE_SIZE", "IMAGENET_LT_SPLIT_FILES", "IMAGENET_MEAN", "IMAGENET_STD",
    "ImageList", "TINYIMAGENET_LT_IMBALANCE", "TinyImageNetFiles", "build_imagenet_lt", "build_tinyimagenet_lt",
    "decode_images", "load_rgb", "load_tinyimagenet", "read_split_file", "tinyimagenet_files",
]
