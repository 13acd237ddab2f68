# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
#     provenance: []
#   jupytext:
#     notebook_metadata_filter: accelerator,colab,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Biased data
#
# A training set can be perfectly balanced over its classes and still mislead a network: if nearly every
# image of class 3 is green, "green" predicts "3" as well as the shape of the digit does, and it is far
# easier to learn. This chapter builds the two biased benchmarks that {term}`dataset distillation` has been
# studied on, coloured MNIST and corrupted CIFAR-10 in the form {term}`Biased-DD` released them
# {cite}`biaseddd`, exactly as their code constructs them: which images get which colour or corruption,
# how strong the colour noise and the corruptions are, and which test sets measure the damage. Nothing
# here trains a network: every live number on this page is a count or an image computed from the
# definitions, and the damage itself is shown from a recorded run on CIFAR-10 at the end.
#
# ```{admonition} In this chapter
# :class: tip
# **What you will learn.**
# - What {term}`bias-aligned` and {term}`bias-conflicting` images are, and the rule that decides which image gets which
#   attribute from one number, the {term}`bias ratio`
#   ({func}`attribute_milestones <ltdd.data.bias.attribute_milestones>`,
#   {func}`assign_attributes <ltdd.data.bias.assign_attributes>`).
# - How biased a dataset is, measured by its biased rate ({func}`biased_rate <ltdd.data.bias.biased_rate>`).
# - How CMNIST-DD colours digits, and how CCIFAR10-DD's ten corruptions look at every {term}`severity`
#   ({mod}`ltdd.data.corruptions`).
# - Why Biased-DD's all-conflicting test set and LfF's 10 % aligned one rank networks differently.
# - What the shortcut costs a network trained on the whole biased set, from the recorded CIFAR-10 run.
#
# **Before you start.** {doc}`01_distillation_in_one_picture` for the vocabulary (training and test
# splits, classes); {doc}`02_long_tailed_data` is not needed.
#
# **How long.** About 20 minutes to read. Running it on 2 CPU cores: under a minute with the `smoke` profile (CI checks this), and under a minute with `cpu` (measured in one clean-clone `cpu` build, 2 cores); on a Colab T4 GPU: not measured yet.
# ```

# %% tags=["remove-cell"]
# Set-up: on Colab, install ltdd (a no-op elsewhere); start the chapter's time budget.
import subprocess, sys

if "google.colab" in sys.modules:
    PACKAGE = "ltdd @ git+https://github.com/ltdd-book/ltdd"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", PACKAGE], check=True)

from ltdd.budget import chapter_budget

# `cpu`: 10 minutes; past them the next cell stops, saying so
budget = chapter_budget("03")

# %% [markdown]
# ## Settings
#
# Everything that depends on your machine comes from the active profile (see {doc}`00_how_to_use`).
# Without a GPU the live biased dataset is `cdigits`, the embedded digits coloured with the CMNIST-DD
# protocol, and the corruption gallery runs on crops of two photos that ship with scikit-learn; with a
# GPU they are `cmnist-dd` (coloured MNIST) and CIFAR-10 test images. The frost corruption needs a set
# of texture photos that `ltdd` does not ship; when they are not installed the chapter uses `ltdd`'s
# procedural substitute (see [below](sec-corruptions)).

# %%
from ltdd import get_profile
from ltdd.data.bias import DEFAULT_BIAS_RATIO, DEFAULT_SEVERITY
from ltdd.data.corruptions import FrostTexturesMissing, frost_textures

profile = get_profile()
# the live coloured dataset
BIASED = "cdigits" if profile.dataset == "digits" else "cmnist-dd"
BIAS_RATIO = DEFAULT_BIAS_RATIO  # fraction of bias-aligned training images (0.95)
# colour-noise severity 1..4 (4: the least noise, the purest colour cue)
SEVERITY = DEFAULT_SEVERITY
# images of the corruption gallery
GALLERY = "sample photos" if profile.dataset == "digits" else "cifar10"
try:
    # the original Hendrycks frost textures, if an installed package provides them
    frost_textures()
    FROST = None
except FrostTexturesMissing:
    FROST = "procedural"  # ltdd's stand-in: NOT the original textures

print(
    f"profile {profile.name!r}: biased dataset {BIASED} (bias ratio {BIAS_RATIO},"
    f" severity {SEVERITY}); gallery on {GALLERY}; frost textures:"
    f" {FROST or 'the originals'}"
)

# %% [markdown]
# ## What dataset bias is
#
# Give every image, besides its label $y$, a second attribute $a$ that has nothing to do with the class:
# the colour of a digit, or the kind of corruption (snow, fog, JPEG artefacts…) laid over a photo. There
# are as many attribute values as classes, and attribute $c$ "belongs" to class $c$. An image is
#
# - **bias-aligned** when $a = y$: a 3 in the colour of the 3s, and
# - **bias-conflicting** when $a \neq y$: a 3 in some other class's colour.
#
# A dataset is *biased* when most of its training images are bias-aligned: the attribute is then a
# shortcut that predicts the label on nearly every training image, although it says nothing about the
# class on images from anywhere else. Learning from Failure (LfF) {cite}`lff` built coloured MNIST and
# corrupted CIFAR-10 this way, to study (and counter) networks that take the shortcut. Biased-DD
# {cite}`biaseddd` asks the same question of dataset distillation: when the real training set is
# biased, what happens to a {term}`synthetic set` distilled from it, and to the networks trained on that
# synthetic set? It reuses LfF's construction for its CMNIST-DD and CCIFAR10-DD, and this chapter follows
# their code.
#
# ## Who gets which attribute
#
# Both codes (LfF's `make_attr_labels`, reused by Biased-DD) assign the attributes by a fixed rule,
# with one number, the **bias ratio** $r$: the fraction of each class that gets its own attribute.
#
# 1. The *ratio matrix* says how class $c$ is split over the attributes: $R_{c,a} = r$ for $a = c$, and
#    the remaining $1 - r$ is shared evenly by the other $C - 1$ attributes,
#    $R_{c,a} = (1 - r)/(C - 1)$ for $a \neq c$.
# 2. The *milestones* turn fractions into image counts: for a class of $n_c$ images,
#    $M_{c,k} = \operatorname{round}\big(n_c \sum_{a \le k} R_{c,a}\big)$, rounded half to even as NumPy
#    does.
# 3. The $j$-th image of class $c$ *in dataset order* ($j = 0, \dots, n_c - 1$) gets the attribute
#    $a = \min\{k : M_{c,k} > j\}$. Each class is cut into contiguous blocks with attributes
#    $0, 1, \dots, C-1$, of sizes $M_{c,k} - M_{c,k-1}$ (with $M_{c,-1} = 0$); nothing is shuffled.
#
# Two values of $r$ are special: $r = 1/C$ (0.1 with ten classes) makes every attribute equally common
# in every class, so the attribute carries no information about the label; $r = 1$ makes it a perfect
# predictor. $r = 0$ is not "unbiased" but *anti*-correlated: no image has its own class's attribute.
#
# The rule needs only the class sizes. For a class of 5,000 images (a CIFAR-10 training class), the
# released code's counts per attribute are known;
# {func}`attribute_milestones <ltdd.data.bias.attribute_milestones>` recomputes them:

# %%
import numpy as np
from IPython.display import Markdown

from ltdd.data.bias import BIASED_DD_RATIOS, attribute_milestones, bias_ratio_matrix
from ltdd.markdown import markdown_table

print(
    "ratio matrix R for r = 0.8 (rows: classes, columns: attributes), first four rows"
    " and columns:"
)
print(np.array2string(bias_ratio_matrix(0.8, 10)[:4, :4], precision=4))

# CIFAR-10 training class 0 (5,000 images): images per attribute 0..9 in the
# released code
REFERENCE_CLASS0 = {
    0.0: [0, 556, 555, 556, 555, 556, 555, 556, 555, 556], 0.1: [500] * 10,
    0.5: [2500, 278, 278, 277, 278, 278, 278, 277, 278, 278],
    0.8: [4000, 111, 111, 111, 111, 112, 111, 111, 111, 111],
    0.95: [4750, 28, 28, 27, 28, 28, 28, 27, 28, 28], 1.0: [5000] + [0] * 9
}
rows = []
for r in BIASED_DD_RATIOS:
    blocks = np.diff(attribute_milestones([5000] * 10, r, 10)[0], prepend=0).tolist()
    equal = "yes" if blocks == REFERENCE_CLASS0[r] else "**no**"
    rows.append([r, ", ".join(f"{n:,}" for n in blocks), equal])
Markdown(
    markdown_table(
        ["r", "images with attribute 0, 1, …, 9", "equal to the released code's"], rows
    )
)

# %% [markdown]
# The rounding is visible: at $r = 0.8$ the other 1,000 images cannot be split into nine equal blocks,
# and the cumulative rounding hands the extra image to attribute 5 (see the first exercise). At $r = 0$
# the aligned block is empty and the class is spread over the other nine attributes.
#
# ## The biased rate
#
# How biased is a dataset with attributes? Biased-DD measures it by the **biased rate** (its Eq. 1). `ltdd`
# defines it, in {func}`ltdd.data.bias.biased_rate`, as the fraction of bias-aligned images:
#
# $$
# \text{biased rate} \;=\; \frac{\big|\{\, i : a_i = y_i \,\}\big|}{N} \;=\;
# \frac{\#\text{aligned}}{\#\text{aligned} + \#\text{conflicting}},
# $$ (eq-biased-rate)
#
# over the $N$ images of a split. For a training set built with the rule above, {eq}`eq-biased-rate` is
# the bias ratio $r$, up to the per-class rounding of the milestones. Here it is on the live training
# labels for the six ratios Biased-DD releases; only the labels are needed
# ({func}`assign_attributes <ltdd.data.bias.assign_attributes>` never looks at an image):

# %%
from ltdd.data import load_dataset
from ltdd.data.bias import aligned_counts, assign_attributes, biased_rate

biased = load_dataset(BIASED, bias_ratio=BIAS_RATIO, severity=SEVERITY)
train_labels, test_labels = biased.train.labels.cpu(), biased.test.labels.cpu()
train_counts = biased.train.class_counts(biased.num_classes)

rows = []
for r in BIASED_DD_RATIOS:
    attributes = assign_attributes(train_labels, r, biased.num_classes)
    aligned, conflicting = aligned_counts(train_labels, attributes)
    per_class = [
        int(((train_labels == c) & (attributes == c)).sum())
        for c in range(biased.num_classes)
    ]
    rows.append(
        [
            r, f"{aligned:,}", f"{conflicting:,}",
            f"{biased_rate(train_labels, attributes):.4f}",
            f"{min(per_class):,} to {max(per_class):,}"
        ]
    )
print(f"{biased.name}: {len(train_labels):,} training images, per class {train_counts}")
Markdown(
    markdown_table(
        ["bias ratio r", "aligned", "conflicting", "biased rate", "aligned per class"],
        rows
    )
)

# %% [markdown]
# Without a GPU these are the 1,258 embedded training digits (122 to 128 per class): at $r = 0.95$,
# 1,195 images are aligned and 63 conflict, a biased rate of 0.9499 rather than 0.95, because every class
# rounds on its own. On MNIST (the GPU profile) the same rule gives 57,000 aligned images of 60,000.
#
# Because the blocks are contiguous, *which* images conflict depends on the order of the dataset. Here
# is the attribute sequence of the first class in dataset order, run-length encoded:

# %%
from itertools import groupby

for r in (0.5, BIAS_RATIO):
    attributes = assign_attributes(train_labels, r, biased.num_classes)
    sequence = attributes[train_labels == 0].tolist()
    runs = ", ".join(f"{a}×{len(list(run))}" for a, run in groupby(sequence))
    print(
        f"r = {r}: class {biased.class_names[0]!r}, {len(sequence)} images in dataset"
        f" order: {runs}"
    )

# %% [markdown]
# The blocks come in attribute order, so in class 0 the aligned images come first and the conflicting
# ones last; in class $c$ the aligned block is the $c$-th, after the conflicting blocks of attributes
# $0, \dots, c-1$ and before the others. In a small class at a high ratio the conflicting images are too
# few to cover the other colours: on the embedded digits at $r = 0.95$, class 0 has six conflicting
# images for nine other colours, so three of those colours never occur in it. The originals do exactly
# this; `assign_attributes(..., shuffle=True)` deals the same counts to a random permutation of each
# class instead (the last exercise asks when that matters).
#
# ## Coloured digits
#
# CMNIST-DD colours MNIST's grey digits with attribute colour $a$ (LfF's table of ten RGB colours) and
# a random offset per image: with the 8-bit grey value $g$ of a pixel and the image's colour
# $k = \operatorname{clamp}(\text{colour}_a + \sigma\,\varepsilon,\, 0,\, 1)$, $\varepsilon \sim
# \mathcal{N}(0, I_3)$, the pixel becomes $\lfloor k \cdot g \rfloor / 255$ in each channel. Only the
# stroke is coloured; the background stays black. The noise level $\sigma$ is set by the *severity*,
# $\sigma = 0.05, 0.02, 0.01, 0.005$ for severities 1 to 4: a **higher severity means less noise**, a
# purer and easier colour cue. `cdigits` applies the same protocol to the embedded 16×16 digits, as a
# stand-in for CMNIST-DD that needs no download; it is not CMNIST-DD. Its test set is all
# bias-conflicting (next sections).

# %%
info = biased.info
print(
    f"{biased.name}: {info['protocol']}; bias ratio {info['bias_ratio']}, severity "
    f"{info['severity']} (colour std {info['colour_std']}), image shape "
    f"{biased.image_shape}\n"
    f"training set: {info['train']['aligned']:,} aligned, "
    f"{info['train']['conflicting']:,} conflicting (biased rate "
    f"{info['biased_rate']})\n"
    f"test set:     {info['test']['aligned']:,} aligned, "
    f"{info['test']['conflicting']:,} conflicting"
)

# %% [markdown]
# Every row of {numref}`fig-03-aligned-conflicting` is one class: four of its bias-aligned training
# images, then four bias-conflicting ones, each captioned with the attribute (colour) it got.

# %% mystnb={"figure": {"caption": "Live coloured training digits at the chosen bias ratio, one row per class: four bias-aligned images, then four bias-conflicting ones, each captioned with its colour attribute. Notice that the aligned images of a class all share one colour.", "name": "fig-03-aligned-conflicting"}}
from ltdd.book.viz import show_aligned_conflicting

show_aligned_conflicting(
    biased.train.images, biased.train.labels, biased.train.attributes, biased,
    per_group=4, title=f"{biased.name}, r = {BIAS_RATIO}: training images"
)

# %% [markdown]
# Inside a class the aligned images all share one colour, and across classes the colours differ, so a
# network can reach 95 % training accuracy by reading the colour alone. The colour noise is small at
# every severity: {numref}`fig-03-colour-noise` shows 16 colours drawn for each attribute at each
# severity, the same random draw scaled by the four standard deviations. Even at severity 1 the jitter is small next to
# the distances between the ten colours (the closest pair, 0 and 9, are about 0.21 apart in RGB, some
# four times the severity-1 standard deviation); at severity 4 every row looks flat.

# %% mystnb={"figure": {"caption": "The colour a full-intensity stroke takes: one panel per severity, one row per attribute, 16 draws per row, the same random draw scaled by each severity's standard deviation. Compare the jitter within a row with the differences between rows.", "name": "fig-03-colour-noise"}}
from ltdd.book.viz import plot_colour_noise

plot_colour_noise(
    severities=(1, 2, 3, 4), samples=16, seed=0,
    title="the colour of a full-intensity stroke, 16 images per attribute"
)

# %% [markdown]
# ## The bias ratio, class by class
#
# {numref}`fig-03-bias-counts` shows, for the live training set at the chosen ratio (`BIAS_RATIO`, 0.95),
# how many images of every class are bias-aligned (bottom) and bias-conflicting (top). The bars are the block sizes of
# the rule, computed from the class sizes alone.

# %% mystnb={"figure": {"caption": "Bias-aligned (bottom) and bias-conflicting (top) training images of every class of the live coloured digits at the chosen bias ratio, computed from the class sizes alone. The conflicting images are a thin layer on top of every bar.", "name": "fig-03-bias-counts"}}
from ltdd.book.widgets import bias_counts_figure

bias_counts_figure(train_counts, BIAS_RATIO, class_names=biased.class_names)

# %% [markdown]
# In a running notebook (Jupyter, VS Code, Colab) the next cell shows the same bars with a slider for
# $r$ from 0 to 1. A page of this book has no Python kernel behind it, so a slider there could not
# redraw anything: the book shows the cell's code without running it (the cell is tagged
# `skip-execution`, which automatic runs honour and Jupyter's "Run all" ignores), and
# {func}`ltdd.book.widgets.bias_ratio_explorer` itself returns the static figure wherever no kernel runs.

# %% tags=["skip-execution"]
from ltdd.book.widgets import bias_ratio_explorer

bias_ratio_explorer(train_counts, bias_ratio=BIAS_RATIO, class_names=biased.class_names)

# %% [markdown]
# (sec-corruptions)=
# ## Corrupted CIFAR-10
#
# CCIFAR10-DD uses the same attribute rule on CIFAR-10, but the attribute is a *corruption*: attribute
# $k$ applies the $k$-th of ten corruptions from CIFAR-10-C {cite}`hendrycks2019`, so snow belongs to
# airplanes, frost to automobiles, and so on down to saturation for trucks. Their parameters are
# CIFAR-10-C's tables for 32×32 images, not the ImageNet-C ones of the `imagecorruptions` package, and
# Biased-DD's severity $s \in \{1, 2, 3, 4\}$ is CIFAR-10-C **level $s + 1$**: severity 1 is level 2,
# severity 4 the strongest level, 5. Here, unlike the colour noise, a higher severity means a stronger
# corruption.
#
# {mod}`ltdd.data.corruptions` re-implements the ten corruptions for batches of images (no OpenCV,
# scikit-image or ImageMagick). Each image draws its own random numbers from its own seed, so the
# results are distributed like CIFAR-10-C's, but not equal pixel for pixel: the random streams differ.
# Frost blends in crops of texture photos; when the original textures are not installed (an
# `imagecorruptions` installation provides them), this chapter uses `ltdd`'s **procedural frost
# substitute**, drawn to match their size, mean colour and contrast. It is a stand-in, not the
# original: frost images made with it only look qualitatively like CIFAR-10-C's.
#
# The gallery ({numref}`fig-03-corruption-gallery`) applies every corruption at every severity to the
# same three images; an image keeps its random draw across the severities, so only the strength changes
# from column to column.

# %% mystnb={"figure": {"caption": "The ten CCIFAR10-DD corruptions, one row each (with the class it is aligned with), on three images: clean, then severities 1 to 4. Each image keeps its random draw across the severities, so only the strength changes. Without the original textures, frost is ltdd's procedural stand-in.", "name": "fig-03-corruption-gallery"}}
import torch

from ltdd.data.corruptions import CORRUPTIONS
from ltdd.data.loaders import CIFAR10_CLASSES
from ltdd.book.viz import plot_corruption_gallery

if GALLERY == "cifar10":
    cifar = load_dataset("cifar10")
    photos = cifar.denormalize(cifar.test.images[:3]).clamp(0, 1).cpu()
else:
    # three crops of scikit-learn's two bundled photos, box-downscaled to 32×32
    # (no download)
    from PIL import Image
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    # (photo, top, left, side)
    crops = [(china, 25, 30, 370), (china, 180, 330, 240), (flower, 70, 150, 310)]
    small = [
        np.array(Image.fromarray(p[t : t + s, l : l + s]).resize((32, 32), Image.BOX))
        for p, t, l, s in crops
    ]
    # (3, 3, 32, 32) in [0, 1]
    photos = torch.from_numpy(np.stack(small)).permute(0, 3, 1, 2).float().div(255)

print(
    f"{len(CORRUPTIONS)} corruptions × 4 severities on {len(photos)} images of"
    f" {tuple(photos.shape[1:])}; frost textures: {FROST or 'the originals'}"
)
plot_corruption_gallery(
    photos,
    severities=(1, 2, 3, 4),
    seed=0,
    frost_textures=FROST,
    class_names=CIFAR10_CLASSES,
    title=(
        "the CCIFAR10-DD corruptions (row: corruption and the class it is aligned with)"
    ),
)

# %% [markdown]
# The ten corruptions are far from equally conspicuous: saturate at severity 1 (level 2, saturation
# × 0.1) nearly turns the image grey, and contrast and fog wash it out, while brightness, JPEG and
# pixelate stay subtle at 32 pixels up to severity 4. Unlike the ten colours of CMNIST-DD they are not
# ten versions of one cue, so some classes' shortcuts may be easier to pick up than others'.
#
# Building CCIFAR10-DD means corrupting all 60,000 CIFAR-10 images, which takes a while on a CPU:
# `load_dataset("ccifar10-dd", bias_ratio=..., severity=...)` ({func}`ltdd.data.load_dataset`) does it
# once and caches the result on disk. This chapter does not build it; the gallery above is the whole of the corruption work here.
#
# ## Test sets: all conflicting, or 10 % aligned
#
# A biased training set needs a test set that tells whether a network learned the class or the
# shortcut. The two codes choose differently, with the same attribute rule:
#
# - **Biased-DD** assigns the test attributes with $r = 0$: *every* test image is bias-conflicting, its
#   attribute spread evenly over the other classes'. The README calls it "unbiased".
# - **LfF**'s validation split uses $r = 0.1$, which with ten classes is uniform: 10 % of the test images
#   are aligned, and every attribute is equally common in every class.
#
# A network that reads only the attribute is right on the aligned images and wrong on the others, so its
# accuracy equals the split's biased rate {eq}`eq-biased-rate`: $r$ on the training set, 0 on Biased-DD's
# test set, about 0.1 on LfF's. Here are the counts on the live test split and, from the class sizes alone, on
# CIFAR-10's (1,000 test images per class):

# %%
from ltdd.data.bias import TEST_SPLITS
from ltdd.book.widgets import aligned_conflicting_counts

test_counts = biased.test.class_counts(biased.num_classes)
rows = []
for split_name, counts in ((biased.name, test_counts), ("CIFAR-10", [1000] * 10)):
    for rule, r in TEST_SPLITS.items():
        aligned, conflicting = aligned_conflicting_counts(counts, r)
        who = (
            "Biased-DD: all conflicting"
            if rule == "conflicting"
            else "LfF: 10 % aligned"
        )
        rows.append(
            [
                split_name, who, r, f"{sum(aligned):,}", f"{sum(conflicting):,}",
                f"{sum(aligned) / sum(counts):.4f}"
            ]
        )
blocks = np.diff(attribute_milestones([1000] * 10, 0.0, 10)[0], prepend=0).tolist()
print(f"CIFAR-10 test class 0 at r = 0 has, per attribute 0..9: {blocks}")
Markdown(markdown_table(["test split", "rule", "r", "aligned", "conflicting",
                         "accuracy of an attribute-only classifier"], rows))

# %% [markdown]
# The heat maps of {numref}`fig-03-attribute-counts` show the whole class-by-attribute table of the live
# data: the training set at $r = 0.95$ with its heavy diagonal, Biased-DD's test set with an empty one, and
# LfF's uniform test set.

# %% mystnb={"figure": {"caption": "Images per class (rows) and attribute (columns) of the live data: the training set at the chosen bias ratio, Biased-DD's all-conflicting test set and LfF's uniform test set; the diagonal (bias-aligned) cells are outlined. Look for attribute columns that no conflicting training image fills.", "name": "fig-03-attribute-counts"}}
from ltdd.book.viz import attribute_count_matrix, plot_attribute_counts

matrix = attribute_count_matrix(
    train_labels, biased.train.attributes, biased.num_classes
)
off_diagonal = matrix - np.diag(np.diag(matrix))
print(f"training set, r = {BIAS_RATIO}: attributes that no conflicting image carries: "
      f"{[a for a in range(biased.num_classes) if off_diagonal[:, a].sum() == 0]}")
lff_attributes = assign_attributes(test_labels, TEST_SPLITS["lff"], biased.num_classes)
plot_attribute_counts(
    {
        f"training set, r = {BIAS_RATIO}": (train_labels, biased.train.attributes),
        "test set, Biased-DD (r = 0)": (test_labels, biased.test.attributes),
        "test set, LfF (r = 0.1)": (test_labels, lff_attributes)
    },
    biased.num_classes,
    title=f"{biased.name}: images per class and attribute",
)

# %% [markdown]
# On the embedded digits the training set's conflicting images are thin and uneven: with six or seven
# of them per class, the rounded milestones fall at nearly the same places in every class, so no
# conflicting image at all has colour 1 or colour 8. A network trained on it never sees a yellow digit
# that is not a 1. On MNIST (5,923 to 6,742 images per class) every class has roughly 300 conflicting
# images at $r = 0.95$, over 30 of each other colour.
#
# `load_dataset(BIASED, test_split="lff")` builds the dataset with LfF's test split instead;
# `test_split="conflicting"` (Biased-DD's) is the default.
#
# ## The released datasets at a glance
#
# What the public code builds and releases (Biased-DD's `biased_mnist_v1.py` and `biased_cifar10.py`;
# LfF's `make_dataset.py`). The live run above uses only the rules; these are the facts about the
# full-size datasets.
#
# | | CMNIST-DD | CCIFAR10-DD |
# |---|---|---|
# | source images | MNIST, 60,000 training / 10,000 test | CIFAR-10, 50,000 training / 10,000 test |
# | stored as | float32 in [0, 1], not normalised, (N, 3, 28, 28) | float32 in [0, 1], not normalised, (N, 3, 32, 32) |
# | bias attribute | one of ten colours (LfF's table), jittered per image | one of ten CIFAR-10-C corruptions |
# | attribute $k$ ↔ class $k$ | colour $k$ | snow, frost, fog, brightness, contrast, spatter, elastic, JPEG, pixelate, saturate ↔ airplane … truck |
# | bias ratios $r$ (fraction aligned) | 0.0, 0.1, 0.5, 0.8, 0.95, 1.0 | 0.0, 0.1, 0.5, 0.8, 0.95, 1.0 |
# | severities | 1, 2, 3, 4: colour std 0.05, 0.02, 0.01, 0.005 | 1, 2, 3, 4: CIFAR-10-C levels 2, 3, 4, 5 |
# | files | 24 (6 ratios × 4 severities), `MNIST_align{r}_severity_{s}.pth` | 24, `CIFAR10_align{r}_severity_{s}.pth` |
# | aligned training images at $r = 0.95$ | 57,000 of 60,000 | 4,750 per class |
# | test set | $r = 0$: all bias-conflicting, about 126 per attribute and class | $r = 0$: all bias-conflicting, 111 or 112 per attribute and class |
#
# LfF's own coloured MNIST and corrupted CIFAR-10 use the same rule, colours and corruptions, but name
# the *conflicting* fraction: skewed ratios 0.05, 0.02, 0.01 and 0.005 (so $r$ = 0.95, 0.98, 0.99 and
# 0.995), severities 1 to 4 with the same meaning, and a validation split with $r = 0.1$.
#
# ## What the shortcut costs a network, on CIFAR-10
#
# Nothing on this page trains a network, but the book's recorded bias experiment (chapter
# {doc}`08_biased_distillation`) did, as its control: a ConvNet trained on the whole CCIFAR10-DD training set at
# each bias ratio (severity 4), built from a mirror of CIFAR-10 whose images were re-encoded as JPEG, hence the
# label. Its accuracy on the aligned and on the conflicting images of LfF's test split shows the shortcut
# directly; Biased-DD's Table 1 reports the all-conflicting test set, so its row is to be read against ours on
# the conflicting images. The sentences under the table are computed from the recorded file.

# %%
from ltdd.studies.recorded import (
    load_experiment, shortcut_panel, shortcut_sentences
)

cifar_bias = load_experiment("bias")
if cifar_bias is None:
    shortcut_text = (
        "The CCIFAR10-DD results are not recorded yet "
        "(`data/reference/ccifar10_bias_cpu.json`)."
    )
else:
    shortcut_text = (
        "**Accuracy (%) of a ConvNet trained on the whole CCIFAR10-DD "
        "training set (JPEG mirror), severity 4**\n\n" + shortcut_panel(cifar_bias)
        + f"\n\nRecorded on {cifar_bias.provenance['machine']}, ConvNet width "
        + f"{cifar_bias.study('severity4').settings['net_width']}, one network per "
        "ratio.\n\n"
        + "\n".join(f"- {s}" for s in shortcut_sentences(cifar_bias))
    )
Markdown(shortcut_text)

# %% [markdown]
# The distance between the two rows is what the network takes from the corruption rather than from the
# object. At ratio 1 every training image carries its class's corruption, so the corruption alone names the
# class. At ratio 0 no training image is aligned, so a corruption can only rule its own class out: compare the
# two rows there with exercise {ref}`ex-03-unbiased`. Chapter {doc}`08_biased_distillation` asks what a
# distilled set keeps of this.
#
# ## What this chapter ran
#
# No network was trained here; training starts in the next chapter. Without a GPU everything live ran on
# embedded data: the attribute counts are exact for any class sizes (the CIFAR-10 rows above need no
# images), the coloured images are `cdigits`, 16×16 digits coloured by the CMNIST-DD rule, and the
# corruption gallery ran on three crops of scikit-learn's sample photos, with the procedural frost if the
# original textures were missing. With a GPU the same cells run on coloured MNIST and CIFAR-10 test
# images; CCIFAR10-DD itself is never built on this page.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-03-milestones
#
# Compute by hand the milestones $M_{0,k}$ of a CIFAR-10 class (5,000 images) at $r = 0.8$ and the
# block sizes they give. Why does attribute 5 get 112 images and the other conflicting attributes 111?
# Check with `attribute_milestones([5000] * 10, 0.8, 10)[0]`.
# Give the ten block sizes (attributes 0 to 9) as whole numbers and check with `from ltdd.book.exercises import
# check` and `check("ex-03-milestones", blocks)`.
# ```
#
# ```{solution} ex-03-milestones
# :class: dropdown
#
# Class 0 keeps $R_{0,0} = 0.8$, and every other attribute gets $0.2/9 = 0.0\overline{2}$ of the class,
# $111.\overline{1}$ images. The cumulative sums are $4000,\ 4111.1,\ 4222.2,\ 4333.3,\ 4444.4,\ 4555.6,\
# 4666.7,\ 4777.8,\ 4888.9,\ 5000$, rounded $4000, 4111, 4222, 4333, 4444, 4556, 4667, 4778, 4889, 5000$.
# The blocks are the differences: $4000$, then $111$ four times, $4556 - 4444 = 112$, then $111$ four
# times. Rounding the *cumulative* sums, not the block sizes, keeps the total at exactly 5,000; the
# extra image goes to the first block whose cumulative sum has a fractional part above one half
# (attribute 5: $4555.\overline{5}$ rounds up, the sums before it round down).
# ```
#
# ```{exercise}
# :label: ex-03-shortcut
#
# A classifier ignores the digit and predicts the class whose colour it sees (it reads the colour
# perfectly). What is its accuracy on a training set with bias ratio $r$, on Biased-DD's test set and on
# LfF's? What does that say about how the two test sets rank a network that partly relies on colour?
# For the numbers at $r = 0.95$, give the training-set and Biased-DD test accuracies as fractions to two
# decimals and check with `from ltdd.book.exercises import check` and `check("ex-03-shortcut", (train_accuracy,
# biased_dd_accuracy))`.
# ```
#
# ```{solution} ex-03-shortcut
# :class: dropdown
#
# It is right exactly on the bias-aligned images, so its accuracy on any split is that split's biased
# rate: $r$ on the training set (95 % at $r = 0.95$, up to rounding), **0** on Biased-DD's all-conflicting
# test set, and about 10 % on LfF's (on the live digits the table above gives the exact value). On
# Biased-DD's test set every use of the colour can only hurt: the colour always points to a wrong
# class. On LfF's a tenth of the images reward the shortcut, so a colour-reliant network loses less
# there; the same network looks better under LfF's protocol than under Biased-DD's, and results on the
# two are not comparable.
# ```
#
# ```{exercise}
# :label: ex-03-unbiased
#
# With $C$ classes, which bias ratio makes the attribute independent of the label? Is $r = 0$ unbiased?
# How well can a classifier that only sees the attribute do at $r = 0$ with ten classes?
# Give the ratio and the accuracy as fractions to three decimals and check with `from ltdd.book.exercises import
# check` and `check("ex-03-unbiased", (ratio, accuracy))`.
# ```
#
# ```{solution} ex-03-unbiased
# :class: dropdown
#
# $r = 1/C$: then $R_{c,a} = 1/C$ for every class and attribute, so the attribute has the same
# distribution in every class and says nothing about the label (0.1 for ten classes; that is why LfF's
# $r = 0.1$ split is uniform). At $r = 0$ the attribute still carries information: it rules one class
# out. Seeing attribute $a$, the nine other classes are equally likely, so the best attribute-only
# classifier guesses one of them and is right $1/9 \approx 11.1$ % of the time, more than the $1/10$ of
# chance. "All bias-conflicting" is therefore not the same as "unbiased": it is anti-correlated.
# ```
#
# ```{exercise}
# :label: ex-03-rate
#
# The live training set at $r = 0.95$ (embedded digits, 1,258 images) has a biased rate of
# $1195/1258 \approx 0.9499$. Find, with `attribute_milestones`, the aligned count of every class and
# explain why the total is not $\operatorname{round}(0.95 \cdot 1258) = 1195$ by construction but
# happens to equal it. Would a class of 10 images at $r = 0.95$ have any conflicting image?
# Give the ten aligned counts (classes 0 to 9) as whole numbers and check with `from ltdd.book.exercises import check`
# and `check("ex-03-rate", aligned)`.
# ```
#
# ```{solution} ex-03-rate
# :class: dropdown
#
# Each class rounds on its own, and class $c > 0$'s aligned block is $M_{c,c} - M_{c,c-1}$, a difference
# of two rounded cumulative sums, which can differ from $\operatorname{round}(0.95\, n_c)$ by one. The
# classes give 119, 120, 118, 122, 120, 120, 121, 119, 116, 120 aligned images (see
# `aligned_conflicting_counts(train_counts, 0.95)`, {func}`ltdd.book.widgets.aligned_conflicting_counts`),
# 1,195 in all: the per-class rounding errors happen to cancel here, they need not. A class of 10 images has $10 \cdot 0.05 = 0.5$
# conflicting images to share among nine attributes, $0.0\overline{5}$ each; the milestones round the
# cumulative sums, and for class 0 the first milestone is $\operatorname{round}(9.5) = 10$ (half to even),
# so it has *no* conflicting image at all; in ten classes of 10 images, nine have none and class 9 has
# one (`aligned_conflicting_counts([10] * 10, 0.95)`). Small classes can lose every conflicting example.
# ```
#
# ```{exercise}
# :label: ex-03-order
#
# The attribute rule cuts each class, in dataset order, into contiguous blocks, one per attribute.
# Describe a dataset order for which this makes the conflicting images unlike the aligned ones in some
# other respect than the attribute. How does `assign_attributes(..., shuffle=True)`
# help, and what does it not change?
# ```
#
# ```{solution} ex-03-order
# :class: dropdown
#
# If the files are ordered by anything correlated with appearance, for example by writer or by
# collection date, then the conflicting images of a class are the *last* writers' (or the latest) digits
# only (in class 0, where the aligned block comes first): the conflicting set differs from the aligned
# one in handwriting as well as in colour, and a debiasing result could come from either.
# `shuffle=True` deals the same block sizes to a random permutation of each class, so which images
# conflict no longer depends on the order. It
# does not change any count: the biased rate, the per-class aligned numbers and the test sets are
# exactly those of the unshuffled rule.
# ```
