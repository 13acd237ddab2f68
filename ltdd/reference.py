"""Published numbers, kept in one place so that every chapter quotes the same ones, with their source.

``PAPER_RESULTS[dataset][method][ipc]`` is a test accuracy in percent (ConvNet-3, the method's own protocol).
Where a number comes from another paper's table, ``SOURCES`` says so. Our own runs are not here: they are
measured, and recorded with their command under ``data/reference/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

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
        "distill all": {10: 73.15, 50: 68.36, 100: 58.46},
        "distill head": {10: 78.26, 50: 68.08, 100: 62.45},
        "distill all + SimCLR": {10: 73.6, 50: 68.74, 100: 59.32},
    },
    "cifar100-lt": {
        "vanilla": {10: 39.26, 50: 29.91, 100: 26.75},
        "distill all": {10: 38.89, 50: 34.16, 100: 19.77},
        "distill head": {10: 43.31, 50: 33.65, 100: 30.48},
        "distill all + SimCLR": {10: 39.98, 50: 35.12, 100: 18.2},
    },
}
"""CRLT-DD (Hu & Guo, 2023) Table III: test accuracy in % (ConvNet-3) by imbalance factor β. Only the rows
recorded in this book's reference notes are here; the paper's other rows (the sample baselines, + aug) are
not, and no number was filled in for them."""

CRLT_DD_TABLE_I = {"dd (performance matching)": 50.35, "dc": 47.66, "dm": 52.37}
"""CRLT-DD Table I: distill all on CIFAR-10-LT β = 100 (IPC 50) with three condensing methods, accuracy in %."""


def crlt_dd_table(dataset: str = "cifar10-lt", betas: Sequence[int] = (10, 50, 100),
                  ours: Mapping[str, Mapping[int, float]] | None = None, ours_label: str = "this book") -> str:
    """A markdown table of CRLT-DD's Table III for ``dataset`` (and, if given, ours as ``{row: {β: percent}}``,
    each labelled as measured by this book)."""
    results = CRLT_DD_TABLE_III[dataset]
    header = ["row", *[f"β = {b}" for b in betas], "source"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row, values in results.items():
        cells = [f"{values[b]:.2f}" if b in values else "–" for b in betas]
        lines.append(f"| {row} (paper) | " + " | ".join(cells) + " | CRLT-DD Table III |")
    for row, values in (ours or {}).items():
        cells = [f"{values[b]:.2f}" if b in values else "–" for b in betas]
        lines.append(f"| {row} ({ours_label}) | " + " | ".join(cells) + " | measured |")
    return "\n".join(lines)


def reference_dir() -> Path:
    """Where the recorded runs are: ``data/reference/`` of the book's checkout when ``ltdd`` runs from one, else
    ``ltdd/reference_data/`` inside the installed package (a wheel, or ``pip install git+...`` on Colab, carries a
    copy made by ``setup.py``). When neither holds files, the checkout's path (whose absence the readers report)."""
    package = Path(__file__).resolve().parent
    checkout, installed = package.parent / "data" / "reference", package / "reference_data"
    return next((folder for folder in (checkout, installed) if folder.is_dir() and any(folder.iterdir())), checkout)


REFERENCE_DIR = reference_dir()
"""The folder of the recorded runs (:func:`reference_dir`), read by the chapters and :mod:`ltdd.exercises`."""


def paper_table(methods: Sequence[str], dataset: str = "cifar10", ipcs: Sequence[int] = (1, 10, 50),
                ours: Mapping[str, Mapping[int, float]] | None = None, ours_label: str = "this book") -> str:
    """A markdown table of the papers' accuracies (and, if given, ours as ``{method: {ipc: percent}}``)."""
    results = PAPER_RESULTS[dataset]
    header = ["method", *[f"IPC {i}" for i in ipcs], "source"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in methods:
        cells = [f"{results[method][i]:.1f}" if i in results.get(method, {}) else "–" for i in ipcs]
        lines.append(f"| {method} (paper) | " + " | ".join(cells) + f" | {SOURCES.get(method, '')} |")
        if ours and method in ours:
            cells = [f"{ours[method][i]:.1f}" if i in ours[method] else "–" for i in ipcs]
            lines.append(f"| {method} ({ours_label}) | " + " | ".join(cells) + " | measured |")
    return "\n".join(lines)


def recorded_runs(pattern: str = "*.json") -> list[dict]:
    """Our recorded runs (each with its command, commit and device) from ``data/reference/``."""
    if not REFERENCE_DIR.is_dir():
        return []
    return [json.loads(path.read_text()) for path in sorted(REFERENCE_DIR.glob(pattern))]


LTDD_TABLE: dict[str, dict[int, float]] = {
    "random": {10: 34.4, 20: 41.4, 50: 52.6},
    "mtt": {10: 37.7, 20: 41.6, 50: 47.8},
    "datm": {10: 37.3, 20: 38.9, 50: 44.3},
    "ltdd": {10: 53.4, 20: 58.2, 50: 64.0},
}
"""LTDD paper: CIFAR-10-LT, β = 100, test accuracy (%) at IPC 10/20/50 (ConvNet-3); full long-tailed data 66.2."""

LTDD_FULL_DATA = 66.2
LTDD_ABLATION: dict[str, float] = {"base": 43.8, "+DAM": 58.1, "+DAM+ED": 62.6}
"""LTDD paper's ablation on CIFAR-10-LT, β = 200, IPC 50 (the full method is reported as 62.3 in its main table)."""


def ltdd_table() -> str:
    """The LTDD paper's CIFAR-10-LT β = 100 table and its β = 200 ablation, as markdown."""
    lines = ["| method | IPC 10 | IPC 20 | IPC 50 |", "|---|---|---|---|"]
    for method, row in LTDD_TABLE.items():
        lines.append(f"| {method.upper() if method != 'random' else 'Random'} | "
                     + " | ".join(f"{row[ipc]:.1f}" for ipc in (10, 20, 50)) + " |")
    lines.append(f"| full long-tailed set | {LTDD_FULL_DATA:.1f} | | |")
    lines += ["", "| ablation (β = 200, IPC 50) | accuracy |", "|---|---|"]
    lines += [f"| {row} | {value:.1f} |" for row, value in LTDD_ABLATION.items()]
    return "\n".join(lines)



def tm_memory_table(path: str | Path | None = None) -> dict[str, dict[int, dict[str, float]]]:
    """The recorded trajectory-matching memory benchmark (``data/reference/tm_memory_cpu.md``, written by
    ``benchmarks/tm_memory.py``) as ``{mode: {steps: {"peak_mb": ..., "seconds": ...}}}``; skipped cells are
    left out."""
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
