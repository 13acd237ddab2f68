"""Light checkers for the book's exercises whose result is a number or a few: ``check(label, answer)`` says
whether an answer is right, without printing the solution.

    >>> from ltdd.exercises import check
    >>> check("ex-05-steps", (1.0, 1.0))
    ex-05-steps: not yet; part(s) 1 of 2 are off (tolerance 1e-04 relative).
    False

The expected values are computed, not typed in: from the formula the exercise asks about, or from the recorded
file it reads. :data:`CHECKERS` lists the exercises that have a checker and what answer each expects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence


@dataclass(frozen=True)
class Checker:
    """How to check one exercise: what the answer looks like, how to compute the right one, how close is right."""

    expects: str
    expected: Callable[[], Sequence[float]]
    rel_tol: float = 1e-3


def _momentum_drift(momentum: float = 0.5, classes: int = 10) -> tuple[float, float]:
    """ex-05-steps: learning rates class 0 and class C−1 move along their own gradient within one iteration."""
    return tuple(sum(momentum ** k for k in range(classes - c)) for c in (0, classes - 1))


def _dam_cifar() -> tuple[float, float, float, float]:
    """ex-11-dam-cifar: raw DAM weight of the head and the tail of CIFAR-10-LT β = 100, the factor by which the
    code's loss is smaller than cross-entropy on a balanced batch, and the head/tail weight ratio. Computed from
    the counts n_c = ⌊5000 · β^(−c/9)⌋ and g(s_c) = s_c / Σ_k s_k (λ_g = 0) as the exercise states them, not
    with :func:`~ltdd.distill.tm.dam_weights`, whose answer the exercise checks."""
    counts = [int(5000 * 100 ** (-c / 9)) for c in range(10)]
    total = sum(counts)
    head, tail = counts[0] / total, counts[-1] / total
    # a balanced batch, equal cross-entropy ℓ per class: (1/C) Σ_c g(s_c) ℓ = ℓ / C, since Σ_c g(s_c) = 1
    return head, tail, float(len(counts)), head / tail


def _bptt_slope() -> tuple[float]:
    """ex-10-memory: MB per unrolled step of the recorded bptt peaks (least-squares line)."""
    from .reference import tm_memory_table

    points = sorted(tm_memory_table()["bptt"].items())
    xs, ys = [s for s, _ in points], [row["peak_mb"] for _, row in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return (sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs),)


def _crlt_budgets() -> tuple[float, float, float, float]:
    """ex-12-budgets: images stored by CRLT-DD's distill all and distill head on digits-LT β = 10, and each as a
    percentage of the long-tailed set."""
    from .data.longtail import counts_only
    from .rebalance import plan_budget

    counts = counts_only("digits-lt", 10)
    budgets = [plan_budget(plan, counts) for plan in ("distill-all", "distill-head")]
    return float(budgets[0].total), float(budgets[1].total), budgets[0].percent, budgets[1].percent


def _class_3_counts() -> tuple[float, float]:
    """ex-02-count: class 3 of CIFAR-10-LT at β = 50 under the code's rule and under the printed β^(−c/C) form."""
    from .data.longtail import counts_only

    return float(counts_only("cifar10-lt", 50)[3]), float(counts_only("cifar10-lt", 50, rule="paper")[3])


def _largest_beta_for_ipc(ipc: int = 10) -> tuple[float]:
    """ex-02-ipc: the largest β at which digits-lt's smallest class, ⌊n_max/β⌋ images, still holds ``ipc``."""
    from .data.longtail import counts_only

    return (counts_only("digits-lt", 1)[0] / ipc,)


def _group_boundary_classes() -> tuple[float, float]:
    """ex-02-groups: the class of CIFAR-100-LT whose shot group differs between the strict and the inclusive
    thresholds, at β = 10 and at β = 50."""
    from .data.longtail import counts_only, shot_groups

    def changed(beta: int) -> float:
        counts = counts_only("cifar100-lt", beta)
        (index,) = [c for c, (a, b) in enumerate(zip(shot_groups(counts), shot_groups(counts, inclusive=True)))
                    if a != b]
        return float(index)

    return changed(10), changed(50)


def _milestone_blocks() -> tuple[float, float, float]:
    """ex-03-milestones: class 0 of CIFAR-10 (5,000 images) at r = 0.8: its aligned block, attribute 5's block and
    every other conflicting block (the block sizes are the differences of the rounded milestones)."""
    import numpy as np

    from .data.bias import attribute_milestones

    blocks = np.diff(attribute_milestones([5000] * 10, 0.8, 10)[0], prepend=0)
    others = {int(b) for k, b in enumerate(blocks) if k not in (0, 5)}
    if len(others) != 1:
        raise RuntimeError(f"the conflicting blocks other than attribute 5 differ: {sorted(others)}")
    return float(blocks[0]), float(blocks[5]), float(others.pop())


def _aligned_at_095() -> tuple[float, float]:
    """ex-03-rate: the bias-aligned images of the embedded digits' training set at r = 0.95, and the conflicting
    images of class 0 when it has 10 images."""
    from .data import load_dataset
    from .widgets import aligned_conflicting_counts

    counts = load_dataset("digits").train.class_counts(10)
    aligned, _ = aligned_conflicting_counts(counts, 0.95)
    _, conflicting = aligned_conflicting_counts([10] * 10, 0.95)
    return float(sum(aligned)), float(conflicting[0])


def _few_shot_gain() -> tuple[float]:
    """ex-12-few-gain: the recorded comparison's mean few-shot gain (percentage points) of CRLT-DD distill head over
    the whole long-tailed set, paired by seed."""
    from .rebalance import RebalanceStudy
    from .reference import REFERENCE_DIR

    study = RebalanceStudy.load(REFERENCE_DIR / "comparison_digits_lt_cpu.json")
    return (100 * study.compare("CRLT-DD distill head", "whole long-tailed set", "groups.shots.few").mean_difference,)


EXACT = 1e-9
"""The tolerance of the checkers whose answers are counts of images or class indices: exactly right or not."""

CHECKERS: dict[str, Checker] = {
    "ex-02-count": Checker("answer = (images of class 3 under the code's rule, under the printed formula)",
                           _class_3_counts, rel_tol=EXACT),
    "ex-02-ipc": Checker("answer = (the largest imbalance factor beta, a real number)", _largest_beta_for_ipc),
    "ex-02-groups": Checker("answer = (the class index that changes group at beta = 10, at beta = 50)",
                            _group_boundary_classes, rel_tol=EXACT),
    "ex-03-milestones": Checker("answer = (images of the aligned block, of attribute 5's block, of each other "
                                "conflicting block)", _milestone_blocks, rel_tol=EXACT),
    "ex-03-rate": Checker("answer = (bias-aligned images of the live training set in all, conflicting images of "
                          "class 0 when it has 10 images)", _aligned_at_095, rel_tol=EXACT),
    "ex-05-steps": Checker("answer = (learning rates class 0 moves, learning rates class 9 moves), mu=0.5, C=10",
                           _momentum_drift, rel_tol=1e-4),  # the infinite series' 2.0 is not the finite sum
    "ex-11-dam-cifar": Checker("answer = (raw head weight, raw tail weight, CE / code's DAM loss on a balanced "
                               "batch, head weight / tail weight)", _dam_cifar),
    "ex-12-budgets": Checker("answer = (images of distill all, images of distill head, % of the long-tailed set "
                             "for each)", _crlt_budgets),
    "ex-12-few-gain": Checker("answer = (mean paired few-shot gain in percentage points)", _few_shot_gain,
                              rel_tol=1e-2),
    "ex-10-memory": Checker("answer = (MB per unrolled step of bptt, from a straight-line fit)", _bptt_slope,
                            rel_tol=0.05),
}
"""The exercises that have a checker (the label in the chapter → what :func:`check` expects and how it checks)."""


def check(label: str, answer, verbose: bool = True) -> bool:
    """Whether ``answer`` (a number or a sequence of numbers, as :data:`CHECKERS` says) is right for exercise
    ``label``; prints which parts are off (without the right values) when ``verbose``."""
    if label not in CHECKERS:
        raise ValueError(f"exercise {label!r} has no checker; these do: {sorted(CHECKERS)}")
    checker = CHECKERS[label]
    expected = list(checker.expected())
    given = list(answer) if isinstance(answer, (list, tuple)) else [answer]
    if len(given) != len(expected):
        raise ValueError(f"{label}: expected {len(expected)} number(s) — {checker.expects} — got {len(given)}")
    try:
        wrong = [i for i, (g, e) in enumerate(zip(given, expected))
                 if not math.isclose(float(g), e, rel_tol=checker.rel_tol, abs_tol=1e-12)]
    except (TypeError, ValueError) as error:
        raise ValueError(f"{label}: the answer must be numbers ({checker.expects}), got {answer!r}") from error
    if verbose:
        print(f"{label}: right." if not wrong else
              f"{label}: not yet; part(s) {', '.join(str(i + 1) for i in wrong)} of {len(expected)} are off "
              f"(tolerance {checker.rel_tol:.0e} relative).")
    return not wrong


__all__ = ["CHECKERS", "Checker", "check"]
