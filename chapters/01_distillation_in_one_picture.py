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
# # Dataset distillation in one picture
#
# How well can a network do if it may see only a few images of every class? This chapter answers the
# question for the simplest possible choice of those images, a random sample, and sets up the yardstick
# (the *{term}`evaluation protocol`*) that every distillation method in this book is measured with.
#
# ```{admonition} In this chapter
# :class: tip
# **What you will learn.** What {term}`dataset distillation` asks for, written as a two-level optimisation
# problem; the evaluation protocol that judges every small training set in this book, and how `ltdd`
# runs it ({func}`evaluate_synthetic <ltdd.train.evaluate_synthetic>`,
# {func}`evaluate_training_set <ltdd.train.evaluate_training_set>`); how far a random sample of a few
# images per class already gets, per class and as the budget grows.
#
# **Before you start.** Nothing beyond chapter 00 ({doc}`00_how_to_use`).
#
# **How long.** About 10 minutes to read. Running it on 2 CPU cores: under a minute with the `smoke` profile (CI checks this), and 1.7 minutes with `cpu` (measured alone in the clean-clone `cpu` environment, 2 cores); on a Colab T4 GPU: not measured yet.
# ```

# %% tags=["remove-cell"]
# Set-up: on Colab, install ltdd (a no-op elsewhere); start the chapter's time budget.
import subprocess, sys

if "google.colab" in sys.modules:
    PACKAGE = "ltdd @ git+https://github.com/ltdd-book/ltdd"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", PACKAGE], check=True)

from ltdd.budget import chapter_budget

# `cpu`: 10 minutes; past them the next cell stops, saying so
budget = chapter_budget("01")

# %% [markdown]
# ## The idea
#
# Take a training set $\mathcal{T}$ of $N$ labelled images in $C$ classes. Dataset distillation
# {cite}`wang2018` looks for a much smaller *synthetic* set $\mathcal{S}$, with a fixed budget of
# $\mathrm{IPC}$ images per class ($|\mathcal{S}| = C\cdot\mathrm{IPC} \ll N$), such that a network
# trained from scratch on $\mathcal{S}$ does about as well on real test images as one trained on
# $\mathcal{T}$. Written as an optimisation problem it has two levels:
#
# $$
# \begin{aligned}
# \mathcal{S}^\star &= \operatorname*{arg\,min}_{\mathcal{S}}\;
#   \mathbb{E}_{\theta_0}\Big[\mathcal{L}\big(\theta^{\mathcal{S}}(\theta_0);\,\mathcal{T}\big)\Big]
#   && \text{(outer: the synthetic images)}\\
# \theta^{\mathcal{S}}(\theta_0) &= \operatorname*{arg\,min}_{\theta}\; \mathcal{L}(\theta;\,\mathcal{S})
#   \ \text{ reached by training from } \theta_0 && \text{(inner: a network trained on them)}
# \end{aligned}
# $$ (eq-dd-bilevel)
#
# where $\mathcal{L}(\theta; \mathcal{D})$ is the classification loss of the network with weights
# $\theta$ on the data $\mathcal{D}$, and the expectation runs over random initialisations $\theta_0$,
# because $\mathcal{S}$ must work for *any* fresh network, not for one. Differentiating through the whole
# inner training run is expensive, so the methods of this book replace the outer objective of
# {eq}`eq-dd-bilevel` by a cheaper surrogate: matching gradients (DC {cite}`dc`, DSA {cite}`dsa`),
# feature distributions (DM {cite}`dm`, IDM {cite}`idm`, DSDM {cite}`dsdm`) or training trajectories
# (MTT {cite}`mtt`, DATM {cite}`datm`).
#
# Before any of that, one baseline: **pick $\mathrm{IPC}$ real images per class at random**. It is the
# bar every method has to clear, and it shows how much a handful of images can already do.

# %% [markdown]
# ## Settings
#
# Everything that depends on your machine comes from the active profile (see {doc}`00_how_to_use`):

# %%
from ltdd import get_profile

profile = get_profile()
DATASET = profile.dataset  # the real dataset
MODEL, MODEL_OPTIONS = profile.model, profile.model_options()  # the evaluation network
IPC = profile.ipc  # images per class of the random subset
# the evaluation protocol
EVAL_EPOCHS, EVAL_SEEDS = profile.eval_epochs, profile.eval_seeds
FULL_EPOCHS = profile.full_epochs  # training on the whole training set
FULL_SEEDS = profile.full_seeds  # networks trained on the whole training set
IPC_GRID = list(profile.ipc_grid)  # for the accuracy-vs-IPC curve

print(
    f"profile {profile.name!r}: dataset={DATASET}, model={MODEL} {MODEL_OPTIONS}, "
    f"IPC={IPC}\n"
    f"evaluation: {EVAL_EPOCHS} epochs x {EVAL_SEEDS} networks; full data: "
    f"{FULL_EPOCHS} epochs x {FULL_SEEDS} networks; IPC grid: {IPC_GRID}"
)

# %% [markdown]
# ## The real training set
#
# The dataset is loaded onto the GPU when there is one. Its images are stored *normalised* (mean 0 and
# standard deviation 1 per channel), as in the distillation literature; the figures map them back to
# pixels. {numref}`fig-01-training-images` shows ten of them per class.

# %% mystnb={"figure": {"caption": "Ten training images of every class of the profile's dataset, one row per class, mapped back from normalised values to pixels.", "name": "fig-01-training-images"}}
from ltdd.data import load_dataset
from ltdd.book.viz import show_images

dataset = load_dataset(DATASET)
train_counts = dataset.train.class_counts(dataset.num_classes)
print(
    f"{dataset.name}: {len(dataset.train)} training and {len(dataset.test)} test"
    f" images, {dataset.num_classes} classes, image shape {dataset.image_shape};"
    f" training images per class: {min(train_counts)} to {max(train_counts)}"
)
show_images(dataset.train.images, dataset.train.labels, dataset, per_class=10,
            title=f"{dataset.name}: ten training images per class")

# %% [markdown]
# ## Training on everything
#
# The upper reference is a network trained on the *whole* training set.
# {func}`evaluate_training_set <ltdd.train.evaluate_training_set>` trains fresh networks (each with its
# own seed) and tests each on the real test set.

# %%
from ltdd.train import TrainConfig, evaluate_training_set

full = evaluate_training_set(
    dataset.train.images, dataset.train.labels, dataset, model=MODEL, seeds=FULL_SEEDS,
    config=TrainConfig(epochs=FULL_EPOCHS), progress=False, model_options=MODEL_OPTIONS
)
print(full)

# %% [markdown]
# ## A random subset: IPC images per class
#
# In `ltdd`, every way of producing a small training set, from random selection to the most elaborate
# distillation method, is a *distiller* built by name with {func}`ltdd.distill.make_distiller`. Random
# selection has nothing to optimise, so {meth}`run(0) <ltdd.distill.base.Distiller.run>` simply draws
# the images (reproducibly, from its seed) and returns a
# {class}`SyntheticSet <ltdd.distill.base.SyntheticSet>`; {numref}`fig-01-random-subset` shows it.

# %% mystnb={"figure": {"caption": "The random subset: IPC real training images of every class, drawn reproducibly from seed 0. This is all the training data the evaluation networks below get.", "name": "fig-01-random-subset"}}
from ltdd.distill import make_distiller

subset = make_distiller("random", dataset, seed=0, ipc=IPC).run(0, progress=False)
print(
    f"{len(subset)} images = {100 * len(subset) / len(dataset.train):.1f} % of the"
    " training set"
)
show_images(subset.images, subset.labels, dataset, per_class=IPC,
            title=f"random selection, IPC = {IPC}")

# %% [markdown]
# ## The evaluation protocol
#
# A small training set is judged by what it teaches: train fresh networks on it, test them on the real
# test set. The numbers in the papers are only comparable because they all follow the protocol of the
# {term}`DC`/{term}`DSA`/{term}`DM` reference code {cite}`dc,dsa,dm`, which {mod}`ltdd.train` reproduces (its settings are a
# {class}`TrainConfig <ltdd.train.TrainConfig>`):
#
# - a ConvNet (3 blocks of convolution, instance norm, ReLU and average pooling; 128 channels in the
#   papers, fewer in the CPU profiles), trained from a fresh random initialisation;
# - SGD with learning rate 0.01, momentum 0.9, weight decay 5e-4, batch size 256;
# - $E+1$ passes over the data (the reference loops over `range(E + 1)`); after pass $E/\!/2+1$ the
#   learning rate drops ×0.1 by **re-creating** the optimiser, which also resets the momentum;
# - differentiable Siamese augmentation (DSA: colour, crop, cutout, scale, rotate; flips only where a
#   mirrored image keeps its class, so not for digits) on every training batch;
# - the test accuracy after the last pass, as **mean ± standard deviation over several networks**.
#
# The papers use $E = 1000$ and 5 or more networks; the profile sets $E$ and the number of networks.

# %%
from ltdd.train import evaluate_synthetic

protocol = TrainConfig(epochs=EVAL_EPOCHS)
print(protocol)
random_report = evaluate_synthetic(
    subset, dataset, model=MODEL, seeds=EVAL_SEEDS, config=protocol, progress=False,
    model_options=MODEL_OPTIONS
)
print(random_report)

# %%
from IPython.display import Markdown

from ltdd.book.viz import accuracy_table, plot_per_class_accuracy

reports = {"full training set": full, f"random, IPC {IPC}": random_report}
Markdown(accuracy_table(reports))

# %% [markdown]
# The gap between the two rows is what dataset distillation tries to close. The overall number hides
# how the gap is spread over the classes ({numref}`fig-01-per-class`):

# %% mystnb={"figure": {"caption": "Per-class test accuracy of networks trained on the whole training set and on the random subset (bars: mean over the networks; whiskers: standard deviation). Look for the classes where the random subset loses most.", "name": "fig-01-per-class"}}
plot_per_class_accuracy(
    reports, dataset.class_names,
    title=f"{dataset.name}: per-class test accuracy, full data vs random IPC {IPC}"
)

# %% [markdown]
# On a balanced dataset the random subset is balanced too, and the per-class bars mostly follow how hard
# each class is. Later chapters make the training set {term}`long-tailed <long-tailed data>` or biased; then this per-class view
# becomes the main figure, because the overall accuracy can look fine while the rare classes collapse.
#
# ## More images per class
#
# How fast does random selection approach the full training set as the budget grows? Each point of
# {numref}`fig-01-accuracy-vs-ipc` trains the protocol's networks on a fresh random subset of that size.

# %% mystnb={"figure": {"caption": "Test accuracy of random selection against the number of images per class (whiskers: standard deviation over networks); the dashed line is the whole training set, with a grey band of one standard deviation either side when more than one network was trained on it. Notice how quickly the gap to the dashed line closes as the budget grows.", "name": "fig-01-accuracy-vs-ipc"}}
from ltdd.book.viz import plot_accuracy_vs_ipc

smallest_class = min(train_counts)
# IPC cannot exceed a class's size
ipcs = sorted({k for k in IPC_GRID + [IPC] if k <= smallest_class})
curve = {IPC: random_report}
for k in ipcs:
    if k not in curve:
        chosen = make_distiller("random", dataset, seed=0, ipc=k).run(0, progress=False)
        curve[k] = evaluate_synthetic(
            chosen, dataset, model=MODEL, seeds=EVAL_SEEDS, config=protocol,
            progress=False, model_options=MODEL_OPTIONS
        )
for k in ipcs:
    print(f"IPC {k:3d}: {curve[k]}")
plot_accuracy_vs_ipc({"random selection": {k: curve[k] for k in ipcs}}, full=full,
                     title=f"{dataset.name}: accuracy vs images per class")

# %% [markdown]
# ## What the papers report
#
# The numbers above come from a short live run on the profile's dataset; without a GPU (the `smoke` and
# `cpu` profiles) that is 16×16 digits, a narrow ConvNet and a shortened protocol. They are **not** the
# papers' numbers and should not be compared with them. For reference, this is what the papers report
# for random selection on CIFAR-10 with the 128-channel ConvNet and the full protocol (the random selection
# rows of the DC {cite}`dc` and DM {cite}`dm` papers, from {mod}`ltdd.reference`):

# %%
from IPython.display import Markdown

from ltdd.reference import FULL_DATA, PAPER_RESULTS, PAPER_STD
from ltdd.markdown import markdown_table

random_rows = [
    [
        k,
        (
            f"{PAPER_RESULTS['cifar10']['random'][k]:.1f} ±"
            f" {PAPER_STD['cifar10']['random'][k]:.1f}"
        ),
    ]
    for k in (1, 10, 50)
]
Markdown(
    markdown_table(
        ["IPC", "random selection, CIFAR-10, ConvNet (papers' numbers, %)"],
        random_rows, align="rr"
    )
    + f"\n\nThe whole training set gives about {FULL_DATA['cifar10']:.1f} % in the same"
    " setting."
)

# %% [markdown]
# Run this chapter with the `gpu` profile to see where your own CIFAR-10 numbers land: with 500 instead of
# 1000 epochs and 3 networks, expect them close to, not exactly on, these values.
#
# ## The picture on natural images
#
# The digits are an easy dataset: a few random images per class already teach a network most of it, so a
# learned set has little room to do better. On CIFAR-10 the room is large. The book recorded random
# selection and DM on CIFAR-10 at a scale two CPU cores can finish (a mirror of CIFAR-10 re-encoded as JPEG,
# hence the label; the command and scale are in `data/reference/cifar10_dm_family_cpu.json`, and
# {doc}`05_distribution_matching` has the whole comparison). The table sets the papers' numbers, ours on the
# mirror and this notebook's live random subsets side by side.

# %%
from ltdd.studies.recorded import gap_sentence, load_experiment, results_panel

recorded = load_experiment("dm-family")
live_points = {("random", k): 100 * report.mean for k, report in curve.items()}
if recorded is None:
    display(
        Markdown(
            "The CIFAR-10 results are not recorded yet"
            " (`data/reference/cifar10_dm_family_cpu.json`)."
        )
    )
else:
    rows = [
        (label, method, k)
        for k in (1, 10)
        for label, method in (("random", "random"), ("DM", "dm"))
    ]
    display(
        Markdown(
            results_panel(
                rows, recorded, live_points, f"live, {dataset.name}, {profile.name}"
            )
            + "\n\n"
            + gap_sentence(recorded.study("ipc10"), "DM", "random", "dm", "random")
        )
    )

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: ex-01-seeds
#
# The ± in `random_report` is the spread over networks trained on **one** random subset. Draw three
# different subsets (`seed=0, 1, 2` in `make_distiller`) and evaluate each with the protocol. Is the
# spread between subsets larger or smaller than the spread between networks? What does that say about
# comparing two methods by a single run each?
# ```
#
# ```{solution} ex-01-seeds
# :class: dropdown
#
# At small {term}`IPC` the choice of images matters a lot: with one image per class a badly written digit can
# cost a whole class, so the accuracy usually varies **more between subsets than between networks**
# trained on the same subset. The reported ± then understates the real uncertainty of "random
# selection". To compare methods fairly, repeat the whole pipeline (selection or distillation *and*
# evaluation) over several seeds, and be wary of differences smaller than the spread.
# ```
#
# ```{exercise}
# :label: ex-01-budget
#
# Express the budgets as a fraction of the training set: how many images, and what percentage of the
# training set, are IPC = 1, 10 and 50 on CIFAR-10 (50,000 training images, 10 classes)? Which fraction
# of the full-data accuracy does random selection keep at IPC = 10 according to the papers' table?
# Give the percentages to two decimals and the kept fraction in percent to one decimal and check with `from
# ltdd.book.exercises import check` and `check("ex-01-budget", (pct_1, pct_10, pct_50, kept))`.
# ```
#
# ````{solution} ex-01-budget
# :class: dropdown
#
# IPC = 1, 10, 50 means 10, 100 and 500 images: 0.02 %, 0.2 % and 1 % of CIFAR-10. The fraction of the
# full-data accuracy is the ratio of two numbers of the table above:
#
# ```python
# from ltdd.reference import FULL_DATA, PAPER_RESULTS
# print(f"{PAPER_RESULTS['cifar10']['random'][10] / FULL_DATA['cifar10']:.0%}")
# ```
#
# about a third of the full-data accuracy with 0.2 % of the data. On the small digits set the same IPC is a much larger fraction
# (IPC 10 is 100 of about 1,260 training images, 8 %), one reason the live numbers are far higher.
# ````
#
# ```{exercise}
# :label: ex-01-protocol
#
# Build `TrainConfig(epochs=EVAL_EPOCHS, dsa=False)` and evaluate the same random subset without
# augmentation. How much does DSA help at this IPC, and why would it matter more for a small training set
# than for the full one?
# ```
#
# ```{solution} ex-01-protocol
# :class: dropdown
#
# Without augmentation a network memorises the few images within a few passes and then stops learning,
# so accuracy usually drops, often by several points at small IPC. With the full training set there is
# enough natural variety that augmentation matters much less. This is why the protocol fixes DSA for
# *every* method: a method evaluated with augmentation against a baseline evaluated without would win for
# the wrong reason.
# ```
