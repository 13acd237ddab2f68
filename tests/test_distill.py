"""Distillation shared machinery: SyntheticSet, atomic checkpoints, random selection, the method registry."""

from __future__ import annotations

import os

import pytest
import torch

from ltdd.data import load_dataset
from ltdd.distill import RandomConfig, RandomSelection, SyntheticSet, available_methods, check_ipc, make_distiller
from ltdd.files import atomic_save


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", device="cpu")


def hard_set(n_per_class: int = 2, classes: int = 10, shape=(1, 16, 16)) -> SyntheticSet:
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    images = torch.randn(len(labels), *shape, generator=torch.Generator().manual_seed(0))
    return SyntheticSet(images, labels, classes)


# ------------------------------------------------------------------------------------- SyntheticSet
@pytest.mark.parametrize("images, labels, num_classes, word", [
    (torch.zeros(4, 16, 16), torch.zeros(4, dtype=torch.long), 10, "images"),
    (torch.zeros(2, 4, 1, 16, 16), torch.zeros(2, dtype=torch.long), 10, "images"),
    ([[0.0]], torch.zeros(1, dtype=torch.long), 10, "images"),
    (torch.zeros(4, 1, 16, 16), torch.zeros(3, dtype=torch.long), 10, "labels"),
    (torch.zeros(4, 1, 16, 16), torch.tensor([0, 1, 2, 10]), 10, "labels"),
    (torch.zeros(4, 1, 16, 16), torch.tensor([0, -1, 2, 3]), 10, "labels"),
    (torch.zeros(4, 1, 16, 16), torch.zeros(4), 10, "labels"),  # float hard labels
    (torch.zeros(4, 1, 16, 16), torch.full((4, 9), 0.1), 10, "labels"),
    (torch.zeros(4, 1, 16, 16), torch.full((3, 10), 0.1), 10, "labels"),
    (torch.zeros(4, 1, 16, 16), torch.zeros(4, 10, 1), 10, "labels"),
    (torch.zeros(4, 1, 16, 16), [0, 1, 2, 3], 10, "labels"),
    (torch.zeros(4, 1, 16, 16), torch.zeros(4, dtype=torch.long), 0, "num_classes"),
])
def test_synthetic_set_validation_names_the_field(images, labels, num_classes, word):
    with pytest.raises(ValueError) as info:
        SyntheticSet(images, labels, num_classes)
    assert word in str(info.value)


def test_soft_labels_error_says_soft():
    with pytest.raises(ValueError, match="soft labels"):
        SyntheticSet(torch.zeros(4, 1, 8, 8), torch.full((4, 3), 1 / 3), 10)


def test_synthetic_set_basics():
    s = hard_set(3)
    assert len(s) == 30
    assert s.class_counts() == [3] * 10
    soft = SyntheticSet(s.images, torch.nn.functional.one_hot(s.labels, 10).float() * 0.9 + 0.01, 10)
    assert torch.equal(soft.hard_labels, s.labels)
    assert soft.class_counts() == [3] * 10


def test_save_load_round_trip_hard(tmp_path):
    s = hard_set(2)
    s.learned_lr = 0.0123
    s.config = {"method": "random", "ipc": 2, "dataset": "digits", "image_shape": [1, 16, 16]}
    path = s.save(tmp_path / "sub" / "synthetic.pt")
    assert path == tmp_path / "sub" / "synthetic.pt" and path.is_file()
    back = SyntheticSet.load(path)
    assert torch.equal(back.images, s.images)
    assert torch.equal(back.labels, s.labels)
    assert back.labels.dtype == torch.long
    assert back.num_classes == 10
    assert back.learned_lr == pytest.approx(0.0123)
    assert back.config == s.config
    assert back.images.device.type == "cpu"


def test_save_load_round_trip_soft(tmp_path):
    images = torch.randn(6, 3, 8, 8)
    soft = torch.softmax(torch.randn(6, 4), dim=1)
    s = SyntheticSet(images, soft, 4, learned_lr=None, config={"method": "x"})
    back = SyntheticSet.load(s.save(tmp_path / "soft.pt"))
    assert torch.equal(back.labels, soft)
    assert back.labels.shape == (6, 4)
    assert back.learned_lr is None
    assert back.config == {"method": "x"}


def test_save_detaches_learnable_images(tmp_path):
    images = torch.randn(2, 1, 8, 8, requires_grad=True)
    s = SyntheticSet(images, torch.tensor([0, 1]), 2)
    back = SyntheticSet.load(s.save(tmp_path / "s.pt"))
    assert not back.images.requires_grad
    assert torch.equal(back.images, images.detach())


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="path"):
        SyntheticSet.load(tmp_path / "none.pt")


@pytest.mark.parametrize("kind", ["other_dict", "not_a_dict", "garbage", "wrong_shape", "missing_key",
                                  "bad_labels"])
def test_load_rejects_files_that_are_not_synthetic_sets(tmp_path, kind):
    path = tmp_path / f"{kind}.pt"
    header = {"format": "ltdd.SyntheticSet", "version": 1}
    if kind == "other_dict":
        torch.save({"weights": torch.zeros(3)}, path)
    elif kind == "not_a_dict":
        torch.save(torch.zeros(3), path)
    elif kind == "garbage":
        path.write_bytes(b"this is not a torch file")
    elif kind == "wrong_shape":
        torch.save({**header, "images": torch.zeros(4, 16, 16), "labels": torch.zeros(4, dtype=torch.long),
                    "num_classes": 10}, path)
    elif kind == "missing_key":
        torch.save({**header, "images": torch.zeros(4, 1, 16, 16), "num_classes": 10}, path)
    elif kind == "bad_labels":
        torch.save({**header, "images": torch.zeros(4, 1, 16, 16), "labels": torch.full((4,), 12),
                    "num_classes": 10}, path)
    with pytest.raises(ValueError) as info:
        SyntheticSet.load(path)
    assert str(path) in str(info.value)


def test_check_compatible(digits):
    hard_set(1, 10, (1, 16, 16)).check_compatible(digits)  # matches: no error
    with pytest.raises(ValueError, match="shape"):
        hard_set(1, 10, (3, 32, 32)).check_compatible(digits)
    with pytest.raises(ValueError, match="shape"):
        hard_set(1, 10, (1, 8, 8)).check_compatible(digits)
    with pytest.raises(ValueError, match="num_classes"):
        hard_set(1, 5, (1, 16, 16)).check_compatible(digits)


# ------------------------------------------------------------------------------------------ atomic_save
def test_atomic_save_writes_replaces_and_leaves_no_temporaries(tmp_path):
    path = tmp_path / "deep" / "ckpt.pt"
    assert atomic_save({"a": torch.ones(3)}, path) == path
    assert torch.equal(torch.load(path)["a"], torch.ones(3))
    atomic_save({"a": torch.zeros(5)}, path)
    assert torch.equal(torch.load(path)["a"], torch.zeros(5))
    assert sorted(os.listdir(path.parent)) == ["ckpt.pt"]


def test_atomic_save_failure_keeps_old_file(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_save({"a": 1}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError):
        atomic_save({"a": Unpicklable()}, path)
    assert torch.load(path) == {"a": 1}
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]


# ---------------------------------------------------------------------------------------- random selection
def _row_index(dataset, images: torch.Tensor) -> list[int]:
    """Index in the training split of every image (exact match), -1 when none."""
    train = dataset.train.images.flatten(1)
    index = torch.cdist(images.flatten(1), train).argmin(dim=1)  # nearest, then confirm it is exact
    exact = (images.flatten(1) == train[index]).all(dim=1)
    return [int(i) if e else -1 for e, i in zip(exact.tolist(), index.tolist())]


@pytest.mark.parametrize("ipc", [1, 10, 122])
def test_random_selection_picks_real_images_of_each_class(digits, ipc):
    synthetic = RandomSelection(digits, RandomConfig(ipc=ipc), seed=0).run(0, progress=False)
    assert len(synthetic) == 10 * ipc
    assert synthetic.class_counts() == [ipc] * 10
    assert synthetic.labels.tolist() == [c for c in range(10) for _ in range(ipc)]  # class-major
    assert synthetic.images.shape == (10 * ipc, 1, 16, 16)
    index = _row_index(digits, synthetic.images)
    assert -1 not in index
    assert len(set(index)) == len(index)  # distinct
    assert digits.train.labels[index].tolist() == synthetic.labels.tolist()
    assert synthetic.config["method"] == "random" and synthetic.config["ipc"] == ipc
    assert synthetic.config["dataset"] == "digits"


def test_random_selection_is_a_copy(digits):
    before = digits.train.images.clone()
    synthetic = RandomSelection(digits, RandomConfig(ipc=2), seed=0).init()
    synthetic.images.add_(100.0)
    assert torch.equal(digits.train.images, before)


def test_random_selection_seeding(digits):
    a = RandomSelection(digits, RandomConfig(ipc=5), seed=0).init()
    b = RandomSelection(digits, RandomConfig(ipc=5), seed=0).init()
    c = RandomSelection(digits, RandomConfig(ipc=5), seed=1).init()
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    assert torch.equal(a.labels, c.labels)


def test_random_selection_leaves_global_rng_alone(digits):
    torch.manual_seed(0)
    before = torch.get_rng_state()
    make_distiller("random", digits, seed=3, ipc=4).run(0, progress=False)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("ipc", [0, -1, 123, 1000, 2.5, True])
def test_bad_ipc_names_ipc(digits, ipc):
    with pytest.raises(ValueError, match="ipc"):
        RandomSelection(digits, RandomConfig(ipc=ipc))
    with pytest.raises(ValueError, match="ipc"):
        make_distiller("random", digits, ipc=ipc)
    with pytest.raises(ValueError, match="ipc"):
        check_ipc(ipc, digits)


def test_ipc_limit_names_smallest_class(digits):
    with pytest.raises(ValueError) as info:
        check_ipc(123, digits)
    assert "122" in str(info.value) and "class 8" in str(info.value)


def test_make_distiller(digits):
    assert "random" in available_methods()
    d = make_distiller("Random", digits, seed=4, ipc=3)
    assert isinstance(d, RandomSelection)
    assert d.config == RandomConfig(ipc=3) and d.seed == 4
    assert d.iterative is False
    with pytest.raises(ValueError) as info:
        make_distiller("nope", digits)
    assert "method" in str(info.value) and "random" in str(info.value)
    with pytest.raises(ValueError, match="lr_img"):
        make_distiller("random", digits, lr_img=1.0)


def test_run_rejects_negative_iterations(digits):
    with pytest.raises(ValueError, match="iterations"):
        make_distiller("random", digits, ipc=2).run(-1, progress=False)


def test_non_iterative_run_ignores_iterations(digits):
    d = make_distiller("random", digits, ipc=2)
    calls = []
    d.run(5, callbacks=(lambda dist, m: calls.append(m),), progress=False)
    assert d.iteration == 0 and calls == []
    assert len(d.synthetic) == 20


def test_state_dict_round_trip(digits, tmp_path):
    a = make_distiller("random", digits, seed=0, ipc=4)
    a.run(0, progress=False)
    atomic_save(a.state_dict(), tmp_path / "checkpoint.pt")
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    with pytest.raises(ValueError, match="seed=0 there, 9 now"):
        make_distiller("random", digits, seed=9, ipc=4).load_state_dict(state)
    b = make_distiller("random", digits, seed=0, ipc=4)
    b.load_state_dict(state)
    assert b.seed == 0 and b.iteration == a.iteration
    assert torch.equal(b.synthetic.images, a.synthetic.images)
    assert torch.equal(b.synthetic.labels, a.synthetic.labels)
    assert torch.equal(b.generator.get_state(), a.generator.get_state())
    # same generator state: both continue with the same draws
    assert torch.equal(torch.rand(4, generator=a.generator), torch.rand(4, generator=b.generator))
    # a state without a synthetic set restores too
    fresh = make_distiller("random", digits, seed=2, ipc=4)
    empty = fresh.state_dict()
    assert empty["synthetic"] is None
    c = make_distiller("random", digits, seed=2, ipc=4)
    c.load_state_dict(empty)
    assert c.synthetic is None and c.seed == 2
    assert torch.equal(c.init().images, make_distiller("random", digits, seed=2, ipc=4).init().images)


def test_load_state_dict_rejects_other_method(digits):
    state = make_distiller("random", digits, ipc=2).state_dict()
    state["method"] = "dm"
    with pytest.raises(ValueError, match="dm"):
        make_distiller("random", digits, ipc=2).load_state_dict(state)


def test_describe_records_the_run(digits):
    d = make_distiller("random", digits, seed=5, ipc=3)
    record = d.describe()
    assert record["method"] == "random" and record["ipc"] == 3 and record["seed"] == 5
    assert record["dataset"] == "digits" and record["image_shape"] == [1, 16, 16]
    assert record["mean"] == list(digits.mean) and record["std"] == list(digits.std)
