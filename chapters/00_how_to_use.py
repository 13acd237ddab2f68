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
# # How to use this book
#
# This book teaches {term}`dataset distillation` on {term}`long-tailed <Long-tailed data>` and biased data through notebooks you can run.
# Every chapter is a Jupyter notebook that imports the Python package `ltdd`, which holds the tested
# implementations (datasets, networks, the {term}`evaluation protocol`, the distillation methods, the figures).
# The notebooks explain, set a few numbers, call `ltdd` and plot. This page shows how to run them: on
# Colab, on your own machine, or from the command line.
#
# ```{admonition} In this chapter
# :class: tip
# **What you will learn.** What a *profile* is and how a chapter picks one
# ({func}`get_profile <ltdd.config.get_profile>`); how to run a chapter on Colab, on your own machine and
# with `python -m ltdd` on the command line; where `ltdd` looks for datasets; how the exercises work.
#
# **Before you start.** Nothing: this is the first page.
#
# **How long.** About 7 minutes to read. Running it on 2 CPU cores: under a minute with the `smoke` profile (CI checks this), and under a minute with `cpu` (measured in one clean-clone `cpu` build, 2 cores); on a Colab T4 GPU: not measured yet.
# ```

# %% tags=["remove-cell"]
# Set-up: on Colab, install ltdd (a no-op elsewhere); start the chapter's time budget.
import subprocess, sys

if "google.colab" in sys.modules:
    PACKAGE = "ltdd @ git+https://github.com/ltdd-book/ltdd"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", PACKAGE], check=True)

from ltdd.budget import chapter_budget

# `cpu`: 10 minutes; past them the next cell stops, saying so
budget = chapter_budget("00")

# %% [markdown]
# ## One notebook, four profiles
#
# A notebook that trains networks for an hour on a GPU cannot run on a laptop, let alone in the few
# seconds a continuous-integration check allows. So every setting that depends on the machine (which
# dataset, how many epochs, how many networks to average) lives in a **profile**, and each chapter reads
# its settings from the active profile in a single cell near the top. The profile is chosen like this:
#
# 1. the environment variable `LTDD_PROFILE`, if it is set (`smoke`, `cpu`, `gpu` or `paper`);
# 2. otherwise `gpu` when PyTorch sees a CUDA device, and `cpu` when it does not.
#
# This is this page's settings cell:

# %%
from ltdd import get_profile

profile = get_profile()
print(f"active profile: {profile.name} ({profile.description})")

# %% [markdown]
# Here is what changes between the profiles (the table is built from `ltdd.config.PROFILES` by
# {func}`ltdd.book.viz.tables.profile_table`, so it is always current):

# %%
from IPython.display import Markdown

from ltdd.book.viz import profile_table

Markdown(profile_table(highlight=profile.name))

# %% [markdown]
# - `smoke` is for automatic checks: embedded data, tiny settings, every chapter in well under a minute on
#   two CPU cores.
# - `cpu` is for a laptop without GPU: the same embedded data, minutes per chapter, long enough for each
#   chapter's point to show. **The rendered book is built with it**, so the numbers on these pages come
#   from a live run on small digit images, not from the papers' experiments.
# - `gpu` is for Colab or any CUDA machine: CIFAR-10/100 and MNIST (downloaded on first use), tens of
#   minutes per chapter.
# - `paper` uses the papers' hyperparameters, for reproduction runs on a large GPU (mostly through the
#   command line below).
#
# The fields mean: `dataset` and `model` are the chapters' defaults, `net_width` the number of channels
# of the ConvNet, `ipc` the default number of images per class, `eval_epochs` and `eval_seeds` the
# length of the evaluation protocol and how many freshly trained networks it averages, `full_epochs` the
# training length of the full-data baseline, `iterations` and `batch_real` the length and real batch
# size of distillation, and `allow_download` whether missing datasets may be downloaded.
#
# A chapter that needs a setting of its own reads it the same way, in its settings cell, with
# {meth}`profile.pick <ltdd.config.Profile.pick>`: `profile.pick(smoke=2, cpu=3, default=10)` is 2 under
# `smoke`, 3 under `cpu` and 10 under every other profile.

# %% [markdown]
# ## Running a chapter on Colab
#
# Open a chapter and click the launch button (the rocket icon at the top of the page), then **Colab**.
# The notebook opens from this book's GitHub repository. Then:
#
# 1. choose *Runtime → Change runtime type → T4 GPU* (the notebooks ask for a GPU in their metadata, but
#    check it);
# 2. run all cells. The first, hidden in the book, installs `ltdd` from GitHub when it detects Colab; it
#    does nothing anywhere else.
#
# With a GPU the `gpu` profile is chosen automatically, and CIFAR-10 (about 170 MB) is downloaded by
# torchvision on first use.
#
# ## Running locally
#
# ```bash
# git clone https://github.com/ltdd-book/ltdd
# cd ltdd
# python -m venv .venv && source .venv/bin/activate
# pip install -r requirements.txt            # ltdd (editable), the book toolchain, the test tools
# LTDD_PROFILE=cpu jupyter lab               # then open chapters/
# ```
#
# Without `LTDD_PROFILE` you get `gpu` if you have CUDA and `cpu` otherwise. On a machine without
# internet use `cpu` or `smoke`: they only need the embedded digits.
#
# The chapters are stored twice: `chapters/NN_name.ipynb` (outputs stripped) and its
# [jupytext](https://jupytext.readthedocs.io) twin `chapters/NN_name.py`, a plain Python file with
# `# %%` cell markers. Edit either in Jupyter (with jupytext installed, saving one updates the other), or
# run `jupytext --sync chapters/NN_name.py` after editing the `.py` by hand.
#
# To build this book yourself, from the repository root:
#
# ```bash
# LTDD_PROFILE=cpu jupyter-book build . -W --keep-going    # HTML in _build/html; smoke: seconds
# ```

# %% [markdown]
# ## The command line
#
# Long runs (distilling with the `paper` profile, training many evaluation networks) do not belong in a
# notebook. The same code is available as `python -m ltdd` (or `ltdd`, once installed). The commands the
# book uses:
#
# ```bash
# python -m ltdd info                                   # profile, device, versions (JSON)
# python -m ltdd data digits                            # counts per class and totals (JSON)
# python -m ltdd distill random --dataset digits --ipc 10 --seed 0 --out runs/random
# python -m ltdd evaluate runs/random --seeds 3         # the last stdout line is JSON: mean, std, ...
# ```
#
# `distill` writes `runs/random/synthetic.pt` and `runs/random/run.json`; `evaluate` trains fresh
# networks on the saved set with the evaluation protocol of {doc}`01_distillation_in_one_picture` and
# prints the accuracy. Every command takes `--profile` to override `LTDD_PROFILE`. Here are the first
# two, run live (the JSON is spread over lines for reading):

# %%
import json
import subprocess
import sys


def ltdd_cli(*args: str) -> None:
    """Run `python -m ltdd ARGS` as in a terminal; print its JSON answer by key."""
    result = subprocess.run(
        [sys.executable, "-m", "ltdd", *args], capture_output=True, text=True,
        check=True
    )
    for key, value in json.loads(result.stdout.splitlines()[-1]).items():
        print(f"{key}: {json.dumps(value)}")


ltdd_cli("info")

# %%
ltdd_cli("data", "digits")

# %% [markdown]
# ## Where the data go
#
# - The default dataset of the CPU profiles, `digits`, is scikit-learn's bundled handwritten digits
#   (1,797 images of 8×8 pixels, upsampled to 16×16, split 70/30 per class with a fixed seed). It ships
#   with scikit-learn: nothing is downloaded.
# - The real datasets (MNIST, CIFAR-10, CIFAR-100) are read from a **data root**: `data/cache` in the
#   repository checkout, or `./data/cache` when `ltdd` is installed elsewhere. Set `LTDD_DATA_ROOT` to
#   use another folder, or pass `--data-root DIR` on the command line.
# - Under the data root `ltdd` expects **torchvision's own layout**: `MNIST/raw/…-ubyte`,
#   `cifar-10-batches-py/…`, `cifar-100-python/…`. A folder where torchvision has downloaded these
#   datasets before can be reused as it is.
# - Whether a missing dataset may be downloaded is the profile's `allow_download` (yes for `gpu` and
#   `paper`, no for `smoke` and `cpu`); `LTDD_DOWNLOAD=1` or `0` overrides it, as does `--download` /
#   `--no-download`. When a dataset is missing and may not be downloaded, the error names the files and
#   the folder they belong in.
#
# ## Exercises and solutions
#
# Chapters end with exercises. They ask you to change a setting, run a cell again and explain what you
# see, so they work best in a running notebook. An exercise whose answer is a number (or a few) says to which
# precision it wants it and ends with a call such as `check("ex-05-steps", (class_0, class_9))` from
# {mod}`ltdd.book.exercises`: it says whether each part is right to that precision, and never prints the answer.
#
# <!-- book-only: the student edition (ltdd.book.student) leaves this out -->
# Solutions are folded: click *Solution to Exercise N* to open one.
# <!-- /book-only -->
