"""Old import paths of names and modules that moved or were renamed: they keep working for one release and say
where the name lives now.

A module lists its old names in a ``__getattr__`` made by :func:`forward`; Python calls it only for names the
module does not define, so the module's own code never meets the warning. A module that moved as a whole leaves
a three-line file at its old path that calls :func:`moved_module` (the old paths are :data:`MOVED_MODULES`).
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
import warnings
from typing import Any, Callable


MOVED_MODULES: dict[str, str] = {
    "ltdd.experts": "ltdd.distill.experts",
    "ltdd.debias": "ltdd.distill.debias",
    "ltdd.biased": "ltdd.studies.biased",
    "ltdd.rebalance": "ltdd.studies.rebalance",
    "ltdd.comparison": "ltdd.studies.comparison",
    "ltdd.longtail_effect": "ltdd.studies.longtail_effect",
    "ltdd.tm_study": "ltdd.studies.tm_study",
    "ltdd.experiments": "ltdd.studies.experiments",
    "ltdd.recorded": "ltdd.studies.recorded",
    "ltdd.viz": "ltdd.book.viz",
    "ltdd.widgets": "ltdd.book.widgets",
    "ltdd.exercises": "ltdd.book.exercises",
    "ltdd.student": "ltdd.book.student",
    "ltdd.colab": "ltdd.book.colab",
    "ltdd.settings_page": "ltdd.book.settings_page",
}
"""Modules that moved into the subpackages by role (old path → new path); each old path is a file that calls
:func:`moved_module`, kept for one release."""


def moved_module(old: str) -> None:
    """Make the module being imported as ``old`` (a file at an old path of :data:`MOVED_MODULES`, which calls
    this with its ``__name__``) the module that moved: a ``DeprecationWarning`` names the new path, and the new
    module takes the old name in ``sys.modules``, so ``from ltdd.biased import x`` gives the very object
    ``ltdd.studies.biased.x`` (and a monkeypatch of the old path patches the module the code uses)."""
    new = MOVED_MODULES[old]
    warnings.warn(f"{old} moved to {new}; import it from there (the old path goes in the next release)",
                  DeprecationWarning, stacklevel=3)  # 3: the import statement (importlib's frames are skipped)
    sys.modules[old] = importlib.import_module(new)


def forward(module: str, moved: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that resolves each old name in ``moved`` (``{old name: "new.module:new_name"}``)
    with a ``DeprecationWarning`` naming the new place; other names are an ``AttributeError`` as usual."""

    def __getattr__(name: str) -> Any:
        if name not in moved:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        target_module, _, target_name = moved[name].partition(":")
        warnings.warn(f"{module}.{name} is deprecated; use {target_module}.{target_name}", DeprecationWarning,
                      stacklevel=2)
        return getattr(importlib.import_module(target_module), target_name)

    return __getattr__


def renamed(new: Callable, old_name: str) -> Callable:
    """A function ``old_name`` that warns (``DeprecationWarning``) and calls ``new`` with the same arguments: the
    old name of a renamed function keeps working, and the book's links to it keep resolving (it is documented,
    with ``new``'s signature and chapter)."""

    @functools.wraps(new)
    def alias(*args, **kwargs):
        warnings.warn(f"{new.__module__}.{old_name} is deprecated; use {new.__module__}.{new.__name__}",
                      DeprecationWarning, stacklevel=2)
        return new(*args, **kwargs)

    chapter = re.search(r"chapter (\d\d)", new.__doc__ or "")
    alias.__name__ = alias.__qualname__ = old_name
    alias.__doc__ = (f"Deprecated: the old name of :func:`~{new.__module__}.{new.__name__}`, which it calls (and "
                     f"warns).{f' The new name is the one chapter {chapter.group(1)} uses.' if chapter else ''}")
    return alias
