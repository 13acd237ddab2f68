"""Distilling biased data: the Biased-DD experiments as library functions.

Biased-DD (Lu et al., 2024) distils CMNIST-DD and CCIFAR10-DD at every bias ratio and severity and tests
the distilled sets on a test set in which *every* image is bias-conflicting. :func:`bias_sweep` runs that
grid for any methods of :mod:`ltdd.distill` at the scale of a :class:`~ltdd.config.Profile`:

* every (method, bias ratio, severity, distillation seed) is distilled once and evaluated by training the
  profile's networks on the synthetic set;
* the networks are tested on Biased-DD's all-conflicting test set (the headline number) and on LfF's split
  (10 % aligned), which gives their accuracy on aligned and on conflicting images separately;
* the *full-set control*: networks trained on the whole biased training set, tested the same way
  (:func:`ltdd.diagnostics.full_set_bias_sweep`).

The result, a :class:`BiasSweep`, is a list of flat rows that saves to JSON (``data/reference/`` keeps the
recorded runs) and feeds :func:`sweep_table`, :func:`severity_table` and
:func:`ltdd.book.viz.curves.plot_bias_sweep_curves`.
:func:`colour_alignment` measures how much of the bias colour a distilled set has absorbed.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import torch

from .._deprecated import forward
from ..checks import positive_int
from ..config import Profile
from ..data import ImageDataset, LabeledImages, load_dataset
from ..data.bias import BIAS_COLOURS, BIASED_DD_RATIOS, COLOUR_STDS, DEFAULT_NAMES, DEFAULT_SEVERITY, check_severity
from ..diagnostics import full_set_bias_sweep, train_full
from ..distill import SyntheticSet, make_distiller
from ..markdown import markdown_table
from ..train import TrainConfig
from . import StudyFile, eval_config, run_study

BIASED_DD_IPC = 50
"""Biased-DD's IPC for every method and dataset (its Sec. 4.3 and the captions of Tables 1-2)."""

FULL_SET_CONTROL = TrainConfig(epochs=150, lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=256, dsa=False,
                               schedule="multistep", milestones=(50, 100))
"""Biased-DD's full-set control (Sec. 4.2): SGD at 0.01, momentum 0.9, weight decay 5e-4, batch 256, 150 epochs,
the learning rate ×0.1 at epochs 50 and 100. The paper names no augmentation, so none is used."""


def own_protocol(method: str, digit_data: bool) -> TrainConfig:
    """How Biased-DD evaluates a set distilled with ``method``: "the default settings of DC, DSA and DM", i.e. the
    evaluation of DC's ``main.py`` and ``main_DM.py``. DC: DC's own augmentation (``get_daparam``), which is
    ``crop_scale_rotate`` for 1000 epochs on MNIST-type (digit) data and none for 300 epochs otherwise; DSA and
    DM: DSA for 1000 epochs. (DC's ``crop_scale_rotate`` is drawn here with DSA's magnitudes, one family per
    batch, where DC's ``augment`` picks one per image with a 4-pixel crop, ±20 % scale and ±45° rotation.)
    The recipes are ``EVAL_PROTOCOLS["dc"]`` and ``["dm"]`` of :data:`ltdd.studies.protocols.EVAL_PROTOCOLS`.
    Introduced in chapter 08."""
    if str(method).lower() == "dc":
        return (dataclasses.replace(eval_config("dm"), dsa_strategy="crop_scale_rotate") if digit_data
                else eval_config("dc"))
    return eval_config("dm")


ROW_FIELDS = ("label", "method", "bias_ratio", "severity", "seed", "conflicting_test", "lff_aligned",
              "lff_conflicting", "seconds")


def check_bias_ratios(ratios: Sequence[float]) -> list[float]:
    """The ratios as floats; each must lie in [0, 1] (the fraction of bias-aligned training images).
    Machinery behind chapter 08."""
    values = list(ratios) if not isinstance(ratios, numbers.Number) else [ratios]
    if not values:
        raise ValueError("ratios must hold at least one bias ratio")
    for r in values:
        if isinstance(r, bool) or not isinstance(r, numbers.Real) or not 0 <= r <= 1:
            raise ValueError(f"bias ratio {r!r} is not allowed: a bias ratio is a fraction in [0, 1]")
    if len(set(values)) != len(values):
        raise ValueError(f"ratios must be distinct, got {values!r}")
    return [float(r) for r in values]


def check_severities(severities: Sequence[int]) -> list[int]:
    """The severities as ints, each one of the dataset builders' (:data:`~ltdd.data.bias.COLOUR_STDS`).
    Machinery behind chapter 08."""
    values = list(severities)
    if not values:
        raise ValueError(f"severities must hold at least one of {sorted(COLOUR_STDS)}")
    return [check_severity(s) for s in values]


@dataclass
class BiasSweep(StudyFile):
    """The rows of a :func:`bias_sweep` (one per distilled set), the full-set control rows, the settings.

    Accuracies are fractions in [0, 1], each the mean over the profile's evaluation networks.
    ``synthetic`` keeps the distilled sets of this session (not saved). The file is a study file
    (:class:`ltdd.studies.study.StudyFile`) whose rows are identified by method label, bias ratio, severity and seed.
    Introduced in chapter 08.
    """

    ROW_ID = ("label", "bias_ratio", "severity", "seed")
    KIND = "bias-sweep"

    rows: list[dict]
    full: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    synthetic: dict = field(default_factory=dict, repr=False)

    def labels(self) -> list[str]:
        """Method labels of the rows, in order of first appearance."""
        return list(dict.fromkeys(row["label"] for row in self.rows))

    def ratios(self) -> list[float]:
        """Bias ratios of the rows and full-set rows, sorted."""
        return sorted({row["bias_ratio"] for row in self.rows + self.full})

    def severities(self) -> list[int]:
        """Severities of the rows and full-set rows, sorted."""
        return sorted({row["severity"] for row in self.rows + self.full})

    def cell(self, label: str, ratio: float, severity: int, key: str = "conflicting_test") -> tuple[float, float, int]:
        """Mean, population std and count of ``key`` over the seeds of one cell (``nan`` when empty)."""
        source = self.full if label == "full set" else self.rows
        values = [row[key] for row in source if row.get("label", "full set") == label
                  and row["bias_ratio"] == ratio and row["severity"] == severity and row[key] is not None]
        if not values:
            return math.nan, math.nan, 0
        mean = sum(values) / len(values)
        return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)), len(values)

    @classmethod
    def combine(cls, *sweeps: "BiasSweep") -> "BiasSweep":
        """One sweep from several (e.g. methods run with different iteration counts): all their rows,
        full-set rows (a control measured twice is kept once) and kept sets; the first one's settings."""
        if not sweeps:
            raise ValueError("combine needs at least one sweep")
        full = []
        for sweep in sweeps:
            full += [row for row in sweep.full if not any(
                (r["bias_ratio"], r["severity"]) == (row["bias_ratio"], row["severity"]) for r in full)]
        return cls([row for sweep in sweeps for row in sweep.rows], full, dict(sweeps[0].settings),
                   {key: value for sweep in sweeps for key, value in sweep.synthetic.items()})

    def select(self, labels: Sequence[str] | None = None, ratios: Sequence[float] | None = None,
               severities: Sequence[int] | None = None) -> "BiasSweep":
        """The rows (and full-set rows, and kept sets) of the given methods, ratios and severities."""
        def keep(label, ratio, severity) -> bool:
            return ((labels is None or label is None or label in labels)
                    and (ratios is None or ratio in ratios) and (severities is None or severity in severities))

        return BiasSweep([r for r in self.rows if keep(r["label"], r["bias_ratio"], r["severity"])],
                         [r for r in self.full if keep(None, r["bias_ratio"], r["severity"])], dict(self.settings),
                         {k: v for k, v in self.synthetic.items() if keep(k[0], k[1], k[2])})

    def seconds_per_set(self, label: str) -> float:
        """Mean distillation time of one set of method ``label`` (for DeDM (GCE): bias network included)."""
        seconds = [row["seconds"] for row in self.rows if row["label"] == label]
        if not seconds:
            raise KeyError(f"no rows for {label!r}; the sweep has {self.labels()}")
        return sum(seconds) / len(seconds)

    def done(self, label: str, ratio: float, severity: int, seed: int) -> bool:
        """Whether a row for this method, ratio, severity and seed exists (``--resume`` skips it)."""
        return self.has((label, ratio, severity, seed))

    def payload(self) -> dict:
        """``{"settings", "rows", "full"}`` (the distilled sets are not saved)."""
        return {"settings": self.settings, "rows": self.rows, "full": self.full}

    @classmethod
    def from_payload(cls, data: dict) -> "BiasSweep":
        """A sweep from its file's JSON object; every row needs label, bias_ratio, severity and seed."""
        rows, full, settings = data["rows"], data.get("full", []), data.get("settings", {})
        if not isinstance(rows, list) or not isinstance(full, list) or not isinstance(settings, dict):
            raise TypeError("rows and full must be lists, settings an object")
        for row in rows:
            if not all(key in row for key in ("label", "bias_ratio", "severity", "seed")):
                raise TypeError(f"every row needs label, bias_ratio, severity and seed, got {row!r:.80}")
        for row in full:
            if not all(key in row for key in ("bias_ratio", "severity")):
                raise TypeError(f"every full-set row needs bias_ratio and severity, got {row!r:.80}")
        return cls(rows, full, settings)

    def merge_extras(self, other: "BiasSweep") -> None:
        """Add ``other``'s full-set rows of the (ratio, severity) cells this sweep has none for."""
        cells = {(row["bias_ratio"], row["severity"]) for row in self.full}
        self.full += [row for row in other.full if (row["bias_ratio"], row["severity"]) not in cells]


def _lff_test(name: str, options: dict, device) -> LabeledImages:
    return load_dataset(name, device=device, test_split="lff", **options).test


def evaluate_on_bias_splits(synthetic: SyntheticSet, dataset: ImageDataset, lff_test: LabeledImages,
                            profile: Profile, config: TrainConfig | None = None) -> dict:
    """Train the profile's evaluation networks on ``synthetic`` (with ``config``, default the profile's epochs);
    their accuracy on the all-conflicting test set and on the aligned and conflicting images of LfF's split
    (fractions). Machinery behind chapter 08."""
    images, labels = synthetic.training_pairs()
    as_training_set = dataclasses.replace(dataset, train=LabeledImages(images.detach(), labels.detach()))
    report = train_full(as_training_set, config or TrainConfig(epochs=profile.eval_epochs), profile.eval_seeds,
                        model=profile.model, model_options=profile.model_options(), tests={"lff": lff_test})
    lff = report.on("lff")
    return {"conflicting_test": report.mean, "lff_aligned": lff.aligned, "lff_conflicting": lff.conflicting}


def bias_sweep(methods: Mapping[str, Mapping], base_name: str = "cdigits",
               ratios: Sequence[float] = BIASED_DD_RATIOS, severities: Sequence[int] = (DEFAULT_SEVERITY,),
               profile: Profile | None = None, ipc: int | None = None, iterations: int | None = None,
               seeds: Sequence[int] = (0,), full_set: bool = True, data_seed: int = 0, device=None,
               progress: bool = True, out: str | Path | None = None, resume: bool = False,
               record: Mapping | None = None, load_options: Mapping | None = None,
               full_epochs: int | None = None) -> BiasSweep:
    """Distil and evaluate every method at every bias ratio, severity and seed (see the module docstring).

    ``methods`` maps a label to the method's settings with its name under ``"method"``, e.g.
    ``{"DM": {"method": "dm"}, "DeDM (oracle)": {"method": "dedm"}}``. ``ipc`` and ``iterations`` default to
    the profile's. ``base_name`` is a biased dataset or its grey source (``digits`` → ``cdigits``).

    With ``out``, the sweep is written there (atomically) after every distilled set and every ratio's full-set
    control, so a long sweep can stop; ``resume=True`` reads ``out`` back and runs only what is missing, refusing
    a file written with other settings (or whose full-set rows were trained for other epochs). ``record`` adds
    facts to the settings that do not take part in that check (provenance).

    Under the ``paper`` profile the defaults are Biased-DD's: IPC 50 (:data:`BIASED_DD_IPC`), each method's own
    iterations (:data:`ltdd.distill.PAPER_ITERATIONS`) and evaluation (:func:`own_protocol`), and the full-set
    control of :data:`FULL_SET_CONTROL` with the profile's ``full_seeds`` networks.
    ``load_options`` go to every :func:`ltdd.data.load_dataset` call (``data_root``, ``download``, ``zca``).
    ``full_epochs`` trains the full-set control for that many epochs instead of the profile's ``full_epochs``
    (the settings record it; a CPU run on a 50,000-image set affords only a few).
    Introduced in chapter 08.
    """
    from ..config import get_profile
    from ..distill import PAPER_ITERATIONS

    profile = profile or get_profile()
    paper = profile.name == "paper"
    ratios, severities = check_bias_ratios(ratios), check_severities(severities)
    if full_epochs is not None:
        positive_int("full_epochs", full_epochs)
        if paper:
            raise ValueError("full_epochs must be None under the paper profile, whose full-set control is "
                             "Biased-DD's own (FULL_SET_CONTROL)")
        profile = dataclasses.replace(profile, full_epochs=full_epochs)
    name = DEFAULT_NAMES.get(base_name, base_name)
    ipc = (BIASED_DD_IPC if paper else profile.ipc) if ipc is None else ipc
    given_iterations = iterations
    iterations = profile.iterations if iterations is None else iterations
    methods = {label: dict(settings) for label, settings in methods.items()}
    for label, settings in methods.items():
        if "method" not in settings:
            raise ValueError(f"methods[{label!r}] must name its method under 'method'")
    sweep = BiasSweep([], settings={"dataset": name, "profile": profile.name, "ipc": ipc, "iterations": iterations,
                                    "seeds": list(seeds), "eval_epochs": profile.eval_epochs,
                                    "eval_seeds": profile.eval_seeds, "model": profile.model,
                                    "net_width": profile.net_width, "batch_real": profile.batch_real,
                                    "data_seed": data_seed, "methods": methods,
                                    "evaluation": "each method's own (Biased-DD)" if paper else "the profile's",
                                    "full_epochs": FULL_SET_CONTROL.epochs if paper else profile.full_epochs,
                                    "zca": (load_options or {}).get("zca")})
    loaded: dict[tuple[float, int], tuple[ImageDataset, LabeledImages]] = {}

    def data(ratio: float, severity: int) -> tuple[ImageDataset, LabeledImages]:
        """The biased set of one cell and its LfF test split (the last cell's only: a cell's rows come together)."""
        if (ratio, severity) not in loaded:
            loaded.clear()
            options = {"bias_ratio": ratio, "severity": severity, "seed": data_seed, **(load_options or {})}
            loaded[ratio, severity] = load_dataset(name, device=device, **options), _lff_test(name, options, device)
        return loaded[ratio, severity]

    def build_row(cell: tuple[int, float, str], seed: int, _context) -> dict:
        severity, ratio, label = cell
        dataset, lff_test = data(ratio, severity)
        settings = dict(methods[label])
        method = settings.pop("method")
        started = time.perf_counter()
        distiller = make_distiller(method, dataset, seed=seed, profile=profile, ipc=ipc, **settings)
        steps = PAPER_ITERATIONS.get(method, iterations) if paper and given_iterations is None else iterations
        synthetic = distiller.run(steps, progress=False)
        seconds = time.perf_counter() - started
        config = own_protocol(method, not dataset.hflip_safe) if paper else None
        accuracy = evaluate_on_bias_splits(synthetic, dataset, lff_test, profile, config)
        sweep.synthetic[(label, ratio, severity, seed)] = synthetic.to("cpu")
        return {"label": label, "method": method, "bias_ratio": ratio, "severity": severity, "seed": seed,
                **accuracy, "seconds": round(seconds, 2)}

    if full_set and resume and out is not None and Path(out).is_file():
        _check_full_epochs(BiasSweep.load(out), sweep.settings["full_epochs"], out)
    cells = [(severity, ratio, label) for severity in severities for ratio in ratios for label in methods]
    run_study(cells, seeds, build_row, out, resume, study=sweep, keys=SWEEP_KEYS, record=record, progress=progress,
              desc="bias sweep", order="row", row_id=lambda cell, seed: (cell[2], cell[1], cell[0], seed))
    if full_set:
        control = (FULL_SET_CONTROL, profile.full_seeds) if paper else (profile, None)
        epochs = sweep.settings["full_epochs"]
        done = {(row["bias_ratio"], row["severity"]) for row in sweep.full}
        for severity, ratio in [(s, r) for s in severities for r in ratios if (r, s) not in done]:
            # one ratio at a time, saved after each (on 2 CPU cores 5 epochs of 50,000 images take about 10 minutes)
            points = full_set_bias_sweep(name, [ratio], severity, control[0], control[1], model=profile.model,
                                         model_options=profile.model_options(), data_seed=data_seed, device=device,
                                         load_options=load_options, progress=progress)
            for point_ratio, point in points.items():
                sweep.full.append({"bias_ratio": point_ratio, "severity": severity, "epochs": epochs,
                                   "conflicting_test": point.accuracy, "lff_aligned": point.aligned,
                                   "lff_conflicting": point.conflicting})
            if out is not None:
                sweep.save(out, SWEEP_KEYS)
    if out is not None and not Path(out).is_file():  # a resume with nothing to do leaves the file as it is
        sweep.save(out, SWEEP_KEYS)
    return sweep


def _check_full_epochs(saved: BiasSweep, epochs: int, out: str | Path) -> None:
    """Refuse to add full-set rows of ``epochs`` epochs to a file whose control was trained for other epochs (the
    control is one number per ratio; mixed, it would compare ratios trained differently). A row without its own
    ``epochs`` was trained for the file's ``full_epochs``; files older than that setting cannot say, and pass."""
    trained = [row.get("epochs", saved.settings.get("full_epochs")) for row in saved.full]
    other = sorted({str(n) for n in trained if n is not None and n != epochs})
    if other:
        raise ValueError(f"full_epochs={epochs} but {out} holds full-set rows trained for {', '.join(other)} "
                         "epochs; write the control to another file (--out)")


SWEEP_KEYS = ("dataset", "profile", "ipc", "iterations", "eval_epochs", "eval_seeds", "model", "net_width",
              "batch_real", "data_seed", "methods", "zca")
"""The settings a resumed sweep must share with the file it continues (seeds, ratios and severities may grow)."""


# ------------------------------------------------------------------------------------------ tables
def _percent(mean: float, std: float, count: int) -> str:
    if count == 0:
        return "–"
    return f"{100 * mean:.1f} ± {100 * std:.1f}" if count > 1 else f"{100 * mean:.1f}"


def sweep_table(sweep: BiasSweep, severity: int | None = None, key: str = "conflicting_test") -> str:
    """Markdown, the shape of Biased-DD's Table 1: one row per method (and the full set), one column per
    bias ratio, accuracy (%) as mean ± std over the distillation seeds. Introduced in chapter 08."""
    severity = sweep.severities()[-1] if severity is None else severity
    ratios = sweep.ratios()
    labels = sweep.labels() + (["full set"] if sweep.full else [])
    rows = [[label, *(_percent(*sweep.cell(label, r, severity, key)) for r in ratios)] for label in labels]
    return markdown_table(["method", *(f"ratio {r:g}" for r in ratios)], rows)


def severity_table(sweep: BiasSweep, ratio: float, key: str = "conflicting_test") -> str:
    """Markdown, the shape of Biased-DD's Table 2: one row per method, one column per severity.
    Introduced in chapter 08."""
    severities = sweep.severities()
    labels = sweep.labels() + (["full set"] if sweep.full else [])
    rows = [[label, *(_percent(*sweep.cell(label, ratio, s, key)) for s in severities)] for label in labels]
    return markdown_table(["method", *(f"severity {s} (std {COLOUR_STDS[s]:g})" for s in severities)], rows)


# ------------------------------------------------------------------------------------------ colour leakage
def dominant_colour(pixels: torch.Tensor, threshold: float = 0.15) -> torch.Tensor:
    """The mean RGB direction of every image's foreground (pixels brighter than ``threshold``), unit length,
    ``(N, 3)``. CMNIST colours a grey digit by multiplying it with one colour, so the direction is the colour.
    Machinery behind chapter 08."""
    if pixels.ndim != 4 or pixels.shape[1] != 3:
        raise ValueError(f"pixels must have shape (N, 3, H, W), got {tuple(pixels.shape)}")
    mask = (pixels.amax(dim=1, keepdim=True) > threshold).to(pixels.dtype)
    mean = (pixels.clamp(0, 1) * mask).sum(dim=(2, 3)) / mask.sum(dim=(2, 3)).clamp_min(1)
    return torch.nn.functional.normalize(mean, dim=1)


def colour_alignment(images: torch.Tensor, labels: torch.Tensor, dataset: ImageDataset) -> float:
    """The fraction of ``images`` (normalised, of a coloured dataset) whose dominant colour is, of the ten
    bias colours, closest in direction to their *own class's*: 1.0 for a set of bias-aligned images, about
    0.1 for colours unrelated to the class. A measure of how much bias a distilled set carries.
    Introduced in chapter 08."""
    if dataset.channels != 3 or dataset.train.attributes is None:
        raise ValueError(f"colour_alignment needs a coloured biased dataset (cdigits, cmnist-dd), "
                         f"not {dataset.name!r}")
    hard = labels if labels.ndim == 1 else labels.argmax(dim=1)
    colours = torch.nn.functional.normalize(BIAS_COLOURS.to(images.device), dim=1)
    nearest = (dominant_colour(dataset.denormalize(images.detach())) @ colours.T).argmax(dim=1)
    return float((nearest == hard.to(images.device)).float().mean())

__getattr__ = forward(__name__, {"plot_bias_sweep_curves": "ltdd.book.viz.curves:plot_bias_sweep_curves"})
