"""Light checkers for the book's exercises whose result is a number or a few: ``check(label, answer)`` says
whether an answer is right, without printing the solution.

    >>> from ltdd.book.exercises import check
    >>> check("ex-02-ipc", 10.0)
    ex-02-ipc: not yet; part(s) 1 of 1 are off (each part to the precision the question asks for: 1 decimal).
    False

Every exercise states the precision it asks for (a whole number, "to three decimals", "to three significant
figures"); an answer is right when every part lies within half a unit of that last digit of the right value,
so a correctly rounded answer passes and a coarser one does not (one decimal where three are asked is off).

The right values are computed when an answer is checked, from the formula the exercise asks about, from
:mod:`ltdd.reference` or from the recorded file it reads; they are not stored, printed, or shown here.
:data:`CHECKERS` lists the exercises that have a checker, what answer each expects and to which precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Sequence


@dataclass(frozen=True)
class Precision:
    """How precisely one part of an answer is asked for: ``decimals`` places after the point, or ``figures``
    significant figures (exactly one of the two).

    Machinery behind chapter 00."""

    decimals: int | None = None
    figures: int | None = None

    def __post_init__(self):
        if (self.decimals is None) == (self.figures is None):
            raise ValueError("Precision needs exactly one of decimals= or figures=")

    def tolerance(self, value: float) -> float:
        """Half a unit of the last asked digit of ``value`` (plus float rounding)."""
        if self.decimals is not None:
            unit = 10.0 ** -self.decimals
        else:
            exponent = math.floor(math.log10(abs(value))) if value else 0
            unit = 10.0 ** (exponent - self.figures + 1)
        return 0.5 * unit * (1 + 1e-9) + 1e-12

    def __str__(self) -> str:
        if self.decimals == 0:
            return "a whole number"
        if self.decimals is not None:
            return f"{self.decimals} decimal{'s' if self.decimals > 1 else ''}"
        return f"{self.figures} significant figures"


WHOLE = Precision(decimals=0)


@dataclass(frozen=True)
class Checker:
    """How to check one exercise: what the answer looks like (``expects``) and to which precision each part is
    asked for (``precision``, one entry per part, or one for all). The right answer is computed by a private
    function of this module when an answer is checked; it is neither stored nor shown.

    Machinery behind chapter 00."""

    expects: str
    precision: tuple[Precision, ...]
    _right_answer: Callable[[], Sequence[float]] = field(repr=False, compare=False)

    def parts(self, count: int) -> list[Precision]:
        """The precision of each of ``count`` parts."""
        return list(self.precision) * count if len(self.precision) == 1 else list(self.precision)

    def off_parts(self, given: Sequence[float]) -> list[int]:
        """The indices of the parts of ``given`` that are not right to their precision."""
        right = [float(value) for value in self._right_answer()]
        if len(given) != len(right):
            raise ValueError(f"expected {len(right)} number(s) — {self.expects} — got {len(given)}")
        return [i for i, (g, r, p) in enumerate(zip(given, right, self.parts(len(right))))
                if not abs(float(g) - r) <= p.tolerance(r)]


def _lt_counts(n_max: int, classes: int, beta: float) -> list[int]:
    """Class counts by LDAM-DRW's rule ``int(n_max · (1/β)^(i/(C−1)))`` (the rule chapter 02 states), evaluated
    here from the formula, not with :func:`ltdd.data.longtail.longtail_counts`, whose result the exercises check."""
    return [int(float(n_max) * (1.0 / beta) ** (i / (classes - 1.0))) for i in range(classes)]


def _median_head(counts: Sequence[int]) -> int:
    """CRLT-DD's head size (chapter 09): the median class size, the floor of the mean of the two middle classes."""
    ordered = sorted(counts, reverse=True)
    half = len(ordered) // 2
    return (ordered[half - 1] + ordered[half]) // 2


def _budget_percentages() -> tuple[float, ...]:
    """ex-01-budget: IPC 1, 10 and 50 as % of CIFAR-10's 50,000 training images, and the % of the full-data
    accuracy that random selection keeps at IPC 10 (the papers' table, :mod:`ltdd.reference`)."""
    from ..reference import FULL_DATA, PAPER_RESULTS

    shares = tuple(100 * 10 * ipc / 50_000 for ipc in (1, 10, 50))
    return shares + (100 * PAPER_RESULTS["cifar10"]["random"][10] / FULL_DATA["cifar10"],)


def _class3_counts() -> tuple[int, int]:
    """ex-02-count: class 3 of CIFAR-10-LT at β = 50 by the code's rule (exponent c/(C−1)) and the printed one
    (exponent c/C)."""
    return int(5000 * 50 ** (-3 / 9)), int(5000 * 50 ** (-3 / 10))


def _largest_beta() -> tuple[float]:
    """ex-02-ipc: the largest β for which the smallest class of digits-LT keeps 10 images, n_max / 10."""
    from ..data.longtail import counts_only

    return (counts_only("digits-lt", 1)[0] / 10,)


def _boundary_classes() -> tuple[int, int]:
    """ex-02-groups: the CIFAR-100-LT class with exactly 100 images at β = 10 and with exactly 20 at β = 50 (the
    classes whose shot group depends on the boundary convention)."""
    at_10, at_50 = _lt_counts(500, 100, 10), _lt_counts(500, 100, 50)
    return at_10.index(100), at_50.index(20)


def _distill_all_200() -> tuple[int, int]:
    """ex-02-plans: distill all (C · n_min images) of CIFAR-10-LT and CIFAR-100-LT at β = 200."""
    return 10 * _lt_counts(5000, 10, 200)[-1], 100 * _lt_counts(500, 100, 200)[-1]


def _milestone_blocks() -> tuple[int, ...]:
    """ex-03-milestones: the ten attribute blocks of a 5,000-image class at r = 0.8, the differences of the rounded
    cumulative sums of 5000 · R (R = r for the class's own attribute, (1 − r)/9 for each other), in exact
    fractions."""
    shares = [Fraction(4, 5)] + [Fraction(1, 5) / 9] * 9
    cumulative, milestones = Fraction(0), []
    for share in shares:
        cumulative += 5000 * share
        milestones.append(round(cumulative))  # Fraction rounds half to even, like the code's rule
    return tuple(b - a for a, b in zip([0] + milestones[:-1], milestones))


def _shortcut_accuracies() -> tuple[float, float]:
    """ex-03-shortcut: a colour-only classifier at r = 0.95 on the training set (its aligned share) and on
    Biased-DD's all-conflicting test set."""
    return 0.95, 0.0


def _live_aligned_counts() -> tuple[int, ...]:
    """ex-03-rate: the aligned images of every class of the live coloured digits at r = 0.95, by LfF's rule: the
    milestones ``round(n_c · cumsum(R[c]))`` in float64, rounded half to even, R[c, c] = r and (1 − r)/(C − 1)
    elsewhere; the aligned block of class c is M[c, c] − M[c, c − 1]."""
    import numpy as np

    from ..data import load_dataset

    counts = load_dataset("digits").train.class_counts(10)
    ratios = np.full((10, 10), (1 - 0.95) / 9)
    np.fill_diagonal(ratios, 0.95)
    milestones = np.rint(np.asarray(counts, dtype=np.float64)[:, None] * np.cumsum(ratios, axis=1))
    return tuple(int(milestones[c, c] - (milestones[c, c - 1] if c else 0)) for c in range(10))


def _unbiased_ratio() -> tuple[float, float]:
    """ex-03-unbiased: the bias ratio 1/C that makes the attribute independent of the label, and the best
    attribute-only accuracy 1/(C−1) at r = 0, for C = 10."""
    return 1 / 10, 1 / 9


def _decay_factor() -> tuple[float]:
    """ex-04-decay: the factor (1 − ηλ)^steps by which weight decay 5e-3 alone shrinks a weight over the `cpu`
    profile's long-tailed run (η = 0.01, (epochs + 1) · ⌈images / 256⌉ steps)."""
    from ..config import get_profile
    from ..data.longtail import counts_only

    steps = (get_profile("cpu").full_epochs + 1) * math.ceil(sum(counts_only("digits-lt", 10)) / 256)
    return ((1 - 0.01 * 5e-3) ** steps,)


def _momentum_drift(momentum: float = 0.5, classes: int = 10) -> tuple[float, float]:
    """ex-05-steps, ex-06-step-per-class: learning rates class 0 and class C−1 move along their own gradient
    within one iteration, 1 + µ + … + µ^(C−1−c)."""
    return tuple(sum(momentum ** k for k in range(classes - c)) for c in (0, classes - 1))


def _meter_weights() -> tuple[float, float]:
    """ex-06-meter: the cross-entropy weight λ · Acc_φ of a never-trained network at chapter 06's ablation IPC
    (1 on the digits, else the profile's), with a meter that reports 100 % for an empty count and with the honest
    one (0 %); λ is command.txt's CIFAR-10 value at that IPC, as the chapter's ``idm_settings`` takes it."""
    from ..config import get_profile
    from ..distill.idm import IDMConfig, command_settings

    profile = get_profile()
    ipc = 1 if profile.dataset == "digits" else profile.ipc
    weight = command_settings("cifar10", ipc)["ce_weight"] if ipc in (1, 10, 50) else IDMConfig.ce_weight
    return weight * 100.0, 0.0


def _ema_windows() -> tuple[float, float]:
    """ex-07-ema: the number of iterations an EMA with factor α averages over, 1/(1 − α), for 0.9 and 0.99."""
    return 1 / (1 - 0.9), 1 / (1 - 0.99)


def _paper_form_differences() -> tuple[float, float, float]:
    """ex-07-paper-form: how many times the paper's history weight λ_h is the code's λ_h / d for chapter 07's
    network under the active profile (``d``, the length of one feature vector, measured on a network built as
    the chapter builds its pre-trained ones), and the image learning rate at the chapter's ablation IPC (1)
    of the code (``lr_img · IPC/10``) and of the paper (``lr_img`` at every IPC), from
    :class:`~ltdd.distill.dsdm.DSDMConfig`'s default ``lr_img``."""
    from ..config import get_profile
    from ..data import load_dataset
    from ..distill.dsdm import DSDMConfig
    from ..models import get_model

    profile = get_profile()
    dataset = load_dataset(profile.dataset, device="cpu")
    network = get_model(profile.model, dataset.channels, dataset.num_classes, dataset.image_size,
                        **profile.model_options())
    ablation_ipc, lr_img = 1, DSDMConfig.lr_img
    return float(network.feature_dim), lr_img * ablation_ipc / 10, lr_img


def _excess_push() -> tuple[float, float, float, float]:
    """ex-08-lambda: λ_c = λ · (n_a/n − ρ)/(1 − ρ) at an aligned share 0.95 with ρ = 0.1, for λ = 0.5 and 0.9,
    and how far beyond the unbiased target the minimum lies, λ_c/(1 − λ_c) times μ_g − μ_a."""
    pushes = [lam * (0.95 - 0.1) / (1 - 0.1) for lam in (0.5, 0.9)]
    return pushes[0], pushes[1], pushes[0] / (1 - pushes[0]), pushes[1] / (1 - pushes[1])


def _real_image_alignment() -> tuple[float, float, float, float]:
    """ex-08-sanity: :func:`~ltdd.studies.biased.colour_alignment` of the real aligned and the real conflicting
    training images of chapter 08's coloured digits (``cdigits`` under a digits profile, else ``cmnist-dd``)
    at bias ratio 0.95, at severity 4 and at severity 1, the datasets loaded afresh here."""
    from ..studies.biased import colour_alignment
    from ..config import get_profile
    from ..data import load_dataset

    biased = "cdigits" if get_profile().dataset == "digits" else "cmnist-dd"
    shares = []
    for severity in (4, 1):
        data = load_dataset(biased, bias_ratio=0.95, severity=severity, device="cpu")
        aligned = data.train.attributes == data.train.labels
        shares += [colour_alignment(data.train.images[rows], data.train.labels[rows], data)
                   for rows in (aligned, ~aligned)]
    return tuple(shares)


def _one_dimensional_tensors() -> tuple[int, int]:
    """ex-08-match1d: 1-D parameter tensors and all parameter tensors of the default-depth ConvNet: per block a
    kernel, a bias and the norm's two affine vectors; then the classifier's weight and bias."""
    import inspect

    from ..models import ConvNet

    depth = inspect.signature(ConvNet).parameters["depth"].default
    return 3 * depth + 1, 4 * depth + 2


def _cifar100_budgets() -> tuple[float, ...]:
    """ex-09-budgets: CIFAR-100-LT at β = 50: n_min, n_med, distill all, distill all + aug (⌊n_med/n_min⌋ copies),
    distill head (the head condensed to n_med, the tail kept) and the imbalance distill head leaves."""
    counts = _lt_counts(500, 100, 50)
    n_min, n_med = counts[-1], _median_head(counts)
    head = 50 * n_med + sum(counts[50:])
    return n_min, n_med, 100 * n_min, 100 * n_min * (n_med // n_min), head, n_med / n_min


def _cifar100_beta100() -> tuple[int, int]:
    """ex-09-cifar100: n_min of CIFAR-100-LT at β = 100 and the images distill head keeps."""
    counts = _lt_counts(500, 100, 100)
    return counts[-1], 50 * _median_head(counts) + sum(counts[50:])


def _table_iv_row() -> tuple[int, int]:
    """ex-09-table-iv: the classes of the dataset and the head IPC whose sizes give both printed percentages of
    Table IV's first row (:data:`ltdd.reference.CRLT_DD_TABLE_IV_PRINTED`), searched over the combinations the
    exercise lists; sizes from the formula (head at ``ipc``, tail kept; distill all C · n_min)."""
    from ..reference import CRLT_DD_TABLE_IV_PRINTED

    _, _, _, head_printed, all_printed = CRLT_DD_TABLE_IV_PRINTED[0]
    matches = []
    for classes, n_max in ((10, 5000), (100, 500)):
        counts = _lt_counts(n_max, classes, 10)
        total = sum(counts)
        for ipc in (_median_head(counts), 500, 50):
            head = (classes // 2) * ipc + sum(counts[classes // 2:])
            if (round(100 * head / total, 2) == head_printed
                    and round(100 * classes * counts[-1] / total, 2) == all_printed):
                matches.append((classes, ipc))
    if len(matches) != 1:
        raise RuntimeError(f"ex-09-table-iv: expected one matching combination, found {len(matches)}")
    return matches[0]


def _bptt_slope() -> tuple[float]:
    """ex-10-memory: MB per unrolled step of the recorded bptt peaks (least-squares line)."""
    from ..reference import tm_memory_table

    points = sorted(tm_memory_table()["bptt"].items())
    xs, ys = [s for s, _ in points], [row["peak_mb"] for _, row in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return (sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs),)


def _dam_cifar() -> tuple[float, float, float, float]:
    """ex-11-dam-cifar: raw DAM weight of the head and the tail of CIFAR-10-LT β = 100, the factor by which the
    code's loss is smaller than cross-entropy on a balanced batch, and the head/tail weight ratio. Computed from
    the counts n_c = ⌊5000 · β^(−c/9)⌋ and g(s_c) = s_c / Σ_k s_k (λ_g = 0) as the exercise states them, not
    with :func:`~ltdd.distill.tm.dam_weights`, whose answer the exercise checks."""
    counts = _lt_counts(5000, 10, 100)
    total = sum(counts)
    head, tail = counts[0] / total, counts[-1] / total
    # a balanced batch, equal cross-entropy ℓ per class: (1/C) Σ_c g(s_c) ℓ = ℓ / C, since Σ_c g(s_c) = 1
    return head, tail, float(len(counts)), head / tail


def _crlt_budgets() -> tuple[float, float, float, float]:
    """ex-12-budgets: images stored by CRLT-DD's distill all and distill head on digits-LT β = 10, and each as a
    percentage of the long-tailed set, from the class counts and the plans' rules (chapter 09)."""
    from ..data.longtail import counts_only

    counts = sorted(counts_only("digits-lt", 10), reverse=True)
    total, half = sum(counts), len(counts) // 2
    images_all = len(counts) * counts[-1]
    images_head = half * _median_head(counts) + sum(counts[half:])
    return float(images_all), float(images_head), 100 * images_all / total, 100 * images_head / total


def _few_shot_gain() -> tuple[float]:
    """ex-12-few-gain: the recorded comparison's mean few-shot gain (percentage points) of CRLT-DD distill head over
    the whole long-tailed set, paired by seed."""
    from ..reference import REFERENCE_DIR
    from ..studies import Study

    study = Study.load(REFERENCE_DIR / "comparison_digits_lt_cpu.json")
    return (100 * study.compare("CRLT-DD distill head", "whole long-tailed set", "groups.shots.few").mean_difference,)


def _at(*precisions: Precision | int) -> tuple[Precision, ...]:
    """Precisions from numbers of decimals (an int) or :class:`Precision` objects."""
    return tuple(p if isinstance(p, Precision) else Precision(decimals=p) for p in precisions)


CHECKERS: dict[str, Checker] = {
    "ex-01-budget": Checker("answer = (% of CIFAR-10 at IPC 1, at IPC 10, at IPC 50, % of the full-data accuracy "
                            "random keeps at IPC 10); 2, 2, 2 and 1 decimals", _at(2, 2, 2, 1),
                            _budget_percentages),
    "ex-02-count": Checker("answer = (class 3 by the code's rule, by the printed rule), whole numbers", _at(0),
                           _class3_counts),
    "ex-02-ipc": Checker("answer = the largest β, to 1 decimal", _at(1), _largest_beta),
    "ex-02-groups": Checker("answer = (the class that changes at β = 10, the class that changes at β = 50)", _at(0),
                            _boundary_classes),
    "ex-02-plans": Checker("answer = (images of distill all on CIFAR-10-LT at β = 200, on CIFAR-100-LT at β = 200)",
                           _at(0), _distill_all_200),
    "ex-03-milestones": Checker("answer = the ten block sizes of attributes 0 to 9, whole numbers", _at(0),
                                _milestone_blocks),
    "ex-03-shortcut": Checker("answer = (accuracy on the training set at r = 0.95, on Biased-DD's test set), "
                              "as fractions to 2 decimals", _at(2), _shortcut_accuracies),
    "ex-03-rate": Checker("answer = the aligned images of classes 0 to 9 of the live training set at r = 0.95, whole "
                          "numbers", _at(0), _live_aligned_counts),
    "ex-03-unbiased": Checker("answer = (the unbiased bias ratio, the best attribute-only accuracy at r = 0), "
                              "as fractions to 3 decimals, for ten classes", _at(3), _unbiased_ratio),
    "ex-04-decay": Checker("answer = the factor weight decay 5e-3 alone applies over the `cpu` run, to 4 decimals",
                           _at(4), _decay_factor),
    "ex-05-steps": Checker("answer = (learning rates class 0 moves, learning rates class 9 moves), mu = 0.5, C = 10, "
                           "to 3 decimals", _at(3), _momentum_drift),
    "ex-06-step-per-class": Checker("answer = (class 0's move, class 9's move) within the iteration, in units of "
                                    "the learning rate, to 3 decimals", _at(3), _momentum_drift),
    "ex-06-meter": Checker("answer = (cross-entropy weight of a never-trained network with the faulty meter, "
                           "with the honest one), to 1 decimal", _at(1), _meter_weights),
    "ex-07-ema": Checker("answer = (iterations averaged by 0.9, by 0.99), whole numbers", _at(0), _ema_windows),
    "ex-07-paper-form": Checker("answer = (how many times the paper's history weight is the code's for the "
                                "chapter's network under the active profile, the code's image learning rate at "
                                "ABLATION_IPC, the paper's); the factor a whole number, the rates to 2 decimals",
                                _at(0, 2, 2), _paper_form_differences),
    "ex-08-lambda": Checker("answer = (lambda_c for lambda = 0.5, for 0.9, the minimum's distance in units of "
                            "mu_g - mu_a for each), to 2 decimals", _at(2), _excess_push),
    "ex-08-match1d": Checker("answer = (1-D parameter tensors, all parameter tensors)", _at(0),
                             _one_dimensional_tensors),
    "ex-08-sanity": Checker("answer = (aligned, conflicting at severity 4, aligned, conflicting at severity 1), "
                            "fractions to 2 decimals", _at(2), _real_image_alignment),
    "ex-09-budgets": Checker("answer = (n_min, n_med, distill all, distill all + aug, distill head, imbalance left "
                             "by distill head); whole numbers, the imbalance to 1 decimal", _at(0, 0, 0, 0, 0, 1),
                             _cifar100_budgets),
    "ex-09-cifar100": Checker("answer = (n_min at beta = 100, images of distill head), whole numbers", _at(0),
                              _cifar100_beta100),
    "ex-09-table-iv": Checker("answer = (classes of the dataset, head IPC) of the combination that gives both "
                              "printed numbers", _at(0), _table_iv_row),
    "ex-10-memory": Checker("answer = MB per unrolled step of bptt, from a straight-line fit, a whole number", _at(0),
                            _bptt_slope),
    "ex-11-dam-cifar": Checker("answer = (raw head weight, raw tail weight, CE / code's DAM loss on a balanced "
                               "batch, head weight / tail weight), to 3 significant figures",
                               (Precision(figures=3),), _dam_cifar),
    "ex-12-budgets": Checker("answer = (images of distill all, images of distill head, % of the long-tailed set "
                             "for each); whole numbers, the percentages to 1 decimal", _at(0, 0, 1, 1),
                             _crlt_budgets),
    "ex-12-few-gain": Checker("answer = mean paired few-shot gain in percentage points, to 1 decimal", _at(1),
                              _few_shot_gain),
}
"""The exercises that have a checker (the label in the chapter → what :func:`check` expects and to which
precision)."""


def check(label: str, answer, verbose: bool = True) -> bool:
    """Whether ``answer`` (a number or a sequence of numbers, as :data:`CHECKERS` says) is right for exercise
    ``label`` to the precision the question asks for; prints which parts are off (never the right values) when
    ``verbose``.

    Introduced in chapter 00."""
    if label not in CHECKERS:
        raise ValueError(f"exercise {label!r} has no checker; these do: {sorted(CHECKERS)}")
    checker = CHECKERS[label]
    given = list(answer) if isinstance(answer, (list, tuple)) else [answer]
    try:
        given = [float(value) for value in given]
    except (TypeError, ValueError) as error:
        raise ValueError(f"{label}: the answer must be numbers ({checker.expects}), got {answer!r}") from error
    try:
        wrong = checker.off_parts(given)
    except ValueError as error:
        raise ValueError(f"{label}: {error}") from None
    if verbose:
        precisions = sorted({str(p) for p in checker.parts(len(given))})
        print(f"{label}: right." if not wrong else
              f"{label}: not yet; part(s) {', '.join(str(i + 1) for i in wrong)} of {len(given)} are off "
              f"(each part to the precision the question asks for: {', '.join(precisions)}).")
    return not wrong


__all__ = ["CHECKERS", "Checker", "Precision", "check"]
