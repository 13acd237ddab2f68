"""Image-folder datasets on tiny fake trees: TinyImageNet-LT (Tiny ImageNet layout) and ImageNet-LT (OLTR splits)."""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ltdd.data import DATASETS, DatasetFilesMissing, load_dataset
from ltdd.data.folders import (FOLDER_BUILDERS, IMAGENET_LT_IMAGE_SIZE, IMAGENET_MEAN, IMAGENET_STD,
                               TINYIMAGENET_LT_IMBALANCE, build_imagenet_lt, build_tinyimagenet_lt, load_rgb,
                               load_tinyimagenet, read_split_file, tinyimagenet_files)
from ltdd.data.longtail import longtail_counts, make_longtail, select_longtail_indices

CPU = torch.device("cpu")
JPEG_TOL = 4 / 255  # a solid-colour JPEG at quality 95 decodes within a couple of levels

# wnids.txt lists them unsorted; labels follow the sorted order (ImageFolder's, LTDD's)
WNIDS = ["n00000003", "n00000001", "n00000004", "n00000002"]
SORTED = sorted(WNIDS)
WORDS = {"n00000001": "goldfish, Carassius auratus", "n00000002": "crane", "n00000003": "crane, machine",
         "n00000004": "school bus"}
CLASS_RG = {0: (30, 30), 1: (220, 30), 2: (30, 220), 3: (220, 220)}  # by sorted label
N_TRAIN, N_VAL = 12, 5


def _colour(label: int, index: int) -> tuple[int, int, int]:
    """Class in red/green, the image's index within its class in blue (so a decoded image names its file)."""
    red, green = CLASS_RG[label]
    return red, green, 10 + 20 * index


def _save_jpeg(path: Path, colour, size=(64, 64)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, quality=95)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    folder = root / "tiny-imagenet-200"
    folder.mkdir()
    (folder / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    (folder / "words.txt").write_text("n00000000\tentity\n" + "".join(f"{w}\t{t}\n" for w, t in WORDS.items()))
    for label, wnid in enumerate(SORTED):
        (folder / "train" / wnid).mkdir(parents=True)
        (folder / "train" / wnid / f"{wnid}_boxes.txt").write_text("")  # not an image: ignored
        for j in range(N_TRAIN):
            _save_jpeg(folder / "train" / wnid / "images" / f"{wnid}_{j:02d}.JPEG", _colour(label, j))
    lines = []
    for k in range(N_VAL * len(SORTED)):  # interleaved classes, as the real annotations are
        label = k % len(SORTED)
        _save_jpeg(folder / "val" / "images" / f"val_{k}.JPEG", _colour(label, 0))
        lines.append(f"val_{k}.JPEG\t{SORTED[label]}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return root


def _pixels(dataset, images):
    return dataset.denormalize(images).mul(255)


# ----------------------------------------------------------------------------------------- Tiny ImageNet
def test_tiny_index_class_names_and_file_order(tiny_root):
    files = tinyimagenet_files(tiny_root)
    assert files.wnids == SORTED
    # first synonym of words.txt; two classes both called "crane" keep their wnid to stay distinct
    assert files.class_names == ["goldfish", "crane (n00000002)", "crane (n00000003)", "school bus"]
    assert len(files.train) == 4 * N_TRAIN and np.bincount(files.train.labels).tolist() == [N_TRAIN] * 4
    assert [p.name for p in files.train.paths[:2]] == ["n00000001_00.JPEG", "n00000001_01.JPEG"]
    assert np.bincount(files.val.labels).tolist() == [N_VAL] * 4


def test_tiny_lt_counts_pixels_and_balanced_test(tiny_root):
    data = build_tinyimagenet_lt(tiny_root, False, CPU, imbalance=4)
    counts = longtail_counts(N_TRAIN, 4, 4)
    assert counts == [12, 7, 4, 3]
    assert data.name == "tinyimagenet-lt" and data.num_classes == 4
    assert data.image_shape == (3, 64, 64) and data.train.images.dtype == torch.float32
    assert data.train.class_counts(4) == counts
    assert data.test.class_counts(4) == [N_VAL] * 4  # balanced val set, untouched
    assert (data.mean, data.std) == (IMAGENET_MEAN, IMAGENET_STD)
    assert data.info["counts"] == counts and data.info["n_max"] == N_TRAIN and data.info["imbalance"] == 4
    # the kept images are exactly the files select_longtail_indices picks (the blue channel names the file)
    chosen = select_longtail_indices(tinyimagenet_files(tiny_root).train.labels, counts, "ldam", 0)
    expected = torch.tensor([_colour(int(i) // N_TRAIN, int(i) % N_TRAIN) for i in chosen], dtype=torch.float32)
    pixels = _pixels(data, data.train.images)
    assert (pixels - expected[:, :, None, None]).abs().max() <= JPEG_TOL * 255
    test_expected = torch.tensor([_colour(int(y), 0) for y in data.test.labels], dtype=torch.float32)
    assert (_pixels(data, data.test.images) - test_expected[:, :, None, None]).abs().max() <= JPEG_TOL * 255


@pytest.mark.parametrize("selection", ["ldam", "ltdd"])
def test_tiny_lt_equals_make_longtail_of_the_balanced_set(tiny_root, selection):
    full = load_tinyimagenet(tiny_root, device=CPU)
    assert full.name == "tinyimagenet" and full.train.class_counts(4) == [N_TRAIN] * 4
    reference = make_longtail(full, 3, selection=selection)
    ours = build_tinyimagenet_lt(tiny_root, False, CPU, imbalance=3, selection=selection)
    assert ours.name == reference.name == "tinyimagenet-lt"
    assert torch.equal(ours.train.images, reference.train.images)
    assert torch.equal(ours.train.labels, reference.train.labels)
    assert torch.equal(ours.test.images, reference.test.images)
    assert ours.info == reference.info and ours.class_names == reference.class_names


def test_tiny_lt_n_max_seed_and_registry_signature(tiny_root, monkeypatch):
    small = build_tinyimagenet_lt(tiny_root, False, CPU, imbalance=2, n_max=6)
    assert small.train.class_counts(4) == longtail_counts(6, 4, 2)
    a = build_tinyimagenet_lt(tiny_root, False, CPU, imbalance=4, seed=1)
    b = build_tinyimagenet_lt(tiny_root, False, CPU, imbalance=4, seed=2)
    assert a.train.class_counts(4) == b.train.class_counts(4) and not torch.equal(a.train.images, b.train.images)
    assert inspect.signature(build_tinyimagenet_lt).parameters["imbalance"].default == TINYIMAGENET_LT_IMBALANCE
    # registered as the lead will register it, load_dataset forwards the options
    monkeypatch.setitem(DATASETS, "tinyimagenet-lt", FOLDER_BUILDERS["tinyimagenet-lt"])
    loaded = load_dataset("tinyimagenet-lt", data_root=tiny_root, device="cpu", imbalance=4, selection="ltdd")
    assert loaded.train.class_counts(4) == [12, 7, 4, 3] and loaded.options == {"imbalance": 4, "selection": "ltdd"}


@pytest.mark.parametrize("options, argument", [
    ({"imbalance": 0.5}, "imbalance"),
    ({"imbalance": 1000}, "imbalance"),  # too large: the smallest class would keep no image
    ({"selection": "random"}, "selection"),
    ({"rule": "linear"}, "rule"),
    ({"seed": -1}, "seed"),
    ({"n_max": 0}, "n_max"),
    ({"n_max": N_TRAIN + 1}, "n_max"),
])
def test_tiny_lt_bad_options(tiny_root, options, argument):
    with pytest.raises(ValueError, match=argument):
        build_tinyimagenet_lt(tiny_root, False, CPU, **options)


def test_tiny_missing_files_say_what_goes_where(tiny_root, tmp_path):
    with pytest.raises(DatasetFilesMissing, match=r"tiny-imagenet-200.*does not exist.*tiny-imagenet-200\.zip"):
        build_tinyimagenet_lt(tmp_path, True, CPU)
    broken = tmp_path / "copy"
    shutil.copytree(tiny_root, broken)
    folder = broken / "tiny-imagenet-200"
    (folder / "val" / "images" / "val_3.JPEG").unlink()
    with pytest.raises(DatasetFilesMissing, match=r"val/images/val_3\.JPEG"):
        tinyimagenet_files(broken)
    (folder / "val" / "val_annotations.txt").unlink()
    with pytest.raises(DatasetFilesMissing, match="val_annotations.txt is missing"):
        tinyimagenet_files(broken)
    shutil.rmtree(folder / "train" / "n00000002" / "images")
    with pytest.raises(DatasetFilesMissing, match=r"train/n00000002/images/"):
        tinyimagenet_files(broken)
    (folder / "wnids.txt").unlink()
    with pytest.raises(DatasetFilesMissing, match=r"wnids\.txt is missing"):
        tinyimagenet_files(broken)


# ------------------------------------------------------------------------------------------- ImageNet-LT
RED, BLUE = (230, 20, 20), (20, 20, 230)


def _framed(size, colour=RED, frame=BLUE) -> Image.Image:
    """A ``size`` image whose centre square (side = shorter side) is ``colour`` and the rest ``frame``."""
    width, height = size
    image = Image.new("RGB", size, frame)
    short = min(size)
    left, top = (width - short) // 2, (height - short) // 2
    image.paste(Image.new("RGB", (short, short), colour), (left, top))
    return image


@pytest.fixture
def imagenet_root(tmp_path) -> Path:
    images = tmp_path / "imagenet"
    train = [("train/n01440764/n01440764_1.JPEG", 0, (100, 50)), ("train/n01440764/n01440764_2.JPEG", 0, (37, 90)),
             ("train/n01443537/n01443537_1.JPEG", 1, (64, 64)), ("train/n01484850/n01484850_1.JPEG", 2, (200, 120)),
             ("train/n01484850/n01484850_2.JPEG", 2, (48, 48))]
    test = [("val/n01440764/ILSVRC2012_val_1.JPEG", 0, (75, 60)), ("val/n01443537/ILSVRC2012_val_2.JPEG", 1, (60, 75)),
            ("val/n01484850/ILSVRC2012_val_3.JPEG", 2, (33, 33))]
    for relative, _, size in train + test:
        (images / relative).parent.mkdir(parents=True, exist_ok=True)
        _framed(size).save(images / relative, quality=95)
    splits = tmp_path / "ImageNet_LT"
    splits.mkdir()
    (splits / "ImageNet_LT_train.txt").write_text("".join(f"{p} {y}\n" for p, y, _ in train))
    (splits / "ImageNet_LT_test.txt").write_text("".join(f"{p} {y}\n" for p, y, _ in test) + "\n")
    (splits / "ImageNet_LT_val.txt").write_text(f"{train[1][0]} 0\n{train[2][0]} 1\n")
    return tmp_path


def test_imagenet_lt_resizes_crops_and_reads_labels(imagenet_root):
    data = build_imagenet_lt(imagenet_root, False, CPU, image_size=16)
    assert data.name == "imagenet-lt" and data.image_shape == (3, 16, 16)
    assert data.train.labels.tolist() == [0, 0, 1, 2, 2] and data.test.labels.tolist() == [0, 1, 2]
    assert data.class_names == ["n01440764", "n01443537", "n01484850"]
    assert data.train.class_counts(3) == [2, 1, 2] and data.info["image_size"] == 16
    # shorter side to 16, centre crop: only the red centre square survives (the blue frame is cropped away)
    for split in (data.train, data.test):
        pixels = _pixels(data, split.images)[:, :, 2:-2, 2:-2]
        assert (pixels - torch.tensor(RED, dtype=torch.float32)[:, None, None]).abs().max() <= 12
    assert inspect.signature(build_imagenet_lt).parameters["image_size"].default == IMAGENET_LT_IMAGE_SIZE == 64


def test_imagenet_lt_split_dir_image_root_and_val(imagenet_root, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    shutil.move(str(imagenet_root / "ImageNet_LT"), elsewhere / "splits")
    shutil.move(str(imagenet_root / "imagenet"), elsewhere / "ILSVRC")
    data = build_imagenet_lt(imagenet_root, False, CPU, image_size=8, split_dir=elsewhere / "splits",
                             image_root=str(elsewhere / "ILSVRC"), test_split="val")
    assert data.image_shape == (3, 8, 8) and data.test.labels.tolist() == [0, 1] and data.info["test"] == "val"


def test_imagenet_lt_missing_files(imagenet_root, tmp_path_factory):
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(DatasetFilesMissing, match=r"ImageNet_LT_train\.txt.*OpenLongTailRecognition-OLTR"):
        build_imagenet_lt(empty, True, CPU)
    (imagenet_root / "ImageNet_LT" / "ImageNet_LT_val.txt").unlink()
    with pytest.raises(DatasetFilesMissing, match=r"ImageNet_LT_val\.txt"):
        build_imagenet_lt(imagenet_root, False, CPU, test_split="val")
    (imagenet_root / "imagenet" / "val" / "n01443537" / "ILSVRC2012_val_2.JPEG").unlink()
    with pytest.raises(DatasetFilesMissing, match=r"1 file\(s\).*val/n01443537/ILSVRC2012_val_2\.JPEG"):
        build_imagenet_lt(imagenet_root, False, CPU, image_size=8)
    with pytest.raises(DatasetFilesMissing, match=r"nowhere does not exist"):
        build_imagenet_lt(imagenet_root, False, CPU, image_root=imagenet_root / "nowhere")


@pytest.mark.parametrize("options, argument", [
    ({"image_size": 4}, "image_size"), ({"image_size": 32.0}, "image_size"), ({"image_size": True}, "image_size"),
    ({"test_split": "train"}, "test_split"),
])
def test_imagenet_lt_bad_options(imagenet_root, options, argument):
    with pytest.raises(ValueError, match=argument):
        build_imagenet_lt(imagenet_root, False, CPU, **options)


def test_split_file_parsing(tmp_path):
    split = tmp_path / "split.txt"
    split.write_text("train/n1/a.JPEG 3\n\n  train/n2/b.JPEG   0  \n")
    parsed = read_split_file(split)
    assert [p.as_posix() for p in parsed.paths] == ["train/n1/a.JPEG", "train/n2/b.JPEG"]
    assert parsed.labels.tolist() == [3, 0]
    split.write_text("train/n1/a.JPEG 3\ntrain/n2/b.JPEG\n")
    with pytest.raises(ValueError, match=r"split\.txt:2"):
        read_split_file(split)


def test_load_rgb_handles_grey_and_png(tmp_path):
    Image.new("L", (40, 20), 128).save(tmp_path / "grey.JPEG", quality=95)
    _framed((30, 50)).save(tmp_path / "framed.png")
    grey = load_rgb(tmp_path / "grey.JPEG", 10)
    assert grey.shape == (10, 10, 3) and grey.dtype == np.uint8 and abs(int(grey.mean()) - 128) <= 2
    framed = load_rgb(tmp_path / "framed.png", 10)
    assert framed.shape == (10, 10, 3) and (framed[2:-2, 2:-2] == np.array(RED, dtype=np.uint8)).all()
