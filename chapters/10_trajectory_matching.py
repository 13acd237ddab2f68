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
# # Trajectory matching
#
# Distribution matching ({doc}`05_distribution_matching`) compares *features* of real and synthetic
# images under networks that never learn anything. {term}`Trajectory` matching compares what networks *learn*.
# {term}`MTT`, "Dataset Distillation by Matching Training Trajectories" {cite}`mtt`, first trains ordinary networks
# on the real data and records their weights after every epoch. It then asks that a network trained for a
# few steps on the {term}`synthetic set`, started from one of these recorded points, land where the real-data
# network was some epochs later. {term}`DATM` {cite}`datm` keeps this objective and changes what is matched when,
# and which labels the synthetic images carry. The {term}`long-tailed <long-tailed data>` method {term}`LTDD` {cite}`ltdd` of the next
# chapter, {doc}`11_long_tailed_tm`, is built on DATM, so everything here is groundwork for it.

# %% [markdown]
# ```{admonition} In this chapter
# :class: tip
# **What you will learn.** How MTT's objective is defined and where each symbol lives in `ltdd`
# ({func}`unrolled_matching <ltdd.distill.unroll.unrolled_matching>`,
# {class}`TrajectoryMatcher <ltdd.distill.tm.TrajectoryMatcher>`); what {term}`expert` trajectories look like
# ({func}`train_buffer <ltdd.distill.experts.train_buffer>`); why backpropagating through the unrolled student takes
# so much memory, and how `ltdd` gets the same gradient in constant memory (and how {term}`TESLA`'s shortcut
# {cite}`tesla` differs); DATM's four changes; the published settings, and how to run them on a GPU. The
# code runs on the embedded long-tailed digits at the active profile's scale: everything it distils is a
# small-scale illustration, not a reproduction of the papers.
#
# **Before you start.** {doc}`01_distillation_in_one_picture` (how a distilled set is evaluated) and
# {doc}`02_long_tailed_data` (the long-tailed digits); {doc}`05_distribution_matching` helps, as the
# method this chapter contrasts trajectory matching with.
#
# **How long.** About 60 minutes to read. Running it on 2 CPU cores:
# under a minute with the `smoke` profile (CI checks this), and 2.7 minutes with `cpu` (measured in one clean-clone `cpu` build, 2 cores);
# on a Colab T4 GPU: not measured yet.
# ```

# %% tags=["remove-cell"]
# Set-up: on Colab, install ltdd (a no-op elsewhere); start the chapter's time budget.
import subprocess, sys

if "google.colab" in sys.modules:
    PACKAGE = "ltdd @ git+https://github.com/ltdd-book/ltdd"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", PACKAGE], check=True)

from ltdd.budget import chapter_budget

# `cpu`: 10 minutes; past them the next cell stops, saying so
budget = chapter_budget("10")

# %% [markdown]
# ## The idea
#
# An **expert** is a network trained on the real training set $\mathcal{T}$ in the ordinary way. Its
# **trajectory** is the sequence of its parameters $\theta^*_0, \theta^*_1, \dots, \theta^*_E$: the
# initialisation and the weights after each of $E$ epochs. Flattened into one vector of $P$ numbers per
# epoch, a trajectory is a tensor of shape `[E + 1, P]`. MTT trains many experts (a *buffer*) before it
# distils anything, and never trains a network on real data again.
#
# Each distillation iteration picks an expert and a start epoch $t$ at random, and starts a **student**
# at the expert's weights $\hat\theta_0 = \theta^*_t$. The student takes $N$ plain gradient steps on the
# synthetic set $\mathcal{S} = (X, Y)$, with a step size $\alpha$ that is itself learned:
#
# $$
# \hat\theta_{i+1} = \hat\theta_i - \alpha\, \nabla_\theta\, \ell\big(f(\hat\theta_i;\, \mathcal{A}_i(X_{b_i})),\, Y_{b_i}\big),
# \qquad i = 0, \dots, N-1,
# $$ (eq-mtt-student)
#
# where $b_i$ is a minibatch of synthetic images, $\mathcal{A}_i$ a DSA augmentation {cite}`dsa` drawn
# for that step, $f(\theta; x)$ the network with parameters $\theta$ and $\ell$ the cross-entropy. After
# $N$ steps the student is compared with the expert $M$ epochs after the start:
#
# $$
# \mathcal{L}(X, Y, \alpha) =
# \frac{\lVert \hat\theta_N - \theta^*_{t+M} \rVert^2}{\lVert \theta^*_t - \theta^*_{t+M} \rVert^2} .
# $$ (eq-mtt-loss)
#
# The synthetic images (and $\alpha$) are changed to make {eq}`eq-mtt-loss` small, averaged over experts
# and start epochs. Two details matter. The number of synthetic steps $N$ is small and the real epochs $M$
# stand for many more real steps, so the synthetic images must teach in $N$ steps what the real set
# teaches in $M$ epochs: they are pushed to be *efficient* training data. And the loss is normalised by
# how far the expert itself moved in those $M$ epochs. Early in training, networks move far; late, they
# barely move. Without the denominator, the early segments of the trajectories would dominate the
# objective, and a student that stayed still would look good on the late ones. With it, a loss of 1 means
# "no better than not moving" whatever the segment.
#
# ### The symbols in code
#
# Every part of the two equations is one name in `ltdd` (the docstrings of `ltdd/distill/tm.py`,
# `ltdd/distill/unroll.py` and `ltdd/distill/experts.py` say more):
#
# | symbol | what it is | where in `ltdd` |
# |---|---|---|
# | $\theta^*_0 \dots \theta^*_E$ | one expert's trajectory, `[E + 1, P]` | `ExpertBuffer[k]` (an {class}`ExpertBuffer <ltdd.distill.experts.ExpertBuffer>` written by {func}`train_buffer <ltdd.distill.experts.train_buffer>`); one epoch: {meth}`buffer.snapshot(k, t) <ltdd.distill.experts.ExpertBuffer.snapshot>` |
# | $E$ | epochs of every expert | `ExpertConfig.epochs` (of {class}`ExpertConfig <ltdd.distill.experts.ExpertConfig>`), `buffer.epochs` |
# | $t$ | start epoch, drawn uniformly from $[T^-, T^+)$ | `TMConfig.min_start_epoch` (of {class}`TMConfig <ltdd.distill.tm.TMConfig>`), `max_start_epoch`; the window at an iteration: {func}`start_window(config, iteration) <ltdd.distill.tm.start_window>` |
# | $M$ | real epochs the student must cover | `TMConfig.expert_epochs` |
# | $N$ | synthetic steps of the student | `TMConfig.syn_steps` (the `steps` argument of `unrolled_matching`) |
# | $\alpha$ | the student's step size, learned | `distiller.syn_lr`, starting at `lr_teacher`, trained with `lr_lr`, `momentum_lr`; returned as `SyntheticSet.learned_lr` |
# | $X$ | the synthetic images | `distiller.images`, trained with `lr_img`, `momentum_img` |
# | $Y$ | labels: hard (MTT) or learned logits (DATM) | `TMConfig.soft_labels`; `distiller.label_logits`, trained with `lr_y`, `momentum_y` |
# | $b_i$, $\mathcal{A}_i$ | the minibatch and the DSA draw of step $i$ | `TMConfig.batch_syn` (`None`: every image), `TMConfig.dsa`; both drawn up front by {func}`plan_steps <ltdd.distill.unroll.plan_steps>` |
# | $f(\theta; x)$ | the network at a flat parameter vector | `FlatParameters(model).forward(theta, x)` (see {class}`FlatParameters <ltdd.distill.unroll.FlatParameters>`; `torch.func.functional_call`) |
# | $\ell$ | cross-entropy, or soft cross-entropy against `softmax(Y)` | {func}`soft_label_loss <ltdd.distill.unroll.soft_label_loss>` |
# | {eq}`eq-mtt-student` and {eq}`eq-mtt-loss` | the unrolled student and the normalised loss, with gradients | {func}`unrolled_matching(...) <ltdd.distill.unroll.unrolled_matching>` → `UnrollResult.loss`, `images_grad`, `labels_grad`, `lr_grad` (an {class}`UnrollResult <ltdd.distill.unroll.UnrollResult>`) |
# | $\min_{X, Y, \alpha}$ | one SGD step with momentum on each learned quantity per iteration | {meth}`TrajectoryMatcher.step <ltdd.distill.tm.TrajectoryMatcher.step>` → {func}`momentum_step <ltdd.distill.matching.momentum_step>` |
#
# {class}`MTT <ltdd.distill.tm.MTT>`, {class}`DATM <ltdd.distill.tm.DATM>` and
# {class}`LTDD <ltdd.distill.tm.LTDD>` are one class,
# {class}`TrajectoryMatcher <ltdd.distill.tm.TrajectoryMatcher>`, with different defaults
# ({class}`TMConfig <ltdd.distill.tm.TMConfig>`, {class}`DATMConfig <ltdd.distill.tm.DATMConfig>`,
# {class}`LTDDConfig <ltdd.distill.tm.LTDDConfig>`).

# %% [markdown]
# ## Settings
#
# The scale of every trajectory-matching experiment in the book comes from
# {func}`scale_for(profile) <ltdd.studies.tm_study.scale_for>`: how many experts, how many epochs each, the network
# width, {term}`IPC`, iterations, and the distiller's settings. Without
# a GPU it is a handful of short experts on the embedded long-tailed digits; on a GPU the settings are
# those of the published long-tailed CIFAR-10 setting, with fewer (and, for the `gpu` profile, shorter)
# experts and the profile's iterations. This chapter always distils the long-tailed digits (`digits-lt`),
# at the profile's scale.

# %%
from ltdd import get_profile
from ltdd.studies.tm_study import scale_for

profile = get_profile()
scale = scale_for(profile)
DATASET = "digits-lt"  # the embedded long-tailed digits, at every profile
IPC, ITERATIONS, NET_WIDTH = scale.ipc, scale.iterations, scale.net_width
EXPERTS, EXPERT_EPOCHS = scale.experts, scale.expert_epochs  # the buffer
# N, M, T+, learning rates, gradient mode: shared by MTT and DATM below
DISTILL = dict(scale.distill)
MEMORY_STEPS = (2, 4, 8)  # unrolled steps of the live memory measurement

print(
    f"profile {profile.name!r}: {DATASET}, ConvNet width {NET_WIDTH}\n"
    f"experts: {EXPERTS} x {EXPERT_EPOCHS} epochs, lr {scale.expert_lr}, batch "
    f"{scale.expert_batch}, optimizer {scale.experts_optimizer}\n"
    f"distillation: IPC {IPC}, {ITERATIONS} iterations, N = {DISTILL['syn_steps']} "
    f"steps, M = {DISTILL['expert_epochs']} epochs, start epochs in [0, "
    f"{DISTILL['max_start_epoch']}), alpha_0 = {DISTILL['lr_teacher']}, gradient mode "
    f"{DISTILL['grad_mode']!r}\n"
    f"evaluation: {profile.eval_epochs} epochs x {profile.eval_seeds} networks"
)

# %%
from ltdd.data import load_dataset

dataset = load_dataset(DATASET)
counts = dataset.train.class_counts(dataset.num_classes)
print(
    f"{dataset.name}: {len(dataset.train)} training images, {counts[0]} in the largest"
    f" class and {counts[-1]} in the smallest (per class: {counts});"
    f" {len(dataset.test)} balanced test images"
)

# %% [markdown]
# ## Experts, live
#
# `train_buffer` trains `num_experts` networks into a folder, one file per expert holding its `[E + 1, P]`
# trajectory, and writes a `buffer.json` that records the dataset, its options and the model, so that a
# distiller refuses experts of other data. MTT's experts are plain SGD with {term}`DSA` on every batch and a
# constant learning rate: a trajectory should be what ordinary training does. The buffer here goes to a
# temporary folder.

# %%
import tempfile
import time

from ltdd.distill.experts import ExpertConfig, train_buffer

workdir = tempfile.TemporaryDirectory()
expert_config = ExpertConfig(
    epochs=EXPERT_EPOCHS, lr=scale.expert_lr, batch_size=scale.expert_batch,
    optimizer=scale.experts_optimizer
)
started = time.perf_counter()
buffer = train_buffer(dataset, f"{workdir.name}/experts", EXPERTS, expert_config,
                      model_options={"width": NET_WIDTH}, progress=False)
trajectory = buffer[0]
print(
    f"{len(buffer)} experts in {time.perf_counter() - started:.1f} s; expert 0's"
    f" trajectory: {tuple(trajectory.shape)} (epochs + 1, parameters),"
    f" {trajectory.numel() * 4 / 1e6:.2f} MB"
)

# %% [markdown]
# What does a trajectory look like? Three views of every expert: how far the weights are from the
# initialisation after each epoch; how far they move in $M$ epochs from each start epoch (the denominator of
# {eq}`eq-mtt-loss`); and the test accuracy of the network at a few epochs, from
# {func}`expert_network(template, buffer, k, epoch) <ltdd.distill.tm.expert_network>` (a network loaded with
# those weights) and {func}`network_accuracy <ltdd.train.network_accuracy>`; they are the three panels of
# {numref}`fig-10-expert-trajectories`.

# %% mystnb={"figure": {"caption": "Three views of every live expert: the distance of its weights from the initialisation after each epoch, the distance it covers in M epochs from each start epoch (the denominator of the matching loss), and its test accuracy at a few epochs.", "name": "fig-10-expert-trajectories"}}
import matplotlib.pyplot as plt
import numpy as np
import torch

from ltdd.distill.tm import expert_network
from ltdd.models import get_model
from ltdd.train import network_accuracy

template = get_model(
    "convnet", dataset.channels, dataset.num_classes, dataset.image_size,
    width=NET_WIDTH
).to(dataset.device)
M = DISTILL["expert_epochs"]
shown_epochs = sorted({round(e) for e in np.linspace(0, EXPERT_EPOCHS, 6)})
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
for k in range(len(buffer)):
    path = buffer[k]
    axes[0].plot(
        range(len(path)), (path - path[0]).norm(dim=1), marker=".", label=f"expert {k}"
    )
    axes[1].plot(range(len(path) - M), (path[M:] - path[:-M]).norm(dim=1), marker=".")
    accuracy = [
        network_accuracy(
            expert_network(template, buffer, k, e), dataset.test, dataset.num_classes
        ).overall
        for e in shown_epochs
    ]
    axes[2].plot(shown_epochs, [100 * a for a in accuracy], marker="o")
axes[0].set(
    xlabel="epoch e", ylabel=r"$\|\theta^*_e - \theta^*_0\|$",
    title="distance from the initialisation"
)
axes[1].set(xlabel="start epoch t", ylabel=rf"$\|\theta^*_{{t+{M}}} - \theta^*_t\|$",
            title=f"distance covered in M = {M} epochs")
axes[2].set(
    xlabel="epoch e", ylabel="test accuracy (%)",
    title="the expert on the balanced test set"
)
axes[0].legend(fontsize=7)
for ax in axes:
    ax.grid(alpha=0.3)
plt.close(fig)
fig

# %% [markdown]
# Expect the distance from the initialisation to grow ever more slowly and the segments of $M$ epochs to
# get shorter, which is what the normalisation of {eq}`eq-mtt-loss` is for. The accuracy says how much
# the experts know, which matters for DATM below: at the small scales of the `smoke` and `cpu` profiles
# they are short runs on a small, long-tailed set, and they are far from finished.
#
# **Flat experts (GSAM).** DATM's and LTDD's experts are trained with GSAM {cite}`gsam`, the
# surrogate-gap-guided variant of sharpness-aware minimisation, an idea they take from FTD {cite}`ftd`. Each
# GSAM step computes the gradient twice: once at the weights, and once at weights pushed a small distance
# $\rho$ uphill, then steps with the second gradient, minus part of the first gradient's component orthogonal
# to it (`ltdd/optim.py`). This steers training towards flat regions of the loss. FTD's argument: the student
# never follows the expert exactly, and in a flat region a small error in the student's weights costs little,
# so errors accumulate less along the trajectory. In `ltdd` it is one setting,
# {class}`ExpertConfig(optimizer="gsam") <ltdd.distill.experts.ExpertConfig>` (with `gsam_rho`, `gsam_alpha`); it
# doubles the cost of every expert, so this chapter does not run it.
#
# **{term}`ZCA <ZCA whitening>` whitening.** MTT and DATM distil CIFAR images after ZCA whitening, a linear map fitted on the training
# set that decorrelates neighbouring pixels (it sharpens edges):
# {func}`load_dataset(name, zca=0.1) <ltdd.data.load_dataset>`, with 0.1 the regulariser of the references
# (`ltdd/data/zca.py`). It is part of the dataset's options, so a buffer trained on unwhitened images refuses
# whitened ones:

# %%
from ltdd.distill.experts import ExpertBuffer

whitened = load_dataset(DATASET, zca=0.1)
print(f"options of the whitened set: {whitened.options}")
try:
    ExpertBuffer(buffer.path).check_compatible(
        whitened, "convnet", {"width": NET_WIDTH}
    )
except ValueError as error:
    print(f"refused: {error}")

# %% [markdown]
# ## The unrolled student
#
# `unrolled_matching(model, start, target, images, labels, lr, steps, generator, mode=...)` is one
# evaluation of {eq}`eq-mtt-student` and {eq}`eq-mtt-loss`: it starts the student at the flat vector
# `start`, takes `steps` steps on `(images, labels)` with step size `lr`, compares with `target`, and
# returns the loss and its gradients with respect to the images, the labels (when they are learnable
# logits) and the step size. The student is *functional*: `model` only supplies the architecture, and
# the weights are views of one flat vector that autograd can differentiate through. One call, on
# `IPC` random real images per class, from expert 0 at epoch 0 to epoch $M$:

# %%
from ltdd.augment import DSA, strategy_for
from ltdd.config import make_generator
from ltdd.distill import make_distiller
from ltdd.distill.unroll import unrolled_matching

# IPC real images per class (also a baseline)
real_set = make_distiller("random", dataset, ipc=IPC).run(0)
# theta*_0 and theta*_M
start, target = trajectory[0].to(dataset.device), trajectory[M].to(dataset.device)
alpha = torch.tensor(DISTILL["lr_teacher"], device=dataset.device)
result = unrolled_matching(
    template, start, target, real_set.images, real_set.labels, alpha,
    DISTILL["syn_steps"], make_generator(0, "unroll-demo"),
    augment=DSA(strategy_for(dataset.hflip_safe)), mode="exact"
)
print(
    f"loss {result.loss.item():.4f} (1 = no better than not moving), normaliser "
    f"||theta*_0 - theta*_M||^2 = {result.param_distance.item():.4f}\n"
    f"images_grad {tuple(result.images_grad.shape)}, norm "
    f"{result.images_grad.norm().item():.3g}; lr_grad {result.lr_grad.item():.3g}; "
    f"labels_grad {result.labels_grad} (hard labels)"
)

# %% [markdown]
# The sign of `lr_grad` says which way $\alpha$ will move: a negative derivative means that a longer step
# would bring the student closer to the expert.
#
# ## The memory problem, and an exact fix
#
# The gradient of {eq}`eq-mtt-loss` with respect to $X$ goes through every step of
# {eq}`eq-mtt-student`: $\hat\theta_N$ depends on $X$ directly through the last step, and indirectly
# through $\hat\theta_{N-1}$, which depends on $X$ through the step before, and so on. MTT's code
# computes it the obvious way (`mode="bptt"`): it builds each step's gradient with `create_graph=True`,
# keeps every step's graph (the activations of the forward pass *and* of the backward pass, which the
# second derivative needs), and backpropagates once at the end. The memory grows linearly with $N$, and
# with the number of synthetic images per step.
#
# Write $g_i = \nabla_\theta \ell_i(\hat\theta_i, X)$ for the gradient of step $i$ and
# $H_i = \partial g_i / \partial \theta$ for the Hessian of that step's loss. Going *backwards* through
# the steps gives the same gradient without keeping any graph but one. With
# $a_i = \partial \mathcal{L} / \partial \hat\theta_i$, the derivative of the loss with respect to the
# student's weights after step $i$,
#
# $$
# \begin{aligned}
# a_N &= \frac{2\,(\hat\theta_N - \theta^*_{t+M})}{\lVert \theta^*_t - \theta^*_{t+M} \rVert^2}, &
# a_i &= a_{i+1} - \alpha\, H_i\, a_{i+1}, \\
# \frac{\partial \mathcal{L}}{\partial X} &= -\alpha \sum_{i=0}^{N-1}
#   \Big(\frac{\partial g_i}{\partial X}\Big)^{\!\top} a_{i+1}, &
# \frac{\partial \mathcal{L}}{\partial \alpha} &= -\sum_{i=0}^{N-1} \langle g_i, a_{i+1} \rangle .
# \end{aligned}
# $$ (eq-adjoint)
#
# This is the chain rule applied to $\hat\theta_{i+1} = \hat\theta_i - \alpha g_i$ one step at a time (the
# *adjoint* of the unrolled map). `mode="exact"` runs the student forward without any graph, keeping only
# the parameter vectors $\hat\theta_0 \dots \hat\theta_{N-1}$ and each step's minibatch and augmentation
# draw. Then, for $i = N-1$ down to $0$, it recomputes $g_i$ at $\hat\theta_i$ with a graph and takes one
# vector-Jacobian product of $\langle \hat\theta_i - \alpha g_i,\, a_{i+1} \rangle$ with respect to
# $(\hat\theta_i, X, \alpha)$, which delivers all three updates of {eq}`eq-adjoint` at once ($H_i a_{i+1}$
# is a Hessian-vector product; the Hessian is never formed). One step's graph is alive at a time. The
# price is one extra forward and backward pass per step.
#
# TESLA {cite}`tesla` scaled trajectory matching to ImageNet with a constant-memory scheme of the same
# shape. The form that DATM's and LTDD's code uses (`mode="tesla"`) drops the Hessian term, $a_i \equiv
# a_N$: it ignores that the student's weights at step $i$ already depend on the images through the
# earlier steps. It costs the same as the exact mode and is **not** the gradient of {eq}`eq-mtt-loss`.
#
# ### Recorded: peak memory against unrolled steps
#
# A benchmark (`benchmarks/tm_memory.py`) measured one call of `unrolled_matching` in each mode in a fresh
# process, at the shape of MTT's and DATM's CIFAR-10 IPC 10 setting: a width-128 ConvNet-3, 32×32 colour
# images, 100 synthetic images in every step, on a CPU. Its table, with how it was made, is
# `data/reference/tm_memory_cpu.md`; {func}`tm_memory_table() <ltdd.reference.tm_memory_table>` reads it, and
# {numref}`fig-10-memory-recorded` plots it.

# %% mystnb={"figure": {"caption": "The recorded benchmark: peak memory (left) and time (right) of one call of `unrolled_matching` in each gradient mode against the number of unrolled steps, at the shape of MTT's and DATM's CIFAR-10 setting, on a CPU.", "name": "fig-10-memory-recorded"}}
import textwrap

from ltdd.reference import REFERENCE_DIR, tm_memory_table

memory = tm_memory_table()
provenance = next(
    line
    for line in (REFERENCE_DIR / "tm_memory_cpu.md").read_text().splitlines()
    if line.startswith("Command:")
)
print(textwrap.fill(provenance, 110))
fig, (ax_mb, ax_s) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
for mode, style in (("bptt", "o-"), ("exact", "s-"), ("tesla", "^--")):
    steps = sorted(memory[mode])
    ax_mb.plot(steps, [memory[mode][s]["peak_mb"] for s in steps], style, label=mode)
    ax_s.plot(steps, [memory[mode][s]["seconds"] for s in steps], style, label=mode)
ax_mb.set(
    xlabel="unrolled steps N", ylabel="peak memory (MB)",
    title="peak memory of one call"
)
ax_s.set(
    xlabel="unrolled steps N", ylabel="seconds per call",
    title="time of one call (indicative)"
)
for ax in (ax_mb, ax_s):
    ax.grid(alpha=0.3)
    ax.legend()
fig.suptitle(
    "recorded: ConvNet-3 width 128, CIFAR-10 shape, IPC 10, CPU"
    " (data/reference/tm_memory_cpu.md)",
    fontsize=9,
)
plt.close(fig)
fig

# %% [markdown]
# Backpropagation through every step grows by roughly the same amount with every step (the benchmark
# skipped it beyond 20 steps, where it would have needed several more gigabytes); the exact mode and
# TESLA's stay flat, near the memory of a single step. The time per call grows linearly in all three
# modes, with the exact one a little slower than backpropagation, as expected from its extra pass. At
# DATM's $N = 80$ the first line would need tens of gigabytes for this one small network, which is why
# the reference code of DATM and LTDD spreads a run over several GPUs or falls back on TESLA's
# approximation, and why `ltdd` defaults to `grad_mode="exact"`.
#
# Strictly, the exact mode's memory is not constant: it keeps one parameter vector per step. For
# CIFAR-10's ConvNet-3 that is small next to the graphs it avoids keeping:

# %%
cifar_convnet = get_model("convnet", 3, 10, 32, width=128)
P = sum(p.numel() for p in cifar_convnet.parameters())
print(
    f"ConvNet-3 (width 128) on CIFAR-10: P = {P:,} parameters, {4 * P / 1e6:.2f} MB per"
    f" stored vector, {80 * 4 * P / 1e6:.0f} MB for N = 80 steps"
)

# %% [markdown]
# ### Live: what autograd keeps
#
# The recorded table measures the whole process.
# {func}`saved_memory(mode, steps, ...) <ltdd.distill.unroll.saved_memory>` measures only the tensors
# autograd holds on to for the backward pass, the part that grows with the steps, and it works
# on any machine in a fraction of a second at a small shape (2 images per class of 16×16 pixels, a
# width-8 ConvNet), in {numref}`fig-10-memory-live`:

# %% mystnb={"figure": {"caption": "Live: the memory of the tensors autograd keeps for the backward pass against the number of unrolled steps, for each gradient mode, at a tiny shape.", "name": "fig-10-memory-live"}}
from ltdd.distill.unroll import GRAD_MODES, saved_memory

saved = {
    mode: [
        saved_memory(mode, steps, ipc=2, image_size=16, width=8) / 1e6
        for steps in MEMORY_STEPS
    ]
    for mode in GRAD_MODES
}
for mode, values in saved.items():
    print(
        f"{mode:6s}",
        "  ".join(f"N = {n}: {v:6.2f} MB" for n, v in zip(MEMORY_STEPS, values))
    )
fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
for (mode, values), style in zip(saved.items(), ("o-", "s-", "^--")):
    ax.plot(MEMORY_STEPS, values, style, label=mode)
ax.set(xlabel="unrolled steps N", ylabel="peak saved tensors (MB)", xticks=MEMORY_STEPS,
       title="live: memory autograd keeps (tiny shape)")
ax.grid(alpha=0.3)
ax.legend()
plt.close(fig)
fig

# %% [markdown]
# ### Live: the exact mode is exact, TESLA's is not
#
# The three modes compute the same loss. Do they compute the same gradient? On a tiny problem in double
# precision (a two-layer ConvNet, twelve 8×8 images, {term}`soft labels <Soft label>`, DSA, 5 images per step) the relative
# difference to backpropagation should be at the level of rounding for the exact mode, and visibly not
# for TESLA's, except with a single step, where there are no earlier steps to ignore.

# %%
from ltdd.distill.unroll import FlatParameters

tiny = get_model(
    "convnet", 1, 4, 8, generator=make_generator(0, "tiny"), width=6, depth=2
).to(torch.float64)
g = torch.Generator().manual_seed(0)
tiny_start = FlatParameters(tiny).flatten().detach().clone()
tiny_target = tiny_start + 0.05 * torch.randn(
    tiny_start.shape, generator=g, dtype=torch.float64
)
tiny_images = torch.randn(12, 1, 8, 8, generator=g, dtype=torch.float64)
# label logits: they get a gradient too
tiny_labels = torch.randn(12, 4, generator=g, dtype=torch.float64)


def relative(a, b):
    return ((a - b).norm() / a.norm()).item()


for steps in (1, 2, 5, 10):
    grads = {
        mode: unrolled_matching(
            tiny, tiny_start, tiny_target, tiny_images, tiny_labels,
            torch.tensor(0.05, dtype=torch.float64), steps, make_generator(1, "tiny"),
            batch_size=5, augment=DSA("crop_scale_rotate"), mode=mode
        )
        for mode in GRAD_MODES
    }
    print(
        f"N = {steps:2d}: relative difference to bptt of the image gradient: exact"
        f" {relative(grads['bptt'].images_grad, grads['exact'].images_grad):.1e}, tesla"
        f" {relative(grads['bptt'].images_grad, grads['tesla'].images_grad):.1e};  of"
        " the step-size gradient: tesla"
        f" {relative(grads['bptt'].lr_grad, grads['tesla'].lr_grad):.1e}"
    )

# %% [markdown]
# TESLA's error grows with the number of steps: the neglected factors $(I - \alpha H_j)$ pile up. A
# follower of DATM's TESLA variant does not get the gradient that DATM's paper numbers were made with;
# whether that matters for the final accuracy is an empirical question (one open issue of DATM's
# repository reports that its TESLA variant does not reproduce CIFAR-10 IPC 10), and in `ltdd` it is a
# setting, `grad_mode`, rather than a choice the code makes for you.
#
# ## DATM: what it changes
#
# DATM {cite}`datm` ("Difficulty-Aligned Trajectory Matching") observes that early segments of the
# trajectories teach easy patterns and late segments hard ones, and that a small synthetic set can only
# hold the easy ones. It keeps MTT's loss and adds four things, each a setting of `TMConfig`:
#
# 1. **Soft labels** (`soft_labels=True`). Each synthetic image gets learnable label logits $Y$, initialised
#    to the *average logits of the experts that classify the image correctly*
#    ({func}`expert_soft_labels <ltdd.distill.tm.expert_soft_labels>`). An image that no expert gets right
#    gets all-zero logits, a uniform target. The student's loss $\ell$ becomes the cross-entropy against
#    $\mathrm{softmax}(Y)$, and $Y$ is learned with {eq}`eq-mtt-loss` like the images. When a DATM config
#    starts from random real images instead (`pix_init: real`, CIFAR-100 at IPC 50), its code takes the
#    logits of *one* expert, right or wrong: `label_rule="first"`, which that preset uses.
# 2. **Initialisation from correctly classified images** (`init="correct"`,
#    {func}`select_correct <ltdd.distill.tm.select_correct>`). The starting images of a class are real images
#    that the experts classify correctly (expert 0 first, then the next expert, until IPC are found), so that
#    every soft label starts confident in the right class. If a class has fewer such images than IPC,
#    `short_class` decides what fills the gap (`duplicate` repeats the ones found; a class with none becomes
#    noise).
# 3. **A growing start window** (Sequential Generation: `current_max_start_epoch`, `expansion_end`). The
#    upper end of the start epochs begins low and grows linearly with the iteration until it reaches
#    $T^+$ (`start_window`): the set learns the early, easy segments first and the later ones after.
# 4. **A loss gate** (`threshold`). When the matching loss of an iteration exceeds the threshold, the
#    iteration takes no step. At DATM's usual threshold of 1 this skips the iterations whose student ended
#    further from the target than where it started: such a student says more about a bad draw (a hard
#    segment, an unlucky minibatch) than about how to improve the images.
#
# Soft labels and the initial images depend on how much the experts know. Here are the first two for the
# live buffer, class by class: how many of the class's training images the experts classify correctly
# (capped at IPC: what `init="correct"` can find), and the soft labels `expert_soft_labels` gives to the
# random real images from above (how many experts are right, and the probability of the image's own
# class).

# %%
from IPython.display import Markdown

from ltdd.distill.tm import expert_soft_labels, select_correct
from ltdd.markdown import markdown_table

logits, right = expert_soft_labels(real_set.images, real_set.labels, template, buffer)
own = torch.softmax(logits, dim=1).gather(1, real_set.labels[:, None]).squeeze(1)
rows = []
for c in range(dataset.num_classes):
    found, _ = select_correct(
        dataset, c, IPC, template, buffer, None, make_generator(0, "select", c)
    )
    members = real_set.labels == c
    rows.append(
        [
            c, counts[c], f"{len(found)} of {IPC}",
            f"{right[members].mean().item():.1f} of {len(buffer)}",
            f"{own[members].mean().item():.2f}"
        ]
    )
Markdown(markdown_table(["class", "training images", "correct images found",
                         "experts right (mean)", "soft label: own class"], rows))

# %% [markdown]
# With experts this short and a long tail, the experts are typically right on the large classes and wrong
# on many images of the small ones, and a soft label whose experts are all wrong is uniform: it teaches
# nothing about the image's class. This is the failure that LTDD's paper analyses for experts trained on
# long-tailed data, and it shows up in the DATM run below.
#
# The growing window of DATM's published CIFAR-10 IPC 10 setting ({numref}`fig-10-datm-window`), from the
# preset ({func}`tm_preset("datm", "cifar10", 10) <ltdd.distill.tm_presets.tm_preset>`, more on presets below):

# %% mystnb={"figure": {"caption": "DATM's growing start window in its published CIFAR-10 setting at IPC ten: the upper end of the start epochs against the distillation iteration.", "name": "fig-10-datm-window"}}
from ltdd.distill.tm import TMConfig, start_window
from ltdd.distill.tm_presets import tm_preset

datm10 = tm_preset("datm", "cifar10", 10)
datm_config = TMConfig(**datm10.settings)
its = np.arange(0, 2 * datm_config.expansion_end + 1, 10)
upper = [start_window(datm_config, int(it))[1] for it in its]
fig, ax = plt.subplots(figsize=(5.5, 3.2), layout="constrained")
ax.plot(its, upper, drawstyle="steps-post")
ax.set(
    xlabel="distillation iteration",
    ylabel="upper end of the start window",
    title=(
        f"DATM, CIFAR-10, IPC 10: start epochs in [{datm_config.min_start_epoch},"
        " upper)"
    ),
)
ax.grid(alpha=0.3)
plt.close(fig)
print(
    f"N = {datm_config.syn_steps}, M = {datm_config.expert_epochs}, window"
    f" [{datm_config.min_start_epoch}, {datm_config.current_max_start_epoch} ->"
    f" {datm_config.max_start_epoch}) over {datm_config.expansion_end} iterations, gate"
    f" at {datm_config.threshold}, {datm10.iterations} iterations in all"
)
fig

# %% [markdown]
# ## A live distillation: MTT and DATM
#
# Both distillers read the buffer trained above. `scale.distill` holds the settings that depend on the
# scale ($N$, $M$, $T^+$, the learning rates and the gradient mode). At the small scales it switches off
# DATM's growing window and gate (`current_max_start_epoch=None`, `threshold=None`): a few short experts
# have no late, hard segments to hold back, and the gate would only skip iterations of a short run. DATM
# keeps its soft labels and its initialisation from correctly classified images; MTT starts from random
# real images with hard labels (stated explicitly below, since the GPU scale's settings include DATM's).

# %%
runs = {}
for method, own_settings in (
    ("mtt", {"init": "real", "soft_labels": False}), ("datm", {})
):
    distiller = make_distiller(
        method, dataset, buffer=str(buffer.path), ipc=IPC, net_width=NET_WIDTH,
        **{**DISTILL, **own_settings}
    )
    initial = distiller.init()
    history = []
    started = time.perf_counter()
    synthetic = distiller.run(
        ITERATIONS, callbacks=(lambda _d, metrics: history.append(metrics),),
        progress=False
    )
    runs[method] = {
        "distiller": distiller, "initial": initial, "synthetic": synthetic,
        "history": history
    }
    skipped = sum(not m["updated"] for m in history)
    moved = (synthetic.images - initial.images).norm() / initial.images.norm()
    print(
        f"{method.upper()}: {ITERATIONS} iterations in"
        f" {time.perf_counter() - started:.1f} s; learned alpha"
        f" {synthetic.learned_lr:.4g} (from {DISTILL['lr_teacher']});"
        f" {distiller.noise_images} noise images in the initial set; {skipped}"
        f" iterations gated; the images moved by {100 * moved:.1f} % of their norm"
    )

# %% [markdown]
# The matching loss of every iteration, {eq}`eq-mtt-loss`, is in {numref}`fig-10-tm-loss`: each one is
# measured from a different expert and start epoch, so it is noisy. Values below 1 mean that the student got
# closer to the target than its starting point was.

# %% mystnb={"figure": {"caption": "The normalised matching loss of every iteration of the live MTT and DATM runs. Each iteration draws its own expert and start epoch, so the curves are noisy; below one, the student ended closer to the target than it started.", "name": "fig-10-tm-loss"}}
from ltdd.book.viz import plot_loss_curves

plot_loss_curves(
    {
        method.upper(): [m["loss"] for m in run["history"]]
        for method, run in runs.items()
    },
    log=False,
    ylabel="normalised matching loss",
    title=f"{dataset.name}: trajectory-matching loss per iteration",
)

# %% [markdown]
# {numref}`fig-10-tm-images` shows the images, before and after, the first few of every class (DATM's
# start from images the experts get right, MTT's from random ones):

# %% mystnb={"figure": {"caption": "The first synthetic images of every class (rows) for MTT and DATM, at the start and after the live run: MTT starts from random real images, DATM from images the experts classify correctly.", "name": "fig-10-tm-images"}}
from ltdd.book.viz import show_image_panels

shown = min(IPC, 3)
panels = {}
for method, run in runs.items():
    panels[f"{method.upper()} start"] = run["initial"].images
    panels[f"{method.upper()} after {ITERATIONS} it."] = run["synthetic"].images
show_image_panels(panels, runs["mtt"]["synthetic"].labels, dataset, per_class=shown,
                  title=f"{dataset.name}: synthetic images of MTT and DATM")

# %% [markdown]
# ### How well do the sets teach?
#
# {func}`evaluate_tm <ltdd.studies.tm_study.evaluate_tm>` trains fresh networks on a set as MTT evaluates it: at the
# step size the set learned, with DSA, soft labels where the set has them, for the profile's epochs, and
# reports the final test accuracy (mean ± std over the profile's networks) with the accuracy of the head and
# tail halves of the classes. The baseline is the random real images from above at the same IPC. A set without
# a learned step size is trained with lr 0.01, while the distilled sets train at their learned $\alpha$, which
# started at the experts' learning rate; so the random images are evaluated a second time at that step size,
# to separate what the images contribute from what the step size does.

# %%
import dataclasses

from ltdd.studies.tm_study import evaluate_tm
from ltdd.book.viz import accuracy_table

candidates = {
    "random real images (lr 0.01)": real_set,
    f"random real images (lr {DISTILL['lr_teacher']})": dataclasses.replace(
        real_set, learned_lr=DISTILL["lr_teacher"]
    ),
    **{
        f"{method.upper()} ({ITERATIONS} it.)": run["synthetic"]
        for method, run in runs.items()
    },
}
reports, groups = {}, {}
for label, candidate in candidates.items():
    reports[label], groups[label] = evaluate_tm(
        candidate, dataset, profile, scale, seed=0
    )
rows = [
    [
        label, f"{100 * groups[label]['halves']['head']:.1f}",
        f"{100 * groups[label]['halves']['tail']:.1f}"
    ]
    for label in candidates
]
Markdown(
    f"**Live, {dataset.name} at profile {profile.name}, IPC {IPC}** (test accuracy "
    "%)\n\n"
    f"{accuracy_table(reports)}\n\n"
    "**Head and tail halves of the classes** (mean over networks, %)\n\n"
    + markdown_table(["set", "head half", "tail half"], rows)
)

# %% [markdown]
# Read this table for what it is: the long-tailed digits, a few short experts, a handful of iterations,
# a short evaluation, one distillation seed. With the `smoke` profile's four iterations the images have
# hardly moved (the run cell prints by how much), so any difference to the random images comes from the
# start (which images, which labels) and the step size, not from matching; the `cpu` profile runs longer,
# but is still far from the papers' thousands of iterations. What the table can show is the mechanism. Where the experts
# know little about the tail classes, DATM's initialisation and soft labels inherit that: tail images the
# experts get wrong carry uniform labels, or become noise when a class has no correctly classified image
# at all, and a network trained on them learns little about those classes. Compare the tail columns of
# MTT (hard labels, random real images) and DATM. LTDD's changes, in the next chapter, are aimed at
# exactly this.
#
# Do not expect the distilled sets to beat the random real images here. At these scales they need not,
# and they can fall below them: the experts are a few short runs of a narrow network on a small,
# long-tailed set, so the trajectories the images learn to reproduce are those of poor teachers, biased
# towards the head classes; and the `smoke` and `cpu` profiles run a few to a hundred iterations, not
# the papers' thousands. The digits are also easy enough that a handful of real images per class already teach most of
# what there is to learn.
#
# ### On CIFAR-10-LT (JPEG mirror)
#
# LTDD's Table 1 puts MTT and DATM side by side on CIFAR-10-LT at $\beta = 100$ and IPC 10. The book recorded
# the same two rows (MTT, and DATM's changes without LTDD's, "base") with the command line, as the first
# half of chapter 11's ablation (`python -m ltdd tm-ablation --dataset cifar10-lt --imbalance 100 --zca 0.1`;
# command, commit and scale in `data/reference/cifar10_tm_ablation_cpu.json`), on a JPEG mirror of CIFAR-10
# and at a CPU's scale, stated under the table. The sentence is computed from the file.

# %%
from ltdd.studies.recorded import (
    load_experiment, tm_ablation_panel, tm_ablation_scale, tm_ablation_sentences
)

tm_recorded = load_experiment("tm-ablation")
if tm_recorded is None:
    display(
        Markdown(
            "The CIFAR-10-LT rows are not recorded yet"
            " (`data/reference/cifar10_tm_ablation_cpu.json`)."
        )
    )
else:
    tm_study = tm_recorded.study("beta100")
    display(
        Markdown(
            tm_ablation_panel(tm_recorded, labels=("MTT", "base"))
            + f"\n\nRecorded scale ({tm_recorded.provenance['machine']}): "
            + tm_ablation_scale(tm_study) + ".\n\n- "
            + tm_ablation_sentences(tm_recorded, steps=[("base", "MTT")])[0]
        )
    )

# %% [markdown]
# ## The published settings
#
# {mod}`ltdd.distill.tm_presets` keeps the published settings of MTT (its hyperparameter table, as transcribed
# from the author) and DATM (its configuration files: CIFAR-10, CIFAR-100 and Tiny ImageNet, the last with
# ConvNetD4 at 64 pixels) as presets: the distiller's settings, how the experts were trained, and the dataset
# options (ZCA). $N$ is `syn_steps`, the window is the range of start epochs, "labels" says how the soft
# labels start, `batch_syn` is "all" where the config's value covers the whole synthetic set (the code then
# takes every image), and "grad" is the gradient mode: DATM's `DATM.py` backpropagates through every step,
# which `exact` computes in constant memory. Where a DATM config omits the switch of the growing window, the
# window grows, because the switch defaults to on in DATM's code.

# %%
from ltdd.distill.tm_presets import preset_table

Markdown(f"**MTT**\n\n{preset_table('mtt')}\n\n**DATM**\n\n{preset_table('datm')}")

# %% [markdown]
# On a GPU, the published DATM setting for CIFAR-10 at IPC 10 is two commands: train the experts with the
# preset's expert settings (GSAM, 100 epochs; `--zca 0.1` whitens the data as the preset expects), then
# distil with the preset's distillation settings from that buffer:
#
# ```
# python -m ltdd experts --dataset cifar10 --zca 0.1 --preset datm:10 --experts 100 --out buffers/c10
# python -m ltdd distill datm --dataset cifar10 --zca 0.1 --ipc 10 --preset --option buffer=buffers/c10 --out runs/datm10
# ```
#
# `--option KEY=VALUE` overrides any setting (for example `--option grad_mode=tesla`). With `--preset` the
# number of iterations is the preset's (printed with the window above for DATM) unless `--iterations` is
# given. Under `--profile paper` the distillation takes the published setting without `--preset`, wherever
# one exists for the dataset, IPC and imbalance. The papers train 100 experts; fewer (`--experts 10`) already give a usable
# buffer at a tenth of the cost. The distillation of that setting unrolls $N = 80$ steps on 100 images,
# the shape of the recorded memory benchmark, in constant memory with the default exact gradient.
#
# ## Exercises
#
# ````{exercise}
# :label: ex-10-memory
#
# Use the recorded table to predict the memory that backpropagation through every step would need at
# DATM's CIFAR-10 IPC 10 setting ($N = 80$, all 100 images in every step): fit a straight line to the
# bptt peaks against $N$ (`np.polyfit`), extrapolate, and compare with the exact mode's peaks. Then check
# the linear growth live with `saved_memory("bptt", n, ipc=2, image_size=16, width=8)` for a few more
# values of `n`. Which part of the growth per step would halve with `batch_syn=50`?
# Give the slope in MB per step as a whole number and check with `from ltdd.book.exercises import check` and
# `check("ex-10-memory", mb_per_step)`.
# ````
#
# ````{solution} ex-10-memory
# :class: dropdown
#
# ```python
# steps = sorted(memory["bptt"])
# slope, intercept = np.polyfit(steps, [memory["bptt"][s]["peak_mb"] for s in steps], 1)
# print(f"{slope:.0f} MB per step; N = 80: {(slope * 80 + intercept) / 1000:.1f} GB")
# print({s: memory["exact"][s]["peak_mb"] for s in sorted(memory["exact"])})
# print([saved_memory("bptt", n, ipc=2, image_size=16, width=8) / 1e6 for n in (1, 2, 4, 8, 16)])
# ```
#
# The three recorded bptt points lie on a line, and the extrapolation lands in the tens of gigabytes, far
# beyond a 16 GB T4 and consistent with the several GPUs the reference configurations ask for; the exact
# mode stays well under one gigabyte at every recorded $N$. The live measurement grows by the same amount
# with every step. What grows per step is that step's graph: the activations of the forward pass and of
# the backward pass on the step's minibatch, so it is proportional to the number of images per step and
# halves with `batch_syn=50`. The parameters (one vector per step, a small part) do not depend on the
# batch.
# ````
#
# ````{exercise}
# :label: ex-10-tesla
#
# How wrong is TESLA's gradient, and when? On the tiny problem above, plot the relative difference of
# TESLA's image gradient to the exact one against $N$ (1 to 20) for step sizes $\alpha$ of 0.01, 0.05 and
# 0.2. Explain with {eq}`eq-adjoint` why the difference is zero at $N = 1$ and why it grows with $N$
# and with $\alpha$. Then run the live MTT distillation again with `grad_mode="tesla"` added to its
# settings and compare the images with the exact run's.
# ````
#
# ````{solution} ex-10-tesla
# :class: dropdown
#
# ```python
# errors = {}
# for lr in (0.01, 0.05, 0.2):
#     errors[f"alpha = {lr}"] = []
#     for n in range(1, 21):
#         r = {mode: unrolled_matching(tiny, tiny_start, tiny_target, tiny_images, tiny_labels,
#                                      torch.tensor(lr, dtype=torch.float64), n, make_generator(1, "tiny"),
#                                      batch_size=5, mode=mode) for mode in ("exact", "tesla")}
#         errors[f"alpha = {lr}"].append(relative(r["exact"].images_grad, r["tesla"].images_grad))
# plot_loss_curves(errors, log=False, xlabel="unrolled steps N", ylabel="relative difference")
# ```
#
# With one step, $a_1 = a_N$ is exact: there is no earlier step whose Hessian could be dropped, so both
# modes compute the same thing. With more steps, the exact $a_{i+1}$ is $a_N$ multiplied by the factors
# $(I - \alpha H_j)$ of all later steps; TESLA replaces each factor by the identity. The error of one
# factor is of order $\alpha \lVert H_j \rVert$, and the errors compound over the $N - 1 - i$ later steps,
# so the difference grows with $N$ and with $\alpha$ (and with the curvature $\lVert H_j \rVert$ of the
# student's loss). For the distillation, build the distiller as in the live
# cell with `**{**DISTILL, "init": "real", "soft_labels": False, "grad_mode": "tesla"}` and compare
# `(tesla_set.images - runs["mtt"]["synthetic"].images).norm()` with how far either set moved from its
# start. Both runs draw the same experts, start epochs, minibatches and augmentations (the same generator),
# so the difference is the gradient alone. It is not negligible: in the smoke-scale runs tried for this
# exercise it was a sizeable fraction of the distance the images moved, and a larger fraction with
# `syn_steps=10` than with 4. The learned step sizes drift apart too, since TESLA's $\partial
# \mathcal{L}/\partial\alpha$ is also approximate.
# ````
