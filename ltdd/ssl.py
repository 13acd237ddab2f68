"""SimCLR (Chen et al., ICML 2020): self-supervised pre-training of a ConvNet encoder, as CRLT-DD uses it.

Two random *views* of every image go through the encoder ``f`` and a projection head ``g``; the NT-Xent loss
(SimCLR Eq. 1) pulls the two views of an image together and pushes them away from every other view in the
batch. After pre-training, ``g`` is thrown away and the encoder initialises a classifier, which is then
fine-tuned on labelled data (:func:`load_encoder`, or ``encoder_state=`` of :func:`ltdd.train.train_networks`).

The settings are SimCLR's CIFAR ones (``datasets_ssl.md`` §5): random resized crop of area 0.08–1 and aspect
3/4–4/3, horizontal flip, colour jitter with probability 0.8 at strength 0.5 (brightness, contrast and
saturation 0.8·s, hue 0.2·s), grayscale with probability 0.2, no blur at 32 px, temperature 0.5 and a head
``d → d → 128`` (``d`` = 2048 for the width-128 ConvNet on 32 px). :meth:`SimCLRViews.for_dataset` gives
digit-safe views (no flip, larger crops) for digit datasets.

Three defects of CRLT-DD's SimCLR code are avoided on purpose:

* its inputs were un-normalised while distillation and evaluation normalised them: here the views are made in
  pixel space and normalised with the dataset's mean and std, so the encoder sees what the classifier sees;
* its encoder carried a 10-way classifier, so the checkpoint could not initialise a 100-class network: here
  the encoder state holds the feature layers only (:func:`encoder_state`), which fit any class count;
* its checkpoint was saved under one dataset name and loaded under another: here
  :func:`pretrain_simclr` returns the state and the caller decides where it goes.

Every view is made on the device for a whole batch at once (one ``grid_sample`` for crop and flip); random
draws come from an explicit :class:`torch.Generator`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from .checks import positive_int
from .data import ImageDataset
from .files import atomic_save, settings_mismatch
from .models import get_model

HEADS = ("mlp", "none")


# ------------------------------------------------------------------------------------------- views
@dataclass(frozen=True)
class SimCLRViews:
    """The random transformation that makes one view (SimCLR's CIFAR augmentation by default).

    Introduced in chapter 09."""

    crop_scale: tuple[float, float] = (0.08, 1.0)
    """Range of the crop's area as a fraction of the image."""
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    """Range of the crop's aspect ratio (width / height), drawn log-uniformly."""
    flip: bool = True
    jitter_prob: float = 0.8
    jitter_strength: float = 0.5
    """SimCLR's ``s``: brightness, contrast and saturation factors in [1 − 0.8s, 1 + 0.8s], hue shift in
    [−0.2s, 0.2s] of a full turn. SimCLR uses 0.5 for CIFAR and 1.0 for ImageNet."""
    grayscale_prob: float = 0.2

    def __post_init__(self) -> None:
        low, high = self.crop_scale
        if not 0 < low <= high <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {self.crop_scale!r}")
        if not 0 < self.crop_ratio[0] <= self.crop_ratio[1]:
            raise ValueError(f"crop_ratio must satisfy 0 < low <= high, got {self.crop_ratio!r}")
        for name in ("jitter_prob", "grayscale_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)!r}")
        if not 0 <= self.jitter_strength <= 1.25:
            raise ValueError(f"jitter_strength must lie in [0, 1.25] (factors stay positive), "
                             f"got {self.jitter_strength!r}")

    @classmethod
    def for_dataset(cls, dataset: ImageDataset) -> "SimCLRViews":
        """SimCLR's CIFAR views, or for digits (``hflip_safe`` False) digit-safe ones: no flip (a mirrored 2
        is not a 2) and crops of at least 40 % of the area (an 8×8 stroke cropped to 8 % is noise; 40 % is
        our choice, not a published setting)."""
        if dataset.hflip_safe:
            return cls()
        return cls(crop_scale=(0.4, 1.0), flip=False)

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        """One view of every image; ``images`` in pixel space [0, 1], shape (N, C, H, W)."""
        x = self.crop_and_flip(images, generator)
        x = self.colour_jitter(x, generator)
        return self.random_grayscale(x, generator)

    # each step draws on the generator's device and moves the draws to the images'
    def _uniform(self, n: int, low: float, high: float, generator: torch.Generator, like: Tensor) -> Tensor:
        return (torch.rand(n, generator=generator, device=generator.device) * (high - low) + low).to(like.device)

    def crop_and_flip(self, images: Tensor, generator: torch.Generator) -> Tensor:
        """Random resized crop (resized back to the input size, bilinear) and horizontal flip, in one
        ``grid_sample``. A crop wider or taller than the image is clipped to the full side (torchvision retries
        up to ten draws before falling back to a centre crop; clipping keeps the batch in one pass)."""
        n = len(images)
        area = self._uniform(n, *self.crop_scale, generator, images)
        log_ratio = self._uniform(n, math.log(self.crop_ratio[0]), math.log(self.crop_ratio[1]), generator, images)
        width = torch.sqrt(area * log_ratio.exp()).clamp(max=1.0)   # fractions of the side
        height = torch.sqrt(area / log_ratio.exp()).clamp(max=1.0)
        centre_x = (1 - width) * self._uniform(n, 0, 1, generator, images) + width / 2
        centre_y = (1 - height) * self._uniform(n, 0, 1, generator, images) + height / 2
        sign = torch.ones(n, device=images.device)
        if self.flip:
            sign = torch.where(self._uniform(n, 0, 1, generator, images) < 0.5, -sign, sign)
        theta = torch.zeros(n, 2, 3, device=images.device, dtype=images.dtype)
        theta[:, 0, 0], theta[:, 0, 2] = width * sign, 2 * centre_x - 1
        theta[:, 1, 1], theta[:, 1, 2] = height, 2 * centre_y - 1
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def colour_jitter(self, images: Tensor, generator: torch.Generator) -> Tensor:
        """With probability ``jitter_prob`` per image: brightness, contrast, saturation and hue changes, in one
        random order per batch (torchvision's ``ColorJitter`` order rule). Grey images get brightness and
        contrast only."""
        n, s = len(images), self.jitter_strength
        if s == 0 or self.jitter_prob == 0:
            return images
        apply = (self._uniform(n, 0, 1, generator, images) < self.jitter_prob).view(-1, 1, 1, 1)
        ops = ["brightness", "contrast"] + (["saturation", "hue"] if images.shape[1] == 3 else [])
        order = torch.randperm(len(ops), generator=generator, device=generator.device).tolist()
        x = images
        for index in order:
            op = ops[index]
            if op == "hue":
                x = shift_hue(x, self._uniform(n, -0.2 * s, 0.2 * s, generator, images))
            else:
                factor = self._uniform(n, 1 - 0.8 * s, 1 + 0.8 * s, generator, images).view(-1, 1, 1, 1)
                x = {"brightness": adjust_brightness, "contrast": adjust_contrast,
                     "saturation": adjust_saturation}[op](x, factor)
        return torch.where(apply, x, images)

    def random_grayscale(self, images: Tensor, generator: torch.Generator) -> Tensor:
        """With probability ``grayscale_prob`` per image, an RGB image becomes its grey version (three equal
        channels); grey images are left as they are."""
        if images.shape[1] != 3 or self.grayscale_prob == 0:
            return images
        apply = (self._uniform(len(images), 0, 1, generator, images) < self.grayscale_prob).view(-1, 1, 1, 1)
        return torch.where(apply, grayscale(images).expand_as(images), images)


def grayscale(images: Tensor) -> Tensor:
    """ITU-R 601 luma of RGB images in [0, 1], one channel (torchvision's weights). Machinery behind chapter 09."""
    if images.shape[1] == 1:
        return images
    r, g, b = images.unbind(1)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


def adjust_brightness(images: Tensor, factor: Tensor) -> Tensor:
    """Scale the pixels by ``factor`` (torchvision's definition), clamped to [0, 1]. Machinery behind chapter 09."""
    return (images * factor).clamp(0, 1)


def adjust_contrast(images: Tensor, factor: Tensor) -> Tensor:
    """Blend with the image's mean grey level (torchvision's definition). Machinery behind chapter 09."""
    mean = grayscale(images).mean(dim=(1, 2, 3), keepdim=True)
    return (mean + factor * (images - mean)).clamp(0, 1)


def adjust_saturation(images: Tensor, factor: Tensor) -> Tensor:
    """Blend with the image's grey version (torchvision's definition). Machinery behind chapter 09."""
    grey = grayscale(images)
    return (grey + factor * (images - grey)).clamp(0, 1)


def shift_hue(images: Tensor, shift: Tensor) -> Tensor:
    """Rotate the hue of RGB images in [0, 1] by ``shift`` (fractions of a turn, one per image) in HSV space.

    Machinery behind chapter 09."""
    hue, saturation, value = rgb_to_hsv(images).unbind(1)
    hue = (hue + shift.view(-1, 1, 1)) % 1.0
    return hsv_to_rgb(torch.stack([hue, saturation, value], dim=1))


def rgb_to_hsv(images: Tensor) -> Tensor:
    """RGB in [0, 1] → HSV with every component in [0, 1] (hue in turns). Machinery behind chapter 09."""
    r, g, b = images.unbind(1)
    value, argmax = images.max(dim=1)
    chroma = value - images.min(dim=1).values
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    hue = torch.where(argmax == 0, ((g - b) / safe) % 6,
                      torch.where(argmax == 1, (b - r) / safe + 2, (r - g) / safe + 4)) / 6
    hue = torch.where(chroma > 0, hue, torch.zeros_like(hue))
    saturation = torch.where(value > 0, chroma / torch.where(value > 0, value, torch.ones_like(value)),
                             torch.zeros_like(value))
    return torch.stack([hue, saturation, value], dim=1)


def hsv_to_rgb(images: Tensor) -> Tensor:
    """The inverse of :func:`rgb_to_hsv`. Machinery behind chapter 09."""
    hue, saturation, value = images.unbind(1)
    k = torch.stack([(5 + hue * 6) % 6, (3 + hue * 6) % 6, (1 + hue * 6) % 6], dim=1)
    ramp = torch.clamp(torch.minimum(k, 4 - k), 0, 1)
    return value.unsqueeze(1) - (value * saturation).unsqueeze(1) * ramp


# -------------------------------------------------------------------------------------------- loss
def nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.5) -> Tensor:
    """NT-Xent (SimCLR Eq. 1), averaged over all 2N anchors.

    ``z1[i]`` and ``z2[i]`` are the two views of image ``i``. With the 2N vectors L2-normalised and
    ``s(a, b)`` their cosine, the loss of anchor ``a`` with positive ``p`` is
    ``−log exp(s(a, p)/τ) / Σ_{k ≠ a} exp(s(a, k)/τ)``: cross-entropy over the other 2N − 1 views.

    Introduced in chapter 09.
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"z1 and z2 must be (N, D) of equal shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if len(z1) < 2:
        raise ValueError("nt_xent needs a batch of at least 2 images (each anchor needs a negative)")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.T) / temperature
    self_pairs = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_pairs, float("-inf"))
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, positives)


# ------------------------------------------------------------------------------------------ models
class ProjectionHead(nn.Module):
    """SimCLR's ``g``: Linear(d, hidden) → ReLU → Linear(hidden, out) (hidden = d by default).

    Introduced in chapter 09."""

    def __init__(self, in_dim: int, hidden_dim: int | None = None, out_dim: int = 128):
        super().__init__()
        hidden_dim = hidden_dim or in_dim
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        """``g(x)``: the projection of encoder features ``x``."""
        return self.net(x)


def encoder_state(model: nn.Module) -> dict[str, Tensor]:
    """The feature layers' weights of a :class:`~ltdd.models.FeatureClassifier` (its ``classifier`` left out),
    copied to the CPU: what initialises a classifier of any class count.

    Introduced in chapter 09."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if not k.startswith("classifier.")}


def load_encoder(model: nn.Module, state: dict[str, Tensor]) -> nn.Module:
    """Copy an :func:`encoder_state` into ``model``'s feature layers; its classifier keeps its own (fresh)
    weights, so the class count may differ from the pre-training network's. A state that does not fit (another
    architecture or width) is a ``ValueError`` naming the first mismatching layers.

    Introduced in chapter 09."""
    own = model.state_dict()
    unknown = sorted(set(state) - set(own))
    missing = sorted(k for k in own if not k.startswith("classifier.") and k not in state)
    mismatched = sorted(k for k in set(state) & set(own) if state[k].shape != own[k].shape)
    if unknown or missing or mismatched:
        details = [f"{name}: {keys[:3]}" for name, keys in
                   (("unexpected", unknown), ("missing", missing), ("shape differs", mismatched)) if keys]
        raise ValueError("encoder state does not fit this model (another architecture or width?); "
                         + "; ".join(details))
    model.load_state_dict(state, strict=False)
    return model


# -------------------------------------------------------------------------------------- pre-training
@dataclass(frozen=True)
class SimCLRConfig:
    """Pre-training settings. Optimiser as CRLT-DD's SimCLR (Adam 3e-4, weight decay 1e-4, batch 256) with a
    cosine learning-rate decay over the epochs; loss and head as SimCLR's CIFAR setting (τ = 0.5).

    Introduced in chapter 09."""

    epochs: int = 100
    batch_size: int = 256
    lr: float = 3e-4
    weight_decay: float = 1e-4
    temperature: float = 0.5
    head: str = "mlp"
    """``"mlp"``: the projection head; ``"none"``: NT-Xent on the encoder's features, as CRLT-DD's code does."""
    projection_dim: int = 128
    cosine: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "projection_dim"):
            positive_int(name, getattr(self, name))
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (NT-Xent needs negatives), got {self.batch_size}")
        if self.head not in HEADS:
            raise ValueError(f"head={self.head!r} is unknown; choose one of {list(HEADS)}")
        if not self.lr > 0 or not self.temperature > 0:
            raise ValueError(f"lr and temperature must be > 0, got {self.lr!r} and {self.temperature!r}")


@dataclass
class SimCLRResult:
    """A pre-trained encoder: its feature-layer weights, the mean NT-Xent loss of every epoch, the settings.

    Machinery behind chapter 09."""

    encoder: dict[str, Tensor]
    losses: list[float]
    settings: dict

    def save(self, path: str | Path) -> Path:
        """Write the encoder weights, losses and settings atomically to ``path``."""
        return atomic_save({"encoder": self.encoder, "losses": self.losses, "settings": self.settings}, path)

    @classmethod
    def load(cls, path: str | Path) -> "SimCLRResult":
        """Read a result written by :meth:`save` (onto the CPU)."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        return cls(state["encoder"], state["losses"], state["settings"])


class SimCLRTrainer:
    """Pre-train ``model``'s feature layers with SimCLR on ``images`` (normalised as ``dataset``'s).

    The state (encoder, head, optimiser, scheduler, generator, losses) is saved after every epoch when a
    ``checkpoint`` path is given, atomically; :meth:`resume` continues from it to the same result.

    Introduced in chapter 09.
    """

    def __init__(self, images: Tensor, dataset: ImageDataset, config: SimCLRConfig = SimCLRConfig(),
                 model: str = "convnet", model_options: dict | None = None, views: SimCLRViews | None = None,
                 seed: int = 0):
        from .config import make_generator

        if images.ndim != 4 or tuple(images.shape[1:]) != dataset.image_shape:
            raise ValueError(f"images must be (N, *{dataset.image_shape}) like {dataset.name!r}'s, "
                             f"got {tuple(images.shape)}")
        if len(images) < 2:
            raise ValueError(f"SimCLR needs at least 2 images, got {len(images)}")
        self.images, self.dataset, self.config = images.to(dataset.device), dataset, config
        self.views = views or SimCLRViews.for_dataset(dataset)
        self.model_name, self.model_options, self.seed = model, dict(model_options or {}), seed
        self.encoder = get_model(model, dataset.channels, dataset.num_classes, dataset.image_size,
                                 generator=make_generator(seed, "simclr-init"), **self.model_options)
        self.encoder.to(dataset.device)
        dim = self.encoder.feature_dim
        self.head = (ProjectionHead(dim, dim, config.projection_dim) if config.head == "mlp" else nn.Identity())
        if config.head == "mlp":
            from .models import reset_parameters

            reset_parameters(self.head, make_generator(seed, "simclr-head"))
        self.head.to(dataset.device)
        parameters = [p for name, p in self.encoder.named_parameters() if not name.startswith("classifier.")]
        self.optimizer = torch.optim.Adam(parameters + list(self.head.parameters()), lr=config.lr,
                                          weight_decay=config.weight_decay)
        self.scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=config.epochs)
                          if config.cosine else None)
        self.generator = make_generator(seed, "simclr-train", device=dataset.device)
        self.losses: list[float] = []

    def settings(self) -> dict:
        """What a checkpoint must share with the trainer that resumes it: config, views, model, seed, dataset and
        number of images."""
        return {"config": dataclasses.asdict(self.config), "views": dataclasses.asdict(self.views),
                "model": self.model_name, "model_options": self.model_options, "seed": self.seed,
                "dataset": self.dataset.name, "num_images": len(self.images)}

    def project(self, normalised: Tensor) -> Tensor:
        """``g(f(x))``: the head applied to the encoder's features of normalised images."""
        return self.head(self.encoder.embed(normalised))

    def two_views(self, batch: Tensor) -> tuple[Tensor, Tensor]:
        """Two views of a batch of normalised images, normalised again after augmenting in pixel space."""
        from .data.core import normalize

        pixels = self.dataset.denormalize(batch).clamp(0, 1)
        mean, std = self.dataset.mean, self.dataset.std
        return (normalize(self.views(pixels, self.generator), mean, std),
                normalize(self.views(pixels, self.generator), mean, std))

    def epoch(self) -> float:
        """One pass over the images in a random order; returns the mean NT-Xent loss. A last batch of one
        image is skipped (it has no negative)."""
        self.encoder.train()
        order = torch.randperm(len(self.images), generator=self.generator, device=self.generator.device)
        order = order.to(self.images.device)
        total, seen = torch.zeros((), device=self.images.device), 0
        for start in range(0, len(order), self.config.batch_size):
            index = order[start:start + self.config.batch_size]
            if len(index) < 2:
                continue
            view1, view2 = self.two_views(self.images[index])
            loss = nt_xent(self.project(view1), self.project(view2), self.config.temperature)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += loss.detach() * len(index)
            seen += len(index)
        if self.scheduler is not None:
            self.scheduler.step()
        self.losses.append(total.item() / seen)
        return self.losses[-1]

    @torch.no_grad()
    def evaluate_loss(self, batches: int = 1, seed: int = 12345) -> float:
        """NT-Xent on fixed views of the first ``batch_size`` images (its own generator: a fair before/after
        comparison that leaves the training stream untouched)."""
        from .config import make_generator

        saved, self.generator = self.generator, make_generator(seed, "simclr-probe", device=self.dataset.device)
        self.encoder.eval()
        try:
            batch = self.images[: self.config.batch_size]
            losses = [nt_xent(*(self.project(v) for v in self.two_views(batch)), self.config.temperature).item()
                      for _ in range(batches)]
        finally:
            self.generator = saved
            self.encoder.train()
        return sum(losses) / len(losses)

    def state_dict(self) -> dict:
        """The checkpoint: settings, losses, encoder, head, optimiser, scheduler and generator state."""
        return {"settings": self.settings(), "epochs_done": len(self.losses), "losses": list(self.losses),
                "encoder": {k: v.detach().cpu().clone() for k, v in self.encoder.state_dict().items()},
                "head": {k: v.detach().cpu().clone() for k, v in self.head.state_dict().items()},
                "optimizer": self.optimizer.state_dict(),
                "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`; one written with other settings is a ``ValueError``."""
        different = settings_mismatch(state["settings"], self.settings())
        if different:
            raise ValueError(f"SimCLR checkpoint was written with other settings: {different}")
        self.encoder.load_state_dict(state["encoder"])
        self.head.load_state_dict(state["head"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        self.losses = list(state["losses"])

    def resume(self, checkpoint: str | Path) -> bool:
        """Load ``checkpoint`` if it exists; returns whether it did."""
        if not Path(checkpoint).is_file():
            return False
        try:  # weights_only: a checkpoint someone sent cannot run code
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except Exception as error:
            raise ValueError(f"{checkpoint} is not a readable SimCLR checkpoint: {error}") from error
        self.load_state_dict(state)
        return True

    def run(self, checkpoint: str | Path | None = None, progress: bool = True) -> SimCLRResult:
        """Train until ``config.epochs`` epochs are done (saving ``checkpoint`` after each)."""
        bar = tqdm(range(len(self.losses), self.config.epochs), desc="SimCLR", disable=not progress)
        for _ in bar:
            bar.set_postfix(loss=f"{self.epoch():.4f}")
            if checkpoint is not None:
                atomic_save(self.state_dict(), checkpoint)
        return SimCLRResult(encoder_state(self.encoder), list(self.losses), self.settings())


def pretrain_simclr(images: Tensor, dataset: ImageDataset, config: SimCLRConfig = SimCLRConfig(),
                    model: str = "convnet", model_options: dict | None = None, seed: int = 0,
                    views: SimCLRViews | None = None, checkpoint: str | Path | None = None,
                    progress: bool = True) -> SimCLRResult:
    """Pre-train an encoder with SimCLR on ``images`` (e.g. a long-tailed training set; labels are not used).

    With ``checkpoint``, an existing file there is resumed and the state is saved after every epoch.

    Introduced in chapter 09.
    """
    trainer = SimCLRTrainer(images, dataset, config, model, model_options, views, seed)
    if checkpoint is not None:
        trainer.resume(checkpoint)
    return trainer.run(checkpoint, progress)


__all__ = ["HEADS", "ProjectionHead", "SimCLRConfig", "SimCLRResult", "SimCLRTrainer", "SimCLRViews",
           "adjust_brightness", "adjust_contrast", "adjust_saturation", "encoder_state", "grayscale",
           "hsv_to_rgb", "load_encoder", "nt_xent", "pretrain_simclr", "rgb_to_hsv", "shift_hue"]
