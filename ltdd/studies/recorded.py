"""Recorded runs on natural images, and the results panel every chapter shows.

The chapters run live on the embedded 8×8 digits, where random real images already score about 95 % and the
papers' effects mostly vanish. The evidence on natural images comes from runs recorded on CIFAR-10 with the
command line (``python -m ltdd compare ...``), on the JPEG mirror that ``shared/data/make_cifar10.py`` turns into
torchvision's layout. Those images are CIFAR-10 re-encoded as JPEG (quality 75, 4:2:0 chroma), so every number
recorded from them is labelled :data:`CIFAR10_MIRROR_LABEL` and carries the archive's MD5.

One JSON file per experiment lives in ``data/reference/`` (see :data:`RECORDED_EXPERIMENTS`): the studies it
holds (one per setting, e.g. per IPC), each with its command, commit, versions and per-seed rows, plus the dataset
label, the archive's MD5, the machine and the total seconds. :func:`record_experiment` writes such a file from
the studies' own ``study.json`` files; :func:`load_experiment` reads it back; :func:`results_panel` puts the
paper's number, the recorded one (with its scale) and the notebook's live run side by side.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from .._deprecated import forward
from ..config import PROFILES
from ..files import atomic_write_text
from ..markdown import markdown_table
from ..reference import CRLT_DD_TABLE_III, LTDD_ABLATION, LTDD_TABLE, PAPER_RESULTS, REFERENCE_DIR
from . import Study
from .biased import BiasSweep

__getattr__ = forward(__name__, {name: f"ltdd.book.viz.recorded:{name}" for name in (
    "plot_recorded_vs_paper", "plot_bias_recorded_vs_paper", "plot_accuracy_against_iterations")})

CIFAR10_MIRROR_LABEL = "CIFAR-10 (JPEG mirror)"
"""How every result measured on the JPEG mirror of CIFAR-10 is labelled in files, tables and figures."""

CIFAR10_MIRROR_MD5 = "776f52f9e1e133769fe6ac6e76b30631"
"""MD5 of ``cifar10-jpeg.zip``, the mirror's archive the recorded CIFAR-10 results were measured on."""

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
"""CIFAR-10's class names in label order (``batches.meta``), for figures drawn from recorded files."""


@dataclass(frozen=True)
class RecordedExperiment:
    """One recorded experiment: its file under ``data/reference/``, what it shows and which chapters show it.

    Machinery behind chapter 01."""

    file: str
    title: str
    chapters: tuple[str, ...]
    planned: dict[str, tuple[str, ...]]
    """Setting key → the rows the experiment is meant to hold there (what :func:`pending_rows` checks): row labels,
    or for a bias sweep ``"LABEL at ratio R"``."""
    kind: str = "study"
    """``"study"`` (:class:`~ltdd.studies.study.Study` rows by label and seed) or ``"bias-sweep"``
    (:class:`ltdd.studies.biased.BiasSweep`: rows by label, bias ratio, severity and seed, plus the full-set
    control)."""


RECORDED_EXPERIMENTS: dict[str, RecordedExperiment] = {
    "dm-family": RecordedExperiment(
        "cifar10_dm_family_cpu.json",
        "random, herding, k-center, DM, IDM and DSDM at IPC 1 and 10 on CIFAR-10 (JPEG mirror)",
        ("01", "05", "06", "07"),
        {key: ("random", "DM", "herding", "k-center", "IDM", "DSDM") for key in ("ipc1", "ipc10")}),
    "dm-iterations": RecordedExperiment(
        "cifar10_dm_iterations_cpu.json",
        "DM at IPC 10 on CIFAR-10 (JPEG mirror): one run evaluated after 50 to 800 iterations",
        ("05",),
        {"ipc10": tuple(f"{k} iterations" for k in (50, 100, 200, 400, 800))}),
    "longtail-effect": RecordedExperiment(
        "cifar10_longtail_effect_cpu.json",
        "a ConvNet on CIFAR-10-LT (JPEG mirror) at β = 10 and 100 against a balanced subset of the same size",
        ("02", "04"),
        {key: ("long-tailed", "balanced subset, same size") for key in ("beta10", "beta100")}),
    "tm-ablation": RecordedExperiment(
        "cifar10_tm_ablation_cpu.json",
        "LTDD's ablation (MTT, DATM base, +DAM, +DAM+ED) on CIFAR-10-LT (JPEG mirror) β = 100, IPC 10",
        ("10", "11"),
        {"beta100": ("MTT", "base", "+DAM", "+DAM+ED")}),
    "crlt-dd": RecordedExperiment(
        "cifar10_crlt_dd_cpu.json",
        "CRLT-DD's Table III plans on CIFAR-10-LT (JPEG mirror) β = 100",
        ("09",),
        {"beta100": ("vanilla", "sample all", "distill all", "sample head", "distill head",
                     "distill all + SimCLR")}),
    "comparison": RecordedExperiment(
        "cifar10_comparison_cpu.json",
        "every method of the book on CIFAR-10-LT (JPEG mirror) β = 100, IPC 10, one evaluation protocol",
        ("12",),
        {"beta100": ("random", "herding", "k-center", "DC", "DSA", "DM", "IDM", "DSDM", "MTT", "DATM",
                     "LTDD (DAM+ED)")}),
    "bias": RecordedExperiment(
        "ccifar10_bias_cpu.json",
        "DM and DeDM (oracle) on CCIFAR10-DD (JPEG mirror), severity 4, at bias ratios 0, 0.5, 0.95 and 1, IPC 10, "
        "with the full-set control",
        ("03", "08"),
        {"severity4": tuple(f"{label} at ratio {ratio:g}" for ratio in (0, 0.5, 0.95, 1)
                            for label in ("DM", "DeDM", "full set"))},
        kind="bias-sweep"),
}
"""Name → the recorded experiment (issue 18's list grows here as runs finish)."""


def file_md5(path: str | Path, chunk: int = 1 << 20) -> str:
    """The MD5 of a file, read in chunks. Machinery behind chapter 01."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def study_seconds(study: Study | BiasSweep) -> float:
    """The seconds a study's rows took, summed over every row and phase (build, evaluate, experts, ...; a bias
    sweep's rows hold one number each). Machinery behind chapter 01."""
    seconds = [row.get("seconds", {}) for row in study.rows]
    return float(sum(sum(s.values()) if isinstance(s, Mapping) else s for s in seconds))


def machine_description() -> str:
    """The recording machine in words: CPU count and architecture (recorded runs without a GPU).

    Machinery behind chapter 01."""
    return f"{os.cpu_count()} CPU cores ({platform.machine()}), no GPU"


def _study_class(name: str) -> type[Study] | type[BiasSweep]:
    return BiasSweep if RECORDED_EXPERIMENTS[name].kind == "bias-sweep" else Study


def row_names(study: Study | BiasSweep) -> set[str]:
    """The names :attr:`RecordedExperiment.planned` uses for a study's rows: its labels, or for a bias sweep
    ``"LABEL at ratio R"`` (the full-set control as ``"full set at ratio R"``). Machinery behind chapter 01."""
    if isinstance(study, BiasSweep):
        return {f"{row.get('label', 'full set')} at ratio {row['bias_ratio']:g}" for row in study.rows + study.full}
    return set(study.labels())


def pending_rows(name: str, studies: Mapping[str, Study | BiasSweep]) -> list[str]:
    """``key/row`` of every planned row of experiment ``name`` (:attr:`RecordedExperiment.planned`) that
    ``studies`` do not hold yet. Machinery behind chapter 01."""
    pending = []
    for key, planned in RECORDED_EXPERIMENTS[name].planned.items():
        present = row_names(studies[key]) if key in studies else set()
        pending += [f"{key}/{row}" for row in planned if row not in present]
    return pending


def record_experiment(name: str, studies: Mapping[str, str | Path], archive: str | Path,
                      out: str | Path | None = None, notes: str = "",
                      expected_md5: str = CIFAR10_MIRROR_MD5, overwrite: bool = False) -> Path:
    """Write the file of experiment ``name`` from its studies' ``study.json`` files.

    ``studies`` maps a setting's key (e.g. ``"ipc10"``) to a ``study.json`` written by ``python -m ltdd compare``
    (or another study command); ``archive`` is the mirror's zip, whose MD5 must be ``expected_md5`` (the mirror's,
    :data:`CIFAR10_MIRROR_MD5`).
    The file goes to ``out`` (default: its place in ``data/reference/``) and records the dataset label, the
    archive's MD5, the machine, each study's seconds and their sum, and ``notes`` followed by the planned rows
    still to run (:func:`pending_rows`), so the file never claims more than it holds. A file already there is only replaced when the
    new studies keep all its rows (a study grows as its runs resume), unless ``overwrite=True``.

    Machinery behind chapter 01.
    """
    if name not in RECORDED_EXPERIMENTS:
        raise ValueError(f"name must be one of {sorted(RECORDED_EXPERIMENTS)}, got {name!r}")
    if not studies:
        raise ValueError("studies must name at least one study.json")
    md5 = file_md5(archive)
    if md5 != expected_md5:
        raise ValueError(f"archive {archive} has MD5 {md5}, not the mirror's {expected_md5}")
    loaded = {key: _study_class(name).load(path) for key, path in studies.items()}
    for study in loaded.values():  # files from before compare recorded it: the named profile's real batch
        if "batch_real" not in study.settings and study.settings.get("profile") in PROFILES:
            study.settings["batch_real"] = PROFILES[study.settings["profile"]].batch_real
    content = {
        "experiment": name, "title": RECORDED_EXPERIMENTS[name].title, "dataset_label": CIFAR10_MIRROR_LABEL,
        "archive_md5": md5, "machine": machine_description(), "notes": _notes(notes, pending_rows(name, loaded)),
        "seconds": round(sum(study_seconds(s) for s in loaded.values()), 1),
        "studies": {key: {"seconds": round(study_seconds(s), 1), **s.payload()} for key, s in loaded.items()},
    }
    path = Path(out) if out is not None else REFERENCE_DIR / RECORDED_EXPERIMENTS[name].file
    if path.is_file() and not overwrite:
        lost = _rows_lost(load_experiment(name, path), loaded)
        if lost:
            raise ValueError(f"{path} holds rows the new studies lack ({', '.join(lost[:4])}"
                             f"{', ...' if len(lost) > 4 else ''}); pass overwrite=True to drop them")
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(json.dumps(content, indent=1) + "\n", path)


def _notes(notes: str, pending: Sequence[str]) -> str:
    still = f"still to run: {', '.join(pending)}" if pending else "every planned row is recorded"
    return f"{notes.rstrip('. ')}; {still}" if notes else still


def _rows_lost(previous: "Experiment", studies: Mapping[str, Study | BiasSweep]) -> list[str]:
    """``key/label/…/seed`` of every row of ``previous`` that ``studies`` no longer have."""
    lost = []
    for key, study in previous.studies.items():
        kept = {study.row_id(row) for row in studies[key].rows} if key in studies else set()
        lost += [f"{key}/{_row_name(study, row)}" for row in study.rows if study.row_id(row) not in kept]
    return lost


def _row_name(study: Study | BiasSweep, row: dict) -> str:
    """``label/seed 0``, or ``label/bias_ratio 0.95/severity 4/seed 0`` for a bias sweep."""
    return "/".join(str(row[name]) if name == "label" else f"{name} {row[name]}" for name in study.ROW_ID)


@dataclass
class Experiment:
    """A recorded experiment read back: its studies by setting key, and the file's provenance.

    Machinery behind chapter 01."""

    name: str
    studies: dict[str, Study | BiasSweep]
    provenance: dict

    def study(self, key: str) -> Study | BiasSweep:
        """The study recorded under ``key`` (e.g. ``"ipc10"``)."""
        if key not in self.studies:
            raise KeyError(f"experiment {self.name!r} has no study {key!r}; it has {sorted(self.studies)}")
        return self.studies[key]


def load_experiment(name: str, path: str | Path | None = None) -> Experiment | None:
    """Read experiment ``name`` from ``data/reference/`` (or ``path``); ``None`` while it is not recorded yet.

    Introduced in chapter 01."""
    if name not in RECORDED_EXPERIMENTS:
        raise ValueError(f"name must be one of {sorted(RECORDED_EXPERIMENTS)}, got {name!r}")
    path = Path(path) if path is not None else REFERENCE_DIR / RECORDED_EXPERIMENTS[name].file
    if not path.is_file():
        return None
    try:
        content = json.loads(path.read_text())
        studies = {key: _study_class(name).from_payload(value) for key, value in content["studies"].items()}
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a recorded experiment file: {error!r}") from error
    provenance = {key: value for key, value in content.items() if key != "studies"}
    return Experiment(name, studies, provenance)


def recorded_study(file_name: str, root: str | Path | None = None) -> Study | None:
    """A study recorded with the command line on the embedded digits (``data/reference/<file_name>``, or under
    ``root``), after printing where it comes from: the file, its command, commit, date, machine and threads.
    ``None``, saying so, while the file is not recorded yet. Introduced in chapter 09; chapter 11 opens its
    recorded runs with it too."""
    path = (Path(root) if root is not None else REFERENCE_DIR) / file_name
    if not path.exists():
        print(f"no recorded study at {path} yet")
        return None
    study = Study.load(path)
    info = study.settings
    torch_version = f", torch {info['torch']}" if info.get("torch") else ""
    print(f"{path.name}: {info.get('command')}\n  commit {info.get('commit')}, {info.get('date')}, "
          f"{info.get('device')}, {info.get('threads')} thread(s){torch_version}")
    return study


def study_scale(study: Study) -> str:
    """A study's scale in words: iterations, real batch, network width, evaluation and seeds.

    Introduced in chapter 05."""
    s = study.settings
    seeds = sorted({row["seed"] for row in study.rows})
    parts = [f"IPC {s.get('ipc')}", f"{s.get('iterations')} iterations"]
    if s.get("batch_real"):
        parts.append(f"{s['batch_real']} real images per class per iteration")
    parts += [f"ConvNet width {s.get('net_width')}",
              f"{s.get('networks')} evaluation networks × {s.get('eval_epochs')} epochs",
              f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}"]
    return ", ".join(parts)


def row_accuracy(study: Study, label: str) -> tuple[float, float, int] | None:
    """Mean and spread (%) of a row over its seeds, and the number of seeds; with one seed the spread is over
    its evaluation networks. ``None`` when the study has no such row.

    Machinery behind chapter 01."""
    rows = [row for row in study.rows if row["label"] == label]
    if not rows:
        return None
    mean, std, count = study.mean_std(label)
    if count == 1:
        std = rows[0].get("network_std", math.nan)
    return 100 * mean, 100 * std, count


def results_panel(rows: Sequence[tuple[str, str, int]], experiment: Experiment | None,
                  live: Mapping[tuple[str, int], float] | None = None, live_label: str = "live run") -> str:
    """A Markdown table: the paper's CIFAR-10 number | ours on CIFAR-10 (JPEG mirror) | this notebook's run.

    ``rows`` are ``(row label in the recorded study, method name in ltdd.reference.PAPER_RESULTS, ipc)``;
    ``live`` maps ``(row label, ipc)`` to the live run's accuracy in % (its dataset and profile go in
    ``live_label``).
    A row not recorded yet shows "not recorded yet", never a guess.

    Introduced in chapter 01.
    """
    header = ["method", "IPC", "paper, CIFAR-10", f"ours, {CIFAR10_MIRROR_LABEL}"]
    if live is not None:
        header.append(live_label)
    table = []
    for label, method, ipc in rows:
        paper = PAPER_RESULTS["cifar10"].get(method, {}).get(ipc)
        recorded = None
        if experiment is not None and f"ipc{ipc}" in experiment.studies:
            recorded = row_accuracy(experiment.study(f"ipc{ipc}"), label)
        cells = [label, str(ipc), f"{paper:.1f}" if paper is not None else "–",
                 f"{recorded[0]:.1f} ± {recorded[1]:.1f}" if recorded else "not recorded yet"]
        if live is not None:
            cells.append(f"{live[label, ipc]:.1f}" if (label, ipc) in live else "–")
        table.append(cells)
    return markdown_table(header, table)


def gap_sentence(study: Study, label: str, baseline: str, paper_method: str | None = None,
                 paper_baseline: str | None = None) -> str:
    """How far ``label`` is above (or below) ``baseline`` in a recorded study, in words, beside the papers' gap
    at the same IPC when both methods are in :data:`ltdd.reference.PAPER_RESULTS`.

    Introduced in chapter 01."""
    ours, theirs = row_accuracy(study, label), row_accuracy(study, baseline)
    ipc = study.settings.get("ipc")
    if ours is None or theirs is None:
        return f"{label} against {baseline} at IPC {ipc}: not recorded yet."
    gap = ours[0] - theirs[0]
    word = "above" if gap > 0 else "below" if gap < 0 else "level with"
    text = (f"At IPC {ipc} on {CIFAR10_MIRROR_LABEL}, {label} scores {ours[0]:.1f} % against {theirs[0]:.1f} % for "
            f"{baseline}: {abs(gap):.1f} points {word} it")
    papers = PAPER_RESULTS["cifar10"]
    if paper_method in papers and paper_baseline in papers and ipc in papers[paper_method] \
            and ipc in papers[paper_baseline]:
        paper_gap = papers[paper_method][ipc] - papers[paper_baseline][ipc]
        text += f" (the papers: {papers[paper_method][ipc]:.1f} against {papers[paper_baseline][ipc]:.1f}, " \
                f"{paper_gap:+.1f} points)"
    return text + "."


def restore_study(name: str, key: str, out: str | Path, path: str | Path | None = None) -> Path:
    """Write study ``key`` of a recorded experiment back to ``out`` (a ``study.json``), so that the command in its
    settings can continue it with ``--resume`` on a machine that no longer has the original output folder.

    Machinery behind chapter 01."""
    experiment = load_experiment(name, path)
    if experiment is None:
        raise FileNotFoundError(f"experiment {name!r} is not recorded yet")
    out = Path(out)
    if out.exists():
        raise ValueError(f"out={str(out)!r} exists; restore_study never overwrites a study")
    out.parent.mkdir(parents=True, exist_ok=True)
    return experiment.study(key).save(out)


def longtail_scale(study: Study) -> str:
    """The long-tail experiment's scale in words: epochs, network, networks per seed and seeds.

    Introduced in chapter 04."""
    s = study.settings
    seeds = sorted({row["seed"] for row in study.rows})
    width = s.get("model_options", {}).get("width")
    return (f"{s.get('epochs')} epochs (batch {s.get('batch_size')}, DSA), {s.get('model')}"
            f"{f' width {width}' if width else ''}, {s.get('networks')} network(s) per set and seed, "
            f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}")


def _beta_keys(experiment: Experiment) -> list[str]:
    return sorted((key for key in experiment.studies if key.startswith("beta")),
                  key=lambda key: float(key.removeprefix("beta")))


def _size(study: Study, label: str) -> int:
    return next(row["size"]["images"] for row in study.rows if row["label"] == label)


def _accuracy_cell(study: Study, accuracy: tuple[float, float, int]) -> str:
    """``mean ± spread``, or the mean alone when one network of one seed leaves no spread to show."""
    single = accuracy[2] == 1 and study.settings.get("networks", 1) == 1
    return f"{accuracy[0]:.1f}" + ("" if single else f" ± {accuracy[1]:.1f}")


def longtail_panel(experiment: Experiment) -> str:
    """A Markdown table of the long-tail experiment: per β, the long-tailed set and the balanced subset of the same
    size, with overall and many/medium/few accuracy (%) and how the classifier's weight norms fall towards the tail;
    the long-tailed row carries CRLT-DD's Table III "vanilla" number for CIFAR-10-LT at that β.

    Introduced in chapter 04."""
    from .longtail_effect import BALANCED_SUBSET, LONG_TAILED, weight_norm_slope

    header = ["β", "training set", "images", "paper (CRLT-DD Table III, vanilla)",
              f"overall, {CIFAR10_MIRROR_LABEL}", "many", "medium", "few", "weight-norm slope"]
    table = []
    paper = CRLT_DD_TABLE_III["cifar10-lt"]["vanilla"]
    for key in _beta_keys(experiment):
        study, beta = experiment.study(key), float(key.removeprefix("beta"))
        for label in (LONG_TAILED, BALANCED_SUBSET):
            rows = [row for row in study.rows if row["label"] == label]
            if not rows:
                table.append([f"{beta:g}", label, "–", "–", "not recorded yet", "", "", "", ""])
                continue
            overall = row_accuracy(study, label)
            groups = [study.mean_std(label, f"groups.shots.{g}")[0] for g in ("many", "medium", "few")]
            reported = paper.get(int(beta)) if label == LONG_TAILED else None
            table.append([
                f"{beta:g}", label, f"{rows[0]['size']['images']:,}", f"{reported:.2f}" if reported else "–",
                _accuracy_cell(study, overall),
                *(f"{100 * g:.1f}" if not math.isnan(g) else "–" for g in groups),
                f"{weight_norm_slope(study, label):+.3f}"])
    return markdown_table(header, table)


def longtail_sentences(experiment: Experiment) -> list[str]:
    """What the long-tail experiment shows, one sentence per β, every number read from the file: how much lower
    the long-tailed set scores than the balanced subset of the same size, and where the loss falls.

    Introduced in chapter 04."""
    from .longtail_effect import BALANCED_SUBSET, LONG_TAILED

    sentences = []
    for key in _beta_keys(experiment):
        study, beta = experiment.study(key), float(key.removeprefix("beta"))
        lt, balanced = row_accuracy(study, LONG_TAILED), row_accuracy(study, BALANCED_SUBSET)
        if lt is None:
            sentences.append(f"At β = {beta:g}: not recorded yet.")
            continue
        per_class_lt = study.per_class(LONG_TAILED)
        counts = study.settings["counts"]
        head, tail = counts.index(max(counts)), counts.index(min(counts))
        if balanced is None:
            sentences.append(
                f"At β = {beta:g} the long-tailed set ({_size(study, LONG_TAILED):,} images) scores {lt[0]:.1f} %; "
                f"its largest class ({counts[head]:,} images) reaches {100 * per_class_lt[head]:.1f} % and its "
                f"smallest ({counts[tail]:,} images) {100 * per_class_lt[tail]:.1f} % (the balanced subset of the "
                f"same size is not recorded yet).")
            continue
        per_class_balanced = study.per_class(BALANCED_SUBSET)
        sentences.append(
            f"At β = {beta:g} the long-tailed set ({_size(study, LONG_TAILED):,} images) scores {lt[0]:.1f} % against "
            f"{balanced[0]:.1f} % for a balanced subset of {_size(study, BALANCED_SUBSET):,} images "
            f"({lt[0] - balanced[0]:+.1f} points); "
            f"its largest class ({counts[head]:,} images) reaches {100 * per_class_lt[head]:.1f} % "
            f"(balanced: {100 * per_class_balanced[head]:.1f} %) and its smallest ({counts[tail]:,} images) "
            f"{100 * per_class_lt[tail]:.1f} % (balanced: {100 * per_class_balanced[tail]:.1f} %).")
    return sentences


def share_of_paper_gap(study: Study, label: str, baseline: str, paper_method: str,
                       paper_baseline: str) -> str:
    """What share of the papers' lead of ``paper_method`` over ``paper_baseline`` (at the study's IPC) the
    recorded run reproduces, with the run's iterations beside the paper's, in words.

    Introduced in chapter 05."""
    ours, theirs = row_accuracy(study, label), row_accuracy(study, baseline)
    ipc, papers = study.settings.get("ipc"), PAPER_RESULTS["cifar10"]
    if ours is None or theirs is None or ipc not in papers.get(paper_method, {}) \
            or ipc not in papers.get(paper_baseline, {}):
        return f"{label} against {baseline} at IPC {ipc}: not recorded yet, or no paper number to compare with."
    from ..distill import PAPER_ITERATIONS

    paper_gap = papers[paper_method][ipc] - papers[paper_baseline][ipc]
    share = (ours[0] - theirs[0]) / paper_gap
    paper_iterations = PAPER_ITERATIONS.get(paper_method)
    return (f"At IPC {ipc} the recorded run reproduces {100 * share:.0f} % of the papers' lead of {label} over "
            f"{baseline} ({ours[0] - theirs[0]:+.1f} against {paper_gap:+.1f} points), after "
            f"{study.settings.get('iterations'):,} iterations"
            + (f" (the paper: {paper_iterations:,})." if paper_iterations else "."))


def dm_family_panel(rows: Sequence[tuple[str, str]], live_curves: Mapping[str, Mapping[int, object]] | None = None,
                    live_label: str = "live run", ipcs: Sequence[int] = (1, 10), baseline: str = "random",
                    path: str | Path | None = None, pairs: Sequence[tuple[str, str]] = ()) -> str:
    """A chapter's results panel for the distribution-matching experiment, as Markdown: the table of
    :func:`results_panel` for ``rows`` (``(row label, paper method)``) at ``ipcs``, the recorded scale, and for
    every recorded row but ``baseline`` its gap to ``baseline`` at each IPC (:func:`gap_sentence`), then the gap
    of each of ``pairs`` (``(row label, row label it is set against)``, both among ``rows``: the chapter's own
    comparison, such as DSDM against DM).

    ``live_curves`` maps a row label to ``{ipc: report or accuracy in [0, 1]}`` from the notebook's live run.

    Introduced in chapter 06.
    """
    experiment = load_experiment("dm-family", path)
    if experiment is None:
        return f"The CIFAR-10 results are not recorded yet (`data/reference/{RECORDED_EXPERIMENTS['dm-family'].file}`)."
    live = {(label, ipc): 100 * getattr(value, "mean", value)
            for label, points in (live_curves or {}).items() for ipc, value in points.items()}
    table = results_panel([(label, method, ipc) for ipc in ipcs for label, method in rows], experiment,
                          live if live_curves is not None else None, live_label)
    scales = "; ".join(f"{key}: {study_scale(study)}" for key, study in experiment.studies.items())
    sentences = [gap_sentence(experiment.study(f"ipc{ipc}"), label, baseline, method, _paper_name(rows, baseline))
                 for ipc in ipcs if f"ipc{ipc}" in experiment.studies for label, method in rows if label != baseline]
    sentences += [gap_sentence(experiment.study(f"ipc{ipc}"), label, against, _paper_name(rows, label),
                               _paper_name(rows, against))
                  for label, against in pairs for ipc in ipcs if f"ipc{ipc}" in experiment.studies]
    return (f"{table}\n\nRecorded scale ({experiment.provenance['machine']}): {scales}. With one seed, ± is the "
            f"spread over its evaluation networks.\n\n" + "\n".join(f"- {sentence}" for sentence in sentences))


def _paper_name(rows: Sequence[tuple[str, str]], label: str) -> str | None:
    return next((method for row_label, method in rows if row_label == label), None)


TM_ABLATION_PAPER_ROWS = {"MTT": "mtt", "base": "datm", "+DAM+ED": "ltdd"}
"""Ablation row → its method in LTDD's Table 1 (CIFAR-10-LT β = 100); +DAM alone is only in the β = 200
ablation (Fig. 6a)."""


def tm_ablation_panel(experiment: Experiment, key: str = "beta100",
                      labels: Sequence[str] = ("MTT", "base", "+DAM", "+DAM+ED")) -> str:
    """The trajectory-matching ablation as Markdown: per row, LTDD's Table 1 number at β = 100 and IPC 10 where the
    paper has the row, its Fig. 6a number at β = 200 and IPC 50, and ours on the mirror (overall, few-shot and
    tail-half accuracy, mean over seeds, with the spread; CIFAR-10-LT has no few-shot class at β = 100);
    ``labels`` picks the rows (chapter 10 shows MTT and base).

    Introduced in chapter 10."""
    study = experiment.study(key)
    ipc = study.settings.get("scale", {}).get("ipc", 10)
    header = ["row", f"paper, β = 100, IPC {ipc} (Table 1)", "paper, β = 200, IPC 50 (Fig. 6a)",
              f"ours, {CIFAR10_MIRROR_LABEL}", "ours, few-shot classes", "ours, tail half"]
    table = []
    for label in labels:
        table1 = LTDD_TABLE.get(TM_ABLATION_PAPER_ROWS.get(label, ""), {}).get(ipc)
        ablation = LTDD_ABLATION.get(label)
        ours = row_accuracy(study, label)
        few, tail = study.mean_std(label, "groups.shots.few"), study.mean_std(label, "groups.halves.tail")
        table.append([
            label, f"{table1:.1f}" if table1 is not None else "–", f"{ablation:.1f}" if ablation is not None else "–",
            _accuracy_cell(study, ours) if ours else "not recorded yet",
            f"{100 * few[0]:.1f}" if few[2] else "–", f"{100 * tail[0]:.1f}" if tail[2] else "–"])
    return markdown_table(header, table)


def tm_ablation_scale(study: Study) -> str:
    """The trajectory-matching ablation's scale in words: experts, their epochs, the student's steps, iterations,
    network width, evaluation and seeds. Introduced in chapter 10."""
    s, scale = study.settings, study.settings.get("scale", {})
    distill = scale.get("distill", {})
    seeds = sorted({row["seed"] for row in study.rows})
    return (f"IPC {scale.get('ipc')}, {scale.get('experts')} experts of {scale.get('expert_epochs')} epochs "
            f"(classifier experts {scale.get('classifier_epochs')} epochs), {distill.get('syn_steps')} student steps "
            f"matched against {distill.get('expert_epochs')} expert epochs, {scale.get('iterations')} iterations, "
            f"ConvNet width {scale.get('net_width')}, {s.get('networks')} evaluation networks × "
            f"{s.get('eval_epochs')} epochs, {len(seeds)} seed{'s' if len(seeds) != 1 else ''}")


def tm_ablation_sentences(experiment: Experiment, key: str = "beta100",
                          steps: Sequence[tuple[str, str]] = (("base", "MTT"), ("+DAM", "base"),
                                                              ("+DAM+ED", "+DAM"))) -> list[str]:
    """Each step of the ablation (``(row, the row before it)``) in words, every number from the file.

    Introduced in chapter 10."""
    study = experiment.study(key)
    sentences = []
    for label, before in steps:
        ours, theirs = row_accuracy(study, label), row_accuracy(study, before)
        if ours is None or theirs is None:
            sentences.append(f"{label} against {before}: not recorded yet.")
            continue
        sentences.append(score_against(label, ours[0], before, theirs[0]) + ").")
    return sentences


def score_against(label: str, ours: float, other: str, theirs: float) -> str:
    """``"LABEL scores X % against Y % for OTHER (+D points"``, the sentence the recorded panels share; the caller
    closes the parenthesis (after adding, say, the paper's difference). Machinery behind chapter 09."""
    return f"{label} scores {ours:.1f} % against {theirs:.1f} % for {other} ({ours - theirs:+.1f} points"


BIAS_PAPER_ROWS = {"DM": "dm", "full set": "full set"}
"""Recorded bias-sweep row → its row in Biased-DD's Table 1 (CCIFAR10-DD, IPC 50); DeDM is not in the paper."""


def paper_bias(label: str, ratio: float) -> float | None:
    """Biased-DD's Table 1 accuracy (%) on CCIFAR10-DD for a recorded row at ``ratio``, or ``None``. Machinery
    behind chapter 08."""
    from ..reference import BIASED_DD_RATIOS_PRINTED, BIASED_DD_TABLE_1

    method = BIAS_PAPER_ROWS.get(label)
    if method is None or ratio not in BIASED_DD_RATIOS_PRINTED:
        return None
    return BIASED_DD_TABLE_1["ccifar10-dd"][method][BIASED_DD_RATIOS_PRINTED.index(ratio)][0]


def _bias_cell(sweep: BiasSweep, label: str, ratio: float, severity: int) -> float | None:
    mean, _, count = sweep.cell(label, ratio, severity)
    return 100 * mean if count else None


def bias_panel(experiment: Experiment, key: str = "severity4") -> str:
    """The bias experiment as Markdown, the shape of Biased-DD's Table 1: per row (DM, DeDM, the full set) and
    bias ratio, our accuracy (%) on the all-conflicting test set of CCIFAR10-DD (JPEG mirror), with the paper's
    CCIFAR10-DD number beneath ours where it has the row (IPC 50 there).

    Introduced in chapter 08."""
    sweep = experiment.study(key)
    severity = int(key.removeprefix("severity"))
    ratios = sorted({float(name.rsplit(" ", 1)[1]) for name in RECORDED_EXPERIMENTS[experiment.name].planned[key]})
    labels = list(dict.fromkeys(name.split(" at ratio ")[0] for name in RECORDED_EXPERIMENTS[experiment.name]
                                .planned[key]))
    table = []
    for label in labels:
        ours = [_bias_cell(sweep, label, ratio, severity) for ratio in ratios]
        table.append([f"{label}, ours (IPC {sweep.settings.get('ipc')})" if label != "full set" else
                      "full set, ours", *(f"{value:.1f}" if value is not None else "not recorded yet"
                                          for value in ours)])
        paper = [paper_bias(label, ratio) for ratio in ratios]
        if any(value is not None for value in paper):
            table.append([f"{label}, paper" + (" (IPC 50)" if label != "full set" else ""),
                          *(f"{value:.2f}" if value is not None else "–" for value in paper)])
    return markdown_table(["row", *(f"ratio {ratio:g}" for ratio in ratios)], table)


def bias_scale(sweep: BiasSweep) -> str:
    """The bias experiment's scale in words. Introduced in chapter 08."""
    s = sweep.settings
    seeds = sorted({row["seed"] for row in sweep.rows})
    full = (f"; the full-set control {s['full_epochs']} epochs" if s.get("full_epochs") else
            "; the full-set control the profile's epochs") if sweep.full else "; the full-set control not yet run"
    return (f"IPC {s.get('ipc')}, {s.get('iterations')} iterations, {s.get('batch_real')} real images per class per "
            f"iteration, ConvNet width {s.get('net_width')}, {s.get('eval_seeds')} evaluation networks × "
            f"{s.get('eval_epochs')} epochs, {len(seeds)} seed{'s' if len(seeds) != 1 else ''}{full}")


def bias_sentences(experiment: Experiment, key: str = "severity4") -> list[str]:
    """What the bias experiment shows, every number from the file: how far DM falls from the unbiased set
    (ratio 0) to the fully biased one (ratio 1) against the paper's fall, where DM stands against the full
    set at the most biased ratio, and what DeDM's reweighting changes at the biased ratios.

    Introduced in chapter 08."""
    sweep, severity = experiment.study(key), int(key.removeprefix("severity"))
    ours = {(label, ratio): _bias_cell(sweep, label, ratio, severity)
            for label in ("DM", "DeDM", "full set") for ratio in (0.0, 0.5, 0.95, 1.0)}
    sentences = []
    low, high = ours["DM", 0.0], ours["DM", 1.0]
    if low is not None and high is not None:
        paper_low, paper_high = paper_bias("DM", 0.0), paper_bias("DM", 1.0)
        sentences.append(f"From ratio 0 to ratio 1, DM's accuracy on the all-conflicting test set falls from "
                         f"{low:.1f} % to {high:.1f} % ({high - low:+.1f} points; the paper at IPC 50: "
                         f"{paper_low:.2f} → {paper_high:.2f}, {paper_high - paper_low:+.2f}).")
    else:
        sentences.append("DM at ratios 0 and 1: not recorded yet.")
    for ratio in (0.95, 1.0):
        dm, full = ours["DM", ratio], ours["full set", ratio]
        if dm is None or full is None:
            sentences.append(f"DM against the full set at ratio {ratio:g}: not recorded yet.")
            continue
        word = "above" if dm > full else "below" if dm < full else "level with"
        paper_dm, paper_full = paper_bias("DM", ratio), paper_bias("full set", ratio)
        paper_word = "above" if paper_dm > paper_full else "below"
        sentences.append(f"At ratio {ratio:g}, DM's set of {sweep.settings.get('ipc')} images per class scores "
                         f"{dm:.1f} %, {abs(dm - full):.1f} points {word} the full biased set ({full:.1f} %); in the "
                         f"paper DM is {paper_word} it ({paper_dm:.2f} against {paper_full:.2f}).")
    for ratio in (0.95, 1.0):
        dm, dedm = ours["DM", ratio], ours["DeDM", ratio]
        if dm is None or dedm is None:
            sentences.append(f"DeDM against DM at ratio {ratio:g}: not recorded yet.")
            continue
        sentences.append(f"At ratio {ratio:g}, " + score_against("DeDM (oracle)", dedm, "DM", dm) + ").")
    return sentences


SHORTCUT_SPLITS = (("lff_aligned", "bias-aligned test images"), ("lff_conflicting", "bias-conflicting test images"))
"""The full-set control's two accuracies that show the shortcut: on the aligned and on the conflicting images of
LfF's test split (10 % aligned)."""


def shortcut_panel(experiment: Experiment, key: str = "severity4") -> str:
    """What the bias does to a network trained on the whole biased set, as Markdown: the full-set control of the
    bias experiment at every ratio, its accuracy on the bias-aligned and on the bias-conflicting test images, and
    Biased-DD's Table 1 full-set row (its all-conflicting test set) beneath. Introduced in chapter 03."""
    sweep, severity = experiment.study(key), int(key.removeprefix("severity"))
    ratios = sorted({row["bias_ratio"] for row in sweep.full})
    table = []
    for split, words in SHORTCUT_SPLITS:
        cells = [sweep.cell("full set", ratio, severity, split) for ratio in ratios]
        table.append([f"ours: {words}", *(f"{100 * mean:.1f}" if count else "–" for mean, _, count in cells)])
    paper = [paper_bias("full set", ratio) for ratio in ratios]
    table.append(["Biased-DD Table 1: all-conflicting test set",
                  *(f"{value:.2f}" if value is not None else "–" for value in paper)])
    return markdown_table(["full training set", *(f"ratio {ratio:g}" for ratio in ratios)], table)


def shortcut_sentences(experiment: Experiment, key: str = "severity4") -> list[str]:
    """The shortcut in words, every number from the file: at the most and the least biased ratio, how the
    full-set control does on aligned against conflicting test images. Introduced in chapter 03."""
    sweep, severity = experiment.study(key), int(key.removeprefix("severity"))
    ratios = sorted({row["bias_ratio"] for row in sweep.full})
    if not ratios:
        return ["The full-set control is not recorded yet."]
    epochs = sorted({row.get("epochs", sweep.settings.get("full_epochs")) for row in sweep.full} - {None})
    trained = f"trained for {epochs[0]} epochs " if len(epochs) == 1 else ""
    sentences = []
    for ratio in (ratios[-1], ratios[0]):
        aligned = 100 * sweep.cell("full set", ratio, severity, "lff_aligned")[0]
        conflicting = 100 * sweep.cell("full set", ratio, severity, "lff_conflicting")[0]
        gap = aligned - conflicting
        difference = (f"{abs(gap):.1f} points {'more' if gap > 0 else 'fewer'} on the aligned ones" if gap
                      else "the same on both")
        sentences.append(f"At bias ratio {ratio:g}, the ConvNet {trained}on the whole training set scores "
                         f"{aligned:.1f} % on bias-aligned test images and {conflicting:.1f} % on bias-conflicting "
                         f"ones: {difference}.")
    return sentences


def grouping_panel(experiment: Experiment, key: str = "beta100") -> str:
    """One recorded CIFAR-10-LT run reported three ways, as Markdown: the long-tailed row's mean per-class
    accuracy (%) in each group under the OLTR paper's thresholds, OLTR's code's (inclusive) thresholds and
    MiSLAS's index ranges, with the number of classes in each group; an empty group shows "–".

    Introduced in chapter 02."""
    from ..data.longtail import MISLAS_INDEX_SPLITS, group_accuracy, index_range_groups, shot_groups
    from .longtail_effect import LONG_TAILED

    study = experiment.study(key)
    counts, per_class = study.settings["counts"], study.per_class(LONG_TAILED)
    groupings = {"> 100 / < 20 images (OLTR's paper)": shot_groups(counts),
                 "≥ 100 / ≤ 20 images (OLTR's code)": shot_groups(counts, inclusive=True),
                 "index ranges [0, 3) [3, 7) [7, 10) (MiSLAS)": index_range_groups(
                     len(counts), MISLAS_INDEX_SPLITS["cifar10"])}
    table = []
    for name, groups in groupings.items():
        accuracy = group_accuracy(per_class, groups)
        table.append([name, *(f"{100 * accuracy[g]:.1f} ({groups.count(g)})" if g in accuracy else "– (0)"
                              for g in ("many", "medium", "few"))])
    return markdown_table(["grouping", "many (classes)", "medium (classes)", "few (classes)"], table)


def crlt_dd_panel(experiment: Experiment, key: str = "beta100") -> str:
    """CRLT-DD's Table III on CIFAR-10-LT as Markdown: per recorded plan, the paper's accuracy at the study's β
    and ours on the mirror (overall, and the mean per-class accuracy of the head and tail halves).

    Introduced in chapter 09."""
    study = experiment.study(key)
    beta = int(float(key.removeprefix("beta")))
    paper = CRLT_DD_TABLE_III["cifar10-lt"]
    header = ["plan", f"paper, β = {beta} (Table III)", f"ours, {CIFAR10_MIRROR_LABEL}", "ours, head half",
              "ours, tail half"]
    table = []
    for label in _planned_then_recorded(experiment.name, key, study):
        ours = row_accuracy(study, label)
        halves = [study.mean_std(label, f"groups.halves.{half}") for half in ("head", "tail")]
        table.append([label, f"{paper[label][beta]:.2f}" if beta in paper.get(label, {}) else "–",
                      _accuracy_cell(study, ours) if ours else "not recorded yet",
                      *(f"{100 * h[0]:.1f}" if h[2] else "–" for h in halves)])
    return markdown_table(header, table)


def crlt_dd_scale(study: Study) -> str:
    """The CRLT-DD experiment's scale in words: DM iterations and real batch, head IPC, SimCLR epochs, network
    width, evaluation networks and epochs, seeds. Introduced in chapter 09."""
    s = study.settings
    seeds = sorted({row["seed"] for row in study.rows})
    head_ipc = s.get("ipc_head") or next((row["size"]["ipc"] for row in study.rows if row.get("plan") in
                                          ("sample-head", "distill-head") and row.get("size", {}).get("ipc")), None)
    head = f"at IPC {head_ipc:,}" if head_ipc else "at the plan's own IPC"
    networks = s.get("networks")
    return (f"{s.get('method', 'dm').upper()} {s.get('iterations')} iterations with {s.get('batch_real')} real "
            f"images per class, distill head {head}, SimCLR {s.get('simclr_epochs')} epochs, "
            f"ConvNet width {s.get('net_width')}, {networks} evaluation network{'s' if networks != 1 else ''} × "
            f"{s.get('eval_epochs')} epochs, {len(seeds)} seed{'s' if len(seeds) != 1 else ''}")


def crlt_dd_sentences(experiment: Experiment, key: str = "beta100") -> list[str]:
    """Each rebalancing plan against the whole long-tailed set (vanilla), ours beside the paper's, every number
    read from the file. Introduced in chapter 09."""
    study = experiment.study(key)
    beta = int(float(key.removeprefix("beta")))
    paper = CRLT_DD_TABLE_III["cifar10-lt"]
    vanilla = row_accuracy(study, "vanilla")
    sentences = []
    for label in _planned_then_recorded(experiment.name, key, study):
        if label == "vanilla":
            continue
        ours = row_accuracy(study, label)
        if ours is None or vanilla is None:
            sentences.append(f"{label} against vanilla: not recorded yet.")
            continue
        text = score_against(label, ours[0], "vanilla", vanilla[0])
        if beta in paper.get(label, {}):
            text += f"; the paper: {paper[label][beta] - paper['vanilla'][beta]:+.2f}"
        sentences.append(text + ").")
    return sentences + _simclr_sentences(study, beta)


def _simclr_sentences(study: Study, beta: int) -> list[str]:
    """What SimCLR's pre-trained encoder adds to each plan recorded with and without it, beside the paper."""
    paper, sentences = CRLT_DD_TABLE_III["cifar10-lt"], []
    for label in study.labels():
        plan = label.removesuffix(" + SimCLR")
        with_encoder, without = row_accuracy(study, label), row_accuracy(study, plan)
        if plan == label or with_encoder is None or without is None:
            continue
        text = (f"SimCLR's encoder changes {plan} by {with_encoder[0] - without[0]:+.1f} points "
                f"({without[0]:.1f} → {with_encoder[0]:.1f} %")
        if beta in paper.get(label, {}) and beta in paper.get(plan, {}):
            text += f"; the paper: {paper[label][beta] - paper[plan][beta]:+.2f}"
        sentences.append(text + ").")
    return sentences


def _planned_then_recorded(name: str, key: str, study: Study) -> list[str]:
    """The planned row labels of ``key``, then any other label the study holds, in order."""
    planned = list(RECORDED_EXPERIMENTS[name].planned.get(key, ()))
    return planned + [label for label in study.labels() if label not in planned]


COMPARISON_PAPER_ROWS = {"random": "random", "k-center": "kcenter", "DC": "dc", "IDM": "idm", "MTT": "mtt",
                         "DATM": "datm", "LTDD (DAM+ED)": "ltdd"}
"""Comparison row → its row in LTDD's Table 1 (CIFAR-10-LT β = 100; :data:`ltdd.reference.LTDD_TABLE`)."""

COMPARISON_CRLT_ROWS = {"CRLT-DD distill all": "distill all", "CRLT-DD distill head": "distill head",
                        "CRLT-DD distill all + SimCLR": "distill all + SimCLR", "whole long-tailed set": "vanilla"}
"""Comparison row → its row in CRLT-DD's Table III (CIFAR-10-LT β = 100, the plan's own IPC)."""


def comparison_panel(experiment: Experiment, key: str = "beta100", rebalancing: Experiment | None = None) -> str:
    """The all-methods comparison on CIFAR-10-LT as Markdown: per row, the paper's number at β = 100 (LTDD's
    Table 1 at the study's IPC) with its source, and ours on the mirror (overall, many- and medium-shot accuracy).

    With ``rebalancing`` (the crlt-dd record), CRLT-DD's plans and the whole long-tailed set follow, marked †, from
    that record: training on the whole set (12,406 images) for the comparison's 3 × 300 epochs would take longer
    on a CPU than every other row together, so those rows keep chapter 09's own evaluation, which a note under the
    table states; their paper column is CRLT-DD's Table III.

    Introduced in chapter 12."""
    from ..reference import LTDD_FULL_DATA

    study = experiment.study(key)
    beta, ipc = int(float(key.removeprefix("beta"))), study.settings.get("ipc")
    header = ["row", "paper", "source", f"ours, {CIFAR10_MIRROR_LABEL}", "many", "medium"]
    table = []
    for label in _planned_then_recorded(experiment.name, key, study):
        paper, source = None, "–"
        if label in COMPARISON_PAPER_ROWS and ipc in LTDD_TABLE.get(COMPARISON_PAPER_ROWS[label], {}):
            paper, source = LTDD_TABLE[COMPARISON_PAPER_ROWS[label]][ipc], f"LTDD Table 1, IPC {ipc}"
        table.append([label, f"{paper:.1f}" if paper is not None else "–", source, *_ours_cells(study, label)])
    if rebalancing is None or key not in rebalancing.studies:
        return markdown_table(header, table)
    crlt = rebalancing.study(key)
    for label, crlt_label in COMPARISON_CRLT_ROWS.items():
        paper = CRLT_DD_TABLE_III["cifar10-lt"][crlt_label].get(beta)
        source = "CRLT-DD Table III" + (f" (LTDD Table 1: {LTDD_FULL_DATA:.1f})" if crlt_label == "vanilla" else "")
        table.append([f"{label} †", f"{paper:.1f}" if paper is not None else "–", source,
                      *_ours_cells(crlt, crlt_label)])
    return (markdown_table(header, table) + f"\n\n† From the CRLT-DD record (chapter 09), evaluated its own way: "
            f"{crlt_dd_scale(crlt)}; the sets of CRLT-DD's plans are larger than IPC {ipc}.")


COMPARISON_PAIRS = (("DM", "random"), ("IDM", "random"), ("k-center", "random"), ("DATM", "MTT"),
                    ("LTDD (DAM+ED)", "DATM"))
"""The comparison's rows that chapter 12 reads against each other: distribution matching and a coreset against
random real images, and each step of trajectory matching against the one before it."""


def comparison_sentences(experiment: Experiment, key: str = "beta100") -> list[str]:
    """The comparison in words, every number read from the file: the best row recorded so far, then each pair of
    :data:`COMPARISON_PAIRS` with LTDD's Table 1 difference where the paper has both rows and the two rows'
    medium-shot accuracy where recorded (a pair still running says so). Introduced in chapter 12."""
    study = experiment.study(key)
    ipc = study.settings.get("ipc")
    recorded = {label: row_accuracy(study, label) for label in _planned_then_recorded(experiment.name, key, study)}
    recorded = {label: accuracy[0] for label, accuracy in recorded.items() if accuracy is not None}
    if not recorded:
        return ["No row of the comparison is recorded yet."]
    best = max(recorded, key=recorded.get)
    planned = RECORDED_EXPERIMENTS[experiment.name].planned[key]
    complete = set(planned) <= set(recorded)
    which = f"all {len(recorded)} rows" if complete else f"the {len(recorded)} rows recorded so far"
    sentences = [f"Of {which}, {best} scores highest, {recorded[best]:.1f} %."]
    for label, other in COMPARISON_PAIRS:
        if label not in recorded or other not in recorded:
            sentences.append(f"{label} against {other}: not recorded yet.")
            continue
        text = score_against(label, recorded[label], other, recorded[other])
        papers = [LTDD_TABLE.get(COMPARISON_PAPER_ROWS.get(name, ""), {}).get(ipc) for name in (label, other)]
        if None not in papers:
            text += f"; LTDD's Table 1: {papers[0] - papers[1]:+.1f}"
        text += ")"
        medium = [study.mean_std(name, "groups.shots.medium") for name in (label, other)]
        if all(count for _, _, count in medium):
            text += f", and on the medium-shot classes {100 * medium[0][0]:.1f} % against {100 * medium[1][0]:.1f} %"
        sentences.append(text + ".")
    return sentences


def _ours_cells(study: Study, label: str) -> list[str]:
    """A row's recorded cells: overall accuracy (or "not recorded yet"), many- and medium-shot accuracy."""
    ours = row_accuracy(study, label)
    shots = [study.mean_std(label, f"groups.shots.{group}") for group in ("many", "medium")]
    return [_accuracy_cell(study, ours) if ours else "not recorded yet",
            *(f"{100 * shot[0]:.1f}" if shot[2] else "–" for shot in shots)]


def iteration_points(study: Study) -> list[tuple[int, float, float]]:
    """``(iterations, accuracy %, spread over the evaluation networks %)`` of a convergence study
    (:func:`ltdd.studies.convergence.accuracy_against_iterations`), by iterations. Machinery behind chapter 05."""
    rows = sorted(study.rows, key=lambda row: row["iterations"])
    return [(row["iterations"], 100 * row["accuracy"], 100 * row.get("network_std", 0.0)) for row in rows]


def convergence_sentence(experiment: Experiment, baseline: Experiment | None = None, key: str = "ipc10") -> str:
    """How far the recorded DM run is from converged, in words, from the file: its accuracy at the first and last
    recorded iteration counts, the gain over the last doubling, and the paper's number after its 20,000
    iterations; with ``baseline`` (the dm-family record) also random selection at the same IPC.

    Introduced in chapter 05."""
    from ..distill import PAPER_ITERATIONS

    study = experiment.study(key)
    points = iteration_points(study)
    if not points:
        return "DM against iterations: not recorded yet."
    ipc = study.settings.get("ipc")
    paper = PAPER_RESULTS["cifar10"]["dm"].get(ipc)
    first, last = points[0], points[-1]
    text = (f"From {first[0]:,} to {last[0]:,} iterations, DM at IPC {ipc} rises from {first[1]:.1f} % to "
            f"{last[1]:.1f} %")
    halfway = [point for point in points if point[0] * 2 == last[0]]
    if halfway:
        text += f", {last[1] - halfway[0][1]:+.1f} points over the last doubling"
    if paper is not None:
        text += (f"; the paper reports {paper:.1f} % after {PAPER_ITERATIONS['dm']:,} iterations, "
                 f"{paper - last[1]:.1f} points above our last point")
    if baseline is not None and key in baseline.studies:
        table = baseline.study(key)
        random, dm = row_accuracy(table, "random"), row_accuracy(table, "DM")
        if random is not None:
            text += f" (random real images: {random[0]:.1f} %)"
        same = [point for point in points if point[0] == table.settings.get("iterations")]
        if dm is not None and same:
            text += (f". The same seed and settings for {same[0][0]:,} iterations score {same[0][1]:.1f} % here and "
                     f"{dm[0]:.1f} % in the comparison table")
    return text + "."
