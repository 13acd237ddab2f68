"""Distillation methods. Each is a :class:`Distiller` registered by name in :data:`METHODS`."""

from __future__ import annotations

from ..data import ImageDataset
from .base import Distiller, SyntheticSet, atomic_save, check_ipc
from .random import RandomConfig, RandomSelection, sample_real_per_class

METHODS: dict[str, type[Distiller]] = {
    "random": RandomSelection,
}


def available_methods() -> list[str]:
    return sorted(METHODS)


def make_distiller(method: str, dataset: ImageDataset, seed: int = 0, **settings) -> Distiller:
    """Build a distiller by name; ``settings`` fill its config (e.g. ``ipc=10``)."""
    key = str(method).lower()
    if key not in METHODS:
        raise ValueError(f"method={method!r} is unknown; choose one of {available_methods()}")
    cls = METHODS[key]
    try:
        config = cls.Config(**settings)
    except TypeError as error:
        raise ValueError(f"method {key!r} does not accept {sorted(settings)}: {error}") from error
    return cls(dataset, config, seed=seed)


__all__ = ["METHODS", "Distiller", "RandomConfig", "RandomSelection", "SyntheticSet", "atomic_save",
           "available_methods", "check_ipc", "make_distiller", "sample_real_per_class"]
