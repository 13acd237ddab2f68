"""An on-disk cache for built datasets, keyed by a hash of everything that produced them.

Some datasets are expensive to build (CCIFAR10-DD corrupts 50,000 images). :func:`cached` stores the
result under ``<data_root>/ltdd-cache/<name>-<hash>.pt``, where the hash covers the recipe (dataset name,
options, seed), the cache format and the ``ltdd`` version. A file that cannot be read, or whose recorded
recipe differs from the requested one, is rebuilt; writes are atomic, so an interrupted build never leaves
a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from ..files import atomic_save

CACHE_FORMAT = 1
CACHE_FOLDER = "ltdd-cache"


def recipe_hash(recipe: dict) -> str:
    """A short, stable hash of a JSON-serialisable recipe (key order does not matter). Machinery behind chapter 03."""
    from .. import __version__

    text = json.dumps({"recipe": recipe, "format": CACHE_FORMAT, "ltdd": __version__}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(data_root: str | Path, recipe: dict) -> Path:
    """Where the cache entry for ``recipe`` lives: ``<data_root>/ltdd-cache/<name>-<hash>.pt``.

    Machinery behind chapter 03."""
    name = str(recipe.get("name", "dataset")).replace("/", "_")
    return Path(data_root) / CACHE_FOLDER / f"{name}-{recipe_hash(recipe)}.pt"


def cached(data_root: str | Path, recipe: dict, build: Callable[[], dict[str, Tensor]]) -> dict[str, Tensor]:
    """Return ``build()``'s tensors, from the cache when a valid entry for ``recipe`` exists.

    ``build`` returns a dict of tensors (store pixels as ``uint8`` to keep entries small).

    Machinery behind chapter 03.
    """

    path = cache_path(data_root, recipe)
    entry = _read(path, recipe)
    if entry is not None:
        return entry
    tensors = build()
    if not all(isinstance(value, Tensor) for value in tensors.values()):
        raise TypeError("a cached build must return a dict of tensors")
    atomic_save({"recipe": json.loads(json.dumps(recipe, default=str)), "tensors": tensors}, path)
    return tensors


def _read(path: Path, recipe: dict) -> dict[str, Tensor] | None:
    """The cached tensors, or ``None`` when the entry is missing, unreadable or for another recipe."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        stored = payload["recipe"]
        tensors = payload["tensors"]
    except Exception:  # a truncated or foreign file is simply rebuilt
        return None
    if stored != json.loads(json.dumps(recipe, default=str)):
        return None
    return tensors
