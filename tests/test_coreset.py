"""Coreset selection: herding, k-center greedy, the feature network and the two distillers."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ltdd.data import load_dataset
from ltdd.distill.coreset import (CoresetConfig, HerdingConfig, HerdingSelection, KCenterSelection,
                                  coreset_features, embed_images, feature_network, herding, kcenter_greedy)
from ltdd.train import network_accuracy

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", device="cpu")


def cloud(n: int = 300, d: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def mean_error(features: torch.Tensor, index: torch.Tensor) -> float:
    """Distance between the mean of the selected rows and the mean of all rows."""
    return float(torch.linalg.vector_norm(features[index].mean(dim=0) - features.mean(dim=0)))


def covering_radius(features: torch.Tensor, index: torch.Tensor) -> float:
    """max over points of the distance to the nearest selected point (what k-center minimises)."""
    return float(torch.cdist(features, features[index]).min(dim=1).values.max())


def random_subsets(n: int, k: int, count: int = 10) -> list[torch.Tensor]:
    return [torch.randperm(n, generator=torch.Generator().manual_seed(s))[:k] for s in range(count)]


def naive_herding(features: torch.Tensor, k: int, rule: str) -> list[int]:
    """The herding equation evaluated candidate by candidate (no vectorisation, no shortcuts)."""
    mu, chosen = features.mean(dim=0), []
    for t in range(1, k + 1):
        scores = {x: float(torch.linalg.vector_norm(mu - (features[chosen].sum(dim=0) + features[x]) / t))
                  for x in range(len(features)) if x not in chosen}
        pick = min if rule == "argmin" else max
        chosen.append(pick(scores, key=scores.get))
    return chosen


def naive_kcenter(features: torch.Tensor, k: int, first: int) -> list[int]:
    """k-center greedy recomputing every min-distance from scratch (no incremental update)."""
    chosen = [first]
    while len(chosen) < k:
        nearest = torch.cdist(features, features[chosen]).min(dim=1).values
        nearest[chosen] = -1.0
        chosen.append(int(nearest.argmax()))
    return chosen


# ------------------------------------------------------------------------------------------------ herding
@pytest.mark.parametrize("rule", ["argmin", "argmax"])
def test_herding_first_pick_is_nearest_or_furthest_from_the_mean(rule):
    features = cloud()
    distance = torch.linalg.vector_norm(features - features.mean(dim=0), dim=1)
    expected = distance.argmin() if rule == "argmin" else distance.argmax()
    assert int(herding(features, 1, rule)[0]) == int(expected)


@pytest.mark.parametrize("k", [3, 5, 10, 20, 40])
def test_herding_mean_tracks_the_class_mean(k):
    features = cloud()
    ours = mean_error(features, herding(features, k))
    assert ours < mean_error(features, herding(features, k, rule="argmax"))
    best_random = min(mean_error(features, index) for index in random_subsets(len(features), k))
    assert ours < best_random


def test_herding_prefix_property():
    # greedy: the first k picks do not depend on how many more are asked for
    features = cloud(100, 4)
    assert torch.equal(herding(features, 30)[:10], herding(features, 10))


def test_herding_hand_example_1d():
    # points 0, 1, 2, 3, 10; mean 3.2. argmin: t·μ − Σ = 3.2 → 3; 3.4 → 2; 4.6 → 1; 6.8 → 10; then 0.
    features = torch.tensor([[0.0], [1.0], [2.0], [3.0], [10.0]])
    assert herding(features, 5).tolist() == [3, 2, 1, 4, 0]
    # argmax (DeepCore): furthest from 3.2 is 10; then from −3.6 is 3; from −3.4 is 2; from −2.2 is 1; 0
    assert herding(features, 5, rule="argmax").tolist() == [4, 3, 2, 1, 0]


@pytest.mark.parametrize("rule", ["argmin", "argmax"])
def test_herding_matches_the_equation_candidate_by_candidate(rule):
    features = cloud(25, 3, seed=1)
    assert herding(features, 25, rule).tolist() == naive_herding(features, 25, rule)


def test_herding_argmax_differs_from_argmin():
    features = cloud()
    assert not torch.equal(herding(features, 10), herding(features, 10, rule="argmax"))


@pytest.mark.parametrize("rule", ["argmin", "argmax"])
def test_herding_never_repeats_even_on_duplicates(rule):
    for features in (cloud(40, 3), torch.ones(6, 3), torch.cat([cloud(5, 2)] * 3)):
        index = herding(features, len(features), rule)
        assert sorted(index.tolist()) == list(range(len(features)))
        assert index.dtype == torch.long


@pytest.mark.parametrize("k", [0, -1, 301, 2.0, True, None])
def test_bad_k_names_k(k):
    with pytest.raises(ValueError, match=r"^k must"):
        herding(cloud(), k)
    with pytest.raises(ValueError, match=r"^k must"):
        kcenter_greedy(cloud(), k, torch.Generator().manual_seed(0))


def test_bad_rule_and_features_are_named():
    with pytest.raises(ValueError, match="rule") as info:
        herding(cloud(), 3, rule="max")
    assert "argmin" in str(info.value) and "argmax" in str(info.value)
    with pytest.raises(ValueError, match="features"):
        herding(torch.zeros(10), 3)
    with pytest.raises(ValueError, match="features"):
        kcenter_greedy(torch.zeros(2, 5, 3), 1, torch.Generator())


# ------------------------------------------------------------------------------------------------ k-center
def test_kcenter_never_repeats_even_on_duplicates():
    g = torch.Generator().manual_seed(0)
    for features in (cloud(40, 3), torch.ones(6, 3), torch.cat([cloud(5, 2)] * 3)):
        index = kcenter_greedy(features, len(features), g)
        assert sorted(index.tolist()) == list(range(len(features)))
        assert index.dtype == torch.long


@pytest.mark.parametrize("k", [5, 10, 30])
def test_kcenter_covers_better_than_random_subsets(k):
    features = cloud(300, 2)
    ours = covering_radius(features, kcenter_greedy(features, k, torch.Generator().manual_seed(0)))
    assert ours <= min(covering_radius(features, index) for index in random_subsets(len(features), k))


def test_kcenter_first_centre_comes_from_the_generator():
    features = cloud()
    runs = {s: kcenter_greedy(features, 8, torch.Generator().manual_seed(s)) for s in range(5)}
    assert torch.equal(runs[0], kcenter_greedy(features, 8, torch.Generator().manual_seed(0)))
    assert len({int(r[0]) for r in runs.values()}) > 1  # different seeds, different first centres
    for s, run in runs.items():
        expected_first = torch.randint(len(features), (1,), generator=torch.Generator().manual_seed(s))
        assert int(run[0]) == int(expected_first)


def test_kcenter_matches_from_scratch_recomputation():
    features = cloud(60, 4, seed=2)
    index = kcenter_greedy(features, 20, torch.Generator().manual_seed(3))
    assert index.tolist() == naive_kcenter(features, 20, int(index[0]))


def test_kcenter_hand_example_1d():
    # points 0, 1, 3, 7, 15: after the first centre, the furthest point from its nearest centre, hand-worked
    features = torch.tensor([[0.0], [1.0], [3.0], [7.0], [15.0]])
    expected = {0: [0, 4, 3, 2, 1], 1: [1, 4, 3, 2, 0], 2: [2, 4, 3, 0, 1], 3: [3, 4, 0, 2, 1],
                4: [4, 0, 3, 2, 1]}
    seen = set()
    for seed in range(40):
        order = kcenter_greedy(features, 5, torch.Generator().manual_seed(seed)).tolist()
        assert order == expected[order[0]]
        seen.add(order[0])
    assert seen == set(expected)


# ------------------------------------------------------------------------------------------------ features
def test_embed_images_batches_and_restores_mode(digits):
    net = feature_network(digits, "random", seed=0, net_width=8)
    net.train()
    images = digits.train.images[:23]
    features = embed_images(net, images, batch_size=7)
    assert net.training
    assert not features.requires_grad
    net.eval()
    assert torch.allclose(features, net.embed(images).detach(), atol=1e-6)
    assert features.shape == (23, net.feature_dim)


def test_feature_network_width_and_seeding(digits):
    narrow = feature_network(digits, "random", seed=0, net_width=8)
    assert narrow.features[0].out_channels == 8
    assert feature_network(digits, "random", seed=0).features[0].out_channels == 128  # the model's default
    same = feature_network(digits, "random", seed=0, net_width=8)
    other = feature_network(digits, "random", seed=1, net_width=8)
    assert all(torch.equal(a, b) for a, b in zip(narrow.parameters(), same.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(narrow.parameters(), other.parameters()))
    with pytest.raises(ValueError, match="kind"):
        feature_network(digits, "pretrained", seed=0)


# ------------------------------------------------------------------------------------------------ distillers
METHODS = [(HerdingSelection, HerdingConfig, "herding"), (KCenterSelection, CoresetConfig, "kcenter")]
FAST = {"features": "random", "net_width": 8}


def _row_index(dataset, images: torch.Tensor) -> list[int]:
    """Index in the training split of every image (exact match), -1 when none."""
    train = dataset.train.images.flatten(1)
    index = torch.cdist(images.flatten(1), train).argmin(dim=1)
    exact = (images.flatten(1) == train[index]).all(dim=1)
    return [int(i) if e else -1 for e, i in zip(exact.tolist(), index.tolist())]


@pytest.mark.parametrize("cls, config_cls, name", METHODS)
def test_selection_keeps_real_images_of_each_class(digits, cls, config_cls, name):
    before = digits.train.images.clone()
    distiller = cls(digits, config_cls(ipc=6, **FAST), seed=0)
    synthetic = distiller.run(5, progress=False)
    assert distiller.iterative is False and distiller.iteration == 0
    assert synthetic.labels.tolist() == [c for c in range(10) for _ in range(6)]  # class-major
    assert synthetic.images.shape == (60, 1, 16, 16)
    index = _row_index(digits, synthetic.images)
    assert -1 not in index and len(set(index)) == len(index)
    assert digits.train.labels[index].tolist() == synthetic.labels.tolist()
    synthetic.images.add_(100.0)  # a copy: the dataset is untouched
    assert torch.equal(digits.train.images, before)


@pytest.mark.parametrize("cls, config_cls, name", METHODS)
def test_selection_seeding_and_record(digits, cls, config_cls, name):
    config = config_cls(ipc=4, **FAST)
    a = cls(digits, config, seed=0).init()
    b = cls(digits, config, seed=0).init()
    c = cls(digits, config, seed=1).init()
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    record = a.config
    assert record["method"] == name and record["seed"] == 0 and record["dataset"] == "digits"
    assert {k: record[k] for k in dataclasses.asdict(config)} == dataclasses.asdict(config)


def test_herding_selection_starts_each_class_at_its_own_mean(digits):
    config = HerdingConfig(ipc=3, **FAST)
    synthetic = HerdingSelection(digits, config, seed=2).init()
    features = coreset_features(digits, config, seed=2)
    index = _row_index(digits, synthetic.images)
    for label in range(10):
        members = digits.train.class_indices(label)
        mean = features[members].mean(dim=0)
        nearest = members[torch.linalg.vector_norm(features[members] - mean, dim=1).argmin()]
        assert index[3 * label] == int(nearest)


def test_herding_selection_rule_option(digits):
    argmin = HerdingSelection(digits, HerdingConfig(ipc=3, **FAST)).init()
    argmax = HerdingSelection(digits, HerdingConfig(ipc=3, rule="argmax", **FAST)).init()
    assert argmax.config["rule"] == "argmax" and argmin.config["rule"] == "argmin"
    assert not torch.equal(argmin.images, argmax.images)


def test_trained_features_learn_and_leave_global_rng_alone(digits):
    torch.manual_seed(0)
    before = torch.get_rng_state()
    net = feature_network(digits, "trained", seed=0, net_width=8, train_epochs=5)
    untrained = feature_network(digits, "random", seed=0, net_width=8)
    # six short passes of a width-8 ConvNet: far from converged (~47 %), far above its initialisation (~3 %)
    trained, untrained = network_accuracy(net, digits.train, 10), network_accuracy(untrained, digits.train, 10)
    assert trained.overall > untrained.overall + 0.25
    trained = HerdingSelection(digits, HerdingConfig(ipc=3, features="trained", train_epochs=5, net_width=8))
    synthetic = trained.init()
    assert synthetic.class_counts() == [3] * 10
    assert not torch.equal(synthetic.images, HerdingSelection(digits, HerdingConfig(ipc=3, **FAST)).init().images)
    KCenterSelection(digits, CoresetConfig(ipc=3, **FAST)).init()
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("cls, config_cls, name", METHODS)
@pytest.mark.parametrize("field, value", [("ipc", 0), ("ipc", 1000), ("ipc", 2.5), ("features", "pretrained"),
                                          ("train_epochs", 0), ("train_epochs", 1.5), ("train_epochs", True),
                                          ("net_width", 0)])
def test_bad_config_names_the_field(digits, cls, config_cls, name, field, value):
    with pytest.raises(ValueError, match=field):
        cls(digits, config_cls(**{"ipc": 2, **FAST, field: value}))


def test_bad_rule_names_rule(digits):
    with pytest.raises(ValueError, match="rule") as info:
        HerdingSelection(digits, HerdingConfig(ipc=2, rule="max"))
    assert "argmin" in str(info.value)


def test_features_error_lists_the_choices(digits):
    with pytest.raises(ValueError) as info:
        KCenterSelection(digits, CoresetConfig(features="imagenet"))
    assert "features" in str(info.value) and "random" in str(info.value) and "trained" in str(info.value)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_same_selection_rules_on_cuda():
    features = cloud(200, 6)
    for rule in ("argmin", "argmax"):
        assert torch.equal(herding(features.cuda(), 15, rule).cpu(), herding(features, 15, rule))
    index = kcenter_greedy(features.cuda(), 15, torch.Generator(device="cuda").manual_seed(0))
    assert index.device.type == "cuda"
    assert index.cpu().tolist() == naive_kcenter(features, 15, int(index[0]))
