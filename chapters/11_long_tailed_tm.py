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
# # Long-tailed trajectory matching: DAM and Expert Decoupling
#
# {term}`Trajectory` matching ({doc}`10_trajectory_matching`) distils a training set by asking a student network,
# trained for a few steps on the synthetic images, to follow the recorded training trajectory of an
# *{term}`expert`* trained on the real images. On a balanced benchmark that is one of the strongest families of
# {term}`dataset distillation`. On a {term}`long-tailed <long-tailed data>` training set it goes wrong in a particular way, and {term}`LTDD`,
# "Distilling Long-tailed Datasets" {cite}`ltdd`, traces the failure to the experts. Experts trained on
# long-tailed data have learned the imbalance, and {term}`MTT` {cite}`mtt` and {term}`DATM` {cite}`datm` copy whatever
# the experts know, the imbalance included, into the {term}`synthetic set`. LTDD names two causes and a fix for
# each:
#
# 1. **The trajectories themselves are biased.** An expert's weights moved under gradients in which the
#    head classes dominate, because most of its training images belong to them. A student trained on a
#    *balanced* synthetic set sees another class distribution, so following the expert forces the
#    synthetic images to reproduce the imbalance. *Distribution-agnostic Matching* ({term}`DAM`) weights the
#    student's loss by the long-tailed class frequencies, so that the student's steps resemble the
#    expert's whatever the distribution of the synthetic set.
# 2. **The experts' classifiers are biased.** A network trained on long-tailed data favours the head
#    classes, is unsure about the tail, and often gets tail images wrong. DATM takes its initial images
#    and its {term}`soft labels <Soft label>` from these experts, and matching pulls the student's classifier towards theirs.
#    *{term}`Expert Decoupling <ED>`* (ED) trains a second set of experts whose classifier is retrained with
#    class-balanced sampling, and matches the backbone and the classifier separately, each against the
#    experts that are good at it.

# %% [markdown]
# ```{admonition} In this chapter
# :class: tip
# **What you will learn.** How a classifier trained on long-tailed data shows its bias (weight norms,
# confidence per class: {func}`expert_weight_norms <ltdd.studies.tm_study.expert_weight_norms>`,
# {func}`expert_confidence <ltdd.studies.tm_study.expert_confidence>`); DAM as LTDD describes it and as its code
# implements it, and the switches of `ltdd` that give either ({func}`dam_loss <ltdd.distill.tm.dam_loss>`);
# Expert Decoupling's two kinds of experts and two matching phases; the ablation base → +DAM → +DAM+ED,
# live and as a longer recorded run ({func}`tm_ablation <ltdd.studies.tm_study.tm_ablation>`); the paper's numbers
# and published settings. The code runs on the embedded long-tailed digits: nothing it distils is a
# reproduction of the paper.
#
# **Before you start.** {doc}`10_trajectory_matching` (experts, the unrolled student, DATM's soft labels)
# is assumed throughout.
#
# **How long.** About 60 minutes to read. Running it on 2 CPU cores:
# under a minute with the `smoke` profile (CI checks this), and 6.2 minutes with `cpu` (measured in one clean-clone `cpu` build, 2 cores);
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
budget = chapter_budget("11")

# %% [markdown]
# ## Settings
#
# As in {doc}`10_trajectory_matching`, the scale of every trajectory-matching experiment comes from
# {func}`scale_for(profile) <ltdd.studies.tm_study.scale_for>`: the number of experts and their epochs, the network
# width, {term}`IPC`, the iterations and the distiller's shared settings. Without a GPU that is a handful of short
# experts on the embedded long-tailed digits; with the `gpu` profile it takes LTDD's published CIFAR-10-LT
# hyperparameters, for the distillation and for both kinds of experts (GSAM, and LTDD's weight decay for the
# representation experts; {func}`expert_config <ltdd.studies.tm_study.expert_config>`). This chapter always works on `digits-lt`, at every profile. The live ablation distils four
# sets; on a GPU it is shortened to at most 1,000 iterations per set, which the settings cell prints.

# %%
import dataclasses

from ltdd import get_profile
from ltdd.studies.tm_study import expert_config, scale_for

profile = get_profile()
scale = scale_for(profile)
DATASET = "digits-lt"  # the embedded long-tailed digits, at every profile
SEED = 0  # the seed of the live experts and sets
LIVE_SCALE = profile.pick(
    gpu=dataclasses.replace(scale, iterations=min(scale.iterations, 1000)),
    default=scale
)
# N, M, T+, learning rates: shared by every row of the ablation
DISTILL = dict(scale.distill)

print(
    f"profile {profile.name!r}: {DATASET}, {profile.model} of width {scale.net_width}\n"
    f"experts: {scale.experts} representation experts x {scale.expert_epochs} epochs, "
    f"then {scale.experts} classifier experts x {scale.classifier_epochs} epochs (lr "
    f"{scale.expert_lr}, batch {scale.expert_batch}, {scale.experts_optimizer}, weight "
    f"decay {expert_config(scale, 'representation').weight_decay:g} / "
    f"{expert_config(scale, 'classifier').weight_decay:g})\n"
    f"distillation: IPC {scale.ipc}, N = {DISTILL['syn_steps']} steps, M = "
    f"{DISTILL['expert_epochs']} epochs, start epochs in [0, "
    f"{DISTILL['max_start_epoch']}), alpha_0 = {DISTILL['lr_teacher']}; live ablation: "
    f"{LIVE_SCALE.iterations} iterations per set\n"
    f"evaluation: {profile.eval_epochs} epochs x {profile.eval_seeds} networks per set"
)

# %%
from ltdd.data import load_dataset

dataset = load_dataset(DATASET)
C = dataset.num_classes
counts = dataset.train.class_counts(C)
ORDER = sorted(range(C), key=lambda c: -counts[c])  # the classes from head to tail
# class name and its training images
TICKS = [f"{dataset.class_names[c]}\n({counts[c]})" for c in ORDER]
print(f"{dataset.name}: {len(dataset.train)} training images, per class (head to tail) "
      f"{[counts[c] for c in ORDER]}; {len(dataset.test)} balanced test images")

# %% [markdown]
# ## Biased experts, live
#
# LTDD's pipeline needs two buffers per seed: **representation experts**, ordinary networks trained on the
# long-tailed set (MTT's experts), and **classifier experts**, which start from a representation expert's
# final weights and retrain only its last linear layer with class-balanced sampling (more on them below).
# {func}`train_ablation_buffers <ltdd.studies.tm_study.train_ablation_buffers>` trains both at the scale of the
# profile. They go to a temporary folder, laid out the way the ablation further down expects, so that it can
# reuse them.

# %%
import tempfile
import time
from pathlib import Path

from ltdd.models import get_model
from ltdd.studies.tm_study import train_ablation_buffers

workdir = tempfile.TemporaryDirectory()
WORKDIR = Path(workdir.name)
started = time.perf_counter()
buffers = train_ablation_buffers(
    dataset, scale, seed=SEED, folder=WORKDIR / f"seed_{SEED}", model=profile.model
)
rep_buffer, cls_buffer = buffers
template = get_model(
    profile.model, dataset.channels, C, dataset.image_size, width=scale.net_width
).to(dataset.device)
print(
    f"{len(rep_buffer)} representation experts ({rep_buffer.epochs} epochs) and"
    f" {len(cls_buffer)} classifier experts ({cls_buffer.epochs} epochs) in"
    f" {time.perf_counter() - started:.1f} s"
)

# %% [markdown]
# Two diagnostics of LTDD's motivation (its Fig. 2 relates the classifier weights to the accuracy per class, its
# Fig. 5 shows the experts' confidence), computed for both kinds of experts ({numref}`fig-11-biased-experts` puts
# the classes
# in order from the largest to the smallest, with the number of training images under each):
#
# - **Classifier weight norms.** The last layer computes one logit per class, $z_c = w_c^\top h + b_c$ for the
#   feature vector $h$. A class whose weight vector $w_c$ is longer gets larger logits for the same feature,
#   so a classifier trained on long-tailed data tends to give the head classes the longer vectors.
#   {func}`expert_weight_norms(buffer, template, expert=0) <ltdd.studies.tm_study.expert_weight_norms>`
#   returns $\lVert w_c \rVert$ of one expert at its last epoch.
# - **Confidence.** {func}`expert_confidence <ltdd.studies.tm_study.expert_confidence>` averages, over the experts and
#   over the balanced test images of each class, the probability the expert gives to the true class. A biased
#   expert is sure of the head and unsure of the tail.
#
# The lower right panel goes one step further, to what DATM takes from the experts: the **initial synthetic
# set**. {func}`distill_row(..., iterations=0) <ltdd.studies.tm_study.distill_row>` builds a row's distiller and
# initialises it without a single step: *base* (DATM) picks images and soft labels with the representation
# experts, *+DAM+ED* with the classifier experts.
# {func}`soft_label_confidence <ltdd.studies.tm_study.soft_label_confidence>` is the mean probability the set's soft
# labels give to each image's own class.

# %% mystnb={"figure": {"caption": "Live diagnostics, classes from head to tail with their training images: the long tail; the classifier weight norms of a representation and a classifier expert; the experts' mean probability of the true class on test images; and the soft-label confidence of the initial synthetic sets of base and +DAM+ED.", "name": "fig-11-biased-experts"}}
import matplotlib.pyplot as plt

from ltdd.studies.tm_study import (
    ABLATION_ROWS, distill_row, expert_confidence, expert_weight_norms,
    soft_label_confidence
)

norms = {
    kind: expert_weight_norms(buffer, template, expert=0)
    for kind, buffer in (
        ("representation expert", rep_buffer), ("classifier expert", cls_buffer)
    )
}
confidence = {
    kind: expert_confidence(buffer, template, dataset)
    for kind, buffer in (
        ("representation experts", rep_buffer), ("classifier experts", cls_buffer)
    )
}
initial = {
    label: distill_row(
        dataset, ABLATION_ROWS[label], scale, buffers, SEED, profile.model, iterations=0
    )
    for label in ("base", "+DAM+ED")
}
label_confidence = {
    f"{label}: initial soft labels": soft_label_confidence(d.synthetic)
    for label, d in initial.items()
}

fig, axes = plt.subplots(2, 2, figsize=(11, 6.4), layout="constrained")
xs = range(C)
axes[0, 0].bar(xs, [counts[c] for c in ORDER], color="grey")
axes[0, 0].set(ylabel="training images", title=f"{dataset.name}: the long tail")
panels = (
    (axes[0, 1], norms, "‖w_c‖ of expert 0's classifier", "classifier weight norms"),
    (
        axes[1, 0], confidence, "mean p(true class), test images",
        "expert confidence per class"
    ),
    (
        axes[1, 1], label_confidence, "mean soft-label p(own class)",
        "initial synthetic sets"
    ),
)
for ax, series, ylabel, title in panels:
    for (label, values), marker in zip(series.items(), "os"):
        ax.plot(xs, [values[c] for c in ORDER], marker=marker, label=label)
    ax.set(ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
for ax in axes.flat:
    ax.set_xticks(list(xs), TICKS, fontsize=8)
    ax.grid(alpha=0.3)
fig.supxlabel("class (training images), head → tail")
plt.close(fig)
fig

# %% [markdown]
# Read the panels from left to right and top to bottom. How far the representation expert's weight norms
# fall from head to tail, and its confidence with them, is how much imbalance it has learned; the
# classifier experts see every class equally often, so their lines should lie higher on the tail (their
# norms need not be flat: they start from the long-tailed classifier and train it only for a few epochs).
# The last panel is where the bias enters the distilled set. DATM keeps an image only if an expert
# classifies it correctly, and takes its soft label from the experts that do. When the representation
# experts get *no* image of a tail class right, a class has no usable image: LTDD's code (and `ltdd`) then
# fills it with noise, and an image that no expert classifies correctly gets all-zero label logits, a
# uniform soft label with confidence $1/C$. How many of the initial images are noise:

# %%
for label, distiller in initial.items():
    source = "classifier" if distiller.config.decoupled else "representation"
    print(
        f"{label:8s} (images and labels from the {source} experts):"
        f" {distiller.noise_images} of {len(distiller.synthetic)} initial images are"
        f" noise; per class {distiller.noise_per_class}"
    )

# %% [markdown]
# ## Distribution-agnostic Matching
#
# ### The idea
#
# Let $s_c$ be the number of training images of class $c$ in the long-tailed set, $\mathbf{s} = (s_1,
# \dots, s_C)$. A representation expert was trained on batches in which class $c$ appears with frequency
# $s_c / \sum_k s_k$, so its gradient steps are a sum over classes weighted by these frequencies. The
# student of trajectory matching ({doc}`10_trajectory_matching`) is trained on the synthetic set, which
# is *balanced* ($\mathrm{IPC}$ images per class); its steps weight every class equally. The two cannot move the same way, and the only
# way for matching to close the gap is to make the synthetic images carry the imbalance. DAM changes the
# student's loss instead, so that a balanced batch produces steps that look like the long-tailed expert's.
#
# LTDD's paper writes the loss (its Eqs. 4 and 5) for the $n$ synthetic images with logits $z_i = f(\hat\theta;
# x_i)$ and their ground-truth classes $y_i$, with a weight $g(s_{y_i})$ of the class count and a logit
# adjustment $-\lambda \log \mathbf{s}$ (as in logit-adjusted losses for long-tailed recognition):
#
# $$
# \mathcal{L}^{c} = -\frac{1}{n} \sum_{i=1}^{n} g(s_{y_i})\, \log
#   \frac{e^{z_{i,y_i} - \lambda \log s_{y_i}}}{\sum_{j=1}^{C} e^{z_{i,j} - \lambda \log s_j}} .
# $$ (eq-dam-paper)
#
# The paper says only that $g$ "normalizes" the count and that $\lambda$ smooths the predictions; LTDD's code
# makes $g$ concrete as $g(s_c) = (s_c + \lambda_g) / (\sum_k s_k + \lambda_g)$, with its own shift $\lambda_g$
# (`first_weight_factor`). DATM and LTDD train the student on soft labels, so `ltdd` states the loss for soft
# targets $p_i = \operatorname{softmax}(Y_i)$, with $\ell(z, p) = -\sum_j p_j \log \operatorname{softmax}(z)_j$
# the soft cross-entropy; for one-hot targets it is {eq}`eq-dam-paper`:
#
# $$
# \mathcal{L}_{\mathrm{DAM}} = \frac{1}{B} \sum_{i=1}^{B} g(s_{y_i})\;
#   \ell\big(z_i - \lambda \log \mathbf{s},\; p_i\big),
# \qquad
# g(s_c) = \frac{s_c + \lambda_g}{\sum_{k=1}^{C} s_k + \lambda_g} .
# $$ (eq-dam-general)
#
# LTDD's code implements a special case, with no logit adjustment (its `BFLoss` option, which would
# subtract the log frequencies, is off in every config) and the weight on the *class
# columns* of the soft cross-entropy rather than on the sample:
#
# $$
# \mathcal{L}_{\mathrm{code}} = \frac{1}{B} \sum_{i=1}^{B} \sum_{j=1}^{C} g(s_j)\, p_{ij}
#   \big(-\log \operatorname{softmax}(z_i)_j\big),
# \qquad \lambda_g = 0,\ \lambda = 0,\ \text{so } g(s_j) = \frac{s_j}{\sum_k s_k} .
# $$ (eq-dam-code)
#
# Three differences between {eq}`eq-dam-general` and {eq}`eq-dam-code` matter:
#
# - **The weight is the raw class frequency.** With $\lambda_g = 0$ every shipped config weights class
#   $j$ by its share of the training set: the head gets the *largest* weight. (This is the opposite of
#   re-weighting for long-tailed recognition, which up-weights the tail: DAM does not try to make the
#   student fair, it tries to make the student move like the biased expert, so that matching does not
#   have to push the imbalance into the images.)
# - **Column against sample weighting.** With one-hot targets the two agree; with soft labels the sample
#   $i$ gets the weight $\sum_j g(s_j)\, p_{ij}$ instead of $g(s_{y_i})$.
# - **Scale.** The frequencies sum to 1, so their mean is $1/C$: on a balanced batch
#   {eq}`eq-dam-code` is about $C$ times smaller than the plain soft cross-entropy. The learned step size
#   $\alpha$ multiplies the gradient of this loss in the representation phase, but it is also the step
#   size of the (unweighted) classifier phase below and of the evaluation, so the scale is not a detail.
#
# `ltdd` can reproduce either. Its default rescales the weights to mean 1,
#
# $$
# \tilde g(s_c) = \frac{C\, g(s_c)}{\sum_{k=1}^{C} g(s_k)},
# $$ (eq-dam-normalised)
#
# so that equal class counts with $\lambda = 0$ give exactly the soft cross-entropy of DATM, and DAM
# changes only the balance between classes, not the size of the loss. The presets of LTDD's published
# settings use the code's raw frequencies.
#
# ### The equations in code
#
# | part | what it is | where in `ltdd` (`ltdd/distill/tm.py`) |
# |---|---|---|
# | $\mathbf{s}$ | training images per class of the long-tailed set | `dataset.train.class_counts(C)` (the distiller's `class_counts`) |
# | $g(s_c)$, $\lambda_g$ | class weights, shifted by $\lambda_g$ | {func}`dam_weights(counts, dam_lambda) <ltdd.distill.tm.dam_weights>`; `TMConfig.dam_lambda` (of {class}`TMConfig <ltdd.distill.tm.TMConfig>`) |
# | {eq}`eq-dam-normalised` | weights rescaled to mean 1 (`True`) or the code's raw frequencies (`False`) | `dam_weights(..., normalize=)`; `TMConfig.dam_normalize` |
# | $-\lambda \log \mathbf{s}$ | logit adjustment | {func}`dam_loss(..., logit_adjustment=) <ltdd.distill.tm.dam_loss>`; `TMConfig.dam_logit_adjustment` |
# | sample ({eq}`eq-dam-general`) or column ({eq}`eq-dam-code`) weighting | where the weight goes | `dam_loss(..., weighting="sample" \| "column")`; `TMConfig.dam_weighting` (default `"column"`) |
# | DAM on or off | the student's loss in the representation phase | `TMConfig.dam` (on in {class}`LTDDConfig <ltdd.distill.tm.LTDDConfig>`); `TrajectoryMatcher._dam` is passed to {func}`unrolled_matching <ltdd.distill.unroll.unrolled_matching>` as `loss_fn` |
#
# The weights for the live digits, with the default normalisation: $\lambda_g = 0$ (the code's setting)
# and, to show what $\lambda_g$ does, a large $\lambda_g$ equal to the size of the training set, which
# pulls every weight towards the mean ({numref}`fig-11-dam-weights`). The dotted line is weight 1, the plain
# cross-entropy.

# %% mystnb={"figure": {"caption": "DAM's class weights for the live digits, normalised to mean one, classes from head to tail: with the code's setting and with a large shift that pulls every weight towards the mean. The dotted line is the plain cross-entropy.", "name": "fig-11-dam-weights"}}
from ltdd.distill.tm import dam_loss, dam_weights

total = sum(counts)
normalised, raw = dam_weights(counts), dam_weights(counts, normalize=False)
weights = {
    "λ_g = 0 (LTDD's code)": normalised,
    f"λ_g = {total} (= Σ s)": dam_weights(counts, total)
}
print(
    "raw frequencies g(s_c) (dam_normalize=False), head to tail: "
    f"{[round(float(raw[c]), 4) for c in ORDER]}, sum {float(raw.sum()):.3f}\n"
    "normalised weights (mean 1), head to tail: "
    f"{[round(float(normalised[c]), 3) for c in ORDER]}"
)

fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
width = 0.8 / len(weights)
for k, (label, values) in enumerate(weights.items()):
    ax.bar(
        [x + (k - 0.5) * width for x in range(C)], [float(values[c]) for c in ORDER],
        width=width, label=label
    )
ax.axhline(1.0, color="black", linestyle=":", linewidth=1, label="plain cross-entropy")
ax.set_xticks(range(C), TICKS, fontsize=8)
ax.set(xlabel="class (training images), head → tail", ylabel="DAM weight (normalised)",
       title=f"DAM class weights for {dataset.name}")
ax.grid(axis="y", alpha=0.3)
ax.legend(fontsize=8)
plt.close(fig)
fig

# %% [markdown]
# Three properties of `dam_loss`, checked on random logits and random soft labels: equal class counts with
# $\lambda = 0$ give the plain soft cross-entropy
# ({func}`soft_label_loss <ltdd.distill.unroll.soft_label_loss>`, DATM's loss); the code's raw frequencies
# give exactly $1/C$ of it; and with equal counts the logit adjustment does nothing, because subtracting the
# same $\lambda \log s$ from every logit leaves the softmax unchanged. Then the two weightings, which agree on
# one-hot targets and differ on soft ones.

# %%
import torch

from ltdd.distill.unroll import soft_label_loss

g = torch.Generator().manual_seed(0)
logits, label_logits = torch.randn(64, C, generator=g), 3 * torch.randn(
    64, C, generator=g
)
hard = label_logits.argmax(dim=1)
equal = [1] * C
plain = soft_label_loss(logits, label_logits)
checks = {  # name: (holds, expected)
    "equal counts, λ = 0, normalised == soft cross-entropy": (
        torch.allclose(dam_loss(logits, label_logits, equal), plain), True
    ),
    "equal counts, raw frequencies == soft cross-entropy / C": (
        torch.allclose(
            dam_loss(logits, label_logits, equal, normalize=False), plain / C
        ),
        True,
    ),
    "equal counts, logit adjustment λ = 1 changes nothing": (
        torch.allclose(
            dam_loss(logits, label_logits, equal, logit_adjustment=1.0), plain
        ),
        True,
    ),
    "one-hot targets: column == sample weighting": (
        torch.allclose(
            dam_loss(logits, hard, counts),
            dam_loss(logits, hard, counts, weighting="sample")
        ),
        True,
    ),
    "soft targets: column == sample weighting": (
        torch.allclose(
            dam_loss(logits, label_logits, counts),
            dam_loss(logits, label_logits, counts, weighting="sample")
        ),
        False,
    ),
}
for name, (holds, expected) in checks.items():
    print(f"{name}: {holds} (expected {expected})")

# %% [markdown]
# ## Expert Decoupling
#
# ### Two kinds of experts
#
# A network is a feature extractor (the *backbone*, every convolution and normalisation layer) followed by
# a linear *classifier*. A well-known finding of long-tailed recognition is that much of the damage of the
# imbalance sits in the classifier: features learned on the long-tailed set are usable for every class,
# and retraining only the classifier on them, with class-balanced sampling, recovers much of the tail
# accuracy (the idea of "decoupling" representation and classifier). LTDD's Expert Decoupling builds on
# this.
#
# - **Representation experts**: every parameter trained on the long-tailed set with ordinary shuffled
#   batches, exactly the experts of MTT and DATM (LTDD's code trains them with GSAM {cite}`gsam`, as DATM
#   does, and adds weight decay).
# - **Classifier experts**: expert $k$ starts from representation expert $k$'s *final* weights, freezes the
#   backbone, and trains only the classifier, with **class-balanced sampling**: go through the classes in a
#   shuffled order, reshuffled after every pass, and take the next few images of each class visited (each
#   class keeps its own shuffled queue), so every class is seen exactly equally often (LTDD's
#   `ClassAwareSampler`). In `ltdd`,
#   {class}`ExpertConfig(stage="classifier") <ltdd.distill.experts.ExpertConfig>` with `per_draw` images per draw
#   ({func}`class_balanced_order <ltdd.distill.experts.class_balanced_order>`); the
#   classifier is the model's `classifier` module, not a hard-coded parameter count as in LTDD's code.
#
# ### Two matching phases
#
# Write $\theta = ([\theta]_{\mathrm{bb}}, [\theta]_{\mathrm{cls}})$ for the backbone and classifier blocks
# of the flat parameter vector. Every iteration runs two phases, each with its own fresh student and its
# own randomly chosen expert.
#
# **Phase 1, representation.** The student starts at a representation expert's $\theta^*_t$ and takes $N$
# steps on the synthetic set with the DAM loss ({eq}`eq-dam-general`; in LTDD's code {eq}`eq-dam-code`),
# updating *every* parameter; but only the backbone is compared with the expert:
#
# $$
# \mathcal{L}_1 = \frac{\lVert [\hat\theta_N]_{\mathrm{bb}} - [\theta^*_{t+M}]_{\mathrm{bb}} \rVert^2}
#                     {\lVert [\theta^*_t]_{\mathrm{bb}} - [\theta^*_{t+M}]_{\mathrm{bb}} \rVert^2} .
# $$ (eq-ed-rep)
#
# The representation expert's classifier is biased; its backbone is what is worth copying.
#
# **Phase 2, classifier.** The student starts at a classifier expert's weights at epoch 0, which are its
# representation expert's final weights, $\phi^*_0$ for the classifier on top of a fixed backbone
# $\bar\theta_{\mathrm{bb}}$. It takes $N_2$ steps with the plain soft cross-entropy, moving *only* the
# classifier, and is compared with the classifier expert $M_2$ epochs later:
#
# $$
# \hat\phi_{i+1} = \hat\phi_i - \alpha \nabla_\phi\, \ell\big(f(\bar\theta_{\mathrm{bb}}, \hat\phi_i;\, \mathcal{A}_i(X_{b_i})),\, Y_{b_i}\big),
# \qquad
# \mathcal{L}_2 = \frac{\lVert \hat\phi_{N_2} - \phi^*_{M_2} \rVert^2}{\lVert \phi^*_0 - \phi^*_{M_2} \rVert^2} .
# $$ (eq-ed-cls)
#
# LTDD's code always starts this phase at epoch 0, so only the first $M_2 = 2$ epochs of the classifier
# experts are ever matched.
#
# **One step.** The synthetic images $X$, the label logits $Y$ and the step size $\alpha$ take one step
# along the weighted sum of the two phases' gradients:
#
# $$
# \nabla = \lambda_{\mathrm{rep}}\, \nabla \mathcal{L}_1 + \lambda_{\mathrm{cls}}\, \nabla \mathcal{L}_2
# \qquad \text{for each of } X,\ Y,\ \alpha .
# $$ (eq-ed-step)
#
# Under ED the initial images and the soft labels also come from the classifier experts, which is what
# repaired the initial set in {numref}`fig-11-biased-experts`.
#
# | part | what it is | where in `ltdd` |
# |---|---|---|
# | classifier experts | final layer retrained class-balanced from a representation expert's last weights | `ExpertConfig(stage="classifier")`, {func}`train_buffer(..., representation=) <ltdd.distill.experts.train_buffer>`, `class_balanced_order` (`ltdd/distill/experts.py`) |
# | $[\theta]_{\mathrm{bb}}$, $[\theta]_{\mathrm{cls}}$ | the two blocks of the flat vector | {func}`classifier_slice(model) <ltdd.distill.experts.classifier_slice>` (from `model.classifier`) |
# | {eq}`eq-ed-rep` | update everything, match the backbone | `unrolled_matching(..., update=None, match=slice(0, cls.start), loss_fn=DAM)` |
# | {eq}`eq-ed-cls` | update and match only the classifier, from epoch 0 | `unrolled_matching(..., update=cls, match=cls)`; `TMConfig.second_max_start_epoch` (1: always epoch 0), `second_expert_epochs`, `syn_steps_second` |
# | {eq}`eq-ed-step` | the weighted sum of the two phases | `TMConfig.lambda_rep`, `lambda_cls`; `TrajectoryMatcher._update` |
# | ED on or off | both phases, labels and images from the classifier experts | `TMConfig.decoupled`, `classifier_buffer` (on in `LTDDConfig`) |
#
# The pieces, live on the buffers trained above. First the classifier experts: their backbone must stay
# at the representation expert's final backbone along the whole trajectory.

# %%
from ltdd.distill.experts import classifier_slice

block = classifier_slice(template)
rep_trajectory, cls_trajectory = rep_buffer[0], cls_buffer[0]
P = rep_trajectory.shape[1]
backbone_fixed = torch.equal(
    cls_trajectory[:, : block.start],
    cls_trajectory[:1, : block.start].expand_as(cls_trajectory[:, : block.start])
)
print(
    f"{P} parameters: backbone [0, {block.start}), classifier [{block.start}, "
    f"{block.stop}) ({block.stop - block.start} parameters, the final Linear layer)\n"
    "classifier expert 0 starts at representation expert 0's final weights: "
    f"{torch.equal(cls_trajectory[0], rep_trajectory[-1])}\n"
    f"its backbone never moves over its {cls_buffer.epochs} epochs: {backbone_fixed}"
)

# %% [markdown]
# Now one unrolled student for each phase, from the initial +DAM+ED set of {numref}`fig-11-biased-experts`
# (its images and label logits), with `unrolled_matching` called as
# {meth}`TrajectoryMatcher.step <ltdd.distill.tm.TrajectoryMatcher.step>` calls it. The printout says
# how far the student's backbone and classifier moved and which part of the vector entered the loss.

# %%
from ltdd.config import make_generator
from ltdd.distill.tm import LTDDConfig
from ltdd.distill.unroll import unrolled_matching

start_ltdd = initial["+DAM+ED"]
images, label_logits = start_ltdd.images.detach(), start_ltdd.label_logits.detach()
alpha = torch.tensor(DISTILL["lr_teacher"], device=dataset.device)
M, M2, N = DISTILL["expert_epochs"], min(2, cls_buffer.epochs), DISTILL["syn_steps"]
generator = make_generator(SEED, "ch11-phases", device=dataset.device)


def dam(logits, labels):
    return dam_loss(logits, labels, counts)


phases = {
    "phase 1 (representation, DAM)": unrolled_matching(
        template, rep_trajectory[0].to(dataset.device),
        rep_trajectory[M].to(dataset.device), images, label_logits, alpha, N, generator,
        loss_fn=dam, update=None, match=slice(0, block.start)
    ),
    "phase 2 (classifier)": unrolled_matching(
        template, cls_trajectory[0].to(dataset.device),
        cls_trajectory[M2].to(dataset.device), images, label_logits, alpha, N,
        generator, update=block, match=block
    ),
}
starts = {
    "phase 1 (representation, DAM)": rep_trajectory[0],
    "phase 2 (classifier)": cls_trajectory[0]
}
for name, result in phases.items():
    moved = result.final_params.detach().cpu() - starts[name]
    print(
        f"{name}: loss {float(result.loss):.3f}; the student's backbone moved"
        f" {float(moved[:block.start].norm()):.3g}, its classifier"
        f" {float(moved[block].norm()):.3g}; ‖∂L/∂X‖ ="
        f" {float(result.images_grad.norm()):.3g}"
    )
# LTDD's CIFAR-10-LT β = 100, IPC 10 values
lambda_rep, lambda_cls = LTDDConfig.lambda_rep, LTDDConfig.lambda_cls
step = (
    lambda_rep * phases["phase 1 (representation, DAM)"].images_grad
    + lambda_cls * phases["phase 2 (classifier)"].images_grad
)
print(
    f"the images' gradient of one LTDD step, {lambda_rep} ∇L1 + {lambda_cls} ∇L2: norm"
    f" {float(step.norm()):.3g}"
)

# %% [markdown]
# In phase 1 both blocks move but the loss sees only the backbone; in phase 2 the backbone does not move
# at all (not even by a rounding error: `ltdd` differentiates with respect to the classifier block only,
# where LTDD's code computes the full gradient and zeroes its backbone part).
#
# ## The ablation, live
#
# LTDD's ablation (its Fig. 6a) adds its two parts one at a time. {func}`tm_ablation <ltdd.studies.tm_study.tm_ablation>` distils
# every row from the same buffers (one pair of buffers per seed) and evaluates each set with networks trained
# at the step size the set learned, as MTT does:
#
# | row | method | what it adds |
# |---|---|---|
# | MTT | `mtt` | plain trajectory matching: real initial images, hard labels (for reference) |
# | base | `datm` | DATM: initial images the experts classify correctly, soft labels from the experts |
# | +DAM | `datm` with `dam=True` | the DAM loss in the student |
# | +DAM+ED | `ltdd` | Expert Decoupling: the two phases, images and labels from the classifier experts |
#
# The scale's shared settings (`DISTILL` above) apply to every row, so the rows differ only in what the
# table says. Among them are whether DAM uses `ltdd`'s normalised weights or the code's raw frequencies
# ({ref}`ex-11-dam-scale` compares the two) and the weights $\lambda_{\mathrm{rep}}, \lambda_{\mathrm{cls}}$ of
# the two phases; the cell prints them.
# **This is a live run on the embedded digits at the profile's scale, with one seed**: with the `smoke`
# profile that is a few iterations of a few steps on experts of a few epochs, and its numbers mean little
# beyond "the code runs". The buffers trained above are reused (`workdir`).

# %%
from IPython.display import Markdown, display

from ltdd.studies.tm_study import ablation_table, tm_ablation

print(
    "shared by the rows:"
    f" dam_normalize={LIVE_SCALE.distill.get('dam_normalize', True)},"
    f" lambda_rep={LIVE_SCALE.distill.get('lambda_rep', 1.0)},"
    f" lambda_cls={LIVE_SCALE.distill.get('lambda_cls', 1.0)}"
)
started = time.perf_counter()
live = tm_ablation(
    dataset, profile, seeds=[SEED], scale=LIVE_SCALE, workdir=WORKDIR, progress=False
)
print(
    f"{len(live.rows)} rows distilled and evaluated in"
    f" {time.perf_counter() - started:.1f} s"
)
Markdown(
    f"**Live, test accuracy (%)** on {dataset.name} ({LIVE_SCALE.iterations} "
    f"iterations per set, one seed, {profile.eval_epochs} epochs x "
    f"{profile.eval_seeds} networks)\n\n"
    f"{ablation_table(live)}"
)

# %% [markdown]
# The head and tail halves are the larger and the smaller half of the classes by training images. With one
# seed the table cannot tell a real difference from noise; the recorded run below has several.
#
# ## The ablation, recorded
#
# A longer run of the same ablation was recorded with the `cpu` profile's scale on `digits-lt` at
# $\beta = 10$, with three seeds (each seed trains its own experts, distils its own sets and evaluates them),
# by
#
# ```
# python -m ltdd tm-ablation --profile cpu --dataset digits-lt --imbalance 10 --seeds 0,1,2 --out DIR
# ```
#
# and kept in `data/reference/`. The file is a study ({class}`Study <ltdd.studies.study.Study>`,
# the same as in {doc}`09_rebalancing_crltdd`): one row per ablation row and seed, with the settings it was
# run with and its provenance. This is the main result of the chapter, and it is still the digits: the
# verdicts below are computed from the file.

# %%
from ltdd.studies.recorded import recorded_study

study = recorded_study("tm_ablation_digits_lt_cpu.json")
if study is not None:
    info, recorded_scale = study.settings, study.settings.get("scale", {})
    print(
        f"  profile {info.get('profile')}: {info.get('dataset')} (β ="
        f" {info.get('imbalance')}), IPC {recorded_scale.get('ipc')},"
        f" {recorded_scale.get('experts')} experts x"
        f" {recorded_scale.get('expert_epochs')} +"
        f" {recorded_scale.get('classifier_epochs')} epochs,"
        f" {recorded_scale.get('iterations')} iterations of N ="
        f" {recorded_scale.get('distill', {}).get('syn_steps')} steps, width"
        f" {recorded_scale.get('net_width')}; evaluation {info.get('eval_epochs')}"
        f" epochs x {info.get('networks')} networks; seeds {info.get('seeds')}"
    )
    SHOT_KEYS = (
        ("overall", "accuracy"), ("head half", "groups.halves.head"),
        ("tail half", "groups.halves.tail"), ("many", "groups.shots.many"),
        ("medium", "groups.shots.medium"), ("few", "groups.shots.few")
    )
    display(
        Markdown(
            "**Recorded, test accuracy (%)**, mean ± std over seeds\n\n"
            f"{ablation_table(study, SHOT_KEYS)}"
        )
    )

# %% [markdown]
# The columns: overall accuracy on the balanced test set; the head and tail halves of the classes; OLTR's
# {term}`shot groups <Shot group>` (many: more than 100 training images, few: fewer than 20, medium: the rest), which on the
# digits hold very few classes each; and the step size $\alpha$ the sets learned (they start at
# $\alpha_0$, and the evaluation trains with the learned value).
#
# Per class, +DAM+ED against plain trajectory matching (MTT) and against DATM (base), the classes from
# head to tail (the class index order of `digits-lt` is the head-to-tail order, which the cell checks),
# with the training images of each class under its name, in {numref}`fig-11-recorded-per-class`:

# %% mystnb={"figure": {"caption": "The recorded ablation: test accuracy of every class, from head to tail, for MTT, base (DATM) and +DAM+ED; the whiskers are the standard deviation over seeds.", "name": "fig-11-recorded-per-class"}}
from ltdd.data import counts_only
from ltdd.book.viz import plot_per_class_accuracy

SHOWN = ["MTT", "base", "+DAM+ED"]
if study is not None:
    recorded_counts = counts_only(
        study.settings["dataset"], study.settings.get("imbalance")
    )
    print(
        "class index order is head to tail:"
        f" {recorded_counts == sorted(recorded_counts, reverse=True)}"
    )
    names = [f"{c}\n({n})" for c, n in enumerate(recorded_counts)]
    display(
        plot_per_class_accuracy(
            {label: study.report(label) for label in SHOWN if label in study.labels()},
            names,
            title=(
                f"recorded ({study.settings.get('profile')} scale): per-class accuracy,"
                " whiskers: std over seeds"
            ),
        )
    )

# %% [markdown]
# What the rows' soft labels ended up as: the mean probability each distilled set's labels give to the
# image's own class, per class, averaged over seeds ({numref}`fig-11-recorded-label-confidence`; the lower
# right panel of {numref}`fig-11-biased-experts`, after distillation). MTT has hard labels, a confidence of 1
# everywhere, and is left out.

# %% mystnb={"figure": {"caption": "The recorded ablation: the mean probability that each distilled set's soft labels give to the image's own class, per class from head to tail, averaged over seeds. The dotted line is a uniform label.", "name": "fig-11-recorded-label-confidence"}}
if study is not None:
    fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
    for label in ("base", "+DAM", "+DAM+ED"):
        if label in study.labels():
            ax.plot(
                range(len(names)), study.per_class(label, "label_confidence"),
                marker="o", label=label
            )
    ax.axhline(1 / len(names), color="grey", linestyle=":", label="uniform label (1/C)")
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set(
        xlabel="class (training images), head → tail",
        ylabel="mean soft-label p(own class)",
        title="recorded: soft-label confidence of the distilled sets"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    plt.close(fig)
    display(fig)

# %% [markdown]
# Now the ablation's steps, each against the row before it and the whole method against its baselines, seed by
# seed. {meth}`study.compare(label, baseline, key) <ltdd.studies.study.Study.compare>` pairs the two rows
# on the seeds both have and returns a {class}`PairedComparison <ltdd.studies.study.PairedComparison>`: its
# `differences` (one per seed), `mean_difference`, `wins` (seeds on which the row is higher) and `clear` (two
# or more seeds, every difference of one sign, and a mean difference larger than the spread over seeds of
# either row). Its {meth}`sentence() <ltdd.studies.study.PairedComparison.sentence>` puts that into words.

# %%
STEPS = [("+DAM", "base"), ("+DAM+ED", "+DAM"), ("+DAM+ED", "base"), ("+DAM+ED", "MTT")]
if study is not None:
    paired = study.compare("+DAM+ED", "base")
    print(
        f"+DAM+ED against base, overall accuracy: seeds {paired.seeds}, differences"
        f" (points) {[round(100 * d, 1) for d in paired.differences]}, mean"
        f" {100 * paired.mean_difference:+.1f}, higher on {paired.wins} of"
        f" {len(paired.seeds)} seeds, clear: {paired.clear}"
    )
    lines = [
        study.compare(label, baseline, key).sentence(name)
        for label, baseline in STEPS
        if {label, baseline} <= set(study.labels())
        for key, name in (
            ("accuracy", "overall accuracy"), ("groups.halves.tail", "tail half")
        )
    ]
    display(
        Markdown(
            "**Each step of the ablation, paired by seed**\n\n"
            + "\n".join(f"- {line}" for line in lines)
        )
    )

# %% [markdown]
# How to read these sentences. "Improved" or "got worse" is the sign of the mean difference; "not clearly"
# means that it is not the same sign on every seed, or no larger than the spread over seeds, which with three
# seeds is the most a difference of a point or two can claim. Where +DAM+ED beats base on the tail half, the
# mechanism is the one of {numref}`fig-11-biased-experts`: base's images and soft labels come from experts
# that get the tail wrong, while ED's come from classifier experts trained on balanced draws. Where +DAM alone
# moves little, remember what it changes: only the weighting of the student's loss, whose effect at a few
# hundred student steps per set may be small compared with where the initial images and labels come from.
# Where MTT is ahead of a DATM-style row, look at the tail half and the soft-label plot: MTT's hard labels and
# randomly chosen real images cannot be biased by the experts, while base's labels and images can. Which of
# these happened in the recorded run is what the sentences above say; nothing in this paragraph is a
# measurement.
#
# ## What the paper reports
#
# LTDD's own results, on CIFAR-10-LT with a ConvNet-3: the main table (its Table 1) at $\beta = 100$ for
# IPC 10, 20 and 50, and its ablation (Fig. 6a) at $\beta = 200$, IPC 50. These are **the paper's numbers**,
# quoted from {mod}`ltdd.reference`:

# %%
from ltdd.reference import ltdd_table

Markdown(
    "**LTDD paper, CIFAR-10-LT, test accuracy (%)**, β = 100 (and the full "
    "long-tailed set), then the ablation (Fig. 6a) at β = 200, IPC 50\n\n"
    + ltdd_table()
)

# %% [markdown]
# In the paper, MTT and DATM are at most a few points above a random selection of real images on
# CIFAR-10-LT and fall below it at IPC 50, LTDD is far above both, and each of its two parts adds to the
# ablation; compare its IPC 50 entry with the full long-tailed set. **The recorded digits run is not
# comparable with these numbers in scale**: 16×16 digits instead of 32×32 CIFAR images, $\beta = 10$
# instead of 100 or 200, a few hundred training images, a narrow ConvNet, a few short experts instead of
# a hundred long ones, and far fewer iterations (the recorded settings are printed above). What can be
# compared is the pattern: whether the steps of the ablation go in the same direction.
#
# ## The ablation on natural images
#
# The book also recorded the ablation on CIFAR-10-LT at $\beta = 100$, IPC 10, at the `cpu` scale (a few short
# experts, 10-step students, ZCA whitening; a mirror of CIFAR-10 re-encoded as JPEG, hence the label). The
# command, scale and machine are in `data/reference/cifar10_tm_ablation_cpu.json`; a row the recording has not
# reached yet says so.

# %%
from ltdd.studies.recorded import (
    load_experiment, tm_ablation_panel, tm_ablation_scale, tm_ablation_sentences
)

tm_recorded = load_experiment("tm-ablation")
if tm_recorded is None:
    display(
        Markdown(
            "The CIFAR-10-LT ablation is not recorded yet"
            " (`data/reference/cifar10_tm_ablation_cpu.json`)."
        )
    )
else:
    display(
        Markdown(
            tm_ablation_panel(tm_recorded)
            + f"\n\nRecorded scale ({tm_recorded.provenance['machine']}): "
            + tm_ablation_scale(tm_recorded.study("beta100")) + ".\n\n"
            + "\n".join(
                f"- {sentence}" for sentence in tm_ablation_sentences(tm_recorded)
            )
        )
    )

# %% [markdown]
# Compare the sign of each step with the paper's: in Fig. 6a every step raises the accuracy (base, then DAM,
# then Expert Decoupling). The recorded steps are those of a CPU's scale: five experts of 20 epochs, classifier
# experts fine-tuned for 4, a hundred iterations. A step that goes the other way here is an answer about that
# scale (how much the short classifier experts and their soft labels can be trusted), not a test of the paper's
# claim; the `gpu` profile runs the paper's setting with a tenth of its experts, of half their epochs.
#
# ## Published settings and a GPU run
#
# {mod}`ltdd.distill.tm_presets` holds the published settings of MTT, DATM and LTDD as presets. Those of LTDD on
# CIFAR-10-LT, CIFAR-100-LT and Tiny-ImageNet-LT (the last with ConvNetD4 at 64 pixels), from its code's config
# files:

# %%
from ltdd.distill.tm_presets import PRESETS, preset_table

display(
    Markdown(
        "**LTDD presets** (N / N₂: steps of the two phases; window: the start epochs "
        "of phase 1)\n\n"
        + preset_table("ltdd")
    )
)
flagged = [p for p in PRESETS if p.flag]
Markdown(
    "**The three corrected presets**\n\n"
    + "\n".join(
        f"- {p.method}, {p.dataset}, β = {p.imbalance:g}, IPC {p.ipc}: {p.flag}."
        for p in flagged
    )
)

# %% [markdown]
# Three of LTDD's CIFAR-10-LT config files cannot be run as they are shipped, so those presets are
# corrections, not copies, and {func}`tm_preset <ltdd.distill.tm_presets.tm_preset>` warns when it returns
# one. Two of them combine DATM's growing start window ("Sequential Generation") with a classifier-phase
# window whose first upper end is 0, so the script asks for a random integer in an empty range and stops at
# its first iteration; the presets keep the classifier phase at epoch 0, as every other config does. One of
# these two also sets the imbalance of $\beta = 100$ and loads $\beta = 100$ experts although its folder is
# $\beta = 50$; its preset uses $\beta = 50$ throughout. The third is the $\beta = 200$, IPC 50 file, which
# says IPC 20. Every LTDD preset uses DAM as the code does: raw class frequencies (`dam_normalize=False`),
# $\lambda_g = 0$, column weighting.
#
# Four more things come from the code rather than from the numbers of a config file. **The gradient**: LTDD's
# only distillation script differentiates with {term}`TESLA`'s truncation ({doc}`10_trajectory_matching`), so every LTDD
# preset has `grad_mode="tesla"`; the exact gradient of the same loss is one option away
# (`grad_mode="exact"`, below). **The soft labels** of the CIFAR-100-LT and Tiny-ImageNet-LT configs, which
# start from random real images: the code takes the logits of the first classifier expert, right or wrong,
# not the mean of the experts that are right (`label_rule="first"`, the "labels" column). **The synthetic
# batch**: `batch_syn` is the config's value where it is smaller than the set (CIFAR-100-LT at IPC 20 and 50,
# Tiny-ImageNet-LT) and every image otherwise. **The growing window** is on by default in the code, so only the
# configs that switch it on or leave it out grow their window; the two at IPC 20 grow it over 2,000
# iterations.
#
# One setting differs between the code and the paper. LTDD's Table 5 tries three pairs
# $(\lambda_{\mathrm{rep}}, \lambda_{\mathrm{cls}})$ at $\beta = 10$ and at $\beta = 200$; the configs at IPC 50
# against the table's best pair (numbers from {mod}`ltdd.reference`):

# %%
import warnings

from ltdd.distill.tm_presets import tm_preset
from ltdd.reference import LTDD_TABLE_5, ltdd_best_lambdas
from ltdd.markdown import markdown_table

lambda_rows = []
for beta in sorted(LTDD_TABLE_5):
    best = ltdd_best_lambdas(beta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the corrected β = 200, IPC 50 preset warns
        config = tm_preset("ltdd", "cifar10-lt", 50, beta).settings
    pair = (config["lambda_rep"], config["lambda_cls"])
    lambda_rows.append(
        [
            beta, f"{best[0]:g} / {best[1]:g} ({LTDD_TABLE_5[beta][best]:.1f} %)",
            f"{pair[0]:g} / {pair[1]:g}", "yes" if pair == best else "**no**"
        ]
    )
Markdown(
    markdown_table(
        ["β", "Table 5's best λ_rep / λ_cls", "config and preset (IPC 50)", "the same"],
        lambda_rows
    )
)

# %% [markdown]
# At $\beta = 200$ the configs (at every IPC) set $\lambda_{\mathrm{rep}} = 0.1$, below every value Table 5
# tried, while the table's best is 0.2. The presets keep the config, which is what the released code ran;
# the table's pair is one `--option lambda_rep=0.2` away.
#
# ### TESLA or the exact gradient
#
# {func}`compare_grad_modes <ltdd.studies.tm_study.compare_grad_modes>` distils the +DAM+ED row from the buffers of
# this chapter once per gradient mode, with the same seed (so the same experts, start epochs, minibatches and
# augmentations: the gradient is the only difference), and evaluates each set as the ablation does. The peak
# memory is that of the tensors autograd keeps for the backward passes (on any device); the time is per
# iteration. Full backpropagation (`bptt`) is there for reference: it computes the same gradient as `exact`,
# with a graph that grows with the unrolled steps.

# %%
from ltdd.studies.tm_study import compare_grad_modes

GRAD_ITERATIONS = min(LIVE_SCALE.iterations, 20)  # a short run per mode
started = time.perf_counter()
grad_modes = compare_grad_modes(
    dataset, ABLATION_ROWS["+DAM+ED"], LIVE_SCALE, buffers, profile, seed=SEED,
    modes=("tesla", "exact", "bptt"), model=profile.model, iterations=GRAD_ITERATIONS,
    networks=1
)
print(
    f"three sets of {GRAD_ITERATIONS} iterations (N = {DISTILL['syn_steps']} steps)"
    " distilled and evaluated (one network each) in"
    f" {time.perf_counter() - started:.1f} s"
)
Markdown(
    markdown_table(
        [
            "gradient", "accuracy (%)", "tail half (%)", "peak autograd memory (MB)",
            "s per iteration", "learned α"
        ],
        [
            [
                mode, f"{100 * r['accuracy']:.1f}", f"{100 * r['tail']:.1f}",
                f"{r['peak_saved_mb']:.2f}", f"{r['seconds_per_iteration']:.3f}",
                f"{r['learned_lr']:.5g}"
            ]
            for mode, r in grad_modes.items()
        ],
    )
)

# %% [markdown]
# What to look for. `exact` and `bptt` learn the same set up to rounding, so their accuracies agree; `bptt`
# pays for it with memory that grows with $N$, while `tesla` and `exact` keep one step's graph at a time. The
# exact gradient takes one more vector-Jacobian product per step than TESLA's (the one that carries the
# adjoint back through the step's Hessian); at the `smoke` scale the time column is mostly overhead (and the
# first row also pays for warming up), so read it at the `cpu` scale or on a GPU. Whether TESLA's truncation
# costs accuracy is the open question: at this scale the difference between the first two rows is within the
# noise of one seed and a short run, and the published numbers were made with TESLA.
#
# A GPU run of LTDD at CIFAR-10-LT $\beta = 100$, IPC 10, in three commands: the representation experts,
# the classifier experts from them, and the distillation (`--preset` takes each stage's published expert
# settings, `--zca 0.1` is the {term}`ZCA <ZCA whitening>` whitening the published runs use; the papers train 100 experts of each
# kind):
#
# ```
# python -m ltdd experts --dataset cifar10-lt --imbalance 100 --zca 0.1 --preset ltdd:10 --experts 100 --out buffers/rep
# python -m ltdd experts --dataset cifar10-lt --imbalance 100 --zca 0.1 --preset ltdd:10 --experts 100 \
#     --stage classifier --representation buffers/rep --out buffers/cls
# python -m ltdd distill ltdd --dataset cifar10-lt --imbalance 100 --zca 0.1 --ipc 10 --preset \
#     --option buffer=buffers/rep --option classifier_buffer=buffers/cls --out runs/ltdd10
# ```
#
# The distillation runs TESLA's gradient, as LTDD's code does; `--option grad_mode=exact` gives the exact one.
#
# The ablation itself runs on a GPU with `python -m ltdd tm-ablation --profile gpu --dataset cifar10-lt
# --zca 0.1 --seeds 0,1,2 --out DIR` (resumable with `--resume`): the $\beta = 100$, IPC 10 setting with ten
# experts of each kind. `--profile paper --imbalance 200` runs the paper's own ablation setting (Fig. 6a:
# $\beta = 200$, IPC 50, a hundred experts of each kind, the config's 10,000 iterations).
#
# ## What this chapter ran
#
# Every number above the recorded section is a live run at the active profile's scale, printed in the
# settings cell: a few experts on the embedded long-tailed digits, one seed, and, with the `smoke` profile
# that the book's tests use, a few iterations per set; those numbers only show that the code runs and which
# way the diagnostics point, as does the comparison of the gradient modes. The DAM checks are exact. The recorded ablation is longer and has several
# seeds, but it is the digits at $\beta = 10$. The paper's table is the paper's.
#
# ## Exercises
#
# ````{exercise}
# :label: ex-11-dam-cifar
#
# Compute the DAM weights of CIFAR-10-LT at $\beta = 100$, whose class counts are
# {func}`longtail_counts(5000, 10, 100) <ltdd.data.longtail.longtail_counts>` from {mod}`ltdd.data.longtail` (5000, 2997, …, 50, 12,406 images in all):
# the code's raw frequencies and `ltdd`'s normalised weights, for the largest and the smallest class. Then,
# for a balanced synthetic batch with hard labels on which every class has the same cross-entropy, by what
# factor is the code's DAM loss smaller than the plain cross-entropy? And how many times the head class's
# weight is the tail class's? Work it out by hand, then compare with
#
# ```python
# from ltdd.data.longtail import longtail_counts
# cifar = longtail_counts(5000, 10, 100)
# print(dam_weights(cifar, normalize=False), dam_weights(cifar))
# ```
#
# and check your four numbers (head weight, tail weight, the factor, the head/tail ratio), each to three significant
# figures, with `from ltdd.book.exercises import check` and `check("ex-11-dam-cifar", (head, tail, factor, ratio))`.
# ````
#
# ```{solution} ex-11-dam-cifar
# :class: dropdown
#
# The raw frequencies are $s_c / 12{,}406$: $5000/12406 \approx 0.403$ for the head class and $50/12406
# \approx 0.0040$ for the tail; they sum to 1. Normalised to mean 1 they are $10$ times larger: about
# $4.03$ and $0.040$. Either way the head class weighs $5000/50 = 100 = \beta$ times the tail class: with
# $\lambda_g = 0$ the weights are proportional to the counts, so their ratio is the {term}`imbalance factor`.
# On a balanced batch with hard labels and the same cross-entropy $\ell$ for every class, the code's loss
# is $\frac{1}{C} \sum_c g(s_c)\, \ell = \ell / C$, ten times smaller than the plain cross-entropy (the
# normalised loss is exactly $\ell$). So the representation phase's student, at the same $\alpha$, takes
# steps ten times shorter than with the plain loss, and the balance between the classes within a step
# follows the long tail: its gradient is dominated by the head, as the expert's was.
# ```
#
# ````{exercise}
# :label: ex-11-dam-scale
#
# Run the +DAM row with the code's scale next to `ltdd`'s default, from the buffers of this chapter:
#
# ```python
# rows = {"+DAM": ABLATION_ROWS["+DAM"],
#         "+DAM raw (code)": {"method": "datm", "settings": {"dam": True, "dam_normalize": False}}}
# raw_study = tm_ablation(dataset, profile, seeds=[SEED], rows=rows, scale=LIVE_SCALE, workdir=WORKDIR,
#                         progress=False)
# print(ablation_table(raw_study))
# print({row["label"]: row["losses"][:3] for row in raw_study.rows})
# ```
#
# (With the `gpu` profile the scale already uses the raw weights; make the first row
# `{"method": "datm", "settings": {"dam": True, "dam_normalize": True}}` there.) Before running: in which
# direction should the learned step size $\alpha$ move with the raw weights, and
# why does that matter for LTDD more than for the +DAM row? What will you actually see with the `smoke`
# profile?
# ````
#
# ```{solution} ex-11-dam-scale
# :class: dropdown
#
# With the raw frequencies the student's loss, and so each of its steps $\alpha \nabla \ell$, is about $C$
# times smaller at the same $\alpha$, so after $N$ steps it has covered much less of the distance to the
# expert: the matching loss starts higher (closer to 1, "no better than not moving"), and its gradient with
# respect to $\alpha$ asks for a *larger* step size to compensate. Given enough iterations, $\alpha$ grows
# towards about $C$ times what it would be with the normalised loss. That matters because $\alpha$ is
# shared: in LTDD it is also the step size of the classifier phase, whose loss is the plain soft
# cross-entropy, so the two phases pull $\alpha$ towards different values (LTDD's code lives with this
# compromise); and it is the learning rate of the evaluation, so a set distilled with the raw weights is
# evaluated at a different learning rate. With the `smoke` (and `cpu`) scale the step size is learned
# with `lr_lr = 1e-5` for a few (or a hundred) iterations, so $\alpha$ barely moves from $\alpha_0$ in
# either row; what you can see is the higher matching loss of the raw row. The difference in accuracy at
# this scale is within the noise of one seed.
# ```
#
# ````{exercise}
# :label: ex-11-lambdas
#
# Switch off one phase of Expert Decoupling at a time, keeping everything else of the +DAM+ED row:
#
# ```python
# rows = {"+DAM+ED": ABLATION_ROWS["+DAM+ED"],
#         "λ_cls = 0": {"method": "ltdd", "settings": {"lambda_cls": 0.0}},
#         "λ_rep = 0": {"method": "ltdd", "settings": {"lambda_rep": 0.0}}}
# lam = tm_ablation(dataset, profile, seeds=[SEED], rows=rows, scale=LIVE_SCALE, workdir=WORKDIR, progress=False)
# display(plot_per_class_accuracy({label: lam.report(label) for label in rows}, TICKS))
# ```
#
# (The class index order of `digits-lt` is the head-to-tail order.) Before running: which classes should
# suffer in each case, and what does the initial set still contribute when a phase is off?
# ````
#
# ```{solution} ex-11-lambdas
# :class: dropdown
#
# With $\lambda_{\mathrm{cls}} = 0$ only phase 1 shapes the images: DAM-weighted steps, matched on the
# backbone. Nothing asks the images to move a classifier the way the balanced classifier experts do, so
# the evaluation network's classifier is shaped by the images and soft labels alone; the initial set and
# its labels still come from the classifier experts, so the tail does not lose what the label repair
# gave it, but the step that targets the tail is gone. Expect the tail classes to lose most (if anything
# is visible at this scale). With $\lambda_{\mathrm{rep}} = 0$ only phase 2 is left: the images are
# optimised to move a *linear layer on a fixed, already trained backbone*, but the evaluation trains a
# fresh network, backbone included, from scratch. Nothing asks the images to teach features, so expect all
# classes to suffer, the head included, unless the initial real images already carry enough. With the
# `smoke` profile's few iterations the images have barely moved from their initial values, so the three
# rows will be close; the question is better answered at the `cpu` scale with several seeds
# (`seeds=[0, 1, 2]`).
# ```
#
# ````{exercise}
# :label: ex-11-short-class
#
# At $\beta = 200$, IPC 50, the two smallest classes of CIFAR-10-LT have 45 and 25 images, fewer than
# IPC. The same happens on the digits with an IPC above the smallest class. Distil +DAM+ED at such an IPC
# with the two policies for a class that is too small, `short_class="duplicate"` (LTDD's code) and
# `"noise"`:
#
# ```python
# big = dataclasses.replace(LIVE_SCALE, ipc=min(counts) + 3)
# rows = {policy: {"method": "ltdd", "settings": {"short_class": policy}} for policy in ("duplicate", "noise")}
# short = tm_ablation(dataset, profile, seeds=[SEED], rows=rows, scale=big, workdir=WORKDIR, progress=False)
# print(ablation_table(short))
# display(plot_per_class_accuracy({label: short.report(label) for label in rows}, TICKS))
# ```
#
# What does each policy put into the smallest class, and which should do better on it after few
# iterations? Why would `short_class="inherent"` fail here? (The same buffers are reused: the experts do
# not depend on IPC.)
# ````
#
# ```{solution} ex-11-short-class
# :class: dropdown
#
# Both policies first take the images the classifier experts classify correctly. When a class has fewer
# than IPC of them, *duplicate* repeats them cyclically, so the class holds only real images, some twice
# (a copy adds no information at first, but the copies receive different {term}`DSA` augmentations in every
# student step and may drift apart as they are distilled); *noise* pads the class with Gaussian noise
# images, which the distillation must turn into something useful from nothing. After a few iterations the
# noise images are still close to noise, with soft labels that the experts chose for noise, so
# duplication should do at least as well on the smallest classes; with many iterations the gap can close,
# since noise can become a useful image. (LTDD's Fig. 7b compares such initialisations.) *inherent* takes
# the class's other real images, those the experts got wrong, and needs the class to hold IPC real images
# in all; here the smallest class has fewer than IPC images altogether, so {func}`fill_class <ltdd.distill.tm.fill_class>` refuses with a
# message that names the two policies that work.
# ```
