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
}

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "data" / "reference"


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
