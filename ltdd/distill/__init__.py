"""Distillation methods. Each is a :class:`~ltdd.distill.base.Distiller` registered by name in :data:`METHODS`."""

from __future__ import annotations

import dataclasses

from ..config import Profile
from ..data import ImageDataset
from .._deprecated import forward
from .base import Distiller, ImageDistiller, SyntheticSet, check_ipc, expand_partitions, tile_partitions
from .coreset import CoresetConfig, HerdingConfig, HerdingSelection, KCenterSelection, herding, kcenter_greedy
from .dedm import DeDM, DeDMConfig
from .dm import DM, DMConfig
from .dsdm import DSDM, DSDMConfig
from .gm import DC, DSAConfig, DSAMatcher, GMConfig, GradientMatcher
from .idm import IDM, IDMConfig
from .random import RandomConfig, RandomSelection, sample_real_per_class
from .tm import DATM, LTDD, MTT, DATMConfig, LTDDConfig, TMConfig, TrajectoryMatcher

METHODS: dict[str, type[Distiller]] = {
    "random": RandomSelection,
    "dm": DM,
    "idm": IDM,
    "dsdm": DSDM,
    "herding": HerdingSelection,
    "kcenter": KCenterSelection,
    "dc": DC,
    "dsa": DSAMatcher,
    "dedm": DeDM,
    "mtt": MTT,
    "datm": DATM,
    "ltdd": LTDD,
}
"""Every distillation method of the book by the name the CLI and :func:`make_distiller` take."""

PROFILE_SETTINGS = {"batch_real": "batch_real", "net_width": "net_width", "model": "model"}
"""Config fields a profile fills when the caller leaves them out (config field → profile field)."""


PAPER_ITERATIONS: dict[str, int] = {"dc": 1000, "dsa": 1000, "dm": 20_000, "idm": 20_000, "dsdm": 10_000}
"""Distillation iterations of each method's own setting (DC/DSA ``main.py --Iteration 1000``; DM
``main_DM.py`` 20000; IDM ``command.txt``, which keeps the parser's 20000; DSDM's paper and ``niter``: 10K).
The ``paper`` profile runs these; the trajectory-matching methods take theirs from their presets."""


def paper_settings(method: str, dataset: str, ipc: int) -> dict:
    """The settings beyond a config's defaults that a method's own source gives for ``dataset`` at ``ipc``:
    IDM's ``command.txt`` line (:func:`ltdd.distill.idm.command_settings`) where it has one, else none.

    Machinery behind chapter 01."""
    from .idm import COMMAND_TXT, command_settings

    name = str(dataset).lower().removesuffix("-lt")
    if str(method).lower() == "idm" and (name, ipc) in COMMAND_TXT:
        return command_settings(name, ipc)
    return {}


def available_methods() -> list[str]:
    """The names in :data:`METHODS`, sorted. Machinery behind chapter 01."""
    return sorted(METHODS)


def method_config(method: str):
    """The config dataclass of a method, by name. Machinery behind chapter 01."""
    return _method_class(method).Config


def _method_class(method: str) -> type[Distiller]:
    key = str(method).lower()
    if key not in METHODS:
        raise ValueError(f"method={method!r} is unknown; choose one of {available_methods()}")
    return METHODS[key]


def make_distiller(method: str, dataset: ImageDataset, seed: int = 0, profile: Profile | None = None,
                   **settings) -> Distiller:
    """Build a distiller by name; ``settings`` fill its config (e.g. ``ipc=10``).

    With a ``profile``, the settings that depend on the machine (real batch per class, ConvNet width, model)
    come from it unless given: ``make_distiller("dm", ds, profile=get_profile("cpu"), ipc=10)``.

    Introduced in chapter 01.
    """
    cls = _method_class(method)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    if profile is not None:
        for field, source in PROFILE_SETTINGS.items():
            if field in fields and field not in settings:
                settings[field] = getattr(profile, source)
    unknown = sorted(set(settings) - fields)
    if unknown:
        raise ValueError(f"method {cls.name!r} does not accept {unknown}; its settings are {sorted(fields)}")
    return cls(dataset, cls.Config(**settings), seed=seed)


__all__ = ["DATM", "DATMConfig", "LTDD", "LTDDConfig", "MTT", "TMConfig", "TrajectoryMatcher", "DeDM", "DeDMConfig", "DC", "DSAConfig", "DSAMatcher", "GMConfig", "GradientMatcher", "ImageDistiller", "CoresetConfig", "HerdingConfig", "HerdingSelection", "KCenterSelection", "herding", "kcenter_greedy",
           "DM", "DMConfig", "DSDM", "DSDMConfig", "IDM", "IDMConfig", "METHODS", "Distiller", "RandomConfig", "RandomSelection", "SyntheticSet",
           "available_methods", "check_ipc", "expand_partitions", "make_distiller",
           "method_config", "paper_settings", "PAPER_ITERATIONS", "sample_real_per_class", "tile_partitions"]

__getattr__ = forward(__name__, {"atomic_save": "ltdd.files:atomic_save"})
