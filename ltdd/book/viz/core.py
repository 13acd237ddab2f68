"""What every figure of the package shares: closing a figure in pyplot, the line colours, the colours of shot
groups and of bias-aligned and bias-conflicting images. Machinery behind every figure of the book.
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor


def finish_figure(fig: Figure) -> Figure:
    """Detach ``fig`` from pyplot (no second automatic display, no leak) and return it: the last line of every
    ``plot_*`` function of the package. Machinery behind chapter 01 and every later figure."""
    plt.close(fig)
    return fig


def ipc_axes(ax, ipcs: list[int], log: bool = True, legend_size: int = 8, legend_columns: int = 1) -> None:
    """Label ``ax`` as accuracy (%) against images per class: ticks at ``ipcs`` (on a log axis with ``log``), grid,
    legend. Machinery behind chapter 01 and chapter 05's recorded figure."""
    if log:
        ax.set_xscale("log")
    ax.set_xticks(ipcs, [str(i) for i in ipcs])
    ax.minorticks_off()
    ax.set_xlabel("images per class (IPC)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size, ncols=legend_columns)


def palette(n: int) -> list:
    """``n`` colours of matplotlib's ``tab10`` cycle (repeating after ten): the line colours of the package's
    figures. Machinery behind chapter 01."""
    cmap = matplotlib.colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


SHOT_GROUP_COLORS = {"many": "#1f77b4", "medium": "#ff7f0e", "few": "#d62728"}
"""Bar colours of the shot groups (tab10 blue, orange, red); other group names get grey."""


OTHER_GROUP_COLOR = "#7f7f7f"
"""Bar colour of a group that is not a shot group (tab10 grey)."""


BIAS_GROUP_COLORS = {"aligned": "#1f77b4", "conflicting": "#d62728"}
"""Bar colours of bias-aligned (tab10 blue) and bias-conflicting (tab10 red) images."""


def as_long_cpu(values, name: str) -> Tensor:
    """``values`` (labels, attributes) as a 1-D ``int64`` CPU tensor; anything else is a ``ValueError`` naming
    ``name``. Machinery behind the biased-data figures of chapter 03."""
    values = torch.as_tensor(values).detach()
    if values.ndim != 1 or values.is_floating_point() or values.dtype == torch.bool:
        raise ValueError(f"{name} must be a 1-D integer tensor, got {values.dtype} of shape {tuple(values.shape)}")
    return values.to("cpu", torch.long)


__all__ = ["BIAS_GROUP_COLORS", "OTHER_GROUP_COLOR", "SHOT_GROUP_COLORS", "as_long_cpu", "finish_figure", "palette"]
