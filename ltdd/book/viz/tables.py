"""Markdown tables of the book's pages: the profiles' settings side by side, evaluation reports' accuracies.

Show one with ``IPython.display.Markdown(text)``; every table goes through :func:`ltdd.markdown.markdown_table`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ...config import PROFILES, Profile
from ...markdown import markdown_table
from ...train import EvaluationReport


PROFILE_FIELDS = ("dataset", "model", "net_width", "ipc", "eval_epochs", "eval_seeds", "full_epochs",
                  "iterations", "batch_real", "allow_download")
"""The :class:`~ltdd.config.Profile` fields shown by :func:`profile_table`, in order."""


def profile_table(profiles: Mapping[str, Profile] | None = None, fields: Sequence[str] = PROFILE_FIELDS,
                  highlight: str | None = None) -> str:
    """A Markdown table with one column per profile and one row per setting (``PROFILES`` by default).

    ``highlight`` names a profile whose column header is set in bold (e.g. the active one).

    Introduced in chapter 00.
    """
    profiles = PROFILES if profiles is None else profiles
    known = set(Profile.__dataclass_fields__)
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise ValueError(f"fields {unknown} are not Profile fields; choose from {sorted(known)}")
    header = ["setting"] + [f"**{n}** (active)" if n == highlight else n for n in profiles]
    rows = [[f"`{f}`"] + [getattr(p, f) for p in profiles.values()] for f in fields]
    rows.append(["where"] + [p.description for p in profiles.values()])
    return markdown_table(header, rows)


def accuracy_table(reports: Mapping[str, EvaluationReport]) -> str:
    """A Markdown table: one row per report with mean ± std (%), networks, epochs and training images (a
    report of one network shows its accuracy without a ±: one network has no spread).

    Introduced in chapter 01."""
    rows = [[label, f"{100 * r.mean:.1f} ± {100 * r.std:.1f}" if len(r.accuracies) > 1 else f"{100 * r.mean:.1f}",
             len(r.accuracies), r.epochs, r.train_size]
            for label, r in reports.items()]
    return markdown_table(["training set", "test accuracy (%)", "networks", "epochs", "training images"],
                           rows)


__all__ = ["PROFILE_FIELDS", "accuracy_table", "profile_table"]
