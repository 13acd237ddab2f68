"""The student edition of the book: every chapter notebook with its solutions removed and a stub cell after each
exercise.

Exercises are MyST ``{exercise}`` blocks with a ``:label:``; solutions are ``{solution}`` blocks (collapsed in the
book); text marked book-only (:data:`BOOK_ONLY`) is left out too. :func:`student_notebook` removes every solution block from the markdown cells, splits a cell after each
exercise, and puts a code cell there that raises ``NotImplementedError``. The stub is tagged
``raises-exception``, so nbmake and the book build run the notebook to the end (the error is shown, not fatal).
Where :mod:`ltdd.book.exercises` can check an answer, the stub says how. From the command line::

    python -m ltdd student-edition OUT     # OUT/chapters/*.ipynb, OUT/README.md
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

SOLUTION_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{solution\}")
EXERCISE_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{exercise\}")
LABEL = re.compile(r"^:label:\s*(?P<label>\S+)")
STUB_TAG = "raises-exception"
BOOK_ONLY = re.compile(r"^<!-- book-only\b.*?-->\n.*?^<!-- /book-only -->\n?", re.M | re.S)
"""Text between ``<!-- book-only ... -->`` and ``<!-- /book-only -->`` lines (HTML comments, invisible in the book
and in Jupyter): true of the book, not of the student edition (e.g. "Solutions are folded")."""


def _blocks(lines: list[str], opener: re.Pattern) -> list[tuple[int, int, str]]:
    """``(first, last, fence)`` line ranges of the blocks ``opener`` starts (closed by the same fence alone)."""
    blocks, i = [], 0
    while i < len(lines):
        match = opener.match(lines[i])
        if match:
            fence = match.group("fence")
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == fence), None)
            if end is None:
                raise ValueError(f"a {opener.pattern!r} block opened at line {i + 1} is never closed by {fence}")
            blocks.append((i, end, fence))
            i = end + 1
        else:
            i += 1
    return blocks


def remove_solutions(text: str) -> str:
    """Markdown without its ``{solution}`` blocks (and the blank line after each). Machinery behind chapter 00."""
    lines = text.split("\n")
    for first, last, _ in reversed(_blocks(lines, SOLUTION_OPEN)):
        if last + 1 < len(lines) and not lines[last + 1].strip():
            last += 1
        del lines[first:last + 1]
    return "\n".join(lines).rstrip("\n")


def stub_source(label: str, number: str | None = None) -> str:
    """The code cell placed after exercise ``label`` (the book's ``number`` for it, e.g. "12.1", if known): a
    comment, how to check an answer when the exercise has a checker (:func:`~ltdd.book.exercises.check`), and a
    ``NotImplementedError``.

    Machinery behind chapter 00."""
    from .exercises import CHECKERS

    name = f"{number} ({label})" if number else label
    lines = [f"# Exercise {name}: your answer here (replace this cell)."]
    if label in CHECKERS:
        lines.append(f"# Check a result with: from ltdd.book.exercises import check; check({label!r}, answer)")
        lines.append(f"#   ({CHECKERS[label].expects})")
    lines.append(f'raise NotImplementedError("exercise {label}: not answered yet")')
    return "\n".join(lines)


def _split_after_exercises(text: str) -> list[tuple[str, str | None]]:
    """``(markdown, label)`` pieces: each piece ends with one exercise (``label``) or is the rest (``None``)."""
    lines = text.split("\n")
    pieces, start = [], 0
    for first, last, _ in _blocks(lines, EXERCISE_OPEN):
        label = next((m.group("label") for m in map(LABEL.match, lines[first + 1:last]) if m), None)
        if label is None:
            raise ValueError(f"an exercise at line {first + 1} has no :label:")
        pieces.append(("\n".join(lines[start:last + 1]), label))
        start = last + 1
    rest = "\n".join(lines[start:]).strip("\n")
    if rest:
        pieces.append((rest, None))
    return pieces


def student_notebook(notebook: nbformat.NotebookNode, chapter: int | None = None
                     ) -> tuple[nbformat.NotebookNode, list[str]]:
    """A copy of ``notebook`` without solutions, with a stub cell after every exercise; and the exercise labels.
    With the ``chapter``'s number, the stubs name each exercise by the book's number too (chapter 12's second
    exercise is 12.2, as the book numbers it)."""
    student = nbformat.v4.new_notebook(metadata=notebook.metadata)
    labels: list[str] = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown" and BOOK_ONLY.search(cell.source):
            cell = nbformat.from_dict({**cell, "source": BOOK_ONLY.sub("", cell.source).rstrip("\n")})
        if cell.cell_type != "markdown" or ("{exercise}" not in cell.source and "{solution}" not in cell.source):
            student.cells.append(cell)
            continue
        for part, (text, label) in enumerate(_split_after_exercises(remove_solutions(cell.source))):
            if text.strip():  # ids derived from the source cell: the edition is the same every time it is made
                student.cells.append(nbformat.v4.new_markdown_cell(text.strip("\n"), id=f"{cell.get('id', index)}-{part}"))
            if label is not None:
                labels.append(label)
                number = f"{chapter}.{len(labels)}" if chapter is not None else None
                student.cells.append(nbformat.v4.new_code_cell(stub_source(label, number), id=f"stub-{label}",
                                                               metadata={"tags": [STUB_TAG]}))
    return student, labels


def student_edition(out: str | Path, chapters: str | Path | None = None) -> dict[str, list[str]]:
    """Write the student edition of every chapter notebook in ``chapters`` (default: the book's) to
    ``out/chapters``; returns chapter → exercise labels.

    Machinery behind chapter 00."""
    from ..config import repository_root

    source = Path(chapters) if chapters is not None else (repository_root() or Path.cwd()) / "chapters"
    notebooks = sorted(source.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no chapter notebooks (*.ipynb) in {source}")
    target = Path(out) / "chapters"
    target.mkdir(parents=True, exist_ok=True)
    written = {}
    for path in notebooks:
        chapter = int(path.name[:2]) if path.name[:2].isdigit() else None
        student, labels = student_notebook(nbformat.read(path, as_version=4), chapter)
        nbformat.write(student, target / path.name)
        written[path.stem] = labels
    (Path(out) / "README.md").write_text(
        "# ltdd, student edition\n\nThe book's chapters without the solutions. After every exercise a cell "
        "raises `NotImplementedError`: replace it with your answer. `ltdd.book.exercises.check(label, answer)` "
        "checks the answers of the exercises that have one number (or a few) as their result.\n")
    return written


__all__ = ["remove_solutions", "student_edition", "student_notebook", "stub_source"]
