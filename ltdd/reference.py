"""Published numbers, kept in one place so that every chapter quotes the same ones, with their source.

``PAPER_RESULTS[dataset][method][ipc]`` is a test accuracy in percent (ConvNet-3, the method's own protocol).
Where a number comes from another paper's table, ``SOURCES`` says so. Our own runs are not here: they are
measured, and recorded with their command under ``data/reference/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

from .markdown import markdown_table

PAPER_RESULTS: dict[str, dict[str, dict[int, float]]] = {
    "cifar10": {
        "random": {1: 14.4, 10: 26.0, 50: 43.4},
        "herding": {1: 21.5, 10: 31.6, 50: 40.4},
        "kcenter": {1: 21.5, 10: 14.7, 50: 27.0},
        "dc": {1: 28.3, 10: 44.9, 50: 53.9},
        "dsa": {1: 28.8, 10: 52.1, 50: 60.6},
        "dm": {1: 26.0, 10: 48.9, 50: 63.0},
        "idm": {1: 45.6, 10: 58.6, 50: 67.5},
        "dsdm": {1: 45.0, 10: 66.5, 50: 75.8},
        "mtt": {1: 46.3, 10: 65.3, 50: 71.6},
        "datm": {1: 46.9, 10: 66.8, 50: 76.1},
    },
}
"""``PAPER_RESULTS[dataset][method][ipc]``: test accuracy (%) of the ConvNet-3 on balanced data, each method
with its own protocol, as printed in its paper (``SOURCES`` names the table where it is another paper's)."""

PAPER_STD: dict[str, dict[str, dict[int, float]]] = {
    "cifar10": {"random": {1: 2.0, 10: 1.2, 50: 1.0}},
}
"""The ± (std over runs, %) the papers print beside ``PAPER_RESULTS``, where this book quotes it."""

FULL_DATA: dict[str, float] = {"cifar10": 84.8}
"""Test accuracy (%) of the ConvNet-3 trained on the whole training set, as the DC/DM papers report it."""

SOURCES = {
    "random": "DC/DM papers' baseline tables",
    "herding": "DC/DM papers' baseline tables",
    "kcenter": "DC/DM papers' baseline tables",
    "dc": "DC paper (Zhao et al., ICLR 2021)",
    "dsa": "DSA paper (Zhao & Bilen, ICML 2021)",
    "dm": "DM paper (Zhao & Bilen, WACV 2023), final accuracy, 1000-epoch DSA evaluation",
    "idm": "IDM paper (Zhao et al., CVPR 2023), final accuracy, evaluated on the ×4 expanded set",
    "dsdm": "DSDM paper (Li et al., ACM MM 2024): best test accuracy over checkpoints (IDC protocol)",
    "mtt": "MTT paper (Cazenavette et al., CVPR 2022), Table 1; best test accuracy over evaluation points (MTT #23)",
    "datm": "DATM paper (Guo et al., ICLR 2024), Table 1 (ZCA, GSAM experts, soft labels)",
}

CRLT_DD_TABLE_III: dict[str, dict[str, dict[int, float]]] = {
    "cifar10-lt": {
        "vanilla": {10: 71.63, 50: 57.29, 100: 51.20},
        "sample all": {10: 72.45, 50: 66.25, 100: 49.94},
        "distill all": {10: 73.15, 50: 68.36, 100: 58.46},
        "distill all + aug": {10: 74.87, 50: 63.10, 100: 59.54},
        "sample head": {10: 77.89, 50: 67.50, 100: 62.03},
        "distill head": {10: 78.26, 50: 68.08, 100: 62.45},
        "sample all + SimCLR": {10: 72.78, 50: 67.31, 100: 52.01},
        "distill all + SimCLR": {10: 73.6, 50: 68.74, 100: 59.32},
    },
    "cifar100-lt": {
        "vanilla": {10: 39.26, 50: 29.91, 100: 26.75},
        "sample all": {10: 33.40, 50: 26.07, 100: 12.10},
        "distill all": {10: 38.89, 50: 34.16, 100: 19.77},
        "distill all + aug": {10: 39.76, 50: 23.77, 100: 19.34},
        "sample head": {10: 41.58, 50: 30.29, 100: 28.32},
        "distill head": {10: 43.31, 50: 33.65, 100: 30.48},
        "sample all + SimCLR": {10: 35.35, 50: 28.82, 100: 14.33},
        "distill all + SimCLR": {10: 39.98, 50: 35.12, 100: 18.2},
    },
}
"""CRLT-DD (Hu & Guo, 2023) Table III "Results with different distilling strategies": test accuracy in %
(ConvNet-3) by imbalance factor β (the paper's "IF"), every row of the table, under the book's row labels."""

CRLT_DD_TABLE_IV_PRINTED: list[tuple[str, str, float, float, float]] = [
    ("CIFAR10-LT", "IF=10", 100.00, 36.52, 25.55),
    ("CIFAR10-LT", "50", 100.00, 33.65, 15.72),
    ("CIFAR10-LT", "100", 100.00, 31.77, 4.61),
    ("CIFAR100-LT", "10", 100.00, 34.00, 24.47),
    ("CIFAR100-LT", "50", 100.00, 30.59, 14.69),
    ("CIFAR100-LT", "100", 100.00, 27.33, 4.03),
]
"""CRLT-DD Table IV "The percentage of the distilled data size compared to the original data size", exactly as
printed: (dataset label, "Method" column, Baseline, Distill Head, Distill All), in % of the long-tailed set."""


def decode_crlt_dd_table_iv(dataset_label: str, method_label: str) -> tuple[str, int]:
    """The ``(dataset, β)`` a printed row of CRLT-DD's Table IV describes.

    Three readings make every printed size follow from the class counts (the book's chapter 9 checks them
    with :func:`ltdd.studies.rebalance.plan_budget`): the CIFAR-10-LT and CIFAR-100-LT rows are swapped; the column
    printed "50" is β = 20; distill head condenses the head to a fixed IPC (500 for CIFAR-10-LT, 50 for
    CIFAR-100-LT, ``ltdd.studies.rebalance.PAPER_HEAD_IPC``) at every β.

    Introduced in chapter 09.
    """
    swapped = {"CIFAR10-LT": "cifar100-lt", "CIFAR100-LT": "cifar10-lt"}
    if dataset_label not in swapped:
        raise ValueError(f"dataset_label must be one of {sorted(swapped)}, got {dataset_label!r}")
    printed = method_label.removeprefix("IF=")
    betas = {"10": 10, "50": 20, "100": 100}
    if printed not in betas:
        raise ValueError(f"method_label must be one of {sorted(betas)} (optionally 'IF='), got {method_label!r}")
    return swapped[dataset_label], betas[printed]


CRLT_DD_TABLE_I = {"dd (performance matching)": 50.35, "dc": 47.66, "dm": 52.37}
"""CRLT-DD Table I: distill all on CIFAR-10-LT β = 100 (IPC 50) with three condensing methods, accuracy in %."""


def crlt_dd_table(dataset: str = "cifar10-lt", betas: Sequence[int] = (10, 50, 100),
                  ours: Mapping[str, Mapping[int, float]] | None = None, ours_label: str = "this book") -> str:
    """A markdown table of CRLT-DD's Table III for ``dataset`` (and, if given, ours as ``{row: {β: percent}}``,
    each labelled as measured by this book).

    Introduced in chapter 09."""
    results = CRLT_DD_TABLE_III[dataset]
    header = ["row", *[f"β = {b}" for b in betas], "source"]
    def cells(values: Mapping[int, float]) -> list[str]:
        return [f"{values[b]:.2f}" if b in values else "–" for b in betas]

    rows = [[f"{row} (paper)", *cells(values), "CRLT-DD Table III"] for row, values in results.items()]
    rows += [[f"{row} ({ours_label})", *cells(values), "measured"] for row, values in (ours or {}).items()]
    return markdown_table(header, rows)


BIASED_DD_RATIOS_PRINTED = (0.0, 0.1, 0.5, 0.8, 0.95, 1.0)
"""The bias ratios (fractions of bias-aligned training images) of Biased-DD's Table 1, in its column order."""

BIASED_DD_TABLE_1: dict[str, dict[str, tuple[tuple[float, float], ...]]] = {
    "cmnist-dd": {
        "full set": ((99.49, 0.02), (99.49, 0.02), (99.29, 0.01), (98.50, 0.05), (95.22, 0.11), (8.89, 0.50)),
        "dc": ((97.33, 0.11), (97.72, 0.12), (93.77, 0.30), (86.87, 1.20), (65.10, 2.26), (0.23, 0.18)),
        "dsa": ((98.08, 0.10), (98.18, 0.06), (97.26, 0.04), (95.34, 0.10), (84.29, 0.90), (1.44, 0.14)),
        "dm": ((97.42, 0.02), (97.32, 0.04), (94.03, 0.32), (74.15, 0.09), (12.92, 0.53), (6.45, 0.91)),
    },
    "ccifar10-dd": {
        "full set": ((73.77, 0.35), (72.86, 0.12), (67.13, 0.36), (55.02, 0.18), (37.34, 0.36), (24.55, 0.72)),
        "dc": ((41.68, 0.17), (41.57, 0.47), (36.76, 0.43), (29.70, 0.11), (27.61, 0.36), (25.99, 0.48)),
        "dsa": ((49.52, 0.29), (48.72, 0.50), (42.86, 0.35), (37.45, 0.44), (34.24, 0.61), (33.31, 0.46)),
        "dm": ((52.29, 0.51), (52.54, 0.25), (47.47, 0.73), (42.13, 0.21), (38.23, 0.47), (36.68, 0.15)),
    },
}
"""Biased-DD (Lu et al., 2024) Table 1: accuracy (%, mean ± std over 3 runs) on the unbiased test set of sets
distilled at IPC 50 and severity 4, and of the full biased training set, at the ratios of
:data:`BIASED_DD_RATIOS_PRINTED`."""

BIASED_DD_TABLE_2: dict[tuple[str, float], tuple[tuple[float, float], ...]] = {
    ("cmnist-dd", 0.0): ((97.28, 0.09), (97.46, 0.07), (97.41, 0.01), (97.42, 0.02)),
    ("cmnist-dd", 1.0): ((8.65, 0.24), (7.78, 1.02), (6.60, 0.36), (6.45, 0.91)),
    ("ccifar10-dd", 0.0): ((57.40, 0.45), (55.75, 0.37), (56.04, 0.15), (52.29, 0.51)),
    ("ccifar10-dd", 1.0): ((49.92, 0.10), (50.06, 0.44), (45.10, 0.13), (36.68, 0.15)),
}
"""Biased-DD Table 2: DM at IPC 50, accuracy (%, mean ± std) by severity 1, 2, 3, 4, for bias ratio 0 and 1."""

_BIASED_DD_NAMES = {"cmnist-dd": "CMNIST-DD", "ccifar10-dd": "CCIFAR10-DD", "full set": "Full set", "dc": "DC",
                    "dsa": "DSA", "dm": "DM"}


def biased_dd_table_1() -> str:
    """Biased-DD's Table 1 as markdown, as the paper prints it. Introduced in chapter 08."""
    header = ["dataset", "method", *[f"{100 * r:g} %" for r in BIASED_DD_RATIOS_PRINTED]]
    return markdown_table(header, [[_BIASED_DD_NAMES[dataset], _BIASED_DD_NAMES[method],
                                    *(f"{m:.2f} ± {s:.2f}" for m, s in cells)]
                                   for dataset, rows in BIASED_DD_TABLE_1.items() for method, cells in rows.items()])


def biased_dd_table_2() -> str:
    """Biased-DD's Table 2 (DM, by severity) as markdown, as the paper prints it. Introduced in chapter 08."""
    return markdown_table(["dataset, bias ratio", "severity 1", "2", "3", "4"],
                          [[f"{_BIASED_DD_NAMES[dataset]}, BR = {100 * ratio:g} %",
                            *(f"{m:.2f} ± {s:.2f}" for m, s in cells)]
                           for (dataset, ratio), cells in BIASED_DD_TABLE_2.items()])


def reference_dir() -> Path:
    """Where the recorded runs are: ``data/reference/`` of the book's checkout when ``ltdd`` runs from one, else
    ``ltdd/reference_data/`` inside the installed package (a wheel, or ``pip install git+...`` on Colab, carries a
    copy made by ``setup.py``). When neither holds files, the checkout's path (whose absence the readers report).

    Machinery behind chapter 05."""
    package = Path(__file__).resolve().parent
    checkout, installed = package.parent / "data" / "reference", package / "reference_data"
    return next((folder for folder in (checkout, installed) if folder.is_dir() and any(folder.iterdir())), checkout)


REFERENCE_DIR = reference_dir()
"""The folder of the recorded runs (:func:`reference_dir`), read by the chapters and :mod:`ltdd.book.exercises`.

:meta hide-value:
"""


def paper_table(methods: Sequence[str], dataset: str = "cifar10", ipcs: Sequence[int] = (1, 10, 50),
                ours: Mapping[str, Mapping[int, float]] | None = None, ours_label: str = "this book") -> str:
    """A markdown table of the papers' accuracies (and, if given, ours as ``{method: {ipc: percent}}``).

    Introduced in chapter 05."""
    results = PAPER_RESULTS[dataset]
    header = ["method", *[f"IPC {i}" for i in ipcs], "source"]
    def cells(values: Mapping[int, float]) -> list[str]:
        return [f"{values[i]:.1f}" if i in values else "–" for i in ipcs]

    rows = []
    for method in methods:
        rows.append([f"{method} (paper)", *cells(results.get(method, {})), SOURCES.get(method, "")])
        if ours and method in ours:
            rows.append([f"{method} ({ours_label})", *cells(ours[method]), "measured"])
    return markdown_table(header, rows)


def recorded_runs(pattern: str = "*.json") -> list[dict]:
    """Our recorded runs (each with its command, commit and device) from ``data/reference/``.

    Machinery behind chapter 05."""
    if not REFERENCE_DIR.is_dir():
        return []
    return [json.loads(path.read_text()) for path in sorted(REFERENCE_DIR.glob(pattern))]


LTDD_TABLE: dict[str, dict[int, float]] = {
    "random": {10: 34.4, 20: 41.4, 50: 52.6},
    "kcenter": {10: 16.2, 20: 19.0, 50: 24.2},
    "graphcut": {10: 22.9, 20: 26.0, 50: 33.3},
    "dc": {10: 36.7, 20: 38.1, 50: 35.3},
    "mtt": {10: 37.7, 20: 41.6, 50: 47.8},
    "dream": {10: 30.8, 20: 34.9, 50: 42.2},
    "idm": {10: 49.8, 20: 50.9, 50: 53.1},
    "minimax": {10: 19.9, 20: 23.3, 50: 28.0},
    "datm": {10: 37.3, 20: 38.9, 50: 44.3},
    "ltdd": {10: 53.4, 20: 58.2, 50: 64.0},
}
"""LTDD paper, Table 1: CIFAR-10-LT, β = 100, test accuracy (%) at IPC 10/20/50 (ConvNet-3), every row in the
table's order ("Ours" is ``ltdd``); full long-tailed data 66.2."""

LTDD_TABLE_NAMES: dict[str, str] = {
    "random": "Random", "kcenter": "K-Center Greedy", "graphcut": "Graph-Cut", "dc": "DC", "mtt": "MTT",
    "dream": "DREAM", "idm": "IDM", "minimax": "Minimax", "datm": "DATM", "ltdd": "LTDD"}
"""How :data:`LTDD_TABLE`'s rows are printed."""

LTDD_FULL_DATA = 66.2
LTDD_ABLATION: dict[str, float] = {"base": 43.8, "+DAM": 58.1, "+DAM+ED": 62.6}
"""LTDD paper, Fig. 6a and its text: the ablation on CIFAR-10-LT, β = 200, IPC 50 (base 43.8, DAM adds 14.3
points, ED brings it to 62.6; the full method is reported as 62.3 in its Table 1)."""

LTDD_TABLE_5: dict[int, dict[tuple[float, float], float]] = {
    10: {(1.0, 0.2): 70.5, (1.0, 0.4): 68.9, (1.0, 0.6): 68.0},
    200: {(0.2, 1.0): 62.4, (0.4, 1.0): 61.7, (0.6, 1.0): 61.3},
}
"""LTDD paper, Table 5: test accuracy (%) on CIFAR-10-LT by imbalance factor β and (λ_rep, λ_cls) (the table does
not state the IPC; its β = 10 entry 70.5 is Table 1's IPC 50 result)."""


def ltdd_best_lambdas(beta: int) -> tuple[float, float]:
    """The (λ_rep, λ_cls) of LTDD's Table 5 with the best accuracy at imbalance factor ``beta`` (10 or 200).

    Introduced in chapter 11."""
    if beta not in LTDD_TABLE_5:
        raise ValueError(f"LTDD's Table 5 has beta in {sorted(LTDD_TABLE_5)}, got {beta!r}")
    row = LTDD_TABLE_5[beta]
    return max(row, key=row.get)


def ltdd_table() -> str:
    """The LTDD paper's CIFAR-10-LT β = 100 table and its β = 200 ablation, as markdown. Introduced in chapter 11."""
    rows = [[LTDD_TABLE_NAMES[method], *(f"{row[ipc]:.1f}" for ipc in (10, 20, 50))]
            for method, row in LTDD_TABLE.items()]
    rows.append(["full long-tailed set", f"{LTDD_FULL_DATA:.1f}", "", ""])
    ablation = [[row, f"{value:.1f}"] for row, value in LTDD_ABLATION.items()]
    return (markdown_table(["method", "IPC 10", "IPC 20", "IPC 50"], rows) + "\n\n"
            + markdown_table(["ablation (Fig. 6a: β = 200, IPC 50)", "accuracy"], ablation))



def tm_memory_table(path: str | Path | None = None) -> dict[str, dict[int, dict[str, float]]]:
    """The recorded trajectory-matching memory benchmark (``data/reference/tm_memory_cpu.md``, written by
    ``benchmarks/tm_memory.py``) as ``{mode: {steps: {"peak_mb": ..., "seconds": ...}}}``; skipped cells are
    left out.

    Introduced in chapter 10."""
    path = Path(path) if path is not None else REFERENCE_DIR / "tm_memory_cpu.md"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not there: run benchmarks/tm_memory.py and save its table")
    rows = [line.strip().strip("|").split("|") for line in path.read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| steps")]
    header = next(line for line in path.read_text().splitlines() if line.startswith("| steps"))
    columns = [cell.strip() for cell in header.strip().strip("|").split("|")]
    table: dict[str, dict[int, dict[str, float]]] = {}
    for cells in rows:
        cells = [cell.strip() for cell in cells]
        steps = int(cells[0])
        for column, cell in zip(columns[1:], cells[1:]):
            mode, _, kind = column.partition(" ")
            if cell == "skipped":
                continue
            key = "peak_mb" if kind.startswith("peak") else "seconds"
            table.setdefault(mode, {}).setdefault(steps, {})[key] = float(cell)
    return table
