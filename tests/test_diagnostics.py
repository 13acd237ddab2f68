"""ltdd.diagnostics: weight norms by hand, the head/tail norm gap on a tiny long-tailed set, the bias-ratio
sweep's shape, and figures with one bar or point per class or ratio. Tiny models, a few seconds in all."""

from __future__ import annotations

import matplotlib
import pytest
import torch
from torch import nn

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402

from ltdd.config import get_profile  # noqa: E402
from ltdd.data import ImageDataset, LabeledImages  # noqa: E402
from ltdd.data.longtail import shot_groups  # noqa: E402
from ltdd.diagnostics import (BiasSweepPoint, FullTrainingReport, bias_sweep_table, full_set_bias_sweep,
                              classifier_weight_norms, group_accuracy_table, train_full)
from ltdd.book.viz import plot_accuracy_vs_class_size, plot_full_set_bias_sweep, plot_weight_norms
from ltdd.train import TrainConfig, evaluate_training_set  # noqa: E402

TINY = {"width": 4, "depth": 1}  # a one-block ConvNet with 4 channels: trains in a fraction of a second
QUICK = TrainConfig(epochs=20, batch_size=32, dsa=False)


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread):
    yield


def tiny_dataset(counts: list[int], seed: int = 0, noise: float = 1.0, size: int = 8) -> ImageDataset:
    """Grey ``size``×``size`` images: one random prototype per class plus Gaussian noise; 20 test images per class."""
    generator = torch.Generator().manual_seed(seed)
    prototypes = torch.randn(len(counts), 1, size, size, generator=generator)

    def split(class_counts: list[int]) -> LabeledImages:
        labels = torch.cat([torch.full((n,), c) for c, n in enumerate(class_counts)])
        images = prototypes[labels] + noise * torch.randn(len(labels), 1, size, size, generator=generator)
        return LabeledImages(images, labels)

    return ImageDataset("tiny", split(counts), split([20] * len(counts)), [str(c) for c in range(len(counts))],
                        (0.0,), (1.0,), hflip_safe=False)


# ----------------------------------------------------------------------------------- weight norms
def test_weight_norms_equal_a_hand_computation():
    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 4.0, 0.0], [1.0, 2.0, 2.0]]))
    assert classifier_weight_norms(layer) == pytest.approx([5.0, 3.0])  # √(9+16), √(1+4+4)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.classifier = layer

    assert classifier_weight_norms(Net()) == pytest.approx([5.0, 3.0])
    with pytest.raises(ValueError, match="classifier"):
        classifier_weight_norms(nn.Conv2d(1, 1, 3))


def test_train_full_matches_the_protocol_and_keeps_norms():
    dataset = tiny_dataset([40, 20, 10])
    config = TrainConfig(epochs=2, batch_size=16, dsa=False)
    report = train_full(dataset, config, seeds=2, model_options=TINY, tests={"again": dataset.test})
    reference = evaluate_training_set(dataset.train.images, dataset.train.labels, dataset, seeds=2, config=config,
                                      progress=False, model_options=TINY)
    assert isinstance(report, FullTrainingReport)
    assert report.accuracies == reference.accuracies  # the same generators as evaluate_training_set
    assert report.per_class_runs == reference.per_class_runs
    assert report.train_counts == [40, 20, 10] and report.train_size == 70
    assert len(report.weight_norm_runs) == 2 and all(len(run) == 3 for run in report.weight_norm_runs)
    assert report.weight_norms == pytest.approx([(a + b) / 2 for a, b in zip(*report.weight_norm_runs)])
    assert report.on("again").accuracies == report.accuracies  # the same networks on the same split
    assert report.as_dict()["weight_norms"] == report.weight_norms
    with pytest.raises(KeyError, match="again"):
        report.on("missing")


def test_train_full_reads_a_profile():
    profile = get_profile("smoke").replace(full_epochs=1, full_seeds=2, net_width=4)
    report = train_full(tiny_dataset([12, 6]), profile, keep_networks=True)
    assert report.epochs == 1 and report.seeds == [0, 1]
    assert report.extra["model_options"] == {"width": 4}
    assert len(report.networks) == 2 and report.networks[0].classifier.out_features == 2
    assert classifier_weight_norms(report.networks[1]) == report.weight_norm_runs[1]
    assert train_full(tiny_dataset([12, 6]), profile).networks == []
    with pytest.raises(ValueError, match="Profile or a TrainConfig"):
        train_full(tiny_dataset([12, 6]), {"epochs": 1})


def test_head_class_gets_the_longest_classifier_row():
    """LTDD's motivation in miniature: trained on 200 / 40 / 8 images, the head's row is clearly the longest."""
    for seed in (0, 1):
        long_tailed = train_full(tiny_dataset([200, 40, 8], seed=seed), QUICK, model_options=TINY).weight_norms
        balanced = train_full(tiny_dataset([80, 80, 80], seed=seed), QUICK, model_options=TINY).weight_norms
        assert long_tailed[0] > long_tailed[1] > long_tailed[2]
        assert long_tailed[0] / long_tailed[2] > 1.3
        assert long_tailed[0] / long_tailed[2] > max(balanced) / min(balanced)


# ------------------------------------------------------------------------------------- bias sweep
@pytest.fixture(scope="module")
def sweep() -> dict[float, BiasSweepPoint]:
    return full_set_bias_sweep("cdigits", [0.1, 1.0], settings=TrainConfig(epochs=1, dsa=False), seeds=1,
                            model_options={"width": 8}, device="cpu")


def test_bias_ratio_sweep_has_one_entry_per_ratio(sweep):
    assert list(sweep) == [0.1, 1.0]
    for ratio, point in sweep.items():
        assert point.bias_ratio == ratio
        assert point.biased_rate == pytest.approx(ratio, abs=0.01)
        for value in (point.accuracy, point.aligned, point.conflicting):
            assert 0.0 <= value <= 1.0
        lff = point.report.on("lff")
        assert lff.aligned_runs and lff.conflicting_runs  # LfF's split has both kinds of image
        assert point.report.conflicting == pytest.approx(point.report.mean)  # Biased-DD's test: all conflicting
        assert point.report.aligned is None
    table = bias_sweep_table(sweep).splitlines()
    assert len(table) == 2 + 2 and table[2].startswith("| 0.1 | 9.9 |")
    with pytest.raises(ValueError, match="distinct"):
        full_set_bias_sweep("digits", [0.5, 0.5])


# ------------------------------------------------------------------------------------------ figures
def _report(per_class: list[float]):
    from ltdd.train import EvaluationReport

    return EvaluationReport("convnet", 1, [0], [sum(per_class) / len(per_class)], [per_class], 10)


def test_figures_have_one_mark_per_class_or_ratio(sweep):
    counts = [122, 60, 30, 12]
    groups = shot_groups(counts)
    before = set(plt.get_fignums())
    accuracy = plot_accuracy_vs_class_size(_report([1.0, 0.9, 0.5, 0.0]), counts, groups,
                                           reference=_report([1.0, 1.0, 0.9, 0.9]), class_names="abcd")
    norms = plot_weight_norms([1.2, 1.0, 0.8, 0.6], counts, groups, reference=[1.0, 1.0, 1.0, 1.0])
    bias = plot_full_set_bias_sweep(sweep)
    assert set(plt.get_fignums()) == before, "figures must be closed in pyplot"

    points = [c for c in accuracy.axes[0].collections if isinstance(c, PathCollection)]
    assert [len(c.get_offsets()) for c in points] == [4, 4]  # balanced reference, long-tailed network
    assert points[1].get_offsets()[:, 0].tolist() == counts
    assert points[1].get_offsets()[:, 1].tolist() == pytest.approx([100, 90, 50, 0])
    assert accuracy.axes[0].get_xscale() == "log"

    ax = norms.axes[0]
    assert [bar.get_height() for bar in ax.patches] == pytest.approx([1.2, 1.0, 0.8, 0.6])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0\n122", "1\n60", "2\n30", "3\n12"]

    lines = bias.axes[0].containers
    assert len(lines) == 3 and all(list(c.lines[0].get_xdata()) == [0.1, 1.0] for c in lines)
    assert all(0 <= y <= 100 for c in lines for y in c.lines[0].get_ydata())


def test_figures_reject_mismatched_classes():
    with pytest.raises(ValueError, match="classes"):
        plot_accuracy_vs_class_size(_report([1.0, 0.5]), [10, 5, 1])
    with pytest.raises(ValueError, match="groups"):
        plot_weight_norms([1.0, 0.5], [10, 5], groups=["many"])
    with pytest.raises(ValueError, match="at least one"):
        plot_full_set_bias_sweep({})


def test_group_accuracy_table():
    report = _report([1.0, 0.5, 0.0])
    table = group_accuracy_table({"long-tailed": report}, {"thresholds": ["many", "medium", "medium"]})
    rows = table.splitlines()
    assert rows[0] == "| network trained on | groups | overall | many | medium | few |"
    assert rows[2] == "| long-tailed | thresholds | 50.0 | 100.0 | 25.0 | – |"
