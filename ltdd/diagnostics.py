"""Diagnostics: what a network trained on a long-tailed or biased training set gets wrong.

Dataset distillation learns from networks trained on the real training set (experts, feature extractors,
gradient sources). This module measures what such a network inherits from an imperfect training set:

* :func:`classifier_weight_norms` - the L2 norm of each class's row of the final linear layer, the
  quantity behind the weight-norm motivation of LTDD (Zhao et al., CVPR 2025, "Distilling Long-tailed
  Datasets", Fig. 2): on long-tailed data the head classes get the longest weight vectors;
* :func:`train_full` - networks trained on a whole (long-tailed or biased) training set with the
  evaluation protocol of :mod:`ltdd.train`, returned as a :class:`FullTrainingReport` that adds the
  weight norms (and accuracies on further test splits) to the usual report;
* :func:`full_set_bias_sweep` - the "Full set" row of Biased-DD's Table 1 (Lu et al., CVPRW 2024): a
  ConvNet trained on the full biased training set, tested on the all-conflicting test set, for several
  bias ratios, with aligned vs conflicting accuracy measured on LfF's 10 %-aligned split;
* three figures (per-class accuracy against class size, weight norm per class, aligned vs conflicting
  accuracy against the bias ratio) and two Markdown tables.

Figures follow :mod:`ltdd.viz`: they return a :class:`matplotlib.figure.Figure` closed in pyplot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from torch import nn

from ._deprecated import renamed
from .checks import seed_list
from .config import Profile
from .data import ImageDataset, LabeledImages, load_dataset
from .data.bias import DEFAULT_NAMES, DEFAULT_SEVERITY, biased_rate
from .train import Accuracy, EvaluationReport, TrainConfig, network_accuracy, train_networks
from .viz import OTHER_GROUP_COLOR, SHOT_GROUP_COLORS, finish_figure, markdown_table, palette


# ------------------------------------------------------------------------------------ weight norms
def classifier_weight_norms(model: nn.Module) -> list[float]:
    """The L2 norm of every class's row of the final linear layer, ``‖W_c‖₂`` for ``W = model.classifier.weight``.

    The logit of class ``c`` is ``W_c · f(x) + b_c``, so a longer ``W_c`` means larger logits for ``c``
    on every image: the classifier leans towards the classes with the longest rows. This is the picture of
    LTDD's motivation (its Fig. 2): trained on long-tailed data, the head classes get the largest norms.
    ``model`` is any network with a linear ``classifier`` (every ``ltdd`` model) or an ``nn.Linear``.

    Introduced in chapter 04.
    """
    layer = model if isinstance(model, nn.Linear) else getattr(model, "classifier", None)
    if not isinstance(layer, nn.Linear):
        raise ValueError("model must be an nn.Linear or have a linear `classifier` layer")
    return layer.weight.detach().float().norm(dim=1).cpu().tolist()


# ---------------------------------------------------------------------------------- full training
@dataclass
class FullTrainingReport(EvaluationReport):
    """An :class:`~ltdd.train.EvaluationReport` of networks trained on a whole training set, plus diagnostics.

    ``weight_norm_runs[k]`` holds the classifier weight norms of network ``k`` (one per class);
    ``train_counts`` the training images per class; ``test_runs[name][k]`` the accuracy of network ``k``
    on the further test split ``name`` (see :meth:`on`); ``networks`` the trained networks themselves
    when :func:`train_full` was asked to keep them.

    Machinery behind chapter 04.
    """

    weight_norm_runs: list[list[float]] = field(default_factory=list)
    train_counts: list[int] = field(default_factory=list)
    test_runs: dict[str, list[Accuracy]] = field(default_factory=dict)
    networks: list[nn.Module] = field(default_factory=list, repr=False)

    @property
    def weight_norms(self) -> list[float]:
        """Classifier weight norm per class, averaged over the networks."""
        return [sum(run[c] for run in self.weight_norm_runs) / len(self.weight_norm_runs)
                for c in range(len(self.weight_norm_runs[0]))]

    def on(self, name: str) -> EvaluationReport:
        """The same networks' report on the further test split ``name`` (given to :func:`train_full`)."""
        if name not in self.test_runs:
            raise KeyError(f"no test split {name!r}; the networks were tested on {sorted(self.test_runs)}")
        return EvaluationReport.from_runs(self.test_runs[name], self.model, self.epochs, self.seeds, self.train_size,
                                          self.extra)

    def as_dict(self) -> dict:
        return {**super().as_dict(), "weight_norms": self.weight_norms, "weight_norm_runs": self.weight_norm_runs,
                "train_counts": self.train_counts}


def _settings(settings: Profile | TrainConfig, seeds, model, model_options) -> tuple:
    """``(config, seeds, model, model_options)`` from a profile (its full-data settings) or a TrainConfig."""
    if isinstance(settings, Profile):
        defaults = (TrainConfig(epochs=settings.full_epochs), settings.full_seeds, settings.model,
                    settings.model_options())
    elif isinstance(settings, TrainConfig):
        defaults = (settings, 1, "convnet", {})
    else:
        raise ValueError(f"settings must be a Profile or a TrainConfig, got {type(settings).__name__}")
    config, default_seeds, default_model, default_options = defaults
    return (config, default_seeds if seeds is None else seeds, model or default_model,
            default_options if model_options is None else dict(model_options))


def train_full(dataset: ImageDataset, settings: Profile | TrainConfig, seeds: int | list[int] | None = None, *,
               model: str | None = None, model_options: dict | None = None,
               tests: Mapping[str, LabeledImages] | None = None, base_seed: int = 0,
               keep_networks: bool = False, progress: bool = False) -> FullTrainingReport:
    """Train fresh networks on the whole ``dataset.train`` and test them; keep their classifier weight norms.

    ``settings`` is a :class:`~ltdd.config.Profile` (its ``full_epochs``, ``full_seeds``, model and width)
    or a :class:`~ltdd.train.TrainConfig` (ConvNet, one network, unless ``model``/``seeds`` say otherwise).
    Training is :func:`ltdd.train.train_networks`, as in
    :func:`ltdd.train.evaluate_training_set`, so the accuracies equal that function's for the same
    arguments. Every network is tested on ``dataset.test`` and on each split of ``tests``
    (``{name: split}``, read back with :meth:`FullTrainingReport.on`). ``keep_networks=True`` keeps the
    trained networks in ``report.networks`` (in evaluation mode), e.g. to edit their classifier.

    Introduced in chapter 04.
    """
    config, seeds, model, options = _settings(settings, seeds, model, model_options)
    tests = {name: split.to(dataset.device) for name, split in (tests or {}).items()}  # moved once
    num_classes = dataset.num_classes
    main_runs, norm_runs, test_runs, networks = [], [], {name: [] for name in tests}, []
    for _, net in train_networks(dataset.train.images, dataset.train.labels, dataset, model, seeds, config,
                                 base_seed, progress, options):
        main_runs.append(network_accuracy(net, dataset.test, num_classes))
        norm_runs.append(classifier_weight_norms(net))
        for name, split in tests.items():
            test_runs[name].append(network_accuracy(net, split, num_classes))
        if keep_networks:
            networks.append(net.eval())
    base = EvaluationReport.from_runs(main_runs, model, config.epochs, seed_list(seeds), len(dataset.train),
                                      {"model_options": options, "dataset": dataset.name})
    return FullTrainingReport(**{name: getattr(base, name) for name in EvaluationReport.__dataclass_fields__},
                              weight_norm_runs=norm_runs, train_counts=dataset.train.class_counts(num_classes),
                              test_runs=test_runs, networks=networks)


# ---------------------------------------------------------------------------------- bias ratio sweep
@dataclass
class BiasSweepPoint:
    """One bias ratio of :func:`full_set_bias_sweep`: the same networks on Biased-DD's and LfF's test splits.

    Machinery behind chapter 04."""

    bias_ratio: float
    biased_rate: float
    """The measured fraction of bias-aligned training images (Biased-DD's Eq. 1)."""
    report: FullTrainingReport
    """Tested on Biased-DD's all-conflicting test set; ``report.on("lff")`` on LfF's 10 %-aligned split."""

    @property
    def accuracy(self) -> float:
        """Mean accuracy on the all-conflicting test set: the "Full set" entry of Biased-DD's Table 1."""
        return self.report.mean

    @property
    def aligned(self) -> float:
        """Mean accuracy on the bias-aligned images of LfF's split (colour = class colour)."""
        return self.report.on("lff").aligned

    @property
    def conflicting(self) -> float:
        """Mean accuracy on the bias-conflicting images of LfF's split."""
        return self.report.on("lff").conflicting


def full_set_bias_sweep(base_name: str, ratios: Sequence[float], severity: int = DEFAULT_SEVERITY,
                        settings: Profile | TrainConfig = TrainConfig(), seeds: int | list[int] | None = None, *,
                        model: str | None = None, model_options: dict | None = None, data_seed: int = 0,
                        device=None, progress: bool = False,
                        load_options: dict | None = None) -> dict[float, BiasSweepPoint]:
    """Train on the FULL biased training set at every bias ratio: the shape of Biased-DD's Table 1 "Full set" row.

    ``base_name`` is a biased dataset (``cdigits``, ``cmnist-dd``, ``ccifar10-dd``) or its grey source
    (``digits``, ``mnist``). For each ratio the dataset is loaded with Biased-DD's test set (every test
    image bias-conflicting) and again with LfF's test split (``test_split="lff"``: 10 % aligned, the same
    training set), and :func:`train_full` trains the networks once and tests them on both. Returns
    ``{ratio: BiasSweepPoint}`` in the order given. ``load_options`` go to every load (``data_root``,
    ``download``, ``zca``).

    Introduced in chapter 04 (as ``bias_ratio_sweep``, its old name).
    """
    name = DEFAULT_NAMES.get(base_name, base_name)
    ratios = [float(r) for r in ratios]
    if not ratios or len(set(ratios)) != len(ratios):
        raise ValueError(f"ratios must be a non-empty list of distinct bias ratios, got {ratios!r}")
    sweep = {}
    for ratio in ratios:
        options = {"bias_ratio": ratio, "severity": severity, "seed": data_seed, **(load_options or {})}
        dataset = load_dataset(name, device=device, **options)
        lff = load_dataset(name, device=device, test_split="lff", **options)
        if (lff.mean, lff.std, len(lff.train)) != (dataset.mean, dataset.std, len(dataset.train)):
            raise RuntimeError("the two test splits came with different training sets")  # cannot happen by design
        report = train_full(dataset, settings, seeds, model=model, model_options=model_options,
                            tests={"lff": lff.test}, progress=progress)
        rate = biased_rate(dataset.train.labels, dataset.train.attributes)
        sweep[ratio] = BiasSweepPoint(ratio, rate, report)
    return sweep


# ------------------------------------------------------------------------------------------ tables
def group_accuracy_table(reports: Mapping[str, EvaluationReport], groupings: Mapping[str, Sequence[str]]) -> str:
    """Markdown: one row per (report, grouping) with the overall and the many/medium/few accuracy (%).

    Introduced in chapter 04."""
    names = ["many", "medium", "few"]
    rows = []
    for label, report in reports.items():
        for rule, groups in groupings.items():
            accuracy = report.group_accuracy(list(groups))
            rows.append([label, rule, f"{100 * report.mean:.1f}",
                         *(f"{100 * accuracy[g]:.1f}" if g in accuracy else "–" for g in names)])
    return markdown_table(["network trained on", "groups", "overall", *names], rows)


def bias_sweep_table(sweep: Mapping[float, BiasSweepPoint]) -> str:
    """Markdown: one row per bias ratio with the accuracies (%) of :func:`full_set_bias_sweep`, mean ± std.

    Introduced in chapter 04."""
    rows = []
    for ratio, point in sweep.items():
        lff = point.report.on("lff")
        rows.append([f"{ratio:g}", f"{100 * point.biased_rate:.1f}",
                     f"{100 * point.accuracy:.1f} ± {100 * point.report.std:.1f}",
                     f"{100 * lff.aligned:.1f}", f"{100 * lff.conflicting:.1f}"])
    return markdown_table(["bias ratio", "aligned training images (%)", "all-conflicting test (%)",
                            "aligned, LfF split (%)", "conflicting, LfF split (%)"], rows)


# ----------------------------------------------------------------------------------------- figures
def _group_colors(groups: Sequence[str] | None, num_classes: int) -> list:
    if groups is None:
        return [palette(1)[0]] * num_classes
    if len(groups) != num_classes:
        raise ValueError(f"groups has {len(groups)} entries but there are {num_classes} classes")
    return [SHOT_GROUP_COLORS.get(g, OTHER_GROUP_COLOR) for g in groups]


def _group_legend(ax, groups: Sequence[str] | None, extra: list | None = None, **options) -> None:
    from matplotlib.lines import Line2D

    handles = [] if groups is None else [
        Line2D([], [], marker="o", linestyle="", color=SHOT_GROUP_COLORS.get(g, OTHER_GROUP_COLOR),
               label=f"{g} ({list(groups).count(g)} classes)") for g in dict.fromkeys(groups)]
    ax.legend(handles=handles + (extra or []), fontsize=8, **options)


def _check_counts(values: Sequence[float], train_counts: Sequence[int], what: str) -> None:
    if len(values) != len(train_counts):
        raise ValueError(f"{what} has {len(values)} classes but train_counts has {len(train_counts)}")


def plot_accuracy_vs_class_size(report: EvaluationReport, train_counts: Sequence[int],
                                groups: Sequence[str] | None = None, reference: EvaluationReport | None = None,
                                reference_label: str = "balanced training set", class_names=None,
                                log: bool = True, title: str | None = None) -> Figure:
    """Per-class test accuracy (%) against the class's number of training images: one point per class.

    Points are coloured by ``groups`` (e.g. :func:`~ltdd.data.longtail.shot_groups`) and labelled with the
    class name. ``reference`` (a network trained on the balanced set) adds a hollow grey point per class
    at the same position, joined to the long-tailed one: the length of the line is what the tail cost.

    Introduced in chapter 04.
    """
    _check_counts(report.per_class, train_counts, "report")
    names = [str(c) for c in range(len(train_counts))] if class_names is None else [str(n) for n in class_names]
    fig, ax = plt.subplots(figsize=(5.8, 3.8), layout="constrained")
    accuracy = [100 * a for a in report.per_class]
    extra = []
    if reference is not None:
        _check_counts(reference.per_class, train_counts, "reference")
        ref = [100 * a for a in reference.per_class]
        ax.vlines(train_counts, accuracy, ref, color="grey", linewidth=0.8, alpha=0.6)
        extra.append(ax.scatter(train_counts, ref, facecolors="none", edgecolors="grey", s=36, zorder=2,
                                label=f"{reference_label}: {100 * reference.mean:.1f} %"))
    ax.scatter(train_counts, accuracy, c=_group_colors(groups, len(train_counts)), s=36, zorder=3)
    if len(names) <= 20:
        for n, a, label in zip(train_counts, accuracy, names):
            ax.annotate(label, (n, a), textcoords="offset points", xytext=(4, 3), fontsize=8)
    if log:
        _log_x_axis(ax)
    ax.set_xlabel("training images of the class")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(-5, 105)
    ax.grid(alpha=0.3)
    _group_legend(ax, groups, extra, loc="lower right")
    ax.set_title(title or f"per-class accuracy, overall {100 * report.mean:.1f} %", fontsize=10)
    return finish_figure(fig)


def _log_x_axis(ax) -> None:
    """A logarithmic x axis labelled with plain numbers at 1, 2 and 5 times powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot_weight_norms(norms: Sequence[float], train_counts: Sequence[int], groups: Sequence[str] | None = None,
                      reference: Sequence[float] | None = None, reference_label: str = "balanced training set",
                      class_names=None, title: str | None = None) -> Figure:
    """Classifier weight norm per class as bars (coloured by ``groups``), the class size under each bar.

    The LTDD Fig. 2 picture. ``reference`` (the norms of a network trained on the balanced set) is drawn
    as black markers on the same axes.

    Introduced in chapter 04.
    """
    from matplotlib.lines import Line2D

    _check_counts(norms, train_counts, "norms")
    num_classes = len(norms)
    fig, ax = plt.subplots(figsize=(min(14.0, max(5.8, 0.35 * num_classes + 2)), 3.6), layout="constrained")
    ax.bar(range(num_classes), norms, width=0.75, color=_group_colors(groups, num_classes))
    extra = []
    if reference is not None:
        _check_counts(reference, train_counts, "reference")
        ax.plot(range(num_classes), reference, linestyle="", marker="_", markersize=14, markeredgewidth=2,
                color="black")
        extra.append(Line2D([], [], linestyle="", marker="_", markersize=14, markeredgewidth=2, color="black",
                            label=reference_label))
    names = [str(c) for c in range(num_classes)] if class_names is None else [str(n) for n in class_names]
    if len(names) != num_classes:
        raise ValueError(f"class_names has {len(names)} entries but there are {num_classes} classes")
    step = max(1, -(-num_classes // 25))
    ax.set_xticks(range(0, num_classes, step),
                  [f"{name}\n{n:,}" for name, n in zip(names, train_counts)][::step], fontsize=8)
    ax.set_xlim(-0.6, num_classes - 0.4)
    ax.set_xlabel("class (training images)")
    ax.set_ylabel("‖classifier row‖₂")
    top = max([*norms, *(reference or [])])
    ax.set_ylim(0, 1.35 * top if top > 0 else 1.0)  # room for the legend above the bars
    ax.grid(axis="y", alpha=0.3)
    _group_legend(ax, groups, extra, loc="upper right", ncols=2)
    ax.set_title(title or "classifier weight norm per class", fontsize=10)
    return finish_figure(fig)


def plot_full_set_bias_sweep(sweep: Mapping[float, BiasSweepPoint], title: str | None = None) -> Figure:
    """Aligned vs conflicting test accuracy (%) against the bias ratio, whiskers = std over networks.

    Three lines: aligned and conflicting images of LfF's split, and Biased-DD's all-conflicting test set.

    Introduced in chapter 04 (as ``plot_bias_sweep``, its old name).
    """
    if not sweep:
        raise ValueError("sweep must hold at least one bias ratio")
    ratios = list(sweep)
    lff = [point.report.on("lff") for point in sweep.values()]
    lines = {
        "aligned (LfF split)": ([100 * r.aligned for r in lff], [100 * _std(r.aligned_runs) for r in lff]),
        "conflicting (LfF split)": ([100 * r.conflicting for r in lff],
                                    [100 * _std(r.conflicting_runs) for r in lff]),
        "all-conflicting test set (Biased-DD)": ([100 * p.accuracy for p in sweep.values()],
                                                 [100 * p.report.std for p in sweep.values()]),
    }
    fig, ax = plt.subplots(figsize=(5.8, 3.6), layout="constrained")
    for (label, (means, stds)), color, style in zip(lines.items(), palette(3), ("-", "-", "--")):
        ax.errorbar(ratios, means, yerr=stds, marker="o", capsize=3, color=color, linestyle=style, label=label)
    ax.set_xticks(ratios, [f"{r:g}" for r in ratios])
    ax.set_xlabel("bias ratio (fraction of bias-aligned training images)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(-5, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    if title:
        ax.set_title(title, fontsize=10)
    return finish_figure(fig)


def _std(values: Sequence[float | None]) -> float:
    present = [v for v in values if v is not None]
    mean = sum(present) / len(present)
    return (sum((v - mean) ** 2 for v in present) / len(present)) ** 0.5


bias_ratio_sweep = renamed(full_set_bias_sweep, "bias_ratio_sweep")
plot_bias_sweep = renamed(plot_full_set_bias_sweep, "plot_bias_sweep")

__all__ = ["BiasSweepPoint", "FullTrainingReport", "bias_sweep_table", "classifier_weight_norms", "full_set_bias_sweep",
           "group_accuracy_table", "plot_accuracy_vs_class_size", "plot_full_set_bias_sweep", "plot_weight_norms",
           "train_full"]
