"""Profiles, devices and seeding.

A *profile* bundles every setting that changes with the machine a chapter runs on: which dataset is the
default, how long distillation and evaluation run, how many seeds are averaged. Four profiles exist:

=========  ===============================  =======================================================
profile    where                            goal
=========  ===============================  =======================================================
``smoke``  CI, nbmake                       every chapter in well under a minute on 2 CPU cores
``cpu``    a laptop, no GPU                 minutes per chapter; results that show the point
``gpu``    Colab T4 or any CUDA GPU         real datasets, a chapter in tens of minutes
``paper``  a big GPU                        the papers' hyperparameters, for reproduction runs
=========  ===============================  =======================================================

The default is ``gpu`` when CUDA is available and ``cpu`` otherwise; the environment variable
``LTDD_PROFILE`` overrides it. Randomness in ``ltdd``'s methods flows through explicit
:class:`torch.Generator` objects made by :func:`make_generator`; they never reseed the global RNG or read
the clock. (Only :func:`ltdd.models.get_model` called *without* a generator falls back to PyTorch's default
initialisation, which draws from the global RNG.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch

PROFILE_ENV = "LTDD_PROFILE"
DATA_ROOT_ENV = "LTDD_DATA_ROOT"
DOWNLOAD_ENV = "LTDD_DOWNLOAD"


@dataclass(frozen=True)
class Profile:
    """Every setting that depends on the machine, read by the chapters in one settings cell.

    Machinery behind chapter 00."""

    name: str
    dataset: str
    """Default dataset of the chapters (embedded ``digits`` without a GPU, CIFAR-10 with one)."""
    model: str
    """Default architecture for distillation and evaluation."""
    net_width: int
    """ConvNet width (channels per layer). The papers use 128; the CPU profiles use fewer channels, which
    trains about 4× faster per halving on 2 cores and still shows every chapter's point."""
    ipc: int
    """Default images per class."""
    eval_epochs: int
    """Epochs of the evaluation protocol (the literature uses 1000; see :mod:`ltdd.train`)."""
    eval_seeds: int
    """Evaluation networks trained per synthetic set; mean and std are taken over them."""
    full_epochs: int
    """Epochs for the full-data baseline (train on every real training image)."""
    full_seeds: int
    """Networks trained for the full-data baseline."""
    ipc_grid: tuple[int, ...]
    """IPC values of the accuracy-versus-IPC figures."""
    iterations: int
    """Distillation iterations."""
    batch_real: int
    """Real images per class drawn at each distillation iteration."""
    allow_download: bool
    """Whether loaders may download missing files (``LTDD_DOWNLOAD=0/1`` overrides)."""
    description: str

    def replace(self, **changes) -> "Profile":
        """A copy with some fields changed, e.g. ``profile.replace(eval_epochs=50)``."""
        return dataclasses.replace(self, **changes)

    def pick(self, **values):
        """The value for this profile among ``values``, keyed by profile name, with ``default`` for the rest.

        A chapter's settings cell says ``profile.pick(smoke=2, cpu=3, default=10)`` instead of branching on
        ``profile.name``. A keyword that names no profile, or no value for this profile and no ``default``,
        is an error (``ValueError``).
        """
        unknown = sorted(set(values) - set(PROFILES) - {"default"})
        if unknown:
            raise ValueError(f"pick() got {unknown}; the keywords are the profiles {available_profiles()} "
                             "and 'default'")
        if self.name in values:
            return values[self.name]
        if "default" in values:
            return values["default"]
        raise ValueError(f"pick() has no value for profile {self.name!r} and no default; "
                         f"pass {self.name}= or default=")

    def model_options(self) -> dict:
        """Constructor overrides for :func:`ltdd.models.get_model` (the ConvNet width)."""
        return {"width": self.net_width} if self.model.lower().startswith("convnet") else {}

    def as_dict(self) -> dict:
        """The profile's fields as a plain dict (``python -m ltdd info`` prints it)."""
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", dataset="digits", model="convnet", net_width=32, ipc=5, eval_epochs=12, eval_seeds=2,
        full_epochs=6, full_seeds=1, ipc_grid=(1, 5), iterations=10, batch_real=32, allow_download=False,
        description="CI and nbmake: embedded data, tiny settings, seconds per chapter",
    ),
    "cpu": Profile(
        name="cpu", dataset="digits", model="convnet", net_width=64, ipc=10, eval_epochs=300, eval_seeds=3,
        full_epochs=30, full_seeds=1, ipc_grid=(1, 5, 10, 20), iterations=500, batch_real=128, allow_download=False,
        description="a laptop without GPU: embedded data, minutes per chapter",
    ),
    "gpu": Profile(
        name="gpu", dataset="cifar10", model="convnet", net_width=128, ipc=10, eval_epochs=500, eval_seeds=3,
        full_epochs=50, full_seeds=2, ipc_grid=(1, 10, 50), iterations=5000, batch_real=256, allow_download=True,
        description="Colab T4 or any CUDA GPU: downloaded datasets, tens of minutes per chapter",
    ),
    "paper": Profile(
        name="paper", dataset="cifar10", model="convnet", net_width=128, ipc=10, eval_epochs=1000, eval_seeds=5,
        full_epochs=200, full_seeds=3, ipc_grid=(1, 10, 50), iterations=20000, batch_real=256, allow_download=True,
        description="the papers' hyperparameters, for reproduction runs on a large GPU",
    ),
}


def available_profiles() -> list[str]:
    """The profile names, in the order of ``PROFILES``. Machinery behind chapter 00."""
    return list(PROFILES)


def default_profile_name() -> str:
    """``LTDD_PROFILE`` if set, else ``gpu`` when CUDA is available, else ``cpu``. Machinery behind chapter 00."""
    chosen = os.environ.get(PROFILE_ENV, "").strip()
    if chosen:
        return chosen
    return "gpu" if torch.cuda.is_available() else "cpu"


def get_profile(name: str | None = None) -> Profile:
    """Return the named profile, or the default one (see :func:`default_profile_name`). Introduced in chapter 00."""
    name = default_profile_name() if name is None else name
    key = name.strip().lower()
    if key not in PROFILES:
        source = f" (from ${PROFILE_ENV})" if os.environ.get(PROFILE_ENV) == name else ""
        raise ValueError(f"profile={name!r}{source} is unknown; choose one of {available_profiles()}")
    return PROFILES[key]


def get_device(device: str | torch.device | None = None) -> torch.device:
    """The requested device, or CUDA when available, else CPU.

    An explicit ``"cuda"`` on a machine without CUDA is an error, never a silent fallback.

    Machinery behind chapter 00.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} was requested but CUDA is not available; use 'cpu'")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device={str(device)!r}: this machine has {torch.cuda.device_count()} CUDA devices")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={str(device)!r} was requested but MPS is not available; use 'cpu'")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N' (or 'mps' on a Mac), got {str(device)!r}")
    return device


def derive_seed(seed: int, *purpose: object) -> int:
    """A 63-bit seed for one purpose of a run, derived from the run's seed by hashing.

    ``derive_seed(0, "init")`` and ``derive_seed(0, "eval", 3)`` give unrelated streams, so adding a new
    random draw in one place never shifts the numbers drawn elsewhere.

    Machinery behind chapter 00.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")
    text = "/".join([str(seed), *map(str, purpose)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def make_generator(seed: int, *purpose: object, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh :class:`torch.Generator` seeded by :func:`derive_seed` (``seed`` alone if no purpose).

    Introduced in chapter 06."""
    generator = torch.Generator(device=torch.device(device))
    generator.manual_seed(derive_seed(seed, *purpose) if purpose else seed)
    return generator


def repository_root() -> Path | None:
    """The book's checkout when ``ltdd`` runs from one (it has ``_config.yml``), else ``None``.

    Machinery behind chapter 00."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "_config.yml").is_file() else None


def default_data_root() -> Path:
    """``$LTDD_DATA_ROOT``, else ``data/cache`` in the checkout, else ``./data/cache``. Machinery behind chapter 00."""
    if os.environ.get(DATA_ROOT_ENV):
        return Path(os.environ[DATA_ROOT_ENV]).expanduser()
    root = repository_root()
    return (root if root is not None else Path.cwd()) / "data" / "cache"


def download_allowed(profile: Profile | None = None) -> bool:
    """``LTDD_DOWNLOAD`` (0/1) if set, else the profile's ``allow_download``. Machinery behind chapter 00."""
    value = os.environ.get(DOWNLOAD_ENV, "").strip().lower()
    if value in {"1", "true", "yes"}:
        return True
    if value in {"0", "false", "no"}:
        return False
    if value:
        raise ValueError(f"${DOWNLOAD_ENV}={value!r} is not understood; use 0 or 1")
    return (profile or get_profile()).allow_download
