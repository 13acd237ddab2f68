"""ltdd.features: embeddings of several sets, the joint t-SNE map, the real-vs-synthetic figure, moment gaps."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from ltdd.distill.dsdm import covariance
from ltdd.features import embed_sets, feature_gap_table, feature_statistics_gap, tsne_2d
from ltdd.book.viz import plot_real_vs_synthetic
from ltdd.models import get_model

pytestmark = pytest.mark.usefixtures("one_thread")


def blobs(n_per_class: int = 12, classes: int = 3, d: int = 6, seed: int = 0, spread: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    centres = 4 * torch.randn(classes, d, generator=g)
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    return centres[labels] + spread * torch.randn(len(labels), d, generator=g), labels


@pytest.fixture(scope="module")
def net():
    return get_model("convnet", 1, 3, 16, generator=torch.Generator().manual_seed(0), width=8)


# ------------------------------------------------------------------------------------------ embed_sets
def test_embed_sets_shapes_no_grad_and_mode_restored(net):
    g = torch.Generator().manual_seed(1)
    sets = {"real": torch.randn(7, 1, 16, 16, generator=g), "synthetic": torch.randn(3, 1, 16, 16, generator=g)}
    net.train()
    features = embed_sets(net, sets, batch_size=2)
    assert net.training, "the network's mode must be restored"
    assert {k: tuple(v.shape) for k, v in features.items()} == {"real": (7, net.feature_dim),
                                                               "synthetic": (3, net.feature_dim)}
    assert not features["real"].requires_grad
    net.eval()
    expected = net.embed(sets["real"])
    assert torch.allclose(features["real"], expected, atol=1e-5), "batching must not change the features"
    net.eval()
    embed_sets(net, sets)
    assert not net.training


def test_embed_sets_rejects_bad_input(net):
    with pytest.raises(ValueError, match="batch_size"):
        embed_sets(net, {"a": torch.zeros(2, 1, 16, 16)}, batch_size=0)
    with pytest.raises(ValueError, match="sets"):
        embed_sets(net, {})
    with pytest.raises(ValueError, match=r"sets\['a'\]"):
        embed_sets(net, {"a": torch.zeros(2, 16, 16)})
    with pytest.raises(ValueError, match="embed"):
        embed_sets(torch.nn.Linear(2, 2), {"a": torch.zeros(2, 1, 16, 16)})


# ---------------------------------------------------------------------------------------------- tsne_2d
def test_tsne_2d_shapes_and_determinism():
    real, _ = blobs(10, d=5)
    syn, _ = blobs(2, d=5, seed=1)
    first = tsne_2d({"real": real, "syn": syn.numpy()}, seed=3, perplexity=5)
    second = tsne_2d({"real": real, "syn": syn}, seed=3, perplexity=5)
    assert list(first) == ["real", "syn"]
    assert first["real"].shape == (30, 2) and first["syn"].shape == (6, 2)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


def test_tsne_2d_clamps_perplexity_and_rejects_too_few_points():
    points = tsne_2d({"a": torch.randn(3, 4), "b": torch.randn(2, 4)}, perplexity=30)  # 5 points: perplexity 4/3
    assert points["a"].shape == (3, 2) and np.isfinite(points["b"]).all()
    with pytest.raises(ValueError, match="at least 4 points"):
        tsne_2d({"a": torch.randn(2, 4), "b": torch.randn(1, 4)})
    with pytest.raises(ValueError, match="same dimension"):
        tsne_2d({"a": torch.randn(5, 4), "b": torch.randn(5, 3)})
    with pytest.raises(ValueError, match="perplexity"):
        tsne_2d({"a": torch.randn(5, 4)}, perplexity=0)
    with pytest.raises(ValueError, match="NaN"):
        tsne_2d({"a": torch.full((5, 4), float("nan"))})


# ------------------------------------------------------------------------------------------ the figure
def test_plot_real_vs_synthetic_has_one_axis_per_method():
    rng = np.random.default_rng(0)
    panel = (rng.normal(size=(20, 2)), rng.normal(size=(4, 2)), np.arange(20) % 3, torch.arange(4) % 3)
    before = set(plt.get_fignums())
    fig = plot_real_vs_synthetic({"DM": panel, "DSDM": panel}, ["a", "b", "c"], title="t")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert set(plt.get_fignums()) == before, "the figure must be closed in pyplot"
    one = plot_real_vs_synthetic({"DSDM": panel}, ["a", "b", "c"])
    assert len(one.axes) == 1
    with pytest.raises(ValueError, match="labels must lie"):
        plot_real_vs_synthetic({"DM": panel}, ["a", "b"])
    with pytest.raises(ValueError, match="points"):
        plot_real_vs_synthetic({"DM": (panel[0], panel[1][:, :1], panel[2], panel[3])}, ["a", "b", "c"])
    with pytest.raises(ValueError, match="at least one"):
        plot_real_vs_synthetic({}, ["a"])


# ------------------------------------------------------------------------------------------ moment gaps
def test_feature_statistics_gap_zero_for_identical_sets_positive_otherwise():
    real, labels = blobs(12, classes=3, d=6)
    same = feature_statistics_gap(real, labels, real.clone(), labels.clone(), 3)
    assert same["mean_gap"] == pytest.approx(0.0, abs=1e-12) and same["cov_gap"] == pytest.approx(0.0, abs=1e-12)
    assert len(same["per_class_mean_gap"]) == len(same["per_class_cov_gap"]) == 3
    shifted = feature_statistics_gap(real, labels, real + 1.0, labels, 3)  # same spread, moved by 1 in 6 dims
    assert shifted["mean_gap"] == pytest.approx(6.0) and shifted["cov_gap"] == pytest.approx(0.0, abs=1e-9)
    scaled = feature_statistics_gap(real, labels, real * 2, labels, 3)
    assert scaled["mean_gap"] > 0 and scaled["cov_gap"] > 0


def test_feature_statistics_gap_matches_the_definition():
    real, labels = blobs(9, classes=2, d=40, seed=2)  # n < d: covariance_distance takes its Gram form
    syn, syn_labels = blobs(3, classes=2, d=40, seed=5, spread=0.5)
    gap = feature_statistics_gap(real, labels, syn, syn_labels, 2)
    r, s = real.double(), syn.double()
    for c in range(2):
        rc, sc = r[labels == c], s[syn_labels == c]
        assert gap["per_class_mean_gap"][c] == pytest.approx(float((rc.mean(0) - sc.mean(0)).pow(2).sum()))
        explicit = float((covariance(rc) - covariance(sc)).pow(2).sum()) / 40
        assert gap["per_class_cov_gap"][c] == pytest.approx(explicit, rel=1e-9)
    assert gap["cov_gap"] == pytest.approx(sum(gap["per_class_cov_gap"]) / 2)
    table = feature_gap_table({"DSDM": gap}).splitlines()
    assert len(table) == 3 and table[2].startswith("| DSDM |")


def test_feature_statistics_gap_single_sample_classes_and_errors():
    real, labels = blobs(5, classes=2, d=4)
    one = feature_statistics_gap(real, labels, real[[0, 5]], labels[[0, 5]], 2)  # one synthetic image per class
    assert np.isfinite(one["cov_gap"]) and one["cov_gap"] > 0
    with pytest.raises(ValueError, match="class 2 has no"):
        feature_statistics_gap(real, labels, real, labels, 3)
    with pytest.raises(ValueError, match="dimension"):
        feature_statistics_gap(real, labels, real[:, :3], labels, 2)
    with pytest.raises(ValueError, match="syn_labels"):
        feature_statistics_gap(real, labels, real, labels[:3], 2)
