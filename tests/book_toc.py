"""The entries of the book's table of contents, for the structure tests (``test_book.py``) and the browser check
(``browser/test_rendered_book.py``). Importable as ``book_toc``: pytest puts ``tests/`` on ``sys.path`` when it
loads ``tests/conftest.py``."""

from __future__ import annotations


def toc_files(node) -> list[str]:
    """Every ``root``/``file`` entry of a jb-book table of contents (``_toc.yml`` as loaded), depth first."""
    found = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                found.append(node[key])
        for key in ("chapters", "sections", "parts"):
            for child in node.get(key) or []:
                found.extend(toc_files(child))
    elif isinstance(node, list):
        for child in node:
            found.extend(toc_files(child))
    return found
