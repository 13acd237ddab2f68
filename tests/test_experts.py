"""Expert trajectories (ltdd.distill.experts): shapes, what each stage trains, class-balanced sampling, buffers."""

from __future__ import annotations

import pytest
import torch

from ltdd.config import make_generator
from ltdd.data import load_dataset
from ltdd.distill.experts import (ExpertBuffer, ExpertConfig, class_balanced_order, classifier_slice, flat_parameters,
                                  load_flat_parameters, train_buffer, train_expert)
from ltdd.models import get_model
from ltdd.train import network_accuracy

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {"width": 8}
FAST = ExpertConfig(epochs=3, batch_size=64, lr=0.05)


@pytest.fixture(scope="module")
def digits_lt():
    return load_dataset("digits-lt")


@pytest.fixture(scope="module")
def representation(digits_lt, tmp_path_factory):
    return train_buffer(digits_lt, tmp_path_factory.mktemp("rep"), 2, FAST, model_options=SMALL, progress=False)


def test_classifier_slice_is_the_final_linear_layer():
    net = get_model("convnet", 3, 10, 32, width=16)
    params = list(net.parameters())
    cls = classifier_slice(net)
    assert cls.stop == sum(p.numel() for p in params)
    assert cls.stop - cls.start == net.classifier.weight.numel() + net.classifier.bias.numel()
    assert get_model("convnet", 3, 100, 32, width=128).classifier.weight.numel() + 100 == 204_900  # reference


def test_representation_trajectory_starts_at_init_and_learns(digits_lt):
    longer = ExpertConfig(epochs=10, batch_size=64, lr=0.05)
    trajectory = train_expert(digits_lt, longer, model_options=SMALL, seed=1)
    net = get_model("convnet", 1, 10, 16, generator=make_generator(1, "expert-init"), **SMALL)
    assert trajectory.shape == (longer.epochs + 1, sum(p.numel() for p in net.parameters()))
    assert torch.equal(trajectory[0], flat_parameters(net))
    before = network_accuracy(net, digits_lt.test, 10).overall
    after = network_accuracy(load_flat_parameters(net, trajectory[-1]), digits_lt.test, 10).overall
    assert after > before + 0.3
    assert torch.equal(trajectory[:3], train_expert(digits_lt, FAST, model_options=SMALL, seed=1)[:3])  # same seed


def test_classifier_stage_moves_only_the_classifier(digits_lt, representation):
    final = representation[0][-1]
    trajectory = train_expert(digits_lt, ExpertConfig(epochs=2, batch_size=64, stage="classifier"),
                              model_options=SMALL, seed=0, initial=final)
    cls = classifier_slice(get_model("convnet", 1, 10, 16, **SMALL))
    assert torch.equal(trajectory[0], final)
    backbone = torch.ones(trajectory.shape[1], dtype=torch.bool)
    backbone[cls] = False
    assert torch.equal(trajectory[:, backbone], final[backbone].expand(3, -1))
    assert not torch.equal(trajectory[-1, cls], final[cls])
    with pytest.raises(ValueError, match="starts from a representation expert"):
        train_expert(digits_lt, ExpertConfig(epochs=1, stage="classifier"), model_options=SMALL)


def test_class_balanced_order_cycles_through_shuffled_classes_as_class_aware_sampler():
    """LTDD's ClassAwareSampler: passes over the classes in a shuffled order, ``per_draw`` images of a class per
    visit from its own shuffled queue; every pass takes exactly ``per_draw`` images of each present class."""
    labels = torch.tensor([0] * 100 + [1] * 10 + [2] * 2)  # class 3 has no image
    passes, per_draw = 50, 4
    order = class_balanced_order(labels, 4, passes * 3 * per_draw, per_draw, torch.Generator().manual_seed(0))
    assert len(order) == passes * 3 * per_draw
    blocks = labels[order].reshape(passes, 3, per_draw)
    assert (blocks == blocks[:, :, :1]).all()  # a visit takes per_draw images of one class
    visits = blocks[:, :, 0]
    assert all(sorted(row.tolist()) == [0, 1, 2] for row in visits)  # each pass visits every present class once
    assert len({tuple(row.tolist()) for row in visits}) > 1  # in an order reshuffled between passes
    for c, n in ((0, 100), (1, 10), (2, 2)):  # within a class: each cycle through its images is a permutation
        taken = order[labels[order] == c]
        members = torch.nonzero(labels == c).squeeze(1)
        for cycle in range(len(taken) // n):
            assert sorted(taken[cycle * n:(cycle + 1) * n].tolist()) == members.tolist()
    again = class_balanced_order(labels, 4, 600, per_draw, torch.Generator().manual_seed(0))
    assert torch.equal(again, order)  # the same generator, the same order
    other = class_balanced_order(labels, 4, 600, per_draw, torch.Generator().manual_seed(1))
    assert not torch.equal(other, order)


def test_buffer_round_trips_and_resumes(digits_lt, representation, tmp_path):
    assert len(representation) == 2 and representation.epochs == FAST.epochs
    assert torch.equal(representation.snapshot(1, 2), representation[1][2])
    again = train_buffer(digits_lt, representation.path, 2, FAST, model_options=SMALL, progress=False)
    assert torch.equal(again[0], representation[0])  # kept, not retrained
    with pytest.raises(ValueError, match="holds experts trained with other settings: config="):
        train_buffer(digits_lt, representation.path, 2, ExpertConfig(epochs=4, batch_size=64, lr=0.05),
                     model_options=SMALL, progress=False)
    classifier = train_buffer(digits_lt, tmp_path / "cls", 2, ExpertConfig(epochs=1, stage="classifier"),
                              model_options=SMALL, representation=representation.path, progress=False)
    assert torch.equal(classifier[1][0], representation[1][-1])


def test_bad_requests_are_clear_errors(digits_lt, representation, tmp_path):
    with pytest.raises(ValueError, match=r"epoch=4 is outside the buffer's trajectories \(0 … 3\)"):
        representation.snapshot(0, 4)
    with pytest.raises(ValueError, match="reaches beyond the buffer's 3 epochs; choose start_epoch <= 1"):
        representation.check_window(2, 2)
    with pytest.raises(IndexError, match="expert 5 is not in"):
        representation[5]
    other = load_dataset("digits-lt", imbalance=20)
    with pytest.raises(ValueError, match="trained for other data or another model: .*train_counts="):
        representation.check_compatible(other, "convnet", SMALL)
    with pytest.raises(ValueError, match="model_options=\\{'width': 8\\} there, \\{'width': 16\\} now"):
        representation.check_compatible(digits_lt, "convnet", {"width": 16})
    with pytest.raises(FileNotFoundError, match="is not an expert buffer"):
        ExpertBuffer(tmp_path)
    with pytest.raises(ValueError, match="stage='head' is unknown"):
        ExpertConfig(stage="head")


def test_shards_fill_one_buffer_with_the_same_experts(digits_lt, representation, tmp_path):
    for i in (1, 0):
        train_buffer(digits_lt, tmp_path / "sharded", 2, FAST, model_options=SMALL, progress=False, shard=(i, 2))
    sharded = ExpertBuffer(tmp_path / "sharded")
    assert len(sharded) == 2 and all(torch.equal(sharded[k], representation[k]) for k in range(2))
    with pytest.raises(ValueError, match=r"shard must be \(i, n\) with 0 <= i < n"):
        train_buffer(digits_lt, tmp_path / "bad", 2, FAST, model_options=SMALL, progress=False, shard=(2, 2))
