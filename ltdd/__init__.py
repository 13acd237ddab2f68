"""ltdd: dataset distillation for long-tailed and biased data — the package behind the book.

Subpackages by role: :mod:`ltdd.data` (datasets), :mod:`ltdd.distill` (methods, with the experts of trajectory
matching), :mod:`ltdd.studies` (experiments over rows and seeds, the recorded runs) and :mod:`ltdd.book` (figures,
widgets, exercise checkers, the student and Colab editions). Beside them: :mod:`ltdd.config` (profiles, devices,
seeding), :mod:`ltdd.models` (ConvNet and friends), :mod:`ltdd.augment` (DSA), :mod:`ltdd.train` (the evaluation
protocol), :mod:`ltdd.cli` (``python -m ltdd``) and small helpers (:mod:`ltdd.files`, :mod:`ltdd.checks`,
:mod:`ltdd.markdown`).
"""

from .config import derive_seed, get_device, get_profile, make_generator

__version__ = "0.1.0"

__all__ = ["__version__", "derive_seed", "get_device", "get_profile", "make_generator"]
