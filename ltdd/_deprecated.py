"""Old import paths of names that moved or were renamed: they keep working and say where the name lives now.

A module lists its old names in a ``__getattr__`` made by :func:`forward`; Python calls it only for names the
module does not define, so the module's own code never meets the warning.
"""

from __future__ import annotations

import functools
import importlib
import re
import warnings
from typing import Any, Callable


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
