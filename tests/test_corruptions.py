"""CIFAR-10-C corruptions of CCIFAR10-DD (ltdd.data.corruptions): shapes, ranges, seeding, severity trends,
Biased-DD's attribute → corruption mapping, exactness against PIL, and the frost texture sources."""

from __future__ import annotations

import colorsys
import io
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ltdd.data import corruptions as C
from ltdd.data.corruptions import (CIFAR10_C_PARAMS, CORRUPTIONS, DETERMINISTIC_CORRUPTIONS, FROST_FILES,
                                   FrostTexturesMissing, corrupt, corrupt_biased_dd, draw_seeds, frost_textures)

RANDOM_CORRUPTIONS = [name for name in CORRUPTIONS if name not in DETERMINISTIC_CORRUPTIONS]

# Where the CIFAR-10-C table implies that the corruption moves the image further from the clean one as the level
# grows (checked on the mean RMS distance over a batch with the same seeds at every level):
#   brightness  V + c, c = .05 .1 .15 .2 .3 increasing                              → 1 < 2 < 3 < 4 < 5
#   contrast    factor .75 .5 .4 .3 .15 decreasing (|Δ| = (1 − c)·|x − mean|)     → 1 < 2 < 3 < 4 < 5
#   fog         strength .2 .5 .75 1 1.5 increasing (|Δ| ∝ s / (max + s))          → 1 < 2 < 3 < 4 < 5
#   jpeg        quality 80 65 58 50 40 decreasing                                   → 1 < 2 < 3 < 4 < 5
#   pixelate    factor .95 .9 .85 .75 .65 decreasing                                → 1 < 2 < 3 < 4 < 5
#   snow        flake mass P(N(loc, scale) > thresh) ≈ .6 %, 2.3 %, 9 %, 12 %, 12 % and the whitening
#               (1 − blend = .05 .1 .1 .15 .2) never decrease; longer blur at 5        → 1 < 2 < 3 < 4 < 5
#   frost       levels 1 → 2: image weight stays 1, frost weight .2 → .3              → 1 < 2
#   saturate    |ΔS| = .7S, .9S, .5S, S + .1, 1.5S + .2 (clipped)                       → 1 < 2 and 3 < 4 < 5
#   spatter     4 → 5 (both mud): smaller blur σ (.7 → .5) keeps more variance above a lower threshold
#               (.69 → .68), same intensity                                            → 4 < 5
# Not monotone, so not tested:
#   frost 2 → 5: the image weight drops (1, .9, .85, .75) while the frost weight saturates (.4, .4, .45); the
#               darkening partly cancels the added frost, and from 3 to 4 only the image weight changes.
#   saturate 2 → 3: factor .1 (strong desaturation) → 1.5 (mild over-saturation) is a smaller change.
#   spatter 1 → 4: water (1–3) and mud (4–5) are different branches; within water, loc and scale grow while
#               the blur σ grows too (fewer pixels above the threshold).
#   elastic: the affine shift shrinks with the level (2.56, 2.24, 1.92, 1.6, 0.96 px) while the displacement
#               field grows and gets more local; the distance actually falls with the level.
MONOTONE = {
    "brightness": [1, 2, 3, 4, 5],
    "contrast": [1, 2, 3, 4, 5],
    "fog": [1, 2, 3, 4, 5],
    "jpeg": [1, 2, 3, 4, 5],
    "pixelate": [1, 2, 3, 4, 5],
    "snow": [1, 2, 3, 4, 5],
    "frost": [1, 2],
    "saturate": [[1, 2], [3, 4, 5]],
    "spatter": [4, 5],
}


@pytest.fixture(autouse=True)
def procedural_frost(monkeypatch):
    """Tests use the procedural frost textures unless they say otherwise (the originals are not a dependency)."""
    monkeypatch.setenv(C.FROST_TEXTURES_ENV, "procedural")


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return C.sample_photo_crops(24)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------- every corruption
def test_names_and_order_match_biased_dd():
    assert CORRUPTIONS == ("snow", "frost", "fog", "brightness", "contrast", "spatter", "elastic", "jpeg",
                           "pixelate", "saturate")
    assert set(CIFAR10_C_PARAMS) == set(CORRUPTIONS)
    assert all(len(table) == 5 for table in CIFAR10_C_PARAMS.values())
    assert DETERMINISTIC_CORRUPTIONS == {"brightness", "contrast", "saturate", "jpeg", "pixelate"}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_shape_dtype_range_and_seeding(images, name):
    x = images[:8]
    for level in (1, 3, 5):
        out = corrupt(x, name, level, gen(0))
        assert out.shape == x.shape and out.dtype == x.dtype
        assert out.min() >= 0 and out.max() <= 1
        assert not torch.equal(out, x), f"{name} level {level} left the images unchanged"
        assert torch.allclose(out * 255, (out * 255).round(), atol=1e-4)  # quantised like the stored uint8
        assert torch.equal(out, corrupt(x, name, level, gen(0))), "same seed, different output"
        other = corrupt(x, name, level, gen(1))
        if name in DETERMINISTIC_CORRUPTIONS:
            assert torch.equal(out, other)
        else:
            assert not torch.equal(out, other), f"{name} ignores the seed"
    assert corrupt(x.double(), name, 2, gen(0)).dtype == torch.float64
    assert corrupt(x[:0], name, 2, gen(0)).shape == (0, 3, 32, 32)


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_uint8_and_unquantised(images, name):
    x = images[:4]
    x8 = (x * 255).round().to(torch.uint8)
    out8 = corrupt(x8, name, 3, gen(2))
    assert out8.dtype == torch.uint8 and out8.shape == x8.shape
    assert torch.equal(out8, (corrupt(x, name, 3, gen(2)) * 255).round().to(torch.uint8))
    raw = corrupt(x, name, 3, gen(2), quantize=False)
    assert raw.min() >= 0 and raw.max() <= 1
    assert (raw - corrupt(x, name, 3, gen(2))).abs().max() < 1 / 255 + 1e-6


@pytest.mark.parametrize("name", RANDOM_CORRUPTIONS)
def test_per_image_randomness_does_not_depend_on_the_batch(images, name):
    x = images[:10]
    seeds = draw_seeds(len(x), gen(3))
    whole = corrupt(x, name, 4, seeds=seeds)
    index = torch.tensor([7, 2, 5])
    assert torch.equal(whole[index], corrupt(x[index], name, 4, seeds=seeds[index]))
    assert torch.equal(whole, corrupt(x, name, 4, gen(3)))  # generator ≡ seeds drawn from it
    assert not torch.equal(whole[0], whole[1])


@pytest.mark.parametrize("name", sorted(MONOTONE))
def test_distance_grows_with_level_where_the_table_implies_it(images, name):
    groups = MONOTONE[name]
    groups = groups if isinstance(groups[0], list) else [groups]
    seeds = draw_seeds(len(images), gen(4))
    for levels in groups:
        distance = [((corrupt(images, name, lvl, seeds=seeds) - images) ** 2).mean().sqrt().item() for lvl in levels]
        assert all(a < b for a, b in zip(distance, distance[1:])), f"{name} {levels}: {distance}"


# ------------------------------------------------------------------------------ against the definitions
def test_jpeg_and_pixelate_equal_pil(images):
    x8 = (images[:6] * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for level, (quality,) in enumerate(CIFAR10_C_PARAMS["jpeg"], 1):
        ref = []
        for image in x8:
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, "JPEG", quality=quality)
            ref.append(np.asarray(Image.open(buffer)))
        out = corrupt(images[:6], "jpeg", level, gen(0)).permute(0, 2, 3, 1).mul(255).round().byte().numpy()
        assert np.array_equal(out, np.stack(ref))
    for level, (factor,) in enumerate(CIFAR10_C_PARAMS["pixelate"], 1):
        small = int(32 * factor)
        ref = [np.asarray(Image.fromarray(im).resize((small, small), Image.BOX).resize((32, 32), Image.BOX))
               for im in x8]
        out = corrupt(images[:6], "pixelate", level, gen(0)).permute(0, 2, 3, 1).mul(255).round().byte().numpy()
        assert np.array_equal(out, np.stack(ref)), level


def test_brightness_saturate_contrast_follow_their_formulas(images):
    x = (images[:2] * 255).round().double() / 255  # exact k/255, as corrupt reads float32 k/255 inputs
    pixels = x.permute(0, 2, 3, 1).reshape(-1, 3).double().numpy()
    hsv = np.array([colorsys.rgb_to_hsv(*p) for p in pixels])
    for level in (1, 5):
        (c,) = CIFAR10_C_PARAMS["brightness"][level - 1]
        ref = np.array([colorsys.hsv_to_rgb(h, s, min(v + c, 1.0)) for h, s, v in hsv])
        out = corrupt(x.double(), "brightness", level, quantize=False).permute(0, 2, 3, 1).reshape(-1, 3).numpy()
        assert np.abs(out - ref).max() < 1e-9
        a, b = CIFAR10_C_PARAMS["saturate"][level - 1]
        ref = np.array([colorsys.hsv_to_rgb(h, min(max(s * a + b, 0.0), 1.0), v) for h, s, v in hsv])
        out = corrupt(x.double(), "saturate", level, quantize=False).permute(0, 2, 3, 1).reshape(-1, 3).numpy()
        assert np.abs(out - ref).max() < 1e-9
        (factor,) = CIFAR10_C_PARAMS["contrast"][level - 1]
        mean = x.double().mean(dim=(2, 3), keepdim=True)
        ref = ((x.double() - mean) * factor + mean).clamp(0, 1)
        assert torch.allclose(corrupt(x.double(), "contrast", level, quantize=False), ref, atol=1e-12)


def test_quantize_truncates_like_biased_dd(images):
    x = images[:2].double()
    raw = corrupt(x, "contrast", 3, quantize=False)
    assert torch.equal(corrupt(x, "contrast", 3), torch.floor(raw * 255 + 1e-6) / 255)


def test_motion_blur_streaks_below_a_flake_for_a_downward_angle():
    layer = np.zeros((1, 32, 32))
    layer[0, 5, 10] = 1.0
    out = C._motion_blur(layer, radius=8, sigma=3, angles_deg=np.array([-90.0]))
    assert out.sum() == pytest.approx(1.0)
    column = out[0, :, 10]
    assert np.count_nonzero(out[0]) == np.count_nonzero(column) == 17  # 2·8 + 1 taps, all in column 10
    assert column[5] > column[10] > column[21] > 0 and column[:5].sum() == 0 and column[22:].sum() == 0


def test_plasma_fractal_is_normalised_and_seeded():
    noise = np.random.default_rng(0).uniform(-1, 1, size=(3, 32 * 32))
    maps = C._plasma_fractal(noise, 32, 2.0)
    assert maps.shape == (3, 32, 32)
    assert np.allclose(maps.min(axis=(1, 2)), 0) and np.allclose(maps.max(axis=(1, 2)), 1)
    assert np.array_equal(C._plasma_fractal(noise[1:2], 32, 2.0)[0], maps[1])
    with pytest.raises(ValueError, match="power of two"):
        C._plasma_fractal(noise, 24, 2.0)


def test_canny_finds_the_outline_of_a_square():
    img = np.zeros((2, 16, 16))
    img[0, 4:12, 4:12] = 255
    edges = C._canny(img, 50, 150)
    assert not edges[1].any()  # constant plane: no edges
    assert edges[0].any() and not edges[0, 6:10, 6:10].any() and not edges[0, :2].any()
    rows, cols = np.nonzero(edges[0])
    assert rows.min() >= 2 and rows.max() <= 13 and cols.min() >= 2 and cols.max() <= 13


def test_equalize_hist_spreads_to_full_range():
    img = np.array([[[10, 10], [20, 30]], [[7, 7], [7, 7]]])
    out = C._equalize_hist(img)
    assert out[0].tolist() == [[0, 0], [128, 255]]
    assert out[1].tolist() == [[7, 7], [7, 7]]  # constant: unchanged (OpenCV sets it to that value)


# ---------------------------------------------------------------------------------- Biased-DD mapping
def test_corrupt_biased_dd_applies_corruption_k_to_attribute_k(images):
    x = images[:20]
    attributes = torch.tensor([3, 0, 9, 7, 1, 5, 2, 8, 4, 6] * 2)
    for severity in (1, 4):
        seeds = draw_seeds(len(x), gen(5))
        out = corrupt_biased_dd(x, attributes, severity, seeds=seeds)
        assert out.shape == x.shape and out.dtype == x.dtype
        assert torch.equal(out, corrupt_biased_dd(x, attributes, severity, gen(5)))
        for k, name in enumerate(CORRUPTIONS):
            mask = attributes == k
            expected = corrupt(x[mask], name, severity + 1, seeds=seeds[mask])
            assert torch.equal(out[mask], expected), (severity, name)
            if name in DETERMINISTIC_CORRUPTIONS:
                assert torch.equal(out[mask], corrupt(x[mask], name, severity + 1, gen(123)))


# ----------------------------------------------------------------------------------------------- errors
def test_errors_name_the_argument(images):
    x = images[:2]
    with pytest.raises(ValueError, match="corruption.*snow, frost, fog"):
        corrupt(x, "motion_blur", 1)
    for level in (0, 6, 2.5, True, "3"):
        with pytest.raises(ValueError, match="level"):
            corrupt(x, "fog", level)
    attributes = torch.tensor([0, 1])
    for severity in (0, 5, 1.0):
        with pytest.raises(ValueError, match="severity"):
            corrupt_biased_dd(x, attributes, severity)
    with pytest.raises(ValueError, match="attributes"):
        corrupt_biased_dd(x, torch.tensor([0, 10]), 1)
    with pytest.raises(ValueError, match="attributes"):
        corrupt_biased_dd(x, torch.tensor([0]), 1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        corrupt(x * 2 - 1, "fog", 1)
    with pytest.raises(ValueError, match="shape"):
        corrupt(x[:, :1], "fog", 1)
    with pytest.raises(ValueError, match="seeds"):
        corrupt(x, "fog", 1, seeds=[1, 2, 3])
    assert torch.equal(corrupt(x, "JPEG_compression", 1), corrupt(x, "jpeg", 1))  # imagecorruptions' names


# ------------------------------------------------------------------------------------------------ frost
def _write_fake_textures(directory, value=200):
    directory.mkdir(parents=True, exist_ok=True)
    for filename, (h, w) in zip(FROST_FILES, C._FROST_DOWNSCALED_SHAPES):
        rgba = filename.endswith(".png")
        array = np.full((h * 5, w * 5, 4 if rgba else 3), value, dtype=np.uint8)
        if rgba:
            array[..., 3] = 0  # alpha is dropped, not composited
        Image.fromarray(array).save(directory / filename)
    return directory


def test_frost_missing_textures_say_what_to_install(monkeypatch, images):
    monkeypatch.delenv(C.FROST_TEXTURES_ENV)
    monkeypatch.setattr(C, "_installed_frost_directory", lambda: None)
    with pytest.raises(FrostTexturesMissing, match="pip install --no-deps imagecorruptions"):
        corrupt(images[:2], "frost", 1)
    with pytest.raises(FrostTexturesMissing, match="frost1.png"):
        frost_textures("/nonexistent/frost")


def test_frost_from_a_directory_follows_the_formula(tmp_path, images):
    directory = _write_fake_textures(tmp_path / "frost", value=200)
    textures = frost_textures(directory)
    assert [t.shape[:2] for t in textures] == list(C._FROST_DOWNSCALED_SHAPES)
    x = images[:4].double()
    for level in (1, 5):
        a, b = CIFAR10_C_PARAMS["frost"][level - 1]
        out = corrupt(x, "frost", level, gen(0), frost_textures=directory, quantize=False)
        assert torch.allclose(out, (a * x + b * 200 / 255).clamp(0, 1), atol=1e-12)


def test_frost_textures_found_in_an_installed_distribution_without_importing_it(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _write_fake_textures(site / "imagecorruptions" / "frost", value=90)
    info = site / "imagecorruptions-1.1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: imagecorruptions\nVersion: 1.1.2\n")
    (info / "RECORD").write_text("".join(f"imagecorruptions/frost/{f},,\n" for f in FROST_FILES))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv(C.FROST_TEXTURES_ENV)
    assert C._installed_frost_directory() == site / "imagecorruptions" / "frost"
    assert all(int(t.max()) == 90 for t in frost_textures())
    assert "imagecorruptions" not in sys.modules


def test_procedural_frost_is_fixed_and_matches_the_originals_statistics():
    first, second = frost_textures("procedural"), C._procedural_frost_textures()
    assert first is second
    assert [t.shape[:2] for t in first] == list(C._FROST_DOWNSCALED_SHAPES)
    for texture, (mean, std) in zip(first, C._FROST_TEXTURE_STATS):
        assert texture.dtype == np.uint8
        assert np.allclose(texture.mean(axis=(0, 1)) / 255, mean, atol=0.01)
        assert np.allclose(texture.std(axis=(0, 1)) / 255, std, atol=0.01)


@pytest.mark.skipif(C._installed_frost_directory() is None, reason="imagecorruptions' frost textures not installed")
def test_original_frost_textures_when_installed(monkeypatch):
    monkeypatch.delenv(C.FROST_TEXTURES_ENV)
    textures = frost_textures()
    assert [t.shape[:2] for t in textures] == list(C._FROST_DOWNSCALED_SHAPES)
