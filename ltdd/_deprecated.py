"""Old import paths of names that moved or were renamed: they keep working and say where the name lives now.

A module lists its old names in a ``__getattr__`` made by :func:`forward`; Python calls it only for names the
module does not define, so the module's own code never meets the warning.
"""

from __future__ import annotations

import importlib
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
