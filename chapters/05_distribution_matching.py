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
# # Distribution matching
#
# The first distillation method of this book, and the simplest one that works: {term}`DM`, "Dataset Condensation
# with Distribution Matching" {cite}`dm`. It learns synthetic images whose *features*, under randomly
# initialised networks, have the same class means as the real images' features. No network is trained
# while the images are learned, which makes DM cheap enough to run on a laptop, and it is the skeleton
# that {term}`IDM` {cite}`idm` and {term}`DSDM` {cite}`dsdm` (the next two chapters) build on. This chapter writes down
# DM's objective, maps every part of it to the function of `ltdd` that computes it, runs DM live, and
# compares it with the real-image baselines it has to beat: random selection, {term}`herding` and {term}`k-center`.
#
# ```{admonition} In this chapter
# :class: tip
# **What you will learn.**
# - DM's objective, a maximum mean discrepancy under randomly initialised networks, and the part of
#   `ltdd` that computes each of its terms ({class}`DM <ltdd.distill.dm.DM>`,
#   {class}`DistributionMatcher <ltdd.distill.matching.DistributionMatcher>`).
# - What a live DM run does to its loss and to its images, and how well the result teaches.
# - Two speed ideas of the implementation: all classes in one forward pass, and per-class image steps
#   computed in closed form.
# - Whether DM beats choosing real images (random, herding, k-center) as the budget grows
#   ({func}`accuracy_vs_ipc <ltdd.studies.experiments.accuracy_vs_ipc>`).
#
# **Before you start.** {doc}`01_distillation_in_one_picture` (the two-level problem and the evaluation
# protocol).
#
# **How long.** About 20 minutes to read, more with the exercises. Running it on 2 CPU cores: under a minute with the `smoke` profile
# (CI checks this), and 6.0 minutes with `cpu` (measured in one clean-clone `cpu` build, 2 cores); on a Colab T4 GPU: not measured yet.
# ```

# %% tags=["remove-cell"]
# Set-up: on Colab, install ltdd (a no-op elsewhere); start the chapter's time budget.
import subprocess, sys

if "google.colab" in sys.modules:
    PACKAGE = "ltdd @ git+https://github.com/ltdd-book/ltdd"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", PACKAGE], check=True)

from ltdd.budget import chapter_budget

# `cpu`: 10 minutes; past them the next cell stops, saying so
budget = chapter_budget("05")

# %% [markdown]
# ## The idea
#
# The gradient-matching methods {term}`DC` {cite}`dc` and {term}`DSA` {cite}`dsa` replace the two-level problem of
# {doc}`01_distillation_in_one_picture` by asking that a network's gradients on $\mathcal{S}$ and on
# $\mathcal{T}$ agree, step by step *while the network trains*. That still needs an inner training loop and
# second-order gradients. DM drops both. If the synthetic images of class $c$ are distributed like the real
# images of class $c$, a network trained on them should learn similar things; so match the two
# distributions directly.
#
# Two distributions can be compared by the **maximum mean discrepancy** (MMD): the largest difference of
# their means over a family of functions. DM takes the family to be *randomly initialised* ConvNets
# $\psi_\vartheta$ (the convolutional part, whose output is the feature vector that the classifier would
# read), and compares means with a linear kernel, so the MMD of one network is just the squared distance
# between the mean embeddings. Averaged over random networks $\vartheta \sim P_\vartheta$ and
# augmentations $\omega \sim \Omega$, the objective is
#
# $$
# \min_{\mathcal{S}}\;
# \mathbb{E}_{\vartheta \sim P_\vartheta,\; \omega \sim \Omega}\;
# \sum_{c=1}^{C} \Big\lVert
#   \frac{1}{|\mathcal{T}_c|} \sum_{x \in \mathcal{T}_c} \psi_\vartheta\big(\mathcal{A}(x, \omega_c)\big)
#   - \frac{1}{|\mathcal{S}_c|} \sum_{s \in \mathcal{S}_c} \psi_\vartheta\big(\mathcal{A}(s, \omega_c)\big)
# \Big\rVert^2
# $$ (eq-dm-objective)
#
# where $\mathcal{T}_c$ and $\mathcal{S}_c$ are the real and synthetic images of class $c$ and
# $\mathcal{A}(\cdot, \omega_c)$ is differentiable Siamese augmentation (DSA {cite}`dsa`): one random
# transformation $\omega_c$ per class, applied to the real *and* the synthetic images of that class, so
# that the two sides are compared under the same crop, colour shift or rotation. The expectation is
# estimated with one sample per iteration: a fresh network, a fresh batch of real images per class, a
# fresh augmentation per class, then one gradient step on the images. The network is never trained, its
# weights are frozen, and the real images need no gradient, so an iteration costs one forward pass of the
# real batch and one forward and backward pass of the synthetic set.
#
# Why should random networks be a good family? Each one is a different nonlinear projection of the image,
# and a random ConvNet already keeps a lot of an image's structure (local edges, textures, where the ink
# is). Matching the means under *many* of them matches many statistics of the class at once, without
# committing to the features one trained network happens to learn.
#
# ### The equation in code
#
# Every part of the objective {eq}`eq-dm-objective` is one function of `ltdd` (see the docstrings of
# {mod}`ltdd.distill.dm` and {mod}`ltdd.distill.matching`):
#
# | part of the equation | what it is | where in `ltdd` |
# |---|---|---|
# | $\vartheta \sim P_\vartheta$, $\psi_\vartheta$ | a freshly initialised ConvNet each iteration, weights frozen; $\psi$ is its `embed` (the features before the classifier) | {meth}`DM.matching_network <ltdd.distill.dm.DM.matching_network>` (new weights from the run's generator); `net.embed` |
# | $x \in \mathcal{T}_c$ | up to `batch_real` real images of every class, drawn anew each iteration | {meth}`ClassBalancedSampler.sample <ltdd.distill.matching.ClassBalancedSampler.sample>` |
# | $\mathcal{A}(\cdot, \omega_c)$, shared $\omega_c$ | one DSA draw per class, applied to that class's real and synthetic images | {meth}`DSA.sample <ltdd.augment.DSA.sample>` (one row per class) and {meth}`DSA.apply(images, params, groups) <ltdd.augment.DSA.apply>` |
# | $\frac{1}{\lvert\mathcal{T}_c\rvert}\sum \psi(\cdot)$, $\frac{1}{\lvert\mathcal{S}_c\rvert}\sum \psi(\cdot)$ | the mean feature of each class | {func}`class_means <ltdd.distill.matching.class_means>` |
# | $\lVert \cdot \rVert^2$ per class | the linear-kernel MMD of each class | {func}`mean_embedding_distance <ltdd.distill.matching.mean_embedding_distance>` |
# | $\sum_c$ and $\min_{\mathcal{S}}$ | one SGD step with momentum on the loss summed over classes | {func}`momentum_step <ltdd.distill.matching.momentum_step>` (called by `DistributionMatcher._batched_iteration`) |
# | the starting point of $\mathcal{S}$ | real images of the class (`init="real"`) or Gaussian noise (`init="noise"`) | {meth}`DistributionMatcher.initial_images <ltdd.distill.base.ImageDistiller.initial_images>` |
#
# {class}`DM <ltdd.distill.dm.DM>` itself is only a dozen lines: it says which network to use and which
# loss to compute; the iteration (sampling, augmentation, the forward passes, the step) is
# {meth}`DistributionMatcher.step <ltdd.distill.matching.DistributionMatcher.step>`, shared with IDM and
# DSDM.

# %% [markdown]
# ## Settings
#
# Everything that depends on your machine comes from the active profile (see {doc}`00_how_to_use`). The
# accuracy-versus-IPC sweep distils and evaluates four methods at every {term}`IPC` of the grid; without a GPU
# (the `cpu` profile) it would take the better part of an hour at the profile's full scale, so there it
# runs DM for fewer iterations, evaluates with fewer epochs and networks, and trains the {term}`coreset` methods'
# feature network more briefly, and says so in its output. The live run and
# its evaluation always use the profile's full settings.

# %%
from ltdd import get_profile

profile = get_profile()
DATASET = profile.dataset  # the real dataset
IPC, ITERATIONS = profile.ipc, profile.iterations  # the live DM run
# real images per class per iteration; ConvNet width
BATCH_REAL, NET_WIDTH = profile.batch_real, profile.net_width
# the evaluation protocol
EVAL_EPOCHS, EVAL_SEEDS = profile.eval_epochs, profile.eval_seeds
IPC_GRID = list(profile.ipc_grid)  # the accuracy-vs-IPC sweep
# herding/k-center: epochs of the feature network
FEATURE_EPOCHS = profile.pick(smoke=2, cpu=3, default=10)
# the sweep's settings: the profile's, except on a CPU, where DM runs fewer iterations
# and the evaluation is shorter and uses fewer networks
SWEEP = profile.pick(cpu=profile.replace(iterations=100, eval_epochs=50, eval_seeds=2),
                     default=profile)

print(
    f"profile {profile.name!r}: dataset={DATASET}, ConvNet width {NET_WIDTH}\n"
    f"live DM run: IPC={IPC}, {ITERATIONS} iterations, {BATCH_REAL} real images per "
    "class per iteration\n"
    f"evaluation: final test accuracy after {EVAL_EPOCHS} epochs, mean ± std over "
    f"{EVAL_SEEDS} networks\n"
    f"sweep: IPC {IPC_GRID}, DM {SWEEP.iterations} iterations with {SWEEP.batch_real} "
    f"real images per class, evaluation {SWEEP.eval_epochs} epochs x "
    f"{SWEEP.eval_seeds} networks; herding/k-center features from a ConvNet trained "
    f"{FEATURE_EPOCHS} epochs"
)

# %%
from ltdd.data import load_dataset

dataset = load_dataset(DATASET)
print(
    f"{dataset.name}: {len(dataset.train)} training and {len(dataset.test)} test"
    f" images, {dataset.num_classes} classes, image shape {dataset.image_shape}"
)

# %% [markdown]
# ## DM, live
#
# {func}`make_distiller <ltdd.distill.make_distiller>` builds DM with its paper setting
# ({class}`DMConfig <ltdd.distill.dm.DMConfig>`: image learning rate 1, momentum 0.5, initialisation from
# real images, DSA) and takes the real batch and the ConvNet width from the profile. Calling
# {meth}`init() <ltdd.distill.base.ImageDistiller.init>` before {meth}`run <ltdd.distill.base.Distiller.run>`
# keeps a copy of the starting images, and a callback records the loss of every iteration.

# %%
import time

from ltdd.distill import make_distiller

dm = make_distiller("dm", dataset, seed=0, profile=profile, ipc=IPC)
print(dm.config)
initial = dm.init()  # IPC random real images per class: where DM starts
losses = []
started = time.perf_counter()
synthetic = dm.run(
    ITERATIONS, callbacks=(lambda _distiller, metrics: losses.append(metrics["loss"]),),
    progress=False
)
seconds = time.perf_counter() - started
moved = (synthetic.images - initial.images).flatten(1).norm(
    dim=1
) / initial.images.flatten(1).norm(dim=1)
print(
    f"{ITERATIONS} iterations in {seconds:.1f} s ({ITERATIONS / seconds:.1f}"
    f" iterations/s); the images moved by {100 * moved.mean():.0f} % of their norm on"
    " average"
)

# %% [markdown]
# The loss ({numref}`fig-05-dm-loss`) is summed over the classes and measured under a *different* random
# network and real batch at every iteration, so it is noisy; the faint line is the raw value and the solid
# one a moving average.

# %% mystnb={"figure": {"caption": "The DM loss of the live run, summed over the classes, at every iteration (logarithmic axis): the raw value (faint) and a moving average (solid). Every iteration draws a fresh random network and fresh real batches, so follow the moving average, not the raw value.", "name": "fig-05-dm-loss"}}
from ltdd.book.viz import plot_loss_curves

plot_loss_curves({f"DM, IPC {IPC}": losses},
                 title=f"{dataset.name}: DM loss (summed over classes) per iteration")

# %% [markdown]
# The synthetic images next to the real images they started from (same class, same position in the row;
# {numref}`fig-05-dm-images`):

# %% mystnb={"figure": {"caption": "The first synthetic images of every class (one row per class): the real images DM started from (left panel) and the same images after the live run (right panel), in the same positions. Compare each image with its starting point.", "name": "fig-05-dm-images"}}
from ltdd.book.viz import show_image_panels

shown = min(IPC, 5)
panels = {
    "real initialisation": initial.images,
    f"after {ITERATIONS} DM iterations": synthetic.images
}
show_image_panels(
    panels, synthetic.labels, dataset, per_class=shown,
    title=f"{dataset.name}: the first {shown} synthetic images of every class"
)

# %% [markdown]
# Each synthetic image keeps the example it started from. On the digits of the CPU profiles the change
# after a few hundred iterations is hard to see at all, although the images moved (the relative change is
# printed above) and the loss fell: bringing the class means together takes small changes spread over many
# images, not a new drawing. Starting from noise (an exercise below) shows better what the
# objective by itself puts into an image.
#
# ## How well does the set teach?
#
# The {term}`evaluation protocol` of {doc}`01_distillation_in_one_picture`: train fresh ConvNets on the synthetic
# set (with DSA), report the **final** test accuracy after the last epoch (no best-epoch selection), as the
# mean ± standard deviation over the profile's networks ({func}`ltdd.studies.experiments.evaluate` runs it with the
# profile's settings). The DM paper reports the same quantity, over 1000 epochs.

# %%
from ltdd.studies.experiments import evaluate

dm_report = evaluate(synthetic, dataset, profile)
print(f"DM, IPC {IPC}, {ITERATIONS} iterations: {dm_report}")

# %% [markdown]
# ## Two speed ideas in the implementation
#
# The DM reference code loops over the classes: for each class it draws the augmentation, pushes that
# class's real images through the network, then its synthetic images, and adds the class's loss; after the
# loop it takes one step on the images. `ltdd` computes the same thing with two changes of bookkeeping.
#
# **All classes in one forward pass.** The ConvNet uses instance normalisation (`GroupNorm` with one group
# per channel): every statistic is computed *per image*. An image's features therefore do not depend on the
# other images in its batch, and pushing the real images of all classes through the network at once,
# then splitting the features by class, gives exactly the features of the per-class loop (up to float
# rounding). The same holds for the synthetic images. The augmentation keeps the Siamese rule: `DSA.sample`
# draws one parameter set per class and `DSA.apply(images, params, groups)` applies set $c$ to every image
# of class $c$, real or synthetic, so each class still sees its own independent transformation, shared
# by both sides. (With batch normalisation this would be wrong: the statistics would mix the classes.)
# On a GPU, one large batch instead of $2C$ small ones keeps the device busy; the reference's loop remains
# available as `forward="per_class"`, and an exercise below checks that both give the same set.
#
# **One image step per iteration.** DM sums the classes' losses and takes **one** SGD step on all
# synthetic images (`step_per_class=False`, the default of `DMConfig`, and what every DM number in this
# chapter uses). The IDM and DSDM code instead step the images once *per class*, inside the class loop.
# Each class's loss depends only on its own images, so the two schemes differ only through the momentum:
# with one step per class, every image also drifts with its velocity at each of the other classes' steps,
# and a class's gradient is taken where the earlier steps of the iteration have moved it. `ltdd` computes
# those $C$ sequential steps in closed form in one pass
# ({func}`per_class_lookahead <ltdd.distill.matching.per_class_lookahead>` and
# {func}`apply_per_class_steps <ltdd.distill.matching.apply_per_class_steps>` in `ltdd/distill/matching.py`),
# so IDM and DSDM keep the batched forward pass too; the next chapters use it (`step_per_class=True`), and
# the last exercise below works out what it does to the step sizes.

# %% [markdown]
# ## Against the real-image baselines, over IPC
#
# Does DM beat simply *choosing* good real images? Three selection baselines keep real training images:
#
# - **random**: `IPC` images per class at random ({doc}`01_distillation_in_one_picture`);
# - **herding** {cite}`herding`: greedily add the image that keeps the mean feature of the chosen images
#   closest to the class mean, in the feature space of a briefly trained ConvNet. It targets the same
#   quantity as DM (the class mean) but may only pick real images. One reference coreset library, DeepCore,
#   takes the *argmax* of that distance instead of the argmin, which picks the image that pushes the running
#   mean furthest away: a bug. `ltdd` uses the textbook argmin and keeps the library's behaviour reachable
#   as `rule="argmax"` (an exercise below compares them);
# - **k-center** {cite}`kcenter`: greedily add the image furthest from the images chosen so far, covering
#   the class's feature space, outliers included.
#
# {func}`accuracy_vs_ipc <ltdd.studies.experiments.accuracy_vs_ipc>` distils (or selects) and evaluates every
# method at every IPC of the grid, with the sweep's settings ({numref}`fig-05-dm-vs-baselines`). (When
# the sweep's settings are the profile's, the DM point at the profile's IPC is the live run above and is
# not repeated.)

# %% mystnb={"figure": {"caption": "Test accuracy against images per class for DM and three ways of choosing real images (random, herding, k-center), all with the sweep's settings (whiskers: standard deviation over networks). Look at where the learned set's lead over the real-image baselines is largest, and whether the differences exceed the whiskers.", "name": "fig-05-dm-vs-baselines"}}
from ltdd.studies.experiments import accuracy_vs_ipc
from ltdd.book.viz import plot_accuracy_vs_ipc

# the sweep's DM at IPC would then be exactly the live run
reuse_live = SWEEP == profile
dm_ipcs = [k for k in IPC_GRID if not (reuse_live and k == IPC)]
curves = accuracy_vs_ipc(
    {"DM": {"method": "dm"}}, dataset, dm_ipcs, SWEEP, progress=False
)
if reuse_live:
    curves["DM"][IPC] = dm_report
coreset = {"train_epochs": FEATURE_EPOCHS}
baselines = {
    "random": {"method": "random"}, "herding": {"method": "herding", **coreset},
    "k-center": {"method": "kcenter", **coreset}
}
curves.update(accuracy_vs_ipc(baselines, dataset, IPC_GRID, SWEEP, progress=False))
for label, points in curves.items():
    print(
        f"{label:9s}",
        "  ".join(
            f"IPC {k}: {100 * points[k].mean:5.1f} ± {100 * points[k].std:4.1f}"
            for k in sorted(points)
        ),
    )
plot_accuracy_vs_ipc(
    curves,
    title=(
        f"{dataset.name}: DM against real-image baselines "
        f"({SWEEP.iterations} DM iterations, {SWEEP.eval_epochs} epochs)"
    ),
)

# %% [markdown]
# What to look for in {numref}`fig-05-dm-vs-baselines`: the advantage of a *learned* set should be
# largest when the budget is smallest, where one image has to stand for a whole class and DM can make it a
# better summary than any single real image. As IPC grows, real images cover the class better by themselves and the curves come together. Keep the
# scale in mind when you read the figure: differences of a point or two on the small digits set are often
# within the error bars, and without a GPU the sweep's DM is a much shorter run than the live one, with a
# shorter evaluation (where the two differ, the table below has a row for each).
#
# Coreset methods are not guaranteed to beat random selection, and which one wins depends on the data. In
# the papers' CIFAR-10 numbers k-center falls *below* random at IPC 10 and 50: covering the feature space
# means choosing outliers, and an unusual CIFAR-10 photograph (odd background, odd crop) teaches little. The
# digits are centred, clean and uncluttered; there the images furthest apart are mostly different
# handwriting styles, and covering them can be exactly right, so do not be surprised if k-center does well
# in your run. The CIFAR-10 record at the end of the chapter tests the claim on natural images.
#
# ## What the papers report
#
# The table puts the papers' CIFAR-10 numbers (ConvNet-3, 128 channels, 20,000 DM iterations, evaluated
# with DSA for 1000 epochs) above this chapter's live numbers. They are different experiments: the live
# numbers come from the profile's dataset, network width, iterations and evaluation epochs, shown in their
# rows, and must not be compared with the papers' numbers.

# %%
from IPython.display import Markdown

from ltdd.reference import paper_table
from ltdd.book.viz import accuracy_table

where = f"{dataset.name} at profile {profile.name}, IPC {IPC}"
live = {f"DM, {ITERATIONS} iterations (live run above)": dm_report}
if not reuse_live:
    live[f"DM, {SWEEP.iterations} iterations (sweep)"] = curves["DM"][IPC]
live.update({f"{label} (sweep)": curves[label][IPC] for label in baselines})
Markdown(f"**Paper, CIFAR-10** (test accuracy %, ConvNet-3)\n\n"
         f"{paper_table(['random', 'herding', 'kcenter', 'dm'])}\n\n"
         f"**Live run, {where}**\n\n{accuracy_table(live)}")

# %%
from ltdd.reference import PAPER_RESULTS

cifar = PAPER_RESULTS["cifar10"]
best_baseline_1 = max(cifar[m][1] for m in ("random", "herding", "kcenter"))
beats_all = all(
    cifar["dm"][k] > cifar[m][k]
    for m in ("random", "herding", "kcenter")
    for k in (1, 10, 50)
)
Markdown(
    f"In the papers DM reaches {cifar['dm'][10] / cifar['random'][10]:.1f} times random"
    f" selection's accuracy at IPC 10 on CIFAR-10 ({cifar['dm'][10]:.1f} % against"
    f" {cifar['random'][10]:.1f} %) and {'beats' if beats_all else 'does not beat'} all"
    " three baselines at every budget, but at IPC 1 its lead is small"
    f" ({cifar['dm'][1]:.1f} % against {best_baseline_1:.1f} % for the best baseline)"
    " and it stays behind the gradient-matching methods DC and DSA there"
    f" ({cifar['dc'][1]:.1f} % and {cifar['dsa'][1]:.1f} %; all from"
    " `ltdd.reference.PAPER_RESULTS`)."
)

# %% [markdown]
# ## The same comparison on natural images
#
# On the 8×8 digits a random handful of real images already teaches a network most of what there is to
# learn, so the live runs above cannot show how much DM adds. The book therefore recorded the comparison on
# CIFAR-10 with the command line (`python -m ltdd compare --dataset cifar10 ...`, the command is in the file),
# on a mirror of CIFAR-10 whose images were re-encoded as JPEG, hence the label "CIFAR-10 (JPEG mirror)". Two
# CPU cores set its scale, printed under the table: far fewer DM iterations than the paper's 20,000, a narrower
# ConvNet and a shorter evaluation. Where one seed is recorded, ± is the spread over its evaluation networks.
# The table puts the three columns side by side: the paper's number, ours on the mirror, and this notebook's
# live run on its own dataset.

# %%
from ltdd.studies.recorded import (
    gap_sentence, load_experiment, results_panel, study_scale
)

recorded = load_experiment("dm-family")
panel_rows = [
    (label, method, ipc)
    for ipc in (1, 10)
    for label, method in (
        ("random", "random"), ("herding", "herding"), ("k-center", "kcenter"),
        ("DM", "dm")
    )
]
live_points = {
    (label, ipc): 100 * report.mean
    for label, points in curves.items()
    for ipc, report in points.items()
}
if recorded is None:
    display(
        Markdown(
            "The CIFAR-10 results are not recorded yet"
            " (`data/reference/cifar10_dm_family_cpu.json`)."
        )
    )
else:
    scales = "; ".join(
        f"{key}: {study_scale(study)}" for key, study in recorded.studies.items()
    )
    live_label = f"live, {dataset.name}, {profile.name}"
    panel = results_panel(panel_rows, recorded, live_points, live_label)
    machine = recorded.provenance["machine"]
    display(Markdown(f"{panel}\n\nRecorded scale ({machine}): {scales}."))

# %% [markdown]
# The recorded run, in words (computed from the file):

# %%
from ltdd.studies.recorded import share_of_paper_gap

if recorded is not None:
    compared = (("DM", "dm"), ("herding", "herding"), ("k-center", "kcenter"))
    sentences = [
        gap_sentence(recorded.study(f"ipc{ipc}"), label, "random", method, "random")
        for label, method in compared
        for ipc in (1, 10)
    ]
    sentences.append(
        share_of_paper_gap(recorded.study("ipc10"), "DM", "random", "dm", "random")
    )
    display(Markdown("\n".join(f"- {sentence}" for sentence in sentences)))

# %% mystnb={"figure": {"caption": "Test accuracy on CIFAR-10 (JPEG mirror) against images per class, recorded at the CPU scale stated above (solid; whiskers: spread over seeds, or over evaluation networks for a single seed), beside the papers' CIFAR-10 numbers (dashed, hollow markers). Compare the gap between DM and random selection in each.", "name": "fig-05-cifar10-recorded"}}
from ltdd.book.viz.recorded import plot_recorded_vs_paper

if recorded is not None:
    display(
        plot_recorded_vs_paper(
            recorded,
            [
                ("random", "random"), ("herding", "herding"), ("k-center", "kcenter"),
                ("DM", "dm")
            ],
        )
    )

# %% [markdown]
# Random selection involves no optimisation, only the evaluation, so its recorded number is the one to check the
# recording's evaluation against; DM's images are still changing when a CPU-scale run stops. How far from
# converged is it? One DM run at IPC 10 was evaluated after 50, 100, 200, 400 and 800 iterations
# (`python -m ltdd convergence dm --checkpoints 50,100,200,400,800`,
# {func}`ltdd.studies.convergence.accuracy_against_iterations`, with the table's seed and settings, so its
# point at 200 iterations repeats the table's DM run). The sentence and the figure read
# `data/reference/cifar10_dm_iterations_cpu.json`.

# %%
from ltdd.book.viz.recorded import plot_accuracy_against_iterations
from ltdd.studies.recorded import convergence_sentence

dm_iterations = load_experiment("dm-iterations")
display(
    Markdown(
        convergence_sentence(dm_iterations, recorded)
        if dm_iterations is not None
        else "DM against iterations is not recorded yet"
        " (`data/reference/cifar10_dm_iterations_cpu.json`)."
    )
)

# %% mystnb={"figure": {"caption": "Test accuracy on CIFAR-10 (JPEG mirror) of one DM run at IPC 10, evaluated after each recorded number of iterations (log axis; whiskers: spread over the evaluation networks), beside the paper's number after 20,000 iterations (hollow) and random real images (dotted).", "name": "fig-05-dm-iterations"}}
if dm_iterations is not None:
    display(plot_accuracy_against_iterations(dm_iterations, recorded))

# %% [markdown]
# The papers' table also shows DM's weakness: matching only the *mean* feature under random,
# untrained networks says little about what separates the classes. IDM ({doc}`06_idm`) and DSDM
# ({doc}`07_dsdm`) attack exactly this, with networks that have learned something about the classes, more
# images per budget and richer statistics than the mean.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-05-init
#
# DM starts from real images. Run it from Gaussian noise instead, with the same number of iterations
# (`from ltdd.studies.experiments import distill` and `from ltdd.book.viz import show_images` first):
# `run = distill("dm", dataset, IPC, ITERATIONS, profile, init="noise")` ({func}`ltdd.studies.experiments.distill`),
# then look at `show_images(run.synthetic.images, run.synthetic.labels, dataset, per_class=5)`, plot
# `run.losses` next to `losses` with `plot_loss_curves`, and evaluate with
# `evaluate(run.synthetic, dataset, profile)`. Predict first: what will the images look like, and will the
# accuracy be closer to the real-initialised set's or to chance (10 %)?
# ```
#
# ```{solution} ex-05-init
# :class: dropdown
#
# Recognisable digits grow out of the noise within a few hundred iterations: strokes where the class's ink
# usually is, on a speckled background that no random network's mean feature pulls out. Matching mean
# features under many random networks fixes a surprising amount of an image. The accuracy is far above
# chance but below the real-initialised set's, and possibly below random real images without any
# distillation. Compare `run.losses[0]` with `losses[0]`: the noise start's loss begins many times higher, and
# the mean of its last 50 iterations is still higher and still falling. On CIFAR-10 the gap is much larger, which
# is why the paper, and every method after it, starts from real images.
# ```
#
# ```{exercise}
# :label: ex-05-batched
#
# Check the first speed idea. Build two distillers that differ only in `forward`:
# `make_distiller("dm", dataset, seed=0, profile=profile, ipc=IPC, forward=f)` with `f` set to `"batched"`
# and `"per_class"`; run each for 50 iterations, timing them with `time.perf_counter()`, and compare the
# sets with `(a.images - b.images).abs().max()`. Why are they identical, and when would you expect the
# batched path to be much faster?
# ```
#
# ````{solution} ex-05-batched
# :class: dropdown
#
# ```python
# import time
#
# sets, times = {}, {}
# for forward in ("batched", "per_class"):
#     d = make_distiller("dm", dataset, seed=0, profile=profile, ipc=IPC, forward=forward)
#     started = time.perf_counter()
#     sets[forward] = d.run(50, progress=False)
#     times[forward] = time.perf_counter() - started
# print(times, (sets["batched"].images - sets["per_class"].images).abs().max().item())
# ```
#
# Both paths draw the same real images and the same augmentation parameters from the same generator, and
# instance normalisation makes every image's features independent of its batch, so they compute the same
# losses and gradients. On a CPU expect the largest difference to be exactly 0. On a GPU it can be small
# but not zero: the GPU's convolution routines may sum in a different order for a different batch size, and
# 50 steps amplify the rounding differences, but the sets are the same up to that. The timings tell the
# other half, and the recorded benchmarks `data/reference/distill_speed_cpu.md` and
# `data/reference/distill_speed_h100.md` (`benchmarks/distill_speed.py`) measure them: on the CPU the two
# paths cost about the same, because the arithmetic is the same and one CPU core gains little from larger
# batches; on an H100 GPU the batched path is several times faster, because $2C$ small forward passes leave
# most of the device idle and one large pass fills it.
# ````
#
# ```{exercise}
# :label: ex-05-herding
#
# Select the herding set with DeepCore's rule: `distill("herding", dataset, IPC, 0, profile, rule="argmax",
# train_epochs=FEATURE_EPOCHS)`, evaluate it, and compare it with the sweep's herding, k-center and random
# points at the same IPC. Before running: which image does the argmax rule pick first, and where do the
# next ones lie?
# ```
#
# ```{solution} ex-05-herding
# :class: dropdown
#
# At step $t$ the rule scores every candidate $x$ by $\lVert t\mu - \sum_{j<t} x_j - x \rVert$. With
# argmax, the first pick is the image furthest from the class mean $\mu$. The second must be far from
# $2\mu - x_1$, the mirror image of $x_1$ through the mean, so it lies on the *same* side as $x_1$, and so
# on: the rule collects unusual images that are all unusual in the same direction, a lopsided sample whose
# mean runs away from the class mean. That is different from k-center, whose picks are far from each
# other and so spread over the whole class. Expect argmax herding to fall far below argmin herding,
# k-center and random selection, by tens of points rather than by the evaluation's ±. A one-word bug in a
# baseline can move it that far: read the baselines' code as carefully as the method's.
# ```
#
# ````{exercise}
# :label: ex-05-fixed
#
# DM draws a *fresh* random network every iteration. What happens if it reuses one? Subclass `DM` so that
# `matching_network` returns the same network every time:
#
# ```python
# import dataclasses
#
# from ltdd.distill import DM
#
# class OneNetworkDM(DM):
#     def matching_network(self):
#         if not hasattr(self, "_net"):
#             self._net = super().matching_network()
#         return self._net
#
# one = OneNetworkDM(dataset, dm.config, seed=0)  # dataclasses.replace(dm.config, init="noise") for noise
# ```
#
# and run it with `one.run(ITERATIONS, callbacks=...)`, recording the loss as above. Do it from real images
# and from noise. Predict the loss curves and the accuracy, then plot the curves next to DM's with
# `plot_loss_curves`, look at the images, and evaluate.
# ````
#
# ```{solution} ex-05-fixed
# :class: dropdown
#
# With one network the objective is a single fixed function of the images, and from real images they fit
# it better: expect the loss of the last 50 iterations to end lower with one network than with fresh ones,
# and the accuracy not to improve: a lower loss under one embedding is not a better match of the
# *distributions*. From noise the difference shows in the images: the one-network images stayed much
# noisier. One way to read this: an image only moves along directions that change its features, and a
# single network leaves many directions of image space (nearly) unseen, so the noise along them is never
# removed; each fresh network sees different directions, and together they clean the image. From noise
# expect the one-network loss to end no lower than DM's, and the accuracy to fall. The expectation over
# $\vartheta$ is what turns DM's loss into a statement about the
# images' distribution rather than about one feature map.
# ```
#
# ```{exercise}
# :label: ex-05-steps
#
# A pen-and-paper one about the second speed idea. With `step_per_class=True`, the images of class $c$
# (classes in order $0, \dots, C-1$) receive their gradient $g_c$ at step $c$ of the iteration and then
# drift with the momentum through the remaining $C-1-c$ steps. Starting from zero velocity, how far does
# class $c$ move along $g_c$ within the iteration, in units of the learning rate? Evaluate it for $c = 0$
# and $c = 9$ with momentum $\mu = 0.5$ and $C = 10$, and compare with `step_per_class=False`.
# Give both in learning rates to three decimals and check with `from ltdd.book.exercises import check` and
# `check("ex-05-steps", (class_0, class_9))`.
# ```
#
# ```{solution} ex-05-steps
# :class: dropdown
#
# After its step the velocity of class $c$ is $g_c$, and each later step multiplies it by $\mu$ and moves
# the images by it again: in total $1 + \mu + \dots + \mu^{C-1-c} = (1 - \mu^{C-c}) / (1 - \mu)$ learning
# rates along $g_c$. For $c = 0$ that is $(1 - 0.5^{10}) / 0.5 \approx 2.0$; for the last class, $c = 9$,
# it is $1$. With `step_per_class=False` (DM) every class moves by exactly $1$ learning rate along its
# gradient in the iteration (the momentum then carries over into the next iteration). So stepping per
# class is not just a different schedule: it gives the first classes almost twice the effective step size
# of the last, and the class order matters. This is the code's behaviour, which is why `ltdd` reproduces
# it exactly for IDM and DSDM rather than replacing it by DM's single step.
# ```
