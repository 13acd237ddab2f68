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
# # All methods under one protocol
#
# Every chapter so far measured its methods its own way: chapter {doc}`05_distribution_matching` trained
# the evaluation networks with batch 256, {doc}`09_rebalancing_crltdd` with batch 128, and {term}`trajectory`
# matching ({doc}`10_trajectory_matching`, {doc}`11_long_tailed_tm`) at the step size each set learned.
# The papers do the same, on different datasets, {term}`imbalance factors <Imbalance factor>` and budgets, so their tables cannot be
# set side by side. This chapter puts every method of the book on **one {term}`long-tailed <Long-tailed data>` training set** and
# evaluates every set with **one recipe**: {term}`coresets <coreset>` (random, {term}`herding` {cite}`herding`, {term}`k-center`
# {cite}`kcenter`), gradient matching ({term}`DC` {cite}`dc`, {term}`DSA` {cite}`dsa`), distribution matching
# ({term}`DM` {cite}`dm`, {term}`IDM` {cite}`idm`, {term}`DSDM` {cite}`dsdm`), trajectory matching ({term}`MTT` {cite}`mtt`, {term}`DATM`
# {cite}`datm`, {term}`LTDD`'s {term}`DAM` + {term}`Expert Decoupling <ED>` {cite}`ltdd`) and {term}`CRLT-DD`'s rebalanced training sets
# {cite}`crltdd`, with the whole long-tailed set for reference. Every number is a mean ± standard
# deviation over several seeds, overall and per {term}`shot group`.
#
# ```{admonition} In this chapter
# :class: tip
# **What you will learn.** How to compare distillation methods fairly on long-tailed data: one training
# set, one evaluation recipe, several seeds, the accuracy of the many-, medium- and few-shot classes;
# why the rows still differ in what they store; and how to rerun the whole comparison with your own
# settings from one call, {func}`ltdd.studies.comparison.compare_methods`.
#
# **Before you start.** The methods themselves are introduced in chapters {doc}`05_distribution_matching`
# to {doc}`11_long_tailed_tm`; the shot groups in {doc}`02_long_tailed_data`.
#
# **How long.** About 20 minutes to read. Running it on 2 CPU cores: under a minute with the `smoke` profile (CI checks this), and 1.3 minutes with `cpu` (measured in one clean-clone `cpu` build, 2 cores), which runs four of the rows live and shows the whole comparison from its recorded run (84 minutes with three processes side by side; rerun it with the command line, see *Rerunning it*); on a Colab T4 GPU: not measured yet.
# ```

# %% tags=["remove-cell"]
# Set-up: on Colab, install ltdd (a no-op elsewhere); start the chapter's time budget.
import subprocess, sys

if "google.colab" in sys.modules:
    PACKAGE = "ltdd @ git+https://github.com/ltdd-book/ltdd"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", PACKAGE], check=True)

from ltdd.budget import chapter_budget

# `cpu`: 10 minutes; past them the next cell stops, saying so
budget = chapter_budget("12")

# on Colab, True keeps runs/ (the resumable comparison) and the datasets on Google Drive
KEEP_RUNS_ON_DRIVE = False
if "google.colab" in sys.modules and KEEP_RUNS_ON_DRIVE:
    from ltdd.book.colab import keep_on_drive

    print(keep_on_drive())

# %% [markdown]
# ## Settings
#
# The training set is the embedded long-tailed digits at imbalance factor $\beta = 10$ on every profile:
# ten classes from 122 down to 12 training images, a balanced test set. A comparison of fifteen rows
# over several seeds is the most expensive experiment of the book, so the `cpu` profile shortens the
# distillation and the evaluation (the settings cell prints what runs), and on a GPU the distillation is
# capped at 1,000 iterations per set. Gradient matching, IDM's model queue and DSDM's pre-trained networks
# are scaled down as in their chapters ({data}`ltdd.studies.comparison.SCALED_SETTINGS`); trajectory matching runs
# at its chapter's scale ({func}`ltdd.studies.tm_study.scale_for`). The whole comparison takes hours on a CPU, so the
# `cpu` profile runs only four rows live (a coreset, DM, CRLT-DD's {term}`distill head <CRLT-DD plans>`, the whole set) and leaves
# the rest to the recorded run below. On a GPU the comparison saves every finished row to
# `runs/compare-<profile>.json`: run the cell again after an interruption and it continues where it stopped
# (with other settings it refuses the file and says why).

# %%
from pathlib import Path

from IPython.display import Markdown, display

from ltdd import get_profile
from ltdd.studies.comparison import (
    COMPARISON_ROWS, compare_methods, comparison_table, group_summary, row_families,
    scaled_settings
)
from ltdd.data import load_dataset
from ltdd.studies.tm_study import scale_for
from ltdd.book.viz import plot_method_comparison

profile = get_profile()
# the one long-tailed training set of every row, on every profile
DATASET, IMBALANCE = "digits-lt", 10
# each builds every set anew
SEEDS = profile.pick(smoke=(0, 1), cpu=(0, 1), default=(0, 1, 2))
# evaluation networks per set and seed
NETWORKS = profile.pick(smoke=1, cpu=1, default=2)
# pre-training of the + SimCLR row
SIMCLR_EPOCHS = profile.pick(smoke=2, default=profile.full_epochs)
# every row, except under `cpu`, whose 10-minute budget affords four (the rest is
# recorded)
CPU_ROWS = ("random", "DM", "CRLT-DD distill head", "whole long-tailed set")
LIVE_ROWS = profile.pick(cpu={label: COMPARISON_ROWS[label] for label in CPU_ROWS},
                         default=COMPARISON_ROWS)
RUN = profile.pick(cpu=profile.replace(iterations=100, eval_epochs=50),
                   # CI: 15 rows twice in well under a minute
                   smoke=profile.replace(iterations=5),
                   default=profile.replace(iterations=min(profile.iterations, 1000)))
PROTOCOL = "ours"  # one recipe for every set; "papers": each family's own evaluation
# Saved after every row; running the cell again continues an interrupted run (smoke,
# cpu: minutes, not saved).
OUT = profile.pick(
    smoke=None, cpu=None, default=Path("runs") / f"compare-{profile.name}.json"
)

dataset = load_dataset(DATASET, imbalance=IMBALANCE)
counts = dataset.train.class_counts(dataset.num_classes)
SCALED_DOWN = {  # the methods whose settings RUN scales down
    m: scaled_settings(m, RUN) for m in ("dc", "idm", "dsdm") if scaled_settings(m, RUN)
}
print(
    f"profile {profile.name!r}: {dataset.name} beta={IMBALANCE}, class counts "
    f"{counts}, test set {len(dataset.test)} images\n"
    f"IPC {RUN.ipc}; {RUN.iterations} iterations per matching method; trajectory "
    f"matching: {scale_for(RUN).iterations} iterations from {scale_for(RUN).experts} "
    "experts per seed\n"
    f"evaluation ({PROTOCOL!r}): {RUN.eval_epochs} epochs x {NETWORKS} network(s), "
    f"seeds {list(SEEDS)}; SimCLR: {SIMCLR_EPOCHS} epochs; live rows: {len(LIVE_ROWS)} "
    f"of {len(COMPARISON_ROWS)}\n"
    f"scaled down: {SCALED_DOWN}"
)

# %% [markdown]
# ## One protocol, per shot group
#
# Every row builds a training set $\mathcal{S}$ from the long-tailed set $\mathcal{T}$ with the row's
# method and a seed. Then, for each seed, `NETWORKS` fresh ConvNets are trained on $\mathcal{S}$ with the
# same recipe for every row (SGD with step 0.01, momentum 0.9, weight decay 5 × 10⁻⁴, batch 128, DSA
# augmentation, the step divided by ten at half of the epochs), and tested on the *balanced* test set.
# The accuracy after the last epoch is reported, never the best one seen during training. {term}`Soft labels <Soft label>`
# (DATM, LTDD) and the partitioned images of IDM and DSDM are used as their sets define them; nothing else
# differs between rows.
#
# The per-class test accuracies $a_c$ are averaged within each shot group $g$ (OLTR's groups: classes with
# more than 100 training images are *many*-shot, fewer than 20 *few*-shot, the rest *medium*):
#
# $$
# \operatorname{acc}(g) = \frac{1}{|g|} \sum_{c \in g} a_c ,
# $$ (eq-shot-group-accuracy)
#
# and each entry of the table is the mean ± standard deviation of {eq}`eq-shot-group-accuracy` (or of the
# overall accuracy) over the seeds. Because the test set is balanced, a method that sacrifices the tail
# for the head shows it in the *few* column even when its overall accuracy looks fine.
#
# The rows do not all store the same number of images. Coresets, distilled and trajectory-matching sets
# have IPC images per class. CRLT-DD does not compress the data to a budget: it *rebalances* it, condensing
# the large classes and keeping (some of) the real tail, so its sets are larger, up to several times; the table
# prints the number of images each set stores next to its accuracy.

# %%
study = compare_methods(
    dataset,
    RUN,
    SEEDS,
    rows=LIVE_ROWS,
    protocol=PROTOCOL,
    networks=NETWORKS,
    simclr_epochs=SIMCLR_EPOCHS,
    out=OUT,
    resume=True,
    progress=False,
    after_row=budget.watch(
        "the live comparison", "run fewer rows or seeds (LIVE_ROWS, SEEDS)"
    ),
)
display(
    Markdown(
        f"**Live, test accuracy (%)** on {dataset.name} β = {IMBALANCE}, mean ± std "
        f"over {len(SEEDS)} seeds ({PROTOCOL!r} protocol, `{profile.name}` profile: "
        "embedded digits, not the papers' scale)\n\n"
        f"{comparison_table(study)}"
    )
)

# %% mystnb={"figure": {"caption": "The live comparison: test accuracy of every row, overall and per shot group, mean over seeds with the standard deviation as whiskers, coloured by how the set was built.", "name": "fig-12-live-comparison"}}
plot_method_comparison(group_summary(study), families=row_families(study))

# %% [markdown]
# {numref}`fig-12-live-comparison` shows the same numbers as the table, one panel per column. Read the
# *few* panel first: it is where long-tailed data hurts, and where the methods of this book differ most.
# The next cell names the best rows of each column of the live run.

# %%
def leaders(summary, column, top=3):
    ranked = sorted(
        (row[column][0], label) for label, row in summary.items() if column in row
    )[::-1][:top]
    return ", ".join(f"{label} ({100 * mean:.1f})" for mean, label in ranked)


live = group_summary(study)
for column in ("overall", "many", "medium", "few"):
    print(f"{column:>8}: {leaders(live, column)}")

# %% [markdown]
# With the `smoke` profile each set is distilled for a handful of iterations and evaluated for a dozen
# epochs, and two seeds cannot separate rows a few points apart: the live table shows that the call works,
# not which method is better. The recorded run below is longer and is the one to read.
#
# ## The comparison, recorded
#
# The whole comparison was recorded at the `cpu` scale with the command line: every row, three seeds (each
# in its own process, combined), a longer evaluation than the live run's, as the next cell prints. The file keeps the command, the commit, the date and the machine it ran on.

# %%
from ltdd.reference import REFERENCE_DIR
from ltdd.studies import Study

RECORDED = REFERENCE_DIR / "comparison_digits_lt_cpu.json"
recorded = Study.load(RECORDED)
info = recorded.settings
print(
    f"{info['dataset']} beta={info['imbalance']}, protocol {info['protocol']!r}, "
    f"profile {info['profile']!r}: IPC {info['ipc']}, {info['iterations']} iterations, "
    f"{info['eval_epochs']} evaluation epochs x {info['networks']} networks, seeds "
    f"{info['seeds']}\n"
    f"recorded {info.get('date')} at commit {info.get('commit')} on "
    f"{info.get('machine')} ({info.get('threads')} thread(s) per process): "
    f"{info.get('command')}"
)
display(
    Markdown(
        "**Recorded, test accuracy (%)**, mean ± std over seeds\n\n"
        f"{comparison_table(recorded)}"
    )
)

# %% mystnb={"figure": {"caption": "The recorded comparison (every row at the cpu scale, three seeds): test accuracy overall and per shot group, mean with the standard deviation over seeds as whiskers.", "name": "fig-12-recorded-comparison"}}
plot_method_comparison(group_summary(recorded), families=row_families(recorded))

# %%
summary = group_summary(recorded)
for column in ("overall", "many", "medium", "few"):
    print(f"{column:>8}: {leaders(summary, column)}")
for label, baseline in (
    ("DM", "random"), ("LTDD (DAM+ED)", "DATM"),
    ("CRLT-DD distill head", "whole long-tailed set")
):
    for key, name in (
        ("accuracy", "overall accuracy"), ("groups.shots.few", "few-shot accuracy")
    ):
        display(Markdown(recorded.compare(label, baseline, key).sentence(name)))

# %% [markdown]
# {numref}`fig-12-recorded-comparison` and the paired comparisons above are the chapter's result, on the
# digits: the sentences say, seed by seed, whether a difference is larger than the spread between seeds.
# Three things to look for. First, how far the coresets and the matching methods are from each other once
# the budget and the evaluation are the same; second, whether the long-tail fixes (LTDD against DATM,
# CRLT-DD against the whole set) help the *few*-shot classes, which is what they were designed for; third,
# how much CRLT-DD's rows owe to their size: they train on more images than any other row, distill head on
# about three times as many.
#
# ## Next to the papers
#
# The papers' numbers come from other datasets and settings, so they belong next to ours, not in the same
# table. LTDD's table {cite}`ltdd` is the closest: CIFAR-10-LT at $\beta = 100$, the same {term}`IPC` for every
# method, each evaluated with its own protocol.

# %%
from ltdd.reference import crlt_dd_table, ltdd_table, paper_table

display(Markdown("**LTDD paper**, CIFAR-10-LT, test accuracy (%)\n\n" + ltdd_table()))
display(
    Markdown(
        "**CRLT-DD paper**, Table III, test accuracy (%) by imbalance factor\n\n"
        + crlt_dd_table()
    )
)
display(
    Markdown(
        "**The methods' own papers**, balanced CIFAR-10, test accuracy (%)\n\n"
        + paper_table(
            [
                "random", "herding", "kcenter", "dc", "dsa", "dm", "idm", "dsdm", "mtt",
                "datm"
            ]
        )
    )
)

# %% [markdown]
# On balanced CIFAR-10 the order is roughly the order of publication: each method beats its predecessors.
# LTDD's table shows that this order breaks on a long tail: MTT and DATM, strong on balanced data, fall to
# the level of random real images at $\beta = 100$, or below it, and DAM with Expert Decoupling recovers most of the
# gap to training on the whole long-tailed set. CRLT-DD's table answers another question (how to
# rebalance the whole training set, not how to compress it), which is why it is reported by imbalance
# factor and not by IPC.
#
# ## On CIFAR-10-LT (JPEG mirror)
#
# The book records the same comparison on CIFAR-10-LT at $\beta = 100$, the setting of LTDD's table, with
# the command line (`python -m ltdd compare --dataset cifar10-lt --imbalance 100`; command, commit and scale
# in `data/reference/cifar10_comparison_cpu.json`), on a JPEG mirror of CIFAR-10 and at a CPU's scale. Each
# row carries the paper's number beside ours, with the table it comes from. CRLT-DD's plans and the whole
# long-tailed set (marked †) come from chapter 09's record and keep its evaluation: their sets are larger than
# IPC 10, and training on all 12,406 images for this table's 3 × 300 epochs would outlast every other row
# together on a CPU; their paper column is CRLT-DD's. A row still running says "not recorded yet", and the
# sentences under the table are computed from the file.

# %%
from ltdd.studies.recorded import (
    comparison_panel, comparison_sentences, load_experiment, study_scale
)

cifar_comparison = load_experiment("comparison")
cifar_rebalancing = load_experiment("crlt-dd")
if cifar_comparison is None:
    display(
        Markdown(
            "The CIFAR-10-LT comparison is not recorded yet "
            "(`data/reference/cifar10_comparison_cpu.json`)."
        )
    )
else:
    display(
        Markdown(
            comparison_panel(cifar_comparison, rebalancing=cifar_rebalancing)
            + f"\n\nRecorded scale ({cifar_comparison.provenance['machine']}): "
            + study_scale(cifar_comparison.study("beta100"))
            + f". Notes: {cifar_comparison.provenance['notes']}.\n\n"
            + "\n".join(f"- {line}" for line in comparison_sentences(cifar_comparison))
        )
    )

# %% mystnb={"figure": {"caption": "The recorded CIFAR-10-LT (JPEG mirror) comparison at \u03b2 = 100, IPC 10, one protocol: test accuracy overall and on the many- and medium-shot classes (no class has fewer than 20 images), in the order of the rows above. One seed, so there are no whiskers; CRLT-DD's plans are in the table only (another evaluation).", "name": "fig-12-cifar10-comparison"}}
if cifar_comparison is not None and cifar_comparison.study("beta100").rows:
    cifar_study = cifar_comparison.study("beta100")
    cifar_summary = group_summary(cifar_study)
    in_row_order = {
        label: cifar_summary[label]
        for label in COMPARISON_ROWS
        if label in cifar_summary
    }
    families = row_families(cifar_study)
    display(plot_method_comparison(in_row_order, families=families))

# %% [markdown]
# ## Rerunning it
#
# Everything above is one call. To compare other rows, another protocol, another IPC or a longer run,
# change its arguments; for example the trajectory-matching rows evaluated as their papers do:
#
# ```python
# rows = {label: COMPARISON_ROWS[label] for label in ("MTT", "DATM", "LTDD (DAM+ED)")}
# papers = compare_methods(dataset, RUN, SEEDS, rows=rows, protocol="papers", networks=NETWORKS)
# display(Markdown(comparison_table(papers)))
# ```
#
# The same from a terminal, saved after every row and resumable (`--resume`), is
# `python -m ltdd compare --dataset digits-lt --imbalance 10 --seeds 0,1,2 --out runs/compare`; the
# recorded file was made with it.
#
# ## Summary
#
# - A fair comparison fixes the training set, the budget, the evaluation recipe and the seeds, and reports
#   the shot groups: the overall accuracy on a balanced test set hides what happens to the tail.
# - {func}`ltdd.studies.comparison.compare_methods` runs every method of the book that way; its `protocol`
#   argument switches to each family's own evaluation.
# - The live run here is a few seconds of embedded digits; the recorded digits run is longer; the CIFAR-10-LT
#   panel is the papers' setting at a CPU's scale.
#
# ## Exercises
#
# ````{exercise}
# :label: ex-12-budgets
#
# How many images do CRLT-DD's *distill all* and *distill head* store on digits-LT at $\beta = 10$, and
# what percentage of the long-tailed set is each (whole numbers of images, percentages to one decimal)? Work it out from the class counts printed in the
# settings cell and the rules of {doc}`09_rebalancing_crltdd`, then check with
# {func}`ltdd.studies.rebalance.plan_budget` and
#
# ```python
# from ltdd.book.exercises import check
# check("ex-12-budgets", (images_all, images_head, percent_all, percent_head))
# ```
# ````
#
# ```{solution} ex-12-budgets
# :class: dropdown
#
# *Distill all* condenses every class to the smallest class's size, $n_{\min} = 12$: $10 \times 12 = 120$
# images, about 24 % of the 494 long-tailed images. *Distill head* condenses the five largest classes to
# the median class size, $\lfloor (43 + 33) / 2 \rfloor = 38$, and keeps the tail's 33 + 26 + 20 + 15 + 12
# real images: $5 \times 38 + 106 = 296$ images, about 60 %. A coreset at IPC 10 stores 100 images, 20 %.
# ```
#
# ````{exercise}
# :label: ex-12-few-gain
#
# From the recorded study, compute the mean gain in few-shot accuracy (in percentage points) of *CRLT-DD
# distill head* over the whole long-tailed set, pairing the two rows seed by seed. Use
# `recorded.values(label, "groups.shots.few")` (one value per seed, in the order of `recorded.rows`) or
# `recorded.compare`. Give it to one decimal and check with `from ltdd.book.exercises import check` and
# `check("ex-12-few-gain", gain)`. Then: where does the gain come from,
# given that the tail classes of *distill head* are the same real images as in the whole set?
# ````
#
# ```{solution} ex-12-few-gain
# :class: dropdown
#
# `recorded.compare("CRLT-DD distill head", "whole long-tailed set", "groups.shots.few").mean_difference`,
# times 100. The few-shot classes (15 and 12 images) are identical in both sets; what changes is that the
# head classes shrink from up to 122 images to 38 distilled ones, so every batch holds a larger share of
# tail images and the network's classifier is no longer pulled towards the head. The gain is rebalancing,
# not better tail images.
# ```
#
# ````{exercise}
# :label: ex-12-protocol
#
# Run the code of *Rerunning it* above, which evaluates the trajectory-matching rows with the `papers`
# protocol: the step size each set learned and the {term}`experts <Expert>`' (narrower) network. Before running: which
# of the two changes should matter more at this scale, and why?
# ````
#
# ```{solution} ex-12-protocol
# :class: dropdown
#
# At the `smoke` and `cpu` scale the step size is learned with `lr_lr = 1e-5` for a few (or a hundred)
# iterations, so it stays close to where it started, the experts' step 0.05. The `papers` protocol
# therefore trains the evaluation networks with a step five times larger than the `ours` protocol's 0.01,
# and on a narrower ConvNet (the experts' width). With a dozen (or a hundred) epochs on 50–100 images, expect
# the larger step to matter more, since the networks get further in the same number of epochs; see whether
# your run agrees. Which protocol
# gives the higher number is not the point; the point is that a table mixing protocols compares recipes as
# much as methods.
# ```
