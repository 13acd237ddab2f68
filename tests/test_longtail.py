"""Long-tailed splits: counts equal the public CIFAR-LT splits, seeded selection, shot groups, digits-lt."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

from ltdd.data import load_dataset
from ltdd.data.longtail import (DEFAULT_IMBALANCE, DIGITS_LT_IMBALANCE, LT_BUILDERS, MISLAS_INDEX_SPLITS,
                                MNIST_TRAIN_COUNTS, REFERENCE_SEEDS, build_digits_lt, counts_only,
                                group_accuracy, index_range_groups, longtail_counts, make_longtail,
                                select_longtail_indices, shot_groups)

# --------------------------------------------------------------------------------------------- counts
CIFAR10_LT = {  # β → per-class counts of LDAM-DRW's IMBALANCECIFAR10 (reference table §1.1)
    10: [5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500],
    50: [5000, 3237, 2096, 1357, 878, 568, 368, 238, 154, 100],
    100: [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50],
    200: [5000, 2775, 1540, 854, 474, 263, 146, 81, 45, 25],
}
CIFAR10_LT_TOTALS = {10: 20431, 50: 13996, 100: 12406, 200: 11203}
CIFAR100_LT = {10: (19573, 50), 20: (15907, 25), 50: (12608, 10), 100: (10847, 5), 200: (9502, 2)}  # total, last
TINY_LT = {10: 39072, 20: 31711, 100: 21549}  # LTDD's TinyImageNet-LT, 200 classes × 500


@pytest.mark.parametrize("beta", sorted(CIFAR10_LT))
def test_cifar10_lt_counts_match_reference(beta):
    counts = longtail_counts(5000, 10, beta)
    assert counts == CIFAR10_LT[beta]
    assert sum(counts) == CIFAR10_LT_TOTALS[beta]
    assert counts_only("cifar10-lt", beta) == counts


@pytest.mark.parametrize("beta", sorted(CIFAR100_LT))
def test_cifar100_lt_counts_match_reference(beta):
    total, last = CIFAR100_LT[beta]
    counts = longtail_counts(500, 100, beta)
    assert sum(counts) == total
    assert counts[0] == 500 and counts[-1] == last
    assert all(a >= b for a, b in zip(counts, counts[1:]))
    assert counts_only("cifar100-lt", beta) == counts


@pytest.mark.parametrize("beta", sorted(TINY_LT))
def test_tinyimagenet_lt_totals_match_ltdd(beta):
    assert sum(longtail_counts(500, 200, beta)) == TINY_LT[beta]


def test_paper_rule_differs_and_has_its_own_values():
    paper = longtail_counts(5000, 10, 100, rule="paper")
    assert paper == [5000, 3154, 1990, 1255, 792, 500, 315, 199, 125, 79]  # reference §1.1
    assert paper != CIFAR10_LT[100]
    assert paper[-1] == int(5000 * 100 ** (-9 / 10))  # smallest class is not n_max/β
    assert sum(longtail_counts(500, 100, 100, rule="paper")) != 10847
    assert counts_only("cifar10-lt", 100, rule="paper") == paper


def test_imbalance_one_is_balanced_and_defaults_are_constants():
    assert longtail_counts(500, 100, 1) == [500] * 100
    assert counts_only("cifar10-lt") == CIFAR10_LT[DEFAULT_IMBALANCE["cifar10-lt"]]
    assert counts_only("cifar100") == longtail_counts(500, 100, DEFAULT_IMBALANCE["cifar100-lt"])


def test_counts_only_mnist_and_digits():
    mnist = counts_only("mnist-lt", 100)
    assert sum(MNIST_TRAIN_COUNTS) == 60000
    assert mnist == longtail_counts(5421, 10, 100)
    assert mnist[0] == 5421 and mnist[-1] == 54
    assert all(n <= available for n, available in zip(mnist, MNIST_TRAIN_COUNTS))
    digits = counts_only("digits-lt")
    assert digits == longtail_counts(122, 10, DIGITS_LT_IMBALANCE)
    assert digits == [122, 94, 73, 56, 43, 33, 26, 20, 15, 12]


@pytest.mark.parametrize("call, argument", [
    (lambda: longtail_counts(5000, 10, 0.01), "imbalance"),  # LDAM's imb_factor passed by mistake
    (lambda: longtail_counts(5000, 10, 0.5), "imbalance"),
    (lambda: longtail_counts(5000, 10, float("inf")), "imbalance"),
    (lambda: longtail_counts(5000, 10, True), "imbalance"),
    (lambda: longtail_counts(10, 10, 100), "imbalance"),  # the tail would be empty
    (lambda: longtail_counts(5000, 1, 10), "num_classes"),
    (lambda: longtail_counts(0, 10, 10), "n_max"),
    (lambda: longtail_counts(5000, 10, 10, rule="linear"), "rule"),
    (lambda: counts_only("svhn-lt", 10), "name"),
    (lambda: select_longtail_indices([0, 1], [1, 1], rule="random"), "rule"),
    (lambda: select_longtail_indices([0, 1], [1, 1], seed=-1), "seed"),
    (lambda: select_longtail_indices([0, 1], [2, 1]), "counts"),
    (lambda: select_longtail_indices([0, 1, 2], [1, 1]), "labels"),
    (lambda: shot_groups([5], many=10, few=20), "few"),
    (lambda: index_range_groups(10, (7, 3)), "splits"),
    (lambda: group_accuracy([0.5, 0.5], ["many"]), "groups"),
])
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


# ------------------------------------------------------------------------------------------ selection
@pytest.fixture(scope="module")
def labels():
    """10 classes × 5000 labels in a shuffled order, like CIFAR-10's training labels."""
    return np.random.RandomState(123).permutation(np.repeat(np.arange(10), 5000))


def _per_class(index: torch.Tensor, labels: np.ndarray) -> list[int]:
    return np.bincount(labels[index.numpy()], minlength=10).tolist()


def test_same_seed_same_indices_and_rules_share_counts(labels):
    counts = CIFAR10_LT[100]
    ldam = select_longtail_indices(labels, counts, rule="ldam")
    ltdd = select_longtail_indices(labels, counts, rule="ltdd")
    assert ldam.dtype == torch.long and len(ldam) == len(ltdd) == 12406
    assert torch.equal(ldam, select_longtail_indices(labels, counts, rule="ldam", seed=0))
    assert torch.equal(ltdd, select_longtail_indices(labels, counts, rule="ltdd", seed=42))
    assert _per_class(ldam, labels) == _per_class(ltdd, labels) == counts
    assert set(ldam.tolist()) != set(ltdd.tolist())
    assert not torch.equal(ldam, select_longtail_indices(labels, counts, rule="ldam", seed=1))
    # torch labels give the same draw as numpy labels
    assert torch.equal(ldam, select_longtail_indices(torch.from_numpy(labels), counts, rule="ldam"))


def test_selection_is_grouped_by_class_unique_and_unsorted(labels):
    index = select_longtail_indices(labels, CIFAR10_LT[10], rule="ldam").numpy()
    assert len(np.unique(index)) == len(index)
    chosen = labels[index]
    assert np.all(np.diff(chosen) >= 0)  # class 0 first, then class 1, … as the reference stacks them
    first = index[: CIFAR10_LT[10][0]]
    assert np.all(labels[first] == 0)
    assert not np.all(np.diff(first) > 0)  # inside a class: the shuffled order, not sorted


def test_ldam_matches_the_reference_procedure(labels):
    """Oracle written as LDAM does it: global NumPy RNG seeded once, classes in order, shuffle, keep a prefix."""
    counts = CIFAR10_LT[50]
    state = np.random.get_state()
    try:
        np.random.seed(0)
        expected = []
        for c, n in zip(np.unique(labels), counts):
            idx = np.where(labels == c)[0]
            np.random.shuffle(idx)
            expected.append(idx[:n])
    finally:
        np.random.set_state(state)
    assert select_longtail_indices(labels, counts, rule="ldam").tolist() == np.concatenate(expected).tolist()


def test_ltdd_draws_every_class_from_a_fresh_randomstate_42(labels):
    counts = CIFAR10_LT[100]
    index = select_longtail_indices(labels, counts, rule="ltdd").numpy()
    offsets = np.cumsum([0] + counts)
    positions = []  # rank of each chosen image among its class's images
    for c in range(10):
        members = np.flatnonzero(labels == c)
        chosen = index[offsets[c]: offsets[c + 1]]
        positions.append(np.searchsorted(members, chosen))
        expected = np.random.RandomState(42).choice(5000, counts[c], replace=False)
        assert positions[c].tolist() == expected.tolist()
    # classes of equal size draw the same positions: each is a prefix of class 0's
    assert all(p.tolist() == positions[0][: len(p)].tolist() for p in positions)
    # whereas LDAM consumes one RNG across classes: class 1's positions are not a prefix of class 0's
    ldam = select_longtail_indices(labels, counts, rule="ldam").numpy()
    pos0 = np.searchsorted(np.flatnonzero(labels == 0), ldam[: counts[0]])
    pos1 = np.searchsorted(np.flatnonzero(labels == 1), ldam[counts[0]: counts[0] + counts[1]])
    assert pos1.tolist() != pos0[: counts[1]].tolist()


@pytest.mark.parametrize("rule", ["ldam", "ltdd"])
def test_stronger_imbalance_keeps_a_subset(rule, labels):
    """Same seed, smaller counts → per class a prefix of the milder split's draw (nested splits)."""
    mild = select_longtail_indices(labels, CIFAR10_LT[10], rule=rule).numpy()
    strong = select_longtail_indices(labels, CIFAR10_LT[200], rule=rule).numpy()
    mild_off, strong_off = np.cumsum([0] + CIFAR10_LT[10]), np.cumsum([0] + CIFAR10_LT[200])
    for c in range(10):
        a = mild[mild_off[c]: mild_off[c + 1]]
        b = strong[strong_off[c]: strong_off[c + 1]]
        assert b.tolist() == a[: len(b)].tolist()


# ---------------------------------------------------------------------------------------- shot groups
@pytest.mark.parametrize("beta, sizes", [(100, (35, 35, 30)), (50, (41, 41, 18)), (10, (69, 31, 0))])
def test_cifar100_lt_shot_group_sizes(beta, sizes):
    groups = shot_groups(longtail_counts(500, 100, beta))
    assert tuple(groups.count(g) for g in ("many", "medium", "few")) == sizes
    # groups are contiguous index ranges because counts fall with the class index
    assert groups == ["many"] * sizes[0] + ["medium"] * sizes[1] + ["few"] * sizes[2]


def test_cifar100_lt_beta100_boundary_classes():
    counts = longtail_counts(500, 100, 100)
    groups = shot_groups(counts)
    assert groups[34] == "many" and groups[35] == "medium" and groups[69] == "medium" and groups[70] == "few"
    assert counts[34] > 100 >= counts[35] and counts[69] >= 20 > counts[70]
    # OLTR's code is inclusive: class 69 has exactly 20 images and becomes few-shot
    assert counts[69] == 20
    inclusive = shot_groups(counts, inclusive=True)
    assert [g for i, g in enumerate(inclusive) if g != groups[i]] == ["few"] and inclusive[69] == "few"
    assert (inclusive.count("many"), inclusive.count("medium"), inclusive.count("few")) == (35, 34, 31)


def test_cifar10_lt_has_no_few_shot_class():
    groups = shot_groups(CIFAR10_LT[100])
    assert (groups.count("many"), groups.count("medium"), groups.count("few")) == (8, 2, 0)


def test_inclusive_variant_moves_the_boundaries():
    counts = [150, 100, 50, 20, 10]
    assert shot_groups(counts) == ["many", "medium", "medium", "medium", "few"]
    assert shot_groups(counts, inclusive=True) == ["many", "many", "medium", "few", "few"]


def test_index_range_groups_follow_mislas():
    cifar100 = index_range_groups(100, MISLAS_INDEX_SPLITS["cifar100"])
    assert (cifar100.count("many"), cifar100.count("medium"), cifar100.count("few")) == (36, 35, 29)
    assert cifar100[35] == "many" and cifar100[36] == "medium" and cifar100[71] == "few"
    assert index_range_groups(10, MISLAS_INDEX_SPLITS["cifar10"]) == ["many"] * 3 + ["medium"] * 4 + ["few"] * 3


def test_group_accuracy_means_and_skips_empty_groups():
    groups = shot_groups(CIFAR10_LT[100])  # 8 many, 2 medium, no few
    accuracy = torch.tensor([0.9] * 8 + [0.4, 0.6])
    result = group_accuracy(accuracy, groups)
    assert list(result) == ["many", "medium"]
    assert result["many"] == pytest.approx(0.9) and result["medium"] == pytest.approx(0.5)
    assert group_accuracy([1.0, 0.0, 0.5], ["few", "many", "few"]) == {"many": 0.0, "few": 0.75}


# --------------------------------------------------------------------------------------------- digits
@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", device="cpu")


def test_make_longtail_on_digits(digits):
    lt = make_longtail(digits, imbalance=10)
    counts = longtail_counts(122, 10, 10)
    assert lt.name == "digits-lt"
    assert lt.train.class_counts(10) == counts
    assert lt.test.class_counts(10) == digits.test.class_counts(10)  # balanced test split kept
    assert torch.equal(lt.test.images, digits.test.images)
    assert lt.info["counts"] == counts and lt.info["imbalance"] == 10
    assert lt.info["count_rule"] == "exp" and lt.info["selection"] == "ldam"
    assert lt.info["selection_seed"] == REFERENCE_SEEDS["ldam"] and lt.info["n_max"] == 122
    assert lt.info["source"] == digits.info["source"]
    assert lt.hflip_safe is False and lt.class_names == digits.class_names and lt.mean == digits.mean
    # the kept images are rows of the balanced training split, with their labels
    index = select_longtail_indices(digits.train.labels, counts, rule="ldam")
    assert torch.equal(lt.train.images, digits.train.images[index])
    assert torch.equal(lt.train.labels, digits.train.labels[index])
    assert digits.name == "digits" and len(digits.train) == 1258  # input left untouched


def test_make_longtail_rules_and_errors(digits):
    ltdd = make_longtail(digits, imbalance=10, selection="ltdd")
    ldam = make_longtail(digits, imbalance=10)
    assert ltdd.train.class_counts(10) == ldam.train.class_counts(10)
    assert not torch.equal(ltdd.train.images, ldam.train.images)
    paper = make_longtail(digits, imbalance=10, rule="paper")
    assert paper.train.class_counts(10) == longtail_counts(122, 10, 10, rule="paper")
    with pytest.raises(ValueError, match="selection"):
        make_longtail(digits, 10, selection="uniform")
    with pytest.raises(ValueError, match="rule"):
        make_longtail(digits, 10, rule="step")
    with pytest.raises(ValueError, match="imbalance"):
        make_longtail(digits, 0.1)
    with pytest.raises(ValueError, match="imbalance"):
        make_longtail(digits, 200)  # 122/200 < 1: the last class would be empty


def test_builders_are_registry_ready():
    for name, builder in LT_BUILDERS.items():
        parameters = list(inspect.signature(builder).parameters)
        assert parameters[:6] == ["data_root", "download", "device", "imbalance", "rule", "selection"]
        assert inspect.signature(builder).parameters["imbalance"].default == DEFAULT_IMBALANCE[name]
    lt = build_digits_lt(Path("unused"), False, torch.device("cpu"))
    assert lt.name == "digits-lt"
    assert lt.train.class_counts(10) == counts_only("digits-lt")
