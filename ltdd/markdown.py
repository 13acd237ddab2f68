"""Markdown tables: the one helper every table of the package and the book goes through (studies, published
numbers, presets, the book's pages).

This module imports nothing, so any layer can use it.
"""

from __future__ import annotations

from collections.abc import Sequence


ALIGNMENTS = {"l": "---", "r": "---:", "c": ":---:"}
"""``align`` letters of :func:`markdown_table`: the renderer's default (left), right, centred."""


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A Markdown table from a header and rows (numbers and strings as given; ``|`` in a cell is escaped, a line
    break becomes a space). ``align`` gives one letter per column: ``l`` (the default), ``r`` (numbers right) or
    ``c`` (centred). Introduced in chapter 01; every table of the package and the book goes through it."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    align = "l" * len(header) if align is None else align
    if not isinstance(align, str) or len(align) != len(header) or set(align) - set(ALIGNMENTS):
        raise ValueError(f"align must give one of 'l', 'r', 'c' for each of the {len(header)} columns, "
                         f"got {align!r}")
    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join(ALIGNMENTS[a] for a in align) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


__all__ = ["ALIGNMENTS", "markdown_table"]
