"""ltdd: dataset distillation for long-tailed and biased data — the package behind the book.

Modules: :mod:`ltdd.config` (profiles, devices, seeding), :mod:`ltdd.data` (datasets),
:mod:`ltdd.models` (ConvNet and friends), :mod:`ltdd.augment` (DSA), :mod:`ltdd.train` (the evaluation
protocol), :mod:`ltdd.distill` (methods), :mod:`ltdd.book.viz` (figures), :mod:`ltdd.cli` (``python -m ltdd``).
"""

from .config import derive_seed, get_device, get_profile, make_generator

__version__ = "0.1.0"

__all__ = ["__version__", "derive_seed", "get_device", "get_profile", "make_generator"]
