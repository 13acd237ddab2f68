"""The ten Hendrycks corruptions of CCIFAR10-DD, with the CIFAR-10-C (32 px) parameters, on batches.

Corrupted CIFAR-10 (LfF; Biased-DD's CCIFAR10-DD) gives every training image one *attribute* ``a`` and applies
corruption ``CORRUPTIONS[a]``; an image is bias-aligned when its attribute equals its class. The corruptions
and their parameter tables are those of CIFAR-10-C (Hendrycks & Dietterich, ``make_cifar_c.py``), which are
**not** the ImageNet-C ones of the ``imagecorruptions`` package. This module re-implements them from their
description (no original code, no OpenCV, scikit-image or ImageMagick) and vectorises them over the batch.

>>> import torch
>>> from ltdd.data.corruptions import CORRUPTIONS, corrupt, corrupt_biased_dd
>>> x = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
>>> corrupt(x, "fog", level=3, generator=torch.Generator().manual_seed(1)).shape
torch.Size([8, 3, 32, 32])
>>> CORRUPTIONS[:3]
('snow', 'frost', 'fog')

Conventions
-----------
* Images are tensors ``(N, 3, H, W)``: floating point in ``[0, 1]`` (any float dtype, returned in the same
  dtype) or ``uint8`` in ``[0, 255]`` (returned as ``uint8``). The parameters are those for 32×32 images;
  other sizes run but keep the 32 px parameters (pixel-valued blur radii, frost crop, fog map).
* ``level`` is the CIFAR-10-C level 1..5. Biased-DD's ``severity`` s ∈ {1, 2, 3, 4} is level ``s + 1``
  (:func:`corrupt_biased_dd`).
* Randomness: one 63-bit seed per image is drawn from the ``torch.Generator`` (or passed as ``seeds``); every
  random quantity of image ``i`` comes from ``numpy.random.default_rng(seeds[i])``. An image's output
  therefore depends only on its pixels, its seed, the corruption and the level — not on the batch it is
  in — so ``corrupt(x, ..., seeds=s)[idx] == corrupt(x[idx], ..., seeds=s[idx])``. The random streams
  are not those of the original NumPy global RNG, so outputs are statistically, not bit-wise, equal to
  CIFAR-10-C / CCIFAR10-DD.
* ``quantize=True`` (default) truncates the result to a multiple of 1/255 as Biased-DD does when it stores
  its images (``np.array(...).astype(uint8)`` then ``/255``). JPEG and pixelate run on 8-bit images as in
  the original (PIL), so their output is always a multiple of 1/255 (rounded by the codec / resampler).

The corruptions (CIFAR-10-C level tables in :data:`CIFAR10_C_PARAMS`):

``snow``
    Gaussian snow layer, zoomed, thresholded, 8-bit, motion-blurred along an angle in
    U(−135°, −45°) (a re-implementation of ImageMagick's one-sided Gaussian motion blur,
    edge pixels replicated); image brightened toward ``1.5·gray + 0.5``; layer and its 180°
    rotation added.

``frost``
    ``a·x + b·crop`` of a random frost texture (one of frost1..frost5; frost6 is never picked,
    as in every original), downscaled ×0.2 (nearest-sample, which is what OpenCV's bilinear
    resize does at an integer factor of 5) and randomly cropped. Needs the original textures
    (read from an installed ``imagecorruptions`` wheel, never imported, or from a directory);
    ``frost_textures="procedural"`` is an explicit, non-original substitute. See
    :func:`frost_textures`.

``fog``
    ``x + s·plasma`` (diamond-square plasma fractal on a 32×32 torus, wibble 100, the original
    ``wibble·U(−wibble, wibble)`` noise), rescaled by ``max/(max + s)``.

``brightness``
    HSV value ``V + c`` (clipped). ``contrast``: ``(x − mean_c)·c + mean_c`` per channel.

``saturate``
    HSV saturation ``S·a + b`` (clipped).

``spatter``
    Gaussian liquid layer, blurred, thresholded. Water (levels 1–3): pale-turquoise drops shaped
    by the distance to the layer's Canny edges (OpenCV's Canny, 5×5 chamfer distance transform,
    histogram equalisation, emboss filter and box blurs re-implemented), scaled by the layer. Mud
    (levels 4–5): a brown, blurred, thresholded mask blended over the image.

``elastic``
    random affine warp of three points around the centre (bilinear, reflect-101 border), then a
    smooth random displacement field (Gaussian-filtered U(−1, 1) × alpha, bilinear, reflect).
    Level 1 has alpha = 0: affine only.

``jpeg``
    PIL JPEG encode/decode at the level's quality.

``pixelate``
    PIL BOX resize down to ``int(32·c)`` and back up (PIL's separable 8-bit fixed-point
    resampling reproduced exactly, as one integer matrix product per pass).

Deterministic (no randomness): brightness, contrast, saturate, jpeg, pixelate. Random: snow, frost, fog,
spatter, elastic.
"""

from __future__ import annotations

import functools
import importlib.metadata
import io
import math
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy import ndimage
from torch import Tensor


__all__ = [
    "sample_photo_crops",
    "CORRUPTIONS",
    "DETERMINISTIC_CORRUPTIONS",
    "CIFAR10_C_PARAMS",
    "FROST_TEXTURES_ENV",
    "FrostTexturesMissing",
    "corrupt",
    "corrupt_biased_dd",
    "draw_seeds",
    "frost_textures",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "spatter",
    "elastic",
    "jpeg",
    "pixelate",
    "saturate",
]

CORRUPTIONS: tuple[str, ...] = (
    "snow", "frost", "fog", "brightness", "contrast", "spatter", "elastic", "jpeg", "pixelate", "saturate",
)
"""Biased-DD / LfF order: attribute k ↔ corruption ``CORRUPTIONS[k]`` ↔ the class it is aligned with
(0 airplane: snow, 1 automobile: frost, …, 9 truck: saturate)."""

DETERMINISTIC_CORRUPTIONS: frozenset[str] = frozenset({"brightness", "contrast", "jpeg", "pixelate", "saturate"})
"""Corruptions that use no randomness (the generator / seeds do not change their output)."""

_ALIASES = {"elastic_transform": "elastic", "jpeg_compression": "jpeg"}

CIFAR10_C_PARAMS: dict[str, tuple[tuple[float, ...], ...]] = {
    # loc, scale, zoom, threshold, blur radius, blur sigma, blend
    "snow": ((0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9), (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
             (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85), (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)),
    # image weight, frost weight
    "frost": ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)),
    # strength, wibble decay
    "fog": ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)),
    # added to V (HSV)
    "brightness": ((0.05,), (0.1,), (0.15,), (0.2,), (0.3,)),
    # contrast factor
    "contrast": ((0.75,), (0.5,), (0.4,), (0.3,), (0.15,)),
    # loc, scale, sigma, threshold, intensity, mud (0 water, 1 mud)
    "spatter": ((0.62, 0.1, 0.7, 0.7, 0.5, 0), (0.65, 0.1, 0.8, 0.7, 0.5, 0), (0.65, 0.3, 1, 0.69, 0.5, 0),
                (0.65, 0.1, 0.7, 0.69, 0.6, 1), (0.65, 0.1, 0.5, 0.68, 0.6, 1)),
    # alpha, sigma, affine shift (pixels; 32 × (0, 0, .08), (.05, .2, .07), (.08, .06, .06), (.1, .04, .05),
    # (.1, .03, .03))
    "elastic": ((0.0, 0.0, 2.56), (1.6, 6.4, 2.24), (2.56, 1.92, 1.92), (3.2, 1.28, 1.6), (3.2, 0.96, 0.96)),
    # PIL JPEG quality
    "jpeg": ((80,), (65,), (58,), (50,), (40,)),
    # resize factor
    "pixelate": ((0.95,), (0.9,), (0.85,), (0.75,), (0.65,)),
    # S·a + b (HSV)
    "saturate": ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)),
}
"""CIFAR-10-C parameters, ``CIFAR10_C_PARAMS[name][level - 1]`` (``make_cifar_c.py``, = LfF / Biased-DD)."""

FROST_TEXTURES_ENV = "LTDD_FROST_TEXTURES"
FROST_FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")
"""The five textures the originals pick from (``randint(5)``: frost6.jpg is shipped but never used)."""
_FROST_DOWNSCALED_SHAPES = ((120, 180), (63, 112), (63, 112), (70, 105), (99, 132))
_FROST_INSTALL_HINT = (
    "The frost corruption needs the Hendrycks frost textures frost1.png, frost2.png, frost3.png, frost4.jpg, "
    "frost5.jpg. Either install the files of the `imagecorruptions` wheel without its dependencies "
    "(`pip install --no-deps imagecorruptions==1.1.2`, 2.1 MB; ltdd only reads its image files and never "
    f"imports it), or pass frost_textures=<directory holding those five files> (or set ${FROST_TEXTURES_ENV}), "
    "e.g. LfF's data/resource. frost_textures='procedural' uses a procedural substitute that is NOT the "
    "original texture set."
)


class FrostTexturesMissing(FileNotFoundError):
    """The original frost textures could not be found (the message says how to get them). Introduced in chapter 03."""


# --------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------

def corrupt(
    images: Tensor,
    name: str,
    level: int,
    generator: torch.Generator | None = None,
    *,
    seeds: Tensor | Sequence[int] | None = None,
    quantize: bool = True,
    frost_textures: str | os.PathLike | None = None,
) -> Tensor:
    """Apply corruption ``name`` at CIFAR-10-C ``level`` (1..5) to every image of ``images`` ``(N, 3, H, W)``.

    ``generator`` draws one seed per image (PyTorch's default generator if ``None``); ``seeds`` (``N``
    integers) replaces it. The output has the input's shape, dtype and device (see the module docstring for
    the value conventions and ``quantize``). ``frost_textures`` is only read by ``frost``
    (:func:`frost_textures`).

    Machinery behind chapter 03.
    """
    name = _check_name(name)
    level = _check_int(level, "level", 1, 5)
    source = _check_images(images)
    seeds_np = _seeds(len(source), generator, seeds)
    out = _apply(source, name, level, seeds_np, frost_textures, quantize)
    return out.to(images.device)


def corrupt_biased_dd(
    images: Tensor,
    attributes: Tensor | Sequence[int],
    severity: int,
    generator: torch.Generator | None = None,
    *,
    seeds: Tensor | Sequence[int] | None = None,
    quantize: bool = True,
    frost_textures: str | os.PathLike | None = None,
) -> Tensor:
    """CCIFAR10-DD: image ``i`` gets corruption ``CORRUPTIONS[attributes[i]]`` at CIFAR-10-C level
    ``severity + 1`` (Biased-DD severity 1..4 → level 2..5).

    One seed per image is drawn from ``generator`` first (or given as ``seeds``), so the result for the images
    with attribute ``k`` equals ``corrupt(images[m], CORRUPTIONS[k], severity + 1, seeds=seeds[m])``
    with ``m = attributes == k``.

    Machinery behind chapter 03.
    """
    severity = _check_int(severity, "severity", 1, 4)
    source = _check_images(images)
    attrs = torch.as_tensor(attributes).detach().cpu()
    if attrs.ndim != 1 or len(attrs) != len(source):
        raise ValueError(f"attributes must have shape ({len(source)},), got {tuple(attrs.shape)}")
    if attrs.dtype.is_floating_point or attrs.dtype == torch.bool:
        raise ValueError(f"attributes must be integers in 0..{len(CORRUPTIONS) - 1}, got dtype {attrs.dtype}")
    attrs = attrs.long().numpy()
    if len(attrs) and (attrs.min() < 0 or attrs.max() >= len(CORRUPTIONS)):
        raise ValueError(f"attributes must be in 0..{len(CORRUPTIONS) - 1}, got values {attrs.min()}..{attrs.max()}")
    seeds_np = _seeds(len(source), generator, seeds)
    out = torch.empty_like(source)
    for k, name in enumerate(CORRUPTIONS):
        index = np.flatnonzero(attrs == k)
        if len(index):
            rows = torch.from_numpy(index)
            out[rows] = _apply(source[rows], name, severity + 1, seeds_np[index], frost_textures, quantize)
    return out.to(images.device)


def _public(name: str) -> Callable[..., Tensor]:
    def apply(images: Tensor, level: int, generator: torch.Generator | None = None, **options) -> Tensor:
        return corrupt(images, name, level, generator, **options)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = (f"``corrupt(images, {name!r}, level, generator, **options)``: CIFAR-10-C {name}, "
                     f"parameters per level {CIFAR10_C_PARAMS[name]}. Machinery behind chapter 03 (the corruption "
                     "gallery).")
    return apply


snow = _public("snow")
frost = _public("frost")
fog = _public("fog")
brightness = _public("brightness")
contrast = _public("contrast")
spatter = _public("spatter")
elastic = _public("elastic")
jpeg = _public("jpeg")
pixelate = _public("pixelate")
saturate = _public("saturate")


# --------------------------------------------------------------------------------------------------------
# Argument handling and conversion
# --------------------------------------------------------------------------------------------------------

def _check_name(name: str) -> str:
    key = name.lower() if isinstance(name, str) else name
    key = _ALIASES.get(key, key)
    if key not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; choices: {', '.join(CORRUPTIONS)}")
    return key


def _check_int(value, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, Tensor)):
        raise ValueError(f"{what} must be an integer in {low}..{high}, got {value!r}")
    if isinstance(value, Tensor):
        if value.numel() != 1 or value.dtype.is_floating_point or value.dtype == torch.bool:
            raise ValueError(f"{what} must be an integer in {low}..{high}, got {value!r}")
        value = value.item()
    value = int(value)
    if not low <= value <= high:
        raise ValueError(f"{what} must be in {low}..{high}, got {value}")
    return value


def _check_images(images: Tensor) -> Tensor:
    """Validate ``(N, 3, H, W)`` float-in-[0, 1] or uint8 images; return them on the CPU."""
    if not isinstance(images, Tensor):
        raise ValueError(f"images must be a torch.Tensor (N, 3, H, W), got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must have shape (N, 3, H, W), got {tuple(images.shape)}")
    if images.dtype != torch.uint8 and not images.dtype.is_floating_point:
        raise ValueError(f"images must be float in [0, 1] or uint8, got dtype {images.dtype}")
    images = images.detach().cpu()
    if images.dtype.is_floating_point and images.numel():
        low, high = images.min().item(), images.max().item()
        if not (math.isfinite(low) and math.isfinite(high)) or low < -1e-6 or high > 1 + 1e-6:
            raise ValueError(f"float images must lie in [0, 1] (un-normalised); got values in [{low:.3g}, {high:.3g}]")
    return images


def _to_numpy(images: Tensor) -> np.ndarray:
    """CPU ``(N, 3, H, W)`` tensor → float64 ``(N, H, W, 3)`` in [0, 1]."""
    if images.dtype == torch.uint8:
        return images.permute(0, 2, 3, 1).numpy().astype(np.float64) / 255.0
    x = np.clip(images.permute(0, 2, 3, 1).to(torch.float64).numpy(), 0.0, 1.0)
    # A float k/255 stands for the 8-bit value k (CIFAR as ToTensor gives it): use exactly k/255, so float and
    # uint8 inputs give identical results (moves continuous values by < 1e-4/255 at most).
    levels = np.rint(x * 255.0)
    return np.where(np.abs(x * 255.0 - levels) < 1e-4, levels / 255.0, x)


def _from_numpy(out: np.ndarray, dtype: torch.dtype, quantize: bool) -> Tensor:
    """float64 ``(N, H, W, 3)`` result → ``(N, 3, H, W)`` tensor of ``dtype``."""
    out = np.clip(out, 0.0, 1.0)
    if dtype == torch.uint8 or quantize:
        # Biased-DD stores np.array(float_0_255).astype(uint8): truncation (the epsilon keeps exact multiples of
        # 1/255 that picked up rounding noise where they are).
        out = np.floor(out * 255.0 + 1e-6)
        if dtype != torch.uint8:
            out = out / 255.0
    return torch.from_numpy(np.ascontiguousarray(out.transpose(0, 3, 1, 2))).to(dtype)


def draw_seeds(n: int, generator: torch.Generator | None = None) -> Tensor:
    """The ``n`` per-image seeds (int64 in [0, 2**63 − 1)) that :func:`corrupt` and :func:`corrupt_biased_dd`
    draw from ``generator``: ``torch.randint(0, 2**63 - 1, (n,), generator=generator)`` on its device, as a
    CPU tensor. Passing ``seeds=draw_seeds(n, g)`` is the same as passing ``g``.

    Machinery behind chapter 03."""
    device = generator.device if generator is not None else "cpu"
    return torch.randint(0, 2**63 - 1, (n,), generator=generator, device=device).cpu()


def _seeds(n: int, generator: torch.Generator | None, seeds) -> np.ndarray:
    if seeds is None:
        return draw_seeds(n, generator).numpy()
    if generator is not None:
        raise ValueError("pass either generator or seeds, not both")
    s = torch.as_tensor(seeds).detach().cpu()
    if s.ndim != 1 or len(s) != n or s.dtype.is_floating_point or s.dtype == torch.bool:
        raise ValueError(f"seeds must be {n} integers, got shape {tuple(s.shape)} of {s.dtype}")
    return s.long().numpy()


def _rngs(seeds: np.ndarray) -> list[np.random.Generator]:
    return [np.random.default_rng(int(s) & 0x7FFFFFFFFFFFFFFF) for s in seeds]


_CHUNK = 1024
"""Images processed at once (bounds the float64 temporaries; results do not depend on it)."""


def _apply(images: Tensor, name: str, level: int, seeds: np.ndarray, frost_source, quantize: bool) -> Tensor:
    """Corrupt the CPU tensor ``images`` chunk by chunk (bounded memory; the result does not depend on it)."""
    params = CIFAR10_C_PARAMS[name][level - 1]
    textures = frost_textures(frost_source) if name == "frost" else None
    out = torch.empty_like(images)
    for start in range(0, len(images), _CHUNK):
        part = slice(start, start + _CHUNK)
        x = _to_numpy(images[part])
        if name in DETERMINISTIC_CORRUPTIONS:
            y = _DETERMINISTIC[name](x, *params)
        elif name == "frost":
            y = _frost(x, *params, rngs=_rngs(seeds[part]), textures=textures)
        else:
            y = _RANDOM[name](x, *params, rngs=_rngs(seeds[part]))
        out[part] = _from_numpy(y, images.dtype, quantize)
    return out


# --------------------------------------------------------------------------------------------------------
# Shared helpers (all on float64 arrays (N, H, W[, C]))
# --------------------------------------------------------------------------------------------------------

def _gray(x: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, as OpenCV's RGB2GRAY."""
    return x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114


def _blur2d(a: np.ndarray, sigma: float, mode: str, truncate: float = 4.0) -> np.ndarray:
    """Gaussian blur of every ``(H, W)`` plane of ``(N, H, W)``."""
    if sigma <= 0:
        return a.copy()
    return ndimage.gaussian_filter(a, sigma=(0, sigma, sigma), mode=mode, truncate=truncate)


def _box3(a: np.ndarray) -> np.ndarray:
    """OpenCV ``blur(…, (3, 3))`` (reflect-101 border) of every plane of ``(N, H, W)``: the 3×3 sum (exact in
    float64 for the values it gets here) times 1/9, rounded to float32 as OpenCV's float path does."""
    _, h, w = a.shape
    p = np.pad(a.astype(np.float64), ((0, 0), (1, 1), (1, 1)), mode="reflect")
    total = sum(p[:, i:i + h, j:j + w] for i in range(3) for j in range(3))
    return (total * (1.0 / 9.0)).astype(np.float32).astype(np.float64)


def _reflect_index(i: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Map integer indices into ``0..n-1``: ``reflect101`` (d c b | a b c d) or ``symmetric`` (b a | a b)."""
    if n == 1:
        return np.zeros_like(i)
    if mode == "reflect101":
        period = 2 * n - 2
        i = np.mod(i, period)
        return np.where(i >= n, period - i, i)
    period = 2 * n
    i = np.mod(i, period)
    return np.where(i >= n, period - 1 - i, i)


def _bilinear(img: np.ndarray, rows: np.ndarray, cols: np.ndarray, mode: str) -> np.ndarray:
    """Sample ``img`` ``(N, H, W, C)`` at real coordinates ``rows``, ``cols`` ``(N, H', W')``, bilinear, with
    the image extended by ``mode`` (the linear interpolant of the extended image, as OpenCV / SciPy)."""
    n, h, w, _ = img.shape
    r0 = np.floor(rows)
    c0 = np.floor(cols)
    fr = (rows - r0)[..., None]
    fc = (cols - c0)[..., None]
    r0 = r0.astype(np.int64)
    c0 = c0.astype(np.int64)
    ra, rb = _reflect_index(r0, h, mode), _reflect_index(r0 + 1, h, mode)
    ca, cb = _reflect_index(c0, w, mode), _reflect_index(c0 + 1, w, mode)
    b = np.arange(n)[:, None, None]
    top = img[b, ra, ca] * (1 - fc) + img[b, ra, cb] * fc
    bottom = img[b, rb, ca] * (1 - fc) + img[b, rb, cb] * fc
    return top * (1 - fr) + bottom * fr


def _rgb_to_hsv(x: np.ndarray) -> np.ndarray:
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = x.max(axis=-1)
    delta = v - x.min(axis=-1)
    safe_delta = np.where(delta > 0, delta, 1.0)
    s = np.where(v > 0, delta / np.where(v > 0, v, 1.0), 0.0)
    h = np.where(b == v, 4.0 + (r - g) / safe_delta,
                 np.where(g == v, 2.0 + (b - r) / safe_delta, (g - b) / safe_delta))
    h = np.where(delta > 0, (h / 6.0) % 1.0, 0.0)
    return np.stack([h, s, v], axis=-1)


def _hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """Inverse of ``_rgb_to_hsv`` (the six-sector formula, written per channel without a sector table):
    channel ``c = v − v·s·clip(min(k, 4 − k), 0, 1)`` with ``k = (n + 6h) mod 6``, ``n`` = 5, 3, 1 for R, G, B."""
    h, s, v = hsv[..., 0:1], hsv[..., 1:2], hsv[..., 2:3]
    k = np.mod(np.array([5.0, 3.0, 1.0]) + h * 6.0, 6.0)
    return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


# --------------------------------------------------------------------------------------------------------
# Deterministic corruptions
# --------------------------------------------------------------------------------------------------------

def _brightness(x: np.ndarray, c: float) -> np.ndarray:
    hsv = _rgb_to_hsv(x)
    hsv[..., 2] = np.clip(hsv[..., 2] + c, 0, 1)
    return np.clip(_hsv_to_rgb(hsv), 0, 1)


def _saturate(x: np.ndarray, a: float, b: float) -> np.ndarray:
    hsv = _rgb_to_hsv(x)
    hsv[..., 1] = np.clip(hsv[..., 1] * a + b, 0, 1)
    return np.clip(_hsv_to_rgb(hsv), 0, 1)


def _contrast(x: np.ndarray, c: float) -> np.ndarray:
    means = x.mean(axis=(1, 2), keepdims=True)
    return np.clip((x - means) * c + means, 0, 1)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def _jpeg(x: np.ndarray, quality: int) -> np.ndarray:
    x8 = _to_uint8(x)
    out = np.empty_like(x8)
    buffer = io.BytesIO()
    for i, image in enumerate(x8):
        buffer.seek(0)
        buffer.truncate()
        Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality))
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            out[i] = np.asarray(decoded.convert("RGB"))
    return out.astype(np.float64) / 255.0


_PIL_PRECISION_BITS = 32 - 8 - 2


@functools.lru_cache(maxsize=64)
def _box_resize_weights(in_size: int, out_size: int) -> np.ndarray:
    """PIL's ``Image.resize(…, BOX)`` along one axis as an integer matrix ``(out, in)`` of 8-bit fixed-point
    weights (precision 22 bits), so that ``(W @ v + 2**21) >> 22`` clipped to 0..255 is PIL's result."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 0.5 * filterscale
    weights = np.zeros((out_size, in_size))
    for o in range(out_size):
        center = (o + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        taps = np.arange(lo, hi)
        t = (taps - center + 0.5) / filterscale
        w = ((t > -0.5) & (t <= 0.5)).astype(np.float64)
        if w.sum() != 0:
            w = w / w.sum()
        weights[o, lo:hi] = w
    fixed = np.where(weights < 0, -0.5 + weights * (1 << _PIL_PRECISION_BITS),
                     0.5 + weights * (1 << _PIL_PRECISION_BITS))
    return np.trunc(fixed).astype(np.int64)


def _resize_axis(x8: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """One PIL 8-bit resampling pass of ``(N, H, W, C)`` integers along ``axis`` (1: rows, 2: columns)."""
    moved = np.moveaxis(x8, axis, -1)
    acc = moved @ weights.T + (1 << (_PIL_PRECISION_BITS - 1))
    out = np.clip(acc >> _PIL_PRECISION_BITS, 0, 255)
    return np.moveaxis(out, -1, axis)


def _pixelate(x: np.ndarray, c: float) -> np.ndarray:
    n, h, w, _ = x.shape
    small_w, small_h = int(w * c), int(h * c)
    v = _to_uint8(x).astype(np.int64)
    # PIL resamples horizontally first, then vertically, rounding to 8 bits after each pass.
    if small_w != w:
        v = _resize_axis(v, _box_resize_weights(w, small_w), 2)
    if small_h != h:
        v = _resize_axis(v, _box_resize_weights(h, small_h), 1)
    if small_w != w:
        v = _resize_axis(v, _box_resize_weights(small_w, w), 2)
    if small_h != h:
        v = _resize_axis(v, _box_resize_weights(small_h, h), 1)
    return v.astype(np.float64) / 255.0


_DETERMINISTIC: dict[str, Callable[..., np.ndarray]] = {
    "brightness": _brightness, "contrast": _contrast, "saturate": _saturate, "jpeg": _jpeg, "pixelate": _pixelate,
}


# --------------------------------------------------------------------------------------------------------
# Snow
# --------------------------------------------------------------------------------------------------------

def _clipped_zoom(a: np.ndarray, zoom: float) -> np.ndarray:
    """Zoom the centre ``ceil(size / zoom)`` crop of every plane of ``(N, H, W)`` by ``zoom`` (bilinear) and
    centre-crop back to ``(H, W)``."""
    if zoom == 1:
        return a
    _, h, w = a.shape
    ch, cw = int(math.ceil(h / zoom)), int(math.ceil(w / zoom))
    top, left = (h - ch) // 2, (w - cw) // 2
    zoomed = ndimage.zoom(a[:, top:top + ch, left:left + cw], (1, zoom, zoom), order=1)
    trim_top, trim_left = (zoomed.shape[1] - h) // 2, (zoomed.shape[2] - w) // 2
    return zoomed[:, trim_top:trim_top + h, trim_left:trim_left + w]


def _motion_blur(layer: np.ndarray, radius: float, sigma: float, angles_deg: np.ndarray) -> np.ndarray:
    """ImageMagick-style motion blur of every plane of ``(N, H, W)``: a one-sided line kernel of ``2·ceil(r)+1``
    taps with weights ``exp(−i²/2σ²)`` (normalised), tap ``i`` read at ``(y + round(i·sin θ), x +
    round(i·cos θ))``, edge pixels replicated; one angle θ per plane."""
    n, h, w = layer.shape
    width = int(2 * math.ceil(radius) + 1)
    taps = np.arange(width, dtype=np.float64)
    kernel = np.exp(-(taps**2) / (2.0 * sigma * sigma))
    kernel /= kernel.sum()
    theta = np.deg2rad(angles_deg)
    dy = np.ceil(taps[None, :] * np.sin(theta)[:, None] - 0.5).astype(np.int64)  # (N, width)
    dx = np.ceil(taps[None, :] * np.cos(theta)[:, None] - 0.5).astype(np.int64)
    b = np.arange(n)[:, None, None]
    rows = np.arange(h)[None, :, None]
    cols = np.arange(w)[None, None, :]
    out = np.zeros_like(layer)
    for i in range(width):
        r = np.clip(rows + dy[:, i, None, None], 0, h - 1)
        c = np.clip(cols + dx[:, i, None, None], 0, w - 1)
        out += kernel[i] * layer[b, r, c]
    return out


def _snow(x, loc, scale, zoom, threshold, radius, sigma, blend, *, rngs) -> np.ndarray:
    n, h, w, _ = x.shape
    layer = np.stack([rng.normal(loc, scale, size=(h, w)) for rng in rngs])
    angles = np.array([rng.uniform(-135, -45) for rng in rngs])
    layer = _clipped_zoom(layer, zoom)
    layer = np.where(layer < threshold, 0.0, layer)
    # The original passes the layer through an 8-bit image (PIL → PNG → ImageMagick → PNG).
    layer8 = np.floor(np.clip(layer, 0, 1) * 255.0)
    layer = np.rint(np.clip(_motion_blur(layer8, radius, sigma, angles), 0, 255)) / 255.0
    layer = layer[..., None]
    whitened = np.maximum(x, _gray(x)[..., None] * 1.5 + 0.5)
    x = blend * x + (1 - blend) * whitened
    return np.clip(x + layer + layer[:, ::-1, ::-1], 0, 1)


# --------------------------------------------------------------------------------------------------------
# Frost
# --------------------------------------------------------------------------------------------------------

def frost_textures(source: str | os.PathLike | None = None) -> tuple[np.ndarray, ...]:
    """The five frost textures as downscaled ``uint8`` ``(h, w, 3)`` RGB arrays, as the CIFAR-10-C frost uses
    them (×0.2 of the original files).

    ``source``: a directory holding ``frost1.png … frost5.jpg``; ``"procedural"`` for a procedural substitute
    (**not** the original textures: results are only qualitatively like CIFAR-10-C frost); ``None`` for
    ``$LTDD_FROST_TEXTURES`` (a directory or ``procedural``) if set, else the files of an installed
    ``imagecorruptions`` distribution (found through its metadata; the package is never imported — its wheel
    breaks on NumPy 2). Raises :class:`FrostTexturesMissing` with installation hints otherwise.

    Introduced in chapter 03.
    """
    if source is None:
        source = os.environ.get(FROST_TEXTURES_ENV) or None
    if source is None:
        directory = _installed_frost_directory()
        if directory is None:
            raise FrostTexturesMissing(_FROST_INSTALL_HINT)
        return _load_frost_textures(str(directory))
    if isinstance(source, str) and source == "procedural":
        return _procedural_frost_textures()
    directory = Path(source).expanduser()
    missing = [f for f in FROST_FILES if not (directory / f).is_file()]
    if missing:
        raise FrostTexturesMissing(f"{directory} lacks {', '.join(missing)}. " + _FROST_INSTALL_HINT)
    return _load_frost_textures(str(directory.resolve()))


def _installed_frost_directory() -> Path | None:
    """The ``frost`` folder of an installed ``imagecorruptions`` distribution, without importing it."""
    try:
        dist = importlib.metadata.distribution("imagecorruptions")
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.name == FROST_FILES[0] and file.parent.name == "frost":
            directory = Path(str(file.locate())).parent
            if all((directory / f).is_file() for f in FROST_FILES):
                return directory
    return None


@functools.lru_cache(maxsize=8)
def _load_frost_textures(directory: str) -> tuple[np.ndarray, ...]:
    textures = []
    for filename in FROST_FILES:
        with Image.open(Path(directory) / filename) as image:
            rgb = np.asarray(image.convert("RGB"))  # alpha dropped, not composited (as cv2.imread)
        # OpenCV's bilinear resize by exactly 0.2 samples source pixel 5·i + 2 (zero interpolation weight).
        small = np.ascontiguousarray(rgb[2::5, 2::5])
        small.setflags(write=False)
        textures.append(small)
    return tuple(textures)


# Per-channel mean and standard deviation (RGB, 0..1) of the five original textures after the ×0.2 downscale,
# which the procedural substitute matches; the picture itself is made up.
_FROST_TEXTURE_STATS = (((0.304, 0.584, 0.650), (0.105, 0.064, 0.060)),
                        ((0.787, 0.805, 0.841), (0.084, 0.087, 0.089)),
                        ((0.787, 0.805, 0.841), (0.084, 0.087, 0.089)),
                        ((0.541, 0.601, 0.649), (0.114, 0.114, 0.119)),
                        ((0.440, 0.483, 0.528), (0.174, 0.169, 0.163)))


@functools.lru_cache(maxsize=1)
def _procedural_frost_textures() -> tuple[np.ndarray, ...]:
    """A fixed, procedurally drawn stand-in for the five frost textures (same downscaled sizes, same per-channel
    mean and contrast as the originals): fractal haze, fine grain and thin branching ice needles. NOT the
    Hendrycks textures."""
    rng = np.random.default_rng(0x5F0057)
    textures = []
    for (h, w), (mean, std) in zip(_FROST_DOWNSCALED_SHAPES, _FROST_TEXTURE_STATS):
        up = 4  # draw the needles at 4× and box-average down
        canvas = Image.new("L", (w * up, h * up), 0)
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(h * w / 25)):
            y0, x0 = rng.uniform(0, h * up), rng.uniform(0, w * up)
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(2, 12) * up
            shade = int(rng.uniform(60, 255))
            x1, y1 = x0 + length * np.cos(angle), y0 + length * np.sin(angle)
            draw.line([(x0, y0), (x1, y1)], fill=shade, width=1)
            for t in rng.uniform(0.2, 0.9, size=2):  # side branches at ±60°
                bx, by = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                side = angle + rng.choice([-1, 1]) * np.pi / 3
                bl = length * rng.uniform(0.15, 0.4)
                draw.line([(bx, by), (bx + bl * np.cos(side), by + bl * np.sin(side))], fill=shade, width=1)
        needles = np.asarray(canvas, dtype=np.float64).reshape(h, up, w, up).mean(axis=(1, 3)) / 255.0
        mapsize = 1 << max(h, w).bit_length()
        fractals = _plasma_fractal(rng.uniform(-1, 1, size=(2, mapsize * mapsize)), mapsize, 1.6)
        haze = fractals[0, :h, :w]
        grain = rng.uniform(0, 1, size=(h, w))
        intensity = haze + 0.5 * grain + 1.5 * needles
        intensity = (intensity - intensity.mean()) / intensity.std()
        texture = np.asarray(mean) + np.asarray(std) * intensity[..., None]
        texture = np.clip(np.rint(texture * 255.0), 0, 255).astype(np.uint8)
        texture.setflags(write=False)
        textures.append(texture)
    return tuple(textures)


def _frost(x, image_weight, frost_weight, *, rngs, textures) -> np.ndarray:
    n, h, w, _ = x.shape
    if any(t.shape[0] <= h or t.shape[1] <= w for t in textures):
        raise ValueError(f"frost textures are too small for {h}×{w} images")
    stack = np.zeros((len(textures), max(t.shape[0] for t in textures), max(t.shape[1] for t in textures), 3))
    for k, t in enumerate(textures):
        stack[k, :t.shape[0], :t.shape[1]] = t
    which = np.empty(n, dtype=np.int64)
    top = np.empty(n, dtype=np.int64)
    left = np.empty(n, dtype=np.int64)
    for i, rng in enumerate(rngs):
        k = int(rng.integers(len(textures)))
        which[i] = k
        top[i] = rng.integers(0, textures[k].shape[0] - h)
        left[i] = rng.integers(0, textures[k].shape[1] - w)
    crops = stack[which[:, None, None], top[:, None, None] + np.arange(h)[None, :, None],
                  left[:, None, None] + np.arange(w)[None, None, :]] / 255.0
    return np.clip(image_weight * x + frost_weight * crops, 0, 1)


# --------------------------------------------------------------------------------------------------------
# Fog
# --------------------------------------------------------------------------------------------------------

def _plasma_fractal(noise: np.ndarray, mapsize: int, decay: float) -> np.ndarray:
    """Diamond-square height maps ``(N, mapsize, mapsize)`` on a torus, normalised to [0, 1] per map.

    ``noise`` ``(N, ≥ mapsize² − 1)`` holds U(−1, 1) draws; the displacement at a step with amplitude
    ``wibble`` (100 at the coarsest step, divided by ``decay`` at every finer one) is ``wibble · U(−wibble,
    wibble)``, as in the original."""
    if mapsize & (mapsize - 1):
        raise ValueError("mapsize must be a power of two")
    n = noise.shape[0]
    grid = np.zeros((n, mapsize, mapsize))
    used = 0

    def displaced(neighbour_sum: np.ndarray, wibble: float) -> np.ndarray:
        nonlocal used
        count = neighbour_sum.shape[1] * neighbour_sum.shape[2]
        u = noise[:, used:used + count].reshape(neighbour_sum.shape)
        used += count
        return neighbour_sum / 4.0 + wibble * wibble * u

    step, wibble = mapsize, 100.0
    while step >= 2:
        half = step // 2
        corners = grid[:, ::step, ::step]
        # square step: centre of each square = mean of its 4 corners + noise
        total = corners + np.roll(corners, -1, axis=1)
        total = total + np.roll(total, -1, axis=2)
        grid[:, half::step, half::step] = displaced(total, wibble)
        centres = grid[:, half::step, half::step]
        # diamond step: edge midpoints = mean of the 2 corners and the 2 centres beside them + noise
        horizontal = corners + np.roll(corners, -1, axis=2) + centres + np.roll(centres, 1, axis=1)
        grid[:, ::step, half::step] = displaced(horizontal, wibble)
        vertical = corners + np.roll(corners, -1, axis=1) + centres + np.roll(centres, 1, axis=2)
        grid[:, half::step, ::step] = displaced(vertical, wibble)
        step = half
        wibble /= decay
    grid -= grid.min(axis=(1, 2), keepdims=True)
    peak = grid.max(axis=(1, 2), keepdims=True)
    return grid / np.where(peak > 0, peak, 1.0)


def _fog(x, strength, decay, *, rngs) -> np.ndarray:
    n, h, w, _ = x.shape
    mapsize = max(32, 1 << (max(h, w) - 1).bit_length())
    noise = np.stack([rng.uniform(-1, 1, size=mapsize * mapsize) for rng in rngs])
    plasma = _plasma_fractal(noise, mapsize, decay)[:, :h, :w, None]
    peak = x.max(axis=(1, 2, 3), keepdims=True)
    return np.clip((x + strength * plasma) * peak / (peak + strength), 0, 1)


# --------------------------------------------------------------------------------------------------------
# Spatter
# --------------------------------------------------------------------------------------------------------

_TAN_22_5_Q15 = int(round(math.tan(math.pi / 8) * (1 << 15)))


def _canny(img: np.ndarray, low: float, high: float) -> np.ndarray:
    """OpenCV-style Canny (3×3 Sobel with replicated border, L1 magnitude, 4-direction non-maximum
    suppression, 8-connected hysteresis) of every plane of the integer batch ``(N, H, W)``; boolean edges."""
    n, h, w = img.shape
    p = np.pad(img.astype(np.int64), ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = (p[:, :-2, 2:] + 2 * p[:, 1:-1, 2:] + p[:, 2:, 2:]) - (p[:, :-2, :-2] + 2 * p[:, 1:-1, :-2] + p[:, 2:, :-2])
    gy = (p[:, 2:, :-2] + 2 * p[:, 2:, 1:-1] + p[:, 2:, 2:]) - (p[:, :-2, :-2] + 2 * p[:, :-2, 1:-1] + p[:, :-2, 2:])
    mag = np.abs(gx) + np.abs(gy)
    m = np.pad(mag, ((0, 0), (1, 1), (1, 1)))  # zero magnitude outside the image

    def neighbour(dr: int, dc: int) -> np.ndarray:
        return m[:, 1 + dr:1 + dr + h, 1 + dc:1 + dc + w]

    ax, ay = np.abs(gx), np.abs(gy) << 15
    tg22 = ax * _TAN_22_5_Q15
    tg67 = tg22 + (ax << 16)
    horizontal = ay < tg22
    vertical = ~horizontal & (ay > tg67)
    diagonal = ~horizontal & ~vertical
    s = np.where((gx ^ gy) < 0, -1, 1)
    up_diag = np.where(s > 0, neighbour(-1, -1), neighbour(-1, 1))
    down_diag = np.where(s > 0, neighbour(1, 1), neighbour(1, -1))
    keep = (horizontal & (mag > neighbour(0, -1)) & (mag >= neighbour(0, 1))) \
        | (vertical & (mag > neighbour(-1, 0)) & (mag >= neighbour(1, 0))) \
        | (diagonal & (mag > up_diag) & (mag > down_diag))
    candidate = keep & (mag > low)
    strong = candidate & (mag > high)
    if not strong.any():
        return np.zeros_like(candidate)
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True  # 8-connected within a plane, never across planes
    labels, _ = ndimage.label(candidate, structure=structure)
    return np.isin(labels, np.unique(labels[strong]))


def _equalize_hist(img: np.ndarray) -> np.ndarray:
    """OpenCV ``equalizeHist`` of every plane of the uint8-valued batch ``(N, H, W)``."""
    n = img.shape[0]
    flat = img.reshape(n, -1).astype(np.int64)
    total = flat.shape[1]
    hist = np.bincount((flat + 256 * np.arange(n)[:, None]).ravel(), minlength=256 * n).reshape(n, 256)
    first = np.argmax(hist > 0, axis=1)
    first_count = hist[np.arange(n), first]
    cumulative = np.cumsum(hist, axis=1) - np.cumsum(hist, axis=1)[np.arange(n), first][:, None]
    scale = (np.float32(255.0) / np.maximum(total - first_count, 1).astype(np.float32))[:, None]
    lut = np.clip(np.rint(cumulative.astype(np.float32) * scale), 0, 255).astype(np.int64)
    lut = np.where(np.arange(256)[None, :] < first[:, None], 0, lut)
    constant = first_count == total
    lut[constant] = first[constant, None]
    return np.take_along_axis(lut, flat, axis=1).reshape(img.shape)


_EMBOSS = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=np.int64)


_CHAMFER_SHIFT = 32
_CHAMFER_WEIGHTS = tuple(int(round(w * (1 << _CHAMFER_SHIFT))) for w in (1.0, 1.4, 2.1969))
"""OpenCV's 5×5 chamfer weights for DIST_L2 (horizontal/vertical, diagonal, knight move: 1, 1.4, 2.1969) in
32-bit fixed point, i.e. practically exact: OpenCV's generic code uses 16 bits, its IPP path (in the x86 wheels)
float32; the two differ by ~1e-5 px, which only matters where a later 8-bit truncation hits a tie."""


def _chamfer_distance(zero: np.ndarray) -> np.ndarray:
    """Distance of every pixel to the nearest ``True`` pixel of its plane in ``zero`` ``(N, H, W)``: OpenCV's
    ``distanceTransform(…, DIST_L2, 5)`` (two raster passes of the 5×5 chamfer mask). Each pass
    runs row by row over the whole batch; the within-row move is a running minimum."""
    n, h, w = zero.shape
    hv, diag, knight = _CHAMFER_WEIGHTS
    far = np.int64(1) << 40
    d = np.full((n, h + 4, w + 4), far, dtype=np.int64)
    inner = d[:, 2:h + 2, 2:w + 2]
    ramp = np.arange(w, dtype=np.int64) * hv

    def sweep(t: np.ndarray, reverse: bool) -> np.ndarray:
        if reverse:
            return np.minimum.accumulate((t + ramp)[:, ::-1], axis=1)[:, ::-1] - ramp
        return np.minimum.accumulate(t - ramp, axis=1) + ramp

    def pass_rows(rows, sign: int) -> None:
        for y in rows:
            r = y + 2
            near, nearer = d[:, r - sign], d[:, r - 2 * sign]
            t = np.minimum.reduce([
                d[:, r, 2:w + 2],
                nearer[:, 1:w + 1] + knight, nearer[:, 3:w + 3] + knight,
                near[:, 0:w] + knight, near[:, 4:w + 4] + knight,
                near[:, 1:w + 1] + diag, near[:, 3:w + 3] + diag,
                near[:, 2:w + 2] + hv,
            ])
            t = np.where(zero[:, y], 0, t)
            d[:, r, 2:w + 2] = sweep(t, reverse=sign < 0)

    pass_rows(range(h), 1)
    pass_rows(range(h - 1, -1, -1), -1)
    return (inner.astype(np.float64) * (1.0 / (1 << _CHAMFER_SHIFT))).astype(np.float32)


def _water_map(liquid: np.ndarray) -> np.ndarray:
    """The water-drop shading of ``liquid`` ``(N, H, W)`` (already thresholded), before normalisation."""
    liquid8 = np.floor(np.clip(liquid, 0, 1) * 255.0)  # the original wraps above 1 (uint8 overflow)
    edges = _canny(liquid8, 50, 150)
    dist = _chamfer_distance(edges).astype(np.float64)  # planes without edges stay "infinitely" far
    dist = np.minimum(dist, 20.0)
    dist = np.floor(_box3(dist))  # blur, then astype(uint8)
    dist = _equalize_hist(dist.astype(np.int64))
    dist = ndimage.correlate(dist, _EMBOSS[None], mode="mirror")
    dist = np.clip(dist, 0, 255).astype(np.float64)
    dist = np.rint(_box3(dist))  # 8-bit blur
    return liquid8 * dist


def _spatter(x, loc, scale, sigma, threshold, intensity, mud, *, rngs) -> np.ndarray:
    n, h, w, _ = x.shape
    liquid = np.stack([rng.normal(loc, scale, size=(h, w)) for rng in rngs])
    liquid = _blur2d(liquid, sigma, mode="nearest")
    liquid = np.where(liquid < threshold, 0.0, liquid)
    if not mud:
        m = _water_map(liquid)
        peak = m.max(axis=(1, 2), keepdims=True)
        m = np.where(peak > 0, m / np.where(peak > 0, peak, 1.0), 0.0) * intensity
        colour = np.array([175, 238, 238]) / 255.0  # pale turquoise
        return np.clip(x + m[..., None] * colour, 0, 1)
    mask = _blur2d((liquid > threshold).astype(np.float64), intensity, mode="nearest")
    mask = np.where(mask < 0.8, 0.0, mask)[..., None]
    colour = np.array([63, 42, 20]) / 255.0  # mud brown
    return np.clip(x * (1 - mask) + mask * colour, 0, 1)


# --------------------------------------------------------------------------------------------------------
# Elastic
# --------------------------------------------------------------------------------------------------------

def _elastic(x, alpha, sigma, shift, *, rngs) -> np.ndarray:
    n, h, w, _ = x.shape
    # Random affine: three points around the centre (x, y order) moved by U(−shift, shift).
    cx, cy, half = w // 2, h // 2, min(h, w) // 3
    source = np.array([[cx + half, cy + half], [cx + half, cy - half], [cx - half, cy - half]], dtype=np.float64)
    moves = np.stack([rng.uniform(-shift, shift, size=(3, 2)) for rng in rngs]).astype(np.float32)
    target = source[None] + moves.astype(np.float64)
    # Output pixel p samples the input at A·[p, 1], A the affine map target → source (warpAffine inverts M).
    lhs = np.concatenate([target, np.ones((n, 3, 1))], axis=2)  # (N, 3, 3)
    coef = np.linalg.solve(lhs, np.broadcast_to(source, (n, 3, 2)))  # (N, 3, 2): [a_x; a_y; b]
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    src_x = xx[None] * coef[:, 0, 0, None, None] + yy[None] * coef[:, 1, 0, None, None] + coef[:, 2, 0, None, None]
    src_y = xx[None] * coef[:, 0, 1, None, None] + yy[None] * coef[:, 1, 1, None, None] + coef[:, 2, 1, None, None]
    x = _bilinear(x, src_y, src_x, "reflect101")
    if alpha == 0:
        return np.clip(x, 0, 1)
    fields = np.stack([rng.uniform(-1, 1, size=(2, h, w)) for rng in rngs])  # (N, 2, H, W): dx, dy
    dx = (_blur2d(fields[:, 0], sigma, mode="reflect", truncate=3.0) * alpha).astype(np.float32)
    dy = (_blur2d(fields[:, 1], sigma, mode="reflect", truncate=3.0) * alpha).astype(np.float32)
    out = _bilinear(x, yy[None] + dy, xx[None] + dx, "symmetric")
    return np.clip(out, 0, 1)


_RANDOM: dict[str, Callable[..., np.ndarray]] = {
    "snow": _snow, "fog": _fog, "spatter": _spatter, "elastic": _elastic,
}


def sample_photo_crops(n: int, size: int = 32, seed: int = 0) -> Tensor:
    """``n`` natural RGB images, ``(n, 3, size, size)`` floats in [0, 1]: random square crops (64–256 px) of
    scikit-learn's two bundled sample photos, box-downscaled. Embedded data for galleries, tests and
    benchmarks of the corruptions (no download).

    Machinery behind chapter 03."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(n):
        photo = photos[rng.integers(len(photos))]
        side = int(rng.integers(64, 257))
        top = int(rng.integers(0, photo.shape[0] - side + 1))
        left = int(rng.integers(0, photo.shape[1] - side + 1))
        crop = Image.fromarray(photo[top:top + side, left:left + side]).resize((size, size), Image.BOX)
        crops.append(np.asarray(crop))
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div(255)
