"""What every distillation method shares: the synthetic set, the distiller shape, atomic checkpoints.

Every method has

* a config dataclass whose defaults are the paper's setting;
* ``init()`` that builds the initial synthetic set;
* ``step()`` that runs one iteration and returns its metrics;
* ``run(iterations, callbacks)`` with a progress bar;
* ``state_dict()`` / ``load_state_dict()`` so that a run can stop and resume to the same result.

Methods never read global state or the clock: all randomness comes from the distiller's own generator.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from ..checks import positive_int, positive_number
from ..config import make_generator
from ..data import ImageDataset
from .. import files
from .._deprecated import forward

FORMAT_VERSION = 1


@dataclass
class SyntheticSet:
    """A distilled (or selected) training set.

    ``images`` are normalised like the dataset they stand for, shape ``(N, C, H, W)``; ``labels`` are hard
    ``(N,)`` class indices or soft ``(N, num_classes)`` probabilities; ``learned_lr`` is the step size a
    method learned with the images (trajectory matching), if any; ``config`` records what made the set.

    ``factor`` > 1 marks a *partitioned* set (IDM's partition-and-expansion, IDC/DSDM's multi-formation):
    every stored image holds ``factor × factor`` smaller images, and a network trains on
    :meth:`training_pairs`, the parts upsampled back to full size. The storage budget (IPC) counts stored
    images.

    Introduced in chapter 01.
    """

    images: Tensor
    labels: Tensor
    num_classes: int
    learned_lr: float | None = None
    config: dict = field(default_factory=dict)
    factor: int = 1

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field when shapes or labels are inconsistent."""
        if not isinstance(self.images, Tensor) or self.images.ndim != 4:
            shape = tuple(self.images.shape) if isinstance(self.images, Tensor) else type(self.images).__name__
            raise ValueError(f"images must be a tensor of shape (N, C, H, W), got {shape}")
        if not self.images.is_floating_point():
            raise ValueError(f"images must be floating point, got {self.images.dtype}")
        if not bool(torch.isfinite(self.images).all()):
            raise ValueError("images hold non-finite values (nan or inf): the run that made them diverged")
        positive_int("num_classes", self.num_classes)
        check_factor(self.factor, self.images.shape[-1])
        n = len(self.images)
        if not isinstance(self.labels, Tensor):
            raise ValueError(f"labels must be a tensor, got {type(self.labels).__name__}")
        if self.labels.ndim == 1:
            if len(self.labels) != n:
                raise ValueError(f"labels must have shape ({n},) to match {n} images, got {tuple(self.labels.shape)}")
            if self.labels.dtype not in (torch.int64, torch.int32):
                raise ValueError(f"hard labels must be integers, got {self.labels.dtype}")
            if n and (int(self.labels.min()) < 0 or int(self.labels.max()) >= self.num_classes):
                raise ValueError(f"labels must lie in [0, {self.num_classes - 1}]")
        elif self.labels.ndim == 2:
            if tuple(self.labels.shape) != (n, self.num_classes):
                raise ValueError(f"soft labels must have shape ({n}, {self.num_classes}), "
                                 f"got {tuple(self.labels.shape)}")
            if not self.labels.is_floating_point() or not bool(torch.isfinite(self.labels).all()):
                raise ValueError("soft labels must be finite floating-point probabilities")
        else:
            raise ValueError(f"labels must be (N,) or (N, num_classes), got {tuple(self.labels.shape)}")
        positive_number("learned_lr", self.learned_lr, allow_none=True)
        if not isinstance(self.config, dict):
            raise ValueError(f"config must be a dict, got {type(self.config).__name__}")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def hard_labels(self) -> Tensor:
        """Class index of every image: the labels, or the argmax of soft labels."""
        return self.labels if self.labels.ndim == 1 else self.labels.argmax(dim=1)

    def class_counts(self) -> list[int]:
        """Number of stored images of each class (by ``hard_labels``)."""
        return torch.bincount(self.hard_labels.cpu(), minlength=self.num_classes).tolist()

    def training_pairs(self) -> tuple[Tensor, Tensor]:
        """The images and labels a network trains on: the stored set, or its expanded parts (``factor`` > 1)."""
        images = self.images.detach()
        if self.factor == 1:
            return images, self.labels
        return expand_partitions(images, self.factor), self.labels.repeat_interleave(self.factor ** 2, dim=0)

    def check_compatible(self, dataset: ImageDataset) -> None:
        """Raise ``ValueError`` unless the set matches ``dataset``'s image shape and class count."""
        if tuple(self.images.shape[1:]) != dataset.image_shape:
            raise ValueError(f"synthetic images have shape {tuple(self.images.shape[1:])} per image, but "
                             f"dataset {dataset.name!r} has {dataset.image_shape}")
        if self.num_classes != dataset.num_classes:
            raise ValueError(f"synthetic set has num_classes={self.num_classes}, dataset "
                             f"{dataset.name!r} has {dataset.num_classes}")

    def to(self, device: torch.device | str) -> "SyntheticSet":
        """A copy on ``device`` (the images detached)."""
        return dataclasses.replace(self, images=self.images.detach().to(device), labels=self.labels.to(device))

    def __repr__(self) -> str:
        parts = f", factor={self.factor}" if self.factor > 1 else ""
        return (f"SyntheticSet({len(self)} images of shape {tuple(self.images.shape[1:])}, "
                f"{self.num_classes} classes{parts}, method={self.config.get('method')!r})")

    def save(self, path: str | Path) -> Path:
        """Write the set (CPU tensors, config, learned lr) atomically to ``path``."""
        payload = {"format": "ltdd.SyntheticSet", "version": FORMAT_VERSION,
                   "images": self.images.detach().cpu(), "labels": self.labels.detach().cpu(),
                   "num_classes": self.num_classes, "learned_lr": self.learned_lr, "config": self.config,
                   "factor": self.factor}
        return files.atomic_save(payload, path)

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> "SyntheticSet":
        """Read a set written by :meth:`save`; a file of another kind or shape is a ``ValueError``."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"path={str(path)!r}: no synthetic set there")
        try:
            payload = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as error:
            raise ValueError(f"path={str(path)!r} is not a readable synthetic-set file: {error}") from error
        if not isinstance(payload, dict) or payload.get("format") != "ltdd.SyntheticSet":
            raise ValueError(f"path={str(path)!r} is not an ltdd synthetic-set file")
        try:
            return cls(payload["images"], payload["labels"], payload["num_classes"], payload.get("learned_lr"),
                       payload.get("config", {}), payload.get("factor", 1))
        except (KeyError, ValueError, TypeError) as error:
            raise ValueError(f"path={str(path)!r} holds an invalid synthetic set: {error}") from error


def check_factor(factor: int, image_size: int) -> None:
    """A partition factor is a positive int that divides the image side. Machinery behind chapter 01."""
    positive_int("factor", factor)
    if image_size % factor:
        raise ValueError(f"factor={factor} must divide the image side {image_size}")


def expand_partitions(images: Tensor, factor: int) -> Tensor:
    """IDM's *expansion* (its ``number_sign_augment``) and IDC's ``decode_zoom``: cut every image into
    ``factor × factor`` parts and upsample each part bilinearly to full size.

    ``(N, C, H, W)`` → ``(N·factor², C, H, W)``; the parts of image ``i`` are rows ``i·factor² …``, in
    column-major order (top-left, bottom-left, top-right, bottom-right for factor 2, IDM's order), so a
    class-major set stays class-major.

    Introduced in chapter 06.
    """
    check_factor(factor, images.shape[-1])
    if factor == 1:
        return images
    n, c, h, w = images.shape
    ph, pw = h // factor, w // factor
    parts = images.reshape(n, c, factor, ph, factor, pw).permute(0, 4, 2, 1, 3, 5)  # n, col, row, c, ph, pw
    parts = parts.reshape(n * factor * factor, c, ph, pw)
    return F.interpolate(parts, size=(h, w), mode="bilinear", align_corners=False)


def tile_partitions(images: Tensor, factor: int, mode: str = "bilinear") -> Tensor:
    """The inverse layout of :func:`expand_partitions`: shrink every image by ``factor`` and tile groups of
    ``factor²`` consecutive images into one (IDM's initialisation uses bilinear shrinking, IDC's
    ``nearest``). ``(N·factor², C, H, W)`` → ``(N, C, H, W)``.

    Introduced in chapter 06."""
    check_factor(factor, images.shape[-1])
    if len(images) % (factor * factor):
        raise ValueError(f"images: {len(images)} images cannot be tiled in groups of factor²={factor * factor}")
    if factor == 1:
        return images
    n, c, h, w = images.shape
    ph, pw = h // factor, w // factor
    small = F.interpolate(images, size=(ph, pw), mode=mode, **({"align_corners": False} if mode == "bilinear"
                                                                   else {}))
    small = small.reshape(n // factor ** 2, factor, factor, c, ph, pw)  # col, row
    return small.permute(0, 3, 2, 4, 1, 5).reshape(n // factor ** 2, c, h, w)


def check_ipc(ipc: int, dataset: ImageDataset) -> None:
    """IPC must be a positive int no larger than the smallest class of the training split.

    Machinery behind chapter 01."""
    positive_int("ipc", ipc)
    counts = dataset.train.class_counts(dataset.num_classes)
    smallest = min(counts)
    if ipc > smallest:
        raise ValueError(f"ipc={ipc} is larger than class {counts.index(smallest)} of {dataset.name!r} allows "
                         f"({smallest} training images); choose ipc <= {smallest}")


Callback = Callable[["Distiller", dict], None]


class Distiller(ABC):
    """The shape every method shares (see the module docstring).

    Subclasses set ``name``, define ``Config``, and implement :meth:`init` and :meth:`step`; methods whose
    state goes beyond the synthetic images extend :meth:`state_dict` / :meth:`load_state_dict`.

    Introduced in chapter 01.
    """

    name: str = "distiller"
    iterative: bool = True
    """False for selection methods, whose set is final after :meth:`init`."""

    def __init__(self, dataset: ImageDataset, config: Any, seed: int = 0):
        self.dataset = dataset
        self.config = config
        self.seed = seed
        self.generator = make_generator(seed, self.name, device=dataset.device)
        self.iteration = 0
        self.synthetic: SyntheticSet | None = None

    @abstractmethod
    def init(self) -> SyntheticSet:
        """Build the initial synthetic set (stored in ``self.synthetic``)."""

    @abstractmethod
    def step(self) -> dict:
        """One distillation iteration; returns its metrics (e.g. ``{"loss": ...}``)."""

    def run(self, iterations: int, callbacks: tuple[Callback, ...] = (), progress: bool = True) -> SyntheticSet:
        """Initialise if needed, then run ``iterations`` more steps, calling each callback after each."""
        if not isinstance(iterations, int) or iterations < 0:
            raise ValueError(f"iterations must be an int >= 0, got {iterations!r}")
        if self.synthetic is None:
            self.init()
        if not self.iterative:
            iterations = 0
        bar = tqdm(range(iterations), desc=self.name, disable=not progress or iterations == 0)
        for _ in bar:
            metrics = self.step()
            self.iteration += 1
            self.check_finite(metrics)
            if metrics:
                bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items() if isinstance(v, float)})
            for callback in callbacks:
                callback(self, metrics)
        return self.synthetic

    def nonfinite_state(self) -> str | None:
        """What in the run's state is no longer finite (``None``: all is finite): the synthetic images and soft
        labels."""
        synthetic = self.synthetic
        if synthetic is None:
            return None
        if not bool(torch.isfinite(synthetic.images).all()):
            return "the synthetic images"
        if synthetic.labels.is_floating_point() and not bool(torch.isfinite(synthetic.labels).all()):
            return "the soft labels"
        return None

    def check_finite(self, metrics: Mapping | None, iteration: int | None = None) -> None:
        """Stop a diverged run at its first non-finite loss or state: a ``FloatingPointError`` naming the
        iteration (default: the last finished one), what went non-finite and the step sizes (the likely cause).
        Called after every step, before the callbacks, so no checkpoint of the diverged state is written."""
        bad = [f"{key}={value}" for key, value in (metrics or {}).items()
               if isinstance(value, float) and not math.isfinite(value)]
        what = ", ".join(bad) or self.nonfinite_state()
        if not what:
            return
        config = dataclasses.asdict(self.config) if dataclasses.is_dataclass(self.config) else {}
        rates = ", ".join(f"{k}={v}" for k, v in config.items() if k.startswith("lr") and v is not None)
        iteration = self.iteration if iteration is None else iteration
        raise FloatingPointError(f"{self.name} diverged at iteration {iteration} ({what} not finite); likely "
                                 f"cause: a step size too large" + (f" ({rates})" if rates else "")
                                 + "; the last checkpoint is kept")

    def describe(self) -> dict:
        """The record saved with the synthetic set: method, config, seed, iterations, dataset."""
        config = dataclasses.asdict(self.config) if dataclasses.is_dataclass(self.config) else dict(self.config)
        return {"method": self.name, **config, "seed": self.seed, "iterations": self.iteration,
                "dataset": self.dataset.name, "dataset_options": dict(self.dataset.options),
                "image_shape": list(self.dataset.image_shape),
                "mean": list(self.dataset.mean), "std": list(self.dataset.std)}

    def _settings(self) -> dict:
        """What must agree between a checkpoint and the run that resumes it (all but the iteration count)."""
        return {k: v for k, v in self.describe().items() if k != "iterations"}

    def _defaults_added_since(self, theirs: Mapping) -> dict:
        """The config fields a checkpoint's settings lack because it was written before they existed, at their
        defaults: an old checkpoint resumes under a newer ltdd when the new settings are left as they were."""
        if not dataclasses.is_dataclass(self.config):
            return {}
        return {f.name: f.default for f in dataclasses.fields(self.config)
                if f.name not in theirs and f.default is not dataclasses.MISSING}

    def state_dict(self) -> dict:
        """A checkpoint of the run: method, iteration, seed, settings, generator state and the synthetic images
        and labels (CPU tensors)."""
        return {"method": self.name, "iteration": self.iteration, "seed": self.seed, "settings": self._settings(),
                "generator": self.generator.get_state(),
                "synthetic": None if self.synthetic is None else {
                    "images": self.synthetic.images.detach().cpu(), "labels": self.synthetic.labels.cpu()}}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`; a checkpoint of another method, or written with other settings, is a
        ``ValueError`` naming the difference."""
        if state.get("method") != self.name:
            raise ValueError(f"checkpoint is for method {state.get('method')!r}, not {self.name!r}")
        mine, theirs = self._settings(), state.get("settings")
        if theirs is not None:
            theirs = {**self._defaults_added_since(theirs), **theirs}
        if theirs is not None and theirs != mine:
            raise ValueError(f"checkpoint was written with other settings: {files.settings_mismatch(theirs, mine)}")
        self.iteration = state["iteration"]
        self.seed = state["seed"]
        self.generator.set_state(state["generator"])
        if state["synthetic"] is not None:
            device = self.dataset.device
            self.synthetic = SyntheticSet(state["synthetic"]["images"].to(device),
                                          state["synthetic"]["labels"].to(device), self.dataset.num_classes,
                                          config=self.describe())


class ImageDistiller(Distiller):
    """A method that *learns* images: ``self.images`` (class-major, ``config.ipc`` per class) and their SGD
    velocity, initialised from real images or noise (``config.init``), checkpointed with the run.

    The optimised tensor lives in the method's own space; :meth:`normalized` maps it to what a network sees
    (identity for methods that optimise normalised images). ``factor`` > 1 marks a partitioned set
    (:class:`SyntheticSet`).

    Introduced in chapter 05.
    """

    factor: int = 1

    def __init__(self, dataset: ImageDataset, config: Any, seed: int = 0):
        super().__init__(dataset, config, seed)
        self.images: Tensor | None = None
        self.velocity: Tensor | None = None

    def new_network(self, generator: torch.Generator | None = None) -> torch.nn.Module:
        """A freshly initialised ``config.model`` of width ``config.net_width`` (``None``: the model's default),
        its weights drawn from ``generator`` (default: the run's)."""
        from ..models import get_model

        options = {} if self.config.net_width is None else {"width": self.config.net_width}
        net = get_model(self.config.model, self.dataset.channels, self.dataset.num_classes,
                        self.dataset.image_size, generator=generator or self.generator, **options)
        return net.to(self.dataset.device)

    def normalized(self, images: Tensor) -> Tensor:
        """The optimised tensor as the network sees it (identity: DM, IDM, DC optimise normalised images)."""
        return images

    # --------------------------------------------------------------------------- state
    def initial_images(self) -> Tensor:
        """``ipc`` real images (or noise) per class, class-major, in the optimised space."""
        from .random import sample_real_per_class

        if self.config.init == "noise":
            shape = (self.dataset.num_classes * self.config.ipc, *self.dataset.image_shape)
            return torch.randn(shape, generator=self.generator, device=self.generator.device).to(self.dataset.device)
        images, _ = sample_real_per_class(self.dataset, self.config.ipc, self.generator,
                                          repeat=self.config.init == "real-repeat")
        return images

    def init(self) -> SyntheticSet:
        """Start from :meth:`initial_images`, with zero velocity."""
        self.images = self.initial_images().detach().clone()
        self.velocity = torch.zeros_like(self.images)
        return self._refresh_synthetic()

    def _labels(self) -> Tensor:
        return torch.arange(self.dataset.num_classes, device=self.dataset.device).repeat_interleave(self.config.ipc)

    def _refresh_synthetic(self) -> SyntheticSet:
        self._synthetic_stale = True  # built on first access: an iteration does not pay for it
        return self.synthetic

    def nonfinite_state(self) -> str | None:
        """Checks the optimised images and their labels without building the set."""
        if getattr(self, "images", None) is not None and not bool(torch.isfinite(self.images).all()):
            return "the synthetic images"
        labels = self._labels() if getattr(self, "images", None) is not None else None
        if labels is not None and labels.is_floating_point() and not bool(torch.isfinite(labels).all()):
            return "the soft labels"
        return None

    @property
    def synthetic(self) -> SyntheticSet | None:
        """The current synthetic set (normalised images, class-major labels), built from ``self.images``."""
        if getattr(self, "images", None) is None:
            return None
        if self._synthetic_stale or self._synthetic_cache is None:
            self.check_finite(None, self.iteration + 1)  # built during a step: the one that diverged
            self._synthetic_cache = SyntheticSet(self.normalized(self.images).detach().clone(), self._labels(),
                                                 self.dataset.num_classes, config=self.describe(),
                                                 factor=self.factor)
            self._synthetic_stale = False
        return self._synthetic_cache

    @synthetic.setter
    def synthetic(self, value: SyntheticSet | None) -> None:
        """Store ``value`` as the current set (until the next image update replaces it)."""
        self._synthetic_cache, self._synthetic_stale = value, False

    def state_dict(self) -> dict:
        """Also stores the optimised images and their velocity (CPU copies)."""
        state = super().state_dict()
        # copies: on the CPU ``.cpu()`` would share storage with tensors that later steps change in place
        state["images"] = None if self.images is None else self.images.detach().cpu().clone()
        state["velocity"] = None if self.velocity is None else self.velocity.detach().cpu().clone()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Also restores the optimised images and their velocity."""
        super().load_state_dict(state)
        device = self.dataset.device
        if state.get("images") is not None:
            self.images = state["images"].to(device).clone()
            self.velocity = state["velocity"].to(device).clone()
            self._refresh_synthetic()


__getattr__ = forward(__name__, {"atomic_save": "ltdd.files:atomic_save",
                                 "atomic_write_text": "ltdd.files:atomic_write_text",
                                 "settings_mismatch": "ltdd.files:settings_mismatch"})
