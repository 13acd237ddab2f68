"""Differentiable Siamese Augmentation (DSA; Zhao & Bilen, ICML 2021), vectorised on the device.

DSA augments real and synthetic images with the *same* random transformation before they are compared, and
every operation is differentiable, so gradients flow back into the synthetic pixels. The magnitudes are the
reference's (:class:`DSAParams`); all operations act on normalised images, so a zero fill equals the mean.

Random draws are split from their application:

* :meth:`DSA.sample` draws one parameter set per *group* (a tensor per operation),
* :meth:`DSA.apply` applies row ``group[i]`` of those parameters to image ``i``.

That gives the three uses in one mechanism:

* **Siamese, one class at a time** (the reference): one group, applied to the class's real and synthetic
  batch;
* **Siamese, all classes in one pass**: group = class label, the same draw applied to the real batch and to
  the synthetic batch — the class-by-class statistics of the reference, in one forward;
* **per-sample** (training an evaluation network): one group per image, calling a :class:`~ltdd.augment.DSA`.

Mode ``"S"`` (the reference default) applies one randomly chosen family of the strategy per group; mode
``"M"`` applies every family in order. No per-image Python loop runs anywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .checks import positive_int

DEFAULT_STRATEGY = "color_crop_cutout_flip_scale_rotate"
FAMILIES = ("color", "crop", "cutout", "flip", "scale", "rotate")


@dataclass(frozen=True)
class DSAParams:
    """Magnitudes of the reference ``ParamDiffAug``. Machinery behind chapter 05."""

    prob_flip: float = 0.5
    ratio_scale: float = 1.2
    ratio_rotate: float = 15.0
    ratio_crop_pad: float = 0.125
    ratio_cutout: float = 0.5
    brightness: float = 1.0
    saturation: float = 2.0
    contrast: float = 0.5


def strategy_for(hflip_safe: bool, strategy: str = DEFAULT_STRATEGY) -> str:
    """The reference strategy, without ``flip`` for digit datasets (a mirrored digit changes meaning).

    Introduced in chapter 10."""
    families = [f for f in parse_strategy(strategy) if hflip_safe or f != "flip"]
    return "_".join(families)


def parse_strategy(strategy: str) -> list[str]:
    """Split a strategy string such as ``"color_crop_cutout"`` into its families, checking each name.

    Machinery behind chapter 05."""
    families = [f for f in str(strategy).split("_") if f]
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise ValueError(f"strategy={strategy!r} must join families from {list(FAMILIES)} with '_'")
    return families


class DSA:
    """Differentiable Siamese Augmentation with the reference's parameter ranges.

    >>> dsa = DSA("color_crop_cutout_scale_rotate")
    >>> params = dsa.sample(num_groups=10, generator=g, device=x.device)   # one set per class
    >>> real_aug = dsa.apply(real, params, real_labels)                    # same draw for a class's
    >>> syn_aug = dsa.apply(syn, params, syn_labels)                       # real and synthetic images

    Introduced in chapter 05.
    """

    def __init__(self, strategy: str = DEFAULT_STRATEGY, mode: str = "S", params: DSAParams = DSAParams()):
        if mode not in ("S", "M"):
            raise ValueError(f"mode={mode!r} must be 'S' (one family per group) or 'M' (all families)")
        self.families = parse_strategy(strategy)
        self.strategy = "_".join(self.families)
        self.mode = mode
        self.params = params

    def __repr__(self) -> str:
        return f"DSA(strategy={self.strategy!r}, mode={self.mode!r})"

    # ------------------------------------------------------------------ drawing
    def sample(self, num_groups: int, generator: torch.Generator, device: torch.device | str | None = None,
               image_size: int = 32, shared_family: bool = False) -> dict[str, Tensor]:
        """Draw ``num_groups`` parameter sets (each a row of every tensor).

        ``image_size`` sets the crop shift and cutout size; ``shared_family`` picks one family for all
        groups in mode ``S`` (the reference's behaviour for a per-sample training batch).
        """
        positive_int("num_groups", num_groups)
        p, g = self.params, num_groups

        def uniform(*shape: int) -> Tensor:
            return torch.rand(shape, generator=generator, device=generator.device)

        def integers(low: int, high: int) -> Tensor:
            return torch.randint(low, high, (g,), generator=generator, device=generator.device)

        shift = int(image_size * p.ratio_crop_pad + 0.5)
        cut = int(image_size * p.ratio_cutout + 0.5)
        draws = {
            "brightness": (uniform(g) - 0.5) * p.brightness,
            "saturation": uniform(g) * p.saturation,
            "contrast": uniform(g) + p.contrast,
            "shift": torch.stack([integers(-shift, shift + 1), integers(-shift, shift + 1)], 1),
            "cutout_center": torch.stack([integers(0, image_size + (1 - cut % 2)),
                                          integers(0, image_size + (1 - cut % 2))], 1),
            "flip": uniform(g) < p.prob_flip,
            "scale": uniform(g, 2) * (p.ratio_scale - 1.0 / p.ratio_scale) + 1.0 / p.ratio_scale,
            "angle": (uniform(g) - 0.5) * 2 * p.ratio_rotate / 180 * math.pi,
        }
        if self.mode == "S":
            count = 1 if shared_family else g
            family = torch.randint(0, len(self.families), (count,), generator=generator,
                                   device=generator.device)
            draws["family"] = family.expand(g)
        device = generator.device if device is None else torch.device(device)
        draws = {k: v.to(device) for k, v in draws.items()}
        draws["cutout_size"] = torch.tensor(cut, device=device)
        return draws

    # ----------------------------------------------------------------- applying
    def apply(self, x: Tensor, params: dict[str, Tensor], group: Tensor | None = None) -> Tensor:
        """Augment ``x`` (N, C, H, W) with parameter row ``group[i]`` for image ``i``.

        ``group=None`` uses row ``i`` for image ``i`` (one group per image).
        """
        if x.ndim != 4:
            raise ValueError(f"x must have shape (N, C, H, W), got {tuple(x.shape)}")
        if group is None:
            group = torch.arange(len(x), device=x.device)
        rows = {k: (v[group] if k != "cutout_size" else v) for k, v in params.items()}
        if self.mode == "M":
            for family in self.families:
                x = self._apply_family(family, x, rows)
            return x
        family_of_image = rows["family"].cpu()  # one device sync; the loop below runs <= 6 times
        out = x
        for index, family in enumerate(self.families):
            chosen = torch.nonzero(family_of_image == index, as_tuple=True)[0]
            if len(chosen) == len(x):
                return self._apply_family(family, x, rows)
            if len(chosen):
                chosen = chosen.to(x.device)
                sub_rows = {k: (v[chosen] if v.ndim else v) for k, v in rows.items()}
                out = out.index_copy(0, chosen, self._apply_family(family, x[chosen], sub_rows))
        return out

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Per-sample augmentation (training an evaluation network): one family per call, as the reference."""
        params = self.sample(len(x), generator, x.device, image_size=x.shape[-1], shared_family=True)
        return self.apply(x, params)

    def siamese(self, real: Tensor, synthetic: Tensor, real_groups: Tensor, synthetic_groups: Tensor,
                num_groups: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Augment real and synthetic images with one shared draw per group (e.g. per class)."""
        params = self.sample(num_groups, generator, real.device, image_size=real.shape[-1])
        return self.apply(real, params, real_groups), self.apply(synthetic, params, synthetic_groups)

    def _apply_family(self, family: str, x: Tensor, rows: dict[str, Tensor]) -> Tensor:
        if family == "color":
            x = brightness(x, rows["brightness"])
            x = saturation(x, rows["saturation"])
            return contrast(x, rows["contrast"])
        if family == "crop":
            return translate(x, rows["shift"])
        if family == "cutout":
            return cutout(x, rows["cutout_center"], int(rows["cutout_size"]))
        if family == "flip":
            return torch.where(rows["flip"].view(-1, 1, 1, 1), x.flip(3), x)
        if family == "scale":
            zeros = torch.zeros_like(rows["scale"][:, 0])
            theta = torch.stack([torch.stack([rows["scale"][:, 0], zeros, zeros], 1),
                                 torch.stack([zeros, rows["scale"][:, 1], zeros], 1)], 1)
            return affine(x, theta)
        if family == "rotate":
            angle = rows["angle"]
            cos, sin, zeros = torch.cos(angle), torch.sin(angle), torch.zeros_like(angle)
            theta = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
            return affine(x, theta)
        raise AssertionError(family)


# ---------------------------------------------------------------------- the operations, per image row
def brightness(x: Tensor, shift: Tensor) -> Tensor:
    """``x + (U − ½)·brightness``. Machinery behind chapter 05."""
    return x + shift.view(-1, 1, 1, 1).to(x.dtype)


def saturation(x: Tensor, factor: Tensor) -> Tensor:
    """``(x − m_c)·(2U) + m_c`` with ``m_c`` the per-pixel mean over channels. Machinery behind chapter 05."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * factor.view(-1, 1, 1, 1).to(x.dtype) + mean


def contrast(x: Tensor, factor: Tensor) -> Tensor:
    """``(x − m)·(U + ½) + m`` with ``m`` the per-image mean over C, H, W. Machinery behind chapter 05."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * factor.view(-1, 1, 1, 1).to(x.dtype) + mean


def translate(x: Tensor, shift: Tensor) -> Tensor:
    """Integer translation by ``shift[:, 0]`` rows and ``shift[:, 1]`` columns, zero fill (DSA crop).

    Machinery behind chapter 05."""
    n, _, h, w = x.shape
    rows = torch.arange(h, device=x.device).view(1, h, 1) + shift[:, 0].view(n, 1, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w) + shift[:, 1].view(n, 1, 1)
    padded = F.pad(x, [1, 1, 1, 1])
    rows = rows.clamp(-1, h).add(1).expand(n, h, w)  # out-of-range reads land on the zero border
    cols = cols.clamp(-1, w).add(1).expand(n, h, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1).expand(n, h, w)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: Tensor, center: Tensor, size: int) -> Tensor:
    """Zero a ``size``×``size`` square centred at ``center`` (clipped to the image). Machinery behind chapter 05."""
    n, _, h, w = x.shape
    top = (center[:, 0] - size // 2).view(n, 1, 1)
    left = (center[:, 1] - size // 2).view(n, 1, 1)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def affine(x: Tensor, theta: Tensor) -> Tensor:
    """Bilinear resampling under 2×3 affine maps ``theta`` (N, 2, 3), zero padding, ``align_corners=True``
    (the original code ran on torch 1.2, whose default this was).

    Machinery behind chapter 05."""
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
