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
* two Markdown tables. The three figures of these measurements (per-class accuracy against class size,
  weight norm per class, aligned vs conflicting accuracy against the bias ratio) are in
  :mod:`ltdd.book.viz.diagnostics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from torch import nn

from ._deprecated import forward, renamed
from .checks import seed_list
from .config import Profile
from .data import ImageDataset, LabeledImages, load_dataset
from .data.bias import DEFAULT_NAMES, DEFAULT_SEVERITY, biased_rate
from .markdown import markdown_table
from .train import Accuracy, EvaluationReport, TrainConfig, network_accuracy, train_networks


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


bias_ratio_sweep = renamed(full_set_bias_sweep, "bias_ratio_sweep")

__all__ = ["BiasSweepPoint", "FullTrainingReport", "bias_sweep_table", "classifier_weight_norms", "full_set_bias_sweep",
           "group_accuracy_table", "train_full"]

__getattr__ = forward(__name__, {
    "plot_accuracy_vs_class_size": "ltdd.book.viz.diagnostics:plot_accuracy_vs_class_size",
    "plot_weight_norms": "ltdd.book.viz.diagnostics:plot_weight_norms",
    "plot_full_set_bias_sweep": "ltdd.book.viz.diagnostics:plot_full_set_bias_sweep",
    "plot_bias_sweep": "ltdd.book.viz.diagnostics:plot_full_set_bias_sweep",
})
